package scim_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlflowauth/mlflowauth/scim"
	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// An identity provider deactivates a user: the account is deactivated in
// the store, and every replica stops its tokens and sessions.
func Example() {
	dir, _ := os.MkdirTemp("", "scim")
	defer os.RemoveAll(dir)
	db, err := store.OpenWith(context.Background(), "sqlite:///"+filepath.Join(dir, "auth.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	const token = "a-long-random-provisioning-secret"
	h, err := scim.New(scim.Config{Store: db, Tokens: []scim.Token{scim.StaticToken("SCIM_TOKEN", token)}})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	send := func(method, path, body string) int {
		req, _ := http.NewRequest(method, srv.URL+scim.Prefix+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(send("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@example.com"}`))
	u, _ := db.GetUser(context.Background(), "ann@example.com")
	fmt.Println(send("PATCH", fmt.Sprintf("/Users/%d", u.ID),
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`))
	u, _ = db.GetUser(context.Background(), "ann@example.com")
	fmt.Println("deactivated:", u.Deactivated)
	// Output:
	// 201
	// 200
	// deactivated: true
}
