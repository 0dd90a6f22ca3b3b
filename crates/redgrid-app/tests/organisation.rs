//! The organisation registers, imports, the activity ledger, alliances and campaign statistics —
//! every test on SQLite and on PostgreSQL.

use chrono::NaiveDate;
use redgrid_app::Service;
use redgrid_app::registers::{ImportReport, Register};
use redgrid_app::service::now;
use redgrid_app::tabular::{self, Cell, OutSheet};
use redgrid_app::testing::{self, Fixture};
use redgrid_core::Lang;
use redgrid_core::command::Command;
use redgrid_core::error::{CoreError, Denial};
use redgrid_core::ids::*;
use redgrid_core::org::{AllianceGroup, MemberKind, OrgKind, PairingKind};
use redgrid_core::person::{Actor, Grant, Role, Scope};
use redgrid_store::org::{NewActivity, NewAlliance, NewCampaign};
use redgrid_store::{Change, FailPoint, NewPerson, Store, StoreError};
use std::sync::Arc;

use redgrid_app::both_backends;

both_backends!(
    registers_import_after_a_dry_run_and_reimport_updates_in_place,
    every_bad_file_is_refused_whole_and_nothing_is_written,
    an_import_that_fails_while_writing_leaves_nothing,
    only_organisers_import_and_only_in_scope_record,
    activities_suggestions_and_campaign_statistics,
    an_alliance_claims_requests_like_a_unit,
    registers_export_with_chinese_headers_and_read_back,
    the_staff_register_grants_roles_with_logins_all_or_nothing,
    alliances_are_imported_and_edited_by_their_register,
);

