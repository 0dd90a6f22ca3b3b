//! Commands: what an actor asks for, and the pure decision that turns a command into one event or a
//! refusal. The commands themselves are declared once, in `declared.rs`. Order of checks, everywhere:
//! the actor's role (403 `role_not_allowed`), whether the request exists for the actor (404), the
//! actor's scope for this request (403), the request's state (409), then every field at once (422).

use crate::area::Level;
use crate::catalogue::{CategoryItem, Tier};
use crate::directory::Directory;
use crate::error::{Conflict, CoreError, Denial, FieldError, Fields, Lang};
use crate::ids::{AreaId, CategoryId, PersonId, RequestId, UnitId};
use crate::person::{Actor, Person, Role, valid_phone};
use crate::policy::{self, Allowed, Relation, Subject};
use crate::request::{
    ActorRef, AlertOutcome, Attachment, Channel, Deadlines, Event, EventBody, Light, Location,
    RatedVia, RejectCode, Request, Satisfaction, Status,
};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

mod declared;
mod fields;

pub use declared::{Command, CommandKind, event_label};
pub use fields::{FieldKind, FieldSource, FieldSpec, FromField, Need};

/// Limits on free text and lists (characters, items).
pub mod limits {
    pub const DESCRIPTION: usize = 2000;
    pub const ADDRESS: usize = 200;
    pub const NAME: usize = 50;
    pub const REASON: usize = 500;
    pub const NOTE: usize = 1000;
    pub const SUMMARY: usize = 2000;
    pub const COMMENT: usize = 500;
    /// A public summary (公示内容).
    pub const PUBLIC: usize = 300;
    pub const ATTACHMENTS: usize = 9;
    pub const ATTACHMENT_NAME: usize = 120;
    /// The largest cost that can be recorded: 100 million yuan, in fen.
    pub const COST_FEN: i64 = 10_000_000_000;
}

/// A new request as filed. Every field is optional here so that every missing or bad one can be
/// reported at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitInput {
    /// How it came in; residents use `app`, `web` or `open311`.
    pub channel: Option<Channel>,
    /// What the need is, 1–2000 characters.
    pub description: Option<String>,
    /// The grid or community where the need is.
    pub area_id: Option<AreaId>,
    /// Street address, up to 200 characters.
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// When staff file on someone's behalf: the person's name (both name and phone, or neither).
    pub requester_name: Option<String>,
    pub requester_phone: Option<String>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The category the resident thinks fits (a suggestion: staff confirm or change it on accepting).
    #[serde(default)]
    pub category_id: Option<CategoryId>,
    /// Only the system may file a restricted request (seen by the grid and the community only).
    #[serde(default)]
    pub restricted: bool,
}

impl Command {
    /// The records outside the directory this command names, which the caller must look up and
    /// hand over in [`Facts`] before deciding.
    pub fn references(&self) -> References {
        let mut refs = References::default();
        match self {
            Command::Reject {
                duplicate_of: Some(id),
                ..
            } => refs.requests.push(*id),
            Command::Suspend {
                approver_id: Some(id),
                ..
            } => refs.persons.push(*id),
            Command::Resolve { evidence, .. } => {
                refs.attachments = evidence.iter().map(|a| a.id.clone()).collect()
            }
            Command::UpdateAlert { chart, .. } => {
                refs.attachments = chart.iter().map(|a| a.id.clone()).collect()
            }
            _ => {}
        }
        refs
    }
}

/// The states each command may start from (docs/design/lifecycle.md, "Commands").
pub fn allowed_from(kind: CommandKind) -> &'static [Status] {
    kind.allowed_from()
}

/// A command's name for people, by its identifier (used in messages).
pub fn command_label(command: &str, lang: Lang) -> &'static str {
    CommandKind::parse(command).map_or(lang.pick("操作", "command"), |k| k.label(lang))
}

/// Ids a command names that live outside the directory.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct References {
    pub persons: Vec<PersonId>,
    pub requests: Vec<RequestId>,
    pub attachments: Vec<String>,
}

