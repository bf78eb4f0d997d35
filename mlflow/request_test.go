package mlflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadFieldsWhereMLflowReads(t *testing.T) {
	tests := []struct {
		name, method, target, ct, body string
		field, want                    string
		absent                         bool
	}{
		{"GET reads the query", "GET", "/x?run_id=q", "", `{"run_id":"b"}`, "run_id", "q", false},
		{"GET without a query reads the body", "GET", "/x", "text/plain", `{"run_id":"b"}`, "run_id", "b", false},
		{"HEAD reads the body, not the query (Flask's GET view, MLflow's non-GET branch)", "HEAD", "/x?run_id=q", "", `{"run_id":"b"}`, "run_id", "b", false},
		{"HEAD without a body has no id, whatever the query says", "HEAD", "/x?run_id=q", "", ``, "run_id", "", true},
		{"POST reads the JSON body", "POST", "/x?run_id=q", "application/json", `{"run_id":"b"}`, "run_id", "b", false},
		{"PATCH ignores the query", "PATCH", "/x?name=q", "", `{"name":"b"}`, "name", "b", false},
		{"DELETE reads the body whatever the Content-Type", "DELETE", "/x?name=decoy", "text/plain", `{"name":"real"}`, "name", "real", false},
		{"DELETE without a body has no name, whatever the query says", "DELETE", "/x?name=decoy", "", ``, "name", "", true},
		{"camelCase is the same field", "POST", "/x", "application/json", `{"runId":"b"}`, "run_id", "b", false},
		{"numbers are ids too", "POST", "/x", "application/json", `{"experiment_id": 12}`, "experiment_id", "12", false},
		{"a JSON string holding JSON", "POST", "/x", "application/json", `"{\"run_id\": \"inner\"}"`, "run_id", "inner", false},
		{"charset in the Content-Type", "POST", "/x", "application/json; charset=utf-8", `{"run_id":"b"}`, "run_id", "b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			f, err := ReadFields(r, 0)
			require.NoError(t, err)
			got, ok, err := f.String(tt.field)
			require.NoError(t, err)
			assert.Equal(t, !tt.absent, ok)
			assert.Equal(t, tt.want, got)
			// The body is still there for the proxy.
			b, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.body, string(b))
		})
	}
}

