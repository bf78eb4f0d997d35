package gateway

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

const scimSecret = "scim-secret-from-the-environment-0123"

// scimCall sends a SCIM request to the gateway with token, and returns
// the status and the JSON answer.
func (e *e2e) scim(token, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	resp, out := e.do(call{method: method, path: "/scim/v2" + path, body: body, bearer: token,
		header: map[string]string{"Content-Type": "application/scim+json"}})
	return resp.StatusCode, out
}

const patchOp = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[%s]}`

// The identity provider provisions, groups and deprovisions a person
// through the gateway; what it does counts on the next request, on this
// gateway and (PostgreSQL) on another gateway process within a second.
func TestSCIMThroughGateway(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testSCIMThroughGateway(t, "") })
	t.Run("postgres", func(t *testing.T) { testSCIMThroughGateway(t, testenv.PostgresSchema(t)) })
}

func testSCIMThroughGateway(t *testing.T, postgres string) {
	ctx := context.Background()
	env := map[string]string{"SCIM_TOKEN": scimSecret}
	if postgres != "" {
		env["OIDC_USERS_DB_URI"] = postgres
		env["SECRET_KEY"] = "shared-by-both-replicas"
	}
	e := newE2E(t, env)

	// Provisioned before they ever sign in, as Entra does on assignment.
	st, carol := e.scim(scimSecret, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"carol@example.com","externalId":"00u-carol","displayName":"Carol","active":true}`)
	require.Equal(t, 201, st, "%v", carol)
	carolID := carol["id"].(string)
	exp2Res := permission.Resource{Kind: permission.Experiment, ID: "2"}
	require.NoError(t, e.db.PutGrant(ctx, permission.Grant{Resource: exp2Res, Principal: permission.ForUser("carol@example.com"), Level: permission.Edit}))

	// Her first sign-in binds the identity provider's account to the
	// provisioned one.
	cookie := e.signIn(&mockoidc.MockUser{Subject: "00u-carol", Email: "carol@example.com", EmailVerified: true, Groups: []string{"mlflow"}}, "/")
	bound, err := e.db.UsernameByIdentity(ctx, e.idp.Issuer(), "00u-carol")
	require.NoError(t, err)
	assert.Equal(t, "carol@example.com", bound)
	token := e.mintToken(ctx, "carol@example.com", "laptop")
	assert.Equal(t, 200, e.status(call{path: exp2, user: "carol@example.com", password: token}))
	assert.Equal(t, 200, e.status(call{path: exp2, cookie: cookie}))
	jwt := e.bearerFor("00u-carol", "carol@example.com")
	assert.Equal(t, 200, e.status(call{path: exp2, bearer: jwt}))

	// A group pushed by SCIM counts for her session and her token.
	require.NoError(t, e.db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "1"},
		Principal: permission.ForGroup("forecasting"), Level: permission.Read}))
	st, group := e.scim(scimSecret, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"forecasting",
		"members":[{"value":"`+carolID+`"}]}`)
	require.Equal(t, 201, st, "%v", group)
	assert.Equal(t, 200, e.status(call{path: exp1, cookie: cookie}), "the session decides with the groups SCIM keeps")
	assert.Equal(t, 200, e.status(call{path: exp1, user: "carol@example.com", password: token}))
	st, _ = e.scim(scimSecret, "PATCH", "/Groups/"+group["id"].(string), fmt.Sprintf(patchOp, `{"op":"remove","path":"members[value eq \"`+carolID+`\"]"}`))
	require.Equal(t, 200, st)
	assert.Equal(t, 403, e.status(call{path: exp1, cookie: cookie}), "a membership SCIM removes ends at once")
	assert.Equal(t, 403, e.status(call{path: exp1, user: "carol@example.com", password: token}))
	// ... and her next sign-in, whose ID token still says "forecasting",
	// does not bring it back.
	cookie = e.signIn(&mockoidc.MockUser{Subject: "00u-carol", Email: "carol@example.com", EmailVerified: true, Groups: []string{"mlflow", "forecasting"}}, "/")
	assert.Equal(t, 403, e.status(call{path: exp1, cookie: cookie}))

	// The SCIM token is for SCIM alone, and SCIM for it alone.
	assert.Equal(t, 401, e.status(call{path: exp2, bearer: scimSecret}), "a SCIM token opens nothing of MLflow")
	assert.Equal(t, 401, e.status(call{path: exp2, user: "carol@example.com", password: scimSecret}))
	st, _ = e.scim("", "GET", "/Users", "")
	assert.Equal(t, 401, st)
	resp, _ := e.do(call{path: "/scim/v2/Users", user: "root", password: rootPassword})
	assert.Equal(t, 401, resp.StatusCode, "an administrator's password is not a SCIM token")
	resp, _ = e.do(call{path: "/scim/v2/Users", cookie: cookie})
	assert.Equal(t, 401, resp.StatusCode, "nor is a session")

	var other string
	if postgres != "" {
		other = testenv.StartServer(t, "MLFLOWAUTH_TEST_GATEWAY=1", "OIDC_USERS_DB_URI="+postgres, "MLFLOW_UPSTREAM_URL="+e.d.URL(),
			"SECRET_KEY=shared-by-both-replicas")
		req, _ := http.NewRequest("GET", other+exp2, nil)
		req.SetBasicAuth("carol@example.com", token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, "the other process accepts (and caches) her token")
	}

	// Entra disables her, "active" as a string.
	deactivated := time.Now()
	st, out := e.scim(scimSecret, "PATCH", "/Users/"+carolID, fmt.Sprintf(patchOp, `{"op":"Replace","path":"active","value":"False"}`))
	require.Equal(t, 200, st, "%v", out)
	assert.Equal(t, 401, e.status(call{path: exp2, user: "carol@example.com", password: token}), "her token stops at once")
	assert.Equal(t, 401, e.status(call{path: exp2, cookie: cookie}), "so does her session")
	assert.Equal(t, 401, e.status(call{path: exp2, bearer: jwt}), "and the identity provider's JWT, still unexpired")
	if other != "" {
		var delay time.Duration
		for time.Since(deactivated) < 5*time.Second {
			req, _ := http.NewRequest("GET", other+exp2, nil)
			req.SetBasicAuth("carol@example.com", token)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			if resp.StatusCode == 401 {
				delay = time.Since(deactivated)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		require.NotZero(t, delay, "the other process still accepts a deprovisioned user's token after 5s")
		assert.Less(t, delay, time.Second, "deprovisioning reaches every replica within a second")
		t.Logf("deprovisioning seen by the other process after %v", delay.Round(time.Millisecond))
	}
	assert.Contains(t, e.audit.String(), `"actor":"scim:SCIM_TOKEN"`, "the audit log names the SCIM client")

	// Reactivated, her token works again (her session ended for good).
	st, _ = e.scim(scimSecret, "PATCH", "/Users/"+carolID, fmt.Sprintf(patchOp, `{"op":"replace","value":{"active":true}}`))
	require.Equal(t, 200, st)
	assert.Equal(t, 200, e.status(call{path: exp2, user: "carol@example.com", password: token}))

	// Deleted: deactivated, her grant kept for a return.
	st, _ = e.scim(scimSecret, "DELETE", "/Users/"+carolID, "")
	require.Equal(t, 204, st)
	assert.Equal(t, 401, e.status(call{path: exp2, user: "carol@example.com", password: token}))
	_, err = e.db.GetGrant(ctx, exp2Res, permission.ForUser("carol@example.com"))
	assert.NoError(t, err)
}

// SCIM tokens made through the admin API: shown once, hashed, revocable,
// and only an administrator's to make.
func TestSCIMTokensFromAdminAPI(t *testing.T) {
	e := newE2E(t, nil)
	st, _ := e.scim("whatever-token-0123456789", "GET", "/Users", "")
	assert.Equal(t, 404, st, "SCIM is off with no SCIM token")

	resp, body := e.do(call{method: "POST", path: "/api/2.0/mlflowauth/scim-tokens", body: `{"name":"okta"}`, user: "bob", password: e.token})
	assert.Equal(t, 403, resp.StatusCode, "%v", body)
	resp, body = e.do(call{method: "POST", path: "/api/2.0/mlflowauth/scim-tokens", body: `{"name":"okta"}`, user: "root", password: rootPassword})
	require.Equal(t, 200, resp.StatusCode, "%v", body)
	secret := body["secret"].(string)
	assert.True(t, strings.HasPrefix(secret, "mlfscim_"))
	assert.Equal(t, e.url+"/scim/v2", body["base_url"])
	id := fmt.Sprint(body["scim_token"].(map[string]any)["id"])

	st, _ = e.scim(secret, "GET", "/Users", "")
	assert.Equal(t, 200, st)
	_, list := e.do(call{path: "/api/2.0/mlflowauth/scim-tokens", user: "root", password: rootPassword})
	require.Len(t, list["scim_tokens"], 1)
	assert.NotContains(t, fmt.Sprint(list), secret, "the secret is never shown again")

	resp, _ = e.do(call{method: "DELETE", path: "/api/2.0/mlflowauth/scim-tokens", body: `{"id":"` + id + `"}`, user: "root", password: rootPassword})
	require.Equal(t, 200, resp.StatusCode)
	st, _ = e.scim(secret, "GET", "/Users", "")
	assert.Equal(t, 404, st, "revoked, and SCIM off again")
}

// SSO_REVALIDATE_DAYS: a person's tokens and sessions stop when they have
// not signed in through the identity provider for that long, and start
// again when they do; password accounts are not affected.
func TestSSORevalidateDays(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "auth.db")
	e := newE2E(t, map[string]string{"SSO_REVALIDATE_DAYS": "7", "OIDC_USERS_DB_URI": "sqlite:///" + file})
	dan := &mockoidc.MockUser{Subject: "00u-dan", Email: "dan@example.com", EmailVerified: true, Groups: []string{"mlflow"}}
	cookie := e.signIn(dan, "/")
	require.NoError(t, e.db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "2"},
		Principal: permission.ForUser("dan@example.com"), Level: permission.Read}))
	token := e.mintToken(ctx, "dan@example.com", "laptop")

	// The web UI says until when.
	resp, err := noRedirects.Do(func() *http.Request {
		req, _ := http.NewRequest("GET", e.url+"/oidc/ui/tokens", nil)
		req.AddCookie(cookie)
		return req
	}())
	require.NoError(t, err)
	page := readAll(t, resp)
	assert.Contains(t, page, `id="revalidate-by"`)
	assert.Contains(t, page, time.Now().AddDate(0, 0, 7).UTC().Format("2006-01-02"))

	// Eight days without a sign-in: the clock is the database's record.
	raw, err := sql.Open("sqlite3", "file:"+file+"?_busy_timeout=10000")
	require.NoError(t, err)
	defer raw.Close()
	_, err = raw.Exec("UPDATE users SET last_sso_at = ? WHERE username = ?", time.Now().UTC().AddDate(0, 0, -8), "dan@example.com")
	require.NoError(t, err)

	resp2, body := e.do(call{path: exp2, user: "dan@example.com", password: token})
	assert.Equal(t, 401, resp2.StatusCode)
	assert.Equal(t, basic.LapsedMessage, body["message"], "the 401 says to sign in once")
	// A session read a moment ago is trusted for the cache's minute; days
	// later that minute has long passed.
	e.g.sessions.ForgetAll()
	assert.Equal(t, 401, e.status(call{path: exp2, cookie: cookie}), "the session is over too")
	assert.Equal(t, 200, e.status(call{path: exp2, user: "bob", password: e.token}), "an account with a password is not affected")

	// One sign-in revives them.
	cookie = e.signIn(dan, "/")
	assert.Equal(t, 200, e.status(call{path: exp2, user: "dan@example.com", password: token}))
	assert.Equal(t, 200, e.status(call{path: exp2, cookie: cookie}))
	u, err := e.db.GetUser(ctx, "dan@example.com")
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), u.LastSSOAt, time.Minute)
}

// Who SSO_REVALIDATE_DAYS applies to.
func TestRevalidateExemptions(t *testing.T) {
	at := time.Now().AddDate(0, 0, -30)
	person := store.User{Username: "p", LastSSOAt: at}
	assert.True(t, person.Lapsed(7, time.Now()))
	assert.False(t, person.Lapsed(0, time.Now()), "off")
	assert.False(t, person.Lapsed(31, time.Now()))
	svc := store.User{Username: "s", LastSSOAt: at, ServiceAccount: true}
	assert.False(t, svc.Lapsed(7, time.Now()))
	pw := store.User{Username: "w", LastSSOAt: at, PasswordHash: "pbkdf2:sha256:1$x$y"}
	assert.False(t, pw.Lapsed(7, time.Now()))
	imported := store.User{Username: "i", LastSSOAt: at, PasswordHash: "pbkdf2:sha256:1$x$y", Origin: store.OriginMLflowOIDCAuth}
	assert.True(t, imported.Lapsed(7, time.Now()), "mlflow-oidc-auth's token kept as a password hash is no password")
	fromImport := store.User{Username: "m", Origin: store.OriginMLflowOIDCAuth, CreatedAt: at}
	assert.True(t, fromImport.Lapsed(7, time.Now()), "imported from mlflow-oidc-auth: counts from the import")
	never := store.User{Username: "n"}
	assert.False(t, never.Lapsed(7, time.Now()), "never signed in through SSO: not an SSO account")
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// A rename pushed by the identity provider: the person's token works
// under the new name, with their grants, and no longer under the old one.
func TestSCIMRenameThroughGateway(t *testing.T) {
	ctx := context.Background()
	e := newE2E(t, map[string]string{"SCIM_TOKEN": scimSecret})
	st, dana := e.scim(scimSecret, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"dana@example.com"}`)
	require.Equal(t, 201, st, "%v", dana)
	require.NoError(t, e.db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "2"},
		Principal: permission.ForUser("dana@example.com"), Level: permission.Read}))
	token := e.mintToken(ctx, "dana@example.com", "laptop")
	assert.Equal(t, 200, e.status(call{path: exp2, user: "dana@example.com", password: token}))

	st, out := e.scim(scimSecret, "PATCH", "/Users/"+dana["id"].(string), fmt.Sprintf(patchOp, `{"op":"replace","path":"userName","value":"dana.lee@example.com"}`))
	require.Equal(t, 200, st, "%v", out)
	assert.Equal(t, 200, e.status(call{path: exp2, user: "dana.lee@example.com", password: token}), "the token and the grant follow the account")
	assert.Equal(t, 401, e.status(call{path: exp2, user: "dana@example.com", password: token}), "the old name is gone")
}