/// What the caller looked up for a command's [`References`].
#[derive(Debug, Default, Clone)]
pub struct Facts {
    pub persons: HashMap<PersonId, Person>,
    pub requests: HashSet<RequestId>,
    pub attachments: HashSet<String>,
}

/// Computes deadlines in the district's working time (see `deadline::WorkingTimePolicy`).
pub trait DeadlinePolicy: Send + Sync {
    /// The deadlines of a request handled at `level`, counted from `at` (first dispatch, escalation).
    fn deadlines(
        &self,
        request: &Request,
        item: Option<&CategoryItem>,
        level: Level,
        at: DateTime<Utc>,
    ) -> Deadlines;
    /// Every deadline moved later by the working time between `from` and `to` (a suspension).
    fn extend(
        &self,
        request: &Request,
        deadlines: Deadlines,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Deadlines;
    /// The instant `hours` working hours after `at` (for "due within N working hours").
    fn after_working_hours(&self, at: DateTime<Utc>, hours: i64) -> Option<DateTime<Utc>>;
    /// The instant `days` working days after `at` (for automatic escalation).
    fn after_working_days(&self, at: DateTime<Utc>, days: i64) -> Option<DateTime<Utc>>;
}

/// Per-district settings the core needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long the requester has to rate a verified request before it is closed without a rating.
    pub rating_window: Duration,
    /// Automatic escalation: a request red for this many working days goes up one level (None: off).
    pub auto_escalate_after_days: Option<i64>,
    /// The weights of the scorecard's composite.
    pub weights: crate::scorecard::Weights,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rating_window: Duration::days(7),
            auto_escalate_after_days: None,
            weights: crate::scorecard::Weights::default(),
        }
    }
}

/// Everything a decision may look at besides the request and the command.
pub struct Ctx<'a> {
    pub dir: &'a Directory,
    pub now: DateTime<Utc>,
    pub settings: &'a Settings,
    pub facts: &'a Facts,
    pub deadlines: Option<&'a dyn DeadlinePolicy>,
}

/// The outcome of a successful decision: the event to append, and the role it was allowed under.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub body: EventBody,
    pub actor: ActorRef,
}

impl Decision {
    /// The event this decision appends to `request`.
    pub fn event_for(&self, request: &Request, at: DateTime<Utc>) -> Event {
        Event {
            request_id: request.id,
            seq: request.version + 1,
            at,
            actor: self.actor,
            body: self.body.clone(),
        }
    }
}

/// A new contact to record as the requester (staff filing on someone's behalf).
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    pub name: String,
    pub phone: String,
}

/// The outcome of a successful submission decision. When `contact` is set, the store finds or
/// creates that person (by phone) and puts their id into the `Submitted` event's `requester_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmitDecision {
    pub body: EventBody,
    pub actor: ActorRef,
    pub contact: Option<NewContact>,
}

fn actor_ref(actor: &Actor, allowed: Allowed) -> ActorRef {
    ActorRef {
        person_id: actor.person_id(),
        role: allowed.role,
    }
}

/// The channels a role may file through.
pub fn channel_allowed(role: Option<Role>, channel: Channel) -> bool {
    use Channel::*;
    match role {
        None => true,
        Some(Role::Resident | Role::Volunteer | Role::Member) => {
            matches!(channel, App | Web | Open311)
        }
        Some(Role::Supervisor) => matches!(channel, Inspection),
        Some(_) => !matches!(channel, PowerAlert | Inspection | Open311),
    }
}

fn check_attachments(fields: &mut Fields, key: &str, list: &[Attachment], facts: Option<&Facts>) {
    if list.len() > limits::ATTACHMENTS {
        fields.push(FieldError::new(key, "too_many").with_limit(limits::ATTACHMENTS as i64));
    }
    for (i, a) in list.iter().enumerate() {
        let valid_id = a.id.len() == 64 && a.id.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid_id {
            fields.add(format!("{key}[{i}].id"), "invalid");
        } else if facts.is_some_and(|f| !f.attachments.contains(&a.id)) {
            fields.add(format!("{key}[{i}].id"), "unknown");
        }
        fields.text(
            &format!("{key}[{i}].name"),
            Some(&a.name),
            limits::ATTACHMENT_NAME,
        );
    }
}

fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(crate::error::trim_visible)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// Decides a submission (点单). `invalid` carries field errors found while reading the body (wrong
/// types), so that the refusal lists every bad field at once.
pub fn decide_submit(
    actor: &Actor,
    input: &SubmitInput,
    invalid: Vec<FieldError>,
    ctx: &Ctx<'_>,
) -> Result<SubmitDecision, CoreError> {
    let mut fields = Fields::new();
    for e in invalid {
        fields.push(e);
    }
    // The location decides the scope, so check it before the actor.
    let area = match input.area_id {
        None => {
            fields.add("area_id", "required");
            None
        }
        Some(id) => match ctx.dir.area(id) {
            None => {
                fields.add("area_id", "unknown");
                None
            }
            Some(a) if !matches!(a.kind, Level::Grid | Level::Community) => {
                fields.add("area_id", "not_allowed");
                None
            }
            Some(a) => Some(a),
        },
    };
    let allowed = match area {
        Some(a) => policy::authorize(ctx.dir, actor, CommandKind::Submit, &Subject::NewAt(a.id))?,
        None => {
            // Still refuse people who may not file at all before reporting fields.
            if !policy::role_may(actor, policy::Action::Run(CommandKind::Submit)) {
                return Err(CoreError::Forbidden(Denial::RoleNotAllowed));
            }
            // An unusable area always added a field error above.
            return Err(fields
                .finish()
                .err()
                .unwrap_or_else(|| CoreError::validation("area_id", "required")));
        }
    };
    let own = allowed.relation == Some(Relation::OwnRequest);

    match input.channel {
        None => fields.add("channel", "required"),
        Some(c) if !channel_allowed(allowed.role, c) => fields.add("channel", "not_allowed"),
        Some(_) => {}
    }
    fields.text(
        "description",
        input.description.as_deref(),
        limits::DESCRIPTION,
    );
    fields.optional_text("address", input.address.as_deref(), limits::ADDRESS);
    match (input.lat, input.lon) {
        (Some(lat), Some(lon)) => {
            if !(-90.0..=90.0).contains(&lat) {
                fields.add("lat", "out_of_range");
            }
            if !(-180.0..=180.0).contains(&lon) {
                fields.add("lon", "out_of_range");
            }
        }
        (Some(_), None) => fields.add("lon", "required"),
        (None, Some(_)) => fields.add("lat", "required"),
        (None, None) => {}
    }
    let name = clean(&input.requester_name);
    let phone = clean(&input.requester_phone);
    let contact = if own {
        if input.requester_name.is_some() {
            fields.add("requester_name", "not_allowed");
        }
        if input.requester_phone.is_some() {
            fields.add("requester_phone", "not_allowed");
        }
        None
    } else {
        match (&name, &phone) {
            (None, None) => None,
            (Some(_), None) => {
                fields.add("requester_phone", "required");
                None
            }
            (None, Some(_)) => {
                fields.add("requester_name", "required");
                None
            }
            (Some(n), Some(p)) => {
                if n.chars().count() > limits::NAME {
                    fields.push(
                        FieldError::new("requester_name", "too_long")
                            .with_limit(limits::NAME as i64),
                    );
                }
                if !valid_phone(p) {
                    fields.add("requester_phone", "invalid");
                }
                Some(NewContact {
                    name: n.clone(),
                    phone: p.chars().filter(|c| c.is_ascii_digit()).collect(),
                })
            }
        }
    };
    check_attachments(
        &mut fields,
        "attachments",
        &input.attachments,
        Some(ctx.facts),
    );
    if input.restricted && !matches!(actor, Actor::System) {
        fields.add("restricted", "not_allowed");
    }
    // A category is optional on submission; one that is named must be known and in use.
    if let Some(id) = input.category_id {
        fields.in_use("category_id", Some(id), |id| ctx.dir.item(id), |i| i.active);
    }
    fields.finish()?;

    let area = area.ok_or_else(|| CoreError::validation("area_id", "required"))?;
    let community_id = ctx.dir.ancestor_at(area.id, Level::Community);
    let street_id = ctx.dir.ancestor_at(area.id, Level::Street);
    let (Some(community_id), Some(street_id)) = (community_id, street_id) else {
        return Err(CoreError::validation("area_id", "not_allowed"));
    };
    let grid_id = (area.kind == Level::Grid).then_some(area.id);
    let body = EventBody::Submitted {
        channel: input.channel.unwrap_or(Channel::App),
        description: input
            .description
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_string(),
        requester_id: if own { actor.person_id() } else { None },
        location: Location {
            area_id: area.id,
            street_id,
            community_id,
            grid_id,
            address: clean(&input.address),
            lat: input.lat,
            lon: input.lon,
        },
        attachments: input.attachments.clone(),
        level: area.kind,
        category_id: input.category_id,
        restricted: input.restricted,
    };
    Ok(SubmitDecision {
        body,
        actor: actor_ref(actor, allowed),
        contact,
    })
}

