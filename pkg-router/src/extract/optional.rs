//! `Option<T>` arguments: the [`OptionalFromRequest`] trait and the built-in extractors that may
//! be absent.

use super::{Extension, FromRequest, HandlerNeeds, RequestContext, State};
use crate::error::HandlerError;
use crate::hub::{ConnectionInfo, Hub};
use crate::principal::Principal;
use std::sync::Arc;

/// An extractor that may be absent: implementing it makes `Option<Self>` a handler argument.
///
/// `Option<T>` is `None` when the value is *absent* and still answers the request with the
/// error when the value is there but *wrong*: absent and invalid are different things, so
/// `Option<T>` does not swallow every failure of `T` (the design of axum 0.8's
/// `OptionalFromRequestParts`).
///
/// | argument | `None` when |
/// |---|---|
/// | `Option<Principal>` / `Option<Arc<Principal>>` | the caller is anonymous |
/// | `Option<ConnectionInfo>` | there is no connection (in-process dispatch, tests) |
/// | `Option<Hub>` | the router has no hub ([`RouterBuilder::hub`](crate::router::RouterBuilder::hub)) |
/// | `Option<Extension<T>>` | the transport attached no `T` to the connection |
/// | `Option<State<T>>` | the router has no state of type `T` (and builds without it) |
///
/// # Examples
///
/// An optional field that must be well-formed when present:
///
/// ```
/// use pkg_router::testing::{ResponseExt, TestRouter};
/// use pkg_router::HandlerError;
/// use pkg_router::extract::{OptionalFromRequest, RequestContext};
/// use serde_json::{json, Value};
///
/// /// A `coupon` code: absent is fine, malformed is not.
/// struct Coupon(String);
///
/// impl OptionalFromRequest for Coupon {
///     fn from_request_optional(ctx: &RequestContext<'_>) -> Result<Option<Self>, HandlerError> {
///         match ctx.data().get("coupon") {
///             None | Some(Value::Null) => Ok(None),
///             Some(Value::String(code)) if code.len() == 8 => Ok(Some(Coupon(code.clone()))),
///             Some(_) => Err(HandlerError::invalid_field("/coupon", "must be 8 characters")),
///         }
///     }
/// }
///
/// async fn price(coupon: Option<Coupon>) -> Result<u32, HandlerError> {
///     Ok(if coupon.is_some() { 80 } else { 100 })
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let client = TestRouter::with_handler(1, price);
/// assert_eq!(client.call(1, json!({})).await.expect_ok(), 100);
/// assert_eq!(client.call(1, json!({"coupon": "SUMMER25"})).await.expect_ok(), 80);
/// client.call(1, json!({"coupon": "?"})).await.expect_error("validation_error");
/// # });
/// ```
///
/// The built-in ones, in a handler that also runs in-process:
///
/// ```
/// use pkg_router::testing::{ResponseExt, TestRouter};
/// use pkg_router::{ConnectionInfo, HandlerError, Principal};
/// use serde_json::json;
///
/// async fn whoami(caller: Option<Principal>, conn: Option<ConnectionInfo>) -> Result<String, HandlerError> {
///     let who = caller.map_or("anonymous".to_owned(), |p| p.name);
///     let via = conn.map_or("in-process".to_owned(), |c| c.id.to_string());
///     Ok(format!("{who} via {via}"))
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let client = TestRouter::with_handler(1, whoami);
/// assert_eq!(client.call(1, json!({})).await.expect_ok(), "anonymous via in-process");
/// let ann = client.as_principal(Principal::new("u-1", "ann"));
/// assert_eq!(ann.call(1, json!({})).await.expect_ok(), "ann via in-process");
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`Option<{Self}>` cannot be a pkg-router handler argument",
    label = "`{Self}` cannot be optional",
    note = "optional handler arguments: `Option<Principal>`, `Option<Arc<Principal>>`, `Option<ConnectionInfo>`, `Option<Hub>`, `Option<Extension<T>>`, `Option<State<T>>`, or `Option<T>` for a type that implements `OptionalFromRequest`"
)]
pub trait OptionalFromRequest: Sized + Send {
    /// Builds the argument, `Ok(None)` when it is absent.
    ///
    /// # Errors
    ///
    /// The error becomes the response, as for [`FromRequest::from_request`]: return one for
    /// a value that is present but unusable.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::HandlerError;
    /// use pkg_router::extract::{OptionalFromRequest, RequestContext};
    /// use serde_json::json;
    ///
    /// /// The caller's id, for signed-in callers.
    /// struct UserId(String);
    ///
    /// impl OptionalFromRequest for UserId {
    ///     fn from_request_optional(ctx: &RequestContext<'_>) -> Result<Option<Self>, HandlerError> {
    ///         let principal = ctx.principal();
    ///         Ok((!principal.is_anonymous()).then(|| UserId(principal.id.clone())))
    ///     }
    /// }
    ///
    /// async fn greeting(user: Option<UserId>) -> Result<String, HandlerError> {
    ///     Ok(user.map_or("hello stranger".into(), |UserId(id)| format!("hello {id}")))
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, greeting);
    /// assert_eq!(client.call(1, json!({})).await.expect_ok(), "hello stranger");
    /// let ann = client.as_principal(pkg_router::Principal::new("u-1", "ann"));
    /// assert_eq!(ann.call(1, json!({})).await.expect_ok(), "hello u-1");
    /// # });
    /// ```
    fn from_request_optional(ctx: &RequestContext<'_>) -> Result<Option<Self>, HandlerError>;

    /// Declares what the argument needs from the router, as [`FromRequest::declare`] does;
    /// the default declares nothing (an optional argument rarely *needs* anything).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, Router};
    /// use pkg_router::extract::{HandlerNeeds, OptionalFromRequest, RequestContext};
    ///
    /// /// The fields [`Tag`] reads.
    /// #[derive(schemars::JsonSchema)]
    /// struct TagField {
    ///     #[allow(dead_code)]
    ///     tag: Option<String>,
    /// }
    ///
    /// /// An optional `tag` field.
    /// struct Tag(String);
    ///
    /// impl OptionalFromRequest for Tag {
    ///     fn from_request_optional(ctx: &RequestContext<'_>) -> Result<Option<Self>, HandlerError> {
    ///         Ok(ctx.data().get("tag").and_then(|v| v.as_str()).map(|t| Tag(t.to_owned())))
    ///     }
    ///
    ///     fn declare_optional(needs: &mut HandlerNeeds) {
    ///         needs.data_fields::<TagField>(); // documented and validated
    ///     }
    /// }
    ///
    /// async fn tagged(tag: Option<Tag>) -> Result<bool, HandlerError> {
    ///     Ok(tag.is_some())
    /// }
    ///
    /// let router = Router::builder().handler(1, tagged).build()?;
    /// assert!(router.schema(1).unwrap()["properties"]["tag"].is_object());
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    fn declare_optional(needs: &mut HandlerNeeds) {
        let _ = needs;
    }
}

