//! Day one of a real district, on SQLite and PostgreSQL: an empty database taken to a closed request
//! by the people whose roles it is, without the demo or any test fixture. Everything after the first
//! administrator (which `redgrid admin create` makes on the server's console) goes over the HTTP
//! API with session cookies and CSRF tokens, as browsers and apps send it:
//!
//! 1. the first administrator;
//! 2. areas, units and staff with roles imported from spreadsheets, and a catalogue item;
//! 3. a street's staff, after changing their one-time password, grant a volunteer;
//! 4. a resident signs up with the code from the log sender;
//! 5. the resident's request goes through every state to `closed`, each step by its role.

use axum::body::Body;
use axum::http::{Request as HttpRequest, StatusCode, header};
use http_body_util::BodyExt;
use redgrid_app::Service;
use redgrid_app::accounts::NewAdministrator;
use redgrid_app::testing;
use redgrid_core::command::Settings;
use redgrid_store::Store;
use redgrid_web::{AppState, router};
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

#[tokio::test]
async fn an_empty_database_to_a_closed_request_on_sqlite() {
    let db = testing::sqlite().await.unwrap();
    journey(db.store.clone()).await;
}

#[tokio::test]
async fn an_empty_database_to_a_closed_request_on_postgres() {
    let Some(db) = testing::postgres().await.unwrap() else {
        return;
    };
    journey(db.store.clone()).await;
}

/// A logged-in person: the session cookie and the CSRF token.
#[derive(Clone)]
struct Session {
    cookie: String,
    csrf: String,
}

struct Client {
    router: axum::Router,
    state: Arc<AppState>,
}

struct Answer {
    status: StatusCode,
    body: Value,
    cookie: Option<String>,
}

