//! Power alerts become requests. The detectors (`redgrid-power`) find an alert; this use case files
//! it, as the system, in its meter's grid (channel `power_alert`, idempotent per detector, meter and
//! first day), with its chart attached, and links the request to the alert in the database. When the
//! request is resolved the handler records what the check found; [`Service::power_alert_outcomes`]
//! reads those outcomes back per detector.

use crate::Service;
use crate::service::now;
use chrono::NaiveDate;
use redgrid_core::command::SubmitInput;
use redgrid_core::error::CoreError;
use redgrid_core::person::Actor;
use redgrid_core::request::{AlertOutcome, Attachment, Channel, EventBody};
use redgrid_store::{AlertLink, Result, StoreError};
use std::collections::BTreeMap;

/// One alert to file, as the detectors described it.
#[derive(Debug, Clone)]
pub struct PowerAlert {
    /// The district's code, as its electricity data is kept under it.
    pub district: String,
    /// The detector's code (`vacancy`, `group_rental`, `routine`, `fault`).
    pub detector: String,
    pub meter: String,
    /// The code of the meter's grid.
    pub grid_code: String,
    /// The household's address, as the meter register has it (masked by the policy like any
    /// request's place).
    pub address: String,
    pub day: NaiveDate,
    pub since: NaiveDate,
    /// Whether the episode goes on at the end of the readings (else `day` was its last day).
    pub ongoing: bool,
    /// 1 low, 2 medium, 3 high.
    pub severity: u8,
    /// The reasons' codes (kept in the link), and the same in words a grid worker reads (for
    /// the timeline when the episode goes on).
    pub reasons: Vec<String>,
    pub reason_names: Vec<String>,
    /// What was seen and what to check, in words a grid worker understands.
    pub description: String,
    /// An elderly person's routine is for the grid and the community only.
    pub restricted: bool,
    /// The chart of the days around the alert (SVG).
    pub chart_svg: String,
}

/// What filing one alert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filing {
    /// A new request was filed.
    New,
    /// The alert was filed before (the same detector, meter and first day) and has nothing new,
    /// or its request is past handling (resolved or closed).
    Already,
    /// The episode was filed before and went on or grew worse: its request's timeline says so.
    Updated,
    /// The episode filed before is over: its request's timeline says so, once.
    Ended,
    /// The meter's grid is not an area of the district.
    NoGrid,
}

/// Per detector: filed, confirmed, false alarms, could not check.
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

impl Service {
    /// Files one alert as a request and links it. Filing the same alert again files nothing; a
    /// request filed before but not linked (say, after restoring an older backup) is linked again.
    pub async fn file_power_alert(&self, a: &PowerAlert) -> Result<Filing> {
        let dir = self.directory();
        let Some(area) = dir.areas().find(|g| g.code == a.grid_code).map(|g| g.id) else {
            return Ok(Filing::NoGrid);
        };
        // An episode filed before: its one request hears what is new.
        if let Some(link) = self
            .store()
            .power_alert_link(&a.district, &a.detector, &a.meter, a.since)
            .await?
        {
            return self.update_episode(a, link).await;
        }
        let key = format!("power-{}-{}-{}", a.detector, a.meter, a.since);
        let chart = self.store_chart(a).await?;
        let input = SubmitInput {
            channel: Some(Channel::PowerAlert),
            description: Some(a.description.clone()),
            area_id: Some(area),
            address: Some(a.address.clone()).filter(|s| !s.is_empty()),
            attachments: vec![Attachment {
                id: chart.id,
                name: "用电曲线.svg".into(),
            }],
            restricted: a.restricted,
            ..Default::default()
        };
        let (request, created) = match self
            .submit(&Actor::System, &input, vec![], Some(&key), now())
            .await
        {
            Ok(done) => done,
            // The same key with another body, filed before but not linked (say, after restoring
            // an older backup): nothing to add to.
            Err(StoreError::Core(CoreError::Conflict(_))) => return Ok(Filing::Already),
            Err(e) => return Err(e),
        };
        let link = AlertLink {
            request_id: request.id,
            district: a.district.clone(),
            detector: a.detector.clone(),
            meter: a.meter.clone(),
            day: a.day,
            since: a.since,
            severity: i32::from(a.severity),
            reasons: a.reasons.join(";"),
            ended: (!a.ongoing).then_some(a.day),
        };
        self.store().link_power_alert(&link, now()).await?;
        Ok(if created {
            Filing::New
        } else {
            Filing::Already
        })
    }

    /// Stores the alert's chart as the system's own file (used at once, never limited).
    async fn store_chart(&self, a: &PowerAlert) -> Result<redgrid_store::AttachmentMeta> {
        self.store()
            .put_attachment(
                "image/svg+xml",
                a.chart_svg.as_bytes(),
                None,
                Default::default(),
            )
            .await
    }

