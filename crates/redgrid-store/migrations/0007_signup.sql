--! One text for both backends: migrate.rs replaces each {word} with its SQLite or PostgreSQL type and
--! drops these --! lines. Never edit a migration once released; add a new one.
-- Residents sign up with a phone number and a one-time code sent by SMS (issue 20). Each code sent is
-- kept (hashed) with the address that asked for it, for the rate limits; wrong codes are counted per
-- phone, and five lock the phone for a while.
CREATE TABLE phone_codes (
    id         {id} PRIMARY KEY,
    phone      TEXT NOT NULL,
    address    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    sent_at    {time} NOT NULL,
    expires_at {time} NOT NULL,
    used_at    {time}
);
CREATE INDEX phone_codes_phone ON phone_codes(phone, sent_at);
CREATE INDEX phone_codes_address ON phone_codes(address, sent_at);

CREATE TABLE phone_locks (
    phone        TEXT PRIMARY KEY,
    failures     {int} NOT NULL,
    locked_until {time}
);

-- A resident's home grid (or community), set once; filing starts from it.
ALTER TABLE people ADD COLUMN home_area_id {int} REFERENCES areas(id);

-- The inbox (消息): a notification is read once its person opened it (or marked all read).
ALTER TABLE outbox ADD COLUMN read_at {time};
CREATE INDEX outbox_unread ON outbox(recipient_id) WHERE read_at IS NULL;

-- The notification kinds a person also wants by SMS.
CREATE TABLE sms_choices (
    person_id {int} NOT NULL REFERENCES people(id),
    kind      TEXT NOT NULL,
    PRIMARY KEY (person_id, kind)
);

-- The access log: each time someone in charge of a request saw its requester's personal data
-- (name, phone, exact address) because they need to know it. Not part of the audit chain (it
-- grows with every page view), but kept with it and read by administrators.
CREATE TABLE access_log (
    id         {id} PRIMARY KEY,
    at         {time} NOT NULL,
    viewer_id  {int} NOT NULL REFERENCES people(id),
    subject_id {int} REFERENCES people(id),
    request_id {int} NOT NULL REFERENCES requests(id),
    via        TEXT NOT NULL
);
CREATE INDEX access_log_subject ON access_log(subject_id, id);
CREATE INDEX access_log_request ON access_log(request_id, id);

-- An alliance can be ended: its unit no longer takes requests, and the register shows the date.
ALTER TABLE alliances ADD COLUMN ended_on {date};
