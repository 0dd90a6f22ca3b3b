--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- A command's scorecard counts, packed (issue 21): one row for each counted item that changed,
-- with the local day it counts on and the request's keys in the four dimensions, standing for the
-- twelve facts it expands to (day, month and year buckets, times level, unit, community and
-- category). A command used to append each of those facts as a row of its own to
-- scorecard_pending, up to two dozen rows a move. Settling expands these rows and folds them into
-- scorecard_facts; reads add them through scorecard_delta_facts until then.

-- What still waits in the old form is folded in first, so nothing is lost. The table is renamed
-- before it is read: on PostgreSQL that waits for a settle or a command of a server still running
-- the old version, and makes any later one fail rather than write rows that would be dropped
-- (stop every server before upgrading all the same).
ALTER TABLE scorecard_pending RENAME TO scorecard_pending_folded;

INSERT INTO scorecard_facts (grain, dim, bucket, key, respond_due, responded_on_time, rated,
    rated_resolved, satisfied, basically_satisfied, closed, closed_on_time, closed_reworked)
SELECT grain, dim, bucket, key, SUM(respond_due), SUM(responded_on_time), SUM(rated),
    SUM(rated_resolved), SUM(satisfied), SUM(basically_satisfied), SUM(closed),
    SUM(closed_on_time), SUM(closed_reworked)
FROM scorecard_pending_folded WHERE 1 = 1 GROUP BY grain, dim, bucket, key
ON CONFLICT (grain, dim, bucket, key) DO UPDATE SET
    respond_due = scorecard_facts.respond_due + excluded.respond_due,
    responded_on_time = scorecard_facts.responded_on_time + excluded.responded_on_time,
    rated = scorecard_facts.rated + excluded.rated,
    rated_resolved = scorecard_facts.rated_resolved + excluded.rated_resolved,
    satisfied = scorecard_facts.satisfied + excluded.satisfied,
    basically_satisfied = scorecard_facts.basically_satisfied + excluded.basically_satisfied,
    closed = scorecard_facts.closed + excluded.closed,
    closed_on_time = scorecard_facts.closed_on_time + excluded.closed_on_time,
    closed_reworked = scorecard_facts.closed_reworked + excluded.closed_reworked;

DROP TABLE scorecard_pending_folded;

CREATE TABLE scorecard_deltas (
    id                  {serial} PRIMARY KEY,
    day                 INTEGER NOT NULL,
    level_key           {int} NOT NULL,
    unit_key            {int} NOT NULL,
    community_key       {int} NOT NULL,
    category_key        {int} NOT NULL,
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

-- The rows of scorecard_deltas as the facts they stand for, in scorecard_facts' columns. Grains:
-- 0 day, 1 month, 2 year. Dimensions: 0 level, 1 unit, 2 community, 3 category (core's Grain, Dim).
CREATE VIEW scorecard_delta_facts AS
SELECT CAST(g.grain AS SMALLINT) AS grain, CAST(g.dim AS SMALLINT) AS dim,
    CASE g.grain WHEN 0 THEN d.day WHEN 1 THEN d.day / 100 ELSE d.day / 10000 END AS bucket,
    CASE g.dim WHEN 0 THEN d.level_key WHEN 1 THEN d.unit_key WHEN 2 THEN d.community_key
        ELSE d.category_key END AS key,
    d.respond_due, d.responded_on_time, d.rated, d.rated_resolved, d.satisfied,
    d.basically_satisfied, d.closed, d.closed_on_time, d.closed_reworked
FROM scorecard_deltas AS d CROSS JOIN (
    SELECT 0 AS grain, 0 AS dim UNION ALL SELECT 0, 1 UNION ALL SELECT 0, 2 UNION ALL SELECT 0, 3
    UNION ALL SELECT 1, 0 UNION ALL SELECT 1, 1 UNION ALL SELECT 1, 2 UNION ALL SELECT 1, 3
    UNION ALL SELECT 2, 0 UNION ALL SELECT 2, 1 UNION ALL SELECT 2, 2 UNION ALL SELECT 2, 3
) AS g;
