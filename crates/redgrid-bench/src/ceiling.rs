//! The power bench's ceilings: how fast anything can go over the stored readings on this
//! machine, measured in the same process as the detectors and the references.
//!
//! - **Read ceiling**: every stored value read once and summed, nothing else. It is measured
//!   two ways: with `pread` in the detectors' chunk size (how the detectors read), and through a
//!   memory map (the other way to reach a file's bytes).
//! - **Bare features**: only the four features the references compute (sum, max, min, night
//!   sum), in the plainest vectorised loop, over values already in memory.
//!
//! A detector run has to read the stored readings and compute far more than four features. It
//! cannot beat either figure, so they bound the ratios the bench can show against the references.

use redgrid_power::format::{MISSING, Segment, unit_wh};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The best of three timed runs of `f`, which returns how many readings it went over.
pub fn best_of_3<F: FnMut() -> Result<u64, String>>(mut f: F) -> Result<(u64, f64), String> {
    let mut best = f64::MAX;
    let mut readings = 0;
    for _ in 0..3 {
        let started = Instant::now();
        readings = f()?;
        best = best.min(started.elapsed().as_secs_f64());
    }
    Ok((readings, best))
}

/// The sum of `v`, in blocks small enough for 32-bit lanes, written so the compiler vectorises it.
#[inline(always)]
fn sum_plain(v: &[u16]) -> u64 {
    let mut total = 0u64;
    for block in v.chunks(1 << 16) {
        let mut lanes = [0u32; 16];
        let mut chunks = block.chunks_exact(16);
        for c in &mut chunks {
            for (l, &x) in lanes.iter_mut().zip(c) {
                *l += x as u32;
            }
        }
        total += lanes.iter().map(|&l| l as u64).sum::<u64>();
        total += chunks.remainder().iter().map(|&x| x as u64).sum::<u64>();
    }
    total
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum_avx2(v: &[u16]) -> u64 {
    sum_plain(v)
}

fn sum_u16(v: &[u16]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { sum_avx2(v) };
    }
    sum_plain(v)
}

/// Splits work items over `threads` threads; each thread folds the items it takes into a u64.
fn spread<T: Sync, F: Fn(&T) -> Result<u64, String> + Sync>(
    items: &[T],
    threads: usize,
    f: F,
) -> Result<u64, String> {
    let next = AtomicUsize::new(0);
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                sc.spawn(|| -> Result<u64, String> {
                    let mut acc = 0u64;
                    while let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                        acc = acc.wrapping_add(f(item)?);
                    }
                    Ok(acc)
                })
            })
            .collect();
        let mut acc = 0u64;
        for h in handles {
            let part = h
                .join()
                .map_err(|_| "a ceiling thread failed".to_string())??;
            acc = acc.wrapping_add(part);
        }
        Ok(acc)
    })
}

/// Every stored value read with `pread`, `chunk_rows` rows at a time, and summed.
/// Returns (readings, the values' sum).
pub fn read_pread(
    segs: &[Segment],
    chunk_rows: usize,
    threads: usize,
) -> Result<(u64, u64), String> {
    let mut parts = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        let mut at = 0;
        while at < s.rows() {
            parts.push((i, at..(at + chunk_rows).min(s.rows())));
            at += chunk_rows;
        }
    }
    let sum = spread(&parts, threads, |(i, rows)| {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u16>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with(|b| {
            let mut buf = b.borrow_mut();
            segs[*i]
                .read_values(rows.clone(), &mut buf)
                .map_err(|e| e.to_string())?;
            Ok(sum_u16(&buf))
        })
    })?;
    let readings = segs.iter().map(|s| (s.rows() * s.slots) as u64).sum();
    Ok((readings, sum))
}

/// A read-only map of one segment file, unmapped when dropped.
#[cfg(all(unix, target_endian = "little"))]
struct Mapped {
    at: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and lives until the owner drops it; sharing reads of it
// between threads is sound.
#[cfg(all(unix, target_endian = "little"))]
unsafe impl Sync for Mapped {}

#[cfg(all(unix, target_endian = "little"))]
impl Mapped {
    fn open(path: &std::path::Path) -> Result<Mapped, String> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let len = file.metadata().map_err(|e| e.to_string())?.len() as usize;
        // SAFETY: a private read-only mapping of a whole file. Segments are never written after
        // their batch is done, and the map is only read through slices that lie inside it.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if at == libc::MAP_FAILED {
            return Err(format!("cannot map {}", path.display()));
        }
        Ok(Mapped { at, len })
    }

    /// `count` u16 values starting `offset` bytes into the file (offset even, inside the map).
    fn values(&self, offset: usize, count: usize) -> &[u16] {
        if !offset.is_multiple_of(2) || offset + count * 2 > self.len {
            return &[];
        }
        // SAFETY: the range lies inside the mapping (checked above), the map is page aligned so
        // an even offset is aligned for u16, and u16 has no invalid bit patterns; the file's
        // little-endian bytes are the values on this little-endian machine.
        unsafe { std::slice::from_raw_parts(self.at.cast::<u8>().add(offset).cast::<u16>(), count) }
    }
}

