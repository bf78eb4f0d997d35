package groupdetect

import (
	"fmt"
	"slices"
	"strings"
)

// Gate is the sign-in rule oidc and jwtauth share: a user must be in one of
// the allowed groups (OIDC_GROUP_NAME) or the admin groups
// (OIDC_ADMIN_GROUP_NAME); the admin groups make an admin.
type Gate struct {
	Allowed []string // "mlflow" when empty
	Admin   []string // "mlflow-admin" when empty
}

// ParseList splits a comma-separated list such as OIDC_GROUP_NAME.
func ParseList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Verdict is what the gate decided.
type Verdict struct {
	SignIn bool
	Admin  bool
}

// Check decides for a user in groups. Group names compare exactly (Entra
// group ids are case-sensitive GUID strings only by convention; names are
// as the identity provider spells them).
func (g Gate) Check(groups []string) Verdict {
	allowed, admin := g.Allowed, g.Admin
	if len(allowed) == 0 {
		allowed = []string{"mlflow"}
	}
	if len(admin) == 0 {
		admin = []string{"mlflow-admin"}
	}
	var v Verdict
	for _, grp := range groups {
		if slices.Contains(admin, grp) {
			v.Admin, v.SignIn = true, true
		}
		if slices.Contains(allowed, grp) {
			v.SignIn = true
		}
	}
	return v
}

// Refusal is the message for a user the gate refuses, for people: it names
// the groups that would let them in, never the user's own.
func (g Gate) Refusal() string {
	allowed, admin := g.Allowed, g.Admin
	if len(allowed) == 0 {
		allowed = []string{"mlflow"}
	}
	if len(admin) == 0 {
		admin = []string{"mlflow-admin"}
	}
	return fmt.Sprintf("You are not in a group allowed to use MLflow (%s, or %s for administrators). Ask an administrator to add you.",
		strings.Join(allowed, ", "), strings.Join(admin, ", "))
}
