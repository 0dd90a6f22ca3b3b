//! redgrid-store: persistence for redgrid, and nothing else: the service, imports, accounts and
//! jobs that use it live in `redgrid-app`.
//!
//! One [`Store`] trait with two backends, SQLite (the embedded default) and PostgreSQL. Both share one
//! body of code (`common.rs`, compiled once per backend with that backend's concrete types) and keep
//! their own migrations under `migrations/<backend>/` with equal version numbers.
//!
//! Every command is one transaction that appends exactly one event and writes the request's new
//! projection; a refused command writes nothing. The store never decides: the core does, through
//! the closure handed to [`Store::execute`], inside the transaction.

#![forbid(unsafe_code)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redgrid_core::area::{Area, Level};
use redgrid_core::catalogue::{CategoryClass, CategoryItem, Tier};
use redgrid_core::command::{Decision, NewContact, SubmitDecision};
use redgrid_core::deadline::Limit;
use redgrid_core::directory::Directory;
use redgrid_core::error::CoreError;
use redgrid_core::ids::*;
use redgrid_core::person::{Grant, Person};
use redgrid_core::request::{Channel, Event, Light, Request, Status};
use redgrid_core::scorecard::{Counts, Dim, FactKey, Grain};
use redgrid_core::unit::{Unit, UnitKind};
use std::collections::HashSet;
use std::sync::Arc;

pub mod audit;
mod migrate;
pub mod org;
pub mod plan;
pub mod postgres;
pub mod sqlite;

pub use migrate::{MIGRATIONS, Migration};

/// The current time as stored: UTC, truncated to microseconds (PostgreSQL's precision), so that a
/// projection read back equals the one computed.
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

redgrid_core::vocabulary!(plain
    /// Which database a store runs on.
    Backend {
        Sqlite = "sqlite", "SQLite（内置）", "SQLite (embedded)";
        Postgres = "postgres", "PostgreSQL", "PostgreSQL";
    }
);

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The domain refused (not found, illegal transition, forbidden, invalid, conflict).
    #[error("{0}")]
    Core(#[from] CoreError),
    /// A row with the same unique key is already stored (the constraint or message says which).
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// The database could not be reached in time (pool timeout, closed pool, connection lost).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database failed otherwise. Never shown to clients in detail.
    #[error("database error: {0}")]
    Db(String),
    /// Stored data does not make sense (bad enum text, broken JSON, events that do not replay).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A failure injected by a test (see [`FailPoint`]).
    #[error("injected failure at {0:?}")]
    Injected(FailPoint),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The driver's errors stop here: callers see what kind of failure it was, never a sqlx type.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Duplicate(d.constraint().unwrap_or(d.message()).to_string())
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Db(e.to_string()),
        }
    }
}

/// Places where tests can make a write transaction fail on purpose, to prove it leaves nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// After the event row is written, before the projection is.
    AfterEventWrite,
}

/// A new area.
#[derive(Debug, Clone)]
pub struct NewArea {
    pub parent_id: Option<AreaId>,
    pub kind: Level,
    pub code: String,
    pub name: String,
}

/// A new unit.
#[derive(Debug, Clone)]
pub struct NewUnit {
    pub name: String,
    pub kind: UnitKind,
    pub area_id: AreaId,
    pub level: Level,
    pub parent_id: Option<UnitId>,
    /// The unit's code in the district's register; None when it has none.
    pub code: Option<String>,
}

/// A new person with their grants.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub name: String,
    pub phone: Option<String>,
    pub grants: Vec<Grant>,
}

/// A new catalogue class.
#[derive(Debug, Clone)]
pub struct NewClass {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub sort: i32,
}

/// A new catalogue item, or the new values of an existing one.
#[derive(Debug, Clone)]
pub struct ItemFields {
    pub class_id: ClassId,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub default_tier: Tier,
    pub default_level: Level,
    pub respond_limit: Option<Limit>,
    pub resolve_limit: Option<Limit>,
    pub active: bool,
    pub sort: i32,
}