/// Decides a command on an existing request. `invalid` carries field errors found while reading
/// the body.
pub fn decide(
    request: &Request,
    actor: &Actor,
    command: &Command,
    invalid: Vec<FieldError>,
    ctx: &Ctx<'_>,
) -> Result<Decision, CoreError> {
    let kind = command.kind();
    // 1. Does any role of the actor appear for this command at all? (Says nothing about the request.)
    if !policy::role_may(actor, policy::Action::Run(kind)) {
        return Err(CoreError::Forbidden(Denial::RoleNotAllowed));
    }
    // 2. May the actor see the request? If not, it does not exist for them.
    if policy::permit(
        ctx.dir,
        actor,
        policy::Action::View,
        &Subject::Request(request),
    )
    .is_err()
    {
        return Err(CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: request.id.0,
        });
    }
    // 3. May the actor run this command on this request? Decided before the state, so that a
    // refused actor learns nothing more about the request.
    let allowed = policy::authorize(ctx.dir, actor, kind, &Subject::Request(request))?;
    // 4. Is the command allowed from the current state?
    if !allowed_from(kind).contains(&request.status) {
        return Err(CoreError::InvalidTransition {
            command: kind.as_str(),
            status: request.status,
        });
    }
    let by = actor_ref(actor, allowed);
    // 5. Every field.
    let mut fields = Fields::new();
    for e in invalid {
        fields.push(e);
    }
    let d = Deciding {
        request,
        actor,
        ctx,
        allowed,
        fields,
    };
    let body = match command {
        Command::Accept {
            category_id,
            tier,
            urgent,
            level,
            public_summary,
        } => accept(d, category_id, tier, urgent, level, public_summary)?,
        Command::Reject {
            code,
            duplicate_of,
            text,
        } => reject(d, code, duplicate_of, text)?,
        Command::Dispatch { unit_id } => dispatch(d, unit_id)?,
        Command::Return { reason } => return_(d, reason)?,
        Command::Claim {} => claim(d)?,
        Command::Note { text, contact_made } => note(d, text, contact_made)?,
        Command::Deliberate {
            decision,
            attendees,
        } => deliberate(d, decision, attendees)?,
        Command::Resolve {
            outcome,
            summary,
            evidence,
            cost_fen,
            public_summary,
        } => resolve(d, outcome, summary, evidence, cost_fen, public_summary)?,
        Command::Verify {
            passed,
            reason,
            reached,
        } => verify(d, passed, reason, reached)?,
        Command::Rate {
            resolved,
            satisfaction,
            comment,
        } => rate(d, resolved, satisfaction, comment)?,
        Command::Close {} => close(d)?,
        Command::Escalate { reason } => escalate(d, reason)?,
        Command::Suspend {
            reason,
            approver_id,
        } => suspend(d, reason, approver_id)?,
        Command::Resume {} => resume(d)?,
        Command::Supervise { order } => supervise(d, order)?,
        Command::UpdateAlert { text, chart } => update_alert(d, text, chart)?,
        Command::Publish { need, result } => publish(d, need, result)?,
    };
    Ok(Decision { body, actor: by })
}