#[cfg(all(unix, target_endian = "little"))]
impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: `at` and `len` are exactly what mmap returned and was given.
        unsafe {
            libc::munmap(self.at, self.len);
        }
    }
}

/// Whether this platform can read the segments through a memory map.
pub const CAN_MAP: bool = cfg!(all(unix, target_endian = "little"));

/// Every stored value read through a memory map of its segment and summed; the maps are made
/// and dropped inside the measured time. Returns (readings, the values' sum).
#[cfg(all(unix, target_endian = "little"))]
pub fn read_mmap(segs: &[Segment], threads: usize) -> Result<(u64, u64), String> {
    let maps = segs
        .iter()
        .map(|s| Mapped::open(&s.path))
        .collect::<Result<Vec<_>, _>>()?;
    // 8 MiB pieces, so that both threads stay busy to the end.
    const PIECE: usize = 4 << 20;
    let mut parts = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        let (at, len) = s.values_span();
        let (at, count) = (at as usize, len as usize / 2);
        let mut done = 0;
        while done < count {
            let n = PIECE.min(count - done);
            parts.push((i, at + done * 2, n));
            done += n;
        }
    }
    let sum = spread(&parts, threads, |&(i, offset, n)| {
        let v = maps[i].values(offset, n);
        if v.len() != n {
            return Err("a mapped range fell outside its file".into());
        }
        Ok(sum_u16(v))
    })?;
    drop(maps);
    let readings = segs.iter().map(|s| (s.rows() * s.slots) as u64).sum();
    Ok((readings, sum))
}

#[cfg(not(all(unix, target_endian = "little")))]
pub fn read_mmap(_segs: &[Segment], _threads: usize) -> Result<(u64, u64), String> {
    Err("memory maps are not available on this platform".into())
}

/// Sixteen lanes of running sums (all slots and night slots), maxima and minima over a row.
struct Lanes {
    sum: [u32; 16],
    night: [u32; 16],
    max: [u16; 16],
    min: [u16; 16],
}

impl Lanes {
    /// Adds sixteen slots; the first `night` of them are night slots.
    #[inline(always)]
    fn add(&mut self, c: &[u16], night: usize) {
        let Ok(c) = <&[u16; 16]>::try_from(c) else {
            return;
        };
        for (j, &v) in c.iter().enumerate() {
            let kept = if v == MISSING { 0 } else { v };
            self.sum[j] += kept as u32;
            self.night[j] += if j < night { kept as u32 } else { 0 };
            self.max[j] = self.max[j].max(kept);
            self.min[j] = self.min[j].min(v);
        }
    }
}

/// Folds sixteen lanes into one by halves, which the compiler turns into vector shuffles.
#[inline(always)]
fn fold16<T: Copy>(mut v: [T; 16], f: impl Fn(T, T) -> T) -> T {
    for width in [8, 4, 2, 1] {
        for j in 0..width {
            v[j] = f(v[j], v[j + width]);
        }
    }
    v[0]
}

/// Σ total, Σ max, Σ min and Σ night (kWh) over 96-slot rows: the plainest loop the compiler
/// vectorises, sixteen slots at a time.
#[inline(always)]
fn four_plain(values: &[u16], scales: &[u8]) -> [f64; 4] {
    let kwh: [f64; 10] = std::array::from_fn(|k| unit_wh(k as u8) * 1e-3);
    let mut acc = [0.0f64; 4];
    for (row, &scale) in values.chunks_exact(96).zip(scales) {
        let mut l = Lanes {
            sum: [0; 16],
            night: [0; 16],
            max: [0; 16],
            min: [MISSING; 16],
        };
        // Night is slots 0..24: the first sixteen, then half of the next sixteen.
        l.add(&row[..16], 16);
        l.add(&row[16..32], 8);
        for c in row[32..].chunks_exact(16) {
            l.add(c, 0);
        }
        let total = fold16(l.sum, |a, b| a + b);
        let night = fold16(l.night, |a, b| a + b);
        let max = fold16(l.max, u16::max);
        let min = fold16(l.min, u16::min);
        let min = if min == MISSING { 0 } else { min };
        let unit = match kwh.get(scale as usize) {
            Some(&u) => u,
            None => unit_wh(scale) * 1e-3,
        };
        acc[0] += total as f64 * unit;
        acc[1] += max as f64 * unit;
        acc[2] += min as f64 * unit;
        acc[3] += night as f64 * unit;
    }
    acc
}

