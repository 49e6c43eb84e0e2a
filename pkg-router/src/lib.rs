#![doc = include_str!("../docs/crate.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adding_a_handler;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod browser;
#[cfg(feature = "cli")]
#[cfg_attr(docsrs, doc(cfg(feature = "cli")))]
pub mod cli;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
pub mod envelope;
mod error;
pub mod extract;
pub mod from_python;
pub mod handler;
pub mod hub;
mod into_response;
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub mod jwt;
pub mod pagination;
pub mod pkg_id;
mod principal;
#[cfg(feature = "protobuf")]
#[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
pub mod protobuf;
pub mod protocol;
#[cfg(any(test, doctest))]
mod readme;
mod registry;
mod reply;
pub mod router;
pub mod schema;
mod state;
pub mod status;
pub mod testing;
#[cfg(feature = "transport")]
#[cfg_attr(docsrs, doc(cfg(feature = "transport")))]
pub mod transport;

/// Checks around every request: [`DispatchHook`](hook::DispatchHook) sees each
/// [`Call`](hook::Call) before its handler runs (to refuse it) and its
/// [`Outcome`](hook::Outcome) after (for audit logs). Add one with
/// [`RouterBuilder::hook`](router::RouterBuilder::hook).
pub mod hook {
    pub use crate::router::hook::{Call, DispatchHook, Outcome};
}

// What a handler author writes; everything else lives in the modules above.
pub use envelope::{RequestModel, ResponseModel};
pub use error::{HandlerError, Violation};
pub use extract::{Data, Extension, NoSchema, RequestIds, State};
pub use hub::{ConnectionInfo, Hub};
pub use pagination::{PageMeta, PageParams, Paginated};
pub use principal::Principal;
pub use router::{BuildError, Route, Router};
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
