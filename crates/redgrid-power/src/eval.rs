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

/// One household type's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TypeFigures {
    pub households: u64,
    /// Unoccupied days labelled, and found.
    pub unoccupied: u64,
    pub found: u64,
    /// Occupied days (full data, not labelled unoccupied), and those flagged unoccupied.
    pub occupied: u64,
    pub flagged_occupied: u64,
    /// Households under routine watch, and routine episodes that met no break.
    pub watched: u64,
    pub false_episodes: u64,
}

impl TypeFigures {
    pub fn recall(&self) -> f64 {
        ratio(self.found, self.unoccupied)
    }
    pub fn flagged_share(&self) -> f64 {
        ratio(self.flagged_occupied, self.occupied)
    }
}

impl Evaluation {
    /// The share of occupied dwelling-days flagged unoccupied.
    pub fn occupied_flagged_share(&self) -> f64 {
        ratio(self.vacancy_days.fp, self.occupied_days)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    pub vacancy_days: Counts,
    /// Dwelling-days with full data that no label calls unoccupied (the base of the share of
    /// occupied days flagged).
    pub occupied_days: u64,
    /// Per household type (the labels' `type:` rows).
    pub by_type: BTreeMap<String, TypeFigures>,
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
    // Vacancy, day level: unoccupied days (a vacant dwelling, a family away on holiday) found in
    // spells, against the labels; days whose data the head-end filled in are left out of both.
    let mut gap_days: HashSet<(u32, Day)> = HashSet::new();
    for &(m, f, t) in labels.get("gap") {
        let (f, t) = clip(f, t);
        gap_days.extend((f..=t).map(|d| (m, d)));
    }
    let mut truth: HashSet<(u32, Day)> = HashSet::new();
    for &(m, f, t) in labels.get("vacant").iter().chain(labels.get("holiday")) {
        let (f, t) = clip(f, t);
        truth.extend((f..=t).map(|d| (m, d)).filter(|k| !gap_days.contains(k)));
    }
    let mut predicted: HashSet<(u32, Day)> = HashSet::new();
    for s in &a.vacancy {
        predicted.extend(
            (s.from..=s.to)
                .map(|d| (s.meter, d))
                .filter(|k| !gap_days.contains(k)),
        );
    }
    e.vacancy_days.tp = predicted.intersection(&truth).count() as u64;
    e.vacancy_days.fp = predicted.len() as u64 - e.vacancy_days.tp;
    e.vacancy_days.fn_ = truth.len() as u64 - e.vacancy_days.tp;
    // Occupied days: the dwellings' days with full data that no label calls unoccupied.
    let full: u64 = a.dwellings.iter().map(|&(_, f, _)| f as u64).sum();
    e.occupied_days = full.saturating_sub(truth.len() as u64);
    // The same per household type (labels `type:<kind>`).
    for (kind, spans) in labels
        .by_kind
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("type:")?, v)))
    {
        let members: HashSet<u32> = spans.iter().map(|x| x.0).collect();
        let t = e.by_type.entry(kind.to_string()).or_default();
        t.households = members.len() as u64;
        t.unoccupied = truth.iter().filter(|k| members.contains(&k.0)).count() as u64;
        t.found = truth
            .iter()
            .filter(|k| members.contains(&k.0) && predicted.contains(k))
            .count() as u64;
        t.flagged_occupied = predicted
            .iter()
            .filter(|k| members.contains(&k.0) && !truth.contains(k))
            .count() as u64;
        let full: u64 = a
            .dwellings
            .iter()
            .filter(|x| members.contains(&x.0))
            .map(|&(_, f, _)| f as u64)
            .sum();
        t.occupied = full.saturating_sub(t.unoccupied);
    }
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
    // Episodes (one request each): a break is found when an episode of its household covers
    // its day; an episode that covers no break is a false one.
    let episodes: Vec<&crate::detect::Alert> = a
        .alerts
        .iter()
        .filter(|x| x.detector == DetectorKind::Routine)
        .collect();
    let covered = |m: u32, d: Day| {
        episodes
            .iter()
            .any(|x| x.meter == m && x.since <= d && d <= x.day)
    };
    for k in ["no_morning", "flat_line", "night_unrest"] {
        let mut c = (0, 0);
        for &(m, f, _) in labels.get(k) {
            if f >= first && f <= last {
                c.1 += 1;
                c.0 += covered(m, f) as u64;
            }
        }
        e.routine_by_kind.insert(k.to_string(), c);
    }
    e.routine_breaks.tp = events.iter().filter(|&&(m, d)| covered(m, d)).count() as u64;
    e.routine_breaks.fn_ = events.len() as u64 - e.routine_breaks.tp;
    let mut false_episodes = 0u64;
    // Each labelled household's type, looked up once.
    let types: std::collections::HashMap<u32, &str> = labels
        .by_kind
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("type:").map(|t| (t, v)))
        .flat_map(|(t, v)| v.iter().map(move |x| (x.0, t)))
        .collect();
    let type_of = |m: u32| types.get(&m).map(|t| t.to_string());
    for x in &episodes {
        let hit = events
            .range((x.meter, x.since)..=(x.meter, x.day))
            .next()
            .is_some();
        if !hit {
            false_episodes += 1;
            for r in &x.reasons {
                *e.routine_false_by_reason.entry(r.to_string()).or_default() += 1;
            }
            if let Some(t) = type_of(x.meter) {
                e.by_type.entry(t).or_default().false_episodes += 1;
            }
        }
    }
    e.routine_breaks.fp = false_episodes;
    for m in registry
        .meters()
        .iter()
        .enumerate()
        .filter(|(_, m)| m.routine_watch())
    {
        if let Some(t) = type_of(m.0 as u32) {
            e.by_type.entry(t).or_default().watched += 1;
        }
    }
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
