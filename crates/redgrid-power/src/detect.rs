//! The detectors. One pass streams over a district's stored readings month by month, in blocks
//! of meters spread over the cores; each row becomes its [`DayFeatures`], and each meter's
//! features go through its detectors in day order:
//!
//! - **vacancy** (房屋空置): a run of days whose use stays near the fridge-and-standby floor (daily
//!   total and active slots below thresholds) that lasts at least a week, with low day-to-day
//!   variation, is a vacancy spell, tiered at 7, 14, 30 and 180 days; an alert is raised when a
//!   spell reaches `alert_days`. Days of exact zeros are a dead meter and days with no rows a
//!   removed meter (`fault`), never vacancy;
//! - **group rental** (群租房): each occupied dwelling's level, evening share, peak–valley spread,
//!   night share and weekend ratio, as robust z-scores against the dwellings of its community;
//!   the score ranks them and dwellings above the thresholds are flagged;
//! - **routine** (独居老人异常): for households under watch (the fact `elderly_alone` and consent),
//!   the last weeks of normal days teach the first activity time, daily total, night use and
//!   longest quiet stretch; a day with no activity by the morning limit, a long flat line, unusual
//!   night use or a sharp drop is an alert with a severity;
//! - **resumption** (复工电力指数): each enterprise's daily use over its baseline daily average; at
//!   or above the threshold it counts as resumed, summed by sector and by street.
//!
//! Thresholds come from [`Config`] (a TOML file; every field has a default).

use crate::features::{DayFeatures, Layout, NONE, day_features, rows_features};
use crate::format::{PowerStore, Segment};
use crate::meters::{MeterKind, Registry};
use crate::{Day, Result, month_of, weekday_of};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Watts above the day's base load that count as someone using something.
    pub active_watts: f32,
    pub vacancy: VacancyConfig,
    pub group_rental: GroupConfig,
    pub routine: RoutineConfig,
    pub resumption: ResumptionConfig,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct VacancyConfig {
    /// An unoccupied day uses at most this many times the household's own base load (its
    /// fridge and standby, learned from its nights) over the whole day …
    pub base_factor: f32,
    /// … (or the base load plus this much, kWh, when the base load is tiny) …
    pub min_margin_kwh: f32,
    /// … its evening (18:00–24:00) at most this many times its night (00:00–06:00): no lights,
    /// no cooking, no television …
    pub evening_factor: f32,
    /// … and at most this many hours with bursts above the day's floor.
    pub max_active_hours: f32,
    /// Nights remembered for the base load, and the share of them below it (a low quantile).
    pub base_nights: usize,
    pub base_quantile: f32,
    /// The spell's daily totals vary at most this much: a standard deviation of at most this
    /// share of their mean plus `min_margin_kwh` (a fridge alone varies by more than half of
    /// itself). Each day is already held near the base load, so this only turns away a run of
    /// days that swing widely within that band.
    pub max_variation: f32,
    /// The shortest spell that counts.
    pub min_days: u32,
    /// A spell is an episode (listed, with its tier: 14, 30 or 180 days) from this many days …
    pub alert_days: u32,
    /// … and a request for the grid from this many (a family's fortnight away is not a vacant
    /// dwelling to check).
    pub file_days: u32,
    /// Days without full data a spell may span (they neither continue nor end it).
    pub gap_days: u32,
    /// Days of zeros (or of no readings) before a meter counts as dead (or removed).
    pub fault_days: u32,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GroupConfig {
    /// The combined score at or above which a dwelling is flagged.
    pub min_score: f32,
    /// … whose level must also be at least this many robust deviations above its peers'.
    pub min_level_z: f32,
    /// Occupied days needed before a dwelling is scored.
    pub min_days: u32,
    /// Communities with fewer scored dwellings are compared with the whole district.
    pub min_peers: usize,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RoutineConfig {
    /// Normal days to learn before alerting, and the most kept.
    pub learn_days: usize,
    pub window_days: usize,
    /// No activity by this time (hours, e.g. 10.0 = 10:00) is an alert, or later if the
    /// household usually starts later (its 90th percentile plus `margin_hours`).
    pub morning_by: f32,
    pub margin_hours: f32,
    /// … only for a household whose mornings are regular: its usual first activity varies by
    /// at most this many hours (10th to 90th percentile). One that rises at any hour has no
    /// morning to miss.
    pub regular_morning_hours: f32,
    /// A quiet stretch between 06:00 and 22:00 of at least this many hours is a flat line.
    pub flat_hours: f32,
    /// Night use above the usual by this factor and by at least `night_min_kwh`.
    pub night_factor: f32,
    pub night_min_kwh: f32,
    /// … and above the usual by at least this many robust deviations (1.4826 × the median
    /// absolute deviation) of the household's usual nights: a home heated or a water heater
    /// run by night varies from night to night, and only what stands out of that counts.
    pub night_spread: f32,
    /// … and the night's share of the day's use above the usual share by this factor: a cold
    /// spell raises the heating by day and by night alike, unrest only the night.
    pub night_share_factor: f32,
    /// … and at most this much above the base load: a person up at night (lights, television,
    /// a kettle) draws a few hundred watts; a night of more than 1 kW above the base all night
    /// long is a machine on a timer or a thermostat (storage or heat-pump heating, a car or a
    /// water heater on night power), not what this alert looks for.
    pub night_max_kwh: f32,
    /// A day below this share of the usual total …
    pub drop_ratio: f32,
    /// … on this many full days in a row: one low day is a day out or a timed heater that did
    /// not run; a drop that lasts is a change in how the household lives.
    pub drop_days: u32,
    /// Alert days of one household at most this many days apart are one episode (one request).
    pub episode_gap_days: u32,
    /// The least energy (Wh above the base load) a burst of activity needs to count as someone
    /// up and about; shorter bursts are thermostats and kettles.
    pub burst_wh: f32,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ResumptionConfig {
    /// Daily use at or above this share of the baseline daily average counts as resumed.
    pub threshold: f32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            active_watts: 250.0,
            vacancy: VacancyConfig::default(),
            group_rental: GroupConfig::default(),
            routine: RoutineConfig::default(),
            resumption: ResumptionConfig::default(),
        }
    }
}

impl Default for VacancyConfig {
    fn default() -> Self {
        VacancyConfig {
            base_factor: 1.35,
            min_margin_kwh: 0.3,
            evening_factor: 1.3,
            max_active_hours: 4.5,
            base_nights: 14,
            base_quantile: 0.25,
            max_variation: 0.5,
            min_days: 7,
            alert_days: 14,
            file_days: 30,
            gap_days: 3,
            fault_days: 7,
        }
    }
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_score: 6.0,
            min_level_z: 2.5,
            min_days: 14,
            min_peers: 20,
        }
    }
}

impl Default for RoutineConfig {
    fn default() -> Self {
        RoutineConfig {
            learn_days: 10,
            window_days: 28,
            morning_by: 10.0,
            margin_hours: 1.0,
            regular_morning_hours: 4.0,
            flat_hours: 6.0,
            night_factor: 1.8,
            night_spread: 4.0,
            night_share_factor: 1.3,
            night_min_kwh: 0.5,
            night_max_kwh: 6.0,
            drop_ratio: 0.35,
            drop_days: 2,
            episode_gap_days: 3,
            burst_wh: 300.0,
        }
    }
}

impl Default for ResumptionConfig {
    fn default() -> Self {
        ResumptionConfig { threshold: 0.3 }
    }
}

