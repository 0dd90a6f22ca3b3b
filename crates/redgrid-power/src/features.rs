//! Per meter-day features, computed from a row of stored readings. This is the hot loop of every
//! detector run: the first pass (sum, minimum, maximum, night and evening sums, active slots) is
//! written so the compiler vectorises it; the second pass (first activity, longest flat stretch)
//! runs only for households under routine watch.

use crate::format::{MISSING, unit_wh};

/// What one meter-day looks like, in kWh (slot values are per slot, not per hour).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DayFeatures {
    /// The day's use over the slots present.
    pub total: f32,
    /// The largest and smallest slot.
    pub max: f32,
    pub min: f32,
    /// Use 00:00–06:00 and 18:00–24:00.
    pub night: f32,
    pub evening: f32,
    /// Slots present (of `slots` per day).
    pub present: u8,
    /// Slots clearly above the day's base load (someone using something).
    pub active: u8,
    /// The first active quarter-hour at or after 04:00 (0–95), 255 when none.
    pub first_active: u8,
    /// The longest run of quarter-hours between 06:00 and 22:00 without activity.
    pub longest_flat: u8,
    /// Whether that run goes on to 22:00: nobody was up and about again that day (a day out
    /// ends with the evening back home; a fall does not).
    pub flat_to_night: bool,
}

pub const NONE: u8 = 255;

/// How the slots of a day are split, for one interval.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub slots: usize,
    /// Quarter-hours per slot (1 for 15 minutes, 4 for hourly, 96 for daily).
    pub quarters: usize,
    night_end: usize,
    evening_start: usize,
    morning_start: usize,
    day_start: usize,
    day_end: usize,
}

impl Layout {
    pub fn new(slots: usize) -> Layout {
        let slots = slots.max(1);
        let quarters = (96 / slots).max(1);
        let at = |hour: usize| (hour * 4 / quarters).min(slots);
        Layout {
            slots,
            quarters,
            night_end: at(6),
            evening_start: at(18),
            morning_start: at(4),
            day_start: at(6),
            day_end: at(22),
        }
    }

    /// Intraday features exist only for interval readings (not daily totals).
    pub fn intraday(&self) -> bool {
        self.slots >= 24
    }
}

/// Computes a day's features. `active_wh` is the energy above base load per quarter-hour that
/// counts as activity; `burst_wh`, if given, asks for the second pass (routine features) and is
/// the least energy above base load a burst of activity needs to count.
pub fn day_features(
    q: &[u16],
    scale: u8,
    missing: u8,
    layout: &Layout,
    active_wh: f32,
    burst_wh: Option<f32>,
) -> DayFeatures {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the processor has just been found to support AVX2 and POPCNT.
        return unsafe { day_features_avx2_one(q, scale, missing, layout, active_wh, burst_wh) };
    }
    features_of(q, scale, missing, layout, active_wh, burst_wh)
}

/// Whether this processor runs the AVX2 kernels (checked once per call site, cached by std).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt")
}

/// The features of consecutive rows of one segment, cleared into `out` (one per row): row `k`
/// is `q[k * slots..(k + 1) * slots]` with `scales[k]` and `missing[k]`, and `burst(k)` is
/// what [`day_features`] takes as `burst_wh` for it. The same answers as calling
/// [`day_features`] row by row, without a call and a processor check per row.
pub fn rows_features<B: Fn(usize) -> Option<f32>>(
    q: &[u16],
    scales: &[u8],
    missing: &[u8],
    layout: &Layout,
    active_wh: f32,
    burst: B,
    out: &mut Vec<DayFeatures>,
) {
    out.clear();
    let rows = scales.len().min(missing.len());
    let slots = layout.slots;
    if q.len() < rows * slots {
        // Rows without their readings have no features; the caller's slices disagree.
        return;
    }
    let chunk = Chunk {
        q,
        scales,
        missing,
        layout,
        active_wh,
    };
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the processor has just been found to support AVX2 and POPCNT.
        unsafe { rows_features_avx2(&chunk, burst, out) };
        return;
    }
    chunk.each_row(burst, out, |row, u, missing, burst_wh| {
        features_with(row, u, missing, layout, burst_wh)
    });
}

