package mlflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/permission"
)

// Grants is where the gateway records what MLflow's answers change: the
// creator's MANAGE grant, grants that follow a rename, grants gone with
// their resource. *store.Store satisfies it; its writes reach the local
// permission engine (through the change feed it follows) before they
// return, so the creator's next call succeeds at once.
type Grants interface {
	AccountStatus(ctx context.Context, username string) (exists, active bool, err error)
	PutGrant(ctx context.Context, g permission.Grant) error
	RenameResource(ctx context.Context, from permission.Resource, newID string) error
	DeleteResource(ctx context.Context, r permission.Resource) error
	PublishNameChange(ctx context.Context, r permission.Resource, newName string) error
}

// changeTimeout bounds how long a change that carries an effect waits for
// MLflow's answer once its client has gone.
const changeTimeout = 5 * time.Minute

// maxCaptured bounds the MLflow answer the gateway reads to record an
// effect: these are small control responses.
const maxCaptured = 1 << 20

// effectKind is what a successful answer changes.
type effectKind int

const (
	effCreate     effectKind = iota + 1 // the caller gets MANAGE on what was made
	effRename                           // grants move to the new name
	effDelete                           // grants go with the resource
	effNameChange                       // names cached anywhere are stale
)

// effect is what to record once MLflow answers 200.
type effect struct {
	kind effectKind
	res  permission.Resource // created (ID from the answer when idPath is set), renamed, deleted
	// idPath is where the created resource's id is in MLflow's answer.
	idPath []string
	// firstVersion: MLflow registers a scorer again under its name as a
	// new version; only the answer's version 1 is a new object whose
	// creator is granted (re-registering someone else's scorer with EDIT
	// on the experiment gives nothing).
	firstVersion bool
	newName      string
}

// making are the rows that make a resource: its kind, where MLflow's
// answer gives its id, and, for the create rows anyone signed in may send,
// the request field with its name (for RESTRICT_RESOURCE_CREATION's
// rules). The other rows are decided on what they reference (a model
// definition, a secret) and grant their creator MANAGE all the same.
var making = map[string]struct {
	kind      permission.Kind
	idPath    []string
	nameField string
}{
	"/api/2.0/mlflow/experiments/create":               {permission.Experiment, []string{"experiment_id"}, "name"},
	"/api/2.0/mlflow/registered-models/create":         {permission.RegisteredModel, []string{"registered_model", "name"}, "name"},
	"/api/3.0/mlflow/gateway/secrets/create":           {permission.GatewaySecret, []string{"secret", "secret_id"}, "secret_name"},
	"/api/3.0/mlflow/gateway/endpoints/create":         {permission.GatewayEndpoint, []string{"endpoint", "endpoint_id"}, ""},
	"/api/3.0/mlflow/gateway/model-definitions/create": {permission.GatewayModelDefinition, []string{"model_definition", "model_definition_id"}, ""},
}

// unmaking are the gateway objects' deletes: the kind and the field
// naming the object.
var unmaking = map[string]struct {
	kind  permission.Kind
	field string
}{
	"/api/3.0/mlflow/gateway/endpoints/delete":         {permission.GatewayEndpoint, "endpoint_id"},
	"/api/3.0/mlflow/gateway/secrets/delete":           {permission.GatewaySecret, "secret_id"},
	"/api/3.0/mlflow/gateway/model-definitions/delete": {permission.GatewayModelDefinition, "model_definition_id"},
}

