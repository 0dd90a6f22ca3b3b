//! Requests, their events, and the projection of a request's state from its events.
//!
//! A request's events are append-only and numbered from 1. The `Request` row is a projection: applying
//! the events in order with [`apply`] rebuilds it exactly, and `redgrid check` does just that.

use crate::area::Level;
use crate::catalogue::Tier;
use crate::ids::{AreaId, CategoryId, PersonId, RequestId, UnitId};
use crate::person::Role;
use crate::vocab::vocabulary;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

vocabulary!(
    /// Where a request stands in its life (docs/design/lifecycle.md, "States").
    Status {
        Submitted = "submitted", "已提交", "submitted";
        Accepted = "accepted", "已受理", "accepted";
        Dispatched = "dispatched", "已派单", "dispatched";
        Claimed = "claimed", "办理中", "claimed";
        Resolved = "resolved", "已办结待验单", "resolved";
        Verified = "verified", "已验单待评价", "verified";
        Closed = "closed", "已销号", "closed";
        Rejected = "rejected", "不予受理", "rejected";
        Suspended = "suspended", "挂账", "suspended";
    }
);

impl Status {
    /// Closed and rejected requests never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Closed | Status::Rejected)
    }
}

vocabulary!(
    /// How a request came in.
    Channel {
        /// The mobile app or mini-program.
        App = "app", "移动端", "app";
        /// The web site.
        Web = "web", "网站", "web";
        /// A hotline call taken by staff.
        Hotline = "hotline", "热线", "hotline";
        /// In person at a service window.
        Window = "window", "窗口", "service window";
        /// A suggestion box.
        SuggestionBox = "suggestion_box", "意见箱", "suggestion box";
        /// Found by a grid worker on patrol.
        GridPatrol = "grid_patrol", "网格巡查", "grid patrol";
        /// Raised by an electricity-data detector.
        PowerAlert = "power_alert", "电力预警", "power alert";
        /// A supervision group's finding.
        Inspection = "inspection", "督导检查", "inspection";
        /// An Open311 client.
        Open311 = "open311", "Open311 接口", "Open311";
    }
);

vocabulary!(
    /// Why a request was not accepted.
    RejectCode {
        /// Not a matter for the district's grassroots governance.
        OutOfScope = "out_of_scope", "不属于受理范围", "out of scope";
        /// The same need was filed already (`duplicate_of` names it).
        Duplicate = "duplicate", "重复诉求", "duplicate";
        /// Nothing actionable was said.
        NoContent = "no_content", "无实际内容", "nothing actionable";
        /// Something else, explained in the text.
        Other = "other", "其他原因", "other";
    }
);

vocabulary!(
    /// How satisfied the requester is.
    Satisfaction {
        Satisfied = "satisfied", "满意", "satisfied";
        BasicallySatisfied = "basically_satisfied", "基本满意", "basically satisfied";
        Unsatisfied = "unsatisfied", "不满意", "unsatisfied";
    }
);

vocabulary!(
    /// Who gave a rating: the requester, or staff recording a follow-up call (回访).
    RatedVia {
        Requester = "requester", "本人评价", "requester";
        FollowUpCall = "follow_up_call", "回访", "follow-up call";
    }
);

/// A file attached to a request (photo, document), stored by the store under its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// The SHA-256 of the content, hex: what the upload endpoint returned.
    pub id: String,
    pub name: String,
}

vocabulary!(
    /// What checking a power alert found (预警核查结果).
    AlertOutcome {
        /// The alert was right.
        Confirmed = "confirmed", "属实", "confirmed";
        /// Nothing was wrong.
        FalseAlarm = "false_alarm", "误报", "false alarm";
        /// Nobody could check (no one home, no access).
        Unverifiable = "unverifiable", "无法核实", "could not check";
    }
);

/// The last rating given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rating {
    pub resolved: bool,
    pub satisfaction: Satisfaction,
    pub comment: Option<String>,
    pub via: RatedVia,
}

/// Where a request is: its area (a grid or community), with the ancestors fixed at filing time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Location {
    pub area_id: AreaId,
    pub street_id: AreaId,
    pub community_id: AreaId,
    pub grid_id: Option<AreaId>,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// A request's deadlines, each with the instant its light turns yellow (when 80% of the allowed time
