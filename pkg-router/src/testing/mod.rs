//! Helpers for testing handlers in-process, as any principal, with real state instead of mocks.
//!
//! The helpers here panic with a clear message when misused (they are for tests); nothing in
//! them runs in a server.
//!
//! # Examples
//!
//! ```
//! use pkg_router::testing::{TestRouter, ResponseExt};
//! use pkg_router::{Data, HandlerError, Route, Router};
//! use serde_json::json;
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct CreateBook { #[schemars(length(min = 1))] title: String }
//!
//! async fn create_book(Data(book): Data<CreateBook>) -> Result<serde_json::Value, HandlerError> {
//!     Ok(json!({"id": 1, "title": book.title}))
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let router = Router::builder()
//!     .route(Route::new(3, create_book).roles(["create-book"])) // schema from `Data<CreateBook>`
//!     .build()
//!     .unwrap();
//! let client = TestRouter::new(router).with_roles(["create-book"]);
//!
//! let created = client.call(3, json!({"title": "Dune"})).await;
//! assert_eq!(created.expect_ok()["title"], "Dune");
//!
//! let rejected = client.call(3, json!({"title": ""})).await;
//! assert_eq!(rejected.expect_error("validation_error").details.unwrap()[0]["path"], "/title");
//!
//! let denied = client.with_roles(Vec::<String>::new()).call(3, json!({"title": "Dune"})).await;
//! denied.expect_error("permission_denied");
//! # });
//! ```

mod hub;
#[cfg(feature = "transport")]
mod socket;

pub use hub::{MAX_TEST_CONNECTIONS_PER_PRINCIPAL, TestConnection, TestHub};
#[cfg(feature = "transport")]
#[cfg_attr(docsrs, doc(cfg(feature = "transport")))]
pub use socket::{MemoryClient, MemorySocket};

use crate::envelope::{ErrorBody, RequestModel, ResponseModel};
use crate::handler::Handler;
use crate::pkg_id::IntoPkgId;
use crate::principal::Principal;
use crate::router::{Router, Session};
use serde_json::{Map, Value};

/// A request for `pkg_id` with `data` and a fresh `req_id`.
///
/// Shorter than [`RequestModel::new`] in tests, where `data` is written with `json!`.
///
/// # Panics
///
/// If `data` is neither an object nor `null`.
///
/// # Examples
///
/// ```
/// use pkg_router::testing;
/// use serde_json::json;
///
/// let req = testing::request(3, json!({"title": "Dune"}));
/// assert_eq!((req.pkg_id, req.data["title"].as_str()), (3, Some("Dune")));
/// assert!(testing::request(3, json!(null)).data.is_empty());
///
/// // `data` must be an object.
/// assert!(std::panic::catch_unwind(|| testing::request(3, json!([1, 2]))).is_err());
/// ```
pub fn request(pkg_id: impl IntoPkgId, data: Value) -> RequestModel {
    RequestModel::new(pkg_id, object(data))
}

/// An authenticated test principal (`id` `"test-user"`) holding `roles`.
///
/// # Examples
///
/// ```
/// use pkg_router::testing;
///
/// let user = testing::principal(["view-books"]);
/// assert_eq!(user.id, "test-user");
/// assert!(user.has_role("view-books"));
/// assert!(!user.is_anonymous());
/// ```
pub fn principal<I, S>(roles: I) -> Principal
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Principal::new("test-user", "test-user").with_roles(roles)
}

fn object(data: Value) -> Map<String, Value> {
    match data {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => panic!("request data must be a JSON object, got {other}"),
    }
}

/// A router plus the caller it is called as.
///
/// Cheap to clone; [`with_roles`](Self::with_roles) and [`as_principal`](Self::as_principal)
/// give the same router under another caller, so one test can compare what different users
/// may do.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::{ResponseExt, TestRouter};
/// use pkg_router::{HandlerError, Principal, Route, Router};
/// use serde_json::json;
///
/// async fn whoami(me: Principal) -> Result<String, HandlerError> {
///     Ok(me.name)
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let router = Router::builder().route(Route::new(1, whoami).roles(["view-books"])).build()?;
/// let anonymous = TestRouter::new(router);
/// anonymous.call(1, json!({})).await.expect_error("permission_denied");
///
/// let reader = anonymous.with_roles(["view-books"]);
/// assert_eq!(reader.call(1, json!({})).await.expect_ok(), "test-user");
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct TestRouter {
    router: Router,
    session: Session,
}

