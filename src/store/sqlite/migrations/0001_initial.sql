-- tessera SQLite schema, version 1.
-- Every secret is kept only as its SHA-256 (a 32-byte blob); client secrets as their encoded
-- hash inside the client record. Identifiers are text compared byte by byte (SQLite's BINARY
-- collation, as in Rust). Times are integers: microseconds since the Unix epoch, UTC.
-- Fields that no query filters or joins on are kept together as one JSON document per row
-- (`ext`), so that adding such a field needs no further migration.

CREATE TABLE tessera_clients (
    id          TEXT PRIMARY KEY NOT NULL,
    record      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    -- A deleted client keeps its row, marked, until its records are reaped; its ID stays taken.
    deleted_at  INTEGER
);
-- sweep_tokens: deletions left to finish.
CREATE INDEX tessera_clients_deleted_idx ON tessera_clients (deleted_at)
    WHERE deleted_at IS NOT NULL;

CREATE TABLE tessera_grants (
    id          TEXT PRIMARY KEY NOT NULL,
    client_id   TEXT NOT NULL REFERENCES tessera_clients (id) ON DELETE CASCADE,
    user_id     TEXT,
    scopes      TEXT NOT NULL,
    grant_type  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    -- The tombstone: a revoked grant keeps its row as long as a code or device names it.
    revoked_at  INTEGER,
    ext         TEXT NOT NULL DEFAULT '{}'
);
-- revoke_user_grants (WHERE client_id = ?2 AND user_id = ?1), reaping a deleted client and the
-- cascade from clients.
CREATE INDEX tessera_grants_client_idx ON tessera_grants (client_id, user_id);
-- sweep_tokens: revocations left to finish.
CREATE INDEX tessera_grants_revoked_idx ON tessera_grants (revoked_at)
    WHERE revoked_at IS NOT NULL;

CREATE TABLE tessera_codes (
    hash              BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
    grant_id          TEXT NOT NULL REFERENCES tessera_grants (id) ON DELETE CASCADE,
    client_id         TEXT NOT NULL REFERENCES tessera_clients (id) ON DELETE CASCADE,
    user_id           TEXT,
    scopes            TEXT NOT NULL,
    grant_type        TEXT NOT NULL,
    grant_created_at  INTEGER NOT NULL,
    redirect_uri      TEXT,
    pkce_challenge    TEXT,
    pkce_method       TEXT,
    expires_at        INTEGER NOT NULL,
    spent             INTEGER NOT NULL DEFAULT 0 CHECK (spent IN (0, 1)),
    ext               TEXT NOT NULL DEFAULT '{}'
);
-- sweep_codes: WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2.
CREATE INDEX tessera_codes_expires_idx ON tessera_codes (expires_at);
-- Reaping a deleted client and the cascade from clients.
CREATE INDEX tessera_codes_client_idx ON tessera_codes (client_id);
-- Whether a grant is left with nothing, and the cascade from grants.
CREATE INDEX tessera_codes_grant_idx ON tessera_codes (grant_id);

CREATE TABLE tessera_tokens (
    hash               BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
    token_type         TEXT NOT NULL CHECK (token_type IN ('access', 'refresh')),
    grant_id           TEXT NOT NULL REFERENCES tessera_grants (id) ON DELETE CASCADE,
    client_id          TEXT NOT NULL,
    user_id            TEXT,
    scopes             TEXT NOT NULL,
    issued_at          INTEGER NOT NULL,
    expires_at         INTEGER,
    family_expires_at  INTEGER,
    -- NULL while live; set when rotation retires a refresh token.
    retired_at         INTEGER,
    sealed_successor   BLOB,
    ext                TEXT NOT NULL DEFAULT '{}',
    CHECK (retired_at IS NULL OR token_type = 'refresh')
);
-- revoke_grant, reaping, whether a grant is left with nothing, the cascade from grants.
CREATE INDEX tessera_tokens_grant_idx ON tessera_tokens (grant_id);
-- sweep_tokens: WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2.
CREATE INDEX tessera_tokens_expires_idx ON tessera_tokens (expires_at)
    WHERE expires_at IS NOT NULL;

CREATE TABLE tessera_consents (
    user_id       TEXT NOT NULL,
    client_id     TEXT NOT NULL REFERENCES tessera_clients (id) ON DELETE CASCADE,
    scopes        TEXT NOT NULL,
    granted_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    -- find/save/touch/revoke_consent, and list_consents by its leading column.
    PRIMARY KEY (user_id, client_id)
);
-- Reaping a deleted client and the cascade from clients.
CREATE INDEX tessera_consents_client_idx ON tessera_consents (client_id);

CREATE TABLE tessera_devices (
    device_hash     BLOB PRIMARY KEY NOT NULL CHECK (length(device_hash) = 32),
    user_code_hash  BLOB NOT NULL CHECK (length(user_code_hash) = 32),
    client_id       TEXT NOT NULL REFERENCES tessera_clients (id) ON DELETE CASCADE,
    scopes          TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    poll_interval   INTEGER NOT NULL CHECK (poll_interval >= 0),
    last_poll_at    INTEGER,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    -- The approved grant as JSON, while approved.
    approved_grant  TEXT,
    -- The grant an approval stored, kept after redemption.
    grant_id        TEXT REFERENCES tessera_grants (id) ON DELETE CASCADE,
    CHECK ((status = 'approved') = (approved_grant IS NOT NULL))
);
-- find_device_by_user_code and decide_device; also makes a user code unique.
CREATE UNIQUE INDEX tessera_devices_user_code_idx ON tessera_devices (user_code_hash);
-- sweep_devices: WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2.
CREATE INDEX tessera_devices_expires_idx ON tessera_devices (expires_at);
-- Reaping a deleted client and the cascade from clients.
CREATE INDEX tessera_devices_client_idx ON tessera_devices (client_id);
-- Whether a grant is left with nothing, and the cascade from grants.
CREATE INDEX tessera_devices_grant_idx ON tessera_devices (grant_id)
    WHERE grant_id IS NOT NULL;
