--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- Issue 3: lights, per-item limits, the scorecard's fact table and the notification outbox ({dialect}).
-- Keep in step with ../{other}/0002_deadlines_scorecard_outbox.sql.

ALTER TABLE category_items ADD COLUMN respond_limit TEXT;
ALTER TABLE category_items ADD COLUMN resolve_limit TEXT;

ALTER TABLE requests ADD COLUMN respond_warn_at {time};
ALTER TABLE requests ADD COLUMN resolve_warn_at {time};
ALTER TABLE requests ADD COLUMN next_due_at {time};
ALTER TABLE requests ADD COLUMN next_warn_at {time};
ALTER TABLE requests ADD COLUMN on_time BOOLEAN;
ALTER TABLE requests ADD COLUMN suspended_at {time};
ALTER TABLE requests ADD COLUMN overdue_supervised_for {time};
ALTER TABLE requests ADD COLUMN rated_at {time};

-- Rows written before this version: derive the new columns exactly as replaying their events would
-- (their events carry no warning instants, so a deadline's warning instant is the deadline itself).
UPDATE requests SET rated_at =
    (SELECT MAX(e.at) FROM request_events e WHERE e.request_id = requests.id AND e.kind = 'rated')
    WHERE rating_resolved IS NOT NULL;
UPDATE requests SET suspended_at =
    (SELECT MAX(e.at) FROM request_events e WHERE e.request_id = requests.id AND e.kind = 'suspended')
    WHERE status = 'suspended';
UPDATE requests SET
    next_due_at = CASE WHEN responded_at IS NULL AND respond_due_at IS NOT NULL
                       THEN respond_due_at ELSE resolve_due_at END,
    next_warn_at = CASE WHEN responded_at IS NULL AND respond_due_at IS NOT NULL
                        THEN respond_due_at ELSE resolve_due_at END
    WHERE status IN ('accepted', 'dispatched', 'claimed', 'suspended');
UPDATE requests SET on_time = (resolved_at <= resolve_due_at)
    WHERE status IN ('resolved', 'verified', 'closed')
      AND resolved_at IS NOT NULL AND resolve_due_at IS NOT NULL;

CREATE INDEX requests_next_due ON requests(next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX requests_respond_due ON requests(respond_due_at) WHERE respond_due_at IS NOT NULL;
CREATE INDEX requests_verified ON requests(status, verified_at);

-- The scorecard's pre-summed counts: grain 0 = day (bucket yyyymmdd), 1 = month (yyyymm), 2 = year (yyyy), in
-- Asia/Shanghai; dim 0 = level, 1 = unit, 2 = community, 3 = category. Kept by every command in the
-- same transaction as its event; redgrid check recomputes it from the requests.
CREATE TABLE scorecard_facts (
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
    closed_reworked     {int} NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, dim, bucket, key)
);

-- Notifications: written in the same transaction as the event that causes them, delivered later
-- by the delivery worker to every configured sender (at least once; receivers dedupe by id).
CREATE TABLE outbox (
    id              {serial} PRIMARY KEY,
    created_at      {time} NOT NULL,
    request_id      {int} NOT NULL REFERENCES requests(id),
    seq             {int} NOT NULL,
    kind            TEXT NOT NULL,
    recipient_id    {int} REFERENCES people(id),
    unit_id         {int} REFERENCES units(id),
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {time} NOT NULL,
    delivered_at    {time},
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox(next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX outbox_recipient ON outbox(recipient_id, id);
