//! Residents sign up themselves with a phone number, a one-time code sent by SMS, and a password;
//! and set their home grid, where filing starts.
//!
//! The rules: a code is good for ten minutes and once. One phone gets at most one code a minute and
//! five an hour; one address asks for at most twenty an hour. Five wrong codes in a row lock the
//! phone for fifteen minutes. Asking for a code and signing up answer the same whether or not
//! someone already has that phone: a person who has it proves it with the code, and then signs up
//! (a person a hotline operator filed for claims their record) or sets a new password.

use crate::accounts::{NewSession, check_password, random_hex};
use crate::service::{Service, now};
use chrono::{DateTime, Duration, Utc};
use redgrid_core::error::{CoreError, Denial, Fields, Limit};
use redgrid_core::ids::AreaId;
use redgrid_core::org::valid_mobile;
use redgrid_core::person::{Actor, Grant, Role, Scope};
use redgrid_store::{Change, NewPerson, PhoneCode, Result};

/// Minutes a code is good for.
pub const CODE_MINUTES: i64 = 10;
/// Seconds between two codes to one phone.
pub const CODE_GAP_SECS: i64 = 60;
/// Codes to one phone in an hour.
pub const CODES_PER_PHONE_HOUR: usize = 5;
/// Codes asked for from one address in an hour.
pub const CODES_PER_ADDRESS_HOUR: usize = 20;
/// Wrong codes in a row before the phone is locked.
pub const MAX_WRONG_CODES: i64 = 5;
/// Minutes a phone stays locked.
pub const LOCK_MINUTES: i64 = 15;

/// What a sign-up form sends.
#[derive(Debug, Clone, Default)]
pub struct SignUp {
    pub phone: String,
    pub code: String,
    pub password: String,
    /// Used for someone new; someone already known keeps their name.
    pub name: Option<String>,
}

/// The phone's digits, as the directory keeps them (`+86 138…` is `138…`).
fn digits(phone: &str) -> String {
    crate::roles::normalize_phone(phone)
}

fn code_hash(phone: &str, code: &str) -> String {
    redgrid_store::sha256_hex(format!("{phone}:{code}").as_bytes())
}

fn too_many(limit: Limit, until: DateTime<Utc>, at: DateTime<Utc>) -> CoreError {
    CoreError::TooMany {
        limit,
        retry_after: (until - at).num_seconds().max(1),
    }
}

impl Service {
    /// Sends a sign-up code to `phone` (through the SMS queue: this never waits on the sender).
    /// `address` is the asking client's IP address.
    pub async fn send_signup_code(&self, phone: &str, address: &str) -> Result<()> {
        let phone_digits = digits(phone);
        if phone.trim().is_empty() {
            return Err(CoreError::validation("phone", "required").into());
        }
        if !valid_mobile(&phone_digits) {
            return Err(CoreError::validation("phone", "invalid").into());
        }
        let phone = phone_digits;
        let at = now();
        let store = self.store();
        if let (_, Some(until)) = store.phone_lock(&phone).await?
            && until > at
        {
            return Err(too_many(Limit::Tries, until, at).into());
        }
        let hour = Duration::hours(1);
        let (to_phone, from_address) = store.codes_sent_since(&phone, address, at - hour).await?;
        // Every limit that holds the phone or the address back; the wait is the longest.
        let mut until: Option<DateTime<Utc>> = None;
        let mut hold = |t: DateTime<Utc>| until = Some(until.map_or(t, |u| u.max(t)));
        if let Some(last) = to_phone.last()
            && at - *last < Duration::seconds(CODE_GAP_SECS)
        {
            hold(*last + Duration::seconds(CODE_GAP_SECS));
        }
        if to_phone.len() >= CODES_PER_PHONE_HOUR {
            hold(to_phone[to_phone.len() - CODES_PER_PHONE_HOUR] + hour);
        }
        if from_address.len() >= CODES_PER_ADDRESS_HOUR {
            hold(from_address[from_address.len() - CODES_PER_ADDRESS_HOUR] + hour);
        }
        if let Some(until) = until {
            return Err(too_many(Limit::Codes, until, at).into());
        }
        let code = six_digits()?;
        store
            .record_phone_code(&PhoneCode {
                id: 0,
                phone: phone.clone(),
                address: address.to_string(),
                code_hash: code_hash(&phone, &code),
                sent_at: at,
                expires_at: at + Duration::minutes(CODE_MINUTES),
                used_at: None,
            })
            .await?;
        let text = format!(
            "【红网格】您的验证码是 {code}，{CODE_MINUTES} 分钟内有效。如非本人操作，请忽略本短信。"
        );
        self.sms().send(&phone, &text);
        Ok(())
    }

