--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- redgrid core schema ({Dialect}). Keep in step with ../{other}/0001_core.sql.

CREATE TABLE areas (
    id        {id} PRIMARY KEY,
    parent_id {int} REFERENCES areas(id),
    kind      TEXT NOT NULL CHECK (kind IN ('district', 'street', 'community', 'grid')),
    code      TEXT NOT NULL UNIQUE,
    name      TEXT NOT NULL
);
CREATE INDEX areas_parent ON areas(parent_id);

CREATE TABLE units (
    id        {id} PRIMARY KEY,
    name      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    area_id   {int} NOT NULL REFERENCES areas(id),
    level     TEXT NOT NULL CHECK (level IN ('district', 'street', 'community', 'grid')),
    parent_id {int} REFERENCES units(id),
    active    BOOLEAN NOT NULL DEFAULT {true},
    UNIQUE (area_id, name)
);

CREATE TABLE people (
    id         {id} PRIMARY KEY,
    name       TEXT NOT NULL,
    phone      TEXT UNIQUE,
    created_at {time} NOT NULL
);

CREATE TABLE grants (
    person_id {int} NOT NULL REFERENCES people(id),
    role      TEXT NOT NULL,
    area_id   {int} REFERENCES areas(id),
    unit_id   {int} REFERENCES units(id),
    CHECK ((area_id IS NULL) <> (unit_id IS NULL))
);
CREATE INDEX grants_person ON grants(person_id);

CREATE TABLE demo_tokens (
    token_hash TEXT PRIMARY KEY,
    person_id  {int} NOT NULL REFERENCES people(id)
);

CREATE TABLE category_classes (
    id      {id} PRIMARY KEY,
    code    TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    sort    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE category_items (
    id            {id} PRIMARY KEY,
    class_id      {int} NOT NULL REFERENCES category_classes(id),
    code          TEXT NOT NULL UNIQUE,
    name_zh       TEXT NOT NULL,
    name_en       TEXT NOT NULL,
    default_tier  TEXT NOT NULL,
    default_level TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT {true},
    sort          INTEGER NOT NULL DEFAULT 0
);

-- The projection of each request's events. Rebuildable from request_events exactly.
CREATE TABLE requests (
    id                  {id} PRIMARY KEY,
    status              TEXT NOT NULL,
    channel             TEXT NOT NULL,
    description         TEXT NOT NULL,
    requester_id        {int} REFERENCES people(id),
    submitted_by        {int} REFERENCES people(id),
    area_id             {int} NOT NULL REFERENCES areas(id),
    street_id           {int} NOT NULL REFERENCES areas(id),
    community_id        {int} NOT NULL REFERENCES areas(id),
    grid_id             {int} REFERENCES areas(id),
    address             TEXT,
    lat                 {real},
    lon                 {real},
    attachments         TEXT NOT NULL,
    category_id         {int} REFERENCES category_items(id),
    tier                TEXT,
    urgent              BOOLEAN NOT NULL,
    level               TEXT NOT NULL,
    unit_id             {int} REFERENCES units(id),
    claimed_by          {int} REFERENCES people(id),
    suspended_from      TEXT,
    supervised          BOOLEAN NOT NULL,
    supervision_count   INTEGER NOT NULL,
    rework_count        INTEGER NOT NULL,
    escalation_count    INTEGER NOT NULL,
    respond_due_at      {time},
    resolve_due_at      {time},
    responded_at        {time},
    resolved_at         {time},
    verified_at         {time},
    closed_at           {time},
    resolution          TEXT,
    cost_fen            {int},
    rating_resolved     BOOLEAN,
    rating_satisfaction TEXT,
    rating_comment      TEXT,
    rating_via          TEXT,
    reject_code         TEXT,
    duplicate_of        {int},
    created_at          {time} NOT NULL,
    updated_at          {time} NOT NULL,
    version             {int} NOT NULL
);
CREATE INDEX requests_status ON requests(status, id);
CREATE INDEX requests_level ON requests(level, status);
CREATE INDEX requests_unit ON requests(unit_id, status);
CREATE INDEX requests_street ON requests(street_id, id);
CREATE INDEX requests_community ON requests(community_id, id);
CREATE INDEX requests_grid ON requests(grid_id, id);
CREATE INDEX requests_category ON requests(category_id, id);
CREATE INDEX requests_requester ON requests(requester_id, id);
CREATE INDEX requests_created ON requests(created_at);
CREATE INDEX requests_updated ON requests(updated_at);

-- Append-only: one row per event, numbered per request from 1.
CREATE TABLE request_events (
    id         {id} PRIMARY KEY,
    request_id {int} NOT NULL REFERENCES requests(id),
    seq        {int} NOT NULL,
    kind       TEXT NOT NULL,
    actor_id   {int} REFERENCES people(id),
    actor_role TEXT,
    at         {time} NOT NULL,
    payload    TEXT NOT NULL,
    UNIQUE (request_id, seq)
);

CREATE TABLE idempotency_keys (
    actor_key  TEXT NOT NULL,
    key        TEXT NOT NULL,
    body_hash  TEXT NOT NULL,
    request_id {int} NOT NULL REFERENCES requests(id),
    created_at {time} NOT NULL,
    PRIMARY KEY (actor_key, key)
);

CREATE TABLE attachments (
    id           TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    size         {int} NOT NULL,
    data         {blob} NOT NULL,
    created_at   {time} NOT NULL
);