/// Which requests to list. Every set field narrows the list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub statuses: Vec<Status>,
    pub level: Option<Level>,
    pub unit_id: Option<UnitId>,
    /// A subtree of the area tree, as the column of its level and the area's id.
    pub area: Option<(Level, AreaId)>,
    pub category_id: Option<CategoryId>,
    pub tier: Option<Tier>,
    pub channel: Option<Channel>,
    pub requester_id: Option<PersonId>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
    /// Text that must appear in the description.
    pub text: Option<String>,
    /// Only ids below this one (the cursor: lists run newest first).
    pub before_id: Option<RequestId>,
    /// Only requests showing this light at this instant.
    pub light: Option<(Light, DateTime<Utc>)>,
    /// Only requests being handled whose next deadline falls in `[from, to]` (not suspended).
    pub due_between: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Only requests that were supervised (督办) or sent back for rework: the rectification list.
    pub flagged: bool,
    /// Only what the caller may see (from the policy table); None for the system.
    pub visible: Option<redgrid_core::policy::Visibility>,
}

/// A notification waiting in, or delivered from, the outbox.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub request_id: RequestId,
    /// The event that caused it.
    pub seq: i64,
    pub kind: String,
    pub recipient_id: Option<PersonId>,
    pub unit_id: Option<UnitId>,
    /// JSON: the request id, the kind, and the titles in Chinese and English.
    pub payload: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// When its person read it in the inbox.
    pub read_at: Option<DateTime<Utc>>,
    /// The senders that have it already, one name a line (the others get it on the next attempt).
    pub delivered_to: String,
}

/// The plain-SQL grouping used as the scorecard's reference (tests and the benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectGroup {
    Level,
    Unit,
    Community,
    Street,
    Category,
    District,
}

/// What an idempotency key was used for before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub body_hash: String,
    pub request_id: RequestId,
}

/// A stored attachment's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentMeta {
    pub id: String,
    pub content_type: String,
    pub size: i64,
}

/// The idempotency key of a submission, scoped to who sent it.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// `p:<person id>` or `system`.
    pub actor_key: String,
    pub key: String,
    pub body_hash: String,
}

/// The decision function handed to [`Store::execute`]: it sees the current projection, inside the
/// transaction, and returns the decision or a refusal. It owns what it needs, so a backend may run it
/// on a writer task; it may be called again if a batch is retried.
pub type Decide = Arc<dyn Fn(&Request) -> Result<Decision, CoreError> + Send + Sync>;

/// A person's login (see `redgrid_app::accounts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub person_id: PersonId,
    pub username: Option<String>,
    /// An argon2id PHC string.
    pub password_hash: String,
    pub disabled: bool,
    /// Set when an administrator chose the password: the person must pick their own.
    pub must_change: bool,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
}

/// A browser session, found by the SHA-256 of its cookie token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub token_hash: String,
    pub person_id: PersonId,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// One view of a requester's personal data by someone in charge of the request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who saw it.
    pub viewer_id: PersonId,
    /// Whose data it was (the requester).
    pub subject_id: Option<PersonId>,
    pub request_id: RequestId,
    /// How: `page` or `api` (a view by those in charge), or `reveal` (unmasked on request).
    pub via: String,
    /// The reason given for a reveal.
    pub reason: Option<String>,
}

/// Which entries of the access log to read, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessQuery {
    /// Whose data.
    pub subject: Option<PersonId>,
    /// Who saw it.
    pub viewer: Option<PersonId>,
    pub request: Option<RequestId>,
    /// Only entries older than this one (the cursor of the previous page).
    pub before: Option<i64>,
    pub limit: i64,
}

/// A one-time sign-up code sent to a phone (kept hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneCode {
    pub id: i64,
    pub phone: String,
    /// The address that asked for it (for the per-address limit).
    pub address: String,
    pub code_hash: String,
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// A token for an integration: it acts for `person_id`, within `roles` and `area_ids` only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    pub id: i64,
    #[serde(skip)]
    pub token_hash: String,
    /// The token's first characters, to tell tokens apart in lists.
    pub prefix: String,
    pub name: String,
    pub person_id: PersonId,
    pub roles: Vec<redgrid_core::person::Role>,
    /// Empty: wherever the person's grants reach.
    pub area_ids: Vec<AreaId>,
    pub created_by: Option<PersonId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Which power alert a `power_alert` request was filed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLink {
    pub request_id: RequestId,
    /// The district's code, as the electricity data is kept under it.
    pub district: String,
    /// The detector's code (`vacancy`, `group_rental`, `routine`, `fault`).
    pub detector: String,
    /// The meter's code.
    pub meter: String,
    /// The day the alert is about, and the first day of what it describes.
    pub day: chrono::NaiveDate,
    pub since: chrono::NaiveDate,
    /// 1 low, 2 medium, 3 high.
    pub severity: i32,
    /// The detector's reasons, separated by `;`.
    pub reasons: String,
    /// The episode's last day once the detectors found it over; `None` while it goes on.
    pub ended: Option<chrono::NaiveDate>,
}

