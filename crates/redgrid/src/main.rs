//! `redgrid`: the one binary. Serves the API, migrates and checks the database, builds the demo
//! district. (The benchmarks are the separate `redgrid-bench` program.)

#![forbid(unsafe_code)]

use anyhow::Context;

mod admin_cmd;
mod audit_cmd;
mod backup_cmd;
mod chain_key;
mod config;
mod org_cmd;
mod power_cmd;
mod power_file;
mod report;

use clap::{Parser, Subcommand};
use config::{Config, ConfigArgs};
use redgrid_app::Service;
use redgrid_core::command::Settings;
use redgrid_web::AppState;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc rather than the C library's allocator: a command allocates and frees many small
/// values (JSON, rows, events), and with glibc's the API ran 13–31 % fewer commands a second on
/// SQLite and 3–20 % fewer on PostgreSQL. Built not to ask for transparent huge pages (`no_thp`),
/// which tripled the idle server's resident memory; where the kernel gives them unasked, operators
/// set `MIMALLOC_ALLOW_THP=0` (docs/operators/operations.md, "Memory").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "redgrid",
    version,
    about = "红网格 redgrid: party-building-led grassroots governance — from a resident's need to a verified, rated close-out"
)]
struct Cli {
    /// How log lines are written to standard error: `text` (colours only on a terminal) or `json`
    /// (one object a line, for log collectors).
    #[arg(
        long,
        global = true,
        env = "REDGRID_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the JSON API (and run migrations first).
    Serve(ConfigArgs),
    /// Apply any pending database migrations and exit.
    Migrate(ConfigArgs),
    /// Replay every request's events and compare with the stored projection; check the scorecard
    /// counts and that every reference of requests, events and notices names a row; exit 1 on any
    /// difference.
    Check(ConfigArgs),
    /// Write a consistent backup (database, audit anchors, power/) to a new zip file while the
    /// server runs.
    Backup {
        /// The backup file to create (it must not exist).
        file: std::path::PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Restore a backup into the configured database and data folder (the server must be stopped),
    /// keeping what it replaces, then replay, recount and verify; exit 1 on any problem.
    Restore {
        /// A file written by `redgrid backup`.
        file: std::path::PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Build a realistic demo district (once) and serve it, printing how to act as each role.
    Demo(DemoArgs),
    /// Work with the district calendar (working hours, holidays, 调休).
    Calendar {
        #[command(subcommand)]
        what: CalendarCmd,
    },
    /// Reports: `report rates` prints or exports the scorecard (三率).
    Report {
        #[command(subcommand)]
        what: ReportCmd,
    },
    /// Accounts: `admin create` makes the first district administrator; `admin reset-password`.
    Admin {
        #[command(subcommand)]
        what: admin_cmd::AdminCmd,
    },
    /// One person's record: `person erase` (personal data erased on request).
    Person {
        #[command(subcommand)]
        what: admin_cmd::PersonCmd,
    },
    /// The tamper-evident audit chain: `audit verify`, `audit anchor`, `audit rotate-key`.
    Audit {
        #[command(subcommand)]
        what: audit_cmd::AuditCmd,
    },
    /// The organisation registers: `org import`, `org export`, `org template`; campaign reports:
    /// `org stats`, `org campaigns`.
    Org {
        #[command(subcommand)]
        what: org_cmd::OrgCmd,
    },
    /// Electricity data: `power synth`, `meters`, `ingest`, `analyze`, `eval`.
    Power {
        #[command(subcommand)]
        what: power_cmd::PowerCmd,
    },
}

#[derive(Subcommand)]
enum CalendarCmd {
    /// Check calendar files: every problem with its line number; exit 1 if any.
    Check {
        /// One or more calendar files (one year each).
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReportCmd {
    /// Response, resolution, satisfaction, on-time and rework rates and the composite, ranked.
    Rates(report::RatesArgs),
}

#[derive(clap::Args)]
struct DemoArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Throw away an existing demo database (SQLite only) and build it anew.
    #[arg(long)]
    fresh: bool,
    /// How many requests to file over the period.
    #[arg(long, default_value_t = 3000)]
    requests: usize,
    /// How many residents live in the district.
    #[arg(long, default_value_t = 1500)]
    residents: usize,
    /// Days of history.
    #[arg(long, default_value_t = 90)]
    days: i64,
    /// The random seed: the same seed builds the same district.
    #[arg(long, default_value_t = 20_261_123)]
    seed: u64,
    /// Build (or reuse) the demo and exit without serving.
    #[arg(long)]
    no_serve: bool,
}

/// Log lines go to standard error, with their time: as text (coloured only on a terminal) or as
/// JSON objects. `RUST_LOG` chooses what is logged (default `info`).
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    redgrid_app::run_main(run(cli))
}

/// The district's calendars: every `*.cal` file in the calendar folder. A file with any problem stops
/// the start with every problem listed; no folder means Monday–Friday hours without holidays.
fn load_calendar(dir: &Path) -> anyhow::Result<redgrid_core::calendar::Calendar> {
    use redgrid_core::calendar::{Calendar, YearCalendar};
    let mut years = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(_) => {
            tracing::info!(
                "no calendar folder {}: Monday–Friday 08:30–12:00, 13:30–17:30, no holidays",
                dir.display()
            );
            return Ok(Calendar::new(years));
        }
    };
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cal"))
        .collect();
    files.sort();
    let mut problems = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
        match YearCalendar::parse(&text) {
            Ok(y) if years.iter().any(|x: &YearCalendar| x.year == y.year) => {
                problems.push(format!("{}: a second calendar for {}", f.display(), y.year))
            }
            Ok(y) => years.push(y),
            Err(errors) => problems.extend(
                errors
                    .iter()
                    .map(|e| format!("{}:{}: {}", f.display(), e.line, e.message)),
            ),
        }
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "the district calendar has problems:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(Calendar::new(years))
}

async fn open(config: &Config) -> anyhow::Result<Arc<Service>> {
    let store = redgrid_store::open(&config.database_url)
        .await
        .with_context(|| format!("cannot open the database {}", config.database_display()))?;
    // The chain's key before anything can link a record (the service settles as soon as it runs).
    chain_key::install(config, &store).await?;
    let [response, resolution, satisfaction] = config.composite_weights;
    let settings = Settings {
        rating_window: chrono::Duration::days(config.rating_window_days),
        auto_escalate_after_days: config.auto_escalate_after_days,
        weights: redgrid_core::scorecard::Weights {
            response,
            resolution,
            satisfaction,
        },
    };
    let calendar = load_calendar(&config.calendar_dir)?;
    let policy = redgrid_core::deadline::WorkingTimePolicy::new(calendar);
    let mut service = Service::new(store, settings)
        .await?
        .with_deadlines(Arc::new(policy))
        .with_limits(config.limits)
        .with_district_code(config.site.as_ref().map(|s| s.code.clone()));
    if let Some(sms) = &config.sms {
        service = service.with_sms(Arc::new(sms.sender()?));
    }
    // A configured district must find its own database, never another district's.
    if let (Some(site), Some(root)) = (&config.site, service.directory().district())
        && root.code != site.code
    {
        anyhow::bail!(
            "the database {} holds district {} ({}), not district {} as configured",
            config.database_display(),
            root.code,
            root.name,
            site.code
        );
    }
    Ok(Arc::new(service))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Serve(args) => {
            let inst = config::Installation::resolve(&args, Path::new("redgrid-data"))?;
            // `--district` serves that one district alone; otherwise every configured district.
            // With [[districts]], session cookies are named by district however many are served.
            let cookies = inst.several;
            let (server, list, several) = match &args.district {
                Some(code) => {
                    let c = inst.pick(Some(code))?;
                    (c.clone(), vec![c], false)
                }
                None => (inst.server, inst.districts, inst.several),
            };
            let mut locks = Vec::new();
            let mut database_locks = Vec::new();
            let mut opened = Vec::new();
            for c in list {
                // Held from before the database is opened until the server stops, so that
                // `redgrid restore` never replaces the data under a running server.
                locks.push(backup_cmd::hold_lock(&c)?);
                database_locks.extend(backup_cmd::hold_database_lock(&c, false).await?);
                let service = open(&c).await?;
                opened.push((c, service));
            }
            serve(&server, opened, several, cookies, None).await?;
            drop(database_locks);
            drop(locks);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Migrate(args) => {
            let config = Config::resolve(&args, Path::new("redgrid-data"))?;
            let service = open(&config).await?;
            let applied = service.store().applied_migrations().await?;
            println!(
                "{} ({}): migrations applied: {:?}",
                config.database_display(),
                service.store().backend().as_str(),
                applied
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check(args) => {
            let config = Config::resolve(&args, Path::new("redgrid-data"))?;
            let service = open(&config).await?;
            let (checked, diffs) = service
                .check_all(|n| {
                    if n % 5000 == 0 {
                        eprintln!("checked {n} requests…");
                    }
                })
                .await?;
            for d in &diffs {
                println!("request {}: {}", d.request_id, d.detail);
            }
            println!("checked {checked} requests: {} differences", diffs.len());
            let facts = service.check_facts().await?;
            match &facts {
                None => println!("scorecard counts agree with the requests"),
                Some(d) => println!("scorecard counts differ from the requests: {d}"),
            }
            let dangling = print_dangling(&service, "").await?;
            if dangling == 0 {
                println!("every reference of requests, events and notices names a row");
            }
            Ok(if diffs.is_empty() && facts.is_none() && dangling == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Demo(args) => demo_command(args).await,
        Cmd::Backup { file, config } => {
            let config = Config::resolve(&config, Path::new("redgrid-data"))?;
            backup_cmd::backup(&config, &file).await
        }
        Cmd::Restore { file, config } => {
            let config = Config::resolve(&config, Path::new("redgrid-data"))?;
            backup_cmd::restore(&config, &file).await
        }
        Cmd::Calendar {
            what: CalendarCmd::Check { files },
        } => Ok(calendar_check(&files)),
        Cmd::Audit { what } => audit_cmd::run(what).await,
        Cmd::Admin { what } => admin_cmd::run(what).await,
        Cmd::Person { what } => admin_cmd::run_person(what).await,
        Cmd::Org { what } => org_cmd::run(what).await,
        Cmd::Power { what } => tokio::task::block_in_place(|| power_cmd::run(what)),
        Cmd::Report {
            what: ReportCmd::Rates(args),
        } => {
            let config = Config::resolve(&args.config, Path::new("redgrid-data"))?;
            let service = open(&config).await?;
            let out = report::rates(&service, &args).await?;
            let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn calendar_check(files: &[std::path::PathBuf]) -> ExitCode {
    use redgrid_core::calendar::{Calendar, YearCalendar};
    let mut bad = false;
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}: cannot read: {e}", file.display());
                bad = true;
                continue;
            }
        };
        match YearCalendar::parse(&text) {
            Err(errors) => {
                bad = true;
                for e in errors {
                    eprintln!("{}:{}: {}", file.display(), e.line, e.message);
                }
            }
            Ok(year) => {
                let cal = Calendar::new(vec![year.clone()]);
                let first = chrono::NaiveDate::from_ymd_opt(year.year, 1, 1);
                let working_days = first
                    .map(|d| {
                        d.iter_days()
                            .take_while(|x| chrono::Datelike::year(x) == year.year)
                            .filter(|x| !cal.spans(*x).is_empty())
                            .count()
                    })
                    .unwrap_or(0);
                println!(
                    "{}: {} — {} working days, {} holidays, {} exchanged workdays, a working day is {} minutes: OK",
                    file.display(),
                    year.year,
                    working_days,
                    year.holidays.len(),
                    year.workdays.len(),
                    cal.day_minutes()
                );
            }
        }
    }
    if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints each column of requests, events and notices with references that name no row, and how
/// many (each line after `indent`); returns how many such columns there are. For `check` and
/// `restore`.
pub(crate) async fn print_dangling(service: &Service, indent: &str) -> anyhow::Result<usize> {
    let dangling = service.check_references().await?;
    for (reference, n) in &dangling {
        println!("{indent}{reference}: {n} references name no row");
    }
    Ok(dangling.len())
}

async fn demo_command(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let config = Config::resolve(&args.config, Path::new("redgrid-demo"))?;
    if args.fresh {
        if !config.database_url.starts_with("sqlite:") {
            anyhow::bail!(
                "--fresh only rebuilds a SQLite demo; give an empty PostgreSQL database instead"
            );
        }
        let db = config.data_dir.join("redgrid.db");
        for suffix in ["", "-wal", "-shm"] {
            let p = format!("{}{suffix}", db.display());
            if Path::new(&p).exists() {
                std::fs::remove_file(&p).with_context(|| format!("cannot remove {p}"))?;
            }
        }
    }
    // The demo counts deadlines on the sample calendar unless the folder already has one.
    let sample = config.calendar_dir.join("2026.cal");
    if !config.calendar_dir.exists() {
        std::fs::create_dir_all(&config.calendar_dir)
            .and_then(|_| std::fs::write(&sample, SAMPLE_CALENDAR))
            .with_context(|| format!("cannot write {}", sample.display()))?;
    }
    // The demo serves too: the data folder is locked first, as for `serve`.
    let _lock = backup_cmd::hold_lock(&config)?;
    let _database_lock = backup_cmd::hold_database_lock(&config, false).await?;
    let service = open(&config).await?;
    let existing = service.directory().district().cloned();
    let started = std::time::Instant::now();
    let district = if let Some(d) = existing {
        eprintln!(
            "using the existing demo district {} in {} (--fresh rebuilds it)",
            d.name,
            config.database_display()
        );
        None
    } else {
        eprintln!(
            "building the demo district: {} requests over {} days…",
            args.requests, args.days
        );
        let mut phases: Vec<(&str, f64)> = Vec::new();
        let mut lap = std::time::Instant::now();
        let mut mark = |name: &'static str, phases: &mut Vec<(&str, f64)>| {
            phases.push((name, lap.elapsed().as_secs_f64()));
            lap = std::time::Instant::now();
        };
        let d = redgrid_app::demo::build_district(&service, args.seed, args.residents).await?;
        mark("areas, units, people", &mut phases);
        redgrid_app::demo::build_requests(
            &service,
            &d,
            args.seed,
            args.requests,
            args.days,
            redgrid_app::service::now(),
        )
        .await?;
        mark("requests", &mut phases);
        let today = redgrid_app::organise::today();
        let o = redgrid_app::demo::org::build(&service, &d, args.seed, today)
            .await
            .context("the demo's organisation")?;
        eprintln!(
            "organisation: {} party organisations, {} members, {} pairings, {} activities over the last year",
            o.party_orgs, o.members, o.pairings, o.activities
        );
        mark("organisation", &mut phases);
        let (meters, filed) =
            power_cmd::demo_city(&service, &config.data_dir, args.seed, 800, 75).await?;
        mark("electricity", &mut phases);
        eprintln!(
            "time taken: {}",
            phases
                .iter()
                .map(|(n, t)| format!("{n} {t:.1}s"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        eprintln!(
            "electricity: {meters} meters over 75 days; {} power alerts of the last two weeks filed as requests in their grids",
            filed.new
        );
        Some(d)
    };
    let store = service.store();
    let system = redgrid_core::person::Actor::System;
    // The demo's people act through ordinary API tokens: the ones an earlier start made are revoked,
    // and each representative gets a new one with every role they hold.
    for t in service.api_tokens(&system).await? {
        if t.name == DEMO_TOKEN_NAME && t.revoked_at.is_none() {
            service.revoke_api_token(&system, t.id).await?;
        }
    }
    let people = match &district {
        Some(d) => redgrid_app::demo::representatives(d),
        None => redgrid_app::demo::representatives_from_store(&service).await?,
    };
    let mut tokens = Vec::new();
    for (zh, role, person) in people {
        let (token, _) = service
            .create_api_token(
                &system,
                person.id,
                DEMO_TOKEN_NAME,
                &person.roles(),
                &[],
                None,
            )
            .await
            .with_context(|| format!("the demo token for {role}"))?;
        // A login per role: the username is the role's name, the password the same for all.
        if store.account(person.id).await?.is_none() {
            service
                .set_login(
                    &redgrid_core::person::Actor::System,
                    person.id,
                    Some(role),
                    DEMO_PASSWORD,
                    false,
                )
                .await
                .with_context(|| format!("demo login for {role}"))?;
        }
        tokens.push((zh, role, person, token));
    }
    if let Some(d) = &district {
        let s = redgrid_app::demo::summarize(&service, d).await?;
        eprintln!(
            "built {} in {:.1}s: {} areas, {} units, {} people; requests by state: {}",
            d.name,
            started.elapsed().as_secs_f64(),
            s.areas,
            s.units,
            s.people,
            s.by_status
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if district.is_some() {
        show_lights_and_scores(&service).await?;
    }
    let walk = walk_ids(&service, &tokens);
    if args.no_serve {
        print_tokens(&tokens, None, &walk);
        return Ok(ExitCode::SUCCESS);
    }
    serve(
        &config,
        vec![(config.clone(), service)],
        false,
        false,
        Some((tokens, walk)),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the jobs once (so overdue requests are supervised and unrated ones closed), then prints the
/// lights of the open requests and the streets' scorecard for the last 90 days.
async fn show_lights_and_scores(service: &Service) -> anyhow::Result<()> {
    let now = redgrid_app::service::now();
    let jobs = service.run_jobs(now).await?;
    let counts: Vec<String> = service
        .open_by_light(now)
        .await?
        .into_iter()
        .map(|(light, n)| format!("{} {n}", light.label(redgrid_core::Lang::Zh)))
        .collect();
    eprintln!(
        "jobs: {} supervised (督办), {} closed without a rating; open requests by light: {}",
        jobs.supervised,
        jobs.closed,
        counts.join(", ")
    );
    let today = redgrid_core::scorecard::local_date(now);
    let period = redgrid_core::scorecard::Period {
        start: today - chrono::Duration::days(89),
        end: today + chrono::Duration::days(1),
    };
    let card = service
        .scorecard(redgrid_app::scorecard::GroupBy::Street, period, now)
        .await?;
    eprint!("{}", report::table(&card));
    Ok(())
}

/// The sample 2026 calendar shipped with redgrid (to be checked against the official notice).
const SAMPLE_CALENDAR: &str = include_str!("../../../calendars/2026.cal");

type Token = (
    &'static str,
    &'static str,
    redgrid_core::person::Person,
    String,
);

/// Ids for the README's walk: the demo grid worker's grid and team, a grid-level category, and an
/// approver for suspension (the community staff member).
fn walk_ids(service: &Service, tokens: &[Token]) -> String {
    use redgrid_core::person::Scope;
    let dir = service.directory();
    let find = |role: &str| tokens.iter().find(|t| t.1 == role);
    let unit = find("grid_worker").and_then(|t| match t.2.grants.first().map(|g| g.scope) {
        Some(Scope::Unit(u)) => dir.unit(u),
        _ => None,
    });
    let category = dir
        .items()
        .into_iter()
        .find(|i| i.active && i.default_level == redgrid_core::area::Level::Grid);
    let token = |role: &str| find(role).map(|t| t.3.clone()).unwrap_or_default();
    format!(
        "    export AREA={} UNIT={} CATEGORY={} APPROVER={}\n    export RESIDENT={} GRID={} VOLUNTEER={} VERIFIER={}",
        unit.map(|u| u.area_id.0).unwrap_or(0),
        unit.map(|u| u.id.0).unwrap_or(0),
        category.map(|c| c.id.0).unwrap_or(0),
        find("community_staff").map(|t| t.2.id.0).unwrap_or(0),
        token("resident"),
        token("grid_worker"),
        token("volunteer"),
        token("verifier"),
    )
}

fn print_tokens(tokens: &[Token], url: Option<&str>, walk: &str) {
    println!();
    println!("红网格 redgrid demo");
    if let Some(url) = url {
        println!(
            "  Pages:    {url}/   (网页：居民点单、工作台、数据看板；zh-CN, English switch at the top)"
        );
        println!("  API:      {url}/api/requests   (OpenAPI: {url}/api/openapi.json)");
    }
    println!(
        "  Log in (on the pages, or POST /api/login) as any of them with username = role, password {DEMO_PASSWORD};"
    );
    println!("  or act as them with  -H 'Authorization: Bearer TOKEN':");
    println!("    {:<17} {:<10} {:<8} token", "username", "role", "name");
    for (zh, role, person, token) in tokens {
        println!("    {role:<17} {:<10} {:<8} {token}", zh, person.name);
    }
    if let (Some(url), Some((_, _, _, t))) = (url, tokens.first()) {
        println!("  Try:      curl -H 'Authorization: Bearer {t}' '{url}/api/requests?limit=5'");
    }
    println!("  For the README's walk through a request's life, paste:");
    println!("    export RG={}", url.unwrap_or("http://127.0.0.1:8080"));
    println!("{walk}");
    println!();
}

/// Every demo login's password (the demo is for trying redgrid out, never for real data).
const DEMO_PASSWORD: &str = "redgrid-demo-2026";

/// The name of the API tokens the demo makes (and revokes when it starts again).
const DEMO_TOKEN_NAME: &str = "redgrid demo";

/// Serves each district (one, or with `several` every district of the installation, placed by
/// host name) until SIGTERM or SIGINT, with the district's background jobs; then anchors each
/// district's chain and flushes its database. `cookies`: name the session cookie by district.
async fn serve(
    server: &Config,
    districts: Vec<(Config, Arc<Service>)>,
    several: bool,
    cookies: bool,
    tokens: Option<(Vec<Token>, String)>,
) -> anyhow::Result<()> {
    let bind = |at: String| async move {
        tokio::net::TcpListener::bind(&at)
            .await
            .with_context(|| format!("cannot listen on {at}"))
    };
    let listener = bind(server.listen.clone()).await?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let mut states = Vec::new();
    let mut own = Vec::new();
    for (i, (config, service)) in districts.iter().enumerate() {
        let mut state = AppState::new(service.clone());
        state.session_hours = config.session_hours;
        state.secure_cookies = config.secure_cookies;
        state.metrics_token = config.metrics_token.clone();
        state.trusted_proxies = config.trusted_proxies.clone();
        if let Some(site) = &config.site {
            if cookies {
                // Browsers share cookies between the ports of one host: one cookie per district.
                state.session_cookie =
                    format!("{}_{}", redgrid_web::auth::SESSION_COOKIE, site.code);
            }
            if several && let Some(at) = &site.listen {
                own.push((i, bind(at.clone()).await?));
            }
        }
        states.push(Arc::new(state));
    }
    match &tokens {
        Some((t, walk)) => print_tokens(t, Some(&url), walk),
        None if several => {
            println!("redgrid serving {url}: {} districts", districts.len());
            for (i, (config, _)) in districts.iter().enumerate() {
                let Some(site) = &config.site else { continue };
                let mut at: Vec<String> = site.hosts.clone();
                if let Some((_, l)) = own.iter().find(|(j, _)| *j == i)
                    && let Ok(a) = l.local_addr()
                {
                    at.push(format!("http://{a}"));
                }
                if site.default {
                    at.push("(default)".into());
                }
                println!(
                    "  {} {}: {} ({})",
                    site.code,
                    site.name.as_deref().unwrap_or(""),
                    at.join(", "),
                    config.database_display()
                );
            }
        }
        None => println!("redgrid serving {url} ({})", server.database_display()),
    }
    let mut jobs = Vec::new();
    for (config, service) in &districts {
        jobs.extend(start_jobs(config, service.clone())?);
        jobs.extend(audit_cmd::start_anchoring(config, service.clone())?);
    }
    let options = redgrid_web::server::ServeOptions {
        max_connections: server.max_connections,
        idle_timeout: std::time::Duration::from_secs(server.idle_timeout_secs),
        write_timeout: std::time::Duration::from_secs(server.write_timeout_secs),
        shutdown_grace: std::time::Duration::from_secs(server.shutdown_grace_secs),
    };
    // One stop signal for every listener.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop_signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    // One connection cap for every listener.
    let slots = redgrid_web::server::connection_slots(&options);
    let mut others = Vec::new();
    for (i, l) in own {
        let app = redgrid_web::router(states[i].clone());
        others.push(tokio::spawn(redgrid_web::server::serve_app_sharing(
            l,
            app,
            stopped(stop_rx.clone()),
            options,
            slots.clone(),
        )));
    }
    let app = if several {
        let sites = districts
            .iter()
            .zip(&states)
            .filter_map(|((config, service), state)| {
                let site = config.site.as_ref()?;
                Some(redgrid_web::districts::Site {
                    code: site.code.clone(),
                    name: site
                        .name
                        .clone()
                        .or_else(|| service.directory().district().map(|d| d.name.clone()))
                        .unwrap_or_default(),
                    hosts: site.hosts.clone(),
                    port: site
                        .listen
                        .as_deref()
                        .and_then(|l| l.rsplit_once(':'))
                        .and_then(|(_, p)| p.parse().ok()),
                    default: site.default,
                    state: state.clone(),
                })
            })
            .collect();
        redgrid_web::districts::router(sites)
    } else {
        match states.first() {
            Some(state) => redgrid_web::router(state.clone()),
            None => anyhow::bail!("no district to serve"),
        }
    };
    let served = redgrid_web::server::serve_app_sharing(
        listener,
        app,
        stopped(stop_rx.clone()),
        options,
        slots,
    )
    .await
    .context("server stopped");
    for o in others {
        match o.await {
            Ok(Ok(s)) => tracing::info!(?s, "a district's own listener stopped"),
            Ok(Err(e)) => tracing::error!(error = %e, "a district's own listener failed"),
            Err(e) => tracing::error!(error = %e, "a district's own listener panicked"),
        }
    }
    // The server has stopped taking requests: stop the jobs, keep each chain's head outside the
    // database and leave each database file complete on its own.
    for j in jobs {
        j.abort();
        let _ = j.await;
    }
    for (config, service) in &districts {
        let anchors = audit_cmd::default_anchors(config);
        let district = config.site.as_ref().map_or("", |s| s.code.as_str());
        match audit_cmd::append_anchor(service.store(), &anchors).await {
            Ok(_) => {
                tracing::info!(file = %anchors.display(), "audit chain head anchored at shutdown")
            }
            Err(e) => tracing::error!(
                district,
                error = %e,
                "cannot anchor the audit chain at shutdown"
            ),
        }
        if let Err(e) = service.store().flush().await {
            tracing::error!(district, error = %e, "cannot flush the database at shutdown");
        }
    }
    let stopped = served?;
    tracing::info!(?stopped, "redgrid stopped");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what service managers send), logging which.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: shutting down");
    }
}

/// The configured notification senders: the log file always, the webhook when set.
fn senders(config: &Config) -> anyhow::Result<Vec<Arc<dyn redgrid_app::outbox::Sender>>> {
    use redgrid_app::outbox::{LogSender, WebhookSender};
    let district = config.site.as_ref().map(|s| s.code.clone());
    let mut out: Vec<Arc<dyn redgrid_app::outbox::Sender>> = vec![Arc::new(LogSender {
        path: config.notify_log.clone(),
        district: district.clone(),
    })];
    if let Some(url) = &config.webhook_url {
        out.push(Arc::new(
            WebhookSender::new(url, std::time::Duration::from_secs(5))
                .map_err(anyhow::Error::msg)?
                .for_district(district),
        ));
    }
    Ok(out)
}

/// Runs the background jobs and the outbox delivery every `jobs_interval_secs` in the server
/// process. Everything they need is in the database, so a restart picks up where it stopped.
fn start_jobs(
    config: &Config,
    service: Arc<Service>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if config.jobs_interval_secs == 0 {
        return Ok(None);
    }
    let mut senders = senders(config)?;
    // Notifications a person chose to get by SMS as well.
    senders.push(Arc::new(redgrid_app::outbox::SmsNotices::new(
        service.store().clone(),
        service.sms().clone(),
    )));
    let every = std::time::Duration::from_secs(config.jobs_interval_secs);
    let power = redgrid_power::format::PowerStore::new(config.data_dir.join("power"));
    let retention_days = config.retention_days;
    let metrics = service.metrics().clone();
    // Each district's job log lines carry its code.
    let span = tracing::info_span!("jobs", district = tracing::field::Empty);
    if let Some(site) = &config.site {
        span.record("district", site.code.as_str());
    }
    Ok(Some(tokio::spawn(tracing::Instrument::instrument(
        async move {
            let mut tick = tokio::time::interval(every);
            let mut last_power: Option<chrono::DateTime<chrono::Utc>> = None;
            let mut last_retention: Option<chrono::DateTime<chrono::Utc>> = None;
            let mut last_cleanup: Option<chrono::DateTime<chrono::Utc>> = None;
            loop {
                tick.tick().await;
                let now = redgrid_app::service::now();
                // Once a day, every district's electricity data through the detectors, and the
                // alerts of the last two days filed for the grids (an alert filed before is not
                // filed again).
                // Once a day, the retention rule, when the district set one.
                if let Some(days) = retention_days
                    && last_retention.is_none_or(|t| now - t >= chrono::Duration::hours(24))
                {
                    last_retention = Some(now);
                    match service.apply_retention(now, days).await {
                        Ok(n) => {
                            metrics.job_round("retention", "ok");
                            tracing::info!(job = "retention", erased = n, "retention rule applied")
                        }
                        Err(e) => {
                            metrics.job_round("retention", "error");
                            tracing::error!(job = "retention", error = %e)
                        }
                    }
                }
                if last_power.is_none_or(|t| now - t >= chrono::Duration::hours(24)) {
                    last_power = Some(now);
                    for district in power.districts() {
                        match power_cmd::scheduled(&service, &power, &district).await {
                            Ok(f) => {
                                metrics.job_round("power", "ok");
                                metrics.add("redgrid_detector_alerts_total", &[], f.new as u64);
                                tracing::info!(
                                    job = "power",
                                    %district,
                                    filed = f.new,
                                    updated = f.updated,
                                    ended = f.ended,
                                    "electricity detectors run; alerts filed as requests"
                                )
                            }
                            Err(e) => {
                                metrics.job_round("power", "error");
                                tracing::error!(job = "power", %district, error = %e)
                            }
                        }
                    }
                }
                // Once an hour, files uploaded more than a day ago that no request used.
                if last_cleanup.is_none_or(|t| now - t >= chrono::Duration::hours(1)) {
                    last_cleanup = Some(now);
                    match service
                        .store()
                        .delete_unused_attachments(now - chrono::Duration::days(1))
                        .await
                    {
                        Ok(n) => {
                            metrics.job_round("uploads_cleanup", "ok");
                            if n > 0 {
                                tracing::info!(job = "uploads_cleanup", deleted = n);
                            }
                        }
                        Err(e) => {
                            metrics.job_round("uploads_cleanup", "error");
                            tracing::error!(job = "uploads_cleanup", error = %e)
                        }
                    }
                }
                let done = service.run_jobs(now).await;
                metrics.job_round("deadlines", if done.is_ok() { "ok" } else { "error" });
                match done {
                    Ok(r) if r != Default::default() => tracing::info!(
                        job = "deadlines",
                        supervised = r.supervised,
                        closed_without_rating = r.closed,
                        escalated = r.escalated
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::error!(job = "deadlines", error = %e),
                }
                let budget = every.max(std::time::Duration::from_secs(10));
                let round = redgrid_app::outbox::deliver_backlog(
                    service.store(),
                    &senders,
                    now,
                    500,
                    budget,
                )
                .await;
                metrics.job_round("notifications", if round.is_ok() { "ok" } else { "error" });
                if let Ok(r) = &round {
                    metrics.add(
                        "redgrid_notifications_total",
                        &[("result", "delivered")],
                        r.delivered as u64,
                    );
                    metrics.add(
                        "redgrid_notifications_total",
                        &[("result", "failed")],
                        r.failed as u64,
                    );
                }
                match round {
                    Ok(r) if r.failed > 0 => tracing::warn!(
                        job = "notifications",
                        delivered = r.delivered,
                        failed = r.failed,
                        sends_ok = r.sends_ok,
                        sends_failed = r.sends_failed,
                        "some senders failed; they are retried with back-off, the others are not sent again"
                    ),
                    Ok(r) if r.delivered > 0 => tracing::info!(
                        job = "notifications",
                        delivered = r.delivered,
                        sends_ok = r.sends_ok
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::error!(job = "notifications", error = %e),
                }
            }
        },
        span,
    ))))
}

#[cfg(test)]
mod tests {
    /// Every command and flag of the command tree is well formed (clap checks names, for
    /// example that `--district` is declared once per command).
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
