package permission

import "fmt"

// Kind is a kind of resource permissions are granted on.
type Kind uint8

// The resource kinds. Runs, logged models, traces and artifacts are decided
// on their experiment; model versions and aliases on their registered model.
const (
	Experiment Kind = iota + 1
	RegisteredModel
	Prompt
	Scorer
	GatewayEndpoint
	GatewaySecret
	GatewayModelDefinition
	Workspace
)

var kindNames = [...]string{
	Experiment:             "experiment",
	RegisteredModel:        "registered_model",
	Prompt:                 "prompt",
	Scorer:                 "scorer",
	GatewayEndpoint:        "gateway_endpoint",
	GatewaySecret:          "gateway_secret",
	GatewayModelDefinition: "gateway_model_definition",
	Workspace:              "workspace",
}

// Kinds lists every resource kind.
func Kinds() []Kind {
	return []Kind{Experiment, RegisteredModel, Prompt, Scorer, GatewayEndpoint, GatewaySecret, GatewayModelDefinition, Workspace}
}

func (k Kind) valid() bool { return k >= Experiment && k <= Workspace }

// String returns the kind's name, such as "registered_model".
func (k Kind) String() string {
	if k.valid() {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind parses a kind's name.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds() {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("permission: unknown resource kind %q", s)
}

// Resource names one resource. Grants are keyed by Kind and ID (and, for a
// scorer, Name); regex rules match Name.
//
//	experiment              ID: experiment id    Name: experiment name
//	registered model        ID: model name       Name: model name
//	prompt                  ID: prompt name      Name: prompt name
//	scorer                  ID: experiment id    Name: scorer name (part of the key)
//	gateway endpoint,       ID: object id        Name: object name
//	  secret, model def.
//	workspace               ID: workspace name   Name: workspace name
//
// For models, prompts and workspaces an empty Name means ID.
type Resource struct {
	Kind Kind
	ID   string
	Name string
}

// matchName is the name regex rules are matched against.
func (r Resource) matchName() string {
	if r.Name == "" && (r.Kind == RegisteredModel || r.Kind == Prompt || r.Kind == Workspace) {
		return r.ID
	}
	return r.Name
}

// resKey is what grants are indexed by.
type resKey struct {
	kind Kind
	id   string
	sub  string // the scorer's name; empty for other kinds
}

func (r Resource) key() resKey {
	k := resKey{kind: r.Kind, id: r.ID}
	if r.Kind == Scorer {
		k.sub = r.Name
	}
	return k
}

func (r Resource) String() string {
	switch {
	case r.Kind == Scorer:
		return fmt.Sprintf("scorer %q of experiment %s", r.Name, r.ID)
	case r.Name != "" && r.Name != r.ID:
		return fmt.Sprintf("%s %s (%q)", r.Kind, r.ID, r.Name)
	default:
		return fmt.Sprintf("%s %s", r.Kind, r.ID)
	}
}

// PrincipalKind says whether a grant or rule is for a user or a group.
type PrincipalKind uint8

// The principal kinds.
const (
	ToUser PrincipalKind = iota + 1
	ToGroup
)

// Principal is who a grant or rule is for: a user (lower-cased username) or
// a group.
type Principal struct {
	Kind PrincipalKind
	Name string
}

// ForUser and ForGroup make principals.
func ForUser(name string) Principal  { return Principal{Kind: ToUser, Name: name} }
func ForGroup(name string) Principal { return Principal{Kind: ToGroup, Name: name} }

func (p Principal) String() string {
	if p.Kind == ToGroup {
		return "group " + p.Name
	}
	return "user " + p.Name
}

// MarshalText encodes k as its name.
func (k Kind) MarshalText() ([]byte, error) {
	if !k.valid() {
		return nil, fmt.Errorf("permission: cannot encode %v", k)
	}
	return []byte(k.String()), nil
}

// UnmarshalText decodes a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// String returns "user" or "group".
func (k PrincipalKind) String() string {
	switch k {
	case ToUser:
		return "user"
	case ToGroup:
		return "group"
	}
	return fmt.Sprintf("PrincipalKind(%d)", uint8(k))
}

// ParsePrincipalKind parses "user" or "group".
func ParsePrincipalKind(s string) (PrincipalKind, error) {
	switch s {
	case "user":
		return ToUser, nil
	case "group":
		return ToGroup, nil
	}
	return 0, fmt.Errorf("permission: unknown principal kind %q (expected user or group)", s)
}

// MarshalText encodes k as "user" or "group".
func (k PrincipalKind) MarshalText() ([]byte, error) {
	if k != ToUser && k != ToGroup {
		return nil, fmt.Errorf("permission: cannot encode %v", k)
	}
	return []byte(k.String()), nil
}

// UnmarshalText decodes "user" or "group".
func (k *PrincipalKind) UnmarshalText(b []byte) error {
	v, err := ParsePrincipalKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
