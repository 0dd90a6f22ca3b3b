//! Organisation and participation: party organisations, members, volunteers, grassroots targets,
//! pairings (结对), alliances (党建联盟), the activity ledger and campaign statistics.
//!
//! The registers are what districts keep in Excel today; the store holds them and imports them (see
//! `redgrid_app::registers`). This module has the vocabulary, the rules that need no database, and
//! the arithmetic of a campaign's statistics.

use crate::ids::{AreaId, PersonId, RequestId, UnitId};
use crate::vocab::vocabulary;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

vocabulary!(
    /// The kind of a party organisation.
    OrgKind {
        /// 党委 / 党工委 / 党组.
        Committee = "committee", "党委", "committee";
        /// 党总支.
        GeneralBranch = "general_branch", "党总支", "general branch";
        /// 党支部.
        Branch = "branch", "党支部", "branch";
        /// 临时党支部 (e.g. in a project or a deployed team).
        TemporaryBranch = "temporary_branch", "临时党支部", "temporary branch";
        /// 党小组; a red grid's party group.
        PartyGroup = "party_group", "党小组", "party group";
    }
);

impl OrgKind {
    /// Whether an organisation of this kind may sit under one of kind `parent`.
    pub fn may_sit_under(self, parent: OrgKind) -> bool {
        use OrgKind::*;
        match self {
            Committee => parent == Committee,
            GeneralBranch => parent == Committee,
            Branch | TemporaryBranch => matches!(parent, Committee | GeneralBranch),
            PartyGroup => matches!(parent, GeneralBranch | Branch | TemporaryBranch),
        }
    }

    /// The kinds a campaign counts as "branches" (each must have a pairing when it requires one).
    pub fn is_branch(self) -> bool {
        matches!(self, OrgKind::Branch | OrgKind::GeneralBranch)
    }
}

vocabulary!(
    /// How a member is registered.
    MemberKind {
        /// A member of the organisation where they work or live.
        Regular = "regular", "党员", "member";
        /// 在职党员: registered with the community where they live (双报到).
        InService = "in_service", "在职党员", "in-service member";
        /// 下沉干部: a cadre sent down to a community for a period.
        DeployedCadre = "deployed_cadre", "下沉干部", "deployed cadre";
    }
);

vocabulary!(
    /// What a pairing links to.
    TargetKind {
        Community = "community", "社区", "community";
        Village = "village", "村", "village";
        Enterprise = "enterprise", "企业", "enterprise";
        Household = "household", "住户", "household";
    }
);

vocabulary!(
    /// The kinds of pairing (结对).
    PairingKind {
        /// 千个支部联基层: an organ branch links a grassroots unit or service target.
        BranchLink = "branch_link", "支部联基层", "branch link";
        /// "1+1"好支部共建: an organ branch with a village or community.
        CoBuild = "co_build", "1+1共建", "co-build";
        /// 党员与重点户结对: a member with a household.
        Household = "household", "党员联户", "household pairing";
        /// 包联 / 包保: responsible for an area or a key matter.
        Liaison = "liaison", "包联", "liaison";
    }
);

impl PairingKind {
    /// Whether the pairing is held by a member (else by a party organisation).
    pub fn held_by_member(self) -> bool {
        self == PairingKind::Household
    }

    /// Whether a target of this kind fits the pairing.
    pub fn fits(self, target: TargetKind) -> bool {
        match self {
            PairingKind::BranchLink | PairingKind::Liaison => true,
            PairingKind::CoBuild => matches!(target, TargetKind::Community | TargetKind::Village),
            PairingKind::Household => target == TargetKind::Household,
        }
    }
}

vocabulary!(
    /// The kinds of activity in the ledger.
    ActivityKind {
        /// 走访 / 调研.
        Visit = "visit", "走访调研", "visit";
        /// 宣讲 / 政策宣传.
        Publicity = "publicity", "政策宣讲", "publicity session";
        /// 主题党日.
        ThemeDay = "theme_day", "主题党日", "theme day";
        /// 捐赠 / 献爱心.
        Donation = "donation", "捐赠", "donation";
        /// 联席会议 / 议事会.
        Meeting = "meeting", "会议", "meeting";
        /// 志愿服务.
        VolunteerService = "volunteer_service", "志愿服务", "volunteer service";
    }
);

