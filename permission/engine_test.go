package permission

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func engineOf(t testing.TB, d *Data, cfg Config) *Engine {
	t.Helper()
	e, err := NewEngine(context.Background(), LoaderFunc(func(context.Context) (*Data, error) { return d, nil }), cfg)
	require.NoError(t, err)
	return e
}

func exp(id, name string) Resource { return Resource{Kind: Experiment, ID: id, Name: name} }

func TestLevels(t *testing.T) {
	// MLflow's table: READ reads; USE reads and uses; EDIT also updates;
	// MANAGE also deletes and manages; NO_PERMISSIONS nothing.
	table := map[Level][5]bool{
		Read:          {true, false, false, false, false},
		Use:           {true, true, false, false, false},
		Edit:          {true, true, true, false, false},
		Manage:        {true, true, true, true, true},
		NoPermissions: {false, false, false, false, false},
	}
	for l, row := range table {
		for c, want := range row {
			assert.Equal(t, want, l.Allows(Capability(c)), "%v %v", l, Capability(c))
		}
	}
	assert.False(t, Level(9).Allows(CanRead), "an unknown level allows nothing")
	assert.False(t, Manage.Allows(Capability(9)), "an unknown capability is allowed to nobody")

	for _, name := range []string{"READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS"} {
		l, err := ParseLevel(name)
		require.NoError(t, err)
		assert.Equal(t, name, l.String())
	}
	_, err := ParseLevel("read")
	require.ErrorIs(t, err, ErrInvalidLevel)
	assert.Equal(t, "Invalid permission 'read'. Valid permissions are: ('READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS')", err.Error())

	var l Level
	require.NoError(t, l.UnmarshalText([]byte("EDIT")))
	assert.Equal(t, Edit, l)
	b, err := Manage.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "MANAGE", string(b))
	assert.Error(t, l.UnmarshalText([]byte("OWNER")))

	c, err := ParseCapability("update")
	require.NoError(t, err)
	assert.Equal(t, CanUpdate, c)
	_, err = ParseCapability("write")
	assert.Error(t, err)
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds() {
		got, err := ParseKind(k.String())
		require.NoError(t, err)
		assert.Equal(t, k, got)
	}
	_, err := ParseKind("run")
	assert.Error(t, err)
}

func TestParseOrder(t *testing.T) {
	o, err := ParseOrder("")
	require.NoError(t, err)
	assert.Equal(t, DefaultOrder(), o)
	o, err = ParseOrder("group-regex, user,group")
	require.NoError(t, err)
	assert.Equal(t, []Source{SourceGroupRegex, SourceUser, SourceGroup}, o)
	_, err = ParseOrder("user,users")
	assert.EqualError(t, err, `permission: unknown permission source "users" (expected user, group, regex or group-regex)`)
	_, err = ParseOrder("user,user")
	assert.EqualError(t, err, `permission: permission source "user" given twice`)
}

