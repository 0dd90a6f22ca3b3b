//! The organisation registers (台账) as spreadsheets: their columns with Chinese headers, the import
//! (a dry run that lists every bad row; a real run that is all-or-nothing and updates by natural
//! key), the templates and the exports.
//!
//! Validation is pure: it reads the sheet and a snapshot of what the database already holds
//! ([`Lookups`]) and produces either a [`Plan`] of rows with every reference resolvable, or the list
//! of issues. The store then applies a plan in one transaction ([`redgrid_store::org::OrgStore::apply_import`]).

use crate::tabular::{self, Cell, OutSheet, ReadError, Sheet};
use chrono::NaiveDate;
use redgrid_core::Lang;
use redgrid_core::area::Level;
use redgrid_core::ids::{AreaId, UnitId};
use redgrid_core::org::{MemberKind, OrgKind, PairingKind, TargetKind, parse_date, valid_mobile};
use redgrid_core::person::{Role, Scope};
use redgrid_core::unit::UnitKind;
use redgrid_core::vocab::Vocab;
pub use redgrid_store::plan::*;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

redgrid_core::vocabulary!(plain
    /// A register that can be exported (and, for the first seven, imported).
    Register {
        Areas = "areas", "区划网格", "areas and grids";
        Units = "units", "单位", "units";
        PartyOrgs = "party_orgs", "党组织", "party organisations";
        Members = "members", "党员", "members";
        Volunteers = "volunteers", "志愿者", "volunteers";
        Targets = "targets", "服务对象", "grassroots targets";
        Pairings = "pairings", "结对共建", "pairings";
        /// People and the roles they hold (授权): one row per role held in an area or a unit.
        Staff = "staff", "人员角色", "staff and roles";
        Alliances = "alliances", "党建联盟", "alliances";
        Activities = "activities", "活动台账", "activity ledger";
        Suggestions = "suggestions", "意见建议", "suggestions";
    }
);

impl Register {
    /// Reads a register's name as a path or a command line gives it: the identifier, with `-`
    /// allowed for `_`.
    pub fn from_name(s: &str) -> Option<Register> {
        Register::parse(&s.trim().replace('-', "_"))
    }

    /// Whether the register can be imported from a spreadsheet.
    pub fn importable(self) -> bool {
        !matches!(self, Register::Activities | Register::Suggestions)
    }

    /// The register's columns, in order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Register::Areas => AREA_COLUMNS,
            Register::Units => UNIT_COLUMNS,
            Register::PartyOrgs => ORG_COLUMNS,
            Register::Members => MEMBER_COLUMNS,
            Register::Volunteers => VOLUNTEER_COLUMNS,
            Register::Targets => TARGET_COLUMNS,
            Register::Pairings => PAIRING_COLUMNS,
            Register::Staff => STAFF_COLUMNS,
            Register::Alliances => ALLIANCE_COLUMNS,
            Register::Activities => ACTIVITY_COLUMNS,
            Register::Suggestions => SUGGESTION_COLUMNS,
        }
    }
}

/// One column of a register.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Column {
    pub key: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub required: bool,
    /// How to fill it in (shown in the template's instructions sheet).
    pub help_zh: &'static str,
    pub help_en: &'static str,
}

impl Column {
    pub fn header(&self, lang: Lang) -> &'static str {
        lang.pick(self.zh, self.en)
    }
}

const fn col(
    key: &'static str,
    zh: &'static str,
    en: &'static str,
    required: bool,
    help_zh: &'static str,
    help_en: &'static str,
) -> Column {
    Column {
        key,
        zh,
        en,
        required,
        help_zh,
        help_en,
    }
}

#[rustfmt::skip]
const AREA_COLUMNS: &[Column] = &[
    col("code", "区划代码", "area code", true, "区 6 位、街镇 9 位、社区（村）12 位、网格 14–16 位；上级由代码前缀确定", "district 6 digits, street 9, community 12, grid 14–16; the parent is the code's prefix"),
    col("name", "名称", "name", true, "不超过 100 字", "at most 100 characters"),
];

#[rustfmt::skip]
const UNIT_COLUMNS: &[Column] = &[
    col("code", "单位编码", "unit code", true, "统一社会信用代码或本区编号，唯一", "unified social credit code or the district's own number; unique"),
    col("name", "单位名称", "unit name", true, "同一区域内不重名", "unique within its area"),
    col("kind", "单位类型", "unit kind", true, "区级部门、街镇、社区（村）、网格、工作组、区级机构、企业、社会组织", "department, street office, community office, grid team, team, district office, enterprise, social organisation"),
    col("area_code", "所在区划代码", "area code", true, "单位所在区域的区划代码", "the code of the area the unit serves"),
    col("level", "处置层级", "handling level", false, "网格、村居、街镇、部门、区级；留空按单位类型确定", "grid, community, street, district; empty: by the unit's kind"),
    col("parent_code", "上级单位编码", "parent unit code", false, "工作组所属单位", "for teams: the unit they belong to"),
];

#[rustfmt::skip]
const ORG_COLUMNS: &[Column] = &[
    col("code", "组织编码", "organisation code", true, "党组织的唯一编码", "the organisation's unique code"),
    col("name", "组织名称", "organisation name", true, "不超过 100 字", "at most 100 characters"),
    col("kind", "组织类别", "organisation kind", true, "党委、党总支、党支部、临时党支部、党小组", "committee, general branch, branch, temporary branch, party group"),
    col("parent_code", "上级组织编码", "parent organisation code", false, "上级党组织（可在同一文件中）；党支部的上级须为党委或党总支", "the parent (may be in the same file); a branch sits under a committee or a general branch"),
    col("unit_code", "所属单位编码", "unit code", false, "机关、企业等单位的党组织填写", "for the party organisation of an organ, enterprise or other unit"),
    col("area_code", "所在区划代码", "area code", false, "留空时取所属单位的区域", "empty: the unit's area"),
    col("secretary", "书记", "secretary", false, "书记姓名", "the secretary's name"),
];

#[rustfmt::skip]
const MEMBER_COLUMNS: &[Column] = &[
    col("name", "姓名", "name", true, "不超过 50 字", "at most 50 characters"),
    col("phone", "手机号", "phone", true, "11 位手机号，唯一；再次导入时按手机号更新", "11-digit mobile number; unique; a re-import updates by it"),
    col("org_code", "所在党组织编码", "party organisation code", true, "组织关系所在的党组织", "the organisation that holds the membership"),
    col("kind", "党员类别", "member kind", false, "党员、在职党员、下沉干部；留空为党员", "member, in-service member, deployed cadre; empty: member"),
    col("home_community_code", "报到社区代码", "home community code", false, "在职党员必填：居住地社区的区划代码", "required for in-service members: the community where they live"),
    col("grid_code", "所在网格代码", "grid code", false, "参加红网格党小组的网格", "the red grid whose party group they serve in"),
    col("joined_on", "入党日期", "joined on", false, "如 2010-07-01", "e.g. 2010-07-01"),
    col("period_from", "下沉开始日期", "deployed from", false, "下沉干部必填", "required for deployed cadres"),
    col("period_to", "下沉结束日期", "deployed until", false, "下沉干部必填，不早于开始日期", "required for deployed cadres; not before the start"),
];