fn csv(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

fn d(s: &str) -> NaiveDate {
    redgrid_core::org::parse_date(s).expect("date")
}

fn admin(f: &Fixture) -> Actor {
    Fixture::actor(&f.admin)
}

async fn import(s: &Service, f: &Fixture, r: Register, bytes: &[u8], dry: bool) -> ImportReport {
    s.import_register(&admin(f), r, bytes, dry, Lang::Zh)
        .await
        .expect("import")
}

const ORGS: &str = "组织编码*,组织名称*,组织类别*,上级组织编码,所属单位编码,所在区划代码,书记
D01,区委组织部机关党委,党委,,,120116,王书记
B01,组织部第一支部,党支部,D01,,120116,李一
B02,组织部第二支部,党支部,D01,,120116,李二
G01,第一网格党小组,党小组,CB1,,12011600100101,
C01,幸福里社区党委,党委,,,120116001001,张三
CB1,幸福里第一支部,党支部,C01,,120116001001,";

const TARGETS: &str = "对象编码,对象名称,对象类别,所在区划代码,关联单位编码,标签
T-C1,幸福里社区,社区,120116001001,,
T-E1,滨海港务公司,企业,120116001,,重点企业
T-H1,赵奶奶家,住户,12011600100101,,独居老人";

const MEMBERS: &str = "姓名,手机号,所在党组织编码,党员类别,报到社区代码,所在网格代码,入党日期,下沉开始日期,下沉结束日期
孙一,13911110001,B01,在职党员,120116001001,,2001-07-01,,
孙二,13911110002,B01,下沉干部,,,2005/6/1,2026-01-01,2026-12-31
孙三,13911110003,CB1,党员,,12011600100101,2010年7月1日,,";

const PAIRINGS: &str = "结对类型,党组织编码,党员手机号,对象编码,开始日期,结束日期,责任人,结对目标
支部联基层,B01,,T-E1,2026-01-01,,李一,帮助企业解决用工难
1+1共建,B01,,T-C1,2026-01-01,2026-12-31,李一,共建文明社区
党员联户,,13911110003,T-H1,2026-02-01,,孙三,每周探望";

async fn load_registers(s: &Service, f: &Fixture) {
    for (r, text) in [
        (Register::PartyOrgs, ORGS),
        (Register::Targets, TARGETS),
        (Register::Members, MEMBERS),
        (Register::Pairings, PAIRINGS),
    ] {
        let rep = import(s, f, r, &csv(text), false).await;
        assert!(rep.imported, "{r:?}: {:?}", rep.issues);
    }
}

async fn registers_import_after_a_dry_run_and_reimport_updates_in_place(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    // Areas and units: a new community and grid, a unit that adopts the fixture's unit by name.
    let areas = "区划代码,名称\n12011600100203,新网格\n120116001002,新社区\n";
    let rep = import(&s, &f, Register::Areas, &csv(areas), true).await;
    assert_eq!(
        (rep.rows, rep.created, rep.updated, rep.imported),
        (2, 2, 0, false),
        "{:?}",
        rep.issues
    );
    assert!(
        s.directory().areas().all(|a| a.code != "120116001002"),
        "a dry run writes nothing"
    );
    let rep = import(&s, &f, Register::Areas, &csv(areas), false).await;
    assert!(rep.imported, "{:?}", rep.issues);
    let dir = s.directory();
    let grid = dir
        .areas()
        .find(|a| a.code == "12011600100203")
        .expect("the grid is in the directory");
    let comm = dir.areas().find(|a| a.code == "120116001002").unwrap();
    assert_eq!(
        grid.parent_id,
        Some(comm.id),
        "the parent written in the same file comes first"
    );
    let units = format!(
        "单位编码,单位名称,单位类型,所在区划代码,处置层级,上级单位编码\nU-C1,{},社区（村）,120116001001,,\nU-T1,幸福里物业组,工作组,120116001001,村居,U-C1\n",
        f.unit_comm_a1.name
    );
    let rep = import(&s, &f, Register::Units, &csv(&units), false).await;
    assert!(rep.imported, "{:?}", rep.issues);
    assert_eq!(
        (rep.created, rep.updated),
        (1, 1),
        "the existing unit is adopted by area and name"
    );
    let dir = s.directory();
    assert_eq!(
        dir.unit(f.unit_comm_a1.id).unwrap().code.as_deref(),
        Some("U-C1")
    );
    let team = dir
        .units()
        .find(|u| u.code.as_deref() == Some("U-T1"))
        .unwrap();
    assert_eq!(team.parent_id, Some(f.unit_comm_a1.id));

    // The organisation registers.
    let rep = import(&s, &f, Register::PartyOrgs, &csv(ORGS), true).await;
    assert_eq!(
        (rep.created, rep.updated, rep.issues.len()),
        (6, 0, 0),
        "{:?}",
        rep.issues
    );
    assert_eq!(store.org_counts().await.unwrap().party_orgs, 0);
    load_registers(&s, &f).await;
    let orgs = store.party_orgs().await.unwrap();
    assert_eq!(orgs.len(), 6);
    let by_code = |c: &str| orgs.iter().find(|o| o.code == c).unwrap().clone();
    assert_eq!(
        by_code("G01").parent_id,
        Some(by_code("CB1").id),
        "a child listed before its parent"
    );
    assert_eq!(by_code("G01").kind, OrgKind::PartyGroup);
    assert_eq!(by_code("D01").secretary, "王书记");
    let members = store.members(None, 100).await.unwrap();
    assert_eq!(members.len(), 3);
    let sun2 = members.iter().find(|m| m.phone == "13911110002").unwrap();
    assert_eq!(sun2.kind, MemberKind::DeployedCadre);
    assert_eq!(
        (sun2.period_from, sun2.period_to),
        (Some(d("2026-01-01")), Some(d("2026-12-31")))
    );
    assert_eq!(sun2.joined_on, Some(d("2005-06-01")));
    let sun1 = members.iter().find(|m| m.phone == "13911110001").unwrap();
    assert_eq!(sun1.home_community_id, Some(f.comm_a1.id));
    let pairings = store.pairings().await.unwrap();
    assert_eq!(pairings.len(), 3);
    let household = pairings
        .iter()
        .find(|p| p.kind == PairingKind::Household)
        .unwrap();
    assert_eq!(
        household.member_id,
        Some(
            members
                .iter()
                .find(|m| m.phone == "13911110003")
                .unwrap()
                .person_id
        )
    );

    // The same files again: everything is an update, nothing is duplicated; changed cells change.
    let people_before = store.count_people().await.unwrap();
    let counts_before = store.org_counts().await.unwrap();
    let renamed = ORGS.replace("组织部第二支部", "组织部第二党支部");
    let rep = import(&s, &f, Register::PartyOrgs, &csv(&renamed), false).await;
    assert_eq!((rep.created, rep.updated), (0, 6));
    let rep = import(
        &s,
        &f,
        Register::Members,
        &csv(&MEMBERS.replace("孙三", "孙叁")),
        false,
    )
    .await;
    assert_eq!((rep.created, rep.updated), (0, 3));
    let rep = import(
        &s,
        &f,
        Register::Pairings,
        &csv(&PAIRINGS.replace("每周探望", "每周两次探望")),
        false,
    )
    .await;
    assert_eq!((rep.created, rep.updated), (0, 3));
    assert_eq!(store.org_counts().await.unwrap(), counts_before);
    assert_eq!(store.count_people().await.unwrap(), people_before);
    assert!(
        store
            .party_orgs()
            .await
            .unwrap()
            .iter()
            .any(|o| o.name == "组织部第二党支部")
    );
    assert!(
        store
            .members(None, 10)
            .await
            .unwrap()
            .iter()
            .any(|m| m.name == "孙叁")
    );
    assert!(
        store
            .pairings()
            .await
            .unwrap()
            .iter()
            .any(|p| p.goals == "每周两次探望")
    );

    // Volunteers, from an xlsx this time (with a phone typed as a number by Excel).
    let xlsx = tabular::write_xlsx(&[OutSheet {
        name: "志愿者".into(),
        headers: vec![
            "姓名".into(),
            "手机号".into(),
            "服务区划代码".into(),
            "服务专长".into(),
            "注册日期".into(),
        ],
        rows: vec![vec![
            "周志愿".into(),
            Cell::Int(13922220001),
            "12011600100101".into(),
            "维修".into(),
            d("2024-03-05").into(),
        ]],
    }])
    .unwrap();
    let rep = import(&s, &f, Register::Volunteers, &xlsx, false).await;
    assert!(rep.imported, "{:?}", rep.issues);
    assert_eq!(rep.file_kind, "xlsx");
    let v = store.volunteers(None, 10).await.unwrap();
    assert_eq!(
        (v[0].phone.as_str(), v[0].registered_on),
        ("13922220001", Some(d("2024-03-05")))
    );

    // Every import is one record in the audit chain.
    let rows = store.audit_rows(0, 10_000).await.unwrap();
    let imports = rows
        .iter()
        .filter(|r| r.record.payload.contains("\"import\""))
        .count();
    assert_eq!(
        imports, 10,
        "two areas/units imports, four registers, three re-imports, one volunteer import"
    );
}

/// Imports `bytes` for real and asserts it was refused with `code` at `row`, writing nothing.
async fn refused(
    s: &Service,
    f: &Fixture,
    store: &Arc<dyn Store>,
    r: Register,
    bytes: &[u8],
    code: &str,
    row: usize,
) -> ImportReport {
    let before = (
        store.org_counts().await.unwrap(),
        store.count_people().await.unwrap(),
        store.audit_head().await.unwrap(),
    );
    let rep = import(s, f, r, bytes, false).await;
    assert!(!rep.imported, "{r:?} {code}: imported");
    assert!(
        rep.issues.iter().any(|i| i.code == code && i.row == row),
        "{r:?}: expected {code} at row {row}, got {:?}",
        rep.issues
    );
    assert!(rep.issues.iter().all(|i| !i.message.is_empty()));
    let after = (
        store.org_counts().await.unwrap(),
        store.count_people().await.unwrap(),
        store.audit_head().await.unwrap(),
    );
    assert_eq!(before, after, "{r:?} {code}: something was written");
    rep
}

async fn every_bad_file_is_refused_whole_and_nothing_is_written(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    load_registers(&s, &f).await;
    let st = &store;
    // Wrong file types.
    refused(
        &s,
        &f,
        st,
        Register::Members,
        b"%PDF-1.4 binary",
        "unsupported_file_type",
        0,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Members,
        b"\x89PNG\r\n\x1a\n\0\0\0",
        "unsupported_file_type",
        0,
    )
    .await;
    // A truncated workbook.
    let good = tabular::write_xlsx(&[OutSheet {
        name: "a".into(),
        headers: vec!["姓名".into()],
        rows: vec![vec!["x".into()]],
    }])
    .unwrap();
    refused(
        &s,
        &f,
        st,
        Register::Members,
        &good[..good.len() - 200],
        "unreadable_file",
        0,
    )
    .await;
    // 0 rows, and an empty file.
    refused(
        &s,
        &f,
        st,
        Register::Members,
        &csv("姓名,手机号,所在党组织编码\n"),
        "empty_file",
        0,
    )
    .await;
    refused(&s, &f, st, Register::Members, b"", "empty_file", 0).await;
    // Too large (65 MiB).
    let big = vec![b'a'; 65 * 1024 * 1024];
    let rep = refused(&s, &f, st, Register::Members, &big, "file_too_large", 0).await;
    assert!(
        rep.issues[0].message.contains("64"),
        "{}",
        rep.issues[0].message
    );
    // A missing column.
    let rep = refused(
        &s,
        &f,
        st,
        Register::Members,
        &csv("姓名,所在党组织编码\n孙五,B01\n"),
        "missing_column",
        1,
    )
    .await;
    assert_eq!(rep.issues[0].column.as_deref(), Some("手机号"));
    // A bad date, in a file whose other rows are good: nothing of it is imported.
    let bad_date = "姓名,手机号,所在党组织编码,入党日期\n孙五,13911110005,B01,2001-07-01\n孙六,13911110006,B01,2001-13-45\n";
    let rep = refused(&s, &f, st, Register::Members, &csv(bad_date), "bad_date", 3).await;
    assert_eq!(rep.issues.len(), 1);
    assert_eq!(rep.issues[0].column.as_deref(), Some("入党日期"));
    assert_eq!(rep.issues[0].value, "2001-13-45");
    assert_eq!((rep.created, rep.updated), (0, 0));
    // An unknown area code.
    refused(
        &s,
        &f,
        st,
        Register::Targets,
        &csv("对象编码,对象名称,对象类别,所在区划代码\nT9,某村,村,120116009009\n"),
        "unknown_area",
        2,
    )
    .await;
    // A duplicate key inside the file (the second row is the one reported).
    let rep = refused(
        &s,
        &f,
        st,
        Register::Members,
        &csv("姓名,手机号,所在党组织编码\n甲,13911110007,B01\n乙,139 1111 0007,B01\n"),
        "duplicate_key",
        3,
    )
    .await;
    assert!(
        rep.issues[0].message.contains('2'),
        "names the first row: {}",
        rep.issues[0].message
    );
    // A pairing to an unknown target, and one that does not fit its kind.
    refused(
        &s,
        &f,
        st,
        Register::Pairings,
        &csv("结对类型,党组织编码,对象编码,开始日期\n支部联基层,B02,T-NONE,2026-01-01\n"),
        "unknown_target",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Pairings,
        &csv("结对类型,党组织编码,对象编码,开始日期\n1+1共建,B02,T-E1,2026-01-01\n"),
        "not_allowed",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Pairings,
        &csv("结对类型,党员手机号,对象编码,开始日期\n党员联户,13900000000,T-H1,2026-01-01\n"),
        "unknown_member",
        2,
    )
    .await;
    refused(&s, &f, st, Register::Pairings, &csv("结对类型,党组织编码,对象编码,开始日期,结束日期\n支部联基层,B02,T-E1,2026-05-01,2026-04-01\n"), "bad_period", 2).await;
    // Other refusals: unknown words, bad phones, wrong tree, unknown parent, deployed cadre without a period.
    refused(
        &s,
        &f,
        st,
        Register::PartyOrgs,
        &csv("组织编码,组织名称,组织类别,所在区划代码\nX1,某组织,支部委员会,120116\n"),
        "unknown_value",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::PartyOrgs,
        &csv("组织编码,组织名称,组织类别,上级组织编码,所在区划代码\nX1,某党委,党委,B01,120116\n"),
        "wrong_parent_kind",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::PartyOrgs,
        &csv(
            "组织编码,组织名称,组织类别,上级组织编码,所在区划代码\nX1,某支部,党支部,NOPE,120116\n",
        ),
        "unknown_parent",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Members,
        &csv("姓名,手机号,所在党组织编码\n甲,1391111000,B01\n"),
        "bad_phone",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Members,
        &csv("姓名,手机号,所在党组织编码,党员类别\n甲,13911110009,B01,下沉干部\n"),
        "required",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Members,
        &csv("姓名,手机号,所在党组织编码\n甲,13911110009,NOPE\n"),
        "unknown_party_org",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Areas,
        &csv("区划代码,名称\n12011600900101,孤儿网格\n"),
        "unknown_parent",
        2,
    )
    .await;
    // A dry run of a bad file lists every bad row, in English when asked.
    let many = "姓名,手机号,所在党组织编码,入党日期\n甲,123,B01,\n乙,13911110010,NOPE,\n丙,13911110011,B01,someday\n";
    let rep = s
        .import_register(&admin(&f), Register::Members, &csv(many), true, Lang::En)
        .await
        .unwrap();
    let rows: Vec<(usize, &str)> = rep.issues.iter().map(|i| (i.row, i.code)).collect();
    assert_eq!(
        rows,
        vec![(2, "bad_phone"), (3, "unknown_party_org"), (4, "bad_date")]
    );
    assert_eq!(rep.issues[2].column.as_deref(), Some("joined on"));
    assert!(
        rep.issues[2].message.contains("date"),
        "{}",
        rep.issues[2].message
    );
    // Registers kept in the system cannot be imported.
    refused(
        &s,
        &f,
        st,
        Register::Activities,
        &csv("活动日期,活动类型\n2026-01-01,走访调研\n"),
        "not_importable",
        0,
    )
    .await;
}

async fn an_import_that_fails_while_writing_leaves_nothing(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let before = (
        store.org_counts().await.unwrap(),
        store.audit_head().await.unwrap(),
    );
    store.inject_failure(Some(FailPoint::AfterEventWrite));
    let err = s
        .import_register(&admin(&f), Register::PartyOrgs, &csv(ORGS), false, Lang::Zh)
        .await;
    store.inject_failure(None);
    assert!(matches!(err, Err(StoreError::Injected(_))), "{err:?}");
    assert_eq!(
        before,
        (
            store.org_counts().await.unwrap(),
            store.audit_head().await.unwrap()
        )
    );
    // And then it goes through.
    let rep = import(&s, &f, Register::PartyOrgs, &csv(ORGS), false).await;
    assert_eq!(rep.created, 6);
}

async fn only_organisers_import_and_only_in_scope_record(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    load_registers(&s, &f).await;
    for p in [
        &f.resident,
        &f.grid_worker,
        &f.community_staff,
        &f.street_staff,
        &f.supervisor,
    ] {
        let err = s
            .import_register(
                &Fixture::actor(p),
                Register::PartyOrgs,
                &csv(ORGS),
                true,
                Lang::Zh,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Core(CoreError::Forbidden(
                    Denial::RoleNotAllowed | Denial::OutOfScope
                ))
            ),
            "{:?} may not import: {err:?}",
            p.grants
        );
    }
    let orgs = store.party_orgs().await.unwrap();
    let in_a = orgs.iter().find(|o| o.code == "CB1").unwrap().id; // in community A1
    let district_level = orgs.iter().find(|o| o.code == "B01").unwrap().id; // at the district
    let act = |org| NewActivity {
        kind: redgrid_core::org::ActivityKind::Visit,
        held_on: d("2026-03-01"),
        party_org_id: org,
        pairing_id: None,
        target_id: None,
        title: "入户走访".into(),
        participants: vec![],
        people_served: 3,
        donation_items: String::new(),
        donation_value_fen: 0,
        hours: 0.0,
        suggestions: vec![],
        request_ids: vec![],
        recorded_by: None,
    };
    // Community staff record their community's activities, not the district's.
    s.record_activity(&Fixture::actor(&f.community_staff), act(in_a))
        .await
        .expect("in scope");
    let err = s
        .record_activity(&Fixture::actor(&f.community_staff), act(district_level))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Core(CoreError::Forbidden(Denial::OutOfScope))
        ),
        "{err:?}"
    );
    let err = s
        .record_activity(&Fixture::actor(&f.community_staff_b), act(in_a))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Core(CoreError::Forbidden(Denial::OutOfScope))
        ),
        "{err:?}"
    );
    let err = s
        .record_activity(&Fixture::actor(&f.resident), act(in_a))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Core(CoreError::Forbidden(Denial::RoleNotAllowed))
        ),
        "{err:?}"
    );
    let err = s
        .record_activity(&admin(&f), act(999_999))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Core(CoreError::NotFound { .. })),
        "{err:?}"
    );
    // Field refusals: all listed at once, nothing written.
    let before = store.org_counts().await.unwrap();
    let mut bad = act(in_a);
    bad.title = " ".into();
    bad.held_on = redgrid_app::organise::today() + chrono::Duration::days(2);
    bad.people_served = -1;
    bad.participants = vec![PersonId(987_654)];
    bad.request_ids = vec![RequestId(987_654)];
    bad.suggestions = vec![(f.comm_a1.id, String::new())];
    let err = s.record_activity(&admin(&f), bad).await.unwrap_err();
    let StoreError::Core(CoreError::Validation(fields)) = err else {
        panic!("{err:?}")
    };
    let mut names: Vec<&str> = fields.iter().map(|e| e.field.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "held_on",
            "participants[0]",
            "people_served",
            "request_ids[0]",
            "suggestions[0]",
            "title"
        ]
    );
    assert_eq!(store.org_counts().await.unwrap(), before);
}

