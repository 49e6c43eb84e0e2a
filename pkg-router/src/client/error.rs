//! The client's errors: [`ConnectError`] for the connection, [`CallError`] for one call.

use crate::error::Violation;
use crate::hub::close_code;
use crate::status::RspCode;
use serde_json::Value;
use std::time::Duration;

/// Why [`Client::connect`](super::Client::connect) failed.
///
/// # Examples
///
/// ```
/// use pkg_router::client::ConnectError;
///
/// let refused = ConnectError::Auth { code: 4001, reason: "invalid token: bad signature".into() };
/// assert_eq!(refused.to_string(), "authentication refused (4001): invalid token: bad signature");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a `ws://` or `wss://` URL.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The server refused the upgrade with an HTTP status: 400 (unknown `format`), 403
    /// (origin), 503 (full or shutting down).
    #[error("the server refused the upgrade: HTTP {status}: {body}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The response body (the server's reason).
        body: String,
    },
    /// The server closed the connection during authentication: 4001 (bad token, expired,
    /// malformed auth frame), 4002 (auth timeout), 1008 (too many connections for the user).
    #[error("authentication refused ({code}): {reason}")]
    Auth {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// The token callback failed.
    #[error("no token: {0}")]
    Token(String),
    /// No connection (or no `auth_ok`) within the connect timeout.
    #[error("no connection within {0:?}")]
    Timeout(Duration),
    /// The network or the WebSocket handshake failed.
    #[error("connection failed: {0}")]
    Io(String),
}

/// Why a call failed.
///
/// [`Rejected`](Self::Rejected) is the server's answer; the others say the answer never came,
/// and whether the request may have run: see [`may_have_run`](Self::may_have_run).
///
/// # Examples
///
/// ```
/// use pkg_router::client::CallError;
/// use pkg_router::RspCode;
/// use serde_json::json;
///
/// let invalid = CallError::Rejected {
///     status: RspCode::InvalidData,
///     code: "validation_error".into(),
///     message: "Validation failed: /title: is required".into(),
///     details: Some(json!([{"path": "/title", "message": "is required"}])),
/// };
/// assert_eq!(invalid.code(), Some("validation_error"));
/// assert_eq!(invalid.violations()[0].path, "/title");
/// assert!(!invalid.may_have_run());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The server answered with an error status.
    #[error("{code}: {message}")]
    Rejected {
        /// `ERROR`, `INVALID_DATA` or `PERMISSION_DENIED`.
        status: RspCode,
        /// The error code (`validation_error`, `permission_denied`, `not_found`, ...).
        code: String,
        /// The server's message.
        message: String,
        /// Structured details: the violations of a `validation_error`, `missing_roles` of a
        /// `permission_denied`, `retry_after_ms` of `rate_limited`.
        details: Option<Value>,
    },
    /// No answer within the call's timeout. The request may still run; its late answer is
    /// discarded.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection ended before the answer, without the server's close frame: the request
    /// may or may not have run. It is never retried for you (writes are not idempotent).
    #[error("the connection was lost before the answer; the request may have run")]
    ConnectionLost,
    /// The server closed the connection before the answer. With 1001 (shutdown) the server
    /// guarantees that a request it did not answer never ran, so it is safe to send again.
    #[error("the server closed the connection ({code}) before the answer: {reason}")]
    Closed {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// The client is not connected (closed, or reconnecting): the request was not sent.
    #[error("not connected: the request was not sent")]
    NotConnected,
    /// The request's `data` does not serialize to a JSON object.
    #[error("cannot encode the request: {0}")]
    Encode(String),
    /// The answer's `data` does not deserialize into the requested type.
    #[error("cannot decode the answer: {0}")]
    Decode(String),
}

impl CallError {
    /// The error code of a [`Rejected`](Self::Rejected) call.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::client::CallError;
    ///
    /// assert_eq!(CallError::NotConnected.code(), None);
    /// ```
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The violations of a `validation_error` (empty for anything else).
    ///
    /// # Examples
    ///
    /// See [`CallError`].
    pub fn violations(&self) -> Vec<Violation> {
        let Self::Rejected {
            details: Some(details),
            ..
        } = self
        else {
            return Vec::new();
        };
        serde_json::from_value(details.clone()).unwrap_or_default()
    }

    /// Whether the request may have run on the server. `false` means it certainly did not
    /// (it was refused, never sent, or unanswered at a 1001 shutdown close), so sending it
    /// again cannot apply a write twice.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::client::CallError;
    ///
    /// assert!(CallError::ConnectionLost.may_have_run());
    /// assert!(!CallError::Closed { code: 1001, reason: "server shutting down".into() }.may_have_run());
    /// assert!(!CallError::NotConnected.may_have_run());
    /// ```
    pub fn may_have_run(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::ConnectionLost | Self::Decode(_) => true,
            Self::Closed { code, .. } => *code != close_code::GOING_AWAY,
            Self::Rejected { .. } | Self::NotConnected | Self::Encode(_) => false,
        }
    }
}
