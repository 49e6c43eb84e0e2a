//! Authentication: the [`Authenticator`] trait and the first-message handshake modes.

use crate::principal::Principal;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed authentication future, borrowing the authenticator and the token.
///
/// Build it with `Box::pin(async move { .. })`; an authenticator that needs no I/O returns a
/// ready future the same way.
///
/// # Examples
///
/// An authenticator that looks tokens up in a shared, updatable table:
///
/// ```
/// use pkg_router::transport::{AuthError, AuthFuture, Authenticator};
/// use pkg_router::Principal;
/// use std::collections::HashMap;
/// use tokio::sync::RwLock;
///
/// struct Sessions(RwLock<HashMap<String, Principal>>);
///
/// impl Authenticator for Sessions {
///     fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
///         Box::pin(async move {
///             let sessions = self.0.read().await;
///             sessions.get(token).cloned().ok_or(AuthError::InvalidToken("unknown session".into()))
///         })
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let sessions = Sessions(RwLock::new(HashMap::new()));
/// sessions.0.write().await.insert("s-1".into(), Principal::new("u-1", "ann"));
/// assert_eq!(sessions.authenticate("s-1").await.unwrap().name, "ann");
/// assert!(sessions.authenticate("s-2").await.is_err());
/// # });
/// ```
pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Result<Principal, AuthError>> + Send + 'a>>;

/// Turns a bearer token into a [`Principal`] (id, name, roles, expiry).
///
/// The transport calls it once per connection, with the token of the first frame
/// (`{"type": "auth", "token": "Bearer <token>"}`,
/// [protocol §6.2](crate::protocol#62-authentication)) without the scheme.
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
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let keys = ApiKeys(HashMap::from([(
///     "k-123".to_owned(),
///     Principal::new("svc-1", "importer").with_roles(["create-book"]),
/// )]));
/// assert!(keys.authenticate("k-123").await.unwrap().has_role("create-book"));
/// assert_eq!(
///     keys.authenticate("k-999").await,
///     Err(AuthError::InvalidToken("unknown key".into()))
/// );
/// # });
/// ```
pub trait Authenticator: Send + Sync + 'static {
    /// Verifies `token` (the part after `Bearer `).
    ///
    /// # Errors
    ///
    /// The future fails with an [`AuthError`] when the token is refused; the connection is then
    /// closed with 4001 and the error's text.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::{AuthError, AuthFuture, Authenticator};
    /// use pkg_router::Principal;
    ///
    /// /// Tokens `user:<name>`; anything else is refused.
    /// struct Prefixed;
    ///
    /// impl Authenticator for Prefixed {
    ///     fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
    ///         Box::pin(async move {
    ///             match token.strip_prefix("user:") {
    ///                 Some(name) if !name.is_empty() => Ok(Principal::new(name, name)),
    ///                 _ => Err(AuthError::InvalidToken("expected user:<name>".into())),
    ///             }
    ///         })
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// assert_eq!(Prefixed.authenticate("user:ann").await.unwrap().id, "ann");
    /// let err = Prefixed.authenticate("ann").await.unwrap_err();
    /// assert_eq!(err.to_string(), "invalid token: expected user:<name>");
    /// # });
    /// ```
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a>;

    /// Clock-skew allowance applied to the principal's expiry (at most 60 s is honoured).
    ///
    /// The default is zero: the connection closes the moment the principal expires.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::{AuthError, AuthFuture, Authenticator};
    /// use pkg_router::Principal;
    /// use std::time::Duration;
    ///
    /// struct Lenient;
    ///
    /// impl Authenticator for Lenient {
    ///     fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
    ///         Box::pin(async move { Ok::<_, AuthError>(Principal::new(token, token)) })
    ///     }
    ///
    ///     fn leeway(&self) -> Duration {
    ///         Duration::from_secs(5)
    ///     }
    /// }
    ///
    /// struct Strict;
    ///
    /// impl Authenticator for Strict {
    ///     fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
    ///         Box::pin(async move { Ok::<_, AuthError>(Principal::new(token, token)) })
    ///     }
    /// }
    ///
    /// assert_eq!(Lenient.leeway(), Duration::from_secs(5));
    /// assert_eq!(Strict.leeway(), Duration::ZERO);
    /// ```
    fn leeway(&self) -> Duration {
        Duration::ZERO
    }
}

/// Why a token was refused. The connection is closed with 4001 and the reason (never the
/// token itself).
///
/// Keep messages short and free of secrets: they travel in the close frame.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::MemorySocket;
/// # use pkg_router::transport::{Frame};
/// use pkg_router::transport::{AuthError, AuthFuture, Authenticator, Endpoint, WsConfig};
/// use pkg_router::{Hub, Principal, Router};
/// use pkg_router::hub::{close_code, CloseReason};
/// use std::sync::Arc;
///
/// struct Nobody;
///
/// impl Authenticator for Nobody {
///     fn authenticate<'a>(&'a self, _token: &'a str) -> AuthFuture<'a> {
///         Box::pin(async { Err::<Principal, _>(AuthError::InvalidToken("unknown key".into())) })
///     }
/// }
///
/// assert_eq!(AuthError::Expired.to_string(), "token expired");
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let router = Router::builder().allow_empty().build()?;
/// let endpoint = Arc::new(Endpoint::new(router, WsConfig::default()).with_authenticator(Nobody));
/// let admission = endpoint.admit(None, None)?;
/// let (socket, mut client) = MemorySocket::pair();
/// let connection = tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));
///
/// client.send_text(r#"{"type": "auth", "token": "Bearer k-999"}"#);
/// let closed = CloseReason::new(close_code::AUTH_FAILED, "invalid token: unknown key");
/// assert_eq!(client.recv().await, Some(Frame::Close(Some(closed))));
/// connection.await.unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
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
///
/// `Optional` suits APIs with a public part (a catalogue anyone may browse) and a private part
/// (orders), served on one endpoint.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::MemorySocket;
/// use pkg_router::transport::{AuthMode, Endpoint, WsConfig};
/// use pkg_router::{HandlerError, Hub, Principal, Route, Router};
/// use std::sync::Arc;
///
/// async fn whoami(me: Principal) -> Result<String, HandlerError> {
///     Ok(me.name)
/// }
///
/// assert_eq!(AuthMode::default(), AuthMode::Required);
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let router = Router::builder()
///     .handler(1, whoami)
///     .route(Route::new(2, whoami).roles(["member"]))
///     .build()?;
/// let mut config = WsConfig::default();
/// config.auth = AuthMode::Optional;
/// let endpoint = Arc::new(Endpoint::new(router, config));
/// let (socket, mut client) = MemorySocket::pair();
/// let connection = tokio::spawn(Arc::clone(&endpoint).serve(socket, endpoint.admit(None, None)?, None));
///
/// // No auth frame: the first request is served, anonymously.
/// client.send_text(r#"{"pkg_id": 1, "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#);
/// assert!(client.recv_text().await.ends_with(r#""data":"anonymous"}"#));
/// client.send_text(r#"{"pkg_id": 2, "req_id": "550e8400-e29b-41d4-a716-446655440001"}"#);
/// assert!(client.recv_text().await.contains(r#""code":"permission_denied""#));
/// drop(client);
/// connection.await.unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
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