#[rustfmt::skip]
const STAFF_COLUMNS: &[Column] = &[
    col("name", "姓名", "name", true, "不超过 50 字", "at most 50 characters"),
    col("phone", "手机号", "phone", true, "11 位手机号，登录用；已有的人员按手机号找到", "11-digit mobile number, used to log in; people already known are found by it"),
    col("role", "角色", "role", true, "网格员、社区工作人员、街镇工作人员、部门工作人员、党组织验单人、督办人员、区级管理员、志愿者、党员", "grid worker, community staff, street staff, department staff, verifier, supervisor, district administrator, volunteer, party member"),
    col("area_code", "区划代码", "area code", false, "角色所在的区划（含其下级）；与单位编码二选一", "the area the role is held in (and everything below it); this or the unit code"),
    col("unit_code", "单位编码", "unit code", false, "角色所在的单位（处理派给该单位的诉求）；与区划代码二选一", "the unit the role is held in (handles requests dispatched to it); this or the area code"),
];

#[rustfmt::skip]
const VOLUNTEER_COLUMNS: &[Column] = &[
    col("name", "姓名", "name", true, "不超过 50 字", "at most 50 characters"),
    col("phone", "手机号", "phone", true, "11 位手机号，唯一", "11-digit mobile number; unique"),
    col("area_code", "服务区划代码", "area code", true, "服务的社区或网格", "the community or grid served"),
    col("skills", "服务专长", "skills", false, "如 维修、法律咨询、理发", "e.g. repairs, legal advice, haircuts"),
    col("registered_on", "注册日期", "registered on", false, "如 2024-03-05", "e.g. 2024-03-05"),
];

#[rustfmt::skip]
const TARGET_COLUMNS: &[Column] = &[
    col("code", "对象编码", "target code", true, "服务对象的唯一编码", "the target's unique code"),
    col("name", "对象名称", "target name", true, "社区、村、企业名称或住户（户主）", "the community, village, enterprise or household"),
    col("kind", "对象类别", "target kind", true, "社区、村、企业、住户", "community, village, enterprise, household"),
    col("area_code", "所在区划代码", "area code", true, "对象所在的社区或网格", "the community or grid where it is"),
    col("unit_code", "关联单位编码", "unit code", false, "企业在单位名录中的编码", "an enterprise's unit code"),
    col("tags", "标签", "tags", false, "如 独居老人、低保户、重点企业", "e.g. elderly living alone, key enterprise"),
];

#[rustfmt::skip]
const PAIRING_COLUMNS: &[Column] = &[
    col("kind", "结对类型", "pairing kind", true, "支部联基层、1+1共建、党员联户、包联", "branch link, co-build, household pairing, liaison"),
    col("org_code", "党组织编码", "party organisation code", false, "党员联户以外的结对必填", "required except for household pairings"),
    col("member_phone", "党员手机号", "member phone", false, "党员联户必填", "required for household pairings"),
    col("target_code", "对象编码", "target code", true, "服务对象登记中的编码", "a code from the target register"),
    col("starts_on", "开始日期", "starts on", true, "如 2026-01-01", "e.g. 2026-01-01"),
    col("ends_on", "结束日期", "ends on", false, "留空为长期", "empty: open-ended"),
    col("responsible", "责任人", "responsible person", false, "", ""),
    col("goals", "结对目标", "goals", false, "不超过 500 字", "at most 500 characters"),
];

#[rustfmt::skip]
const ALLIANCE_COLUMNS: &[Column] = &[
    col("code", "联盟编码", "alliance code", true, "唯一；再次导入时按编码更新", "unique; a re-import updates by it"),
    col("name", "联盟名称", "alliance name", true, "不超过 100 字", "at most 100 characters"),
    col("area_code", "所在区划代码", "area code", true, "联盟服务的区域（新建时使用；已有的联盟不改）", "the area it serves (used when created; an existing alliance keeps its own)"),
    col("level", "处置层级", "level", false, "联盟承接哪一级的诉求：网格、社区、街镇、区；留空为街镇", "the level whose requests it takes: grid, community, street, district; empty: street"),
    col("lead_org_code", "牵头党组织编码", "lead organisation code", false, "", ""),
    col("members", "成员单位编码", "member unit codes", true, "用顿号、逗号或分号分隔的单位编码", "unit codes separated by 、, commas or semicolons"),
    col("groups", "工作组", "working groups", false, "工作组名称，用顿号分隔", "group names, separated by 、"),
    col("goals", "工作目标", "goals", false, "不超过 1000 字", "at most 1000 characters"),
    col("ended_on", "结束日期", "ended on", false, "只在导出中填写；结束联盟请在系统中操作", "export only; end an alliance in the system"),
];

#[rustfmt::skip]
const ACTIVITY_COLUMNS: &[Column] = &[
    col("held_on", "活动日期", "date", true, "", ""),
    col("kind", "活动类型", "kind", true, "", ""),
    col("org_code", "党组织编码", "organisation code", true, "", ""),
    col("org_name", "党组织", "organisation", false, "", ""),
    col("title", "活动内容", "title", true, "", ""),
    col("target", "服务对象", "target", false, "", ""),
    col("participants", "参与党员人数", "members taking part", false, "", ""),
    col("people_served", "服务群众人数", "people served", false, "", ""),
    col("suggestions", "收集意见建议", "suggestions", false, "", ""),
    col("problems_solved", "解决问题", "problems solved", false, "", ""),
    col("donation_items", "捐赠物品", "donated items", false, "", ""),
    col("donation_value", "捐赠价值（元）", "donated value (yuan)", false, "", ""),
    col("hours", "志愿服务时长", "volunteer hours", false, "", ""),
];

#[rustfmt::skip]
const SUGGESTION_COLUMNS: &[Column] = &[
    col("id", "编号", "id", true, "", ""),
    col("taken_on", "收集日期", "taken on", true, "", ""),
    col("area", "区域", "area", true, "", ""),
    col("text", "意见建议", "suggestion", true, "", ""),
    col("activity_id", "活动编号", "activity", false, "", ""),
    col("request_id", "转为诉求编号", "request", false, "", ""),
];

/// One problem found in a file: a file-level problem has row 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportIssue {
    /// The row as the spreadsheet shows it (the header is row 1); 0 for the file as a whole.
    pub row: usize,
    /// The column's header in the report's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// A stable code: `missing_column`, `required`, `invalid`, `bad_date`, `unknown_area`, …
    pub code: &'static str,
    /// The cell as read.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    pub message: String,
}