// A leaked SCIM token and an ordinary account at the identity provider:
// renaming an administrator to the attacker's name would hand the account
// to the attacker's JWT, which acts as the account its name claim names.
// SCIM does not rename administrators, bound or not; other accounts it may.
func TestSCIMRenameCannotHandOverAnAdministrator(t *testing.T) {
	ctx := context.Background()
	e := newE2E(t, map[string]string{"SCIM_TOKEN": scimSecret})
	const tokens = "/api/2.0/mlflowauth/scim-tokens"
	e.signIn(&mockoidc.MockUser{Subject: "00u-alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"mlflow"}}, "/")
	yes, no := true, false
	_, err := e.db.UpdateUser(ctx, "alice@example.com", store.UserChange{Admin: &yes})
	require.NoError(t, err)
	alice, err := e.db.GetUser(ctx, "alice@example.com")
	require.NoError(t, err)
	aliceJWT := e.bearerFor("00u-alice", "alice@example.com")
	require.Equal(t, 200, e.status(call{path: tokens, bearer: aliceJWT}))
	mallory := e.bearerFor("00u-mallory", "mallory@example.com")
	rename := fmt.Sprintf(patchOp, `{"op":"replace","path":"userName","value":"mallory@example.com"}`)
	aliceID := strconv.FormatInt(alice.ID, 10)

	st, out := e.scim(scimSecret, "PATCH", "/Users/"+aliceID, rename)
	assert.Equal(t, 400, st)
	assert.Equal(t, "mutability", out["scimType"], "%v", out)
	st, out = e.scim(scimSecret, "PUT", "/Users/"+aliceID, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"mallory@example.com"}`)
	assert.Equal(t, 400, st, "nor with a PUT: %v", out)
	assert.Equal(t, 401, e.status(call{path: tokens, bearer: mallory}), "the attacker's JWT names no account")
	assert.Equal(t, 200, e.status(call{path: tokens, bearer: aliceJWT}), "Alice is still herself")
	// A PUT that keeps the name (Okta sends the whole profile) still works.
	st, out = e.scim(scimSecret, "PUT", "/Users/"+aliceID, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Alice@example.com","displayName":"Alice A"}`)
	assert.Equal(t, 200, st, "%v", out)

	// Provisioned, made an administrator, never signed in: the same.
	st, bo := e.scim(scimSecret, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bo@example.com"}`)
	require.Equal(t, 201, st, "%v", bo)
	_, err = e.db.UpdateUser(ctx, "bo@example.com", store.UserChange{Admin: &yes})
	require.NoError(t, err)
	st, out = e.scim(scimSecret, "PATCH", "/Users/"+bo["id"].(string), fmt.Sprintf(patchOp, `{"op":"replace","path":"userName","value":"mallory2@example.com"}`))
	assert.Equal(t, 400, st)
	assert.Equal(t, "mutability", out["scimType"], "%v", out)
	u, err := e.db.GetUser(ctx, "bo@example.com")
	require.NoError(t, err, "not renamed")
	assert.True(t, u.Admin)

	// The way the answer gives: the role taken away, the rename, the role back.
	_, err = e.db.UpdateUser(ctx, "alice@example.com", store.UserChange{Admin: &no})
	require.NoError(t, err)
	st, out = e.scim(scimSecret, "PATCH", "/Users/"+aliceID, fmt.Sprintf(patchOp, `{"op":"replace","path":"userName","value":"alice.lee@example.com"}`))
	assert.Equal(t, 200, st, "%v", out)
	assert.Equal(t, "alice.lee@example.com", out["userName"])
}
