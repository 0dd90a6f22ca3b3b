//! Reading ingestion: the power company's CSV exports, checked row by row before anything is
//! stored.
//!
//! A file has a header naming three columns — the meter (`meter`, `户号`, `电表号`), the time
//! (`time`, `date`, `时间`, `日期`) and the reading (`kwh`, `电量`, `用电量`) — in any order, and one
//! reading a line. A time is a date (`2026-03-01`: a daily total) or the start of an interval
//! (`2026-03-01T00:15:00+08:00`, `2026-03-01 00:15`; without a zone it is the district's). The
//! interval (15, 30 or 60 minutes, or daily) is found from the times.
//!
//! Problems are counted by kind, with the first examples and their line numbers:
//! - the file is refused whole for wrong columns, a truncated last line, mixed intervals, times
//!   out of order for a meter, times in another zone, and meters of another district;
//! - bad rows (unknown meter, duplicate, already stored, not a number, negative, impossible)
//!   refuse the file too unless the operator asks to skip them, and then they are listed;
//! - gaps (missing intervals) are reported and stored as missing slots.
//!
//! Nothing is written unless the file is accepted, and then it is written as one batch.

use crate::format::{PowerStore, encode_row, key};
use crate::meters::{MeterKind, Registry};
use crate::{Day, Result, day_of, month_of};
use std::collections::BTreeMap;
use std::io::BufRead;

/// Splits one CSV line (quotes with doubled quotes inside).
pub fn split_csv(line: &str) -> Vec<String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

pub fn push_csv_cell(out: &mut String, cell: &str) {
    if cell.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub district: String,
    /// Store the good rows and list the bad ones, instead of refusing the file.
    pub skip_bad_rows: bool,
    /// The district's offset from UTC in minutes (China: 480).
    pub zone_minutes: i32,
    /// The most a dwelling or an enterprise can use in a quarter-hour (kWh).
    pub dwelling_max_kwh_per_quarter: f64,
    pub enterprise_max_kwh_per_quarter: f64,
}

impl Options {
    pub fn new(district: &str) -> Self {
        Options {
            district: district.into(),
            skip_bad_rows: false,
            zone_minutes: 480,
            dwelling_max_kwh_per_quarter: 15.0,
            enterprise_max_kwh_per_quarter: 25_000.0,
        }
    }
}

/// The kinds of problem, in the order a report lists them.
pub const FILE_PROBLEMS: [&str; 8] = [
    "columns",
    "unreadable",
    "encoding",
    "no_readings",
    "truncated",
    "mixed_intervals",
    "time_zone",
    "other_district",
];
pub const ROW_PROBLEMS: [&str; 7] = [
    "fields",
    "unknown_meter",
    "bad_time",
    "bad_value",
    "negative",
    "impossible",
    "duplicate",
];