/// What an import did, or would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    pub register: Register,
    /// csv, xlsx or xls; empty when the file could not be read.
    pub file_kind: String,
    pub dry_run: bool,
    /// Data rows read.
    pub rows: usize,
    /// Rows that create a record / update one found by its natural key.
    pub created: usize,
    pub updated: usize,
    /// Whether the rows were written (never when there is any issue, or on a dry run).
    pub imported: bool,
    /// Headers the file has that the register does not use (ignored).
    pub ignored_columns: Vec<String>,
    pub issues: Vec<ImportIssue>,
    /// The staff register only: logins made for people who had none, each with its one-time
    /// password (shown this once; it must be changed at first login).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logins: Vec<OneTimeLogin>,
}

/// A login made by an import, to hand to its person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OneTimeLogin {
    pub name: String,
    pub phone: String,
    pub one_time_password: String,
}

impl ImportReport {
    fn new(register: Register, dry_run: bool) -> Self {
        ImportReport {
            register,
            file_kind: String::new(),
            dry_run,
            rows: 0,
            created: 0,
            updated: 0,
            imported: false,
            ignored_columns: Vec::new(),
            issues: Vec::new(),
            logins: Vec::new(),
        }
    }

    /// A report refusing the whole file.
    pub fn refused_file(register: Register, dry_run: bool, e: &ReadError, lang: Lang) -> Self {
        let mut r = ImportReport::new(register, dry_run);
        r.issues.push(ImportIssue {
            row: 0,
            column: None,
            code: e.code(),
            value: String::new(),
            message: e.message(lang),
        });
        r
    }
}

fn issue_message(code: &str, lang: Lang, detail: &str) -> String {
    let (zh, en) = ISSUE_MESSAGES.iter().find(|(c, ..)| *c == code).map_or(
        ("内容不正确 {detail}", "is invalid {detail}"),
        |&(_, zh, en)| (zh, en),
    );
    lang.pick(zh, en).replace("{detail}", detail)
}

/// The message of each issue code in Chinese and English; `{detail}` is the issue's detail.
#[rustfmt::skip]
const ISSUE_MESSAGES: &[(&str, &str, &str)] = &[
    ("missing_column", "缺少必填列「{detail}」", "the required column \"{detail}\" is missing"),
    ("duplicate_column", "列「{detail}」出现了不止一次", "the column \"{detail}\" appears more than once"),
    ("required", "必填项为空", "is required"),
    ("too_long", "过长（不能超过 {detail} 个字）", "is too long (at most {detail} characters)"),
    ("bad_date", "日期格式不正确，应如 2026-03-05", "is not a date such as 2026-03-05"),
    ("bad_phone", "手机号应为 1 开头的 11 位数字", "is not an 11-digit mobile number starting with 1"),
    ("bad_code", "编码格式不正确：{detail}", "is not a valid code: {detail}"),
    ("unknown_value", "不是可选值，可选：{detail}", "is not one of: {detail}"),
    ("unknown_area", "区划代码不存在（请先导入区划网格）", "names no known area (import the areas first)"),
    ("wrong_area_kind", "区划级别不符，应为{detail}", "is the wrong kind of area; expected {detail}"),
    ("unknown_parent", "上级不存在（既不在系统中，也不在本文件中）", "names no parent in the system or in this file"),
    ("unknown_unit", "单位编码不存在（请先导入单位）", "names no known unit (import the units first)"),
    ("unknown_party_org", "党组织编码不存在（请先导入党组织）", "names no known party organisation (import them first)"),
    ("unknown_target", "对象编码不存在（请先导入服务对象）", "names no known target (import the targets first)"),
    ("unknown_member", "该手机号不是已登记的党员（请先导入党员）", "is not a registered member's phone (import them first)"),
    ("duplicate_key", "与第 {detail} 行重复", "duplicates row {detail}"),
    ("wrong_parent_kind", "上级组织类别不符：{detail}", "cannot sit under that parent: {detail}"),
    ("cycle", "上下级关系形成了循环", "the parents form a cycle"),
    ("name_taken", "同一区域内已有同名单位（编码不同）", "another unit in this area has this name"),
    ("bad_period", "结束日期早于开始日期", "ends before it starts"),
    ("not_allowed", "不允许：{detail}", "not allowed: {detail}"),
];

/// Reads one sheet's rows against a register, collecting issues.
struct Reader<'a> {
    register: Register,
    lang: Lang,
    /// Column key → index in the file's rows.
    at: HashMap<&'static str, usize>,
    issues: Vec<ImportIssue>,
    row: usize,
    cells: &'a [String],
}

impl<'a> Reader<'a> {
    fn column(&self, key: &str) -> Option<String> {
        self.register
            .columns()
            .iter()
            .find(|c| c.key == key)
            .map(|c| c.header(self.lang).to_string())
    }

    fn issue(&mut self, key: &str, code: &'static str, value: &str, detail: &str) {
        let column = self.column(key);
        let message = issue_message(code, self.lang, detail);
        self.issues.push(ImportIssue {
            row: self.row,
            column,
            code,
            value: value.to_string(),
            message,
        });
    }

    fn raw(&self, key: &str) -> &'a str {
        self.at
            .get(key)
            .and_then(|i| self.cells.get(*i))
            .map(|s| s.as_str())
            .unwrap_or("")
    }

    /// A text cell; `required` adds an issue when it is empty; longer than `max` is an issue.
    fn text(&mut self, key: &str, required: bool, max: usize) -> Option<String> {
        let v = self.raw(key).trim();
        if v.is_empty() {
            if required {
                self.issue(key, "required", "", "");
            }
            return None;
        }
        if v.chars().count() > max {
            self.issue(key, "too_long", v, &max.to_string());
            return None;
        }
        Some(v.to_string())
    }

    fn date(&mut self, key: &str, required: bool) -> Option<NaiveDate> {
        let v = self.text(key, required, 40)?;
        let d = parse_date(&v);
        if d.is_none() {
            self.issue(key, "bad_date", &v, "");
        }
        d
    }

    fn phone(&mut self, key: &str, required: bool) -> Option<String> {
        let v = self.text(key, required, 20)?;
        let digits: String = v.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if valid_mobile(&digits) {
            Some(digits)
        } else {
            self.issue(key, "bad_phone", &v, "");
            None
        }
    }

    /// A word of a vocabulary: its Chinese or English name, or its identifier.
    fn word<T: Vocab>(&mut self, key: &str, required: bool) -> Option<T> {
        let v = self.text(key, required, 40)?;
        let w = T::from_cell(&v);
        if w.is_none() {
            let choices: Vec<&str> = T::all().iter().map(|w| w.name(self.lang)).collect();
            let sep = self.lang.pick("、", ", ");
            self.issue(key, "unknown_value", &v, &choices.join(sep));
        }
        w
    }

    /// An area code that must exist (in the database) and be of one of `kinds` (any when empty).
    fn area(
        &mut self,
        key: &str,
        required: bool,
        lookups: &Lookups,
        kinds: &[Level],
    ) -> Option<AreaId> {
        let v = self.text(key, required, 20)?;
        match lookups.areas.get(&v) {
            None => {
                self.issue(key, "unknown_area", &v, "");
                None
            }
            Some((_, kind)) if !kinds.is_empty() && !kinds.contains(kind) => {
                let names: Vec<&str> = kinds.iter().map(|k| k.label(self.lang)).collect();
                self.issue(key, "wrong_area_kind", &v, &names.join("/"));
                None
            }
            Some((id, _)) => Some(*id),
        }
    }

    /// A unit code that must exist in the database.
    fn unit(&mut self, key: &str, required: bool, lookups: &Lookups) -> Option<UnitId> {
        let v = self.text(key, required, 40)?;
        let found = lookups.units.get(&v).map(|(id, _)| *id);
        if found.is_none() {
            self.issue(key, "unknown_unit", &v, "");
        }
        found
    }
}

