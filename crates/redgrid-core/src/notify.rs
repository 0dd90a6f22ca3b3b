//! Who must act after an event: the notifications the store writes to its outbox in the same
//! transaction as the event (dispatched to your unit, returned, supervised, verification needed,
//! please rate, rework, escalated to your level).

use crate::area::Level;
use crate::error::Lang;
use crate::ids::{AreaId, PersonId, UnitId};
use crate::person::Role;
use crate::request::{Event, EventBody, Request};

/// Whom a notification goes to; the store resolves it to people inside the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One person.
    Person(PersonId),
    /// Everyone granted a role on a unit.
    Unit(UnitId),
    /// Everyone granted one of these roles on one of these areas (empty: on any area).
    AreaRoles(Vec<AreaId>, Vec<Role>),
}

crate::vocabulary!(
    /// What a notification is about, with its title for the person told.
    NoticeKind {
        Dispatched = "dispatched", "有新的派单，请接单办理", "a request was dispatched to your unit";
        Returned = "returned", "诉求被退回，请重新派单", "a request was returned; please re-route it";
        Escalated = "escalated", "有上报的诉求，请派单", "a request was escalated to your level";
        Supervised = "supervised", "诉求被督办，请尽快办理", "a request is under supervision (督办)";
        VerificationNeeded = "verification_needed", "有办结的诉求，请验单",
            "a resolved request needs verification";
        Rework = "rework", "验单未通过，请返工", "verification failed; please rework";
        PleaseRate = "please_rate", "您的诉求已办结，请评价", "your request was resolved; please rate it";
        Reopened = "reopened", "群众评价不满意，请重新办理",
            "the requester was not satisfied; please handle it again";
    }
);

impl NoticeKind {
    /// The notification's title.
    pub fn title(self, lang: Lang) -> &'static str {
        self.label(lang)
    }
}

/// The staff roles that dispatch at a level.
fn dispatchers(level: Level) -> Vec<Role> {
    match level {
        Level::Grid => vec![Role::GridWorker],
        Level::Community => vec![Role::CommunityStaff],
        Level::Street => vec![Role::StreetStaff],
        Level::District => vec![Role::DistrictAdmin],
    }
}

/// The area of the request at a level (none at the district: any district-wide grant).
fn area_at(r: &Request, level: Level) -> Vec<AreaId> {
    match level {
        Level::Grid => vec![r.location.grid_id.unwrap_or(r.location.community_id)],
        Level::Community => vec![r.location.community_id],
        Level::Street => vec![r.location.street_id],
        Level::District => vec![],
    }
}

/// The request's area at a level and every area above it up to the street.
fn areas_from(r: &Request, level: Level) -> Vec<AreaId> {
    let mut out = Vec::new();
    for l in Level::ALL
        .into_iter()
        .filter(|l| *l >= level && *l != Level::District)
    {
        out.extend(area_at(r, l));
    }
    out.dedup();
    out
}

/// The notifications an event causes, given the request after it.
pub fn notices(event: &Event, after: &Request) -> Vec<(NoticeKind, Target)> {
    let level_staff = |r: &Request| Target::AreaRoles(area_at(r, r.level), dispatchers(r.level));
    match &event.body {
        EventBody::Dispatched { unit_id, .. } => {
            vec![(NoticeKind::Dispatched, Target::Unit(*unit_id))]
        }
        EventBody::Returned { .. } => vec![(NoticeKind::Returned, level_staff(after))],
        EventBody::Escalated { .. } => vec![(NoticeKind::Escalated, level_staff(after))],
        EventBody::Supervised { .. } => {
            let mut out = vec![(NoticeKind::Supervised, level_staff(after))];
            if let Some(u) = after.unit_id {
                out.push((NoticeKind::Supervised, Target::Unit(u)));
            }
            out
        }
        EventBody::Resolved { .. } => vec![(
            NoticeKind::VerificationNeeded,
            Target::AreaRoles(areas_from(after, after.level), vec![Role::Verifier]),
        )],
        EventBody::Verified { passed: true, .. } => after
            .requester_id
            .map(|p| vec![(NoticeKind::PleaseRate, Target::Person(p))])
            .unwrap_or_default(),
        EventBody::Verified { passed: false, .. } => after
            .claimed_by
            .map(|p| vec![(NoticeKind::Rework, Target::Person(p))])
            .unwrap_or_default(),
        EventBody::Rated { .. } if after.status == crate::request::Status::Dispatched => after
            .unit_id
            .map(|u| vec![(NoticeKind::Reopened, Target::Unit(u))])
            .unwrap_or_default(),
        _ => vec![],
    }
}
