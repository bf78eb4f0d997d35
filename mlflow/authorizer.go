package mlflow

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/permission"
)

// Decider is the permission engine.
type Decider interface {
	Snapshot() *permission.Snapshot
}

// Lookups resolve what a request names to what permissions are decided on.
// *Upstream implements it.
type Lookups interface {
	RunExperiment(ctx context.Context, runID string) (string, error)
	LoggedModelExperiment(ctx context.Context, modelID string) (string, error)
	TraceExperiment(ctx context.Context, traceID string) (string, error)
	ExperimentByName(ctx context.Context, name string) (string, error)
	ExperimentName(ctx context.Context, id string) (string, error)
	ModelIsPrompt(ctx context.Context, name string) (bool, error)
	DatasetExperiments(ctx context.Context, datasetID string) ([]string, error)
	JobExperiment(ctx context.Context, jobID string) (string, error)
	GatewayEndpoint(ctx context.Context, id, name string) (gotID, gotName string, err error)
	GatewayObjectName(ctx context.Context, kind permission.Kind, id string) (string, error)
}

// Config configures an Authorizer.
type Config struct {
	Engine       Decider
	Lookups      Lookups
	StaticPrefix string // MLFLOW_STATIC_PREFIX
	MaxBody      int64  // DefaultMaxBody when zero
	// BodyBudget bounds the bytes of request bodies buffered at once to
	// read their ids (64 MiB when zero): past it a request is answered 503
	// with Retry-After rather than exhaust memory. Artifact uploads are
	// never buffered.
	BodyBudget int64
	Logger     *slog.Logger
	// Grants records what MLflow's answers change: creators' MANAGE
	// grants, grants following renames and deletes. Without it, creates
	// are for admins only (a resource nobody could reach must not be
	// made) and grants do not follow renames.
	Grants Grants
	// Sync, when set, brings the engine up to date with the store (see
	// store.Store.Sync). A refusal re-checks once after it, at most a few
	// times a second: another replica may have just written the grant
	// (the creator of a resource made a moment ago).
	Sync func(ctx context.Context)
	// SecretKey signs the continuation tokens of filtered searches, so a
	// token is good on every replica sharing it (SECRET_KEY). A random
	// key, good on this process only, when empty.
	SecretKey []byte
	// FilterPages and FilterTime bound how far a filtered search refills
	// a page from MLflow (10 pages, 5s when zero); past them a partial
	// page goes out with a token to continue.
	FilterPages int
	FilterTime  time.Duration
	// MaxAnswer bounds an MLflow answer the gateway reads to filter
	// (32 MiB when zero).
	MaxAnswer int
}

// Authorizer decides each request of an authenticated caller: classify,
// read the ids where MLflow reads them, resolve them, decide.
type Authorizer struct {
	cfg      Config
	router   *Router
	budget   *semaphore.Weighted
	syncs    singleflight.Group
	lastSync atomic.Int64 // unix nanoseconds

	gql           atomic.Pointer[gqlSchema] // MLflow's, or the embedded copy
	schemaChecked atomic.Int64              // unix nanoseconds of the last version check
	secret        []byte
	filterPages   int
	filterTime    time.Duration
	maxAnswer     int
}

// NewAuthorizer returns an Authorizer.
func NewAuthorizer(cfg Config) (*Authorizer, error) {
	if cfg.Engine == nil || cfg.Lookups == nil {
		return nil, errors.New("mlflow: Config.Engine and Config.Lookups are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.BodyBudget <= 0 {
		cfg.BodyBudget = 64 << 20
	}
	router, err := NewRouter(RouterConfig{StaticPrefix: cfg.StaticPrefix})
	if err != nil {
		return nil, err
	}
	a := &Authorizer{cfg: cfg, router: router, budget: semaphore.NewWeighted(cfg.BodyBudget),
		secret: cfg.SecretKey, filterPages: cfg.FilterPages, filterTime: cfg.FilterTime, maxAnswer: cfg.MaxAnswer}
	embedded, err := loadGraphQLSchema()
	if err != nil {
		return nil, err
	}
	a.gql.Store(&gqlSchema{schema: embedded})
	if len(a.secret) == 0 {
		a.secret = make([]byte, 32)
		if _, err := rand.Read(a.secret); err != nil {
			return nil, fmt.Errorf("mlflow: page token key: %w", err)
		}
	}
	if a.filterPages <= 0 {
		a.filterPages = defaultFilterPages
	}
	if a.filterTime <= 0 {
		a.filterTime = defaultFilterTime
	}
	if a.maxAnswer <= 0 {
		a.maxAnswer = 32 << 20
	}
	return a, nil
}

// Wrap returns next behind the authorizer: requests it refuses never reach
// next.
func (a *Authorizer) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &request{r: r, a: a}
		defer req.release()
		if err := a.authorize(req); err != nil {
			var answer *graphQLAnswer
			if errors.As(err, &answer) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", "no-store")
				_, _ = w.Write(answer.body)
				return
			}
			auth.WriteError(w, err)
			return
		}
		if req.graphql {
			if len(req.versions) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			a.graphQLAnswer(w, r, next, req.subj, req.versions)
			return
		}
		if l, ok := listings[pathOf(req)]; ok && !req.subj.Admin {
			body, err := req.Body()
			if err != nil {
				auth.WriteError(w, err)
				return
			}
			a.filtered(w, r, next, req.subj, l, body)
			return
		}
		e, err := a.plan(req)
		if err != nil {
			auth.WriteError(w, err)
			return
		}
		if e != nil {
			a.forward(w, r, next, req.subj, e)
			return
		}
		next.ServeHTTP(w, r) // the buffered body counts against the budget until forwarded
	})
}

