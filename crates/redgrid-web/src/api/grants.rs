//! Granting and revoking roles: `POST /api/grants` and `POST /api/grants/revoke`.

use crate::AppState;
use crate::auth::actor;
use crate::body::{Reader, parse_json};
use crate::error::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use redgrid_app::roles::{GrantInput, Granted};
use redgrid_core::person::{Person, Role};
use serde::Serialize;
use std::sync::Arc;

/// The body of `POST /api/grants` and `POST /api/grants/revoke`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct GrantBody {
    /// The person's number; or give `phone` (and, to create someone new when granting, `name`).
    person_id: Option<i64>,
    phone: Option<String>,
    name: Option<String>,
    /// One of the roles (`resident`, `volunteer`, `member`, `grid_worker`, `community_staff`,
    /// `street_staff`, `department_staff`, `verifier`, `supervisor`, `district_admin`).
    role: Role,
    /// Where the role is held: an area (and everything below it) …
    area_id: Option<i64>,
    /// … or a unit (exactly one of the two).
    unit_id: Option<i64>,
}

/// The answer to a grant or revocation.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GrantResult {
    /// The person with all their grants after the change.
    #[schema(value_type = Object)]
    pub person: Person,
    /// False when nothing needed to change (already held, or not held).
    pub changed: bool,
    /// When the grant gave the person their first login: the one-time password, shown this once.
    /// They must choose their own at first login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_password: Option<String>,
}

/// `POST /api/grants`: grants a role in an area or a unit. District administrators anywhere; street
/// and community staff inside their own area and for roles not above their own. Gives a person
/// without a login a one-time password.
#[utoipa::path(post, path = "/api/grants", tag = "accounts", request_body = GrantBody,
    responses((status = 200, body = GrantResult), (status = 201, body = GrantResult),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn grant(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    change(&state, &headers, body, true).await
}

/// `POST /api/grants/revoke`: revokes a role, under the same rules as granting it.
#[utoipa::path(post, path = "/api/grants/revoke", tag = "accounts", request_body = GrantBody,
    responses((status = 200, body = GrantResult), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    change(&state, &headers, body, false).await
}

async fn change(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    granting: bool,
) -> Result<Response, ApiError> {
    let who = actor(state, headers).await?;
    let json = parse_json(headers, body)?;
    let mut r = Reader::new(&json);
    let input = GrantInput {
        person_id: r.id("person_id"),
        phone: r.string("phone"),
        name: r.string("name"),
        role: r.choice("role", Role::parse),
        area_id: r.id("area_id"),
        unit_id: r.id("unit_id"),
    };
    r.done()?;
    let Granted {
        person,
        changed,
        one_time_password,
    } = if granting {
        state.service.grant_role(&who, &input).await?
    } else {
        state.service.revoke_role(&who, &input).await?
    };
    // Cached credentials carry the person's grants.
    state.tokens.clear();
    let status = if granting && changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let result = GrantResult {
        person,
        changed,
        one_time_password,
    };
    Ok((status, Json(result)).into_response())
}