func TestDecide(t *testing.T) {
	data := &Data{
		Users: []User{
			{Name: "alice", Active: true, Groups: []string{"ml-team"}},
			{Name: "root", Active: true, Admin: true},
			{Name: "gone", Active: false, Admin: true},
			{Name: "nogroups", Active: true},
			{Name: "dora", Active: true, Groups: []string{"ml-team"}},
		},
		Grants: []Grant{
			{Resource: exp("1", "team-a/churn"), Principal: ForUser("alice"), Level: Read},
			{Resource: exp("1", "team-a/churn"), Principal: ForGroup("ml-team"), Level: Manage},
			{Resource: exp("2", "team-a/fraud"), Principal: ForGroup("ml-team"), Level: Edit},
			{Resource: exp("2", "team-a/fraud"), Principal: ForGroup("contractors"), Level: NoPermissions},
			{Resource: exp("3", "shared"), Principal: ForGroup("ml-team"), Level: Read},
			{Resource: exp("3", "shared"), Principal: ForGroup("ops"), Level: Edit},
			{Resource: Resource{Kind: RegisteredModel, ID: "churn-model"}, Principal: ForUser("alice"), Level: Edit},
			{Resource: Resource{Kind: Prompt, ID: "summarise"}, Principal: ForUser("alice"), Level: Read},
			{Resource: Resource{Kind: RegisteredModel, ID: "summarise"}, Principal: ForUser("alice"), Level: Manage},
			{Resource: Resource{Kind: Scorer, ID: "1", Name: "relevance"}, Principal: ForUser("alice"), Level: Edit},
		},
		Rules: []Rule{
			{ID: 1, Kind: Experiment, Principal: ForGroup("ml-team"), Pattern: `^team-a/`, Priority: 10, Level: Edit},
			{ID: 2, Kind: Experiment, Principal: ForGroup("ml-team"), Pattern: `^team-a/secret`, Priority: 5, Level: NoPermissions},
			{ID: 3, Kind: Experiment, Principal: ForUser("dora"), Pattern: `x*`, Priority: 100, Level: Read},
			{ID: 4, Kind: RegisteredModel, Principal: ForGroup("ml-team"), Pattern: `prod-`, Priority: 1, Level: Use},
			{ID: 5, Kind: RegisteredModel, Principal: ForGroup("ml-team"), Pattern: `prod-`, Priority: 1, Level: Manage},
			{ID: 6, Kind: GatewayEndpoint, Principal: ForGroup("ml-team"), Pattern: `^chat-`, Priority: 1, Level: Use},
		},
	}
	e := engineOf(t, data, Config{})
	s := e.Snapshot()
	alice := s.Subject("alice", nil)

	tests := []struct {
		name    string
		subj    Subject
		res     Resource
		explain string
	}{
		{"user grant wins over group (user first)", alice, exp("1", "team-a/churn"), "READ from a grant to the user"},
		{"group grant", alice, exp("2", "team-a/fraud"), "EDIT from group `ml-team`"},
		{"group regex, lower priority number first", alice, exp("9", "team-a/secret-project"), "NO_PERMISSIONS from group `ml-team` regex `^team-a/secret` priority 5"},
		{"group regex", alice, exp("10", "team-a/new"), "EDIT from group `ml-team` regex `^team-a/` priority 10"},
		{"user regex comes before group regex", s.Subject("dora", nil), exp("10", "team-a/new"), "READ from user regex `x*` priority 100"},
		{"a regex matching the empty string matches every name", s.Subject("dora", nil), exp("11", "anything"), "READ from user regex `x*` priority 100"},
		{"regex sources need a name", s.Subject("dora", nil), exp("12", ""), "NO_PERMISSIONS by default (no grant or rule applies)"},
		{"group regex does not apply outside the group", s.Subject("alice", []string{"ops"}), exp("10", "team-a/new"), "NO_PERMISSIONS by default (no grant or rule applies)"},
		{"equal priorities: lower rule id first", alice, Resource{Kind: RegisteredModel, ID: "prod-x"}, "USE from group `ml-team` regex `prod-` priority 1"},
		{"model grant", alice, Resource{Kind: RegisteredModel, ID: "churn-model"}, "EDIT from a grant to the user"},
		{"prompt grant first", alice, Resource{Kind: Prompt, ID: "summarise"}, "READ from a grant to the user"},
		{"prompt falls back to the model grant of the same name", alice, Resource{Kind: Prompt, ID: "churn-model"}, "EDIT from a grant to the user on the registered model of the same name"},
		{"prompt does not fall back to model regex rules", alice, Resource{Kind: Prompt, ID: "prod-x"}, "NO_PERMISSIONS by default (no grant or rule applies)"},
		{"scorer grant by experiment and name", alice, Resource{Kind: Scorer, ID: "1", Name: "relevance"}, "EDIT from a grant to the user"},
		{"scorer of another experiment", alice, Resource{Kind: Scorer, ID: "2", Name: "relevance"}, "NO_PERMISSIONS by default (no grant or rule applies)"},
		{"gateway rule on the name", alice, Resource{Kind: GatewayEndpoint, ID: "ep-1", Name: "chat-gpt"}, "USE from group `ml-team` regex `^chat-` priority 1"},
		{"no groups", s.Subject("nogroups", nil), exp("2", "team-a/fraud"), "NO_PERMISSIONS by default (no grant or rule applies)"},
		{"admin", s.Subject("root", nil), exp("1", "team-a/churn"), "MANAGE: administrator"},
		{"deactivated admin", s.Subject("gone", nil), exp("1", "team-a/churn"), "NO_PERMISSIONS: the user is deactivated"},
		{"unknown user gets group grants from the IdP", s.Subject("stranger", []string{"ml-team"}), exp("2", "team-a/fraud"), "EDIT from group `ml-team`"},
		{"deny wins across groups", s.Subject("bob", []string{"ml-team", "contractors"}), exp("2", "team-a/fraud"), "NO_PERMISSIONS from group `contractors`"},
		{"most permissive group otherwise", s.Subject("bob", []string{"ml-team", "ops"}), exp("3", "shared"), "EDIT from group `ops`"},
		{"unknown kind is denied", s.Subject("root", nil), Resource{Kind: 0, ID: "1"}, "NO_PERMISSIONS: unknown resource kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.explain, s.Decide(tt.subj, tt.res).Explain())
			assert.Equal(t, tt.explain, e.Decide(tt.subj, tt.res).String())
		})
	}

	t.Run("most permissive mode", func(t *testing.T) {
		e := engineOf(t, data, Config{GroupMode: MostPermissive})
		s := e.Snapshot()
		d := s.Decide(s.Subject("bob", []string{"ml-team", "contractors"}), exp("2", "team-a/fraud"))
		assert.Equal(t, "EDIT from group `ml-team`", d.Explain())
	})
	t.Run("default level", func(t *testing.T) {
		e := engineOf(t, data, Config{Default: Read})
		d := e.Decide(Subject{Username: "x", Active: true}, exp("404", "nobody-knows"))
		assert.Equal(t, Read, d.Level)
		assert.Equal(t, SourceDefault, d.Source)
		assert.True(t, d.Allows(CanRead))
		assert.False(t, d.Allows(CanUpdate))
	})
	t.Run("order", func(t *testing.T) {
		e := engineOf(t, data, Config{Order: []Source{SourceGroup, SourceUser}})
		s := e.Snapshot()
		assert.Equal(t, "MANAGE from group `ml-team`", s.Decide(s.Subject("alice", nil), exp("1", "team-a/churn")).Explain())
		assert.Equal(t, "NO_PERMISSIONS by default (no grant or rule applies)", s.Decide(s.Subject("alice", nil), exp("10", "team-a/new")).Explain(),
			"a source left out of the order is never consulted")
	})
}

