//! The PostgreSQL backend, for production. A command writes its request only if the row is still
//! the one it was decided on ([`move_at_once`]), so two servers sharing one database never
//! interleave on one request.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::AtomicU8;
use std::time::{Duration, Instant};

type Db = sqlx::Postgres;
type This = PgStore;
const BACKEND: Backend = Backend::Postgres;
const SQL_LOCK_REQUEST: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM requests WHERE id = $1 FOR UPDATE"
);
const SQL_NEXT_REQUEST_ID: &str = "SELECT nextval(pg_get_serial_sequence('requests', 'id')) AS id";
/// The request numbers [`Numbers`] takes from the sequence at once: 32, in one statement.
const SQL_NUMBER_BLOCK: &str = "SELECT nextval(pg_get_serial_sequence('requests', 'id')) AS id \
     FROM generate_series(1, 32)";
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
/// The start of [`SQL_FILE_REQUEST`]: the request (`$1`–`$53`) and its first event (`$54`–`$60`).
macro_rules! file_request_ctes {
    () => {
        concat!(
            "WITH filed AS (INSERT INTO requests (",
            request_columns!(),
            ") VALUES (",
            request_params!(),
            ") RETURNING id, xmin::text AS row_xmin), ",
            "ev AS (INSERT INTO request_events (request_id, seq, kind, actor_id, actor_role, at, payload) \
             SELECT $54, $55, $56, $57, $58, $59, $60 FROM filed RETURNING request_id) "
        )
    };
}
/// The end of [`SQL_FILE_REQUEST`]: the event's audit record, `$61` its digest and `$62` its tag;
/// it returns the new row's version (`xmin`, see [`Recent`]).
macro_rules! file_request_audit {
    () => {
        "INSERT INTO audit_pending (at, kind, actor_id, request_id, event_seq, payload, tag) \
         SELECT $59, 'event', $57, $54, $55, $61, $62 FROM ev \
         RETURNING (SELECT row_xmin FROM filed) AS row_xmin"
    };
}
/// A new request, its first event and the event's audit record (left for settling), in one
/// statement: `$1`–`$53` the request, `$54`–`$60` the event, `$61` the event's digest, `$62` its tag.
const SQL_FILE_REQUEST: &str = concat!(file_request_ctes!(), file_request_audit!());
/// [`SQL_FILE_REQUEST`] with its idempotency key (`$63` the caller, `$64` the key, `$65` the
/// body's hash): a key used before fails the whole statement, so nothing is filed twice.
const SQL_FILE_REQUEST_KEYED: &str = concat!(
    file_request_ctes!(),
    ", keyed AS (INSERT INTO idempotency_keys (actor_key, key, body_hash, request_id, created_at) \
     SELECT $63, $64, $65, request_id, $59 FROM ev) ",
    file_request_audit!()
);
/// A request as [`move_at_once`] reads it: its columns, and its row version (`xmin`), which every
/// write of the row changes, so the move can tell that nothing touched the row since.
const SQL_READ_REQUEST: &str = concat!(
    "SELECT xmin::text AS row_xmin, ",
    request_columns!(),
    " FROM requests WHERE id = $1"
);
/// How often [`move_at_once`] reads and decides again when the request changed under it.
const MOVE_ATTEMPTS: usize = 16;
/// What [`SQL_MOVE_REQUEST`] reports when it moved the request: the audit record it left.
const MOVED_ROWS: u64 = 1;
/// A record joins the chain and becomes its head in one statement.
const SQL_APPEND_AUDIT: &str = concat!(
    "WITH joined AS (INSERT INTO audit_chain (seq, at, kind, actor_id, request_id, event_seq, \
     payload, prev_hash, hash, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)) ",
    "UPDATE audit_head SET seq = $1, hash = $9 WHERE id = 1"
);
const SQL_TEXT_MATCH: &str = " AND description ILIKE ";
/// Commands leave their scorecard counts in rows of their own (`scorecard_deltas`, one for each
/// counted item that changed), folded in by settling, so concurrent commands never wait on the
/// same counters.
const PACKED_COMMAND_FACTS: bool = true;
/// PostgreSQL never defers a command's writes: each is decided on its own row version and written
/// at once ([`move_at_once`]), so it has no texts for a batch's deferred writes.
const SQL_DEFERRED: Option<common::DeferredTexts> = None;
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
    recent: Recent,
    numbers: Numbers,
}

/// The most requests [`Recent`] keeps; past that it starts afresh.
const RECENT_MAX: usize = 1024;
/// How long [`Recent`] keeps a copy, used or not.
const RECENT_FOR: Duration = Duration::from_secs(60);

