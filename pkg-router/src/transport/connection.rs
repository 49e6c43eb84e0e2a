//! One connection's life: auth handshake, registration, then the [driver](super::driver) loop
//! and the close.

use super::codec::{AnyCodec, CustomCodec, JsonCodec};
use super::driver::{Dispatcher, Driver, Limits, Signals, Stop, close_reason_for, close_socket};
use super::endpoint::{Admission, Endpoint, Format};
use super::frame::{Frame, SocketError};
use super::lifecycle::ConnectionEvent;
use super::shared_limits::{ConnectionLease, Verdict, ask};
use crate::hub::signal::ConnectionSignal;
use crate::hub::{CloseReason, ConnectionInfo, RegisterError, close_code};
use crate::principal::Principal;
use crate::router::Session;
use crate::state::Extensions;
use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::Instrument;

/// The auth frame of [protocol §6.2](crate::protocol#62-authentication).
#[derive(Deserialize)]
struct AuthFrame {
    #[serde(rename = "type")]
    kind: Option<String>,
    token: Option<String>,
}

enum FirstFrame {
    /// Authenticated by the auth frame: `auth_ok` is due once the connection is registered.
    Authenticated(Principal),
    /// Anonymous with nothing to replay.
    Done(Principal),
    /// Anonymous, and this request frame must be processed.
    Replay(Principal, Frame),
}