impl Config {
    /// Reads a TOML file of thresholds; unknown keys are refused.
    pub fn parse(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| crate::PowerError(format!("detector settings: {e}")))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DetectorKind {
    Vacancy,
    GroupRental,
    Routine,
    Fault,
    /// Days without full data: a status for the power company, never a request for the grid.
    DataGap,
}

impl DetectorKind {
    pub const ALL: [DetectorKind; 5] = [
        Self::Vacancy,
        Self::GroupRental,
        Self::Routine,
        Self::Fault,
        Self::DataGap,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DetectorKind::Vacancy => "vacancy",
            DetectorKind::GroupRental => "group_rental",
            DetectorKind::Routine => "routine",
            DetectorKind::Fault => "fault",
            DetectorKind::DataGap => "data_gap",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Whether its episodes become requests for the grid (a data gap goes to the power company).
    pub fn for_the_grid(self) -> bool {
        self != DetectorKind::DataGap
    }
    pub fn name_zh(self) -> &'static str {
        match self {
            DetectorKind::Vacancy => "房屋空置",
            DetectorKind::GroupRental => "疑似群租",
            DetectorKind::Routine => "独居老人用电异常",
            DetectorKind::Fault => "电表故障",
            DetectorKind::DataGap => "数据缺失",
        }
    }
}

/// A detector's finding about one meter: an episode, from its first day (`since`) to its last
/// (`day`), with the days it was seen on.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub meter: u32,
    pub detector: DetectorKind,
    /// What exactly: `vacant_14d`, `vacant_30d`, `vacant_180d`, `no_morning`, `flat_line`,
    /// `night_use`, `sharp_drop`, `dead_meter`, `no_data`, `group_rental`, `missing_readings`.
    pub reasons: Vec<&'static str>,
    /// The episode's last day, and its first.
    pub day: Day,
    pub since: Day,
    /// Whether it lasts to the end of the data analysed (a spell not yet over).
    pub ongoing: bool,
    /// Whether it becomes a request for the grid: not a data gap (for the power company), not a
    /// vacancy spell shorter than `file_days` (it counts towards the vacancy rate and is listed).
    pub for_grid: bool,
    /// Days the detector saw it on (a routine episode's alert days; a spell's days).
    pub days: u32,
    /// 1 low, 2 medium, 3 high.
    pub severity: u8,
    pub score: f32,
}

/// A run of days: a vacancy or fault spell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spell {
    pub meter: u32,
    pub from: Day,
    pub to: Day,
    pub mean_kwh: f32,
}

impl Spell {
    pub fn days(&self) -> u32 {
        (self.to - self.from + 1) as u32
    }
    /// 7, 14, 30 or 180: the longest tier the spell reaches.
    pub fn tier(&self) -> u32 {
        [180, 30, 14, 7]
            .into_iter()
            .find(|&t| self.days() >= t)
            .unwrap_or(0)
    }

    /// The spell as an episode of `detector` for `reason`, over its days, severity 1; the
    /// caller changes what differs.
    fn alert(&self, detector: DetectorKind, reason: &'static str, ongoing: bool) -> Alert {
        Alert {
            meter: self.meter,
            detector,
            reasons: vec![reason],
            day: self.to,
            since: self.from,
            ongoing,
            for_grid: true,
            days: self.days(),
            severity: 1,
            score: 0.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupScore {
    pub meter: u32,
    pub score: f32,
    pub level_z: f32,
    pub mean_kwh: f32,
    pub flagged: bool,
}

/// The resumption index: per enterprise per day, and summed by sector and by street.
#[derive(Clone, Debug, Default)]
pub struct Resumption {
    /// (meter, day, daily kWh, baseline daily average kWh).
    pub daily: Vec<(u32, Day, f64, f64)>,
    /// The first day each enterprise reached the threshold after a day below it.
    pub resumed_on: BTreeMap<u32, Vec<Day>>,
    pub threshold: f32,
}

impl Resumption {
    /// Per group (sector or street) and day: (Σ use, Σ baseline, resumed, enterprises).
    pub fn by<F: Fn(u32) -> String>(
        &self,
        group: F,
    ) -> BTreeMap<(String, Day), (f64, f64, u32, u32)> {
        let mut out: BTreeMap<(String, Day), (f64, f64, u32, u32)> = BTreeMap::new();
        for &(m, d, use_kwh, base) in &self.daily {
            let e = out.entry((group(m), d)).or_default();
            e.0 += use_kwh;
            e.1 += base;
            e.2 += (use_kwh >= self.threshold as f64 * base) as u32;
            e.3 += 1;
        }
        out
    }
}

#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// Every episode found, by its last day.
    pub alerts: Vec<Alert>,
    pub vacancy: Vec<Spell>,
    pub faults: Vec<Spell>,
    /// Stretches of days without full data, per meter.
    pub gaps: Vec<Spell>,
    /// Per dwelling with full days: (meter, days with full data, days found unoccupied).
    pub dwellings: Vec<(u32, u32, u32)>,
    pub group_rental: Vec<GroupScore>,
    pub resumption: Resumption,
    pub rows: u64,
    pub readings: u64,
    pub first_day: Option<Day>,
    pub last_day: Option<Day>,
    /// The day most meters' readings reach (half of the meters with data or more reach it): what
    /// "the last days" means when one meter's file runs ahead of the rest.
    pub data_end: Option<Day>,
}

#[derive(Clone, Debug)]
struct Routine {
    /// The last normal days, a ring of at most `MAX_WINDOW`: first activity, total, night use,
    /// longest quiet stretch, and whether the day was a weekend day.
    first: [u8; MAX_WINDOW],
    total: [f32; MAX_WINDOW],
    night: [f32; MAX_WINDOW],
    flat: [u8; MAX_WINDOW],
    weekend: [bool; MAX_WINDOW],
    len: usize,
    next: usize,
    /// The night use of each of the last seven days (by day, alert or not), and the last day
    /// whose night raised `night_use`: a heavy night that comes back within a week (a water
    /// heater's weekly hot cycle, heating on a cold night, washing on cheap night power) is the
    /// household's week, not unrest. It does not hold back the nights that go on from one that
    /// alerted (unrest of several nights is one episode, all of it).
    recent_nights: [(Day, f32); 7],
    night_alert_day: Day,
    /// The last day below the usual total (`drop_ratio`) and how many such days ran to it.
    drop_last: Day,
    drop_run: u8,
}

/// The most normal days a routine remembers (`window_days` is capped here).
pub const MAX_WINDOW: usize = 32;

impl Default for Routine {
    fn default() -> Self {
        Routine {
            first: [0; MAX_WINDOW],
            total: [0.0; MAX_WINDOW],
            night: [0.0; MAX_WINDOW],
            flat: [0; MAX_WINDOW],
            weekend: [false; MAX_WINDOW],
            len: 0,
            next: 0,
            recent_nights: [(Day::MIN, 0.0); 7],
            night_alert_day: Day::MIN,
            drop_last: Day::MIN,
            drop_run: 0,
        }
    }
}

/// A household's normal days of one kind (weekdays or weekend days), whose usual figures are
/// worked out one at a time, only when a day could break them: most days break none, so most
/// days work out none (a quantile of a month's days costs more than the rest of the day's
/// checks together).
struct Usual<'a> {
    r: &'a Routine,
    weekend: bool,
    /// Whether to use only the days of the same kind (there are at least `min_same` of them; a
    /// household out on weekdays and home at weekends has two routines) or all the normal days.
    same_only: bool,
}

impl Usual<'_> {
    /// The chosen days' values of one column, on the stack.
    fn pick<T: Copy>(
        &self,
        col: &[T; MAX_WINDOW],
        to: impl Fn(T) -> f32,
    ) -> ([f32; MAX_WINDOW], usize) {
        let mut out = [0.0f32; MAX_WINDOW];
        let mut m = 0;
        let n = self.r.len;
        for (&v, &weekend) in col[..n].iter().zip(&self.r.weekend[..n]) {
            if !self.same_only || weekend == self.weekend {
                out[m] = to(v);
                m += 1;
            }
        }
        (out, m)
    }
    /// The 10th and 90th percentiles of the first sustained activity (hours).
    fn first_p10_p90(&self) -> (f32, f32) {
        let (v, n) = self.pick(&self.r.first, |x| x as f32 / 4.0);
        (quantile_f32(&v[..n], 0.1), quantile_f32(&v[..n], 0.9))
    }
    /// The longest usual quiet stretch (hours).
    fn flat_max(&self) -> f32 {
        let (v, n) = self.pick(&self.r.flat, |x| x as f32 / 4.0);
        v[..n].iter().fold(0.0f32, |a, &b| a.max(b))
    }
    /// The median night use and its robust deviation (1.4826 × the median absolute deviation).
    fn night_median_spread(&self) -> (f32, f32) {
        let (mut v, n) = self.pick(&self.r.night, |x| x);
        let (med, spread) = robust(&mut v[..n]);
        (med, spread)
    }
    fn total_max(&self) -> f32 {
        let (v, n) = self.pick(&self.r.total, |x| x);
        v[..n].iter().fold(0.0f32, |a, &b| a.max(b))
    }
    fn total_median(&self) -> f32 {
        let (v, n) = self.pick(&self.r.total, |x| x);
        quantile_f32(&v[..n], 0.5)
    }
}

