//! Granting and revoking roles, with delegation, on SQLite and PostgreSQL: who may grant what where,
//! the refusals (nothing written), the audit chain, and the login that comes with a first grant.

use redgrid_app::roles::GrantInput;
use redgrid_app::testing::{self, Fixture};
use redgrid_core::error::{CoreError, Denial};
use redgrid_core::ids::PersonId;
use redgrid_core::person::{Grant, Role, Scope};
use redgrid_store::{Store, StoreError};
use std::sync::Arc;

redgrid_app::both_backends!(
    no_granter_gets_a_login_to_someone_already_known,
    delegated_roles_are_held_at_their_own_level_and_units_within_reach,
    delegated_grants_reach_only_the_granters_area_and_rank,
    refusals_write_nothing,
    a_first_grant_comes_with_a_login_that_must_change_its_password,
    revoking_takes_the_role_away_and_is_recorded,
);

fn input(person: PersonId, role: Role, scope: Scope) -> GrantInput {
    let (area_id, unit_id) = match scope {
        Scope::Area(a) => (Some(a), None),
        Scope::Unit(u) => (None, Some(u)),
    };
    GrantInput {
        person_id: Some(person),
        role: Some(role),
        area_id,
        unit_id,
        ..Default::default()
    }
}

fn denial(e: StoreError) -> Denial {
    match e {
        StoreError::Core(CoreError::Forbidden(d)) => d,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn fields(e: StoreError) -> Vec<(String, &'static str)> {
    match e {
        StoreError::Core(CoreError::Validation(f)) => {
            f.into_iter().map(|f| (f.field, f.code)).collect()
        }
        other => panic!("expected invalid fields, got {other:?}"),
    }
}

async fn delegated_grants_reach_only_the_granters_area_and_rank(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let street = Fixture::actor(&f.street_staff);
    let community = Fixture::actor(&f.community_staff);
    let admin = Fixture::actor(&f.admin);
    let target = f.resident.id;

    // A street's staff grant inside their street, up to their own rank.
    let g = s
        .grant_role(
            &street,
            &input(target, Role::GridWorker, Scope::Area(f.grid_a1_1.id)),
        )
        .await
        .unwrap();
    assert!(g.changed);
    assert!(g.person.grants.contains(&Grant {
        role: Role::GridWorker,
        scope: Scope::Area(f.grid_a1_1.id)
    }));
    s.grant_role(
        &street,
        &input(target, Role::StreetStaff, Scope::Unit(f.unit_street_a.id)),
    )
    .await
    .unwrap();
    // Not in the other street, and nothing above their rank.
    let out = s
        .grant_role(
            &street,
            &input(target, Role::GridWorker, Scope::Area(f.grid_b1_1.id)),
        )
        .await
        .unwrap_err();
    assert_eq!(denial(out), Denial::OutOfScope);
    let above = s
        .grant_role(
            &street,
            &input(target, Role::DistrictAdmin, Scope::Area(f.street_a.id)),
        )
        .await
        .unwrap_err();
    assert_eq!(denial(above), Denial::RoleNotAllowed);
    // Community staff: their community only, and not street staff.
    s.grant_role(
        &community,
        &input(target, Role::Volunteer, Scope::Area(f.comm_a1.id)),
    )
    .await
    .unwrap();
    let street_role = s
        .grant_role(
            &community,
            &input(target, Role::StreetStaff, Scope::Area(f.comm_a1.id)),
        )
        .await
        .unwrap_err();
    assert_eq!(denial(street_role), Denial::RoleNotAllowed);
    let other_street = s
        .grant_role(
            &community,
            &input(target, Role::Volunteer, Scope::Area(f.street_a.id)),
        )
        .await
        .unwrap_err();
    assert_eq!(denial(other_street), Denial::OutOfScope);
    // The district administrator grants anything anywhere.
    s.grant_role(
        &admin,
        &input(target, Role::Supervisor, Scope::Area(f.street_b.id)),
    )
    .await
    .unwrap();
    // Roles without a granting row grant nothing.
    for who in [&f.volunteer, &f.grid_worker, &f.verifier, &f.supervisor] {
        let e = s
            .grant_role(
                &Fixture::actor(who),
                &input(target, Role::Resident, Scope::Area(f.grid_a1_1.id)),
            )
            .await
            .unwrap_err();
        assert_eq!(denial(e), Denial::RoleNotAllowed, "{}", who.name);
    }
    // Granting what is held already changes nothing and records nothing.
    let head = store.audit_head().await.unwrap();
    let again = s
        .grant_role(
            &street,
            &input(target, Role::GridWorker, Scope::Area(f.grid_a1_1.id)),
        )
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(store.audit_head().await.unwrap(), head);
    // The person now acts in the new role: the grid worker grant lets them accept in their grid.
    let me = store.person(target).await.unwrap().unwrap();
    assert!(me.roles().contains(&Role::GridWorker));
}

async fn refusals_write_nothing(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let street = Fixture::actor(&f.street_staff);
    let head = store.audit_head().await.unwrap();
    let people = store.count_people().await.unwrap();
    let before = store.person(f.resident.id).await.unwrap().unwrap();

    // Outside the area, above the rank, one's own roles.
    let refused = [
        input(f.resident.id, Role::GridWorker, Scope::Area(f.grid_b1_1.id)),
        input(f.resident.id, Role::Supervisor, Scope::Area(f.street_a.id)),
        input(
            f.street_staff.id,
            Role::GridWorker,
            Scope::Area(f.grid_a1_1.id),
        ),
    ];
    let mut seen = vec![];
    for i in &refused {
        seen.push(denial(s.grant_role(&street, i).await.unwrap_err()));
    }
    assert_eq!(
        seen,
        [Denial::OutOfScope, Denial::RoleNotAllowed, Denial::OwnRoles]
    );
    // A new person outside the area is not created either.
    let stranger = GrantInput {
        phone: Some("139 0000 7777".into()),
        name: Some("新网格员".into()),
        role: Some(Role::GridWorker),
        area_id: Some(f.grid_b1_1.id),
        ..Default::default()
    };
    assert_eq!(
        denial(s.grant_role(&street, &stranger).await.unwrap_err()),
        Denial::OutOfScope
    );

    // Bad input: named fields, stable codes.
    let mut bad = input(f.resident.id, Role::GridWorker, Scope::Area(f.grid_a1_1.id));
    bad.role = None;
    assert_eq!(
        fields(s.grant_role(&street, &bad).await.unwrap_err()),
        [("role".to_string(), "required")]
    );
    let mut both = input(f.resident.id, Role::GridWorker, Scope::Area(f.grid_a1_1.id));
    both.unit_id = Some(f.unit_street_a.id);
    assert_eq!(
        fields(s.grant_role(&street, &both).await.unwrap_err()),
        [("unit_id".to_string(), "not_allowed")]
    );
    let mut nowhere = input(f.resident.id, Role::GridWorker, Scope::Area(f.grid_a1_1.id));
    nowhere.area_id = Some(redgrid_core::ids::AreaId(999_999));
    assert_eq!(
        fields(s.grant_role(&street, &nowhere).await.unwrap_err()),
        [("area_id".to_string(), "unknown")]
    );
    let no_one = GrantInput {
        role: Some(Role::GridWorker),
        area_id: Some(f.grid_a1_1.id),
        ..Default::default()
    };
    assert_eq!(
        fields(s.grant_role(&street, &no_one).await.unwrap_err()),
        [("person_id".to_string(), "required")]
    );
    let bad_phone = GrantInput {
        phone: Some("12x".into()),
        name: Some("某人".into()),
        ..no_one.clone()
    };
    assert_eq!(
        fields(s.grant_role(&street, &bad_phone).await.unwrap_err()),
        [("phone".to_string(), "invalid")]
    );
    let unnamed = GrantInput {
        phone: Some("13900007778".into()),
        ..no_one.clone()
    };
    assert_eq!(
        fields(s.grant_role(&street, &unnamed).await.unwrap_err()),
        [("name".to_string(), "required")]
    );
    let ghost = input(
        PersonId(999_999),
        Role::GridWorker,
        Scope::Area(f.grid_a1_1.id),
    );
    assert!(matches!(
        s.grant_role(&street, &ghost).await.unwrap_err(),
        StoreError::Core(CoreError::NotFound { .. })
    ));

    assert_eq!(store.audit_head().await.unwrap(), head, "no chain record");
    assert_eq!(
        store.count_people().await.unwrap(),
        people,
        "no one created"
    );
    assert_eq!(store.person(f.resident.id).await.unwrap().unwrap(), before);
}

async fn a_first_grant_comes_with_a_login_that_must_change_its_password(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let community = Fixture::actor(&f.community_staff);
    let new = GrantInput {
        phone: Some("139-0000-5555".into()),
        name: Some(" 赵志愿 ".into()),
        role: Some(Role::Volunteer),
        area_id: Some(f.grid_a1_1.id),
        ..Default::default()
    };
    let g = s.grant_role(&community, &new).await.unwrap();
    assert!(g.changed);
    assert_eq!(g.person.name, "赵志愿");
    assert_eq!(g.person.phone.as_deref(), Some("13900005555"));
    let password = g.one_time_password.expect("a one-time password");
    let session = s.login("13900005555", &password, 1).await.unwrap();
    assert!(session.must_change, "the one-time password must be changed");
    assert_eq!(session.person.roles(), [Role::Volunteer]);
    // A second grant finds the person by phone and makes no second login.
    let again = GrantInput {
        role: Some(Role::Member),
        ..new.clone()
    };
    let g2 = s.grant_role(&community, &again).await.unwrap();
    assert_eq!(g2.person.id, g.person.id);
    assert!(g2.one_time_password.is_none());
    // The chain says who granted what to whom, where (and never the name or phone).
    let rows = store.audit_rows(0, 10_000).await.unwrap();
    let grants: Vec<_> = rows
        .iter()
        .filter(|r| r.record.payload.contains("grant_role"))
        .collect();
    assert_eq!(grants.len(), 2);
    let last = grants[1];
    assert_eq!(last.record.actor_id, Some(f.community_staff.id));
    assert!(last.record.payload.contains("\"member\""));
    assert!(!last.record.payload.contains("13900005555"));
    assert!(!last.record.payload.contains("赵志愿"));
}

async fn revoking_takes_the_role_away_and_is_recorded(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let street = Fixture::actor(&f.street_staff);
    let grant = input(f.resident.id, Role::GridWorker, Scope::Area(f.grid_a1_1.id));
    s.grant_role(&street, &grant).await.unwrap();
    let head = store.audit_head().await.unwrap();
    let r = s.revoke_role(&street, &grant).await.unwrap();
    assert!(r.changed);
    assert!(!r.person.roles().contains(&Role::GridWorker));
    assert_ne!(store.audit_head().await.unwrap(), head);
    let rows = store.audit_rows(head.0, 10).await.unwrap();
    assert!(rows[0].record.payload.contains("revoke_role"));
    // Revoking what is not held is "not found" (the answer would otherwise show anyone's record),
    // and writes nothing.
    let head = store.audit_head().await.unwrap();
    assert!(matches!(
        s.revoke_role(&street, &grant).await.unwrap_err(),
        StoreError::Core(CoreError::NotFound { .. })
    ));
    assert_eq!(store.audit_head().await.unwrap(), head);
    // The same delegation rules: a street's staff cannot revoke the district administrator.
    let admin_grant = input(f.admin.id, Role::DistrictAdmin, Scope::Area(f.district.id));
    let e = s.revoke_role(&street, &admin_grant).await.unwrap_err();
    assert!(matches!(e, StoreError::Core(CoreError::Forbidden(_))));
    // Revoking by an unknown phone says so on the phone field.
    let unknown = GrantInput {
        phone: Some("13999999999".into()),
        role: Some(Role::GridWorker),
        area_id: Some(f.grid_a1_1.id),
        ..Default::default()
    };
    assert_eq!(
        fields(s.revoke_role(&street, &unknown).await.unwrap_err()),
        [("phone".to_string(), "unknown")]
    );
    // Nor one's own roles: an administrator cannot lock themselves out.
    let own = s
        .revoke_role(&Fixture::actor(&f.admin), &admin_grant)
        .await
        .unwrap_err();
    assert_eq!(denial(own), Denial::OwnRoles);
}

async fn no_granter_gets_a_login_to_someone_already_known(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    // A caller a hotline operator filed for: known by phone, no login yet.
    let caller = store
        .create_person(
            redgrid_store::NewPerson {
                name: "何大爷".into(),
                phone: Some("13900099001".into()),
                grants: vec![],
            },
            redgrid_store::Change::system(),
        )
        .await
        .unwrap();
    let community = Fixture::actor(&f.community_staff);
    let g = s
        .grant_role(
            &community,
            &input(caller.id, Role::Volunteer, Scope::Area(f.grid_a1_1.id)),
        )
        .await
        .unwrap();
    assert!(g.changed);
    assert!(
        g.one_time_password.is_none(),
        "they claim their login by SMS"
    );
    assert!(store.account(caller.id).await.unwrap().is_none());
    // Written as +86, the phone is the same person.
    let again = GrantInput {
        phone: Some("+86 139 0009 9001".into()),
        role: Some(Role::Member),
        area_id: Some(f.grid_a1_1.id),
        ..Default::default()
    };
    assert_eq!(
        s.grant_role(&community, &again).await.unwrap().person.id,
        caller.id
    );
}

async fn delegated_roles_are_held_at_their_own_level_and_units_within_reach(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let street = Fixture::actor(&f.street_staff);
    let community = Fixture::actor(&f.community_staff);
    let target = f.resident.id;
    // Community staff in a community, not over a whole street; grid workers in a grid.
    let wide = s
        .grant_role(
            &street,
            &input(target, Role::CommunityStaff, Scope::Area(f.street_a.id)),
        )
        .await
        .unwrap_err();
    assert_eq!(denial(wide), Denial::RoleNotAllowed);
    s.grant_role(
        &street,
        &input(target, Role::CommunityStaff, Scope::Area(f.comm_a1.id)),
    )
    .await
    .unwrap();
    let grid_wide = s
        .grant_role(
            &community,
            &input(target, Role::GridWorker, Scope::Area(f.comm_a1.id)),
        )
        .await
        .unwrap_err();
    assert_eq!(denial(grid_wide), Denial::RoleNotAllowed);
    // Verifiers are named by the district.
    let verifier = s
        .grant_role(
            &community,
            &input(target, Role::Verifier, Scope::Area(f.comm_a1.id)),
        )
        .await
        .unwrap_err();
    assert_eq!(denial(verifier), Denial::RoleNotAllowed);
    // A team in the community that belongs to a district department acts for the department: not
    // within a community's reach.
    let team = s
        .create_unit(
            &redgrid_core::person::Actor::System,
            redgrid_store::NewUnit {
                name: "住建委驻社区工作组".into(),
                kind: redgrid_core::unit::UnitKind::Team,
                area_id: f.comm_a1.id,
                level: redgrid_core::area::Level::Community,
                parent_id: Some(f.unit_dept.id),
                code: None,
            },
        )
        .await
        .unwrap();
    let through_team = s
        .grant_role(
            &community,
            &input(target, Role::Volunteer, Scope::Unit(team.id)),
        )
        .await
        .unwrap_err();
    assert_eq!(denial(through_team), Denial::OutOfScope);
    // What a granter gets back is only what is within their reach.
    let admin = Fixture::actor(&f.admin);
    s.grant_role(
        &admin,
        &input(target, Role::Supervisor, Scope::Area(f.street_b.id)),
    )
    .await
    .unwrap();
    let g = s
        .grant_role(
            &community,
            &input(target, Role::Volunteer, Scope::Area(f.grid_a1_1.id)),
        )
        .await
        .unwrap();
    assert!(
        !g.person.roles().contains(&Role::Supervisor),
        "{:?}",
        g.person.grants
    );
}
