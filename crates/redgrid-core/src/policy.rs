//! The one policy table: which role, in which relation to a request or an area, may do what — run
//! each command, see a request, reveal the personal data in it, read the scorecard, administer the
//! district.
//!
//! Deny by default: an action not listed for a role is refused. The API, the pages and the jobs all
//! ask [`permit`] (or [`authorize`] for commands, or [`visibility`] for lists, which is derived from
//! the same rows); nothing else decides permissions.

use crate::directory::Directory;
use crate::error::{CoreError, Denial};
use crate::person::{Actor, Grant, Role, Scope};
use crate::request::Request;

pub use crate::command::CommandKind;

/// Everything the policy decides: the commands, and what may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Run a command of the lifecycle.
    Run(CommandKind),
    /// See a request with its timeline, and find it in lists (views are masked: the address only to
    /// community level, names and phones in free text starred).
    View,
    /// See the requester's name, phone and exact address unmasked. For staff each reveal states why
    /// and is logged in the audit chain; for the requester it is their own data.
    Reveal,
    /// Read the scorecard (rates and rankings) of the units and areas in scope.
    Assess,
    /// Change the directory, the catalogue, accounts and API tokens.
    Administer,
    /// Keep the organisation registers (party organisations, members, pairings, alliances) and
    /// record activities of the organisations in scope.
    Organise,
    /// Grant and revoke roles held in the area (or in a unit located in it). Delegation also needs
    /// a granting role that ranks at least as high as the role granted ([`may_grant`]).
    Grant,
    /// Read the access log: who viewed or revealed whose personal data (the auditor only).
    Audit,
}

impl Action {
    /// Every action, for tests and the access matrix.
    pub fn all() -> Vec<Action> {
        let mut v: Vec<Action> = CommandKind::ALL.into_iter().map(Action::Run).collect();
        v.extend([
            Action::View,
            Action::Reveal,
            Action::Assess,
            Action::Administer,
            Action::Organise,
            Action::Grant,
            Action::Audit,
        ]);
        v
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Run(c) => c.as_str(),
            Action::View => "view",
            Action::Reveal => "reveal",
            Action::Assess => "assess",
            Action::Administer => "administer",
            Action::Organise => "organise",
            Action::Grant => "grant",
            Action::Audit => "audit",
        }
    }
}

/// How the actor's grant must relate to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Files for themselves: they become the requester. Anywhere in the district.
    OwnRequest,
    /// The grant's area contains the request's location.
    InArea,
    /// The role's staff level is the request's current level, and its area contains the location.
    AtLevel,
    /// The grant is held in the unit the request is dispatched to (or a team inside it).
    AssignedUnit,
    /// The actor is the person who claimed the request.
    Handler,
    /// The actor is the request's requester.
    Requester,
    /// Anywhere in the district (no row uses it today; the access-matrix test loosens rows to it).
    Anywhere,
}

/// One row of the policy table. `role: None` means "any role".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub role: Option<Role>,
    pub relation: Relation,
}

const fn rule(command: CommandKind, role: Role, relation: Relation) -> Rule {
    Rule {
        action: Action::Run(command),
        role: Some(role),
        relation,
    }
}

const fn may(action: Action, role: Role, relation: Relation) -> Rule {
    Rule {
        action,
        role: Some(role),
        relation,
    }
}

const fn anyone(action: Action, relation: Relation) -> Rule {
    Rule {
        action,
        role: None,
        relation,
    }
}

use Action as A;
use CommandKind as C;
use Relation as R;
use Role::*;