func TestUserInThousandGroups(t *testing.T) {
	var groups []string
	for i := range 1000 {
		groups = append(groups, fmt.Sprintf("g%04d", i))
	}
	data := &Data{
		Users: []User{{Name: "wide", Active: true, Groups: groups}},
		Grants: []Grant{
			{Resource: exp("1", "a"), Principal: ForGroup("g0500"), Level: Read},
			{Resource: exp("1", "a"), Principal: ForGroup("g0999"), Level: Edit},
			{Resource: exp("1", "a"), Principal: ForGroup("outsider"), Level: Manage},
		},
		Rules: []Rule{{ID: 1, Kind: Experiment, Principal: ForGroup("g0777"), Pattern: "b", Level: Use}},
	}
	s := engineOf(t, data, Config{}).Snapshot()
	subj := s.Subject("wide", nil)
	assert.Equal(t, 1000, subj.Groups.Len())
	assert.Equal(t, "EDIT from group `g0999`", s.Decide(subj, exp("1", "a")).Explain())
	assert.Equal(t, "USE from group `g0777` regex `b` priority 0", s.Decide(subj, exp("2", "b")).Explain())
}

func TestGroups(t *testing.T) {
	g := NewGroups("b", "a", "", "b")
	assert.Equal(t, []string{"a", "b"}, g.Names())
	assert.True(t, g.Contains("a"))
	assert.False(t, g.Contains(""))
	names := g.Names()
	names[0] = "changed"
	assert.True(t, g.Contains("a"), "Names returns a copy")
}

