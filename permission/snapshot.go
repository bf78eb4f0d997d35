package permission

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"sort"
)

const (
	grantShards = 1024
	userShards  = 64
)

// settings are an engine's configuration, shared by its snapshots.
type settings struct {
	def       Level
	order     []Source
	groupMode GroupMode
	restrict  bool
	cacheSize int
	seed      maphash.Seed
}

// Snapshot is an immutable view of users, grants and rules. Decisions on one
// snapshot are consistent with each other; an Engine swaps in a new snapshot
// when the store changes, and readers never wait.
type Snapshot struct {
	seq    uint64
	cfg    *settings
	users  pmap[string, *userEntry]
	grants pmap[resKey, *resGrants]
	rules  map[int64]*compiledRule // shared until a rule changes
	kinds  [Workspace + 1]*kindRules
}

type userEntry struct {
	admin, active bool
	groups        Groups
}

// resGrants are the explicit grants on one resource, sorted by name.
type resGrants struct {
	users  []principalLevel
	groups []principalLevel
}

type principalLevel struct {
	name  string
	level Level
}

// kindRules are the rules of one kind, sorted by (priority, id), with a
// literal-prefix index and the per-name match cache.
type kindRules struct {
	rules      []*compiledRule
	byPrefix   map[string][]int32
	prefixLens []int
	unprefixed []int32
	cache      *matchCache
}

// Seq is the change-feed position the snapshot reflects.
func (s *Snapshot) Seq() uint64 { return s.seq }

// Counts reports how many users, resources with grants and rules the
// snapshot holds.
func (s *Snapshot) Counts() (users, resources, rules int) {
	return s.users.len(), s.grants.len(), len(s.rules)
}

// CacheStats reports how often the per-name rule-match caches of this
// snapshot's rule sets answered (hits) and how often the rules had to run
// (misses), since those rule sets were built.
func (s *Snapshot) CacheStats() (hits, misses uint64) {
	for _, k := range s.kinds {
		if k != nil {
			h, m := k.cache.stats()
			hits, misses = hits+h, misses+m
		}
	}
	return hits, misses
}

// Subject builds who decisions are made on for username: admin and active
// from the users table (a user the store does not know is active and not
// admin), and the identity provider's groups when the credential carried
// them (idpGroups non-nil), else the stored memberships.
func (s *Snapshot) Subject(username string, idpGroups []string) Subject {
	subj := Subject{Username: username, Active: true}
	u, ok := s.users.get(username)
	if ok {
		subj.Admin, subj.Active, subj.Groups = u.admin, u.active, u.groups
	}
	if idpGroups != nil {
		subj.Groups = NewGroups(idpGroups...)
	}
	return subj
}

// Decide returns subj's level on res and what decided it.
//
// Deactivated users are allowed nothing and admins everything. Otherwise
// the sources are tried in the configured order and the first that has an
// answer decides; if none has, the configured default applies. A prompt
// no source answers for is decided by the explicit user and group grants on
// the registered model of the same name (MLflow's admin API grants on prompts
// through registered-model permissions), then by the default.
func (s *Snapshot) Decide(subj Subject, res Resource) Decision {
	switch {
	case !res.Kind.valid():
		return Decision{Level: NoPermissions, Source: SourceUnknownKind}
	case !subj.Active:
		return Decision{Level: NoPermissions, Source: SourceInactive}
	case subj.Admin:
		return Decision{Level: Manage, Source: SourceAdmin}
	}
	if d, ok := s.decideOn(subj, res, false); ok {
		return d
	}
	if res.Kind == Prompt {
		model := Resource{Kind: RegisteredModel, ID: res.ID, Name: res.Name}
		if d, ok := s.decideOn(subj, model, true); ok {
			d.Via = RegisteredModel
			return d
		}
	}
	return Decision{Level: s.cfg.def, Source: SourceDefault}
}

