//! Accounts, sessions and API tokens.
//!
//! - Passwords are kept as argon2id hashes (PHC strings with their own salt and parameters).
//! - A login creates a session: a random 256-bit token for the cookie, of which only the SHA-256 is
//!   stored, and a CSRF token the pages must send back with every change.
//! - API tokens are random too, shown once when made and stored hashed. A token acts for one person,
//!   within the roles and areas it names: its actor holds only the person's grants that fit both.
//! - Every change to an account or a token joins the audit chain; a new password ends the person's
//!   sessions.

use crate::service::{Service, now};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Duration, Utc};
use redgrid_core::error::{CoreError, Denial, Entity, Fields};
use redgrid_core::ids::{AreaId, PersonId};
use redgrid_core::person::{Actor, Person, Role};
use redgrid_store::{Account, ApiToken, Change, Result, SessionRow, StoreError};

/// API tokens start with this, so they are easy to spot in logs and leaked files.
pub const TOKEN_PREFIX: &str = "rgt_";
/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 10;
/// The longest password accepted (argon2 hashes any length; this only bounds the work).
pub const MAX_PASSWORD: usize = 128;

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Corrupt(format!("no randomness from the OS: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Hashes a password with argon2id and a fresh salt.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| StoreError::Corrupt(format!("no randomness from the OS: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Corrupt(format!("password hash: {e}")))
}

/// Whether `password` matches a stored hash. A malformed hash never matches.
pub fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// [`hash_password`] on a blocking thread: argon2 is slow on purpose and must not stall the server.
pub(crate) async fn hash_off_thread(password: &str) -> Result<String> {
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|e| StoreError::Corrupt(format!("password hash: {e}")))?
}

/// [`password_matches`] on a blocking thread.
async fn matches_off_thread(hash: &str, password: &str) -> bool {
    let (hash, pw) = (hash.to_string(), password.to_string());
    tokio::task::spawn_blocking(move || password_matches(&hash, &pw))
        .await
        .unwrap_or(false)
}

/// A hash to verify against when the login names no account, so that a wrong name costs as long
/// as a wrong password (no telling which names exist by timing).
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password that matches nothing").unwrap_or_default())
}

/// The field errors of a proposed password (empty when it is acceptable).
pub fn check_password(fields: &mut Fields, name: &str, password: &str) {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        fields.push(
            redgrid_core::error::FieldError::new(name, "too_short").with_limit(MIN_PASSWORD as i64),
        );
    } else if n > MAX_PASSWORD {
        fields.push(
            redgrid_core::error::FieldError::new(name, "too_long").with_limit(MAX_PASSWORD as i64),
        );
    } else {
        let kinds = [
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| c.is_alphabetic()),
            password.chars().any(|c| !c.is_alphanumeric()),
        ];
        if kinds.iter().filter(|k| **k).count() < 2 {
            fields.add(name, "too_simple");
        }
    }
}

fn valid_username(u: &str) -> bool {
    (3..=32).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        && u.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
}

/// A new browser session: the cookie's token (give it to the browser, never store it) and the row.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub row: SessionRow,
    pub person: Person,
    pub must_change: bool,
}

/// What a presented credential turned out to be.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A browser session, with the CSRF token its changes must carry, and whether the account must
    /// change its password before anything else.
    Session {
        person: Person,
        csrf_token: String,
        must_change: bool,
    },
    /// An API token: the person restricted to the token's roles and areas.
    Token { person: Person, token_id: i64 },
}

/// A district administrator to create from the server's console (`redgrid admin create`).
#[derive(Debug, Clone, Default)]
pub struct NewAdministrator {
    pub name: String,
    pub username: String,
    pub phone: Option<String>,
    pub password: String,
    /// The password was made up: it must be changed at the first login.
    pub must_change: bool,
    /// On an empty database: the district's 6-digit code and name, to create the district.
    pub district: Option<(String, String)>,
    /// Make the personal-data auditor instead of an administrator (from the command line only, so
    /// that no administrator can give themselves or a stand-in the access log).
    pub auditor: bool,
}

