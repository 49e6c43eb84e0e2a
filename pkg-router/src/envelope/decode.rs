//! Strict, panic-free decoding of request frames.

use super::RequestModel;
use crate::ResponseModel;
use crate::status::{RspCode, error_code};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::cell::Cell;
use std::fmt;
use uuid::Uuid;

/// Why a frame is not a valid request envelope.
///
/// Carried by [`EnvelopeError::problem`]; its `Display` text becomes the `msg` of the
/// `invalid_envelope` answer, so clients see which rule the frame broke. Match on it to count or
/// log malformed traffic by cause.
///
/// # Examples
///
/// ```
/// use pkg_router::RequestModel;
/// use pkg_router::envelope::EnvelopeProblem;
///
/// let problem = |frame: &str| RequestModel::from_json(frame).unwrap_err().problem;
/// let req_id = "550e8400-e29b-41d4-a716-446655440000";
///
/// assert!(matches!(problem("{not json"), EnvelopeProblem::Json(_)));
/// assert_eq!(problem("[1, 2]"), EnvelopeProblem::NotAnObject);
/// assert_eq!(problem(&format!(r#"{{"req_id": "{req_id}"}}"#)), EnvelopeProblem::MissingPkgId);
/// assert_eq!(problem(r#"{"pkg_id": 1.5}"#), EnvelopeProblem::InvalidPkgId);
/// assert_eq!(problem(r#"{"pkg_id": 1}"#), EnvelopeProblem::MissingReqId);
/// assert_eq!(problem(r#"{"pkg_id": 1, "req_id": "42"}"#), EnvelopeProblem::InvalidReqId);
/// assert_eq!(
///     problem(&format!(r#"{{"pkg_id": 1, "req_id": "{req_id}", "data": [1]}}"#)),
///     EnvelopeProblem::InvalidData
/// );
/// assert_eq!(
///     problem(r#"{"pkg_id": 1, "pkg_id": 2}"#),
///     EnvelopeProblem::DuplicateField("pkg_id")
/// );
/// assert_eq!(EnvelopeProblem::MissingPkgId.to_string(), "missing pkg_id");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeProblem {
    /// The frame is not JSON (the text says where it broke).
    Json(String),
    /// The frame is JSON but not an object.
    NotAnObject,
    /// A binary frame arrived where text was expected, or the other way round.
    WrongFrameType,
    /// `pkg_id` is absent or `null`.
    MissingPkgId,
    /// `pkg_id` is not an integer in `0..=2^31-1` (strings, floats, booleans are refused).
    InvalidPkgId,
    /// `req_id` is absent or `null`.
    MissingReqId,
    /// `req_id` is not a UUID string.
    InvalidReqId,
    /// `data` is present but not an object.
    InvalidData,
    /// `pkg_id`, `req_id` or `data` appears more than once.
    DuplicateField(&'static str),
    /// The binary frame is not a protobuf `Request` (the text says why).
    Protobuf(String),
}

impl fmt::Display for EnvelopeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(reason) => write!(f, "frame is not valid JSON: {reason}"),
            Self::NotAnObject => f.write_str("frame must be a JSON object"),
            Self::WrongFrameType => f.write_str("wrong frame type for this connection's format"),
            Self::MissingPkgId => f.write_str("missing pkg_id"),
            Self::InvalidPkgId => f.write_str("pkg_id must be an integer in 0..=2147483647"),
            Self::MissingReqId => f.write_str("missing req_id"),
            Self::InvalidReqId => f.write_str("req_id must be a UUID string"),
            Self::InvalidData => f.write_str("data must be a JSON object"),
            Self::DuplicateField(name) => write!(f, "duplicate field `{name}`"),
            Self::Protobuf(reason) => write!(f, "frame is not a protobuf Request: {reason}"),
        }
    }
}

