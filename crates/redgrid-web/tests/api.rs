//! The JSON API end to end through the router (no socket), on SQLite.

use axum::body::Body;
use axum::http::{Request as HttpRequest, StatusCode, header};
use http_body_util::BodyExt;
use redgrid_app::testing::{self, Fixture};
use redgrid_web::{AppState, router};
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

struct App {
    router: axum::Router,
    state: Arc<AppState>,
    f: Fixture,
    /// Each person's short name in these tests → their API token.
    tokens: std::collections::HashMap<&'static str, String>,
    _db: testing::TestDb,
}

async fn app() -> App {
    let db = testing::sqlite().await.unwrap();
    let (service, f) = testing::seed(db.store.clone()).await.unwrap();
    let mut tokens = std::collections::HashMap::new();
    for (p, tok) in [
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
    ] {
        tokens.insert(tok, testing::api_token(&service, p).await.unwrap());
    }
    let state = Arc::new(AppState::new(Arc::new(service)));
    App {
        router: router(state.clone()),
        state,
        f,
        tokens,
        _db: db,
    }
}

struct Resp {
    status: StatusCode,
    body: Value,
    headers: axum::http::HeaderMap,
}

impl App {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Resp {
        let mut b = HttpRequest::builder().method(method).uri(uri);
        if let Some(t) = token {
            // A short name stands for that person's token; anything else is sent as it is.
            let t = self.tokens.get(t).map_or(t, String::as_str);
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        for (k, v) in extra {
            b = b.header(*k, *v);
        }
        let req = b.body(Body::from(body.unwrap_or("").to_string())).unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            headers,
        }
    }
    async fn post(&self, uri: &str, token: &str, body: Value) -> Resp {
        self.call("POST", uri, Some(token), Some(&body.to_string()), &[])
            .await
    }
    async fn get(&self, uri: &str, token: &str) -> Resp {
        self.call("GET", uri, Some(token), None, &[]).await
    }
    async fn file(&self, token: &str) -> i64 {
        let r = self
            .post("/api/requests", token, json!({"channel": "app", "description": "小区东门路灯不亮", "area_id": self.f.grid_a1_1.id.0}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    }
    async fn step(&self, id: i64, command: &str, token: &str, body: Value) -> Value {
        let r = self
            .post(&format!("/api/requests/{id}/{command}"), token, body)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{command}: {}", r.body);
        r.body
    }
}

#[tokio::test]
async fn a_request_walks_from_submitted_to_closed_over_http() {
    let a = app().await;
    let id = a.file("resident").await;
    let cat = a.f.cat_garbage.id.0;
    let unit = a.f.unit_grid_a1_1.id.0;
    let r = a
        .step(id, "accept", "grid", json!({"category_id": cat}))
        .await;
    assert_eq!(r["request"]["status"], "accepted");
    assert_eq!(r["event"]["kind"], "accepted");
    a.step(id, "dispatch", "grid", json!({"unit_id": unit}))
        .await;
    a.step(id, "claim", "volunteer", json!({})).await;
    a.step(
        id,
        "note",
        "volunteer",
        json!({"text": "已与居民电话联系", "contact_made": true}),
    )
    .await;
    a.step(
        id,
        "resolve",
        "volunteer",
        json!({"summary": "已更换灯泡", "cost_fen": 3500}),
    )
    .await;
    a.step(id, "verify", "verifier", json!({"passed": true}))
        .await;
    let r = a
        .step(
            id,
            "rate",
            "resident",
            json!({"resolved": true, "satisfaction": "satisfied", "comment": "谢谢"}),
        )
        .await;
    assert_eq!(r["request"]["status"], "closed");
    let t = a.get(&format!("/api/requests/{id}"), "resident").await;
    assert_eq!(t.status, StatusCode::OK);
    let kinds: Vec<&str> = t.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
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
            "rated"
        ]
    );
    assert_eq!(t.body["request"]["version"], 8);
}

#[tokio::test]
async fn refusals_carry_status_code_and_message_in_the_callers_language() {
    let a = app().await;
    let id = a.file("resident").await;
    // 401 without or with a bad token.
    let r = a.call("GET", "/api/requests", None, None, &[]).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let r = a.get("/api/requests", "forged").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // 400 malformed JSON.
    let r = a
        .call(
            "POST",
            "/api/requests",
            Some("resident"),
            Some("{\"channel\":"),
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    // 404 unknown request, bad id, unknown command, unknown route.
    for uri in [
        "/api/requests/999999/claim".to_string(),
        "/api/requests/abc/claim".into(),
    ] {
        let r = a.post(&uri, "volunteer", json!({})).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("request_not_found")),
            "{uri}"
        );
    }
    let r = a
        .post(&format!("/api/requests/{id}/teleport"), "grid", json!({}))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let r = a.get("/api/nothing-here", "grid").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // 409 names the current state, in Chinese by default and English on request.
    let r = a
        .post(
            &format!("/api/requests/{id}/dispatch"),
            "grid",
            json!({"unit_id": a.f.unit_grid_a1_1.id.0}),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.body["code"].as_str(),
            r.body["current_status"].as_str()
        ),
        (
            StatusCode::CONFLICT,
            Some("invalid_transition"),
            Some("submitted")
        )
    );
    assert!(
        r.body["message"].as_str().unwrap().contains("已提交"),
        "{}",
        r.body
    );
    let r = a
        .call(
            "POST",
            &format!("/api/requests/{id}/dispatch"),
            Some("grid"),
            Some(&json!({"unit_id": a.f.unit_grid_a1_1.id.0}).to_string()),
            &[("accept-language", "en-US,en;q=0.9")],
        )
        .await;
    assert!(
        r.body["message"].as_str().unwrap().contains("submitted"),
        "{}",
        r.body
    );
    // 403 role, and scope.
    let r = a
        .post(
            &format!("/api/requests/{id}/accept"),
            "volunteer",
            json!({"category_id": 1}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("role_not_allowed"))
    );
    // 422 lists every bad field: wrong types, missing, unknown.
    let r = a
        .post(
            "/api/requests",
            "resident",
            json!({"channel": "fax", "description": 5, "area_id": "x", "colour": "red"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
    );
    let fields: Vec<(String, String)> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("channel", "invalid"),
        ("description", "invalid_type"),
        ("area_id", "invalid_type"),
        ("colour", "unknown_field"),
    ] {
        assert!(
            fields.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {fields:?}"
        );
    }
    // Each bad field is named once, with what is wrong with it: not also as missing.
    for name in ["channel", "description", "area_id"] {
        assert_eq!(
            fields.iter().filter(|(f, _)| f == name).count(),
            1,
            "{name} in {fields:?}"
        );
    }
    let r = a
        .post(
            "/api/requests",
            "resident",
            json!({"description": "x".repeat(2001), "area_id": a.f.grid_a1_1.id.0}),
        )
        .await;
    let codes: Vec<&str> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["required", "too_long"], "{}", r.body);
    assert_eq!(r.body["fields"][1]["message"], "不能超过 2000 个字符");
    // Nothing above changed the request.
    let t = a.get(&format!("/api/requests/{id}"), "grid").await;
    assert_eq!(t.body["request"]["version"], 1);
    // An oversized body is a 413 in the same JSON shape.
    let huge = format!("{{\"description\": \"{}\"}}", "长".repeat(100_000));
    let r = a
        .call("POST", "/api/requests", Some("resident"), Some(&huge), &[])
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    // A non-JSON-object body is a 422 on the body itself.
    let r = a.post("/api/requests", "resident", json!([1, 2])).await;
    assert_eq!(r.body["fields"][0]["field"], "body");
}

