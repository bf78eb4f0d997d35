package mlflow

import (
	"bytes"
	"context"
	_ "embed" // the GraphQL schema
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/permission"
)

//go:embed graphql_schema.graphql
var graphqlSchema string

func loadGraphQLSchema() (*ast.Schema, error) {
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "mlflow.graphql", Input: graphqlSchema})
	if err != nil {
		return nil, fmt.Errorf("mlflow: GraphQL schema: %w", err)
	}
	return s, nil
}

// versionFilter is where model versions are in a GraphQL answer: the
// response keys from data down to the list, and the keys its items carry
// the registered model's name under. Versions of models the caller may not
// read are dropped.
type versionFilter struct {
	path  []string
	names []string
}

// graphQLRequest is the JSON MLflow's _graphql handler reads, whatever the
// method: query, variables, operationName.
type graphQLRequest struct {
	Query         string
	Variables     map[string]any
	OperationName string
}

func readGraphQL(body []byte) (*graphQLRequest, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		return nil, errBatch
	}
	f := Fields{m: map[string]field{}}
	if err := readJSON(&f, body); err != nil {
		return nil, err
	}
	g := &graphQLRequest{}
	raw := func(key string) (json.RawMessage, bool) {
		fl, ok := f.m[fold(key)]
		if !ok || fl.key != key { // MLflow reads the exact key
			return nil, false
		}
		return fl.values[0], true
	}
	v, ok := raw("query")
	if !ok || json.Unmarshal(v, &g.Query) != nil || g.Query == "" {
		return nil, badRequest("a GraphQL request needs a query string")
	}
	if v, ok := raw("variables"); ok && string(v) != "null" {
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		if err := d.Decode(&g.Variables); err != nil {
			return nil, badRequest("variables must be an object")
		}
	}
	if v, ok := raw("operationName"); ok && string(v) != "null" {
		if json.Unmarshal(v, &g.OperationName) != nil {
			return nil, badRequest("operationName must be a string")
		}
	}
	return g, nil
}

var errBatch = errors.New("mlflow: batched GraphQL")

// authorizeGraphQL decides every field of every operation of the query by
// its arguments, as MLflow's GraphQL authorization middleware does, and
// returns where the answer must be filtered.
func (a *Authorizer) authorizeGraphQL(q *request, subj permission.Subject, snap *permission.Snapshot) ([]versionFilter, error) {
	body, err := q.Body()
	if err != nil {
		return nil, err
	}
	g, err := readGraphQL(body)
	switch {
	case errors.Is(err, errBatch):
		return nil, auth.PermissionDenied("Batched GraphQL requests are for administrators.")
	case err != nil:
		return nil, auth.BadRequest(auth.CodeInvalidParameterValue, err.Error())
	}
	ctx := q.r.Context()
	schema := a.gql.Load().schema
	doc, gerrs := gqlparser.LoadQueryWithRules(schema, g.Query, nil) // nil: the spec's rules
	if len(gerrs) > 0 && a.reloadSchema(ctx) {
		schema = a.gql.Load().schema
		doc, gerrs = gqlparser.LoadQueryWithRules(schema, g.Query, nil)
	}
	if len(gerrs) > 0 {
		return nil, auth.BadRequest(auth.CodeInvalidParameterValue, "GraphQL: "+gerrs[0].Message)
	}
	var filters []versionFilter
	var refused []refusedField
	allowed := 0
	for _, op := range doc.Operations {
		vars, err := validator.VariableValues(schema, op, g.Variables)
		if err != nil {
			return nil, auth.BadRequest(auth.CodeInvalidParameterValue, "GraphQL: "+err.Error())
		}
		for _, f := range flatten(op.SelectionSet) {
			fs, err := a.graphQLField(ctx, f, vars, subj, snap)
			var ae *auth.Error
			if errors.As(err, &ae) && ae.Status == http.StatusForbidden && hasAPIError(schema, f) {
				refused = append(refused, refusedField{f, ae})
				continue
			}
			if err != nil {
				return nil, err
			}
			if f.Name != "__typename" {
				allowed++
			}
			filters = append(filters, fs...)
		}
	}
	switch {
	case len(refused) > 0 && allowed > 0:
		return nil, refused[0].err // part of a query cannot be answered apart
	case len(refused) > 0:
		return nil, refusalAnswer(refused)
	}
	return filters, nil
}

// flatten is a selection set's fields with fragments spread in place.
func flatten(set ast.SelectionSet) []*ast.Field {
	var out []*ast.Field
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			out = append(out, s)
		case *ast.InlineFragment:
			out = append(out, flatten(s.SelectionSet)...)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				out = append(out, flatten(s.Definition.SelectionSet)...)
			}
		}
	}
	return out
}

