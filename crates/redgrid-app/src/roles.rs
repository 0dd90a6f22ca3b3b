//! Granting and revoking roles (授权), with delegation: a district administrator grants anywhere;
//! street and community staff grant inside their own area, and only roles that do not rank above
//! their own (`policy::may_grant`). Each change is one audit-chain record. A person who gets a role
//! and has no login gets one with a one-time password that must be changed at first login.

use crate::accounts::random_hex;
use crate::registers::{OneTimeLogin, StaffRow};
use crate::service::{Service, now};
use redgrid_core::error::{CoreError, Denial, Entity, Fields};
use redgrid_core::ids::{AreaId, PersonId, UnitId};
use redgrid_core::person::{Actor, Grant, Person, Role, Scope, valid_phone};
use redgrid_core::policy;
use redgrid_store::{Account, Change, NewPerson, Result, StoreError};

/// What a grant or a revocation names: the person (by number, or by phone — a grant creates a
/// person not known yet when a name is given too), the role, and where it is held (an area or a
/// unit, exactly one).
#[derive(Debug, Clone, Default)]
pub struct GrantInput {
    pub person_id: Option<PersonId>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub role: Option<Role>,
    pub area_id: Option<AreaId>,
    pub unit_id: Option<UnitId>,
}

/// The outcome of a grant or revocation.
#[derive(Debug, Clone)]
pub struct Granted {
    /// The person after the change, with all their grants.
    pub person: Person,
    /// False when the person already held (or did not hold) the grant: nothing was written.
    pub changed: bool,
    /// The one-time password of a login made with this grant, shown once.
    pub one_time_password: Option<String>,
}

/// Keeps the digits of a phone number, the form the directory stores (a mobile written with the
/// country code, +86 138…, is the same number).
pub fn normalize_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix("86") {
        Some(rest) if rest.len() == 11 && rest.starts_with('1') => rest.to_string(),
        _ => digits,
    }
}

impl Service {
    /// Grants a role. Refused (403, nothing written) outside the actor's area, for a role above the
    /// actor's own, and for the actor's own roles.
    pub async fn grant_role(&self, actor: &Actor, input: &GrantInput) -> Result<Granted> {
        // The auditor is made from the command line only (`redgrid admin create --auditor`).
        if input.role == Some(Role::Auditor) && matches!(actor, Actor::Person(_)) {
            return Err(CoreError::Forbidden(Denial::RoleNotAllowed).into());
        }
        let (grant, person) = self.check_grant(actor, input, true).await?;
        let by = Change::by(actor);
        let (person, created) = match person {
            Some(p) => (p, false),
            None => {
                let new = NewPerson {
                    name: input.name.clone().unwrap_or_default().trim().to_string(),
                    phone: input.phone.as_deref().map(normalize_phone),
                    grants: vec![],
                };
                (self.store().create_person(new, by).await?, true)
            }
        };
        let (person, changed) = self
            .store()
            .set_grant(person.id, grant, true, by)
            .await?
            .ok_or_else(|| not_found(person.id))?;
        // Only someone added here gets a login from the granter; anyone already known claims
        // theirs with their own phone (sign-up by SMS), so no granter ever holds another's login.
        let one_time_password = if created {
            self.login_for_new_staff(&person, by).await?
        } else {
            None
        };
        Ok(Granted {
            person: self.within_reach(actor, person),
            changed,
            one_time_password,
        })
    }

    /// Revokes a role, under the same rules as granting it.
    pub async fn revoke_role(&self, actor: &Actor, input: &GrantInput) -> Result<Granted> {
        if input.role == Some(Role::Auditor) && matches!(actor, Actor::Person(_)) {
            return Err(CoreError::Forbidden(Denial::RoleNotAllowed).into());
        }
        let (grant, person) = self.check_grant(actor, input, false).await?;
        let id = person
            .map(|p| p.id)
            .ok_or_else(|| StoreError::from(CoreError::validation("phone", "unknown")))?;
        let (person, changed) = self
            .store()
            .set_grant(id, grant, false, Change::by(actor))
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(Granted {
            person: self.within_reach(actor, person),
            changed,
            one_time_password: None,
        })
    }

