-- Which power alert each power_alert request was filed for: the link that the detectors' outcome
-- figures (precision per detector) are read through. Kept in the database, so a backup carries it.
CREATE TABLE power_alert_links (
    request_id INTEGER PRIMARY KEY REFERENCES requests(id),
    district   TEXT NOT NULL,
    detector   TEXT NOT NULL,
    meter      TEXT NOT NULL,
    day        TEXT NOT NULL,
    since      TEXT NOT NULL,
    severity   INTEGER NOT NULL,
    reasons    TEXT NOT NULL,
    linked_at  TEXT NOT NULL
);
CREATE INDEX power_alert_links_district ON power_alert_links(district, detector);

-- The demo signs people in with ordinary API tokens now.
DROP TABLE demo_tokens;
