//! Form widgets the request pages share: fields, options and option groups, and the selects of units, categories and places.

use super::*;

/// One option of a select.
pub struct Opt {
    pub value: String,
    pub label: String,
}

/// Options under a heading (an empty heading: no `<optgroup>`).
pub struct OptGroup {
    pub label: String,
    pub opts: Vec<Opt>,
}

/// One field of a form, rendered by `field.html`.
pub struct Field {
    pub name: &'static str,
    pub label: String,
    /// `text`, `textarea`, `select`, `checkbox`, `number` or `radio`.
    pub kind: &'static str,
    pub required: bool,
    pub value: String,
    pub groups: Vec<OptGroup>,
    pub error: String,
    pub hint: String,
}

impl Field {
    pub(crate) fn new(name: &'static str, label: &str, kind: &'static str) -> Self {
        Field {
            name,
            label: label.to_string(),
            kind,
            required: false,
            value: String::new(),
            groups: Vec::new(),
            error: String::new(),
            hint: String::new(),
        }
    }

    pub(crate) fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub(crate) fn options(mut self, opts: Vec<(String, String)>) -> Self {
        self.groups.push(OptGroup {
            label: String::new(),
            opts: opts
                .into_iter()
                .map(|(value, label)| Opt { value, label })
                .collect(),
        });
        self
    }

    pub(crate) fn hint(mut self, h: &str) -> Self {
        self.hint = h.to_string();
        self
    }

    /// The element id of this field inside the form `prefix` (a page may hold several forms).
    pub fn id_in(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.name)
    }
}

/// The first, empty option of a select ("choose", "all", "not sure").
pub fn first_option(label: &str) -> OptGroup {
    OptGroup {
        label: String::new(),
        opts: vec![Opt {
            value: String::new(),
            label: label.to_string(),
        }],
    }
}

/// The select of units to dispatch to (only those that fit `only`, when given).
pub(crate) fn unit_field(c: &Ctx, dir: &Directory, only: Option<&Request>, label: &str) -> Field {
    let mut u = Field::new("unit_id", label, "select").required();
    u.groups.push(first_option(c.t("— 请选择 —", "— choose —")));
    u.groups.extend(unit_groups(dir, c.lang, only));
    u
}

pub(crate) fn category_groups(dir: &Directory, lang: Lang) -> Vec<OptGroup> {
    let items = dir.items();
    dir.classes()
        .iter()
        .map(|class| OptGroup {
            label: lang.pick(&class.name_zh, &class.name_en).to_string(),
            opts: items
                .iter()
                .filter(|i| i.class_id == class.id && i.active)
                .map(|i| Opt {
                    value: i.id.0.to_string(),
                    label: lang.pick(&i.name_zh, &i.name_en).to_string(),
                })
                .collect(),
        })
        .filter(|g| !g.opts.is_empty())
        .collect()
}

/// Communities and their grids, by street: where a need can be filed.
pub(crate) fn place_groups(dir: &Directory) -> Vec<OptGroup> {
    let mut streets: Vec<_> = dir.areas().filter(|a| a.kind == Level::Street).collect();
    streets.sort_by(|a, b| a.code.cmp(&b.code));
    let mut out = Vec::new();
    for s in streets {
        let mut opts = Vec::new();
        let mut communities: Vec<_> = dir
            .areas()
            .filter(|a| a.kind == Level::Community && a.parent_id == Some(s.id))
            .collect();
        communities.sort_by(|a, b| a.code.cmp(&b.code));
        for c in communities {
            opts.push(Opt {
                value: c.id.0.to_string(),
                label: c.name.clone(),
            });
            let mut grids: Vec<_> = dir
                .areas()
                .filter(|a| a.kind == Level::Grid && a.parent_id == Some(c.id))
                .collect();
            grids.sort_by(|a, b| a.code.cmp(&b.code));
            for g in grids {
                opts.push(Opt {
                    value: g.id.0.to_string(),
                    label: format!("{} · {}", c.name, g.name),
                });
            }
        }
        out.push(OptGroup {
            label: s.name.clone(),
            opts,
        });
    }
    out
}

/// Units to dispatch to, by level.
pub(crate) fn unit_groups(dir: &Directory, lang: Lang, only: Option<&Request>) -> Vec<OptGroup> {
    let mut out = Vec::new();
    for level in Level::ALL {
        let mut units: Vec<_> = dir
            .units()
            .filter(|u| u.active && u.level == level)
            .filter(|u| {
                only.is_none_or(|r| {
                    u.level == r.level && dir.contains(u.area_id, r.location.area_id)
                })
            })
            .collect();
        if units.is_empty() {
            continue;
        }
        units.sort_by(|a, b| a.name.cmp(&b.name));
        out.push(OptGroup {
            label: level.label(lang).to_string(),
            opts: units
                .into_iter()
                .map(|u| Opt {
                    value: u.id.0.to_string(),
                    label: u.name.clone(),
                })
                .collect(),
        });
    }
    out
}