/// A frame that is not a valid request envelope, with whatever ids could be salvaged.
///
/// Turn it into the protocol's answer (status `INVALID_DATA`, code `invalid_envelope`) with
/// [`EnvelopeError::to_response`].
///
/// # Examples
///
/// ```
/// use pkg_router::{RequestModel, RspCode};
/// use pkg_router::envelope::EnvelopeProblem;
///
/// let err = RequestModel::from_json(
///     r#"{"pkg_id": "3", "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#,
/// )
/// .unwrap_err();
/// assert_eq!(err.problem, EnvelopeProblem::InvalidPkgId);
/// assert_eq!(err.pkg_id, 0); // not salvageable
/// assert_eq!(err.req_id.to_string(), "550e8400-e29b-41d4-a716-446655440000");
///
/// let response = err.to_response();
/// assert_eq!(response.status_code, RspCode::InvalidData);
/// assert_eq!(response.error_body().unwrap().code, "invalid_envelope");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid envelope: {problem}")]
pub struct EnvelopeError {
    /// The frame's `pkg_id` if it was valid, else 0.
    pub pkg_id: u32,
    /// The frame's `req_id` if it was valid, else the nil UUID.
    pub req_id: Uuid,
    /// What is wrong.
    pub problem: EnvelopeProblem,
}

impl EnvelopeError {
    /// An error with nothing salvaged: `pkg_id` 0 and the nil `req_id`.
    ///
    /// For transports that must refuse a frame before reading it (a binary frame on a JSON
    /// connection, bytes that are not UTF-8) but still answer as the protocol says.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::envelope::{EnvelopeError, EnvelopeProblem};
    ///
    /// let err = EnvelopeError::new(EnvelopeProblem::WrongFrameType);
    /// assert_eq!((err.pkg_id, err.req_id.is_nil()), (0, true));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid envelope: wrong frame type for this connection's format"
    /// );
    /// ```
    pub fn new(problem: EnvelopeProblem) -> Self {
        Self {
            pkg_id: 0,
            req_id: Uuid::nil(),
            problem,
        }
    }

    /// The protocol's answer: status `INVALID_DATA`, code `invalid_envelope`, the problem as `msg`.
    ///
    /// The answer echoes the salvaged ids, so a client can still correlate it, and names the
    /// offending envelope field in `details.field` (`pkg_id`, `req_id` or `data`) when there is
    /// one.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{RequestModel, RspCode};
    ///
    /// let err = RequestModel::from_json(r#"{"pkg_id": 7, "req_id": "not-a-uuid"}"#).unwrap_err();
    /// let response = err.to_response();
    /// assert_eq!(response.pkg_id, 7); // salvaged
    /// assert_eq!(response.status_code, RspCode::InvalidData);
    ///
    /// let body = response.error_body().unwrap();
    /// assert_eq!(body.code, "invalid_envelope");
    /// assert_eq!(body.msg, "req_id must be a UUID string");
    /// assert_eq!(body.details.unwrap()["field"], "req_id");
    /// ```
    pub fn to_response(&self) -> ResponseModel {
        let field = match self.problem {
            EnvelopeProblem::MissingPkgId | EnvelopeProblem::InvalidPkgId => Some("pkg_id"),
            EnvelopeProblem::MissingReqId | EnvelopeProblem::InvalidReqId => Some("req_id"),
            EnvelopeProblem::InvalidData => Some("data"),
            EnvelopeProblem::DuplicateField(name) => Some(name),
            _ => None,
        };
        ResponseModel::error(
            self.pkg_id,
            self.req_id,
            RspCode::InvalidData,
            error_code::INVALID_ENVELOPE,
            self.problem.to_string(),
            field.map(|field| json!({ "field": field })),
        )
    }
}

/// The envelope after one pass over the frame.
///
/// `data` is parsed into a value during that pass only when the caller's `eager` check allows it
/// (the router allows it when the handler exists and the caller holds its roles); otherwise it
/// stays raw text, so callers without access cannot make the server build large values.
#[derive(Debug)]
pub(crate) struct RawRequest<'a> {
    pub(crate) pkg_id: u32,
    pub(crate) req_id: Uuid,
    data: Slot<'a>,
}