async fn activities_suggestions_and_campaign_statistics(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    load_registers(&s, &f).await;
    let orgs = store.party_orgs().await.unwrap();
    let id = |c: &str| orgs.iter().find(|o| o.code == c).unwrap().id;
    let members = store.members(None, 10).await.unwrap();
    let m = |phone: &str| members.iter().find(|x| x.phone == phone).unwrap().person_id;
    let pairings = store.pairings().await.unwrap();
    let link = pairings
        .iter()
        .find(|p| p.kind == PairingKind::BranchLink)
        .unwrap();
    // A request that gets solved, and one that stays open.
    let submit = |text: &str| redgrid_core::command::SubmitInput {
        category_id: None,
        channel: Some(redgrid_core::request::Channel::GridPatrol),
        description: Some(text.into()),
        area_id: Some(f.grid_a1_1.id),
        ..Default::default()
    };
    let gw = Fixture::actor(&f.grid_worker);
    let (solved, _) = s
        .submit(&gw, &submit("企业门前路灯不亮"), vec![], None, now())
        .await
        .unwrap();
    let (open, _) = s
        .submit(&gw, &submit("企业招工信息发布"), vec![], None, now())
        .await
        .unwrap();
    let vol = Fixture::actor(&f.volunteer);
    s.run(solved.id, &gw, &f.accept_garbage(), vec![], now())
        .await
        .unwrap();
    s.run(
        solved.id,
        &gw,
        &Command::Dispatch {
            unit_id: Some(f.unit_grid_a1_1.id),
        },
        vec![],
        now(),
    )
    .await
    .unwrap();
    s.run(solved.id, &vol, &Command::Claim {}, vec![], now())
        .await
        .unwrap();
    s.run(
        solved.id,
        &vol,
        &Command::Resolve {
            public_summary: None,
            outcome: None,
            summary: Some("更换灯泡".into()),
            evidence: vec![],
            cost_fen: None,
        },
        vec![],
        now(),
    )
    .await
    .unwrap();

    let admin = admin(&f);
    let visit = s
        .record_activity(
            &admin,
            NewActivity {
                kind: redgrid_core::org::ActivityKind::Visit,
                held_on: d("2026-03-01"),
                party_org_id: id("B01"),
                pairing_id: Some(link.id),
                target_id: None,
                title: "走访港务公司".into(),
                participants: vec![m("13911110001"), m("13911110002"), f.resident.id],
                people_served: 12,
                donation_items: String::new(),
                donation_value_fen: 0,
                hours: 2.0,
                suggestions: vec![
                    (f.comm_a1.id, "希望增设公交站，联系电话13812345678".into()),
                    (f.comm_a1.id, "路口需要红绿灯".into()),
                ],
                request_ids: vec![solved.id, open.id],
                recorded_by: None,
            },
        )
        .await
        .unwrap();
    s.record_activity(
        &admin,
        NewActivity {
            kind: redgrid_core::org::ActivityKind::Donation,
            held_on: d("2026-04-10"),
            party_org_id: id("CB1"),
            pairing_id: None,
            target_id: None,
            title: "为困难户捐赠米面油".into(),
            participants: vec![m("13911110003")],
            people_served: 5,
            donation_items: "米面油 20 份".into(),
            donation_value_fen: 300_000,
            hours: 0.0,
            suggestions: vec![],
            request_ids: vec![],
            recorded_by: None,
        },
    )
    .await
    .unwrap();
    s.record_activity(
        &admin,
        NewActivity {
            kind: redgrid_core::org::ActivityKind::Publicity,
            held_on: d("2025-12-01"), // before the campaign
            party_org_id: id("B02"),
            pairing_id: None,
            target_id: None,
            title: "政策宣讲".into(),
            participants: vec![],
            people_served: 40,
            donation_items: String::new(),
            donation_value_fen: 0,
            hours: 0.0,
            suggestions: vec![],
            request_ids: vec![],
            recorded_by: None,
        },
    )
    .await
    .unwrap();
    let acts = store
        .activities(d("2026-01-01"), d("2026-12-31"), None, 10)
        .await
        .unwrap();
    assert_eq!(acts.len(), 2);
    let v = acts.iter().find(|a| a.id == visit).unwrap();
    assert_eq!(
        v.target_id,
        Some(link.target_id),
        "the pairing names the target"
    );
    assert_eq!(v.participants.len(), 3);
    assert_eq!(v.suggestions.len(), 2);
    assert_eq!(v.request_ids.len(), 2);

    // A suggestion becomes a request once.
    let sugg = v.suggestions[1].id;
    // The suggestion lies at the enterprise's street: a request needs a grid or community in it.
    let err = s
        .suggestion_to_request(&admin, sugg, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Core(CoreError::Validation(_))),
        "{err:?}"
    );
    let err = s
        .suggestion_to_request(&admin, sugg, Some(f.grid_b1_1.id))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Core(CoreError::Validation(_))),
        "outside the street: {err:?}"
    );
    assert_eq!(
        store.suggestion(sugg).await.unwrap().unwrap().request_id,
        None
    );
    let req = s
        .suggestion_to_request(&admin, sugg, Some(f.grid_a1_1.id))
        .await
        .unwrap();
    assert_eq!(req.channel, redgrid_core::request::Channel::SuggestionBox);
    assert_eq!(req.description, "路口需要红绿灯");
    assert_eq!(
        store.suggestion(sugg).await.unwrap().unwrap().request_id,
        Some(req.id)
    );
    let again = s
        .suggestion_to_request(&admin, sugg, Some(f.grid_a1_1.id))
        .await
        .unwrap_err();
    assert!(
        matches!(again, StoreError::Core(CoreError::Conflict(_))),
        "{again:?}"
    );
    let missing = s
        .suggestion_to_request(&admin, 999_999, None)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, StoreError::Core(CoreError::NotFound { .. })),
        "{missing:?}"
    );

    // The campaign: the organisation department's committee D01 and everything under it.
    let c = s
        .create_campaign(
            &admin,
            NewCampaign {
                code: "QZLJC-2026".into(),
                name: "千个支部联基层".into(),
                starts_on: d("2026-01-01"),
                ends_on: d("2026-12-31"),
                root_org_id: Some(id("D01")),
                require_pairing: true,
            },
        )
        .await
        .unwrap();
    let dup = s
        .create_campaign(
            &admin,
            NewCampaign {
                code: "QZLJC-2026".into(),
                name: "x".into(),
                starts_on: d("2026-01-01"),
                ends_on: d("2026-12-31"),
                root_org_id: None,
                require_pairing: false,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(dup, StoreError::Core(CoreError::Conflict(_))),
        "{dup:?}"
    );
    let bad = s
        .create_campaign(
            &admin,
            NewCampaign {
                code: "X".into(),
                name: "x".into(),
                starts_on: d("2026-12-31"),
                ends_on: d("2026-01-01"),
                root_org_id: Some(424_242),
                require_pairing: false,
            },
        )
        .await
        .unwrap_err();
    let StoreError::Core(CoreError::Validation(fields)) = bad else {
        panic!()
    };
    assert_eq!(fields.len(), 2);

    let st = s.campaign_stats(&admin, &c.code, None, None).await.unwrap();
    assert_eq!(st.total.visits, 1);
    assert_eq!(
        st.total.donations, 0,
        "CB1's donation is outside D01's tree"
    );
    assert_eq!(
        st.total.publicity_sessions, 0,
        "December 2025 is before the campaign"
    );
    assert_eq!(st.total.members, 2, "the resident is no member");
    assert_eq!(st.total.suggestions, 2);
    assert_eq!(st.total.suggestions_to_requests, 1);
    assert_eq!(
        st.total.problems_solved, 1,
        "the open request is not solved"
    );
    assert_eq!(st.total.people_served, 12);
    assert_eq!(st.total.branches, 1, "B01 took part; B02 did nothing");
    assert_eq!(st.total.targets_paired, 2, "B01's two pairings");
    assert_eq!((st.branches_covered, st.branches_unpaired), (2, 1));
    let (_, unpaired) = s.unpaired(&admin, &c.code, None, None).await.unwrap();
    assert_eq!(
        unpaired.iter().map(|o| o.code.as_str()).collect::<Vec<_>>(),
        vec!["B02"]
    );
    // A period: only March.
    let march = s
        .campaign_stats(
            &admin,
            &c.code,
            Some(d("2026-03-01")),
            Some(d("2026-03-31")),
        )
        .await
        .unwrap();
    assert_eq!(march.total.visits, 1);
    let april = s
        .campaign_stats(
            &admin,
            &c.code,
            Some(d("2026-04-01")),
            Some(d("2026-04-30")),
        )
        .await
        .unwrap();
    assert_eq!(april.total.visits, 0);
    // Whole-district campaign: both.
    let all = s
        .create_campaign(
            &admin,
            NewCampaign {
                code: "ALL".into(),
                name: "全区".into(),
                starts_on: d("2026-01-01"),
                ends_on: d("2026-12-31"),
                root_org_id: None,
                require_pairing: false,
            },
        )
        .await
        .unwrap();
    let st = s
        .campaign_stats(&admin, &all.code, None, None)
        .await
        .unwrap();
    assert_eq!(
        (
            st.total.visits,
            st.total.donations,
            st.total.donated_value_fen
        ),
        (1, 1, 300_000)
    );
    assert_eq!(st.total.members, 3);
    // Statistics are district-wide figures: community staff may not read them.
    let err = s
        .campaign_stats(&Fixture::actor(&f.community_staff), &c.code, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Core(CoreError::Forbidden(_))),
        "{err:?}"
    );
    let err = s
        .campaign_stats(&admin, "NOPE", None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Core(CoreError::NotFound { .. })),
        "{err:?}"
    );
    // The workbook opens with Chinese headers and the total first.
    let bytes = redgrid_app::organise::stats_workbook(&st, &[], Lang::Zh).unwrap();
    let sheet = tabular::read(&bytes).unwrap();
    assert_eq!(sheet.headers[0], "单位");
    assert!(sheet.headers.contains(&"走访调研（次）".to_string()));
    assert_eq!(sheet.rows[0].1[0], "合计");
}

