--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- Which power alert each power_alert request was filed for: the link that the detectors' outcome
-- figures (precision per detector) are read through. Kept in the database, so a backup carries it.
CREATE TABLE power_alert_links (
    request_id {int} PRIMARY KEY REFERENCES requests(id),
    district   TEXT NOT NULL,
    detector   TEXT NOT NULL,
    meter      TEXT NOT NULL,
    day        {date} NOT NULL,
    since      {date} NOT NULL,
    severity   INTEGER NOT NULL,
    reasons    TEXT NOT NULL,
    linked_at  {time} NOT NULL
);
CREATE INDEX power_alert_links_district ON power_alert_links(district, detector);

-- The demo signs people in with ordinary API tokens now.
DROP TABLE demo_tokens;
