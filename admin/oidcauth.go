package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// mlflow-oidc-auth's permission routers (its API document, sections 4.2
// to 4.4): per-user and per-group grants and regex rules, and who holds a
// resource, under /api/2.0/mlflow/permissions/.

// collection is one kind of resource in those paths, with how many path
// segments name one (a scorer: experiment id and scorer name).
type collection struct {
	kind   permission.Kind
	ids    int
	byName bool // a gateway object, named in the path, granted by id
}

var (
	collections = map[string]collection{
		"experiments": {permission.Experiment, 1, false}, "registered-models": {permission.RegisteredModel, 1, false},
		"prompts": {permission.Prompt, 1, false}, "scorers": {permission.Scorer, 2, false},
		"gateways/endpoints": {permission.GatewayEndpoint, 1, true}, "gateways/secrets": {permission.GatewaySecret, 1, true},
		"gateways/model-definitions": {permission.GatewayModelDefinition, 1, true},
	}
	patternCollections = map[string]permission.Kind{
		"experiment-patterns": permission.Experiment, "registered-models-patterns": permission.RegisteredModel,
		"prompts-patterns": permission.Prompt, "scorer-patterns": permission.Scorer,
		"gateways/endpoints-patterns": permission.GatewayEndpoint, "gateways/secrets-patterns": permission.GatewaySecret,
		"gateways/model-definitions-patterns": permission.GatewayModelDefinition,
	}
)

func (a *API) registerPermissions() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, permissions) })
	for _, base := range []string{"/api/2.0/mlflow/permissions/", "/api/3.0/mlflow/permissions/"} {
		a.routes[base] = h
		a.routes[strings.Replace(base, "/api/", "/ajax-api/", 1)] = h
	}
}

func noRoute(path string) *auth.Error {
	return &auth.Error{Status: http.StatusNotFound, Code: auth.CodeEndpointNotFound, Message: "No such route: " + path}
}

// permissions dispatches on the path below /permissions/.
func permissions(c *call) error {
	p := c.r.URL.Path
	rest := p[strings.Index(p, "/permissions/")+len("/permissions/"):]
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	for _, s := range seg {
		if s == "" {
			return noRoute(p)
		}
	}
	// "gateways/endpoints" and its kin are one collection name.
	for i := 0; i+1 < len(seg); i++ {
		if seg[i] == "gateways" {
			seg = append(append(seg[:i:i], "gateways/"+seg[i+1]), seg[i+2:]...)
			break
		}
	}
	switch {
	case len(seg) == 1 && seg[0] == "groups" && c.r.Method == http.MethodGet:
		return listGroups(c)
	case len(seg) == 3 && seg[0] == "groups" && seg[2] == "users" && c.r.Method == http.MethodGet:
		return groupUsers(c, seg[1])
	case len(seg) >= 3 && (seg[0] == "users" || seg[0] == "groups"):
		pr := permission.ForUser(seg[1])
		if seg[0] == "groups" {
			pr = permission.ForGroup(seg[1])
		}
		return principalRoute(c, pr, seg[2], seg[3:])
	}
	if coll, ok := collections[seg[0]]; ok && c.r.Method == http.MethodGet {
		switch {
		case len(seg) == 1: // the caller's own view of the collection
			return principalRoute(c, permission.ForUser(c.subj.Username), seg[0], nil)
		case len(seg) == 2+coll.ids && (seg[len(seg)-1] == "users" || seg[len(seg)-1] == "groups"):
			r, err := c.resourceOf(coll, seg[1:1+coll.ids])
			if err != nil {
				return err
			}
			return holders(c, r, seg[len(seg)-1] == "groups")
		}
	}
	return noRoute(p)
}

// resourceOf is the resource the path's segments name. A gateway object
// is named: its id is looked up in MLflow, and one that does not exist is
// a refusal for all but administrators, so a refusal tells nothing of
// what exists.
func (c *call) resourceOf(coll collection, ids []string) (permission.Resource, error) {
	r := permission.Resource{Kind: coll.kind, ID: ids[0]}
	if coll.ids == 2 {
		r.Name = ids[1]
	}
	if !coll.byName {
		return r, nil
	}
	if c.a.cfg.Gateways == nil {
		return r, &auth.Error{Status: http.StatusNotFound, Code: auth.CodeEndpointNotFound,
			Message: "Gateway objects by name need MLflow to look them up: grant them by id with /api/3.0/mlflow/gateway/.../permissions/*"}
	}
	id, err := c.a.cfg.Gateways.GatewayID(c.ctx(), coll.kind, ids[0])
	switch {
	case err == nil:
		return permission.Resource{Kind: coll.kind, ID: id, Name: ids[0]}, nil
	case errors.Is(err, ErrNoSuchObject) && !c.isAdmin():
		return r, notManager(permission.Resource{Kind: coll.kind})
	case errors.Is(err, ErrNoSuchObject):
		return r, notFound(fmt.Sprintf("No %s named %s", coll.kind, ids[0]))
	}
	return r, auth.Unavailable("MLflow did not answer the gateway lookup; try again", err)
}

