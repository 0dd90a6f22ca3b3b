//! The deadline policy: how long each tier may take to respond and to resolve (docs/design/lifecycle.md, "Tiers,
//! levels and time limits"), counted in the district's working time; urgent requests in clock time;
//! per-category overrides kept in the catalogue. Deadlines are computed at the first dispatch, again at
//! each escalation, extended on resume, and stored on the request.

use crate::area::Level;
use crate::calendar::Calendar;
use crate::catalogue::{CategoryItem, Tier};
use crate::command::DeadlinePolicy;
use crate::request::{Deadlines, Request};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Working hours by the district calendar.
    WorkingHours(i64),
    /// Working days by the district calendar (a day is Monday's working hours).
    WorkingDays(i64),
    /// Clock hours, nights and holidays included (urgent requests).
    ClockHours(i64),
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_text())
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Limit::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(
                "a limit such as 4h (working hours), 3d (working days) or 24ch (clock hours)",
            )
        })
    }
}

/// The respond and resolve limits of one tier or category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub respond: Limit,
    pub resolve: Limit,
}

/// docs/design/lifecycle.md's defaults for a tier: (respond, resolve).
pub fn default_limits(tier: Tier) -> Limits {
    use Limit::*;
    let (respond, resolve) = match tier {
        Tier::Micro => (WorkingHours(2), WorkingDays(1)),
        Tier::Minor => (WorkingHours(4), WorkingDays(3)),
        Tier::Medium => (WorkingDays(1), WorkingDays(7)),
        Tier::Major => (WorkingDays(1), WorkingDays(15)),
        Tier::Hard => (WorkingDays(1), WorkingDays(30)),
    };
    Limits { respond, resolve }
}

/// Urgent requests, whatever their tier: 2 and 24 clock hours.
pub const URGENT: Limits = Limits {
    respond: Limit::ClockHours(2),
    resolve: Limit::ClockHours(24),
};

impl Limit {
    /// The text form used in the catalogue and the API: `4h` (working hours), `3d` (working days),
    /// `24ch` (clock hours).
    pub fn as_text(self) -> String {
        match self {
            Limit::WorkingHours(h) => format!("{h}h"),
            Limit::WorkingDays(d) => format!("{d}d"),
            Limit::ClockHours(h) => format!("{h}ch"),
        }
    }

    /// Parses the text form; the number must be 1–999.
    pub fn parse(text: &str) -> Option<Limit> {
        let t = text.trim();
        let (num, make): (&str, fn(i64) -> Limit) = if let Some(n) = t.strip_suffix("ch") {
            (n, Limit::ClockHours)
        } else if let Some(n) = t.strip_suffix('h') {
            (n, Limit::WorkingHours)
        } else if let Some(n) = t.strip_suffix('d') {
            (n, Limit::WorkingDays)
        } else {
            return None;
        };
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) || num.len() > 3 {
            return None;
        }
        let n: i64 = num.parse().ok()?;
        (1..=999).contains(&n).then(|| make(n))
    }

    /// Minutes, counting a working day as `day_minutes`; used only to compare limits.
    fn minutes(self, day_minutes: i64) -> i64 {
        match self {
            Limit::WorkingHours(h) | Limit::ClockHours(h) => h * 60,
            Limit::WorkingDays(d) => d * day_minutes,
        }
    }

    fn is_clock(self) -> bool {
        matches!(self, Limit::ClockHours(_))
    }
}

/// The tier first handled at a level: what an escalated request gets at least.
fn tier_of_level(level: Level) -> Tier {
    match level {
        Level::Grid => Tier::Micro,
        Level::Community => Tier::Minor,
        Level::Street => Tier::Medium,
        Level::District => Tier::Hard,
    }
}

/// Deadlines in the district's working time.
pub struct WorkingTimePolicy {
    pub calendar: Calendar,
    pub tiers: HashMap<Tier, Limits>,
    pub urgent: Limits,
}

impl WorkingTimePolicy {
    /// docs/design/lifecycle.md's defaults on the given calendar.
    pub fn new(calendar: Calendar) -> Self {
        WorkingTimePolicy {
            calendar,
            tiers: Tier::ALL
                .into_iter()
                .map(|t| (t, default_limits(t)))
                .collect(),
            urgent: URGENT,
        }
    }

    fn tier_limits(&self, tier: Tier) -> Limits {
        self.tiers
            .get(&tier)
            .copied()
            .unwrap_or_else(|| default_limits(tier))
    }

