//! (g) The protobuf codec, bytes in, answer out: any binary frame on a `?format=protobuf`
//! connection (an in-memory socket) of the targets' router.
//!
//! Checks: no panic, no hang; exactly one answer, a binary frame that decodes as a `Response`
//! with a UUID `req_id`, a known status and valid JSON in `data_json`. Bytes that are not a
//! `Request` get `invalid_envelope` with `pkg_id` 0 and the nil `req_id`. A `Request` whose
//! `data_json` is JSON gets, byte for byte, the answer a JSON connection gives to the same
//! envelope written as JSON (so the two formats cannot drift apart on any path).

use super::app;
use pkg_router::ResponseModel;
use pkg_router::protobuf::{Message as _, Request, Response};
use pkg_router::testing::{MemoryClient, MemorySocket};
use pkg_router::transport::{AuthMode, Endpoint, Frame, WsConfig};
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::sync::Arc;

thread_local! {
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// The target: the whole input is one binary frame.
pub fn protobuf_codec(data: &[u8]) {
    let request = Request::decode(data).ok();
    let twin = request.as_ref().and_then(json_twin);
    let (answer, json_answer) = RUNTIME.with(|runtime| {
        let mut runtime = runtime.borrow_mut();
        let runtime = runtime.get_or_insert_with(app::runtime);
        runtime.block_on(async {
            let mut config = WsConfig::default();
            config.auth = AuthMode::Disabled;
            let endpoint = Arc::new(Endpoint::new(app::router(), config));
            let mut proto = open(&endpoint, "protobuf");
            proto.send(Frame::Binary(bytes::Bytes::copy_from_slice(data)));
            let answer = proto.recv().await;
            let json_answer = match &twin {
                Some(frame) => {
                    let mut json = open(&endpoint, "json");
                    json.send_text(frame);
                    Some(json.recv_text().await)
                }
                None => None,
            };
            (answer, json_answer)
        })
    });
    let Some(Frame::Binary(bytes)) = answer else {
        panic!("expected one binary answer, got {answer:?}");
    };
    let response = Response::decode(&bytes[..]).expect("the answer is a Response");
    let model = response.to_model().expect("the answer's fields are valid");
    match (&request, json_answer) {
        (None, _) => {
            assert_eq!(
                (model.pkg_id, model.req_id.is_nil()),
                (0, true),
                "{response:?}"
            );
            let body = model.error_body().expect("an error");
            assert_eq!(body.code, "invalid_envelope", "{response:?}");
        }
        (Some(_), Some(json)) => {
            let ours = response.to_json_frame().expect("convertible");
            let not_json = "frame is not valid JSON: ";
            let json_model: ResponseModel = serde_json::from_str(&json).expect("a response");
            match (model.error_body(), json_model.error_body()) {
                // JSON text that only a full parse refuses (a number out of range): the
                // messages place the error in `data_json` and in the frame, at other columns;
                // and the JSON connection meets it before any other problem of the frame (a
                // bad `req_id`, say), where protobuf reads the fields first. Same code, ids.
                (Some(a), Some(b))
                    if a.msg.starts_with(not_json) || b.msg.starts_with(not_json) =>
                {
                    assert_eq!(
                        (a.code, model.pkg_id, model.req_id),
                        (b.code, json_model.pkg_id, json_model.req_id)
                    );
                }
                _ => assert_eq!(ours, json),
            }
        }
        (Some(_), None) => {
            // `data_json` is not JSON: refused as an envelope problem.
            let body = model.error_body().expect("an error");
            assert_eq!(body.code, "invalid_envelope", "{response:?}");
        }
    }
}

fn open(endpoint: &Arc<Endpoint>, format: &str) -> MemoryClient {
    let admission = endpoint.admit(Some(format), None).expect("admitted");
    let (socket, client) = MemorySocket::pair();
    tokio::spawn(Arc::clone(endpoint).serve(socket, admission, None));
    client
}

/// The JSON envelope that means what `request` means, when there is one: proto3 cannot tell an
/// empty `req_id` or `data_json` from an absent one, so those are left out.
fn json_twin(request: &Request) -> Option<String> {
    let mut frame = format!(r#"{{"pkg_id":{}"#, request.pkg_id);
    if !request.req_id.is_empty() {
        frame.push_str(r#","req_id":"#);
        frame.push_str(&serde_json::to_string(&request.req_id).ok()?);
    }
    if !request.data_json.trim_ascii().is_empty() {
        let data: &RawValue = serde_json::from_str(&request.data_json).ok()?;
        // One level deeper inside the envelope: keep clear of serde_json's nesting limit.
        if depth(data.get()) > 100 {
            return None;
        }
        frame.push_str(r#","data":"#);
        frame.push_str(data.get());
    }
    frame.push('}');
    Some(frame)
}

/// The deepest nesting of arrays and objects in JSON text.
fn depth(json: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for byte in json.bytes() {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
            (false, _, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}
