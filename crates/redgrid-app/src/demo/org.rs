//! The demo district's organisation: party organisations, members, volunteers, targets, pairings,
//! an alliance, two campaigns and a year of activities. The registers go in through the same
//! spreadsheet import a district uses (so the demo exercises it), the activities through the store.

use crate::Service;
use crate::demo::{District, Rng};
use crate::registers::Register;
use chrono::{Datelike, Duration, NaiveDate};
use redgrid_core::Lang;
use redgrid_core::area::Level;
use redgrid_core::ids::*;
use redgrid_core::org::{ActivityKind, AllianceGroup};
use redgrid_core::person::Actor;
use redgrid_core::request::Status;
use redgrid_store::org::{NewActivity, NewAlliance, NewCampaign};
use redgrid_store::{ListFilter, Result, StoreError};
use std::collections::HashMap;

const ENTERPRISES: &[&str] = &[
    "港城物流有限公司",
    "滨海精密机械厂",
    "新区港务集团",
    "海晟化工有限公司",
    "蓝湾食品有限公司",
    "远航船舶修造厂",
    "恒信建材有限公司",
    "津港国际货运代理公司",
    "瑞丰电子科技公司",
    "新海纺织有限公司",
    "盛达汽车零部件公司",
    "滨城供热有限公司",
];

const HOUSEHOLD_TAGS: &[&str] = &[
    "独居老人",
    "空巢老人",
    "低保户",
    "残疾人家庭",
    "困难党员",
    "退役军人家庭",
];

const SUGGESTIONS: &[&str] = &[
    "小区门口增设非机动车停放点",
    "希望社区开办老年食堂",
    "楼道照明经常损坏，建议更换声控灯",
    "建议在公园增加健身器材",
    "路口早高峰拥堵，建议增派交通协管员",
    "希望开设周末青少年托管班",
    "菜市场周边占道经营需要整治",
    "建议加装电梯的政策再宣讲一次",
    "企业招工信息希望在社区公示栏发布",
    "雨季前疏通小区排水管道",
    "希望增加社区医生上门服务次数",
    "垃圾分类投放点离楼栋太远",
];

const VISIT_TITLES: &[&str] = &[
    "入户走访",
    "走访服务企业",
    "走访困难群众",
    "调研社区治理难题",
    "走访结对社区",
];
const PUBLICITY_TITLES: &[&str] = &[
    "党的二十大精神宣讲",
    "惠企政策宣讲",
    "垃圾分类政策宣传",
    "反诈宣传进社区",
    "老旧小区改造政策宣讲",
];
const THEME_TITLES: &[&str] = &[
    "主题党日：重温入党誓词",
    "主题党日：社区环境清洁",
    "主题党日：学习先进典型",
];
const DONATION_ITEMS: &[(&str, i64)] = &[
    ("米面油 20 份", 300_000),
    ("冬衣 50 件", 500_000),
    ("学习用品 30 套", 150_000),
    ("防暑降温物资", 200_000),
];
const MEETING_TITLES: &[&str] = &[
    "联席会议：协调解决停车难",
    "议事会：加装电梯意见征集",
    "结对共建推进会",
];
const SERVICE_TITLES: &[&str] = &[
    "志愿服务：义务理发",
    "志愿服务：家电维修",
    "志愿服务：法律咨询",
    "志愿服务：陪伴老人",
];

/// A register's header line, as its declaration names the columns in Chinese.
fn header(r: Register) -> String {
    let names: Vec<&str> = r.columns().iter().map(|c| c.header(Lang::Zh)).collect();
    csv_line(&names)
}

fn csv_line(cells: &[&str]) -> String {
    let mut out = cells.join(",");
    out.push('\n');
    out
}

async fn import(service: &Service, r: Register, text: String) -> Result<()> {
    let report = service
        .import_register(&Actor::System, r, text.as_bytes(), false, Lang::Zh)
        .await?;
    if !report.imported {
        return Err(StoreError::Corrupt(format!(
            "the demo's {} register did not import: {:?}",
            r.as_str(),
            report.issues.first()
        )));
    }
    Ok(())
}

/// What the demo's organisation holds, for the summary line.
pub struct OrgSummary {
    pub party_orgs: i64,
    pub members: i64,
    pub pairings: i64,
    pub activities: i64,
}

