package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/mlflowauth/mlflowauth/scim"
	"github.com/mlflowauth/mlflowauth/store"
)

// SCIM tokens: what identity providers' provisioning clients present at
// /scim/v2 (package scim). Administrators make and revoke them; the
// secret is shown once and stored hashed.

func (a *API) registerSCIM() {
	a.route(Prefix+"scim-tokens", false, map[string]op{http.MethodGet: listSCIMTokens, http.MethodPost: createSCIMToken, http.MethodDelete: revokeSCIMToken})
}

func scimTokenJSON(t store.SCIMToken) map[string]any {
	m := map[string]any{"id": t.ID, "name": t.Name, "prefix": t.Prefix, "created_by": t.CreatedBy, "created_at": t.CreatedAt,
		"live": t.RevokedAt.IsZero()}
	return withUse(m, t.LastUsedAt, t.RevokedAt)
}

func listSCIMTokens(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	ts, err := c.a.cfg.Store.ListSCIMTokens(c.ctx())
	if err != nil {
		return err
	}
	out := make([]any, 0, len(ts))
	for _, t := range ts {
		out = append(out, scimTokenJSON(t))
	}
	return c.ok(map[string]any{"scim_tokens": out})
}

// mintSCIM makes a SCIM token named name; the secret is for this answer
// only.
func (c *call) mintSCIM(name string) (store.SCIMToken, string, error) {
	secret, hash, prefix, err := scim.NewToken()
	if err != nil {
		return store.SCIMToken{}, "", err
	}
	t, err := c.a.cfg.Store.CreateSCIMToken(c.ctx(), store.SCIMToken{Name: name, Hash: hash[:], Prefix: prefix, CreatedBy: c.subj.Username})
	if err != nil {
		return store.SCIMToken{}, "", err
	}
	c.audit("scim-token.create", name, fmt.Sprintf("id %d", t.ID))
	return t, secret, nil
}

func createSCIMToken(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	name, err := c.tokenName()
	if err != nil {
		return err
	}
	t, secret, err := c.mintSCIM(name)
	if errors.Is(err, store.ErrConflict) {
		return alreadyExists(fmt.Sprintf("A live SCIM token named '%s' already exists", name))
	}
	if err != nil {
		return err
	}
	return c.ok(map[string]any{"scim_token": scimTokenJSON(t), "secret": secret, "base_url": trackingURI(c.r) + scim.Prefix})
}

func revokeSCIMToken(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	id, err := c.tokenID()
	if err != nil {
		return err
	}
	if err := c.a.cfg.Store.RevokeSCIMToken(c.ctx(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound(fmt.Sprintf("No live SCIM token %d", id))
		}
		return err
	}
	c.audit("scim-token.revoke", strconv.FormatInt(id, 10), "")
	return c.ok(map[string]any{})
}

// scimPage is the web UI's Admin › SCIM: the base URL to give the
// identity provider, and its tokens.
func (u *ui) scimPage(c *call, v *view) error {
	data := map[string]any{"BaseURL": trackingURI(c.r) + scim.Prefix}
	if c.r.Method == http.MethodPost {
		switch c.r.PostForm.Get("action") {
		case "create":
			name := strings.TrimSpace(c.r.PostForm.Get("name"))
			if !validTokenName(name) {
				v.Error = "A SCIM token needs a name of at most 100 characters."
				break
			}
			_, secret, err := c.mintSCIM(name)
			switch {
			case errors.Is(err, store.ErrConflict):
				v.Error = fmt.Sprintf("A live SCIM token named %q exists: pick another name, or revoke it first.", name)
			case err != nil:
				return err
			default:
				data["Secret"] = secret // shown in this answer only
			}
		case "revoke":
			id, revoked, err := c.revokeFormToken(func(id int64) error { return c.a.cfg.Store.RevokeSCIMToken(c.ctx(), id) })
			if err != nil {
				return err
			}
			if revoked {
				c.audit("scim-token.revoke", strconv.FormatInt(id, 10), "")
			}
			redirect(c.w, c.r, UIPrefix+"admin/scim", "The SCIM token is revoked: provisioning with it stops at once.")
			return nil
		}
	}
	ts, err := c.a.cfg.Store.ListSCIMTokens(c.ctx())
	if err != nil {
		return err
	}
	data["Tokens"] = ts
	if v.Notice == "" {
		v.Notice = notice(c.r)
	}
	u.render(c.w, http.StatusOK, "scim", v, "SCIM provisioning", data)
	return nil
}
