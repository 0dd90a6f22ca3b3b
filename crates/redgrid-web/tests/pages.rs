//! The web pages through the router (no socket), on SQLite: logging in, filing (with its refusals and
//! a double submit), every step of a request's life through the forms, the queue's bulk dispatch, the
//! public lists, the language switch, and the refusals each page must show readably.

use axum::body::Body;
use axum::http::{Request as HttpRequest, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use http_body_util::BodyExt;
use redgrid_app::testing::{self, Fixture};
use redgrid_core::area::Level;
use redgrid_core::command::{Command, SubmitInput};
use redgrid_core::ids::{RequestId, UnitId};
use redgrid_core::person::{Actor, Grant, Person, Role, Scope};
use redgrid_core::request::{Channel, Status};
use redgrid_web::{AppState, router};
use std::sync::Arc;
use tower::ServiceExt;

const PASSWORD: &str = "page-test-pw-2026";

struct App {
    router: axum::Router,
    state: Arc<AppState>,
    f: Fixture,
    db: testing::TestDb,
}

struct Page {
    status: StatusCode,
    html: String,
    location: String,
    cookies: Vec<String>,
}

impl Page {
    /// The value of the first hidden input named `name`.
    fn hidden(&self, name: &str) -> String {
        let needle = format!("name=\"{name}\" value=\"");
        let start = self
            .html
            .find(&needle)
            .unwrap_or_else(|| panic!("no {name} in page"))
            + needle.len();
        let end = self.html[start..].find('"').unwrap() + start;
        self.html[start..end].to_string()
    }

    /// The error shown next to field `id` (`<p class="error" id="{id}-e">`), if any.
    fn field_error(&self, id: &str) -> Option<String> {
        let needle = format!("id=\"{id}-e\">");
        let start = self.html.find(&needle)? + needle.len();
        let end = self.html[start..].find('<')? + start;
        Some(self.html[start..end].to_string())
    }
}

async fn app() -> App {
    app_with(false).await
}

/// The pages over the fixture district; with `deadlines`, the service computes deadlines at dispatch
/// (in working time), so that a request dispatched long ago shows red.
async fn app_with(deadlines: bool) -> App {
    let db = testing::sqlite().await.unwrap();
    let (service, f) = testing::seed(db.store.clone()).await.unwrap();
    let service = if deadlines {
        redgrid_app::Service::new(db.store.clone(), redgrid_core::command::Settings::default())
            .await
            .unwrap()
            .with_deadlines(Arc::new(redgrid_core::deadline::WorkingTimePolicy::new(
                redgrid_core::calendar::Calendar::new(vec![]),
            )))
    } else {
        service
    };
    for (p, user) in [
        (&f.resident, "resident"),
        (&f.other_resident, "other"),
        (&f.grid_worker, "grid"),
        (&f.community_staff, "community"),
        (&f.street_staff, "street"),
        (&f.volunteer, "volunteer"),
        (&f.verifier, "verifier"),
        (&f.supervisor, "supervisor"),
        (&f.admin, "admin"),
        (&f.auditor, "auditor"),
        (&f.dept_staff, "dept"),
        (&f.community_staff_b, "community_b"),
    ] {
        service
            .set_login(&Actor::System, p.id, Some(user), PASSWORD, false)
            .await
            .unwrap();
    }
    let state = Arc::new(AppState::new(Arc::new(service)));
    App {
        router: router(state.clone()),
        state,
        f,
        db,
    }
}

impl App {
    async fn send(&self, req: HttpRequest<Body>) -> Page {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let cookies = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            html: String::from_utf8_lossy(&bytes).to_string(),
            location,
            cookies,
        }
    }

    async fn get(&self, path: &str, cookie: &str) -> Page {
        let req = HttpRequest::get(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap();
        self.send(req).await
    }

    async fn post(&self, path: &str, cookie: &str, form: &[(&str, &str)]) -> Page {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        let req = HttpRequest::post(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.join("&")))
            .unwrap();
        self.send(req).await
    }

    async fn post_multipart(
        &self,
        path: &str,
        cookie: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, &[u8])>,
    ) -> Page {
        let boundary = "----redgridtestboundary";
        let mut body: Vec<u8> = Vec::new();
        for (k, v) in fields {
            body.extend(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((name, ctype, data)) = file {
            body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"upload\"\r\nContent-Type: {ctype}\r\n\r\n").as_bytes());
            body.extend(data);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{boundary}--\r\n").as_bytes());
        let req = HttpRequest::post(path)
            .header(header::COOKIE, cookie)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// Logs in through the page and returns the session cookie.
    async fn login(&self, user: &str) -> String {
        let p = self
            .post(
                "/login",
                "",
                &[("login", user), ("password", PASSWORD), ("next", "/")],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "login {user}: {}", p.html);
        let c = p
            .cookies
            .iter()
            .find(|c| c.starts_with("redgrid_session="))
            .expect("a session cookie");
        c.split(';').next().unwrap().to_string()
    }

    async fn csrf(&self, cookie: &str) -> String {
        self.get("/file", cookie).await.hidden("_csrf")
    }

    async fn count(&self) -> i64 {
        self.db
            .store
            .count(&redgrid_store::ListFilter::default())
            .await
            .unwrap()
    }

    async fn status_of(&self, id: i64) -> Status {
        self.db
            .store
            .request(redgrid_core::ids::RequestId(id))
            .await
            .unwrap()
            .unwrap()
            .status
    }

    /// Runs a command through its form and expects the redirect back to the request.
    async fn step(&self, id: i64, command: &str, cookie: &str, fields: &[(&str, &str)]) {
        let csrf = self.csrf(cookie).await;
        let mut form = vec![("_csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let p = self
            .post(&format!("/requests/{id}/{command}"), cookie, &form)
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{command}: {}", p.html);
        assert_eq!(p.location, format!("/requests/{id}?done={command}"));
    }

    /// A person with these grants and a login `user`.
    async fn person(&self, user: &str, phone: &str, grants: Vec<Grant>) -> Person {
        let p = self
            .db
            .store
            .create_person(
                redgrid_store::NewPerson {
                    name: format!("测试{user}"),
                    phone: Some(phone.into()),
                    grants,
                },
                redgrid_store::Change::system(),
            )
            .await
            .unwrap();
        self.state
            .service
            .set_login(&Actor::System, p.id, Some(user), PASSWORD, false)
            .await
            .unwrap();
        p
    }

    /// Runs a command through the service at `at` (to put a request's history in the past).
    async fn run_at(&self, id: i64, who: &Person, cmd: Command, at: DateTime<Utc>) {
        self.state
            .service
            .run(RequestId(id), &Actor::Person(who.clone()), &cmd, vec![], at)
            .await
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    }

    /// A request filed by the resident through the service at `at` (in grid a1-1, garbage).
    async fn file_at(&self, description: &str, at: DateTime<Utc>) -> i64 {
        let input = SubmitInput {
            channel: Some(Channel::Web),
            description: Some(description.into()),
            area_id: Some(self.f.grid_a1_1.id),
            category_id: Some(self.f.cat_garbage.id),
            ..Default::default()
        };
        let (r, _) = self
            .state
            .service
            .submit(&Fixture::actor(&self.f.resident), &input, vec![], None, at)
            .await
            .unwrap();
        r.id.0
    }

    /// Filed, accepted at `level` and dispatched to `unit` at `at`.
    async fn dispatched_at(
        &self,
        description: &str,
        level: Level,
        unit: UnitId,
        at: DateTime<Utc>,
    ) -> i64 {
        let id = self.file_at(description, at).await;
        let accepter = if level == Level::District {
            &self.f.admin
        } else {
            &self.f.grid_worker
        };
        self.run_at(
            id,
            accepter,
            Command::Accept {
                public_summary: None,
                category_id: None,
                tier: None,
                urgent: None,
                level: Some(level),
            },
            at,
        )
        .await;
        let dispatcher = match level {
            Level::Grid => &self.f.grid_worker,
            Level::Community => &self.f.community_staff,
            Level::Street => &self.f.street_staff,
            Level::District => &self.f.admin,
        };
        self.run_at(
            id,
            dispatcher,
            Command::Dispatch {
                unit_id: Some(unit),
            },
            at,
        )
        .await;
        id
    }

    /// Posts a command's form and returns the page (a refusal is the request page again, 422).
    async fn command(&self, id: i64, command: &str, cookie: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf(cookie).await;
        let mut form = vec![("_csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(&format!("/requests/{id}/{command}"), cookie, &form)
            .await
    }

    async fn file(&self, cookie: &str, description: &str, category: Option<i64>) -> i64 {
        let csrf = self.csrf(cookie).await;
        let area = self.f.grid_a1_1.id.0.to_string();
        let cat = category.map(|c| c.to_string()).unwrap_or_default();
        let p = self
            .post_multipart(
                "/file",
                cookie,
                &[
                    ("_csrf", &csrf),
                    ("key", &format!("k-{}", enc(description))),
                    ("description", description),
                    ("area_id", &area),
                    ("category_id", &cat),
                ],
                None,
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
        p.location
            .trim_start_matches("/requests/")
            .split('?')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn no_trace(p: &Page) {
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "sqlx::",
        "StoreError",
        "at src/",
    ] {
        assert!(!p.html.contains(bad), "a trace leaked: {bad}");
    }
}

#[tokio::test]
async fn people_land_on_their_own_work_after_logging_in() {
    let a = app().await;
    for (user, lands) in [
        ("resident", "/mine"),
        ("grid", "/queue"),
        ("community", "/queue"),
        ("volunteer", "/queue"),
        ("verifier", "/verify"),
        ("supervisor", "/redlist"),
        ("admin", "/queue"),
    ] {
        let p = a
            .post(
                "/login",
                "",
                &[("login", user), ("password", PASSWORD), ("next", "/")],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{user}: {}", p.html);
        assert_eq!(p.location, lands, "{user}");
    }
    // A page asked for is where one goes.
    let p = a
        .post(
            "/login",
            "",
            &[
                ("login", "grid"),
                ("password", PASSWORD),
                ("next", "/public/needs"),
            ],
        )
        .await;
    assert_eq!(p.location, "/public/needs");
}

#[tokio::test]
async fn the_home_page_explains_filing_following_and_rating_without_login() {
    let a = app().await;
    let p = a.get("/", "").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("<html lang=\"zh-CN\">"));
    for words in ["我要点单", "我的诉求", "评单", "/public/needs", "/login"] {
        assert!(p.html.contains(words), "{words}");
    }
    // Assets are embedded and served with their types; nothing comes from elsewhere.
    let css = a.get("/static/app.css", "").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.html.contains("--red"));
    let js = a.get("/static/app.js", "").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(!p.html.contains("http://") && !p.html.contains("https://"));
}

#[tokio::test]
async fn pages_that_need_a_login_send_people_to_log_in_and_back() {
    let a = app().await;
    for path in [
        "/file",
        "/mine",
        "/queue",
        "/verify",
        "/redlist",
        "/dashboard",
        "/org",
    ] {
        let p = a.get(path, "").await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            p.location.starts_with("/login?next="),
            "{path}: {}",
            p.location
        );
    }
    // A wrong password: the page again, with the login kept and a readable message.
    let p = a
        .post(
            "/login",
            "",
            &[("login", "resident"), ("password", "wrong-password-9")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.html.contains("value=\"resident\""));
    assert!(p.html.contains("role=\"alert\""));
    no_trace(&p);
    // Empty fields are refused before any check.
    let p = a
        .post("/login", "", &[("login", ""), ("password", "")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Only same-site addresses are followed after logging in.
    let p = a
        .post(
            "/login",
            "",
            &[
                ("login", "resident"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(
        p.location, "/mine",
        "never elsewhere: the resident's own page instead"
    );
    // Unknown pages are pages, unknown API paths JSON.
    let p = a.get("/no-such-page", "").await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.html.contains("<!doctype html>"));
    let p = a.get("/api/no-such-endpoint", "").await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.html.starts_with('{'));
}

#[tokio::test]
async fn filing_keeps_what_was_typed_on_a_refusal_and_files_once_on_a_double_submit() {
    let a = app().await;
    let resident = a.login("resident").await;
    let form = a.get("/file", &resident).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains("<label for=\"file-description\">"));
    let csrf = form.hidden("_csrf");
    let key = form.hidden("key");
    let area = a.f.grid_a1_1.id.0.to_string();
    let before = a.count().await;

    // No description: refused next to the field; the place and the address stay as typed.
    let p = a
        .post_multipart(
            "/file",
            &resident,
            &[
                ("_csrf", &csrf),
                ("key", &key),
                ("description", "  "),
                ("area_id", &area),
                ("address", "3号楼2单元"),
            ],
            None,
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("file-description").is_some(), "{}", p.html);
    assert!(
        p.html
            .contains(&format!("<option value=\"{area}\" selected>"))
    );
    assert!(p.html.contains("value=\"3号楼2单元\""));
    no_trace(&p);
    assert_eq!(a.count().await, before);

    // No place: shown in English when the page is English; an unknown category: shown too.
    let p = a
        .post_multipart(
            "/file",
            &format!("{resident}; redgrid_lang=en"),
            &[("_csrf", &csrf), ("key", &key), ("description", "路灯不亮")],
            None,
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        p.field_error("file-area_id").as_deref(),
        Some("is required")
    );
    assert!(p.html.contains("<html lang=\"en\">"));
    let p = a
        .post_multipart(
            "/file",
            &resident,
            &[
                ("_csrf", &csrf),
                ("key", &key),
                ("description", "路灯不亮"),
                ("area_id", &area),
                ("category_id", "999999"),
            ],
            None,
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("file-category_id").is_some());
    assert_eq!(a.count().await, before);

    // A photo of the wrong type is refused and nothing is filed.
    let p = a
        .post_multipart(
            "/file",
            &resident,
            &[
                ("_csrf", &csrf),
                ("key", &key),
                ("description", "路灯不亮"),
                ("area_id", &area),
            ],
            Some(("photo", "application/x-msdownload", b"MZ...")),
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("file-photo").is_some(), "{}", p.html);
    assert!(
        p.html
            .contains("aria-invalid=\"true\" aria-describedby=\"file-photo-e\"")
    );
    assert_eq!(a.count().await, before);

    // Without the form's CSRF token: refused, nothing filed.
    let p = a
        .post_multipart(
            "/file",
            &resident,
            &[
                ("_csrf", "forged"),
                ("key", &key),
                ("description", "路灯不亮"),
                ("area_id", &area),
            ],
            None,
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(a.count().await, before);

    // A good form with a photo and a suggested category; sent twice, it files one request.
    let cat = a.f.cat_garbage.id.0.to_string();
    let png = b"\x89PNG\r\n\x1a\n0000";
    let fields = [
        ("_csrf", csrf.as_str()),
        ("key", key.as_str()),
        ("description", "楼下垃圾三天没人清运"),
        ("area_id", area.as_str()),
        ("category_id", cat.as_str()),
    ];
    let first = a
        .post_multipart(
            "/file",
            &resident,
            &fields,
            Some(("photo", "image/png", png)),
        )
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.html);
    let second = a
        .post_multipart(
            "/file",
            &resident,
            &fields,
            Some(("photo", "image/png", png)),
        )
        .await;
    assert_eq!(second.location, first.location);
    assert_eq!(a.count().await, before + 1);
    assert!(first.location.ends_with("?done=filed"));
    let page = a.get(&first.location, &resident).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("诉求已提交"));
    assert!(page.html.contains("楼下垃圾三天没人清运"));
    assert!(page.html.contains("<img src=\"/api/attachments/"));
    // The suggested category is the request's until staff change it.
    let id: i64 = first.location[10..]
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let stored =
        a.db.store
            .request(redgrid_core::ids::RequestId(id))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored.category_id, Some(a.f.cat_garbage.id));
    let mine = a.get("/mine", &resident).await;
    assert!(mine.html.contains(&format!("/requests/{id}")));
}

#[tokio::test]
async fn a_request_walks_its_whole_life_through_the_forms() {
    let a = app().await;
    let resident = a.login("resident").await;
    let id = a
        .file(&resident, "东门路灯不亮", Some(a.f.cat_garbage.id.0))
        .await;
    let grid = a.login("grid").await;
    // The grid worker's page offers accept and reject, not verify or rate.
    let page = a.get(&format!("/requests/{id}"), &grid).await;
    assert!(page.html.contains("id=\"act-accept\""));
    assert!(page.html.contains("id=\"act-reject\""));
    assert!(!page.html.contains("id=\"act-verify\""));
    assert!(!page.html.contains("id=\"act-rate\""));
    // The suggested category is chosen in the accept form; accepting without one keeps it.
    let cat = a.f.cat_garbage.id.0;
    assert!(
        page.html
            .contains(&format!("<option value=\"{cat}\" selected>"))
    );
    a.step(id, "accept", &grid, &[("level", "grid")]).await;
    assert_eq!(a.status_of(id).await, Status::Accepted);
    let unit = a.f.unit_grid_a1_1.id.0.to_string();
    a.step(id, "dispatch", &grid, &[("unit_id", &unit)]).await;
    let volunteer = a.login("volunteer").await;
    let queue = a.get("/queue", &volunteer).await;
    assert!(queue.html.contains(&format!("/requests/{id}")));
    a.step(id, "claim", &volunteer, &[]).await;
    a.step(
        id,
        "note",
        &volunteer,
        &[("text", "已电话联系居民"), ("contact_made", "true")],
    )
    .await;
    // Resolving with a bad cost: refused next to the field, the summary kept.
    let csrf = a.csrf(&volunteer).await;
    let p = a
        .post(
            &format!("/requests/{id}/resolve"),
            &volunteer,
            &[
                ("_csrf", &csrf),
                ("summary", "已更换灯泡"),
                ("cost_fen", "十元"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("resolve-cost_fen").is_some(), "{}", p.html);
    assert!(p.html.contains(">已更换灯泡</textarea>"));
    assert!(
        p.html
            .contains("id=\"act-resolve\" class=\"action primary\" open")
    );
    assert_eq!(a.status_of(id).await, Status::Claimed);
    a.step(
        id,
        "resolve",
        &volunteer,
        &[("summary", "已更换灯泡"), ("cost_fen", "12.5")],
    )
    .await;
    let verifier = a.login("verifier").await;
    let waiting = a.get("/verify", &verifier).await;
    assert!(waiting.html.contains(&format!("/requests/{id}")));
    // Failing verification needs a reason.
    let csrf = a.csrf(&verifier).await;
    let p = a
        .post(
            &format!("/requests/{id}/verify"),
            &verifier,
            &[("_csrf", &csrf), ("passed", "false")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("verify-reason").is_some(), "{}", p.html);
    a.step(id, "verify", &verifier, &[("passed", "true")]).await;
    // The resident is asked to rate; an empty rating is refused field by field.
    let page = a.get(&format!("/requests/{id}"), &resident).await;
    assert!(page.html.contains("请在下面评价"));
    let csrf = a.csrf(&resident).await;
    let p = a
        .post(
            &format!("/requests/{id}/rate"),
            &resident,
            &[("_csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("rate-resolved").is_some());
    assert!(p.field_error("rate-satisfaction").is_some());
    no_trace(&p);
    a.step(
        id,
        "rate",
        &resident,
        &[
            ("resolved", "true"),
            ("satisfaction", "satisfied"),
            ("comment", "谢谢"),
        ],
    )
    .await;
    assert_eq!(a.status_of(id).await, Status::Closed);
    let page = a.get(&format!("/requests/{id}"), &resident).await;
    for step in [
        "提交诉求",
        "受理",
        "派单",
        "接单",
        "办理记录",
        "办结",
        "验单",
        "评单",
        "销号",
    ] {
        assert!(page.html.contains(step), "{step}");
    }
    assert!(
        !page.html.contains("id=\"act-"),
        "a closed request offers nothing"
    );
    // The state refuses a late command readably (409), with no trace.
    let csrf = a.csrf(&volunteer).await;
    let p = a
        .post(
            &format!("/requests/{id}/claim"),
            &volunteer,
            &[("_csrf", &csrf)],
        )
        .await;
    assert!(
        p.status == StatusCode::UNPROCESSABLE_ENTITY || p.status == StatusCode::NOT_FOUND,
        "{}",
        p.status
    );
    no_trace(&p);
    // Someone outside the request's scope sees a plain "not found".
    let other = a.login("other").await;
    let p = a.get(&format!("/requests/{id}"), &other).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    // An unknown command is not a page.
    let csrf = a.csrf(&resident).await;
    let p = a
        .post(
            &format!("/requests/{id}/explode"),
            &resident,
            &[("_csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_resident_may_not_run_staff_commands_from_a_forged_form() {
    let a = app().await;
    let resident = a.login("resident").await;
    let id = a.file(&resident, "噪声扰民", None).await;
    let csrf = a.csrf(&resident).await;
    let cat = a.f.cat_garbage.id.0.to_string();
    let p = a
        .post(
            &format!("/requests/{id}/accept"),
            &resident,
            &[("_csrf", &csrf), ("category_id", &cat)],
        )
        .await;
    assert_ne!(p.status, StatusCode::SEE_OTHER);
    assert!(p.html.contains("role=\"alert\""), "{}", p.html);
    assert_eq!(a.status_of(id).await, Status::Submitted);
    // A command without the CSRF token changes nothing.
    let grid = a.login("grid").await;
    let p = a
        .post(
            &format!("/requests/{id}/accept"),
            &grid,
            &[("category_id", &cat)],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(a.status_of(id).await, Status::Submitted);
}

#[tokio::test]
async fn the_queue_dispatches_in_bulk_and_reports_each_request() {
    let a = app().await;
    let resident = a.login("resident").await;
    let grid = a.login("grid").await;
    let cat = a.f.cat_garbage.id.0;
    let one = a.file(&resident, "一号楼垃圾", Some(cat)).await;
    let two = a.file(&resident, "二号楼垃圾", Some(cat)).await;
    let three = a.file(&resident, "三号楼垃圾", Some(cat)).await;
    a.step(one, "accept", &grid, &[("level", "grid")]).await;
    a.step(two, "accept", &grid, &[("level", "grid")]).await;
    let queue = a.get("/queue?status=accepted", &grid).await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(queue.html.contains(&format!("id=\"pick-{one}\"")));
    assert!(!queue.html.contains(&format!("/requests/{three}\"")));
    let csrf = queue.hidden("_csrf");
    let unit = a.f.unit_grid_a1_1.id.0.to_string();
    let (s1, s2, s3) = (one.to_string(), two.to_string(), three.to_string());
    let p = a
        .post(
            "/queue/dispatch",
            &grid,
            &[
                ("_csrf", &csrf),
                ("unit_id", &unit),
                ("id", &s1),
                ("id", &s2),
                ("id", &s3),
            ],
        )
        .await;
    // Two dispatched; the third (not yet accepted) refused with its reason.
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.status_of(one).await, Status::Dispatched);
    assert_eq!(a.status_of(two).await, Status::Dispatched);
    assert_eq!(a.status_of(three).await, Status::Submitted);
    assert_eq!(p.html.matches("class=\"ok\"").count(), 2);
    assert_eq!(p.html.matches("class=\"bad\"").count(), 1);
    // Nothing ticked, or no unit: said plainly.
    let p = a
        .post(
            "/queue/dispatch",
            &grid,
            &[("_csrf", &csrf), ("unit_id", &unit)],
        )
        .await;
    assert!(p.html.contains("请至少勾选一条诉求"));
    // A bad filter is reported next to its field, and the queue still shows.
    let p = a.get("/queue?light=purple&level=moon", &grid).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.field_error("flt-light").is_some());
    assert!(p.field_error("flt-level").is_some());
}

#[tokio::test]
async fn public_lists_need_no_login_and_show_no_personal_data() {
    let a = app().await;
    let resident = a.login("resident").await;
    let grid = a.login("grid").await;
    let id = a
        .file(
            &resident,
            "请回电13912345678，门牌3号",
            Some(a.f.cat_garbage.id.0),
        )
        .await;
    a.step(id, "accept", &grid, &[("level", "grid")]).await;
    let p = a.get("/public/needs", "").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("需求清单"));
    // Not even masked: the resident's words are not public, only a summary staff approve.
    assert!(!p.html.contains("139****5678") && !p.html.contains("请回电"));
    assert!(!p.html.contains("13912345678"));
    assert!(!p.html.contains(&a.f.resident.name));
    assert!(p.html.contains("公示内容待审核"));
    // The request page offers the grid worker the 公示审核 form, prefilled with the draft.
    let page = a.get(&format!("/requests/{id}"), &grid).await;
    assert!(
        page.html.contains("请回电[号码]，门牌[地址]"),
        "the draft is offered"
    );
    a.step(id, "publish", &grid, &[("need", "门前垃圾待清运")])
        .await;
    let p = a.get("/public/needs", "").await;
    assert!(p.html.contains("门前垃圾待清运") && !p.html.contains("请回电"));
    for list in ["results", "rectifications"] {
        assert_eq!(
            a.get(&format!("/public/{list}"), "").await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        a.get("/public/secrets", "").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_language_switch_is_remembered_and_only_goes_back_on_this_site() {
    let a = app().await;
    let p = a.get("/lang?to=en&next=/public/needs", "").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location, "/public/needs");
    let cookie = p.cookies[0].split(';').next().unwrap().to_string();
    assert_eq!(cookie, "redgrid_lang=en");
    let page = a.get("/public/needs", &cookie).await;
    assert!(page.html.contains("Need list"));
    assert!(page.html.contains("<html lang=\"en\">"));
    assert!(page.html.contains("/lang?to=zh"));
    let p = a.get("/lang?to=zh&next=https://evil.example/", "").await;
    assert_eq!(p.location, "/");
    // zh-CN by default, whatever the browser asks for.
    let req = HttpRequest::get("/")
        .header(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9")
        .body(Body::empty())
        .unwrap();
    assert!(a.send(req).await.html.contains("<html lang=\"zh-CN\">"));
}

#[tokio::test]
async fn staff_pages_render_and_refuse_by_role() {
    let a = app().await;
    let admin = a.login("admin").await;
    for path in [
        "/dashboard",
        "/scorecard",
        "/scorecard?by=street&period=2026",
        "/redlist",
        "/queue",
        "/org",
        "/org/members",
        "/org/pairings",
    ] {
        let p = a.get(path, &admin).await;
        assert_eq!(p.status, StatusCode::OK, "{path}: {}", p.html);
        no_trace(&p);
    }
    let dash = a.get("/dashboard", &admin).await;
    assert!(dash.html.matches("<svg class=\"chart\"").count() >= 3);
    // The scorecard page links its Excel and CSV exports, which open with the page's session.
    let p = a.get("/scorecard?by=street&period=2026", &admin).await;
    assert!(
        p.html
            .contains("href=\"/api/scorecard?by=street&#38;period=2026&amp;format=xlsx\""),
        "{}",
        p.html
    );
    let file = a
        .get("/api/scorecard?by=street&period=2026&format=csv", &admin)
        .await;
    assert_eq!(file.status, StatusCode::OK);
    assert!(file.html.contains("综合得分"), "{}", file.html);
    // A bad period is said next to the field; the page still shows this month.
    let p = a.get("/scorecard?period=2026-13", &admin).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.field_error("sc-period").is_some());
    // Residents have no organisation or scorecard pages.
    let resident = a.login("resident").await;
    let p = a.get("/org", &resident).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    no_trace(&p);
    let p = a.get("/scorecard", &resident).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = a.get("/org/not-a-register", &admin).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_import_page_reports_a_dry_run_row_by_row_and_writes_nothing_on_error() {
    let a = app().await;
    let admin = a.login("admin").await;
    let csrf = a.csrf(&admin).await;
    let before = a.db.store.party_orgs().await.unwrap().len();
    let district = a.f.district.code.clone();
    let good = format!(
        "code,name,kind,parent_code,unit_code,area_code,secretary\nD1,区委,党委,,,{district},王书记\n"
    );
    let p = a
        .post_multipart(
            "/org/import",
            &admin,
            &[
                ("_csrf", &csrf),
                ("register", "party_orgs"),
                ("dry_run", "true"),
            ],
            Some(("file", "text/csv", good.as_bytes())),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert!(p.html.contains("试导入检查结果"));
    assert_eq!(a.db.store.party_orgs().await.unwrap().len(), before);
    let bad = format!("{good}D2,某支部,不是类别,D1,,{district},\n");
    let p = a
        .post_multipart(
            "/org/import",
            &admin,
            &[("_csrf", &csrf), ("register", "party_orgs")],
            Some(("file", "text/csv", bad.as_bytes())),
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("<td>3</td>"), "{}", p.html);
    assert_eq!(a.db.store.party_orgs().await.unwrap().len(), before);
    let p = a
        .post_multipart(
            "/org/import",
            &admin,
            &[("_csrf", &csrf), ("register", "party_orgs")],
            Some(("file", "text/csv", good.as_bytes())),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert!(p.html.contains("已导入"));
    assert_eq!(a.db.store.party_orgs().await.unwrap().len(), before + 1);
    // Recording an activity: a future date is refused next to its field.
    let org = a.db.store.party_orgs().await.unwrap()[0].id.to_string();
    let p = a
        .post(
            "/org/activities",
            &admin,
            &[
                ("_csrf", &csrf),
                ("party_org_id", &org),
                ("kind", "visit"),
                ("held_on", "2999-01-01"),
                ("title", "走访"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("act-held_on").is_some(), "{}", p.html);
    assert!(p.html.contains("value=\"走访\""));
    let today = redgrid_app::organise::today().to_string();
    let p = a
        .post(
            "/org/activities",
            &admin,
            &[
                ("_csrf", &csrf),
                ("party_org_id", &org),
                ("kind", "visit"),
                ("held_on", &today),
                ("title", "走访独居老人"),
                ("people_served", "3"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
}

/// The session cookie set by a response (a login).
fn session_of(p: &Page) -> String {
    p.cookies
        .iter()
        .find(|c| c.starts_with("redgrid_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// A party organisation imported through the page; its id.
async fn party_org(a: &App, admin: &str) -> String {
    let csrf = a.csrf(admin).await;
    let district = a.f.district.code.clone();
    let csv = format!(
        "code,name,kind,parent_code,unit_code,area_code,secretary\nD1,区委,党委,,,{district},王书记\n"
    );
    let p = a
        .post_multipart(
            "/org/import",
            admin,
            &[("_csrf", &csrf), ("register", "party_orgs")],
            Some(("file", "text/csv", csv.as_bytes())),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    a.db.store.party_orgs().await.unwrap()[0].id.to_string()
}

#[tokio::test]
async fn the_password_page_says_each_refusal_at_its_field() {
    let a = app().await;
    let other = a.login("other").await;
    let form = a.get("/password", &other).await;
    assert_eq!(form.status, StatusCode::OK);
    // The label states the store's real minimum.
    assert!(form.html.contains("至少 10 位"), "{}", form.html);
    assert!(form.html.contains("aria-required=\"true\""));
    let csrf = form.hidden("_csrf");
    let send = |cookie: String, old: &'static str, new: &'static str, again: &'static str| {
        let csrf = csrf.clone();
        let a = &a;
        async move {
            a.post(
                "/password",
                &cookie,
                &[
                    ("_csrf", &csrf),
                    ("old", old),
                    ("new", new),
                    ("again", again),
                ],
            )
            .await
        }
    };
    // Too short: said at the new password, in the page's language.
    let p = send(other.clone(), PASSWORD, "short-1", "short-1").await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p.field_error("new").as_deref(), Some("新密码至少 10 位"));
    assert!(
        p.html
            .contains("aria-invalid=\"true\" aria-describedby=\"new-e\"")
    );
    no_trace(&p);
    let p = send(
        format!("{other}; redgrid_lang=en"),
        PASSWORD,
        "short-1",
        "short-1",
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        p.field_error("new").as_deref(),
        Some("the new password must have at least 10 characters")
    );
    // Too simple, and the same as the old one: at the new password too.
    let p = send(other.clone(), PASSWORD, "aaaaaaaaaaaa", "aaaaaaaaaaaa").await;
    assert_eq!(
        p.field_error("new").as_deref(),
        Some("新密码须包含字母、数字、符号中的至少两种")
    );
    let p = send(other.clone(), PASSWORD, PASSWORD, PASSWORD).await;
    assert_eq!(
        p.field_error("new").as_deref(),
        Some("新密码不能与原密码相同")
    );
    // A wrong current password is said at the current password; a mismatch at the repeat.
    let p = send(
        other.clone(),
        "wrong-password-9",
        "another-pw-2026",
        "another-pw-2026",
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("old").is_some(), "{}", p.html);
    assert!(p.field_error("new").is_none());
    let p = send(
        other.clone(),
        PASSWORD,
        "another-pw-2026",
        "another-pw-2027",
    )
    .await;
    assert!(p.field_error("again").is_some());
    // A good change goes on with a confirmation.
    let p = send(
        other.clone(),
        PASSWORD,
        "another-pw-2026",
        "another-pw-2026",
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert_eq!(p.location, "/?done=password");
}

#[tokio::test]
async fn a_donation_value_the_store_refuses_is_said_at_its_field() {
    let a = app().await;
    let admin = a.login("admin").await;
    let org = party_org(&a, &admin).await;
    let csrf = a.csrf(&admin).await;
    let today = redgrid_app::organise::today().to_string();
    let activity = |value: &'static str| {
        let (csrf, org, today, admin) = (csrf.clone(), org.clone(), today.clone(), admin.clone());
        let a = &a;
        async move {
            a.post(
                "/org/activities",
                &admin,
                &[
                    ("_csrf", &csrf),
                    ("party_org_id", &org),
                    ("kind", "volunteer_service"),
                    ("held_on", &today),
                    ("title", "爱心捐赠"),
                    ("donation_value", value),
                ],
            )
            .await
        }
    };
    // Beyond what the ledger records (checked by the store, named `donation_value_fen` there).
    let p = activity("2000000000").await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.html);
    assert_eq!(
        p.field_error("act-donation_value").as_deref(),
        Some("超出允许范围"),
        "{}",
        p.html
    );
    assert!(p.html.contains("value=\"2000000000\""));
    assert!(p.html.contains("value=\"爱心捐赠\""));
    // Not a number (checked by the page).
    let p = activity("五百").await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("act-donation_value").is_some());
    // A good value is recorded.
    let p = activity("500.5").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    // The confirmation is a page (the ledger), not the post-only address.
    let ledger = a.get(&p.location, &admin).await;
    assert_eq!(ledger.status, StatusCode::OK, "{}", p.location);
    assert!(ledger.html.contains("活动已记入台账"));
    assert!(ledger.html.contains("爱心捐赠"));
}

#[tokio::test]
async fn escalate_is_offered_only_where_there_is_a_level_above() {
    let a = app().await;
    // Staff of the district's own office: a request at district level can go no higher.
    a.person(
        "district_office",
        "13800000099",
        vec![Grant {
            role: Role::DepartmentStaff,
            scope: Scope::Unit(a.f.unit_district.id),
        }],
    )
    .await;
    let top = a
        .dispatched_at(
            "区级诉求",
            Level::District,
            a.f.unit_district.id,
            Utc::now(),
        )
        .await;
    let office = a.login("district_office").await;
    let page = a.get(&format!("/requests/{top}"), &office).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"act-claim\""));
    assert!(!page.html.contains("id=\"act-escalate\""), "{}", page.html);
    // Forging the form is refused readably, and nothing changes.
    let p = a
        .command(top, "escalate", &office, &[("reason", "再上报一级")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("已在区级办理，不能再上报"), "{}", p.html);
    assert_eq!(a.status_of(top).await, Status::Dispatched);
    // At street level the department may escalate to the district.
    let street = a
        .dispatched_at("街道级诉求", Level::Street, a.f.unit_dept.id, Utc::now())
        .await;
    let dept = a.login("dept").await;
    let page = a.get(&format!("/requests/{street}"), &dept).await;
    assert!(page.html.contains("id=\"act-escalate\""), "{}", page.html);
}

#[tokio::test]
async fn close_is_offered_to_the_administrator_only_once_the_rating_window_has_ended() {
    let a = app().await;
    let f = &a.f;
    let verified = |id: i64, at: DateTime<Utc>| {
        let a = &a;
        async move {
            a.run_at(id, &a.f.volunteer, Command::Claim {}, at).await;
            a.run_at(
                id,
                &a.f.volunteer,
                Command::Resolve {
                    public_summary: None,
                    outcome: None,
                    summary: Some("已清运".into()),
                    evidence: vec![],
                    cost_fen: None,
                },
                at,
            )
            .await;
            a.run_at(
                id,
                &a.f.verifier,
                Command::Verify {
                    passed: Some(true),
                    reason: None,
                    reached: None,
                },
                at,
            )
            .await;
        }
    };
    let ago = Utc::now() - Duration::days(10);
    let old = a
        .dispatched_at("十天前验单的诉求", Level::Grid, f.unit_grid_a1_1.id, ago)
        .await;
    verified(old, ago).await;
    let now = Utc::now();
    let fresh = a
        .dispatched_at("刚验单的诉求", Level::Grid, f.unit_grid_a1_1.id, now)
        .await;
    verified(fresh, now).await;
    let admin = a.login("admin").await;
    // The resident still has days to rate: no close, and a forged close is refused readably.
    let page = a.get(&format!("/requests/{fresh}"), &admin).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.html.contains("id=\"act-close\""), "{}", page.html);
    let p = a.command(fresh, "close", &admin, &[]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.html.contains("评价期尚未结束"), "{}", p.html);
    assert_eq!(a.status_of(fresh).await, Status::Verified);
    // The window has ended: close is offered and goes through.
    let page = a.get(&format!("/requests/{old}"), &admin).await;
    assert!(page.html.contains("id=\"act-close\""), "{}", page.html);
    a.step(old, "close", &admin, &[]).await;
    assert_eq!(a.status_of(old).await, Status::Closed);
}

#[tokio::test]
async fn verify_is_not_offered_to_the_verifier_who_handled_the_request() {
    let a = app().await;
    // A verifier of the community who is also a volunteer of the grid's team.
    let both = a
        .person(
            "verifier_volunteer",
            "13800000098",
            vec![
                Grant {
                    role: Role::Verifier,
                    scope: Scope::Area(a.f.comm_a1.id),
                },
                Grant {
                    role: Role::Volunteer,
                    scope: Scope::Unit(a.f.unit_grid_a1_1.id),
                },
            ],
        )
        .await;
    let now = Utc::now();
    let id = a
        .dispatched_at("自己办理的诉求", Level::Grid, a.f.unit_grid_a1_1.id, now)
        .await;
    a.run_at(id, &both, Command::Claim {}, now).await;
    a.run_at(
        id,
        &both,
        Command::Resolve {
            public_summary: None,
            outcome: None,
            summary: Some("已处理".into()),
            evidence: vec![],
            cost_fen: None,
        },
        now,
    )
    .await;
    let own = a.login("verifier_volunteer").await;
    let page = a.get(&format!("/requests/{id}"), &own).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.html.contains("id=\"act-verify\""), "{}", page.html);
    let p = a.command(id, "verify", &own, &[("passed", "true")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.html.contains("办理人不能验收自己办理的诉求"),
        "{}",
        p.html
    );
    assert_eq!(a.status_of(id).await, Status::Resolved);
    // Another verifier of the community may.
    let verifier = a.login("verifier").await;
    let page = a.get(&format!("/requests/{id}"), &verifier).await;
    assert!(page.html.contains("id=\"act-verify\""));
    a.step(id, "verify", &verifier, &[("passed", "true")]).await;
    assert_eq!(a.status_of(id).await, Status::Verified);
}

#[tokio::test]
async fn work_pages_refuse_other_roles_readably() {
    let a = app().await;
    let resident = a.login("resident").await;
    for path in ["/queue", "/verify", "/redlist", "/dashboard"] {
        let p = a.get(path, &resident).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}: {}", p.html);
        assert!(p.html.contains("无权查看"), "{path}");
        assert!(p.html.contains("role=\"alert\""), "{path}");
        assert!(!p.html.contains("/supervise"), "{path}");
        assert!(!p.html.contains("name=\"order\""), "{path}");
        no_trace(&p);
        let p = a.get(path, &format!("{resident}; redgrid_lang=en")).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}");
        assert!(p.html.contains("<html lang=\"en\">"));
        assert!(p.html.contains("Not allowed"), "{path}");
    }
    // A forged bulk dispatch from a resident is refused too.
    let csrf = a.csrf(&resident).await;
    let p = a
        .post("/queue/dispatch", &resident, &[("_csrf", &csrf)])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // Each page opens for the roles it is for, and only for them.
    for (user, path, status) in [
        ("volunteer", "/queue", StatusCode::OK),
        ("verifier", "/verify", StatusCode::OK),
        ("supervisor", "/redlist", StatusCode::OK),
        ("grid", "/dashboard", StatusCode::OK),
        ("volunteer", "/verify", StatusCode::FORBIDDEN),
        ("verifier", "/redlist", StatusCode::FORBIDDEN),
        ("grid", "/redlist", StatusCode::FORBIDDEN),
        ("volunteer", "/dashboard", StatusCode::FORBIDDEN),
    ] {
        let cookie = a.login(user).await;
        let p = a.get(path, &cookie).await;
        assert_eq!(p.status, status, "{user} {path}: {}", p.html);
    }
}

#[tokio::test]
async fn an_account_that_must_change_its_password_goes_straight_to_the_password_page() {
    let a = app().await;
    a.state
        .service
        .set_login(
            &Actor::System,
            a.f.other_resident.id,
            Some("other"),
            PASSWORD,
            true,
        )
        .await
        .unwrap();
    let p = a
        .post(
            "/login",
            "",
            &[
                ("login", "other"),
                ("password", PASSWORD),
                ("next", "/mine"),
            ],
        )
        .await;
    assert_eq!(p.location, "/password?next=/mine");
    let cookie = session_of(&p);
    // Any page: straight to the password page (not to the login page), and back afterwards.
    let p = a.get("/file", &cookie).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location, "/password?next=/file");
    let p = a
        .post("/queue/dispatch", &cookie, &[("status", "accepted")])
        .await;
    assert_eq!(p.location, "/password?next=/queue%3Fstatus%3Daccepted");
    let form = a.get("/password?next=/file", &cookie).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(form.hidden("next"), "/file");
    let csrf = form.hidden("_csrf");
    let p = a
        .post(
            "/password",
            &cookie,
            &[
                ("_csrf", &csrf),
                ("next", "/file"),
                ("old", PASSWORD),
                ("new", "my-own-pw-2026"),
                ("again", "my-own-pw-2026"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert_eq!(p.location, "/file?done=password");
}

#[tokio::test]
async fn a_form_posted_after_the_session_ended_comes_back_to_its_page() {
    let a = app().await;
    let resident = a.login("resident").await;
    let id = a.file(&resident, "会话过期后提交", None).await;
    // Logging in again returns to a page that can be opened, never to the post-only address.
    for (path, cookie, form, next) in [
        (
            format!("/requests/{id}/rate"),
            "",
            vec![("resolved", "true")],
            format!("/requests/{id}"),
        ),
        (
            format!("/requests/{id}/supervise"),
            "redgrid_session=ended",
            vec![("back", "/redlist"), ("order", "督办")],
            "/redlist".to_string(),
        ),
        (
            "/queue/dispatch".to_string(),
            "",
            vec![("status", "accepted"), ("id", "1")],
            "/queue%3Fstatus%3Daccepted".to_string(),
        ),
        (
            "/org/activities".to_string(),
            "",
            vec![("title", "走访")],
            "/org/activities".to_string(),
        ),
    ] {
        let p = a.post(&path, cookie, &form).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(p.location, format!("/login?next={next}"), "{path}");
    }
    let p = a
        .post_multipart("/org/import", "", &[("register", "members")], None)
        .await;
    assert_eq!(p.location, "/login?next=/org");
    // Those addresses are pages.
    let admin = a.login("admin").await;
    for path in [
        format!("/requests/{id}"),
        "/redlist".into(),
        "/queue?status=accepted".into(),
        "/org/activities".into(),
        "/org".into(),
    ] {
        assert_eq!(a.get(&path, &admin).await.status, StatusCode::OK, "{path}");
    }
    // The language switch of a page shown by a post goes back to that page.
    let grid = a.login("grid").await;
    let csrf = a.csrf(&grid).await;
    let unit = a.f.unit_grid_a1_1.id.0.to_string();
    let p = a
        .post(
            "/queue/dispatch",
            &grid,
            &[("_csrf", &csrf), ("status", "accepted"), ("unit_id", &unit)],
        )
        .await;
    assert!(
        p.html
            .contains("/lang?to=en&#38;next=/queue%3Fstatus%3Daccepted\""),
        "{}",
        p.html
    );
    assert!(!p.html.contains("next=/queue/dispatch"));
    let p = a
        .command(id, "accept", &grid, &[("category_id", "999999")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.html.contains(&format!("next=/requests/{id}\"")),
        "{}",
        p.html
    );
    assert!(!p.html.contains(&format!("next=/requests/{id}/accept")));
}

#[tokio::test]
async fn bulk_dispatch_without_a_unit_says_so_at_the_unit_field_and_keeps_the_filters() {
    let a = app().await;
    let resident = a.login("resident").await;
    let grid = a.login("grid").await;
    let one = a
        .file(&resident, "批量派单没选单位", Some(a.f.cat_garbage.id.0))
        .await;
    a.step(one, "accept", &grid, &[("level", "grid")]).await;
    let queue = a.get("/queue?status=accepted&level=grid", &grid).await;
    // The bulk form carries the filters in force.
    assert!(
        queue
            .html
            .contains("<input type=\"hidden\" name=\"status\" value=\"accepted\">")
    );
    assert!(
        queue
            .html
            .contains("<input type=\"hidden\" name=\"level\" value=\"grid\">")
    );
    let csrf = queue.hidden("_csrf");
    let s1 = one.to_string();
    let p = a
        .post(
            "/queue/dispatch",
            &grid,
            &[
                ("_csrf", &csrf),
                ("status", "accepted"),
                ("level", "grid"),
                ("id", &s1),
                ("unit_id", ""),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        p.field_error("bulk-unit_id").as_deref(),
        Some("请选择派往单位。"),
        "{}",
        p.html
    );
    assert!(
        p.html
            .contains("aria-invalid=\"true\" aria-describedby=\"bulk-unit_id-e\"")
    );
    assert!(!p.html.contains("批量派单结果"), "not in the results list");
    assert!(p.html.contains("<option value=\"accepted\" selected>"));
    assert!(p.html.contains("<option value=\"grid\" selected>"));
    assert!(
        p.html
            .contains("<input type=\"hidden\" name=\"status\" value=\"accepted\">")
    );
    assert_eq!(a.status_of(one).await, Status::Accepted);
    // With a unit: dispatched, on the same filtered queue.
    let unit = a.f.unit_grid_a1_1.id.0.to_string();
    let p = a
        .post(
            "/queue/dispatch",
            &grid,
            &[
                ("_csrf", &csrf),
                ("status", "accepted"),
                ("level", "grid"),
                ("id", &s1),
                ("unit_id", &unit),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert_eq!(a.status_of(one).await, Status::Dispatched);
    assert!(p.html.contains("<option value=\"accepted\" selected>"));
    assert_eq!(p.html.matches("class=\"ok\"").count(), 1);
}

#[tokio::test]
async fn the_next_page_keeps_the_filters_and_changes_only_before() {
    let a = app().await;
    for n in 0..101 {
        a.file_at(&format!("第{n}条诉求"), Utc::now()).await;
    }
    let grid = a.login("grid").await;
    let area = a.f.grid_a1_1.id.0.to_string();
    let p = a
        .get(
            &format!("/queue?status=submitted&area_id={area}&before=999999&done=bulk"),
            &grid,
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    let needle = format!("href=\"/queue?status=submitted&#38;area_id={area}&#38;before=");
    let start = p.html.find(&needle).unwrap_or_else(|| panic!("{}", p.html)) + 6;
    let end = p.html[start..].find('"').unwrap() + start;
    let next = p.html[start..end].replace("&#38;", "&");
    assert_eq!(next.matches("before=").count(), 1);
    assert!(!next.contains("done="));
    let p = a.get(&next, &grid).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("<option value=\"submitted\" selected>"));
    assert!(
        p.html
            .contains(&format!("<option value=\"{area}\" selected>"))
    );
    assert_eq!(p.html.matches("class=\"req light-").count(), 1);
    assert!(!p.html.contains("下一页"));
    // Lists without filters page on their own address.
    let resident = a.login("resident").await;
    let p = a.get("/mine", &resident).await;
    assert!(p.html.contains("href=\"/mine?before="), "{}", p.html);
}

#[tokio::test]
async fn malformed_addresses_and_forms_get_a_readable_page() {
    let a = app().await;
    let admin = a.login("admin").await;
    for path in ["/org?page=x", "/org/members?page=-1"] {
        let p = a.get(path, &admin).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(p.html.contains("<!doctype html>"));
        assert!(p.html.contains("地址有误"), "{path}: {}", p.html);
        assert!(p.html.contains("role=\"alert\""));
        assert!(!p.html.contains("Failed to deserialize"));
    }
    let p = a
        .get("/org?page=x", &format!("{admin}; redgrid_lang=en"))
        .await;
    assert!(p.html.contains("Bad address"));
    // A body that is not a form, on every page that reads one.
    let resident = a.login("resident").await;
    let id = a.file(&resident, "表单格式", None).await;
    for path in [
        "/org/activities".to_string(),
        "/queue/dispatch".into(),
        "/password".into(),
        "/logout".into(),
        format!("/requests/{id}/claim"),
    ] {
        let req = HttpRequest::post(path.as_str())
            .header(header::COOKIE, &admin)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("hello"))
            .unwrap();
        let p = a.send(req).await;
        assert_eq!(p.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{path}");
        assert!(p.html.contains("<!doctype html>"), "{path}");
        assert!(p.html.contains("表单有误"), "{path}: {}", p.html);
        assert!(!p.html.contains("Content-Type"), "{path}");
        no_trace(&p);
    }
}

#[tokio::test]
async fn reject_escalate_return_and_suspend_refuse_without_a_reason_then_go_through() {
    let a = app().await;
    let resident = a.login("resident").await;
    let grid = a.login("grid").await;
    let cat = Some(a.f.cat_garbage.id.0);
    let unit = a.f.unit_grid_a1_1.id.0.to_string();

    // Reject (不予受理): a reason code is required.
    let id = a.file(&resident, "不属于受理范围", None).await;
    let p = a.command(id, "reject", &grid, &[("text", "说明")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("reject-code").is_some(), "{}", p.html);
    assert!(p.html.contains(">说明</textarea>"));
    assert_eq!(a.status_of(id).await, Status::Submitted);
    a.step(id, "reject", &grid, &[("code", "out_of_scope")])
        .await;
    assert_eq!(a.status_of(id).await, Status::Rejected);

    // Escalate (上报): a reason is required; then the request goes up a level.
    let id = a.file(&resident, "网格解决不了", cat).await;
    a.step(id, "accept", &grid, &[("level", "grid")]).await;
    let page = a.get(&format!("/requests/{id}"), &grid).await;
    assert!(page.html.contains("id=\"act-escalate\""));
    let p = a.command(id, "escalate", &grid, &[("reason", "  ")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("escalate-reason").is_some(), "{}", p.html);
    let level = |id: i64| {
        let a = &a;
        async move {
            a.db.store
                .request(RequestId(id))
                .await
                .unwrap()
                .unwrap()
                .level
        }
    };
    assert_eq!(level(id).await, Level::Grid);
    a.step(id, "escalate", &grid, &[("reason", "需社区协调物业")])
        .await;
    assert_eq!(level(id).await, Level::Community);

    // Return (退单): the team sends it back with a reason.
    let id = a.file(&resident, "派错了单位", cat).await;
    a.step(id, "accept", &grid, &[("level", "grid")]).await;
    a.step(id, "dispatch", &grid, &[("unit_id", &unit)]).await;
    let p = a.command(id, "return", &grid, &[]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("return-reason").is_some(), "{}", p.html);
    assert_eq!(a.status_of(id).await, Status::Dispatched);
    a.step(id, "return", &grid, &[("reason", "不属于本网格党小组")])
        .await;
    assert_eq!(a.status_of(id).await, Status::Accepted);

    // Suspend (挂账): a reason and an approver of the level above are required.
    let id = a.file(&resident, "需要等待施工", cat).await;
    a.step(id, "accept", &grid, &[("level", "grid")]).await;
    a.step(id, "dispatch", &grid, &[("unit_id", &unit)]).await;
    let p = a.command(id, "suspend", &grid, &[]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("suspend-reason").is_some(), "{}", p.html);
    assert!(p.field_error("suspend-approver_id").is_some());
    assert_eq!(a.status_of(id).await, Status::Dispatched);
    let approver = a.f.community_staff.id.0.to_string();
    a.step(
        id,
        "suspend",
        &grid,
        &[("reason", "待管网改造后处理"), ("approver_id", &approver)],
    )
    .await;
    assert_eq!(a.status_of(id).await, Status::Suspended);
    let page = a.get(&format!("/requests/{id}"), &grid).await;
    assert!(page.html.contains("id=\"act-resume\""));
}

#[tokio::test]
async fn the_red_list_supervises_what_is_red_refusing_an_empty_order() {
    let a = app_with(true).await;
    let unit = a.f.unit_grid_a1_1.id;
    let red = a
        .dispatched_at(
            "一个月没人管",
            Level::Grid,
            unit,
            Utc::now() - Duration::days(30),
        )
        .await;
    let fresh = a
        .dispatched_at("刚刚派出", Level::Grid, unit, Utc::now())
        .await;
    let supervisor = a.login("supervisor").await;
    let list = a.get("/redlist", &supervisor).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.html
            .contains(&format!("action=\"/requests/{red}/supervise\"")),
        "{}",
        list.html
    );
    assert!(!list.html.contains(&format!("/requests/{fresh}\"")));
    let csrf = list.hidden("_csrf");
    // An empty order: refused next to the field, nothing recorded.
    let p = a
        .post(
            &format!("/requests/{red}/supervise"),
            &supervisor,
            &[("_csrf", &csrf), ("back", "/redlist"), ("order", " ")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.field_error("supervise-order").is_some(), "{}", p.html);
    let stored = |id: i64| {
        let a = &a;
        async move { a.db.store.request(RequestId(id)).await.unwrap().unwrap() }
    };
    assert_eq!(stored(red).await.supervision_count, 0);
    // With an order: back to the red list with a confirmation.
    let p = a
        .post(
            &format!("/requests/{red}/supervise"),
            &supervisor,
            &[
                ("_csrf", &csrf),
                ("back", "/redlist"),
                ("order", "请于明日12时前办结并反馈"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    assert_eq!(p.location, "/redlist?done=supervise");
    assert_eq!(stored(red).await.supervision_count, 1);
    let list = a.get(&p.location, &supervisor).await;
    assert!(list.html.contains("督办已完成"));
    assert!(list.html.contains("class=\"badge sup\""));
}

#[tokio::test]
async fn a_bad_campaign_date_is_kept_and_said_at_its_own_field() {
    let a = app().await;
    let day = |s: &str| redgrid_core::org::parse_date(s).unwrap();
    a.db.store
        .create_campaign(
            &redgrid_store::org::NewCampaign {
                code: "C26".into(),
                name: "千个支部联基层".into(),
                starts_on: day("2026-01-01"),
                ends_on: day("2026-12-31"),
                root_org_id: None,
                require_pairing: true,
            },
            redgrid_store::Change::system(),
        )
        .await
        .unwrap();
    let admin = a.login("admin").await;
    // Not a date: at the start, as typed; the end is kept.
    let p = a
        .get("/org/campaigns/C26?from=2026-02-30&to=2026-03-31", &admin)
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    let e = p.field_error("cp-from").unwrap_or_default();
    assert!(e.contains("2026-02-30"), "{}", p.html);
    assert!(p.field_error("cp-to").is_none());
    assert!(p.html.contains("value=\"2026-02-30\""));
    assert!(p.html.contains("value=\"2026-03-31\""));
    assert!(
        p.html
            .contains("aria-invalid=\"true\" aria-describedby=\"cp-from-e\"")
    );
    assert!(p.html.contains("活动全程"));
    // The end before the start: at the end.
    let p = a
        .get("/org/campaigns/C26?from=2026-03-31&to=2026-03-01", &admin)
        .await;
    assert!(p.field_error("cp-to").is_some(), "{}", p.html);
    assert!(p.field_error("cp-from").is_none());
    assert!(p.html.contains("value=\"2026-03-31\""));
    assert!(p.html.contains("value=\"2026-03-01\""));
    // A good period: no error, its figures.
    let p = a
        .get("/org/campaigns/C26?from=2026-03-01&to=2026-03-31", &admin)
        .await;
    assert!(p.field_error("cp-from").is_none() && p.field_error("cp-to").is_none());
    assert!(p.html.contains("2026-03-01至2026-03-31"), "{}", p.html);
    assert!(!p.html.contains("活动全程"));
}

#[tokio::test]
async fn the_dashboard_counts_submitted_requests_as_open_and_leaves_gaps_for_months_without_ratings()
 {
    let a = app().await;
    let admin = a.login("admin").await;
    let dash = a.get("/dashboard", &admin).await;
    assert_eq!(dash.status, StatusCode::OK);
    // Nothing rated yet: twelve months of counts, no satisfaction or response points at 0 %.
    assert_eq!(dash.html.matches(" 新增诉求: ").count(), 12);
    assert!(!dash.html.contains(" 满意率: "), "{}", dash.html);
    assert!(!dash.html.contains(" 响应率: "));
    // A request just filed (not yet accepted) is open on the dashboard as on the lists.
    let resident = a.login("resident").await;
    let id = a.file(&resident, "刚提交的诉求", None).await;
    let dash = a.get("/dashboard", &admin).await;
    assert!(
        dash.html
            .contains("<strong>1</strong><span>正在办理</span>"),
        "{}",
        dash.html
    );
    let home = a.get("/", "").await;
    assert!(home.html.contains("<strong>1</strong> 件正在办理"));
    let queue = a.get("/queue", &admin).await;
    assert!(queue.html.contains(&format!("/requests/{id}\"")));
}

#[tokio::test]
async fn an_unknown_import_register_is_refused_next_to_its_field() {
    let a = app().await;
    let admin = a.login("admin").await;
    let csrf = a.csrf(&admin).await;
    let before = a.db.store.party_orgs().await.unwrap().len();
    let district = a.f.district.code.clone();
    let csv = format!(
        "code,name,kind,parent_code,unit_code,area_code,secretary\nD1,区委,党委,,,{district},王书记\n"
    );
    for register in ["nope", "activities", ""] {
        let p = a
            .post_multipart(
                "/org/import",
                &admin,
                &[("_csrf", &csrf), ("register", register)],
                Some(("file", "text/csv", csv.as_bytes())),
            )
            .await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{register}");
        assert!(
            p.field_error("imp-register").is_some(),
            "{register}: {}",
            p.html
        );
        assert!(
            p.html
                .contains("aria-invalid=\"true\" aria-describedby=\"imp-register-e\"")
        );
        assert!(!p.html.contains("导入结果"), "{register}");
        assert_eq!(a.db.store.party_orgs().await.unwrap().len(), before);
    }
}

#[tokio::test]
async fn a_photo_cut_off_in_transit_is_an_upload_failure_not_too_large() {
    let a = app().await;
    let resident = a.login("resident").await;
    let csrf = a.csrf(&resident).await;
    let before = a.count().await;
    let boundary = "----redgridtestboundary";
    let mut body = Vec::new();
    for (k, v) in [
        ("_csrf", csrf.as_str()),
        ("key", "cut-off"),
        ("description", "照片没传完"),
    ] {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    body.extend(b"\x89PNG\r\n\x1a\n0000 and then the connection broke");
    let req = HttpRequest::post("/file")
        .header(header::COOKIE, &resident)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    let p = a.send(req).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "{}", p.html);
    assert!(p.html.contains("上传失败"), "{}", p.html);
    assert!(!p.html.contains("文件太大"));
    no_trace(&p);
    assert_eq!(a.count().await, before);
}

#[tokio::test]
async fn required_fields_say_so_to_assistive_technology() {
    let a = app().await;
    let resident = a.login("resident").await;
    let form = a.get("/file", &resident).await;
    assert!(
        form.html
            .contains("<textarea id=\"file-description\" name=\"description\" rows=\"4\" aria-required=\"true\""),
        "{}",
        form.html
    );
    assert!(
        form.html
            .contains("<select id=\"file-area_id\" name=\"area_id\" aria-required=\"true\"")
    );
    // Optional fields do not.
    assert!(
        form.html
            .contains("<select id=\"file-category_id\" name=\"category_id\" aria-describedby")
    );
    assert!(
        !form
            .html
            .contains("name=\"address\" type=\"text\" value=\"\" aria-required")
    );
}

#[tokio::test]
async fn community_staff_grant_and_revoke_roles_in_their_community_through_the_pages() {
    let a = app().await;
    let community = a.login("community").await;
    let page = a.get("/org/roles", &community).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    // Only places within reach: their community and its grids, not the other street.
    let grid = format!("area:{}", a.f.grid_a1_1.id.0);
    assert!(page.html.contains(&grid));
    assert!(!page.html.contains(&format!("area:{}", a.f.grid_b1_1.id.0)));
    assert!(
        !page.html.contains("value=\"district_admin\""),
        "no role above their own"
    );
    let csrf = page.hidden("_csrf");
    // A new volunteer by phone and name: the one-time password is shown once.
    let granted = a
        .post(
            "/org/roles/grant",
            &community,
            &[
                ("_csrf", &csrf),
                ("phone", "139 0000 4444"),
                ("name", "陈志愿"),
                ("role", "volunteer"),
                ("place", &grid),
            ],
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.html);
    assert!(granted.html.contains("已授权"));
    assert!(granted.html.contains("一次性密码"));
    assert!(granted.html.contains("陈志愿"));
    assert!(granted.html.contains("/org/roles/revoke"));
    let person = a
        .state
        .service
        .store()
        .person_by_phone("13900004444")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(person.roles(), [Role::Volunteer]);
    // Above their rank: refused at the form, 403, nothing written.
    let refused = a
        .post(
            "/org/roles/grant",
            &community,
            &[
                ("_csrf", &csrf),
                ("phone", "13900004444"),
                ("role", "street_staff"),
                ("place", &grid),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.html.contains("role=\"alert\""), "{}", refused.html);
    no_trace(&refused);
    // A missing place is said at its field.
    let missing = a
        .post(
            "/org/roles/grant",
            &community,
            &[
                ("_csrf", &csrf),
                ("phone", "13900004444"),
                ("role", "member"),
                ("place", ""),
            ],
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        missing.field_error("grant-place").is_some(),
        "{}",
        missing.html
    );
    // Revoked.
    let revoked = a
        .post(
            "/org/roles/revoke",
            &community,
            &[
                ("_csrf", &csrf),
                ("phone", "13900004444"),
                ("role", "volunteer"),
                ("place", &grid),
            ],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.html);
    assert!(revoked.html.contains("已撤销"));
    let person = a
        .state
        .service
        .store()
        .person_by_phone("13900004444")
        .await
        .unwrap()
        .unwrap();
    assert!(person.grants.is_empty());
    // Without the CSRF token nothing happens.
    let forged = a
        .post(
            "/org/roles/grant",
            &community,
            &[
                ("phone", "13900004444"),
                ("role", "volunteer"),
                ("place", &grid),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // Residents and grid workers do not get the page.
    for who in ["resident", "grid"] {
        let cookie = a.login(who).await;
        let p = a.get("/org/roles", &cookie).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{who}");
    }
    // The organisation page links to it for those who grant.
    let org = a.get("/org", &community).await;
    assert!(org.html.contains("href=\"/org/roles\""));
}

#[tokio::test]
async fn a_resident_signs_up_on_the_phone_page_and_files_from_the_home_grid() {
    let a = app().await;
    let login = a.get("/login", "").await;
    assert!(login.html.contains("href=\"/signup\""));
    let first = a.get("/signup", "").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.html.contains("type=\"tel\""));
    // A malformed phone is said at its field.
    let bad = a.post("/signup/code", "", &[("phone", "12345")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.field_error("phone").is_some(), "{}", bad.html);
    let second = a
        .post("/signup/code", "", &[("phone", "139 0008 0001")])
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.html);
    assert!(second.html.contains("autocomplete=\"one-time-code\""));
    // Asking again at once: 429, said on the page.
    let again = a
        .post("/signup/code", "", &[("phone", "13900080001")])
        .await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(again.html.contains("秒后再试"), "{}", again.html);
    let code = redgrid_app::testing::sms_code(&a.state.service, "13900080001").await;
    assert_eq!(code.len(), 6);
    let fields = |code: &str, again: &str| {
        vec![
            ("phone".to_string(), "13900080001".to_string()),
            ("code".to_string(), code.to_string()),
            ("name".to_string(), "邱居民".to_string()),
            ("password".to_string(), "resident-pw-2026".to_string()),
            ("again".to_string(), again.to_string()),
        ]
    };
    let app = &a;
    let post = move |f: Vec<(String, String)>| async move {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        app.post("/signup", "", &pairs).await
    };
    let differ = post(fields(&code, "other-pw-2026")).await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(differ.field_error("again").is_some());
    let other = if code == "000000" { "111111" } else { "000000" };
    let wrong = post(fields(other, "resident-pw-2026")).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let said = wrong.field_error("code").unwrap_or_default();
    assert!(said.contains("验证码不正确或已过期"), "{said}");
    let done = post(fields(&code, "resident-pw-2026")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert!(
        done.location.starts_with("/me/home?next="),
        "{}",
        done.location
    );
    let cookie = done
        .cookies
        .iter()
        .find(|c| c.starts_with("redgrid_session="))
        .expect("a session")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // Choose the home grid; filing then starts from it.
    let home = a.get(&done.location, &cookie).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.html);
    let csrf = home.hidden("_csrf");
    let grid = a.f.grid_a1_2.id.0.to_string();
    let saved = a
        .post(
            "/me/home",
            &cookie,
            &[("_csrf", &csrf), ("area_id", &grid), ("next", "/file")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let file = a.get("/file", &cookie).await;
    assert!(
        file.html
            .contains(&format!("<option value=\"{grid}\" selected>")),
        "the home grid is chosen"
    );
}

#[tokio::test]
async fn the_inbox_counts_unread_opens_the_request_and_keeps_sms_choices() {
    let a = app().await;
    let resident = a.login("resident").await;
    let id = a
        .file(&resident, "东门路灯不亮", Some(a.f.cat_garbage.id.0))
        .await;
    let grid = a.login("grid").await;
    a.step(id, "accept", &grid, &[("level", "grid")]).await;
    let unit = a.f.unit_grid_a1_1.id.0.to_string();
    a.step(id, "dispatch", &grid, &[("unit_id", &unit)]).await;
    // The volunteer of the unit sees one unread message in the header of every page.
    let volunteer = a.login("volunteer").await;
    let home = a.get("/mine", &volunteer).await;
    assert!(home.html.contains("href=\"/inbox\""));
    assert!(home.html.contains("class=\"badge\""), "{}", home.html);
    let inbox = a.get("/inbox", &volunteer).await;
    assert_eq!(inbox.status, StatusCode::OK);
    assert!(
        inbox.html.contains("有新的派单，请接单办理"),
        "{}",
        inbox.html
    );
    assert!(inbox.html.contains("class=\"unread\""));
    let start = inbox.html.find("href=\"/inbox/").unwrap() + "href=\"".len();
    let end = inbox.html[start..].find('"').unwrap() + start;
    let link = inbox.html[start..end].to_string();
    // Opening it goes to the request and marks it read.
    let opened = a.get(&link, &volunteer).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER);
    assert_eq!(opened.location, format!("/requests/{id}"));
    let after = a.get("/inbox", &volunteer).await;
    assert!(!after.html.contains("class=\"unread\""));
    assert!(!after.html.contains("class=\"badge\""));
    // Someone else's message is not theirs to open.
    let other = a.login("other").await;
    assert_eq!(a.get(&link, &other).await.status, StatusCode::NOT_FOUND);
    // SMS choices are kept; a forged form changes nothing.
    let csrf = after.hidden("_csrf");
    let saved = a
        .post(
            "/inbox/sms",
            &volunteer,
            &[
                ("_csrf", &csrf),
                ("kind", "dispatched"),
                ("kind", "nonsense"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let me = a.f.volunteer.id;
    let store = a.state.service.store();
    assert_eq!(store.sms_choices(me).await.unwrap(), ["dispatched"]);
    let forged = a
        .post("/inbox/sms", &volunteer, &[("kind", "rework")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(store.sms_choices(me).await.unwrap(), ["dispatched"]);
    let page = a.get("/inbox", &volunteer).await;
    assert!(
        page.html
            .contains("id=\"sms-dispatched\" name=\"kind\" value=\"dispatched\" checked")
    );
    // Mark all read.
    let all = a
        .post("/inbox/read", &grid, &[("_csrf", &a.csrf(&grid).await)])
        .await;
    assert_eq!(all.status, StatusCode::SEE_OTHER);
    assert_eq!(store.unread_count(a.f.grid_worker.id).await.unwrap(), 0);
}

#[tokio::test]
async fn the_queue_offers_its_ledger_with_its_filters() {
    let a = app().await;
    let grid = a.login("grid").await;
    let q = a.get("/queue?level=grid", &grid).await;
    assert_eq!(q.status, StatusCode::OK);
    assert!(
        q.html
            .contains("href=\"/api/requests?format=xlsx&#38;level=grid&#38;status=submitted%2C"),
        "{}",
        q.html
    );
    assert!(q.html.contains("format=csv"));
}

#[tokio::test]
async fn hotline_staff_file_for_a_caller_who_later_signs_up_and_finds_it() {
    let a = app().await;
    let staff = a.login("community").await;
    let form = a.get("/file", &staff).await;
    assert!(form.html.contains("name=\"requester_phone\""));
    assert!(form.html.contains("<option value=\"hotline\" selected>"));
    let csrf = a.csrf(&staff).await;
    let area = a.f.grid_a1_1.id.0.to_string();
    let filed = a
        .post_multipart(
            "/file",
            &staff,
            &[
                ("_csrf", &csrf),
                ("key", "hotline-1"),
                ("channel", "hotline"),
                ("requester_phone", "139-0001-2345"),
                ("requester_name", "刘大爷"),
                ("description", "来电反映：楼顶水箱漏水"),
                ("area_id", &area),
            ],
            None,
        )
        .await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.html);
    let id: i64 = filed
        .location
        .trim_start_matches("/requests/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let store = a.state.service.store();
    let r = store.request(RequestId(id)).await.unwrap().unwrap();
    assert_eq!(r.channel, Channel::Hotline);
    let caller = store.person_by_phone("13900012345").await.unwrap().unwrap();
    assert_eq!(r.requester_id, Some(caller.id));
    // A channel staff may not use is said at its field.
    let bad = a
        .post_multipart(
            "/file",
            &staff,
            &[
                ("_csrf", &csrf),
                ("key", "hotline-2"),
                ("channel", "power_alert"),
                ("description", "x"),
                ("area_id", &area),
            ],
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The caller signs up with that phone and finds the request among their own.
    let s = &a.state.service;
    s.send_signup_code("13900012345", "10.9.9.9").await.unwrap();
    let code = redgrid_app::testing::sms_code(s, "13900012345").await;
    let form = redgrid_app::signup::SignUp {
        phone: "13900012345".into(),
        code,
        password: "caller-pw-2026".into(),
        name: None,
    };
    let session = s.sign_up(&form, 1).await.unwrap();
    assert_eq!(session.person.id, caller.id);
    let cookie = format!("redgrid_session={}", session.token);
    let mine = a.get("/mine", &cookie).await;
    assert!(
        mine.html.contains(&format!("/requests/{id}")),
        "{}",
        mine.html
    );
    // A resident's own form has no such fields.
    let resident = a.login("resident").await;
    let own = a.get("/file", &resident).await;
    assert!(!own.html.contains("name=\"requester_phone\""));
}

#[tokio::test]
async fn those_in_charge_see_whom_to_reach_on_the_request_page_and_it_is_logged() {
    let a = app().await;
    let resident = a.login("resident").await;
    let id = a.file(&resident, "楼道灯坏了", None).await;
    let own = a.get(&format!("/requests/{id}"), &resident).await;
    assert!(
        !own.html.contains("class=\"contact\""),
        "not shown to the requester about themselves"
    );
    let grid = a.login("grid").await;
    let page = a.get(&format!("/requests/{id}"), &grid).await;
    let phone = a.f.resident.phone.clone().unwrap();
    assert!(page.html.contains("class=\"contact\""), "{}", page.html);
    assert!(page.html.contains(&phone));
    let store = a.state.service.store();
    let log = store
        .access_log(&redgrid_store::AccessQuery {
            request: Some(RequestId(id)),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].viewer_id, a.f.grid_worker.id);
    assert_eq!(log[0].via, "page");
    let supervisor = a.login("supervisor").await;
    let masked = a.get(&format!("/requests/{id}"), &supervisor).await;
    assert_eq!(masked.status, StatusCode::OK);
    assert!(!masked.html.contains(&phone));
    assert_eq!(
        store
            .access_log(&redgrid_store::AccessQuery {
                request: Some(RequestId(id)),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_alliance_is_ended_from_its_register_page() {
    let a = app().await;
    let s = &a.state.service;
    s.create_alliance(
        &Actor::Person(a.f.admin.clone()),
        redgrid_store::org::NewAlliance {
            code: "PORT".into(),
            name: "港口党建联盟".into(),
            area_id: a.f.street_a.id,
            level: Level::Street,
            lead_org_id: None,
            goals: String::new(),
            member_unit_ids: vec![a.f.unit_dept.id],
            groups: vec![],
        },
    )
    .await
    .unwrap();
    let admin = a.login("admin").await;
    let page = a.get("/org/alliances", &admin).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html.contains("action=\"/org/alliances/end\""),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("<option value=\"alliances\" selected>"),
        "the import takes alliances"
    );
    let csrf = page.hidden("_csrf");
    let bad = a
        .post(
            "/org/alliances/end",
            &admin,
            &[("_csrf", &csrf), ("code", "PORT"), ("ended_on", "someday")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = a
        .post(
            "/org/alliances/end",
            &admin,
            &[
                ("_csrf", &csrf),
                ("code", "PORT"),
                ("ended_on", "2026-12-31"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let after = a.get("/org/alliances", &admin).await;
    assert!(after.html.contains("2026-12-31"));
    assert!(
        !after.html.contains("action=\"/org/alliances/end\""),
        "nothing left to end"
    );
}

/// An SMS platform that is down.
struct DownSms;

#[async_trait::async_trait]
impl redgrid_app::sms::SmsSender for DownSms {
    fn name(&self) -> String {
        "http://sms.example/send".into()
    }
    async fn send(&self, _: &str, _: &str) -> Result<(), String> {
        Err("connect: connection refused".into())
    }
}

#[tokio::test]
async fn administrators_see_the_text_messages_that_could_not_be_sent() {
    let db = testing::sqlite().await.unwrap();
    let (service, f) = testing::seed(db.store.clone()).await.unwrap();
    let service = service
        .with_sms(Arc::new(DownSms))
        .with_sms_retry(redgrid_app::sms::Retry {
            attempts: 2,
            first_pause: std::time::Duration::from_millis(1),
        });
    service
        .set_login(&Actor::System, f.admin.id, Some("admin"), PASSWORD, false)
        .await
        .unwrap();
    let state = Arc::new(AppState::new(Arc::new(service)));
    let a = App {
        router: router(state.clone()),
        state,
        f,
        db,
    };
    // Asking for a code never waits for the platform, even when it is down.
    a.state
        .service
        .send_signup_code("13900077001", "10.1.1.1")
        .await
        .unwrap();
    for _ in 0..200 {
        if !a.state.service.sms().failures().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let admin = a.login("admin").await;
    let page = a.get("/dashboard", &admin).await;
    assert!(page.html.contains("短信发送失败"), "{}", page.html);
    assert!(page.html.contains("139****7001"), "the phone is masked");
    assert!(!page.html.contains("13900077001"));
    assert!(page.html.contains("connection refused"));
}

#[tokio::test]
async fn an_alliance_is_created_and_edited_from_its_register_page() {
    let a = app().await;
    let admin_actor = Actor::Person(a.f.admin.clone());
    // The units it joins have codes (given by the units register).
    let units = "单位编码,单位名称,单位类型,所在区划代码\r\nU-DEPT,区住房和建设委员会,区级部门,120116\r\nU-TG,塘沽街道办事处,街镇,120116001\r\n";
    let rep = a
        .state
        .service
        .import_register(
            &admin_actor,
            redgrid_app::registers::Register::Units,
            units.as_bytes(),
            false,
            redgrid_core::error::Lang::Zh,
        )
        .await
        .unwrap();
    assert!(rep.imported, "{:?}", rep.issues);
    let admin = a.login("admin").await;
    let page = a.get("/org/alliances", &admin).await;
    assert!(page.html.contains("action=\"/org/alliances/save\""));
    let csrf = page.hidden("_csrf");
    let street = a.f.street_a.id.0.to_string();
    let form = |members: &'static str, name: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("code", "PORT".to_string()),
            ("name", name.to_string()),
            ("area_id", street.clone()),
            ("level", "street".to_string()),
            ("members", members.to_string()),
            ("groups", "用工服务组".to_string()),
        ]
    };
    let send = |f: Vec<(&'static str, String)>| {
        let a = &a;
        let admin = admin.clone();
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            a.post("/org/alliances/save", &admin, &pairs).await
        }
    };
    // An unknown member code is refused, and nothing is written.
    let bad = send(form("U-NONE", "港口党建联盟")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    let store = a.state.service.store();
    assert!(store.alliances().await.unwrap().is_empty());
    let made = send(form("U-DEPT、U-TG", "港口党建联盟")).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.html);
    let all = store.alliances().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].member_unit_ids.len(), 2);
    // The same code again edits it.
    let edited = send(form("U-DEPT", "港口企业党建联盟")).await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.html);
    let all = store.alliances().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, "港口企业党建联盟");
    assert_eq!(all[0].member_unit_ids, vec![a.f.unit_dept.id]);
    // A street's staff may not.
    let street_staff = a.login("street").await;
    let page = a.get("/org", &street_staff).await;
    let csrf = page.hidden("_csrf");
    let refused = a
        .post(
            "/org/alliances/save",
            &street_staff,
            &[
                ("_csrf", &csrf),
                ("code", "X"),
                ("name", "x"),
                ("area_id", &street),
                ("members", "U-DEPT"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_login_form_posted_from_another_site_is_refused() {
    let a = app().await;
    let body = format!("login=grid&password={PASSWORD}&next=%2F");
    for (origin, fetch_site, status) in [
        (Some("http://evil.example"), None, StatusCode::FORBIDDEN),
        (Some("null"), None, StatusCode::FORBIDDEN),
        (None, Some("cross-site"), StatusCode::FORBIDDEN),
        (Some("http://redgrid.local"), None, StatusCode::SEE_OTHER),
        (None, Some("same-origin"), StatusCode::SEE_OTHER),
        (None, None, StatusCode::SEE_OTHER),
    ] {
        let mut b = HttpRequest::post("/login")
            .header(header::HOST, "redgrid.local")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        if let Some(s) = fetch_site {
            b = b.header("sec-fetch-site", s);
        }
        let p = a.send(b.body(Body::from(body.clone())).unwrap()).await;
        assert_eq!(p.status, status, "{origin:?} {fetch_site:?}");
        if status == StatusCode::FORBIDDEN {
            assert!(
                p.cookies.iter().all(|c| !c.starts_with("redgrid_session=")),
                "no session"
            );
            assert!(p.html.contains("登录须在本站页面上进行"), "{}", p.html);
        }
    }
}

/// Issue 22, part 4: the auditor's page lists who saw whose data and why, searches by phone, and
/// links the same search's export; the district administrator gets 403.
#[tokio::test]
async fn the_auditor_page_shows_and_searches_the_access_log() {
    let a = app().await;
    let resident = a.login("resident").await;
    let grid = a.login("grid").await;
    let id = a
        .file(&resident, "楼道灯坏了", Some(a.f.cat_garbage.id.0))
        .await;
    // The grid worker opens it (a need-to-know view, logged).
    assert_eq!(
        a.get(&format!("/requests/{id}"), &grid).await.status,
        StatusCode::OK
    );
    let auditor = a.login("auditor").await;
    let home = a.get("/", &auditor).await;
    assert!(
        home.html.contains("href=\"/audit\""),
        "the navigation offers the log"
    );
    let p = a.get("/audit", &auditor).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert!(p.html.contains(&a.f.grid_worker.name) && p.html.contains(&a.f.resident.name));
    assert!(p.html.contains("页面查看") && p.html.contains(&format!("#{id}")));
    let phone = a.f.other_resident.phone.clone().unwrap();
    let p = a.get(&format!("/audit?phone={phone}"), &auditor).await;
    assert!(
        p.html.contains("没有符合条件的记录"),
        "nothing was seen of the other resident"
    );
    assert!(
        p.html.contains(&format!("format=xlsx&amp;phone={phone}"))
            || p.html.contains(&format!("format=xlsx&phone={phone}")),
        "the export keeps the search"
    );
    let p = a.get("/audit?viewer_id=abc", &auditor).await;
    assert!(p.html.contains("应为正整数"), "a bad number is said");
    for who in ["admin", "grid"] {
        let cookie = a.login(who).await;
        let p = a.get("/audit", &cookie).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{who}");
        assert!(
            !p.html.contains(&a.f.resident.name),
            "{who} sees nothing of the log"
        );
    }
}