    /// The limits that apply to a request handled at `level`: urgent ones in clock hours; otherwise
    /// the category's own limits where it has them, else the tier's; at a level above the tier's own
    /// (after escalation) at least the limits of the tier first handled there.
    pub fn limits(&self, request: &Request, item: Option<&CategoryItem>, level: Level) -> Limits {
        if request.urgent {
            return self.urgent;
        }
        let tier = request.tier.unwrap_or(Tier::Minor);
        let base = self.tier_limits(tier);
        let mut l = Limits {
            respond: item.and_then(|i| i.respond_limit).unwrap_or(base.respond),
            resolve: item.and_then(|i| i.resolve_limit).unwrap_or(base.resolve),
        };
        let floor = self.tier_limits(tier_of_level(level));
        let day = self.calendar.day_minutes();
        if level > tier.default_level() {
            if floor.respond.minutes(day) > l.respond.minutes(day) {
                l.respond = floor.respond;
            }
            if floor.resolve.minutes(day) > l.resolve.minutes(day) {
                l.resolve = floor.resolve;
            }
        }
        l
    }

    /// The instant a limit ends when counted from `at`.
    pub fn due(&self, limit: Limit, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match limit {
            Limit::ClockHours(h) => Some(at + Duration::hours(h)),
            Limit::WorkingHours(h) => self.calendar.add(at, h * 60),
            Limit::WorkingDays(d) => self.calendar.add(at, d * self.calendar.day_minutes()),
        }
    }

    /// The deadline of a limit counted from `at`, and the instant 80% of it is used (rounded up to
    /// the microsecond, so the share at that instant is at least 0.8).
    pub fn due_and_warn(
        &self,
        limit: Limit,
        at: DateTime<Utc>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let Some(due) = self.due(limit, at) else {
            return (None, None);
        };
        let warn = if limit.is_clock() {
            let total = (due - at).num_microseconds().unwrap_or(0);
            Some(at + Duration::microseconds((total * 4 + 4) / 5))
        } else {
            let total = self.calendar.measure_micros(at, due);
            self.calendar.add_micros(at, (total * 4 + 4) / 5)
        };
        (Some(due), warn)
    }

    /// Moves an instant later by the time that passed between `from` and `to`: working time for
    /// working-time limits, clock time for urgent requests.
    fn shift(
        &self,
        t: Option<DateTime<Utc>>,
        clock: bool,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let t = t?;
        if to <= from {
            return Some(t);
        }
        if clock {
            return Some(t + (to - from));
        }
        let spent = self.calendar.measure_micros(from, to);
        if spent == 0 {
            return Some(t);
        }
        self.calendar.add_micros(t, spent)
    }
}

impl DeadlinePolicy for WorkingTimePolicy {
    fn deadlines(
        &self,
        request: &Request,
        item: Option<&CategoryItem>,
        level: Level,
        at: DateTime<Utc>,
    ) -> Deadlines {
        let l = self.limits(request, item, level);
        let (respond_due_at, respond_warn_at) = self.due_and_warn(l.respond, at);
        let (resolve_due_at, resolve_warn_at) = self.due_and_warn(l.resolve, at);
        Deadlines {
            respond_due_at,
            respond_warn_at,
            resolve_due_at,
            resolve_warn_at,
        }
    }

