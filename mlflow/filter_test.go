package mlflow

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/internal/mlflowtest"
	"github.com/mlflowauth/mlflowauth/permission"
)

// catalogOf is n experiments in MLflow's recorded shape, ids 1000 on.
func catalogOf(n int) []map[string]any {
	var c []map[string]any
	for i := range n {
		id := fmt.Sprint(1000 + i)
		c = append(c, map[string]any{"experiment_id": id, "name": fmt.Sprintf("exp-%03d", i),
			"artifact_location": "mlflow-artifacts:/" + id, "lifecycle_stage": "active",
			"last_update_time": 1795439449244, "creation_time": 1795439449244})
	}
	return c
}

// searchGateway is a gateway in front of d whose user "dave" may read the
// experiments readable lists.
func searchGateway(t testing.TB, d *mlflowtest.Double, cfg Config, readable ...string) *httptest.Server {
	data := &permission.Data{Users: []permission.User{{Name: "dave", Active: true}, {Name: "erin", Active: true}, {Name: "root", Active: true, Admin: true}}}
	for _, id := range readable {
		data.Grants = append(data.Grants, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: id}, Principal: permission.ForUser("dave"), Level: permission.Read})
	}
	data.Grants = append(data.Grants, permission.Grant{Resource: permission.Resource{Kind: permission.GatewaySecret, ID: "sec-1"}, Principal: permission.ForUser("dave"), Level: permission.Read})
	e, err := permission.NewEngine(context.Background(), permission.LoaderFunc(func(context.Context) (*permission.Data, error) { return data, nil }), permission.Config{})
	require.NoError(t, err)
	up, err := NewUpstream(UpstreamConfig{URL: d.URL(), Timeout: 2 * time.Second})
	require.NoError(t, err)
	cfg.Engine, cfg.Lookups, cfg.Logger = e, up, slog.New(slog.DiscardHandler)
	a, err := NewAuthorizer(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(gatewayHandler(a, d.URL()))
	t.Cleanup(srv.Close)
	return srv
}

type searchPage struct {
	code    int
	header  http.Header
	ids     []string
	token   string
	errCode string
}

func searchExperiments(t testing.TB, srv *httptest.Server, user, method string, params map[string]any) searchPage {
	var req *http.Request
	var err error
	if method == http.MethodGet {
		q := url.Values{}
		for k, v := range params {
			q.Set(k, fmt.Sprint(v))
		}
		req, err = http.NewRequest(method, srv.URL+"/api/2.0/mlflow/experiments/search?"+q.Encode(), nil)
	} else {
		b, _ := json.Marshal(params)
		req, err = http.NewRequest(method, srv.URL+"/ajax-api/2.0/mlflow/experiments/search", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
	}
	require.NoError(t, err)
	req.Header.Set("X-Test-User", user)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Experiments []struct {
			ID string `json:"experiment_id"`
		} `json:"experiments"`
		Token     string `json:"next_page_token"`
		ErrorCode string `json:"error_code"`
	}
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	p := searchPage{code: resp.StatusCode, header: resp.Header, token: out.Token, errCode: out.ErrorCode}
	for _, e := range out.Experiments {
		p.ids = append(p.ids, e.ID)
	}
	return p
}

