package admin

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// UIPrefix is where the web UI lives (mlflow-oidc-auth's place for its).
const UIPrefix = "/oidc/ui/"

// MenuScript is the script the gateway adds to MLflow's own UI page.
const MenuScript = UIPrefix + "static/menu.js"

//go:embed ui
var uiFiles embed.FS

// csrfScope is where a form's CSRF token is good: the cookie holding the
// browser's half, the path it is sent to, and what the HMAC is for (so a
// token of one scope is worthless in another).
type csrfScope struct{ cookie, path, purpose string }

// uiCSRF protects the web UI's forms.
var uiCSRF = csrfScope{cookie: "mlflowauth_csrf", path: UIPrefix, purpose: "csrf"}

// contentSecurityPolicy lets the pages load their own style and script
// and nothing else: no inline script, no framing, forms only to here.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

type ui struct {
	a     *API
	pages map[string]*template.Template
}

func (a *API) registerUI() error {
	base, err := template.New("").Funcs(template.FuncMap{
		"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"live": func(t store.Token) bool { return t.Live(a.cfg.Now()) },
	}).ParseFS(uiFiles, "ui/base.html")
	if err != nil {
		return err
	}
	u := &ui{a: a, pages: map[string]*template.Template{}}
	for _, p := range []string{"me", "tokens", "permissions", "grants", "users", "groups", "rules", "audit", "refused", "signup", "scim"} {
		t, err := template.Must(base.Clone()).ParseFS(uiFiles, "ui/"+p+".html")
		if err != nil {
			return err
		}
		u.pages[p] = t
	}
	a.routes[UIPrefix] = http.HandlerFunc(u.serve)
	a.routes[SignupPath] = http.HandlerFunc(u.signup)
	a.routes[CreateUserUIPath] = http.HandlerFunc(u.createUserUI)
	a.routes[strings.TrimSuffix(UIPrefix, "/")] = http.RedirectHandler(UIPrefix, http.StatusFound)
	return nil
}

// view is what every page is rendered with.
type view struct {
	Page, Title, Username string
	Favicon               string
	Admin                 bool
	CSRF                  string
	Error, Notice         string
	Data                  any
}

func (u *ui) serve(w http.ResponseWriter, r *http.Request) {
	rel := strings.TrimPrefix(r.URL.Path, UIPrefix)
	pageHeaders(w)
	if strings.HasPrefix(rel, "static/") {
		u.static(w, r, rel)
		return
	}
	id, ok := auth.FromRequest(r)
	if !ok {
		writeError(w, auth.Unauthenticated(""))
		return
	}
	snap := u.a.cfg.Engine.Snapshot()
	c := &call{a: u.a, w: w, r: r, id: id, snap: snap, subj: snap.Subject(id.Username, id.Groups)}
	v := &view{Username: c.subj.Username, Admin: c.isAdmin(), CSRF: u.csrf(w, r, uiCSRF)}
	if !c.subj.Active {
		u.render(w, http.StatusForbidden, "refused", v, "Refused", "This account has no access: it is deactivated, or was never made. Ask an administrator.")
		return
	}
	if r.Method == http.MethodPost {
		if err := u.checkForm(r); err != nil {
			u.render(w, http.StatusForbidden, "refused", v, "Refused", err.Error())
			return
		}
	} else if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var err error
	switch rel {
	case "":
		err = u.me(c, v)
	case "tokens":
		err = u.tokens(c, v)
	case "permissions":
		err = u.permissions(c, v)
	case "grants":
		err = u.grants(c, v)
	case "admin/users", "admin/groups", "admin/rules", "admin/audit", "admin/scim":
		if !c.isAdmin() {
			u.render(w, http.StatusForbidden, "refused", v, "Refused", "These pages are for administrators.")
			return
		}
		switch rel {
		case "admin/users":
			err = u.users(c, v)
		case "admin/groups":
			err = u.groups(c, v)
		case "admin/rules":
			err = u.rules(c, v)
		case "admin/scim":
			err = u.scimPage(c, v)
		default:
			err = u.audit(c, v)
		}
	default:
		u.render(w, http.StatusNotFound, "refused", v, "Not found", "There is no page here. The pages are in the menu above.")
		return
	}
	if err != nil {
		u.a.cfg.Logger.ErrorContext(r.Context(), "admin: ui", "page", rel, "error", err)
		u.render(w, http.StatusServiceUnavailable, "refused", v, "Not now", "The gateway's database did not answer; try again in a moment.")
	}
}

