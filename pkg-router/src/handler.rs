//! What makes an `async fn` a handler: the [`Handler`] trait (its arguments are
//! [extractors](crate::extract)), [`IntoResponse`] for what it returns, and [`Reply`], the
//! answer written once into the response frame.

pub use crate::into_response::IntoResponse;
pub use crate::reply::Reply;

use crate::extract::{FromRequest, HandlerNeeds, RequestContext};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed reply future: what [`Handler::call`] returns, so handlers of different types can be
/// stored and run alike.
///
/// # Examples
///
/// ```
/// use pkg_router::ResponseModel;
/// use pkg_router::handler::{BoxFuture, Reply};
/// use uuid::Uuid;
///
/// let future: BoxFuture =
///     Box::pin(async { Reply::from(ResponseModel::success(1, Uuid::nil(), "done")) });
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let reply = rt.block_on(future);
/// assert_eq!(reply.into_model().data, "done");
/// ```
pub type BoxFuture = Pin<Box<dyn Future<Output = Reply> + Send + 'static>>;

/// An async function usable as a handler.
///
/// Implemented for every `Fn(A1, .., An) -> impl Future<Output = R>` (up to 12 arguments)
/// where each `Ai: FromRequest`, `R: IntoResponse`, and the future is `Send + 'static`. You never
/// implement it yourself; it is what [`RouterBuilder::handler`](crate::router::RouterBuilder::handler)
/// and `#[pkg_handler]` accept.
///
/// Name it as a bound to write your own registration helpers.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::{ResponseExt, TestRouter};
/// use pkg_router::{HandlerError, RequestIds, Route, Router};
/// use pkg_router::handler::Handler;
/// use serde_json::json;
///
/// /// Every admin route of the application: any handler, `admin` role required.
/// fn admin<H: Handler<Args>, Args: 'static>(pkg_id: u32, handler: H) -> Route {
///     Route::new(pkg_id, handler).roles(["admin"])
/// }
///
/// async fn purge() -> Result<&'static str, HandlerError> {
///     Ok("purged")
/// }
///
/// async fn which(ids: RequestIds) -> Result<u32, HandlerError> {
///     Ok(ids.pkg_id)
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let router = Router::builder().route(admin(50, purge)).route(admin(51, which)).build()?;
/// let client = TestRouter::new(router);
/// client.call(50, json!({})).await.expect_error("permission_denied");
/// let admin_client = client.with_roles(["admin"]);
/// assert_eq!(admin_client.call(50, json!({})).await.expect_ok(), "purged");
/// assert_eq!(admin_client.call(51, json!({})).await.expect_ok(), 51);
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a pkg-router handler",
    label = "not a handler",
    note = "a handler is an `async fn` whose arguments implement `FromRequest` and whose return type implements `IntoResponse`; its future must be `Send`",
    note = "a `Data<T>` argument needs `T: serde::Deserialize + schemars::JsonSchema`; take `Data<NoSchema<T>>` for a `T` without a schema"
)]
pub trait Handler<Args>: Clone + Send + Sync + Sized + 'static {
    /// Extracts the arguments and runs the handler.
    ///
    /// The router calls it after its checks, with a [`RequestContext`] only the router can
    /// build; an argument that fails to extract answers the request in place of the handler.
    ///
    /// # Examples
    ///
    /// What `call` does, seen through a router:
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::{Data, HandlerError, RspCode};
    /// use serde_json::json;
    ///
    /// async fn double(Data(n): Data<i64>) -> Result<i64, HandlerError> {
    ///     Ok(n * 2)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, double);
    /// // `data` is always an object, so `Data<i64>` cannot extract: the handler never runs.
    /// let response = client.call(1, json!({"n": 2})).await;
    /// assert_eq!(response.status_code, RspCode::InvalidData);
    /// # });
    /// ```
    fn call(&self, ctx: RequestContext<'_>) -> BoxFuture;

    /// Declares what the arguments need from the router: every argument's
    /// [`FromRequest::declare`], in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, State};
    /// use pkg_router::extract::HandlerNeeds;
    /// use pkg_router::handler::Handler;
    ///
    /// #[derive(Clone)]
    /// struct Config;
    ///
    /// async fn show(State(_config): State<Config>) -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// fn needs_of<H: Handler<Args>, Args>(_handler: &H) -> HandlerNeeds {
    ///     let mut needs = HandlerNeeds::default();
    ///     H::declare(&mut needs);
    ///     needs
    /// }
    ///
    /// assert!(format!("{:?}", needs_of(&show)).contains("Config"));
    /// ```
    fn declare(needs: &mut HandlerNeeds);
}

