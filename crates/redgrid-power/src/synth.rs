//! A synthetic city with labelled ground truth, for testing, the demo and measuring the detectors.
//!
//! Every meter gets a plan from its own random stream (who lives there, their appliances, spells
//! of vacancy, routine breaks, a meter fault, an enterprise's shutdown), and every meter-day is
//! generated on its own from a stream keyed by (meter, day): the same seed gives the same city,
//! and any part of it can be generated alone. The behaviour models are described in
//! `docs/developers/power-detectors.md`; in short:
//!
//! - every dwelling has a standby load and most a fridge whose compressor cycles whether anyone is
//!   home or not (more in summer); many have an electric water heater that keeps its tank warm;
//! - occupants get up, cook, light the evening, watch television, shower and, in summer and
//!   winter, run air conditioning, with weekday and weekend routines and day-to-day jitter;
//! - an elderly person living alone rises early (a kettle), cooks twice, naps after lunch and
//!   goes to bed early; now and then the routine breaks (stays in bed, a fall that stops all
//!   activity, a restless night), and now and then they are away visiting family (not a break);
//! - a group rental holds six to twelve tenants: out on weekdays, home in the evening and at
//!   weekends, charging e-bikes at night;
//! - vacant dwellings keep their standby, usually the fridge and sometimes the water heater;
//! - a dead meter reports zeros; a removed meter reports nothing;
//! - enterprises follow their sector's hours; most shut down around a shutdown day (Spring
//!   Festival by default) and ramp back up over days.

use crate::format::{Batch, MAX_ROWS, PowerStore, encode_row};
use crate::meters::{ELDERLY_ALONE, Meter, MeterKind, Registry};
use crate::rng::Rng;
use crate::{Day, Result, date_of, day_of, month_of, weekday_of};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Clone, Debug)]
pub struct SynthConfig {
    pub seed: u64,
    pub meters: usize,
    pub days: u32,
    pub start: Day,
    pub interval_minutes: u16,
    /// The district's 6-digit code.
    pub district: String,
    /// Grid codes to place meters in; empty makes a city of its own (5 streets, communities of
    /// about 500 meters, 5 grids each).
    pub grids: Vec<String>,
    /// The day most enterprises shut down around (Spring Festival by default).
    pub shutdown_day: Day,
    pub threads: usize,
}