/// Builds the organisation of a freshly built demo district, with activities over the year before
/// `today`.
pub async fn build(
    service: &Service,
    d: &District,
    seed: u64,
    today: NaiveDate,
) -> Result<OrgSummary> {
    let dir = service.directory();
    let district = dir
        .district()
        .cloned()
        .ok_or_else(|| StoreError::Corrupt("no district".into()))?;
    let mut b = Builder {
        service,
        d,
        dir,
        district,
        rng: Rng::new(seed.wrapping_add(77)),
        names: crate::demo::Names::new(seed.wrapping_add(78)),
        today,
        year_start: today - Duration::days(365),
        organ_branches: Vec::new(),
        households: Vec::new(),
        branch_members: HashMap::new(),
    };
    // In this order: the random draws of each step follow the previous step's.
    b.units().await?;
    b.party_orgs().await?;
    b.targets().await?;
    b.members().await?;
    b.volunteers().await?;
    b.pairings().await?;
    b.alliance_and_campaigns().await?;
    b.activities().await?;
    b.suggestions().await?;
    let counts = service.store().org_counts().await?;
    Ok(OrgSummary {
        party_orgs: counts.party_orgs,
        members: counts.members,
        pairings: counts.pairings,
        activities: counts.activities,
    })
}

/// What the steps of [`build`] share.
struct Builder<'a> {
    service: &'a Service,
    d: &'a District,
    dir: std::sync::Arc<redgrid_core::directory::Directory>,
    district: redgrid_core::area::Area,
    rng: Rng,
    names: crate::demo::Names,
    today: NaiveDate,
    year_start: NaiveDate,
    /// Each organ branch: its code, its department's index and the department's staff.
    organ_branches: Vec<(String, usize, Vec<redgrid_core::person::Person>)>,
    /// Each household target: its code and its grid's index.
    households: Vec<(String, usize)>,
    /// Each branch's members, for the activities.
    branch_members: HashMap<String, Vec<PersonId>>,
}

/// A unit's code in the demo's registers.
fn unit_code(id: UnitId) -> String {
    format!("U{:05}", id.0)
}

/// A random date of joining the party.
fn joined(rng: &mut Rng) -> String {
    format!("{}-{:02}-01", 1985 + rng.below(38), 1 + rng.below(12))
}

