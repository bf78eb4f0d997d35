package mlflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// ErrBadRequest is wrapped by every error about how a request's parameters
// are given: the gateway answers 400 rather than guess which one MLflow
// would act on.
var ErrBadRequest = errors.New("mlflow: ambiguous or malformed request parameters")

// RequestError is a 400 with a reason fit for the client.
type RequestError struct{ Reason string }

func (e *RequestError) Error() string        { return "mlflow: " + e.Reason }
func (e *RequestError) Is(target error) bool { return target == ErrBadRequest }

func badRequest(format string, args ...any) error {
	return &RequestError{Reason: fmt.Sprintf(format, args...)}
}

// DefaultMaxBody is the largest body read to find ids: MLflow's biggest
// JSON requests (log-batch) are far smaller.
const DefaultMaxBody = 4 << 20

// Fields are a request's parameters where MLflow's handler reads them
// (shared/spec/README.md, "How MLflow's handlers read a request"):
//
//   - GET with a query string: the query (experiment_ids[0]= and
//     experiment_ids[]= are lists); the body is ignored;
//   - GET without one: the body, as JSON, whatever the Content-Type;
//   - POST and PUT: the body, as JSON, which must say it is JSON;
//   - PATCH and DELETE: the body, as JSON, whatever the Content-Type; the
//     query is ignored;
//   - a body that is a JSON string holding JSON is decoded again.
//
// Keys are exact: protobuf's JSON accepts a field by its proto name
// (run_id) or its JSON name (runId). Two keys that could be the same field
// (run_id and runId, or a case variant such as Run_Id) are refused, as is a
// key that matches a field only when case is ignored: MLflow would act on
// one of them, and the gateway will not guess which.
type Fields struct {
	m map[string]field // by folded key (lower case, no underscores)
}

type field struct {
	key    string            // as sent
	values []json.RawMessage // JSON values; query values as JSON strings
}

func fold(key string) string { return string(appendFolded(make([]byte, 0, len(key)), key)) }

// appendFolded appends key folded (lower case, no underscores) to dst.
func appendFolded(dst []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '_':
		case 'A' <= c && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// camel is protobuf's JSON name for a proto field name.
func camel(name string) string {
	var b strings.Builder
	up := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' {
			up = true
			continue
		}
		if up && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		b.WriteByte(c)
	}
	return b.String()
}

func (f *Fields) add(key string, v json.RawMessage, repeatable bool) error {
	k := fold(key)
	if prev, ok := f.m[k]; ok {
		if prev.key != key || !repeatable {
			return badRequest("parameter %q given more than once (as %q and %q)", key, prev.key, key)
		}
		prev.values = append(prev.values, v)
		f.m[k] = prev
		return nil
	}
	f.m[k] = field{key: key, values: []json.RawMessage{v}}
	return nil
}

// lookup finds a field by its proto name, refusing a spelling MLflow
// would not read.
func (f Fields) lookup(name string) (field, bool, error) {
	// Folded into a stack buffer: a map lookup by string(b) allocates
	// nothing.
	var buf [64]byte
	fl, ok := f.m[string(appendFolded(buf[:0], name))]
	if !ok {
		return field{}, false, nil
	}
	if fl.key != name && fl.key != camel(name) {
		return field{}, false, badRequest("parameter %q is spelled %q: use %q", name, fl.key, name)
	}
	return fl, true, nil
}

// Has reports whether a field is present (in a spelling MLflow reads).
func (f Fields) Has(name string) bool {
	_, ok, err := f.lookup(name)
	return ok && err == nil
}

// String returns the one value of a field given as a JSON string or
// number (ids are sent both ways). ok is false when the field is absent.
func (f Fields) String(name string) (v string, ok bool, err error) {
	fl, ok, err := f.lookup(name)
	if !ok || err != nil {
		return "", false, err
	}
	if len(fl.values) != 1 {
		return "", false, badRequest("parameter %q given more than once", name)
	}
	s, err := scalar(fl.values[0])
	if err != nil {
		return "", false, badRequest("parameter %q: %v", name, err)
	}
	return s, true, nil
}

