//! Requests: file, list, read with the timeline, and run every command of the lifecycle.

use crate::AppState;
use crate::auth::actor;
use crate::body::{Reader, parse_json};
use crate::error::{ApiError, lang_of};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use redgrid_app::service::now;
use redgrid_core::area::Level;
use redgrid_core::catalogue::Tier;
use redgrid_core::command::{Command, SubmitInput};
use redgrid_core::error::{CoreError, Entity, FieldError, Lang};
use redgrid_core::ids::*;
use redgrid_core::policy::CommandKind;
use redgrid_core::request::{Channel, Event, Light, Request, Status};
use redgrid_store::ListFilter;
use serde::Serialize;
use std::sync::Arc;

/// A request with its whole timeline.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestWithTimeline {
    pub request: Request,
    /// The traffic light now; absent while no deadline applies.
    pub light: Option<Light>,
    pub events: Vec<Event>,
    /// The requester's name and phone: for the requester and for those in charge of the request
    /// (who handles it, the grid worker and community staff of its area, its verifier, the staff
    /// of its unit), who also see the exact address. Each such view by staff is in the access log.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub requester: Option<redgrid_app::service::Contact>,
}

/// The outcome of a command: the request's new state and the event appended.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CommandResult {
    pub request: Request,
    pub event: Event,
}

/// A request with its light now.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestView {
    #[serde(flatten)]
    pub request: Request,
    /// The traffic light at the time of the answer; absent while no deadline applies.
    pub light: Option<Light>,
}

/// One page of a list, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestPage {
    pub items: Vec<RequestView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn parse_id(raw: &str, lang: Lang) -> Result<RequestId, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(RequestId)
        .ok_or_else(|| {
            ApiError::core(
                &CoreError::NotFound {
                    entity: Entity::Request,
                    id: 0,
                },
                lang,
            )
        })
}

pub(crate) fn read_submit(v: &serde_json::Value) -> (SubmitInput, Vec<FieldError>) {
    let mut r = Reader::new(v);
    let input = SubmitInput {
        restricted: false,
        channel: r.choice("channel", Channel::parse),
        description: r.string("description"),
        area_id: r.id("area_id"),
        address: r.string("address"),
        lat: r.f64("lat"),
        lon: r.f64("lon"),
        requester_name: r.string("requester_name"),
        requester_phone: r.string("requester_phone"),
        attachments: r.attachments("attachments"),
        category_id: r.id("category_id"),
    };
    (input, r.finish())
}