#[diagnostic::do_not_recommend]
impl<T: OptionalFromRequest> FromRequest for Option<T> {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        T::from_request_optional(ctx)
    }

    fn declare(needs: &mut HandlerNeeds) {
        T::declare_optional(needs);
    }
}

/// `None` for an anonymous caller.
impl OptionalFromRequest for Principal {
    fn from_request_optional(ctx: &RequestContext<'_>) -> Result<Option<Self>, HandlerError> {
        let principal = ctx.principal();
        Ok((!principal.is_anonymous()).then(|| Principal::clone(principal)))
    }
}

/// `None` for an anonymous caller.
impl OptionalFromRequest for Arc<Principal> {
    fn from_request_optional(ctx: &RequestContext<'_>) -> Result<Option<Self>, HandlerError> {
        let principal = ctx.principal();
        Ok((!principal.is_anonymous()).then(|| Arc::clone(principal)))
    }
}

/// `None` when the request did not come through a transport (in-process dispatch, tests).
impl OptionalFromRequest for ConnectionInfo {
    fn from_request_optional(ctx: &RequestContext<'_>) -> Result<Option<Self>, HandlerError> {
        Ok(ctx.extensions().get::<ConnectionInfo>().copied())
    }
}

/// `None` when the router has no hub ([`RouterBuilder::hub`](crate::router::RouterBuilder::hub));
/// unlike `Hub`, the router builds without one.
impl OptionalFromRequest for Hub {
    fn from_request_optional(ctx: &RequestContext<'_>) -> Result<Option<Self>, HandlerError> {
        Ok(ctx.state::<Hub>().cloned())
    }
}

/// `None` when the transport attached no `T` to the connection.
impl<T: Clone + Send + Sync + 'static> OptionalFromRequest for Extension<T> {
    fn from_request_optional(ctx: &RequestContext<'_>) -> Result<Option<Self>, HandlerError> {
        Ok(ctx.extensions().get::<T>().cloned().map(Extension))
    }
}

/// `None` when the router has no state of type `T`; unlike `State<T>`, the router builds
/// without it.
impl<T: Clone + Send + Sync + 'static> OptionalFromRequest for State<T> {
    fn from_request_optional(ctx: &RequestContext<'_>) -> Result<Option<Self>, HandlerError> {
        Ok(ctx.state::<T>().cloned().map(State))
    }
}
