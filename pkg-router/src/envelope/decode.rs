//! Strict, panic-free decoding of request frames.

use super::RequestModel;
use crate::ResponseModel;
use crate::status::{RspCode, error_code};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::fmt;
use uuid::Uuid;

/// Why a frame is not a valid request envelope.
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
/// use pkg_router::{EnvelopeProblem, RequestModel, RspCode};
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
    /// An error with nothing salvaged.
    pub fn new(problem: EnvelopeProblem) -> Self {
        Self {
            pkg_id: 0,
            req_id: Uuid::nil(),
            problem,
        }
    }

    /// The protocol's answer: status `INVALID_DATA`, code `invalid_envelope`, the problem as `msg`.
    pub fn to_response(&self) -> ResponseModel {
        let field = match self.problem {
            EnvelopeProblem::MissingPkgId | EnvelopeProblem::InvalidPkgId => Some("pkg_id"),
            EnvelopeProblem::MissingReqId | EnvelopeProblem::InvalidReqId => Some("req_id"),
            EnvelopeProblem::InvalidData => Some("data"),
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

/// The envelope as borrowed JSON slices, before `data` is materialised.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow, default)]
    pkg_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    req_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// A checked envelope whose `data` is still raw JSON text: the router parses it only after the
/// role check, so unauthorised callers cannot make it build large values.
#[derive(Debug)]
pub(crate) struct RawRequest<'a> {
    pub(crate) pkg_id: u32,
    pub(crate) req_id: Uuid,
    data: Option<&'a RawValue>,
}

impl<'a> RawRequest<'a> {
    pub(crate) fn parse(frame: &'a str) -> Result<Self, EnvelopeError> {
        let fields: Fields<'a> = serde_json::from_str(frame).map_err(|e| {
            EnvelopeError::new(if e.is_data() {
                EnvelopeProblem::NotAnObject
            } else {
                EnvelopeProblem::Json(e.to_string())
            })
        })?;
        // Serde also reads a struct from `null` or from an array of fields; the protocol wants
        // an object.
        if !frame.trim_start().starts_with('{') {
            return Err(EnvelopeError::new(EnvelopeProblem::NotAnObject));
        }
        let pkg_id = fields.pkg_id.map(|raw| parse_pkg_id(raw.get()));
        let req_id = fields.req_id.map(|raw| parse_req_id(raw.get()));
        let salvage = |problem| EnvelopeError {
            pkg_id: pkg_id.flatten().unwrap_or(0),
            req_id: req_id.flatten().unwrap_or_else(Uuid::nil),
            problem,
        };
        let pkg_id = match pkg_id {
            None => return Err(salvage(EnvelopeProblem::MissingPkgId)),
            Some(None) => return Err(salvage(EnvelopeProblem::InvalidPkgId)),
            Some(Some(id)) => id,
        };
        let req_id = match req_id {
            None => return Err(salvage(EnvelopeProblem::MissingReqId)),
            Some(None) => return Err(salvage(EnvelopeProblem::InvalidReqId)),
            Some(Some(id)) => id,
        };
        if let Some(data) = fields.data {
            // RawValue holds the value's text without surrounding whitespace.
            if !data.get().starts_with('{') {
                return Err(salvage(EnvelopeProblem::InvalidData));
            }
        }
        Ok(Self {
            pkg_id,
            req_id,
            data: fields.data,
        })
    }

    /// Parses `data` into a map (`{}` when absent).
    pub(crate) fn data(&self) -> Result<Map<String, Value>, EnvelopeError> {
        let Some(raw) = self.data else {
            return Ok(Map::new());
        };
        serde_json::from_str(raw.get()).map_err(|e| EnvelopeError {
            pkg_id: self.pkg_id,
            req_id: self.req_id,
            // The text was already checked to be JSON; what is left is the nesting limit.
            problem: EnvelopeProblem::Json(e.to_string()),
        })
    }

    pub(crate) fn into_request(self) -> Result<RequestModel, EnvelopeError> {
        Ok(RequestModel {
            pkg_id: self.pkg_id,
            req_id: self.req_id,
            data: self.data()?,
        })
    }
}

/// An integer literal (no sign, fraction or exponent) within `0..=MAX_PKG_ID`.
fn parse_pkg_id(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>()
        .ok()
        .filter(|id| *id <= crate::MAX_PKG_ID)
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
