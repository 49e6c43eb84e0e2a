//! Properties of the protobuf format (proptest, 256 cases each): any response envelope goes
//! JSON -> protobuf -> JSON unchanged, byte for byte (big integers, key order, `[]`, empty and
//! absent cursors); counts above `i32::MAX` are clamped, never wrapped; and any request answered
//! over a protobuf connection gets the very answer a JSON connection gets.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use pkg_router::protobuf::{Message as _, Request, Response};
use pkg_router::testing::MemorySocket;
use pkg_router::transport::{AuthMode, Endpoint, Frame, WsConfig};
use pkg_router::{HandlerError, PageMeta, RequestModel, Router};
use proptest::prelude::*;
use serde_json::Value;
use std::sync::Arc;
use uuid::Uuid;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

/// Any JSON value a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((".{0,6}", inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// JSON text as a handler may write it: any value, or an object whose keys are out of order
/// and whose numbers no `f64` or `u64` holds.
fn data_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => json_value().prop_map(|value| value.to_string()),
        1 => ("[1-9][0-9]{20,40}", "-?[0-9]\\.[0-9]{20}e[0-9]{3}").prop_map(|(big, precise)| {
            format!(r#"{{"z":{big},"a":[],"m":{{}},"p":{precise}}}"#)
        }),
    ]
}

fn meta() -> impl Strategy<Value = Option<PageMeta>> {
    let count = 0u32..=i32::MAX as u32;
    let cursor = prop_oneof![
        Just(None),
        Just(Some(String::new())),
        ".{0,12}".prop_map(Some)
    ];
    prop_oneof![
        Just(None),
        (
            count.clone(),
            count.clone(),
            0u64..=i32::MAX as u64,
            count,
            cursor,
            any::<bool>()
        )
            .prop_map(|(page, per_page, total, pages, next_cursor, has_more)| {
                Some(PageMeta {
                    page,
                    per_page,
                    total,
                    pages,
                    next_cursor,
                    has_more,
                })
            }),
    ]
}

/// A response frame exactly as the server writes it.
fn response_frame() -> impl Strategy<Value = String> {
    (0u32..=i32::MAX as u32, any::<u128>(), 0u8..=3, meta(), data_text()).prop_map(
        |(pkg_id, req_id, status, meta, data)| {
            format!(
                r#"{{"pkg_id":{pkg_id},"req_id":"{}","status_code":{status},"meta":{},"data":{data}}}"#,
                Uuid::from_u128(req_id),
                serde_json::to_string(&meta).unwrap(),
            )
        },
    )
}

async fn echo(request: RequestModel) -> Result<Value, HandlerError> {
    Ok(Value::Object(request.data))
}

/// One connection of `endpoint` in `format`, over an in-memory socket.
fn open(endpoint: &Arc<Endpoint>, format: &str) -> pkg_router::testing::MemoryClient {
    let admission = endpoint.admit(Some(format), None).unwrap();
    let (socket, client) = MemorySocket::pair();
    tokio::spawn(Arc::clone(endpoint).serve(socket, admission, None));
    client
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_response_goes_json_protobuf_json_unchanged(frame in response_frame()) {
        let response = Response::from_json_frame(&frame).unwrap();
        let wire = Response::decode(&response.encode_to_vec()[..]).unwrap();
        prop_assert_eq!(&wire, &response);
        prop_assert_eq!(wire.to_json_frame().unwrap(), frame);
    }

    #[test]
    fn counts_above_i32_max_are_clamped_never_wrapped(total in any::<u64>(), pages in any::<u32>()) {
        let mut meta = PageMeta::offset(1, 20, total);
        meta.pages = pages;
        let proto = pkg_router::protobuf::Metadata::from(&meta);
        prop_assert_eq!(i64::from(proto.total), total.min(i32::MAX as u64) as i64);
        prop_assert_eq!(i64::from(proto.pages), i64::from(pages.min(i32::MAX as u32)));
    }

    #[test]
    fn any_request_gets_the_same_answer_over_protobuf_as_over_json(
        pkg_id in 0u32..3,
        req_id in any::<u128>(),
        data in json_value(),
    ) {
        let req_id = Uuid::from_u128(req_id);
        let data = data.to_string();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (json, proto) = runtime.block_on(async {
            let mut config = WsConfig::default();
            config.auth = AuthMode::Disabled;
            let router = Router::builder().handler(1, echo).build().unwrap();
            let endpoint = Arc::new(Endpoint::new(router, config));
            let mut json_client = open(&endpoint, "json");
            let mut proto_client = open(&endpoint, "protobuf");
            json_client.send_text(&format!(r#"{{"pkg_id":{pkg_id},"req_id":"{req_id}","data":{data}}}"#));
            let json = json_client.recv_text().await;
            proto_client.send(Frame::Binary(Request::new(pkg_id, req_id, data.clone()).encode_to_vec().into()));
            let Some(Frame::Binary(bytes)) = proto_client.recv().await else {
                panic!("expected a binary frame");
            };
            (json, Response::decode(&bytes[..]).unwrap())
        });
        prop_assert_eq!(proto.to_json_frame().unwrap(), json);
    }
}