/// A party organisation. `parent_id` builds the tree; it is attached to a unit (an organ's branch)
/// and lies in an area (a community's branch, a grid's party group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartyOrg {
    pub id: i64,
    /// The organisation's code (the natural key of the register).
    pub code: String,
    pub name: String,
    pub kind: OrgKind,
    pub parent_id: Option<i64>,
    pub unit_id: Option<UnitId>,
    pub area_id: AreaId,
    /// 书记: the secretary's name.
    pub secretary: String,
}

/// A party member (a person of the directory, keyed by phone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub person_id: PersonId,
    pub name: String,
    pub phone: String,
    pub party_org_id: i64,
    pub kind: MemberKind,
    /// For in-service members: the community they live in and registered with.
    pub home_community_id: Option<AreaId>,
    /// The red grid whose party group they serve in.
    pub grid_id: Option<AreaId>,
    pub joined_on: Option<NaiveDate>,
    /// For deployed cadres: the period they serve in the community.
    pub period_from: Option<NaiveDate>,
    pub period_to: Option<NaiveDate>,
}

/// A registered volunteer (may also be a member).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Volunteer {
    pub person_id: PersonId,
    pub name: String,
    pub phone: String,
    /// The community or grid they serve.
    pub area_id: AreaId,
    pub skills: String,
    pub registered_on: Option<NaiveDate>,
}

/// A grassroots target a pairing links to: a community, a village, an enterprise or a household.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Target {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: TargetKind,
    pub area_id: AreaId,
    /// For an enterprise: its unit in the directory, when it has one.
    pub unit_id: Option<UnitId>,
    /// Free labels such as 独居老人 (elderly living alone) or 低保户.
    pub tags: String,
}

/// A standing link between a party organisation (or, for households, a member) and a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pairing {
    pub id: i64,
    pub kind: PairingKind,
    pub party_org_id: Option<i64>,
    pub member_id: Option<PersonId>,
    pub target_id: i64,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    /// 责任人.
    pub responsible: String,
    /// 结对目标.
    pub goals: String,
}

impl Pairing {
    /// Whether the pairing is in force on some day of `[from, to]`.
    pub fn overlaps(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.starts_on <= to && self.ends_on.is_none_or(|e| e >= from)
    }
}

/// A working group of an alliance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllianceGroup {
    pub name: String,
    /// What the group works on.
    pub focus: String,
    pub leader: String,
}

/// A party-building alliance (党建联盟): several units acting together. It has a unit of its own
/// (kind `alliance`), so requests can be dispatched to it and its people claim them like any unit's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alliance {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// The alliance's own unit.
    pub unit_id: UnitId,
    pub lead_org_id: Option<i64>,
    pub goals: String,
    pub member_unit_ids: Vec<UnitId>,
    pub groups: Vec<AllianceGroup>,
    /// When it was ended (its unit takes no more requests); none while it works.
    pub ended_on: Option<NaiveDate>,
}

/// An idea from the public taken in at an activity; it may become a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suggestion {
    pub id: i64,
    pub activity_id: Option<i64>,
    pub area_id: AreaId,
    pub text: String,
    pub taken_on: NaiveDate,
    /// The request it became, if it did.
    pub request_id: Option<RequestId>,
}

/// One entry of the activity ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Activity {
    pub id: i64,
    pub kind: ActivityKind,
    pub held_on: NaiveDate,
    /// The branch that held it.
    pub party_org_id: i64,
    pub pairing_id: Option<i64>,
    pub target_id: Option<i64>,
    pub title: String,
    /// The people who took part (members, volunteers).
    pub participants: Vec<PersonId>,
    pub people_served: i64,
    /// For donations: what was given, and its value in fen.
    pub donation_items: String,
    pub donation_value_fen: i64,
    /// Volunteer hours, in total.
    pub hours: f64,
    pub suggestions: Vec<Suggestion>,
    /// Requests this activity solved (problems solved are counted from these requests' states).
    pub request_ids: Vec<RequestId>,
}

/// A campaign (e.g. 千个支部联基层 for a year): a period, the organisations it covers and whether
/// each branch must have a pairing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Campaign {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// Only organisations under this one (itself included); None: all.
    pub root_org_id: Option<i64>,
    /// Each branch under the root must hold at least one pairing in force during the campaign.
    pub require_pairing: bool,
}