/// is used). Computed by the deadline policy and carried in events, so replay needs no calendar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Deadlines {
    pub respond_due_at: Option<DateTime<Utc>>,
    pub respond_warn_at: Option<DateTime<Utc>>,
    pub resolve_due_at: Option<DateTime<Utc>>,
    pub resolve_warn_at: Option<DateTime<Utc>>,
}

impl Deadlines {
    pub fn is_empty(&self) -> bool {
        self.respond_due_at.is_none() && self.resolve_due_at.is_none()
    }
}

vocabulary!(
    /// A request's traffic light (亮灯), docs/design/lifecycle.md "Lights".
    Light {
        /// Less than 80% of the allowed working time used, or finished on time.
        Green = "green", "绿灯", "green";
        /// Between 80% and 100% used.
        Yellow = "yellow", "黄灯", "yellow";
        /// The deadline has passed, or the request was finished late.
        Red = "red", "红灯", "red";
    }
);

/// The current state of a request: the projection of its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Request {
    pub id: RequestId,
    pub status: Status,
    pub channel: Channel,
    pub description: String,
    /// The person the need belongs to (None for system-filed requests).
    pub requester_id: Option<PersonId>,
    /// Who filed it (staff on a resident's behalf, or the resident); None for the system.
    pub submitted_by: Option<PersonId>,
    pub location: Location,
    pub attachments: Vec<Attachment>,
    pub category_id: Option<CategoryId>,
    pub tier: Option<Tier>,
    pub urgent: bool,
    /// The level that currently handles the request.
    pub level: Level,
    pub unit_id: Option<UnitId>,
    pub claimed_by: Option<PersonId>,
    /// While suspended: the state to resume to.
    pub suspended_from: Option<Status>,
    pub supervised: bool,
    pub supervision_count: i32,
    pub rework_count: i32,
    pub escalation_count: i32,
    pub respond_due_at: Option<DateTime<Utc>>,
    pub resolve_due_at: Option<DateTime<Utc>>,
    /// When the respond light turns yellow.
    pub respond_warn_at: Option<DateTime<Utc>>,
    /// When the resolve light turns yellow.
    pub resolve_warn_at: Option<DateTime<Utc>>,
    /// The deadline that is next due while the request is being handled (derived; drives the light).
    pub next_due_at: Option<DateTime<Utc>>,
    /// When the light of `next_due_at` turns yellow (derived).
    pub next_warn_at: Option<DateTime<Utc>>,
    /// Once resolved: whether the (last) resolve came by the resolve deadline (derived).
    pub on_time: Option<bool>,
    /// While suspended: since when (the clock stops then).
    pub suspended_at: Option<DateTime<Utc>>,
    /// The missed deadline the system last supervised, so that each is supervised once.
    pub overdue_supervised_for: Option<DateTime<Utc>>,
    pub responded_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub verified_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// What the handler reported doing (the last `resolve`).
    pub resolution: Option<String>,
    /// What the public lists show of the need (公示内容), once staff approved it; never the
    /// resident's own words.
    #[serde(default)]
    pub public_need: Option<String>,
    /// What the public lists show of the result, once approved (cleared by a new `resolve` that
    /// brings none).
    #[serde(default)]
    pub public_result: Option<String>,
    pub cost_fen: Option<i64>,
    pub rating: Option<Rating>,
    /// When the last rating was given.
    pub rated_at: Option<DateTime<Utc>>,
    /// Seen only by the grid and the community (an elderly person's routine alert): see
    /// [`crate::policy::RESTRICTED_ROLES`].
    #[serde(default)]
    pub restricted: bool,
    pub reject_code: Option<RejectCode>,
    pub duplicate_of: Option<RequestId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The number of events applied: the `seq` of the last one.
    pub version: i64,
}

/// Who caused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActorRef {
    /// None for the system.
    pub person_id: Option<PersonId>,
    /// The role the command was allowed under.
    pub role: Option<Role>,
}

