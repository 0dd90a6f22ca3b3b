//! Deadlines at work, on both backends: light filters, the scorecard against a plain GROUP BY, the
//! background jobs (run twice, restarted, two processes at once), the notification outbox and the
//! catalogue's own limits.

use chrono::{DateTime, Duration, TimeZone, Utc};
use redgrid_app::Service;
use redgrid_app::outbox::{Sender, WebhookSender, deliver_due};
use redgrid_app::scorecard::GroupBy;
use redgrid_app::testing::{self, Fixture, TestDb};
use redgrid_core::calendar::{Calendar, shanghai};
use redgrid_core::command::{Command, Settings, SubmitInput};
use redgrid_core::deadline::{Limit, WorkingTimePolicy};
use redgrid_core::person::{Actor, Person};
use redgrid_core::request::{Channel, EventBody, Light, Request, Satisfaction, Status};
use redgrid_core::scorecard::{Counts, Period};
use redgrid_store::{DirectGroup, ItemFields, ListFilter, OutboxMessage, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = redgrid_app::testing::sqlite().await.expect("sqlite test database");
                    super::$name(&db).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = redgrid_app::testing::postgres().await.expect("postgres test database") else {
                        return;
                    };
                    super::$name(&db).await;
                }
            )*
        }
    };
}

both_backends!(
    light_filters_match_each_requests_light,
    scorecard_equals_a_plain_group_by_and_a_rebuild,
    jobs_are_idempotent_across_runs_and_restarts,
    two_processes_never_append_a_second_event,
    notifications_are_written_with_the_event_and_retried_until_delivered,
    webhook_retries_errors_and_timeouts_without_blocking_commands,
    catalogue_limits_round_trip_and_set_deadlines,
    work_left_for_later_is_settled_exactly_once_and_in_order,
);

/// Monday 23 November 2026 plus `days`, at a local time.
fn at(days: i64, h: u32, m: u32) -> DateTime<Utc> {
    shanghai()
        .with_ymd_and_hms(2026, 11, 23, h, m, 0)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
        + Duration::days(days)
}

fn a(p: &Person) -> Actor {
    Fixture::actor(p)
}

async fn timed(store: Arc<dyn Store>, settings: Settings) -> (Service, Fixture) {
    let (_, f) = testing::seed(store.clone()).await.expect("seed");
    (service_on(store, settings).await, f)
}

async fn service_on(store: Arc<dyn Store>, settings: Settings) -> Service {
    Service::new(store, settings)
        .await
        .expect("service")
        .with_deadlines(Arc::new(WorkingTimePolicy::new(Calendar::new(vec![]))))
}

async fn go(s: &Service, r: &Request, who: &Person, cmd: Command, t: DateTime<Utc>) -> Request {
    s.run(r.id, &a(who), &cmd, vec![], t)
        .await
        .unwrap_or_else(|e| panic!("{cmd:?} by {}: {e}", who.name))
        .0
}

/// A micro request filed, accepted and dispatched to the grid at `t`.
async fn dispatched(s: &Service, f: &Fixture, t: DateTime<Utc>) -> Request {
    let input = SubmitInput {
        category_id: None,
        channel: Some(Channel::App),
        description: Some("楼道堆放杂物".into()),
        area_id: Some(f.grid_a1_1.id),
        ..Default::default()
    };
    let (r, _) = s
        .submit(&a(&f.resident), &input, vec![], None, t)
        .await
        .expect("submit");
    let r = go(s, &r, &f.grid_worker, f.accept_garbage(), t).await;
    go(
        s,
        &r,
        &f.grid_worker,
        Command::Dispatch {
            unit_id: Some(f.unit_grid_a1_1.id),
        },
        t,
    )
    .await
}