// Strings returns every value of a repeated field: a JSON list, or the
// repeated query parameter.
func (f Fields) Strings(name string) ([]string, error) {
	fl, ok, err := f.lookup(name)
	if !ok || err != nil {
		return nil, err
	}
	var out []string
	for _, v := range fl.values {
		if len(v) > 0 && v[0] == '[' {
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				return nil, badRequest("parameter %q: %v", name, err)
			}
			for _, e := range list {
				s, err := scalar(e)
				if err != nil {
					return nil, badRequest("parameter %q: %v", name, err)
				}
				out = append(out, s)
			}
			continue
		}
		s, err := scalar(v)
		if err != nil {
			return nil, badRequest("parameter %q: %v", name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func scalar(v json.RawMessage) (string, error) {
	switch {
	case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && plainJSON(v[1:len(v)-1]):
		// Valid JSON (checked when read) with nothing escaped: the text
		// between the quotes is the string. Ids always look like this.
		return string(v[1 : len(v)-1]), nil
	case len(v) > 0 && v[0] == '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case len(v) > 0 && (v[0] == '-' || ('0' <= v[0] && v[0] <= '9')):
		var n json.Number
		err := json.Unmarshal(v, &n)
		return n.String(), err
	}
	return "", fmt.Errorf("expected a string or a number, got %.20s", string(v))
}

// ReadFields reads a request's parameters as MLflow would, and restores
// the body for the proxy. A body longer than limit (DefaultMaxBody when 0)
// is refused: the caller streams bodies it need not read (artifact
// uploads) instead of calling ReadFields.
func ReadFields(r *http.Request, limit int64) (Fields, error) {
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	f := Fields{m: map[string]field{}}
	switch r.Method {
	case http.MethodGet:
		// MLflow reads a GET's query when it has parameters, else its
		// body; every other method, HEAD included (Flask serves it with
		// the GET view), is read from the JSON body.
		if strings.Trim(r.URL.RawQuery, "&") != "" { // some parameter ("?&" has none)
			return f, readQuery(&f, r.URL.RawQuery)
		}
	case http.MethodPost, http.MethodPut:
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
				return f, badRequest("a %s body must be JSON (Content-Type %q)", r.Method, ct)
			}
		}
	}
	body, err := readBody(r, limit)
	if err != nil {
		return f, err
	}
	return f, readJSON(&f, body)
}

func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, badRequest("body larger than %d bytes", limit)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + 1) // one read, no regrowth
	}
	_, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	body := buf.Bytes()
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body)) // for the proxy
	if err != nil {
		return nil, badRequest("reading the body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, badRequest("body larger than %d bytes", limit)
	}
	return body, nil
}

// plainJSON reports whether b, inside a JSON string, stands for itself:
// printable ASCII with no quote, backslash or character Go's encoder
// escapes (<, >, &).
func plainJSON(b []byte) bool {
	for _, c := range b {
		if !plainByte(c) {
			return false
		}
	}
	return true
}

func plainByte(c byte) bool {
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// plainQuery reports whether a query string needs no unescaping and its
// values no JSON escaping.
func plainQuery(raw string) bool {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '&':
		case c == '%' || c == '+' || c == ';' || !plainByte(c):
			return false
		}
	}
	return true
}

// readQuery reads a query string as MLflow's Flask does: repeated keys
// kept in order, querystring_parser's name[i] spelled as name.
func readQuery(f *Fields, raw string) error {
	if !plainQuery(raw) || strings.Count(raw, "&") >= 64 {
		return readQueryEscaped(f, raw)
	}
	// The usual query (ids, nothing escaped): read in place, each value
	// quoted as JSON without the encoder.
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		key, value, _ := strings.Cut(part, "=")
		if err := f.add(queryName(key), quoteJSON(value), true); err != nil {
			return err
		}
	}
	return nil
}