/// The requests this process last filed or moved, each as written with the row version (`xmin`)
/// the write gave it. The next command on one of them is decided on this copy and written only
/// if the row still has that `xmin` ([`move_at_once`]), which saves reading the row first: a
/// request is usually accepted right after it is filed, and dispatched right after that. Any other
/// write of the row (another server, an erasure, a contact noted, files marked) gives it another
/// `xmin`, so the write finds nothing and the command reads the row and is decided again. A copy
/// is taken out when a command uses it, is never used after [`RECENT_FOR`], and is dropped at the
/// next write after that; all are dropped when this process erases a person. (A copy never holds
/// a person's data longer than that: an erasure by another server leaves this one's copies stale,
/// never used, until they expire.)
#[derive(Default)]
struct Recent(Mutex<RecentCopies>);

#[derive(Default)]
struct RecentCopies {
    copies: HashMap<i64, (Request, String, Instant)>,
    swept: Option<Instant>,
}

impl Recent {
    fn take(&self, id: RequestId) -> Option<(Request, String)> {
        let (request, row_xmin, kept) = self.0.lock().ok()?.copies.remove(&id.0)?;
        (kept.elapsed() < RECENT_FOR).then_some((request, row_xmin))
    }

    fn keep(&self, request: &Request, row_xmin: String) {
        let Ok(mut recent) = self.0.lock() else {
            return;
        };
        let now = Instant::now();
        if recent
            .swept
            .is_none_or(|t| now.duration_since(t) >= RECENT_FOR)
        {
            recent
                .copies
                .retain(|_, (_, _, kept)| now.duration_since(*kept) < RECENT_FOR);
            recent.swept = Some(now);
        }
        if recent.copies.len() >= RECENT_MAX {
            recent.copies.clear();
        }
        recent
            .copies
            .insert(request.id.0, (request.clone(), row_xmin, now));
    }

    fn clear(&self) {
        if let Ok(mut recent) = self.0.lock() {
            recent.copies.clear();
        }
    }
}

/// How long [`Numbers`] hands out numbers from one block.
const NUMBERS_FOR: Duration = Duration::from_secs(2);
/// When no more than this many numbers are left in the block, [`Numbers`] fetches the next block
/// in the background, so that a filing seldom waits for one.
const NUMBERS_AHEAD: usize = 16;

/// Request numbers taken from the sequence a block at a time and handed out smallest first, so a
/// filing needs no statement of its own to learn its number. Every filing of this process takes
/// its number here, so its requests are numbered in the order they were filed. Servers sharing a
/// database each hold a block of their own, so across servers numbers follow the order of filing
/// only roughly: a block is given out for at most [`NUMBERS_FOR`] from when it was fetched, then
/// what is left of it is dropped and the next filing takes a new one. Dropped numbers, and those
/// of a block not used when the process stops, are never given (a sequence has gaps anyway: a
/// refused filing leaves one). When the block runs low, the next one is fetched in the background
/// (its numbers all come after the block's). A filing that finds the block empty or expired waits
/// for that fetch and uses its block, whose two seconds count from its own fetch; if that fetch
/// failed or its block is already too old, the filing fetches one itself. The others wait for it
/// meanwhile, so no block used arrives after a later one.
#[derive(Default)]
struct Numbers(tokio::sync::Mutex<NumberBlock>);

type BlockFetch = tokio::task::JoinHandle<Result<(Vec<i64>, Instant)>>;

#[derive(Default)]
struct NumberBlock {
    /// What is left of the block, largest first (the smallest is popped).
    left: Vec<i64>,
    /// When the block was fetched.
    taken: Option<Instant>,
    /// The next block, being fetched, or fetched and not yet used.
    ahead: Option<BlockFetch>,
}

