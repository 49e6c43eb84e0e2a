//! Wire rules of [protocol §2 and §4.3](pkg_router::protocol), driven through the frame-level
//! entry point.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use pkg_router::router::Session;
use pkg_router::{HandlerError, RequestModel, ResponseModel, Router, RspCode};
use serde_json::{Value, json};

const REQ_ID: &str = "550e8400-e29b-41d4-a716-446655440000";

async fn echo(req: RequestModel) -> Result<Value, HandlerError> {
    Ok(Value::Object(req.data))
}

fn router() -> Router {
    Router::builder().handler(3, echo).build().unwrap()
}

async fn send(frame: impl AsRef<str>) -> (String, ResponseModel) {
    let text = router()
        .handle_json(&Session::anonymous(), frame.as_ref())
        .await;
    let parsed: ResponseModel = serde_json::from_str(&text).unwrap();
    (text, parsed)
}

fn assert_invalid_envelope(response: &ResponseModel, pkg_id: u32, req_id: &str) {
    assert_eq!(response.status_code, RspCode::InvalidData, "{response:?}");
    assert_eq!(response.error_body().unwrap().code, "invalid_envelope");
    assert_eq!(response.pkg_id, pkg_id);
    assert_eq!(response.req_id.to_string(), req_id);
}

const NIL: &str = "00000000-0000-0000-0000-000000000000";

#[tokio::test]
async fn response_fields_come_in_protocol_order() {
    let (text, _) = send(format!(
        r#"{{"pkg_id":3,"req_id":"{REQ_ID}","data":{{"title":"Dune"}}}}"#
    ))
    .await;
    assert_eq!(
        text,
        format!(
            r#"{{"pkg_id":3,"req_id":"{REQ_ID}","status_code":0,"meta":null,"data":{{"title":"Dune"}}}}"#
        )
    );
}

