//! The scorecard service: rates per unit, level, area or category for a period, from the fact table,
//! with the response counts of the current day read straight from the requests up to "now".

use crate::Service;
use chrono::{DateTime, Utc};
use redgrid_core::area::Level;
use redgrid_core::error::Lang;
use redgrid_core::error::{CoreError, Denial};
use redgrid_core::ids::{AreaId, UnitId};
use redgrid_core::person::Actor;
use redgrid_core::policy::{self, Action, Subject};
use redgrid_core::scorecard::{
    Counts, Dim, Grain, Period, Rates, day_bucket, day_start, level_of_key, local_date, show_rate,
};
use redgrid_store::Result;
use serde::Serialize;
use std::collections::BTreeMap;

redgrid_core::vocabulary!(plain
    /// How a scorecard groups requests.
    GroupBy {
        Unit = "unit", "单位", "unit";
        Level = "level", "层级", "level";
        Street = "street", "街道", "street";
        Community = "community", "社区", "community";
        Category = "category", "类别", "category";
        Class = "class", "大类", "class";
        District = "district", "全区", "district";
    }
);

impl GroupBy {
    /// The stored dimension this grouping is summed from.
    pub fn dim(self) -> Dim {
        match self {
            GroupBy::Unit => Dim::Unit,
            GroupBy::Level => Dim::Level,
            GroupBy::Street | GroupBy::Community | GroupBy::District => Dim::Community,
            GroupBy::Category | GroupBy::Class => Dim::Category,
        }
    }
}

/// One row of a scorecard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreRow {
    /// The unit, area, category or class id; the level as 1–4 (grid … district); 0 for "none".
    pub key: i64,
    pub name_zh: String,
    pub name_en: String,
    #[serde(flatten)]
    pub counts: Counts,
    #[serde(flatten)]
    pub rates: Rates,
    /// 1 for the best composite; None without a composite.
    pub rank: Option<usize>,
}

/// A scorecard: one row per group, ranked by composite, and the total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    pub by: GroupBy,
    pub period: Period,
    /// The instant response counts were cut at.
    pub as_of: DateTime<Utc>,
    pub rows: Vec<ScoreRow>,
    pub total: ScoreRow,
}