    /// Validates the input and the actor's right to it; returns the grant and the person (None for a
    /// person a grant will create). Writes nothing.
    async fn check_grant(
        &self,
        actor: &Actor,
        input: &GrantInput,
        granting: bool,
    ) -> Result<(Grant, Option<Person>)> {
        let dir = self.directory();
        let mut fields = Fields::new();
        if input.role.is_none() {
            fields.add("role", "required");
        }
        let scope = match (input.area_id, input.unit_id) {
            (Some(a), None) if dir.area(a).is_some() => Some(Scope::Area(a)),
            (Some(_), None) => {
                fields.add("area_id", "unknown");
                None
            }
            (None, Some(u)) if dir.unit(u).is_some() => Some(Scope::Unit(u)),
            (None, Some(_)) => {
                fields.add("unit_id", "unknown");
                None
            }
            (None, None) => {
                fields.add("area_id", "required");
                None
            }
            (Some(_), Some(_)) => {
                fields.add("unit_id", "not_allowed");
                None
            }
        };
        let phone = input
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty());
        if input.person_id.is_none() && phone.is_none() {
            fields.add("person_id", "required");
        }
        if let Some(p) = phone
            && !valid_phone(p)
        {
            fields.add("phone", "invalid");
        }
        if let Some(name) = input.name.as_deref().filter(|n| !n.trim().is_empty()) {
            fields.text("name", Some(name), 50);
        }
        fields.finish()?;
        let (Some(role), Some(scope)) = (input.role, scope) else {
            return Err(CoreError::validation("role", "required").into());
        };
        let grant = Grant { role, scope };
        if let Actor::Person(_) = actor {
            policy::may_grant(&dir, actor, &grant)?;
        }
        let person = match (input.person_id, phone) {
            (Some(id), _) => Some(
                self.store()
                    .person(id)
                    .await?
                    .ok_or_else(|| not_found(id))?,
            ),
            (None, Some(p)) => self.store().person_by_phone(&normalize_phone(p)).await?,
            (None, None) => None,
        };
        if let (Actor::Person(me), Some(p)) = (actor, &person)
            && me.id == p.id
        {
            return Err(CoreError::Forbidden(Denial::OwnRoles).into());
        }
        // Revoking needs the grant to be held: otherwise the answer would show anyone's record.
        if !granting
            && let Some(p) = &person
            && !p.grants.contains(&grant)
        {
            return Err(match input.person_id {
                Some(id) => not_found(id),
                None => CoreError::validation("phone", "unknown").into(),
            });
        }
        if person.is_none() {
            let named = input.name.as_deref().is_some_and(|n| !n.trim().is_empty());
            if !granting {
                return Err(CoreError::validation("phone", "unknown").into());
            }
            if !named {
                return Err(CoreError::validation("name", "required").into());
            }
        }
        Ok((grant, person))
    }

    /// A person as a granter may see them: only the grants within the granter's reach (all of them
    /// for a district-wide granter).
    pub fn within_reach(&self, actor: &Actor, mut person: Person) -> Person {
        let dir = self.directory();
        if let Actor::Person(_) = actor {
            person
                .grants
                .retain(|g| policy::may_grant(&dir, actor, g).is_ok());
        }
        person
    }

    /// Logins for the people of an imported staff register who have none, each once.
    pub(crate) async fn logins_for_staff(
        &self,
        rows: &[StaffRow],
        known: &std::collections::HashSet<String>,
        by: Change,
    ) -> Result<Vec<OneTimeLogin>> {
        let mut out: Vec<OneTimeLogin> = Vec::new();
        for r in rows {
            // Only people the import added get a login here; those already known claim theirs.
            if known.contains(&r.phone) || out.iter().any(|l| l.phone == r.phone) {
                continue;
            }
            let Some(person) = self.store().person_by_phone(&r.phone).await? else {
                continue;
            };
            if let Some(password) = self.login_for_new_staff(&person, by).await? {
                out.push(OneTimeLogin {
                    name: person.name.clone(),
                    phone: r.phone.clone(),
                    one_time_password: password,
                });
            }
        }
        Ok(out)
    }

    /// A login for a person who has just been given a role and has none: a one-time password, to
    /// be changed at first login. None when the person has a login already (or no phone to log in
    /// with).
    async fn login_for_new_staff(&self, person: &Person, by: Change) -> Result<Option<String>> {
        if person.phone.is_none() || self.store().account(person.id).await?.is_some() {
            return Ok(None);
        }
        // Letters and digits both, so that it passes the password rules it will replace.
        let password = format!("Rg{}", random_hex(6)?);
        let at = now();
        let account = Account {
            person_id: person.id,
            username: None,
            password_hash: crate::accounts::hash_off_thread(&password).await?,
            disabled: false,
            must_change: true,
            created_at: at,
            password_changed_at: at,
        };
        self.store()
            .set_account(&account, "create_account", by)
            .await?;
        Ok(Some(password))
    }
}

fn not_found(id: PersonId) -> StoreError {
    CoreError::NotFound {
        entity: Entity::Person,
        id: id.0,
    }
    .into()
}
