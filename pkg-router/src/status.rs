//! Wire constants: the `status_code` values and the error `code` strings.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The `status_code` of a response ([protocol §3](crate::protocol#3-status-codes-status_code)).
///
/// The numeric values are the ones the Python package router puts on the wire, so existing
/// clients keep working.
///
/// # Examples
///
/// ```
/// use pkg_router::RspCode;
///
/// assert_eq!(RspCode::InvalidData.as_u8(), 2);
/// assert_eq!(RspCode::from_u8(3), Some(RspCode::PermissionDenied));
/// assert_eq!(serde_json::to_string(&RspCode::Ok).unwrap(), "0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RspCode {
    /// `0`: handled successfully.
    Ok = 0,
    /// `1`: no handler, handler failure, internal error, timeout or rate limit.
    Error = 1,
    /// `2`: malformed envelope, or `data` that fails the handler's schema or type.
    InvalidData = 2,
    /// `3`: the caller lacks a role the handler requires.
    PermissionDenied = 3,
}

impl RspCode {
    /// The number sent on the wire.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::RspCode;
    ///
    /// let wire: Vec<u8> = [RspCode::Ok, RspCode::Error, RspCode::InvalidData, RspCode::PermissionDenied]
    ///     .into_iter()
    ///     .map(RspCode::as_u8)
    ///     .collect();
    /// assert_eq!(wire, [0, 1, 2, 3]);
    /// ```
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The code for a wire number, or `None` for a number this protocol version does not define.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::RspCode;
    ///
    /// assert_eq!(RspCode::from_u8(2), Some(RspCode::InvalidData));
    /// assert_eq!(RspCode::from_u8(4), None);
    /// // Deserializing applies the same rule.
    /// assert!(serde_json::from_str::<RspCode>("4").is_err());
    /// ```
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Ok),
            1 => Some(Self::Error),
            2 => Some(Self::InvalidData),
            3 => Some(Self::PermissionDenied),
            _ => None,
        }
    }

    /// The upper-case name used in the protocol document (`OK`, `ERROR`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::RspCode;
    ///
    /// assert_eq!(RspCode::PermissionDenied.name(), "PERMISSION_DENIED");
    /// assert_eq!(RspCode::PermissionDenied.to_string(), "PERMISSION_DENIED (3)");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Error => "ERROR",
            Self::InvalidData => "INVALID_DATA",
            Self::PermissionDenied => "PERMISSION_DENIED",
        }
    }
}

impl fmt::Display for RspCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.as_u8())
    }
}

impl Serialize for RspCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.as_u8())
    }
}

impl<'de> Deserialize<'de> for RspCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u8::deserialize(deserializer)?;
        Self::from_u8(value).ok_or_else(|| {
            serde::de::Error::custom(format_args!("unknown status_code {value}, expected 0..=3"))
        })
    }
}

