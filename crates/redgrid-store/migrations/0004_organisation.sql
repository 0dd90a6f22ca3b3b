--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- Organisation and participation (issue 5). Keep the SQLite and PostgreSQL versions in step.

-- A unit's code (e.g. its unified social credit code or the district's own numbering): the natural
-- key by which the unit register is imported.
ALTER TABLE units ADD COLUMN code TEXT;
CREATE UNIQUE INDEX units_code ON units(code);

CREATE TABLE party_orgs (
    id         {id} PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('committee', 'general_branch', 'branch', 'temporary_branch', 'party_group')),
    parent_id  {int} REFERENCES party_orgs(id),
    unit_id    {int} REFERENCES units(id),
    area_id    {int} NOT NULL REFERENCES areas(id),
    secretary  TEXT NOT NULL DEFAULT '',
    updated_at {time} NOT NULL
);
CREATE INDEX party_orgs_parent ON party_orgs(parent_id);

-- A member is a person (people.phone is the register's natural key) with one membership record.
CREATE TABLE members (
    person_id         {int} PRIMARY KEY REFERENCES people(id),
    party_org_id      {int} NOT NULL REFERENCES party_orgs(id),
    kind              TEXT NOT NULL CHECK (kind IN ('regular', 'in_service', 'deployed_cadre')),
    home_community_id {int} REFERENCES areas(id),
    grid_id           {int} REFERENCES areas(id),
    joined_on         {date},
    period_from       {date},
    period_to         {date},
    updated_at        {time} NOT NULL
);
CREATE INDEX members_org ON members(party_org_id);

CREATE TABLE volunteers (
    person_id     {int} PRIMARY KEY REFERENCES people(id),
    area_id       {int} NOT NULL REFERENCES areas(id),
    skills        TEXT NOT NULL DEFAULT '',
    registered_on {date},
    updated_at    {time} NOT NULL
);

CREATE TABLE targets (
    id         {id} PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('community', 'village', 'enterprise', 'household')),
    area_id    {int} NOT NULL REFERENCES areas(id),
    unit_id    {int} REFERENCES units(id),
    tags       TEXT NOT NULL DEFAULT '',
    updated_at {time} NOT NULL
);

-- natural_key: kind|party_org_id|member_id|target_id, so that a re-import updates in place.
CREATE TABLE pairings (
    id           {id} PRIMARY KEY,
    natural_key  TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL CHECK (kind IN ('branch_link', 'co_build', 'household', 'liaison')),
    party_org_id {int} REFERENCES party_orgs(id),
    member_id    {int} REFERENCES people(id),
    target_id    {int} NOT NULL REFERENCES targets(id),
    starts_on    {date} NOT NULL,
    ends_on      {date},
    responsible  TEXT NOT NULL DEFAULT '',
    goals        TEXT NOT NULL DEFAULT '',
    updated_at   {time} NOT NULL,
    CHECK ((party_org_id IS NULL) <> (member_id IS NULL))
);
CREATE INDEX pairings_org ON pairings(party_org_id);

CREATE TABLE alliances (
    id          {id} PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    unit_id     {int} NOT NULL UNIQUE REFERENCES units(id),
    lead_org_id {int} REFERENCES party_orgs(id),
    goals       TEXT NOT NULL DEFAULT '',
    created_at  {time} NOT NULL
);

CREATE TABLE alliance_units (
    alliance_id {int} NOT NULL REFERENCES alliances(id),
    unit_id     {int} NOT NULL REFERENCES units(id),
    PRIMARY KEY (alliance_id, unit_id)
);

CREATE TABLE alliance_groups (
    alliance_id {int} NOT NULL REFERENCES alliances(id),
    name        TEXT NOT NULL,
    focus       TEXT NOT NULL DEFAULT '',
    leader      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (alliance_id, name)
);

CREATE TABLE activities (
    id                 {id} PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('visit', 'publicity', 'theme_day', 'donation', 'meeting', 'volunteer_service')),
    held_on            {date} NOT NULL,
    party_org_id       {int} NOT NULL REFERENCES party_orgs(id),
    pairing_id         {int} REFERENCES pairings(id),
    target_id          {int} REFERENCES targets(id),
    title              TEXT NOT NULL,
    people_served      {int} NOT NULL DEFAULT 0,
    donation_items     TEXT NOT NULL DEFAULT '',
    donation_value_fen {int} NOT NULL DEFAULT 0,
    hours              {real} NOT NULL DEFAULT 0,
    recorded_by        {int} REFERENCES people(id),
    created_at         {time} NOT NULL
);
CREATE INDEX activities_held_on ON activities(held_on);

CREATE TABLE activity_participants (
    activity_id {int} NOT NULL REFERENCES activities(id),
    person_id   {int} NOT NULL REFERENCES people(id),
    PRIMARY KEY (activity_id, person_id)
);

CREATE TABLE activity_requests (
    activity_id {int} NOT NULL REFERENCES activities(id),
    request_id  {int} NOT NULL REFERENCES requests(id),
    PRIMARY KEY (activity_id, request_id)
);

CREATE TABLE suggestions (
    id          {id} PRIMARY KEY,
    activity_id {int} REFERENCES activities(id),
    area_id     {int} NOT NULL REFERENCES areas(id),
    text        TEXT NOT NULL,
    taken_on    {date} NOT NULL,
    request_id  {int} REFERENCES requests(id)
);
CREATE INDEX suggestions_activity ON suggestions(activity_id);

CREATE TABLE campaigns (
    id              {id} PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    starts_on       {date} NOT NULL,
    ends_on         {date} NOT NULL,
    root_org_id     {int} REFERENCES party_orgs(id),
    require_pairing BOOLEAN NOT NULL,
    created_at      {time} NOT NULL
);
