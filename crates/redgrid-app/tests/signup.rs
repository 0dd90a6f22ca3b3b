//! Residents signing up with a phone, an SMS code and a password, on SQLite and PostgreSQL: the
//! code from the log sender, the limits (429 with a wait), the lock after five wrong codes, claiming
//! a record a hotline operator made, and the same answers whether or not the phone is known.

use chrono::Duration;
use redgrid_app::Service;
use redgrid_app::service::now;
use redgrid_app::signup::SignUp;
use redgrid_app::testing::{self, Fixture};
use redgrid_core::error::{CoreError, Limit};
use redgrid_core::person::Role;
use redgrid_store::{Change, NewPerson, PhoneCode, Store, StoreError};
use std::sync::Arc;

redgrid_app::both_backends!(
    a_staff_account_is_not_reset_by_a_text_message_alone,
    guesses_sent_at_once_are_all_counted_and_the_fifth_spends_the_code,
    a_resident_signs_up_with_the_code_from_the_log_sender,
    codes_are_limited_per_phone_and_per_address,
    five_wrong_codes_lock_the_phone,
    a_known_phone_claims_its_record_and_answers_look_the_same,
    bad_input_is_refused_at_its_field_and_writes_nothing,
    the_home_grid_is_a_grid_or_a_community,
);

const PASSWORD: &str = "signup-pw-2026";

/// The code in the newest message to `phone`.
async fn code_for(s: &Service, phone: &str) -> String {
    let code = redgrid_app::testing::sms_code(s, phone).await;
    assert_eq!(code.len(), 6, "no code sent to {phone}");
    code
}

fn form(phone: &str, code: &str) -> SignUp {
    SignUp {
        phone: phone.into(),
        code: code.into(),
        password: PASSWORD.into(),
        name: Some("林居民".into()),
    }
}

fn limit(e: StoreError) -> (Limit, i64) {
    match e {
        StoreError::Core(CoreError::TooMany { limit, retry_after }) => (limit, retry_after),
        other => panic!("expected 429, got {other:?}"),
    }
}

fn field(e: StoreError) -> Vec<(String, &'static str)> {
    match e {
        StoreError::Core(CoreError::Validation(f)) => {
            f.into_iter().map(|f| (f.field, f.code)).collect()
        }
        other => panic!("expected invalid fields, got {other:?}"),
    }
}

async fn a_resident_signs_up_with_the_code_from_the_log_sender(store: Arc<dyn Store>) {
    let (s, _f) = testing::seed(store.clone()).await.unwrap();
    s.send_signup_code("139 0001 0001", "10.0.0.1")
        .await
        .unwrap();
    let code = code_for(&s, "13900010001").await;
    let session = s.sign_up(&form("13900010001", &code), 1).await.unwrap();
    assert!(!session.must_change);
    assert_eq!(session.person.name, "林居民");
    assert_eq!(session.person.roles(), [Role::Resident]);
    // The password works from now on; the code does not work twice.
    s.login("13900010001", PASSWORD, 1).await.unwrap();
    let again = s.sign_up(&form("13900010001", &code), 1).await.unwrap_err();
    assert_eq!(field(again), [("code".to_string(), "wrong_code")]);
}

