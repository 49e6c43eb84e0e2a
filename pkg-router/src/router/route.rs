//! [`Route`]: one handler and its options (ids, roles, schema, timeout), written by hand or
//! collected from `#[pkg_handler]`.

use super::HandlerSource;
use crate::handler::{BoxedHandler, Handler};
use crate::pkg_id::IntoPkgId;
use crate::registry::HandlerRegistration;
use crate::schema::schema_of;
use serde_json::Value;
use std::panic::Location;
use std::time::Duration;

/// A handler registered by hand, with the options `#[pkg_handler]` would give it.
///
/// # Examples
///
/// ```
/// use pkg_router::{HandlerError, Route, Router};
/// use std::time::Duration;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct DeleteBook { id: u32 }
///
/// async fn delete_book(pkg_router::Data(input): pkg_router::Data<DeleteBook>) -> Result<(), HandlerError> {
///     Err(HandlerError::not_found(format!("Book {} not found", input.id)))
/// }
///
/// let router = Router::builder()
///     .route(
///         Route::new(6, delete_book)
///             .roles(["delete-book", "admin"])
///             .timeout(Duration::from_secs(2)),
///     )
///     .build()?;
/// let row = router.routes().get(6).unwrap();
/// assert_eq!(row.roles, ["delete-book", "admin"]);
/// assert!(row.has_schema); // from `Data<DeleteBook>`
/// # Ok::<(), pkg_router::BuildError>(())
/// ```
#[derive(Debug)]
pub struct Route {
    pub(super) ids: Vec<(u32, Option<&'static str>)>,
    pub(super) handler: BoxedHandler,
    pub(super) roles: Vec<String>,
    /// Declared public on purpose ([`Route::public`], `roles = []`).
    pub(super) public: bool,
    /// The push ids it declares it sends ([`Route::pushes`]).
    pub(super) pushes: Vec<u32>,
    /// An explicit schema, with what declared it (for error messages).
    pub(super) schema: Option<(Value, String)>,
    pub(super) timeout: Option<Duration>,
    pub(super) source: HandlerSource,
}

impl Route {
    /// A public handler for `pkg_id`; its schema is the one a `Data<T>` argument brings, if any.
    ///
    /// The route table shows it under the handler's type path and the `file:line` of this call.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, Route, Router};
    ///
    /// async fn list_authors() -> Result<Vec<String>, HandlerError> {
    ///     Ok(vec!["Herbert".into()])
    /// }
    ///
    /// let router = Router::builder().route(Route::new(46, list_authors)).build()?;
    /// let row = router.routes().get(46).unwrap();
    /// assert!(row.handler.as_deref().unwrap().ends_with("list_authors"));
    /// assert!(row.roles.is_empty()); // public
    /// assert!(!row.has_schema);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    #[track_caller]
    pub fn new<H, Args>(pkg_id: impl IntoPkgId, handler: H) -> Self
    where
        H: Handler<Args>,
        Args: 'static,
    {
        let location = Location::caller();
        Self {
            ids: vec![(pkg_id.into_pkg_id(), None)],
            source: HandlerSource {
                path: std::any::type_name::<H>().to_owned(),
                location: format!("{}:{}", location.file(), location.line()),
            },
            handler: BoxedHandler::new(handler),
            roles: Vec::new(),
            public: false,
            pushes: Vec::new(),
            schema: None,
            timeout: None,
        }
    }

    /// Serves another id with the same handler (an old id kept for old clients, say).
    ///
    /// Roles, schema and timeout apply to every id of the route.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{HandlerError, RequestIds, Route, Router};
    /// use serde_json::json;
    ///
    /// async fn get_book(ids: RequestIds) -> Result<u32, HandlerError> {
    ///     Ok(ids.pkg_id)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder()
    ///     .route(Route::new(47, get_book).also(1047).roles(["view-books"]))
    ///     .build()?;
    /// assert!(router.has_handler(47) && router.has_handler(1047));
    ///
    /// let client = TestRouter::new(router).with_roles(["view-books"]);
    /// assert_eq!(client.call(1047, json!({})).await.expect_ok(), 1047);
    /// client.with_roles(Vec::<String>::new()).call(1047, json!({})).await.expect_error("permission_denied");
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn also(mut self, pkg_id: impl IntoPkgId) -> Self {
        self.ids.push((pkg_id.into_pkg_id(), None));
        self
    }

