package groupdetect_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/mlflowauth/mlflowauth/groupdetect"
)

// A provider of your own, registered by name so OIDC_GROUP_DETECTION_PLUGIN
// selects it, and the sign-in gate on what it returns.
func ExampleFunc() {
	byDomain := groupdetect.Func(func(ctx context.Context, in groupdetect.Input) ([]string, error) {
		email, _ := in.Claims["email"].(string)
		if verified, _ := in.Claims["email_verified"].(bool); verified && strings.HasSuffix(email, "@example.com") {
			return []string{"mlflow"}, nil
		}
		return nil, nil
	})
	registry := groupdetect.NewRegistry()
	registry.Register("by-domain", byDomain)

	p, err := registry.Lookup("by-domain") // the value of OIDC_GROUP_DETECTION_PLUGIN
	if err != nil {
		panic(err)
	}
	gate := groupdetect.Gate{} // OIDC_GROUP_NAME=mlflow, OIDC_ADMIN_GROUP_NAME=mlflow-admin
	for _, email := range []string{"ada@example.com", "eve@elsewhere.org"} {
		groups, _ := p.Groups(context.Background(), groupdetect.Input{Claims: map[string]any{"email": email, "email_verified": true}})
		fmt.Printf("%s: %+v\n", email, gate.Check(groups))
	}
	// Output:
	// ada@example.com: {SignIn:true Admin:false}
	// eve@elsewhere.org: {SignIn:false Admin:false}
}

func ExampleClaims() {
	claims := map[string]any{"realm_access": map[string]any{"roles": []any{"mlflow", "offline_access"}}}
	groups, err := groupdetect.Claims("realm_access.roles").Groups(context.Background(), groupdetect.Input{Claims: claims})
	fmt.Println(groups, err)

	overage := map[string]any{"_claim_names": map[string]any{"groups": "src1"}}
	_, err = groupdetect.Claims("groups").Groups(context.Background(), groupdetect.Input{Claims: overage})
	fmt.Println(err != nil)
	// Output:
	// [mlflow offline_access] <nil>
	// true
}
