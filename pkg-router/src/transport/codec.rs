//! Wire formats: how a connection's frames become requests and its answers become frames.
//!
//! Two layers: the crate-private [`WireCodec`] the connection loop drives (the built-in JSON
//! and protobuf formats implement it directly, on their fast paths), and the public [`Codec`]
//! a user implements to add a format, which [`AnyCodec::Custom`] adapts.

use super::frame::Frame;
use crate::envelope::{EnvelopeError, EnvelopeProblem, RawRequest, RequestModel, ResponseModel};
use crate::hub::{Outbound, Push};
use crate::router::{Router, Session};
use bytes::Bytes;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use uuid::Uuid;

/// A wire format of your own, served at `?format=<name>` next to JSON and protobuf
/// ([protocol §1](crate::protocol#1-transport)); register it with
/// [`Endpoint::with_codec`](super::Endpoint::with_codec).
///
/// A codec only translates: [`decode`](Self::decode) turns a data frame into a
/// [`RequestModel`], [`encode`](Self::encode) turns a [`ResponseModel`] into a frame, and
/// [`encode_push`](Self::encode_push) turns a server push into one. Everything else (the auth
/// frame, which stays JSON text; limits; keepalive; the malformed-frame count; the order of
/// checks; rate limits and timeouts) is the connection's, exactly as for the built-in formats.
///
/// Rules a codec must follow:
///
/// - A frame that cannot be read is an [`EnvelopeError`] (use
///   [`EnvelopeError::new`] and fill in whatever ids were read): the client gets status 2
///   `invalid_envelope` in this format, and it counts toward
///   [`WsConfig::max_malformed`](super::WsConfig::max_malformed). Never panic on input.
/// - Encode every response, errors included; a push carries the nil `req_id`.
/// - Frames larger than [`WsConfig::max_message_size`](super::WsConfig::max_message_size) never
///   reach `decode` (the socket closes with 1009).
///
/// Custom codecs see parsed models, so they skip two things the built-in formats do: `data`
/// is parsed before the role check rather than after, and a push's frame is built by each
/// connection rather than once per push. Both only cost time.
///
/// # Examples
///
/// A tiny format: one line of text, `<pkg_id> <req_id> <data as JSON>`, answered with
/// `<pkg_id> <req_id> <status> <data as JSON>`.
///
/// ```
/// use pkg_router::envelope::{EnvelopeError, EnvelopeProblem};
/// use pkg_router::hub::Push;
/// use pkg_router::testing::MemorySocket;
/// use pkg_router::transport::{AuthMode, Codec, Endpoint, Frame, WsConfig};
/// use pkg_router::{HandlerError, RequestModel, ResponseModel, Router};
/// use std::sync::Arc;
///
/// struct Line;
///
/// impl Codec for Line {
///     fn decode(&self, frame: &Frame) -> Result<RequestModel, EnvelopeError> {
///         let bad = |problem| Err(EnvelopeError::new(problem));
///         let Frame::Text(bytes) = frame else { return bad(EnvelopeProblem::WrongFrameType) };
///         let text = std::str::from_utf8(bytes).unwrap_or_default();
///         let mut parts = text.splitn(3, ' ');
///         let (Some(pkg_id), Some(req_id), data) = (parts.next(), parts.next(), parts.next()) else {
///             return bad(EnvelopeProblem::MissingReqId);
///         };
///         // Reuse the JSON rules for the envelope's fields.
///         let json = format!(r#"{{"pkg_id":{pkg_id},"req_id":"{req_id}","data":{}}}"#, data.unwrap_or("{}"));
///         RequestModel::from_json(&json)
///     }
///
///     fn encode(&self, r: &ResponseModel) -> Frame {
///         let line = format!("{} {} {} {}", r.pkg_id, r.req_id, r.status_code.as_u8(), r.data);
///         Frame::Text(line.into())
///     }
///
///     fn encode_push(&self, push: &Push) -> Frame {
///         let line = format!("{} {} 0 {}", push.pkg_id(), uuid::Uuid::nil(), push.data_json());
///         Frame::Text(line.into())
///     }
/// }
///
/// async fn add(req: RequestModel) -> Result<i64, HandlerError> {
///     Ok(req.data["a"].as_i64().unwrap_or(0) + req.data["b"].as_i64().unwrap_or(0))
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut config = WsConfig::default();
/// config.auth = AuthMode::Disabled;
/// let router = Router::builder().handler(1, add).build()?;
/// let endpoint = Arc::new(Endpoint::new(router, config).with_codec("line", Line));
///
/// let admission = endpoint.admit(Some("LINE"), None)?; // names are case-insensitive too
/// let (socket, mut client) = MemorySocket::pair();
/// let connection = tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));
///
/// let req_id = "550e8400-e29b-41d4-a716-446655440000";
/// client.send_text(&format!(r#"1 {req_id} {{"a": 2, "b": 3}}"#));
/// assert_eq!(client.recv_text().await, format!("1 {req_id} 0 5"));
///
/// client.send_text("nonsense");
/// assert!(client.recv_text().await.starts_with("0 00000000-0000-0000-0000-000000000000 2 "));
/// drop(client);
/// connection.await.unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub trait Codec: Send + Sync + 'static {
    /// Reads one data frame (text or binary) as a request.
    ///
    /// # Errors
    ///
    /// An [`EnvelopeError`] for a frame that is not a valid request; it is answered with
    /// status 2 `invalid_envelope` and counts as malformed.
    fn decode(&self, frame: &Frame) -> Result<RequestModel, EnvelopeError>;

    /// Writes a response (a handler's answer, or one the router or transport built).
    fn encode(&self, response: &ResponseModel) -> Frame;

    /// Writes a server push ([`Push::pkg_id`], [`Push::data_json`], the nil `req_id`).
    fn encode_push(&self, push: &Push) -> Frame;
}