var errWorkspace = auth.BadRequest(auth.CodeInvalidParameterValue,
	"MLflow workspaces are not supported by this gateway yet: send the request without X-MLFLOW-WORKSPACE")

// Authorize returns nil when the request may go on to MLflow, else an
// *auth.Error: 400 for a request it cannot read unambiguously, 403 for a
// refusal, 404 for a route not served, 503 when a lookup failed. A
// resource MLflow says does not exist is let through, so MLflow answers
// its own 404.
func (a *Authorizer) Authorize(r *http.Request) error {
	req := &request{r: r, a: a}
	defer req.release()
	return a.authorize(req)
}

// request reads a request's fields at most once, within the body budget.
type request struct {
	r      *http.Request
	a      *Authorizer
	read   bool
	fields Fields
	err    error
	held   int64
	// holding: the body was counted against the budget (holdErr: it did
	// not fit).
	holding bool
	holdErr error
	ep      *Endpoint // the row, once classified
	// graphql: a non-admin's GraphQL request, whose answer drops the
	// model versions at versions.
	graphql  bool
	versions []versionFilter
	subj     permission.Subject // the caller, once known
}

var errBudget = auth.Unavailable("Too many large requests at once; try again", nil)

func (q *request) Fields() (Fields, error) {
	if q.read {
		return q.fields, q.err
	}
	q.read = true
	if q.err = q.hold(); q.err != nil {
		return q.fields, q.err
	}
	q.fields, q.err = ReadFields(q.r, q.a.cfg.MaxBody)
	return q.fields, q.err
}

// decidingFields is Fields for a rule that cannot decide without them:
// over the body budget stays a 503, anything unreadable is a 400.
func (q *request) decidingFields() (Fields, error) {
	f, err := q.Fields()
	if err != nil && err != errBudget {
		return f, auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
	}
	return f, err
}

// Body reads the request's body as it is (restored for the proxy), within
// MaxBody and the budget of buffered bodies: for filtered searches and
// GraphQL, which read the body themselves.
func (q *request) Body() ([]byte, error) {
	if err := q.hold(); err != nil {
		return nil, err
	}
	b, err := readBody(q.r, q.a.cfg.MaxBody)
	if err != nil {
		return nil, auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
	}
	return b, nil
}

// hold counts the body against the budget of buffered bodies, once; past
// the budget the request is answered 503.
func (q *request) hold() error {
	if q.holding {
		return q.holdErr
	}
	q.holding = true
	limit := q.a.cfg.MaxBody
	weight := limit
	if n := q.r.ContentLength; n >= 0 && n < limit {
		weight = n
	}
	if q.r.Body == nil || q.r.Body == http.NoBody {
		weight = 0
	}
	if weight > 0 {
		if !q.a.budget.TryAcquire(weight) {
			q.holdErr = errBudget
			return q.holdErr
		}
		q.held = weight
	}
	return nil
}

func (q *request) release() {
	if q.held > 0 {
		q.a.budget.Release(q.held)
		q.held = 0
	}
}

