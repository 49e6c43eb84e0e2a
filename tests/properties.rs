//! Properties over generated inputs (proptest, 256 cases each): any frame gets exactly one
//! response envelope, alone and over a connection; every accepted `req_id` form is echoed in
//! the canonical form; pagination metadata and parameters are consistent for any numbers.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "../fuzz/src/targets/pipe.rs"]
#[allow(dead_code, unreachable_pub)]
mod pipe;

use bytes::Bytes;
use pkg_router::envelope::EnvelopeProblem;
use pkg_router::hub::CloseReason;
use pkg_router::pagination::DEFAULT_PER_PAGE;
use pkg_router::router::Session;
use pkg_router::testing::TestRouter;
use pkg_router::transport::{AuthMode, Endpoint, Frame, WsConfig};
use pkg_router::{
    HandlerError, PageMeta, PageParams, Principal, RequestModel, ResponseModel, Route, Router,
    RspCode,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use uuid::Uuid;

async fn echo(request: RequestModel) -> Result<Value, HandlerError> {
    Ok(Value::Object(request.data))
}

async fn per_page(page: PageParams) -> Result<u32, HandlerError> {
    Ok(page.per_page)
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[allow(dead_code)]
struct Book {
    #[schemars(length(min = 1, max = 200))]
    title: String,
    #[schemars(range(min = 1))]
    author_id: i64,
}

fn router() -> Router {
    Router::builder()
        .handler(1, echo)
        .route(Route::new(2, echo).roles(["writer"]).schema::<Book>())
        .route(Route::new(3, per_page).roles(["reader"]))
        .build()
        .unwrap()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

/// Any JSON value a few levels deep, with the envelope's keys among the object keys.
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
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("pkg_id".to_owned()),
        Just("req_id".to_owned()),
        Just("data".to_owned()),
        Just("title".to_owned()),
        ".{0,6}",
    ]
}

/// A frame that is mostly an envelope: each field absent, valid or invalid in some way.
fn envelope() -> impl Strategy<Value = String> {
    let pkg_id = prop_oneof![
        Just(None),
        (0u32..5).prop_map(|id| Some(json!(id))),
        json_value().prop_map(Some),
    ];
    let req_id = prop_oneof![
        Just(None),
        any::<u128>().prop_map(|n| Some(json!(Uuid::from_u128(n)))),
        json_value().prop_map(Some),
    ];
    let data = prop_oneof![
        Just(None),
        Just(Some(json!({"title": "Dune", "author_id": 1}))),
        json_value().prop_map(Some),
    ];
    (pkg_id, req_id, data, json_value()).prop_map(|(pkg_id, req_id, data, extra)| {
        let mut map = Map::new();
        for (key, value) in [("pkg_id", pkg_id), ("req_id", req_id), ("data", data)] {
            if let Some(value) = value {
                map.insert(key.to_owned(), value);
            }
        }
        map.insert("extra".to_owned(), extra);
        Value::Object(map).to_string()
    })
}

/// Any text: an envelope-like object, any JSON value, or any bytes read as UTF-8.
fn frame_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => envelope(),
        1 => json_value().prop_map(|value| value.to_string()),
        1 => prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    ]
}

fn principal() -> impl Strategy<Value = Principal> {
    prop_oneof![
        Just(Principal::anonymous()),
        Just(Principal::new("ann", "ann").with_roles(["reader", "writer"])),
    ]
}

