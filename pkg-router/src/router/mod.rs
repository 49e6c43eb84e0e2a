//! The [`Router`]: looks up the handler for a `pkg_id`, checks roles and schema, runs it; its
//! [`RouterBuilder`] and [`Route`]s, the [`RouteTable`], and the [`Session`] a transport
//! dispatches with (with its [`Extensions`]).

mod asyncapi;
mod build_error;
mod builder;
pub(crate) mod hook;
mod route;
mod route_table;
mod session;

pub use crate::state::Extensions;
pub use build_error::{BuildError, HandlerSource};
pub use builder::RouterBuilder;
pub(crate) use hook::{Call, DispatchHook, Outcome};
pub use route::Route;
pub use route_table::{RouteInfo, RouteTable};
pub use session::Session;

use crate::envelope::{EnvelopeError, RawRequest, RequestModel, ResponseModel};
use crate::extract::RequestContext;
use crate::handler::BoxedHandler;
use crate::into_response::IntoResponse;
use crate::principal::{holds_all_roles, missing_roles};
use crate::reply::Reply;
use crate::schema::CompiledSchema;
use crate::state::TypeMap;
use crate::status::{RspCode, error_code};
use futures_util::FutureExt;
use serde_json::{Map, Value, json};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;
use uuid::Uuid;

/// Routes requests to handlers by `pkg_id`.
///
/// Built once with [`Router::builder`]; cheap to clone (shared); every method takes `&self`, so one
/// router serves all connections concurrently.
///
/// Each request goes through the checks of [protocol §4](crate::protocol#4-processing-rules),
/// in this order: envelope -> handler exists -> roles -> schema -> handler. A handler that
/// panics is answered with `ERROR`/`internal_error` and the router keeps serving; one that
/// exceeds its timeout with `ERROR`/`timeout`.
///
/// # Examples
///
/// ```
/// use pkg_router::{HandlerError, Principal, RequestModel, Router, RspCode};
/// use pkg_router::router::Session;
/// use serde_json::{json, Map};
///
/// async fn echo(req: RequestModel) -> Result<serde_json::Value, HandlerError> {
///     Ok(json!(req.data))
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let router = Router::builder().handler(7, echo).build()?;
/// let session = Session::new(Principal::new("u1", "ann"));
///
/// // Frame in, frame out: what a transport does.
/// let reply = router
///     .handle_json(&session, r#"{"pkg_id":7,"req_id":"550e8400e29b41d4a716446655440000","data":{"x":1}}"#)
///     .await;
/// assert_eq!(reply, r#"{"pkg_id":7,"req_id":"550e8400-e29b-41d4-a716-446655440000","status_code":0,"meta":null,"data":{"x":1}}"#);
///
/// // Typed: what tests do.
/// let response = router.dispatch(&session, RequestModel::new(99u32, Map::new())).await;
/// assert_eq!(response.status_code, RspCode::Error);
/// assert_eq!(response.error_body().unwrap().code, "unknown_pkg_id");
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Router {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Sorted by id: a binary search beats hashing for the few dozen ids an API has.
    routes: Vec<(u32, Arc<CompiledRoute>)>,
    shared: Shared,
    table: RouteTable,
    hooks: Vec<Box<dyn DispatchHook>>,
}

/// The answer to a JSON frame: its text, and whether the frame was malformed (an
/// `invalid_envelope` answer), which a transport counts.
pub(crate) struct JsonAnswer {
    pub(crate) text: String,
    // Read by the transport only.
    #[cfg_attr(not(feature = "transport"), allow(dead_code))]
    pub(crate) malformed: bool,
}

/// What every request of a router shares: the application state and settings extractors read.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: TypeMap,
    pub(crate) max_per_page: u32,
}

/// A handler with everything needed to run it, shared by all the ids it serves.
#[derive(Debug)]
struct CompiledRoute {
    handler: BoxedHandler,
    path: Arc<str>,
    roles: Arc<[String]>,
    schema: Option<Arc<CompiledSchema>>,
    /// Keys `Data<T>` does not see (see `RequestContext::data_skip`).
    data_skip: Arc<[String]>,
    timeout: Option<Duration>,
    name: Option<Arc<str>>,
    /// The duration histogram's key with its `pkg_id` label, built once (the macro would
    /// allocate the label list on every request).
    #[cfg(feature = "metrics")]
    duration_key: metrics::Key,
}

