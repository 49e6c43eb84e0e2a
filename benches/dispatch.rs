//! Frame-in/frame-out dispatch of a CREATE_BOOK-like request, next to two baselines measured in
//! the same run:
//!
//! - `a_serde`: parse the envelope with serde_json, serialize a response (no routing at all);
//! - `b_serde_jsonschema`: (a) plus validating `data` with a jsonschema validator compiled once;
//! - `envelope_handler`: the full router pipeline with an `async fn(RequestModel) -> ResponseModel`;
//! - `typed_handler`: the full pipeline with `Data<CreateBook>` and a `Result<Book, _>` return;
//! - `c_prost_serde_jsonschema`: the protobuf floor: prost decode of the `Request`, serde_json
//!   of its `data_json`, the jsonschema validation, prost encode of the `Response`;
//! - `protobuf_envelope_handler`, `protobuf_typed_handler`: the same frame as a protobuf
//!   `Request` through the full router (`Router::handle_protobuf`).
//!
//! Run with `cargo bench --bench dispatch`. Compare ratios, not absolute times: this machine is
//! shared and noisy.
//!
//! For a deterministic count, `DISPATCH_CALLGRIND=<case>:<n>` runs one case `n` times inside
//! `measured_loop` and exits, for
//! `valgrind --tool=callgrind --toggle-collect='*measured_loop*' target/release/deps/dispatch-…`
//! (instructions per request = the loop's total / n).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use pkg_router::protobuf::{Message as _, Request, Response};
use pkg_router::router::Session;
use pkg_router::{
    Data, HandlerError, Principal, RequestModel, ResponseModel, Route, Router, RspCode,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::hint::black_box;
use uuid::Uuid;

const FRAME: &str = r#"{"pkg_id":3,"req_id":"550e8400-e29b-41d4-a716-446655440000","data":{"title":"The Pragmatic Programmer","author_id":1,"isbn":"978-0135957059"}}"#;

#[derive(Deserialize, schemars::JsonSchema)]
struct CreateBook {
    #[schemars(length(min = 1, max = 200))]
    title: String,
    #[schemars(range(min = 1))]
    author_id: i64,
    #[schemars(regex(pattern = r"^978-\d{10}$"))]
    isbn: Option<String>,
}

#[derive(Serialize)]
struct Book {
    id: i64,
    title: String,
    author_id: i64,
    isbn: Option<String>,
}

async fn create_book_envelope(req: RequestModel) -> ResponseModel {
    ResponseModel::success(req.pkg_id, req.req_id, Value::Object(req.data))
}

async fn create_book_typed(Data(input): Data<CreateBook>) -> Result<Book, HandlerError> {
    Ok(Book {
        id: 1,
        title: input.title,
        author_id: input.author_id,
        isbn: input.isbn,
    })
}

/// What a hand-written server without a router does: the floor.
#[derive(Deserialize)]
struct PlainRequest {
    pkg_id: u32,
    req_id: Uuid,
    #[serde(default)]
    data: Value,
}

#[derive(Serialize)]
struct PlainResponse<'a> {
    pkg_id: u32,
    req_id: &'a Uuid,
    status_code: RspCode,
    meta: Option<()>,
    data: &'a Value,
}

fn plain(frame: &str, validator: Option<&jsonschema::Validator>) -> String {
    let request: PlainRequest = serde_json::from_str(frame).unwrap();
    if let Some(validator) = validator {
        assert!(validator.is_valid(&request.data));
    }
    serde_json::to_string(&PlainResponse {
        pkg_id: request.pkg_id,
        req_id: &request.req_id,
        status_code: RspCode::Ok,
        meta: None,
        data: &request.data,
    })
    .unwrap()
}

/// What a hand-written protobuf server without a router does: the protobuf floor.
fn plain_protobuf(frame: &[u8], validator: &jsonschema::Validator) -> Vec<u8> {
    let request = Request::decode(frame).unwrap();
    let req_id = Uuid::parse_str(&request.req_id).unwrap();
    let data: Value = serde_json::from_str(&request.data_json).unwrap();
    assert!(validator.is_valid(&data));
    Response {
        pkg_id: request.pkg_id,
        req_id: req_id.hyphenated().to_string(),
        status_code: 0,
        data_json: serde_json::to_string(&data).unwrap(),
        meta: None,
    }
    .encode_to_vec()
}

