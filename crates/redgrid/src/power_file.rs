//! Power alerts become requests: the detectors' alerts described for a grid worker, with a chart of
//! the days around each, handed to `redgrid_app::power_alerts`, which files them in their meters'
//! grids and links each request to its alert in the database. `precision` reads the outcomes back.

use anyhow::Context;
use redgrid_app::Service;
use redgrid_app::power_alerts::{Filing, Outcomes, PowerAlert};
use redgrid_core::ids::RequestId;
use redgrid_power::detect::{Alert, Analysis, Config, DetectorKind, RoutineConfig, daily_series};
use redgrid_power::format::PowerStore;
use redgrid_power::{Registry, date_of};
use redgrid_store::AlertLink;
use std::collections::BTreeMap;

fn reason_zh(r: &str) -> &'static str {
    match r {
        "no_morning" => "早间无用电活动",
        "flat_line" => "长时间用电无变化",
        "night_use" => "夜间用电异常",
        "sharp_drop" => "用电骤降",
        "dead_meter" => "读数持续为零",
        "no_data" => "持续无读数",
        "vacant_14d" => "连续两周以上只有冰箱和待机用电（无人居住迹象）",
        "vacant_30d" => "连续一个月以上只有冰箱和待机用电（无人居住迹象）",
        "vacant_180d" => "连续半年以上只有冰箱和待机用电（无人居住迹象）",
        "missing_readings" => "读数缺失",
        "group_rental" => "用电量和用电规律明显高于本社区同类住户",
        _ => "用电异常",
    }
}

/// Hours for a grid worker: `10` or `6.5`.
fn hours(h: f32) -> String {
    if h.fract() == 0.0 {
        format!("{h:.0}")
    } else {
        format!("{h:.1}")
    }
}

/// What a routine reason means, in a grid worker's words, with the thresholds in force.
fn routine_meaning(reason: &str, c: &RoutineConfig) -> Option<String> {
    Some(match reason {
        "no_morning" => format!(
            "到{}点（且比老人平时最晚的起床时间晚{}小时以上）仍不见烧水、做饭等用电",
            hours(c.morning_by),
            hours(c.margin_hours)
        ),
        "flat_line" => format!(
            "白天有过用电后，连续{}小时以上（比老人平时最长的安静时段还长）不见任何活动用电，一直到晚上22点",
            hours(c.flat_hours)
        ),
        "night_use" => format!(
            "夜里0—6点的用电比平时多出{}千瓦时以上（超过平时的{}倍），像是有人半夜起来活动",
            c.night_min_kwh, c.night_factor
        ),
        "sharp_drop" => format!(
            "连续{}天用电量不到平时的{:.0}%",
            c.drop_days,
            c.drop_ratio * 100.0
        ),
        _ => return None,
    })
}

/// The request text: what was seen, never the address (that goes in the request's place, which
/// the policy masks) nor anything about the household beyond what the check needs. A routine
/// alert says in plain words what each reason means, with the thresholds in force.
pub fn describe(a: &Alert, cfg: &Config) -> String {
    let reasons: Vec<&str> = a.reasons.iter().map(|r| reason_zh(r)).collect();
    let what = match a.detector {
        DetectorKind::Vacancy => "请核实房屋是否长期空置",
        DetectorKind::GroupRental => "请上门核查是否存在群租",
        DetectorKind::Routine => "请尽快电话或上门确认独居老人是否安好",
        DetectorKind::Fault => "请核实电表是否损坏或已拆除",
        DetectorKind::DataGap => "请联系供电公司补齐读数",
    };
    let span = if a.since == a.day {
        format!("{}", date_of(a.since))
    } else {
        format!("{}至{}", date_of(a.since), date_of(a.day))
    };
    let seen: Vec<String> = a
        .reasons
        .iter()
        .filter_map(|r| routine_meaning(r, &cfg.routine))
        .collect();
    let seen = if seen.is_empty() {
        String::new()
    } else {
        format!("用电情况：{}。", seen.join("；"))
    };
    format!(
        "电力预警·{}：{span}{}（{}）。{seen}{what}，并在办结时选择核查结果。",
        a.detector.name_zh(),
        if a.ongoing { "，仍在持续" } else { "" },
        reasons.join("、"),
    )
}

/// The old alert ledger beside the data (`power/<district>/alerts.csv`), from before the links were
/// kept in the database.
fn legacy_ledger(store: &PowerStore, district: &str) -> std::path::PathBuf {
    store.district_dir(district).join("alerts.csv")
}

/// Moves an old `alerts.csv` ledger into the database once, then renames it `alerts.csv.imported`.
/// Its columns: request_id, detector, meter, day, since, severity, reasons.
pub async fn import_legacy_ledger(
    service: &Service,
    store: &PowerStore,
    district: &str,
) -> anyhow::Result<usize> {
    let path = legacy_ledger(store, district);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut links = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let date = |k: usize| {
            c.get(k)
                .and_then(|v| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
        };
        let parsed = (|| {
            Some(AlertLink {
                request_id: RequestId(c.first()?.parse().ok()?),
                district: district.to_string(),
                detector: DetectorKind::parse(c.get(1)?)?.as_str().to_string(),
                meter: c.get(2)?.to_string(),
                day: date(3)?,
                since: date(4)?,
                severity: c.get(5)?.parse().ok()?,
                reasons: c.get(6).unwrap_or(&"").to_string(),
                ended: None,
            })
        })();
        match parsed {
            Some(l) => links.push(l),
            None => anyhow::bail!("{}: line {} is broken", path.display(), i + 1),
        }
    }
    let new = service.link_power_alerts(&links).await?;
    let done = path.with_extension("csv.imported");
    std::fs::rename(&path, &done)
        .with_context(|| format!("cannot rename {} to {}", path.display(), done.display()))?;
    Ok(new)
}

