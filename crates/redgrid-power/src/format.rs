//! The stored readings: append-only segment files, partitioned by district and month.
//!
//! ```text
//! <root>/<district>/meters.csv                 the meter register
//! <root>/<district>/<YYYY-MM>/<batch>-<n>.seg  segments of one month, one interval each
//! <root>/<district>/batches/<batch>.done       written last: the batch's segments count
//! ```
//!
//! A segment is columnar. After a 16-byte header come the readings as one fixed-size column
//! (each row is one meter-day: `slots` 16-bit values, row after row), then the row columns — meter
//! number (u32), day (i32), scale (u8) and missing-slot count (u8) — then a 64-byte footer with
//! the row count, the column offsets and a checksum of everything before it. Rows are sorted by
//! meter, then day. A value `q` means `q × 10^scale` Wh; 65535 marks a missing slot. Each row picks
//! the smallest scale that holds its largest value, so a dwelling's readings are kept to the watt
//! hour exactly and a large enterprise's to 0.02 % of its peak.
//!
//! An ingest writes all its segments as `.tmp` files, renames them, and then writes the batch's
//! `.done` marker. Readers take only segments whose batch is done, so an ingest that fails or is
//! interrupted at any point leaves nothing that is read.

use crate::{Day, PowerError, Result, err};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub const MISSING: u16 = u16::MAX;
const MAGIC: &[u8; 8] = b"RGPSEG01";
const END: &[u8; 8] = b"RGPEND01";
const HEADER_LEN: u64 = 16;
const FOOTER_LEN: u64 = 64;
/// Rows in one segment at most, so that a writer's row columns stay small.
pub const MAX_ROWS: usize = 1 << 21;

/// Encodes one meter-day of readings in Wh (NaN = missing) into `out`; returns (scale, missing).
pub fn encode_row(wh: &[f64], out: &mut [u16]) -> (u8, u8) {
    let mut max = 0.0f64;
    let mut missing = 0u32;
    for &v in wh {
        if v.is_nan() {
            missing += 1;
        } else if v > max {
            max = v;
        }
    }
    let mut scale = 0u8;
    let mut unit = 1.0f64;
    while (max / unit).round() > (MISSING - 1) as f64 && scale < 9 {
        scale += 1;
        unit *= 10.0;
    }
    for (o, &v) in out.iter_mut().zip(wh) {
        *o = if v.is_nan() {
            MISSING
        } else {
            (v / unit).round().clamp(0.0, (MISSING - 1) as f64) as u16
        };
    }
    (scale, missing.min(255) as u8)
}

/// Whether a day's readings repeat the day before's exactly, slot for slot: the filler some
/// head-ends put in for a day they did not collect. A day that is the same value all through (a
/// dead meter's zeros) is not taken for one, nor a day with missing slots.
pub fn repeats_day(today: &[f64], yesterday: &[f64]) -> bool {
    today.len() == yesterday.len()
        && today.len() > 1
        && today.iter().all(|v| !v.is_nan())
        && today.iter().any(|&v| v != today[0])
        && today
            .iter()
            .zip(yesterday)
            .all(|(a, b)| a.to_bits() == b.to_bits())
}

/// The Wh that one unit of a row with this scale stands for.
pub fn unit_wh(scale: u8) -> f64 {
    const UNITS: [f64; 10] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
    match UNITS.get(scale as usize) {
        Some(&u) => u,
        None => 10f64.powi(scale as i32),
    }
}

/// A 64-bit checksum over 8-byte words (and the tail), fast enough to run while writing.
#[derive(Clone)]
struct Checksum {
    h: u64,
    tail: Vec<u8>,
}

