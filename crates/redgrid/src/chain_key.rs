//! The audit chain's key, held outside the database (docs/operators/accounts-and-audit.md, "The
//! chain key"): `REDGRID_CHAIN_KEY`, or the file `chain.key` in the data folder, readable only by
//! its owner. A database whose chain has no keyed record yet gets a new key, keyed from the next
//! record on; a keyed chain is never extended without its key, and a key that does not match the
//! chain is refused, so a wrong or missing key stops the server instead of starting a new chain.

use crate::config::Config;
use anyhow::{Context, bail};
use redgrid_store::Store;
use redgrid_store::audit::{self, Keyring};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The environment variable that may hold the keyring (its lines separated by newlines or `;`).
pub const ENV: &str = "REDGRID_CHAIN_KEY";

/// The key file of a district's data folder.
pub fn key_file(config: &Config) -> PathBuf {
    config.data_dir.join("chain.key")
}

/// The keyring given by the environment or the key file, if any.
pub fn load(config: &Config) -> anyhow::Result<Option<(Keyring, String)>> {
    if let Ok(text) = std::env::var(ENV) {
        let keys =
            Keyring::parse(&text.replace(';', "\n")).map_err(|e| anyhow::anyhow!("{ENV}: {e}"))?;
        return Ok(Some((keys, ENV.to_string())));
    }
    let file = key_file(config);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    check_private(&file)?;
    let keys = Keyring::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    Ok(Some((keys, file.display().to_string())))
}

/// A key file anyone but its owner can read is refused: it would let them recompute the chain.
#[cfg(unix)]
fn check_private(file: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} can be read by others (mode {:o}); make it the owner's only: chmod 600 {}",
            file.display(),
            mode & 0o777,
            file.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_file: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// Writes a new key file, readable and writable by its owner only; never over an existing one.
pub fn write_new(file: &Path, keys: &Keyring) -> anyhow::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(file)
        .with_context(|| format!("cannot create {}", file.display()))?;
    f.write_all(keys.to_text().as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", file.display()))
}

/// A new random key secret.
fn new_secret() -> anyhow::Result<Vec<u8>> {
    let hex = redgrid_app::accounts::random_hex(32)?;
    Ok((0..hex.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect())
}

/// Finds the keyring for `store`'s chain, checks it against the chain, and gives it to the store.
/// Creates a key file when the chain has no keyed record yet and none is given.
pub async fn install(config: &Config, store: &Arc<dyn Store>) -> anyhow::Result<Keyring> {
    let given = load(config)?;
    let last = store.last_keyed().await?;
    let keys = match (given, last) {
        (None, Some(row)) => bail!(
            "the audit chain is keyed (record {} uses key {}), but no key was found: neither {} \
             nor {ENV}. Put the key file back (from where it was kept with the backups); redgrid \
             never starts a new chain over a keyed one",
            row.seq,
            row.key_id,
            key_file(config).display()
        ),
        (Some((keys, from)), Some(row)) => {
            let Some(key) = keys.get(row.key_id) else {
                bail!(
                    "the audit chain's record {} uses key {}, which {from} does not hold: wrong \
                     or outdated key file",
                    row.seq,
                    row.key_id
                );
            };
            let hash = audit::chain_hash(&row.prev_hash, row.seq, &row.record, Some(&key.secret));
            if hash != row.hash {
                bail!(
                    "the key in {from} does not match the audit chain (record {}, key {}): wrong \
                     key file, or the database is another district's",
                    row.seq,
                    row.key_id
                );
            }
            keys
        }
        (Some((keys, from)), None) => {
            // Records left waiting by a process that had the key are linked with it now; only
            // then is the chain's head compared with where the key says keyed links begin.
            store.set_keyring(keys.clone());
            let (head, _) = store.audit_head().await?;
            let keyed = store.last_keyed().await?.is_some();
            if let Some(since) = keys.keyed_since()
                && head >= since
                && !keyed
            {
                store.set_keyring(Keyring::default());
                bail!(
                    "{from} says records from {since} on are keyed, but the chain's {head} \
                     records all have plain links: the database is not the one this key belongs \
                     to, or its chain was rewritten"
                );
            }
            keys
        }
        (None, None) => {
            // A new chain, or one from before keys: keyed from the next record on.
            let (head, _) = store.audit_head().await?;
            let keys = Keyring::default().with_key(new_secret()?, head + 1);
            let file = key_file(config);
            write_new(&file, &keys)?;
            tracing::info!(
                file = %file.display(),
                from = head + 1,
                "created the audit chain's key; keep it secret and back it up apart from the database"
            );
            keys
        }
    };
    store.set_keyring(keys.clone());
    Ok(keys)
}

/// `redgrid audit rotate-key`: a new key for the records from the next one on; the old keys stay
/// in the file so old links still verify, each only for its own range of records. Only while no
/// server runs on the folder, so that the new key's first record is exactly where it says.
pub async fn rotate(config: &Config, store: &Arc<dyn Store>) -> anyhow::Result<(i64, i64)> {
    if std::env::var_os(ENV).is_some() {
        bail!("the key comes from {ENV}: rotate it where that variable is set, not here");
    }
    let _lock = crate::backup_cmd::hold_lock(config)?;
    let keys = install(config, store).await?;
    let (head, _) = store.audit_head().await?;
    let rotated = keys.with_key(new_secret()?, head + 1);
    let file = key_file(config);
    let next = file.with_extension("key.new");
    let _ = std::fs::remove_file(&next);
    write_new(&next, &rotated)?;
    std::fs::rename(&next, &file).with_context(|| format!("cannot replace {}", file.display()))?;
    let id = rotated.current().map_or(0, |k| k.id);
    Ok((id, head + 1))
}