/// The rows [`rows_features`] was given, checked to hold their readings.
struct Chunk<'a> {
    q: &'a [u16],
    scales: &'a [u8],
    missing: &'a [u8],
    layout: &'a Layout,
    active_wh: f32,
}

impl Chunk<'_> {
    /// Pushes `day(row, units, missing, burst_wh)` for each row, with each scale's units worked
    /// out once per chunk rather than once per row.
    #[inline(always)]
    fn each_row<B, D>(&self, burst: B, out: &mut Vec<DayFeatures>, day: D)
    where
        B: Fn(usize) -> Option<f32>,
        D: Fn(&[u16], &Units, u8, Option<f32>) -> DayFeatures,
    {
        let rows = self.scales.len().min(self.missing.len());
        out.reserve(rows);
        let units = |s: u8| Units::of(s, self.active_wh, self.layout);
        let table: [Units; 10] = std::array::from_fn(|s| units(s as u8));
        for (k, row) in self
            .q
            .chunks_exact(self.layout.slots)
            .take(rows)
            .enumerate()
        {
            let scale = self.scales[k];
            let u = match table.get(scale as usize) {
                Some(&u) => u,
                None => units(scale),
            };
            out.push(day(row, &u, self.missing[k], burst(k)));
        }
    }
}

/// [`Chunk::each_row`] compiled for AVX2: the closure below inherits this function's target
/// features, so the kernel is inlined into the loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn rows_features_avx2<B: Fn(usize) -> Option<f32>>(
    chunk: &Chunk,
    burst: B,
    out: &mut Vec<DayFeatures>,
) {
    let layout = chunk.layout;
    chunk.each_row(burst, out, |row, u, missing, burst_wh| {
        // SAFETY: the caller checked AVX2 and POPCNT.
        unsafe { day_features_x86(row, u, missing, layout, burst_wh) }
    });
}

/// One day's features compiled for AVX2, chosen at run time so the binary still runs on older
/// processors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn day_features_avx2_one(
    q: &[u16],
    scale: u8,
    missing: u8,
    layout: &Layout,
    active_wh: f32,
    burst_wh: Option<f32>,
) -> DayFeatures {
    let u = Units::of(scale, active_wh, layout);
    // SAFETY: this function is compiled for AVX2 and POPCNT, which its caller checked.
    unsafe { day_features_x86(q, &u, missing, layout, burst_wh) }
}

/// A day's features where AVX2 is enabled: full quarter-hour days (the common case) take a
/// hand-written kernel. Inlined into the functions compiled for AVX2, so that the kernel's
/// intrinsics become single instructions there.
///
/// # Safety
/// Only for functions compiled with AVX2 and POPCNT enabled, on a processor that has them.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn day_features_x86(
    q: &[u16],
    u: &Units,
    missing: u8,
    layout: &Layout,
    burst_wh: Option<f32>,
) -> DayFeatures {
    let b = if missing == 0 && layout.slots == 96 && q.len() >= 96 {
        // SAFETY: AVX2 is enabled for this function and `q` holds at least 96 values.
        unsafe { basic96_avx2(q, u.step) }
    } else {
        basic(q, missing, layout, u.step)
    };
    finish(q, u, layout, burst_wh, &b)
}

#[inline(always)]
fn features_of(
    q: &[u16],
    scale: u8,
    missing: u8,
    layout: &Layout,
    active_wh: f32,
    burst_wh: Option<f32>,
) -> DayFeatures {
    features_with(
        q,
        &Units::of(scale, active_wh, layout),
        missing,
        layout,
        burst_wh,
    )
}

/// The plain code's features of a day in units `u`.
#[inline(always)]
fn features_with(
    q: &[u16],
    u: &Units,
    missing: u8,
    layout: &Layout,
    burst_wh: Option<f32>,
) -> DayFeatures {
    let b = basic(q, missing, layout, u.step);
    finish(q, u, layout, burst_wh, &b)
}

/// The first pass's figures, in stored units. `bits` has bit `i` set when slot `i` is active.
struct Basic {
    sum: u32,
    min: u16,
    max: u16,
    night: u32,
    evening: u32,
    present: u32,
    bits: u128,
}

/// A scale's units: Wh and kWh per stored unit, and how far above the day's base load (in
/// stored units) a slot must be to count as active.
#[derive(Clone, Copy)]
struct Units {
    wh: f32,
    kwh: f32,
    step: f32,
}