// Public reports whether MLflow serves method and path (canonical) to
// anyone: the table's unprotected rows (static assets at any depth under
// the static prefix, the favicon). auth.Config.PublicRequest takes it, so
// the middleware lets through exactly what the authorizer allows without
// an identity.
func (a *Authorizer) Public(method, path string) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return false // MLflow's unprotected routes are all GET; writes skip the lookup
	}
	m, ok := a.router.Classify(method, path)
	return ok && m.Endpoint.Require == RequireNone
}

func (a *Authorizer) authorize(q *request) error {
	r := q.r
	id, ok := auth.FromRequest(r)
	if !ok {
		if path, err := auth.CanonicalPath(r.URL.EscapedPath()); err == nil && a.Public(r.Method, path) {
			return nil
		}
		return auth.Unauthenticated("")
	}
	if _, ok := r.Header["X-Mlflow-Workspace"]; ok {
		return errWorkspace
	}
	path, err := auth.CanonicalPath(r.URL.EscapedPath())
	if err != nil {
		var pe *auth.PathError
		errors.As(err, &pe)
		return auth.BadRequest(auth.CodeBadRequest, "Invalid request path: "+pe.Reason)
	}
	snap := a.cfg.Engine.Snapshot()
	subj := snap.Subject(id.Username, id.Groups)
	if !subj.Active {
		return auth.PermissionDenied("This account is deactivated.")
	}
	m, ok := a.router.Classify(r.Method, path)
	if !ok {
		return adminOnly(subj)
	}
	ep := m.Endpoint
	q.ep, q.subj = ep, subj
	switch ep.Require {
	case RequireNone, RequireAuthenticated:
		return nil
	case RequireCreate:
		return a.authorizeCreate(q, ep, subj, snap)
	case RequireFilter:
		if _, ok := listings[ep.Path]; ok {
			return nil // the answer is filtered
		}
	case RequireGraphQL:
		if subj.Admin {
			return nil
		}
		q.graphql = true
		q.versions, err = a.authorizeGraphQL(q, subj, snap)
		return err
	case RequireNotServed:
		return &auth.Error{Status: http.StatusNotFound, Code: auth.CodeEndpointNotFound, Message: "This endpoint is not served by this gateway"}
	}
	need, perResource := ep.Require.Capability()
	refs, ruled := ruleFor(ep)
	if !perResource || !ruled {
		// admin, self, create, filter, graphql, and rows without a rule
		// yet: admins only, until the gateway can decide them.
		return adminOnly(subj)
	}
	if subj.Admin {
		return nil
	}
	resources, notFound, err := a.resolve(r.Context(), q, &m, refs, snap)
	var ae *auth.Error
	switch {
	case errors.As(err, &ae):
		return err
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrBadID):
		return auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
	case err != nil:
		a.cfg.Logger.WarnContext(r.Context(), "mlflow: lookup failed", "error", err, "endpoint", ep.Path)
		return unavailable(err)
	}
	if len(resources) == 0 {
		if notFound > 0 {
			return nil // MLflow answers its own 404
		}
		// No id where the contract says MLflow reads one. MLflow 3.11
		// would refuse the request itself, but a later MLflow may read
		// another field (presigned-upload-url learned model_id): a request
		// the gateway cannot tie to a resource does not go on.
		return auth.PermissionDenied("This request must name the resource it acts on.")
	}
	if err := a.extraChecks(q, ep, subj, snap); err != nil {
		return err
	}
	if ep.Path == "/ajax-api/3.0/mlflow/scorer/invoke" {
		// Logging the scorer's assessments writes to the experiment; only
		// running it reads.
		need = permission.CanRead
		if f, err := q.Fields(); err == nil {
			logs, err := f.Bool("log_assessments")
			if err != nil {
				return auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
			}
			if logs {
				need = permission.CanUpdate
			}
		}
	}
	for _, t := range resources {
		c := need
		if t.res.Kind == permission.RegisteredModel && promptTagChange(q, ep) {
			c = permission.CanManage // turning a model into a prompt or back
		}
		if t.reference {
			c = permission.CanRead
		}
		d := snap.Decide(subj, t.res)
		if !d.Allows(c) && a.synced(r.Context()) {
			snap = a.cfg.Engine.Snapshot()
			subj = snap.Subject(id.Username, id.Groups)
			d = snap.Decide(subj, t.res)
		}
		if !d.Allows(c) {
			a.cfg.Logger.DebugContext(r.Context(), "mlflow: denied", "user", subj.Username, "endpoint", ep.Path,
				"resource", t.res.String(), "need", c.String(), "decision", d.Explain())
			return denied(c, t.what(), d)
		}
	}
	return nil
}

