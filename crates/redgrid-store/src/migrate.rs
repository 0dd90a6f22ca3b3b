//! The migrations of each backend, embedded in the binary. Both lists must carry the same versions
//! (a test checks it, and that every file in `migrations/` is listed).

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS_SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "core",
        sql: include_str!("../migrations/sqlite/0001_core.sql"),
    },
    Migration {
        version: 2,
        name: "deadlines_scorecard_outbox",
        sql: include_str!("../migrations/sqlite/0002_deadlines_scorecard_outbox.sql"),
    },
    Migration {
        version: 3,
        name: "accounts_audit",
        sql: include_str!("../migrations/sqlite/0003_accounts_audit.sql"),
    },
    Migration {
        version: 4,
        name: "organisation",
        sql: include_str!("../migrations/sqlite/0004_organisation.sql"),
    },
    Migration {
        version: 5,
        name: "restricted",
        sql: include_str!("../migrations/sqlite/0005_restricted.sql"),
    },
];

pub const MIGRATIONS_POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "core",
        sql: include_str!("../migrations/postgres/0001_core.sql"),
    },
    Migration {
        version: 2,
        name: "deadlines_scorecard_outbox",
        sql: include_str!("../migrations/postgres/0002_deadlines_scorecard_outbox.sql"),
    },
    Migration {
        version: 3,
        name: "accounts_audit",
        sql: include_str!("../migrations/postgres/0003_accounts_audit.sql"),
    },
    Migration {
        version: 4,
        name: "organisation",
        sql: include_str!("../migrations/postgres/0004_organisation.sql"),
    },
    Migration {
        version: 5,
        name: "restricted",
        sql: include_str!("../migrations/postgres/0005_restricted.sql"),
    },
];

/// A checksum of a migration's text, to notice a migration edited after it was applied.
pub fn checksum(sql: &str) -> String {
    crate::sha256_hex(sql.as_bytes())
}