fn dispatch(c: &mut Criterion) {
    let schema = pkg_router::schema::schema_of::<CreateBook>();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let envelope_router = Router::builder()
        .route(
            Route::new(3, create_book_envelope)
                .roles(["create-book"])
                .schema::<CreateBook>(),
        )
        .build()
        .unwrap();
    // The schema comes from `Data<CreateBook>`.
    let typed_router = Router::builder()
        .route(Route::new(3, create_book_typed).roles(["create-book"]))
        .build()
        .unwrap();
    let session = Session::new(Principal::new("u1", "ann").with_roles(["create-book"]));

    // The handlers finish in one poll, so no executor is measured.
    let run = |router: &Router| {
        router
            .handle_json(&session, black_box(FRAME))
            .now_or_never()
            .unwrap()
    };
    assert!(run(&envelope_router).contains(r#""status_code":0"#));
    assert!(run(&typed_router).contains(r#""status_code":0"#));

    let request = RequestModel::from_json(FRAME).unwrap();
    let proto_frame = Request::new(request.pkg_id, request.req_id, raw_data(FRAME)).encode_to_vec();
    let run_protobuf = |router: &Router| {
        router
            .handle_protobuf(&session, black_box(&proto_frame))
            .now_or_never()
            .unwrap()
    };
    for router in [&envelope_router, &typed_router] {
        let response = Response::decode(&run_protobuf(router)[..]).unwrap();
        assert_eq!(response.status_code, 0, "{response:?}");
    }
    assert_eq!(
        Response::decode(&plain_protobuf(&proto_frame, &validator)[..])
            .unwrap()
            .status_code,
        0
    );

    if let Ok(spec) = std::env::var("DISPATCH_CALLGRIND") {
        let (case, n) = spec.split_once(':').unwrap();
        let n: u64 = n.parse().unwrap();
        match case {
            "a_serde" => measured_loop(n, || drop(plain(black_box(FRAME), None))),
            "b_serde_jsonschema" => {
                measured_loop(n, || drop(plain(black_box(FRAME), Some(&validator))))
            }
            "envelope_handler" => measured_loop(n, || drop(run(&envelope_router))),
            "typed_handler" => measured_loop(n, || drop(run(&typed_router))),
            "c_prost_serde_jsonschema" => measured_loop(n, || {
                drop(plain_protobuf(black_box(&proto_frame), &validator))
            }),
            "protobuf_envelope_handler" => {
                measured_loop(n, || drop(run_protobuf(&envelope_router)))
            }
            "protobuf_typed_handler" => measured_loop(n, || drop(run_protobuf(&typed_router))),
            other => panic!("no case {other}"),
        }
        std::process::exit(0);
    }

    let mut group = c.benchmark_group("dispatch");
    group.bench_function("a_serde", |b| b.iter(|| plain(black_box(FRAME), None)));
    group.bench_function("b_serde_jsonschema", |b| {
        b.iter(|| plain(black_box(FRAME), Some(&validator)))
    });
    group.bench_function("envelope_handler", |b| b.iter(|| run(&envelope_router)));
    group.bench_function("typed_handler", |b| b.iter(|| run(&typed_router)));
    group.bench_function("c_prost_serde_jsonschema", |b| {
        b.iter(|| plain_protobuf(black_box(&proto_frame), &validator))
    });
    group.bench_function("protobuf_envelope_handler", |b| {
        b.iter(|| run_protobuf(&envelope_router))
    });
    group.bench_function("protobuf_typed_handler", |b| {
        b.iter(|| run_protobuf(&typed_router))
    });
    group.finish();
}

/// The loop callgrind counts (see the module docs).
#[inline(never)]
fn measured_loop(n: u64, mut body: impl FnMut()) {
    for _ in 0..n {
        body();
    }
}

/// The exact text of `data` in a JSON frame (what a protobuf client puts in `data_json`).
fn raw_data(frame: &str) -> String {
    #[derive(Deserialize)]
    struct Raw<'a> {
        #[serde(borrow)]
        data: &'a serde_json::value::RawValue,
    }
    serde_json::from_str::<Raw<'_>>(frame)
        .unwrap()
        .data
        .get()
        .to_owned()
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
