use crate::principal::Principal;
use crate::router::Shared;
use crate::state::Extensions;
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

/// Everything extractors can read about one request.
///
/// The router builds it after the envelope, role and schema checks have passed.
///
/// It borrows the connection's session and the router's shared state: extractors clone only
/// what they keep.
#[derive(Debug)]
pub struct RequestContext<'a> {
    pub(crate) pkg_id: u32,
    pub(crate) req_id: Uuid,
    /// Always a `Value::Object`.
    pub(crate) data: Value,
    pub(crate) principal: &'a Arc<Principal>,
    pub(crate) shared: &'a Shared,
    pub(crate) extensions: &'a Extensions,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl RequestContext<'_> {
    /// The request's `pkg_id`.
    pub fn pkg_id(&self) -> u32 {
        self.pkg_id
    }

    /// The request's `req_id`.
    pub fn req_id(&self) -> Uuid {
        self.req_id
    }

    /// The request's `data` (validated against the handler's schema, if it has one).
    pub fn data(&self) -> &Map<String, Value> {
        self.data.as_object().unwrap_or(&EMPTY)
    }

    /// The caller.
    pub fn principal(&self) -> &Arc<Principal> {
        self.principal
    }

    /// Application state of type `T` registered with
    /// [`RouterBuilder::state`](crate::RouterBuilder::state).
    pub fn state<T: 'static>(&self) -> Option<&T> {
        self.shared.state.get::<T>()
    }

    /// The connection's extensions.
    pub fn extensions(&self) -> &Extensions {
        self.extensions
    }

    /// The largest `per_page` this router accepts.
    pub fn max_per_page(&self) -> u32 {
        self.shared.max_per_page
    }

    pub(crate) fn take_data(self) -> Map<String, Value> {
        match self.data {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}