impl Routine {
    fn push(&mut self, window: usize, f: &DayFeatures, weekend: bool) {
        let cap = window.clamp(1, MAX_WINDOW);
        self.first[self.next] = f.first_active;
        self.total[self.next] = f.total;
        self.night[self.next] = f.night;
        self.flat[self.next] = f.longest_flat;
        self.weekend[self.next] = weekend;
        self.next = if self.next + 1 >= cap {
            0
        } else {
            self.next + 1
        };
        self.len = (self.len + 1).min(cap);
    }

    /// Whether a heavy `night` on `day` is this household's usual week: one of the seven nights
    /// before was at least half as far above `median`, and no night alerted in the last `gap`
    /// days (the episode's own nights, across a day without data, do not hold it back).
    fn night_recurs(&self, day: Day, night: f32, median: f32, gap: u32) -> bool {
        if day.saturating_sub(self.night_alert_day) <= gap as Day {
            return false;
        }
        (1..=7).any(|k| {
            let (d, n) = self.recent_nights[(day - k).rem_euclid(7) as usize];
            d == day - k && n - median >= 0.5 * (night - median)
        })
    }

    /// The highest total of all the normal days kept (unused places hold zero).
    #[inline(always)]
    fn total_max_all(&self) -> f32 {
        self.total
            .iter()
            .fold(0.0f32, |a, &b| if b > a { b } else { a })
    }

    fn remember_night(&mut self, day: Day, night: f32, alerted: bool) {
        self.recent_nights[day.rem_euclid(7) as usize] = (day, night);
        if alerted {
            self.night_alert_day = day;
        }
    }

    /// The usual figures of days like `weekend`: from the days of the same kind when there are
    /// at least `min_same` of them, else from all the normal days.
    fn usual(&self, weekend: bool, min_same: usize) -> Usual<'_> {
        let same = self.weekend[..self.len]
            .iter()
            .filter(|&&w| w == weekend)
            .count();
        Usual {
            r: self,
            weekend,
            same_only: same >= min_same,
        }
    }
}

/// The value at `share` (0–1) of the sorted values for a low share of a few values (a base load's
/// quarter of a fortnight's nights): the smallest few kept in order in one pass, which is several
/// times faster than a selection on sets this small; otherwise [`quantile_f32`].
#[inline(always)]
fn low_quantile(v: &[f32], share: f32) -> f32 {
    const K: usize = 8;
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let k = ((n as f32 * share) as usize).min(n - 1);
    if k == 0 {
        return v.iter().fold(f32::INFINITY, |a, &b| a.min(b));
    }
    if k >= K {
        return quantile_f32(v, share);
    }
    let mut low = [f32::INFINITY; K];
    for &x in v {
        if x < low[k] {
            let mut i = k;
            while i > 0 && low[i - 1] > x {
                low[i] = low[i - 1];
                i -= 1;
            }
            low[i] = x;
        }
    }
    low[k]
}

/// The value at `share` (0–1) of the sorted values, on the stack.
fn quantile_f32(v: &[f32], share: f32) -> f32 {
    let mut a = [0.0f32; MAX_WINDOW];
    let n = v.len().min(MAX_WINDOW);
    if n == 0 {
        return 0.0;
    }
    a[..n].copy_from_slice(&v[..n]);
    let k = ((n as f32 * share) as usize).min(n - 1);
    *a[..n].select_nth_unstable_by(k, |x, y| x.total_cmp(y)).1
}

#[derive(Clone, Debug, Default)]
struct Ent {
    base_sum: f64,
    base_days: u32,
    below: bool,
}

/// The most nights a household's base load is learned from (`base_nights` is capped here).
pub const MAX_NIGHTS: usize = 16;
const _: () = assert!(MAX_NIGHTS.is_power_of_two() && MAX_NIGHTS <= 256);

#[derive(Clone, Debug)]
struct MeterState {
    last_day: Day,
    first_day: Day,
    /// The current run of unoccupied days: first and last day, days counted, and their sums.
    run_start: Day,
    run_last: Day,
    run_len: u32,
    run_sum: f64,
    run_sumsq: f64,
    dead_start: Day,
    dead_len: u32,
    /// The current run of days without full data (first, last, days).
    gap_start: Day,
    gap_last: Day,
    gap_len: u32,
    /// The household's recent night use per hour (kWh), a ring, and the base load per hour
    /// worked out from it (a low quantile), refreshed every few days.
    nights: [f32; MAX_NIGHTS],
    /// Nights learned (up to 255), and where the next goes (`& (MAX_NIGHTS - 1)`: the ring's
    /// size is a power of two, so a night costs no division).
    nights_seen: u8,
    nights_next: u8,
    base_age: u8,
    base_hourly: f32,
    /// Days with full data and days found unoccupied, over the analysis and over the last
    /// `recent` window (for the vacancy rate).
    full_days: u32,
    unoccupied_days: u32,
    occ_days: u32,
    sum_total: f64,
    sum_evening: f64,
    sum_night: f64,
    sum_spread: f64,
    weekday: (f64, u32),
    weekend: (f64, u32),
    routine: Option<Box<Routine>>,
    ent: Option<Box<Ent>>,
}

impl MeterState {
    fn new() -> Self {
        MeterState {
            last_day: Day::MIN,
            first_day: Day::MIN,
            run_start: 0,
            run_last: 0,
            run_len: 0,
            run_sum: 0.0,
            run_sumsq: 0.0,
            dead_start: 0,
            dead_len: 0,
            gap_start: 0,
            gap_last: 0,
            gap_len: 0,
            nights: [0.0; MAX_NIGHTS],
            nights_seen: 0,
            nights_next: 0,
            base_age: 0,
            base_hourly: 0.0,
            full_days: 0,
            unoccupied_days: 0,
            occ_days: 0,
            sum_total: 0.0,
            sum_evening: 0.0,
            sum_night: 0.0,
            sum_spread: 0.0,
            weekday: (0.0, 0),
            weekend: (0.0, 0),
            routine: None,
            ent: None,
        }
    }

    /// Remembers a night's use per hour (the base load is worked out from them when it is next
    /// needed, [`MeterState::base`]).
    #[inline(always)]
    fn learn_night(&mut self, per_hour: f32) {
        self.nights[self.nights_next as usize & (MAX_NIGHTS - 1)] = per_hour;
        self.nights_next = self.nights_next.wrapping_add(1);
        self.nights_seen = self.nights_seen.saturating_add(1);
        self.base_age = self.base_age.saturating_add(1);
    }