impl ActorRef {
    pub const SYSTEM: ActorRef = ActorRef {
        person_id: None,
        role: None,
    };
}

/// What happened, with everything needed to rebuild the projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    Submitted {
        channel: Channel,
        description: String,
        requester_id: Option<PersonId>,
        location: Location,
        attachments: Vec<Attachment>,
        level: Level,
        /// The category suggested by whoever filed it; confirmed or changed on accepting.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category_id: Option<CategoryId>,
        /// Filed by the system as restricted to the grid and the community.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        restricted: bool,
    },
    Accepted {
        category_id: CategoryId,
        tier: Tier,
        urgent: bool,
        level: Level,
        /// The need's public summary (公示内容), when staff gave one on accepting.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        public_summary: Option<String>,
    },
    Rejected {
        code: RejectCode,
        duplicate_of: Option<RequestId>,
        text: Option<String>,
    },
    Dispatched {
        unit_id: UnitId,
        /// The deadlines: computed at the first dispatch, kept on a later one.
        #[serde(flatten)]
        deadlines: Deadlines,
    },
    Returned {
        reason: String,
    },
    Claimed {
        person_id: PersonId,
    },
    Noted {
        text: String,
        contact_made: bool,
    },
    /// 议单: what a joint meeting decided, and who took part.
    Deliberated {
        decision: String,
        attendees: String,
    },
    Resolved {
        summary: String,
        evidence: Vec<Attachment>,
        cost_fen: Option<i64>,
        /// A power alert's outcome.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<AlertOutcome>,
        /// The result's public summary, when the handler gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        public_summary: Option<String>,
    },
    Verified {
        passed: bool,
        reason: Option<String>,
        /// Whether the follow-up call or visit (回访) reached the resident; absent in older events.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reached: Option<bool>,
    },
    Rated {
        resolved: bool,
        satisfaction: Satisfaction,
        comment: Option<String>,
        via: RatedVia,
    },
    Closed {},
    Escalated {
        from: Level,
        to: Level,
        reason: String,
        /// The new level's deadlines.
        #[serde(flatten)]
        deadlines: Deadlines,
    },
    Suspended {
        reason: String,
        approver_id: PersonId,
        from: Status,
    },
    Resumed {
        to: Status,
        /// The deadlines, extended by the working time spent suspended.
        #[serde(flatten)]
        deadlines: Deadlines,
    },
    /// 公示审核: the public summaries staff wrote or approved (each one given replaces the last).
    Published {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        need: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<String>,
    },
    Supervised {
        order: String,
        /// For the system's automatic supervision: the deadline that was missed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        overdue: Option<DateTime<Utc>>,
    },
    /// An electricity alert's episode went on or grew worse.
    AlertUpdated {
        text: String,
        /// The episode's chart redrawn with its new days.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        chart: Vec<Attachment>,
    },
}

impl Location {
    /// The location shown to someone without a need for the exact place: the street, community and
    /// grid only.
    pub fn masked(&self) -> Location {
        Location {
            address: None,
            lat: None,
            lon: None,
            ..self.clone()
        }
    }
}