#[derive(Debug)]
enum Slot<'a> {
    Absent,
    Raw(&'a RawValue),
    Parsed(Map<String, Value>),
}

impl<'a> RawRequest<'a> {
    /// Decodes a frame, leaving `data` raw.
    pub(crate) fn parse(frame: &'a str) -> Result<Self, EnvelopeError> {
        Self::parse_with(frame, |_| false)
    }

    /// Decodes a frame; `data` is parsed in the same pass when it follows a valid `pkg_id` for
    /// which `eager(pkg_id)` is true.
    pub(crate) fn parse_with(
        frame: &'a str,
        eager: impl Fn(u32) -> bool,
    ) -> Result<Self, EnvelopeError> {
        let salvage = Cell::new((0, Uuid::nil()));
        let duplicate = Cell::new(None);
        let seed = EnvelopeSeed {
            eager: &eager,
            salvage: &salvage,
            duplicate: &duplicate,
        };
        let mut de = serde_json::Deserializer::from_str(frame);
        let fields = seed
            .deserialize(&mut de)
            .and_then(|fields| de.end().map(|()| fields))
            .map_err(|e| {
                let (pkg_id, req_id) = salvage.get();
                EnvelopeError {
                    pkg_id,
                    req_id,
                    // serde reports a repeated key as a data error too: name it instead.
                    problem: if let Some(name) = duplicate.get() {
                        EnvelopeProblem::DuplicateField(name)
                    } else if e.is_data() {
                        EnvelopeProblem::NotAnObject
                    } else {
                        EnvelopeProblem::Json(e.to_string())
                    },
                }
            })?;
        let (pkg_id, req_id) = salvage.get();
        let error = |problem| {
            Err(EnvelopeError {
                pkg_id,
                req_id,
                problem,
            })
        };
        let pkg_id = match fields.pkg_id {
            Field::Absent => return error(EnvelopeProblem::MissingPkgId),
            Field::Invalid => return error(EnvelopeProblem::InvalidPkgId),
            Field::Valid(id) => id,
        };
        let req_id = match fields.req_id {
            Field::Absent => return error(EnvelopeProblem::MissingReqId),
            Field::Invalid => return error(EnvelopeProblem::InvalidReqId),
            Field::Valid(id) => id,
        };
        match fields.data {
            Field::Invalid => error(EnvelopeProblem::InvalidData),
            Field::Absent => Ok(Self {
                pkg_id,
                req_id,
                data: Slot::Absent,
            }),
            Field::Valid(data) => Ok(Self {
                pkg_id,
                req_id,
                data,
            }),
        }
    }

