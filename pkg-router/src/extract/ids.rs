use super::{FromRequest, RequestContext};
use crate::error::HandlerError;
use uuid::Uuid;

/// The request's `pkg_id` and `req_id`, for handlers that serve several ids or log them.
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