    /// Requires every one of `roles` (ALL-of). Calling it again adds more.
    ///
    /// Checked before the schema, so callers without access learn nothing about the data the
    /// handler expects.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{HandlerError, Route, Router};
    /// use serde_json::json;
    ///
    /// async fn delete_book() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder()
    ///     .route(Route::new(48, delete_book).roles(["delete-book"]).roles(["admin"]))
    ///     .build()?;
    /// let client = TestRouter::new(router);
    ///
    /// let denied = client.with_roles(["delete-book"]).call(48, json!({})).await;
    /// assert_eq!(denied.expect_error("permission_denied").details.unwrap()["missing_roles"], json!(["admin"]));
    /// client.with_roles(["delete-book", "admin"]).call(48, json!({})).await.expect_ok();
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Declares the route public on purpose: it requires no role, and the route check
    /// ([`cli`](crate::cli) `check`, [`RouteInfo::public`](crate::router::RouteInfo::public))
    /// accepts that. `#[pkg_handler(roles = [])]` says the same.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, Route, Router};
    ///
    /// async fn server_info() -> Result<&'static str, HandlerError> { Ok("v1") }
    ///
    /// let router = Router::builder().route(Route::new(8, server_info).public()).build()?;
    /// assert!(router.routes().get(8).unwrap().public);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    #[must_use]
    pub fn public(mut self) -> Self {
        self.public = true;
        self
    }

    /// Declares the push ids this handler sends, for the route table, AsyncAPI readers and the
    /// route check (a `#[push]` id that no route declares is reported unused).
    /// `#[pkg_handler(pushes = [..])]` says the same.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, Route, Router};
    ///
    /// async fn create_book() -> Result<(), HandlerError> { Ok(()) }
    ///
    /// let router = Router::builder()
    ///     .route(Route::new(3, create_book).roles(["create-book"]).pushes([100]))
    ///     .build()?;
    /// assert_eq!(router.routes().get(3).unwrap().pushes, [100]);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    #[must_use]
    pub fn pushes<I>(mut self, ids: I) -> Self
    where
        I: IntoIterator,
        I::Item: IntoPkgId,
    {
        self.pushes
            .extend(ids.into_iter().map(IntoPkgId::into_pkg_id));
        self
    }

    /// Validates `data` against the JSON schema derived from `T` (see [`schema_of`](crate::schema::schema_of)),
    /// for handlers that read `data` without a [`Data<T>`](crate::Data) argument (envelope style,
    /// [`RequestModel`](crate::RequestModel)).
    ///
    /// Every violation is reported at once, with JSON pointers, before the handler runs. A
    /// handler taking `Data<T>` already has `T`'s schema: giving it another one is a
    /// [`BuildError::ConflictingSchemas`](crate::BuildError::ConflictingSchemas).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{HandlerError, RequestModel, Route, Router};
    /// use serde_json::json;
    ///
    /// #[derive(schemars::JsonSchema)]
    /// struct CreateAuthor {
    ///     #[schemars(length(min = 1))]
    ///     name: String,
    ///     #[schemars(range(min = 1800, max = 2100))]
    ///     born: u32,
    /// }
    ///
    /// async fn create_author(request: RequestModel) -> Result<serde_json::Value, HandlerError> {
    ///     Ok(request.data["name"].clone())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder()
    ///     .route(Route::new(49, create_author).schema::<CreateAuthor>())
    ///     .build()?;
    /// assert!(router.schema(49).is_some());
    ///
    /// let client = TestRouter::new(router);
    /// let err = client.call(49, json!({"name": "", "born": 1700})).await;
    /// let details = err.expect_error("validation_error").details.unwrap();
    /// assert_eq!(details.as_array().unwrap().len(), 2); // both fields at once
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn schema<T: schemars::JsonSchema>(mut self) -> Self {
        let source = format!("`Route::schema::<{}>()`", std::any::type_name::<T>());
        self.schema = Some((schema_of::<T>(), source));
        self
    }

