--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- The keyed audit chain: each record names the key its link was computed with (an HMAC-SHA256
-- under a key held outside the database); 0 for the plain SHA-256 links written before.
ALTER TABLE audit_chain ADD COLUMN key_id {int} NOT NULL DEFAULT 0;
