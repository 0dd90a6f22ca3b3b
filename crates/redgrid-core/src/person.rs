//! People, their roles and the scope each role is held in; the actor of every command.

use crate::area::Level;
use crate::ids::{AreaId, PersonId, UnitId};
use crate::vocab::vocabulary;
use serde::{Deserialize, Serialize};

vocabulary!(
    /// A role a person holds. A person may hold several, each in its own scope.
    Role {
        Resident = "resident", "居民", "resident";
        Volunteer = "volunteer", "志愿者", "volunteer";
        Member = "member", "党员", "party member";
        GridWorker = "grid_worker", "网格员", "grid worker";
        CommunityStaff = "community_staff", "社区工作人员", "community staff";
        StreetStaff = "street_staff", "街镇工作人员", "street staff";
        DepartmentStaff = "department_staff", "部门工作人员", "department staff";
        Verifier = "verifier", "党组织验单人", "verifier (party organisation)";
        Supervisor = "supervisor", "督办人员", "supervisor";
        DistrictAdmin = "district_admin", "区级管理员", "district administrator";
        /// Reads the log of who saw or revealed whose personal data (PIPL); nothing else. Not the
        /// district administrator: whoever administers the system is among those audited.
        Auditor = "auditor", "个人信息审计员", "personal-data auditor";
    }
);

impl Role {
    /// How far the role reaches, for delegation: a person may grant a role only if one of their
    /// granting roles ranks at least as high (residents, volunteers and members 0; grid workers 1;
    /// community staff 2; street and department staff 3; verifiers, supervisors and district
    /// administrators 4 — those who check others' work are named by the district).
    pub fn rank(self) -> u8 {
        match self {
            Role::Resident | Role::Volunteer | Role::Member => 0,
            Role::GridWorker => 1,
            Role::CommunityStaff => 2,
            Role::StreetStaff | Role::DepartmentStaff => 3,
            Role::Verifier | Role::Supervisor | Role::DistrictAdmin | Role::Auditor => 4,
        }
    }

    /// For staff roles: the handling level whose work they dispatch, escalate and suspend.
    pub fn staff_level(self) -> Option<Level> {
        match self {
            Role::GridWorker => Some(Level::Grid),
            Role::CommunityStaff => Some(Level::Community),
            Role::StreetStaff | Role::DepartmentStaff => Some(Level::Street),
            Role::DistrictAdmin => Some(Level::District),
            _ => None,
        }
    }
}

/// Where a role applies: an area (and everything below it) or a unit (its members and teams, and the
/// unit's own area).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Area(AreaId),
    Unit(UnitId),
}

/// One role held in one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Grant {
    pub role: Role,
    pub scope: Scope,
}

/// A person as the directory knows them. Contact data is personal data: handle it with care.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    pub phone: Option<String>,
    pub grants: Vec<Grant>,
}

impl Person {
    /// The roles the person holds, each once, in the order of their grants.
    pub fn roles(&self) -> Vec<Role> {
        let mut roles = Vec::new();
        for g in &self.grants {
            if !roles.contains(&g.role) {
                roles.push(g.role);
            }
        }
        roles
    }
}

/// Who runs a command: a person with their grants, or the system itself (jobs, detectors).
#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    Person(Person),
    System,
}

impl Actor {
    pub fn person_id(&self) -> Option<PersonId> {
        match self {
            Actor::Person(p) => Some(p.id),
            Actor::System => None,
        }
    }
    pub fn grants(&self) -> &[Grant] {
        match self {
            Actor::Person(p) => &p.grants,
            Actor::System => &[],
        }
    }
}

/// Masks a Chinese name for people with no need to see it: 张三 → 张*, 欧阳娜娜 → 欧***.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

/// Masks a phone number, keeping the first three and last four digits: 13812341234 → 138****1234.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() < 7 {
        return "*".repeat(digits.len().max(3));
    }
    let head: String = digits[..3].iter().collect();
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(digits.len() - 7))
}

