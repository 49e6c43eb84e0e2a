//! [`DispatchHook`]: code that runs around every dispatch (audit logs, custom checks).

use crate::error::HandlerError;
use crate::principal::Principal;
use crate::status::RspCode;
use serde_json::{Map, Value};
use std::time::Duration;
use uuid::Uuid;

/// One request, as a hook sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Call<'a> {
    /// The request's `pkg_id`.
    pub pkg_id: u32,
    /// The request's `req_id`.
    pub req_id: Uuid,
    /// The id's declared name, if any.
    pub name: Option<&'a str>,
    /// The caller.
    pub principal: &'a Principal,
    /// The request's `data`, once parsed (absent when the request was refused before that).
    pub data: Option<&'a Map<String, Value>>,
}

/// How a request ended.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Outcome {
    /// The response's status.
    pub status: RspCode,
    /// Time spent in the router for this request.
    pub elapsed: Duration,
}

/// Runs around every dispatch to a known `pkg_id`: add it with
/// [`RouterBuilder::hook`](crate::RouterBuilder::hook).
///
/// [`before`](Self::before) runs after the role and schema checks and may refuse the request;
/// [`after`](Self::after) sees every request that named a handler, refused or not, with its
/// outcome. Hooks run in the order they were added. A router without hooks pays nothing.
///
/// # Examples
///
/// An audit log that never writes secrets:
///
/// ```
/// use pkg_router::{Call, DispatchHook, Outcome};
/// use serde_json::Value;
///
/// struct Audit;
///
/// impl DispatchHook for Audit {
///     fn after(&self, call: &Call<'_>, outcome: &Outcome) {
///         let data = call
///             .data
///             .map_or(Value::Null, |data| redact(&Value::Object(data.clone())));
///         tracing::info!(
///             pkg_id = call.pkg_id,
///             req_id = %call.req_id,
///             user = %call.principal.name,
///             status = outcome.status.as_u8(),
///             data = %data,
///             "audit"
///         );
///     }
/// }
///
/// /// Replaces the value of every key that looks like a secret, at any depth.
/// fn redact(value: &Value) -> Value {
///     match value {
///         Value::Object(map) => Value::Object(
///             map.iter()
///                 .map(|(key, value)| {
///                     let secret = ["password", "token", "secret"].iter().any(|s| key.to_lowercase().contains(s));
///                     (key.clone(), if secret { Value::from("***") } else { redact(value) })
///                 })
///                 .collect(),
///         ),
///         Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
///         other => other.clone(),
///     }
/// }
///
/// let router = pkg_router::Router::builder().allow_empty().hook(Audit).build()?;
/// # let _ = router;
/// assert_eq!(
///     redact(&serde_json::json!({"user": "ann", "auth": {"api_token": "t0p"}})),
///     serde_json::json!({"user": "ann", "auth": {"api_token": "***"}})
/// );
/// # Ok::<(), pkg_router::BuildError>(())
/// ```
pub trait DispatchHook: Send + Sync + 'static {
    /// Runs before the handler, after the role and schema checks.
    ///
    /// # Errors
    ///
    /// An error refuses the request: it becomes the response and the handler does not run.
    fn before(&self, call: &Call<'_>) -> Result<(), HandlerError> {
        let _ = call;
        Ok(())
    }

    /// Runs after the response is ready.
    fn after(&self, call: &Call<'_>, outcome: &Outcome) {
        let _ = (call, outcome);
    }
}

impl std::fmt::Debug for dyn DispatchHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DispatchHook")
    }
}
