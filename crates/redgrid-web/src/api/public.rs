//! The public lists, open without login: the need list (需求清单), the result list (成果清单) and the
//! rectification list (整改清单), as JSON pages or as CSV and Excel exports.
//!
//! They carry no personal data: no requester, no handler, no exact address (the place only to
//! community level), and never the resident's or the handler's own words: what a row says of the
//! need and of the result is the public summary (公示内容) staff wrote or approved
//! (docs/design/personal-data.md). Until one is approved the row shows only category, community,
//! status and dates. Requests still being filed (not yet accepted) and rejected ones are not listed.

use crate::AppState;
use crate::error::{ApiError, lang_of};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use redgrid_core::directory::Directory;
use redgrid_core::error::{CoreError, FieldError, Lang};
use redgrid_core::ids::RequestId;
use redgrid_core::request::{Request, Status};
use redgrid_store::ListFilter;
use serde::Serialize;
use std::sync::Arc;

redgrid_core::vocabulary!(plain
    /// The public lists (公示清单), open without a login, with personal data masked.
    PublicList {
        /// Accepted requests still being handled.
        Needs = "needs", "需求清单", "Need list";
        /// Closed requests with what was done and how the resident rated it.
        Results = "results", "成果清单", "Result list";
        /// Requests that were supervised or sent back for rework, and where they stand.
        Rectifications = "rectifications", "整改清单", "Rectification list";
    }
);

impl PublicList {
    pub fn filter(self) -> ListFilter {
        // Accepted and not yet closed: what the need list shows.
        const OPEN: [Status; 6] = [
            Status::Accepted,
            Status::Dispatched,
            Status::Claimed,
            Status::Resolved,
            Status::Verified,
            Status::Suspended,
        ];
        let statuses = match self {
            PublicList::Needs => OPEN.to_vec(),
            PublicList::Results => vec![Status::Closed],
            PublicList::Rectifications => OPEN.into_iter().chain([Status::Closed]).collect(),
        };
        ListFilter {
            statuses,
            flagged: self == PublicList::Rectifications,
            // Everything but restricted requests (routine alerts never reach a public list).
            visible: Some(redgrid_core::policy::Visibility {
                all: true,
                ..Default::default()
            }),
            ..ListFilter::default()
        }
    }
}

/// One row of a public list. Nothing in it identifies a person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicItem {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub street: String,
    pub community: String,
    pub category: String,
    /// The need's public summary (公示内容) staff approved; absent until then.
    pub summary: Option<String>,
    pub status: String,
    /// The unit handling it.
    pub unit: String,
    /// The result's public summary staff approved; absent until then.
    pub result_summary: Option<String>,
    pub satisfaction: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    /// How often it was supervised (督办) and sent back for rework.
    pub supervision_count: i32,
    pub rework_count: i32,
}

/// One page of a public list, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicPage {
    pub list: String,
    pub title: String,
    pub items: Vec<PublicItem>,
    pub next_cursor: Option<String>,
}

/// The most rows an export holds (the newest).
pub const MAX_EXPORT: usize = 5000;

pub fn item(dir: &Directory, r: &Request, lang: Lang) -> PublicItem {
    // The masked view for the place; the texts are the approved summaries only.
    let shown = r.masked();
    let area_name = |id| dir.area(id).map(|a| a.name.clone()).unwrap_or_default();
    PublicItem {
        id: shown.id.0,
        created_at: shown.created_at,
        street: area_name(shown.location.street_id),
        community: area_name(shown.location.community_id),
        category: shown
            .category_id
            .and_then(|c| dir.item(c))
            .map(|i| lang.pick(&i.name_zh, &i.name_en).to_string())
            .unwrap_or_default(),
        summary: shown.public_need,
        status: shown.status.label(lang).to_string(),
        unit: shown
            .unit_id
            .and_then(|u| dir.unit(u))
            .map(|u| u.name.clone())
            .unwrap_or_default(),
        result_summary: shown.public_result,
        satisfaction: shown
            .rating
            .as_ref()
            .map(|r| r.satisfaction.label(lang).to_string()),
        closed_at: shown.closed_at,
        supervision_count: shown.supervision_count,
        rework_count: shown.rework_count,
    }
}

