package permission

import (
	"slices"
	"sort"
)

// Groups is an immutable set of group names, sorted so membership costs a
// binary search even for a user in a thousand groups. Build it once per
// identity, not per decision.
type Groups struct{ names []string }

// NewGroups returns the set of names (duplicates and empty names dropped).
func NewGroups(names ...string) Groups {
	s := make([]string, 0, len(names))
	for _, n := range names {
		if n != "" {
			s = append(s, n)
		}
	}
	sort.Strings(s)
	return Groups{names: slices.Compact(s)}
}

// Contains reports whether name is in the set.
func (g Groups) Contains(name string) bool {
	_, ok := slices.BinarySearch(g.names, name)
	return ok
}

// Len is the number of groups.
func (g Groups) Len() int { return len(g.names) }

// Names returns the groups in order; the slice is a copy.
func (g Groups) Names() []string { return slices.Clone(g.names) }

// Subject is who a decision is made on. Admin and Active come from the
// store, never from a credential's claims (Snapshot.Subject builds it so).
type Subject struct {
	Username string // lower-cased
	Admin    bool   // allowed everything
	Active   bool   // false: allowed nothing
	Groups   Groups
}
