package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/mlflowauth/mlflowauth/permission"
)

// Op names a kind of change on the feed.
type Op string

// The changes the feed carries.
const (
	OpUserPut        Op = "user.put"        // User: a user was created or changed (memberships included)
	OpUserDelete     Op = "user.delete"     // Username
	OpGrantPut       Op = "grant.put"       // Grant
	OpGrantDelete    Op = "grant.delete"    // Resource, Principal
	OpResourceDelete Op = "resource.delete" // Resource: every grant on it is gone
	OpRulePut        Op = "rule.put"        // Rule
	OpRuleDelete     Op = "rule.delete"     // ID
	OpTokenCreate    Op = "token.create"    // Username, ID, Name: for the audit log
	OpTokenRevoke    Op = "token.revoke"    // Username, ID (0: all of the user's tokens)
	OpSessionRevoke  Op = "session.revoke"  // Username: every session of the user
	OpNameChange     Op = "name.change"     // Resource (old name), Name (new, empty when deleted)
)

// Event is one change. Which fields are set depends on Op.
type Event struct {
	Op        Op                    `json:"op"`
	User      *permission.User      `json:"user,omitempty"`
	Username  string                `json:"username,omitempty"`
	Grant     *permission.Grant     `json:"grant,omitempty"`
	Resource  *permission.Resource  `json:"resource,omitempty"`
	Principal *permission.Principal `json:"principal,omitempty"`
	Rule      *permission.Rule      `json:"rule,omitempty"`
	ID        int64                 `json:"id,omitempty"`
	Name      string                `json:"name,omitempty"`
}

// Change is what one committed write changed, at its feed position.
type Change struct {
	Seq    uint64
	Events []Event
	// Local says this process made the change (so one replica, not every
	// one, reports it in an audit log); Actor is who, as WithActor named
	// them to the write.
	Local bool
	Actor string
}

type actorKey struct{}

// WithActor names who makes the writes done with ctx, for the audit log:
// the user of the request that causes them.
func WithActor(ctx context.Context, username string) context.Context {
	return context.WithValue(ctx, actorKey{}, username)
}

// Actor is who WithActor named in ctx, or "".
func Actor(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}

// localWindow bounds what is remembered of this process's own changes:
// followers take them within moments.
const localWindow = 4096

// Deltas returns the events the permission engine cares about, as deltas.
func (c Change) Deltas() []permission.Delta {
	var ds []permission.Delta
	for _, e := range c.Events {
		switch {
		case e.Op == OpUserPut && e.User != nil:
			ds = append(ds, permission.PutUser{User: *e.User})
		case e.Op == OpUserDelete:
			ds = append(ds, permission.DeleteUser{Name: e.Username})
		case e.Op == OpGrantPut && e.Grant != nil:
			ds = append(ds, permission.PutGrant{Grant: *e.Grant})
		case e.Op == OpGrantDelete && e.Resource != nil && e.Principal != nil:
			ds = append(ds, permission.DeleteGrant{Resource: *e.Resource, Principal: *e.Principal})
		case e.Op == OpResourceDelete && e.Resource != nil:
			ds = append(ds, permission.DeleteResource{Resource: *e.Resource})
		case e.Op == OpRulePut && e.Rule != nil:
			ds = append(ds, permission.PutRule{Rule: *e.Rule})
		case e.Op == OpRuleDelete:
			ds = append(ds, permission.DeleteRule{ID: e.ID})
		}
	}
	return ds
}

// tx is a write transaction collecting the events it commits.
type tx struct {
	*sqlx.Tx
	s      *Store
	events []Event
	seq    int64 // the feed position recorded, when events were
}

func (t *tx) emit(e ...Event) { t.events = append(t.events, e...) }

func (t *tx) q(query string) string { return t.Rebind(query) }

// feedLock serialises the allocation and commit of change positions on
// PostgreSQL, so positions commit in order and a hole means a lost change.
const feedLock = 0x6d6c666c6f77 // "mlflow"

