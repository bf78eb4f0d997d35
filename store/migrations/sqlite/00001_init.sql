-- +goose Up
CREATE TABLE users (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    username           TEXT NOT NULL UNIQUE,   -- lower-cased by the store: unique case-insensitively
    display_name       TEXT NOT NULL DEFAULT '',
    is_admin           BOOLEAN NOT NULL DEFAULT FALSE,
    is_service_account BOOLEAN NOT NULL DEFAULT FALSE,
    active             BOOLEAN NOT NULL DEFAULT TRUE,
    password_hash      TEXT,                   -- NULL: no password
    origin             TEXT NOT NULL DEFAULT '', -- '' local, or where an import came from
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);

CREATE TABLE identities (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX identities_user ON identities(user_id);

CREATE TABLE groups (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE memberships (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX memberships_group ON memberships(group_id);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    secret_hash  BLOB NOT NULL UNIQUE,   -- SHA-256 of the secret; the secret is never stored
    prefix       TEXT NOT NULL,          -- shown to people to tell tokens apart
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE INDEX tokens_user ON tokens(user_id);
CREATE UNIQUE INDEX tokens_live_name ON tokens(user_id, name) WHERE revoked_at IS NULL;

CREATE TABLE sessions (
    id_hash    BLOB PRIMARY KEY,         -- SHA-256 of the session id
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE grants (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT NOT NULL,
    resource_id    TEXT NOT NULL,          -- free text: grants may name what does not exist yet
    resource_sub   TEXT NOT NULL DEFAULT '', -- a scorer's name
    principal_kind TEXT NOT NULL CHECK (principal_kind IN ('user', 'group')),
    principal      TEXT NOT NULL,
    level          TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    UNIQUE (kind, resource_id, resource_sub, principal_kind, principal)
);
CREATE INDEX grants_principal ON grants(principal_kind, principal);

CREATE TABLE rules (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT NOT NULL,
    principal_kind TEXT NOT NULL CHECK (principal_kind IN ('user', 'group')),
    principal      TEXT NOT NULL,
    pattern        TEXT NOT NULL,
    priority       INTEGER NOT NULL,
    level          TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX rules_principal ON rules(principal_kind, principal);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE imports (
    fingerprint TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    summary     TEXT NOT NULL,
    imported_at TIMESTAMP NOT NULL
);

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TIMESTAMP NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

-- The change feed: one row per committed write, in commit order.
CREATE TABLE changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TIMESTAMP NOT NULL,
    events TEXT NOT NULL
);

-- +goose Down
DROP TABLE changes;
DROP TABLE audit;
DROP TABLE imports;
DROP TABLE settings;
DROP TABLE rules;
DROP TABLE grants;
DROP TABLE sessions;
DROP TABLE tokens;
DROP TABLE memberships;
DROP TABLE groups;
DROP TABLE identities;
DROP TABLE users;