func listGroups(c *call) error {
	if !c.subj.Active {
		return errInactive
	}
	groups, err := c.a.cfg.Store.ListGroups(c.ctx())
	if err != nil {
		return err
	}
	return c.ok(append([]string{}, groups...))
}

func groupUsers(c *call, group string) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	members, err := c.a.cfg.Store.GroupMembers(c.ctx(), group)
	if err != nil {
		return err
	}
	return c.ok(append([]string{}, members...))
}

// holders lists who holds r: users ({name, permission, kind}) or groups
// ({name, permission}); for the resource's managers.
func holders(c *call, r permission.Resource, groups bool) error {
	if !c.manages(r) {
		return notManager(r)
	}
	grants, err := c.a.cfg.Store.ListGrants(c.ctx(), store.GrantFilter{Kind: r.Kind, Resource: r.ID})
	if err != nil {
		return err
	}
	users := map[string]store.User{}
	if !groups {
		all, err := c.a.cfg.Store.ListUsers(c.ctx())
		if err != nil {
			return err
		}
		for _, u := range all {
			users[u.Username] = u
		}
	}
	out := []any{}
	for _, g := range grants {
		if r.Kind == permission.Scorer && g.Resource.Name != r.Name {
			continue
		}
		switch {
		case groups && g.Principal.Kind == permission.ToGroup:
			out = append(out, map[string]any{"name": g.Principal.Name, "permission": g.Level.String()})
		case !groups && g.Principal.Kind == permission.ToUser:
			kind := "user"
			if users[g.Principal.Name].ServiceAccount {
				kind = "service-account"
			}
			out = append(out, map[string]any{"name": g.Principal.Name, "permission": g.Level.String(), "kind": kind})
		}
	}
	return c.ok(out)
}

// principalRoute serves /{users|groups}/{name}/{collection}[/{ids}] and
// the pattern collections.
func principalRoute(c *call, pr permission.Principal, name string, ids []string) error {
	if kind, ok := patternCollections[name]; ok {
		return patternRoute(c, pr, kind, ids)
	}
	coll, ok := collections[name]
	if !ok {
		return noRoute(c.r.URL.Path)
	}
	switch {
	case len(ids) == 0 && c.r.Method == http.MethodGet:
		return principalGrants(c, pr, coll.kind)
	case len(ids) != coll.ids:
		return noRoute(c.r.URL.Path)
	}
	r, err := c.resourceOf(coll, ids)
	if err != nil {
		return err
	}
	if !c.manages(r) {
		return notManager(r)
	}
	if pr.Kind == permission.ToUser {
		u, err := c.user(pr.Name)
		if err != nil {
			return err
		}
		pr.Name = u.Username
	}
	current, err := c.a.cfg.Store.GetGrant(c.ctx(), r, pr)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	missing := notFound(fmt.Sprintf("No permission on %s for %s", r, pr))
	switch c.r.Method {
	case http.MethodGet:
		if !exists {
			return missing
		}
		return c.ok(grantEntry(current))
	case http.MethodPost, http.MethodPatch:
		if c.r.Method == http.MethodPost && exists {
			return alreadyExists(fmt.Sprintf("A permission on %s for %s already exists", r, pr))
		}
		if c.r.Method == http.MethodPatch && !exists {
			return missing
		}
		l, err := c.level("permission")
		if err != nil {
			return err
		}
		g := permission.Grant{Resource: r, Principal: pr, Level: l}
		if err := c.a.cfg.Store.PutGrant(c.writeCtx(), g); err != nil {
			return err
		}
		c.audit("grant.put", r.String(), pr.String()+" "+l.String())
		status := http.StatusOK
		if c.r.Method == http.MethodPost {
			status = http.StatusCreated
		}
		return c.json(status, grantEntry(g))
	case http.MethodDelete:
		if !exists {
			return missing
		}
		if err := c.a.cfg.Store.DeleteGrant(c.writeCtx(), r, pr); err != nil {
			return err
		}
		c.audit("grant.delete", r.String(), pr.String())
		return c.ok(map[string]any{"message": fmt.Sprintf("Permission on %s for %s deleted", r, pr)})
	}
	return noRoute(c.r.URL.Path)
}

// grantEntry is a grant as the plugin lists one: {name, id, permission,
// kind}.
func grantEntry(g permission.Grant) map[string]any {
	name := g.Resource.ID
	if g.Resource.Name != "" {
		name = g.Resource.Name
	}
	return map[string]any{"name": name, "id": g.Resource.ID, "permission": g.Level.String(), "kind": g.Principal.Kind.String()}
}

