-- +goose Up
-- Browser session data (scs), keyed by the SHA-256 of the session token:
-- the cookie's value is never stored.
CREATE TABLE session_data (
    token  TEXT PRIMARY KEY,
    data   BYTEA NOT NULL,
    expiry TIMESTAMPTZ NOT NULL
);
CREATE INDEX session_data_expiry ON session_data(expiry);

-- +goose Down
DROP TABLE session_data;