func responseKey(f *ast.Field) string {
	if f.Alias != "" {
		return f.Alias
	}
	return f.Name
}

// graphQLField decides one top-level field.
func (a *Authorizer) graphQLField(ctx context.Context, f *ast.Field, vars map[string]any, subj permission.Subject, snap *permission.Snapshot) ([]versionFilter, error) {
	input, _ := f.ArgumentMap(vars)["input"].(map[string]any)
	text := func(k string) string {
		s, _ := input[k].(string)
		return s
	}
	list := func(k string) []string {
		var out []string
		vs, _ := input[k].([]any)
		for _, v := range vs {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	var res []target
	switch f.Name {
	case "__typename":
		return nil, nil
	case "mlflowGetExperiment":
		id, ok := CanonicalExperimentID(text("experimentId"))
		if !ok {
			return nil, auth.BadRequest(auth.CodeInvalidParameterValue, "GraphQL mlflowGetExperiment: a numeric experimentId is required")
		}
		res = append(res, target{res: permission.Resource{Kind: permission.Experiment, ID: id}, kind: refExperiment, value: id})
	case "mlflowGetRun", "mlflowListArtifacts":
		runID, runUUID := text("runId"), text("runUuid")
		if runID != "" && runUUID != "" && runID != runUUID {
			return nil, auth.BadRequest(auth.CodeInvalidParameterValue, "GraphQL "+f.Name+": runId and runUuid disagree")
		}
		if runID == "" {
			runID = runUUID
		}
		r, err := a.graphQLRuns(ctx, f.Name, []string{runID}, snap)
		if err != nil {
			return nil, err
		}
		res = append(res, r...)
	case "mlflowGetMetricHistoryBulkInterval":
		r, err := a.graphQLRuns(ctx, f.Name, list("runIds"), snap)
		if err != nil {
			return nil, err
		}
		res = append(res, r...)
	case "mlflowSearchRuns", "mlflowSearchDatasets":
		for _, v := range list("experimentIds") {
			id, ok := CanonicalExperimentID(v)
			if !ok {
				return nil, auth.BadRequest(auth.CodeInvalidParameterValue, fmt.Sprintf("GraphQL %s: experiment id %q", f.Name, v))
			}
			res = append(res, target{res: permission.Resource{Kind: permission.Experiment, ID: id}, kind: refExperiment, value: id})
		}
		if len(res) == 0 {
			return nil, auth.PermissionDenied("GraphQL " + f.Name + " must name the experiments it searches.")
		}
	case "mlflowSearchModelVersions":
		// Decided on the answer: versions of unreadable models are dropped.
	default:
		return nil, auth.PermissionDenied("GraphQL field " + f.Name + " is for administrators.")
	}
	for _, t := range res {
		if t.res.Kind == permission.Experiment && snap.HasRules(permission.Experiment) {
			name, err := a.cfg.Lookups.ExperimentName(ctx, t.res.ID)
			switch {
			case errors.Is(err, ErrNotFound):
				continue // MLflow answers its own error
			case err != nil:
				return nil, unavailable(err)
			}
			t.res.Name = name
		}
		if d := snap.Decide(subj, t.res); !d.Allows(permission.CanRead) {
			return nil, denied(permission.CanRead, t.what(), d)
		}
	}
	return versionFilters(f, []string{responseKey(f)})
}

// graphQLRuns resolves runs to the experiments they are decided on; a run
// MLflow does not have is left to MLflow's own error.
func (a *Authorizer) graphQLRuns(ctx context.Context, field string, runs []string, snap *permission.Snapshot) ([]target, error) {
	if len(runs) == 0 {
		return nil, auth.PermissionDenied("GraphQL " + field + " must name its runs.")
	}
	var out []target
	for _, run := range runs {
		res, err := a.resource(ctx, refRun, run, snap)
		switch {
		case errors.Is(err, ErrNotFound):
			continue
		case errors.Is(err, ErrBadID):
			return nil, auth.BadRequest(auth.CodeInvalidParameterValue, "GraphQL "+field+": "+err.Error())
		case err != nil:
			return nil, unavailable(err)
		}
		out = append(out, target{res: res, kind: refRun, value: run})
	}
	return out, nil
}

// versionFilters finds the model-version lists under f: each must select
// the version's name, which decides it.
func versionFilters(f *ast.Field, path []string) ([]versionFilter, error) {
	var out []versionFilter
	for _, sub := range flatten(f.SelectionSet) {
		p := append(append([]string(nil), path...), responseKey(sub))
		if sub.Definition != nil && sub.Definition.Type.Name() == "MlflowModelVersion" {
			vf := versionFilter{path: p}
			for _, leaf := range flatten(sub.SelectionSet) {
				if leaf.Name == "name" {
					vf.names = append(vf.names, responseKey(leaf))
				}
			}
			if len(vf.names) == 0 {
				return nil, auth.PermissionDenied("GraphQL model versions must select their name, which decides who may read them.")
			}
			out = append(out, vf)
			continue
		}
		more, err := versionFilters(sub, p)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// filterVersions drops, from a GraphQL answer's data, the model versions
// whose model the caller may not read.
func filterVersions(v any, path []string, names []string, readable func(string) bool) any {
	switch x := v.(type) {
	case map[string]any:
		if len(path) == 0 {
			return x
		}
		if inner, ok := x[path[0]]; ok {
			x[path[0]] = filterVersions(inner, path[1:], names, readable)
		}
		return x
	case []any:
		if len(path) > 0 {
			for i := range x {
				x[i] = filterVersions(x[i], path, names, readable)
			}
			return x
		}
		kept := []any{}
		for _, it := range x {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			allowed := true
			for _, k := range names {
				n, _ := m[k].(string)
				if n == "" || !readable(n) {
					allowed = false
				}
			}
			if allowed {
				kept = append(kept, it)
			}
		}
		return kept
	}
	return v
}

// graphQLAnswer forwards a GraphQL request and filters model versions out
// of the answer.
func (a *Authorizer) graphQLAnswer(w http.ResponseWriter, r *http.Request, next http.Handler, subj permission.Subject, filters []versionFilter) {
	out := r.Clone(r.Context())
	out.Header.Del("Accept-Encoding") // the answer is rewritten: fetch it plain
	resp, err := a.fetch(out, next)
	if err != nil {
		auth.WriteError(w, &auth.Error{Status: http.StatusBadGateway, Code: auth.CodeTemporarilyUnavailable, Message: "Could not filter MLflow's answer: " + err.Error(), Err: err})
		return
	}
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(resp.raw))
	d.UseNumber()
	if resp.status != http.StatusOK || d.Decode(&doc) != nil {
		resp.send(w)
		return
	}
	snap := a.cfg.Engine.Snapshot()
	readable := func(model string) bool {
		return snap.Decide(subj, permission.Resource{Kind: permission.RegisteredModel, ID: model}).Allows(permission.CanRead)
	}
	if data, ok := doc["data"]; ok {
		for _, f := range filters {
			data = filterVersions(data, f.path, f.names, readable)
		}
		doc["data"] = data
	}
	a.sendJSON(w, resp.header, doc)
}

// refusedField is a top-level field the caller may not read.
type refusedField struct {
	f   *ast.Field
	err *auth.Error
}

// hasAPIError reports whether a field's answer carries MLflow's apiError
// and the query asks for it, the way MLflow's GraphQL answers an error and
// its UI shows one. A query that does not ask gets the 403.
func hasAPIError(schema *ast.Schema, f *ast.Field) bool {
	if f.Definition == nil || f.Definition.Type == nil {
		return false
	}
	if t := schema.Types[f.Definition.Type.Name()]; t == nil || t.Fields.ForName("apiError") == nil {
		return false
	}
	for _, c := range flatten(f.SelectionSet) {
		if c.Name == "apiError" {
			return true
		}
	}
	return false
}

// graphQLAnswer is a GraphQL request answered by the gateway itself: the
// refused fields in MLflow's own error shape, so its UI shows the refusal
// (a 403 leaves a page waiting). MLflow never sees the request.
type graphQLAnswer struct{ body []byte }

func (g *graphQLAnswer) Error() string { return "mlflow: GraphQL fields refused" }

// refusalAnswer builds {"data": {key: {"apiError": {...}, others: null}}}
// for every refused field, each selected field present.
func refusalAnswer(refused []refusedField) error {
	data := map[string]any{}
	for _, r := range refused {
		obj := map[string]any{}
		for _, c := range flatten(r.f.SelectionSet) {
			switch c.Name {
			case "apiError":
				e := map[string]any{}
				for _, d := range flatten(c.SelectionSet) {
					switch d.Name {
					case "code":
						e[responseKey(d)] = r.err.Code
					case "message":
						e[responseKey(d)] = r.err.Message
					case "__typename":
						e[responseKey(d)] = "ApiError"
					default:
						e[responseKey(d)] = nil
					}
				}
				obj[responseKey(c)] = e
			case "__typename":
				obj[responseKey(c)] = r.f.Definition.Type.Name()
			default:
				obj[responseKey(c)] = nil
			}
		}
		data[responseKey(r.f)] = obj
	}
	b, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		return err
	}
	return &graphQLAnswer{body: b}
}
