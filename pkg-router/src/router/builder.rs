use super::route::Route;
use super::route_table::{RouteInfo, RouteTable};
use super::{BuildError, CompiledRoute, DispatchHook, HandlerSource, Inner, Router, Shared};
use crate::handler::Handler;
use crate::pagination::DEFAULT_MAX_PER_PAGE;
use crate::pkg_id::IntoPkgId;
use crate::registry;
use crate::schema::{self, CompiledSchema};
use crate::state::TypeMap;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`Router`]: state, handlers, checks.
///
/// # Examples
///
/// ```standalone_crate
/// use pkg_router::{pkg_handler, pkg_ids, HandlerError, Router};
///
/// pkg_ids! {
///     pub Ids { PING = 1, #[push] PONGED = 100 }
/// }
///
/// #[pkg_handler(id = Ids::PING)]
/// async fn ping() -> Result<&'static str, HandlerError> {
///     Ok("pong")
/// }
///
/// let router = Router::builder()
///     .with_registered()
///     .require_all(Ids::ALL) // every id but the push has a handler
///     .build()?;
/// assert!(router.has_handler(1));
/// # Ok::<(), pkg_router::BuildError>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct RouterBuilder {
    state: TypeMap,
    routes: Vec<Route>,
    required: BTreeSet<u32>,
    allow_empty: bool,
    default_timeout: Option<Duration>,
    max_per_page: u32,
    hooks: Vec<Box<dyn DispatchHook>>,
}

impl RouterBuilder {
    pub(super) fn new() -> Self {
        Self {
            state: TypeMap::default(),
            routes: Vec::new(),
            required: BTreeSet::new(),
            allow_empty: false,
            default_timeout: None,
            max_per_page: DEFAULT_MAX_PER_PAGE,
            hooks: Vec::new(),
        }
    }

    /// Adds application state, read by handlers with [`State<T>`](crate::State). One value per
    /// type; a second value of the same type replaces the first.
    ///
    /// State is shared by every request and cloned into each handler that takes it, so keep
    /// it cheap to clone (an `Arc`, a connection pool).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{HandlerError, Router, State};
    /// use serde_json::json;
    ///
    /// #[derive(Clone)]
    /// struct SiteName(&'static str);
    ///
    /// async fn site(State(name): State<SiteName>) -> Result<&'static str, HandlerError> {
    ///     Ok(name.0)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder()
    ///     .state(SiteName("draft"))
    ///     .state(SiteName("Books")) // replaces the first
    ///     .handler(53, site)
    ///     .build()?;
    /// assert_eq!(TestRouter::new(router).call(53, json!({})).await.expect_ok(), "Books");
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn state<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// The [`Hub`](crate::Hub) handlers push through (a `Hub` argument), and that a transport
    /// serving this router registers its connections in. A handler that takes a `Hub` makes
    /// `build()` fail without one.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{BuildError, HandlerError, Hub, Router};
    ///
    /// async fn announce(hub: Hub) -> Result<usize, HandlerError> {
    ///     hub.broadcast(100u32, "hello")
    /// }
    ///
    /// let hub = Hub::new();
    /// let router = Router::builder().hub(hub.clone()).handler(1, announce).build()?;
    /// assert!(router.hub().is_some());
    ///
    /// let err = Router::builder().handler(1, announce).build().unwrap_err();
    /// assert!(matches!(err, BuildError::MissingHub { .. }));
    /// # Ok::<(), BuildError>(())
    /// ```
    pub fn hub(mut self, hub: impl Into<crate::Hub>) -> Self {
        self.state.insert(hub.into());
        self
    }

