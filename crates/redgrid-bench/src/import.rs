//! `redgrid-bench import`: the member register imported from xlsx and from CSV on each backend.

use redgrid_app::registers::Register;
use redgrid_app::tabular::{self, Cell, OutSheet};
use redgrid_app::testing;
use redgrid_core::Lang;
use redgrid_core::person::Actor;
use std::time::Instant;

/// `redgrid-bench import`: members from xlsx and from CSV, on each backend, into a district whose
/// areas and party organisations exist. Prints rows/s and the total time of each import (reading,
/// validating and writing), for a first import (all created) and a re-import (all updated).
pub async fn run(rows: usize, backends: &str, pg_url: &str) -> Result<(), String> {
    println!("redgrid-bench import: {rows} member rows (target: ≤ 10 s per 100,000 rows)");
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
    // The register's first seven columns (name to joined on), as its declaration names them.
    let headers: Vec<String> = Register::Members.columns()[..7]
        .iter()
        .map(|c| c.header(Lang::Zh).to_string())
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