impl Service {
    /// The personal-data auditor's login and tokens are theirs and the command line's alone: an
    /// administrator who could reset them, or make a token in their name, could read the access log
    /// that audits the administrators too.
    pub(crate) async fn refuse_auditor(&self, actor: &Actor, person: PersonId) -> Result<()> {
        if let Actor::Person(_) = actor
            && self
                .store()
                .person(person)
                .await?
                .is_some_and(|p| p.grants.iter().any(|g| g.role == Role::Auditor))
        {
            return Err(CoreError::Forbidden(redgrid_core::error::Denial::RoleNotAllowed).into());
        }
        Ok(())
    }

    /// Creates a district administrator with a login, and on an empty database the district
    /// itself. Checks everything before writing anything. The system (the console) only.
    pub async fn create_administrator(
        &self,
        new: &NewAdministrator,
    ) -> Result<(Person, redgrid_core::area::Area)> {
        let existing = self.directory().district().cloned();
        let mut fields = Fields::new();
        match (&existing, &new.district) {
            (Some(_), Some(_)) => fields.add("district_code", "not_allowed"),
            (None, None) => fields.add("district_code", "required"),
            _ => {}
        }
        fields.text("name", Some(new.name.trim()), 50);
        if let Some(p) = &new.phone
            && !redgrid_core::person::valid_phone(p)
        {
            fields.add("phone", "invalid");
        }
        if !valid_username(&new.username) {
            fields.add("username", "invalid");
        } else if self
            .store()
            .account_by_login(&new.username)
            .await?
            .is_some()
        {
            fields.add("username", "taken");
        }
        check_password(&mut fields, "password", &new.password);
        fields.finish()?;
        let district = match (existing, &new.district) {
            (Some(d), _) => d,
            (None, Some((code, name))) => {
                let area = redgrid_store::NewArea {
                    parent_id: None,
                    kind: redgrid_core::area::Level::District,
                    code: code.clone(),
                    name: name.clone(),
                };
                self.create_area(&Actor::System, area).await?
            }
            (None, None) => return Err(CoreError::validation("district_code", "required").into()),
        };
        let person = self
            .store()
            .create_person(
                redgrid_store::NewPerson {
                    name: new.name.trim().to_string(),
                    phone: new.phone.clone(),
                    grants: vec![redgrid_core::person::Grant {
                        role: if new.auditor {
                            Role::Auditor
                        } else {
                            Role::DistrictAdmin
                        },
                        scope: redgrid_core::person::Scope::Area(district.id),
                    }],
                },
                Change::system(),
            )
            .await?;
        self.set_login(
            &Actor::System,
            person.id,
            Some(&new.username),
            &new.password,
            new.must_change,
        )
        .await?;
        Ok((person, district))
    }

    fn forbidden(d: Denial) -> StoreError {
        CoreError::Forbidden(d).into()
    }

    /// Gives `person` a login, or replaces its password (district administrators, or the system for
    /// `redgrid admin create` and the demo). `must_change` makes them choose their own at next login.
    pub async fn set_login(
        &self,
        actor: &Actor,
        person: PersonId,
        username: Option<&str>,
        password: &str,
        must_change: bool,
    ) -> Result<()> {
        let by = self.require_admin(actor)?;
        self.refuse_auditor(actor, person).await?;
        let mut fields = Fields::new();
        if let Some(u) = username
            && !valid_username(u)
        {
            fields.add("username", "invalid");
        }
        check_password(&mut fields, "password", password);
        fields.finish()?;
        if self.store().person(person).await?.is_none() {
            return Err(CoreError::NotFound {
                entity: Entity::Person,
                id: person.0,
            }
            .into());
        }
        let at = now();
        let existing = self.store().account(person).await?;
        let account = Account {
            person_id: person,
            username: username
                .map(str::to_string)
                .or_else(|| existing.as_ref().and_then(|a| a.username.clone())),
            password_hash: hash_off_thread(password).await?,
            disabled: false,
            must_change,
            created_at: existing.as_ref().map_or(at, |a| a.created_at),
            password_changed_at: at,
        };
        let action = if existing.is_some() {
            "reset_password"
        } else {
            "create_account"
        };
        self.store()
            .set_account(&account, action, Change { at, by })
            .await
    }

