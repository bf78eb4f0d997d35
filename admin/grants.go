package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// resourceKind is how MLflow's admin API names one kind of resource: the
// route, the request fields that identify it, the response's key and
// fields, and the words of its 404.
type resourceKind struct {
	kind     permission.Kind
	route    string // under /api/2.0/mlflow or /api/3.0/mlflow
	idField  string // the id (experiment_id, name, secret_id, ...)
	name     string // scorer_name for scorers
	key      string // experiment_permission, ...
	label    string // "Experiment permission"
	typeName string // resource_type in 3.13's users/permissions
}

var (
	experimentKind = resourceKind{permission.Experiment, "/api/2.0/mlflow/experiments/permissions/", "experiment_id", "", "experiment_permission", "Experiment permission", "experiment"}
	modelKind      = resourceKind{permission.RegisteredModel, "/api/2.0/mlflow/registered-models/permissions/", "name", "", "registered_model_permission", "Registered model permission", "registered_model"}
	scorerKind     = resourceKind{permission.Scorer, "/api/3.0/mlflow/scorers/permissions/", "experiment_id", "scorer_name", "scorer_permission", "Scorer permission", "scorer"}
	kinds          = []resourceKind{experimentKind, modelKind, scorerKind,
		{permission.GatewaySecret, "/api/3.0/mlflow/gateway/secrets/permissions/", "secret_id", "", "gateway_secret_permission", "Gateway secret permission", "gateway_secret"},
		{permission.GatewayEndpoint, "/api/3.0/mlflow/gateway/endpoints/permissions/", "endpoint_id", "", "gateway_endpoint_permission", "Gateway endpoint permission", "gateway_endpoint"},
		{permission.GatewayModelDefinition, "/api/3.0/mlflow/gateway/model-definitions/permissions/", "model_definition_id", "", "gateway_model_definition_permission", "Gateway model definition permission", "gateway_model_definition"},
	}
)

// resourcePermission is a grant as MLflow's admin API shows it.
func resourcePermission(k resourceKind, g permission.Grant, userID int64) map[string]any {
	m := map[string]any{k.idField: g.Resource.ID, "user_id": userID, "permission": g.Level.String()}
	switch k.kind {
	case permission.RegisteredModel:
		m["workspace"] = "default"
	case permission.Scorer:
		m["scorer_name"] = g.Resource.Name
	}
	return m
}

// resource reads the resource the request names.
func (k resourceKind) resource(c *call) (permission.Resource, error) {
	id, err := c.str(k.idField)
	if err != nil {
		return permission.Resource{}, err
	}
	r := permission.Resource{Kind: k.kind, ID: id}
	if k.name != "" {
		if r.Name, err = c.str(k.name); err != nil {
			return permission.Resource{}, err
		}
	}
	return r, nil
}

// missing is MLflow's 404 for a grant that is not there.
func (k resourceKind) missing(r permission.Resource, username string) *auth.Error {
	what := fmt.Sprintf("%s=%s", k.idField, r.ID)
	if k.name != "" {
		what += fmt.Sprintf(", %s=%s", k.name, r.Name)
	}
	return notFound(fmt.Sprintf("%s with %s and username=%s not found", k.label, what, username))
}

func (a *API) registerGrants() {
	for _, k := range kinds {
		a.route(k.route+"create", false, map[string]op{http.MethodPost: k.create})
		a.route(k.route+"get", false, map[string]op{http.MethodGet: k.get})
		a.route(k.route+"update", false, map[string]op{http.MethodPatch: k.update})
		a.route(k.route+"delete", false, map[string]op{http.MethodDelete: k.remove})
	}
	const p = "/api/3.0/mlflow/users/permissions/"
	a.route(p+"grant", true, map[string]op{http.MethodPost: grantPermission})
	a.route(p+"revoke", true, map[string]op{http.MethodPost: revokePermission})
	a.route(p+"get", true, map[string]op{http.MethodGet: effectivePermission})
	a.route(p+"list", true, map[string]op{http.MethodGet: listPermissions})
	a.route("/api/3.0/mlflow/users/current/permissions", true, map[string]op{http.MethodGet: listPermissions})
	// MLflow 3.13's role API: grants here are per user and per group.
	for _, r := range []string{"roles/create", "roles/get", "roles/list", "roles/update", "roles/delete", "roles/permissions/add",
		"roles/permissions/remove", "roles/permissions/list", "roles/permissions/update", "roles/assign", "roles/unassign",
		"users/roles/list", "roles/users/list"} {
		a.routes["/api/3.0/mlflow/"+r] = notServed("MLflow's role API is not served: grant per user with /api/3.0/mlflow/users/permissions/grant, or per group and by pattern with /api/2.0/mlflow/permissions/groups/...")
		a.routes["/ajax-api/3.0/mlflow/"+r] = a.routes["/api/3.0/mlflow/"+r]
	}
	for _, r := range []string{"/api/3.0/mlflow/workspace-permissions", "/api/3.0/mlflow/workspaces/"} {
		a.routes[r] = notServed("MLflow workspaces are not supported yet")
	}
}

