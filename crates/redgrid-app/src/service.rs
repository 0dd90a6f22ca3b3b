//! The service: the one path every interface (API, CLI, demo, benchmark, jobs) takes to run a
//! command. It looks up what the core needs, lets the core decide inside the store's transaction,
//! and keeps the in-memory directory fresh.

use chrono::{DateTime, Utc};
use redgrid_core::area::{Area, check_area_code, child_kind};
use redgrid_core::catalogue::{CategoryClass, CategoryItem, valid_code};
use redgrid_core::command::{
    Command, CommandKind, Ctx, DeadlinePolicy, Facts, Settings, SubmitInput, decide, decide_submit,
};
use redgrid_core::directory::Directory;
use redgrid_core::error::{Conflict, CoreError, Entity, FieldError, Fields};
use redgrid_core::ids::*;
use redgrid_core::person::{Actor, Role};
use redgrid_core::policy::{self, Action, Subject};
use redgrid_core::request::{Event, Request, replay};
use redgrid_core::unit::Unit;
use redgrid_store::{
    Change, IdempotencyKey, ItemFields, NewArea, NewClass, NewUnit, Result, Store, StoreError,
};
use std::sync::{Arc, RwLock};

/// Runs commands against a store with the district's directory and settings.
pub struct Service {
    store: Arc<dyn Store>,
    dir: RwLock<Arc<Directory>>,
    settings: Settings,
    deadlines: Option<Arc<dyn DeadlinePolicy>>,
    /// The SMS sender (the log sender unless configured), and its queue once first used.
    sms_sender: Arc<dyn crate::sms::SmsSender>,
    sms_log: Arc<crate::sms::LogSms>,
    sms_retry: crate::sms::Retry,
    sms: std::sync::OnceLock<crate::sms::SmsQueue>,
    metrics: Arc<crate::metrics::Metrics>,
    limits: crate::limits::Limits,
    filings: crate::limits::Window,
    /// The district code the configuration gives this database, if any: its root area must have
    /// this code.
    district_code: Option<String>,
}

/// How often the work commands leave for later (scorecard deltas, audit records) is done.
const SETTLE_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Settles the store a few times a second while anyone holds it (see
/// [`redgrid_store::AuditStore::settle`]); the task ends when the store is dropped.
fn spawn_settler(store: &Arc<dyn Store>) {
    let weak = Arc::downgrade(store);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SETTLE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut warned: Option<std::time::Instant> = None;
        loop {
            tick.tick().await;
            let Some(store) = weak.upgrade() else { break };
            if let Err(e) = store.settle().await {
                // Once a minute at most while the database stays unreachable, and a pause.
                if warned.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60)) {
                    tracing::warn!(error = %e, "cannot settle the scorecard and the audit chain; retrying");
                    warned = Some(std::time::Instant::now());
                }
                drop(store);
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        }
    });
}

/// What `redgrid check` found for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub request_id: RequestId,
    /// The projection fields that differ from the replay, or a replay error.
    pub detail: String,
}

pub use redgrid_store::now;

/// The longest reason a reveal may give.
pub const MAX_REVEAL_REASON: usize = 200;

/// A requester's name and phone, for those who must reach them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Contact {
    pub name: String,
    pub phone: Option<String>,
}

/// A request as one person may see it ([`Service::view`]): masked for most, whole with the
/// requester's contact for the requester and for those in charge of it.
#[derive(Debug, Clone)]
pub struct Viewed {
    pub request: Request,
    pub events: Vec<Event>,
    /// Present when the viewer needs to know who to reach.
    pub requester: Option<Contact>,
}

/// A reason that must be given (a reveal, an erasure): not blank, at most [`MAX_REVEAL_REASON`].
fn required_reason(reason: Option<&str>) -> Result<&str> {
    let Some(reason) = reason.map(str::trim).filter(|r| !r.is_empty()) else {
        return Err(CoreError::validation("reason", "required").into());
    };
    if reason.chars().count() > MAX_REVEAL_REASON {
        return Err(CoreError::Validation(vec![
            FieldError::new("reason", "too_long").with_limit(MAX_REVEAL_REASON as i64),
        ])
        .into());
    }
    Ok(reason)
}

/// The drafts of a request's public summaries ([`Service::public_draft`]): the automatic
/// redaction of the resident's and the handler's words, for staff to correct and approve.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublicDraft {
    /// The draft of the need's summary.
    pub need: String,
    /// The draft of the result's summary, once the request has one.
    pub result: Option<String>,
    /// The summaries approved so far.
    pub approved_need: Option<String>,
    pub approved_result: Option<String>,
}