    /// Checks a login name (username or phone) and password and opens a session of `hours`.
    /// The key failed logins are counted under: the account a login name or phone belongs to, so
    /// that a user name and its phone (with or without +86) share one count; an unknown name counts
    /// for itself.
    pub async fn login_key(&self, login: &str) -> Result<String> {
        let login = login.trim();
        let mut found = self.store().account_by_login(login).await?;
        if found.is_none() {
            let phone = crate::roles::normalize_phone(login);
            if phone != login {
                found = self.store().account_by_login(&phone).await?;
            }
        }
        Ok(match found {
            Some(a) => format!("person:{}", a.person_id.0),
            None => format!("name:{}", login.to_lowercase()),
        })
    }

    pub async fn login(&self, login: &str, password: &str, hours: i64) -> Result<NewSession> {
        let mut account = self.store().account_by_login(login.trim()).await?;
        if account.is_none() {
            let phone = crate::roles::normalize_phone(login.trim());
            if phone != login.trim() {
                account = self.store().account_by_login(&phone).await?;
            }
        }
        let Some(account) = account else {
            let _ = matches_off_thread(decoy_hash(), password).await;
            return Err(Self::forbidden(Denial::BadCredentials));
        };
        if !matches_off_thread(&account.password_hash, password).await {
            return Err(Self::forbidden(Denial::BadCredentials));
        }
        if account.disabled {
            return Err(Self::forbidden(Denial::AccountDisabled));
        }
        let person = self
            .store()
            .person(account.person_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("account without a person".into()))?;
        let token = random_hex(32)?;
        let at = now();
        let row = SessionRow {
            token_hash: redgrid_store::sha256_hex(token.as_bytes()),
            person_id: person.id,
            csrf_token: random_hex(32)?,
            created_at: at,
            expires_at: at + Duration::hours(hours.max(1)),
        };
        self.store().create_session(&row).await?;
        Ok(NewSession {
            token,
            row,
            person,
            must_change: account.must_change,
        })
    }

    /// Ends the session with this cookie token (nothing happens for an unknown token).
    pub async fn logout(&self, token: &str) -> Result<()> {
        self.store()
            .delete_session(&redgrid_store::sha256_hex(token.as_bytes()))
            .await
    }

    /// The person and CSRF token of a live session.
    pub async fn session_credential(&self, token: &str, at: DateTime<Utc>) -> Result<Credential> {
        let hash = redgrid_store::sha256_hex(token.as_bytes());
        let Some(s) = self.store().session(&hash).await? else {
            return Err(Self::forbidden(Denial::SessionExpired));
        };
        if s.expires_at <= at {
            self.store().delete_session(&hash).await?;
            return Err(Self::forbidden(Denial::SessionExpired));
        }
        let account = self.store().account(s.person_id).await?;
        let Some(account) = account.filter(|a| !a.disabled) else {
            return Err(Self::forbidden(Denial::AccountDisabled));
        };
        let person = self
            .store()
            .person(s.person_id)
            .await?
            .ok_or_else(|| Self::forbidden(Denial::SessionExpired))?;
        Ok(Credential::Session {
            person,
            csrf_token: s.csrf_token,
            must_change: account.must_change,
        })
    }

    /// The person an API token acts as: only their grants within the token's roles and areas.
    pub async fn token_credential(&self, token: &str, at: DateTime<Utc>) -> Result<Credential> {
        let hash = redgrid_store::sha256_hex(token.as_bytes());
        let Some(t) = self.store().api_token_by_hash(&hash).await? else {
            return Err(Self::forbidden(Denial::Unauthenticated));
        };
        if t.revoked_at.is_some() || t.expires_at.is_some_and(|e| e <= at) {
            return Err(Self::forbidden(Denial::TokenRevoked));
        }
        if self
            .store()
            .account(t.person_id)
            .await?
            .is_some_and(|a| a.disabled)
        {
            return Err(Self::forbidden(Denial::AccountDisabled));
        }
        let mut person = self
            .store()
            .person(t.person_id)
            .await?
            .ok_or_else(|| Self::forbidden(Denial::TokenRevoked))?;
        let dir = self.directory();
        person.grants.retain(|g| {
            t.roles.contains(&g.role)
                && (t.area_ids.is_empty()
                    || dir
                        .grant_area(g)
                        .is_some_and(|a| t.area_ids.iter().any(|scope| dir.contains(*scope, a))))
        });
        Ok(Credential::Token {
            person,
            token_id: t.id,
        })
    }

