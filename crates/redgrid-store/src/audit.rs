//! The district's tamper-evident audit chain.
//!
//! Every request event, every administrative change and every reveal of a person's unmasked data is
//! appended to one chain, in the transaction that makes the change. A record's hash covers the hash
//! before it and the record itself; an event's record carries the SHA-256 of the event row (its
//! digest), so the event rows themselves are covered too. [`verify`] walks the chain and the events
//! and reports every changed, inserted, reordered or deleted record.
//!
//! What a chain cannot show by itself is the loss of its newest records together with their events
//! (a cut-off tail). Anchors close that gap: `redgrid audit anchor` prints the head's sequence number
//! and hash, to be kept outside the database (a printed daily report, another machine), and
//! `redgrid audit verify --anchors FILE` checks each anchored record is still there, unchanged. The
//! server anchors every few seconds.
//!
//! **Keyed links.** A plain hash chain can be recomputed by anyone who can write to the database:
//! change a record, recompute every later link, and it verifies. So each link is an HMAC-SHA256
//! under a key held outside the database ([`Keyring`]: a file in the data folder readable only by
//! its owner, or an environment variable). Each record names the key it was linked with
//! (`key_id`), so old links verify with old keys after a rotation; records written before the chain
//! was keyed (`key_id` 0) are plain SHA-256, and the keyring says from which record on every link
//! must be keyed, so a rewrite back to plain hashes is found too.

use crate::{Result, Store};
use chrono::{DateTime, SecondsFormat, Utc};
use redgrid_core::ids::{PersonId, RequestId};
use redgrid_core::request::Event;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

redgrid_core::vocabulary!(plain
    /// What a record stands for.
    AuditKind {
        /// A request event; the payload is the event row's digest.
        Event = "event", "诉求事件", "request event";
        /// An administrative change; the payload is JSON saying what changed.
        Admin = "admin", "管理变更", "administrative change";
        /// Someone was shown a person's unmasked data; the payload is JSON: whose, which fields, why.
        Reveal = "reveal", "查看个人信息", "personal data shown";
    }
);

/// A record about to join the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub kind: AuditKind,
    pub actor_id: Option<PersonId>,
    pub request_id: Option<RequestId>,
    pub event_seq: Option<i64>,
    pub payload: String,
}

impl AuditRecord {
    /// The record of an administrative change: `action` (e.g. `create_unit`) and its details.
    pub fn admin(
        at: DateTime<Utc>,
        actor_id: Option<PersonId>,
        action: &str,
        details: serde_json::Value,
    ) -> AuditRecord {
        AuditRecord {
            at,
            kind: AuditKind::Admin,
            actor_id,
            request_id: None,
            event_seq: None,
            payload: serde_json::json!({ "action": action, "details": details }).to_string(),
        }
    }

    /// The record of a reveal: who saw whose data, which fields, and the reason they gave.
    pub fn reveal(
        at: DateTime<Utc>,
        actor_id: PersonId,
        whose: Option<PersonId>,
        request_id: Option<RequestId>,
        fields: &[&str],
        reason: &str,
    ) -> AuditRecord {
        AuditRecord {
            at,
            kind: AuditKind::Reveal,
            actor_id: Some(actor_id),
            request_id,
            event_seq: None,
            payload: serde_json::json!({
                "whose": whose.map(|p| p.0),
                "fields": fields,
                "reason": reason,
            })
            .to_string(),
        }
    }

    /// The record of a request event whose stored payload is `payload`.
    pub fn event(e: &Event, payload: &str) -> AuditRecord {
        AuditRecord {
            at: e.at,
            kind: AuditKind::Event,
            actor_id: e.actor.person_id,
            request_id: Some(e.request_id),
            event_seq: Some(e.seq),
            payload: event_digest(&EventRow::of(e, payload)),
        }
    }
}

/// A stored chain record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub seq: i64,
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
    /// The key the link was computed with; 0 for a plain SHA-256 link (before the chain was keyed).
    pub key_id: i64,
}

/// One key of the chain: its number, its secret, and the first record linked with it.
#[derive(Clone, PartialEq, Eq)]
pub struct ChainKey {
    pub id: i64,
    pub secret: Vec<u8>,
    pub since: i64,
}

impl ChainKey {
    /// A short fingerprint that names the key without revealing it (a backup's manifest records
    /// it, so a restore can tell the right key from another with the same number).
    pub fn fingerprint(&self) -> String {
        hmac_sha256_hex(&self.secret, b"redgrid chain key fingerprint")[..16].to_string()
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChainKey {{ id: {}, since: {} }}", self.id, self.since)
    }
}

