// Package store is the source of truth behind the authenticators, the
// permission engine and the admin API: users and their identity-provider
// bindings, groups, access tokens, a sessions index, grants and regex rules,
// the generated secret key, imports done and an audit trail, in SQLite or
// PostgreSQL through sqlx.
//
//	import _ "github.com/mlflowauth/mlflowauth/store/sqlite" // for sqlite:// URIs
//
//	db, err := store.Open(ctx, "sqlite:///auth.db") // or postgres://...
//	engine, err := permission.NewEngine(ctx, db, permission.Config{})
//	go db.Follow(ctx, engine, store.FollowOptions{})
//
// The schema is migrated at Open (embedded goose migrations; on PostgreSQL
// under an advisory lock, so replicas may start together).
//
// Every write records what it changed on a change feed in the same
// transaction. Follow keeps a consumer, such as the permission engine,
// current with it: writes made by this process are applied before the
// write returns, and writes from other processes within a second (PostgreSQL
// wakes followers with LISTEN/NOTIFY; SQLite is watched with PRAGMA
// data_version). A gap in the feed or a reconnect makes a full resync.
//
// Errors can be told apart with errors.Is: ErrNotFound, ErrConflict,
// ErrInvalid. Names of users are lower-cased, so usernames are unique
// regardless of case.
package store
