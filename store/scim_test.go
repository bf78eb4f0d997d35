package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/permission"
)

func TestSCIMUsers(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u, err := s.ProvisionSCIMUser(ctx, User{Username: "Ann@Example.com", DisplayName: "Ann", ExternalID: "00u1"})
		require.NoError(t, err)
		assert.Equal(t, "ann@example.com", u.Username)
		assert.Equal(t, SCIMLinked, u.SCIM)
		assert.Equal(t, "00u1", u.ExternalID)
		byID, err := s.UserByID(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u.Username, byID.Username)
		_, err = s.UserByID(ctx, u.ID+100)
		assert.ErrorIs(t, err, ErrNotFound)

		// Another account of that name is not taken over by a create.
		_, err = s.CreateUser(ctx, User{Username: "bob"})
		require.NoError(t, err)
		_, err = s.ProvisionSCIMUser(ctx, User{Username: "BOB"})
		assert.ErrorIs(t, err, ErrConflict)

		// DELETE that keeps grants: deactivated, hidden, grants kept,
		// revived by a create.
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "1"},
			Principal: permission.ForUser("ann@example.com"), Level: permission.Edit}))
		g, err := s.ProvisionSCIMGroup(ctx, "scientists", "g1", nil)
		require.NoError(t, err)
		_, err = s.ChangeGroup(ctx, g.ID, GroupChange{Members: &MemberChange{Add: []int64{u.ID}}})
		require.NoError(t, err)
		require.NoError(t, s.BindIdentity(ctx, "https://idp", "sub-ann", "ann@example.com"))
		_, err = s.CreateToken(ctx, Token{Username: "ann@example.com", Name: "laptop", Hash: hash("ann-token"), Prefix: "p", ExpiresAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		require.NoError(t, s.RemoveSCIMUser(ctx, "ann@example.com", false))
		gone, err := s.GetUser(ctx, "ann@example.com")
		require.NoError(t, err)
		assert.True(t, gone.Deactivated)
		assert.Equal(t, SCIMDeleted, gone.SCIM)
		assert.Empty(t, gone.Groups, "a deleted user leaves the groups SCIM keeps")
		tok, err := s.TokenByHash(ctx, hash("ann-token"))
		require.NoError(t, err)
		assert.False(t, tok.RevokedAt.IsZero(), "a deleted person's tokens are revoked for good")
		bound, err := s.HasIdentity(ctx, "ann@example.com")
		require.NoError(t, err)
		assert.False(t, bound, "and the identity provider's account unbound")
		_, err = s.ChangeGroup(ctx, g.ID, GroupChange{Members: &MemberChange{Add: []int64{u.ID}}})
		assert.ErrorIs(t, err, ErrInvalid, "a deleted user cannot be a member")

		// The same person back (the same external id): grants kept.
		back, err := s.ProvisionSCIMUser(ctx, User{Username: "ann@example.com", ExternalID: "00u1"})
		require.NoError(t, err)
		assert.False(t, back.Deactivated)
		assert.Equal(t, u.ID, back.ID)
		grants, err := s.ListGrants(ctx, GrantFilter{})
		require.NoError(t, err)
		assert.Len(t, grants, 1, "grants kept for the reactivation")
		tok, err = s.TokenByHash(ctx, hash("ann-token"))
		require.NoError(t, err)
		assert.False(t, tok.RevokedAt.IsZero(), "old tokens stay revoked")

		// Someone else given the name (a reused address): nothing of hers.
		require.NoError(t, s.RemoveSCIMUser(ctx, "ann@example.com", false))
		other, err := s.ProvisionSCIMUser(ctx, User{Username: "ann@example.com", ExternalID: "00u9"})
		require.NoError(t, err)
		assert.Equal(t, "00u9", other.ExternalID)
		grants, err = s.ListGrants(ctx, GrantFilter{})
		require.NoError(t, err)
		assert.Empty(t, grants, "another person inherits no grant")
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "1"},
			Principal: permission.ForUser("ann@example.com"), Level: permission.Edit}))

		// DELETE that removes grants.
		require.NoError(t, s.RemoveSCIMUser(ctx, "ann@example.com", true))
		_, err = s.GetUser(ctx, "ann@example.com")
		assert.ErrorIs(t, err, ErrNotFound)
		grants, err = s.ListGrants(ctx, GrantFilter{})
		require.NoError(t, err)
		assert.Empty(t, grants)
	})
}