impl TestRouter {
    /// Calls `router` as the anonymous caller.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{HandlerError, Principal, Router};
    /// use serde_json::json;
    ///
    /// async fn anonymous(me: Principal) -> Result<bool, HandlerError> {
    ///     Ok(me.is_anonymous())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::new(Router::builder().handler(1, anonymous).build()?);
    /// assert_eq!(client.call(1, json!({})).await.expect_ok(), true);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    pub fn new(router: Router) -> Self {
        Self {
            router,
            session: Session::anonymous(),
        }
    }

    /// A router with one public handler on `pkg_id`.
    ///
    /// # Panics
    ///
    /// If the router does not build (the handler needs state, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{Data, HandlerError};
    /// use serde_json::json;
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Title { title: String }
    ///
    /// async fn shout(Data(input): Data<Title>) -> Result<String, HandlerError> {
    ///     Ok(input.title.to_uppercase())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, shout);
    /// assert_eq!(client.call(1, json!({"title": "dune"})).await.expect_ok(), "DUNE");
    /// # });
    /// ```
    #[track_caller]
    pub fn with_handler<H, Args>(pkg_id: impl IntoPkgId, handler: H) -> Self
    where
        H: Handler<Args>,
        Args: 'static,
    {
        match Router::builder().handler(pkg_id, handler).build() {
            Ok(router) => Self::new(router),
            Err(err) => panic!("test router does not build: {err}"),
        }
    }

    /// A router with the [`#[pkg_handler]`](crate::pkg_handler) registered for `pkg_id` (its
    /// roles, schema and timeout as declared) and no other, called as the anonymous caller: the
    /// test of one handler, as `new-handler` ([`cli`](crate::cli)) generates it.
    ///
    /// # Panics
    ///
    /// If no handler is registered for `pkg_id`, or the router does not build (the handler
    /// needs state: build the router yourself with
    /// [`RouterBuilder::registered`](crate::router::RouterBuilder::registered) and `.state(..)`).
    ///
    /// # Examples
    ///
    /// ```standalone_crate
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{pkg_handler, HandlerError};
    /// use serde_json::json;
    ///
    /// #[pkg_handler(id = 9, roles = ["admin"])]
    /// async fn purge() -> Result<&'static str, HandlerError> { Ok("purged") }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::registered(9);
    /// client.call(9, json!({})).await.expect_error("permission_denied");
    /// assert_eq!(client.with_roles(["admin"]).call(9, json!({})).await.expect_ok(), "purged");
    /// # });
    /// ```
    #[track_caller]
    pub fn registered(pkg_id: impl IntoPkgId) -> Self {
        let pkg_id = pkg_id.into_pkg_id();
        match Router::builder().registered(pkg_id).build() {
            Ok(router) => Self::new(router),
            Err(err) => panic!("test router for pkg_id {pkg_id} does not build: {err}"),
        }
    }

    /// The same router, called as `principal`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{HandlerError, Principal};
    /// use serde_json::json;
    ///
    /// async fn whoami(me: Principal) -> Result<String, HandlerError> {
    ///     Ok(format!("{} ({})", me.name, me.id))
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, whoami);
    /// let ann = client.as_principal(Principal::new("u-1", "ann"));
    /// assert_eq!(ann.call(1, json!({})).await.expect_ok(), "ann (u-1)");
    /// assert_eq!(client.call(1, json!({})).await.expect_ok(), "anonymous ()"); // unchanged
    /// # });
    /// ```
    #[must_use]
    pub fn as_principal(&self, principal: Principal) -> Self {
        Self {
            router: self.router.clone(),
            session: Session::new(principal),
        }
    }

    /// The same router, called as a test principal holding `roles` (see [`principal`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{HandlerError, Route, Router};
    /// use serde_json::json;
    ///
    /// async fn ok() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().route(Route::new(1, ok).roles(["a", "b"])).build()?;
    /// let client = TestRouter::new(router);
    /// client.with_roles(["a"]).call(1, json!({})).await.expect_error("permission_denied");
    /// client.with_roles(["a", "b"]).call(1, json!({})).await.expect_ok();
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_roles<I, S>(&self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.as_principal(principal(roles))
    }

    /// The router, for what the helpers do not cover (its route table, raw frames with a
    /// custom session).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::HandlerError;
    ///
    /// async fn ok() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// let client = TestRouter::with_handler(1, ok);
    /// assert!(client.router().has_handler(1));
    /// assert!(!client.router().has_handler(2));
    /// ```
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Sends `data` to `pkg_id`.
    ///
    /// # Panics
    ///
    /// If `data` is neither an object nor `null`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::{HandlerError, RequestModel};
    /// use serde_json::json;
    ///
    /// async fn echo(req: RequestModel) -> Result<serde_json::Value, HandlerError> {
    ///     Ok(json!(req.data))
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, echo);
    /// let response = client.call(1, json!({"x": 1})).await;
    /// assert_eq!((response.pkg_id, response.data), (1, json!({"x": 1})));
    /// assert_eq!(client.call(1, json!(null)).await.data, json!({}));
    /// # });
    /// ```
    pub async fn call(&self, pkg_id: impl IntoPkgId, data: Value) -> ResponseModel {
        self.send(request(pkg_id, data)).await
    }

    /// Sends a request: use it when the test needs the `req_id` it sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{self, TestRouter};
    /// use pkg_router::HandlerError;
    /// use serde_json::json;
    ///
    /// async fn ok() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, ok);
    /// let request = testing::request(1, json!({}));
    /// let req_id = request.req_id;
    /// assert_eq!(client.send(request).await.req_id, req_id); // echoed
    /// # });
    /// ```
    pub async fn send(&self, request: RequestModel) -> ResponseModel {
        self.router.dispatch(&self.session, request).await
    }

    /// Sends a raw frame, as a client would, and decodes the answer.
    ///
    /// # Panics
    ///
    /// If the router's answer is not a valid response (a bug in pkg-router).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::HandlerError;
    ///
    /// async fn ok() -> Result<&'static str, HandlerError> {
    ///     Ok("ok")
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, ok);
    /// let frame = r#"{"pkg_id": 1, "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#;
    /// assert_eq!(client.send_frame(frame).await.expect_ok(), "ok");
    ///
    /// // What a client sending a string id gets back.
    /// let frame = r#"{"pkg_id": "1", "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#;
    /// let answer = client.send_frame(frame).await;
    /// assert_eq!(answer.req_id.to_string(), "550e8400-e29b-41d4-a716-446655440000");
    /// assert_eq!(answer.expect_error("invalid_envelope").details.unwrap()["field"], "pkg_id");
    /// # });
    /// ```
    pub async fn send_frame(&self, frame: &str) -> ResponseModel {
        let text = self.router.handle_json(&self.session, frame).await;
        match serde_json::from_str(&text) {
            Ok(response) => response,
            Err(err) => panic!("router answered with an invalid response ({err}): {text}"),
        }
    }
}

