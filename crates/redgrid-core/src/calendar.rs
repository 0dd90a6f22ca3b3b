//! The district calendar: working hours per weekday, statutory holidays and weekend days worked in
//! exchange (调休), one file per year, and working-time arithmetic on it. All times are Asia/Shanghai
//! (UTC+8, no daylight saving).
//!
//! The file is line-based so that a district's staff can keep it by hand:
//!
//! ```text
//! # 滨城新区 2026 年工作日历
//! year 2026
//! hours mon-fri 08:30-12:00 13:30-17:30
//! holiday 2026-01-01..2026-01-03 元旦
//! workday 2026-01-04 元旦调休上班
//! ```
//!
//! - `year YYYY` comes first, once; every date in the file lies in that year.
//! - `hours DAYS RANGE…` sets the working hours of weekdays (`mon`…`sun`, ranges like `mon-fri`, or
//!   lists like `mon,wed`); ranges are `HH:MM-HH:MM`, ascending and not overlapping. A day with no
//!   `hours` line is not a working day.
//! - `holiday DATE[..DATE] NAME` makes days non-working.
//! - `workday DATE NAME` makes a day working, with Monday's hours (a weekend day worked in exchange).
//! - `#` starts a comment; blank lines are ignored.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday,
};
use std::collections::BTreeMap;

/// Asia/Shanghai: UTC+8 all year.
pub const fn shanghai() -> FixedOffset {
    const OFFSET: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
        Some(o) => o,
        None => panic!("UTC+8 is a valid offset"), // evaluated at compile time
    };
    OFFSET
}

const US_PER_MIN: i64 = 60_000_000;

/// A working period within a day, in minutes after midnight: `[start, end)`.
pub type Span = (u32, u32);

/// One problem in a calendar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for CalendarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// One year of the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCalendar {
    pub year: i32,
    /// Working spans for Monday … Sunday.
    pub week: [Vec<Span>; 7],
    pub holidays: BTreeMap<NaiveDate, String>,
    pub workdays: BTreeMap<NaiveDate, String>,
}

fn weekday(s: &str) -> Option<usize> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .position(|d| *d == s)
}

fn parse_days(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (weekday(a), weekday(b));
                match (a, b) {
                    (Some(a), Some(b)) if a <= b => out.extend(a..=b),
                    _ => return Err(format!("bad day range {part:?} (use e.g. mon-fri)")),
                }
            }
            None => out.push(
                weekday(part).ok_or_else(|| format!("unknown day {part:?} (use mon … sun)"))?,
            ),
        }
    }
    Ok(out)
}

fn parse_time(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

fn parse_span(s: &str) -> Result<Span, String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("bad hours {s:?} (use HH:MM-HH:MM)"))?;
    let a = parse_time(a).ok_or_else(|| format!("bad time {a:?}"))?;
    let b = parse_time(b).ok_or_else(|| format!("bad time {b:?}"))?;
    if b <= a {
        return Err(format!("hours {s:?} end before they start"));
    }
    Ok((a, b))
}

fn parse_date(s: &str, year: i32) -> Result<NaiveDate, String> {
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("bad date {s:?} (use YYYY-MM-DD)"))?;
    if d.year() != year {
        return Err(format!("date {s} is not in {year}"));
    }
    Ok(d)
}

