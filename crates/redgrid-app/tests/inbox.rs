//! The inbox and notifications by SMS, on SQLite and PostgreSQL: a dispatch reaches the unit's
//! people unread, reading marks it, and the kinds a person chose also go by SMS through the queue;
//! and a power alert names its household to those who must visit it, and an alert's episode is one
//! request that hears its new days.

use redgrid_app::outbox::{Sender, SmsNotices, deliver_due};
use redgrid_app::service::now;
use redgrid_app::testing::{self, Fixture};
use redgrid_core::command::{Command, SubmitInput};
use redgrid_core::person::Actor;
use redgrid_core::request::Channel;
use redgrid_store::Store;
use std::sync::Arc;

redgrid_app::both_backends!(
    a_dispatch_reaches_the_units_people_unread_and_by_sms_when_chosen,
    a_power_alert_names_the_household_to_those_in_charge_only,
    an_episode_files_one_request_that_hears_its_new_days_until_it_is_resolved,
);

async fn a_dispatch_reaches_the_units_people_unread_and_by_sms_when_chosen(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let input = SubmitInput {
        channel: Some(Channel::App),
        description: Some("小区东门路灯不亮".into()),
        area_id: Some(f.grid_a1_1.id),
        ..Default::default()
    };
    let (r, _) = s
        .submit(&Fixture::actor(&f.resident), &input, vec![], None, now())
        .await
        .unwrap();
    let run = |who: &redgrid_core::person::Person, cmd: Command| {
        let s = &s;
        let actor = Actor::Person(who.clone());
        async move { s.run(r.id, &actor, &cmd, vec![], now()).await.unwrap() }
    };
    run(&f.grid_worker, f.accept_garbage()).await;
    assert_eq!(store.unread_count(f.volunteer.id).await.unwrap(), 0);
    // The volunteer wants dispatches by SMS too; the grid worker does not.
    store
        .set_sms_choices(f.volunteer.id, &["dispatched".to_string()])
        .await
        .unwrap();
    assert_eq!(
        store.sms_choices(f.volunteer.id).await.unwrap(),
        ["dispatched"]
    );
    run(
        &f.grid_worker,
        Command::Dispatch {
            unit_id: Some(f.unit_grid_a1_1.id),
        },
    )
    .await;
    let unread = store.unread_count(f.volunteer.id).await.unwrap();
    assert_eq!(unread, 1, "the unit's volunteer is told");
    let mine = store.messages_for(f.volunteer.id, 10).await.unwrap();
    assert_eq!(mine[0].kind, "dispatched");
    assert!(mine[0].read_at.is_none());
    // Delivery: the SMS goes to the volunteer only.
    let senders: Vec<Arc<dyn Sender>> =
        vec![Arc::new(SmsNotices::new(store.clone(), s.sms().clone()))];
    let report = deliver_due(&store, &senders, now(), 100).await.unwrap();
    assert!(report.delivered >= 2, "{report:?}");
    let phone = f.volunteer.phone.clone().unwrap();
    let text = redgrid_app::testing::sms_to(&s, &phone)
        .await
        .expect("an SMS to the volunteer");
    assert!(text.contains("派单"), "{text}");
    assert!(text.contains(&r.id.0.to_string()));
    let grid_phone = f.grid_worker.phone.clone().unwrap();
    assert!(s.sms_log().last_to(&grid_phone).is_none());
    // Reading one marks it, and only the reader's.
    let grid_unread = store.unread_count(f.grid_worker.id).await.unwrap();
    assert_eq!(
        store
            .mark_read(f.volunteer.id, Some(mine[0].id), now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.unread_count(f.volunteer.id).await.unwrap(), 0);
    assert_eq!(
        store.unread_count(f.grid_worker.id).await.unwrap(),
        grid_unread
    );
    // Someone else's message cannot be marked by its id.
    assert_eq!(
        store
            .mark_read(f.resident.id, Some(mine[0].id), now())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .mark_read(f.grid_worker.id, None, now())
            .await
            .unwrap() as i64,
        grid_unread
    );
}

async fn a_power_alert_names_the_household_to_those_in_charge_only(store: Arc<dyn Store>) {
    use redgrid_app::power_alerts::{Filing, PowerAlert};
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let alert = PowerAlert {
        district: "120116".into(),
        detector: "vacancy".into(),
        meter: "3301234567".into(),
        grid_code: f.grid_a1_1.code.clone(),
        address: "幸福里小区7号楼1单元302".into(),
        day: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        since: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        ongoing: true,
        severity: 2,
        reasons: vec!["vacant_30d".into()],
        reason_names: vec!["连续一个月以上只有冰箱和待机用电（无人居住迹象）".into()],
        description: "该户 30 天用电只有冰箱待机水平，疑似空置，请上门核查".into(),
        restricted: false,
        chart_svg: "<svg xmlns=\"http://www.w3.org/2000/svg\"/>".into(),
    };
    assert_eq!(s.file_power_alert(&alert).await.unwrap(), Filing::New);
    let filed = store
        .list(&redgrid_store::ListFilter::default(), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.channel == Channel::PowerAlert)
        .unwrap();
    // The grid worker of the grid, who must visit, sees the household's address; it is logged.
    let seen = s
        .view(&Fixture::actor(&f.grid_worker), filed.id, "api")
        .await
        .unwrap();
    assert_eq!(
        seen.request.location.address.as_deref(),
        Some("幸福里小区7号楼1单元302")
    );
    let log = store
        .access_log(&redgrid_store::AccessQuery {
            request: Some(filed.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].viewer_id, f.grid_worker.id);
    assert_eq!(log[0].subject_id, None, "a system alert has no requester");
    // A supervisor sees the place only to community level.
    let masked = s
        .view(&Fixture::actor(&f.supervisor), filed.id, "api")
        .await
        .unwrap();
    assert_eq!(masked.request.location.address, None);
    assert_eq!(
        store
            .access_log(&redgrid_store::AccessQuery {
                request: Some(filed.id),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn an_episode_files_one_request_that_hears_its_new_days_until_it_is_resolved(
    store: Arc<dyn Store>,
) {
    use redgrid_app::power_alerts::{Filing, PowerAlert};
    use redgrid_core::request::{AlertOutcome, EventBody, Status};
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let alert = |to: chrono::NaiveDate, severity: u8| PowerAlert {
        district: "120116".into(),
        detector: "routine".into(),
        meter: "3300000001".into(),
        grid_code: f.grid_a1_1.code.clone(),
        address: "幸福里小区3号楼2单元101".into(),
        day: to,
        since: day(20),
        ongoing: true,
        severity,
        reasons: vec!["no_morning".into()],
        reason_names: vec!["早间无用电活动".into()],
        description: "独居老人早上未见用电，请电话或上门确认".into(),
        restricted: true,
        chart_svg: "<svg xmlns=\"http://www.w3.org/2000/svg\"/>".into(),
    };
    let updates = |events: &[redgrid_core::request::Event]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::AlertUpdated { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        s.file_power_alert(&alert(day(21), 2)).await.unwrap(),
        Filing::New
    );
    let links = store.power_alert_links("120116").await.unwrap();
    assert_eq!(links.len(), 1);
    let id = links[0].request_id;
    // The same days again: nothing new, no event.
    assert_eq!(
        s.file_power_alert(&alert(day(21), 2)).await.unwrap(),
        Filing::Already
    );
    assert!(updates(&store.events(id).await.unwrap()).is_empty());
    // Two more days: the one request hears them, the link keeps the latest end.
    assert_eq!(
        s.file_power_alert(&alert(day(23), 2)).await.unwrap(),
        Filing::Updated
    );
    let said = updates(&store.events(id).await.unwrap());
    assert_eq!(said.len(), 1);
    assert!(
        said[0].contains("2026-11-20至2026-11-23共4天（早间无用电活动）")
            && said[0].contains("severity 2 (no_morning)"),
        "{said:?}"
    );
    assert!(!said[0].contains("升高"));
    // With the chart redrawn, which those who see the request may open.
    let charts: Vec<String> = store
        .events(id)
        .await
        .unwrap()
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::AlertUpdated { chart, .. } => chart.first().map(|a| a.id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(charts.len(), 1);
    assert!(
        s.may_see_attachment(&Fixture::actor(&f.grid_worker), &charts[0])
            .await
            .unwrap()
    );
    assert!(
        !s.may_see_attachment(&Fixture::actor(&f.resident), &charts[0])
            .await
            .unwrap(),
        "a routine alert is not for residents"
    );
    // The same days but worse: the severity rises, and says so.
    assert_eq!(
        s.file_power_alert(&alert(day(23), 3)).await.unwrap(),
        Filing::Updated
    );
    let said = updates(&store.events(id).await.unwrap());
    assert!(
        said.len() == 2 && said[1].contains("严重程度3（升高）"),
        "{said:?}"
    );
    let link = &store.power_alert_links("120116").await.unwrap()[0];
    assert_eq!((link.day, link.severity), (day(23), 3));
    // An older, milder view of the episode changes nothing.
    assert_eq!(
        s.file_power_alert(&alert(day(22), 1)).await.unwrap(),
        Filing::Already
    );
    assert_eq!(store.power_alert_links("120116").await.unwrap().len(), 1);
    // Handled to resolved: a later day is not added to a request whose check was done.
    let go = |who: &redgrid_core::person::Person, c: Command| {
        let s = &s;
        let actor = Fixture::actor(who);
        async move { s.run(id, &actor, &c, vec![], now()).await.unwrap() }
    };
    go(&f.grid_worker, f.accept_garbage()).await;
    go(
        &f.grid_worker,
        Command::Dispatch {
            unit_id: Some(f.unit_grid_a1_1.id),
        },
    )
    .await;
    go(&f.volunteer, Command::Claim {}).await;
    let (r, _) = go(
        &f.volunteer,
        Command::Resolve {
            public_summary: None,
            outcome: Some(AlertOutcome::FalseAlarm),
            summary: Some("老人在女儿家小住，已电话确认".into()),
            evidence: vec![],
            cost_fen: None,
        },
    )
    .await;
    assert_eq!(r.status, Status::Resolved);
    assert_eq!(
        s.file_power_alert(&alert(day(28), 3)).await.unwrap(),
        Filing::Already
    );
    assert_eq!(updates(&store.events(id).await.unwrap()).len(), 2);
    let link = &store.power_alert_links("120116").await.unwrap()[0];
    assert_eq!(link.day, day(23), "the link is not moved past the check");
    // A later episode of the same meter (another first day) is a new request.
    let mut next = alert(day(30), 2);
    next.since = day(30);
    assert_eq!(s.file_power_alert(&next).await.unwrap(), Filing::New);
    assert_eq!(store.power_alert_links("120116").await.unwrap().len(), 2);
    // The first episode found over after its check: the link learns the end, the request hears
    // nothing more.
    let mut over = alert(day(28), 3);
    over.ongoing = false;
    assert_eq!(s.file_power_alert(&over).await.unwrap(), Filing::Already);
    let links = store.power_alert_links("120116").await.unwrap();
    assert_eq!((links[0].day, links[0].ended), (day(23), Some(day(28))));
    assert_eq!(updates(&store.events(id).await.unwrap()).len(), 2);
    // The second found over while it is handled: its request hears it once, with its last day.
    let next_id = links[1].request_id;
    assert_eq!(links[1].ended, None);
    next.ongoing = false;
    assert_eq!(s.file_power_alert(&next).await.unwrap(), Filing::Ended);
    let said = updates(&store.events(next_id).await.unwrap());
    assert!(
        said.len() == 1
            && said[0].starts_with("预警结束：2026-11-30至2026-11-30共1天")
            && said[0].contains("the episode is over"),
        "{said:?}"
    );
    assert_eq!(
        store.power_alert_links("120116").await.unwrap()[1].ended,
        Some(day(30))
    );
    assert_eq!(s.file_power_alert(&next).await.unwrap(), Filing::Already);
    assert_eq!(updates(&store.events(next_id).await.unwrap()).len(), 1);
    // Another process finding the same end finds it claimed already.
    assert!(!store.claim_power_alert_end(next_id, day(30)).await.unwrap());
    // Going on again after all (a late file filled the days between): the request hears it and
    // the link is no longer over; its end, found again, is said again.
    next.ongoing = true;
    assert_eq!(s.file_power_alert(&next).await.unwrap(), Filing::Updated);
    assert_eq!(
        store.power_alert_links("120116").await.unwrap()[1].ended,
        None
    );
    next.ongoing = false;
    assert_eq!(s.file_power_alert(&next).await.unwrap(), Filing::Ended);
    let said = updates(&store.events(next_id).await.unwrap());
    assert!(
        said.len() == 3 && said[1].starts_with("预警持续") && said[2].starts_with("预警结束"),
        "{said:?}"
    );
    // An episode over before it was ever filed is filed as such, its link ended from the start.
    let mut past = alert(day(12), 1);
    past.since = day(10);
    past.ongoing = false;
    assert_eq!(s.file_power_alert(&past).await.unwrap(), Filing::New);
    let links = store.power_alert_links("120116").await.unwrap();
    assert_eq!(links[2].ended, Some(day(12)));
    assert_eq!(s.file_power_alert(&past).await.unwrap(), Filing::Already);
}
