//! Link-time registration records: what `#[pkg_handler]` and `pkg_ids!` submit to `inventory`.
//!
//! Everything here is public only for the macros' expansions (`pkg_router::__private`); it is
//! not part of the API and may change in any release.

use crate::handler::BoxedHandler;
use serde_json::Value;
use std::time::Duration;

/// One `#[pkg_handler]`.
#[derive(Debug)]
pub struct HandlerRegistration {
    /// The ids the handler serves.
    pub ids: &'static [u32],
    /// For each id, the last segment of the path it was written as (`CREATE_BOOK`), or `""`.
    pub id_names: &'static [&'static str],
    /// Required roles (ALL-of).
    pub roles: &'static [&'static str],
    /// `roles = []` was written: public on purpose (`check` accepts it).
    pub public: bool,
    /// The push ids the handler declares it sends (`pushes = [..]`).
    pub pushes: &'static [u32],
    /// Produces the JSON schema of `data`, if the handler declared one.
    pub schema: Option<fn() -> Value>,
    /// How the schema was declared (`schema = CreateBook`), for error messages; `""` without.
    pub schema_source: &'static str,
    /// Produces the type-erased handler.
    pub make: fn() -> BoxedHandler,
    /// `module::path::fn_name`.
    pub path: &'static str,
    /// Source file of the attribute.
    pub file: &'static str,
    /// Source line of the attribute.
    pub line: u32,
    /// Per-handler timeout.
    pub timeout: Option<Duration>,
}

/// One `pkg_ids!` declaration.
#[derive(Debug)]
pub struct DeclaredPkgIds {
    /// The enum's name.
    pub set: &'static str,
    /// The module that declared it.
    pub module: &'static str,
    /// `(id, name, is_push)` triples.
    pub ids: &'static [(u32, &'static str, bool)],
}

inventory::collect!(HandlerRegistration);
inventory::collect!(DeclaredPkgIds);

pub(crate) fn handlers() -> impl Iterator<Item = &'static HandlerRegistration> {
    inventory::iter::<HandlerRegistration>.into_iter()
}

/// Every id declared with `pkg_ids!` in the binary: `(id, name, is_push)`.
pub(crate) fn declared_ids() -> impl Iterator<Item = (u32, &'static str, bool)> {
    inventory::iter::<DeclaredPkgIds>
        .into_iter()
        .flat_map(|set| set.ids.iter().copied())
}
