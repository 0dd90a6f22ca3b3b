//! The request ledger (诉求台账) a district reports upward with: one row per request, with its
//! place, category, level, unit, deadlines, whether it was on time, supervision and rework, the
//! rating and the close-out, as Excel or CSV with Chinese (or English) headers. It follows the
//! viewer's scope and masking: it holds exactly the requests the viewer may list, as they see them.

use crate::service::Service;
use crate::tabular::{Cell, OutSheet};
use chrono::{DateTime, Utc};
use redgrid_core::Lang;
use redgrid_core::directory::Directory;
use redgrid_core::ids::RequestId;
use redgrid_core::person::Actor;
use redgrid_core::request::Request;
use redgrid_store::{ListFilter, Result};

/// The most rows one export holds (a larger ledger is exported a period or an area at a time).
pub const MAX_LEDGER_ROWS: usize = 100_000;

/// The column headers, in Chinese and English.
const COLUMNS: &[(&str, &str)] = &[
    ("编号", "No."),
    ("提出时间", "Filed"),
    ("渠道", "Channel"),
    ("街道", "Street"),
    ("社区", "Community"),
    ("网格", "Grid"),
    ("诉求内容", "Need"),
    ("类别", "Category"),
    ("分级", "Tier"),
    ("办理层级", "Level"),
    ("承办单位", "Handling unit"),
    ("状态", "Status"),
    ("响应时限", "Respond by"),
    ("办结时限", "Resolve by"),
    ("响应时间", "Responded"),
    ("办结时间", "Resolved"),
    ("按时办结", "On time"),
    ("督办次数", "Supervisions"),
    ("返工次数", "Rework"),
    ("问题解决", "Need met"),
    ("满意度", "Satisfaction"),
    ("销号时间", "Closed"),
];

fn time(t: Option<DateTime<Utc>>) -> Cell {
    match t.and_then(|t| chrono::FixedOffset::east_opt(8 * 3600).map(|z| t.with_timezone(&z))) {
        Some(t) => Cell::Text(t.format("%Y-%m-%d %H:%M").to_string()),
        None => Cell::Empty,
    }
}

fn yes_no(b: Option<bool>, lang: Lang) -> Cell {
    match b {
        Some(true) => lang.pick("是", "yes").into(),
        Some(false) => lang.pick("否", "no").into(),
        None => Cell::Empty,
    }
}

/// One request's row, in the order of [`COLUMNS`].
fn row(dir: &Directory, r: &Request, lang: Lang) -> Vec<Cell> {
    let area = |id| dir.area(id).map(|a| a.name.clone()).unwrap_or_default();
    let category = r
        .category_id
        .and_then(|c| dir.item(c))
        .map(|i| lang.pick(&i.name_zh, &i.name_en).to_string())
        .unwrap_or_default();
    let unit = r
        .unit_id
        .and_then(|u| dir.unit(u))
        .map(|u| u.name.clone())
        .unwrap_or_default();
    vec![
        Cell::Int(r.id.0),
        time(Some(r.created_at)),
        r.channel.label(lang).into(),
        area(r.location.street_id).into(),
        area(r.location.community_id).into(),
        r.location.grid_id.map(area).unwrap_or_default().into(),
        r.description.as_str().into(),
        category.into(),
        r.tier.map(|t| t.label(lang)).unwrap_or_default().into(),
        r.level.label(lang).into(),
        unit.into(),
        r.status.label(lang).into(),
        time(r.respond_due_at),
        time(r.resolve_due_at),
        time(r.responded_at),
        time(r.resolved_at),
        yes_no(r.on_time, lang),
        Cell::Int(r.supervision_count as i64),
        Cell::Int(r.rework_count as i64),
        yes_no(r.rating.as_ref().map(|x| x.resolved), lang),
        r.rating
            .as_ref()
            .map(|x| x.satisfaction.label(lang))
            .unwrap_or_default()
            .into(),
        time(r.closed_at),
    ]
}

impl Service {
    /// The ledger of the requests `filter` matches that `actor` may list, newest first, masked as
    /// they see them. Refuses nothing: someone who may list nothing gets an empty sheet.
    pub async fn ledger(&self, actor: &Actor, filter: &ListFilter, lang: Lang) -> Result<OutSheet> {
        let dir = self.directory();
        let mut filter = filter.clone();
        let mut rows = Vec::new();
        loop {
            let page = self.list_visible(actor, &filter, 1000).await?;
            let Some(last) = page.last().map(|r| r.id) else {
                break;
            };
            let full = page.len() == 1000;
            rows.extend(page.iter().map(|r| row(&dir, r, lang)));
            if !full || rows.len() >= MAX_LEDGER_ROWS {
                break;
            }
            filter.before_id = Some(RequestId(last.0));
        }
        rows.truncate(MAX_LEDGER_ROWS);
        Ok(OutSheet {
            name: lang.pick("诉求台账", "Request ledger").to_string(),
            headers: COLUMNS
                .iter()
                .map(|(zh, en)| lang.pick(zh, en).to_string())
                .collect(),
            rows,
        })
    }
}
