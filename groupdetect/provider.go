package groupdetect

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/oauth2"
)

// Input is what a provider decides from: the OAuth2 token from the sign-in
// (its access token reaches Graph or userinfo) and the verified claims of
// the ID token or bearer JWT.
type Input struct {
	Token  *oauth2.Token
	Claims map[string]any
}

// Provider finds a user's groups. It returns an error rather than no groups
// when it cannot tell: sign-in is then refused, never granted on too little.
type Provider interface {
	Groups(ctx context.Context, in Input) ([]string, error)
}

// Func adapts a function to a Provider: the way to support an identity
// provider this package does not ship.
type Func func(ctx context.Context, in Input) ([]string, error)

// Groups calls f.
func (f Func) Groups(ctx context.Context, in Input) ([]string, error) { return f(ctx, in) }

// Error is a provider's failure: which provider, at which step.
type Error struct {
	Provider string // "claims", "entra", "google", "mapping", "http"
	Step     string // what it was doing
	Err      error
}

func (e *Error) Error() string {
	return fmt.Sprintf("groupdetect: %s: %s: %v", e.Provider, e.Step, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func fail(provider, step string, err error) error {
	return &Error{Provider: provider, Step: step, Err: err}
}

// Errors for errors.Is.
var (
	// ErrOverage: the ID token says the user is in more groups than it
	// could carry (Microsoft Entra ID's groups overage). Use Entra.
	ErrOverage = errors.New("the ID token carries a groups-overage marker instead of the groups (Microsoft Entra ID sends it past 200 groups): use the Entra provider (OIDC_GROUP_DETECTION_PLUGIN=entra), which asks Microsoft Graph")
	// ErrNoToken: the provider needs the sign-in's access token.
	ErrNoToken = errors.New("no access token from the sign-in")
	// ErrNotAllowed: the account is not one this provider lets in.
	ErrNotAllowed = errors.New("account not allowed")
)
