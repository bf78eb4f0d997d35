package mlflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/mlflowauth/mlflowauth/permission"
)

// The three outcomes of a lookup besides an answer (ARCHITECTURE "Lookups
// have three outcomes").
var (
	// ErrNotFound: MLflow says the resource does not exist. The request
	// is forwarded, so MLflow answers its own 404 (set_experiment relies
	// on it).
	ErrNotFound = errors.New("mlflow: no such resource")
	// ErrUnavailable: the lookup failed (MLflow down, slow, or an answer
	// that does not add up). The gateway answers 503, which clients retry.
	ErrUnavailable = errors.New("mlflow: lookup failed")
	// ErrBadID: an id that cannot be one of its kind: 400 before any call.
	ErrBadID = errors.New("mlflow: malformed id")
)

// Id syntax per kind, checked before any upstream call.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidRunID: 32 lower-case hex digits.
func ValidRunID(s string) bool { return len(s) == 32 && isHex(s) }

// ValidTraceID: "tr-" and 32 hex digits.
func ValidTraceID(s string) bool { return len(s) == 35 && strings.HasPrefix(s, "tr-") && isHex(s[3:]) }

// ValidLoggedModelID: "m-" and 32 hex digits.
func ValidLoggedModelID(s string) bool {
	return len(s) == 34 && strings.HasPrefix(s, "m-") && isHex(s[2:])
}

// CanonicalExperimentID returns a decimal experiment id in the form a SQL
// store compares it: "01" is experiment 1. ok is false for anything else.
func CanonicalExperimentID(s string) (string, bool) {
	if s == "" || len(s) > 19 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	t := strings.TrimLeft(s, "0")
	if t == "" {
		t = "0"
	}
	return t, true
}

// UpstreamConfig configures lookups.
type UpstreamConfig struct {
	// URL is the MLflow tracking server (MLFLOW_UPSTREAM_URL).
	URL string
	// Username and Password, when MLflow has its own auth
	// (MLFLOW_UPSTREAM_USERNAME / _PASSWORD).
	Username, Password string
	// Timeout bounds each lookup; 5s when zero.
	Timeout time.Duration
	// CacheSize bounds each cache; 10,000 when zero. TTL is how long a
	// name is believed (ids never move between experiments, names change);
	// 1 minute when zero. "No such resource" is never remembered: a
	// request for what does not exist goes on to MLflow's own 404, and a
	// remembered answer would let a read through to what another replica
	// made a moment ago.
	CacheSize int
	TTL       time.Duration
	Client    *http.Client
	Now       func() time.Time
}

// Upstream looks resources up in MLflow through its REST API.
type Upstream struct {
	cfg   UpstreamConfig
	base  *url.URL
	cache *lru.Cache[string, cached]
	group singleflight.Group
}

type cached struct {
	value string
	until time.Time
}

