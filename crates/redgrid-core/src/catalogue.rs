//! The category catalogue (事项目录): classes of items, each item with a default tier and level.

use crate::area::Level;
use crate::deadline::Limit;
use crate::ids::{CategoryId, ClassId};
use crate::vocab::vocabulary;
use serde::{Deserialize, Serialize};

vocabulary!(
    /// How big a matter is (微事 / 小事 / 中事 / 大事 / 难事).
    Tier {
        Micro = "micro", "微事", "micro";
        Minor = "minor", "小事", "minor";
        Medium = "medium", "中事", "medium";
        Major = "major", "大事", "major";
        Hard = "hard", "难事", "hard";
    }
);

impl Tier {
    /// The level a matter of this tier is handled at first (docs/design/lifecycle.md, "Tiers, levels and time limits").
    pub fn default_level(self) -> Level {
        match self {
            Tier::Micro => Level::Grid,
            Tier::Minor => Level::Community,
            Tier::Medium | Tier::Major => Level::Street,
            Tier::Hard => Level::District,
        }
    }
}

/// A class of the catalogue, e.g. 市容环境.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CategoryClass {
    pub id: ClassId,
    /// Stable short code, e.g. `env`.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub sort: i32,
}

/// An item of the catalogue, e.g. 垃圾清运不及时, with its defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CategoryItem {
    pub id: CategoryId,
    pub class_id: ClassId,
    /// Stable code, e.g. `env.garbage`; Open311 uses it as the service code.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub default_tier: Tier,
    pub default_level: Level,
    /// The item's own response limit (`4h` working hours, `1d` working day, `2ch` clock hours);
    /// None keeps the tier's.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "4h"))]
    pub respond_limit: Option<Limit>,
    /// The item's own resolution limit; None keeps the tier's.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "3d"))]
    pub resolve_limit: Option<Limit>,
    pub active: bool,
    pub sort: i32,
}

/// Checks a catalogue code: lowercase ASCII letters, digits, `_`, `.` and `-`, 1–48 characters.
pub fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 48
        && code.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.' || b == b'-'
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_map_to_their_first_level() {
        assert_eq!(Tier::Micro.default_level(), Level::Grid);
        assert_eq!(Tier::Minor.default_level(), Level::Community);
        assert_eq!(Tier::Medium.default_level(), Level::Street);
        assert_eq!(Tier::Major.default_level(), Level::Street);
        assert_eq!(Tier::Hard.default_level(), Level::District);
        for t in Tier::ALL {
            assert_eq!(Tier::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn codes_are_checked() {
        assert!(valid_code("env.garbage"));
        assert!(valid_code("a-1_b"));
        assert!(!valid_code(""));
        assert!(!valid_code("Env"));
        assert!(!valid_code("垃圾"));
        assert!(!valid_code(&"a".repeat(49)));
    }
}