impl<F, Fut, R> Handler<()> for F
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    fn call(&self, ctx: RequestContext<'_>) -> BoxFuture {
        let (pkg_id, req_id) = (ctx.pkg_id, ctx.req_id);
        let future = self();
        Box::pin(async move { future.await.into_reply(pkg_id, req_id) })
    }

    fn declare(_needs: &mut HandlerNeeds) {}
}

macro_rules! impl_handler {
    ($($head:ident),*; $last:ident) => {
        #[allow(non_snake_case)]
        impl<F, Fut, R, $($head,)* $last> Handler<($($head,)* $last,)> for F
        where
            F: Fn($($head,)* $last) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoResponse,
            $($head: FromRequest,)*
            $last: FromRequest,
        {
            fn call(&self, ctx: RequestContext<'_>) -> BoxFuture {
                let (pkg_id, req_id) = (ctx.pkg_id, ctx.req_id);
                $(
                    let $head = match $head::from_request(&ctx) {
                        Ok(value) => value,
                        Err(err) => return ready(err.into_reply(pkg_id, req_id)),
                    };
                )*
                let $last = match $last::from_request_owned(ctx) {
                    Ok(value) => value,
                    Err(err) => return ready(err.into_reply(pkg_id, req_id)),
                };
                let future = self($($head,)* $last);
                Box::pin(async move { future.await.into_reply(pkg_id, req_id) })
            }

            fn declare(needs: &mut HandlerNeeds) {
                $($head::declare(needs);)*
                $last::declare(needs);
            }
        }
    };
}

impl_handler!(; A1);
impl_handler!(A1; A2);
impl_handler!(A1, A2; A3);
impl_handler!(A1, A2, A3; A4);
impl_handler!(A1, A2, A3, A4; A5);
impl_handler!(A1, A2, A3, A4, A5; A6);
impl_handler!(A1, A2, A3, A4, A5, A6; A7);
impl_handler!(A1, A2, A3, A4, A5, A6, A7; A8);
impl_handler!(A1, A2, A3, A4, A5, A6, A7, A8; A9);
impl_handler!(A1, A2, A3, A4, A5, A6, A7, A8, A9; A10);
impl_handler!(A1, A2, A3, A4, A5, A6, A7, A8, A9, A10; A11);
impl_handler!(A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11; A12);

fn ready(reply: Reply) -> BoxFuture {
    Box::pin(std::future::ready(reply))
}

/// A handler with its argument types erased, as the router stores it.
#[derive(Clone)]
#[doc(hidden)] // for the code `#[pkg_handler]` generates; not public API
pub struct BoxedHandler {
    inner: Arc<dyn ErasedHandler>,
    needs: Arc<HandlerNeeds>,
}

impl BoxedHandler {
    /// Erases a handler's type.
    pub fn new<H: Handler<Args>, Args: 'static>(handler: H) -> Self {
        let mut needs = HandlerNeeds::default();
        H::declare(&mut needs);
        Self {
            inner: Arc::new(Erased {
                handler,
                _args: PhantomData,
            }),
            needs: Arc::new(needs),
        }
    }

    pub(crate) fn call(&self, ctx: RequestContext<'_>) -> BoxFuture {
        self.inner.call(ctx)
    }

    pub(crate) fn needs(&self) -> &HandlerNeeds {
        &self.needs
    }
}

impl fmt::Debug for BoxedHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxedHandler")
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}

trait ErasedHandler: Send + Sync {
    fn call(&self, ctx: RequestContext<'_>) -> BoxFuture;
}

struct Erased<H, Args> {
    handler: H,
    _args: PhantomData<fn() -> Args>,
}

impl<H: Handler<Args>, Args: 'static> ErasedHandler for Erased<H, Args> {
    fn call(&self, ctx: RequestContext<'_>) -> BoxFuture {
        self.handler.call(ctx)
    }
}
