//! The organisation registers over HTTP: import (with a dry run), export and templates of each
//! register, the activity ledger, suggestions that become requests, and campaign statistics.

use crate::AppState;
use crate::auth::actor;
use crate::body::{Reader, parse_json, whole_number};
use crate::error::{ApiError, lang_of};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use redgrid_app::organise::{self, stats_workbook};
use redgrid_app::registers::{self, ImportReport, Register};
use redgrid_app::tabular;
use redgrid_core::error::{CoreError, FieldError, Lang};
use redgrid_core::ids::{AreaId, PersonId, RequestId};
use redgrid_core::org::{ActivityKind, CampaignStats, parse_date};
use redgrid_store::org::NewActivity;
use std::sync::Arc;

/// The largest import upload (the same limit the importer applies).
pub const MAX_IMPORT_UPLOAD: usize = tabular::MAX_IMPORT_BYTES as usize;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn register(s: &str, lang: Lang) -> Result<Register, ApiError> {
    Register::from_name(s).ok_or_else(|| {
        ApiError::plain(
            StatusCode::NOT_FOUND,
            "register_not_found",
            lang.pick("没有这个登记表", "no such register"),
        )
    })
}

fn query(
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::plain(StatusCode::BAD_REQUEST, "malformed_query", &e.body_text()))
}

fn file(bytes: Vec<u8>, name: &str, content_type: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

fn export_failed(lang: Lang, e: String) -> ApiError {
    tracing::error!("export failed: {e}");
    ApiError::plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        "export_failed",
        lang.pick("导出失败，请稍后重试", "the export failed; try again later"),
    )
}

/// `POST /api/org/{register}/import?dry_run=true`: the body is the file itself (xlsx, xls or csv).
/// 200 with the report when every row is good (written unless a dry run); 422 with the report —
/// every bad row with its row, column and reason — when any is bad, and then nothing is written.
#[utoipa::path(post, path = "/api/org/{register}/import", tag = "organisation",
    params(("register" = String, Path, description = "areas, units, party_orgs, members, volunteers, targets, pairings or staff"),
        ("dry_run" = Option<bool>, Query, description = "only check and report")),
    request_body(content = Vec<u8>, description = "the spreadsheet file", content_type = "application/octet-stream"),
    responses((status = 200, description = "The import report"), (status = 422, description = "The import report listing every bad row; nothing was written"),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody)))]
pub async fn import(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ImportReport>), ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let r = register(&name, lang)?;
    let mut dry_run = false;
    for (k, v) in query(q)? {
        match (k.as_str(), v.as_str()) {
            ("dry_run", "true" | "1") => dry_run = true,
            ("dry_run", "false" | "0") => dry_run = false,
            _ => {
                return Err(ApiError::core(
                    &CoreError::Validation(vec![FieldError::new(k, "invalid")]),
                    lang,
                ));
            }
        }
    }
    let body = match body {
        Ok(b) => b,
        Err(_) => {
            let e = tabular::ReadError::TooLarge {
                size: MAX_IMPORT_UPLOAD as u64 + 1,
                limit: MAX_IMPORT_UPLOAD as u64,
            };
            return Err(ApiError::plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                e.code(),
                &e.message(lang),
            ));
        }
    };
    let report = state
        .service
        .import_register(&who, r, &body, dry_run, lang)
        .await?;
    let status = if report.issues.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Json(report)))
}