async fn codes_are_limited_per_phone_and_per_address(store: Arc<dyn Store>) {
    let (s, _f) = testing::seed(store.clone()).await.unwrap();
    s.send_signup_code("13900020001", "10.0.0.2").await.unwrap();
    // A second code within the minute: 429, with the wait.
    let (what, wait) = limit(
        s.send_signup_code("13900020001", "10.0.0.2")
            .await
            .unwrap_err(),
    );
    assert_eq!(what, Limit::Codes);
    assert!((1..=60).contains(&wait), "{wait}");
    // Five in the last hour (sent earlier): the sixth waits for the oldest to be an hour old.
    let at = now();
    for minutes in [50, 40, 30, 20] {
        store
            .record_phone_code(&PhoneCode {
                id: 0,
                phone: "13900020002".into(),
                address: "10.0.0.3".into(),
                code_hash: "x".into(),
                sent_at: at - Duration::minutes(minutes),
                expires_at: at - Duration::minutes(minutes - 10),
                used_at: None,
            })
            .await
            .unwrap();
    }
    s.send_signup_code("13900020002", "10.0.0.3").await.unwrap();
    store
        .record_phone_code(&PhoneCode {
            id: 0,
            phone: "13900020002".into(),
            address: "10.0.0.3".into(),
            code_hash: "x".into(),
            sent_at: at - Duration::minutes(55),
            expires_at: at - Duration::minutes(45),
            used_at: None,
        })
        .await
        .unwrap();
    let (what, wait) = limit(
        s.send_signup_code("13900020002", "10.0.0.3")
            .await
            .unwrap_err(),
    );
    assert_eq!(what, Limit::Codes);
    assert!(wait > 60, "waits for the hour, not the minute: {wait}");
    // Twenty from one address, to twenty phones: the twenty-first is refused.
    for n in 0..20 {
        s.send_signup_code(&format!("139000300{n:02}"), "10.0.0.4")
            .await
            .unwrap();
    }
    let (what, _) = limit(
        s.send_signup_code("13900040000", "10.0.0.4")
            .await
            .unwrap_err(),
    );
    assert_eq!(what, Limit::Codes);
    // Another address is not held back.
    s.send_signup_code("13900040000", "10.0.0.5").await.unwrap();
}

async fn five_wrong_codes_lock_the_phone(store: Arc<dyn Store>) {
    let (s, _f) = testing::seed(store.clone()).await.unwrap();
    s.send_signup_code("13900050001", "10.0.0.6").await.unwrap();
    let code = code_for(&s, "13900050001").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        let e = s.sign_up(&form("13900050001", wrong), 1).await.unwrap_err();
        assert_eq!(field(e), [("code".to_string(), "wrong_code")]);
    }
    let (what, wait) = limit(s.sign_up(&form("13900050001", wrong), 1).await.unwrap_err());
    assert_eq!(what, Limit::Tries);
    assert!(wait > 14 * 60, "locked for 15 minutes: {wait}");
    // Locked: even the right code, and new codes, wait.
    let (what, _) = limit(s.sign_up(&form("13900050001", &code), 1).await.unwrap_err());
    assert_eq!(what, Limit::Tries);
    let (what, _) = limit(
        s.send_signup_code("13900050001", "10.0.0.7")
            .await
            .unwrap_err(),
    );
    assert_eq!(what, Limit::Tries);
    assert!(
        store
            .person_by_phone("13900050001")
            .await
            .unwrap()
            .is_none()
    );
    // An expired code is wrong too.
    let at = now();
    store
        .record_phone_code(&PhoneCode {
            id: 0,
            phone: "13900050002".into(),
            address: "10.0.0.8".into(),
            code_hash: redgrid_store::sha256_hex(b"13900050002:123456"),
            sent_at: at - Duration::minutes(11),
            expires_at: at - Duration::minutes(1),
            used_at: None,
        })
        .await
        .unwrap();
    let e = s
        .sign_up(&form("13900050002", "123456"), 1)
        .await
        .unwrap_err();
    assert_eq!(field(e), [("code".to_string(), "wrong_code")]);
}

async fn a_known_phone_claims_its_record_and_answers_look_the_same(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    // A hotline operator's record of a caller: a person without a login or a role.
    let caller = store
        .create_person(
            NewPerson {
                name: "何大爷".into(),
                phone: Some("13900060001".into()),
                grants: vec![],
            },
            Change::system(),
        )
        .await
        .unwrap();
    s.send_signup_code("13900060001", "10.0.1.1").await.unwrap();
    let code = code_for(&s, "13900060001").await;
    let session = s.sign_up(&form("13900060001", &code), 1).await.unwrap();
    assert_eq!(
        session.person.id, caller.id,
        "the record is claimed, not copied"
    );
    assert_eq!(
        session.person.name, "何大爷",
        "a known person keeps their name"
    );
    assert_eq!(session.person.roles(), [Role::Resident]);
    // A phone with a login: the same answers, and the code sets a new password.
    let phone = f.resident.phone.clone().unwrap();
    s.send_signup_code(&phone, "10.0.1.2").await.unwrap();
    let code = code_for(&s, &phone).await;
    let session = s.sign_up(&form(&phone, &code), 1).await.unwrap();
    assert_eq!(session.person.id, f.resident.id);
    s.login(&phone, PASSWORD, 1).await.unwrap();
}

