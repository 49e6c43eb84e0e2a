use super::{FromRequest, RequestContext};
use crate::error::HandlerError;
use uuid::Uuid;

/// The request's `pkg_id` and `req_id`, for handlers that serve several ids or log them.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::{self, TestRouter};
/// use pkg_router::{HandlerError, RequestIds, Route, Router};
/// use serde_json::json;
///
/// async fn which(ids: RequestIds) -> Result<serde_json::Value, HandlerError> {
///     Ok(json!({"pkg_id": ids.pkg_id, "req_id": ids.req_id}))
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let router = Router::builder().route(Route::new(20, which).also(21)).build()?;
/// let client = TestRouter::new(router);
///
/// let request = testing::request(21, json!({}));
/// let req_id = request.req_id;
/// let response = client.send(request).await;
/// assert_eq!(response.data, json!({"pkg_id": 21, "req_id": req_id}));
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestIds {
    /// The request's `pkg_id`.
    pub pkg_id: u32,
    /// The request's `req_id`.
    pub req_id: Uuid,
}

impl FromRequest for RequestIds {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        Ok(Self {
            pkg_id: ctx.pkg_id,
            req_id: ctx.req_id,
        })
    }
}
