--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- An audit record left waiting for the settler carries an HMAC under the chain's key, written by
-- the process that made the change: the settler links a record whose tag does not match with a
-- plain hash, which `audit verify` reports, so rows slipped into audit_pending through the
-- database alone never join the chain as if redgrid had written them.
ALTER TABLE audit_pending ADD COLUMN tag TEXT;
