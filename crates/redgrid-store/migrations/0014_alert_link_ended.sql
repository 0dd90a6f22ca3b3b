--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- The last day of an alert's episode once the detectors find it over (the household back, the
-- routine resumed, the readings in again); null while it goes on. The request hears of the end once.
ALTER TABLE power_alert_links ADD COLUMN ended {date};