impl YearCalendar {
    /// Parses a calendar file. Every problem is reported with its line; nothing is returned unless the
    /// whole file is right.
    pub fn parse(text: &str) -> Result<YearCalendar, Vec<CalendarError>> {
        let mut errors = Vec::new();
        let mut year: Option<i32> = None;
        let mut week: [Vec<Span>; 7] = Default::default();
        let mut week_set = [false; 7];
        let mut holidays = BTreeMap::new();
        let mut workdays = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let mut err = |message: String| errors.push(CalendarError { line, message });
            let mut words = content.split_whitespace();
            let key = words.next().unwrap_or("");
            let rest: Vec<&str> = words.collect();
            if key != "year" && year.is_none() {
                err("the file must start with `year YYYY`".into());
                continue;
            }
            match key {
                "year" => match (year, rest.as_slice()) {
                    (Some(_), _) => err("`year` given twice".into()),
                    (None, [y]) => match y.parse::<i32>() {
                        Ok(v) if (2000..=2100).contains(&v) => year = Some(v),
                        _ => err(format!("bad year {y:?}")),
                    },
                    (None, _) => err("use `year YYYY`".into()),
                },
                "hours" => {
                    let Some((days, spans)) = rest.split_first() else {
                        err("use `hours DAYS HH:MM-HH:MM …`".into());
                        continue;
                    };
                    let days = match parse_days(days) {
                        Ok(d) => d,
                        Err(e) => {
                            err(e);
                            continue;
                        }
                    };
                    if spans.is_empty() {
                        err("`hours` needs at least one HH:MM-HH:MM".into());
                        continue;
                    }
                    let mut parsed = Vec::new();
                    for s in spans {
                        match parse_span(s) {
                            Ok(span) => parsed.push(span),
                            Err(e) => err(e),
                        }
                    }
                    if parsed.len() != spans.len() {
                        continue;
                    }
                    if parsed.windows(2).any(|w| w[1].0 < w[0].1) {
                        err("hours overlap or are not in order".into());
                        continue;
                    }
                    for d in days {
                        if week_set[d] {
                            err(format!(
                                "hours for {} are given twice",
                                ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][d]
                            ));
                        } else {
                            week_set[d] = true;
                            week[d] = parsed.clone();
                        }
                    }
                }
                "holiday" | "workday" => {
                    let y = year.unwrap_or_default();
                    let Some((dates, name)) = rest.split_first() else {
                        err(format!("use `{key} DATE NAME`"));
                        continue;
                    };
                    let name = name.join(" ");
                    if name.is_empty() {
                        err(format!("`{key}` needs a name, e.g. 国庆节"));
                        continue;
                    }
                    let range = match dates.split_once("..") {
                        Some((a, b)) if key == "holiday" => {
                            parse_date(a, y).and_then(|a| parse_date(b, y).map(|b| (a, b)))
                        }
                        Some(_) => Err("a workday is a single date".into()),
                        None => parse_date(dates, y).map(|d| (d, d)),
                    };
                    let (from, to) = match range {
                        Ok(r) => r,
                        Err(e) => {
                            err(e);
                            continue;
                        }
                    };
                    if to < from {
                        err(format!("{from}..{to} ends before it starts"));
                        continue;
                    }
                    for d in from.iter_days().take_while(|d| *d <= to) {
                        if holidays.contains_key(&d) || workdays.contains_key(&d) {
                            err(format!("{d} is already listed"));
                        } else if key == "holiday" {
                            holidays.insert(d, name.clone());
                        } else {
                            workdays.insert(d, name.clone());
                        }
                    }
                }
                other => err(format!(
                    "unknown key {other:?} (use year, hours, holiday, workday)"
                )),
            }
        }
        let Some(year) = year else {
            if errors.is_empty() {
                errors.push(CalendarError {
                    line: 1,
                    message: "the file has no `year YYYY` line".into(),
                });
            }
            return Err(errors);
        };
        if week.iter().all(Vec::is_empty) {
            errors.push(CalendarError {
                line: text.lines().count().max(1),
                message: "no `hours` line: the calendar has no working time".into(),
            });
        }
        // A 调休 workday must be a day that is otherwise not working.
        let lines: Vec<&str> = text.lines().collect();
        for d in workdays.keys() {
            if !week[d.weekday().num_days_from_monday() as usize].is_empty() {
                let line = lines
                    .iter()
                    .position(|l| {
                        l.contains(&d.to_string()) && l.trim_start().starts_with("workday")
                    })
                    .map(|i| i + 1)
                    .unwrap_or(1);
                errors.push(CalendarError {
                    line,
                    message: format!("{d} is a {} and already a working day", d.weekday()),
                });
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.line);
            return Err(errors);
        }
        Ok(YearCalendar {
            year,
            week,
            holidays,
            workdays,
        })
    }

    /// The working spans of a date in this year.
    pub fn spans(&self, date: NaiveDate) -> &[Span] {
        if self.holidays.contains_key(&date) {
            &[]
        } else if self.workdays.contains_key(&date) {
            &self.week[0]
        } else {
            &self.week[date.weekday().num_days_from_monday() as usize]
        }
    }
}

