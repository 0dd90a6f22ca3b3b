//! The storage conformance suite: every test runs unchanged on SQLite and on PostgreSQL.

use chrono::Duration;
use redgrid_app::Service;
use redgrid_app::service::now;
use redgrid_app::testing::{self, Fixture};
use redgrid_core::area::Level;
use redgrid_core::command::{Command, SubmitInput};
use redgrid_core::error::{Conflict, CoreError, Denial};
use redgrid_core::ids::*;
use redgrid_core::person::Actor;
use redgrid_core::request::{Attachment, Channel, Request, Satisfaction, Status};
use redgrid_store::audit::{self, AuditRecord, Finding};
use redgrid_store::{Backend, FailPoint, ItemFields, ListFilter, Store, StoreError};
use std::sync::Arc;

use redgrid_app::both_backends;

both_backends!(
    migrations_are_recorded_and_idempotent,
    directory_round_trips,
    a_request_runs_its_whole_life,
    every_refusal_leaves_no_trace,
    a_failure_between_event_and_projection_rolls_back,
    idempotency_keys_replay_or_refuse,
    staff_filing_on_behalf_finds_or_creates_the_contact,
    lists_filter_and_paginate_stably,
    concurrent_claims_let_exactly_one_win,
    concurrent_mixed_commands_land_or_leave_no_trace,
    many_lives_at_once_count_exactly,
    check_finds_a_tampered_projection,
    no_row_a_request_names_is_deleted_and_check_finds_a_dangling_reference,
    catalogue_is_editable_by_administrators_only,
    attachments_are_stored_by_content,
    dispatch_stores_deadlines_in_working_time,
    audit_verify_finds_every_kind_of_tampering,
    a_keyed_chain_cannot_be_recomputed_without_its_key,
    an_erased_person_leaves_no_trace_and_the_ledger_still_verifies,
    the_retention_rule_erases_only_residents_whose_requests_all_closed_long_ago,
    restricted_requests_reach_only_the_grid_and_the_community,
);

fn a(p: &redgrid_core::person::Person) -> Actor {
    Fixture::actor(p)
}

fn garbage(f: &Fixture) -> SubmitInput {
    SubmitInput {
        category_id: None,
        channel: Some(Channel::App),
        description: Some("楼道堆放杂物，影响通行".into()),
        area_id: Some(f.grid_a1_1.id),
        address: Some("幸福里3号楼".into()),
        ..Default::default()
    }
}

async fn submit(s: &Service, f: &Fixture) -> Request {
    s.submit(&a(&f.resident), &garbage(f), vec![], None, now())
        .await
        .expect("submit")
        .0
}

async fn run(
    s: &Service,
    r: &Request,
    who: &redgrid_core::person::Person,
    cmd: Command,
) -> Request {
    s.run(r.id, &a(who), &cmd, vec![], now())
        .await
        .unwrap_or_else(|e| panic!("{cmd:?} by {}: {e}", who.name))
        .0
}

fn core_err(e: StoreError) -> CoreError {
    match e {
        StoreError::Core(c) => c,
        other => panic!("expected a domain refusal, got {other}"),
    }
}

async fn to_claimed(s: &Service, f: &Fixture) -> Request {
    let r = submit(s, f).await;
    let r = run(s, &r, &f.grid_worker, f.accept_garbage()).await;
    let r = run(
        s,
        &r,
        &f.grid_worker,
        Command::Dispatch {
            unit_id: Some(f.unit_grid_a1_1.id),
        },
    )
    .await;
    run(s, &r, &f.volunteer, Command::Claim {}).await
}

async fn migrations_are_recorded_and_idempotent(store: Arc<dyn Store>) {
    let expected: Vec<i64> = redgrid_store::MIGRATIONS
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(store.applied_migrations().await.unwrap(), expected);
    assert!(
        store.migrate().await.unwrap().is_empty(),
        "a second run applies nothing"
    );
}

async fn directory_round_trips(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let dir = store.load_directory().await.unwrap();
    assert_eq!(dir.areas().count(), 8);
    assert_eq!(dir.area(f.grid_a1_1.id), Some(&f.grid_a1_1));
    assert_eq!(dir.unit(f.unit_dept.id), Some(&f.unit_dept));
    assert_eq!(dir.item(f.cat_road.id), Some(&f.cat_road));
    assert!(dir.contains(f.street_a.id, f.grid_a1_1.id));
    assert!(!dir.contains(f.street_b.id, f.grid_a1_1.id));
    assert_eq!(
        store.person(f.dept_staff.id).await.unwrap(),
        Some(f.dept_staff.clone())
    );
    // Bad areas are refused with every field named.
    let bad = s
        .create_area(
            &Actor::System,
            redgrid_store::NewArea {
                parent_id: Some(f.comm_a1.id),
                kind: Level::Street,
                code: "999".into(),
                name: "".into(),
            },
        )
        .await
        .unwrap_err();
    match core_err(bad) {
        CoreError::Validation(fields) => {
            let names: Vec<&str> = fields.iter().map(|x| x.field.as_str()).collect();
            assert_eq!(names, vec!["kind", "code", "name"]);
        }
        other => panic!("{other}"),
    }
    // A duplicate area code is a conflict.
    let dup = s
        .create_area(
            &Actor::System,
            redgrid_store::NewArea {
                parent_id: Some(f.comm_a1.id),
                kind: Level::Grid,
                code: f.grid_a1_1.code.clone(),
                name: "重复".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(core_err(dup), CoreError::Conflict(Conflict::AlreadyExists));
}

async fn a_request_runs_its_whole_life(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let r = to_claimed(&s, &f).await;
    let r = run(
        &s,
        &r,
        &f.volunteer,
        Command::Note {
            text: Some("已联系居民".into()),
            contact_made: Some(true),
        },
    )
    .await;
    let r = run(
        &s,
        &r,
        &f.volunteer,
        Command::Resolve {
            public_summary: None,
            outcome: None,
            summary: Some("已清理".into()),
            evidence: vec![],
            cost_fen: Some(1200),
        },
    )
    .await;
    let r = run(
        &s,
        &r,
        &f.verifier,
        Command::Verify {
            passed: Some(false),
            reason: Some("未清理干净".into()),
            reached: None,
        },
    )
    .await;
    assert_eq!((r.status, r.rework_count), (Status::Claimed, 1));
    let r = run(
        &s,
        &r,
        &f.volunteer,
        Command::Resolve {
            public_summary: None,
            outcome: None,
            summary: Some("已彻底清理".into()),
            evidence: vec![],
            cost_fen: None,
        },
    )
    .await;
    let r = run(
        &s,
        &r,
        &f.verifier,
        Command::Verify {
            passed: Some(true),
            reason: None,
            reached: None,
        },
    )
    .await;
    let r = run(
        &s,
        &r,
        &f.resident,
        Command::Rate {
            resolved: Some(true),
            satisfaction: Some(Satisfaction::Satisfied),
            comment: Some("很及时".into()),
        },
    )
    .await;
    assert_eq!(r.status, Status::Closed);
    let (stored, events) = s.timeline(r.id).await.unwrap();
    assert_eq!(
        stored, r,
        "the stored projection is what the command returned"
    );
    let kinds: Vec<&str> = events.iter().map(|e| e.body.kind()).collect();
    assert_eq!(
        kinds,
        [
            "submitted",
            "accepted",
            "dispatched",
            "claimed",
            "noted",
            "resolved",
            "verified",
            "resolved",
            "verified",
            "rated"
        ]
    );
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<i64>>()
    );
    assert_eq!(s.check_one(r.id).await.unwrap(), None);

    // Escalation, suspension and supervision through the store too.
    let r2 = to_claimed(&s, &f).await;
    let r2 = run(
        &s,
        &r2,
        &f.supervisor,
        Command::Supervise {
            order: Some("限期办结".into()),
        },
    )
    .await;
    let r2 = run(
        &s,
        &r2,
        &f.grid_worker,
        Command::Suspend {
            reason: Some("等待施工".into()),
            approver_id: Some(f.community_staff.id),
        },
    )
    .await;
    assert_eq!(r2.status, Status::Suspended);
    let r2 = run(&s, &r2, &f.grid_worker, Command::Resume {}).await;
    let r2 = run(
        &s,
        &r2,
        &f.grid_worker,
        Command::Escalate {
            reason: Some("需社区协调".into()),
        },
    )
    .await;
    assert_eq!(
        (r2.status, r2.level, r2.supervised),
        (Status::Accepted, Level::Community, true)
    );
    let r2 = run(
        &s,
        &r2,
        &f.community_staff,
        Command::Reject {
            code: Some(redgrid_core::request::RejectCode::Duplicate),
            duplicate_of: Some(r.id),
            text: None,
        },
    )
    .await;
    assert_eq!(r2.status, Status::Rejected);
    assert_eq!(s.check_one(r2.id).await.unwrap(), None);

    // Closing without a rating after the window.
    let r3 = to_claimed(&s, &f).await;
    let r3 = run(
        &s,
        &r3,
        &f.volunteer,
        Command::Resolve {
            public_summary: None,
            outcome: None,
            summary: Some("done".into()),
            evidence: vec![],
            cost_fen: None,
        },
    )
    .await;
    let r3 = run(
        &s,
        &r3,
        &f.verifier,
        Command::Verify {
            passed: Some(true),
            reason: None,
            reached: None,
        },
    )
    .await;
    let early = s
        .run(r3.id, &Actor::System, &Command::Close {}, vec![], now())
        .await
        .unwrap_err();
    assert_eq!(
        core_err(early),
        CoreError::Conflict(Conflict::RatingWindowOpen)
    );
    let (closed, ev) = s
        .run(
            r3.id,
            &Actor::System,
            &Command::Close {},
            vec![],
            now() + Duration::days(8),
        )
        .await
        .unwrap();
    assert_eq!((closed.status, ev.actor.person_id), (Status::Closed, None));
    let (checked, diffs) = s.check_all(|_| {}).await.unwrap();
    assert_eq!((checked, diffs), (3, vec![]));
}

async fn every_refusal_leaves_no_trace(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let r = to_claimed(&s, &f).await;
    let before = store.request(r.id).await.unwrap().unwrap();
    let events_before = store.events(r.id).await.unwrap().len();
    let refusals: Vec<(Actor, Command, &str)> = vec![
        (a(&f.resident), Command::Claim {}, "role_not_allowed"),
        (a(&f.grid_worker), Command::Claim {}, "invalid_transition"),
        // Another community's staff cannot see the request at all.
        (
            a(&f.community_staff_b),
            Command::Return {
                reason: Some("x".into()),
            },
            "request_not_found",
        ),
        // Community A's staff see it but it is not dispatched to their unit.
        (
            a(&f.community_staff),
            Command::Return {
                reason: Some("x".into()),
            },
            "out_of_scope",
        ),
        (
            a(&f.volunteer),
            Command::Resolve {
                public_summary: None,
                outcome: None,
                summary: None,
                evidence: vec![],
                cost_fen: Some(-5),
            },
            "validation_failed",
        ),
        (
            a(&f.grid_worker),
            Command::Suspend {
                reason: Some("x".into()),
                approver_id: Some(f.community_staff_b.id),
            },
            "approver_not_allowed",
        ),
        (
            a(&f.verifier),
            Command::Verify {
                passed: Some(true),
                reason: None,
                reached: None,
            },
            "invalid_transition",
        ),
    ];
    for (actor, cmd, code) in refusals {
        let e = s.run(r.id, &actor, &cmd, vec![], now()).await.unwrap_err();
        assert_eq!(core_err(e).code(), code, "{cmd:?}");
    }
    let missing = s
        .run(
            RequestId(999_999),
            &a(&f.grid_worker),
            &Command::Claim {},
            vec![],
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(core_err(missing).code(), "request_not_found");
    assert_eq!(store.request(r.id).await.unwrap().unwrap(), before);
    assert_eq!(store.events(r.id).await.unwrap().len(), events_before);
    // A refused submission writes no request.
    let n = store.count(&ListFilter::default()).await.unwrap();
    let bad = SubmitInput {
        category_id: None,
        description: None,
        ..garbage(&f)
    };
    assert_eq!(
        core_err(
            s.submit(&a(&f.resident), &bad, vec![], None, now())
                .await
                .unwrap_err()
        )
        .code(),
        "validation_failed"
    );
    assert_eq!(store.count(&ListFilter::default()).await.unwrap(), n);
}

async fn a_failure_between_event_and_projection_rolls_back(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let r = to_claimed(&s, &f).await;
    let before = store.request(r.id).await.unwrap().unwrap();
    let facts = store.all_facts().await.unwrap();
    store.settle().await.unwrap();
    store.inject_failure(Some(FailPoint::AfterEventWrite));
    let e = s
        .run(
            r.id,
            &a(&f.volunteer),
            &Command::Resolve {
                public_summary: None,
                outcome: None,
                summary: Some("x".into()),
                evidence: vec![],
                cost_fen: None,
            },
            vec![],
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Injected(FailPoint::AfterEventWrite)),
        "{e}"
    );
    let n = store.count(&ListFilter::default()).await.unwrap();
    let e = s
        .submit(&a(&f.resident), &garbage(&f), vec![], Some("k-fail"), now())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Injected(_)));
    store.inject_failure(None);
    // Nothing was left for later either: no audit record, no scorecard delta.
    assert_eq!(store.settle().await.unwrap(), 0, "nothing waiting");
    assert_eq!(store.all_facts().await.unwrap(), facts);
    assert_eq!(store.request(r.id).await.unwrap().unwrap(), before);
    assert_eq!(
        store.events(r.id).await.unwrap().len() as i64,
        before.version
    );
    assert_eq!(
        store.count(&ListFilter::default()).await.unwrap(),
        n,
        "no half-written submission"
    );
    assert_eq!(
        store
            .idempotency(&format!("p:{}", f.resident.id), "k-fail")
            .await
            .unwrap(),
        None
    );
    // And the same command then goes through.
    let done = run(
        &s,
        &r,
        &f.volunteer,
        Command::Resolve {
            public_summary: None,
            outcome: None,
            summary: Some("x".into()),
            evidence: vec![],
            cost_fen: None,
        },
    )
    .await;
    assert_eq!(done.version, before.version + 1);
    assert_eq!(s.check_one(r.id).await.unwrap(), None);
    assert_eq!(s.check_facts().await.unwrap(), None);
}