impl Numbers {
    /// The next number: the smallest left, or the first of the next block.
    async fn next(&self, pool: &PgPool) -> Result<RequestId> {
        let mut block = self.0.lock().await;
        if block.taken.is_some_and(|t| t.elapsed() < NUMBERS_FOR)
            && let Some(n) = block.left.pop()
        {
            if block.left.len() <= NUMBERS_AHEAD && block.ahead.is_none() {
                let pool = pool.clone();
                block.ahead = Some(tokio::spawn(async move { fetch_numbers(&pool).await }));
            }
            return Ok(RequestId(n));
        }
        // The block fetched ahead, unless its fetch failed or it is too old to be given out. It is
        // awaited in place, so a filing dropped meanwhile leaves it for the next one.
        let ahead = match block.ahead.as_mut() {
            Some(fetch) => {
                let fetched = fetch.await;
                block.ahead = None;
                match fetched {
                    Ok(Ok((left, taken))) if taken.elapsed() < NUMBERS_FOR => Some((left, taken)),
                    _ => None,
                }
            }
            None => None,
        };
        let (mut left, taken) = match ahead {
            Some(fetched) => fetched,
            None => fetch_numbers(pool).await?,
        };
        let first = left
            .pop()
            .ok_or_else(|| StoreError::Corrupt("the sequence gave no number".into()))?;
        *block = NumberBlock {
            left,
            taken: Some(taken),
            ahead: None,
        };
        Ok(RequestId(first))
    }
}