async fn an_alliance_claims_requests_like_a_unit(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    load_registers(&s, &f).await;
    let admin = admin(&f);
    let a = s
        .create_alliance(
            &admin,
            NewAlliance {
                code: "PORT".into(),
                name: "港口党建联盟".into(),
                area_id: f.street_a.id,
                level: redgrid_core::area::Level::Street,
                lead_org_id: Some(store.party_orgs().await.unwrap()[0].id),
                goals: "服务港口企业".into(),
                member_unit_ids: vec![f.unit_dept.id, f.unit_street_a.id],
                groups: vec![AllianceGroup {
                    name: "用工服务组".into(),
                    focus: "招工".into(),
                    leader: "李一".into(),
                }],
            },
        )
        .await
        .unwrap();
    assert_eq!(a.member_unit_ids.len(), 2);
    assert_eq!(store.alliances().await.unwrap(), vec![a.clone()]);
    let unit = s.directory().unit(a.unit_id).cloned().unwrap();
    assert_eq!(unit.kind, redgrid_core::unit::UnitKind::Alliance);
    // Refusals: an unknown member unit, a duplicate code; not an organiser.
    let mut bad = NewAlliance {
        code: "PORT".into(),
        name: "另一个联盟".into(),
        area_id: f.street_a.id,
        level: redgrid_core::area::Level::Street,
        lead_org_id: None,
        goals: String::new(),
        member_unit_ids: vec![f.unit_dept.id],
        groups: vec![],
    };
    let err = s.create_alliance(&admin, bad.clone()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Core(CoreError::Conflict(_))),
        "{err:?}"
    );
    bad.code = "OTHER".into();
    bad.member_unit_ids = vec![UnitId(999_999)];
    let err = s.create_alliance(&admin, bad.clone()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Core(CoreError::Validation(_))),
        "{err:?}"
    );
    let err = s
        .create_alliance(&Fixture::actor(&f.street_staff), bad)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Core(CoreError::Forbidden(_))),
        "{err:?}"
    );
    assert_eq!(store.alliances().await.unwrap().len(), 1);

    // A member of the alliance's working group claims a request dispatched to the alliance.
    let worker = store
        .create_person(
            NewPerson {
                name: "联盟队员".into(),
                phone: Some("13933330001".into()),
                grants: vec![Grant {
                    role: Role::Member,
                    scope: Scope::Unit(a.unit_id),
                }],
            },
            Change::system(),
        )
        .await
        .unwrap();
    let gw = Fixture::actor(&f.grid_worker);
    let input = redgrid_core::command::SubmitInput {
        category_id: None,
        channel: Some(redgrid_core::request::Channel::GridPatrol),
        description: Some("码头企业反映货车通行难".into()),
        area_id: Some(f.grid_a1_1.id),
        ..Default::default()
    };
    let (r, _) = s.submit(&gw, &input, vec![], None, now()).await.unwrap();
    let cs = Fixture::actor(&f.community_staff);
    s.run(r.id, &gw, &f.accept_garbage(), vec![], now())
        .await
        .unwrap();
    s.run(
        r.id,
        &gw,
        &Command::Escalate {
            reason: Some("需社区协调".into()),
        },
        vec![],
        now(),
    )
    .await
    .unwrap();
    s.run(
        r.id,
        &cs,
        &Command::Escalate {
            reason: Some("需街镇协调".into()),
        },
        vec![],
        now(),
    )
    .await
    .unwrap();
    let ss = Fixture::actor(&f.street_staff);
    s.run(
        r.id,
        &ss,
        &Command::Dispatch {
            unit_id: Some(a.unit_id),
        },
        vec![],
        now(),
    )
    .await
    .unwrap();
    let (claimed, _) = s
        .run(
            r.id,
            &Actor::Person(worker.clone()),
            &Command::Claim {},
            vec![],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(claimed.claimed_by, Some(worker.id));
    assert_eq!(claimed.unit_id, Some(a.unit_id));

    // Edited: a new name and members; the code, area and level stay; the unit's name follows.
    let head = store.audit_head().await.unwrap();
    let edited = s
        .update_alliance(
            &admin,
            "PORT",
            NewAlliance {
                code: "ignored".into(),
                name: "港口企业党建联盟".into(),
                area_id: f.district.id,
                level: redgrid_core::area::Level::District,
                lead_org_id: None,
                goals: "服务港口企业和货运司机".into(),
                member_unit_ids: vec![f.unit_dept.id],
                groups: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.code, "PORT");
    assert_eq!(edited.member_unit_ids, vec![f.unit_dept.id]);
    assert!(edited.groups.is_empty());
    let unit = s.directory().unit(a.unit_id).cloned().unwrap();
    assert_eq!(
        (unit.name.as_str(), unit.area_id),
        ("港口企业党建联盟", f.street_a.id)
    );
    assert_ne!(
        store.audit_head().await.unwrap(),
        head,
        "the edit is in the chain"
    );
    // Refused edits write nothing: an unknown alliance, no members, not an organiser.
    let head = store.audit_head().await.unwrap();
    let none = NewAlliance {
        member_unit_ids: vec![],
        ..edited_as_new(&edited)
    };
    let e = s.update_alliance(&admin, "PORT", none).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Core(CoreError::Validation(_))),
        "{e:?}"
    );
    let e = s
        .update_alliance(&admin, "NOPE", edited_as_new(&edited))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Core(CoreError::Validation(_))),
        "{e:?}"
    );
    let e = s
        .update_alliance(
            &Fixture::actor(&f.street_staff),
            "PORT",
            edited_as_new(&edited),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Core(CoreError::Forbidden(_))),
        "{e:?}"
    );
    assert_eq!(store.audit_head().await.unwrap(), head);
    // Ended: its unit takes no more requests; ending twice, or editing it after, is a conflict.
    let ended = s
        .end_alliance(&admin, "PORT", Some(d("2026-12-31")))
        .await
        .unwrap();
    assert_eq!(ended.ended_on, Some(d("2026-12-31")));
    assert!(!s.directory().unit(a.unit_id).unwrap().active);
    let e = s.end_alliance(&admin, "PORT", None).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Core(CoreError::Conflict(_))),
        "{e:?}"
    );
    let e = s
        .update_alliance(&admin, "PORT", edited_as_new(&edited))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Core(CoreError::Conflict(_))),
        "{e:?}"
    );
    let (r2, _) = s.submit(&gw, &input, vec![], None, now()).await.unwrap();
    for cmd in [Command::Accept {
        public_summary: None,
        category_id: Some(f.cat_garbage.id),
        tier: None,
        urgent: None,
        level: Some(redgrid_core::area::Level::Street),
    }] {
        s.run(r2.id, &ss, &cmd, vec![], now()).await.unwrap();
    }
    let e = s
        .run(
            r2.id,
            &ss,
            &Command::Dispatch {
                unit_id: Some(a.unit_id),
            },
            vec![],
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Core(CoreError::Validation(_))),
        "{e:?}"
    );
}

