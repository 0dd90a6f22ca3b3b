//! The scorecard (三率): response, resolution, satisfaction, on-time and rework rates and the composite
//! (docs/design/lifecycle.md, "Rates"), per unit, level, area or category, for any period.
//!
//! Each request contributes counts to day and month buckets of a few dimensions, decided by its
//! projection alone ([`contribution`]). When a command changes a request, the store adds the
//! difference between the new and the old contribution ([`delta`]) in the same transaction, so a
//! scorecard reads a few hundred pre-summed rows instead of scanning every request.
//!
//! Counting rules:
//! - a response is counted in the period its deadline (`respond_due_at`) falls in, and only once that
//!   deadline has passed (or the request was answered): the store caps the response counts at "now";
//! - a rating is counted in the period it was given; a request rated twice counts its last rating;
//! - a closure (销号, not a rejection) is counted in the period it happened; it is on time when the last
//!   `resolve` came by `resolve_due_at` (a request with no resolve deadline cannot be late), and
//!   reworked when it was sent back at least once.
//!
//! A request's counts go to its current unit, level, community and category.

use crate::area::Level;
use crate::calendar::shanghai;
use crate::request::{Request, Satisfaction, Status};
use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The counts a scorecard is computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counts {
    /// Requests whose response was due in the period.
    pub respond_due: i64,
    /// Of those, answered (claimed, or contact noted) by the deadline.
    pub responded_on_time: i64,
    /// Requests rated in the period.
    pub rated: i64,
    /// Of those, rated "resolved".
    pub rated_resolved: i64,
    pub satisfied: i64,
    pub basically_satisfied: i64,
    /// Requests closed (销号) in the period.
    pub closed: i64,
    /// Of those, resolved by the resolve deadline.
    pub closed_on_time: i64,
    /// Of those, reopened (verification failed or rated unsatisfied) at least once.
    pub closed_reworked: i64,
}

/// The counters in a fixed order, as stored in the fact tables.
pub const COUNTER_COLUMNS: [&str; 9] = [
    "respond_due",
    "responded_on_time",
    "rated",
    "rated_resolved",
    "satisfied",
    "basically_satisfied",
    "closed",
    "closed_on_time",
    "closed_reworked",
];

impl Counts {
    pub fn to_array(&self) -> [i64; 9] {
        [
            self.respond_due,
            self.responded_on_time,
            self.rated,
            self.rated_resolved,
            self.satisfied,
            self.basically_satisfied,
            self.closed,
            self.closed_on_time,
            self.closed_reworked,
        ]
    }

    pub fn from_array(a: [i64; 9]) -> Counts {
        Counts {
            respond_due: a[0],
            responded_on_time: a[1],
            rated: a[2],
            rated_resolved: a[3],
            satisfied: a[4],
            basically_satisfied: a[5],
            closed: a[6],
            closed_on_time: a[7],
            closed_reworked: a[8],
        }
    }

    pub fn add(&mut self, other: &Counts) {
        let (a, b) = (self.to_array(), other.to_array());
        *self = Counts::from_array(std::array::from_fn(|i| a[i] + b[i]));
    }

    fn sub(&mut self, other: &Counts) {
        let (a, b) = (self.to_array(), other.to_array());
        *self = Counts::from_array(std::array::from_fn(|i| a[i] - b[i]));
    }

    pub fn is_zero(&self) -> bool {
        self.to_array().iter().all(|x| *x == 0)
    }

    /// The response counts removed (they are capped at "now" separately).
    pub fn without_response(mut self) -> Counts {
        self.respond_due = 0;
        self.responded_on_time = 0;
        self
    }
}

/// The weights of the composite score; docs/design/lifecycle.md's defaults are 0.1, 0.5 and 0.4.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Weights {
    pub response: f64,
    pub resolution: f64,
    pub satisfaction: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            response: 0.1,
            resolution: 0.5,
            satisfaction: 0.4,
        }
    }
}

/// The rates; None where the denominator is zero (shown as "—", never as 0 or 100%).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rates {
    pub response_rate: Option<f64>,
    pub resolution_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
    pub on_time_rate: Option<f64>,
    pub rework_rate: Option<f64>,
    /// The weighted composite; None unless all three of its rates exist.
    pub composite: Option<f64>,
}