impl Service {
    /// The counts of a dimension for a period, per stored key, as of `now`.
    pub async fn period_counts(
        &self,
        dim: Dim,
        period: Period,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<i64, Counts>> {
        let today = local_date(now);
        let mut out: BTreeMap<i64, Counts> = BTreeMap::new();
        // Whole days before today: every count is final.
        let past_end = period.end.min(today);
        if period.start < past_end {
            let past = Period {
                start: period.start,
                end: past_end,
            };
            for (k, c) in self.store().facts(dim, &past.bucket_ranges()).await? {
                out.entry(k).or_default().add(&c);
            }
        }
        // Today: ratings and closures so far from the day row; responses due so far, straight
        // from the requests (those due later today are not due yet).
        if period.start <= today && today < period.end {
            let b = day_bucket(today);
            for (k, c) in self.store().facts(dim, &[(Grain::Day, b, b)]).await? {
                out.entry(k).or_default().add(&c.without_response());
            }
            for (k, c) in self
                .store()
                .respond_slice(dim, day_start(today), now)
                .await?
            {
                out.entry(k).or_default().add(&c);
            }
        }
        out.retain(|_, c| !c.is_zero());
        Ok(out)
    }

    /// The scorecard of a period grouped by `by`, as of `now`.
    pub async fn scorecard(
        &self,
        by: GroupBy,
        period: Period,
        now: DateTime<Utc>,
    ) -> Result<Scorecard> {
        let raw = self.period_counts(by.dim(), period, now).await?;
        let dir = self.directory();
        // Fold stored keys into the grouping's keys.
        let mut groups: BTreeMap<i64, Counts> = BTreeMap::new();
        for (k, c) in &raw {
            let g = match by {
                GroupBy::Street => dir
                    .area(redgrid_core::ids::AreaId(*k))
                    .and_then(|a| a.parent_id)
                    .map_or(0, |p| p.0),
                GroupBy::District => 0,
                GroupBy::Class => dir
                    .item(redgrid_core::ids::CategoryId(*k))
                    .map_or(0, |i| i.class_id.0),
                _ => *k,
            };
            groups.entry(g).or_default().add(c);
        }
        // Every group the district has is listed, with dashes where it has no data.
        let mut names: BTreeMap<i64, (String, String)> = BTreeMap::new();
        match by {
            GroupBy::Unit => {
                for u in dir.units().filter(|u| u.active) {
                    names.insert(u.id.0, (u.name.clone(), u.name.clone()));
                }
            }
            GroupBy::Level => {
                for l in Level::ALL {
                    names.insert(
                        redgrid_core::scorecard::level_key(l),
                        (l.label(Lang::Zh).into(), l.label(Lang::En).into()),
                    );
                }
            }
            GroupBy::Street | GroupBy::Community => {
                let kind = if by == GroupBy::Street {
                    Level::Street
                } else {
                    Level::Community
                };
                for a in dir.areas().filter(|a| a.kind == kind) {
                    names.insert(a.id.0, (a.name.clone(), a.name.clone()));
                }
            }
            GroupBy::Category => {
                for i in dir.items().into_iter().filter(|i| i.active) {
                    names.insert(i.id.0, (i.name_zh.clone(), i.name_en.clone()));
                }
            }
            GroupBy::Class => {
                for c in dir.classes().iter() {
                    names.insert(c.id.0, (c.name_zh.clone(), c.name_en.clone()));
                }
            }
            GroupBy::District => {
                names.insert(0, ("全区".into(), "whole district".into()));
            }
        }
        for k in groups.keys() {
            names
                .entry(*k)
                .or_insert_with(|| match (by, level_of_key(*k)) {
                    (GroupBy::Level, Some(l)) => {
                        (l.label(Lang::Zh).into(), l.label(Lang::En).into())
                    }
                    _ if *k == 0 => ("未分配".into(), "unassigned".into()),
                    _ => (format!("#{k}"), format!("#{k}")),
                });
        }
        let weights = self.settings().weights;
        let mut total = Counts::default();
        let mut rows: Vec<ScoreRow> = names
            .into_iter()
            .map(|(key, (name_zh, name_en))| {
                let counts = groups.get(&key).copied().unwrap_or_default();
                total.add(&counts);
                ScoreRow {
                    key,
                    name_zh,
                    name_en,
                    counts,
                    rates: counts.rates(&weights),
                    rank: None,
                }
            })
            .collect();
        rank(&mut rows);
        Ok(Scorecard {
            by,
            period,
            as_of: now,
            total: ScoreRow {
                key: 0,
                name_zh: "合计".into(),
                name_en: "total".into(),
                counts: total,
                rates: total.rates(&weights),
                rank: None,
            },
            rows,
        })
    }
}

/// Orders rows by composite (best first; rows without one last), then by ratings, then by key, and
/// numbers the ranks.
fn rank(rows: &mut [ScoreRow]) {
    rows.sort_by(|a, b| {
        let (x, y) = (a.rates.composite, b.rates.composite);
        match (x, y) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then(b.counts.rated.cmp(&a.counts.rated))
        .then(a.key.cmp(&b.key))
    });
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = r.rates.composite.is_some().then_some(i + 1);
    }
}

impl Service {
    /// The scorecard as `actor` may read it (the policy's `assess` rows): everything with a
    /// district-wide grant; otherwise only the units, streets or communities inside the actor's
    /// areas, ranked among themselves, with the total of those rows. Groupings summed over the whole
    /// district (level, category, class, district) need a district-wide grant.
    pub async fn scorecard_for(
        &self,
        actor: &Actor,
        by: GroupBy,
        period: Period,
        now: DateTime<Utc>,
    ) -> Result<Scorecard> {
        let dir = self.directory();
        let whole = policy::permit(&dir, actor, Action::Assess, &Subject::District);
        if whole.is_ok() {
            return self.scorecard(by, period, now).await;
        }
        if !policy::role_may(actor, Action::Assess) {
            return Err(CoreError::Forbidden(Denial::RoleNotAllowed).into());
        }
        if !matches!(by, GroupBy::Unit | GroupBy::Street | GroupBy::Community) {
            return Err(CoreError::Forbidden(Denial::OutOfScope).into());
        }
        let mut card = self.scorecard(by, period, now).await?;
        card.rows.retain(|row| {
            let area = match by {
                GroupBy::Unit => dir.unit(UnitId(row.key)).map(|u| u.area_id),
                _ => dir.area(AreaId(row.key)).map(|a| a.id),
            };
            area.is_some_and(|a| {
                policy::permit(&dir, actor, Action::Assess, &Subject::Area(a)).is_ok()
            })
        });
        let mut total = Counts::default();
        for r in &card.rows {
            total.add(&r.counts);
        }
        card.total.counts = total;
        card.total.rates = total.rates(&self.settings().weights);
        rank(&mut card.rows);
        Ok(card)
    }
}

