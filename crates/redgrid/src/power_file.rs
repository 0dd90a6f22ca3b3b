//! Power alerts become requests: each alert is filed by the system in its meter's grid (channel
//! `power_alert`) with a chart of the days around it, and noted in the district's alert ledger
//! (`<data dir>/power/<district>/alerts.csv`). When the request is resolved, the handler records
//! what the check found; `precision` reads those outcomes back per detector.

use redgrid_core::command::SubmitInput;
use redgrid_core::ids::{AreaId, RequestId};
use redgrid_core::person::Actor;
use redgrid_core::request::{AlertOutcome, Attachment, Channel, EventBody};
use redgrid_power::detect::{Alert, Analysis, DetectorKind, daily_totals};
use redgrid_power::format::PowerStore;
use redgrid_power::{Registry, date_of};
use redgrid_store::Service;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Default)]
pub struct Filed {
    pub new: usize,
    pub already: usize,
    pub no_grid: usize,
}

fn reason_zh(r: &str) -> &'static str {
    match r {
        "no_morning" => "早间无用电活动",
        "flat_line" => "长时间用电无变化",
        "night_use" => "夜间用电异常",
        "sharp_drop" => "用电骤降",
        "dead_meter" => "读数持续为零",
        "no_data" => "持续无读数",
        "vacant_30d" => "连续一个月以上用电接近零",
        "vacant_180d" => "连续半年以上用电接近零",
        "group_rental" => "用电量和用电规律明显高于本社区同类住户",
        _ => "用电异常",
    }
}

/// The request text: what was seen, never the address (that goes in the request's place, which
/// the policy masks) nor anything about the household beyond what the check needs.
pub fn describe(a: &Alert) -> String {
    let reasons: Vec<&str> = a.reasons.iter().map(|r| reason_zh(r)).collect();
    let what = match a.detector {
        DetectorKind::Vacancy => "请核实房屋是否长期空置",
        DetectorKind::GroupRental => "请上门核查是否存在群租",
        DetectorKind::Routine => "请尽快电话或上门确认独居老人是否安好",
        DetectorKind::Fault => "请核实电表是否损坏或已拆除",
    };
    format!(
        "电力预警·{}：自{}起{}（{}）。{what}，并在办结时选择核查结果。",
        a.detector.name_zh(),
        date_of(a.since),
        reasons.join("、"),
        date_of(a.day)
    )
}

fn ledger_path(store: &PowerStore, district: &str) -> std::path::PathBuf {
    store.district_dir(district).join("alerts.csv")
}

const LEDGER_HEADER: &str = "request_id,detector,meter,day,since,severity,reasons";

/// The ledger's rows: request id → (detector, meter code).
pub fn read_ledger(
    store: &PowerStore,
    district: &str,
) -> Result<Vec<(RequestId, DetectorKind, String)>, String> {
    let path = ledger_path(store, district);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let parsed = (|| {
            Some((
                RequestId(c.first()?.parse().ok()?),
                DetectorKind::parse(c.get(1)?)?,
                c.get(2)?.to_string(),
            ))
        })();
        match parsed {
            Some(row) => out.push(row),
            None => return Err(format!("{}: line {} is broken", path.display(), i + 1)),
        }
    }
    Ok(out)
}

