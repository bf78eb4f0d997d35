package permission

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// benchWorld is the scale BENCHMARKS.md reports: 10,000 users, 1,000
// groups, 100,000 explicit grants and 1,000 regex rules over 100,000
// experiment names; users in 1 to 20 groups, a tail of 1% in all 1,000.
type benchWorld struct {
	data    *Data
	names   []string // experiment i+1 is names[i]
	members map[string][]string
	queries []query
}

type query struct {
	user string
	res  Resource
}

const (
	benchUsers  = 10_000
	benchGroups = 1_000
	benchGrants = 100_000
	benchRules  = 1_000
	benchNames  = 100_000
	ruleTeams   = 400 // teams 0..399 have rules; 400..499 none
)

func newBenchWorld(grants, rules int) *benchWorld {
	rng := rand.New(rand.NewPCG(1, 2))
	w := &benchWorld{data: &Data{}, members: map[string][]string{}}
	for i := range benchNames {
		w.names = append(w.names, fmt.Sprintf("team-%03d/exp-%05d", i%500, i))
	}
	groups := make([]string, benchGroups)
	for i := range groups {
		groups[i] = fmt.Sprintf("group-%04d", i)
	}
	for i := range benchUsers {
		name := fmt.Sprintf("user-%05d", i)
		var gs []string
		if i%100 == 0 {
			gs = groups // the tail: in every group
		} else {
			for range 1 + rng.IntN(20) {
				gs = append(gs, groups[rng.IntN(len(groups))])
			}
		}
		for _, g := range gs {
			w.members[g] = append(w.members[g], name)
		}
		w.data.Users = append(w.data.Users, User{Name: name, Active: true, Groups: gs})
	}
	levels := []Level{Read, Use, Edit, Manage}
	principal := func(userShare int) Principal {
		if rng.IntN(100) < userShare {
			return ForUser(fmt.Sprintf("user-%05d", rng.IntN(benchUsers)))
		}
		return ForGroup(groups[rng.IntN(len(groups))])
	}
	for range grants {
		i := rng.IntN(len(w.names))
		w.data.Grants = append(w.data.Grants, Grant{
			Resource:  Resource{Kind: Experiment, ID: fmt.Sprint(i + 1), Name: w.names[i]},
			Principal: principal(70),
			Level:     levels[rng.IntN(len(levels))],
		})
	}
	for id := range rules {
		t := rng.IntN(ruleTeams)
		var pattern string
		switch id % 3 {
		case 0: // prefix
			pattern = fmt.Sprintf(`^team-%03d/`, t)
		case 1: // alternation
			pattern = fmt.Sprintf(`^(team-%03d|team-%03d)/exp-`, t, (t+1)%ruleTeams)
		default: // character classes
			pattern = fmt.Sprintf(`^team-%03d/[a-z]+-\d+$`, t)
		}
		w.data.Rules = append(w.data.Rules, Rule{
			ID: int64(id + 1), Kind: Experiment, Principal: principal(20),
			Pattern: pattern, Priority: rng.IntN(100), Level: levels[rng.IntN(len(levels))],
		})
	}
	return w
}

