//! Configuration: command-line flags, then `REDGRID_*` environment variables, then a TOML file
//! (`--config FILE`, or `redgrid.toml` in the data directory), then defaults.

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
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    rating_window_days: Option<i64>,
    calendar_dir: Option<PathBuf>,
}

/// The configuration in force.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub rating_window_days: i64,
    pub calendar_dir: PathBuf,
}

impl Config {
    /// Merges flags/env with the file and the defaults. `default_dir` differs for `demo`.
    pub fn resolve(args: &ConfigArgs, default_dir: &Path) -> Result<Config, String> {
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
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?
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
            return Err(format!(
                "rating_window_days must be 1–90, not {rating_window_days}"
            ));
        }
        let calendar_dir = args
            .calendar_dir
            .clone()
            .or(file.calendar_dir)
            .unwrap_or_else(|| data_dir.join("calendars"));
        Ok(Config {
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