/// The calendars of all years a district has, with the weekly hours of the nearest year used for a
/// year without a file (and no holidays there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, YearCalendar>,
}

/// The calendar used when a district has given none: Monday to Friday, 08:30–12:00 and 13:30–17:30,
/// with no holidays.
pub fn default_week() -> YearCalendar {
    let day = vec![(8 * 60 + 30, 12 * 60), (13 * 60 + 30, 17 * 60 + 30)];
    YearCalendar {
        year: 0,
        week: [
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            day,
            Vec::new(),
            Vec::new(),
        ],
        holidays: BTreeMap::new(),
        workdays: BTreeMap::new(),
    }
}

/// How far working-time arithmetic may look ahead before giving up (a calendar with no working time).
const MAX_DAYS: i64 = 3 * 366;

impl Calendar {
    pub fn new(years: Vec<YearCalendar>) -> Self {
        let mut map = BTreeMap::new();
        for y in years {
            map.insert(y.year, y);
        }
        if map.is_empty() {
            map.insert(0, default_week());
        }
        Calendar { years: map }
    }

    /// The years with their own file.
    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().filter(|y| *y != 0).collect()
    }

    fn year_for(&self, year: i32) -> &YearCalendar {
        if let Some(y) = self.years.get(&year) {
            return y;
        }
        let before = self.years.range(..year).next_back().map(|(_, y)| y);
        let after = self.years.range(year..).next().map(|(_, y)| y);
        // `new` always holds at least one year.
        before.or(after).unwrap_or_else(|| fallback())
    }

    /// The working spans of a local date.
    pub fn spans(&self, date: NaiveDate) -> &[Span] {
        let y = self.year_for(date.year());
        if y.year == date.year() {
            y.spans(date)
        } else {
            &y.week[date.weekday().num_days_from_monday() as usize]
        }
    }

    /// The length of a standard working day (Monday's hours in the latest year), in minutes; at least
    /// one hour. "N working days" means N times this.
    pub fn day_minutes(&self) -> i64 {
        let latest = self
            .years
            .values()
            .next_back()
            .unwrap_or_else(|| fallback());
        let monday: u32 = latest.week[Weekday::Mon.num_days_from_monday() as usize]
            .iter()
            .map(|(a, b)| b - a)
            .sum();
        i64::from(monday.max(60))
    }

    /// The instant `minutes` of working time after `start`; the first working instant when `minutes`
    /// is 0. None when the calendar has no working time within three years.
    pub fn add(&self, start: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
        self.add_micros(start, minutes.max(0) * US_PER_MIN)
    }

    /// Like [`Calendar::add`], in microseconds of working time.
    pub fn add_micros(&self, start: DateTime<Utc>, micros: i64) -> Option<DateTime<Utc>> {
        let local = start.with_timezone(&shanghai()).naive_local();
        let mut date = local.date();
        let mut at = micros_of_day(local);
        let mut left = micros.max(0);
        for _ in 0..MAX_DAYS {
            for &(a, b) in self.spans(date) {
                let (a, b) = (i64::from(a) * US_PER_MIN, i64::from(b) * US_PER_MIN);
                let from = a.max(at);
                if from >= b {
                    continue;
                }
                if left <= b - from {
                    return local_instant(date, from + left);
                }
                left -= b - from;
            }
            date = date.succ_opt()?;
            at = 0;
        }
        None
    }

    /// Microseconds of working time between two instants (0 when `to` is not after `from`).
    pub fn measure_micros(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let tz = shanghai();
        let (a, b) = (
            from.with_timezone(&tz).naive_local(),
            to.with_timezone(&tz).naive_local(),
        );
        let mut total = 0;
        for date in a.date().iter_days().take_while(|d| *d <= b.date()) {
            let day_start = if date == a.date() {
                micros_of_day(a)
            } else {
                0
            };
            let day_end = if date == b.date() {
                micros_of_day(b)
            } else {
                24 * 60 * US_PER_MIN
            };
            for &(s, e) in self.spans(date) {
                let lo = (i64::from(s) * US_PER_MIN).max(day_start);
                let hi = (i64::from(e) * US_PER_MIN).min(day_end);
                if hi > lo {
                    total += hi - lo;
                }
            }
        }
        total
    }

    /// Working minutes between two instants.
    pub fn measure(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
        self.measure_micros(from, to) as f64 / US_PER_MIN as f64
    }

    /// Whether an instant lies within working time (span ends included).
    pub fn is_working(&self, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&shanghai()).naive_local();
        let m = micros_of_day(local);
        self.spans(local.date())
            .iter()
            .any(|&(a, b)| m >= i64::from(a) * US_PER_MIN && m <= i64::from(b) * US_PER_MIN)
    }
}