fn edited_as_new(a: &redgrid_core::org::Alliance) -> NewAlliance {
    NewAlliance {
        code: a.code.clone(),
        name: a.name.clone(),
        area_id: redgrid_core::ids::AreaId(0),
        level: redgrid_core::area::Level::Street,
        lead_org_id: a.lead_org_id,
        goals: a.goals.clone(),
        member_unit_ids: a.member_unit_ids.clone(),
        groups: a.groups.clone(),
    }
}

async fn registers_export_with_chinese_headers_and_read_back(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    load_registers(&s, &f).await;
    let admin = admin(&f);
    for r in Register::ALL {
        let sheet = s
            .register_sheet(&admin, r, Lang::Zh, d("2026-01-01"), d("2026-12-31"))
            .await
            .unwrap();
        assert_eq!(sheet.headers[0], r.columns()[0].zh);
        let bytes = tabular::write_xlsx(&[sheet]).unwrap();
        let back = tabular::read(&bytes);
        if let Ok(back) = back {
            assert_eq!(back.headers[0], r.columns()[0].zh);
        }
    }
    // An export of a register imports again as an update of every row.
    for r in [
        Register::PartyOrgs,
        Register::Members,
        Register::Targets,
        Register::Pairings,
    ] {
        let sheet = s
            .register_sheet(&admin, r, Lang::Zh, d("2026-01-01"), d("2026-12-31"))
            .await
            .unwrap();
        let n = sheet.rows.len();
        let bytes = tabular::write_xlsx(&[sheet]).unwrap();
        let rep = import(&s, &f, r, &bytes, false).await;
        assert!(rep.imported, "{r:?}: {:?}", rep.issues);
        assert_eq!((rep.created, rep.updated), (0, n), "{r:?}");
    }
    // English headers on request.
    let sheet = s
        .register_sheet(
            &admin,
            Register::Members,
            Lang::En,
            d("2026-01-01"),
            d("2026-12-31"),
        )
        .await
        .unwrap();
    assert_eq!(sheet.headers[1], "phone");
    let err = s
        .register_sheet(
            &Fixture::actor(&f.grid_worker),
            Register::Members,
            Lang::Zh,
            d("2026-01-01"),
            d("2026-12-31"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Core(CoreError::Forbidden(_))),
        "{err:?}"
    );
    // The template: starred required headers and an instructions sheet; it reads back as headers
    // with no rows (refused as empty, which is what importing a blank template should say).
    let t = redgrid_app::registers::template(Register::Members, Lang::Zh).unwrap();
    assert_eq!(tabular::read(&t).unwrap_err().code(), "empty_file");
}

