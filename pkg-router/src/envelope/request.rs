use super::decode::{EnvelopeError, RawRequest};
use crate::IntoPkgId;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// A request envelope: `{"pkg_id": 3, "req_id": "<uuid>", "data": {...}}`.
///
/// `data` is always a JSON object (an absent or `null` `data` on the wire reads as `{}`).
/// Decode frames with [`RequestModel::from_json`], which applies the strict rules of
/// PROTOCOL.md section 2; serialize with `serde_json` (clients and tests do).
///
/// # Examples
///
/// ```
/// use pkg_router::RequestModel;
///
/// let req = RequestModel::from_json(
///     r#"{"pkg_id": 3, "req_id": "{550E8400-E29B-41D4-A716-446655440000}", "data": {"title": "Dune"}}"#,
/// )?;
/// assert_eq!(req.pkg_id, 3);
/// assert_eq!(req.req_id.to_string(), "550e8400-e29b-41d4-a716-446655440000");
/// assert_eq!(req.data["title"], "Dune");
/// # Ok::<(), pkg_router::EnvelopeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestModel {
    /// Which handler the request is for.
    pub pkg_id: u32,
    /// The caller's correlation id, echoed in the response.
    pub req_id: Uuid,
    /// The payload.
    pub data: Map<String, Value>,
}

impl RequestModel {
    /// A request with a fresh random `req_id`.
    pub fn new(pkg_id: impl IntoPkgId, data: Map<String, Value>) -> Self {
        Self {
            pkg_id: pkg_id.into_pkg_id(),
            req_id: Uuid::new_v4(),
            data,
        }
    }

    /// Decodes a frame strictly (PROTOCOL.md sections 2 and 4.3).
    ///
    /// # Errors
    ///
    /// [`EnvelopeError`] when the frame is not valid JSON, not an object, or has a missing or
    /// invalid `pkg_id`, `req_id` or `data`. The error carries whatever `pkg_id` and `req_id`
    /// could be salvaged, so the answer can still be correlated.
    pub fn from_json(frame: &str) -> Result<Self, EnvelopeError> {
        RawRequest::parse(frame)?.into_request()
    }

    /// The request as a JSON text (what a client sends).
    pub fn to_json(&self) -> String {
        // A map of `Value`s with string keys always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}
