//! 访问审计: the personal-data auditor's page. Who viewed or revealed whose personal data, on which
//! request, when and why, searched by whose data (phone or person no.), by viewer and by request,
//! with the same search exported to Excel or CSV through `GET /api/audit/access-log`.

use super::{LoggedIn, PageError, PageResult, render};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use redgrid_core::ids::{PersonId, RequestId};
use std::sync::Arc;

/// One row of the table.
pub struct Row {
    pub at: String,
    pub viewer: String,
    pub subject: String,
    pub request_id: i64,
    pub how: &'static str,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    c: super::Ctx,
    /// The search as typed: phone, person no., viewer no., request no.
    phone: String,
    person_id: String,
    viewer_id: String,
    request_id: String,
    /// Why a value was not used (shown next to the form).
    problem: String,
    rows: Vec<Row>,
    /// The search as a query string for the export links, already escaped for HTML (`&amp;`).
    query: String,
}

/// The newest rows the page shows (the exports hold every match).
const PAGE_ROWS: i64 = 200;

/// `GET /audit`: the access log, for the auditor only.
pub async fn page(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    Query(q): Query<Vec<(String, String)>>,
) -> PageResult {
    let lang = c.lang;
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let fail = |e| PageError::store(e, lang, "/audit");
    let get = |k: &str| {
        q.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let (phone, person_id, viewer_id, request_id) = (
        get("phone"),
        get("person_id"),
        get("viewer_id"),
        get("request_id"),
    );
    let mut query = redgrid_store::AccessQuery {
        limit: PAGE_ROWS,
        ..Default::default()
    };
    let mut problems = Vec::new();
    let mut number = |text: &str, label: &str| -> Option<i64> {
        if text.is_empty() {
            return None;
        }
        let n = text.parse::<i64>().ok().filter(|n| *n > 0);
        if n.is_none() {
            problems.push(format!(
                "{label}{}",
                lang.pick("应为正整数", " must be a positive number")
            ));
        }
        n
    };
    query.subject = number(&person_id, lang.pick("信息主体编号", "Person no.")).map(PersonId);
    query.viewer = number(&viewer_id, lang.pick("查看人编号", "Viewer no.")).map(PersonId);
    query.request = number(&request_id, lang.pick("诉求编号", "Request no.")).map(RequestId);
    // Refused (403) for anyone but the auditor before anything is looked up.
    state.service.require_auditor(&actor).map_err(fail)?;
    if !phone.is_empty() {
        query.subject = Some(
            state
                .service
                .store()
                .person_by_phone(&redgrid_app::roles::normalize_phone(&phone))
                .await
                .map_err(fail)?
                .map_or(PersonId(0), |p| p.id),
        );
    }
    let rows = state
        .service
        .access_log(&actor, &query)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|v| Row {
            at: super::local_time(&v.entry.at),
            viewer: format!("{} (#{})", v.viewer_name, v.entry.viewer_id),
            subject: match (v.subject_name, v.entry.subject_id) {
                (Some(n), Some(id)) => format!("{n} (#{id})"),
                _ => String::new(),
            },
            request_id: v.entry.request_id.0,
            how: match v.entry.via.as_str() {
                "reveal" => lang.pick("申请查看", "revealed"),
                "page" => lang.pick("页面查看", "viewed (page)"),
                "api" => lang.pick("接口查看", "viewed (API)"),
                _ => lang.pick("查看", "viewed"),
            },
            reason: v.entry.reason.unwrap_or_default(),
        })
        .collect();
    let query = [
        ("phone", &phone),
        ("person_id", &person_id),
        ("viewer_id", &viewer_id),
        ("request_id", &request_id),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("&amp;{k}={}", super::url_encode(v)))
    .collect();
    Ok(render(&AuditPage {
        c,
        phone,
        person_id,
        viewer_id,
        request_id,
        problem: problems.join("；"),
        rows,
        query,
    }))
}