async fn closed(s: &Service, f: &Fixture, t: DateTime<Utc>, done: DateTime<Utc>) -> Request {
    let r = dispatched(s, f, t).await;
    let r = go(s, &r, &f.volunteer, Command::Claim {}, t).await;
    let r = go(
        s,
        &r,
        &f.volunteer,
        Command::Resolve {
            public_summary: None,
            outcome: None,
            summary: Some("已清理".into()),
            evidence: vec![],
            cost_fen: None,
        },
        done,
    )
    .await;
    let r = go(
        s,
        &r,
        &f.verifier,
        Command::Verify {
            passed: Some(true),
            reason: None,
            reached: None,
        },
        done,
    )
    .await;
    go(
        s,
        &r,
        &f.resident,
        Command::Rate {
            resolved: Some(true),
            satisfaction: Some(Satisfaction::Satisfied),
            comment: None,
        },
        done,
    )
    .await
}

async fn ids_with(store: &Arc<dyn Store>, filter: ListFilter) -> Vec<i64> {
    let mut v: Vec<i64> = store
        .list(&filter, 100)
        .await
        .expect("list")
        .iter()
        .map(|r| r.id.0)
        .collect();
    v.sort();
    v
}

async fn light_filters_match_each_requests_light(db: &TestDb) {
    let store = db.store.clone();
    let (s, f) = timed(store.clone(), Settings::default()).await;
    // Dispatched Monday 09:00: respond by 11:00 (yellow from 10:36), resolve by Tuesday 09:00.
    let a1 = dispatched(&s, &f, at(0, 9, 0)).await;
    let a2 = dispatched(&s, &f, at(0, 10, 0)).await; // respond by 12:00, yellow from 11:36
    let on_time = closed(&s, &f, at(0, 9, 0), at(0, 9, 30)).await;
    let late = closed(&s, &f, at(0, 9, 0), at(1, 9, 30)).await;
    let fresh = s
        .submit(
            &a(&f.resident),
            &SubmitInput {
                category_id: None,
                channel: Some(Channel::App),
                description: Some("x".into()),
                area_id: Some(f.grid_a1_1.id),
                ..Default::default()
            },
            vec![],
            None,
            at(0, 9, 0),
        )
        .await
        .expect("submit")
        .0;
    let all = [&a1, &a2, &on_time, &late, &fresh];
    for t in [
        at(0, 10, 35),
        at(0, 10, 36),
        at(0, 11, 0),
        at(0, 11, 0) + Duration::microseconds(1),
        at(0, 11, 40),
        at(2, 9, 0),
    ] {
        for light in Light::ALL {
            let want: Vec<i64> = {
                let mut v: Vec<i64> = all
                    .iter()
                    .filter(|r| r.light_at(t) == Some(light))
                    .map(|r| r.id.0)
                    .collect();
                v.sort();
                v
            };
            let got = ids_with(
                &store,
                ListFilter {
                    light: Some((light, t)),
                    ..Default::default()
                },
            )
            .await;
            assert_eq!(got, want, "{light:?} at {t}");
        }
    }
    assert_eq!(fresh.light_at(at(5, 9, 0)), None);
    assert_eq!(late.light_at(at(5, 9, 0)), Some(Light::Red));
    // Due within 1 working hour of Monday 10:30: a1 (11:00) but not a2 (12:00).
    let policy = s.deadline_policy().expect("policy");
    let until = policy.after_working_hours(at(0, 10, 30), 1).expect("until");
    let got = ids_with(
        &store,
        ListFilter {
            due_between: Some((at(0, 10, 30), until)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(got, vec![a1.id.0]);
}

fn as_map(rows: Vec<(i64, Counts)>) -> BTreeMap<i64, Counts> {
    rows.into_iter().filter(|(_, c)| !c.is_zero()).collect()
}

async fn scorecard_equals_a_plain_group_by_and_a_rebuild(db: &TestDb) {
    let store = db.store.clone();
    let (s, f) = timed(store.clone(), Settings::default()).await;
    // A spread over two months: on time, late, reworked, unsatisfied, unrated, still open.
    let mut t = at(-40, 9, 0);
    for i in 0..12 {
        let r = dispatched(&s, &f, t).await;
        if i % 4 != 3 {
            let r = go(
                &s,
                &r,
                &f.volunteer,
                Command::Claim {},
                t + Duration::hours(i % 3),
            )
            .await;
            let done = t + Duration::days(i % 3);
            let r = go(
                &s,
                &r,
                &f.volunteer,
                Command::Resolve {
                    public_summary: None,
                    outcome: None,
                    summary: Some("ok".into()),
                    evidence: vec![],
                    cost_fen: None,
                },
                done,
            )
            .await;
            let r = go(
                &s,
                &r,
                &f.verifier,
                Command::Verify {
                    passed: Some(i % 5 != 0),
                    reason: Some("复核".into()),
                    reached: None,
                },
                done,
            )
            .await;
            if r.status == Status::Verified && i % 2 == 0 {
                go(
                    &s,
                    &r,
                    &f.resident,
                    Command::Rate {
                        resolved: Some(i % 6 != 0),
                        satisfaction: Some(if i % 6 == 0 {
                            Satisfaction::Unsatisfied
                        } else if i % 4 == 0 {
                            Satisfaction::BasicallySatisfied
                        } else {
                            Satisfaction::Satisfied
                        }),
                        comment: None,
                    },
                    done + Duration::hours(1),
                )
                .await;
            }
        }
        t += Duration::days(4);
    }
    let now = at(0, 15, 0);
    let _ = dispatched(&s, &f, at(0, 9, 0)).await; // due today at 11:00: counted
    let _ = dispatched(&s, &f, at(0, 14, 30)).await; // due 16:30: not due yet at 15:00
    let periods = [
        "2026-10",
        "2026-11",
        "2026-10-20..2026-11-23",
        "2026-Q4",
        "2026",
        "2026-11-23",
    ];
    let groups = [
        (GroupBy::Unit, DirectGroup::Unit),
        (GroupBy::Level, DirectGroup::Level),
        (GroupBy::Community, DirectGroup::Community),
        (GroupBy::Street, DirectGroup::Street),
        (GroupBy::Category, DirectGroup::Category),
        (GroupBy::District, DirectGroup::District),
    ];
    let mut nonempty = 0;
    for p in periods {
        let period = Period::parse(p).expect("period");
        let respond_to = period.end_instant().min(now);
        for (by, direct) in groups {
            let card = s.scorecard(by, period, now).await.expect("scorecard");
            let ours: BTreeMap<i64, Counts> = card
                .rows
                .iter()
                .filter(|r| !r.counts.is_zero())
                .map(|r| (r.key, r.counts))
                .collect();
            let reference = as_map(
                store
                    .scorecard_direct(
                        direct,
                        period.start_instant(),
                        period.end_instant(),
                        respond_to,
                    )
                    .await
                    .expect("direct"),
            );
            assert_eq!(ours, reference, "{p} by {by:?}");
            let mut total = Counts::default();
            for c in reference.values() {
                total.add(c);
            }
            assert_eq!(card.total.counts, total);
            nonempty += usize::from(!total.is_zero());
        }
    }
    assert!(
        nonempty >= 30,
        "the workload reaches most periods ({nonempty})"
    );
    // Today's response counts stop at "now": two were due by 15:00 (11:00 each), a third at 16:30.
    let today = Period::parse("2026-11-23").expect("p");
    let at3 = s
        .scorecard(GroupBy::District, today, now)
        .await
        .expect("today");
    assert_eq!(at3.total.counts.respond_due, 2);
    let at5 = s
        .scorecard(GroupBy::District, today, at(0, 17, 0))
        .await
        .expect("today");
    assert_eq!(at5.total.counts.respond_due, 3);
    // The incremental facts equal a rebuild from the projections, and check agrees.
    let before = store.all_facts().await.expect("facts");
    assert_eq!(s.check_facts().await.expect("check"), None);
    store.rebuild_facts().await.expect("rebuild");
    assert_eq!(store.all_facts().await.expect("facts"), before);
    store
        .execute_raw("UPDATE scorecard_facts SET closed = closed + 1 WHERE grain = 1 AND dim = 1")
        .await
        .expect("tamper");
    assert!(s.check_facts().await.expect("check").is_some());
}

async fn supervise_events(store: &Arc<dyn Store>, ids: &[Request]) -> usize {
    let mut n = 0;
    for r in ids {
        n += store
            .events(r.id)
            .await
            .expect("events")
            .iter()
            .filter(|e| {
                matches!(e.body, EventBody::Supervised { .. }) && e.actor.person_id.is_none()
            })
            .count();
    }
    n
}

async fn jobs_are_idempotent_across_runs_and_restarts(db: &TestDb) {
    let store = db.store.clone();
    let settings = Settings {
        auto_escalate_after_days: Some(1),
        ..Settings::default()
    };
    let (s, f) = timed(store.clone(), settings.clone()).await;
    let reds: Vec<Request> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(dispatched(&s, &f, at(0, 9, 0)).await);
        }
        v
    };
    let green = dispatched(&s, &f, at(0, 16, 0)).await;
    let verified = {
        let r = dispatched(&s, &f, at(0, 9, 0)).await;
        let r = go(&s, &r, &f.volunteer, Command::Claim {}, at(0, 9, 10)).await;
        let r = go(
            &s,
            &r,
            &f.volunteer,
            Command::Resolve {
                public_summary: None,
                outcome: None,
                summary: Some("ok".into()),
                evidence: vec![],
                cost_fen: None,
            },
            at(0, 9, 20),
        )
        .await;
        go(
            &s,
            &r,
            &f.verifier,
            Command::Verify {
                passed: Some(true),
                reason: None,
                reached: None,
            },
            at(0, 9, 30),
        )
        .await
    };
    // Monday 13:00: the three are 2 hours late answering; the rating window is still open.
    let t1 = at(0, 13, 0);
    let r1 = s.run_jobs(t1).await.expect("jobs");
    assert_eq!((r1.supervised, r1.closed, r1.escalated), (3, 0, 0));
    let r2 = s.run_jobs(t1).await.expect("again");
    assert_eq!(r2, Default::default(), "a second run does nothing");
    assert_eq!(supervise_events(&store, &reds).await, 3);
    // A restart: a new service (and store) on the same database does nothing more either.
    let s2 = service_on(db.reopen().await.expect("reopen"), settings.clone()).await;
    assert_eq!(
        s2.run_jobs(t1).await.expect("restarted"),
        Default::default()
    );
    // Eight days later: the rating window has ended; the three have been red for over a working
    // day, so they go up to the community; the green one missed its deadlines meanwhile.
    let t2 = at(8, 13, 0);
    let r3 = s2.run_jobs(t2).await.expect("later");
    assert_eq!(r3.closed, 1);
    assert_eq!(r3.escalated, 4);
    assert_eq!(
        r3.supervised, 1,
        "the fourth request turned red and is supervised once"
    );
    let c = store.request(verified.id).await.expect("get").expect("row");
    assert_eq!((c.status, c.rating.is_none()), (Status::Closed, true));
    for r in reds.iter().chain([&green]) {
        let now = store.request(r.id).await.expect("get").expect("row");
        assert_eq!(
            (now.status, now.level),
            (Status::Accepted, redgrid_core::area::Level::Community)
        );
    }
    assert_eq!(s2.run_jobs(t2).await.expect("again"), Default::default());
    let (checked, diffs) = s2.check_all(|_| {}).await.expect("check");
    assert!(checked >= 5 && diffs.is_empty(), "{diffs:?}");
}

async fn two_processes_never_append_a_second_event(db: &TestDb) {
    let store = db.store.clone();
    let (s, f) = timed(store.clone(), Settings::default()).await;
    let mut reds = Vec::new();
    for _ in 0..20 {
        reds.push(dispatched(&s, &f, at(0, 9, 0)).await);
    }
    let other = service_on(
        db.reopen().await.expect("second store"),
        Settings::default(),
    )
    .await;
    let t = at(0, 13, 0);
    let (a1, b1) = tokio::join!(s.sweep_overdue(t), other.sweep_overdue(t));
    let (a1, b1) = (a1.expect("first"), b1.expect("second"));
    assert_eq!(
        a1 + b1,
        20,
        "each overdue request supervised by exactly one process"
    );
    assert_eq!(supervise_events(&store, &reds).await, 20);
}

/// A sender that fails while `fail` is set and counts what it accepted.
struct Flaky {
    fail: AtomicBool,
    sent: AtomicUsize,
    name: &'static str,
}

#[async_trait::async_trait]
impl Sender for Flaky {
    fn name(&self) -> String {
        self.name.into()
    }
    async fn send(&self, _m: &OutboxMessage) -> Result<(), String> {
        if self.fail.load(Ordering::SeqCst) {
            Err("HTTP 503".into())
        } else {
            self.sent.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }
}

async fn notifications_are_written_with_the_event_and_retried_until_delivered(db: &TestDb) {
    let store = db.store.clone();
    let (s, f) = timed(store.clone(), Settings::default()).await;
    let t = at(0, 9, 0);
    let r = dispatched(&s, &f, t).await;
    // Dispatched to the grid unit: its grid worker and volunteer are told.
    let to_volunteer = store
        .messages_for(f.volunteer.id, 10)
        .await
        .expect("messages");
    assert_eq!(to_volunteer.len(), 1);
    assert_eq!(to_volunteer[0].kind, "dispatched");
    assert_eq!(to_volunteer[0].request_id, r.id);
    assert_eq!(
        store
            .messages_for(f.grid_worker.id, 10)
            .await
            .expect("m")
            .len(),
        1
    );
    assert!(
        store
            .messages_for(f.resident.id, 10)
            .await
            .expect("m")
            .is_empty()
    );
    // Resolved: the verifier; verified: the resident is asked to rate.
    let r = go(&s, &r, &f.volunteer, Command::Claim {}, t).await;
    let r = go(
        &s,
        &r,
        &f.volunteer,
        Command::Resolve {
            public_summary: None,
            outcome: None,
            summary: Some("ok".into()),
            evidence: vec![],
            cost_fen: None,
        },
        t,
    )
    .await;
    assert_eq!(
        store.messages_for(f.verifier.id, 10).await.expect("m")[0].kind,
        "verification_needed"
    );
    go(
        &s,
        &r,
        &f.verifier,
        Command::Verify {
            passed: Some(true),
            reason: None,
            reached: None,
        },
        t,
    )
    .await;
    assert_eq!(
        store.messages_for(f.resident.id, 10).await.expect("m")[0].kind,
        "please_rate"
    );
    // A refused command writes no message.
    let before = store.outbox_counts().await.expect("counts");
    assert!(
        s.run(r.id, &a(&f.resident), &Command::Claim {}, vec![], t)
            .await
            .is_err()
    );
    assert_eq!(store.outbox_counts().await.expect("counts"), before);
    let waiting = before.1 as usize;
    assert!(waiting >= 4);
    // One receiver is down: every message fails for it, stays, and is retried 30 s later; the
    // receiver that took them is not sent them again.
    let flaky = Arc::new(Flaky {
        fail: AtomicBool::new(true),
        sent: AtomicUsize::new(0),
        name: "flaky",
    });
    let steady = Arc::new(Flaky {
        fail: AtomicBool::new(false),
        sent: AtomicUsize::new(0),
        name: "steady",
    });
    let senders: Vec<Arc<dyn Sender>> = vec![steady.clone(), flaky.clone()];
    let r1 = deliver_due(&store, &senders, t, 100)
        .await
        .expect("deliver");
    assert_eq!((r1.delivered, r1.failed), (0, waiting));
    assert_eq!((r1.sends_ok, r1.sends_failed), (waiting, waiting));
    assert_eq!(steady.sent.load(Ordering::SeqCst), waiting);
    assert_eq!(
        deliver_due(&store, &senders, t + Duration::seconds(29), 100)
            .await
            .expect("d")
            .failed,
        0
    );
    // A restart with the receiver back: everything arrives once, nothing is lost.
    let store2 = db.reopen().await.expect("reopen");
    flaky.fail.store(false, Ordering::SeqCst);
    // Rounds of one message each: the backlog is worked off in one call all the same.
    let r2 = redgrid_app::outbox::deliver_backlog(
        &store2,
        &senders,
        t + Duration::seconds(31),
        1,
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("d");
    assert_eq!((r2.delivered, r2.failed), (waiting, 0));
    assert_eq!((r2.sends_ok, r2.sends_failed), (waiting, 0));
    assert_eq!(flaky.sent.load(Ordering::SeqCst), waiting);
    assert_eq!(
        steady.sent.load(Ordering::SeqCst),
        waiting,
        "the steady receiver got each message once"
    );
    assert_eq!(
        store2.outbox_counts().await.expect("counts"),
        (waiting as i64, 0)
    );
    let m = &store2.messages_for(f.resident.id, 1).await.expect("m")[0];
    assert_eq!(m.attempts, 2);
    assert!(m.delivered_at.is_some() && m.last_error.is_none());
}

async fn catalogue_limits_round_trip_and_set_deadlines(db: &TestDb) {
    let store = db.store.clone();
    let (s, f) = timed(store.clone(), Settings::default()).await;
    let item = &f.cat_garbage;
    let fields = ItemFields {
        class_id: item.class_id,
        code: item.code.clone(),
        name_zh: item.name_zh.clone(),
        name_en: item.name_en.clone(),
        default_tier: item.default_tier,
        default_level: item.default_level,
        respond_limit: Some(Limit::WorkingHours(1)),
        resolve_limit: Some(Limit::ClockHours(48)),
        active: true,
        sort: item.sort,
    };
    let updated = s
        .update_item(&Actor::System, item.id, fields)
        .await
        .expect("update");
    assert_eq!(updated.respond_limit, Some(Limit::WorkingHours(1)));
    assert_eq!(updated.resolve_limit, Some(Limit::ClockHours(48)));
    s.reload().await.expect("reload");
    let dir = store.load_directory().await.expect("dir");
    assert_eq!(
        dir.item(item.id).expect("item").resolve_limit,
        Some(Limit::ClockHours(48))
    );
    let r = dispatched(&s, &f, at(0, 9, 0)).await;
    assert_eq!(r.respond_due_at, Some(at(0, 10, 0)));
    assert_eq!(r.resolve_due_at, Some(at(2, 9, 0)));
}

/// What the test webhook receiver does with each connection, in order.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Status(u16),
    /// Reads the request and holds the connection without answering until released.
    Hold,
}

/// One POST as the receiver saw it.
struct Received {
    message_id: String,
    body: serde_json::Value,
}

/// A real HTTP receiver on a local port, answering connections by `script` (then 200 for ever).
async fn receiver(
    script: Vec<Answer>,
) -> (
    String,
    Arc<tokio::sync::Mutex<Vec<Received>>>,
    Arc<tokio::sync::Notify>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/hooks/redgrid",
        listener.local_addr().expect("addr")
    );
    let got = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let release = Arc::new(tokio::sync::Notify::new());
    let (got2, release2) = (got.clone(), release.clone());
    tokio::spawn(async move {
        let mut n = 0usize;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let answer = script.get(n).copied().unwrap_or(Answer::Status(200));
            n += 1;
            let (got, release) = (got2.clone(), release2.clone());
            tokio::spawn(async move {
                // Read the head, then the body by Content-Length.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    let k = sock.read(&mut chunk).await.unwrap_or(0);
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.trim()
                                .eq_ignore_ascii_case(name)
                                .then(|| v.trim().to_string())
                        })
                        .unwrap_or_default()
                };
                let len: usize = header("content-length").parse().unwrap_or(0);
                while buf.len() < head_end + len {
                    let k = sock.read(&mut chunk).await.unwrap_or(0);
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                }
                assert!(head.starts_with("POST /hooks/redgrid HTTP/1.1"), "{head}");
                assert_eq!(header("content-type"), "application/json");
                match answer {
                    Answer::Hold => {
                        release.notified().await;
                    }
                    Answer::Status(code) => {
                        if code == 200 {
                            let body = serde_json::from_slice(&buf[head_end..head_end + len])
                                .expect("JSON body");
                            got.lock().await.push(Received {
                                message_id: header("x-redgrid-message-id"),
                                body,
                            });
                        }
                        let reply = format!(
                            "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                        let _ = sock.write_all(reply.as_bytes()).await;
                    }
                }
            });
        }
    });
    (url, got, release)
}

