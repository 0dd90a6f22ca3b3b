//! The one policy table: which role, in which relation to a request, may run which command.
//!
//! Deny by default: a command not listed for a role is refused. The API, the pages and the jobs all
//! ask [`authorize`]; nothing else decides permissions.

use crate::directory::Directory;
use crate::error::{CoreError, Denial};
use crate::person::{Actor, Role, Scope};
use crate::request::Request;

/// The commands of WORKFLOW.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    Submit,
    Accept,
    Reject,
    Dispatch,
    Return,
    Claim,
    Note,
    Resolve,
    Verify,
    Rate,
    Close,
    Escalate,
    Suspend,
    Resume,
    Supervise,
}

impl CommandKind {
    pub const ALL: [CommandKind; 15] = [
        CommandKind::Submit,
        CommandKind::Accept,
        CommandKind::Reject,
        CommandKind::Dispatch,
        CommandKind::Return,
        CommandKind::Claim,
        CommandKind::Note,
        CommandKind::Resolve,
        CommandKind::Verify,
        CommandKind::Rate,
        CommandKind::Close,
        CommandKind::Escalate,
        CommandKind::Suspend,
        CommandKind::Resume,
        CommandKind::Supervise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Submit => "submit",
            CommandKind::Accept => "accept",
            CommandKind::Reject => "reject",
            CommandKind::Dispatch => "dispatch",
            CommandKind::Return => "return",
            CommandKind::Claim => "claim",
            CommandKind::Note => "note",
            CommandKind::Resolve => "resolve",
            CommandKind::Verify => "verify",
            CommandKind::Rate => "rate",
            CommandKind::Close => "close",
            CommandKind::Escalate => "escalate",
            CommandKind::Suspend => "suspend",
            CommandKind::Resume => "resume",
            CommandKind::Supervise => "supervise",
        }
    }

    pub fn parse(s: &str) -> Option<CommandKind> {
        CommandKind::ALL.into_iter().find(|c| c.as_str() == s)
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
}

/// One row of the policy table. `role: None` means "any role".
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub command: CommandKind,
    pub role: Option<Role>,
    pub relation: Relation,
}

const fn rule(command: CommandKind, role: Role, relation: Relation) -> Rule {
    Rule {
        command,
        role: Some(role),
        relation,
    }
}

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
    Rule {
        command: C::Note,
        role: None,
        relation: R::Handler,
    },
    rule(C::Note, GridWorker, R::AssignedUnit),
    rule(C::Note, CommunityStaff, R::AssignedUnit),
    rule(C::Note, StreetStaff, R::AssignedUnit),
    rule(C::Note, DepartmentStaff, R::AssignedUnit),
    Rule {
        command: C::Resolve,
        role: None,
        relation: R::Handler,
    },
    rule(C::Resolve, GridWorker, R::AssignedUnit),
    rule(C::Resolve, CommunityStaff, R::AssignedUnit),
    rule(C::Resolve, StreetStaff, R::AssignedUnit),
    rule(C::Resolve, DepartmentStaff, R::AssignedUnit),
    // 验单: the party organisation's verifier for the area.
    rule(C::Verify, Verifier, R::InArea),
    // 评单: the requester, or staff recording a follow-up call.
    Rule {
        command: C::Rate,
        role: None,
        relation: R::Requester,
    },
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
    // 督办.
    rule(C::Supervise, Supervisor, R::InArea),
    rule(C::Supervise, DistrictAdmin, R::InArea),
];

/// Commands the system itself may run (jobs, detectors).
pub const SYSTEM_COMMANDS: &[CommandKind] = &[C::Submit, C::Close, C::Supervise, C::Escalate];

/// What the policy allowed: the role and relation of the first matching row (None for the system).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    pub role: Option<Role>,
    pub relation: Option<Relation>,
}

/// The subject of a check: an existing request, or the location of a request about to be filed.
pub enum Subject<'a> {
    Request(&'a Request),
    NewAt(crate::ids::AreaId),
}

/// Decides whether `actor` may run `command` on `subject`. Refuses with `role_not_allowed` when no role
/// of the actor appears for the command, and with `out_of_scope` (or `not_requester`) when a role
/// appears but not in the right relation.
pub fn authorize(
    dir: &Directory,
    actor: &Actor,
    command: CommandKind,
    subject: &Subject<'_>,
) -> Result<Allowed, CoreError> {
    let person = match actor {
        Actor::System => {
            return if SYSTEM_COMMANDS.contains(&command) {
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
    for rule in POLICY.iter().filter(|r| r.command == command) {
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

fn relation_holds(
    dir: &Directory,
    person: crate::ids::PersonId,
    grant: &crate::person::Grant,
    relation: Relation,
    subject: &Subject<'_>,
) -> bool {
    let location = match subject {
        Subject::Request(r) => r.location.area_id,
        Subject::NewAt(a) => *a,
    };
    let grant_contains = || {
        dir.grant_area(grant)
            .is_some_and(|area| dir.contains(area, location))
    };
    match (relation, subject) {
        (Relation::OwnRequest, Subject::NewAt(_)) => dir.area(location).is_some(),
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
