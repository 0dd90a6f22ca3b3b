//! The write model of a register import: what the database already holds ([`Lookups`]) and the
//! rows an import has validated and resolved ([`Plan`]), ready for [`crate::org::OrgStore`] to write
//! in one transaction. The validation that makes a plan lives in the application crate.

use chrono::NaiveDate;
use redgrid_core::area::Level;
use redgrid_core::ids::{AreaId, PersonId, UnitId};
use redgrid_core::org::{MemberKind, OrgKind, PairingKind, TargetKind};
use redgrid_core::person::{Role, Scope};
use redgrid_core::unit::UnitKind;
use std::collections::{HashMap, HashSet};

/// What the database holds already, keyed as the files key it.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    /// Area code → (id, kind).
    pub areas: HashMap<String, (AreaId, Level)>,
    /// Unit code → (id, area).
    pub units: HashMap<String, (UnitId, AreaId)>,
    /// (area, unit name) → (id, code): names are unique in an area.
    pub unit_names: HashMap<(AreaId, String), (UnitId, Option<String>)>,
    /// Party organisation code → (id, kind, parent id).
    pub orgs: HashMap<String, (i64, OrgKind, Option<i64>)>,
    /// Target code → (id, kind).
    pub targets: HashMap<String, (i64, TargetKind)>,
    /// Member phone → person.
    pub members: HashMap<String, PersonId>,
    /// Volunteer phone → person.
    pub volunteers: HashMap<String, PersonId>,
    /// Pairing natural keys.
    pub pairings: HashSet<String>,
    /// The grants held, as [`grant_key`]s.
    pub grants: HashSet<String>,
    /// Alliance code → (id, ended).
    pub alliances: HashMap<String, (i64, bool)>,
    /// The district code the configuration gives the database, if any: a district row must have it.
    pub district_code: Option<String>,
}

/// A reference to a record that exists already or is created earlier in the same import.
#[derive(Debug, Clone, PartialEq)]
pub enum Ref<T> {
    Id(T),
    Code(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AreaRow {
    pub code: String,
    pub name: String,
    pub kind: Level,
    pub parent: Option<Ref<AreaId>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnitRow {
    pub code: String,
    pub name: String,
    pub kind: UnitKind,
    pub area_id: AreaId,
    pub level: Level,
    pub parent: Option<Ref<UnitId>>,
    /// An existing unit without a code, found by its area and name: it takes this code.
    pub adopt: Option<UnitId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrgRow {
    pub code: String,
    pub name: String,
    pub kind: OrgKind,
    pub parent: Option<Ref<i64>>,
    pub unit_id: Option<UnitId>,
    pub area_id: AreaId,
    pub secretary: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub name: String,
    pub phone: String,
    pub party_org_id: i64,
    pub kind: MemberKind,
    pub home_community_id: Option<AreaId>,
    pub grid_id: Option<AreaId>,
    pub joined_on: Option<NaiveDate>,
    pub period_from: Option<NaiveDate>,
    pub period_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VolunteerRow {
    pub name: String,
    pub phone: String,
    pub area_id: AreaId,
    pub skills: String,
    pub registered_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    pub code: String,
    pub name: String,
    pub kind: TargetKind,
    pub area_id: AreaId,
    pub unit_id: Option<UnitId>,
    pub tags: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PairingRow {
    pub natural_key: String,
    pub kind: PairingKind,
    pub party_org_id: Option<i64>,
    pub member_id: Option<PersonId>,
    pub target_id: i64,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub responsible: String,
    pub goals: String,
}

/// A role held by someone of the staff register (a person keyed by phone), in an area or a unit.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffRow {
    pub name: String,
    pub phone: String,
    pub role: Role,
    pub scope: Scope,
}

/// The natural key of a grant in the staff register: phone, role and where it is held.
pub fn grant_key(phone: &str, role: Role, scope: Scope) -> String {
    match scope {
        Scope::Area(a) => format!("{phone}|{}|area:{}", role.as_str(), a.0),
        Scope::Unit(u) => format!("{phone}|{}|unit:{}", role.as_str(), u.0),
    }
}

/// Rows ready to write, parents before children.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Areas(Vec<AreaRow>),
    Units(Vec<UnitRow>),
    PartyOrgs(Vec<OrgRow>),
    Members(Vec<MemberRow>),
    Volunteers(Vec<VolunteerRow>),
    Targets(Vec<TargetRow>),
    Pairings(Vec<PairingRow>),
    Staff(Vec<StaffRow>),
    /// Created when the code is new, else edited (the area and level then stay).
    Alliances(Vec<crate::org::NewAlliance>),
}

impl Plan {
    pub fn len(&self) -> usize {
        match self {
            Plan::Areas(v) => v.len(),
            Plan::Units(v) => v.len(),
            Plan::PartyOrgs(v) => v.len(),
            Plan::Members(v) => v.len(),
            Plan::Volunteers(v) => v.len(),
            Plan::Targets(v) => v.len(),
            Plan::Pairings(v) => v.len(),
            Plan::Staff(v) => v.len(),
            Plan::Alliances(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The natural key of a pairing: its kind, who holds it and its target.
pub fn pairing_key(
    kind: PairingKind,
    org: Option<i64>,
    member: Option<PersonId>,
    target: i64,
) -> String {
    format!(
        "{}|{}|{}|{}",
        kind.as_str(),
        org.unwrap_or(0),
        member.map(|m| m.0).unwrap_or(0),
        target
    )
}