// NewUpstream returns lookups against the MLflow at cfg.URL.
func NewUpstream(cfg UpstreamConfig) (*Upstream, error) {
	base, err := url.Parse(cfg.URL)
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, fmt.Errorf("mlflow: upstream URL %q must be http:// or https://", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10_000
	}
	if cfg.TTL <= 0 {
		cfg.TTL = time.Minute
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c, _ := lru.New[string, cached](cfg.CacheSize)
	return &Upstream{cfg: cfg, base: base, cache: c}, nil
}

// Forget drops what is remembered about a resource of kind with key (an
// id or a name).
func (u *Upstream) Forget(kind, key string) { u.cache.Remove(kind + "\x00" + key) }

// ForgetResource drops every cached name of r, which was renamed to
// newName or deleted (newName empty): the change feed's name changes call
// it, so a rename forwarded by any replica is seen by all of them at once
// rather than when the TTL runs out. r.Name is the old name where the
// resource is keyed by id (experiments, gateway endpoints). The new name
// goes too: a "does not exist" remembered for it is wrong now.
func (u *Upstream) ForgetResource(r permission.Resource, newName string) {
	switch r.Kind {
	case permission.Experiment:
		if canon, ok := CanonicalExperimentID(r.ID); ok {
			u.Forget("experiment-id", canon)
		}
		for _, n := range []string{r.Name, newName} {
			if n != "" {
				u.Forget("experiment-name", n)
			}
		}
	case permission.RegisteredModel, permission.Prompt:
		u.Forget("model-kind", r.ID)
		if newName != "" {
			u.Forget("model-kind", newName)
		}
	case permission.GatewayEndpoint:
		u.Forget("gateway-endpoint", "id:"+r.ID)
		for _, n := range []string{r.Name, newName} {
			if n != "" {
				u.Forget("gateway-endpoint", "name:"+n)
			}
		}
	case permission.GatewaySecret, permission.GatewayModelDefinition:
		u.Forget("gateway-"+r.Kind.String(), r.ID)
	}
}

// ForgetAll empties the cache: for a change feed that resynced, when what
// changed meanwhile is unknown.
func (u *Upstream) ForgetAll() { u.cache.Purge() }

// lookup runs fetch once for concurrent callers and remembers a found
// answer; ttl 0 means for the cache's lifetime (an id that never changes).
func (u *Upstream) lookup(ctx context.Context, kind, key string, ttl time.Duration, fetch func(context.Context) (string, error)) (string, error) {
	ck := kind + "\x00" + key
	now := u.cfg.Now()
	if c, ok := u.cache.Get(ck); ok && (c.until.IsZero() || now.Before(c.until)) {
		return c.value, nil
	}
	v, err, _ := u.group.Do(ck, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), u.cfg.Timeout)
		defer cancel()
		return fetch(ctx)
	})
	value, _ := v.(string)
	if err == nil {
		c := cached{value: value}
		if ttl > 0 {
			c.until = now.Add(ttl)
		}
		u.cache.Add(ck, c)
	}
	return value, err
}

// call sends one request to MLflow and returns its status and (at most 4
// MiB of) its answer.
func (u *Upstream) call(ctx context.Context, method, path string, query url.Values, body []byte) (int, []byte, error) {
	target := *u.base
	target.Path = strings.TrimSuffix(u.base.Path, "/") + path
	target.RawPath = ""
	target.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if u.cfg.Username != "" {
		req.SetBasicAuth(u.cfg.Username, u.cfg.Password)
	}
	resp, err := u.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return resp.StatusCode, answer, nil
}

// get calls MLflow and decodes its JSON answer into v.
func (u *Upstream) get(ctx context.Context, path string, query url.Values, v any) error {
	status, body, err := u.call(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return err
	}
	switch {
	case status == http.StatusNotFound:
		var e struct {
			Code string `json:"error_code"`
		}
		if json.Unmarshal(body, &e) == nil && e.Code == "RESOURCE_DOES_NOT_EXIST" {
			return ErrNotFound
		}
		return fmt.Errorf("%w: %s answered 404 without RESOURCE_DOES_NOT_EXIST", ErrUnavailable, path)
	case status == http.StatusBadRequest:
		// MLflow's answer to an id it cannot parse: it does not exist.
		var e struct {
			Code string `json:"error_code"`
		}
		if json.Unmarshal(body, &e) == nil && (e.Code == "INVALID_PARAMETER_VALUE" || e.Code == "RESOURCE_DOES_NOT_EXIST") {
			return ErrNotFound
		}
		return fmt.Errorf("%w: %s answered 400", ErrUnavailable, path)
	case status != http.StatusOK:
		return fmt.Errorf("%w: %s answered %d", ErrUnavailable, path, status)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, path, err)
	}
	return nil
}

// RunExperiment returns the experiment a run belongs to.
func (u *Upstream) RunExperiment(ctx context.Context, runID string) (string, error) {
	if !ValidRunID(runID) {
		return "", fmt.Errorf("%w: run id %q", ErrBadID, runID)
	}
	return u.lookup(ctx, "run", runID, 0, func(ctx context.Context) (string, error) {
		var r struct {
			Run struct {
				Info struct {
					RunID        string `json:"run_id"`
					ExperimentID string `json:"experiment_id"`
				} `json:"info"`
			} `json:"run"`
		}
		if err := u.get(ctx, "/api/2.0/mlflow/runs/get", url.Values{"run_id": {runID}}, &r); err != nil {
			return "", err
		}
		if r.Run.Info.RunID != runID || r.Run.Info.ExperimentID == "" {
			return "", fmt.Errorf("%w: runs/get answered for another run", ErrUnavailable)
		}
		return r.Run.Info.ExperimentID, nil
	})
}