// makeQueries draws the decision mix: half on resources with an explicit
// grant for the caller, a third on names a rule of the caller's covers,
// the rest on names nothing covers. Within a team, names are drawn
// Zipf-distributed, as real traffic concentrates on a few hot experiments.
func (w *benchWorld) makeQueries(n int) {
	rng := rand.New(rand.NewPCG(3, 4))
	const perTeam = benchNames / 500
	zipf := rand.NewZipf(rng, 1.1, 1, perTeam-1)
	nameIn := func(team int) int { return team + 500*int(zipf.Uint64()) } // names[i] is in team i%500
	member := func(p Principal) string {
		if p.Kind == ToUser {
			return p.Name
		}
		m := w.members[p.Name]
		if len(m) == 0 {
			return "user-00000"
		}
		return m[rng.IntN(len(m))]
	}
	exp := func(i int) Resource { return Resource{Kind: Experiment, ID: fmt.Sprint(i + 1), Name: w.names[i]} }
	for range n {
		switch r := rng.IntN(6); {
		case r < 3:
			g := w.data.Grants[rng.IntN(len(w.data.Grants))]
			w.queries = append(w.queries, query{user: member(g.Principal), res: g.Resource})
		case r < 5:
			// Every rule's first team is the three digits after "team-".
			rule := w.data.Rules[rng.IntN(len(w.data.Rules))]
			var team int
			fmt.Sscanf(rule.Pattern[strings.Index(rule.Pattern, "team-")+5:], "%03d", &team)
			w.queries = append(w.queries, query{user: member(rule.Principal), res: exp(nameIn(team))})
		default:
			team := ruleTeams + rng.IntN(500-ruleTeams)
			w.queries = append(w.queries, query{user: fmt.Sprintf("user-%05d", 1+rng.IntN(benchUsers-1)), res: exp(nameIn(team))})
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	w := newBenchWorld(benchGrants, benchRules)
	w.makeQueries(1 << 20)
	for _, cache := range []int{0, 4096} {
		b.Run(fmt.Sprintf("cache=%d", cache), func(b *testing.B) {
			e := engineOf(b, w.data, Config{CacheSize: cache})
			s := e.Snapshot()
			subjects := make([]Subject, len(w.queries))
			var sources [SourceUnknownKind + 1]int
			for i, q := range w.queries {
				subjects[i] = s.Subject(q.user, nil)
				sources[s.Decide(subjects[i], q.res).Source]++ // also warms the cache
			}
			hits0, misses0 := s.CacheStats()
			mask := len(w.queries) - 1
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				s.Decide(subjects[i&mask], w.queries[i&mask].res)
				i++
			}
			b.StopTimer()
			n := float64(len(w.queries))
			b.ReportMetric(float64(sources[SourceUser]+sources[SourceGroup])/n, "explicit/op")
			b.ReportMetric(float64(sources[SourceRegex]+sources[SourceGroupRegex])/n, "regex/op")
			b.ReportMetric(float64(sources[SourceDefault])/n, "default/op")
			hits, misses := s.CacheStats()
			if lookups := hits - hits0 + misses - misses0; lookups > 0 {
				b.ReportMetric(float64(misses-misses0)/float64(lookups), "cache-miss/lookup")
			}
		})
	}
}

// BenchmarkDecideParallel is BenchmarkDecide on every core at once: the
// match cache's locks are what parallel readers share.
func BenchmarkDecideParallel(b *testing.B) {
	w := newBenchWorld(benchGrants, benchRules)
	w.makeQueries(1 << 20)
	s := engineOf(b, w.data, Config{}).Snapshot()
	subjects := make([]Subject, len(w.queries))
	for i, q := range w.queries {
		subjects[i] = s.Subject(q.user, nil)
		s.Decide(subjects[i], q.res)
	}
	mask := len(w.queries) - 1
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(w.queries))
		for pb.Next() {
			s.Decide(subjects[i&mask], w.queries[i&mask].res)
			i++
		}
	})
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkLoadSnapshot builds a snapshot of 1,000,000 grants and 10,000
// rules from scratch (what a resync costs when every pattern is new) and
// reports the heap it holds.
func BenchmarkLoadSnapshot(b *testing.B) {
	w := newBenchWorld(1_000_000, 10_000)
	cfg := &settings{order: DefaultOrder(), cacheSize: 65536, seed: maphash.MakeSeed()}
	b.ReportAllocs()
	b.ResetTimer()
	var s *Snapshot
	for b.Loop() {
		var err error
		if s, err = build(w.data, cfg, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	before := heapInUse()
	runtime.KeepAlive(s) // alive until measured
	s = nil
	after := heapInUse()
	b.ReportMetric(float64(before-min(before, after))/(1<<20), "snapshot-MiB")
}

// BenchmarkApplyDelta puts one grant into a snapshot of 1,000,000 grants
// and 10,000 rules.
func BenchmarkApplyDelta(b *testing.B) {
	w := newBenchWorld(1_000_000, 10_000)
	e := engineOf(b, w.data, Config{})
	s := e.Snapshot()
	deltas := []Delta{PutGrant{Grant: Grant{Resource: Resource{Kind: Experiment, ID: "42"}, Principal: ForUser("user-00042"), Level: Edit}}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.apply(0, deltas); err != nil {
			b.Fatal(err)
		}
	}
}