/// The policy table. Each row allows one role to run one command in one relation to the request.
pub const POLICY: &[Rule] = &[
    // 点单: residents, volunteers and members file for themselves; staff file on someone's behalf in
    // their own area (hotline, window, patrol); supervisors file inspection findings.
    rule(C::Submit, Resident, R::OwnRequest),
    rule(C::Submit, Volunteer, R::OwnRequest),
    rule(C::Submit, Member, R::OwnRequest),
    rule(C::Submit, GridWorker, R::InArea),
    rule(C::Submit, CommunityStaff, R::InArea),
    rule(C::Submit, StreetStaff, R::InArea),
    rule(C::Submit, DepartmentStaff, R::InArea),
    rule(C::Submit, Supervisor, R::InArea),
    rule(C::Submit, DistrictAdmin, R::InArea),
    // 受理 / 不予受理: staff of any level whose area holds the location.
    rule(C::Accept, GridWorker, R::InArea),
    rule(C::Accept, CommunityStaff, R::InArea),
    rule(C::Accept, StreetStaff, R::InArea),
    rule(C::Accept, DistrictAdmin, R::InArea),
    rule(C::Reject, GridWorker, R::InArea),
    rule(C::Reject, CommunityStaff, R::InArea),
    rule(C::Reject, StreetStaff, R::InArea),
    rule(C::Reject, DistrictAdmin, R::InArea),
    // 派单: the dispatcher of the request's level.
    rule(C::Dispatch, GridWorker, R::AtLevel),
    rule(C::Dispatch, CommunityStaff, R::AtLevel),
    rule(C::Dispatch, StreetStaff, R::AtLevel),
    rule(C::Dispatch, DistrictAdmin, R::AtLevel),
    // 退单: staff of the assigned unit.
    rule(C::Return, GridWorker, R::AssignedUnit),
    rule(C::Return, CommunityStaff, R::AssignedUnit),
    rule(C::Return, StreetStaff, R::AssignedUnit),
    rule(C::Return, DepartmentStaff, R::AssignedUnit),
    rule(C::Return, DistrictAdmin, R::AssignedUnit),
    // 接单: anyone who belongs to the assigned unit.
    rule(C::Claim, Member, R::AssignedUnit),
    rule(C::Claim, Volunteer, R::AssignedUnit),
    rule(C::Claim, GridWorker, R::AssignedUnit),
    rule(C::Claim, CommunityStaff, R::AssignedUnit),
    rule(C::Claim, StreetStaff, R::AssignedUnit),
    rule(C::Claim, DepartmentStaff, R::AssignedUnit),
    rule(C::Claim, DistrictAdmin, R::AssignedUnit),
    // 办理 / 办结: the handler, or staff of the assigned unit.
    anyone(Action::Run(C::Note), R::Handler),
    rule(C::Note, GridWorker, R::AssignedUnit),
    rule(C::Note, CommunityStaff, R::AssignedUnit),
    rule(C::Note, StreetStaff, R::AssignedUnit),
    rule(C::Note, DepartmentStaff, R::AssignedUnit),
    anyone(Action::Run(C::Resolve), R::Handler),
    rule(C::Resolve, GridWorker, R::AssignedUnit),
    rule(C::Resolve, CommunityStaff, R::AssignedUnit),
    rule(C::Resolve, StreetStaff, R::AssignedUnit),
    rule(C::Resolve, DepartmentStaff, R::AssignedUnit),
    // 验单: the party organisation's verifier for the area.
    rule(C::Verify, Verifier, R::InArea),
    // 评单: the requester, or staff recording a follow-up call.
    anyone(Action::Run(C::Rate), R::Requester),
    rule(C::Rate, GridWorker, R::InArea),
    rule(C::Rate, CommunityStaff, R::InArea),
    rule(C::Rate, StreetStaff, R::InArea),
    rule(C::Rate, DistrictAdmin, R::InArea),
    // 销号 without a rating: the system when the window ends (see SYSTEM_COMMANDS), or an administrator.
    rule(C::Close, DistrictAdmin, R::InArea),
    // 上报: staff of the current level, or the department it was dispatched to.
    rule(C::Escalate, GridWorker, R::AtLevel),
    rule(C::Escalate, CommunityStaff, R::AtLevel),
    rule(C::Escalate, StreetStaff, R::AtLevel),
    rule(C::Escalate, DepartmentStaff, R::AssignedUnit),
    // 挂账 / 恢复: staff of the current level (with an approver of the level above).
    rule(C::Suspend, GridWorker, R::AtLevel),
    rule(C::Suspend, CommunityStaff, R::AtLevel),
    rule(C::Suspend, StreetStaff, R::AtLevel),
    rule(C::Suspend, DepartmentStaff, R::AssignedUnit),
    rule(C::Suspend, DistrictAdmin, R::AtLevel),
    rule(C::Resume, GridWorker, R::AtLevel),
    rule(C::Resume, CommunityStaff, R::AtLevel),
    rule(C::Resume, StreetStaff, R::AtLevel),
    rule(C::Resume, DepartmentStaff, R::AssignedUnit),
    rule(C::Resume, DistrictAdmin, R::AtLevel),
    // 议单: staff of the current level and the department handling it, the district, supervisors.
    rule(C::Deliberate, CommunityStaff, R::AtLevel),
    rule(C::Deliberate, StreetStaff, R::AtLevel),
    rule(C::Deliberate, DepartmentStaff, R::AssignedUnit),
    rule(C::Deliberate, Supervisor, R::InArea),
    rule(C::Deliberate, DistrictAdmin, R::InArea),
    // 督办.
    rule(C::Publish, GridWorker, R::InArea),
    rule(C::Publish, CommunityStaff, R::InArea),
    rule(C::Publish, StreetStaff, R::InArea),
    rule(C::Publish, DepartmentStaff, R::AssignedUnit),
    rule(C::Publish, Verifier, R::InArea),
    rule(C::Publish, DistrictAdmin, R::InArea),
    rule(C::Supervise, Supervisor, R::InArea),
    rule(C::Supervise, DistrictAdmin, R::InArea),
    // Seeing a request: its requester and handler; the members of the unit it is dispatched to (they
    // claim from that queue); staff, verifiers and supervisors of the area it lies in. Departments see
    // what is dispatched to them, not the whole district.
    anyone(A::View, R::Requester),
    anyone(A::View, R::Handler),
    may(A::View, Member, R::AssignedUnit),
    may(A::View, Volunteer, R::AssignedUnit),
    may(A::View, GridWorker, R::AssignedUnit),
    may(A::View, CommunityStaff, R::AssignedUnit),
    may(A::View, StreetStaff, R::AssignedUnit),
    may(A::View, DepartmentStaff, R::AssignedUnit),
    may(A::View, DistrictAdmin, R::AssignedUnit),
    may(A::View, GridWorker, R::InArea),
    may(A::View, CommunityStaff, R::InArea),
    may(A::View, StreetStaff, R::InArea),
    may(A::View, Verifier, R::InArea),
    may(A::View, Supervisor, R::InArea),
    may(A::View, DistrictAdmin, R::InArea),
    // Unmasked personal data (PIPL: only where there is a need): the requester's own; the person who
    // handles it and the staff of the unit it is dispatched to (they must call or visit); the grid
    // worker and community staff who know the household; the verifier who calls back. Street staff,
    // supervisors and administrators see masked data only.
    anyone(A::Reveal, R::Requester),
    anyone(A::Reveal, R::Handler),
    may(A::Reveal, GridWorker, R::AssignedUnit),
    may(A::Reveal, CommunityStaff, R::AssignedUnit),
    may(A::Reveal, StreetStaff, R::AssignedUnit),
    may(A::Reveal, DepartmentStaff, R::AssignedUnit),
    may(A::Reveal, GridWorker, R::InArea),
    may(A::Reveal, CommunityStaff, R::InArea),
    may(A::Reveal, Verifier, R::InArea),
    // The scorecard of the units and areas in one's area; aggregates over the whole district (by
    // level, category, class) need a district-wide grant.
    may(A::Assess, GridWorker, R::InArea),
    may(A::Assess, CommunityStaff, R::InArea),
    may(A::Assess, StreetStaff, R::InArea),
    may(A::Assess, Verifier, R::InArea),
    may(A::Assess, Supervisor, R::InArea),
    may(A::Assess, DistrictAdmin, R::InArea),
    // The directory, the catalogue, accounts and tokens.
    may(A::Administer, DistrictAdmin, R::InArea),
    // The organisation registers and the activity ledger: the organisation department at the
    // district; street and community staff and the verifying party organisation for their area.
    may(A::Organise, DistrictAdmin, R::InArea),
    may(A::Organise, StreetStaff, R::InArea),
    may(A::Organise, CommunityStaff, R::InArea),
    may(A::Organise, Verifier, R::InArea),
    // Roles: a district administrator anywhere; street and community staff inside their own area,
    // and only roles that do not rank above their own (the organisation department's delegation).
    may(A::Grant, DistrictAdmin, R::InArea),
    may(A::Grant, StreetStaff, R::InArea),
    may(A::Grant, CommunityStaff, R::InArea),
    // The access log (who saw or revealed whose personal data): the auditor, and nobody else.
    may(A::Audit, Auditor, R::InArea),
];