fn ratio(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

impl Counts {
    pub fn rates(&self, w: &Weights) -> Rates {
        let response_rate = ratio(self.responded_on_time, self.respond_due);
        let resolution_rate = ratio(self.rated_resolved, self.rated);
        let satisfaction_rate = (self.rated > 0).then(|| {
            (self.satisfied as f64 + 0.9 * self.basically_satisfied as f64) / self.rated as f64
        });
        let composite = match (response_rate, resolution_rate, satisfaction_rate) {
            (Some(a), Some(b), Some(c)) => {
                Some(w.response * a + w.resolution * b + w.satisfaction * c)
            }
            _ => None,
        };
        Rates {
            response_rate,
            resolution_rate,
            satisfaction_rate,
            on_time_rate: ratio(self.closed_on_time, self.closed),
            rework_rate: ratio(self.closed_reworked, self.closed),
            composite,
        }
    }
}

/// Formats a rate for people: "87.5%", or "—" without a denominator.
pub fn show_rate(r: Option<f64>) -> String {
    match r {
        Some(x) => format!("{:.1}%", x * 100.0),
        None => "—".to_string(),
    }
}

/// The dimensions the store keeps counts for. Streets and the district are sums of communities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    Level = 0,
    Unit = 1,
    Community = 2,
    Category = 3,
}

impl Dim {
    pub const ALL: [Dim; 4] = [Dim::Level, Dim::Unit, Dim::Community, Dim::Category];
}

/// Day buckets (`yyyymmdd`), month buckets (`yyyymm`) and year buckets (`yyyy`), in Asia/Shanghai.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    Day = 0,
    Month = 1,
    Year = 2,
}

/// One row of a fact table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FactKey {
    pub grain: Grain,
    pub dim: Dim,
    pub bucket: i32,
    pub key: i64,
}

/// The number a level is stored under in the level dimension.
pub fn level_key(l: Level) -> i64 {
    match l {
        Level::Grid => 1,
        Level::Community => 2,
        Level::Street => 3,
        Level::District => 4,
    }
}

pub fn level_of_key(k: i64) -> Option<Level> {
    Level::ALL.into_iter().find(|l| level_key(*l) == k)
}

/// The local date of an instant.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&shanghai()).date_naive()
}

/// The instant a local date begins.
pub fn day_start(d: NaiveDate) -> DateTime<Utc> {
    let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    shanghai()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

pub fn day_bucket(d: NaiveDate) -> i32 {
    d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32
}

pub fn month_bucket(d: NaiveDate) -> i32 {
    d.year() * 100 + d.month() as i32
}

/// The counts one request contributes, at the instant each is bucketed by.
fn items(r: &Request) -> Vec<(DateTime<Utc>, Counts)> {
    let mut out = Vec::with_capacity(3);
    if let Some(due) = r.respond_due_at {
        let on_time = r.responded_at.is_some_and(|t| t <= due);
        out.push((
            due,
            Counts {
                respond_due: 1,
                responded_on_time: i64::from(on_time),
                ..Counts::default()
            },
        ));
    }
    if let (Some(rating), Some(at)) = (&r.rating, r.rated_at) {
        out.push((
            at,
            Counts {
                rated: 1,
                rated_resolved: i64::from(rating.resolved),
                satisfied: i64::from(rating.satisfaction == Satisfaction::Satisfied),
                basically_satisfied: i64::from(
                    rating.satisfaction == Satisfaction::BasicallySatisfied,
                ),
                ..Counts::default()
            },
        ));
    }
    if r.status == Status::Closed
        && let Some(at) = r.closed_at
    {
        out.push((
            at,
            Counts {
                closed: 1,
                closed_on_time: i64::from(r.on_time != Some(false)),
                closed_reworked: i64::from(r.rework_count > 0),
                ..Counts::default()
            },
        ));
    }
    out
}

/// The keys of each dimension a request counts under.
pub fn dim_keys(r: &Request) -> [(Dim, i64); 4] {
    [
        (Dim::Level, level_key(r.level)),
        (Dim::Unit, r.unit_id.map_or(0, |u| u.0)),
        (Dim::Community, r.location.community_id.0),
        (Dim::Category, r.category_id.map_or(0, |c| c.0)),
    ]
}

/// Everything a request contributes to the fact tables.
pub fn contribution(r: &Request) -> BTreeMap<FactKey, Counts> {
    let mut out: BTreeMap<FactKey, Counts> = BTreeMap::new();
    let keys = dim_keys(r);
    for (at, counts) in items(r) {
        let date = local_date(at);
        for (grain, bucket) in [
            (Grain::Day, day_bucket(date)),
            (Grain::Month, month_bucket(date)),
            (Grain::Year, date.year()),
        ] {
            for (dim, key) in keys {
                out.entry(FactKey {
                    grain,
                    dim,
                    bucket,
                    key,
                })
                .or_default()
                .add(&counts);
            }
        }
    }
    out
}

/// What to add to the fact tables when a request changes from `old` to `new`: only rows that change.
pub fn delta(old: Option<&Request>, new: &Request) -> BTreeMap<FactKey, Counts> {
    let mut out = contribution(new);
    if let Some(old) = old {
        for (k, c) in contribution(old) {
            out.entry(k).or_default().sub(&c);
        }
    }
    out.retain(|_, c| !c.is_zero());
    out
}

/// One counted item of a request's change, packed: the local day it counts on, the request's keys
/// in the four dimensions ([`Dim::ALL`]'s order) and its counts, negative for an item taken back.
/// It stands for the twelve facts (three grains, four dimensions) that [`PackedDelta::facts`]
/// gives, so a command appends one row for each item that changed rather than a row for each fact
/// (PostgreSQL's `scorecard_deltas`, folded into the facts by settling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedDelta {
    /// The day bucket (`yyyymmdd`); the month and year buckets are its leading digits.
    pub day: i32,
    /// The keys of [`Dim::ALL`], in its order.
    pub keys: [i64; 4],
    pub counts: Counts,
}

