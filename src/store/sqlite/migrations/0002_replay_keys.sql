-- tessera SQLite schema, version 2: one-time values (DPoP proof jti, RFC 9449 §11.1).
-- One row per value seen, until it expires; the key is a SHA-256 (store::ReplayKey). Times are
-- microseconds since the Unix epoch, as in version 1.

CREATE TABLE tessera_replay_keys (
    key         BLOB PRIMARY KEY CHECK (length(key) = 32),
    expires_at  INTEGER NOT NULL
);
CREATE INDEX tessera_replay_keys_expires_idx ON tessera_replay_keys (expires_at);
