//! redgrid-core: the pure domain of redgrid. No IO, no async, no SQL.
//!
//! - [`area`], [`unit`], [`person`], [`catalogue`]: the district's places, organisations, people and
//!   the category catalogue, held together in a [`directory::Directory`];
//! - [`request`]: requests, their events, and the projection rebuilt from the events;
//! - [`command`]: every command of the lifecycle and the pure decision that turns it into an event;
//! - [`org`]: party organisations, members, pairings, alliances, activities and campaign figures;
//! - [`policy`]: the one table that decides who may run which command;
//! - [`error`]: stable error codes with messages in zh-CN and English.

#![forbid(unsafe_code)]

pub mod area;
pub mod calendar;
pub mod catalogue;
pub mod command;
pub mod deadline;
pub mod directory;
pub mod error;
pub mod ids;
pub mod notify;
pub mod org;
pub mod person;
pub mod policy;
pub mod redact;
pub mod request;
pub mod scorecard;
pub mod unit;
pub mod vocab;

#[cfg(test)]
mod tests;

pub use error::{CoreError, Lang};