func TestSCIMGroupsAndSignIns(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		// A sign-in made "team" from the ID token's claims.
		_, err := s.SignInSSO(ctx, "https://idp", "sub-ann", "ann", "Ann", []string{"team", "other"}, false)
		require.NoError(t, err)
		ann, err := s.GetUser(ctx, "ann")
		require.NoError(t, err)
		assert.False(t, ann.LastSSOAt.IsZero(), "the sign-in is recorded")
		assert.WithinDuration(t, time.Now(), ann.LastSSOAt, time.Minute)
		bob, err := s.ProvisionSCIMUser(ctx, User{Username: "bob"})
		require.NoError(t, err)

		// SCIM takes "team" over: its members become SCIM's.
		g, err := s.ProvisionSCIMGroup(ctx, "team", "ext-team", nil)
		require.NoError(t, err)
		assert.True(t, g.SCIM)
		assert.Empty(t, g.Members)
		_, err = s.ProvisionSCIMGroup(ctx, "team", "", nil)
		assert.ErrorIs(t, err, ErrConflict)
		g, err = s.ChangeGroup(ctx, g.ID, GroupChange{Members: &MemberChange{Add: []int64{bob.ID}}})
		require.NoError(t, err)
		assert.Equal(t, []string{"bob"}, g.Members)

		// A sign-in whose claims name "team" no longer adds Ann to it,
		// and one whose claims do not name it does not remove Bob.
		_, err = s.SignInSSO(ctx, "https://idp", "sub-ann", "ann", "Ann", []string{"team", "other"}, false)
		require.NoError(t, err)
		_, err = s.SignInSSO(ctx, "https://idp", "sub-bob", "bob", "Bob", []string{"other"}, false)
		require.NoError(t, err)
		ann, err = s.GetUser(ctx, "ann")
		require.NoError(t, err)
		assert.Equal(t, []string{"other"}, ann.Groups)
		bob, err = s.GetUser(ctx, "bob")
		require.NoError(t, err)
		assert.Equal(t, []string{"other", "team"}, bob.Groups)

		// Replace, add, remove; an unknown id changes nothing.
		g, err = s.ChangeGroup(ctx, g.ID, GroupChange{Members: &MemberChange{Replace: true, Add: []int64{ann.ID}}})
		require.NoError(t, err)
		assert.Equal(t, []string{"ann"}, g.Members)
		_, err = s.ChangeGroup(ctx, g.ID, GroupChange{Members: &MemberChange{Add: []int64{bob.ID, 999999}}})
		assert.ErrorIs(t, err, ErrInvalid)
		g, err = s.GroupByID(ctx, g.ID)
		require.NoError(t, err)
		assert.Equal(t, []string{"ann"}, g.Members)
		g, err = s.ChangeGroup(ctx, g.ID, GroupChange{Members: &MemberChange{Add: []int64{bob.ID}, Remove: []int64{ann.ID}}})
		require.NoError(t, err)
		assert.Equal(t, []string{"bob"}, g.Members)

		all, err := s.ListGroupDetails(ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)
		assert.Equal(t, "other", all[0].Name)
		assert.Equal(t, []string{"ann", "bob"}, all[0].Members)
		assert.Equal(t, "ext-team", all[1].ExternalID)
	})
}

func TestSCIMTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		on, err := s.HasSCIMTokens(ctx)
		require.NoError(t, err)
		assert.False(t, on)
		tok, err := s.CreateSCIMToken(ctx, SCIMToken{Name: "okta", Hash: hash("s1"), Prefix: "mlfscim_ab", CreatedBy: "root"})
		require.NoError(t, err)
		_, err = s.CreateSCIMToken(ctx, SCIMToken{Name: "okta", Hash: hash("s2")})
		assert.ErrorIs(t, err, ErrConflict)
		on, err = s.HasSCIMTokens(ctx)
		require.NoError(t, err)
		assert.True(t, on)
		got, err := s.SCIMTokenByHash(ctx, hash("s1"))
		require.NoError(t, err)
		assert.Equal(t, "okta", got.Name)
		list, err := s.ListSCIMTokens(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.False(t, list[0].LastUsedAt.IsZero(), "the use is recorded")
		require.NoError(t, s.RevokeSCIMToken(ctx, tok.ID))
		_, err = s.SCIMTokenByHash(ctx, hash("s1"))
		assert.True(t, errors.Is(err, ErrNotFound))
		assert.ErrorIs(t, s.RevokeSCIMToken(ctx, tok.ID), ErrNotFound)
		on, err = s.HasSCIMTokens(ctx)
		require.NoError(t, err)
		assert.False(t, on)
	})
}