/// `GET /api/public/{list}`: `needs`, `results` or `rectifications`, masked; `format=csv` or
/// `format=xlsx` exports the newest rows (up to 5,000) with headers in the caller's language.
#[utoipa::path(get, path = "/api/public/{list}", tag = "public", operation_id = "public_list",
    params(("list" = String, Path, description = "needs, results or rectifications"),
        ("format" = Option<String>, Query, pattern = "^(json|xlsx|csv)$", description = "json (default), csv or xlsx"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1–200, default 50 (JSON pages)"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, description = "A page of the list; csv or xlsx with `format`", content((PublicPage = "application/json"), (String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let lang = lang_of(&headers);
    let which = PublicList::parse(&name).ok_or_else(|| ApiError::not_found_route(lang))?;
    let Query(params) = query
        .map_err(|e| ApiError::plain(StatusCode::BAD_REQUEST, "malformed_query", &e.body_text()))?;
    let mut filter = which.filter();
    let mut limit = 50;
    let mut format = "json";
    let mut errors = Vec::new();
    for (key, value) in &params {
        match key.as_str() {
            "format" => match value.as_str() {
                "json" => format = "json",
                "csv" => format = "csv",
                "xlsx" => format = "xlsx",
                _ => errors.push(FieldError::new("format", "invalid")),
            },
            "limit" => match value.parse::<i64>() {
                Ok(n) if (1..=crate::api::requests::MAX_PAGE).contains(&n) => limit = n,
                _ => errors.push(
                    FieldError::new("limit", "out_of_range")
                        .with_limit(crate::api::requests::MAX_PAGE),
                ),
            },
            "cursor" => match value.strip_prefix('r').and_then(|n| n.parse::<i64>().ok()) {
                Some(n) => filter.before_id = Some(RequestId(n)),
                None => errors.push(FieldError::new("cursor", "invalid")),
            },
            _ => errors.push(FieldError::new(key.clone(), "unknown_field")),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::core(&CoreError::Validation(errors), lang));
    }
    let store = state.service.store();
    let dir = state.service.directory();
    if format == "json" {
        let rows = store.list(&filter, limit).await?;
        let next_cursor = (rows.len() as i64 == limit)
            .then(|| rows.last().map(|r| format!("r{}", r.id)))
            .flatten();
        let items = rows.iter().map(|r| item(&dir, r, lang)).collect();
        return Ok(Json(PublicPage {
            list: which.as_str().into(),
            title: which.label(lang).into(),
            items,
            next_cursor,
        })
        .into_response());
    }
    let mut items = Vec::new();
    while items.len() < MAX_EXPORT {
        let page = store.list(&filter, 500).await?;
        let Some(last) = page.last() else { break };
        filter.before_id = Some(last.id);
        let full = page.len() == 500;
        items.extend(page.iter().map(|r| item(&dir, r, lang)));
        if !full {
            break;
        }
    }
    items.truncate(MAX_EXPORT);
    let name = format!("redgrid-{}.{format}", which.as_str());
    let disposition = format!("attachment; filename=\"{name}\"");
    if format == "csv" {
        let body = to_csv(&items, lang);
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            body,
        )
            .into_response());
    }
    let body = to_xlsx(which, &items, lang).map_err(|e| {
        tracing::error!("xlsx export failed: {e}");
        ApiError::plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "export_failed",
            lang.pick("导出失败，请稍后重试", "the export failed; try again later"),
        )
    })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// The column headers of an export.
fn headers(lang: Lang) -> [&'static str; 13] {
    [
        lang.pick("编号", "No."),
        lang.pick("提出时间", "Filed"),
        lang.pick("街道", "Street"),
        lang.pick("社区", "Community"),
        lang.pick("类别", "Category"),
        lang.pick("诉求内容（公示）", "Need (public summary)"),
        lang.pick("状态", "Status"),
        lang.pick("承办单位", "Handling unit"),
        lang.pick("办理结果（公示）", "What was done (public summary)"),
        lang.pick("满意度", "Satisfaction"),
        lang.pick("销号时间", "Closed"),
        lang.pick("督办次数", "Supervisions"),
        lang.pick("返工次数", "Rework"),
    ]
}

/// A time as local (Asia/Shanghai) minutes, as Excel users read it.
fn local(t: DateTime<Utc>) -> String {
    match chrono::FixedOffset::east_opt(8 * 3600) {
        Some(tz) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        None => t.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

fn cells(i: &PublicItem) -> [String; 13] {
    [
        i.id.to_string(),
        local(i.created_at),
        i.street.clone(),
        i.community.clone(),
        i.category.clone(),
        i.summary.clone().unwrap_or_default(),
        i.status.clone(),
        i.unit.clone(),
        i.result_summary.clone().unwrap_or_default(),
        i.satisfaction.clone().unwrap_or_default(),
        i.closed_at.map(local).unwrap_or_default(),
        i.supervision_count.to_string(),
        i.rework_count.to_string(),
    ]
}

/// CSV with a UTF-8 byte-order mark, so that Excel opens the Chinese text correctly. Cells that
/// begin like a formula are prefixed with an apostrophe.
fn to_csv(items: &[PublicItem], lang: Lang) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let quote = |s: &str| {
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_string()
        };
        format!("\"{}\"", s.replace('"', "\"\""))
    };
    let row = |out: &mut String, cols: &[&str]| {
        let line: Vec<String> = cols.iter().map(|c| quote(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    };
    row(&mut out, &headers(lang));
    for i in items {
        let c = cells(i);
        let refs: Vec<&str> = c.iter().map(String::as_str).collect();
        row(&mut out, &refs);
    }
    out.into_bytes()
}

fn to_xlsx(which: PublicList, items: &[PublicItem], lang: Lang) -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(which.label(lang)).map_err(err)?;
    let bold = Format::new().set_bold();
    for (c, h) in headers(lang).iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *h, &bold)
            .map_err(err)?;
    }
    for (r, i) in items.iter().enumerate() {
        for (c, v) in cells(i).iter().enumerate() {
            sheet
                .write_string((r + 1) as u32, c as u16, v)
                .map_err(err)?;
        }
    }
    sheet.set_column_width(5, 40).map_err(err)?;
    sheet.set_column_width(8, 40).map_err(err)?;
    book.save_to_buffer().map_err(err)
}
