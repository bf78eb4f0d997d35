package auth

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func requestWithAuthorization(values ...string) *http.Request {
	r := httptest.NewRequest("GET", "/api/2.0/mlflow/experiments/search", nil)
	for _, v := range values {
		r.Header.Add("Authorization", v)
	}
	return r
}

// parseAuthorization is what a request's header comes to in the middleware
// followed by the standard parsers: nil when valid, else the error the client
// is told about.
func parseAuthorization(values []string, extra []string) error {
	r := requestWithAuthorization(values...)
	if err := checkAuthorization(r.Header, extra); err != nil {
		return err
	}
	if _, _, err := BasicCredentials(r); err != ErrNoCredentials {
		return err
	}
	if _, err := BearerToken(r); err != ErrNoCredentials {
		return err
	}
	return nil
}

func TestParseAuthorization(t *testing.T) {
	long := "Bearer " + strings.Repeat("a", MaxAuthorizationLength)
	tests := []struct {
		name   string
		values []string
		extra  []string
		want   error // nil: valid
	}{
		{"none", nil, nil, nil},
		{"basic", []string{"Basic " + b64("alice:secret")}, nil, nil},
		{"basic lower-case scheme", []string{"basic " + b64("alice:secret")}, nil, nil},
		{"basic colon in password", []string{"Basic " + b64("alice:se:cret")}, nil, nil},
		{"basic empty password", []string{"Basic " + b64("alice:")}, nil, nil},
		{"basic UTF-8", []string{"Basic " + b64("zoë:pässwörd")}, nil, nil},
		{"basic unpadded", []string{"Basic " + strings.TrimRight(b64("alice:secret1"), "=")}, nil, nil},
		{"basic unpadded short", []string{"Basic " + strings.TrimRight(b64("a:"), "=")}, nil, nil},
		{"basic unpadded invalid", []string{"BAsiC 00"}, nil, errBadBase64},
		{"bearer JWT", []string{"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"}, nil, nil},
		{"bearer padded", []string{"Bearer abc+/=="}, nil, nil},
		{"extra scheme", []string{"ApiKey k-123"}, []string{"apikey"}, nil},
		{"two headers", []string{"Basic " + b64("a:b"), "Bearer x"}, nil, errTooMany},
		{"too long", []string{long}, nil, errTooLong},
		{"empty", []string{""}, nil, errEmpty},
		{"blank", []string{"   "}, nil, errEmpty},
		{"no scheme", []string{b64("alice:secret")}, nil, errNoScheme},
		{"scheme not a token", []string{"Ba(sic " + b64("a:b")}, nil, errNoScheme},
		{"basic without credentials", []string{"Basic"}, nil, errNoCreds},
		{"bearer without credentials", []string{"Bearer"}, nil, errNoCreds},
		{"bad base64", []string{"Basic !!!notbase64"}, nil, errBadBase64},
		{"base64 with bad padding bits", []string{"Basic YQ=="[:len("Basic YQ")] + "R=="}, nil, errBadBase64},
		{"no colon", []string{"Basic " + b64("alicesecret")}, nil, errNoColon},
		{"empty username", []string{"Basic " + b64(":secret")}, nil, errEmptyUser},
		{"invalid UTF-8", []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("al\xffice:secret"))}, nil, errNotUTF8},
		{"control character", []string{"Basic " + b64("alice:sec\x00ret")}, nil, errControl},
		{"bearer with space", []string{"Bearer abc def"}, nil, errBearerSyntax},
		{"bearer with quote", []string{`Bearer "abc"`}, nil, errBearerSyntax},
		{"bearer only padding", []string{"Bearer =="}, nil, errBearerSyntax},
		{"bearer padding inside", []string{"Bearer ab=c"}, nil, errBearerSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseAuthorization(tt.values, tt.extra)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, tt.want, err)
			assert.True(t, errors.Is(err, ErrMalformedAuthorization))
		})
	}
}

func TestCheckAuthorizationUnknownScheme(t *testing.T) {
	err := checkAuthorization(requestWithAuthorization("Negotiate YIIGhgYJKoZIhvcSAQICAQBuggY1").Header, nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrMalformedAuthorization))
	assert.Equal(t, `Malformed Authorization header: unsupported scheme "Negotiate" (expected Basic or Bearer)`, err.Error())

	err = checkAuthorization(requestWithAuthorization(strings.Repeat("X", 100)+" abc").Header, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), strings.Repeat("X", 32)+`..."`, "a long scheme is cut before it is echoed")
}

func TestBasicCredentials(t *testing.T) {
	user, pass, err := BasicCredentials(requestWithAuthorization("Basic " + b64("Carol:pa:ss wörd")))
	require.NoError(t, err)
	assert.Equal(t, "Carol", user, "returned as sent; NormalizeUsername compares")
	assert.Equal(t, "pa:ss wörd", pass)

	_, _, err = BasicCredentials(requestWithAuthorization())
	assert.Equal(t, ErrNoCredentials, err)
	_, _, err = BasicCredentials(requestWithAuthorization("Bearer abc"))
	assert.Equal(t, ErrNoCredentials, err)
	_, _, err = BasicCredentials(requestWithAuthorization("Basic " + b64("nocolon")))
	assert.ErrorIs(t, err, ErrMalformedAuthorization)
	_, _, err = BasicCredentials(requestWithAuthorization("Basic a", "Basic b"))
	assert.ErrorIs(t, err, ErrMalformedAuthorization)
}

func TestBearerToken(t *testing.T) {
	tok, err := BearerToken(requestWithAuthorization("bearer  abc.def-ghi_jkl~"))
	require.NoError(t, err)
	assert.Equal(t, "abc.def-ghi_jkl~", tok)

	_, err = BearerToken(requestWithAuthorization("Basic " + b64("a:b")))
	assert.Equal(t, ErrNoCredentials, err)
	_, err = BearerToken(requestWithAuthorization())
	assert.Equal(t, ErrNoCredentials, err)
	_, err = BearerToken(requestWithAuthorization("Bearer a b"))
	assert.ErrorIs(t, err, ErrMalformedAuthorization)
}

func TestNormalizeUsername(t *testing.T) {
	assert.Equal(t, "carol", NormalizeUsername("Carol"))
	assert.Equal(t, "zoë", NormalizeUsername("ZOË"))
	assert.Equal(t, "alice@example.com", NormalizeUsername("Alice@Example.COM"))
	assert.Equal(t, "already", NormalizeUsername("already"))
}