async fn bad_input_is_refused_at_its_field_and_writes_nothing(store: Arc<dyn Store>) {
    let (s, _f) = testing::seed(store.clone()).await.unwrap();
    let head = store.audit_head().await.unwrap();
    assert_eq!(
        field(s.send_signup_code("12345", "10.0.2.1").await.unwrap_err()),
        [("phone".to_string(), "invalid")]
    );
    assert_eq!(
        field(s.send_signup_code(" ", "10.0.2.1").await.unwrap_err()),
        [("phone".to_string(), "required")]
    );
    let weak = SignUp {
        password: "short".into(),
        ..form("13900070001", "")
    };
    let fields = field(s.sign_up(&weak, 1).await.unwrap_err());
    assert!(fields.iter().any(|(f, _)| f == "code"), "{fields:?}");
    assert!(fields.iter().any(|(f, _)| f == "password"), "{fields:?}");
    let long_name = SignUp {
        name: Some("名".repeat(51)),
        ..form("13900070001", "123456")
    };
    assert_eq!(
        field(s.sign_up(&long_name, 1).await.unwrap_err()),
        [("name".to_string(), "too_long")]
    );
    assert!(
        store
            .person_by_phone("13900070001")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.audit_head().await.unwrap(), head);
}

async fn the_home_grid_is_a_grid_or_a_community(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let me = Fixture::actor(&f.resident);
    s.set_home_area(&me, f.grid_a1_1.id).await.unwrap();
    assert_eq!(
        store.home_area(f.resident.id).await.unwrap(),
        Some(f.grid_a1_1.id)
    );
    assert_eq!(
        field(s.set_home_area(&me, f.street_a.id).await.unwrap_err()),
        [("area_id".to_string(), "wrong_level")]
    );
    assert_eq!(
        field(
            s.set_home_area(&me, redgrid_core::ids::AreaId(999_999))
                .await
                .unwrap_err()
        ),
        [("area_id".to_string(), "unknown")]
    );
}

async fn a_staff_account_is_not_reset_by_a_text_message_alone(store: Arc<dyn Store>) {
    let (s, f) = testing::seed(store.clone()).await.unwrap();
    let phone = f.grid_worker.phone.clone().unwrap();
    // The grid worker has a login (the fixture's tokens need none, so give one).
    s.set_login(
        &redgrid_core::person::Actor::System,
        f.grid_worker.id,
        Some("grid.worker"),
        "grid-worker-pw-2026",
        false,
    )
    .await
    .unwrap();
    s.send_signup_code(&phone, "10.3.3.3").await.unwrap();
    let code = code_for(&s, &phone).await;
    let e = s.sign_up(&form(&phone, &code), 1).await.unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Core(CoreError::Forbidden(
                redgrid_core::error::Denial::ResetByAdministrator
            ))
        ),
        "{e:?}"
    );
    // The old password still works; the new one does not.
    s.login("grid.worker", "grid-worker-pw-2026", 1)
        .await
        .unwrap();
    assert!(s.login(&phone, PASSWORD, 1).await.is_err());
}

async fn guesses_sent_at_once_are_all_counted_and_the_fifth_spends_the_code(store: Arc<dyn Store>) {
    let (s, _f) = testing::seed(store.clone()).await.unwrap();
    let s = Arc::new(s);
    s.send_signup_code("13900055001", "10.4.4.4").await.unwrap();
    let code = code_for(&s, "13900055001").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let tries: Vec<_> = (0..12)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.sign_up(&form("13900055001", wrong), 1).await })
        })
        .collect();
    for t in tries {
        assert!(t.await.unwrap().is_err());
    }
    // However they raced, the phone is locked and the code is spent.
    let (_, locked) = store.phone_lock("13900055001").await.unwrap();
    assert!(locked.is_some());
    let latest = store
        .latest_phone_code("13900055001")
        .await
        .unwrap()
        .unwrap();
    assert!(latest.used_at.is_some(), "the code is spent");
}
