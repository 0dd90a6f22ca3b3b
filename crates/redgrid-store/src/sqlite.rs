//! The SQLite backend: the embedded default, in WAL mode.
//!
//! All commands go to one writer task, which runs whatever has queued up — up to `MAX_BATCH` jobs —
//! in a single transaction (group commit), so concurrent clients share the cost of a transaction
//! instead of queueing for one each. A job refused by the core writes nothing and the batch goes on;
//! a job that fails after writing makes the batch roll back, and its jobs are then run one by one, so
//! one failure never touches another job. The jobs of a batch share their reads and counts
//! ([`common::Shared`]): the requests they move are read in one statement, and their scorecard
//! counts are summed and written once. A batch links its commands' audit records into the chain
//! itself before it commits, after any left waiting (records go to `audit_pending` only from a
//! job that writes at once and the deferred writes flushed before it, from single commands, or
//! when this process lacks the chain's key), and commands add their scorecard counts straight to
//! the facts: one writer takes them in turn anyway. Reads use a small pool of their own.
//!
//! The WAL is kept bounded (docs/operators/backup.md, "The WAL"): a background task copies pages
//! with a passive checkpoint every tenth of a second (blocking no one, but unable to reset the WAL
//! while writes keep coming) and notes how much of the log is in use. Once that passes
//! [`WAL_RESTART_AT`], the writer finishes the checkpoint between two batches and restarts the log,
//! so the next batch writes from its start again: the file is reused rather than cut (cutting a
//! file costs a filesystem tens of milliseconds, during which every client waits). A second after
//! this process last wrote, the background task truncates the log to nothing. Finishing a
//! checkpoint holds writers back while it waits for readers, so either waits at most 100 ms; after
//! giving way to a long reader (a backup) the writer leaves it for a second, and the background task
//! truncates once it can. `journal_size_limit` caps what any reset leaves on disk.

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The most jobs one transaction takes.
const MAX_BATCH: usize = 256;
/// How often the background task checkpoints passively and notes how much of the WAL is in use.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// The WAL in use past which the writer restarts it between two batches. The file grows past it by
/// what is written before the writer's next batch after a look, unless a long reader (a backup)
/// makes the writer give way.
pub const WAL_RESTART_AT: u64 = 16 * 1024 * 1024;
/// How long a statement waits for a lock another connection holds.
const WRITE_BUSY: Duration = Duration::from_secs(10);
/// How long a truncating checkpoint may wait for readers (holding writers back meanwhile).
const CHECKPOINT_BUSY: Duration = Duration::from_millis(100);
/// The WAL size SQLite shrinks the file to whenever it resets the log (`journal_size_limit`).
pub const WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