/// The figures of one row of a campaign's statistics (one unit, or the total).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Figures {
    /// Branches that held an activity or a pairing in force in the period.
    pub branches: i64,
    /// Distinct members who took part in an activity.
    pub members: i64,
    /// Distinct grassroots targets paired in the period.
    pub targets_paired: i64,
    pub visits: i64,
    pub publicity_sessions: i64,
    pub theme_days: i64,
    pub meetings: i64,
    pub volunteer_services: i64,
    pub donations: i64,
    pub suggestions: i64,
    /// Suggestions that became requests.
    pub suggestions_to_requests: i64,
    /// Distinct linked requests that were resolved (resolved, verified or closed).
    pub problems_solved: i64,
    pub donated_value_fen: i64,
    pub people_served: i64,
    pub volunteer_hours: f64,
}

/// One unit's row of the statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitFigures {
    /// The unit the organisations belong to; None for organisations attached to no unit.
    pub unit_id: Option<UnitId>,
    pub unit_name: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A campaign's statistics for a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CampaignStats {
    pub campaign: Campaign,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub total: Figures,
    /// Per unit, by visits and then problems solved, most first.
    pub units: Vec<UnitFigures>,
    /// Branches covered by the campaign, and those without a pairing in force.
    pub branches_covered: i64,
    pub branches_unpaired: i64,
}

/// An activity as the statistics need it.
#[derive(Debug, Clone)]
pub struct ActivityFacts {
    pub id: i64,
    pub kind: ActivityKind,
    pub party_org_id: i64,
    pub target_id: Option<i64>,
    pub participants: Vec<PersonId>,
    pub people_served: i64,
    pub donation_value_fen: i64,
    pub hours: f64,
    pub suggestions: i64,
    pub suggestions_to_requests: i64,
    /// Linked requests that are resolved, verified or closed.
    pub solved_requests: Vec<RequestId>,
}

/// Everything the statistics read, for one period.
#[derive(Debug, Clone, Default)]
pub struct StatsInput {
    pub orgs: Vec<PartyOrg>,
    /// Pairings in force at some time in the period.
    pub pairings: Vec<Pairing>,
    /// Activities held in the period.
    pub activities: Vec<ActivityFacts>,
    /// Members (by person) — to count participants who are members.
    pub member_ids: HashSet<PersonId>,
    pub unit_names: HashMap<UnitId, String>,
}

/// The organisations of a campaign: the root and everything under it (all when there is no root).
pub fn campaign_orgs(orgs: &[PartyOrg], root: Option<i64>) -> HashSet<i64> {
    let Some(root) = root else {
        return orgs.iter().map(|o| o.id).collect();
    };
    let parent: HashMap<i64, Option<i64>> = orgs.iter().map(|o| (o.id, o.parent_id)).collect();
    orgs.iter()
        .filter(|o| {
            let mut cur = Some(o.id);
            for _ in 0..32 {
                match cur {
                    Some(c) if c == root => return true,
                    Some(c) => cur = parent.get(&c).copied().flatten(),
                    None => return false,
                }
            }
            false
        })
        .map(|o| o.id)
        .collect()
}

/// The branches of a campaign that hold no pairing in force during `[from, to]`, by code.
pub fn unpaired_branches<'a>(
    campaign: &Campaign,
    orgs: &'a [PartyOrg],
    pairings: &[Pairing],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<&'a PartyOrg> {
    let covered = campaign_orgs(orgs, campaign.root_org_id);
    let paired: HashSet<i64> = pairings
        .iter()
        .filter(|p| p.overlaps(from, to))
        .filter_map(|p| p.party_org_id)
        .collect();
    let mut out: Vec<&PartyOrg> = orgs
        .iter()
        .filter(|o| o.kind.is_branch() && covered.contains(&o.id) && !paired.contains(&o.id))
        .collect();
    out.sort_by(|a, b| a.code.cmp(&b.code));
    out
}

/// The unit an organisation counts for: its own, or the nearest ancestor's.
fn unit_of(org: i64, by_id: &HashMap<i64, &PartyOrg>) -> Option<UnitId> {
    let mut cur = by_id.get(&org);
    for _ in 0..32 {
        let o = cur?;
        if let Some(u) = o.unit_id {
            return Some(u);
        }
        cur = o.parent_id.and_then(|p| by_id.get(&p));
    }
    None
}

#[derive(Default)]
struct Tally {
    branches: HashSet<i64>,
    members: HashSet<PersonId>,
    targets: HashSet<i64>,
    solved: HashSet<RequestId>,
    f: Figures,
}

