use crate::principal::Principal;
use crate::router::Shared;
use crate::state::Extensions;
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

/// Everything extractors can read about one request.
///
/// The router builds it after the envelope, role and schema checks have passed.
///
/// It borrows the connection's session and the router's shared state: extractors clone only
/// what they keep. You never build one: the router hands it to
/// [`FromRequest::from_request`](crate::extract::FromRequest::from_request) for each handler argument.
///
/// # Examples
///
/// An extractor for a `page_size` field, capped at the router's
/// [`max_per_page`](Self::max_per_page):
///
/// ```
/// use pkg_router::testing::TestRouter;
/// use pkg_router::HandlerError;
/// use pkg_router::extract::{FromRequest, RequestContext};
/// use serde_json::json;
///
/// struct PageSize(u32);
///
/// impl FromRequest for PageSize {
///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
///         let asked = ctx.data().get("page_size").and_then(|v| v.as_u64()).unwrap_or(10);
///         let max = ctx.max_per_page();
///         Ok(PageSize(u32::try_from(asked).unwrap_or(max).min(max)))
///     }
/// }
///
/// async fn page_size(PageSize(n): PageSize) -> Result<u32, HandlerError> {
///     Ok(n)
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let client = TestRouter::with_handler(1, page_size);
/// assert_eq!(client.call(1, json!({})).await.data, 10);
/// assert_eq!(client.call(1, json!({"page_size": 500})).await.data, 100); // the default maximum
/// # });
/// ```
#[derive(Debug)]
pub struct RequestContext<'a> {
    pub(crate) pkg_id: u32,
    pub(crate) req_id: Uuid,
    /// Always a `Value::Object`.
    pub(crate) data: Value,
    pub(crate) principal: &'a Arc<Principal>,
    pub(crate) shared: &'a Shared,
    pub(crate) extensions: &'a Extensions,
    /// Top-level keys of `data` that `Data<T>` does not see: fields other arguments read (see
    /// [`HandlerNeeds::data_fields`](crate::extract::HandlerNeeds::data_fields)) that `T`, denying
    /// unknown fields, does not have.
    pub(crate) data_skip: &'a [String],
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl RequestContext<'_> {
    /// The request's `pkg_id`: lets one extractor behave differently for the ids of a handler
    /// that serves several ([`Route::also`](crate::Route::also)).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::{HandlerError, Route, Router};
    /// use pkg_router::extract::{FromRequest, RequestContext};
    /// use serde_json::json;
    ///
    /// /// Which operation a request asks for, from its id.
    /// struct Op(&'static str);
    ///
    /// impl FromRequest for Op {
    ///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         Ok(Op(if ctx.pkg_id() == 10 { "archive" } else { "restore" }))
    ///     }
    /// }
    ///
    /// async fn archive_or_restore(Op(op): Op) -> Result<&'static str, HandlerError> {
    ///     Ok(op)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().route(Route::new(10, archive_or_restore).also(11)).build()?;
    /// let client = TestRouter::new(router);
    /// assert_eq!(client.call(10, json!({})).await.data, "archive");
    /// assert_eq!(client.call(11, json!({})).await.data, "restore");
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn pkg_id(&self) -> u32 {
        self.pkg_id
    }

    /// The request's `req_id`: the client's correlation id, handy in logs and idempotency keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{self, TestRouter};
    /// use pkg_router::HandlerError;
    /// use pkg_router::extract::{FromRequest, RequestContext};
    /// use serde_json::json;
    ///
    /// /// An idempotency key: retries of one request share it.
    /// struct IdempotencyKey(String);
    ///
    /// impl FromRequest for IdempotencyKey {
    ///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         Ok(IdempotencyKey(format!("{}:{}", ctx.pkg_id(), ctx.req_id())))
    ///     }
    /// }
    ///
    /// async fn pay(IdempotencyKey(key): IdempotencyKey) -> Result<String, HandlerError> {
    ///     Ok(key)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(8, pay);
    /// let request = testing::request(8, json!({}));
    /// let req_id = request.req_id;
    /// assert_eq!(client.send(request).await.data, format!("8:{req_id}"));
    /// # });
    /// ```
    pub fn req_id(&self) -> Uuid {
        self.req_id
    }

    /// The request's `data` (validated against the handler's schema, if it has one).
    ///
    /// Extractors that read one field look here instead of deserializing the whole payload.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::HandlerError;
    /// use pkg_router::extract::{FromRequest, RequestContext};
    /// use serde_json::json;
    ///
    /// /// The `locale` field, `"en"` by default; other locales are refused.
    /// struct Locale(String);
    ///
    /// impl FromRequest for Locale {
    ///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         match ctx.data().get("locale").and_then(|v| v.as_str()).unwrap_or("en") {
    ///             locale @ ("en" | "de") => Ok(Locale(locale.to_owned())),
    ///             _ => Err(HandlerError::invalid_field("/locale", "must be en or de")),
    ///         }
    ///     }
    /// }
    ///
    /// async fn greet(Locale(locale): Locale) -> Result<&'static str, HandlerError> {
    ///     Ok(if locale == "de" { "Hallo" } else { "Hello" })
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, greet);
    /// assert_eq!(client.call(1, json!({})).await.expect_ok(), "Hello");
    /// assert_eq!(client.call(1, json!({"locale": "de"})).await.expect_ok(), "Hallo");
    /// client.call(1, json!({"locale": "fr"})).await.expect_error("validation_error");
    /// # });
    /// ```
    pub fn data(&self) -> &Map<String, Value> {
        self.data.as_object().unwrap_or(&EMPTY)
    }

    /// The caller, as the transport authenticated it.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::HandlerError;
    /// use pkg_router::extract::{FromRequest, RequestContext};
    /// use serde_json::json;
    ///
    /// /// Present only for callers holding the `admin` role.
    /// struct Admin;
    ///
    /// impl FromRequest for Admin {
    ///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         if ctx.principal().has_role("admin") {
    ///             Ok(Admin)
    ///         } else {
    ///             Err(HandlerError::permission_denied("admins only"))
    ///         }
    ///     }
    /// }
    ///
    /// async fn purge(_: Admin) -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, purge);
    /// client.call(1, json!({})).await.expect_error("permission_denied");
    /// client.with_roles(["admin"]).call(1, json!({})).await.expect_ok();
    /// # });
    /// ```
    pub fn principal(&self) -> &Arc<Principal> {
        self.principal
    }

    /// Application state of type `T` registered with
    /// [`RouterBuilder::state`](crate::router::RouterBuilder::state).
    ///
    /// `None` if the router has no state of that type; an extractor that relies on it declares
    /// so in [`FromRequest::declare`](crate::extract::FromRequest::declare), and the router then refuses
    /// to build without it.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::{HandlerError, Router};
    /// use pkg_router::extract::{FromRequest, HandlerNeeds, RequestContext};
    /// use serde_json::json;
    ///
    /// #[derive(Clone)]
    /// struct Limits { max_title: usize }
    ///
    /// /// The `title` field, checked against the configured maximum length.
    /// struct Title(String);
    ///
    /// impl FromRequest for Title {
    ///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         let limits = ctx.state::<Limits>().ok_or_else(|| HandlerError::internal("no Limits"))?;
    ///         let title = ctx.data().get("title").and_then(|v| v.as_str()).unwrap_or_default();
    ///         if title.chars().count() > limits.max_title {
    ///             return Err(HandlerError::invalid_field("/title", "too long"));
    ///         }
    ///         Ok(Title(title.to_owned()))
    ///     }
    ///
    ///     fn declare(needs: &mut HandlerNeeds) {
    ///         needs.state::<Limits>();
    ///     }
    /// }
    ///
    /// async fn rename(Title(title): Title) -> Result<String, HandlerError> {
    ///     Ok(title)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().state(Limits { max_title: 4 }).handler(1, rename).build()?;
    /// let client = TestRouter::new(router);
    /// assert_eq!(client.call(1, json!({"title": "Dune"})).await.data, "Dune");
    /// assert!(!client.call(1, json!({"title": "Children of Dune"})).await.is_ok());
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn state<T: 'static>(&self) -> Option<&T> {
        self.shared.state.get::<T>()
    }

    /// The connection's extensions: per-connection values the transport attached (see
    /// [`Session::with_extensions`](crate::router::Session::with_extensions)).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, Principal, RequestModel, Router};
    /// use pkg_router::extract::{FromRequest, RequestContext};
    /// use pkg_router::router::{Extensions, Session};
    /// use serde_json::Map;
    ///
    /// /// The tenant a connection belongs to, set once by the transport.
    /// #[derive(Clone)]
    /// struct Tenant(&'static str);
    ///
    /// struct TenantName(&'static str);
    ///
    /// impl FromRequest for TenantName {
    ///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         let tenant = ctx.extensions().get::<Tenant>().map_or("default", |t| t.0);
    ///         Ok(TenantName(tenant))
    ///     }
    /// }
    ///
    /// async fn whose(TenantName(name): TenantName) -> Result<&'static str, HandlerError> {
    ///     Ok(name)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().handler(1, whose).build()?;
    /// let session = Session::new(Principal::new("u1", "ann"))
    ///     .with_extensions(Extensions::new().with(Tenant("acme")));
    /// let response = router.dispatch(&session, RequestModel::new(1, Map::new())).await;
    /// assert_eq!(response.data, "acme");
    ///
    /// let response = router.dispatch(&Session::anonymous(), RequestModel::new(1, Map::new())).await;
    /// assert_eq!(response.data, "default");
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn extensions(&self) -> &Extensions {
        self.extensions
    }

    /// The largest `per_page` this router accepts
    /// ([`RouterBuilder::max_per_page`](crate::router::RouterBuilder::max_per_page), default
    /// [`DEFAULT_MAX_PER_PAGE`](crate::pagination::DEFAULT_MAX_PER_PAGE)).
    ///
    /// For extractors that page in their own way but must honour the router's limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::{HandlerError, Router};
    /// use pkg_router::extract::{FromRequest, RequestContext};
    /// use serde_json::json;
    ///
    /// /// A `limit` field, clamped to the router's maximum page size.
    /// struct Limit(u32);
    ///
    /// impl FromRequest for Limit {
    ///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         let max = ctx.max_per_page();
    ///         let asked = ctx.data().get("limit").and_then(|v| v.as_u64()).unwrap_or(u64::from(max));
    ///         Ok(Limit(u32::try_from(asked).unwrap_or(max).min(max)))
    ///     }
    /// }
    ///
    /// async fn limit(Limit(n): Limit) -> Result<u32, HandlerError> {
    ///     Ok(n)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().max_per_page(50).handler(1, limit).build()?;
    /// let client = TestRouter::new(router);
    /// assert_eq!(client.call(1, json!({"limit": 10})).await.data, 10);
    /// assert_eq!(client.call(1, json!({"limit": 1000})).await.data, 50);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn max_per_page(&self) -> u32 {
        self.shared.max_per_page
    }

    pub(crate) fn take_data(self) -> Map<String, Value> {
        match self.data {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}
