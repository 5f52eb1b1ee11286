-- tessera PostgreSQL schema, version 4: record extensions.
-- Fields that no query filters or joins on (a grant's audience and authentication, a code's
-- nonce, DPoP key and claims request, a token's audience and confirmation) are kept together as
-- one jsonb document per row, so that adding such a field needs no further migration.

ALTER TABLE tessera_grants ADD COLUMN ext jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE tessera_codes ADD COLUMN ext jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE tessera_tokens ADD COLUMN ext jsonb NOT NULL DEFAULT '{}'::jsonb;
