use crate::principal::Principal;
use crate::state::Extensions;
use std::sync::Arc;

/// Who is calling and over which connection: what a transport holds per connection and passes
/// with every request.
///
/// # Examples
///
/// ```
/// use pkg_router::Principal;
/// use pkg_router::router::{Extensions, Session};
///
/// let session = Session::new(Principal::new("u1", "ann").with_roles(["view-books"]))
///     .with_extensions(Extensions::new().with(42u64));
/// assert_eq!(session.principal().name, "ann");
/// assert!(Session::anonymous().principal().is_anonymous());
/// ```
#[derive(Clone, Debug)]
pub struct Session {
    principal: Arc<Principal>,
    extensions: Extensions,
}

impl Session {
    /// A session for `principal`, with no extensions.
    ///
    /// A transport builds one per connection after authentication; it accepts a
    /// [`Principal`] or an `Arc<Principal>`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, Principal, RequestModel, Route, Router};
    /// use pkg_router::router::Session;
    /// use serde_json::Map;
    /// use std::sync::Arc;
    ///
    /// async fn whoami(me: Principal) -> Result<String, HandlerError> {
    ///     Ok(me.name)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().route(Route::new(75, whoami).roles(["view-books"])).build()?;
    /// let ann = Arc::new(Principal::new("u-1", "ann").with_roles(["view-books"]));
    /// let session = Session::new(Arc::clone(&ann));
    /// let response = router.dispatch(&session, RequestModel::new(75, Map::new())).await;
    /// assert_eq!(response.data, "ann");
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn new(principal: impl Into<Arc<Principal>>) -> Self {
        Self {
            principal: principal.into(),
            extensions: Extensions::new(),
        }
    }

    /// A session of the anonymous caller (public handlers only).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, RequestModel, Route, Router, RspCode};
    /// use pkg_router::router::Session;
    /// use serde_json::Map;
    ///
    /// async fn ok() -> Result<(), HandlerError> { Ok(()) }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder()
    ///     .handler(76, ok)
    ///     .route(Route::new(77, ok).roles(["view-books"]))
    ///     .build()?;
    /// let session = Session::anonymous();
    /// let public = router.dispatch(&session, RequestModel::new(76, Map::new())).await;
    /// assert!(public.is_ok());
    /// let private = router.dispatch(&session, RequestModel::new(77, Map::new())).await;
    /// assert_eq!(private.status_code, RspCode::PermissionDenied);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn anonymous() -> Self {
        Self::new(Principal::anonymous())
    }

    /// Attaches per-connection values that handlers read with [`Extension<T>`](crate::Extension).
    ///
    /// Replaces any extensions attached before.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{Extension, HandlerError, RequestModel, Router};
    /// use pkg_router::router::{Extensions, Session};
    /// use serde_json::Map;
    ///
    /// #[derive(Clone)]
    /// struct Locale(&'static str);
    ///
    /// async fn locale(Extension(locale): Extension<Locale>) -> Result<&'static str, HandlerError> {
    ///     Ok(locale.0)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().handler(78, locale).build()?;
    /// let session = Session::anonymous().with_extensions(Extensions::new().with(Locale("de")));
    /// let response = router.dispatch(&session, RequestModel::new(78, Map::new())).await;
    /// assert_eq!(response.data, "de");
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_extensions(mut self, extensions: Extensions) -> Self {
        self.extensions = extensions;
        self
    }

    /// The caller.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Principal;
    /// use pkg_router::router::Session;
    ///
    /// let session = Session::new(Principal::new("u-1", "ann").with_roles(["view-books"]));
    /// assert_eq!(session.principal().id, "u-1");
    /// assert!(session.principal().has_role("view-books"));
    /// ```
    pub fn principal(&self) -> &Arc<Principal> {
        &self.principal
    }

    /// The connection's extensions.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::router::{Extensions, Session};
    ///
    /// let session = Session::anonymous().with_extensions(Extensions::new().with(7u64));
    /// assert_eq!(session.extensions().get::<u64>(), Some(&7));
    /// assert_eq!(Session::anonymous().extensions().get::<u64>(), None);
    /// ```
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }
}
