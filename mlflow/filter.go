package mlflow

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/permission"
)

// listing is how a filtered row's answer is read: where its items are, how
// an item names the resource it is decided on, and how MLflow pages it.
type listing struct {
	items string // the answer's list
	// resource is the item's resource and whether it names one; an item
	// that names none is dropped.
	resource func(item map[string]any) (permission.Resource, bool)
	paged    bool // max_results and page_token, next_page_token
	deflt    int  // MLflow's max_results when none is given
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func modelResource(name string, tags any) permission.Resource {
	kind := permission.RegisteredModel
	if list, ok := tags.([]any); ok {
		for _, t := range list {
			if m, ok := t.(map[string]any); ok && str(m, "key") == promptTag && strings.EqualFold(str(m, "value"), "true") {
				kind = permission.Prompt
			}
		}
	}
	return permission.Resource{Kind: kind, ID: name}
}

// listings are the rows whose answers are filtered (gateway_required:
// filter), by row path.
var listings = map[string]listing{
	"/api/2.0/mlflow/experiments/search": {items: "experiments", paged: true, deflt: 1000,
		resource: func(m map[string]any) (permission.Resource, bool) {
			id, ok := CanonicalExperimentID(str(m, "experiment_id"))
			return permission.Resource{Kind: permission.Experiment, ID: id, Name: str(m, "name")}, ok
		}},
	"/api/2.0/mlflow/registered-models/search": {items: "registered_models", paged: true, deflt: 100,
		resource: func(m map[string]any) (permission.Resource, bool) {
			return modelResource(str(m, "name"), m["tags"]), str(m, "name") != ""
		}},
	// A version is decided on its registered model. Its tags are the
	// version's: the model's kind is not in the answer, so a version is
	// read under its model's registered-model grant, as MLflow does.
	"/api/2.0/mlflow/model-versions/search": {items: "model_versions", paged: true, deflt: 10000,
		resource: func(m map[string]any) (permission.Resource, bool) {
			return permission.Resource{Kind: permission.RegisteredModel, ID: str(m, "name")}, str(m, "name") != ""
		}},
	"/api/2.0/mlflow/logged-models/search": {items: "models", paged: true, deflt: 100,
		resource: func(m map[string]any) (permission.Resource, bool) {
			info, _ := m["info"].(map[string]any)
			id, ok := CanonicalExperimentID(str(info, "experiment_id"))
			return permission.Resource{Kind: permission.Experiment, ID: id}, ok
		}},
	"/api/3.0/mlflow/gateway/secrets/list": {items: "secrets",
		resource: func(m map[string]any) (permission.Resource, bool) {
			return permission.Resource{Kind: permission.GatewaySecret, ID: str(m, "secret_id"), Name: str(m, "secret_name")}, str(m, "secret_id") != ""
		}},
	"/api/3.0/mlflow/gateway/endpoints/list": {items: "endpoints",
		resource: func(m map[string]any) (permission.Resource, bool) {
			return permission.Resource{Kind: permission.GatewayEndpoint, ID: str(m, "endpoint_id"), Name: str(m, "name")}, str(m, "endpoint_id") != ""
		}},
	"/api/3.0/mlflow/gateway/model-definitions/list": {items: "model_definitions",
		resource: func(m map[string]any) (permission.Resource, bool) {
			return permission.Resource{Kind: permission.GatewayModelDefinition, ID: str(m, "model_definition_id"), Name: str(m, "name")}, str(m, "model_definition_id") != ""
		}},
}

// cursor is where a filtered search goes on: the upstream page (its token
// and size) and how many of its items were already looked at. It travels
// to the client signed, bound to the user and the search.
type cursor struct {
	Token string `json:"t,omitempty"`
	Size  int    `json:"n"`
	Skip  int    `json:"s,omitempty"`
	User  string `json:"u"`
	Query string `json:"q"` // hash of the search's other parameters
}

// ErrBadPageToken: a page_token the gateway did not issue, or issued for
// another user or search.
var ErrBadPageToken = errors.New("mlflow: invalid page_token")

func (a *Authorizer) sign(c cursor) string {
	b, _ := json.Marshal(c)
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte("mlflowauth page token\x00"))
	mac.Write(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (a *Authorizer) open(token, user, query string) (cursor, error) {
	body, sig, ok := strings.Cut(token, ".")
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	s, err2 := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil {
		return cursor{}, fmt.Errorf("%w: malformed", ErrBadPageToken)
	}
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte("mlflowauth page token\x00"))
	mac.Write(b)
	if !hmac.Equal(s, mac.Sum(nil)) {
		return cursor{}, fmt.Errorf("%w: not issued by this gateway", ErrBadPageToken)
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Size <= 0 || c.Skip < 0 {
		return cursor{}, fmt.Errorf("%w: malformed", ErrBadPageToken)
	}
	if c.User != user || c.Query != query {
		return cursor{}, fmt.Errorf("%w: issued for another search", ErrBadPageToken)
	}
	return c, nil
}

// search is one filtered search's parameters: the request's own, with
// max_results and page_token taken out.
type search struct {
	post   bool
	params map[string]json.RawMessage // POST: the JSON body's members
	query  url.Values                 // GET
	want   int
	token  string
}

// pagingKeys are every spelling MLflow would read of the paging fields.
var pagingKeys = map[string]string{"maxresults": "max_results", "pagetoken": "page_token"}

func readSearch(r *http.Request, body []byte, deflt int) (*search, error) {
	s := &search{want: deflt}
	var maxResults, token []string
	// MLflow reads a GET's query when it has one, else the JSON body.
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, badRequest("malformed query string")
		}
		for k, v := range q {
			if name, ok := pagingKeys[fold(k)]; ok {
				if name == "max_results" {
					maxResults = append(maxResults, v...)
				} else {
					token = append(token, v...)
				}
				delete(q, k)
			}
		}
		s.query = q
	} else {
		s.post = true
		s.params = map[string]json.RawMessage{}
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &s.params); err != nil {
				return nil, badRequest("the body is not a JSON object: %v", err)
			}
		}
		for k, v := range s.params {
			if name, ok := pagingKeys[fold(k)]; ok {
				var x any
				if err := json.Unmarshal(v, &x); err != nil {
					return nil, badRequest("parameter %q: %v", k, err)
				}
				if name == "max_results" {
					maxResults = append(maxResults, fmt.Sprint(x))
				} else {
					t, _ := x.(string)
					token = append(token, t)
				}
				delete(s.params, k)
			}
		}
	}
	if len(maxResults) > 1 || len(token) > 1 {
		return nil, badRequest("max_results or page_token given more than once")
	}
	if len(maxResults) == 1 {
		n, err := strconv.Atoi(maxResults[0])
		if err != nil || n <= 0 || n > 50000 {
			return nil, badRequest("max_results must be a number from 1 to 50000")
		}
		s.want = n
	}
	if len(token) == 1 {
		s.token = token[0]
	}
	return s, nil
}