// decideOn runs the sources in order on res; grantsOnly leaves out the
// regex sources.
func (s *Snapshot) decideOn(subj Subject, res Resource, grantsOnly bool) (Decision, bool) {
	var g *resGrants
	gLoaded := false
	var matched []int32
	mLoaded := false
	kr := s.kinds[res.Kind]
	name := res.matchName()
	for _, src := range s.cfg.order {
		switch src {
		case SourceUser, SourceGroup:
			if !gLoaded {
				g, _ = s.grants.get(res.key())
				gLoaded = true
			}
			if g == nil {
				continue
			}
			if src == SourceUser {
				if l, ok := findLevel(g.users, subj.Username); ok {
					return Decision{Level: l, Source: SourceUser}, true
				}
				continue
			}
			if l, group, ok := groupLevel(g.groups, subj.Groups, s.cfg.groupMode); ok {
				return Decision{Level: l, Source: SourceGroup, Group: group}, true
			}
		case SourceRegex, SourceGroupRegex:
			if grantsOnly || name == "" || kr == nil {
				continue
			}
			if !mLoaded {
				matched = kr.matches(name)
				mLoaded = true
			}
			for _, i := range matched {
				r := kr.rules[i]
				if src == SourceRegex && r.Principal.Kind == ToUser && r.Principal.Name == subj.Username {
					return Decision{Level: r.Level, Source: SourceRegex, Rule: &r.Rule}, true
				}
				if src == SourceGroupRegex && r.Principal.Kind == ToGroup && subj.Groups.Contains(r.Principal.Name) {
					return Decision{Level: r.Level, Source: SourceGroupRegex, Group: r.Principal.Name, Rule: &r.Rule}, true
				}
			}
		}
	}
	return Decision{}, false
}

// CanCreate reports whether subj may create (or rename something to) a
// resource of kind named name. Without RestrictCreation anyone may. With it,
// creating an experiment, registered model or prompt needs EDIT from the
// regex sources (in the configured order) on the new name; the decision says
// which rule allowed or refused it.
func (s *Snapshot) CanCreate(subj Subject, kind Kind, name string) (bool, Decision) {
	switch {
	case !subj.Active:
		return false, Decision{Level: NoPermissions, Source: SourceInactive}
	case subj.Admin:
		return true, Decision{Level: Manage, Source: SourceAdmin}
	case !s.cfg.restrict || (kind != Experiment && kind != RegisteredModel && kind != Prompt):
		return true, Decision{Level: Manage, Source: SourceDefault}
	}
	kr := s.kinds[kind]
	if kr != nil && name != "" {
		matched := kr.matches(name)
		for _, src := range s.cfg.order {
			for _, i := range matched {
				r := kr.rules[i]
				if (src == SourceRegex && r.Principal.Kind == ToUser && r.Principal.Name == subj.Username) ||
					(src == SourceGroupRegex && r.Principal.Kind == ToGroup && subj.Groups.Contains(r.Principal.Name)) {
					d := Decision{Level: r.Level, Source: src, Rule: &r.Rule}
					if src == SourceGroupRegex {
						d.Group = r.Principal.Name
					}
					return r.Level.Allows(CanUpdate), d
				}
			}
		}
	}
	return false, Decision{Level: NoPermissions, Source: SourceDefault}
}

func findLevel(ps []principalLevel, name string) (Level, bool) {
	i, ok := slices.BinarySearchFunc(ps, name, func(p principalLevel, n string) int { return cmp.Compare(p.name, n) })
	if !ok {
		return 0, false
	}
	return ps[i].level, true
}

// GroupMode says how grants to several of a user's groups combine.
type GroupMode uint8

const (
	// DenyWins: an explicit NO_PERMISSIONS on any of the user's groups
	// denies; otherwise the most permissive grant wins. This is what
	// mlflow-oidc-auth's code does (the highest "priority" wins, and
	// NO_PERMISSIONS has the highest), so imported rules keep their meaning.
	DenyWins GroupMode = iota
	// MostPermissive: the most permissive grant wins, NO_PERMISSIONS
	// included as the least.
	MostPermissive
)

// groupLevel combines the grants to the subject's groups. Both lists are
// sorted, so the group reported is the first in name order with the
// deciding level, whichever side is walked.
func groupLevel(grants []principalLevel, groups Groups, mode GroupMode) (Level, string, bool) {
	found := false
	var best Level
	var bestGroup string
	consider := func(l Level, group string) bool {
		if mode == DenyWins && l == NoPermissions {
			best, bestGroup, found = l, group, true
			return true
		}
		if !found || l > best {
			best, bestGroup, found = l, group, true
		}
		return false
	}
	if len(grants) <= groups.Len() {
		for _, g := range grants {
			if groups.Contains(g.name) && consider(g.level, g.name) {
				break
			}
		}
	} else {
		for _, name := range groups.names {
			if l, ok := findLevel(grants, name); ok && consider(l, name) {
				break
			}
		}
	}
	return best, bestGroup, found
}

