//! The meter register (电表台账): each meter is one electricity account, linked to a dwelling or to
//! an enterprise in a grid. A meter's position in the register is its number in the stored
//! readings, so the register only ever appends; a re-import updates a meter in place by its code.
//!
//! The register is a CSV file (`meters.csv` in the district's folder) with a header in English or
//! Chinese: `code,kind,grid_code,address,facts,consent,sector,baseline_from,baseline_to`
//! (`户号,类型,网格编码,地址,户情,同意日期,行业,基准开始,基准结束`). It holds personal data (addresses,
//! household facts): the folder is created readable by its owner only.

use crate::{Day, PowerError, Result, day_of, err};
use chrono::NaiveDate;
use std::collections::HashMap;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeterKind {
    Dwelling,
    Enterprise,
}

impl MeterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MeterKind::Dwelling => "dwelling",
            MeterKind::Enterprise => "enterprise",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "dwelling" | "住户" | "居民" => Some(MeterKind::Dwelling),
            "enterprise" | "企业" => Some(MeterKind::Enterprise),
            _ => None,
        }
    }
}

/// The household fact that, with consent, puts a dwelling under routine watch.
pub const ELDERLY_ALONE: &str = "elderly_alone";

#[derive(Clone, Debug, PartialEq)]
pub struct Meter {
    /// The power company's account number (户号).
    pub code: String,
    pub kind: MeterKind,
    /// The grid's area code; its first 12 digits are the community, its first 6 the district.
    pub grid_code: String,
    pub address: String,
    /// Household facts, such as `elderly_alone` (独居老人).
    pub facts: Vec<String>,
    /// When the household agreed to routine monitoring; without it no routine alert is raised.
    pub consent: Option<NaiveDate>,
    /// The day consent to routine monitoring was withdrawn: no routine watch from that day on.
    pub withdrawn: Option<NaiveDate>,
    /// An enterprise's sector (行业).
    pub sector: String,
    /// An enterprise's baseline period (inclusive days), e.g. the previous December.
    pub baseline: Option<(Day, Day)>,
}

impl Meter {
    pub fn district(&self) -> &str {
        self.grid_code.get(..6).unwrap_or(&self.grid_code)
    }
    pub fn community(&self) -> &str {
        self.grid_code.get(..12).unwrap_or(&self.grid_code)
    }
    /// A dwelling whose elderly resident lives alone and agreed to be watched.
    /// Under routine watch for some day: an elderly person living alone who consented.
    pub fn routine_watch(&self) -> bool {
        self.kind == MeterKind::Dwelling
            && self.consent.is_some()
            && self.facts.iter().any(|f| f == ELDERLY_ALONE)
    }

    /// The days routine monitoring may look at: from the consent day, up to (not including) the
    /// day consent was withdrawn. `None` when the household is not under watch at all.
    pub fn watch_days(&self) -> Option<(Day, Day)> {
        if !self.routine_watch() {
            return None;
        }
        let from = day_of(self.consent?);
        let to = self.withdrawn.map_or(Day::MAX, day_of);
        (from < to).then_some((from, to))
    }
}

pub const HEADER: &str =
    "code,kind,grid_code,address,facts,consent,sector,baseline_from,baseline_to,consent_withdrawn";

const COLUMNS: [(&str, &str); 10] = [
    ("code", "户号"),
    ("kind", "类型"),
    ("grid_code", "网格编码"),
    ("address", "地址"),
    ("facts", "户情"),
    ("consent", "同意日期"),
    ("sector", "行业"),
    ("baseline_from", "基准开始"),
    ("baseline_to", "基准结束"),
    ("consent_withdrawn", "撤回同意日期"),
];

/// A district's meters, in register order.
/// One meter's consent as an import changes it: (before, after) of the consent day and of the
/// day it was withdrawn.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsentChange {
    pub meter: String,
    pub consent: (Option<NaiveDate>, Option<NaiveDate>),
    pub withdrawn: (Option<NaiveDate>, Option<NaiveDate>),
}

pub const CONSENT_LOG_HEADER: &str =
    "recorded_at,meter,consent_before,consent_after,withdrawn_before,withdrawn_after,source";

/// Appends consent changes to the district's consent log (`consent-log.csv`, append-only, a
/// header when new): when, which meter, before and after, and the file they came from.
pub fn record_consent_changes(
    path: &Path,
    changes: &[ConsentChange],
    recorded_at: &str,
    source: &str,
) -> Result<()> {
    use std::io::Write;
    if changes.is_empty() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| PowerError(format!("cannot write {}: {e}", path.display())))?;
    let mut text = String::new();
    if new {
        text.push_str(CONSENT_LOG_HEADER);
        text.push('\n');
    }
    let d = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    for c in changes {
        let row = [
            recorded_at.to_string(),
            c.meter.clone(),
            d(c.consent.0),
            d(c.consent.1),
            d(c.withdrawn.0),
            d(c.withdrawn.1),
            source.to_string(),
        ];
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            crate::ingest::push_csv_cell(&mut text, cell);
        }
        text.push('\n');
    }
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_data())
        .map_err(|e| PowerError(format!("cannot write {}: {e}", path.display())))
}