impl Units {
    #[inline(always)]
    fn of(scale: u8, active_wh: f32, layout: &Layout) -> Units {
        let wh = unit_wh(scale) as f32;
        Units {
            wh,
            kwh: wh / 1000.0,
            step: (active_wh * layout.quarters as f32) / wh,
        }
    }
}

#[inline(always)]
fn threshold_of(min: u16, step: f32) -> u16 {
    (min as f32 + step).min(65_534.0) as u16
}

/// The first pass for any layout, with or without missing slots (plain code the compiler
/// vectorises).
#[inline(always)]
fn basic(q: &[u16], missing: u8, layout: &Layout, step: f32) -> Basic {
    let n = layout.slots.min(q.len()).min(128);
    let q = &q[..n];
    let (sum, min, max, night, evening, present) = if missing == 0 {
        let mut sum = 0u32;
        let mut min = u16::MAX;
        let mut max = 0u16;
        for &v in q {
            sum += v as u32;
            min = min.min(v);
            max = max.max(v);
        }
        let night: u32 = q[..layout.night_end].iter().map(|&v| v as u32).sum();
        let evening: u32 = q[layout.evening_start..].iter().map(|&v| v as u32).sum();
        (sum, min, max, night, evening, n as u32)
    } else {
        let keep = |v: u16| if v == MISSING { 0 } else { v as u32 };
        let mut sum = 0u32;
        let mut min = u16::MAX;
        let mut max = 0u16;
        for &v in q {
            sum += keep(v);
            min = min.min(v);
            max = max.max(v.wrapping_add(1));
        }
        let night: u32 = q[..layout.night_end].iter().map(|&v| keep(v)).sum();
        let evening: u32 = q[layout.evening_start..].iter().map(|&v| keep(v)).sum();
        let present = (n as u32).saturating_sub(missing as u32);
        (sum, min, max.saturating_sub(1), night, evening, present)
    };
    let mut b = Basic {
        sum,
        min,
        max,
        night,
        evening,
        present,
        bits: 0,
    };
    if present > 0 && layout.intraday() {
        // Active: a slot whose use exceeds the day's base load by the threshold.
        let threshold = threshold_of(min, step);
        for (i, &v) in q.iter().enumerate() {
            if v > threshold && v != MISSING {
                b.bits |= 1u128 << i;
            }
        }
    }
    b
}

