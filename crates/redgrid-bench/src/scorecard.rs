//! `redgrid bench scorecard`: loads a synthetic district's requests (realistic spread of states, units,
//! communities, categories and times over ten years) into each backend, then times the scorecard for
//! several periods and groupings two ways in the same run — redgrid's path (pre-summed counts kept
//! with every command) and a plain GROUP BY over the requests table — checks both give the same
//! counts, and prints the times and the ratio.

use chrono::{DateTime, Duration, Utc};
use redgrid_app::Service;
use redgrid_app::testing;
use redgrid_core::area::Level;
use redgrid_core::catalogue::Tier;
use redgrid_core::command::Settings;
use redgrid_core::ids::*;
use redgrid_core::request::{Channel, Location, RatedVia, Rating, Request, Satisfaction, Status};
use redgrid_core::scorecard::{Counts, Dim, Period, local_date};
use redgrid_store::{DirectGroup, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// SplitMix64: small, fast, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

struct Shape {
    /// (community, its street)
    communities: Vec<(AreaId, AreaId)>,
    units: Vec<(UnitId, Level)>,
    items: Vec<(CategoryId, Tier)>,
}

async fn shape(service: &Service) -> Result<Shape, String> {
    redgrid_app::demo::build_district(service, 7, 200)
        .await
        .map_err(|e| e.to_string())?;
    service.reload().await.map_err(|e| e.to_string())?;
    let dir = service.directory();
    let communities = dir
        .areas()
        .filter(|a| a.kind == Level::Community)
        .filter_map(|a| a.parent_id.map(|p| (a.id, p)))
        .collect();
    let units = dir.units().map(|u| (u.id, u.level)).collect();
    let items = dir
        .items()
        .into_iter()
        .map(|i| (i.id, i.default_tier))
        .collect();
    Ok(Shape {
        communities,
        units,
        items,
    })
}

/// One synthetic request's projection, consistent with what the lifecycle would have produced.
/// Requests arrive in order over the span (as a district's ledger grows), `created` being the
/// request's slot start; a random offset within its slot keeps the times irregular.
fn synth(
    rng: &mut Rng,
    id: i64,
    s: &Shape,
    now: DateTime<Utc>,
    created: DateTime<Utc>,
    slot_secs: i64,
) -> Request {
    let created = (created + Duration::seconds(rng.below(slot_secs.max(1) as u64) as i64)).min(now);
    let (community, street) = s.communities[rng.below(s.communities.len() as u64) as usize];
    let (unit, level) = s.units[rng.below(s.units.len() as u64) as usize];
    let (category, tier) = s.items[rng.below(s.items.len() as u64) as usize];
    let age = now - created;
    let respond_due = created + Duration::hours(2 + rng.below(20) as i64);
    let resolve_due = created + Duration::days(1 + rng.below(10) as i64);
    let responded = rng
        .chance(0.93)
        .then(|| created + Duration::minutes(rng.below(60 * 26) as i64))
        .filter(|t| *t <= now);
    let mut status = Status::Dispatched;
    let mut resolved_at = None;
    let mut verified_at = None;
    let mut rated_at = None;
    let mut rating = None;
    let mut closed_at = None;
    let mut rework = 0;
    if age > Duration::days(12) || rng.chance(0.6) {
        let done = created + Duration::hours(3 + rng.below(24 * 11) as i64);
        if done < now && responded.is_some() {
            resolved_at = Some(done);
            verified_at = Some(done + Duration::hours(2));
            status = Status::Verified;
            if rng.chance(0.12) {
                rework = 1;
            }
            let close = done + Duration::hours(5);
            if close < now {
                status = Status::Closed;
                closed_at = Some(close);
                if rng.chance(0.8) {
                    rated_at = Some(close);
                    let roll = rng.below(100);
                    rating = Some(Rating {
                        resolved: roll < 95,
                        satisfaction: if roll < 80 {
                            Satisfaction::Satisfied
                        } else if roll < 97 {
                            Satisfaction::BasicallySatisfied
                        } else {
                            Satisfaction::Unsatisfied
                        },
                        comment: None,
                        via: RatedVia::Requester,
                    });
                }
            }
        }
    } else if responded.is_some() {
        status = Status::Claimed;
    }
    let handling = matches!(status, Status::Dispatched | Status::Claimed);
    let next_due = handling.then(|| {
        if responded.is_none() {
            respond_due
        } else {
            resolve_due
        }
    });
    Request {
        restricted: false,
        id: RequestId(id),
        status,
        channel: Channel::App,
        description: "synthetic".into(),
        requester_id: None,
        submitted_by: None,
        location: Location {
            area_id: community,
            street_id: street,
            community_id: community,
            grid_id: None,
            address: None,
            lat: None,
            lon: None,
        },
        attachments: vec![],
        category_id: Some(category),
        tier: Some(tier),
        urgent: false,
        level,
        unit_id: Some(unit),
        claimed_by: None,
        suspended_from: None,
        supervised: false,
        supervision_count: 0,
        rework_count: rework,
        escalation_count: 0,
        respond_due_at: Some(respond_due),
        resolve_due_at: Some(resolve_due),
        respond_warn_at: Some(respond_due),
        resolve_warn_at: Some(resolve_due),
        next_due_at: next_due,
        next_warn_at: next_due,
        on_time: resolved_at.map(|t| t <= resolve_due),
        suspended_at: None,
        overdue_supervised_for: None,
        responded_at: responded,
        resolved_at,
        verified_at,
        closed_at,
        resolution: resolved_at.map(|_| "done".into()),
        public_need: None,
        public_result: None,
        cost_fen: None,
        rating,
        rated_at,
        reject_code: None,
        duplicate_of: None,
        created_at: created,
        updated_at: closed_at.or(resolved_at).unwrap_or(created),
        version: 1,
    }
}

fn fold(rows: Vec<(i64, Counts)>) -> BTreeMap<i64, Counts> {
    let mut out = BTreeMap::new();
    for (k, c) in rows {
        if !c.is_zero() {
            out.insert(k, c);
        }
    }
    out
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Loads `count` requests into `store` and times the scorecards; returns the worst ratio.
pub async fn run_one(store: Arc<dyn Store>, count: usize, repeat: usize) -> Result<f64, String> {
    let service = Service::new(store.clone(), Settings::default())
        .await
        .map_err(|e| e.to_string())?;
    let s = shape(&service).await?;
    let now = redgrid_app::service::now();
    let mut rng = Rng(42);
    let t0 = Instant::now();
    let chunk = 50_000;
    let span_secs = 3650 * 24 * 3600i64;
    let slot_secs = span_secs / count.max(1) as i64;
    let start = now - Duration::seconds(span_secs);
    let mut id = 1i64;
    while (id as usize) <= count {
        let n = chunk.min(count + 1 - id as usize);
        let batch: Vec<Request> = (0..n as i64)
            .map(|i| {
                let k = id + i;
                let slot = start + Duration::seconds(span_secs * (k - 1) / count as i64);
                synth(&mut rng, k, &s, now, slot, slot_secs)
            })
            .collect();
        store
            .load_projections(&batch)
            .await
            .map_err(|e| e.to_string())?;
        id += n as i64;
        if (id as usize / chunk).is_multiple_of(25) {
            eprintln!(
                "  loaded {} requests ({:.0} s)",
                id - 1,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    let load = t0.elapsed();
    store
        .execute_raw("ANALYZE")
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{}: loaded {count} requests in {:.1} s",
        store.backend().as_str(),
        load.as_secs_f64()
    );
    let today = local_date(now);
    let periods = [
        (
            "this month",
            Period::parse(&today.format("%Y-%m").to_string()),
        ),
        ("last quarter", Period::parse("2026-Q3")),
        ("a year", Period::parse("2025")),
        ("ten years", Period::parse(&format!("2016-11-24..{today}"))),
        ("custom range", Period::parse("2024-03-17..2025-08-09")),
        ("a day", Period::parse("2026-11-02")),
    ];
    let groups = [
        ("unit", Dim::Unit, DirectGroup::Unit),
        ("community", Dim::Community, DirectGroup::Community),
        ("category", Dim::Category, DirectGroup::Category),
        ("level", Dim::Level, DirectGroup::Level),
    ];
    println!(
        "{:<8} {:<13} {:<10} {:>12} {:>14} {:>8}",
        "backend", "period", "by", "redgrid ms", "GROUP BY ms", "ratio"
    );
    let mut worst_ratio = f64::MAX;
    let mut worst_ms: f64 = 0.0;
    for (pname, period) in periods {
        let period = period.ok_or("bad period")?;
        for (gname, dim, direct) in groups {
            let mut ours_best = f64::MAX;
            let mut ours = BTreeMap::new();
            for _ in 0..repeat {
                let t = Instant::now();
                ours = service
                    .period_counts(dim, period, now)
                    .await
                    .map_err(|e| e.to_string())?;
                ours_best = ours_best.min(ms(t.elapsed()));
            }
            let t = Instant::now();
            let plain = fold(
                store
                    .scorecard_direct(
                        direct,
                        period.start_instant(),
                        period.end_instant(),
                        period.end_instant().min(now),
                    )
                    .await
                    .map_err(|e| e.to_string())?,
            );
            let plain_ms = ms(t.elapsed());
            if ours != plain {
                return Err(format!("{pname} by {gname}: the two answers differ"));
            }
            let ratio = plain_ms / ours_best.max(0.001);
            worst_ratio = worst_ratio.min(ratio);
            worst_ms = worst_ms.max(ours_best);
            println!(
                "{:<8} {:<13} {:<10} {:>12.2} {:>14.1} {:>7.0}×",
                store.backend().as_str(),
                pname,
                gname,
                ours_best,
                plain_ms,
                ratio
            );
        }
    }
    println!(
        "{}: answers equal in every case; slowest redgrid scorecard {worst_ms:.2} ms (target ≤ 50); \
         smallest ratio {worst_ratio:.0}× (target ≥ 50)",
        store.backend().as_str()
    );
    Ok(worst_ratio)
}

pub async fn run(count: usize, backends: &str, pg_url: &str, repeat: usize) -> Result<(), String> {
    println!(
        "redgrid bench scorecard: {count} requests over ten years per backend; best of {repeat} runs \
         for redgrid's path, one run of the plain GROUP BY"
    );
    for b in backends.split(',').map(str::trim) {
        match b {
            "sqlite" => {
                let db = testing::sqlite().await.map_err(|e| e.to_string())?;
                run_one(db.store.clone(), count, repeat).await?;
            }
            "postgres" => match testing::postgres_at(pg_url)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(db) => {
                    run_one(db.store.clone(), count, repeat).await?;
                }
                None => println!("postgres: skipped (unreachable at {pg_url})"),
            },
            other => return Err(format!("unknown backend {other:?}")),
        }
    }
    Ok(())
}