// write runs fn in a transaction and records its events on the feed in the
// same transaction: a change and its feed entry commit together or not at
// all. Local followers see it before write returns.
func (s *Store) write(ctx context.Context, fn func(*tx) error) error {
	sqltx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	t := &tx{Tx: sqltx, s: s}
	if err := fn(t); err != nil {
		_ = sqltx.Rollback()
		return err
	}
	if len(t.events) > 0 {
		if err := t.record(ctx); err != nil {
			_ = sqltx.Rollback()
			return err
		}
	}
	if len(t.events) > 0 {
		// Known as ours before it commits: a follower polling at that
		// moment must not take it for another process's.
		s.local.Store(uint64(t.seq), Actor(ctx))
		s.local.Delete(uint64(t.seq) - localWindow)
	}
	if err := sqltx.Commit(); err != nil {
		s.local.Delete(uint64(t.seq))
		return fmt.Errorf("store: commit: %w", classify(err))
	}
	if len(t.events) > 0 {
		s.catchUpAll(ctx)
	}
	return nil
}

func (t *tx) record(ctx context.Context) error {
	b, err := json.Marshal(t.events)
	if err != nil {
		return fmt.Errorf("store: encoding changes: %w", err)
	}
	if t.s.dialect == postgresDialect {
		if _, err := t.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", feedLock); err != nil {
			return fmt.Errorf("store: feed lock: %w", err)
		}
	}
	var seq int64
	if err := t.QueryRowxContext(ctx, t.q("INSERT INTO changes (at, events) VALUES (?, ?) RETURNING seq"), now(), string(b)).Scan(&seq); err != nil {
		return fmt.Errorf("store: recording changes: %w", err)
	}
	t.seq = seq
	if t.s.dialect == postgresDialect {
		// Delivered at commit; it only wakes followers, the table is the truth.
		if _, err := t.ExecContext(ctx, "SELECT pg_notify('mlflowauth_changes', $1)", fmt.Sprint(seq)); err != nil {
			return fmt.Errorf("store: notify: %w", err)
		}
	}
	return nil
}

// Applier is what Follow keeps current: the permission engine satisfies it.
type Applier interface {
	Seq() uint64
	Apply(seq uint64, deltas ...permission.Delta) error
	Resync(ctx context.Context) error
}

type follower struct {
	mu       sync.Mutex
	a        Applier
	onChange func(Change)
}

// FollowOptions tune Follow.
type FollowOptions struct {
	// OnChange, when set, is called with every change after the applier
	// took it, in order: for caches outside the engine (credentials,
	// sessions). On a resync it is called with a Change with no events
	// and Seq 0, meaning "forget everything".
	OnChange func(Change)
	// Poll is how often the feed is read without a wake-up; 1s when zero.
	Poll time.Duration
	// Started, when set, is called once the follower is registered and
	// caught up: from then on this process's writes reach it before they
	// return.
	Started func()
}

// Follow keeps a current with the feed until ctx ends: changes made by this
// process are applied before the write returns; changes from other
// processes within a poll interval (PostgreSQL wakes followers with NOTIFY,
// SQLite is watched through PRAGMA data_version). A gap in the positions,
// or a reconnect, makes a full resync.
func (s *Store) Follow(ctx context.Context, a Applier, opts FollowOptions) error {
	f := &follower{a: a, onChange: opts.OnChange}
	s.mu.Lock()
	s.followers = append(s.followers, f)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		for i, x := range s.followers {
			if x == f {
				s.followers = append(s.followers[:i], s.followers[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
	}()
	poll := opts.Poll
	if poll <= 0 {
		poll = time.Second
	}
	s.catchUp(ctx, f)
	if opts.Started != nil {
		opts.Started()
	}
	if s.dialect == postgresDialect {
		return s.followPostgres(ctx, f, poll)
	}
	return s.followSQLite(ctx, f, poll)
}

// Sync applies to every follower of this process the changes other
// processes committed since it last looked, now rather than at its next
// poll: for a decision that may depend on a change made a moment ago.
func (s *Store) Sync(ctx context.Context) { s.catchUpAll(ctx) }

func (s *Store) catchUpAll(ctx context.Context) {
	s.mu.Lock()
	fs := append([]*follower(nil), s.followers...)
	s.mu.Unlock()
	for _, f := range fs {
		s.catchUp(ctx, f)
	}
}

// catchUp applies every change after the applier's position, in order.
func (s *Store) catchUp(ctx context.Context, f *follower) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		changes, err := s.changesAfter(ctx, f.a.Seq(), 500)
		if err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "store: reading the change feed", "error", err)
			}
			return
		}
		for _, c := range changes {
			if c.Seq != f.a.Seq()+1 {
				s.resync(ctx, f, fmt.Sprintf("gap: at %d, next is %d", f.a.Seq(), c.Seq))
				break
			}
			if err := f.a.Apply(c.Seq, c.Deltas()...); err != nil {
				s.resync(ctx, f, "apply: "+err.Error())
				break
			}
			if f.onChange != nil {
				if actor, ok := s.local.Load(c.Seq); ok {
					c.Local, c.Actor = true, actor.(string)
				}
				f.onChange(c)
			}
		}
		if len(changes) < 500 {
			return
		}
	}
}

