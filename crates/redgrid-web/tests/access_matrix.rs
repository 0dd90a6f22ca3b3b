//! The access matrix: every endpoint that touches a request (or the scorecard, or administration) ×
//! every role (each held once in an area and once in a unit) × objects inside and outside the
//! role's scope, on SQLite and PostgreSQL.
//!
//! Three checks:
//! 1. What the API does equals what the policy table says (read with `permit_under`), cell by cell,
//!    including which requests a list returns and which rows a scorecard counts.
//! 2. No role sees, reveals or lists a request on the other side of the district (independent of the
//!    table: a leak check).
//! 3. The matrix equals the reviewed file `tests/access-matrix.txt`, and loosening any single row
//!    of the table (to any role, or to anywhere in the district) changes it — so the test fails.
//!    Regenerate the file with `REDGRID_BLESS=1` after a deliberate change, and review the diff.

use axum::body::Body;
use axum::http::{Request as HttpRequest, StatusCode};
use http_body_util::BodyExt;
use redgrid_app::Service;
use redgrid_app::service::now;
use redgrid_app::testing::{self, Fixture};
use redgrid_core::command::{Command, SubmitInput};
use redgrid_core::directory::Directory;
use redgrid_core::ids::*;
use redgrid_core::person::{Actor, Grant, Person, Role, Scope};
use redgrid_core::policy::{self, Action, CommandKind, POLICY, Relation, Rule, Subject};
use redgrid_core::request::{Channel, Request};
use redgrid_store::{Change, NewPerson, NewUnit, Store};
use redgrid_web::{AppState, router};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tower::ServiceExt;

#[tokio::test]
async fn access_matrix_on_sqlite() {
    let db = testing::sqlite().await.unwrap();
    run_matrix(db.store.clone()).await;
}

#[tokio::test]
async fn access_matrix_on_postgres() {
    let Some(db) = testing::postgres().await.unwrap() else {
        return;
    };
    run_matrix(db.store.clone()).await;
}

/// One member of the cast: a role held in one scope, with a demo token.
struct CastMember {
    label: String,
    person: Person,
    token: String,
}

/// One object of the matrix: a request, labelled a_… on the cast's side of the district and b_… on
/// the other.
struct Object {
    label: &'static str,
    id: RequestId,
}

async fn step(s: &Service, id: RequestId, who: &Person, cmd: Command) {
    s.run(id, &Actor::Person(who.clone()), &cmd, vec![], now())
        .await
        .unwrap_or_else(|e| panic!("setup {cmd:?} by {}: {e}", who.name));
}

async fn file(s: &Service, who: &Person, area: AreaId) -> RequestId {
    let input = SubmitInput {
        category_id: None,
        channel: Some(Channel::App),
        description: Some("楼道灯坏了，联系电话13912345678".into()),
        area_id: Some(area),
        address: Some("幸福里3号楼2单元501".into()),
        ..Default::default()
    };
    let (r, _) = s
        .submit(&Actor::Person(who.clone()), &input, vec![], None, now())
        .await
        .unwrap();
    r.id
}

fn accept(cat: CategoryId, level: &str) -> Command {
    Command::Accept {
        category_id: Some(cat),
        tier: None,
        urgent: None,
        level: redgrid_core::area::Level::parse(level),
    }
}

fn dispatch(u: UnitId) -> Command {
    Command::Dispatch { unit_id: Some(u) }
}

fn resolve() -> Command {
    Command::Resolve {
        outcome: None,
        summary: Some("已修好".into()),
        evidence: vec![],
        cost_fen: None,
    }
}

