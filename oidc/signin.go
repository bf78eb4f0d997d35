package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/groupdetect"
)

// Accounts records a sign-in and returns the account's username: bind
// (issuer, subject), adopt or create the account, sync its groups and
// admin flag. *store.Store satisfies it.
type Accounts interface {
	SignInSSO(ctx context.Context, issuer, subject, username, displayName string, groups []string, admin bool) (string, error)
}

// Provisioner is the usual SignIn: groups from the configured provider,
// the sign-in gate, the account, then a session.
type Provisioner struct {
	Accounts Accounts
	Sessions *Sessions
	// Groups finds the user's groups (OIDC_GROUP_DETECTION_PLUGIN); nil
	// reads the ID token's "groups" claim.
	Groups groupdetect.Provider
	// Gate is OIDC_GROUP_NAME and OIDC_ADMIN_GROUP_NAME.
	Gate groupdetect.Gate
	// UsernameClaims are tried in order (OIDC_USERNAME_FIELD first); an
	// email counts only when email_verified is true. Default: email, then
	// preferred_username.
	UsernameClaims []string
	// DisplayNameClaim is OIDC_DISPLAY_NAME_FIELD ("name").
	DisplayNameClaim string
	// StoredGroups starts sessions that are decided with the account's
	// stored memberships, read at each decision, rather than the groups
	// of the sign-in frozen for the session's life: so that groups SCIM
	// keeps count, and a membership SCIM removes ends at once. (Sign-in
	// stores the identity provider's groups, so they count either way.)
	StoredGroups bool
	Logger       *slog.Logger
}

// Refusal is a sign-in refused for a reason the user should read.
type Refusal struct{ Message string }

func (r *Refusal) Error() string { return r.Message }

// SignIn records the login and starts the session, then sends the browser
// where it was going.
func (p *Provisioner) SignIn(ctx context.Context, w http.ResponseWriter, r *http.Request, l *Login) error {
	logger := p.Logger
	if logger == nil {
		logger = slog.Default()
	}
	provider := p.Groups
	if provider == nil {
		provider = groupdetect.Claims("groups")
	}
	groups, err := provider.Groups(ctx, groupdetect.Input{Token: l.Token, Claims: l.Claims})
	if err != nil {
		logger.WarnContext(ctx, "oidc: could not read the user's groups", "subject", l.Subject, "error", err)
		return &Refusal{"Your groups could not be read from the identity provider, so you cannot be signed in. Try again later."}
	}
	if groups == nil {
		groups = []string{}
	}
	verdict := p.Gate.Check(groups)
	if !verdict.SignIn {
		return &Refusal{p.Gate.Refusal()}
	}
	claims := p.UsernameClaims
	if len(claims) == 0 {
		claims = []string{"email", "preferred_username"}
	}
	username := auth.UsernameFromClaims(l.Claims, claims, false)
	if username == "" {
		return &Refusal{"The identity provider sent no username this gateway can use (an email address counts only when the provider says it is verified). Ask an administrator."}
	}
	displayClaim := p.DisplayNameClaim
	if displayClaim == "" {
		displayClaim = "name"
	}
	display, _ := l.Claims[displayClaim].(string)
	name, err := p.Accounts.SignInSSO(ctx, l.Issuer, l.Subject, username, display, groups, verdict.Admin)
	if err != nil {
		logger.WarnContext(ctx, "oidc: the sign-in could not be recorded", "subject", l.Subject, "username", username, "error", err)
		return &Refusal{fmt.Sprintf("Your sign-in could not be linked to the account %s: it may be deactivated, or belong to someone else. Ask an administrator.", username)}
	}
	id := &auth.Identity{Username: name, DisplayName: display, Groups: groups, Method: auth.MethodSession, Issuer: l.Issuer, Subject: l.Subject}
	if p.StoredGroups {
		id.Groups = nil
	}
	if err := p.Sessions.Start(ctx, w, id, l.IDToken); err != nil {
		logger.ErrorContext(ctx, "oidc: could not start a session", "username", name, "error", err)
		return &Refusal{"Your session could not be started. Try again in a moment."}
	}
	logger.InfoContext(ctx, "oidc: signed in", "username", name, "admin", verdict.Admin)
	http.Redirect(w, r, l.Next, http.StatusFound)
	return nil
}

var _ SignIn = (*Provisioner)(nil)

// errorsAsRefusal reports the message of a Refusal in err's chain.
func errorsAsRefusal(err error) (string, bool) {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Message, true
	}
	return "", false
}
