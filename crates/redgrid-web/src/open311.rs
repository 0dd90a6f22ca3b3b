//! Open311 GeoReport v2 (`/open311/v2`): discovery, the service list and definitions, requests (a
//! list, one, or filed), tokens, and FixMyStreet's `servicerequestupdates`. Every resource answers in
//! JSON (a top-level array) or XML (UTF-8 declaration, no namespace) by its suffix; errors come in
//! the same format as a list of `{code, description}`.
//!
//! Requests are shown as on the public lists: never a requester's name, phone or e-mail, the place
//! to community level only, numbers in texts starred, and no restricted request (routine alerts).
//! `POST requests` files a request through the `open311` channel as the `api_key`'s account.

use crate::AppState;
use crate::api::public::item;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use redgrid_core::calendar::shanghai;
use redgrid_core::directory::Directory;
use redgrid_core::error::Lang;
use redgrid_core::ids::RequestId;
use redgrid_core::policy::Visibility;
use redgrid_core::request::{Request, Status};
use redgrid_store::{ListFilter, StoreError};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Format {
    Json,
    Xml,
}

/// One value: text, a number or a flag (JSON keeps the type; XML writes text).
#[derive(Clone, Debug)]
enum V {
    S(String),
    N(i64),
    B(bool),
    Null,
    List(&'static str, Vec<Obj>),
}

type Obj = Vec<(&'static str, V)>;

fn s(v: impl Into<String>) -> V {
    V::S(v.into())
}

fn opt(v: Option<String>) -> V {
    v.map(V::S).unwrap_or(V::Null)
}

fn json_value(v: &V) -> serde_json::Value {
    match v {
        V::S(t) => serde_json::Value::String(t.clone()),
        V::N(n) => serde_json::Value::from(*n),
        V::B(b) => serde_json::Value::Bool(*b),
        V::Null => serde_json::Value::Null,
        V::List(_, items) => serde_json::Value::Array(items.iter().map(json_obj).collect()),
    }
}

fn json_obj(o: &Obj) -> serde_json::Value {
    serde_json::Value::Object(
        o.iter()
            .map(|(k, v)| (k.to_string(), json_value(v)))
            .collect(),
    )
}

/// Escapes text for XML and HTML (`&apos;` is valid in both).
pub(crate) fn xml_escape(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn xml_obj(out: &mut String, tag: &str, o: &Obj) {
    let _ = write!(out, "<{tag}>");
    for (k, v) in o {
        match v {
            V::S(t) => {
                let _ = write!(out, "<{k}>{}</{k}>", xml_escape(t));
            }
            V::N(n) => {
                let _ = write!(out, "<{k}>{n}</{k}>");
            }
            V::B(b) => {
                let _ = write!(out, "<{k}>{b}</{k}>");
            }
            V::Null => {
                let _ = write!(out, "<{k}/>");
            }
            V::List(item, items) => {
                let _ = write!(out, "<{k}>");
                for i in items {
                    xml_obj(out, item, i);
                }
                let _ = write!(out, "</{k}>");
            }
        }
    }
    let _ = write!(out, "</{tag}>");
}

/// A list of objects in the format: a JSON array, or `<root><item/>…</root>`.
fn render(format: Format, status: StatusCode, root: &str, item: &str, list: &[Obj]) -> Response {
    let (body, ctype) = match format {
        Format::Json => (
            serde_json::Value::Array(list.iter().map(json_obj).collect()).to_string(),
            "application/json; charset=utf-8",
        ),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
            let _ = write!(out, "<{root}>");
            for o in list {
                xml_obj(&mut out, item, o);
            }
            let _ = write!(out, "</{root}>");
            (out, "text/xml; charset=utf-8")
        }
    };
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

/// One object (discovery, a service definition): a JSON object, or `<root>…</root>`.
fn render_one(format: Format, root: &str, o: &Obj) -> Response {
    let (body, ctype) = match format {
        Format::Json => (json_obj(o).to_string(), "application/json; charset=utf-8"),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
            xml_obj(&mut out, root, o);
            (out, "text/xml; charset=utf-8")
        }
    };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

/// An Open311 error: `[{code, description}]` with the HTTP status.
pub struct Open311Error {
    status: StatusCode,
    format: Format,
    description: String,
}

impl Open311Error {
    fn new(status: StatusCode, format: Format, description: impl Into<String>) -> Self {
        Open311Error {
            status,
            format,
            description: description.into(),
        }
    }

    /// A failure of ours (the database, say): logged, and answered with a 500 that says nothing of
    /// it.
    fn internal(format: Format, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "open311: internal error");
        Open311Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format,
            "internal error; please try again later",
        )
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let o: Obj = vec![
            ("code", V::N(self.status.as_u16() as i64)),
            ("description", s(self.description)),
        ];
        render(self.format, self.status, "errors", "error", &[o])
    }
}

type Result311 = Result<Response, Open311Error>;

/// Splits `name.json` / `name.xml`; anything else is not found (in JSON).
fn split_format(file: &str) -> Result<(&str, Format), Open311Error> {
    if let Some(n) = file.strip_suffix(".json") {
        Ok((n, Format::Json))
    } else if let Some(n) = file.strip_suffix(".xml") {
        Ok((n, Format::Xml))
    } else {
        Err(Open311Error::new(
            StatusCode::NOT_FOUND,
            Format::Json,
            "resources end in .json or .xml",
        ))
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.with_timezone(&shanghai())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

fn district_code(dir: &Directory) -> String {
    dir.areas()
        .find(|a| a.parent_id.is_none())
        .map(|a| a.code.clone())
        .unwrap_or_default()
}

/// Refuses a `jurisdiction_id` other than this district's code (404, as the spec asks); none given
/// means this district.
fn check_jurisdiction(
    dir: &Directory,
    format: Format,
    params: &[(String, String)],
) -> Result<(), Open311Error> {
    match params
        .iter()
        .find(|(k, v)| k == "jurisdiction_id" && !v.is_empty())
    {
        Some((_, j)) if j.trim() != district_code(dir) => Err(Open311Error::new(
            StatusCode::NOT_FOUND,
            format,
            format!("no such jurisdiction_id: {j}"),
        )),
        _ => Ok(()),
    }
}

/// What a GET names (before its `.json` or `.xml`), its format and the directory, once its
/// `jurisdiction_id` is this district's.
fn addressed<'a>(
    state: &AppState,
    file: &'a str,
    params: &[(String, String)],
) -> Result<(&'a str, Format, Arc<Directory>), Open311Error> {
    let (name, format) = split_format(file)?;
    let dir = state.service.directory();
    check_jurisdiction(&dir, format, params)?;
    Ok((name, format, dir))
}

/// The service code of a catalogue item: its own code.
fn service(dir: &Directory, item: &redgrid_core::catalogue::CategoryItem, lang: Lang) -> Obj {
    let class = dir.class(item.class_id);
    vec![
        ("service_code", s(item.code.clone())),
        ("service_name", s(lang.pick(&item.name_zh, &item.name_en))),
        (
            "description",
            s(format!(
                "{} · {}",
                class.map_or("", |c| lang.pick(&c.name_zh, &c.name_en)),
                lang.pick(&item.name_zh, &item.name_en)
            )),
        ),
        ("metadata", V::B(false)),
        ("type", s("realtime")),
        ("keywords", s(lang.pick(&item.name_zh, &item.name_en))),
        (
            "group",
            s(class.map_or("", |c| lang.pick(&c.name_zh, &c.name_en))),
        ),
    ]
}

fn lang_of(headers: &axum::http::HeaderMap) -> Lang {
    crate::error::lang_of(headers)
}

/// `GET /open311/v2/{resource}`: `discovery`, `services`, `requests`, `servicerequestupdates`.
pub async fn resource(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    Path(file): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result311 {
    let (name, format, dir) = addressed(&state, &file, &params)?;
    let lang = lang_of(&headers);
    match name {
        "discovery" => {
            let endpoint: Obj = vec![
                ("specification", s("http://wiki.open311.org/GeoReport_v2")),
                ("url", s("/open311/v2")),
                ("changeset", s("2026-12-01T00:00:00+08:00")),
                ("type", s("production")),
                (
                    "formats",
                    V::List(
                        "format",
                        vec![
                            vec![("format", s("application/json"))],
                            vec![("format", s("text/xml"))],
                        ],
                    ),
                ),
            ];
            let o: Obj = vec![
                ("changeset", s("2026-12-01T00:00:00+08:00")),
                ("contact", s(district_code(&dir))),
                (
                    "key_service",
                    s("API keys are issued by the district's administrator"),
                ),
                ("endpoints", V::List("endpoint", vec![endpoint])),
            ];
            Ok(render_one(format, "discovery", &o))
        }
        "services" => {
            let list: Vec<Obj> = dir
                .items()
                .into_iter()
                .filter(|i| i.active)
                .map(|i| service(&dir, i, lang))
                .collect();
            Ok(render(format, StatusCode::OK, "services", "service", &list))
        }
        "requests" => requests(&state, &dir, format, lang, &params).await,
        "servicerequestupdates" => updates(&state, format, lang, &params).await,
        _ => Err(Open311Error::new(
            StatusCode::NOT_FOUND,
            format,
            "no such resource",
        )),
    }
}

/// `GET /open311/v2/{collection}/{file}`: `services/{code}` (also `service/{code}`) and
/// `requests/{id}`.
pub async fn member(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    Path((collection, file)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result311 {
    let (key, format, dir) = addressed(&state, &file, &params)?;
    let lang = lang_of(&headers);
    match collection.as_str() {
        "services" | "service" => {
            let item = dir
                .items()
                .into_iter()
                .find(|i| i.active && i.code == key)
                .ok_or_else(|| {
                    Open311Error::new(StatusCode::NOT_FOUND, format, "no such service_code")
                })?;
            let o: Obj = vec![
                ("service_code", s(item.code.clone())),
                ("attributes", V::List("attribute", Vec::new())),
            ];
            // A definition is one object (JSON) under one root (XML).
            Ok(render_one(format, "service_definition", &o))
        }
        "tokens" => {
            // Requests are filed at once, so a token is the request's own id.
            let id: i64 = key
                .parse()
                .map_err(|_| Open311Error::new(StatusCode::NOT_FOUND, format, "no such token"))?;
            let r = public_request(&state, format, RequestId(id))
                .await?
                .ok_or_else(|| Open311Error::new(StatusCode::NOT_FOUND, format, "no such token"))?;
            let o: Obj = vec![
                ("service_request_id", s(r.id.0.to_string())),
                ("token", s(r.id.0.to_string())),
            ];
            Ok(render(
                format,
                StatusCode::OK,
                "service_requests",
                "request",
                &[o],
            ))
        }
        "requests" => {
            let id: i64 = key.parse().map_err(|_| {
                Open311Error::new(StatusCode::NOT_FOUND, format, "no such service_request_id")
            })?;
            let r = public_request(&state, format, RequestId(id))
                .await?
                .ok_or_else(|| {
                    Open311Error::new(StatusCode::NOT_FOUND, format, "no such service_request_id")
                })?;
            Ok(render(
                format,
                StatusCode::OK,
                "service_requests",
                "request",
                &[request_obj(&dir, &r, lang, false)],
            ))
        }
        _ => Err(Open311Error::new(
            StatusCode::NOT_FOUND,
            format,
            "no such resource",
        )),
    }
}

/// The statuses Open311 shows: all but rejected requests (a client that has just filed a request
/// finds it at once; what staff refused, often spam or a duplicate, is not shown).
fn public_statuses() -> Vec<Status> {
    Status::ALL
        .iter()
        .copied()
        .filter(|s| *s != Status::Rejected)
        .collect()
}

fn open311_status(s: Status) -> &'static str {
    if s == Status::Closed {
        "closed"
    } else {
        "open"
    }
}

/// A request as Open311 may show it: none when it does not exist, is restricted or is not public
/// yet. A database failure is a 500 with a generic description (logged), never a 404.
async fn public_request(
    state: &AppState,
    format: Format,
    id: RequestId,
) -> Result<Option<Request>, Open311Error> {
    let r = state
        .service
        .store()
        .request(id)
        .await
        .map_err(|e| Open311Error::internal(format, e))?;
    Ok(r.filter(|r| !r.restricted && public_statuses().contains(&r.status)))
}

fn request_obj(dir: &Directory, r: &Request, lang: Lang, extensions: bool) -> Obj {
    let shown = item(dir, r, lang);
    let code = r
        .category_id
        .and_then(|c| dir.item(c))
        .map(|i| i.code.clone());
    let mut o: Obj = vec![
        ("service_request_id", s(r.id.0.to_string())),
        ("status", s(open311_status(r.status))),
        ("status_notes", s(r.status.label(lang))),
        ("service_name", s(shown.category)),
        ("service_code", opt(code)),
        // The approved public summary, never the resident's words (empty until approved).
        ("description", s(shown.summary.unwrap_or_default())),
        ("agency_responsible", s(shown.unit)),
        ("service_notice", s("")),
        ("requested_datetime", s(stamp(r.created_at))),
        ("updated_datetime", s(stamp(r.updated_at))),
        ("expected_datetime", opt(r.resolve_due_at.map(stamp))),
        (
            "address",
            s(format!("{} {}", shown.street, shown.community)
                .trim()
                .to_string()),
        ),
        ("address_id", s(r.location.community_id.0.to_string())),
        ("zipcode", s("")),
        ("media_url", s("")),
    ];
    if extensions {
        // redgrid's own state and handling level, for clients that ask for them.
        o.push(("detailed_status", s(r.status.as_str())));
        o.push(("level", s(r.level.as_str())));
        o.push(("supervised", V::B(r.supervised)));
    }
    o
}

/// Reads `start_date` / `end_date` (W3C datetimes with a zone, at most 90 days apart; by default
/// the last 90 days).
fn date_range(
    params: &[(String, String)],
    format: Format,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Open311Error> {
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let parse = |k: &str| -> Result<Option<DateTime<Utc>>, Open311Error> {
        match get(k) {
            None => Ok(None),
            Some(v) => DateTime::parse_from_rfc3339(&v)
                .map(|d| Some(d.with_timezone(&Utc)))
                .map_err(|_| {
                    Open311Error::new(
                        StatusCode::BAD_REQUEST,
                        format,
                        format!("{k} must be a W3C datetime with a zone, such as 2026-11-01T00:00:00+08:00"),
                    )
                }),
        }
    };
    let now = Utc::now();
    let (start, end) = (parse("start_date")?, parse("end_date")?);
    let (start, end) = match (start, end) {
        (Some(a), Some(b)) => (a, b),
        (Some(a), None) => (a, (a + Duration::days(90)).min(now)),
        (None, Some(b)) => (b - Duration::days(90), b),
        (None, None) => (now - Duration::days(90), now),
    };
    if end < start {
        return Err(Open311Error::new(
            StatusCode::BAD_REQUEST,
            format,
            "end_date is before start_date",
        ));
    }
    if end - start > Duration::days(90) {
        return Err(Open311Error::new(
            StatusCode::BAD_REQUEST,
            format,
            "start_date and end_date are at most 90 days apart",
        ));
    }
    Ok((start, end))
}

/// The most requests one query window holds before paging.
const MAX_WINDOW: i64 = 1000;

async fn requests(
    state: &AppState,
    dir: &Directory,
    format: Format,
    lang: Lang,
    params: &[(String, String)],
) -> Result311 {
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let bad = |m: &str| Open311Error::new(StatusCode::BAD_REQUEST, format, m);
    let extensions = get("extensions") == Some("true");
    // A list of ids overrides every other parameter.
    if let Some(ids) = get("service_request_id") {
        let mut out = Vec::new();
        for id in ids.split(',') {
            let id: i64 = id
                .trim()
                .parse()
                .map_err(|_| bad("service_request_id must be a comma-separated list of numbers"))?;
            if let Some(r) = public_request(state, format, RequestId(id)).await? {
                out.push(request_obj(dir, &r, lang, extensions));
            }
        }
        return Ok(render(
            format,
            StatusCode::OK,
            "service_requests",
            "request",
            &out,
        ));
    }
    let (start, end) = date_range(params, format)?;
    let mut statuses = public_statuses();
    if let Some(st) = get("status") {
        let wanted: Vec<&str> = st.split(',').map(str::trim).collect();
        if wanted.iter().any(|w| !matches!(*w, "open" | "closed")) {
            return Err(bad("status is open, closed or open,closed"));
        }
        statuses.retain(|s| wanted.contains(&open311_status(*s)));
    }
    let codes: Option<Vec<&str>> =
        get("service_code").map(|c| c.split(',').map(str::trim).collect());
    if let Some(codes) = &codes
        && let Some(unknown) = codes
            .iter()
            .find(|c| !dir.items().iter().any(|i| i.code == **c))
    {
        return Err(Open311Error::new(
            StatusCode::BAD_REQUEST,
            format,
            format!("no such service_code: {unknown}"),
        ));
    }
    let page: usize = match get("page") {
        None => 1,
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| bad("page is 1 or more"))?,
    };
    let page_size: usize = match get("page_size") {
        None => 50,
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| (1..=200).contains(p))
            .ok_or_else(|| bad("page_size is 1 to 200"))?,
    };
    let filter = ListFilter {
        statuses,
        created_from: Some(start),
        created_to: Some(end),
        ..ListFilter::default()
    };
    let rows = list_window(state, format, filter).await?;
    let out: Vec<Obj> = rows
        .iter()
        .filter(|r| {
            codes.as_ref().is_none_or(|c| {
                r.category_id
                    .and_then(|id| dir.item(id))
                    .is_some_and(|i| c.contains(&i.code.as_str()))
            })
        })
        .skip((page - 1) * page_size)
        .take(page_size)
        .map(|r| request_obj(dir, r, lang, extensions))
        .collect();
    Ok(render(
        format,
        StatusCode::OK,
        "service_requests",
        "request",
        &out,
    ))
}

/// The requests a filter matches, up to the window's limit (the statuses chosen make them public).
async fn list_window(
    state: &AppState,
    format: Format,
    filter: ListFilter,
) -> Result<Vec<Request>, Open311Error> {
    let filter = ListFilter {
        visible: Some(Visibility {
            all: true,
            ..Default::default()
        }),
        ..filter
    };
    let store = state.service.store();
    let rows = store.list(&filter, MAX_WINDOW).await;
    rows.map_err(|e| Open311Error::internal(format, e))
}

/// FixMyStreet's extension: the events of public requests in a date range, oldest first.
async fn updates(
    state: &AppState,
    format: Format,
    lang: Lang,
    params: &[(String, String)],
) -> Result311 {
    let (start, end) = date_range(params, format)?;
    let filter = ListFilter {
        statuses: public_statuses(),
        updated_from: Some(start),
        updated_to: Some(end),
        ..ListFilter::default()
    };
    let rows = list_window(state, format, filter).await?;
    let mut out: BTreeMap<(DateTime<Utc>, i64, i64), Obj> = BTreeMap::new();
    for r in rows {
        let events = state
            .service
            .store()
            .events(r.id)
            .await
            .map_err(|e| Open311Error::internal(format, e))?;
        for e in events {
            let status = if r.closed_at.is_some_and(|c| e.at >= c) {
                "closed"
            } else {
                "open"
            };
            if e.at < start || e.at > end {
                continue;
            }
            out.insert(
                (e.at, r.id.0, e.seq),
                vec![
                    ("update_id", s(format!("{}-{}", r.id.0, e.seq))),
                    ("service_request_id", s(r.id.0.to_string())),
                    ("status", s(status)),
                    ("updated_datetime", s(stamp(e.at))),
                    (
                        "description",
                        s(redgrid_core::command::event_label(e.body.kind(), lang)),
                    ),
                    ("media_url", s("")),
                ],
            );
        }
    }
    let list: Vec<Obj> = out.into_values().collect();
    Ok(render(
        format,
        StatusCode::OK,
        "service_request_updates",
        "request_update",
        &list,
    ))
}

/// The most a `media` upload may hold.
pub const MAX_MEDIA: usize = crate::api::directory::MAX_ATTACHMENT;

/// What a POST carried: its fields and, from multipart, one `media` file.
struct Posted {
    fields: Vec<(String, String)>,
    media: Option<(String, Vec<u8>)>,
}

async fn read_post(req: axum::extract::Request, format: Format) -> Result<Posted, Open311Error> {
    use axum::extract::FromRequest;
    let bad = |m: &str| Open311Error::new(StatusCode::BAD_REQUEST, format, m);
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if ctype.starts_with("multipart/form-data") {
        let mut mp = axum::extract::Multipart::from_request(req, &())
            .await
            .map_err(|_| bad("the multipart body could not be read"))?;
        let mut posted = Posted {
            fields: Vec::new(),
            media: None,
        };
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|_| bad("the multipart body could not be read (or media is over 10 MB)"))?
        {
            let name = field.name().unwrap_or("").to_string();
            if name == "media" {
                let ct = field.content_type().unwrap_or("").to_string();
                let data = field
                    .bytes()
                    .await
                    .map_err(|_| bad("media could not be read (at most 10 MB)"))?;
                if !data.is_empty() {
                    posted.media = Some((ct, data.to_vec()));
                }
            } else {
                let value = field
                    .text()
                    .await
                    .map_err(|_| bad("a field could not be read"))?;
                posted.fields.push((name, value));
            }
        }
        Ok(posted)
    } else {
        let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(req, &())
            .await
            .map_err(|_| bad("send application/x-www-form-urlencoded or multipart/form-data"))?;
        Ok(Posted {
            fields,
            media: None,
        })
    }
}

/// The area a posted location names: `address_id` (a community's or grid's area id), or the
/// grid or community whose name appears in `address_string` (the longest name wins).
fn area_of(
    dir: &Directory,
    get: &dyn Fn(&str) -> Option<String>,
    format: Format,
) -> Result<redgrid_core::ids::AreaId, Open311Error> {
    use redgrid_core::area::Level;
    let bad = |m: String| Open311Error::new(StatusCode::BAD_REQUEST, format, m);
    if let Some(id) = get("address_id") {
        let id: i64 = id
            .parse()
            .map_err(|_| bad("address_id must be a community's or a grid's area id".into()))?;
        return match dir.area(redgrid_core::ids::AreaId(id)) {
            Some(a) if matches!(a.kind, Level::Community | Level::Grid) => Ok(a.id),
            _ => Err(bad(format!(
                "address_id {id} is not a community or a grid of this district"
            ))),
        };
    }
    if let Some(text) = get("address_string") {
        let found = dir
            .areas()
            .filter(|a| matches!(a.kind, Level::Community | Level::Grid))
            .filter(|a| !a.name.is_empty() && text.contains(&a.name))
            .max_by_key(|a| (a.name.chars().count(), a.kind == Level::Grid));
        return found.map(|a| a.id).ok_or_else(|| {
            bad(format!(
                "address_string names no community or grid of this district: {text}"
            ))
        });
    }
    if get("lat").is_some() || get("long").is_some() {
        return Err(bad(
            "lat/long alone cannot place a request here: send address_id (a community's or grid's area id) or an address_string naming the community".into(),
        ));
    }
    Err(bad(
        "a location is required: address_id, or address_string naming the community".into(),
    ))
}

/// `POST /open311/v2/requests.{json,xml}`: files a request through the `open311` channel as the
/// account the `api_key` belongs to (a resident, volunteer or member account of the client).
pub async fn post_request(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    req: axum::extract::Request,
) -> Result311 {
    use redgrid_core::command::SubmitInput;
    use redgrid_core::request::{Attachment, Channel};
    let (name, format) = split_format(&file)?;
    // `jurisdiction_id` may come in the query as well as in the body; both must name this district.
    let query: Vec<(String, String)> = Query::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    if name != "requests" {
        return Err(Open311Error::new(
            StatusCode::NOT_FOUND,
            format,
            "only requests can be posted",
        ));
    }
    let lang = lang_of(req.headers());
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let posted = read_post(req, format).await?;
    let get = |k: &str| {
        posted
            .fields
            .iter()
            .find(|(n, v)| n == k && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
    };
    let forbidden = || {
        Open311Error::new(
            StatusCode::FORBIDDEN,
            format,
            "api_key is missing or not valid",
        )
    };
    let key = get("api_key").ok_or_else(forbidden)?;
    let mut headers = axum::http::HeaderMap::new();
    let bearer = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| forbidden())?;
    headers.insert(header::AUTHORIZATION, bearer);
    let actor = crate::auth::actor(&state, &headers)
        .await
        .map_err(|_| forbidden())?;
    let dir = state.service.directory();
    let bad = |m: String| Open311Error::new(StatusCode::BAD_REQUEST, format, m);
    check_jurisdiction(&dir, format, &query)?;
    check_jurisdiction(&dir, format, &posted.fields)?;
    let code = get("service_code").ok_or_else(|| bad("service_code is required".into()))?;
    let item = dir
        .items()
        .into_iter()
        .find(|i| i.active && i.code == code)
        .ok_or_else(|| bad(format!("no such service_code: {code}")))?;
    // No service has attributes yet: any attribute is refused by name.
    if let Some((n, _)) = posted
        .fields
        .iter()
        .find(|(n, _)| n.starts_with("attribute["))
    {
        return Err(bad(format!(
            "service {code} has no attribute {}",
            n.trim_start_matches("attribute[").trim_end_matches(']')
        )));
    }
    let area = area_of(&dir, &get, format)?;
    let mut attachments = Vec::new();
    if let Some((ctype, data)) = &posted.media {
        const TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/gif"];
        if !TYPES.contains(&ctype.as_str()) {
            return Err(bad("media must be a JPEG, PNG, WebP or GIF picture".into()));
        }
        let meta = state
            .service
            .upload(&actor, ctype, data)
            .await
            .map_err(|e| match e {
                StoreError::Core(_) => bad("media is not the picture its type says".into()),
                other => Open311Error::internal(format, other),
            })?;
        attachments.push(Attachment {
            id: meta.id,
            name: "media".into(),
        });
    }
    let coordinate = |k: &str| -> Result<Option<f64>, Open311Error> {
        get(k)
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| bad(format!("{k} must be a number in degrees")))
            })
            .transpose()
    };
    let (lat, lon) = (coordinate("lat")?, coordinate("long")?);
    let input = SubmitInput {
        channel: Some(Channel::Open311),
        description: get("description"),
        area_id: Some(area),
        address: get("address_string"),
        lat,
        lon,
        category_id: Some(item.id),
        attachments,
        ..Default::default()
    };
    let at = redgrid_app::service::now();
    let filed = match state.service.admit_filing(&actor, peer.as_deref(), at) {
        Ok(()) => state.service.submit(&actor, &input, vec![], None, at).await,
        Err(e) => Err(e),
    };
    let (r, _) = filed.map_err(|e| {
        let api = crate::error::ApiError::store(e, lang);
        let status = match api.status {
            StatusCode::TOO_MANY_REQUESTS => StatusCode::TOO_MANY_REQUESTS,
            StatusCode::FORBIDDEN => StatusCode::FORBIDDEN,
            StatusCode::INTERNAL_SERVER_ERROR => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let fields: Vec<String> = api
            .body
            .fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect();
        let description = if fields.is_empty() {
            api.body.message
        } else {
            format!("{} ({})", api.body.message, fields.join("; "))
        };
        Open311Error::new(status, format, description)
    })?;
    let o: Obj = vec![
        ("service_request_id", s(r.id.0.to_string())),
        ("service_notice", s("")),
        ("account_id", V::Null),
    ];
    Ok(render(
        format,
        StatusCode::OK,
        "service_requests",
        "request",
        &[o],
    ))
}