/// Assertions on responses: each panics with the response's status and `data` when it does
/// not match, which is what a failing test should print.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::ResponseExt;
/// use pkg_router::{HandlerError, ResponseModel};
/// use serde_json::json;
/// use uuid::Uuid;
///
/// let ok = ResponseModel::success(1, Uuid::nil(), json!({"id": 7}));
/// assert_eq!(ok.expect_ok()["id"], 7);
///
/// let err = HandlerError::not_found("gone").to_response(1, Uuid::nil());
/// assert_eq!(err.expect_error("not_found").msg, "gone");
/// ```
pub trait ResponseExt {
    /// The `data` of a successful response.
    ///
    /// # Panics
    ///
    /// If the status is not `OK`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::ResponseExt;
    /// use pkg_router::{HandlerError, ResponseModel};
    /// use serde_json::json;
    /// use uuid::Uuid;
    ///
    /// let ok = ResponseModel::success(1, Uuid::nil(), json!(["a", "b"]));
    /// assert_eq!(ok.expect_ok(), &json!(["a", "b"]));
    ///
    /// let err = HandlerError::not_found("gone").to_response(1, Uuid::nil());
    /// assert!(std::panic::catch_unwind(|| err.expect_ok().clone()).is_err());
    /// ```
    fn expect_ok(&self) -> &Value;

    /// The error body, checking its `code`.
    ///
    /// # Panics
    ///
    /// If the response is not an error with that code.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::ResponseExt;
    /// use pkg_router::HandlerError;
    /// use uuid::Uuid;
    ///
    /// let err = HandlerError::invalid_field("/title", "must not be empty").to_response(1, Uuid::nil());
    /// let body = err.expect_error("validation_error");
    /// assert_eq!(body.details.unwrap()[0]["message"], "must not be empty");
    ///
    /// // Another code is a failed assertion.
    /// assert!(std::panic::catch_unwind(|| err.expect_error("not_found")).is_err());
    /// ```
    fn expect_error(&self, code: &str) -> ErrorBody;
}

impl ResponseExt for ResponseModel {
    #[track_caller]
    fn expect_ok(&self) -> &Value {
        assert!(
            self.is_ok(),
            "expected status OK, got {} with data {}",
            self.status_code,
            self.data
        );
        &self.data
    }

    #[track_caller]
    fn expect_error(&self, code: &str) -> ErrorBody {
        match self.error_body() {
            Some(body) if body.code == code => body,
            _ => panic!(
                "expected error `{code}`, got {} with data {}",
                self.status_code, self.data
            ),
        }
    }
}