    /// Signs up (or, for a phone that has a login, sets a new password) with a code sent to the
    /// phone, then opens a session of `hours`.
    pub async fn sign_up(&self, form: &SignUp, hours: i64) -> Result<NewSession> {
        let phone = digits(&form.phone);
        let mut fields = Fields::new();
        if form.phone.trim().is_empty() {
            fields.add("phone", "required");
        } else if !valid_mobile(&phone) {
            fields.add("phone", "invalid");
        }
        let code = form.code.trim();
        if code.is_empty() {
            fields.add("code", "required");
        }
        check_password(&mut fields, "password", &form.password);
        let name = form
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if let Some(n) = name {
            fields.text("name", Some(n), 50);
        }
        fields.finish()?;
        let at = now();
        let store = self.store();
        let (_, locked) = store.phone_lock(&phone).await?;
        if let Some(until) = locked
            && until > at
        {
            return Err(too_many(Limit::Tries, until, at).into());
        }
        let latest = store.latest_phone_code(&phone).await?;
        let good = match &latest {
            Some(c)
                if c.used_at.is_none()
                    && c.expires_at > at
                    && c.code_hash == code_hash(&phone, code) =>
            {
                store.use_phone_code(c.id, at).await?
            }
            _ => false,
        };
        if !good {
            // Counted in the database in one step, so guesses sent at once are all counted; the
            // fifth locks the phone and spends the code.
            let failures = store.count_phone_failure(&phone).await?;
            if failures >= MAX_WRONG_CODES {
                let until = at + Duration::minutes(LOCK_MINUTES);
                store.set_phone_lock(&phone, 0, Some(until)).await?;
                if let Some(c) = &latest {
                    store.use_phone_code(c.id, at).await?;
                }
                return Err(too_many(Limit::Tries, until, at).into());
            }
            return Err(CoreError::validation("code", "wrong_code").into());
        }
        store.set_phone_lock(&phone, 0, None).await?;
        let district = self
            .directory()
            .district()
            .map(|d| d.id)
            .ok_or_else(|| CoreError::validation("phone", "not_allowed"))?;
        let resident = Grant {
            role: Role::Resident,
            scope: Scope::Area(district),
        };
        let person = match store.person_by_phone(&phone).await? {
            Some(p) => {
                // Someone a hotline operator filed for has no role yet: they become a resident.
                if p.grants.is_empty() {
                    store
                        .set_grant(p.id, resident, true, Change::system())
                        .await?;
                }
                p
            }
            None => {
                let tail = &phone[phone.len().saturating_sub(4)..];
                let name = name.map_or_else(|| format!("居民{tail}"), str::to_string);
                let new = NewPerson {
                    name,
                    phone: Some(phone.clone()),
                    grants: vec![resident],
                };
                store.create_person(new, Change::system()).await?
            }
        };
        let existing = store.account(person.id).await?;
        // A code by text message proves the phone, not the person: staff accounts, which can see
        // others' data, get a new password from an administrator, never by SMS alone.
        if existing.is_some() && person.grants.iter().any(|g| g.role.rank() > 0) {
            return Err(CoreError::Forbidden(Denial::ResetByAdministrator).into());
        }
        let action = if existing.is_some() {
            "reset_password_by_sms"
        } else {
            "sign_up"
        };
        let account = redgrid_store::Account {
            person_id: person.id,
            username: existing.as_ref().and_then(|a| a.username.clone()),
            password_hash: crate::accounts::hash_off_thread(&form.password).await?,
            disabled: existing.as_ref().is_some_and(|a| a.disabled),
            must_change: false,
            created_at: existing.as_ref().map_or(at, |a| a.created_at),
            password_changed_at: at,
        };
        store
            .set_account(
                &account,
                action,
                Change {
                    at,
                    by: Some(person.id),
                },
            )
            .await?;
        self.login(&phone, &form.password, hours).await
    }

    /// Sets a person's home grid (a grid or a community), where their filing starts.
    pub async fn set_home_area(&self, actor: &Actor, area: AreaId) -> Result<()> {
        let Actor::Person(p) = actor else {
            return Err(CoreError::validation("area_id", "not_allowed").into());
        };
        let dir = self.directory();
        match dir.area(area) {
            None => return Err(CoreError::validation("area_id", "unknown").into()),
            Some(a)
                if !matches!(
                    a.kind,
                    redgrid_core::area::Level::Grid | redgrid_core::area::Level::Community
                ) =>
            {
                return Err(CoreError::validation("area_id", "wrong_level").into());
            }
            Some(_) => {}
        }
        self.store().set_home_area(p.id, area).await
    }
}

/// A six-digit code from the operating system's randomness.
fn six_digits() -> Result<String> {
    let hex = random_hex(4)?;
    let n = u32::from_str_radix(&hex, 16).unwrap_or_default() % 1_000_000;
    Ok(format!("{n:06}"))
}
