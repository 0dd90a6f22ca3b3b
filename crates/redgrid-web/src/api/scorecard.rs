//! The scorecard (三率) and a person's notifications.

use crate::AppState;
use crate::auth::actor;
use crate::error::{ApiError, lang_of};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use redgrid_app::scorecard::GroupBy;
use redgrid_app::service::now;
use redgrid_core::error::{CoreError, FieldError};
use redgrid_core::scorecard::Period;
use serde::Serialize;
use std::sync::Arc;

/// `GET /api/scorecard?by=unit&period=2026-10`: rates per group for a period, units ranked by the
/// composite. Staff with the policy's `assess` rows; outside a district-wide grant only the units and
/// areas in one's own area.
#[utoipa::path(get, path = "/api/scorecard", tag = "scorecard",
    params(
        ("by" = Option<String>, Query, description = "unit (default), level, street, community, category, class or district"),
        ("period" = String, Query, min_length = 1, description = "2026-10-05 (day), 2026-10 (month), 2026-Q4 (quarter), 2026 (year) or 2026-10-01..2026-10-15 (days, both included)"),
        ("format" = Option<String>, Query, pattern = "^(json|xlsx|csv)$", description = "json (default), xlsx (an Excel workbook with Chinese headers) or csv")),
    responses((status = 200, description = "The scorecard: rows (ranked) and total; a rate without a denominator is null (shown as —). As xlsx or csv with `format`."),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn scorecard(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let Query(params) = query
        .map_err(|e| ApiError::plain(StatusCode::BAD_REQUEST, "malformed_query", &e.body_text()))?;
    let mut by = GroupBy::Unit;
    let mut format = "json";
    let mut period = None;
    let mut errors = Vec::new();
    for (key, value) in &params {
        match key.as_str() {
            "by" => match GroupBy::parse(value.trim()) {
                Some(b) => by = b,
                None => errors.push(FieldError::new("by", "invalid")),
            },
            "period" => match Period::parse(value) {
                Some(p) => period = Some(p),
                None => errors.push(FieldError::new("period", "invalid")),
            },
            "format" => match value.trim() {
                f @ ("json" | "xlsx" | "csv") => format = f,
                _ => errors.push(FieldError::new("format", "invalid")),
            },
            _ => errors.push(FieldError::new(key.clone(), "unknown_field")),
        }
    }
    if period.is_none() && !errors.iter().any(|e| e.field == "period") {
        errors.push(FieldError::new("period", "required"));
    }
    let Some(period) = period.filter(|_| errors.is_empty()) else {
        return Err(ApiError::core(&CoreError::Validation(errors), lang));
    };
    let card = state.service.scorecard_for(&who, by, period, now()).await?;
    // The same figures the viewer may see, as a file to report upward with.
    let file = |ctype: &'static str, ext: &str, bytes: Vec<u8>| {
        let name = format!("scorecard-{}-{}.{ext}", card.by.as_str(), card.period.start);
        let disposition = format!("attachment; filename=\"{name}\"");
        (
            [
                (header::CONTENT_TYPE, ctype.to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            bytes,
        )
            .into_response()
    };
    Ok(match format {
        "xlsx" => {
            let bytes = redgrid_app::scorecard::workbook(&card)
                .map_err(|e| ApiError::failed("scorecard workbook", e, lang))?;
            file(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
                bytes,
            )
        }
        "csv" => file(
            "text/csv; charset=utf-8",
            "csv",
            redgrid_app::scorecard::csv(&card),
        ),
        _ => Json(card).into_response(),
    })
}

/// One notification.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Message {
    pub id: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub request_id: i64,
    pub kind: String,
    pub title: String,
    pub delivered: bool,
    /// Whether its person has read it (in the inbox, or by `POST /api/me/messages/read`).
    pub read: bool,
}

/// `GET /api/me/messages`: the caller's latest notifications (dispatched to your unit, returned,
/// supervised, verification needed, please rate), newest first.
#[utoipa::path(get, path = "/api/me/messages", tag = "directory",
    responses((status = 200, body = Vec<Message>), (status = 401, body = crate::error::ErrorBody)))]
pub async fn messages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Vec<Message>>, ApiError> {
    let lang = lang_of(&headers);
    let who = actor(&state, &headers).await?;
    let Some(me) = who.person_id() else {
        return Ok(Json(vec![]));
    };
    let list = state.service.store().messages_for(me, 100).await?;
    let title_key = match lang {
        redgrid_core::Lang::Zh => "title_zh",
        redgrid_core::Lang::En => "title_en",
    };
    Ok(Json(
        list.into_iter()
            .map(|m| {
                let payload: serde_json::Value =
                    serde_json::from_str(&m.payload).unwrap_or_default();
                Message {
                    id: m.id,
                    created_at: m.created_at,
                    request_id: m.request_id.0,
                    kind: m.kind,
                    title: payload[title_key].as_str().unwrap_or_default().to_string(),
                    delivered: m.delivered_at.is_some(),
                    read: m.read_at.is_some(),
                }
            })
            .collect(),
    ))
}

/// `POST /api/me/messages/read` (`{"id": N}`, or `{}` for all): marks the caller's messages read;
/// answers how many changed.
#[utoipa::path(post, path = "/api/me/messages/read", tag = "directory",
    responses((status = 200, description = "`{marked: N}`"), (status = 401, body = crate::error::ErrorBody)))]
pub async fn mark_read(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = actor(&state, &headers).await?;
    let json = crate::body::parse_json(&headers, body)?;
    let mut r = crate::body::Reader::new(&json);
    let id = r.i64("id");
    let invalid = r.finish();
    if !invalid.is_empty() {
        return Err(redgrid_core::error::CoreError::Validation(invalid).into());
    }
    let Some(me) = who.person_id() else {
        return Ok(Json(serde_json::json!({"marked": 0})));
    };
    let marked = state
        .service
        .store()
        .mark_read(me, id, redgrid_app::service::now())
        .await?;
    Ok(Json(serde_json::json!({"marked": marked})))
}