/// What every command's decision works with: the request, who asks, the context, the policy row
/// that allowed it, and the field problems found so far.
struct Deciding<'a> {
    request: &'a Request,
    actor: &'a Actor,
    ctx: &'a Ctx<'a>,
    allowed: Allowed,
    fields: Fields,
}

/// `accept`: its fields, and the event it appends.
fn accept(
    mut d: Deciding<'_>,
    category_id: &Option<CategoryId>,
    tier: &Option<Tier>,
    urgent: &Option<bool>,
    level: &Option<Level>,
    public_summary: &Option<String>,
) -> Result<EventBody, CoreError> {
    public_text(&mut d.fields, "public_summary", public_summary.as_deref());
    // The tier the command named, before the category's default fills it in.
    let requested_tier = *tier;
    // Without a category, the one suggested on submission (if any) is taken.
    let item = d.fields.in_use(
        "category_id",
        category_id.or(d.request.category_id),
        |id| d.ctx.dir.item(id),
        |i| i.active,
    );
    let tier = tier.or(item.map(|i| i.default_tier));
    let level = level.or_else(|| match (requested_tier, item) {
        (Some(t), _) => Some(t.default_level()),
        (None, Some(i)) => Some(i.default_level),
        (None, None) => None,
    });
    if level == Some(Level::Grid) && d.request.location.grid_id.is_none() {
        d.fields.add("level", "not_allowed");
    }
    d.fields.finish()?;
    let (Some(item), Some(tier), Some(level)) = (item, tier, level) else {
        return Err(CoreError::validation("category_id", "required"));
    };
    Ok(EventBody::Accepted {
        category_id: item.id,
        tier,
        urgent: urgent.unwrap_or(false),
        level,
        public_summary: clean(public_summary),
    })
}

/// `reject`: its fields, and the event it appends.
fn reject(
    mut d: Deciding<'_>,
    code: &Option<RejectCode>,
    duplicate_of: &Option<RequestId>,
    text: &Option<String>,
) -> Result<EventBody, CoreError> {
    match code {
        None => d.fields.add("code", "required"),
        Some(RejectCode::Duplicate) => match duplicate_of {
            None => d.fields.add("duplicate_of", "required"),
            Some(id) if *id == d.request.id => d.fields.add("duplicate_of", "invalid"),
            Some(id) if !d.ctx.facts.requests.contains(id) => {
                d.fields.add("duplicate_of", "unknown")
            }
            Some(_) => {}
        },
        Some(RejectCode::Other) => d.fields.text("text", text.as_deref(), limits::REASON),
        Some(_) => {}
    }
    if code.is_some_and(|c| c != RejectCode::Duplicate) && duplicate_of.is_some() {
        d.fields.add("duplicate_of", "not_allowed");
    }
    d.fields
        .optional_text("text", text.as_deref(), limits::REASON);
    d.fields.finish()?;
    Ok(EventBody::Rejected {
        code: code.unwrap_or(RejectCode::Other),
        duplicate_of: *duplicate_of,
        text: clean(text),
    })
}

/// `dispatch`: its fields, and the event it appends.
fn dispatch(mut d: Deciding<'_>, unit_id: &Option<UnitId>) -> Result<EventBody, CoreError> {
    let found = d
        .fields
        .in_use("unit_id", *unit_id, |id| d.ctx.dir.unit(id), |u| u.active);
    let unit = found.filter(|u| {
        let misfit = if u.level != d.request.level {
            Some("wrong_level")
        } else if !d.ctx.dir.contains(u.area_id, d.request.location.area_id) {
            Some("outside_area")
        } else {
            None
        };
        if let Some(code) = misfit {
            d.fields.add("unit_id", code);
        }
        misfit.is_none()
    });
    d.fields.finish()?;
    let unit = unit.ok_or_else(|| CoreError::validation("unit_id", "required"))?;
    // Deadlines are set at the first dispatch and kept when the d.request is re-routed, so a
    // return does not restart the clock; an escalation sets new ones.
    let deadlines = match d.ctx.deadlines {
        Some(p) if d.request.deadlines().is_empty() => p.deadlines(
            d.request,
            d.request.category_id.and_then(|c| d.ctx.dir.item(c)),
            d.request.level,
            d.ctx.now,
        ),
        _ => d.request.deadlines(),
    };
    Ok(EventBody::Dispatched {
        unit_id: unit.id,
        deadlines,
    })
}

