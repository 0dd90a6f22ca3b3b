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
    Migration {
        version: 6,
        name: "alert_links",
        sql: include_str!("../migrations/sqlite/0006_alert_links.sql"),
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
    Migration {
        version: 6,
        name: "alert_links",
        sql: include_str!("../migrations/postgres/0006_alert_links.sql"),
    },
];

/// A checksum of a migration's text, to notice a migration edited after it was applied.
pub fn checksum(sql: &str) -> String {
    crate::sha256_hex(sql.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_carry_the_same_migration_versions() {
        let sqlite: Vec<i64> = MIGRATIONS_SQLITE.iter().map(|m| m.version).collect();
        let pg: Vec<i64> = MIGRATIONS_POSTGRES.iter().map(|m| m.version).collect();
        assert_eq!(sqlite, pg);
        for (dir, list) in [("sqlite", &sqlite), ("postgres", &pg)] {
            let mut on_disk: Vec<i64> =
                std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
                    .unwrap()
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|n| n.split('_').next())
                            .and_then(|v| v.parse().ok())
                    })
                    .collect();
            on_disk.sort();
            assert_eq!(
                &on_disk, list,
                "every file in migrations/{dir} is listed, and only those"
            );
        }
    }
}