impl Client {
    async fn send(
        &self,
        method: &str,
        uri: &str,
        who: Option<&Session>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let mut b = HttpRequest::builder().method(method).uri(uri);
        if let Some(s) = who {
            b = b
                .header(header::COOKIE, &s.cookie)
                .header("x-csrf-token", &s.csrf);
        }
        if !body.is_empty() {
            b = b.header(header::CONTENT_TYPE, content_type);
        }
        let res = self
            .router
            .clone()
            .oneshot(b.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let cookie = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("redgrid_session=") && !c.starts_with("redgrid_session=;"))
            .map(|c| c.split(';').next().unwrap_or_default().to_string());
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            cookie,
        }
    }

    async fn json(&self, uri: &str, who: Option<&Session>, body: Value) -> Answer {
        self.send(
            "POST",
            uri,
            who,
            "application/json",
            body.to_string().into_bytes(),
        )
        .await
    }

    /// Logs in; a one-time password is changed first (to `new`), and the person logs in again.
    async fn login(&self, login: &str, password: &str, new: &str) -> Session {
        let r = self
            .json(
                "/api/login",
                None,
                json!({"login": login, "password": password}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "login {login}: {}", r.body);
        let s = Session {
            cookie: r.cookie.expect("a session cookie"),
            csrf: r.body["csrf_token"].as_str().unwrap().to_string(),
        };
        if r.body["must_change"] == true {
            let changed = self
                .json(
                    "/api/me/password",
                    Some(&s),
                    json!({"current_password": password, "new_password": new}),
                )
                .await;
            assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
            return Box::pin(self.login(login, new, new)).await;
        }
        s
    }

    async fn import(&self, admin: &Session, register: &str, csv: &str) -> Value {
        let r = self
            .send(
                "POST",
                &format!("/api/org/{register}/import"),
                Some(admin),
                "text/csv",
                csv.replace('\n', "\r\n").into_bytes(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{register}: {}", r.body);
        assert_eq!(r.body["imported"], true, "{register}: {}", r.body);
        r.body
    }

    async fn step(&self, id: i64, command: &str, who: &Session, body: Value) -> Value {
        let r = self
            .json(&format!("/api/requests/{id}/{command}"), Some(who), body)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{command}: {}", r.body);
        r.body
    }
}

const AREAS: &str = "区划代码,名称
120116001,泰达街道
120116001001,幸福里社区
12011600100101,幸福里第一网格";

const UNITS: &str = "单位编码,单位名称,单位类型,所在区划代码,处置层级
U-TD,泰达街道办事处,街镇,120116001,
U-XFL,幸福里社区居委会,社区（村）,120116001001,
U-XFL-G1,幸福里第一网格服务队,网格,12011600100101,";

const STAFF: &str = "姓名,手机号,角色,区划代码,单位编码
冯街道,13700000001,街镇工作人员,120116001,
郑社区,13700000002,社区工作人员,120116001001,
吴网格,13700000003,网格员,12011600100101,
吴网格,13700000003,网格员,,U-XFL-G1
钱书记,13700000004,党组织验单人,120116001001,";

async fn journey(store: Arc<dyn Store>) {
    // 1. The first administrator, as `redgrid admin create` makes them on an empty database.
    // As `serve` runs it: deadlines in working time (Monday–Friday without a calendar file).
    let calendar = redgrid_core::calendar::Calendar::new(vec![]);
    let service = Service::new(store.clone(), Settings::default())
        .await
        .unwrap()
        .with_deadlines(Arc::new(redgrid_core::deadline::WorkingTimePolicy::new(
            calendar,
        )));
    let (admin, district) = service
        .create_administrator(&NewAdministrator {
            name: "区委组织部管理员".into(),
            username: "admin".into(),
            phone: None,
            password: "first-admin-pw-2026".into(),
            must_change: false,
            district: Some(("120116".into(), "滨海新区".into())),
            auditor: false,
        })
        .await
        .unwrap();
    assert_eq!(district.code, "120116");
    let state = Arc::new(AppState::new(Arc::new(service)));
    let c = Client {
        router: router(state.clone()),
        state,
    };
    let admin_s = c.login("admin", "first-admin-pw-2026", "").await;
    let me = c.send("GET", "/api/me", Some(&admin_s), "", vec![]).await;
    assert_eq!(me.body["id"], admin.id.0, "{}", me.body);

    // 2. Areas, units and staff from spreadsheets; a catalogue item.
    c.import(&admin_s, "areas", AREAS).await;
    c.import(&admin_s, "units", UNITS).await;
    let staff = c.import(&admin_s, "staff", STAFF).await;
    let logins: Vec<(String, String)> = staff["logins"]
        .as_array()
        .expect("one-time logins")
        .iter()
        .map(|l| {
            (
                l["phone"].as_str().unwrap().to_string(),
                l["one_time_password"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(logins.len(), 4, "one login per person");
    let first_pw = |phone: &str| {
        logins
            .iter()
            .find(|(p, _)| p == phone)
            .map(|(_, pw)| pw.clone())
            .unwrap()
    };
    let class = c
        .json(
            "/api/categories/classes",
            Some(&admin_s),
            json!({"code": "environment", "name_zh": "环境卫生", "name_en": "Environment"}),
        )
        .await;
    assert_eq!(class.status, StatusCode::CREATED, "{}", class.body);
    let item = c
        .json(
            "/api/categories/items",
            Some(&admin_s),
            json!({"class_id": class.body["id"], "code": "environment.lights", "name_zh": "楼道照明",
                   "name_en": "Stairwell lights", "default_tier": "minor", "default_level": "grid"}),
        )
        .await;
    assert_eq!(item.status, StatusCode::CREATED, "{}", item.body);
    let category = item.body["id"].as_i64().unwrap();
    let areas = c
        .send("GET", "/api/areas", Some(&admin_s), "", vec![])
        .await;
    let area_id = |code: &str| {
        areas
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["code"] == code)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let grid = area_id("12011600100101");
    let units = c
        .send("GET", "/api/units", Some(&admin_s), "", vec![])
        .await;
    let grid_unit = units
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == "U-XFL-G1")
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    // 3. The street's staff log in (changing the one-time password) and grant a volunteer to the
    //    grid's team; the volunteer logs in the same way.
    let street = c
        .login("13700000001", &first_pw("13700000001"), "street-pw-2026")
        .await;
    let granted = c
        .json(
            "/api/grants",
            Some(&street),
            json!({"phone": "13700000009", "name": "赵志愿", "role": "volunteer", "unit_id": grid_unit}),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    let volunteer_pw = granted.body["one_time_password"]
        .as_str()
        .unwrap()
        .to_string();
    let volunteer = c
        .login("13700000009", &volunteer_pw, "volunteer-pw-2026")
        .await;
    let grid_worker = c
        .login("13700000003", &first_pw("13700000003"), "grid-pw-2026")
        .await;
    let verifier = c
        .login("13700000004", &first_pw("13700000004"), "verifier-pw-2026")
        .await;

    // 4. A resident signs up with the code the log sender shows.
    let sent = c
        .json("/api/signup/code", None, json!({"phone": "13900001111"}))
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    let code = redgrid_app::testing::sms_code(&c.state.service, "13900001111").await;
    let signed = c
        .json(
            "/api/signup",
            None,
            json!({"phone": "13900001111", "code": code, "password": "resident-pw-2026", "name": "孙阿姨"}),
        )
        .await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.body);
    let resident = Session {
        cookie: signed.cookie.expect("a session"),
        csrf: signed.body["csrf_token"].as_str().unwrap().to_string(),
    };
    let home = c
        .send(
            "PUT",
            "/api/me/home",
            Some(&resident),
            "application/json",
            json!({"area_id": grid}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(home.status, StatusCode::NO_CONTENT, "{}", home.body);

    // 5. The request, through every state to closed, each step by its role.
    let filed = c
        .json(
            "/api/requests",
            Some(&resident),
            json!({"channel": "app", "description": "3号楼楼道灯坏了", "area_id": grid,
                   "address": "幸福里3号楼2单元"}),
        )
        .await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.body);
    let id = filed.body["id"].as_i64().unwrap();
    c.step(id, "accept", &grid_worker, json!({"category_id": category}))
        .await;
    c.step(id, "dispatch", &grid_worker, json!({"unit_id": grid_unit}))
        .await;
    c.step(id, "claim", &volunteer, json!({})).await;
    c.step(
        id,
        "note",
        &volunteer,
        json!({"text": "已电话联系孙阿姨", "contact_made": true}),
    )
    .await;
    c.step(
        id,
        "resolve",
        &volunteer,
        json!({"summary": "已更换楼道灯"}),
    )
    .await;
    c.step(id, "verify", &verifier, json!({"passed": true}))
        .await;
    let rated = c
        .step(
            id,
            "rate",
            &resident,
            json!({"resolved": true, "satisfaction": "satisfied"}),
        )
        .await;
    assert_eq!(rated["request"]["status"], "closed");
    assert!(
        rated["request"]["resolve_due_at"].is_string(),
        "deadlines were set"
    );
    // Nobody else did any step: the timeline names each actor's role.
    let timeline = c
        .send(
            "GET",
            &format!("/api/requests/{id}"),
            Some(&resident),
            "",
            vec![],
        )
        .await;
    let roles: Vec<&str> = timeline.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"]["role"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        roles,
        [
            "resident",
            "grid_worker",
            "grid_worker",
            "volunteer",
            "volunteer",
            "volunteer",
            "verifier",
            "resident"
        ],
        "{}",
        timeline.body
    );
}
