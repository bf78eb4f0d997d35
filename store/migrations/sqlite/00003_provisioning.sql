-- +goose Up
-- SCIM provisioning (issue 23) and SSO_REVALIDATE_DAYS.
ALTER TABLE users ADD COLUMN external_id TEXT NOT NULL DEFAULT '';  -- the identity provider's id (SCIM externalId)
ALTER TABLE users ADD COLUMN scim TEXT NOT NULL DEFAULT '';         -- '' never provisioned, 'linked', 'deleted' (kept deactivated)
ALTER TABLE users ADD COLUMN last_sso_at TIMESTAMP;                  -- the last sign-in through the identity provider
-- Accounts bound to the identity provider before this column existed get
-- a full grace period from now, not an immediate lapse.
UPDATE users SET last_sso_at = CURRENT_TIMESTAMP WHERE id IN (SELECT user_id FROM identities);

ALTER TABLE groups ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE groups ADD COLUMN scim BOOLEAN NOT NULL DEFAULT FALSE;   -- members kept by SCIM, not by sign-ins

CREATE TABLE scim_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    secret_hash  BLOB NOT NULL UNIQUE,   -- SHA-256 of the secret; the secret is never stored
    prefix       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE UNIQUE INDEX scim_tokens_live_name ON scim_tokens(name) WHERE revoked_at IS NULL;

-- +goose Down
DROP TABLE scim_tokens;
ALTER TABLE groups DROP COLUMN scim;
ALTER TABLE groups DROP COLUMN external_id;
ALTER TABLE users DROP COLUMN last_sso_at;
ALTER TABLE users DROP COLUMN scim;
ALTER TABLE users DROP COLUMN external_id;
