package basic

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

// ErrUnsupportedHash is wrapped by VerifyPassword's error for a hash in a
// format it does not know.
var ErrUnsupportedHash = errors.New("basic: unsupported password hash")

// argon2id parameters for new passwords: OWASP's recommendation (19 MiB,
// two passes, one lane), about 30 ms on one core.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword hashes a new password with argon2id, in the PHC string
// format ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches hash. It knows the
// hashes MLflow and mlflow-oidc-auth databases hold (Werkzeug's
// scrypt:N:r:p$salt$hex and pbkdf2:<digest>:N$salt$hex), bcrypt ($2a$,
// $2b$, $2y$) and argon2id (what HashPassword makes). The comparison is
// constant-time. An unknown format is an error wrapping ErrUnsupportedHash.
func VerifyPassword(hash, password string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "scrypt:"), strings.HasPrefix(hash, "pbkdf2:"):
		return verifyWerkzeug(hash, password)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return err == nil, err
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2id(hash, password)
	}
	return false, fmt.Errorf("%w: unknown format", ErrUnsupportedHash)
}

// Limits on parameters read from a stored hash: a hash is data, and one
// with absurd parameters must not make the gateway spend minutes or
// gigabytes.
const (
	maxPBKDF2Iterations = 2_000_000 // MLflow's newest default is 600,000
	maxScryptN          = 1 << 20
	maxScryptRP         = 64
	maxScryptMemory     = 64 << 20 // bytes: 128·N·r; Werkzeug's default needs 32 MiB
)

func verifyWerkzeug(stored, password string) (bool, error) {
	method, rest, ok := strings.Cut(stored, "$")
	if !ok {
		return false, fmt.Errorf("%w: no salt", ErrUnsupportedHash)
	}
	salt, hexHash, ok := strings.Cut(rest, "$")
	if !ok || salt == "" {
		return false, fmt.Errorf("%w: no salt", ErrUnsupportedHash)
	}
	want, err := hex.DecodeString(hexHash)
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false, fmt.Errorf("%w: the hash is not hexadecimal", ErrUnsupportedHash)
	}
	parts := strings.Split(method, ":")
	var got []byte
	switch parts[0] {
	case "scrypt":
		// Werkzeug: scrypt[:n:r:p], defaults 2**15, 8, 1; 64-byte key.
		n, r, p := 1<<15, 8, 1
		if len(parts) == 4 {
			if n, err = atoiMax(parts[1], maxScryptN); err == nil {
				if r, err = atoiMax(parts[2], maxScryptRP); err == nil {
					p, err = atoiMax(parts[3], maxScryptRP)
				}
			}
			if err != nil {
				return false, fmt.Errorf("%w: scrypt parameters: %v", ErrUnsupportedHash, err)
			}
			if 128*n*r > maxScryptMemory {
				return false, fmt.Errorf("%w: scrypt parameters need more than 64 MiB", ErrUnsupportedHash)
			}
		} else if len(parts) != 1 {
			return false, fmt.Errorf("%w: scrypt parameters", ErrUnsupportedHash)
		}
		if got, err = scrypt.Key([]byte(password), []byte(salt), n, r, p, len(want)); err != nil {
			return false, fmt.Errorf("%w: %v", ErrUnsupportedHash, err)
		}
	case "pbkdf2":
		// Werkzeug: pbkdf2[:digest[:iterations]], defaults sha256, 600000.
		digest, iter := "sha256", 600000
		if len(parts) >= 2 {
			digest = parts[1]
		}
		if len(parts) == 3 {
			if iter, err = atoiMax(parts[2], maxPBKDF2Iterations); err != nil {
				return false, fmt.Errorf("%w: pbkdf2 iterations: %v", ErrUnsupportedHash, err)
			}
		} else if len(parts) > 3 {
			return false, fmt.Errorf("%w: pbkdf2 parameters", ErrUnsupportedHash)
		}
		var h func() hash.Hash
		switch digest {
		case "sha256":
			h = sha256.New
		case "sha512":
			h = sha512.New
		case "sha1":
			h = sha1.New
		default:
			return false, fmt.Errorf("%w: pbkdf2 digest %q", ErrUnsupportedHash, digest)
		}
		if got, err = pbkdf2.Key(h, password, []byte(salt), iter, len(want)); err != nil {
			return false, fmt.Errorf("%w: %v", ErrUnsupportedHash, err)
		}
	default:
		return false, fmt.Errorf("%w: method %q", ErrUnsupportedHash, parts[0])
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func atoiMax(s string, limit int) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > limit {
		return 0, fmt.Errorf("%q out of range 1..%d", s, limit)
	}
	return v, nil
}

func verifyArgon2id(stored, password string) (bool, error) {
	// $argon2id$v=19$m=19456,t=2,p=1$salt$hash
	f := strings.Split(stored, "$")
	if len(f) != 6 || f[2] != "v=19" {
		return false, fmt.Errorf("%w: argon2id format", ErrUnsupportedHash)
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(f[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 64*1024 || t == 0 || t > 10 || p == 0 {
		return false, fmt.Errorf("%w: argon2id parameters", ErrUnsupportedHash)
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(f[4])
	want, err2 := base64.RawStdEncoding.DecodeString(f[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 128 {
		return false, fmt.Errorf("%w: argon2id encoding", ErrUnsupportedHash)
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// IsShippedDefault reports whether password is one MLflow has shipped as a
// default admin password: such an account must not sign in with it.
func IsShippedDefault(password string) bool {
	return password == "password" || password == "password1234"
}