func TestCanCreate(t *testing.T) {
	data := &Data{
		Users: []User{{Name: "alice", Active: true, Groups: []string{"team-a"}}, {Name: "off", Active: false}},
		Rules: []Rule{
			{ID: 1, Kind: Experiment, Principal: ForGroup("team-a"), Pattern: "^team-a/", Level: Edit},
			{ID: 2, Kind: Experiment, Principal: ForUser("alice"), Pattern: "^scratch/", Level: Read},
			{ID: 3, Kind: RegisteredModel, Principal: ForGroup("team-a"), Pattern: "^team-a-", Level: Manage},
		},
	}
	restricted := engineOf(t, data, Config{RestrictCreation: true}).Snapshot()
	alice := restricted.Subject("alice", nil)
	ok, d := restricted.CanCreate(alice, Experiment, "team-a/new")
	assert.True(t, ok)
	assert.Equal(t, "EDIT from group `team-a` regex `^team-a/` priority 0", d.Explain())
	ok, d = restricted.CanCreate(alice, Experiment, "scratch/x")
	assert.False(t, ok, "READ from a rule is not enough")
	assert.Equal(t, SourceRegex, d.Source)
	ok, _ = restricted.CanCreate(alice, Experiment, "team-b/new")
	assert.False(t, ok, "no rule: refused")
	ok, _ = restricted.CanCreate(alice, RegisteredModel, "team-a-churn")
	assert.True(t, ok)
	ok, _ = restricted.CanCreate(alice, Scorer, "anything")
	assert.True(t, ok, "only experiments, models and prompts are restricted")
	ok, _ = restricted.CanCreate(restricted.Subject("off", nil), GatewayEndpoint, "x")
	assert.False(t, ok, "a deactivated user creates nothing")
	ok, d = restricted.CanCreate(Subject{Username: "root", Admin: true, Active: true}, Experiment, "x")
	assert.True(t, ok)
	assert.Equal(t, SourceAdmin, d.Source)

	open := engineOf(t, data, Config{}).Snapshot()
	ok, _ = open.CanCreate(open.Subject("alice", nil), Experiment, "team-b/new")
	assert.True(t, ok)
}

func TestApply(t *testing.T) {
	data := &Data{Seq: 5, Users: []User{{Name: "alice", Active: true}}}
	e := engineOf(t, data, Config{})
	alice := Subject{Username: "alice", Active: true}
	before := e.Snapshot()
	assert.Equal(t, uint64(5), before.Seq())

	require.NoError(t, e.Apply(6, PutGrant{Grant: Grant{Resource: exp("1", "x"), Principal: ForUser("alice"), Level: Edit}}))
	assert.Equal(t, Edit, e.Decide(alice, exp("1", "x")).Level)
	assert.Equal(t, NoPermissions, before.Decide(alice, exp("1", "x")).Level, "an old snapshot never changes")

	// Replayed and gapped positions.
	require.NoError(t, e.Apply(6, DeleteResource{Resource: exp("1", "x")}), "already applied: ignored")
	assert.Equal(t, Edit, e.Decide(alice, exp("1", "x")).Level)
	err := e.Apply(8, DeleteResource{Resource: exp("1", "x")})
	require.ErrorIs(t, err, ErrGap)
	assert.Equal(t, Edit, e.Decide(alice, exp("1", "x")).Level)

	// All or nothing: a bad rule leaves everything as it was.
	err = e.Apply(7,
		DeleteResource{Resource: exp("1", "x")},
		PutRule{Rule: Rule{ID: 1, Kind: Experiment, Principal: ForUser("alice"), Pattern: "(?=x)", Level: Read}})
	require.ErrorIs(t, err, ErrInvalidDelta)
	require.ErrorIs(t, err, ErrInvalidPattern)
	assert.Contains(t, err.Error(), "rule 1 (experiment, user alice, priority 0)")
	assert.Equal(t, Edit, e.Decide(alice, exp("1", "x")).Level)
	assert.Equal(t, uint64(6), e.Snapshot().Seq())

	// Unnumbered local apply, then the same change arriving numbered.
	g := PutGrant{Grant: Grant{Resource: exp("2", "y"), Principal: ForGroup("g"), Level: Read}}
	require.NoError(t, e.Apply(0, g))
	assert.Equal(t, uint64(6), e.Snapshot().Seq())
	require.NoError(t, e.Apply(7, g))
	assert.Equal(t, uint64(7), e.Snapshot().Seq())

	// Rules and users.
	require.NoError(t, e.Apply(8,
		PutRule{Rule: Rule{ID: 1, Kind: Experiment, Principal: ForUser("alice"), Pattern: "^y", Level: Use}},
		PutUser{User: User{Name: "alice", Active: true, Groups: []string{"g"}}}))
	s := e.Snapshot()
	assert.Equal(t, "READ from group `g`", s.Decide(s.Subject("alice", nil), exp("2", "y")).Explain())
	assert.Equal(t, "USE from user regex `^y` priority 0", s.Decide(s.Subject("alice", nil), exp("3", "yes")).Explain())
	require.NoError(t, e.Apply(9,
		PutRule{Rule: Rule{ID: 1, Kind: RegisteredModel, Principal: ForUser("alice"), Pattern: "^y", Level: Use}}))
	s = e.Snapshot()
	assert.Equal(t, SourceDefault, s.Decide(s.Subject("alice", nil), exp("3", "yes")).Source, "a rule moved to another kind leaves the old one")
	assert.Equal(t, Use, s.Decide(s.Subject("alice", nil), Resource{Kind: RegisteredModel, ID: "yes"}).Level)
	require.NoError(t, e.Apply(10, DeleteRule{ID: 1}, DeleteUser{Name: "alice"}, DeleteGrant{Resource: exp("2", "y"), Principal: ForGroup("g")},
		DeleteResource{Resource: exp("1", "x")}))
	s = e.Snapshot()
	assert.Equal(t, SourceDefault, s.Decide(s.Subject("alice", []string{"g"}), exp("2", "y")).Source)
	users, resources, rules := s.Counts()
	assert.Equal(t, [3]int{0, 0, 0}, [3]int{users, resources, rules})

	for _, bad := range []Delta{
		nil,
		PutUser{},
		PutGrant{Grant: Grant{Resource: Resource{Kind: 42, ID: "1"}, Principal: ForUser("a")}},
		PutGrant{Grant: Grant{Resource: exp("", "x"), Principal: ForUser("a")}},
		PutGrant{Grant: Grant{Resource: exp("1", "x"), Principal: Principal{}}},
		PutGrant{Grant: Grant{Resource: exp("1", "x"), Principal: ForUser("a"), Level: 7}},
	} {
		assert.ErrorIs(t, e.Apply(0, bad), ErrInvalidDelta, "%#v", bad)
	}
}