pub fn problem_text(kind: &str, zh: bool) -> &'static str {
    match (kind, zh) {
        ("columns", true) => "表头不对",
        ("columns", false) => "wrong columns",
        ("truncated", true) => "文件不完整（最后一行被截断）",
        ("truncated", false) => "the file is truncated",
        ("mixed_intervals", true) => "采集间隔不一致",
        ("mixed_intervals", false) => "mixed intervals",
        ("unreadable", true) => "文件已损坏，无法读取",
        ("unreadable", false) => "the file is damaged and cannot be read",
        ("encoding", true) => "文件不是 UTF-8 编码（请另存为“CSV UTF-8”）",
        ("encoding", false) => "not UTF-8 text (save it as CSV UTF-8)",
        ("no_readings", true) => "文件只有表头，没有读数",
        ("no_readings", false) => "a header but no readings",
        ("time_zone", true) => "时间不是本区时区",
        ("time_zone", false) => "a time in another time zone",
        ("other_district", true) => "电表属于其他区",
        ("other_district", false) => "a meter of another district",
        ("fields", true) => "列数不对",
        ("fields", false) => "wrong number of fields",
        ("unknown_meter", true) => "电表不在台账中",
        ("unknown_meter", false) => "unknown meter",
        ("bad_time", true) => "时间格式不对",
        ("bad_time", false) => "not a time",
        ("bad_value", true) => "电量不是数字",
        ("bad_value", false) => "not a number",
        ("negative", true) => "电量为负",
        ("negative", false) => "negative reading",
        ("impossible", true) => "电量超出可能范围",
        ("impossible", false) => "impossible reading",
        ("duplicate", true) => "重复读数（文件内或已入库）",
        ("duplicate", false) => "duplicate reading (in the file or already stored)",
        ("gap", true) => "缺少时段（按缺失保存）",
        ("gap", false) => "missing intervals (stored as missing)",
        ("repeated_day", true) => "整天读数与前一天完全相同（采集系统补数，按缺失保存）",
        ("repeated_day", false) => {
            "a whole day repeating the day before exactly (a head-end filler, stored as missing)"
        }
        (_, true) => "其他问题",
        (_, false) => "other problem",
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Problem {
    pub count: u64,
    /// (line, what was found), the first few.
    pub examples: Vec<(u64, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub lines: u64,
    pub readings: u64,
    pub meter_days: u64,
    pub interval_minutes: Option<u16>,
    pub problems: BTreeMap<String, Problem>,
    pub gaps: Problem,
    /// Whole days that repeat the day before exactly, stored as missing.
    pub repeated_days: Problem,
    /// The file's own interval when it was finer than a quarter-hour (1 or 5 minutes): its
    /// readings were summed to quarter-hours.
    pub summed_from_minutes: Option<u16>,
    pub ingested: bool,
    pub segments: usize,
}

impl Report {
    /// Where the meter, time and value columns are among a file's column names, or a `columns`
    /// problem (at `line`) when one is missing.
    fn columns(&mut self, names: &[String], line: u64) -> Option<(usize, usize, usize)> {
        let found = (
            find_column(names, &METER_NAMES),
            find_column(names, &TIME_NAMES),
            find_column(names, &VALUE_NAMES),
        );
        if let (Some(m), Some(t), Some(v)) = found {
            return Some((m, t, v));
        }
        let what = format!(
            "need meter, time and kwh columns (户号, 时间, 电量); found {}",
            names.join(",").trim()
        );
        self.add("columns", line, what);
        None
    }

    /// Counts a meter-day's missing intervals (`missing` of `slots`), with an example line.
    fn gap(
        &mut self,
        registry: &Registry,
        meter: u32,
        day: Day,
        line: u64,
        (missing, slots): (u64, usize),
        why: &str,
    ) {
        self.gaps.count += missing;
        if self.gaps.examples.len() < 5 {
            let code = registry.get(meter).map_or("", |m| m.code.as_str());
            let date = crate::date_of(day);
            let text = format!("{code} {date}: {missing} of {slots} intervals missing{why}");
            self.gaps.examples.push((line, text));
        }
    }

    fn add(&mut self, kind: &str, line: u64, what: impl Into<String>) {
        let p = self.problems.entry(kind.to_string()).or_default();
        p.count += 1;
        if p.examples.len() < 5 {
            p.examples.push((line, what.into()));
        }
    }

    pub fn refused_for_file(&self) -> bool {
        FILE_PROBLEMS.iter().any(|k| self.problems.contains_key(*k))
    }

    pub fn bad_rows(&self) -> u64 {
        ROW_PROBLEMS
            .iter()
            .filter_map(|k| self.problems.get(*k))
            .map(|p| p.count)
            .sum()
    }

    /// The report as text, in Chinese or English.
    pub fn render(&self, zh: bool) -> String {
        // A problem's examples, each with its line ("第 N 行" in Chinese).
        let examples = |s: &mut String, p: &Problem| {
            for (line, what) in &p.examples {
                if zh {
                    s.push_str(&format!("    第 {line} 行: {what}\n"));
                } else {
                    s.push_str(&format!("    line {line}: {what}\n"));
                }
            }
        };
        let mut s = String::new();
        let kinds = FILE_PROBLEMS.iter().chain(ROW_PROBLEMS.iter());
        for k in kinds {
            if let Some(p) = self.problems.get(*k) {
                s.push_str(&format!("  {} ({k}): {}\n", problem_text(k, zh), p.count));
                examples(&mut s, p);
            }
        }
        // Only a stored file was summed: a refused one was not stored at all.
        if let Some(m) = self.summed_from_minutes.filter(|_| self.ingested) {
            s.push_str(&if zh {
                format!("  每 {m} 分钟的读数已按 15 分钟汇总（缺任一分钟读数的时段按缺失保存）\n")
            } else {
                format!(
                    "  readings every {m} minutes were summed to quarter-hours (a quarter-hour missing any of them is stored as missing)\n"
                )
            });
        }
        // What was stored as missing: nothing, for a refused file.
        for (kind, p) in [("gap", &self.gaps), ("repeated_day", &self.repeated_days)] {
            if p.count == 0 || !self.ingested {
                continue;
            }
            s.push_str(&format!(
                "  {} ({kind}): {}\n",
                problem_text(kind, zh),
                p.count
            ));
            examples(&mut s, p);
        }
        s
    }
}

struct Parsed {
    meter: u32,
    /// Minutes since 1970-01-01 00:00 local time.
    minute: i64,
    wh: f64,
    line: u64,
}

enum Time {
    Day(Day),
    Minute(i64),
}

fn parse_time(s: &str, zone_minutes: i32) -> std::result::Result<Time, &'static str> {
    let s = s.trim();
    // Every form a time takes is ASCII; anything else is not a time (and byte offsets below stay
    // on character boundaries).
    if !s.is_ascii() {
        return Err("bad_time");
    }
    // Readings from 2000 to 2099: a year outside is a typo (and would fall before the first day
    // the stored format counts from).
    let plausible = |d: chrono::NaiveDate| {
        use chrono::Datelike;
        (2000..2100).contains(&d.year())
    };
    if s.len() == 10 {
        let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| "bad_time")?;
        if !plausible(d) {
            return Err("bad_time");
        }
        return Ok(Time::Day(day_of(d)));
    }
    if s.len() < 16 {
        return Err("bad_time");
    }
    let (date, rest) = s.split_at(10);
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| "bad_time")?;
    if !plausible(d) {
        return Err("bad_time");
    }
    let rest = rest.strip_prefix(['T', ' ']).ok_or("bad_time")?;
    let (clock, zone) = match rest.find(['+', '-', 'Z']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut parts = clock.split(':');
    let h: i64 = parts
        .next()
        .and_then(|x| x.parse().ok())
        .ok_or("bad_time")?;
    let m: i64 = parts
        .next()
        .and_then(|x| x.parse().ok())
        .ok_or("bad_time")?;
    let sec: f64 = match parts.next() {
        Some(x) => x.parse().map_err(|_| "bad_time")?,
        None => 0.0,
    };
    if !(0..24).contains(&h) || !(0..60).contains(&m) || sec != 0.0 {
        return Err("bad_time");
    }
    if !zone.is_empty() {
        let offset = if zone == "Z" {
            0
        } else {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let digits: String = zone[1..].chars().filter(|c| c.is_ascii_digit()).collect();
            let (zh, zm) = match digits.len() {
                2 => (digits.parse::<i32>().map_err(|_| "bad_time")?, 0),
                4 => (
                    digits[..2].parse::<i32>().map_err(|_| "bad_time")?,
                    digits[2..].parse::<i32>().map_err(|_| "bad_time")?,
                ),
                _ => return Err("bad_time"),
            };
            sign * (zh * 60 + zm)
        };
        if offset != zone_minutes {
            return Err("time_zone");
        }
    }
    Ok(Time::Minute(day_of(d) as i64 * 1440 + h * 60 + m))
}