impl SynthConfig {
    pub fn new(meters: usize, days: u32, start: Day) -> Self {
        let end = start + days as Day;
        // Spring Festival of the years around the period, else the middle of the period.
        let festivals = [
            (2025, 1, 29),
            (2026, 2, 17),
            (2027, 2, 6),
            (2028, 1, 26),
            (2029, 2, 13),
        ];
        let shutdown_day = festivals
            .iter()
            .filter_map(|&(y, m, d)| chrono::NaiveDate::from_ymd_opt(y, m, d).map(day_of))
            .find(|&d| d > start + 35 && d < end - 20)
            .unwrap_or(start + days as Day / 2);
        SynthConfig {
            seed: 20_261_201,
            meters,
            days,
            start,
            interval_minutes: 15,
            district: "120116".into(),
            grids: Vec::new(),
            shutdown_day,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }

    pub fn end(&self) -> Day {
        self.start + self.days as Day
    }

    fn grid_of(&self, index: usize) -> String {
        if !self.grids.is_empty() {
            return self.grids[index % self.grids.len()].clone();
        }
        let community = index / 500;
        let street = community % 5 + 1;
        let grid = (index % 500) / 100 + 1;
        format!(
            "{}{street:03}{:03}{grid:02}",
            self.district,
            community / 5 + 1
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Household {
    Family {
        people: u8,
        workers: bool,
    },
    LargeFamily,
    Elderly,
    /// An elderly person living alone who is out on weekday daytimes (a senior centre, a part-time
    /// job, looking after grandchildren): under watch, with a routine of two kinds and no breaks.
    ActiveElderly,
    GroupRental {
        tenants: u8,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sector {
    Manufacturing,
    Retail,
    Catering,
    Construction,
}

impl Sector {
    pub fn name(self) -> &'static str {
        match self {
            Sector::Manufacturing => "制造业",
            Sector::Retail => "批发零售",
            Sector::Catering => "住宿餐饮",
            Sector::Construction => "建筑业",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Break {
    /// Stays in bed: the first activity comes late, or not at all.
    NoMorning,
    /// A fall: all activity stops at a time of day (quarter-hour).
    FlatLine(u8),
    /// Up in the night.
    NightUnrest,
}

impl Break {
    pub fn label(self) -> &'static str {
        match self {
            Break::NoMorning => "no_morning",
            Break::FlatLine(_) => "flat_line",
            Break::NightUnrest => "night_unrest",
        }
    }
}

/// Everything decided once for a meter.
#[derive(Clone, Debug)]
pub struct Plan {
    pub index: u32,
    pub meter: Meter,
    pub household: Option<Household>,
    pub sector: Option<Sector>,
    standby_w: f64,
    fridge_w: f64,
    /// A second always-on load (a freezer, a wine cooler, network and security devices) that
    /// puts some base loads at 3–6 kWh a day.
    freezer_w: f64,
    heater: bool,
    wake_q: f64,
    sleep_q: f64,
    scale: f64,
    pub vacant: Vec<(Day, Day)>,
    vacant_fridge: bool,
    vacant_heater: bool,
    pub away: Vec<(Day, Day)>,
    /// A family away on holiday (1–4 weeks): unoccupied, the fridge and standby running.
    pub holidays: Vec<(Day, Day)>,
    /// Days the head-end filled in by repeating the day before (the readings are not the day's).
    pub fillers: Vec<Day>,
    pub breaks: Vec<(Day, Break)>,
    pub dead_from: Option<Day>,
    pub removed_from: Option<Day>,
    /// An enterprise's shutdown: first day, first day of the ramp, ramp length; resumes never if
    /// the ramp starts after the period.
    pub shutdown: Option<(Day, Day, u32)>,
    enterprise_kwh: f64,
}

fn in_spells(spells: &[(Day, Day)], d: Day) -> bool {
    spells.iter().any(|&(a, b)| d >= a && d <= b)
}

/// Decides a meter's plan.
pub fn plan(cfg: &SynthConfig, index: usize) -> Plan {
    let mut r = Rng::keyed(cfg.seed, index as u64, u64::MAX);
    let start = cfg.start;
    let end = cfg.end() - 1;
    let days = cfg.days as i64;
    let code = format!("{}{:08}", &cfg.district, index + 1);
    let grid_code = cfg.grid_of(index);
    let mut meter = Meter {
        code,
        kind: MeterKind::Dwelling,
        grid_code,
        address: format!(
            "{}号楼{}单元{}室",
            index / 60 % 40 + 1,
            index / 20 % 3 + 1,
            101 + index % 20
        ),
        facts: Vec::new(),
        consent: None,
        withdrawn: None,
        sector: String::new(),
        baseline: None,
    };
    let mut p = Plan {
        index: index as u32,
        meter: meter.clone(),
        household: None,
        sector: None,
        standby_w: r.range(3.0, 12.0),
        fridge_w: if r.chance(0.9) {
            r.range(25.0, 55.0)
        } else {
            0.0
        },
        freezer_w: if r.chance(0.35) {
            r.range(80.0, 200.0)
        } else {
            0.0
        },
        heater: r.chance(0.6),
        wake_q: 0.0,
        sleep_q: 0.0,
        scale: r.range(0.75, 1.3),
        vacant: Vec::new(),
        vacant_fridge: r.chance(0.7),
        vacant_heater: r.chance(0.12),
        away: Vec::new(),
        holidays: Vec::new(),
        fillers: Vec::new(),
        breaks: Vec::new(),
        dead_from: None,
        removed_from: None,
        shutdown: None,
        enterprise_kwh: 0.0,
    };
    if r.chance(0.03) {
        let sector = match r.f64() {
            x if x < 0.4 => Sector::Manufacturing,
            x if x < 0.65 => Sector::Retail,
            x if x < 0.85 => Sector::Catering,
            _ => Sector::Construction,
        };
        meter.kind = MeterKind::Enterprise;
        meter.sector = sector.name().into();
        meter.address = format!("工业园{}号", index % 300 + 1);
        let base_to = (start + 27).min(end);
        meter.baseline = Some((start, base_to));
        p.sector = Some(sector);
        p.enterprise_kwh = (r.range(200f64.ln(), 5000f64.ln())).exp();
        if r.chance(0.65) {
            let off = cfg.shutdown_day - r.int(1, 6) as Day;
            let ramp = if r.chance(0.06) {
                end + 10
            } else {
                cfg.shutdown_day + r.int(6, 40) as Day
            };
            p.shutdown = Some((
                off.max(start + 28),
                ramp.max(start + 29),
                r.int(2, 9) as u32,
            ));
        }
        p.meter = meter;
        return p;
    }
    let household = match r.f64() {
        x if x < 0.065 => Household::Elderly,
        x if x < 0.08 => Household::ActiveElderly,
        x if x < 0.10 => Household::GroupRental {
            tenants: r.int(6, 13) as u8,
        },
        x if x < 0.13 => Household::LargeFamily,
        _ => Household::Family {
            people: r.int(1, 5) as u8,
            workers: r.chance(0.7),
        },
    };
    p.household = Some(household);
    match household {
        Household::Elderly | Household::ActiveElderly => {
            p.wake_q = r.range(22.0, 26.5);
            p.sleep_q = r.range(84.0, 88.0);
            meter.facts.push(ELDERLY_ALONE.into());
            if r.chance(0.9) {
                meter.consent = Some(date_of(start - r.int(10, 400) as Day));
            }
        }
        Household::GroupRental { .. } => {
            p.wake_q = 27.0;
            p.sleep_q = 96.0;
        }
        _ => {
            p.wake_q = r.range(24.0, 28.0);
            p.sleep_q = r.range(88.0, 95.0);
        }
    }
    let elderly = matches!(household, Household::Elderly | Household::ActiveElderly);
    // Vacancy: empty all period, or one spell of a week to four months.
    if !elderly {
        if r.chance(0.04) {
            p.vacant.push((start, end));
        } else if r.chance(0.08) {
            let len = r.int(7, 121.min(days)) as Day;
            let a = start + r.int(0, (days - len as i64).max(1)) as Day;
            p.vacant.push((a, (a + len - 1).min(end)));
        }
    }
    // Elderly: routine breaks about every 45 days, and a visit away about every 180 days.
    if household == Household::Elderly {
        let mut d = start + 14 + r.int(0, 30) as Day;
        while d < end {
            let b = match r.f64() {
                x if x < 0.4 => Break::NoMorning,
                x if x < 0.75 => Break::FlatLine(r.int(32, 64) as u8),
                _ => Break::NightUnrest,
            };
            p.breaks.push((d, b));
            d += r.int(20, 70) as Day;
        }
        let mut d = start + r.int(10, 180) as Day;
        while d < end {
            let len = r.int(1, 4) as Day;
            if !p.breaks.iter().any(|&(b, _)| b >= d - 1 && b <= d + len) {
                p.away.push((d, d + len - 1));
            }
            d += r.int(120, 240) as Day;
        }
    }
    // Families go away on holiday for one to four weeks, about once in half a year.
    if !elderly && p.vacant.first() != Some(&(start, end)) {
        let mut d = start + r.int(0, 150) as Day;
        while d < end {
            let len = r.int(8, 29) as Day;
            if !p
                .vacant
                .iter()
                .any(|&(a, b)| d <= b + 2 && d + len >= a - 2)
            {
                p.holidays.push((d, (d + len - 1).min(end)));
            }
            d += len + r.int(120, 240) as Day;
        }
    }
    // The head-end now and then fills a missing day with the day before's readings.
    if r.chance(0.1) {
        for _ in 0..r.int(1, 4) {
            p.fillers
                .push(start + 1 + r.int(0, (days - 1).max(1)) as Day);
        }
        p.fillers.sort_unstable();
        p.fillers.dedup();
    }
    // Meter faults.
    if r.chance(0.004) {
        p.dead_from = Some(start + r.int(0, days) as Day);
    } else if r.chance(0.003) {
        p.removed_from = Some(start + r.int(0, days) as Day);
    }
    p.meter = meter;
    p
}

/// Adds `watts` for quarter-hours `[from, to)` (fractional) into `wh`.
fn load(wh: &mut [f64; 96], from: f64, to: f64, watts: f64) {
    let a = from.max(0.0);
    let b = to.min(96.0);
    if b <= a {
        return;
    }
    let mut q = a.floor() as usize;
    while (q as f64) < b && q < 96 {
        let lo = a.max(q as f64);
        let hi = b.min(q as f64 + 1.0);
        wh[q] += watts * 0.25 * (hi - lo);
        q += 1;
    }
}

/// The season, changing gradually over the year: (cooling, heating), each 0–1, cooling
/// highest in late July, heating highest in mid-January (at half the strength).
fn climate(day: Day) -> (f64, f64) {
    use chrono::Datelike;
    let doy = date_of(day).ordinal() as f64;
    let s = (2.0 * std::f64::consts::PI * (doy - 205.0) / 365.25).cos();
    let cool = ((s - 0.3) / 0.7).max(0.0).powf(1.2);
    let heat = ((-s - 0.3) / 0.7).max(0.0).powf(1.2) * 0.5;
    (cool, heat)
}

/// Generates one meter-day in Wh per quarter-hour; false when the meter reports nothing.
pub fn day_wh(cfg: &SynthConfig, p: &Plan, day: Day, wh: &mut [f64; 96]) -> bool {
    wh.fill(0.0);
    // A day the head-end filled in carries the day before's readings, exactly.
    if p.fillers.binary_search(&day).is_ok() && day > cfg.start {
        return day_wh(cfg, p, day - 1, wh);
    }
    if p.removed_from.is_some_and(|d| day >= d) {
        return false;
    }
    if p.dead_from.is_some_and(|d| day >= d) {
        return true;
    }
    let mut r = Rng::keyed(cfg.seed, p.index as u64, day as u64);
    if let Some(sector) = p.sector {
        enterprise_day(p, sector, day, &mut r, wh);
        return true;
    }
    let (cool, warm) = climate(day);
    let heat = cool + warm;
    let vacant = in_spells(&p.vacant, day);
    let away = in_spells(&p.away, day) || in_spells(&p.holidays, day);
    let standby = p.standby_w;
    let fridge = p.fridge_w * (1.0 + 0.35 * cool);
    let fridge_on = p.fridge_w > 0.0 && (!vacant || p.vacant_fridge);
    let phase = r.range(0.0, 4.0);
    for (q, v) in wh.iter_mut().enumerate() {
        *v = standby * 0.25;
        if fridge_on {
            // A compressor cycle of about an hour: on a bit under half the time.
            let c = ((q as f64 + phase) * std::f64::consts::FRAC_PI_2).sin();
            *v += fridge * 0.25 * (1.0 + 0.8 * c) * (0.9 + 0.2 * r.f64());
        }
        if p.freezer_w > 0.0 {
            // A freezer's slower cycle, with other always-on devices.
            let c = ((q as f64 + 2.0 * phase) * 0.9).sin();
            *v +=
                p.freezer_w * (1.0 + 0.2 * cool) * 0.25 * (1.0 + 0.6 * c) * (0.92 + 0.16 * r.f64());
        }
    }
    let keep_warm = p.heater && (!vacant && !away || p.vacant_heater);
    if keep_warm {
        // The tank's standing loss: a short heat every three hours.
        let off = r.range(0.0, 12.0);
        let mut t = off;
        while t < 96.0 {
            load(wh, t, t + 0.5, 2000.0);
            t += 12.0;
        }
    }
    if vacant || away {
        return true;
    }
    let Some(h) = p.household else { return true };
    let weekday = weekday_of(day);
    let weekend = weekday >= 5;
    let jitter = |r: &mut Rng, sd: f64| r.normal() * sd;
    let scale = p.scale;
    match h {
        Household::Elderly | Household::ActiveElderly => {
            let brk = p.breaks.iter().find(|&&(d, _)| d == day).map(|&(_, b)| b);
            let mut wake = p.wake_q + jitter(&mut r, 0.6);
            let mut stop = 96.0;
            match brk {
                Some(Break::NoMorning) => {
                    if r.chance(0.3) {
                        return true;
                    }
                    wake = r.range(44.0, 52.0);
                }
                Some(Break::FlatLine(at)) => stop = at as f64 + r.f64(),
                Some(Break::NightUnrest) => {
                    let a = r.range(4.0, 8.0);
                    load(wh, a, a + r.range(8.0, 14.0), 450.0);
                }
                None => {}
            }
            let sleep = p.sleep_q + jitter(&mut r, 1.0);
            // Out from about nine to four on weekdays: nothing but the base load meanwhile.
            let out = (h == Household::ActiveElderly && !weekend)
                .then(|| (36.0 + jitter(&mut r, 1.0), 64.0 + jitter(&mut r, 2.0)));
            let clip = |wh: &mut [f64; 96], a: f64, b: f64, w: f64| {
                let b = b.min(stop);
                match out {
                    Some((o, back)) => {
                        load(wh, a, b.min(o), w);
                        load(wh, a.max(back), b, w);
                    }
                    None => load(wh, a, b, w),
                }
            };
            // Kettle on rising, breakfast, television through the day, lunch, a nap, dinner.
            clip(wh, wake, wake + 0.4, 1800.0);
            clip(wh, wake + 1.0, wake + 2.2, 700.0 * scale);
            clip(wh, wake, sleep, 70.0 * scale);
            let market = r.chance(0.5);
            let lunch = 46.0 + jitter(&mut r, 1.0);
            for (a, b) in [
                (wake + 2.5, 40.0),
                (lunch + 2.5, 52.0),
                (58.0, 70.0),
                (74.0, sleep),
            ] {
                if market && a < 44.0 && b > 40.0 {
                    clip(wh, a, 40.0, 110.0 * scale);
                    clip(wh, 44.0, b, 110.0 * scale);
                } else {
                    clip(wh, a, b, 110.0 * scale);
                }
            }
            clip(wh, lunch, lunch + 2.0, 900.0 * scale);
            // Rice on at about half past four, dinner at five.
            let dinner = 68.0 + jitter(&mut r, 1.0);
            clip(wh, dinner - 2.0, dinner - 0.5, 600.0 * scale);
            clip(wh, dinner, dinner + 2.0, 900.0 * scale);
            clip(wh, 68.0, sleep, 60.0);
            if r.chance(0.25) {
                let t = r.range(72.0, 84.0);
                clip(wh, t, t + 2.0, 1500.0);
            }
        }
        Household::GroupRental { tenants } => {
            for _ in 0..tenants {
                let wake = 26.0 + jitter(&mut r, 2.0);
                let home = if weekend {
                    wake + 4.0
                } else {
                    74.0 + jitter(&mut r, 4.0)
                };
                let bed = 94.0 + jitter(&mut r, 3.0);
                load(wh, wake, wake + 2.0, 150.0);
                if weekend {
                    load(wh, wake + 2.0, bed, 160.0 * scale);
                } else {
                    load(wh, home, bed, 260.0 * scale);
                }
                if r.chance(0.6) {
                    let s = home + r.range(2.0, 12.0);
                    load(wh, s, s + 1.5, 2000.0);
                }
                if r.chance(0.5) {
                    // An e-bike battery charged overnight.
                    load(wh, bed - 96.0, bed - 96.0 + 20.0, 180.0);
                    load(wh, bed, 96.0, 180.0);
                }
            }
            load(wh, 0.0, 24.0, 40.0 * tenants as f64);
            load(wh, 72.0, 80.0, 1500.0);
            if heat > 0.05 {
                load(wh, 80.0, 96.0, 900.0 * heat * tenants as f64 / 3.0);
            }
        }
        Household::Family { .. } | Household::LargeFamily => {
            let people = match h {
                Household::Family { people, .. } => people.max(1),
                _ => 6,
            };
            let out_all_day = matches!(h, Household::Family { workers: true, .. }) && !weekend;
            let wake = p.wake_q + if weekend { 4.0 } else { 0.0 } + jitter(&mut r, 1.5);
            let sleep = p.sleep_q + jitter(&mut r, 2.0);
            let each = scale * (0.6 + 0.4 * people as f64);
            load(wh, wake, wake + 3.0, 180.0 * each);
            if r.chance(0.7) {
                load(wh, wake + 1.0, wake + 2.0, 1200.0);
            }
            if out_all_day {
                load(wh, wake + 3.0, 34.0, 120.0 * each);
            } else {
                load(wh, wake + 3.0, 72.0, 150.0 * each);
                if r.chance(0.6) {
                    load(wh, 46.0, 48.0, 1300.0);
                }
            }
            let home = if out_all_day {
                72.0 + jitter(&mut r, 3.0)
            } else {
                72.0
            };
            load(wh, home, sleep, 320.0 * each);
            let dinner = 74.0 + jitter(&mut r, 2.0);
            load(wh, dinner, dinner + 2.5, 1500.0);
            if p.heater && r.chance(0.75) {
                let s = 84.0 + jitter(&mut r, 4.0);
                load(wh, s, s + 2.0 + people as f64 * 0.5, 2000.0);
            }
            if heat > 0.05 {
                let hours = if out_all_day {
                    (72.0, sleep)
                } else {
                    (40.0, sleep)
                };
                load(wh, hours.0, hours.1, 1000.0 * heat * (0.5 + r.f64()));
                if cool > 0.6 {
                    load(wh, 0.0, 24.0, 600.0 * cool * (0.5 + r.f64()));
                }
            }
            // Friday and Saturday nights run late: lights and screens past midnight.
            if matches!(weekday, 5 | 6) && r.chance(0.6) {
                load(wh, 0.0, r.range(2.0, 9.0), 200.0 * each);
            }
            if !out_all_day && r.chance(0.3) {
                let t = r.range(40.0, 68.0);
                load(wh, t, t + 3.0, 800.0);
            }
        }
    }
    for v in wh.iter_mut() {
        *v *= 0.93 + 0.14 * r.f64();
    }
    true
}

/// Sector hours as (start, end) in quarter-hours for a weekday, and the weekend share.
fn sector_hours(s: Sector) -> (&'static [(f64, f64)], f64) {
    match s {
        Sector::Manufacturing => (&[(32.0, 96.0)], 0.6),
        Sector::Retail => (&[(36.0, 84.0)], 1.1),
        Sector::Catering => (&[(40.0, 56.0), (68.0, 88.0)], 1.2),
        Sector::Construction => (&[(28.0, 72.0)], 0.3),
    }
}

fn enterprise_day(p: &Plan, sector: Sector, day: Day, r: &mut Rng, wh: &mut [f64; 96]) {
    let daily = p.enterprise_kwh * 1000.0;
    let (hours, weekend_share) = sector_hours(sector);
    let span: f64 = hours.iter().map(|(a, b)| b - a).sum();
    let weekend = weekday_of(day) >= 5;
    let mut level = if weekend { weekend_share } else { 1.0 };
    if let Some((off, ramp, ramp_days)) = p.shutdown {
        if day >= off && day < ramp {
            level = 0.0;
        } else if day >= ramp && day < ramp + ramp_days as Day {
            let k = (day - ramp + 1) as f64 / (ramp_days + 1) as f64;
            level *= 0.15 + 0.85 * k;
        }
    }
    level *= 0.9 + 0.2 * r.f64();
    // A constant share (security lights, servers, refrigeration) and the working hours.
    let standing = daily * 0.06 / 96.0;
    for v in wh.iter_mut() {
        *v = standing * (0.95 + 0.1 * r.f64());
    }
    for &(a, b) in hours {
        load(wh, a, b, daily * 0.94 * level / span * 4.0);
    }
}

/// One line of ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub meter: String,
    pub label: &'static str,
    pub from: Day,
    pub to: Day,
}

pub const LABELS_HEADER: &str = "meter,label,from,to";

/// The label naming a household's type (`type:<name>`).
fn type_label(h: Household) -> &'static str {
    match h {
        Household::Family { workers: true, .. } => "type:family_out_on_weekdays",
        Household::Family { workers: false, .. } => "type:family_at_home",
        Household::LargeFamily => "type:large_family",
        Household::Elderly => "type:elderly_alone",
        Household::ActiveElderly => "type:elderly_alone_out_on_weekdays",
        Household::GroupRental { .. } => "type:group_rental",
    }
}

/// The plan's ground truth. Enterprise resumption is found from the generated readings exactly
/// as the index is defined: the first day after the shutdown whose use reaches 30 % of the
/// baseline's daily average (the readings as stored, to the watt-hour).
pub fn labels(cfg: &SynthConfig, p: &Plan) -> Vec<Label> {
    let mut out = Vec::new();
    let code = &p.meter.code;
    let end = cfg.end() - 1;
    let mut push = |label, from: Day, to: Day| {
        if to >= cfg.start && from <= end {
            out.push(Label {
                meter: code.clone(),
                label,
                from: from.max(cfg.start),
                to: to.min(end),
            })
        }
    };
    for &(a, b) in &p.vacant {
        let b = [p.dead_from, p.removed_from]
            .iter()
            .flatten()
            .fold(b, |b, &d| b.min(d - 1));
        if b >= a {
            push("vacant", a, b);
        }
    }
    if let Some(d) = p.dead_from {
        push("dead", d, end);
    }
    if let Some(d) = p.removed_from {
        push("removed", d, end);
    }
    if let Some(Household::GroupRental { .. }) = p.household {
        push("group_rental", cfg.start, end);
    }
    if let Some(h) = p.household {
        push(type_label(h), cfg.start, end);
    }
    for &(a, b) in &p.holidays {
        let b = [p.dead_from, p.removed_from]
            .iter()
            .flatten()
            .fold(b, |b, &d| b.min(d - 1));
        if b >= a {
            push("holiday", a, b);
        }
    }
    for &d in &p.fillers {
        push("gap", d, d);
    }
    if p.meter.routine_watch() {
        for &(d, b) in &p.breaks {
            if p.dead_from.is_none_or(|x| d < x) && p.removed_from.is_none_or(|x| d < x) {
                push(b.label(), d, d);
            }
        }
        for &(a, b) in &p.away {
            push("away", a, b);
        }
    }
    if let Some((off, _, _)) = p.shutdown {
        push("shutdown", off, off);
        if let Some(d) = resumption_day(cfg, p) {
            push("resumed", d, d);
        }
    }
    out
}

/// A day's total as stored: each slot of the interval rounded as the segment keeps it.
pub fn stored_total_wh(cfg: &SynthConfig, p: &Plan, day: Day) -> Option<f64> {
    let mut wh = [0.0f64; 96];
    if !day_wh(cfg, p, day, &mut wh) {
        return None;
    }
    let per = (cfg.interval_minutes / 15).max(1) as usize;
    let row: Vec<f64> = wh.chunks(per).map(|c| c.iter().sum()).collect();
    let mut q = vec![0u16; row.len()];
    let (scale, _) = encode_row(&row, &mut q);
    let unit = crate::format::unit_wh(scale);
    Some(q.iter().map(|&v| v as f64 * unit).sum())
}

fn resumption_day(cfg: &SynthConfig, p: &Plan) -> Option<Day> {
    let (from, to) = p.meter.baseline?;
    let (off, _, _) = p.shutdown?;
    let base: Vec<f64> = (from..=to)
        .filter_map(|d| stored_total_wh(cfg, p, d))
        .collect();
    if base.is_empty() {
        return None;
    }
    let avg = base.iter().sum::<f64>() / base.len() as f64;
    (off..cfg.end())
        .find(|&d| d > off && stored_total_wh(cfg, p, d).is_some_and(|t| t >= 0.3 * avg))
}

#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub meters: usize,
    pub rows: u64,
    pub readings: u64,
    pub segments: usize,
}

/// Writes the city: the register into the district's folder, the readings into the store as one
/// batch, and returns the plans (for labels). `progress` is called with the rows written.
pub fn write_store(
    cfg: &SynthConfig,
    store: &PowerStore,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(Summary, Vec<Plan>)> {
    let plans: Vec<Plan> = (0..cfg.meters).map(|i| plan(cfg, i)).collect();
    let mut registry = Registry::load(&store.registry_path(&cfg.district))?;
    for p in &plans {
        let i = registry.upsert(p.meter.clone());
        if i != p.index {
            return crate::err(format!(
                "the district's register already holds other meters (meter {} would be number {i}, not {}): synthesise into an empty folder",
                p.meter.code, p.index
            ));
        }
    }
    let slots = (1440 / cfg.interval_minutes) as usize;
    let per = 96 / slots.min(96);
    let mut months: Vec<((i32, u32), Day, Day)> = Vec::new();
    for d in cfg.start..cfg.end() {
        let m = month_of(d);
        match months.last_mut() {
            Some((lm, _, to)) if *lm == m => *to = d,
            _ => months.push((m, d, d)),
        }
    }
    let total_rows = cfg.meters as u64 * cfg.days as u64;
    let batch = Mutex::new(store.begin(&cfg.district)?);
    let done_rows = AtomicUsize::new(0);
    let mut summary = Summary {
        meters: cfg.meters,
        ..Summary::default()
    };
    let outcome: Result<()> = (|| {
        for &(month, from, to) in &months {
            let days = (to - from + 1) as usize;
            let block = (MAX_ROWS / days).max(1);
            let blocks = cfg.meters.div_ceil(block);
            let next = AtomicUsize::new(0);
            let results: Vec<Result<(u64, usize)>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..cfg.threads.max(1))
                    .map(|_| {
                        s.spawn(|| -> Result<(u64, usize)> {
                            let mut rows = 0u64;
                            let mut segs = 0usize;
                            let mut wh = [0.0f64; 96];
                            let mut row = vec![0.0f64; slots];
                            let mut prev = vec![0.0f64; slots];
                            let mut q = vec![0u16; slots];
                            loop {
                                let b = next.fetch_add(1, Ordering::Relaxed);
                                if b >= blocks {
                                    break;
                                }
                                let mut w = lock(&batch)?.segment(month, cfg.interval_minutes)?;
                                for p in &plans[b * block..((b + 1) * block).min(cfg.meters)] {
                                    // The day before, for finding days the head-end repeated
                                    // (as ingest does).
                                    let mut prev_ok =
                                        from > cfg.start && day_wh(cfg, p, from - 1, &mut wh);
                                    if prev_ok {
                                        for (o, c) in prev.iter_mut().zip(wh.chunks(per)) {
                                            *o = c.iter().sum();
                                        }
                                    }
                                    for d in from..=to {
                                        if !day_wh(cfg, p, d, &mut wh) {
                                            prev_ok = false;
                                            continue;
                                        }
                                        for (o, c) in row.iter_mut().zip(wh.chunks(per)) {
                                            *o = c.iter().sum();
                                        }
                                        let repeated =
                                            prev_ok && crate::format::repeats_day(&row, &prev);
                                        prev.copy_from_slice(&row);
                                        prev_ok = true;
                                        if repeated {
                                            row.fill(f64::NAN);
                                        }
                                        let (scale, missing) = encode_row(&row, &mut q);
                                        w.push(p.index, d, scale, missing, &q)?;
                                        rows += 1;
                                    }
                                    let n = done_rows.fetch_add(days, Ordering::Relaxed) + days;
                                    if n % 65_536 < days {
                                        progress(n as u64, total_rows);
                                    }
                                }
                                w.finish()?;
                                segs += 1;
                            }
                            Ok((rows, segs))
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| crate::err("a writer thread failed"))
                    })
                    .collect()
            });
            for r in results {
                let (rows, segs) = r?;
                summary.rows += rows;
                summary.segments += segs;
            }
        }
        Ok(())
    })();
    let batch = batch
        .into_inner()
        .map_err(|_| crate::PowerError("a writer thread failed".into()))?;
    if let Err(e) = outcome {
        batch.abandon();
        return Err(e);
    }
    summary.readings = summary.rows * slots as u64;
    registry.save(&store.registry_path(&cfg.district))?;
    batch.commit(&format!(
        "synth seed={} meters={} days={} rows={}",
        cfg.seed, cfg.meters, cfg.days, summary.rows
    ))?;
    progress(total_rows, total_rows);
    Ok((summary, plans))
}

fn lock(b: &Mutex<Batch>) -> Result<std::sync::MutexGuard<'_, Batch>> {
    b.lock()
        .map_err(|_| crate::PowerError("a writer thread failed".into()))
}

/// Writes the readings as CSV (`meter,time,kwh`, one interval a line, times with +08:00), the
/// power company's usual export, for trying `redgrid power ingest`.
pub fn write_csv(cfg: &SynthConfig, plans: &[Plan], out: &mut dyn std::io::Write) -> Result<u64> {
    let per = (cfg.interval_minutes / 15).max(1) as usize;
    let mut wh = [0.0f64; 96];
    let mut lines = 0u64;
    writeln!(out, "meter,time,kwh")?;
    for p in plans {
        for d in cfg.start..cfg.end() {
            if !day_wh(cfg, p, d, &mut wh) {
                continue;
            }
            let date = date_of(d);
            for (i, c) in wh.chunks(per).enumerate() {
                let minutes = i * per * 15;
                if cfg.interval_minutes == 1440 {
                    writeln!(
                        out,
                        "{},{date},{:.3}",
                        p.meter.code,
                        c.iter().sum::<f64>() / 1000.0
                    )?;
                } else {
                    writeln!(
                        out,
                        "{},{date}T{:02}:{:02}:00+08:00,{:.3}",
                        p.meter.code,
                        minutes / 60,
                        minutes % 60,
                        c.iter().sum::<f64>() / 1000.0
                    )?;
                }
                lines += 1;
            }
        }
    }
    Ok(lines)
}

pub fn write_labels(cfg: &SynthConfig, plans: &[Plan], out: &mut dyn std::io::Write) -> Result<()> {
    writeln!(out, "{LABELS_HEADER}")?;
    for p in plans {
        for l in labels(cfg, p) {
            writeln!(
                out,
                "{},{},{},{}",
                l.meter,
                l.label,
                date_of(l.from),
                date_of(l.to)
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SynthConfig {
        SynthConfig::new(
            2000,
            90,
            day_of(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
        )
    }

    #[test]
    fn the_city_is_repeatable_and_has_every_kind() {
        let c = cfg();
        let a = plan(&c, 17);
        let b = plan(&c, 17);
        assert_eq!(a.meter, b.meter);
        let mut x = [0.0; 96];
        let mut y = [0.0; 96];
        day_wh(&c, &a, c.start + 3, &mut x);
        day_wh(&c, &b, c.start + 3, &mut y);
        assert_eq!(x, y);
        let plans: Vec<Plan> = (0..c.meters).map(|i| plan(&c, i)).collect();
        let count = |f: &dyn Fn(&Plan) -> bool| plans.iter().filter(|p| f(p)).count();
        assert!(count(&|p| p.sector.is_some()) > 20);
        assert!(count(&|p| p.meter.routine_watch()) > 80);
        assert!(count(&|p| matches!(p.household, Some(Household::GroupRental { .. }))) > 15);
        assert!(count(&|p| !p.vacant.is_empty()) > 100);
        assert!(count(&|p| p.shutdown.is_some()) > 10);
        assert_eq!(
            c.shutdown_day,
            day_of(chrono::NaiveDate::from_ymd_opt(2026, 2, 17).unwrap())
        );
    }

    #[test]
    fn vacant_days_use_little_and_occupied_days_more() {
        let c = cfg();
        let mut vacant = Vec::new();
        let mut family = Vec::new();
        let mut wh = [0.0; 96];
        for i in 0..c.meters {
            let p = plan(&c, i);
            if p.sector.is_some() || p.dead_from.is_some() || p.removed_from.is_some() {
                continue;
            }
            for d in c.start..c.start + 10 {
                day_wh(&c, &p, d, &mut wh);
                let kwh = wh.iter().sum::<f64>() / 1000.0;
                if in_spells(&p.vacant, d) {
                    vacant.push(kwh);
                } else if matches!(p.household, Some(Household::Family { .. })) {
                    family.push(kwh);
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(mean(&vacant) < 2.5, "vacant {}", mean(&vacant));
        assert!(mean(&family) > 5.0, "family {}", mean(&family));
    }
}
