package groupdetect

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// EntraAlias is mlflow-oidc-auth's name for its Entra ID plugin, accepted
// in OIDC_GROUP_DETECTION_PLUGIN so existing settings keep working.
const EntraAlias = "mlflow_oidc_auth.plugins.group_detection_microsoft_entra_id"

// Registry holds providers by name, so OIDC_GROUP_DETECTION_PLUGIN can
// select one. NewRegistry has "entra" (display names, as mlflow-oidc-auth's
// plugin returns) under its own name and mlflow-oidc-auth's.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Provider
}

// NewRegistry returns a registry with the built-in providers that need no
// configuration: "entra", its mlflow-oidc-auth alias, "okta" and "cognito".
func NewRegistry() *Registry {
	entra := Entra(EntraConfig{})
	return &Registry{m: map[string]Provider{
		"entra":    entra,
		EntraAlias: entra,
		"okta":     Okta(),
		"cognito":  Cognito(),
	}}
}

// Register adds (or replaces) a provider under name.
func (r *Registry) Register(name string, p Provider) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[name] = p
}

// Lookup returns the provider registered as name. An unknown name is an
// error naming OIDC_GROUP_DETECTION_PLUGIN and the names known.
func (r *Registry) Lookup(name string) (Provider, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p, ok := r.m[name]; ok {
		return p, nil
	}
	var known []string
	for n := range r.m {
		known = append(known, n)
	}
	slices.Sort(known)
	return nil, fmt.Errorf("OIDC_GROUP_DETECTION_PLUGIN=%q: unknown group provider (known: %s)", name, strings.Join(known, ", "))
}