func TestResync(t *testing.T) {
	data := &Data{Rules: []Rule{{ID: 1, Kind: Experiment, Principal: ForUser("a"), Pattern: "^x", Level: Read}}}
	fail := false
	e, err := NewEngine(context.Background(), LoaderFunc(func(context.Context) (*Data, error) {
		if fail {
			return nil, errors.New("connection refused")
		}
		return data, nil
	}), Config{})
	require.NoError(t, err)
	old := e.Snapshot().rules[1]

	data = &Data{Seq: 3, Rules: []Rule{{ID: 1, Kind: Experiment, Principal: ForUser("a"), Pattern: "^x", Level: Edit}}}
	require.NoError(t, e.Resync(context.Background()))
	assert.Same(t, old.pat, e.Snapshot().rules[1].pat, "an unchanged pattern is not compiled again")
	assert.Equal(t, Edit, e.Decide(Subject{Username: "a", Active: true}, exp("1", "xy")).Level)

	fail = true
	err = e.Resync(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	assert.Equal(t, uint64(3), e.Snapshot().Seq(), "a failed resync keeps the snapshot")

	data = &Data{Rules: []Rule{{ID: 9, Kind: Experiment, Principal: ForUser("a"), Pattern: `(a)\1`, Level: Edit}}}
	fail = false
	err = e.Resync(context.Background())
	require.ErrorIs(t, err, ErrInvalidPattern, "a rule RE2 cannot express is refused, never dropped")
	assert.Contains(t, err.Error(), "rule 9")
}

func TestNewEngineConfig(t *testing.T) {
	empty := LoaderFunc(func(context.Context) (*Data, error) { return nil, nil })
	for _, cfg := range []Config{
		{Default: 9},
		{Order: []Source{SourceUser, SourceUser}},
		{Order: []Source{SourceAdmin}},
		{GroupMode: 7},
	} {
		_, err := NewEngine(context.Background(), empty, cfg)
		assert.Error(t, err, "%+v", cfg)
	}
	e, err := NewEngine(context.Background(), empty, Config{})
	require.NoError(t, err)
	assert.Equal(t, NoPermissions, e.Decide(Subject{Username: "a", Active: true}, exp("1", "x")).Level)
}

func TestValidateRule(t *testing.T) {
	assert.NoError(t, ValidateRule(Rule{ID: 1, Kind: Prompt, Principal: ForGroup("g"), Pattern: `^team-\d+/`, Level: Read}))
	for _, r := range []Rule{
		{ID: 2, Kind: 0, Principal: ForGroup("g"), Pattern: "x"},
		{ID: 3, Kind: Experiment, Pattern: "x"},
		{ID: 4, Kind: Experiment, Principal: ForGroup("g"), Pattern: "x", Level: 8},
		{ID: 5, Kind: Experiment, Principal: ForGroup("g"), Pattern: "(?<!a)b"},
	} {
		err := ValidateRule(r)
		require.Error(t, err)
		assert.Contains(t, err.Error(), fmt.Sprintf("rule %d", r.ID), "the rule is named")
	}
}

func TestPrefilters(t *testing.T) {
	for _, tt := range []struct {
		pattern  string
		prefix   string
		required []string
	}{
		{`^team-a/`, "team-a/", nil},
		{`team-a/.*-prod`, "team-a/", []string{"-prod"}},
		{`(team-a|team-b)/`, "team-", nil},
		{`[a-z]+-prod$`, "", []string{"-prod"}},
		{`(?i)team`, "", nil},
		{`(?i:ab)cd`, "", []string{"cd"}},
		{`a?bc`, "", []string{"bc"}},
		{`x*`, "", nil},
	} {
		c, err := compileRule(Rule{ID: 1, Kind: Experiment, Principal: ForUser("u"), Pattern: tt.pattern}, nil)
		require.NoError(t, err)
		assert.Equal(t, tt.prefix, c.prefix, tt.pattern)
		assert.Equal(t, tt.required, c.required, tt.pattern)
	}
}

// Readers and a writer at once: run under -race, decisions must always
// come from one whole snapshot.
func TestConcurrentDecideAndApply(t *testing.T) {
	e := engineOf(t, &Data{}, Config{})
	res := exp("1", "team-a/x")
	done := make(chan struct{})
	errs := make(chan string, 4)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- ""
					return
				default:
				}
				s := e.Snapshot()
				d := s.Decide(s.Subject("alice", []string{"g"}), res)
				// Grants and rules are put in pairs, so a snapshot has both
				// or neither: a group grant and a user rule on the same name.
				if d.Source != SourceDefault && d.Source != SourceGroup {
					errs <- d.Explain()
					return
				}
			}
		}()
	}
	for i := range 200 {
		var ds []Delta
		if i%2 == 0 {
			ds = []Delta{
				PutGrant{Grant: Grant{Resource: res, Principal: ForGroup("g"), Level: Edit}},
				PutRule{Rule: Rule{ID: 1, Kind: Experiment, Principal: ForUser("alice"), Pattern: "^team-a/", Level: Read}},
			}
		} else {
			ds = []Delta{DeleteResource{Resource: res}, DeleteRule{ID: 1}}
		}
		require.NoError(t, e.Apply(uint64(i+1), ds...))
	}
	close(done)
	for range 4 {
		assert.Empty(t, <-errs)
	}
}