/// Reports each meter whose own step is not the file's `step`, and each time off that step, at
/// its line (`mixed_intervals`); true when there was any.
fn off_step(
    report: &mut Report,
    registry: &Registry,
    own: &BTreeMap<u32, (i64, u64)>,
    rows: &[Parsed],
    step: i64,
) -> bool {
    let code = |m: u32| registry.get(m).map_or("", |m| m.code.as_str());
    let mut any = false;
    for (&m, &(s, line)) in own.iter().filter(|(_, (s, _))| *s != step) {
        any = true;
        let what = format!("{} reads every {s} minutes, the file every {step}", code(m));
        report.add("mixed_intervals", line, what);
    }
    for r in rows.iter().filter(|r| r.minute % step != 0) {
        any = true;
        let what = format!(
            "{} reads at a time off the file's {step}-minute step",
            code(r.meter)
        );
        report.add("mixed_intervals", r.line, what);
    }
    any
}

/// Each meter's step in `rows` (in meter and time order): the gap between consecutive readings
/// seen most often, the smaller on a tie, with the line where it first shows. A meter with one
/// reading has none.
fn own_steps(rows: &[Parsed]) -> BTreeMap<u32, (i64, u64)> {
    let mut out = BTreeMap::new();
    // The current meter's gaps: gap -> (times seen, first line).
    let mut gaps: BTreeMap<i64, (u32, u64)> = BTreeMap::new();
    let mut flush = |meter: u32, gaps: &mut BTreeMap<i64, (u32, u64)>| {
        // Most often first; on a tie the smaller gap (the map iterates in gap order).
        let mut best: Option<(i64, u32, u64)> = None;
        for (&g, &(n, line)) in gaps.iter() {
            if best.is_none_or(|(_, bn, _)| n > bn) {
                best = Some((g, n, line));
            }
        }
        if let Some((g, _, line)) = best {
            out.insert(meter, (g, line));
        }
        gaps.clear();
    };
    for w in rows.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if a.meter != b.meter {
            flush(a.meter, &mut gaps);
            continue;
        }
        gaps.entry(b.minute - a.minute).or_insert((0, b.line)).0 += 1;
    }
    if let Some(last) = rows.last() {
        flush(last.meter, &mut gaps);
    }
    out
}

