use crate::pagination::PageMeta;
use crate::pkg_id::IntoPkgId;
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
/// use pkg_router::envelope::ErrorBody;
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
    ///
    /// `code` takes a `&'static str` without allocating, so the [`error_code`](crate::error_code)
    /// constants cost nothing; set [`details`](Self::details) afterwards when there are any.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::error_code;
    /// use pkg_router::envelope::ErrorBody;
    /// use serde_json::json;
    ///
    /// let mut body = ErrorBody::new(error_code::CONFLICT, "Title already taken");
    /// assert_eq!(body.code, "conflict");
    /// assert_eq!(body.details, None);
    ///
    /// body.details = Some(json!({"field": "title"}));
    /// assert_eq!(serde_json::to_value(&body).unwrap()["details"]["field"], "title");
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{ResponseModel, RspCode};
    /// use serde_json::json;
    /// use uuid::Uuid;
    ///
    /// let req_id = Uuid::new_v4();
    /// let ok = ResponseModel::success(5, req_id, json!({"id": 1}));
    /// assert_eq!((ok.pkg_id, ok.req_id, ok.status_code), (5, req_id, RspCode::Ok));
    /// assert_eq!(ok.data, json!({"id": 1}));
    /// assert_eq!(ok.meta, None);
    /// ```
    pub fn success(pkg_id: impl IntoPkgId, req_id: Uuid, data: impl Into<Value>) -> Self {
        Self {
            pkg_id: pkg_id.into_pkg_id(),
            req_id,
            status_code: RspCode::Ok,
            meta: None,
            data: data.into(),
        }
    }

    /// An error response with just a message.
    ///
    /// The `code` is derived from the status: `error`, `invalid_data` or `permission_denied`.
    /// Use [`ResponseModel::error`] to choose the code and attach details.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{ResponseModel, RspCode};
    /// use uuid::Uuid;
    ///
    /// let err = ResponseModel::err_msg(5, Uuid::nil(), "Missing 'id' field", RspCode::InvalidData);
    /// assert_eq!(err.status_code, RspCode::InvalidData);
    /// let body = err.error_body().unwrap();
    /// assert_eq!((&*body.code, &*body.msg), ("invalid_data", "Missing 'id' field"));
    /// ```
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
    ///
    /// Handlers rarely need it (returning a [`HandlerError`](crate::HandlerError) builds the same
    /// envelope); it is for transports and envelope-style handlers with their own codes.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{error_code, ResponseModel, RspCode};
    /// use serde_json::json;
    /// use uuid::Uuid;
    ///
    /// let err = ResponseModel::error(
    ///     5,
    ///     Uuid::nil(),
    ///     RspCode::Error,
    ///     error_code::RATE_LIMITED,
    ///     "Rate limit exceeded",
    ///     Some(json!({"retry_after_ms": 250})),
    /// );
    /// assert_eq!(
    ///     err.data,
    ///     json!({"code": "rate_limited", "msg": "Rate limit exceeded", "details": {"retry_after_ms": 250}})
    /// );
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{PageMeta, ResponseModel};
    /// use serde_json::json;
    /// use uuid::Uuid;
    ///
    /// let page = ResponseModel::success(4, Uuid::nil(), json!([{"id": 1}, {"id": 2}]))
    ///     .with_meta(PageMeta::offset(1, 2, 5));
    /// assert_eq!(page.meta.as_ref().map(|meta| meta.pages), Some(3));
    /// assert!(page.to_json().contains(r#""meta":{"page":1,"per_page":2,"total":5"#));
    /// ```
    #[must_use]
    pub fn with_meta(mut self, meta: PageMeta) -> Self {
        self.meta = Some(meta);
        self
    }

    /// Whether the status is `OK`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{ResponseModel, RspCode};
    /// use uuid::Uuid;
    ///
    /// assert!(ResponseModel::success(1, Uuid::nil(), ()).is_ok());
    /// assert!(!ResponseModel::err_msg(1, Uuid::nil(), "no", RspCode::Error).is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.status_code == RspCode::Ok
    }

    /// The error body, if this is an error response with a well-formed body.
    ///
    /// `None` for a successful response, and for an error whose `data` is not
    /// `{"code", "msg", "details"}` (a hand-built [`ResponseModel`] or a foreign server's answer).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{ResponseModel, RspCode};
    /// use serde_json::json;
    /// use uuid::Uuid;
    ///
    /// let err = ResponseModel::err_msg(1, Uuid::nil(), "Book not found", RspCode::Error);
    /// assert_eq!(err.error_body().unwrap().msg, "Book not found");
    ///
    /// assert_eq!(ResponseModel::success(1, Uuid::nil(), json!({"code": "x"})).error_body(), None);
    /// ```
    pub fn error_body(&self) -> Option<ErrorBody> {
        if self.is_ok() {
            return None;
        }
        ErrorBody::deserialize(&self.data).ok()
    }

    /// The wire text, fields in the protocol's order
    /// (`pkg_id`, `req_id`, `status_code`, `meta`, `data`).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::ResponseModel;
    /// use serde_json::json;
    /// use uuid::Uuid;
    ///
    /// let ok = ResponseModel::success(4, Uuid::nil(), json!({"id": 1}));
    /// assert_eq!(
    ///     ok.to_json(),
    ///     r#"{"pkg_id":4,"req_id":"00000000-0000-0000-0000-000000000000","status_code":0,"meta":null,"data":{"id":1}}"#
    /// );
    /// // A client reads it back with serde.
    /// let back: ResponseModel = serde_json::from_str(&ok.to_json()).unwrap();
    /// assert_eq!(back, ok);
    /// ```
    pub fn to_json(&self) -> String {
        // Plain `Value`s and derived structs always serialize.
        serde_json::to_string(&self.wire()).unwrap_or_default()
    }

    /// Appends the wire text to `out`.
    ///
    /// Lets a transport reuse one buffer for many responses instead of allocating a `String`
    /// per response.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::ResponseModel;
    /// use uuid::Uuid;
    ///
    /// let mut out = Vec::new();
    /// let ok = ResponseModel::success(4, Uuid::nil(), ());
    /// ok.write_json(&mut out);
    /// assert_eq!(out, ok.to_json().into_bytes());
    ///
    /// ok.write_json(&mut out); // appends
    /// assert_eq!(out.len(), 2 * ok.to_json().len());
    /// ```
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