/// `POST /api/requests`: file a request (点单).
#[utoipa::path(post, path = "/api/requests", tag = "requests",
    request_body = SubmitInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat a submission safely: the same key and body return the first request.")),
    responses(
        (status = 201, description = "Filed", body = Request),
        (status = 200, description = "The same key and body were sent before: the first request", body = Request),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn submit(
    State(state): State<Arc<AppState>>,
    crate::auth::Peer(peer): crate::auth::Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let who = actor(&state, &headers).await?;
    state
        .service
        .admit_filing(&who, peer.as_deref(), now())
        .map_err(|e| ApiError::store(e, lang_of(&headers)))?;
    let json = parse_json(&headers, body)?;
    let (input, invalid) = read_submit(&json);
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let (request, created) = state
        .service
        .submit(&who, &input, invalid, key, now())
        .await?;
    let request = state.service.present_request(&who, request);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/api/requests/{}", request.id);
    Ok((status, [(header::LOCATION, location)], Json(request)).into_response())
}

/// `GET /api/requests/{id}`: a request with its full timeline.
#[utoipa::path(get, path = "/api/requests/{id}", tag = "requests",
    params(("id" = i64, Path)),
    responses((status = 200, body = RequestWithTimeline), (status = 401, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<RequestWithTimeline>, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let id = parse_id(&id, lang)?;
    let viewed = state.service.view(&who, id, "api").await?;
    Ok(Json(RequestWithTimeline {
        light: viewed.request.light_at(now()),
        request: viewed.request,
        events: viewed.events,
        requester: viewed.requester,
    }))
}

/// `POST /api/requests/{id}/{command}`: run one command of the lifecycle.
pub async fn command(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CommandResult>, ApiError> {
    let lang = lang_of(&headers);
    let kind = CommandKind::parse(&name)
        .filter(|k| *k != CommandKind::Submit)
        .ok_or_else(|| ApiError::not_found_route(lang))?;
    let who = actor(&state, &headers).await?;
    let id = parse_id(&id, lang)?;
    let json = parse_json(&headers, body)?;
    let (cmd, invalid) = Command::read(kind, &mut Reader::new(&json))
        .ok_or_else(|| ApiError::not_found_route(lang))?;
    let (request, event) = state.service.run(id, &who, &cmd, invalid, now()).await?;
    let (request, event) = state.service.present(&who, request, event);
    Ok(Json(CommandResult { request, event }))
}

/// The drafts of a request's public summaries (公示内容) and the ones approved so far.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicDraftView {
    /// The need's draft: the description with names, addresses finer than the community, and
    /// phone, ID, bank and plate numbers taken out.
    pub need: String,
    /// The result's draft, once the request has a result.
    pub result: Option<String>,
    pub approved_need: Option<String>,
    pub approved_result: Option<String>,
}

/// `GET /api/requests/{id}/public-draft`: the drafts of the request's public summaries, for staff
/// who may accept or publish it; approve one with `accept`, `resolve` or `publish`.
#[utoipa::path(get, path = "/api/requests/{id}/public-draft", tag = "requests",
    params(("id" = i64, Path)),
    responses((status = 200, body = PublicDraftView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn public_draft(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<PublicDraftView>, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let id = parse_id(&id, lang)?;
    let d = state.service.public_draft(&who, id).await?;
    Ok(Json(PublicDraftView {
        need: d.need,
        result: d.result,
        approved_need: d.approved_need,
        approved_result: d.approved_result,
    }))
}

/// What a reveal gives: the request and its timeline unmasked, and the requester's contact.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RevealedView {
    pub request: Request,
    pub events: Vec<Event>,
    pub requester_name: Option<String>,
    pub requester_phone: Option<String>,
}

/// `POST /api/requests/{id}/reveal`: the personal data in a request, unmasked, for staff with a need
/// (the handler, the assigned unit, the grid and community, the verifier). Give `reason`; each reveal
/// is logged in the audit chain with who, whose, when and why.
#[utoipa::path(post, path = "/api/requests/{id}/reveal", tag = "requests",
    params(("id" = i64, Path)),
    request_body = crate::api::accounts::ReasonBody,
    responses((status = 200, body = RevealedView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn reveal(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RevealedView>, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let id = parse_id(&id, lang)?;
    let json = parse_json(&headers, body)?;
    let mut r = Reader::new(&json);
    let reason = r.string("reason");
    r.done()?;
    let shown = state
        .service
        .reveal(&who, id, reason.as_deref(), now())
        .await?;
    Ok(Json(RevealedView {
        request: shown.request,
        events: shown.events,
        requester_name: shown.requester_name,
        requester_phone: shown.requester_phone,
    }))
}

/// A date-time in RFC 3339, or a plain date taken as midnight in Asia/Shanghai. For an upper bound a
/// plain date means the end of that day.
fn parse_when(s: &str, upper: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let d = if upper { d.succ_opt()? } else { d };
    let shanghai = chrono::FixedOffset::east_opt(8 * 3600)?;
    shanghai
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// The most items one page may hold.
pub const MAX_PAGE: i64 = 200;

/// `GET /api/requests`: list with filters, newest first, with a cursor.
#[utoipa::path(get, path = "/api/requests", tag = "requests",
    params(
        ("status" = Option<String>, Query, description = "Comma-separated states"),
        ("level" = Option<Level>, Query), ("unit_id" = Option<i64>, Query, minimum = 1),
        ("area_id" = Option<i64>, Query, minimum = 1, description = "An area: the request lies in it or below it"),
        ("category_id" = Option<i64>, Query, minimum = 1), ("tier" = Option<Tier>, Query), ("channel" = Option<Channel>, Query),
        ("created_from" = Option<String>, Query, min_length = 1, description = "RFC 3339 time or a date (Asia/Shanghai)"),
        ("created_to" = Option<String>, Query, min_length = 1, description = "Exclusive; a date means the end of that day"),
        ("updated_from" = Option<String>, Query, min_length = 1), ("updated_to" = Option<String>, Query, min_length = 1),
        ("q" = Option<String>, Query, description = "Text in the description"),
        ("light" = Option<Light>, Query, description = "Only requests showing this light now"),
        ("due_within_hours" = Option<i64>, Query, minimum = 1, maximum = 720, description = "Only requests being handled whose next deadline falls within this many working hours (1–720)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1–200, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("format" = Option<String>, Query, pattern = "^(json|xlsx|csv)$", description = "json (default); xlsx or csv: the request ledger (诉求台账) of every matching request the caller may list (at most 100,000), one row each with its level, unit, deadlines, on-time flag, rating and close-out, Chinese headers (English with Accept-Language: en)")),
    responses((status = 200, description = "A page of requests; the ledger as csv or xlsx with `format`", content((RequestPage = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 401, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let Query(params) = query
        .map_err(|e| ApiError::plain(StatusCode::BAD_REQUEST, "malformed_query", &e.body_text()))?;
    let dir = state.service.directory();
    let mut filter = ListFilter::default();
    let mut errors = Vec::new();
    let mut limit = 50;
    let mut format = "json";
    let at = now();
    for (key, value) in &params {
        let value = value.trim();
        let mut bad = |code: &'static str| errors.push(FieldError::new(key.clone(), code));
        match key.as_str() {
            "status" => {
                for s in value.split(',').filter(|s| !s.is_empty()) {
                    match Status::parse(s) {
                        Some(st) => filter.statuses.push(st),
                        None => bad("invalid"),
                    }
                }
            }
            "level" => {
                filter.level = Level::parse(value).or_else(|| {
                    bad("invalid");
                    None
                })
            }
            "tier" => {
                filter.tier = Tier::parse(value).or_else(|| {
                    bad("invalid");
                    None
                })
            }
            "channel" => {
                filter.channel = Channel::parse(value).or_else(|| {
                    bad("invalid");
                    None
                })
            }
            "unit_id" => match value.parse::<i64>() {
                Ok(u) if dir.unit(UnitId(u)).is_some() => filter.unit_id = Some(UnitId(u)),
                Ok(_) => bad("unknown"),
                Err(_) => bad("invalid"),
            },
            "category_id" => match value.parse::<i64>() {
                Ok(c) if dir.item(CategoryId(c)).is_some() => {
                    filter.category_id = Some(CategoryId(c))
                }
                Ok(_) => bad("unknown"),
                Err(_) => bad("invalid"),
            },
            "area_id" => match value.parse::<i64>() {
                Ok(a) => match dir.area(AreaId(a)) {
                    Some(area) => filter.area = Some((area.kind, area.id)),
                    None => bad("unknown"),
                },
                Err(_) => bad("invalid"),
            },
            "created_from" | "created_to" | "updated_from" | "updated_to" => {
                match parse_when(value, key.ends_with("_to")) {
                    None => bad("invalid"),
                    Some(t) => match key.as_str() {
                        "created_from" => filter.created_from = Some(t),
                        "created_to" => filter.created_to = Some(t),
                        "updated_from" => filter.updated_from = Some(t),
                        _ => filter.updated_to = Some(t),
                    },
                }
            }
            "q" => {
                if value.chars().count() > 100 {
                    errors.push(FieldError::new("q", "too_long").with_limit(100));
                } else {
                    filter.text = Some(value.to_string());
                }
            }
            "limit" => match value.parse::<i64>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => limit = n,
                _ => errors.push(FieldError::new("limit", "out_of_range").with_limit(MAX_PAGE)),
            },
            "cursor" => match value.strip_prefix('r').and_then(|n| n.parse::<i64>().ok()) {
                Some(n) => filter.before_id = Some(RequestId(n)),
                None => bad("invalid"),
            },
            "light" => match Light::parse(value) {
                Some(l) => filter.light = Some((l, at)),
                None => bad("invalid"),
            },
            "due_within_hours" => match value.parse::<i64>() {
                Ok(h) if (1..=720).contains(&h) => {
                    let until = state
                        .service
                        .deadline_policy()
                        .and_then(|p| p.after_working_hours(at, h))
                        .unwrap_or(at + chrono::Duration::hours(h));
                    filter.due_between = Some((at, until));
                }
                _ => {
                    errors.push(FieldError::new("due_within_hours", "out_of_range").with_limit(720))
                }
            },
            "format" => match value {
                "json" => format = "json",
                "xlsx" => format = "xlsx",
                "csv" => format = "csv",
                _ => bad("invalid"),
            },
            _ => bad("unknown_field"),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::core(&CoreError::Validation(errors), lang));
    }
    if format != "json" {
        let sheet = state.service.ledger(&who, &filter, lang).await?;
        let stem = format!("requests-{}", at.format("%Y%m%d"));
        return crate::body::sheet_download(&stem, format, sheet, lang);
    }
    let items = state.service.list_visible(&who, &filter, limit).await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|r| format!("r{}", r.id)))
        .flatten();
    let items = items
        .into_iter()
        .map(|request| RequestView {
            light: request.light_at(at),
            request,
        })
        .collect();
    Ok(Json(RequestPage { items, next_cursor }).into_response())
}
