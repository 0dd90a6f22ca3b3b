//! The SQLite backend: the embedded default, in WAL mode.
//!
//! All commands go to one writer task, which runs whatever has queued up — up to `MAX_BATCH` jobs —
//! in a single transaction (group commit), so concurrent clients share the cost of a transaction
//! instead of queueing for one each. A job refused by the core writes nothing and the batch goes on;
//! a job that fails after writing makes the batch roll back, and its jobs are then run one by one, so
//! one failure never touches another job. WAL checkpoints run on a connection of their own in the
//! background, never inline in a commit. Reads use a small pool of their own.

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU8;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The most jobs one transaction takes.
const MAX_BATCH: usize = 256;
/// How often the background checkpoint runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

type Db = sqlx::Sqlite;
type This = SqliteStore;
const BACKEND: Backend = Backend::Sqlite;
const SQL_LOCK_REQUEST: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM requests WHERE id = $1"
);
const SQL_NEXT_REQUEST_ID: &str = "SELECT COALESCE(MAX(id), 0) + 1 AS id FROM requests";
const SQL_LOCK_AUDIT_HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";
const SQL_TEXT_MATCH: &str = " AND description LIKE ";
/// `BEGIN IMMEDIATE` already takes SQLite's write lock.
const SQL_MIGRATION_LOCK: Option<&str> = None;

struct Pending {
    job: Job,
    reply: oneshot::Sender<Result<Done>>,
}

/// A SQLite database file.
pub struct SqliteStore {
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

async fn writer_task(pool: SqlitePool, fail: Arc<AtomicU8>, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let failing = fail.load(Ordering::SeqCst) == 1;
        let results = run_batch(&pool, &batch, failing).await;
        for (p, r) in batch.into_iter().zip(results) {
            let _ = p.reply.send(r);
        }
    }
}

async fn run_batch(pool: &SqlitePool, batch: &[Pending], fail: bool) -> Vec<Result<Done>> {
    if batch.len() > 1
        && let Some(results) = run_together(pool, batch, fail).await
    {
        return results;
    }
    let mut out = Vec::with_capacity(batch.len());
    for p in batch {
        out.push(run_alone(pool, "BEGIN IMMEDIATE", &p.job, fail).await);
    }
    out
}

/// Runs the batch in one transaction; `None` when it had to roll back.
async fn run_together(
    pool: &SqlitePool,
    batch: &[Pending],
    fail: bool,
) -> Option<Vec<Result<Done>>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.ok()?;
    let mut out = Vec::with_capacity(batch.len());
    for p in batch {
        match run_job(&mut tx, &p.job, fail).await {
            Ok(done) => out.push(Ok(done)),
            Err(JobError::Refused(e)) => out.push(Err(e)),
            Err(JobError::Failed(_)) => return None,
        }
    }
    tx.commit().await.ok()?;
    Some(out)
}

async fn checkpoint_task(pool: SqlitePool) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint failed");
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
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-32000")
            .pragma("wal_autocheckpoint", "0");
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
            .connect_with(options.clone())
            .await?;
        let fail = Arc::new(AtomicU8::new(0));
        let (jobs, rx) = mpsc::channel(4096);
        let tasks = vec![
            tokio::spawn(writer_task(writer.clone(), fail.clone(), rx)),
            tokio::spawn(checkpoint_task(checkpointer)),
        ];
        Ok(SqliteStore {
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
