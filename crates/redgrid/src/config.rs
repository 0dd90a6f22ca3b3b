//! Configuration: command-line flags, then `REDGRID_*` environment variables, then a TOML file
//! (`--config FILE`, or `redgrid.toml` in the data directory), then defaults.

use anyhow::Context;

use clap::Args;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the data lives and where to listen. Every field may come from a flag, an environment
/// variable or the config file.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "REDGRID_LISTEN")]
    pub listen: Option<String>,
    /// Folder for the embedded database and other data.
    #[arg(long, env = "REDGRID_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` for PostgreSQL, or `sqlite://FILE`; default: SQLite in the data folder.
    #[arg(long, env = "REDGRID_DATABASE_URL")]
    pub database_url: Option<String>,
    /// A TOML file with `listen`, `data_dir`, `database_url`, `rating_window_days`.
    #[arg(long, env = "REDGRID_CONFIG")]
    pub config: Option<PathBuf>,
    /// Days a requester has to rate before a verified request is closed without a rating.
    #[arg(long, env = "REDGRID_RATING_WINDOW_DAYS")]
    pub rating_window_days: Option<i64>,
    /// Folder of district calendar files (`*.cal`, one per year); default `<data dir>/calendars`.
    #[arg(long, env = "REDGRID_CALENDAR_DIR")]
    pub calendar_dir: Option<PathBuf>,
    /// Escalate a request one level once it has been red this many working days (off by default).
    #[arg(long, env = "REDGRID_AUTO_ESCALATE_AFTER_DAYS")]
    pub auto_escalate_after_days: Option<i64>,
    /// Seconds between rounds of the background jobs (sweeper, closer, escalation, delivery); 0: off.
    #[arg(long, env = "REDGRID_JOBS_INTERVAL_SECS")]
    pub jobs_interval_secs: Option<u64>,
    /// File the log sender appends notifications to; default `<data dir>/notifications.log`.
    #[arg(long, env = "REDGRID_NOTIFY_LOG")]
    pub notify_log: Option<PathBuf>,
    /// An `http://` URL every notification is also POSTed to.
    #[arg(long, env = "REDGRID_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// Hours a login lasts (1–720; default 12).
    #[arg(long, env = "REDGRID_SESSION_HOURS")]
    pub session_hours: Option<i64>,
    /// Mark the session cookie Secure (set when users reach redgrid over https, e.g. via a TLS proxy).
    #[arg(long, env = "REDGRID_SECURE_COOKIES")]
    pub secure_cookies: Option<bool>,
    /// The SMS platform's `http://` URL; unset: text messages go to the server log.
    #[arg(long, env = "REDGRID_SMS_URL")]
    pub sms_url: Option<String>,
    /// The body POSTed for each message, with `{phone}` and `{text}`.
    #[arg(long, env = "REDGRID_SMS_BODY")]
    pub sms_body: Option<String>,
    /// The body's content type (default `application/json`).
    #[arg(long, env = "REDGRID_SMS_CONTENT_TYPE")]
    pub sms_content_type: Option<String>,
    /// Connections open at once (default 1000); at the cap new ones wait.
    #[arg(long, env = "REDGRID_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Seconds a client may take to send a request head, and a keep-alive connection may idle
    /// (default 30).
    #[arg(long, env = "REDGRID_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Seconds requests in flight get to finish at shutdown (default 20).
    #[arg(long, env = "REDGRID_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    rating_window_days: Option<i64>,
    calendar_dir: Option<PathBuf>,
    auto_escalate_after_days: Option<i64>,
    jobs_interval_secs: Option<u64>,
    notify_log: Option<PathBuf>,
    webhook_url: Option<String>,
    session_hours: Option<i64>,
    secure_cookies: Option<bool>,
    sms_url: Option<String>,
    sms_body: Option<String>,
    sms_content_type: Option<String>,
    max_connections: Option<usize>,
    idle_timeout_secs: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    filings_per_person_hour: Option<usize>,
    filings_per_address_hour: Option<usize>,
    uploads_per_person_hour: Option<i64>,
    upload_mb_per_person_day: Option<i64>,
    /// The composite's weights: response, resolution, satisfaction (summing to 1).
    composite_weights: Option<[f64; 3]>,
}

