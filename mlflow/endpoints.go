package mlflow

//go:generate python3 gen_endpoints.py

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/mlflowauth/mlflowauth/permission"
)

// Requirement is what a row of the endpoint table asks of the caller:
// gateway_required where the contract has it, else required.
type Requirement string

// The requirements of the contract (shared/spec/README.md).
const (
	RequireRead          Requirement = "read"
	RequireUse           Requirement = "use"
	RequireUpdate        Requirement = "update"
	RequireDelete        Requirement = "delete"
	RequireManage        Requirement = "manage"
	RequireReadAll       Requirement = "read-all"   // on every resource named; naming none is denied
	RequireUpdateAll     Requirement = "update-all" // likewise, update
	RequireCreate        Requirement = "create"     // any signed-in user; the creator gets MANAGE
	RequireFilter        Requirement = "filter"     // any signed-in user; the response is filtered
	RequireAuthenticated Requirement = "authenticated"
	RequireSelf          Requirement = "self"
	RequireAdmin         Requirement = "admin"
	RequireNone          Requirement = "none"
	RequireGraphQL       Requirement = "graphql"    // per field
	RequireNotServed     Requirement = "not-served" // 404 ENDPOINT_NOT_FOUND from the gateway itself
)

// Capability is the permission capability a per-resource requirement
// needs; ok is false for the others.
func (r Requirement) Capability() (c permission.Capability, ok bool) {
	switch r {
	case RequireRead, RequireReadAll:
		return permission.CanRead, true
	case RequireUse:
		return permission.CanUse, true
	case RequireUpdate, RequireUpdateAll:
		return permission.CanUpdate, true
	case RequireDelete:
		return permission.CanDelete, true
	case RequireManage:
		return permission.CanManage, true
	}
	return 0, false
}

// Endpoint is one protected MLflow route: a row of the contract.
type Endpoint struct {
	Method       string   // GET, POST, ...; "*" for any
	Path         string   // the canonical form, with <param> and <path:param> segments
	Twins        []string // the other exact forms (the /ajax-api twin)
	StaticPrefix bool     // served under MLFLOW_STATIC_PREFIX
	Category     string
	RPC          string
	Resource     string // the contract's words: "run (-> parent experiment)"
	Require      Requirement
	IDSource     string // the contract's words: where the id is read
}

// Kind is the permission kind the endpoint is decided on, 0 when it is
// decided on none (admin, authenticated, filtered and create rows).
func (e *Endpoint) Kind() permission.Kind {
	r := e.Resource
	switch {
	case strings.HasPrefix(r, "experiment"), strings.HasPrefix(r, "run"), strings.HasPrefix(r, "logged_model"),
		strings.HasPrefix(r, "trace"), strings.HasPrefix(r, "prompt_optimization_job"), strings.HasPrefix(r, "job"):
		return permission.Experiment
	case strings.HasPrefix(r, "registered_model"):
		return permission.RegisteredModel
	case strings.HasPrefix(r, "scorer"):
		return permission.Scorer
	case strings.HasPrefix(r, "gateway_endpoint"):
		return permission.GatewayEndpoint
	case strings.HasPrefix(r, "gateway_secret"):
		return permission.GatewaySecret
	case strings.HasPrefix(r, "gateway_model_definition"):
		return permission.GatewayModelDefinition
	case strings.HasPrefix(r, "workspace"):
		return permission.Workspace
	}
	return 0
}

// Param is a path parameter a request matched.
type Param struct{ Name, Value string }

// Match is a classified request.
type Match struct {
	Endpoint *Endpoint
	// Params are the path parameters, in path order; a <path:x> parameter
	// holds the rest of the path.
	Params [4]Param
	NParam int
}

