package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/internal/testenv"
)

// BenchmarkStreamSnapshot reads what the permission engine loads at start
// and on a resync: 1,000,000 grants and 10,000 rules (and 10,000 users).
func BenchmarkStreamSnapshot(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var uri string
			if name == "sqlite" {
				uri = "sqlite:///" + filepath.Join(b.TempDir(), "bench.db")
			} else {
				uri = benchSchema(b)
			}
			ctx := context.Background()
			s, err := OpenWith(ctx, uri, Options{Logger: slog.New(slog.DiscardHandler)})
			require.NoError(b, err)
			defer s.Close()
			fill(b, s, 10_000, 1_000_000, 10_000)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				d, err := s.Load(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if len(d.Grants) != 1_000_000 || len(d.Rules) != 10_000 {
					b.Fatalf("loaded %d grants, %d rules", len(d.Grants), len(d.Rules))
				}
			}
		})
	}
}

func benchSchema(b *testing.B) string {
	base := testenv.PostgresURL(b)
	admin, err := sql.Open("pgx", base)
	require.NoError(b, err)
	defer admin.Close()
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	_, err = admin.Exec("CREATE SCHEMA " + schema)
	require.NoError(b, err)
	b.Cleanup(func() {
		if a, err := sql.Open("pgx", base); err == nil {
			_, _ = a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// fill writes rows in bulk, straight to the tables: the benchmark is about
// reading them.
func fill(b *testing.B, s *Store, users, grants, rules int) {
	ctx := context.Background()
	tx, err := s.db.BeginTxx(ctx, nil)
	require.NoError(b, err)
	ts := now()
	insert := func(table, cols string, n int, row func(i int) []any) {
		const batch = 500
		ncols := strings.Count(cols, ",") + 1
		ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", ncols), ", ") + ")"
		for start := 0; start < n; start += batch {
			end := min(start+batch, n)
			var args []any
			vals := make([]string, 0, end-start)
			for i := start; i < end; i++ {
				args = append(args, row(i)...)
				vals = append(vals, ph)
			}
			_, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO "+table+" ("+cols+") VALUES "+strings.Join(vals, ", ")), args...)
			require.NoError(b, err)
		}
	}
	insert("users", "username, created_at, updated_at", users, func(i int) []any {
		return []any{fmt.Sprintf("user-%05d", i), ts, ts}
	})
	levels := []string{"READ", "USE", "EDIT", "MANAGE"}
	insert("grants", "kind, resource_id, resource_sub, principal_kind, principal, level, created_at, updated_at", grants, func(i int) []any {
		if i%3 == 0 {
			return []any{"experiment", fmt.Sprint(i), "", "group", fmt.Sprintf("group-%04d", i%1000), levels[i%4], ts, ts}
		}
		return []any{"experiment", fmt.Sprint(i), "", "user", fmt.Sprintf("user-%05d", i%users), levels[i%4], ts, ts}
	})
	insert("rules", "kind, principal_kind, principal, pattern, priority, level, created_at, updated_at", rules, func(i int) []any {
		return []any{"experiment", "group", fmt.Sprintf("group-%04d", i%1000), fmt.Sprintf("^team-%04d/", i), i % 100, levels[i%4], ts, ts}
	})
	require.NoError(b, tx.Commit())
}
