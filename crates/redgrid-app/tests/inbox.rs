//! The inbox and notifications by SMS, on SQLite and PostgreSQL: a dispatch reaches the unit's
//! people unread, reading marks it, and the kinds a person chose also go by SMS through the queue;
//! and a power alert names its household to those who must visit it.

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
    run(
        &f.grid_worker,
        Command::Accept {
            public_summary: None,
            category_id: Some(f.cat_garbage.id),
            tier: None,
            urgent: None,
            level: None,
        },
    )
    .await;
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
        severity: 2,
        reasons: vec!["base_load_only".into()],
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
