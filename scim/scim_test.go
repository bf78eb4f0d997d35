package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/gateway"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/scim"
	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

const secret = "okta-provisioning-secret-0123456789"

const patchOp = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[%s]}`

// client speaks to the SCIM service over HTTP as an identity provider's
// provisioning client does.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(c.t, json.Unmarshal(raw, &out), "%s %s answered %d: %s", method, path, resp.StatusCode, raw)
		if resp.StatusCode < 300 {
			assert.Equal(c.t, "application/scim+json", resp.Header.Get("Content-Type"))
		}
	}
	return resp.StatusCode, out
}

// must is do, with the status required.
func (c client) must(status int, method, path, body string) map[string]any {
	c.t.Helper()
	got, out := c.do(method, path, body)
	require.Equal(c.t, status, got, "%s %s: %v", method, path, out)
	return out
}

// service is the whole gateway, as examples/gateway assembles it from the
// environment with SCIM_TOKEN set, over real HTTP: what an identity
// provider's provisioning client reaches.
type service struct {
	db *store.Store
	client
}

// eachStore runs fn against the gateway on a fresh SQLite file and a fresh
// PostgreSQL schema. cfg.RemoveOnDelete is SCIM_DELETE=remove.
func eachStore(t *testing.T, cfg scim.Config, fn func(t *testing.T, s service)) {
	mlflow := httptest.NewServer(http.NotFoundHandler()) // never reached by SCIM
	t.Cleanup(mlflow.Close)
	run := func(t *testing.T, uri string) {
		env := map[string]string{"OIDC_USERS_DB_URI": uri, "SCIM_TOKEN": secret, "MLFLOW_UPSTREAM_URL": mlflow.URL}
		if cfg.RemoveOnDelete {
			env["SCIM_DELETE"] = "remove"
		}
		c, err := gateway.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		require.NoError(t, err)
		quiet := slog.New(slog.DiscardHandler)
		g, err := gateway.New(context.Background(), c, gateway.Options{Logger: quiet, Audit: quiet})
		require.NoError(t, err)
		t.Cleanup(func() { g.Close() })
		srv := httptest.NewServer(g)
		t.Cleanup(srv.Close)
		fn(t, service{db: g.Store(), client: client{t: t, base: srv.URL + scim.Prefix, token: secret}})
	}
	t.Run("sqlite", func(t *testing.T) { run(t, "sqlite:///"+filepath.Join(t.TempDir(), "auth.db")) })
	t.Run("postgres", func(t *testing.T) { run(t, testenv.PostgresSchema(t)) })
}

func q(filter string) string { return url.QueryEscape(filter) }

func resources(t *testing.T, list map[string]any) []map[string]any {
	t.Helper()
	assert.Equal(t, []any{"urn:ietf:params:scim:api:messages:2.0:ListResponse"}, list["schemas"])
	raw, _ := list["Resources"].([]any)
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

func errorOf(t *testing.T, out map[string]any) (status, scimType string) {
	t.Helper()
	assert.Equal(t, []any{"urn:ietf:params:scim:api:messages:2.0:Error"}, out["schemas"], "SCIM's error schema")
	status, _ = out["status"].(string)
	scimType, _ = out["scimType"].(string)
	return status, scimType
}

// The requests Okta's SCIM 2.0 client sends, in its order, with the
// bodies of Okta's SCIM 2.0 protocol reference.
func TestOktaSequence(t *testing.T) {
	eachStore(t, scim.Config{}, func(t *testing.T, s service) {
		ctx := context.Background()
		// Okta's import looks the user up before creating it.
		list := s.must(200, "GET", "/Users?filter="+q(`userName eq "test.user@okta.local"`)+"&startIndex=1&count=100", "")
		assert.EqualValues(t, 0, list["totalResults"])

		created := s.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},
			"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User",
			"locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`)
		id := created["id"].(string)
		assert.Equal(t, "test.user@okta.local", created["userName"])
		assert.Equal(t, "00ujl29u0le5T6Aj10h7", created["externalId"])
		assert.Equal(t, true, created["active"])
		assert.NotContains(t, created, "password", "a password is never kept nor answered")
		u, err := s.db.GetUser(ctx, "test.user@okta.local")
		require.NoError(t, err)
		assert.Equal(t, "Test User", u.DisplayName)
		assert.Empty(t, u.PasswordHash, "SCIM's password is not the gateway's: users sign in through the identity provider")
		assert.Equal(t, store.SCIMLinked, u.SCIM)

		// A second create of the same userName is a uniqueness conflict.
		out := s.must(409, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Test.User@okta.local"}`)
		_, scimType := errorOf(t, out)
		assert.Equal(t, "uniqueness", scimType)

		got := s.must(200, "GET", "/Users/"+id, "")
		assert.Equal(t, "Test User", got["displayName"])
		list = s.must(200, "GET", "/Users?filter="+q(`userName eq "TEST.USER@okta.local"`)+"&startIndex=1&count=100", "")
		require.Len(t, resources(t, list), 1, "userName compares case-insensitively")
		assert.Equal(t, id, resources(t, list)[0]["id"])
		list = s.must(200, "GET", "/Users?filter="+q(`externalId eq "00ujl29u0le5T6Aj10h7"`), "")
		require.Len(t, resources(t, list), 1)

		// A profile push is a PUT of the whole user.
		put := s.must(200, "PUT", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"`+id+`",
			"userName":"test.user@okta.local","name":{"givenName":"Another","familyName":"User"},
			"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Another User",
			"locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"active":true}`)
		assert.Equal(t, "Another User", put["displayName"])

		// Her address changes at Okta: the next push renames the account,
		// her grants with it.
		require.NoError(t, s.db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "5"},
			Principal: permission.ForUser("test.user@okta.local"), Level: permission.Read}))
		put = s.must(200, "PUT", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"`+id+`",
			"userName":"test.user2@okta.local","displayName":"Another User","externalId":"00ujl29u0le5T6Aj10h7","active":true}`)
		assert.Equal(t, "test.user2@okta.local", put["userName"])
		_, err = s.db.GetGrant(ctx, permission.Resource{Kind: permission.Experiment, ID: "5"}, permission.ForUser("test.user2@okta.local"))
		require.NoError(t, err, "the grant followed the rename")
		put = s.must(200, "PUT", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"`+id+`",
			"userName":"test.user@okta.local","displayName":"Another User","externalId":"00ujl29u0le5T6Aj10h7","active":true}`)
		assert.Equal(t, "test.user@okta.local", put["userName"])

		// Groups pushed by Okta.
		g := s.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`)
		gid := g["id"].(string)
		list = s.must(200, "GET", "/Groups?filter="+q(`displayName eq "Test SCIMv2"`)+"&startIndex=1&count=100", "")
		require.Len(t, resources(t, list), 1)
		// Okta's group push sends the name again, path-less.
		s.must(200, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","value":{"id":"`+gid+`","displayName":"Test SCIMv2"}}]}`)
		g = s.must(200, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"add","path":"members","value":[{"value":"`+id+`","display":"test.user@okta.local"}]}]}`)
		assert.Len(t, g["members"], 1)
		u, err = s.db.GetUser(ctx, "test.user@okta.local")
		require.NoError(t, err)
		assert.Equal(t, []string{"Test SCIMv2"}, u.Groups, "the group counts for permission rules")
		s.must(200, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"remove","path":"members[value eq \"`+id+`\"]"}]}`)
		u, err = s.db.GetUser(ctx, "test.user@okta.local")
		require.NoError(t, err)
		assert.Empty(t, u.Groups)
		list = s.must(200, "GET", "/Groups?excludedAttributes=members&startIndex=1&count=100", "")
		require.Len(t, resources(t, list), 1)
		assert.NotContains(t, resources(t, list)[0], "members")

		// Okta deactivates with a path-less replace.
		s.must(200, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","value":{"active":false}}]}`)
		u, err = s.db.GetUser(ctx, "test.user@okta.local")
		require.NoError(t, err)
		assert.True(t, u.Deactivated)
		got = s.must(200, "GET", "/Users/"+id, "")
		assert.Equal(t, false, got["active"])
		// ... and reactivates the same way.
		s.must(200, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","value":{"active":true}}]}`)
		u, err = s.db.GetUser(ctx, "test.user@okta.local")
		require.NoError(t, err)
		assert.False(t, u.Deactivated)

		s.must(204, "DELETE", "/Groups/"+gid, "")
		s.must(404, "GET", "/Groups/"+gid, "")

		audit, err := s.db.AuditLog(ctx, 0, 100)
		require.NoError(t, err)
		var actions []string
		for _, e := range audit {
			assert.Equal(t, "scim:SCIM_TOKEN", e.Actor, "the SCIM client is named as the actor")
			actions = append(actions, e.Action)
		}
		assert.Contains(t, actions, "scim.user.create")
		assert.Contains(t, actions, "scim.user.deactivate")
		assert.Contains(t, actions, "scim.user.reactivate")
		assert.Contains(t, actions, "scim.group.members")
	})
}