impl Endpoint {
    /// The body of [`Endpoint::serve`]: handshake, registration, the driver, the close.
    ///
    /// Memory: this future is most of an idle connection's footprint, so values are kept in
    /// one place each (the handshake's result is taken apart in the `match` that receives it)
    /// and the futures only a closing or shutting-down connection needs are boxed when they
    /// start (the state machine is as large as its largest suspended state).
    pub(super) fn run<S>(
        self: Arc<Self>,
        socket: S,
        admission: Admission,
        peer: Option<SocketAddr>,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        S: Stream<Item = Result<Frame, SocketError>> + Sink<Frame, Error = SocketError>,
        S: Send + Unpin + 'static,
    {
        let span = tracing::info_span!(
            "ws_connection",
            peer = peer.map(tracing::field::display),
            connection = tracing::field::Empty,
            principal = tracing::field::Empty,
        );
        async move {
            let _permit = admission.permit;
            let admission_format = admission.format;
            let mut socket = socket;
            let first = Box::pin(self.handshake(&mut socket)).await;
            let (principal, replay, authenticated) = match first {
                Ok(FirstFrame::Authenticated(principal)) => (principal, None, true),
                Ok(FirstFrame::Done(principal)) => (principal, None, false),
                Ok(FirstFrame::Replay(principal, frame)) => (principal, Some(frame), false),
                Err(Some(reason)) => {
                    count_connection("rejected");
                    // `?`: the reason can quote the client (an auth error); Debug escapes it.
                    tracing::info!(code = reason.code, reason = ?reason.reason, "closing during handshake");
                    Box::pin(close_socket(&mut socket, reason, self.config.close_linger)).await;
                    return;
                }
                Err(None) => return,
            };
            let principal_id = (!principal.is_anonymous()).then(|| principal.id.clone());
            let (queue_tx, queue_rx) = crate::hub::queue::channel(self.config.outbound_queue);
            let signal = ConnectionSignal::new();
            // The cluster-wide slot first: a refused connection never appears in the hub.
            let lease = if self.shared_limits.is_some() {
                Box::pin(self.shared_lease(&principal)).await
            } else {
                Ok(None)
            };
            let lease = match lease {
                Ok(lease) => lease,
                Err(reason) => {
                    count_connection("rejected");
                    tracing::info!(code = reason.code, reason = %reason.reason, "connection refused");
                    Box::pin(close_socket(&mut socket, reason, self.config.close_linger)).await;
                    return;
                }
            };
            let registration = match self.hub.register(
                &principal,
                self.config.max_connections_per_principal,
                queue_tx.clone(),
                signal.clone(),
            ) {
                Ok(registration) => registration,
                Err(err) => {
                    count_connection("rejected");
                    tracing::info!(error = %err, "connection refused");
                    let reason = CloseReason::new(close_code::POLICY, err.to_string());
                    Box::pin(close_socket(&mut socket, reason, self.config.close_linger)).await;
                    return;
                }
            };
            let id = registration.id();
            let event = |principal| ConnectionEvent {
                id,
                principal,
                peer,
                hub: &self.hub,
            };
            // Before `auth_ok` and the first request: what the hook pushes follows `auth_ok`.
            self.lifecycle.connected(&event(&principal));
            // Only now: a client that got `auth_ok` is registered and receives every later push.
            if authenticated {
                let ok = Frame::Text(Bytes::from_static(br#"{"type":"auth_ok"}"#));
                if socket.send(ok).await.is_err() {
                    drop(registration);
                    self.lifecycle
                        .disconnected(&event(&principal), &CloseReason::new(close_code::ABNORMAL, "connection lost"));
                    return;
                }
            }
            count_connection("accepted");
            let span = tracing::Span::current();
            span.record("connection", tracing::field::display(registration.id()));
            // Debug: a name from a token may hold newlines or escape sequences.
            span.record("principal", tracing::field::debug(&principal.name));
            tracing::debug!("connection open");

            let expiry = expiry_deadline(principal.expires_at, &self);
            let limiter_key: Arc<str> = match &principal_id {
                Some(id) => Arc::from(id.as_str()),
                None => Arc::from(format!("anonymous:{}", registration.id())),
            };
            let info = ConnectionInfo {
                id: registration.id(),
                peer,
            };
            let session = Session::new(principal).with_extensions(Extensions::new().with(info));
            let codec = match admission_format {
                #[cfg(feature = "protobuf")]
                Format::Protobuf => AnyCodec::Protobuf(super::codec::ProtobufCodec),
                Format::Custom(name) => match self.codec(name) {
                    Some(codec) => AnyCodec::Custom(CustomCodec(codec)),
                    None => AnyCodec::Json(JsonCodec),
                },
                _ => AnyCodec::Json(JsonCodec),
            };
            let dispatcher = Dispatcher {
                codec: codec.clone(),
                endpoint: &self,
                session: &session,
                limiter_key,
            };
            let config = &self.config;
            let signals = Signals {
                signal: &signal,
                expiry,
            };
            let limits = Limits {
                max_in_flight: config.max_in_flight,
                outbound_queue: config.outbound_queue.max(1),
                max_malformed: config.max_malformed,
                ping_interval: config.ping_interval,
                pong_timeout: config.pong_timeout,
                close_linger: config.close_linger,
            };
            let mut driver = Driver::new(
                codec,
                socket,
                |frame| dispatcher.dispatch(frame),
                queue_rx,
                signals,
                limits,
            );
            if let Some(frame) = replay {
                driver.start(frame);
            }
            let mut stop = driver.run().await;
            if stop == Stop::Shutdown {
                stop = Box::pin(driver.finish(config.shutdown_grace)).await;
            }
            let reason = if stop == Stop::Close {
                let reason = signal
                    .reason()
                    .unwrap_or_else(|| CloseReason::new(close_code::NORMAL, ""));
                Box::pin(driver.close(reason.clone())).await;
                reason
            } else {
                CloseReason::new(close_code::ABNORMAL, "connection lost")
            };
            drop(driver);
            drop(registration);
            drop(lease);
            let principal = session.principal();
            self.lifecycle.disconnected(
                &ConnectionEvent {
                    id,
                    principal,
                    peer,
                    hub: &self.hub,
                },
                &reason,
            );
            if let Some(limiter) = &self.limiter {
                limiter.retain_recent();
            }
            tracing::debug!("connection closed");
        }
        .instrument(span)
    }

    /// One of the principal's cluster-wide connection slots, when the endpoint has
    /// [`SharedLimits`](super::SharedLimits) (`None`: no shared limit applies, or the store is
    /// away and fails open). `Err`: the close reason of a refused connection.
    async fn shared_lease(
        &self,
        principal: &Principal,
    ) -> Result<Option<ConnectionLease>, CloseReason> {
        let Some(limits) = &self.shared_limits else {
            return Ok(None);
        };
        if principal.is_anonymous() {
            return Ok(None);
        }
        let max = self.config.max_connections_per_principal;
        let call = limits.acquire_connection(&principal.id, max);
        match ask(&**limits, "connections", call).await {
            Verdict::Answer(Some(lease)) => Ok(Some(lease)),
            Verdict::Answer(None) => Err(CloseReason::new(
                close_code::POLICY,
                RegisterError::TooManyForPrincipal.to_string(),
            )),
            Verdict::FallBack => Ok(None),
            Verdict::Refuse => Err(CloseReason::new(
                close_code::TRY_AGAIN_LATER,
                "connection limit unavailable",
            )),
        }
    }

    /// The first-message handshake. `Err(Some(reason))` closes with that reason; `Err(None)`
    /// means the peer went away.
    async fn handshake<R>(&self, stream: &mut R) -> Result<FirstFrame, Option<CloseReason>>
    where
        R: Stream<Item = Result<Frame, SocketError>> + Unpin,
    {
        use super::auth::AuthMode;
        let required = match self.config.auth {
            AuthMode::Disabled => return Ok(FirstFrame::Done(Principal::anonymous())),
            AuthMode::Required => true,
            AuthMode::Optional => false,
        };
        let first = match tokio::time::timeout(self.config.auth_timeout, next_message(stream)).await
        {
            Err(_) if required => {
                return Err(Some(CloseReason::new(
                    close_code::AUTH_TIMEOUT,
                    "authentication timeout",
                )));
            }
            Err(_) => return Ok(FirstFrame::Done(Principal::anonymous())),
            Ok(Err(err)) => return Err(close_reason_for(&err)),
            Ok(Ok(None)) => return Err(None),
            Ok(Ok(Some(frame))) => frame,
        };
        let auth_frame = match &first {
            // An object only: serde's derive would also take `["auth", "Bearer …"]`.
            Frame::Text(text) if text.trim_ascii_start().starts_with(b"{") => {
                serde_json::from_slice::<AuthFrame>(text)
                    .ok()
                    .filter(|frame| frame.kind.as_deref() == Some("auth"))
            }
            _ => None,
        };
        let Some(auth_frame) = auth_frame else {
            if required {
                return Err(Some(CloseReason::new(
                    close_code::AUTH_FAILED,
                    "expected an auth frame",
                )));
            }
            return Ok(match first {
                frame @ (Frame::Text(_) | Frame::Binary(_)) => {
                    FirstFrame::Replay(Principal::anonymous(), frame)
                }
                _ => FirstFrame::Done(Principal::anonymous()),
            });
        };
        let token = auth_frame
            .token
            .as_deref()
            .and_then(bearer)
            .ok_or_else(|| {
                Some(CloseReason::new(
                    close_code::AUTH_FAILED,
                    "token must be `Bearer <token>`",
                ))
            })?;
        let Some(authenticator) = &self.authenticator else {
            tracing::error!("auth frame received but the endpoint has no authenticator");
            return Err(Some(CloseReason::new(
                close_code::AUTH_FAILED,
                "authentication unavailable",
            )));
        };
        let principal = authenticator
            .authenticate(token)
            .await
            .map_err(|err| Some(CloseReason::new(close_code::AUTH_FAILED, err.to_string())))?;
        if expiry_deadline(principal.expires_at, self)
            .is_some_and(|at| at <= tokio::time::Instant::now())
        {
            return Err(Some(CloseReason::new(
                close_code::AUTH_FAILED,
                "token expired",
            )));
        }
        Ok(FirstFrame::Authenticated(principal))
    }
}

/// The next text or binary frame, skipping control frames.
async fn next_message<R>(stream: &mut R) -> Result<Option<Frame>, SocketError>
where
    R: Stream<Item = Result<Frame, SocketError>> + Unpin,
{
    loop {
        match stream.next().await {
            None | Some(Ok(Frame::Close(_))) => return Ok(None),
            Some(Err(err)) => return Err(err),
            Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => continue,
            Some(Ok(frame)) => return Ok(Some(frame)),
        }
    }
}

/// `Bearer <token>`, scheme case-insensitive.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// When the connection must close because its token expired (expiry plus leeway, at most 60 s).
fn expiry_deadline(
    expires_at: Option<SystemTime>,
    endpoint: &Endpoint,
) -> Option<tokio::time::Instant> {
    let expires_at = expires_at?;
    let leeway = endpoint.authenticator.as_ref().map_or(Duration::ZERO, |a| {
        a.leeway().min(crate::principal::MAX_LEEWAY)
    });
    let remaining = expires_at
        .checked_add(leeway)
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .unwrap_or(Duration::ZERO);
    Some(tokio::time::Instant::now() + remaining)
}

fn count_connection(status: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("ws_connections_total", "status" => status).increment(1);
    let _ = status;
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("abc"), None);
    }
}
