//! Wire formats: how a connection's frames become requests and its answers become frames.

use super::frame::Frame;
use crate::envelope::{EnvelopeError, EnvelopeProblem, RawRequest, ResponseModel};
use crate::hub::{Outbound, Push};
use crate::router::{Router, Session};
use bytes::Bytes;
use std::future::Future;
use uuid::Uuid;

/// One wire format ([protocol §1](crate::protocol#1-transport)): JSON text frames today; the
/// protobuf format plugs in as a second implementation without touching the connection loop or
/// the router.
pub(crate) trait Codec: Copy + Send + Sync + 'static {
    /// Decodes one data frame, dispatches it and encodes the answer; the flag tells whether the
    /// frame was malformed.
    fn handle<'a>(
        self,
        router: &'a Router,
        session: &'a Session,
        frame: Frame,
    ) -> impl Future<Output = Answer> + Send + 'a;

    /// The `pkg_id` and `req_id` of a data frame, or 0 and nil when they cannot be read.
    fn ids(self, frame: &Frame) -> (u32, Uuid);

    /// Encodes a response the transport built itself (rate limited, timed out).
    fn encode(self, response: &ResponseModel) -> Outbound;

    /// The frame that carries a push on this format.
    fn push(self, push: &Push) -> Frame;
}

/// JSON text frames.
/// A request's answer, ready for the socket.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The encoded response.
    pub(crate) frame: Outbound,
    /// The frame was not a valid request envelope (counts toward `max_malformed`).
    pub(crate) malformed: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct JsonCodec;

impl Codec for JsonCodec {
    async fn handle(self, router: &Router, session: &Session, frame: Frame) -> Answer {
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
        Answer {
            frame: self.encode(&EnvelopeError::new(problem).to_response()),
            malformed: true,
        }
    }

    fn ids(self, frame: &Frame) -> (u32, Uuid) {
        let Frame::Text(bytes) = frame else {
            return (0, Uuid::nil());
        };
        match std::str::from_utf8(bytes).map(RawRequest::parse) {
            Ok(Ok(raw)) => (raw.pkg_id, raw.req_id),
            Ok(Err(err)) => (err.pkg_id, err.req_id),
            Err(_) => (0, Uuid::nil()),
        }
    }

    fn encode(self, response: &ResponseModel) -> Outbound {
        Outbound::Text(Bytes::from(response.to_json()))
    }

    fn push(self, push: &Push) -> Frame {
        Frame::Text(push.json_frame().clone())
    }
}
