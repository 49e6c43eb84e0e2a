use super::route_table::{RouteInfo, RouteTable};
use super::{BuildError, DispatchHook, Endpoint, HandlerSource, Inner, Router, Shared};
use crate::IntoPkgId;
use crate::handler::{BoxedHandler, Handler};
use crate::pagination::DEFAULT_MAX_PER_PAGE;
use crate::registry::{self, HandlerRegistration};
use crate::schema::{CompiledSchema, schema_of};
use crate::state::TypeMap;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::Location;
use std::sync::Arc;
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
///             .schema::<DeleteBook>()
///             .timeout(Duration::from_secs(2)),
///     )
///     .build()?;
/// assert_eq!(router.routes().get(6).unwrap().roles, ["delete-book", "admin"]);
/// # Ok::<(), pkg_router::BuildError>(())
/// ```
#[derive(Debug)]
pub struct Route {
    ids: Vec<(u32, Option<&'static str>)>,
    handler: BoxedHandler,
    roles: Vec<String>,
    schema: Option<Value>,
    timeout: Option<Duration>,
    source: HandlerSource,
}

impl Route {
    /// A public handler for `pkg_id`, without a schema.
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
            schema: None,
            timeout: None,
        }
    }

    /// Serves another id with the same handler.
    #[must_use]
    pub fn also(mut self, pkg_id: impl IntoPkgId) -> Self {
        self.ids.push((pkg_id.into_pkg_id(), None));
        self
    }

    /// Requires every one of `roles` (ALL-of).
    #[must_use]
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Validates `data` against the JSON schema derived from `T`.
    #[must_use]
    pub fn schema<T: schemars::JsonSchema>(mut self) -> Self {
        self.schema = Some(schema_of::<T>());
        self
    }

    /// Validates `data` against a hand-written JSON schema.
    #[must_use]
    pub fn json_schema(mut self, schema: Value) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Answers `ERROR`/`timeout` if the handler runs longer than `limit`.
    #[must_use]
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    fn from_registration(reg: &'static HandlerRegistration) -> Self {
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
            schema: reg.schema.map(|make| make()),
            timeout: reg.timeout,
            source: HandlerSource {
                path: reg.path.to_owned(),
                location: format!("{}:{}", reg.file, reg.line),
            },
        }
    }
}

/// Builds a [`Router`]: state, handlers, checks.
///
/// # Examples
///
/// ```standalone_crate
/// use pkg_router::{pkg_handler, pkg_ids, HandlerError, Router};
///
/// pkg_ids! {
///     pub Ids { PING = 1, PONG_PUSH = 100 }
/// }
///
/// #[pkg_handler(id = Ids::PING)]
/// async fn ping() -> Result<&'static str, HandlerError> {
///     Ok("pong")
/// }
///
/// let router = Router::builder()
///     .with_registered()
///     .require_all_except(Ids::ALL, [Ids::PONG_PUSH])
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
    pub fn state<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Adds every handler registered with `#[pkg_handler]` in the crates linked into this binary.
    pub fn with_registered(mut self) -> Self {
        self.routes
            .extend(registry::handlers().map(Route::from_registration));
        self
    }

    /// Adds a public handler for `pkg_id` without a schema. Use [`route`](Self::route) for roles,
    /// schema and timeout.
    #[track_caller]
    pub fn handler<H, Args>(self, pkg_id: impl IntoPkgId, handler: H) -> Self
    where
        H: Handler<Args>,
        Args: 'static,
    {
        self.route(Route::new(pkg_id, handler))
    }

    /// Adds a handler with options.
    pub fn route(mut self, route: Route) -> Self {
        self.routes.push(route);
        self
    }

    /// Requires a handler for every one of `ids`; [`build`](Self::build) fails otherwise.
    pub fn require_all<I>(mut self, ids: I) -> Self
    where
        I: IntoIterator,
        I::Item: IntoPkgId,
    {
        self.required
            .extend(ids.into_iter().map(IntoPkgId::into_pkg_id));
        self
    }

    /// Like [`require_all`](Self::require_all), minus `except` (push-only ids such as broadcasts).
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
    pub fn allow_empty(mut self) -> Self {
        self.allow_empty = true;
        self
    }

    /// Times out handlers that declare no timeout of their own after `limit`.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.default_timeout = Some(limit);
        self
    }

    /// The largest `per_page` a [`PageParams`](crate::PageParams) argument accepts (default 100).
    pub fn max_per_page(mut self, max: u32) -> Self {
        self.max_per_page = max.max(1);
        self
    }

    /// Adds a hook that runs around every dispatch (audit logs, custom checks); hooks run in
    /// the order added.
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
    /// that does not compile, an id above `2^31-1`, or a [`require_all`](Self::require_all) id
    /// without a handler.
    pub fn build(self) -> Result<Router, BuildError> {
        if self.routes.is_empty() && !self.allow_empty {
            return Err(BuildError::EmptyRegistry);
        }
        let declared: BTreeMap<u32, &'static str> = registry::declared_ids().collect();
        let mut routes: BTreeMap<u32, (Arc<super::Endpoint>, HandlerSource)> = BTreeMap::new();
        let mut rows = Vec::new();
        for route in self.routes {
            let source = route.source;
            for (type_id, type_name) in &route.handler.needs().state {
                if !self.state.contains(*type_id) {
                    return Err(BuildError::MissingState {
                        handler: source,
                        type_name,
                    });
                }
            }
            let schema = match route.schema {
                None => None,
                Some(schema) => Some(Arc::new(CompiledSchema::compile(schema).map_err(
                    |reason| BuildError::InvalidSchema {
                        handler: source.clone(),
                        reason,
                    },
                )?)),
            };
            let roles: Arc<[String]> = route.roles.into();
            let path: Arc<str> = source.path.as_str().into();
            for (pkg_id, written_name) in route.ids {
                if pkg_id > crate::MAX_PKG_ID {
                    return Err(BuildError::PkgIdOutOfRange {
                        pkg_id,
                        handler: source,
                    });
                }
                let name = declared.get(&pkg_id).copied().or(written_name);
                if let Some((_, first)) = routes.get(&pkg_id) {
                    return Err(BuildError::DuplicateHandler {
                        pkg_id,
                        name: name.map(str::to_owned),
                        first: first.clone(),
                        second: source,
                    });
                }
                let endpoint = Endpoint {
                    handler: route.handler.clone(),
                    path: Arc::clone(&path),
                    roles: Arc::clone(&roles),
                    schema: schema.clone(),
                    timeout: route.timeout.or(self.default_timeout),
                    name: name.map(Arc::from),
                };
                rows.push(RouteInfo {
                    pkg_id,
                    name: name.map(str::to_owned),
                    handler: Some(source.path.clone()),
                    roles: roles.to_vec(),
                    has_schema: schema.is_some(),
                    location: Some(source.location.clone()),
                });
                routes.insert(pkg_id, (Arc::new(endpoint), source.clone()));
            }
        }
        let missing: Vec<(u32, Option<String>)> = self
            .required
            .iter()
            .filter(|id| !routes.contains_key(id))
            .map(|id| (*id, declared.get(id).map(|n| (*n).to_owned())))
            .collect();
        if !missing.is_empty() {
            return Err(BuildError::MissingHandlers { missing });
        }
        for (pkg_id, name) in &declared {
            if !routes.contains_key(pkg_id) {
                rows.push(RouteInfo {
                    pkg_id: *pkg_id,
                    name: Some((*name).to_owned()),
                    handler: None,
                    roles: Vec::new(),
                    has_schema: false,
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