impl PackedDelta {
    /// The facts this row stands for.
    pub fn facts(&self) -> impl Iterator<Item = (FactKey, Counts)> + '_ {
        [
            (Grain::Day, self.day),
            (Grain::Month, self.day / 100),
            (Grain::Year, self.day / 10_000),
        ]
        .into_iter()
        .flat_map(move |(grain, bucket)| {
            Dim::ALL.into_iter().zip(self.keys).map(move |(dim, key)| {
                let k = FactKey {
                    grain,
                    dim,
                    bucket,
                    key,
                };
                (k, self.counts)
            })
        })
    }
}

/// [`delta`] packed: the items of `new` that `old` lacks, and those of `old` that `new` lacks with
/// their counts negated; an item both have alike (the same day, keys and counts) is left out.
/// Expanded and summed, it gives [`delta`] (with rows that sum to zero besides).
pub fn packed_delta(old: Option<&Request>, new: &Request) -> Vec<PackedDelta> {
    let packed = |r: &Request| -> Vec<PackedDelta> {
        let keys = dim_keys(r).map(|(_, k)| k);
        items(r)
            .into_iter()
            .map(|(at, counts)| PackedDelta {
                day: day_bucket(local_date(at)),
                keys,
                counts,
            })
            .collect()
    };
    let mut added = packed(new);
    let mut out = Vec::with_capacity(added.len() * 2);
    for gone in old.map(packed).unwrap_or_default() {
        match added.iter().position(|a| *a == gone) {
            Some(i) => {
                added.remove(i);
            }
            None => {
                let mut counts = Counts::default();
                counts.sub(&gone.counts);
                out.push(PackedDelta { counts, ..gone });
            }
        }
    }
    out.extend(added);
    out
}

/// A period of local dates, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Period {
    pub start: NaiveDate,
    /// The first day after the period.
    pub end: NaiveDate,
}