/// Maps the file's headers to the register's columns: Chinese or English header, or the key; a
/// trailing `*` (the template's mark for required columns) and spaces are ignored.
fn map_headers(
    register: Register,
    headers: &[String],
    lang: Lang,
    report: &mut ImportReport,
) -> Option<HashMap<&'static str, usize>> {
    let norm = |s: &str| -> String {
        s.trim()
            .trim_end_matches(['*', '＊'])
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_lowercase()
    };
    let mut at: HashMap<&'static str, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = norm(h);
        if h.is_empty() {
            continue;
        }
        let found = register
            .columns()
            .iter()
            .find(|c| h == norm(c.zh) || h == norm(c.en) || h == c.key);
        match found {
            Some(c) => {
                if at.insert(c.key, i).is_some() {
                    report.issues.push(ImportIssue {
                        row: 1,
                        column: Some(c.header(lang).to_string()),
                        code: "duplicate_column",
                        value: headers[i].clone(),
                        message: issue_message("duplicate_column", lang, c.header(lang)),
                    });
                }
            }
            None => report.ignored_columns.push(headers[i].trim().to_string()),
        }
    }
    for c in register.columns().iter().filter(|c| c.required) {
        if !at.contains_key(c.key) {
            report.issues.push(ImportIssue {
                row: 1,
                column: Some(c.header(lang).to_string()),
                code: "missing_column",
                value: String::new(),
                message: issue_message("missing_column", lang, c.header(lang)),
            });
        }
    }
    report.issues.is_empty().then_some(at)
}

/// Validates a sheet against a register and what the database holds. Returns the report (with
/// `created`/`updated` counted) and, when there is no issue, the plan to apply.
pub fn validate(
    register: Register,
    sheet: &Sheet,
    lookups: &Lookups,
    dry_run: bool,
    lang: Lang,
) -> (ImportReport, Option<Plan>) {
    let mut report = ImportReport::new(register, dry_run);
    report.file_kind = sheet.kind.as_str().to_string();
    report.rows = sheet.rows.len();
    if !register.importable() {
        report.issues.push(ImportIssue {
            row: 0,
            column: None,
            code: "not_importable",
            value: String::new(),
            message: lang
                .pick(
                    "该登记表只能在系统中录入，不能导入",
                    "this register is kept in the system and cannot be imported",
                )
                .to_string(),
        });
        return (report, None);
    }
    let Some(at) = map_headers(register, &sheet.headers, lang, &mut report) else {
        return (report, None);
    };
    let mut c = Check {
        rd: Reader {
            register,
            lang,
            at,
            issues: Vec::new(),
            row: 0,
            cells: &[],
        },
        sheet,
        lookups,
        seen: HashMap::new(),
        created: 0,
        updated: 0,
    };
    let plan = match register {
        Register::Areas => areas(&mut c),
        Register::Units => units(&mut c),
        Register::PartyOrgs => party_orgs(&mut c),
        Register::Members => members(&mut c),
        Register::Volunteers => volunteers(&mut c),
        Register::Targets => targets(&mut c),
        Register::Pairings => pairings(&mut c),
        Register::Staff => staff(&mut c),
        Register::Alliances => alliances(&mut c),
        Register::Activities | Register::Suggestions => Plan::Areas(Vec::new()),
    };
    report.created = c.created;
    report.updated = c.updated;
    report.issues.extend(c.rd.issues);
    report.issues.sort_by_key(|i| i.row);
    if report.issues.is_empty() {
        (report, Some(plan))
    } else {
        report.created = 0;
        report.updated = 0;
        (report, None)
    }
}

/// What one register's check works with: the reader of the file's rows, the file, what the database
/// holds, the natural keys seen so far, and the rows that create and update.
struct Check<'a> {
    rd: Reader<'a>,
    sheet: &'a Sheet,
    lookups: &'a Lookups,
    seen: HashMap<String, usize>,
    created: usize,
    updated: usize,
}

impl<'a> Check<'a> {
    /// Checks every row of the file with `check`, the reader moved to it; the rows it keeps.
    fn rows<T>(&mut self, mut check: impl FnMut(&mut Self) -> Option<T>) -> Vec<T> {
        let sheet = self.sheet;
        let mut out = Vec::with_capacity(sheet.rows.len());
        for (n, cells) in &sheet.rows {
            self.at(*n, cells);
            if let Some(row) = check(self) {
                out.push(row);
            }
        }
        out
    }

    /// Moves the reader to one row of the file.
    fn at(&mut self, row: usize, cells: &'a [String]) {
        self.rd.row = row;
        self.rd.cells = cells;
    }

    /// Counts a row as an update of a record the database holds, or a new one.
    fn count(&mut self, exists: bool) {
        if exists {
            self.updated += 1;
        } else {
            self.created += 1;
        }
    }

    /// Records a row's natural key; a repeat is an issue on the later row.
    fn key_once(&mut self, col: &str, key: String, shown: &str) -> bool {
        match self.seen.get(&key) {
            Some(first) => {
                let first = first.to_string();
                self.rd.issue(col, "duplicate_key", shown, &first);
                false
            }
            None => {
                self.seen.insert(key, self.rd.row);
                true
            }
        }
    }
}

/// The areas register's rows, checked.
fn areas(c: &mut Check<'_>) -> Plan {
    let sheet = c.sheet;
    let lookups = c.lookups;
    let in_file: HashSet<&str> = sheet
        .rows
        .iter()
        .filter_map(|(_, r)| c.rd.at.get("code").and_then(|i| r.get(*i)))
        .map(|s| s.trim())
        .collect();
    let mut rows = c.rows(|c| {
        let code = c.rd.text("code", true, 20);
        let name = c.rd.text("name", true, 100);
        let code = code?;
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            c.rd.issue(
                "code",
                "bad_code",
                &code,
                c.rd.lang.pick("只能是数字", "digits only"),
            );
            return None;
        }
        let kind = Level::ALL
            .into_iter()
            .find(|l| l.code_len().contains(&code.len()));
        let Some(kind) = kind else {
            c.rd.issue(
                "code",
                "bad_code",
                &code,
                c.rd.lang
                    .pick("位数应为 6、9、12 或 14–16", "6, 9, 12 or 14–16 digits"),
            );
            return None;
        };
        if !c.key_once("code", code.clone(), &code) {
            return None;
        }
        let parent = match kind {
            Level::District => {
                let other = lookups
                    .areas
                    .iter()
                    .any(|(c, (_, k))| *k == Level::District && *c != code);
                if other {
                    c.rd.issue(
                        "code",
                        "not_allowed",
                        &code,
                        c.rd.lang
                            .pick("系统中已有另一个区", "the system holds another district"),
                    );
                    return None;
                }
                if lookups.district_code.as_ref().is_some_and(|d| *d != code) {
                    c.rd.issue(
                        "code",
                        "other_district",
                        &code,
                        c.rd.lang.pick(
                            "不是本系统所配置的区",
                            "not the district this server is configured for",
                        ),
                    );
                    return None;
                }
                None
            }
            _ => {
                let p = &code[..match kind {
                    Level::Street => 6,
                    Level::Community => 9,
                    _ => 12,
                }];
                if let Some((id, _)) = lookups.areas.get(p) {
                    Some(Ref::Id(*id))
                } else if in_file.contains(p) {
                    Some(Ref::Code(p.to_string()))
                } else {
                    c.rd.issue("code", "unknown_parent", &code, "");
                    return None;
                }
            }
        };
        let name = name?;
        c.count(lookups.areas.contains_key(&code));
        Some(AreaRow {
            code,
            name,
            kind,
            parent,
        })
    });
    rows.sort_by_key(|r| r.code.len());
    Plan::Areas(rows)
}