// pathOf is the row a request was classified to, if any.
func pathOf(q *request) string {
	if q.ep == nil || q.ep.Require != RequireFilter {
		return ""
	}
	return q.ep.Path
}

// minSyncInterval spaces the store reads refusals cause: a flood of
// refused requests costs at most a few feed reads a second.
const minSyncInterval = 200 * time.Millisecond

// synced brings the engine up to date with the store, unless that was done
// a moment ago; it reports whether it did.
func (a *Authorizer) synced(ctx context.Context) bool {
	if a.cfg.Sync == nil {
		return false
	}
	now := time.Now().UnixNano()
	if last := a.lastSync.Load(); now-last < int64(minSyncInterval) || !a.lastSync.CompareAndSwap(last, now) {
		return false
	}
	_, _, _ = a.syncs.Do("sync", func() (any, error) {
		a.cfg.Sync(ctx)
		return nil, nil
	})
	return true
}

// unavailable is a lookup that failed: 503, which MLflow's clients retry.
func unavailable(err error) error {
	return auth.Unavailable("Could not check permissions with MLflow; try again", err)
}

func adminOnly(subj permission.Subject) error {
	if subj.Admin {
		return nil
	}
	return errAdminOnly
}

// errAdminOnly refuses what only administrators may do: requests no
// per-resource rule decides (including those the gateway cannot classify).
var errAdminOnly = auth.PermissionDenied("Only administrators may make this request through the gateway.")

// values reads a ref's raw values from where the row says.
func (a *Authorizer) values(r *http.Request, m *Match, rf ref, fields *Fields, fieldsErr error) ([]string, error) {
	var out []string
	var from string
	for _, name := range rf.names {
		var vs []string
		switch rf.place {
		case inPath:
			if v, ok := m.Param(name); ok {
				vs = []string{v}
			}
		case inHeader:
			vs = r.Header.Values(name)
		case inQuery:
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				return nil, badRequest("malformed query string")
			}
			vs = q[name]
		case inFields:
			if fieldsErr != nil {
				return nil, fieldsErr
			}
			if len(rf.path) > 0 {
				var err error
				if vs, err = fields.Nested(append([]string{name}, rf.path...)...); err != nil {
					return nil, err
				}
				break
			}
			if rf.many {
				var err error
				if vs, err = fields.Strings(name); err != nil {
					return nil, err
				}
			} else {
				v, ok, err := fields.String(name)
				if err != nil {
					return nil, err
				}
				if ok {
					vs = []string{v}
				}
			}
		}
		if len(vs) == 0 {
			continue
		}
		if !rf.many && len(rf.path) == 0 && len(vs) > 1 {
			return nil, badRequest("parameter %q given more than once", name)
		}
		if out != nil {
			// run_id and its old name run_uuid both given: they must agree.
			if len(vs) != len(out) || vs[0] != out[0] {
				return nil, badRequest("%q and %q disagree", from, name)
			}
			continue
		}
		out, from = vs, name
	}
	return out, nil
}

var artifactExperiment = regexp.MustCompile(`^(\d+)/`)

// promptTag marks a registered model as a prompt.
const promptTag = "mlflow.prompt.is_prompt"

// promptTagChange reports whether a request sets or deletes the prompt tag
// (the fields were read already, and the body kept).
func promptTagChange(q *request, ep *Endpoint) bool {
	if ep.Path != "/api/2.0/mlflow/registered-models/set-tag" && ep.Path != "/api/2.0/mlflow/registered-models/delete-tag" {
		return false
	}
	f, err := q.Fields()
	if err != nil {
		return true // unreadable: ask the most
	}
	key, _, _ := f.String("key")
	return key == promptTag
}

// extraChecks are the row-specific rules beyond the resource's level:
// with RESTRICT_RESOURCE_CREATION a rename needs EDIT from the regex
// sources on the new name, as creating it would.
func (a *Authorizer) extraChecks(q *request, ep *Endpoint, subj permission.Subject, snap *permission.Snapshot) error {
	var kind permission.Kind
	switch ep.Path {
	case "/v1/traces":
		return a.otlpTraces(q, subj, snap)
	case "/ajax-api/2.0/mlflow/upload-artifact":
		return simpleUpload(q.r)
	case "/api/2.0/mlflow/model-versions/create":
		return promptSourceRule(q)
	case "/api/2.0/mlflow/traces/<request_id>/tags", "/api/3.0/mlflow/traces/<trace_id>/tags", "/api/2.0/mlflow/traces", "/api/3.0/mlflow/traces":
		return locationTags(q, ep)
	case "/api/2.0/mlflow/experiments/update":
		kind = permission.Experiment
	case "/api/2.0/mlflow/registered-models/rename":
		kind = permission.RegisteredModel
	default:
		return nil
	}
	f, err := q.decidingFields()
	if err != nil {
		return err
	}
	newName, ok, err := f.String("new_name")
	if err != nil {
		return auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
	}
	if !ok {
		return nil
	}
	if allowed, d := snap.CanCreate(subj, kind, newName); !allowed {
		a.cfg.Logger.DebugContext(q.r.Context(), "mlflow: rename refused", "user", subj.Username, "new_name", newName, "decision", d.Explain())
		return auth.PermissionDenied("Renaming to " + newName + " needs EDIT from a rule on the new name.")
	}
	return nil
}

