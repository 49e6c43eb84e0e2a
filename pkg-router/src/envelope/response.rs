use crate::IntoPkgId;
use crate::pagination::PageMeta;
use crate::status::{RspCode, error_code};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use uuid::Uuid;

/// A response envelope: one per request, echoing its `pkg_id` and `req_id`.
///
/// On the wire its fields appear in this order:
/// `{"pkg_id":3,"req_id":"…","status_code":0,"meta":null,"data":…}`. On error, `data` is an
/// [`ErrorBody`] `{"code","msg","details"}`.
///
/// `ResponseModel` deliberately does not implement `Serialize`: handlers may return any
/// `Serialize` value inside a `Result` and the router must not mistake a `ResponseModel` for
/// payload data. Use [`to_json`](Self::to_json) to get the wire text.
///
/// # Examples
///
/// ```
/// use pkg_router::{PageMeta, ResponseModel, RspCode};
/// use serde_json::json;
/// use uuid::Uuid;
///
/// let req_id = Uuid::nil();
/// let ok = ResponseModel::success(4, req_id, json!([{"id": 1}]))
///     .with_meta(PageMeta::offset(1, 20, 1));
/// assert!(ok.is_ok());
/// assert!(ok.to_json().starts_with(r#"{"pkg_id":4,"req_id":"00000000-0000-0000-0000-000000000000","status_code":0,"meta":{"page":1"#));
///
/// let err = ResponseModel::err_msg(4, req_id, "Book not found", RspCode::Error);
/// assert_eq!(err.error_body().unwrap().msg, "Book not found");
/// ```
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ResponseModel {
    /// The request's `pkg_id`.
    pub pkg_id: u32,
    /// The request's `req_id`.
    pub req_id: Uuid,
    /// Outcome.
    pub status_code: RspCode,
    /// Pagination metadata, if the handler paginated.
    #[serde(default)]
    pub meta: Option<PageMeta>,
    /// The result on success, an [`ErrorBody`] on error.
    pub data: Value,
}

/// The `data` of an error response.
///
/// # Examples
///
/// ```
/// use pkg_router::ErrorBody;
///
/// let body = ErrorBody::new("not_found", "Book 7 not found");
/// assert_eq!(
///     serde_json::to_string(&body).unwrap(),
///     r#"{"code":"not_found","msg":"Book 7 not found","details":null}"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable, machine-readable code (see [`error_code`](crate::error_code)).
    pub code: Cow<'static, str>,
    /// Human-readable message.
    pub msg: String,
    /// Structured details (for `validation_error`: a list of `{path, message}`).
    pub details: Option<Value>,
}

impl ErrorBody {
    /// A body without details.
    pub fn new(code: impl Into<Cow<'static, str>>, msg: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            msg: msg.into(),
            details: None,
        }
    }
}

#[derive(Serialize)]
struct Wire<'a> {
    pkg_id: u32,
    req_id: &'a Uuid,
    status_code: RspCode,
    meta: &'a Option<PageMeta>,
    data: &'a Value,
}

impl ResponseModel {
    /// A successful response (status `OK`) carrying `data`.
    pub fn success(pkg_id: impl IntoPkgId, req_id: Uuid, data: impl Into<Value>) -> Self {
        Self {
            pkg_id: pkg_id.into_pkg_id(),
            req_id,
            status_code: RspCode::Ok,
            meta: None,
            data: data.into(),
        }
    }

    /// An error response with a message, as in the Python design.
    ///
    /// The `code` is derived from the status: `error`, `invalid_data` or `permission_denied`.
    /// Use [`ResponseModel::error`] to choose the code and attach details.
    pub fn err_msg(
        pkg_id: impl IntoPkgId,
        req_id: Uuid,
        msg: impl Into<String>,
        status_code: RspCode,
    ) -> Self {
        let code = match status_code {
            RspCode::InvalidData => error_code::INVALID_DATA,
            RspCode::PermissionDenied => error_code::PERMISSION_DENIED,
            RspCode::Ok | RspCode::Error => error_code::ERROR,
        };
        Self::error(pkg_id, req_id, status_code, code, msg, None)
    }

    /// An error response with every field of the [`ErrorBody`] chosen by the caller.
    pub fn error(
        pkg_id: impl IntoPkgId,
        req_id: Uuid,
        status_code: RspCode,
        code: impl Into<Cow<'static, str>>,
        msg: impl Into<String>,
        details: Option<Value>,
    ) -> Self {
        let body = ErrorBody {
            code: code.into(),
            msg: msg.into(),
            details,
        };
        Self {
            pkg_id: pkg_id.into_pkg_id(),
            req_id,
            status_code,
            meta: None,
            data: body.into_value(),
        }
    }

    /// Sets the pagination metadata.
    #[must_use]
    pub fn with_meta(mut self, meta: PageMeta) -> Self {
        self.meta = Some(meta);
        self
    }

    /// Whether the status is `OK`.
    pub fn is_ok(&self) -> bool {
        self.status_code == RspCode::Ok
    }

    /// The error body, if this is an error response with a well-formed body.
    pub fn error_body(&self) -> Option<ErrorBody> {
        if self.is_ok() {
            return None;
        }
        ErrorBody::deserialize(&self.data).ok()
    }

    /// The wire text.
    pub fn to_json(&self) -> String {
        // Plain `Value`s and derived structs always serialize.
        serde_json::to_string(&self.wire()).unwrap_or_default()
    }

    /// Appends the wire text to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Writing plain `Value`s and derived structs into a Vec cannot fail.
        let _ = serde_json::to_writer(out, &self.wire());
    }

    fn wire(&self) -> Wire<'_> {
        Wire {
            pkg_id: self.pkg_id,
            req_id: &self.req_id,
            status_code: self.status_code,
            meta: &self.meta,
            data: &self.data,
        }
    }
}

impl ErrorBody {
    pub(crate) fn into_value(self) -> Value {
        let mut map = serde_json::Map::new();
        map.insert("code".into(), Value::String(self.code.into_owned()));
        map.insert("msg".into(), Value::String(self.msg));
        map.insert("details".into(), self.details.unwrap_or(Value::Null));
        Value::Object(map)
    }
}
