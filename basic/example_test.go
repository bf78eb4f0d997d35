package basic_test

import (
	"fmt"

	"github.com/mlflowauth/mlflowauth/basic"
)

// Minting a token: show the secret once, keep only its SHA-256.
func ExampleNewToken() {
	secret, err := basic.NewToken()
	if err != nil {
		panic(err)
	}
	hash, err := basic.ParseToken(secret) // what the store keeps
	fmt.Println(len(secret), basic.LooksLikeToken(secret), len(hash), err)

	typo := "0"
	if secret[len(secret)-1] == '0' {
		typo = "1"
	}
	_, err = basic.ParseToken(secret[:len(secret)-1] + typo)
	fmt.Println(err) // a mistyped token fails its checksum, before any lookup
	// Output:
	// 55 true 32 <nil>
	// basic: malformed access token
}

// Hashes from an MLflow basic-auth database verify as they are.
func ExampleVerifyPassword() {
	// Made by Werkzeug 3.1.8: generate_password_hash("alice-password-0001", method="pbkdf2:sha256:1000")
	const stored = "pbkdf2:sha256:1000$dt1VWhQZt8mPZc6L$f8561344b30b7df55157a6ffbd0252fa572654d986dbcb442d764aa067cb58c1"
	ok, err := basic.VerifyPassword(stored, "alice-password-0001")
	fmt.Println(ok, err)
	ok, err = basic.VerifyPassword(stored, "alice-password-0002")
	fmt.Println(ok, err)
	// Output:
	// true <nil>
	// false <nil>
}