/// Who makes an administrative change, and when: it joins the audit chain in the change's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub at: DateTime<Utc>,
    pub by: Option<PersonId>,
}

impl Change {
    /// A change made now by `actor` (None for the system).
    pub fn by(actor: &redgrid_core::person::Actor) -> Change {
        Change {
            at: now(),
            by: actor.person_id(),
        }
    }

    /// A change made now by the system (set-up, imports, the demo).
    pub fn system() -> Change {
        Change {
            at: now(),
            by: None,
        }
    }
}

/// The schema: which backend, and its migrations.
#[async_trait]
pub trait Schema: Send + Sync {
    fn backend(&self) -> Backend;
    /// Applies any migrations not yet applied. Returns the versions applied now.
    async fn migrate(&self) -> Result<Vec<i64>>;
    /// The versions applied so far.
    async fn applied_migrations(&self) -> Result<Vec<i64>>;
    /// The size of SQLite's write-ahead log in bytes (`None` on PostgreSQL).
    fn wal_bytes(&self) -> Option<u64>;
    /// How much of SQLite's write-ahead log is in use, as the last checkpoint found it (the file
    /// is reused from its start after each restart, so it can be larger); `None` on PostgreSQL.
    fn wal_in_use_bytes(&self) -> Option<u64>;
    /// SQLite's batches of more than one command: how many committed together, and how many had
    /// to roll back and run their commands one by one (each a cost, never a loss); `None` on
    /// PostgreSQL, which writes each command on its own.
    fn batches(&self) -> Option<(u64, u64)>;
    /// Makes the database file complete on its own: SQLite copies its WAL into it and empties the
    /// WAL (at shutdown, before a file backup); nothing on PostgreSQL.
    async fn flush(&self) -> Result<()>;
    /// Writes a consistent copy of the whole database to `path` while others go on writing
    /// (SQLite: `VACUUM INTO`). PostgreSQL is copied with its own tools (`pg_dump`), so it refuses.
    async fn snapshot_to(&self, path: &std::path::Path) -> Result<()>;
    /// Each reference a request, an event or a notice makes that names no row (`"table.column"`
    /// and how many), for `redgrid check`. On PostgreSQL these tables keep no foreign keys
    /// (migration 16), so this is where a row removed behind the server's back shows.
    async fn dangling_references(&self) -> Result<Vec<(String, i64)>>;
}

/// The district's directory (areas, units, the catalogue) and its people.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    async fn load_directory(&self) -> Result<Directory>;
    async fn create_area(&self, new: NewArea, by: Change) -> Result<Area>;
    async fn create_unit(&self, new: NewUnit, by: Change) -> Result<Unit>;
    async fn create_class(&self, new: NewClass, by: Change) -> Result<CategoryClass>;
    async fn create_item(&self, fields: ItemFields, by: Change) -> Result<CategoryItem>;
    async fn update_item(
        &self,
        id: CategoryId,
        fields: ItemFields,
        by: Change,
    ) -> Result<CategoryItem>;
    async fn create_person(&self, new: NewPerson, by: Change) -> Result<Person>;
    /// Creates several people in one transaction (each with its grants and audit record), for
    /// bulk setup such as the demo.
    async fn create_people(&self, new: Vec<NewPerson>, by: Change) -> Result<Vec<Person>>;
    /// Adds (`held`) or removes one grant of a person, with one audit-chain record (who, to whom,
    /// which role, where, when) when it changed anything. Returns the person after it and whether
    /// it changed; `None` when there is no such person.
    async fn set_grant(
        &self,
        person: PersonId,
        grant: Grant,
        held: bool,
        by: Change,
    ) -> Result<Option<(Person, bool)>>;
    /// The person whose phone is `phone` (phones are unique).
    async fn person_by_phone(&self, phone: &str) -> Result<Option<Person>>;
    async fn person(&self, id: PersonId) -> Result<Option<Person>>;
    async fn count_people(&self) -> Result<i64>;
    /// People holding `role`, oldest first.
    async fn people_with_role(
        &self,
        role: redgrid_core::person::Role,
        limit: i64,
    ) -> Result<Vec<Person>>;
}