/// `return`: its fields, and the event it appends.
fn return_(mut d: Deciding<'_>, reason: &Option<String>) -> Result<EventBody, CoreError> {
    d.fields.text("reason", reason.as_deref(), limits::REASON);
    d.fields.finish()?;
    Ok(EventBody::Returned {
        reason: clean(reason).unwrap_or_default(),
    })
}

/// `claim`: its fields, and the event it appends.
fn claim(d: Deciding<'_>) -> Result<EventBody, CoreError> {
    d.fields.finish()?;
    let person_id = d
        .actor
        .person_id()
        .ok_or(CoreError::Forbidden(Denial::RoleNotAllowed))?;
    Ok(EventBody::Claimed { person_id })
}

/// `note`: its fields, and the event it appends.
fn note(
    mut d: Deciding<'_>,
    text: &Option<String>,
    contact_made: &Option<bool>,
) -> Result<EventBody, CoreError> {
    d.fields.text("text", text.as_deref(), limits::NOTE);
    d.fields.finish()?;
    Ok(EventBody::Noted {
        text: clean(text).unwrap_or_default(),
        contact_made: contact_made.unwrap_or(false),
    })
}

/// `deliberate`: its fields, and the event it appends.
fn deliberate(
    mut d: Deciding<'_>,
    decision: &Option<String>,
    attendees: &Option<String>,
) -> Result<EventBody, CoreError> {
    d.fields
        .text("decision", decision.as_deref(), limits::SUMMARY);
    d.fields
        .text("attendees", attendees.as_deref(), limits::REASON);
    d.fields.finish()?;
    Ok(EventBody::Deliberated {
        decision: clean(decision).unwrap_or_default(),
        attendees: clean(attendees).unwrap_or_default(),
    })
}

/// `resolve`: its fields, and the event it appends.
fn resolve(
    mut d: Deciding<'_>,
    outcome: &Option<AlertOutcome>,
    summary: &Option<String>,
    evidence: &[Attachment],
    cost_fen: &Option<i64>,
    public_summary: &Option<String>,
) -> Result<EventBody, CoreError> {
    d.fields
        .text("summary", summary.as_deref(), limits::SUMMARY);
    public_text(&mut d.fields, "public_summary", public_summary.as_deref());
    match (d.request.channel == Channel::PowerAlert, outcome) {
        (true, None) => d.fields.add("outcome", "required"),
        (false, Some(_)) => d.fields.add("outcome", "not_allowed"),
        _ => {}
    }
    check_attachments(&mut d.fields, "evidence", evidence, Some(d.ctx.facts));
    if let Some(c) = cost_fen
        && !(0..=limits::COST_FEN).contains(c)
    {
        d.fields.add("cost_fen", "out_of_range");
    }
    d.fields.finish()?;
    Ok(EventBody::Resolved {
        summary: clean(summary).unwrap_or_default(),
        evidence: evidence.to_vec(),
        cost_fen: *cost_fen,
        outcome: *outcome,
        public_summary: clean(public_summary),
    })
}

/// Checks a public summary (公示内容): optional (a blank one is none), but within its limit and
/// without a number that could be a phone, ID or bank card (the approver missed it).
fn public_text(fields: &mut Fields, name: &str, value: Option<&str>) {
    let Some(v) = value else { return };
    if v.chars().count() > limits::PUBLIC {
        fields.push(FieldError::new(name, "too_long").with_limit(limits::PUBLIC as i64));
    } else if crate::redact::holds_personal_number(v) {
        fields.add(name.to_string(), "personal_number");
    }
}

