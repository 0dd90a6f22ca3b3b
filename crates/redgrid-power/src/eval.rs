//! Measures the detectors against a synthetic city's labels.
//!
//! - vacancy: days, over every dwelling and every analysed day: a day is predicted vacant when it
//!   lies in a detected spell, truly vacant when it lies in a `vacant` label;
//! - group rental: dwellings flagged against dwellings labelled `group_rental`;
//! - routine: each labelled break (`no_morning`, `flat_line`, `night_unrest`) is found when its
//!   household has an alert that day; consecutive alert days of one household are one alert
//!   (one request for the grid), and an alert that meets no break is false;
//! - resumption: each labelled `resumed` day against the first day after the shutdown that the
//!   index reaches the threshold, and the index recomputed independently from the stored rows.

use crate::detect::{Analysis, DetectorKind};
use crate::meters::Registry;
use crate::{Day, Result, day_of, err};
use std::collections::{BTreeMap, BTreeSet, HashSet};

#[derive(Clone, Debug, Default)]
pub struct Labels {
    pub by_kind: BTreeMap<String, Vec<(u32, Day, Day)>>,
}

impl Labels {
    pub fn parse(text: &str, registry: &Registry) -> Result<Labels> {
        let mut out = Labels::default();
        for (i, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let c: Vec<&str> = line.split(',').collect();
            if c.len() != 4 {
                return err(format!(
                    "labels line {}: expected meter,label,from,to",
                    i + 1
                ));
            }
            let Some(m) = registry.index_of(c[0]) else {
                return err(format!("labels line {}: unknown meter {}", i + 1, c[0]));
            };
            let date = |s: &str| {
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(day_of)
                    .map_err(|_| crate::PowerError(format!("labels line {}: bad date {s}", i + 1)))
            };
            out.by_kind
                .entry(c[1].to_string())
                .or_default()
                .push((m, date(c[2])?, date(c[3])?));
        }
        Ok(out)
    }