// promptSourceRule: MLflow skips its own check of a version's source when
// the request carries the prompt tag, so a prompt's version must have the
// placeholder MLflow's client sends, and only a prompt's version may.
func promptSourceRule(q *request) error {
	f, err := q.decidingFields()
	if err != nil {
		return err
	}
	keys, err := f.Nested("tags", "key")
	if err != nil {
		return auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
	}
	src, _, err := f.String("source")
	if err != nil {
		return auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
	}
	prompt := false
	for _, k := range keys {
		prompt = prompt || k == promptTag
	}
	switch {
	case prompt && src != promptSource:
		return auth.PermissionDenied(fmt.Sprintf("A prompt's version takes the source %q, as MLflow's client sends it: MLflow does not check a prompt's source.", promptSource))
	case !prompt && src == promptSource:
		return unresolvableSource(src)
	}
	return nil
}

// simpleUpload refuses an artifact upload in one of the content types a
// page of another site may post without asking (CORS's "simple"
// requests: text/plain, form-encoded, multipart). MLflow's UI posts JSON;
// a browser that sends neither Sec-Fetch-Site nor Origin must then ask
// first, which the gateway never allows for another site.
func simpleUpload(r *http.Request) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return auth.BadRequest(auth.CodeInvalidParameterValue,
			"upload-artifact takes the artifact as application/json or application/octet-stream, not "+strconvQuote(mt))
	}
	return nil
}

func strconvQuote(s string) string {
	if s == "" {
		return "no Content-Type"
	}
	return strconv.Quote(s)
}

// locationTag is the trace tag MLflow reads as where the trace's spans
// are (get-trace-artifact downloads from it): the server sets it, and a
// caller who could point their own trace's at another trace's artifacts
// would read that trace through their own.
const locationTag = "mlflow.artifactLocation"

// locationTags refuses a non-admin's setting or deleting the location tag
// of a trace, at its start or later.
func locationTags(q *request, ep *Endpoint) error {
	f, err := q.decidingFields()
	if err != nil {
		return err
	}
	var keys []string
	switch ep.Path {
	case "/api/2.0/mlflow/traces": // StartTrace: tags is a list of {key, value}
		keys, err = f.Nested("tags", "key")
	case "/api/3.0/mlflow/traces": // StartTraceV3: trace_info.tags is a map
		var v []string
		if v, err = f.Nested("trace", "trace_info", "tags", locationTag); len(v) > 0 {
			keys = []string{locationTag}
		}
	default: // set or delete one tag
		var k string
		k, _, err = f.String("key")
		keys = []string{k}
	}
	if err != nil {
		return auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
	}
	for _, k := range keys {
		if k == locationTag {
			return auth.PermissionDenied("The tag " + locationTag + " is where MLflow keeps a trace's spans; only MLflow sets it.")
		}
	}
	return nil
}

// otlpTraces: spans sent over OTLP land in the trace they name, wherever
// it is; a trace that exists in another experiment needs EDIT there too,
// or spans could be written into someone else's trace.
func (a *Authorizer) otlpTraces(q *request, subj permission.Subject, snap *permission.Snapshot) error {
	body, err := q.Body()
	if err != nil {
		return err
	}
	ids, err := otlpTraceIDs(body)
	if err != nil {
		return auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
	}
	ctx := q.r.Context()
	for _, id := range ids {
		res, err := a.resource(ctx, refTrace, id, snap)
		var ae *auth.Error
		switch {
		case errors.Is(err, ErrNotFound):
			continue // a new trace, in the experiment of the header
		case errors.As(err, &ae):
			return err
		case errors.Is(err, ErrBadID):
			return auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
		case err != nil:
			return unavailable(err)
		}
		if d := snap.Decide(subj, res); !d.Allows(permission.CanUpdate) {
			return denied(permission.CanUpdate, "the experiment of trace "+id, d)
		}
	}
	return nil
}