async fn webhook_retries_errors_and_timeouts_without_blocking_commands(db: &TestDb) {
    let store = db.store.clone();
    let (s, f) = timed(store.clone(), Settings::default()).await;
    let t = at(0, 9, 0);
    let r = dispatched(&s, &f, t).await;
    let (_, waiting) = store.outbox_counts().await.expect("counts");
    assert_eq!(waiting, 2, "the grid worker and the volunteer are told");
    let n = waiting as usize;
    // Round 1: the receiver answers 500; round 2: it holds the connection past the timeout;
    // round 3: it answers 200.
    let mut script = vec![Answer::Status(500); n];
    script.extend(vec![Answer::Hold; n]);
    let (url, got, release) = receiver(script).await;
    let hook: Arc<dyn Sender> =
        Arc::new(WebhookSender::new(&url, std::time::Duration::from_secs(2)).expect("webhook URL"));
    let senders = vec![hook];
    let r1 = deliver_due(&store, &senders, t, 100)
        .await
        .expect("round 1");
    assert_eq!((r1.delivered, r1.failed), (0, n));
    let m = &store.messages_for(f.volunteer.id, 1).await.expect("m")[0];
    assert_eq!(m.attempts, 1);
    assert!(m.delivered_at.is_none());
    assert!(
        m.last_error.as_deref().unwrap_or("").contains("HTTP 500"),
        "{:?}",
        m.last_error
    );
    // Round 2 hangs on the receiver; a command meanwhile is not held up by it.
    let t2 = t + Duration::seconds(31);
    let round2 = {
        let (store, senders) = (store.clone(), senders.clone());
        tokio::spawn(async move { deliver_due(&store, &senders, t2, 100).await })
    };
    let claimed = go(&s, &r, &f.volunteer, Command::Claim {}, t2).await;
    assert_eq!(claimed.status, Status::Claimed);
    assert!(
        !round2.is_finished(),
        "the command finished while the receiver still held the delivery"
    );
    let r2 = round2.await.expect("join").expect("round 2");
    assert_eq!((r2.delivered, r2.failed), (0, n));
    let m = &store.messages_for(f.volunteer.id, 1).await.expect("m")[0];
    assert_eq!(m.attempts, 2);
    assert!(
        m.last_error.as_deref().unwrap_or("").contains("timed out"),
        "{:?}",
        m.last_error
    );
    release.notify_waiters();
    // Not yet due (the second wait is 60 s), then delivered once each; a later round sends nothing.
    let t3 = t2 + Duration::seconds(59);
    assert_eq!(
        deliver_due(&store, &senders, t3, 100)
            .await
            .expect("early")
            .failed,
        0
    );
    assert!(got.lock().await.is_empty());
    let t4 = t2 + Duration::seconds(61);
    let r3 = deliver_due(&store, &senders, t4, 100)
        .await
        .expect("round 3");
    assert_eq!((r3.delivered, r3.failed), (n, 0));
    let again = deliver_due(&store, &senders, t4 + Duration::hours(2), 100)
        .await
        .expect("again");
    assert_eq!((again.delivered, again.failed), (0, 0));
    let got = got.lock().await;
    assert_eq!(got.len(), n);
    let mut ids: Vec<String> = got.iter().map(|g| g.message_id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), n, "each message arrives once");
    for g in got.iter() {
        assert_eq!(g.body["id"].to_string(), g.message_id);
        assert_eq!(g.body["kind"], "dispatched");
        assert_eq!(g.body["request_id"], r.id.0);
        assert_eq!(g.body["payload"]["title_zh"], "有新的派单，请接单办理");
    }
    assert_eq!(
        store.outbox_counts().await.expect("counts"),
        (waiting, 0),
        "a claim tells nobody; nothing waits"
    );
    let m = &store.messages_for(f.volunteer.id, 5).await.expect("m");
    let first = m
        .iter()
        .find(|m| m.kind == "dispatched")
        .expect("dispatched");
    assert_eq!(first.attempts, 3);
    assert!(first.delivered_at.is_some() && first.last_error.is_none());
}

