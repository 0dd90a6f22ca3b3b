//! The lifecycle, command by command: every transition and every refusal.

use crate::area::{Area, Level};
use crate::calendar::Calendar;
use crate::catalogue::{CategoryClass, CategoryItem, Tier};
use crate::command::{Command, Ctx, Facts, Settings, SubmitInput, decide, decide_submit, person};
use crate::deadline::WorkingTimePolicy;
use crate::directory::Directory;
use crate::error::{Conflict, CoreError, Denial};
use crate::ids::*;
use crate::person::{Actor, Grant, Person, Role, Scope};
use crate::request::*;
use crate::unit::{Unit, UnitKind};
use chrono::{DateTime, Duration, TimeZone, Utc};

const DISTRICT: AreaId = AreaId(1);
const STREET_A: AreaId = AreaId(10);
const STREET_B: AreaId = AreaId(20);
const COMM_A1: AreaId = AreaId(100);
const COMM_B1: AreaId = AreaId(200);
const GRID_A1_1: AreaId = AreaId(1000);
const GRID_A1_2: AreaId = AreaId(1001);
const GRID_B1_1: AreaId = AreaId(2000);

const U_GRID_A1_1: UnitId = UnitId(1);
const U_COMM_A1: UnitId = UnitId(2);
const U_STREET_A: UnitId = UnitId(3);
const U_DEPT_HOUSING: UnitId = UnitId(4);
const U_DISTRICT: UnitId = UnitId(5);
const U_TEAM_A1: UnitId = UnitId(6);
const U_COMM_B1: UnitId = UnitId(7);
const U_INACTIVE: UnitId = UnitId(8);

const CAT_GARBAGE: CategoryId = CategoryId(1);
const CAT_ROAD: CategoryId = CategoryId(2);
const CAT_OLD: CategoryId = CategoryId(3);

fn area(id: AreaId, parent: Option<AreaId>, kind: Level, code: &str) -> Area {
    Area {
        id,
        parent_id: parent,
        kind,
        code: code.into(),
        name: format!("area {code}"),
    }
}

fn unit(id: UnitId, kind: UnitKind, area_id: AreaId, level: Level, parent: Option<UnitId>) -> Unit {
    Unit {
        id,
        name: format!("unit {id}"),
        kind,
        area_id,
        level,
        parent_id: parent,
        active: id != U_INACTIVE,
        code: None,
    }
}

fn dir() -> Directory {
    let areas = vec![
        area(DISTRICT, None, Level::District, "120116"),
        area(STREET_A, Some(DISTRICT), Level::Street, "120116001"),
        area(STREET_B, Some(DISTRICT), Level::Street, "120116002"),
        area(COMM_A1, Some(STREET_A), Level::Community, "120116001001"),
        area(COMM_B1, Some(STREET_B), Level::Community, "120116002001"),
        area(GRID_A1_1, Some(COMM_A1), Level::Grid, "12011600100101"),
        area(GRID_A1_2, Some(COMM_A1), Level::Grid, "12011600100102"),
        area(GRID_B1_1, Some(COMM_B1), Level::Grid, "12011600200101"),
    ];
    let units = vec![
        unit(
            U_GRID_A1_1,
            UnitKind::GridTeam,
            GRID_A1_1,
            Level::Grid,
            None,
        ),
        unit(
            U_COMM_A1,
            UnitKind::CommunityOffice,
            COMM_A1,
            Level::Community,
            None,
        ),
        unit(
            U_STREET_A,
            UnitKind::StreetOffice,
            STREET_A,
            Level::Street,
            None,
        ),
        unit(
            U_DEPT_HOUSING,
            UnitKind::Department,
            DISTRICT,
            Level::Street,
            None,
        ),
        unit(
            U_DISTRICT,
            UnitKind::DistrictOffice,
            DISTRICT,
            Level::District,
            None,
        ),
        unit(
            U_TEAM_A1,
            UnitKind::Team,
            COMM_A1,
            Level::Community,
            Some(U_COMM_A1),
        ),
        unit(
            U_COMM_B1,
            UnitKind::CommunityOffice,
            COMM_B1,
            Level::Community,
            None,
        ),
        unit(
            U_INACTIVE,
            UnitKind::CommunityOffice,
            COMM_A1,
            Level::Community,
            None,
        ),
    ];
    let classes = vec![CategoryClass {
        id: ClassId(1),
        code: "env".into(),
        name_zh: "市容环境".into(),
        name_en: "Environment".into(),
        sort: 1,
    }];
    let item = |id: CategoryId, code: &str, tier: Tier, active: bool| CategoryItem {
        id,
        class_id: ClassId(1),
        code: code.into(),
        name_zh: code.into(),
        name_en: code.into(),
        default_tier: tier,
        default_level: tier.default_level(),
        respond_limit: None,
        resolve_limit: None,
        active,
        sort: id.0 as i32,
    };
    let items = vec![
        item(CAT_GARBAGE, "env.garbage", Tier::Micro, true),
        item(CAT_ROAD, "env.road", Tier::Medium, true),
        item(CAT_OLD, "env.old", Tier::Minor, false),
    ];
    Directory::new(areas, units, classes, items)
}

fn g(role: Role, scope: Scope) -> Grant {
    Grant { role, scope }
}

// People of the fixture.
fn resident() -> Actor {
    person(100, "张三", vec![g(Role::Resident, Scope::Area(DISTRICT))])
}
fn other_resident() -> Actor {
    person(101, "李四", vec![g(Role::Resident, Scope::Area(DISTRICT))])
}
fn grid_worker() -> Actor {
    person(
        200,
        "王网格",
        vec![g(Role::GridWorker, Scope::Unit(U_GRID_A1_1))],
    )
}
fn grid_worker_b() -> Actor {
    person(
        201,
        "赵网格",
        vec![g(Role::GridWorker, Scope::Area(GRID_B1_1))],
    )
}
fn community_staff() -> Actor {
    person(
        300,
        "社区甲",
        vec![g(Role::CommunityStaff, Scope::Unit(U_COMM_A1))],
    )
}
fn community_staff_b() -> Actor {
    person(
        301,
        "社区乙",
        vec![g(Role::CommunityStaff, Scope::Unit(U_COMM_B1))],
    )
}
fn street_staff() -> Actor {
    person(
        400,
        "街道甲",
        vec![g(Role::StreetStaff, Scope::Unit(U_STREET_A))],
    )
}
fn dept_staff() -> Actor {
    person(
        450,
        "住建甲",
        vec![g(Role::DepartmentStaff, Scope::Unit(U_DEPT_HOUSING))],
    )
}
fn member_of_team() -> Actor {
    person(500, "党员甲", vec![g(Role::Member, Scope::Unit(U_TEAM_A1))])
}
fn volunteer_grid() -> Actor {
    person(
        501,
        "志愿者甲",
        vec![g(Role::Volunteer, Scope::Unit(U_GRID_A1_1))],
    )
}
fn verifier() -> Actor {
    person(600, "验单甲", vec![g(Role::Verifier, Scope::Area(COMM_A1))])
}
fn verifier_b() -> Actor {
    person(601, "验单乙", vec![g(Role::Verifier, Scope::Area(COMM_B1))])
}
fn supervisor() -> Actor {
    person(
        700,
        "督办甲",
        vec![g(Role::Supervisor, Scope::Area(DISTRICT))],
    )
}
fn admin() -> Actor {
    person(
        900,
        "区管理员",
        vec![g(Role::DistrictAdmin, Scope::Area(DISTRICT))],
    )
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 12, 1, 0, 0)
        .single()
        .unwrap_or_default()
}

struct World {
    dir: Directory,
    settings: Settings,
    facts: Facts,
    now: DateTime<Utc>,
    policy: Option<WorkingTimePolicy>,
}

impl World {
    fn new() -> Self {
        World {
            dir: dir(),
            settings: Settings::default(),
            facts: Facts::default(),
            now: t0(),
            policy: None,
        }
    }
    /// A world with deadlines on the default calendar (Mon–Fri 08:30–12:00, 13:30–17:30).
    fn timed() -> Self {
        World {
            policy: Some(WorkingTimePolicy::new(Calendar::new(vec![]))),
            ..World::new()
        }
    }
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            dir: &self.dir,
            now: self.now,
            settings: &self.settings,
            facts: &self.facts,
            deadlines: self
                .policy
                .as_ref()
                .map(|p| p as &dyn crate::command::DeadlinePolicy),
        }
    }
    fn submit_as(&self, actor: &Actor, input: SubmitInput) -> Result<Request, CoreError> {
        let d = decide_submit(actor, &input, vec![], &self.ctx())?;
        let e = Event {
            request_id: RequestId(1),
            seq: 1,
            at: self.now,
            actor: d.actor,
            body: d.body,
        };
        apply(None, &e).map_err(|_| CoreError::validation("replay", "invalid"))
    }
    fn submit(&self) -> Request {
        self.submit_as(&resident(), garbage_input())
            .unwrap_or_else(|e| panic!("submit: {e}"))
    }
    fn run(&mut self, r: &Request, actor: &Actor, cmd: Command) -> Result<Request, CoreError> {
        self.now += Duration::minutes(10);
        let d = decide(r, actor, &cmd, vec![], &self.ctx())?;
        let e = d.event_for(r, self.now);
        apply(Some(r.clone()), &e).map_err(|_| CoreError::validation("replay", "invalid"))
    }
    fn ok(&mut self, r: &Request, actor: &Actor, cmd: Command) -> Request {
        self.run(r, actor, cmd.clone())
            .unwrap_or_else(|e| panic!("{cmd:?} should succeed: {e}"))
    }
    fn err(&mut self, r: &Request, actor: &Actor, cmd: Command) -> CoreError {
        match self.run(r, actor, cmd.clone()) {
            Ok(_) => panic!("{cmd:?} should be refused"),
            Err(e) => e,
        }
    }
}

fn garbage_input() -> SubmitInput {
    SubmitInput {
        category_id: None,
        channel: Some(Channel::App),
        description: Some("楼道垃圾三天没人清运".into()),
        area_id: Some(GRID_A1_1),
        address: Some("幸福里3号楼2单元".into()),
        ..Default::default()
    }
}