// The requests Microsoft Entra ID's provisioning service sends, with the
// bodies of Microsoft's SCIM guide, its quirks included: "active" as the
// string "False", capitalised ops, remove with a value list.
func TestEntraSequence(t *testing.T) {
	eachStore(t, scim.Config{}, func(t *testing.T, s service) {
		ctx := context.Background()
		list := s.must(200, "GET", "/Users?filter="+q(`userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"`), "")
		assert.EqualValues(t, 0, list["totalResults"])
		created := s.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1","active":true,
			"emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
			"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[],
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Data Science","employeeNumber":"701984"}}`)
		id := created["id"].(string)
		name := "test_user_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
		u, err := s.db.GetUser(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, "givenName familyName", u.DisplayName, "name.formatted when no displayName")
		s.must(200, "GET", "/Users/"+id, "")
		list = s.must(200, "GET", "/Users?filter="+q(`userName eq "non-existent user"`), "")
		assert.EqualValues(t, 0, list["totalResults"])

		s.must(200, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
			{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},
			{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]}`)
		u, err = s.db.GetUser(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, "givenName familyName", u.DisplayName, "half a name does not replace the whole")
		s.must(200, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
			{"op":"Replace","path":"name.givenName","value":"Ada"},{"op":"Replace","path":"name.familyName","value":"Lovelace"}]}`)
		u, err = s.db.GetUser(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, "Ada Lovelace", u.DisplayName, "both names make the display name")

		// Entra's disable, as older tenants send it.
		s.must(200, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
		u, err = s.db.GetUser(ctx, name)
		require.NoError(t, err)
		assert.True(t, u.Deactivated)
		s.must(200, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","value":{"active":"True","displayName":"Back Again"}}]}`)
		u, err = s.db.GetUser(ctx, name)
		require.NoError(t, err)
		assert.False(t, u.Deactivated)
		assert.Equal(t, "Back Again", u.DisplayName)

		g := s.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
			"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}`)
		gid := g["id"].(string)
		got := s.must(200, "GET", "/Groups/"+gid+"?excludedAttributes=members", "")
		assert.NotContains(t, got, "members")
		assert.Equal(t, "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", got["externalId"])
		list = s.must(200, "GET", "/Groups?excludedAttributes=members&filter="+q(`displayName eq "displayName"`), "")
		require.Len(t, resources(t, list), 1)
		// Renamed in Entra: the group's grants follow it.
		require.NoError(t, s.db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "9"},
			Principal: permission.ForGroup("displayName"), Level: permission.Read}))
		s.must(200, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"displayName","value":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]}`)
		_, err = s.db.GetGrant(ctx, permission.Resource{Kind: permission.Experiment, ID: "9"}, permission.ForGroup("1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"))
		require.NoError(t, err)
		s.must(200, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"displayName","value":"displayName"}]}`)
		s.must(200, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+id+`"}]}]}`)
		u, err = s.db.GetUser(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, []string{"displayName"}, u.Groups)
		s.must(200, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"`+id+`"}]}]}`)
		u, err = s.db.GetUser(ctx, name)
		require.NoError(t, err)
		assert.Empty(t, u.Groups)

		// DELETE keeps the account deactivated with its grants, hidden.
		require.NoError(t, s.db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "7"},
			Principal: permission.ForUser(name), Level: permission.Edit}))
		s.must(204, "DELETE", "/Users/"+id, "")
		s.must(404, "GET", "/Users/"+id, "")
		list = s.must(200, "GET", "/Users?filter="+q(`userName eq "`+name+`"`), "")
		assert.EqualValues(t, 0, list["totalResults"])
		u, err = s.db.GetUser(ctx, name)
		require.NoError(t, err)
		assert.True(t, u.Deactivated)
		// Provisioned again: the same account, its grant still there.
		again := s.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+`","active":true}`)
		assert.Equal(t, id, again["id"])
		grants, err := s.db.ListGrants(ctx, store.GrantFilter{Principal: ptr(permission.ForUser(name))})
		require.NoError(t, err)
		assert.Len(t, grants, 1)
	})
}