/// Where a request's `data` comes from.
enum Payload<'a> {
    /// Raw JSON text from a frame, parsed only after the role check.
    Raw(RawRequest<'a>),
    /// Already parsed (typed dispatch).
    Parsed(Map<String, Value>),
}

impl Router {
    /// Starts building a router.
    pub fn builder() -> RouterBuilder {
        RouterBuilder::new()
    }

    /// The hub given to [`RouterBuilder::hub`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{Hub, Router};
    ///
    /// let router = Router::builder().hub(Hub::new()).allow_empty().build()?;
    /// assert!(router.hub().is_some());
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    pub fn hub(&self) -> Option<&crate::Hub> {
        self.inner.shared.state.get::<crate::Hub>()
    }

    /// The route table: one row per declared or handled id, sorted by id.
    pub fn routes(&self) -> &RouteTable {
        &self.inner.table
    }

    /// The JSON schema a handler validates `data` against, if it has one.
    pub fn schema(&self, pkg_id: u32) -> Option<&Value> {
        self.compiled(pkg_id)
            .and_then(|e| e.schema.as_deref())
            .map(CompiledSchema::source)
    }

    /// Whether a handler serves `pkg_id`.
    pub fn has_handler(&self, pkg_id: u32) -> bool {
        self.compiled(pkg_id).is_some()
    }

    /// Handles one JSON text frame and returns the response's JSON text.
    ///
    /// Never fails: a malformed frame is answered with `INVALID_DATA`/`invalid_envelope`
    /// (echoing whatever ids could be read), as [protocol §4.3](crate::protocol#43-malformed-frames) requires.
    pub async fn handle_json(&self, session: &Session, frame: &str) -> String {
        self.handle_json_frame(session, frame).await.text
    }

    /// [`handle_json`](Self::handle_json), also telling whether the frame was malformed (so a
    /// transport can count consecutive malformed frames).
    pub(crate) async fn handle_json_frame(&self, session: &Session, frame: &str) -> JsonAnswer {
        // Parse `data` in the same pass only for callers the handler would accept.
        let eager = |pkg_id| {
            self.compiled(pkg_id)
                .is_some_and(|e| holds_all_roles(&session.principal().roles, e.roles.iter()))
        };
        match RawRequest::parse_with(frame, eager) {
            Ok(raw) => {
                let (pkg_id, req_id) = (raw.pkg_id, raw.req_id);
                let reply = self.run(session, pkg_id, req_id, Payload::Raw(raw)).await;
                let malformed = reply.is_invalid_envelope();
                JsonAnswer {
                    text: reply.into_json(),
                    malformed,
                }
            }
            Err(err) => JsonAnswer {
                text: invalid_envelope(err).to_json(),
                malformed: true,
            },
        }
    }

    /// Handles one protobuf `Request` frame ([protocol §7](crate::protocol#7-protobuf-format))
    /// and returns the `Response` frame's bytes: [`handle_json`](Self::handle_json) for the
    /// binary format.
    ///
    /// Never fails: bytes that are not a `Request`, and a `Request` whose fields break the
    /// envelope rules, are answered `INVALID_DATA`/`invalid_envelope`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_util::FutureExt;
    /// use pkg_router::protobuf::{Message, Request, Response};
    /// use pkg_router::router::Session;
    /// use pkg_router::{HandlerError, Principal, RequestModel, Router};
    ///
    /// async fn echo(req: RequestModel) -> Result<serde_json::Value, HandlerError> {
    ///     Ok(serde_json::Value::Object(req.data))
    /// }
    ///
    /// let router = Router::builder().handler(1, echo).build()?;
    /// let session = Session::new(Principal::anonymous());
    /// let request = Request::new(1, uuid::Uuid::new_v4(), r#"{"b": [], "a": 1}"#);
    /// let frame = router.handle_protobuf(&session, &request.encode_to_vec()).now_or_never().unwrap();
    /// let response = Response::decode(&frame[..])?;
    /// assert_eq!((response.status_code, &*response.data_json), (0, r#"{"a":1,"b":[]}"#));
    ///
    /// let garbage = router.handle_protobuf(&session, b"\xff").now_or_never().unwrap();
    /// assert_eq!(Response::decode(&garbage[..])?.status_code, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "protobuf")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
    pub async fn handle_protobuf(&self, session: &Session, frame: &[u8]) -> Vec<u8> {
        self.handle_protobuf_frame(session, frame).await.0
    }

