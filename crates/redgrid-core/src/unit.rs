//! Units: departments, street and community offices, teams and other organisations, each attached
//! to an area and handling requests at one level.

use crate::area::Level;
use crate::error::Lang;
use crate::ids::{AreaId, UnitId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 委办局: a district-level government department; handles at the street/department level.
    Department,
    /// 街道办事处 / 镇政府 / 开发区管委会.
    StreetOffice,
    /// 社区居委会 / 村委会.
    CommunityOffice,
    /// 网格党小组 / 网格服务队: the team of one grid.
    GridTeam,
    /// A team inside another unit (a department's section, a volunteer squad).
    Team,
    /// 区级 office handling district-level matters (e.g. the district's command centre).
    DistrictOffice,
    Enterprise,
    SocialOrganisation,
    /// 党建联盟: an alliance of several units, which handles requests like a unit.
    Alliance,
}

impl UnitKind {
    pub const ALL: [UnitKind; 9] = [
        UnitKind::Department,
        UnitKind::StreetOffice,
        UnitKind::CommunityOffice,
        UnitKind::GridTeam,
        UnitKind::Team,
        UnitKind::DistrictOffice,
        UnitKind::Enterprise,
        UnitKind::SocialOrganisation,
        UnitKind::Alliance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Department => "department",
            UnitKind::StreetOffice => "street_office",
            UnitKind::CommunityOffice => "community_office",
            UnitKind::GridTeam => "grid_team",
            UnitKind::Team => "team",
            UnitKind::DistrictOffice => "district_office",
            UnitKind::Enterprise => "enterprise",
            UnitKind::SocialOrganisation => "social_organisation",
            UnitKind::Alliance => "alliance",
        }
    }

    pub fn parse(s: &str) -> Option<UnitKind> {
        UnitKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Reads a spreadsheet cell: the Chinese or English label, or the identifier.
    pub fn from_cell(s: &str) -> Option<UnitKind> {
        let s = s.trim();
        UnitKind::ALL.into_iter().find(|k| {
            k.as_str() == s || k.label(Lang::Zh) == s || k.label(Lang::En).eq_ignore_ascii_case(s)
        })
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            UnitKind::Department => lang.pick("区级部门", "department"),
            UnitKind::StreetOffice => lang.pick("街镇", "street office"),
            UnitKind::CommunityOffice => lang.pick("社区（村）", "community office"),
            UnitKind::GridTeam => lang.pick("网格", "grid team"),
            UnitKind::Team => lang.pick("工作组", "team"),
            UnitKind::DistrictOffice => lang.pick("区级机构", "district office"),
            UnitKind::Enterprise => lang.pick("企业", "enterprise"),
            UnitKind::SocialOrganisation => lang.pick("社会组织", "social organisation"),
            UnitKind::Alliance => lang.pick("党建联盟", "alliance"),
        }
    }
}

/// A unit. `level` is the handling level whose requests it can be dispatched; `area_id` is where it
/// serves (a department serves the whole district but handles at the street/department level).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unit {
    pub id: UnitId,
    pub name: String,
    pub kind: UnitKind,
    pub area_id: AreaId,
    pub level: Level,
    /// For teams: the unit they belong to.
    pub parent_id: Option<UnitId>,
    pub active: bool,
    /// The unit's code in the district's register (e.g. its unified social credit code): the key by
    /// which the unit register is imported.
    pub code: Option<String>,
}