/// The first pass for a full day of 96 quarter-hours: six 16-value registers, loaded once.
/// Gives exactly what [`basic`] gives for such a day.
///
/// # Safety
/// As [`day_features_x86`]: only where AVX2 is enabled.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
// The body is one sequence of intrinsics, each needing AVX2: the whole function is the unsafe
// context (its contract above), rather than one `unsafe` block per intrinsic.
#[allow(unsafe_op_in_unsafe_fn)]
unsafe fn basic96_avx2(q: &[u16], step: f32) -> Basic {
    use std::arch::x86_64::*;
    let q = &q[..96];
    let p = q.as_ptr().cast::<__m256i>();
    // SAFETY: `q` has 96 values (192 bytes), six unaligned 32-byte loads.
    let v: [__m256i; 6] = unsafe {
        [
            _mm256_loadu_si256(p),
            _mm256_loadu_si256(p.add(1)),
            _mm256_loadu_si256(p.add(2)),
            _mm256_loadu_si256(p.add(3)),
            _mm256_loadu_si256(p.add(4)),
            _mm256_loadu_si256(p.add(5)),
        ]
    };
    let mut lo = v[0];
    let mut hi = v[0];
    for x in &v[1..] {
        lo = _mm256_min_epu16(lo, *x);
        hi = _mm256_max_epu16(hi, *x);
    }
    let lo = _mm_min_epu16(
        _mm256_castsi256_si128(lo),
        _mm256_extracti128_si256::<1>(lo),
    );
    let min = (_mm_cvtsi128_si32(_mm_minpos_epu16(lo)) & 0xffff) as u16;
    let hi = _mm_max_epu16(
        _mm256_castsi256_si128(hi),
        _mm256_extracti128_si256::<1>(hi),
    );
    let flipped = _mm_xor_si128(hi, _mm_set1_epi16(-1));
    let max = 0xffff - (_mm_cvtsi128_si32(_mm_minpos_epu16(flipped)) & 0xffff) as u16;
    // Sums: v ^ 0x8000 read as i16 is v − 32768, and pairs of those add exactly in i32.
    // Helpers are inlined functions, not closures: a closure would be compiled on its own,
    // without AVX2, and call every intrinsic out of line.
    #[inline(always)]
    unsafe fn pair(x: __m256i) -> __m256i {
        _mm256_madd_epi16(
            _mm256_xor_si256(x, _mm256_set1_epi16(i16::MIN)),
            _mm256_set1_epi16(1),
        )
    }
    let s: [__m256i; 6] = [
        pair(v[0]),
        pair(v[1]),
        pair(v[2]),
        pair(v[3]),
        pair(v[4]),
        pair(v[5]),
    ];
    let low_half = _mm256_setr_epi32(-1, -1, -1, -1, 0, 0, 0, 0);
    let total = _mm256_add_epi32(
        _mm256_add_epi32(_mm256_add_epi32(s[0], s[1]), _mm256_add_epi32(s[2], s[3])),
        _mm256_add_epi32(s[4], s[5]),
    );
    // Night is slots 0–23 (register 0 and the low half of register 1), evening 72–95 (the high
    // half of register 4 and register 5).
    let night = _mm256_add_epi32(s[0], _mm256_and_si256(s[1], low_half));
    let evening = _mm256_add_epi32(_mm256_andnot_si256(low_half, s[4]), s[5]);
    #[inline(always)]
    unsafe fn hsum(x: __m256i) -> i32 {
        let a = _mm_add_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256::<1>(x));
        let a = _mm_add_epi32(a, _mm_shuffle_epi32::<0b0100_1110>(a));
        let a = _mm_add_epi32(a, _mm_shuffle_epi32::<0b1011_0001>(a));
        _mm_cvtsi128_si32(a)
    }
    let sum = (hsum(total) + 32768 * 96) as u32;
    let night = (hsum(night) + 32768 * 24) as u32;
    let evening = (hsum(evening) + 32768 * 24) as u32;
    let threshold = threshold_of(min, step);
    // Active slots: v > threshold (as v = max(v, threshold + 1)). No slot is missing on this
    // path (the row's missing count is 0), so none needs leaving out.
    let above = _mm256_set1_epi16(threshold.wrapping_add(1) as i16);
    #[inline(always)]
    unsafe fn active(x: __m256i, above: __m256i) -> __m256i {
        _mm256_cmpeq_epi16(_mm256_max_epu16(x, above), x)
    }
    // Two registers of 16-bit masks packed to one of bytes, put back in slot order, one bit each.
    #[inline(always)]
    unsafe fn bits32(a: __m256i, b: __m256i, above: __m256i) -> u128 {
        let packed = _mm256_permute4x64_epi64::<0b1101_1000>(_mm256_packs_epi16(
            active(a, above),
            active(b, above),
        ));
        _mm256_movemask_epi8(packed) as u32 as u128
    }
    let bits = bits32(v[0], v[1], above)
        | bits32(v[2], v[3], above) << 32
        | bits32(v[4], v[5], above) << 64;
    Basic {
        sum,
        min,
        max,
        night,
        evening,
        present: 96,
        bits,
    }
}