/// The chain's keys, oldest first; the newest links new records. Empty: links are plain SHA-256
/// (a database whose owner gave no key, such as a library user's; the `redgrid` binary always
/// gives one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<ChainKey>,
}

impl Keyring {
    /// The key new records are linked with.
    pub fn current(&self) -> Option<&ChainKey> {
        self.keys.last()
    }

    pub fn get(&self, id: i64) -> Option<&ChainKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    pub fn keys(&self) -> &[ChainKey] {
        &self.keys
    }

    /// The key record `seq` must be linked with: the newest whose range has begun.
    pub fn key_for(&self, seq: i64) -> Option<&ChainKey> {
        self.keys.iter().rev().find(|k| k.since <= seq)
    }

    /// From which record on every link must be keyed.
    pub fn keyed_since(&self) -> Option<i64> {
        self.keys.first().map(|k| k.since)
    }

    /// The keyring with a new key (numbered after the newest) for records from `since` on.
    pub fn with_key(&self, secret: Vec<u8>, since: i64) -> Keyring {
        let mut keys = self.keys.clone();
        let id = keys.last().map_or(1, |k| k.id + 1);
        keys.push(ChainKey { id, secret, since });
        Keyring { keys }
    }

    /// Reads a keyring: one key a line, `<id> <secret, 64 hex digits> <first record>`, oldest first;
    /// `#` starts a comment.
    pub fn parse(text: &str) -> std::result::Result<Keyring, String> {
        let mut keys: Vec<ChainKey> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |what: &str| format!("line {}: {what}", i + 1);
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [id, secret, since] = parts[..] else {
                return Err(bad("expected `<id> <secret> <first record>`"));
            };
            let id: i64 = id
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad("the key number is not a whole number from 1"))?;
            let since: i64 = since
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad("the first record is not a whole number from 1"))?;
            let secret = from_hex(secret)
                .filter(|s| s.len() == 32)
                .ok_or_else(|| bad("the secret is not 64 hexadecimal digits"))?;
            if let Some(last) = keys.last()
                && (id <= last.id || since < last.since)
            {
                return Err(bad("keys must come oldest first, with rising numbers"));
            }
            keys.push(ChainKey { id, secret, since });
        }
        Ok(Keyring { keys })
    }

    /// The keyring as [`Keyring::parse`] reads it.
    pub fn to_text(&self) -> String {
        let mut out = String::from(
            "# redgrid audit chain keys: <id> <secret> <first record>. Keep this file secret and backed up\n\
             # apart from the database: without it the chain cannot be verified or extended.\n",
        );
        for k in &self.keys {
            out.push_str(&format!("{} {} {}\n", k.id, to_hex(&k.secret), k.since));
        }
        out
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// HMAC-SHA256 (RFC 2104) of `data` under `key`, as hex.
pub fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(data)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    to_hex(&outer)
}

/// An event row as stored, for its digest.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub request_id: i64,
    pub seq: i64,
    pub kind: String,
    pub actor_id: Option<i64>,
    pub actor_role: Option<String>,
    pub at: DateTime<Utc>,
    pub payload: String,
}

impl EventRow {
    /// The row event `e` is stored as, with its stored `payload`.
    pub fn of(e: &Event, payload: &str) -> EventRow {
        EventRow {
            request_id: e.request_id.0,
            seq: e.seq,
            kind: e.body.kind().to_string(),
            actor_id: e.actor.person_id.map(|p| p.0),
            actor_role: e.actor.role.map(|r| r.as_str().to_string()),
            at: e.at,
            payload: payload.to_string(),
        }
    }
}

/// Instants as text with microseconds: what both backends keep.
fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The SHA-256 of an event row: every column, in order, one per line.
pub fn event_digest(e: &EventRow) -> String {
    let text = format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n{}",
        e.request_id,
        e.seq,
        e.kind,
        opt(e.actor_id),
        opt(e.actor_role.as_deref()),
        instant(e.at),
        e.payload
    );
    crate::sha256_hex(text.as_bytes())
}

/// A record's fields, one a line, after `head` (what its tag and its link are computed over).
fn record_text(head: &str, r: &AuditRecord) -> String {
    format!(
        "{head}\n{}\n{}\n{}\n{}\n{}\n{}",
        r.kind.as_str(),
        instant(r.at),
        opt(r.actor_id.map(|p| p.0)),
        opt(r.request_id.map(|r| r.0)),
        opt(r.event_seq),
        r.payload
    )
}