/// Requests: filing, commands in one transaction each, reads, the jobs' queries, and the link from power alerts to their requests.
#[async_trait]
pub trait RequestStore: Send + Sync {
    /// Notes which power alert a request was filed for; false when the request was linked before.
    async fn link_power_alert(&self, link: &AlertLink, at: DateTime<Utc>) -> Result<bool>;
    /// The district's power alerts filed as requests, oldest request first.
    async fn power_alert_links(&self, district: &str) -> Result<Vec<AlertLink>>;
    /// The request an episode (detector, meter and first day) was filed as, if any.
    async fn power_alert_link(
        &self,
        district: &str,
        detector: &str,
        meter: &str,
        since: chrono::NaiveDate,
    ) -> Result<Option<AlertLink>>;
    /// Records that a filed episode went on to `day` with this severity and these reasons.
    async fn update_power_alert_link(&self, link: &AlertLink) -> Result<()>;
    /// Marks a filed episode over on `ended` unless it was marked over on that day or later
    /// already; true when this call marked it (so one process alone announces the end).
    async fn claim_power_alert_end(
        &self,
        request_id: RequestId,
        ended: chrono::NaiveDate,
    ) -> Result<bool>;
    /// Files a request: writes the projection and its first event (and the requester's contact and
    /// the idempotency key, when given) in one transaction.
    async fn submit(
        &self,
        decision: SubmitDecision,
        at: DateTime<Utc>,
        key: Option<IdempotencyKey>,
    ) -> Result<Request>;
    /// Looks up an idempotency key.
    async fn idempotency(&self, actor_key: &str, key: &str) -> Result<Option<IdempotencyRecord>>;
    /// Runs one command: in one transaction, reads the request, asks `decide`, appends the event and
    /// writes the new projection. Nothing is written when `decide` refuses.
    async fn execute(
        &self,
        id: RequestId,
        at: DateTime<Utc>,
        decide: Decide,
    ) -> Result<(Request, Event)>;
    async fn request(&self, id: RequestId) -> Result<Option<Request>>;
    async fn events(&self, id: RequestId) -> Result<Vec<Event>>;
    async fn list(&self, filter: &ListFilter, limit: i64) -> Result<Vec<Request>>;
    async fn count(&self, filter: &ListFilter) -> Result<i64>;
    /// Which of these request ids exist.
    async fn existing_requests(&self, ids: &[RequestId]) -> Result<HashSet<RequestId>>;
    /// Request ids in ascending order, after `after`, for walking every request.
    async fn request_ids(&self, after: Option<RequestId>, limit: i64) -> Result<Vec<RequestId>>;
    /// Ids of requests past their next deadline that the system has not supervised for it.
    async fn overdue_unsupervised(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<RequestId>>;
    /// Ids of verified requests verified at or before `cutoff` (their rating window has ended).
    async fn rating_window_ended(
        &self,
        cutoff: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<RequestId>>;
    /// Ids of requests being handled below the district level whose next deadline passed before
    /// `before` (candidates for automatic escalation).
    async fn red_before(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<RequestId>>;
}

/// The scorecard's pre-summed counts.
#[async_trait]
pub trait ScorecardStore: Send + Sync {
    /// Sums of the fact table for one dimension over inclusive bucket ranges, per key.
    async fn facts(&self, dim: Dim, ranges: &[(Grain, i32, i32)]) -> Result<Vec<(i64, Counts)>>;
    /// Response counts straight from the requests whose respond deadline is in `[from, to)`.
    async fn respond_slice(
        &self,
        dim: Dim,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(i64, Counts)>>;
    /// The same counts by a plain GROUP BY over the requests (the reference): ratings and closures
    /// in `[from, to)`, responses due in `[from, respond_to)`.
    async fn scorecard_direct(
        &self,
        group: DirectGroup,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        respond_to: DateTime<Utc>,
    ) -> Result<Vec<(i64, Counts)>>;
    /// Every row of the fact table.
    async fn all_facts(&self) -> Result<std::collections::BTreeMap<FactKey, Counts>>;
}

/// The outbox of notifications and its delivery state.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Undelivered messages due for an attempt at `now`, oldest first.
    async fn due_messages(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<OutboxMessage>>;
    /// Takes a message for delivery until `lease_until`; false when another worker took it first.
    async fn lease_message(
        &self,
        id: i64,
        seen_next: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool>;
    async fn message_delivered(&self, id: i64, at: DateTime<Utc>) -> Result<()>;
    async fn message_failed(
        &self,
        id: i64,
        attempts: i32,
        next: DateTime<Utc>,
        error: &str,
        delivered_to: &str,
    ) -> Result<()>;
    /// A person's messages, newest first.
    async fn messages_for(&self, person: PersonId, limit: i64) -> Result<Vec<OutboxMessage>>;
    /// (delivered, waiting) message counts.
    async fn outbox_counts(&self) -> Result<(i64, i64)>;
    /// How many of a person's messages are unread.
    async fn unread_count(&self, person: PersonId) -> Result<i64>;
    /// Marks a person's messages read: one (`Some(id)`) or all. Returns how many changed.
    async fn mark_read(&self, person: PersonId, id: Option<i64>, at: DateTime<Utc>) -> Result<u64>;
    /// The notification kinds a person also wants by SMS.
    async fn sms_choices(&self, person: PersonId) -> Result<Vec<String>>;
    async fn set_sms_choices(&self, person: PersonId, kinds: &[String]) -> Result<()>;
}

/// Attachments: pictures and charts, stored by content.
/// The limits on one person's uploads; 0 is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadQuota {
    /// Files in the last hour.
    pub per_hour: i64,
    /// Bytes in the last 24 hours.
    pub bytes_per_day: i64,
}

#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Stores a file (once per content); `by` is who uploaded it (none for the system's own charts,
    /// which count as used at once). A person's upload must stay within `quota`, counted in the
    /// same write transaction as the file (with the person's row locked on PostgreSQL), so uploads
    /// sent at once, to one server or to several, cannot together pass it: past it, `TooMany`.
    async fn put_attachment(
        &self,
        content_type: &str,
        data: &[u8],
        by: Option<PersonId>,
        quota: UploadQuota,
    ) -> Result<AttachmentMeta>;
    /// Deletes the files uploaded before `before` that no request or event ever used; how many.
    async fn delete_unused_attachments(&self, before: DateTime<Utc>) -> Result<u64>;
    async fn attachment(&self, id: &str) -> Result<Option<(AttachmentMeta, Vec<u8>)>>;
    async fn existing_attachments(&self, ids: &[String]) -> Result<HashSet<String>>;
    /// The requests whose submission or resolution carries attachment `id` (a hex digest), at most
    /// `limit`. Reads the events: fine for downloads, not for bulk use.
    async fn requests_with_attachment(&self, id: &str, limit: i64) -> Result<Vec<RequestId>>;
}

/// What an erasure did ([`AccountStore::erase_person`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erasure {
    /// The person was erased before: nothing was done this time.
    pub already: bool,
    /// Requests of theirs whose texts and place were replaced by the marker.
    pub requests: usize,
    /// Events rewritten.
    pub events: usize,
}

/// What an erased person's name, and the free text they wrote, become.
pub const ERASED: &str = "[已删除]";

/// Accounts, sessions and API tokens, and erasing a person.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates or replaces a person's login; a new password ends all their sessions. `action` names
    /// the change in the audit chain (`create_account`, `reset_password`, `change_password`).
    async fn set_account(&self, account: &Account, action: &str, by: Change) -> Result<()>;
    /// Erases one person (PIPL): their name becomes [`ERASED`] and their phone, login, sessions,
    /// tokens, roles and SMS choices go; in each request they filed, the description, the exact
    /// place and their rating comments become the marker, in the events and the projection alike.
    /// One administrative chain record (who, whom, when, why, and the new digest of each rewritten
    /// event) vouches for the rewritten events, so `check` and `audit verify` stay clean. Unknown:
    /// not found; erased already: nothing is done (`already`).
    async fn erase_person(&self, id: PersonId, reason: &str, by: Change) -> Result<Erasure>;
    /// Residents (people with no role but `resident`) not erased yet, all of whose requests are
    /// closed or rejected and last changed before `before`: whom a retention rule erases.
    async fn retention_due(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<PersonId>>;
    /// The account whose username, or whose person's phone, is `login`.
    async fn account_by_login(&self, login: &str) -> Result<Option<Account>>;
    async fn account(&self, person: PersonId) -> Result<Option<Account>>;
    async fn create_session(&self, session: &SessionRow) -> Result<()>;
    async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Removes sessions that ended before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Stores a new API token (its `id` is assigned here).
    async fn create_api_token(&self, token: &ApiToken, by: Change) -> Result<ApiToken>;
    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>>;
    async fn api_tokens(&self) -> Result<Vec<ApiToken>>;
    /// Revokes a token; false when there is no such token or it was revoked already.
    async fn revoke_api_token(&self, id: i64, by: Change) -> Result<bool>;
    /// Keeps a sign-up code that was sent (its `id` is assigned here).
    async fn record_phone_code(&self, code: &PhoneCode) -> Result<()>;
    /// When codes were sent to `phone`, and from `address`, at or after `since`, oldest first.
    async fn codes_sent_since(
        &self,
        phone: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> Result<(Vec<DateTime<Utc>>, Vec<DateTime<Utc>>)>;
    /// The newest code sent to a phone.
    async fn latest_phone_code(&self, phone: &str) -> Result<Option<PhoneCode>>;
    /// Marks a code used; false when it was used already.
    async fn use_phone_code(&self, id: i64, at: DateTime<Utc>) -> Result<bool>;
    /// Counts one more wrong code for a phone, at once for every server; returns the count.
    async fn count_phone_failure(&self, phone: &str) -> Result<i64>;
    /// A phone's wrong codes in a row, and until when it is locked.
    async fn phone_lock(&self, phone: &str) -> Result<(i64, Option<DateTime<Utc>>)>;
    async fn set_phone_lock(
        &self,
        phone: &str,
        failures: i64,
        locked_until: Option<DateTime<Utc>>,
    ) -> Result<()>;
    /// The grid (or community) a person set as their home.
    async fn home_area(&self, person: PersonId) -> Result<Option<AreaId>>;
    async fn set_home_area(&self, person: PersonId, area: AreaId) -> Result<()>;
}

/// The audit chain's rows and head.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Does what commands left for later: folds their scorecard deltas into the facts and links
    /// their audit records into the chain, oldest first. Returns how many rows it took (0, without
    /// writing, when nothing waits). Reads of the chain settle first; the service settles a few
    /// times a second.
    async fn settle(&self) -> Result<u64>;
    /// What waits to be settled: audit records and scorecard delta rows.
    async fn waiting(&self) -> Result<(i64, i64)>;
    /// Appends one record (an administrative change or a reveal) in a transaction of its own.
    async fn append_audit(&self, record: &audit::AuditRecord) -> Result<i64>;
    /// Sets the keys new links are computed with (see [`audit::Keyring`]); until then links are
    /// plain SHA-256, and a chain already keyed is not extended.
    fn set_keyring(&self, keys: audit::Keyring);
    /// The newest record linked with a key, if any.
    async fn last_keyed(&self) -> Result<Option<audit::AuditRow>>;
    /// Chain records after `after`, in order.
    async fn audit_rows(&self, after: i64, limit: i64) -> Result<Vec<audit::AuditRow>>;
    /// The head: the last record's number and hash.
    async fn audit_head(&self) -> Result<(i64, String)>;
    /// The chain's event records as (request, event number, digest), in that order, after `after`.
    async fn chain_event_digests(
        &self,
        after: (i64, i64),
        limit: i64,
    ) -> Result<Vec<(i64, i64, String)>>;
    /// Event rows as stored, ordered by request and number, after `after`.
    async fn event_rows(&self, after: (i64, i64), limit: i64) -> Result<Vec<audit::EventRow>>;
    /// Records one need-to-know view of personal data (its `id` is assigned here).
    async fn log_access(&self, entry: &AccessEntry) -> Result<()>;
    /// The access log, newest first: of one person's data, by one viewer, of one request, or all.
    async fn access_log(&self, q: &AccessQuery) -> Result<Vec<AccessEntry>>;
}

/// Hooks for test suites and benchmarks only (feature `testing`): injected failures, raw SQL, bulk loads.
#[cfg(feature = "testing")]
#[async_trait]
pub trait TestHooks: Send + Sync {
    /// Replaces the fact table with the contributions of every request's projection.
    async fn rebuild_facts(&self) -> Result<u64>;
    /// Writes projections without events, with their contributions (the benchmark's loader only).
    async fn load_projections(&self, requests: &[Request]) -> Result<()>;
    /// Makes the next write transactions fail at `point` (None to stop).
    fn inject_failure(&self, point: Option<FailPoint>);
    /// Writes raw SQL (tests and `redgrid check` fixtures only).
    async fn execute_raw(&self, sql: &str) -> Result<u64>;
}

/// The test hooks where the `testing` feature is on; nothing otherwise.
#[cfg(feature = "testing")]
pub use TestHooks as Hooks;
/// The test hooks where the `testing` feature is on; nothing otherwise.
#[cfg(not(feature = "testing"))]
pub trait Hooks {}
#[cfg(not(feature = "testing"))]
impl<T> Hooks for T {}

/// Storage for one district: every role trait at once (and the test hooks under `testing`). An
/// `Arc<dyn Store>` offers all their methods as they are; code that holds a concrete backend imports
/// the role traits through [`prelude`].
pub trait Store:
    Schema
    + DirectoryStore
    + RequestStore
    + ScorecardStore
    + OutboxStore
    + AttachmentStore
    + AccountStore
    + AuditStore
    + Hooks
    + org::OrgStore
{
}
impl<
    T: Schema
        + DirectoryStore
        + RequestStore
        + ScorecardStore
        + OutboxStore
        + AttachmentStore
        + AccountStore
        + AuditStore
        + Hooks
        + org::OrgStore,
> Store for T
{
}

/// The role traits, for `use redgrid_store::prelude::*;` wherever a store's methods are called.
pub mod prelude {
    #[cfg(feature = "testing")]
    pub use crate::TestHooks;
    pub use crate::org::OrgStore;
    pub use crate::{
        AccountStore, AttachmentStore, AuditStore, DirectoryStore, OutboxStore, RequestStore,
        Schema, ScorecardStore, Store,
    };
}

/// The SQLite file a `sqlite://PATH` (or `sqlite:PATH`) URL names; `None` for other URLs.
pub fn sqlite_path(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
}

/// Whether the URL names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the store a URL names: `sqlite://PATH` (created if missing) or `postgres://…`. Runs the
/// migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = if is_postgres_url(url) {
        Arc::new(postgres::PgStore::connect(url).await?)
    } else if let Some(path) = sqlite_path(url) {
        Arc::new(sqlite::SqliteStore::open(std::path::Path::new(path)).await?)
    } else {
        return Err(StoreError::Corrupt(format!(
            "unsupported database URL {url:?}: use sqlite://PATH or postgres://…"
        )));
    };
    store.migrate().await?;
    Ok(store)
}

