//! Helpers for testing handlers in-process: the Rust counterpart of the Python design's
//! `create_request_model_fixture`.
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
//!     .route(Route::new(3, create_book).roles(["create-book"]).schema::<CreateBook>())
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

use crate::IntoPkgId;
use crate::envelope::{ErrorBody, RequestModel, ResponseModel};
use crate::handler::Handler;
use crate::principal::Principal;
use crate::router::{Router, Session};
use serde_json::{Map, Value};

/// A request for `pkg_id` with `data` and a fresh `req_id`.
///
/// # Panics
///
/// If `data` is neither an object nor `null`.
pub fn request(pkg_id: impl IntoPkgId, data: Value) -> RequestModel {
    RequestModel::new(pkg_id, object(data))
}

/// An authenticated test principal (`id` `"test-user"`) holding `roles`.
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
#[derive(Clone, Debug)]
pub struct TestRouter {
    router: Router,
    session: Session,
}

impl TestRouter {
    /// Calls `router` as the anonymous caller.
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

    /// The same router, called as `principal`.
    #[must_use]
    pub fn as_principal(&self, principal: Principal) -> Self {
        Self {
            router: self.router.clone(),
            session: Session::new(principal),
        }
    }

    /// The same router, called as a test principal holding `roles`.
    #[must_use]
    pub fn with_roles<I, S>(&self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.as_principal(principal(roles))
    }

    /// The router.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Sends `data` to `pkg_id`.
    ///
    /// # Panics
    ///
    /// If `data` is neither an object nor `null`.
    pub async fn call(&self, pkg_id: impl IntoPkgId, data: Value) -> ResponseModel {
        self.send(request(pkg_id, data)).await
    }

    /// Sends a request.
    pub async fn send(&self, request: RequestModel) -> ResponseModel {
        self.router.dispatch(&self.session, request).await
    }

    /// Sends a raw frame, as a client would, and decodes the answer.
    ///
    /// # Panics
    ///
    /// If the router's answer is not a valid response (a bug in pkg-router).
    pub async fn send_frame(&self, frame: &str) -> ResponseModel {
        let text = self.router.handle_json(&self.session, frame).await;
        match serde_json::from_str(&text) {
            Ok(response) => response,
            Err(err) => panic!("router answered with an invalid response ({err}): {text}"),
        }
    }
}

/// Assertions on responses.
pub trait ResponseExt {
    /// The `data` of a successful response.
    ///
    /// # Panics
    ///
    /// If the status is not `OK`.
    fn expect_ok(&self) -> &Value;

    /// The error body, checking its `code`.
    ///
    /// # Panics
    ///
    /// If the response is not an error with that code.
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