impl EventBody {
    /// The files the event uses (a submission's attachments, a resolution's evidence).
    pub fn attachment_ids(&self) -> Vec<&str> {
        match self {
            EventBody::Submitted { attachments, .. } => {
                attachments.iter().map(|a| a.id.as_str()).collect()
            }
            EventBody::Resolved { evidence, .. } => {
                evidence.iter().map(|a| a.id.as_str()).collect()
            }
            EventBody::AlertUpdated { chart, .. } => chart.iter().map(|a| a.id.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// The event's body with the exact place removed and numbers in its texts masked
    /// ([`crate::person::mask_text`]).
    pub fn masked(&self) -> EventBody {
        use crate::person::mask_text as m;
        let mo = |t: &Option<String>| t.as_deref().map(m);
        let mut b = self.clone();
        match &mut b {
            EventBody::Submitted {
                description,
                location,
                ..
            } => {
                *description = m(description);
                *location = location.masked();
            }
            EventBody::Rejected { text, .. } => *text = mo(text),
            EventBody::Returned { reason }
            | EventBody::Escalated { reason, .. }
            | EventBody::Suspended { reason, .. } => *reason = m(reason),
            EventBody::Noted { text, .. } => *text = m(text),
            EventBody::Deliberated {
                decision,
                attendees,
            } => {
                *decision = m(decision);
                *attendees = m(attendees);
            }
            EventBody::Resolved { summary, .. } => *summary = m(summary),
            EventBody::Verified { reason, .. } => *reason = mo(reason),
            EventBody::Rated { comment, .. } => *comment = mo(comment),
            EventBody::Supervised { order, .. } => *order = m(order),
            EventBody::AlertUpdated { text, .. } => *text = m(text),
            EventBody::Accepted { .. }
            | EventBody::Dispatched { .. }
            | EventBody::Claimed { .. }
            | EventBody::Closed {}
            | EventBody::Resumed { .. }
            // Public summaries are written to be shown to anyone.
            | EventBody::Published { .. } => {}
        }
        b
    }

    /// The event's kind as stored in the `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Submitted { .. } => "submitted",
            EventBody::Accepted { .. } => "accepted",
            EventBody::Rejected { .. } => "rejected",
            EventBody::Dispatched { .. } => "dispatched",
            EventBody::Returned { .. } => "returned",
            EventBody::Claimed { .. } => "claimed",
            EventBody::Noted { .. } => "noted",
            EventBody::Deliberated { .. } => "deliberated",
            EventBody::Resolved { .. } => "resolved",
            EventBody::Verified { .. } => "verified",
            EventBody::Rated { .. } => "rated",
            EventBody::Closed { .. } => "closed",
            EventBody::Escalated { .. } => "escalated",
            EventBody::Suspended { .. } => "suspended",
            EventBody::Resumed { .. } => "resumed",
            EventBody::Supervised { .. } => "supervised",
            EventBody::AlertUpdated { .. } => "alert_updated",
            EventBody::Published { .. } => "published",
        }
    }
}

/// One event of a request's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub request_id: RequestId,
    /// 1 for the submission, then one more for each later event.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: ActorRef,
    #[serde(flatten)]
    pub body: EventBody,
}

impl Event {
    /// The event as shown without a need for personal data (see [`EventBody::masked`]).
    pub fn masked(&self) -> Event {
        Event {
            body: self.body.masked(),
            ..self.clone()
        }
    }
}

/// Why events could not be replayed into a projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayError {
    /// The first event is not a submission, or a later one is.
    NotSubmittedFirst { seq: i64 },
    /// Events are not numbered 1, 2, 3, … without gaps.
    BadSequence { expected: i64, found: i64 },
    /// An event belongs to another request.
    WrongRequest { seq: i64 },
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::NotSubmittedFirst { seq } => {
                write!(
                    f,
                    "event {seq}: a request's first event, and only it, must be a submission"
                )
            }
            ReplayError::BadSequence { expected, found } => {
                write!(f, "expected event {expected}, found event {found}")
            }
            ReplayError::WrongRequest { seq } => {
                write!(f, "event {seq} belongs to another request")
            }
        }
    }
}