fn find_column(names: &[String], options: &[&str]) -> Option<usize> {
    names.iter().position(|n| {
        let n = n.trim().trim_start_matches('\u{feff}').to_lowercase();
        options.iter().any(|o| *o == n)
    })
}

const METER_NAMES: [&str; 6] = ["meter", "meter_id", "code", "户号", "电表号", "电表"];
const TIME_NAMES: [&str; 7] = [
    "time",
    "timestamp",
    "datetime",
    "date",
    "时间",
    "日期",
    "采集时间",
];
const VALUE_NAMES: [&str; 6] = ["kwh", "value", "reading", "电量", "用电量", "电量(kwh)"];

/// Checks rows one at a time (from any file format) and keeps the good ones.
struct Checker<'a> {
    registry: &'a Registry,
    options: &'a Options,
    report: Report,
    rows: Vec<Parsed>,
    daily: Option<bool>,
}

impl<'a> Checker<'a> {
    fn new(registry: &'a Registry, options: &'a Options) -> Self {
        Checker {
            registry,
            options,
            report: Report::default(),
            rows: Vec::new(),
            daily: None,
        }
    }

    /// One row: the meter's code, the time and the reading as text. `complete` is false for a
    /// CSV's last line without its newline (a cut there is a truncated file).
    fn row(&mut self, line_no: u64, code: &str, time: &str, raw: &str, complete: bool, text: &str) {
        let report = &mut self.report;
        let cut = |report: &mut Report| {
            report.add(
                "truncated",
                line_no,
                format!("the file ends inside this line: {text:?}"),
            );
        };
        let code = code.trim();
        let Some(meter) = self.registry.index_of(code) else {
            if code.len() >= 6
                && !code.starts_with(&self.options.district)
                && code.bytes().take(6).all(|b| b.is_ascii_digit())
            {
                report.add("other_district", line_no, code.to_string());
            } else if !complete {
                cut(report);
            } else {
                report.add("unknown_meter", line_no, code.to_string());
            }
            return;
        };
        let Some(m) = self.registry.get(meter) else {
            return;
        };
        if m.district() != self.options.district {
            report.add(
                "other_district",
                line_no,
                format!("{code} is in district {}", m.district()),
            );
            return;
        }
        // A file holds dates (daily totals) or times (intervals), never both.
        let (minute, daily, stray) = match parse_time(time, self.options.zone_minutes) {
            Ok(Time::Day(d)) => (d as i64 * 1440, true, "a date among times"),
            Ok(Time::Minute(t)) => (t, false, "a time among dates"),
            Err(kind) => {
                if !complete {
                    cut(report);
                } else {
                    report.add(kind, line_no, time.trim().to_string());
                }
                return;
            }
        };
        if self.daily == Some(!daily) {
            let detail = format!("{stray}: {}", time.trim());
            report.add("mixed_intervals", line_no, detail);
            return;
        }
        self.daily = Some(daily);
        let raw = raw.trim();
        if !complete && (raw.is_empty() || raw.ends_with(['.', '-', 'e', 'E'])) {
            cut(report);
            return;
        }
        let kwh: f64 = match raw.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => {
                if complete {
                    report.add("bad_value", line_no, raw.to_string());
                } else {
                    cut(report);
                }
                return;
            }
        };
        if kwh < 0.0 {
            report.add("negative", line_no, raw.to_string());
            return;
        }
        self.rows.push(Parsed {
            meter,
            minute,
            wh: kwh * 1000.0,
            line: line_no,
        });
    }
}