/// `GET /api/org/{register}/template`: an empty import workbook with the required columns marked.
#[utoipa::path(get, path = "/api/org/{register}/template", tag = "organisation",
    params(("register" = String, Path, description = "an importable register")),
    responses((status = 200, description = "An xlsx template"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn template(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    state
        .service
        .require_organiser(&who, &redgrid_core::policy::Subject::District)?;
    let r = register(&name, lang)?;
    if !r.importable() {
        return Err(ApiError::plain(
            StatusCode::NOT_FOUND,
            "not_importable",
            lang.pick(
                "该登记表只能在系统中录入，没有导入模板",
                "this register is kept in the system and has no import template",
            ),
        ));
    }
    let bytes = registers::template(r, lang).map_err(|e| export_failed(lang, e))?;
    Ok(file(
        bytes,
        &format!("redgrid-{}-template.xlsx", r.as_str()),
        XLSX,
    ))
}

/// `GET /api/org/{register}?format=xlsx|csv&from=&to=`: the whole register with Chinese headers
/// (English with `Accept-Language: en`). Activities and suggestions: those of `[from, to]` (default
/// this year).
#[utoipa::path(get, path = "/api/org/{register}", tag = "organisation",
    params(("register" = String, Path, description = "any register"),
        ("format" = Option<String>, Query, pattern = "^(xlsx|csv)$", description = "xlsx (default) or csv"),
        ("from" = Option<chrono::NaiveDate>, Query, description = "first day, e.g. 2026-01-01"),
        ("to" = Option<chrono::NaiveDate>, Query, description = "last day")),
    responses((status = 200, description = "The register as a spreadsheet"), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn export(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let r = register(&name, lang)?;
    let (y0, y1) = organise::year_bounds(organise::this_year())
        .ok_or_else(|| export_failed(lang, "year".into()))?;
    let (mut from, mut to, mut csv) = (y0, y1, false);
    let mut errors = Vec::new();
    for (k, v) in query(q)? {
        match k.as_str() {
            "format" if v == "csv" => csv = true,
            "format" if v == "xlsx" => csv = false,
            "from" => match parse_date(&v) {
                Some(d) => from = d,
                None => errors.push(FieldError::new("from", "invalid")),
            },
            "to" => match parse_date(&v) {
                Some(d) => to = d,
                None => errors.push(FieldError::new("to", "invalid")),
            },
            _ => errors.push(FieldError::new(k, "invalid")),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::core(&CoreError::Validation(errors), lang));
    }
    let sheet = state
        .service
        .register_sheet(&who, r, lang, from, to)
        .await?;
    if csv {
        let bytes = tabular::write_csv(&sheet.headers, &sheet.rows);
        return Ok(file(
            bytes,
            &format!("redgrid-{}.csv", r.as_str()),
            "text/csv; charset=utf-8",
        ));
    }
    let bytes = tabular::write_xlsx(&[sheet]).map_err(|e| export_failed(lang, e))?;
    Ok(file(bytes, &format!("redgrid-{}.xlsx", r.as_str()), XLSX))
}

/// `GET /api/org/campaigns/{code}/stats?from=&to=&format=json|xlsx`: a campaign's figures in total
/// and per unit, and how many branches have no pairing.
#[utoipa::path(get, path = "/api/org/campaigns/{code}/stats", tag = "organisation",
    params(("code" = String, Path, description = "the campaign's code"),
        ("from" = Option<chrono::NaiveDate>, Query, description = "first day (default: the campaign's start)"),
        ("to" = Option<chrono::NaiveDate>, Query, description = "last day (default: the campaign's end)"),
        ("format" = Option<String>, Query, pattern = "^(json|xlsx)$", description = "json (default) or xlsx")),
    responses((status = 200, description = "The statistics"), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn campaign_stats(
    State(state): State<Arc<AppState>>,
    Path(code): Path<String>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let (mut from, mut to, mut xlsx) = (None::<NaiveDate>, None::<NaiveDate>, false);
    let mut errors = Vec::new();
    for (k, v) in query(q)? {
        match k.as_str() {
            "format" if v == "xlsx" => xlsx = true,
            "format" if v == "json" => xlsx = false,
            "from" => {
                from = parse_date(&v).or_else(|| {
                    errors.push(FieldError::new("from", "invalid"));
                    None
                })
            }
            "to" => {
                to = parse_date(&v).or_else(|| {
                    errors.push(FieldError::new("to", "invalid"));
                    None
                })
            }
            _ => errors.push(FieldError::new(k, "invalid")),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::core(&CoreError::Validation(errors), lang));
    }
    let svc = &state.service;
    let stats: CampaignStats = svc.campaign_stats(&who, &code, from, to).await?;
    if !xlsx {
        return Ok(Json(stats).into_response());
    }
    let (_, unpaired) = svc
        .unpaired(&who, &code, Some(stats.from), Some(stats.to))
        .await?;
    let bytes = stats_workbook(&stats, &unpaired, lang).map_err(|e| export_failed(lang, e))?;
    Ok(file(
        bytes,
        &format!("redgrid-campaign-{}.xlsx", stats.campaign.id),
        XLSX,
    ))
}

/// The body of `POST /api/org/activities`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ActivityBody {
    kind: redgrid_core::org::ActivityKind,
    /// The day it was held (`2026-05-01`).
    #[schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    held_on: String,
    /// The party organisation that held it.
    #[schema(minimum = 1)]
    party_org_id: i64,
    /// The pairing (千个支部联基层) it served, if any.
    #[schema(minimum = 1)]
    pairing_id: Option<i64>,
    /// The pairing's target it served, if any.
    #[schema(minimum = 1)]
    target_id: Option<i64>,
    title: Option<String>,
    /// The people who took part (person ids).
    participants: Option<Vec<i64>>,
    #[schema(minimum = 0)]
    people_served: Option<i64>,
    donation_items: Option<String>,
    #[schema(minimum = 0)]
    donation_value_fen: Option<i64>,
    #[schema(minimum = 0)]
    hours: Option<f64>,
    /// Suggestions heard, each to be taken up in the suggestion box.
    suggestions: Option<Vec<String>>,
    /// Requests the activity handled.
    request_ids: Option<Vec<i64>>,
}

/// `POST /api/org/activities`: records an activity of an organisation in the caller's scope.
#[utoipa::path(post, path = "/api/org/activities", tag = "organisation", request_body = ActivityBody,
    responses((status = 201, description = "`{id}` of the new activity"), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn record_activity(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let v = parse_json(&headers, body)?;
    let mut r = Reader::new(&v);
    let kind = r.choice("kind", ActivityKind::parse);
    let held_on = r.choice("held_on", parse_date);
    let party_org_id = r.i64("party_org_id");
    r.require("kind", kind.is_some());
    r.require("held_on", held_on.is_some());
    r.require("party_org_id", party_org_id.is_some());
    let pairing_id = r.i64("pairing_id");
    let target_id = r.i64("target_id");
    let people_served = r.i64("people_served").unwrap_or(0);
    let donation_value_fen = r.i64("donation_value_fen").unwrap_or(0);
    let title = r.string("title").unwrap_or_default();
    let donation_items = r.string("donation_items").unwrap_or_default();
    let hours = r.f64("hours").unwrap_or(0.0);
    let participants = r.list("participants", whole_number);
    let request_ids = r.list("request_ids", whole_number);
    let suggestions = r.list("suggestions", |x| x.as_str().map(str::to_string));
    let errors = r.finish();
    let (Some(kind), Some(held_on), Some(party_org_id), true) =
        (kind, held_on, party_org_id, errors.is_empty())
    else {
        return Err(ApiError::core(&CoreError::Validation(errors), lang));
    };
    let id = state
        .service
        .record_activity(
            &who,
            NewActivity {
                kind,
                held_on,
                party_org_id,
                pairing_id,
                target_id,
                title,
                participants: participants.into_iter().map(PersonId).collect(),
                people_served,
                donation_items,
                donation_value_fen,
                hours,
                suggestions: suggestions.into_iter().map(|s| (AreaId(0), s)).collect(),
                request_ids: request_ids.into_iter().map(RequestId).collect(),
                recorded_by: None,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))))
}

/// The body of `POST /api/org/suggestions/{id}/request`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SuggestionRequestBody {
    /// Where the request is filed: a grid or community in the suggestion's area (default: the
    /// area the suggestion was heard in).
    #[schema(minimum = 1)]
    area_id: Option<i64>,
}

/// `POST /api/org/suggestions/{id}/request` with `{"area_id": …}` (optional): files the
/// suggestion as a request (channel `suggestion_box`); a suggestion becomes at most one request.
#[utoipa::path(post, path = "/api/org/suggestions/{id}/request", tag = "organisation",
    params(("id" = i64, Path, description = "the suggestion")), request_body = SuggestionRequestBody,
    responses((status = 201, description = "The new request"), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn suggestion_to_request(
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<redgrid_core::request::Request>), ApiError> {
    let who = actor(&state, &headers).await?;
    let v = parse_json(&headers, body)?;
    let mut r = Reader::new(&v);
    let area = r.id("area_id").map(AreaId);
    r.done()?;
    let r = state.service.suggestion_to_request(&who, id, area).await?;
    let r = state.service.present_request(&who, r);
    Ok((StatusCode::CREATED, Json(r)))
}

/// `GET /api/org/activities`: the activity ledger as a spreadsheet (the export of that register).
#[utoipa::path(get, path = "/api/org/activities", tag = "organisation",
    params(("format" = Option<String>, Query, pattern = "^(xlsx|csv)$", description = "xlsx (default) or csv"),
        ("from" = Option<chrono::NaiveDate>, Query, description = "first day, e.g. 2026-01-01"),
        ("to" = Option<chrono::NaiveDate>, Query, description = "last day")),
    responses((status = 200, description = "The activity ledger as a spreadsheet"), (status = 403, body = crate::error::ErrorBody)))]
