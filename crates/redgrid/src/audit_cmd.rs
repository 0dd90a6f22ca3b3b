//! `redgrid audit`: verify the district's hash chain, and keep anchors of it outside the database.

use anyhow::Context;

use crate::config::{Config, ConfigArgs};
use redgrid_store::Store;
use redgrid_store::audit;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Subcommand)]
pub enum AuditCmd {
    /// Walk the whole chain and every request event; print each changed, inserted, reordered or
    /// deleted record and exit 1 if there is any.
    Verify {
        #[command(flatten)]
        config: ConfigArgs,
        /// Anchors kept outside the database (`<seq> <hash>` lines); default
        /// `<data dir>/audit-anchors.txt` when it exists.
        #[arg(long)]
        anchors: Option<PathBuf>,
    },
    /// Start linking new records with a new key; the old keys stay in the key file, so older links
    /// still verify. A running server takes the new key when it next starts.
    RotateKey {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print the chain's head (`<seq> <hash>`), or append it to a file, to keep outside the database.
    Anchor {
        #[command(flatten)]
        config: ConfigArgs,
        /// Append the line to this file instead of printing it.
        #[arg(long)]
        append: Option<PathBuf>,
    },
}

/// The anchors file the server keeps in the data folder.
pub fn default_anchors(config: &Config) -> PathBuf {
    config.data_dir.join("audit-anchors.txt")
}

/// The last line of `file` (read from its end: the file grows by a line every few seconds).
fn last_line(file: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(file).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(512))).ok()?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).ok()?;
    let text = String::from_utf8_lossy(&tail);
    text.lines().last().map(str::to_string)
}

/// Appends the chain's head to `file` unless it is the last line already; returns the line written.
pub async fn append_anchor(store: &Arc<dyn Store>, file: &Path) -> anyhow::Result<Option<String>> {
    let (seq, hash) = store.audit_head().await?;
    if seq == 0 {
        return Ok(None);
    }
    let line = format!("{seq} {hash}");
    let last = last_line(file);
    if last
        .as_deref()
        .and_then(|l| l.split('#').next())
        .map(str::trim)
        == Some(line.as_str())
    {
        return Ok(None);
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .with_context(|| format!("{}", file.display()))?;
    writeln!(f, "{line} # {}", redgrid_app::service::now().to_rfc3339())
        .with_context(|| format!("{}", file.display()))?;
    Ok(Some(line))
}

/// Anchors the district's chain head every `anchor_interval_secs` (when it moved) to the anchors
/// file, and to `anchor_url` when one is set, so that a cut-off tail is found within seconds. Runs
/// in the server; shutdown anchors once more.
pub fn start_anchoring(
    config: &Config,
    service: Arc<redgrid_app::Service>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if config.anchor_interval_secs == 0 {
        return Ok(None);
    }
    let endpoint = config
        .anchor_url
        .as_deref()
        .map(redgrid_app::outbox::HttpEndpoint::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("anchor_url: {e}"))?;
    let file = default_anchors(config);
    // The district's code, from the file or else the database: a receiver may hear from several.
    let district = config
        .site
        .as_ref()
        .map(|s| s.code.clone())
        .or_else(|| service.directory().district().map(|a| a.code.clone()));
    let every = std::time::Duration::from_secs(config.anchor_interval_secs);
    Ok(Some(tokio::spawn(async move {
        let metrics = service.metrics().clone();
        let mut tick = tokio::time::interval(every);
        let mut warned: Option<std::time::Instant> = None;
        loop {
            tick.tick().await;
            let failed = match append_anchor(service.store(), &file).await {
                Ok(None) => None,
                Ok(Some(line)) => {
                    metrics.job_round("anchor", "ok");
                    match &endpoint {
                        None => None,
                        Some(e) => {
                            let body = format!(
                                "{} {line} {}\n",
                                district.as_deref().unwrap_or("-"),
                                redgrid_app::service::now().to_rfc3339()
                            );
                            match e.post("text/plain; charset=utf-8", "", &body, every).await {
                                Ok(code) if (200..300).contains(&code) => None,
                                Ok(code) => Some(format!("{}: HTTP {code}", e.url())),
                                Err(err) => Some(format!("{}: {err}", e.url())),
                            }
                        }
                    }
                }
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = failed {
                metrics.job_round("anchor", "error");
                // Said at most once a minute: an unreachable target would fill the log otherwise.
                if warned.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60)) {
                    warned = Some(std::time::Instant::now());
                    tracing::warn!(job = "anchor", district = district.as_deref().unwrap_or(""), error = %why, "cannot anchor the audit chain");
                }
            }
        }
    })))
}