#[derive(Clone, Debug, Default)]
pub struct Registry {
    meters: Vec<Meter>,
    by_code: HashMap<String, u32>,
    /// Per meter, the number of its community (see [`Meter::community`]) in `communities`.
    community_of: Vec<u32>,
    communities: Vec<String>,
    community_index: HashMap<String, u32>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.meters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.meters.is_empty()
    }

    pub fn meters(&self) -> &[Meter] {
        &self.meters
    }

    pub fn get(&self, index: u32) -> Option<&Meter> {
        self.meters.get(index as usize)
    }

    pub fn index_of(&self, code: &str) -> Option<u32> {
        self.by_code.get(code).copied()
    }

    /// The number of meter `index`'s community, and the communities by number: meters are
    /// grouped by these rather than by comparing their grid codes.
    pub fn community_of(&self, index: u32) -> Option<u32> {
        self.community_of.get(index as usize).copied()
    }

    pub fn communities(&self) -> &[String] {
        &self.communities
    }

    fn community_number(&mut self, m: &Meter) -> u32 {
        let c = m.community();
        if let Some(&n) = self.community_index.get(c) {
            return n;
        }
        let n = self.communities.len() as u32;
        self.communities.push(c.to_string());
        self.community_index.insert(c.to_string(), n);
        n
    }

    /// Adds a meter, or updates the one with the same code; returns its index.
    pub fn upsert(&mut self, m: Meter) -> u32 {
        let community = self.community_number(&m);
        if let Some(&i) = self.by_code.get(&m.code) {
            self.meters[i as usize] = m;
            self.community_of[i as usize] = community;
            return i;
        }
        let i = self.meters.len() as u32;
        self.by_code.insert(m.code.clone(), i);
        self.meters.push(m);
        self.community_of.push(community);
        i
    }

    /// Reads a register file. Every bad line is reported (line number and reason); nothing is
    /// returned unless the whole file is good.
    pub fn parse(text: &str) -> std::result::Result<Vec<Meter>, Vec<String>> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().enumerate();
        let mut problems = Vec::new();
        let Some((_, header)) = lines.next() else {
            return Err(vec!["line 1: the file is empty".into()]);
        };
        let names = crate::ingest::split_csv(header);
        let mut at = [usize::MAX; 10];
        for (i, n) in names.iter().enumerate() {
            let n = n.trim().trim_end_matches('*');
            if let Some(c) = COLUMNS.iter().position(|(en, zh)| *en == n || *zh == n) {
                at[c] = i;
            }
        }
        for (c, (en, zh)) in COLUMNS.iter().enumerate().take(3) {
            if at[c] == usize::MAX {
                problems.push(format!("line 1: the column {en} ({zh}) is missing"));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut out = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (n, line) in lines {
            let line_no = n + 1;
            if line.trim().is_empty() {
                continue;
            }
            let cells = crate::ingest::split_csv(line);
            let cell = |c: usize| {
                cells
                    .get(at[c])
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default()
            };
            let mut bad = |what: &str, value: &str| {
                problems.push(format!("line {line_no}: {what} {value:?}"));
            };
            let code = cell(0);
            if code.is_empty() || code.len() > 40 {
                bad(
                    "a meter code is required (at most 40 characters), got",
                    &code,
                );
                continue;
            }
            if let Some(first) = seen.insert(code.clone(), line_no) {
                bad(&format!("the meter is already on line {first}:"), &code);
                continue;
            }
            let Some(kind) = MeterKind::parse(&cell(1)) else {
                bad("the kind must be dwelling or enterprise, got", &cell(1));
                continue;
            };
            let grid_code = cell(2);
            if grid_code.len() < 14 || !grid_code.bytes().all(|b| b.is_ascii_digit()) {
                bad(
                    "the grid code must be a grid's area code (14 or more digits), got",
                    &grid_code,
                );
                continue;
            }
            let date = |c: usize| -> std::result::Result<Option<NaiveDate>, String> {
                let v = cell(c);
                if v.is_empty() {
                    return Ok(None);
                }
                NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| v)
            };
            let (consent, from, to, withdrawn) = match (date(5), date(7), date(8), date(9)) {
                (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
                (Err(v), _, _, _) | (_, Err(v), _, _) | (_, _, Err(v), _) | (_, _, _, Err(v)) => {
                    bad("a date must be YYYY-MM-DD, got", &v);
                    continue;
                }
            };
            if let (Some(w), c) = (withdrawn, consent)
                && c.is_none_or(|c| w < c)
            {
                bad(
                    "consent can be withdrawn only after it was given (consent, withdrawn):",
                    &format!("{} {w}", cell(5)),
                );
                continue;
            }
            let baseline = match (from, to) {
                (Some(f), Some(t)) if f <= t => Some((day_of(f), day_of(t))),
                (None, None) => None,
                _ => {
                    bad(
                        "the baseline needs a start and an end, the end not before the start:",
                        &format!("{} {}", cell(7), cell(8)),
                    );
                    continue;
                }
            };
            out.push(Meter {
                code,
                kind,
                grid_code,
                address: cell(3),
                facts: cell(4)
                    .split([';', '；', ' '])
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                consent,
                withdrawn,
                sector: cell(6),
                baseline,
            });
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }

    pub fn to_csv(&self) -> String {
        let mut s = String::with_capacity(self.meters.len() * 80 + 100);
        s.push_str(HEADER);
        s.push('\n');
        for m in &self.meters {
            let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
            let (bf, bt) = match m.baseline {
                Some((f, t)) => (crate::date_of(f).to_string(), crate::date_of(t).to_string()),
                None => (String::new(), String::new()),
            };
            let row = [
                m.code.as_str(),
                m.kind.as_str(),
                &m.grid_code,
                &m.address,
                &m.facts.join(";"),
                &date(m.consent),
                &m.sector,
                &bf,
                &bt,
                &date(m.withdrawn),
            ];
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                crate::ingest::push_csv_cell(&mut s, cell);
            }
            s.push('\n');
        }
        s
    }

    /// What an import would change in the consent of meters already in the register: one line of
    /// the consent log per meter whose consent or withdrawal day differs (a new meter's consent
    /// is recorded too).
    pub fn consent_changes(&self, incoming: &[Meter]) -> Vec<ConsentChange> {
        incoming
            .iter()
            .filter_map(|m| {
                let old = self.index_of(&m.code).and_then(|i| self.get(i));
                let (c0, w0) = old.map_or((None, None), |o| (o.consent, o.withdrawn));
                (c0 != m.consent || w0 != m.withdrawn).then(|| ConsentChange {
                    meter: m.code.clone(),
                    consent: (c0, m.consent),
                    withdrawn: (w0, m.withdrawn),
                })
            })
            .collect()
    }

    /// Loads the district's register, or an empty one when there is none yet.
    pub fn load(path: &Path) -> Result<Registry> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Registry::new()),
            Err(e) => return err(format!("cannot read {}: {e}", path.display())),
        };
        let meters = Registry::parse(&text)
            .map_err(|p| PowerError(format!("{}: {}", path.display(), p.join("; "))))?;
        let mut r = Registry::new();
        for m in meters {
            r.upsert(m);
        }
        Ok(r)
    }

    /// Writes the register in one step (a new file renamed over the old one).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::format::write_atomically(path, self.to_csv().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_register_reads_back_and_refuses_bad_lines() {
        let text = "户号,类型,网格编码,地址,户情,同意日期\n\
                    M1,住户,12011600100100101,海韵社区3号楼,elderly_alone,2026-01-05\n\
                    M2,enterprise,12011600100100101,港城路8号,,\n";
        let ms = Registry::parse(text).unwrap();
        assert_eq!(ms.len(), 2);
        assert!(ms[0].routine_watch());
        assert_eq!(ms[0].community(), "120116001001");
        assert_eq!(ms[1].kind, MeterKind::Enterprise);
        let mut r = Registry::new();
        for m in ms {
            r.upsert(m);
        }
        let again = Registry::parse(&r.to_csv()).unwrap();
        assert_eq!(again, r.meters());
        // Both meters are in one community; moving one to another grid moves its community.
        assert_eq!((r.community_of(0), r.community_of(1)), (Some(0), Some(0)));
        let mut moved = r.meters()[1].clone();
        moved.grid_code = "12011600200300101".into();
        assert_eq!(r.upsert(moved), 1);
        assert_eq!(r.community_of(1), Some(1));
        assert_eq!(r.communities(), ["120116001001", "120116002003"]);
        assert_eq!(r.community_of(2), None);

        let bad = "code,kind,grid_code\nM1,house,12011600100100101\nM2,dwelling,1201\nM3,dwelling,12011600100100101\nM3,dwelling,12011600100100101\n";
        let p = Registry::parse(bad).unwrap_err();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            p[0].starts_with("line 2:")
                && p[1].starts_with("line 3:")
                && p[2].starts_with("line 5:")
        );
        let p = Registry::parse("code,kind\n").unwrap_err();
        assert!(p[0].contains("grid_code"));
    }
}
