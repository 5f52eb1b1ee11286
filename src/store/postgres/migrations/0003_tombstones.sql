-- tessera PostgreSQL schema, version 3: grants are stored when the authorization is given
-- (with the code, or with the device approval), revocation leaves a tombstone that every
-- issuing step respects, and clients are deleted by mark-and-reap in bounded batches.

-- A deleted client keeps its row, marked, until its records are reaped; its ID stays taken.
ALTER TABLE tessera_clients ADD COLUMN deleted_at timestamptz;
-- sweep_tokens: deletions left to finish.
CREATE INDEX tessera_clients_deleted_idx ON tessera_clients (deleted_at)
    WHERE deleted_at IS NOT NULL;

-- A revoked grant keeps its row, marked, as long as a code or device authorization names it.
ALTER TABLE tessera_grants ADD COLUMN revoked_at timestamptz;
-- sweep_tokens: revocations left to finish.
CREATE INDEX tessera_grants_revoked_idx ON tessera_grants (revoked_at)
    WHERE revoked_at IS NOT NULL;
-- list_user_grants is gone; revoke_user_grants uses tessera_grants_client_idx.
DROP INDEX tessera_grants_user_idx;

-- The grants of codes issued before version 3 (stored then at the first issuance). The grant
-- of a spent code without one never got tokens, or was revoked: it is stored revoked.
INSERT INTO tessera_grants (id, client_id, user_id, scopes, grant_type, created_at, revoked_at)
SELECT c.grant_id, c.client_id, c.user_id, c.scopes, c.grant_type, c.grant_created_at,
       CASE WHEN c.spent THEN now() END
FROM tessera_codes c
WHERE NOT EXISTS (SELECT 1 FROM tessera_grants g WHERE g.id = c.grant_id)
ON CONFLICT (id) DO NOTHING;
-- Version 2's bars become tombstones.
UPDATE tessera_grants SET revoked_at = now()
WHERE revoked_at IS NULL AND id IN (SELECT grant_id FROM tessera_barred_grants);
DROP TABLE tessera_barred_grants;
ALTER TABLE tessera_codes ADD CONSTRAINT tessera_codes_grant_fk
    FOREIGN KEY (grant_id) REFERENCES tessera_grants (id) ON DELETE CASCADE;
-- The grant-left-empty checks.
CREATE INDEX tessera_codes_grant_idx ON tessera_codes (grant_id);

-- The grant an approval stored, kept after redemption (approved_grant is cleared then).
ALTER TABLE tessera_devices ADD COLUMN grant_id text COLLATE "C";
INSERT INTO tessera_grants (id, client_id, user_id, scopes, grant_type, created_at)
SELECT d.approved_grant->>'id', d.client_id, d.approved_grant->>'user',
       d.approved_grant->>'scopes', d.approved_grant->>'grant_type',
       to_timestamp((d.approved_grant->>'created_at')::double precision)
FROM tessera_devices d
WHERE d.approved_grant IS NOT NULL
ON CONFLICT (id) DO NOTHING;
UPDATE tessera_devices SET grant_id = approved_grant->>'id' WHERE approved_grant IS NOT NULL;
ALTER TABLE tessera_devices ADD CONSTRAINT tessera_devices_grant_fk
    FOREIGN KEY (grant_id) REFERENCES tessera_grants (id) ON DELETE CASCADE;
-- The grant-left-empty checks.
CREATE INDEX tessera_devices_grant_idx ON tessera_devices (grant_id)
    WHERE grant_id IS NOT NULL;
