--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- Each notification remembers which senders have it already (issue 21): when one sender fails, the
-- retry goes only to the senders still missing it, never twice to the others. Names are separated
-- by newlines.
ALTER TABLE outbox ADD COLUMN delivered_to TEXT NOT NULL DEFAULT '';

-- Who uploaded each file, and when a request or its event first used it (issue 21): uploads count
-- against a person's daily quota, and files no request ever used are deleted after a day. Files
-- stored before this migration count as used.
ALTER TABLE attachments ADD COLUMN uploaded_by {int};
ALTER TABLE attachments ADD COLUMN attached_at {time};
UPDATE attachments SET attached_at = created_at;
CREATE INDEX attachments_uploader ON attachments(uploaded_by, created_at);
CREATE INDEX attachments_unattached ON attachments(created_at) WHERE attached_at IS NULL;
