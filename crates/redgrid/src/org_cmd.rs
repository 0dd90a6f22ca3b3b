//! `redgrid org`: import, export and templates of the organisation registers, and campaign
//! reports; `redgrid bench import`: the import benchmark.

use crate::config::{Config, ConfigArgs};
use chrono::NaiveDate;
use redgrid_core::Lang;
use redgrid_core::org::parse_date;
use redgrid_core::person::Actor;
use redgrid_store::organise::{self, figure_cells, figure_headers, stats_workbook};
use redgrid_store::registers::{self, ImportReport, Register};
use redgrid_store::tabular::{self, Cell, OutSheet};
use redgrid_store::testing;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum OrgCmd {
    /// Import a register from .xlsx, .xls or .csv (Chinese headers; see `org template`). Exit 1
    /// when any row is bad: then nothing is imported, and every bad row is listed.
    Import {
        #[command(flatten)]
        config: ConfigArgs,
        /// areas, units, party_orgs, members, volunteers, targets or pairings.
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

fn lang(s: &str) -> Result<Lang, String> {
    match s {
        "zh" | "zh-CN" => Ok(Lang::Zh),
        "en" => Ok(Lang::En),
        other => Err(format!("unknown language {other:?}: use zh or en")),
    }
}

fn register(s: &str) -> Result<Register, String> {
    Register::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Register::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown register {s:?}: use one of {}", names.join(", "))
    })
}

