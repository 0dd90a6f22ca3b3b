//! `redgrid org`: import, export and templates of the organisation registers, and campaign
//! reports.

use anyhow::Context;

use crate::config::{Config, ConfigArgs};
use chrono::NaiveDate;
use redgrid_app::organise::{self, figure_cells, figure_headers, stats_workbook};
use redgrid_app::registers::{self, ImportReport, Register};
use redgrid_app::tabular::{self, Cell, OutSheet};
use redgrid_core::Lang;
use redgrid_core::org::parse_date;
use redgrid_core::person::Actor;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum OrgCmd {
    /// Import a register from .xlsx, .xls or .csv (Chinese headers; see `org template`). Exit 1
    /// when any row is bad: then nothing is imported, and every bad row is listed.
    Import {
        #[command(flatten)]
        config: ConfigArgs,
        /// areas, units, party_orgs, members, volunteers, targets, pairings or staff.
        register: String,
        file: PathBuf,
        /// Only check the file and report what would be created and updated.
        #[arg(long)]
        dry_run: bool,
        /// The report's language: zh (default) or en.
        #[arg(long, default_value = "zh")]
        lang: String,
    },
    /// Export a register to .xlsx (or .csv when the file name ends so) with Chinese headers.
    Export {
        #[command(flatten)]
        config: ConfigArgs,
        register: String,
        /// The file to write.
        #[arg(short, long)]
        output: PathBuf,
        /// For activities and suggestions: the first day (default 1 January this year).
        #[arg(long)]
        from: Option<String>,
        /// For activities and suggestions: the last day (default 31 December this year).
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value = "zh")]
        lang: String,
    },
    /// Write an empty import template (.xlsx) with the required columns marked and a sheet of
    /// instructions.
    Template {
        register: String,
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, default_value = "zh")]
        lang: String,
    },
    /// A campaign's statistics (in total and per unit), printed; with --xlsx also as a workbook.
    Stats {
        #[command(flatten)]
        config: ConfigArgs,
        /// The campaign's code.
        campaign: String,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        /// Also write the statistics to this .xlsx file.
        #[arg(long)]
        xlsx: Option<PathBuf>,
        #[arg(long, default_value = "zh")]
        lang: String,
    },
    /// The campaigns and their periods.
    Campaigns {
        #[command(flatten)]
        config: ConfigArgs,
    },
}

fn lang(s: &str) -> anyhow::Result<Lang> {
    match s {
        "zh" | "zh-CN" => Ok(Lang::Zh),
        "en" => Ok(Lang::En),
        other => anyhow::bail!("unknown language {other:?}: use zh or en"),
    }
}

fn register(s: &str) -> anyhow::Result<Register> {
    Register::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Register::ALL.iter().map(|r| r.as_str()).collect();
        anyhow::anyhow!("unknown register {s:?}: use one of {}", names.join(", "))
    })
}

fn date(s: Option<String>, what: &str) -> anyhow::Result<Option<NaiveDate>> {
    s.map(|v| {
        parse_date(&v).with_context(|| format!("--{what}: {v:?} is not a date such as 2026-03-05"))
    })
    .transpose()
}

/// Prints an import report; true when it is clean.
pub fn print_report(r: &ImportReport, lang: Lang) -> bool {
    let zh = lang == Lang::Zh;
    if !r.ignored_columns.is_empty() {
        if zh {
            println!("已忽略的列：{}", r.ignored_columns.join("，"));
        } else {
            println!("ignored columns: {}", r.ignored_columns.join(", "));
        }
    }
    if r.issues.is_empty() {
        let (name, rows, created, updated) = (r.register.label(lang), r.rows, r.created, r.updated);
        match (zh, r.imported) {
            (true, true) => println!("已导入 {name}：{rows} 行，新增 {created}，更新 {updated}"),
            (true, false) => println!(
                "试导入通过（未写入）{name}：{rows} 行，将新增 {created}，将更新 {updated}"
            ),
            (false, true) => {
                println!("imported {name}: {rows} rows, {created} created, {updated} updated")
            }
            (false, false) => println!(
                "dry run passed (nothing written) for {name}: {rows} rows, {created} to create, {updated} to update"
            ),
        }
        if !r.logins.is_empty() {
            println!(
                "{}",
                lang.pick(
                    "新开通的登录（一次性密码只显示这一次，请逐一告知本人，首次登录须修改）：",
                    "new logins (the one-time passwords are shown only now; give each to its person; they must be changed at first login):"
                )
            );
            for l in &r.logins {
                println!("  {}\t{}\t{}", l.name, l.phone, l.one_time_password);
            }
        }
        return true;
    }
    if zh {
        println!("未导入任何数据：发现 {} 个问题", r.issues.len());
    } else {
        println!("nothing imported: {} problem(s) found", r.issues.len());
    }
    for i in &r.issues {
        let place = match (i.row, &i.column) {
            (0, _) => {
                if zh {
                    "文件".to_string()
                } else {
                    "file".to_string()
                }
            }
            (row, Some(c)) => {
                if zh {
                    format!("第 {row} 行「{c}」")
                } else {
                    format!("row {row}, \"{c}\"")
                }
            }
            (row, None) => {
                if zh {
                    format!("第 {row} 行")
                } else {
                    format!("row {row}")
                }
            }
        };
        let value = if i.value.is_empty() {
            String::new()
        } else {
            format!(" [{}]", i.value)
        };
        println!("  {place}{value}: {} ({})", i.message, i.code);
    }
    false
}