/// Applies one event to the projection. The first event (a submission) creates the request; every
/// later one changes it. This is the only place where the projection's fields are set.
pub fn apply(current: Option<Request>, event: &Event) -> Result<Request, ReplayError> {
    let at = event.at;
    let mut r = match (current, &event.body) {
        (
            None,
            EventBody::Submitted {
                channel,
                description,
                requester_id,
                location,
                attachments,
                level,
                category_id,
                restricted,
            },
        ) => {
            if event.seq != 1 {
                return Err(ReplayError::BadSequence {
                    expected: 1,
                    found: event.seq,
                });
            }
            return Ok(Request {
                id: event.request_id,
                status: Status::Submitted,
                channel: *channel,
                description: description.clone(),
                requester_id: *requester_id,
                submitted_by: event.actor.person_id,
                location: location.clone(),
                attachments: attachments.clone(),
                category_id: *category_id,
                tier: None,
                urgent: false,
                level: *level,
                unit_id: None,
                claimed_by: None,
                suspended_from: None,
                supervised: false,
                supervision_count: 0,
                rework_count: 0,
                escalation_count: 0,
                respond_due_at: None,
                resolve_due_at: None,
                respond_warn_at: None,
                resolve_warn_at: None,
                next_due_at: None,
                next_warn_at: None,
                on_time: None,
                suspended_at: None,
                overdue_supervised_for: None,
                responded_at: None,
                resolved_at: None,
                verified_at: None,
                closed_at: None,
                resolution: None,
                public_need: None,
                public_result: None,
                cost_fen: None,
                rating: None,
                rated_at: None,
                restricted: *restricted,
                reject_code: None,
                duplicate_of: None,
                created_at: at,
                updated_at: at,
                version: 1,
            });
        }
        (None, _) | (Some(_), EventBody::Submitted { .. }) => {
            return Err(ReplayError::NotSubmittedFirst { seq: event.seq });
        }
        (Some(r), _) => r,
    };
    if event.request_id != r.id {
        return Err(ReplayError::WrongRequest { seq: event.seq });
    }
    if event.seq != r.version + 1 {
        return Err(ReplayError::BadSequence {
            expected: r.version + 1,
            found: event.seq,
        });
    }
    match &event.body {
        EventBody::Submitted { .. } => {
            return Err(ReplayError::NotSubmittedFirst { seq: event.seq });
        }
        EventBody::Accepted {
            category_id,
            tier,
            urgent,
            level,
            public_summary,
        } => {
            r.public_need = public_summary.clone();
            r.status = Status::Accepted;
            r.category_id = Some(*category_id);
            r.tier = Some(*tier);
            r.urgent = *urgent;
            r.level = *level;
        }
        EventBody::Rejected {
            code,
            duplicate_of,
            text: _,
        } => {
            r.status = Status::Rejected;
            r.reject_code = Some(*code);
            r.duplicate_of = *duplicate_of;
            r.closed_at = Some(at);
        }
        EventBody::Dispatched { unit_id, deadlines } => {
            r.status = Status::Dispatched;
            r.unit_id = Some(*unit_id);
            r.claimed_by = None;
            r.set_deadlines(deadlines);
        }
        EventBody::Returned { .. } => {
            r.status = Status::Accepted;
            r.unit_id = None;
            r.claimed_by = None;
        }
        EventBody::Claimed { person_id } => {
            r.status = Status::Claimed;
            r.claimed_by = Some(*person_id);
            r.responded_at = r.responded_at.or(Some(at));
        }
        EventBody::Noted { contact_made, .. } => {
            if *contact_made {
                r.responded_at = r.responded_at.or(Some(at));
            }
        }
        // A record on the request: its state, level and unit stay as they are.
        EventBody::Deliberated { .. } => {}
        EventBody::Resolved {
            summary,
            evidence: _,
            cost_fen,
            outcome: _,
            public_summary,
        } => {
            r.status = Status::Resolved;
            r.resolved_at = Some(at);
            r.resolution = Some(summary.clone());
            r.public_result = public_summary.clone();
            r.cost_fen = *cost_fen;
        }
        EventBody::Verified { passed, .. } => {
            if *passed {
                r.status = Status::Verified;
                r.verified_at = Some(at);
            } else {
                r.status = Status::Claimed;
                r.rework_count += 1;
            }
        }
        EventBody::Rated {
            resolved,
            satisfaction,
            comment,
            via,
        } => {
            r.rating = Some(Rating {
                resolved: *resolved,
                satisfaction: *satisfaction,
                comment: comment.clone(),
                via: *via,
            });
            r.rated_at = Some(at);
            if *resolved && *satisfaction != Satisfaction::Unsatisfied {
                r.status = Status::Closed;
                r.closed_at = Some(at);
            } else {
                r.status = Status::Dispatched;
                r.claimed_by = None;
                r.verified_at = None;
                r.rework_count += 1;
            }
        }
        EventBody::Closed {} => {
            r.status = Status::Closed;
            r.closed_at = Some(at);
        }
        EventBody::Escalated { to, deadlines, .. } => {
            r.status = Status::Accepted;
            r.level = *to;
            r.unit_id = None;
            r.claimed_by = None;
            r.set_deadlines(deadlines);
            r.escalation_count += 1;
        }
        EventBody::Suspended { from, .. } => {
            r.suspended_from = Some(*from);
            r.suspended_at = Some(at);
            r.status = Status::Suspended;
        }
        EventBody::Resumed { to, deadlines } => {
            r.status = *to;
            r.suspended_from = None;
            r.suspended_at = None;
            r.set_deadlines(deadlines);
        }
        EventBody::Published { need, result } => {
            if need.is_some() {
                r.public_need = need.clone();
            }
            if result.is_some() {
                r.public_result = result.clone();
            }
        }
        EventBody::Supervised { overdue, .. } => {
            r.supervised = true;
            r.supervision_count += 1;
            if overdue.is_some() {
                r.overdue_supervised_for = *overdue;
            }
        }
        // A record on the timeline: the request stays where it is.
        EventBody::AlertUpdated { .. } => {}
    }
    r.version = event.seq;
    r.updated_at = at;
    r.derive_light();
    Ok(r)
}

