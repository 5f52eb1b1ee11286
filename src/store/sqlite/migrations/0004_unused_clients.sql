-- tessera SQLite schema, version 4: self-registered clients that expire unused.
-- `unused_until` (microseconds since the Unix epoch, as in version 1) copies the record's mark
-- (Client::unused_until) into a column the sweep can walk in order; NULL (every client of an
-- earlier version) never expires. Only marked clients are in the index.

ALTER TABLE tessera_clients ADD COLUMN unused_until INTEGER;
CREATE INDEX tessera_clients_unused_idx ON tessera_clients (unused_until)
    WHERE unused_until IS NOT NULL;