/// The units register's rows, checked.
fn units(c: &mut Check<'_>) -> Plan {
    let sheet = c.sheet;
    let lookups = c.lookups;
    let in_file: HashSet<String> = sheet
        .rows
        .iter()
        .filter_map(|(_, r)| c.rd.at.get("code").and_then(|i| r.get(*i)))
        .map(|s| s.trim().to_string())
        .collect();
    let mut names: HashMap<(AreaId, String), usize> = HashMap::new();
    let rows = c.rows(|c| {
        let code = c.rd.text("code", true, 40);
        let name = c.rd.text("name", true, 100);
        let kind = c.rd.word::<UnitKind>("kind", true);
        let area = c.rd.area("area_code", true, lookups, &[]);
        let level_text = c.rd.text("level", false, 20);
        let parent = c.rd.text("parent_code", false, 40);
        let (Some(code), Some(name), Some(kind), Some(area)) = (code, name, kind, area) else {
            return None;
        };
        if !c.key_once("code", code.clone(), &code) {
            return None;
        }
        let area_kind = lookups
            .areas
            .values()
            .find(|(id, _)| *id == area)
            .map(|(_, k)| *k)
            .unwrap_or(Level::District);
        let level = match level_text {
            Some(t) => match level_from_cell(&t) {
                Some(l) => l,
                None => {
                    let choices = Level::ALL.map(|l| l.label(c.rd.lang)).join("/");
                    c.rd.issue("level", "unknown_value", &t, &choices);
                    return None;
                }
            },
            None => kind.default_level(area_kind),
        };
        let parent = match parent {
            None => None,
            Some(p) if p == code => {
                c.rd.issue("parent_code", "cycle", &p, "");
                return None;
            }
            Some(p) => match lookups.units.get(&p) {
                Some((id, _)) => Some(Ref::Id(*id)),
                None if in_file.contains(&p) => Some(Ref::Code(p)),
                None => {
                    c.rd.issue("parent_code", "unknown_unit", &p, "");
                    return None;
                }
            },
        };
        let name_key = (area, name.clone());
        if let Some(first) = names.insert(name_key.clone(), c.rd.row) {
            c.rd.issue("name", "duplicate_key", &name, &first.to_string());
            return None;
        }
        let mut adopt = None;
        match (lookups.unit_names.get(&name_key), lookups.units.get(&code)) {
            (Some((_, Some(other))), _) if *other != code => {
                c.rd.issue("name", "name_taken", &name, "");
                return None;
            }
            (Some((id, None)), None) => adopt = Some(*id),
            (Some((_, None)), Some(_)) => {
                c.rd.issue("name", "name_taken", &name, "");
                return None;
            }
            _ => {}
        }
        c.count(lookups.units.contains_key(&code) || adopt.is_some());
        Some(UnitRow {
            code,
            name,
            kind,
            area_id: area,
            level,
            parent,
            adopt,
        })
    });
    let links = parent_links(rows.iter().map(|r| (&r.code, &r.parent)));
    if let Some(cyc) = first_cycle(links.iter().cloned()) {
        report_cycle(&mut c.rd, sheet, &cyc);
    }
    let order = depth_order(links);
    Plan::Units(reorder(rows, &order, |r| r.code.clone()))
}

/// The party orgs register's rows, checked.
fn party_orgs(c: &mut Check<'_>) -> Plan {
    let sheet = c.sheet;
    let lookups = c.lookups;
    let kinds_in_file: HashMap<String, OrgKind> = sheet
        .rows
        .iter()
        .filter_map(|(_, r)| {
            let code =
                c.rd.at
                    .get("code")
                    .and_then(|i| r.get(*i))?
                    .trim()
                    .to_string();
            let kind =
                c.rd.at
                    .get("kind")
                    .and_then(|i| r.get(*i))
                    .and_then(|k| OrgKind::from_cell(k))?;
            Some((code, kind))
        })
        .collect();
    let rows = c.rows(|c| {
        let code = c.rd.text("code", true, 40);
        let name = c.rd.text("name", true, 100);
        let kind = c.rd.word::<OrgKind>("kind", true);
        let parent = c.rd.text("parent_code", false, 40);
        let unit = c.rd.text("unit_code", false, 40);
        let area = c.rd.area("area_code", false, lookups, &[]);
        let secretary = c.rd.text("secretary", false, 50).unwrap_or_default();
        let (Some(code), Some(name), Some(kind)) = (code, name, kind) else {
            return None;
        };
        if !c.key_once("code", code.clone(), &code) {
            return None;
        }
        let unit = match unit {
            None => None,
            Some(u) => match lookups.units.get(&u) {
                Some(found) => Some(*found),
                None => {
                    c.rd.issue("unit_code", "unknown_unit", &u, "");
                    return None;
                }
            },
        };
        let area = match (area, unit) {
            (Some(a), _) => a,
            (None, Some((_, a))) => a,
            (None, None) => {
                if c.rd.raw("area_code").trim().is_empty() {
                    c.rd.issue("area_code", "required", "", "");
                }
                return None;
            }
        };
        let parent = match parent {
            None => None,
            Some(p) if p == code => {
                c.rd.issue("parent_code", "cycle", &p, "");
                return None;
            }
            Some(p) => {
                let (r, pk) = match (lookups.orgs.get(&p), kinds_in_file.get(&p)) {
                    (_, Some(k)) => (Ref::Code(p.clone()), *k),
                    (Some((id, k, _)), None) => (Ref::Id(*id), *k),
                    (None, None) => {
                        c.rd.issue("parent_code", "unknown_parent", &p, "");
                        return None;
                    }
                };
                if !kind.may_sit_under(pk) {
                    let detail = format!("{} → {}", kind.label(c.rd.lang), pk.label(c.rd.lang));
                    c.rd.issue("parent_code", "wrong_parent_kind", &p, &detail);
                    return None;
                }
                // A parent in the file is written before its children, in the same import.
                Some(r)
            }
        };
        c.count(lookups.orgs.contains_key(&code));
        Some(OrgRow {
            code,
            name,
            kind,
            parent,
            unit_id: unit.map(|u| u.0),
            area_id: area,
            secretary,
        })
    });
    let links = parent_links(rows.iter().map(|r| (&r.code, &r.parent)));
    // A cycle may also run through the database: a row whose parent (in the database)
    // sits under the row itself.
    let cyc = first_cycle(links.iter().cloned()).or_else(|| db_cycle(&rows, lookups));
    if let Some(cyc) = cyc {
        report_cycle(&mut c.rd, sheet, &cyc);
    }
    let order = depth_order(links);
    Plan::PartyOrgs(reorder(rows, &order, |r| r.code.clone()))
}