/// Files the alerts whose day is on or after `since` (all when `None`). An alert filed before
/// (same detector, meter and first day) is not filed again.
pub async fn file_alerts(
    service: &Service,
    store: &PowerStore,
    district: &str,
    registry: &Registry,
    analysis: &Analysis,
    since: Option<i32>,
) -> Result<Filed, String> {
    let dir = service.directory();
    let grids: HashMap<&str, AreaId> = dir.areas().map(|a| (a.code.as_str(), a.id)).collect();
    let mut filed = Filed::default();
    let mut lines = String::new();
    let known: std::collections::HashSet<RequestId> = read_ledger(store, district)?
        .into_iter()
        .map(|r| r.0)
        .collect();
    for a in analysis
        .alerts
        .iter()
        .filter(|a| since.is_none_or(|s| a.day >= s))
    {
        let Some(m) = registry.get(a.meter) else {
            continue;
        };
        let Some(&area) = grids.get(m.grid_code.as_str()) else {
            filed.no_grid += 1;
            continue;
        };
        let key = format!("power-{}-{}-{}", a.detector.as_str(), m.code, a.since);
        let days = daily_totals(
            store,
            district,
            a.meter,
            a.since.max(a.day - 30) - 7,
            a.day + 3,
        )
        .map_err(|e| e.to_string())?;
        let svg = redgrid_power::svg::daily_chart(
            &days,
            a.since,
            a.day,
            &format!("{} {}", a.detector.name_zh(), m.code),
        );
        let meta = service
            .store()
            .put_attachment("image/svg+xml", svg.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let input = SubmitInput {
            channel: Some(Channel::PowerAlert),
            description: Some(describe(a)),
            area_id: Some(area),
            address: Some(m.address.clone()).filter(|s| !s.is_empty()),
            attachments: vec![Attachment {
                id: meta.id,
                name: "用电曲线.svg".into(),
            }],
            // An elderly person's routine is for the grid and the community only.
            restricted: a.detector == DetectorKind::Routine,
            ..Default::default()
        };
        match service
            .submit(
                &Actor::System,
                &input,
                vec![],
                Some(&key),
                redgrid_store::service::now(),
            )
            .await
        {
            Ok((r, created)) => {
                if created {
                    filed.new += 1;
                } else {
                    filed.already += 1;
                }
                // A request filed before but missing from the ledger (say, the ledger was
                // restored from an older backup) is noted again.
                if created || !known.contains(&r.id) {
                    lines.push_str(&format!(
                        "{},{},{},{},{},{},{}\n",
                        r.id.0,
                        a.detector.as_str(),
                        m.code,
                        date_of(a.day),
                        date_of(a.since),
                        a.severity,
                        a.reasons.join(";")
                    ));
                }
            }
            // The same alert seen again with other figures (a longer spell, a new score).
            Err(redgrid_store::StoreError::Core(redgrid_core::error::CoreError::Conflict(_))) => {
                filed.already += 1
            }
            Err(e) => return Err(format!("filing the alert for meter {}: {e}", m.code)),
        }
    }
    if !lines.is_empty() {
        use std::io::Write;
        let path = ledger_path(store, district);
        let fresh = !path.exists();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if fresh {
            writeln!(f, "{LEDGER_HEADER}").map_err(|e| e.to_string())?;
        }
        f.write_all(lines.as_bytes()).map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
    }
    Ok(filed)
}

/// Per detector: filed, confirmed, false alarms, could not check, still open.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Outcomes {
    pub filed: u64,
    pub confirmed: u64,
    pub false_alarm: u64,
    pub unverifiable: u64,
}

impl Outcomes {
    /// Confirmed ÷ (confirmed + false alarms); none before any was checked.
    pub fn precision(&self) -> Option<f64> {
        let n = self.confirmed + self.false_alarm;
        (n > 0).then(|| self.confirmed as f64 / n as f64)
    }
}

/// Reads each filed alert's request and the outcome of its last resolution.
pub async fn outcomes(
    service: &Service,
    store: &PowerStore,
    district: &str,
) -> Result<BTreeMap<DetectorKind, Outcomes>, String> {
    let mut out: BTreeMap<DetectorKind, Outcomes> = BTreeMap::new();
    for (id, kind, _) in read_ledger(store, district)? {
        let e = out.entry(kind).or_default();
        e.filed += 1;
        let events = service
            .store()
            .events(id)
            .await
            .map_err(|e| e.to_string())?;
        let last = events.iter().rev().find_map(|ev| match &ev.body {
            EventBody::Resolved { outcome, .. } => Some(*outcome),
            _ => None,
        });
        match last.flatten() {
            Some(AlertOutcome::Confirmed) => e.confirmed += 1,
            Some(AlertOutcome::FalseAlarm) => e.false_alarm += 1,
            Some(AlertOutcome::Unverifiable) => e.unverifiable += 1,
            None => {}
        }
    }
    Ok(out)
}