    /// [`handle_protobuf`](Self::handle_protobuf), also telling whether the frame was
    /// malformed.
    ///
    /// Undecodable bytes and bad envelope fields are answered `invalid_envelope` with the ids
    /// that could be read, as for JSON (§4.3).
    #[cfg(feature = "protobuf")]
    #[cfg_attr(not(feature = "transport"), allow(dead_code))] // the transport calls it
    pub(crate) async fn handle_protobuf_frame(
        &self,
        session: &Session,
        frame: &[u8],
    ) -> (Vec<u8>, bool) {
        // Read in place: `req_id` and `data_json` borrow the frame.
        let request = match crate::protobuf::decode_request(frame) {
            Ok(request) => request,
            Err(err) => {
                let err = EnvelopeError::new(crate::envelope::EnvelopeProblem::Protobuf(err));
                return (crate::protobuf::encode_model(&invalid_envelope(err)), true);
            }
        };
        let eager = |pkg_id| {
            self.compiled(pkg_id)
                .is_some_and(|e| holds_all_roles(&session.principal().roles, e.roles.iter()))
        };
        match RawRequest::from_parts(request.pkg_id, request.req_id, request.data_json, eager) {
            Ok(raw) => {
                let (pkg_id, req_id) = (raw.pkg_id, raw.req_id);
                let reply = self.run(session, pkg_id, req_id, Payload::Raw(raw)).await;
                (reply.to_protobuf(), reply.is_invalid_envelope())
            }
            Err(err) => (crate::protobuf::encode_model(&invalid_envelope(err)), true),
        }
    }

    /// Dispatches a decoded request.
    pub async fn dispatch(&self, session: &Session, request: RequestModel) -> ResponseModel {
        let RequestModel {
            pkg_id,
            req_id,
            data,
        } = request;
        self.run(session, pkg_id, req_id, Payload::Parsed(data))
            .await
            .into_model()
    }

    fn compiled(&self, pkg_id: u32) -> Option<&Arc<CompiledRoute>> {
        let routes = &self.inner.routes;
        routes
            .binary_search_by_key(&pkg_id, |(id, _)| *id)
            .ok()
            .map(|i| &routes[i].1)
    }

    async fn run(
        &self,
        session: &Session,
        pkg_id: u32,
        req_id: Uuid,
        payload: Payload<'_>,
    ) -> Reply {
        let Some(endpoint) = self.compiled(pkg_id) else {
            tracing::debug!(pkg_id, %req_id, "unknown pkg_id");
            return ResponseModel::error(
                pkg_id,
                req_id,
                RspCode::Error,
                error_code::UNKNOWN_PKG_ID,
                format!("No handler for pkg_id {pkg_id}"),
                None,
            )
            .into();
        };
        let span = tracing::info_span!(
            "pkg_request",
            pkg_id,
            req_id = %req_id,
            name = endpoint.name.as_deref(),
            status = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        );
        let hooks = &self.inner.hooks;
        let traced = !span.is_disabled();
        if !traced && hooks.is_empty() && !cfg!(feature = "metrics") {
            // Nobody watches: skip the clock reads too.
            return self
                .run_endpoint(endpoint, session, pkg_id, req_id, payload, None)
                .await;
        }
        let started = Instant::now();
        let mut audited = None;
        let audit = (!hooks.is_empty()).then_some(&mut audited);
        let run = self.run_endpoint(endpoint, session, pkg_id, req_id, payload, audit);
        // A disabled span is still entered, exited and recorded into when it is used (and
        // forwarded to `log` when tracing's `log` feature is on): only a live one is.
        let reply = if traced {
            run.instrument(span.clone()).await
        } else {
            run.await
        };
        let elapsed = started.elapsed();
        if traced {
            span.record("status", reply.status_code().as_u8());
            span.record("duration_us", elapsed.as_micros() as u64);
        }
        #[cfg(feature = "metrics")]
        {
            static METADATA: metrics::Metadata<'static> =
                metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
            metrics::with_recorder(|recorder| {
                recorder
                    .register_histogram(&endpoint.duration_key, &METADATA)
                    .record(elapsed.as_secs_f64());
            });
        }
        if !hooks.is_empty() {
            let call = Call {
                pkg_id,
                req_id,
                name: endpoint.name.as_deref(),
                principal: session.principal(),
                data: audited.as_ref(),
            };
            let outcome = Outcome {
                status: reply.status_code(),
                elapsed,
            };
            for hook in hooks {
                hook.after(&call, &outcome);
            }
        }
        reply
    }