// A user who may read 3 of 200 experiments pages through them two at a
// time and gets exactly those 3, in MLflow's order.
func TestFilteredSearchPaging(t *testing.T) {
	d := mlflowtest.New(t)
	d.Catalog = catalogOf(200)
	srv := searchGateway(t, d, Config{SecretKey: []byte("k")}, "1005", "1100", "1190")
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			var got []string
			params := map[string]any{"max_results": 2}
			for range 10 {
				p := searchExperiments(t, srv, "dave", method, params)
				require.Equal(t, 200, p.code, p.errCode)
				assert.LessOrEqual(t, len(p.ids), 2)
				assert.Equal(t, "private, no-store", p.header.Get("Cache-Control"))
				assert.Empty(t, p.header.Get("Content-Encoding"), "fetched plain, sent plain")
				got = append(got, p.ids...)
				if p.token == "" {
					break
				}
				params["page_token"] = p.token
			}
			assert.Equal(t, []string{"1005", "1100", "1190"}, got)
		})
	}
	// Admins get MLflow's answer as it is.
	p := searchExperiments(t, srv, "root", http.MethodGet, map[string]any{"max_results": 2})
	assert.Equal(t, []string{"1000", "1001"}, p.ids)
	assert.Equal(t, "eyJvZmZzZXQiOiAyfQ==", p.token, "MLflow's own token")
	// Someone who may read nothing gets an empty answer, no token.
	p = searchExperiments(t, srv, "erin", http.MethodPost, map[string]any{"max_results": 5})
	assert.Equal(t, 200, p.code)
	assert.Empty(t, p.ids)
	assert.Empty(t, p.token)
	// MLflow's refusal passes through.
	p = searchExperiments(t, srv, "dave", http.MethodPost, map[string]any{"filter": "bad"})
	assert.Equal(t, 400, p.code)
	assert.Equal(t, "INVALID_PARAMETER_VALUE", p.errCode)
}

// Continuation tokens are good on any replica sharing SECRET_KEY, and on
// no other search, user or key.
func TestFilteredSearchTokens(t *testing.T) {
	d := mlflowtest.New(t)
	d.Catalog = catalogOf(200)
	one := searchGateway(t, d, Config{SecretKey: []byte("shared")}, "1005", "1100", "1190")
	two := searchGateway(t, d, Config{SecretKey: []byte("shared")}, "1005", "1100", "1190")
	other := searchGateway(t, d, Config{SecretKey: []byte("not-shared")}, "1005", "1100", "1190")

	p1 := searchExperiments(t, one, "dave", http.MethodPost, map[string]any{"max_results": 2, "filter": "name LIKE 'exp%'"})
	require.Equal(t, []string{"1005", "1100"}, p1.ids)
	require.NotEmpty(t, p1.token)
	p2 := searchExperiments(t, two, "dave", http.MethodPost, map[string]any{"max_results": 2, "filter": "name LIKE 'exp%'", "page_token": p1.token})
	assert.Equal(t, []string{"1190"}, p2.ids, "the second replica goes on")
	assert.Empty(t, p2.token)

	for name, c := range map[string]struct {
		srv    *httptest.Server
		user   string
		params map[string]any
	}{
		"another key":       {other, "dave", map[string]any{"max_results": 2, "filter": "name LIKE 'exp%'", "page_token": p1.token}},
		"another user":      {two, "erin", map[string]any{"max_results": 2, "filter": "name LIKE 'exp%'", "page_token": p1.token}},
		"another search":    {two, "dave", map[string]any{"max_results": 2, "filter": "name LIKE 'x%'", "page_token": p1.token}},
		"MLflow's token":    {two, "dave", map[string]any{"page_token": "eyJvZmZzZXQiOiAyfQ=="}},
		"tampered":          {two, "dave", map[string]any{"max_results": 2, "filter": "name LIKE 'exp%'", "page_token": "x" + p1.token}},
		"two spellings":     {two, "dave", map[string]any{"max_results": 2, "maxResults": 3}},
		"a bad max_results": {two, "dave", map[string]any{"max_results": "lots"}},
	} {
		p := searchExperiments(t, c.srv, c.user, http.MethodPost, c.params)
		assert.Equal(t, 400, p.code, name)
		assert.Equal(t, "INVALID_PARAMETER_VALUE", p.errCode, name)
	}
}