// LoggedModelExperiment returns the experiment a logged model belongs to.
func (u *Upstream) LoggedModelExperiment(ctx context.Context, modelID string) (string, error) {
	if !ValidLoggedModelID(modelID) {
		return "", fmt.Errorf("%w: logged model id %q", ErrBadID, modelID)
	}
	return u.lookup(ctx, "logged-model", modelID, 0, func(ctx context.Context) (string, error) {
		var r struct {
			Model struct {
				Info struct {
					ModelID      string `json:"model_id"`
					ExperimentID string `json:"experiment_id"`
				} `json:"info"`
			} `json:"model"`
		}
		if err := u.get(ctx, "/api/2.0/mlflow/logged-models/"+url.PathEscape(modelID), nil, &r); err != nil {
			return "", err
		}
		if r.Model.Info.ModelID != modelID || r.Model.Info.ExperimentID == "" {
			return "", fmt.Errorf("%w: logged-models answered for another model", ErrUnavailable)
		}
		return r.Model.Info.ExperimentID, nil
	})
}

// TraceExperiment returns the experiment a trace belongs to.
func (u *Upstream) TraceExperiment(ctx context.Context, traceID string) (string, error) {
	if !ValidTraceID(traceID) {
		return "", fmt.Errorf("%w: trace id %q", ErrBadID, traceID)
	}
	return u.lookup(ctx, "trace", traceID, 0, func(ctx context.Context) (string, error) {
		var r struct {
			Trace struct {
				Info struct {
					TraceID  string `json:"trace_id"`
					Location struct {
						Experiment struct {
							ID string `json:"experiment_id"`
						} `json:"mlflow_experiment"`
					} `json:"trace_location"`
				} `json:"trace_info"`
			} `json:"trace"`
		}
		if err := u.get(ctx, "/api/3.0/mlflow/traces/"+url.PathEscape(traceID), nil, &r); err != nil {
			return "", err
		}
		if r.Trace.Info.TraceID != traceID || r.Trace.Info.Location.Experiment.ID == "" {
			return "", fmt.Errorf("%w: traces answered for another trace", ErrUnavailable)
		}
		return r.Trace.Info.Location.Experiment.ID, nil
	})
}

type experimentReply struct {
	Experiment struct {
		ID   string `json:"experiment_id"`
		Name string `json:"name"`
	} `json:"experiment"`
}

// ExperimentByName returns the id of the experiment with a name.
func (u *Upstream) ExperimentByName(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty experiment name", ErrBadID)
	}
	return u.lookup(ctx, "experiment-name", name, u.cfg.TTL, func(ctx context.Context) (string, error) {
		var r experimentReply
		if err := u.get(ctx, "/api/2.0/mlflow/experiments/get-by-name", url.Values{"experiment_name": {name}}, &r); err != nil {
			return "", err
		}
		if r.Experiment.Name != name || r.Experiment.ID == "" {
			return "", fmt.Errorf("%w: get-by-name answered for another experiment", ErrUnavailable)
		}
		return r.Experiment.ID, nil
	})
}

// ExperimentName returns an experiment's name (for regex rules).
func (u *Upstream) ExperimentName(ctx context.Context, id string) (string, error) {
	canon, ok := CanonicalExperimentID(id)
	if !ok {
		return "", fmt.Errorf("%w: experiment id %q", ErrBadID, id)
	}
	return u.lookup(ctx, "experiment-id", canon, u.cfg.TTL, func(ctx context.Context) (string, error) {
		var r experimentReply
		if err := u.get(ctx, "/api/2.0/mlflow/experiments/get", url.Values{"experiment_id": {canon}}, &r); err != nil {
			return "", err
		}
		if got, _ := CanonicalExperimentID(r.Experiment.ID); got != canon || r.Experiment.Name == "" {
			return "", fmt.Errorf("%w: experiments/get answered for another experiment", ErrUnavailable)
		}
		return r.Experiment.Name, nil
	})
}

