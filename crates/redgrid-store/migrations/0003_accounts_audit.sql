--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- Issue 4: accounts, sessions, API tokens and the tamper-evident audit chain ({Dialect}).
-- Keep in step with ../{other}/0003_accounts_audit.sql.

-- A person who may log in. Login is by username or by the person's phone (people.phone).
CREATE TABLE accounts (
    person_id           {int} PRIMARY KEY REFERENCES people(id),
    username            TEXT UNIQUE,
    password_hash       TEXT NOT NULL,
    disabled            BOOLEAN NOT NULL DEFAULT {false},
    must_change         BOOLEAN NOT NULL DEFAULT {false},
    created_at          {time} NOT NULL,
    password_changed_at {time} NOT NULL
);

-- Browser sessions: the cookie holds a random token; only its SHA-256 is kept.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    person_id    {int} NOT NULL REFERENCES people(id),
    csrf_token   TEXT NOT NULL,
    created_at   {time} NOT NULL,
    expires_at   {time} NOT NULL,
    last_seen_at {time} NOT NULL
);
CREATE INDEX sessions_person ON sessions(person_id);

-- Tokens for integrations: shown once, kept hashed, acting for a person within some of their roles
-- and areas, revocable.
CREATE TABLE api_tokens (
    id           {id} PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    name         TEXT NOT NULL,
    person_id    {int} NOT NULL REFERENCES people(id),
    roles        TEXT NOT NULL,
    area_ids     TEXT NOT NULL,
    created_by   {int} REFERENCES people(id),
    created_at   {time} NOT NULL,
    expires_at   {time},
    revoked_at   {time},
    last_used_at {time}
);
CREATE INDEX api_tokens_person ON api_tokens(person_id);

-- The district's hash chain: every request event (by the hash of its row), every administrative
-- change and every reveal of personal data, in order. hash = SHA-256 over prev_hash and the record.
CREATE TABLE audit_chain (
    seq        {int} PRIMARY KEY,
    at         {time} NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('event', 'admin', 'reveal')),
    actor_id   {int},
    request_id {int},
    event_seq  {int},
    payload    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE UNIQUE INDEX audit_chain_event ON audit_chain(request_id, event_seq) WHERE kind = 'event';

-- The chain's head, one row: writers lock it, so records join the chain one at a time.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  {int} NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

-- Notifications find their recipients by unit, by area and by role.
CREATE INDEX grants_unit ON grants(unit_id) WHERE unit_id IS NOT NULL;
CREATE INDEX grants_area ON grants(area_id) WHERE area_id IS NOT NULL;
CREATE INDEX grants_role ON grants(role);

-- Rows that refer to a request, indexed by it: SQLite checks these references whenever a request
-- row is written, and without an index that meant reading the whole outbox on every command.
CREATE INDEX outbox_request ON outbox(request_id);
CREATE INDEX idempotency_keys_request ON idempotency_keys(request_id);
