--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- A restricted request (an elderly person's routine alert) is seen only by the grid and the
-- community: grid workers, community staff and verifiers of its area, and whoever handles it.
ALTER TABLE requests ADD COLUMN restricted BOOLEAN NOT NULL DEFAULT {false};
