//! Reading JSON bodies and query strings field by field, so that a refusal can list every bad field
//! (wrong types, unknown fields) rather than stopping at the first.

use crate::error::{ApiError, lang_of};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use redgrid_core::error::FieldError;
use redgrid_core::request::Attachment;
use serde_json::{Map, Value};

/// Parses a body as JSON; an empty body counts as `{}` (white space alone is malformed). Too large
/// is a 413, malformed JSON a 400.
pub fn parse_json(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, ApiError> {
    let lang = lang_of(headers);
    let body = body.map_err(|_| {
        ApiError::plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            lang.pick(
                "请求体过大（上限 256 KB）",
                "the body is too large (at most 256 KB)",
            ),
        )
    })?;
    // No body at all is no fields (a command such as claim needs none); anything sent must be
    // JSON, so a body of white space alone is malformed.
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    if !is_json_type(headers) {
        return Err(ApiError::plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            lang.pick(
                "请求体须为 JSON，并带 Content-Type: application/json",
                "the body must be JSON, sent with Content-Type: application/json",
            ),
        ));
    }
    strict_json(&body).map_err(|e| ApiError::malformed_json(lang, &e.to_string()))
}

/// `Content-Type: application/json` (any parameters), or another `…/…+json` type.
fn is_json_type(headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || (essence.contains('/') && essence.ends_with("+json"))
}

/// Parses JSON like `serde_json::from_slice`, but refuses an object that names a key twice (which
/// one would win is up to the parser; we take neither).
pub fn strict_json(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = StrictValue.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Builds a [`Value`], refusing duplicate keys at any depth.
struct StrictValue;

impl<'de> serde::de::DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StrictValue {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::de::DeserializeSeed::deserialize(StrictValue, d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(StrictValue)?;
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// A whole number, written as JSON writes integers (`3`) or with a zero fraction (`3.0`, which
/// JSON Schema also counts as an integer); anything else, or beyond 64 bits, is not one.
pub fn whole_number(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        let f = v.as_f64()?;
        // 2^63 is exact in f64; the range below it holds only whole numbers that fit.
        const TWO_63: f64 = 9_223_372_036_854_775_808.0;
        (f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f)).then_some(f as i64)
    })
}

/// Reads typed fields out of a JSON object, collecting a [`FieldError`] for each bad one.
pub struct Reader<'a> {
    obj: Option<&'a Map<String, Value>>,
    seen: Vec<&'static str>,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    pub fn new(v: &'a Value) -> Self {
        let mut errors = Vec::new();
        let obj = v.as_object();
        if obj.is_none() {
            errors.push(FieldError::new("body", "invalid_type"));
        }
        Reader {
            obj,
            seen: Vec::new(),
            errors,
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        self.obj.and_then(|o| o.get(key)).filter(|v| !v.is_null())
    }

    fn bad(&mut self, key: &str) {
        self.errors.push(FieldError::new(key, "invalid_type"));
    }

    pub fn string(&mut self, key: &'static str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.bad(key);
                None
            }
        }
    }

    pub fn bool(&mut self, key: &'static str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            _ => {
                self.bad(key);
                None
            }
        }
    }

    pub fn i64(&mut self, key: &'static str) -> Option<i64> {
        match whole_number(self.get(key)?) {
            Some(n) => Some(n),
            None => {
                self.bad(key);
                None
            }
        }
    }

    /// A whole number that fits 32 bits; beyond that, `out_of_range` (never cut to fit).
    pub fn i32(&mut self, key: &'static str) -> Option<i32> {
        let n = self.i64(key)?;
        match i32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                self.errors.push(FieldError::new(key, "out_of_range"));
                None
            }
        }
    }

    pub fn f64(&mut self, key: &'static str) -> Option<f64> {
        match self.get(key)?.as_f64() {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                self.bad(key);
                None
            }
        }
    }

    pub fn id<T: From<i64>>(&mut self, key: &'static str) -> Option<T> {
        self.i64(key).map(T::from)
    }

    /// A string that must be one of an enum's values.
    pub fn choice<T>(&mut self, key: &'static str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let s = self.string(key)?;
        let v = parse(&s);
        if v.is_none() {
            self.errors.push(FieldError::new(key, "invalid"));
        }
        v
    }

    /// A field that may be set to null to clear it: None when absent, Some(None) for null.
    pub fn nullable_choice<T>(
        &mut self,
        key: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<Option<T>> {
        let present = self.obj.is_some_and(|o| o.contains_key(key));
        if !present {
            self.seen.push(key);
            return None;
        }
        if self
            .obj
            .and_then(|o| o.get(key))
            .is_some_and(|v| v.is_null())
        {
            self.seen.push(key);
            return Some(None);
        }
        self.choice(key, parse).map(Some)
    }

    pub fn attachments(&mut self, key: &'static str) -> Vec<Attachment> {
        self.items(key, "invalid_type", |item| {
            Some(Attachment {
                id: item.get("id")?.as_str()?.to_string(),
                name: item.get("name")?.as_str()?.to_string(),
            })
        })
    }

    /// An array whose every item `parse` accepts; a bad item is reported as `key[i]`.
    pub fn list<T>(&mut self, key: &'static str, parse: impl Fn(&Value) -> Option<T>) -> Vec<T> {
        self.items(key, "invalid", parse)
    }

    /// The items of an array that `parse` accepts; each one it refuses is reported as `key[i]`
    /// with `code`, and a value that is not an array as a wrong `key`.
    fn items<T>(
        &mut self,
        key: &'static str,
        code: &'static str,
        parse: impl Fn(&Value) -> Option<T>,
    ) -> Vec<T> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        let Some(items) = v.as_array() else {
            self.bad(key);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match parse(item) {
                Some(x) => out.push(x),
                None => self
                    .errors
                    .push(FieldError::new(format!("{key}[{i}]"), code)),
            }
        }
        out
    }

    /// An id the body must carry: reported as required when absent (and as wrong when unreadable).
    pub fn required_id<T: From<i64>>(&mut self, key: &'static str) -> Option<T> {
        let id = self.id(key);
        self.require(key, id.is_some());
        id
    }

    /// Reports `key` as required when it was not given (and not already reported as wrong).
    pub fn require(&mut self, key: &'static str, given: bool) {
        if !given && !self.errors.iter().any(|e| e.field == key) {
            self.errors.push(FieldError::new(key, "required"));
        }
    }

    /// The errors found, including one per field the endpoint does not know.
    /// Ends reading, refusing the body (422, worded by the request's language) when any field was
    /// wrong: `r.done()?`.
    pub fn done(self) -> Result<(), crate::error::ApiError> {
        let invalid = self.finish();
        if invalid.is_empty() {
            Ok(())
        } else {
            Err(redgrid_core::error::CoreError::Validation(invalid).into())
        }
    }

    pub fn finish(mut self) -> Vec<FieldError> {
        self.take_errors()
    }

    fn take_errors(&mut self) -> Vec<FieldError> {
        if let Some(o) = self.obj {
            for k in o.keys() {
                if !self.seen.contains(&k.as_str()) {
                    self.errors
                        .push(FieldError::new(k.clone(), "unknown_field"));
                }
            }
        }
        std::mem::take(&mut self.errors)
    }
}

