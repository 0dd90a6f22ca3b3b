//! The directory: areas, units and the catalogue, held in memory for the core's decisions.
//!
//! A district has hundreds of grids and units and a few dozen categories, so the whole directory is
//! small; the store loads it once and reloads it after an administrative change.

use crate::area::{Area, Level};
use crate::catalogue::{CategoryClass, CategoryItem};
use crate::ids::{AreaId, CategoryId, ClassId, UnitId};
use crate::person::{Grant, Scope};
use crate::unit::Unit;
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct Directory {
    areas: HashMap<AreaId, Area>,
    units: HashMap<UnitId, Unit>,
    classes: Vec<CategoryClass>,
    items: HashMap<CategoryId, CategoryItem>,
}

impl Directory {
    pub fn new(
        areas: Vec<Area>,
        units: Vec<Unit>,
        classes: Vec<CategoryClass>,
        items: Vec<CategoryItem>,
    ) -> Self {
        let mut classes = classes;
        classes.sort_by_key(|c| (c.sort, c.id));
        Directory {
            areas: areas.into_iter().map(|a| (a.id, a)).collect(),
            units: units.into_iter().map(|u| (u.id, u)).collect(),
            classes,
            items: items.into_iter().map(|i| (i.id, i)).collect(),
        }
    }

    pub fn area(&self, id: AreaId) -> Option<&Area> {
        self.areas.get(&id)
    }

    pub fn areas(&self) -> impl Iterator<Item = &Area> {
        self.areas.values()
    }

    /// The district (the root of the area tree), if the directory has one.
    pub fn district(&self) -> Option<&Area> {
        self.areas.values().find(|a| a.kind == Level::District)
    }

    /// The area and its ancestors, nearest first.
    pub fn ancestors(&self, id: AreaId) -> Vec<&Area> {
        let mut out = Vec::new();
        let mut cur = self.areas.get(&id);
        while let Some(a) = cur {
            out.push(a);
            if out.len() > 8 {
                break; // a cycle in bad data must not hang the server
            }
            cur = a.parent_id.and_then(|p| self.areas.get(&p));
        }
        out
    }

    /// Whether `area` is `ancestor` or lies below it.
    pub fn contains(&self, ancestor: AreaId, area: AreaId) -> bool {
        self.ancestors(area).iter().any(|a| a.id == ancestor)
    }

    /// The area of the given level that `area` lies in (or is).
    pub fn ancestor_at(&self, area: AreaId, level: Level) -> Option<AreaId> {
        self.ancestors(area)
            .into_iter()
            .find(|a| a.kind == level)
            .map(|a| a.id)
    }

    pub fn unit(&self, id: UnitId) -> Option<&Unit> {
        self.units.get(&id)
    }

    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.units.values()
    }

    /// Whether `unit` is `of` or a team inside it (at any depth).
    pub fn unit_within(&self, unit: UnitId, of: UnitId) -> bool {
        let mut cur = Some(unit);
        let mut hops = 0;
        while let Some(u) = cur {
            if u == of {
                return true;
            }
            hops += 1;
            if hops > 8 {
                return false;
            }
            cur = self.units.get(&u).and_then(|x| x.parent_id);
        }
        false
    }

    /// The area a grant applies to: its own area, or the area of its unit.
    pub fn grant_area(&self, grant: &Grant) -> Option<AreaId> {
        match grant.scope {
            Scope::Area(a) => Some(a),
            Scope::Unit(u) => self.units.get(&u).map(|u| u.area_id),
        }
    }

    pub fn classes(&self) -> &[CategoryClass] {
        &self.classes
    }

    pub fn class(&self, id: ClassId) -> Option<&CategoryClass> {
        self.classes.iter().find(|c| c.id == id)
    }

    pub fn item(&self, id: CategoryId) -> Option<&CategoryItem> {
        self.items.get(&id)
    }

    /// The catalogue's items, in class order and then item order.
    pub fn items(&self) -> Vec<&CategoryItem> {
        let class_order: HashMap<ClassId, usize> = self
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        let mut items: Vec<&CategoryItem> = self.items.values().collect();
        items.sort_by_key(|i| (class_order.get(&i.class_id).copied(), i.sort, i.id));
        items
    }
}
