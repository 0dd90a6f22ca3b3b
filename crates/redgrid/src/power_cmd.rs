//! `redgrid power`: the electricity data of the red grid — synthesise a city, import meters and
//! readings, run the detectors, measure them against labels, and benchmark them.

use anyhow::Context;

use crate::config::{Config, ConfigArgs};
use redgrid_power::detect::{self, Analysis, DetectorKind};
use redgrid_power::format::PowerStore;
use redgrid_power::synth::{self, SynthConfig};
use redgrid_power::{Day, Registry, date_of, day_of};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum PowerCmd {
    /// Write a synthetic city (meters × days of readings) with labelled ground truth.
    Synth(SynthArgs),
    /// Import or update the meter register from a CSV file (户号,类型,网格编码,…).
    Meters {
        #[command(flatten)]
        config: ConfigArgs,
        file: PathBuf,
    },
    /// Check and store CSV or Parquet files of readings (all or nothing per file).
    Ingest {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Store the good rows and list the bad ones instead of refusing the file.
        #[arg(long)]
        skip_bad_rows: bool,
        /// Report in English (default Chinese).
        #[arg(long, default_value = "zh")]
        lang: String,
    },
    /// Run every detector over the stored readings and print what they found.
    Analyze {
        #[command(flatten)]
        config: ConfigArgs,
        /// Detector thresholds (TOML); defaults in docs/developers/power-detectors.md.
        #[arg(long)]
        thresholds: Option<PathBuf>,
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// File the alerts of the last `--recent-days` days as requests for the grids.
        #[arg(long)]
        file: bool,
        /// With `--file`: how many of the last days' alerts to file (0 = every alert found).
        #[arg(long, default_value_t = 7)]
        recent_days: i32,
        /// Write the resumption index over time (per day, by sector and by street) to this CSV.
        #[arg(long)]
        resumption: Option<PathBuf>,
        /// Write every episode (meter, address, grid, detector, start, end, severity, evidence)
        /// to this file: `.csv` (UTF-8 with a BOM, for Excel) or `.json`.
        #[arg(long)]
        alerts: Option<PathBuf>,
        /// The vacancy rate (空置率) counts a dwelling as vacant when it was unoccupied on at
        /// least `--vacant-days` of the last `--vacancy-window` days of the data (days in spells
        /// of a week or more).
        #[arg(long, default_value_t = 30)]
        vacant_days: u32,
        #[arg(long, default_value_t = 90)]
        vacancy_window: u32,
    },
    /// Each detector's filed alerts and what the checks found: precision per detector.
    Precision {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Measure the detectors against a synthetic city's labels.
    Eval {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        labels: PathBuf,
        #[arg(long)]
        thresholds: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
pub struct SynthArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[arg(long, default_value_t = 10_000)]
    meters: usize,
    #[arg(long, default_value_t = 180)]
    days: u32,
    /// First day (default: 2025-12-01, so the period holds a December baseline and Spring Festival).
    #[arg(long)]
    start: Option<chrono::NaiveDate>,
    /// Minutes per reading: 15, 30, 60 or 1440 (daily).
    #[arg(long, default_value_t = 15)]
    interval: u16,
    #[arg(long, default_value_t = 20_261_201)]
    seed: u64,
    /// Where to write the labels (default `<data dir>/power/labels-<district>.csv`).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Write the readings as a CSV file to ingest (and the register next to it) instead of storing them.
    #[arg(long)]
    csv: Option<PathBuf>,
}

/// The configuration, the district's electricity data folder and the district's code: the one
/// `--district` names, else the only one with electricity data, else the database's own.
fn store_of(args: &ConfigArgs) -> anyhow::Result<(Config, PowerStore, String)> {
    match store_and_district(args)? {
        (config, store, Some(code)) => Ok((config, store, code)),
        (_, _, None) => anyhow::bail!(NO_DISTRICT),
    }
}

const NO_DISTRICT: &str =
    "the database has no district yet, and no electricity data names one: give --district CODE";

/// Like [`store_of`], with no district when nothing names one.
fn store_and_district(args: &ConfigArgs) -> anyhow::Result<(Config, PowerStore, Option<String>)> {
    let config = Config::resolve(args, Path::new("redgrid-data"))?;
    let store = PowerStore::new(config.data_dir.join("power"));
    if let Some(code) = config.site.as_ref().map(|s| s.code.clone()) {
        return Ok((config, store, Some(code)));
    }
    if let [only] = &store.districts()[..] {
        let only = only.clone();
        return Ok((config, store, Some(only)));
    }
    let held = tokio::runtime::Handle::current().block_on(async {
        let service = crate::open(&config).await?;
        anyhow::Ok(service.directory().district().map(|d| d.code.clone()))
    })?;
    Ok((config, store, held))
}

/// Runs the detectors over the district's readings (in `range`, or all), on every core, and the
/// seconds it took.
fn analyze_timed(
    store: &PowerStore,
    district: &str,
    registry: &Registry,
    cfg: &detect::Config,
    range: Option<(Day, Day)>,
) -> anyhow::Result<(Analysis, f64)> {
    let started = Instant::now();
    let a = detect::analyze(
        store,
        district,
        registry,
        cfg,
        range,
        redgrid_power::threads(),
    )?;
    Ok((a, started.elapsed().as_secs_f64()))
}

fn thresholds(path: &Option<PathBuf>) -> anyhow::Result<detect::Config> {
    match path {
        None => Ok(detect::Config::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            detect::Config::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
        }
    }
}

pub fn run(cmd: PowerCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        PowerCmd::Synth(a) => synth_cmd(a),
        PowerCmd::Meters { config, file } => {
            let (_, store, named) = store_and_district(&config)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let meters = match Registry::parse(&text) {
                Ok(m) => m,
                Err(problems) => {
                    eprintln!("{}: refused, nothing imported:", file.display());
                    for p in problems {
                        eprintln!("  {p}");
                    }
                    return Ok(ExitCode::from(1));
                }
            };
            // Nothing else names the district: the register's own meters do.
            let district = match named.or_else(|| meters.first().map(|m| m.district().to_string()))
            {
                Some(d) => d,
                None => anyhow::bail!(NO_DISTRICT),
            };
            if let Some(m) = meters.iter().find(|m| m.district() != district) {
                eprintln!(
                    "{}: meter {} is in district {}, not {district}; nothing imported",
                    file.display(),
                    m.code,
                    m.district()
                );
                return Ok(ExitCode::from(1));
            }
            let path = store.registry_path(&district);
            let mut reg = Registry::load(&path)?;
            let before = reg.len();
            // Consent given or withdrawn is recorded before the register changes.
            let changes = reg.consent_changes(&meters);
            let log = store.district_dir(&district).join("consent-log.csv");
            redgrid_power::meters::record_consent_changes(
                &log,
                &changes,
                &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                &file.display().to_string(),
            )?;
            let withdrawn = changes
                .iter()
                .filter(|c| c.withdrawn.1.is_some() && c.withdrawn.0 != c.withdrawn.1)
                .count();
            for m in meters {
                reg.upsert(m);
            }
            reg.save(&path)?;
            println!(
                "meters: {} new, {} in the register; consent changed for {} ({} withdrawn), recorded in {}",
                reg.len() - before,
                reg.len(),
                changes.len(),
                withdrawn,
                log.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        PowerCmd::Ingest {
            config,
            files,
            skip_bad_rows,
            lang,
        } => {
            let (_, store, district) = store_of(&config)?;
            let zh = lang != "en";
            let registry = Registry::load(&store.registry_path(&district))?;
            let mut options = redgrid_power::ingest::Options::new(&district);
            options.skip_bad_rows = skip_bad_rows;
            let mut failed = false;
            for f in files {
                let file = std::fs::File::open(&f)
                    .with_context(|| format!("cannot open {}", f.display()))?;
                let total = file.metadata().map(|m| m.len()).unwrap_or(0);
                let mut magic = [0u8; 4];
                let parquet = {
                    use std::os::unix::fs::FileExt;
                    file.read_exact_at(&mut magic, 0).is_ok() && &magic == b"PAR1"
                };
                let started = Instant::now();
                let report = if parquet {
                    let bar = redgrid_power::progress_bar("ingest, rows read");
                    redgrid_power::ingest::ingest_parquet(
                        &store,
                        &registry,
                        file,
                        &options,
                        &mut |n| bar(n, u64::MAX),
                    )
                } else {
                    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
                    let bar = redgrid_power::progress_bar("ingest, bytes read");
                    redgrid_power::ingest::ingest_csv(
                        &store,
                        &registry,
                        &mut input,
                        &options,
                        &mut |b| bar(b, total),
                    )
                }
                .with_context(|| format!("{}", f.display()))?;
                let secs = started.elapsed().as_secs_f64();
                if report.ingested {
                    let (file, readings, days) = (f.display(), report.readings, report.meter_days);
                    let every = report.interval_minutes.unwrap_or(0);
                    if zh {
                        println!(
                            "{file}: 已入库 {readings} 条读数（{days} 个电表日，间隔 {every} 分钟），{secs:.1} 秒"
                        );
                    } else {
                        println!(
                            "{file}: stored {readings} readings ({days} meter-days, every {every} minutes) in {secs:.1} s"
                        );
                    }
                } else {
                    failed = true;
                    if zh {
                        println!("{}: 未入库（{} 行），问题如下：", f.display(), report.lines);
                    } else {
                        println!(
                            "{}: refused, nothing stored ({} lines):",
                            f.display(),
                            report.lines
                        );
                    }
                }
                print!("{}", report.render(zh));
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        PowerCmd::Analyze {
            config,
            thresholds: t,
            from,
            to,
            file,
            recent_days,
            resumption,
            alerts,
            vacant_days,
            vacancy_window,
        } => {
            let (conf, store, district) = store_of(&config)?;
            let cfg = thresholds(&t)?;
            if let Some(path) = &alerts {
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                if !["csv", "json"].iter().any(|k| ext.eq_ignore_ascii_case(k)) {
                    anyhow::bail!(
                        "--alerts {}: name a .csv file (opens in Excel) or a .json file",
                        path.display()
                    );
                }
            }
            let registry = Registry::load(&store.registry_path(&district))?;
            if store.months(&district).is_empty() {
                eprintln!(
                    "note: no readings are stored for district {district} under {} (ingest some, or check --district)",
                    store.root.display()
                );
            }
            // An open end is the edge of the dates readings may carry (2000–2099), never a day
            // no calendar date has.
            let earliest = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).map_or(0, day_of);
            let latest = chrono::NaiveDate::from_ymd_opt(2099, 12, 31).map_or(0, day_of);
            let range = match (from, to) {
                (None, None) => None,
                (Some(f), Some(t)) if f > t => {
                    anyhow::bail!("--from {f} is after --to {t}: give the earlier day first")
                }
                (f, t) => Some((f.map_or(earliest, day_of), t.map_or(latest, day_of))),
            };
            let (a, secs) = analyze_timed(&store, &district, &registry, &cfg, range)?;
            if a.rows == 0 && range.is_some() && !store.months(&district).is_empty() {
                eprintln!(
                    "note: no readings of district {district} fall in the days asked for (--from / --to)"
                );
            }
            print_analysis(&a, &registry, secs);
            print_vacancy_rate(&a, &registry, vacant_days, vacancy_window);
            if let Some(path) = alerts {
                let n = write_episodes(&a, &registry, &path)?;
                println!("{n} episodes written to {}", path.display());
            }
            if let Some(path) = resumption {
                write_resumption(&a, &registry, &path)?;
                println!(
                    "resumption index by day, sector and street: {}",
                    path.display()
                );
            }
            if file {
                let since = match (recent_days, a.data_end) {
                    (0, _) | (_, None) => None,
                    (n, Some(last)) => Some(last - n + 1),
                };
                let filed = tokio::runtime::Handle::current().block_on(async {
                    let service = crate::open(&conf).await?;
                    crate::power_file::file_alerts(
                        &service, &store, &district, &registry, &a, &cfg, since,
                    )
                    .await
                })?;
                println!(
                    "filed {} new requests (channel power_alert); {} episodes filed before went on and their requests were updated; {} filed before are over and their requests were told; {} had nothing new; {} have a grid that is not in the district",
                    filed.new, filed.updated, filed.ended, filed.already, filed.no_grid
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PowerCmd::Precision { config } => {
            let (conf, store, district) = store_of(&config)?;
            let by = tokio::runtime::Handle::current().block_on(async {
                let service = crate::open(&conf).await?;
                crate::power_file::outcomes(&service, &store, &district).await
            })?;
            println!(
                "{:<14} {:>6} {:>6} {:>6} {:>8} {:>10}",
                "detector", "filed", "属实", "误报", "无法核实", "precision"
            );
            for (k, o) in by {
                println!(
                    "{:<14} {:>6} {:>6} {:>6} {:>8} {:>10}",
                    k.as_str(),
                    o.filed,
                    o.confirmed,
                    o.false_alarm,
                    o.unverifiable,
                    o.precision()
                        .map_or("—".to_string(), |p| format!("{:.1}%", p * 100.0))
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        PowerCmd::Eval {
            config,
            labels,
            thresholds: t,
        } => {
            let (_, store, district) = store_of(&config)?;
            let cfg = thresholds(&t)?;
            let registry = Registry::load(&store.registry_path(&district))?;
            let text = std::fs::read_to_string(&labels)
                .with_context(|| format!("cannot read {}", labels.display()))?;
            let labels = redgrid_power::eval::Labels::parse(&text, &registry)?;
            let (a, secs) = analyze_timed(&store, &district, &registry, &cfg, None)?;
            let check = redgrid_power::eval::recount_index(&store, &district, &registry)?;
            let e = redgrid_power::eval::evaluate(&a, &labels, &registry, &check);
            println!(
                "analysed {} meters, {} readings in {:.2} s",
                registry.len(),
                a.readings,
                secs
            );
            print_eval(&e);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn synth_cmd(a: SynthArgs) -> anyhow::Result<ExitCode> {
    let config = Config::resolve(&a.config, Path::new("redgrid-data"))?;
    let store = PowerStore::new(config.data_dir.join("power"));
    // A synthetic city: the demo district's code unless `--district` names another.
    let district = config
        .site
        .as_ref()
        .map_or_else(|| "120116".to_string(), |s| s.code.clone());
    if ![15, 30, 60, 1440].contains(&a.interval) {
        anyhow::bail!("--interval must be 15, 30, 60 or 1440, not {}", a.interval);
    }
    if a.meters == 0 || a.days == 0 {
        anyhow::bail!("--meters and --days must be at least 1");
    }
    let start = a
        .start
        .unwrap_or_else(|| chrono::NaiveDate::from_ymd_opt(2025, 12, 1).unwrap_or_default());
    let mut cfg = SynthConfig::new(a.meters, a.days, day_of(start));
    cfg.seed = a.seed;
    cfg.interval_minutes = a.interval;
    cfg.district = district;
    let started = Instant::now();
    let plans = if let Some(csv) = &a.csv {
        let plans: Vec<synth::Plan> = (0..cfg.meters).map(|i| synth::plan(&cfg, i)).collect();
        let mut reg = Registry::new();
        for p in &plans {
            reg.upsert(p.meter.clone());
        }
        let meters_path = csv.with_file_name(format!(
            "{}-meters.csv",
            csv.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("readings")
        ));
        reg.save(&meters_path)?;
        let f = std::fs::File::create(csv)
            .with_context(|| format!("cannot create {}", csv.display()))?;
        let mut out = std::io::BufWriter::new(f);
        let lines = synth::write_csv(&cfg, &plans, &mut out)?;
        out.flush()?;
        println!(
            "wrote {lines} readings to {} and {} meters to {}",
            csv.display(),
            plans.len(),
            meters_path.display()
        );
        plans
    } else {
        let bar = redgrid_power::progress_bar("synth");
        let (summary, plans) = synth::write_store(&cfg, &store, &bar)?;
        println!(
            "stored {} meters × {} days: {} readings in {} segments under {} ({:.1} s)",
            summary.meters,
            cfg.days,
            summary.readings,
            summary.segments,
            store.district_dir(&cfg.district).display(),
            started.elapsed().as_secs_f64()
        );
        plans
    };
    let labels = a
        .labels
        .clone()
        .unwrap_or_else(|| store.root.join(format!("labels-{}.csv", cfg.district)));
    if let Some(dir) = labels.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let f = std::fs::File::create(&labels)
        .with_context(|| format!("cannot create {}", labels.display()))?;
    let mut out = std::io::BufWriter::new(f);
    synth::write_labels(&cfg, &plans, &mut out)?;
    out.flush()?;
    println!("labels: {}", labels.display());
    Ok(ExitCode::SUCCESS)
}

fn print_analysis(a: &Analysis, registry: &Registry, secs: f64) {
    let per = |k: DetectorKind| a.alerts.iter().filter(|x| x.detector == k).count();
    println!(
        "{} meters, {} meter-days, {} readings ({} – {}) in {:.2} s: {:.0} readings/s",
        registry.len(),
        a.rows,
        a.readings,
        a.first_day
            .map(date_of)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        a.last_day
            .map(date_of)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        secs,
        a.readings as f64 / secs.max(1e-9)
    );
    for k in DetectorKind::ALL {
        let ongoing = a
            .alerts
            .iter()
            .filter(|x| x.detector == k && x.ongoing)
            .count();
        println!(
            "  {} ({}): {} episodes, {ongoing} still going on{}",
            k.name_zh(),
            k.as_str(),
            per(k),
            if k.for_the_grid() {
                ""
            } else {
                " (for the power company, not filed for the grid)"
            }
        );
    }
    let gap_days: u64 = a.gaps.iter().map(|g| g.days() as u64).sum();
    let gap_meters = a
        .gaps
        .iter()
        .map(|g| g.meter)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    println!(
        "  days without full data: {gap_days} on {gap_meters} meters (never counted as absence or inactivity)"
    );
    let tiers = |t: u32| a.vacancy.iter().filter(|s| s.tier() == t).count();
    println!(
        "  vacancy spells: {} of a week, {} of two weeks, {} of a month, {} of six months",
        tiers(7),
        tiers(14),
        tiers(30),
        tiers(180)
    );
    println!("  group rental, highest scores:");
    for g in a.group_rental.iter().take(5) {
        let m = registry.get(g.meter);
        println!(
            "    {} score {:.1} (level z {:.1}, {:.1} kWh/day){}",
            m.map_or("?", |m| m.code.as_str()),
            g.score,
            g.level_z,
            g.mean_kwh,
            if g.flagged { " flagged" } else { "" }
        );
    }
    let sectors = a
        .resumption
        .by(|m| registry.get(m).map_or(String::new(), |x| x.sector.clone()));
    if let Some(last) = a.resumption.daily.iter().map(|x| x.1).max() {
        println!(
            "  resumption index on {} (use ÷ baseline; resumed ≥ {:.0}%):",
            date_of(last),
            a.resumption.threshold * 100.0
        );
        for ((sector, d), (u, b, r, n)) in &sectors {
            if *d == last {
                println!(
                    "    {sector}: {:.1}%, {r} of {n} resumed",
                    if *b > 0.0 { u / b * 100.0 } else { 0.0 }
                );
            }
        }
    }
}

/// The vacancy rate (空置率) per street and community: dwellings unoccupied on at least
/// `min_days` of the analysed days, over the dwellings with data.
fn print_vacancy_rate(a: &Analysis, registry: &Registry, min_days: u32, window: u32) {
    let rates = vacancy_rates(a, registry, min_days, window);
    let (Some((first, last)), false) = (vacancy_window(a, window), rates.is_empty()) else {
        return;
    };
    let days = last - first + 1;
    println!(
        "  vacancy rate (空置率: dwellings unoccupied on ≥ {min_days} of the {days} days {} – {}, over dwellings with data):",
        date_of(first),
        date_of(last)
    );
    if days < min_days as i32 {
        println!(
            "    the readings analysed cover only {days} of the {window} days: no dwelling can reach {min_days} (analyse a longer range)"
        );
    }
    for (code, (vacant, with_data)) in &rates {
        let place = if code.len() == 9 {
            format!("street {code}")
        } else {
            format!("  community {code}")
        };
        println!(
            "    {place}: {vacant} of {with_data} = {:.1}%",
            *vacant as f64 * 100.0 / (*with_data).max(1) as f64
        );
    }
}

/// The vacancy rate's days: the last `window` days analysed, never before the first day analysed.
fn vacancy_window(a: &Analysis, window: u32) -> Option<(Day, Day)> {
    let last = a.last_day?;
    let first = (last - window as i32 + 1).max(a.first_day.unwrap_or(Day::MIN));
    Some((first, last))
}

/// Per street (the grid code's first 9 digits) and community (its first 12), keyed by that code
/// (so each street comes just before its communities): (vacant, with data).
fn vacancy_rates(
    a: &Analysis,
    registry: &Registry,
    min_days: u32,
    window: u32,
) -> std::collections::BTreeMap<String, (u32, u32)> {
    let mut out: std::collections::BTreeMap<String, (u32, u32)> = Default::default();
    let Some((first, last)) = vacancy_window(a, window) else {
        return out;
    };
    // Unoccupied days in spells, per dwelling, within the window.
    let mut in_window: std::collections::HashMap<u32, u32> = Default::default();
    for sp in &a.vacancy {
        let (f, t) = (sp.from.max(first), sp.to.min(last));
        if f <= t {
            *in_window.entry(sp.meter).or_default() += (t - f + 1) as u32;
        }
    }
    for &(m, _, _) in &a.dwellings {
        let unoccupied = in_window.get(&m).copied().unwrap_or(0);
        let Some(meter) = registry.get(m) else {
            continue;
        };
        for len in [9, 12] {
            if let Some(code) = meter.grid_code.get(..len) {
                let e = out.entry(code.to_string()).or_default();
                e.0 += (unoccupied >= min_days) as u32;
                e.1 += 1;
            }
        }
    }
    out
}

/// What an episode rests on, in a line: its reasons and figures.
fn evidence(x: &detect::Alert) -> String {
    let what = x.reasons.join(";");
    match x.detector {
        DetectorKind::Vacancy => format!(
            "{what}; {} unoccupied days, {:.2} kWh a day",
            x.days, x.score
        ),
        DetectorKind::GroupRental => format!("{what}; score {:.1}", x.score),
        DetectorKind::Routine => format!("{what}; {} alert days", x.days),
        DetectorKind::Fault | DetectorKind::DataGap => format!("{what}; {} days", x.days),
    }
}

/// Writes every episode to `path` (`.json`, else CSV with a BOM); returns how many.
fn write_episodes(a: &Analysis, registry: &Registry, path: &Path) -> anyhow::Result<usize> {
    let rows: Vec<serde_json::Value> = a
        .alerts
        .iter()
        .map(|x| {
            let m = registry.get(x.meter);
            serde_json::json!({
                "meter": m.map_or("", |m| m.code.as_str()),
                "address": m.map_or("", |m| m.address.as_str()),
                "grid": m.map_or("", |m| m.grid_code.as_str()),
                "detector": x.detector.as_str(),
                "detector_zh": x.detector.name_zh(),
                "start": date_of(x.since).to_string(),
                "end": date_of(x.day).to_string(),
                "ongoing": x.ongoing,
                "severity": x.severity,
                "evidence": evidence(x),
            })
        })
        .collect();
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let text = if json {
        serde_json::to_string_pretty(&rows)?
    } else {
        let mut t = String::from(
            "\u{feff}meter,address,grid,detector,detector_zh,start,end,ongoing,severity,evidence\n",
        );
        for r in &rows {
            let cells = [
                "meter",
                "address",
                "grid",
                "detector",
                "detector_zh",
                "start",
                "end",
                "ongoing",
                "severity",
                "evidence",
            ]
            .map(|k| match &r[k] {
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            });
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    t.push(',');
                }
                redgrid_power::ingest::push_csv_cell(&mut t, c);
            }
            t.push('\n');
        }
        t
    };
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(rows.len())
}

fn print_eval(e: &redgrid_power::eval::Evaluation) {
    let v = &e.vacancy_days;
    println!(
        "unoccupied days: recall {:.3} precision {:.3} F1 {:.3}; occupied days flagged {:.2}% ({} of {})  (tp {} fp {} fn {})",
        v.recall(),
        v.precision(),
        v.f1(),
        e.occupied_flagged_share() * 100.0,
        v.fp,
        e.occupied_days,
        v.tp,
        v.fp,
        v.fn_
    );
    println!(
        "  {:<32} {:>10} {:>16} {:>18} {:>22}",
        "household type",
        "households",
        "unoccupied recall",
        "occupied flagged",
        "false routine episodes"
    );
    for (t, f) in &e.by_type {
        let routine = if f.watched > 0 {
            format!(
                "{} on {} watched ({:.2}/90 days)",
                f.false_episodes,
                f.watched,
                f.false_episodes as f64 * 90.0 / (f.watched as f64 * e.routine_days.max(1) as f64)
            )
        } else {
            "—".to_string()
        };
        println!(
            "  {t:<32} {:>10} {:>16} {:>17.2}% {:>22}",
            f.households,
            if f.unoccupied > 0 {
                format!("{:.3} ({} d)", f.recall(), f.unoccupied)
            } else {
                "—".to_string()
            },
            f.flagged_share() * 100.0,
            routine
        );
    }
    let f = &e.faults;
    println!(
        "meter faults (meters): precision {:.3} recall {:.3}  (tp {} fp {} fn {})",
        f.precision(),
        f.recall(),
        f.tp,
        f.fp,
        f.fn_
    );
    let g = &e.group_rental;
    println!(
        "group rental (dwellings flagged): precision {:.3} recall {:.3}  (tp {} fp {} fn {})",
        g.precision(),
        g.recall(),
        g.tp,
        g.fp,
        g.fn_
    );
    if let Some((p, r, k)) = e.group_rental_ranked {
        println!("group rental (ranking): precision {p:.3} at recall {r:.3} in the top {k}");
    }
    let r = &e.routine_breaks;
    println!(
        "routine breaks: recall {:.3} ({} of {}), false alerts {} = {:.2} per household per 90 days ({} households, {} days)",
        r.recall(),
        r.tp,
        r.tp + r.fn_,
        r.fp,
        e.routine_false_per_90_days,
        e.routine_households,
        e.routine_days
    );
    for (k, (found, n)) in &e.routine_by_kind {
        println!("  {k}: {found} of {n} found");
    }
    for (k, n) in &e.routine_false_by_reason {
        println!("  episodes that met no break, with reason {k}: {n}");
    }
    println!(
        "resumption: {} of {} resumption days exactly as labelled; index max difference from a recount {:.2e}",
        e.resumption_exact.0, e.resumption_exact.1, e.resumption_index_max_error
    );
}

/// The demo's electricity data: a synthetic city of `meters` meters placed in the district's own
/// grids over the last `days` days, analysed, and the last two weeks' alerts filed as requests.
pub async fn demo_city(
    service: &redgrid_app::Service,
    data_dir: &Path,
    seed: u64,
    meters: usize,
    days: u32,
) -> anyhow::Result<(usize, crate::power_file::Filed)> {
    use redgrid_core::area::Level;
    let dir = service.directory();
    let district = dir
        .areas()
        .find(|a| a.kind == Level::District)
        .map(|a| a.code.clone())
        .context("the demo has no district")?;
    let mut found: Vec<(redgrid_core::ids::AreaId, String)> = dir
        .areas()
        .filter(|a| a.kind == Level::Grid && a.code.len() >= 14)
        .map(|a| (a.id, a.code.clone()))
        .collect();
    found.sort();
    // The first grid (the one the demo's grid worker looks after) gets a tenth of the meters, so
    // its queue shows power alerts.
    let mut grids: Vec<String> = found.iter().map(|g| g.1.clone()).collect();
    if let Some((_, first)) = found.first() {
        let extra = grids.len() / 9;
        grids.extend(std::iter::repeat_n(first.clone(), extra));
    }
    if grids.is_empty() {
        anyhow::bail!("the demo district has no grids");
    }
    let store = PowerStore::new(data_dir.join("power"));
    let today = day_of(redgrid_app::organise::today());
    let mut cfg = SynthConfig::new(meters, days, today - days as i32);
    cfg.seed = seed;
    cfg.district = district.clone();
    cfg.grids = grids;
    let (analysis, registry) = tokio::task::block_in_place(|| -> anyhow::Result<_> {
        synth::write_store(&cfg, &store, &|_, _| {})?;
        let registry = Registry::load(&store.registry_path(&district))?;
        let a = detect::analyze(
            &store,
            &district,
            &registry,
            &detect::Config::default(),
            None,
            redgrid_power::threads(),
        )?;
        Ok((a, registry))
    })?;
    let since = analysis.data_end.map(|d| d - 13);
    let filed = crate::power_file::file_alerts(
        service,
        &store,
        &district,
        &registry,
        &analysis,
        &detect::Config::default(),
        since,
    )
    .await?;
    Ok((registry.len(), filed))
}

/// The server's daily run for one district: the detectors over its stored readings, and the
/// alerts of the last two days filed.
pub async fn scheduled(
    service: &redgrid_app::Service,
    store: &PowerStore,
    district: &str,
) -> anyhow::Result<crate::power_file::Filed> {
    let (s, d) = (store.clone(), district.to_string());
    let (analysis, registry, cfg) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let registry = Registry::load(&s.registry_path(&d))?;
        let file = s.root.join("thresholds.toml");
        let cfg = thresholds(&file.exists().then_some(file))?;
        let a = detect::analyze(&s, &d, &registry, &cfg, None, redgrid_power::threads())?;
        Ok((a, registry, cfg))
    })
    .await??;
    let since = analysis.data_end.map(|d| d - 1);
    crate::power_file::file_alerts(service, store, district, &registry, &analysis, &cfg, since)
        .await
}

/// The resumption index over time: one line per day and sector or street, with Σ use ÷ Σ baseline
/// and how many enterprises reached the threshold. UTF-8 with a BOM, so Excel opens it.
fn write_resumption(a: &Analysis, registry: &Registry, path: &Path) -> anyhow::Result<()> {
    let mut out = String::from("\u{feff}date,group,name,index,resumed,enterprises\n");
    let sector = a
        .resumption
        .by(|m| registry.get(m).map_or(String::new(), |x| x.sector.clone()));
    let street = a.resumption.by(|m| {
        registry.get(m).map_or(String::new(), |x| {
            x.grid_code.get(..9).unwrap_or("").to_string()
        })
    });
    for (kind, rows) in [("sector", sector), ("street", street)] {
        for ((name, d), (u, b, r, n)) in rows {
            let index = if b > 0.0 { u / b } else { 0.0 };
            out.push_str(&format!(
                "{},{kind},{name},{index:.4},{r},{n}\n",
                date_of(d)
            ));
        }
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}