impl Tally {
    fn add_activity(&mut self, a: &ActivityFacts, members: &HashSet<PersonId>) {
        self.branches.insert(a.party_org_id);
        self.members
            .extend(a.participants.iter().filter(|p| members.contains(p)));
        if let Some(t) = a.target_id {
            self.targets.insert(t);
        }
        self.solved.extend(a.solved_requests.iter().copied());
        let f = &mut self.f;
        match a.kind {
            ActivityKind::Visit => f.visits += 1,
            ActivityKind::Publicity => f.publicity_sessions += 1,
            ActivityKind::ThemeDay => f.theme_days += 1,
            ActivityKind::Donation => f.donations += 1,
            ActivityKind::Meeting => f.meetings += 1,
            ActivityKind::VolunteerService => f.volunteer_services += 1,
        }
        f.suggestions += a.suggestions;
        f.suggestions_to_requests += a.suggestions_to_requests;
        f.donated_value_fen += a.donation_value_fen;
        f.people_served += a.people_served;
        f.volunteer_hours += a.hours;
    }

    fn add_pairing(&mut self, p: &Pairing, org: i64) {
        self.branches.insert(org);
        self.targets.insert(p.target_id);
    }

    fn finish(mut self) -> Figures {
        self.f.branches = self.branches.len() as i64;
        self.f.members = self.members.len() as i64;
        self.f.targets_paired = self.targets.len() as i64;
        self.f.problems_solved = self.solved.len() as i64;
        self.f.volunteer_hours = (self.f.volunteer_hours * 10.0).round() / 10.0;
        self.f
    }
}

/// Computes a campaign's statistics for `[from, to]` from what was held and paired in it.
/// Pairings held by a member count for the member's organisation (`member_orgs`).
pub fn campaign_stats(
    campaign: &Campaign,
    input: &StatsInput,
    member_orgs: &HashMap<PersonId, i64>,
    from: NaiveDate,
    to: NaiveDate,
) -> CampaignStats {
    let covered = campaign_orgs(&input.orgs, campaign.root_org_id);
    let by_id: HashMap<i64, &PartyOrg> = input.orgs.iter().map(|o| (o.id, o)).collect();
    let mut total = Tally::default();
    let mut per_unit: BTreeMap<Option<UnitId>, Tally> = BTreeMap::new();
    for a in input
        .activities
        .iter()
        .filter(|a| covered.contains(&a.party_org_id))
    {
        total.add_activity(a, &input.member_ids);
        per_unit
            .entry(unit_of(a.party_org_id, &by_id))
            .or_default()
            .add_activity(a, &input.member_ids);
    }
    for p in input.pairings.iter().filter(|p| p.overlaps(from, to)) {
        let org = p
            .party_org_id
            .or_else(|| p.member_id.and_then(|m| member_orgs.get(&m).copied()));
        let Some(org) = org.filter(|o| covered.contains(o)) else {
            continue;
        };
        total.add_pairing(p, org);
        per_unit
            .entry(unit_of(org, &by_id))
            .or_default()
            .add_pairing(p, org);
    }
    let mut units: Vec<UnitFigures> = per_unit
        .into_iter()
        .map(|(unit_id, t)| UnitFigures {
            unit_id,
            unit_name: unit_id
                .and_then(|u| input.unit_names.get(&u).cloned())
                .unwrap_or_default(),
            figures: t.finish(),
        })
        .collect();
    units.sort_by(|a, b| {
        (b.figures.visits, b.figures.problems_solved, a.unit_id).cmp(&(
            a.figures.visits,
            a.figures.problems_solved,
            b.unit_id,
        ))
    });
    let branches_covered = input
        .orgs
        .iter()
        .filter(|o| o.kind.is_branch() && covered.contains(&o.id))
        .count() as i64;
    let branches_unpaired =
        unpaired_branches(campaign, &input.orgs, &input.pairings, from, to).len() as i64;
    CampaignStats {
        campaign: campaign.clone(),
        from,
        to,
        total: total.finish(),
        units,
        branches_covered,
        branches_unpaired,
    }
}

