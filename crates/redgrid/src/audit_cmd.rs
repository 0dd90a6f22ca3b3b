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

/// Appends the chain's head to `file` unless it is the last line already; returns the line written.
pub async fn append_anchor(store: &Arc<dyn Store>, file: &Path) -> anyhow::Result<Option<String>> {
    let (seq, hash) = store.audit_head().await?;
    if seq == 0 {
        return Ok(None);
    }
    let line = format!("{seq} {hash}");
    let existing = std::fs::read_to_string(file).unwrap_or_default();
    let last = existing.lines().last().and_then(|l| l.split('#').next());
    if last.map(str::trim) == Some(line.as_str()) {
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
            let v = audit::verify(service.store(), &anchors).await?;
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
            Ok(if v.findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
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
