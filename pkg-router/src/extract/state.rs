use super::{FromRequest, HandlerNeeds, RequestContext};
use crate::error::HandlerError;

/// Application state registered with [`RouterBuilder::state`](crate::router::RouterBuilder::state).
///
/// The value is cloned for each request, so wrap large state in an `Arc` (a database pool
/// already is one). A handler that asks for state the router was not given makes
/// [`RouterBuilder::build`](crate::router::RouterBuilder::build) fail with
/// [`BuildError::MissingState`](crate::BuildError::MissingState), not a request.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::{ResponseExt, TestRouter};
/// use pkg_router::{BuildError, HandlerError, Router, State};
/// use serde_json::json;
/// use std::sync::Arc;
///
/// #[derive(Clone)]
/// struct Config { greeting: Arc<str> }
///
/// async fn hello(State(config): State<Config>) -> Result<String, HandlerError> {
///     Ok(config.greeting.to_string())
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let router = Router::builder()
///     .state(Config { greeting: "hi".into() })
///     .handler(1, hello)
///     .build()?;
/// let client = TestRouter::new(router);
/// assert_eq!(client.call(1, json!({})).await.expect_ok(), "hi");
///
/// // Forgetting the state is caught at startup.
/// let err = Router::builder().handler(1, hello).build().unwrap_err();
/// assert!(matches!(err, BuildError::MissingState { .. }));
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct State<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromRequest for State<T> {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        ctx.state::<T>().cloned().map(State).ok_or_else(|| {
            HandlerError::internal(format!(
                "state `{}` was not registered",
                std::any::type_name::<T>()
            ))
        })
    }

    fn declare(needs: &mut HandlerNeeds) {
        needs.state::<T>();
    }
}
