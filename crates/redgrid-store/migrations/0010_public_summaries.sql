--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- Public summaries (公示内容): what the public lists show of a request's need and of its result,
-- written or approved by staff, instead of the resident's and the handler's own words. Requests
-- accepted before this migration have none, so their public rows show only category, community,
-- status and dates until staff approve one.
ALTER TABLE requests ADD COLUMN public_need TEXT;
ALTER TABLE requests ADD COLUMN public_result TEXT;