func TestRenameGroupMovesGrantsAndRules(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		e := followingEngine(t, s)

		g, err := s.ProvisionSCIMGroup(ctx, "ds", "", nil)
		require.NoError(t, err)
		ann, err := s.ProvisionSCIMUser(ctx, User{Username: "ann"})
		require.NoError(t, err)
		_, err = s.ChangeGroup(ctx, g.ID, GroupChange{Members: &MemberChange{Add: []int64{ann.ID}}})
		require.NoError(t, err)
		exp := permission.Resource{Kind: permission.Experiment, ID: "1", Name: "ds-churn"}
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: exp, Principal: permission.ForGroup("ds"), Level: permission.Edit}))
		_, err = s.CreateRule(ctx, permission.Rule{Kind: permission.Experiment, Principal: permission.ForGroup("ds"), Pattern: "^ds-", Priority: 1, Level: permission.Read})
		require.NoError(t, err)
		_, err = s.ProvisionSCIMGroup(ctx, "taken", "", nil)
		require.NoError(t, err)
		_, err = s.ChangeGroup(ctx, g.ID, GroupChange{Name: ptr("taken")})
		assert.ErrorIs(t, err, ErrConflict)

		renamed, err := s.ChangeGroup(ctx, g.ID, GroupChange{Name: ptr("data-science")})
		require.NoError(t, err)
		assert.Equal(t, "data-science", renamed.Name)
		assert.Equal(t, []string{"ann"}, renamed.Members)
		grant, err := s.GetGrant(ctx, exp, permission.ForGroup("data-science"))
		require.NoError(t, err)
		assert.Equal(t, permission.Edit, grant.Level)
		_, err = s.GetGrant(ctx, exp, permission.ForGroup("ds"))
		assert.ErrorIs(t, err, ErrNotFound)
		rules, err := s.ListRules(ctx, permission.Experiment)
		require.NoError(t, err)
		require.Len(t, rules, 1)
		assert.Equal(t, "data-science", rules[0].Principal.Name)

		// The engine, following the feed, decides with the new name.
		snap := e.Snapshot()
		assert.Equal(t, "EDIT from group `data-science`", snap.Decide(snap.Subject("ann", nil), exp).Explain())
	})
}

// An account a bearer JWT provisions counts as signed in through the
// identity provider, so SSO_REVALIDATE_DAYS applies to it.
func TestBearerProvisioningRecordsTheSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		require.NoError(t, s.ProvisionUser(ctx, "jwt@example.com", "JWT", false))
		u, err := s.GetUser(ctx, "jwt@example.com")
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now(), u.LastSSOAt, time.Minute)
		assert.False(t, u.RevalidateBy(30).IsZero())
	})
}

// A rename (an email address that changed at the identity provider)
// moves the account's grants and rules; its tokens and binding stay, its
// sessions end; the engine decides with the new name at once.
func TestRenameUser(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		e := followingEngine(t, s)

		u, err := s.ProvisionSCIMUser(ctx, User{Username: "ann.smith@example.com"})
		require.NoError(t, err)
		require.NoError(t, s.BindIdentity(ctx, "https://idp", "sub-ann", u.Username))
		exp := permission.Resource{Kind: permission.Experiment, ID: "4", Name: "ann-x"}
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: exp, Principal: permission.ForUser(u.Username), Level: permission.Edit}))
		_, err = s.CreateRule(ctx, permission.Rule{Kind: permission.Experiment, Principal: permission.ForUser(u.Username), Pattern: "^ann-", Priority: 1, Level: permission.Read})
		require.NoError(t, err)
		_, err = s.CreateToken(ctx, Token{Username: u.Username, Name: "laptop", Hash: hash("ann-secret"), Prefix: "p", ExpiresAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		require.NoError(t, s.CreateSession(ctx, Session{Hash: hash("ann-session"), Username: u.Username, ExpiresAt: time.Now().Add(time.Hour)}))
		_, err = s.CreateUser(ctx, User{Username: "taken@example.com"})
		require.NoError(t, err)

		taken := "Taken@Example.com"
		_, err = s.UpdateUser(ctx, u.Username, UserChange{Username: &taken})
		assert.ErrorIs(t, err, ErrConflict)

		to := "Ann.Jones@Example.com"
		out, err := s.UpdateUser(ctx, u.Username, UserChange{Username: &to})
		require.NoError(t, err)
		assert.Equal(t, "ann.jones@example.com", out.Username)
		assert.Equal(t, u.ID, out.ID)
		_, err = s.GetUser(ctx, "ann.smith@example.com")
		assert.ErrorIs(t, err, ErrNotFound)
		bound, err := s.UsernameByIdentity(ctx, "https://idp", "sub-ann")
		require.NoError(t, err)
		assert.Equal(t, "ann.jones@example.com", bound, "the binding stays with the account")
		tok, err := s.TokenByHash(ctx, hash("ann-secret"))
		require.NoError(t, err)
		assert.Equal(t, "ann.jones@example.com", tok.Username)
		assert.True(t, tok.Live(time.Now()), "tokens stay")
		ses, err := s.SessionByHash(ctx, hash("ann-session"))
		require.NoError(t, err)
		assert.False(t, ses.RevokedAt.IsZero(), "sessions, which carry the old name, end")
		rules, err := s.ListRules(ctx, permission.Experiment)
		require.NoError(t, err)
		require.Len(t, rules, 1)
		assert.Equal(t, "ann.jones@example.com", rules[0].Principal.Name)

		snap := e.Snapshot()
		assert.Equal(t, "EDIT from a grant to the user", snap.Decide(snap.Subject("ann.jones@example.com", nil), exp).Explain())
		assert.False(t, snap.Decide(snap.Subject("ann.smith@example.com", nil), exp).Allows(permission.CanRead), "the old name holds nothing")
	})
}