/// The error `code` strings this library puts in `data.code`
/// ([protocol §3](crate::protocol#3-status-codes-status_code)).
///
/// Applications may use their own codes as well; these are the ones the router itself emits.
/// Clients should branch on the code, which is stable, rather than on `msg`, which is for people.
///
/// # Examples
///
/// A client deciding what to do with an error response:
///
/// ```
/// use pkg_router::{error_code, HandlerError, ResponseModel};
/// use uuid::Uuid;
///
/// fn should_retry(response: &ResponseModel) -> bool {
///     match response.error_body() {
///         Some(body) => matches!(&*body.code, error_code::RATE_LIMITED | error_code::TIMEOUT),
///         None => false,
///     }
/// }
///
/// let conflict = HandlerError::conflict("taken").to_response(1, Uuid::nil());
/// assert!(!should_retry(&conflict));
/// let timeout = HandlerError::custom(pkg_router::RspCode::Error, error_code::TIMEOUT, "slow")
///     .to_response(1, Uuid::nil());
/// assert!(should_retry(&timeout));
/// ```
pub mod error_code {
    /// The frame is not a valid request envelope.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{error_code, RequestModel};
    ///
    /// let err = RequestModel::from_json("[]").unwrap_err();
    /// assert_eq!(err.to_response().error_body().unwrap().code, error_code::INVALID_ENVELOPE);
    /// ```
    pub const INVALID_ENVELOPE: &str = "invalid_envelope";
    /// `data` failed the handler's schema or could not be read as the handler's type.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::{error_code, Data, HandlerError};
    /// use serde_json::json;
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Rename { title: String }
    ///
    /// async fn rename(Data(input): Data<Rename>) -> Result<String, HandlerError> {
    ///     Ok(input.title)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let response = TestRouter::with_handler(1, rename).call(1, json!({})).await;
    /// let body = response.error_body().unwrap();
    /// assert_eq!(body.code, error_code::VALIDATION_ERROR);
    /// assert_eq!(body.details.unwrap()[0]["path"], "/title");
    /// # });
    /// ```
    pub const VALIDATION_ERROR: &str = "validation_error";
    /// No handler is registered for the `pkg_id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::{error_code, Router};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::new(Router::builder().allow_empty().build()?);
    /// let response = client.call(9_999, json!({})).await;
    /// assert_eq!(response.error_body().unwrap().code, error_code::UNKNOWN_PKG_ID);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub const UNKNOWN_PKG_ID: &str = "unknown_pkg_id";
    /// The caller lacks a required role.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::{error_code, HandlerError, Route, Router};
    /// use serde_json::json;
    ///
    /// async fn delete_book() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder()
    ///     .route(Route::new(6, delete_book).roles(["delete-book", "admin"]))
    ///     .build()?;
    /// let client = TestRouter::new(router).with_roles(["delete-book"]);
    /// let body = client.call(6, json!({})).await.error_body().unwrap();
    /// assert_eq!(body.code, error_code::PERMISSION_DENIED);
    /// assert_eq!(body.details.unwrap()["missing_roles"], json!(["admin"]));
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub const PERMISSION_DENIED: &str = "permission_denied";
    /// The requested entity does not exist.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{error_code, HandlerError};
    ///
    /// assert_eq!(HandlerError::not_found("Book 7 not found").code(), error_code::NOT_FOUND);
    /// ```
    pub const NOT_FOUND: &str = "not_found";
    /// The request conflicts with existing state (a duplicate key, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{error_code, HandlerError};
    ///
    /// assert_eq!(HandlerError::conflict("Title already taken").code(), error_code::CONFLICT);
    /// ```
    pub const CONFLICT: &str = "conflict";
    /// The caller sent too many requests; `details.retry_after_ms` says when to retry.
    ///
    /// Sent by the transport (see `WsConfig::rate_limit`), never by a handler.
    ///
    /// # Examples
    ///
    /// A client reading the answer:
    ///
    /// ```
    /// use pkg_router::{error_code, ResponseModel};
    /// use std::time::Duration;
    ///
    /// fn retry_after(response: &ResponseModel) -> Option<Duration> {
    ///     let body = response.error_body()?;
    ///     if body.code != error_code::RATE_LIMITED {
    ///         return None;
    ///     }
    ///     body.details?.get("retry_after_ms")?.as_u64().map(Duration::from_millis)
    /// }
    ///
    /// let frame = r#"{"pkg_id":1,"req_id":"00000000-0000-0000-0000-000000000000","status_code":1,"meta":null,
    ///     "data":{"code":"rate_limited","msg":"Rate limit exceeded","details":{"retry_after_ms":250}}}"#;
    /// let response: ResponseModel = serde_json::from_str(frame).unwrap();
    /// assert_eq!(retry_after(&response), Some(Duration::from_millis(250)));
    /// ```
    pub const RATE_LIMITED: &str = "rate_limited";
    /// The handler did not finish within its timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::{error_code, HandlerError, Route, Router};
    /// use serde_json::json;
    /// use std::time::Duration;
    ///
    /// async fn slow() -> Result<(), HandlerError> {
    ///     tokio::time::sleep(Duration::from_secs(5)).await;
    ///     Ok(())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder()
    ///     .route(Route::new(1, slow).timeout(Duration::from_millis(10)))
    ///     .build()?;
    /// let response = TestRouter::new(router).call(1, json!({})).await;
    /// assert_eq!(response.error_body().unwrap().code, error_code::TIMEOUT);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub const TIMEOUT: &str = "timeout";
    /// The handler failed or panicked; nothing internal is revealed.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::{error_code, HandlerError};
    /// use serde_json::json;
    ///
    /// async fn broken() -> Result<(), HandlerError> {
    ///     Err(HandlerError::internal("db password rejected"))
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let body = TestRouter::with_handler(1, broken).call(1, json!({})).await.error_body().unwrap();
    /// assert_eq!(body.code, error_code::INTERNAL_ERROR);
    /// assert_eq!(body.msg, "Internal error"); // the cause stays in the server's log
    /// # });
    /// ```
    pub const INTERNAL_ERROR: &str = "internal_error";
    /// A generic failure reported through [`ResponseModel::err_msg`](crate::ResponseModel::err_msg)
    /// with status `ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{error_code, ResponseModel, RspCode};
    /// use uuid::Uuid;
    ///
    /// let err = ResponseModel::err_msg(1, Uuid::nil(), "Book not found", RspCode::Error);
    /// assert_eq!(err.error_body().unwrap().code, error_code::ERROR);
    /// ```
    pub const ERROR: &str = "error";
    /// A generic rejection reported through [`ResponseModel::err_msg`](crate::ResponseModel::err_msg)
    /// with status `INVALID_DATA`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{error_code, ResponseModel, RspCode};
    /// use uuid::Uuid;
    ///
    /// let err = ResponseModel::err_msg(1, Uuid::nil(), "Missing 'id' field", RspCode::InvalidData);
    /// assert_eq!(err.error_body().unwrap().code, error_code::INVALID_DATA);
    /// ```
    pub const INVALID_DATA: &str = "invalid_data";
}
