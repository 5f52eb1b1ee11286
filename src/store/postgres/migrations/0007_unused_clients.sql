-- tessera PostgreSQL schema, version 7: self-registered clients that expire unused.
-- `unused_until` copies the record's mark (Client::unused_until) into a column the sweep can
-- walk in order; NULL (every client of an earlier version) never expires. Only marked clients
-- are in the index, so it stays as small as the backlog of clients not yet used.

ALTER TABLE tessera_clients ADD COLUMN unused_until timestamptz;
CREATE INDEX tessera_clients_unused_idx ON tessera_clients (unused_until)
    WHERE unused_until IS NOT NULL;
