//! The PostgreSQL backend, for production. Commands lock their request row (`FOR UPDATE`) inside the
//! transaction, so two servers sharing one database never interleave on one request.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::sync::atomic::AtomicU8;
use std::time::Duration;

type Db = sqlx::Postgres;
type This = PgStore;
const BACKEND: Backend = Backend::Postgres;
const SQL_LOCK_REQUEST: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM requests WHERE id = $1 FOR UPDATE"
);
const SQL_NEXT_REQUEST_ID: &str = "SELECT nextval(pg_get_serial_sequence('requests', 'id')) AS id";
const SQL_LOCK_AUDIT_HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";
/// The first half of the running lock's key (the second is the schema): see
/// [`PgStore::hold_running_lock`].
const RUNNING_LOCK: i32 = 7212002;
const SQL_LOCK_PERSON: &str = "SELECT id FROM people WHERE id = $1 FOR UPDATE";
/// A request moves to its next state, its event is written and the event's audit record is left for
/// settling, in one statement: the event and record only when the update changed the row, so a
/// request already moved on writes nothing.
const SQL_MOVE_REQUEST: &str = concat!(
    "WITH moved AS (UPDATE requests SET (",
    request_columns!(),
    ") = (",
    request_params!(),
    ") WHERE id = $1 AND version = $54 RETURNING id) ",
    ", ev AS (INSERT INTO request_events (request_id, seq, kind, actor_id, actor_role, at, payload) \
     SELECT $55, $56, $57, $58, $59, $60, $61 FROM moved RETURNING request_id) ",
    "INSERT INTO audit_pending (at, kind, actor_id, request_id, event_seq, payload, tag) \
     SELECT $60, 'event', $58, $55, $56, $62, $63 FROM ev"
);
/// A new request, its first event and the event's audit record (left for settling), in one
/// statement: `$1`–`$53` the request, `$54`–`$60` the event, `$61` the event's digest, `$62` its tag.
const SQL_FILE_REQUEST: &str = concat!(
    "WITH filed AS (INSERT INTO requests (",
    request_columns!(),
    ") VALUES (",
    request_params!(),
    ") RETURNING id), ",
    "ev AS (INSERT INTO request_events (request_id, seq, kind, actor_id, actor_role, at, payload) \
     SELECT $54, $55, $56, $57, $58, $59, $60 FROM filed RETURNING request_id) ",
    "INSERT INTO audit_pending (at, kind, actor_id, request_id, event_seq, payload, tag) \
     SELECT $59, 'event', $57, $54, $55, $61, $62 FROM ev"
);
/// What [`SQL_MOVE_REQUEST`] reports when it moved the request: the audit record it left.
const MOVED_ROWS: u64 = 1;
/// A record joins the chain and becomes its head in one statement.
const SQL_APPEND_AUDIT: &str = concat!(
    "WITH joined AS (INSERT INTO audit_chain (seq, at, kind, actor_id, request_id, event_seq, \
     payload, prev_hash, hash, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)) ",
    "UPDATE audit_head SET seq = $1, hash = $9 WHERE id = 1"
);
const SQL_TEXT_MATCH: &str = " AND description ILIKE ";
/// Commands leave their scorecard counts in rows of their own, folded in by settling, so
/// concurrent commands never wait on the same counters.
const COMMAND_FACTS: &str = "scorecard_pending";
/// Serialises migrations when several servers start at once.
const SQL_MIGRATION_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(7212001)");

