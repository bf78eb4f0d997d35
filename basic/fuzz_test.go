package basic

import (
	"strings"
	"testing"
)

// FuzzParseToken: never panics; what parses is exactly our format, and
// changing any one character of a real token is caught.
func FuzzParseToken(f *testing.F) {
	good, _ := NewToken()
	for _, s := range []string{good, "", TokenPrefix, "mlfat_" + strings.Repeat("0", 49), good[:len(good)-1] + "!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseToken(s)
		if err != nil {
			if h != [32]byte{} {
				t.Fatal("a hash with an error")
			}
			return
		}
		if len(s) != tokenLen || !LooksLikeToken(s) {
			t.Fatalf("%q parsed", s)
		}
		for i := len(TokenPrefix); i < len(s); i++ {
			b := []byte(s)
			b[i] ^= 0x01
			if string(b) != s && strings.IndexByte(base62, b[i]) >= 0 {
				if _, err := ParseToken(string(b)); err == nil {
					// CRC-32 catches every single-character change.
					t.Fatalf("%q and %q both parse", s, b)
				}
			}
		}
	})
}

// FuzzVerifyPassword: stored hashes are data; none may panic the
// verifier or make it do unbounded work.
func FuzzVerifyPassword(f *testing.F) {
	for _, s := range []string{"pbkdf2:sha256:1000$salt$abcd", "scrypt:16384:8:1$s$00", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA",
		"$2a$04$abcdefghijklmnopqrstuu", "pbkdf2:sha1:1$x$00ff", "scrypt$salt$ab"} {
		f.Add(s, "pw")
	}
	f.Fuzz(func(t *testing.T, hash, pw string) {
		_, _ = VerifyPassword(hash, pw)
	})
}
