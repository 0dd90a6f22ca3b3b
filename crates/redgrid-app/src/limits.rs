//! Limits per person and per address (docs/operators/operations.md, "Limits"): how fast requests
//! may be filed and files uploaded, and how much a person may upload in a day. Refusals are
//! `CoreError::TooMany`, answered 429 with `Retry-After`.
//!
//! Filing is counted in memory, per person and per client address, over a sliding hour (a restart
//! forgets the counts; with several servers each counts its own). Uploads are counted from the
//! database, so their quota holds across restarts and servers. Staff filing for callers (hotline,
//! service window) are not limited per person, only per address.

use crate::Service;
use chrono::{DateTime, Duration, Utc};
use redgrid_core::error::{CoreError, Limit};
use redgrid_core::person::Actor;
use redgrid_store::Result;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// The configured limits (`0` switches one off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests one person may file in an hour.
    pub filings_per_person_hour: usize,
    /// Requests one client address may file in an hour (a whole office may share one).
    pub filings_per_address_hour: usize,
    /// Files one person may upload in an hour.
    pub uploads_per_person_hour: i64,
    /// Bytes one person may upload in a day.
    pub upload_bytes_per_person_day: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            filings_per_person_hour: 30,
            filings_per_address_hour: 300,
            uploads_per_person_hour: 60,
            upload_bytes_per_person_day: 100 * 1024 * 1024,
        }
    }
}

/// Recent events per key over a sliding hour.
#[derive(Default)]
pub struct Window {
    seen: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
    /// When keys with nothing left in the window were last dropped.
    pruned: Mutex<Option<DateTime<Utc>>>,
}

impl Window {
    /// Counts one event for `key` at `at` unless `limit` are in the last hour already; then the
    /// seconds until the oldest leaves the window.
    fn admit(&self, key: &str, limit: usize, at: DateTime<Utc>) -> Option<i64> {
        if limit == 0 {
            return None;
        }
        let mut map = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Keys whose last event left the window are dropped at most once a minute.
        let mut pruned = self.pruned.lock().unwrap_or_else(|e| e.into_inner());
        if pruned.is_none_or(|p| at - p >= Duration::minutes(1)) {
            map.retain(|_, q| q.back().is_some_and(|t| at - *t < Duration::hours(1)));
            *pruned = Some(at);
        }
        let q = map.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| at - *t >= Duration::hours(1)) {
            q.pop_front();
        }
        if q.len() >= limit {
            let oldest = q.front().copied().unwrap_or(at);
            return Some((oldest + Duration::hours(1) - at).num_seconds().max(1));
        }
        q.push_back(at);
        None
    }
}

fn is_staff(actor: &Actor) -> bool {
    match actor {
        Actor::System => true,
        Actor::Person(p) => p.grants.iter().any(|g| g.role.rank() > 0),
    }
}

impl Service {
    /// Counts a filing by `actor` from `address`, or refuses it when either limit is reached.
    pub fn admit_filing(
        &self,
        actor: &Actor,
        address: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let limits = self.limits();
        // The person first: someone over their own limit does not use up their address's.
        if let Actor::Person(p) = actor
            && !is_staff(actor)
            && let Some(wait) =
                self.filings()
                    .admit(&format!("p:{}", p.id.0), limits.filings_per_person_hour, at)
        {
            return Err(too_many(wait).into());
        }
        if let Some(a) = address
            && let Some(wait) =
                self.filings()
                    .admit(&format!("ip:{a}"), limits.filings_per_address_hour, at)
        {
            return Err(too_many(wait).into());
        }
        Ok(())
    }
}

fn too_many(wait: i64) -> CoreError {
    CoreError::TooMany {
        limit: Limit::Filing,
        retry_after: wait,
    }
}