    /// The envelope of a protobuf `Request` ([protocol §7](crate::protocol#7-protobuf-format)),
    /// checked by the rules of a JSON one: `pkg_id` in range, `req_id` a UUID in any form,
    /// `data_json` empty (`{}`), `null` (`{}`) or an object. As for JSON, `data` is parsed now
    /// only when `eager(pkg_id)` allows it (the caller may run the handler); otherwise it is
    /// only checked to be JSON and stays raw, parsed after the role check.
    #[cfg(feature = "protobuf")]
    pub(crate) fn from_parts(
        pkg_id: i32,
        req_id: &str,
        data_json: &'a str,
        eager: impl Fn(u32) -> bool,
    ) -> Result<Self, EnvelopeError> {
        let pkg_id = u32::try_from(pkg_id)
            .ok()
            .filter(|id| *id <= crate::pkg_id::MAX_PKG_ID);
        let req_id_read = parse_uuid(req_id);
        let error = |problem| EnvelopeError {
            pkg_id: pkg_id.unwrap_or(0),
            req_id: req_id_read.unwrap_or_else(Uuid::nil),
            problem,
        };
        let Some(pkg_id) = pkg_id else {
            return Err(error(EnvelopeProblem::InvalidPkgId));
        };
        let Some(req_id) = req_id_read else {
            return Err(error(if req_id.is_empty() {
                EnvelopeProblem::MissingReqId
            } else {
                EnvelopeProblem::InvalidReqId
            }));
        };
        if data_json.trim_ascii().is_empty() {
            return Ok(Self {
                pkg_id,
                req_id,
                data: Slot::Absent,
            });
        }
        let json_error =
            |e: serde_json::Error| error(EnvelopeProblem::Json(format!("data_json: {e}")));
        if eager(pkg_id) {
            return match serde_json::from_str::<Option<Value>>(data_json).map_err(json_error)? {
                None => Ok(Self {
                    pkg_id,
                    req_id,
                    data: Slot::Absent,
                }),
                Some(Value::Object(map)) => Ok(Self {
                    pkg_id,
                    req_id,
                    data: Slot::Parsed(map),
                }),
                Some(_) => Err(error(EnvelopeProblem::InvalidData)),
            };
        }
        let raw: Option<&'a RawValue> = serde_json::from_str(data_json).map_err(json_error)?;
        match raw {
            None => Ok(Self {
                pkg_id,
                req_id,
                data: Slot::Absent,
            }),
            Some(raw) if raw.get().starts_with('{') => Ok(Self {
                pkg_id,
                req_id,
                data: Slot::Raw(raw),
            }),
            Some(_) => Err(error(EnvelopeProblem::InvalidData)),
        }
    }

    /// `data` as a map (`{}` when absent), parsing it now if the first pass left it raw.
    pub(crate) fn data(self) -> Result<Map<String, Value>, EnvelopeError> {
        match self.data {
            Slot::Absent => Ok(Map::new()),
            Slot::Parsed(map) => Ok(map),
            Slot::Raw(raw) => serde_json::from_str(raw.get()).map_err(|e| EnvelopeError {
                pkg_id: self.pkg_id,
                req_id: self.req_id,
                // The text was already checked to be JSON; what is left is the nesting limit.
                problem: EnvelopeProblem::Json(e.to_string()),
            }),
        }
    }

    pub(crate) fn into_request(self) -> Result<RequestModel, EnvelopeError> {
        Ok(RequestModel {
            pkg_id: self.pkg_id,
            req_id: self.req_id,
            data: self.data()?,
        })
    }
}

/// One envelope field after the pass: absent (or `null`), present but invalid, or valid.
enum Field<T> {
    Absent,
    Invalid,
    Valid(T),
}

struct Fields<'a> {
    pkg_id: Field<u32>,
    req_id: Field<Uuid>,
    data: Field<Slot<'a>>,
}

/// The top-level keys the protocol reads; every other key is skipped.
enum Key {
    PkgId,
    ReqId,
    Data,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "pkg_id" => Key::PkgId,
                    "req_id" => Key::ReqId,
                    "data" => Key::Data,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

struct EnvelopeSeed<'s, F> {
    eager: &'s F,
    /// The ids read so far, kept outside the visitor so a later syntax error can still echo them.
    salvage: &'s Cell<(u32, Uuid)>,
    /// The envelope key that appeared twice, if one did.
    duplicate: &'s Cell<Option<&'static str>>,
}

impl<'de, F: Fn(u32) -> bool> DeserializeSeed<'de> for EnvelopeSeed<'_, F> {
    type Value = Fields<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<F> EnvelopeSeed<'_, F> {
    fn once<E: de::Error>(&self, seen: &mut bool, name: &'static str) -> Result<(), E> {
        if std::mem::replace(seen, true) {
            self.duplicate.set(Some(name));
            return Err(E::duplicate_field(name));
        }
        Ok(())
    }
}