/// The tag of a record left waiting to be linked: an HMAC-SHA256 under the chain's key over the
/// record alone, written by the process that made the change. The settler links a record whose
/// tag does not match with a plain hash, so `audit verify` reports it.
pub fn record_tag(key: &[u8], r: &AuditRecord) -> String {
    hmac_sha256_hex(key, record_text("pending", r).as_bytes())
}

/// The hash of record `seq` following `prev_hash`: an HMAC-SHA256 under `key`, or a plain SHA-256
/// without one.
pub fn chain_hash(prev_hash: &str, seq: i64, r: &AuditRecord, key: Option<&[u8]>) -> String {
    let text = record_text(&format!("{prev_hash}\n{seq}"), r);
    match key {
        Some(k) => hmac_sha256_hex(k, text.as_bytes()),
        None => crate::sha256_hex(text.as_bytes()),
    }
}

/// One thing `verify` found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The chain skips or repeats a sequence number (a record deleted or inserted).
    Gap { expected: i64, found: i64 },
    /// A record's `prev_hash` is not the hash of the record before it (reordered or inserted).
    BrokenLink { seq: i64 },
    /// A record's hash does not match its contents (changed).
    BadHash { seq: i64 },
    /// The head row disagrees with the chain's last record.
    Head { head_seq: i64, last_seq: i64 },
    /// An event row whose digest differs from its chain record (the event was changed).
    EventChanged { request_id: i64, seq: i64 },
    /// An event row with no chain record (inserted behind the chain's back).
    EventNotInChain { request_id: i64, seq: i64 },
    /// A chain record whose event row is gone (deleted).
    EventMissing { request_id: i64, seq: i64 },
    /// An anchored record is missing or differs.
    Anchor { seq: i64 },
    /// A record linked with a key the keyring does not hold.
    UnknownKey { seq: i64, key_id: i64 },
    /// A plain SHA-256 link where the keyring says every link is keyed (rewritten without the key).
    Unkeyed { seq: i64 },
    /// A link under a key other than the one for its range (an old key used after its rotation).
    WrongKey { seq: i64, key_id: i64 },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Gap { expected, found } => write!(
                f,
                "chain: expected record {expected}, found {found} (records deleted or inserted)"
            ),
            Finding::BrokenLink { seq } => write!(
                f,
                "chain: record {seq} does not follow the record before it (reordered or inserted)"
            ),
            Finding::BadHash { seq } => {
                write!(
                    f,
                    "chain: record {seq} was changed (its hash does not match)"
                )
            }
            Finding::Head { head_seq, last_seq } => write!(
                f,
                "chain: the head says {head_seq} records, the chain ends at {last_seq} (records deleted at the end)"
            ),
            Finding::EventChanged { request_id, seq } => {
                write!(
                    f,
                    "request {request_id} event {seq}: changed after it was written"
                )
            }
            Finding::EventNotInChain { request_id, seq } => write!(
                f,
                "request {request_id} event {seq}: not in the chain (inserted behind its back)"
            ),
            Finding::EventMissing { request_id, seq } => {
                write!(
                    f,
                    "request {request_id} event {seq}: deleted (the chain has it)"
                )
            }
            Finding::Anchor { seq } => write!(
                f,
                "anchor: record {seq} is missing or differs from the anchored hash"
            ),
            Finding::UnknownKey { seq, key_id } => write!(
                f,
                "chain: record {seq} names key {key_id}, which the keyring does not hold"
            ),
            Finding::WrongKey { seq, key_id } => write!(
                f,
                "chain: record {seq} is linked with key {key_id}, which had been replaced by then"
            ),
            Finding::Unkeyed { seq } => write!(
                f,
                "chain: record {seq} has a plain hash where the chain is keyed (rewritten without the key, or written into the database behind redgrid's back)"
            ),
        }
    }
}

/// What `verify` read and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    pub records: i64,
    pub events: i64,
    pub head_seq: i64,
    pub head_hash: String,
    /// Records with a plain SHA-256 link (written before the chain was keyed).
    pub plain: i64,
    /// The first keyed record, if any.
    pub first_keyed: Option<i64>,
    /// The newest anchored record found in the chain.
    pub last_anchor: Option<i64>,
    pub findings: Vec<Finding>,
}

/// The most findings reported (the count of records read still covers everything).
const MAX_FINDINGS: usize = 1000;

fn note(v: &mut Verification, f: Finding) {
    if v.findings.len() < MAX_FINDINGS {
        v.findings.push(f);
    }
}