#[tokio::test]
async fn idempotency_key_replays_the_first_request_or_refuses_a_different_body() {
    let a = app().await;
    let body =
        json!({"channel": "app", "description": "楼道灯坏了", "area_id": a.f.grid_a1_1.id.0})
            .to_string();
    let first = a
        .call(
            "POST",
            "/api/requests",
            Some("resident"),
            Some(&body),
            &[("idempotency-key", "abc-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.headers.get("location").is_some());
    let again = a
        .call(
            "POST",
            "/api/requests",
            Some("resident"),
            Some(&body),
            &[("idempotency-key", "abc-1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], first.body["id"]);
    let other = json!({"channel": "app", "description": "另一件事", "area_id": a.f.grid_a1_1.id.0})
        .to_string();
    let clash = a
        .call(
            "POST",
            "/api/requests",
            Some("resident"),
            Some(&other),
            &[("idempotency-key", "abc-1")],
        )
        .await;
    assert_eq!(
        (clash.status, clash.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("idempotency_key_reused"))
    );
}

#[tokio::test]
async fn lists_filter_paginate_and_keep_residents_to_their_own() {
    let a = app().await;
    let mine: Vec<i64> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(a.file("resident").await);
        }
        v
    };
    let theirs = a.file("other").await;
    a.step(
        mine[0],
        "accept",
        "grid",
        json!({"category_id": a.f.cat_road.id.0}),
    )
    .await;
    let r = a.get("/api/requests?limit=2", "grid").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let mut seen = Vec::new();
    let mut uri = "/api/requests?limit=2".to_string();
    loop {
        let page = a.get(&uri, "grid").await;
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_i64().unwrap()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/requests?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    let r = a.get("/api/requests?status=accepted", "grid").await;
    assert_eq!(r.body["items"][0]["id"].as_i64(), Some(mine[0]));
    let r = a
        .get(
            &format!(
                "/api/requests?status=submitted,accepted&area_id={}&tier=medium&level=street",
                a.f.street_a.id
            ),
            "grid",
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = a
        .get(
            "/api/requests?q=%E8%B7%AF%E7%81%AF&created_from=2020-01-01&created_to=2099-12-31",
            "grid",
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 6);
    // A resident sees only their own, in lists and by id.
    let r = a.get("/api/requests", "other").await;
    let ids: Vec<i64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![theirs]);
    let r = a.get(&format!("/api/requests/{}", mine[1]), "other").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Bad parameters are all listed.
    let r = a.get("/api/requests?status=nope&limit=0&cursor=zz&area_id=999&colour=red&created_from=yesterday", "grid").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "status",
            "limit",
            "cursor",
            "area_id",
            "colour",
            "created_from"
        ]
    );
}

#[tokio::test]
async fn directory_and_catalogue_endpoints() {
    let a = app().await;
    let r = a.call("GET", "/api/areas", None, None, &[]).await;
    assert_eq!(r.body.as_array().unwrap().len(), 8);
    let r = a
        .call(
            "GET",
            &format!("/api/areas/{}", a.f.grid_a1_1.id),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.body["path"].as_array().unwrap().len(), 3);
    let r = a
        .call(
            "GET",
            &format!("/api/areas?parent_id={}", a.f.street_a.id),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = a.call("GET", "/api/areas/424242", None, None, &[]).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("area_not_found"))
    );
    let r = a
        .call("GET", "/api/units?level=street", None, None, &[])
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = a.call("GET", "/api/units/424242", None, None, &[]).await;
    assert_eq!(r.body["code"], "unit_not_found");
    let r = a.call("GET", "/api/categories", None, None, &[]).await;
    assert_eq!(r.body[0]["items"].as_array().unwrap().len(), 2);
    let item = json!({"class_id": a.f.cat_garbage.class_id.0, "code": "env.noise", "name_zh": "噪声扰民", "name_en": "Noise", "default_tier": "minor"});
    let r = a.post("/api/categories/items", "grid", item.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = a.post("/api/categories/items", "admin", item.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["default_level"], "community");
    let id = r.body["id"].as_i64().unwrap();
    let r = a.post("/api/categories/items", "admin", item).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_exists"))
    );
    let r = a
        .call(
            "PATCH",
            &format!("/api/categories/items/{id}"),
            Some("admin"),
            Some(r#"{"active": false}"#),
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.body["active"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let r = a
        .call(
            "PATCH",
            "/api/categories/items/9999",
            Some("admin"),
            Some("{}"),
            &[],
        )
        .await;
    assert_eq!(r.body["code"], "category_not_found");
    // A sort position beyond 32 bits is refused, not cut to fit, and nothing is created.
    for (code, sort) in [("big", 2_147_483_648i64), ("small", -2_147_483_649)] {
        let r = a
            .post(
                "/api/categories/classes",
                "admin",
                json!({"code": code, "name_zh": "排序", "name_en": "Sort", "sort": sort}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.body["fields"][0]["field"], "sort");
        assert_eq!(r.body["fields"][0]["code"], "out_of_range");
    }
    // A whole number may be written with a zero fraction (JSON Schema counts 3.0 as an integer);
    // a fraction is refused.
    let r = a
        .post(
            "/api/categories/classes",
            "admin",
            json!({"code": "half", "name_zh": "排序", "name_en": "Sort", "sort": 2.5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["fields"][0]["code"], "invalid_type");
    let r = a
        .post(
            "/api/categories/classes",
            "admin",
            json!({"code": "safety", "name_zh": "平安建设", "name_en": "Safety", "sort": 3.0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let listed = a.get("/api/categories", "admin").await.body.to_string();
    assert!(listed.contains("\"safety\""), "{listed}");
    assert!(
        !listed.contains("\"big\"") && !listed.contains("\"small\""),
        "the refused classes were not created"
    );
    let r = a.get("/api/me", "verifier").await;
    assert_eq!(r.body["grants"][0]["role"], "verifier");
}

#[tokio::test]
async fn a_joint_meetings_decision_is_recorded_over_http_and_documented() {
    let a = app().await;
    let id = a.file("resident").await;
    let cat = a.f.cat_garbage.id.0;
    a.step(id, "accept", "grid", json!({"category_id": cat}))
        .await;
    // 议单: a supervisor of the area records what the joint meeting decided.
    let r = a
        .step(
            id,
            "deliberate",
            "supervisor",
            json!({"decision": "物业三日内修复，社区督促", "attendees": "社区、物业、业委会"}),
        )
        .await;
    assert_eq!(r["event"]["kind"], "deliberated");
    assert_eq!(r["request"]["status"], "accepted", "nothing else changes");
    // Every missing field at once, in the request's language.
    let r = a
        .post(
            &format!("/api/requests/{id}/deliberate"),
            "supervisor",
            json!({"attendees": 3}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let fields: Vec<(&str, &str)> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap(), f["code"].as_str().unwrap()))
        .collect();
    assert!(
        fields.contains(&("attendees", "invalid_type")),
        "{}",
        r.body
    );
    assert!(fields.contains(&("decision", "required")), "{}", r.body);
    // A grid worker may not convene one.
    let r = a
        .post(
            &format!("/api/requests/{id}/deliberate"),
            "grid",
            json!({"decision": "x", "attendees": "y"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // The document describes it from the same declaration.
    let doc = a.get("/api/openapi.json", "resident").await.body;
    let body = &doc["components"]["schemas"]["DeliberateBody"];
    assert_eq!(body["required"], json!(["decision", "attendees"]), "{body}");
    assert_eq!(body["properties"]["decision"]["maxLength"], 2000);
    assert_eq!(
        doc["paths"]["/api/requests/{id}/deliberate"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/DeliberateBody"
    );
}

#[tokio::test]
async fn errors_raised_with_a_bare_question_mark_are_worded_in_the_requests_language() {
    let a = app().await;
    // The handler meets the store's "not found" and passes it on with `?`; the middleware words it.
    for (lang, expect) in [("en", "request"), ("zh-CN", "诉求")] {
        let r = a
            .call(
                "GET",
                "/api/requests/999999",
                Some("resident"),
                None,
                &[("accept-language", lang)],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        assert_eq!(r.body["code"], "request_not_found");
        let message = r.body["message"].as_str().unwrap();
        assert!(message.contains(expect), "{lang}: {message}");
        let length: usize = r.headers["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            length,
            r.body.to_string().len(),
            "the length of the reworded body"
        );
    }
}

#[tokio::test]
async fn open311_answers_a_database_failure_with_500_not_404() {
    let a = app().await;
    let id = a.file("resident").await;
    // The requests table is gone: reading any request fails in the database.
    a._db
        .store
        .execute_raw("ALTER TABLE requests RENAME TO requests_gone")
        .await
        .unwrap();
    for uri in [
        format!("/open311/v2/requests/{id}.json"),
        format!("/open311/v2/tokens/{id}.json"),
        format!("/open311/v2/requests.json?service_request_id={id}"),
    ] {
        let (st, body, _) = raw(&a, &uri).await;
        assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR, "{uri}: {body}");
        let e = json_of(&body);
        assert_eq!(e[0]["code"], 500, "{body}");
        let description = e[0]["description"].as_str().unwrap();
        assert!(
            !description.contains("requests"),
            "nothing of the database: {description}"
        );
    }
}

#[tokio::test]
async fn attachments_upload_and_download() {
    let a = app().await;
    let req = HttpRequest::builder()
        .method("POST")
        .uri("/api/attachments")
        .header("authorization", format!("Bearer {}", a.tokens["resident"]))
        .header("content-type", "image/png")
        .body(Body::from(&b"\x89PNG\r\n\x1a\n..."[..]))
        .unwrap();
    let res = a.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let att = body["id"].as_str().unwrap().to_string();
    let r = a
        .post("/api/requests", "resident", json!({"channel": "app", "description": "井盖缺失", "area_id": a.f.grid_a1_1.id.0, "attachments": [{"id": att, "name": "井盖.png"}]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let req = HttpRequest::builder()
        .method("POST")
        .uri("/api/attachments")
        .header("authorization", format!("Bearer {}", a.tokens["resident"]))
        .header("content-type", "text/html")
        .body(Body::from("<script>"))
        .unwrap();
    let res = a.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = a
        .router
        .clone()
        .oneshot(
            HttpRequest::builder()
                .uri(format!("/api/attachments/{att}"))
                .header("authorization", format!("Bearer {}", a.tokens["grid"]))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "image/png");
    // Someone who may not see the request does not get its file either.
    let res = a
        .router
        .clone()
        .oneshot(
            HttpRequest::builder()
                .uri(format!("/api/attachments/{att}"))
                .header("authorization", format!("Bearer {}", a.tokens["other"]))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint_and_command() {
    let a = app().await;
    let r = a.call("GET", "/api/openapi.json", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let paths = r.body["paths"].as_object().unwrap();
    // Every operation id is unique (client generators and validators require it).
    let mut ids = std::collections::BTreeSet::new();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            if let Some(id) = op["operationId"].as_str() {
                assert!(
                    ids.insert(id.to_string()),
                    "{method} {path}: operationId {id} repeats"
                );
            }
        }
    }
    for p in ["/api/public/{list}", "/api/requests/{id}/reveal"] {
        assert!(paths.contains_key(p), "{p}");
    }
    // Word sets list the identifiers the API carries, not the Rust names (a schema fuzzer found
    // every status, channel and level answered outside its own document).
    let schemas = &r.body["components"]["schemas"];
    for (schema, word) in [
        ("Status", "closed"),
        ("Channel", "app"),
        ("Level", "district"),
    ] {
        let words: Vec<&str> = schemas[schema]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema} has an enum"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(words.contains(&word), "{schema}: {words:?}");
        assert!(
            words.iter().all(|w| w.chars().all(|c| !c.is_uppercase())),
            "{schema}: {words:?}"
        );
    }
    for cmd in redgrid_core::policy::CommandKind::ALL {
        if cmd != redgrid_core::policy::CommandKind::Submit {
            assert!(
                paths.contains_key(&format!("/api/requests/{{id}}/{}", cmd.as_str())),
                "{cmd:?}"
            );
        }
    }
    for p in [
        "/api/requests",
        "/api/requests/{id}",
        "/api/areas",
        "/api/units",
        "/api/categories",
        "/api/me",
        "/api/me/messages",
        "/api/scorecard",
        "/api/grants",
        "/api/grants/revoke",
    ] {
        assert!(paths.contains_key(p), "{p}");
    }
    assert!(r.body["components"]["schemas"]["ErrorBody"].is_object());
    // Every path parameter names a segment of its path; query parameters are not in the path.
    for (path, item) in paths {
        for (_, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                let in_path = path.contains(&format!("{{{name}}}"));
                assert_eq!(
                    p["in"] == "path",
                    in_path,
                    "{path}: parameter {name} is in {}",
                    p["in"]
                );
            }
        }
    }
}

#[tokio::test]
async fn scorecard_lights_and_messages_over_http() {
    let a = app().await;
    let id = a.file("resident").await;
    a.step(
        id,
        "accept",
        "grid",
        json!({"category_id": a.f.cat_garbage.id.0}),
    )
    .await;
    a.step(
        id,
        "dispatch",
        "grid",
        json!({"unit_id": a.f.unit_grid_a1_1.id.0}),
    )
    .await;
    // Lists carry each request's light and filter by it; bad values are refused with the field.
    let r = a.get("/api/requests?light=red", "grid").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = a.get("/api/requests", "grid").await;
    assert!(
        r.body["items"][0]
            .as_object()
            .unwrap()
            .contains_key("light")
    );
    for bad in [
        "/api/requests?light=blue",
        "/api/requests?due_within_hours=0",
        "/api/requests?due_within_hours=x",
    ] {
        let r = a.get(bad, "grid").await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.body
        );
    }
    let r = a.get("/api/requests?due_within_hours=720", "grid").await;
    assert_eq!(r.status, StatusCode::OK);
    // The volunteer of the unit was told about the dispatch.
    let r = a.get("/api/me/messages", "volunteer").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body[0]["kind"], "dispatched");
    assert_eq!(r.body[0]["request_id"], id);
    assert!(r.body[0]["title"].as_str().unwrap().contains("派单"));
    // The scorecard: every unit listed, rates null without a denominator, ranked by composite.
    let r = a.get("/api/scorecard?by=unit&period=2026", "admin").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["rows"].as_array().unwrap().len() >= 5);
    assert!(r.body["total"]["response_rate"].is_null());
    assert_eq!(r.body["period"]["start"], "2026-01-01");
    let r = a
        .get("/api/scorecard?period=2026-Q4&by=street", "admin")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for (uri, field, code) in [
        ("/api/scorecard", "period", "required"),
        ("/api/scorecard?period=2026-13", "period", "invalid"),
        (
            "/api/scorecard?period=2026-10-15..2026-10-01",
            "period",
            "invalid",
        ),
        ("/api/scorecard?period=2026-10&by=planet", "by", "invalid"),
        (
            "/api/scorecard?period=2026-10&color=red",
            "color",
            "unknown_field",
        ),
    ] {
        let r = a.get(uri, "admin").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        assert_eq!(r.body["fields"][0]["field"], field, "{uri}: {}", r.body);
        assert_eq!(r.body["fields"][0]["code"], code, "{uri}");
    }
    let r = a.get("/api/scorecard?period=2026-10", "resident").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The same figures as a file to report upward with: Excel or CSV, with Chinese headers.
    let (st, body, ctype) =
        raw_as(&a, "/api/scorecard?by=unit&period=2026&format=csv", "admin").await;
    assert_eq!(st, StatusCode::OK);
    assert!(ctype.starts_with("text/csv"), "{ctype}");
    assert!(body.contains("排名") && body.contains("综合得分"), "{body}");
    assert!(
        body.lines().count() >= 7,
        "header, every unit and the total: {body}"
    );
    let (st, xlsx, ctype) = raw_as(
        &a,
        "/api/scorecard?by=unit&period=2026&format=xlsx",
        "admin",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(ctype.contains("spreadsheetml"), "{ctype}");
    assert!(xlsx.starts_with("PK"), "a zip (xlsx) file");
    let r = a
        .get("/api/scorecard?period=2026&format=pdf", "admin")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["fields"][0]["field"], "format");
    let (st, _, _) = raw_as(&a, "/api/scorecard?period=2026&format=xlsx", "resident").await;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "exports follow the viewer's scope"
    );
}

/// GETs `uri` as one of the test people; the body as text (lossy for binary files) and its type.
async fn raw_as(a: &App, uri: &str, who: &str) -> (StatusCode, String, String) {
    let req = HttpRequest::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {}", a.tokens[who]))
        .body(Body::empty())
        .unwrap();
    let res = a.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ctype = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).to_string(), ctype)
}

/// Sends `method uri` with a session cookie and, optionally, a CSRF token.
async fn with_cookie(
    app: &App,
    method: &str,
    uri: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let cookie = format!("redgrid_session={cookie}");
    let mut extra = vec![("cookie", cookie.as_str())];
    if let Some(c) = csrf {
        extra.push(("x-csrf-token", c));
    }
    let body = body.map(|b| b.to_string());
    app.call(method, uri, None, body.as_deref(), &extra).await
}

async fn login(app: &App, login: &str, password: &str) -> Resp {
    app.call(
        "POST",
        "/api/login",
        None,
        Some(&json!({"login": login, "password": password}).to_string()),
        &[("accept-language", "en")],
    )
    .await
}

fn session_of(r: &Resp) -> String {
    let set = r.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain http: {set}");
    set.trim_start_matches("redgrid_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_login_a_token_or_a_home_without_the_id_it_needs_is_refused_field_by_field() {
    let a = app().await;
    let fields = |r: &Resp| -> Vec<(String, String)> {
        r.body["fields"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|f| {
                        (
                            f["field"].as_str().unwrap().into(),
                            f["code"].as_str().unwrap().into(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let pair = |f: &str, c: &str| vec![(f.to_string(), c.to_string())];
    // No person: the id is required; an unreadable one is said to be wrong, and only that.
    for (body, expected) in [
        (
            json!({"password": "long enough 1"}),
            pair("person_id", "required"),
        ),
        (
            json!({"person_id": null, "password": "long enough 1"}),
            pair("person_id", "required"),
        ),
        (
            json!({"person_id": "seven", "password": "long enough 1"}),
            pair("person_id", "invalid_type"),
        ),
    ] {
        let r = a.post("/api/accounts", "admin", body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(fields(&r), expected);
    }
    let r = a
        .post(
            "/api/tokens",
            "admin",
            json!({"name": "hotline", "roles": ["grid_worker"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(fields(&r), pair("person_id", "required"));
    let r = a
        .call("PUT", "/api/me/home", Some("resident"), Some("{}"), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(fields(&r), pair("area_id", "required"));
    // A missing id is said beside the body's other faults.
    let r = a
        .call(
            "PUT",
            "/api/me/home",
            Some("resident"),
            Some(r#"{"x": 1}"#),
            &[],
        )
        .await;
    let mut both = pair("area_id", "required");
    both.extend(pair("x", "unknown_field"));
    assert_eq!(fields(&r), both);
    // Where an id may come from the record being changed, a new record still needs it, and an
    // unreadable one is said to be wrong, and only that.
    let class = a.f.cat_garbage.class_id.0;
    for (body, expected) in [
        (
            json!({"code": "env.dust", "name_zh": "扬尘", "name_en": "Dust", "default_tier": "minor"}),
            pair("class_id", "required"),
        ),
        (
            json!({"class_id": "one", "code": "env.dust", "name_zh": "扬尘", "name_en": "Dust", "default_tier": "minor"}),
            pair("class_id", "invalid_type"),
        ),
        (
            json!({"class_id": class, "code": "env.dust", "name_zh": "扬尘", "name_en": "Dust", "default_tier": "huge"}),
            pair("default_tier", "invalid"),
        ),
    ] {
        let r = a.post("/api/categories/items", "admin", body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(fields(&r), expected);
    }
    let alliance = |area: Value| {
        json!({"code": "DOCK", "name": "码头联盟", "area_id": area, "level": "street",
            "member_unit_ids": [a.f.unit_dept.id.0]})
    };
    for (area, code) in [(Value::Null, "required"), (json!("east"), "invalid_type")] {
        let r = a.post("/api/org/alliances", "admin", alliance(area)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(fields(&r), pair("area_id", code));
    }
    // Nothing was written: no token, no category, no alliance.
    let tokens = a.get("/api/tokens", "admin").await;
    assert!(
        !tokens.body.to_string().contains("hotline"),
        "{}",
        tokens.body
    );
    let categories = a.call("GET", "/api/categories", None, None, &[]).await;
    assert!(!categories.body.to_string().contains("env.dust"));
    let alliances = a.get("/api/org/alliances", "admin").await;
    assert!(
        !alliances.body.to_string().contains("DOCK"),
        "{}",
        alliances.body
    );
}

#[tokio::test]
async fn logins_sessions_csrf_throttling_and_api_tokens() {
    let app = app().await;
    let f = &app.f;
    let store = app._db.store.clone();
    // Only an administrator gives logins; weak passwords are refused field by field.
    let body = json!({"person_id": f.grid_worker.id.0, "username": "gw1", "password": "grid worker 2026", "must_change": false});
    let r = app.post("/api/accounts", "grid", body.clone()).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("role_not_allowed"))
    );
    let r = app
        .post(
            "/api/accounts",
            "admin",
            json!({"person_id": f.grid_worker.id.0, "password": "short1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["fields"][0]["field"], "password");
    let r = app
        .post(
            "/api/accounts",
            "admin",
            json!({"person_id": 999_999, "password": "long enough 1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(
        app.post("/api/accounts", "admin", body).await.status,
        StatusCode::NO_CONTENT
    );
    // The chain records the change, never the password.
    let chain = store.audit_rows(0, 10_000).await.unwrap();
    let last = chain.last().unwrap();
    assert!(
        last.record.payload.contains("create_account"),
        "{}",
        last.record.payload
    );
    assert!(
        !last.record.payload.contains("grid worker 2026")
            && !last.record.payload.contains("argon2")
    );

    // Wrong password and unknown login look the same.
    for (l, p) in [("gw1", "wrong password 1"), ("nobody", "grid worker 2026")] {
        let r = login(&app, l, p).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("bad_credentials"))
        );
        assert!(r.headers.get("set-cookie").is_none());
    }
    let r = login(&app, "", "").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // By username or by the phone on the record.
    let r = login(&app, "13800000003", "grid worker 2026").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = login(&app, "gw1", "grid worker 2026").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["person"]["id"], f.grid_worker.id.0);
    assert_eq!(r.body["must_change"], false);
    let csrf = r.body["csrf_token"].as_str().unwrap().to_string();
    let cookie = session_of(&r);
    let me = with_cookie(&app, "GET", "/api/me", &cookie, None, None).await;
    assert_eq!(
        (me.status, me.body["id"].as_i64()),
        (StatusCode::OK, Some(f.grid_worker.id.0))
    );
    for h in [
        "content-security-policy",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
    ] {
        assert!(me.headers.contains_key(h), "{h}");
    }
    assert!(
        me.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );

    // A change with the cookie needs the session's CSRF token; a refused one writes nothing.
    let before = store.count(&Default::default()).await.unwrap();
    let filing =
        json!({"channel": "grid_patrol", "description": "井盖破损", "area_id": f.grid_a1_1.id.0});
    for bad in [None, Some("not-the-token")] {
        let r = with_cookie(
            &app,
            "POST",
            "/api/requests",
            &cookie,
            bad,
            Some(filing.clone()),
        )
        .await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("csrf_failed")),
            "{bad:?}"
        );
    }
    assert_eq!(store.count(&Default::default()).await.unwrap(), before);
    let r = with_cookie(
        &app,
        "POST",
        "/api/requests",
        &cookie,
        Some(&csrf),
        Some(filing),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A forged session.
    let r = with_cookie(&app, "GET", "/api/me", "0123456789abcdef", None, None).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("session_expired"))
    );

    // Logging out ends the session everywhere.
    let r = with_cookie(&app, "POST", "/api/logout", &cookie, Some(&csrf), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        r.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let r = with_cookie(&app, "GET", "/api/me", &cookie, None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Five failures for a login name: the sixth try waits, even with the right password.
    for _ in 0..5 {
        assert_eq!(
            login(&app, "gw1", "wrong password 1").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = login(&app, "gw1", "grid worker 2026").await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts"))
    );
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    // The count is the account's, however it is named: its phone, with or without +86, waits too.
    let phone = f.grid_worker.phone.clone().unwrap();
    for name in [phone.clone(), format!("+86{phone}")] {
        let r = login(&app, &name, "grid worker 2026").await;
        assert_eq!(
            r.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{name}: {}",
            r.body
        );
    }

    // Password change: the current one is required; afterwards old sessions are gone.
    app.post(
        "/api/accounts",
        "admin",
        json!({"person_id": f.volunteer.id.0, "username": "vol", "password": "volunteer pw 1"}),
    )
    .await;
    let r = login(&app, "vol", "volunteer pw 1").await;
    assert_eq!(r.body["must_change"], true, "set by an administrator");
    let (cookie, csrf) = (
        session_of(&r),
        r.body["csrf_token"].as_str().unwrap().to_string(),
    );
    let change = |cur: &str, new: &str| json!({"current_password": cur, "new_password": new});
    let r = with_cookie(
        &app,
        "POST",
        "/api/me/password",
        &cookie,
        Some(&csrf),
        Some(change("nope nope 1", "my own pw 22")),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("wrong_password"))
    );
    let r = with_cookie(
        &app,
        "POST",
        "/api/me/password",
        &cookie,
        Some(&csrf),
        Some(change("volunteer pw 1", "short")),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = with_cookie(
        &app,
        "POST",
        "/api/me/password",
        &cookie,
        Some(&csrf),
        Some(change("volunteer pw 1", "my own pw 22")),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(
        with_cookie(&app, "GET", "/api/me", &cookie, None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "vol", "volunteer pw 1").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = login(&app, "vol", "my own pw 22").await;
    assert_eq!(
        (r.status, r.body["must_change"].as_bool()),
        (StatusCode::OK, Some(false))
    );

    // API tokens: made by administrators, shown once, limited to roles and areas, revocable.
    let mk = |roles: Value, areas: Value| json!({"person_id": f.community_staff.id.0, "name": "hotline integration", "roles": roles, "area_ids": areas});
    let r = app
        .post(
            "/api/tokens",
            "community",
            mk(json!(["community_staff"]), json!([])),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post(
            "/api/tokens",
            "admin",
            mk(json!(["district_admin"]), json!([])),
        )
        .await;
    assert_eq!(
        (r.status, r.body["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("roles"))
    );
    let r = app
        .post(
            "/api/tokens",
            "admin",
            mk(json!(["no_such_role"]), json!([])),
        )
        .await;
    assert_eq!(
        (r.status, r.body["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("roles[0]"))
    );
    let r = app
        .post(
            "/api/tokens",
            "admin",
            mk(json!(["community_staff"]), json!([])),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let token = r.body["token"].as_str().unwrap().to_string();
    let token_id = r.body["api_token"]["id"].as_i64().unwrap();
    assert!(token.starts_with("rgt_"));
    let me = app.get("/api/me", &token).await;
    assert_eq!(
        (me.status, me.body["id"].as_i64()),
        (StatusCode::OK, Some(f.community_staff.id.0))
    );
    let list = app.get("/api/tokens", "admin").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        !list.body.to_string().contains(&token) && !list.body.to_string().contains("token_hash")
    );
    // A token limited to another street acts with no grants there: it cannot even see the request.
    let r = app
        .post(
            "/api/tokens",
            "admin",
            mk(json!(["community_staff"]), json!([f.street_b.id.0])),
        )
        .await;
    let narrow = r.body["token"].as_str().unwrap().to_string();
    let id = app.file("resident").await;
    let r = app
        .post(
            &format!("/api/requests/{id}/accept"),
            &narrow,
            json!({"category_id": f.cat_garbage.id.0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body["code"], "role_not_allowed");
    assert_eq!(
        app.get(&format!("/api/requests/{id}"), "admin").await.body["request"]["status"],
        "submitted"
    );
    let r = app
        .post(
            &format!("/api/requests/{id}/accept"),
            &token,
            json!({"category_id": f.cat_garbage.id.0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Revoked: refused at once.
    let r = app
        .call(
            "DELETE",
            &format!("/api/tokens/{token_id}"),
            Some("admin"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .call(
            "DELETE",
            &format!("/api/tokens/{token_id}"),
            Some("admin"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get("/api/me", &token).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_revoked"))
    );
    let r = app.get("/api/me", "rgt_forged0000").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Every account and token change is in the chain, and the chain verifies.
    let v = redgrid_store::audit::verify(&store, &[], &testing::keyring())
        .await
        .unwrap();
    assert_eq!(v.findings, vec![]);
    let actions: Vec<String> = store
        .audit_rows(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.record.kind == redgrid_store::audit::AuditKind::Admin)
        .map(|r| r.record.payload)
        .collect();
    for a in [
        "create_account",
        "change_password",
        "create_api_token",
        "revoke_api_token",
    ] {
        assert!(actions.iter().any(|p| p.contains(a)), "{a}");
    }
}

#[tokio::test]
async fn views_are_masked_reveals_are_logged_and_public_lists_carry_no_personal_data() {
    let app = app().await;
    let f = &app.f;
    let store = app._db.store.clone();
    let r = app
        .post(
            "/api/requests",
            "resident",
            json!({"channel": "app", "description": "楼道灯坏了，请回电13912345678",
                   "area_id": f.grid_a1_1.id.0, "address": "幸福里3号楼2单元501", "lat": 39.01, "lon": 117.7}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    // The requester sees their own request as filed.
    let own = app.get(&format!("/api/requests/{id}"), "resident").await;
    assert_eq!(
        own.body["request"]["location"]["address"],
        "幸福里3号楼2单元501"
    );
    assert!(
        own.body["request"]["description"]
            .as_str()
            .unwrap()
            .contains("13912345678")
    );
    // The grid worker of its area is in charge of it: they see whom to reach and where, and the
    // view is in the access log (who, whose data, which request, when).
    let in_charge = app.get(&format!("/api/requests/{id}"), "grid").await;
    assert_eq!(in_charge.status, StatusCode::OK);
    let text = in_charge.body.to_string();
    assert!(
        text.contains("13912345678") && text.contains("501"),
        "{text}"
    );
    assert_eq!(in_charge.body["requester"]["name"], f.resident.name);
    assert_eq!(
        in_charge.body["requester"]["phone"].as_str(),
        f.resident.phone.as_deref()
    );
    let log = app
        .get(&format!("/api/audit/access-log?request_id={id}"), "auditor")
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    assert_eq!(log.body["items"][0]["viewer_id"], f.grid_worker.id.0);
    assert_eq!(log.body["items"][0]["subject_id"], f.resident.id.0);
    assert_eq!(log.body["items"][0]["via"], "api");
    for who in ["grid", "admin"] {
        assert_eq!(
            app.get("/api/audit/access-log", who).await.status,
            StatusCode::FORBIDDEN,
            "{who}"
        );
    }
    // Staff not in charge of it (a street's staff, a supervisor) see it masked: the place to
    // community level, numbers starred, in the item, the timeline and the list; nothing logged.
    let seen = app.get(&format!("/api/requests/{id}"), "supervisor").await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(seen.body.get("requester").is_none());
    let logged = app
        .get(&format!("/api/audit/access-log?request_id={id}"), "auditor")
        .await;
    assert_eq!(logged.body["items"].as_array().unwrap().len(), 1);
    let text = seen.body.to_string();
    assert!(
        !text.contains("13912345678") && !text.contains("2单元501"),
        "{text}"
    );
    assert!(text.contains("139****5678"), "{text}");
    assert_eq!(seen.body["request"]["location"]["address"], Value::Null);
    assert_eq!(seen.body["request"]["location"]["lat"], Value::Null);
    assert_eq!(
        seen.body["request"]["location"]["community_id"],
        f.comm_a1.id.0
    );
    let list = app.get("/api/requests", "grid").await;
    assert!(!list.body.to_string().contains("13912345678"));
    // Another resident does not learn it exists.
    let other = app.get(&format!("/api/requests/{id}"), "other").await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    // Revealing needs a reason, is refused to roles without a need, and is logged.
    let before = store.audit_head().await.unwrap().0;
    let r = app
        .post(&format!("/api/requests/{id}/reveal"), "grid", json!({}))
        .await;
    assert_eq!(
        (r.status, r.body["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let r = app
        .post(
            &format!("/api/requests/{id}/reveal"),
            "supervisor",
            json!({"reason": "想看看"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .post(
            &format!("/api/requests/{id}/reveal"),
            "other",
            json!({"reason": "想看看"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        store.audit_head().await.unwrap().0,
        before,
        "refusals log nothing"
    );
    let r = app
        .post(
            &format!("/api/requests/{id}/reveal"),
            "grid",
            json!({"reason": "上门前电话联系居民"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["requester_name"], "张三");
    assert_eq!(r.body["requester_phone"], "13800000001");
    assert_eq!(
        r.body["request"]["location"]["address"],
        "幸福里3号楼2单元501"
    );
    let chain = store.audit_rows(before, 10).await.unwrap();
    assert_eq!(chain.len(), 1);
    let rec = &chain[0].record;
    assert_eq!(rec.kind.as_str(), "reveal");
    assert_eq!(rec.actor_id, Some(f.grid_worker.id));
    assert_eq!(rec.request_id, Some(redgrid_core::ids::RequestId(id)));
    let payload: Value = serde_json::from_str(&rec.payload).unwrap();
    assert_eq!(payload["whose"], f.resident.id.0);
    assert_eq!(payload["reason"], "上门前电话联系居民");
    // The requester's own reveal is not a disclosure and is not logged.
    let r = app
        .post(&format!("/api/requests/{id}/reveal"), "resident", json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(store.audit_head().await.unwrap().0, before + 1);
    // The public lists (no login): accepted requests only, masked, as JSON and CSV (the CLI's scan
    // test reads every export's content).
    app.step(
        id,
        "accept",
        "grid",
        json!({"category_id": f.cat_garbage.id.0}),
    )
    .await;
    let page = app.call("GET", "/api/public/needs", None, None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["items"][0]["id"], id);
    assert_eq!(page.body["items"][0]["community"], "幸福里社区");
    let csv = app
        .call("GET", "/api/public/needs?format=csv", None, None, &[])
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = page.body.to_string();
    assert!(!body.contains("13912345678") && !body.contains("2单元501") && !body.contains("张三"));
    let bad = app
        .call("GET", "/api/public/nothing", None, None, &[])
        .await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    let bad = app
        .call("GET", "/api/public/needs?format=pdf", None, None, &[])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_new_password_must_be_chosen_before_anything_else() {
    let app = app().await;
    let f = &app.f;
    let r = app
        .post(
            "/api/accounts",
            "admin",
            json!({"person_id": f.verifier.id.0, "username": "yan", "password": "initial pass 2026"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = login(&app, "yan", "initial pass 2026").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let cookie = session_of(&r);
    let csrf = r.body["csrf_token"].as_str().unwrap().to_string();
    let r = with_cookie(&app, "GET", "/api/requests", &cookie, None, None).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("password_change_required"))
    );
    let r = with_cookie(&app, "GET", "/api/me", &cookie, None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = with_cookie(
        &app,
        "POST",
        "/api/me/password",
        &cookie,
        Some(&csrf),
        Some(json!({"current_password": "initial pass 2026", "new_password": "my own pass 2026"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    // A password change ends every session; the next login works normally.
    let r = login(&app, "yan", "my own pass 2026").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let cookie = session_of(&r);
    let r = with_cookie(&app, "GET", "/api/requests", &cookie, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisation_registers_import_export_activities_and_campaign_figures_over_http() {
    let app = app().await;
    let orgs = "组织编码,组织名称,组织类别,上级组织编码,所在区划代码\nD1,区直机关工委,党委,,120116\nB1,第一支部,党支部,D1,120116001001\n";
    // Only an organiser may import; a dry run reports and writes nothing; the real run imports.
    let r = app
        .call(
            "POST",
            "/api/org/party_orgs/import?dry_run=true",
            Some("community"),
            Some(orgs),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .call(
            "POST",
            "/api/org/party_orgs/import?dry_run=true",
            Some("admin"),
            Some(orgs),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["created"].as_i64(), r.body["imported"].as_bool()),
        (Some(2), Some(false))
    );
    let r = app
        .call(
            "POST",
            "/api/org/party_orgs/import",
            Some("admin"),
            Some(orgs),
            &[],
        )
        .await;
    assert_eq!(r.body["imported"], true, "{}", r.body);
    // A bad file: 422 with every bad row, in English on request.
    let bad = "姓名,手机号,所在党组织编码\n甲,123,B1\n乙,13900000001,NOPE\n";
    let r = app
        .call(
            "POST",
            "/api/org/members/import",
            Some("admin"),
            Some(bad),
            &[("accept-language", "en")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let issues = r.body["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 2);
    assert_eq!(
        (issues[0]["row"].as_i64(), issues[0]["code"].as_str()),
        (Some(2), Some("bad_phone"))
    );
    assert_eq!(issues[1]["column"], "party organisation code");
    let r = app
        .call(
            "POST",
            "/api/org/members/import",
            Some("admin"),
            Some("%PDF-1.4"),
            &[],
        )
        .await;
    assert_eq!(r.body["issues"][0]["code"], "unsupported_file_type");
    let r = app
        .call(
            "POST",
            "/api/org/nope/import",
            Some("admin"),
            Some(orgs),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Export and template are spreadsheets.
    let r = app
        .call("GET", "/api/org/party_orgs", Some("admin"), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("spreadsheetml")
    );
    let r = app
        .call(
            "GET",
            "/api/org/party_orgs?format=csv",
            Some("admin"),
            None,
            &[],
        )
        .await;
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let r = app
        .call("GET", "/api/org/members/template", Some("admin"), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call("GET", "/api/org/party_orgs", Some("grid"), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // An activity: refusals first, then recorded.
    let store_orgs = r#"{"kind":"visit","held_on":"2026-03-01","party_org_id":"x","title":""}"#;
    let r = app
        .call(
            "POST",
            "/api/org/activities",
            Some("admin"),
            Some(store_orgs),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["fields"][0]["field"], "party_org_id");
    // Every missing field at once, and a field the ledger does not have.
    let r = app
        .post(
            "/api/org/activities",
            "admin",
            json!({"kind": "visit", "colour": "red", "participants": ["x"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let mut refused: Vec<(String, String)> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().into(),
                f["code"].as_str().unwrap().into(),
            )
        })
        .collect();
    refused.sort();
    let expect = [
        ("colour", "unknown_field"),
        ("held_on", "required"),
        ("participants[0]", "invalid"),
        ("party_org_id", "required"),
    ];
    assert_eq!(
        refused,
        expect.map(|(f, c)| (f.to_string(), c.to_string())).to_vec()
    );
    let orgs = app._db.store.party_orgs().await.unwrap();
    let b1 = orgs.iter().find(|o| o.code == "B1").unwrap().id;
    let d1 = orgs.iter().find(|o| o.code == "D1").unwrap().id;
    let body = json!({"kind": "visit", "held_on": "2026-03-01", "party_org_id": b1, "title": "走访",
        "people_served": 4, "suggestions": ["增设公交站"]});
    let r = app
        .post("/api/org/activities", "community", body.clone())
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "community staff record in their area: {}",
        r.body
    );
    let r = app.post("/api/org/activities", "grid", body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // The suggestion heard becomes a request; a body with a field it does not take is refused.
    let day = |s: &str| redgrid_core::org::parse_date(s).unwrap();
    let heard = app
        ._db
        .store
        .suggestions(day("2026-03-01"), day("2026-03-01"))
        .await
        .unwrap();
    let path = format!("/api/org/suggestions/{}/request", heard[0].id);
    let r = app.post(&path, "admin", json!({"colour": 1})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["fields"][0]["code"], "unknown_field");
    let r = app.post(&path, "admin", json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["channel"], "suggestion_box");
    // A campaign's figures: JSON and xlsx; unknown campaign 404; not for community staff.
    app._db
        .store
        .create_campaign(
            &redgrid_store::org::NewCampaign {
                code: "C26".into(),
                name: "千个支部联基层".into(),
                starts_on: day("2026-01-01"),
                ends_on: day("2026-12-31"),
                root_org_id: Some(d1),
                require_pairing: true,
            },
            redgrid_store::Change::system(),
        )
        .await
        .unwrap();
    let r = app.get("/api/org/campaigns/C26/stats", "admin").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (
            r.body["total"]["visits"].as_i64(),
            r.body["total"]["suggestions"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(r.body["branches_unpaired"], 1);
    let r = app
        .get(
            "/api/org/campaigns/C26/stats?format=xlsx&from=2026-03-01&to=2026-03-31",
            "admin",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("spreadsheetml")
    );
    let r = app.get("/api/org/campaigns/C26/stats", "community").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app.get("/api/org/campaigns/NOPE/stats", "admin").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = app
        .get("/api/org/campaigns/NOPE/stats?from=someday", "admin")
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

#[tokio::test]
async fn a_power_alert_is_resolved_with_what_the_check_found_and_nothing_else_takes_one() {
    let a = app().await;
    let service = redgrid_app::Service::new(a._db.store.clone(), Default::default())
        .await
        .unwrap();
    let input = redgrid_core::command::SubmitInput {
        channel: Some(redgrid_core::request::Channel::PowerAlert),
        description: Some("电力预警·房屋空置：自2026-10-01起连续一个月以上用电接近零。".into()),
        area_id: Some(a.f.grid_a1_1.id),
        ..Default::default()
    };
    let (r, _) = service
        .submit(
            &redgrid_core::person::Actor::System,
            &input,
            vec![],
            Some("power-vacancy-M1-1"),
            redgrid_app::service::now(),
        )
        .await
        .unwrap();
    let id = r.id.0;
    let cat = a.f.cat_garbage.id.0;
    let unit = a.f.unit_grid_a1_1.id.0;
    a.step(id, "accept", "grid", json!({"category_id": cat}))
        .await;
    a.step(id, "dispatch", "grid", json!({"unit_id": unit}))
        .await;
    a.step(id, "claim", "volunteer", json!({})).await;
    let path = format!("/api/requests/{id}/resolve");
    let no = a
        .post(&path, "volunteer", json!({"summary": "入户核实"}))
        .await;
    assert_eq!(no.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", no.body);
    assert_eq!(no.body["fields"][0]["field"], "outcome");
    assert_eq!(no.body["fields"][0]["code"], "required");
    let bad = a
        .post(
            &path,
            "volunteer",
            json!({"summary": "入户核实", "outcome": "maybe"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    let ok = a
        .step(
            id,
            "resolve",
            "volunteer",
            json!({"summary": "入户核实，房屋空置", "outcome": "confirmed"}),
        )
        .await;
    assert_eq!(ok["event"]["outcome"], "confirmed", "{ok}");
    // An ordinary request refuses an outcome.
    let other = a.file("resident").await;
    a.step(other, "accept", "grid", json!({"category_id": cat}))
        .await;
    a.step(other, "dispatch", "grid", json!({"unit_id": unit}))
        .await;
    a.step(other, "claim", "volunteer", json!({})).await;
    let r = a
        .post(
            &format!("/api/requests/{other}/resolve"),
            "volunteer",
            json!({"summary": "已修好", "outcome": "confirmed"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["fields"][0]["code"], "not_allowed");
}

async fn raw(a: &App, uri: &str) -> (StatusCode, String, String) {
    let req = HttpRequest::builder().uri(uri).body(Body::empty()).unwrap();
    let res = a.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ctype = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap(), ctype)
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn open311_discovery_services_and_definitions_in_json_and_xml() {
    let a = app().await;
    let (st, body, ctype) = raw(&a, "/open311/v2/discovery.json").await;
    assert_eq!(st, StatusCode::OK);
    assert!(ctype.starts_with("application/json"));
    let d = json_of(&body);
    assert!(d.is_object(), "discovery is one object");
    assert_eq!(
        d["endpoints"][0]["specification"],
        "http://wiki.open311.org/GeoReport_v2"
    );
    let (_, xml, ctype) = raw(&a, "/open311/v2/discovery.xml").await;
    assert!(ctype.starts_with("text/xml"));
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><discovery>"),
        "{xml}"
    );
    assert!(!xml.contains("xmlns"));

    let (st, body, _) = raw(&a, "/open311/v2/services.json").await;
    assert_eq!(st, StatusCode::OK);
    let list = json_of(&body);
    let services = list.as_array().expect("a top-level array");
    let code = a.f.cat_garbage.code.clone();
    let s = services
        .iter()
        .find(|s| s["service_code"] == code.as_str())
        .expect("the catalogue's item");
    for k in ["service_name", "description", "type", "keywords", "group"] {
        assert!(s[k].is_string(), "{k} in {s}");
    }
    assert_eq!(s["metadata"], false);
    let (_, xml, _) = raw(&a, "/open311/v2/services.xml").await;
    assert!(
        xml.contains(&format!("<service><service_code>{code}</service_code>")),
        "{xml}"
    );

    for path in [
        format!("/open311/v2/services/{code}.json"),
        format!("/open311/v2/service/{code}.json"),
    ] {
        let (st, body, _) = raw(&a, &path).await;
        assert_eq!(st, StatusCode::OK, "{path}");
        let d = json_of(&body);
        assert_eq!(
            d["service_code"],
            code.as_str(),
            "a definition is one object"
        );
        assert!(d["attributes"].as_array().unwrap().is_empty());
    }
    let (st, xml, _) = raw(&a, &format!("/open311/v2/services/{code}.xml")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_definition><service_code>"
        ),
        "{xml}"
    );
    // Refusals come in the requested format.
    let (st, body, _) = raw(&a, "/open311/v2/services/NOPE.json").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(json_of(&body)[0]["code"], 404);
    let (st, xml, _) = raw(&a, "/open311/v2/services/NOPE.xml").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(
        xml.contains("<errors><error><code>404</code><description>"),
        "{xml}"
    );
    let (st, _, _) = raw(&a, "/open311/v2/services.html").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, _) = raw(&a, "/open311/v2/nothing.json").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn open311_requests_are_public_masked_filtered_and_refused_clearly() {
    let a = app().await;
    let cat = a.f.cat_garbage.id.0;
    let unit = a.f.unit_grid_a1_1.id.0;
    let code = a.f.cat_garbage.code.clone();
    // A rejected request is not shown; a filed one is at once.
    let hidden = a.file("resident").await;
    a.step(
        hidden,
        "reject",
        "grid",
        json!({"code": "out_of_scope", "text": "不属于本区"}),
    )
    .await;
    let id = a.file("resident").await;
    a.step(id, "accept", "grid", json!({"category_id": cat}))
        .await;
    a.step(id, "dispatch", "grid", json!({"unit_id": unit}))
        .await;
    let (st, body, _) = raw(&a, "/open311/v2/requests.json").await;
    assert_eq!(st, StatusCode::OK);
    let list = json_of(&body);
    let rows = list.as_array().unwrap();
    assert!(
        rows.iter()
            .all(|r| r["service_request_id"] != hidden.to_string().as_str())
    );
    let r = rows
        .iter()
        .find(|r| r["service_request_id"] == id.to_string().as_str())
        .expect("the accepted request");
    assert_eq!(r["status"], "open");
    assert_eq!(r["service_code"], code.as_str());
    assert!(r["status_notes"].is_string());
    assert!(r["agency_responsible"].as_str().unwrap().len() > 1);
    assert!(
        r["requested_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+08:00")
    );
    // Nothing of the requester, and the place only to community level.
    let text = r.to_string();
    assert!(!text.contains(a.f.resident.name.as_str()), "{text}");
    if let Some(phone) = &a.f.resident.phone {
        assert!(!text.contains(phone.as_str()), "{text}");
    }
    assert!(!text.contains("first_name") && !text.contains("phone") && !text.contains("email"));
    assert!(
        r["address"].as_str().unwrap().contains(&a.f.comm_a1.name),
        "{r}"
    );
    // One request, in both formats.
    let (st, body, _) = raw(&a, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(json_of(&body).as_array().unwrap().len(), 1);
    let (_, xml, _) = raw(&a, &format!("/open311/v2/requests/{id}.xml")).await;
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request><service_request_id>"), "{xml}");
    for missing in [
        format!("/open311/v2/requests/{hidden}.json"),
        "/open311/v2/requests/999999.json".to_string(),
        "/open311/v2/requests/x.json".to_string(),
    ] {
        let (st, body, _) = raw(&a, &missing).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(json_of(&body)[0]["code"], 404);
    }
    // Filters: ids override the rest; service_code; status; dates.
    let app_ref = &a;
    let q = |p: String| async move {
        json_of(
            &raw(app_ref, &format!("/open311/v2/requests.json?{p}"))
                .await
                .1,
        )
    };
    let by_id = q(format!("service_request_id={id},{hidden}&status=closed")).await;
    assert_eq!(
        by_id.as_array().unwrap().len(),
        1,
        "the id list wins over status"
    );
    assert_eq!(
        q(format!("service_code={code}"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(q("status=closed".into()).await.as_array().unwrap().len(), 0);
    assert_eq!(
        q("status=open,closed".into())
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        q("start_date=2020-01-01T00:00:00%2B08:00&end_date=2020-02-01T00:00:00%2B08:00".into())
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        q("page=2&page_size=1".into())
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        q("jurisdiction_id=".into()).await.as_array().unwrap().len(),
        1,
        "an empty parameter counts as absent"
    );
    for (p, status) in [
        ("start_date=yesterday", StatusCode::BAD_REQUEST),
        ("start_date=2026-01-01T00:00:00", StatusCode::BAD_REQUEST),
        (
            "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
            StatusCode::BAD_REQUEST,
        ),
        (
            "start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
            StatusCode::BAD_REQUEST,
        ),
        ("status=pending", StatusCode::BAD_REQUEST),
        ("service_code=NOPE", StatusCode::BAD_REQUEST),
        ("page=0", StatusCode::BAD_REQUEST),
        ("page_size=500", StatusCode::BAD_REQUEST),
        ("service_request_id=1,x", StatusCode::BAD_REQUEST),
        ("jurisdiction_id=999999", StatusCode::NOT_FOUND),
    ] {
        let (st, body, _) = raw(&a, &format!("/open311/v2/requests.json?{p}")).await;
        assert_eq!(st, status, "{p}: {body}");
        let e = json_of(&body);
        assert_eq!(e[0]["code"], status.as_u16(), "{p}");
        assert!(e[0]["description"].as_str().unwrap().len() > 5);
        let (st, xml, _) = raw(&a, &format!("/open311/v2/requests.xml?{p}")).await;
        assert_eq!(st, status);
        assert!(xml.contains("<errors><error>"), "{xml}");
    }
    // The list in XML, and redgrid's own state with extensions=true.
    let (_, xml, _) = raw(&a, "/open311/v2/requests.xml").await;
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request>"),
        "{xml}"
    );
    assert!(!xml.contains("detailed_status"));
    let ext = q("extensions=true".into()).await;
    assert_eq!(ext[0]["detailed_status"], "dispatched", "{ext}");
    let (_, xml, _) = raw(&a, "/open311/v2/requests.xml?extensions=true").await;
    assert!(
        xml.contains("<detailed_status>dispatched</detailed_status>"),
        "{xml}"
    );
    // Updates: the request's events in the window, oldest first.
    let (st, body, _) = raw(&a, "/open311/v2/servicerequestupdates.json").await;
    assert_eq!(st, StatusCode::OK);
    let ups = json_of(&body);
    let mine: Vec<&Value> = ups
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["service_request_id"] == id.to_string().as_str())
        .collect();
    assert_eq!(mine.len(), 3, "submitted, accepted, dispatched: {ups}");
    assert!(mine.iter().all(|u| u["status"] == "open"));
    let (_, xml, _) = raw(&a, "/open311/v2/servicerequestupdates.xml").await;
    assert!(
        xml.contains("<service_request_updates><request_update><update_id>"),
        "{xml}"
    );
}

async fn post_form(a: &App, uri: &str, form: &str) -> (StatusCode, String) {
    // `api_key=<short name>` stands for that person's token.
    let form = match form
        .strip_prefix("api_key=")
        .and_then(|rest| rest.split_once('&'))
    {
        Some((short, rest)) if a.tokens.contains_key(short) => {
            format!("api_key={}&{rest}", a.tokens[short])
        }
        _ => form.to_string(),
    };
    let req = HttpRequest::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let res = a.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn open311_files_requests_with_an_api_key_and_refuses_every_bad_post() {
    let a = app().await;
    let code = a.f.cat_garbage.code.clone();
    let area = a.f.grid_a1_1.id.0;
    let good = format!(
        "api_key=resident&service_code={code}&address_id={area}&description={}",
        enc("小区北门垃圾桶满了两天")
    );
    let (st, body) = post_form(&a, "/open311/v2/requests.json", &good).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let id = json_of(&body)[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The request is there, through the open311 channel, with the service as its suggested category.
    let (st, body, _) = raw(&a, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let r = &json_of(&body)[0];
    assert_eq!(r["service_code"], code.as_str());
    assert_eq!(r["status"], "open");
    let mine = a.get(&format!("/api/requests/{id}"), "resident").await;
    assert_eq!(mine.body["request"]["channel"], "open311");
    let (st, body, _) = raw(&a, &format!("/open311/v2/tokens/{id}.json")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(json_of(&body)[0]["service_request_id"], id.as_str());
    let (_, xml, _) = raw(&a, &format!("/open311/v2/tokens/{id}.xml")).await;
    assert!(xml.contains(&format!("<token>{id}</token>")), "{xml}");
    let (st, _, _) = raw(&a, "/open311/v2/tokens/999999.json").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // A community named in address_string places it; XML answers in XML.
    let by_name = format!(
        "api_key=resident&service_code={code}&address_string={}&description={}",
        enc(&format!("{}3号楼", a.f.comm_a1.name)),
        enc("楼道灯不亮")
    );
    let (st, xml) = post_form(&a, "/open311/v2/requests.xml", &by_name).await;
    assert_eq!(st, StatusCode::OK, "{xml}");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request><service_request_id>"), "{xml}");
    // Coordinates given with the place are kept.
    let (st, body) = post_form(
        &a,
        "/open311/v2/requests.json",
        &format!("{good}&lat=39.02&long=117.71"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let with = json_of(&body)[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = a.get(&format!("/api/requests/{with}"), "resident").await;
    assert_eq!(
        mine.body["request"]["location"]["lat"], 39.02,
        "{}",
        mine.body
    );
    // An empty jurisdiction_id counts as absent; the district's own code is accepted.
    let (st, _) = post_form(
        &a,
        "/open311/v2/requests.json",
        &format!("{good}&jurisdiction_id="),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let district = a.f.district.code.clone();
    let (st, _) = post_form(
        &a,
        "/open311/v2/requests.json",
        &format!("{good}&jurisdiction_id={district}"),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    // Refusals, each in the requested format, and nothing filed by any of them.
    let before = a.get("/api/requests?limit=200", "admin").await.body["items"]
        .as_array()
        .unwrap()
        .len();
    let cases: Vec<(String, StatusCode)> = vec![
        (
            format!("service_code={code}&address_id={area}&description=x"),
            StatusCode::FORBIDDEN,
        ),
        (
            format!("api_key=wrong&service_code={code}&address_id={area}&description=x"),
            StatusCode::FORBIDDEN,
        ),
        (
            format!("api_key=&service_code={code}&address_id={area}&description=x"),
            StatusCode::FORBIDDEN,
        ),
        (
            format!("{good}&jurisdiction_id=999999"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("api_key=resident&address_id={area}&description=x"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("api_key=resident&service_code=NOPE&address_id={area}&description=x"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("api_key=resident&service_code={code}&description=x"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("api_key=resident&service_code={code}&lat=39.0&long=117.7&description=x"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("api_key=resident&service_code={code}&address_id=999999&description=x"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!(
                "api_key=resident&service_code={code}&address_string={}&description=x",
                enc("火星")
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("api_key=resident&service_code={code}&address_id={area}"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("{good}&{}={}", enc("attribute[colour]"), "red"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("api_key=grid&service_code={code}&address_id={area}&description=x"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("{good}&lat=north&long=117.7"),
            StatusCode::BAD_REQUEST,
        ),
        (format!("{good}&lat=91&long=117.7"), StatusCode::BAD_REQUEST),
    ];
    for (form, status) in &cases {
        let (st, body) = post_form(&a, "/open311/v2/requests.json", form).await;
        assert_eq!(st, *status, "{form}: {body}");
        let e = json_of(&body);
        assert_eq!(e[0]["code"], status.as_u16(), "{form}");
        assert!(e[0]["description"].as_str().unwrap().len() > 3, "{body}");
        let (st, xml) = post_form(&a, "/open311/v2/requests.xml", form).await;
        assert_eq!(st, *status);
        assert!(xml.contains("<errors><error><code>"), "{xml}");
    }
    let after = a.get("/api/requests?limit=200", "admin").await.body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "no refused post filed anything");
    // Multipart with a picture, and a file that is not one.
    let boundary = "XyZ";
    let multipart = |ctype: &str, data: &[u8]| {
        let mut b = Vec::new();
        for (k, v) in [
            ("api_key", a.tokens["resident"].as_str()),
            ("service_code", code.as_str()),
            ("description", "路面坑洼"),
        ] {
            b.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        b.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"address_id\"\r\n\r\n{area}\r\n").as_bytes());
        b.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"p\"\r\nContent-Type: {ctype}\r\n\r\n").as_bytes());
        b.extend_from_slice(data);
        b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        b
    };
    for (ctype, data, status) in [
        ("image/png", &b"\x89PNG\r\n\x1a\nfake"[..], StatusCode::OK),
        ("application/pdf", &b"%PDF-1.4"[..], StatusCode::BAD_REQUEST),
        (
            "image/png",
            &b"<html><script>alert(1)</script>"[..],
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let req = HttpRequest::builder()
            .method("POST")
            .uri("/open311/v2/requests.json")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(multipart(ctype, data)))
            .unwrap();
        let res = a.router.clone().oneshot(req).await.unwrap();
        let st = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(st, status, "{ctype}: {}", String::from_utf8_lossy(&bytes));
        if st == StatusCode::OK {
            let id = json_of(std::str::from_utf8(&bytes).unwrap())[0]["service_request_id"]
                .as_str()
                .unwrap()
                .to_string();
            let r = a.get(&format!("/api/requests/{id}"), "resident").await;
            assert_eq!(
                r.body["request"]["attachments"].as_array().unwrap().len(),
                1
            );
        }
    }
}

#[tokio::test]
async fn roles_are_granted_and_revoked_over_http_within_the_granters_reach() {
    let a = app().await;
    let grid = a.f.grid_a1_1.id.0;
    // A street's staff make a new grid worker by phone: 201, with a one-time password.
    let body =
        json!({"phone": "13900006666", "name": "钱网格", "role": "grid_worker", "area_id": grid});
    let r = a.post("/api/grants", "street", body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["changed"], true);
    let password = r.body["one_time_password"].as_str().unwrap().to_string();
    assert_eq!(r.body["person"]["grants"][0]["role"], "grid_worker");
    // The new grid worker logs in; the password must be changed first.
    let login = a
        .post(
            "/api/login",
            "",
            json!({"login": "13900006666", "password": password}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["must_change"], true);
    // The same grant again: 200, nothing changed, no second password.
    let r = a.post("/api/grants", "street", body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["changed"], false);
    assert!(r.body.get("one_time_password").is_none());
    // Outside the street, or above the granter's rank: 403 with a stable code, in either language.
    let outside =
        json!({"phone": "13900006666", "role": "grid_worker", "area_id": a.f.grid_b1_1.id.0});
    let r = a.post("/api/grants", "street", outside).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["code"], "out_of_scope");
    let above =
        json!({"phone": "13900006666", "role": "district_admin", "area_id": grid}).to_string();
    let r = a
        .call(
            "POST",
            "/api/grants",
            Some("street"),
            Some(&above),
            &[("accept-language", "en")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["code"], "role_not_allowed");
    assert!(r.body["message"].as_str().unwrap().contains("roles"));
    // Residents grant nothing; bad bodies name their fields.
    let r = a.post("/api/grants", "resident", body.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = a
        .post(
            "/api/grants",
            "street",
            json!({"phone": "13900006666", "role": "mayor", "area_id": grid}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["fields"][0]["field"], "role");
    let r = a
        .post(
            "/api/grants",
            "street",
            json!({"phone": "13900006666", "role": "grid_worker"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["fields"][0]["field"], "area_id");
    // Revoked: 200, and the grid worker's token-less role is gone.
    let r = a.post("/api/grants/revoke", "street", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["changed"], true);
    assert_eq!(r.body["person"]["grants"], json!([]));
}

#[tokio::test]
async fn residents_sign_up_over_http_and_too_many_codes_wait_with_retry_after() {
    let a = app().await;
    let r = a
        .call(
            "POST",
            "/api/signup/code",
            None,
            Some(r#"{"phone": "13900090001"}"#),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    // The same phone written with the country code and dashes is the same phone.
    let again = a
        .call(
            "POST",
            "/api/signup/code",
            None,
            Some(r#"{"phone": "+86 139-0009-0001"}"#),
            &[("accept-language", "en")],
        )
        .await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(again.body["code"], "too_many_codes");
    let wait: i64 = again.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    assert!(again.body["message"].as_str().unwrap().contains("seconds"));
    // The code comes from the log sender; signing up opens a session.
    let code = redgrid_app::testing::sms_code(&a.state.service, "13900090001").await;
    let body = json!({"phone": "13900090001", "code": code, "password": "resident-pw-2026", "name": "严居民"});
    let r = a
        .call("POST", "/api/signup", None, Some(&body.to_string()), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(
        r.headers["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("redgrid_session=")
    );
    assert_eq!(r.body["person"]["grants"][0]["role"], "resident");
    assert_eq!(r.body["must_change"], false);
    // Bad bodies name their fields.
    let r = a
        .call(
            "POST",
            "/api/signup",
            None,
            Some(r#"{"phone": "13900090001", "code": "", "password": "x"}"#),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let fields: Vec<&str> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"code") && fields.contains(&"password"),
        "{fields:?}"
    );
}

#[tokio::test]
async fn the_request_ledger_exports_what_the_viewer_may_list_masked_as_they_see_it() {
    let a = app().await;
    let mine = a.file("resident").await;
    let with_phone = a
        .post(
            "/api/requests",
            "resident",
            json!({"channel": "app", "description": "楼下噪音扰民，电话13912345678", "area_id": a.f.grid_a1_1.id.0}),
        )
        .await;
    assert_eq!(with_phone.status, StatusCode::CREATED);
    let theirs = a.file("other").await;
    // The resident's ledger: their own two requests, in CSV with a BOM and Chinese headers.
    let r = a
        .call(
            "GET",
            "/api/requests?format=csv",
            Some("resident"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        r.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let raw = a
        .router
        .clone()
        .oneshot(
            HttpRequest::get("/api/requests?format=csv")
                .header("authorization", format!("Bearer {}", a.tokens["resident"]))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = raw.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.starts_with('\u{feff}'));
    let lines: Vec<&str> = text.trim_end().lines().collect();
    assert!(
        lines[0].contains("编号") && lines[0].contains("按时办结") && lines[0].contains("满意度")
    );
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        !text.contains(&format!("\r\n{theirs},")),
        "not someone else's"
    );
    assert!(text.contains(&format!("\r\n{mine},")));
    assert!(
        text.contains("13912345678"),
        "the requester sees their own words"
    );
    // Community staff see the whole community, masked as they see it; Excel, English headers.
    let x = a
        .router
        .clone()
        .oneshot(
            HttpRequest::get("/api/requests?format=xlsx&status=submitted")
                .header("authorization", format!("Bearer {}", a.tokens["community"]))
                .header("accept-language", "en")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(x.status(), StatusCode::OK);
    let bytes = x.into_body().collect().await.unwrap().to_bytes();
    let sheet = redgrid_app::tabular::read(&bytes).unwrap();
    assert_eq!(sheet.headers[0], "No.");
    assert_eq!(sheet.rows.len(), 3, "all three in the community");
    let all: String = sheet
        .rows
        .iter()
        .flat_map(|(_, cells)| cells.iter().cloned())
        .collect::<Vec<_>>()
        .join("|");
    assert!(!all.contains("13912345678"), "masked for staff: {all}");
    // A bad format is refused at its field.
    let bad = a.get("/api/requests?format=pdf", "resident").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["fields"][0]["field"], "format");
}

#[tokio::test]
async fn alliances_are_created_edited_ended_and_staffed_over_http() {
    let a = app().await;
    let body = json!({"code": "PORT", "name": "港口党建联盟", "area_id": a.f.street_a.id.0,
        "level": "street", "goals": "服务港口企业",
        "member_unit_ids": [a.f.unit_dept.id.0, a.f.unit_street_a.id.0],
        "groups": [{"name": "用工服务组", "focus": "招工", "leader": "李一"}]});
    let r = a.post("/api/org/alliances", "admin", body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let unit = r.body["unit_id"].as_i64().unwrap();
    assert_eq!(r.body["groups"][0]["name"], "用工服务组");
    // The same code again: 409; a street's staff may not: 403; no members: 422.
    assert_eq!(
        a.post("/api/org/alliances", "admin", body.clone())
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        a.post("/api/org/alliances", "street", body).await.status,
        StatusCode::FORBIDDEN
    );
    let empty =
        json!({"code": "X", "name": "x", "area_id": a.f.street_a.id.0, "member_unit_ids": []});
    let r = a.post("/api/org/alliances", "admin", empty).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // People are given a role in the alliance's unit like in any unit.
    let g = a
        .post(
            "/api/grants",
            "admin",
            json!({"phone": "13900088001", "name": "联盟队员", "role": "member", "unit_id": unit}),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    // Edited with a whole new list of members.
    let edit = json!({"name": "港口企业党建联盟", "member_unit_ids": [a.f.unit_dept.id.0]});
    let r = a
        .call(
            "PATCH",
            "/api/org/alliances/PORT",
            Some("admin"),
            Some(&edit.to_string()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["member_unit_ids"], json!([a.f.unit_dept.id.0]));
    let r = a
        .call(
            "PATCH",
            "/api/org/alliances/NOPE",
            Some("admin"),
            Some(&edit.to_string()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Ended; a bad date is refused at its field; ending again is a conflict.
    let bad = a
        .post(
            "/api/org/alliances/PORT/end",
            "admin",
            json!({"ended_on": "tomorrow"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["fields"][0]["field"], "ended_on");
    let r = a
        .post(
            "/api/org/alliances/PORT/end",
            "admin",
            json!({"ended_on": "2026-12-31"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["ended_on"], "2026-12-31");
    let again = a
        .post("/api/org/alliances/PORT/end", "admin", json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_spreadsheet_that_killed_the_server_is_refused_and_the_server_lives_on() {
    let a = app().await;
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../redgrid-app/tests/files/one-cell-at-XFD1048576.xlsx"
    ))
    .unwrap();
    let req = HttpRequest::post("/api/org/members/import?dry_run=true")
        .header("authorization", format!("Bearer {}", a.tokens["admin"]))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap();
    let res = a.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["issues"][0]["code"], "too_many_columns", "{body}");
    // Still answering.
    assert_eq!(a.get("/api/me", "admin").await.status, StatusCode::OK);
}

async fn text_of(a: &App, uri: &str) -> (StatusCode, String, axum::http::HeaderMap) {
    let req = HttpRequest::builder().uri(uri).body(Body::empty()).unwrap();
    let res = a.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        String::from_utf8_lossy(&bytes).into_owned(),
        headers,
    )
}

#[tokio::test]
async fn metrics_count_commands_routes_and_lights_without_personal_data_and_readyz_answers() {
    let a = app().await;
    let id = a.file("resident").await;
    a.step(
        id,
        "accept",
        "grid",
        json!({"category_id": a.f.cat_garbage.id.0}),
    )
    .await;
    // A refused command is counted under its code.
    let refused = a
        .post(
            &format!("/api/requests/{id}/verify"),
            "grid",
            json!({"passed": true}),
        )
        .await;
    assert_ne!(refused.status, StatusCode::OK);
    let code = refused.body["code"].as_str().unwrap().to_string();
    let (status, text, headers) = text_of(&a, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    // What waits to be settled is shown, by table.
    for table in ["audit", "scorecard"] {
        assert!(
            text.contains(&format!("redgrid_settle_waiting{{table=\"{table}\"}} ")),
            "{text}"
        );
    }
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    assert!(
        text.contains("redgrid_commands_total{kind=\"submit\",outcome=\"ok\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("redgrid_commands_total{kind=\"accept\",outcome=\"ok\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "redgrid_commands_total{{kind=\"verify\",outcome=\"{code}\"}} 1\n"
        )),
        "{text}"
    );
    assert!(text.contains("redgrid_command_seconds_bucket{kind=\"submit\",le=\"+Inf\"} 1\n"));
    // Routes by pattern, never by id.
    assert!(text.contains(
        "redgrid_http_requests_total{route=\"/api/requests/{id}/{command}\",method=\"POST\",status=\"200\"} 1\n"
    ), "{text}");
    assert!(!text.contains(&format!("/api/requests/{id}/")));
    assert!(
        text.contains("redgrid_open_requests{light=\"green\"}"),
        "{text}"
    );
    assert!(text.contains("redgrid_outbox_waiting "), "{text}");
    assert!(text.contains("redgrid_sqlite_wal_bytes "), "{text}");
    assert!(text.contains("redgrid_sqlite_wal_in_use_bytes "), "{text}");
    assert!(
        text.contains("redgrid_sqlite_batches{outcome=\"rolled_back\"} 0\n"),
        "{text}"
    );
    for person in [&a.f.resident, &a.f.grid_worker] {
        assert!(!text.contains(&person.name));
        if let Some(p) = &person.phone {
            assert!(!text.contains(p.as_str()));
        }
    }
    // Security headers on the text answer too.
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let (status, text, _) = text_of(&a, "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ready"], true);
    assert_eq!(v["migrations"], redgrid_store::MIGRATIONS.len());
}

#[tokio::test]
async fn strict_input_json_only_no_duplicate_keys_no_invisible_text_and_every_error_documented() {
    let a = app().await;
    let body = json!({"channel": "app", "description": "路灯坏了", "area_id": a.f.grid_a1_1.id.0})
        .to_string();
    let token = a.tokens["resident"].clone();
    let auth = format!("Bearer {token}");
    let send = |content_type: Option<&'static str>, body: String, lang: &'static str| {
        let mut b = HttpRequest::builder()
            .method("POST")
            .uri("/api/requests")
            .header("authorization", auth.clone())
            .header("accept-language", lang);
        if let Some(t) = content_type {
            b = b.header("content-type", t);
        }
        let req = b.body(Body::from(body)).unwrap();
        let router = a.router.clone();
        async move {
            let res = router.oneshot(req).await.unwrap();
            let status = res.status();
            let headers = res.headers().clone();
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
                headers,
            )
        }
    };
    // JSON sent as text, or with no type at all: 415, and nothing filed.
    for t in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
    ] {
        let (status, v, _) = send(t, body.clone(), "zh-CN").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{t:?}: {v}");
        assert_eq!(v["code"], "unsupported_media_type");
        assert!(v["message"].as_str().unwrap().contains("JSON"));
    }
    let (status, _, _) = send(
        Some("application/json; charset=utf-8"),
        body.clone(),
        "zh-CN",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // White space alone is not JSON (no body at all is no fields, for commands that need none).
    let (status, v, _) = send(Some("application/json"), "\n ".to_string(), "en").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["code"], "malformed_json");
    // A key named twice: neither value is taken.
    let twice = format!(
        r#"{{"channel": "app", "description": "路灯坏了", "description": "别的", "area_id": {}}}"#,
        a.f.grid_a1_1.id.0
    );
    let (status, v, _) = send(Some("application/json"), twice, "en").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["code"], "malformed_json");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("duplicate key \"description\""),
        "{v}"
    );
    // Text that shows nothing is blank.
    for blank in [
        "\u{200B}\u{200B}\u{200B}",
        " \u{FEFF}\u{2060} ",
        "\u{3000}\u{200D}",
    ] {
        let b = json!({"channel": "app", "description": blank, "area_id": a.f.grid_a1_1.id.0});
        let (status, v, _) = send(Some("application/json"), b.to_string(), "zh-CN").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["fields"][0]["field"], "description");
        assert_eq!(v["fields"][0]["code"], "required");
    }
    let listed = a.get("/api/requests?limit=50", "resident").await;
    assert_eq!(
        listed.body["items"].as_array().map(Vec::len),
        Some(1),
        "only the good one was filed"
    );
    // The framework's own refusals come as the documented JSON, with the security headers.
    for (method, uri, status) in [
        (
            "GET",
            "/api/requests/not-a-number".to_string(),
            StatusCode::NOT_FOUND,
        ),
        (
            "GET",
            "/api/requests?limit=many".to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "GET",
            "/api/areas?parent_id=many".to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "DELETE",
            "/api/requests".to_string(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "GET",
            format!("/api/requests?text={}", "x".repeat(9000)),
            StatusCode::URI_TOO_LONG,
        ),
    ] {
        let req = HttpRequest::builder()
            .method(method)
            .uri(&uri)
            .header("authorization", auth.clone())
            .header("accept-language", "en")
            .body(Body::empty())
            .unwrap();
        let res = a.router.clone().oneshot(req).await.unwrap();
        assert_eq!(
            res.status(),
            status,
            "{method} {}",
            &uri[..uri.len().min(40)]
        );
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(v["code"].is_string() && v["message"].is_string(), "{v}");
    }
    // Messages never quote a limit or an id they do not have.
    let short = a
        .post(
            "/api/me/password",
            "resident",
            json!({"current": "x", "new": "short1"}),
        )
        .await;
    let text = short.body.to_string();
    assert!(
        !text.contains("至少 0") && !text.contains("at least 0"),
        "{text}"
    );
    for lang in [redgrid_core::Lang::Zh, redgrid_core::Lang::En] {
        let m = redgrid_core::error::CoreError::NotFound {
            entity: redgrid_core::error::Entity::Person,
            id: 0,
        }
        .message(lang);
        assert!(!m.contains('0'), "{m}");
    }
}

#[tokio::test]
async fn an_upload_must_be_what_its_type_says() {
    let a = app().await;
    for (ctype, data, status) in [
        (
            "image/png",
            &b"<html><script>alert(1)</script></html>"[..],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "image/jpeg",
            &b"\x89PNG\r\n\x1a\nnot a jpeg"[..],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "application/pdf",
            &b"MZ\x90\x00"[..],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "image/jpeg",
            &b"\xFF\xD8\xFF\xE0 jfif"[..],
            StatusCode::CREATED,
        ),
        ("image/gif", &b"GIF89a...."[..], StatusCode::CREATED),
        (
            "image/webp",
            &b"RIFF\x10\x00\x00\x00WEBPVP8 "[..],
            StatusCode::CREATED,
        ),
        ("application/pdf", &b"%PDF-1.7\n"[..], StatusCode::CREATED),
    ] {
        let req = HttpRequest::builder()
            .method("POST")
            .uri("/api/attachments")
            .header("authorization", format!("Bearer {}", a.tokens["resident"]))
            .header("content-type", ctype)
            .body(Body::from(data.to_vec()))
            .unwrap();
        let res = a.router.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), status, "{ctype}");
        if status != StatusCode::CREATED {
            let v: Value =
                serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes())
                    .unwrap();
            assert_eq!(v["fields"][0]["code"], "wrong_content", "{v}");
        }
    }
}

/// `/metrics` answers a scraper on this machine, or one with the configured token; anyone else
/// gets 403 (the counts say how busy each part of the district is).
#[tokio::test]
async fn metrics_answer_this_machine_or_the_token_only() {
    let a = app().await;
    let scrape = |router: axum::Router, from: &'static str, auth: Option<&'static str>| async move {
        let mut b = HttpRequest::builder().uri("/metrics");
        if let Some(t) = auth {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let mut req = b.body(Body::empty()).unwrap();
        let addr: std::net::SocketAddr = from.parse().unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
        let res = router.oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    };
    // No token configured: this machine only.
    let (st, text) = scrape(a.router.clone(), "127.0.0.1:40000", None).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    let (st, _) = scrape(a.router.clone(), "[::1]:40000", None).await;
    assert_eq!(st, StatusCode::OK);
    let (st, text) = scrape(a.router.clone(), "10.1.2.3:40000", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("metrics_forbidden"), "{text}");
    // A token configured: whoever sends it, from anywhere; nobody without it, not even locally.
    let mut state = AppState::new(a.state.service.clone());
    state.metrics_token = Some("scrape-secret-0123456789".into());
    let with_token = router(Arc::new(state));
    let (st, text) = scrape(
        with_token.clone(),
        "10.1.2.3:40000",
        Some("scrape-secret-0123456789"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert!(
        text.contains("redgrid_commands_total") || text.contains("# TYPE"),
        "{text}"
    );
    for (from, token) in [
        ("10.1.2.3:40000", Some("scrape-secret-012345678X")),
        ("10.1.2.3:40000", None),
        ("127.0.0.1:40000", None),
    ] {
        let (st, _) = scrape(with_token.clone(), from, token).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{from} {token:?}");
    }
}

/// Behind a trusted reverse proxy the client's own address (from `X-Forwarded-For`) is what the
/// per-address limits count; from anyone else the header is ignored.
#[tokio::test]
async fn a_trusted_proxy_passes_on_the_clients_address_and_nobody_else_can() {
    let db = testing::sqlite().await.unwrap();
    let (service, f) = testing::seed(db.store.clone()).await.unwrap();
    let service = service.with_limits(redgrid_app::limits::Limits {
        filings_per_address_hour: 2,
        ..Default::default()
    });
    let mut tokens = Vec::new();
    for p in [&f.resident, &f.other_resident] {
        tokens.push(testing::api_token(&service, p).await.unwrap());
    }
    let mut state = AppState::new(Arc::new(service));
    state.trusted_proxies = vec![redgrid_web::proxy::Network::parse("127.0.0.1").unwrap()];
    let app = router(Arc::new(state));
    let file = |peer: &'static str, forwarded: &'static str, token: String| {
        let app = app.clone();
        let area = f.grid_a1_1.id.0;
        async move {
            let body = json!({"channel": "app", "description": "楼道灯不亮", "area_id": area});
            let mut req = HttpRequest::post("/api/requests")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .header("x-forwarded-for", forwarded)
                .body(Body::from(body.to_string()))
                .unwrap();
            let addr: std::net::SocketAddr = peer.parse().unwrap();
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(addr));
            app.oneshot(req).await.unwrap().status()
        }
    };
    // Through the proxy: two filings from 1.1.1.1 use its allowance; 2.2.2.2 has its own.
    for t in [&tokens[0], &tokens[1]] {
        assert_eq!(
            file("127.0.0.1:5000", "1.1.1.1", t.clone()).await,
            StatusCode::CREATED
        );
    }
    assert_eq!(
        file("127.0.0.1:5000", "1.1.1.1", tokens[1].clone()).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        file("127.0.0.1:5000", "2.2.2.2", tokens[1].clone()).await,
        StatusCode::CREATED
    );
    // Straight from a client that is no proxy, the header means nothing: 10.7.7.7 is counted.
    assert_eq!(
        file("10.7.7.7:5000", "3.3.3.3", tokens[0].clone()).await,
        StatusCode::CREATED
    );
    assert_eq!(
        file("10.7.7.7:5000", "4.4.4.4", tokens[0].clone()).await,
        StatusCode::CREATED
    );
    assert_eq!(
        file("10.7.7.7:5000", "5.5.5.5", tokens[0].clone()).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Issue 22, part 1: what the public sees of a request is the summary staff approved, never the
/// resident's or the handler's own words; until one is approved, only category, place, status and
/// dates.
#[tokio::test]
async fn the_public_sees_approved_summaries_never_the_residents_words() {
    let a = app().await;
    let words = "我是张三，住幸福里3号楼2单元501，楼道灯坏了，电话13912345678";
    let r = a
        .post(
            "/api/requests",
            "resident",
            json!({"channel": "app", "description": words, "area_id": a.f.grid_a1_1.id.0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    // The draft for those who approve: names, the address and the number taken out.
    let draft = a
        .get(&format!("/api/requests/{id}/public-draft"), "grid")
        .await;
    assert_eq!(draft.status, StatusCode::OK, "{}", draft.body);
    assert_eq!(
        draft.body["need"],
        "我是[姓名]，住[地址]，楼道灯坏了，电话[号码]"
    );
    assert_eq!(draft.body["result"], Value::Null);
    // Not for the resident, the supervisor (no approval of theirs), nor anyone who cannot see it.
    for (who, status) in [
        ("resident", StatusCode::FORBIDDEN),
        ("supervisor", StatusCode::FORBIDDEN),
        ("other", StatusCode::NOT_FOUND),
    ] {
        let r = a
            .get(&format!("/api/requests/{id}/public-draft"), who)
            .await;
        assert_eq!(r.status, status, "{who}: {}", r.body);
    }
    let r = a.get("/api/requests/999999/public-draft", "grid").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Accepted without a summary: listed, but with nothing of what was said.
    a.step(
        id,
        "accept",
        "grid",
        json!({"category_id": a.f.cat_garbage.id.0}),
    )
    .await;
    let page = a.call("GET", "/api/public/needs", None, None, &[]).await;
    let row = &page.body["items"][0];
    assert_eq!(
        (row["id"].as_i64(), &row["summary"]),
        (Some(id), &Value::Null)
    );
    let seen = public_texts(&a, id).await;
    for piece in [
        "楼道灯坏了",
        "张三",
        "幸福里3号楼",
        "2单元501",
        "13912345678",
        "139****5678",
    ] {
        assert!(!seen.contains(piece), "{piece} is public");
    }
    assert!(
        seen.contains("公示内容待审核"),
        "the page says why the row is bare"
    );
    // A summary still holding a phone number is refused at its field, in the caller's language.
    let r = a
        .call(
            "POST",
            &format!("/api/requests/{id}/publish"),
            Some("grid"),
            Some(r#"{"need": "楼道灯坏了，请回电 139-1234-5678"}"#),
            &[("accept-language", "en")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["fields"][0]["field"], "need");
    assert_eq!(r.body["fields"][0]["code"], "personal_number");
    assert_eq!(
        r.body["fields"][0]["message"],
        "must not hold a phone, ID or bank-card number"
    );
    let r = a
        .post(
            &format!("/api/requests/{id}/publish"),
            "grid",
            json!({"need": "公".repeat(301)}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["fields"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("too_long"))
    );
    assert_eq!(
        a.post(
            &format!("/api/requests/{id}/publish"),
            "supervisor",
            json!({"need": "x"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // Approved: the summary, and only it, is public everywhere.
    a.step(
        id,
        "publish",
        "grid",
        json!({"need": "楼道灯不亮，请求维修"}),
    )
    .await;
    let page = a.call("GET", "/api/public/needs", None, None, &[]).await;
    assert_eq!(page.body["items"][0]["summary"], "楼道灯不亮，请求维修");
    let (_, one, _) = raw(&a, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(json_of(&one)[0]["description"], "楼道灯不亮，请求维修");
    // The result: the handler's words stay inside; the approved summary goes out.
    a.step(
        id,
        "dispatch",
        "grid",
        json!({"unit_id": a.f.unit_grid_a1_1.id.0}),
    )
    .await;
    a.step(id, "claim", "volunteer", json!({})).await;
    a.step(
        id,
        "resolve",
        "volunteer",
        json!({"summary": "已为张三家门口（3号楼2单元）更换灯泡",
               "public_summary": "已更换楼道灯泡"}),
    )
    .await;
    let draft = a
        .get(&format!("/api/requests/{id}/public-draft"), "verifier")
        .await;
    assert_eq!(draft.status, StatusCode::OK, "{}", draft.body);
    assert_eq!(draft.body["approved_result"], "已更换楼道灯泡");
    assert!(!draft.body["result"].as_str().unwrap().contains("张三"));
    a.step(id, "verify", "verifier", json!({"passed": true}))
        .await;
    a.step(
        id,
        "rate",
        "resident",
        json!({"resolved": true, "satisfaction": "satisfied", "comment": "张三表示感谢"}),
    )
    .await;
    let page = a.call("GET", "/api/public/results", None, None, &[]).await;
    let row = &page.body["items"][0];
    assert_eq!(row["id"].as_i64(), Some(id));
    assert_eq!(row["result_summary"], "已更换楼道灯泡");
    assert_eq!(row["summary"], "楼道灯不亮，请求维修");
    let seen = public_texts(&a, id).await;
    for piece in ["楼道灯坏了", "张三", "3号楼", "2单元", "13912345678"] {
        assert!(!seen.contains(piece), "{piece} is public");
    }
    assert!(seen.contains("已更换楼道灯泡") && seen.contains("楼道灯不亮，请求维修"));
    // The verifier may correct it after closing; the state stays closed.
    let r = a
        .step(
            id,
            "publish",
            "verifier",
            json!({"result": "楼道灯泡已更换"}),
        )
        .await;
    assert_eq!(r["request"]["status"], "closed");
    assert_eq!(r["event"]["kind"], "published");
}

/// Everything the public can read about requests: the lists as JSON, CSV and pages, and Open311.
async fn public_texts(a: &App, id: i64) -> String {
    let mut all = String::new();
    for uri in [
        "/api/public/needs".to_string(),
        "/api/public/needs?format=csv".to_string(),
        "/api/public/results".to_string(),
        "/public/needs".to_string(),
        "/public/results".to_string(),
        "/open311/v2/requests.json".to_string(),
        format!("/open311/v2/requests/{id}.xml"),
    ] {
        let (st, body, _) = raw(a, &uri).await;
        assert_eq!(st, StatusCode::OK, "{uri}");
        all.push_str(&body);
    }
    all
}

/// Issue 22, part 4: the access log is the auditor's, searchable by whose data and by viewer, with
/// every reveal and its reason, and exported to Excel; the district administrator cannot read it.
#[tokio::test]
async fn the_auditor_reads_searches_and_exports_the_access_log_and_nobody_else_can() {
    let a = app().await;
    let f = &a.f;
    let id = a.file("resident").await;
    let other = a.file("other").await;
    // Views by those in charge, and a reveal with its reason.
    assert_eq!(
        a.get(&format!("/api/requests/{id}"), "grid").await.status,
        StatusCode::OK
    );
    assert_eq!(
        a.get(&format!("/api/requests/{other}"), "community")
            .await
            .status,
        StatusCode::OK
    );
    let r = a
        .post(
            &format!("/api/requests/{id}/reveal"),
            "grid",
            json!({"reason": "上门核实前电话联系"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Everything, newest first, with both names.
    let all = a.get("/api/audit/access-log", "auditor").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let items = all.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{}", all.body);
    assert_eq!(items[0]["via"], "reveal");
    assert_eq!(items[0]["reason"], "上门核实前电话联系");
    assert_eq!(items[0]["viewer_name"], f.grid_worker.name.as_str());
    assert_eq!(items[0]["subject_name"], f.resident.name.as_str());
    // By whose data (id or phone) and by viewer.
    let by_person = a
        .get(
            &format!("/api/audit/access-log?person_id={}", f.other_resident.id),
            "auditor",
        )
        .await;
    let rows = by_person.body["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["viewer_id"], f.community_staff.id.0);
    let phone = f.resident.phone.clone().unwrap();
    let by_phone = a
        .get(&format!("/api/audit/access-log?phone={phone}"), "auditor")
        .await;
    assert_eq!(by_phone.body["items"].as_array().unwrap().len(), 2);
    let nobody = a
        .get("/api/audit/access-log?phone=13999999999", "auditor")
        .await;
    assert_eq!(nobody.body["items"].as_array().unwrap().len(), 0);
    let by_viewer = a
        .get(
            &format!("/api/audit/access-log?viewer_id={}", f.grid_worker.id),
            "auditor",
        )
        .await;
    assert_eq!(by_viewer.body["items"].as_array().unwrap().len(), 2);
    // Pages by cursor.
    let first = a.get("/api/audit/access-log?limit=2", "auditor").await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let rest = a
        .get(
            &format!("/api/audit/access-log?limit=2&cursor={cursor}"),
            "auditor",
        )
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["next_cursor"], Value::Null);
    // Exported: CSV with Chinese headers, and an Excel workbook.
    let (st, csv, ctype) = raw_as(&a, "/api/audit/access-log?format=csv", "auditor").await;
    assert_eq!(st, StatusCode::OK);
    assert!(ctype.starts_with("text/csv"));
    assert!(
        csv.contains("查看人") && csv.contains("上门核实前电话联系") && csv.contains("申请查看"),
        "{csv}"
    );
    let (st, _, ctype) = raw_as(&a, "/api/audit/access-log?format=xlsx", "auditor").await;
    assert_eq!(st, StatusCode::OK);
    assert!(ctype.contains("spreadsheetml"));
    // Nobody else: not the administrator, not the supervisor, not those in charge.
    for who in ["admin", "supervisor", "grid", "resident"] {
        let r = a.get("/api/audit/access-log", who).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}");
        let (st, _, _) = raw_as(&a, "/api/audit/access-log?format=xlsx", who).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}");
    }
    assert_eq!(
        a.call("GET", "/api/audit/access-log", None, None, &[])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Bad input, every field at once.
    let r = a
        .get(
            "/api/audit/access-log?person_id=x&limit=5000&format=pdf&cursor=zz&colour=red",
            "auditor",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["person_id", "limit", "format", "cursor", "colour"]);
    // No administrator can take the auditor's place: no token in their name, no password reset,
    // no granting or revoking the role (the command line makes the auditor).
    let auditor_id = f.auditor.id.0;
    for (uri, body) in [
        (
            "/api/tokens",
            json!({"person_id": auditor_id, "name": "x", "roles": ["auditor"]}),
        ),
        (
            "/api/accounts",
            json!({"person_id": auditor_id, "username": "aud2", "password": "a long new pass 2026"}),
        ),
        (
            "/api/grants",
            json!({"person_id": f.admin.id.0, "role": "auditor", "area_id": f.district.id.0}),
        ),
        (
            "/api/grants/revoke",
            json!({"person_id": auditor_id, "role": "auditor", "area_id": f.district.id.0}),
        ),
    ] {
        let r = a.post(uri, "admin", body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}: {}", r.body);
    }
    assert_eq!(
        a.get("/api/audit/access-log", "auditor").await.status,
        StatusCode::OK
    );
    // And the auditor sees no request: the role reads the log, nothing else.
    assert_eq!(
        a.get(&format!("/api/requests/{id}"), "auditor")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// Issue 22, part 2, over HTTP: an administrator erases a resident; nothing of them is found
/// again in any answer, search, export, public list or Open311, and their token stops working.
#[tokio::test]
async fn an_erased_resident_is_found_nowhere() {
    let a = app().await;
    let f = &a.f;
    let name = f.resident.name.clone();
    let phone = f.resident.phone.clone().unwrap();
    let r = a
        .post(
            "/api/requests",
            "resident",
            json!({"channel": "app", "description": format!("我是{name}，电话{phone}，楼道灯坏了"),
                   "area_id": f.grid_a1_1.id.0, "address": "幸福里3号楼2单元501"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    a.step(
        id,
        "accept",
        "grid",
        json!({"category_id": f.cat_garbage.id.0}),
    )
    .await;
    assert_eq!(
        a.get(&format!("/api/requests/{id}"), "grid").await.status,
        StatusCode::OK
    );
    let uri = format!("/api/admin/people/{}/erase", f.resident.id);
    // Refusals first: not an administrator, no reason, nobody; nor one's own record or the
    // auditor's.
    assert_eq!(
        a.post(&uri, "grid", json!({"reason": "x"})).await.status,
        StatusCode::FORBIDDEN
    );
    for whom in [f.admin.id, f.auditor.id] {
        let r = a
            .post(
                &format!("/api/admin/people/{whom}/erase"),
                "admin",
                json!({"reason": "x"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{whom}");
    }
    let r = a.post(&uri, "admin", json!({})).await;
    assert_eq!(
        (r.status, r.body["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let r = a
        .post(
            "/api/admin/people/999999/erase",
            "admin",
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let before = a.get(&format!("/api/requests/{id}"), "grid").await;
    assert!(
        before.body.to_string().contains(&phone),
        "nothing was erased by the refusals"
    );
    // Erased.
    let r = a
        .post(&uri, "admin", json!({"reason": "本人申请删除"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["erased"].as_bool(), r.body["requests"].as_i64()),
        (Some(true), Some(1))
    );
    let again = a
        .call(
            "POST",
            &uri,
            Some("admin"),
            Some(r#"{"reason": "再次申请"}"#),
            &[("accept-language", "en")],
        )
        .await;
    assert_eq!(again.body["erased"], false);
    assert_eq!(
        again.body["message"],
        "this person was erased before; nothing was changed"
    );
    // Found nowhere: the request, the lists and their search, the ledger export, the public lists,
    // Open311, the access log.
    let mut seen = String::new();
    for (uri, who) in [
        (format!("/api/requests/{id}"), "grid"),
        (format!("/api/requests?q={}", "楼道灯坏了"), "admin"),
        ("/api/requests?limit=200".to_string(), "admin"),
        ("/api/requests?format=csv".to_string(), "admin"),
        ("/api/audit/access-log".to_string(), "auditor"),
        ("/api/me/messages".to_string(), "grid"),
        ("/api/me/messages".to_string(), "admin"),
    ] {
        let (st, body, _) = raw_as(&a, &uri, who).await;
        assert_eq!(st, StatusCode::OK, "{uri}: {body}");
        seen.push_str(&body);
    }
    seen.push_str(&public_texts(&a, id).await);
    for piece in [name.as_str(), phone.as_str(), "2单元501", "楼道灯坏了"] {
        assert!(!seen.contains(piece), "{piece} is still found");
    }
    let search = a.get(&format!("/api/requests?q={name}"), "admin").await;
    assert_eq!(search.body["items"].as_array().unwrap().len(), 0);
    let log = a.get("/api/audit/access-log", "auditor").await;
    assert_eq!(log.body["items"][0]["subject_name"], "[已删除]");
    // Their token and their login are gone.
    assert_eq!(
        a.get("/api/me", "resident").await.status,
        StatusCode::UNAUTHORIZED
    );
}