// target is a resource to decide, whether it is only referred to, and how
// the request named it (the kind and value, turned into words only for a
// refusal's message: an allowed request pays nothing for it).
type target struct {
	res       permission.Resource
	reference bool
	kind      refKind
	value     string
}

// what is how the request named the target, for a refusal.
func (t target) what() string {
	if t.res.Kind == permission.Scorer {
		return fmt.Sprintf("scorer %s of experiment %s", t.res.Name, t.res.ID)
	}
	return named(t.kind, t.value, t.res)
}

// resolve turns a request's ids into the resources decided on.
func (a *Authorizer) resolve(ctx context.Context, q *request, m *Match, refs []ref, snap *permission.Snapshot) (out []target, notFound int, err error) {
	r := q.r
	var fields Fields
	var fieldsErr error
	for _, rf := range refs {
		if rf.place == inFields {
			fields, fieldsErr = q.Fields()
			if fieldsErr == errBudget {
				return nil, 0, fieldsErr
			}
			break
		}
	}
	for _, rf := range refs {
		if rf.kind == refScorer {
			exp, err := a.values(r, m, ref{place: rf.place, names: rf.names[:1]}, &fields, fieldsErr)
			if err != nil {
				return nil, 0, err
			}
			name, err := a.values(r, m, ref{place: rf.place, names: rf.names[1:]}, &fields, fieldsErr)
			if err != nil {
				return nil, 0, err
			}
			if len(exp) == 0 || len(name) == 0 {
				continue
			}
			canon, ok := CanonicalExperimentID(exp[0])
			if !ok {
				return nil, 0, fmt.Errorf("%w: experiment id %q", ErrBadID, exp[0])
			}
			out = append(out, target{res: permission.Resource{Kind: permission.Scorer, ID: canon, Name: name[0]}, kind: refScorer})
			continue
		}
		vals, err := a.values(r, m, rf, &fields, fieldsErr)
		if err != nil {
			return nil, 0, err
		}
		if rf.byName != "" {
			named, err := a.values(r, m, ref{place: rf.place, names: []string{rf.byName}}, &fields, fieldsErr)
			if err != nil {
				return nil, 0, err
			}
			switch {
			case len(named) > 0 && len(vals) > 0:
				return nil, 0, badRequest("give %q or %q, not both", rf.names[0], rf.byName)
			case len(named) > 0:
				rf.kind, vals = refGatewayEndpointName, named
			}
		}
		if rf.required && len(vals) == 0 {
			return nil, 0, auth.PermissionDenied("This request must name the resource it acts on.")
		}
		if rf.kind == refDataset {
			for _, v := range vals {
				exps, err := a.cfg.Lookups.DatasetExperiments(ctx, v)
				switch {
				case errors.Is(err, ErrNotFound):
					notFound++
					continue
				case err != nil:
					return nil, 0, err
				case len(exps) == 0:
					return nil, 0, errNeedsName // linked to no experiment: admins only
				}
				for _, id := range exps {
					res, err := a.resource(ctx, refExperiment, id, snap)
					if err != nil {
						return nil, 0, err
					}
					out = append(out, target{res: res, reference: rf.reference, kind: refDataset, value: v})
				}
			}
			continue
		}
		for _, v := range vals {
			res, err := a.resource(ctx, rf.kind, v, snap)
			switch {
			case errors.Is(err, errNoResource):
				continue
			case errors.Is(err, ErrNotFound):
				// MLflow will say it does not exist; every other id of the
				// request is still decided.
				notFound++
				continue
			case err != nil:
				return nil, notFound, err
			}
			out = append(out, target{res: res, reference: rf.reference, kind: rf.kind, value: v})
		}
	}
	return out, notFound, nil
}