    /// Adds every handler registered with `#[pkg_handler]` in the crates linked into this binary.
    ///
    /// Handlers in a crate the binary never names are dropped by the linker; see the
    /// [crate documentation](crate#linking-handlers-in-another-crate).
    ///
    /// # Examples
    ///
    /// ```standalone_crate
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{pkg_handler, HandlerError, Router};
    /// use serde_json::json;
    ///
    /// #[pkg_handler(id = 1)]
    /// async fn ping() -> Result<&'static str, HandlerError> {
    ///     Ok("pong")
    /// }
    ///
    /// #[pkg_handler(id = 2, roles = ["admin"])]
    /// async fn purge() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().with_registered().build()?;
    /// assert_eq!(router.routes().get(2).unwrap().roles, ["admin"]);
    ///
    /// let client = TestRouter::new(router);
    /// assert_eq!(client.call(1, json!({})).await.expect_ok(), "pong");
    /// client.call(2, json!({})).await.expect_error("permission_denied");
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn with_registered(mut self) -> Self {
        self.routes
            .extend(registry::handlers().map(Route::from_registration));
        self
    }

    /// Adds the [`#[pkg_handler]`](crate::pkg_handler) registered for `pkg_id`, with its roles,
    /// schema and timeout, and no other: a router for a test of one handler (see
    /// [`TestRouter::registered`](crate::testing::TestRouter::registered)), or one serving a
    /// subset. [`build`](Self::build) fails with [`BuildError::MissingHandlers`] when no
    /// handler is registered for `pkg_id`.
    ///
    /// # Examples
    ///
    /// ```standalone_crate
    /// use pkg_router::{pkg_handler, HandlerError, Router};
    ///
    /// #[pkg_handler(id = 1, roles = [])]
    /// async fn ping() -> Result<&'static str, HandlerError> { Ok("pong") }
    ///
    /// #[pkg_handler(id = 2, roles = ["admin"])]
    /// async fn purge() -> Result<(), HandlerError> { Ok(()) }
    ///
    /// let router = Router::builder().registered(2).build()?;
    /// assert!(router.routes().get(1).is_none());
    /// assert!(Router::builder().registered(3).build().is_err());
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    pub fn registered(mut self, pkg_id: impl IntoPkgId) -> Self {
        let pkg_id = pkg_id.into_pkg_id();
        self.routes.extend(
            registry::handlers()
                .filter(|registration| registration.ids.contains(&pkg_id))
                .map(Route::from_registration),
        );
        self.required.insert(pkg_id);
        self
    }

    /// Adds a public handler for `pkg_id`, its schema the one a [`Data<T>`](crate::Data)
    /// argument brings. Use [`route`](Self::route) for roles, an explicit schema and timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{Data, HandlerError, Router};
    /// use serde_json::json;
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Sum { a: i64, b: i64 }
    ///
    /// async fn sum(Data(input): Data<Sum>) -> Result<i64, HandlerError> {
    ///     Ok(input.a + input.b)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().handler(54, sum).build()?;
    /// let client = TestRouter::new(router);
    /// assert_eq!(client.call(54, json!({"a": 2, "b": 3})).await.expect_ok(), 5);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn handler<H, Args>(self, pkg_id: impl IntoPkgId, handler: H) -> Self
    where
        H: Handler<Args>,
        Args: 'static,
    {
        self.route(Route::new(pkg_id, handler))
    }