    /// Adds an episode's new days or higher severity to its request (an `alert_updated` event, by
    /// the system, with the chart redrawn) while the request is still being handled, and records
    /// them in the link. An episode found over is said once, with its last day: the household is
    /// back, the routine resumed, the meter reads again. One found going on again after that (a
    /// late file filled the days between) is going on again, and its later end is said in turn.
    async fn update_episode(&self, a: &PowerAlert, link: AlertLink) -> Result<Filing> {
        let severity = i32::from(a.severity);
        let last = a.day.max(link.day);
        let reopens = a.ongoing && link.ended.is_some();
        let ends = !a.ongoing && link.ended.is_none_or(|e| last > e);
        if a.day <= link.day && severity <= link.severity && !ends && !reopens {
            return Ok(Filing::Already);
        }
        let ended = match (a.ongoing, ends) {
            (true, _) => None,
            (false, true) => Some(last),
            (false, false) => link.ended,
        };
        // Past the check, the link keeps its days and severity, and learns only whether the
        // episode is over.
        let checked = AlertLink {
            ended,
            ..link.clone()
        };
        let updated = AlertLink {
            day: last,
            severity: severity.max(link.severity),
            reasons: a.reasons.join(";"),
            ended,
            ..link.clone()
        };
        // Resolved, verified or closed: the check was done; nothing is reopened (and no chart is
        // uploaded for it).
        let open = self
            .store()
            .request(link.request_id)
            .await?
            .is_some_and(|r| {
                redgrid_core::command::allowed_from(redgrid_core::command::CommandKind::UpdateAlert)
                    .contains(&r.status)
            });
        if !open {
            if checked != link {
                self.store().update_power_alert_link(&checked).await?;
            }
            return Ok(Filing::Already);
        }
        // The end is announced by whoever marks it first (the daily run and a run by hand may
        // find it at the same time).
        if ends
            && !self
                .store()
                .claim_power_alert_end(link.request_id, last)
                .await?
        {
            return Ok(Filing::Already);
        }
        let text = episode_text(a, severity > link.severity, ends);
        // The chart redrawn with the new days, beside the one filed first.
        let chart = self.store_chart(a).await?;
        let command = redgrid_core::command::Command::UpdateAlert {
            text: Some(text),
            chart: vec![Attachment {
                id: chart.id,
                name: format!("用电曲线（至{}）.svg", a.day),
            }],
        };
        match self
            .run(link.request_id, &Actor::System, &command, vec![], now())
            .await
        {
            Ok(_) => {}
            // Resolved, verified or closed: the check was done; nothing is reopened.
            Err(StoreError::Core(CoreError::InvalidTransition { .. })) => {
                self.store().update_power_alert_link(&checked).await?;
                return Ok(Filing::Already);
            }
            Err(e) => return Err(e),
        }
        self.store().update_power_alert_link(&updated).await?;
        Ok(if ends { Filing::Ended } else { Filing::Updated })
    }

    /// Links requests filed before the links were kept in the database (the old `alerts.csv`);
    /// returns how many were new.
    pub async fn link_power_alerts(&self, links: &[AlertLink]) -> Result<usize> {
        let mut new = 0;
        for l in links {
            if self.store().request(l.request_id).await?.is_some()
                && self.store().link_power_alert(l, now()).await?
            {
                new += 1;
            }
        }
        Ok(new)
    }

    /// Each detector's filed alerts and the outcome of each one's last resolution.
    pub async fn power_alert_outcomes(&self, district: &str) -> Result<BTreeMap<String, Outcomes>> {
        let mut out: BTreeMap<String, Outcomes> = BTreeMap::new();
        for link in self.store().power_alert_links(district).await? {
            let e = out.entry(link.detector).or_default();
            e.filed += 1;
            let events = self.store().events(link.request_id).await?;
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
}

/// The timeline's words for an episode that went on, grew worse or ended, in Chinese and English.
fn episode_text(a: &PowerAlert, worse: bool, ended: bool) -> String {
    let days = (a.day - a.since).num_days() + 1;
    let (zh_names, en_names) = if a.reasons.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!("（{}）", a.reason_names.join("、")),
            format!(" ({})", a.reasons.join(", ")),
        )
    };
    let (zh_worse, en_worse) = if worse {
        ("（升高）", " (higher)")
    } else {
        ("", "")
    };
    let s = a.severity;
    if ended {
        format!(
            "预警结束：{}至{}共{}天{zh_names}，严重程度{s}{zh_worse}；此后的读数已恢复正常 / the episode is over: {} to {}, {days} days{en_names}, severity {s}{en_worse}; the readings since are back to normal",
            a.since, a.day, days, a.since, a.day
        )
    } else {
        format!(
            "预警持续：{}至{}共{}天{zh_names}，严重程度{s}{zh_worse} / the episode goes on: {} to {}, {days} days, severity {s}{en_names}{en_worse}",
            a.since, a.day, days, a.since, a.day
        )
    }
}
