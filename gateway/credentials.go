package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/store"
)

// credentials is what basic needs of the store: accounts, tokens, and
// where tokens' last use and imported tokens are written. revalidateDays
// is SSO_REVALIDATE_DAYS.
type credentials struct {
	db             *store.Store
	revalidateDays int
}

func (c credentials) Account(ctx context.Context, username string) (basic.Account, error) {
	u, err := c.db.GetUser(ctx, username)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return basic.Account{}, fmt.Errorf("%w: %v", basic.ErrUnknown, err)
	}
	if err != nil {
		return basic.Account{}, err
	}
	return basic.Account{Username: u.Username, PasswordHash: u.PasswordHash, Active: !u.Deactivated,
		ImportedToken: u.Origin == store.OriginMLflowOIDCAuth, LapsesAt: u.RevalidateBy(c.revalidateDays)}, nil
}

func (c credentials) Token(ctx context.Context, sha256 []byte) (basic.Token, error) {
	t, err := c.db.TokenByHash(ctx, sha256)
	if errors.Is(err, store.ErrNotFound) {
		return basic.Token{}, fmt.Errorf("%w: %v", basic.ErrUnknown, err)
	}
	if err != nil {
		return basic.Token{}, err
	}
	u, err := c.db.GetUser(ctx, t.Username)
	if err != nil {
		return basic.Token{}, err
	}
	return basic.Token{ID: t.ID, Username: t.Username, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, Active: !u.Deactivated,
		LapsesAt: u.RevalidateBy(c.revalidateDays)}, nil
}

func (c credentials) TouchTokens(ctx context.Context, used map[int64]time.Time) error {
	return c.db.TouchTokens(ctx, used)
}

// AdoptToken rewrites an mlflow-oidc-auth token (kept there as the
// account's password hash) as a token record, so it is checked without
// hashing from then on; the password goes, as it never was one.
func (c credentials) AdoptToken(ctx context.Context, username string, sha256 []byte) error {
	if _, err := c.db.CreateToken(ctx, store.Token{Username: username, Name: "imported from mlflow-oidc-auth", Hash: sha256,
		Prefix: "(imported)", ExpiresAt: time.Now().AddDate(0, 0, basic.DefaultMaxTokenDays)}); err != nil {
		return err
	}
	none := ""
	_, err := c.db.UpdateUser(ctx, username, store.UserChange{PasswordHash: &none})
	return err
}

// sessionIndex is the store's session index with SSO_REVALIDATE_DAYS:
// a session of an account that has not signed in through the identity
// provider for that many days is over (signing in starts a new one).
type sessionIndex struct {
	*store.Store
	revalidateDays int
}

func (s sessionIndex) SessionLive(ctx context.Context, hash []byte) (bool, error) {
	if s.revalidateDays == 0 {
		return s.Store.SessionLive(ctx, hash)
	}
	// The session read once: its owner is what the rule needs.
	ses, err := s.SessionByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil || !ses.Live(time.Now()) {
		return false, err
	}
	u, err := s.GetUser(ctx, ses.Username)
	if err != nil {
		return false, err
	}
	return !u.Lapsed(s.revalidateDays, time.Now()), nil
}
