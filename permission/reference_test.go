package permission

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// refDecide is the engine's rules written as plainly as possible: loops
// over every user, grant and rule, no index, no cache, no prefilter. The
// differential test holds the engine to it.
func refDecide(d *Data, cfg Config, subj Subject, res Resource) Decision {
	switch {
	case !res.Kind.valid():
		return Decision{Level: NoPermissions, Source: SourceUnknownKind}
	case !subj.Active:
		return Decision{Level: NoPermissions, Source: SourceInactive}
	case subj.Admin:
		return Decision{Level: Manage, Source: SourceAdmin}
	}
	if dec, ok := refOn(d, cfg, subj, res, false); ok {
		return dec
	}
	if res.Kind == Prompt {
		if dec, ok := refOn(d, cfg, subj, Resource{Kind: RegisteredModel, ID: res.ID, Name: res.Name}, true); ok {
			dec.Via = RegisteredModel
			return dec
		}
	}
	return Decision{Level: cfg.Default, Source: SourceDefault}
}

func refSameResource(a, b Resource) bool {
	if a.Kind != b.Kind || a.ID != b.ID {
		return false
	}
	return a.Kind != Scorer || a.Name == b.Name
}

func refInGroups(subj Subject, g string) bool {
	for _, x := range subj.Groups.names {
		if x == g {
			return true
		}
	}
	return false
}

func refOn(d *Data, cfg Config, subj Subject, res Resource, grantsOnly bool) (Decision, bool) {
	order := cfg.Order
	if order == nil {
		order = DefaultOrder()
	}
	name := res.Name
	if name == "" && (res.Kind == RegisteredModel || res.Kind == Prompt || res.Kind == Workspace) {
		name = res.ID
	}
	for _, src := range order {
		switch src {
		case SourceUser:
			found, lvl := false, NoPermissions
			for _, g := range d.Grants {
				if refSameResource(g.Resource, res) && g.Principal == ForUser(subj.Username) {
					found, lvl = true, g.Level // the last given wins
				}
			}
			if found {
				return Decision{Level: lvl, Source: SourceUser}, true
			}
		case SourceGroup:
			// The last grant given for each group wins.
			per := map[string]Level{}
			for _, g := range d.Grants {
				if refSameResource(g.Resource, res) && g.Principal.Kind == ToGroup && refInGroups(subj, g.Principal.Name) {
					per[g.Principal.Name] = g.Level
				}
			}
			if len(per) == 0 {
				continue
			}
			names := make([]string, 0, len(per))
			for n := range per {
				names = append(names, n)
			}
			sort.Strings(names)
			if cfg.GroupMode == DenyWins {
				for _, n := range names {
					if per[n] == NoPermissions {
						return Decision{Level: NoPermissions, Source: SourceGroup, Group: n}, true
					}
				}
			}
			best := names[0]
			for _, n := range names {
				if per[n] > per[best] {
					best = n
				}
			}
			return Decision{Level: per[best], Source: SourceGroup, Group: best}, true
		case SourceRegex, SourceGroupRegex:
			if grantsOnly || name == "" {
				continue
			}
			var cands []Rule
			for _, r := range d.Rules {
				if r.Kind != res.Kind {
					continue
				}
				if src == SourceRegex && r.Principal != ForUser(subj.Username) {
					continue
				}
				if src == SourceGroupRegex && (r.Principal.Kind != ToGroup || !refInGroups(subj, r.Principal.Name)) {
					continue
				}
				cands = append(cands, r)
			}
			slices.SortFunc(cands, func(a, b Rule) int {
				if a.Priority != b.Priority {
					return a.Priority - b.Priority
				}
				return int(a.ID - b.ID)
			})
			for _, r := range cands {
				p, err := CompilePattern(r.Pattern)
				if err != nil {
					panic(err)
				}
				if p.Match(name) {
					rr := r
					dec := Decision{Level: r.Level, Source: src, Rule: &rr}
					if src == SourceGroupRegex {
						dec.Group = r.Principal.Name
					}
					return dec, true
				}
			}
		}
	}
	return Decision{}, false
}