/// The columns: Chinese header, English header, and the cell of a row.
pub type Column = (&'static str, &'static str, fn(&ScoreRow) -> Cell);

/// One cell of a scorecard export.
pub enum Cell {
    Text(String),
    Count(i64),
    Rate(Option<f64>),
}

fn rank_cell(r: &ScoreRow) -> Cell {
    Cell::Text(r.rank.map_or("—".into(), |n| n.to_string()))
}

/// The columns of a scorecard export, in order.
#[rustfmt::skip]
pub const COLUMNS: &[Column] = &[
    ("排名", "rank", rank_cell),
    ("名称", "name", |r| Cell::Text(r.name_zh.clone())),
    ("应响应", "responses due", |r| Cell::Count(r.counts.respond_due)),
    ("按时响应", "on time", |r| Cell::Count(r.counts.responded_on_time)),
    ("响应率", "response rate", |r| Cell::Rate(r.rates.response_rate)),
    ("评价数", "rated", |r| Cell::Count(r.counts.rated)),
    ("解决率", "resolution rate", |r| Cell::Rate(r.rates.resolution_rate)),
    ("满意率", "satisfaction rate", |r| Cell::Rate(r.rates.satisfaction_rate)),
    ("销号数", "closed", |r| Cell::Count(r.counts.closed)),
    ("按时办结率", "on-time rate", |r| Cell::Rate(r.rates.on_time_rate)),
    ("返工率", "rework rate", |r| Cell::Rate(r.rates.rework_rate)),
    ("综合得分", "composite", |r| Cell::Rate(r.rates.composite)),
];

/// The scorecard as an Excel workbook: a title line, Chinese headers with the English below, rates
/// as percentages, "—" where a rate has no denominator, the total last.
pub fn workbook(card: &Scorecard) -> std::result::Result<Vec<u8>, String> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let err = |e: rust_xlsxwriter::XlsxError| e.to_string();
    sheet.set_name("三率").map_err(err)?;
    let bold = Format::new().set_bold();
    let pct = Format::new().set_num_format("0.0%");
    sheet
        .write_string_with_format(0, 0, title(card), &bold)
        .map_err(err)?;
    for (i, (zh, en, _)) in COLUMNS.iter().enumerate() {
        let col = i as u16;
        sheet
            .write_string_with_format(1, col, *zh, &bold)
            .map_err(err)?;
        sheet.write_string(2, col, *en).map_err(err)?;
        sheet
            .set_column_width(col, if i == 1 { 24 } else { 12 })
            .map_err(err)?;
    }
    for (n, r) in card
        .rows
        .iter()
        .chain(std::iter::once(&card.total))
        .enumerate()
    {
        let row = 3 + n as u32;
        for (i, c) in COLUMNS.iter().enumerate() {
            let col = i as u16;
            match (c.2)(r) {
                Cell::Text(t) => sheet.write_string(row, col, t).map(|_| ()),
                Cell::Count(v) => sheet.write_number(row, col, v as f64).map(|_| ()),
                Cell::Rate(Some(x)) => sheet
                    .write_number_with_format(row, col, x, &pct)
                    .map(|_| ()),
                Cell::Rate(None) => sheet.write_string(row, col, "—").map(|_| ()),
            }
            .map_err(err)?;
        }
    }
    book.save_to_buffer().map_err(err)
}

/// The scorecard as CSV (UTF-8 with a byte-order mark, for Excel): Chinese headers, rates as
/// percentages with one decimal, "—" where a rate has no denominator, the total last.
pub fn csv(card: &Scorecard) -> Vec<u8> {
    let headers: Vec<String> = COLUMNS.iter().map(|c| c.0.to_string()).collect();
    let rows: Vec<Vec<crate::tabular::Cell>> = card
        .rows
        .iter()
        .chain(std::iter::once(&card.total))
        .map(|r| {
            COLUMNS
                .iter()
                .map(|c| match (c.2)(r) {
                    Cell::Text(t) => crate::tabular::Cell::Text(t),
                    Cell::Count(v) => crate::tabular::Cell::Int(v),
                    Cell::Rate(x) => crate::tabular::Cell::Text(show_rate(x)),
                })
                .collect()
        })
        .collect();
    crate::tabular::write_csv(&headers, &rows)
}

/// The title line of an export: the grouping and the period, both days included.
fn title(card: &Scorecard) -> String {
    format!(
        "三率考核（按{}）{} 至 {}",
        card.by.label(Lang::Zh),
        card.period.start,
        card.period.end.pred_opt().unwrap_or(card.period.end)
    )
}