/// The bytes of a file to import, refusing a file over the limit before reading it.
pub fn read_import_file(path: &Path, lang: Lang) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("{}", path.display()))?
        .len();
    if size > tabular::MAX_IMPORT_BYTES {
        let e = tabular::ReadError::TooLarge {
            size,
            limit: tabular::MAX_IMPORT_BYTES,
        };
        anyhow::bail!("{} ({})", e.message(lang), e.code());
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write_sheet(path: &Path, sheet: OutSheet) -> anyhow::Result<()> {
    let bytes = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        tabular::write_csv(&sheet.headers, &sheet.rows)
    } else {
        tabular::write_xlsx(&[sheet]).map_err(anyhow::Error::msg)?
    };
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

pub async fn run(what: OrgCmd) -> anyhow::Result<ExitCode> {
    let data = Path::new("redgrid-data");
    match what {
        OrgCmd::Import {
            config,
            register: r,
            file,
            dry_run,
            lang: l,
        } => {
            let (r, l) = (register(&r)?, lang(&l)?);
            let bytes = read_import_file(&file, l)?;
            let service = crate::open(&Config::resolve(&config, data)?).await?;
            let report = service
                .import_register(&Actor::System, r, &bytes, dry_run, l)
                .await?;
            Ok(if print_report(&report, l) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        OrgCmd::Export {
            config,
            register: r,
            output,
            from,
            to,
            lang: l,
        } => {
            let (r, l) = (register(&r)?, lang(&l)?);
            let (y0, y1) = organise::year_bounds(organise::this_year()).context("bad year")?;
            let from = date(from, "from")?.unwrap_or(y0);
            let to = date(to, "to")?.unwrap_or(y1);
            let service = crate::open(&Config::resolve(&config, data)?).await?;
            let sheet = service
                .register_sheet(&Actor::System, r, l, from, to)
                .await?;
            let n = sheet.rows.len();
            write_sheet(&output, sheet)?;
            println!("{}: {n} rows → {}", r.label(l), output.display());
            Ok(ExitCode::SUCCESS)
        }
        OrgCmd::Template {
            register: r,
            output,
            lang: l,
        } => {
            let (r, l) = (register(&r)?, lang(&l)?);
            if !r.importable() {
                anyhow::bail!(
                    "{} is kept in the system and has no import template",
                    r.as_str()
                );
            }
            std::fs::write(
                &output,
                registers::template(r, l).map_err(anyhow::Error::msg)?,
            )?;
            println!("{} → {}", r.label(l), output.display());
            Ok(ExitCode::SUCCESS)
        }
        OrgCmd::Stats {
            config,
            campaign,
            from,
            to,
            xlsx,
            lang: l,
        } => {
            let l = lang(&l)?;
            let (from, to) = (date(from, "from")?, date(to, "to")?);
            let service = crate::open(&Config::resolve(&config, data)?).await?;
            let sys = Actor::System;
            let stats = service.campaign_stats(&sys, &campaign, from, to).await?;
            let (_, unpaired) = service
                .unpaired(&sys, &campaign, Some(stats.from), Some(stats.to))
                .await?;
            print_stats(&stats, &unpaired, l);
            if let Some(path) = xlsx {
                std::fs::write(
                    &path,
                    stats_workbook(&stats, &unpaired, l).map_err(anyhow::Error::msg)?,
                )?;
                println!("→ {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        OrgCmd::Campaigns { config } => {
            let service = crate::open(&Config::resolve(&config, data)?).await?;
            for c in service.store().campaigns().await? {
                println!("{}\t{}\t{} – {}", c.code, c.name, c.starts_on, c.ends_on);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints a campaign's statistics like the seed reports' sentences, then a table per unit.
pub fn print_stats(
    s: &redgrid_core::org::CampaignStats,
    unpaired: &[redgrid_core::org::PartyOrg],
    lang: Lang,
) {
    println!("{}", s.campaign.name);
    println!("{}", organise::headline(s, lang));
    println!(
        "{}",
        match lang {
            Lang::Zh => format!(
                "应结对支部 {} 个，尚未结对 {} 个。",
                s.branches_covered, s.branches_unpaired
            ),
            Lang::En => format!(
                "{} branches covered, {} without a pairing.",
                s.branches_covered, s.branches_unpaired
            ),
        }
    );
    let headers = figure_headers(lang);
    let short: Vec<&str> = [0usize, 1, 2, 3, 4, 9, 11]
        .iter()
        .map(|i| headers[*i].as_str())
        .collect();
    println!("\n{:<24} {}", lang.pick("单位", "unit"), short.join(" | "));
    for u in &s.units {
        let cells = figure_cells(&u.figures);
        let pick: Vec<String> = [0usize, 1, 2, 3, 4, 9, 11]
            .iter()
            .map(|i| match &cells[*i] {
                Cell::Int(v) => v.to_string(),
                Cell::Num(v) => format!("{v:.1}"),
                _ => String::new(),
            })
            .collect();
        let name = if u.unit_name.is_empty() {
            lang.pick("（未关联单位）", "(no unit)")
        } else {
            u.unit_name.as_str()
        };
        println!("{name:<24} {}", pick.join(" | "));
    }
    if !unpaired.is_empty() {
        println!(
            "\n{}",
            lang.pick("尚未结对的支部：", "branches without a pairing:")
        );
        for o in unpaired.iter().take(20) {
            println!("  {} {}", o.code, o.name);
        }
        if unpaired.len() > 20 {
            println!("  … {}", unpaired.len() - 20);
        }
    }
}
