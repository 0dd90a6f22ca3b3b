//! `redgrid-bench fuzz TARGET`: feeds a file reader mutations of the seed files kept in
//! `tests/fuzz/TARGET/` for a bounded time and fails on a panic, a slow input or too much memory.
//!
//! This is blind mutation fuzzing on the stable toolchain (no coverage guidance: the machine has
//! one toolchain and cargo-fuzz needs nightly). Mutations: bit flips, interesting bytes, inserted,
//! deleted and repeated runs, truncation, splices of two seeds, and for text targets the tokens a
//! file of that kind is made of. A failing input is saved under `target/fuzz-failures/` to become a
//! seed or a regression test.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The readers that take files from outside.
pub const TARGETS: [&str; 5] = ["tabular", "meter-csv", "parquet", "meters", "calendar"];

/// An input slower than this is a failure (a reader must never hang on a small file). CI runs
/// the debug build, several times slower than release: the worst seed known (a damaged Parquet
/// page header, `regression-slow-header.parquet`) takes 3 s there and 0.4 s in release.
const SLOW: Duration = Duration::from_secs(10);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Text fragments the text formats are made of.
const TOKENS: &[&str] = &[
    ",",
    "\n",
    "\r\n",
    "\"",
    "\"\"",
    ";",
    "\t",
    "\u{feff}",
    "\u{200b}",
    "=",
    "-1",
    "0",
    "NaN",
    "inf",
    "1e309",
    "99999999999999999999",
    "2026-03-01T00:00:00+08:00",
    "2026-02-30",
    "2026-03-01",
    "00:15",
    "24:00",
    "+09:00",
    "Z",
    "户号",
    "时间",
    "电量",
    "meter",
    "time",
    "kwh",
    "dwelling",
    "enterprise",
    "elderly_alone",
    "consent",
    "holiday",
    "workday",
    "08:30-12:00",
    "#",
    "2026",
    "12011600100100101",
    "\u{0}",
    "\u{fffd}",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], text: bool) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(8) {
        let len = data.len();
        match rng.below(if text { 9 } else { 8 }) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = [0u8, 0xFF, 0x7F, 0x80, b'9', b'\n'][rng.below(6)];
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                data.splice(i..i, bytes);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                data.drain(i..i + n);
            }
            4 if len > 0 => {
                // Repeat a run many times: long cells, many rows.
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let run = data[i..i + n].to_vec();
                let times = 1 + rng.below(200);
                for _ in 0..times {
                    data.splice(i..i, run.iter().copied());
                }
            }
            5 if len > 0 => data.truncate(rng.below(len)),
            6 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() && len > 0 {
                    let cut = rng.below(len);
                    let from = rng.below(other.len());
                    data.truncate(cut);
                    data.extend_from_slice(&other[from..]);
                }
            }
            7 if len > 0 => {
                let (a, b) = (rng.below(len), rng.below(len));
                data.swap(a, b);
            }
            8 => {
                let i = rng.below(len + 1);
                let t = TOKENS[rng.below(TOKENS.len())];
                data.splice(i..i, t.bytes());
            }
            _ => {}
        }
    }
    data
}

/// Runs one input through the target; `Err` only for a failure of the harness itself.
fn run_one(target: &str, data: &[u8], scratch: &Path) -> Result<(), String> {
    use redgrid_power::format::PowerStore;
    use redgrid_power::ingest::{Options, ingest_csv, ingest_parquet};
    use redgrid_power::meters::Registry;
    let registry = || {
        let mut r = Registry::new();
        let text = "code,kind,grid_code,address,facts,consent\n\
                    M1,dwelling,12011600100100101,1号楼101,,\n\
                    M2,dwelling,12011600100100102,1号楼102,elderly_alone,2026-01-01\n\
                    E1,enterprise,12011600100100101,港城路8号,,\n";
        for m in Registry::parse(text).unwrap_or_default() {
            r.upsert(m);
        }
        r
    };
    match target {
        "tabular" => {
            let _ = redgrid_app::tabular::read(data);
        }
        "meter-csv" | "parquet" => {
            // A good file is stored: a fresh folder each time keeps the disk flat.
            let _ = std::fs::remove_dir_all(scratch);
            let store = PowerStore::new(scratch);
            let mut options = Options::new("120116");
            options.skip_bad_rows = data.len().is_multiple_of(2);
            if target == "meter-csv" {
                let _ = ingest_csv(&store, &registry(), &mut &data[..], &options, &mut |_| {});
            } else {
                std::fs::create_dir_all(scratch).map_err(|e| e.to_string())?;
                let file = scratch.join("in.parquet");
                std::fs::write(&file, data).map_err(|e| e.to_string())?;
                let f = std::fs::File::open(&file).map_err(|e| e.to_string())?;
                let _ = ingest_parquet(&store, &registry(), f, &options, &mut |_| {});
            }
        }
        "meters" => {
            let _ = Registry::parse(&String::from_utf8_lossy(data));
        }
        "calendar" => {
            let _ = redgrid_core::calendar::YearCalendar::parse(&String::from_utf8_lossy(data));
        }
        other => return Err(format!("unknown fuzz target {other:?}")),
    }
    Ok(())
}