impl<'de, F: Fn(u32) -> bool> Visitor<'de> for EnvelopeSeed<'_, F> {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a request envelope object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields {
            pkg_id: Field::Absent,
            req_id: Field::Absent,
            data: Field::Absent,
        };
        let (mut seen_pkg_id, mut seen_req_id, mut seen_data) = (false, false, false);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::PkgId => {
                    self.once(&mut seen_pkg_id, "pkg_id")?;
                    let raw: Option<&'de RawValue> = map.next_value()?;
                    fields.pkg_id = field(raw.map(|raw| parse_pkg_id(raw.get())));
                    if let Field::Valid(id) = fields.pkg_id {
                        self.salvage.set((id, self.salvage.get().1));
                    }
                }
                Key::ReqId => {
                    self.once(&mut seen_req_id, "req_id")?;
                    let raw: Option<&'de RawValue> = map.next_value()?;
                    fields.req_id = field(raw.map(|raw| parse_req_id(raw.get())));
                    if let Field::Valid(id) = fields.req_id {
                        self.salvage.set((self.salvage.get().0, id));
                    }
                }
                Key::Data => {
                    self.once(&mut seen_data, "data")?;
                    fields.data = match fields.pkg_id {
                        Field::Valid(id) if (self.eager)(id) => {
                            match map.next_value::<Option<Value>>()? {
                                None => Field::Absent,
                                Some(Value::Object(data)) => Field::Valid(Slot::Parsed(data)),
                                Some(_) => Field::Invalid,
                            }
                        }
                        _ => match map.next_value::<Option<&'de RawValue>>()? {
                            None => Field::Absent,
                            // RawValue holds the value's text without surrounding whitespace.
                            Some(raw) if raw.get().starts_with('{') => Field::Valid(Slot::Raw(raw)),
                            Some(_) => Field::Invalid,
                        },
                    };
                }
                Key::Other => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(fields)
    }
}

fn field<T>(value: Option<Option<T>>) -> Field<T> {
    match value {
        None => Field::Absent,
        Some(None) => Field::Invalid,
        Some(Some(value)) => Field::Valid(value),
    }
}

/// An integer literal (no sign, fraction or exponent) within `0..=MAX_PKG_ID`.
fn parse_pkg_id(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>()
        .ok()
        .filter(|id| *id <= crate::pkg_id::MAX_PKG_ID)
}

/// A JSON string holding a UUID in any of its textual forms.
fn parse_req_id(text: &str) -> Option<Uuid> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        // Escapes are legal JSON; unescape before parsing.
        let unescaped: String = serde_json::from_str(text).ok()?;
        return parse_uuid(&unescaped);
    }
    parse_uuid(inner)
}

/// Any textual UUID form, in any case (the `uuid` crate wants a lower-case `urn:uuid:`).
fn parse_uuid(text: &str) -> Option<Uuid> {
    const URN: &str = "urn:uuid:";
    let text = match text.get(..URN.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(URN) => &text[URN.len()..],
        _ => text,
    };
    Uuid::try_parse(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkg_id_accepts_only_plain_integers_in_range() {
        assert_eq!(parse_pkg_id("0"), Some(0));
        assert_eq!(parse_pkg_id("2147483647"), Some(2_147_483_647));
        for bad in [
            "2147483648",
            "-1",
            "3.0",
            "1e2",
            "\"3\"",
            "true",
            "",
            "99999999999",
        ] {
            assert_eq!(parse_pkg_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn req_id_accepts_every_uuid_form() {
        let want = "550e8400-e29b-41d4-a716-446655440000";
        for form in [
            "\"550e8400-e29b-41d4-a716-446655440000\"",
            "\"550E8400E29B41D4A716446655440000\"",
            "\"{550e8400-e29b-41d4-a716-446655440000}\"",
            "\"urn:uuid:550e8400-e29b-41d4-a716-446655440000\"",
            "\"\\u0035\\u0035\\u0030e8400-e29b-41d4-a716-446655440000\"",
        ] {
            assert_eq!(
                parse_req_id(form).map(|u| u.to_string()).as_deref(),
                Some(want),
                "{form}"
            );
        }
        for bad in ["\"\"", "42", "\"not-a-uuid\"", "null"] {
            assert_eq!(parse_req_id(bad), None, "{bad}");
        }
    }
}