// authorizeCreate decides a create row: anyone signed in (with
// RESTRICT_RESOURCE_CREATION, a rule on the new name), and only when the
// creator's grant can be written, because a resource nobody can reach
// must not be made.
func (a *Authorizer) authorizeCreate(q *request, ep *Endpoint, subj permission.Subject, snap *permission.Snapshot) error {
	m := making[ep.Path]
	kind, nameField := m.kind, m.nameField
	if nameField == "" || a.cfg.Grants == nil {
		return adminOnly(subj)
	}
	f, err := q.decidingFields()
	if err != nil {
		return err
	}
	name, _, err := f.String(nameField)
	if err != nil {
		return auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
	}
	if kind == permission.RegisteredModel {
		if kind, err = modelKind(f); err != nil {
			return auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
		}
	}
	if subj.Admin {
		return nil
	}
	if kind == permission.Experiment && f.Has("artifact_location") {
		return auth.PermissionDenied("Only administrators may set an experiment's artifact_location.")
	}
	if allowed, d := snap.CanCreate(subj, kind, name); !allowed {
		a.cfg.Logger.DebugContext(q.r.Context(), "mlflow: create refused", "user", subj.Username, "kind", kind.String(), "name", name, "decision", d.Explain())
		return auth.PermissionDenied(fmt.Sprintf("Creating a %s named %s needs EDIT from a rule on the name.", kind, name))
	}
	exists, active, err := a.cfg.Grants.AccountStatus(q.r.Context(), subj.Username)
	switch {
	case err != nil:
		return auth.Unavailable("Could not record the new resource's owner; try again", err)
	case !exists || !active:
		return auth.PermissionDenied("Your account is not registered with the gateway, so nothing you create could be granted to you; ask an administrator.")
	}
	return nil
}

// modelKind is a registered model's kind from its create request: a prompt
// when tagged mlflow.prompt.is_prompt=true, as MLflow reads the tag.
func modelKind(f Fields) (permission.Kind, error) {
	fl, ok, err := f.lookup("tags")
	if err != nil || !ok {
		return permission.RegisteredModel, err
	}
	for _, raw := range fl.values {
		var tags []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		}
		if err := json.Unmarshal(raw, &tags); err != nil {
			return 0, fmt.Errorf("%w: tags: %v", ErrBadRequest, err)
		}
		for _, t := range tags {
			if t.Key == promptTag && strings.EqualFold(t.Value, "true") {
				return permission.Prompt, nil
			}
		}
	}
	return permission.RegisteredModel, nil
}

// plan says what a request MLflow accepts will change, read from the
// request before it is forwarded (an old name is looked up now, while it
// still resolves). nil: nothing.
func (a *Authorizer) plan(q *request) (*effect, error) {
	if q.ep == nil || a.cfg.Grants == nil {
		return nil, nil
	}
	ctx := q.r.Context()
	str := func(f Fields, name string) (string, error) {
		v, _, err := f.String(name)
		return v, err
	}
	var e *effect
	err := func() error {
		path := q.ep.Path
		switch {
		case making[path].idPath != nil:
			kind := making[path].kind
			if kind == permission.RegisteredModel {
				f, err := q.Fields()
				if err != nil {
					return err
				}
				if kind, err = modelKind(f); err != nil {
					return err
				}
			}
			e = &effect{kind: effCreate, res: permission.Resource{Kind: kind}, idPath: making[path].idPath}
			if kind == permission.Experiment {
				// The name: a "does not exist" remembered for it ends with
				// the create.
				f, err := q.Fields()
				if err != nil {
					return err
				}
				if e.res.Name, err = str(f, "name"); err != nil {
					return err
				}
			}
		case path == "/api/3.0/mlflow/scorers/register", path == "/api/3.0/mlflow/scorers/delete":
			res, ok, err := scorerOf(q)
			if err != nil || !ok {
				return err // not ok: MLflow refuses it
			}
			if strings.HasSuffix(path, "/delete") {
				e = &effect{kind: effDelete, res: res}
			} else {
				e = &effect{kind: effCreate, res: res, firstVersion: true}
			}
		case unmaking[path].field != "":
			f, err := q.Fields()
			if err != nil {
				return err
			}
			id, err := str(f, unmaking[path].field)
			if err != nil || id == "" {
				return err
			}
			e = &effect{kind: effDelete, res: permission.Resource{Kind: unmaking[path].kind, ID: id}}
		case path == "/api/2.0/mlflow/registered-models/rename", path == "/api/2.0/mlflow/registered-models/delete":
			f, err := q.Fields()
			if err != nil {
				return err
			}
			name, err := str(f, "name")
			if err != nil || name == "" {
				return err
			}
			kind := permission.RegisteredModel
			if prompt, err := a.cfg.Lookups.ModelIsPrompt(ctx, name); err == nil && prompt {
				kind = permission.Prompt
			} else if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			res := permission.Resource{Kind: kind, ID: name}
			if strings.HasSuffix(path, "/delete") {
				e = &effect{kind: effDelete, res: res}
				return nil
			}
			newName, err := str(f, "new_name")
			if err != nil || newName == "" || newName == name {
				return err
			}
			e = &effect{kind: effRename, res: res, newName: newName}
		case path == "/api/2.0/mlflow/experiments/update":
			f, err := q.Fields()
			if err != nil {
				return err
			}
			id, err := str(f, "experiment_id")
			if err != nil {
				return err
			}
			newName, err := str(f, "new_name")
			if err != nil || newName == "" {
				return err
			}
			canon, ok := CanonicalExperimentID(id)
			if !ok {
				return nil
			}
			old, err := a.cfg.Lookups.ExperimentName(ctx, canon)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			e = &effect{kind: effNameChange, res: permission.Resource{Kind: permission.Experiment, ID: canon, Name: old}, newName: newName}
		case path == "/api/3.0/mlflow/gateway/endpoints/update":
			f, err := q.Fields()
			if err != nil {
				return err
			}
			id, err := str(f, "endpoint_id")
			if err != nil || id == "" {
				return err
			}
			newName, err := str(f, "name")
			if err != nil || newName == "" {
				return err
			}
			_, old, err := a.cfg.Lookups.GatewayEndpoint(ctx, id, "")
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			e = &effect{kind: effNameChange, res: permission.Resource{Kind: permission.GatewayEndpoint, ID: id, Name: old}, newName: newName}
		}
		return nil
	}()
	switch {
	case err == nil:
		return e, nil
	case err == errBudget:
		return nil, err
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrBadID):
		return nil, auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
	default:
		return nil, auth.Unavailable("Could not check the resource with MLflow; try again", err)
	}
}

