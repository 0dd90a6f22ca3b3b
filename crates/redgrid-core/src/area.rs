//! The area tree: district → street → community → grid, each with a hierarchical area code.

use crate::ids::AreaId;
use crate::vocab::vocabulary;
use serde::{Deserialize, Serialize};

vocabulary!(
    /// The kind of an area, which is also the handling level that owns it.
    Level {
        Grid = "grid", "网格", "grid";
        Community = "community", "村居", "community";
        Street = "street", "街镇、部门", "street or department";
        District = "district", "区级", "district";
    }
);

impl Level {
    /// The next handling level up (红网格 → 村居 → 街镇、部门 → 区级), or `None` at the district.
    pub fn up(self) -> Option<Level> {
        match self {
            Level::Grid => Some(Level::Community),
            Level::Community => Some(Level::Street),
            Level::Street => Some(Level::District),
            Level::District => None,
        }
    }

    /// How many digits an area code of this level has in total.
    pub fn code_len(self) -> std::ops::RangeInclusive<usize> {
        match self {
            Level::District => 6..=6,
            Level::Street => 9..=9,
            Level::Community => 12..=12,
            Level::Grid => 14..=16,
        }
    }
}

/// An area: the district itself, a street (or town, development zone), a community (or village), or
/// a grid inside a community.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Area {
    pub id: AreaId,
    pub parent_id: Option<AreaId>,
    pub kind: Level,
    /// Hierarchical code: district 6 digits, street +3, community +3, grid +2 or more.
    pub code: String,
    pub name: String,
}

/// Checks an area code against its kind and its parent's code. Returns a reason code on failure.
pub fn check_area_code(
    kind: Level,
    code: &str,
    parent_code: Option<&str>,
) -> Result<(), &'static str> {
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid");
    }
    if !kind.code_len().contains(&code.len()) {
        return Err("invalid");
    }
    match (kind, parent_code) {
        (Level::District, None) => Ok(()),
        (Level::District, Some(_)) => Err("not_allowed"),
        (_, None) => Err("required"),
        (_, Some(p)) if code.starts_with(p) => Ok(()),
        _ => Err("outside_area"),
    }
}

/// The kind of area a child of `parent` must have.
pub fn child_kind(parent: Level) -> Option<Level> {
    match parent {
        Level::District => Some(Level::Street),
        Level::Street => Some(Level::Community),
        Level::Community => Some(Level::Grid),
        Level::Grid => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_go_up_to_the_district_and_stop() {
        assert_eq!(Level::Grid.up(), Some(Level::Community));
        assert_eq!(Level::Community.up(), Some(Level::Street));
        assert_eq!(Level::Street.up(), Some(Level::District));
        assert_eq!(Level::District.up(), None);
        for l in Level::ALL {
            assert_eq!(Level::parse(l.as_str()), Some(l));
        }
        assert!(Level::Grid < Level::District);
    }

    #[test]
    fn area_codes_follow_the_hierarchy() {
        assert!(check_area_code(Level::District, "120116", None).is_ok());
        assert!(check_area_code(Level::Street, "120116001", Some("120116")).is_ok());
        assert!(check_area_code(Level::Community, "120116001002", Some("120116001")).is_ok());
        assert!(check_area_code(Level::Grid, "12011600100203", Some("120116001002")).is_ok());
        assert_eq!(
            check_area_code(Level::Street, "120117001", Some("120116")),
            Err("outside_area")
        );
        assert_eq!(
            check_area_code(Level::Street, "12011600", Some("120116")),
            Err("invalid")
        );
        assert_eq!(
            check_area_code(Level::Grid, "1201160010020a", Some("120116001002")),
            Err("invalid")
        );
        assert_eq!(
            check_area_code(Level::Street, "120116001", None),
            Err("required")
        );
        assert_eq!(
            check_area_code(Level::District, "120116", Some("1")),
            Err("not_allowed")
        );
        assert_eq!(child_kind(Level::Community), Some(Level::Grid));
        assert_eq!(child_kind(Level::Grid), None);
    }
}
