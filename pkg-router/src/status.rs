//! Wire constants: the `status_code` values and the error `code` strings.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The `status_code` of a response (PROTOCOL.md section 3).
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
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The code for a wire number, or `None` for a number this protocol version does not define.
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

/// The error `code` strings this library puts in `data.code` (PROTOCOL.md section 3).
///
/// Applications may use their own codes as well; these are the ones the router itself emits.
pub mod error_code {
    /// The frame is not a valid request envelope.
    pub const INVALID_ENVELOPE: &str = "invalid_envelope";
    /// `data` failed the handler's schema or could not be read as the handler's type.
    pub const VALIDATION_ERROR: &str = "validation_error";
    /// No handler is registered for the `pkg_id`.
    pub const UNKNOWN_PKG_ID: &str = "unknown_pkg_id";
    /// The caller lacks a required role.
    pub const PERMISSION_DENIED: &str = "permission_denied";
    /// The requested entity does not exist.
    pub const NOT_FOUND: &str = "not_found";
    /// The request conflicts with existing state (a duplicate key, say).
    pub const CONFLICT: &str = "conflict";
    /// The caller sent too many requests; `details.retry_after_ms` says when to retry.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// The handler did not finish within its timeout.
    pub const TIMEOUT: &str = "timeout";
    /// The handler failed or panicked; nothing internal is revealed.
    pub const INTERNAL_ERROR: &str = "internal_error";
    /// A generic failure reported through [`ResponseModel::err_msg`](crate::ResponseModel::err_msg)
    /// with status `ERROR`.
    pub const ERROR: &str = "error";
    /// A generic rejection reported through [`ResponseModel::err_msg`](crate::ResponseModel::err_msg)
    /// with status `INVALID_DATA`.
    pub const INVALID_DATA: &str = "invalid_data";
}
