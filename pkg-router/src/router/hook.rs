//! [`DispatchHook`]: code that runs around every dispatch (audit logs, custom checks).

use crate::error::HandlerError;
use crate::principal::Principal;
use crate::status::RspCode;
use serde_json::{Map, Value};
use std::time::Duration;
use uuid::Uuid;

/// One request, as a hook sees it.
///
/// Borrowed from the router for the duration of the hook call; copy out what you keep.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::TestRouter;
/// use pkg_router::{HandlerError, Principal, Router};
/// use pkg_router::hook::{Call, DispatchHook, Outcome};
/// use serde_json::json;
/// use std::sync::{Arc, Mutex};
///
/// /// Remembers who called what.
/// #[derive(Clone, Default)]
/// struct Journal(Arc<Mutex<Vec<String>>>);
///
/// impl DispatchHook for Journal {
///     fn after(&self, call: &Call<'_>, _outcome: &Outcome) {
///         let title = call.data.and_then(|d| d.get("title")).and_then(|t| t.as_str());
///         let entry = format!("{} {} {:?}", call.principal.name, call.pkg_id, title);
///         self.0.lock().unwrap().push(entry);
///     }
/// }
///
/// async fn create_book() -> Result<(), HandlerError> {
///     Ok(())
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let journal = Journal::default();
/// let router = Router::builder().hook(journal.clone()).handler(65, create_book).build()?;
/// let client = TestRouter::new(router).as_principal(Principal::new("u-1", "ann"));
/// client.call(65, json!({"title": "Dune"})).await;
/// assert_eq!(*journal.0.lock().unwrap(), [r#"ann 65 Some("Dune")"#]);
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
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

/// How a request ended: the response's status and the time the router spent.
///
/// # Examples
///
/// Counting failures per status:
///
/// ```
/// use pkg_router::testing::TestRouter;
/// use pkg_router::{HandlerError, Route, Router, RspCode};
/// use pkg_router::hook::{Call, DispatchHook, Outcome};
/// use serde_json::json;
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// #[derive(Clone, Default)]
/// struct Failures(Arc<Mutex<Vec<RspCode>>>);
///
/// impl DispatchHook for Failures {
///     fn after(&self, _call: &Call<'_>, outcome: &Outcome) {
///         assert!(outcome.elapsed < Duration::from_secs(5));
///         if outcome.status != RspCode::Ok {
///             self.0.lock().unwrap().push(outcome.status);
///         }
///     }
/// }
///
/// async fn ok() -> Result<(), HandlerError> {
///     Ok(())
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let failures = Failures::default();
/// let router = Router::builder()
///     .hook(failures.clone())
///     .route(Route::new(66, ok).roles(["admin"]))
///     .handler(67, ok)
///     .build()?;
/// let client = TestRouter::new(router);
/// client.call(66, json!({})).await; // refused before the handler: still seen
/// client.call(67, json!({})).await;
/// assert_eq!(*failures.0.lock().unwrap(), [RspCode::PermissionDenied]);
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Outcome {
    /// The response's status.
    pub status: RspCode,
    /// Time spent in the router for this request.
    pub elapsed: Duration,
}

/// Runs around every dispatch to a known `pkg_id`: add it with
/// [`RouterBuilder::hook`](crate::router::RouterBuilder::hook).
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
/// use pkg_router::hook::{Call, DispatchHook, Outcome};
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
    /// For checks that need more than roles, across every handler: maintenance windows,
    /// per-tenant feature flags, account suspension. The default accepts everything.
    ///
    /// # Errors
    ///
    /// An error refuses the request: it becomes the response and the handler does not run.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{HandlerError, Router, RspCode};
    /// use pkg_router::hook::{Call, DispatchHook};
    /// use serde_json::json;
    ///
    /// /// Read-only mode: only ids below 100 (the queries) are served.
    /// struct ReadOnly;
    ///
    /// impl DispatchHook for ReadOnly {
    ///     fn before(&self, call: &Call<'_>) -> Result<(), HandlerError> {
    ///         if call.pkg_id >= 100 {
    ///             return Err(HandlerError::custom(RspCode::Error, "read_only", "Maintenance: read-only"));
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// async fn ok() -> Result<&'static str, HandlerError> {
    ///     Ok("ran")
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().hook(ReadOnly).handler(68, ok).handler(168, ok).build()?;
    /// let client = TestRouter::new(router);
    /// assert_eq!(client.call(68, json!({})).await.expect_ok(), "ran");
    /// client.call(168, json!({})).await.expect_error("read_only");
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    fn before(&self, call: &Call<'_>) -> Result<(), HandlerError> {
        let _ = call;
        Ok(())
    }

    /// Runs after the response is ready, for every request that named a handler (refused ones
    /// included). The default does nothing.
    ///
    /// Runs on the request's task before the response is sent: keep it fast and hand slow work
    /// (a database write) to a channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::{HandlerError, Router, RspCode};
    /// use pkg_router::hook::{Call, DispatchHook, Outcome};
    /// use serde_json::json;
    /// use std::sync::mpsc;
    /// use std::sync::Mutex;
    ///
    /// /// Sends `(pkg_id, status)` to a background writer.
    /// struct AuditLog(Mutex<mpsc::Sender<(u32, RspCode)>>);
    ///
    /// impl DispatchHook for AuditLog {
    ///     fn after(&self, call: &Call<'_>, outcome: &Outcome) {
    ///         let _ = self.0.lock().unwrap().send((call.pkg_id, outcome.status));
    ///     }
    /// }
    ///
    /// async fn missing() -> Result<(), HandlerError> {
    ///     Err(HandlerError::not_found("no such book"))
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (tx, rx) = mpsc::channel();
    /// let router = Router::builder().hook(AuditLog(Mutex::new(tx))).handler(69, missing).build()?;
    /// TestRouter::new(router).call(69, json!({})).await;
    /// assert_eq!(rx.try_recv().unwrap(), (69, RspCode::Error));
    /// # Ok::<(), pkg_router::BuildError>(())
    /// # }).unwrap();
    /// ```
    fn after(&self, call: &Call<'_>, outcome: &Outcome) {
        let _ = (call, outcome);
    }
}

impl std::fmt::Debug for dyn DispatchHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DispatchHook")
    }
}
