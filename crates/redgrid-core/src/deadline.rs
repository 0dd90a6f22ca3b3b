//! The deadline policy: how long each tier may take to respond and to resolve (WORKFLOW.md, "Tiers,
//! levels and time limits"), counted in the district's working time; urgent requests in clock time;
//! per-category overrides. Deadlines are computed once, at dispatch, and stored on the request.

use crate::calendar::Calendar;
use crate::catalogue::Tier;
use crate::command::DeadlinePolicy;
use crate::ids::CategoryId;
use crate::request::Request;
use chrono::{DateTime, Duration, Utc};
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

/// The respond and resolve limits of one tier or category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub respond: Limit,
    pub resolve: Limit,
}

/// WORKFLOW.md's defaults for a tier.
pub fn default_limits(tier: Tier) -> Limits {
    use Limit::*;
    match tier {
        Tier::Micro => Limits {
            respond: WorkingHours(2),
            resolve: WorkingDays(1),
        },
        Tier::Minor => Limits {
            respond: WorkingHours(4),
            resolve: WorkingDays(3),
        },
        Tier::Medium => Limits {
            respond: WorkingDays(1),
            resolve: WorkingDays(7),
        },
        Tier::Major => Limits {
            respond: WorkingDays(1),
            resolve: WorkingDays(15),
        },
        Tier::Hard => Limits {
            respond: WorkingDays(1),
            resolve: WorkingDays(30),
        },
    }
}

/// Urgent requests, whatever their tier: 2 and 24 clock hours.
pub const URGENT: Limits = Limits {
    respond: Limit::ClockHours(2),
    resolve: Limit::ClockHours(24),
};

/// Deadlines in the district's working time.
pub struct WorkingTimePolicy {
    pub calendar: Calendar,
    pub tiers: HashMap<Tier, Limits>,
    pub categories: HashMap<CategoryId, Limits>,
    pub urgent: Limits,
}

impl WorkingTimePolicy {
    /// WORKFLOW.md's defaults on the given calendar.
    pub fn new(calendar: Calendar) -> Self {
        WorkingTimePolicy {
            calendar,
            tiers: Tier::ALL
                .into_iter()
                .map(|t| (t, default_limits(t)))
                .collect(),
            categories: HashMap::new(),
            urgent: URGENT,
        }
    }

    /// The limits that apply to a request.
    pub fn limits(&self, request: &Request) -> Limits {
        if request.urgent {
            return self.urgent;
        }
        if let Some(l) = request.category_id.and_then(|c| self.categories.get(&c)) {
            return *l;
        }
        let tier = request.tier.unwrap_or(Tier::Minor);
        self.tiers
            .get(&tier)
            .copied()
            .unwrap_or_else(|| default_limits(tier))
    }

    /// The instant a limit ends when counted from `at`.
    pub fn due(&self, limit: Limit, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match limit {
            Limit::ClockHours(h) => Some(at + Duration::hours(h)),
            Limit::WorkingHours(h) => self.calendar.add(at, h * 60),
            Limit::WorkingDays(d) => self.calendar.add(at, d * self.calendar.day_minutes()),
        }
    }
}

impl DeadlinePolicy for WorkingTimePolicy {
    fn deadlines(
        &self,
        request: &Request,
        at: DateTime<Utc>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let l = self.limits(request);
        (self.due(l.respond, at), self.due(l.resolve, at))
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
            },
        };
        let mut r = crate::request::apply(None, &e).unwrap_or_else(|e| panic!("{e}"));
        r.tier = Some(tier);
        r.urgent = urgent;
        r.category_id = category.map(CategoryId);
        r
    }

    #[test]
    fn tiers_get_workflow_defaults_in_working_time() {
        let p = policy();
        // Monday 16:00: a micro matter must be answered in 2 working hours and resolved in 1 working day.
        let (respond, resolve) = p.deadlines(&request(Tier::Micro, false, None), at(11, 23, 16, 0));
        assert_eq!(respond, Some(at(11, 24, 9, 0)));
        assert_eq!(resolve, Some(at(11, 24, 16, 0)));
        // A minor one: 4 working hours, 3 working days.
        let (respond, resolve) = p.deadlines(&request(Tier::Minor, false, None), at(11, 23, 9, 0));
        assert_eq!(respond, Some(at(11, 23, 14, 30)));
        assert_eq!(resolve, Some(at(11, 26, 9, 0)));
        // From Monday 08:30, 7, 15 and 30 whole working days end at 17:30 of the last of them; 2027 has
        // no file, so its 1 January (a Friday) is an ordinary working day.
        let from = at(11, 23, 8, 30);
        assert_eq!(
            p.deadlines(&request(Tier::Medium, false, None), from).1,
            Some(at(12, 1, 17, 30))
        );
        assert_eq!(
            p.deadlines(&request(Tier::Major, false, None), from).1,
            Some(at(12, 11, 17, 30))
        );
        let new_year = shanghai()
            .with_ymd_and_hms(2027, 1, 1, 17, 30, 0)
            .single()
            .map(|t| t.with_timezone(&Utc));
        assert_eq!(
            p.deadlines(&request(Tier::Hard, false, None), from).1,
            new_year
        );
    }

    #[test]
    fn holidays_and_exchanged_workdays_count_right() {
        let p = policy();
        // Dispatched the afternoon before the national-day week: the next working day is 8 October.
        let (respond, resolve) = p.deadlines(&request(Tier::Micro, false, None), at(9, 30, 16, 30));
        assert_eq!(respond, Some(at(10, 8, 9, 30)));
        assert_eq!(resolve, Some(at(10, 8, 16, 30)));
        // Friday 9 October + 1 working day lands on the worked Saturday, 10 October.
        let (_, resolve) = p.deadlines(&request(Tier::Micro, false, None), at(10, 9, 9, 0));
        assert_eq!(resolve, Some(at(10, 10, 9, 0)));
    }

    #[test]
    fn urgent_requests_count_clock_hours_and_categories_override_tiers() {
        let mut p = policy();
        let friday_night = at(11, 27, 22, 0);
        let (respond, resolve) = p.deadlines(&request(Tier::Hard, true, Some(5)), friday_night);
        assert_eq!(
            (respond, resolve),
            (Some(at(11, 28, 0, 0)), Some(at(11, 28, 22, 0)))
        );
        p.categories.insert(
            CategoryId(5),
            Limits {
                respond: Limit::WorkingHours(1),
                resolve: Limit::WorkingHours(8),
            },
        );
        let (respond, resolve) =
            p.deadlines(&request(Tier::Hard, false, Some(5)), at(11, 23, 9, 0));
        assert_eq!(
            (respond, resolve),
            (Some(at(11, 23, 10, 0)), Some(at(11, 24, 9, 30)))
        );
        // Other categories keep the tier's limits.
        let (respond, _) = p.deadlines(&request(Tier::Minor, false, Some(6)), at(11, 23, 9, 0));
        assert_eq!(respond, Some(at(11, 23, 14, 30)));
    }
}
