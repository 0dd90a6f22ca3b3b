//! The public lists (no login), the scorecard with unit rankings, and the dashboard.

use super::svg::{self, Series};
use super::{Ctx, LoggedIn, Page, PageError, PageQuery, PageResult, open_states, render};
use crate::AppState;
use crate::api::public::{PublicItem, PublicList};
use askama::Template;
use axum::extract::{Path, State};
use chrono::{Datelike, Months, NaiveDate};
use redgrid_app::scorecard::{GroupBy, Scorecard};
use redgrid_app::service::now;
use redgrid_core::area::Level;
use redgrid_core::ids::{AreaId, RequestId};
use redgrid_core::policy;
use redgrid_core::request::Light;
use redgrid_core::scorecard::{Period, show_rate};
use redgrid_store::ListFilter;
use std::sync::Arc;

#[derive(Template)]
#[template(path = "public.html")]
pub struct PublicPage {
    pub c: Ctx,
    pub list: &'static str,
    pub title: String,
    pub tabs: Vec<(&'static str, String, bool)>,
    pub items: Vec<PublicItem>,
    pub next: String,
}

impl PublicPage {
    pub fn time(&self, t: &chrono::DateTime<chrono::Utc>) -> String {
        super::local_time(t)
    }
}

#[derive(serde::Deserialize)]
pub struct BeforeQuery {
    before: Option<String>,
}

/// `GET /public/{list}`: the need, result and rectification lists, masked, for everyone.
pub async fn public(
    State(state): State<Arc<AppState>>,
    Page(c): Page,
    Path(name): Path<String>,
    PageQuery(q): PageQuery<BeforeQuery>,
) -> PageResult {
    let which = PublicList::parse(&name).ok_or_else(|| PageError::not_found(c.lang))?;
    let mut filter = which.filter();
    filter.before_id = q
        .before
        .as_deref()
        .and_then(|b| b.parse::<i64>().ok())
        .map(RequestId);
    let limit = 50;
    let rows = state
        .service
        .store()
        .list(&filter, limit)
        .await
        .map_err(|e| PageError::store(e, c.lang, &c.here))?;
    let next = if rows.len() as i64 == limit {
        rows.last().map(|r| r.id.0.to_string()).unwrap_or_default()
    } else {
        String::new()
    };
    let dir = state.service.directory();
    let items = rows
        .iter()
        .map(|r| crate::api::public::item(&dir, r, c.lang))
        .collect();
    let tabs = PublicList::ALL
        .iter()
        .map(|l| (l.as_str(), l.label(c.lang).to_string(), *l == which))
        .collect();
    Ok(render(&PublicPage {
        title: which.label(c.lang).to_string(),
        list: which.as_str(),
        c,
        tabs,
        items,
        next,
    }))
}

/// One row of the scorecard as shown.
pub struct ScoreLine {
    pub rank: String,
    pub name: String,
    pub closed: i64,
    pub rated: i64,
    pub response: String,
    pub resolution: String,
    pub satisfaction: String,
    pub on_time: String,
    pub rework: String,
    pub composite: String,
}

#[derive(Template)]
#[template(path = "scorecard.html")]
pub struct ScorecardPage {
    pub c: Ctx,
    pub by: &'static str,
    pub period: String,
    pub groupings: Vec<(&'static str, &'static str)>,
    pub lines: Vec<ScoreLine>,
    pub total: ScoreLine,
    pub error: String,
    pub chart: String,
    /// The query of this scorecard for its Excel and CSV exports.
    pub export: String,
}

fn line(row: &redgrid_app::scorecard::ScoreRow, lang: redgrid_core::Lang) -> ScoreLine {
    ScoreLine {
        rank: row.rank.map(|r| r.to_string()).unwrap_or_default(),
        name: lang.pick(&row.name_zh, &row.name_en).to_string(),
        closed: row.counts.closed,
        rated: row.counts.rated,
        response: show_rate(row.rates.response_rate),
        resolution: show_rate(row.rates.resolution_rate),
        satisfaction: show_rate(row.rates.satisfaction_rate),
        on_time: show_rate(row.rates.on_time_rate),
        rework: show_rate(row.rates.rework_rate),
        composite: row
            .rates
            .composite
            .map(|v| format!("{:.1}", v * 100.0))
            .unwrap_or_else(|| "—".into()),
    }
}

#[derive(serde::Deserialize)]
pub struct ScoreQuery {
    by: Option<String>,
    period: Option<String>,
}

fn this_month() -> String {
    let d = redgrid_core::scorecard::local_date(now());
    format!("{:04}-{:02}", d.year(), d.month())
}

/// `GET /scorecard?by=unit&period=2026-11`: rates and the ranking (三率 and the composite).
pub async fn scorecard(
    State(state): State<Arc<AppState>>,
    LoggedIn(c): LoggedIn,
    PageQuery(q): PageQuery<ScoreQuery>,
) -> PageResult {
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let by =
        q.by.as_deref()
            .and_then(GroupBy::parse)
            .unwrap_or(GroupBy::Unit);
    let period_text = q
        .period
        .clone()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(this_month);
    let mut error = String::new();
    let period = match Period::parse(&period_text) {
        Some(p) => p,
        None => {
            error = c
                .t(
                    "时段格式不对，例如 2026-11、2026-Q4、2026 或 2026-11-01..2026-11-15。",
                    "Not a period: try 2026-11, 2026-Q4, 2026 or 2026-11-01..2026-11-15.",
                )
                .to_string();
            Period::parse(&this_month()).ok_or_else(|| PageError::not_found(c.lang))?
        }
    };
    let card = state
        .service
        .scorecard_for(&actor, by, period, now())
        .await
        .map_err(|e| PageError::store(e, c.lang, &c.here))?;
    let lines: Vec<ScoreLine> = card.rows.iter().map(|r| line(r, c.lang)).collect();
    let chart_rows: Vec<(String, Option<f64>)> = card
        .rows
        .iter()
        .take(15)
        .map(|r| {
            (
                c.lang.pick(&r.name_zh, &r.name_en).to_string(),
                r.rates.composite,
            )
        })
        .collect();
    let chart = if chart_rows.is_empty() {
        String::new()
    } else {
        svg::rate_bars(
            c.t("综合得分（前 15）", "Composite score (top 15)"),
            &chart_rows,
        )
    };
    let groupings = GroupBy::ALL
        .iter()
        .map(|g| (g.as_str(), g.label(c.lang)))
        .collect();
    let export = format!(
        "/api/scorecard?by={}&period={}",
        by.as_str(),
        crate::ui::url_encode(&period_text)
    );
    Ok(render(&ScorecardPage {
        export,
        by: by.as_str(),
        period: period_text,
        groupings,
        lines,
        total: line(&card.total, c.lang),
        error,
        chart,
        c,
    }))
}

/// One line of the area tree.
pub struct TreeLine {
    pub depth: usize,
    pub name: String,
    pub open: i64,
    pub red: i64,
    pub closed: i64,
    pub satisfaction: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub c: Ctx,
    pub year: i32,
    pub filed: i64,
    pub closed: i64,
    pub open: i64,
    pub red: i64,
    pub response: String,
    pub resolution: String,
    pub satisfaction: String,
    pub on_time: String,
    pub headline: String,
    pub trend: String,
    pub rates_trend: String,
    pub units: String,
    pub lights: String,
    pub light_rows: Vec<(String, [i64; 3])>,
    pub tree: Vec<TreeLine>,
    pub months: Vec<(String, i64, i64)>,
    /// For district administrators: text messages the SMS sender gave up on, and the sender.
    pub sms_failures: Vec<redgrid_app::sms::SmsFailure>,
    pub sms_sender: String,
}

/// The district (or, for staff of a street or community, their area) at a glance: headline figures
/// in the seed reports' words, a year of trends, rates by unit, lights by level and the area tree.
pub async fn dashboard(State(state): State<Arc<AppState>>, LoggedIn(c): LoggedIn) -> PageResult {
    c.require(
        c.is_staff(),
        "数据看板只对工作人员开放。",
        "The dashboard is for staff.",
    )?;
    let actor = c.actor().ok_or_else(|| PageError::Login(c.here.clone()))?;
    let lang = c.lang;
    let fail = |e| PageError::store(e, lang, "/dashboard");
    let service = &state.service;
    let store = service.store();
    let dir = service.directory();
    let visible = policy::visibility(&dir, &actor);
    let at = now();
    let today = redgrid_core::scorecard::local_date(at);
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let year = Period {
        start: year_start,
        end: today.succ_opt().unwrap_or(today),
    };
    let base = ListFilter {
        visible: Some(visible.clone()),
        ..Default::default()
    };
    let count = |f: ListFilter| {
        let store = store.clone();
        async move { store.count(&f).await }
    };
    let filed = count(ListFilter {
        created_from: Some(year.start_instant()),
        ..base.clone()
    })
    .await
    .map_err(fail)?;
    let open = count(ListFilter {
        statuses: open_states(),
        ..base.clone()
    })
    .await
    .map_err(fail)?;
    let mut light_rows = Vec::new();
    let mut red = 0;
    for level in Level::ALL {
        let mut counts = [0i64; 3];
        for (k, light) in Light::ALL.iter().enumerate() {
            counts[k] = count(ListFilter {
                statuses: open_states(),
                level: Some(level),
                light: Some((*light, at)),
                ..base.clone()
            })
            .await
            .map_err(fail)?;
        }
        red += counts[2];
        light_rows.push((level.label(lang).to_string(), counts));
    }
    // Rates for the year, over the communities the person may assess.
    let card: Result<Scorecard, _> = service
        .scorecard_for(&actor, GroupBy::Community, year, at)
        .await;
    let card = match card {
        Ok(c) => Some(c),
        Err(redgrid_store::StoreError::Core(_)) => None,
        Err(e) => return Err(fail(e)),
    };
    let total = card.as_ref().map(|c| c.total.clone());
    let rate = |f: fn(&redgrid_core::scorecard::Rates) -> Option<f64>| {
        show_rate(total.as_ref().and_then(|t| f(&t.rates)))
    };
    let closed = total.as_ref().map_or(0, |t| t.counts.closed);
    let (response, resolution, satisfaction, on_time) = (
        rate(|r| r.response_rate),
        rate(|r| r.resolution_rate),
        rate(|r| r.satisfaction_rate),
        rate(|r| r.on_time_rate),
    );
    let place = dir.district().map(|d| d.name.clone()).unwrap_or_default();
    let headline = match lang {
        redgrid_core::Lang::Zh => format!(
            "{}年以来，{place}红网格共收到群众诉求 {filed} 件，办结销号 {closed} 件，按时响应率 {response}，解决率 {resolution}，群众满意率 {satisfaction}。",
            today.year()
        ),
        redgrid_core::Lang::En => format!(
            "Since the start of {}, {place}'s red grid received {filed} requests and closed {closed}; response rate {response}, resolution rate {resolution}, satisfaction {satisfaction}.",
            today.year()
        ),
    };
    // Twelve months of trends.
    let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    let mut labels = Vec::new();
    let mut filed_series = Vec::new();
    let mut closed_series = Vec::new();
    let mut sat_series = Vec::new();
    let mut resp_series = Vec::new();
    let mut months = Vec::new();
    for back in (0..12).rev() {
        let Some(start) = this_month.checked_sub_months(Months::new(back)) else {
            continue;
        };
        let Some(end) = start.checked_add_months(Months::new(1)) else {
            continue;
        };
        let p = Period { start, end };
        let n_filed = count(ListFilter {
            created_from: Some(p.start_instant()),
            created_to: Some(p.end_instant()),
            ..base.clone()
        })
        .await
        .map_err(fail)?;
        let month_card = match service
            .scorecard_for(&actor, GroupBy::Community, p, at)
            .await
        {
            Ok(card) => Some(card.total),
            Err(redgrid_store::StoreError::Core(_)) => None,
            Err(e) => return Err(fail(e)),
        };
        let n_closed = month_card.as_ref().map_or(0, |t| t.counts.closed);
        let label = format!("{}-{:02}", start.year() % 100, start.month());
        labels.push(label.clone());
        filed_series.push(Some(n_filed as f64));
        closed_series.push(Some(n_closed as f64));
        // A month with nothing to rate is a gap in the line, not 0 %.
        sat_series.push(
            month_card
                .as_ref()
                .and_then(|t| t.rates.satisfaction_rate)
                .map(|v| v * 100.0),
        );
        resp_series.push(
            month_card
                .as_ref()
                .and_then(|t| t.rates.response_rate)
                .map(|v| v * 100.0),
        );
        months.push((label, n_filed, n_closed));
    }
    let trend = svg::line_chart(
        c.t("近 12 个月诉求量", "Requests over 12 months"),
        &labels,
        &[
            Series {
                name: c.t("新增诉求", "filed"),
                colour: svg::RED,
                values: filed_series,
            },
            Series {
                name: c.t("办结销号", "closed"),
                colour: svg::BLUE,
                values: closed_series,
            },
        ],
    );
    let rates_trend = svg::line_chart(
        c.t(
            "近 12 个月满意率与响应率（%）",
            "Satisfaction and response rates (%)",
        ),
        &labels,
        &[
            Series {
                name: c.t("满意率", "satisfaction"),
                colour: svg::GREEN,
                values: sat_series,
            },
            Series {
                name: c.t("响应率", "response"),
                colour: svg::BLUE,
                values: resp_series,
            },
        ],
    );
    let units = match service.scorecard_for(&actor, GroupBy::Unit, year, at).await {
        Ok(card) => {
            let mut rows: Vec<_> = card.rows.iter().collect();
            rows.sort_by_key(|r| std::cmp::Reverse(r.counts.rated));
            let bars: Vec<(String, Option<f64>)> = rows
                .iter()
                .take(12)
                .map(|r| {
                    (
                        lang.pick(&r.name_zh, &r.name_en).to_string(),
                        r.rates.satisfaction_rate,
                    )
                })
                .collect();
            svg::rate_bars(
                c.t(
                    "各单位满意率（评价最多的 12 个）",
                    "Satisfaction by unit (12 most rated)",
                ),
                &bars,
            )
        }
        Err(redgrid_store::StoreError::Core(_)) => String::new(),
        Err(e) => return Err(fail(e)),
    };
    let lights = svg::light_bars(
        c.t(
            "各层级亮灯（绿/黄/红）",
            "Lights by level (green/yellow/red)",
        ),
        &light_rows,
    );
    // The area tree: streets and their communities, with open, red and the year's figures.
    let mut tree = Vec::new();
    let community_rows: std::collections::HashMap<i64, &redgrid_app::scorecard::ScoreRow> = card
        .iter()
        .flat_map(|c| c.rows.iter())
        .map(|r| (r.key, r))
        .collect();
    let mut streets: Vec<_> = dir.areas().filter(|a| a.kind == Level::Street).collect();
    streets.sort_by(|a, b| a.code.cmp(&b.code));
    let actor_may = |a: AreaId| {
        policy::permit(
            &dir,
            &actor,
            policy::Action::Assess,
            &policy::Subject::Area(a),
        )
        .is_ok()
    };
    for s in streets {
        let mut communities: Vec<_> = dir
            .areas()
            .filter(|a| a.kind == Level::Community && a.parent_id == Some(s.id))
            .filter(|a| actor_may(a.id))
            .collect();
        if communities.is_empty() {
            continue;
        }
        communities.sort_by(|a, b| a.code.cmp(&b.code));
        let mut lines = Vec::new();
        let (mut s_open, mut s_red, mut s_closed) = (0, 0, 0);
        for cm in communities {
            let in_area = ListFilter {
                statuses: open_states(),
                area: Some((Level::Community, cm.id)),
                ..base.clone()
            };
            let o = count(in_area.clone()).await.map_err(fail)?;
            let r = count(ListFilter {
                light: Some((Light::Red, at)),
                ..in_area
            })
            .await
            .map_err(fail)?;
            let row = community_rows.get(&cm.id.0);
            let cl = row.map_or(0, |x| x.counts.closed);
            s_open += o;
            s_red += r;
            s_closed += cl;
            lines.push(TreeLine {
                depth: 1,
                name: cm.name.clone(),
                open: o,
                red: r,
                closed: cl,
                satisfaction: show_rate(row.and_then(|x| x.rates.satisfaction_rate)),
            });
        }
        tree.push(TreeLine {
            depth: 0,
            name: s.name.clone(),
            open: s_open,
            red: s_red,
            closed: s_closed,
            satisfaction: String::new(),
        });
        tree.extend(lines);
    }
    // Administrators see the messages the SMS sender could not deliver after every try.
    let (sms_failures, sms_sender) = match c.actor() {
        Some(a) if state.service.require_admin(&a).is_ok() => {
            let sms = state.service.sms();
            (sms.failures(), sms.sender_name())
        }
        _ => (vec![], String::new()),
    };
    Ok(render(&DashboardPage {
        sms_failures,
        sms_sender,
        c,
        year: today.year(),
        filed,
        closed,
        open,
        red,
        response,
        resolution,
        satisfaction,
        on_time,
        headline,
        trend,
        rates_trend,
        units,
        lights,
        light_rows,
        tree,
        months,
    }))
}
