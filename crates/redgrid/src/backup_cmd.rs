//! `redgrid backup FILE` and `redgrid restore FILE` (docs/operators/backup.md).
//!
//! A backup is one zip file: the database (SQLite: a `VACUUM INTO` copy taken while the server
//! goes on writing; PostgreSQL: `pg_dump --format=custom`), the audit anchors with the copy's own
//! chain head appended, the `power/` folder, and `MANIFEST.txt` saying what is inside. It is
//! written under a temporary name and renamed when complete, so a backup that fails never leaves a
//! file under the name asked for.
//!
//! A restore puts everything back, keeping what it replaces beside it (`*.before-restore-TIME`),
//! then replays every request, recounts the scorecard and verifies the audit chain against the
//! backup's anchors, and reports all three.

use crate::config::Config;
use anyhow::{Context, bail};
use redgrid_store::Backend;
use redgrid_store::prelude::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The archive's layout version (MANIFEST.txt `format`).
const FORMAT: &str = "1";
const SQLITE_NAME: &str = "redgrid.db";
const PG_NAME: &str = "redgrid.pgdump";
const ANCHORS_NAME: &str = "audit-anchors.txt";

/// The file a running server holds locked in its data folder, so a restore can tell.
pub fn lock_path(config: &Config) -> PathBuf {
    config.data_dir.join("redgrid.lock")
}

/// On PostgreSQL, the database's own running lock, held while the returned guard lives: every
/// server holds it shared, and `restore` whole, so a restore refuses while a server of the
/// database runs anywhere, not only in this data folder (and a server does not start during a
/// restore). `None` on SQLite, whose data folder lock ([`hold_lock`]) covers it.
pub async fn hold_database_lock(
    config: &Config,
    whole: bool,
) -> anyhow::Result<Option<redgrid_store::postgres::RunningLock>> {
    if !redgrid_store::is_postgres_url(&config.database_url) {
        return Ok(None);
    }
    let held = redgrid_store::postgres::PgStore::hold_running_lock(&config.database_url, whole)
        .await
        .context("cannot reach the PostgreSQL database to lock it")?;
    match held {
        Some(lock) => Ok(Some(lock)),
        None if whole => bail!(
            "a redgrid server is running against this PostgreSQL database (on this machine or \
             another): stop every server of the district first; nothing was changed"
        ),
        None => bail!("a restore is under way on this PostgreSQL database: wait for it to end"),
    }
}

/// Takes the data folder's lock for as long as the returned file lives: `serve` holds it, and
/// `restore` refuses to run while anyone does.
pub fn hold_lock(config: &Config) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let path = lock_path(config);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another redgrid is running on {} (it holds {}); stop it first",
            config.data_dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// `pg_dump` / `pg_restore` with the database URL minus its password, which goes in the child's
/// environment (`PGPASSWORD`) instead of its command line, where every local user could read it.
fn pg_tool(tool: &str, url: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(tool);
    let (mut shown, mut password) = (url.to_string(), None);
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, pass)) = userinfo.split_once(':')
    {
        shown = format!("{scheme}://{user}@{host}");
        password = Some(pass.to_string());
    }
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    cmd.arg("--dbname").arg(shown);
    cmd
}

fn stamp() -> String {
    redgrid_app::service::now()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// Every file under `dir`, as (path inside the archive, path on disk).
fn files_under(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
        let path = e.path();
        if path.is_dir() {
            files_under(&path, &name, out)?;
        } else {
            out.push((name, path));
        }
    }
    Ok(())
}

