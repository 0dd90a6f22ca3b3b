--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- Work a command leaves for later (issue 21), so that no two commands wait on the same row: every
-- command used to add to the same few scorecard rows and to lock the audit chain's head until it
-- committed, which made commands take turns. Now a command appends its scorecard delta and its
-- audit record here, to rows of its own; one writer at a time folds the deltas into
-- scorecard_facts and links the records into audit_chain, oldest first, a few times a second.
-- Reads of the scorecard add the deltas not yet folded, so its answers stay exact; reads of the
-- chain link what is waiting first.
CREATE TABLE scorecard_pending (
    id                  {serial} PRIMARY KEY,
    grain               SMALLINT NOT NULL,
    dim                 SMALLINT NOT NULL,
    bucket              INTEGER NOT NULL,
    key                 {int} NOT NULL,
    respond_due         {int} NOT NULL DEFAULT 0,
    responded_on_time   {int} NOT NULL DEFAULT 0,
    rated               {int} NOT NULL DEFAULT 0,
    rated_resolved      {int} NOT NULL DEFAULT 0,
    satisfied           {int} NOT NULL DEFAULT 0,
    basically_satisfied {int} NOT NULL DEFAULT 0,
    closed              {int} NOT NULL DEFAULT 0,
    closed_on_time      {int} NOT NULL DEFAULT 0,
    closed_reworked     {int} NOT NULL DEFAULT 0
);

CREATE TABLE audit_pending (
    id         {serial} PRIMARY KEY,
    at         {time} NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('event', 'admin', 'reveal')),
    actor_id   {int},
    request_id {int},
    event_seq  {int},
    payload    TEXT NOT NULL
);
