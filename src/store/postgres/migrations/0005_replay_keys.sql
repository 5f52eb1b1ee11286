-- tessera PostgreSQL schema, version 5: one-time values (DPoP proof jti, RFC 9449 §11.1).
-- One row per value seen, until it expires; the key is a SHA-256 (store::ReplayKey).

CREATE TABLE tessera_replay_keys (
    key bytea PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX tessera_replay_keys_expires_idx ON tessera_replay_keys (expires_at);
