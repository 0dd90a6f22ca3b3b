--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- PostgreSQL only (each statement below is marked so; SQLite reads it as a comment): the tables
-- every command writes stop checking their references by foreign key (issue 21). A foreign-key check on
-- PostgreSQL locks the row it names (FOR KEY SHARE); every filing named the same few areas,
-- category, unit and staff, so 64 commands at once queued on those few rows and wrote a lock record
-- and a multixact for each, and the checks took a fifth of the server's time.
--
-- What the constraints guarded stays guarded:
-- - a command writes only references it has decided on, against the directory read from these
--   same tables, and its event and notices are written in the statement (or transaction) that
--   writes the request;
-- - nothing deletes a row those references name: areas, units, people (an erasure blanks a
--   person, never deletes them), category items and requests. The trigger below refuses any
--   DELETE or TRUNCATE of them (stricter than the constraints, which refused only rows named);
-- - `redgrid check` counts references that name no row.
-- SQLite keeps its constraints: its check is a key lookup with no lock, under its one writer.
{postgres}ALTER TABLE requests
{postgres}    DROP CONSTRAINT IF EXISTS requests_requester_id_fkey,
{postgres}    DROP CONSTRAINT IF EXISTS requests_submitted_by_fkey,
{postgres}    DROP CONSTRAINT IF EXISTS requests_area_id_fkey,
{postgres}    DROP CONSTRAINT IF EXISTS requests_street_id_fkey,
{postgres}    DROP CONSTRAINT IF EXISTS requests_community_id_fkey,
{postgres}    DROP CONSTRAINT IF EXISTS requests_grid_id_fkey,
{postgres}    DROP CONSTRAINT IF EXISTS requests_category_id_fkey,
{postgres}    DROP CONSTRAINT IF EXISTS requests_unit_id_fkey,
{postgres}    DROP CONSTRAINT IF EXISTS requests_claimed_by_fkey;
{postgres}ALTER TABLE request_events
{postgres}    DROP CONSTRAINT IF EXISTS request_events_request_id_fkey,
{postgres}    DROP CONSTRAINT IF EXISTS request_events_actor_id_fkey;
{postgres}ALTER TABLE outbox
{postgres}    DROP CONSTRAINT IF EXISTS outbox_request_id_fkey,
{postgres}    DROP CONSTRAINT IF EXISTS outbox_recipient_id_fkey,
{postgres}    DROP CONSTRAINT IF EXISTS outbox_unit_id_fkey;
{postgres}CREATE OR REPLACE FUNCTION redgrid_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $body$
{postgres}BEGIN
{postgres}    RAISE EXCEPTION 'rows of % are never deleted: requests, events and notices name them',
{postgres}        TG_TABLE_NAME USING ERRCODE = 'foreign_key_violation';
{postgres}END
{postgres}$body$;
{postgres}DO $do$
{postgres}DECLARE t text;
{postgres}BEGIN
{postgres}    FOREACH t IN ARRAY ARRAY['areas', 'units', 'people', 'category_items', 'requests'] LOOP
{postgres}        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_never_deleted', t);
{postgres}        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_never_truncated', t);
{postgres}        EXECUTE format('CREATE TRIGGER %I BEFORE DELETE ON %I FOR EACH ROW '
{postgres}            'EXECUTE FUNCTION redgrid_never_deleted()', t || '_never_deleted', t);
{postgres}        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
{postgres}            'EXECUTE FUNCTION redgrid_never_deleted()', t || '_never_truncated', t);
{postgres}    END LOOP;
{postgres}END
{postgres}$do$;
