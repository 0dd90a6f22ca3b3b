//! `redgrid admin`: the first district administrator, and password resets from the server itself.

use anyhow::Context;

use crate::config::{Config, ConfigArgs};
use redgrid_app::accounts::NewAdministrator;
use redgrid_app::accounts::random_hex;
use redgrid_core::error::CoreError;
use redgrid_core::person::Actor;
use redgrid_store::StoreError;
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum AdminCmd {
    /// Create a district administrator with a login (the first one, or another).
    Create {
        #[command(flatten)]
        config: ConfigArgs,
        /// The administrator's name.
        #[arg(long)]
        name: String,
        /// The login name (letters, digits, `._-`, starting with a letter).
        #[arg(long)]
        username: String,
        /// A mobile number; the administrator can also log in with it.
        #[arg(long)]
        phone: Option<String>,
        /// Read the password from the first line of standard input; otherwise one is made up,
        /// printed once, and must be changed at the first login.
        #[arg(long)]
        password_stdin: bool,
        /// On an empty database: the district's 6-digit code, to create the district itself.
        #[arg(long)]
        district_code: Option<String>,
        /// On an empty database: the district's name.
        #[arg(long)]
        district_name: Option<String>,
        /// Make the personal-data auditor (个人信息审计员) instead: the one role that reads the
        /// access log, which no administrator can grant, reset or take a token for.
        #[arg(long)]
        auditor: bool,
    },
    /// Set a new password for the account with this username or phone (for a forgotten
    /// administrator password; other people's are reset through the API by an administrator).
    ResetPassword {
        #[command(flatten)]
        config: ConfigArgs,
        /// The username or phone.
        #[arg(long)]
        login: String,
        /// Read the password from standard input; otherwise one is made up and printed once.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// The password to set: read from stdin, or made up (then it must be changed at first login).
fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password")?;
        let pw = line.trim_end_matches(['\r', '\n']).to_string();
        Ok((pw, false))
    } else {
        let made = format!("Rg-{}", random_hex(8)?);
        Ok((made, true))
    }
}

pub async fn run(what: AdminCmd) -> anyhow::Result<ExitCode> {
    match what {
        AdminCmd::Create {
            config,
            name,
            username,
            phone,
            password_stdin,
            district_code,
            district_name,
            auditor,
        } => {
            let config = Config::resolve(&config, Path::new("redgrid-data"))?;
            let service = crate::open(&config).await?;
            let site = config.site.as_ref();
            let district = match (district_code, district_name) {
                (Some(code), _) if site.is_some_and(|s| s.code != code) => anyhow::bail!(
                    "--district-code {code} is not the configured district {}",
                    site.map(|s| s.code.as_str()).unwrap_or("")
                ),
                (Some(code), Some(name)) => Some((code, name)),
                // On an empty database of a configured district: its code and name from the
                // configuration.
                (None, None) if service.directory().district().is_none() => match site {
                    Some(s) => s.name.clone().map(|n| (s.code.clone(), n)),
                    None => None,
                },
                (None, None) => None,
                (None, Some(name)) => match site {
                    Some(s) => Some((s.code.clone(), name)),
                    None => {
                        anyhow::bail!("give both --district-code and --district-name, or neither")
                    }
                },
                _ => anyhow::bail!("give both --district-code and --district-name, or neither"),
            };
            let (pw, made_up) = password(password_stdin)?;
            let new = NewAdministrator {
                name: name.clone(),
                username: username.clone(),
                phone,
                password: pw.clone(),
                must_change: made_up,
                district,
                auditor,
            };
            let (person, district) = match service.create_administrator(&new).await {
                Ok(done) => done,
                Err(StoreError::Core(CoreError::Validation(fields))) => {
                    let has_district = service.directory().district().cloned();
                    for f in fields {
                        let why = match (f.field.as_str(), f.code, &has_district) {
                            ("district_code", _, Some(d)) => format!(
                                "the district {} ({}) exists already; leave out --district-code and --district-name",
                                d.name, d.code
                            ),
                            ("district_code", _, None) => "the database has no district yet: give --district-code (6 digits) and --district-name".to_string(),
                            ("name", ..) => "--name must be 1–50 characters".to_string(),
                            ("phone", ..) => "--phone is not a mobile number".to_string(),
                            ("username", "taken", _) => format!("the username {username:?} is taken"),
                            ("username", ..) => "--username: letters, digits and ._- starting with a letter".to_string(),
                            ("password", ..) => "the password needs at least 10 characters, of at least two kinds (letters, digits, others)".to_string(),
                            (other, code, _) => format!("{other}: {code}"),
                        };
                        eprintln!("{why}");
                    }
                    return Ok(ExitCode::FAILURE);
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context("cannot create the administrator"));
                }
            };
            println!(
                "district administrator {} (person {}) of {} can log in as {username:?}",
                person.name, person.id, district.name
            );
            if made_up {
                println!("password (shown once; to be changed at the first login): {pw}");
            }
            Ok(ExitCode::SUCCESS)
        }
        AdminCmd::ResetPassword {
            config,
            login,
            password_stdin,
        } => {
            let config = Config::resolve(&config, Path::new("redgrid-data"))?;
            let service = crate::open(&config).await?;
            let account = service
                .store()
                .account_by_login(&login)
                .await?
                .with_context(|| format!("no account with the username or phone {login:?}"))?;
            let (pw, made_up) = password(password_stdin)?;
            service
                .set_login(&Actor::System, account.person_id, None, &pw, made_up)
                .await
                .context("cannot set the password")?;
            println!("new password set for person {}", account.person_id);
            if made_up {
                println!("password (shown once; to be changed at the next login): {pw}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `redgrid person …`: acting on one person's record.
#[derive(clap::Subcommand)]
pub enum PersonCmd {
    /// Erase a person's personal data on request (PIPL): their name becomes `[已删除]`, their phone,
    /// login and roles go, and the texts and exact place of the requests they filed become the
    /// marker. The ledger still replays and the audit chain still verifies; the erasure joins the
    /// chain with its reason. Erasing someone erased already changes nothing (exit 0, said).
    Erase {
        /// The person's number (as in the registers and the access log).
        person_id: i64,
        /// Why (an erasure request's reference, a retention rule): kept in the audit chain.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

pub async fn run_person(what: PersonCmd) -> anyhow::Result<ExitCode> {
    match what {
        PersonCmd::Erase {
            person_id,
            reason,
            config,
        } => {
            let config = Config::resolve(&config, Path::new("redgrid-data"))?;
            let service = crate::open(&config).await?;
            let done = service
                .erase_person(
                    &Actor::System,
                    redgrid_core::ids::PersonId(person_id),
                    Some(&reason),
                )
                .await
                .map_err(|e| anyhow::anyhow!("person {person_id}: {e}"))?;
            if done.already {
                println!("person {person_id} was erased before; nothing was changed");
            } else {
                println!(
                    "person {person_id} erased: {} requests and {} events rewritten; the erasure is in the audit chain",
                    done.requests, done.events
                );
            }
            service.store().flush().await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
