//! Who is calling. Until the accounts issue lands, a caller names themself with a per-person demo
//! token (`Authorization: Bearer <token>`) that `redgrid demo` prints; tokens are stored hashed.

use crate::AppState;
use crate::error::{ApiError, lang_of};
use axum::http::{HeaderMap, header};
use redgrid_core::error::{CoreError, Denial};
use redgrid_core::person::{Actor, Person, Role};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tokens seen in the last `ttl`, with their person. A token that stops working (the accounts issue
/// will revoke tokens) keeps working here for at most `ttl`; revocation must clear the cache.
pub struct TokenCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Person)>>,
}

/// The most tokens remembered at once; past that the cache starts afresh.
const MAX_CACHED: usize = 10_000;

impl TokenCache {
    pub fn new(ttl: Duration) -> Self {
        TokenCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, token: &str) -> Option<Person> {
        let entries = self.entries.lock().ok()?;
        let (at, person) = entries.get(token)?;
        (at.elapsed() < self.ttl).then(|| person.clone())
    }

    fn put(&self, token: &str, person: &Person) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_CACHED {
                entries.clear();
            }
            entries.insert(token.to_string(), (Instant::now(), person.clone()));
        }
    }

    /// Forgets every token (after a revocation or a change of roles).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

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
    if let Some(person) = state.tokens.get(token) {
        return Ok(Actor::Person(person));
    }
    let person = state
        .service
        .store()
        .person_by_demo_token(token)
        .await
        .map_err(|e| ApiError::store(e, lang))?
        .ok_or_else(unauthenticated)?;
    state.tokens.put(token, &person);
    Ok(Actor::Person(person))
}

/// Whether the actor sees only their own requests: people who hold no role but `resident`.
pub fn sees_only_own(actor: &Actor) -> bool {
    match actor {
        Actor::System => false,
        Actor::Person(p) => p.grants.iter().all(|g| g.role == Role::Resident),
    }
}
