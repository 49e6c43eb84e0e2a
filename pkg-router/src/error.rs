//! Handler errors: [`HandlerError`] and the [`Violation`]s of a failed validation.

use crate::envelope::ResponseModel;
use crate::status::{RspCode, error_code};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use uuid::Uuid;

/// One reason why `data` is invalid: a JSON pointer into `data` and a message.
///
/// # Examples
///
/// ```
/// use pkg_router::Violation;
///
/// let v = Violation::new("/title", "must not be empty");
/// assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"path":"/title","message":"must not be empty"}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// JSON pointer to the offending value (`""` for `data` itself).
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl Violation {
    /// A violation at `path`, a JSON pointer into `data` (`""` for `data` itself).
    ///
    /// Build several when a handler checks more than a schema can express, and return them all
    /// at once as [`HandlerError::Validation`] so the client can fix a form in one round trip.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, Violation};
    ///
    /// let err = HandlerError::Validation(vec![
    ///     Violation::new("/title", "must not be empty"),
    ///     Violation::new("", "too many fields"),
    /// ]);
    /// assert_eq!(err.violations()[0].path, "/title");
    /// assert_eq!(err.violations()[1].to_string(), "/: too many fields");
    /// ```
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

/// What a handler returns when it cannot do what was asked; each variant knows its wire status
/// and `code`.
///
/// Return it from a handler as `Result<T, HandlerError>` (or any `Result<T, E>` where
/// `E: Into<HandlerError>`) and `?` works. Implement `From<YourError> for HandlerError` to map
/// your domain errors once.
///
/// | variant | `status_code` | `data.code` |
/// |---|---|---|
/// | [`Validation`](Self::Validation) | `INVALID_DATA` (2) | `validation_error` |
/// | [`Conflict`](Self::Conflict) | `INVALID_DATA` (2) | `conflict` |
/// | [`NotFound`](Self::NotFound) | `ERROR` (1) | `not_found` |
/// | [`PermissionDenied`](Self::PermissionDenied) | `PERMISSION_DENIED` (3) | `permission_denied` |
/// | [`Internal`](Self::Internal) | `ERROR` (1) | `internal_error`, msg `Internal error` |
/// | [`Custom`](Self::Custom) | chosen | chosen |
///
/// [`Internal`](Self::Internal) never shows its source to the client; the router logs it.
///
/// # Examples
///
/// ```
/// use pkg_router::{HandlerError, RspCode};
///
/// let err = HandlerError::not_found("Book 7 not found");
/// assert_eq!((err.status(), err.code()), (RspCode::Error, "not_found"));
///
/// let err = HandlerError::invalid_field("/author_id", "author 9 does not exist");
/// assert_eq!(err.status(), RspCode::InvalidData);
///
/// let io = std::io::Error::other("disk on fire");
/// let err = HandlerError::internal(io);
/// assert_eq!(err.client_message(), "Internal error"); // the cause stays on the server
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// `data` is invalid; one entry per violation.
    #[error("validation failed: {}", join(.0))]
    Validation(Vec<Violation>),
    /// The request conflicts with existing state (duplicate key, stale version).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The entity asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The caller may not do this (beyond the handler's declared roles).
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// Something failed inside the server; the client sees only `Internal error`.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// An application-defined error.
    #[error("{code}: {msg}")]
    Custom {
        /// Wire status.
        status: RspCode,
        /// Stable code string.
        code: Cow<'static, str>,
        /// Message for the client.
        msg: String,
        /// Optional structured details.
        details: Option<Value>,
    },
}