fn accept(cat: CategoryId) -> Command {
    Command::Accept {
        public_summary: None,
        category_id: Some(cat),
        tier: None,
        urgent: None,
        level: None,
    }
}
fn dispatch(u: UnitId) -> Command {
    Command::Dispatch { unit_id: Some(u) }
}
fn resolve() -> Command {
    Command::Resolve {
        public_summary: None,
        outcome: None,
        summary: Some("已联系物业清运完毕".into()),
        evidence: vec![],
        cost_fen: Some(0),
    }
}
fn verify(passed: bool) -> Command {
    Command::Verify {
        passed: Some(passed),
        reason: (!passed).then(|| "现场仍有垃圾".to_string()),
        reached: None,
    }
}
fn rate(resolved: bool, s: Satisfaction) -> Command {
    Command::Rate {
        resolved: Some(resolved),
        satisfaction: Some(s),
        comment: None,
    }
}
fn reason(s: &str) -> Option<String> {
    Some(s.to_string())
}

fn fields_of(e: &CoreError) -> Vec<(String, &'static str)> {
    match e {
        CoreError::Validation(f) => f.iter().map(|f| (f.field.clone(), f.code)).collect(),
        other => panic!("expected a validation error, got {other}"),
    }
}

fn invalid_from(e: &CoreError) -> Status {
    match e {
        CoreError::InvalidTransition { status, .. } => *status,
        other => panic!("expected invalid_transition, got {other}"),
    }
}

/// Carries a request to `claimed` at grid level.
fn claimed(w: &mut World) -> Request {
    let r = w.submit();
    let r = w.ok(&r, &grid_worker(), accept(CAT_GARBAGE));
    let r = w.ok(&r, &grid_worker(), dispatch(U_GRID_A1_1));
    w.ok(&r, &volunteer_grid(), Command::Claim {})
}

fn verified(w: &mut World) -> Request {
    let r = claimed(w);
    let r = w.ok(&r, &volunteer_grid(), resolve());
    w.ok(&r, &verifier(), verify(true))
}

// ---------------------------------------------------------------- the main line

#[test]
fn the_main_line_runs_from_submitted_to_closed() {
    let mut w = World::new();
    let r = w.submit();
    assert_eq!(r.status, Status::Submitted);
    assert_eq!(r.requester_id, Some(PersonId(100)));
    assert_eq!(r.level, Level::Grid);
    assert_eq!(r.location.community_id, COMM_A1);
    assert_eq!(r.location.street_id, STREET_A);
    assert_eq!(r.location.grid_id, Some(GRID_A1_1));

    let r = w.ok(&r, &grid_worker(), accept(CAT_GARBAGE));
    assert_eq!(
        (r.status, r.tier, r.level),
        (Status::Accepted, Some(Tier::Micro), Level::Grid)
    );
    let r = w.ok(&r, &grid_worker(), dispatch(U_GRID_A1_1));
    assert_eq!(
        (r.status, r.unit_id),
        (Status::Dispatched, Some(U_GRID_A1_1))
    );
    let r = w.ok(&r, &volunteer_grid(), Command::Claim {});
    assert_eq!(
        (r.status, r.claimed_by),
        (Status::Claimed, Some(PersonId(501)))
    );
    assert!(r.responded_at.is_some());
    let r = w.ok(
        &r,
        &volunteer_grid(),
        Command::Note {
            text: reason("已电话联系居民"),
            contact_made: Some(true),
        },
    );
    assert_eq!(r.status, Status::Claimed);
    let r = w.ok(&r, &volunteer_grid(), resolve());
    assert_eq!(r.status, Status::Resolved);
    assert_eq!(r.resolution.as_deref(), Some("已联系物业清运完毕"));
    let r = w.ok(&r, &verifier(), verify(true));
    assert_eq!(r.status, Status::Verified);
    let r = w.ok(&r, &resident(), rate(true, Satisfaction::Satisfied));
    assert_eq!(r.status, Status::Closed);
    assert!(r.closed_at.is_some());
    assert_eq!(r.rating.as_ref().map(|x| x.via), Some(RatedVia::Requester));
    assert_eq!(r.version, 8);
    assert_eq!(r.rework_count, 0);
}

#[test]
fn replay_rebuilds_the_projection_exactly() {
    let mut w = World::new();
    let mut events = Vec::new();
    let d = decide_submit(&resident(), &garbage_input(), vec![], &w.ctx())
        .unwrap_or_else(|e| panic!("{e}"));
    let first = Event {
        request_id: RequestId(9),
        seq: 1,
        at: w.now,
        actor: d.actor,
        body: d.body,
    };
    let mut r = apply(None, &first).unwrap_or_else(|e| panic!("{e}"));
    events.push(first);
    for (actor, cmd) in [
        (grid_worker(), accept(CAT_GARBAGE)),
        (grid_worker(), dispatch(U_GRID_A1_1)),
        (volunteer_grid(), Command::Claim {}),
        (volunteer_grid(), resolve()),
        (verifier(), verify(false)),
        (volunteer_grid(), resolve()),
        (verifier(), verify(true)),
        (resident(), rate(false, Satisfaction::Unsatisfied)),
    ] {
        w.now += Duration::hours(1);
        let d =
            decide(&r, &actor, &cmd, vec![], &w.ctx()).unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        let e = d.event_for(&r, w.now);
        r = apply(Some(r), &e).unwrap_or_else(|e| panic!("{e}"));
        events.push(e);
    }
    assert_eq!(r.status, Status::Dispatched);
    assert_eq!(r.rework_count, 2);
    assert_eq!(replay(&events).ok().flatten(), Some(r));
}

#[test]
fn replay_refuses_gaps_and_misplaced_submissions() {
    let w = World::new();
    let d = decide_submit(&resident(), &garbage_input(), vec![], &w.ctx())
        .unwrap_or_else(|e| panic!("{e}"));
    let first = Event {
        request_id: RequestId(1),
        seq: 1,
        at: w.now,
        actor: d.actor,
        body: d.body,
    };
    let mut second = first.clone();
    second.seq = 2;
    assert_eq!(
        replay(&[first.clone(), second]),
        Err(ReplayError::NotSubmittedFirst { seq: 2 })
    );
    let accepted = Event {
        request_id: RequestId(1),
        seq: 3,
        at: w.now,
        actor: ActorRef::SYSTEM,
        body: EventBody::Closed {},
    };
    assert_eq!(
        replay(&[first.clone(), accepted.clone()]),
        Err(ReplayError::BadSequence {
            expected: 2,
            found: 3
        })
    );
    assert_eq!(
        replay(&[accepted]),
        Err(ReplayError::NotSubmittedFirst { seq: 3 })
    );
    let mut other = first.clone();
    other.request_id = RequestId(2);
    other.seq = 2;
    other.body = EventBody::Closed {};
    assert_eq!(
        replay(&[first, other]),
        Err(ReplayError::WrongRequest { seq: 2 })
    );
}

// ---------------------------------------------------------------- submit