async fn run_matrix(store: Arc<dyn Store>) {
    let (service, f) = testing::seed(store.clone()).await.unwrap();
    let sys = Actor::System;
    // A second department, so that one department's work is outside the other's scope.
    let dept_b = service
        .create_unit(
            &sys,
            NewUnit {
                name: "区城市管理委员会".into(),
                kind: redgrid_core::unit::UnitKind::Department,
                area_id: f.district.id,
                level: redgrid_core::area::Level::Street,
                parent_id: None,
                code: None,
            },
        )
        .await
        .unwrap();
    let grid_b_team = service
        .create_unit(
            &sys,
            NewUnit {
                name: "港湾第一网格党小组".into(),
                kind: redgrid_core::unit::UnitKind::GridTeam,
                area_id: f.grid_b1_1.id,
                level: redgrid_core::area::Level::Grid,
                parent_id: None,
                code: None,
            },
        )
        .await
        .unwrap();
    let cast = make_cast(&service, &store, &f).await;
    let by = |label: &str| -> &Person {
        &cast
            .iter()
            .find(|c| c.label == label)
            .unwrap_or_else(|| panic!("no {label}"))
            .person
    };
    // Side B's people (not in the cast): a resident, a grid worker, a handler, a verifier.
    let mk = |name: &str, phone: &str, grants: Vec<Grant>| NewPerson {
        name: name.into(),
        phone: Some(phone.into()),
        grants,
    };
    let b_grid = store
        .create_person(
            mk(
                "乙网格",
                "13700000001",
                vec![Grant {
                    role: Role::GridWorker,
                    scope: Scope::Unit(grid_b_team.id),
                }],
            ),
            Change::system(),
        )
        .await
        .unwrap();
    let b_verifier = store
        .create_person(
            mk(
                "乙验单",
                "13700000002",
                vec![Grant {
                    role: Role::Verifier,
                    scope: Scope::Area(f.comm_b1.id),
                }],
            ),
            Change::system(),
        )
        .await
        .unwrap();
    let b_street = store
        .create_person(
            mk(
                "乙街道",
                "13700000003",
                vec![Grant {
                    role: Role::StreetStaff,
                    scope: Scope::Area(f.street_b.id),
                }],
            ),
            Change::system(),
        )
        .await
        .unwrap();
    service.reload().await.unwrap();

    // The objects: on each side a request in each stage, filed by that side's resident.
    let a_res = by("resident@area").clone();
    let a_grid = by("grid_worker@unit").clone();
    let a_member = by("member@unit").clone();
    let a_verifier = by("verifier@area").clone();
    let mut objects = Vec::new();
    for inside in [true, false] {
        let (res, grid, handler, verifier, street, area, team, dept) = if inside {
            (
                a_res.clone(),
                a_grid.clone(),
                a_member.clone(),
                a_verifier.clone(),
                f.street_staff.clone(),
                f.grid_a1_1.id,
                f.unit_grid_a1_1.id,
                f.unit_dept.id,
            )
        } else {
            (
                f.other_resident.clone(),
                b_grid.clone(),
                b_grid.clone(),
                b_verifier.clone(),
                b_street.clone(),
                f.grid_b1_1.id,
                grid_b_team.id,
                dept_b.id,
            )
        };
        let s = &service;
        let submitted = file(s, &res, area).await;
        let dispatched = file(s, &res, area).await;
        step(s, dispatched, &grid, accept(f.cat_garbage.id, "grid")).await;
        step(s, dispatched, &grid, dispatch(team)).await;
        let claimed = file(s, &res, area).await;
        step(s, claimed, &grid, accept(f.cat_garbage.id, "grid")).await;
        step(s, claimed, &grid, dispatch(team)).await;
        step(s, claimed, &handler, Command::Claim {}).await;
        let resolved = file(s, &res, area).await;
        step(s, resolved, &grid, accept(f.cat_garbage.id, "grid")).await;
        step(s, resolved, &grid, dispatch(team)).await;
        step(s, resolved, &handler, Command::Claim {}).await;
        step(s, resolved, &handler, resolve()).await;
        let verified = file(s, &res, area).await;
        step(s, verified, &grid, accept(f.cat_garbage.id, "grid")).await;
        step(s, verified, &grid, dispatch(team)).await;
        step(s, verified, &handler, Command::Claim {}).await;
        step(s, verified, &handler, resolve()).await;
        step(
            s,
            verified,
            &verifier,
            Command::Verify {
                passed: Some(true),
                reason: None,
                reached: None,
            },
        )
        .await;
        // At street level, dispatched by the street staff to a department.
        let to_dept = file(s, &res, area).await;
        step(s, to_dept, &street, accept(f.cat_road.id, "street")).await;
        step(s, to_dept, &street, dispatch(dept)).await;
        // At district level, dispatched by the district administrator to the district's office.
        let to_district = file(s, &res, area).await;
        step(s, to_district, &f.admin, accept(f.cat_road.id, "district")).await;
        step(s, to_district, &f.admin, dispatch(f.unit_district.id)).await;
        let labels: [&'static str; 7] = if inside {
            [
                "a_submitted",
                "a_dispatched",
                "a_claimed",
                "a_resolved",
                "a_verified",
                "a_department",
                "a_district",
            ]
        } else {
            [
                "b_submitted",
                "b_dispatched",
                "b_claimed",
                "b_resolved",
                "b_verified",
                "b_department",
                "b_district",
            ]
        };
        let ids = [
            submitted,
            dispatched,
            claimed,
            resolved,
            verified,
            to_dept,
            to_district,
        ];
        for (label, id) in labels.into_iter().zip(ids) {
            objects.push(Object { label, id });
        }
    }
    let state = Arc::new(AppState::new(Arc::new(service)));
    let app = router(state.clone());
    let service = state.service.clone();
    let dir = service.directory();
    let mut requests = BTreeMap::new();
    for o in &objects {
        requests.insert(o.id, store.request(o.id).await.unwrap().unwrap());
    }

    // 1. The API, cell by cell.
    let mut actual = BTreeSet::new();
    for c in &cast {
        let list = call(&app, "GET", "/api/requests?limit=200", &c.token, None).await;
        let listed: BTreeSet<i64> = list.1["items"]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["id"].as_i64()).collect())
            .unwrap_or_default();
        for o in &objects {
            let (st, _) = call(
                &app,
                "GET",
                &format!("/api/requests/{}", o.id),
                &c.token,
                None,
            )
            .await;
            actual.insert(line(&c.label, "get", o.label, outcome(st)));
            let in_list = if listed.contains(&o.id.0) {
                "listed"
            } else {
                "absent"
            };
            actual.insert(line(&c.label, "list", o.label, in_list));
            let (st, _) = call(
                &app,
                "POST",
                &format!("/api/requests/{}/reveal", o.id),
                &c.token,
                Some(json!({"reason": "访问矩阵测试"})),
            )
            .await;
            actual.insert(line(&c.label, "reveal", o.label, outcome(st)));
            for k in CommandKind::ALL
                .into_iter()
                .filter(|k| *k != CommandKind::Submit)
            {
                let (st, body) = call(
                    &app,
                    "POST",
                    &format!("/api/requests/{}/{}", o.id, k.as_str()),
                    &c.token,
                    Some(json!({"__probe": true})),
                )
                .await;
                assert_ne!(
                    st,
                    StatusCode::OK,
                    "a probe must never change anything: {body}"
                );
                actual.insert(line(&c.label, k.as_str(), o.label, outcome(st)));
            }
        }
        for (label, area) in [("new_in", f.grid_a1_1.id), ("new_out", f.grid_b1_1.id)] {
            let (st, body) = call(
                &app,
                "POST",
                "/api/requests",
                &c.token,
                Some(json!({"__probe": true, "area_id": area.0, "channel": "app", "description": "x"})),
            )
            .await;
            assert_ne!(st, StatusCode::CREATED, "a probe must never file: {body}");
            actual.insert(line(&c.label, "submit", label, outcome(st)));
        }
        // The scorecard: which unit and community rows one sees, and the district-wide groupings.
        for by in ["unit", "community"] {
            let (st, body) = call(
                &app,
                "GET",
                &format!("/api/scorecard?by={by}&period=2026"),
                &c.token,
                None,
            )
            .await;
            let keys: BTreeSet<i64> = body["rows"]
                .as_array()
                .map(|a| a.iter().filter_map(|r| r["key"].as_i64()).collect())
                .unwrap_or_default();
            for (label, key) in scorecard_rows(&f, by) {
                let seen = if st == StatusCode::OK && keys.contains(&key) {
                    "listed"
                } else {
                    "absent"
                };
                actual.insert(line(&c.label, &format!("scorecard_{by}"), label, seen));
            }
        }
        let (st, _) = call(
            &app,
            "GET",
            "/api/scorecard?by=category&period=2026",
            &c.token,
            None,
        )
        .await;
        actual.insert(line(
            &c.label,
            "scorecard_category",
            "district",
            outcome(st),
        ));
        let (st, _) = call(
            &app,
            "POST",
            "/api/categories/classes",
            &c.token,
            Some(json!({"__probe": true})),
        )
        .await;
        actual.insert(line(&c.label, "administer", "district", outcome(st)));
        // Granting a role to someone outside the cast, then revoking it (so the next member of the
        // cast finds the same district).
        for (label, role, area) in grant_cells(&f) {
            let body = json!({"person_id": f.other_resident.id.0, "role": role.as_str(), "area_id": area.0});
            let (st, _) = call(&app, "POST", "/api/grants", &c.token, Some(body.clone())).await;
            actual.insert(line(&c.label, "grant", label, outcome(st)));
            let (st, _) = call(&app, "POST", "/api/grants/revoke", &c.token, Some(body)).await;
            actual.insert(line(&c.label, "revoke", label, outcome(st)));
        }
    }

    // The same cells, from the policy table.
    let expected = model(POLICY, &dir, &cast, &objects, &requests, &f);
    let observable: BTreeSet<String> = expected
        .iter()
        .filter(|l| !l.contains("\tpolicy:"))
        .cloned()
        .collect();
    let missing: Vec<_> = observable.difference(&actual).take(20).collect();
    let extra: Vec<_> = actual.difference(&observable).take(20).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the API differs from the policy table.\nexpected but not seen: {missing:#?}\nseen but not expected: {extra:#?}"
    );

    // 2. Leaks: nobody whose grants lie on side A sees side B, except the district-wide roles.
    for cell in &actual {
        let parts: Vec<&str> = cell.split('\t').collect();
        let (who, what, obj, out) = (parts[0], parts[1], parts[2], parts[3]);
        let district_wide = who == "district_admin@area";
        if obj.starts_with("b_")
            && !district_wide
            && matches!(what, "get" | "list" | "reveal")
            && matches!(out, "allowed" | "listed")
        {
            panic!("leak: {cell}");
        }
    }

    // 3. The reviewed matrix.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/access-matrix.txt");
    let rendered: String = expected.iter().map(|l| format!("{l}\n")).collect();
    if std::env::var_os("REDGRID_BLESS").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    let golden: BTreeSet<String> = golden.lines().map(str::to_string).collect();
    let changed: Vec<_> = expected.symmetric_difference(&golden).take(20).collect();
    assert!(
        changed.is_empty(),
        "the policy table no longer gives the reviewed matrix (tests/access-matrix.txt); \
         if the change is deliberate, rerun with REDGRID_BLESS=1 and review the diff: {changed:#?}"
    );

    // Loosen each row in turn; each loosening must change the matrix (so check 3 would fail).
    let mut survivors = Vec::new();
    for (i, row) in POLICY.iter().enumerate() {
        let mut loosenings: Vec<(&str, Rule)> = Vec::new();
        if row.role.is_some() {
            loosenings.push(("any role", Rule { role: None, ..*row }));
        }
        // For filing one's own request, "anywhere" is what OwnRequest already means.
        if !matches!(row.relation, Relation::Anywhere | Relation::OwnRequest) {
            loosenings.push((
                "anywhere",
                Rule {
                    relation: Relation::Anywhere,
                    ..*row
                },
            ));
        }
        for (how, loose) in loosenings {
            let mut table = POLICY.to_vec();
            table[i] = loose;
            if grants_nothing_new(&table, i) {
                continue;
            }
            let m = model(&table, &dir, &cast, &objects, &requests, &f);
            if m == expected {
                survivors.push(format!("row {i} {row:?} loosened to {how}"));
            }
        }
    }
    assert!(
        survivors.is_empty(),
        "loosening these rows went unnoticed by the matrix: {survivors:#?}"
    );
}