// ModelIsPrompt reports whether the registered model named name is a
// prompt (tagged mlflow.prompt.is_prompt): a prompt is decided by prompt
// grants and rules first.
func (u *Upstream) ModelIsPrompt(ctx context.Context, name string) (bool, error) {
	if name == "" {
		return false, fmt.Errorf("%w: empty model name", ErrBadID)
	}
	v, err := u.lookup(ctx, "model-kind", name, u.cfg.TTL, func(ctx context.Context) (string, error) {
		var r struct {
			Model struct {
				Name string `json:"name"`
				Tags []struct {
					Key   string `json:"key"`
					Value string `json:"value"`
				} `json:"tags"`
			} `json:"registered_model"`
		}
		if err := u.get(ctx, "/api/2.0/mlflow/registered-models/get", url.Values{"name": {name}}, &r); err != nil {
			return "", err
		}
		if r.Model.Name != name {
			return "", fmt.Errorf("%w: registered-models/get answered for another model", ErrUnavailable)
		}
		for _, t := range r.Model.Tags {
			if t.Key == promptTag && strings.EqualFold(t.Value, "true") {
				return "prompt", nil
			}
		}
		return "model", nil
	})
	return v == "prompt", err
}

// DatasetExperiments returns the experiments an evaluation dataset is
// linked to (datasets/<id>/experiment-ids).
func (u *Upstream) DatasetExperiments(ctx context.Context, datasetID string) ([]string, error) {
	if !validOpaqueID(datasetID) {
		return nil, fmt.Errorf("%w: dataset id %q", ErrBadID, datasetID)
	}
	v, err := u.lookup(ctx, "dataset", datasetID, u.cfg.TTL, func(ctx context.Context) (string, error) {
		var r struct {
			ExperimentIDs []string `json:"experiment_ids"`
		}
		if err := u.get(ctx, "/api/3.0/mlflow/datasets/"+url.PathEscape(datasetID)+"/experiment-ids", nil, &r); err != nil {
			return "", err
		}
		return strings.Join(r.ExperimentIDs, ","), nil
	})
	if err != nil || v == "" {
		return nil, err
	}
	return strings.Split(v, ","), nil
}

// validOpaqueID accepts the ids MLflow mints for datasets and jobs:
// letters, digits, '-' and '_', at most 64 characters.
func validOpaqueID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// JobExperiment returns the experiment of a prompt-optimization job
// (GetPromptOptimizationJob.Response: job.experiment_id).
func (u *Upstream) JobExperiment(ctx context.Context, jobID string) (string, error) {
	if !validOpaqueID(jobID) {
		return "", fmt.Errorf("%w: job id %q", ErrBadID, jobID)
	}
	return u.lookup(ctx, "job", jobID, 0, func(ctx context.Context) (string, error) {
		var r struct {
			Job struct {
				JobID        string `json:"job_id"`
				ExperimentID string `json:"experiment_id"`
			} `json:"job"`
		}
		if err := u.get(ctx, "/api/3.0/mlflow/prompt-optimization/jobs/"+url.PathEscape(jobID), nil, &r); err != nil {
			return "", err
		}
		if r.Job.JobID != jobID || r.Job.ExperimentID == "" {
			return "", fmt.Errorf("%w: prompt-optimization/jobs answered for another job", ErrUnavailable)
		}
		return r.Job.ExperimentID, nil
	})
}

// GatewayEndpoint looks a gateway endpoint up by id or by name (MLflow's
// endpoints/get takes either) and returns both.
func (u *Upstream) GatewayEndpoint(ctx context.Context, id, name string) (gotID, gotName string, err error) {
	key, q := "id:"+id, url.Values{"endpoint_id": {id}}
	if id == "" {
		if name == "" {
			return "", "", fmt.Errorf("%w: no endpoint id or name", ErrBadID)
		}
		key, q = "name:"+name, url.Values{"name": {name}}
	}
	v, err := u.lookup(ctx, "gateway-endpoint", key, u.cfg.TTL, func(ctx context.Context) (string, error) {
		var r struct {
			Endpoint struct {
				ID   string `json:"endpoint_id"`
				Name string `json:"name"`
			} `json:"endpoint"`
		}
		if err := u.get(ctx, "/api/3.0/mlflow/gateway/endpoints/get", q, &r); err != nil {
			return "", err
		}
		if r.Endpoint.ID == "" || r.Endpoint.Name == "" || (id != "" && r.Endpoint.ID != id) || (id == "" && r.Endpoint.Name != name) {
			return "", fmt.Errorf("%w: gateway/endpoints/get answered for another endpoint", ErrUnavailable)
		}
		return r.Endpoint.ID + "\x00" + r.Endpoint.Name, nil
	})
	if err != nil {
		return "", "", err
	}
	gotID, gotName, _ = strings.Cut(v, "\x00")
	return gotID, gotName, nil
}