func ptr[T any](v T) *T { return &v }

func TestDeleteRemoves(t *testing.T) {
	eachStore(t, scim.Config{RemoveOnDelete: true}, func(t *testing.T, s service) {
		ctx := context.Background()
		created := s.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann"}`)
		require.NoError(t, s.db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "7"},
			Principal: permission.ForUser("ann"), Level: permission.Edit}))
		s.must(204, "DELETE", "/Users/"+created["id"].(string), "")
		_, err := s.db.GetUser(ctx, "ann")
		assert.ErrorIs(t, err, store.ErrNotFound)
		grants, err := s.db.ListGrants(ctx, store.GrantFilter{})
		require.NoError(t, err)
		assert.Empty(t, grants)
	})
}

// Paging through users and a large group built in batches, as Entra adds
// members (a handful per PATCH) and Okta reads them back.
func TestPagingAndLargeGroups(t *testing.T) {
	eachStore(t, scim.Config{}, func(t *testing.T, s service) {
		const n = 230
		ids := make([]string, n)
		for i := range n {
			out := s.must(201, "POST", "/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%03d"}`, i))
			ids[i] = out["id"].(string)
		}
		// A service account is not SCIM's to see.
		_, err := s.db.CreateUser(context.Background(), store.User{Username: "robot", ServiceAccount: true})
		require.NoError(t, err)

		seen := map[string]bool{}
		for start := 1; ; start += 100 {
			list := s.must(200, "GET", fmt.Sprintf("/Users?startIndex=%d&count=100", start), "")
			assert.EqualValues(t, n, list["totalResults"])
			assert.EqualValues(t, start, list["startIndex"])
			page := resources(t, list)
			for _, r := range page {
				assert.NotEqual(t, "robot", r["userName"])
				seen[r["id"].(string)] = true
			}
			if len(page) < 100 {
				break
			}
		}
		assert.Len(t, seen, n, "every user once, over the pages")
		list := s.must(200, "GET", "/Users?count=0", "")
		assert.EqualValues(t, n, list["totalResults"])
		assert.Empty(t, resources(t, list))
		list = s.must(200, "GET", "/Users?count=1000", "")
		assert.Len(t, resources(t, list), 200, "no more than MaxResults a page")

		g := s.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"everyone"}`)
		gid := g["id"].(string)
		for i := 0; i < n; i += 20 {
			var vals []string
			for _, id := range ids[i:min(n, i+20)] {
				vals = append(vals, `{"value":"`+id+`"}`)
			}
			s.must(200, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[`+strings.Join(vals, ",")+`]}]}`)
		}
		got := s.must(200, "GET", "/Groups/"+gid, "")
		assert.Len(t, got["members"], n)
		// Replace the members with two, then remove one by filter with or.
		got = s.must(200, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
			{"op":"replace","path":"members","value":[{"value":"`+ids[0]+`"},{"value":"`+ids[1]+`"},{"value":"`+ids[2]+`"}]},
			{"op":"remove","path":"members[value eq \"`+ids[0]+`\" or value eq \"`+ids[2]+`\"]"}]}`)
		require.Len(t, got["members"], 1)
		assert.Equal(t, ids[1], got["members"].([]any)[0].(map[string]any)["value"])
		// A PUT of the group replaces its members.
		got = s.must(200, "PUT", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"everyone","members":[{"value":"`+ids[5]+`"}]}`)
		require.Len(t, got["members"], 1)
		assert.Equal(t, ids[5], got["members"].([]any)[0].(map[string]any)["value"])
	})
}

// Malformed requests get SCIM errors with the right scimType, and change
// nothing.
func TestMalformedRequestsChangeNothing(t *testing.T) {
	eachStore(t, scim.Config{}, func(t *testing.T, s service) {
		ctx := context.Background()
		created := s.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann","displayName":"Ann"}`)
		id := created["id"].(string)
		s.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob"}`)
		g := s.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"team","members":[{"value":"`+id+`"}]}`)
		gid := g["id"].(string)
		before, err := s.db.GetUser(ctx, "ann")
		require.NoError(t, err)
		patch := func(ops string) string {
			return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
		}
		cases := []struct {
			name, method, path, body string
			status                   int
			scimType                 string
		}{
			{"not JSON", "POST", "/Users", `{"userName":`, 400, "invalidSyntax"},
			{"two JSON values", "POST", "/Users", `{"userName":"x"} {}`, 400, "invalidSyntax"},
			{"an array", "POST", "/Users", `[]`, 400, "invalidSyntax"},
			{"no schemas", "POST", "/Users", `{"userName":"bob"}`, 400, "invalidSyntax"},
			{"userName missing", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`, 400, "invalidValue"},
			{"userName a number", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":7}`, 400, "invalidValue"},
			{"active not a boolean", "PATCH", "/Users/" + id, patch(`{"op":"replace","path":"active","value":"maybe"}`), 400, "invalidValue"},
			{"unknown op", "PATCH", "/Users/" + id, patch(`{"op":"merge","path":"displayName","value":"x"}`), 400, "invalidValue"},
			{"bad path", "PATCH", "/Users/" + id, patch(`{"op":"replace","path":"emails[type eq","value":"x"}`), 400, "invalidPath"},
			{"no operations", "PATCH", "/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`, 400, "invalidValue"},
			{"not a PatchOp", "PATCH", "/Users/" + id, `{"schemas":["urn:x"],"Operations":[{"op":"replace","path":"displayName","value":"x"}]}`, 400, "invalidValue"},
			{"rename onto another account", "PATCH", "/Users/" + id, patch(`{"op":"replace","path":"displayName","value":"x"},{"op":"replace","path":"userName","value":"bob"}`), 409, "uniqueness"},
			{"rename to nothing", "PATCH", "/Users/" + id, patch(`{"op":"replace","path":"userName","value":" "}`), 400, "invalidValue"},
			{"remove active", "PATCH", "/Users/" + id, patch(`{"op":"remove","path":"active"}`), 400, "mutability"},
			{"unknown member", "PATCH", "/Groups/" + gid, patch(`{"op":"add","path":"members","value":[{"value":"999999"}]}`), 400, "invalidValue"},
			{"member not an id", "PATCH", "/Groups/" + gid, patch(`{"op":"add","path":"members","value":[{"value":"ann"}]}`), 400, "invalidValue"},
			{"member filter on display", "PATCH", "/Groups/" + gid, patch(`{"op":"remove","path":"members[display eq \"ann\"]"}`), 400, "invalidValue"},
			{"group renamed to nothing", "PATCH", "/Groups/" + gid, patch(`{"op":"replace","path":"displayName","value":" "}`), 400, "invalidValue"},
			{"group displayName removed", "PATCH", "/Groups/" + gid, patch(`{"op":"remove","path":"displayName"}`), 400, "mutability"},
			{"bad filter", "GET", "/Users?filter=" + q(`userName eq`), "", 400, "invalidFilter"},
			{"filter on unknown attribute", "GET", "/Users?filter=" + q(`favouriteColour eq "x"`), "", 400, "invalidFilter"},
			{"bad count", "GET", "/Users?count=many", "", 400, ""},
			{"unknown user", "GET", "/Users/424242", "", 404, ""},
			{"id not a number", "PATCH", "/Users/abc", patch(`{"op":"replace","path":"displayName","value":"x"}`), 404, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := s.client
				c.t = t
				out := c.must(tc.status, tc.method, tc.path, tc.body)
				status, scimType := errorOf(t, out)
				assert.Equal(t, fmt.Sprint(tc.status), status)
				assert.Equal(t, tc.scimType, scimType)
			})
		}
		after, err := s.db.GetUser(ctx, "ann")
		require.NoError(t, err)
		assert.Equal(t, before, after, "nothing changed")
		users, err := s.db.ListUsers(ctx)
		require.NoError(t, err)
		assert.Len(t, users, 2)
		list := s.must(200, "GET", "/Groups/"+gid, "")
		assert.Equal(t, "team", list["displayName"])
		assert.Len(t, list["members"], 1)
	})
}