// key identifies the search for its tokens: the path and every other
// parameter, canonically.
func (s *search) key(path string) string {
	h := sha256.New()
	h.Write([]byte(path + "\x00"))
	if s.post {
		keys := make([]string, 0, len(s.params))
		for k := range s.params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var v any
			_ = json.Unmarshal(s.params[k], &v)
			b, _ := json.Marshal(v) // canonical: maps sorted, spacing gone
			fmt.Fprintf(h, "%s=%s\x00", k, b)
		}
	} else {
		h.Write([]byte(s.query.Encode()))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// page builds the upstream request for one page.
func (s *search) page(r *http.Request, token string, size int) (*http.Request, error) {
	out := r.Clone(r.Context())
	out.Header.Del("Accept-Encoding") // the answer is rewritten: fetch it plain
	if s.post {
		p := make(map[string]any, len(s.params)+2)
		for k, v := range s.params {
			p[k] = v
		}
		p["max_results"] = size
		if token != "" {
			p["page_token"] = token
		}
		b, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		out.Body = io.NopCloser(bytes.NewReader(b))
		out.ContentLength = int64(len(b))
		out.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return out, nil
	}
	q := url.Values{}
	for k, v := range s.query {
		q[k] = v
	}
	q.Set("max_results", strconv.Itoa(size))
	if token != "" {
		q.Set("page_token", token)
	}
	u := *r.URL
	u.RawQuery = q.Encode()
	out.URL = &u
	out.RequestURI = ""
	out.Body = http.NoBody
	out.ContentLength = 0
	return out, nil
}

// filterPages and filterTime bound a refill: past them a partial page is
// answered with a token to go on.
const (
	defaultFilterPages = 10
	defaultFilterTime  = 5 * time.Second
)

// filtered answers a filtered row for a non-admin: MLflow's answer keeps
// only what the caller may read, refilled page by page up to max_results
// within the bounds, with a signed token to continue.
func (a *Authorizer) filtered(w http.ResponseWriter, r *http.Request, next http.Handler, subj permission.Subject, l listing, body []byte) {
	fail := func(err error) {
		var ae *auth.Error
		if !errors.As(err, &ae) {
			ae = &auth.Error{Status: http.StatusBadGateway, Code: auth.CodeTemporarilyUnavailable, Message: "Could not filter MLflow's answer: " + err.Error(), Err: err}
		}
		auth.WriteError(w, ae)
	}
	if !l.paged {
		resp, err := a.fetch(r, next)
		if err != nil {
			fail(err)
			return
		}
		if resp.status != http.StatusOK {
			resp.send(w)
			return
		}
		items, err := resp.items(l.items)
		if err != nil {
			fail(err)
			return
		}
		snap := a.cfg.Engine.Snapshot()
		kept := a.keep(snap, subj, l, items)
		resp.doc[l.items] = kept
		a.sendJSON(w, resp.header, resp.doc)
		return
	}
	s, err := readSearch(r, body, l.deflt)
	if err != nil {
		fail(auth.BadRequest(auth.CodeInvalidParameterValue, err.Error()))
		return
	}
	key := s.key(r.URL.Path)
	// Pages of at least 1,000 (every listing MLflow pages allows that
	// many): a sparse search costs few round trips.
	cur := cursor{Size: max(s.want, 1000), User: subj.Username, Query: key}
	if s.token != "" {
		if cur, err = a.open(s.token, subj.Username, key); err != nil {
			fail(auth.BadRequest(auth.CodeInvalidParameterValue, err.Error()))
			return
		}
	}
	deadline := time.Now().Add(a.filterTime)
	var kept []any
	var doc map[string]any
	var header http.Header
	nextToken := ""
	for pages := 0; ; pages++ {
		if pages == a.filterPages || (pages > 0 && time.Now().After(deadline)) {
			nextToken = a.sign(cur) // a partial page: go on from here
			break
		}
		req, err := s.page(r, cur.Token, cur.Size)
		if err != nil {
			fail(err)
			return
		}
		resp, err := a.fetch(req, next)
		if err != nil {
			fail(err)
			return
		}
		if resp.status != http.StatusOK {
			resp.send(w) // MLflow's own error, such as a bad filter
			return
		}
		items, err := resp.items(l.items)
		if err != nil {
			fail(err)
			return
		}
		if doc == nil {
			doc, header = resp.doc, resp.header
		}
		upstreamNext, _ := resp.doc["next_page_token"].(string)
		snap := a.cfg.Engine.Snapshot()
		full := false
		for i := cur.Skip; i < len(items); i++ {
			if a.readable(snap, subj, l, items[i]) {
				kept = append(kept, items[i])
			}
			if len(kept) == s.want {
				full = true
				cur.Skip = i + 1
				if cur.Skip == len(items) {
					cur.Token, cur.Skip = upstreamNext, 0
				}
				break
			}
		}
		if full {
			if cur.Token != "" || cur.Skip > 0 {
				nextToken = a.sign(cur)
			}
			break
		}
		if upstreamNext == "" {
			break
		}
		cur.Token, cur.Skip = upstreamNext, 0
	}
	if kept == nil {
		kept = []any{}
	}
	delete(doc, "next_page_token")
	if len(kept) > 0 {
		doc[l.items] = kept
	} else {
		delete(doc, l.items) // as MLflow answers an empty page
	}
	if nextToken != "" {
		doc["next_page_token"] = nextToken
	}
	a.sendJSON(w, header, doc)
}

func (a *Authorizer) readable(snap *permission.Snapshot, subj permission.Subject, l listing, item any) bool {
	m, ok := item.(map[string]any)
	if !ok {
		return false
	}
	res, ok := l.resource(m)
	return ok && snap.Decide(subj, res).Allows(permission.CanRead)
}

func (a *Authorizer) keep(snap *permission.Snapshot, subj permission.Subject, l listing, items []any) []any {
	kept := []any{}
	for _, it := range items {
		if a.readable(snap, subj, l, it) {
			kept = append(kept, it)
		}
	}
	return kept
}

// upstreamAnswer is one answer fetched through next.
type upstreamAnswer struct {
	status int
	header http.Header
	raw    []byte
	doc    map[string]any
}

func (u *upstreamAnswer) send(w http.ResponseWriter) {
	for k, v := range u.header {
		w.Header()[k] = v
	}
	w.WriteHeader(u.status)
	_, _ = w.Write(u.raw)
}

func (u *upstreamAnswer) items(key string) ([]any, error) {
	if u.doc == nil {
		dec := json.NewDecoder(bytes.NewReader(u.raw))
		dec.UseNumber()
		if err := dec.Decode(&u.doc); err != nil {
			return nil, fmt.Errorf("MLflow's answer is not JSON: %w", err)
		}
	}
	v, ok := u.doc[key]
	if !ok || v == nil {
		return nil, nil // an empty page omits the list
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("MLflow's %q is not a list", key)
	}
	return list, nil
}

// fetch sends req through next (the proxy) and reads the whole answer.
func (a *Authorizer) fetch(req *http.Request, next http.Handler) (*upstreamAnswer, error) {
	c := &capture{header: http.Header{}, limit: a.maxAnswer}
	next.ServeHTTP(c, req)
	if c.overflow {
		return nil, fmt.Errorf("MLflow's answer is larger than %d bytes", a.maxAnswer)
	}
	if c.status == 0 {
		return nil, errors.New("MLflow gave no answer")
	}
	if enc := c.header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		return nil, fmt.Errorf("MLflow answered with Content-Encoding %q", enc)
	}
	return &upstreamAnswer{status: c.status, header: c.header, raw: c.body.Bytes()}, nil
}

func (a *Authorizer) sendJSON(w http.ResponseWriter, header http.Header, doc map[string]any) {
	b, err := json.Marshal(doc)
	if err != nil {
		auth.WriteError(w, &auth.Error{Status: http.StatusBadGateway, Code: auth.CodeTemporarilyUnavailable, Message: "Could not encode the filtered answer", Err: err})
		return
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Del("Etag")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "private, no-store") // this answer is the caller's alone
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