/// How many alerts were filed as new requests, were filed before, or have no grid in the district.
#[derive(Debug, Default)]
pub struct Filed {
    pub new: usize,
    /// Episodes filed before that went on: their requests' timelines were updated.
    pub updated: usize,
    /// Episodes filed before that are over: their requests' timelines say so.
    pub ended: usize,
    pub already: usize,
    pub no_grid: usize,
}

/// Files the alerts whose day is on or after `since` (all when `None`), and tells the requests of
/// episodes filed before and found over since, whatever their last day. An alert filed before
/// (same detector, meter and first day) is not filed again.
pub async fn file_alerts(
    service: &Service,
    store: &PowerStore,
    district: &str,
    registry: &Registry,
    analysis: &Analysis,
    cfg: &Config,
    since: Option<i32>,
) -> anyhow::Result<Filed> {
    import_legacy_ledger(service, store, district).await?;
    let mut filed = Filed::default();
    // The episodes filed and not yet known to be over, by detector, meter and first day.
    let going: std::collections::HashSet<(String, String, redgrid_power::Day)> = service
        .store()
        .power_alert_links(district)
        .await?
        .into_iter()
        .filter(|l| l.ended.is_none())
        .map(|l| (l.detector, l.meter, redgrid_power::day_of(l.since)))
        .collect();
    for a in analysis.alerts.iter().filter(|a| a.for_grid) {
        let Some(m) = registry.get(a.meter) else {
            continue;
        };
        let recent = since.is_none_or(|s| a.day >= s);
        let over = !a.ongoing
            && going.contains(&(a.detector.as_str().to_string(), m.code.clone(), a.since));
        if !recent && !over {
            continue;
        }
        let days = daily_series(
            store,
            district,
            a.meter,
            a.since.max(a.day - 60) - 7,
            a.day + 3,
        )?;
        let alert = PowerAlert {
            district: district.to_string(),
            detector: a.detector.as_str().to_string(),
            meter: m.code.clone(),
            grid_code: m.grid_code.clone(),
            address: m.address.clone(),
            day: date_of(a.day),
            since: date_of(a.since),
            ongoing: a.ongoing,
            severity: a.severity,
            reasons: a.reasons.iter().map(|r| r.to_string()).collect(),
            reason_names: a.reasons.iter().map(|r| reason_zh(r).to_string()).collect(),
            description: describe(a, cfg),
            restricted: a.detector == DetectorKind::Routine,
            chart_svg: redgrid_power::svg::daily_chart(
                &days,
                a.since,
                a.day,
                &format!("{} {}", a.detector.name_zh(), m.code),
            ),
        };
        match service
            .file_power_alert(&alert)
            .await
            .with_context(|| format!("filing the alert for meter {}", m.code))?
        {
            Filing::New => filed.new += 1,
            Filing::Updated => filed.updated += 1,
            Filing::Ended => filed.ended += 1,
            Filing::Already => filed.already += 1,
            Filing::NoGrid => filed.no_grid += 1,
        }
    }
    Ok(filed)
}

/// Each detector's filed alerts and what the checks found.
pub async fn outcomes(
    service: &Service,
    store: &PowerStore,
    district: &str,
) -> anyhow::Result<BTreeMap<String, Outcomes>> {
    import_legacy_ledger(service, store, district).await?;
    Ok(service.power_alert_outcomes(district).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(detector: DetectorKind, reasons: Vec<&'static str>) -> Alert {
        Alert {
            meter: 0,
            detector,
            reasons,
            day: 20_000,
            since: 19_999,
            ongoing: false,
            for_grid: true,
            days: 2,
            severity: 2,
            score: 0.0,
        }
    }

    #[test]
    fn a_routine_alert_says_what_was_seen_with_the_thresholds_in_force() {
        let mut cfg = Config::default();
        let a = alert(DetectorKind::Routine, vec!["no_morning", "sharp_drop"]);
        let text = describe(&a, &cfg);
        assert!(text.starts_with("电力预警·独居老人用电异常"), "{text}");
        assert!(
            text.contains("到10点（且比老人平时最晚的起床时间晚1小时以上）"),
            "{text}"
        );
        assert!(text.contains("连续2天用电量不到平时的35%"), "{text}");
        cfg.routine.morning_by = 9.5;
        assert!(describe(&a, &cfg).contains("到9.5点"));
        // Other detectors keep their one line.
        let v = describe(&alert(DetectorKind::Vacancy, vec!["vacant_30d"]), &cfg);
        assert!(!v.contains("用电情况"), "{v}");
    }
}