/// Commands the system itself may run (jobs, detectors). The system also reads everything.
pub const SYSTEM_COMMANDS: &[CommandKind] = &[
    C::Submit,
    C::Close,
    C::Supervise,
    C::Escalate,
    C::UpdateAlert,
];

/// What the policy allowed: the role and relation of the first matching row (None for the system).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    pub role: Option<Role>,
    pub relation: Option<Relation>,
}

/// The subject of a check.
pub enum Subject<'a> {
    /// An existing request.
    Request(&'a Request),
    /// The location of a request about to be filed.
    NewAt(crate::ids::AreaId),
    /// An area (a scorecard row of a unit, street or community lies in it).
    Area(crate::ids::AreaId),
    /// The whole district (administration; scorecards summed over the district).
    District,
}

/// Decides whether `actor` may run `command` on `subject`: [`permit`] for [`Action::Run`].
pub fn authorize(
    dir: &Directory,
    actor: &Actor,
    command: CommandKind,
    subject: &Subject<'_>,
) -> Result<Allowed, CoreError> {
    permit(dir, actor, Action::Run(command), subject)
}

/// The roles that reach a restricted request (an elderly person's routine alert) through their
/// area: the grid and the community. Everyone else reaches it only by handling it (its assigned
/// unit, whoever claimed it).
pub const RESTRICTED_ROLES: [Role; 3] = [Role::GridWorker, Role::CommunityStaff, Role::Verifier];

