// Package sqlite makes SQLite available to store.Open. Import it for its
// side effect:
//
//	import _ "github.com/mlflowauth/mlflowauth/store/sqlite"
//
// It is a package of its own because SQLite's driver (mattn/go-sqlite3)
// needs cgo: a gateway that uses only PostgreSQL does not import it and
// builds with CGO_ENABLED=0.
package sqlite

import (
	// The driver registers itself with database/sql as "sqlite3".
	_ "github.com/mattn/go-sqlite3"
)

// DriverName is the database/sql driver store.Open uses for sqlite:// URIs.
const DriverName = "sqlite3"