/// Whether loosening row `i` to "any role" only repeats rows every role already has (then it
/// grants nothing new and is not a loosening).
fn grants_nothing_new(table: &[Rule], i: usize) -> bool {
    let row = table[i];
    if row.role.is_some() || row.relation == Relation::Anywhere {
        return false;
    }
    Role::ALL.iter().all(|r| {
        POLICY.iter().any(|p| {
            p.action == row.action && p.relation == row.relation && p.role.is_none_or(|x| x == *r)
        })
    })
}

fn line(who: &str, what: &str, obj: &str, out: &str) -> String {
    format!("{who}\t{what}\t{obj}\t{out}")
}

fn outcome(st: StatusCode) -> &'static str {
    match st.as_u16() {
        404 => "hidden",
        401 | 403 => "denied",
        200 | 201 | 409 | 422 => "allowed",
        other => panic!("unexpected status {other}"),
    }
}

/// The grants every member of the cast tries: a volunteer in their grid and in the other street's,
/// street staff in their street, a district administrator there.
fn grant_cells(f: &Fixture) -> [(&'static str, Role, AreaId); 4] {
    [
        ("volunteer_in", Role::Volunteer, f.grid_a1_1.id),
        ("volunteer_out", Role::Volunteer, f.grid_b1_1.id),
        ("street_staff_in", Role::StreetStaff, f.street_a.id),
        ("district_admin_in", Role::DistrictAdmin, f.street_a.id),
    ]
}

fn scorecard_rows(f: &Fixture, by: &str) -> Vec<(&'static str, i64)> {
    if by == "unit" {
        vec![
            ("unit_grid_a1_1", f.unit_grid_a1_1.id.0),
            ("unit_comm_a1", f.unit_comm_a1.id.0),
            ("unit_comm_b1", f.unit_comm_b1.id.0),
            ("unit_street_a", f.unit_street_a.id.0),
            ("unit_dept", f.unit_dept.id.0),
        ]
    } else {
        vec![("comm_a1", f.comm_a1.id.0), ("comm_b1", f.comm_b1.id.0)]
    }
}

/// The matrix the policy table `table` gives.
fn model(
    table: &[Rule],
    dir: &Directory,
    cast: &[CastMember],
    objects: &[Object],
    requests: &BTreeMap<RequestId, Request>,
    f: &Fixture,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let permit = |actor: &Actor, action, subject: &Subject<'_>| {
        policy::permit_under(table, dir, actor, action, subject).is_ok()
    };
    let role_may = |actor: &Actor, action| policy::role_may_under(table, actor, action);
    for c in cast {
        let actor = Actor::Person(c.person.clone());
        // The table's own decision for every action and subject, whether or not an endpoint shows
        // it (a command's scope may be hidden behind `view`): so any loosening shows here.
        let decide = |action, subject: &Subject<'_>| {
            if permit(&actor, action, subject) {
                "yes"
            } else {
                "no"
            }
        };
        for action in Action::all() {
            let what = format!("policy:{}", action.as_str());
            match action {
                Action::Run(CommandKind::Submit) => {
                    for (label, area) in [("new_in", f.grid_a1_1.id), ("new_out", f.grid_b1_1.id)] {
                        out.insert(line(
                            &c.label,
                            &what,
                            label,
                            decide(action, &Subject::NewAt(area)),
                        ));
                    }
                }
                Action::Assess | Action::Administer | Action::Organise | Action::Grant => {
                    for (label, subject) in [
                        ("district", Subject::District),
                        ("area_in", Subject::Area(f.grid_a1_1.id)),
                        ("area_out", Subject::Area(f.grid_b1_1.id)),
                    ] {
                        out.insert(line(&c.label, &what, label, decide(action, &subject)));
                    }
                }
                _ => {
                    for o in objects {
                        let subject = Subject::Request(&requests[&o.id]);
                        out.insert(line(&c.label, &what, o.label, decide(action, &subject)));
                    }
                }
            }
        }
        for o in objects {
            let r = &requests[&o.id];
            let subject = Subject::Request(r);
            let view = permit(&actor, Action::View, &subject);
            out.insert(line(
                &c.label,
                "get",
                o.label,
                if view { "allowed" } else { "hidden" },
            ));
            out.insert(line(
                &c.label,
                "list",
                o.label,
                if view { "listed" } else { "absent" },
            ));
            let reveal = if !view {
                "hidden"
            } else if permit(&actor, Action::Reveal, &subject) {
                "allowed"
            } else {
                "denied"
            };
            out.insert(line(&c.label, "reveal", o.label, reveal));
            for k in CommandKind::ALL
                .into_iter()
                .filter(|k| *k != CommandKind::Submit)
            {
                let a = Action::Run(k);
                let cell = if !role_may(&actor, a) {
                    "denied"
                } else if !view {
                    "hidden"
                } else if permit(&actor, a, &subject) {
                    "allowed"
                } else {
                    "denied"
                };
                out.insert(line(&c.label, k.as_str(), o.label, cell));
            }
        }
        for (label, area) in [("new_in", f.grid_a1_1.id), ("new_out", f.grid_b1_1.id)] {
            let ok = permit(
                &actor,
                Action::Run(CommandKind::Submit),
                &Subject::NewAt(area),
            );
            out.insert(line(
                &c.label,
                "submit",
                label,
                if ok { "allowed" } else { "denied" },
            ));
        }
        let whole = permit(&actor, Action::Assess, &Subject::District);
        let any_assess = role_may(&actor, Action::Assess);
        for by in ["unit", "community"] {
            for (label, key) in scorecard_rows(f, by) {
                let area = if by == "unit" {
                    dir.unit(UnitId(key)).map(|u| u.area_id)
                } else {
                    Some(AreaId(key))
                };
                let seen = any_assess
                    && (whole
                        || area.is_some_and(|a| permit(&actor, Action::Assess, &Subject::Area(a))));
                out.insert(line(
                    &c.label,
                    &format!("scorecard_{by}"),
                    label,
                    if seen { "listed" } else { "absent" },
                ));
            }
        }
        out.insert(line(
            &c.label,
            "scorecard_category",
            "district",
            if whole { "allowed" } else { "denied" },
        ));
        let admin = permit(&actor, Action::Administer, &Subject::District);
        out.insert(line(
            &c.label,
            "administer",
            "district",
            if admin { "allowed" } else { "denied" },
        ));
        for (label, role, area) in grant_cells(f) {
            let grant = Grant {
                role,
                scope: Scope::Area(area),
            };
            let ok = policy::may_grant_under(table, dir, &actor, &grant).is_ok();
            let cell = if ok { "allowed" } else { "denied" };
            out.insert(line(&c.label, "grant", label, cell));
            out.insert(line(&c.label, "revoke", label, cell));
        }
    }
    out
}