/// `publish`: its fields, and the event it appends.
fn publish(
    mut d: Deciding<'_>,
    need: &Option<String>,
    result: &Option<String>,
) -> Result<EventBody, CoreError> {
    let (need, result) = (clean(need), clean(result));
    if need.is_none() && result.is_none() {
        d.fields.add("need", "required");
    }
    public_text(&mut d.fields, "need", need.as_deref());
    public_text(&mut d.fields, "result", result.as_deref());
    if result.is_some() && d.request.resolution.is_none() {
        d.fields.add("result", "not_allowed");
    }
    d.fields.finish()?;
    Ok(EventBody::Published { need, result })
}

/// `verify`: its fields, and the event it appends.
fn verify(
    mut d: Deciding<'_>,
    passed: &Option<bool>,
    reason: &Option<String>,
    reached: &Option<bool>,
) -> Result<EventBody, CoreError> {
    if d.request.claimed_by.is_some() && d.request.claimed_by == d.actor.person_id() {
        return Err(CoreError::Forbidden(Denial::SelfVerification));
    }
    match passed {
        None => d.fields.add("passed", "required"),
        Some(false) => d.fields.text("reason", reason.as_deref(), limits::REASON),
        Some(true) => d
            .fields
            .optional_text("reason", reason.as_deref(), limits::REASON),
    }
    d.fields.finish()?;
    Ok(EventBody::Verified {
        passed: passed.unwrap_or(false),
        reason: clean(reason),
        reached: *reached,
    })
}

/// `rate`: its fields, and the event it appends.
fn rate(
    mut d: Deciding<'_>,
    resolved: &Option<bool>,
    satisfaction: &Option<Satisfaction>,
    comment: &Option<String>,
) -> Result<EventBody, CoreError> {
    if resolved.is_none() {
        d.fields.add("resolved", "required");
    }
    if satisfaction.is_none() {
        d.fields.add("satisfaction", "required");
    }
    d.fields
        .optional_text("comment", comment.as_deref(), limits::COMMENT);
    d.fields.finish()?;
    let via = if d.allowed.relation == Some(Relation::Requester) {
        RatedVia::Requester
    } else {
        RatedVia::FollowUpCall
    };
    Ok(EventBody::Rated {
        resolved: resolved.unwrap_or(false),
        satisfaction: satisfaction.unwrap_or(Satisfaction::Unsatisfied),
        comment: clean(comment),
        via,
    })
}

/// `close`: its fields, and the event it appends.
fn close(d: Deciding<'_>) -> Result<EventBody, CoreError> {
    d.fields.finish()?;
    let verified_at = d.request.verified_at.unwrap_or(d.request.updated_at);
    if d.ctx.now < verified_at + d.ctx.settings.rating_window {
        return Err(CoreError::Conflict(Conflict::RatingWindowOpen));
    }
    Ok(EventBody::Closed {})
}

/// `escalate`: its fields, and the event it appends.
fn escalate(mut d: Deciding<'_>, reason: &Option<String>) -> Result<EventBody, CoreError> {
    let Some(to) = d.request.level.up() else {
        return Err(CoreError::Conflict(Conflict::TopLevel));
    };
    if let Actor::System = d.actor {
        // Automatic escalation: only when the district turned it on and the d.request has
        // been red for the set number of working days.
        let red_since = d
            .request
            .next_due_at
            .filter(|_| d.request.light_at(d.ctx.now) == Some(Light::Red));
        let ripe = match (
            d.ctx.settings.auto_escalate_after_days,
            red_since,
            d.ctx.deadlines,
        ) {
            (Some(days), Some(due), Some(p)) => p
                .after_working_days(due, days)
                .is_some_and(|t| t <= d.ctx.now),
            _ => false,
        };
        if !ripe {
            return Err(CoreError::Conflict(Conflict::NotOverdueLongEnough));
        }
    }
    d.fields.text("reason", reason.as_deref(), limits::REASON);
    d.fields.finish()?;
    let mut deadlines = match d.ctx.deadlines {
        Some(p) => p.deadlines(
            d.request,
            d.request.category_id.and_then(|c| d.ctx.dir.item(c)),
            to,
            d.ctx.now,
        ),
        None => d.request.deadlines(),
    };
    if d.request.responded_at.is_some() {
        deadlines.respond_due_at = d.request.respond_due_at;
        deadlines.respond_warn_at = d.request.respond_warn_at;
    }
    Ok(EventBody::Escalated {
        from: d.request.level,
        to,
        reason: clean(reason).unwrap_or_default(),
        deadlines,
    })
}

