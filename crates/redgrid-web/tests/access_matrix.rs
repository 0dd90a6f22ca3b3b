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
//! 4. A second district, served beside the first from its own database (as `serve` does with
//!    `[[districts]]`): every member of the cast is refused everything there (the `other_district_…`
//!    cells of the matrix), and its own district administrator sees, lists, exports and answers
//!    over Open311 nothing of the first, nor the first anything of it.

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
use redgrid_web::districts::Site;
use redgrid_web::{AppState, router};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tower::ServiceExt;

#[tokio::test]
async fn access_matrix_on_sqlite() {
    let db = testing::sqlite().await.unwrap();
    let other = testing::sqlite().await.unwrap();
    run_matrix(db.store.clone(), other.store.clone()).await;
}

#[tokio::test]
async fn access_matrix_on_postgres() {
    let Some(db) = testing::postgres().await.unwrap() else {
        return;
    };
    let Some(other) = testing::postgres().await.unwrap() else {
        return;
    };
    run_matrix(db.store.clone(), other.store.clone()).await;
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
        public_summary: None,
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
        public_summary: None,
        outcome: None,
        summary: Some("已修好".into()),
        evidence: vec![],
        cost_fen: None,
    }
}

async fn run_matrix(store: Arc<dyn Store>, other_store: Arc<dyn Store>) {
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

    // 4. The second district: the cast's tokens mean nothing there.
    let other = other_district(other_store).await;
    let city = redgrid_web::districts::router(vec![
        Site {
            code: "120116".into(),
            name: "滨海新区".into(),
            hosts: vec![HOST_A.into()],
            port: None,
            default: false,
            state: state.clone(),
        },
        Site {
            code: "120103".into(),
            name: "河西区".into(),
            hosts: vec![HOST_B.into()],
            port: None,
            default: false,
            state: other.state.clone(),
        },
    ]);
    for c in &cast {
        for (what, obj, method, uri, body) in other.cells() {
            let (st, _) = call_at(&city, HOST_B, method, &uri, &c.token, body).await;
            actual.insert(line(&c.label, what, obj, outcome(st)));
        }
        // The same member at their own district's host name is served as before.
        let (st, _) = call_at(&city, HOST_A, "GET", "/api/me", &c.token, None).await;
        assert_eq!(st, StatusCode::OK, "{} at home", c.label);
    }
    two_districts_apart(&city, &other, &objects, &cast).await;

    // The same cells, from the policy table.
    let mut expected = model(POLICY, &dir, &cast, &objects, &requests, &f);
    for c in &cast {
        for (what, obj, ..) in other.cells() {
            expected.insert(line(&c.label, what, obj, "denied"));
        }
    }
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
        if what.starts_with("other_district") && out != "denied" {
            panic!("leak across districts: {cell}");
        }
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
            let mut m = model(&table, &dir, &cast, &objects, &requests, &f);
            for c in &cast {
                for (what, obj, ..) in other.cells() {
                    m.insert(line(&c.label, what, obj, "denied"));
                }
            }
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
                Action::Assess
                | Action::Administer
                | Action::Organise
                | Action::Grant
                | Action::Audit => {
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
            Role::DistrictAdmin | Role::Auditor => f.district.id,
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
            Role::DistrictAdmin | Role::Auditor => f.unit_street_a.id,
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
    call_at(app, "localhost", method, uri, token, body).await
}

const HOST_A: &str = "binhai.example.gov";
const HOST_B: &str = "hexi.example.gov";

/// What every request of the first district says (see [`file`]), and of the second.
const A_TEXT: &str = "楼道灯坏了";
const B_TEXT: &str = "河西路灯不亮";

/// A second district in its own database, as a city's installation serves it beside the first.
struct OtherDistrict {
    state: Arc<AppState>,
    admin_token: String,
    /// Its requests: one filed, one dispatched, one verified.
    ids: Vec<(&'static str, RequestId)>,
}

impl OtherDistrict {
    /// The calls every member of the first district's cast makes at this district's host: what,
    /// on which object, method, path, body.
    fn cells(
        &self,
    ) -> Vec<(
        &'static str,
        &'static str,
        &'static str,
        String,
        Option<Value>,
    )> {
        let mut out = vec![
            (
                "other_district_list",
                "district",
                "GET",
                "/api/requests?limit=200".to_string(),
                None,
            ),
            (
                "other_district_me",
                "district",
                "GET",
                "/api/me".to_string(),
                None,
            ),
            (
                "other_district_submit",
                "district",
                "POST",
                "/api/requests".to_string(),
                Some(json!({"__probe": true, "area_id": 4, "channel": "app", "description": "x"})),
            ),
            (
                "other_district_scorecard",
                "district",
                "GET",
                "/api/scorecard?by=unit&period=2026".to_string(),
                None,
            ),
            (
                "other_district_administer",
                "district",
                "POST",
                "/api/categories/classes".to_string(),
                Some(json!({"__probe": true})),
            ),
            (
                "other_district_export",
                "district",
                "GET",
                "/api/org/staff?format=csv".to_string(),
                None,
            ),
        ];
        for (label, id) in &self.ids {
            out.push((
                "other_district_get",
                label,
                "GET",
                format!("/api/requests/{id}"),
                None,
            ));
            out.push((
                "other_district_reveal",
                label,
                "POST",
                format!("/api/requests/{id}/reveal"),
                Some(json!({"reason": "访问矩阵测试"})),
            ));
            out.push((
                "other_district_accept",
                label,
                "POST",
                format!("/api/requests/{id}/accept"),
                Some(json!({"__probe": true})),
            ));
        }
        out
    }
}

/// 河西区 (120103): one street, community and grid, a grid team, one category, an administrator, a
/// resident, a grid worker and a verifier, and three requests.
async fn other_district(store: Arc<dyn Store>) -> OtherDistrict {
    use redgrid_core::area::Level;
    use redgrid_store::{ItemFields, NewArea, NewClass};
    let service = Service::new(store.clone(), Default::default())
        .await
        .unwrap();
    let sys = Actor::System;
    let area = |parent: Option<AreaId>, kind, code: &str, name: &str| NewArea {
        parent_id: parent,
        kind,
        code: code.into(),
        name: name.into(),
    };
    let district = service
        .create_area(&sys, area(None, Level::District, "120103", "河西区"))
        .await
        .unwrap();
    let street = service
        .create_area(
            &sys,
            area(Some(district.id), Level::Street, "120103001", "大营门街道"),
        )
        .await
        .unwrap();
    let community = service
        .create_area(
            &sys,
            area(
                Some(street.id),
                Level::Community,
                "120103001001",
                "新疆路社区",
            ),
        )
        .await
        .unwrap();
    let grid = service
        .create_area(
            &sys,
            area(
                Some(community.id),
                Level::Grid,
                "12010300100101",
                "新疆路第一网格",
            ),
        )
        .await
        .unwrap();
    let team = service
        .create_unit(
            &sys,
            NewUnit {
                name: "新疆路第一网格党小组".into(),
                kind: redgrid_core::unit::UnitKind::GridTeam,
                area_id: grid.id,
                level: Level::Grid,
                parent_id: None,
                code: None,
            },
        )
        .await
        .unwrap();
    let class = service
        .create_class(
            &sys,
            NewClass {
                code: "light".into(),
                name_zh: "照明设施".into(),
                name_en: "Lighting".into(),
                sort: 1,
            },
        )
        .await
        .unwrap();
    let tier = redgrid_core::catalogue::Tier::Micro;
    let item = service
        .create_item(
            &sys,
            ItemFields {
                class_id: class.id,
                code: "light.street".into(),
                name_zh: "河西路灯".into(),
                name_en: "Hexi street lights".into(),
                default_tier: tier,
                default_level: tier.default_level(),
                respond_limit: None,
                resolve_limit: None,
                active: true,
                sort: 1,
            },
        )
        .await
        .unwrap();
    let person = |name: &str, phone: &str, role, scope| NewPerson {
        name: name.into(),
        phone: Some(phone.into()),
        grants: vec![Grant { role, scope }],
    };
    let admin = store
        .create_person(
            person(
                "河西管理",
                "13500000001",
                Role::DistrictAdmin,
                Scope::Area(district.id),
            ),
            Change::system(),
        )
        .await
        .unwrap();
    let resident = store
        .create_person(
            person(
                "河西居民",
                "13500000002",
                Role::Resident,
                Scope::Area(grid.id),
            ),
            Change::system(),
        )
        .await
        .unwrap();
    let worker = store
        .create_person(
            person(
                "河西网格员",
                "13500000003",
                Role::GridWorker,
                Scope::Unit(team.id),
            ),
            Change::system(),
        )
        .await
        .unwrap();
    let verifier = store
        .create_person(
            person(
                "河西验单",
                "13500000004",
                Role::Verifier,
                Scope::Area(community.id),
            ),
            Change::system(),
        )
        .await
        .unwrap();
    service.reload().await.unwrap();
    let s = &service;
    let mut ids = Vec::new();
    for (label, stage) in [("x_submitted", 0), ("x_dispatched", 1), ("x_verified", 2)] {
        let input = SubmitInput {
            category_id: None,
            channel: Some(Channel::App),
            description: Some(format!("{B_TEXT}，联系电话13512345678")),
            area_id: Some(grid.id),
            address: Some("新疆路8号".into()),
            ..Default::default()
        };
        let (r, _) = s
            .submit(
                &Actor::Person(resident.clone()),
                &input,
                vec![],
                None,
                now(),
            )
            .await
            .unwrap();
        if stage >= 1 {
            step(s, r.id, &worker, accept(item.id, "grid")).await;
            step(s, r.id, &worker, dispatch(team.id)).await;
        }
        if stage >= 2 {
            step(s, r.id, &worker, Command::Claim {}).await;
            step(s, r.id, &worker, resolve()).await;
            step(
                s,
                r.id,
                &verifier,
                Command::Verify {
                    passed: Some(true),
                    reason: None,
                    reached: None,
                },
            )
            .await;
        }
        ids.push((label, r.id));
    }
    let admin_token = testing::api_token(&service, &admin).await.unwrap();
    OtherDistrict {
        state: Arc::new(AppState::new(Arc::new(service))),
        admin_token,
        ids,
    }
}

/// Each district's own administrator, its public lists and Open311 see only their own district.
async fn two_districts_apart(
    city: &axum::Router,
    other: &OtherDistrict,
    objects: &[Object],
    cast: &[CastMember],
) {
    let a_admin = &cast
        .iter()
        .find(|c| c.label == "district_admin@area")
        .expect("a district administrator in the cast")
        .token;
    let b_admin = &other.admin_token;
    // Each administrator is a stranger in the other district.
    for (host, token) in [(HOST_A, b_admin), (HOST_B, a_admin)] {
        let (st, body) = call_at(city, host, "GET", "/api/me", token, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{host}: {body}");
    }
    // The second district lists exactly its own requests, whatever ids the first one uses.
    let (st, list) = call_at(
        city,
        HOST_B,
        "GET",
        "/api/requests?limit=200",
        b_admin,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let listed: BTreeSet<i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["id"].as_i64())
        .collect();
    let own: BTreeSet<i64> = other.ids.iter().map(|(_, id)| id.0).collect();
    assert_eq!(listed, own);
    assert!(!list.to_string().contains(A_TEXT), "{list}");
    for o in objects {
        let (st, body) = call_at(
            city,
            HOST_B,
            "GET",
            &format!("/api/requests/{}", o.id),
            b_admin,
            None,
        )
        .await;
        let text = body.to_string();
        assert!(
            st == StatusCode::NOT_FOUND || text.contains(B_TEXT),
            "{}: {st} {text}",
            o.label
        );
        assert!(!text.contains(A_TEXT) && !text.contains("滨海"), "{text}");
    }
    // The first district's administrator, district-wide there, sees none of the second.
    let (_, list) = call_at(
        city,
        HOST_A,
        "GET",
        "/api/requests?limit=200",
        a_admin,
        None,
    )
    .await;
    assert!(!list.to_string().contains(B_TEXT));
    // Scorecards, directories and registers stay home.
    for (host, token, foreign) in [
        (HOST_B, b_admin, ["幸福里", "塘沽", "滨海"]),
        (HOST_A, a_admin, ["新疆路", "大营门", "河西"]),
    ] {
        for uri in [
            "/api/scorecard?by=unit&period=2026",
            "/api/scorecard?by=category&period=2026",
            "/api/units",
            "/api/areas",
            "/api/categories",
            "/api/org/areas?format=csv",
            "/api/org/units?format=csv",
            "/api/org/staff?format=csv",
            "/api/public/needs",
            "/api/public/results",
            "/api/public/needs?format=csv",
            "/open311/v2/services.json",
            "/open311/v2/requests.json",
        ] {
            let (st, text) = raw_at(city, host, uri, Some(token)).await;
            assert!(st.is_success(), "{host}{uri}: {st} {text}");
            for word in foreign {
                assert!(!text.contains(word), "{host}{uri} shows {word}: {text}");
            }
        }
    }
    let (_, text) = raw_at(city, HOST_B, "/api/public/needs", None).await;
    assert!(text.contains(B_TEXT) || text.contains("河西路灯"), "{text}");
    // Open311: the other district's jurisdiction is refused at a district's host, and a host no
    // district claims is placed by jurisdiction_id.
    let (st, _) = raw_at(
        city,
        HOST_B,
        "/open311/v2/services.json?jurisdiction_id=120116",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, text) = raw_at(
        city,
        "10.0.0.9",
        "/open311/v2/services.json?jurisdiction_id=120103",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        text.contains("light.street") && !text.contains("env.garbage"),
        "{text}"
    );
    let (st, text) = raw_at(city, "10.0.0.9", "/api/requests", Some(a_admin)).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{text}");
    assert!(text.contains("unknown_district"), "{text}");
    let (st, text) = raw_at(
        city,
        "10.0.0.9",
        "/open311/v2/services.json?jurisdiction_id=999999",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{text}");
    // A filing whose query names the other district is refused, even at this district's host.
    let form = format!(
        "api_key={b_admin}&service_code=light.street&description=%E8%B7%AF%E7%81%AF&address_string=x"
    );
    let post = |uri: &str, host: &str| {
        HttpRequest::post(uri)
            .header("host", host)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.clone()))
            .unwrap()
    };
    let res = city
        .clone()
        .oneshot(post(
            "/open311/v2/requests.json?jurisdiction_id=120116",
            HOST_B,
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // A proxy that rewrote Host passes the name it was sent to in X-Forwarded-Host.
    let res = city
        .clone()
        .oneshot(
            HttpRequest::get("/api/areas")
                .header("host", "127.0.0.1:8080")
                .header("x-forwarded-host", HOST_B)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&bytes).contains("河西区"));
    // Two Host headers could be read differently by a proxy: refused.
    let res = city
        .clone()
        .oneshot(
            HttpRequest::get("/api/areas")
                .header("host", HOST_A)
                .header("host", HOST_B)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // The installation's health, at an address no district claims.
    let (st, text) = raw_at(city, "10.0.0.9", "/readyz", None).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert!(
        text.contains("\"120103\":true") && text.contains("\"120116\":true"),
        "{text}"
    );
}

async fn call_at(
    app: &axum::Router,
    host: &str,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut b = HttpRequest::builder()
        .method(method)
        .uri(uri)
        .header("host", host)
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

/// A GET at `host`, with the body as text.
async fn raw_at(
    app: &axum::Router,
    host: &str,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, String) {
    let mut b = HttpRequest::builder().uri(uri).header("host", host);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let res = app
        .clone()
        .oneshot(b.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}