/// Commands leave their scorecard deltas and audit records for later (so they never wait on each
/// other); two servers' settlers and explicit settles racing them fold every delta exactly once
/// and link every record once, and the scorecard is exact before, during and after.
async fn work_left_for_later_is_settled_exactly_once_and_in_order(db: &TestDb) {
    let store = db.store.clone();
    let (s1, f) = timed(store.clone(), Settings::default()).await;
    let f = Arc::new(f);
    let s2 = service_on(
        db.reopen().await.expect("second store"),
        Settings::default(),
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    // A third settler, as fast as it can go, racing the two services' own.
    let racer = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut took = 0u64;
            while !stop.load(Ordering::Relaxed) {
                took += store.settle().await.expect("settle");
                tokio::task::yield_now().await;
            }
            took
        })
    };
    let mut tasks = Vec::new();
    for (n, s) in [s1, s2].into_iter().enumerate() {
        let s = Arc::new(s);
        for k in 0..4 {
            let (s, f) = (s.clone(), f.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..6 {
                    dispatched(&s, &f, at(0, 9, (n * 24 + k * 6 + i) as u32)).await;
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("commands");
    }
    // Before anything more is settled, the scorecard already counts every command. On SQLite,
    // whose one writer takes commands in turn, the counts went straight into the facts.
    let unsettled = store.all_facts().await.expect("facts");
    if store.backend() == redgrid_store::Backend::Sqlite {
        assert_eq!(
            store.waiting().await.expect("waiting").1,
            0,
            "no deltas wait"
        );
    }
    stop.store(true, Ordering::Relaxed);
    racer.await.expect("racer");
    store.settle().await.expect("settle");
    assert_eq!(
        store.settle().await.expect("settle again"),
        0,
        "nothing left"
    );
    assert_eq!(store.waiting().await.expect("waiting"), (0, 0));
    assert_eq!(store.all_facts().await.expect("facts"), unsettled);
    store.rebuild_facts().await.expect("rebuild");
    assert_eq!(
        store.all_facts().await.expect("facts"),
        unsettled,
        "folded once"
    );
    // Every event is in the chain once, and the chain verifies.
    let v = redgrid_store::audit::verify(&store, &[], &testing::keyring())
        .await
        .expect("verify");
    assert_eq!(v.findings, vec![], "{v:?}");
    assert_eq!(
        v.events,
        8 * 6 * 3,
        "each submit, accept and dispatch linked once"
    );
}
