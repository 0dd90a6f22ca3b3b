//! redgrid-app: the application layer. Every interface (the JSON API, the pages, Open311, the CLI,
//! the demo and the jobs) runs redgrid's use cases through the [`Service`] here: requests and their
//! commands, accounts and sessions, the organisation registers with their spreadsheet imports and
//! exports, the scorecard, the background jobs and notification delivery.
//!
//! The core (`redgrid-core`) decides; the store (`redgrid-store`) persists; this crate looks up what
//! the core needs, asks the policy table, and hands the store the decision to run in one transaction.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod demo;
pub mod jobs;
pub mod ledger;
pub mod limits;
pub mod metrics;
pub mod organise;
pub mod outbox;
pub mod power_alerts;
pub mod registers;
pub mod roles;
pub mod scorecard;
pub mod service;
pub mod signup;
pub mod sms;
pub mod tabular;
#[cfg(feature = "testing")]
pub mod testing;

pub use redgrid_store::{Result, StoreError};
pub use service::Service;

/// Runs a command-line program's `main` future on a multi-threaded runtime: the program's exit code,
/// or 2 with the error on stderr (with its context, `{:#}`) when it fails or the runtime cannot start.
pub fn run_main<E: std::fmt::Display>(
    main: impl std::future::Future<Output = std::result::Result<std::process::ExitCode, E>>,
) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    runtime.block_on(main).unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        std::process::ExitCode::from(2)
    })
}