#[tokio::test]
async fn every_uuid_form_is_accepted_and_echoed_canonically() {
    for form in [
        "550e8400-e29b-41d4-a716-446655440000",
        "550E8400-E29B-41D4-A716-446655440000",
        "550e8400e29b41d4a716446655440000",
        "{550e8400-e29b-41d4-a716-446655440000}",
        "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
        "URN:UUID:550E8400-E29B-41D4-A716-446655440000",
    ] {
        let (_, response) = send(format!(r#"{{"pkg_id":3,"req_id":"{form}"}}"#)).await;
        assert!(response.is_ok(), "{form}: {response:?}");
        assert_eq!(response.req_id.to_string(), REQ_ID, "{form}");
    }
}

#[tokio::test]
async fn invalid_json_is_answered_with_nil_ids() {
    for frame in ["", "{", "not json", "\u{0}", "{\"data\":{}} trailing"] {
        let (_, response) = send(frame).await;
        assert_invalid_envelope(&response, 0, NIL);
        assert!(
            response
                .error_body()
                .unwrap()
                .msg
                .contains("not valid JSON")
        );
    }
}

#[tokio::test]
async fn ids_read_before_a_syntax_error_are_echoed() {
    let (_, response) = send(format!(
        r#"{{"pkg_id":3,"req_id":"{REQ_ID}","data":{{"a":}}}}"#
    ))
    .await;
    assert_invalid_envelope(&response, 3, REQ_ID);
    assert!(
        response
            .error_body()
            .unwrap()
            .msg
            .contains("not valid JSON")
    );
}

#[tokio::test]
async fn data_before_pkg_id_is_still_accepted() {
    let (_, response) = send(format!(
        r#"{{"data":{{"a":[1]}},"req_id":"{REQ_ID}","pkg_id":3}}"#
    ))
    .await;
    assert_eq!(response.data, json!({"a": [1]}));
}

#[tokio::test]
async fn escaped_keys_are_recognised() {
    let (_, response) = send(format!(
        r#"{{"pkg\u005fid":3,"req_id":"{REQ_ID}","d\u0061ta":{{"a":1}}}}"#
    ))
    .await;
    assert_eq!(response.data, json!({"a": 1}));
}

#[tokio::test]
async fn non_object_frames_are_answered() {
    for frame in ["[]", "42", "\"text\"", "null", "true", "[{\"pkg_id\":3}]"] {
        let (_, response) = send(frame).await;
        assert_invalid_envelope(&response, 0, NIL);
        assert_eq!(
            response.error_body().unwrap().msg,
            "frame must be a JSON object"
        );
    }
}

#[tokio::test]
async fn pkg_id_of_the_wrong_type_is_refused_not_coerced() {
    for bad in [
        "\"3\"",
        "3.0",
        "3.5",
        "1e0",
        "true",
        "-1",
        "2147483648",
        "[3]",
        "{}",
    ] {
        let (_, response) = send(format!(r#"{{"pkg_id":{bad},"req_id":"{REQ_ID}"}}"#)).await;
        // The valid req_id is salvaged so the client can correlate.
        assert_invalid_envelope(&response, 0, REQ_ID);
        let body = response.error_body().unwrap();
        assert!(body.msg.contains("pkg_id"), "{bad}: {}", body.msg);
        assert_eq!(body.details, Some(json!({"field": "pkg_id"})));
    }
}

#[tokio::test]
async fn largest_pkg_id_is_accepted_as_an_id() {
    let (_, response) = send(format!(r#"{{"pkg_id":2147483647,"req_id":"{REQ_ID}"}}"#)).await;
    assert_eq!(response.error_body().unwrap().code, "unknown_pkg_id");
    assert_eq!(response.pkg_id, 2_147_483_647);
}

#[tokio::test]
async fn missing_pkg_id_is_answered_with_the_salvaged_req_id() {
    for frame in [
        format!(r#"{{"req_id":"{REQ_ID}"}}"#),
        format!(r#"{{"pkg_id":null,"req_id":"{REQ_ID}"}}"#),
    ] {
        let (_, response) = send(frame).await;
        assert_invalid_envelope(&response, 0, REQ_ID);
        assert_eq!(response.error_body().unwrap().msg, "missing pkg_id");
    }
}

#[tokio::test]
async fn invalid_req_id_is_answered_with_the_salvaged_pkg_id() {
    for bad in [
        "\"\"",
        "\"abc\"",
        "42",
        "\"550e8400-e29b-41d4-a716-44665544000\"",
        "{}",
    ] {
        let (_, response) = send(format!(r#"{{"pkg_id":3,"req_id":{bad}}}"#)).await;
        assert_invalid_envelope(&response, 3, NIL);
        assert_eq!(
            response.error_body().unwrap().details,
            Some(json!({"field": "req_id"}))
        );
    }
    let (_, response) = send(r#"{"pkg_id":3}"#).await;
    assert_invalid_envelope(&response, 3, NIL);
    assert_eq!(response.error_body().unwrap().msg, "missing req_id");
}

#[tokio::test]
async fn non_object_data_is_invalid() {
    for bad in ["[]", "1", "\"x\"", "true"] {
        let (_, response) = send(format!(
            r#"{{"pkg_id":3,"req_id":"{REQ_ID}","data":{bad}}}"#
        ))
        .await;
        assert_invalid_envelope(&response, 3, REQ_ID);
        assert_eq!(
            response.error_body().unwrap().details,
            Some(json!({"field": "data"}))
        );
    }
}

#[tokio::test]
async fn absent_or_null_data_reads_as_an_empty_object() {
    for frame in [
        format!(r#"{{"pkg_id":3,"req_id":"{REQ_ID}"}}"#),
        format!(r#"{{"pkg_id":3,"req_id":"{REQ_ID}","data":null}}"#),
    ] {
        let (_, response) = send(frame).await;
        assert_eq!(response.data, json!({}));
    }
}

#[tokio::test]
async fn unknown_keys_and_method_are_ignored() {
    let (_, response) = send(format!(
        r#"{{"method":"books.create","pkg_id":3,"extra":[1,2],"req_id":"{REQ_ID}","data":{{"a":1}},"trace":{{"x":null}}}}"#
    ))
    .await;
    assert!(response.is_ok());
    assert_eq!(response.data, json!({"a": 1}));
}

#[tokio::test]
async fn duplicate_keys_are_refused() {
    let (_, response) = send(format!(r#"{{"pkg_id":3,"pkg_id":4,"req_id":"{REQ_ID}"}}"#)).await;
    assert_eq!(response.status_code, RspCode::InvalidData);
    assert_eq!(response.error_body().unwrap().code, "invalid_envelope");
}

#[tokio::test]
async fn a_duplicate_key_is_named_in_the_answer() {
    for (frame, key) in [
        (
            format!(r#"{{"pkg_id":1,"pkg_id":2,"req_id":"{REQ_ID}"}}"#),
            "pkg_id",
        ),
        (
            format!(r#"{{"pkg_id":3,"req_id":"{REQ_ID}","req_id":"{REQ_ID}"}}"#),
            "req_id",
        ),
        (
            format!(r#"{{"pkg_id":3,"req_id":"{REQ_ID}","data":{{}},"data":{{}}}}"#),
            "data",
        ),
    ] {
        let (_, response) = send(frame).await;
        assert_eq!(response.status_code, RspCode::InvalidData, "{key}");
        let body = response.error_body().unwrap();
        assert_eq!(body.code, "invalid_envelope");
        assert_eq!(body.msg, format!("duplicate field `{key}`"));
        assert_eq!(body.details.unwrap()["field"], key);
    }
}

#[tokio::test]
async fn deeply_nested_data_is_refused_without_overflowing_the_stack() {
    for depth in [200, 100_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let (_, response) = send(format!(
            r#"{{"pkg_id":3,"req_id":"{REQ_ID}","data":{{"x":{nested}}}}}"#
        ))
        .await;
        assert_eq!(response.status_code, RspCode::InvalidData, "depth {depth}");
        assert_eq!(response.error_body().unwrap().code, "invalid_envelope");
    }
}

#[tokio::test]
async fn moderately_nested_data_is_accepted() {
    let nested = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let (_, response) = send(format!(
        r#"{{"pkg_id":3,"req_id":"{REQ_ID}","data":{{"x":{nested}}}}}"#
    ))
    .await;
    assert!(response.is_ok(), "{response:?}");
}

#[tokio::test]
async fn unknown_pkg_id_is_an_error_with_code_unknown_pkg_id() {
    let (_, response) = send(format!(r#"{{"pkg_id":99,"req_id":"{REQ_ID}"}}"#)).await;
    assert_eq!(response.status_code, RspCode::Error);
    assert_eq!(response.pkg_id, 99);
    assert_eq!(response.req_id.to_string(), REQ_ID);
    assert_eq!(response.error_body().unwrap().code, "unknown_pkg_id");
}

#[tokio::test]
async fn arbitrary_bytes_never_panic_and_always_get_an_answer() {
    // A cheap deterministic fuzz: mutate a valid frame byte by byte.
    let valid = format!(r#"{{"pkg_id":3,"req_id":"{REQ_ID}","data":{{"t":[1,"x",null]}}}}"#);
    let router = router();
    let session = Session::anonymous();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..2_000 {
        let mut frame = valid.clone().into_bytes();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed as usize) % frame.len();
            frame[at] = (seed >> 32) as u8;
        }
        let text = router
            .handle_json(&session, &String::from_utf8_lossy(&frame))
            .await;
        let response: ResponseModel = serde_json::from_str(&text).unwrap();
        assert!(matches!(
            response.status_code,
            RspCode::Ok | RspCode::InvalidData | RspCode::Error
        ));
    }
}
