//! Electricity data for the red grid (电力大数据).
//!
//! Meters (电表) belong to a dwelling or an enterprise in a grid. Their readings (用电数据) arrive
//! as CSV exports from the power company, are checked row by row, and are kept append-only in a
//! columnar layout partitioned by district and month (`format`). The detectors (`detect`) stream
//! over the stored readings and find vacant dwellings, suspected group rentals, breaks in elderly
//! people's routine and enterprises' return to work; each finding is an `Alert` that the binary
//! files as a request for the grid. `synth` builds a labelled synthetic city and `eval` measures
//! the detectors against its labels.
//!
//! This crate does no database work and no async: the binary wires it to the request store.

pub mod detect;
pub mod eval;
pub mod features;
pub mod format;
pub mod ingest;
pub mod meters;
pub mod rng;
pub mod svg;
pub mod synth;

pub use detect::{Alert, Config, DetectorKind};
pub use meters::{Meter, MeterKind, Registry};

/// Days since 1970-01-01 (a local calendar date in the district's zone).
pub type Day = i32;

/// Converts a date to a day number.
pub fn day_of(date: chrono::NaiveDate) -> Day {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (date - epoch).num_days() as Day
}

/// Converts a day number to a date.
pub fn date_of(day: Day) -> chrono::NaiveDate {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    epoch + chrono::Duration::days(day as i64)
}

/// 0 = Monday … 6 = Sunday.
pub fn weekday_of(day: Day) -> u32 {
    // 1970-01-01 was a Thursday.
    ((day as i64 + 3).rem_euclid(7)) as u32
}

/// The month partition a day belongs to, as (year, month).
pub fn month_of(day: Day) -> (i32, u32) {
    use chrono::Datelike;
    let d = date_of(day);
    (d.year(), d.month())
}

/// An error of this crate: a message for people, already in the right words.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerError(pub String);

impl std::fmt::Display for PowerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PowerError {}

impl From<std::io::Error> for PowerError {
    fn from(e: std::io::Error) -> Self {
        PowerError(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, PowerError>;

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(PowerError(msg.into()))
}

/// The worker threads a detector run or a synthetic city uses: one per core.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A progress callback for the long steps (synth, ingest): a bar on a terminal, one closing line in
/// a log.
pub fn progress_bar(label: &str) -> impl Fn(u64, u64) + Sync + '_ {
    let start = std::time::Instant::now();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    move |done: u64, total: u64| {
        let pct = if total == 0 {
            100.0
        } else {
            done as f64 * 100.0 / total as f64
        };
        let rate = done as f64 / start.elapsed().as_secs_f64().max(1e-9);
        if tty {
            let bar = "#".repeat((pct / 5.0) as usize);
            eprint!("\r{label} [{bar:<20}] {pct:5.1}%  {rate:.0}/s ");
            if done >= total {
                eprintln!();
            }
        } else if done >= total {
            eprintln!("{label}: {done} in {:.1} s", start.elapsed().as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_weekdays() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(date_of(day_of(d)), d);
        assert_eq!(weekday_of(day_of(d)), 1, "2026-12-01 is a Tuesday");
        assert_eq!(month_of(day_of(d)), (2026, 12));
    }
}
