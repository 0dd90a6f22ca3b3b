//! The request pages: filing (点单), my requests, a request with its timeline and the actions the
//! viewer may take now, the staff work queue with bulk dispatch, what waits for verification, and the
//! red list with supervision.

mod file;
mod page;
mod queues;
mod rows;
mod widgets;

pub use file::*;
pub use page::*;
pub use queues::*;
pub use rows::*;
pub use widgets::*;

// The imports the modules share: each of them starts with `use super::*`.
use super::{
    Ctx, Errors, FormData, LoggedIn, PageError, PageForm, PageQuery, PageResult, ctx_login_at,
    form_key, open_states, render, see_other,
};
use crate::AppState;
use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use redgrid_app::service::{PublicDraft, now};
use redgrid_core::area::Level;
use redgrid_core::command::{
    Command, Ctx as DecideCtx, Facts, FieldKind, FieldSource, FieldSpec, Need, SubmitInput, decide,
    event_label,
};
use redgrid_core::directory::Directory;
use redgrid_core::error::{CoreError, FieldError, Lang};
use redgrid_core::ids::*;
use redgrid_core::person::{Actor, Role};
use redgrid_core::policy::CommandKind;
use redgrid_core::request::{Attachment, Channel, Event, EventBody, Light, Request, Status};
use redgrid_store::{ListFilter, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