/// The four features with AVX2 written out: sixteen slots per step, sums by `madd` on values
/// shifted into the signed range, maxima and minima by the unsigned 16-bit instructions, and
/// each row's reductions by `phminposuw`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn four_avx2(values: &[u16], scales: &[u8]) -> [f64; 4] {
    use std::arch::x86_64::*;
    let ones = _mm256_set1_epi16(1);
    let missing = _mm256_set1_epi16(-1);
    let flip = _mm256_set1_epi16(i16::MIN);
    // The madd lanes that hold slots 16..24 of the second step.
    let first_half = _mm256_setr_epi32(-1, -1, -1, -1, 0, 0, 0, 0);
    let hsum = |v: __m256i| -> i32 {
        let x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let x = _mm_add_epi32(x, _mm_shuffle_epi32::<0x4e>(x));
        let x = _mm_add_epi32(x, _mm_shuffle_epi32::<0xb1>(x));
        _mm_cvtsi128_si32(x)
    };
    // Integer sums per row scale, turned into kWh once at the end.
    let mut by_scale = [[0u64; 4]; 10];
    let mut acc = [0.0f64; 4];
    for (row, &scale) in values.chunks_exact(96).zip(scales) {
        let at = row.as_ptr().cast::<__m256i>();
        let (mut sum, mut night) = (_mm256_setzero_si256(), _mm256_setzero_si256());
        let (mut max, mut min) = (_mm256_setzero_si256(), missing);
        for k in 0..6 {
            // SAFETY: the row holds 96 values, so step k's 16 lie inside it; loads are unaligned.
            let v = unsafe { _mm256_loadu_si256(at.add(k)) };
            let kept = _mm256_andnot_si256(_mm256_cmpeq_epi16(v, missing), v);
            // Pairs of (value − 32768) as signed 16-bit, summed into 32-bit lanes.
            let pairs = _mm256_madd_epi16(_mm256_xor_si256(kept, flip), ones);
            sum = _mm256_add_epi32(sum, pairs);
            if k == 0 {
                night = pairs;
            } else if k == 1 {
                night = _mm256_add_epi32(night, _mm256_and_si256(pairs, first_half));
            }
            max = _mm256_max_epu16(max, kept);
            min = _mm256_min_epu16(min, v);
        }
        let total = (hsum(sum) + 32768 * 96) as u64;
        let night = (hsum(night) + 32768 * 24) as u64;
        let max = _mm_max_epu16(
            _mm256_castsi256_si128(max),
            _mm256_extracti128_si256::<1>(max),
        );
        let max = 0xffff
            - _mm_extract_epi16::<0>(_mm_minpos_epu16(_mm_xor_si128(max, _mm_set1_epi16(-1))));
        let min = _mm_min_epu16(
            _mm256_castsi256_si128(min),
            _mm256_extracti128_si256::<1>(min),
        );
        let min = _mm_extract_epi16::<0>(_mm_minpos_epu16(min));
        let min = if min == MISSING as i32 { 0 } else { min };
        let row = [total, max as u64, min as u64, night];
        match by_scale.get_mut(scale as usize) {
            Some(b) => {
                for (b, r) in b.iter_mut().zip(row) {
                    *b += r;
                }
            }
            None => {
                let unit = unit_wh(scale) * 1e-3;
                for (a, r) in acc.iter_mut().zip(row) {
                    *a += r as f64 * unit;
                }
            }
        }
    }
    for (k, b) in by_scale.iter().enumerate() {
        let unit = unit_wh(k as u8) * 1e-3;
        for (a, &r) in acc.iter_mut().zip(b) {
            *a += r as f64 * unit;
        }
    }
    acc
}

fn four(values: &[u16], scales: &[u8]) -> [f64; 4] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { four_avx2(values, scales) };
    }
    four_plain(values, scales)
}