/// The ids an answer to `frame` must carry: those of the request, or those the decoder salvaged.
fn expected_ids(frame: &str) -> (u32, Uuid, bool) {
    match RequestModel::from_json(frame) {
        Ok(request) => (request.pkg_id, request.req_id, true),
        Err(err) => (err.pkg_id, err.req_id, false),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_frame_gets_one_response_envelope_echoing_its_ids(frame in frame_text(), who in principal()) {
        let session = Session::new(who);
        let text = runtime().block_on(router().handle_json(&session, &frame));
        // One JSON value (serde_json refuses trailing text), and a response envelope.
        let response: ResponseModel = serde_json::from_str(&text).unwrap();
        prop_assert!(text.starts_with(r#"{"pkg_id":"#), "{}", text);
        let (pkg_id, req_id, decoded) = expected_ids(&frame);
        prop_assert_eq!((response.pkg_id, response.req_id), (pkg_id, req_id));
        let code = response.error_body().map(|body| body.code.into_owned());
        prop_assert_eq!(code.as_deref() == Some("invalid_envelope"), !decoded, "{}", text);
        prop_assert_eq!(response.is_ok(), code.is_none());
    }

    #[test]
    fn any_frames_over_a_connection_get_one_answer_each(
        frames in prop::collection::vec(
            prop_oneof![
                4 => frame_text().prop_map(|text| Frame::Text(Bytes::from(text))),
                1 => prop::collection::vec(any::<u8>(), 0..16).prop_map(|b| Frame::Binary(Bytes::from(b))),
                1 => Just(Frame::Ping(Bytes::new())),
            ],
            1..8,
        )
    ) {
        let mut expected: Vec<(u32, Uuid)> = frames
            .iter()
            .filter_map(|frame| match frame {
                Frame::Text(bytes) => {
                    let (pkg_id, req_id, _) = expected_ids(std::str::from_utf8(bytes).unwrap());
                    Some((pkg_id, req_id))
                }
                Frame::Binary(_) => Some((0, Uuid::nil())),
                _ => None,
            })
            .collect();
        let answers = expected.len();
        let sent = runtime().block_on(async move {
            let mut config = WsConfig::default();
            config.auth = AuthMode::Disabled;
            config.max_malformed = 0;
            config.rate_limit = None;
            let endpoint = Arc::new(Endpoint::new(router(), config));
            let (socket, mut client) = pipe::pipe(None);
            let admission = endpoint.admit(None, None).unwrap();
            let task = tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));
            let mut sent = Vec::new();
            for frame in frames {
                client.send(Ok(frame));
            }
            while sent.len() < answers {
                match client.recv().await.unwrap() {
                    Frame::Ping(_) => {}
                    frame => sent.push(frame),
                }
            }
            client.hang_up();
            while let Some(frame) = client.recv().await {
                sent.push(frame);
            }
            task.await.unwrap();
            sent
        });
        let (close, answers) = sent.split_last().unwrap();
        prop_assert_eq!(close, &Frame::Close(Some(CloseReason::new(1000, ""))));
        let mut got: Vec<(u32, Uuid)> = answers
            .iter()
            .map(|frame| {
                let Frame::Text(bytes) = frame else { panic!("not an answer: {frame:?}") };
                let response: ResponseModel = serde_json::from_slice(bytes).unwrap();
                (response.pkg_id, response.req_id)
            })
            .collect();
        got.sort_unstable();
        expected.sort_unstable();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn every_req_id_form_is_echoed_canonically(
        n in any::<u128>(),
        form in 0usize..4,
        upper in any::<u32>(),
        urn_upper in any::<bool>(),
        escape in prop::option::of(0usize..32),
    ) {
        let uuid = Uuid::from_u128(n);
        let canonical = uuid.hyphenated().to_string();
        let body = match form {
            0 => canonical.clone(),
            1 => uuid.simple().to_string(),
            2 => uuid.braced().to_string(),
            _ => canonical.clone(),
        };
        // Any mix of cases among the hex digits.
        let mut body: String = body
            .chars()
            .enumerate()
            .map(|(i, c)| if upper >> (i % 32) & 1 == 1 { c.to_ascii_uppercase() } else { c })
            .collect();
        if form == 3 {
            body.insert_str(0, if urn_upper { "URN:UUID:" } else { "urn:uuid:" });
        }
        // JSON lets any character be written as an escape.
        let quoted = match escape {
            Some(at) => {
                let at = at % body.len();
                let c = body.as_bytes()[at];
                format!("{}\\u{:04x}{}", &body[..at], c, &body[at + 1..])
            }
            None => body.clone(),
        };
        let frame = format!(r#"{{"pkg_id": 1, "req_id": "{quoted}"}}"#);
        let request = RequestModel::from_json(&frame).unwrap();
        prop_assert_eq!(request.req_id, uuid);
        let echoed = format!(r#""req_id":"{canonical}""#);
        prop_assert!(request.to_json().contains(&echoed));
        prop_assert_eq!(RequestModel::from_json(&request.to_json()).unwrap(), request);
        let answer = runtime().block_on(router().handle_json(&Session::anonymous(), &frame));
        let expected_prefix = format!(r#"{{"pkg_id":1,"req_id":"{canonical}","status_code":0"#);
        prop_assert!(answer.starts_with(&expected_prefix), "{}", answer);
    }

    #[test]
    fn a_broken_req_id_is_refused(n in any::<u128>(), at in 0usize..36, bad in "[g-zG-Z!#$ ]", cut in any::<bool>()) {
        let mut text = Uuid::from_u128(n).hyphenated().to_string();
        if cut {
            text.remove(at);
        } else {
            text.replace_range(at..=at, &bad);
        }
        let frame = format!(r#"{{"pkg_id": 1, "req_id": "{text}"}}"#);
        let err = RequestModel::from_json(&frame).unwrap_err();
        prop_assert_eq!(err.problem, EnvelopeProblem::InvalidReqId);
    }

    #[test]
    fn offset_meta_is_consistent(
        // Small numbers too, so that page, pages and total often meet.
        page in prop_oneof![0u32..8, any::<u32>()],
        per_page in prop_oneof![0u32..8, any::<u32>()],
        total in prop_oneof![0u64..64, any::<u64>()],
    ) {
        let meta = PageMeta::offset(page, per_page, total);
        prop_assert_eq!((meta.page, meta.per_page, meta.total), (page, per_page, total));
        prop_assert_eq!(meta.next_cursor.clone(), None);
        if per_page == 0 || total == 0 {
            prop_assert_eq!(meta.pages, 0);
        } else {
            // pages = ceil(total / per_page), saturated at u32::MAX.
            let exact = total.div_ceil(u64::from(per_page));
            prop_assert_eq!(u64::from(meta.pages), exact.min(u64::from(u32::MAX)));
            if exact <= u64::from(u32::MAX) {
                let pages = u64::from(meta.pages);
                let size = u128::from(per_page);
                prop_assert!(u128::from(pages - 1) * size < u128::from(total));
                prop_assert!(u128::from(total) <= u128::from(pages) * size);
            }
        }
        prop_assert_eq!(meta.has_more, page < meta.pages);
        let back: PageMeta = serde_json::from_str(&serde_json::to_string(&meta).unwrap()).unwrap();
        prop_assert_eq!(&back, &meta);
        // Cursor mode counts pages the same way once it knows the total.
        let counted = PageMeta::cursor(per_page, None).with_total(total);
        prop_assert_eq!((counted.total, counted.pages), (meta.total, meta.pages));
    }

    #[test]
    fn page_params_take_in_range_values_and_name_the_rest(
        page in prop::option::of(0u64..=u64::from(u32::MAX) + 2),
        per_page in prop::option::of(0u64..300),
        max in 0u32..250,
    ) {
        let mut data = Map::new();
        if let Some(page) = page {
            data.insert("page".into(), json!(page));
        }
        if let Some(per_page) = per_page {
            data.insert("per_page".into(), json!(per_page));
        }
        let page_ok = page.is_none_or(|p| (1..=u64::from(u32::MAX)).contains(&p));
        let per_page_ok = per_page.is_none_or(|p| (1..=u64::from(max)).contains(&p));
        match PageParams::from_data(&data, max) {
            Ok(params) => {
                prop_assert!(page_ok && per_page_ok);
                prop_assert_eq!(u64::from(params.page), page.unwrap_or(1));
                let default = u64::from(DEFAULT_PER_PAGE.min(max.max(1)));
                prop_assert_eq!(u64::from(params.per_page), per_page.unwrap_or(default));
                prop_assert!(params.per_page <= max.max(1));
                prop_assert_eq!(params.offset(), u64::from(params.page - 1) * u64::from(params.per_page));
            }
            Err(err) => {
                let paths: Vec<&str> = err.violations().iter().map(|v| v.path.as_str()).collect();
                let mut expected = Vec::new();
                if !page_ok {
                    expected.push("/page");
                }
                if !per_page_ok {
                    expected.push("/per_page");
                }
                prop_assert_eq!(paths, expected);
            }
        }
    }
}

/// Found by the `page_params` fuzz target: with a maximum below 20, a request without
/// `per_page` got 20 items per page, over the router's maximum.
#[tokio::test]
async fn the_default_page_size_respects_a_lower_maximum() {
    let router = Router::builder()
        .max_per_page(10)
        .handler(1, per_page)
        .build()
        .unwrap();
    let client = TestRouter::new(router);
    let response = client.call(1, json!({})).await;
    assert_eq!(response.status_code, RspCode::Ok, "{response:?}");
    assert_eq!(response.data, 10);
    let response = client.call(1, json!({"per_page": 10})).await;
    assert_eq!(response.data, 10);
}
