use super::decode::{EnvelopeError, RawRequest};
use crate::pkg_id::IntoPkgId;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// A request envelope: `{"pkg_id": 3, "req_id": "<uuid>", "data": {...}}`.
///
/// `data` is always a JSON object (an absent or `null` `data` on the wire reads as `{}`).
/// Decode frames with [`RequestModel::from_json`], which applies the strict rules of
/// [protocol §2](crate::protocol#2-envelopes-json); serialize with `serde_json` (clients and
/// tests do).
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
/// # Ok::<(), pkg_router::envelope::EnvelopeError>(())
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
    ///
    /// What tests and in-process callers build before [`Router::dispatch`](crate::Router::dispatch)
    /// ([`testing::request`](crate::testing::request) does the same from a `json!` value).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::RequestModel;
    /// use serde_json::{json, Map};
    ///
    /// let data: Map<String, serde_json::Value> =
    ///     json!({"title": "Dune"}).as_object().unwrap().clone();
    /// let a = RequestModel::new(3, data.clone());
    /// let b = RequestModel::new(3, data);
    /// assert_eq!(a.pkg_id, 3);
    /// assert_eq!(a.data["title"], "Dune");
    /// assert_ne!(a.req_id, b.req_id); // every request gets its own id
    /// ```
    pub fn new(pkg_id: impl IntoPkgId, data: Map<String, Value>) -> Self {
        Self {
            pkg_id: pkg_id.into_pkg_id(),
            req_id: Uuid::new_v4(),
            data,
        }
    }

    /// Decodes a frame strictly ([protocol §2](crate::protocol#2-envelopes-json) and
    /// [§4.3](crate::protocol#43-malformed-frames)).
    ///
    /// `pkg_id` must be a JSON integer (never a string), `req_id` a UUID string in any of its
    /// textual forms, `data` an object, `null` or absent; other top-level keys are ignored.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError`] when the frame is not valid JSON, not an object, or has a missing or
    /// invalid `pkg_id`, `req_id` or `data`. The error carries whatever `pkg_id` and `req_id`
    /// could be salvaged, so the answer can still be correlated.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::RequestModel;
    /// use pkg_router::envelope::EnvelopeProblem;
    ///
    /// let req = RequestModel::from_json(
    ///     r#"{"pkg_id": 3, "req_id": "550e8400-e29b-41d4-a716-446655440000", "trace": "x"}"#,
    /// )?;
    /// assert_eq!(req.pkg_id, 3);
    /// assert!(req.data.is_empty()); // no `data` reads as `{}`
    ///
    /// // Strings are never coerced into ids.
    /// let err = RequestModel::from_json(
    ///     r#"{"pkg_id": "3", "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#,
    /// )
    /// .unwrap_err();
    /// assert_eq!(err.problem, EnvelopeProblem::InvalidPkgId);
    /// # Ok::<(), pkg_router::envelope::EnvelopeError>(())
    /// ```
    pub fn from_json(frame: &str) -> Result<Self, EnvelopeError> {
        RawRequest::parse(frame)?.into_request()
    }

    /// The request as a JSON text (what a client sends).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::RequestModel;
    /// use serde_json::Map;
    ///
    /// let req = RequestModel::new(3, Map::new());
    /// let text = req.to_json();
    /// assert!(text.starts_with(r#"{"pkg_id":3,"req_id":""#));
    /// assert_eq!(RequestModel::from_json(&text)?, req); // round trip
    /// # Ok::<(), pkg_router::envelope::EnvelopeError>(())
    /// ```
    pub fn to_json(&self) -> String {
        // A map of `Value`s with string keys always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}