/// Masks the numbers in free text that could identify a person — phone numbers, ID numbers, bank
/// cards: every run of 7 or more digits (single spaces or dashes inside, a final X for ID numbers)
/// keeps its first three and last four digits. Separated groups must each hold 3 or more digits, so
/// dates (2026-10-05) stay as they are. "请联系13812341234" → "请联系138****1234";
/// "110101199003071234" → "110***********1234".
pub fn mask_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let digits_from = |k: usize| chars[k..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // A run: a group of digits, then (when it has 3 or more) more groups of 3 or more, each after
        // a single space or dash.
        let mut end = i + digits_from(i);
        let mut digits = end - i;
        while digits >= 3 && end + 1 < chars.len() && matches!(chars[end], '-' | ' ') {
            let next = digits_from(end + 1);
            if next < 3 {
                break;
            }
            digits += next;
            end += 1 + next;
        }
        if digits == 17 && end < chars.len() && matches!(chars[end], 'X' | 'x') {
            digits += 1;
            end += 1;
        }
        if digits >= 7 {
            let mut seen = 0;
            for &c in &chars[i..end] {
                if c.is_ascii_digit() || c == 'X' || c == 'x' {
                    seen += 1;
                    out.push(if seen <= 3 || seen > digits - 4 {
                        c
                    } else {
                        '*'
                    });
                } else {
                    out.push(c);
                }
            }
        } else {
            out.extend(&chars[i..end]);
        }
        i = end;
    }
    out
}

/// Checks a phone number: a mainland mobile (11 digits starting with 1) or a fixed line with area
/// code (e.g. 022-12345678). Spaces and dashes are allowed.
pub fn valid_phone(phone: &str) -> bool {
    let digits: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ' || c == '+');
    if !allowed {
        return false;
    }
    let digits = digits
        .strip_prefix("86")
        .filter(|d| d.len() == 11)
        .unwrap_or(&digits);
    (digits.len() == 11 && digits.starts_with('1'))
        || (digits.len() >= 10 && digits.len() <= 12 && digits.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_phones_are_masked() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("王"), "王*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("022-2520-4288"), "022****4288");
        assert_eq!(mask_phone("12"), "***");
    }

    #[test]
    fn numbers_in_text_are_masked() {
        assert_eq!(mask_text("请联系13812341234谢谢"), "请联系138****1234谢谢");
        assert_eq!(mask_text("电话 138-1234-1234"), "电话 138-****-1234");
        assert_eq!(
            mask_text("身份证110101199003071234"),
            "身份证110***********1234"
        );
        assert_eq!(
            mask_text("身份证11010119900307123X"),
            "身份证110***********123X"
        );
        assert_eq!(mask_text("固话022-25204288"), "固话022-****4288");
        assert_eq!(
            mask_text("3号楼2单元501室，共12户"),
            "3号楼2单元501室，共12户"
        );
        assert_eq!(mask_text("2026-10-05 报修"), "2026-10-05 报修");
        assert_eq!(mask_text(""), "");
        assert_eq!(mask_text("拨13812341234 5次"), "拨138****1234 5次");
        assert_eq!(
            mask_text("2026-10-05 13812341234"),
            "2026-10-05 138****1234"
        );
    }

    #[test]
    fn phones_are_checked() {
        assert!(valid_phone("13812341234"));
        assert!(valid_phone("138 1234 1234"));
        assert!(valid_phone("+86 13812341234"));
        assert!(valid_phone("022-25204288"));
        assert!(!valid_phone("1381234123"));
        assert!(!valid_phone("abc"));
        assert!(!valid_phone("23812341234"));
    }

    #[test]
    fn roles_round_trip_and_have_levels() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::GridWorker.staff_level(), Some(Level::Grid));
        assert_eq!(Role::DepartmentStaff.staff_level(), Some(Level::Street));
        assert_eq!(Role::Resident.staff_level(), None);
    }
}