/// Checks a CSV file of readings and, if it is good, stores it as one batch. `progress` gets
/// the bytes read so far.
pub fn ingest_csv(
    store: &PowerStore,
    registry: &Registry,
    input: &mut dyn BufRead,
    options: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<Report> {
    let mut checker = Checker::new(registry, options);
    let mut raw: Vec<u8> = Vec::new();
    let mut line = String::new();
    let mut bytes = 0u64;
    // One line as text; `None` (and the problem reported) when it is not UTF-8.
    let mut next_line = |raw: &mut Vec<u8>,
                         line: &mut String,
                         line_no: u64,
                         report: &mut Report|
     -> std::io::Result<Option<usize>> {
        raw.clear();
        line.clear();
        let n = input.read_until(b'\n', raw)?;
        match std::str::from_utf8(raw) {
            Ok(text) => {
                line.push_str(text);
                Ok(Some(n))
            }
            Err(_) => {
                report.add(
                    "encoding",
                    line_no,
                    "bytes that are not UTF-8 (an Excel CSV saved as GBK?)",
                );
                Ok(None)
            }
        }
    };
    let Some(n) = next_line(&mut raw, &mut line, 1, &mut checker.report)? else {
        checker.report.lines = 1;
        return Ok(checker.report);
    };
    bytes += n as u64;
    if n == 0 {
        checker.report.add("columns", 1, "the file is empty");
        return Ok(checker.report);
    }
    let names = split_csv(line.trim_end_matches('\n'));
    let Some((mi, ti, vi)) = checker.report.columns(&names, 1) else {
        return Ok(checker.report);
    };
    let width = names.len();
    let mut line_no = 1u64;
    loop {
        let Some(n) = next_line(&mut raw, &mut line, line_no + 1, &mut checker.report)? else {
            // Read up to the line that is not UTF-8.
            checker.report.lines = line_no + 1;
            return Ok(checker.report);
        };
        if n == 0 {
            break;
        }
        bytes += n as u64;
        line_no += 1;
        if line_no.is_multiple_of(65_536) {
            progress(bytes);
        }
        let complete = line.ends_with('\n');
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let cells = split_csv(text);
        if cells.len() != width {
            if complete {
                checker.report.add(
                    "fields",
                    line_no,
                    format!("{} fields, the header has {width}: {text:?}", cells.len()),
                );
            } else {
                checker.report.add(
                    "truncated",
                    line_no,
                    format!("the file ends inside this line: {text:?}"),
                );
            }
            continue;
        }
        checker.row(line_no, &cells[mi], &cells[ti], &cells[vi], complete, text);
    }
    progress(bytes);
    checker.report.lines = line_no;
    finish(store, checker)
}

/// Checks the kept rows together (interval, limits, what is stored already) and, if the whole
/// file is good, writes it as one batch.
fn finish(store: &PowerStore, checker: Checker<'_>) -> Result<Report> {
    let Checker {
        registry,
        options,
        mut report,
        mut rows,
        daily,
        ..
    } = checker;
    if rows.is_empty() && report.problems.is_empty() {
        report.add("no_readings", 1, "nothing after the header");
        return Ok(report);
    }
    // Rows may come in any order (a head-end may list the newest first): sorted by meter and
    // time, a repeated meter and time is a duplicate row.
    rows.sort_by_key(|r| (r.meter, r.minute, r.line));
    let mut kept: Vec<Parsed> = Vec::with_capacity(rows.len());
    for r in rows {
        if let Some(prev) = kept.last()
            && prev.meter == r.meter
            && prev.minute == r.minute
        {
            let code = registry.get(r.meter).map_or("", |m| m.code.as_str());
            report.add(
                "duplicate",
                r.line,
                format!("{code} repeats line {}", prev.line),
            );
            continue;
        }
        kept.push(r);
    }
    let mut rows = kept;
    // The interval: the smallest step any meter takes; every time must sit on it.
    let interval: i64 = if daily == Some(true) {
        1440
    } else {
        // (Rows are in meter and time order from here on.) Each meter's own step: the gap
        // between its readings seen most often (a stray reading does not set it), the smaller on
        // a tie, with the line where it first shows.
        let own = own_steps(&rows);
        let first_line = rows.first().map_or(1, |r| r.line);
        let (mut step, step_line) = own
            .values()
            .min_by_key(|&&(s, line)| (s, line))
            .copied()
            .unwrap_or((60, first_line));
        if matches!(step, 1 | 5) {
            // Summing is for a file of minute readings only: a meter at another step among them
            // (a quarter-hour meter would lose every reading as a short quarter) refuses it, as
            // does a time off the step.
            if off_step(&mut report, registry, &own, &rows, step) {
                return Ok(report);
            }
            // The meter-days read, with the first line of each: a day left without one complete
            // quarter-hour is reported below (it has nothing to store).
            let mut read: BTreeMap<(u32, Day), (u64, usize)> = BTreeMap::new();
            for r in &rows {
                let e = read
                    .entry((r.meter, r.minute.div_euclid(1440) as Day))
                    .or_insert((r.line, 0));
                e.1 += 1;
            }
            // 1- and 5-minute readings are summed to quarter-hours; a quarter-hour that misses
            // any of its readings is left missing rather than counted short.
            let per = 15 / step as usize;
            let mut quarters: Vec<Parsed> = Vec::with_capacity(rows.len() / per + 1);
            let mut n = 0usize;
            for r in rows {
                let q = r.minute.div_euclid(15) * 15;
                match quarters.last_mut() {
                    Some(last) if last.meter == r.meter && last.minute == q => {
                        last.wh += r.wh;
                        n += 1;
                    }
                    _ => {
                        if n < per {
                            quarters.pop();
                        }
                        quarters.push(Parsed {
                            meter: r.meter,
                            minute: q,
                            wh: r.wh,
                            line: r.line,
                        });
                        n = 1;
                    }
                }
            }
            if n < per {
                quarters.pop();
            }
            for q in &quarters {
                read.remove(&(q.meter, q.minute.div_euclid(1440) as Day));
            }
            for ((meter, day), (line, n)) in read {
                let why = format!(" (no complete quarter-hour among its {n} readings)");
                report.gap(registry, meter, day, line, (96, 96), &why);
            }
            report.summed_from_minutes = Some(step as u16);
            rows = quarters;
            step = 15;
        }
        if ![15, 30, 60].contains(&step) {
            report.add(
                "mixed_intervals",
                step_line,
                format!(
                    "a step of {step} minutes (1, 5, 15, 30 or 60 expected, or one reading a day)"
                ),
            );
            return Ok(report);
        }
        // A meter reading at another step, and each time off the file's step (a summed minute
        // file was checked before it was summed).
        if report.summed_from_minutes.is_none() {
            off_step(&mut report, registry, &own, &rows, step);
        }
        step
    };
    report.interval_minutes = Some(interval as u16);
    // Impossible readings, by the meter's kind and the interval.
    let quarters = interval as f64 / 15.0;
    rows.retain(|r| {
        let cap = match registry.get(r.meter).map(|m| m.kind) {
            Some(MeterKind::Enterprise) => options.enterprise_max_kwh_per_quarter,
            _ => options.dwelling_max_kwh_per_quarter,
        } * quarters
            * 1000.0;
        if r.wh > cap {
            report.add(
                "impossible",
                r.line,
                format!("{} kWh in {interval} minutes", r.wh / 1000.0),
            );
            false
        } else {
            true
        }
    });
    // Already stored meter-days.
    let mut months: Vec<(i32, u32)> = rows
        .iter()
        .map(|r| month_of((r.minute / 1440) as Day))
        .collect();
    months.sort_unstable();
    months.dedup();
    let stored = store.stored_keys(&options.district, &months)?;
    if !stored.is_empty() {
        rows.retain(|r| {
            let k = key(r.meter, (r.minute / 1440) as Day);
            if stored.binary_search(&k).is_ok() {
                report.add(
                    "duplicate",
                    r.line,
                    "this meter's day is already stored".to_string(),
                );
                false
            } else {
                true
            }
        });
    }
    if report.refused_for_file() || (report.bad_rows() > 0 && !options.skip_bad_rows) {
        return Ok(report);
    }
    let slots = (1440 / interval) as usize;
    // The last full day stored before each meter's first day in the file: a filler may be the
    // file's first day (a head-end that delivers a file a day), and one that stalls repeats the
    // same day file after file — the fillers caught before are stored as missing, so the search
    // goes back through them (up to a week) to the day they all repeat.
    let mut firsts: Vec<(u32, Day)> = Vec::new();
    for r in &rows {
        if firsts.last().is_none_or(|&(m, _)| m != r.meter) {
            firsts.push((r.meter, r.minute.div_euclid(1440) as Day));
        }
    }
    let before = if slots >= 2 {
        store.last_full_rows(&options.district, &firsts, 7)?
    } else {
        Vec::new()
    };
    let days = MeterDays::of(&rows, slots, interval);
    report.readings += rows.len() as u64;
    drop(rows);
    let repeated = repeated_days(&days, &before, registry, &mut report);
    // Write month by month (a stable sort keeps meter and day order within a month).
    let mut order: Vec<usize> = (0..days.keys.len()).collect();
    order.sort_by_key(|&k| month_of(days.keys[k].1));
    let mut batch = store.begin(&options.district)?;
    let written: Result<()> = (|| {
        let mut q = vec![0u16; slots];
        let mut wh = vec![f64::NAN; slots];
        let mut at = 0;
        while at < order.len() {
            let month = month_of(days.keys[order[at]].1);
            let mut w = batch.segment(month, interval as u16)?;
            report.segments += 1;
            while at < order.len() && month_of(days.keys[order[at]].1) == month {
                let k = order[at];
                at += 1;
                let (meter, day, first_line) = days.keys[k];
                wh.copy_from_slice(days.values(k));
                if repeated.binary_search(&(meter, day)).is_ok() {
                    wh.fill(f64::NAN);
                }
                let (scale, missing) = encode_row(&wh, &mut q);
                if missing > 0 {
                    report.gap(
                        registry,
                        meter,
                        day,
                        first_line,
                        (missing as u64, slots),
                        "",
                    );
                }
                if w.rows() >= crate::format::MAX_ROWS {
                    w.finish()?;
                    w = batch.segment(month, interval as u16)?;
                    report.segments += 1;
                }
                w.push(meter, day, scale, missing, &q)?;
                report.meter_days += 1;
            }
            w.finish()?;
        }
        Ok(())
    })();
    match written {
        Ok(()) => {
            batch.commit(&format!(
                "ingest lines={} readings={}",
                report.lines, report.readings
            ))?;
            report.ingested = true;
            Ok(report)
        }
        Err(e) => {
            batch.abandon();
            Err(e)
        }
    }
}

/// A file's readings grouped into meter-days once, for the filler check and for writing: per
/// meter-day its meter, day and first line, and its slots' Wh (NaN where missing), in meter and
/// day order.
struct MeterDays {
    slots: usize,
    keys: Vec<(u32, Day, u64)>,
    wh: Vec<f64>,
}

impl MeterDays {
    /// `rows` in meter and time order, each on the interval.
    fn of(rows: &[Parsed], slots: usize, interval: i64) -> MeterDays {
        let mut days = MeterDays {
            slots,
            keys: Vec::new(),
            wh: Vec::new(),
        };
        for r in rows {
            let day = r.minute.div_euclid(1440) as Day;
            if days
                .keys
                .last()
                .is_none_or(|&(m, d, _)| m != r.meter || d != day)
            {
                days.keys.push((r.meter, day, r.line));
                days.wh.resize(days.wh.len() + slots, f64::NAN);
            }
            let base = days.wh.len() - slots;
            days.wh[base + (r.minute.rem_euclid(1440) / interval) as usize] = r.wh;
        }
        days
    }

    fn values(&self, k: usize) -> &[f64] {
        &self.wh[k * self.slots..(k + 1) * self.slots]
    }
}

/// The meter-days whose readings repeat the same meter's day before exactly (a head-end's
/// filler), sorted; each is reported. `before` holds the last full day stored before each
/// meter's first day in the file, where there is one (sorted by meter; only days stored as
/// missing lie between it and the file). Across files the days are compared as stored (to the
/// watt-hour for a dwelling); within a file, exactly.
fn repeated_days(
    days: &MeterDays,
    before: &[crate::format::StoredRow],
    registry: &Registry,
    report: &mut Report,
) -> Vec<(u32, Day)> {
    let mut out = Vec::new();
    if days.slots < 2 {
        return out;
    }
    // A day the same as the stored day before it, compared as stored (16-bit values and their
    // row scale), full and not one value all through (a dead meter's zeros).
    let mut q = vec![0u16; days.slots];
    let mut repeats_stored = |meter: u32, wh: &[f64]| -> bool {
        let Ok(k) = before.binary_search_by_key(&meter, |r| r.meter) else {
            return false;
        };
        let stored = &before[k];
        let (scale, missing) = crate::format::encode_row(wh, &mut q);
        missing == 0
            && stored.missing == 0
            && stored.scale == scale
            && stored.values == q
            && q.iter().any(|&v| v != q[0])
    };
    for (k, &(meter, day, line)) in days.keys.iter().enumerate() {
        let wh = days.values(k);
        let repeated = match k.checked_sub(1).map(|p| (p, days.keys[p])) {
            Some((p, (m, d, _))) if m == meter => {
                d == day - 1 && crate::format::repeats_day(wh, days.values(p))
            }
            _ => repeats_stored(meter, wh),
        };
        if repeated {
            out.push((meter, day));
            report.repeated_days.count += 1;
            if report.repeated_days.examples.len() < 5 {
                let code = registry.get(meter).map_or("", |m| m.code.as_str());
                report
                    .repeated_days
                    .examples
                    .push((line, format!("{code} {}", crate::date_of(day))));
            }
        }
    }
    out.sort_unstable();
    out
}

/// Checks a Parquet file of readings (columns named as for CSV; the meter a string or an
/// integer, the time a timestamp, a date or a string, the reading any number) and, if it is
/// good, stores it as one batch. Problems name the row (counting from 1) where CSV names the line.
/// Timestamps marked as UTC are turned into the district's time; unmarked ones are taken as local.
/// A file the Parquet decoder cannot make sense of (it may panic on damaged pages) is refused as
/// `unreadable`; nothing of it is stored.
pub fn ingest_parquet(
    store: &PowerStore,
    registry: &Registry,
    file: std::fs::File,
    options: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<Report> {
    // Files up to 512 MB are read into memory first: the decoder reads page headers a few bytes
    // at a time, which on a file is a system call each (a damaged 1 KB file took 7 s that way).
    let size = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if size <= 512 * 1024 * 1024 {
            let mut data = Vec::with_capacity(size as usize);
            std::io::Read::read_to_end(&mut &file, &mut data)?;
            read_parquet(store, registry, bytes::Bytes::from(data), options, progress)
        } else {
            read_parquet(store, registry, file, options, progress)
        }
    }));
    match read {
        Ok(r) => r,
        Err(p) => {
            let why = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let mut report = Report::default();
            report.add(
                "unreadable",
                0,
                format!("the Parquet decoder gave up: {why}"),
            );
            Ok(report)
        }
    }
}