type Db = sqlx::Sqlite;
type This = SqliteStore;
const BACKEND: Backend = Backend::Sqlite;
const SQL_LOCK_REQUEST: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM requests WHERE id = $1"
);
/// The requests whose ids a JSON array lists (one statement whatever their number).
const SQL_BATCH_REQUESTS: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM requests WHERE id IN (SELECT value FROM json_each($1))"
);
const SQL_NEXT_REQUEST_ID: &str = "SELECT COALESCE(MAX(id), 0) + 1 AS id FROM requests";
const SQL_LOCK_AUDIT_HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";
/// `BEGIN IMMEDIATE` already holds the only write lock.
const SQL_LOCK_PERSON: &str = "SELECT id FROM people WHERE id = $1";
/// What follows the columns a move sets: the version it expects (`$54`), and its event
/// (`$55`–`$61`), written only when the update changed the row (`changes()`), so a request
/// already moved on writes nothing.
macro_rules! move_request_tail {
    () => {
        " WHERE id = $1 AND version = $54; \
         INSERT INTO request_events (request_id, seq, kind, actor_id, actor_role, at, payload) \
         SELECT $55, $56, $57, $58, $59, $60, $61 WHERE changes() = 1"
    };
}
/// A move's audit record left for settling (`$62` the event's digest, `$63` its tag), written only
/// when the event was.
macro_rules! move_audit_pending {
    () => {
        "; INSERT INTO audit_pending (at, kind, actor_id, request_id, event_seq, payload, tag) \
         SELECT $60, 'event', $58, $55, $56, $62, $63 WHERE changes() = 1"
    };
}
/// A new request and its first event, in one call: `$1`–`$53` the request, `$54`–`$60` the event.
macro_rules! file_request {
    () => {
        concat!(
            "INSERT INTO requests (",
            request_columns!(),
            ") VALUES (",
            request_params!(),
            "); ",
            "INSERT INTO request_events (request_id, seq, kind, actor_id, actor_role, at, payload) \
             VALUES ($54, $55, $56, $57, $58, $59, $60)"
        )
    };
}
/// A request moves to its next state (every column but `id`), its event is written and the
/// event's audit record left for settling, in one call.
const SQL_MOVE_REQUEST: &str = concat!(
    "UPDATE requests SET (",
    request_columns_but_id!(),
    ") = (",
    crate::request_params_but_id!(),
    ")",
    move_request_tail!(),
    move_audit_pending!()
);
/// [`file_request!`] with the event's audit record left for settling: `$61` the event's digest,
/// `$62` its tag.
const SQL_FILE_REQUEST: &str = concat!(
    file_request!(),
    "; INSERT INTO audit_pending (at, kind, actor_id, request_id, event_seq, payload, tag) \
     VALUES ($59, 'event', $57, $54, $55, $61, $62)"
);
/// A notice to a unit's people as a fixed text, so that a batch can send several in one call:
/// `$1` the time, `$2` the request, `$3` the event's number, `$4` the kind, `$5` the unit, `$6` the
/// payload.
const SQL_NOTICE_UNIT: &str = "INSERT INTO outbox (created_at, request_id, seq, kind, recipient_id, \
     unit_id, payload, next_attempt_at) SELECT DISTINCT $1, $2, $3, $4, person_id, $5, $6, $1 \
     FROM grants WHERE unit_id = $5";
/// What a batch defers and writes a few to a call ([`common::flush_writes`]), each text with the
/// number of its parameters: filings that leave their audit records for settling, and the same
/// without them, for a batch that links its records itself ([`link_batch`]); what follows the
/// columns a move sets (`flush_writes` names only those it must), with and without the record; and
/// notices to a unit's people.
const SQL_DEFERRED: Option<common::DeferredTexts> = Some(common::DeferredTexts {
    file: (SQL_FILE_REQUEST, 62),
    file_linked: (file_request!(), 60),
    move_tail: (concat!(move_request_tail!(), move_audit_pending!()), 63),
    move_linked_tail: (move_request_tail!(), 61),
    notice_unit: (SQL_NOTICE_UNIT, 6),
});
/// What [`SQL_MOVE_REQUEST`] reports when it moved the request: the row updated, the event and its
/// audit record.
const MOVED_ROWS: u64 = 3;
/// A record joins the chain and becomes its head in one call: two statements sharing `$1`–`$9`.
const SQL_APPEND_AUDIT: &str = concat!(
    "INSERT INTO audit_chain (seq, at, kind, actor_id, request_id, event_seq, payload, prev_hash, \
     hash, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10); ",
    "UPDATE audit_head SET seq = $1, hash = $9 WHERE id = 1"
);
const SQL_TEXT_MATCH: &str = " AND description LIKE ";
/// Commands add their scorecard counts straight to the facts: SQLite's one writer takes them in
/// turn anyway, and a fold later would cost the writer as much again.
const PACKED_COMMAND_FACTS: bool = false;
/// `BEGIN IMMEDIATE` already takes SQLite's write lock.
const SQL_MIGRATION_LOCK: Option<&str> = None;

struct Pending {
    job: Job,
    reply: oneshot::Sender<Result<Done>>,
}