// principalGrants lists a user's or group's grants of one kind: all for
// an admin or the principal themselves (a user, or a member of the
// group), else only those on resources the caller manages.
func principalGrants(c *call, pr permission.Principal, kind permission.Kind) error {
	if !c.subj.Active {
		return errInactive
	}
	grants, err := c.a.cfg.Store.ListGrants(c.ctx(), store.GrantFilter{Kind: kind, Principal: &pr})
	if err != nil {
		return err
	}
	self := c.isAdmin() || (pr.Kind == permission.ToUser && auth.NormalizeUsername(pr.Name) == c.subj.Username) ||
		(pr.Kind == permission.ToGroup && c.subj.Groups.Contains(pr.Name))
	out := []any{}
	for _, g := range grants {
		if self || c.manages(g.Resource) {
			out = append(out, grantEntry(g))
		}
	}
	return c.ok(out)
}

// patternRoute serves the regex rules of a principal (admins only, as in
// the plugin): the list and POST at the collection, GET, PATCH and
// DELETE at /{id}.
func patternRoute(c *call, pr permission.Principal, kind permission.Kind, ids []string) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	if len(ids) > 1 {
		return noRoute(c.r.URL.Path)
	}
	if len(ids) == 0 {
		switch c.r.Method {
		case http.MethodGet:
			rules, err := c.a.cfg.Store.ListRules(c.ctx(), kind)
			if err != nil {
				return err
			}
			out := []any{}
			for _, r := range rules {
				if r.Principal == pr {
					out = append(out, ruleJSON(r))
				}
			}
			return c.ok(out)
		case http.MethodPost:
			r, err := c.rule(permission.Rule{Kind: kind, Principal: pr}, true)
			if err != nil {
				return err
			}
			made, err := c.a.cfg.Store.CreateRule(c.writeCtx(), r)
			if err != nil {
				return err
			}
			c.audit("rule.create", kind.String(), fmt.Sprintf("%s %q priority %d %s", pr, r.Pattern, r.Priority, r.Level))
			return c.json(http.StatusCreated, ruleJSON(made))
		}
		return noRoute(c.r.URL.Path)
	}
	id, err := strconv.ParseInt(ids[0], 10, 64)
	if err != nil {
		return badParam("A rule's id is a number")
	}
	r, err := c.a.cfg.Store.GetRule(c.ctx(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (r.Kind != kind || r.Principal != pr)) {
		return notFound(fmt.Sprintf("No %s rule %d for %s", kind, id, pr))
	}
	if err != nil {
		return err
	}
	switch c.r.Method {
	case http.MethodGet:
		return c.ok(ruleJSON(r))
	case http.MethodPatch:
		if r, err = c.rule(r, false); err != nil {
			return err
		}
		if err := c.a.cfg.Store.UpdateRule(c.writeCtx(), r); err != nil {
			return err
		}
		c.audit("rule.update", kind.String(), fmt.Sprintf("%d: %s %q priority %d %s", id, pr, r.Pattern, r.Priority, r.Level))
		return c.ok(ruleJSON(r))
	case http.MethodDelete:
		if err := c.a.cfg.Store.DeleteRule(c.writeCtx(), id); err != nil {
			return err
		}
		c.audit("rule.delete", kind.String(), fmt.Sprintf("%d", id))
		return c.ok(map[string]any{"message": fmt.Sprintf("Rule %d deleted", id)})
	}
	return noRoute(c.r.URL.Path)
}

// rule reads {"regex", "priority", "permission"} onto r (all required
// when creating) and checks the pattern as the engine will compile it.
func (c *call) rule(r permission.Rule, create bool) (permission.Rule, error) {
	if create || c.has("regex") {
		s, err := c.str("regex")
		if err != nil {
			return r, err
		}
		r.Pattern = s
	}
	if create || c.has("priority") {
		raw, ok := c.body["priority"]
		var n json.Number
		if !ok || json.Unmarshal(raw, &n) != nil {
			return r, badParam("priority is a whole number")
		}
		p, err := strconv.Atoi(n.String())
		if err != nil {
			return r, badParam("priority is a whole number")
		}
		r.Priority = p
	}
	if create || c.has("permission") {
		l, err := c.level("permission")
		if err != nil {
			return r, err
		}
		r.Level = l
	}
	if err := permission.ValidateRule(r); err != nil {
		return r, badParam(err.Error())
	}
	return r, nil
}

func ruleJSON(r permission.Rule) map[string]any {
	return map[string]any{"id": r.ID, "regex": r.Pattern, "priority": r.Priority, "permission": r.Level.String()}
}