async fn idempotency_keys_replay_or_refuse(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let (first, created) = s
        .submit(&a(&f.resident), &garbage(&f), vec![], Some("key-1"), now())
        .await
        .unwrap();
    assert!(created);
    let (again, created) = s
        .submit(&a(&f.resident), &garbage(&f), vec![], Some("key-1"), now())
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    let other = SubmitInput {
        category_id: None,
        description: Some("另一件事".into()),
        ..garbage(&f)
    };
    let e = s
        .submit(&a(&f.resident), &other, vec![], Some("key-1"), now())
        .await
        .unwrap_err();
    assert_eq!(
        core_err(e),
        CoreError::Conflict(Conflict::IdempotencyKeyReused)
    );
    // Keys are per sender.
    let (theirs, created) = s
        .submit(
            &a(&f.other_resident),
            &garbage(&f),
            vec![],
            Some("key-1"),
            now(),
        )
        .await
        .unwrap();
    assert!(created);
    assert_ne!(theirs.id, first.id);
    let e = s
        .submit(
            &a(&f.resident),
            &garbage(&f),
            vec![],
            Some("bad key with spaces"),
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(core_err(e).code(), "validation_failed");
    assert_eq!(store.count(&ListFilter::default()).await.unwrap(), 2);
}

async fn staff_filing_on_behalf_finds_or_creates_the_contact(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let input = SubmitInput {
        category_id: None,
        channel: Some(Channel::Hotline),
        requester_name: Some("刘大爷".into()),
        requester_phone: Some("139 0000 1111".into()),
        ..garbage(&f)
    };
    let people = store.count_people().await.unwrap();
    let (r1, _) = s
        .submit(&a(&f.community_staff), &input, vec![], None, now())
        .await
        .unwrap();
    let (r2, _) = s
        .submit(&a(&f.community_staff), &input, vec![], None, now())
        .await
        .unwrap();
    assert_eq!(store.count_people().await.unwrap(), people + 1);
    assert_eq!(r1.requester_id, r2.requester_id);
    assert_eq!(r1.submitted_by, Some(f.community_staff.id));
    let contact = store
        .person(r1.requester_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (contact.name.as_str(), contact.phone.as_deref()),
        ("刘大爷", Some("13900001111"))
    );
    assert_eq!(s.check_one(r1.id).await.unwrap(), None);
}

async fn lists_filter_and_paginate_stably(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..7 {
        let area = if i % 2 == 0 {
            f.grid_a1_1.id
        } else {
            f.grid_b1_1.id
        };
        let input = SubmitInput {
            category_id: None,
            area_id: Some(area),
            description: Some(format!("第{i}件 100%_事")),
            ..garbage(&f)
        };
        ids.push(
            s.submit(&a(&f.resident), &input, vec![], None, now())
                .await
                .unwrap()
                .0
                .id,
        );
    }
    let accepted = run(
        &s,
        &store.request(ids[0]).await.unwrap().unwrap(),
        &f.grid_worker,
        Command::Accept {
            public_summary: None,
            category_id: Some(f.cat_road.id),
            tier: None,
            urgent: None,
            level: None,
        },
    )
    .await;
    let count = |filter: ListFilter| {
        let store = store.clone();
        async move { store.count(&filter).await.unwrap() }
    };
    assert_eq!(count(ListFilter::default()).await, 7);
    assert_eq!(
        count(ListFilter {
            statuses: vec![Status::Accepted],
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(ListFilter {
            statuses: vec![Status::Accepted, Status::Submitted],
            ..Default::default()
        })
        .await,
        7
    );
    assert_eq!(
        count(ListFilter {
            level: Some(Level::Street),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(ListFilter {
            category_id: Some(f.cat_road.id),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(ListFilter {
            tier: Some(redgrid_core::catalogue::Tier::Medium),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(ListFilter {
            area: Some((Level::Street, f.street_a.id)),
            ..Default::default()
        })
        .await,
        4
    );
    assert_eq!(
        count(ListFilter {
            area: Some((Level::Community, f.comm_b1.id)),
            ..Default::default()
        })
        .await,
        3
    );
    assert_eq!(
        count(ListFilter {
            area: Some((Level::Grid, f.grid_a1_2.id)),
            ..Default::default()
        })
        .await,
        0
    );
    assert_eq!(
        count(ListFilter {
            area: Some((Level::District, f.district.id)),
            ..Default::default()
        })
        .await,
        7
    );
    assert_eq!(
        count(ListFilter {
            channel: Some(Channel::Hotline),
            ..Default::default()
        })
        .await,
        0
    );
    assert_eq!(
        count(ListFilter {
            requester_id: Some(f.resident.id),
            ..Default::default()
        })
        .await,
        7
    );
    assert_eq!(
        count(ListFilter {
            text: Some("第3件".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(ListFilter {
            text: Some("100%_".into()),
            ..Default::default()
        })
        .await,
        7
    );
    assert_eq!(
        count(ListFilter {
            text: Some("%".into()),
            ..Default::default()
        })
        .await,
        7
    );
    assert_eq!(
        count(ListFilter {
            text: Some("0%x".into()),
            ..Default::default()
        })
        .await,
        0
    );
    let t = accepted.updated_at;
    assert_eq!(
        count(ListFilter {
            updated_from: Some(t),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(ListFilter {
            updated_to: Some(t),
            ..Default::default()
        })
        .await,
        6
    );
    assert_eq!(
        count(ListFilter {
            created_from: Some(t + Duration::hours(1)),
            ..Default::default()
        })
        .await,
        0
    );
    assert_eq!(
        count(ListFilter {
            created_to: Some(t + Duration::hours(1)),
            ..Default::default()
        })
        .await,
        7
    );
    // Pages of 3, newest first, with a new request arriving mid-walk: no duplicates, nothing skipped.
    let mut seen = Vec::new();
    let mut filter = ListFilter::default();
    let mut pages = 0;
    loop {
        let page = store.list(&filter, 3).await.unwrap();
        if pages == 0 {
            s.submit(&a(&f.resident), &garbage(&f), vec![], None, now())
                .await
                .unwrap();
        }
        pages += 1;
        seen.extend(page.iter().map(|r| r.id));
        match page.last() {
            Some(last) if page.len() == 3 => filter.before_id = Some(last.id),
            _ => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);
}

async fn concurrent_claims_let_exactly_one_win(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let s = Arc::new(s);
    let r = submit(&s, &f).await;
    let r = run(&s, &r, &f.grid_worker, f.accept_garbage()).await;
    let r = run(
        &s,
        &r,
        &f.grid_worker,
        Command::Dispatch {
            unit_id: Some(f.unit_grid_a1_1.id),
        },
    )
    .await;
    let mut tasks = Vec::new();
    for who in [
        f.volunteer.clone(),
        f.grid_worker.clone(),
        f.volunteer.clone(),
        f.grid_worker.clone(),
    ] {
        let s = s.clone();
        let id = r.id;
        tasks.push(tokio::spawn(async move {
            s.run(id, &Actor::Person(who), &Command::Claim {}, vec![], now())
                .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(e) => assert_eq!(core_err(e).code(), "invalid_transition"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.events(r.id).await.unwrap().len(), 4);
    assert_eq!(s.check_one(r.id).await.unwrap(), None);
}

async fn concurrent_mixed_commands_land_or_leave_no_trace(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let s = Arc::new(s);
    let f = Arc::new(f);
    let target = submit(&s, &f).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (s, f) = (s.clone(), f.clone());
        tasks.push(tokio::spawn(async move {
            match i % 3 {
                // A valid submission.
                0 => s
                    .submit(&a(&f.resident), &garbage(&f), vec![], None, now())
                    .await
                    .map(|_| "filed"),
                // An invalid one: refused, writes nothing.
                1 => s
                    .submit(
                        &a(&f.resident),
                        &SubmitInput {
                            category_id: None,
                            description: None,
                            ..garbage(&f)
                        },
                        vec![],
                        None,
                        now(),
                    )
                    .await
                    .map(|_| "filed"),
                // Everyone tries to accept the same request: one wins.
                _ => s
                    .run(
                        target.id,
                        &a(&f.grid_worker),
                        &f.accept_garbage(),
                        vec![],
                        now(),
                    )
                    .await
                    .map(|_| "accepted"),
            }
        }));
    }
    let (mut filed, mut accepted, mut refused) = (0, 0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok("filed") => filed += 1,
            Ok(_) => accepted += 1,
            Err(e) => {
                let code = core_err(e).code();
                assert!(
                    code == "validation_failed" || code == "invalid_transition",
                    "{code}"
                );
                refused += 1;
            }
        }
    }
    assert_eq!((filed, accepted, refused), (20, 1, 39));
    assert_eq!(store.count(&ListFilter::default()).await.unwrap(), 21);
    assert_eq!(store.events(target.id).await.unwrap().len(), 2);
    let (checked, diffs) = s.check_all(|_| {}).await.unwrap();
    assert_eq!((checked, diffs.len()), (21, 0));
}

/// Many requests carried to closure at once, beside new filings: SQLite's writer runs the commands
/// in shared batches (a request read once for the batch, ids handed out in turn, the counts summed
/// and written once), PostgreSQL side by side. Every request ends where its commands took it, ids are
/// unique, and the scorecard's facts equal the counts recomputed from the requests.
async fn many_lives_at_once_count_exactly(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let (s, f) = (Arc::new(s), Arc::new(f));
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (s, f) = (s.clone(), f.clone());
        tasks.push(tokio::spawn(async move {
            let r = to_claimed(&s, &f).await;
            let resolve = Command::Resolve {
                public_summary: None,
                outcome: None,
                summary: Some("已清理".into()),
                evidence: vec![],
                cost_fen: None,
            };
            let r = run(&s, &r, &f.volunteer, resolve).await;
            let verify = Command::Verify {
                passed: Some(true),
                reason: None,
                reached: None,
            };
            let r = run(&s, &r, &f.verifier, verify).await;
            let rate = Command::Rate {
                resolved: Some(i % 2 == 0),
                satisfaction: Some(if i % 3 == 0 {
                    Satisfaction::Unsatisfied
                } else {
                    Satisfaction::Satisfied
                }),
                comment: None,
            };
            run(&s, &r, &f.resident, rate).await
        }));
    }
    for _ in 0..16 {
        let (s, f) = (s.clone(), f.clone());
        tasks.push(tokio::spawn(async move { submit(&s, &f).await }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let r = t.await.unwrap();
        assert!(ids.insert(r.id), "request {} handed out twice", r.id.0);
        let stored = s.timeline(r.id).await.unwrap().0;
        assert_eq!(
            stored, r,
            "the stored request is what its last command returned"
        );
        if i < 24 {
            // Rated resolved and not unsatisfied: closed; otherwise back to be handled again.
            let closes = i % 2 == 0 && i % 3 != 0;
            assert_eq!(r.status == Status::Closed, closes, "{i}: {:?}", r.status);
        } else {
            assert_eq!(r.status, Status::Submitted);
        }
    }
    assert_eq!(ids.len(), 40);
    assert_eq!(s.check_facts().await.unwrap(), None);
    let (checked, diffs) = s.check_all(|_| {}).await.unwrap();
    assert_eq!((checked, diffs.len()), (40, 0));
}

async fn check_finds_a_tampered_projection(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let r = to_claimed(&s, &f).await;
    let ok = submit(&s, &f).await;
    store
        .execute_raw(&format!(
            "UPDATE requests SET status = 'closed', rework_count = 3 WHERE id = {}",
            r.id
        ))
        .await
        .unwrap();
    let d = s.check_one(r.id).await.unwrap().expect("a difference");
    assert!(
        d.detail.contains("status") && d.detail.contains("rework_count"),
        "{}",
        d.detail
    );
    store
        .execute_raw(&format!(
            "DELETE FROM request_events WHERE request_id = {} AND seq = 2",
            ok.id
        ))
        .await
        .unwrap_or(0);
    let (checked, diffs) = s.check_all(|_| {}).await.unwrap();
    assert_eq!(checked, 2);
    assert_eq!(
        diffs.len(),
        1,
        "the untouched request checks clean; {diffs:?}"
    );
}

/// On PostgreSQL the tables every command writes keep no foreign keys (migration 16): a trigger
/// refuses to delete what they name, as SQLite's foreign keys do, and `check` finds a reference
/// broken behind the server's back.
async fn no_row_a_request_names_is_deleted_and_check_finds_a_dangling_reference(
    store: Arc<dyn Store>,
) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let r = to_claimed(&s, &f).await;
    assert!(s.check_references().await.unwrap().is_empty());
    let category = r.category_id.expect("accepted with a category").0;
    let unit = r.unit_id.expect("dispatched").0;
    let claimer = r.claimed_by.expect("claimed").0;
    let named = [
        ("areas", r.location.area_id.0),
        ("areas", r.location.street_id.0),
        ("people", f.resident.id.0),
        ("people", claimer),
        ("units", unit),
        ("category_items", category),
        ("requests", r.id.0),
    ];
    for (table, id) in named {
        let deleted = store
            .execute_raw(&format!("DELETE FROM {table} WHERE id = {id}"))
            .await;
        assert!(deleted.is_err(), "{table} {id} was deleted: {deleted:?}");
        let left = store
            .execute_raw(&format!("UPDATE {table} SET id = id WHERE id = {id}"))
            .await
            .unwrap();
        assert_eq!(left, 1, "{table} {id} is still there");
    }
    if store.backend() == Backend::Postgres {
        for table in ["areas", "units", "people", "category_items", "requests"] {
            let emptied = store
                .execute_raw(&format!("TRUNCATE {table} CASCADE"))
                .await;
            assert!(emptied.is_err(), "{table} was truncated");
        }
    }
    let (checked, _) = s.check_all(|_| {}).await.unwrap();
    assert_eq!(checked, 1, "the request is still there");
    // A reference broken behind the server's back (SQLite's keys turned off for the purpose).
    let (off, on) = match store.backend() {
        Backend::Sqlite => ("PRAGMA foreign_keys = OFF; ", "; PRAGMA foreign_keys = ON"),
        Backend::Postgres => ("", ""),
    };
    store
        .execute_raw(&format!(
            "{off}UPDATE request_events SET actor_id = 987654 WHERE request_id = {}; \
             UPDATE requests SET unit_id = 987655 WHERE id = {}{on}",
            r.id, r.id
        ))
        .await
        .unwrap();
    let mut dangling = s.check_references().await.unwrap();
    dangling.sort();
    assert_eq!(
        dangling,
        vec![
            ("request_events.actor_id".to_string(), 4),
            ("requests.unit_id".to_string(), 1),
        ]
    );
}

async fn catalogue_is_editable_by_administrators_only(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let fields = ItemFields {
        class_id: f.cat_garbage.class_id,
        code: "env.noise".into(),
        name_zh: "噪声扰民".into(),
        name_en: "Noise".into(),
        default_tier: redgrid_core::catalogue::Tier::Minor,
        default_level: Level::Community,
        respond_limit: None,
        resolve_limit: None,
        active: true,
        sort: 5,
    };
    let e = s
        .create_item(&a(&f.community_staff), fields.clone())
        .await
        .unwrap_err();
    assert_eq!(core_err(e), CoreError::Forbidden(Denial::RoleNotAllowed));
    let item = s.create_item(&a(&f.admin), fields.clone()).await.unwrap();
    assert_eq!(
        s.directory().item(item.id).map(|i| i.name_zh.as_str()),
        Some("噪声扰民")
    );
    let dup = s
        .create_item(&a(&f.admin), fields.clone())
        .await
        .unwrap_err();
    assert_eq!(core_err(dup), CoreError::Conflict(Conflict::AlreadyExists));
    let changed = s
        .update_item(
            &a(&f.admin),
            item.id,
            ItemFields {
                active: false,
                ..fields.clone()
            },
        )
        .await
        .unwrap();
    assert!(!changed.active);
    // An inactive item can no longer be chosen.
    let r = submit(&s, &f).await;
    let e = s
        .run(
            r.id,
            &a(&f.grid_worker),
            &Command::Accept {
                public_summary: None,
                category_id: Some(item.id),
                tier: None,
                urgent: None,
                level: None,
            },
            vec![],
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(core_err(e).code(), "validation_failed");
    let bad = s
        .update_item(
            &a(&f.admin),
            item.id,
            ItemFields {
                code: "Bad Code".into(),
                class_id: ClassId(999),
                ..fields.clone()
            },
        )
        .await
        .unwrap_err();
    match core_err(bad) {
        CoreError::Validation(v) => assert_eq!(
            v.iter().map(|x| x.field.as_str()).collect::<Vec<_>>(),
            ["class_id", "code"]
        ),
        other => panic!("{other}"),
    }
    let missing = s
        .update_item(&a(&f.admin), CategoryId(9999), fields)
        .await
        .unwrap_err();
    assert_eq!(core_err(missing).code(), "category_not_found");
}

async fn attachments_are_stored_by_content(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let meta = store
        .put_attachment("image/png", b"\x89PNG fake", None, Default::default())
        .await
        .unwrap();
    let again = store
        .put_attachment("image/png", b"\x89PNG fake", None, Default::default())
        .await
        .unwrap();
    assert_eq!(meta, again);
    let (m, data) = store.attachment(&meta.id).await.unwrap().unwrap();
    assert_eq!((m.size, data.as_slice()), (9, &b"\x89PNG fake"[..]));
    let input = SubmitInput {
        category_id: None,
        attachments: vec![Attachment {
            id: meta.id.clone(),
            name: "现场.png".into(),
        }],
        ..garbage(&f)
    };
    let (r, _) = s
        .submit(&a(&f.resident), &input, vec![], None, now())
        .await
        .unwrap();
    assert_eq!(r.attachments.len(), 1);
    let unknown = SubmitInput {
        category_id: None,
        attachments: vec![Attachment {
            id: "0".repeat(64),
            name: "x.png".into(),
        }],
        ..garbage(&f)
    };
    match core_err(
        s.submit(&a(&f.resident), &unknown, vec![], None, now())
            .await
            .unwrap_err(),
    ) {
        CoreError::Validation(v) => assert_eq!(v[0].field, "attachments[0].id"),
        other => panic!("{other}"),
    }
}

async fn dispatch_stores_deadlines_in_working_time(store: Arc<dyn Store>) {
    use chrono::TimeZone;
    use redgrid_core::calendar::{Calendar, shanghai};
    use redgrid_core::deadline::WorkingTimePolicy;
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let s = s.with_deadlines(Arc::new(WorkingTimePolicy::new(Calendar::new(vec![]))));
    let local = |d: u32, h: u32, m: u32| {
        shanghai()
            .with_ymd_and_hms(2026, 11, d, h, m, 0)
            .single()
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let monday = local(23, 9, 0);
    let (r, _) = s
        .submit(&a(&f.resident), &garbage(&f), vec![], None, monday)
        .await
        .unwrap();
    let accept = f.accept_garbage();
    s.run(r.id, &a(&f.grid_worker), &accept, vec![], monday)
        .await
        .unwrap();
    let (d, event) = s
        .run(
            r.id,
            &a(&f.grid_worker),
            &Command::Dispatch {
                unit_id: Some(f.unit_grid_a1_1.id),
            },
            vec![],
            monday,
        )
        .await
        .unwrap();
    // A micro matter: respond within 2 working hours, resolve within 1 working day (7.5 h).
    assert_eq!(d.respond_due_at, Some(local(23, 11, 0)));
    assert_eq!(d.resolve_due_at, Some(local(24, 9, 0)));
    match event.body {
        redgrid_core::request::EventBody::Dispatched { deadlines, .. } => {
            assert_eq!(deadlines.resolve_due_at, d.resolve_due_at)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.request(r.id).await.unwrap().unwrap(), d);
    assert_eq!(s.check_one(r.id).await.unwrap(), None);
    // Urgent: clock hours, even on a Friday evening.
    let friday = local(27, 20, 0);
    let (u, _) = s
        .submit(&a(&f.resident), &garbage(&f), vec![], None, friday)
        .await
        .unwrap();
    let urgent = Command::Accept {
        public_summary: None,
        category_id: Some(f.cat_garbage.id),
        tier: None,
        urgent: Some(true),
        level: None,
    };
    s.run(u.id, &a(&f.grid_worker), &urgent, vec![], friday)
        .await
        .unwrap();
    let (u, _) = s
        .run(
            u.id,
            &a(&f.grid_worker),
            &Command::Dispatch {
                unit_id: Some(f.unit_grid_a1_1.id),
            },
            vec![],
            friday,
        )
        .await
        .unwrap();
    assert_eq!(
        (u.respond_due_at, u.resolve_due_at),
        (Some(local(27, 22, 0)), Some(local(28, 20, 0)))
    );
}

async fn findings(store: &Arc<dyn Store>, anchors: &[(i64, String)]) -> Vec<Finding> {
    audit::verify(store, anchors, &testing::keyring())
        .await
        .expect("verify")
        .findings
}

async fn audit_verify_finds_every_kind_of_tampering(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let r = to_claimed(&s, &f).await;
    let other = submit(&s, &f).await;
    store
        .append_audit(&AuditRecord::admin(
            now(),
            Some(f.admin.id),
            "test_change",
            serde_json::json!({"what": "a setting"}),
        ))
        .await
        .unwrap();
    let v = audit::verify(&store, &[], &testing::keyring())
        .await
        .unwrap();
    assert_eq!(v.findings, vec![], "an untouched chain verifies");
    assert!(v.events >= 4 && v.records >= v.events, "{v:?}");
    let (head_seq, head_hash) = store.audit_head().await.unwrap();
    assert_eq!(
        (head_seq, head_hash.clone()),
        (v.head_seq, v.head_hash.clone())
    );
    let anchors = vec![(head_seq, head_hash)];
    let chain = store.audit_rows(0, 100_000).await.unwrap();
    let rec_of = |req: RequestId, seq: i64| {
        chain
            .iter()
            .find(|c| c.record.request_id == Some(req) && c.record.event_seq == Some(seq))
            .map(|c| c.seq)
            .expect("the event's record")
    };

    // 1. An event's payload changed.
    let events = store.event_rows((r.id.0, 1), 1).await.unwrap();
    let original = events[0].payload.clone();
    store
        .execute_raw(&format!(
            "UPDATE request_events SET payload = '{}' WHERE request_id = {} AND seq = 2",
            format!("{original} ").replace('\'', "''"),
            r.id
        ))
        .await
        .unwrap();
    assert_eq!(
        findings(&store, &anchors).await,
        vec![Finding::EventChanged {
            request_id: r.id.0,
            seq: 2
        }]
    );
    store
        .execute_raw(&format!(
            "UPDATE request_events SET payload = '{}' WHERE request_id = {} AND seq = 2",
            original.replace('\'', "''"),
            r.id
        ))
        .await
        .unwrap();
    assert_eq!(findings(&store, &anchors).await, vec![]);

    // 2. A chain record changed (the administrative change's actor).
    let admin_seq = head_seq;
    store
        .execute_raw(&format!(
            "UPDATE audit_chain SET actor_id = NULL WHERE seq = {admin_seq}"
        ))
        .await
        .unwrap();
    let found = findings(&store, &anchors).await;
    assert!(
        found.contains(&Finding::BadHash { seq: admin_seq }),
        "{found:?}"
    );
    store
        .execute_raw(&format!(
            "UPDATE audit_chain SET actor_id = {} WHERE seq = {admin_seq}",
            f.admin.id
        ))
        .await
        .unwrap();
    assert_eq!(findings(&store, &anchors).await, vec![]);

    // 3. Two records swapped (reordered).
    let (a, b) = (rec_of(r.id, 2), rec_of(r.id, 3));
    let swap = |x: i64, y: i64| {
        format!(
            "UPDATE audit_chain SET seq = -1 WHERE seq = {x}; \
             UPDATE audit_chain SET seq = {x} WHERE seq = {y}; \
             UPDATE audit_chain SET seq = {y} WHERE seq = -1"
        )
    };
    store.execute_raw(&swap(a, b)).await.unwrap();
    let found = findings(&store, &anchors).await;
    assert!(found.contains(&Finding::BrokenLink { seq: a }), "{found:?}");
    store.execute_raw(&swap(a, b)).await.unwrap();
    assert_eq!(findings(&store, &anchors).await, vec![]);

    // 4. An event inserted behind the chain's back.
    store
        .execute_raw(&format!(
            "INSERT INTO request_events (request_id, seq, kind, actor_id, actor_role, at, payload) \
             SELECT request_id, 99, kind, actor_id, actor_role, at, payload FROM request_events \
             WHERE request_id = {} AND seq = 3",
            r.id
        ))
        .await
        .unwrap();
    assert_eq!(
        findings(&store, &anchors).await,
        vec![Finding::EventNotInChain {
            request_id: r.id.0,
            seq: 99
        }]
    );
    store
        .execute_raw(&format!(
            "DELETE FROM request_events WHERE request_id = {} AND seq = 99",
            r.id
        ))
        .await
        .unwrap();

    // 5. A record inserted into the chain after the head, without a valid link.
    store
        .execute_raw(&format!(
            "INSERT INTO audit_chain (seq, at, kind, actor_id, request_id, event_seq, payload, prev_hash, hash) \
             SELECT {n}, at, kind, actor_id, request_id, event_seq, payload, prev_hash, hash FROM audit_chain WHERE seq = {admin_seq}",
            n = head_seq + 1
        ))
        .await
        .unwrap();
    let found = findings(&store, &anchors).await;
    assert!(
        found.contains(&Finding::BrokenLink { seq: head_seq + 1 }),
        "{found:?}"
    );
    assert!(
        found.contains(&Finding::Head {
            head_seq,
            last_seq: head_seq + 1
        }),
        "{found:?}"
    );
    store
        .execute_raw(&format!(
            "DELETE FROM audit_chain WHERE seq = {}",
            head_seq + 1
        ))
        .await
        .unwrap();
    assert_eq!(findings(&store, &anchors).await, vec![]);

    // 6. An event row deleted.
    store
        .execute_raw(&format!(
            "DELETE FROM request_events WHERE request_id = {} AND seq = 1",
            other.id
        ))
        .await
        .unwrap();
    assert_eq!(
        findings(&store, &anchors).await,
        vec![Finding::EventMissing {
            request_id: other.id.0,
            seq: 1
        }]
    );

    // 7. A chain record deleted from the middle.
    let gone = rec_of(r.id, 2);
    store
        .execute_raw(&format!("DELETE FROM audit_chain WHERE seq = {gone}"))
        .await
        .unwrap();
    let found = findings(&store, &anchors).await;
    assert!(
        found.contains(&Finding::Gap {
            expected: gone,
            found: gone + 1
        }),
        "{found:?}"
    );
    assert!(
        found.contains(&Finding::EventNotInChain {
            request_id: r.id.0,
            seq: 2
        }),
        "{found:?}"
    );

    // 8. The tail cut off and the head rewritten to match: only an anchor shows it.
    store
        .execute_raw(&format!(
            "DELETE FROM audit_chain WHERE seq >= {admin_seq}; \
             UPDATE audit_head SET seq = {p}, hash = (SELECT hash FROM audit_chain WHERE seq = {p}) WHERE id = 1",
            p = admin_seq - 1
        ))
        .await
        .unwrap();
    let found = findings(&store, &[]).await;
    assert!(
        !found.iter().any(|f| matches!(f, Finding::Anchor { .. })),
        "{found:?}"
    );
    let found = findings(&store, &anchors).await;
    assert!(
        found.contains(&Finding::Anchor { seq: head_seq }),
        "{found:?}"
    );
}

/// Issue 22, part 3: with the key outside the database, someone who can only write to the database
/// cannot rewrite the chain so that it verifies; a cut tail is found by the anchors; a store without
/// the key does not extend a keyed chain; a rotated key verifies old and new links.
async fn a_keyed_chain_cannot_be_recomputed_without_its_key(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let r = to_claimed(&s, &f).await;
    submit(&s, &f).await;
    let keys = testing::keyring();
    let v = audit::verify(&store, &[], &keys).await.unwrap();
    assert_eq!(v.findings, vec![]);
    assert_eq!(
        (v.first_keyed, v.plain),
        (Some(1), 0),
        "every link is keyed"
    );
    let (head, head_hash) = store.audit_head().await.unwrap();
    let anchors = vec![(head, head_hash)];
    let chain = store.audit_rows(0, 100_000).await.unwrap();
    // The attacker changes a record in the middle (the claim's actor) and recomputes every later
    // link, as a plain chain would allow.
    let target = chain
        .iter()
        .find(|c| c.record.request_id == Some(r.id) && c.record.event_seq == Some(3))
        .expect("the claim's record")
        .seq;
    let rewrite = |key: Option<&[u8]>, key_id: i64| {
        let mut sql = String::new();
        let mut prev = chain[(target - 2) as usize].hash.clone();
        for row in &chain[(target - 1) as usize..] {
            let mut rec = row.record.clone();
            if row.seq == target {
                rec.actor_id = Some(f.admin.id);
            }
            let hash = audit::chain_hash(&prev, row.seq, &rec, key);
            sql.push_str(&format!(
                "UPDATE audit_chain SET actor_id = {}, prev_hash = '{prev}', hash = '{hash}', key_id = {key_id} WHERE seq = {}; ",
                rec.actor_id.map_or("NULL".to_string(), |p| p.0.to_string()),
                row.seq
            ));
            prev = hash;
        }
        sql.push_str(&format!(
            "UPDATE audit_head SET hash = '{prev}' WHERE id = 1"
        ));
        sql
    };
    // 1. Recomputed as plain SHA-256: every rewritten link is refused as unkeyed.
    store.execute_raw(&rewrite(None, 0)).await.unwrap();
    let found = findings(&store, &[]).await;
    assert!(
        found.contains(&Finding::Unkeyed { seq: target }),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|f| matches!(f, Finding::BadHash { .. })),
        "{found:?}"
    );
    assert!(
        findings(&store, &anchors)
            .await
            .contains(&Finding::Anchor { seq: head })
    );
    // 2. Recomputed under a guessed key, claiming the real key's number: every link is wrong.
    store
        .execute_raw(&rewrite(Some(&[0x11; 32]), 1))
        .await
        .unwrap();
    let found = findings(&store, &[]).await;
    assert!(
        found.contains(&Finding::BadHash { seq: target }),
        "{found:?}"
    );
    assert!(found.contains(&Finding::BadHash { seq: head }), "{found:?}");
    // 3. Put back with the real key (only its holder can): clean again.
    let original = chain[(target - 1) as usize].record.actor_id;
    let mut sql = format!(
        "UPDATE audit_chain SET actor_id = {} WHERE seq = {target}; ",
        original.map_or("NULL".to_string(), |p| p.0.to_string())
    );
    for row in &chain[(target - 1) as usize..] {
        sql.push_str(&format!(
            "UPDATE audit_chain SET prev_hash = '{}', hash = '{}', key_id = 1 WHERE seq = {}; ",
            row.prev_hash, row.hash, row.seq
        ));
    }
    sql.push_str(&format!(
        "UPDATE audit_head SET hash = '{}' WHERE id = 1",
        anchors[0].1
    ));
    store.execute_raw(&sql).await.unwrap();
    assert_eq!(findings(&store, &anchors).await, vec![]);
    // 4. The newest records deleted between anchors: the anchor finds it.
    store
        .append_audit(&AuditRecord::admin(
            now(),
            Some(f.admin.id),
            "x",
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    let (head2, hash2) = store.audit_head().await.unwrap();
    let anchors2 = vec![(head2, hash2)];
    store
        .execute_raw(&format!(
            "DELETE FROM audit_chain WHERE seq = {head2}; \
             UPDATE audit_head SET seq = {head}, hash = '{}' WHERE id = 1",
            anchors[0].1
        ))
        .await
        .unwrap();
    assert_eq!(
        findings(&store, &[]).await,
        vec![],
        "without the anchor nothing shows"
    );
    assert_eq!(
        findings(&store, &anchors2).await,
        vec![Finding::Anchor { seq: head2 }]
    );
    // 5. A store given no key does not extend the keyed chain; nothing is written.
    store.set_keyring(audit::Keyring::default());
    let refused = store
        .append_audit(&AuditRecord::admin(
            now(),
            Some(f.admin.id),
            "y",
            serde_json::json!({}),
        ))
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Corrupt(m)) if m.contains("without its key")),
        "{refused:?}"
    );
    assert_eq!(store.audit_head().await.unwrap().0, head);
    // 6. A rotated key links new records; old and new links verify with the whole keyring, and
    // the new ones are unknown to the old keyring.
    let rotated = keys.with_key(vec![0x77; 32], head + 1);
    store.set_keyring(rotated.clone());
    store
        .append_audit(&AuditRecord::admin(
            now(),
            Some(f.admin.id),
            "z",
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    let v = audit::verify(&store, &[], &rotated).await.unwrap();
    assert_eq!(v.findings, vec![]);
    let last = store.last_keyed().await.unwrap().expect("a keyed record");
    assert_eq!((last.seq, last.key_id), (head + 1, 2));
    assert_eq!(
        findings(&store, &[]).await,
        vec![Finding::UnknownKey {
            seq: head + 1,
            key_id: 2
        }]
    );
    // 7. The old key used after its rotation (someone holding only the old key): reported.
    store.set_keyring(keys.clone());
    store
        .append_audit(&AuditRecord::admin(
            now(),
            Some(f.admin.id),
            "old",
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    let v = audit::verify(&store, &[], &rotated).await.unwrap();
    assert_eq!(
        v.findings,
        vec![Finding::WrongKey {
            seq: head + 2,
            key_id: 1
        }]
    );
    store
        .execute_raw(&format!("DELETE FROM audit_chain WHERE seq = {}", head + 2))
        .await
        .unwrap();
    let (_, hash) = store
        .audit_rows(head, 1)
        .await
        .unwrap()
        .pop()
        .map(|r| (r.seq, r.hash))
        .unwrap();
    store
        .execute_raw(&format!(
            "UPDATE audit_head SET seq = {}, hash = '{hash}' WHERE id = 1",
            head + 1
        ))
        .await
        .unwrap();
    // 8. A record slipped into the waiting table through the database alone (no valid tag) is
    // linked with a plain hash, and verify reports it; a genuine one next to it verifies.
    store.set_keyring(rotated.clone());
    store
        .execute_raw(
            "INSERT INTO audit_pending (at, kind, actor_id, request_id, event_seq, payload, tag) \
             VALUES ('2026-01-01 00:00:00+00:00', 'admin', NULL, NULL, NULL, '{\"forged\":true}', 'beef')",
        )
        .await
        .unwrap();
    store.settle().await.unwrap();
    let v = audit::verify(&store, &[], &rotated).await.unwrap();
    assert_eq!(v.findings, vec![Finding::Unkeyed { seq: head + 2 }]);
    store.set_keyring(keys);
}

/// Issue 22, part 2: a person erased on request is gone from the directory, their requests' texts
/// and place, their login and roles, while `check` replays clean and the audit chain verifies.
async fn an_erased_person_leaves_no_trace_and_the_ledger_still_verifies(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let name = f.resident.name.clone();
    let phone = f.resident.phone.clone().expect("a phone");
    let words = format!("我是{name}，电话{phone}，楼道灯坏了");
    let input = SubmitInput {
        description: Some(words.clone()),
        address: Some("幸福里3号楼2单元501".into()),
        lat: Some(39.01),
        lon: Some(117.7),
        ..garbage(&f)
    };
    let (r, _) = s
        .submit(&a(&f.resident), &input, vec![], None, now())
        .await
        .unwrap();
    let r = run(
        &s,
        &r,
        &f.grid_worker,
        Command::Accept {
            public_summary: Some("楼道灯损坏".into()),
            category_id: Some(f.cat_garbage.id),
            tier: None,
            urgent: None,
            level: None,
        },
    )
    .await;
    let r = run(
        &s,
        &r,
        &f.grid_worker,
        Command::Dispatch {
            unit_id: Some(f.unit_grid_a1_1.id),
        },
    )
    .await;
    let r = run(&s, &r, &f.volunteer, Command::Claim {}).await;
    // Staff wrote the name and phone into a note: those go too.
    let r = run(
        &s,
        &r,
        &f.volunteer,
        Command::Note {
            text: Some(format!("已电话联系{name}（{phone}），约定明早上门")),
            contact_made: Some(true),
        },
    )
    .await;
    let r = run(
        &s,
        &r,
        &f.volunteer,
        Command::Resolve {
            public_summary: None,
            outcome: None,
            summary: Some("已更换灯泡".into()),
            evidence: vec![],
            cost_fen: None,
        },
    )
    .await;
    let r = run(
        &s,
        &r,
        &f.verifier,
        Command::Verify {
            passed: Some(true),
            reason: None,
            reached: Some(true),
        },
    )
    .await;
    let r = run(
        &s,
        &r,
        &f.resident,
        Command::Rate {
            resolved: Some(true),
            satisfaction: Some(Satisfaction::Satisfied),
            comment: Some(format!("谢谢，我的电话{phone}")),
        },
    )
    .await;
    assert_eq!(r.status, Status::Closed);
    // Only a district administrator erases, with a reason; an unknown person is not found.
    let admin = a(&f.admin);
    assert!(matches!(
        s.erase_person(&a(&f.grid_worker), f.resident.id, Some("x"))
            .await,
        Err(StoreError::Core(CoreError::Forbidden(_)))
    ));
    assert!(matches!(
        s.erase_person(&admin, f.resident.id, Some("  ")).await,
        Err(StoreError::Core(CoreError::Validation(_)))
    ));
    assert!(matches!(
        s.erase_person(&admin, PersonId(999_999), Some("x")).await,
        Err(StoreError::Core(CoreError::NotFound { .. }))
    ));
    let done = s
        .erase_person(&admin, f.resident.id, Some("本人申请删除（工单 118）"))
        .await
        .unwrap();
    assert_eq!((done.already, done.requests), (false, 1));
    assert_eq!(done.events, 3, "the submission, the note and the rating");
    // Gone from the directory: no name, no phone, no login, no role.
    let p = store
        .person(f.resident.id)
        .await
        .unwrap()
        .expect("the record stays");
    assert_eq!(
        (p.name.as_str(), p.phone.as_deref(), p.grants.len()),
        (redgrid_store::ERASED, None, 0)
    );
    assert!(store.person_by_phone(&phone).await.unwrap().is_none());
    assert!(store.account_by_login(&phone).await.unwrap().is_none());
    // Gone from the request, its events and every search; what others wrote stays.
    let (after, events) = s.timeline(r.id).await.unwrap();
    assert_eq!(after.description, redgrid_store::ERASED);
    assert_eq!(
        after.location.address.as_deref(),
        Some(redgrid_store::ERASED)
    );
    assert_eq!((after.location.lat, after.location.lon), (None, None));
    assert_eq!(
        after.rating.as_ref().and_then(|x| x.comment.as_deref()),
        Some(redgrid_store::ERASED)
    );
    assert_eq!(after.resolution.as_deref(), Some("已更换灯泡"));
    assert_eq!(after.public_need.as_deref(), Some("楼道灯损坏"));
    let text = serde_json::to_string(&(&after, &events)).unwrap();
    for piece in [name.as_str(), phone.as_str(), "2单元501", "楼道灯坏了"] {
        assert!(!text.contains(piece), "{piece} remains: {text}");
    }
    let found = store
        .list(
            &ListFilter {
                text: Some("楼道灯坏了".into()),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert!(found.is_empty(), "the old words find nothing");
    // The ledger replays, and the chain verifies: the erasure record vouches for the rewrites.
    assert_eq!(s.check_one(r.id).await.unwrap(), None);
    let v = audit::verify(&store, &[], &testing::keyring())
        .await
        .unwrap();
    assert_eq!(v.findings, vec![]);
    let chain = store.audit_rows(0, 100_000).await.unwrap();
    let record = chain
        .iter()
        .rev()
        .find(|c| c.record.payload.contains("erase_person"))
        .expect("the erasure's record");
    assert_eq!(record.record.actor_id, Some(f.admin.id));
    assert!(record.record.payload.contains("本人申请删除（工单 118）"));
    assert!(!record.record.payload.contains(&phone) && !record.record.payload.contains(&name));
    // A rewrite the erasure did not vouch for is still found.
    store
        .execute_raw(&format!(
            "UPDATE request_events SET payload = REPLACE(payload, '已更换灯泡', '已更换灯泡。') WHERE request_id = {}",
            r.id
        ))
        .await
        .unwrap();
    let v = audit::verify(&store, &[], &testing::keyring())
        .await
        .unwrap();
    assert!(
        v.findings
            .iter()
            .any(|f| matches!(f, Finding::EventChanged { .. })),
        "{:?}",
        v.findings
    );
    // A second erasure changes nothing and says so.
    let again = s
        .erase_person(&admin, f.resident.id, Some("重复申请"))
        .await
        .unwrap();
    assert!(again.already);
    assert_eq!(
        store.audit_rows(0, 100_000).await.unwrap().len(),
        chain.len()
    );
}

/// Issue 22, part 2: the retention rule erases a resident whose requests all closed more than N
/// days ago, and nobody with an open request, a recent one, or a staff role.
async fn the_retention_rule_erases_only_residents_whose_requests_all_closed_long_ago(
    store: Arc<dyn Store>,
) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    // The resident's request is rejected (terminal); the other resident's stays open; the grid
    // worker files one for themselves and rejects it (staff are never erased by the rule).
    let mine = submit(&s, &f).await;
    let reject = || Command::Reject {
        code: Some(redgrid_core::request::RejectCode::NoContent),
        duplicate_of: None,
        text: None,
    };
    run(&s, &mine, &f.grid_worker, reject()).await;
    s.submit(&a(&f.other_resident), &garbage(&f), vec![], None, now())
        .await
        .unwrap();
    let (own, _) = s
        .submit(
            &a(&f.grid_worker),
            &SubmitInput {
                channel: Some(Channel::GridPatrol),
                ..garbage(&f)
            },
            vec![],
            None,
            now(),
        )
        .await
        .unwrap();
    run(&s, &own, &f.community_staff, reject()).await;
    // Not due yet: nothing happens.
    assert_eq!(s.apply_retention(now(), 365).await.unwrap(), 0);
    // A year and more later, only the resident whose requests all ended is erased.
    let later = now() + Duration::days(400);
    assert_eq!(s.apply_retention(later, 365).await.unwrap(), 1);
    let erased = store.person(f.resident.id).await.unwrap().unwrap();
    assert_eq!(erased.name, redgrid_store::ERASED);
    assert_eq!(
        store
            .person(f.other_resident.id)
            .await
            .unwrap()
            .unwrap()
            .name,
        f.other_resident.name
    );
    assert_eq!(
        store.person(f.grid_worker.id).await.unwrap().unwrap().name,
        f.grid_worker.name
    );
    assert_eq!(s.apply_retention(later, 365).await.unwrap(), 0, "once only");
    let chain = store.audit_rows(0, 100_000).await.unwrap();
    assert!(chain.iter().any(|c| {
        c.record
            .payload
            .contains("retention: every request closed more than 365 days ago")
    }));
    assert_eq!(
        audit::verify(&store, &[], &testing::keyring())
            .await
            .unwrap()
            .findings,
        vec![]
    );
}

async fn restricted_requests_reach_only_the_grid_and_the_community(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let alert = SubmitInput {
        channel: Some(Channel::PowerAlert),
        description: Some("电力预警·独居老人用电异常：早间无用电活动。".into()),
        area_id: Some(f.grid_a1_1.id),
        restricted: true,
        ..Default::default()
    };
    // Only the system may file one.
    let e = s
        .submit(&a(&f.grid_worker), &alert, vec![], None, now())
        .await
        .unwrap_err();
    assert!(
        matches!(core_err(e), CoreError::Validation(v) if v.iter().any(|x| x.field == "restricted"))
    );
    let (r, _) = s
        .submit(&Actor::System, &alert, vec![], None, now())
        .await
        .unwrap();
    assert!(r.restricted);
    assert!(
        store.request(r.id).await.unwrap().unwrap().restricted,
        "stored"
    );
    let plain = submit(&s, &f).await;
    let sees = |p: &redgrid_core::person::Person| {
        let (s, p, id) = (&s, p.clone(), r.id);
        async move {
            let listed = s
                .list_visible(&a(&p), &ListFilter::default(), 100)
                .await
                .unwrap()
                .iter()
                .any(|x| x.id == id);
            let viewed = s.view(&a(&p), id, "api").await.is_ok();
            assert_eq!(listed, viewed, "{}: the list and the page agree", p.name);
            listed
        }
    };
    for p in [&f.grid_worker, &f.community_staff, &f.verifier] {
        assert!(sees(p).await, "{} sees it", p.name);
    }
    for p in [
        &f.street_staff,
        &f.supervisor,
        &f.admin,
        &f.resident,
        &f.community_staff_b,
        &f.volunteer,
    ] {
        assert!(!sees(p).await, "{} must not see it", p.name);
    }
    // The ordinary request is still seen as before.
    for p in [&f.street_staff, &f.admin, &f.supervisor] {
        let listed = s
            .list_visible(&a(p), &ListFilter::default(), 100)
            .await
            .unwrap();
        assert!(listed.iter().any(|x| x.id == plain.id), "{}", p.name);
    }
    // Handling opens it to the handling unit: dispatched to the grid's unit, its volunteer sees it.
    let r = run(&s, &r, &f.grid_worker, f.accept_garbage()).await;
    let r = run(
        &s,
        &r,
        &f.grid_worker,
        Command::Dispatch {
            unit_id: Some(f.unit_grid_a1_1.id),
        },
    )
    .await;
    assert!(sees(&f.volunteer).await, "the assigned unit's volunteer");
    let r = run(&s, &r, &f.volunteer, Command::Claim {}).await;
    assert_eq!(r.claimed_by, Some(f.volunteer.id));
    // Never on a public list.
    let all = ListFilter {
        visible: Some(redgrid_core::policy::Visibility {
            all: true,
            ..Default::default()
        }),
        ..ListFilter::default()
    };
    assert!(
        !store
            .list(&all, 100)
            .await
            .unwrap()
            .iter()
            .any(|x| x.id == r.id)
    );
    assert!(
        store
            .list(&all, 100)
            .await
            .unwrap()
            .iter()
            .any(|x| x.id == plain.id)
    );
}

/// PostgreSQL runs a command without holding its request's row lock: it reads the request,
/// decides, and writes the move only if the row is still the one it read. An erasure rewrites the
/// row without a new version; a command decided on the row as it was before must be decided again
/// on the erased row, or its move would write the resident's name back into the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_command_decided_before_an_erasure_is_decided_again() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let Some(db) = testing::postgres().await.expect("postgres test database") else {
        return;
    };
    let store = db.store.clone();
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let name = f.resident.name.clone();
    let input = SubmitInput {
        description: Some(format!("我是{name}，楼道灯坏了")),
        ..garbage(&f)
    };
    let (r, _) = s
        .submit(&a(&f.resident), &input, vec![], None, now())
        .await
        .unwrap();
    let dir = store.load_directory().await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let handle = tokio::runtime::Handle::current();
    let (erase_store, resident, worker) = (store.clone(), f.resident.id, a(&f.grid_worker));
    let cat = f.cat_garbage.id;
    let counted = calls.clone();
    let decide_fn: redgrid_store::Decide = Arc::new(move |req: &Request| {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 {
            // Between this read and the command's write, the resident is erased.
            let erased = tokio::task::block_in_place(|| {
                handle.block_on(erase_store.erase_person(
                    resident,
                    "test",
                    redgrid_store::Change::system(),
                ))
            });
            assert!(erased.is_ok(), "{erased:?}");
        }
        decide_accept(&dir, &worker, cat, req)
    });
    let (moved, _) = store.execute(r.id, now(), decide_fn).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "decided again");
    assert_eq!(moved.status, Status::Accepted);
    let stored = store.request(r.id).await.unwrap().unwrap();
    assert!(
        !stored.description.contains(&name),
        "{}",
        stored.description
    );
    assert_eq!(stored, moved);
    assert_eq!(s.check_one(r.id).await.unwrap(), None);
}

/// The same on PostgreSQL when the other writer still holds the row while the command's write
/// arrives: the write waits for it, then finds the row changed (another `xmin`, the same version)
/// and writes nothing, and the command is decided again on what the other writer left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_command_that_waited_on_another_writer_is_decided_again() {
    use sqlx::Connection;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let Some(db) = testing::postgres().await.expect("postgres test database") else {
        return;
    };
    let store = db.store.clone();
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let r = submit(&s, &f).await;
    let (url, schema) = db.pg_schema().unwrap();
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let other = sqlx::PgConnection::connect_with(&options.options([("search_path", schema)]))
        .await
        .unwrap();
    let other = Arc::new(tokio::sync::Mutex::new(Some(other)));
    let dir = store.load_directory().await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let handle = tokio::runtime::Handle::current();
    let (counted, worker, cat, id) = (calls.clone(), a(&f.grid_worker), f.cat_garbage.id, r.id.0);
    let held = other.clone();
    let decide_fn: redgrid_store::Decide = Arc::new(move |req: &Request| {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 {
            // Another writer changes the row and keeps it locked for half a second.
            let held = held.clone();
            tokio::task::block_in_place(|| {
                handle.block_on(async {
                    let mut guard = held.lock().await;
                    let conn = guard.as_mut().unwrap();
                    sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
                    sqlx::query("UPDATE requests SET address = 'changed meanwhile' WHERE id = $1")
                        .bind(id)
                        .execute(&mut *conn)
                        .await
                        .unwrap();
                })
            });
            let held = held.clone();
            handle.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                let mut guard = held.lock().await;
                let conn = guard.as_mut().unwrap();
                sqlx::query("COMMIT").execute(&mut *conn).await.unwrap();
            });
        }
        decide_accept(&dir, &worker, cat, req)
    });
    let started = std::time::Instant::now();
    let (moved, _) = store.execute(r.id, now(), decide_fn).await.unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(400),
        "it waited"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2, "decided again");
    assert_eq!(moved.location.address.as_deref(), Some("changed meanwhile"));
    let stored = store.request(r.id).await.unwrap().unwrap();
    assert_eq!(stored, moved);
    other.lock().await.take();
}

/// A grid worker's accept, decided as the service decides it, for tests that call the store with
/// a decision of their own.
fn decide_accept(
    dir: &redgrid_core::directory::Directory,
    worker: &Actor,
    category: CategoryId,
    request: &Request,
) -> Result<redgrid_core::command::Decision, CoreError> {
    use redgrid_core::command::{Ctx, Facts, Settings, decide};
    let (settings, facts) = (Settings::default(), Facts::default());
    let ctx = Ctx {
        dir,
        now: now(),
        settings: &settings,
        facts: &facts,
        deadlines: None,
    };
    let accept = Command::Accept {
        public_summary: None,
        category_id: Some(category),
        tier: None,
        urgent: None,
        level: None,
    };
    decide(request, worker, &accept, vec![], &ctx)
}

/// Runs `sql` (several statements) on the test database from a connection of its own.
async fn raw_sql(db: &testing::TestDb, sql: &str) {
    use sqlx::Connection;
    if let Some(file) = db.file() {
        let url = format!("sqlite://{}", file.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await
            .unwrap();
    } else if let Some((url, schema)) = db.pg_schema() {
        let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        let mut conn =
            sqlx::PgConnection::connect_with(&options.options([("search_path", schema)]))
                .await
                .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

/// A database last migrated before the packed scorecard deltas (migration 15) may hold counts that
/// commands left in `scorecard_pending`, one row per fact: the upgrade folds them into the facts
/// (summing rows of the same fact) before it drops the table, so the scorecard reads the same.
async fn an_upgrade_folds_the_counts_left_in_the_old_form(db: testing::TestDb) {
    use redgrid_core::scorecard::{Counts, Dim, FactKey, Grain};
    let store = db.store.clone();
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    // Deadlines as `serve` sets them, so a dispatched request counts a response due.
    let policy = redgrid_core::deadline::WorkingTimePolicy::new(
        redgrid_core::calendar::Calendar::new(vec![]),
    );
    let s = s.with_deadlines(Arc::new(policy));
    to_claimed(&s, &f).await;
    store.settle().await.unwrap();
    let before = store.all_facts().await.unwrap();
    let (&known, _) = before.iter().next().expect("a claimed request counts");
    // The database as migration 14 left it, with three rows waiting in the old form: two for a
    // fact that exists, one for a fact that does not.
    raw_sql(
        &db,
        "DROP VIEW scorecard_delta_facts; DROP TABLE scorecard_deltas; \
         DELETE FROM redgrid_migrations WHERE version = 15",
    )
    .await;
    // The table exactly as migration 9 made it on this backend.
    let settle_migration = redgrid_store::MIGRATIONS
        .iter()
        .find(|m| m.version == 9)
        .unwrap()
        .sql(store.backend());
    let from = settle_migration
        .find("CREATE TABLE scorecard_pending")
        .unwrap();
    let to = from + settle_migration[from..].find(");").unwrap() + 2;
    raw_sql(&db, &settle_migration[from..to]).await;
    let insert = format!(
        "INSERT INTO scorecard_pending (grain, dim, bucket, key, respond_due, closed) VALUES \
         ({g}, {d}, {b}, {k}, 1, 0), ({g}, {d}, {b}, {k}, 2, 0), (2, 3, 1999, 4242, 0, 5)",
        g = known.grain as i16,
        d = known.dim as i16,
        b = known.bucket,
        k = known.key
    );
    raw_sql(&db, &insert).await;
    assert_eq!(store.migrate().await.unwrap(), vec![15]);
    let mut expected = before.clone();
    expected.entry(known).or_default().add(&Counts {
        respond_due: 3,
        ..Counts::default()
    });
    let new = FactKey {
        grain: Grain::Year,
        dim: Dim::Category,
        bucket: 1999,
        key: 4242,
    };
    expected.insert(
        new,
        Counts {
            closed: 5,
            ..Counts::default()
        },
    );
    assert_eq!(store.all_facts().await.unwrap(), expected);
    assert_eq!(store.waiting().await.unwrap(), (0, 0));
    // Commands after the upgrade count in the new form, and settle into the same facts.
    to_claimed(&s, &f).await;
    let unsettled = store.all_facts().await.unwrap();
    assert_ne!(
        unsettled, expected,
        "the new request counts before settling"
    );
    if db.file().is_none() {
        assert!(store.waiting().await.unwrap().1 > 0, "packed rows wait");
    }
    store.settle().await.unwrap();
    assert_eq!(store.waiting().await.unwrap(), (0, 0));
    assert_eq!(store.all_facts().await.unwrap(), unsettled);
    // And they are what the requests themselves count, besides the two made-up rows.
    store.rebuild_facts().await.unwrap();
    let mut recounted = store.all_facts().await.unwrap();
    recounted.entry(known).or_default().add(&Counts {
        respond_due: 3,
        ..Counts::default()
    });
    recounted.insert(
        new,
        Counts {
            closed: 5,
            ..Counts::default()
        },
    );
    assert_eq!(recounted, unsettled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_an_upgrade_folds_the_counts_left_in_the_old_form() {
    let db = testing::sqlite().await.expect("sqlite test database");
    an_upgrade_folds_the_counts_left_in_the_old_form(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_an_upgrade_folds_the_counts_left_in_the_old_form() {
    let Some(db) = testing::postgres().await.expect("postgres test database") else {
        return;
    };
    an_upgrade_folds_the_counts_left_in_the_old_form(db).await;
}

/// PostgreSQL keeps a copy of each request this process last wrote, and decides the next command
/// on it without reading the row. Two servers share one database here: when the other one has
/// moved the request meanwhile, the copy is stale, and neither what it would allow nor what it
/// would refuse stands: the command is decided again on the row as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_copy_kept_of_a_request_never_decides_once_another_server_moved_it() {
    let Some(db) = testing::postgres().await.expect("postgres test database") else {
        return;
    };
    let (s, f) = testing::seed(db.store.clone()).await.unwrap();
    let (url, schema) = db.pg_schema().unwrap();
    let other_store: Arc<dyn Store> = Arc::new(
        redgrid_store::postgres::PgStore::connect_schema(url, schema)
            .await
            .unwrap(),
    );
    other_store.set_keyring(testing::keyring());
    let other = Service::new(other_store, redgrid_core::command::Settings::default())
        .await
        .unwrap();
    let accept = f.accept_garbage();
    let dispatch = Command::Dispatch {
        unit_id: Some(f.unit_grid_a1_1.id),
    };
    // This server filed the request (and kept a copy: submitted); the other accepts it.
    let r = submit(&s, &f).await;
    run(&other, &r, &f.grid_worker, accept.clone()).await;
    // Decided on the copy, a dispatch would be refused (not accepted yet): it goes through.
    let (moved, event) = s
        .run(r.id, &a(&f.grid_worker), &dispatch, vec![], now())
        .await
        .expect("dispatched on the row as it is");
    assert_eq!(moved.status, Status::Dispatched);
    assert_eq!(event.seq, 3, "after the other server's accept");
    // This server now holds a copy (dispatched); the other claims the request.
    run(&other, &moved, &f.volunteer, Command::Claim {}).await;
    // Decided on the copy, an accept would be refused for the wrong status, a claim allowed: the
    // claim is refused as already claimed, on the row as it is.
    let claim = s
        .run(r.id, &a(&f.volunteer), &Command::Claim {}, vec![], now())
        .await
        .expect_err("claimed already");
    assert!(
        matches!(core_err(claim), CoreError::InvalidTransition { .. }),
        "refused for the request's real state"
    );
    let stored = db.store.request(r.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.version), (Status::Claimed, 4));
    assert_eq!(s.check_one(r.id).await.unwrap(), None);
    // An erasure by the other server rewrites the request without a new version (only `xmin`
    // tells): the accept decided on this server's copy, which still holds the resident's words,
    // writes nothing, and the request moves from the erased row.
    let r2 = submit(&s, &f).await;
    other
        .erase_person(&a(&f.admin), f.resident.id, Some("本人申请删除"))
        .await
        .unwrap();
    let (accepted, _) = s
        .run(
            r2.id,
            &a(&f.grid_worker),
            &f.accept_garbage(),
            vec![],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(accepted.status, Status::Accepted);
    assert_eq!(accepted.description, redgrid_store::ERASED);
    assert_eq!(
        db.store.request(r2.id).await.unwrap().unwrap().description,
        redgrid_store::ERASED
    );
    assert_eq!(s.check_one(r2.id).await.unwrap(), None);
}

/// PostgreSQL hands request numbers out of blocks it takes from the sequence (the next one fetched
/// ahead); a filing with a contact to record (a transaction of its own) takes its number from the
/// same block as a plain one, so requests filed one after another are numbered in that order, and
/// lists that put the newest first show them so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_requests_are_numbered_in_the_order_they_are_filed() {
    let Some(db) = testing::postgres().await.expect("postgres test database") else {
        return;
    };
    let (s, f) = testing::seed(db.store.clone()).await.unwrap();
    let s = Arc::new(s);
    let on_behalf = SubmitInput {
        channel: Some(Channel::Hotline),
        requester_name: Some("刘大爷".into()),
        requester_phone: Some("139 0000 1111".into()),
        ..garbage(&f)
    };
    let mut numbers = Vec::new();
    for i in 0..80 {
        let filed = if i % 3 == 2 {
            s.submit(&a(&f.community_staff), &on_behalf, vec![], None, now())
                .await
        } else {
            s.submit(&a(&f.resident), &garbage(&f), vec![], None, now())
                .await
        };
        numbers.push(filed.unwrap().0.id.0);
    }
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "in filing order: {numbers:?}"
    );
    // Filings at once take blocks one at a time: a filing after them all still comes last.
    let mut tasks = Vec::new();
    for _ in 0..48 {
        let (s, input, who) = (s.clone(), garbage(&f), a(&f.resident));
        tasks.push(tokio::spawn(async move {
            s.submit(&who, &input, vec![], None, now())
                .await
                .unwrap()
                .0
                .id
                .0
        }));
    }
    let mut at_once = Vec::new();
    for t in tasks {
        at_once.push(t.await.unwrap());
    }
    let last = submit(&s, &f).await.id.0;
    assert!(
        at_once.iter().all(|n| *n < last),
        "{last} after {at_once:?}"
    );
    // A block (and the one fetched ahead of it) given out for two seconds: a filing after that
    // takes a new block, still numbered after every earlier one.
    let mut before = vec![last];
    for _ in 0..20 {
        before.push(submit(&s, &f).await.id.0);
    }
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let later = submit(&s, &f).await.id.0;
    assert!(
        before.windows(2).all(|w| w[0] < w[1]) && before.iter().all(|n| *n < later),
        "{later} after {before:?}"
    );
}