// matches returns the indices of the rules matching name, ascending (so in
// priority order), from the cache or by running the rules.
func (k *kindRules) matches(name string) []int32 {
	if m, ok := k.cache.get(name); ok {
		return m
	}
	var m []int32
	for _, n := range k.prefixLens {
		if n > len(name) {
			break
		}
		for _, i := range k.byPrefix[name[:n]] {
			if k.rules[i].matches(name) {
				m = append(m, i)
			}
		}
	}
	for _, i := range k.unprefixed {
		if k.rules[i].matches(name) {
			m = append(m, i)
		}
	}
	slices.Sort(m)
	k.cache.add(name, m)
	return m
}

func newKindRules(rules []*compiledRule, cacheSize int) *kindRules {
	slices.SortFunc(rules, func(a, b *compiledRule) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	k := &kindRules{rules: rules, byPrefix: map[string][]int32{}, cache: newMatchCache(cacheSize)}
	lens := map[int]bool{}
	for i, r := range rules {
		if r.prefix == "" {
			k.unprefixed = append(k.unprefixed, int32(i))
			continue
		}
		k.byPrefix[r.prefix] = append(k.byPrefix[r.prefix], int32(i))
		lens[len(r.prefix)] = true
	}
	for n := range lens {
		k.prefixLens = append(k.prefixLens, n)
	}
	sort.Ints(k.prefixLens)
	return k
}

func (cfg *settings) hashKey(k resKey) uint64 {
	h := maphash.String(cfg.seed, k.id)
	if k.sub != "" {
		h = h*31 ^ maphash.String(cfg.seed, k.sub)
	}
	return h ^ uint64(k.kind)*0x9E3779B97F4A7C15
}

func (cfg *settings) hashName(s string) uint64 { return maphash.String(cfg.seed, s) }

// build makes a snapshot of d from scratch, reusing old's compiled patterns
// for rules whose pattern has not changed.
func build(d *Data, cfg *settings, old *Snapshot) (*Snapshot, error) {
	s := &Snapshot{
		seq:    d.Seq,
		cfg:    cfg,
		users:  newPmap[string, *userEntry](userShards, cfg.hashName),
		grants: newPmap[resKey, *resGrants](grantShards, cfg.hashKey),
		rules:  make(map[int64]*compiledRule, len(d.Rules)),
	}
	for _, u := range d.Users {
		if u.Name == "" {
			return nil, fmt.Errorf("permission: a user without a name")
		}
		s.users.shards[s.users.shardOf(u.Name)][u.Name] = newUserEntry(u)
	}
	for _, g := range d.Grants {
		if err := checkGrant(g); err != nil {
			return nil, err
		}
		k := g.Resource.key()
		shard := s.grants.shards[s.grants.shardOf(k)]
		rg := shard[k]
		if rg == nil {
			rg = &resGrants{}
			shard[k] = rg
		}
		p := principalLevel{name: g.Principal.Name, level: g.Level}
		if g.Principal.Kind == ToUser {
			rg.users = append(rg.users, p)
		} else {
			rg.groups = append(rg.groups, p)
		}
	}
	for _, shard := range s.grants.shards {
		for _, rg := range shard {
			rg.users = sortDedup(rg.users)
			rg.groups = sortDedup(rg.groups)
		}
	}
	for _, r := range d.Rules {
		var prev *compiledRule
		if old != nil {
			prev = old.rules[r.ID]
		}
		c, err := compileRule(r, prev)
		if err != nil {
			return nil, err
		}
		s.rules[r.ID] = c
	}
	s.rebuildKinds(nil)
	return s, nil
}

func newUserEntry(u User) *userEntry {
	return &userEntry{admin: u.Admin, active: u.Active, groups: NewGroups(u.Groups...)}
}

// sortDedup sorts grants by name; for a name given twice the last wins.
func sortDedup(ps []principalLevel) []principalLevel {
	slices.SortStableFunc(ps, func(a, b principalLevel) int { return cmp.Compare(a.name, b.name) })
	out := ps[:0]
	for i, p := range ps {
		if i+1 < len(ps) && ps[i+1].name == p.name {
			continue
		}
		out = append(out, p)
	}
	return slices.Clip(out)
}

// rebuildKinds rebuilds the rule lists of the kinds marked (all when nil).
func (s *Snapshot) rebuildKinds(changed *[Workspace + 1]bool) {
	var byKind [Workspace + 1][]*compiledRule
	for _, r := range s.rules {
		byKind[r.Kind] = append(byKind[r.Kind], r)
	}
	for _, k := range Kinds() {
		if changed == nil || changed[k] {
			s.kinds[k] = newKindRules(byKind[k], s.cfg.cacheSize)
		}
	}
}

// builder applies deltas to a copy of a snapshot, copying only what they
// touch.
type builder struct {
	s            *Snapshot
	users        *pmapBuilder[string, *userEntry]
	grants       *pmapBuilder[resKey, *resGrants]
	rulesCopied  bool
	kindsChanged [Workspace + 1]bool
}

func (s *Snapshot) apply(seq uint64, deltas []Delta) (*Snapshot, error) {
	next := *s
	b := &builder{s: &next, users: s.users.builder(), grants: s.grants.builder()}
	for _, d := range deltas {
		if d == nil {
			return nil, invalidDelta("nil delta")
		}
		if err := d.apply(b); err != nil {
			return nil, err
		}
	}
	next.users = b.users.done()
	next.grants = b.grants.done()
	if b.rulesCopied {
		next.rebuildKinds(&b.kindsChanged)
	}
	if seq != 0 {
		next.seq = seq
	}
	return &next, nil
}

func (b *builder) copyRules() {
	if !b.rulesCopied {
		b.s.rules = maps.Clone(b.s.rules)
		b.rulesCopied = true
	}
}

func (d PutUser) apply(b *builder) error {
	if d.User.Name == "" {
		return invalidDelta("a user without a name")
	}
	b.users.set(d.User.Name, newUserEntry(d.User))
	return nil
}

func (d DeleteUser) apply(b *builder) error {
	b.users.del(d.Name)
	return nil
}

func (d PutGrant) apply(b *builder) error {
	if err := checkGrant(d.Grant); err != nil {
		return err
	}
	k := d.Grant.Resource.key()
	old, _ := b.grants.get(k)
	next := &resGrants{}
	if old != nil {
		*next = *old
	}
	p := principalLevel{name: d.Grant.Principal.Name, level: d.Grant.Level}
	if d.Grant.Principal.Kind == ToUser {
		next.users = withGrant(next.users, p)
	} else {
		next.groups = withGrant(next.groups, p)
	}
	b.grants.set(k, next)
	return nil
}

// withGrant returns a new sorted slice with p put in.
func withGrant(ps []principalLevel, p principalLevel) []principalLevel {
	i, found := slices.BinarySearchFunc(ps, p.name, func(x principalLevel, n string) int { return cmp.Compare(x.name, n) })
	out := make([]principalLevel, 0, len(ps)+1)
	out = append(out, ps[:i]...)
	out = append(out, p)
	if found {
		i++
	}
	return append(out, ps[i:]...)
}

func withoutGrant(ps []principalLevel, name string) []principalLevel {
	i, found := slices.BinarySearchFunc(ps, name, func(x principalLevel, n string) int { return cmp.Compare(x.name, n) })
	if !found {
		return ps
	}
	out := make([]principalLevel, 0, len(ps)-1)
	out = append(out, ps[:i]...)
	return append(out, ps[i+1:]...)
}

func (d DeleteGrant) apply(b *builder) error {
	k := d.Resource.key()
	old, _ := b.grants.get(k)
	if old == nil {
		return nil
	}
	next := *old
	if d.Principal.Kind == ToUser {
		next.users = withoutGrant(next.users, d.Principal.Name)
	} else {
		next.groups = withoutGrant(next.groups, d.Principal.Name)
	}
	if len(next.users) == 0 && len(next.groups) == 0 {
		b.grants.del(k)
		return nil
	}
	b.grants.set(k, &next)
	return nil
}

func (d DeleteResource) apply(b *builder) error {
	b.grants.del(d.Resource.key())
	return nil
}

func (d PutRule) apply(b *builder) error {
	b.copyRules()
	old := b.s.rules[d.Rule.ID]
	c, err := compileRule(d.Rule, old)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidDelta, err)
	}
	if old != nil {
		b.kindsChanged[old.Kind] = true
	}
	b.kindsChanged[c.Kind] = true
	b.s.rules[d.Rule.ID] = c
	return nil
}

func (d DeleteRule) apply(b *builder) error {
	old, ok := b.s.rules[d.ID]
	if !ok {
		return nil
	}
	b.copyRules()
	delete(b.s.rules, d.ID)
	b.kindsChanged[old.Kind] = true
	return nil
}

// HasRules reports whether any regex rule applies to resources of kind:
// only then does a decision need the resource's name.
func (s *Snapshot) HasRules(k Kind) bool {
	return k.valid() && s.kinds[k] != nil && len(s.kinds[k].rules) > 0
}