// scorerOf is the scorer a request names: its experiment and name.
func scorerOf(q *request) (permission.Resource, bool, error) {
	f, err := q.Fields()
	if err != nil {
		return permission.Resource{}, false, err
	}
	exp, _, err := f.String("experiment_id")
	if err != nil {
		return permission.Resource{}, false, err
	}
	name, _, err := f.String("name")
	if err != nil {
		return permission.Resource{}, false, err
	}
	canon, ok := CanonicalExperimentID(exp)
	return permission.Resource{Kind: permission.Scorer, ID: canon, Name: name}, ok && name != "", nil
}

// capture holds MLflow's answer until its effect is recorded: the answer
// must not reach the client before the grant it implies is in place.
type capture struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
	limit    int // maxCaptured when zero
}

func (c *capture) Header() http.Header { return c.header }

func (c *capture) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	limit := c.limit
	if limit == 0 {
		limit = maxCaptured
	}
	if c.body.Len()+len(b) > limit {
		c.overflow = true
		return 0, errors.New("mlflow: answer too large to record")
	}
	return c.body.Write(b)
}

// forward sends the request on, records the effect of a 200, then
// answers.
func (a *Authorizer) forward(w http.ResponseWriter, r *http.Request, next http.Handler, subj permission.Subject, e *effect) {
	// The answer is read here: fetch it uncompressed.
	r.Header.Del("Accept-Encoding")
	c := &capture{header: http.Header{}}
	// The change goes to MLflow and its answer is awaited even if the
	// client leaves: cut off halfway, MLflow may have done it while the
	// grants stay where they were (a renamed model's grants left on the old
	// name for whoever makes a model of that name next).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), changeTimeout)
	defer cancel()
	next.ServeHTTP(c, r.WithContext(ctx))
	if c.overflow {
		a.cfg.Logger.ErrorContext(r.Context(), "mlflow: an answer to record was too large", "path", r.URL.Path)
		auth.WriteError(w, &auth.Error{Status: http.StatusBadGateway, Code: auth.CodeTemporarilyUnavailable, Message: "MLflow's answer was too large"})
		return
	}
	if c.status == 0 {
		// Nothing came back (a proxy that gave up without answering): MLflow
		// may not have done anything, so nothing is recorded.
		a.cfg.Logger.WarnContext(r.Context(), "mlflow: no answer to a change; its effect is not recorded", "path", r.URL.Path)
		auth.WriteError(w, &auth.Error{Status: http.StatusBadGateway, Code: auth.CodeTemporarilyUnavailable, Message: "MLflow gave no answer; try again"})
		return
	}
	if c.status == http.StatusOK {
		// The client leaving must not leave a resource without its grants.
		a.record(context.WithoutCancel(r.Context()), subj, e, c.body.Bytes())
	}
	for k, v := range c.header {
		w.Header()[k] = v
	}
	w.WriteHeader(c.status)
	_, _ = w.Write(c.body.Bytes())
}