    fn get(&self, k: &str) -> &[(u32, Day, Day)] {
        self.by_kind.get(k).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counts {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    pub vacancy_days: Counts,
    pub faults: Counts,
    pub group_rental: Counts,
    /// Best precision at recall ≥ 0.7 along the ranking, and the rank it is reached at.
    pub group_rental_ranked: Option<(f64, f64, usize)>,
    pub routine_breaks: Counts,
    pub routine_households: usize,
    pub routine_days: u64,
    pub routine_false_per_90_days: f64,
    /// Per break kind: (found, labelled); per reason: alerts that met no break.
    pub routine_by_kind: BTreeMap<String, (u64, u64)>,
    pub routine_false_by_reason: BTreeMap<String, u64>,
    pub resumption_exact: (u64, u64),
    pub resumption_index_max_error: f64,
}

/// Compares an analysis with the labels. `index_check` is the resumption index recomputed
/// independently: (meter, day) → (use, baseline).
pub fn evaluate(
    a: &Analysis,
    labels: &Labels,
    registry: &Registry,
    index_check: &BTreeMap<(u32, Day), (f64, f64)>,
) -> Evaluation {
    let mut e = Evaluation::default();
    let (Some(first), Some(last)) = (a.first_day, a.last_day) else {
        return e;
    };
    let clip = |f: Day, t: Day| (f.max(first), t.min(last));
    // Vacancy, day level.
    let mut truth: HashSet<(u32, Day)> = HashSet::new();
    for &(m, f, t) in labels.get("vacant") {
        let (f, t) = clip(f, t);
        truth.extend((f..=t).map(|d| (m, d)));
    }
    let mut predicted: HashSet<(u32, Day)> = HashSet::new();
    for s in &a.vacancy {
        predicted.extend((s.from..=s.to).map(|d| (s.meter, d)));
    }
    e.vacancy_days.tp = predicted.intersection(&truth).count() as u64;
    e.vacancy_days.fp = predicted.len() as u64 - e.vacancy_days.tp;
    e.vacancy_days.fn_ = truth.len() as u64 - e.vacancy_days.tp;
    // Faults, by meter.
    let fault_truth: BTreeSet<u32> = labels
        .get("dead")
        .iter()
        .chain(labels.get("removed"))
        .map(|x| x.0)
        .collect();
    let fault_pred: BTreeSet<u32> = a.faults.iter().map(|s| s.meter).collect();
    e.faults = counts(&fault_pred, &fault_truth);
    // Group rental, by dwelling.
    let gr_truth: BTreeSet<u32> = labels.get("group_rental").iter().map(|x| x.0).collect();
    let gr_pred: BTreeSet<u32> = a
        .group_rental
        .iter()
        .filter(|g| g.flagged)
        .map(|g| g.meter)
        .collect();
    e.group_rental = counts(&gr_pred, &gr_truth);
    let mut tp = 0u64;
    let mut best: Option<(f64, f64, usize)> = None;
    for (k, g) in a.group_rental.iter().enumerate() {
        tp += gr_truth.contains(&g.meter) as u64;
        let p = tp as f64 / (k + 1) as f64;
        let r = ratio(tp, gr_truth.len() as u64);
        if r >= 0.7 && best.is_none_or(|b| p > b.0) {
            best = Some((p, r, k + 1));
        }
    }
    e.group_rental_ranked = best;
    // Routine breaks: events found, and false alert episodes.
    let mut events: BTreeSet<(u32, Day)> = BTreeSet::new();
    for k in ["no_morning", "flat_line", "night_unrest"] {
        for &(m, f, _) in labels.get(k) {
            if f >= first && f <= last {
                events.insert((m, f));
            }
        }
    }
    let alerts: BTreeSet<(u32, Day)> = a
        .alerts
        .iter()
        .filter(|x| x.detector == DetectorKind::Routine)
        .map(|x| (x.meter, x.day))
        .collect();
    for k in ["no_morning", "flat_line", "night_unrest"] {
        let mut c = (0, 0);
        for &(m, f, _) in labels.get(k) {
            if f >= first && f <= last {
                c.1 += 1;
                c.0 += alerts.contains(&(m, f)) as u64;
            }
        }
        e.routine_by_kind.insert(k.to_string(), c);
    }
    for x in a
        .alerts
        .iter()
        .filter(|x| x.detector == DetectorKind::Routine)
    {
        if !events.contains(&(x.meter, x.day)) {
            for r in &x.reasons {
                *e.routine_false_by_reason.entry(r.to_string()).or_default() += 1;
            }
        }
    }
    e.routine_breaks.tp = events.iter().filter(|ev| alerts.contains(ev)).count() as u64;
    e.routine_breaks.fn_ = events.len() as u64 - e.routine_breaks.tp;
    let mut false_episodes = 0u64;
    let mut prev: Option<(u32, Day, bool)> = None;
    for &(m, d) in &alerts {
        let hit = events.contains(&(m, d));
        match prev {
            Some((pm, pd, phit)) if pm == m && pd + 1 == d => prev = Some((m, d, phit || hit)),
            _ => {
                if let Some((_, _, false)) = prev {
                    false_episodes += 1;
                }
                prev = Some((m, d, hit));
            }
        }
    }
    if let Some((_, _, false)) = prev {
        false_episodes += 1;
    }
    e.routine_breaks.fp = false_episodes;
    e.routine_households = registry
        .meters()
        .iter()
        .filter(|m| m.routine_watch())
        .count();
    e.routine_days = (last - first + 1) as u64;
    let household_days = e.routine_households as f64 * e.routine_days as f64;
    e.routine_false_per_90_days = if household_days > 0.0 {
        false_episodes as f64 * 90.0 / household_days
    } else {
        0.0
    };
    // Resumption: the labelled day against the index's, and the index against a recount.
    for &(m, d, _) in labels.get("resumed") {
        let shutdown = labels
            .get("shutdown")
            .iter()
            .find(|x| x.0 == m)
            .map(|x| x.1);
        let found = a
            .resumption
            .resumed_on
            .get(&m)
            .and_then(|v| v.iter().find(|&&x| shutdown.is_none_or(|s| x > s)).copied());
        e.resumption_exact.1 += 1;
        e.resumption_exact.0 += (found == Some(d)) as u64;
    }
    let mut max_err = 0.0f64;
    for &(m, d, u, b) in &a.resumption.daily {
        if let Some(&(cu, cb)) = index_check.get(&(m, d)) {
            let idx = if b > 0.0 { u / b } else { 0.0 };
            let cidx = if cb > 0.0 { cu / cb } else { 0.0 };
            max_err = max_err.max((idx - cidx).abs());
        } else {
            max_err = f64::INFINITY;
        }
    }
    if index_check.len() != a.resumption.daily.len() {
        max_err = f64::INFINITY;
    }
    e.resumption_index_max_error = max_err;
    e
}

fn counts(pred: &BTreeSet<u32>, truth: &BTreeSet<u32>) -> Counts {
    let tp = pred.intersection(truth).count() as u64;
    Counts {
        tp,
        fp: pred.len() as u64 - tp,
        fn_: truth.len() as u64 - tp,
    }
}

/// The resumption index recomputed the plain way: each enterprise's stored rows summed in f64,
/// the baseline average over its baseline days, every later day divided by it.
pub fn recount_index(
    store: &crate::format::PowerStore,
    district: &str,
    registry: &Registry,
) -> Result<BTreeMap<(u32, Day), (f64, f64)>> {
    let mut totals: BTreeMap<u32, BTreeMap<Day, f64>> = BTreeMap::new();
    let mut buf = Vec::new();
    for month in store.months(district) {
        for seg in store.segments(district, month)? {
            for (i, m) in registry.meters().iter().enumerate() {
                if m.kind != crate::MeterKind::Enterprise || m.baseline.is_none() {
                    continue;
                }
                let rr = seg.rows_of_meters(i as u32, i as u32 + 1);
                if rr.is_empty() {
                    continue;
                }
                seg.read_values(rr.clone(), &mut buf)?;
                for (k, row) in rr.enumerate() {
                    let unit = crate::format::unit_wh(seg.scales[row]) / 1000.0;
                    let t: f64 = buf[k * seg.slots..(k + 1) * seg.slots]
                        .iter()
                        .filter(|&&v| v != crate::format::MISSING)
                        .map(|&v| v as f64 * unit)
                        .sum();
                    totals.entry(i as u32).or_default().insert(seg.days[row], t);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    for (m, days) in totals {
        let Some((from, to)) = registry.get(m).and_then(|x| x.baseline) else {
            continue;
        };
        let base: Vec<f64> = days.range(from..=to).map(|(_, &v)| v).collect();
        if base.is_empty() {
            continue;
        }
        let avg = base.iter().sum::<f64>() / base.len() as f64;
        for (&d, &v) in days.range(to + 1..) {
            out.insert((m, d), (v, avg));
        }
    }
    Ok(out)
}
