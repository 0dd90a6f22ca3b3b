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
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has just been found to support AVX2.
        return unsafe { day_features_avx2(q, scale, missing, layout, active_wh, burst_wh) };
    }
    features_of(q, scale, missing, layout, active_wh, burst_wh)
}

/// The same code compiled for AVX2 (16 readings an instruction instead of 8), chosen at run time so
/// the binary still runs on older processors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn day_features_avx2(
    q: &[u16],
    scale: u8,
    missing: u8,
    layout: &Layout,
    active_wh: f32,
    burst_wh: Option<f32>,
) -> DayFeatures {
    features_of(q, scale, missing, layout, active_wh, burst_wh)
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
    let n = layout.slots.min(q.len());
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
        let present = n as u32 - missing as u32;
        (sum, min, max.saturating_sub(1), night, evening, present)
    };
    let unit = unit_wh(scale) as f32 / 1000.0;
    let mut f = DayFeatures {
        total: sum as f32 * unit,
        max: max as f32 * unit,
        min: if present == 0 { 0.0 } else { min as f32 * unit },
        night: night as f32 * unit,
        evening: evening as f32 * unit,
        present: present.min(254) as u8,
        active: 0,
        first_active: NONE,
        longest_flat: 0,
    };
    if present == 0 || !layout.intraday() {
        return f;
    }
    // Active: a slot whose use exceeds the day's base load by the threshold.
    let step = (active_wh * layout.quarters as f32) / (unit_wh(scale) as f32);
    let threshold = (min as f32 + step).min(65_534.0) as u16;
    let active: u32 = q
        .iter()
        .map(|&v| ((v > threshold) & (v != MISSING)) as u32)
        .sum();
    f.active = active.min(254) as u8;
    if let Some(burst_wh) = burst_wh {
        // Sustained activity: a burst of active slots that uses at least `burst_wh` above the
        // base load. A short burst is a thermostat (a water heater keeping its tank warm, a
        // fridge defrost) or a kettle, and says little about whether someone is up and about.
        let burst = burst_wh / unit_wh(scale) as f32;
        let base = min as f32;
        let mut first = NONE as usize;
        let mut longest = 0usize;
        let mut quiet_from = layout.day_start;
        let mut i = 0;
        while i < n {
            if q[i] <= threshold || q[i] == MISSING {
                i += 1;
                continue;
            }
            let start = i;
            let mut energy = 0.0f32;
            while i < n && q[i] > threshold && q[i] != MISSING {
                energy += q[i] as f32 - base;
                i += 1;
            }
            if energy < burst {
                continue;
            }
            if first == NONE as usize && i > layout.morning_start {
                first = start.max(layout.morning_start);
            }
            let (a, b) = (start.max(layout.day_start), i.min(layout.day_end));
            if a < b {
                longest = longest.max(a.saturating_sub(quiet_from));
                quiet_from = quiet_from.max(b);
            }
        }
        longest = longest.max(layout.day_end.saturating_sub(quiet_from));
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
        // Quiet from 07:00 to 19:00: slots 28..76 = 48 quarter-hours.
        assert_eq!(f.longest_flat, 48);
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