func TestReadFieldsRefusesAmbiguity(t *testing.T) {
	tests := []struct {
		name, method, target, ct, body, field, reason string
	}{
		{"two spellings", "POST", "/x", "application/json", `{"run_id":"a","runId":"b"}`, "run_id", `parameter "runId" given more than once (as "run_id" and "runId")`},
		{"a case variant beside the field", "POST", "/x", "application/json", `{"run_id":"a","Run_Id":"b"}`, "run_id", `parameter "Run_Id" given more than once`},
		{"a case variant alone", "POST", "/x", "application/json", `{"Run_Id":"b"}`, "run_id", `parameter "run_id" is spelled "Run_Id": use "run_id"`},
		{"the same key twice", "POST", "/x", "application/json", `{"run_id":"a","run_id":"b"}`, "run_id", `parameter "run_id" given more than once`},
		{"a scalar twice in the query", "GET", "/x?run_id=a&run_id=b", "", ``, "run_id", `parameter "run_id" given more than once`},
		{"two spellings in the query", "GET", "/x?run_id=a&runId=b", "", ``, "run_id", `given more than once`},
		{"POST with a form body", "POST", "/x", "application/x-www-form-urlencoded", `run_id=a`, "run_id", `a POST body must be JSON`},
		{"not an object", "POST", "/x", "application/json", `["run_id"]`, "run_id", `the JSON body must be an object`},
		{"trailing data", "POST", "/x", "application/json", `{"run_id":"a"}{"run_id":"b"}`, "run_id", `malformed JSON body`},
		{"malformed", "POST", "/x", "application/json", `{"run_id":`, "run_id", `malformed JSON body`},
		{"an object where an id goes", "POST", "/x", "application/json", `{"run_id":{"$ne":1}}`, "run_id", `expected a string or a number`},
		{"a list where an id goes", "POST", "/x", "application/json", `{"run_id":["a","b"]}`, "run_id", `expected a string or a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			f, err := ReadFields(r, 0)
			if err == nil {
				_, _, err = f.String(tt.field)
			}
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrBadRequest))
			assert.Contains(t, err.Error(), tt.reason)
		})
	}
}

func TestReadFieldsLists(t *testing.T) {
	r := httptest.NewRequest("GET", "/x?experiment_ids[0]=1&experiment_ids[1]=2&experiment_ids[]=3", nil)
	f, err := ReadFields(r, 0)
	require.NoError(t, err)
	ids, err := f.Strings("experiment_ids")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"1", "2", "3"}, ids, "querystring_parser's list forms")

	r = httptest.NewRequest("POST", "/x", strings.NewReader(`{"experimentIds": ["1", 2]}`))
	f, err = ReadFields(r, 0)
	require.NoError(t, err)
	ids, err = f.Strings("experiment_ids")
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2"}, ids)
	assert.True(t, f.Has("experiment_ids"))
	assert.False(t, f.Has("run_id"))
}

func TestReadFieldsLimit(t *testing.T) {
	big := `{"run_id":"a","pad":"` + strings.Repeat("x", 2000) + `"}`
	r := httptest.NewRequest("POST", "/x", strings.NewReader(big))
	_, err := ReadFields(r, 1024)
	require.ErrorIs(t, err, ErrBadRequest)
	assert.Contains(t, err.Error(), "body larger than 1024 bytes")
	r = httptest.NewRequest("POST", "/x", io.NopCloser(strings.NewReader(big)))
	r.ContentLength = -1 // chunked: no length up front
	_, err = ReadFields(r, 1024)
	assert.ErrorIs(t, err, ErrBadRequest)
}

func FuzzReadFields(f *testing.F) {
	for _, s := range []string{`{"run_id":"a"}`, `"{\"run_id\":1}"`, `{"a":[1,{"b":2}]}`, `{"runId":"a","run_id":"b"}`, `[]`, `{`, ``} {
		f.Add("POST", "run_id=1", s)
	}
	f.Fuzz(func(t *testing.T, method, query, body string) {
		switch method {
		case "GET", "POST", "PUT", "PATCH", "DELETE":
		default:
			method = "POST"
		}
		r := httptest.NewRequest(method, "/x", strings.NewReader(body))
		r.URL.RawQuery = query
		fields, err := ReadFields(r, 1<<16)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if v, ok, err := fields.String("run_id"); err == nil && ok && v == "" && !strings.Contains(body+query, "run") {
			t.Fatalf("run_id from nowhere")
		}
		// The proxy still gets the body (unless the query was read).
		if method != "GET" || query == "" {
			b, _ := io.ReadAll(r.Body)
			if string(b) != body {
				t.Fatalf("body changed: %q -> %q", body, b)
			}
		}
	})
}

func BenchmarkClassifyJSON(b *testing.B) {
	router, err := NewRouter(RouterConfig{})
	require.NoError(b, err)
	// 1 KiB, the id near the end, as log-batch sends it.
	body := `{"metrics":[` + strings.Repeat(`{"key":"loss","value":0.125,"timestamp":1700000000000,"step":3},`, 14) +
		`{"key":"loss","value":0.1,"timestamp":1700000000000,"step":4}],"params":[],"tags":[],"run_id":"0123456789abcdef0123456789abcdef"}`
	r := httptest.NewRequest("POST", "/api/2.0/mlflow/runs/log-batch", nil)
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = int64(len(body))
	src := strings.NewReader(body)
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(body)
		r.Body = io.NopCloser(src) // the server's request, as the gateway gets it
		if _, ok := router.Classify(r.Method, r.URL.Path); !ok {
			b.Fatal("no row")
		}
		f, err := ReadFields(r, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok, _ := f.String("run_id"); !ok {
			b.Fatal("no run_id")
		}
	}
	b.ReportMetric(float64(len(body)), "body-bytes")
}

// FuzzTopLevelScanner holds the allocation-free scanner to encoding/json:
// for a valid JSON object, the members it finds are the ones the standard
// decoder finds, value for value.
func FuzzTopLevelScanner(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[1,{"c":"}"}],"d":"\"x\\"}`, `{ "k" : { "n" : [ ] } , "s":"\u0041" }`, `{"\u0061b":true,"z":null}`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var want map[string]json.RawMessage
		if !utf8.ValidString(body) || json.Unmarshal([]byte(body), &want) != nil || want == nil {
			return
		}
		folded := map[string]bool{}
		for k := range want {
			if folded[fold(k)] {
				return // ambiguous keys are refused: compared elsewhere
			}
			folded[fold(k)] = true
		}
		got := Fields{m: map[string]field{}}
		if err := readJSON(&got, []byte(body)); err != nil {
			if strings.Contains(err.Error(), "more than once") {
				return // a key given twice: refused, where encoding/json keeps the last
			}
			t.Fatalf("%q: %v", body, err)
		}
		if len(got.m) != len(want) {
			t.Fatalf("%q: %d members, encoding/json %d", body, len(got.m), len(want))
		}
		for k, v := range want {
			g, ok := got.m[fold(k)]
			if !ok || g.key != k || !jsonEqual(g.values[0], v) {
				t.Fatalf("%q: member %q: got %+v, want %s", body, k, g, v)
			}
		}
	})
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && fmt.Sprint(x) == fmt.Sprint(y)
}

// readQuery's fast path (nothing escaped) reads what url.ParseQuery and
// the JSON encoder read: the same fields, values in the same order, the
// same refusal.
func FuzzReadQuery(f *testing.F) {
	for _, s := range []string{"run_id=abc", "experiment_ids[0]=1&experiment_ids[1]=2", "a=1&&b=2", "=x", "a", "run_id=a&runId=b",
		"x=<b>", "x=%41", "x=a+b", "x=a;b", "max_results=10&order_by=x&order_by=y", "k=\"q\"", "k=é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fast, slow := Fields{m: map[string]field{}}, Fields{m: map[string]field{}}
		errFast, errSlow := readQuery(&fast, raw), readQueryEscaped(&slow, raw)
		if (errFast == nil) != (errSlow == nil) {
			t.Fatalf("%q: fast path error %v, ParseQuery's %v", raw, errFast, errSlow)
		}
		if errFast != nil {
			return
		}
		if len(fast.m) != len(slow.m) {
			t.Fatalf("%q: %d fields, ParseQuery %d", raw, len(fast.m), len(slow.m))
		}
		for k, fl := range fast.m {
			sl := slow.m[k]
			if fl.key != sl.key || len(fl.values) != len(sl.values) {
				t.Fatalf("%q: field %q: %q %d values, ParseQuery's %q %d", raw, k, fl.key, len(fl.values), sl.key, len(sl.values))
			}
			// ParseQuery's map loses the order between name[0] and name[1];
			// the values are compared as a set.
			var a, b []string
			for i := range fl.values {
				va, errA := scalar(fl.values[i])
				vb, errB := scalar(sl.values[i])
				if (errA == nil) != (errB == nil) {
					t.Fatalf("%q: field %q value %d: %v, ParseQuery's %v", raw, k, i, errA, errB)
				}
				// scalar's own fast path is held to the decoder too.
				var decoded string
				if err := json.Unmarshal(fl.values[i], &decoded); err != nil || decoded != va {
					t.Fatalf("%q: field %q value %d: scalar read %q, the decoder %q (%v)", raw, k, i, va, decoded, err)
				}
				a, b = append(a, va), append(b, vb)
			}
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Fatalf("%q: field %q: %q, ParseQuery's %q", raw, k, a, b)
			}
		}
	})
}
