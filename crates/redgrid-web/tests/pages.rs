//! The web pages through the router (no socket), on SQLite: logging in, filing (with its refusals and
//! a double submit), every step of a request's life through the forms, the queue's bulk dispatch, the
//! public lists, the language switch, and the refusals each page must show readably.

use axum::body::Body;
use axum::http::{Request as HttpRequest, StatusCode, header};
use http_body_util::BodyExt;
use redgrid_core::person::Actor;
use redgrid_core::request::Status;
use redgrid_store::testing::{self, Fixture};
use redgrid_web::{AppState, router};
use std::sync::Arc;
use tower::ServiceExt;

const PASSWORD: &str = "page-test-pw-2026";

struct App {
    router: axum::Router,
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
    let db = testing::sqlite().await.unwrap();
    let (service, f) = testing::seed(db.store.clone()).await.unwrap();
    for (p, user) in [
        (&f.resident, "resident"),
        (&f.other_resident, "other"),
        (&f.grid_worker, "grid"),
        (&f.community_staff, "community"),
        (&f.volunteer, "volunteer"),
        (&f.verifier, "verifier"),
        (&f.supervisor, "supervisor"),
        (&f.admin, "admin"),
    ] {
        service
            .set_login(&Actor::System, p.id, Some(user), PASSWORD, false)
            .await
            .unwrap();
    }
    let state = Arc::new(AppState::new(Arc::new(service)));
    App {
        router: router(state),
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
    assert_eq!(p.location, "/");
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
    assert!(p.field_error("file-photo").is_none());
    assert!(p.html.contains("class=\"error\""));
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
    assert!(p.html.contains("139****5678"));
    assert!(!p.html.contains("13912345678"));
    assert!(!p.html.contains(&a.f.resident.name));
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
    let today = redgrid_store::organise::today().to_string();
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