    /// The household's base load per hour: the low quantile of its last nights, worked out again
    /// when needed once four nights were learned since (or while fewer than five are known).
    /// Most days never need it (their evening or bursts show someone at home), so most meters
    /// work it out seldom.
    #[inline(always)]
    fn base(&mut self, v: &VacancyConfig) -> f32 {
        if self.base_age > 0 && (self.nights_seen <= 4 || self.base_age >= 4) {
            self.base_age = 0;
            // The last `base_nights` nights, newest first.
            let n = (self.nights_seen as usize).min(v.base_nights.clamp(1, MAX_NIGHTS));
            let mut last = [0.0f32; MAX_NIGHTS];
            for (j, x) in last[..n].iter_mut().enumerate() {
                let at = self.nights_next.wrapping_sub(1 + j as u8) as usize & (MAX_NIGHTS - 1);
                *x = self.nights[at];
            }
            self.base_hourly = low_quantile(&last[..n], v.base_quantile);
        }
        self.base_hourly
    }
}

struct Out {
    alerts: Vec<Alert>,
    vacancy: Vec<Spell>,
    faults: Vec<Spell>,
    gaps: Vec<Spell>,
    resumption: Vec<(u32, Day, f64, f64)>,
    resumed: Vec<(u32, Day)>,
}

impl Out {
    fn new() -> Self {
        Out {
            alerts: Vec::new(),
            vacancy: Vec::new(),
            faults: Vec::new(),
            gaps: Vec::new(),
            resumption: Vec::new(),
            resumed: Vec::new(),
        }
    }
}

struct Ctx<'a> {
    cfg: &'a Config,
    registry: &'a Registry,
    /// Per meter: the days it is under routine watch (from consent to withdrawal), if any.
    watch: Vec<Option<(Day, Day)>>,
    /// Per meter: its kind, read here rather than from the register's larger records.
    kinds: Vec<MeterKind>,
}