/// The members register's rows, checked.
fn members(c: &mut Check<'_>) -> Plan {
    let lookups = c.lookups;
    let rows = c.rows(|c| {
        let name = c.rd.text("name", true, 50);
        let phone = c.rd.phone("phone", true);
        let org = c.rd.text("org_code", true, 40);
        let kind =
            c.rd.word::<MemberKind>("kind", false)
                .unwrap_or(MemberKind::Regular);
        let home =
            c.rd.area("home_community_code", false, lookups, &[Level::Community]);
        let grid = c.rd.area("grid_code", false, lookups, &[Level::Grid]);
        let joined_on = c.rd.date("joined_on", false);
        let period_from = c.rd.date("period_from", false);
        let period_to = c.rd.date("period_to", false);
        let (Some(name), Some(phone), Some(org)) = (name, phone, org) else {
            return None;
        };
        if !c.key_once("phone", phone.clone(), &phone) {
            return None;
        }
        let Some((org_id, _, _)) = lookups.orgs.get(&org) else {
            c.rd.issue("org_code", "unknown_party_org", &org, "");
            return None;
        };
        match kind {
            MemberKind::InService if home.is_none() => {
                if c.rd.raw("home_community_code").trim().is_empty() {
                    c.rd.issue("home_community_code", "required", "", "");
                }
                return None;
            }
            MemberKind::DeployedCadre if period_from.is_none() || period_to.is_none() => {
                for k in ["period_from", "period_to"] {
                    if c.rd.raw(k).trim().is_empty() {
                        c.rd.issue(k, "required", "", "");
                    }
                }
                return None;
            }
            _ => {}
        }
        if let (Some(f), Some(t)) = (period_from, period_to)
            && t < f
        {
            c.rd.issue("period_to", "bad_period", c.rd.raw("period_to"), "");
            return None;
        }
        c.count(lookups.members.contains_key(&phone));
        Some(MemberRow {
            name,
            phone,
            party_org_id: *org_id,
            kind,
            home_community_id: home,
            grid_id: grid,
            joined_on,
            period_from,
            period_to,
        })
    });
    Plan::Members(rows)
}

/// The volunteers register's rows, checked.
fn volunteers(c: &mut Check<'_>) -> Plan {
    let lookups = c.lookups;
    let rows = c.rows(|c| {
        let name = c.rd.text("name", true, 50);
        let phone = c.rd.phone("phone", true);
        let area = c.rd.area(
            "area_code",
            true,
            lookups,
            &[Level::Community, Level::Grid, Level::Street],
        );
        let skills = c.rd.text("skills", false, 200).unwrap_or_default();
        let registered_on = c.rd.date("registered_on", false);
        let (Some(name), Some(phone), Some(area)) = (name, phone, area) else {
            return None;
        };
        if !c.key_once("phone", phone.clone(), &phone) {
            return None;
        }
        c.count(lookups.volunteers.contains_key(&phone));
        Some(VolunteerRow {
            name,
            phone,
            area_id: area,
            skills,
            registered_on,
        })
    });
    Plan::Volunteers(rows)
}

/// The staff register's rows, checked: each a role held by a person (by phone) in an area or a
/// unit (exactly one).
fn staff(c: &mut Check<'_>) -> Plan {
    let lookups = c.lookups;
    let rows = c.rows(|c| {
        let name = c.rd.text("name", true, 50);
        let phone = c.rd.phone("phone", true);
        let role = c.rd.word::<Role>("role", true);
        let area = c.rd.area("area_code", false, lookups, &[]);
        let unit = c.rd.unit("unit_code", false, lookups);
        let area_given = !c.rd.raw("area_code").trim().is_empty();
        let unit_given = !c.rd.raw("unit_code").trim().is_empty();
        if area_given == unit_given {
            let (zh, en) = (
                "区划代码与单位编码须填且只填一个",
                "give the area code or the unit code, not both",
            );
            let detail = c.rd.lang.pick(zh, en).to_string();
            c.rd.issue("area_code", "not_allowed", "", &detail);
            return None;
        }
        let scope = match (area, unit) {
            (Some(a), None) => Scope::Area(a),
            (None, Some(u)) => Scope::Unit(u),
            _ => return None,
        };
        let (Some(name), Some(phone), Some(role)) = (name, phone, role) else {
            return None;
        };
        let key = grant_key(&phone, role, scope);
        if !c.key_once("role", key.clone(), role.label(c.rd.lang)) {
            return None;
        }
        c.count(lookups.grants.contains(&key));
        Some(StaffRow {
            name,
            phone,
            role,
            scope,
        })
    });
    Plan::Staff(rows)
}

