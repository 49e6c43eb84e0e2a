//! The protobuf format (`?format=protobuf`, protocol §7) over real sockets: the books app
//! answers every id and every error code in protobuf, exactly as it answers JSON; pushes reach
//! JSON and protobuf clients each in their own format; malformed and oversized frames.
#![allow(clippy::unwrap_used, unreachable_pub)] // a failed unwrap is a failed test

mod books_app;
mod support;

use books_app::Books;
use books_app::app::ids::PkgID;
use futures_util::{SinkExt, StreamExt};
use pkg_router::protobuf::{Message as _, Request, Response};
use pkg_router::transport::{RateLimit, WsConfig};
use pkg_router::{HandlerError, RequestModel, Router, RspCode};
use serde_json::{Value, json};
use std::time::Duration;
use support::{Client, Server, authenticate, expect_close};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const ALL_ROLES: &[&str] = &[
    "get-authors",
    "view-books",
    "create-book",
    "update-book",
    "delete-book",
    "admin",
    "create-author",
];

const NIL: &str = "00000000-0000-0000-0000-000000000000";

async fn connect(url: &str) -> Client {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

impl Books {
    fn url(&self, format: &str) -> String {
        format!("ws://{}/web?format={format}", self.running.addr)
    }

    /// A connection in `format` ("json", "protobuf", any case), authenticated as `user`.
    async fn login_as(&self, format: &str, user: &str, roles: &[&str]) -> Client {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        let token = books_app::app::web::mint(
            books_app::app::DEV_SECRET,
            user,
            &roles,
            Duration::from_secs(300),
        )
        .unwrap();
        let mut client = connect(&self.url(format)).await;
        // The auth frame and auth_ok stay JSON text whatever the format.
        authenticate(&mut client, &token).await;
        client
    }
}

/// The next data frame (control frames skipped); panics on close or after 10 s.
async fn next_frame(client: &mut Client) -> Message {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .expect("no frame within 10 s")
            .expect("connection ended")
            .expect("connection error");
        match message {
            Message::Ping(_) | Message::Pong(_) => continue,
            other => return other,
        }
    }
}

/// The next frame, which must be a binary `Response`.
async fn next_response(client: &mut Client) -> Response {
    match next_frame(client).await {
        Message::Binary(bytes) => Response::decode(&bytes[..]).unwrap(),
        other => panic!("expected a binary frame, got {other:?}"),
    }
}