impl Request {
    /// The request as shown to someone without a need for the personal data in it: the place only to
    /// community level, and numbers in its texts masked.
    pub fn masked(&self) -> Request {
        use crate::person::mask_text as m;
        let mut r = self.clone();
        r.location = r.location.masked();
        r.description = m(&r.description);
        r.resolution = r.resolution.as_deref().map(m);
        if let Some(rating) = &mut r.rating {
            rating.comment = rating.comment.as_deref().map(m);
        }
        r
    }

    /// The request's deadlines as one value.
    pub fn deadlines(&self) -> Deadlines {
        Deadlines {
            respond_due_at: self.respond_due_at,
            respond_warn_at: self.respond_warn_at,
            resolve_due_at: self.resolve_due_at,
            resolve_warn_at: self.resolve_warn_at,
        }
    }

    fn set_deadlines(&mut self, d: &Deadlines) {
        self.respond_due_at = d.respond_due_at;
        self.respond_warn_at = d.respond_warn_at;
        self.resolve_due_at = d.resolve_due_at;
        self.resolve_warn_at = d.resolve_warn_at;
    }

    /// Sets the derived fields the light and its list filters read: the deadline next due while the
    /// request is being handled, and once it is resolved whether that came in time.
    fn derive_light(&mut self) {
        let handling = matches!(
            self.status,
            Status::Accepted | Status::Dispatched | Status::Claimed | Status::Suspended
        );
        let next = if !handling {
            None
        } else if self.responded_at.is_none() && self.respond_due_at.is_some() {
            self.respond_due_at
                .map(|d| (d, self.respond_warn_at.unwrap_or(d)))
        } else {
            self.resolve_due_at
                .map(|d| (d, self.resolve_warn_at.unwrap_or(d)))
        };
        self.next_due_at = next.map(|(d, _)| d);
        self.next_warn_at = next.map(|(_, w)| w);
        self.on_time = match self.status {
            Status::Resolved | Status::Verified | Status::Closed => self
                .resolve_due_at
                .zip(self.resolved_at)
                .map(|(due, done)| done <= due),
            _ => None,
        };
    }

    /// The light at an instant: None while no deadline applies (not yet dispatched, rejected, or
    /// handled without a deadline). A suspended request's light stays as it was when suspended.
    pub fn light_at(&self, now: DateTime<Utc>) -> Option<Light> {
        match (self.next_due_at, self.next_warn_at) {
            (Some(due), Some(warn)) => {
                let t = match self.status {
                    Status::Suspended => self.suspended_at.unwrap_or(now),
                    _ => now,
                };
                Some(if t > due {
                    Light::Red
                } else if t >= warn {
                    Light::Yellow
                } else {
                    Light::Green
                })
            }
            _ => self
                .on_time
                .map(|ok| if ok { Light::Green } else { Light::Red }),
        }
    }
}

/// Rebuilds a request from all its events, in order.
pub fn replay(events: &[Event]) -> Result<Option<Request>, ReplayError> {
    let mut current = None;
    for e in events {
        current = Some(apply(current, e)?);
    }
    Ok(current)
}