impl Ctx<'_> {
    /// Ends the meter's run of unoccupied days, if it has one, keeping it as a spell if it was
    /// long and flat enough (and raising the spell's alert when it is long enough for one).
    #[inline(always)]
    fn close_run(&self, m: u32, s: &mut MeterState, out: &mut Out, ongoing: bool) {
        // A run's sums are zero whenever its length is.
        if s.run_len > 0 {
            self.end_run(m, s, out, ongoing);
        }
    }

    #[cold]
    #[inline(never)]
    fn end_run(&self, m: u32, s: &mut MeterState, out: &mut Out, ongoing: bool) {
        let v = &self.cfg.vacancy;
        if s.run_len >= v.min_days {
            let n = s.run_len as f64;
            let mean = s.run_sum / n;
            let var = (s.run_sumsq / n - mean * mean).max(0.0);
            // Steady: the days vary by at most `max_variation` of their mean, or by
            // `min_margin_kwh` (a fridge alone, at a few hundred Wh a day, varies by more than
            // half of itself from one day to the next).
            if var.sqrt() <= v.max_variation as f64 * mean + v.min_margin_kwh as f64 {
                let spell = Spell {
                    meter: m,
                    from: s.run_start,
                    to: s.run_last,
                    mean_kwh: mean as f32,
                };
                if spell.days() >= v.alert_days {
                    vacancy_alert(&spell, s.run_len, ongoing, v.file_days, out);
                }
                out.vacancy.push(spell);
            }
        }
        s.run_len = 0;
        s.run_sum = 0.0;
        s.run_sumsq = 0.0;
    }

    #[inline(always)]
    fn close_dead(&self, m: u32, s: &mut MeterState, out: &mut Out, ongoing: bool) {
        if s.dead_len > 0 {
            self.end_dead(m, s, out, ongoing);
        }
    }

    #[cold]
    #[inline(never)]
    fn end_dead(&self, m: u32, s: &mut MeterState, out: &mut Out, ongoing: bool) {
        if s.dead_len >= self.cfg.vacancy.fault_days {
            let spell = Spell {
                meter: m,
                from: s.dead_start,
                to: s.dead_start + s.dead_len as Day - 1,
                mean_kwh: 0.0,
            };
            out.alerts
                .push(spell.alert(DetectorKind::Fault, "dead_meter", ongoing));
            out.faults.push(spell);
        }
        s.dead_len = 0;
    }

    #[inline(always)]
    fn close_gap(&self, m: u32, s: &mut MeterState, out: &mut Out, ongoing: bool) {
        if s.gap_len > 0 {
            self.end_gap(m, s, out, ongoing);
        }
    }

    #[cold]
    #[inline(never)]
    fn end_gap(&self, m: u32, s: &mut MeterState, out: &mut Out, ongoing: bool) {
        let spell = Spell {
            meter: m,
            from: s.gap_start,
            to: s.gap_last,
            mean_kwh: 0.0,
        };
        out.alerts.push(Alert {
            for_grid: false,
            days: s.gap_len,
            score: s.gap_len as f32,
            ..spell.alert(DetectorKind::DataGap, "missing_readings", ongoing)
        });
        out.gaps.push(spell);
        s.gap_len = 0;
    }

    /// A day without full data (some slots missing, or a repeated day the ingest marked
    /// missing): it neither continues nor ends a vacancy spell, teaches nothing and raises no
    /// welfare alert; it is counted towards the meter's data-gap status.
    #[cold]
    #[inline(never)]
    fn gap_day(&self, m: u32, s: &mut MeterState, day: Day, out: &mut Out) {
        if s.gap_len > 0 && day > s.gap_last + 1 {
            self.end_gap(m, s, out, false);
        }
        if s.gap_len == 0 {
            s.gap_start = day;
        }
        s.gap_last = day;
        s.gap_len += 1;
        // A spell broken off by missing data is not known to be over: it stays going on.
        if s.run_len > 0 && day - s.run_last > self.cfg.vacancy.gap_days as Day {
            self.end_run(m, s, out, true);
        }
    }

    /// Days `[from, to]` with no rows at all, between rows of the meter: one stretch of its
    /// data-gap status.
    #[cold]
    #[inline(never)]
    fn missing_days(&self, m: u32, s: &mut MeterState, from: Day, to: Day, out: &mut Out) {
        if s.gap_len > 0 && from > s.gap_last + 1 {
            self.end_gap(m, s, out, false);
        }
        if s.gap_len == 0 {
            s.gap_start = from;
        }
        s.gap_last = to;
        s.gap_len += (to - from + 1) as u32;
    }

    /// Whether a dwelling's full day shows nobody at home: its use stays near its own base load
    /// (the fridge and standby, learned from its nights), its evening is no busier than its
    /// night, and bursts above the day's floor are few.
    #[inline(always)]
    fn unoccupied(&self, s: &mut MeterState, f: &DayFeatures, layout: &Layout) -> bool {
        let v = &self.cfg.vacancy;
        let active_hours = f.active as f32 * layout.quarters as f32 / 4.0;
        // The checks that need no base load first: most days fail them.
        if f.evening > f.night * v.evening_factor + v.min_margin_kwh * 0.25
            || active_hours > v.max_active_hours
        {
            return false;
        }
        let base_day = s.base(v) * 24.0;
        f.total <= (base_day * v.base_factor).max(base_day + v.min_margin_kwh)
    }

    /// One meter-day through the vacancy, fault, group-rental and routine detectors (and the
    /// resumption index for an enterprise). Inlined into the scan; what is rare is not.
    #[inline(always)]
    fn step(
        &self,
        m: u32,
        s: &mut MeterState,
        day: Day,
        f: &DayFeatures,
        layout: &Layout,
        out: &mut Out,
    ) {
        let Some(&kind) = self.kinds.get(m as usize) else {
            return;
        };
        if s.first_day == Day::MIN {
            s.first_day = day;
        }
        let v = &self.cfg.vacancy;
        // Days with no rows at all: a short stretch is a gap in the data, a long one ends what
        // was running (the meter may be gone; the end of the analysis says so). What it ends is
        // not known to be over: nothing was read meanwhile, so it stays going on.
        if s.last_day != Day::MIN && day > s.last_day + 1 {
            if day - s.last_day - 1 > v.gap_days as Day {
                self.close_run(m, s, out, true);
                self.close_dead(m, s, out, true);
            }
            self.missing_days(m, s, s.last_day + 1, day - 1, out);
        }
        s.last_day = day;
        let dead = f.present > 0 && f.max == 0.0;
        if dead {
            if s.dead_len == 0 {
                s.dead_start = day;
            }
            s.dead_len += 1;
            // Zeros say nothing of the household: a spell they break off stays going on.
            self.close_run(m, s, out, true);
            return;
        }
        self.close_dead(m, s, out, false);
        match kind {
            MeterKind::Enterprise => self.enterprise(m, s, day, f, out),
            MeterKind::Dwelling => {
                let full = f.present as usize >= layout.slots;
                if !full || !layout.intraday() {
                    if !full {
                        self.gap_day(m, s, day, out);
                    }
                    return;
                }
                self.close_gap(m, s, out, false);
                s.full_days += 1;
                // The base load from the nights before this one (a night that is itself busy
                // does not lift the floor it is measured against).
                if s.nights_seen == 0 {
                    s.base_hourly = f.night / 6.0;
                }
                let vacant = self.unoccupied(s, f, layout);
                s.learn_night(f.night / 6.0);
                if vacant {
                    s.unoccupied_days += 1;
                    // Only days without full data lay between: not known to be over.
                    if s.run_len > 0 && day - s.run_last > v.gap_days as Day + 1 {
                        self.end_run(m, s, out, true);
                    }
                    if s.run_len == 0 {
                        s.run_start = day;
                    }
                    s.run_last = day;
                    s.run_len += 1;
                    s.run_sum += f.total as f64;
                    s.run_sumsq += (f.total as f64) * (f.total as f64);
                } else {
                    self.close_run(m, s, out, false);
                    s.occ_days += 1;
                    s.sum_total += f.total as f64;
                    s.sum_evening += f.evening as f64;
                    s.sum_night += f.night as f64;
                    let mean_slot = f.total / f.present.max(1) as f32;
                    if mean_slot > 0.0 {
                        s.sum_spread += ((f.max - f.min) / mean_slot) as f64;
                    }
                    let w = if weekday_of(day) >= 5 {
                        &mut s.weekend
                    } else {
                        &mut s.weekday
                    };
                    w.0 += f.total as f64;
                    w.1 += 1;
                }
                if let Some(Some((from, to))) = self.watch.get(m as usize)
                    && day >= *from
                    && day < *to
                {
                    self.routine(m, s, day, f, out);
                }
            }
        }
    }

    #[inline(never)]
    fn routine(&self, m: u32, s: &mut MeterState, day: Day, f: &DayFeatures, out: &mut Out) {
        let c = &self.cfg.routine;
        // The night's use above the household's base load (its fridge and standby).
        let base_night = s.base(&self.cfg.vacancy) * 6.0;
        let r = s.routine.get_or_insert_with(Default::default);
        let weekend = weekday_of(day) >= 5;
        let mut reasons = Vec::new();
        let mut severity = 0u8;
        if r.len >= c.learn_days {
            // The usual days of this kind are picked only when a check needs them.
            let u = || r.usual(weekend, (c.learn_days / 3).max(4));
            let first_h = if f.first_active == NONE {
                99.0
            } else {
                f.first_active as f32 / 4.0
            };
            if first_h > c.morning_by && {
                let (p10, p90) = u().first_p10_p90();
                first_h > p90 + c.margin_hours && p90 - p10 <= c.regular_morning_hours
            } {
                reasons.push("no_morning");
                severity = severity.max(if f.first_active == NONE { 3 } else { 2 });
            }
            // A quiet stretch longer than the longest of this household's usual days of the
            // same kind (one out on weekdays has long quiet days) and than the floor, that
            // lasts into the night (one back home in the evening was out for the day).
            let flat_h = f.longest_flat as f32 / 4.0;
            if f.first_active != NONE
                && f.flat_to_night
                && flat_h >= c.flat_hours
                && flat_h >= u().flat_max() + c.margin_hours
            {
                reasons.push("flat_line");
                severity = severity.max(3);
            }
            // Night use above the base load, against the usual nights' (a household with a
            // large fridge and freezer is not held to a share of them).
            let extra = f.night - base_night;
            if extra > c.night_min_kwh && extra <= c.night_max_kwh && {
                let u = u();
                let (median, spread) = u.night_median_spread();
                let usual = (median - base_night).max(0.0);
                extra > usual * c.night_factor
                    && extra > usual + c.night_min_kwh
                    && f.night - median > c.night_spread * spread
                    && !r.night_recurs(day, f.night, median, c.episode_gap_days)
                    && {
                        let total = u.total_median();
                        total > 0.0 && f.night > f.total * (median / total) * c.night_share_factor
                    }
            } {
                reasons.push("night_use");
                severity = severity.max(1);
            }
            // Below the highest of all the usual days first (no picking, and most days are not).
            let low = f.total < r.total_max_all() * c.drop_ratio && {
                let u = u();
                f.total < u.total_max() * c.drop_ratio && f.total < u.total_median() * c.drop_ratio
            };
            if low {
                r.drop_run = if r.drop_last == day - 1 {
                    r.drop_run.saturating_add(1)
                } else {
                    1
                };
                r.drop_last = day;
                if r.drop_run as u32 >= c.drop_days {
                    reasons.push("sharp_drop");
                    severity = severity.max(2);
                }
            }
        }
        r.remember_night(day, f.night, reasons.contains(&"night_use"));
        // A lasting drop's episode starts on its first low day.
        let since = if reasons.contains(&"sharp_drop") {
            day - (r.drop_run as Day - 1)
        } else {
            day
        };
        // A low day that does not alert yet (the first of a drop) is not a normal day either.
        if reasons.is_empty() {
            if f.first_active != NONE && r.drop_last != day {
                r.push(c.window_days, f, weekend);
            }
        } else {
            out.alerts.push(Alert {
                meter: m,
                detector: DetectorKind::Routine,
                reasons,
                day,
                since,
                ongoing: false,
                for_grid: true,
                days: 1,
                severity,
                score: severity as f32,
            });
        }
    }

    #[inline(never)]
    fn enterprise(&self, m: u32, s: &mut MeterState, day: Day, f: &DayFeatures, out: &mut Out) {
        let Some((from, to)) = self.registry.get(m).and_then(|meter| meter.baseline) else {
            return;
        };
        let e = s.ent.get_or_insert_with(Default::default);
        if day >= from && day <= to {
            e.base_sum += f.total as f64;
            e.base_days += 1;
            return;
        }
        if day < from || e.base_days == 0 {
            return;
        }
        let base = e.base_sum / e.base_days as f64;
        let total = f.total as f64;
        out.resumption.push((m, day, total, base));
        let resumed = total >= self.cfg.resumption.threshold as f64 * base;
        if resumed && e.below {
            out.resumed.push((m, day));
        }
        e.below = !resumed;
    }
}

/// A vacancy spell's alert: its tier (14, 30 or 180 days), low severity below a month.
#[cold]
#[inline(never)]
fn vacancy_alert(spell: &Spell, unoccupied: u32, ongoing: bool, file_days: u32, out: &mut Out) {
    let days = spell.days();
    let reason = match days {
        180.. => "vacant_180d",
        30.. => "vacant_30d",
        _ => "vacant_14d",
    };
    out.alerts.push(Alert {
        for_grid: days >= file_days,
        days: unoccupied,
        severity: if days >= 30 { 2 } else { 1 },
        score: spell.mean_kwh,
        ..spell.alert(DetectorKind::Vacancy, reason, ongoing)
    });
}