/// The references' four features over 96-slot rows already in memory, split evenly over the
/// threads. Returns Σ total, Σ max, Σ min and Σ night in kWh.
pub fn bare_features(values: &[u16], scales: &[u8], threads: usize) -> Result<[f64; 4], String> {
    let rows = scales.len().min(values.len() / 96);
    let per = rows.div_ceil(threads.max(1)).max(1);
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..rows)
            .step_by(per)
            .map(|from| {
                let to = (from + per).min(rows);
                let (v, s) = (&values[from * 96..to * 96], &scales[from..to]);
                sc.spawn(move || four(v, s))
            })
            .collect();
        let mut acc = [0.0f64; 4];
        for h in handles {
            let part = h
                .join()
                .map_err(|_| "a features thread failed".to_string())?;
            for (a, p) in acc.iter_mut().zip(part) {
                *a += p;
            }
        }
        Ok(acc)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_counts_every_value_whatever_the_length() {
        for n in [0usize, 1, 15, 16, 17, 70_000, 200_001] {
            let v: Vec<u16> = (0..n).map(|i| (i % 65_536) as u16).collect();
            let want: u64 = v.iter().map(|&x| x as u64).sum();
            assert_eq!(sum_u16(&v), want, "{n} values");
        }
        // Blocks of the largest value do not overflow the 32-bit lanes.
        let v = vec![u16::MAX; 300_000];
        assert_eq!(sum_u16(&v), 300_000 * u16::MAX as u64);
    }

    #[test]
    fn both_reads_see_every_stored_value() {
        let dir = std::env::temp_dir().join(format!("rg-ceiling-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut segs = Vec::new();
        let mut want = 0u64;
        for n in 0..2u32 {
            let path = dir.join(format!("s{n}.seg"));
            let mut w = redgrid_power::format::SegmentWriter::create(&path, 15).expect("create");
            for meter in 0..700u32 {
                let q: Vec<u16> = (0..96u32)
                    .map(|i| ((meter * 7 + i + n) % 3000) as u16)
                    .collect();
                want += q.iter().map(|&x| x as u64).sum::<u64>();
                w.push(meter, 20_000, 0, 0, &q).expect("push");
            }
            let path = w.finish().expect("finish");
            segs.push(Segment::open(&path).expect("open"));
        }
        for threads in [1, 2] {
            for chunk in [1, 512, 5000] {
                assert_eq!(
                    read_pread(&segs, chunk, threads).expect("pread"),
                    (2 * 700 * 96, want)
                );
            }
            if CAN_MAP {
                assert_eq!(
                    read_mmap(&segs, threads).expect("mmap"),
                    (2 * 700 * 96, want)
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_vector_loop_answers_as_the_plain_one() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Values over the whole range, some missing, and rows of every scale.
        let values: Vec<u16> = (0..96 * 500)
            .map(|_| match next() % 10 {
                0 => MISSING,
                1 => (MISSING - 1) - (next() % 3) as u16,
                _ => (next() % 65_535) as u16,
            })
            .collect();
        let mut values = values;
        for v in &mut values[96 * 7..96 * 8] {
            *v = MISSING;
        }
        let scales: Vec<u8> = (0..500).map(|i| (i % 12) as u8).collect();
        let want = four_plain(&values, &scales);
        let got = four(&values, &scales);
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                "{got:?} against {want:?}"
            );
        }
    }

    #[test]
    fn the_bare_features_skip_missing_slots_and_scale_each_row() {
        let mut values = vec![10u16; 96 * 3];
        values[0] = MISSING; // a missing night slot in row 0
        values[50] = 40; // row 0's peak, by day
        for v in &mut values[96..192] {
            *v = MISSING; // row 1: nothing read
        }
        for (i, v) in values[192..].iter_mut().enumerate() {
            *v = i as u16; // row 2, scale 1: 0..95 tens of Wh
        }
        let scales = [0u8, 0, 1];
        for threads in [1, 2, 3] {
            let got = bare_features(&values, &scales, threads).expect("features");
            let row2: f64 = (0..96).sum::<u32>() as f64 * 0.01;
            let want = [
                (94.0 * 10.0 + 40.0) / 1000.0 + row2,
                0.04 + 0.95,
                0.01 + 0.0,
                23.0 * 0.01 + (0..24).sum::<u32>() as f64 * 0.01,
            ];
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - w).abs() < 1e-9,
                    "{threads} threads: {got:?} against {want:?}"
                );
            }
        }
    }
}
