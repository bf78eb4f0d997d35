package permission

import (
	"context"
	"errors"
	"fmt"
)

// User is a user as the engine knows them from the store.
type User struct {
	Name   string   // lower-cased username
	Admin  bool     // allowed everything
	Active bool     // a deactivated user is allowed nothing
	Groups []string // stored memberships: used when a credential carries no groups
}

// Grant is an explicit permission on one resource for a user or a group.
type Grant struct {
	Resource  Resource // Kind and ID, and Name for a scorer
	Principal Principal
	Level     Level
}

// Rule is a regex rule: Level on every resource of Kind whose name Pattern
// matches (Python's re.match), for a user or a group. Rules are tried by
// Priority, lower first, ties by ID.
type Rule struct {
	ID        int64
	Kind      Kind
	Principal Principal
	Pattern   string
	Priority  int
	Level     Level
}

// Data is the whole state the engine decides on, as the store holds it.
// Seq is the store's change-feed position the state corresponds to.
type Data struct {
	Seq    uint64
	Users  []User
	Grants []Grant
	Rules  []Rule
}

// Loader reads the whole state: at start and on every resync (a gap in the
// change feed, a reconnect). The store satisfies it.
type Loader interface {
	Load(ctx context.Context) (*Data, error)
}

// LoaderFunc adapts a function to a Loader.
type LoaderFunc func(ctx context.Context) (*Data, error)

// Load calls f(ctx).
func (f LoaderFunc) Load(ctx context.Context) (*Data, error) { return f(ctx) }

// Delta is one change from the store's change feed: PutUser, DeleteUser,
// PutGrant, DeleteGrant, DeleteResource, PutRule or DeleteRule. Deltas do
// not cascade: deleting a user does not delete their grants; the store sends
// those deletions too.
type Delta interface {
	apply(b *builder) error
}

// PutUser adds or replaces a user.
type PutUser struct{ User User }

// DeleteUser removes a user.
type DeleteUser struct{ Name string }

// PutGrant adds or replaces a grant.
type PutGrant struct{ Grant Grant }

// DeleteGrant removes the grant on Resource for Principal.
type DeleteGrant struct {
	Resource  Resource
	Principal Principal
}

// DeleteResource removes every grant on a resource (it was deleted, or
// renamed and its grants put again under the new name).
type DeleteResource struct{ Resource Resource }

// PutRule adds or replaces the rule with Rule.ID.
type PutRule struct{ Rule Rule }

// DeleteRule removes the rule with ID.
type DeleteRule struct{ ID int64 }

// Errors of Engine.Apply.
var (
	// ErrGap means deltas were missed: the caller must Resync.
	ErrGap = errors.New("permission: gap in the change feed")
	// ErrInvalidDelta is wrapped by the error for a delta that cannot be
	// applied; the snapshot is left as it was.
	ErrInvalidDelta = errors.New("permission: invalid delta")
)

func invalidDelta(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidDelta, fmt.Sprintf(format, args...))
}

func checkGrant(g Grant) error {
	if !g.Resource.Kind.valid() {
		return invalidDelta("grant on unknown resource kind %d", g.Resource.Kind)
	}
	if g.Resource.ID == "" {
		return invalidDelta("grant on %s without an id", g.Resource.Kind)
	}
	if g.Principal.Kind != ToUser && g.Principal.Kind != ToGroup || g.Principal.Name == "" {
		return invalidDelta("grant on %s without a user or group", g.Resource)
	}
	if g.Level > Manage {
		return invalidDelta("grant on %s with unknown level %d", g.Resource, g.Level)
	}
	return nil
}
