//! The SQLite backend: the embedded default. One writer connection (writes queue in the pool, so no
//! busy-waiting on SQLite's lock) and a few read connections, in WAL mode.

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::sync::atomic::AtomicU8;
use std::time::Duration;

type Db = sqlx::Sqlite;
type This = SqliteStore;
const BACKEND: Backend = Backend::Sqlite;
const MIGRATIONS: &[crate::Migration] = crate::MIGRATIONS_SQLITE;
const SQL_LOCK_REQUEST: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM requests WHERE id = $1"
);
const SQL_NEXT_REQUEST_ID: &str = "SELECT COALESCE(MAX(id), 0) + 1 AS id FROM requests";
const SQL_TEXT_MATCH: &str = " AND description LIKE ";
/// `BEGIN IMMEDIATE` already takes SQLite's write lock.
const SQL_MIGRATION_LOCK: Option<&str> = None;

/// A SQLite database file.
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    fail: AtomicU8,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path`, and its folder.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-32000");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(false))
            .await?;
        Ok(SqliteStore {
            writer,
            reader,
            fail: AtomicU8::new(0),
        })
    }

    fn read_pool(&self) -> &SqlitePool {
        &self.reader
    }

    fn write_pool(&self) -> &SqlitePool {
        &self.writer
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Db>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    fn fail_point(&self) -> &AtomicU8 {
        &self.fail
    }
}

include!("common.rs");