/// Reads a date the way people type it in Excel: 2026-03-05, 2026/3/5, 2026.3.5, 2026年3月5日 or
/// 20260305.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(s, "%Y%m%d").ok();
    }
    let cleaned: String = s
        .chars()
        .map(|c| match c {
            '/' | '.' | '年' | '月' => '-',
            '日' => ' ',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim();
    // A date cell written by Excel may carry a midnight time.
    let cleaned = cleaned.split([' ', 'T']).next().unwrap_or("");
    NaiveDate::parse_from_str(cleaned, "%Y-%m-%d").ok()
}

/// Whether a mainland mobile number looks right: 11 digits starting with 1.
pub fn valid_mobile(s: &str) -> bool {
    s.len() == 11 && s.starts_with('1') && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn dates_are_read_in_the_ways_people_type_them() {
        for s in [
            "2026-03-05",
            "2026/3/5",
            "2026.3.5",
            "2026年3月5日",
            "20260305",
            "2026-03-05 00:00:00",
        ] {
            assert_eq!(parse_date(s), NaiveDate::from_ymd_opt(2026, 3, 5), "{s}");
        }
        for s in ["", "2026-13-01", "2026-02-30", "next week", "3/5/2026"] {
            assert_eq!(parse_date(s), None, "{s}");
        }
    }

    #[test]
    fn words_are_read_from_chinese_english_or_identifiers() {
        assert_eq!(OrgKind::from_cell("党支部"), Some(OrgKind::Branch));
        assert_eq!(
            OrgKind::from_cell("general branch"),
            Some(OrgKind::GeneralBranch)
        );
        assert_eq!(OrgKind::from_cell("party_group"), Some(OrgKind::PartyGroup));
        assert_eq!(OrgKind::from_cell("支部"), None);
        assert_eq!(
            MemberKind::from_cell(" 下沉干部 "),
            Some(MemberKind::DeployedCadre)
        );
        assert_eq!(
            PairingKind::from_cell("1+1共建"),
            Some(PairingKind::CoBuild)
        );
        for k in ActivityKind::ALL {
            assert_eq!(ActivityKind::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn the_tree_has_rules() {
        use OrgKind::*;
        assert!(Branch.may_sit_under(Committee));
        assert!(Branch.may_sit_under(GeneralBranch));
        assert!(!Branch.may_sit_under(Branch));
        assert!(PartyGroup.may_sit_under(Branch));
        assert!(!PartyGroup.may_sit_under(Committee));
        assert!(!Committee.may_sit_under(Branch));
        assert!(PairingKind::CoBuild.fits(TargetKind::Village));
        assert!(!PairingKind::CoBuild.fits(TargetKind::Enterprise));
        assert!(PairingKind::Household.fits(TargetKind::Household));
        assert!(!PairingKind::Household.fits(TargetKind::Community));
        assert!(valid_mobile("13800001111"));
        assert!(!valid_mobile("2380000111"));
    }

    fn org(id: i64, kind: OrgKind, parent: Option<i64>, unit: Option<i64>) -> PartyOrg {
        PartyOrg {
            id,
            code: format!("O{id:03}"),
            name: format!("org {id}"),
            kind,
            parent_id: parent,
            unit_id: unit.map(UnitId),
            area_id: AreaId(1),
            secretary: String::new(),
        }
    }

    fn pairing(
        id: i64,
        org: Option<i64>,
        member: Option<i64>,
        target: i64,
        from: &str,
        to: Option<&str>,
    ) -> Pairing {
        Pairing {
            id,
            kind: if member.is_some() {
                PairingKind::Household
            } else {
                PairingKind::BranchLink
            },
            party_org_id: org,
            member_id: member.map(PersonId),
            target_id: target,
            starts_on: d(from),
            ends_on: to.map(d),
            responsible: String::new(),
            goals: String::new(),
        }
    }

    #[test]
    fn statistics_count_distinct_branches_members_targets_and_solved_problems() {
        use OrgKind::*;
        let orgs = vec![
            org(1, Committee, None, Some(10)),
            org(2, Branch, Some(1), None), // counts for unit 10 through its parent
            org(3, Branch, Some(1), Some(11)),
            org(4, Branch, Some(1), Some(11)), // never active, never paired
            org(5, Committee, None, Some(12)), // outside the campaign's root
            org(6, Branch, Some(5), Some(12)),
        ];
        let campaign = Campaign {
            id: 1,
            code: "C".into(),
            name: "c".into(),
            starts_on: d("2026-01-01"),
            ends_on: d("2026-12-31"),
            root_org_id: Some(1),
            require_pairing: true,
        };
        let act = |id, kind, org, people: &[i64], solved: &[i64], sugg| ActivityFacts {
            id,
            kind,
            party_org_id: org,
            target_id: Some(100 + id),
            participants: people.iter().map(|p| PersonId(*p)).collect(),
            people_served: 10,
            donation_value_fen: if kind == ActivityKind::Donation {
                50_000
            } else {
                0
            },
            hours: 1.5,
            suggestions: sugg,
            suggestions_to_requests: sugg / 2,
            solved_requests: solved.iter().map(|r| RequestId(*r)).collect(),
        };
        let input = StatsInput {
            orgs: orgs.clone(),
            pairings: vec![
                pairing(1, Some(2), None, 500, "2025-06-01", None),
                pairing(2, Some(3), None, 500, "2026-02-01", Some("2026-03-01")),
                pairing(3, None, Some(77), 501, "2026-05-01", None), // member of org 3
                pairing(4, Some(4), None, 502, "2024-01-01", Some("2025-12-31")), // ended before
                pairing(5, Some(6), None, 503, "2026-01-01", None),  // outside the root
            ],
            activities: vec![
                act(1, ActivityKind::Visit, 2, &[77, 78, 999], &[1, 2], 4),
                act(2, ActivityKind::Visit, 3, &[77], &[2], 0),
                act(3, ActivityKind::Publicity, 3, &[79], &[], 2),
                act(4, ActivityKind::Donation, 2, &[78], &[3], 0),
                act(5, ActivityKind::Visit, 6, &[80], &[9], 9),
            ],
            member_ids: [77, 78, 79, 80].into_iter().map(PersonId).collect(),
            unit_names: [
                (UnitId(10), "委办".to_string()),
                (UnitId(11), "局".to_string()),
            ]
            .into_iter()
            .collect(),
        };
        let member_orgs = [(PersonId(77), 3)].into_iter().collect();
        let s = campaign_stats(
            &campaign,
            &input,
            &member_orgs,
            d("2026-01-01"),
            d("2026-12-31"),
        );
        assert_eq!(
            s.total.branches, 2,
            "org 2 and 3 took part; 4 did not, 6 is outside"
        );
        assert_eq!(
            s.total.members, 3,
            "77, 78, 79; 999 is no member; 80 is outside"
        );
        assert_eq!(s.total.visits, 2);
        assert_eq!(s.total.publicity_sessions, 1);
        assert_eq!(s.total.donations, 1);
        assert_eq!(s.total.donated_value_fen, 50_000);
        assert_eq!(s.total.suggestions, 6);
        assert_eq!(s.total.suggestions_to_requests, 3);
        assert_eq!(
            s.total.problems_solved, 3,
            "requests 1, 2, 3 (2 counted once)"
        );
        assert_eq!(s.total.people_served, 40);
        // targets: activities 101, 102, 103, 104 and pairings 500, 501
        assert_eq!(s.total.targets_paired, 6);
        assert_eq!(s.branches_covered, 3);
        assert_eq!(
            s.branches_unpaired, 1,
            "org 4's pairing ended before the period"
        );
        assert_eq!(s.units.len(), 2);
        let u10 = s
            .units
            .iter()
            .find(|u| u.unit_id == Some(UnitId(10)))
            .unwrap();
        assert_eq!(u10.unit_name, "委办");
        assert_eq!(u10.figures.visits, 1);
        assert_eq!(u10.figures.problems_solved, 3);
        let u11 = s
            .units
            .iter()
            .find(|u| u.unit_id == Some(UnitId(11)))
            .unwrap();
        assert_eq!(u11.figures.visits, 1);
        assert_eq!(u11.figures.branches, 1);
        let unpaired = unpaired_branches(
            &campaign,
            &orgs,
            &input.pairings,
            d("2026-01-01"),
            d("2026-12-31"),
        );
        assert_eq!(unpaired.iter().map(|o| o.id).collect::<Vec<_>>(), vec![4]);
        // In a period before org 3's pairing began, org 3 is unpaired too.
        let early = unpaired_branches(
            &campaign,
            &orgs,
            &input.pairings,
            d("2026-01-01"),
            d("2026-01-31"),
        );
        assert_eq!(early.iter().map(|o| o.id).collect::<Vec<_>>(), vec![3, 4]);
    }
}