impl Period {
    /// Parses `2026-10-05` (a day), `2026-10` (a month), `2026-Q3` (a quarter), `2026` (a year) or
    /// `2026-10-01..2026-10-15` (a range of days, both included).
    pub fn parse(text: &str) -> Option<Period> {
        let t = text.trim();
        if let Some((a, b)) = t.split_once("..") {
            let start = NaiveDate::parse_from_str(a.trim(), "%Y-%m-%d").ok()?;
            let last = NaiveDate::parse_from_str(b.trim(), "%Y-%m-%d").ok()?;
            if last < start {
                return None;
            }
            return Some(Period {
                start,
                end: last.succ_opt()?,
            });
        }
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Some(Period {
                start: d,
                end: d.succ_opt()?,
            });
        }
        let year = |y: &str| -> Option<i32> {
            (y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
                .then(|| y.parse().ok())
                .flatten()
                .filter(|y| (1970..=9998).contains(y))
        };
        if let Some((y, q)) = t.split_once("-Q").or_else(|| t.split_once("-q")) {
            let q: u32 = match q {
                "1" => 1,
                "2" => 2,
                "3" => 3,
                "4" => 4,
                _ => return None,
            };
            let start = NaiveDate::from_ymd_opt(year(y)?, (q - 1) * 3 + 1, 1)?;
            return Some(Period {
                start,
                end: start.checked_add_months(Months::new(3))?,
            });
        }
        if let Some((y, m)) = t.split_once('-') {
            if m.len() != 2 {
                return None;
            }
            let start = NaiveDate::from_ymd_opt(year(y)?, m.parse().ok()?, 1)?;
            return Some(Period {
                start,
                end: start.checked_add_months(Months::new(1))?,
            });
        }
        let start = NaiveDate::from_ymd_opt(year(t)?, 1, 1)?;
        Some(Period {
            start,
            end: start.checked_add_months(Months::new(12))?,
        })
    }

    pub fn start_instant(&self) -> DateTime<Utc> {
        day_start(self.start)
    }

    pub fn end_instant(&self) -> DateTime<Utc> {
        day_start(self.end)
    }

    /// The bucket ranges (inclusive) that exactly cover `[start, end)`: whole years from the year
    /// buckets, whole months from the month buckets, the rest from the day buckets.
    pub fn bucket_ranges(&self) -> Vec<(Grain, i32, i32)> {
        let mut out = Vec::new();
        if self.end <= self.start {
            return out;
        }
        let month_in = |d: NaiveDate| {
            if d.day() == 1 {
                d
            } else {
                first_of_next_month(d)
            }
        };
        let month_out = |d: NaiveDate| NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d);
        let (m0, m1) = (month_in(self.start), month_out(self.end));
        if m0 >= m1 {
            out.push((
                Grain::Day,
                day_bucket(self.start),
                day_bucket(prev(self.end)),
            ));
            return out;
        }
        if self.start < m0 {
            out.push((Grain::Day, day_bucket(self.start), day_bucket(prev(m0))));
        }
        let year_in = |d: NaiveDate| {
            if d.month() == 1 {
                d
            } else {
                NaiveDate::from_ymd_opt(d.year() + 1, 1, 1).unwrap_or(d)
            }
        };
        let year_out = |d: NaiveDate| NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d);
        let (y0, y1) = (year_in(m0), year_out(m1));
        if y0 < y1 {
            if m0 < y0 {
                out.push((Grain::Month, month_bucket(m0), month_bucket(prev(y0))));
            }
            out.push((Grain::Year, y0.year(), y1.year() - 1));
            if y1 < m1 {
                out.push((Grain::Month, month_bucket(y1), month_bucket(prev(m1))));
            }
        } else {
            out.push((Grain::Month, month_bucket(m0), month_bucket(prev(m1))));
        }
        if m1 < self.end {
            out.push((Grain::Day, day_bucket(m1), day_bucket(prev(self.end))));
        }
        out
    }
}

fn first_of_next_month(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1)
        .and_then(|m| m.checked_add_months(Months::new(1)))
        .unwrap_or(d)
}