    async fn run_endpoint(
        &self,
        endpoint: &CompiledRoute,
        session: &Session,
        pkg_id: u32,
        req_id: Uuid,
        payload: Payload<'_>,
        audit: Option<&mut Option<Map<String, Value>>>,
    ) -> Reply {
        // Roles before schema: an unauthorised caller learns nothing about the schema.
        let principal = session.principal();
        let missing: Vec<&str> = missing_roles(&principal.roles, endpoint.roles.iter())
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            tracing::debug!(?missing, "permission denied");
            return ResponseModel::error(
                pkg_id,
                req_id,
                RspCode::PermissionDenied,
                error_code::PERMISSION_DENIED,
                "Permission denied",
                Some(json!({ "missing_roles": missing })),
            )
            .into();
        }
        let data = match payload {
            Payload::Parsed(map) => map,
            Payload::Raw(raw) => match raw.data() {
                Ok(map) => map,
                Err(err) => return invalid_envelope(err).into(),
            },
        };
        let data = Value::Object(data);
        if let Some(schema) = &endpoint.schema
            && let Err(violations) = schema.validate(&data)
        {
            tracing::debug!(violations = violations.len(), "validation failed");
            return crate::HandlerError::Validation(violations)
                .to_response(pkg_id, req_id)
                .into();
        }
        if let Some(audit) = audit {
            let map = data.as_object().cloned().unwrap_or_default();
            let call = Call {
                pkg_id,
                req_id,
                name: endpoint.name.as_deref(),
                principal,
                data: Some(&map),
            };
            for hook in &self.inner.hooks {
                if let Err(err) = hook.before(&call) {
                    *audit = Some(map);
                    return err.into_reply(pkg_id, req_id);
                }
            }
            *audit = Some(map);
        }
        let ctx = RequestContext {
            pkg_id,
            req_id,
            data,
            principal,
            shared: &self.inner.shared,
            extensions: session.extensions(),
            data_skip: &endpoint.data_skip,
        };
        // A panic may come from extraction (synchronous) or from the future (asynchronous).
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| endpoint.handler.call(ctx)))
        {
            Ok(future) => AssertUnwindSafe(future).catch_unwind(),
            Err(panic) => return panicked(endpoint, pkg_id, req_id, &panic),
        };
        let outcome = match endpoint.timeout {
            None => future.await,
            Some(limit) => match tokio::time::timeout(limit, future).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::warn!(handler = %endpoint.path, timeout_ms = limit.as_millis() as u64, "handler timed out");
                    return timeout_response(pkg_id, req_id, limit).into();
                }
            },
        };
        match outcome {
            Ok(reply) => reply,
            Err(panic) => panicked(endpoint, pkg_id, req_id, &panic),
        }
    }
}

/// `ERROR`/`timeout`: the answer to a request that ran longer than `limit`.
pub(crate) fn timeout_response(pkg_id: u32, req_id: Uuid, limit: Duration) -> ResponseModel {
    ResponseModel::error(
        pkg_id,
        req_id,
        RspCode::Error,
        error_code::TIMEOUT,
        format!("Handler did not finish within {} ms", limit.as_millis()),
        None,
    )
}

fn invalid_envelope(err: EnvelopeError) -> ResponseModel {
    tracing::debug!(pkg_id = err.pkg_id, req_id = %err.req_id, problem = %err.problem, "invalid envelope");
    err.to_response()
}

fn panicked(
    endpoint: &CompiledRoute,
    pkg_id: u32,
    req_id: Uuid,
    panic: &(dyn std::any::Any + Send),
) -> Reply {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string panic payload>");
    tracing::error!(handler = %endpoint.path, panic = message, "handler panicked");
    crate::HandlerError::internal("handler panicked")
        .to_response(pkg_id, req_id)
        .into()
}