/// The next frame, which must be JSON text (returned verbatim).
async fn next_text(client: &mut Client) -> String {
    match next_frame(client).await {
        Message::Text(text) => text.to_string(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// Sends `data_json` to `pkg_id` as a protobuf `Request` under `req_id`, and returns the answer
/// (pushes skipped).
async fn call_as(client: &mut Client, pkg_id: u32, req_id: Uuid, data_json: &str) -> Response {
    let request = Request::new(pkg_id, req_id, data_json);
    send_bytes(client, request.encode_to_vec()).await;
    loop {
        let response = next_response(client).await;
        if !response.is_push() {
            assert_eq!(response.req_id, req_id.to_string());
            return response;
        }
    }
}

async fn call(client: &mut Client, pkg_id: u32, data: Value) -> Response {
    call_as(client, pkg_id, Uuid::new_v4(), &data.to_string()).await
}

async fn send_bytes(client: &mut Client, bytes: Vec<u8>) {
    client.send(Message::binary(bytes)).await.unwrap();
}

/// The same request as JSON, answered verbatim (pushes skipped).
async fn call_json_text(client: &mut Client, pkg_id: u32, req_id: Uuid, data_json: &str) -> String {
    let frame = format!(r#"{{"pkg_id":{pkg_id},"req_id":"{req_id}","data":{data_json}}}"#);
    client.send(Message::text(frame)).await.unwrap();
    loop {
        let text = next_text(client).await;
        if !text.contains(NIL) || text.contains(&req_id.to_string()) {
            return text;
        }
    }
}

fn ok(response: &Response) -> Value {
    assert_eq!(response.status_code, 0, "{response:?}");
    serde_json::from_str(&response.data_json).unwrap()
}

fn error(response: &Response, status: RspCode, code: &str) -> Value {
    assert_eq!(
        response.status_code,
        i32::from(status.as_u8()),
        "{response:?}"
    );
    let body: Value = serde_json::from_str(&response.data_json).unwrap();
    assert_eq!(body["code"], code, "{response:?}");
    assert!(body["msg"].is_string(), "{response:?}");
    body
}

#[tokio::test]
async fn every_books_id_answers_over_protobuf_exactly_as_over_json() {
    let books = Books::start().await;
    let mut proto = books.login_as("protobuf", "admin", ALL_ROLES).await;
    let mut json = books.login_as("json", "admin2", ALL_ROLES).await;

    // Reads: the protobuf answer is the JSON answer, field for field and byte for byte.
    let reads: [(PkgID, &str); 5] = [
        (PkgID::GET_AUTHORS, r#"{"filters":{"name":"le gUIN"}}"#),
        (PkgID::GET_PAGINATED_AUTHORS, r#"{"page":2,"per_page":2}"#),
        (
            PkgID::GET_BOOKS,
            r#"{"per_page":2,"eager_load":["author"]}"#,
        ),
        (PkgID::GET_BOOKS, r#"{"cursor":"","per_page":1}"#),
        (PkgID::SERVER_INFO, ""),
    ];
    for (id, data) in reads {
        let req_id = Uuid::new_v4();
        let response = call_as(&mut proto, id.id(), req_id, data).await;
        let data_or_empty = if data.is_empty() { "{}" } else { data };
        let text = call_json_text(&mut json, id.id(), req_id, data_or_empty).await;
        if id == PkgID::SERVER_INFO {
            // The live connection count is the same for both; everything else too.
            assert_eq!(ok(&response)["connections"], 2, "{response:?}");
        }
        assert_eq!(response.to_json_frame().unwrap(), text, "{id:?}");
    }
    let page = call(
        &mut proto,
        PkgID::GET_PAGINATED_AUTHORS.id(),
        json!({"page": 1, "per_page": 2}),
    )
    .await;
    let meta = page.meta.as_ref().unwrap();
    assert_eq!(
        (
            meta.page,
            meta.per_page,
            meta.total,
            meta.pages,
            meta.has_more
        ),
        (1, 2, 3, 2, true)
    );

    // Writes.
    let created = call(
        &mut proto,
        PkgID::CREATE_BOOK.id(),
        json!({"title": "Kindred", "author_id": 1, "isbn": "978-0807083697"}),
    )
    .await;
    let book = ok(&created);
    assert_eq!(book["title"], "Kindred");
    let id = book["id"].as_i64().unwrap();
    let updated = call(
        &mut proto,
        PkgID::UPDATE_BOOK.id(),
        json!({"id": id, "title": "Kindred (2nd)"}),
    )
    .await;
    assert_eq!(ok(&updated)["title"], "Kindred (2nd)");
    let author = call(
        &mut proto,
        PkgID::CREATE_AUTHOR.id(),
        json!({"name": "Octavia E. Butler"}),
    )
    .await;
    assert_eq!(ok(&author)["name"], "Octavia E. Butler");
    let deleted = call(&mut proto, PkgID::DELETE_BOOK.id(), json!({"id": id})).await;
    assert_eq!(ok(&deleted)["message"], "Book deleted successfully");
}

#[tokio::test]
async fn every_books_error_code_comes_back_in_protobuf() {
    let books = Books::start().await;
    let mut admin = books.login_as("PROTOBUF", "admin", ALL_ROLES).await;

    let unknown = call(&mut admin, 999, json!({})).await;
    error(&unknown, RspCode::Error, "unknown_pkg_id");
    assert_eq!(unknown.pkg_id, 999);

    let invalid = call(
        &mut admin,
        PkgID::CREATE_BOOK.id(),
        json!({"title": "", "author_id": 1}),
    )
    .await;
    let body = error(&invalid, RspCode::InvalidData, "validation_error");
    assert_eq!(body["details"][0]["path"], "/title");

    let missing = call(&mut admin, PkgID::DELETE_BOOK.id(), json!({"id": 424242})).await;
    error(&missing, RspCode::Error, "not_found");

    let first = call(
        &mut admin,
        PkgID::CREATE_BOOK.id(),
        json!({"title": "A", "author_id": 1, "isbn": "978-0000000001"}),
    )
    .await;
    ok(&first);
    let again = call(
        &mut admin,
        PkgID::CREATE_BOOK.id(),
        json!({"title": "B", "author_id": 1, "isbn": "978-0000000001"}),
    )
    .await;
    error(&again, RspCode::InvalidData, "conflict");

    let mut reader = books.login_as("protobuf", "reader", &["view-books"]).await;
    let denied = call(&mut reader, PkgID::DELETE_BOOK.id(), json!({"id": 1})).await;
    let body = error(&denied, RspCode::PermissionDenied, "permission_denied");
    assert_eq!(
        body["details"]["missing_roles"],
        json!(["delete-book", "admin"])
    );

    // Envelope problems are answered in protobuf too, with whatever ids could be read.
    let req_id = Uuid::new_v4();
    let not_an_object = call_as(&mut admin, PkgID::GET_BOOKS.id(), req_id, "[]").await;
    let body = error(&not_an_object, RspCode::InvalidData, "invalid_envelope");
    assert_eq!(body["details"]["field"], "data");
    assert_eq!(not_an_object.pkg_id, PkgID::GET_BOOKS.id() as i32);
    let bad_json = call_as(&mut admin, PkgID::GET_BOOKS.id(), req_id, "{").await;
    error(&bad_json, RspCode::InvalidData, "invalid_envelope");

    let negative = Request {
        pkg_id: -1,
        ..Request::new(1, req_id, "")
    };
    send_bytes(&mut admin, negative.encode_to_vec()).await;
    let answer = next_response(&mut admin).await;
    let body = error(&answer, RspCode::InvalidData, "invalid_envelope");
    assert_eq!(
        (answer.pkg_id, &*answer.req_id, &body["details"]["field"]),
        (0, &*req_id.to_string(), &json!("pkg_id"))
    );

    let no_req_id = Request {
        req_id: String::new(),
        ..Request::new(8, req_id, "")
    };
    send_bytes(&mut admin, no_req_id.encode_to_vec()).await;
    let answer = next_response(&mut admin).await;
    assert_eq!(
        error(&answer, RspCode::InvalidData, "invalid_envelope")["msg"],
        "missing req_id"
    );
    assert_eq!((answer.pkg_id, &*answer.req_id), (8, NIL));

    // The old design's braced upper-case req_id: accepted, echoed canonical.
    let braced = Request {
        req_id: format!("{{{}}}", req_id.to_string().to_uppercase()),
        ..Request::new(8, req_id, "")
    };
    send_bytes(&mut admin, braced.encode_to_vec()).await;
    let answer = next_response(&mut admin).await;
    assert_eq!(
        (answer.status_code, &*answer.req_id),
        (0, &*req_id.to_string())
    );
}

#[tokio::test]
async fn rate_limited_answers_are_protobuf() {
    let books =
        Books::start_with(|s| s.ws.rate_limit = Some(RateLimit::new(2, Duration::from_secs(60))))
            .await;
    let mut client = books.login_as("protobuf", "reader", &["view-books"]).await;
    for _ in 0..2 {
        ok(&call(&mut client, PkgID::SERVER_INFO.id(), json!({})).await);
    }
    let req_id = Uuid::new_v4();
    let limited = call_as(&mut client, PkgID::SERVER_INFO.id(), req_id, "").await;
    let body = error(&limited, RspCode::Error, "rate_limited");
    assert!(body["details"]["retry_after_ms"].as_u64().unwrap() > 0);
    assert_eq!(limited.pkg_id, PkgID::SERVER_INFO.id() as i32);
}

async fn slow() -> Result<(), HandlerError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(())
}

async fn boom(req: RequestModel) -> Result<(), HandlerError> {
    if req.data.is_empty() {
        panic!("boom");
    }
    Err(HandlerError::internal("disk on fire"))
}

#[tokio::test]
async fn timeout_and_internal_error_are_protobuf() {
    let router = Router::builder()
        .handler(1, slow)
        .handler(2, boom)
        .build()
        .unwrap();
    let mut config = WsConfig::default();
    config.handler_timeout = Some(Duration::from_millis(50));
    let server = Server::start(router, config).await;
    let mut client = connect(&server.url("?format=protobuf")).await;
    authenticate(&mut client, "alice").await;

    let timed_out = call(&mut client, 1, json!({})).await;
    error(&timed_out, RspCode::Error, "timeout");
    for data in [json!({}), json!({"x": 1})] {
        let failed = call(&mut client, 2, data).await;
        let body = error(&failed, RspCode::Error, "internal_error");
        assert_eq!(body["msg"], "Internal error");
    }
}

#[tokio::test]
async fn a_push_reaches_a_json_and_a_protobuf_client_each_in_its_format() {
    let books = Books::start().await;
    let mut writer = books.login_as("json", "admin", ALL_ROLES).await;
    let mut json_reader = books.login_as("json", "jr", &["view-books"]).await;
    let mut proto_reader = books.login_as("protobuf", "pr", &["view-books"]).await;

    let req_id = Uuid::new_v4();
    let data = r#"{"title":"Parable of the Sower","author_id":1}"#;
    let answer = call_json_text(&mut writer, PkgID::CREATE_BOOK.id(), req_id, data).await;
    assert!(answer.contains(r#""status_code":0"#), "{answer}");

    let json_push = next_text(&mut json_reader).await;
    let proto_push = next_response(&mut proto_reader).await;
    assert!(proto_push.is_push());
    assert_eq!((proto_push.status_code, &proto_push.meta), (0, &None));
    assert_eq!(proto_push.pkg_id, PkgID::BOOK_CREATED.id() as i32);
    // The same push: the JSON frame's data, byte for byte.
    let expected = format!(
        r#"{{"pkg_id":{},"req_id":"{NIL}","data":{}}}"#,
        PkgID::BOOK_CREATED.id(),
        proto_push.data_json
    );
    assert_eq!(json_push, expected);
    let data: Value = serde_json::from_str(&proto_push.data_json).unwrap();
    assert_eq!(data["action"], "created");
}

#[tokio::test]
async fn undecodable_bytes_and_text_frames_get_invalid_envelope_until_the_malformed_limit() {
    let books = Books::start_with(|s| s.ws.max_malformed = 3).await;
    let mut client = books.login_as("protobuf", "reader", &["view-books"]).await;

    // A text frame on a protobuf connection: answered in protobuf, and it counts.
    client
        .send(Message::text(
            r#"{"pkg_id": 8, "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#,
        ))
        .await
        .unwrap();
    let answer = next_response(&mut client).await;
    let body = error(&answer, RspCode::InvalidData, "invalid_envelope");
    assert_eq!(body["msg"], "wrong frame type for this connection's format");
    assert_eq!((answer.pkg_id, &*answer.req_id), (0, NIL));

    // Field 1 as a length-delimited field: not a Request.
    send_bytes(&mut client, vec![0x0a, 0xff]).await;
    let answer = next_response(&mut client).await;
    let body = error(&answer, RspCode::InvalidData, "invalid_envelope");
    assert_eq!((answer.pkg_id, &*answer.req_id), (0, NIL));
    let msg = body["msg"].as_str().unwrap();
    assert!(msg.starts_with("frame is not a protobuf Request"), "{body}");

    // Invalid UTF-8 in a string field: the third malformed frame in a row closes.
    send_bytes(&mut client, vec![0x12, 0x02, 0xc3, 0x28]).await;
    error(
        &next_response(&mut client).await,
        RspCode::InvalidData,
        "invalid_envelope",
    );
    assert_eq!(
        expect_close(&mut client).await,
        Some((1008, "too many malformed frames".to_owned()))
    );

    // A good request in between resets the count of consecutive malformed frames.
    let mut client = books.login_as("protobuf", "reader", &["view-books"]).await;
    for bad in [vec![0xff; 16], vec![0x08]] {
        send_bytes(&mut client, bad).await;
        error(
            &next_response(&mut client).await,
            RspCode::InvalidData,
            "invalid_envelope",
        );
    }
    ok(&call(&mut client, PkgID::SERVER_INFO.id(), json!({})).await);
    for _ in 0..2 {
        send_bytes(&mut client, vec![0x08]).await;
        error(
            &next_response(&mut client).await,
            RspCode::InvalidData,
            "invalid_envelope",
        );
    }
    ok(&call(&mut client, PkgID::SERVER_INFO.id(), json!({})).await);
}

#[tokio::test]
async fn an_oversized_protobuf_frame_closes_with_1009_as_for_json() {
    let books = Books::start_with(|s| s.ws.max_message_size = 4096).await;
    let mut client = books.login_as("protobuf", "reader", &["view-books"]).await;
    // Just under the limit is answered.
    let padding = "x".repeat(3900);
    let fits = call(
        &mut client,
        PkgID::SERVER_INFO.id(),
        json!({ "pad": padding }),
    )
    .await;
    assert_eq!(fits.status_code, 0);
    let big = Request::new(
        PkgID::SERVER_INFO.id(),
        Uuid::new_v4(),
        json!({"pad": "x".repeat(5000)}).to_string(),
    );
    send_bytes(&mut client, big.encode_to_vec()).await;
    assert_eq!(
        expect_close(&mut client).await.map(|(code, _)| code),
        Some(1009)
    );
}

#[tokio::test]
async fn the_format_is_case_insensitive_and_unknown_ones_are_refused() {
    let books = Books::start().await;
    for format in ["protobuf", "ProtoBuf", "PROTOBUF"] {
        let mut client = books.login_as(format, "reader", &["view-books"]).await;
        ok(&call(&mut client, PkgID::SERVER_INFO.id(), json!({})).await);
    }
    let refused = tokio_tungstenite::connect_async(books.url("proto")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
        }
        other => panic!("expected HTTP 400, got {other:?}"),
    }
}

/// `target/<profile>/examples/books_client`, which `cargo test` builds with the tests.
fn books_client_binary() -> Option<std::path::PathBuf> {
    let deps = std::env::current_exe().ok()?.parent()?.to_path_buf();
    let binary = deps.parent()?.join("examples").join("books_client");
    binary.exists().then_some(binary)
}

#[tokio::test]
async fn books_client_speaks_protobuf_with_the_books_app() {
    let Some(binary) = books_client_binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "books_client is not built (cargo test builds examples unless --test is given)"
        );
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"SKIPPED: books_client is not built; run `cargo test` without --test\n",
        );
        return;
    };
    let books = Books::start().await;
    let url = format!("ws://{}/web", books.running.addr);
    let token = books_app::app::web::mint(
        books_app::app::DEV_SECRET,
        "cli",
        &["view-books".to_owned(), "create-book".to_owned()],
        Duration::from_secs(300),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut command = tokio::process::Command::new(&binary);
        command
            .args(["--url", &url, "--token", &token, "--format", "protobuf"])
            .args(args)
            .kill_on_drop(true);
        command.output()
    };

    let listed = run(&["4", r#"{"per_page": 1}"#]).await.unwrap();
    assert!(listed.status.success(), "{listed:?}");
    let answer: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(answer["status_code"], 0, "{answer}");
    assert_eq!(answer["data"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(answer["meta"]["per_page"], 1, "{answer}");

    let refused = run(&["3", r#"{"title": ""}"#]).await.unwrap();
    assert!(!refused.status.success(), "{refused:?}");
    let answer: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(answer["data"]["code"], "validation_error", "{answer}");

    let unknown = run(&["--format", "xml", "8"]).await.unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown format"));
}