/// A SQLite database file.
pub struct SqliteStore {
    chain_keys: common::ChainKeys,
    wal: Arc<WalState>,
    writer: SqlitePool,
    reader: SqlitePool,
    fail: Arc<AtomicU8>,
    jobs: mpsc::Sender<Pending>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn writer_task(
    pool: SqlitePool,
    keys: common::ChainKeys,
    fail: Arc<AtomicU8>,
    wal: Arc<WalState>,
    mut rx: mpsc::Receiver<Pending>,
) {
    while let Some(first) = rx.recv().await {
        // Between two batches, past the mark: the writer restarts the WAL itself (it waits for
        // no writer, being the writer), waiting at most 100 ms for readers. When a long reader
        // (a backup) makes it give way, it leaves the WAL to the background task for a second;
        // when another connection is checkpointing, it tries again after the next batch.
        let gave_way = wal.gave_way.load(Ordering::Relaxed);
        if wal.in_use.load(Ordering::Relaxed) >= WAL_RESTART_AT
            && millis_now().saturating_sub(gave_way) >= 1000
        {
            match checkpoint_briefly(&pool, "PRAGMA wal_checkpoint(RESTART)").await {
                Checkpoint::Done => wal.in_use.store(0, Ordering::Relaxed),
                Checkpoint::Readers => wal.gave_way.store(millis_now(), Ordering::Relaxed),
                Checkpoint::Another => {}
            }
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let failing = fail.load(Ordering::SeqCst) == 1;
        let results = run_batch(&pool, &keys, &batch, failing, &wal).await;
        wal.last_write.store(millis_now(), Ordering::Relaxed);
        for (p, r) in batch.into_iter().zip(results) {
            let _ = p.reply.send(r);
        }
    }
}

/// Starts the writer on a thread of its own, with a runtime of its own, so that each step of a
/// batch (every statement is a hand-over to the connection's thread and back) goes on as soon as
/// the connection answers, rather than after whatever else a busy server's runtime has queued
/// (request handlers, page rendering). The writer ends when the store is dropped (its queue
/// closes), after running the jobs still queued. Where no thread or runtime can be made, it runs
/// on the caller's runtime instead, and the task is returned so that dropping the store stops it.
fn spawn_writer(
    writing: impl std::future::Future<Output = ()> + Send + 'static,
) -> Option<JoinHandle<()>> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::warn!(error = %e, "no runtime for the SQLite writer; it shares the server's");
            return Some(tokio::spawn(writing));
        }
    };
    // The thread is given the runtime only once it runs: a runtime dropped here, inside the
    // caller's, would panic, and a thread that could not start drops what it was given.
    type Writing = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
    let (start, started) = std::sync::mpsc::channel::<(tokio::runtime::Runtime, Writing)>();
    let thread = std::thread::Builder::new()
        .name("redgrid-writer".into())
        .spawn(move || {
            if let Ok((runtime, writing)) = started.recv() {
                runtime.block_on(writing);
            }
        });
    match thread {
        Ok(_) => {
            if let Err(std::sync::mpsc::SendError((runtime, _))) =
                start.send((runtime, Box::pin(writing)))
            {
                // The thread ended before it was given its work (it cannot, short of a panic).
                runtime.shutdown_background();
                tracing::error!("the SQLite writer's thread ended before it started");
            }
            None
        }
        Err(e) => {
            runtime.shutdown_background();
            tracing::warn!(error = %e, "no thread for the SQLite writer; it shares the server's");
            Some(tokio::spawn(writing))
        }
    }
}

fn millis_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What the background checkpoint learns of the WAL, for the writer.
struct WalState {
    /// The WAL file.
    path: PathBuf,
    /// The bytes of the log in use at the last passive checkpoint (0 after a restart).
    in_use: AtomicU64,
    /// When this process last wrote (milliseconds since the epoch).
    last_write: AtomicU64,
    /// When the writer last gave way to readers instead of restarting the log (0: never).
    gave_way: AtomicU64,
    /// Batches of more than one job the writer committed in one transaction.
    together: AtomicU64,
    /// Batches of more than one job that had to roll back, their jobs then run one by one.
    rolled_back: AtomicU64,
}

