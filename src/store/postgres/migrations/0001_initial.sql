-- tessera PostgreSQL schema, version 1.
-- Every secret is kept only as its SHA-256 (bytea, 32 bytes); client secrets as their encoded
-- hash inside the client record. Identifiers use the "C" collation: byte order, as in Rust.

CREATE TABLE tessera_clients (
    id          text COLLATE "C" PRIMARY KEY,
    record      jsonb NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE tessera_grants (
    id          text COLLATE "C" PRIMARY KEY,
    client_id   text COLLATE "C" NOT NULL REFERENCES tessera_clients (id) ON DELETE CASCADE,
    user_id     text COLLATE "C",
    scopes      text NOT NULL,
    grant_type  text NOT NULL,
    created_at  timestamptz NOT NULL
);
-- list_user_grants: WHERE user_id = $1 ORDER BY created_at DESC, id.
CREATE INDEX tessera_grants_user_idx ON tessera_grants (user_id, created_at DESC, id)
    WHERE user_id IS NOT NULL;
-- revoke_user_grants (WHERE client_id = $2 AND user_id = $1) and the cascade from clients.
CREATE INDEX tessera_grants_client_idx ON tessera_grants (client_id, user_id);

CREATE TABLE tessera_codes (
    hash              bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
    grant_id          text COLLATE "C" NOT NULL,
    client_id         text COLLATE "C" NOT NULL REFERENCES tessera_clients (id) ON DELETE CASCADE,
    user_id           text COLLATE "C",
    scopes            text NOT NULL,
    grant_type        text NOT NULL,
    grant_created_at  timestamptz NOT NULL,
    redirect_uri      text,
    pkce_challenge    text,
    pkce_method       text,
    expires_at        timestamptz NOT NULL,
    spent             boolean NOT NULL DEFAULT false
);
-- sweep_codes: WHERE expires_at < $1 ORDER BY expires_at LIMIT $2.
CREATE INDEX tessera_codes_expires_idx ON tessera_codes (expires_at);
-- The cascade from clients.
CREATE INDEX tessera_codes_client_idx ON tessera_codes (client_id);

CREATE TABLE tessera_tokens (
    hash               bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
    token_type         text NOT NULL CHECK (token_type IN ('access', 'refresh')),
    grant_id           text COLLATE "C" NOT NULL REFERENCES tessera_grants (id) ON DELETE CASCADE,
    client_id          text COLLATE "C" NOT NULL,
    user_id            text COLLATE "C",
    scopes             text NOT NULL,
    issued_at          timestamptz NOT NULL,
    expires_at         timestamptz,
    family_expires_at  timestamptz,
    -- NULL while live; set when rotation retires a refresh token.
    retired_at         timestamptz,
    sealed_successor   bytea,
    CHECK (retired_at IS NULL OR token_type = 'refresh')
);
-- revoke_grant, the orphan check of sweep_tokens and revoke_token, the cascade from grants.
CREATE INDEX tessera_tokens_grant_idx ON tessera_tokens (grant_id);
-- sweep_tokens: WHERE expires_at < $1 ORDER BY expires_at LIMIT $2.
CREATE INDEX tessera_tokens_expires_idx ON tessera_tokens (expires_at)
    WHERE expires_at IS NOT NULL;

CREATE TABLE tessera_consents (
    user_id       text COLLATE "C" NOT NULL,
    client_id     text COLLATE "C" NOT NULL REFERENCES tessera_clients (id) ON DELETE CASCADE,
    scopes        text NOT NULL,
    granted_at    timestamptz NOT NULL,
    last_used_at  timestamptz NOT NULL,
    -- find/save/touch/revoke_consent, and list_consents by its leading column.
    PRIMARY KEY (user_id, client_id)
);
-- The cascade from clients.
CREATE INDEX tessera_consents_client_idx ON tessera_consents (client_id);

CREATE TABLE tessera_devices (
    device_hash     bytea PRIMARY KEY CHECK (octet_length(device_hash) = 32),
    user_code_hash  bytea NOT NULL CHECK (octet_length(user_code_hash) = 32),
    client_id       text COLLATE "C" NOT NULL REFERENCES tessera_clients (id) ON DELETE CASCADE,
    scopes          text NOT NULL,
    expires_at      timestamptz NOT NULL,
    poll_interval   bigint NOT NULL CHECK (poll_interval >= 0),
    last_poll_at    timestamptz,
    status          text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    approved_grant  jsonb,
    CHECK ((status = 'approved') = (approved_grant IS NOT NULL))
);
-- find_device_by_user_code and decide_device; also makes a user code unique.
CREATE UNIQUE INDEX tessera_devices_user_code_idx ON tessera_devices (user_code_hash);
-- sweep_devices: WHERE expires_at < $1 ORDER BY expires_at LIMIT $2.
CREATE INDEX tessera_devices_expires_idx ON tessera_devices (expires_at);
-- The cascade from clients.
CREATE INDEX tessera_devices_client_idx ON tessera_devices (client_id);