impl Builder<'_> {
    /// A street's area code, by its index.
    fn street_code(&self, i: usize) -> String {
        format!("{}{:03}", self.district.code, i + 1)
    }

    /// Gives every unit a code (the import adopts each existing unit by its area and name).
    async fn units(&mut self) -> Result<()> {
        // Units get codes (the import adopts each existing unit by its area and name).
        let mut units = header(Register::Units);
        let mut all_units: Vec<_> = self.dir.units().filter(|u| u.parent_id.is_none()).collect();
        all_units.sort_by_key(|u| u.id);
        for u in &all_units {
            let area = self
                .dir
                .area(u.area_id)
                .map(|a| a.code.clone())
                .unwrap_or_default();
            units.push_str(&csv_line(&[
                &unit_code(u.id),
                &u.name,
                u.kind.as_str(),
                &area,
                u.level.as_str(),
                "",
            ]));
        }
        import(self.service, Register::Units, units).await?;
        Ok(())
    }

    /// The party organisations.
    async fn party_orgs(&mut self) -> Result<()> {
        // Party organisations: the district committee; the organs' working committee with two branches
        // per department; a working committee per street; a committee and two branches per community;
        // a party group per grid.
        let mut orgs = header(Register::PartyOrgs);
        orgs.push_str(&csv_line(&[
            "D",
            &format!("中共{}委员会", self.district.name),
            "党委",
            "",
            &unit_code(self.d.district_office.0.id),
            &self.district.code,
            &self.names.name(),
        ]));
        orgs.push_str(&csv_line(&[
            "JG",
            "区直机关工作委员会",
            "党委",
            "D",
            "",
            &self.district.code,
            &self.names.name(),
        ]));
        for (i, (dept, staff)) in self.d.departments.iter().enumerate() {
            for (k, label) in ["机关第一党支部", "机关第二党支部"].iter().enumerate()
            {
                let code = format!("JG{:02}-{}", i + 1, k + 1);
                orgs.push_str(&csv_line(&[
                    &code,
                    &format!("{}{label}", dept.name),
                    "党支部",
                    "JG",
                    &unit_code(dept.id),
                    "",
                    &self.names.name(),
                ]));
                self.organ_branches.push((code, i, staff.clone()));
            }
        }
        for (si, s) in self.d.streets.iter().enumerate() {
            let code = format!("S{:02}", si + 1);
            orgs.push_str(&csv_line(&[
                &code,
                &format!("{}党工委", s.office.name.trim_end_matches("办事处")),
                "党委",
                "D",
                &unit_code(s.office.id),
                "",
                &self.names.name(),
            ]));
        }
        for (ci, c) in self.d.communities.iter().enumerate() {
            let code = format!("C{:03}", ci + 1);
            orgs.push_str(&csv_line(&[
                &code,
                &format!("{}党委", c.area.name),
                "党委",
                &format!("S{:02}", c.street + 1),
                &unit_code(c.office.id),
                &c.area.code,
                &self.names.name(),
            ]));
            for k in 1..=2 {
                orgs.push_str(&csv_line(&[
                    &format!("{code}-{k}"),
                    &format!(
                        "{}第{}党支部",
                        c.area.name,
                        if k == 1 { "一" } else { "二" }
                    ),
                    "党支部",
                    &code,
                    "",
                    &c.area.code,
                    &self.names.name(),
                ]));
            }
            for (n, gi) in c.grids.iter().enumerate() {
                let g = &self.d.grids[*gi];
                orgs.push_str(&csv_line(&[
                    &format!("{code}-G{}", n + 1),
                    &format!("{}党小组", g.area.name),
                    "党小组",
                    &format!("{code}-1"),
                    &unit_code(g.team.id),
                    &g.area.code,
                    "",
                ]));
            }
        }
        import(self.service, Register::PartyOrgs, orgs).await?;
        Ok(())
    }

    /// The targets of pairings.
    async fn targets(&mut self) -> Result<()> {
        // Targets: each community, the enterprises of each street, and self.households in each grid.
        let mut targets = header(Register::Targets);
        for c in &self.d.communities {
            targets.push_str(&csv_line(&[
                &format!("T{}", c.area.code),
                &c.area.name,
                "社区",
                &c.area.code,
                "",
                "",
            ]));
        }
        for (i, e) in ENTERPRISES.iter().enumerate() {
            targets.push_str(&csv_line(&[
                &format!("E{:03}", i + 1),
                e,
                "企业",
                &self.street_code(i % self.d.streets.len()),
                "",
                "重点企业",
            ]));
        }
        for (gi, g) in self.d.grids.iter().enumerate() {
            for h in 0..3 {
                let code = format!("H{}{h}", g.area.code);
                let tag = *self.rng.pick(HOUSEHOLD_TAGS);
                targets.push_str(&csv_line(&[
                    &code,
                    &format!("{}户", self.names.name()),
                    "住户",
                    &g.area.code,
                    "",
                    tag,
                ]));
                self.households.push((code, gi));
            }
        }
        import(self.service, Register::Targets, targets).await?;
        Ok(())
    }

    /// The party members.
    async fn members(&mut self) -> Result<()> {
        // Members: the communities' members in their first branch, serving in a grid; the departments'
        // staff in their organ branch, registered in a home community (双报到); some deployed as cadres.
        let mut members = header(Register::Members);
        for (ci, c) in self.d.communities.iter().enumerate() {
            let branch = format!("C{:03}-1", ci + 1);
            for (k, m) in c.members.iter().enumerate() {
                let grid = c
                    .grids
                    .get(k % c.grids.len().max(1))
                    .map(|g| self.d.grids[*g].area.code.clone())
                    .unwrap_or_default();
                let j = joined(&mut self.rng);
                members.push_str(&csv_line(&[
                    &m.name,
                    m.phone.as_deref().unwrap_or(""),
                    &branch,
                    "党员",
                    "",
                    &grid,
                    &j,
                    "",
                    "",
                ]));
                self.branch_members
                    .entry(branch.clone())
                    .or_default()
                    .push(m.id);
            }
        }
        for (code, i, staff) in &self.organ_branches {
            for (k, p) in staff
                .iter()
                .enumerate()
                .filter(|(k, _)| k % 2 == usize::from(code.ends_with('2')))
            {
                let home = &self.d.communities[(i * 3 + k) % self.d.communities.len()]
                    .area
                    .code;
                let j = joined(&mut self.rng);
                let (kind, from, to) = if k == 0 {
                    (
                        "下沉干部",
                        self.year_start.to_string(),
                        (self.today + Duration::days(90)).to_string(),
                    )
                } else {
                    ("在职党员", String::new(), String::new())
                };
                let home = if kind == "在职党员" {
                    home.as_str()
                } else {
                    ""
                };
                members.push_str(&csv_line(&[
                    &p.name,
                    p.phone.as_deref().unwrap_or(""),
                    code,
                    kind,
                    home,
                    "",
                    &j,
                    &from,
                    &to,
                ]));
                self.branch_members
                    .entry(code.clone())
                    .or_default()
                    .push(p.id);
            }
        }
        import(self.service, Register::Members, members).await?;
        Ok(())
    }

    /// The volunteers: the grids' helpers.
    async fn volunteers(&mut self) -> Result<()> {
        let mut volunteers = header(Register::Volunteers);
        for g in &self.d.grids {
            for h in &g.helpers {
                let skill = *self.rng.pick(&[
                    "维修",
                    "理发",
                    "法律咨询",
                    "心理疏导",
                    "助老陪伴",
                    "垃圾分类督导",
                ]);
                volunteers.push_str(&csv_line(&[
                    &h.name,
                    h.phone.as_deref().unwrap_or(""),
                    &g.area.code,
                    skill,
                    &self.year_start.to_string(),
                ]));
            }
        }
        import(self.service, Register::Volunteers, volunteers).await?;
        Ok(())
    }

    /// The pairings.
    async fn pairings(&mut self) -> Result<()> {
        // Pairings: every organ branch but two links a community or enterprise (千个支部联基层), the first
        // branch of each department co-builds with a community ("1+1"), members pair with self.households,
        // and each street committee takes a liaison for one community.
        let mut pairings = header(Register::Pairings);
        let start = self.year_start.to_string();
        let unpaired = self.organ_branches.len().saturating_sub(2);
        for (n, (code, i, staff)) in self.organ_branches.iter().enumerate().take(unpaired) {
            let responsible = staff.first().map(|p| p.name.as_str()).unwrap_or("");
            let enterprise = format!("E{:03}", (n % ENTERPRISES.len()) + 1);
            pairings.push_str(&csv_line(&[
                "支部联基层",
                code,
                "",
                &enterprise,
                &start,
                "",
                responsible,
                "帮助企业解决用工、融资和政策落地难题",
            ]));
            if code.ends_with("-1") {
                let c = &self.d.communities[(i * 2) % self.d.communities.len()];
                pairings.push_str(&csv_line(&[
                    "1+1共建",
                    code,
                    "",
                    &format!("T{}", c.area.code),
                    &start,
                    "",
                    responsible,
                    "共建文明社区，每月开展一次联合主题党日",
                ]));
            }
        }
        for (k, (code, gi)) in self.households.iter().enumerate() {
            let c = &self.d.communities[self.d.grids[*gi].community];
            if let Some(m) = c.members.get(k % c.members.len().max(1)) {
                pairings.push_str(&csv_line(&[
                    "党员联户",
                    "",
                    m.phone.as_deref().unwrap_or(""),
                    code,
                    &start,
                    "",
                    &m.name,
                    "每周探望一次，帮办急难愁盼",
                ]));
            }
        }
        for si in 0..self.d.streets.len() {
            if let Some(c) = self.d.communities.iter().find(|c| c.street == si) {
                pairings.push_str(&csv_line(&[
                    "包联",
                    &format!("S{:02}", si + 1),
                    "",
                    &format!("T{}", c.area.code),
                    &start,
                    "",
                    "",
                    "包联老旧小区改造和物业管理",
                ]));
            }
        }
        import(self.service, Register::Pairings, pairings).await?;
        Ok(())
    }

    /// An alliance and two campaigns.
    async fn alliance_and_campaigns(&mut self) -> Result<()> {
        // An alliance of the port's departments and the first street, with working groups.
        let lead = self
            .service
            .store()
            .party_orgs()
            .await?
            .into_iter()
            .find(|o| o.code == "JG")
            .map(|o| o.id);
        let member_units: Vec<UnitId> = self
            .d
            .departments
            .iter()
            .take(4)
            .map(|(u, _)| u.id)
            .chain(self.d.streets.first().map(|s| s.office.id))
            .collect();
        let alliance = self
            .service
            .create_alliance(
                &Actor::System,
                NewAlliance {
                    code: "GANGCHENG".into(),
                    name: "港城党建联盟".into(),
                    area_id: self
                        .dir
                        .area(self.d.communities[0].area.id)
                        .and_then(|c| c.parent_id)
                        .unwrap_or(self.district.id),
                    level: Level::Street,
                    lead_org_id: lead,
                    goals: "服务港区企业，共解用工、交通和环境难题".into(),
                    member_unit_ids: member_units,
                    groups: vec![
                        AllianceGroup {
                            name: "惠企服务组".into(),
                            focus: "政策落地、用工招聘".into(),
                            leader: self.names.name(),
                        },
                        AllianceGroup {
                            name: "交通协调组".into(),
                            focus: "货车通行、停车".into(),
                            leader: self.names.name(),
                        },
                    ],
                },
            )
            .await?;
        let _ = alliance;

        // Campaigns: 千个支部联基层 over the organs' branches, and the whole district's year.
        let campaign_year = self.today.year();
        let (y0, y1) = (
            NaiveDate::from_ymd_opt(campaign_year, 1, 1).unwrap_or(self.year_start),
            NaiveDate::from_ymd_opt(campaign_year, 12, 31).unwrap_or(self.today),
        );
        self.service
            .create_campaign(
                &Actor::System,
                NewCampaign {
                    code: format!("QZLJC-{campaign_year}"),
                    name: format!("{campaign_year}年千个支部联基层"),
                    starts_on: y0,
                    ends_on: y1,
                    root_org_id: lead,
                    require_pairing: true,
                },
            )
            .await?;
        self.service
            .create_campaign(
                &Actor::System,
                NewCampaign {
                    code: "DJYL-12M".into(),
                    name: "近一年党建引领基层治理".into(),
                    starts_on: self.year_start,
                    ends_on: self.today,
                    root_org_id: None,
                    require_pairing: false,
                },
            )
            .await?;
        Ok(())
    }

    /// A year of activities.
    async fn activities(&mut self) -> Result<()> {
        // A year of activities. Visits link the solved requests of the community they served.
        let orgs = self.service.store().party_orgs().await?;
        let org_id: HashMap<&str, i64> = orgs.iter().map(|o| (o.code.as_str(), o.id)).collect();
        let targets = self.service.store().targets().await?;
        let target_area: HashMap<i64, AreaId> = targets.iter().map(|t| (t.id, t.area_id)).collect();
        let pairings = self.service.store().pairings().await?;
        let mut solved: HashMap<AreaId, Vec<RequestId>> = HashMap::new();
        let mut filter = ListFilter {
            statuses: vec![Status::Resolved, Status::Verified, Status::Closed],
            ..Default::default()
        };
        loop {
            let page = self.service.store().list(&filter, 1000).await?;
            let Some(last) = page.last() else { break };
            filter.before_id = Some(last.id);
            for r in &page {
                if r.rating.as_ref().is_none_or(|x| x.resolved) {
                    solved
                        .entry(r.location.community_id)
                        .or_default()
                        .push(r.id);
                }
            }
        }
        let mut activities = Vec::new();
        let year_start = self.year_start;
        let day_of = |rng: &mut Rng| year_start + Duration::days(rng.below(365) as i64 + 1);
        let branches: Vec<(String, Vec<PersonId>)> = {
            let mut v: Vec<_> = std::mem::take(&mut self.branch_members)
                .into_iter()
                .collect();
            v.sort();
            v
        };
        for (code, people) in &branches {
            let Some(&org) = org_id.get(code.as_str()) else {
                continue;
            };
            let own: Vec<&redgrid_core::org::Pairing> = pairings
                .iter()
                .filter(|p| p.party_org_id == Some(org))
                .collect();
            let org_area = orgs
                .iter()
                .find(|o| o.id == org)
                .map(|o| o.area_id)
                .unwrap_or(self.district.id);
            let n = 18 + self.rng.below(14);
            for _ in 0..n {
                let roll = self.rng.below(100);
                let kind = match roll {
                    0..=44 => ActivityKind::Visit,
                    45..=59 => ActivityKind::Publicity,
                    60..=71 => ActivityKind::ThemeDay,
                    72..=77 => ActivityKind::Donation,
                    78..=85 => ActivityKind::Meeting,
                    _ => ActivityKind::VolunteerService,
                };
                let pairing = if own.is_empty() || self.rng.chance(0.3) {
                    None
                } else {
                    Some(*self.rng.pick(&own))
                };
                let area = pairing
                    .and_then(|p| target_area.get(&p.target_id).copied())
                    .unwrap_or(org_area);
                let community = self.dir.ancestor_at(area, Level::Community);
                let take = (2 + self.rng.below(6)).min(people.len());
                let mut participants: Vec<PersonId> =
                    (0..take).map(|_| *self.rng.pick(people)).collect();
                participants.sort();
                participants.dedup();
                let (title, items, value) = match kind {
                    ActivityKind::Visit => (*self.rng.pick(VISIT_TITLES), "", 0),
                    ActivityKind::Publicity => (*self.rng.pick(PUBLICITY_TITLES), "", 0),
                    ActivityKind::ThemeDay => (*self.rng.pick(THEME_TITLES), "", 0),
                    ActivityKind::Donation => {
                        let (items, v) = *self.rng.pick(DONATION_ITEMS);
                        ("爱心捐赠", items, v)
                    }
                    ActivityKind::Meeting => (*self.rng.pick(MEETING_TITLES), "", 0),
                    ActivityKind::VolunteerService => (*self.rng.pick(SERVICE_TITLES), "", 0),
                };
                let mut suggestions = Vec::new();
                let mut request_ids = Vec::new();
                if kind == ActivityKind::Visit {
                    for _ in 0..self.rng.below(3) {
                        suggestions.push((area, self.rng.pick(SUGGESTIONS).to_string()));
                    }
                    if let Some(list) = community.and_then(|c| solved.get_mut(&c))
                        && self.rng.chance(0.6)
                        && let Some(r) = list.pop()
                    {
                        request_ids.push(r);
                    }
                }
                activities.push(NewActivity {
                    kind,
                    held_on: day_of(&mut self.rng),
                    party_org_id: org,
                    pairing_id: pairing.map(|p| p.id),
                    target_id: pairing.map(|p| p.target_id),
                    title: title.to_string(),
                    people_served: match kind {
                        ActivityKind::Publicity => 20 + self.rng.below(80) as i64,
                        ActivityKind::Meeting => 0,
                        _ => 1 + self.rng.below(15) as i64,
                    },
                    donation_items: items.to_string(),
                    donation_value_fen: value,
                    hours: if kind == ActivityKind::VolunteerService {
                        (participants.len() * 2) as f64
                    } else {
                        0.0
                    },
                    participants,
                    suggestions,
                    request_ids,
                    recorded_by: None,
                });
            }
        }
        activities.sort_by_key(|a| a.held_on);
        for chunk in activities.chunks(500) {
            self.service
                .store()
                .record_activities(chunk, redgrid_store::Change::system())
                .await?;
        }
        Ok(())
    }

    /// Some suggestions became requests.
    async fn suggestions(&mut self) -> Result<()> {
        // Some suggestions became requests.
        let suggestions = self
            .service
            .store()
            .suggestions(self.year_start, self.today)
            .await?;
        for s in suggestions.iter().filter(|s| s.id % 7 == 0).take(20) {
            let area = if self
                .dir
                .area(s.area_id)
                .is_some_and(|a| matches!(a.kind, Level::Grid | Level::Community))
            {
                None
            } else {
                // A suggestion taken at a street-level target is filed in a community of that street.
                self.d
                    .communities
                    .iter()
                    .map(|c| c.area.id)
                    .find(|c| self.dir.contains(s.area_id, *c))
            };
            if self
                .service
                .suggestion_to_request(&Actor::System, s.id, area)
                .await
                .is_err()
            {
                continue;
            }
        }
        Ok(())
    }
}