pub async fn backup(config: &Config, file: &Path) -> anyhow::Result<ExitCode> {
    if file.exists() {
        bail!("{} exists already; name a new file", file.display());
    }
    let service = crate::open(config).await?;
    let store = service.store();
    let backend = store.backend();
    let work = tempdir(file)?;
    // On PostgreSQL the head is read before the dump starts: the dump holds at least that much, so
    // the anchor is one the restored chain has.
    let pg_head = match backend {
        Backend::Postgres => Some(store.audit_head().await?),
        Backend::Sqlite => None,
    };
    let result = async {
        // The database first: the copy's own chain head is what the anchors must end with.
        let (db_name, db_path) = match backend {
            Backend::Sqlite => {
                let path = work.join(SQLITE_NAME);
                store.snapshot_to(&path).await?;
                (SQLITE_NAME, path)
            }
            Backend::Postgres => {
                let path = work.join(PG_NAME);
                let out = pg_tool("pg_dump", &config.database_url)
                    .args(["--format=custom", "--no-owner", "--file"])
                    .arg(&path)
                    .output()
                    .context("cannot run pg_dump (install the PostgreSQL client tools)")?;
                if !out.status.success() {
                    bail!(
                        "pg_dump failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
                (PG_NAME, path)
            }
        };
        let (seq, hash) = match backend {
            Backend::Sqlite => {
                let copy = redgrid_store::sqlite::SqliteStore::open(&db_path).await?;
                // Records still waiting in the copy are linked into its chain, with the chain's key.
                if let Some((keys, _)) = crate::chain_key::load(config)? {
                    copy.set_keyring(keys);
                }
                let head = copy.audit_head().await?;
                copy.flush().await?;
                drop(copy);
                for extra in ["-wal", "-shm"] {
                    let mut p = db_path.as_os_str().to_owned();
                    p.push(extra);
                    let _ = std::fs::remove_file(PathBuf::from(p));
                }
                head
            }
            Backend::Postgres => pg_head.clone().unwrap_or_default(),
        };
        // The live anchors up to the copy's head (one written after the copy was taken names records
        // the copy lacks), then the copy's own head.
        let anchors_live = crate::audit_cmd::default_anchors(config);
        let mut anchors: String = std::fs::read_to_string(&anchors_live)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<i64>().ok())
                    .is_none_or(|n| n <= seq)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let head_line = format!("{seq} {hash}");
        if seq > 0
            && anchors
                .lines()
                .last()
                .and_then(|l| l.split('#').next())
                .map(str::trim)
                != Some(head_line.as_str())
        {
            anchors.push_str(&format!("{head_line} # backup {}\n", stamp()));
        }
        let mut files = vec![(db_name.to_string(), db_path.clone())];
        files_under(&config.data_dir.join("power"), "power", &mut files)?;
        // Which keys the chain uses, by number and fingerprint (never the keys themselves).
        let key_ids: Vec<String> = crate::chain_key::load(config)?
            .map(|(k, _)| {
                k.keys()
                    .iter()
                    .map(|k| format!("{}:{}", k.id, k.fingerprint()))
                    .collect()
            })
            .unwrap_or_default();
        let manifest = format!(
            "format = {FORMAT}\nredgrid = {}\ncreated_at = {}\nbackend = {}\ndatabase = {db_name}\n\
             migrations = {}\naudit_head_seq = {seq}\naudit_head_hash = {hash}\nchain_keys = {}\n",
            env!("CARGO_PKG_VERSION"),
            redgrid_app::service::now().to_rfc3339(),
            backend.as_str(),
            store.applied_migrations().await?.len(),
            key_ids.join(","),
        );
        let partial = file.with_extension("partial");
        let out = std::fs::File::create(&partial)
            .with_context(|| format!("cannot write {}", partial.display()))?;
        let mut zip = zip::ZipWriter::new(out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file("MANIFEST.txt", options)?;
        zip.write_all(manifest.as_bytes())?;
        zip.start_file(ANCHORS_NAME, options)?;
        zip.write_all(anchors.as_bytes())?;
        for (name, path) in &files {
            zip.start_file(name.as_str(), options)?;
            let mut f = std::fs::File::open(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            std::io::copy(&mut f, &mut zip)?;
        }
        zip.finish()?.sync_all()?;
        std::fs::rename(&partial, file).with_context(|| {
            format!("cannot rename {} to {}", partial.display(), file.display())
        })?;
        println!(
            "backup {}: {} database, audit chain head {seq}, {} files from power/",
            file.display(),
            backend.as_str(),
            files.len() - 1
        );
        Ok(ExitCode::SUCCESS)
    }
    .await;
    let _ = std::fs::remove_dir_all(&work);
    if result.is_err() {
        let _ = std::fs::remove_file(file.with_extension("partial"));
    }
    result
}

/// A scratch folder beside `file` (same file system, so renames are cheap).
fn tempdir(file: &Path) -> anyhow::Result<PathBuf> {
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = parent.join(format!(".redgrid-backup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Moves `path` aside as `path.before-restore-STAMP` when it exists; returns where it went.
fn set_aside(path: &Path, stamp: &str) -> anyhow::Result<Option<PathBuf>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut to = path.as_os_str().to_owned();
    to.push(format!(".before-restore-{stamp}"));
    let to = PathBuf::from(to);
    std::fs::rename(path, &to).with_context(|| format!("cannot move {} aside", path.display()))?;
    Ok(Some(to))
}

pub async fn restore(config: &Config, file: &Path) -> anyhow::Result<ExitCode> {
    let _lock = hold_lock(config)?;
    let _database_lock = hold_database_lock(config, true).await?;
    let f = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut zip = zip::ZipArchive::new(f).context("not a redgrid backup (not a zip file)")?;
    let mut manifest = String::new();
    zip.by_name("MANIFEST.txt")
        .context("not a redgrid backup (no MANIFEST.txt)")?
        .read_to_string(&mut manifest)?;
    let field = |k: &str| {
        manifest
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k} = ")))
            .unwrap_or("")
            .to_string()
    };
    if field("format") != FORMAT {
        bail!(
            "backup format {:?} is not one this redgrid reads",
            field("format")
        );
    }
    let backend = if redgrid_store::is_postgres_url(&config.database_url) {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    if field("backend") != backend.as_str() {
        bail!(
            "the backup holds a {} database; the configuration names a {} one",
            field("backend"),
            backend.as_str()
        );
    }
    // The chain's keys are not in the backup: the district's key file (or REDGRID_CHAIN_KEY) must
    // hold every key the backup's chain uses, or the restored database could not be opened.
    let needed: Vec<(i64, String)> = field("chain_keys")
        .split(',')
        .filter_map(|k| {
            let (id, fp) = k.trim().split_once(':')?;
            Some((id.parse().ok()?, fp.to_string()))
        })
        .collect();
    if !needed.is_empty() {
        let held = crate::chain_key::load(config)?.map(|(k, _)| k);
        if let Some((missing, _)) = needed.iter().find(|(id, fp)| {
            held.as_ref()
                .and_then(|k| k.get(*id))
                .is_none_or(|k| k.fingerprint() != *fp)
        }) {
            bail!(
                "the backup's audit chain uses key {missing}, which is not in {} (nor in {}), or \
                 is another key with that number: the backup does not hold the key; put the \
                 district's chain.key there (mode 600) and restore again. Nothing was changed",
                crate::chain_key::key_file(config).display(),
                crate::chain_key::ENV
            );
        }
    }
    // Everything is checked before anything is touched: the files a restore needs are there, and
    // every name stays inside its folder.
    let db_entry = match backend {
        Backend::Sqlite => SQLITE_NAME,
        Backend::Postgres => PG_NAME,
    };
    for needed in [db_entry, ANCHORS_NAME] {
        if zip.by_name(needed).is_err() {
            bail!("the backup has no {needed}; nothing was changed");
        }
    }
    for i in 0..zip.len() {
        if zip.by_index(i)?.enclosed_name().is_none() {
            bail!("the backup names a file outside its folder; nothing was changed");
        }
    }
    let stamp = stamp();
    std::fs::create_dir_all(&config.data_dir)?;
    let mut kept = Vec::new();
    // The database.
    match backend {
        Backend::Sqlite => {
            let db = redgrid_store::sqlite_path(&config.database_url)
                .map(PathBuf::from)
                .unwrap_or_else(|| config.data_dir.join(SQLITE_NAME));
            let incoming = db.with_extension("db.restoring");
            {
                let mut entry = zip
                    .by_name(SQLITE_NAME)
                    .context("the backup has no database")?;
                let mut out = std::fs::File::create(&incoming)?;
                std::io::copy(&mut entry, &mut out)?;
                out.sync_all()?;
            }
            // The database it replaces is kept whole: its WAL and shared memory move with it, named
            // as SQLite looks for them beside the kept file.
            let kept_db = set_aside(&db, &stamp)?;
            for extra in ["-wal", "-shm"] {
                let mut from = db.as_os_str().to_owned();
                from.push(extra);
                let from = PathBuf::from(from);
                if !from.exists() {
                    continue;
                }
                match &kept_db {
                    Some(k) => {
                        let mut to = k.as_os_str().to_owned();
                        to.push(extra);
                        std::fs::rename(&from, PathBuf::from(&to))
                            .with_context(|| format!("cannot move {} aside", from.display()))?;
                    }
                    None => kept.extend(set_aside(&from, &stamp)?),
                }
            }
            kept.extend(kept_db);
            std::fs::rename(&incoming, &db)?;
        }
        Backend::Postgres => {
            let dump = config.data_dir.join(format!("{PG_NAME}.restoring"));
            {
                let mut entry = zip.by_name(PG_NAME).context("the backup has no database")?;
                let mut out = std::fs::File::create(&dump)?;
                std::io::copy(&mut entry, &mut out)?;
            }
            let out = std::process::Command::new("pg_restore")
                .args([
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    "--dbname",
                ])
                .arg(&config.database_url)
                .arg(&dump)
                .output()
                .context("cannot run pg_restore (install the PostgreSQL client tools)")?;
            let _ = std::fs::remove_file(&dump);
            if !out.status.success() {
                bail!(
                    "pg_restore failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
    }
    // The anchors: the backup's, which end with the restored chain's head. The live ones may name
    // later heads the restored database never had; they are kept aside, not lost.
    let anchors = crate::audit_cmd::default_anchors(config);
    kept.extend(set_aside(&anchors, &stamp)?);
    {
        let mut entry = zip.by_name(ANCHORS_NAME)?;
        let mut out = std::fs::File::create(&anchors)?;
        std::io::copy(&mut entry, &mut out)?;
    }
    // The electricity data.
    let power = config.data_dir.join("power");
    kept.extend(set_aside(&power, &stamp)?);
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        let Some(name) = entry.enclosed_name() else {
            bail!("the backup names a file outside its folder");
        };
        if !name.starts_with("power") || entry.is_dir() {
            continue;
        }
        let to = config.data_dir.join(&name);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = std::fs::File::create(&to)?;
        std::io::copy(&mut entry, &mut out)?;
    }
    println!(
        "restored {} (taken {}, audit chain head {})",
        file.display(),
        field("created_at"),
        field("audit_head_seq")
    );
    for k in &kept {
        println!("  kept what it replaced: {}", k.display());
    }
    // Then prove it: replay, recount, verify.
    let service = crate::open(config).await?;
    let (checked, diffs) = service.check_all(|_| {}).await?;
    println!(
        "check: {checked} requests replayed, {} differences",
        diffs.len()
    );
    let facts = service.check_facts().await?;
    println!(
        "scorecard: {}",
        facts.as_deref().unwrap_or("counts agree with the requests")
    );
    let dangling = crate::print_dangling(&service, "  ").await?;
    println!("references: {dangling} that name no row");
    let text = std::fs::read_to_string(&anchors)?;
    let parsed = redgrid_store::audit::parse_anchors(&text).map_err(anyhow::Error::msg)?;
    let keys = crate::chain_key::load(config)?
        .map(|(k, _)| k)
        .unwrap_or_default();
    let v = redgrid_store::audit::verify(service.store(), &parsed, &keys).await?;
    for f in &v.findings {
        println!("  {f}");
    }
    println!(
        "audit verify: {} records, head {}, {} anchors checked, {} problems",
        v.records,
        v.head_seq,
        parsed.len(),
        v.findings.len()
    );
    service.store().flush().await?;
    Ok(
        if diffs.is_empty() && facts.is_none() && dangling == 0 && v.findings.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}