/// The SHA-256 of some bytes, in lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write;
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A new contact's identity in the people table: found by phone, created when missing.
pub(crate) fn contact_of(decision: &SubmitDecision) -> Option<&NewContact> {
    decision.contact.as_ref()
}

/// The columns of the `requests` table after `id`, in the order `common.rs` reads and writes them:
/// what a move may set (it never changes `id`, and SQLite rewrites the row and every index when an
/// UPDATE names the key, whatever its value).
macro_rules! request_columns_but_id {
    () => {
        "status, channel, description, requester_id, submitted_by, area_id, street_id, \
         community_id, grid_id, address, lat, lon, attachments, category_id, tier, urgent, level, \
         unit_id, claimed_by, suspended_from, supervised, supervision_count, rework_count, \
         escalation_count, respond_due_at, resolve_due_at, responded_at, resolved_at, verified_at, \
         closed_at, resolution, cost_fen, rating_resolved, rating_satisfaction, rating_comment, \
         rating_via, reject_code, duplicate_of, created_at, updated_at, version, respond_warn_at, \
         resolve_warn_at, next_due_at, next_warn_at, on_time, suspended_at, overdue_supervised_for, \
         rated_at, restricted, public_need, public_result"
    };
}
pub(crate) use request_columns_but_id;

/// The columns of the `requests` table, in the order `common.rs` reads and writes them.
macro_rules! request_columns {
    () => {
        concat!("id, ", $crate::request_columns_but_id!())
    };
}
pub(crate) use request_columns;

/// The parameters `$2`–`$53`, for [`request_columns_but_id`].
macro_rules! request_params_but_id {
    () => {
        "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, \
         $39, $40, $41, $42, $43, $44, $45, $46, $47, $48, $49, $50, $51, $52, $53"
    };
}
pub(crate) use request_params_but_id;

/// The parameters `$1`–`$53` in [`request_columns`]'s order.
macro_rules! request_params {
    () => {
        concat!("$1, ", $crate::request_params_but_id!())
    };
}
pub(crate) use request_params;