// What a SCIM DELETE and a later create of the same name may not bring
// back: an administrator's deactivation, and, for someone else given the
// name, the leaver's role and groups.
func TestSCIMDeleteAndReturn(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		// Deactivated by an administrator, then deleted by SCIM, then the
		// same person provisioned again: still deactivated.
		_, err := s.ProvisionSCIMUser(ctx, User{Username: "held", ExternalID: "e1"})
		require.NoError(t, err)
		off := false
		_, err = s.UpdateUser(ctx, "held", UserChange{Active: &off})
		require.NoError(t, err)
		require.NoError(t, s.RemoveSCIMUser(ctx, "held", false))
		back, err := s.ProvisionSCIMUser(ctx, User{Username: "held", ExternalID: "e1"})
		require.NoError(t, err)
		assert.True(t, back.Deactivated, "SCIM brings the account back, not the access an administrator took")
		assert.Equal(t, SCIMLinked, back.SCIM, "and cannot reactivate it later either")

		// A leaver who was an administrator, in a sign-in group.
		_, err = s.CreateUser(ctx, User{Username: "other-admin", Admin: true})
		require.NoError(t, err)
		_, err = s.SignInSSO(ctx, "https://idp", "sub-ann", "ann", "Ann", []string{"claims-team"}, true)
		require.NoError(t, err)
		ext := "old"
		_, err = s.UpdateUser(ctx, "ann", UserChange{ExternalID: &ext})
		require.NoError(t, err)
		require.NoError(t, s.RemoveSCIMUser(ctx, "ann", false))
		next, err := s.ProvisionSCIMUser(ctx, User{Username: "ann", ExternalID: "new"})
		require.NoError(t, err)
		assert.False(t, next.Admin, "someone else given the name is not an administrator")
		assert.Empty(t, next.Groups, "nor in the leaver's groups")

		// The reviewer's sequence: a password an administrator set, an
		// administrator's deactivation, then SCIM deletes and creates the
		// name again under another externalId (which SCIM itself sets).
		_, err = s.ProvisionSCIMUser(ctx, User{Username: "eve", ExternalID: "x1"})
		require.NoError(t, err)
		hash := "pbkdf2:sha256:1$salt$abc"
		_, err = s.UpdateUser(ctx, "eve", UserChange{PasswordHash: &hash, Active: &off})
		require.NoError(t, err)
		require.NoError(t, s.RemoveSCIMUser(ctx, "eve", false))
		gone, err := s.GetUser(ctx, "eve")
		require.NoError(t, err)
		assert.Empty(t, gone.PasswordHash, "a deleted person's password stops for good")
		eve, err := s.ProvisionSCIMUser(ctx, User{Username: "eve", ExternalID: "x2"})
		require.NoError(t, err)
		assert.True(t, eve.Deactivated, "whoever the name now names, SCIM cannot undo an administrator's deactivation")
		assert.Empty(t, eve.PasswordHash)

		// An administrator brings back what SCIM deleted: SCIM sees it
		// again, so the identity provider can deprovision it again.
		_, err = s.ProvisionSCIMUser(ctx, User{Username: "fay", ExternalID: "f1"})
		require.NoError(t, err)
		require.NoError(t, s.RemoveSCIMUser(ctx, "fay", false))
		on := true
		fay, err := s.UpdateUser(ctx, "fay", UserChange{Active: &on})
		require.NoError(t, err)
		assert.False(t, fay.Deactivated)
		assert.Equal(t, SCIMLinked, fay.SCIM, "not left hidden from SCIM while active")

		// Deactivated by an administrator after SCIM deleted it: held too.
		_, err = s.ProvisionSCIMUser(ctx, User{Username: "gil", ExternalID: "g1"})
		require.NoError(t, err)
		require.NoError(t, s.RemoveSCIMUser(ctx, "gil", false))
		_, err = s.UpdateUser(ctx, "gil", UserChange{Active: &off})
		require.NoError(t, err)
		gil, err := s.ProvisionSCIMUser(ctx, User{Username: "gil", ExternalID: "g2"})
		require.NoError(t, err)
		assert.True(t, gil.Deactivated)

		// A person imported from mlflow-oidc-auth, deleted and provisioned
		// again: their clock under SSO_REVALIDATE_DAYS starts at their
		// next sign-in, not at the old import (which would lapse them at once).
		_, err = s.CreateUser(ctx, User{Username: "ivy", Origin: OriginMLflowOIDCAuth, PasswordHash: hash})
		require.NoError(t, err)
		ivy, err := s.GetUser(ctx, "ivy")
		require.NoError(t, err)
		assert.False(t, ivy.RevalidateBy(30).IsZero(), "imported: counts from the import")
		require.NoError(t, s.RemoveSCIMUser(ctx, "ivy", false))
		ivy, err = s.ProvisionSCIMUser(ctx, User{Username: "ivy"})
		require.NoError(t, err)
		assert.Equal(t, OriginLocal, ivy.Origin)
		assert.True(t, ivy.RevalidateBy(30).IsZero())
	})
}