// Only a SCIM token opens SCIM; SCIM is off when none exists.
func TestTokens(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenWith(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer db.Close()
	h, err := scim.New(scim.Config{Store: db})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := client{t: t, base: srv.URL + scim.Prefix}

	// No token anywhere: SCIM is off, and says how to turn it on.
	c.token = "anything-at-all-0123456789"
	out := c.must(404, "GET", "/Users", "")
	assert.Contains(t, out["detail"], "SCIM provisioning is off")

	secret, hash, prefix, err := scim.NewToken()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(secret, prefix))
	tok, err := db.CreateSCIMToken(ctx, store.SCIMToken{Name: "entra", Hash: hash[:], Prefix: prefix, CreatedBy: "root"})
	require.NoError(t, err)

	c.token = ""
	req, _ := http.NewRequest("GET", c.base+"/Users", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
	assert.Equal(t, `Bearer realm="SCIM"`, resp.Header.Get("WWW-Authenticate"))
	c.token = secret + "x"
	c.must(401, "GET", "/Users", "")
	c.token = secret
	c.must(200, "GET", "/Users", "")
	c.must(200, "GET", "/ServiceProviderConfig", "")
	schemas := c.must(200, "GET", "/Schemas", "")
	assert.NotEmpty(t, schemas)
	types := c.must(200, "GET", "/ResourceTypes", "")
	assert.NotEmpty(t, types)
	created := c.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann"}`)
	assert.NotEmpty(t, created["id"])
	log, err := db.AuditLog(ctx, 0, 10)
	require.NoError(t, err)
	require.NotEmpty(t, log)
	assert.Equal(t, "scim:entra", log[0].Actor)

	require.NoError(t, db.RevokeSCIMToken(ctx, tok.ID))
	out = c.must(404, "GET", "/Users", "")
	assert.Contains(t, out["detail"], "SCIM provisioning is off", "the last token revoked: SCIM is off again")
}

// A body over MaxBody is refused before it is read whole.
func TestBodyLimit(t *testing.T) {
	eachStore(t, scim.Config{}, func(t *testing.T, s service) {
		big := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","displayName":"` + strings.Repeat("a", scim.MaxBody) + `"}`
		out := s.must(413, "POST", "/Users", big)
		status, _ := errorOf(t, out)
		assert.Equal(t, "413", status)
	})
}

// What the identity provider does not own is not SCIM's: accounts with a
// password of their own, service accounts; and an account an
// administrator deactivated stays deactivated whatever SCIM says.
func TestSCIMReachesOnlyTheProvidersPeople(t *testing.T) {
	eachStore(t, scim.Config{}, func(t *testing.T, s service) {
		ctx := context.Background()
		root, err := s.db.CreateUser(ctx, store.User{Username: "root", Admin: true, PasswordHash: "pbkdf2:sha256:1$salt$hash"})
		require.NoError(t, err)
		list := s.must(200, "GET", "/Users?filter="+q(`userName eq "root"`), "")
		assert.EqualValues(t, 0, list["totalResults"], "a password account is not SCIM's to find")
		s.must(404, "PATCH", "/Users/"+fmt.Sprint(root.ID), fmt.Sprintf(patchOp, `{"op":"replace","value":{"active":false}}`))
		s.must(404, "DELETE", "/Users/"+fmt.Sprint(root.ID), "")
		s.must(409, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"root"}`)
		after, err := s.db.GetUser(ctx, "root")
		require.NoError(t, err)
		assert.False(t, after.Deactivated)
		assert.Equal(t, store.SCIMNone, after.SCIM)
		// Nor to put in a group, at its creation or later.
		member := `[{"value":"` + fmt.Sprint(root.ID) + `"}]`
		out := s.must(400, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"admins","members":`+member+`}`)
		assert.Equal(t, "invalidValue", out["scimType"])
		g := s.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"admins"}`)
		s.must(400, "PATCH", "/Groups/"+g["id"].(string), fmt.Sprintf(patchOp, `{"op":"add","path":"members","value":`+member+`}`))
		after, err = s.db.GetUser(ctx, "root")
		require.NoError(t, err)
		assert.Empty(t, after.Groups)

		// An account SCIM made stays SCIM's even with a password set
		// later, so its deprovisioning is never answered "not found".
		fay := s.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"fay@example.com"}`)
		pw := "pbkdf2:sha256:1$salt$hash"
		_, err = s.db.UpdateUser(ctx, "fay@example.com", store.UserChange{PasswordHash: &pw})
		require.NoError(t, err)
		s.must(200, "GET", "/Users/"+fay["id"].(string), "")
		s.must(204, "DELETE", "/Users/"+fay["id"].(string), "")

		// An administrator deactivated Eve; SCIM links her and asks for
		// active: true, as Okta's routine push does.
		eve, err := s.db.CreateUser(ctx, store.User{Username: "eve@example.com"})
		require.NoError(t, err)
		off := false
		_, err = s.db.UpdateUser(ctx, "eve@example.com", store.UserChange{Active: &off})
		require.NoError(t, err)
		got := s.must(200, "PATCH", "/Users/"+fmt.Sprint(eve.ID), fmt.Sprintf(patchOp, `{"op":"replace","value":{"active":true}}`))
		assert.Equal(t, false, got["active"], "the answer says she stays deactivated")
		e, err := s.db.GetUser(ctx, "eve@example.com")
		require.NoError(t, err)
		assert.True(t, e.Deactivated)
		// What SCIM deactivated, SCIM reactivates.
		s.must(200, "PATCH", "/Users/"+fmt.Sprint(eve.ID), fmt.Sprintf(patchOp, `{"op":"replace","path":"active","value":false}`))
		on := true
		_, err = s.db.UpdateUser(ctx, "eve@example.com", store.UserChange{Active: &on}) // an administrator
		require.NoError(t, err)
		s.must(200, "PATCH", "/Users/"+fmt.Sprint(eve.ID), fmt.Sprintf(patchOp, `{"op":"replace","path":"active","value":false}`))
		got = s.must(200, "PATCH", "/Users/"+fmt.Sprint(eve.ID), fmt.Sprintf(patchOp, `{"op":"replace","path":"active","value":true}`))
		assert.Equal(t, true, got["active"])
	})
}

