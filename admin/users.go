package admin

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// minPassword is MLflow's password policy.
const minPassword = 12

// userNotFound is MLflow's sentence, word for word.
func userNotFound(username string) *auth.Error {
	return notFound(fmt.Sprintf("User with username=%s not found", username))
}

// user reads a user, MLflow's 404 when there is none.
func (c *call) user(username string) (store.User, error) {
	u, err := c.a.cfg.Store.GetUser(c.ctx(), username)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return store.User{}, userNotFound(username)
	}
	return u, err
}

// mlflowUser is MLflow's User JSON, with the user's grants.
func (c *call) mlflowUser(u store.User) (map[string]any, error) {
	grants, err := c.userGrants(u.Username)
	if err != nil {
		return nil, err
	}
	exps, models, scorers := []any{}, []any{}, []any{}
	for _, g := range grants {
		switch g.Resource.Kind {
		case permission.Experiment:
			exps = append(exps, resourcePermission(experimentKind, g, u.ID))
		case permission.RegisteredModel:
			models = append(models, resourcePermission(modelKind, g, u.ID))
		case permission.Scorer:
			scorers = append(scorers, resourcePermission(scorerKind, g, u.ID))
		}
	}
	return map[string]any{"id": u.ID, "username": u.Username, "is_admin": u.Admin,
		"experiment_permissions": exps, "registered_model_permissions": models, "scorer_permissions": scorers}, nil
}

func (a *API) registerUsers() {
	const p = "/api/2.0/mlflow/users/"
	a.route(p+"create", true, map[string]op{http.MethodPost: createUser})
	a.route(p+"get", true, map[string]op{http.MethodGet: getUser})
	a.route(p+"list", true, map[string]op{http.MethodGet: listUsers})
	a.route(p+"current", true, map[string]op{http.MethodGet: currentUser})
	a.route(p+"update-password", true, map[string]op{http.MethodPatch: updatePassword})
	a.route(p+"update-admin", true, map[string]op{http.MethodPatch: updateAdmin})
	a.route(p+"delete", true, map[string]op{http.MethodDelete: deleteUser})
	// MLflow serves its sign-up form's post under /api only (signup.go).
	a.routes["/ajax-api/2.0/mlflow/users/create-ui"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &auth.Error{Status: http.StatusNotFound, Code: auth.CodeEndpointNotFound,
			Message: "Not found: MLflow's sign-up form posts to " + CreateUserUIPath})
	})
	// mlflow-oidc-auth's users router.
	a.route("/api/2.0/mlflow/users", true, map[string]op{http.MethodGet: listUsernames, http.MethodPost: putUser, http.MethodDelete: deleteUser})
	a.route(p+"access-token", true, map[string]op{http.MethodPatch: accessToken})
	a.route(p, true, map[string]op{http.MethodGet: userByPath}) // /users/{username}
}

func createUser(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	name, _, err := c.optStr("username")
	if err != nil {
		return err
	}
	pw, _, err := c.optStr("password")
	if err != nil {
		return err
	}
	if name == "" || pw == "" {
		return badParam("Username and password cannot be empty.")
	}
	if len(pw) < minPassword || basic.IsShippedDefault(pw) {
		return badParam("Password must be a string longer than 12 characters.")
	}
	hash, err := basic.HashPassword(pw)
	if err != nil {
		return err
	}
	u, err := c.a.cfg.Store.CreateUser(c.writeCtx(), store.User{Username: name, PasswordHash: hash})
	if errors.Is(err, store.ErrConflict) {
		return alreadyExists(fmt.Sprintf("User '%s' already exists.", auth.NormalizeUsername(name)))
	}
	if err != nil {
		return err
	}
	c.audit("user.create", u.Username, "")
	mu, err := c.mlflowUser(u)
	if err != nil {
		return err
	}
	return c.ok(map[string]any{"user": mu})
}

func getUser(c *call) error {
	name, err := c.str("username")
	if err != nil {
		return err
	}
	if err := c.requireSelf(name); err != nil {
		return err
	}
	u, err := c.user(name)
	if err != nil {
		return err
	}
	mu, err := c.mlflowUser(u)
	if err != nil {
		return err
	}
	return c.ok(map[string]any{"user": mu})
}

func listUsers(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	users, err := c.a.cfg.Store.ListUsers(c.ctx())
	if err != nil {
		return err
	}
	out := make([]any, 0, len(users))
	for _, u := range users {
		out = append(out, map[string]any{"id": u.ID, "username": u.Username, "is_admin": u.Admin})
	}
	return c.ok(map[string]any{"users": out})
}

// oidcUser is mlflow-oidc-auth's user JSON; MLflow's {"user": {...}} is
// inside it too, since both answer at users/current.
func oidcUser(u store.User) map[string]any {
	groups := []any{}
	for i, g := range u.Groups {
		groups = append(groups, map[string]any{"id": i + 1, "group_name": g})
	}
	return map[string]any{
		"user": map[string]any{"id": u.ID, "username": u.Username, "is_admin": u.Admin},
		"id":   u.ID, "username": u.Username, "display_name": u.DisplayName, "is_admin": u.Admin,
		"is_service_account": u.ServiceAccount, "password_expiration": nil, "groups": groups,
	}
}