fn prev(d: NaiveDate) -> NaiveDate {
    d.pred_opt().unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn a_packed_row_stands_for_twelve_facts() {
        let counts = Counts {
            closed: -1,
            ..Counts::default()
        };
        let row = PackedDelta {
            day: 20261205,
            keys: [2, 17, 5, 0],
            counts,
        };
        let facts: Vec<_> = row.facts().collect();
        assert_eq!(facts.len(), 12);
        assert!(facts.iter().all(|(_, c)| *c == counts));
        let keys: std::collections::BTreeSet<_> = facts.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys.len(), 12);
        for (grain, bucket) in [
            (Grain::Day, 20261205),
            (Grain::Month, 202612),
            (Grain::Year, 2026),
        ] {
            for (dim, key) in [
                (Dim::Level, 2),
                (Dim::Unit, 17),
                (Dim::Community, 5),
                (Dim::Category, 0),
            ] {
                let k = FactKey {
                    grain,
                    dim,
                    bucket,
                    key,
                };
                assert!(keys.contains(&k), "{k:?}");
            }
        }
    }

    #[test]
    fn periods_parse() {
        assert_eq!(
            Period::parse("2026-10"),
            Some(Period {
                start: d(2026, 10, 1),
                end: d(2026, 11, 1)
            })
        );
        assert_eq!(
            Period::parse("2026-10-05"),
            Some(Period {
                start: d(2026, 10, 5),
                end: d(2026, 10, 6)
            })
        );
        assert_eq!(
            Period::parse("2026-Q4"),
            Some(Period {
                start: d(2026, 10, 1),
                end: d(2027, 1, 1)
            })
        );
        assert_eq!(
            Period::parse("2026"),
            Some(Period {
                start: d(2026, 1, 1),
                end: d(2027, 1, 1)
            })
        );
        assert_eq!(
            Period::parse("2026-10-01..2026-10-15"),
            Some(Period {
                start: d(2026, 10, 1),
                end: d(2026, 10, 16)
            })
        );
        for bad in [
            "",
            "2026-13",
            "2026-Q5",
            "26",
            "2026-10-32",
            "2026-10-15..2026-10-01",
            "last month",
            "2026-1",
            "2026-10-01..",
            "abcd",
        ] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn bucket_ranges_cover_a_period_exactly() {
        let p = |s| Period::parse(s).unwrap_or_else(|| panic!("{s}"));
        assert_eq!(
            p("2026-10").bucket_ranges(),
            vec![(Grain::Month, 202610, 202610)]
        );
        assert_eq!(p("2026").bucket_ranges(), vec![(Grain::Year, 2026, 2026)]);
        assert_eq!(
            p("2016-11-24..2026-11-23").bucket_ranges(),
            vec![
                (Grain::Day, 20161124, 20161130),
                (Grain::Month, 201612, 201612),
                (Grain::Year, 2017, 2025),
                (Grain::Month, 202601, 202610),
                (Grain::Day, 20261101, 20261123)
            ]
        );
        assert_eq!(
            p("2025-03-01..2026-02-28").bucket_ranges(),
            vec![(Grain::Month, 202503, 202602)]
        );
        assert_eq!(
            p("2026-10-05..2026-12-10").bucket_ranges(),
            vec![
                (Grain::Day, 20261005, 20261031),
                (Grain::Month, 202611, 202611),
                (Grain::Day, 20261201, 20261210)
            ]
        );
        assert_eq!(
            p("2026-10-05..2026-10-20").bucket_ranges(),
            vec![(Grain::Day, 20261005, 20261020)]
        );
        assert_eq!(
            p("2026-10-05..2026-11-30").bucket_ranges(),
            vec![
                (Grain::Day, 20261005, 20261031),
                (Grain::Month, 202611, 202611)
            ]
        );
    }

    #[test]
    fn rates_follow_the_workflow_formulas_and_show_a_dash_without_a_denominator() {
        let c = Counts {
            respond_due: 10,
            responded_on_time: 9,
            rated: 8,
            rated_resolved: 6,
            satisfied: 5,
            basically_satisfied: 2,
            closed: 4,
            closed_on_time: 3,
            closed_reworked: 1,
        };
        let r = c.rates(&Weights::default());
        let close = |a: Option<f64>, b: f64| assert!((a.unwrap_or(-1.0) - b).abs() < 1e-12);
        close(r.response_rate, 0.9);
        close(r.resolution_rate, 0.75);
        close(r.satisfaction_rate, (5.0 + 1.8) / 8.0);
        close(r.on_time_rate, 0.75);
        close(r.rework_rate, 0.25);
        close(r.composite, 0.1 * 0.9 + 0.5 * 0.75 + 0.4 * (6.8 / 8.0));
        let none = Counts::default().rates(&Weights::default());
        assert_eq!(none, Rates::default());
        assert_eq!(show_rate(none.response_rate), "—");
        assert_eq!(show_rate(Some(0.875)), "87.5%");
        // Only ratings: no response denominator, so no composite either.
        let rated_only = Counts {
            rated: 2,
            rated_resolved: 2,
            satisfied: 2,
            ..Counts::default()
        }
        .rates(&Weights::default());
        assert_eq!(rated_only.response_rate, None);
        assert_eq!(rated_only.resolution_rate, Some(1.0));
        assert_eq!(rated_only.composite, None);
        assert_eq!(rated_only.on_time_rate, None);
    }
}