impl Checksum {
    fn new() -> Self {
        Checksum {
            h: 0xcbf2_9ce4_8422_2325,
            tail: Vec::new(),
        }
    }
    fn update(&mut self, mut data: &[u8]) {
        if !self.tail.is_empty() {
            let need = 8 - self.tail.len();
            let take = need.min(data.len());
            self.tail.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.tail.len() == 8 {
                let w = u64::from_le_bytes(self.tail[..8].try_into().unwrap_or([0; 8]));
                self.word(w);
                self.tail.clear();
            }
        }
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        self.tail.extend_from_slice(chunks.remainder());
    }
    fn word(&mut self, w: u64) {
        self.h = (self.h ^ w)
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(29);
    }
    fn finish(mut self) -> u64 {
        let mut last = [0u8; 8];
        last[..self.tail.len()].copy_from_slice(&self.tail);
        let n = self.tail.len() as u64;
        self.word(u64::from_le_bytes(last) ^ (n << 56));
        self.h
    }
}

/// Writes one segment. Rows must come in (meter, day) order.
pub struct SegmentWriter {
    out: BufWriter<File>,
    path: PathBuf,
    slots: usize,
    meters: Vec<u32>,
    days: Vec<i32>,
    scales: Vec<u8>,
    missing: Vec<u8>,
    sum: Checksum,
    bytes: Vec<u8>,
}

impl SegmentWriter {
    /// Starts `path` (it should end in `.tmp`); `interval` is in minutes and divides a day.
    pub fn create(path: &Path, interval_minutes: u16) -> Result<SegmentWriter> {
        if interval_minutes == 0 || 1440 % interval_minutes != 0 {
            return err(format!(
                "an interval of {interval_minutes} minutes does not divide a day"
            ));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::create(path)
            .map_err(|e| PowerError(format!("cannot create {}: {e}", path.display())))?;
        let slots = (1440 / interval_minutes) as usize;
        let mut header = Vec::with_capacity(16);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&interval_minutes.to_le_bytes());
        header.extend_from_slice(&(slots as u16).to_le_bytes());
        header.extend_from_slice(&[0u8; 4]);
        let mut sum = Checksum::new();
        sum.update(&header);
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&header)?;
        Ok(SegmentWriter {
            out,
            path: path.to_path_buf(),
            slots,
            meters: Vec::new(),
            days: Vec::new(),
            scales: Vec::new(),
            missing: Vec::new(),
            sum,
            bytes: Vec::with_capacity(slots * 2),
        })
    }

    pub fn rows(&self) -> usize {
        self.meters.len()
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Appends one encoded row (see [`encode_row`]).
    pub fn push(&mut self, meter: u32, day: Day, scale: u8, missing: u8, q: &[u16]) -> Result<()> {
        if q.len() != self.slots {
            return err(format!(
                "a row has {} values, the segment {}",
                q.len(),
                self.slots
            ));
        }
        if let (Some(&m), Some(&d)) = (self.meters.last(), self.days.last())
            && (m, d) >= (meter, day)
        {
            return err("segment rows must be sorted by meter and day, without repeats");
        }
        self.bytes.clear();
        for v in q {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.sum.update(&self.bytes);
        self.out.write_all(&self.bytes)?;
        self.meters.push(meter);
        self.days.push(day);
        self.scales.push(scale);
        self.missing.push(missing);
        Ok(())
    }

    /// Writes the row columns and the footer, and flushes the file to disk.
    pub fn finish(mut self) -> Result<PathBuf> {
        let rows = self.meters.len() as u64;
        let values_at = HEADER_LEN;
        let meters_at = values_at + rows * self.slots as u64 * 2;
        let days_at = meters_at + rows * 4;
        let scales_at = days_at + rows * 4;
        let missing_at = scales_at + rows;
        let mut cols = Vec::with_capacity(rows as usize * 10);
        for m in &self.meters {
            cols.extend_from_slice(&m.to_le_bytes());
        }
        for d in &self.days {
            cols.extend_from_slice(&d.to_le_bytes());
        }
        cols.extend_from_slice(&self.scales);
        cols.extend_from_slice(&self.missing);
        self.sum.update(&cols);
        self.out.write_all(&cols)?;
        let mut footer = Vec::with_capacity(FOOTER_LEN as usize);
        for v in [rows, values_at, meters_at, days_at, scales_at, missing_at] {
            footer.extend_from_slice(&v.to_le_bytes());
        }
        let sum = self.sum.finish();
        footer.extend_from_slice(&sum.to_le_bytes());
        footer.extend_from_slice(END);
        self.out.write_all(&footer)?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| PowerError(format!("cannot write {}: {e}", self.path.display())))?;
        file.sync_all()?;
        Ok(self.path)
    }
}