/// The process's peak resident memory in MB.
fn peak_rss_mb() -> u64 {
    // SAFETY: getrusage only writes the struct it is given; a zeroed rusage is a valid value.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    (usage.ru_maxrss as u64) / 1024
}

pub fn run(
    target: &str,
    seconds: u64,
    corpus: &Path,
    max_rss_mb: u64,
    seed: u64,
) -> Result<(), String> {
    if !TARGETS.contains(&target) {
        return Err(format!(
            "unknown fuzz target {target:?}; one of {}",
            TARGETS.join(", ")
        ));
    }
    let dir = corpus.join(target);
    let mut seeds = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read the seeds in {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    // Every seed is run once as it is; `regression-slow-*` seeds (inputs known to be slow, kept
    // to show they stay bounded) are not mutated, or they would eat the time.
    let mut once = Vec::new();
    for p in &names {
        let data = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let slow = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("regression-slow-"));
        if slow {
            once.push(data);
        } else {
            seeds.push(data);
        }
    }
    if seeds.is_empty() {
        return Err(format!("no seed files in {}", dir.display()));
    }
    let text = matches!(target, "meter-csv" | "meters" | "calendar" | "tabular");
    let scratch =
        std::env::temp_dir().join(format!("redgrid-fuzz-{target}-{}", std::process::id()));
    let failures = PathBuf::from("target/fuzz-failures");
    // A panic is caught and reported by the loop, not printed for every input.
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    let (mut runs, mut failed) = (0u64, Vec::new());
    // The seeds themselves first, then mutations until the time is up.
    let mut queue: Vec<Vec<u8>> = seeds.iter().chain(&once).cloned().collect();
    while started.elapsed() < Duration::from_secs(seconds) || !queue.is_empty() {
        let data = queue
            .pop()
            .unwrap_or_else(|| mutate(&mut rng, &seeds, text));
        let t = Instant::now();
        let outcome = std::panic::catch_unwind(|| run_one(target, &data, &scratch));
        let took = t.elapsed();
        runs += 1;
        let why = match outcome {
            Ok(Ok(())) if took > SLOW => Some(format!("took {took:?}")),
            Ok(Ok(())) => None,
            Ok(Err(e)) => return Err(e),
            Err(p) => Some(format!(
                "panicked: {}",
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
        };
        if let Some(why) = why {
            let _ = std::fs::create_dir_all(&failures);
            let name = failures.join(format!("{target}-{runs}.bin"));
            let _ = std::fs::write(&name, &data);
            failed.push(format!("{} ({} bytes): {why}", name.display(), data.len()));
            if failed.len() >= 10 {
                break;
            }
        }
    }
    let _ = std::panic::take_hook();
    let _ = std::fs::remove_dir_all(&scratch);
    let secs = started.elapsed().as_secs_f64();
    let rss = peak_rss_mb();
    println!(
        "fuzz {target:<10} {runs:>8} inputs in {secs:>5.1} s ({:>7.0}/s) from {} seeds; peak memory {rss} MB (limit {max_rss_mb}); {} failures",
        runs as f64 / secs.max(1e-9),
        seeds.len() + once.len(),
        failed.len()
    );
    for f in &failed {
        println!("  {f}");
    }
    if !failed.is_empty() {
        return Err(format!(
            "{} inputs failed the {target} reader",
            failed.len()
        ));
    }
    if rss > max_rss_mb {
        return Err(format!(
            "the {target} reader peaked at {rss} MB (limit {max_rss_mb})"
        ));
    }
    Ok(())
}