/// Routine alert days of one household at most `gap` days apart become one episode: from the
/// first day to the last, with every reason seen and the highest severity.
fn routine_episodes(alerts: Vec<Alert>, gap: u32) -> Vec<Alert> {
    let (mut routine, mut other): (Vec<Alert>, Vec<Alert>) = alerts
        .into_iter()
        .partition(|a| a.detector == DetectorKind::Routine);
    routine.sort_by_key(|a| (a.meter, a.day));
    let mut merged: Vec<Alert> = Vec::with_capacity(routine.len());
    for a in routine {
        match merged.last_mut() {
            Some(e) if e.meter == a.meter && a.since - e.day <= gap as Day => {
                e.day = a.day;
                e.days += a.days;
                e.severity = e.severity.max(a.severity);
                e.score = e.score.max(a.score);
                for r in a.reasons {
                    if !e.reasons.contains(&r) {
                        e.reasons.push(r);
                    }
                }
            }
            _ => merged.push(a),
        }
    }
    other.extend(merged);
    other
}

/// The median, found in place (the slice is reordered).
fn median_in_place(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let k = v.len() / 2;
    *v.select_nth_unstable_by(k, |a, b| a.total_cmp(b)).1
}

const BLOCK: usize = 16_384;
/// Rows read at a time: 512 rows of 96 readings are 96 KiB, so the copy out of the page cache
/// lands in, and is read back from, the core's own cache.
pub const CHUNK_ROWS: usize = 512;