/// Whether a rule still applies when the request is restricted.
pub fn applies_to_restricted(rule: &Rule) -> bool {
    matches!(rule.relation, Relation::Handler | Relation::AssignedUnit)
        || rule.role.is_some_and(|r| RESTRICTED_ROLES.contains(&r))
}

/// Decides whether `actor` may take `action` on `subject` under [`POLICY`]. Refuses with
/// `role_not_allowed` when no role of the actor appears for the action, and with `out_of_scope` (or
/// `not_requester`) when a role appears but not in the right relation.
pub fn permit(
    dir: &Directory,
    actor: &Actor,
    action: Action,
    subject: &Subject<'_>,
) -> Result<Allowed, CoreError> {
    permit_under(POLICY, dir, actor, action, subject)
}

/// [`permit`] under another table: the access-matrix test loosens rows one at a time with it.
pub fn permit_under(
    table: &[Rule],
    dir: &Directory,
    actor: &Actor,
    action: Action,
    subject: &Subject<'_>,
) -> Result<Allowed, CoreError> {
    let person = match actor {
        Actor::System => {
            let ok = match action {
                Action::Run(c) => SYSTEM_COMMANDS.contains(&c),
                Action::View | Action::Assess => true,
                Action::Reveal
                | Action::Administer
                | Action::Organise
                | Action::Grant
                | Action::Audit => false,
            };
            return if ok {
                Ok(Allowed {
                    role: None,
                    relation: None,
                })
            } else {
                Err(CoreError::Forbidden(Denial::RoleNotAllowed))
            };
        }
        Actor::Person(p) => p,
    };
    let mut role_matched = false;
    let mut requester_only = true;
    let restricted = matches!(subject, Subject::Request(r) if r.restricted);
    for rule in table
        .iter()
        .filter(|r| r.action == action && (!restricted || applies_to_restricted(r)))
    {
        for grant in &person.grants {
            if rule.role.is_some_and(|r| r != grant.role) {
                continue;
            }
            role_matched = true;
            if rule.relation != Relation::Requester {
                requester_only = false;
            }
            if relation_holds(dir, person.id, grant, rule.relation, subject) {
                return Ok(Allowed {
                    role: Some(grant.role),
                    relation: Some(rule.relation),
                });
            }
        }
    }
    if !role_matched {
        Err(CoreError::Forbidden(Denial::RoleNotAllowed))
    } else if requester_only {
        Err(CoreError::Forbidden(Denial::NotRequester))
    } else {
        Err(CoreError::Forbidden(Denial::OutOfScope))
    }
}

