package permission

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Config configures an Engine. The zero value is mlflow-oidc-auth's
// defaults: NO_PERMISSIONS when nothing applies, the order user, group,
// regex, group-regex, and a NO_PERMISSIONS group grant denying.
type Config struct {
	// Default is the level when no source answers
	// (DEFAULT_MLFLOW_PERMISSION).
	Default Level
	// Order is the resolution order (PERMISSION_SOURCE_ORDER); nil means
	// DefaultOrder. See ParseOrder.
	Order []Source
	// GroupMode says how grants to several groups combine.
	GroupMode GroupMode
	// RestrictCreation makes creating experiments, models and prompts
	// need EDIT from the regex sources on the new name
	// (RESTRICT_RESOURCE_CREATION). See Snapshot.CanCreate.
	RestrictCreation bool
	// CacheSize bounds the per-kind cache of which rules match a name;
	// 65536 names when zero.
	CacheSize int
}

// Engine decides permissions from an immutable Snapshot it keeps current:
// Apply puts the store's change-feed deltas in (copying only what they
// touch), Resync reloads everything. Decisions never wait for either.
type Engine struct {
	cfg    *settings
	loader Loader
	cur    atomic.Pointer[Snapshot]
	mu     sync.Mutex // one writer at a time
}

// NewEngine loads the state through loader and returns an engine over it.
func NewEngine(ctx context.Context, loader Loader, cfg Config) (*Engine, error) {
	if cfg.Default > Manage {
		return nil, fmt.Errorf("permission: unknown default level %d", cfg.Default)
	}
	order := cfg.Order
	if order == nil {
		order = DefaultOrder()
	}
	seen := map[Source]bool{}
	for _, src := range order {
		if src < SourceUser || src > SourceGroupRegex || seen[src] {
			return nil, fmt.Errorf("permission: invalid source order %v", order)
		}
		seen[src] = true
	}
	if cfg.GroupMode > MostPermissive {
		return nil, fmt.Errorf("permission: unknown group mode %d", cfg.GroupMode)
	}
	size := cfg.CacheSize
	if size <= 0 {
		size = 65536
	}
	e := &Engine{
		cfg: &settings{
			def: cfg.Default, order: append([]Source(nil), order...), groupMode: cfg.GroupMode,
			restrict: cfg.RestrictCreation, cacheSize: size, seed: maphash.MakeSeed(),
		},
		loader: loader,
	}
	if err := e.Resync(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Snapshot returns the current snapshot.
func (e *Engine) Snapshot() *Snapshot { return e.cur.Load() }

// Decide is e.Snapshot().Decide(subj, res).
func (e *Engine) Decide(subj Subject, res Resource) Decision { return e.Snapshot().Decide(subj, res) }

// Resync reloads the whole state from the loader. Compiled patterns of
// unchanged rules are kept.
func (e *Engine) Resync(ctx context.Context) error {
	d, err := e.loader.Load(ctx)
	if err != nil {
		return fmt.Errorf("permission: loading users, grants and rules: %w", err)
	}
	if d == nil {
		d = &Data{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := build(d, e.cfg, e.cur.Load())
	if err != nil {
		return err
	}
	e.cur.Store(s)
	return nil
}

// Apply applies the deltas the store's change feed carried at position seq,
// all or nothing. A seq at or below the snapshot's was applied already and is
// ignored; one that skips a position returns ErrGap, and the caller must
// Resync. Seq 0 applies without moving the position: the replica that makes
// a change applies it at once, before the feed brings it back numbered.
func (e *Engine) Apply(seq uint64, deltas ...Delta) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.cur.Load()
	if seq != 0 {
		if seq <= cur.seq {
			return nil
		}
		if seq > cur.seq+1 {
			return fmt.Errorf("%w: at %d, got %d", ErrGap, cur.seq, seq)
		}
	}
	next, err := cur.apply(seq, deltas)
	if err != nil {
		return err
	}
	e.cur.Store(next)
	return nil
}

// Seq is the change-feed position of the current snapshot.
func (e *Engine) Seq() uint64 { return e.Snapshot().Seq() }
