package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/mlflowauth/mlflowauth/permission"
)

// ErrImportRefused is wrapped by Import's error when the source cannot be
// imported as it is: the message lists what to fix. Nothing was written.
var ErrImportRefused = errors.New("store: import refused")

// ImportOptions tune Import.
type ImportOptions struct {
	// Force imports a source again although it was imported before (the
	// explicit re-import). Without it a source is imported once, so a
	// restart never brings back users or grants deleted since.
	Force bool
	// IsDefaultPassword reports whether a stored password hash is of one
	// of MLflow's shipped default passwords; such accounts are imported
	// with password sign-in off. The gateway passes a check built on
	// basic.VerifyPassword; nil checks nothing.
	IsDefaultPassword func(hash string) bool
}

// ImportReport says what an import did.
type ImportReport struct {
	Source      string // the URI, password hidden
	Kind        string // OriginMLflowBasic or OriginMLflowOIDCAuth
	Fingerprint string
	// AlreadyImported: the source was imported before and nothing was done.
	AlreadyImported bool

	Users, Groups, Memberships, Identities, Grants, Rules int
	// PasswordsDisabled lists users whose password was a shipped default.
	PasswordsDisabled []string
	// Skipped says what was not imported, and why.
	Skipped []string
}

func (r *ImportReport) String() string {
	if r.AlreadyImported {
		return fmt.Sprintf("%s (%s) was imported before: nothing done", r.Source, r.Kind)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "imported from %s (%s): %d users, %d groups, %d memberships, %d identities, %d grants, %d rules",
		r.Source, r.Kind, r.Users, r.Groups, r.Memberships, r.Identities, r.Grants, r.Rules)
	if len(r.PasswordsDisabled) > 0 {
		fmt.Fprintf(&b, "; password sign-in disabled (a shipped default password) for: %s", strings.Join(r.PasswordsDisabled, ", "))
	}
	for _, s := range r.Skipped {
		b.WriteString("; skipped: " + s)
	}
	return b.String()
}

// source is everything read from the database being imported.
type source struct {
	kind       string
	users      []importUser
	groups     []string
	members    map[string][]string // username -> groups
	identities []importIdentity
	grants     []permission.Grant
	rules      []permission.Rule
	skipped    []string
}

type importUser struct {
	name           string // lower-cased
	original       string
	displayName    string
	passwordHash   string
	admin, service bool
	active         bool
}

type importIdentity struct{ issuer, subject, username string }

// Import brings users (with their password hashes, kept as they are),
// groups, memberships, identities, grants and regex rules over from an
// MLflow basic-auth database or an mlflow-oidc-auth database (told apart by
// their tables), SQLite or PostgreSQL, all in one transaction.
//
// It refuses, writing nothing, a source whose usernames collide once
// lower-cased, one with regex rules RE2 cannot express, and a database in
// MLflow 3.13's role model. Users that already exist here are kept as they
// are, and grants already here win; both are reported.
func (s *Store) Import(ctx context.Context, uri string, opts ImportOptions) (*ImportReport, error) {
	src, err := readSource(ctx, uri)
	if err != nil {
		return nil, err
	}
	report := &ImportReport{Source: redact(uri), Kind: src.kind, Fingerprint: fingerprint(src.kind, uri)}
	if err := src.check(); err != nil {
		return nil, err
	}
	report.Skipped = append(report.Skipped, src.skipped...)
	err = s.write(ctx, func(t *tx) error {
		done, err := s.recordImport(ctx, t, report.Fingerprint, report.Source, src.kind, opts.Force)
		if err != nil {
			return err
		}
		if !done {
			report.AlreadyImported = true
			return nil
		}
		return src.writeTo(ctx, t, opts, report)
	})
	if err != nil {
		return nil, err
	}
	return report, nil
}

// fingerprint names a source by its kind and location: a source is
// imported once, however its contents change afterwards.
func fingerprint(kind, uri string) string {
	loc := uri
	if strings.HasPrefix(uri, "sqlite:///") {
		if abs, err := filepath.Abs(strings.TrimPrefix(uri, "sqlite:///")); err == nil {
			loc = "sqlite://" + abs
		}
	}
	h := sha256.Sum256([]byte(kind + "\x00" + loc))
	return "sha256:" + hex.EncodeToString(h[:])
}