/// One entry of the access log with the names of the viewer and of the person whose data it was.
#[derive(Debug, Clone)]
pub struct AccessView {
    pub entry: redgrid_store::AccessEntry,
    pub viewer_name: String,
    pub subject_name: Option<String>,
}

/// What [`Service::reveal`] shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Revealed {
    pub request: Request,
    pub events: Vec<Event>,
    pub requester_name: Option<String>,
    pub requester_phone: Option<String>,
}

/// The kinds of file that may be uploaded.
pub const UPLOAD_TYPES: [&str; 5] = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "application/pdf",
];

/// Whether `data` starts the way files of `content_type` do (their magic numbers).
fn looks_like(content_type: &str, data: &[u8]) -> bool {
    match content_type {
        "image/jpeg" => data.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => data.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/gif" => data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a"),
        "image/webp" => data.len() >= 12 && data.starts_with(b"RIFF") && &data[8..12] == b"WEBP",
        "application/pdf" => data.starts_with(b"%PDF-"),
        _ => false,
    }
}

/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

impl Service {
    pub async fn new(store: Arc<dyn Store>, settings: Settings) -> Result<Self> {
        let dir = store.load_directory().await?;
        spawn_settler(&store);
        let sms_log = Arc::new(crate::sms::LogSms::default());
        Ok(Service {
            store,
            dir: RwLock::new(Arc::new(dir)),
            settings,
            deadlines: None,
            sms_sender: sms_log.clone(),
            sms_log,
            sms_retry: crate::sms::Retry::default(),
            sms: std::sync::OnceLock::new(),
            metrics: Arc::default(),
            limits: Default::default(),
            filings: Default::default(),
            district_code: None,
        })
    }

    /// Files and uploads are limited as `limits` says (the defaults otherwise).
    pub fn with_limits(mut self, limits: crate::limits::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The district this database is for (from the configuration): the district area created on
    /// an empty database must have this code.
    pub fn with_district_code(mut self, code: Option<String>) -> Self {
        self.district_code = code;
        self
    }

    /// The configured district code, if any.
    pub fn district_code(&self) -> Option<&str> {
        self.district_code.as_deref()
    }

    pub fn limits(&self) -> crate::limits::Limits {
        self.limits
    }

    pub(crate) fn filings(&self) -> &crate::limits::Window {
        &self.filings
    }

    /// What the service counts about itself (`/metrics`).
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// Records a command's kind, outcome and time.
    fn count<T>(&self, kind: &str, started: std::time::Instant, result: &Result<T>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(StoreError::Core(e)) => e.code(),
            Err(StoreError::Unavailable(_)) => "unavailable",
            Err(_) => "error",
        };
        self.metrics.command(kind, outcome, started.elapsed());
    }

    /// Stores an uploaded file: a photo (JPEG, PNG, WebP, GIF) or a PDF whose bytes are what its type
    /// says (a web page sent as a photo is refused).
    pub async fn upload(
        &self,
        actor: &Actor,
        content_type: &str,
        data: &[u8],
    ) -> Result<redgrid_store::AttachmentMeta> {
        if !UPLOAD_TYPES.contains(&content_type) {
            return Err(CoreError::validation("Content-Type", "not_allowed").into());
        }
        if data.is_empty() {
            return Err(CoreError::validation("body", "required").into());
        }
        if !looks_like(content_type, data) {
            return Err(CoreError::validation("body", "wrong_content").into());
        }
        let by = match actor {
            Actor::Person(p) => Some(p.id),
            Actor::System => None,
        };
        // The store counts the person's uploads in the same write as the file, so uploads sent at
        // once, to this server or another on the same database, cannot together pass the quota.
        let quota = redgrid_store::UploadQuota {
            per_hour: self.limits.uploads_per_person_hour,
            bytes_per_day: self.limits.upload_bytes_per_person_day,
        };
        self.store
            .put_attachment(content_type, data, by, quota)
            .await
    }

