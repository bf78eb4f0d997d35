// Package basic authenticates "Authorization: Basic" credentials, the way
// MLflow's clients send MLFLOW_TRACKING_USERNAME and
// MLFLOW_TRACKING_PASSWORD: a username with an access token or a password.
//
//	authn, err := basic.New(basic.Config{Credentials: accounts, Secret: secretKey})
//	mw := auth.Middleware(auth.Config{}, authn)
//
// It owns the access-token format (NewToken, ParseToken): 256 random bits
// behind the prefix "mlfat_" that secret scanners can look for, with a
// checksum so a mistyped or forged token is refused before any lookup, and
// stored only as its SHA-256. It also owns password hashing: VerifyPassword
// reads the Werkzeug hashes of MLflow and mlflow-oidc-auth databases
// (scrypt, pbkdf2), bcrypt and argon2id; HashPassword makes argon2id.
//
// The hot path hashes nothing and reads no database: a verified credential
// is remembered (for CacheTTL, under an HMAC of the credentials) and Forget
// drops it the moment the user changes, from the store's change feed.
// Hashing runs behind a small semaphore (503 with Retry-After when it is
// saturated), an unknown username costs the same dummy hash as a real one,
// and failures are limited per (username, client address) with 429 and
// Retry-After.
package basic