    fn extend(
        &self,
        request: &Request,
        d: Deadlines,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Deadlines {
        let clock = request.urgent;
        Deadlines {
            respond_due_at: self.shift(d.respond_due_at, clock, from, to),
            respond_warn_at: self.shift(d.respond_warn_at, clock, from, to),
            resolve_due_at: self.shift(d.resolve_due_at, clock, from, to),
            resolve_warn_at: self.shift(d.resolve_warn_at, clock, from, to),
        }
    }

    fn after_working_hours(&self, at: DateTime<Utc>, hours: i64) -> Option<DateTime<Utc>> {
        self.calendar.add_micros(at, hours.max(0) * 3_600_000_000)
    }

    fn after_working_days(&self, at: DateTime<Utc>, days: i64) -> Option<DateTime<Utc>> {
        self.calendar
            .add(at, days.max(0) * self.calendar.day_minutes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{YearCalendar, shanghai};
    use chrono::TimeZone;

    fn policy() -> WorkingTimePolicy {
        let y = YearCalendar::parse(
            "year 2026\nhours mon-fri 08:30-12:00 13:30-17:30\nholiday 2026-10-01..2026-10-07 国庆节\nworkday 2026-10-10 国庆节调休上班\n",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        WorkingTimePolicy::new(Calendar::new(vec![y]))
    }

    fn at(mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        shanghai()
            .with_ymd_and_hms(2026, mo, d, h, mi, 0)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn request(tier: Tier, urgent: bool, category: Option<i64>) -> Request {
        let e = crate::request::Event {
            request_id: crate::ids::RequestId(1),
            seq: 1,
            at: at(11, 23, 9, 0),
            actor: crate::request::ActorRef::SYSTEM,
            body: crate::request::EventBody::Submitted {
                restricted: false,
                channel: crate::request::Channel::App,
                description: "x".into(),
                requester_id: None,
                location: crate::request::Location {
                    area_id: crate::ids::AreaId(1),
                    street_id: crate::ids::AreaId(1),
                    community_id: crate::ids::AreaId(1),
                    grid_id: None,
                    address: None,
                    lat: None,
                    lon: None,
                },
                attachments: vec![],
                level: crate::area::Level::Community,
                category_id: None,
            },
        };
        let mut r = crate::request::apply(None, &e).unwrap_or_else(|e| panic!("{e}"));
        r.tier = Some(tier);
        r.urgent = urgent;
        r.category_id = category.map(crate::ids::CategoryId);
        r
    }

    /// The (respond, resolve) deadlines at the tier's own level, no category override.
    fn dl(
        p: &WorkingTimePolicy,
        r: &Request,
        from: DateTime<Utc>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let level = r
            .tier
            .map(|t| t.default_level())
            .unwrap_or(Level::Community);
        let d = p.deadlines(r, None, level, from);
        (d.respond_due_at, d.resolve_due_at)
    }

    fn item(respond: Option<Limit>, resolve: Option<Limit>) -> CategoryItem {
        CategoryItem {
            id: crate::ids::CategoryId(5),
            class_id: crate::ids::ClassId(1),
            code: "x".into(),
            name_zh: "x".into(),
            name_en: "x".into(),
            default_tier: Tier::Hard,
            default_level: Level::District,
            respond_limit: respond,
            resolve_limit: resolve,
            active: true,
            sort: 0,
        }
    }

    #[test]
    fn tiers_get_workflow_defaults_in_working_time() {
        let p = policy();
        // Monday 16:00: a micro matter must be answered in 2 working hours and resolved in 1 working day.
        let (respond, resolve) = dl(&p, &request(Tier::Micro, false, None), at(11, 23, 16, 0));
        assert_eq!(respond, Some(at(11, 24, 9, 0)));
        assert_eq!(resolve, Some(at(11, 24, 16, 0)));
        // A minor one: 4 working hours, 3 working days.
        let (respond, resolve) = dl(&p, &request(Tier::Minor, false, None), at(11, 23, 9, 0));
        assert_eq!(respond, Some(at(11, 23, 14, 30)));
        assert_eq!(resolve, Some(at(11, 26, 9, 0)));
        // From Monday 08:30, 7, 15 and 30 whole working days end at 17:30 of the last of them; 2027 has
        // no file, so its 1 January (a Friday) is an ordinary working day.
        let from = at(11, 23, 8, 30);
        assert_eq!(
            dl(&p, &request(Tier::Medium, false, None), from).1,
            Some(at(12, 1, 17, 30))
        );
        assert_eq!(
            dl(&p, &request(Tier::Major, false, None), from).1,
            Some(at(12, 11, 17, 30))
        );
        let new_year = shanghai()
            .with_ymd_and_hms(2027, 1, 1, 17, 30, 0)
            .single()
            .map(|t| t.with_timezone(&Utc));
        assert_eq!(dl(&p, &request(Tier::Hard, false, None), from).1, new_year);
    }

    #[test]
    fn holidays_and_exchanged_workdays_count_right() {
        let p = policy();
        // Dispatched the afternoon before the national-day week: the next working day is 8 October.
        let (respond, resolve) = dl(&p, &request(Tier::Micro, false, None), at(9, 30, 16, 30));
        assert_eq!(respond, Some(at(10, 8, 9, 30)));
        assert_eq!(resolve, Some(at(10, 8, 16, 30)));
        // Friday 9 October + 1 working day lands on the worked Saturday, 10 October.
        let (_, resolve) = dl(&p, &request(Tier::Micro, false, None), at(10, 9, 9, 0));
        assert_eq!(resolve, Some(at(10, 10, 9, 0)));
    }

    #[test]
    fn urgent_requests_count_clock_hours_and_categories_override_tiers() {
        let p = policy();
        let friday_night = at(11, 27, 22, 0);
        let (respond, resolve) = dl(&p, &request(Tier::Hard, true, Some(5)), friday_night);
        assert_eq!(
            (respond, resolve),
            (Some(at(11, 28, 0, 0)), Some(at(11, 28, 22, 0)))
        );
        let own = item(Some(Limit::WorkingHours(1)), Some(Limit::WorkingHours(8)));
        let d = p.deadlines(
            &request(Tier::Hard, false, Some(5)),
            Some(&own),
            Level::District,
            at(11, 23, 9, 0),
        );
        assert_eq!(
            (d.respond_due_at, d.resolve_due_at),
            (Some(at(11, 23, 10, 0)), Some(at(11, 24, 9, 30)))
        );
        // An item with only a resolve limit keeps the tier's response limit.
        let half = item(None, Some(Limit::WorkingDays(2)));
        let d = p.deadlines(
            &request(Tier::Minor, false, Some(5)),
            Some(&half),
            Level::Community,
            at(11, 23, 9, 0),
        );
        assert_eq!(d.respond_due_at, Some(at(11, 23, 14, 30)));
        assert_eq!(d.resolve_due_at, Some(at(11, 25, 9, 0)));
        // Other categories keep the tier's limits.
        let (respond, _) = dl(&p, &request(Tier::Minor, false, Some(6)), at(11, 23, 9, 0));
        assert_eq!(respond, Some(at(11, 23, 14, 30)));
    }
    #[test]
    fn warn_instants_mark_eighty_percent_of_the_allowed_time() {
        let p = policy();
        // Minor from Monday 09:00: 4 working hours end 14:30; 80% (3 h 12 min) is reached at 13:42.
        let d = p.deadlines(
            &request(Tier::Minor, false, None),
            None,
            Level::Community,
            at(11, 23, 9, 0),
        );
        assert_eq!(d.respond_warn_at, Some(at(11, 23, 13, 42)));
        // Urgent: 80% of 2 clock hours is 96 minutes.
        let d = p.deadlines(
            &request(Tier::Minor, true, None),
            None,
            Level::Community,
            at(11, 27, 22, 0),
        );
        assert_eq!(d.respond_warn_at, Some(at(11, 27, 23, 36)));
    }

    #[test]
    fn escalation_gives_at_least_the_new_levels_limits() {
        let p = policy();
        let r = request(Tier::Micro, false, None);
        let from = at(11, 23, 9, 0);
        let at_grid = p.deadlines(&r, None, Level::Grid, from);
        let at_street = p.deadlines(&r, None, Level::Street, from);
        // A micro matter gets 1 working day at the grid, 7 at the street (the medium tier's limit).
        assert_eq!(at_grid.resolve_due_at, Some(at(11, 24, 9, 0)));
        assert_eq!(at_street.resolve_due_at, Some(at(12, 2, 9, 0)));
        // A hard matter escalated keeps its own, longer limit.
        let hard = request(Tier::Hard, false, None);
        assert_eq!(
            p.limits(&hard, None, Level::District).resolve,
            Limit::WorkingDays(30)
        );
    }

    #[test]
    fn suspension_extends_by_the_working_time_suspended() {
        let p = policy();
        let r = request(Tier::Minor, false, None);
        let d = p.deadlines(&r, None, Level::Community, at(11, 23, 9, 0));
        // Suspended Monday 10:00 to Tuesday 10:00: 7.5 working hours pass.
        let e = p.extend(&r, d, at(11, 23, 10, 0), at(11, 24, 10, 0));
        assert_eq!(e.respond_due_at, Some(at(11, 24, 14, 30)));
        assert_eq!(e.resolve_due_at, Some(at(11, 27, 9, 0)));
        // Suspended over a weekend only: no working time passes, nothing moves.
        let e = p.extend(&r, d, at(11, 28, 10, 0), at(11, 29, 18, 0));
        assert_eq!(e, d);
        // Urgent requests extend by clock time.
        let u = request(Tier::Minor, true, None);
        let d = p.deadlines(&u, None, Level::Community, at(11, 27, 22, 0));
        let e = p.extend(&u, d, at(11, 27, 22, 30), at(11, 27, 23, 0));
        assert_eq!(e.respond_due_at, Some(at(11, 28, 0, 30)));
    }

    #[test]
    fn limits_parse_and_print() {
        for (text, limit) in [
            ("4h", Limit::WorkingHours(4)),
            ("3d", Limit::WorkingDays(3)),
            ("24ch", Limit::ClockHours(24)),
        ] {
            assert_eq!(Limit::parse(text), Some(limit));
            assert_eq!(limit.as_text(), text);
        }
        for bad in ["", "h", "0d", "1000h", "-1d", "3 days", "1.5h", "3w"] {
            assert_eq!(Limit::parse(bad), None, "{bad}");
        }
    }
}
