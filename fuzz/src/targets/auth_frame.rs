//! (b) The first-frame handshake: `Endpoint::serve` over an in-memory socket, with the
//! [`Tokens`] authenticator, auth required or optional, and any first frame.
//!
//! After the first frame the client sends one request and hangs up. Checks: no panic; the
//! connection task ends; what the server sends is what protocol §6.2 says for that
//! frame: `auth_ok` then the request's answer for a `{"type": "auth", "token": "Bearer <t>"}`
//! with an accepted token, close 4001 for any other first frame when auth is required (or a
//! refused or expired token), 4002 when nothing comes in time, 1009 for a message too big, and
//! with optional auth an answer to a first frame that is not an auth frame; then close 1000.

use super::app::{self, Tokens, Verdict};
use super::oracle::{self, Entries};
use super::pipe::{self, Client};
use bytes::Bytes;
use pkg_router::hub::{CloseReason, close_code};
use pkg_router::transport::{AuthMode, Endpoint, Frame, SocketError, WsConfig};
use pkg_router::{RequestModel, ResponseModel};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const REQUEST: &str =
    r#"{"pkg_id":1,"req_id":"550e8400-e29b-41d4-a716-446655440000","data":{"n":1}}"#;

/// What the server should send, in order.
#[derive(Debug, PartialEq)]
enum Expect {
    AuthOk,
    /// An answer to some request frame.
    Answer,
    /// The answer to [`REQUEST`].
    RequestAnswer,
    Close(u16),
}

/// The target: the first byte picks the mode and how the first frame comes, the rest is it.
pub fn auth_frame(data: &[u8]) {
    let Some((&how, payload)) = data.split_first() else {
        return;
    };
    let required = how & 1 == 0;
    let text = std::str::from_utf8(payload).ok();
    let first = match (how >> 1) % 8 {
        0..=2 if text.is_some() => First::Text,
        3 => First::Binary,
        4 => First::PingThenText,
        5 => First::Silence,
        6 => First::Close,
        7 => First::TooBig,
        _ => First::Binary,
    };
    let first = match first {
        First::PingThenText if text.is_none() => First::Binary,
        other => other,
    };
    let expected = expect(required, first, text);

    let runtime = app::runtime();
    let sent = runtime.block_on(async move {
        let mut config = WsConfig::default();
        config.auth = if required {
            AuthMode::Required
        } else {
            AuthMode::Optional
        };
        let endpoint = Arc::new(Endpoint::new(app::router(), config).with_authenticator(Tokens));
        let admission = endpoint.admit(None, None).expect("admitted");
        let (socket, mut client) = pipe::pipe(None);
        let task = tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));
        let payload = Bytes::copy_from_slice(payload);
        match first {
            First::Text => client.send(Ok(Frame::Text(payload))),
            First::Binary => client.send(Ok(Frame::Binary(payload))),
            First::PingThenText => {
                client.send(Ok(Frame::Ping(Bytes::new())));
                client.send(Ok(Frame::Text(payload)))
            }
            First::Silence => {
                tokio::time::sleep(Duration::from_secs(6)).await;
                true
            }
            First::Close => client.send(Ok(Frame::Close(None))),
            First::TooBig => client.send(Err(SocketError::TooBig)),
        };
        client.send(pipe::text(REQUEST));
        client.hang_up();
        let sent = read_all(&client).await;
        let ended = tokio::time::timeout(Duration::from_secs(3_600), task).await;
        ended
            .expect("the connection task ends")
            .expect("the connection task does not panic");
        assert_eq!(endpoint.hub().connection_count(), 0);
        sent
    });
    let got: Vec<Expect> = sent.iter().map(classify).collect();
    assert_eq!(
        got, expected,
        "{first:?}, required {required}, {text:?}: {sent:?}"
    );
}

#[derive(Clone, Copy, Debug)]
enum First {
    Text,
    Binary,
    PingThenText,
    Silence,
    Close,
    TooBig,
}

async fn read_all(client: &Client) -> Vec<Frame> {
    let mut frames = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(3_600), client.recv()).await {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return frames,
            Err(_) => panic!("the server neither sent nor closed: {frames:?}"),
        }
    }
}

fn classify(frame: &Frame) -> Expect {
    match frame {
        Frame::Close(Some(CloseReason { code, .. })) => Expect::Close(*code),
        Frame::Text(bytes) if &bytes[..] == br#"{"type":"auth_ok"}"# => Expect::AuthOk,
        Frame::Text(bytes) => {
            let answer: ResponseModel = serde_json::from_slice(bytes).expect("an answer");
            let request = RequestModel::from_json(REQUEST).expect("a request");
            if (answer.pkg_id, answer.req_id) == (request.pkg_id, request.req_id)
                && answer.data == Value::Object(request.data)
            {
                Expect::RequestAnswer
            } else {
                Expect::Answer
            }
        }
        other => panic!("unexpected frame {other:?}"),
    }
}

fn expect(required: bool, first: First, text: Option<&str>) -> Vec<Expect> {
    use Expect::{Answer, AuthOk, Close, RequestAnswer};
    match first {
        First::Close => vec![],
        First::TooBig => vec![Close(close_code::TOO_BIG)],
        First::Silence if required => vec![Close(close_code::AUTH_TIMEOUT)],
        First::Silence => vec![RequestAnswer, Close(close_code::NORMAL)],
        First::Binary if required => vec![Close(close_code::AUTH_FAILED)],
        First::Binary => vec![Answer, RequestAnswer, Close(close_code::NORMAL)],
        First::Text | First::PingThenText => match auth_token(text.unwrap_or_default()) {
            None if required => vec![Close(close_code::AUTH_FAILED)],
            None => {
                // Replayed as a request: its answer, unless it is REQUEST itself.
                let same = RequestModel::from_json(text.unwrap_or_default()).ok()
                    == RequestModel::from_json(REQUEST).ok();
                let first = if same { RequestAnswer } else { Answer };
                vec![first, RequestAnswer, Close(close_code::NORMAL)]
            }
            Some(None) => vec![Close(close_code::AUTH_FAILED)],
            Some(Some(token)) => match Tokens::verdict(&token) {
                Verdict::Accept => vec![AuthOk, RequestAnswer, Close(close_code::NORMAL)],
                Verdict::Expired | Verdict::Refuse => vec![Close(close_code::AUTH_FAILED)],
            },
        },
    }
}

/// `None`: not an auth frame; `Some(None)`: an auth frame without a usable bearer token;
/// `Some(Some(token))`: an auth frame carrying `token`.
fn auth_token(text: &str) -> Option<Option<String>> {
    // Only an object is an auth frame (a two-element array passed before be9d032).
    let entries = Entries::read(text)?;
    let kind = entries.once("type").ok()?.map(str::to_owned);
    let token = entries.once("token").ok()?.map(str::to_owned);
    let string = |raw: Option<String>| -> Result<Option<String>, ()> {
        match raw.as_deref() {
            None | Some("null") => Ok(None),
            Some(raw) => serde_json::from_str::<String>(raw)
                .map(Some)
                .map_err(|_| ()),
        }
    };
    let (kind, token) = (string(kind).ok()?, string(token).ok()?);
    if kind.as_deref() != Some("auth") {
        return None;
    }
    Some(token.as_deref().and_then(oracle::bearer).map(str::to_owned))
}