fn read_parquet<R: parquet::file::reader::ChunkReader + 'static>(
    store: &PowerStore,
    registry: &Registry,
    file: R,
    options: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<Report> {
    use parquet::basic::LogicalType;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let mut checker = Checker::new(registry, options);
    let reader = match SerializedFileReader::new(file) {
        Ok(r) => r,
        Err(e) => {
            checker
                .report
                .add("truncated", 0, format!("not a complete Parquet file ({e})"));
            return Ok(checker.report);
        }
    };
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let names: Vec<String> = (0..schema.num_columns())
        .map(|i| schema.column(i).name().to_string())
        .collect();
    let Some((mi, ti, vi)) = checker.report.columns(&names, 0) else {
        return Ok(checker.report);
    };
    let utc = matches!(
        schema.column(ti).logical_type_ref(),
        Some(LogicalType::Timestamp(t)) if t.is_adjusted_to_u_t_c
    );
    let zone = options.zone_minutes as i64;
    let offset = format!(
        "{}{:02}:{:02}",
        if zone < 0 { '-' } else { '+' },
        zone.abs() / 60,
        zone.abs() % 60
    );
    let stamp = |micros: i64| -> String {
        let shifted = if utc {
            micros.saturating_add(zone * 60_000_000)
        } else {
            micros
        };
        let secs = shifted.div_euclid(1_000_000);
        let t = chrono::DateTime::from_timestamp(secs, 0)
            .map(|d| d.naive_utc())
            .unwrap_or_default();
        let sub = shifted.rem_euclid(1_000_000);
        let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let base = if sub != 0 {
            format!("{base}.{sub:06}")
        } else {
            base
        };
        format!("{base}{offset}")
    };
    let text = |f: &Field| -> String {
        match f {
            Field::Str(s) => s.clone(),
            Field::Int(v) => v.to_string(),
            Field::Long(v) => v.to_string(),
            Field::UInt(v) => v.to_string(),
            Field::ULong(v) => v.to_string(),
            Field::Float(v) => v.to_string(),
            Field::Double(v) => v.to_string(),
            Field::Decimal(_) => "decimal".to_string(),
            Field::Date(d) => crate::date_of(*d).to_string(),
            Field::TimestampMillis(t) => stamp(t.saturating_mul(1000)),
            Field::TimestampMicros(t) => stamp(*t),
            Field::Null => String::new(),
            other => format!("{other}"),
        }
    };
    let rows = match reader.get_row_iter(None) {
        Ok(r) => r,
        Err(e) => {
            checker
                .report
                .add("truncated", 0, format!("cannot read the rows ({e})"));
            return Ok(checker.report);
        }
    };
    let mut n = 0u64;
    for row in rows {
        n += 1;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                checker
                    .report
                    .add("truncated", n, format!("the file breaks off here ({e})"));
                break;
            }
        };
        let cells: Vec<&Field> = row.get_column_iter().map(|(_, f)| f).collect();
        let (Some(m), Some(t), Some(v)) = (cells.get(mi), cells.get(ti), cells.get(vi)) else {
            checker
                .report
                .add("fields", n, "a row without all three columns");
            continue;
        };
        let (m, t, v) = (text(m), text(t), text(v));
        checker.row(n, &m, &t, &v, true, "");
        if n.is_multiple_of(65_536) {
            progress(n);
        }
    }
    progress(n);
    checker.report.lines = n;
    finish(store, checker)
}