const STAFF: &str = "姓名,手机号,角色,区划代码,单位编码
吴网格,13922220001,网格员,12011600100101,
吴网格,13922220001,志愿者,12011600100101,
郑社区,13922220002,社区工作人员,120116001001,
冯街道,13922220003,street_staff,120116001,";

async fn the_staff_register_grants_roles_with_logins_all_or_nothing(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let st = &store;
    // A dry run counts and writes nothing.
    let head = store.audit_head().await.unwrap();
    let dry = import(&s, &f, Register::Staff, &csv(STAFF), true).await;
    assert!(dry.issues.is_empty(), "{:?}", dry.issues);
    assert_eq!((dry.created, dry.updated), (4, 0));
    assert!(dry.logins.is_empty());
    assert_eq!(store.audit_head().await.unwrap(), head);
    assert!(
        store
            .person_by_phone("13922220001")
            .await
            .unwrap()
            .is_none()
    );
    // The real run: people, their roles, one chain record per grant, a login each.
    let rep = import(&s, &f, Register::Staff, &csv(STAFF), false).await;
    assert!(rep.imported, "{:?}", rep.issues);
    assert_eq!(rep.logins.len(), 3, "one login per person");
    let wu = store.person_by_phone("13922220001").await.unwrap().unwrap();
    assert_eq!(wu.roles(), [Role::GridWorker, Role::Volunteer]);
    let login = rep
        .logins
        .iter()
        .find(|l| l.phone == "13922220001")
        .unwrap();
    let session = s
        .login("13922220001", &login.one_time_password, 1)
        .await
        .unwrap();
    assert!(session.must_change);
    let rows = store.audit_rows(head.0, 100).await.unwrap();
    let granted = rows
        .iter()
        .filter(|r| r.record.payload.contains("\"grant_role\""))
        .count();
    assert_eq!(granted, 4);
    // Again: every row is an update, nothing is granted twice, no new login.
    let again = import(&s, &f, Register::Staff, &csv(STAFF), false).await;
    assert_eq!((again.created, again.updated), (0, 4));
    assert!(again.logins.is_empty());
    let wu_again = store.person_by_phone("13922220001").await.unwrap().unwrap();
    assert_eq!(wu_again.grants.len(), 2);
    // The export reads back as the same rows.
    let sheet = s
        .register_sheet(
            &admin(&f),
            Register::Staff,
            Lang::Zh,
            d("2026-01-01"),
            d("2026-12-31"),
        )
        .await
        .unwrap();
    // The fixture's own staff hold their roles in units without codes, which no file can name:
    // read back the rows imported here.
    let mut sheet = sheet;
    sheet
        .rows
        .retain(|r| matches!(&r[1], Cell::Text(p) if p.starts_with("139222")));
    assert_eq!(sheet.rows.len(), 4);
    let bytes = tabular::write_xlsx(&[sheet]).unwrap();
    let back = import(&s, &f, Register::Staff, &bytes, true).await;
    assert!(back.issues.is_empty(), "{:?}", back.issues);
    assert_eq!(back.created, 0);

    // Refusals, each with its row and column, and nothing written.
    let bad = |line: &str| csv(&format!("姓名,手机号,角色,区划代码,单位编码\n{line}"));
    refused(
        &s,
        &f,
        st,
        Register::Staff,
        &bad("甲,13922229999,市长,120116,"),
        "unknown_value",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Staff,
        &bad("甲,13922229999,网格员,999999,"),
        "unknown_area",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Staff,
        &bad("甲,13922229999,网格员,,U-NONE"),
        "unknown_unit",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Staff,
        &bad("甲,12345,网格员,120116,"),
        "bad_phone",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Staff,
        &bad("甲,13922229999,网格员,,"),
        "not_allowed",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Staff,
        &bad("甲,13922229999,网格员,120116,U1"),
        "not_allowed",
        2,
    )
    .await;
    let twice = csv(
        "姓名,手机号,角色,区划代码\n甲,13922229999,网格员,120116\n甲,13922229999,网格员,120116",
    );
    refused(&s, &f, st, Register::Staff, &twice, "duplicate_key", 3).await;
    // One bad row refuses the good ones with it.
    let mixed = csv(
        "姓名,手机号,角色,区划代码\n乙,13922228888,网格员,120116\n丙,13922227777,网格员,000000",
    );
    refused(&s, &f, st, Register::Staff, &mixed, "unknown_area", 3).await;
    assert!(
        store
            .person_by_phone("13922228888")
            .await
            .unwrap()
            .is_none()
    );
    // Only those who grant across the district import staff: not a street's staff.
    let e = s
        .import_register(
            &Fixture::actor(&f.street_staff),
            Register::Staff,
            &csv(STAFF),
            true,
            Lang::Zh,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Core(CoreError::Forbidden(_))),
        "{e:?}"
    );
}

