--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- Each notification remembers which senders have it already (issue 21): when one sender fails, the
-- retry goes only to the senders still missing it, never twice to the others. Names are separated
-- by newlines.
ALTER TABLE outbox ADD COLUMN delivered_to TEXT NOT NULL DEFAULT '';