// Param returns the value of a path parameter.
func (m *Match) Param(name string) (string, bool) {
	for _, p := range m.Params[:m.NParam] {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// RouterConfig configures a Router.
type RouterConfig struct {
	// StaticPrefix is MLflow's --static-prefix (MLFLOW_STATIC_PREFIX),
	// such as "/mlflow": the rows that MLflow serves through Flask are
	// then found only under it.
	StaticPrefix string
}

// Router classifies requests by (method, canonical path) against the
// endpoint table. Matching is exact and case-sensitive: a trailing slash or
// another case matches no row, and a request no row matches is the
// caller's to refuse (admin-only).
type Router struct {
	exact    map[routeKey]*Endpoint
	patterns []pattern
}

type routeKey struct{ method, path string }

type pattern struct {
	method string
	segs   []segment
	ep     *Endpoint
}

type segKind uint8

const (
	segLiteral segKind = iota
	segParam           // <name>, one segment
	segRest            // <path:name> or *, the rest (one segment or more)
)

type segment struct {
	kind   segKind
	text   string // the literal, or the parameter's name
	suffix string // ":verb" after a parameter in the same segment
}

// NewRouter builds a router over the whole table.
func NewRouter(cfg RouterConfig) (*Router, error) {
	return newRouter(cfg, specEndpoints())
}

func newRouter(cfg RouterConfig, eps []Endpoint) (*Router, error) {
	prefix := strings.TrimSuffix(cfg.StaticPrefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("mlflow: static prefix %q must start with '/'", cfg.StaticPrefix)
	}
	r := &Router{exact: map[routeKey]*Endpoint{}}
	// Rows first, twins after: a path that is both a row and another row's
	// twin follows its own row.
	for pass := 0; pass < 2; pass++ {
		for i := range eps {
			ep := &eps[i]
			paths := []string{ep.Path}
			if pass == 1 {
				paths = ep.Twins
			}
			for _, p := range paths {
				if ep.StaticPrefix {
					p = prefix + p
				}
				if err := r.add(ep, p, pass == 1); err != nil {
					return nil, err
				}
			}
		}
	}
	return r, nil
}

func (r *Router) add(ep *Endpoint, path string, twin bool) error {
	if !strings.ContainsAny(path, "<*") {
		k := routeKey{ep.Method, path}
		if _, taken := r.exact[k]; taken {
			if twin {
				return nil // the path's own row wins
			}
			return fmt.Errorf("mlflow: two rows for %s %s", ep.Method, path)
		}
		r.exact[k] = ep
		return nil
	}
	var segs []segment
	for _, s := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		switch {
		case s == "*" || strings.HasPrefix(s, "<path:"):
			segs = append(segs, segment{kind: segRest, text: strings.TrimSuffix(strings.TrimPrefix(s, "<path:"), ">")})
		case strings.HasPrefix(s, "<"):
			end := strings.IndexByte(s, '>')
			if end < 0 {
				return fmt.Errorf("mlflow: bad path parameter in %s", path)
			}
			segs = append(segs, segment{kind: segParam, text: s[1:end], suffix: s[end+1:]})
		default:
			segs = append(segs, segment{kind: segLiteral, text: s})
		}
	}
	r.patterns = append(r.patterns, pattern{method: ep.Method, segs: segs, ep: ep})
	return nil
}

// Classify finds the row for a request: method (HEAD is taken as GET) and
// the canonical path from auth.CanonicalPath.
func (r *Router) Classify(method, path string) (Match, bool) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if ep, ok := r.exact[routeKey{method, path}]; ok {
		return Match{Endpoint: ep}, true
	}
	if ep, ok := r.exact[routeKey{"*", path}]; ok {
		return Match{Endpoint: ep}, true
	}
	for i := range r.patterns {
		p := &r.patterns[i]
		if p.method != method && p.method != "*" {
			continue
		}
		if m, ok := p.match(path); ok {
			return m, true
		}
	}
	return Match{}, false
}

func (p *pattern) match(path string) (Match, bool) {
	m := Match{Endpoint: p.ep}
	rest := strings.TrimPrefix(path, "/")
	for i, s := range p.segs {
		if s.kind == segRest {
			if rest == "" || i != len(p.segs)-1 {
				return Match{}, false
			}
			if s.text != "*" && !m.add(s.text, rest) {
				return Match{}, false
			}
			return m, true
		}
		if rest == "" && i < len(p.segs) {
			return Match{}, false
		}
		seg := rest
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			seg, rest = rest[:j], rest[j+1:]
			if i == len(p.segs)-1 {
				return Match{}, false // more path than pattern
			}
		} else {
			rest = ""
			if i != len(p.segs)-1 {
				return Match{}, false
			}
		}
		switch s.kind {
		case segLiteral:
			if seg != s.text {
				return Match{}, false
			}
		case segParam:
			v, ok := strings.CutSuffix(seg, s.suffix)
			if !ok || v == "" || !m.add(s.text, v) {
				return Match{}, false
			}
		}
	}
	return m, true
}

func (m *Match) add(name, value string) bool {
	if m.NParam == len(m.Params) {
		return false
	}
	m.Params[m.NParam] = Param{name, value}
	m.NParam++
	return true
}

// Endpoints returns a copy of the table.
func Endpoints() []Endpoint { return specEndpoints() }