async fn alliances_are_imported_and_edited_by_their_register(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    load_registers(&s, &f).await;
    let st = &store;
    // The fixture's units take codes first (found by their area and name).
    let units = "单位编码,单位名称,单位类型,所在区划代码
U-DEPT,区住房和建设委员会,区级部门,120116
U-TG,塘沽街道办事处,街镇,120116001";
    assert!(
        import(&s, &f, Register::Units, &csv(units), false)
            .await
            .imported
    );
    let file = "联盟编码,联盟名称,所在区划代码,处置层级,牵头党组织编码,成员单位编码,工作组,工作目标
PORT,港口党建联盟,120116001,街镇,D01,U-DEPT、U-TG,用工服务组、物流服务组,服务港口企业";
    let dry = import(&s, &f, Register::Alliances, &csv(file), true).await;
    assert!(dry.issues.is_empty(), "{:?}", dry.issues);
    assert_eq!((dry.created, dry.updated), (1, 0));
    assert!(
        store.alliances().await.unwrap().is_empty(),
        "a dry run writes nothing"
    );
    let rep = import(&s, &f, Register::Alliances, &csv(file), false).await;
    assert!(rep.imported, "{:?}", rep.issues);
    let a = store.alliances().await.unwrap().pop().unwrap();
    assert_eq!(a.member_unit_ids.len(), 2);
    assert_eq!(a.groups.len(), 2);
    let unit = s.directory().unit(a.unit_id).cloned().unwrap();
    assert_eq!(unit.kind, redgrid_core::unit::UnitKind::Alliance);
    assert_eq!(unit.area_id, f.street_a.id);
    // Its export imports again as an edit of the same alliance.
    let sheet = s
        .register_sheet(
            &admin(&f),
            Register::Alliances,
            Lang::Zh,
            d("2026-01-01"),
            d("2026-12-31"),
        )
        .await
        .unwrap();
    let bytes = tabular::write_xlsx(&[sheet]).unwrap();
    let again = import(&s, &f, Register::Alliances, &bytes, false).await;
    assert!(again.imported, "{:?}", again.issues);
    assert_eq!((again.created, again.updated), (0, 1));
    assert_eq!(store.alliances().await.unwrap(), vec![a.clone()]);
    // An edit by file: one member, one group; the unit's name follows.
    let edit = "联盟编码,联盟名称,所在区划代码,成员单位编码,工作组
PORT,港口企业党建联盟,120116001,U-DEPT,用工服务组";
    let rep = import(&s, &f, Register::Alliances, &csv(edit), false).await;
    assert!(rep.imported, "{:?}", rep.issues);
    let edited = store.alliances().await.unwrap().pop().unwrap();
    assert_eq!(edited.member_unit_ids, vec![f.unit_dept.id]);
    assert_eq!(edited.groups.len(), 1);
    assert_eq!(
        s.directory().unit(a.unit_id).unwrap().name,
        "港口企业党建联盟"
    );
    // Refusals, whole file, nothing written.
    let bad = |row: &str| {
        csv(&format!(
            "联盟编码,联盟名称,所在区划代码,成员单位编码\n{row}"
        ))
    };
    refused(
        &s,
        &f,
        st,
        Register::Alliances,
        &bad("X,某联盟,120116001,U-NONE"),
        "unknown_unit",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Alliances,
        &bad("X,某联盟,999999,U-DEPT"),
        "unknown_area",
        2,
    )
    .await;
    refused(
        &s,
        &f,
        st,
        Register::Alliances,
        &bad("X,某联盟,120116001,"),
        "required",
        2,
    )
    .await;
    let twice = csv(
        "联盟编码,联盟名称,所在区划代码,成员单位编码\nX,甲,120116001,U-DEPT\nX,乙,120116001,U-DEPT",
    );
    refused(&s, &f, st, Register::Alliances, &twice, "duplicate_key", 3).await;
    // An ended alliance is not edited by file.
    s.end_alliance(&admin(&f), "PORT", None).await.unwrap();
    refused(
        &s,
        &f,
        st,
        Register::Alliances,
        &csv(edit),
        "not_allowed",
        2,
    )
    .await;
}
