#![doc = include_str!("../docs/crate.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod envelope;
mod error;
mod extract;
pub mod from_python;
mod handler;
pub mod hub;
mod into_response;
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub mod jwt;
mod pagination;
mod pkg_id;
mod principal;
pub mod protocol;
#[cfg(any(test, doctest))]
mod readme;
mod registry;
mod reply;
mod router;
mod schema;
mod state;
mod status;
pub mod testing;
#[cfg(feature = "transport")]
#[cfg_attr(docsrs, doc(cfg(feature = "transport")))]
pub mod transport;

pub use envelope::{
    BroadcastModel, EnvelopeError, EnvelopeProblem, ErrorBody, RequestModel, ResponseModel,
};
pub use error::{HandlerError, Violation};
pub use extract::{
    Data, DataPayload, Extension, FromRequest, HandlerNeeds, NoSchema, OptionalFromRequest,
    RequestContext, RequestIds, State,
};
pub use handler::{BoxFuture, Handler};
pub use hub::{CloseReason, ConnectionId, ConnectionInfo, Hub, MAX_REASON_BYTES, Push, close_code};
pub use into_response::IntoResponse;
pub use pagination::{DEFAULT_MAX_PER_PAGE, DEFAULT_PER_PAGE, PageMeta, PageParams, Paginated};
pub use pkg_id::{IntoPkgId, MAX_PKG_ID};
pub use principal::Principal;
pub use reply::Reply;
pub use router::{
    BuildError, Call, DispatchHook, HandlerSource, Outcome, Route, RouteInfo, RouteTable, Router,
    RouterBuilder, Session,
};
pub use schema::{MAX_VIOLATIONS, schema_of};
pub use state::Extensions;
pub use status::{RspCode, error_code};

// The crates whose types appear in this API, so users get matching versions.
pub use schemars;
pub use serde_json;
pub use uuid;

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use pkg_router_macros::pkg_handler;

/// Re-exports for the code `#[pkg_handler]` and `pkg_ids!` generate. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::handler::BoxedHandler;
    pub use crate::registry::{DeclaredPkgIds, HandlerRegistration};
    pub use inventory;
    pub use serde_json::Value;
}
