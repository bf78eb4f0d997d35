package basic

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"strings"
	"time"
)

// TokenPrefix starts every access token, so secret scanners (and people)
// recognise a leaked one.
const TokenPrefix = "mlfat_"

const (
	tokenBodyLen  = 43 // base62 digits of 256 random bits
	tokenCheckLen = 6  // base62 digits of a CRC-32
	tokenLen      = len(TokenPrefix) + tokenBodyLen + tokenCheckLen
	base62        = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// ErrMalformedToken is returned by ParseToken for a string that is not an
// access token of ours, or whose checksum does not match: such a token is
// refused before any lookup.
var ErrMalformedToken = errors.New("basic: malformed access token")

// NewToken returns a new access token: the prefix, 256 random bits in
// base62 and a CRC-32 checksum. Show the secret once; store only Hash.
func NewToken() (secret string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	body := encode62(new(big.Int).SetBytes(b[:]), tokenBodyLen)
	return TokenPrefix + body + checksum(body), nil
}

// LooksLikeToken reports whether s has the token prefix: it is then
// checked as a token and never as a password.
func LooksLikeToken(s string) bool { return strings.HasPrefix(s, TokenPrefix) }

// ParseToken checks a token's form and checksum and returns its SHA-256,
// the key it is stored under.
func ParseToken(s string) ([32]byte, error) {
	if len(s) != tokenLen || !strings.HasPrefix(s, TokenPrefix) {
		return [32]byte{}, ErrMalformedToken
	}
	body, check := s[len(TokenPrefix):len(s)-tokenCheckLen], s[len(s)-tokenCheckLen:]
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(base62, body[i]) < 0 {
			return [32]byte{}, ErrMalformedToken
		}
	}
	if sum := checksum62(body); string(sum[:]) != check {
		return [32]byte{}, ErrMalformedToken
	}
	return sha256.Sum256([]byte(s)), nil
}

// TokenDisplayPrefix is what people see to tell their tokens apart: the
// prefix and the first characters of the secret, never enough to use it.
func TokenDisplayPrefix(secret string) string {
	n := min(len(secret), len(TokenPrefix)+4)
	return secret[:n]
}

func checksum(body string) string {
	sum := checksum62(body)
	return string(sum[:])
}

// checksum62 is the CRC-32 of the prefix and body in base62, computed
// without allocating: ParseToken runs it on every request with a token.
func checksum62(body string) [tokenCheckLen]byte {
	var buf [len(TokenPrefix) + tokenBodyLen]byte
	n := copy(buf[:], TokenPrefix)
	n += copy(buf[n:], body)
	c := crc32.ChecksumIEEE(buf[:n])
	var out [tokenCheckLen]byte
	for i := tokenCheckLen - 1; i >= 0; i-- {
		out[i] = base62[c%62]
		c /= 62
	}
	return out
}

func encode62(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	n = new(big.Int).Set(n)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62[mod.Int64()]
	}
	return string(out)
}

// DefaultMaxTokenDays is ACCESS_TOKEN_MAX_DAYS's default: the longest a
// token may live.
const DefaultMaxTokenDays = 366

// ErrBadExpiry is wrapped by CheckExpiry's errors.
var ErrBadExpiry = errors.New("basic: invalid token expiry")

// CheckExpiry checks a requested token expiry: in the future and at most
// maxDays away (DefaultMaxTokenDays when maxDays is 0 or less).
func CheckExpiry(expires, now time.Time, maxDays int) error {
	if maxDays <= 0 {
		maxDays = DefaultMaxTokenDays
	}
	switch {
	case !expires.After(now):
		return fmt.Errorf("%w: %s is not in the future", ErrBadExpiry, expires.UTC().Format(time.RFC3339))
	case expires.After(now.AddDate(0, 0, maxDays)):
		return fmt.Errorf("%w: more than %d days away", ErrBadExpiry, maxDays)
	}
	return nil
}
