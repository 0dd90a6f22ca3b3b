//! Ingestion (every refusal leaves nothing stored), the detectors on a small synthetic city, and
//! the evaluation against its labels.

use redgrid_power::detect::{self, DetectorKind};
use redgrid_power::format::PowerStore;
use redgrid_power::ingest::{Options, Report, ingest_csv};
use redgrid_power::meters::Registry;
use redgrid_power::synth::{self, SynthConfig};
use redgrid_power::{day_of, eval};

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rgp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

const REGISTER: &str = "code,kind,grid_code,address,facts,consent\n\
    M1,dwelling,12011600100100101,1号楼101,,\n\
    M2,dwelling,12011600100100102,1号楼102,elderly_alone,2026-01-01\n\
    E1,enterprise,12011600100100101,港城路8号,,\n\
    X1,dwelling,12010100100100101,外区,,\n";

fn registry() -> Registry {
    let mut r = Registry::new();
    for m in Registry::parse(REGISTER).unwrap() {
        r.upsert(m);
    }
    r
}

fn ingest(store: &PowerStore, text: &str, skip: bool) -> Report {
    let mut o = Options::new("120116");
    o.skip_bad_rows = skip;
    ingest_csv(store, &registry(), &mut text.as_bytes(), &o, &mut |_| {}).unwrap()
}

fn hourly(meter: &str, day: &str, kwh: f64) -> String {
    (0..24)
        .map(|h| format!("{meter},{day}T{h:02}:00:00+08:00,{kwh}\n"))
        .collect()
}

fn stored(store: &PowerStore) -> usize {
    store
        .months("120116")
        .iter()
        .map(|&m| {
            store
                .segments("120116", m)
                .unwrap()
                .iter()
                .map(|s| s.rows())
                .sum::<usize>()
        })
        .sum()
}

