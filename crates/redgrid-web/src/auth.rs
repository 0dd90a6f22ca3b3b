//! Who is calling. Until the accounts issue lands, a caller names themself with a per-person demo
//! token (`Authorization: Bearer <token>`) that `redgrid demo` prints; tokens are stored hashed.

use crate::AppState;
use crate::error::{ApiError, lang_of};
use axum::http::{HeaderMap, header};
use redgrid_core::error::{CoreError, Denial};
use redgrid_core::person::{Actor, Role};

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The calling person, or 401 `unauthenticated`.
pub async fn actor(state: &AppState, headers: &HeaderMap) -> Result<Actor, ApiError> {
    let lang = lang_of(headers);
    let unauthenticated = || ApiError::core(&CoreError::Forbidden(Denial::Unauthenticated), lang);
    let token = bearer(headers).ok_or_else(unauthenticated)?;
    let person = state
        .service
        .store()
        .person_by_demo_token(token)
        .await
        .map_err(|e| ApiError::store(e, lang))?
        .ok_or_else(unauthenticated)?;
    Ok(Actor::Person(person))
}

/// Whether the actor sees only their own requests: people who hold no role but `resident`.
pub fn sees_only_own(actor: &Actor) -> bool {
    match actor {
        Actor::System => false,
        Actor::Person(p) => p.grants.iter().all(|g| g.role == Role::Resident),
    }
}
