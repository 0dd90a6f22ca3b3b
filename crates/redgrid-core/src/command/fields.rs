//! How a command's fields are read, whatever carries them: a JSON body, a posted form. Each field
//! of the declaration in `declared.rs` has a [`FieldKind`]; a [`FieldSource`] turns what was sent
//! into values, noting every field that was malformed; [`FromField`] gives the command's own type.

use crate::error::{FieldError, Lang};
use crate::ids::{CategoryId, PersonId, RequestId, UnitId};
use crate::request::Attachment;
use crate::vocab::Vocab;

/// What a field holds, which decides how forms show it and how each source reads it.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// Free text of at most `max` characters.
    Text { max: usize },
    /// Yes or no, shown as a checkbox: an unticked box is "no".
    Checkbox,
    /// Yes or no that must be chosen (a select with 是/否).
    YesNo,
    /// A category of the catalogue.
    Category,
    /// A unit of the directory.
    Unit,
    /// A request's number.
    RequestNo,
    /// A person's number.
    PersonNo,
    /// One word of a vocabulary: its `(identifier, name)` pairs.
    Choice(fn(Lang) -> Vec<(&'static str, &'static str)>),
    /// Money, in fen (1/100 yuan) in the API; forms take yuan.
    MoneyFen,
    /// Files uploaded before, by id.
    Attachments,
}

/// Whether a field must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
    /// Required on a power alert (channel `power_alert`), refused on any other request.
    PowerAlertOnly,
}

/// One field of a command, as declared.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// The name in JSON bodies and forms.
    pub name: &'static str,
    pub kind: FieldKind,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    pub need: Need,
    /// What it means, for the API's documentation.
    pub help: &'static str,
}

impl FieldSpec {
    pub fn label(&self, lang: Lang) -> &'static str {
        lang.pick(self.label_zh, self.label_en)
    }
}

/// Where a command's fields come from. Every method answers `None` (or empty) for a field that is
/// absent, and notes a field that is present but malformed, so that every bad field is reported at
/// once with the core's own checks.
pub trait FieldSource {
    fn text(&mut self, name: &'static str) -> Option<String>;
    /// `checkbox`: the field is a form's checkbox, whose absence means "no".
    fn flag(&mut self, name: &'static str, checkbox: bool) -> Option<bool>;
    fn number(&mut self, name: &'static str) -> Option<i64>;
    fn money_fen(&mut self, name: &'static str) -> Option<i64>;
    /// A word that `known` accepts; anything else is noted as `invalid`.
    fn word(&mut self, name: &'static str, known: &dyn Fn(&str) -> bool) -> Option<String>;
    fn attachments(&mut self, name: &'static str) -> Vec<Attachment>;
    /// The malformed fields noted so far.
    fn errors(&mut self) -> Vec<FieldError>;
}

/// A command field's type, read from a source by its declaration.
pub trait FromField: Sized {
    fn from_field(src: &mut dyn FieldSource, spec: &FieldSpec) -> Self;
}

impl FromField for Option<String> {
    fn from_field(src: &mut dyn FieldSource, spec: &FieldSpec) -> Self {
        src.text(spec.name)
    }
}

impl FromField for Option<bool> {
    fn from_field(src: &mut dyn FieldSource, spec: &FieldSpec) -> Self {
        src.flag(spec.name, matches!(spec.kind, FieldKind::Checkbox))
    }
}

impl FromField for Option<i64> {
    fn from_field(src: &mut dyn FieldSource, spec: &FieldSpec) -> Self {
        src.money_fen(spec.name)
    }
}

impl FromField for Vec<Attachment> {
    fn from_field(src: &mut dyn FieldSource, spec: &FieldSpec) -> Self {
        src.attachments(spec.name)
    }
}

macro_rules! id_fields {
    ($($id:ident),+) => {$(
        impl FromField for Option<$id> {
            fn from_field(src: &mut dyn FieldSource, spec: &FieldSpec) -> Self {
                src.number(spec.name).map($id)
            }
        }
    )+};
}
id_fields!(CategoryId, UnitId, RequestId, PersonId);

impl<T: Vocab> FromField for Option<T> {
    fn from_field(src: &mut dyn FieldSource, spec: &FieldSpec) -> Self {
        src.word(spec.name, &|s| T::from_id(s).is_some())
            .and_then(|s| T::from_id(&s))
    }
}