// A password an administrator sets on an account imported from
// mlflow-oidc-auth is a password: not taken for the access token the
// import kept in its place (which SSO_REVALIDATE_DAYS lapses).
func TestPasswordOnImportedAccount(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.CreateUser(ctx, User{Username: "jo", Origin: OriginMLflowOIDCAuth, PasswordHash: "pbkdf2:sha256:1$salt$token"})
		require.NoError(t, err)
		jo, err := s.GetUser(ctx, "jo")
		require.NoError(t, err)
		assert.False(t, jo.HasPassword())
		hash := "pbkdf2:sha256:1$salt$password"
		jo, err = s.UpdateUser(ctx, "jo", UserChange{PasswordHash: &hash})
		require.NoError(t, err)
		assert.True(t, jo.HasPassword())
		assert.Equal(t, OriginLocal, jo.Origin)
		assert.True(t, jo.RevalidateBy(30).IsZero(), "a password account does not lapse")
	})
}

// A member made a service account since can still leave a SCIM group, so
// the other removals in the same request are not refused with it.
func TestServiceAccountCanLeaveAGroup(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ann, err := s.ProvisionSCIMUser(ctx, User{Username: "ann"})
		require.NoError(t, err)
		bob, err := s.ProvisionSCIMUser(ctx, User{Username: "bob"})
		require.NoError(t, err)
		g, err := s.ProvisionSCIMGroup(ctx, "team", "", []int64{ann.ID, bob.ID})
		require.NoError(t, err)
		yes := true
		_, err = s.UpdateUser(ctx, "ann", UserChange{ServiceAccount: &yes})
		require.NoError(t, err)
		g, err = s.ChangeGroup(ctx, g.ID, GroupChange{Members: &MemberChange{Remove: []int64{ann.ID, bob.ID}}})
		require.NoError(t, err)
		assert.Empty(t, g.Members)
		_, err = s.ChangeGroup(ctx, g.ID, GroupChange{Members: &MemberChange{Add: []int64{ann.ID}}})
		assert.ErrorIs(t, err, ErrInvalid, "but cannot join")
	})
}

func ptr[T any](v T) *T { return &v }

// followingEngine is a permission engine following s's change feed until
// the test ends.
func followingEngine(t *testing.T, s *Store) *permission.Engine {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e, err := permission.NewEngine(ctx, s, permission.Config{})
	require.NoError(t, err)
	go func() { _ = s.Follow(ctx, e, FollowOptions{}) }()
	waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.followers) == 1 })
	return e
}
