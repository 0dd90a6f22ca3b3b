//! The web pages: server-rendered HTML (askama templates, checked at compile time), plain forms that
//! work without JavaScript, zh-CN by default with an English switch, and every asset embedded in the
//! binary so that the pages work on an intranet with no internet at all.
//!
//! Forms post `application/x-www-form-urlencoded` (or multipart with a file) to the page's own
//! address; each carries the session's CSRF token in `_csrf`, checked here (the API's header check
//! does not apply outside `/api/`). A refused form is shown again with what was typed and each error
//! next to its field; a successful one redirects (303) so that reloading does not post twice.

mod account;
mod assets;
pub mod audit;
mod context;
mod errors;
mod forms;
pub mod inbox;
mod lang;
pub mod org;
pub mod reports;
pub mod requests;
pub mod roles;
pub mod svg;

use account::*;
use assets::*;
pub use context::*;
pub use errors::*;
pub use forms::*;
pub use lang::*;

// The imports the page modules share: each of them starts with `use super::*`.
use crate::AppState;
use crate::auth::{self, PageCaller};
use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{FromRequest, FromRequestParts, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header, request::Parts};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use redgrid_core::error::{CoreError, Denial, FieldError, Lang};
use redgrid_core::person::{Actor, Person, Role};
use redgrid_core::request::Status;
use redgrid_store::StoreError;
use std::collections::HashMap;
use std::sync::Arc;

/// The pages' routes (merged with the API's in [`crate::router`]).
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(home))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .route("/favicon.ico", get(favicon))
        .route("/static/favicon.svg", get(favicon))
        .route("/lang", get(switch_lang))
        .route("/login", get(login_form).post(login_post))
        .route("/logout", post(logout))
        .route("/password", get(password_form).post(password_post))
        .route(
            "/file",
            get(requests::file_form)
                .post(requests::file_post)
                .layer(DefaultBodyLimit::max(requests::MAX_PHOTO + 256 * 1024)),
        )
        .route(
            "/signup",
            get(account::signup_form).post(account::signup_post),
        )
        .route("/signup/code", post(account::signup_code_post))
        .route("/me/home", get(account::home_form).post(account::home_post))
        .route("/audit", get(audit::page))
        .route("/inbox", get(inbox::page))
        .route("/inbox/read", post(inbox::read_all))
        .route("/inbox/sms", post(inbox::sms_choices))
        .route("/inbox/{id}", get(inbox::open))
        .route("/mine", get(requests::mine))
        .route("/queue", get(requests::queue))
        .route("/queue/dispatch", post(requests::bulk_dispatch))
        .route("/verify", get(requests::to_verify))
        .route("/redlist", get(requests::red_list))
        .route("/requests/{id}", get(requests::page))
        .route("/requests/{id}/{command}", post(requests::command_post))
        .route("/public/{list}", get(reports::public))
        .route("/scorecard", get(reports::scorecard))
        .route("/dashboard", get(reports::dashboard))
        .route("/org", get(org::index))
        .route(
            "/org/import",
            post(org::import).layer(DefaultBodyLimit::max(crate::api::org::MAX_IMPORT_UPLOAD)),
        )
        .route(
            "/org/activities",
            get(org::activities).post(org::record_activity),
        )
        .route("/org/alliances/end", post(org::end_alliance))
        .route("/org/alliances/save", post(org::save_alliance))
        .route("/org/roles", get(roles::page))
        .route("/org/roles/grant", post(roles::grant_post))
        .route("/org/roles/revoke", post(roles::revoke_post))
        .route("/org/campaigns/{code}", get(org::campaign))
        .route("/org/{register}", get(org::register))
        .layer(DefaultBodyLimit::max(crate::MAX_JSON_BODY))
}