/// The configuration in force.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub rating_window_days: i64,
    pub calendar_dir: PathBuf,
    pub auto_escalate_after_days: Option<i64>,
    pub jobs_interval_secs: u64,
    pub notify_log: PathBuf,
    pub webhook_url: Option<String>,
    pub composite_weights: [f64; 3],
    pub session_hours: i64,
    pub secure_cookies: bool,
    /// The HTTP SMS sender, when configured.
    pub sms: Option<SmsConfig>,
    pub max_connections: usize,
    pub idle_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    /// Limits per person and per address (TOML only; 0 switches one off).
    pub limits: redgrid_app::limits::Limits,
}

/// Where text messages go over HTTP.
#[derive(Debug, Clone)]
pub struct SmsConfig {
    pub url: String,
    pub body: String,
    pub content_type: String,
}

impl SmsConfig {
    pub fn sender(&self) -> anyhow::Result<redgrid_app::sms::HttpSms> {
        redgrid_app::sms::HttpSms::new(
            &self.url,
            &self.body,
            &self.content_type,
            std::time::Duration::from_secs(5),
        )
        .map_err(anyhow::Error::msg)
    }
}

/// `value` (or `default` when unset), refused outside `range` with the setting's name.
fn within<T: PartialOrd + std::fmt::Display + Copy>(
    name: &str,
    value: Option<T>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> anyhow::Result<T> {
    let v = value.unwrap_or(default);
    if !range.contains(&v) {
        anyhow::bail!("{name} must be {}–{}, not {v}", range.start(), range.end());
    }
    Ok(v)
}

impl Config {
    /// Merges flags/env with the file and the defaults. `default_dir` differs for `demo`.
    pub fn resolve(args: &ConfigArgs, default_dir: &Path) -> anyhow::Result<Config> {
        let file_path = args.config.clone().or_else(|| {
            let dir = args
                .data_dir
                .clone()
                .unwrap_or_else(|| default_dir.to_path_buf());
            let p = dir.join("redgrid.toml");
            p.exists().then_some(p)
        });
        let file = match &file_path {
            None => FileConfig::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("{}", p.display()))?
            }
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| default_dir.to_path_buf());
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("redgrid.db").display()));
        let rating_window_days = args
            .rating_window_days
            .or(file.rating_window_days)
            .unwrap_or(7);
        if !(1..=90).contains(&rating_window_days) {
            anyhow::bail!("rating_window_days must be 1–90, not {rating_window_days}");
        }
        let calendar_dir = args
            .calendar_dir
            .clone()
            .or(file.calendar_dir)
            .unwrap_or_else(|| data_dir.join("calendars"));
        let auto_escalate_after_days = args
            .auto_escalate_after_days
            .or(file.auto_escalate_after_days);
        if let Some(d) = auto_escalate_after_days
            && !(1..=30).contains(&d)
        {
            anyhow::bail!("auto_escalate_after_days must be 1–30, not {d}");
        }
        let composite_weights = file.composite_weights.unwrap_or([0.1, 0.5, 0.4]);
        if composite_weights.iter().any(|w| !(0.0..=1.0).contains(w))
            || (composite_weights.iter().sum::<f64>() - 1.0).abs() > 1e-9
        {
            anyhow::bail!(
                "composite_weights must be three numbers from 0 to 1 that sum to 1, not {composite_weights:?}"
            );
        }
        if let Some(url) = args.webhook_url.clone().or(file.webhook_url.clone()) {
            redgrid_app::outbox::WebhookSender::new(&url, std::time::Duration::from_secs(5))
                .map_err(anyhow::Error::msg)?;
        }
        let session_hours = args.session_hours.or(file.session_hours).unwrap_or(12);
        if !(1..=720).contains(&session_hours) {
            anyhow::bail!("session_hours must be 1–720, not {session_hours}");
        }
        let sms = match args.sms_url.clone().or(file.sms_url) {
            None => None,
            Some(url) => {
                let sms =
                    SmsConfig {
                        url,
                        body: args.sms_body.clone().or(file.sms_body).unwrap_or_else(|| {
                            r#"{"phone":"{phone}","text":"{text}"}"#.to_string()
                        }),
                        content_type: args
                            .sms_content_type
                            .clone()
                            .or(file.sms_content_type)
                            .unwrap_or_else(|| "application/json".to_string()),
                    };
                sms.sender()?;
                Some(sms)
            }
        };
        let max_connections = within(
            "max_connections",
            args.max_connections.or(file.max_connections),
            1000,
            1..=100_000,
        )?;
        let idle_timeout_secs = within(
            "idle_timeout_secs",
            args.idle_timeout_secs.or(file.idle_timeout_secs),
            30,
            1..=600,
        )?;
        let shutdown_grace_secs = within(
            "shutdown_grace_secs",
            args.shutdown_grace_secs.or(file.shutdown_grace_secs),
            20,
            0..=600,
        )?;
        let d = redgrid_app::limits::Limits::default();
        let limits = redgrid_app::limits::Limits {
            filings_per_person_hour: within(
                "filings_per_person_hour",
                file.filings_per_person_hour,
                d.filings_per_person_hour,
                0..=100_000,
            )?,
            filings_per_address_hour: within(
                "filings_per_address_hour",
                file.filings_per_address_hour,
                d.filings_per_address_hour,
                0..=1_000_000,
            )?,
            uploads_per_person_hour: within(
                "uploads_per_person_hour",
                file.uploads_per_person_hour,
                d.uploads_per_person_hour,
                0..=100_000,
            )?,
            upload_bytes_per_person_day: within(
                "upload_mb_per_person_day",
                file.upload_mb_per_person_day,
                d.upload_bytes_per_person_day / (1024 * 1024),
                0..=100_000,
            )? * 1024
                * 1024,
        };
        Ok(Config {
            limits,
            max_connections,
            idle_timeout_secs,
            shutdown_grace_secs,
            sms,
            session_hours,
            secure_cookies: args.secure_cookies.or(file.secure_cookies).unwrap_or(false),
            auto_escalate_after_days,
            jobs_interval_secs: args
                .jobs_interval_secs
                .or(file.jobs_interval_secs)
                .unwrap_or(60),
            notify_log: args
                .notify_log
                .clone()
                .or(file.notify_log)
                .unwrap_or_else(|| data_dir.join("notifications.log")),
            webhook_url: args.webhook_url.clone().or(file.webhook_url),
            composite_weights,
            calendar_dir,
            listen: args
                .listen
                .clone()
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".to_string()),
            data_dir,
            database_url,
            rating_window_days,
        })
    }

    /// The database URL with any password hidden, for logs.
    pub fn database_display(&self) -> String {
        match self.database_url.split_once('@') {
            Some((head, tail)) if head.contains("://") && head.matches(':').count() >= 2 => {
                let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
                let user = head[scheme_end..].split(':').next().unwrap_or("");
                format!("{}{user}:***@{tail}", &head[..scheme_end])
            }
            _ => self.database_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let dir = std::env::temp_dir().join(format!("redgrid-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("redgrid.toml"),
            "listen = \"0.0.0.0:9000\"\nrating_window_days = 5\n",
        )
        .unwrap();
        let args = ConfigArgs {
            data_dir: Some(dir.clone()),
            ..Default::default()
        };
        let c = Config::resolve(&args, Path::new("unused")).unwrap();
        assert_eq!(
            (c.listen.as_str(), c.rating_window_days),
            ("0.0.0.0:9000", 5)
        );
        assert!(c.database_url.starts_with("sqlite://") && c.database_url.ends_with("redgrid.db"));
        let args = ConfigArgs {
            data_dir: Some(dir.clone()),
            listen: Some("127.0.0.1:1".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::resolve(&args, Path::new("unused")).unwrap().listen,
            "127.0.0.1:1"
        );
        std::fs::write(dir.join("redgrid.toml"), "lisen = 1\n").unwrap();
        let err = Config::resolve(
            &ConfigArgs {
                data_dir: Some(dir.clone()),
                ..Default::default()
            },
            Path::new("x"),
        )
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("unknown field"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
        let c = Config::resolve(&ConfigArgs::default(), Path::new("/tmp/none-here")).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        let c = Config {
            database_url: "postgres://u:secret@h/db".into(),
            ..c
        };
        assert_eq!(c.database_display(), "postgres://u:***@h/db");
    }
}
