package basic

import (
	"database/sql"
	"encoding/json"
	"errors"
	"hash/crc32"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// Hashes made by real Werkzeug (testdata/gen_werkzeug_vectors.py): each
// verifies with its password and refuses a wrong one. Never skipped: the
// file is committed.
func TestWerkzeugVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/werkzeug_vectors.json")
	require.NoError(t, err)
	var v struct {
		Werkzeug string `json:"werkzeug"`
		Vectors  []struct {
			Hash, Password, Wrong string
		} `json:"vectors"`
	}
	require.NoError(t, json.Unmarshal(b, &v))
	require.NotEmpty(t, v.Vectors)
	methods := map[string]bool{}
	for _, vec := range v.Vectors {
		methods[vec.Hash[:strings.IndexByte(vec.Hash, '$')]] = true
		ok, err := VerifyPassword(vec.Hash, vec.Password)
		require.NoError(t, err, vec.Hash)
		assert.True(t, ok, "Werkzeug %s: %s with %q", v.Werkzeug, vec.Hash, vec.Password)
		ok, err = VerifyPassword(vec.Hash, vec.Wrong)
		require.NoError(t, err)
		assert.False(t, ok, "%s accepts %q", vec.Hash, vec.Wrong)
	}
	for _, m := range []string{"scrypt:32768:8:1", "pbkdf2:sha256:600000", "pbkdf2:sha256:260000", "pbkdf2:sha256:1000", "pbkdf2:sha512:1000"} {
		assert.True(t, methods[m], "vectors cover %s", m)
	}
}

// The users of an auth database written by MLflow 2.17.2 itself sign in
// with the passwords its README gives.
func TestMLflowFixtureDatabase(t *testing.T) {
	db, err := sql.Open("sqlite3", "file:testdata/mlflow-2.17.2-basic_auth.db?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	passwords := map[string]string{
		"admin": "password1234", "alice": "alice-password-0001", "bob": "bob-password-0001",
		"Carol": "carol-password-0001", "dave": "dave-password-0001",
	}
	rows, err := db.Query("SELECT username, password_hash FROM users")
	require.NoError(t, err)
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var user, hash string
		require.NoError(t, rows.Scan(&user, &hash))
		pw, ok := passwords[user]
		require.True(t, ok, "unexpected user %q", user)
		good, err := VerifyPassword(hash, pw)
		require.NoError(t, err)
		assert.True(t, good, user)
		bad, err := VerifyPassword(hash, pw+"x")
		require.NoError(t, err)
		assert.False(t, bad, user)
		seen++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, len(passwords), seen)
	assert.True(t, IsShippedDefault(passwords["admin"]), "the fixture's admin has MLflow's old default")
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"), h)
	ok, err := VerifyPassword(h, "correct horse battery staple")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = VerifyPassword(h, "correct horse battery stapl")
	require.NoError(t, err)
	assert.False(t, ok)
	h2, err := HashPassword("correct horse battery staple")
	require.NoError(t, err)
	assert.NotEqual(t, h, h2, "salted")

	bc, err := bcrypt.GenerateFromPassword([]byte("bcrypt-pw"), bcrypt.MinCost)
	require.NoError(t, err)
	ok, err = VerifyPassword(string(bc), "bcrypt-pw")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = VerifyPassword(string(bc), "other")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestVerifyPasswordRefusesBadHashes(t *testing.T) {
	for _, h := range []string{
		"", "plain", "md5$salt$abc", "sha256$salt$abcd", "pbkdf2:sha256:1000$salt", "pbkdf2:sha256:1000$$ab",
		"pbkdf2:sha256:1000$salt$zz", "pbkdf2:md5:1000$salt$abcd", "pbkdf2:sha256:0$salt$abcd",
		"pbkdf2:sha256:999999999$salt$abcd", "pbkdf2:sha256:1:2$salt$abcd",
		"scrypt:1073741824:8:1$salt$abcd", "scrypt:32768:64:1$salt$abcd", "scrypt:32768:8$salt$abcd",
		"$argon2id$v=19$m=999999999,t=2,p=1$c2FsdA$aGFzaA", "$argon2id$v=18$m=1,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaA", "$2a$10$short",
	} {
		ok, err := VerifyPassword(h, "pw")
		assert.False(t, ok, h)
		assert.Error(t, err, h)
		if !strings.HasPrefix(h, "$2a$") {
			assert.True(t, errors.Is(err, ErrUnsupportedHash), "%s: %v", h, err)
		}
	}
}

func TestTokens(t *testing.T) {
	secret, err := NewToken()
	require.NoError(t, err)
	assert.Len(t, secret, tokenLen)
	assert.True(t, LooksLikeToken(secret))
	h, err := ParseToken(secret)
	require.NoError(t, err)
	assert.NotEqual(t, [32]byte{}, h)
	assert.Equal(t, secret[:10], TokenDisplayPrefix(secret))

	other, err := NewToken()
	require.NoError(t, err)
	assert.NotEqual(t, secret, other)

	// One character changed anywhere: the checksum catches it.
	for i := len(TokenPrefix); i < len(secret); i++ {
		b := []byte(secret)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		_, err := ParseToken(string(b))
		assert.ErrorIs(t, err, ErrMalformedToken, "position %d", i)
	}
	for _, bad := range []string{"", TokenPrefix, secret[:len(secret)-1], secret + "x", "mlfxx_" + secret[6:], strings.Replace(secret, secret[10:11], "-", 1)} {
		_, err := ParseToken(bad)
		assert.ErrorIs(t, err, ErrMalformedToken, bad)
	}
}

// A token made before the checksum was computed without math/big still
// parses: this one was made by the earlier code (CRC-32 in base62 through
// big.Int), and so is the checksum of every body below.
func TestTokenChecksumUnchanged(t *testing.T) {
	_, err := ParseToken("mlfat_0000000000000000000000000000000000000000000" + "3B4K6c") // the checksum worked out by hand (CRC-32 IEEE, base62)
	require.NoError(t, err)
	for _, body := range []string{strings.Repeat("z", tokenBodyLen), strings.Repeat("0", tokenBodyLen), "1dGmVhZrX3xWqK9bTnJ4yLpC2eR7sA8uF6oI0NvE5hM"} {
		want := encode62(big.NewInt(int64(crc32.ChecksumIEEE([]byte(TokenPrefix+body)))), tokenCheckLen)
		assert.Equal(t, want, checksum(body), body)
	}
}

func TestCheckExpiry(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	assert.NoError(t, CheckExpiry(now.Add(time.Hour), now, 0))
	assert.NoError(t, CheckExpiry(now.AddDate(0, 0, 366), now, 0))
	assert.ErrorIs(t, CheckExpiry(now.AddDate(0, 0, 366).Add(time.Second), now, 0), ErrBadExpiry)
	assert.ErrorIs(t, CheckExpiry(now, now, 0), ErrBadExpiry)
	assert.ErrorIs(t, CheckExpiry(now.Add(-time.Hour), now, 0), ErrBadExpiry)
	assert.ErrorIs(t, CheckExpiry(now.AddDate(0, 0, 31), now, 30), ErrBadExpiry)
	assert.EqualError(t, CheckExpiry(now.AddDate(0, 0, 31), now, 30), "basic: invalid token expiry: more than 30 days away")
}
