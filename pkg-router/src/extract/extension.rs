use super::{FromRequest, RequestContext};
use crate::error::HandlerError;

/// A per-connection value the transport attached through [`Extensions`](crate::router::Extensions)
/// (the connection's id, a handle to its outbound queue, ...).
///
/// Missing extensions are a server bug, reported to the client as `internal_error`.
///
/// Use it for values that differ per connection; application-wide values belong in
/// [`State<T>`](crate::State), which the router checks when it is built.
///
/// # Examples
///
/// ```
/// use pkg_router::{Extension, HandlerError, Principal, RequestModel, Router, RspCode};
/// use pkg_router::router::{Extensions, Session};
/// use serde_json::Map;
///
/// /// Which client application opened the connection, from the upgrade request.
/// #[derive(Clone)]
/// struct ClientApp(String);
///
/// async fn app_name(Extension(app): Extension<ClientApp>) -> Result<String, HandlerError> {
///     Ok(app.0)
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let router = Router::builder().handler(1, app_name).build()?;
///
/// // A transport attaches the value to the connection's session.
/// let session = Session::new(Principal::new("u1", "ann"))
///     .with_extensions(Extensions::new().with(ClientApp("books-web".into())));
/// let response = router.dispatch(&session, RequestModel::new(1, Map::new())).await;
/// assert_eq!(response.data, "books-web");
///
/// // Not attached: a server bug, answered with `internal_error`.
/// let response = router.dispatch(&Session::anonymous(), RequestModel::new(1, Map::new())).await;
/// assert_eq!(response.status_code, RspCode::Error);
/// assert_eq!(response.error_body().unwrap().code, "internal_error");
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct Extension<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromRequest for Extension<T> {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        ctx.extensions()
            .get::<T>()
            .cloned()
            .map(Extension)
            .ok_or_else(|| {
                HandlerError::internal(format!(
                    "extension `{}` is not set on this connection",
                    std::any::type_name::<T>()
                ))
            })
    }
}