// record writes an effect. A failure is logged, not answered: MLflow has
// done what was asked, and the client must learn that.
func (a *Authorizer) record(ctx context.Context, subj permission.Subject, e *effect, answer []byte) {
	g := a.cfg.Grants
	var err error
	res := e.res
	switch e.kind {
	case effCreate:
		if e.idPath != nil {
			id, ok := answerField(answer, e.idPath)
			if !ok {
				err = fmt.Errorf("no %s in MLflow's answer", strings.Join(e.idPath, "."))
				break
			}
			res.ID = id
			if res.Kind == permission.Experiment {
				res.ID, _ = CanonicalExperimentID(id)
			}
		}
		if e.firstVersion {
			if v, ok := answerField(answer, []string{"version"}); !ok || v != "1" {
				return
			}
		}
		if subj.Admin {
			// Non-admins were checked before the create went on; an
			// administrator the store does not know needs no grant.
			if exists, _, serr := g.AccountStatus(ctx, subj.Username); serr == nil && !exists {
				return
			}
		}
		err = g.PutGrant(ctx, permission.Grant{Resource: res, Principal: permission.ForUser(subj.Username), Level: permission.Manage})
	case effRename:
		for _, r := range sameName(res) {
			if err = g.RenameResource(ctx, r, e.newName); err != nil {
				break
			}
		}
	case effDelete:
		for _, r := range sameName(res) {
			if err = g.DeleteResource(ctx, r); err != nil {
				break
			}
		}
	case effNameChange:
		err = g.PublishNameChange(ctx, res, e.newName)
	}
	if f, ok := a.cfg.Lookups.(interface {
		ForgetResource(permission.Resource, string)
	}); ok {
		// At once here; other replicas through the feed. A create ends
		// the "does not exist" remembered for its name or id.
		f.ForgetResource(res, e.newName)
	}
	if err != nil {
		a.cfg.Logger.ErrorContext(ctx, "mlflow: could not record what MLflow did; fix the grants in the admin API",
			"user", subj.Username, "resource", res.String(), "error", err)
	}
}

// sameName is every resource a registered model's name holds grants
// under: MLflow keeps prompts as registered models, and whether the name
// is one or the other is a cached belief that a tag can change. A rename
// or delete moves or drops the grants of both kinds, so nothing is left
// on the name for an object made under it later.
func sameName(r permission.Resource) []permission.Resource {
	if r.Kind != permission.RegisteredModel && r.Kind != permission.Prompt {
		return []permission.Resource{r}
	}
	model, prompt := r, r
	model.Kind, prompt.Kind = permission.RegisteredModel, permission.Prompt
	return []permission.Resource{model, prompt}
}

// answerField reads a string (or number) at a path of MLflow's JSON answer.
func answerField(answer []byte, path []string) (string, bool) {
	var v any
	if err := json.Unmarshal(answer, &v); err != nil {
		return "", false
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		v = m[p]
	}
	switch x := v.(type) {
	case string:
		return x, x != ""
	case json.Number:
		return x.String(), true
	case float64:
		return fmt.Sprintf("%.0f", x), true
	}
	return "", false
}
