//! Storage of the organisation registers, the activity ledger and campaigns (both backends share
//! `org_common.rs`). Every [`crate::Store`] is an [`OrgStore`].

use crate::plan::{Lookups, Plan};
use crate::{Change, Result};
use async_trait::async_trait;
use chrono::NaiveDate;
use redgrid_core::area::Level;
use redgrid_core::ids::{AreaId, PersonId, RequestId, UnitId};
use redgrid_core::org::{
    Activity, ActivityKind, Alliance, AllianceGroup, Campaign, Member, Pairing, PartyOrg,
    StatsInput, Suggestion, Target, Volunteer,
};
use std::collections::HashMap;

/// A new alliance: it gets a unit of its own (kind `alliance`) in `area_id`, handling at `level`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlliance {
    pub code: String,
    pub name: String,
    pub area_id: AreaId,
    pub level: Level,
    pub lead_org_id: Option<i64>,
    pub goals: String,
    pub member_unit_ids: Vec<UnitId>,
    pub groups: Vec<AllianceGroup>,
}

/// A new entry of the activity ledger. Its suggestions are texts taken in at the activity.
#[derive(Debug, Clone)]
pub struct NewActivity {
    pub kind: ActivityKind,
    pub held_on: NaiveDate,
    pub party_org_id: i64,
    pub pairing_id: Option<i64>,
    pub target_id: Option<i64>,
    pub title: String,
    pub participants: Vec<PersonId>,
    pub people_served: i64,
    pub donation_items: String,
    pub donation_value_fen: i64,
    pub hours: f64,
    /// (area, text) of each suggestion.
    pub suggestions: Vec<(AreaId, String)>,
    pub request_ids: Vec<RequestId>,
    pub recorded_by: Option<PersonId>,
}

/// A new campaign.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub code: String,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub root_org_id: Option<i64>,
    pub require_pairing: bool,
}

/// How many rows each register holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OrgCounts {
    pub party_orgs: i64,
    pub members: i64,
    pub volunteers: i64,
    pub targets: i64,
    pub pairings: i64,
    pub alliances: i64,
    pub activities: i64,
    pub suggestions: i64,
    pub campaigns: i64,
}

#[async_trait]
pub trait OrgStore: Send + Sync {
    /// What the registers hold, keyed as import files key it.
    async fn org_lookups(&self) -> Result<Lookups>;
    /// Writes a validated plan in one transaction, with one audit record (`import`, `details`).
    async fn apply_import(&self, plan: &Plan, details: serde_json::Value, by: Change)
    -> Result<()>;

    async fn party_orgs(&self) -> Result<Vec<PartyOrg>>;
    async fn party_org(&self, id: i64) -> Result<Option<PartyOrg>>;
    /// Members ordered by person id, after `after`.
    async fn members(&self, after: Option<PersonId>, limit: i64) -> Result<Vec<Member>>;
    async fn volunteers(&self, after: Option<PersonId>, limit: i64) -> Result<Vec<Volunteer>>;
    /// Every grant of a role above resident, with its holder's name and phone, by person: the
    /// staff register.
    async fn staff(&self) -> Result<Vec<crate::plan::StaffRow>>;
    async fn targets(&self) -> Result<Vec<Target>>;
    async fn pairings(&self) -> Result<Vec<Pairing>>;
    async fn alliances(&self) -> Result<Vec<Alliance>>;
    /// Creates an alliance with its unit or, when its code exists, replaces its name, lead, goals,
    /// member units and groups (its area and level stay; a group named again without a focus or
    /// leader keeps its own). One audit-chain record.
    async fn save_alliance(&self, alliance: &NewAlliance, by: Change) -> Result<Alliance>;
    /// Ends an alliance on `on`: its unit takes no more requests. An ended one is a conflict.
    async fn end_alliance(
        &self,
        id: i64,
        on: chrono::NaiveDate,
        by: Change,
    ) -> Result<Option<Alliance>>;

    /// Records activities (one transaction, one audit record); returns their ids.
    async fn record_activities(&self, new: &[NewActivity], by: Change) -> Result<Vec<i64>>;
    /// Activities held in `[from, to]`, by date then id, after id `after`.
    async fn activities(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Activity>>;
    async fn suggestion(&self, id: i64) -> Result<Option<Suggestion>>;
    /// Suggestions taken in `[from, to]`.
    async fn suggestions(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Suggestion>>;
    /// Records that a suggestion became a request; false when it had become one already.
    async fn link_suggestion(&self, id: i64, request: RequestId, by: Change) -> Result<bool>;

    async fn create_campaign(&self, new: &NewCampaign, by: Change) -> Result<Campaign>;
    async fn campaigns(&self) -> Result<Vec<Campaign>>;
    /// Everything a campaign's statistics read for `[from, to]`, and each member's organisation.
    async fn stats_input(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(StatsInput, HashMap<PersonId, i64>)>;
    async fn org_counts(&self) -> Result<OrgCounts>;
}
