//! Operating the embedded database (issue 21): the SQLite WAL stays bounded and is emptied when the
//! server is quiet or shuts down. How large it grows under load is measured by
//! `redgrid-bench intake`, which prints the largest WAL it saw.

use redgrid_app::service::now;
use redgrid_app::testing;
use redgrid_core::command::SubmitInput;
use redgrid_core::person::Actor;

fn input(area: redgrid_core::ids::AreaId) -> SubmitInput {
    SubmitInput {
        channel: Some(redgrid_core::request::Channel::App),
        description: Some("楼道灯不亮".into()),
        area_id: Some(area),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_quiet_sqlite_store_empties_its_wal_and_flush_empties_it_at_once() {
    let db = testing::sqlite().await.unwrap();
    let (service, f) = testing::seed(db.store.clone()).await.unwrap();
    let resident = Actor::Person(f.resident.clone());
    for _ in 0..20 {
        service
            .submit(&resident, &input(f.grid_a1_1.id), vec![], None, now())
            .await
            .unwrap();
    }
    assert!(
        db.store.wal_bytes().unwrap() > 0,
        "writes go to the WAL first"
    );
    // Flushing copies the WAL into the database file and empties it.
    db.store.flush().await.unwrap();
    assert_eq!(db.store.wal_bytes(), Some(0));
    // After more writes, a quiet second is enough for the background task to empty it.
    for _ in 0..5 {
        service
            .submit(&resident, &input(f.grid_a1_1.id), vec![], None, now())
            .await
            .unwrap();
    }
    assert!(db.store.wal_bytes().unwrap() > 0);
    let mut emptied = false;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if db.store.wal_bytes() == Some(0) {
            emptied = true;
            break;
        }
    }
    assert!(emptied, "the WAL is emptied within 4 s of the last write");
    // Nothing was lost on the way.
    let listed = service
        .list_visible(&Actor::System, &Default::default(), 100)
        .await
        .unwrap();
    assert_eq!(listed.len(), 25);
}

#[tokio::test]
async fn postgres_has_no_wal_to_report_and_flush_is_harmless() {
    let Some(db) = testing::postgres().await.unwrap() else {
        return;
    };
    assert_eq!(db.store.wal_bytes(), None);
    db.store.flush().await.unwrap();
}
