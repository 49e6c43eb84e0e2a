use crate::pkg_id::IntoPkgId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The `req_id` of every push, as it is written on the wire: the nil UUID
/// ([protocol §2](crate::protocol#2-envelopes-json)). [`BroadcastModel`] writes it from
/// `Uuid::nil()`; frame builders and schemas that write the text use this.
pub(crate) const PUSH_REQ_ID: &str = "00000000-0000-0000-0000-000000000000";

/// A server push: `{"pkg_id": 100, "req_id": "00000000-…", "data": {...}}`.
///
/// The nil `req_id` tells clients it is not a response. There is no `status_code` and no `meta`.
///
/// # Examples
///
/// ```
/// use pkg_router::envelope::BroadcastModel;
/// use serde_json::json;
///
/// let push = BroadcastModel::new(100, json!({"id": 12, "action": "created"}));
/// assert_eq!(
///     push.to_json(),
///     r#"{"pkg_id":100,"req_id":"00000000-0000-0000-0000-000000000000","data":{"action":"created","id":12}}"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BroadcastModel {
    /// The push's package id (e.g. `BOOK_CREATED`).
    pub pkg_id: u32,
    /// Always the nil UUID.
    pub req_id: Uuid,
    /// The payload.
    pub data: Value,
}

impl BroadcastModel {
    /// A push with the nil `req_id`.
    ///
    /// Use it to build the frame by hand (for a test client, or a backend that forwards pushes
    /// between nodes); handlers broadcast through [`Hub::broadcast`](crate::Hub::broadcast), which
    /// builds the same envelope.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::envelope::BroadcastModel;
    /// use serde_json::json;
    ///
    /// let push = BroadcastModel::new(100, json!({"id": 12}));
    /// assert_eq!(push.pkg_id, 100);
    /// assert!(push.req_id.is_nil());
    /// assert_eq!(push.data["id"], 12);
    /// ```
    pub fn new(pkg_id: impl IntoPkgId, data: impl Into<Value>) -> Self {
        Self {
            pkg_id: pkg_id.into_pkg_id(),
            req_id: Uuid::nil(),
            data: data.into(),
        }
    }

    /// The wire text: `{"pkg_id":..,"req_id":"<nil>","data":..}`, fields in that order.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::envelope::BroadcastModel;
    /// use pkg_router::hub::Push;
    /// use serde_json::json;
    ///
    /// let text = BroadcastModel::new(100, json!({"id": 12})).to_json();
    /// assert_eq!(
    ///     text,
    ///     r#"{"pkg_id":100,"req_id":"00000000-0000-0000-0000-000000000000","data":{"id":12}}"#
    /// );
    /// // The same frame the hub sends for a broadcast.
    /// let push = Push::new(100, &json!({"id": 12}))?;
    /// assert_eq!(text.as_bytes(), &push.json_frame()[..]);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn to_json(&self) -> String {
        // Derived struct of a number, a UUID and a `Value`: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_req_id_is_the_nil_uuid() {
        assert_eq!(PUSH_REQ_ID, Uuid::nil().hyphenated().to_string());
    }
}