// A sparse search stops at the page bound with a partial page and a token
// that goes on from where it stopped.
func TestFilteredSearchBound(t *testing.T) {
	d := mlflowtest.New(t)
	d.Catalog = catalogOf(3000)
	srv := searchGateway(t, d, Config{FilterPages: 2}, "3990")
	before := d.Searched.Load()
	p := searchExperiments(t, srv, "dave", http.MethodGet, map[string]any{"max_results": 10})
	assert.Equal(t, 200, p.code)
	assert.Empty(t, p.ids, "two pages hold nothing dave may read")
	require.NotEmpty(t, p.token, "a partial page says where to go on")
	assert.Equal(t, int32(2), d.Searched.Load()-before, "no more than the bound")
	p = searchExperiments(t, srv, "dave", http.MethodGet, map[string]any{"max_results": 10, "page_token": p.token})
	assert.Equal(t, []string{"3990"}, p.ids)
	assert.Empty(t, p.token)
}

func TestFilteredLists(t *testing.T) {
	d := mlflowtest.New(t)
	srv := searchGateway(t, d, Config{})
	get := func(user string) map[string]any {
		req, _ := http.NewRequest("GET", srv.URL+"/api/3.0/mlflow/gateway/secrets/list", nil)
		req.Header.Set("X-Test-User", user)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	assert.Len(t, get("dave")["secrets"], 1, "dave reads sec-1 only")
	assert.Equal(t, "sec-1", get("dave")["secrets"].([]any)[0].(map[string]any)["secret_id"])
	assert.Empty(t, get("erin")["secrets"])
	assert.Len(t, get("root")["secrets"], 2)
}

// BenchmarkSparseSearch: a user who may read 5 of 10,000 experiments
// searches them (max_results 100): the MLflow pages it costs are reported.
func BenchmarkSparseSearch(b *testing.B) {
	d := mlflowtest.New(b)
	d.Catalog = catalogOf(10000)
	srv := searchGateway(b, d, Config{FilterPages: 100}, "1003", "3000", "5000", "7500", "10999")
	before := d.Searched.Load()
	n := 0
	for b.Loop() {
		p := searchExperiments(b, srv, "dave", http.MethodPost, map[string]any{"max_results": 100})
		if len(p.ids) != 5 || p.token != "" {
			b.Fatalf("got %v, token %q", p.ids, p.token)
		}
		n++
	}
	b.ReportMetric(float64(d.Searched.Load()-before)/float64(n), "mlflow-pages/op")
}

// FuzzPageToken: whatever a client sends as page_token is a cursor this
// gateway issued for this user and search, or an error; never a panic.
func FuzzPageToken(f *testing.F) {
	a, err := NewAuthorizer(Config{Engine: &permission.Engine{}, Lookups: &Upstream{}, SecretKey: []byte("k")})
	require.NoError(f, err)
	f.Add(a.sign(cursor{Token: "eyJvZmZzZXQiOiAyfQ==", Size: 1000, Skip: 3, User: "dave", Query: "q"}))
	f.Add("eyJvZmZzZXQiOiAyfQ==")
	f.Add("e30.")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := a.open(token, "dave", "q")
		if err != nil {
			return
		}
		if c.User != "dave" || c.Query != "q" || c.Size <= 0 || c.Skip < 0 {
			t.Fatalf("%q opened as %+v", token, c)
		}
	})
}

// FuzzReadSearch: any search request is read or refused with a clear
// error, and what is read never keeps a paging field MLflow would see.
func FuzzReadSearch(f *testing.F) {
	f.Add("GET", "max_results=2&page_token=x", "")
	f.Add("POST", "", `{"max_results":2,"filter":"name LIKE 'a%'"}`)
	f.Add("POST", "", `{"maxResults":2,"max_results":3}`)
	f.Fuzz(func(t *testing.T, method, query, body string) {
		r, err := http.NewRequest(method, "http://gw/api/2.0/mlflow/experiments/search?"+query, nil)
		if err != nil {
			return
		}
		s, err := readSearch(r, []byte(body), 1000)
		if err != nil {
			return
		}
		if s.want <= 0 {
			t.Fatalf("want %d", s.want)
		}
		for k := range s.params {
			if _, ok := pagingKeys[fold(k)]; ok {
				t.Fatalf("paging field %q kept", k)
			}
		}
		for k := range s.query {
			if _, ok := pagingKeys[fold(k)]; ok {
				t.Fatalf("paging field %q kept", k)
			}
		}
	})
}