/// Every role twice: held in an area and held in a unit, all on side A of the district.
async fn make_cast(service: &Service, store: &Arc<dyn Store>, f: &Fixture) -> Vec<CastMember> {
    let mut cast = Vec::new();
    for (n, role) in Role::ALL.into_iter().enumerate() {
        let area = match role {
            Role::GridWorker | Role::Resident | Role::Volunteer | Role::Member => f.grid_a1_1.id,
            Role::CommunityStaff | Role::Verifier => f.comm_a1.id,
            Role::StreetStaff | Role::Supervisor | Role::DepartmentStaff => f.street_a.id,
            Role::DistrictAdmin => f.district.id,
        };
        let unit = match role {
            Role::GridWorker | Role::Resident | Role::Volunteer | Role::Member => {
                f.unit_grid_a1_1.id
            }
            Role::CommunityStaff | Role::Verifier | Role::Supervisor => f.unit_comm_a1.id,
            Role::StreetStaff => f.unit_street_a.id,
            Role::DepartmentStaff => f.unit_dept.id,
            // Narrower than the district, so that "anywhere" differs from "in area" for this role
            // too (a district administrator seconded to a street office).
            Role::DistrictAdmin => f.unit_street_a.id,
        };
        for (k, scope) in [("area", Scope::Area(area)), ("unit", Scope::Unit(unit))] {
            let label = format!("{}@{k}", role.as_str());
            let person = store
                .create_person(
                    NewPerson {
                        name: format!("矩阵{n}{k}"),
                        phone: Some(format!(
                            "1360000{:02}{:02}",
                            n,
                            if k == "area" { 1 } else { 2 }
                        )),
                        grants: vec![Grant { role, scope }],
                    },
                    Change::system(),
                )
                .await
                .unwrap();
            let token = testing::api_token(service, &person).await.unwrap();
            cast.push(CastMember {
                label,
                person,
                token,
            });
        }
    }
    cast
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut b = HttpRequest::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    let req = b
        .body(Body::from(body.map(|v| v.to_string()).unwrap_or_default()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
