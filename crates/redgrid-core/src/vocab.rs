//! Closed word sets (vocabularies): each is declared once with [`vocabulary!`] — its variants, the
//! identifier the API, the database and spreadsheets use, and its Chinese and English labels — and
//! gets `ALL`, `as_str`, `parse`, `label`, `from_cell`, serde and OpenAPI names from that one place.

use crate::error::Lang;

/// What every vocabulary offers, for code that works on any of them (form selects, spreadsheet
/// cells, OpenAPI enums).
pub trait Vocab: Copy + Eq + 'static {
    /// Every value, in declaration order.
    fn all() -> &'static [Self];
    /// The identifier: what the API, the database and the files carry.
    fn id(self) -> &'static str;
    /// The name for people.
    fn name(self, lang: Lang) -> &'static str;
    /// The value with this identifier.
    fn from_id(s: &str) -> Option<Self> {
        Self::all().iter().copied().find(|v| v.id() == s)
    }
    /// Reads a spreadsheet cell: the Chinese name, the English name or the identifier.
    fn from_cell(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::all().iter().copied().find(|v| {
            v.id() == s || v.name(Lang::Zh) == s || v.name(Lang::En).eq_ignore_ascii_case(s)
        })
    }
    /// `(identifier, name)` for every value: the options of a select.
    fn options(lang: Lang) -> Vec<(&'static str, &'static str)> {
        Self::all().iter().map(|v| (v.id(), v.name(lang))).collect()
    }
}

/// Declares a closed word set: `Name { Variant = "id", "中文", "English"; … }`. Inside this crate the
/// type also gets an OpenAPI schema (with the `openapi` feature); other crates write
/// `redgrid_core::vocabulary!(plain …)`, which leaves the schema out.
#[macro_export]
macro_rules! vocabulary {
    (plain $(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $id:literal, $zh:literal, $en:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vdoc])* #[serde(rename = $id)] $variant,)+ }
        $crate::vocabulary!(@impl $name { $($variant = $id, $zh, $en;)+ });
    };
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $id:literal, $zh:literal, $en:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vdoc])* #[serde(rename = $id)] $variant,)+ }
        $crate::vocabulary!(@impl $name { $($variant = $id, $zh, $en;)+ });

        // The OpenAPI schema lists the identifiers the API carries (a derive would list the Rust
        // variant names, which no client ever sees).
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($id),+]))
                    .description(Some(concat!($($id, ": ", $zh, " (", $en, "). "),+)))
                    .build()
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    };
    (@impl $name:ident { $($variant:ident = $id:literal, $zh:literal, $en:literal;)+ }) => {
        impl $name {
            pub const ALL: [$name; [$($id),+].len()] = [$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $id,)+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.into_iter().find(|v| v.as_str() == s)
            }

            pub fn label(self, lang: $crate::error::Lang) -> &'static str {
                match self { $($name::$variant => lang.pick($zh, $en),)+ }
            }

            /// Reads a spreadsheet cell: the Chinese label, the English label or the identifier.
            pub fn from_cell(s: &str) -> Option<$name> {
                <$name as $crate::vocab::Vocab>::from_cell(s)
            }
        }

        impl $crate::vocab::Vocab for $name {
            fn all() -> &'static [Self] {
                &Self::ALL
            }
            fn id(self) -> &'static str {
                self.as_str()
            }
            fn name(self, lang: $crate::error::Lang) -> &'static str {
                self.label(lang)
            }
        }
    };
}
pub use vocabulary;
