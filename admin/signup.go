package admin

import (
	"errors"
	"mime"
	"net/http"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/store"
)

// MLflow 3's basic-auth sign-up page and the path its form posts to. The
// gateway serves both to administrators, so MLflow's UI links and admin
// scripts that create users this way keep working; accounts are never
// made from a page anyone can open.
const (
	SignupPath       = "/signup"
	CreateUserUIPath = "/api/2.0/mlflow/users/create-ui"
)

// signupCSRF protects the sign-up form. MLflow's form carries csrf_token
// (Flask-WTF); here it is an HMAC of a SameSite=Strict cookie sent only to
// the form's target.
var signupCSRF = csrfScope{cookie: "mlflowauth_signup_csrf", path: CreateUserUIPath, purpose: "signup"}

// signupView is what the sign-up page shows: the form, or an outcome.
type signupView struct {
	Action  string
	Message string
	Again   bool // offer the form again
}

// begin starts a sign-up request: the caller must be an active
// administrator (a 403 page otherwise) and the method method.
func (u *ui) begin(w http.ResponseWriter, r *http.Request, method string) (*call, *view, bool) {
	pageHeaders(w)
	id, ok := auth.FromRequest(r)
	if !ok {
		writeError(w, auth.Unauthenticated(""))
		return nil, nil, false
	}
	snap := u.a.cfg.Engine.Snapshot()
	c := &call{a: u.a, w: w, r: r, id: id, snap: snap, subj: snap.Subject(id.Username, id.Groups)}
	v := &view{Username: c.subj.Username, Admin: c.isAdmin()}
	switch {
	case r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead):
		w.Header().Set("Allow", method)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil, nil, false
	case !c.isAdmin():
		u.render(w, http.StatusForbidden, "refused", v, "Refused", auth.MessagePermissionDenied+" Only administrators may create accounts.")
		return nil, nil, false
	}
	return c, v, true
}

// signup is MLflow's GET /signup: a form for a username and a password.
func (u *ui) signup(w http.ResponseWriter, r *http.Request) {
	_, v, ok := u.begin(w, r, http.MethodGet)
	if !ok {
		return
	}
	v.CSRF = u.csrf(w, r, signupCSRF)
	u.render(w, http.StatusOK, "signup", v, "Sign up a user", signupView{Action: CreateUserUIPath})
}

// createUserUI is MLflow's POST users/create-ui: the form's username and
// password, form-encoded, with the form's CSRF token.
func (u *ui) createUserUI(w http.ResponseWriter, r *http.Request) {
	c, v, ok := u.begin(w, r, http.MethodPost)
	if !ok {
		return
	}
	fail := func(status int, msg string) {
		u.render(w, status, "signup", v, "Sign up a user", signupView{Message: msg, Again: true})
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		fail(http.StatusBadRequest, "Invalid content type. Must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "The form could not be read.")
		return
	}
	switch token := r.PostForm.Get("csrf_token"); {
	case token == "":
		fail(http.StatusBadRequest, "The CSRF token is missing.")
		return
	case !u.csrfValid(r, signupCSRF, token):
		fail(http.StatusBadRequest, "The CSRF token is invalid.")
		return
	}
	name, pw := r.PostForm.Get("username"), r.PostForm.Get("password")
	if name == "" || pw == "" {
		fail(http.StatusBadRequest, "Username and password cannot be empty.")
		return
	}
	if len(pw) < minPassword || basic.IsShippedDefault(pw) {
		fail(http.StatusBadRequest, "Password must be a string longer than 12 characters.")
		return
	}
	hash, err := basic.HashPassword(pw)
	if err != nil {
		fail(http.StatusServiceUnavailable, "The password could not be hashed; try again.")
		return
	}
	created, err := c.a.cfg.Store.CreateUser(c.writeCtx(), store.User{Username: name, PasswordHash: hash})
	switch {
	case errors.Is(err, store.ErrConflict):
		fail(http.StatusBadRequest, "Username has already been taken: "+auth.NormalizeUsername(name))
		return
	case errors.Is(err, store.ErrInvalid):
		fail(http.StatusBadRequest, storeError(err).Message)
		return
	case err != nil:
		u.a.cfg.Logger.ErrorContext(r.Context(), "admin: sign-up", "error", err)
		fail(http.StatusServiceUnavailable, "The gateway's database did not answer; try again in a moment.")
		return
	}
	c.audit("user.create", created.Username, "sign-up form")
	u.render(w, http.StatusOK, "signup", v, "Sign up a user", signupView{Message: "Successfully signed up user: " + created.Username})
}