    /// Open requests (being handled or suspended) by light at `now`.
    pub async fn open_by_light(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(redgrid_core::request::Light, i64)>> {
        use redgrid_core::request::{Light, Status};
        let mut out = Vec::new();
        for light in Light::ALL {
            let filter = redgrid_store::ListFilter {
                statuses: vec![
                    Status::Accepted,
                    Status::Dispatched,
                    Status::Claimed,
                    Status::Suspended,
                ],
                light: Some((light, now)),
                ..Default::default()
            };
            out.push((light, self.store.count(&filter).await?));
        }
        Ok(out)
    }

    /// Sends text messages through `sender` instead of the log.
    pub fn with_sms(mut self, sender: Arc<dyn crate::sms::SmsSender>) -> Self {
        self.sms_sender = sender;
        self
    }

    /// Tries each text message `retry.attempts` times (default five over about a minute).
    pub fn with_sms_retry(mut self, retry: crate::sms::Retry) -> Self {
        self.sms_retry = retry;
        self
    }

    /// The SMS queue (started on first use; needs a Tokio runtime).
    pub fn sms(&self) -> &crate::sms::SmsQueue {
        self.sms
            .get_or_init(|| crate::sms::SmsQueue::start(self.sms_sender.clone(), self.sms_retry))
    }

    /// The log sender's messages (all messages, unless another sender is configured).
    pub fn sms_log(&self) -> &crate::sms::LogSms {
        &self.sms_log
    }

    /// Sets the policy that computes deadlines at dispatch.
    pub fn with_deadlines(mut self, policy: Arc<dyn DeadlinePolicy>) -> Self {
        self.deadlines = Some(policy);
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The deadline policy, when the district has one (always, under `serve`).
    pub fn deadline_policy(&self) -> Option<&Arc<dyn DeadlinePolicy>> {
        self.deadlines.as_ref()
    }

    /// Each reference a request, event or notice makes that names no row, with how many (see
    /// migration 16): empty when every one names a row.
    pub async fn check_references(&self) -> Result<Vec<(String, i64)>> {
        self.store.dangling_references().await
    }

    /// Compares the scorecard's fact table with the contributions recomputed from every request;
    /// describes the first differences, or None when they agree.
    pub async fn check_facts(&self) -> Result<Option<String>> {
        let mut expected: std::collections::BTreeMap<_, redgrid_core::scorecard::Counts> =
            Default::default();
        let mut filter = redgrid_store::ListFilter::default();
        loop {
            let page = self.store.list(&filter, 1000).await?;
            let Some(last) = page.last() else { break };
            filter.before_id = Some(last.id);
            for r in &page {
                for (k, c) in redgrid_core::scorecard::contribution(r) {
                    expected.entry(k).or_default().add(&c);
                }
            }
        }
        expected.retain(|_, c| !c.is_zero());
        let stored = self.store.all_facts().await?;
        if stored == expected {
            return Ok(None);
        }
        let mut notes = Vec::new();
        for (k, c) in &expected {
            if stored.get(k) != Some(c) {
                notes.push(format!("{k:?}: expected {c:?}, stored {:?}", stored.get(k)));
            }
        }
        for k in stored.keys().filter(|k| !expected.contains_key(k)) {
            notes.push(format!("{k:?}: stored but not expected"));
        }
        notes.truncate(5);
        Ok(Some(notes.join("; ")))
    }

    /// The directory as of the last load.
    pub fn directory(&self) -> Arc<Directory> {
        match self.dir.read() {
            Ok(d) => d.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads the directory after an administrative change.
    pub async fn reload(&self) -> Result<()> {
        let fresh = Arc::new(self.store.load_directory().await?);
        match self.dir.write() {
            Ok(mut d) => *d = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }

    fn actor_key(actor: &Actor) -> String {
        match actor.person_id() {
            Some(p) => format!("p:{p}"),
            None => "system".into(),
        }
    }

    /// Files a request. With an idempotency key, the same key and body return the first request
    /// (and `false`); the same key with another body is refused.
    pub async fn submit(
        &self,
        actor: &Actor,
        input: &SubmitInput,
        invalid: Vec<FieldError>,
        key: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(Request, bool)> {
        let started = std::time::Instant::now();
        let result = self.submit_counted(actor, input, invalid, key, at).await;
        self.count("submit", started, &result);
        result
    }

    async fn submit_counted(
        &self,
        actor: &Actor,
        input: &SubmitInput,
        invalid: Vec<FieldError>,
        key: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(Request, bool)> {
        let key = match key {
            None => None,
            Some(k) => {
                let ok = !k.is_empty()
                    && k.len() <= MAX_IDEMPOTENCY_KEY
                    && k.bytes().all(|b| b.is_ascii_graphic());
                if !ok {
                    return Err(CoreError::Validation(vec![
                        FieldError::new("Idempotency-Key", "invalid")
                            .with_limit(MAX_IDEMPOTENCY_KEY as i64),
                    ])
                    .into());
                }
                let body =
                    serde_json::to_vec(input).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Some(IdempotencyKey {
                    actor_key: Self::actor_key(actor),
                    key: k.to_string(),
                    body_hash: redgrid_store::sha256_hex(&body),
                })
            }
        };
        if let Some(k) = &key
            && let Some(found) = self.replayed(k).await?
        {
            return Ok((found, false));
        }
        let mut facts = Facts::default();
        let ids: Vec<String> = input.attachments.iter().map(|a| a.id.clone()).collect();
        facts.attachments = self.store.existing_attachments(&ids).await?;
        let dir = self.directory();
        let ctx = Ctx {
            dir: &dir,
            now: at,
            settings: &self.settings,
            facts: &facts,
            deadlines: self.deadlines.as_deref(),
        };
        let decision = decide_submit(actor, input, invalid, &ctx)?;
        match self.store.submit(decision, at, key.clone()).await {
            Ok(r) => Ok((r, true)),
            Err(e) => {
                // Two submissions with one key at once: the loser returns the winner's request.
                if let Some(k) = &key
                    && matches!(&e, StoreError::Duplicate(_))
                    && let Some(found) = self.replayed(k).await?
                {
                    return Ok((found, false));
                }
                Err(e)
            }
        }
    }

    async fn replayed(&self, k: &IdempotencyKey) -> Result<Option<Request>> {
        let Some(rec) = self.store.idempotency(&k.actor_key, &k.key).await? else {
            return Ok(None);
        };
        if rec.body_hash != k.body_hash {
            return Err(CoreError::Conflict(Conflict::IdempotencyKeyReused).into());
        }
        self.store
            .request(rec.request_id)
            .await?
            .map(Some)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "idempotency key names missing request {}",
                    rec.request_id
                ))
            })
    }

    /// Runs a command on a request. Exactly one event is appended, or nothing at all.
    pub async fn run(
        &self,
        id: RequestId,
        actor: &Actor,
        command: &Command,
        invalid: Vec<FieldError>,
        at: DateTime<Utc>,
    ) -> Result<(Request, Event)> {
        let started = std::time::Instant::now();
        let result = self.run_counted(id, actor, command, invalid, at).await;
        self.count(command.kind().as_str(), started, &result);
        result
    }

    async fn run_counted(
        &self,
        id: RequestId,
        actor: &Actor,
        command: &Command,
        invalid: Vec<FieldError>,
        at: DateTime<Utc>,
    ) -> Result<(Request, Event)> {
        let refs = command.references();
        let mut facts = Facts::default();
        for p in &refs.persons {
            if let Some(person) = self.store.person(*p).await? {
                facts.persons.insert(*p, person);
            }
        }
        facts.requests = self.store.existing_requests(&refs.requests).await?;
        facts.attachments = self.store.existing_attachments(&refs.attachments).await?;
        let dir = self.directory();
        let settings = self.settings.clone();
        let deadlines = self.deadlines.clone();
        let actor = actor.clone();
        let command = command.clone();
        let decide_fn: redgrid_store::Decide = Arc::new(move |req: &Request| {
            let ctx = Ctx {
                dir: &dir,
                now: at,
                settings: &settings,
                facts: &facts,
                deadlines: deadlines.as_deref(),
            };
            decide(req, &actor, &command, invalid.clone(), &ctx)
        });
        self.store.execute(id, at, decide_fn).await
    }

    /// A request with its whole timeline.
    pub async fn timeline(&self, id: RequestId) -> Result<(Request, Vec<Event>)> {
        let request = self.store.request(id).await?.ok_or(CoreError::NotFound {
            entity: Entity::Request,
            id: id.0,
        })?;
        let events = self.store.events(id).await?;
        Ok((request, events))
    }

    /// A request with its timeline as `actor` may see it: refused as not found when the policy does
    /// not let them see it; whole for its requester and those in charge of it (logged, `via` says
    /// where: `page` or `api`), masked for everyone else.
    pub async fn view(&self, actor: &Actor, id: RequestId, via: &str) -> Result<Viewed> {
        let (request, events) = self.visible_timeline(actor, id).await?;
        let dir = self.directory();
        let allowed = policy::permit(&dir, actor, Action::Reveal, &Subject::Request(&request));
        let Ok(allowed) = allowed.or_else(|e| match actor {
            Actor::System => Ok(policy::Allowed {
                role: None,
                relation: None,
            }),
            Actor::Person(_) => Err(e),
        }) else {
            // Everyone else: masked, and the reveal-with-reason for those who may.
            let events = events.iter().map(Event::masked).collect();
            return Ok(Viewed {
                request: request.masked(),
                events,
                requester: None,
            });
        };
        // The requester themselves, and those in charge of the request (the person handling it,
        // the grid worker and community staff of its area, its verifier, the staff of its unit):
        // they need to reach the resident, so they see the name, the phone and the exact address.
        // Each time staff see it is written to the access log.
        let requester = match request.requester_id {
            Some(p) => self.store.person(p).await?.map(|p| Contact {
                name: p.name,
                phone: p.phone,
            }),
            None => None,
        };
        if let Actor::Person(p) = actor
            && allowed.relation != Some(policy::Relation::Requester)
        {
            self.store
                .log_access(&redgrid_store::AccessEntry {
                    id: 0,
                    at: now(),
                    viewer_id: p.id,
                    subject_id: request.requester_id,
                    request_id: id,
                    via: via.to_string(),
                    reason: None,
                })
                .await?;
        }
        Ok(Viewed {
            request,
            events,
            requester,
        })
    }

    /// A request as `actor` may see it (masked unless theirs), e.g. the answer to a command.
    pub fn present_request(&self, actor: &Actor, request: Request) -> Request {
        if Self::sees_unmasked(&self.directory(), actor, &request) {
            request
        } else {
            request.masked()
        }
    }

    /// A request and one of its events as `actor` may see them.
    pub fn present(&self, actor: &Actor, request: Request, event: Event) -> (Request, Event) {
        if Self::sees_unmasked(&self.directory(), actor, &request) {
            (request, event)
        } else {
            (request.masked(), event.masked())
        }
    }

    /// The request and its timeline unmasked, when the policy lets `actor` see it at all; refused as
    /// not found otherwise, so that nobody learns what they may not see.
    async fn visible_timeline(
        &self,
        actor: &Actor,
        id: RequestId,
    ) -> Result<(Request, Vec<Event>)> {
        let (request, events) = self.timeline(id).await?;
        let dir = self.directory();
        if policy::permit(&dir, actor, Action::View, &Subject::Request(&request)).is_err() {
            return Err(CoreError::NotFound {
                entity: Entity::Request,
                id: id.0,
            }
            .into());
        }
        Ok((request, events))
    }

    /// The drafts of a request's public summaries (公示内容), for those who may approve them (who
    /// may accept or publish it): the description and the result with the requester's and the
    /// handler's names, addresses finer than the community, and phone, ID, bank and plate numbers
    /// taken out ([`redgrid_core::redact::redact`]). Not found when `actor` may not see it.
    pub async fn public_draft(&self, actor: &Actor, id: RequestId) -> Result<PublicDraft> {
        let (request, _) = self.visible_timeline(actor, id).await?;
        let dir = self.directory();
        let subject = Subject::Request(&request);
        let may = |kind| policy::authorize(&dir, actor, kind, &subject);
        may(CommandKind::Publish).or_else(|_| may(CommandKind::Accept))?;
        let mut names = Vec::new();
        for p in [request.requester_id, request.claimed_by]
            .into_iter()
            .flatten()
        {
            if let Some(person) = self.store.person(p).await? {
                names.push(person.name);
            }
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Ok(PublicDraft {
            need: redgrid_core::redact::redact(&request.description, &names),
            result: request
                .resolution
                .as_deref()
                .map(|t| redgrid_core::redact::redact(t, &names)),
            approved_need: request.public_need,
            approved_result: request.public_result,
        })
    }

    /// Whether `actor` may download attachment `id`: it is attached to a request they may see (deny
    /// by default: an upload not yet attached to a request is downloadable by nobody).
    pub async fn may_see_attachment(&self, actor: &Actor, id: &str) -> Result<bool> {
        let dir = self.directory();
        for rid in self.store.requests_with_attachment(id, 50).await? {
            if let Some(r) = self.store.request(rid).await?
                && policy::permit(&dir, actor, Action::View, &Subject::Request(&r)).is_ok()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether `actor` sees `request` unmasked without revealing: the system, and the requester.
    fn sees_unmasked(dir: &Directory, actor: &Actor, request: &Request) -> bool {
        matches!(actor, Actor::System)
            || policy::permit(dir, actor, Action::Reveal, &Subject::Request(request))
                .is_ok_and(|a| a.relation == Some(policy::Relation::Requester))
    }

    /// One page of requests that `actor` may see, masked as in [`Self::view`]. The filter is narrowed
    /// to the actor's [`policy::Visibility`] in the query, and every row is checked again here.
    pub async fn list_visible(
        &self,
        actor: &Actor,
        filter: &redgrid_store::ListFilter,
        limit: i64,
    ) -> Result<Vec<Request>> {
        let dir = self.directory();
        let mut filter = filter.clone();
        filter.visible = Some(policy::visibility(&dir, actor));
        let rows = self.store.list(&filter, limit).await?;
        Ok(rows
            .into_iter()
            .filter(|r| policy::permit(&dir, actor, Action::View, &Subject::Request(r)).is_ok())
            .map(|r| {
                if Self::sees_unmasked(&dir, actor, &r) {
                    r
                } else {
                    r.masked()
                }
            })
            .collect())
    }

    /// Shows `actor` the personal data in a request — the requester's name and phone, the exact
    /// address and the texts unmasked — when the policy lets them reveal it. Staff must say why, and
    /// each reveal joins the audit chain (who, whose, when, why); requesters see their own freely.
    pub async fn reveal(
        &self,
        actor: &Actor,
        id: RequestId,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Revealed> {
        let (request, events) = self.visible_timeline(actor, id).await?;
        let dir = self.directory();
        let allowed = policy::permit(&dir, actor, Action::Reveal, &Subject::Request(&request))?;
        let own = allowed.relation == Some(policy::Relation::Requester);
        if let (Actor::Person(p), false) = (actor, own) {
            let reason = required_reason(reason)?;
            let record = redgrid_store::audit::AuditRecord::reveal(
                at,
                p.id,
                request.requester_id,
                Some(id),
                &["requester_name", "requester_phone", "address", "texts"],
                reason,
            );
            self.store.append_audit(&record).await?;
            // And in the access log the auditor reads, with the reason.
            self.store
                .log_access(&redgrid_store::AccessEntry {
                    id: 0,
                    at,
                    viewer_id: p.id,
                    subject_id: request.requester_id,
                    request_id: id,
                    via: "reveal".into(),
                    reason: Some(reason.to_string()),
                })
                .await?;
        }
        let contact = match request.requester_id {
            Some(p) => self.store.person(p).await?,
            None => None,
        };
        Ok(Revealed {
            requester_name: contact.as_ref().map(|c| c.name.clone()),
            requester_phone: contact.and_then(|c| c.phone),
            request,
            events,
        })
    }

    /// Erases one person on request (PIPL), by a district administrator (or the system, for the
    /// retention job), with a reason: see [`redgrid_store::AccountStore::erase_person`].
    pub async fn erase_person(
        &self,
        actor: &Actor,
        id: PersonId,
        reason: Option<&str>,
    ) -> Result<redgrid_store::Erasure> {
        self.require_admin(actor)?;
        // Nobody erases their own record, and the auditor's is erased from the command line only
        // (an administrator who could erase the auditor could silence the audit of themselves).
        if let Actor::Person(p) = actor {
            let auditor = self
                .store
                .person(id)
                .await?
                .is_some_and(|t| t.grants.iter().any(|g| g.role == Role::Auditor));
            if p.id == id || auditor {
                return Err(
                    CoreError::Forbidden(redgrid_core::error::Denial::RoleNotAllowed).into(),
                );
            }
        }
        let reason = required_reason(reason)?;
        let done = self
            .store
            .erase_person(id, reason, redgrid_store::Change::by(actor))
            .await?;
        if !done.already {
            // The directory keeps people's grants: the erased person holds none now.
            self.reload().await?;
        }
        Ok(done)
    }

    /// The retention rule (a daily job, off unless the district sets `retention_days`): erases the
    /// residents whose requests all closed more than `days` days before `now`. Returns how many.
    pub async fn apply_retention(&self, now: DateTime<Utc>, days: i64) -> Result<usize> {
        let before = now - chrono::Duration::days(days);
        let reason = format!("retention: every request closed more than {days} days ago");
        let mut erased = 0;
        // One person that cannot be erased is logged and passed over; the rest go on.
        let mut failed: std::collections::HashSet<PersonId> = Default::default();
        loop {
            let due = self
                .store
                .retention_due(before, 100 + failed.len() as i64)
                .await?;
            let todo: Vec<PersonId> = due.into_iter().filter(|p| !failed.contains(p)).collect();
            if todo.is_empty() {
                return Ok(erased);
            }
            for id in todo {
                match self.erase_person(&Actor::System, id, Some(&reason)).await {
                    Ok(done) if !done.already => erased += 1,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(person = id.0, error = %e, "retention: cannot erase");
                        failed.insert(id);
                    }
                }
            }
        }
    }

    /// Refuses (403) anyone but the personal-data auditor (and the system).
    pub fn require_auditor(&self, actor: &Actor) -> Result<()> {
        if let Actor::Person(_) = actor {
            policy::permit(&self.directory(), actor, Action::Audit, &Subject::District)?;
        }
        Ok(())
    }

    /// The access log for the auditor (and nobody else, not even the district administrator): who
    /// viewed or revealed whose personal data, on which request, when and why, newest first, with
    /// the names of both.
    pub async fn access_log(
        &self,
        actor: &Actor,
        q: &redgrid_store::AccessQuery,
    ) -> Result<Vec<AccessView>> {
        self.require_auditor(actor)?;
        let entries = self.store.access_log(q).await?;
        let mut names: std::collections::HashMap<PersonId, String> = Default::default();
        let mut ids: Vec<PersonId> = Vec::with_capacity(entries.len() * 2);
        for e in &entries {
            ids.push(e.viewer_id);
            ids.extend(e.subject_id);
        }
        for id in ids {
            if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id) {
                let name = self.store.person(id).await?.map(|p| p.name);
                slot.insert(name.unwrap_or_default());
            }
        }
        Ok(entries
            .into_iter()
            .map(|e| AccessView {
                viewer_name: names.get(&e.viewer_id).cloned().unwrap_or_default(),
                subject_name: e.subject_id.and_then(|s| names.get(&s).cloned()),
                entry: e,
            })
            .collect())
    }

    /// Replays one request's events and compares the result with the stored projection.
    pub async fn check_one(&self, id: RequestId) -> Result<Option<Difference>> {
        let stored = self.store.request(id).await?;
        let events = self.store.events(id).await?;
        let detail = match (replay(&events), stored) {
            (Err(e), _) => Some(format!("events do not replay: {e}")),
            (Ok(None), Some(_)) => Some("projection has no events".into()),
            (Ok(None), None) => None,
            (Ok(Some(_)), None) => Some("events have no projection".into()),
            (Ok(Some(rebuilt)), Some(stored)) => diff(&rebuilt, &stored),
        };
        Ok(detail.map(|detail| Difference {
            request_id: id,
            detail,
        }))
    }

    /// Checks every request; calls `progress(done)` now and then.
    pub async fn check_all(
        &self,
        mut progress: impl FnMut(usize),
    ) -> Result<(usize, Vec<Difference>)> {
        let mut after = None;
        let mut checked = 0;
        let mut diffs = Vec::new();
        loop {
            let ids = self.store.request_ids(after, 500).await?;
            let Some(last) = ids.last().copied() else {
                break;
            };
            for id in ids {
                if let Some(d) = self.check_one(id).await? {
                    diffs.push(d);
                }
                checked += 1;
            }
            progress(checked);
            after = Some(last);
        }
        Ok((checked, diffs))
    }

    // ------------------------------------------------------------ administration

    /// District administrators (and the system) only; returns who it is, for the audit chain.
    pub fn require_admin(&self, actor: &Actor) -> Result<Option<PersonId>> {
        match actor {
            Actor::System => Ok(None),
            Actor::Person(p) => {
                let dir = self.directory();
                policy::permit(&dir, actor, Action::Administer, &Subject::District)?;
                Ok(Some(p.id))
            }
        }
    }

    /// Adds an area under its parent, checking its kind and code against the tree.
    pub async fn create_area(&self, actor: &Actor, new: NewArea) -> Result<Area> {
        self.require_admin(actor)?;
        let dir = self.directory();
        let mut fields = Fields::new();
        let parent = match new.parent_id {
            None => None,
            Some(p) => match dir.area(p) {
                Some(a) => Some(a.clone()),
                None => {
                    fields.add("parent_id", "unknown");
                    None
                }
            },
        };
        if let Some(p) = &parent
            && child_kind(p.kind) != Some(new.kind)
        {
            fields.add("kind", "not_allowed");
        }
        if new.parent_id.is_none() && dir.district().is_some() {
            fields.add("parent_id", "required");
        }
        if new.parent_id.is_none() && self.district_code.as_deref().is_some_and(|c| c != new.code) {
            fields.add("code", "other_district");
        }
        if let Err(code) = check_area_code(
            new.kind,
            &new.code,
            parent.as_ref().map(|p| p.code.as_str()),
        ) {
            fields.add("code", code);
        }
        fields.text("name", Some(&new.name), 50);
        fields.finish()?;
        self.then_reload(self.store.create_area(new, Change::by(actor)))
            .await
    }

    /// Waits for an administrator's change to the directory, then reloads the directory.
    async fn then_reload<T>(
        &self,
        change: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let done = change.await?;
        self.reload().await?;
        Ok(done)
    }

    /// Adds a unit, checking that its area exists and its level fits.
    pub async fn create_unit(&self, actor: &Actor, new: NewUnit) -> Result<Unit> {
        self.require_admin(actor)?;
        let dir = self.directory();
        let mut fields = Fields::new();
        match dir.area(new.area_id) {
            None => fields.add("area_id", "unknown"),
            Some(a) if new.level > a.kind => fields.add("level", "not_allowed"),
            Some(_) => {}
        }
        if let Some(p) = new.parent_id
            && dir.unit(p).is_none()
        {
            fields.add("parent_id", "unknown");
        }
        fields.text("name", Some(&new.name), 80);
        fields.finish()?;
        self.then_reload(self.store.create_unit(new, Change::by(actor)))
            .await
    }

    /// Adds a catalogue class (district administrators).
    pub async fn create_class(&self, actor: &Actor, new: NewClass) -> Result<CategoryClass> {
        self.require_admin(actor)?;
        let mut fields = Fields::new();
        if !valid_code(&new.code) {
            fields.add("code", "invalid");
        }
        fields.text("name_zh", Some(&new.name_zh), 50);
        fields.text("name_en", Some(&new.name_en), 80);
        fields.finish()?;
        self.then_reload(self.store.create_class(new, Change::by(actor)))
            .await
    }

    fn check_item(&self, f: &ItemFields) -> Result<()> {
        let dir = self.directory();
        let mut fields = Fields::new();
        if dir.class(f.class_id).is_none() {
            fields.add("class_id", "unknown");
        }
        if !valid_code(&f.code) {
            fields.add("code", "invalid");
        }
        fields.text("name_zh", Some(&f.name_zh), 50);
        fields.text("name_en", Some(&f.name_en), 80);
        fields.finish()?;
        Ok(())
    }

    /// Adds a catalogue item (district administrators).
    pub async fn create_item(&self, actor: &Actor, f: ItemFields) -> Result<CategoryItem> {
        self.require_admin(actor)?;
        self.check_item(&f)?;
        self.then_reload(self.store.create_item(f, Change::by(actor)))
            .await
    }

    /// Changes a catalogue item (district administrators). Requests keep the item they were filed
    /// under; an inactive item can no longer be chosen.
    pub async fn update_item(
        &self,
        actor: &Actor,
        id: CategoryId,
        f: ItemFields,
    ) -> Result<CategoryItem> {
        self.require_admin(actor)?;
        if self.directory().item(id).is_none() {
            return Err(CoreError::NotFound {
                entity: Entity::Category,
                id: id.0,
            }
            .into());
        }
        self.check_item(&f)?;
        self.then_reload(self.store.update_item(id, f, Change::by(actor)))
            .await
    }
}

/// Lists the fields in which two projections differ.
pub fn diff(rebuilt: &Request, stored: &Request) -> Option<String> {
    if rebuilt == stored {
        return None;
    }
    let a = serde_json::to_value(rebuilt).unwrap_or_default();
    let b = serde_json::to_value(stored).unwrap_or_default();
    let mut out = Vec::new();
    if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
        for (k, va) in a {
            let vb = b.get(k).cloned().unwrap_or_default();
            if *va != vb {
                out.push(format!("{k}: events say {va}, stored {vb}"));
            }
        }
    }
    if out.is_empty() {
        out.push("projections differ".into());
    }
    Some(out.join("; "))
}