    /// Validates `data` against a hand-written JSON schema.
    ///
    /// For payloads without a Rust type, or constraints `schemars` cannot express. The schema is
    /// compiled by [`RouterBuilder::build`](super::RouterBuilder::build); one that does not compile (or refers to a remote
    /// document) is a [`BuildError::InvalidSchema`](crate::BuildError::InvalidSchema).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{BuildError, HandlerError, RequestModel, Route, Router};
    /// use serde_json::json;
    ///
    /// async fn tag(request: RequestModel) -> Result<serde_json::Value, HandlerError> {
    ///     Ok(request.data["isbn"].clone())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let isbn = json!({
    ///     "type": "object",
    ///     "properties": {"isbn": {"type": "string", "pattern": "^978-\\d{10}$"}},
    ///     "required": ["isbn"]
    /// });
    /// let router = Router::builder().route(Route::new(50, tag).json_schema(isbn)).build()?;
    /// let client = TestRouter::new(router);
    /// assert_eq!(client.call(50, json!({"isbn": "978-0441013593"})).await.expect_ok(), "978-0441013593");
    /// let err = client.call(50, json!({"isbn": "0441013593"})).await;
    /// assert_eq!(err.expect_error("validation_error").details.unwrap()[0]["path"], "/isbn");
    ///
    /// let remote = json!({"$ref": "https://schemas.example.com/book.json"});
    /// let err = Router::builder().route(Route::new(50, tag).json_schema(remote)).build().unwrap_err();
    /// assert!(matches!(err, BuildError::InvalidSchema { .. }));
    /// # Ok::<(), BuildError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn json_schema(mut self, schema: Value) -> Self {
        self.schema = Some((schema, "`Route::json_schema`".to_owned()));
        self
    }

    /// Answers `ERROR`/`timeout` if the handler runs longer than `limit`.
    ///
    /// Overrides [`RouterBuilder::timeout`](super::RouterBuilder::timeout) for this route. The handler's future is dropped at
    /// the deadline, so work after its next `.await` does not happen.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{HandlerError, Route, Router};
    /// use serde_json::json;
    /// use std::time::Duration;
    ///
    /// async fn report() -> Result<&'static str, HandlerError> {
    ///     tokio::time::sleep(Duration::from_millis(50)).await;
    ///     Ok("done")
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder()
    ///     .route(Route::new(51, report).timeout(Duration::from_millis(5)))
    ///     .route(Route::new(52, report).timeout(Duration::from_secs(5)))
    ///     .build()?;
    /// let client = TestRouter::new(router);
    /// let late = client.call(51, json!({})).await;
    /// assert!(late.expect_error("timeout").msg.contains("5 ms"));
    /// assert_eq!(client.call(52, json!({})).await.expect_ok(), "done");
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    pub(super) fn from_registration(reg: &'static HandlerRegistration) -> Self {
        Self {
            ids: reg
                .ids
                .iter()
                .zip(
                    reg.id_names
                        .iter()
                        .map(|n| Some(*n).filter(|n| !n.is_empty()))
                        .chain(std::iter::repeat(None)),
                )
                .map(|(id, name)| (*id, name))
                .collect(),
            handler: (reg.make)(),
            roles: reg.roles.iter().map(|r| (*r).to_owned()).collect(),
            public: reg.public,
            pushes: reg.pushes.to_vec(),
            schema: reg
                .schema
                .map(|make| (make(), format!("`{}`", reg.schema_source))),
            timeout: reg.timeout,
            source: HandlerSource {
                path: reg.path.to_owned(),
                location: format!("{}:{}", reg.file, reg.line),
            },
        }
    }
}
