package store

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/permission"
)

// TestMain doubles as the second process of the change-feed test: with
// MLFLOWAUTH_STORE_FEED_WRITER set, the test binary writes grants to that
// database and exits instead of running tests.
func TestMain(m *testing.M) {
	if uri := os.Getenv("MLFLOWAUTH_STORE_FEED_WRITER"); uri != "" {
		os.Exit(feedWriter(uri))
	}
	os.Exit(m.Run())
}

func feedWriter(uri string) int {
	from, _ := strconv.Atoi(os.Getenv("MLFLOWAUTH_STORE_FEED_FROM"))
	count, _ := strconv.Atoi(os.Getenv("MLFLOWAUTH_STORE_FEED_COUNT"))
	ctx := context.Background()
	s, err := Open(ctx, uri)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	for i := from; i < from+count; i++ {
		if err := s.PutGrant(ctx, permission.Grant{Resource: feedExp(i), Principal: permission.ForUser("alice"), Level: permission.Edit}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func feedExp(i int) permission.Resource {
	return permission.Resource{Kind: permission.Experiment, ID: strconv.Itoa(i), Name: fmt.Sprintf("exp-%d", i)}
}

// runWriter writes grants on experiments from..from+count-1 from another
// OS process.
func runWriter(t *testing.T, uri string, from, count int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"MLFLOWAUTH_STORE_FEED_WRITER="+uri,
		"MLFLOWAUTH_STORE_FEED_FROM="+strconv.Itoa(from),
		"MLFLOWAUTH_STORE_FEED_COUNT="+strconv.Itoa(count))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "writer process: %s", out)
}

type feedRecorder struct {
	mu      sync.Mutex
	seqs    []uint64
	resyncs int
}

func (r *feedRecorder) onChange(c Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.Seq == 0 {
		r.resyncs++
		return
	}
	r.seqs = append(r.seqs, c.Seq)
}

func (r *feedRecorder) snapshot() ([]uint64, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.seqs...), r.resyncs
}

func follow(t *testing.T, s *Store, e *permission.Engine, rec *feedRecorder) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Follow(ctx, e, FollowOptions{Poll: 200 * time.Millisecond, OnChange: rec.onChange})
	}()
	return func() { cancel(); <-done }
}

func edits(e *permission.Engine, i int) bool {
	return e.Decide(permission.Subject{Username: "alice", Active: true}, feedExp(i)).Level == permission.Edit
}

func TestFeedAcrossProcesses(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := open(t, db)
		e, err := permission.NewEngine(ctx, s, permission.Config{})
		require.NoError(t, err)
		rec := &feedRecorder{}
		stop := follow(t, s, e, rec)

		// Delivery and order.
		runWriter(t, db.uri, 1, 20)
		waitFor(t, func() bool { return edits(e, 20) })
		for i := 1; i <= 20; i++ {
			assert.True(t, edits(e, i), "experiment %d", i)
		}
		seqs, resyncs := rec.snapshot()
		require.Len(t, seqs, 20)
		for i, seq := range seqs {
			assert.Equal(t, uint64(i+1), seq, "delivered in order, none twice")
		}
		assert.Zero(t, resyncs)
		stop()

		// A gap: changes written while nobody followed, some of them lost
		// (pruned) before the follower came back. It resyncs.
		runWriter(t, db.uri, 21, 10)
		_, err = s.db.ExecContext(ctx, "DELETE FROM changes WHERE seq BETWEEN 21 AND 25")
		require.NoError(t, err)
		stop = follow(t, s, e, rec)
		waitFor(t, func() bool { return edits(e, 30) })
		for i := 21; i <= 30; i++ {
			assert.True(t, edits(e, i), "experiment %d after the resync", i)
		}
		_, resyncs = rec.snapshot()
		assert.Equal(t, 1, resyncs)
		assert.Equal(t, uint64(30), e.Seq())

		if db.name == "postgres" {
			// A reconnect: the listening connection is killed; the follower
			// reconnects, resyncs, and goes on delivering.
			waitFor(t, func() bool {
				var n int
				_ = s.db.GetContext(ctx, &n, "SELECT COUNT(*) FROM pg_stat_activity WHERE query = 'LISTEN mlflowauth_changes' AND application_name = current_setting('application_name')")
				return n > 0
			})
			_, err := s.db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE query = 'LISTEN mlflowauth_changes' AND application_name = current_setting('application_name') AND pid <> pg_backend_pid()`)
			require.NoError(t, err)
			waitFor(t, func() bool { _, r := rec.snapshot(); return r >= 2 })
			runWriter(t, db.uri, 31, 3)
			waitFor(t, func() bool { return edits(e, 33) })
		}
		stop()
	})
}

// TestFollowStarted: once Started is called, this process's writes reach
// the follower before they return, with no waiting.
func TestFollowStarted(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := open(t, db)
		e, err := permission.NewEngine(ctx, s, permission.Config{})
		require.NoError(t, err)
		started := make(chan struct{})
		go func() { _ = s.Follow(ctx, e, FollowOptions{Poll: time.Hour, Started: func() { close(started) }}) }()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("Started was never called")
		}
		_, err = s.CreateUser(ctx, User{Username: "alice"})
		require.NoError(t, err)
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: feedExp(1), Principal: permission.ForUser("alice"), Level: permission.Edit}))
		assert.True(t, edits(e, 1), "applied before PutGrant returned")
	})
}

// TestChangeLocalActor: a follower tells this process's changes, and who
// made them, from another process's.
func TestChangeLocalActor(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := open(t, db)
		e, err := permission.NewEngine(ctx, s, permission.Config{})
		require.NoError(t, err)
		var mu sync.Mutex
		var got []Change
		started := make(chan struct{})
		go func() {
			_ = s.Follow(ctx, e, FollowOptions{Poll: 50 * time.Millisecond, Started: func() { close(started) },
				OnChange: func(c Change) { mu.Lock(); got = append(got, c); mu.Unlock() }})
		}()
		<-started
		_, err = s.CreateUser(WithActor(ctx, "root"), User{Username: "alice"})
		require.NoError(t, err)
		runWriter(t, db.uri, 1, 1) // another process
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 2 })
		mu.Lock()
		defer mu.Unlock()
		assert.True(t, got[0].Local)
		assert.Equal(t, "root", got[0].Actor)
		for _, c := range got[1:] {
			assert.False(t, c.Local, "another process's change")
			assert.Empty(t, c.Actor)
		}
	})
}