fn fallback() -> &'static YearCalendar {
    static FALLBACK: std::sync::OnceLock<YearCalendar> = std::sync::OnceLock::new();
    FALLBACK.get_or_init(default_week)
}

fn micros_of_day(t: NaiveDateTime) -> i64 {
    use chrono::Timelike;
    i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(t.nanosecond() / 1000)
}

fn local_instant(date: NaiveDate, micros: i64) -> Option<DateTime<Utc>> {
    let naive = date.and_hms_opt(0, 0, 0)? + Duration::microseconds(micros);
    shanghai()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# 滨城新区 2026\nyear 2026\nhours mon-fri 08:30-12:00 13:30-17:30\n\
        holiday 2026-10-01..2026-10-07 国庆节\nworkday 2026-09-20 国庆调休\nworkday 2026-10-10 国庆调休\n";

    fn cal() -> Calendar {
        Calendar::new(vec![
            YearCalendar::parse(SAMPLE).unwrap_or_else(|e| panic!("{e:?}")),
        ])
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        shanghai()
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn the_sample_parses() {
        let y = YearCalendar::parse(SAMPLE).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(y.year, 2026);
        assert_eq!(y.holidays.len(), 7);
        assert_eq!(y.workdays.len(), 2);
        assert_eq!(y.week[0], vec![(510, 720), (810, 1050)]);
        assert!(y.week[5].is_empty() && y.week[6].is_empty());
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let text = "year 2026\nhours mon-fri 09:00-12:00 11:00-17:00\nhours mon 09:00-10:00\nholiday 2026-13-01 坏日期\n\
                    holiday 2025-12-31 去年\nworkday 2026-10-12 周一已上班\nfoo bar\nholiday 2026-05-01\nhours xyz 09:00-10:00\n\
                    hours sat 10:00-09:00\nholiday 2026-05-03..2026-05-01 反了\n";
        let errors = YearCalendar::parse(text).err().unwrap_or_default();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 4, 5, 6, 7, 8, 9, 10, 11], "{errors:?}");
        assert!(errors[0].message.contains("overlap"));
        assert!(errors[4].message.contains("unknown key"));
        let missing_year = YearCalendar::parse("hours mon 09:00-10:00\n")
            .err()
            .unwrap_or_default();
        assert_eq!(missing_year[0].line, 1);
        let twice = YearCalendar::parse(
            "year 2026\nhours mon-fri 09:00-17:00\nholiday 2026-05-01 a\nholiday 2026-05-01 b\n",
        )
        .err()
        .unwrap_or_default();
        assert_eq!(
            (twice[0].line, twice[0].message.contains("already listed")),
            (4, true)
        );
        let nothing = YearCalendar::parse("year 2026\n").err().unwrap_or_default();
        assert!(nothing[0].message.contains("no working time"));
        assert!(YearCalendar::parse("year 2026\nhours mon 24:00-24:30\n").is_err());
    }

    #[test]
    fn adding_working_time_skips_nights_weekends_and_holidays() {
        let c = cal();
        // Friday 16:30 + 2 working hours = Monday 09:30 (one hour Friday, one hour Monday).
        assert_eq!(
            c.add(at(2026, 11, 20, 16, 30), 120),
            Some(at(2026, 11, 23, 9, 30))
        );
        // Lunch is not working time: 11:30 + 1 h = 14:00.
        assert_eq!(
            c.add(at(2026, 11, 23, 11, 30), 60),
            Some(at(2026, 11, 23, 14, 0))
        );
        // Before work starts, the clock starts at 08:30.
        assert_eq!(
            c.add(at(2026, 11, 23, 6, 0), 30),
            Some(at(2026, 11, 23, 9, 0))
        );
        // The national-day week is a holiday; Sunday 20 September and Saturday 10 October are worked.
        assert_eq!(
            c.add(at(2026, 9, 30, 17, 0), 60),
            Some(at(2026, 10, 8, 9, 0))
        );
        assert_eq!(
            c.add(at(2026, 9, 19, 12, 0), 30),
            Some(at(2026, 9, 20, 9, 0))
        );
        assert!(c.is_working(at(2026, 10, 10, 10, 0)));
        assert!(!c.is_working(at(2026, 10, 5, 10, 0)));
        assert!(
            !c.is_working(at(2026, 11, 21, 10, 0)),
            "an ordinary Saturday"
        );
        // One working day is Monday's hours: 7.5 h.
        assert_eq!(c.day_minutes(), 450);
        // An instant exactly at the end of the day is still within working time.
        assert_eq!(
            c.add(at(2026, 11, 23, 8, 30), 450),
            Some(at(2026, 11, 23, 17, 30))
        );
    }

    #[test]
    fn measuring_counts_only_working_time() {
        let c = cal();
        assert_eq!(
            c.measure(at(2026, 11, 20, 16, 30), at(2026, 11, 23, 9, 30)),
            120.0
        );
        assert_eq!(c.measure(at(2026, 10, 1, 0, 0), at(2026, 10, 8, 0, 0)), 0.0);
        assert_eq!(
            c.measure(at(2026, 11, 23, 12, 0), at(2026, 11, 23, 13, 30)),
            0.0
        );
        assert_eq!(
            c.measure(at(2026, 11, 24, 0, 0), at(2026, 11, 23, 0, 0)),
            0.0
        );
    }

    #[test]
    fn years_without_a_file_use_the_nearest_years_week() {
        let c = cal();
        // 2027-01-01 is a Friday: an ordinary working day without a 2027 file.
        assert!(c.is_working(at(2027, 1, 1, 9, 0)));
        let d = Calendar::new(vec![]);
        assert!(d.is_working(at(2026, 11, 23, 9, 0)));
        assert_eq!(d.years(), Vec::<i32>::new());
    }

    /// SplitMix64, for repeatable random cases.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn property_adding_and_measuring_agree_and_deadlines_fall_in_working_time() {
        let c = cal();
        let base = at(2026, 1, 1, 0, 0);
        let mut rng = Rng(7);
        for _ in 0..5000 {
            // Any instant in 2026 (to the microsecond) and up to 40 working days.
            let start = base + Duration::microseconds((rng.next() % (365 * 86_400_000_000)) as i64);
            let micros = (rng.next() % (40 * 420 * 60_000_000)) as i64 + 1;
            let due = c
                .add_micros(start, micros)
                .unwrap_or_else(|| panic!("no deadline from {start}"));
            assert_eq!(
                c.measure_micros(start, due),
                micros,
                "from {start} plus {micros}µs = {due}"
            );
            assert!(c.is_working(due), "{due} is outside working time");
            assert!(due > start);
            // Never a holiday, never an ordinary weekend.
            let local = due.with_timezone(&shanghai()).date_naive();
            assert!(!c.spans(local).is_empty());
        }
    }
}
