--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- The access log an auditor reads: reveals join it with the reason given (via = 'reveal'), and it
-- is searched by viewer as well as by whose data it was.
ALTER TABLE access_log ADD COLUMN reason TEXT;
CREATE INDEX access_log_viewer ON access_log(viewer_id, id);