/// One stored meter-day, as [`PowerStore::last_full_rows`] reads it back.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRow {
    pub meter: u32,
    pub day: Day,
    pub scale: u8,
    pub missing: u8,
    /// The readings as stored (one per slot; see [`encode_row`]).
    pub values: Vec<u16>,
}

/// An open segment: its row columns in memory, its readings read on demand.
pub struct Segment {
    pub path: PathBuf,
    pub interval_minutes: u16,
    pub slots: usize,
    pub meters: Vec<u32>,
    pub days: Vec<i32>,
    pub scales: Vec<u8>,
    pub missing: Vec<u8>,
    file: File,
    len: u64,
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i * 8..i * 8 + 8]);
    u64::from_le_bytes(a)
}

impl Segment {
    pub fn open(path: &Path) -> Result<Segment> {
        use std::os::unix::fs::FileExt;
        let bad = |why: &str| PowerError(format!("{}: {why}", path.display()));
        let file = File::open(path)
            .map_err(|e| PowerError(format!("cannot open {}: {e}", path.display())))?;
        let len = file.metadata()?.len();
        if len < HEADER_LEN + FOOTER_LEN {
            return Err(bad(
                "truncated segment (shorter than its header and footer)",
            ));
        }
        let mut header = [0u8; 16];
        file.read_exact_at(&mut header, 0)?;
        if &header[..8] != MAGIC {
            return Err(bad("not a redgrid readings segment"));
        }
        let interval_minutes = u16::from_le_bytes([header[8], header[9]]);
        let slots = u16::from_le_bytes([header[10], header[11]]) as usize;
        if interval_minutes == 0 || slots * interval_minutes as usize != 1440 {
            return Err(bad("the header's interval is broken"));
        }
        let mut footer = [0u8; FOOTER_LEN as usize];
        file.read_exact_at(&mut footer, len - FOOTER_LEN)?;
        if &footer[56..] != END {
            return Err(bad("truncated segment (no footer)"));
        }
        let rows = u64_at(&footer, 0);
        let (meters_at, days_at, scales_at, missing_at) = (
            u64_at(&footer, 2),
            u64_at(&footer, 3),
            u64_at(&footer, 4),
            u64_at(&footer, 5),
        );
        if meters_at != HEADER_LEN + rows * slots as u64 * 2
            || missing_at + rows + FOOTER_LEN != len
            || days_at != meters_at + rows * 4
            || scales_at != days_at + rows * 4
        {
            return Err(bad("the footer does not match the file's size"));
        }
        let n = rows as usize;
        let mut cols = vec![0u8; n * 10];
        file.read_exact_at(&mut cols, meters_at)?;
        let meters = cols[..n * 4]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let days = cols[n * 4..n * 8]
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Segment {
            path: path.to_path_buf(),
            interval_minutes,
            slots,
            meters,
            days,
            scales: cols[n * 8..n * 9].to_vec(),
            missing: cols[n * 9..].to_vec(),
            file,
            len,
        })
    }

    pub fn rows(&self) -> usize {
        self.meters.len()
    }

    /// The rows of meters in `[from, to)`, as a row range (rows are sorted by meter).
    pub fn rows_of_meters(&self, from: u32, to: u32) -> std::ops::Range<usize> {
        let a = self.meters.partition_point(|&m| m < from);
        let b = self.meters.partition_point(|&m| m < to);
        a..b
    }

    /// Where the readings column lies in the file: its byte offset and length.
    pub fn values_span(&self) -> (u64, u64) {
        (HEADER_LEN, (self.rows() * self.slots * 2) as u64)
    }

    /// Reads the readings of rows `range` into `buf` (row after row).
    pub fn read_values(&self, range: std::ops::Range<usize>, buf: &mut Vec<u16>) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let n = (range.end - range.start) * self.slots;
        // Grow only: a reused buffer is not zeroed again before every read.
        if buf.len() < n {
            buf.resize(n, 0);
        }
        buf.truncate(n);
        let at = HEADER_LEN + (range.start * self.slots * 2) as u64;
        if cfg!(target_endian = "little") {
            // SAFETY: u16 has no invalid bit patterns and the byte view covers exactly the
            // buffer's n values; on a little-endian machine the file's bytes are the values.
            let bytes =
                unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), n * 2) };
            self.file.read_exact_at(bytes, at)?;
        } else {
            let mut bytes = vec![0u8; n * 2];
            self.file.read_exact_at(&mut bytes, at)?;
            for (o, c) in buf.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = u16::from_le_bytes([c[0], c[1]]);
            }
        }
        Ok(())
    }

    /// Reads the whole file and checks its checksum.
    pub fn verify(&self) -> Result<()> {
        let mut f = File::open(&self.path)?;
        let mut sum = Checksum::new();
        let mut left = self.len - FOOTER_LEN;
        let mut buf = vec![0u8; 1 << 20];
        while left > 0 {
            let take = left.min(buf.len() as u64) as usize;
            f.read_exact(&mut buf[..take])?;
            sum.update(&buf[..take]);
            left -= take as u64;
        }
        let mut footer = [0u8; FOOTER_LEN as usize];
        f.read_exact(&mut footer)?;
        if sum.finish() != u64_at(&footer, 6) {
            return err(format!(
                "{}: the checksum does not match: the file was changed",
                self.path.display()
            ));
        }
        Ok(())
    }
}