/// The running lock of [`PgStore::hold_running_lock`]; dropping it closes its connection, which
/// lets the lock go.
pub struct RunningLock(#[allow(dead_code)] sqlx::PgConnection);

/// A PostgreSQL database (or one schema of it).
pub struct PgStore {
    chain_keys: common::ChainKeys,
    pool: PgPool,
    fail: AtomicU8,
}

impl PgStore {
    /// Connects to the database a `postgres://` URL names.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        Self::connect_with(options).await
    }

    /// Connects with the given options; tests use this to put each run in its own schema.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        // A transaction abandoned half-way (a dropped future whose rollback was never flushed) must
        // not hold its row locks forever: the server ends such a session after 30 s idle in it.
        let options = options.options([("idle_in_transaction_session_timeout", "30s")]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        Ok(PgStore {
            chain_keys: Default::default(),
            pool,
            fail: AtomicU8::new(0),
        })
    }

    /// Connects to `url` with every connection's `search_path` set to `schema`, creating the schema
    /// when missing.
    pub async fn connect_schema(url: &str, schema: &str) -> Result<Self> {
        if !schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Corrupt(format!("bad schema name {schema:?}")));
        }
        let base = PgConnectOptions::from_str(url)?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(base.clone())
            .await?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}"
        )))
        .execute(&admin)
        .await?;
        admin.close().await;
        Self::connect_with(base.options([("search_path", schema)])).await
    }

    /// Drops a schema made by [`PgStore::connect_schema`].
    pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
        if !schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Corrupt(format!("bad schema name {schema:?}")));
        }
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(PgConnectOptions::from_str(url)?)
            .await?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&admin)
        .await?;
        admin.close().await;
        Ok(())
    }

    /// The database name `url` gives (checked to be a plain identifier) and a connection to the
    /// server's `postgres` database, to create or drop it.
    #[cfg(feature = "testing")]
    async fn database_admin(url: &str) -> Result<(String, PgPool)> {
        let options = PgConnectOptions::from_str(url)?;
        let name = options.get_database().unwrap_or_default().to_string();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Corrupt(format!("bad database name {name:?}")));
        }
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.database("postgres"))
            .await?;
        Ok((name, admin))
    }

    /// Drops the database `url` names (if it exists), through the server's `postgres` database,
    /// for test suites that need a whole database of their own.
    #[cfg(feature = "testing")]
    pub async fn drop_database(url: &str) -> Result<()> {
        let (name, admin) = Self::database_admin(url).await?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await?;
        admin.close().await;
        Ok(())
    }

    /// Creates the database `url` names, through the server's `postgres` database, for test suites
    /// on a fresh machine. Returns false when it existed already (another test made it first).
    #[cfg(feature = "testing")]
    pub async fn create_database(url: &str) -> Result<bool> {
        let (name, admin) = Self::database_admin(url).await?;
        let made = sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await;
        admin.close().await;
        match made {
            Ok(_) => Ok(true),
            // Already there, or made at this moment by a test running alongside.
            Err(sqlx::Error::Database(d))
                if d.code().as_deref() == Some("42P04") || d.is_unique_violation() =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Takes the database's running lock on a connection of its own, held while the returned
    /// guard lives: shared (`whole` false) by every server of the database, whole by `restore`.
    /// `None` when it is held the other way: a restore under way (for a server), or a server
    /// running, on any machine (for a restore). The lock is PostgreSQL's session-level advisory
    /// lock, keyed by the schema, so it goes with the connection if the process dies.
    pub async fn hold_running_lock(url: &str, whole: bool) -> Result<Option<RunningLock>> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect_with(&PgConnectOptions::from_str(url)?).await?;
        let sql = if whole {
            "SELECT pg_try_advisory_lock($1, hashtext(current_schema())) AS got"
        } else {
            "SELECT pg_try_advisory_lock_shared($1, hashtext(current_schema())) AS got"
        };
        // A process that held the lock and has just exited leaves its session closing for a
        // moment on the server: try for up to two seconds before saying someone holds it.
        for attempt in 0..20 {
            let got: bool = sqlx::query(sql)
                .bind(RUNNING_LOCK)
                .fetch_one(&mut conn)
                .await?
                .try_get("got")?;
            if got {
                return Ok(Some(RunningLock(conn)));
            }
            if attempt < 19 {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        Ok(None)
    }

    fn read_pool(&self) -> &PgPool {
        &self.pool
    }

    fn write_pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Db>> {
        Ok(self.pool.begin().await?)
    }

    fn dialect_wal_bytes(&self) -> Option<u64> {
        None
    }

    fn dialect_wal_in_use(&self) -> Option<u64> {
        None
    }

    async fn dialect_snapshot_to(&self, _path: &std::path::Path) -> Result<()> {
        Err(StoreError::Corrupt(
            "a PostgreSQL database is copied with pg_dump (redgrid backup calls it)".into(),
        ))
    }

    /// PostgreSQL manages its own WAL; nothing to do.
    async fn dialect_flush(&self) -> Result<()> {
        Ok(())
    }

    fn fail_point(&self) -> &AtomicU8 {
        &self.fail
    }

    /// One transaction per job; concurrent jobs run in parallel on the pool's connections.
    async fn write(&self, job: Job) -> Result<Done> {
        let fail = self.fail.load(Ordering::SeqCst) == 1;
        run_alone(&self.pool, "BEGIN", &job, fail).await
    }
}

// The body shared by both backends: real modules, compiled once per backend with this file's
// `Db`, `This` and dialect constants (see common.rs).
// Loaded by both backends on purpose: once per concrete `Db`.
#[allow(clippy::duplicate_mod)]
#[path = "common.rs"]
mod common;
#[allow(clippy::duplicate_mod)]
#[path = "org_common.rs"]
mod org_common;
use common::*;
