//! Authentication: the [`Authenticator`] trait and the first-message handshake modes.

use crate::principal::Principal;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed authentication future.
pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Result<Principal, AuthError>> + Send + 'a>>;

/// Turns a bearer token into a [`Principal`] (id, name, roles, expiry).
///
/// The transport calls it once per connection, with the token of the first frame
/// (`{"type": "auth", "token": "Bearer <token>"}`, PROTOCOL.md section 6.2) without the scheme.
/// When the principal's [`expires_at`](Principal::expires_at) (plus [`leeway`](Self::leeway))
/// passes, the connection is closed with 4001.
///
/// # Examples
///
/// A fixed table of API keys:
///
/// ```
/// use pkg_router::transport::{AuthError, AuthFuture, Authenticator};
/// use pkg_router::Principal;
/// use std::collections::HashMap;
///
/// struct ApiKeys(HashMap<String, Principal>);
///
/// impl Authenticator for ApiKeys {
///     fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
///         let found = self.0.get(token).cloned().ok_or(AuthError::InvalidToken("unknown key".into()));
///         Box::pin(async move { found })
///     }
/// }
/// ```
pub trait Authenticator: Send + Sync + 'static {
    /// Verifies `token` (the part after `Bearer `).
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a>;

    /// Clock-skew allowance applied to the principal's expiry (at most 60 s is honoured).
    fn leeway(&self) -> Duration {
        Duration::ZERO
    }
}

/// Why a token was refused. The connection is closed with 4001 and the reason (never the
/// token itself).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token's signature, issuer, audience or format is wrong.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The token has expired.
    #[error("token expired")]
    Expired,
    /// The authenticator could not reach what it needs (a key server, say).
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
}

/// Whether connections must authenticate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMode {
    /// The first frame must be the auth frame (the default).
    #[default]
    Required,
    /// The first frame may be the auth frame; if it is a request instead, the connection is
    /// anonymous and may call public handlers only.
    Optional,
    /// No authentication: every connection is anonymous.
    Disabled,
}
