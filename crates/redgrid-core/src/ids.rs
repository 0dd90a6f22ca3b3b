//! Typed ids: an `AreaId` can never be passed where a `UnitId` is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl From<$name> for i64 {
            fn from(v: $name) -> i64 {
                v.0
            }
        }

        impl From<i64> for $name {
            fn from(v: i64) -> Self {
                $name(v)
            }
        }
    };
}

typed_id!(
    /// A district, street, community or grid.
    AreaId
);
typed_id!(
    /// A department, office, team, enterprise or other organisation.
    UnitId
);
typed_id!(
    /// A person: resident, volunteer, member or staff.
    PersonId
);
typed_id!(
    /// A request (诉求/工单).
    RequestId
);
typed_id!(
    /// A class of the category catalogue (事项大类).
    ClassId
);
typed_id!(
    /// An item of the category catalogue (事项).
    CategoryId
);
