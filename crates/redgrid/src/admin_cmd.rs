//! `redgrid admin`: the first district administrator, and password resets from the server itself.

use anyhow::Context;

use crate::config::{Config, ConfigArgs};
use redgrid_app::accounts::random_hex;
use redgrid_core::area::Level;
use redgrid_core::person::{Actor, Grant, Role, Scope};
use redgrid_store::{Change, NewArea, NewPerson};
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
        } => {
            let config = Config::resolve(&config, Path::new("redgrid-data"))?;
            let service = crate::open(&config).await?;
            let district = match (
                service.directory().district().cloned(),
                district_code,
                district_name,
            ) {
                (Some(d), None, None) => d,
                (Some(d), _, _) => {
                    anyhow::bail!(
                        "the district {} ({}) exists already; leave out --district-code and --district-name",
                        d.name,
                        d.code
                    );
                }
                (None, Some(code), Some(dname)) => service
                    .create_area(
                        &Actor::System,
                        NewArea {
                            parent_id: None,
                            kind: Level::District,
                            code,
                            name: dname,
                        },
                    )
                    .await
                    .context("cannot create the district")?,
                (None, _, _) => {
                    anyhow::bail!(
                        "the database has no district yet: give --district-code (6 digits) and --district-name"
                    );
                }
            };
            if name.trim().is_empty() || name.chars().count() > 50 {
                anyhow::bail!("--name must be 1–50 characters");
            }
            if let Some(p) = &phone
                && !redgrid_core::person::valid_phone(p)
            {
                anyhow::bail!("--phone {p:?} is not a mobile number");
            }
            let (pw, made_up) = password(password_stdin)?;
            // Check the login before creating the person, so a refusal leaves nothing behind.
            let mut fields = redgrid_core::error::Fields::new();
            redgrid_app::accounts::check_password(&mut fields, "password", &pw);
            fields.finish().map_err(|_| {
                anyhow::anyhow!(
                    "the password needs at least 10 characters, of at least two kinds (letters, digits, others)"
                )
            })?;
            if service.store().account_by_login(&username).await?.is_some() {
                anyhow::bail!("the username {username:?} is taken");
            }
            let person = service
                .store()
                .create_person(
                    NewPerson {
                        name: name.trim().to_string(),
                        phone,
                        grants: vec![Grant {
                            role: Role::DistrictAdmin,
                            scope: Scope::Area(district.id),
                        }],
                    },
                    Change::system(),
                )
                .await
                .context("cannot create the person")?;
            service
                .set_login(&Actor::System, person.id, Some(&username), &pw, made_up)
                .await
                .context("cannot set the login")?;
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