func notServed(msg string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &auth.Error{Status: http.StatusNotFound, Code: auth.CodeEndpointNotFound, Message: msg})
	})
}

// target reads the resource (with read) and the user a grant request
// names, checking first that the caller manages the resource.
func (c *call) target(read func(*call) (permission.Resource, error)) (permission.Resource, store.User, error) {
	r, err := read(c)
	if err != nil {
		return r, store.User{}, err
	}
	name, err := c.str("username")
	if err != nil {
		return r, store.User{}, err
	}
	if !c.manages(r) {
		return r, store.User{}, notManager(r)
	}
	u, err := c.user(name)
	return r, u, err
}

// putUserGrant writes u's grant on r at the request's "permission":
// create refuses one that exists (with exists' words), update one that
// does not (with missing's).
func (c *call) putUserGrant(r permission.Resource, u store.User, create bool, exists, missing func() *auth.Error) (permission.Grant, error) {
	l, err := c.level("permission")
	if err != nil {
		return permission.Grant{}, err
	}
	_, ok, err := c.grant(r, u)
	switch {
	case err != nil:
		return permission.Grant{}, err
	case create && ok:
		return permission.Grant{}, exists()
	case !create && !ok:
		return permission.Grant{}, missing()
	}
	g := permission.Grant{Resource: r, Principal: permission.ForUser(u.Username), Level: l}
	if err := c.a.cfg.Store.PutGrant(c.writeCtx(), g); err != nil {
		return g, err
	}
	action := "grant.update"
	if create {
		action = "grant.create"
	}
	c.audit(action, r.String(), "user "+u.Username+" "+l.String())
	return g, nil
}

// deleteUserGrant removes u's grant on r and answers {}; missing's 404
// when there is none.
func (c *call) deleteUserGrant(r permission.Resource, u store.User, missing func() *auth.Error) error {
	if _, ok, err := c.grant(r, u); err != nil {
		return err
	} else if !ok {
		return missing()
	}
	if err := c.a.cfg.Store.DeleteGrant(c.writeCtx(), r, permission.ForUser(u.Username)); err != nil {
		return err
	}
	c.audit("grant.delete", r.String(), "user "+u.Username)
	return c.ok(map[string]any{})
}

func (c *call) grant(r permission.Resource, u store.User) (permission.Grant, bool, error) {
	g, err := c.a.cfg.Store.GetGrant(c.ctx(), r, permission.ForUser(u.Username))
	if errors.Is(err, store.ErrNotFound) {
		return g, false, nil
	}
	return g, err == nil, err
}

func (k resourceKind) create(c *call) error {
	r, u, err := c.target(k.resource)
	if err != nil {
		return err
	}
	g, err := c.putUserGrant(r, u, true, func() *auth.Error {
		return alreadyExists(fmt.Sprintf("%s (%s=%s, username=%s) already exists.", k.label, k.idField, r.ID, u.Username))
	}, nil)
	if err != nil {
		return err
	}
	return c.ok(map[string]any{k.key: resourcePermission(k, g, u.ID)})
}

func (k resourceKind) get(c *call) error {
	r, u, err := c.target(k.resource)
	if err != nil {
		return err
	}
	g, ok, err := c.grant(r, u)
	if err != nil {
		return err
	}
	if !ok {
		return k.missing(r, u.Username)
	}
	return c.ok(map[string]any{k.key: resourcePermission(k, g, u.ID)})
}