/// Turns the first pass into features, and runs the second (routine) pass when asked.
#[inline(always)]
fn finish(q: &[u16], u: &Units, layout: &Layout, burst_wh: Option<f32>, b: &Basic) -> DayFeatures {
    let unit = u.kwh;
    let present = b.present;
    let mut f = DayFeatures {
        total: b.sum as f32 * unit,
        max: b.max as f32 * unit,
        min: if present == 0 {
            0.0
        } else {
            b.min as f32 * unit
        },
        night: b.night as f32 * unit,
        evening: b.evening as f32 * unit,
        present: present.min(254) as u8,
        active: 0,
        first_active: NONE,
        longest_flat: 0,
        flat_to_night: false,
    };
    if present == 0 || !layout.intraday() {
        return f;
    }
    f.active = b.bits.count_ones().min(254) as u8;
    if let Some(burst_wh) = burst_wh {
        // Sustained activity: a burst of active slots that uses at least `burst_wh` above the
        // base load. A short burst is a thermostat (a water heater keeping its tank warm, a
        // fridge defrost) or a kettle, and says little about whether someone is up and about.
        let burst = burst_wh / u.wh;
        let base = b.min as u32;
        let mut first = NONE as usize;
        let mut longest = 0usize;
        let mut quiet_from = layout.day_start;
        // Runs of active slots: a start is an active slot after an inactive one, an end (the
        // run's last slot) an active slot before an inactive one; the k-th start and the k-th
        // end bound the k-th run. Taking the lowest bit of each in turn walks the runs in
        // order without shifting by a run's length.
        let mut starts = b.bits & !(b.bits << 1);
        let mut ends = b.bits & !(b.bits >> 1);
        while starts != 0 {
            let start = starts.trailing_zeros() as usize;
            let i = (ends.trailing_zeros() as usize + 1).min(q.len());
            starts &= starts - 1;
            ends &= ends - 1;
            // Energy above the base load, exactly, in stored units (the run's slots are all
            // present and at least the base).
            let run: u32 = q[start..i].iter().map(|&v| v as u32).sum();
            let energy = run.saturating_sub(base * (i - start) as u32) as f32;
            if energy < burst {
                continue;
            }
            if first == NONE as usize && i > layout.morning_start {
                first = start.max(layout.morning_start);
            }
            let (a, z) = (start.max(layout.day_start), i.min(layout.day_end));
            if a < z {
                longest = longest.max(a.saturating_sub(quiet_from));
                quiet_from = quiet_from.max(z);
            }
        }
        let tail = layout.day_end.saturating_sub(quiet_from);
        f.flat_to_night = tail > 0 && tail >= longest;
        longest = longest.max(tail);
        if first != NONE as usize {
            f.first_active = (first * layout.quarters).min(95) as u8;
        }
        f.longest_flat = (longest * layout.quarters).min(254) as u8;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(values: &[(usize, u16)], base: u16) -> Vec<u16> {
        let mut q = vec![base; 96];
        for &(i, v) in values {
            q[i] = v;
        }
        q
    }

    #[test]
    fn features_of_an_ordinary_day() {
        // 5 Wh a quarter-hour, with cooking at 06:30 (slot 26) and lights 19:00–21:00.
        let mut active: Vec<(usize, u16)> = (76..84).map(|i| (i, 80)).collect();
        active.push((26, 400));
        active.push((27, 400));
        let q = day(&active, 5);
        let l = Layout::new(96);
        let f = day_features(&q, 0, 0, &l, 50.0, Some(150.0));
        let total = (5 * 86 + 800 + 80 * 8) as f32 / 1000.0;
        assert!((f.total - total).abs() < 1e-6);
        assert!((f.max - 0.4).abs() < 1e-6 && (f.min - 0.005).abs() < 1e-6);
        assert!((f.night - 0.12).abs() < 1e-6, "24 slots of 5 Wh");
        assert!((f.evening - (5.0 * 16.0 + 640.0) / 1000.0).abs() < 1e-6);
        assert_eq!((f.active, f.first_active, f.present), (10, 26, 96));
        // Quiet from 07:00 to 19:00: slots 28..76 = 48 quarter-hours, then the evening.
        assert_eq!(f.longest_flat, 48);
        assert!(!f.flat_to_night, "back home in the evening");
        // Up at 06:30 and nothing after: quiet from 07:00 to 22:00, into the night.
        let q = day(&[(26, 400), (27, 400)], 5);
        let f = day_features(&q, 0, 0, &l, 50.0, Some(150.0));
        assert_eq!((f.longest_flat, f.flat_to_night), (60, true));
        // A short burst (a water heater keeping warm) is not someone getting up.
        let q = day(&[(20, 100), (21, 40), (60, 100), (30, 300), (31, 300)], 5);
        let f = day_features(&q, 0, 0, &l, 50.0, Some(150.0));
        assert_eq!((f.active, f.first_active), (4, 30));
    }

    #[test]
    fn missing_slots_are_left_out_and_a_quiet_day_has_no_activity() {
        let mut q = day(&[(10, 30)], 5);
        q[3] = MISSING;
        q[90] = MISSING;
        let f = day_features(&q, 0, 2, &Layout::new(96), 50.0, Some(150.0));
        assert_eq!(f.present, 94);
        assert!((f.total - (5.0 * 93.0 + 30.0) / 1000.0).abs() < 1e-6);
        assert!((f.max - 0.03).abs() < 1e-6);
        assert_eq!((f.active, f.first_active, f.longest_flat), (0, NONE, 64));
        let all = vec![MISSING; 96];
        let f = day_features(&all, 0, 96, &Layout::new(96), 50.0, Some(150.0));
        assert_eq!((f.present, f.total), (0, 0.0));
    }

    #[test]
    fn the_avx2_kernel_gives_exactly_what_the_plain_code_gives() {
        let mut r = crate::rng::Rng::new(7);
        let l = Layout::new(96);
        let mut cases = 0;
        for case in 0..20_000 {
            // Quiet days, busy days, values near the top of the range, and flat lines.
            let top = [40i64, 600, 5_000, 65_534, 3][case % 5];
            let base = r.int(0, top / 2);
            let mut q: Vec<u16> = (0..96)
                .map(|_| {
                    let v = if r.chance(0.3) { r.int(0, top) } else { base };
                    v.clamp(0, 65_534) as u16
                })
                .collect();
            if case % 7 == 0 {
                q[r.int(0, 95) as usize] = 65_534;
            }
            let scale = (case % 4) as u8;
            let aw = [0.0f32, 12.5, 62.5, 400.0][case / 5 % 4];
            let burst = [None, Some(150.0f32), Some(0.0), Some(2_000.0)][case / 20 % 4];
            let plain = features_of(&q, scale, 0, &l, aw, burst);
            let fast = day_features(&q, scale, 0, &l, aw, burst);
            assert_eq!(plain, fast, "case {case}: {q:?}");
            cases += 1;
        }
        assert_eq!(cases, 20_000);
    }

    #[test]
    fn a_batch_of_rows_gives_what_each_row_gives_alone() {
        let mut r = crate::rng::Rng::new(11);
        for slots in [96usize, 48, 24, 1] {
            let l = Layout::new(slots);
            let rows = 300;
            let mut q = Vec::new();
            let mut scales = Vec::new();
            let mut missing = Vec::new();
            for k in 0..rows {
                let base = r.int(0, 40) as u16;
                let mut row: Vec<u16> = (0..slots)
                    .map(|_| {
                        if r.chance(0.3) {
                            r.int(0, 3_000) as u16
                        } else {
                            base
                        }
                    })
                    .collect();
                // Some rows with missing slots, and scales beyond the table (computed apart).
                let gone = if k % 5 == 0 { 1 + k % slots.min(4) } else { 0 };
                for v in row.iter_mut().take(gone) {
                    *v = MISSING;
                }
                q.extend(row);
                scales.push([0u8, 1, 2, 3, 12][k % 5]);
                missing.push(gone as u8);
            }
            let burst = |k: usize| k.is_multiple_of(3).then_some(150.0f32);
            let mut out = vec![DayFeatures::default(); 7];
            rows_features(&q, &scales, &missing, &l, 62.5, burst, &mut out);
            assert_eq!(out.len(), rows, "one per row, the old contents cleared");
            for (k, f) in out.iter().enumerate() {
                let alone = day_features(
                    &q[k * slots..(k + 1) * slots],
                    scales[k],
                    missing[k],
                    &l,
                    62.5,
                    burst(k),
                );
                assert_eq!(*f, alone, "{slots} slots, row {k}");
            }
            // Readings shorter than the rows claim: nothing, rather than a panic.
            rows_features(&q[..slots], &scales, &missing, &l, 62.5, burst, &mut out);
            assert!(out.is_empty());
        }
    }

    #[test]
    fn hourly_and_daily_layouts() {
        let mut q = vec![20u16; 24];
        q[7] = 600;
        let f = day_features(&q, 0, 0, &Layout::new(24), 50.0, Some(150.0));
        assert_eq!(
            (f.first_active, f.active),
            (28, 1),
            "07:00 is quarter-hour 28"
        );
        let f = day_features(&[8000], 0, 0, &Layout::new(1), 50.0, Some(150.0));
        assert_eq!((f.total, f.active, f.first_active), (8.0, 0, NONE));
    }
}