func quoteJSON(s string) json.RawMessage {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// queryName is querystring_parser's name[i] spelled as name.
func queryName(key string) string {
	if i := strings.IndexByte(key, '['); i > 0 && strings.HasSuffix(key, "]") {
		return key[:i]
	}
	return key
}

func readQueryEscaped(f *Fields, raw string) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return badRequest("malformed query string: %v", err)
	}
	for key, values := range q {
		name := queryName(key)
		for _, v := range values {
			b, _ := json.Marshal(v)
			if err := f.add(name, b, true); err != nil {
				return err
			}
		}
	}
	return nil
}

func readJSON(f *Fields, body []byte) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		return badRequest("the JSON body is not UTF-8") // MLflow's decoder refuses it too
	}
	if !json.Valid(body) {
		return badRequest("malformed JSON body")
	}
	if body[0] == '"' {
		// A JSON string holding JSON: MLflow decodes it again.
		var inner string
		if err := json.Unmarshal(body, &inner); err != nil {
			return badRequest("malformed JSON body: %v", err)
		}
		body = bytes.TrimSpace([]byte(inner))
		if !utf8.Valid(body) || !json.Valid(body) {
			return badRequest("malformed JSON body")
		}
	}
	if body[0] != '{' {
		return badRequest("the JSON body must be an object")
	}
	// The body is valid JSON: walk the top-level object's members, keeping
	// each value as a slice of the body (no copy, no token allocations).
	i := skipSpace(body, 1)
	for i < len(body) && body[i] != '}' {
		end := skipString(body, i)
		rawKey := body[i:end]
		key := string(rawKey[1 : len(rawKey)-1])
		if bytes.IndexByte(rawKey, '\\') >= 0 {
			if err := json.Unmarshal(rawKey, &key); err != nil {
				return badRequest("malformed JSON body: %v", err)
			}
		}
		i = skipSpace(body, end)
		i = skipSpace(body, i+1) // the colon
		vEnd := skipValue(body, i)
		if err := f.add(key, body[i:vEnd], false); err != nil {
			return err
		}
		i = skipSpace(body, vEnd)
		if i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] (valid JSON).
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the value starting at b[i] (valid JSON).
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

// Nested returns the values at a path of nested fields: path[0] is a
// field of f, each next element a field of the object found (a list is
// walked element by element), the last a string or number. Keys are exact
// at every level, as at the top.
func (f Fields) Nested(path ...string) ([]string, error) {
	fl, ok, err := f.lookup(path[0])
	if !ok || err != nil {
		return nil, err
	}
	var out []string
	for _, v := range fl.values {
		vs, err := nested(v, path[1:], path[0])
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

func nested(v json.RawMessage, path []string, at string) ([]string, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			return nil, badRequest("parameter %q: %v", at, err)
		}
		var out []string
		for _, e := range list {
			vs, err := nested(e, path, at)
			if err != nil {
				return nil, err
			}
			out = append(out, vs...)
		}
		return out, nil
	}
	if len(path) == 0 {
		s, err := scalar(v)
		if err != nil {
			return nil, badRequest("parameter %q: %v", at, err)
		}
		return []string{s}, nil
	}
	if len(v) == 0 || v[0] != '{' {
		return nil, badRequest("parameter %q must be an object", at)
	}
	inner := Fields{m: map[string]field{}}
	if err := readJSON(&inner, v); err != nil {
		return nil, err
	}
	return inner.Nested(path...)
}

// Bool returns a boolean field (JSON true/false, or "true"/"false" as a
// string or in a query); false when absent.
func (f Fields) Bool(name string) (bool, error) {
	fl, ok, err := f.lookup(name)
	if !ok || err != nil {
		return false, err
	}
	if len(fl.values) != 1 {
		return false, badRequest("parameter %q given more than once", name)
	}
	switch v := string(bytes.TrimSpace(fl.values[0])); strings.ToLower(strings.Trim(v, `"`)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badRequest("parameter %q must be true or false", name)
}