    /// Adds a handler with options (roles, schema, timeout, more ids): see [`Route`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, Route, Router};
    ///
    /// async fn delete_book() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// let router = Router::builder()
    ///     .route(Route::new(55, delete_book).roles(["delete-book"]))
    ///     .build()?;
    /// assert_eq!(router.routes().get(55).unwrap().roles, ["delete-book"]);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    pub fn route(mut self, route: Route) -> Self {
        self.routes.push(route);
        self
    }

    /// Requires a handler for every one of `ids` except pushes; [`build`](Self::build) fails
    /// otherwise.
    ///
    /// Pass a [`pkg_ids!`](crate::pkg_ids) set's `ALL` so a forgotten handler stops the server at
    /// startup instead of answering `unknown_pkg_id` in production. Ids declared `#[push]` are
    /// sent by the server only and need no handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{BuildError, HandlerError, Router};
    ///
    /// async fn ping() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// let err = Router::builder().handler(56, ping).require_all([56, 57]).build().unwrap_err();
    /// assert!(matches!(err, BuildError::MissingHandlers { missing } if missing == [(57, None)]));
    ///
    /// assert!(Router::builder().handler(56, ping).require_all([56]).build().is_ok());
    /// ```
    ///
    /// With named ids, pushes are skipped:
    ///
    /// ```standalone_crate
    /// use pkg_router::{HandlerError, Router};
    ///
    /// pkg_router::pkg_ids! {
    ///     pub Ids { PING = 1, #[push] PONGED = 100 }
    /// }
    ///
    /// async fn ping() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// let built = Router::builder().handler(Ids::PING, ping).require_all(Ids::ALL).build();
    /// assert!(built.is_ok());
    /// ```
    pub fn require_all<I>(mut self, ids: I) -> Self
    where
        I: IntoIterator,
        I::Item: IntoPkgId,
    {
        self.required.extend(
            ids.into_iter()
                .filter(|id| !id.is_push())
                .map(IntoPkgId::into_pkg_id),
        );
        self
    }

    /// Like [`require_all`](Self::require_all), minus `except`: ids not served yet, or pushes
    /// given as plain numbers (named ids declared `#[push]` are skipped by `require_all` itself).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, Router};
    ///
    /// async fn create_book() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// const CREATE_BOOK: u32 = 58;
    /// const BOOK_CREATED: u32 = 158; // a push: no handler
    ///
    /// let built = Router::builder()
    ///     .handler(CREATE_BOOK, create_book)
    ///     .require_all_except([CREATE_BOOK, BOOK_CREATED], [BOOK_CREATED])
    ///     .build();
    /// assert!(built.is_ok());
    ///
    /// let built = Router::builder()
    ///     .handler(CREATE_BOOK, create_book)
    ///     .require_all([CREATE_BOOK, BOOK_CREATED])
    ///     .build();
    /// assert!(built.is_err());
    /// ```
    pub fn require_all_except<I, E>(self, ids: I, except: E) -> Self
    where
        I: IntoIterator,
        I::Item: IntoPkgId,
        E: IntoIterator,
        E::Item: IntoPkgId,
    {
        let except: BTreeSet<u32> = except.into_iter().map(IntoPkgId::into_pkg_id).collect();
        self.require_all(
            ids.into_iter()
                .map(IntoPkgId::into_pkg_id)
                .filter(|id: &u32| !except.contains(id))
                .collect::<Vec<u32>>(),
        )
    }

    /// Lets [`build`](Self::build) succeed with no handler at all.
    ///
    /// For tests and for servers that only push; otherwise an empty router is almost always a
    /// linking mistake ([`BuildError::EmptyRegistry`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{BuildError, Router};
    ///
    /// assert!(matches!(Router::builder().build(), Err(BuildError::EmptyRegistry)));
    /// let router = Router::builder().allow_empty().build()?;
    /// assert!(!router.has_handler(1));
    /// # Ok::<(), BuildError>(())
    /// ```
    pub fn allow_empty(mut self) -> Self {
        self.allow_empty = true;
        self
    }

    /// Times out handlers that declare no timeout of their own after `limit`.
    ///
    /// Without it, handlers have no deadline of their own (a transport may still impose one).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{HandlerError, Route, Router};
    /// use serde_json::json;
    /// use std::time::Duration;
    ///
    /// async fn export() -> Result<&'static str, HandlerError> {
    ///     tokio::time::sleep(Duration::from_millis(50)).await;
    ///     Ok("exported")
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder()
    ///     .timeout(Duration::from_millis(5))
    ///     .handler(59, export) // gets the default
    ///     .route(Route::new(60, export).timeout(Duration::from_secs(5))) // its own wins
    ///     .build()?;
    /// let client = TestRouter::new(router);
    /// client.call(59, json!({})).await.expect_error("timeout");
    /// assert_eq!(client.call(60, json!({})).await.expect_ok(), "exported");
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.default_timeout = Some(limit);
        self
    }

    /// The largest `per_page` a [`PageParams`](crate::PageParams) argument accepts (default 100).
    ///
    /// Values below 1 are raised to 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{HandlerError, PageParams, Router};
    /// use serde_json::json;
    ///
    /// async fn list(page: PageParams) -> Result<u32, HandlerError> {
    ///     Ok(page.per_page)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().max_per_page(10).handler(61, list).build()?;
    /// let client = TestRouter::new(router);
    /// assert_eq!(client.call(61, json!({"per_page": 10})).await.expect_ok(), 10);
    /// let err = client.call(61, json!({"per_page": 11})).await;
    /// assert_eq!(err.expect_error("validation_error").details.unwrap()[0]["path"], "/per_page");
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn max_per_page(mut self, max: u32) -> Self {
        self.max_per_page = max.max(1);
        self
    }

    /// Adds a hook that runs around every dispatch (audit logs, custom checks); hooks run in
    /// the order added.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{HandlerError, Router};
    /// use pkg_router::hook::{Call, DispatchHook, Outcome};
    /// use serde_json::json;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// /// Counts answered requests.
    /// #[derive(Clone, Default)]
    /// struct Counter(Arc<AtomicUsize>);
    ///
    /// impl DispatchHook for Counter {
    ///     fn after(&self, _call: &Call<'_>, _outcome: &Outcome) {
    ///         self.0.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// async fn ping() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let counter = Counter::default();
    /// let router = Router::builder().hook(counter.clone()).handler(62, ping).build()?;
    /// let client = TestRouter::new(router);
    /// client.call(62, json!({})).await.expect_ok();
    /// client.call(62, json!({})).await.expect_ok();
    /// client.call(63, json!({})).await.expect_error("unknown_pkg_id"); // no handler: no hook
    /// assert_eq!(counter.0.load(Ordering::Relaxed), 2);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn hook(mut self, hook: impl DispatchHook) -> Self {
        self.hooks.push(Box::new(hook));
        self
    }

    /// Checks everything and builds the router.
    ///
    /// # Errors
    ///
    /// [`BuildError`] for: two handlers on one id, no handler at all (unless
    /// [`allow_empty`](Self::allow_empty)), a handler taking state that was not given, a schema
    /// that does not compile, two schemas for one handler, a handler for a `#[push]` id, an id
    /// above `2^31-1`, or a [`require_all`](Self::require_all) id without a handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{BuildError, HandlerError, Router};
    ///
    /// async fn ping() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// let router = Router::builder().handler(64, ping).build()?;
    /// assert!(router.has_handler(64));
    ///
    /// let err = Router::builder().handler(64, ping).handler(64, ping).build().unwrap_err();
    /// assert!(matches!(err, BuildError::DuplicateHandler { pkg_id: 64, .. }));
    /// assert!(err.to_string().starts_with("pkg_id 64 has two handlers"));
    /// # Ok::<(), BuildError>(())
    /// ```
    pub fn build(self) -> Result<Router, BuildError> {
        if self.routes.is_empty() && !self.allow_empty {
            return Err(BuildError::EmptyRegistry);
        }
        // `(name, is_push)` of every id declared with `pkg_ids!`.
        let declared: BTreeMap<u32, (&'static str, bool)> = registry::declared_ids()
            .map(|(id, name, push)| (id, (name, push)))
            .collect();
        let mut routes: BTreeMap<u32, (Arc<super::CompiledRoute>, HandlerSource)> = BTreeMap::new();
        let mut rows = Vec::new();
        for route in self.routes {
            let source = route.source;
            for (type_id, type_name) in &route.handler.needs().state {
                if *type_id == std::any::TypeId::of::<crate::Hub>()
                    && !self.state.contains(*type_id)
                {
                    return Err(BuildError::MissingHub { handler: source });
                }
                if !self.state.contains(*type_id) {
                    return Err(BuildError::MissingState {
                        handler: source,
                        type_name,
                    });
                }
            }
            let needs = route.handler.needs();
            let resolved =
                schema::resolve(route.schema, needs, self.max_per_page).map_err(|conflict| {
                    BuildError::ConflictingSchemas {
                        handler: source.clone(),
                        first: conflict.first,
                        second: conflict.second,
                    }
                })?;
            let schema = match resolved.schema {
                None => None,
                Some(schema) => Some(Arc::new(CompiledSchema::compile(schema).map_err(
                    |reason| BuildError::InvalidSchema {
                        handler: source.clone(),
                        reason,
                    },
                )?)),
            };
            let data_skip: Arc<[String]> = resolved.data_skip.into();
            let roles: Arc<[String]> = route.roles.into();
            let path: Arc<str> = source.path.as_str().into();
            for (pkg_id, written_name) in route.ids {
                if pkg_id > crate::pkg_id::MAX_PKG_ID {
                    return Err(BuildError::PkgIdOutOfRange {
                        pkg_id,
                        handler: source,
                    });
                }
                let name = declared.get(&pkg_id).map(|(n, _)| *n).or(written_name);
                if declared.get(&pkg_id).is_some_and(|(_, push)| *push) {
                    return Err(BuildError::HandlerForPush {
                        pkg_id,
                        name: name.map(str::to_owned),
                        handler: source,
                    });
                }
                if let Some((_, first)) = routes.get(&pkg_id) {
                    return Err(BuildError::DuplicateHandler {
                        pkg_id,
                        name: name.map(str::to_owned),
                        // Boxed: keeps `Result<_, BuildError>` small for callers.
                        first: Box::new(first.clone()),
                        second: Box::new(source),
                    });
                }
                let endpoint = CompiledRoute {
                    handler: route.handler.clone(),
                    path: Arc::clone(&path),
                    roles: Arc::clone(&roles),
                    schema: schema.clone(),
                    data_skip: Arc::clone(&data_skip),
                    timeout: route.timeout.or(self.default_timeout),
                    name: name.map(Arc::from),
                    #[cfg(feature = "metrics")]
                    duration_key: metrics::Key::from_parts(
                        "ws_message_processing_duration_seconds",
                        vec![metrics::Label::new("pkg_id", pkg_id.to_string())],
                    ),
                };
                rows.push(RouteInfo {
                    pkg_id,
                    name: name.map(str::to_owned),
                    handler: Some(source.path.clone()),
                    roles: roles.to_vec(),
                    public: route.public,
                    pushes: route.pushes.clone(),
                    has_schema: schema.is_some(),
                    push: false,
                    location: Some(source.location.clone()),
                });
                routes.insert(pkg_id, (Arc::new(endpoint), source.clone()));
            }
        }
        let missing: Vec<(u32, Option<String>)> = self
            .required
            .iter()
            .filter(|id| !routes.contains_key(id))
            .filter(|id| !declared.get(id).is_some_and(|(_, push)| *push))
            .map(|id| (*id, declared.get(id).map(|(n, _)| (*n).to_owned())))
            .collect();
        if !missing.is_empty() {
            return Err(BuildError::MissingHandlers { missing });
        }
        for (pkg_id, (name, push)) in &declared {
            if !routes.contains_key(pkg_id) {
                rows.push(RouteInfo {
                    pkg_id: *pkg_id,
                    name: Some((*name).to_owned()),
                    handler: None,
                    roles: Vec::new(),
                    public: false,
                    pushes: Vec::new(),
                    has_schema: false,
                    push: *push,
                    location: None,
                });
            }
        }
        rows.sort_by_key(|row| row.pkg_id);
        Ok(Router {
            inner: Arc::new(Inner {
                routes: routes
                    .into_iter()
                    .map(|(id, (endpoint, _))| (id, endpoint))
                    .collect(),
                shared: Shared {
                    state: self.state,
                    max_per_page: self.max_per_page,
                },
                table: RouteTable { rows },
                hooks: self.hooks,
            }),
        })
    }
}