/// `suspend`: its fields, and the event it appends.
fn suspend(
    mut d: Deciding<'_>,
    reason: &Option<String>,
    approver_id: &Option<PersonId>,
) -> Result<EventBody, CoreError> {
    d.fields.text("reason", reason.as_deref(), limits::REASON);
    let mut approver_denied = false;
    match approver_id {
        None => d.fields.add("approver_id", "required"),
        Some(id) if Some(*id) == d.actor.person_id() => d.fields.add("approver_id", "not_allowed"),
        Some(id) => match d.ctx.facts.persons.get(id) {
            None => d.fields.add("approver_id", "unknown"),
            Some(p) => approver_denied = !policy::may_approve_suspension(d.ctx.dir, p, d.request),
        },
    }
    d.fields.finish()?;
    if approver_denied {
        return Err(CoreError::Forbidden(Denial::ApproverNotAllowed));
    }
    let approver_id =
        approver_id.ok_or_else(|| CoreError::validation("approver_id", "required"))?;
    Ok(EventBody::Suspended {
        reason: clean(reason).unwrap_or_default(),
        approver_id,
        from: d.request.status,
    })
}

/// `resume`: its fields, and the event it appends.
fn resume(d: Deciding<'_>) -> Result<EventBody, CoreError> {
    d.fields.finish()?;
    let deadlines = match (d.ctx.deadlines, d.request.suspended_at) {
        (Some(p), Some(since)) => p.extend(d.request, d.request.deadlines(), since, d.ctx.now),
        _ => d.request.deadlines(),
    };
    Ok(EventBody::Resumed {
        to: d.request.suspended_from.unwrap_or(Status::Dispatched),
        deadlines,
    })
}

/// `supervise`: its fields, and the event it appends.
fn update_alert(
    mut d: Deciding<'_>,
    text: &Option<String>,
    chart: &[Attachment],
) -> Result<EventBody, CoreError> {
    d.fields.text("text", text.as_deref(), limits::REASON);
    check_attachments(&mut d.fields, "chart", chart, Some(d.ctx.facts));
    d.fields.finish()?;
    if d.request.channel != Channel::PowerAlert {
        return Err(CoreError::Conflict(Conflict::NotAnAlert));
    }
    Ok(EventBody::AlertUpdated {
        text: clean(text).unwrap_or_default(),
        chart: chart.to_vec(),
    })
}

fn supervise(mut d: Deciding<'_>, order: &Option<String>) -> Result<EventBody, CoreError> {
    d.fields.text("order", order.as_deref(), limits::REASON);
    d.fields.finish()?;
    // The system supervises a d.request once for each deadline it misses.
    let overdue = match d.actor {
        Actor::System => {
            let due = d
                .request
                .next_due_at
                .filter(|_| d.request.light_at(d.ctx.now) == Some(Light::Red))
                .ok_or(CoreError::Conflict(Conflict::NotOverdue))?;
            if d.request.overdue_supervised_for == Some(due) {
                return Err(CoreError::Conflict(Conflict::AlreadySupervised));
            }
            Some(due)
        }
        Actor::Person(_) => None,
    };
    Ok(EventBody::Supervised {
        order: clean(order).unwrap_or_default(),
        overdue,
    })
}

/// Builds an actor for tests and tools.
pub fn person(id: i64, name: &str, grants: Vec<crate::person::Grant>) -> Actor {
    Actor::Person(Person {
        id: PersonId(id),
        name: name.to_string(),
        phone: None,
        grants,
    })
}