/// The WAL file's size in bytes (0 when there is none).
fn wal_size(wal: &Path) -> u64 {
    std::fs::metadata(wal).map_or(0, |m| m.len())
}

/// Copies the whole WAL into the database and makes the log start again (`RESTART`), or also cuts
/// it to nothing (`TRUNCATE`). It holds the write lock while it waits for readers still on older
/// pages, so it waits at most [`CHECKPOINT_BUSY`] (the connection's busy timeout lowered for the
/// while): a long reader (a backup's `VACUUM INTO`) makes it give up and try again later rather
/// than stall the writer.
/// How a checkpoint that must finish went.
enum Checkpoint {
    /// The WAL was copied in whole (and restarted or cut, as asked).
    Done,
    /// Readers on older pages held it back (or it failed): give way for a while.
    Readers,
    /// Another connection was checkpointing, or writing: try again soon.
    Another,
}

async fn checkpoint_briefly(pool: &SqlitePool, checkpoint: &'static str) -> Checkpoint {
    let Ok(mut conn) = pool.acquire().await else {
        return Checkpoint::Readers;
    };
    let brief = format!("PRAGMA busy_timeout = {}", CHECKPOINT_BUSY.as_millis());
    if sqlx::query(AssertSqlSafe(brief))
        .execute(&mut *conn)
        .await
        .is_err()
    {
        return Checkpoint::Readers;
    }
    let done = match sqlx::query_as::<_, (i64, i64, i64)>(checkpoint)
        .fetch_one(&mut *conn)
        .await
    {
        Ok((0, _, _)) => Checkpoint::Done,
        // No log size: the checkpoint never started (SQLite does not wait for another one).
        Ok((_, log, _)) if log < 0 => Checkpoint::Another,
        Ok(_) | Err(_) => Checkpoint::Readers,
    };
    let restore = format!("PRAGMA busy_timeout = {}", WRITE_BUSY.as_millis());
    if let Err(e) = sqlx::query(AssertSqlSafe(restore))
        .execute(&mut *conn)
        .await
    {
        tracing::warn!(error = %e, "cannot restore the writer's busy timeout");
    }
    done
}

async fn truncate_wal(pool: &SqlitePool) -> bool {
    match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(pool)
        .await
    {
        Ok((0, _, _)) => true,
        Ok(_) => {
            tracing::debug!("WAL checkpoint could not finish (readers); will try again");
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "WAL checkpoint failed");
            false
        }
    }
}

async fn run_batch(
    pool: &SqlitePool,
    keys: &common::ChainKeys,
    batch: &[Pending],
    fail: bool,
    counts: &WalState,
) -> Vec<Result<Done>> {
    if batch.len() > 1 {
        if let Some(results) = run_together(pool, keys, batch, fail).await {
            counts.together.fetch_add(1, Ordering::Relaxed);
            return results;
        }
        counts.rolled_back.fetch_add(1, Ordering::Relaxed);
    }
    let mut out = Vec::with_capacity(batch.len());
    for p in batch {
        out.push(run_alone(pool, "BEGIN IMMEDIATE", &p.job, fail).await);
    }
    out
}