func currentUser(c *call) error {
	u, err := c.user(c.id.Username)
	if err != nil {
		return err
	}
	return c.ok(oidcUser(u))
}

func userByPath(c *call) error {
	name := strings.TrimPrefix(strings.TrimPrefix(c.r.URL.Path, "/ajax-api/2.0/mlflow/users/"), "/api/2.0/mlflow/users/")
	if name == "" || strings.Contains(name, "/") {
		return &auth.Error{Status: http.StatusNotFound, Code: auth.CodeEndpointNotFound, Message: "No such route"}
	}
	if err := c.requireAdmin(); err != nil {
		return err
	}
	u, err := c.user(name)
	if err != nil {
		return err
	}
	return c.ok(oidcUser(u))
}

func updatePassword(c *call) error {
	name, err := c.str("username")
	if err != nil {
		return err
	}
	if err := c.requireSelf(name); err != nil {
		return err
	}
	pw, err := c.str("password")
	if err != nil {
		return err
	}
	u, err := c.user(name)
	if err != nil {
		return err
	}
	if u.Username == c.subj.Username {
		// Changing one's own password needs the current one: a stolen
		// session or token must not be able to take the account over.
		cur, _, err := c.optStr("current_password")
		if err != nil {
			return err
		}
		if cur == "" {
			return badParam("Current password is required when changing your own password.")
		}
		if ok, _ := basic.VerifyPassword(u.PasswordHash, cur); u.PasswordHash == "" || !ok {
			return badParam("Current password does not match.")
		}
	}
	if len(pw) < minPassword || basic.IsShippedDefault(pw) {
		return badParam("Password must be a string longer than 12 characters.")
	}
	hash, err := basic.HashPassword(pw)
	if err != nil {
		return err
	}
	if _, err := c.a.cfg.Store.UpdateUser(c.writeCtx(), u.Username, store.UserChange{PasswordHash: &hash}); err != nil {
		return err
	}
	c.audit("user.password", u.Username, "")
	return c.ok(map[string]any{})
}

func updateAdmin(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	name, err := c.str("username")
	if err != nil {
		return err
	}
	admin, err := c.boolean("is_admin")
	if err != nil {
		return err
	}
	if _, err := c.user(name); err != nil {
		return err
	}
	if _, err := c.a.cfg.Store.UpdateUser(c.writeCtx(), name, store.UserChange{Admin: &admin}); err != nil {
		return err
	}
	c.audit("user.admin", auth.NormalizeUsername(name), fmt.Sprint(admin))
	return c.ok(map[string]any{})
}

func deleteUser(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	name, err := c.str("username")
	if err != nil {
		return err
	}
	if _, err := c.user(name); err != nil {
		return err
	}
	if err := c.a.cfg.Store.DeleteUser(c.writeCtx(), name); err != nil {
		return err
	}
	c.audit("user.delete", auth.NormalizeUsername(name), "")
	return c.ok(map[string]any{})
}

// listUsernames is mlflow-oidc-auth's GET /users: usernames, service
// accounts or people (?service=true|false), for any signed-in user (the
// UI's pickers).
func listUsernames(c *call) error {
	if !c.subj.Active {
		return errInactive
	}
	want, has := c.r.URL.Query().Get("service"), c.r.URL.Query().Has("service")
	if has && want != "true" && want != "false" {
		return badParam("Invalid value for parameter 'service': expected true or false")
	}
	users, err := c.a.cfg.Store.ListUsers(c.ctx())
	if err != nil {
		return err
	}
	names := []string{}
	for _, u := range users {
		if !has || u.ServiceAccount == (want == "true") {
			names = append(names, u.Username)
		}
	}
	sort.Strings(names)
	return c.ok(names)
}

// putUser is mlflow-oidc-auth's POST /users: create a user (or a service
// account) without a password; an existing one has its admin and
// service-account flags overwritten, as the plugin does.
func putUser(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	name, err := c.str("username")
	if err != nil {
		return err
	}
	display, _, err := c.optStr("display_name")
	if err != nil {
		return err
	}
	flag := func(f string) (bool, error) {
		if !c.has(f) {
			return false, nil
		}
		return c.boolean(f)
	}
	admin, err := flag("is_admin")
	if err != nil {
		return err
	}
	service, err := flag("is_service_account")
	if err != nil {
		return err
	}
	_, err = c.a.cfg.Store.CreateUser(c.writeCtx(), store.User{Username: name, DisplayName: display, Admin: admin, ServiceAccount: service})
	if errors.Is(err, store.ErrConflict) {
		if _, err := c.a.cfg.Store.UpdateUser(c.writeCtx(), name, store.UserChange{Admin: &admin, ServiceAccount: &service}); err != nil {
			return err
		}
		c.audit("user.update", auth.NormalizeUsername(name), fmt.Sprintf("admin=%v service_account=%v", admin, service))
		return c.ok(map[string]any{"message": fmt.Sprintf("User %s has been updated", auth.NormalizeUsername(name))})
	}
	if err != nil {
		return err
	}
	c.audit("user.create", auth.NormalizeUsername(name), fmt.Sprintf("admin=%v service_account=%v", admin, service))
	return c.json(http.StatusCreated, map[string]any{"message": fmt.Sprintf("User %s has been created", auth.NormalizeUsername(name))})
}