#[test]
fn submit_by_staff_on_behalf_records_a_contact() {
    let w = World::new();
    let input = SubmitInput {
        category_id: None,
        channel: Some(Channel::Hotline),
        requester_name: Some("刘大爷".into()),
        requester_phone: Some("138-1234-5678".into()),
        area_id: Some(COMM_A1),
        ..garbage_input()
    };
    let d = decide_submit(&community_staff(), &input, vec![], &w.ctx())
        .unwrap_or_else(|e| panic!("{e}"));
    let contact = d.contact.unwrap_or_else(|| panic!("contact expected"));
    assert_eq!(contact.phone, "13812345678");
    assert_eq!(d.actor.role, Some(Role::CommunityStaff));
    match d.body {
        EventBody::Submitted {
            level,
            requester_id,
            ..
        } => {
            assert_eq!(level, Level::Community);
            assert_eq!(requester_id, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn submit_by_the_system_needs_no_requester() {
    let w = World::new();
    let input = SubmitInput {
        category_id: None,
        channel: Some(Channel::PowerAlert),
        ..garbage_input()
    };
    let d =
        decide_submit(&Actor::System, &input, vec![], &w.ctx()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.actor, ActorRef::SYSTEM);
}

#[test]
fn submit_lists_every_bad_field() {
    let w = World::new();
    let input = SubmitInput {
        category_id: None,
        restricted: false,
        channel: None,
        description: Some("   ".into()),
        area_id: Some(GRID_A1_1),
        address: Some("长".repeat(201)),
        lat: Some(91.0),
        lon: None,
        requester_name: Some("x".into()),
        requester_phone: None,
        attachments: vec![Attachment {
            id: "zz".into(),
            name: "a.jpg".into(),
        }],
    };
    let e = w
        .submit_as(&resident(), input)
        .err()
        .unwrap_or_else(|| panic!("refused"));
    let f = fields_of(&e);
    for want in [
        ("channel", "required"),
        ("description", "required"),
        ("address", "too_long"),
        ("lon", "required"),
        ("requester_name", "not_allowed"),
        ("attachments[0].id", "invalid"),
    ] {
        assert!(
            f.contains(&(want.0.to_string(), want.1)),
            "{want:?} missing in {f:?}"
        );
    }
}

#[test]
fn submit_refuses_bad_places_channels_and_contacts() {
    let w = World::new();
    let no_area = SubmitInput {
        category_id: None,
        area_id: None,
        ..garbage_input()
    };
    assert_eq!(
        fields_of(
            &w.submit_as(&resident(), no_area)
                .err()
                .unwrap_or_else(|| panic!())
        ),
        vec![("area_id".into(), "required")]
    );
    let unknown = SubmitInput {
        category_id: None,
        area_id: Some(AreaId(99999)),
        ..garbage_input()
    };
    assert_eq!(
        fields_of(
            &w.submit_as(&resident(), unknown)
                .err()
                .unwrap_or_else(|| panic!())
        ),
        vec![("area_id".into(), "unknown")]
    );
    let street = SubmitInput {
        category_id: None,
        area_id: Some(STREET_A),
        ..garbage_input()
    };
    assert_eq!(
        fields_of(
            &w.submit_as(&resident(), street)
                .err()
                .unwrap_or_else(|| panic!())
        ),
        vec![("area_id".into(), "not_allowed")]
    );
    let hotline = SubmitInput {
        category_id: None,
        channel: Some(Channel::Hotline),
        ..garbage_input()
    };
    assert_eq!(
        fields_of(
            &w.submit_as(&resident(), hotline)
                .err()
                .unwrap_or_else(|| panic!())
        ),
        vec![("channel".into(), "not_allowed")]
    );
    let bad_phone = SubmitInput {
        category_id: None,
        channel: Some(Channel::Window),
        requester_name: Some("刘大爷".into()),
        requester_phone: Some("12345".into()),
        ..garbage_input()
    };
    assert_eq!(
        fields_of(
            &w.submit_as(&community_staff(), bad_phone)
                .err()
                .unwrap_or_else(|| panic!())
        ),
        vec![("requester_phone".into(), "invalid")]
    );
    let half_contact = SubmitInput {
        category_id: None,
        channel: Some(Channel::Window),
        requester_name: Some("刘大爷".into()),
        ..garbage_input()
    };
    assert_eq!(
        fields_of(
            &w.submit_as(&community_staff(), half_contact)
                .err()
                .unwrap_or_else(|| panic!())
        ),
        vec![("requester_phone".into(), "required")]
    );
    let too_long = SubmitInput {
        category_id: None,
        description: Some("字".repeat(2001)),
        ..garbage_input()
    };
    assert_eq!(
        fields_of(
            &w.submit_as(&resident(), too_long)
                .err()
                .unwrap_or_else(|| panic!())
        ),
        vec![("description".into(), "too_long")]
    );
}

#[test]
fn submit_refuses_staff_outside_their_area_and_roles_that_may_not_file() {
    let w = World::new();
    // A community-B staffer may not file for a place in community A.
    assert_eq!(
        w.submit_as(
            &community_staff_b(),
            SubmitInput {
                category_id: None,
                channel: Some(Channel::Window),
                ..garbage_input()
            }
        )
        .err(),
        Some(CoreError::Forbidden(Denial::OutOfScope))
    );
    // A verifier has no submit rule at all.
    assert_eq!(
        w.submit_as(&verifier(), garbage_input()).err(),
        Some(CoreError::Forbidden(Denial::RoleNotAllowed))
    );
    assert_eq!(
        w.submit_as(
            &verifier(),
            SubmitInput {
                category_id: None,
                area_id: None,
                ..garbage_input()
            }
        )
        .err(),
        Some(CoreError::Forbidden(Denial::RoleNotAllowed))
    );
    // The system may not use a resident channel? It may: the system files through any channel.
    assert!(w.submit_as(&Actor::System, garbage_input()).is_ok());
    // A supervisor files only inspection findings.
    assert!(
        w.submit_as(
            &supervisor(),
            SubmitInput {
                category_id: None,
                channel: Some(Channel::Inspection),
                ..garbage_input()
            }
        )
        .is_ok()
    );
    assert!(w.submit_as(&supervisor(), garbage_input()).is_err());
}

// ---------------------------------------------------------------- accept / reject

#[test]
fn accept_takes_category_defaults_and_overrides() {
    let mut w = World::new();
    let r = w.submit();
    let a = w.ok(&r, &community_staff(), accept(CAT_ROAD));
    assert_eq!((a.tier, a.level), (Some(Tier::Medium), Level::Street));
    let a = w.ok(
        &r,
        &community_staff(),
        Command::Accept {
            public_summary: None,
            category_id: Some(CAT_GARBAGE),
            tier: Some(Tier::Hard),
            urgent: Some(true),
            level: None,
        },
    );
    assert_eq!(
        (a.tier, a.level, a.urgent),
        (Some(Tier::Hard), Level::District, true)
    );
    let a = w.ok(
        &r,
        &community_staff(),
        Command::Accept {
            public_summary: None,
            category_id: Some(CAT_GARBAGE),
            tier: None,
            urgent: None,
            level: Some(Level::Community),
        },
    );
    assert_eq!((a.tier, a.level), (Some(Tier::Micro), Level::Community));
}

#[test]
fn accept_refusals() {
    let mut w = World::new();
    let r = w.submit();
    assert_eq!(
        w.err(&r, &resident(), accept(CAT_GARBAGE)),
        CoreError::Forbidden(Denial::RoleNotAllowed)
    );
    assert_eq!(
        w.err(&r, &grid_worker_b(), accept(CAT_GARBAGE)),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    assert_eq!(
        w.err(&r, &community_staff_b(), accept(CAT_GARBAGE)),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    let none = Command::Accept {
        public_summary: None,
        category_id: None,
        tier: None,
        urgent: None,
        level: None,
    };
    assert_eq!(
        fields_of(&w.err(&r, &grid_worker(), none)),
        vec![("category_id".into(), "required")]
    );
    assert_eq!(
        fields_of(&w.err(&r, &grid_worker(), accept(CategoryId(77)))),
        vec![("category_id".into(), "unknown")]
    );
    assert_eq!(
        fields_of(&w.err(&r, &grid_worker(), accept(CAT_OLD))),
        vec![("category_id".into(), "inactive")]
    );
    // A request filed at community level cannot be handled by a grid.
    let c = w
        .submit_as(
            &resident(),
            SubmitInput {
                category_id: None,
                area_id: Some(COMM_A1),
                ..garbage_input()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        fields_of(&w.err(&c, &community_staff(), accept(CAT_GARBAGE))),
        vec![("level".into(), "not_allowed")]
    );
    let a = w.ok(&r, &grid_worker(), accept(CAT_GARBAGE));
    assert_eq!(
        invalid_from(&w.err(&a, &grid_worker(), accept(CAT_GARBAGE))),
        Status::Accepted
    );
}

#[test]
fn reject_from_submitted_and_accepted_with_reasons() {
    let mut w = World::new();
    let r = w.submit();
    let x = w.ok(
        &r,
        &community_staff(),
        Command::Reject {
            code: Some(RejectCode::NoContent),
            duplicate_of: None,
            text: None,
        },
    );
    assert_eq!(
        (x.status, x.reject_code),
        (Status::Rejected, Some(RejectCode::NoContent))
    );
    let a = w.ok(&r, &grid_worker(), accept(CAT_GARBAGE));
    w.facts.requests.insert(RequestId(42));
    let x = w.ok(
        &a,
        &grid_worker(),
        Command::Reject {
            code: Some(RejectCode::Duplicate),
            duplicate_of: Some(RequestId(42)),
            text: None,
        },
    );
    assert_eq!(
        (x.status, x.duplicate_of),
        (Status::Rejected, Some(RequestId(42)))
    );
    // A rejected request is terminal.
    assert_eq!(
        invalid_from(&w.err(&x, &grid_worker(), accept(CAT_GARBAGE))),
        Status::Rejected
    );
    assert_eq!(
        invalid_from(&w.err(&x, &supervisor(), Command::Supervise { order: reason("x") })),
        Status::Rejected
    );
}

#[test]
fn reject_refusals() {
    let mut w = World::new();
    let r = w.submit();
    let rej = |code, dup: Option<i64>, text: Option<&str>| Command::Reject {
        code,
        duplicate_of: dup.map(RequestId),
        text: text.map(String::from),
    };
    assert_eq!(
        fields_of(&w.err(&r, &grid_worker(), rej(None, None, None))),
        vec![("code".into(), "required")]
    );
    assert_eq!(
        fields_of(&w.err(
            &r,
            &grid_worker(),
            rej(Some(RejectCode::Duplicate), None, None)
        )),
        vec![("duplicate_of".into(), "required")]
    );
    assert_eq!(
        fields_of(&w.err(
            &r,
            &grid_worker(),
            rej(Some(RejectCode::Duplicate), Some(5), None)
        )),
        vec![("duplicate_of".into(), "unknown")]
    );
    assert_eq!(
        fields_of(&w.err(
            &r,
            &grid_worker(),
            rej(Some(RejectCode::Duplicate), Some(1), None)
        )),
        vec![("duplicate_of".into(), "invalid")]
    );
    assert_eq!(
        fields_of(&w.err(&r, &grid_worker(), rej(Some(RejectCode::Other), None, None))),
        vec![("text".into(), "required")]
    );
    assert_eq!(
        fields_of(&w.err(
            &r,
            &grid_worker(),
            rej(Some(RejectCode::NoContent), Some(5), None)
        )),
        vec![("duplicate_of".into(), "not_allowed")]
    );
    assert_eq!(
        w.err(
            &r,
            &volunteer_grid(),
            rej(Some(RejectCode::NoContent), None, None)
        ),
        CoreError::Forbidden(Denial::RoleNotAllowed)
    );
    assert_eq!(
        w.err(
            &r,
            &grid_worker_b(),
            rej(Some(RejectCode::NoContent), None, None)
        ),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    let d = claimed(&mut w);
    assert_eq!(
        invalid_from(&w.err(
            &d,
            &grid_worker(),
            rej(Some(RejectCode::NoContent), None, None)
        )),
        Status::Claimed
    );
}

// ---------------------------------------------------------------- dispatch / return

#[test]
fn dispatch_to_departments_at_street_level() {
    let mut w = World::new();
    let r = w.submit();
    let a = w.ok(&r, &community_staff(), accept(CAT_ROAD));
    assert_eq!(a.level, Level::Street);
    let d = w.ok(&a, &street_staff(), dispatch(U_DEPT_HOUSING));
    assert_eq!(d.unit_id, Some(U_DEPT_HOUSING));
    let d2 = w.ok(&a, &street_staff(), dispatch(U_STREET_A));
    assert_eq!(d2.unit_id, Some(U_STREET_A));
}

#[test]
fn dispatch_refusals() {
    let mut w = World::new();
    let r = w.submit();
    assert_eq!(
        invalid_from(&w.err(&r, &grid_worker(), dispatch(U_GRID_A1_1))),
        Status::Submitted
    );
    let a = w.ok(&r, &community_staff(), accept(CAT_GARBAGE)); // grid level
    assert_eq!(
        w.err(&a, &member_of_team(), dispatch(U_GRID_A1_1)),
        CoreError::Forbidden(Denial::RoleNotAllowed)
    );
    // Community staff are not the grid level's dispatcher.
    assert_eq!(
        w.err(&a, &community_staff(), dispatch(U_GRID_A1_1)),
        CoreError::Forbidden(Denial::OutOfScope)
    );
    assert_eq!(
        w.err(&a, &grid_worker_b(), dispatch(U_GRID_A1_1)),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    let none = Command::Dispatch { unit_id: None };
    assert_eq!(
        fields_of(&w.err(&a, &grid_worker(), none)),
        vec![("unit_id".into(), "required")]
    );
    assert_eq!(
        fields_of(&w.err(&a, &grid_worker(), dispatch(UnitId(999)))),
        vec![("unit_id".into(), "unknown")]
    );
    assert_eq!(
        fields_of(&w.err(&a, &grid_worker(), dispatch(U_COMM_A1))),
        vec![("unit_id".into(), "wrong_level")]
    );
    let c = w.ok(
        &r,
        &community_staff(),
        Command::Accept {
            public_summary: None,
            category_id: Some(CAT_GARBAGE),
            tier: None,
            urgent: None,
            level: Some(Level::Community),
        },
    );
    assert_eq!(
        fields_of(&w.err(&c, &community_staff(), dispatch(U_COMM_B1))),
        vec![("unit_id".into(), "outside_area")]
    );
    assert_eq!(
        fields_of(&w.err(&c, &community_staff(), dispatch(U_INACTIVE))),
        vec![("unit_id".into(), "inactive")]
    );
    assert!(w.run(&c, &community_staff(), dispatch(U_TEAM_A1)).is_ok());
}

#[test]
fn return_sends_it_back_to_the_dispatcher() {
    let mut w = World::new();
    let r = claimed(&mut w);
    let x = w.ok(
        &r,
        &grid_worker(),
        Command::Return {
            reason: reason("不属于本网格"),
        },
    );
    assert_eq!(
        (x.status, x.unit_id, x.claimed_by),
        (Status::Accepted, None, None)
    );
    let r = w.submit();
    let r = w.ok(&r, &grid_worker(), accept(CAT_GARBAGE));
    let r = w.ok(&r, &grid_worker(), dispatch(U_GRID_A1_1));
    let x = w.ok(
        &r,
        &grid_worker(),
        Command::Return {
            reason: reason("重复"),
        },
    );
    assert_eq!(x.status, Status::Accepted);
    let again = w.ok(&x, &grid_worker(), dispatch(U_GRID_A1_1));
    assert_eq!(again.status, Status::Dispatched);
}

#[test]
fn return_refusals() {
    let mut w = World::new();
    let r = claimed(&mut w);
    assert_eq!(
        fields_of(&w.err(&r, &grid_worker(), Command::Return { reason: None })),
        vec![("reason".into(), "required")]
    );
    assert_eq!(
        fields_of(&w.err(
            &r,
            &grid_worker(),
            Command::Return {
                reason: Some("长".repeat(501))
            }
        )),
        vec![("reason".into(), "too_long")]
    );
    // Someone outside the assigned unit.
    assert_eq!(
        w.err(
            &r,
            &community_staff(),
            Command::Return {
                reason: reason("x")
            }
        ),
        CoreError::Forbidden(Denial::OutOfScope)
    );
    assert_eq!(
        w.err(
            &r,
            &volunteer_grid(),
            Command::Return {
                reason: reason("x")
            }
        ),
        CoreError::Forbidden(Denial::RoleNotAllowed)
    );
    let s = w.submit();
    // Not yet dispatched: no unit holds it, so nobody may return it (refused before the state).
    assert_eq!(
        w.err(
            &s,
            &grid_worker(),
            Command::Return {
                reason: reason("x")
            }
        ),
        CoreError::Forbidden(Denial::OutOfScope)
    );
}

// ---------------------------------------------------------------- claim / note / resolve

#[test]
fn claim_by_members_of_a_team_inside_the_unit() {
    let mut w = World::new();
    let r = w.submit();
    let r = w.ok(
        &r,
        &community_staff(),
        Command::Accept {
            public_summary: None,
            category_id: Some(CAT_GARBAGE),
            tier: Some(Tier::Minor),
            urgent: None,
            level: None,
        },
    );
    let r = w.ok(&r, &community_staff(), dispatch(U_COMM_A1));
    let c = w.ok(&r, &member_of_team(), Command::Claim {});
    assert_eq!(c.claimed_by, Some(PersonId(500)));
}

#[test]
fn claim_refusals() {
    let mut w = World::new();
    let r = w.submit();
    let r = w.ok(&r, &grid_worker(), accept(CAT_GARBAGE));
    // Not yet in the unit's queue: the volunteer cannot see it.
    assert_eq!(
        w.err(&r, &volunteer_grid(), Command::Claim {}),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    let r = w.ok(&r, &grid_worker(), dispatch(U_GRID_A1_1));
    assert_eq!(
        w.err(&r, &member_of_team(), Command::Claim {}),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    assert_eq!(
        w.err(&r, &resident(), Command::Claim {}),
        CoreError::Forbidden(Denial::RoleNotAllowed)
    );
    let c = w.ok(&r, &volunteer_grid(), Command::Claim {});
    assert_eq!(
        invalid_from(&w.err(&c, &grid_worker(), Command::Claim {})),
        Status::Claimed
    );
}

#[test]
fn note_records_progress_and_contact() {
    let mut w = World::new();
    let r = w.submit();
    let r = w.ok(&r, &grid_worker(), accept(CAT_GARBAGE));
    let r = w.ok(&r, &grid_worker(), dispatch(U_GRID_A1_1));
    let r = w.ok(&r, &volunteer_grid(), Command::Claim {});
    let first = r.responded_at;
    let n = w.ok(
        &r,
        &grid_worker(),
        Command::Note {
            text: reason("已上门"),
            contact_made: Some(true),
        },
    );
    assert_eq!(
        n.responded_at, first,
        "the first response stays the response"
    );
    assert_eq!(n.version, r.version + 1);
    assert_eq!(
        fields_of(&w.err(
            &r,
            &volunteer_grid(),
            Command::Note {
                text: None,
                contact_made: None
            }
        )),
        vec![("text".into(), "required")]
    );
    assert_eq!(
        w.err(
            &r,
            &member_of_team(),
            Command::Note {
                text: reason("x"),
                contact_made: None
            }
        ),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    let s = w.submit();
    // Before dispatch the volunteer cannot see it.
    assert_eq!(
        w.err(
            &s,
            &volunteer_grid(),
            Command::Note {
                text: reason("x"),
                contact_made: None
            }
        ),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
}

#[test]
fn resolve_refusals() {
    let mut w = World::new();
    let r = claimed(&mut w);
    let bad = Command::Resolve {
        public_summary: None,
        outcome: None,
        summary: None,
        evidence: vec![Attachment {
            id: "a".repeat(64),
            name: "".into(),
        }],
        cost_fen: Some(-1),
    };
    let f = fields_of(&w.err(&r, &volunteer_grid(), bad));
    assert!(f.contains(&("summary".into(), "required")));
    assert!(f.contains(&("evidence[0].id".into(), "unknown")));
    assert!(f.contains(&("evidence[0].name".into(), "required")));
    assert!(f.contains(&("cost_fen".into(), "out_of_range")));
    assert_eq!(
        w.err(&r, &member_of_team(), resolve()),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    let x = w.ok(&r, &grid_worker(), resolve());
    assert_eq!(
        invalid_from(&w.err(&x, &volunteer_grid(), resolve())),
        Status::Resolved
    );
    // With a known attachment it goes through.
    w.facts.attachments.insert("b".repeat(64));
    let ok = Command::Resolve {
        public_summary: None,
        outcome: None,
        summary: reason("done"),
        evidence: vec![Attachment {
            id: "b".repeat(64),
            name: "after.jpg".into(),
        }],
        cost_fen: None,
    };
    assert!(w.run(&r, &volunteer_grid(), ok).is_ok());
}

// ---------------------------------------------------------------- verify

#[test]
fn failed_verification_sends_it_back_for_rework() {
    let mut w = World::new();
    let r = claimed(&mut w);
    let r = w.ok(&r, &volunteer_grid(), resolve());
    let x = w.ok(&r, &verifier(), verify(false));
    assert_eq!(
        (x.status, x.rework_count, x.claimed_by),
        (Status::Claimed, 1, Some(PersonId(501)))
    );
}

#[test]
fn verify_refusals() {
    let mut w = World::new();
    let r = claimed(&mut w);
    assert_eq!(
        invalid_from(&w.err(&r, &verifier(), verify(true))),
        Status::Claimed
    );
    let r = w.ok(&r, &volunteer_grid(), resolve());
    assert_eq!(
        w.err(&r, &grid_worker(), verify(true)),
        CoreError::Forbidden(Denial::RoleNotAllowed)
    );
    assert_eq!(
        w.err(&r, &verifier_b(), verify(true)),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    assert_eq!(
        fields_of(&w.err(
            &r,
            &verifier(),
            Command::Verify {
                passed: None,
                reason: None,
                reached: None,
            }
        )),
        vec![("passed".into(), "required")]
    );
    assert_eq!(
        fields_of(&w.err(
            &r,
            &verifier(),
            Command::Verify {
                passed: Some(false),
                reason: None,
                reached: None,
            }
        )),
        vec![("reason".into(), "required")]
    );
    // The handler may not verify their own work, even when they also hold the verifier role.
    let both = person(
        501,
        "志愿者甲",
        vec![
            g(Role::Volunteer, Scope::Unit(U_GRID_A1_1)),
            g(Role::Verifier, Scope::Area(COMM_A1)),
        ],
    );
    assert_eq!(
        w.err(&r, &both, verify(true)),
        CoreError::Forbidden(Denial::SelfVerification)
    );
}

// ---------------------------------------------------------------- rate / close

#[test]
fn rating_closes_or_reopens() {
    let mut w = World::new();
    let r = verified(&mut w);
    let c = w.ok(
        &r,
        &resident(),
        rate(true, Satisfaction::BasicallySatisfied),
    );
    assert_eq!(c.status, Status::Closed);
    let reopened = w.ok(&r, &resident(), rate(true, Satisfaction::Unsatisfied));
    assert_eq!(
        (reopened.status, reopened.rework_count, reopened.claimed_by),
        (Status::Dispatched, 1, None)
    );
    let not_resolved = w.ok(&r, &resident(), rate(false, Satisfaction::Satisfied));
    assert_eq!(not_resolved.status, Status::Dispatched);
    // Staff recording a follow-up call.
    let call = w.ok(&r, &community_staff(), rate(true, Satisfaction::Satisfied));
    assert_eq!(call.rating.map(|x| x.via), Some(RatedVia::FollowUpCall));
    // The reopened request goes round again.
    let again = w.ok(&reopened, &volunteer_grid(), Command::Claim {});
    assert_eq!(again.status, Status::Claimed);
}

#[test]
fn rate_refusals() {
    let mut w = World::new();
    let r = verified(&mut w);
    assert_eq!(
        w.err(&r, &other_resident(), rate(true, Satisfaction::Satisfied)),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    assert_eq!(
        w.err(
            &r,
            &community_staff_b(),
            rate(true, Satisfaction::Satisfied)
        ),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    let bad = Command::Rate {
        resolved: None,
        satisfaction: None,
        comment: Some("长".repeat(501)),
    };
    assert_eq!(
        fields_of(&w.err(&r, &resident(), bad)),
        vec![
            ("resolved".into(), "required"),
            ("satisfaction".into(), "required"),
            ("comment".into(), "too_long")
        ]
    );
    let c = w.ok(&r, &resident(), rate(true, Satisfaction::Satisfied));
    assert_eq!(
        invalid_from(&w.err(&c, &resident(), rate(true, Satisfaction::Satisfied))),
        Status::Closed
    );
}

#[test]
fn close_waits_for_the_rating_window() {
    let mut w = World::new();
    let r = verified(&mut w);
    assert_eq!(
        w.err(&r, &Actor::System, Command::Close {}),
        CoreError::Conflict(Conflict::RatingWindowOpen)
    );
    w.now += Duration::days(7);
    let c = w.ok(&r, &Actor::System, Command::Close {});
    assert_eq!((c.status, c.rating.clone()), (Status::Closed, None));
    assert_eq!(
        w.err(&r, &resident(), Command::Close {}),
        CoreError::Forbidden(Denial::RoleNotAllowed)
    );
    let a = w.ok(&r, &admin(), Command::Close {});
    assert_eq!(a.status, Status::Closed);
    assert_eq!(
        invalid_from(&w.err(&c, &Actor::System, Command::Close {})),
        Status::Closed
    );
}

// ---------------------------------------------------------------- escalate

#[test]
fn escalation_climbs_the_four_levels() {
    let mut w = World::new();
    let r = claimed(&mut w);
    let c = w.ok(
        &r,
        &grid_worker(),
        Command::Escalate {
            reason: reason("网格无法解决"),
        },
    );
    assert_eq!(
        (c.status, c.level, c.unit_id, c.escalation_count),
        (Status::Accepted, Level::Community, None, 1)
    );
    let c = w.ok(&c, &community_staff(), dispatch(U_COMM_A1));
    let s = w.ok(
        &c,
        &community_staff(),
        Command::Escalate {
            reason: reason("需街道协调"),
        },
    );
    assert_eq!(s.level, Level::Street);
    let d = w.ok(&s, &street_staff(), dispatch(U_DEPT_HOUSING));
    // The department it was dispatched to may escalate it too.
    let top = w.ok(
        &d,
        &dept_staff(),
        Command::Escalate {
            reason: reason("需区级统筹"),
        },
    );
    assert_eq!(top.level, Level::District);
    assert_eq!(
        w.err(
            &top,
            &admin(),
            Command::Escalate {
                reason: reason("x")
            }
        ),
        CoreError::Forbidden(Denial::RoleNotAllowed)
    );
    let top_dispatched = w.ok(&top, &admin(), dispatch(U_DISTRICT));
    let t = person(
        901,
        "x",
        vec![
            g(Role::StreetStaff, Scope::Area(DISTRICT)),
            g(Role::GridWorker, Scope::Area(DISTRICT)),
        ],
    );
    assert_eq!(
        w.err(
            &top_dispatched,
            &t,
            Command::Escalate {
                reason: reason("x")
            }
        ),
        CoreError::Forbidden(Denial::OutOfScope)
    );
}

#[test]
fn escalate_refusals() {
    let mut w = World::new();
    let r = claimed(&mut w);
    assert_eq!(
        fields_of(&w.err(&r, &grid_worker(), Command::Escalate { reason: None })),
        vec![("reason".into(), "required")]
    );
    assert_eq!(
        w.err(
            &r,
            &community_staff(),
            Command::Escalate {
                reason: reason("x")
            }
        ),
        CoreError::Forbidden(Denial::OutOfScope)
    );
    let s = w.submit();
    assert_eq!(
        invalid_from(&w.err(
            &s,
            &grid_worker(),
            Command::Escalate {
                reason: reason("x")
            }
        )),
        Status::Submitted
    );
    // At the district the request cannot go higher.
    let mut top = r.clone();
    top.level = Level::District;
    top.status = Status::Accepted;
    let district_grid_worker = person(
        902,
        "x",
        vec![
            g(Role::DistrictAdmin, Scope::Area(DISTRICT)),
            g(Role::GridWorker, Scope::Area(DISTRICT)),
        ],
    );
    let _ = district_grid_worker;
    let d = person(
        903,
        "x",
        vec![g(Role::DepartmentStaff, Scope::Unit(U_DISTRICT))],
    );
    top.unit_id = Some(U_DISTRICT);
    top.status = Status::Dispatched;
    assert_eq!(
        w.err(
            &top,
            &d,
            Command::Escalate {
                reason: reason("x")
            }
        ),
        CoreError::Conflict(Conflict::TopLevel)
    );
}

// ---------------------------------------------------------------- suspend / resume

fn suspend(approver: i64) -> Command {
    Command::Suspend {
        reason: reason("需等待管网改造"),
        approver_id: Some(PersonId(approver)),
    }
}

fn with_approvers(w: &mut World) {
    for a in [
        community_staff(),
        community_staff_b(),
        street_staff(),
        admin(),
        resident(),
    ] {
        if let Actor::Person(p) = a {
            w.facts.persons.insert(p.id, p);
        }
    }
}

#[test]
fn suspend_and_resume_return_to_the_previous_state() {
    let mut w = World::new();
    with_approvers(&mut w);
    let r = claimed(&mut w);
    let s = w.ok(&r, &grid_worker(), suspend(300));
    assert_eq!(
        (s.status, s.suspended_from),
        (Status::Suspended, Some(Status::Claimed))
    );
    let back = w.ok(&s, &grid_worker(), Command::Resume {});
    assert_eq!(
        (back.status, back.suspended_from, back.claimed_by),
        (Status::Claimed, None, r.claimed_by)
    );
    let d = w.ok(
        &r,
        &grid_worker(),
        Command::Return {
            reason: reason("x"),
        },
    );
    let d = w.ok(&d, &grid_worker(), dispatch(U_GRID_A1_1));
    let s = w.ok(&d, &grid_worker(), suspend(300));
    assert_eq!(
        w.ok(&s, &grid_worker(), Command::Resume {}).status,
        Status::Dispatched
    );
}

#[test]
fn suspend_and_resume_refusals() {
    let mut w = World::new();
    with_approvers(&mut w);
    let r = claimed(&mut w);
    assert_eq!(
        fields_of(&w.err(
            &r,
            &grid_worker(),
            Command::Suspend {
                reason: None,
                approver_id: None
            }
        )),
        vec![
            ("reason".into(), "required"),
            ("approver_id".into(), "required")
        ]
    );
    assert_eq!(
        fields_of(&w.err(&r, &grid_worker(), suspend(4242))),
        vec![("approver_id".into(), "unknown")]
    );
    assert_eq!(
        fields_of(&w.err(&r, &grid_worker(), suspend(200))),
        vec![("approver_id".into(), "not_allowed")]
    );
    // The approver must be staff of the level above, in this area.
    assert_eq!(
        w.err(&r, &grid_worker(), suspend(301)),
        CoreError::Forbidden(Denial::ApproverNotAllowed)
    );
    assert_eq!(
        w.err(&r, &grid_worker(), suspend(400)),
        CoreError::Forbidden(Denial::ApproverNotAllowed)
    );
    assert_eq!(
        w.err(&r, &grid_worker(), suspend(100)),
        CoreError::Forbidden(Denial::ApproverNotAllowed)
    );
    assert_eq!(
        w.err(&r, &volunteer_grid(), suspend(300)),
        CoreError::Forbidden(Denial::RoleNotAllowed)
    );
    assert_eq!(
        w.err(&r, &grid_worker_b(), suspend(300)),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    let s = w.submit();
    assert_eq!(
        invalid_from(&w.err(&s, &grid_worker(), suspend(300))),
        Status::Submitted
    );
    assert_eq!(
        invalid_from(&w.err(&r, &grid_worker(), Command::Resume {})),
        Status::Claimed
    );
    let x = w.ok(&r, &grid_worker(), suspend(300));
    assert_eq!(
        invalid_from(&w.err(&x, &volunteer_grid(), Command::Claim {})),
        Status::Suspended
    );
    assert_eq!(
        w.err(&x, &grid_worker_b(), Command::Resume {}),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
}

// ---------------------------------------------------------------- supervise

#[test]
fn supervise_marks_any_open_request() {
    let mut w = World::new();
    let r = w.submit();
    let s = w.ok(
        &r,
        &supervisor(),
        Command::Supervise {
            order: reason("限期三日内办结"),
        },
    );
    assert_eq!(
        (s.status, s.supervised, s.supervision_count),
        (Status::Submitted, true, 1)
    );
    // The system supervises only a request past a deadline (see the lights tests).
    assert_eq!(
        w.err(
            &s,
            &Actor::System,
            Command::Supervise {
                order: reason("超时自动督办"),
            },
        ),
        CoreError::Conflict(Conflict::NotOverdue)
    );
    assert_eq!(s.supervision_count, 1);
    let v = verified(&mut w);
    assert_eq!(
        w.ok(&v, &admin(), Command::Supervise { order: reason("x") })
            .status,
        Status::Verified
    );
}

#[test]
fn supervise_refusals() {
    let mut w = World::new();
    let r = w.submit();
    assert_eq!(
        fields_of(&w.err(&r, &supervisor(), Command::Supervise { order: None })),
        vec![("order".into(), "required")]
    );
    assert_eq!(
        w.err(
            &r,
            &grid_worker(),
            Command::Supervise { order: reason("x") }
        ),
        CoreError::Forbidden(Denial::RoleNotAllowed)
    );
    let local = person(701, "x", vec![g(Role::Supervisor, Scope::Area(STREET_B))]);
    assert_eq!(
        w.err(&r, &local, Command::Supervise { order: reason("x") }),
        CoreError::NotFound {
            entity: crate::error::Entity::Request,
            id: 1
        }
    );
    let v = verified(&mut w);
    let c = w.ok(&v, &resident(), rate(true, Satisfaction::Satisfied));
    assert_eq!(
        invalid_from(&w.err(&c, &supervisor(), Command::Supervise { order: reason("x") })),
        Status::Closed
    );
}

fn deliberate(decision: &str, attendees: &str) -> Command {
    Command::Deliberate {
        decision: reason(decision),
        attendees: reason(attendees),
    }
}

#[test]
fn deliberation_records_a_joint_decision_and_changes_nothing_else() {
    let mut w = World::new();
    let r = claimed(&mut w);
    let c = w.ok(
        &r,
        &grid_worker(),
        Command::Escalate {
            reason: reason("需多方协调"),
        },
    );
    // At the community level its staff settle it with the others concerned.
    let d = w.ok(
        &c,
        &community_staff(),
        deliberate("物业三日内修复，社区督促", "社区、物业、业委会"),
    );
    assert_eq!(
        (d.status, d.level, d.unit_id, d.version),
        (c.status, c.level, c.unit_id, c.version + 1)
    );
    let e = decide(
        &c,
        &community_staff(),
        &deliberate("x", "y"),
        vec![],
        &w.ctx(),
    )
    .map(|d| d.event_for(&c, w.now))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        e.body,
        EventBody::Deliberated {
            decision: "x".into(),
            attendees: "y".into()
        }
    );
    assert_eq!(
        crate::command::event_label(e.body.kind(), crate::error::Lang::Zh),
        "议单",
        "the timeline names it"
    );
    // Supervisors and the district may convene one anywhere in their area.
    let d = w.ok(&d, &supervisor(), deliberate("区级统筹", "区住建委、街道"));
    w.ok(&d, &admin(), deliberate("按方案执行", "区级部门"));
}

#[test]
fn deliberate_refusals() {
    let mut w = World::new();
    let r = w.submit();
    // Not before it is accepted.
    assert_eq!(
        invalid_from(&w.err(&r, &supervisor(), deliberate("x", "y"))),
        Status::Submitted
    );
    let r = w.ok(&r, &grid_worker(), accept(CAT_GARBAGE));
    // Every field at once.
    assert_eq!(
        fields_of(&w.err(
            &r,
            &supervisor(),
            Command::Deliberate {
                decision: None,
                attendees: reason(&"参".repeat(501)),
            }
        )),
        vec![
            ("decision".into(), "required"),
            ("attendees".into(), "too_long")
        ]
    );
    // Grid workers, volunteers and residents do not convene one.
    for who in [grid_worker(), volunteer_grid(), resident()] {
        assert_eq!(
            w.err(&r, &who, deliberate("x", "y")),
            CoreError::Forbidden(Denial::RoleNotAllowed)
        );
    }
    // Community staff only at their own level: this request is still at the grid.
    assert_eq!(
        w.err(&r, &community_staff(), deliberate("x", "y")),
        CoreError::Forbidden(Denial::OutOfScope)
    );
    // Nor after it is closed.
    let v = verified(&mut w);
    let c = w.ok(&v, &resident(), rate(true, Satisfaction::Satisfied));
    assert_eq!(
        invalid_from(&w.err(&c, &supervisor(), deliberate("x", "y"))),
        Status::Closed
    );
}

#[test]
fn the_system_may_run_only_its_own_commands() {
    let mut w = World::new();
    let r = w.submit();
    assert_eq!(
        w.err(&r, &Actor::System, accept(CAT_GARBAGE)),
        CoreError::Forbidden(Denial::RoleNotAllowed)
    );
}

#[test]
fn every_command_has_a_start_state_and_a_policy_row() {
    use crate::command::allowed_from;
    use crate::policy::{CommandKind, POLICY};
    for k in CommandKind::ALL {
        assert_eq!(CommandKind::parse(k.as_str()), Some(k));
        if k != CommandKind::Submit {
            assert!(!allowed_from(k).is_empty(), "{k:?}");
        }
        // Closing and alert updates are the system's (closing also an administrator's).
        if !matches!(k, CommandKind::Close | CommandKind::UpdateAlert) {
            assert!(
                POLICY
                    .iter()
                    .any(|r| r.action == crate::policy::Action::Run(k)),
                "{k:?} has no policy row"
            );
        }
    }
    // Terminal states allow nothing, but approving a closed request's public summaries (a record
    // that moves nothing).
    for k in CommandKind::ALL {
        assert_eq!(
            allowed_from(k).contains(&Status::Closed),
            k == CommandKind::Publish,
            "{k:?}"
        );
        assert!(!allowed_from(k).contains(&Status::Rejected));
    }
}

#[test]
fn person_struct_round_trips_through_json() {
    let p = Person {
        id: PersonId(1),
        name: "x".into(),
        phone: None,
        grants: vec![g(Role::Member, Scope::Unit(UnitId(2)))],
    };
    let v = serde_json::to_value(&p).unwrap_or_default();
    assert_eq!(v["grants"][0]["role"], "member");
    assert_eq!(v["grants"][0]["scope"]["unit"], 2);
}

// ---------------------------------------------------------------- deadlines and lights

/// Monday 12 October 2026 at a local (Asia/Shanghai) time.
fn mon(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 12, h - 8, m, 0)
        .single()
        .unwrap_or_default()
}

fn tue(h: u32, m: u32) -> DateTime<Utc> {
    mon(h, m) + Duration::days(1)
}

fn us(n: i64) -> Duration {
    Duration::microseconds(n)
}

/// A micro request dispatched to the grid on Monday at 09:20 (accepted 09:10).
fn timed_dispatch(w: &mut World) -> Request {
    let r = w.submit();
    let r = w.ok(&r, &grid_worker(), accept(CAT_GARBAGE));
    w.ok(&r, &grid_worker(), dispatch(U_GRID_A1_1))
}

#[test]
fn dispatch_sets_both_deadlines_with_their_warning_instants() {
    let mut w = World::timed();
    let r = timed_dispatch(&mut w);
    assert_eq!(w.now, mon(9, 20));
    // Micro: respond in 2 working hours, resolve in 1 working day (450 minutes).
    assert_eq!(r.respond_due_at, Some(mon(11, 20)));
    assert_eq!(r.respond_warn_at, Some(mon(10, 56)));
    assert_eq!(r.resolve_due_at, Some(tue(9, 20)));
    assert_eq!(r.resolve_warn_at, Some(mon(16, 50)));
    // The response is due next.
    assert_eq!(
        (r.next_due_at, r.next_warn_at),
        (r.respond_due_at, r.respond_warn_at)
    );
}

#[test]
fn lights_change_exactly_at_eighty_and_one_hundred_percent() {
    let mut w = World::timed();
    let r = timed_dispatch(&mut w);
    let (warn, due) = (mon(10, 56), mon(11, 20));
    assert_eq!(r.light_at(w.now), Some(Light::Green));
    assert_eq!(r.light_at(warn - us(1)), Some(Light::Green));
    assert_eq!(r.light_at(warn), Some(Light::Yellow));
    assert_eq!(r.light_at(due), Some(Light::Yellow));
    assert_eq!(r.light_at(due + us(1)), Some(Light::Red));
    // Before dispatch there is no deadline and so no light.
    let s = w.submit();
    assert_eq!(s.light_at(w.now), None);
}

#[test]
fn once_responded_the_resolve_deadline_drives_the_light() {
    let mut w = World::timed();
    let r = timed_dispatch(&mut w);
    w.now = mon(11, 30); // the response is late: red
    assert_eq!(r.light_at(w.now), Some(Light::Red));
    let c = w.ok(&r, &volunteer_grid(), Command::Claim {});
    assert_eq!(c.next_due_at, Some(tue(9, 20)));
    assert_eq!(c.light_at(w.now), Some(Light::Green));
    assert_eq!(c.light_at(mon(16, 50)), Some(Light::Yellow));
    assert_eq!(c.light_at(tue(9, 20) + us(1)), Some(Light::Red));
}

#[test]
fn finished_requests_keep_whether_they_were_on_time() {
    let mut w = World::timed();
    let r = timed_dispatch(&mut w);
    let c = w.ok(&r, &volunteer_grid(), Command::Claim {});
    let done = w.ok(&c, &volunteer_grid(), resolve());
    assert_eq!((done.on_time, done.next_due_at), (Some(true), None));
    assert_eq!(
        done.light_at(w.now + Duration::days(30)),
        Some(Light::Green)
    );
    // The same request resolved after its deadline stays red through verification and closing.
    w.now = tue(10, 0);
    let late = w.ok(&c, &volunteer_grid(), resolve());
    assert_eq!(late.on_time, Some(false));
    let v = w.ok(&late, &verifier(), verify(true));
    let closed = w.ok(&v, &resident(), rate(true, Satisfaction::Satisfied));
    assert_eq!(closed.status, Status::Closed);
    assert_eq!(
        closed.light_at(w.now + Duration::days(30)),
        Some(Light::Red)
    );
}

#[test]
fn a_suspended_requests_light_stops_and_resume_extends_both_deadlines() {
    let mut w = World::timed();
    with_approvers(&mut w);
    let r = timed_dispatch(&mut w);
    w.now = mon(10, 0);
    let s = w.ok(&r, &grid_worker(), suspend(300));
    assert_eq!(s.suspended_at, Some(mon(10, 10)));
    // Frozen: green even a week later.
    assert_eq!(
        s.light_at(mon(10, 10) + Duration::days(7)),
        Some(Light::Green)
    );
    // Resumed Tuesday 10:10: Monday 10:10–17:30 and Tuesday 08:30–10:10 were suspended (7.5 h).
    w.now = tue(10, 0);
    let back = w.ok(&s, &grid_worker(), Command::Resume {});
    assert_eq!(back.status, Status::Dispatched);
    assert_eq!(back.suspended_at, None);
    assert_eq!(back.respond_due_at, Some(tue(11, 20)));
    assert_eq!(back.respond_warn_at, Some(tue(10, 56)));
    assert_eq!(back.resolve_due_at, Some(tue(9, 20) + Duration::days(1)));
    assert_eq!(back.light_at(tue(10, 10)), Some(Light::Green));
}

#[test]
fn a_return_keeps_the_deadlines_and_an_escalation_sets_the_new_levels() {
    let mut w = World::timed();
    let r = timed_dispatch(&mut w);
    let first = r.deadlines();
    let back = w.ok(
        &r,
        &grid_worker(),
        Command::Return {
            reason: reason("不属于本网格"),
        },
    );
    let again = w.ok(&back, &grid_worker(), dispatch(U_GRID_A1_1));
    assert_eq!(again.deadlines(), first);
    // Claimed (responded), then escalated to the community at Monday 10:00: the community gets the
    // minor tier's 3 working days from then; the met response deadline is kept.
    let c = w.ok(&again, &volunteer_grid(), Command::Claim {});
    let up = w.ok(
        &c,
        &grid_worker(),
        Command::Escalate {
            reason: reason("需社区协调"),
        },
    );
    assert_eq!(w.now, mon(10, 0));
    assert_eq!((up.status, up.level), (Status::Accepted, Level::Community));
    assert_eq!(up.respond_due_at, first.respond_due_at);
    assert_eq!(up.resolve_due_at, Some(mon(10, 0) + Duration::days(3)));
    assert_eq!(up.next_due_at, up.resolve_due_at);
    // Dispatching at the new level keeps the escalation's deadlines.
    let d = w.ok(&up, &community_staff(), dispatch(U_COMM_A1));
    assert_eq!(d.deadlines(), up.deadlines());
}

#[test]
fn the_system_supervises_each_missed_deadline_once() {
    let mut w = World::timed();
    let r = timed_dispatch(&mut w);
    let auto = || Command::Supervise {
        order: reason("超时自动督办"),
    };
    w.now = mon(11, 0);
    assert_eq!(
        w.err(&r, &Actor::System, auto()),
        CoreError::Conflict(Conflict::NotOverdue)
    );
    w.now = mon(11, 20);
    let s = w.ok(&r, &Actor::System, auto());
    assert_eq!(s.overdue_supervised_for, Some(mon(11, 20)));
    assert_eq!((s.supervised, s.supervision_count), (true, 1));
    assert_eq!(
        w.err(&s, &Actor::System, auto()),
        CoreError::Conflict(Conflict::AlreadySupervised)
    );
    // Claimed late, then the resolve deadline is missed too: one more.
    let c = w.ok(&s, &volunteer_grid(), Command::Claim {});
    w.now = tue(9, 20);
    let s2 = w.ok(&c, &Actor::System, auto());
    assert_eq!(s2.overdue_supervised_for, Some(tue(9, 20)));
    assert_eq!(s2.supervision_count, 2);
    let v = w.ok(&s2, &volunteer_grid(), resolve());
    assert_eq!(
        w.err(&v, &Actor::System, auto()),
        CoreError::Conflict(Conflict::NotOverdue)
    );
}

#[test]
fn automatic_escalation_waits_for_the_set_working_days_of_red() {
    let mut w = World::timed();
    let r = timed_dispatch(&mut w);
    let up = || Command::Escalate {
        reason: reason("超时自动上报"),
    };
    w.now = tue(12, 0);
    // Off by default.
    assert_eq!(
        w.err(&r, &Actor::System, up()),
        CoreError::Conflict(Conflict::NotOverdueLongEnough)
    );
    w.settings.auto_escalate_after_days = Some(2);
    // Red since Monday 11:20; two working days later is Wednesday 11:20.
    let wed = |h, m| mon(h, m) + Duration::days(2);
    w.now = wed(11, 0);
    assert_eq!(
        w.err(&r, &Actor::System, up()),
        CoreError::Conflict(Conflict::NotOverdueLongEnough)
    );
    w.now = wed(11, 10);
    let e = w.ok(&r, &Actor::System, up());
    assert_eq!((e.status, e.level), (Status::Accepted, Level::Community));
    // The new deadlines are in the future, so it does not go up again.
    assert_eq!(
        w.err(&e, &Actor::System, up()),
        CoreError::Conflict(Conflict::NotOverdueLongEnough)
    );
}

#[test]
fn scorecard_deltas_add_up_to_the_final_contribution() {
    use crate::scorecard::{Counts, Dim, Grain, contribution, delta, packed_delta};
    let mut w = World::timed();
    let steps: Vec<Request> = {
        let r = timed_dispatch(&mut w);
        let c = w.ok(&r, &volunteer_grid(), Command::Claim {});
        let v1 = w.ok(&c, &volunteer_grid(), resolve());
        let v1 = w.ok(&v1, &verifier(), verify(true));
        let reopened = w.ok(&v1, &resident(), rate(false, Satisfaction::Unsatisfied));
        let c2 = w.ok(&reopened, &volunteer_grid(), Command::Claim {});
        let v2 = w.ok(&c2, &volunteer_grid(), resolve());
        let v2 = w.ok(&v2, &verifier(), verify(true));
        let closed = w.ok(
            &v2,
            &resident(),
            rate(true, Satisfaction::BasicallySatisfied),
        );
        vec![r, c, v1, reopened, c2, v2, closed]
    };
    let mut sum: std::collections::BTreeMap<_, Counts> = Default::default();
    let mut prev: Option<&Request> = None;
    for s in &steps {
        for (k, c) in delta(prev, s) {
            sum.entry(k).or_default().add(&c);
        }
        prev = Some(s);
    }
    sum.retain(|_, c| !c.is_zero());
    let last = steps.last().unwrap_or_else(|| panic!("steps"));
    assert_eq!(sum, contribution(last));
    // Packed, each step appends a row per item that changed, and the rows expand to the same sums.
    let mut packed_sum: std::collections::BTreeMap<_, Counts> = Default::default();
    let mut prev: Option<&Request> = None;
    for s in &steps {
        let mut step: std::collections::BTreeMap<_, Counts> = Default::default();
        let rows = packed_delta(prev, s);
        for row in &rows {
            for (k, c) in row.facts() {
                step.entry(k).or_default().add(&c);
            }
        }
        step.retain(|_, c| !c.is_zero());
        assert_eq!(step, delta(prev, s), "step {} packed", s.version);
        assert!(
            rows.len() <= 6,
            "a step changes at most three items, both ways"
        );
        for (k, c) in step {
            packed_sum.entry(k).or_default().add(&c);
        }
        prev = Some(s);
    }
    packed_sum.retain(|_, c| !c.is_zero());
    assert_eq!(packed_sum, sum);
    // A move that changes no counted item appends nothing.
    assert_eq!(packed_delta(Some(last), last), vec![]);
    // One that moves every counted item to other keys (another unit, level and category) takes
    // each back under the old keys and adds it under the new.
    let mut moved = last.clone();
    moved.unit_id = Some(UnitId(9_999));
    moved.level = Level::Street;
    moved.category_id = Some(CategoryId(8_888));
    let rows = packed_delta(Some(last), &moved);
    assert_eq!(rows.len(), 6, "three items, each out and in");
    let mut expanded: std::collections::BTreeMap<_, Counts> = Default::default();
    for row in &rows {
        for (k, c) in row.facts() {
            expanded.entry(k).or_default().add(&c);
        }
    }
    expanded.retain(|_, c| !c.is_zero());
    assert_eq!(expanded, delta(Some(last), &moved));
    // The final request counts once everywhere: responded on time, its last rating, one reworked close.
    let unit_month: Counts = contribution(last)
        .iter()
        .filter(|(k, _)| k.grain == Grain::Month && k.dim == Dim::Unit)
        .fold(Counts::default(), |mut acc, (_, c)| {
            acc.add(c);
            acc
        });
    assert_eq!(
        unit_month,
        Counts {
            respond_due: 1,
            responded_on_time: 1,
            rated: 1,
            rated_resolved: 1,
            satisfied: 0,
            basically_satisfied: 1,
            closed: 1,
            closed_on_time: 1,
            closed_reworked: 1,
        }
    );
}

// ---------------------------------------------------------------- a suggested category

#[test]
fn a_category_suggested_on_submission_is_kept_until_staff_accept() {
    let mut w = World::new();
    let unknown = w.submit_as(
        &resident(),
        SubmitInput {
            category_id: Some(CategoryId(999)),
            ..garbage_input()
        },
    );
    let e = unknown
        .err()
        .unwrap_or_else(|| panic!("an unknown category must be refused"));
    assert_eq!(fields_of(&e), vec![("category_id".into(), "unknown")]);
    let inactive = w.submit_as(
        &resident(),
        SubmitInput {
            category_id: Some(CAT_OLD),
            ..garbage_input()
        },
    );
    let e = inactive
        .err()
        .unwrap_or_else(|| panic!("an inactive category must be refused"));
    assert_eq!(fields_of(&e), vec![("category_id".into(), "inactive")]);
    let r = w
        .submit_as(
            &resident(),
            SubmitInput {
                category_id: Some(CAT_ROAD),
                ..garbage_input()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.category_id, Some(CAT_ROAD));
    assert_eq!(r.tier, None, "the tier comes with acceptance");
    // Accepting without a category takes the suggestion, with its tier.
    let accepted = w.ok(
        &r,
        &grid_worker(),
        Command::Accept {
            public_summary: None,
            category_id: None,
            tier: None,
            urgent: None,
            level: None,
        },
    );
    assert_eq!(accepted.category_id, Some(CAT_ROAD));
    assert_eq!(accepted.tier, Some(Tier::Medium));
    // Staff may change it.
    let r2 = w
        .submit_as(
            &resident(),
            SubmitInput {
                category_id: Some(CAT_ROAD),
                ..garbage_input()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let changed = w.ok(&r2, &grid_worker(), accept(CAT_GARBAGE));
    assert_eq!(changed.category_id, Some(CAT_GARBAGE));
    // Without a suggestion, accepting still needs one.
    let plain = w.submit();
    let e = w.err(
        &plain,
        &grid_worker(),
        Command::Accept {
            public_summary: None,
            category_id: None,
            tier: None,
            urgent: None,
            level: None,
        },
    );
    assert_eq!(fields_of(&e), vec![("category_id".into(), "required")]);
}

// ---------------------------------------------------------------- power alert outcomes

#[test]
fn a_power_alert_is_resolved_only_with_its_outcome_and_other_requests_never_take_one() {
    let mut w = World::new();
    let mut r = claimed(&mut w);
    r.channel = Channel::PowerAlert;
    let e = w.err(&r, &volunteer_grid(), resolve());
    assert_eq!(fields_of(&e), vec![("outcome".into(), "required")]);
    let with = |o| Command::Resolve {
        public_summary: None,
        outcome: Some(o),
        summary: Some("入户核实，房屋确实空置".into()),
        evidence: vec![],
        cost_fen: None,
    };
    let d = decide(
        &r,
        &volunteer_grid(),
        &with(AlertOutcome::Confirmed),
        vec![],
        &w.ctx(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let ev = d.event_for(&r, w.now);
    assert!(matches!(
        ev.body,
        EventBody::Resolved {
            outcome: Some(AlertOutcome::Confirmed),
            ..
        }
    ));
    let done = w.ok(&r, &volunteer_grid(), with(AlertOutcome::FalseAlarm));
    assert_eq!(done.status, Status::Resolved);
    let plain = claimed(&mut w);
    let e = w.err(&plain, &volunteer_grid(), with(AlertOutcome::Unverifiable));
    assert_eq!(fields_of(&e), vec![("outcome".into(), "not_allowed")]);
    assert_eq!(
        AlertOutcome::parse("false_alarm"),
        Some(AlertOutcome::FalseAlarm)
    );
    assert_eq!(AlertOutcome::parse("maybe"), None);
}

#[test]
fn the_verifiers_follow_up_call_records_whether_it_reached_the_resident() {
    let mut w = World::new();
    let r = claimed(&mut w);
    let r = w.ok(&r, &volunteer_grid(), resolve());
    let cmd = Command::Verify {
        passed: Some(true),
        reason: None,
        reached: Some(false),
    };
    let d = decide(&r, &verifier(), &cmd, vec![], &w.ctx()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        d.body,
        EventBody::Verified {
            passed: true,
            reason: None,
            reached: Some(false),
        }
    );
    // An event stored before the field existed reads as "not said".
    let old: EventBody =
        serde_json::from_str(r#"{"kind":"verified","passed":true,"reason":null}"#).unwrap();
    assert_eq!(
        old,
        EventBody::Verified {
            passed: true,
            reason: None,
            reached: None,
        }
    );
}

fn publish(need: Option<&str>, result: Option<&str>) -> Command {
    Command::Publish {
        need: need.map(String::from),
        result: result.map(String::from),
    }
}

#[test]
fn public_summaries_are_approved_on_accepting_resolving_and_publishing() {
    let mut w = World::new();
    let r = w.submit();
    assert_eq!(
        (r.public_need.clone(), r.public_result.clone()),
        (None, None)
    );
    // Accepting may approve the need's summary; a blank one is none.
    let with = |s: &str| Command::Accept {
        public_summary: Some(s.into()),
        category_id: Some(CAT_GARBAGE),
        tier: None,
        urgent: None,
        level: None,
    };
    let a = w.ok(&r, &grid_worker(), with("  \u{200b} "));
    assert_eq!(a.public_need, None);
    let mut w = World::new();
    let r = w.submit();
    let a = w.ok(&r, &grid_worker(), with(" 楼道垃圾堆放，请求清运 "));
    assert_eq!(a.public_need.as_deref(), Some("楼道垃圾堆放，请求清运"));
    // Staff in charge may replace it while it is handled; the result's summary comes with the
    // result, and a new result without one clears it (it no longer describes what was done).
    let p = w.ok(&a, &community_staff(), publish(Some("垃圾清运"), None));
    assert_eq!(
        (p.public_need.as_deref(), p.status, p.version),
        (Some("垃圾清运"), a.status, a.version + 1)
    );
    let mut w = World::new();
    let c = claimed(&mut w);
    let res = w.ok(
        &c,
        &volunteer_grid(),
        Command::Resolve {
            public_summary: Some("已清运完毕".into()),
            outcome: None,
            summary: Some("张师傅已清运，联系13812345678".into()),
            evidence: vec![],
            cost_fen: None,
        },
    );
    assert_eq!(res.public_result.as_deref(), Some("已清运完毕"));
    let back = w.ok(&res, &verifier(), verify(false));
    let again = w.ok(&back, &volunteer_grid(), resolve());
    assert_eq!(again.public_result, None);
    // The verifier approves it, and may again once the request is closed (a record: the state
    // stays closed).
    let v = w.ok(&again, &verifier(), verify(true));
    let v = w.ok(&v, &verifier(), publish(None, Some("物业已清运")));
    assert_eq!(v.public_result.as_deref(), Some("物业已清运"));
    let closed = w.ok(&v, &resident(), rate(true, Satisfaction::Satisfied));
    let later = w.ok(
        &closed,
        &verifier(),
        publish(Some("垃圾清运"), Some("已清运")),
    );
    assert_eq!(
        (
            later.status,
            later.public_need.as_deref(),
            later.public_result.as_deref()
        ),
        (Status::Closed, Some("垃圾清运"), Some("已清运"))
    );
    let e = decide(
        &later,
        &verifier(),
        &publish(Some("x"), None),
        vec![],
        &w.ctx(),
    )
    .map(|d| d.event_for(&later, w.now))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        e.body,
        EventBody::Published {
            need: Some("x".into()),
            result: None
        }
    );
    assert_eq!(
        crate::command::event_label(e.body.kind(), crate::error::Lang::Zh),
        "公示审核"
    );
    // The masked view keeps the summaries: they are written to be public.
    assert_eq!(later.masked().public_result.as_deref(), Some("已清运"));
}

#[test]
fn public_summary_refusals() {
    let mut w = World::new();
    let r = w.submit();
    // Not before it is accepted.
    assert_eq!(
        invalid_from(&w.err(&r, &grid_worker(), publish(Some("x"), None))),
        Status::Submitted
    );
    // On accepting: too long, or still holding a phone-like number, at its field.
    for (text, code) in [
        ("公".repeat(301), "too_long"),
        ("请回电 138 1234 5678".to_string(), "personal_number"),
        ("身份证11010119900307123X".to_string(), "personal_number"),
    ] {
        let cmd = Command::Accept {
            public_summary: Some(text),
            category_id: Some(CAT_GARBAGE),
            tier: None,
            urgent: None,
            level: None,
        };
        assert_eq!(
            fields_of(&w.err(&r, &grid_worker(), cmd)),
            vec![("public_summary".into(), code)]
        );
    }
    let a = w.ok(&r, &grid_worker(), accept(CAT_GARBAGE));
    // Publishing needs one of the two; a result only once there is one; every field at once.
    assert_eq!(
        fields_of(&w.err(&a, &grid_worker(), publish(None, Some("  ")))),
        vec![("need".into(), "required")]
    );
    assert_eq!(
        fields_of(&w.err(
            &a,
            &grid_worker(),
            publish(Some("电话13812345678"), Some("已修好"))
        )),
        vec![
            ("need".into(), "personal_number"),
            ("result".into(), "not_allowed")
        ]
    );
    // Residents, members, volunteers and supervisors do not approve public summaries.
    for who in [resident(), member_of_team(), volunteer_grid(), supervisor()] {
        assert_eq!(
            w.err(&a, &who, publish(Some("x"), None)),
            CoreError::Forbidden(Denial::RoleNotAllowed),
            "{who:?}"
        );
    }
    // Street staff only inside their street; this request is in it, so they may.
    w.ok(&a, &street_staff(), publish(Some("x"), None));
    // On resolving: the same checks.
    let c = claimed(&mut w);
    let cmd = Command::Resolve {
        public_summary: Some("联系人手机13812345678".into()),
        outcome: None,
        summary: Some("已修好".into()),
        evidence: vec![],
        cost_fen: None,
    };
    assert_eq!(
        fields_of(&w.err(&c, &volunteer_grid(), cmd)),
        vec![("public_summary".into(), "personal_number")]
    );
    // Never on a rejected request.
    let r = w.submit();
    let rej = w.ok(
        &r,
        &grid_worker(),
        Command::Reject {
            code: Some(RejectCode::NoContent),
            duplicate_of: None,
            text: None,
        },
    );
    assert_eq!(
        invalid_from(&w.err(&rej, &grid_worker(), publish(Some("x"), None))),
        Status::Rejected
    );
}

// ---------------------------------------------------------------- alert updates (预警更新)

fn update_alert(text: Option<&str>) -> Command {
    Command::UpdateAlert {
        text: text.map(str::to_string),
        chart: vec![],
    }
}

#[test]
fn the_system_adds_an_episodes_new_days_to_its_open_power_alert() {
    let mut w = World::new();
    let mut r = w.submit();
    r.channel = Channel::PowerAlert;
    let u = w.ok(
        &r,
        &Actor::System,
        update_alert(Some("预警持续：共5天，严重程度3")),
    );
    assert_eq!((u.status, u.version), (Status::Submitted, r.version + 1));
    let mut c = claimed(&mut w);
    c.channel = Channel::PowerAlert;
    assert_eq!(
        w.ok(&c, &Actor::System, update_alert(Some("x"))).status,
        Status::Claimed
    );
}

#[test]
fn alert_update_refusals() {
    let mut w = World::new();
    let mut r = w.submit();
    // Only a request the detectors filed takes alert updates.
    assert_eq!(
        w.err(&r, &Actor::System, update_alert(Some("x"))),
        CoreError::Conflict(Conflict::NotAnAlert)
    );
    r.channel = Channel::PowerAlert;
    assert_eq!(
        fields_of(&w.err(&r, &Actor::System, update_alert(None))),
        vec![("text".into(), "required")]
    );
    // A chart that was never uploaded is refused by its place in the list.
    let unknown = Command::UpdateAlert {
        text: Some("x".into()),
        chart: vec![Attachment {
            id: "ab".repeat(32),
            name: "用电曲线.svg".into(),
        }],
    };
    assert_eq!(
        fields_of(&w.err(&r, &Actor::System, unknown)),
        vec![("chart[0].id".into(), "unknown")]
    );
    // People never run it, not even an administrator.
    for who in [admin(), grid_worker(), supervisor()] {
        assert_eq!(
            w.err(&r, &who, update_alert(Some("x"))),
            CoreError::Forbidden(Denial::RoleNotAllowed)
        );
    }
    // A resolved (checked) alert is not reopened by more days.
    let mut v = verified(&mut w);
    v.channel = Channel::PowerAlert;
    assert_eq!(
        invalid_from(&w.err(&v, &Actor::System, update_alert(Some("x")))),
        Status::Verified
    );
}
