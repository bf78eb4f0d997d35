package groupdetect

import (
	"context"
	"fmt"
	"strings"
)

// Claims reads groups from a claim of the verified token (OIDC_GROUPS_ATTRIBUTE,
// "groups" by default). A dotted path reaches into nested objects, as
// Keycloak's "realm_access.roles"; a claim whose name itself has dots or
// colons ("urn:mlflow:groups", "cognito:groups") is found as it is first. The
// value may be a list of strings, one string, or a space-separated string.
//
// A token without the claim gives nil (no information), one with an empty
// claim an empty list.
//
// A token that carries Microsoft Entra ID's groups-overage marker
// (_claim_names.groups, or hasgroups) instead of the groups is an error
// wrapping ErrOverage, not a user without groups.
func Claims(attribute string) Provider {
	if attribute == "" {
		attribute = "groups"
	}
	return Func(func(_ context.Context, in Input) ([]string, error) {
		if names, ok := in.Claims["_claim_names"].(map[string]any); ok {
			if _, ok := names["groups"]; ok {
				return nil, fail("claims", "reading the "+attribute+" claim", ErrOverage)
			}
		}
		if has, ok := in.Claims["hasgroups"].(bool); ok && has {
			return nil, fail("claims", "reading the "+attribute+" claim", ErrOverage)
		}
		v, ok := lookup(in.Claims, attribute)
		if !ok {
			// No claim: the token says nothing about groups. Nil, unlike an
			// empty list, lets the stored memberships apply; the gate
			// refuses a sign-in with none.
			return nil, nil
		}
		groups, err := stringList(v)
		if err != nil {
			return nil, fail("claims", "reading the "+attribute+" claim", err)
		}
		return groups, nil
	})
}

// Okta reads the claim Okta's (and Auth0's) post-login action sets:
// api.idToken.setCustomClaim('urn:mlflow:groups', [...]).
func Okta() Provider { return Claims("urn:mlflow:groups") }

// Cognito reads AWS Cognito's user-pool groups claim.
func Cognito() Provider { return Claims("cognito:groups") }

// lookup finds a claim by its name, or else by a dotted path.
func lookup(claims map[string]any, path string) (any, bool) {
	if v, ok := claims[path]; ok {
		return v, true
	}
	var cur any = claims
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// stringList turns a claim value into group names.
func stringList(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return []string{}, nil
	case string:
		return strings.Fields(x), nil
	case []string:
		return clean(x), nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("a group that is not a string: %v (%T)", e, e)
			}
			out = append(out, s)
		}
		return clean(out), nil
	}
	return nil, fmt.Errorf("groups claim of type %T: expected a list of strings or a string", v)
}

func clean(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