// GatewayObjectName is the name of a gateway secret or model definition,
// which regex rules match.
func (u *Upstream) GatewayObjectName(ctx context.Context, kind permission.Kind, id string) (string, error) {
	var path, param string
	switch kind {
	case permission.GatewaySecret:
		path, param = "/api/3.0/mlflow/gateway/secrets/get", "secret_id"
	case permission.GatewayModelDefinition:
		path, param = "/api/3.0/mlflow/gateway/model-definitions/get", "model_definition_id"
	default:
		return "", fmt.Errorf("%w: %s has no gateway name", ErrBadID, kind)
	}
	if id == "" {
		return "", fmt.Errorf("%w: empty %s", ErrBadID, param)
	}
	return u.lookup(ctx, "gateway-"+kind.String(), id, u.cfg.TTL, func(ctx context.Context) (string, error) {
		// GetGatewaySecretInfo.Response{secret{secret_id, secret_name}},
		// GetGatewayModelDefinition.Response{model_definition{model_definition_id, name}}.
		var r struct {
			Secret struct {
				ID   string `json:"secret_id"`
				Name string `json:"secret_name"`
			} `json:"secret"`
			ModelDefinition struct {
				ID   string `json:"model_definition_id"`
				Name string `json:"name"`
			} `json:"model_definition"`
		}
		if err := u.get(ctx, path, url.Values{param: {id}}, &r); err != nil {
			return "", err
		}
		gotID, name := r.Secret.ID, r.Secret.Name
		if kind == permission.GatewayModelDefinition {
			gotID, name = r.ModelDefinition.ID, r.ModelDefinition.Name
		}
		if gotID != id || name == "" {
			return "", fmt.Errorf("%w: %s answered for another object", ErrUnavailable, path)
		}
		return name, nil
	})
}

// GatewayID is the id of the gateway endpoint, secret or model definition
// named name (mlflow-oidc-auth's admin routes name them; grants are kept
// by id). Endpoints are looked up by name; secrets and model definitions
// by reading their list, at most ten pages. ErrNotFound when none has the
// name.
func (u *Upstream) GatewayID(ctx context.Context, kind permission.Kind, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty gateway object name", ErrBadID)
	}
	var path, items, idField, nameField string
	switch kind {
	case permission.GatewayEndpoint:
		id, _, err := u.GatewayEndpoint(ctx, "", name)
		return id, err
	case permission.GatewaySecret:
		// ListGatewaySecretInfos.Response{secrets[{secret_id, secret_name}], next_page_token}
		path, items, idField, nameField = "/api/3.0/mlflow/gateway/secrets/list", "secrets", "secret_id", "secret_name"
	case permission.GatewayModelDefinition:
		// ListGatewayModelDefinitions.Response{model_definitions[{model_definition_id, name}], next_page_token}
		path, items, idField, nameField = "/api/3.0/mlflow/gateway/model-definitions/list", "model_definitions", "model_definition_id", "name"
	default:
		return "", fmt.Errorf("%w: %s is not a gateway object", ErrBadID, kind)
	}
	return u.lookup(ctx, "gateway-id-"+kind.String(), name, u.cfg.TTL, func(ctx context.Context) (string, error) {
		q := url.Values{}
		for range 10 {
			var page map[string]json.RawMessage
			if err := u.get(ctx, path, q, &page); err != nil {
				return "", err
			}
			var objs []map[string]any
			if raw, ok := page[items]; ok {
				if err := json.Unmarshal(raw, &objs); err != nil {
					return "", fmt.Errorf("%w: %s: %v", ErrUnavailable, path, err)
				}
			}
			for _, o := range objs {
				if n, _ := o[nameField].(string); n == name {
					if id, _ := o[idField].(string); id != "" {
						return id, nil
					}
				}
			}
			var next string
			if raw, ok := page["next_page_token"]; !ok || json.Unmarshal(raw, &next) != nil || next == "" {
				return "", ErrNotFound
			}
			q.Set("page_token", next)
		}
		return "", fmt.Errorf("%w: %s: no %q within ten pages", ErrUnavailable, path, name)
	})
}
