-- tessera PostgreSQL schema, version 2: grants barred by a replay of their authorization code
-- (RFC 9700 §4.5). take_code inserts a row when it sees a spent code; issue_tokens refuses a
-- barred grant. Both hold the grant's transaction-scoped advisory lock, so a bar and an issue
-- never interleave. Kept until the code's expiry; sweep_codes removes them.

CREATE TABLE tessera_barred_grants (
    grant_id    text COLLATE "C" PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
-- sweep_codes: WHERE expires_at < $1 ORDER BY expires_at LIMIT $2.
CREATE INDEX tessera_barred_grants_expires_idx ON tessera_barred_grants (expires_at);