pub async fn export_activities(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    export(state, Path("activities".to_string()), headers, q).await
}

/// The body of `POST /api/org/alliances` and `PATCH /api/org/alliances/{code}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AllianceBody {
    /// The register's natural key (creating only; an edit keeps it).
    code: Option<String>,
    #[schema(min_length = 1, pattern = r"\S")]
    name: String,
    /// Where the alliance works, and the level whose requests its unit takes (creating only).
    area_id: Option<i64>,
    level: Option<redgrid_core::area::Level>,
    lead_org_id: Option<i64>,
    goals: Option<String>,
    /// The units that belong to it (1–200).
    #[schema(min_items = 1, max_items = 200)]
    member_unit_ids: Vec<i64>,
    /// Its working groups: `[{name, focus, leader}]`.
    groups: Option<Vec<serde_json::Value>>,
}

/// An alliance from a body; the code, area and level from `keep` when editing.
fn alliance_body(
    json: &serde_json::Value,
    keep: Option<&str>,
) -> (redgrid_store::org::NewAlliance, Vec<FieldError>) {
    use redgrid_core::area::Level;
    use redgrid_core::ids::UnitId;
    let mut r = Reader::new(json);
    let code = r.string("code").unwrap_or_default();
    let name = r.string("name").unwrap_or_default();
    let area_id: Option<AreaId> = r.id("area_id");
    let level = r.choice("level", Level::parse);
    let lead_org_id = r.i64("lead_org_id");
    let goals = r.string("goals").unwrap_or_default();
    let member_unit_ids = r.list("member_unit_ids", |v| whole_number(v).map(UnitId));
    let groups = r.list("groups", |v| {
        let text = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string()
        };
        v.is_object().then(|| redgrid_core::org::AllianceGroup {
            name: text("name"),
            focus: text("focus"),
            leader: text("leader"),
        })
    });
    // Only a new alliance needs an area; one that could not be read is reported as wrong only.
    r.require("area_id", keep.is_some() || area_id.is_some());
    let invalid = r.finish();
    let new = redgrid_store::org::NewAlliance {
        code: keep.map_or(code, str::to_string),
        name,
        area_id: area_id.unwrap_or(AreaId(0)),
        level: level.unwrap_or(Level::Street),
        lead_org_id,
        goals,
        member_unit_ids,
        groups,
    };
    (new, invalid)
}