/// The items of a cell that lists several: separated by 、, commas or semicolons.
pub fn list_cell(s: &str) -> Vec<String> {
    s.split(['、', ',', '，', ';', '；'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Working groups by name only: a group named again keeps the focus and leader it has.
pub fn named_groups(names: Vec<String>) -> Vec<redgrid_core::org::AllianceGroup> {
    names
        .into_iter()
        .map(|name| redgrid_core::org::AllianceGroup {
            name,
            focus: String::new(),
            leader: String::new(),
        })
        .collect()
}

/// The alliances register's rows, checked: created when the code is new, else edited (an ended
/// alliance is not).
fn alliances(c: &mut Check<'_>) -> Plan {
    let lookups = c.lookups;
    let rows = c.rows(|c| {
        let code = c.rd.text("code", true, 40);
        let name = c.rd.text("name", true, 100);
        let area = c.rd.area("area_code", true, lookups, &[]);
        let level = match c.rd.text("level", false, 20) {
            None => Some(Level::Street),
            Some(v) => level_from_cell(&v).or_else(|| {
                let choices = Level::ALL.map(|l| l.label(c.rd.lang)).join("/");
                c.rd.issue("level", "unknown_value", &v, &choices);
                None
            }),
        };
        let lead = match c.rd.text("lead_org_code", false, 40) {
            None => Some(None),
            Some(v) => match lookups.orgs.get(&v) {
                Some((id, _, _)) => Some(Some(*id)),
                None => {
                    c.rd.issue("lead_org_code", "unknown_party_org", &v, "");
                    None
                }
            },
        };
        let goals = c.rd.text("goals", false, 1000).unwrap_or_default();
        let mut members = Vec::new();
        let raw_members = c.rd.text("members", true, 4000).unwrap_or_default();
        for m in list_cell(&raw_members) {
            match lookups.units.get(&m) {
                Some((id, _)) if !members.contains(id) => members.push(*id),
                Some(_) => {}
                None => c.rd.issue("members", "unknown_unit", &m, ""),
            }
        }
        let groups = list_cell(&c.rd.text("groups", false, 2000).unwrap_or_default());
        let (Some(code), Some(name), Some(area), Some(level), Some(lead)) =
            (code, name, area, level, lead)
        else {
            return None;
        };
        if members.is_empty() {
            return None;
        }
        if !c.key_once("code", code.clone(), &code) {
            return None;
        }
        let existing = lookups.alliances.get(&code).copied();
        if existing.is_some_and(|(_, ended)| ended) {
            let detail =
                c.rd.lang
                    .pick("联盟已结束", "the alliance has ended")
                    .to_string();
            c.rd.issue("code", "not_allowed", &code, &detail);
            return None;
        }
        c.count(existing.is_some());
        Some(redgrid_store::org::NewAlliance {
            code,
            name,
            area_id: area,
            level,
            lead_org_id: lead,
            goals,
            member_unit_ids: members,
            groups: named_groups(groups),
        })
    });
    Plan::Alliances(rows)
}

/// The targets register's rows, checked.
fn targets(c: &mut Check<'_>) -> Plan {
    let lookups = c.lookups;
    let rows = c.rows(|c| {
        let code = c.rd.text("code", true, 40);
        let name = c.rd.text("name", true, 100);
        let kind = c.rd.word::<TargetKind>("kind", true);
        let area = c.rd.area(
            "area_code",
            true,
            lookups,
            &[Level::Street, Level::Community, Level::Grid],
        );
        let unit = c.rd.text("unit_code", false, 40);
        let tags = c.rd.text("tags", false, 200).unwrap_or_default();
        let (Some(code), Some(name), Some(kind), Some(area)) = (code, name, kind, area) else {
            return None;
        };
        if !c.key_once("code", code.clone(), &code) {
            return None;
        }
        let unit_id = match unit {
            None => None,
            Some(u) => match lookups.units.get(&u) {
                Some((id, _)) => Some(*id),
                None => {
                    c.rd.issue("unit_code", "unknown_unit", &u, "");
                    return None;
                }
            },
        };
        c.count(lookups.targets.contains_key(&code));
        Some(TargetRow {
            code,
            name,
            kind,
            area_id: area,
            unit_id,
            tags,
        })
    });
    Plan::Targets(rows)
}

/// The pairings register's rows, checked.
fn pairings(c: &mut Check<'_>) -> Plan {
    let lookups = c.lookups;
    let rows = c.rows(|c| {
        let kind = c.rd.word::<PairingKind>("kind", true);
        let org = c.rd.text("org_code", false, 40);
        let member = c.rd.phone("member_phone", false);
        let target = c.rd.text("target_code", true, 40);
        let starts_on = c.rd.date("starts_on", true);
        let ends_on = c.rd.date("ends_on", false);
        let responsible = c.rd.text("responsible", false, 50).unwrap_or_default();
        let goals = c.rd.text("goals", false, 500).unwrap_or_default();
        let (Some(kind), Some(target), Some(starts_on)) = (kind, target, starts_on) else {
            return None;
        };
        if ends_on.is_some_and(|e| e < starts_on) {
            c.rd.issue("ends_on", "bad_period", c.rd.raw("ends_on"), "");
            return None;
        }
        let Some((target_id, target_kind)) = lookups.targets.get(&target).copied() else {
            c.rd.issue("target_code", "unknown_target", &target, "");
            return None;
        };
        if !kind.fits(target_kind) {
            let detail = format!(
                "{} → {}",
                kind.label(c.rd.lang),
                target_kind.label(c.rd.lang)
            );
            c.rd.issue("target_code", "not_allowed", &target, &detail);
            return None;
        }
        let (org_id, member_id) = if kind.held_by_member() {
            let Some(phone) = member else {
                if c.rd.raw("member_phone").trim().is_empty() {
                    c.rd.issue("member_phone", "required", "", "");
                }
                return None;
            };
            match lookups.members.get(&phone) {
                Some(p) => (None, Some(*p)),
                None => {
                    c.rd.issue("member_phone", "unknown_member", &phone, "");
                    return None;
                }
            }
        } else {
            let Some(code) = org else {
                c.rd.issue("org_code", "required", "", "");
                return None;
            };
            match lookups.orgs.get(&code) {
                Some((id, _, _)) => (Some(*id), None),
                None => {
                    c.rd.issue("org_code", "unknown_party_org", &code, "");
                    return None;
                }
            }
        };
        let natural_key = pairing_key(kind, org_id, member_id, target_id);
        if !c.key_once("target_code", natural_key.clone(), &target) {
            return None;
        }
        c.count(lookups.pairings.contains(&natural_key));
        Some(PairingRow {
            natural_key,
            kind,
            party_org_id: org_id,
            member_id,
            target_id,
            starts_on,
            ends_on,
            responsible,
            goals,
        })
    });
    Plan::Pairings(rows)
}

fn level_from_cell(s: &str) -> Option<Level> {
    let s = s.trim();
    Level::ALL.into_iter().find(|l| {
        l.as_str() == s
            || l.label(Lang::Zh) == s
            || l.label(Lang::En).eq_ignore_ascii_case(s)
            || (*l == Level::Street && (s == "街镇" || s == "部门"))
            || (*l == Level::Community && (s == "社区" || s == "村"))
    })
}

/// Each row's code with its parent's code when that parent is written in the same file.
fn parent_links<'r, T: 'r>(
    rows: impl Iterator<Item = (&'r String, &'r Option<Ref<T>>)>,
) -> Vec<(String, Option<String>)> {
    rows.map(|(code, parent)| {
        let in_file = match parent {
            Some(Ref::Code(c)) => Some(c.clone()),
            _ => None,
        };
        (code.clone(), in_file)
    })
    .collect()
}

/// Reports a cycle on the row that carries `code`.
fn report_cycle(rd: &mut Reader<'_>, sheet: &Sheet, code: &str) {
    let at = rd.at.get("code").copied();
    rd.row = sheet
        .rows
        .iter()
        .find(|(_, c)| at.and_then(|i| c.get(i)).map(|s| s.trim()) == Some(code))
        .map(|(n, _)| *n)
        .unwrap_or(0);
    rd.issue("parent_code", "cycle", code, "");
}

/// The first code on a cycle of in-file parent links, if any.
fn first_cycle(links: impl Iterator<Item = (String, Option<String>)>) -> Option<String> {
    let parent: HashMap<String, Option<String>> = links.collect();
    let mut codes: Vec<&String> = parent.keys().collect();
    codes.sort();
    for start in codes {
        let mut cur = parent.get(start).cloned().flatten();
        let mut steps = 0;
        while let Some(c) = cur {
            if &c == start {
                return Some(start.clone());
            }
            steps += 1;
            if steps > parent.len() {
                break;
            }
            cur = parent.get(&c).cloned().flatten();
        }
    }
    None
}

/// A row whose parent, followed up through the database, comes back to the row itself.
fn db_cycle(rows: &[OrgRow], lookups: &Lookups) -> Option<String> {
    let by_id: HashMap<i64, (&String, Option<i64>)> = lookups
        .orgs
        .iter()
        .map(|(c, (id, _, p))| (*id, (c, *p)))
        .collect();
    for r in rows {
        let Some(Ref::Id(mut cur)) = r.parent.clone() else {
            continue;
        };
        for _ in 0..64 {
            let Some((code, parent)) = by_id.get(&cur) else {
                break;
            };
            if **code == r.code {
                return Some(r.code.clone());
            }
            match parent {
                Some(p) => cur = *p,
                None => break,
            }
        }
    }
    None
}

/// Codes in an order where each in-file parent comes before its children.
fn depth_order(links: Vec<(String, Option<String>)>) -> HashMap<String, usize> {
    let parent: HashMap<String, Option<String>> = links.into_iter().collect();
    let mut depth = HashMap::new();
    for code in parent.keys() {
        let mut d = 0;
        let mut cur = parent.get(code).cloned().flatten();
        while let Some(c) = cur {
            d += 1;
            if d > parent.len() {
                break;
            }
            cur = parent.get(&c).cloned().flatten();
        }
        depth.insert(code.clone(), d);
    }
    depth
}

fn reorder<T>(
    mut rows: Vec<T>,
    depth: &HashMap<String, usize>,
    code: impl Fn(&T) -> String,
) -> Vec<T> {
    rows.sort_by_key(|r| depth.get(&code(r)).copied().unwrap_or(0));
    rows
}

/// The template of a register: the header row (required columns marked `*`) and a second sheet that
/// explains each column.
pub fn template(register: Register, lang: Lang) -> Result<Vec<u8>, String> {
    let headers = register
        .columns()
        .iter()
        .map(|c| {
            if c.required {
                format!("{}*", c.header(lang))
            } else {
                c.header(lang).to_string()
            }
        })
        .collect();
    let help = register
        .columns()
        .iter()
        .map(|c| {
            vec![
                Cell::from(c.header(lang)),
                Cell::from(if c.required {
                    lang.pick("必填", "required")
                } else {
                    lang.pick("选填", "optional")
                }),
                Cell::from(lang.pick(c.help_zh, c.help_en)),
            ]
        })
        .collect();
    tabular::write_xlsx(&[
        OutSheet {
            name: register.label(lang).to_string(),
            headers,
            rows: Vec::new(),
        },
        OutSheet {
            name: lang.pick("填写说明", "instructions").to_string(),
            headers: vec![
                lang.pick("列", "column").to_string(),
                lang.pick("是否必填", "required").to_string(),
                lang.pick("填写要求", "how to fill it in").to_string(),
            ],
            rows: help,
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(headers: &[&str], rows: &[&[&str]]) -> Sheet {
        Sheet {
            kind: tabular::FileKind::Csv,
            headers: headers.iter().map(|s| s.to_string()).collect(),
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| (i + 2, r.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }

    fn lookups() -> Lookups {
        let mut l = Lookups::default();
        l.areas
            .insert("120116".into(), (AreaId(1), Level::District));
        l.areas
            .insert("120116001".into(), (AreaId(2), Level::Street));
        l.areas
            .insert("120116001001".into(), (AreaId(3), Level::Community));
        l.orgs.insert("D".into(), (10, OrgKind::Committee, None));
        l.orgs.insert("B".into(), (11, OrgKind::Branch, Some(10)));
        l
    }

    #[test]
    fn org_parents_in_the_same_file_come_first_and_kinds_are_checked() {
        let s = sheet(
            &[
                "组织编码",
                "组织名称",
                "组织类别",
                "上级组织编码",
                "所在区划代码",
            ],
            &[
                &["G1", "第一党小组", "党小组", "B2", "120116001001"],
                &["B2", "第二支部", "党支部", "D", "120116001"],
                &["X", "坏的", "党委", "B", "120116"],
            ],
        );
        let (r, plan) = validate(Register::PartyOrgs, &s, &lookups(), true, Lang::Zh);
        assert!(plan.is_none());
        assert_eq!(r.issues.len(), 1);
        assert_eq!(
            (r.issues[0].row, r.issues[0].code),
            (4, "wrong_parent_kind")
        );
        let s = sheet(
            &[
                "组织编码",
                "组织名称",
                "组织类别",
                "上级组织编码",
                "所在区划代码",
            ],
            &[
                &["G1", "第一党小组", "党小组", "B2", "120116001001"],
                &["B2", "第二支部", "党支部", "D", "120116001"],
            ],
        );
        let (r, plan) = validate(Register::PartyOrgs, &s, &lookups(), true, Lang::Zh);
        assert!(r.issues.is_empty(), "{:?}", r.issues);
        let Some(Plan::PartyOrgs(rows)) = plan else {
            panic!()
        };
        assert_eq!(rows[0].code, "B2");
        assert_eq!(rows[1].parent, Some(Ref::Code("B2".into())));
        assert_eq!(rows[0].parent, Some(Ref::Id(10)));
    }

    #[test]
    fn cycles_in_the_file_are_found() {
        let s = sheet(
            &[
                "组织编码",
                "组织名称",
                "组织类别",
                "上级组织编码",
                "所在区划代码",
            ],
            &[
                &["C1", "一", "党委", "C2", "120116"],
                &["C2", "二", "党委", "C1", "120116"],
            ],
        );
        let (r, _) = validate(Register::PartyOrgs, &s, &lookups(), true, Lang::En);
        assert!(r.issues.iter().any(|i| i.code == "cycle"), "{:?}", r.issues);
        // Through the database: D (in the database, no parent) re-imported under its own child B.
        let s = sheet(
            &[
                "组织编码",
                "组织名称",
                "组织类别",
                "上级组织编码",
                "所在区划代码",
            ],
            &[
                &["D", "区委", "党委", "C9", "120116"],
                &["C9", "下级党委", "党委", "D", "120116"],
            ],
        );
        let (r, _) = validate(Register::PartyOrgs, &s, &lookups(), true, Lang::En);
        assert!(r.issues.iter().any(|i| i.code == "cycle"), "{:?}", r.issues);
    }

    #[test]
    fn headers_may_be_english_keys_or_marked_required() {
        let s = sheet(
            &["name*", "Phone", " 所在党组织编码 * ", "备注"],
            &[&["张三", "138 0000 1111", "B", "x"]],
        );
        let (r, plan) = validate(Register::Members, &s, &lookups(), false, Lang::Zh);
        assert!(r.issues.is_empty(), "{:?}", r.issues);
        assert_eq!(r.ignored_columns, vec!["备注"]);
        let Some(Plan::Members(rows)) = plan else {
            panic!()
        };
        assert_eq!(rows[0].phone, "13800001111");
        assert_eq!(r.created, 1);
    }
}