/// Runs the batch in one transaction, and links its audit records and those left waiting before
/// it into the chain ([`link_batch`]; without the chain's key, [`common::settle`] in a savepoint)
/// before committing; `None` when the batch had to roll back.
///
/// Linking here rather than from the service's settler keeps the cost even: the writer holds
/// SQLite's only write lock anyway, so a settle a few times a second would stall every command for
/// as long as it takes to link a few hundred commands' records, while a batch links only its own,
/// in memory already.
async fn run_together(
    pool: &SqlitePool,
    keys: &common::ChainKeys,
    batch: &[Pending],
    fail: bool,
) -> Option<Vec<Result<Done>>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.ok()?;
    let mut shared = common::Shared {
        requests: requests_of(&mut tx, batch).await.ok()?,
        defer: !fail,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(batch.len());
    for p in batch {
        match run_job(&mut tx, &p.job, fail, Some(&mut shared)).await {
            Ok(done) => out.push(Ok(done)),
            Err(JobError::Refused(e)) => out.push(Err(e)),
            Err(JobError::Failed(_)) => return None,
        }
    }
    // With the chain's key at hand, the batch links its own audit records (after any left
    // waiting); without it, they wait in `audit_pending` for a settle that can find out whether
    // the chain may be extended.
    let keyring = common::keyring_of(keys);
    let mut records = Vec::new();
    let link = keyring.current().is_some();
    common::flush_writes(&mut tx, &mut shared, link.then_some(&mut records), &keyring)
        .await
        .ok()?;
    if !shared.facts.is_empty() {
        common::add_facts(&mut tx, &shared.facts).await.ok()?;
    }
    if link {
        link_batch(&mut tx, &keyring, &records).await.ok()?;
    } else {
        // In a savepoint: a settle that cannot go on (a chain keyed with a key this process
        // lacks) leaves its rows waiting, for the service's settler to report, and the batch
        // commits.
        let mut inner = sqlx::Acquire::begin(&mut *tx).await.ok()?;
        match common::settle(&mut inner, &keyring).await {
            Ok(_) => inner.commit().await.ok()?,
            Err(e) => {
                tracing::debug!(error = %e, "cannot settle with the batch; left waiting");
                inner.rollback().await.ok()?;
            }
        }
    }
    tx.commit().await.ok()?;
    Some(out)
}

/// The chain's head and the newest record waiting in `audit_pending` (0 when none), in one call.
const SQL_HEAD_AND_WAITING: &str = "SELECT seq, hash, \
     (SELECT COALESCE(MAX(id), 0) FROM audit_pending) AS waiting FROM audit_head WHERE id = 1";