func TestTextEncodings(t *testing.T) {
	for _, k := range Kinds() {
		b, err := k.MarshalText()
		require.NoError(t, err)
		var got Kind
		require.NoError(t, got.UnmarshalText(b))
		assert.Equal(t, k, got)
	}
	_, err := Kind(0).MarshalText()
	assert.Error(t, err)
	for _, k := range []PrincipalKind{ToUser, ToGroup} {
		b, err := k.MarshalText()
		require.NoError(t, err)
		var got PrincipalKind
		require.NoError(t, got.UnmarshalText(b))
		assert.Equal(t, k, got)
	}
	var pk PrincipalKind
	assert.Error(t, pk.UnmarshalText([]byte("team")))
	_, err = PrincipalKind(0).MarshalText()
	assert.Error(t, err)
	assert.Equal(t, "group g", ForGroup("g").String())
	assert.Equal(t, "user u", ForUser("u").String())
}

func TestHasRules(t *testing.T) {
	s := engineOf(t, &Data{Rules: []Rule{{ID: 1, Kind: Experiment, Principal: ForUser("a"), Pattern: "x"}}}, Config{}).Snapshot()
	assert.True(t, s.HasRules(Experiment))
	assert.False(t, s.HasRules(RegisteredModel))
	assert.False(t, s.HasRules(0))
}