pub async fn run(what: AuditCmd) -> anyhow::Result<ExitCode> {
    match what {
        AuditCmd::Verify { config, anchors } => {
            let config = Config::resolve(&config, Path::new("redgrid-data"))?;
            let service = crate::open(&config).await?;
            let file = anchors.or_else(|| Some(default_anchors(&config)).filter(|f| f.exists()));
            let anchors = match &file {
                Some(f) => {
                    let text = std::fs::read_to_string(f)
                        .with_context(|| format!("cannot read {}", f.display()))?;
                    audit::parse_anchors(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?
                }
                None => vec![],
            };
            let keys = crate::chain_key::load(&config)?
                .map(|(k, _)| k)
                .unwrap_or_default();
            let v = audit::verify(service.store(), &anchors, &keys).await?;
            for f in &v.findings {
                println!("{f}");
            }
            println!(
                "audit chain: {} records, {} request events, head {} {}; {} anchors checked{}; {} problems",
                v.records,
                v.events,
                v.head_seq,
                v.head_hash,
                anchors.len(),
                file.map(|f| format!(" ({})", f.display()))
                    .unwrap_or_default(),
                v.findings.len()
            );
            for line in proven(&v) {
                println!("{line}");
            }
            Ok(if v.findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        AuditCmd::RotateKey { config } => {
            let config = Config::resolve(&config, Path::new("redgrid-data"))?;
            let service = crate::open(&config).await?;
            let (id, from) = crate::chain_key::rotate(&config, service.store()).await?;
            println!(
                "key {id} written to {}; records from {from} on are linked with it once the server restarts",
                crate::chain_key::key_file(&config).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Anchor { config, append } => {
            let config = Config::resolve(&config, Path::new("redgrid-data"))?;
            let service = crate::open(&config).await?;
            match append {
                Some(file) => match append_anchor(service.store(), &file).await? {
                    Some(line) => println!("appended {line} to {}", file.display()),
                    None => println!("{} already ends with the head", file.display()),
                },
                None => {
                    let (seq, hash) = service.store().audit_head().await?;
                    println!("{seq} {hash}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What a clean verification proves and what it cannot, in plain words.
pub fn proven(v: &audit::Verification) -> Vec<String> {
    let mut out = Vec::new();
    if v.records == 0 {
        out.push("proved: nothing yet (the chain is empty)".to_string());
        return out;
    }
    match v.first_keyed {
        Some(first) => out.push(format!(
            "proved: records {first}–{} are linked with the chain key; changing, inserting, \
             reordering or deleting any of them, or an event they cover, is found unless the key \
             itself was taken",
            v.head_seq
        )),
        None => out.push(
            "not proved: no record is keyed; someone able to write to the database could rewrite \
             the chain and recompute every link"
                .to_string(),
        ),
    }
    if v.plain > 0 {
        out.push(format!(
            "not proved: {} records written before the chain was keyed have plain SHA-256 links; \
             only anchors taken since then protect them",
            v.plain
        ));
    }
    match v.last_anchor {
        Some(a) if a >= v.head_seq => out.push(format!(
            "proved: the chain still holds its newest anchored record ({a}), the head"
        )),
        Some(a) => out.push(format!(
            "not proved: records {}–{} came after the last anchor ({a}); if newer records were cut \
             off together with their events, nothing here shows it",
            a + 1,
            v.head_seq
        )),
        None => out.push(
            "not proved: no anchor was checked, so a cut-off tail (the newest records deleted with \
             their events) would not be found"
                .to_string(),
        ),
    }
    out
}