/// A JSON body as the source of a declared command's fields (`Command::read`).
impl redgrid_core::command::FieldSource for Reader<'_> {
    fn text(&mut self, name: &'static str) -> Option<String> {
        self.string(name)
    }

    fn flag(&mut self, name: &'static str, _checkbox: bool) -> Option<bool> {
        self.bool(name)
    }

    fn number(&mut self, name: &'static str) -> Option<i64> {
        self.i64(name)
    }

    fn money_fen(&mut self, name: &'static str) -> Option<i64> {
        self.i64(name)
    }

    fn word(&mut self, name: &'static str, known: &dyn Fn(&str) -> bool) -> Option<String> {
        self.choice(name, |s| known(s).then(|| s.to_string()))
    }

    fn attachments(&mut self, name: &'static str) -> Vec<Attachment> {
        Reader::attachments(self, name)
    }

    fn errors(&mut self) -> Vec<FieldError> {
        self.take_errors()
    }
}

/// The caller and the JSON body of an administrator's command: the caller must be a district
/// administrator (checked first), and the body JSON. `lang` words what the handler says itself.
pub struct AdminJson {
    pub who: redgrid_core::person::Actor,
    pub json: Value,
    pub lang: redgrid_core::error::Lang,
}

impl axum::extract::FromRequest<std::sync::Arc<crate::AppState>> for AdminJson {
    type Rejection = ApiError;

    async fn from_request(
        req: axum::extract::Request,
        state: &std::sync::Arc<crate::AppState>,
    ) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let who = crate::auth::admin_actor(state, &headers).await?;
        let body = <Bytes as axum::extract::FromRequest<_>>::from_request(req, state).await;
        let json = parse_json(&headers, body)?;
        Ok(AdminJson {
            who,
            json,
            lang: lang_of(&headers),
        })
    }
}

/// A sheet as a file to download: `xlsx` (an Excel workbook) or `csv` (UTF-8 with a BOM, which
/// Excel opens in Chinese correctly), named `{stem}.{format}`.
pub fn sheet_download(
    stem: &str,
    format: &str,
    sheet: redgrid_app::tabular::OutSheet,
    lang: redgrid_core::error::Lang,
) -> Result<axum::response::Response, crate::error::ApiError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let (ctype, bytes) = match format {
        "xlsx" => {
            let bytes = redgrid_app::tabular::write_xlsx(&[sheet])
                .map_err(|e| crate::error::ApiError::failed("workbook", e, lang))?;
            (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                bytes,
            )
        }
        _ => (
            "text/csv; charset=utf-8",
            redgrid_app::tabular::write_csv(&sheet.headers, &sheet.rows),
        ),
    };
    let disposition = format!("attachment; filename=\"{stem}.{format}\"");
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