// A small world where collisions are likely: few users, groups, names.
type world struct {
	rng      *rand.Rand
	users    []string
	groups   []string
	names    []string
	patterns []string
}

func newWorld(seed uint64) *world {
	w := &world{rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	for i := range 12 {
		w.users = append(w.users, fmt.Sprintf("user%d", i))
	}
	for i := range 8 {
		w.groups = append(w.groups, fmt.Sprintf("group%d", i))
	}
	w.names = []string{
		"team-a/churn", "team-a/fraud", "team-b/churn", "team-c/x", "prod-model", "Prod-model", "staging",
		"exp-1", "exp-22", "exp-333", "café-prod", "日本-team", "", "a", "team-a", "shared/team-a/x",
	}
	w.patterns = []string{
		`^team-a/`, `team-b/.*`, `^(team-a|team-b)/`, `[a-z]+-model$`, `exp-\d+$`, `exp-\d{2}$`, `.*`, `x*`,
		`(?i)prod`, `\w+-prod`, `shared/`, `^$`, `team`, `[^/]+$`, `\bteam\b`, `café`,
	}
	return w
}

func (w *world) pick(xs []string) string { return xs[w.rng.IntN(len(xs))] }

func (w *world) resource() Resource {
	kinds := []Kind{Experiment, RegisteredModel, Prompt, Scorer, GatewayEndpoint}
	k := kinds[w.rng.IntN(len(kinds))]
	switch k {
	case Experiment, GatewayEndpoint:
		i := w.rng.IntN(len(w.names))
		return Resource{Kind: k, ID: fmt.Sprint(i + 1), Name: w.names[i]}
	case Scorer:
		return Resource{Kind: k, ID: fmt.Sprint(w.rng.IntN(3) + 1), Name: w.pick([]string{"relevance", "safety", "team-a/judge"})}
	default:
		n := w.pick(w.names)
		if n == "" {
			n = "unnamed"
		}
		return Resource{Kind: k, ID: n}
	}
}

func (w *world) principal() Principal {
	if w.rng.IntN(2) == 0 {
		return ForUser(w.pick(w.users))
	}
	return ForGroup(w.pick(w.groups))
}

func (w *world) level() Level { return Level(w.rng.IntN(int(Manage) + 1)) }

func (w *world) grant() Grant {
	return Grant{Resource: w.resource(), Principal: w.principal(), Level: w.level()}
}

func (w *world) rule(id int64) Rule {
	k := []Kind{Experiment, RegisteredModel, Prompt, Scorer, GatewayEndpoint}[w.rng.IntN(5)]
	return Rule{ID: id, Kind: k, Principal: w.principal(), Pattern: w.pick(w.patterns), Priority: w.rng.IntN(4), Level: w.level()}
}

func (w *world) data() *Data {
	d := &Data{}
	for _, u := range w.users {
		var gs []string
		for _, g := range w.groups {
			if w.rng.IntN(3) == 0 {
				gs = append(gs, g)
			}
		}
		d.Users = append(d.Users, User{Name: u, Admin: w.rng.IntN(15) == 0, Active: w.rng.IntN(15) != 0, Groups: gs})
	}
	for range 60 + w.rng.IntN(60) {
		d.Grants = append(d.Grants, w.grant())
	}
	for i := range 10 + w.rng.IntN(30) {
		d.Rules = append(d.Rules, w.rule(int64(i+1)))
	}
	return d
}

func (w *world) subject(s *Snapshot) Subject {
	u := w.pick(w.users)
	if w.rng.IntN(4) == 0 {
		// Groups from the identity provider instead of the stored ones.
		var gs []string
		for _, g := range w.groups {
			if w.rng.IntN(2) == 0 {
				gs = append(gs, g)
			}
		}
		return s.Subject(u, append([]string{}, gs...))
	}
	if w.rng.IntN(10) == 0 {
		return s.Subject("stranger", nil) // not in the store
	}
	return s.Subject(u, nil)
}

// mutate applies random deltas to d and returns them.
func (w *world) mutate(d *Data, nextRule *int64) []Delta {
	var ds []Delta
	for range 1 + w.rng.IntN(5) {
		switch w.rng.IntN(7) {
		case 0, 1:
			g := w.grant()
			d.Grants = append(d.Grants, g)
			ds = append(ds, PutGrant{Grant: g})
		case 2:
			if len(d.Grants) == 0 {
				continue
			}
			g := d.Grants[w.rng.IntN(len(d.Grants))]
			d.Grants = slices.DeleteFunc(d.Grants, func(x Grant) bool {
				return refSameResource(x.Resource, g.Resource) && x.Principal == g.Principal
			})
			ds = append(ds, DeleteGrant{Resource: g.Resource, Principal: g.Principal})
		case 3:
			if len(d.Grants) == 0 {
				continue
			}
			r := d.Grants[w.rng.IntN(len(d.Grants))].Resource
			d.Grants = slices.DeleteFunc(d.Grants, func(x Grant) bool { return refSameResource(x.Resource, r) })
			ds = append(ds, DeleteResource{Resource: r})
		case 4:
			*nextRule++
			r := w.rule(*nextRule)
			d.Rules = append(d.Rules, r)
			ds = append(ds, PutRule{Rule: r})
		case 5:
			if len(d.Rules) == 0 {
				continue
			}
			i := w.rng.IntN(len(d.Rules))
			if w.rng.IntN(2) == 0 {
				id := d.Rules[i].ID
				d.Rules = slices.Delete(d.Rules, i, i+1)
				ds = append(ds, DeleteRule{ID: id})
			} else {
				r := w.rule(d.Rules[i].ID) // replace: new kind, pattern, level
				d.Rules[i] = r
				ds = append(ds, PutRule{Rule: r})
			}
		case 6:
			u := User{Name: w.pick(w.users), Active: w.rng.IntN(5) != 0, Groups: []string{w.pick(w.groups)}}
			d.Users = slices.DeleteFunc(d.Users, func(x User) bool { return x.Name == u.Name })
			d.Users = append(d.Users, u)
			ds = append(ds, PutUser{User: u})
		}
	}
	return ds
}

func sameDecision(a, b Decision) bool {
	if a.Level != b.Level || a.Source != b.Source || a.Group != b.Group || a.Via != b.Via {
		return false
	}
	if (a.Rule == nil) != (b.Rule == nil) {
		return false
	}
	return a.Rule == nil || a.Rule.ID == b.Rule.ID
}

func TestEngineAgreesWithReference(t *testing.T) {
	orders := [][]Source{
		DefaultOrder(),
		{SourceGroup, SourceUser, SourceGroupRegex, SourceRegex},
		{SourceRegex, SourceGroupRegex, SourceUser, SourceGroup},
		{SourceGroupRegex, SourceGroup},
		{SourceUser},
		{SourceRegex, SourceUser, SourceGroupRegex, SourceGroup},
	}
	checked := 0
	for seed := range uint64(12) {
		for _, order := range orders {
			for _, mode := range []GroupMode{DenyWins, MostPermissive} {
				w := newWorld(seed)
				d := w.data()
				cfg := Config{Order: order, GroupMode: mode, Default: w.level(), CacheSize: 8}
				e, err := NewEngine(context.Background(), LoaderFunc(func(context.Context) (*Data, error) { return d, nil }), cfg)
				require.NoError(t, err)
				nextRule := int64(1000)
				for round := range 6 {
					if round > 0 {
						require.NoError(t, e.Apply(uint64(round), w.mutate(d, &nextRule)...))
					}
					s := e.Snapshot()
					for range 150 {
						subj, res := w.subject(s), w.resource()
						got, want := s.Decide(subj, res), refDecide(d, cfg, subj, res)
						if !sameDecision(got, want) {
							t.Fatalf("seed %d order %v mode %d round %d: %+v on %v: engine %q, reference %q",
								seed, order, mode, round, subj, res, got.Explain(), want.Explain())
						}
						checked++
					}
				}
			}
		}
	}
	t.Logf("%d decisions agree", checked)
}