/// Links a batch's audit records (`records`, in the order written) into the chain with the key in
/// force, after the records waiting in `audit_pending` (left by earlier jobs of the batch or by
/// other writers), so the chain keeps the order of writing; then moves the head on. The writer
/// holds SQLite's write lock, so nothing else extends the chain meanwhile. Two calls when nothing
/// waits: the head, then the records and the new head together.
async fn link_batch(
    conn: &mut common::Conn,
    keys: &Keyring,
    records: &[AuditRecord],
) -> Result<()> {
    let head = sqlx::query(SQL_HEAD_AND_WAITING)
        .fetch_one(&mut *conn)
        .await?;
    let (mut seq, mut prev): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
    let key = keys.current().ok_or_else(|| {
        StoreError::Corrupt("a batch links its records only with the chain's key".into())
    })?;
    if head.try_get::<i64, _>("waiting")? > 0 {
        // Records others left come first. Linking them can fail (a row slipped in through the
        // database alone), so in a savepoint: on failure they stay waiting, the batch's own
        // join them, and the batch commits; the service's settler reports what is wrong.
        let mut inner = sqlx::Acquire::begin(&mut *conn).await?;
        match common::link_waiting(&mut inner, keys, seq, prev.clone()).await {
            Ok(head) => {
                inner.commit().await?;
                (seq, prev) = head;
            }
            Err(e) => {
                inner.rollback().await?;
                tracing::warn!(error = %e, "cannot link the audit records left waiting; the batch's wait with them");
                return leave_waiting(conn, key, records).await;
            }
        }
    }
    for chunk in records.chunks(1000) {
        let mut linked = Vec::with_capacity(chunk.len());
        for rec in chunk {
            seq += 1;
            let hash = audit::chain_hash(&prev, seq, rec, Some(key.secret.as_slice()));
            linked.push((
                seq,
                rec,
                std::mem::replace(&mut prev, hash.clone()),
                hash,
                key.id,
            ));
        }
        let mut qb = common::chain_rows(linked);
        qb.push("; UPDATE audit_head SET seq = ")
            .push_bind(seq)
            .push(", hash = ")
            .push_bind(prev.clone())
            .push(" WHERE id = 1");
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Leaves a batch's audit records waiting in `audit_pending`, each tagged with the chain's key as
/// a command's own would be, for a settle to link after the ones before them.
async fn leave_waiting(
    conn: &mut common::Conn,
    key: &audit::ChainKey,
    records: &[AuditRecord],
) -> Result<()> {
    for chunk in records.chunks(1000) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO audit_pending (at, kind, actor_id, request_id, event_seq, payload, tag) ",
        );
        qb.push_values(chunk, |mut b, rec| {
            b.push_bind(rec.at)
                .push_bind(rec.kind.as_str())
                .push_bind(rec.actor_id.map(|p| p.0))
                .push_bind(rec.request_id.map(|r| r.0))
                .push_bind(rec.event_seq)
                .push_bind(rec.payload.clone())
                .push_bind(audit::record_tag(&key.secret, rec));
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The requests the batch's commands move, read in one statement.
async fn requests_of(
    conn: &mut common::Conn,
    batch: &[Pending],
) -> Result<std::collections::HashMap<i64, Request>> {
    let ids: Vec<i64> = batch
        .iter()
        .filter_map(|p| match &p.job {
            Job::Execute { id, .. } => Some(id.0),
            Job::Submit { .. } => None,
        })
        .collect();
    let mut found = std::collections::HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(found);
    }
    let list = serde_json::to_string(&ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let rows = sqlx::query(SQL_BATCH_REQUESTS)
        .bind(list)
        .fetch_all(&mut *conn)
        .await?;
    for row in &rows {
        let request = common::request_from_row(row)?;
        found.insert(request.id.0, request);
    }
    Ok(found)
}

async fn checkpoint_task(pool: SqlitePool, wal: Arc<WalState>) {
    let page = sqlx::query_scalar::<_, i64>("PRAGMA page_size")
        .fetch_one(&pool)
        .await
        .map_or(4096, |p| p.max(512) as u64);
    // Each WAL frame is a page and its 24-byte header.
    let frame = page + 24;
    let mut tick: u32 = 0;
    let mut truncated_after: u64 = 0;
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        tick = tick.wrapping_add(1);
        if pool.is_closed() {
            return;
        }
        if wal_size(&wal.path) == 0 {
            wal.in_use.store(0, Ordering::Relaxed);
            continue;
        }
        // Quiet for a second after this process wrote, or left far past the mark (the writer gave
        // way to a long reader): empty the WAL, every half second at most. (A process that only
        // reads, such as `redgrid backup`, leaves a server's WAL to the server.)
        let wrote = wal.last_write.load(Ordering::Relaxed);
        let quiet = wrote > truncated_after && millis_now().saturating_sub(wrote) >= 1000;
        let stuck = wrote > 0 && wal.in_use.load(Ordering::Relaxed) >= 2 * WAL_RESTART_AT;
        if (quiet || stuck) && tick.is_multiple_of(5) {
            if truncate_wal(&pool).await {
                truncated_after = wrote;
                wal.in_use.store(0, Ordering::Relaxed);
            }
            continue;
        }
        // Past the mark, the writer restarts the log at its next batch: no passive checkpoint
        // meanwhile, so the two never meet (SQLite runs one checkpoint at a time and makes the
        // other give up) and the figure the writer reset is not overwritten by an older one.
        let writer_gave_way =
            millis_now().saturating_sub(wal.gave_way.load(Ordering::Relaxed)) < 2000;
        if wal.in_use.load(Ordering::Relaxed) >= WAL_RESTART_AT && !writer_gave_way {
            continue;
        }
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            // A negative size: another connection was checkpointing; keep the last figure.
            Ok((_, log, _)) if log < 0 => {}
            Ok((_, log, _)) => wal.in_use.store(log as u64 * frame, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
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
            .busy_timeout(WRITE_BUSY)
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-32000")
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string())
            // Room for the statements of varying length (a batch's audit records and counts,
            // one to `MAX_BATCH` rows; its moves, one text for each set of indexed columns they
            // change and each size of call) beside the fixed ones, so none is prepared anew.
            .statement_cache_capacity(800);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().busy_timeout(CHECKPOINT_BUSY))
            .await?;
        let fail = Arc::new(AtomicU8::new(0));
        let (jobs, rx) = mpsc::channel(4096);
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let wal = Arc::new(WalState {
            path: PathBuf::from(wal),
            in_use: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            gave_way: AtomicU64::new(0),
            together: AtomicU64::new(0),
            rolled_back: AtomicU64::new(0),
        });
        let chain_keys = common::ChainKeys::default();
        let mut tasks = vec![tokio::spawn(checkpoint_task(checkpointer, wal.clone()))];
        let writing = writer_task(
            writer.clone(),
            chain_keys.clone(),
            fail.clone(),
            wal.clone(),
            rx,
        );
        if let Some(task) = spawn_writer(writing) {
            tasks.push(task);
        }
        Ok(SqliteStore {
            chain_keys,
            wal,
            writer,
            reader,
            fail,
            jobs,
            tasks,
        })
    }

    async fn write(&self, job: Job) -> Result<Done> {
        let stopped = || StoreError::Corrupt("the SQLite writer has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Pending { job, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
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

    fn dialect_wal_in_use(&self) -> Option<u64> {
        Some(self.wal.in_use.load(Ordering::Relaxed))
    }

    fn dialect_wal_bytes(&self) -> Option<u64> {
        Some(wal_size(&self.wal.path))
    }

    fn dialect_batches(&self) -> Option<(u64, u64)> {
        Some((
            self.wal.together.load(Ordering::Relaxed),
            self.wal.rolled_back.load(Ordering::Relaxed),
        ))
    }

    /// `VACUUM INTO` on a reader: one read transaction, so a consistent copy however busy the
    /// writer is, and compact. The file must not exist yet.
    async fn dialect_snapshot_to(&self, path: &Path) -> Result<()> {
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Corrupt(format!("not a UTF-8 path: {}", path.display())))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target.to_string())
            .execute(&self.reader)
            .await?;
        Ok(())
    }

    /// SQLite's writer keeps no copies of requests between batches; nothing to forget.
    fn dialect_forget_recent(&self) {}

    /// Empties the WAL on the writer's connection (so between two batches). A checkpoint another
    /// connection is running, or a reader on older pages, makes it try again, for up to five
    /// seconds: a backup or a shutdown must not go on as if the log were copied in when it is not.
    async fn dialect_flush(&self) -> Result<()> {
        for _ in 0..50 {
            let (busy, _, _) =
                sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(&self.writer)
                    .await?;
            if busy == 0 {
                self.wal.in_use.store(0, Ordering::Relaxed);
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(StoreError::Unavailable(
            "the WAL could not be copied into the database: another connection kept it busy".into(),
        ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Schema;

    /// The columns a deferred move leaves out when unchanged are exactly those the schema's indexes
    /// on `requests` cover (besides `id`, which no move sets): a new index joins the list, or
    /// every move rewrites it.
    #[tokio::test]
    async fn the_indexed_columns_are_those_the_schema_indexes() {
        let dir = std::env::temp_dir().join(format!("redgrid-indexed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SqliteStore::open(&dir.join("t.db"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        store.migrate().await.unwrap_or_else(|e| panic!("{e}"));
        let columns: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT ii.name FROM pragma_index_list('requests') AS il, \
             pragma_index_info(il.name) AS ii WHERE ii.name IS NOT NULL",
        )
        .fetch_all(store.read_pool())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let mut indexed: Vec<String> = columns.into_iter().map(|(c,)| c).collect();
        indexed.retain(|c| c != "id");
        indexed.sort();
        let mut listed: Vec<String> = common::INDEXED.iter().map(|(c, _)| c.to_string()).collect();
        listed.sort();
        assert_eq!(
            indexed, listed,
            "the columns indexed on requests differ from common::INDEXED: list a new index's column there"
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