fn join(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl HandlerError {
    /// A validation error with a single violation: for checks a schema cannot make (an id that
    /// must exist, two fields that must agree).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, RspCode};
    ///
    /// let err = HandlerError::invalid_field("/author_id", "author 9 does not exist");
    /// assert_eq!((err.status(), err.code()), (RspCode::InvalidData, "validation_error"));
    /// assert_eq!(err.violations()[0].message, "author 9 does not exist");
    /// ```
    pub fn invalid_field(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![Violation::new(path, message)])
    }

    /// A [`NotFound`](Self::NotFound) error.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, RspCode};
    ///
    /// let err = HandlerError::not_found("Book 7 not found");
    /// assert_eq!((err.status(), err.code()), (RspCode::Error, "not_found"));
    /// assert_eq!(err.client_message(), "Book 7 not found");
    /// ```
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }

    /// A [`Conflict`](Self::Conflict) error.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, RspCode};
    ///
    /// let err = HandlerError::conflict("Title already taken");
    /// assert_eq!((err.status(), err.code()), (RspCode::InvalidData, "conflict"));
    /// ```
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }

    /// A [`PermissionDenied`](Self::PermissionDenied) error.
    ///
    /// For checks the declared roles cannot express, such as "only the author may edit this
    /// book".
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, RspCode};
    ///
    /// let err = HandlerError::permission_denied("only the author may edit this book");
    /// assert_eq!((err.status(), err.code()), (RspCode::PermissionDenied, "permission_denied"));
    /// ```
    pub fn permission_denied(msg: impl Into<String>) -> Self {
        Self::PermissionDenied(msg.into())
    }

    /// An [`Internal`](Self::Internal) error wrapping its cause.
    ///
    /// The cause is logged by the router and never sent: the client only reads
    /// `Internal error`. Takes any error, or a plain message.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::HandlerError;
    /// use std::error::Error;
    ///
    /// let err = HandlerError::internal(std::io::Error::other("connection refused"));
    /// assert_eq!(err.code(), "internal_error");
    /// assert_eq!(err.client_message(), "Internal error");
    /// assert_eq!(err.source().unwrap().to_string(), "connection refused"); // for the logs
    ///
    /// let err = HandlerError::internal("lock poisoned");
    /// assert_eq!(err.to_string(), "internal error: lock poisoned");
    /// ```
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(source.into())
    }

    /// An application-defined error, with the status and code of your choice.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, RspCode};
    ///
    /// let err = HandlerError::custom(RspCode::Error, "quota_exceeded", "Upgrade your plan");
    /// assert_eq!((err.status(), err.code()), (RspCode::Error, "quota_exceeded"));
    /// assert_eq!(err.client_message(), "Upgrade your plan");
    /// ```
    pub fn custom(
        status: RspCode,
        code: impl Into<Cow<'static, str>>,
        msg: impl Into<String>,
    ) -> Self {
        Self::Custom {
            status,
            code: code.into(),
            msg: msg.into(),
            details: None,
        }
    }

    /// Attaches details to a [`Custom`](Self::Custom) error; other variants are returned as
    /// they are (their details are fixed by the protocol).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, RspCode};
    /// use serde_json::json;
    /// use uuid::Uuid;
    ///
    /// let err = HandlerError::custom(RspCode::Error, "quota_exceeded", "Upgrade your plan")
    ///     .with_details(json!({"limit": 100}));
    /// let body = err.to_response(1, Uuid::nil()).error_body().unwrap();
    /// assert_eq!(body.details, Some(json!({"limit": 100})));
    ///
    /// // Ignored on the other variants.
    /// let err = HandlerError::not_found("gone").with_details(json!({"limit": 100}));
    /// assert_eq!(err.to_response(1, Uuid::nil()).error_body().unwrap().details, None);
    /// ```
    #[must_use]
    pub fn with_details(mut self, value: Value) -> Self {
        if let Self::Custom { details, .. } = &mut self {
            *details = Some(value);
        }
        self
    }

    /// The wire status (see the table on [`HandlerError`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, RspCode};
    ///
    /// assert_eq!(HandlerError::conflict("taken").status(), RspCode::InvalidData);
    /// assert_eq!(HandlerError::internal("boom").status(), RspCode::Error);
    /// ```
    pub fn status(&self) -> RspCode {
        match self {
            Self::Validation(_) | Self::Conflict(_) => RspCode::InvalidData,
            Self::NotFound(_) | Self::Internal(_) => RspCode::Error,
            Self::PermissionDenied(_) => RspCode::PermissionDenied,
            Self::Custom { status, .. } => *status,
        }
    }

    /// The stable `data.code` string (see [`error_code`](crate::error_code)).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{error_code, HandlerError};
    ///
    /// assert_eq!(HandlerError::not_found("gone").code(), error_code::NOT_FOUND);
    /// assert_eq!(HandlerError::invalid_field("/x", "bad").code(), error_code::VALIDATION_ERROR);
    /// ```
    pub fn code(&self) -> &str {
        match self {
            Self::Validation(_) => error_code::VALIDATION_ERROR,
            Self::Conflict(_) => error_code::CONFLICT,
            Self::NotFound(_) => error_code::NOT_FOUND,
            Self::PermissionDenied(_) => error_code::PERMISSION_DENIED,
            Self::Internal(_) => error_code::INTERNAL_ERROR,
            Self::Custom { code, .. } => code,
        }
    }

    /// The message the client sees (never the cause of an internal error).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::HandlerError;
    ///
    /// assert_eq!(HandlerError::not_found("Book 7 not found").client_message(), "Book 7 not found");
    /// assert_eq!(
    ///     HandlerError::invalid_field("/title", "must not be empty").client_message(),
    ///     "Validation failed: /title: must not be empty"
    /// );
    /// assert_eq!(HandlerError::internal("db password rejected").client_message(), "Internal error");
    /// ```
    pub fn client_message(&self) -> String {
        match self {
            Self::Validation(violations) => format!("Validation failed: {}", join(violations)),
            Self::Conflict(msg) | Self::NotFound(msg) | Self::PermissionDenied(msg) => msg.clone(),
            Self::Internal(_) => "Internal error".to_owned(),
            Self::Custom { msg, .. } => msg.clone(),
        }
    }

    /// The violations of a [`Validation`](Self::Validation) error (empty for other variants).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, Violation};
    ///
    /// let err = HandlerError::invalid_field("/title", "must not be empty");
    /// assert_eq!(err.violations(), [Violation::new("/title", "must not be empty")]);
    /// assert!(HandlerError::not_found("gone").violations().is_empty());
    /// ```
    pub fn violations(&self) -> &[Violation] {
        match self {
            Self::Validation(violations) => violations,
            _ => &[],
        }
    }

    /// The response a client receives for this error.
    ///
    /// The router calls it for errors handlers return; call it yourself when answering outside a
    /// handler (a transport refusing a request, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, RspCode};
    /// use serde_json::json;
    /// use uuid::Uuid;
    ///
    /// let response = HandlerError::invalid_field("/title", "must not be empty")
    ///     .to_response(3, Uuid::nil());
    /// assert_eq!((response.pkg_id, response.status_code), (3, RspCode::InvalidData));
    /// assert_eq!(
    ///     response.error_body().unwrap().details,
    ///     Some(json!([{"path": "/title", "message": "must not be empty"}]))
    /// );
    /// ```
    pub fn to_response(&self, pkg_id: u32, req_id: Uuid) -> ResponseModel {
        let details = match self {
            Self::Validation(violations) => serde_json::to_value(violations).ok(),
            Self::Custom { details, .. } => details.clone(),
            _ => None,
        };
        ResponseModel::error(
            pkg_id,
            req_id,
            self.status(),
            self.code().to_owned(),
            self.client_message(),
            details,
        )
    }
}
