package mlflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// MLflow's GraphQL schema differs between versions (3.5 added
// mlflowSearchRuns and run outputs; later ones add more), so the gateway
// validates queries against the schema of the MLflow it sits in front of,
// read by introspection. The embedded copy is the fallback when MLflow
// cannot be asked. Either way only the top-level fields graphQLField knows
// are authorized; the schema decides what a query may select below them.

// gqlSchema is a schema and where it came from.
type gqlSchema struct {
	schema  *ast.Schema
	version string // MLflow's version, "" for the embedded copy
}

// introspectionQuery asks for everything needed to rebuild the schema as
// SDL: types, fields, arguments, enum values, input fields, directives.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types {
      kind name
      fields(includeDeprecated: true) { name args { name type { ...TypeRef } } type { ...TypeRef } }
      inputFields { name type { ...TypeRef } }
      interfaces { name }
      enumValues(includeDeprecated: true) { name }
      possibleTypes { name }
    }
    directives { name locations args { name type { ...TypeRef } } }
  }
}
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } }
}`

type introType struct {
	Kind   string     `json:"kind"`
	Name   string     `json:"name"`
	OfType *introType `json:"ofType"`
}

type introField struct {
	Name string       `json:"name"`
	Args []introField `json:"args"`
	Type introType    `json:"type"`
}

type introspection struct {
	Schema struct {
		QueryType        *struct{ Name string } `json:"queryType"`
		MutationType     *struct{ Name string } `json:"mutationType"`
		SubscriptionType *struct{ Name string } `json:"subscriptionType"`
		Types            []struct {
			Kind          string                  `json:"kind"`
			Name          string                  `json:"name"`
			Fields        []introField            `json:"fields"`
			InputFields   []introField            `json:"inputFields"`
			Interfaces    []struct{ Name string } `json:"interfaces"`
			EnumValues    []struct{ Name string } `json:"enumValues"`
			PossibleTypes []struct{ Name string } `json:"possibleTypes"`
		} `json:"types"`
		Directives []struct {
			Name      string       `json:"name"`
			Locations []string     `json:"locations"`
			Args      []introField `json:"args"`
		} `json:"directives"`
	} `json:"__schema"`
}

// errIntrospection: MLflow's introspection answer cannot be made a schema.
var errIntrospection = errors.New("mlflow: GraphQL introspection")

// schemaFromIntrospection rebuilds a schema from an introspection answer's
// data, as SDL parsed by gqlparser (so it is validated like the embedded
// copy).
func schemaFromIntrospection(data []byte) (*ast.Schema, error) {
	var in introspection
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("%w: %v", errIntrospection, err)
	}
	s := in.Schema
	if s.QueryType == nil || s.QueryType.Name == "" {
		return nil, fmt.Errorf("%w: no query type", errIntrospection)
	}
	var b strings.Builder
	b.WriteString("schema {\n  query: " + s.QueryType.Name + "\n")
	if s.MutationType != nil && s.MutationType.Name != "" {
		b.WriteString("  mutation: " + s.MutationType.Name + "\n")
	}
	if s.SubscriptionType != nil && s.SubscriptionType.Name != "" {
		b.WriteString("  subscription: " + s.SubscriptionType.Name + "\n")
	}
	b.WriteString("}\n")
	builtinDirectives := map[string]bool{"include": true, "skip": true, "deprecated": true, "specifiedBy": true, "oneOf": true, "defer": true}
	for _, d := range s.Directives {
		if builtinDirectives[d.Name] {
			continue
		}
		if !validName(d.Name) || len(d.Locations) == 0 {
			return nil, fmt.Errorf("%w: directive %q", errIntrospection, d.Name)
		}
		for _, l := range d.Locations {
			if !validName(l) {
				return nil, fmt.Errorf("%w: directive location %q", errIntrospection, l)
			}
		}
		args, err := sdlArgs(d.Args)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "directive @%s%s on %s\n", d.Name, args, strings.Join(d.Locations, " | "))
	}
	builtinScalars := map[string]bool{"String": true, "Int": true, "Float": true, "Boolean": true, "ID": true}
	for _, t := range s.Types {
		if strings.HasPrefix(t.Name, "__") || builtinScalars[t.Name] {
			continue
		}
		if !validName(t.Name) {
			return nil, fmt.Errorf("%w: type %q", errIntrospection, t.Name)
		}
		switch t.Kind {
		case "SCALAR":
			fmt.Fprintf(&b, "scalar %s\n", t.Name)
		case "OBJECT", "INTERFACE", "INPUT_OBJECT":
			keyword, fields := map[string]string{"OBJECT": "type", "INTERFACE": "interface", "INPUT_OBJECT": "input"}[t.Kind], t.Fields
			if t.Kind == "INPUT_OBJECT" {
				fields = t.InputFields
			}
			fmt.Fprintf(&b, "%s %s", keyword, t.Name)
			if len(t.Interfaces) > 0 {
				var names []string
				for _, i := range t.Interfaces {
					if !validName(i.Name) {
						return nil, fmt.Errorf("%w: interface %q", errIntrospection, i.Name)
					}
					names = append(names, i.Name)
				}
				b.WriteString(" implements " + strings.Join(names, " & "))
			}
			b.WriteString(" {\n")
			for _, f := range fields {
				typ, err := sdlType(f.Type)
				if err != nil {
					return nil, err
				}
				args, err := sdlArgs(f.Args)
				if err != nil {
					return nil, err
				}
				if !validName(f.Name) {
					return nil, fmt.Errorf("%w: field %q", errIntrospection, f.Name)
				}
				fmt.Fprintf(&b, "  %s%s: %s\n", f.Name, args, typ)
			}
			b.WriteString("}\n")
		case "ENUM":
			fmt.Fprintf(&b, "enum %s {\n", t.Name)
			for _, v := range t.EnumValues {
				if !validName(v.Name) {
					return nil, fmt.Errorf("%w: enum value %q", errIntrospection, v.Name)
				}
				b.WriteString("  " + v.Name + "\n")
			}
			b.WriteString("}\n")
		case "UNION":
			var names []string
			for _, p := range t.PossibleTypes {
				if !validName(p.Name) {
					return nil, fmt.Errorf("%w: union member %q", errIntrospection, p.Name)
				}
				names = append(names, p.Name)
			}
			sort.Strings(names)
			fmt.Fprintf(&b, "union %s = %s\n", t.Name, strings.Join(names, " | "))
		default:
			return nil, fmt.Errorf("%w: type %s of kind %q", errIntrospection, t.Name, t.Kind)
		}
	}
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "mlflow-introspected.graphql", Input: b.String()})
	if gerr != nil {
		return nil, fmt.Errorf("%w: %v", errIntrospection, gerr)
	}
	return schema, nil
}

func sdlArgs(args []introField) (string, error) {
	if len(args) == 0 {
		return "", nil
	}
	var parts []string
	for _, a := range args {
		typ, err := sdlType(a.Type)
		if err != nil {
			return "", err
		}
		if !validName(a.Name) {
			return "", fmt.Errorf("%w: argument %q", errIntrospection, a.Name)
		}
		parts = append(parts, a.Name+": "+typ)
	}
	return "(" + strings.Join(parts, ", ") + ")", nil
}

// sdlType writes a type reference: [T!]! and the like.
func sdlType(t introType) (string, error) {
	switch t.Kind {
	case "NON_NULL", "LIST":
		if t.OfType == nil {
			return "", fmt.Errorf("%w: %s without its type", errIntrospection, t.Kind)
		}
		inner, err := sdlType(*t.OfType)
		if err != nil {
			return "", err
		}
		if t.Kind == "LIST" {
			return "[" + inner + "]", nil
		}
		return inner + "!", nil
	}
	if !validName(t.Name) {
		return "", fmt.Errorf("%w: type reference %q", errIntrospection, t.Name)
	}
	return t.Name, nil
}

// validName is a GraphQL name: what MLflow answers is written into SDL,
// so nothing else may reach it.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// GraphQLSchema reads the GraphQL schema of the MLflow at the upstream URL
// by introspection, with MLflow's version (GET /version).
func (u *Upstream) GraphQLSchema(ctx context.Context) (*ast.Schema, string, error) {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	version, err := u.Version(ctx)
	if err != nil {
		return nil, "", err
	}
	body, _ := json.Marshal(map[string]string{"query": introspectionQuery})
	status, answer, err := u.call(ctx, http.MethodPost, "/graphql", nil, body)
	if err != nil {
		return nil, "", err
	}
	if status != http.StatusOK {
		return nil, "", fmt.Errorf("%w: /graphql answered %d", ErrUnavailable, status)
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(answer, &r); err != nil {
		return nil, "", fmt.Errorf("%w: %v", errIntrospection, err)
	}
	if len(r.Errors) > 0 {
		return nil, "", fmt.Errorf("%w: %s", errIntrospection, r.Errors[0].Message)
	}
	schema, err := schemaFromIntrospection(r.Data)
	return schema, version, err
}

// Version is MLflow's version (GET /version, a line of text).
func (u *Upstream) Version(ctx context.Context) (string, error) {
	status, answer, err := u.call(ctx, http.MethodGet, "/version", nil, nil)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(answer))
	if status != http.StatusOK || v == "" || len(v) > 64 {
		return "", fmt.Errorf("%w: /version answered %d", ErrUnavailable, status)
	}
	return v, nil
}

// schemaSource is what Lookups offers when it can ask MLflow for its
// schema (*Upstream does).
type schemaSource interface {
	GraphQLSchema(ctx context.Context) (*ast.Schema, string, error)
	Version(ctx context.Context) (string, error)
}

// LoadGraphQLSchema reads MLflow's own GraphQL schema (when Lookups can)
// and decides GraphQL queries against it from now on. On an error the
// schema in use stays (the embedded copy at first); the caller logs it.
func (a *Authorizer) LoadGraphQLSchema(ctx context.Context) error {
	src, ok := a.cfg.Lookups.(schemaSource)
	if !ok {
		return errors.New("mlflow: these lookups cannot read MLflow's GraphQL schema")
	}
	schema, version, err := src.GraphQLSchema(ctx)
	if err != nil {
		return err
	}
	a.gql.Store(&gqlSchema{schema: schema, version: version})
	a.cfg.Logger.InfoContext(ctx, "mlflow: GraphQL schema read from MLflow", "version", version)
	return nil
}

// schemaRecheck spaces the version checks a query the schema refuses
// causes.
const schemaRecheck = 30 * time.Second

// reloadSchema is called when a query does not validate: if MLflow's
// version changed since the schema was read (an upgrade behind the
// gateway), the schema is read again. It reports whether it was.
func (a *Authorizer) reloadSchema(ctx context.Context) bool {
	src, ok := a.cfg.Lookups.(schemaSource)
	if !ok {
		return false
	}
	now := time.Now().UnixNano()
	if last := a.schemaChecked.Load(); now-last < int64(schemaRecheck) || !a.schemaChecked.CompareAndSwap(last, now) {
		return false
	}
	v, err := src.Version(ctx)
	if err != nil || v == a.gql.Load().version {
		return false
	}
	if err := a.LoadGraphQLSchema(ctx); err != nil {
		a.cfg.Logger.WarnContext(ctx, "mlflow: MLflow's version changed but its GraphQL schema could not be read", "version", v, "error", err)
		return false
	}
	return true
}
