//! (d) The JSON codec, frame in, answer out: `Router::handle_json` (what the transport's JSON
//! codec calls for every text frame) with a router of several handlers, as one of three callers.
//!
//! Checks: no panic; exactly one answer, a response envelope in the protocol's field order that
//! echoes the ids the envelope decoder reads; the status the processing rules of the protocol
//! section 4 give for the handler, the caller's roles and the data.

use super::app::{self, CREATE, ECHO, FAIL, LIST, PANIC, SLEEP, SLEEP_TIMEOUT};
use pkg_router::envelope::EnvelopeProblem;
use pkg_router::router::Session;
use pkg_router::{RequestModel, ResponseModel, RspCode};
use serde_json::Value;
use std::cell::RefCell;

thread_local! {
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// The target: the first byte picks the caller, the rest is the frame.
pub fn json_codec(data: &[u8]) {
    let Some((&who, frame)) = data.split_first() else {
        return;
    };
    let Ok(frame) = std::str::from_utf8(frame) else {
        return;
    };
    let principal = app::principal(who);
    let roles: Vec<String> = principal.roles.to_vec();
    let session = Session::new(principal);
    let router = app::router();
    let answer = RUNTIME.with(|runtime| {
        let mut runtime = runtime.borrow_mut();
        let runtime = runtime.get_or_insert_with(app::runtime);
        runtime.block_on(router.handle_json(&session, frame))
    });
    assert!(answer.starts_with(r#"{"pkg_id":"#), "{answer}");
    let response: ResponseModel = serde_json::from_str(&answer).expect("the answer is a response");
    let value: Value = serde_json::from_str(&answer).expect("the answer is JSON");
    let keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["data", "meta", "pkg_id", "req_id", "status_code"]);
    let code = response.error_body().map(|body| body.code.into_owned());
    assert_eq!(
        response.is_ok(),
        code.is_none(),
        "an error always has a body: {answer}"
    );
    let code = code.as_deref();
    let request = match RequestModel::from_json(frame) {
        Ok(request) => request,
        Err(err) => {
            assert_eq!((response.pkg_id, response.req_id), (err.pkg_id, err.req_id));
            if code != Some("invalid_envelope") {
                // Only a `data` nested too deeply: the router checks handler and roles before
                // it parses `data` for callers it would refuse anyway.
                assert!(
                    matches!(err.problem, EnvelopeProblem::Json(_)),
                    "{err:?} -> {answer}"
                );
                assert!(
                    matches!(code, Some("unknown_pkg_id" | "permission_denied")),
                    "{answer}"
                );
            }
            return;
        }
    };
    assert_eq!(
        (response.pkg_id, response.req_id),
        (request.pkg_id, request.req_id)
    );
    let has = |role: &str| roles.iter().any(|r| r == role);
    let status = response.status_code;
    match request.pkg_id {
        ECHO => assert_ok_or_deep(&response, code, |data| {
            data == &Value::Object(request.data.clone())
        }),
        CREATE if !has("writer") => assert_eq!(code, Some("permission_denied")),
        CREATE => assert!(
            response.is_ok() || matches!(code, Some("validation_error" | "invalid_envelope")),
            "{answer}"
        ),
        LIST if !has("reader") => assert_eq!(code, Some("permission_denied")),
        LIST => {
            if response.is_ok() {
                let meta = response.meta.as_ref().expect("a page has meta");
                assert!(
                    meta.per_page >= 1 && meta.per_page <= app::MAX_PER_PAGE,
                    "{meta:?}"
                );
                let items = response.data.as_array().expect("a list").len();
                assert!(items <= meta.per_page as usize);
            } else {
                assert!(
                    matches!(code, Some("validation_error" | "invalid_envelope")),
                    "{answer}"
                );
            }
        }
        PANIC => assert_ok_or_deep(&response, code, |_| false),
        FAIL => assert_ok_or_deep(&response, code, |_| false),
        SLEEP => {
            let ms = request.data.get("ms").and_then(Value::as_u64).unwrap_or(0);
            if ms.min(5_000) as u128 > SLEEP_TIMEOUT.as_millis() {
                assert!(
                    matches!(code, Some("timeout" | "invalid_envelope")),
                    "{answer}"
                );
            } else {
                assert_ok_or_deep(&response, code, |data| data == &Value::from(ms));
            }
        }
        _ => assert_eq!(code, Some("unknown_pkg_id")),
    }
    if let Some(code) = code {
        let expected = match code {
            "invalid_envelope" | "validation_error" => RspCode::InvalidData,
            "permission_denied" => RspCode::PermissionDenied,
            _ => RspCode::Error,
        };
        assert_eq!(status, expected, "{answer}");
    }
    if code == Some("invalid_envelope") {
        // The router parses `data` of a caller it accepts while reading the envelope, one level
        // deeper than `RequestModel::from_json` does: data nested ~128 deep is refused there.
        let body = response.error_body().expect("a body");
        assert!(body.msg.contains("recursion limit"), "{answer}");
    }
}

/// The handler's own outcome (`expect` on the data when OK), unless its `data` was too deep.
fn assert_ok_or_deep(
    response: &ResponseModel,
    code: Option<&str>,
    expect: impl Fn(&Value) -> bool,
) {
    match (response.pkg_id, code) {
        (_, Some("invalid_envelope")) => {}
        (PANIC, code) => assert_eq!(code, Some("internal_error")),
        (FAIL, code) => assert_eq!(code, Some("not_found")),
        (_, None) => assert!(expect(&response.data), "{:?}", response.data),
        (_, code) => panic!("unexpected error {code:?}"),
    }
}
