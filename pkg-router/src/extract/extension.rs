use super::{FromRequest, RequestContext};
use crate::error::HandlerError;

/// A per-connection value the transport attached through [`Extensions`](crate::Extensions)
/// (the connection's id, a handle to its outbound queue, ...).
///
/// Missing extensions are a server bug, reported to the client as `internal_error`.
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
