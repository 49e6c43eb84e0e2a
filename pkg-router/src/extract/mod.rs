//! Handler arguments: the [`FromRequest`] trait and the extractors that implement it.

mod builtin;
mod context;
mod data;
mod extension;
mod ids;
mod state;

pub use context::RequestContext;
pub use data::Data;
pub use extension::Extension;
pub use ids::RequestIds;
pub use state::State;

use crate::error::HandlerError;
use std::any::TypeId;

/// A value a handler can take as an argument, built from the request before the handler runs.
///
/// Every argument of a handler is extracted in order; the last one gets the request by value
/// ([`from_request_owned`](Self::from_request_owned)), so `RequestModel` and `Data<T>` move the
/// payload instead of copying it. If extraction fails, the handler does not run and the error
/// is the response.
///
/// # Examples
///
/// A custom extractor:
///
/// ```
/// use pkg_router::{FromRequest, HandlerError, RequestContext};
///
/// /// The caller's user id; refuses anonymous callers.
/// struct UserId(String);
///
/// impl FromRequest for UserId {
///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
///         if ctx.principal().is_anonymous() {
///             return Err(HandlerError::permission_denied("log in first"));
///         }
///         Ok(UserId(ctx.principal().id.clone()))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a pkg-router handler argument",
    label = "not an extractor",
    note = "valid handler arguments: `RequestModel`, `Data<T>`, `State<T>`, `Principal`, `Arc<Principal>`, `RequestIds`, `PageParams`, `Extension<T>`, or a type that implements `FromRequest`"
)]
pub trait FromRequest: Sized + Send {
    /// Builds the argument from a borrowed request.
    ///
    /// # Errors
    ///
    /// The error becomes the response (e.g. a validation error for unreadable `data`).
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError>;

    /// Builds the argument from the request by value; called for the last argument.
    ///
    /// # Errors
    ///
    /// As for [`from_request`](Self::from_request).
    fn from_request_owned(ctx: RequestContext<'_>) -> Result<Self, HandlerError> {
        Self::from_request(&ctx)
    }

    /// Declares what the extractor needs from the router, checked when the router is built.
    fn declare(needs: &mut HandlerNeeds) {
        let _ = needs;
    }
}

/// What a handler's arguments need from the router, gathered through [`FromRequest::declare`]
/// and checked by [`RouterBuilder::build`](crate::RouterBuilder::build).
#[derive(Clone, Debug, Default)]
pub struct HandlerNeeds {
    pub(crate) state: Vec<(TypeId, &'static str)>,
}

impl HandlerNeeds {
    /// Declares that the handler reads state of type `T` (see [`State`]).
    pub fn state<T: 'static>(&mut self) {
        self.state
            .push((TypeId::of::<T>(), std::any::type_name::<T>()));
    }
}