func readSource(ctx context.Context, uri string) (*source, error) {
	var db *sqlx.DB
	var err error
	switch {
	case strings.HasPrefix(uri, "sqlite:///"):
		path := strings.TrimPrefix(uri, "sqlite:///")
		if path == "" {
			return nil, invalid("import source %q: no path", uri)
		}
		if !slices.Contains(sql.Drivers(), "sqlite3") {
			return nil, fmt.Errorf("store: import source %s needs the SQLite driver: import _ \"github.com/mlflowauth/mlflowauth/store/sqlite\"", redact(uri))
		}
		db, err = sqlx.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	default:
		var driver, dsn string
		driver, dsn, _, err = parseURI(uri)
		if err == nil {
			db, err = sqlx.Open(driver, dsn)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store: import source %s: %w", redact(uri), err)
	}
	defer db.Close()
	tables, err := tableNames(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("store: import source %s: %w", redact(uri), err)
	}
	r := &reader{db: db, tables: tables, src: &source{members: map[string][]string{}}}
	if err := r.read(ctx); err != nil {
		return nil, fmt.Errorf("store: import from %s: %w", redact(uri), err)
	}
	return r.src, nil
}

func tableNames(ctx context.Context, db *sqlx.DB) (map[string]bool, error) {
	var names []string
	q := "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	if db.DriverName() == "sqlite3" {
		q = "SELECT name FROM sqlite_master WHERE type = 'table'"
	}
	if err := db.SelectContext(ctx, &names, q); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

type reader struct {
	db     *sqlx.DB
	tables map[string]bool
	src    *source
	users  map[int64]string // source id -> lower-cased username
	groups map[int64]string // source id -> group name
}

// rows reads a table as maps of column to value, the columns being found
// at run time: the two plugins' schemas grew over their versions.
func (r *reader) rows(ctx context.Context, table string) ([]map[string]any, error) {
	rows, err := r.db.QueryxContext(ctx, "SELECT * FROM "+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		m := map[string]any{}
		if err := rows.MapScan(m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

func num(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case float64:
		return int64(x)
	case bool:
		if x {
			return 1
		}
		return 0
	}
	var n int64
	fmt.Sscan(str(v), &n)
	return n
}

func boolean(v any, dflt bool) bool {
	switch x := v.(type) {
	case nil:
		return dflt
	case bool:
		return x
	}
	s := strings.ToLower(str(v))
	return s == "1" || s == "t" || s == "true"
}

func (r *reader) read(ctx context.Context) error {
	if !r.tables["users"] {
		return fmt.Errorf("%w: no users table: not an MLflow or mlflow-oidc-auth auth database", ErrImportRefused)
	}
	if !r.tables["experiment_permissions"] && !r.tables["registered_model_permissions"] {
		return fmt.Errorf("%w: this database uses MLflow 3.13's role model (no experiment_permissions or registered_model_permissions tables), which cannot be imported yet", ErrImportRefused)
	}
	r.src.kind = OriginMLflowBasic
	if r.tables["groups"] || r.tables["user_groups"] {
		r.src.kind = OriginMLflowOIDCAuth
	}
	users, err := r.rows(ctx, "users")
	if err != nil {
		return err
	}
	r.users = map[int64]string{}
	for _, u := range users {
		name := str(u["username"])
		iu := importUser{
			name: strings.ToLower(strings.TrimSpace(name)), original: name,
			displayName: str(u["display_name"]), passwordHash: str(u["password_hash"]),
			admin: boolean(u["is_admin"], false), service: boolean(u["is_service_account"], false),
			active: boolean(u["active"], true),
		}
		r.users[num(u["id"])] = iu.name
		r.src.users = append(r.src.users, iu)
	}
	r.groups = map[int64]string{}
	if r.tables["groups"] {
		groups, err := r.rows(ctx, "groups")
		if err != nil {
			return err
		}
		for _, g := range groups {
			name := str(g["group_name"])
			r.groups[num(g["id"])] = name
			r.src.groups = append(r.src.groups, name)
		}
	}
	if r.tables["user_groups"] {
		ms, err := r.rows(ctx, "user_groups")
		if err != nil {
			return err
		}
		for _, m := range ms {
			u, g := r.users[num(m["user_id"])], r.groups[num(m["group_id"])]
			if u != "" && g != "" {
				r.src.members[u] = append(r.src.members[u], g)
			}
		}
	}
	if r.tables["user_identities"] {
		ids, err := r.rows(ctx, "user_identities")
		if err != nil {
			return err
		}
		for _, id := range ids {
			issuer, subject := str(first(id, "issuer", "provider")), str(first(id, "subject", "sub"))
			if u := r.users[num(id["user_id"])]; u != "" && issuer != "" && subject != "" {
				r.src.identities = append(r.src.identities, importIdentity{issuer, subject, u})
			}
		}
	}
	for _, spec := range tableSpecs {
		if !r.tables[spec.table] {
			continue
		}
		if err := r.readPermissions(ctx, spec); err != nil {
			return fmt.Errorf("%s: %w", spec.table, err)
		}
	}
	return nil
}

func first(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok && v != nil {
			return v
		}
	}
	return nil
}

// tableSpec describes one permission table of either plugin.
type tableSpec struct {
	table     string
	kind      permission.Kind
	group     bool     // group_id, not user_id
	regex     bool     // regex, priority
	idColumns []string // where the resource id is, in order of preference
	subColumn string   // a scorer's name
}

var tableSpecs = func() []tableSpec {
	var specs []tableSpec
	add := func(prefix string, kind permission.Kind, ids []string, sub string) {
		for _, group := range []bool{false, true} {
			g := ""
			if group {
				g = "group_"
			}
			specs = append(specs,
				tableSpec{table: prefix + "_" + g + "permissions", kind: kind, group: group, idColumns: ids, subColumn: sub},
				tableSpec{table: prefix + "_" + g + "regex_permissions", kind: kind, group: group, regex: true})
		}
	}
	add("experiment", permission.Experiment, []string{"experiment_id"}, "")
	add("registered_model", permission.RegisteredModel, []string{"name"}, "")
	add("scorer", permission.Scorer, []string{"experiment_id"}, "scorer_name")
	add("gateway_endpoint", permission.GatewayEndpoint, []string{"endpoint_id", "resource_id", "name"}, "")
	add("gateway_secret", permission.GatewaySecret, []string{"secret_id", "resource_id", "name"}, "")
	add("gateway_model_definition", permission.GatewayModelDefinition, []string{"model_definition_id", "resource_id", "name"}, "")
	return specs
}()

func (r *reader) readPermissions(ctx context.Context, spec tableSpec) error {
	rows, err := r.rows(ctx, spec.table)
	if err != nil {
		return err
	}
	for _, row := range rows {
		var p permission.Principal
		if spec.group {
			p = permission.ForGroup(r.groups[num(row["group_id"])])
		} else {
			p = permission.ForUser(r.users[num(row["user_id"])])
		}
		if p.Name == "" {
			r.src.skipped = append(r.src.skipped, fmt.Sprintf("%s row %v: its %s is not in the database", spec.table, row["id"], p.Kind))
			continue
		}
		kind := spec.kind
		if kind == permission.RegisteredModel && boolean(row["prompt"], false) {
			kind = permission.Prompt // mlflow-oidc-auth keeps prompts as registered-model rows
		}
		if ws := str(row["workspace"]); ws != "" && ws != "*" {
			r.src.skipped = append(r.src.skipped, fmt.Sprintf("%s row %v: scoped to workspace %q (workspaces are not supported yet)", spec.table, row["id"], ws))
			continue
		}
		level, err := permission.ParseLevel(str(row["permission"]))
		if err != nil {
			r.src.skipped = append(r.src.skipped, fmt.Sprintf("%s row %v: %v", spec.table, row["id"], err))
			continue
		}
		if spec.regex {
			r.src.rules = append(r.src.rules, permission.Rule{
				ID: num(row["id"]), Kind: kind, Principal: p, Pattern: str(row["regex"]), Priority: int(num(row["priority"])), Level: level,
			})
			continue
		}
		res := permission.Resource{Kind: kind, ID: str(first(row, spec.idColumns...))}
		if spec.subColumn != "" {
			res.Name = str(row[spec.subColumn])
		}
		if res.ID == "" || (kind == permission.Scorer && res.Name == "") {
			r.src.skipped = append(r.src.skipped, fmt.Sprintf("%s row %v: no resource id in a column this importer knows", spec.table, row["id"]))
			continue
		}
		r.src.grants = append(r.src.grants, permission.Grant{Resource: res, Principal: p, Level: level})
	}
	return nil
}

// check refuses what cannot be imported as it is, listing all of it.
func (src *source) check() error {
	var problems []string
	seen := map[string][]string{}
	for _, u := range src.users {
		seen[u.name] = append(seen[u.name], u.original)
	}
	var collisions []string
	for name, originals := range seen {
		if len(originals) > 1 || name == "" {
			sort.Strings(originals)
			collisions = append(collisions, fmt.Sprintf("%q", originals))
		}
	}
	sort.Strings(collisions)
	if len(collisions) > 0 {
		problems = append(problems, "usernames that are the same once lower-cased (rename or merge them first): "+strings.Join(collisions, ", "))
	}
	var bad []string
	for _, r := range src.rules {
		if err := permission.ValidateRule(r); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		problems = append(problems, "regex rules that cannot be translated to RE2 (rewrite them first): "+strings.Join(bad, "; "))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrImportRefused, strings.Join(problems, "; "))
	}
	return nil
}

func (src *source) writeTo(ctx context.Context, t *tx, opts ImportOptions, report *ImportReport) error {
	ts := now()
	existing := map[string]bool{}
	var names []string
	if err := t.SelectContext(ctx, &names, "SELECT username FROM users"); err != nil {
		return err
	}
	for _, n := range names {
		existing[n] = true
	}
	for _, g := range src.groups {
		res, err := t.ExecContext(ctx, t.q("INSERT INTO groups (name) VALUES (?) ON CONFLICT (name) DO NOTHING"), g)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			report.Groups++
		}
	}
	for _, u := range src.users {
		if existing[u.name] {
			report.Skipped = append(report.Skipped, fmt.Sprintf("user %s: already exists here, kept as it is", u.name))
			continue
		}
		hash := u.passwordHash
		if hash != "" && opts.IsDefaultPassword != nil && opts.IsDefaultPassword(hash) {
			hash = ""
			report.PasswordsDisabled = append(report.PasswordsDisabled, u.name)
		}
		if err := insertUser(ctx, t, u.name, User{DisplayName: u.displayName, Admin: u.admin, ServiceAccount: u.service,
			Deactivated: !u.active, PasswordHash: hash, Origin: src.kind}); err != nil {
			return err
		}
		if err := setGroups(ctx, t, u.name, src.members[u.name]); err != nil {
			return err
		}
		report.Users++
		report.Memberships += len(src.members[u.name])
		got, err := getUser(ctx, t, u.name)
		if err != nil {
			return err
		}
		t.emit(Event{Op: OpUserPut, User: got.permissionUser()})
	}
	for _, id := range src.identities {
		res, err := t.ExecContext(ctx, t.q(`INSERT INTO identities (issuer, subject, user_id, created_at)
			SELECT ?, ?, id, ? FROM users WHERE username = ? ON CONFLICT (issuer, subject) DO NOTHING`), id.issuer, id.subject, ts, id.username)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			report.Identities++
		} else {
			report.Skipped = append(report.Skipped, fmt.Sprintf("identity %s/%s of %s: already bound here", id.issuer, id.subject, id.username))
		}
	}
	for _, g := range src.grants {
		res, err := t.ExecContext(ctx, t.q(`INSERT INTO grants (kind, resource_id, resource_sub, principal_kind, principal, level, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, resource_id, resource_sub, principal_kind, principal) DO NOTHING`),
			g.Resource.Kind.String(), g.Resource.ID, sub(g.Resource), g.Principal.Kind.String(), g.Principal.Name, g.Level.String(), ts, ts)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			report.Skipped = append(report.Skipped, fmt.Sprintf("grant %s on %s: one is already here, kept", g.Principal, g.Resource))
			continue
		}
		report.Grants++
		gg := g
		gg.Resource = grantKey(g.Resource)
		t.emit(Event{Op: OpGrantPut, Grant: &gg})
	}
	current, err := selectRules(ctx, t, "")
	if err != nil {
		return err
	}
	for _, r := range src.rules {
		if slices.ContainsFunc(current, func(c permission.Rule) bool {
			return c.Kind == r.Kind && c.Principal == r.Principal && c.Pattern == r.Pattern && c.Priority == r.Priority && c.Level == r.Level
		}) {
			report.Skipped = append(report.Skipped, fmt.Sprintf("rule %q for %s: the same rule is already here", r.Pattern, r.Principal))
			continue
		}
		var id int64
		if err := t.QueryRowxContext(ctx, t.q(`INSERT INTO rules (kind, principal_kind, principal, pattern, priority, level, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			r.Kind.String(), r.Principal.Kind.String(), r.Principal.Name, r.Pattern, r.Priority, r.Level.String(), ts, ts).Scan(&id); err != nil {
			return err
		}
		r.ID = id
		report.Rules++
		t.emit(Event{Op: OpRulePut, Rule: &r})
	}
	return nil
}