/// Decides whether `actor` may grant (or revoke) `grant`: the [`Action::Grant`] rows, for the area
/// the grant applies in, held by a role that ranks at least as high as the role granted. Refuses with
/// `role_not_allowed` when no granting role ranks high enough, `out_of_scope` when the area is not
/// the actor's.
pub fn may_grant(dir: &Directory, actor: &Actor, grant: &Grant) -> Result<Allowed, CoreError> {
    may_grant_under(POLICY, dir, actor, grant)
}

/// [`may_grant`] under another table.
pub fn may_grant_under(
    table: &[Rule],
    dir: &Directory,
    actor: &Actor,
    grant: &Grant,
) -> Result<Allowed, CoreError> {
    let Some(area) = dir.grant_area(grant) else {
        return Err(CoreError::Forbidden(Denial::OutOfScope));
    };
    let rank = grant.role.rank();
    let rows: Vec<Rule> = table
        .iter()
        .filter(|r| r.action != Action::Grant || r.role.is_none_or(|role| role.rank() >= rank))
        .copied()
        .collect();
    let allowed = permit_under(&rows, dir, actor, Action::Grant, &Subject::Area(area))?;
    // A grant on a unit also acts for the units above it (their requests reach its people): every
    // one of them must lie within the granter's reach too.
    if let Scope::Unit(u) = grant.scope {
        let mut cur = dir.unit(u).and_then(|x| x.parent_id);
        let mut hops = 0;
        while let Some(p) = cur.filter(|_| hops < 8) {
            let parent = dir
                .unit(p)
                .ok_or(CoreError::Forbidden(Denial::OutOfScope))?;
            permit_under(
                &rows,
                dir,
                actor,
                Action::Grant,
                &Subject::Area(parent.area_id),
            )?;
            cur = parent.parent_id;
            hops += 1;
        }
    }
    // Below the district, each staff role is held at its own level: community staff in a
    // community, grid workers in a grid; so no one hands out a role wider than they could hold.
    let district_wide = permit_under(&rows, dir, actor, Action::Grant, &Subject::District).is_ok();
    if !district_wide && let Some(level) = grant.role.staff_level() {
        let place = match grant.scope {
            Scope::Area(a) => dir.area(a).map(|a| a.kind),
            Scope::Unit(u) => dir.unit(u).map(|u| u.level),
        };
        if place != Some(level) {
            return Err(CoreError::Forbidden(Denial::RoleNotAllowed));
        }
    }
    Ok(allowed)
}

/// Whether any role of the actor appears for `action` at all (before looking at the subject).
pub fn role_may(actor: &Actor, action: Action) -> bool {
    role_may_under(POLICY, actor, action)
}

/// [`role_may`] under another table.
pub fn role_may_under(table: &[Rule], actor: &Actor, action: Action) -> bool {
    match actor {
        Actor::System => true,
        Actor::Person(p) => table
            .iter()
            .filter(|r| r.action == action)
            .any(|r| r.role.is_none() || p.grants.iter().any(|g| Some(g.role) == r.role)),
    }
}

fn relation_holds(
    dir: &Directory,
    person: crate::ids::PersonId,
    grant: &crate::person::Grant,
    relation: Relation,
    subject: &Subject<'_>,
) -> bool {
    let grant_area = dir.grant_area(grant);
    let location = match subject {
        Subject::Request(r) => Some(r.location.area_id),
        Subject::NewAt(a) | Subject::Area(a) => Some(*a),
        Subject::District => None,
    };
    let grant_contains = || match (grant_area, location) {
        (Some(g), Some(l)) => dir.contains(g, l),
        // The whole district: only a grant held at its root covers it.
        (Some(g), None) => dir.area(g).is_some_and(|a| a.parent_id.is_none()),
        _ => false,
    };
    match (relation, subject) {
        (Relation::Anywhere, _) => true,
        (Relation::OwnRequest, Subject::NewAt(a)) => dir.area(*a).is_some(),
        (Relation::InArea, _) => grant_contains(),
        (Relation::AtLevel, Subject::Request(r)) => {
            grant.role.staff_level() == Some(r.level) && grant_contains()
        }
        (Relation::AssignedUnit, Subject::Request(r)) => match (grant.scope, r.unit_id) {
            (Scope::Unit(g), Some(assigned)) => dir.unit_within(g, assigned),
            _ => false,
        },
        (Relation::Handler, Subject::Request(r)) => r.claimed_by == Some(person),
        (Relation::Requester, Subject::Request(r)) => r.requester_id == Some(person),
        _ => false,
    }
}