// Attribute names qualified with the core schema's URN mean the same as
// bare ones: a deactivation so written is never ignored.
func TestQualifiedAttributeNames(t *testing.T) {
	eachStore(t, scim.Config{}, func(t *testing.T, s service) {
		ctx := context.Background()
		for i, ops := range []string{
			`{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User:active":false}}`,
			`{"op":"Replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:active","value":"False"}`,
			`{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User:active":"False"}}`,
		} {
			name := fmt.Sprintf("user%d", i)
			created := s.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+`"}`)
			got := s.must(200, "PATCH", "/Users/"+created["id"].(string), fmt.Sprintf(patchOp, ops))
			assert.Equal(t, false, got["active"], ops)
			u, err := s.db.GetUser(ctx, name)
			require.NoError(t, err)
			assert.True(t, u.Deactivated, ops)
		}
		// An extension's attribute of the same name is not the core one.
		created := s.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ext","displayName":"Ext"}`)
		s.must(200, "PATCH", "/Users/"+created["id"].(string), fmt.Sprintf(patchOp,
			`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Data Science"}`))
		u, err := s.db.GetUser(ctx, "ext")
		require.NoError(t, err)
		assert.Equal(t, "Ext", u.DisplayName)

		// A sub-attribute so written, in a PATCH without a path.
		created = s.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"named"}`)
		s.must(200, "PATCH", "/Users/"+created["id"].(string), fmt.Sprintf(patchOp,
			`{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName":"Nia","urn:ietf:params:scim:schemas:core:2.0:User:name.familyName":"Berg"}}`))
		u, err = s.db.GetUser(ctx, "named")
		require.NoError(t, err)
		assert.Equal(t, "Nia Berg", u.DisplayName)
	})
}

