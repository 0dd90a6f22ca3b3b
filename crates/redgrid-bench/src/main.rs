//! `redgrid-bench`: the benchmark programs. They print figures and ratios against a reference run in
//! the same process or script, and never assert times. They live outside the product binary, with the
//! throwaway databases and seeded districts of `redgrid-app`'s `testing` feature.
//!
//! ```sh
//! cargo run --release -p redgrid-bench -- intake      # commands/s and p99 over HTTP, both backends
//! cargo run --release -p redgrid-bench -- scorecard   # the scorecard at 10 M requests
//! cargo run --release -p redgrid-bench -- import      # the member register from xlsx and CSV
//! cargo run --release -p redgrid-bench -- power       # the electricity detectors
//! cargo run -p redgrid-bench -- fuzz tabular --seconds 20   # a file reader against mutated seeds
//! ```

mod ceiling;
mod fuzz;
mod import;
mod intake;
mod power;
mod scorecard;

use clap::{Parser, Subcommand};
use redgrid_app::testing;
use std::process::ExitCode;

/// The product's allocator (`redgrid`'s `main.rs`), so that the server measured here allocates as
/// the shipped one does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "redgrid-bench",
    about = "redgrid's benchmarks: figures and ratios, never timed assertions"
)]
struct Cli {
    #[command(subcommand)]
    what: BenchCmd,
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Feeds a file reader mutations of its seed files for a bounded time; fails on a panic, a
    /// slow input or too much memory (not a benchmark: a test tool that lives beside them).
    Fuzz {
        /// tabular (xlsx, xls, CSV registers), meter-csv, parquet, meters, calendar; or all.
        target: String,
        /// Seconds per target.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// The folder of seed folders, one per target.
        #[arg(long, default_value = "tests/fuzz")]
        corpus: std::path::PathBuf,
        /// Peak memory allowed, in MB.
        #[arg(long, default_value_t = 1024)]
        max_rss_mb: u64,
        /// The random seed (the same seed replays the same inputs).
        #[arg(long, default_value_t = 20_261_205)]
        seed: u64,
    },
    /// Importing the member register from xlsx and from CSV: rows/s and total time.
    Import {
        /// Member rows per file.
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        /// Backends to measure: sqlite, postgres or both.
        #[arg(long, default_value = "sqlite,postgres")]
        backends: String,
        #[arg(long, env = "REDGRID_BENCH_PG_URL")]
        pg_url: Option<String>,
    },
    /// Intake throughput: submit, accept, dispatch.
    Intake {
        /// Requests to carry through the three commands, per mode and backend.
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Unmeasured requests per client first, in each mode (connections, statement caches, pages).
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        /// Concurrent clients (each one keep-alive connection).
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Backends to measure: sqlite, postgres or both.
        #[arg(long, default_value = "sqlite,postgres")]
        backends: String,
        /// PostgreSQL to use (a throwaway schema is made and dropped); default REDGRID_TEST_PG_URL or the local server.
        #[arg(long, env = "REDGRID_BENCH_PG_URL")]
        pg_url: Option<String>,
    },
    /// The electricity detectors against DuckDB and Polars on the same synthetic readings, and the
    /// machine's read ceilings.
    Power(power::BenchArgs),
    /// Scorecard speed at scale: redgrid's pre-summed counts against a plain GROUP BY.
    Scorecard {
        /// Requests to load per backend (the issue's target is 10,000,000).
        #[arg(long, default_value_t = 10_000_000)]
        count: usize,
        /// Backends to measure: sqlite, postgres or both.
        #[arg(long, default_value = "sqlite,postgres")]
        backends: String,
        /// Runs of redgrid's path per case (the best is reported).
        #[arg(long, default_value_t = 5)]
        repeat: usize,
        #[arg(long, env = "REDGRID_BENCH_PG_URL")]
        pg_url: Option<String>,
    },
}

async fn run(cmd: BenchCmd) -> Result<(), String> {
    match cmd {
        BenchCmd::Fuzz {
            target,
            seconds,
            corpus,
            max_rss_mb,
            seed,
        } => {
            let targets: Vec<&str> = if target == "all" {
                fuzz::TARGETS.to_vec()
            } else {
                vec![target.as_str()]
            };
            for t in targets {
                tokio::task::block_in_place(|| fuzz::run(t, seconds, &corpus, max_rss_mb, seed))?;
            }
            Ok(())
        }
        BenchCmd::Power(args) => tokio::task::block_in_place(|| power::run(args)),
        BenchCmd::Import {
            rows,
            backends,
            pg_url,
        } => {
            let pg_url = pg_url.unwrap_or_else(testing::postgres_url);
            crate::import::run(rows, &backends, &pg_url).await
        }
        BenchCmd::Scorecard {
            count,
            backends,
            repeat,
            pg_url,
        } => {
            let pg_url = pg_url.unwrap_or_else(testing::postgres_url);
            crate::scorecard::run(count, &backends, &pg_url, repeat.max(1)).await
        }
        BenchCmd::Intake {
            count,
            warmup,
            clients,
            backends,
            pg_url,
        } => {
            let pg_url = pg_url.unwrap_or_else(testing::postgres_url);
            println!(
                "redgrid bench intake: {count} requests × (submit, accept, dispatch), {clients} clients, \
                 after {warmup} unmeasured requests per client"
            );
            println!(
                "{:<9} {:<8} {:>7} {:>9} {:>10} {:>9} {:>9} {:>8}",
                "backend", "mode", "ops", "seconds", "ops/s", "p50 ms", "p99 ms", "steal %"
            );
            let mut outcomes = Vec::new();
            for b in backends.split(',').map(str::trim) {
                let db = match b {
                    "sqlite" => testing::sqlite().await.map_err(|e| e.to_string())?,
                    "postgres" => match testing::postgres_at(&pg_url)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        Some(db) => db,
                        None => {
                            println!("{b:<9} skipped: PostgreSQL unreachable (set --pg-url)");
                            continue;
                        }
                    },
                    other => return Err(format!("unknown backend {other:?}")),
                };
                outcomes.push(
                    crate::intake::intake(b, db.store.clone(), count, warmup, clients).await?,
                );
            }
            crate::intake::print_targets(&outcomes, clients);
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    redgrid_app::run_main(async move { run(cli.what).await.map(|()| ExitCode::SUCCESS) })
}