/// Writes a file in one step: a temporary file, flushed, renamed over the target.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let tmp = path.with_extension("tmp-write");
    {
        let mut f = File::create(&tmp)
            .map_err(|e| PowerError(format!("cannot write {}: {e}", tmp.display())))?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
        .map_err(|e| PowerError(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| PowerError(format!("cannot create {}: {e}", dir.display())))
}

/// The folder of stored readings (`<data-dir>/power`).
#[derive(Clone, Debug)]
pub struct PowerStore {
    pub root: PathBuf,
}

impl PowerStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        PowerStore { root: root.into() }
    }

    pub fn district_dir(&self, district: &str) -> PathBuf {
        self.root.join(district)
    }

    pub fn registry_path(&self, district: &str) -> PathBuf {
        self.district_dir(district).join("meters.csv")
    }

    /// The districts that have a folder here.
    pub fn districts(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        out.sort();
        out
    }

    /// The months that have readings, oldest first.
    pub fn months(&self, district: &str) -> Vec<(i32, u32)> {
        let mut out: Vec<(i32, u32)> = std::fs::read_dir(self.district_dir(district))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|n| {
                let (y, m) = n.split_once('-')?;
                Some((y.parse().ok()?, m.parse().ok()?))
            })
            .filter(|(y, m): &(i32, u32)| *y > 1900 && (1..=12).contains(m))
            .collect();
        out.sort();
        out
    }

    fn done_batches(&self, district: &str) -> std::collections::HashSet<String> {
        std::fs::read_dir(self.district_dir(district).join("batches"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".done").map(str::to_string))
            .collect()
    }

    /// The committed segments of one month.
    pub fn segment_paths(&self, district: &str, month: (i32, u32)) -> Vec<PathBuf> {
        let done = self.done_batches(district);
        let dir = self.district_dir(district).join(month_name(month));
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "seg"))
            .filter(|p| {
                p.file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.rsplit_once('-'))
                    .is_some_and(|(batch, _)| done.contains(batch))
            })
            .collect();
        out.sort();
        out
    }

    /// Opens the committed segments of one month.
    pub fn segments(&self, district: &str, month: (i32, u32)) -> Result<Vec<Segment>> {
        self.segment_paths(district, month)
            .iter()
            .map(|p| Segment::open(p))
            .collect()
    }

    /// The (meter, day) keys already stored in the given months, sorted.
    pub fn stored_keys(&self, district: &str, months: &[(i32, u32)]) -> Result<Vec<u64>> {
        let mut keys = Vec::new();
        for &m in months {
            for s in self.segments(district, m)? {
                keys.extend(s.meters.iter().zip(&s.days).map(|(&m, &d)| key(m, d)));
            }
        }
        keys.sort_unstable();
        Ok(keys)
    }

    /// For each (meter, first day of a file), the last full day stored before it, going back at
    /// most `back` days and only through days stored as wholly missing (a head-end's fillers
    /// caught before): what an ingest compares the file's first day with. Sorted by meter; each
    /// month's segments are opened once.
    pub fn last_full_rows(
        &self,
        district: &str,
        firsts: &[(u32, Day)],
        back: u32,
    ) -> Result<Vec<StoredRow>> {
        let mut months: std::collections::BTreeMap<(i32, u32), Vec<Segment>> = Default::default();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for &(meter, first) in firsts {
            for day in (first - back as Day..first).rev() {
                let month = crate::month_of(day);
                if let std::collections::btree_map::Entry::Vacant(e) = months.entry(month) {
                    e.insert(self.segments(district, month)?);
                }
                let stored = months[&month].iter().find_map(|seg| {
                    let rows = seg.rows_of_meters(meter, meter + 1);
                    let k = seg.days[rows.clone()].iter().position(|&d| d == day)?;
                    Some((seg, rows.start + k))
                });
                let Some((seg, row)) = stored else { break };
                if seg.missing[row] as usize >= seg.slots {
                    continue;
                }
                if seg.missing[row] == 0 {
                    seg.read_values(row..row + 1, &mut buf)?;
                    out.push(StoredRow {
                        meter,
                        day,
                        scale: seg.scales[row],
                        missing: 0,
                        values: buf.clone(),
                    });
                }
                break;
            }
        }
        out.sort_by_key(|r| r.meter);
        Ok(out)
    }

    /// Starts a batch of segments that become visible together.
    pub fn begin(&self, district: &str) -> Result<Batch> {
        let dir = self.district_dir(district);
        create_private_dir(&dir)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let id = format!("b{nanos:x}{:04x}", std::process::id() & 0xffff);
        Ok(Batch {
            dir,
            id,
            tmp: Vec::new(),
            next: 0,
        })
    }

    /// Deletes segments of batches that never finished (left by an interrupted ingest).
    pub fn sweep(&self, district: &str) -> Result<usize> {
        let done = self.done_batches(district);
        let mut removed = 0;
        for m in self.months(district) {
            let dir = self.district_dir(district).join(month_name(m));
            for e in std::fs::read_dir(dir)?.flatten() {
                let p = e.path();
                let name = p.file_name().and_then(|s| s.to_str()).unwrap_or("");
                let unfinished = name.ends_with(".tmp")
                    || (name.ends_with(".seg")
                        && !name
                            .trim_end_matches(".seg")
                            .rsplit_once('-')
                            .is_some_and(|(b, _)| done.contains(b)));
                if unfinished {
                    std::fs::remove_file(&p)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

pub fn month_name((y, m): (i32, u32)) -> String {
    format!("{y:04}-{m:02}")
}

pub fn key(meter: u32, day: Day) -> u64 {
    ((meter as u64) << 32) | (day as u32 as u64)
}

/// Segments being written together; nothing is visible until [`Batch::commit`].
pub struct Batch {
    dir: PathBuf,
    pub id: String,
    tmp: Vec<PathBuf>,
    next: usize,
}

impl Batch {
    /// A writer for a new segment of `month`.
    pub fn segment(&mut self, month: (i32, u32), interval_minutes: u16) -> Result<SegmentWriter> {
        let dir = self.dir.join(month_name(month));
        create_private_dir(&dir)?;
        self.next += 1;
        let path = dir.join(format!("{}-{:05}.tmp", self.id, self.next));
        self.tmp.push(path.clone());
        SegmentWriter::create(&path, interval_minutes)
    }

    /// Makes every segment of the batch visible at once.
    pub fn commit(self, summary: &str) -> Result<()> {
        for t in &self.tmp {
            if t.exists() {
                std::fs::rename(t, t.with_extension("seg"))?;
            }
        }
        write_atomically(
            &self.dir.join("batches").join(format!("{}.done", self.id)),
            summary.as_bytes(),
        )
    }

    /// Removes what the batch wrote.
    pub fn abandon(self) {
        for t in &self.tmp {
            let _ = std::fs::remove_file(t);
            let _ = std::fs::remove_file(t.with_extension("seg"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_encode_exactly_for_dwellings_and_closely_for_large_meters() {
        let mut q = [0u16; 4];
        let (s, m) = encode_row(&[0.0, 12.0, f64::NAN, 65534.0], &mut q);
        assert_eq!((s, m, q), (0, 1, [0, 12, MISSING, 65534]));
        let (s, _) = encode_row(&[1_000_000.0, 5.0, 0.0, 999_999.0], &mut q);
        assert_eq!(s, 2);
        assert_eq!(q[0] as f64 * unit_wh(s), 1_000_000.0);
        assert!((q[3] as f64 * unit_wh(s) - 999_999.0).abs() <= 50.0);
    }

    #[test]
    fn a_batch_is_invisible_until_committed_and_a_broken_segment_is_refused() {
        let dir = std::env::temp_dir().join(format!("rgp-fmt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = PowerStore::new(&dir);
        let mut b = store.begin("120116").unwrap();
        let mut w = b.segment((2026, 3), 360).unwrap();
        w.push(0, 100, 0, 0, &[1, 2, 3, 4]).unwrap();
        w.push(0, 101, 0, 1, &[5, MISSING, 7, 8]).unwrap();
        w.push(2, 100, 1, 0, &[9, 10, 11, 12]).unwrap();
        assert!(w.push(1, 100, 0, 0, &[0; 4]).is_err(), "out of order");
        assert!(w.push(3, 100, 0, 0, &[0; 3]).is_err(), "wrong width");
        w.finish().unwrap();
        assert!(store.segments("120116", (2026, 3)).unwrap().is_empty());
        b.commit("3 rows").unwrap();
        let segs = store.segments("120116", (2026, 3)).unwrap();
        assert_eq!(segs.len(), 1);
        let s = &segs[0];
        assert_eq!((s.rows(), s.slots, s.interval_minutes), (3, 4, 360));
        assert_eq!(s.rows_of_meters(1, 3), 2..3);
        let mut buf = Vec::new();
        s.read_values(1..3, &mut buf).unwrap();
        assert_eq!(buf, vec![5, MISSING, 7, 8, 9, 10, 11, 12]);
        s.verify().unwrap();
        assert_eq!(store.stored_keys("120116", &[(2026, 3)]).unwrap().len(), 3);
        assert_eq!(store.months("120116"), vec![(2026, 3)]);

        // A flipped byte is found by verify; a cut file is refused on open.
        let p = s.path.clone();
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&p, &bytes).unwrap();
        assert!(Segment::open(&p).unwrap().verify().is_err());
        std::fs::write(&p, &bytes[..bytes.len() - 10]).unwrap();
        assert!(Segment::open(&p).is_err());

        // An abandoned batch leaves nothing; an unfinished one is swept.
        let mut b = store.begin("120116").unwrap();
        let w = b.segment((2026, 4), 1440).unwrap();
        w.finish().unwrap();
        b.abandon();
        let mut b = store.begin("120116").unwrap();
        b.segment((2026, 4), 1440).unwrap().finish().unwrap();
        drop(b);
        assert_eq!(store.sweep("120116").unwrap(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
