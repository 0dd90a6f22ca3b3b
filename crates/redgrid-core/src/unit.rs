//! Units: departments, street and community offices, teams and other organisations, each attached
//! to an area and handling requests at one level.

use crate::area::Level;
use crate::ids::{AreaId, UnitId};
use crate::vocab::vocabulary;
use serde::{Deserialize, Serialize};

vocabulary!(
    UnitKind {
        /// 委办局: a district-level government department; handles at the street/department level.
        Department = "department", "区级部门", "department";
        /// 街道办事处 / 镇政府 / 开发区管委会.
        StreetOffice = "street_office", "街镇", "street office";
        /// 社区居委会 / 村委会.
        CommunityOffice = "community_office", "社区（村）", "community office";
        /// 网格党小组 / 网格服务队: the team of one grid.
        GridTeam = "grid_team", "网格", "grid team";
        /// A team inside another unit (a department's section, a volunteer squad).
        Team = "team", "工作组", "team";
        /// 区级 office handling district-level matters (e.g. the district's command centre).
        DistrictOffice = "district_office", "区级机构", "district office";
        Enterprise = "enterprise", "企业", "enterprise";
        SocialOrganisation = "social_organisation", "社会组织", "social organisation";
        /// 党建联盟: an alliance of several units, which handles requests like a unit.
        Alliance = "alliance", "党建联盟", "alliance";
    }
);

impl UnitKind {
    /// The level a unit of this kind handles at when nothing else says: a department or a street
    /// office at the street/department level, a community office at the community's, a grid team
    /// at the grid's, a district office at the district's; any other at its area's level `area`.
    pub fn default_level(self, area: Level) -> Level {
        match self {
            UnitKind::Department | UnitKind::StreetOffice => Level::Street,
            UnitKind::CommunityOffice => Level::Community,
            UnitKind::GridTeam => Level::Grid,
            UnitKind::DistrictOffice => Level::District,
            _ => area,
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