/// `POST /api/org/alliances`: creates an alliance (党建联盟) and its unit, which takes requests like
/// any unit; people granted a role in that unit claim them (district organisers).
#[utoipa::path(post, path = "/api/org/alliances", tag = "organisation", request_body = AllianceBody,
    responses((status = 201, description = "The alliance"), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_alliance(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    save_alliance(&state, &headers, body, None).await
}

/// Creates (`code` None) or edits an alliance from a body.
async fn save_alliance(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    code: Option<&str>,
) -> Result<Response, ApiError> {
    let who = actor(state, headers).await?;
    let json = parse_json(headers, body)?;
    let (new, invalid) = alliance_body(&json, code);
    if !invalid.is_empty() {
        return Err(CoreError::Validation(invalid).into());
    }
    Ok(match code {
        None => {
            let a = state.service.create_alliance(&who, new).await?;
            (StatusCode::CREATED, Json(a)).into_response()
        }
        Some(code) => Json(state.service.update_alliance(&who, code, new).await?).into_response(),
    })
}

/// `PATCH /api/org/alliances/{code}`: edits an alliance's name, lead, goals, member units and
/// groups (a whole new list each). An ended alliance is not edited (409).
#[utoipa::path(patch, path = "/api/org/alliances/{code}", tag = "organisation", request_body = AllianceBody,
    params(("code" = String, Path)),
    responses((status = 200, description = "The alliance"), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn update_alliance(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    save_alliance(&state, &headers, body, Some(&code)).await
}

/// `POST /api/org/alliances/{code}/end` (`{"ended_on": "2026-12-31"}`, default today): ends an
/// alliance; its unit takes no more requests (409 when ended already).
#[utoipa::path(post, path = "/api/org/alliances/{code}/end", tag = "organisation",
    params(("code" = String, Path)),
    responses((status = 200, description = "The alliance"), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn end_alliance(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let who = actor(&state, &headers).await?;
    let json = match &body {
        Ok(b) if b.is_empty() => serde_json::json!({}),
        _ => parse_json(&headers, body)?,
    };
    let mut r = Reader::new(&json);
    let on = r.string("ended_on");
    let mut invalid = r.finish();
    let on = match on {
        None => None,
        Some(d) => parse_date(&d).or_else(|| {
            invalid.push(FieldError::new("ended_on", "invalid"));
            None
        }),
    };
    if !invalid.is_empty() {
        return Err(CoreError::Validation(invalid).into());
    }
    let a = state.service.end_alliance(&who, &code, on).await?;
    Ok(Json(a).into_response())
}

/// `GET /api/org/alliances`: the alliances register (as `GET /api/org/{register}`).
#[utoipa::path(get, path = "/api/org/alliances", tag = "organisation",
    params(("format" = Option<String>, Query, pattern = "^(xlsx|csv)$", description = "xlsx (default) or csv")),
    responses((status = 200, description = "The alliances register as a spreadsheet"), (status = 403, body = crate::error::ErrorBody)))]
pub async fn export_alliances(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    export(state, Path("alliances".to_string()), headers, q).await
}