// A group PATCH refused for one operation changes nothing of the others.
func TestRefusedGroupPatchChangesNothing(t *testing.T) {
	eachStore(t, scim.Config{}, func(t *testing.T, s service) {
		ctx := context.Background()
		g := s.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"team-a"}`)
		require.NoError(t, s.db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "3"},
			Principal: permission.ForGroup("team-a"), Level: permission.Read}))
		s.must(400, "PATCH", "/Groups/"+g["id"].(string), fmt.Sprintf(patchOp,
			`{"op":"replace","path":"displayName","value":"team-b"},{"op":"add","path":"members","value":[{"value":"999999"}]}`))
		got := s.must(200, "GET", "/Groups/"+g["id"].(string), "")
		assert.Equal(t, "team-a", got["displayName"])
		_, err := s.db.GetGrant(ctx, permission.Resource{Kind: permission.Experiment, ID: "3"}, permission.ForGroup("team-a"))
		assert.NoError(t, err, "the grant did not move")
	})
}

// The store failing is a 500 that says so and nothing of the driver.
func TestStoreDownIsA500(t *testing.T) {
	eachStore(t, scim.Config{}, func(t *testing.T, s service) {
		require.NoError(t, s.db.Close())
		for _, path := range []string{"/Users", "/Users?filter=" + q(`userName eq "x"`), "/Groups", "/Users/1"} {
			out := s.must(500, "GET", path, "")
			assert.Equal(t, "The gateway's database did not answer; try again.", out["detail"], path)
		}
		out := s.must(500, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}`)
		assert.NotContains(t, out["detail"], "sql")
	})
}