// pageHeaders are every page's: strict CSP, no sniffing, no caching.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

func (u *ui) static(w http.ResponseWriter, r *http.Request, rel string) {
	b, err := fs.ReadFile(uiFiles, "ui/"+rel)
	if err != nil || strings.Contains(rel, "..") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(rel)))
	w.Header().Set("Cache-Control", "private, max-age=300")
	_, _ = w.Write(b)
}

func (u *ui) render(w http.ResponseWriter, status int, page string, v *view, title string, data any) {
	v.Page, v.Title, v.Data, v.Favicon = page, title, data, u.a.cfg.Favicon
	var buf bytes.Buffer
	if err := u.pages[page].ExecuteTemplate(&buf, "base", v); err != nil {
		u.a.cfg.Logger.Error("admin: ui template", "page", page, "error", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// csrf returns a form's token: an HMAC of a random value in a cookie of
// this browser's (made on its first page). A form posted from elsewhere
// has neither; a cookie planted by a sibling site does not match the
// token without the key.
func (u *ui) csrf(w http.ResponseWriter, r *http.Request, s csrfScope) string {
	c, err := r.Cookie(s.cookie)
	value := ""
	if err == nil && len(c.Value) >= 32 {
		value = c.Value
	} else {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		value = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: value, Path: s.path, HttpOnly: true,
			Secure: r.TLS != nil || u.a.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
	}
	return u.csrfToken(s, value)
}

func (u *ui) csrfToken(s csrfScope, cookie string) string {
	m := hmac.New(sha256.New, u.a.cfg.Secret)
	// A prefix of its own: the same key also keys other HMACs (the
	// credential cache), whose inputs must never coincide with these.
	m.Write([]byte("mlflowauth form token\x00" + s.purpose + "\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errCSRF = uiMessage("This form has expired or did not come from this site: open the page again and resend it.")

func (u *ui) checkForm(r *http.Request) error {
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return uiMessage("The form could not be read.")
	}
	if !u.csrfValid(r, uiCSRF, r.PostForm.Get("csrf")) {
		return errCSRF
	}
	return nil
}

// csrfValid checks a posted token against the browser's cookie.
func (u *ui) csrfValid(r *http.Request, s csrfScope, token string) bool {
	c, err := r.Cookie(s.cookie)
	if err != nil || len(c.Value) < 32 {
		return false
	}
	return hmac.Equal([]byte(token), []byte(u.csrfToken(s, c.Value)))
}

// uiMessage is a sentence for the person at the page, carried as an error.
type uiMessage string

func (n uiMessage) Error() string { return string(n) }

// redirect answers a form with a redirect to the page (post, redirect,
// get), carrying a notice.
func redirect(w http.ResponseWriter, r *http.Request, to, notice string) {
	if notice != "" {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "notice=" + urlQueryEscape(notice)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func urlQueryEscape(s string) string {
	return strings.ReplaceAll(template.URLQueryEscaper(s), "+", "%20")
}

// notice is a redirect's message, shown only as text.
func notice(r *http.Request) string {
	n := r.URL.Query().Get("notice")
	if len(n) > 200 {
		n = n[:200]
	}
	return n
}

func (u *ui) me(c *call, v *view) error {
	user, err := c.a.cfg.Store.GetUser(c.ctx(), c.subj.Username)
	if err != nil {
		return err
	}
	groups := c.subj.Groups.Names()
	method := map[auth.Method]string{auth.MethodSession: "single sign-on (this browser)", auth.MethodBasic: "username and token or password",
		auth.MethodBearer: "a bearer token"}[c.id.Method]
	if method == "" {
		method = string(c.id.Method)
	}
	v.Notice = notice(c.r)
	u.render(c.w, http.StatusOK, "me", v, "Me", map[string]any{"User": user, "Groups": groups, "Method": method})
	return nil
}

func (u *ui) tokens(c *call, v *view) error {
	user, err := c.a.cfg.Store.GetUser(c.ctx(), c.subj.Username)
	if err != nil {
		return err
	}
	data := map[string]any{"Days": []int{30, 90, 180, min(366, c.a.cfg.MaxTokenDays)}, "TrackingURI": trackingURI(c.r),
		"RevalidateBy": user.RevalidateBy(c.a.cfg.SSORevalidateDays), "RevalidateDays": c.a.cfg.SSORevalidateDays}
	if c.r.Method == http.MethodPost {
		switch c.r.PostForm.Get("action") {
		case "create":
			name := strings.TrimSpace(c.r.PostForm.Get("name"))
			days, _ := strconv.Atoi(c.r.PostForm.Get("days"))
			expires := c.a.cfg.Now().AddDate(0, 0, days)
			switch {
			case !validTokenName(name):
				v.Error = "A token needs a name of at most 100 characters."
			case basic.CheckExpiry(expires, c.a.cfg.Now(), c.a.cfg.MaxTokenDays) != nil:
				v.Error = fmt.Sprintf("A token lives from 1 to %d days.", c.a.cfg.MaxTokenDays)
			default:
				_, secret, err := c.mint(user, name, expires)
				switch {
				case errors.Is(err, store.ErrConflict):
					v.Error = fmt.Sprintf("You have a live token named %q already: pick another name, or revoke it first.", name)
				case err != nil:
					return err
				default:
					data["Secret"], data["For"] = secret, user.Username // shown in this answer only
				}
			}
		case "revoke":
			id, revoked, err := c.revokeFormToken(func(id int64) error { return c.a.cfg.Store.RevokeToken(c.writeCtx(), user.Username, id) })
			if err != nil {
				return err
			}
			if revoked {
				c.audit("token.revoke", user.Username, fmt.Sprintf("id %d", id))
			}
			redirect(c.w, c.r, UIPrefix+"tokens", "The token is revoked: it stops working at once.")
			return nil
		case "signout-everywhere":
			n, err := c.a.cfg.Store.RevokeUserSessions(c.writeCtx(), user.Username)
			if err != nil {
				return err
			}
			c.audit("sessions.revoke", user.Username, fmt.Sprintf("%d sessions", n))
			redirect(c.w, c.r, "/login", "")
			return nil
		}
	}
	ts, err := c.a.cfg.Store.ListTokens(c.ctx(), user.Username)
	if err != nil {
		return err
	}
	data["Tokens"] = ts
	if v.Notice == "" {
		v.Notice = notice(c.r)
	}
	u.render(c.w, http.StatusOK, "tokens", v, "My tokens", data)
	return nil
}

// trackingURI is this gateway as the browser reached it, for the lines
// to paste.
func trackingURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

type permRow struct{ Resource, Level, Why string }

var uiKinds = []string{"experiment", "registered_model", "prompt", "scorer", "gateway_endpoint", "gateway_secret", "gateway_model_definition"}

func (u *ui) permissions(c *call, v *view) error {
	var rows []permRow
	seen := map[string]bool{}
	principals := []permission.Principal{permission.ForUser(c.subj.Username)}
	for _, g := range c.subj.Groups.Names() {
		principals = append(principals, permission.ForGroup(g))
	}
	for _, p := range principals {
		grants, err := c.a.cfg.Store.ListGrants(c.ctx(), store.GrantFilter{Principal: &p})
		if err != nil {
			return err
		}
		for _, g := range grants {
			if seen[g.Resource.String()] {
				continue
			}
			seen[g.Resource.String()] = true
			d := c.decideFor(c.subj.Username, g.Resource)
			rows = append(rows, permRow{g.Resource.String(), d.Level.String(), d.Explain()})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Resource < rows[j].Resource })
	q := c.r.URL.Query()
	data := map[string]any{"Rows": rows, "Kinds": uiKinds, "Kind": q.Get("kind"), "ID": q.Get("id"), "Name": q.Get("name"),
		"Default": c.a.cfg.defaultLevel(c)}
	if q.Get("id") != "" {
		k, err := permission.ParseKind(q.Get("kind"))
		if err != nil || k == permission.Workspace {
			v.Error = "Pick a kind of resource."
		} else {
			d := c.decideFor(c.subj.Username, permission.Resource{Kind: k, ID: q.Get("id"), Name: q.Get("name")})
			data["Explained"] = permRow{Level: d.Level.String(), Why: d.Explain()}
		}
	}
	u.render(c.w, http.StatusOK, "permissions", v, "My permissions", data)
	return nil
}

// defaultLevel is the level nothing else decides (DEFAULT_MLFLOW_PERMISSION):
// what an active user of no group has on an experiment nobody was granted.
func (cfg Config) defaultLevel(c *call) string {
	return c.snap.Decide(permission.Subject{Username: "\x00", Active: true}, permission.Resource{Kind: permission.Experiment, ID: "\x00"}).Level.String()
}

var uiLevels = []string{"READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS"}

// formResource reads kind, id and name (scorers) from a form or query.
func formResource(get func(string) string) (permission.Resource, error) {
	k, err := permission.ParseKind(get("kind"))
	if err != nil || k == permission.Workspace {
		return permission.Resource{}, uiMessage("Pick a kind of resource.")
	}
	r := permission.Resource{Kind: k, ID: strings.TrimSpace(get("id"))}
	if k == permission.Scorer {
		r.Name = strings.TrimSpace(get("name"))
	}
	if r.ID == "" || (k == permission.Scorer && r.Name == "") {
		return r, uiMessage("Name the resource: an experiment id, a model or prompt name, a scorer's experiment id and name, a gateway object's id.")
	}
	return r, nil
}

// grants shows who holds a resource and lets its managers grant and
// remove; anyone may look up a resource, only managers see and change.
func (u *ui) grants(c *call, v *view) error {
	get := c.r.URL.Query().Get
	if c.r.Method == http.MethodPost {
		get = c.r.PostForm.Get
	}
	data := map[string]any{"Kinds": uiKinds, "Levels": uiLevels, "Kind": get("kind"), "ID": get("id"), "Name": get("name"),
		"Default": c.a.cfg.defaultLevel(c)}
	if data["Kind"] == "" {
		data["Kind"] = "experiment"
	}
	if get("id") == "" {
		v.Notice = notice(c.r)
		u.render(c.w, http.StatusOK, "grants", v, "Grants", data)
		return nil
	}
	r, err := formResource(get)
	if err == nil && !c.manages(r) {
		err = uiMessage("You do not manage " + r.String() + ": its managers and administrators grant on it.")
	}
	if err != nil {
		v.Error = err.Error()
		u.render(c.w, http.StatusOK, "grants", v, "Grants", data)
		return nil
	}
	if c.r.Method == http.MethodPost {
		pk, perr := permission.ParsePrincipalKind(get("principal"))
		who := strings.TrimSpace(get("who"))
		p := permission.Principal{Kind: pk, Name: who}
		if pk == permission.ToUser {
			p.Name = auth.NormalizeUsername(who)
		}
		back := fmt.Sprintf("%sgrants?kind=%s&id=%s&name=%s", UIPrefix, urlQueryEscape(r.Kind.String()), urlQueryEscape(r.ID), urlQueryEscape(r.Name))
		switch {
		case perr != nil || who == "":
			v.Error = "Name a user or a group."
		case get("action") == "delete":
			if err := c.a.cfg.Store.DeleteGrant(c.writeCtx(), r, p); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			c.audit("grant.delete", r.String(), p.String())
			redirect(c.w, c.r, back, "Removed "+p.String()+".")
			return nil
		default:
			l, lerr := permission.ParseLevel(get("level"))
			if lerr != nil {
				v.Error = lerr.Error()
				break
			}
			if pk == permission.ToUser {
				if _, err := c.a.cfg.Store.GetUser(c.ctx(), p.Name); errors.Is(err, store.ErrNotFound) {
					v.Error = fmt.Sprintf("There is no user %q: they appear once they sign in, or an administrator makes them.", p.Name)
					break
				} else if err != nil {
					return err
				}
			}
			if err := c.a.cfg.Store.PutGrant(c.writeCtx(), permission.Grant{Resource: r, Principal: p, Level: l}); err != nil {
				return err
			}
			c.audit("grant.put", r.String(), p.String()+" "+l.String())
			redirect(c.w, c.r, back, fmt.Sprintf("%s now has %s on %s.", p, l, r))
			return nil
		}
	}
	all, err := c.a.cfg.Store.ListGrants(c.ctx(), store.GrantFilter{Kind: r.Kind, Resource: r.ID})
	if err != nil {
		return err
	}
	var held []permission.Grant
	for _, g := range all {
		if r.Kind != permission.Scorer || g.Resource.Name == r.Name {
			held = append(held, g)
		}
	}
	data["Shown"], data["Resource"], data["Grants"] = true, r.String(), held
	if v.Notice == "" {
		v.Notice = notice(c.r)
	}
	u.render(c.w, http.StatusOK, "grants", v, "Grants", data)
	return nil
}

// users lists accounts; admins activate and deactivate them, make and
// remove admins (never the last), and make service accounts with a token.
func (u *ui) users(c *call, v *view) error {
	data := map[string]any{"TrackingURI": trackingURI(c.r)}
	if c.r.Method == http.MethodPost {
		f := c.r.PostForm
		name := auth.NormalizeUsername(strings.TrimSpace(f.Get("user")))
		t, f0, yes := f.Get("action"), false, true
		var change *store.UserChange
		switch t {
		case "activate":
			change = &store.UserChange{Active: &yes}
		case "deactivate":
			change = &store.UserChange{Active: &f0}
		case "promote":
			change = &store.UserChange{Admin: &yes}
		case "demote":
			change = &store.UserChange{Admin: &f0}
		case "service-account", "token":
			acct, err := c.a.cfg.Store.GetUser(c.ctx(), name)
			if t == "service-account" {
				display := strings.TrimSpace(f.Get("display"))
				acct, err = c.a.cfg.Store.CreateUser(c.writeCtx(), store.User{Username: name, DisplayName: display, ServiceAccount: true})
				if err == nil {
					c.audit("user.create", acct.Username, "service account")
				}
			}
			switch {
			case errors.Is(err, store.ErrConflict):
				v.Error = fmt.Sprintf("%q exists already.", name)
			case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrNotFound):
				v.Error = "Not a username: " + err.Error()
			case err != nil:
				return err
			case !acct.ServiceAccount:
				v.Error = "Tokens are made here for service accounts only: people make their own on My tokens."
			default:
				_, secret, err := c.mint(acct, "issued "+c.a.cfg.Now().UTC().Format("2006-01-02 15:04:05"), c.a.cfg.Now().AddDate(0, 0, c.a.cfg.MaxTokenDays))
				if err != nil {
					return err
				}
				data["Secret"], data["For"] = secret, acct.Username
			}
		}
		if change != nil {
			_, err := c.a.cfg.Store.UpdateUser(c.writeCtx(), name, *change)
			switch {
			case errors.Is(err, store.ErrLastAdmin):
				v.Error = "The last active administrator stays one: make another administrator first."
			case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid):
				v.Error = fmt.Sprintf("There is no user %q.", name)
			case err != nil:
				return err
			default:
				c.audit("user."+t, name, "")
				redirect(c.w, c.r, UIPrefix+"admin/users", fmt.Sprintf("%s: %s.", name, t+"d"))
				return nil
			}
		}
	}
	users, err := c.a.cfg.Store.ListUsers(c.ctx())
	if err != nil {
		return err
	}
	data["Users"] = users
	if v.Notice == "" {
		v.Notice = notice(c.r)
	}
	u.render(c.w, http.StatusOK, "users", v, "Users and service accounts", data)
	return nil
}

// revokeFormToken revokes, with revoke, the token the form's "id" names.
// An id that is no number (too large included), or names no live token,
// revokes nothing and is no error: no live token has that id either way.
func (c *call) revokeFormToken(revoke func(id int64) error) (id int64, revoked bool, err error) {
	id, err = strconv.ParseInt(c.r.PostForm.Get("id"), 10, 64)
	if err != nil {
		return 0, false, nil
	}
	switch err := revoke(id); {
	case errors.Is(err, store.ErrNotFound):
		return id, false, nil
	case err != nil:
		return id, false, err
	}
	return id, true, nil
}

func (u *ui) groups(c *call, v *view) error {
	groups, err := c.a.cfg.Store.ListGroupDetails(c.ctx())
	if err != nil {
		return err
	}
	u.render(c.w, http.StatusOK, "groups", v, "Groups", map[string]any{"Groups": groups})
	return nil
}

// rules lists and edits regex rules; a pattern is checked as the engine
// will compile it before anything is saved.
func (u *ui) rules(c *call, v *view) error {
	get := c.r.URL.Query().Get
	if c.r.Method == http.MethodPost {
		get = c.r.PostForm.Get
	}
	kindName := get("kind")
	if kindName == "" {
		kindName = "experiment"
	}
	k, err := permission.ParseKind(kindName)
	if err != nil || k == permission.Workspace {
		k, kindName = permission.Experiment, "experiment"
	}
	form := map[string]any{"Who": get("who"), "Pattern": get("pattern"), "Priority": get("priority")}
	if form["Priority"] == "" {
		form["Priority"] = "100"
	}
	back := UIPrefix + "admin/rules?kind=" + kindName
	if c.r.Method == http.MethodPost {
		switch get("action") {
		case "delete":
			id, _ := strconv.ParseInt(get("rule"), 10, 64)
			if err := c.a.cfg.Store.DeleteRule(c.writeCtx(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			c.audit("rule.delete", kindName, fmt.Sprint(id))
			redirect(c.w, c.r, back, "Rule deleted.")
			return nil
		case "create":
			pk, perr := permission.ParsePrincipalKind(get("principal"))
			prio, prerr := strconv.Atoi(get("priority"))
			l, lerr := permission.ParseLevel(get("level"))
			r := permission.Rule{Kind: k, Principal: permission.Principal{Kind: pk, Name: strings.TrimSpace(get("who"))}, Pattern: get("pattern"), Priority: prio, Level: l}
			if pk == permission.ToUser {
				r.Principal.Name = auth.NormalizeUsername(r.Principal.Name)
			}
			switch {
			case perr != nil || r.Principal.Name == "":
				v.Error = "Name a user or a group."
			case prerr != nil:
				v.Error = "The priority is a whole number: lower is tried first."
			case lerr != nil:
				v.Error = lerr.Error()
			default:
				if err := permission.ValidateRule(r); err != nil {
					v.Error = "Not saved: " + err.Error()
					break
				}
				if _, err := c.a.cfg.Store.CreateRule(c.writeCtx(), r); err != nil {
					if errors.Is(err, store.ErrInvalid) {
						v.Error = "Not saved: " + err.Error()
						break
					}
					return err
				}
				c.audit("rule.create", kindName, fmt.Sprintf("%s %q priority %d %s", r.Principal, r.Pattern, r.Priority, r.Level))
				redirect(c.w, c.r, back, "Rule added.")
				return nil
			}
		}
	}
	rules, err := c.a.cfg.Store.ListRules(c.ctx(), k)
	if err != nil {
		return err
	}
	if v.Notice == "" {
		v.Notice = notice(c.r)
	}
	u.render(c.w, http.StatusOK, "rules", v, "Regex rules", map[string]any{"Kinds": uiKinds, "Kind": kindName, "Rules": rules,
		"Levels": uiLevels, "Form": form})
	return nil
}

func (u *ui) audit(c *call, v *view) error {
	before, _ := strconv.ParseInt(c.r.URL.Query().Get("before"), 10, 64)
	const page = 100
	entries, err := c.a.cfg.Store.AuditLog(c.ctx(), max(before, 0), page)
	if err != nil {
		return err
	}
	data := map[string]any{"Entries": entries}
	if len(entries) == page {
		data["Older"] = entries[len(entries)-1].ID
	}
	u.render(c.w, http.StatusOK, "audit", v, "Audit log", data)
	return nil
}