/// One wire format as the connection loop drives it ([protocol §1](crate::protocol#1-transport)).
pub(crate) trait WireCodec: Send + Sync {
    /// Decodes one data frame, dispatches it and encodes the answer; the flag tells whether the
    /// frame was malformed.
    fn handle<'a>(
        &'a self,
        router: &'a Router,
        session: &'a Session,
        frame: Frame,
    ) -> impl Future<Output = Answer> + Send + 'a;

    /// The `pkg_id` and `req_id` of a data frame, or 0 and nil when they cannot be read.
    fn ids(&self, frame: &Frame) -> (u32, Uuid);

    /// Encodes a response the transport built itself (rate limited, timed out).
    fn encode(&self, response: &ResponseModel) -> Outbound;

    /// The frame that carries a push on this format.
    fn push(&self, push: &Push) -> Frame;
}

/// A request's answer, ready for the socket.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The encoded response.
    pub(crate) frame: Outbound,
    /// The frame was not a valid request envelope (counts toward `max_malformed`).
    pub(crate) malformed: bool,
}

/// The answer to a frame that could not be read at all.
fn refused(frame: Outbound) -> Answer {
    Answer {
        frame,
        malformed: true,
    }
}

/// JSON text frames.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JsonCodec;

impl WireCodec for JsonCodec {
    async fn handle(&self, router: &Router, session: &Session, frame: Frame) -> Answer {
        let problem = match &frame {
            Frame::Text(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => {
                    let answer = router.handle_json_frame(session, text).await;
                    return Answer {
                        frame: Outbound::Text(Bytes::from(answer.text)),
                        malformed: answer.malformed,
                    };
                }
                Err(_) => EnvelopeProblem::Json("frame is not UTF-8".into()),
            },
            // Protocol §4.4: a binary frame on a JSON connection.
            _ => EnvelopeProblem::WrongFrameType,
        };
        refused(self.encode(&EnvelopeError::new(problem).to_response()))
    }

    fn ids(&self, frame: &Frame) -> (u32, Uuid) {
        let Frame::Text(bytes) = frame else {
            return (0, Uuid::nil());
        };
        match std::str::from_utf8(bytes).map(RawRequest::parse) {
            Ok(Ok(raw)) => (raw.pkg_id, raw.req_id),
            Ok(Err(err)) => (err.pkg_id, err.req_id),
            Err(_) => (0, Uuid::nil()),
        }
    }

    fn encode(&self, response: &ResponseModel) -> Outbound {
        Outbound::Text(Bytes::from(response.to_json()))
    }

    fn push(&self, push: &Push) -> Frame {
        Frame::Text(push.json_frame().clone())
    }
}

/// Protobuf binary frames ([protocol §7](crate::protocol#7-protobuf-format)).
#[cfg(feature = "protobuf")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProtobufCodec;