/// A block of numbers from the sequence, largest first, and when it was fetched.
async fn fetch_numbers(pool: &PgPool) -> Result<(Vec<i64>, Instant)> {
    let rows = sqlx::query(SQL_NUMBER_BLOCK).fetch_all(pool).await?;
    let mut left = rows
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    left.sort_unstable_by(|a, b| b.cmp(a));
    Ok((left, Instant::now()))
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
            recent: Recent::default(),
            numbers: Numbers::default(),
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

    /// PostgreSQL writes each command on its own (no batches).
    fn dialect_batches(&self) -> Option<(u64, u64)> {
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

    /// Drops the copies of requests kept for the next command ([`Recent`]): after an erasure,
    /// none of them may hold what was erased.
    fn dialect_forget_recent(&self) {
        self.recent.clear();
    }

    fn fail_point(&self) -> &AtomicU8 {
        &self.fail
    }

    /// Each job on its own; concurrent jobs run in parallel on the pool's connections. The usual
    /// filing and command take one statement each ([`file_at_once`], [`move_at_once`]); a job that
    /// also records a contact or marks files used takes a transaction ([`run_alone`]), as does
    /// every job while a test injects a failure.
    async fn write(&self, mut job: Job) -> Result<Done> {
        let fail = self.fail.load(Ordering::SeqCst) == 1;
        if let Job::Submit { number, .. } = &mut job {
            *number = Some(self.numbers.next(&self.pool).await?);
        }
        if !fail {
            match &job {
                Job::Submit {
                    decision,
                    at,
                    key,
                    number: Some(number),
                    chain,
                } if crate::contact_of(decision).is_none()
                    && decision.body.attachment_ids().is_empty() =>
                {
                    let filed =
                        file_at_once(&self.pool, decision, *at, key.as_ref(), *number, chain)
                            .await?;
                    self.recent.keep(&filed.0, filed.1);
                    return Ok(Done::Submitted(Box::new(filed.0)));
                }
                Job::Execute {
                    id,
                    at,
                    decide,
                    chain,
                } => {
                    let recent = self.recent.take(*id);
                    let moved = move_at_once(&self.pool, *id, *at, decide, chain, recent).await?;
                    if let Some((request, event, row_xmin)) = moved {
                        self.recent.keep(&request, row_xmin);
                        return Ok(Done::Executed(Box::new((request, event))));
                    }
                }
                Job::Submit { .. } => {}
            }
        }
        run_alone(&self.pool, "BEGIN", &job, fail).await
    }
}

/// Files request `number` with no contact to record and no files to mark, in one statement
/// outside any transaction: the request, its first event, its audit record and its idempotency
/// key together ([`SQL_FILE_REQUEST`]). Returns the request and its row version ([`Recent`]).
async fn file_at_once(
    pool: &PgPool,
    decision: &SubmitDecision,
    at: DateTime<Utc>,
    key: Option<&IdempotencyKey>,
    number: RequestId,
    chain: &Keyring,
) -> Result<(Request, String)> {
    let event = Event {
        request_id: number,
        seq: 1,
        at,
        actor: decision.actor,
        body: decision.body.clone(),
    };
    let request = apply(None, &event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let payload = event_payload(&event)?;
    let audit = AuditRecord::event(&event, &payload);
    let tag = pending_tag(chain, &audit);
    let sql = match key {
        Some(_) => SQL_FILE_REQUEST_KEYED,
        None => SQL_FILE_REQUEST,
    };
    let mut q = bind_event(bind_request(sqlx::query(sql), &request)?, &event, &payload)
        .bind(audit.payload)
        .bind(tag);
    if let Some(k) = key {
        q = q
            .bind(k.actor_key.clone())
            .bind(k.key.clone())
            .bind(k.body_hash.clone());
    }
    let row_xmin: String = q.fetch_one(pool).await?.try_get("row_xmin")?;
    Ok((request, row_xmin))
}

/// Runs a command in one statement outside any transaction: the request is read without a lock,
/// the command decided on it, and the move written with everything it brings (event, audit record,
/// scorecard counts, notices) only if the row is still the one read (same `xmin`); otherwise it is
/// read and decided again, up to [`MOVE_ATTEMPTS`] times. So no row lock is held across a round
/// trip, and a command costs two statements instead of five to seven. With `recent`, the copy
/// this process kept of the request as it last wrote it ([`Recent`]), the first try is decided on
/// that copy without reading the row: one statement. A refusal decided on the copy is decided
/// again on the row as read, so a stale copy never refuses a command. Returns the request as
/// moved, its event and the row's new version; `None` when the command attaches files, which are
/// marked in a transaction ([`run_alone`]).
async fn move_at_once(
    pool: &PgPool,
    id: RequestId,
    at: DateTime<Utc>,
    decide: &Decide,
    chain: &Keyring,
    mut recent: Option<(Request, String)>,
) -> Result<Option<(Request, Event, String)>> {
    for _ in 0..MOVE_ATTEMPTS {
        let kept = recent.take();
        let from_copy = kept.is_some();
        let (current, row_xmin) = match kept {
            Some(copy) => copy,
            None => {
                let row = sqlx::query(SQL_READ_REQUEST)
                    .bind(id.0)
                    .fetch_optional(pool)
                    .await?
                    .ok_or(CoreError::NotFound {
                        entity: Entity::Request,
                        id: id.0,
                    })?;
                (request_from_row(&row)?, row.try_get("row_xmin")?)
            }
        };
        let decision = match decide(&current) {
            Ok(decision) => decision,
            Err(_) if from_copy => continue,
            Err(e) => return Err(e.into()),
        };
        let event = decision.event_for(&current, at);
        if !event.body.attachment_ids().is_empty() {
            return Ok(None);
        }
        let next =
            apply(Some(current.clone()), &event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let payload = event_payload(&event)?;
        let audit = AuditRecord::event(&event, &payload);
        let tag = pending_tag(chain, &audit);
        let mut qb = QueryBuilder::<Db>::new(concat!(
            "WITH moved AS (UPDATE requests SET (",
            request_columns!(),
            ") = ("
        ));
        bind_request(&mut qb.separated(", "), &next)?;
        qb.push(") WHERE id = ")
            .push_bind(id.0)
            .push(" AND version = ")
            .push_bind(current.version)
            .push(" AND xmin::text = ")
            .push_bind(row_xmin)
            .push(
                " RETURNING id, xmin::text AS row_xmin), ev AS (INSERT INTO request_events (request_id, seq, kind, \
                 actor_id, actor_role, at, payload) SELECT ",
            );
        bind_event(&mut qb.separated(", "), &event, &payload);
        qb.push(
            " FROM moved RETURNING request_id), au AS (INSERT INTO audit_pending (at, kind, \
             actor_id, request_id, event_seq, payload, tag) SELECT ",
        );
        qb.push_bind(event.at)
            .push(", 'event', ")
            .push_bind(event.actor.person_id.map(|p| p.0))
            .push(", ")
            .push_bind(id.0)
            .push(", ")
            .push_bind(event.seq)
            .push(", ")
            .push_bind(audit.payload)
            .push(", ")
            .push_bind(tag)
            .push(" FROM ev)");
        let packed = scorecard::packed_delta(Some(&current), &next);
        if !packed.is_empty() {
            qb.push(format!(
                ", counted AS (INSERT INTO scorecard_deltas {PACKED_COLUMNS} SELECT * FROM ("
            ));
            push_packed_values(&mut qb, &packed);
            qb.push(") AS v WHERE EXISTS (SELECT 1 FROM moved))");
        }
        for (i, (kind, target)) in notices(&event, &next).into_iter().enumerate() {
            qb.push(format!(", notice{i} AS ("));
            push_notice(&mut qb, &event, &next, kind, &target);
            qb.push(" AND EXISTS (SELECT 1 FROM moved))");
        }
        qb.push(" SELECT (SELECT row_xmin FROM moved) AS row_xmin");
        let moved: Option<String> = qb.build().fetch_one(pool).await?.try_get("row_xmin")?;
        if let Some(row_xmin) = moved {
            return Ok(Some((next, event, row_xmin)));
        }
    }
    Err(CoreError::Conflict(Conflict::ConcurrentUpdate).into())
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
