use super::{FromRequest, HandlerNeeds, RequestContext};
use crate::envelope::RequestModel;
use crate::error::HandlerError;
use crate::pagination::PageParams;
use crate::principal::Principal;
use std::sync::Arc;

impl FromRequest for Principal {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        Ok(Principal::clone(ctx.principal))
    }
}

impl FromRequest for Arc<Principal> {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        Ok(Arc::clone(ctx.principal))
    }
}

impl FromRequest for RequestModel {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        Ok(RequestModel {
            pkg_id: ctx.pkg_id,
            req_id: ctx.req_id,
            data: ctx.data().clone(),
        })
    }

    fn from_request_owned(ctx: RequestContext<'_>) -> Result<Self, HandlerError> {
        Ok(RequestModel {
            pkg_id: ctx.pkg_id,
            req_id: ctx.req_id,
            data: ctx.take_data(),
        })
    }
}

impl FromRequest for PageParams {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        PageParams::from_data(ctx.data(), ctx.max_per_page())
    }

    /// `page`, `per_page`, `cursor` and `filters` join the handler's schema.
    fn declare(needs: &mut HandlerNeeds) {
        needs.data_fields::<PageParams>();
        needs.paging = true;
    }
}