#[cfg(feature = "protobuf")]
impl WireCodec for ProtobufCodec {
    async fn handle(&self, router: &Router, session: &Session, frame: Frame) -> Answer {
        match &frame {
            Frame::Binary(bytes) => {
                let (bytes, malformed) = router.handle_protobuf_frame(session, bytes).await;
                Answer {
                    frame: Outbound::Binary(Bytes::from(bytes)),
                    malformed,
                }
            }
            // Protocol §4.4: a text frame on a protobuf connection.
            _ => {
                let err = EnvelopeError::new(EnvelopeProblem::WrongFrameType);
                tracing::debug!(problem = %err.problem, "invalid envelope");
                refused(self.encode(&err.to_response()))
            }
        }
    }

    fn ids(&self, frame: &Frame) -> (u32, Uuid) {
        let Frame::Binary(bytes) = frame else {
            return (0, Uuid::nil());
        };
        let Ok(request) = crate::protobuf::decode_request(bytes) else {
            return (0, Uuid::nil());
        };
        match RawRequest::from_parts(request.pkg_id, request.req_id, "", |_| false) {
            Ok(raw) => (raw.pkg_id, raw.req_id),
            Err(err) => (err.pkg_id, err.req_id),
        }
    }

    fn encode(&self, response: &ResponseModel) -> Outbound {
        Outbound::Binary(Bytes::from(crate::protobuf::encode_model(response)))
    }

    fn push(&self, push: &Push) -> Frame {
        Frame::Binary(push.protobuf_frame().clone())
    }
}

/// A user's [`Codec`], driven like the built-in ones.
#[derive(Clone)]
pub(crate) struct CustomCodec(pub(crate) Arc<dyn Codec>);

impl fmt::Debug for CustomCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomCodec")
    }
}

impl WireCodec for CustomCodec {
    async fn handle(&self, router: &Router, session: &Session, frame: Frame) -> Answer {
        match self.0.decode(&frame) {
            Ok(request) => {
                let response = router.dispatch(session, request).await;
                let malformed = response.status_code == crate::RspCode::InvalidData
                    && response
                        .error_body()
                        .is_some_and(|body| body.code == crate::error_code::INVALID_ENVELOPE);
                Answer {
                    frame: self.encode(&response),
                    malformed,
                }
            }
            Err(err) => {
                tracing::debug!(pkg_id = err.pkg_id, req_id = %err.req_id, problem = %err.problem, "invalid envelope");
                refused(self.encode(&err.to_response()))
            }
        }
    }

    fn ids(&self, frame: &Frame) -> (u32, Uuid) {
        match self.0.decode(frame) {
            Ok(request) => (request.pkg_id, request.req_id),
            Err(err) => (err.pkg_id, err.req_id),
        }
    }

    fn encode(&self, response: &ResponseModel) -> Outbound {
        match self.0.encode(response) {
            Frame::Binary(bytes) => Outbound::Binary(bytes),
            Frame::Text(bytes) => Outbound::Text(bytes),
            other => {
                tracing::error!(frame = ?other, "a codec encoded a response as a control frame");
                Outbound::Text(Bytes::from(response.to_json()))
            }
        }
    }

    fn push(&self, push: &Push) -> Frame {
        self.0.encode_push(push)
    }
}

/// The codec of one connection: one of the built-in formats, or a user's.
#[derive(Clone, Debug)]
pub(crate) enum AnyCodec {
    Json(JsonCodec),
    #[cfg(feature = "protobuf")]
    Protobuf(ProtobufCodec),
    Custom(CustomCodec),
}

impl WireCodec for AnyCodec {
    async fn handle(&self, router: &Router, session: &Session, frame: Frame) -> Answer {
        match self {
            Self::Json(codec) => codec.handle(router, session, frame).await,
            #[cfg(feature = "protobuf")]
            Self::Protobuf(codec) => codec.handle(router, session, frame).await,
            Self::Custom(codec) => codec.handle(router, session, frame).await,
        }
    }

    fn ids(&self, frame: &Frame) -> (u32, Uuid) {
        match self {
            Self::Json(codec) => codec.ids(frame),
            #[cfg(feature = "protobuf")]
            Self::Protobuf(codec) => codec.ids(frame),
            Self::Custom(codec) => codec.ids(frame),
        }
    }

    fn encode(&self, response: &ResponseModel) -> Outbound {
        match self {
            Self::Json(codec) => codec.encode(response),
            #[cfg(feature = "protobuf")]
            Self::Protobuf(codec) => codec.encode(response),
            Self::Custom(codec) => codec.encode(response),
        }
    }

    fn push(&self, push: &Push) -> Frame {
        match self {
            Self::Json(codec) => codec.push(push),
            #[cfg(feature = "protobuf")]
            Self::Protobuf(codec) => codec.push(push),
            Self::Custom(codec) => codec.push(push),
        }
    }
}
