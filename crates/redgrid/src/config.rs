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
    /// Erase the personal data of residents whose requests all closed more than this many days ago
    /// (a daily job; off by default; 30–36500).
    #[arg(long, env = "REDGRID_RETENTION_DAYS")]
    pub retention_days: Option<i64>,
    /// Seconds between rounds of the background jobs (sweeper, closer, escalation, delivery); 0: off.
    #[arg(long, env = "REDGRID_JOBS_INTERVAL_SECS")]
    pub jobs_interval_secs: Option<u64>,
    /// Seconds between anchors of the audit chain's head to `<data dir>/audit-anchors.txt` (and
    /// `anchor_url`, when set); default 5; 0: only at shutdown.
    #[arg(long, env = "REDGRID_ANCHOR_INTERVAL_SECS")]
    pub anchor_interval_secs: Option<u64>,
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
    /// Seconds writing an answer may wait on a client that reads nothing, before the connection
    /// is dropped (default 60).
    #[arg(long, env = "REDGRID_WRITE_TIMEOUT_SECS")]
    pub write_timeout_secs: Option<u64>,
    /// Seconds requests in flight get to finish at shutdown (default 20).
    #[arg(long, env = "REDGRID_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// The bearer token a Prometheus scraper sends for `/metrics` (16 or more visible ASCII
    /// characters); unset: `/metrics` answers only clients on this machine.
    #[arg(long, env = "REDGRID_METRICS_TOKEN")]
    pub metrics_token: Option<String>,
    /// The district to work on (its 6-digit code), in an installation that serves several
    /// (`[[districts]]` in the config file); `serve` without it serves them all.
    #[arg(long, env = "REDGRID_DISTRICT")]
    pub district: Option<String>,
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
    retention_days: Option<i64>,
    jobs_interval_secs: Option<u64>,
    anchor_interval_secs: Option<u64>,
    anchor_url: Option<String>,
    notify_log: Option<PathBuf>,
    webhook_url: Option<String>,
    session_hours: Option<i64>,
    secure_cookies: Option<bool>,
    sms_url: Option<String>,
    sms_body: Option<String>,
    sms_content_type: Option<String>,
    max_connections: Option<usize>,
    idle_timeout_secs: Option<u64>,
    write_timeout_secs: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    filings_per_person_hour: Option<usize>,
    filings_per_address_hour: Option<usize>,
    uploads_per_person_hour: Option<i64>,
    upload_mb_per_person_day: Option<i64>,
    /// The composite's weights: response, resolution, satisfaction (summing to 1).
    composite_weights: Option<[f64; 3]>,
    metrics_token: Option<String>,
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` names the client.
    trusted_proxies: Option<Vec<String>>,
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
    /// See [`ConfigArgs::retention_days`].
    pub retention_days: Option<i64>,
    pub jobs_interval_secs: u64,
    /// Seconds between anchors of the chain's head; 0: only at shutdown.
    pub anchor_interval_secs: u64,
    /// Where each anchor is also sent (an HTTP POST of the `<seq> <hash>` line), if anywhere.
    pub anchor_url: Option<String>,
    pub notify_log: PathBuf,
    pub webhook_url: Option<String>,
    pub composite_weights: [f64; 3],
    pub session_hours: i64,
    pub secure_cookies: bool,
    /// The HTTP SMS sender, when configured.
    pub sms: Option<SmsConfig>,
    pub max_connections: usize,
    pub idle_timeout_secs: u64,
    pub write_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    /// Limits per person and per address (TOML only; 0 switches one off).
    pub limits: redgrid_app::limits::Limits,
    /// The bearer token `/metrics` asks for; `None`: only clients on this machine may read it.
    pub metrics_token: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (TOML only).
    pub trusted_proxies: Vec<redgrid_web::proxy::Network>,
    /// Which district this is, when the configuration names one (`[[districts]]` or `--district`):
    /// the database's district must have this code.
    pub site: Option<Site>,
}

/// One district of an installation: its code and how requests reach it.
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// The district's 6-digit code.
    pub code: String,
    /// The district's name (for the list of districts, and for `admin create` on an empty
    /// database).
    pub name: Option<String>,
    /// Host names (lower case, no port) whose requests go to this district.
    pub hosts: Vec<String>,
    /// A listener of its own (`host:port`), besides the installation's.
    pub listen: Option<String>,
    /// Requests to a host no district claims go here.
    pub default: bool,
}

/// What `serve` runs: the installation's listener and connection settings (`server`), and each
/// district it serves. Without `[[districts]]` there is one, configured as before.
#[derive(Debug, Clone)]
pub struct Installation {
    pub server: Config,
    pub districts: Vec<Config>,
    /// Whether the file lists `[[districts]]` (so every request is placed by host name).
    pub several: bool,
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
    /// Merges flags/env with the file and the defaults, for one district (chosen with
    /// `--district` when the file lists several). `default_dir` differs for `demo`.
    pub fn resolve(args: &ConfigArgs, default_dir: &Path) -> anyhow::Result<Config> {
        Installation::resolve(args, default_dir)?.pick(args.district.as_deref())
    }

    fn build(args: &ConfigArgs, file: FileConfig, default_dir: &Path) -> anyhow::Result<Config> {
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
        let retention_days = args.retention_days.or(file.retention_days);
        if let Some(d) = retention_days
            && !(30..=36_500).contains(&d)
        {
            anyhow::bail!("retention_days must be 30–36500, not {d}");
        }
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
        let write_timeout_secs = within(
            "write_timeout_secs",
            args.write_timeout_secs.or(file.write_timeout_secs),
            60,
            1..=3600,
        )?;
        let shutdown_grace_secs = within(
            "shutdown_grace_secs",
            args.shutdown_grace_secs.or(file.shutdown_grace_secs),
            20,
            0..=600,
        )?;
        let metrics_token = args.metrics_token.clone().or(file.metrics_token);
        if let Some(t) = &metrics_token
            && (t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            anyhow::bail!(
                "metrics_token must be 16 or more visible ASCII characters (letters, digits, \
                 punctuation; no spaces)"
            );
        }
        let trusted_proxies = file
            .trusted_proxies
            .unwrap_or_default()
            .iter()
            .map(|t| redgrid_web::proxy::Network::parse(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?;
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
            metrics_token,
            trusted_proxies,
            limits,
            max_connections,
            idle_timeout_secs,
            write_timeout_secs,
            shutdown_grace_secs,
            sms,
            session_hours,
            secure_cookies: args.secure_cookies.or(file.secure_cookies).unwrap_or(false),
            auto_escalate_after_days,
            retention_days,
            jobs_interval_secs: args
                .jobs_interval_secs
                .or(file.jobs_interval_secs)
                .unwrap_or(60),
            anchor_interval_secs: args
                .anchor_interval_secs
                .or(file.anchor_interval_secs)
                .unwrap_or(5),
            anchor_url: file.anchor_url.clone(),
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
            site: None,
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

/// Settings that hold for the whole server, not per district.
const SERVER_WIDE: [&str; 5] = [
    "max_connections",
    "idle_timeout_secs",
    "write_timeout_secs",
    "shutdown_grace_secs",
    "districts",
];

/// Settings each district has on its own unless it sets them: they are never inherited from the
/// file's top level.
const OWN: [&str; 4] = ["data_dir", "database_url", "notify_log", "listen"];

impl Installation {
    /// Reads the configuration: the installation and each of its districts.
    pub fn resolve(args: &ConfigArgs, default_dir: &Path) -> anyhow::Result<Installation> {
        let file_path = args.config.clone().or_else(|| {
            let dir = args
                .data_dir
                .clone()
                .unwrap_or_else(|| default_dir.to_path_buf());
            let p = dir.join("redgrid.toml");
            p.exists().then_some(p)
        });
        let mut table = match &file_path {
            None => toml::Table::new(),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                text.parse::<toml::Table>()
                    .with_context(|| format!("{}", p.display()))?
            }
        };
        let shown = file_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the configuration".into());
        let districts = table.remove("districts");
        let top: FileConfig = toml::Value::Table(table.clone())
            .try_into()
            .with_context(|| shown.clone())?;
        let server = Config::build(args, top, default_dir)?;
        let Some(districts) = districts else {
            return Ok(Installation {
                districts: vec![server.clone()],
                server,
                several: false,
            });
        };
        let toml::Value::Array(entries) = districts else {
            anyhow::bail!("{shown}: districts must be a list of [[districts]] tables");
        };
        if entries.is_empty() {
            anyhow::bail!("{shown}: [[districts]] is empty; list each district, or leave it out");
        }
        if args.notify_log.is_some() {
            anyhow::bail!(
                "{shown}: with [[districts]], each district keeps its own notification log: set \
                 notify_log in a district's table, not by --notify-log or REDGRID_NOTIFY_LOG"
            );
        }
        if table.contains_key("database_url") || args.database_url.is_some() {
            anyhow::bail!(
                "{shown}: with [[districts]], each district has its own database: set database_url \
                 in its [[districts]] table, not for the whole installation"
            );
        }
        let mut inherited = table;
        for key in OWN {
            inherited.remove(key);
        }
        // The flags that name one place belong to the installation, not to each district.
        let district_args = ConfigArgs {
            data_dir: None,
            database_url: None,
            listen: None,
            ..args.clone()
        };
        let mut out: Vec<Config> = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let toml::Value::Table(mut entry) = entry else {
                anyhow::bail!("{shown}: district {} is not a table", i + 1);
            };
            let site =
                take_site(&mut entry).with_context(|| format!("{shown}: district {}", i + 1))?;
            let at = format!("{shown}: district {}", site.code);
            if let Some(key) = SERVER_WIDE.iter().find(|k| entry.contains_key(**k)) {
                anyhow::bail!("{at}: {key} is set for the whole server, not per district");
            }
            let mut merged = inherited.clone();
            merged.extend(entry);
            if !merged.contains_key("data_dir") {
                let dir = server.data_dir.join("districts").join(&site.code);
                merged.insert(
                    "data_dir".into(),
                    toml::Value::String(dir.display().to_string()),
                );
            }
            let file: FileConfig = toml::Value::Table(merged)
                .try_into()
                .with_context(|| at.clone())?;
            let mut config =
                Config::build(&district_args, file, default_dir).with_context(|| at.clone())?;
            config.listen = site.listen.clone().unwrap_or_else(|| server.listen.clone());
            config.max_connections = server.max_connections;
            config.idle_timeout_secs = server.idle_timeout_secs;
            config.write_timeout_secs = server.write_timeout_secs;
            config.shutdown_grace_secs = server.shutdown_grace_secs;
            for other in &out {
                let o = other.site.as_ref().map(|s| s.code.as_str()).unwrap_or("");
                let clash = if other.site.as_ref().is_some_and(|s| s.code == site.code) {
                    Some("the same code".to_string())
                } else if canonical(&other.data_dir) == canonical(&config.data_dir) {
                    Some(format!("the same data_dir {}", config.data_dir.display()))
                } else if database_key(&other.database_url) == database_key(&config.database_url) {
                    Some(format!("the same database {}", config.database_display()))
                } else if let Some(h) = site
                    .hosts
                    .iter()
                    .find(|h| other.site.as_ref().is_some_and(|s| s.hosts.contains(h)))
                {
                    Some(format!("the same host name {h}"))
                } else if site.default && other.site.as_ref().is_some_and(|s| s.default) {
                    Some("default = true as well".to_string())
                } else if site.listen.is_some()
                    && other.site.as_ref().and_then(|s| s.listen.as_ref()) == site.listen.as_ref()
                {
                    Some(format!("the same listen {}", config.listen))
                } else {
                    None
                };
                if let Some(what) = clash {
                    anyhow::bail!("{at}: has {what} as district {o}");
                }
            }
            if site.listen.as_deref() == Some(server.listen.as_str()) {
                anyhow::bail!(
                    "{at}: listen {} is the installation's own address; give the district another \
                     port, or host names",
                    server.listen
                );
            }
            if site.hosts.is_empty() && site.listen.is_none() && !site.default {
                anyhow::bail!(
                    "{at}: no request can reach it: give it hosts, a listen address of its own, \
                     or default = true"
                );
            }
            config.site = Some(site);
            out.push(config);
        }
        Ok(Installation {
            server,
            districts: out,
            several: true,
        })
    }

    /// The one district a command works on: `code`, or the only one there is.
    pub fn pick(self, code: Option<&str>) -> anyhow::Result<Config> {
        let codes = || {
            self.districts
                .iter()
                .filter_map(|c| c.site.as_ref().map(|s| s.code.clone()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.several {
            let mut config = self.server;
            if let Some(code) = code {
                redgrid_core::area::check_area_code(
                    redgrid_core::area::Level::District,
                    code,
                    None,
                )
                .map_err(|_| {
                    anyhow::anyhow!("--district must be a 6-digit district code, not {code:?}")
                })?;
                config.site = Some(Site {
                    code: code.to_string(),
                    ..Site::default()
                });
            }
            return Ok(config);
        }
        match code {
            Some(code) => {
                let list = codes();
                self.districts
                    .into_iter()
                    .find(|c| c.site.as_ref().is_some_and(|s| s.code == code))
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "no district {code} is configured; the districts are {list}"
                        )
                    })
            }
            None if self.districts.len() == 1 => {
                Ok(self.districts.into_iter().next().unwrap_or(self.server))
            }
            None => anyhow::bail!(
                "this installation serves {} districts ({}); say which with --district CODE",
                self.districts.len(),
                codes()
            ),
        }
    }
}

/// A folder as the file system resolves it (symbolic links, `..`), so that two spellings of one
/// folder compare equal; as given, made absolute, when it does not exist yet.
fn canonical(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for part in abs.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// What identifies a database whatever the URL's spelling: a SQLite file's canonical path, or a
/// PostgreSQL server's host, port (default 5432) and database name.
fn database_key(url: &str) -> String {
    if let Some(path) = redgrid_store::sqlite_path(url) {
        let p = Path::new(path);
        let dir = p.parent().map(canonical).unwrap_or_default();
        return format!(
            "sqlite:{}",
            dir.join(p.file_name().unwrap_or_default()).display()
        );
    }
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p),
        _ => (hostport, "5432"),
    };
    format!("pg:{}:{port}/{db}", host.to_ascii_lowercase())
}

/// Takes a `[[districts]]` table's own keys (code, name, hosts, default, listen) out of it.
fn take_site(entry: &mut toml::Table) -> anyhow::Result<Site> {
    let code = match entry.remove("code") {
        Some(toml::Value::String(c)) => c,
        Some(_) => anyhow::bail!("code must be a string of 6 digits, e.g. code = \"120103\""),
        None => anyhow::bail!(
            "every [[districts]] table needs code = \"NNNNNN\" (the district's 6-digit code)"
        ),
    };
    redgrid_core::area::check_area_code(redgrid_core::area::Level::District, &code, None)
        .map_err(|_| anyhow::anyhow!("code must be a district's 6 digits, not {code:?}"))?;
    let name = match entry.remove("name") {
        None => None,
        Some(toml::Value::String(n)) if !n.trim().is_empty() => Some(n.trim().to_string()),
        Some(_) => anyhow::bail!("district {code}: name must be a non-empty string"),
    };
    let hosts = match entry.remove("hosts") {
        None => Vec::new(),
        Some(toml::Value::Array(hs)) => {
            let mut out = Vec::new();
            for h in hs {
                let toml::Value::String(h) = h else {
                    anyhow::bail!("district {code}: hosts must be a list of host names");
                };
                let h = h.trim().trim_end_matches('.').to_ascii_lowercase();
                if h.is_empty() || h.contains(['/', ':', ' ', '@']) {
                    anyhow::bail!(
                        "district {code}: {h:?} is not a host name (give names such as \
                         hexi.example.gov, without scheme or port)"
                    );
                }
                out.push(h);
            }
            out
        }
        Some(_) => anyhow::bail!("district {code}: hosts must be a list of host names"),
    };
    let default = match entry.remove("default") {
        None => false,
        Some(toml::Value::Boolean(b)) => b,
        Some(_) => anyhow::bail!("district {code}: default must be true or false"),
    };
    let listen = match entry.remove("listen") {
        None => None,
        Some(toml::Value::String(l)) => Some(l),
        Some(_) => {
            anyhow::bail!("district {code}: listen must be an address such as \"0.0.0.0:8081\"")
        }
    };
    Ok(Site {
        code,
        name,
        hosts,
        listen,
        default,
    })
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

    #[test]
    fn districts_inherit_the_top_level_and_keep_their_own_places() {
        let dir = std::env::temp_dir().join(format!("redgrid-config-d-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("redgrid.toml"),
            "listen = \"0.0.0.0:9000\"\nrating_window_days = 5\nnotify_log = \"/tmp/all.log\"\n\
             max_connections = 50\n\
             [[districts]]\ncode = \"120103\"\nhosts = [\"HEXI.gov.\"]\ndefault = true\n\
             [[districts]]\ncode = \"120104\"\nname = \"南开区\"\nrating_window_days = 9\n\
             listen = \"0.0.0.0:9001\"\ndatabase_url = \"postgres://u:p@h/nankai\"\n",
        )
        .unwrap();
        let args = ConfigArgs {
            data_dir: Some(dir.clone()),
            ..Default::default()
        };
        let inst = Installation::resolve(&args, Path::new("unused")).unwrap();
        assert!(inst.several);
        assert_eq!(inst.server.listen, "0.0.0.0:9000");
        let [hexi, nankai] = &inst.districts[..] else {
            panic!("two districts")
        };
        assert_eq!(hexi.data_dir, dir.join("districts").join("120103"));
        assert!(hexi.database_url.ends_with("districts/120103/redgrid.db"));
        assert_eq!(hexi.calendar_dir, hexi.data_dir.join("calendars"));
        assert_eq!(hexi.notify_log, hexi.data_dir.join("notifications.log"));
        assert_eq!(hexi.rating_window_days, 5);
        assert_eq!(hexi.listen, "0.0.0.0:9000");
        assert_eq!(hexi.max_connections, 50);
        let site = hexi.site.as_ref().unwrap();
        assert_eq!(
            (site.hosts.clone(), site.default),
            (vec!["hexi.gov".to_string()], true)
        );
        assert_eq!(nankai.rating_window_days, 9);
        assert_eq!(nankai.listen, "0.0.0.0:9001");
        assert_eq!(nankai.database_url, "postgres://u:p@h/nankai");
        assert_eq!(
            nankai.site.as_ref().unwrap().name.as_deref(),
            Some("南开区")
        );
        let picked = inst.clone().pick(Some("120104")).unwrap();
        assert_eq!(picked.database_url, nankai.database_url);
        assert!(inst.pick(None).is_err());
        // Without [[districts]], --district only names the district the database must hold.
        std::fs::write(dir.join("redgrid.toml"), "").unwrap();
        let args = ConfigArgs {
            data_dir: Some(dir.clone()),
            district: Some("120116".into()),
            ..Default::default()
        };
        let c = Config::resolve(&args, Path::new("unused")).unwrap();
        assert_eq!(c.site.unwrap().code, "120116");
        let args = ConfigArgs {
            district: Some("12011".into()),
            ..args
        };
        assert!(Config::resolve(&args, Path::new("unused")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
