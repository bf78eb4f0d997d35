package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// mend never fails on JSON it can read, keeps it a JSON object, and
// mending twice changes nothing more.
func FuzzMend(f *testing.F) {
	for _, seed := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"Operations":[{"op":"replace","value":{"active":"True","displayName":"x"}}]}`,
		`{"userName":"a","active":"false"}`,
		`{"Operations":[1,"x",{"path":7,"value":[]}]}`,
		`[]`, `{`, ``, `{} {}`, `{} }`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := mend(body)
		if err != nil {
			return
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("mend(%q) = %q: not a JSON object: %v", body, out, err)
		}
		again, err := mend(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("mend is not idempotent on %q: %q then %q (%v)", body, out, again, err)
		}
	})
}

// fuzzService is the handler over a SQLite store with one user and one
// group, and the token to reach it.
func fuzzService(f *testing.F) (http.Handler, string, string) {
	db, err := store.OpenWith(context.Background(), "sqlite:///"+filepath.Join(f.TempDir(), "auth.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	u, err := db.ProvisionSCIMUser(context.Background(), store.User{Username: "ann"})
	if err != nil {
		f.Fatal(err)
	}
	g, err := db.ProvisionSCIMGroup(context.Background(), "team", "", nil)
	if err != nil {
		f.Fatal(err)
	}
	const secret = "fuzzing-token-0123456789abcdef"
	h, err := New(Config{Store: db, Tokens: []Token{StaticToken("fuzz", secret)}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	_ = u
	return h, secret, formatID(g.ID)
}

func serve(t *testing.T, h http.Handler, secret, method, target, body string) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s %q: %d %s", method, target, body, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		var e struct {
			Schemas []string `json:"schemas"`
			Status  string   `json:"status"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || len(e.Schemas) != 1 || e.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
			t.Fatalf("%s %s %q: %d not in SCIM's error schema: %s", method, target, body, rec.Code, rec.Body)
		}
	}
}

// Any filter is answered with results or a 400 in SCIM's error schema.
func FuzzFilter(f *testing.F) {
	h, secret, _ := fuzzService(f)
	for _, seed := range []string{`userName eq "ann"`, `externalId eq "x"`, `displayName co "a" or active eq true`,
		`members[value eq "1"]`, `userName eq`, `(`, `meta.created gt "2020-01-01T00:00:00Z"`, `emails[type eq "work" and value pr]`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		for _, resource := range []string{"/Users", "/Groups"} {
			serve(t, h, secret, "GET", Prefix+resource+"?filter="+url.QueryEscape(filter), "")
		}
	})
}

// Any PATCH path and value is applied or refused in SCIM's error schema,
// never a 5xx.
func FuzzPatchPath(f *testing.F) {
	h, secret, gid := fuzzService(f)
	for _, seed := range [][2]string{
		{`active`, `"False"`}, {`displayName`, `"Ann"`}, {`name.familyName`, `"L"`}, {`emails[type eq "work"].value`, `"a@b"`},
		{`members[value eq "1"]`, `null`}, {`members`, `[{"value":"1"}]`}, {`members[value eq "1" or value eq "x"]`, `null`},
		{`userName`, `"mallory"`}, {`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`, `"DS"`},
		{`externalId`, `7`}, {`[`, `{}`}, {``, `{"active":"True"}`},
	} {
		f.Add("replace", seed[0], seed[1])
		f.Add("remove", seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, op, path, value string) {
		opJSON, _ := json.Marshal(op)
		pathJSON, _ := json.Marshal(path)
		if !json.Valid([]byte(value)) {
			value = "null"
		}
		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":` + string(opJSON) + `,"path":` + string(pathJSON) + `,"value":` + value + `}]}`
		serve(t, h, secret, "PATCH", Prefix+"/Users/1", body)
		serve(t, h, secret, "PATCH", Prefix+"/Groups/"+gid, body)
	})
}