func (a *Authorizer) resource(ctx context.Context, kind refKind, v string, snap *permission.Snapshot) (permission.Resource, error) {
	experiment := func(id string, err error) (permission.Resource, error) {
		if err != nil {
			return permission.Resource{}, err
		}
		canon, ok := CanonicalExperimentID(id)
		if !ok {
			return permission.Resource{}, fmt.Errorf("%w: experiment id %q", ErrBadID, id)
		}
		res := permission.Resource{Kind: permission.Experiment, ID: canon}
		if snap.HasRules(permission.Experiment) {
			name, err := a.cfg.Lookups.ExperimentName(ctx, canon)
			if err != nil {
				return permission.Resource{}, err
			}
			res.Name = name
		}
		return res, nil
	}
	switch kind {
	case refExperiment:
		return experiment(v, nil)
	case refExperimentName:
		return experiment(a.cfg.Lookups.ExperimentByName(ctx, v))
	case refRun:
		return experiment(a.cfg.Lookups.RunExperiment(ctx, v))
	case refLoggedModel:
		return experiment(a.cfg.Lookups.LoggedModelExperiment(ctx, v))
	case refTrace:
		return experiment(a.cfg.Lookups.TraceExperiment(ctx, v))
	case refJob:
		return experiment(a.cfg.Lookups.JobExperiment(ctx, v))
	case refArtifactPath:
		sub := artifactExperiment.FindStringSubmatch(v)
		if sub == nil {
			return permission.Resource{}, fmt.Errorf("%w: artifact path %q does not start with an experiment id", ErrBadID, v)
		}
		return experiment(sub[1], nil)
	case refSource:
		return a.sourceResource(ctx, v, snap)
	case refModel:
		if v == "" {
			return permission.Resource{}, fmt.Errorf("%w: empty model name", ErrBadID)
		}
		// MLflow keeps prompts as registered models; the gateway decides a
		// prompt by prompt grants and rules first.
		prompt, err := a.cfg.Lookups.ModelIsPrompt(ctx, v)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return permission.Resource{}, err
		}
		if prompt {
			return permission.Resource{Kind: permission.Prompt, ID: v}, nil
		}
		return permission.Resource{Kind: permission.RegisteredModel, ID: v}, nil
	case refGatewayEndpoint, refGatewayEndpointName:
		id, name := v, ""
		if kind == refGatewayEndpointName {
			id, name = "", v
		}
		if id == "" && name == "" {
			return permission.Resource{}, fmt.Errorf("%w: empty gateway endpoint", ErrBadID)
		}
		if name != "" || snap.HasRules(permission.GatewayEndpoint) {
			// By name, or rules on names: MLflow says which endpoint it is.
			gotID, gotName, err := a.cfg.Lookups.GatewayEndpoint(ctx, id, name)
			if err != nil {
				return permission.Resource{}, err
			}
			return permission.Resource{Kind: permission.GatewayEndpoint, ID: gotID, Name: gotName}, nil
		}
		return permission.Resource{Kind: permission.GatewayEndpoint, ID: id}, nil
	case refGatewayProxyPath:
		name, ok := proxiedEndpoint(v)
		if !ok {
			// Listing, or a path the gateway cannot read an endpoint from.
			return permission.Resource{}, errNeedsName
		}
		id, _, err := a.cfg.Lookups.GatewayEndpoint(ctx, "", name)
		switch {
		case errors.Is(err, ErrNotFound):
			// Not one of MLflow's gateway endpoints (a deployments
			// server's): only rules on its name can open it, and the
			// request is decided, never passed to a 404 that will not come.
			return permission.Resource{Kind: permission.GatewayEndpoint, Name: name}, nil
		case err != nil:
			return permission.Resource{}, err
		}
		return permission.Resource{Kind: permission.GatewayEndpoint, ID: id, Name: name}, nil
	case refGatewaySecret, refGatewayModelDefinition:
		k := permission.GatewaySecret
		if kind == refGatewayModelDefinition {
			k = permission.GatewayModelDefinition
		}
		if v == "" {
			return permission.Resource{}, fmt.Errorf("%w: empty %s id", ErrBadID, k)
		}
		if snap.HasRules(k) {
			// Regex rules match the object's name: MLflow says what it is.
			name, err := a.cfg.Lookups.GatewayObjectName(ctx, k, v)
			if err != nil {
				return permission.Resource{}, err
			}
			return permission.Resource{Kind: k, ID: v, Name: name}, nil
		}
		return permission.Resource{Kind: k, ID: v}, nil
	}
	return permission.Resource{}, fmt.Errorf("%w: unknown reference", ErrBadID)
}

// proxiedEndpoint reads the endpoint a gateway-proxy request invokes from
// its gateway_path: "endpoints/<name>/invocations" or
// "gateway/<name>/invocations", a leading slash allowed. Anything else
// (listing, other routes, dot segments, escapes, a query) is not read.
func proxiedEndpoint(p string) (string, bool) {
	p = strings.TrimPrefix(p, "/")
	rest, ok := strings.CutPrefix(p, "endpoints/")
	if !ok {
		if rest, ok = strings.CutPrefix(p, "gateway/"); !ok {
			return "", false
		}
	}
	name, ok := strings.CutSuffix(rest, "/invocations")
	if !ok || name == "" || name == "." || name == ".." {
		return "", false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", false
		}
	}
	return name, true
}