/// Walks the whole chain and every event row. `anchors` are (seq, hash) pairs kept outside the
/// database; each must still be in the chain unchanged. Each keyed link is checked with its key in
/// `keys`, and from the keyring's first record on every link must be keyed.
pub async fn verify(
    store: &Arc<dyn Store>,
    anchors: &[(i64, String)],
    keys: &Keyring,
) -> Result<Verification> {
    let mut v = Verification::default();
    let mut prev_hash = String::new();
    let mut expected = 1i64;
    let mut anchored: HashMap<i64, &str> = anchors.iter().map(|(s, h)| (*s, h.as_str())).collect();
    let mut rewritten: HashMap<(i64, i64), Vec<String>> = HashMap::new();
    let page = 5000;
    let mut after = 0i64;
    loop {
        let rows = store.audit_rows(after, page).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for row in &rows {
            v.records += 1;
            let found_before = v.findings.len();
            if row.seq != expected {
                note(
                    &mut v,
                    Finding::Gap {
                        expected,
                        found: row.seq,
                    },
                );
            }
            if row.prev_hash != prev_hash {
                note(&mut v, Finding::BrokenLink { seq: row.seq });
            }
            let key = match row.key_id {
                0 => {
                    v.plain += 1;
                    if keys.keyed_since().is_some_and(|since| row.seq >= since) {
                        note(&mut v, Finding::Unkeyed { seq: row.seq });
                    }
                    Some(None)
                }
                id => {
                    v.first_keyed.get_or_insert(row.seq);
                    if keys.get(id).is_some() && keys.key_for(row.seq).map(|k| k.id) != Some(id) {
                        note(
                            &mut v,
                            Finding::WrongKey {
                                seq: row.seq,
                                key_id: id,
                            },
                        );
                    }
                    keys.get(id).map(|k| Some(k.secret.as_slice()))
                }
            };
            match key {
                None => note(
                    &mut v,
                    Finding::UnknownKey {
                        seq: row.seq,
                        key_id: row.key_id,
                    },
                ),
                Some(key) => {
                    if chain_hash(&row.prev_hash, row.seq, &row.record, key) != row.hash {
                        note(&mut v, Finding::BadHash { seq: row.seq });
                    }
                }
            }
            if let Some(h) = anchored.remove(&row.seq) {
                if h == row.hash {
                    v.last_anchor = v.last_anchor.max(Some(row.seq));
                } else {
                    note(&mut v, Finding::Anchor { seq: row.seq });
                }
            }
            // An erasure vouches for the events it rewrote: their new digests (only a record that
            // itself verified may vouch).
            if v.findings.len() == found_before
                && row.record.kind == AuditKind::Admin
                && let Ok(p) = serde_json::from_str::<serde_json::Value>(&row.record.payload)
                && p["action"] == "erase_person"
                && let Some(list) = p["details"]["events"].as_array()
            {
                for e in list {
                    if let (Some(r), Some(n), Some(d)) =
                        (e[0].as_i64(), e[1].as_i64(), e[2].as_str())
                    {
                        rewritten.entry((r, n)).or_default().push(d.to_string());
                    }
                }
            }
            prev_hash = row.hash.clone();
            expected = row.seq + 1;
            v.head_seq = row.seq;
        }
    }
    v.head_hash = prev_hash;
    for seq in anchored.into_keys() {
        note(&mut v, Finding::Anchor { seq });
    }
    let (head_seq, _) = store.audit_head().await?;
    if head_seq != v.head_seq {
        let last_seq = v.head_seq;
        note(&mut v, Finding::Head { head_seq, last_seq });
    }
    // Events against the chain's event records: both read in (request, number) order and merged,
    // so memory stays one page whatever the size of the ledger.
    let mut events: VecDeque<EventRow> = VecDeque::new();
    let mut chained: VecDeque<(i64, i64, String)> = VecDeque::new();
    let (mut events_after, mut chained_after) = ((0i64, 0i64), (0i64, 0i64));
    let (mut events_done, mut chained_done) = (false, false);
    loop {
        if events.is_empty() && !events_done {
            events.extend(store.event_rows(events_after, page).await?);
            match events.back() {
                Some(last) => events_after = (last.request_id, last.seq),
                None => events_done = true,
            }
        }
        if chained.is_empty() && !chained_done {
            chained.extend(store.chain_event_digests(chained_after, page).await?);
            match chained.back() {
                Some(last) => chained_after = (last.0, last.1),
                None => chained_done = true,
            }
        }
        let event_key = events.front().map(|e| (e.request_id, e.seq));
        let chain_key = chained.front().map(|c| (c.0, c.1));
        match (event_key, chain_key) {
            (None, None) => break,
            (Some(ek), ck) if ck.is_none_or(|ck| ek < ck) => {
                v.events += 1;
                events.pop_front();
                note(
                    &mut v,
                    Finding::EventNotInChain {
                        request_id: ek.0,
                        seq: ek.1,
                    },
                );
            }
            (ek, Some(ck)) if ek.is_none_or(|ek| ck < ek) => {
                chained.pop_front();
                note(
                    &mut v,
                    Finding::EventMissing {
                        request_id: ck.0,
                        seq: ck.1,
                    },
                );
            }
            _ => {
                v.events += 1;
                let (Some(e), Some((request_id, seq, digest))) =
                    (events.pop_front(), chained.pop_front())
                else {
                    break;
                };
                // An erased event must be as its erasure left it (restoring the erased text is
                // a change too); any other must be as it was chained.
                let now = event_digest(&e);
                let expected = rewritten
                    .get(&(request_id, seq))
                    .and_then(|d| d.last())
                    .unwrap_or(&digest);
                if *expected != now {
                    note(&mut v, Finding::EventChanged { request_id, seq });
                }
            }
        }
    }
    Ok(v)
}