    /// Changes one's own password, given the current one. Ends every session of the person.
    pub async fn change_password(&self, person: PersonId, old: &str, new: &str) -> Result<()> {
        let Some(account) = self.store().account(person).await? else {
            return Err(Self::forbidden(Denial::WrongPassword));
        };
        if !matches_off_thread(&account.password_hash, old).await {
            return Err(Self::forbidden(Denial::WrongPassword));
        }
        let mut fields = Fields::new();
        check_password(&mut fields, "new_password", new);
        if old == new {
            fields.add("new_password", "unchanged");
        }
        fields.finish()?;
        let at = now();
        let account = Account {
            password_hash: hash_off_thread(new).await?,
            must_change: false,
            password_changed_at: at,
            ..account
        };
        self.store()
            .set_account(
                &account,
                "change_password",
                Change {
                    at,
                    by: Some(person),
                },
            )
            .await
    }

    /// Makes an API token for `person` (district administrators). Returns the token itself — shown
    /// this once — and what is stored. `roles` must be roles the person holds; `areas` narrow it.
    pub async fn create_api_token(
        &self,
        actor: &Actor,
        person: PersonId,
        name: &str,
        roles: &[Role],
        areas: &[AreaId],
        valid_days: Option<i64>,
    ) -> Result<(String, ApiToken)> {
        let by = self.require_admin(actor)?;
        self.refuse_auditor(actor, person).await?;
        let mut fields = Fields::new();
        fields.text("name", Some(name), 80);
        let holder = self.store().person(person).await?;
        match &holder {
            None => fields.add("person_id", "unknown"),
            Some(p) => {
                if roles.is_empty() || roles.iter().any(|r| !p.grants.iter().any(|g| g.role == *r))
                {
                    fields.add("roles", "not_held");
                }
            }
        }
        let dir = self.directory();
        if areas.iter().any(|a| dir.area(*a).is_none()) {
            fields.add("area_ids", "unknown");
        }
        if valid_days.is_some_and(|d| !(1..=3650).contains(&d)) {
            fields.add("valid_days", "out_of_range");
        }
        fields.finish()?;
        let token = format!("{TOKEN_PREFIX}{}", random_hex(24)?);
        let at = now();
        let stored = ApiToken {
            id: 0,
            token_hash: redgrid_store::sha256_hex(token.as_bytes()),
            prefix: token.chars().take(TOKEN_PREFIX.len() + 6).collect(),
            name: name.trim().to_string(),
            person_id: person,
            roles: roles.to_vec(),
            area_ids: areas.to_vec(),
            created_by: by,
            created_at: at,
            expires_at: valid_days.map(|d| at + Duration::days(d)),
            revoked_at: None,
        };
        let stored = self
            .store()
            .create_api_token(&stored, Change { at, by })
            .await?;
        Ok((token, stored))
    }

    /// Every API token (district administrators); never the tokens themselves.
    pub async fn api_tokens(&self, actor: &Actor) -> Result<Vec<ApiToken>> {
        self.require_admin(actor)?;
        self.store().api_tokens().await
    }

    /// Revokes a token at once (district administrators).
    pub async fn revoke_api_token(&self, actor: &Actor, id: i64) -> Result<()> {
        let by = self.require_admin(actor)?;
        if self
            .store()
            .revoke_api_token(id, Change { at: now(), by })
            .await?
        {
            Ok(())
        } else {
            Err(CoreError::NotFound {
                entity: Entity::Token,
                id,
            }
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse 42").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(password_matches(&h, "correct horse 42"));
        assert!(!password_matches(&h, "correct horse 43"));
        assert!(!password_matches("not a hash", "x"));
        assert_ne!(
            h,
            hash_password("correct horse 42").unwrap_or_default(),
            "salted"
        );
    }

    #[test]
    fn weak_passwords_and_bad_usernames_are_refused() {
        let check = |pw: &str| {
            let mut f = Fields::new();
            check_password(&mut f, "password", pw);
            f.finish().err().map(|e| e.to_string())
        };
        assert!(check("short1").is_some());
        assert!(check("onlyletterslong").is_some());
        assert!(check("12345678901").is_some());
        assert!(check("letters and 1 digit").is_none());
        assert!(check(&"a1".repeat(70)).is_some());
        assert!(valid_username("grid.worker_1"));
        for bad in ["ab", "1abc", "has space", "中文名", &"a".repeat(33)] {
            assert!(!valid_username(bad), "{bad}");
        }
    }
}
