package oidc_test

import (
	"fmt"

	"github.com/mlflowauth/mlflowauth/oidc"
)

func ExampleSafeNext() {
	fmt.Println(oidc.SafeNext("/#/experiments/1"))
	fmt.Println(oidc.SafeNext("//evil.example"))
	fmt.Println(oidc.SafeNext("/\\evil.example"))
	fmt.Println(oidc.SafeNext("javascript:alert(1)"))
	// Output:
	// /#/experiments/1
	// /
	// /
	// /
}