#[test]
fn a_good_file_is_stored_once_and_sent_again_is_refused_as_duplicate() {
    let dir = temp("good");
    let store = PowerStore::new(&dir);
    let mut text = String::from("户号,时间,电量\n");
    text += &hourly("M1", "2026-03-01", 0.25);
    text += &hourly("M1", "2026-03-02", 0.5);
    text += &hourly("E1", "2026-03-01", 40.0);
    let r = ingest(&store, &text, false);
    assert!(r.ingested, "{}", r.render(false));
    assert_eq!(
        (r.readings, r.meter_days, r.interval_minutes),
        (72, 3, Some(60))
    );
    assert_eq!(stored(&store), 3);
    let again = ingest(&store, &text, false);
    assert!(!again.ingested);
    assert_eq!(again.problems["duplicate"].count, 72);
    assert_eq!(stored(&store), 3, "nothing added");
    // Totals read back exactly.
    let t = detect::daily_totals(
        &store,
        "120116",
        0,
        day_of(chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()),
        day_of(chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()),
    )
    .unwrap();
    assert_eq!(t.len(), 2);
    assert!((t[0].1 - 6.0).abs() < 1e-4 && (t[1].1 - 12.0).abs() < 1e-4);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_bad_file_is_refused_whole_with_lines_and_counts() {
    let dir = temp("bad");
    let store = PowerStore::new(&dir);
    let good = hourly("M1", "2026-03-01", 0.25);
    let cases: Vec<(&str, String)> = vec![
        ("columns", "meter,when,value_x\nM1,2026-03-01,1\n".into()),
        ("columns", String::new()),
        (
            "truncated",
            format!("meter,time,kwh\n{good}M1,2026-03-02T00:00:00+08:00,0."),
        ),
        (
            "truncated",
            format!("meter,time,kwh\n{good}M1,2026-03-02T00:0"),
        ),
        (
            "mixed_intervals",
            format!("meter,time,kwh\n{good}M1,2026-03-02,5\n"),
        ),
        (
            "mixed_intervals",
            format!(
                "meter,time,kwh\n{good}{}",
                (0..96)
                    .map(|q| format!(
                        "M2,2026-03-01T{:02}:{:02}:00+08:00,0.1\n",
                        q / 4,
                        q % 4 * 15
                    ))
                    .collect::<String>()
            ),
        ),
        (
            "duplicate",
            format!("meter,time,kwh\n{good}M1,2026-03-01T05:00:00+08:00,0.1\n"),
        ),
        ("no_readings", "meter,time,kwh\n".to_string()),
        ("no_readings", "户号,时间,电量\r\n\r\n".to_string()),
        (
            "time_zone",
            format!("meter,time,kwh\n{good}M1,2026-03-02T00:00:00Z,0.1\n"),
        ),
        (
            "time_zone",
            format!("meter,time,kwh\n{good}M1,2026-03-02T00:00:00+09:00,0.1\n"),
        ),
        (
            "other_district",
            format!("meter,time,kwh\n{good}X1,2026-03-01T00:00:00+08:00,0.1\n"),
        ),
        (
            "other_district",
            format!("meter,time,kwh\n{good}12010199999999,2026-03-01T00:00:00+08:00,0.1\n"),
        ),
        (
            "unknown_meter",
            format!("meter,time,kwh\n{good}NOPE,2026-03-01T00:00:00+08:00,0.1\n"),
        ),
        (
            "negative",
            format!("meter,time,kwh\n{good}M1,2026-03-02T00:00:00+08:00,-0.1\n"),
        ),
        (
            "bad_value",
            format!("meter,time,kwh\n{good}M1,2026-03-02T00:00:00+08:00,abc\n"),
        ),
        (
            "bad_value",
            format!("meter,time,kwh\n{good}M1,2026-03-02T00:00:00+08:00,NaN\n"),
        ),
        (
            "impossible",
            format!("meter,time,kwh\n{good}M1,2026-03-02T00:00:00+08:00,500\n"),
        ),
        (
            "duplicate",
            format!("meter,time,kwh\n{good}M1,2026-03-01T23:00:00+08:00,0.1\n"),
        ),
        (
            "bad_time",
            format!("meter,time,kwh\n{good}M1,2026-02-30T00:00:00+08:00,0.1\n"),
        ),
        (
            "fields",
            format!("meter,time,kwh\n{good}M1,2026-03-02T00:00:00+08:00,0.1,9\n"),
        ),
    ];
    for (kind, text) in cases {
        let r = ingest(&store, &text, false);
        assert!(!r.ingested, "{kind}: must be refused:\n{}", r.render(false));
        let p = r
            .problems
            .get(kind)
            .unwrap_or_else(|| panic!("{kind} not reported: {:?}", r.problems));
        assert!(p.count >= 1 && !p.examples.is_empty());
        let zh = r.render(true);
        assert!(zh.contains("第 "), "{zh}");
        assert_eq!(stored(&store), 0, "{kind}: nothing may be stored");
    }
    // The line number is the file's own.
    let r = ingest(
        &store,
        &format!("meter,time,kwh\n{good}M1,2026-03-02T00:00:00+08:00,-1\n"),
        false,
    );
    assert_eq!(r.problems["negative"].examples[0].0, 26);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_rows_can_be_skipped_but_file_problems_cannot_and_gaps_are_kept_as_missing() {
    let dir = temp("skip");
    let store = PowerStore::new(&dir);
    let mut text = String::from("meter,time,kwh\n");
    text += &hourly("M1", "2026-03-01", 0.25);
    text += "NOPE,2026-03-01T00:00:00+08:00,0.1\nM1,2026-03-02T00:00:00+08:00,-1\n";
    // M2 misses two hours.
    text += &(0..24)
        .filter(|h| *h != 3 && *h != 4)
        .map(|h| format!("M2,2026-03-01T{h:02}:00:00+08:00,0.1\n"))
        .collect::<String>();
    let r = ingest(&store, &text, true);
    assert!(r.ingested);
    assert_eq!(r.bad_rows(), 2);
    assert_eq!((r.meter_days, r.gaps.count), (2, 2));
    assert_eq!(stored(&store), 2);
    let tz = format!(
        "meter,time,kwh\n{}M1,2026-03-05T00:00:00Z,0.1\n",
        hourly("M1", "2026-03-04", 0.2)
    );
    let r = ingest(&store, &tz, true);
    assert!(
        !r.ingested,
        "a file problem refuses the file even when skipping bad rows"
    );
    assert_eq!(stored(&store), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn daily_files_are_read_as_daily_totals() {
    let dir = temp("daily");
    let store = PowerStore::new(&dir);
    let r = ingest(
        &store,
        "户号,日期,用电量\nM1,2026-03-01,8.5\nM1,2026-03-02,7.25\nE1,2026-03-01,1200\n",
        false,
    );
    assert!(r.ingested, "{}", r.render(false));
    assert_eq!((r.interval_minutes, r.meter_days), (Some(1440), 3));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_detectors_find_what_the_synthetic_city_hides() {
    let dir = temp("city");
    let store = PowerStore::new(&dir);
    let start = day_of(chrono::NaiveDate::from_ymd_opt(2025, 12, 1).unwrap());
    let mut cfg = SynthConfig::new(1500, 120, start);
    cfg.threads = 2;
    let (summary, plans) = synth::write_store(&cfg, &store, &|_, _| {}).unwrap();
    assert_eq!(summary.readings, summary.rows * 96);
    let registry = Registry::load(&store.registry_path("120116")).unwrap();
    assert_eq!(registry.len(), 1500);
    let mut labels_csv = Vec::new();
    synth::write_labels(&cfg, &plans, &mut labels_csv).unwrap();
    let labels = eval::Labels::parse(std::str::from_utf8(&labels_csv).unwrap(), &registry).unwrap();
    let a = detect::analyze(
        &store,
        "120116",
        &registry,
        &detect::Config::default(),
        None,
        2,
    )
    .unwrap();
    assert_eq!(a.rows, summary.rows);
    for k in [
        DetectorKind::Vacancy,
        DetectorKind::Routine,
        DetectorKind::GroupRental,
    ] {
        assert!(
            a.alerts.iter().any(|x| x.detector == k),
            "{k:?} found nothing"
        );
    }
    let check = eval::recount_index(&store, "120116", &registry).unwrap();
    let e = eval::evaluate(&a, &labels, &registry, &check);
    assert!(
        e.vacancy_days.f1() > 0.95,
        "vacancy F1 {}",
        e.vacancy_days.f1()
    );
    assert!(
        e.routine_breaks.recall() > 0.9,
        "routine recall {}",
        e.routine_breaks.recall()
    );
    assert!(
        e.group_rental.precision() > 0.7,
        "group rental {:?}",
        e.group_rental
    );
    assert!(
        e.resumption_index_max_error < 1e-6,
        "index {}",
        e.resumption_index_max_error
    );
    assert_eq!(
        e.resumption_exact.0, e.resumption_exact.1,
        "resumption days"
    );
    // A second analysis gives the same alerts (the run is deterministic across threads).
    let b = detect::analyze(
        &store,
        "120116",
        &registry,
        &detect::Config::default(),
        None,
        1,
    )
    .unwrap();
    assert_eq!(a.alerts, b.alerts);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn thresholds_come_from_toml_and_unknown_keys_are_refused() {
    let c = detect::Config::parse("[vacancy]\nalert_days = 14\n[resumption]\nthreshold = 0.5\n")
        .unwrap();
    assert_eq!(
        (
            c.vacancy.alert_days,
            c.resumption.threshold,
            c.vacancy.min_days
        ),
        (14, 0.5, 7)
    );
    assert!(detect::Config::parse("[vacancy]\nalert_dayz = 14\n").is_err());
}

/// Writes a Parquet file of (meter, UTC timestamp, kWh) rows, as the power company's tools do.
fn parquet_file(path: &std::path::Path, rows: &[(&str, i64, f64)], utc: bool) {
    use parquet::basic::Compression;
    use parquet::column::writer::ColumnWriter;
    use parquet::data_type::ByteArray;
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;
    let schema = Arc::new(
        parquet::schema::parser::parse_message_type(&format!(
            "message readings {{ required binary meter (UTF8); required int64 time (TIMESTAMP(MICROS,{utc})); required double kwh; }}"
        ))
        .unwrap(),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build(),
    );
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, schema, props).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut i = 0;
    while let Some(mut col) = rg.next_column().unwrap() {
        match col.untyped() {
            ColumnWriter::ByteArrayColumnWriter(c) => {
                let v: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(r.0)).collect();
                c.write_batch(&v, None, None).unwrap();
            }
            ColumnWriter::Int64ColumnWriter(c) => {
                let v: Vec<i64> = rows.iter().map(|r| r.1).collect();
                c.write_batch(&v, None, None).unwrap();
            }
            ColumnWriter::DoubleColumnWriter(c) => {
                let v: Vec<f64> = rows.iter().map(|r| r.2).collect();
                c.write_batch(&v, None, None).unwrap();
            }
            _ => panic!("column {i}"),
        }
        col.close().unwrap();
        i += 1;
    }
    rg.close().unwrap();
    w.close().unwrap();
}

#[test]
fn parquet_files_are_read_like_csv_with_utc_times_turned_local() {
    let dir = temp("parquet");
    std::fs::create_dir_all(&dir).unwrap();
    let store = PowerStore::new(dir.join("store"));
    let mut o = Options::new("120116");
    o.skip_bad_rows = false;
    // 2026-03-01 00:00 in +08:00 is 2026-02-28 16:00 UTC.
    let local_midnight_utc = day_of(chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()) as i64
        * 86_400_000_000
        - 8 * 3_600_000_000;
    let hour = 3_600_000_000i64;
    let rows: Vec<(&str, i64, f64)> = (0..24)
        .map(|h| ("M1", local_midnight_utc + h * hour, 0.5))
        .collect();
    let path = dir.join("good.parquet");
    parquet_file(&path, &rows, true);
    let r = redgrid_power::ingest::ingest_parquet(
        &store,
        &registry(),
        std::fs::File::open(&path).unwrap(),
        &o,
        &mut |_| {},
    )
    .unwrap();
    assert!(r.ingested, "{}", r.render(false));
    assert_eq!(
        (r.readings, r.meter_days, r.interval_minutes),
        (24, 1, Some(60))
    );
    let t = detect::daily_totals(
        &store,
        "120116",
        0,
        day_of(chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()),
        day_of(chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()),
    )
    .unwrap();
    assert_eq!(t.len(), 1, "all 24 hours fall on the local day");
    assert!((t[0].1 - 12.0).abs() < 1e-4);
    // Sent again: duplicates, nothing added.
    let again = redgrid_power::ingest::ingest_parquet(
        &store,
        &registry(),
        std::fs::File::open(&path).unwrap(),
        &o,
        &mut |_| {},
    )
    .unwrap();
    assert!(!again.ingested);
    assert_eq!(again.problems["duplicate"].count, 24);
    // Bad rows name their row; a cut file is refused; wrong columns are refused.
    let bad: Vec<(&str, i64, f64)> = vec![
        ("M1", local_midnight_utc + 30 * hour, -1.0),
        ("NOPE", local_midnight_utc + 30 * hour, 1.0),
    ];
    let path = dir.join("bad.parquet");
    parquet_file(&path, &bad, true);
    let r = redgrid_power::ingest::ingest_parquet(
        &store,
        &registry(),
        std::fs::File::open(&path).unwrap(),
        &o,
        &mut |_| {},
    )
    .unwrap();
    assert!(!r.ingested);
    assert_eq!(r.problems["negative"].examples[0].0, 1);
    assert_eq!(r.problems["unknown_meter"].examples[0].0, 2);
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let r = redgrid_power::ingest::ingest_parquet(
        &store,
        &registry(),
        std::fs::File::open(&cut).unwrap(),
        &o,
        &mut |_| {},
    )
    .unwrap();
    assert!(
        !r.ingested && r.problems.contains_key("truncated"),
        "{:?}",
        r.problems
    );
    assert_eq!(stored(&store), 1, "only the good file is stored");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Copies a store's readings into a new store, splitting each month's rows into segments by
/// `part(meter, day)` (segment 0, 1, …), and its register.
fn resplit(from: &PowerStore, to_dir: &std::path::Path, part: &dyn Fn(u32, i32) -> usize) {
    let to = PowerStore::new(to_dir);
    let mut batch = to.begin("120116").unwrap();
    for month in from.months("120116") {
        for seg in from.segments("120116", month).unwrap() {
            let mut buf = Vec::new();
            seg.read_values(0..seg.rows(), &mut buf).unwrap();
            let mut writers: Vec<Option<redgrid_power::format::SegmentWriter>> = Vec::new();
            for row in 0..seg.rows() {
                let p = part(seg.meters[row], seg.days[row]);
                if writers.len() <= p {
                    writers.resize_with(p + 1, || None);
                }
                let w = match &mut writers[p] {
                    Some(w) => w,
                    slot => slot.insert(batch.segment(month, seg.interval_minutes).unwrap()),
                };
                w.push(
                    seg.meters[row],
                    seg.days[row],
                    seg.scales[row],
                    seg.missing[row],
                    &buf[row * seg.slots..(row + 1) * seg.slots],
                )
                .unwrap();
            }
            for w in writers.into_iter().flatten() {
                w.finish().unwrap();
            }
        }
    }
    batch.commit("resplit").unwrap();
    std::fs::copy(from.registry_path("120116"), to.registry_path("120116")).unwrap();
}

#[test]
fn the_findings_do_not_depend_on_how_the_readings_are_split_into_segments() {
    let dir = temp("split");
    let store = PowerStore::new(dir.join("one"));
    let start = day_of(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    let mut cfg = SynthConfig::new(400, 62, start);
    cfg.threads = 2;
    synth::write_store(&cfg, &store, &|_, _| {}).unwrap();
    let registry = Registry::load(&store.registry_path("120116")).unwrap();
    let months = store.months("120116");
    assert!(
        months
            .iter()
            .all(|&m| store.segments("120116", m).unwrap().len() == 1),
        "one segment a month to start from"
    );
    // Meters in three runs, a segment each (no meter in two: rows are read as they come);
    // meters dealt out over three segments, and days split over two (segments share meters:
    // rows are gathered and sorted first).
    resplit(&store, &dir.join("meters"), &|m, _| (m / 150) as usize);
    resplit(&store, &dir.join("dealt"), &|m, _| (m % 3) as usize);
    resplit(&store, &dir.join("days"), &|_, d| (d % 2) as usize);
    let run = |root: &str| {
        let s = PowerStore::new(dir.join(root));
        assert!(s.months("120116") == months);
        detect::analyze(&s, "120116", &registry, &detect::Config::default(), None, 2).unwrap()
    };
    let one = run("one");
    assert!(!one.alerts.is_empty() && !one.vacancy.is_empty());
    for other in ["meters", "dealt", "days"] {
        let a = run(other);
        assert!(
            PowerStore::new(dir.join(other))
                .segments("120116", months[0])
                .unwrap()
                .len()
                > 1
        );
        assert_eq!((a.rows, a.readings), (one.rows, one.readings), "{other}");
        assert_eq!(a.alerts, one.alerts, "{other}: alerts");
        assert_eq!(a.vacancy, one.vacancy, "{other}: vacant spells");
        assert_eq!(a.faults, one.faults, "{other}: faults");
        assert_eq!(a.resumption.daily, one.resumption.daily, "{other}: index");
        assert_eq!(
            a.group_rental.len(),
            one.group_rental.len(),
            "{other}: scored dwellings"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_newest_first_is_stored_like_the_same_file_oldest_first() {
    let forward = format!(
        "meter,time,kwh\n{}{}",
        hourly("M1", "2026-03-01", 0.2),
        hourly("M2", "2026-03-01", 0.1)
    );
    let mut lines: Vec<&str> = forward.lines().skip(1).collect();
    lines.reverse();
    let backward = format!("meter,time,kwh\n{}\n", lines.join("\n"));
    let (a, b) = (temp("forward"), temp("backward"));
    let (sa, sb) = (PowerStore::new(&a), PowerStore::new(&b));
    let ra = ingest(&sa, &forward, false);
    let rb = ingest(&sb, &backward, false);
    assert!(ra.problems.is_empty(), "{:?}", ra.problems);
    assert!(rb.problems.is_empty(), "{:?}", rb.problems);
    assert_eq!(rb.interval_minutes, Some(60));
    assert_eq!(stored(&sa), stored(&sb));
    assert!(stored(&sb) > 0);
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn a_file_that_is_not_utf8_is_refused_with_its_line_and_nothing_stored() {
    let dir = temp("gbk");
    let store = PowerStore::new(&dir);
    // "户号,时间,电量" in GBK, as Excel saves a CSV on a Chinese Windows.
    let mut bytes = vec![
        0xBB, 0xA7, 0xBA, 0xC5, b',', 0xCA, 0xB1, 0xBC, 0xE4, b',', 0xB5, 0xE7, 0xC1, 0xBF, b'\n',
    ];
    bytes.extend_from_slice(hourly("M1", "2026-03-01", 0.2).as_bytes());
    let mut o = Options::new("120116");
    o.skip_bad_rows = false;
    let r = ingest_csv(&store, &registry(), &mut bytes.as_slice(), &o, &mut |_| {}).unwrap();
    assert!(r.refused_for_file());
    assert!(r.problems.contains_key("encoding"), "{:?}", r.problems);
    assert_eq!(r.lines, 1, "the report counts the lines read");
    assert_eq!(stored(&store), 0);
    // A bad byte further down names its line.
    let mut later = b"meter,time,kwh\n".to_vec();
    later.extend_from_slice(hourly("M1", "2026-03-01", 0.2).as_bytes());
    later.extend_from_slice(b"M1,2026-03-02T00:00:00+08:00,\xFF\n");
    let r = ingest_csv(&store, &registry(), &mut later.as_slice(), &o, &mut |_| {}).unwrap();
    assert!(r.problems.contains_key("encoding"));
    assert!(
        format!("{:?}", r.problems["encoding"]).contains("26"),
        "{:?}",
        r.problems
    );
    assert_eq!(r.lines, 26);
    assert_eq!(stored(&store), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn times_with_other_characters_or_outside_2000_to_2099_are_bad_times_not_crashes() {
    // Both crashed the reader before its fuzz target found them.
    for bad in [
        "M1,2026-03-\u{200b}01T21:00:00+08:00,0.1\n",
        "M1,2026-03-时间02 00:30,0.1\n",
        "M1,1969-12-31T23:00:00+08:00,0.1\n",
        "M1,0001-01-01,0.1\n",
        "M1,2100-01-01 00:00,0.1\n",
    ] {
        let dir = temp("badtime");
        let store = PowerStore::new(&dir);
        let text = format!("meter,time,kwh\n{}{bad}", hourly("M1", "2026-03-01", 0.2));
        let r = ingest(&store, &text, false);
        assert!(
            r.problems.contains_key("bad_time"),
            "{bad}: {:?}",
            r.problems
        );
        assert_eq!(stored(&store), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_damaged_parquet_file_is_refused_as_unreadable_not_a_crash() {
    // Found by the parquet fuzz target: the decoder panics on these pages.
    let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fuzz/parquet");
    for name in [
        "regression-dict-decoder.parquet",
        "regression-short-page.parquet",
    ] {
        let dir = temp("damaged");
        let store = PowerStore::new(&dir);
        let f = std::fs::File::open(format!("{seeds}/{name}")).unwrap();
        let r = redgrid_power::ingest::ingest_parquet(
            &store,
            &registry(),
            f,
            &Options::new("120116"),
            &mut |_| {},
        )
        .unwrap();
        assert!(r.refused_for_file(), "{name}: {:?}", r.problems);
        assert_eq!(stored(&store), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A register made from the text of a register file.
fn register_of(text: &str) -> Registry {
    let mut reg = Registry::new();
    for m in Registry::parse(text).unwrap() {
        reg.upsert(m);
    }
    reg
}

/// Ingests `text` for district 120116 (every row good) and saves the register beside it.
fn ingest_with_register(store: &PowerStore, reg: &Registry, text: &str) {
    let r = ingest_csv(
        store,
        reg,
        &mut text.as_bytes(),
        &Options::new("120116"),
        &mut |_| {},
    )
    .unwrap();
    assert!(r.ingested, "{}", r.render(false));
    reg.save(&store.registry_path("120116")).unwrap();
}

/// A day of quarter-hours for `meter`: `base` kWh each, with `busy` kWh in the slots given.
fn quarters(meter: &str, day: &str, base: f64, busy: &[(usize, f64)]) -> String {
    (0..96)
        .map(|q| {
            let v = busy.iter().find(|b| b.0 == q).map_or(base, |b| b.1);
            format!(
                "{meter},{day}T{:02}:{:02}:00+08:00,{v}\n",
                q / 4,
                q % 4 * 15
            )
        })
        .collect()
}

#[test]
fn one_and_five_minute_readings_are_summed_to_quarter_hours_and_the_report_says_so() {
    for step in [1u32, 5] {
        let dir = temp(&format!("minutes{step}"));
        let store = PowerStore::new(&dir);
        let mut text = String::from("meter,time,kwh\n");
        for m in (0..1440).step_by(step as usize) {
            // 00:07 (or 00:05) is missing: its quarter-hour is stored as missing, not short.
            if m == 7 || (step == 5 && m == 5) {
                continue;
            }
            text += &format!("M1,2026-03-01T{:02}:{:02}:00+08:00,0.01\n", m / 60, m % 60);
        }
        let r = ingest(&store, &text, false);
        assert!(r.ingested, "{}", r.render(false));
        assert_eq!(r.interval_minutes, Some(15));
        assert_eq!(r.summed_from_minutes, Some(step as u16));
        assert_eq!(
            (r.meter_days, r.gaps.count),
            (1, 1),
            "one quarter-hour missing"
        );
        assert!(
            r.render(true)
                .contains(&format!("每 {step} 分钟的读数已按 15 分钟汇总"))
        );
        let day = day_of(chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        let t = detect::daily_totals(&store, "120116", 0, day, day).unwrap();
        let per_quarter = 0.01 * (15 / step) as f64;
        assert!(((t[0].1 as f64) - 95.0 * per_quarter).abs() < 1e-3, "{t:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Any other step is refused, named at the line where it shows (not line 0).
    let dir = temp("minutes7");
    let store = PowerStore::new(&dir);
    let text = "meter,time,kwh\nM1,2026-03-01T00:00:00+08:00,1\nM1,2026-03-01T00:07:00+08:00,1\n";
    let r = ingest(&store, text, false);
    let p = &r.problems["mixed_intervals"];
    assert_eq!(p.examples[0].0, 3, "{p:?}");
    assert_eq!(stored(&store), 0);
    // Deep in a file of 5-minute readings, a reading 2 minutes after the one before: the file's
    // step is still 5 (the gap seen most often), and the stray reading is named at its own line.
    let mut text = String::from("meter,time,kwh\n");
    for (k, m) in (0..120).step_by(5).enumerate() {
        let m = if k == 16 { m - 3 } else { m };
        text += &format!("M1,2026-03-01T{:02}:{:02}:00+08:00,0.01\n", m / 60, m % 60);
    }
    let r = ingest(&store, &text, false);
    let p = &r.problems["mixed_intervals"];
    assert_eq!(p.examples[0].0, 18, "{p:?}");
    assert!(
        p.examples[0].1.contains("off the file's 5-minute step"),
        "{p:?}"
    );
    assert!(!r.render(false).contains("summed"), "{}", r.render(false));
    assert_eq!(stored(&store), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_minute_file_with_a_quarter_hour_meter_among_its_meters_is_refused_whole() {
    // Summing minute readings to quarter-hours would find every quarter of a 15-minute meter
    // short and drop it: the file is refused instead, naming that meter, and nothing is stored.
    for fine in [1usize, 5] {
        let dir = temp(&format!("mixed-minutes{fine}"));
        let store = PowerStore::new(&dir);
        let mut text = String::from("meter,time,kwh\n");
        for m in (0..1440).step_by(fine) {
            text += &format!("M1,2026-03-01T{:02}:{:02}:00+08:00,0.01\n", m / 60, m % 60);
        }
        for m in (0..1440).step_by(15) {
            text += &format!("M2,2026-03-01T{:02}:{:02}:00+08:00,0.05\n", m / 60, m % 60);
        }
        let r = ingest(&store, &text, false);
        assert!(!r.ingested, "{}", r.render(false));
        let p = &r.problems["mixed_intervals"];
        assert_eq!(p.count, 1, "{p:?}");
        assert_eq!(p.examples[0].0, 1440 / fine as u64 + 3, "{p:?}");
        assert!(
            p.examples[0]
                .1
                .contains(&format!("M2 reads every 15 minutes, the file every {fine}")),
            "{p:?}"
        );
        assert!(!r.render(false).contains("summed"), "{}", r.render(false));
        assert_eq!(stored(&store), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_day_repeating_the_day_before_is_stored_as_missing_and_reported() {
    let dir = temp("repeat");
    let store = PowerStore::new(&dir);
    let busy = [(30, 0.4), (76, 0.3), (80, 0.5)];
    let mut text = String::from("meter,time,kwh\n");
    text += &quarters("M1", "2026-03-01", 0.02, &busy);
    text += &quarters("M1", "2026-03-02", 0.02, &busy);
    // A dead meter's zeros day after day are not a filler.
    text += &quarters("M2", "2026-03-01", 0.0, &[]);
    text += &quarters("M2", "2026-03-02", 0.0, &[]);
    let r = ingest(&store, &text, false);
    assert!(r.ingested, "{}", r.render(false));
    assert_eq!(r.repeated_days.count, 1);
    assert!(r.repeated_days.examples[0].1.contains("M1 2026-03-02"));
    assert!(r.render(false).contains("repeated_day"));
    let first = day_of(chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
    let days = detect::daily_series(&store, "120116", 0, first - 3, first + 3).unwrap();
    assert_eq!(days.len(), 2);
    assert!(days[0].1.is_some() && days[1].1.is_none(), "{days:?}");
    // The chart draws the gap as a gap.
    let svg = redgrid_power::svg::daily_chart(&days, days[0].0, days[1].0, "M1");
    assert!(svg.contains("数据缺失") && svg.contains("stroke-dasharray"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_a_day_whose_day_repeats_the_stored_day_before_is_stored_as_missing() {
    // A head-end that delivers a file a day: its filler is the file's only day.
    let dir = temp("repeat-daily");
    let store = PowerStore::new(&dir);
    let busy = [(30, 0.4), (76, 0.3), (80, 0.5)];
    let file =
        |day: &str, base: f64| format!("meter,time,kwh\n{}", quarters("M1", day, base, &busy));
    let r = ingest(&store, &file("2026-03-01", 0.02), false);
    assert!(r.ingested && r.repeated_days.count == 0);
    let r = ingest(&store, &file("2026-03-02", 0.02), false);
    assert!(r.ingested, "{}", r.render(false));
    assert_eq!(r.repeated_days.count, 1, "{}", r.render(false));
    assert!(r.repeated_days.examples[0].1.contains("M1 2026-03-02"));
    // A head-end that stalls sends the same day again: caught through the filler stored as
    // missing before it.
    let r = ingest(&store, &file("2026-03-03", 0.02), false);
    assert_eq!(r.repeated_days.count, 1, "{}", r.render(false));
    // The next day, different, is stored; so is a day after a gap that happens to match.
    let r = ingest(&store, &file("2026-03-04", 0.03), false);
    assert_eq!(r.repeated_days.count, 0);
    let r = ingest(&store, &file("2026-03-06", 0.03), false);
    assert_eq!(r.repeated_days.count, 0, "2026-03-05 is not stored");
    // Across a month's end too (the day before is in another month's segments).
    let r = ingest(&store, &file("2026-03-31", 0.04), false);
    assert_eq!(r.repeated_days.count, 0);
    let r = ingest(&store, &file("2026-04-01", 0.04), false);
    assert_eq!(r.repeated_days.count, 1);
    let first = day_of(chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
    let days = detect::daily_series(&store, "120116", 0, first, first + 31).unwrap();
    let kept = |k: i32| {
        days.iter()
            .find(|d| d.0 == first + k)
            .and_then(|d| d.1)
            .is_some()
    };
    assert_eq!(
        [0, 1, 2, 3, 5, 30, 31].map(kept),
        [true, false, false, true, true, true, false],
        "{days:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn consent_bounds_routine_watch_and_withdrawal_is_kept_and_checked() {
    let text = "code,kind,grid_code,address,facts,consent,consent_withdrawn\n\
                M1,dwelling,12011600100100101,,elderly_alone,2026-01-10,2026-03-01\n\
                M2,dwelling,12011600100100101,,elderly_alone,2026-01-10,\n\
                M3,dwelling,12011600100100101,,elderly_alone,,\n";
    let ms = Registry::parse(text).unwrap();
    let d = |s: &str| day_of(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap());
    assert_eq!(ms[0].watch_days(), Some((d("2026-01-10"), d("2026-03-01"))));
    assert_eq!(ms[1].watch_days(), Some((d("2026-01-10"), i32::MAX)));
    assert_eq!(ms[2].watch_days(), None, "no consent, no watch");
    // Withdrawn before consent, or without any: refused with the line.
    let bad = "code,kind,grid_code,consent,consent_withdrawn\n\
               M1,dwelling,12011600100100101,2026-03-01,2026-01-01\n\
               M2,dwelling,12011600100100101,,2026-01-01\n";
    let p = Registry::parse(bad).unwrap_err();
    assert!(p.len() == 2 && p[0].starts_with("line 2:") && p[1].starts_with("line 3:"));
    // Changes of consent are listed for the consent log, which keeps every one.
    let mut r = Registry::new();
    for m in Registry::parse(&text.replace(",2026-03-01\n", ",\n")).unwrap() {
        r.upsert(m);
    }
    let changes = r.consent_changes(&ms);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].meter, "M1");
    assert_eq!(
        changes[0].withdrawn.1,
        chrono::NaiveDate::from_ymd_opt(2026, 3, 1)
    );
    let dir = temp("consent");
    let log = dir.join("consent-log.csv");
    redgrid_power::meters::record_consent_changes(&log, &changes, "2026-03-01T08:00:00Z", "a.csv")
        .unwrap();
    redgrid_power::meters::record_consent_changes(&log, &changes, "2026-03-02T08:00:00Z", "b.csv")
        .unwrap();
    let kept = std::fs::read_to_string(&log).unwrap();
    assert_eq!(kept.lines().count(), 3, "a header and both lines: {kept}");
    assert!(kept.contains("M1,2026-01-10,2026-01-10,,2026-03-01,a.csv"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn routine_alerts_stay_inside_consent_and_a_break_of_days_is_one_episode() {
    // An elderly person's steady routine, then three days in bed, with consent from day 20.
    let dir = temp("episode");
    let store = PowerStore::new(&dir);
    let register = "code,kind,grid_code,address,facts,consent\n\
                    M1,dwelling,12011600100100101,,elderly_alone,2026-01-21\n\
                    M2,dwelling,12011600100100101,,elderly_alone,\n";
    let reg = register_of(register);
    let normal: Vec<(usize, f64)> = vec![
        (26, 0.45),
        (27, 0.4),
        (46, 0.3),
        (47, 0.3),
        (70, 0.3),
        (71, 0.3),
        (80, 0.2),
    ];
    let mut text = String::from("meter,time,kwh\n");
    for d in 1..=40 {
        let day = format!("2026-01-{:02}", d.min(31));
        let day = if d > 31 {
            format!("2026-02-{:02}", d - 31)
        } else {
            day
        };
        // Days 5–7 (before consent) and 33–35 (after) show nobody up.
        let busy: &[(usize, f64)] = if (5..=7).contains(&d) || (33..=35).contains(&d) {
            &[]
        } else {
            &normal
        };
        // (Each day a little different: a day repeating the one before is a head-end filler.)
        let base = 0.01 + d as f64 * 1e-4;
        text += &quarters("M1", &day, base, busy);
        text += &quarters("M2", &day, base, busy);
    }
    let mut o = Options::new("120116");
    o.skip_bad_rows = false;
    let r = ingest_csv(&store, &reg, &mut text.as_bytes(), &o, &mut |_| {}).unwrap();
    assert!(r.ingested, "{}", r.render(false));
    reg.save(&store.registry_path("120116")).unwrap();
    let a = detect::analyze(&store, "120116", &reg, &detect::Config::default(), None, 1).unwrap();
    let routine: Vec<_> = a
        .alerts
        .iter()
        .filter(|x| x.detector == DetectorKind::Routine)
        .collect();
    assert_eq!(routine.len(), 1, "{routine:?}");
    let e = routine[0];
    assert_eq!(e.meter, 0, "no consent, no alert for M2");
    let feb = |d: u32| day_of(chrono::NaiveDate::from_ymd_opt(2026, 2, d).unwrap());
    assert_eq!((e.since, e.day, e.days, e.severity), (feb(2), feb(4), 3, 3));
    assert!(e.reasons.contains(&"no_morning"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_routine_and_a_base_load_that_drift_with_the_seasons_raise_nothing_and_an_absence_is_still_found()
 {
    // Five months of an elderly person living alone: mornings come 1.5 hours earlier as the days
    // lengthen, evenings later, the day's use falls by a third and the fridge's base load rises
    // by three quarters with the warmth. Nothing breaks until a three-week stay away at the end.
    let dir = temp("drift");
    let store = PowerStore::new(&dir);
    let register = "code,kind,grid_code,address,facts,consent\n\
                    M1,dwelling,12011600100100101,,elderly_alone,2026-01-01\n";
    let reg = register_of(register);
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let days = 150;
    let away = 129..150; // the last 21 days
    let mut text = String::from("meter,time,kwh\n");
    for d in 0..days {
        let day = (start + chrono::Duration::days(d)).to_string();
        let t = d as f64 / days as f64;
        let base = 0.02 * (1.0 + 0.75 * t) + d as f64 * 1e-6;
        let busy: Vec<(usize, f64)> = if away.contains(&d) {
            vec![]
        } else {
            let morning = 28 - (6.0 * t) as usize;
            let evening = 72 + (4.0 * t) as usize;
            let scale = 1.0 - t / 3.0;
            vec![
                (morning, 0.45 * scale),
                (morning + 1, 0.4 * scale),
                (46, 0.3 * scale),
                (47, 0.3 * scale),
                (evening, 0.3 * scale),
                (evening + 1, 0.3 * scale),
                (evening + 8, 0.2 * scale),
            ]
        };
        text += &quarters("M1", &day, base, &busy);
    }
    ingest_with_register(&store, &reg, &text);
    let a = detect::analyze(&store, "120116", &reg, &detect::Config::default(), None, 1).unwrap();
    let on = |d: i64| day_of(start + chrono::Duration::days(d));
    // No routine alert before the stay away: drift is not a break. The stay away is one episode
    // from its first day (for someone living alone, a day nobody is up is a call to make).
    let routine: Vec<_> = a
        .alerts
        .iter()
        .filter(|x| x.detector == DetectorKind::Routine)
        .collect();
    assert_eq!(routine.len(), 1, "drift is not a break: {routine:?}");
    assert_eq!(routine[0].since, on(away.start), "{routine:?}");
    // The absence is one unoccupied spell of its three weeks, though the base rose all along.
    let spells: Vec<_> = a.vacancy.iter().filter(|s| s.meter == 0).collect();
    assert_eq!(spells.len(), 1, "{spells:?}");
    assert!(
        spells[0].from <= on(away.start + 1) && spells[0].to == on(days - 1),
        "{spells:?}"
    );
    assert_eq!(a.dwellings[0].2 as usize, spells[0].days() as usize);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn five_minute_parquet_readings_are_summed_to_quarter_hours_like_csv() {
    let dir = temp("parquet5");
    std::fs::create_dir_all(&dir).unwrap();
    let store = PowerStore::new(dir.join("store"));
    let day = day_of(chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
    let local_midnight_utc = day as i64 * 86_400_000_000 - 8 * 3_600_000_000;
    let minute = 60_000_000i64;
    // A day of 5-minute readings, but 10:05 missing: its quarter-hour is stored as missing.
    let rows: Vec<(&str, i64, f64)> = (0..288)
        .filter(|&k| k != 121)
        .map(|k| ("M1", local_midnight_utc + k * 5 * minute, 0.01))
        .collect();
    let path = dir.join("five.parquet");
    parquet_file(&path, &rows, true);
    let r = redgrid_power::ingest::ingest_parquet(
        &store,
        &registry(),
        std::fs::File::open(&path).unwrap(),
        &Options::new("120116"),
        &mut |_| {},
    )
    .unwrap();
    assert!(r.ingested, "{}", r.render(false));
    assert_eq!(
        (r.interval_minutes, r.summed_from_minutes, r.gaps.count),
        (Some(15), Some(5), 1)
    );
    let t = detect::daily_totals(&store, "120116", 0, day, day).unwrap();
    assert!(((t[0].1 as f64) - 95.0 * 0.03).abs() < 1e-3, "{t:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The busy quarter-hours of an ordinary day at home (breakfast, lunch, the evening), in kWh.
const ORDINARY_DAY: [(usize, f64); 6] = [
    (28, 0.5),
    (29, 0.4),
    (48, 0.6),
    (76, 0.4),
    (77, 0.4),
    (84, 0.3),
];

#[test]
fn an_absence_on_a_tiny_base_load_is_found_though_its_days_vary_by_more_than_half() {
    // A flat whose fridge was switched off: a few tens of watt-hours a day, doubling and halving
    // from day to day, after three weeks of ordinary life.
    let dir = temp("tiny-base");
    let store = PowerStore::new(&dir);
    let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let busy = ORDINARY_DAY;
    let mut text = String::from("meter,time,kwh\n");
    for d in 0..35i64 {
        let day = (start + chrono::Duration::days(d)).to_string();
        text += &if d < 21 {
            quarters("M1", &day, 0.02 + d as f64 * 1e-5, &busy)
        } else {
            quarters("M1", &day, if d % 2 == 0 { 0.0005 } else { 0.003 }, &[])
        };
    }
    let r = ingest(&store, &text, false);
    assert!(r.ingested, "{}", r.render(false));
    registry().save(&store.registry_path("120116")).unwrap();
    let a = detect::analyze(
        &store,
        "120116",
        &registry(),
        &detect::Config::default(),
        None,
        1,
    )
    .unwrap();
    let spells: Vec<_> = a.vacancy.iter().filter(|s| s.meter == 0).collect();
    assert_eq!(spells.len(), 1, "{spells:?}");
    let on = |d: i64| day_of(start + chrono::Duration::days(d));
    assert_eq!((spells[0].from, spells[0].to), (on(21), on(34)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_low_day_and_a_heater_night_raise_nothing_but_a_lasting_drop_and_a_restless_night_do() {
    // Forty days of an elderly person living alone, watched from the first day. Day 20 is one
    // low day (out for the day: a little use at the usual times); days 30 and 31 are a drop
    // that lasts. The night of day 25 runs a 2 kW heater for five hours (a machine on a timer,
    // not a person up); the night of day 36 has a few hundred watts for two and a half hours.
    let dir = temp("drop");
    let store = PowerStore::new(&dir);
    let register = "code,kind,grid_code,address,facts,consent\n\
                    M1,dwelling,12011600100100101,,elderly_alone,2026-01-01\n";
    let reg = register_of(register);
    let times = [26, 27, 46, 47, 70, 71, 80];
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let mut text = String::from("meter,time,kwh\n");
    for d in 0..40i64 {
        let day = (start + chrono::Duration::days(d)).to_string();
        let low = d == 20 || d == 30 || d == 31;
        let mut busy: Vec<(usize, f64)> = times
            .iter()
            .map(|&q| (q, if low { 0.32 } else { 1.0 }))
            .collect();
        if d == 25 {
            busy.extend((4..24).map(|q| (q, 0.5)));
        }
        if d == 36 {
            busy.extend((5..15).map(|q| (q, 0.11)));
        }
        text += &quarters("M1", &day, 0.002 + d as f64 * 1e-5, &busy);
    }
    ingest_with_register(&store, &reg, &text);
    let on = |d: i64| day_of(start + chrono::Duration::days(d));
    let found = |cfg: &detect::Config| -> Vec<(i32, i32, Vec<&'static str>)> {
        let a = detect::analyze(&store, "120116", &reg, cfg, None, 1).unwrap();
        a.alerts
            .iter()
            .filter(|x| x.detector == DetectorKind::Routine)
            .map(|x| (x.since, x.day, x.reasons.clone()))
            .collect()
    };
    assert_eq!(
        found(&detect::Config::default()),
        vec![
            (on(30), on(31), vec!["sharp_drop"]),
            (on(36), on(36), vec!["night_use"])
        ]
    );
    // The two rules, switched back off by thresholds: the single low day alerts, and so does
    // the heater's night.
    let mut loose = detect::Config::default();
    loose.routine.drop_days = 1;
    loose.routine.night_max_kwh = 100.0;
    let days: Vec<i32> = found(&loose).iter().map(|x| x.0).collect();
    assert!(days.contains(&on(20)) && days.contains(&on(25)), "{days:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Four dwellings in one grid.
const FOUR_DWELLINGS: &str = "code,kind,grid_code,address,facts,consent\n\
    D1,dwelling,12011600100100101,1号楼101,,\n\
    D2,dwelling,12011600100100101,1号楼102,,\n\
    D3,dwelling,12011600100100101,1号楼103,,\n\
    D4,dwelling,12011600100100101,1号楼104,,\n";

#[test]
fn one_meter_ahead_of_the_rest_does_not_make_the_rest_look_removed_but_one_behind_them_does() {
    let reg = register_of(FOUR_DWELLINGS);
    let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let days = |meter: &str, n: i64| -> String {
        (0..n)
            .map(|d| hourly(meter, &(start + chrono::Duration::days(d)).to_string(), 0.2))
            .collect()
    };
    let removed = |lengths: [i64; 4]| -> Vec<(u32, i32)> {
        let dir = temp(&format!("lag-{}-{}", lengths[0], lengths[2]));
        let store = PowerStore::new(&dir);
        let mut text = String::from("meter,time,kwh\n");
        for (m, n) in ["D1", "D2", "D3", "D4"].iter().zip(lengths) {
            text += &days(m, n);
        }
        ingest_with_register(&store, &reg, &text);
        let a =
            detect::analyze(&store, "120116", &reg, &detect::Config::default(), None, 1).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        a.alerts
            .iter()
            .filter(|x| x.reasons.contains(&"no_data"))
            .map(|x| (x.meter, x.day))
            .collect()
    };
    // One meter's file runs 40 days ahead of the other three: a delivery that lags, not three
    // meters removed.
    assert_eq!(removed([20, 20, 20, 60]), vec![]);
    // One meter stops 40 days before the other three: it is removed (or its data is missing),
    // up to the day the others reach.
    let last = day_of(start) + 59;
    assert_eq!(removed([21, 60, 60, 60]), vec![(0, last)]);
    // Two meters with data: half of them reach the later end, and the one that stopped is removed.
    assert_eq!(removed([21, 60, 0, 0]), vec![(0, last)]);
}

#[test]
fn an_absence_up_to_the_end_of_its_meters_readings_goes_on_though_another_meter_reads_further() {
    // D1's household left after three weeks and its readings stop on day 34; D4's file runs to
    // day 59. Where D1's readings stop nothing says the absence is over: it is still going on
    // (so its request is not told it ended), and D1 is not removed either.
    let reg = register_of(FOUR_DWELLINGS);
    let busy = ORDINARY_DAY;
    let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let mut text = String::from("meter,time,kwh\n");
    for (m, n) in [("D1", 35), ("D2", 35), ("D3", 35), ("D4", 60)] {
        for d in 0..n {
            let day = (start + chrono::Duration::days(d)).to_string();
            let away = m == "D1" && d >= 21;
            text += &quarters(m, &day, 0.02, if away { &[] } else { &busy });
        }
    }
    let dir = temp("own-end");
    let store = PowerStore::new(&dir);
    ingest_with_register(&store, &reg, &text);
    let a = detect::analyze(&store, "120116", &reg, &detect::Config::default(), None, 1).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let d1: Vec<_> = a.alerts.iter().filter(|x| x.meter == 0).collect();
    let vacancy: Vec<_> = d1
        .iter()
        .filter(|x| x.detector == detect::DetectorKind::Vacancy)
        .collect();
    assert_eq!(vacancy.len(), 1, "{d1:?}");
    assert!(vacancy[0].ongoing, "{:?}", vacancy[0]);
    assert_eq!(vacancy[0].day, day_of(start) + 34);
    assert!(!d1.iter().any(|x| x.reasons.contains(&"no_data")), "{d1:?}");
}

#[test]
fn minute_files_refuse_times_off_their_step_and_report_a_day_without_one_whole_quarter() {
    let dir = temp("minute-edges");
    let store = PowerStore::new(&dir);
    let five = |meter: &str, shift_from: usize| -> String {
        (0..288)
            .map(|k| {
                let m = k * 5 + if k >= shift_from { 2 } else { 0 };
                format!(
                    "{meter},2026-03-01T{:02}:{:02}:00+08:00,0.01\n",
                    m / 60,
                    m % 60
                )
            })
            .collect()
    };
    // From reading 100 on, every time is two minutes off the 5-minute step: refused at the first.
    let r = ingest(
        &store,
        &format!("meter,time,kwh\n{}", five("M1", 100)),
        false,
    );
    assert!(!r.ingested);
    let p = &r.problems["mixed_intervals"];
    assert_eq!(p.examples[0].0, 102, "{p:?}");
    assert!(
        p.examples[0].1.contains("off the file's 5-minute step"),
        "{p:?}"
    );
    assert!(!r.render(false).contains("summed"));
    // A bad value (rows not skipped): refused, and nothing claims to have been summed.
    let bad = format!("meter,time,kwh\n{}", five("M1", 999)).replacen(",0.01\n", ",abc\n", 1);
    let r = ingest(&store, &bad, false);
    assert!(!r.ingested && r.problems.contains_key("bad_value"), "{r:?}");
    assert!(!r.render(false).contains("summed"), "{}", r.render(false));
    assert_eq!(stored(&store), 0);
    // A second meter with two 5-minute readings (no whole quarter-hour): its day is reported as
    // a day without data, not lost without a word; the first meter's day is stored.
    let text = format!(
        "meter,time,kwh\n{}M2,2026-03-01T10:05:00+08:00,0.4\nM2,2026-03-01T10:10:00+08:00,0.5\n",
        five("M1", 999)
    );
    let r = ingest(&store, &text, false);
    assert!(r.ingested, "{}", r.render(false));
    assert_eq!(r.meter_days, 1);
    assert_eq!(r.gaps.count, 96);
    assert!(
        r.gaps.examples[0]
            .1
            .contains("M2 2026-03-01: 96 of 96 intervals missing (no complete quarter-hour among its 2 readings)"),
        "{:?}",
        r.gaps
    );
    assert!(r.render(false).contains("summed"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stray_reading_is_named_at_its_line_and_does_not_set_the_step() {
    let dir = temp("stray");
    let store = PowerStore::new(&dir);
    // A day of quarter-hours for M1 with one extra reading at 10:07 (line 43): the step stays
    // 15 (the gap seen most often), and the file is refused naming that line alone.
    let mut text = String::from("meter,time,kwh\n");
    for q in 0..96 {
        text += &format!(
            "M1,2026-03-01T{:02}:{:02}:00+08:00,0.05\n",
            q / 4,
            q % 4 * 15
        );
        if q == 40 {
            text += "M1,2026-03-01T10:07:00+08:00,0.05\n";
        }
    }
    let r = ingest(&store, &text, false);
    assert!(!r.ingested);
    let p = &r.problems["mixed_intervals"];
    assert_eq!(p.count, 1, "{p:?}");
    assert_eq!(p.examples[0].0, 43, "{p:?}");
    assert!(
        p.examples[0].1.contains("off the file's 15-minute step"),
        "{p:?}"
    );
    assert_eq!(stored(&store), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_routine_break_at_the_end_of_its_meters_readings_goes_on_though_another_meter_reads_further() {
    // M1's elderly person stays in bed on the last three days its readings hold (2–4 February);
    // M2's file runs on to 1 March. Nothing says M1's break is over: its episode goes on.
    let dir = temp("routine-own-end");
    let store = PowerStore::new(&dir);
    let reg = register_of(
        "code,kind,grid_code,address,facts,consent\n\
         M1,dwelling,12011600100100101,,elderly_alone,2026-01-01\n\
         M2,dwelling,12011600100100101,,,\n",
    );
    let normal = [
        (26, 0.45),
        (27, 0.4),
        (46, 0.3),
        (47, 0.3),
        (70, 0.3),
        (71, 0.3),
        (80, 0.2),
    ];
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let mut text = String::from("meter,time,kwh\n");
    for d in 0..60i64 {
        let day = (start + chrono::Duration::days(d)).to_string();
        let base = 0.01 + d as f64 * 1e-4;
        if d < 35 {
            let busy: &[(usize, f64)] = if d >= 32 { &[] } else { &normal };
            text += &quarters("M1", &day, base, busy);
        }
        text += &quarters("M2", &day, base, &normal);
    }
    ingest_with_register(&store, &reg, &text);
    let a = detect::analyze(&store, "120116", &reg, &detect::Config::default(), None, 1).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let routine: Vec<_> = a
        .alerts
        .iter()
        .filter(|x| x.detector == DetectorKind::Routine)
        .collect();
    assert_eq!(routine.len(), 1, "{routine:?}");
    assert_eq!(routine[0].day, day_of(start) + 34);
    assert!(routine[0].ongoing, "{:?}", routine[0]);
}

#[test]
fn a_dead_meter_at_the_end_of_its_readings_stays_dead_and_is_then_removed_when_the_others_read_on()
{
    // D1 reads zeros from day 20 until its readings stop on day 34; the others read to day 59.
    // Its dead spell is not over (zeros to its last reading), and its silence after is a removal.
    let reg = register_of(FOUR_DWELLINGS);
    let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let mut text = String::from("meter,time,kwh\n");
    for (m, n) in [("D1", 35), ("D2", 60), ("D3", 60), ("D4", 60)] {
        for d in 0..n {
            let day = (start + chrono::Duration::days(d)).to_string();
            let base = if m == "D1" && d >= 20 {
                0.0
            } else {
                0.02 + d as f64 * 1e-5
            };
            let busy: &[(usize, f64)] = if base == 0.0 { &[] } else { &ORDINARY_DAY };
            text += &quarters(m, &day, base, busy);
        }
    }
    let dir = temp("dead-own-end");
    let store = PowerStore::new(&dir);
    ingest_with_register(&store, &reg, &text);
    let a = detect::analyze(&store, "120116", &reg, &detect::Config::default(), None, 1).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let faults: Vec<_> = a
        .alerts
        .iter()
        .filter(|x| x.meter == 0 && x.detector == DetectorKind::Fault)
        .map(|x| {
            (
                x.reasons.clone(),
                x.since - day_of(start),
                x.day - day_of(start),
                x.ongoing,
            )
        })
        .collect();
    assert_eq!(
        faults,
        vec![
            (vec!["dead_meter"], 20, 34, true),
            (vec!["no_data"], 35, 59, true)
        ]
    );
}