/// Parses an anchors file: one `seq hash` pair a line; `#` starts a comment.
pub fn parse_anchors(text: &str) -> std::result::Result<Vec<(i64, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(seq), Some(hash), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("line {}: expected `<seq> <hash>`", i + 1));
        };
        let seq: i64 = seq
            .parse()
            .map_err(|_| format!("line {}: {seq:?} is not a record number", i + 1))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("line {}: {hash:?} is not a SHA-256 hash", i + 1));
        }
        out.push((seq, hash.to_ascii_lowercase()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_parse_with_line_numbers() {
        let h = "a".repeat(64);
        let ok = parse_anchors(&format!("# daily\n12 {h}\n\n30 {h} # Monday\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok, vec![(12, h.clone()), (30, h.clone())]);
        assert!(parse_anchors("x abc").unwrap_err().starts_with("line 1:"));
        assert!(
            parse_anchors(&format!("1 {h}\n2 zz"))
                .unwrap_err()
                .starts_with("line 2:")
        );
        assert!(parse_anchors(&format!("1 {h} extra")).is_err());
    }

    #[test]
    fn a_hash_covers_every_field_and_the_link() {
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 123_456_000).unwrap_or_default();
        let r = AuditRecord::admin(
            t,
            Some(PersonId(3)),
            "create_unit",
            serde_json::json!({"id": 9}),
        );
        for key in [None, Some(&[7u8; 32][..])] {
            let h = chain_hash("", 1, &r, key);
            assert_eq!(h, chain_hash("", 1, &r, key));
            assert_ne!(h, chain_hash("x", 1, &r, key));
            assert_ne!(h, chain_hash("", 2, &r, key));
            let mut other = r.clone();
            other.actor_id = Some(PersonId(4));
            assert_ne!(h, chain_hash("", 1, &other, key));
            let mut other = r.clone();
            other.payload.push(' ');
            assert_ne!(h, chain_hash("", 1, &other, key));
        }
        // A keyed link is neither the plain hash nor the same under another key.
        let k1 = chain_hash("", 1, &r, Some(&[1u8; 32]));
        assert_ne!(k1, chain_hash("", 1, &r, None));
        assert_ne!(k1, chain_hash("", 1, &r, Some(&[2u8; 32])));
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than a block is hashed first.
        assert_eq!(
            hmac_sha256_hex(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn keyrings_round_trip_and_refuse_bad_lines() {
        let ring = Keyring::default()
            .with_key(vec![1; 32], 1)
            .with_key(vec![2; 32], 40);
        assert_eq!(Keyring::parse(&ring.to_text()), Ok(ring.clone()));
        assert_eq!(ring.current().map(|k| k.id), Some(2));
        assert_eq!(ring.keyed_since(), Some(1));
        let s = "ab".repeat(32);
        for (bad, line) in [
            (format!("1 {s}"), 1),
            (format!("0 {s} 1"), 1),
            ("1 abc 1".to_string(), 1),
            (format!("1 {s} 1\n1 {s} 5"), 2),
            (format!("2 {s} 9\n3 {s} 5"), 2),
        ] {
            let e = Keyring::parse(&bad).unwrap_err();
            assert!(e.starts_with(&format!("line {line}:")), "{bad}: {e}");
        }
    }
}