// promptSource is the source MLflow's client gives a prompt's version
// (mlflow.genai.register_prompt): a placeholder that names nothing.
const promptSource = "dummy-source"

// sourceResource resolves a model version's source as MLflow reads it
// (urllib's urlparse: the scheme in any case, a netloc after "//" that
// names no object, the path) to what it names: the experiment of a run, a
// logged model or an artifact path, or a registered model (models:/name/…
// and models:/name@alias, whose own versions were checked when they were
// made). Anything else, a local path, file://, a storage bucket or another
// host, could name any file MLflow can read: only administrators may use
// it.
func (a *Authorizer) sourceResource(ctx context.Context, src string, snap *permission.Snapshot) (permission.Resource, error) {
	if src == promptSource {
		return permission.Resource{}, errNoResource
	}
	scheme, path, ok := splitSource(src)
	if !ok {
		return permission.Resource{}, unresolvableSource(src)
	}
	rest := strings.TrimPrefix(path, "/")
	first, _, _ := strings.Cut(rest, "/")
	switch scheme {
	case "runs":
		if first != "" {
			return a.resource(ctx, refRun, first, snap)
		}
	case "models":
		// As MLflow's _parse_model_uri: leading slashes dropped, at most two
		// parts; name/suffix names the registered model "name" verbatim;
		// one part is name@alias (split at the last "@") or else a logged
		// model's id, whatever it looks like.
		parts := strings.Split(strings.TrimLeft(path, "/"), "/")
		switch {
		case len(parts) == 2 && parts[0] != "" && parts[1] != "":
			return a.resource(ctx, refModel, parts[0], snap)
		case len(parts) == 1 && strings.Contains(parts[0], "@"):
			if name := parts[0][:strings.LastIndexByte(parts[0], '@')]; name != "" {
				return a.resource(ctx, refModel, name, snap)
			}
		case len(parts) == 1 && parts[0] != "":
			return a.resource(ctx, refLoggedModel, parts[0], snap)
		}
	case "mlflow-artifacts":
		return a.resource(ctx, refArtifactPath, rest, snap)
	case "http", "https":
		if p, ok := strings.CutPrefix(path, "/api/2.0/mlflow-artifacts/artifacts/"); ok {
			return a.resource(ctx, refArtifactPath, p, snap)
		}
	}
	return permission.Resource{}, unresolvableSource(src)
}

// splitSource reads a source URI's scheme (lower-cased, as urlparse does)
// and path, dropping a "//netloc". A source without a scheme (a local
// path), or with a query, a fragment, a space or a control character
// (urlparse ends a netloc at "?" or "#" and drops tabs and newlines
// anywhere), or whose path has a dot segment, an escape or a backslash, is
// not split: what MLflow would read cannot be told.
func splitSource(src string) (scheme, path string, ok bool) {
	for _, c := range []byte(src) {
		if c <= ' ' || c == 0x7f || c == '?' || c == '#' {
			return "", "", false
		}
	}
	i := strings.IndexByte(src, ':')
	if i <= 0 {
		return "", "", false
	}
	for k, c := range src[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || k > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", "", false
		}
	}
	scheme, path = strings.ToLower(src[:i]), src[i+1:]
	if rest, ok := strings.CutPrefix(path, "//"); ok {
		_, path, _ = strings.Cut(rest, "/")
		path = "/" + path
	}
	if strings.ContainsAny(path, "%\\") {
		return "", "", false
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return "", "", false
		}
	}
	return scheme, path, true
}

func unresolvableSource(src string) error {
	return auth.PermissionDenied(fmt.Sprintf("The gateway cannot tell what the source %q names, so only administrators may use it; "+
		"give runs:/<run id>/<path>, models:/<model>, mlflow-artifacts:/<path> or the artifact proxy's URL.", src))
}

// errNoResource: the value names nothing decided on; skipped.
var errNoResource = errors.New("mlflow: names no resource")

// errNeedsName: the resource belongs to no experiment (a dataset linked to
// none): the answer is admins only.
var errNeedsName = auth.PermissionDenied("Only administrators may act on what belongs to no experiment.")