func (k resourceKind) update(c *call) error {
	r, u, err := c.target(k.resource)
	if err != nil {
		return err
	}
	if _, err := c.putUserGrant(r, u, false, nil, func() *auth.Error { return k.missing(r, u.Username) }); err != nil {
		return err
	}
	return c.ok(map[string]any{})
}

func (k resourceKind) remove(c *call) error {
	r, u, err := c.target(k.resource)
	if err != nil {
		return err
	}
	return c.deleteUserGrant(r, u, func() *auth.Error { return k.missing(r, u.Username) })
}

// typed reads 3.13's resource_type and resource_id (a scorer's id is
// "<experiment_id>/<url-quoted scorer name>").
func typed(c *call) (permission.Resource, error) {
	t, err := c.str("resource_type")
	if err != nil {
		return permission.Resource{}, err
	}
	id, err := c.str("resource_id")
	if err != nil {
		return permission.Resource{}, err
	}
	k, err := permission.ParseKind(t)
	if err != nil || k == permission.Workspace {
		return permission.Resource{}, badParam(fmt.Sprintf("Invalid resource_type '%s': one of experiment, registered_model, prompt, scorer, gateway_secret, gateway_endpoint, gateway_model_definition", t))
	}
	r := permission.Resource{Kind: k, ID: id}
	if k == permission.Scorer {
		exp, quoted, ok := strings.Cut(id, "/")
		name, err := url.PathUnescape(quoted)
		if !ok || exp == "" || quoted == "" || err != nil {
			return permission.Resource{}, badParam("A scorer's resource_id is '<experiment_id>/<url-quoted scorer name>'")
		}
		r.ID, r.Name = exp, name
	}
	return r, nil
}

func grantPermission(c *call) error {
	r, u, err := c.target(typed)
	if err != nil {
		return err
	}
	if _, err := c.putUserGrant(r, u, true, func() *auth.Error {
		return alreadyExists(fmt.Sprintf("A permission on %s for %s already exists.", r, u.Username))
	}, nil); err != nil {
		return err
	}
	return c.ok(map[string]any{})
}

func revokePermission(c *call) error {
	r, u, err := c.target(typed)
	if err != nil {
		return err
	}
	return c.deleteUserGrant(r, u, func() *auth.Error { return notFound(fmt.Sprintf("No permission on %s for %s", r, u.Username)) })
}

// effectivePermission is 3.13's users/permissions/get: the level a user
// has on a resource, whatever decided it (defaults included).
func effectivePermission(c *call) error {
	name, err := c.str("username")
	if err != nil {
		return err
	}
	if err := c.requireSelf(name); err != nil {
		return err
	}
	r, err := typed(c)
	if err != nil {
		return err
	}
	d := c.decideFor(name, r)
	return c.ok(map[string]any{"allowed": d.Allows(permission.CanUse), "permission": d.Level.String()})
}

// decideFor decides r for username as their requests are: stored groups,
// since no credential is at hand.
func (c *call) decideFor(username string, r permission.Resource) permission.Decision {
	r = c.named(r)
	subj := c.snap.Subject(auth.NormalizeUsername(username), nil)
	if subj.Username == c.subj.Username {
		subj = c.subj // the caller's own: the groups their credential carries
	}
	return c.snap.Decide(subj, r)
}

// listPermissions is 3.13's users/permissions/list (and
// users/current/permissions): a user's explicit grants in the role shape.
func listPermissions(c *call) error {
	name := c.subj.Username
	if strings.HasSuffix(c.r.URL.Path, "/permissions/list") {
		var err error
		if name, err = c.str("username"); err != nil {
			return err
		}
	}
	if err := c.requireSelf(name); err != nil {
		return err
	}
	u, err := c.user(name)
	if err != nil {
		return err
	}
	grants, err := c.userGrants(u.Username)
	if err != nil {
		return err
	}
	rows := []any{}
	for _, g := range grants {
		pattern := g.Resource.ID
		if g.Resource.Kind == permission.Scorer {
			pattern += "/" + url.PathEscape(g.Resource.Name)
		}
		rows = append(rows, map[string]any{"role_id": 0, "role_name": fmt.Sprintf("__user_%d__", u.ID), "workspace": "default",
			"resource_type": g.Resource.Kind.String(), "resource_pattern": pattern, "permission": g.Level.String()})
	}
	return c.ok(map[string]any{"is_admin": u.Admin, "permissions": rows})
}