/// Which requests an actor may see, as a filter a store can apply to a list: derived from the
/// [`Action::View`] rows of [`POLICY`], so lists and counts never include what [`permit`] would
/// refuse.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Visibility {
    /// Everything (the system, or a district-wide grant).
    pub all: bool,
    /// Requests this person filed.
    pub requester: Option<crate::ids::PersonId>,
    /// Requests this person claimed.
    pub handler: Option<crate::ids::PersonId>,
    /// Requests dispatched to one of these units.
    pub units: Vec<crate::ids::UnitId>,
    /// Requests lying in one of these areas (given with the area's level); with a handling level,
    /// only while the request is at that level.
    pub areas: Vec<(
        crate::area::Level,
        crate::ids::AreaId,
        Option<crate::area::Level>,
    )>,
    /// Which restricted requests: the same, from the rules that apply to them
    /// ([`applies_to_restricted`]); None sees none.
    pub restricted: Option<Box<Visibility>>,
}

/// The [`Visibility`] of `actor` under [`POLICY`].
pub fn visibility(dir: &Directory, actor: &Actor) -> Visibility {
    visibility_under(POLICY, dir, actor)
}

/// [`visibility`] under another table.
pub fn visibility_under(table: &[Rule], dir: &Directory, actor: &Actor) -> Visibility {
    let person = match actor {
        Actor::System => {
            let all = Visibility {
                all: true,
                ..Visibility::default()
            };
            return Visibility {
                restricted: Some(Box::new(all.clone())),
                ..all
            };
        }
        Actor::Person(p) => p,
    };
    let sub: Vec<Rule> = table
        .iter()
        .copied()
        .filter(applies_to_restricted)
        .collect();
    let mut v = visibility_of(table, dir, person);
    let r = visibility_of(&sub, dir, person);
    if r != Visibility::default() {
        v.restricted = Some(Box::new(r));
    }
    v
}

fn visibility_of(table: &[Rule], dir: &Directory, person: &crate::person::Person) -> Visibility {
    let mut v = Visibility::default();
    for rule in table.iter().filter(|r| r.action == Action::View) {
        for grant in &person.grants {
            if rule.role.is_some_and(|r| r != grant.role) {
                continue;
            }
            let area = dir.grant_area(grant).and_then(|a| dir.area(a));
            match rule.relation {
                Relation::Anywhere => v.all = true,
                Relation::Requester => v.requester = Some(person.id),
                Relation::Handler => v.handler = Some(person.id),
                Relation::AssignedUnit => {
                    if let Scope::Unit(mut u) = grant.scope {
                        // The grant's unit and every unit it lies within.
                        for _ in 0..8 {
                            if !v.units.contains(&u) {
                                v.units.push(u);
                            }
                            match dir.unit(u).and_then(|x| x.parent_id) {
                                Some(p) => u = p,
                                None => break,
                            }
                        }
                    }
                }
                Relation::InArea | Relation::AtLevel => {
                    let level = (rule.relation == Relation::AtLevel)
                        .then(|| grant.role.staff_level())
                        .flatten();
                    if rule.relation == Relation::AtLevel && level.is_none() {
                        continue;
                    }
                    match area {
                        Some(a) if a.parent_id.is_none() && level.is_none() => v.all = true,
                        Some(a) => {
                            let entry = (a.kind, a.id, level);
                            if !v.areas.contains(&entry) {
                                v.areas.push(entry);
                            }
                        }
                        None => {}
                    }
                }
                Relation::OwnRequest => {}
            }
        }
    }
    v
}

/// Whether `approver` may approve suspending `request`: staff of the level above (a district
/// administrator at the top), whose area holds the location.
pub fn may_approve_suspension(
    dir: &Directory,
    approver: &crate::person::Person,
    request: &Request,
) -> bool {
    let needed = request.level.up().unwrap_or(crate::area::Level::District);
    approver.grants.iter().any(|g| {
        g.role.staff_level() == Some(needed)
            && dir
                .grant_area(g)
                .is_some_and(|a| dir.contains(a, request.location.area_id))
    })
}