/// Runs every detector over a district's stored readings (optionally only days in `range`).
pub fn analyze(
    store: &PowerStore,
    district: &str,
    registry: &Registry,
    cfg: &Config,
    range: Option<(Day, Day)>,
    threads: usize,
) -> Result<Analysis> {
    let watch: Vec<Option<(Day, Day)>> = registry.meters().iter().map(|m| m.watch_days()).collect();
    let kinds: Vec<MeterKind> = registry.meters().iter().map(|m| m.kind).collect();
    let ctx = Ctx {
        cfg,
        registry,
        watch,
        kinds,
    };
    // The meters' state, one vector per block of meters, each made by the thread that first
    // works on the block (so both cores fill it, and it is local to the one that uses it).
    let n_meters = registry.len();
    let block_len = |bi: usize| BLOCK.min(n_meters - bi * BLOCK);
    let fresh =
        |bi: usize| -> Vec<MeterState> { (0..block_len(bi)).map(|_| MeterState::new()).collect() };
    let mut states: Vec<Vec<MeterState>> =
        (0..n_meters.div_ceil(BLOCK)).map(|_| Vec::new()).collect();
    let mut analysis = Analysis::default();
    let mut outs: Vec<Out> = Vec::new();
    let months: Vec<(i32, u32)> = store
        .months(district)
        .into_iter()
        .filter(|&m| range.is_none_or(|(a, b)| m >= month_of(a) && m <= month_of(b)))
        .collect();
    let rows = AtomicUsize::new(0);
    let readings = AtomicUsize::new(0);
    let first = Mutex::new((Day::MAX, Day::MIN));
    for month in months {
        let segments = store.segments(district, month)?;
        if segments.is_empty() {
            continue;
        }
        let blocks: Vec<Mutex<(usize, &mut Vec<MeterState>)>> = states
            .iter_mut()
            .enumerate()
            .map(|(i, c)| Mutex::new((i, c)))
            .collect();
        let next = AtomicUsize::new(0);
        let results: Vec<Result<Out>> = std::thread::scope(|sc| {
            let handles: Vec<_> = (0..threads.max(1))
                .map(|_| {
                    sc.spawn(|| -> Result<Out> {
                        let mut out = Out::new();
                        let mut buf: Vec<u16> = Vec::new();
                        let mut feats: Vec<(u32, Day, DayFeatures)> = Vec::new();
                        let mut fbuf: Vec<DayFeatures> = Vec::with_capacity(CHUNK_ROWS);
                        let mut seen = (Day::MAX, Day::MIN);
                        loop {
                            let b = next.fetch_add(1, Ordering::Relaxed);
                            let Some(slot) = blocks.get(b) else { break };
                            let mut guard = slot.lock().map_err(|_| {
                                crate::PowerError("a detector thread failed".into())
                            })?;
                            let (bi, states) = &mut *guard;
                            if states.is_empty() {
                                **states = fresh(*bi);
                            }
                            let from = (*bi * BLOCK) as u32;
                            let to = from + states.len() as u32;
                            feats.clear();
                            let mut layout = Layout::new(96);
                            let mut n_read = 0usize;
                            // The segments holding this block's meters, each with its rows.
                            let mut parts: Vec<(&Segment, std::ops::Range<usize>)> = segments
                                .iter()
                                .map(|seg| (seg, seg.rows_of_meters(from, to)))
                                .filter(|(_, rr)| !rr.is_empty())
                                .collect();
                            // Rows are in (meter, day) order within a segment. When no two
                            // segments share a meter (one ingest per meter and month, as a
                            // synthetic city or a monthly file gives), each meter's days come
                            // in order from its one segment, and rows go straight to the
                            // detectors; otherwise they are gathered and sorted first.
                            parts.sort_by_key(|(seg, rr)| seg.meters[rr.start]);
                            let streaming = parts.windows(2).all(|w| {
                                w[0].0.meters[w[0].1.end - 1] < w[1].0.meters[w[1].1.start]
                            });
                            let aw = cfg.active_watts / 4.0;
                            let burst_wh = cfg.routine.burst_wh;
                            let mut n_rows = 0usize;
                            for (seg, rr) in &parts {
                                layout = Layout::new(seg.slots);
                                let rows_before = n_rows;
                                // Read in chunks that stay in the core's cache while they are
                                // worked on.
                                let mut at = rr.start;
                                while at < rr.end {
                                    let end = (at + CHUNK_ROWS).min(rr.end);
                                    seg.read_values(at..end, &mut buf)?;
                                    let meters = &seg.meters[at..end];
                                    let days = &seg.days[at..end];
                                    rows_features(
                                        &buf,
                                        &seg.scales[at..end],
                                        &seg.missing[at..end],
                                        &layout,
                                        aw,
                                        |k| ctx.watch[meters[k] as usize].map(|_| burst_wh),
                                        &mut fbuf,
                                    );
                                    for ((&meter, &day), f) in meters.iter().zip(days).zip(&fbuf) {
                                        if range.is_some_and(|(a, z)| day < a || day > z) {
                                            continue;
                                        }
                                        seen = (seen.0.min(day), seen.1.max(day));
                                        n_rows += 1;
                                        if streaming {
                                            let s = &mut states[(meter - from) as usize];
                                            if day > s.last_day {
                                                ctx.step(meter, s, day, f, &layout, &mut out);
                                            }
                                        } else {
                                            feats.push((meter, day, *f));
                                        }
                                    }
                                    at = end;
                                }
                                // The readings of the days analysed (a range leaves out
                                // the rest of its months).
                                n_read += (n_rows - rows_before) * seg.slots;
                            }
                            if !streaming {
                                feats.sort_by_key(|&(m, d, _)| (m, d));
                                for &(m, d, ref f) in &feats {
                                    let s = &mut states[(m - from) as usize];
                                    if d <= s.last_day {
                                        continue;
                                    }
                                    ctx.step(m, s, d, f, &layout, &mut out);
                                }
                            }
                            rows.fetch_add(n_rows, Ordering::Relaxed);
                            readings.fetch_add(n_read, Ordering::Relaxed);
                        }
                        if let Ok(mut g) = first.lock() {
                            g.0 = g.0.min(seen.0);
                            g.1 = g.1.max(seen.1);
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| crate::err("a detector thread failed"))
                })
                .collect()
        });
        for r in results {
            outs.push(r?);
        }
    }
    let (first_day, last_day) = first.into_inner().unwrap_or((Day::MAX, Day::MIN));
    let mut tail = Out::new();
    for (bi, b) in states.iter_mut().enumerate() {
        if b.is_empty() {
            *b = fresh(bi);
        }
    }
    // The day most meters' readings reach (half of those with any reach it or later): a meter is
    // removed when it stops well before the others, not when one meter's file runs ahead of the
    // rest (a delivery that lags for most meters).
    let data_end = {
        let mut ends: Vec<Day> = states
            .iter()
            .flatten()
            .map(|s| s.last_day)
            .filter(|&d| d != Day::MIN)
            .collect();
        let k = ends.len().saturating_sub(1) / 2;
        if ends.is_empty() {
            last_day
        } else {
            *ends.select_nth_unstable_by(k, |a, b| b.cmp(a)).1
        }
    };
    // An episode goes on when it reaches (near) the end of its own meter's readings: where they
    // stop, nothing says it is over.
    let near_end = |d: Day, own_last: Day| {
        last_day != Day::MIN && d + (cfg.vacancy.gap_days as Day) >= own_last.min(last_day)
    };
    for (i, s) in states.iter_mut().flatten().enumerate() {
        let m = i as u32;
        if s.full_days > 0 {
            analysis.dwellings.push((m, s.full_days, s.unoccupied_days));
        }
        let own_last = s.last_day;
        let run_ongoing = near_end(s.run_last, own_last);
        ctx.close_run(m, s, &mut tail, run_ongoing);
        let dead_ongoing = near_end(s.dead_start + s.dead_len as Day - 1, own_last);
        ctx.close_dead(m, s, &mut tail, dead_ongoing);
        let gap_ongoing = near_end(s.gap_last, own_last);
        ctx.close_gap(m, s, &mut tail, gap_ongoing);
        // A meter that stopped reporting well before the others is removed (or its data is
        // missing).
        if s.last_day != Day::MIN
            && data_end != Day::MIN
            && s.last_day + (cfg.vacancy.fault_days as Day) < data_end
        {
            let spell = Spell {
                meter: m,
                from: s.last_day + 1,
                to: data_end,
                mean_kwh: 0.0,
            };
            tail.alerts
                .push(spell.alert(DetectorKind::Fault, "no_data", true));
            tail.faults.push(spell);
        }
    }
    outs.push(tail);
    let mut resumed: BTreeMap<u32, Vec<Day>> = BTreeMap::new();
    for o in outs {
        analysis.alerts.extend(o.alerts);
        analysis.vacancy.extend(o.vacancy);
        analysis.faults.extend(o.faults);
        analysis.gaps.extend(o.gaps);
        analysis.resumption.daily.extend(o.resumption);
        for (m, d) in o.resumed {
            resumed.entry(m).or_default().push(d);
        }
    }
    for v in resumed.values_mut() {
        v.sort_unstable();
    }
    analysis.resumption.resumed_on = resumed;
    analysis.resumption.threshold = cfg.resumption.threshold;
    analysis
        .resumption
        .daily
        .sort_by_key(|&(m, d, _, _)| (m, d));
    analysis.group_rental = group_scores(&states, registry, &ctx.kinds, cfg, threads);
    for g in analysis.group_rental.iter().filter(|g| g.flagged) {
        let m = g.meter as usize;
        let s = &states[m / BLOCK][m % BLOCK];
        analysis.alerts.push(Alert {
            meter: g.meter,
            detector: DetectorKind::GroupRental,
            reasons: vec!["group_rental"],
            day: s.last_day,
            since: s.first_day,
            ongoing: true,
            for_grid: true,
            days: s.occ_days,
            severity: 2,
            score: g.score,
        });
    }
    analysis.alerts = routine_episodes(
        std::mem::take(&mut analysis.alerts),
        cfg.routine.episode_gap_days,
    );
    if let Some(last) = analysis
        .last_day
        .or((last_day != Day::MIN).then_some(last_day))
    {
        for a in analysis.alerts.iter_mut() {
            if a.detector == DetectorKind::Routine {
                // Against the end of its own meter's readings: where they stop, nothing says
                // the break is over.
                let m = a.meter as usize;
                let own = states[m / BLOCK][m % BLOCK].last_day;
                let end = if own == Day::MIN { last } else { own.min(last) };
                a.ongoing = a.day + cfg.routine.episode_gap_days as Day >= end;
            }
        }
    }
    analysis
        .alerts
        .sort_by_key(|a| (a.day, a.meter, a.detector));
    analysis.gaps.sort_by_key(|s| (s.meter, s.from));
    analysis.dwellings.sort_unstable();
    analysis.vacancy.sort_by_key(|s| (s.meter, s.from));
    analysis.faults.sort_by_key(|s| (s.meter, s.from));
    analysis.rows = rows.into_inner() as u64;
    analysis.readings = readings.into_inner() as u64;
    analysis.data_end = (data_end != Day::MIN).then_some(data_end);
    if first_day <= last_day {
        analysis.first_day = Some(first_day);
        analysis.last_day = Some(last_day);
    }
    Ok(analysis)
}

fn robust(values: &mut [f32]) -> (f32, f32) {
    let med = median_in_place(values);
    for v in values.iter_mut() {
        *v = (*v - med).abs();
    }
    let mad = median_in_place(values) * 1.4826;
    (med, mad.max(1e-6))
}

fn group_scores(
    states: &[Vec<MeterState>],
    registry: &Registry,
    kinds: &[MeterKind],
    cfg: &Config,
    threads: usize,
) -> Vec<GroupScore> {
    let g = &cfg.group_rental;
    let two = threads >= 2 && states.len() >= 2;
    // Features per scored dwelling: level, evening share, spread, night share, weekend ratio.
    // Each half of the blocks on its own core when there are two, then joined in order.
    let features = |blocks: &[Vec<MeterState>], first: usize| -> Vec<(u32, [f32; 5])> {
        let mut rows = Vec::new();
        for (i, s) in blocks.iter().flatten().enumerate() {
            let i = first + i;
            if kinds.get(i) != Some(&MeterKind::Dwelling)
                || s.occ_days < g.min_days
                || s.sum_total <= 0.0
            {
                continue;
            }
            let n = s.occ_days as f64;
            let weekend = if s.weekend.1 > 0 && s.weekday.1 > 0 && s.weekday.0 > 0.0 {
                (s.weekend.0 / s.weekend.1 as f64) / (s.weekday.0 / s.weekday.1 as f64)
            } else {
                1.0
            };
            rows.push((
                i as u32,
                [
                    (s.sum_total / n) as f32,
                    (s.sum_evening / s.sum_total) as f32,
                    (s.sum_spread / n) as f32,
                    (s.sum_night / s.sum_total) as f32,
                    weekend as f32,
                ],
            ));
        }
        rows
    };
    let rows: Vec<(u32, [f32; 5])> = if two {
        let half = states.len() / 2;
        let (a, b) = states.split_at(half);
        let first_b: usize = a.iter().map(Vec::len).sum();
        let (mut ra, rb) = std::thread::scope(|sc| {
            let hb = sc.spawn(|| features(b, first_b));
            let ra = features(a, 0);
            (ra, hb.join())
        });
        // A panic on the other core is raised here, as it would be on this one.
        ra.extend(rb.unwrap_or_else(|e| std::panic::resume_unwind(e)));
        ra
    } else {
        features(states, 0)
    };
    // Dwellings grouped by their community's number in the register, then the communities put
    // in the order of their codes (so the scores do not depend on the register's order).
    let names = registry.communities();
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    for (k, (m, _)) in rows.iter().enumerate() {
        if let Some(group) = registry
            .community_of(*m)
            .and_then(|c| groups.get_mut(c as usize))
        {
            group.push(k);
        }
    }
    let mut numbers: Vec<usize> = (0..names.len())
        .filter(|&c| !groups[c].is_empty())
        .collect();
    numbers.sort_unstable_by(|&a, &b| names[a].cmp(&names[b]));
    let by_community: Vec<Vec<usize>> = numbers
        .into_iter()
        .map(|c| std::mem::take(&mut groups[c]))
        .collect();
    let all: Vec<usize> = (0..rows.len()).collect();
    let stats = |members: &[usize]| -> [(f32, f32); 5] {
        let mut out = [(0.0, 1.0); 5];
        for (j, o) in out.iter_mut().enumerate() {
            let mut v: Vec<f32> = members.iter().map(|&k| rows[k].1[j]).collect();
            *o = robust(&mut v);
        }
        out
    };
    // The district's figures are needed only for communities too small to compare within.
    let district = by_community
        .iter()
        .any(|m| m.len() < g.min_peers)
        .then(|| stats(&all));
    let score_all = |communities: &[Vec<usize>]| -> Vec<GroupScore> {
        let mut scores = Vec::new();
        for members in communities {
            let st = match district {
                Some(d) if members.len() < g.min_peers => d,
                _ => stats(members),
            };
            score_members(members, &rows, &st, g, &mut scores);
        }
        scores
    };
    // Communities are scored apart from each other: half of the dwellings on each core.
    let order =
        |a: &GroupScore, b: &GroupScore| b.score.total_cmp(&a.score).then(a.meter.cmp(&b.meter));
    if !two || by_community.len() < 2 {
        let mut scores = score_all(&by_community);
        scores.sort_unstable_by(order);
        return scores;
    }
    let mut at = 0;
    let mut seen = 0;
    while at < by_community.len() && seen * 2 < rows.len() {
        seen += by_community[at].len();
        at += 1;
    }
    let (a, b) = by_community.split_at(at.min(by_community.len() - 1).max(1));
    let (mut sa, sb) = std::thread::scope(|sc| {
        let hb = sc.spawn(|| {
            let mut sb = score_all(b);
            sb.sort_unstable_by(order);
            sb
        });
        let mut sa = score_all(a);
        sa.sort_unstable_by(order);
        (sa, hb.join())
    });
    let sb = sb.unwrap_or_else(|e| std::panic::resume_unwind(e));
    // The two sorted halves merged.
    let mut scores = Vec::with_capacity(sa.len() + sb.len());
    let mut ib = sb.into_iter().peekable();
    for x in sa.drain(..) {
        while let Some(y) = ib.next_if(|y| order(y, &x).is_lt()) {
            scores.push(y);
        }
        scores.push(x);
    }
    scores.extend(ib);
    scores
}

fn score_members(
    members: &[usize],
    rows: &[(u32, [f32; 5])],
    st: &[(f32, f32); 5],
    g: &GroupConfig,
    scores: &mut Vec<GroupScore>,
) {
    {
        for &k in members {
            let (m, x) = rows[k];
            let z: [f32; 5] = std::array::from_fn(|j| (x[j] - st[j].0) / st[j].1);
            // Level counts in full; shape (evening, spread, night, weekend) half each.
            let score = z[0].max(0.0) + 0.5 * z[1..].iter().map(|v| v.clamp(0.0, 6.0)).sum::<f32>();
            scores.push(GroupScore {
                meter: m,
                score,
                level_z: z[0],
                mean_kwh: x[0],
                flagged: score >= g.min_score && z[0] >= g.min_level_z,
            });
        }
    }
}

/// A meter's days over `[from, to]` (within its readings' span) for an alert's evidence chart:
/// the day's total (kWh), or `None` for a day without full data (missing slots, a repeated day
/// stored as missing, or no rows at all), so the chart draws a gap as a gap.
pub fn daily_series(
    store: &PowerStore,
    district: &str,
    meter: u32,
    from: Day,
    to: Day,
) -> Result<Vec<(Day, Option<f32>)>> {
    let rows = daily_rows(store, district, meter, from, to)?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut it = rows.iter().peekable();
    for d in first.0..=last.0 {
        let mut v = None;
        while let Some(&&(rd, total, full)) = it.peek() {
            if rd > d {
                break;
            }
            if rd == d && full {
                v = Some(total);
            }
            it.next();
        }
        out.push((d, v));
    }
    Ok(out)
}

/// A meter's daily totals (kWh) over `[from, to]`, the days it has rows for (over the slots
/// present).
pub fn daily_totals(
    store: &PowerStore,
    district: &str,
    meter: u32,
    from: Day,
    to: Day,
) -> Result<Vec<(Day, f32)>> {
    Ok(daily_rows(store, district, meter, from, to)?
        .into_iter()
        .map(|(d, t, _)| (d, t))
        .collect())
}

/// (day, total kWh over the slots present, whether every slot is present), in day order.
fn daily_rows(
    store: &PowerStore,
    district: &str,
    meter: u32,
    from: Day,
    to: Day,
) -> Result<Vec<(Day, f32, bool)>> {
    let mut out = Vec::new();
    let mut months: Vec<(i32, u32)> = Vec::new();
    for d in from..=to {
        let m = month_of(d);
        if months.last() != Some(&m) {
            months.push(m);
        }
    }
    let mut buf = Vec::new();
    for m in months {
        for seg in store.segments(district, m)? {
            let rr = seg.rows_of_meters(meter, meter + 1);
            if rr.is_empty() {
                continue;
            }
            seg.read_values(rr.clone(), &mut buf)?;
            let layout = Layout::new(seg.slots);
            for (k, row) in rr.enumerate() {
                let d = seg.days[row];
                if d < from || d > to {
                    continue;
                }
                let q = &buf[k * seg.slots..(k + 1) * seg.slots];
                let f = day_features(q, seg.scales[row], seg.missing[row], &layout, 0.0, None);
                out.push((d, f.total, seg.missing[row] == 0));
            }
        }
    }
    out.sort_by_key(|&(d, _, _)| d);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{Routine, low_quantile, quantile_f32};

    #[test]
    fn a_heavy_night_seen_in_the_week_before_is_the_households_week_unless_an_episode_goes_on() {
        // A heavy night (5 kWh against a usual 1) on day 100 that alerted.
        let mut r = Routine::default();
        r.remember_night(100, 5.0, true);
        // The same a week later: the household's week (a weekly hot cycle).
        assert!(r.night_recurs(107, 5.0, 1.0, 3));
        // The nights after an alerted one, even across a day without data: the episode goes on.
        assert!(!r.night_recurs(101, 5.0, 1.0, 3));
        assert!(!r.night_recurs(103, 5.0, 1.0, 3));
        // A night not half as far above the usual does not make a heavier one usual.
        let mut q = Routine::default();
        q.remember_night(100, 2.0, false);
        assert!(!q.night_recurs(105, 9.0, 1.0, 3));
        assert!(q.night_recurs(105, 2.5, 1.0, 3));
        // Older than a week: forgotten. Before anything is known, nothing recurs.
        assert!(!q.night_recurs(108, 2.0, 1.0, 3));
        assert!(!Routine::default().night_recurs(0, 5.0, 1.0, 3));
    }

    #[test]
    fn the_fast_low_quantile_agrees_with_the_selection() {
        let mut x = 0x2545_f491_u32;
        for n in 0..=20usize {
            for share in [0.0, 0.1, 0.25, 0.4, 0.5, 0.9] {
                let v: Vec<f32> = (0..n)
                    .map(|_| {
                        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        // Repeats too: a fridge's nights are often equal.
                        ((x >> 20) % 40) as f32 / 100.0
                    })
                    .collect();
                assert_eq!(
                    low_quantile(&v, share),
                    quantile_f32(&v, share),
                    "{v:?} {share}"
                );
            }
        }
    }
}
