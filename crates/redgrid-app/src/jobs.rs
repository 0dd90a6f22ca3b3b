//! Background jobs: the overdue sweeper, the rating-window closer, automatic escalation and the
//! expired-session sweep. Each
//! job finds candidates with a query, then runs an ordinary command as the system. The command
//! re-checks everything inside its transaction (with the row locked on PostgreSQL, on the single
//! writer on SQLite), so running a job twice, after a restart, or in two processes at once never
//! appends a second event: the late runner is refused and counts nothing.

use crate::Service;
use chrono::{DateTime, Utc};
use redgrid_core::command::Command;
use redgrid_core::error::{Conflict, CoreError};
use redgrid_core::ids::RequestId;
use redgrid_core::person::Actor;
use redgrid_store::{Result, StoreError};

/// How many candidates a job takes per query.
const PAGE: i64 = 500;

/// What one round of the jobs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobReport {
    pub supervised: usize,
    pub closed: usize,
    pub escalated: usize,
    /// Sessions past their expiry, deleted.
    pub sessions_expired: u64,
}

/// Refusals that mean "someone else did it already" or "not yet": not errors for a job.
fn benign(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Core(
            CoreError::InvalidTransition { .. }
                | CoreError::Conflict(
                    Conflict::NotOverdue
                        | Conflict::AlreadySupervised
                        | Conflict::NotOverdueLongEnough
                        | Conflict::RatingWindowOpen
                        | Conflict::TopLevel
                        | Conflict::ConcurrentUpdate
                )
        )
    )
}

impl Service {
    async fn run_system(
        &self,
        id: RequestId,
        command: &Command,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        match self.run(id, &Actor::System, command, vec![], now).await {
            Ok(_) => Ok(true),
            Err(e) if benign(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Supervises (督办) every request past a deadline once for that deadline.
    pub async fn sweep_overdue(&self, now: DateTime<Utc>) -> Result<usize> {
        let order = Command::Supervise {
            order: Some("超过办理时限，系统自动督办 / overdue: supervised automatically".into()),
        };
        let mut done = 0;
        loop {
            let ids = self.store().overdue_unsupervised(now, PAGE).await?;
            let mut progressed = false;
            for id in &ids {
                if self.run_system(*id, &order, now).await? {
                    done += 1;
                    progressed = true;
                }
            }
            if (ids.len() as i64) < PAGE || !progressed {
                return Ok(done);
            }
        }
    }

    /// Closes (销号) verified requests nobody rated within the rating window.
    pub async fn close_unrated(&self, now: DateTime<Utc>) -> Result<usize> {
        let cutoff = now - self.settings().rating_window;
        let mut done = 0;
        loop {
            let ids = self.store().rating_window_ended(cutoff, PAGE).await?;
            let mut progressed = false;
            for id in &ids {
                if self.run_system(*id, &Command::Close {}, now).await? {
                    done += 1;
                    progressed = true;
                }
            }
            if (ids.len() as i64) < PAGE || !progressed {
                return Ok(done);
            }
        }
    }

    /// Escalates one level every request red for the district's set number of working days (when
    /// the district turned the rule on).
    pub async fn auto_escalate(&self, now: DateTime<Utc>) -> Result<usize> {
        if self.settings().auto_escalate_after_days.is_none() {
            return Ok(0);
        }
        let reason = Command::Escalate {
            reason: Some("超时未办结，系统自动上报 / overdue: escalated automatically".into()),
        };
        let mut done = 0;
        // Candidates come oldest deadline first; once one is not ripe, no later one is.
        let ids = self.store().red_before(now, PAGE).await?;
        for id in ids {
            match self.run(id, &Actor::System, &reason, vec![], now).await {
                Ok(_) => done += 1,
                Err(StoreError::Core(CoreError::Conflict(Conflict::NotOverdueLongEnough))) => {
                    break;
                }
                Err(e) if benign(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// One round of every job.
    pub async fn run_jobs(&self, now: DateTime<Utc>) -> Result<JobReport> {
        Ok(JobReport {
            supervised: self.sweep_overdue(now).await?,
            closed: self.close_unrated(now).await?,
            escalated: self.auto_escalate(now).await?,
            sessions_expired: self.store().delete_expired_sessions(now).await?,
        })
    }
}