func (s *Store) resync(ctx context.Context, f *follower, why string) {
	s.log.InfoContext(ctx, "store: full resync", "reason", why)
	if err := f.a.Resync(ctx); err != nil {
		s.log.ErrorContext(ctx, "store: resync failed", "error", err)
		return
	}
	if f.onChange != nil {
		f.onChange(Change{})
	}
}

// ChangesAfter returns up to limit changes after position seq, in order.
func (s *Store) ChangesAfter(ctx context.Context, seq uint64, limit int) ([]Change, error) {
	return s.changesAfter(ctx, seq, limit)
}

func (s *Store) changesAfter(ctx context.Context, seq uint64, limit int) ([]Change, error) {
	rows, err := s.db.QueryxContext(ctx, s.db.Rebind("SELECT seq, events FROM changes WHERE seq > ? ORDER BY seq LIMIT ?"), int64(seq), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var n int64
		var raw string
		if err := rows.Scan(&n, &raw); err != nil {
			return nil, err
		}
		c := Change{Seq: uint64(n)}
		if err := json.Unmarshal([]byte(raw), &c.Events); err != nil {
			return nil, fmt.Errorf("store: change %d: %w", n, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PruneChanges deletes feed entries older than before, keeping the newest
// so followers can still catch up. A follower that falls behind a pruned
// position resyncs.
func (s *Store) PruneChanges(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind("DELETE FROM changes WHERE at < ? AND seq < (SELECT MAX(seq) FROM changes)"), before.UTC())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// followSQLite watches PRAGMA data_version on one pinned connection: it
// changes when another connection, in any process, commits.
func (s *Store) followSQLite(ctx context.Context, f *follower, poll time.Duration) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var last int64 = -1
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	full := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		var v int64
		if err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.WarnContext(ctx, "store: watching SQLite", "error", err)
			continue
		}
		if v != last || time.Since(full) >= poll {
			last, full = v, time.Now()
			s.catchUp(ctx, f)
		}
	}
}

// followPostgres LISTENs on a dedicated connection; a notification, or the
// poll interval passing, reads the feed. A lost connection is reopened and
// followed by a full resync, since notifications may have been missed.
func (s *Store) followPostgres(ctx context.Context, f *follower, poll time.Duration) error {
	backoff := 100 * time.Millisecond
	for first := true; ; first = false {
		if !first {
			s.resync(ctx, f, "reconnected to PostgreSQL")
		}
		err := s.listen(ctx, f, poll)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.WarnContext(ctx, "store: PostgreSQL change feed lost its connection", "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Store) listen(ctx context.Context, f *follower, poll time.Duration) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "LISTEN mlflowauth_changes"); err != nil {
		return err
	}
	defer func() {
		// The connection goes back to the pool: stop listening on it.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "UNLISTEN *")
	}()
	s.catchUp(ctx, f)
	for {
		err := conn.Raw(func(dc any) error {
			c, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("unexpected driver connection %T", dc)
			}
			wctx, cancel := context.WithTimeout(ctx, poll)
			defer cancel()
			_, err := c.Conn().WaitForNotification(wctx)
			if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return nil // the poll interval: read the feed anyway
			}
			return err
		})
		if err != nil {
			if errors.Is(err, sql.ErrConnDone) || ctx.Err() != nil {
				return err
			}
			return err
		}
		s.catchUp(ctx, f)
	}
}