fn date(s: Option<String>, what: &str) -> Result<Option<NaiveDate>, String> {
    s.map(|v| {
        parse_date(&v).ok_or_else(|| format!("--{what}: {v:?} is not a date such as 2026-03-05"))
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
        match (zh, r.imported) {
            (true, true) => println!(
                "已导入 {}：{} 行，新增 {}，更新 {}",
                r.register.label(lang),
                r.rows,
                r.created,
                r.updated
            ),
            (true, false) => println!(
                "试导入通过（未写入）{}：{} 行，将新增 {}，将更新 {}",
                r.register.label(lang),
                r.rows,
                r.created,
                r.updated
            ),
            (false, true) => println!(
                "imported {}: {} rows, {} created, {} updated",
                r.register.label(lang),
                r.rows,
                r.created,
                r.updated
            ),
            (false, false) => println!(
                "dry run passed (nothing written) for {}: {} rows, {} to create, {} to update",
                r.register.label(lang),
                r.rows,
                r.created,
                r.updated
            ),
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
pub fn read_import_file(path: &Path, lang: Lang) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size > tabular::MAX_IMPORT_BYTES {
        let e = tabular::ReadError::TooLarge {
            size,
            limit: tabular::MAX_IMPORT_BYTES,
        };
        return Err(format!("{} ({})", e.message(lang), e.code()));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write_sheet(path: &Path, sheet: OutSheet) -> Result<(), String> {
    let bytes = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        tabular::write_csv(&sheet.headers, &sheet.rows)
    } else {
        tabular::write_xlsx(&[sheet])?
    };
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

pub async fn run(what: OrgCmd) -> Result<ExitCode, String> {
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
                .await
                .map_err(|e| e.to_string())?;
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
            let (y0, y1) = organise::year_bounds(organise::this_year()).ok_or("bad year")?;
            let from = date(from, "from")?.unwrap_or(y0);
            let to = date(to, "to")?.unwrap_or(y1);
            let service = crate::open(&Config::resolve(&config, data)?).await?;
            let sheet = service
                .register_sheet(&Actor::System, r, l, from, to)
                .await
                .map_err(|e| e.to_string())?;
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
                return Err(format!(
                    "{} is kept in the system and has no import template",
                    r.as_str()
                ));
            }
            std::fs::write(&output, registers::template(r, l)?).map_err(|e| e.to_string())?;
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
            let stats = service
                .campaign_stats(&sys, &campaign, from, to)
                .await
                .map_err(|e| e.to_string())?;
            let (_, unpaired) = service
                .unpaired(&sys, &campaign, Some(stats.from), Some(stats.to))
                .await
                .map_err(|e| e.to_string())?;
            print_stats(&stats, &unpaired, l);
            if let Some(path) = xlsx {
                std::fs::write(&path, stats_workbook(&stats, &unpaired, l)?)
                    .map_err(|e| e.to_string())?;
                println!("→ {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        OrgCmd::Campaigns { config } => {
            let service = crate::open(&Config::resolve(&config, data)?).await?;
            for c in service
                .store()
                .campaigns()
                .await
                .map_err(|e| e.to_string())?
            {
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
    let t = &s.total;
    let yuan = t.donated_value_fen as f64 / 100.0;
    match lang {
        Lang::Zh => {
            println!("{}（{} 至 {}）", s.campaign.name, s.from, s.to);
            println!(
                "{} 个党组织、{} 名党员参与，联系服务对象 {} 个，走访调研 {} 次，收集意见建议 {} 条（转为诉求 {} 件），\
                 开展政策宣讲 {} 场、主题党日 {} 次、志愿服务 {} 次，解决问题 {} 件，捐赠价值 {:.2} 元，服务群众 {} 人次。",
                t.branches,
                t.members,
                t.targets_paired,
                t.visits,
                t.suggestions,
                t.suggestions_to_requests,
                t.publicity_sessions,
                t.theme_days,
                t.volunteer_services,
                t.problems_solved,
                yuan,
                t.people_served
            );
            println!(
                "应结对支部 {} 个，尚未结对 {} 个。",
                s.branches_covered, s.branches_unpaired
            );
        }
        Lang::En => {
            println!("{} ({} to {})", s.campaign.name, s.from, s.to);
            println!(
                "{} party organisations and {} members took part; {} targets paired; {} visits; {} suggestions \
                 ({} filed as requests); {} publicity sessions, {} theme days, {} volunteer services; {} problems \
                 solved; donations worth {:.2} yuan; {} people served.",
                t.branches,
                t.members,
                t.targets_paired,
                t.visits,
                t.suggestions,
                t.suggestions_to_requests,
                t.publicity_sessions,
                t.theme_days,
                t.volunteer_services,
                t.problems_solved,
                yuan,
                t.people_served
            );
            println!(
                "{} branches covered, {} without a pairing.",
                s.branches_covered, s.branches_unpaired
            );
        }
    }
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

/// `redgrid bench import`: members from xlsx and from CSV, on each backend, into a district whose
/// areas and party organisations exist. Prints rows/s and the total time of each import (reading,
/// validating and writing), for a first import (all created) and a re-import (all updated).
pub async fn bench_import(rows: usize, backends: &str, pg_url: &str) -> Result<(), String> {
    println!("redgrid bench import: {rows} member rows (target: ≤ 10 s per 100,000 rows)");
    let (csv, xlsx) = member_files(rows)?;
    println!(
        "files: csv {:.1} MB, xlsx {:.1} MB",
        csv.len() as f64 / 1e6,
        xlsx.len() as f64 / 1e6
    );
    println!(
        "{:<9} {:<5} {:<9} {:>8} {:>9} {:>10} {:>9} {:>9}",
        "backend", "file", "pass", "rows", "seconds", "rows/s", "read s", "write s"
    );
    for b in backends.split(',').map(str::trim) {
        for (kind, bytes) in [("csv", &csv), ("xlsx", &xlsx)] {
            let db = match b {
                "sqlite" => testing::sqlite().await.map_err(|e| e.to_string())?,
                "postgres" => match testing::postgres_at(pg_url)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    Some(db) => db,
                    None => {
                        println!("{b:<9} skipped: PostgreSQL unreachable (set --pg-url)");
                        break;
                    }
                },
                other => return Err(format!("unknown backend {other:?}")),
            };
            let (service, _) = testing::seed(db.store.clone())
                .await
                .map_err(|e| e.to_string())?;
            let orgs = "组织编码,组织名称,组织类别,上级组织编码,所在区划代码\nBENCH-C,基准党委,党委,,120116\nBENCH-B,基准支部,党支部,BENCH-C,120116001001\n";
            let rep = service
                .import_register(
                    &Actor::System,
                    Register::PartyOrgs,
                    orgs.as_bytes(),
                    false,
                    Lang::Zh,
                )
                .await
                .map_err(|e| e.to_string())?;
            if !rep.imported {
                return Err(format!(
                    "setting up the organisations failed: {:?}",
                    rep.issues
                ));
            }
            for pass in ["create", "update"] {
                let t0 = Instant::now();
                let sheet = tabular::read(bytes).map_err(|e| e.code().to_string())?;
                let read_s = t0.elapsed().as_secs_f64();
                let rep = service
                    .import_register(&Actor::System, Register::Members, bytes, false, Lang::Zh)
                    .await
                    .map_err(|e| e.to_string())?;
                let total = t0.elapsed().as_secs_f64() - read_s;
                if !rep.imported || rep.rows != rows || sheet.rows.len() != rows {
                    return Err(format!(
                        "the import did not go through: {:?}",
                        rep.issues.first()
                    ));
                }
                let expected = if pass == "create" {
                    (rows, 0)
                } else {
                    (0, rows)
                };
                if (rep.created, rep.updated) != expected {
                    return Err(format!(
                        "{pass}: created {} updated {}",
                        rep.created, rep.updated
                    ));
                }
                println!(
                    "{b:<9} {kind:<5} {pass:<9} {rows:>8} {total:>9.2} {:>10.0} {read_s:>9.2} {:>9.2}",
                    rows as f64 / total.max(1e-9),
                    total - read_s
                );
            }
        }
    }
    println!(
        "seconds: the whole import as `redgrid org import` runs it (read, check, write in one transaction);"
    );
    println!(
        "read s: reading the file alone (measured separately, included in seconds); write s = seconds − read s"
    );
    Ok(())
}

/// A member register of `rows` rows, as CSV and as xlsx.
fn member_files(rows: usize) -> Result<(Vec<u8>, Vec<u8>), String> {
    let headers: Vec<String> = [
        "姓名",
        "手机号",
        "所在党组织编码",
        "党员类别",
        "报到社区代码",
        "所在网格代码",
        "入党日期",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let surnames = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
    let given = [
        "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰",
    ];
    let data: Vec<Vec<Cell>> = (0..rows)
        .map(|i| {
            let in_service = i % 3 == 0;
            vec![
                Cell::Text(format!(
                    "{}{}{}",
                    surnames[i % 10],
                    given[(i / 10) % 12],
                    given[(i / 120) % 12]
                )),
                Cell::Text(format!("139{:08}", i)),
                Cell::Text("BENCH-B".into()),
                Cell::Text(if in_service { "在职党员" } else { "党员" }.into()),
                Cell::Text(if in_service {
                    "120116001001".into()
                } else {
                    String::new()
                }),
                Cell::Text(if i % 5 == 0 {
                    "12011600100101".into()
                } else {
                    String::new()
                }),
                Cell::Text(format!("{}-{:02}-01", 1980 + i % 40, 1 + i % 12)),
            ]
        })
        .collect();
    let csv = tabular::write_csv(&headers, &data);
    let xlsx = tabular::write_xlsx(&[OutSheet {
        name: "党员".into(),
        headers,
        rows: data,
    }])?;
    Ok((csv, xlsx))
}
