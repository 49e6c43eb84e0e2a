//! The dispatch pipeline ([protocol §4](pkg_router::protocol#4-processing-rules)) and the router
//! builder, over the public API.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use pkg_router::extract::{OptionalFromRequest, RequestContext};
use pkg_router::hub::ConnectionId;
use pkg_router::router::{Extensions, Session};
use pkg_router::testing::{ResponseExt, TestRouter, principal, request};
use pkg_router::{
    BuildError, ConnectionInfo, Data, Extension, HandlerError, Hub, NoSchema, PageMeta, PageParams,
    Paginated, Principal, RequestIds, RequestModel, ResponseModel, Route, Router, RspCode, State,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
struct CreateBook {
    #[schemars(length(min = 1, max = 200))]
    title: String,
    #[schemars(range(min = 1))]
    author_id: i64,
    #[schemars(regex(pattern = r"^978-\d{10}$"))]
    isbn: Option<String>,
}

async fn create_book(Data(input): Data<CreateBook>) -> Result<CreateBook, HandlerError> {
    Ok(input)
}

async fn public_ping() -> Result<&'static str, HandlerError> {
    Ok("pong")
}

async fn delete_book(req: RequestModel) -> ResponseModel {
    ResponseModel::success(
        req.pkg_id,
        req.req_id,
        json!({"message": "Book deleted successfully"}),
    )
}

fn books_router() -> Router {
    Router::builder()
        // The schema comes from `Data<CreateBook>`.
        .route(Route::new(3, create_book).roles(["create-book"]))
        .route(Route::new(6, delete_book).roles(["delete-book", "admin"]))
        .handler(8, public_ping)
        .build()
        .unwrap()
}

#[tokio::test]
async fn public_handler_accepts_anonymous_callers() {
    let client = TestRouter::new(books_router());
    assert_eq!(client.call(8, json!({})).await.expect_ok(), "pong");
}

#[tokio::test]
async fn anonymous_caller_is_denied_a_protected_handler() {
    let client = TestRouter::new(books_router());
    let response = client.call(6, json!({"id": 1})).await;
    assert_eq!(response.status_code, RspCode::PermissionDenied);
    let body = response.expect_error("permission_denied");
    assert_eq!(
        body.details,
        Some(json!({"missing_roles": ["delete-book", "admin"]}))
    );
}

#[tokio::test]
async fn denies_when_one_of_two_roles_is_missing() {
    let client = TestRouter::new(books_router()).with_roles(["delete-book"]);
    let body = client
        .call(6, json!({"id": 1}))
        .await
        .expect_error("permission_denied");
    assert_eq!(body.details, Some(json!({"missing_roles": ["admin"]})));
}

#[tokio::test]
async fn allows_when_all_roles_are_held() {
    let client = TestRouter::new(books_router()).with_roles(["admin", "delete-book", "other"]);
    let response = client.call(6, json!({"id": 1})).await;
    assert_eq!(response.expect_ok()["message"], "Book deleted successfully");
}

#[tokio::test]
async fn roles_are_checked_before_the_schema() {
    // Invalid data from an unauthorised caller: the answer must not reveal the schema.
    let client = TestRouter::new(books_router()).with_roles(["view-books"]);
    let response = client.call(3, json!({"title": 5})).await;
    assert_eq!(response.status_code, RspCode::PermissionDenied);
}

#[tokio::test]
async fn schema_violations_are_all_reported_with_pointers() {
    let client = TestRouter::new(books_router()).with_roles(["create-book"]);
    let response = client
        .call(3, json!({"title": "", "author_id": 0, "isbn": "123"}))
        .await;
    assert_eq!(response.status_code, RspCode::InvalidData);
    let body = response.expect_error("validation_error");
    let mut paths: Vec<String> = body
        .details
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap().to_owned())
        .collect();
    paths.sort();
    assert_eq!(paths, ["/author_id", "/isbn", "/title"]);
}

#[tokio::test]
async fn missing_required_field_is_reported_at_the_field() {
    let client = TestRouter::new(books_router()).with_roles(["create-book"]);
    let body = client
        .call(3, json!({"author_id": 1}))
        .await
        .expect_error("validation_error");
    assert_eq!(
        body.details,
        Some(json!([{"path": "/title", "message": "is required"}]))
    );
    // The Python guide's test checks the message mentions the field.
    assert!(body.msg.to_lowercase().contains("title"));
}

#[tokio::test]
async fn valid_data_reaches_the_typed_handler() {
    let client = TestRouter::new(books_router()).with_roles(["create-book"]);
    let response = client
        .call(
            3,
            json!({"title": "Dune", "author_id": 1, "isbn": "978-0441013593"}),
        )
        .await;
    assert_eq!(
        response.expect_ok(),
        &json!({"title": "Dune", "author_id": 1, "isbn": "978-0441013593"})
    );
}

#[tokio::test]
async fn data_that_does_not_deserialize_is_a_validation_error_without_a_schema() {
    #[derive(Deserialize)]
    struct Input {
        #[allow(dead_code)]
        count: u8,
    }
    async fn handler(Data(_): Data<NoSchema<Input>>) -> Result<(), HandlerError> {
        Ok(())
    }
    let client = TestRouter::with_handler(1, handler);
    let body = client
        .call(1, json!({"count": 300}))
        .await
        .expect_error("validation_error");
    assert_eq!(body.details.unwrap()[0]["path"], "/count");
    let body = client
        .call(1, json!({}))
        .await
        .expect_error("validation_error");
    assert_eq!(body.details.unwrap()[0]["path"], "/count");
}

#[tokio::test]
async fn a_panicking_handler_becomes_internal_error_and_the_router_keeps_serving() {
    async fn boom() -> Result<(), HandlerError> {
        panic!("secret database password in panic message");
    }
    let router = Router::builder()
        .handler(1, boom)
        .handler(2, public_ping)
        .build()
        .unwrap();
    let client = TestRouter::new(router);
    let response = client.call(1, json!({})).await;
    assert_eq!(response.status_code, RspCode::Error);
    let body = response.expect_error("internal_error");
    assert_eq!(body.msg, "Internal error");
    assert!(!response.data.to_string().contains("secret"));
    assert_eq!(client.call(2, json!({})).await.expect_ok(), "pong");
}

#[tokio::test]
async fn an_internal_error_does_not_leak_its_cause() {
    async fn fails() -> Result<(), HandlerError> {
        Err(HandlerError::internal(std::io::Error::other(
            "connection string postgres://u:p@h",
        )))
    }
    let client = TestRouter::with_handler(1, fails);
    let response = client.call(1, json!({})).await;
    assert_eq!(
        response.expect_error("internal_error").msg,
        "Internal error"
    );
    assert!(!response.data.to_string().contains("postgres"));
}

#[tokio::test]
async fn a_slow_handler_times_out() {
    async fn slow() -> Result<(), HandlerError> {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    }
    let router = Router::builder()
        .route(Route::new(1, slow).timeout(Duration::from_millis(20)))
        .build()
        .unwrap();
    let response = TestRouter::new(router).call(1, json!({})).await;
    assert_eq!(response.status_code, RspCode::Error);
    assert_eq!(response.expect_error("timeout").code, "timeout");
}

#[tokio::test]
async fn the_default_timeout_applies_to_handlers_without_their_own() {
    async fn slow() -> Result<(), HandlerError> {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    }
    let router = Router::builder()
        .handler(1, slow)
        .route(Route::new(2, slow).timeout(Duration::from_secs(60)))
        .timeout(Duration::from_millis(20))
        .build()
        .unwrap();
    let client = TestRouter::new(router);
    client.call(1, json!({})).await.expect_error("timeout");
    // Handler 2's own, longer timeout wins: it is still running when we give up on it.
    let outcome = tokio::time::timeout(Duration::from_millis(100), client.call(2, json!({}))).await;
    assert!(outcome.is_err());
}

#[tokio::test]
async fn handler_errors_map_to_status_and_code() {
    async fn fail(Data(kind): Data<Value>) -> Result<(), HandlerError> {
        Err(match kind["kind"].as_str().unwrap_or_default() {
            "not_found" => HandlerError::not_found("Book 7 not found"),
            "conflict" => HandlerError::conflict("ISBN already used"),
            "denied" => HandlerError::permission_denied("not your book"),
            "invalid" => HandlerError::invalid_field("/author_id", "author 9 does not exist"),
            _ => HandlerError::custom(RspCode::Error, "quota_exceeded", "Too many books")
                .with_details(json!({"limit": 10})),
        })
    }
    let client = TestRouter::with_handler(1, fail);
    let cases = [
        (
            "not_found",
            RspCode::Error,
            "not_found",
            "Book 7 not found",
            Value::Null,
        ),
        (
            "conflict",
            RspCode::InvalidData,
            "conflict",
            "ISBN already used",
            Value::Null,
        ),
        (
            "denied",
            RspCode::PermissionDenied,
            "permission_denied",
            "not your book",
            Value::Null,
        ),
        (
            "invalid",
            RspCode::InvalidData,
            "validation_error",
            "Validation failed: /author_id: author 9 does not exist",
            json!([{"path": "/author_id", "message": "author 9 does not exist"}]),
        ),
        (
            "custom",
            RspCode::Error,
            "quota_exceeded",
            "Too many books",
            json!({"limit": 10}),
        ),
    ];
    for (kind, status, code, msg, details) in cases {
        let response = client.call(1, json!({"kind": kind})).await;
        assert_eq!(response.status_code, status, "{kind}");
        assert_eq!(
            response.data,
            json!({"code": code, "msg": msg, "details": details}),
            "{kind}"
        );
    }
}

#[derive(Debug)]
enum BooksError {
    UnknownAuthor(i64),
}

impl From<BooksError> for HandlerError {
    fn from(err: BooksError) -> Self {
        match err {
            BooksError::UnknownAuthor(id) => {
                HandlerError::invalid_field("/author_id", format!("author {id} does not exist"))
            }
        }
    }
}

#[tokio::test]
async fn domain_errors_convert_with_question_mark() {
    async fn create(Data(input): Data<Value>) -> Result<Value, BooksError> {
        let id = input["author_id"].as_i64().unwrap_or_default();
        let found = (id == 1).then_some(json!({"author_id": id}));
        found.ok_or(BooksError::UnknownAuthor(id))
    }
    let client = TestRouter::with_handler(1, create);
    assert!(client.call(1, json!({"author_id": 1})).await.is_ok());
    let body = client
        .call(1, json!({"author_id": 9}))
        .await
        .expect_error("validation_error");
    assert_eq!(
        body.details.unwrap()[0]["message"],
        "author 9 does not exist"
    );
}

#[tokio::test]
async fn paginated_results_fill_meta() {
    async fn list(page: PageParams) -> Result<Paginated<u32>, HandlerError> {
        let items: Vec<u32> = (1..=45).collect();
        let start = page.offset() as usize;
        let slice = items
            .iter()
            .copied()
            .skip(start)
            .take(page.per_page as usize)
            .collect();
        Ok(Paginated::new(
            slice,
            PageMeta::offset(page.page, page.per_page, 45),
        ))
    }
    let router = Router::builder()
        .handler(4, list)
        .max_per_page(30)
        .build()
        .unwrap();
    let client = TestRouter::new(router);
    let response = client.call(4, json!({"page": 3, "per_page": 20})).await;
    assert_eq!(response.expect_ok(), &json!([41, 42, 43, 44, 45]));
    let meta = response.meta.unwrap();
    assert_eq!(
        (
            meta.page,
            meta.per_page,
            meta.total,
            meta.pages,
            meta.has_more
        ),
        (3, 20, 45, 3, false)
    );

    let defaults = client.call(4, json!({})).await;
    assert_eq!(defaults.meta.unwrap().per_page, 20);

    let body = client
        .call(4, json!({"page": 0, "per_page": 31}))
        .await
        .expect_error("validation_error");
    let paths: Vec<&str> = body
        .details
        .as_ref()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/page", "/per_page"]);
}

#[tokio::test]
async fn envelope_style_handlers_control_the_whole_response() {
    async fn custom(req: RequestModel) -> ResponseModel {
        ResponseModel::err_msg(req.pkg_id, req.req_id, "Book not found", RspCode::Error)
    }
    let client = TestRouter::with_handler(5, custom);
    let req = request(5, json!({"id": 999}));
    let req_id = req.req_id;
    let response = client.send(req).await;
    assert_eq!(response.req_id, req_id);
    assert_eq!(response.expect_error("error").msg, "Book not found");
}

#[tokio::test]
async fn extractors_see_the_caller_ids_and_state() {
    #[derive(Clone)]
    struct Counter(Arc<AtomicUsize>);
    async fn whoami(
        ids: RequestIds,
        caller: Principal,
        State(counter): State<Counter>,
    ) -> Result<Value, HandlerError> {
        let n = counter.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(json!({"pkg_id": ids.pkg_id, "req_id": ids.req_id, "user": caller.name, "n": n}))
    }
    let counter = Counter(Arc::new(AtomicUsize::new(0)));
    let router = Router::builder()
        .state(counter.clone())
        .route(Route::new(10, whoami).also(11u32))
        .build()
        .unwrap();
    let client = TestRouter::new(router).as_principal(Principal::new("u1", "ann"));
    let req = request(11, json!({}));
    let req_id = req.req_id;
    let data = client.send(req).await.expect_ok().clone();
    assert_eq!(
        data,
        json!({"pkg_id": 11, "req_id": req_id, "user": "ann", "n": 1})
    );
    client.call(10, json!({})).await.expect_ok();
    assert_eq!(counter.0.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn many_concurrent_requests_each_get_their_own_answer() {
    async fn echo(req: RequestModel) -> Result<Value, HandlerError> {
        tokio::task::yield_now().await;
        Ok(json!(req.data["n"]))
    }
    let router = Router::builder().handler(1, echo).build().unwrap();
    let session = Session::new(principal(["x"]));
    let mut tasks = Vec::new();
    for n in 0..1_000 {
        let (router, session) = (router.clone(), session.clone());
        tasks.push(tokio::spawn(async move {
            let req = request(1, json!({"n": n}));
            let req_id = req.req_id;
            let response = router.dispatch(&session, req).await;
            assert_eq!(response.req_id, req_id);
            assert_eq!(response.data, json!(n));
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[test]
fn duplicate_ids_name_both_handlers() {
    let err = Router::builder()
        .handler(3, create_book)
        .handler(3, public_ping)
        .build()
        .unwrap_err();
    let BuildError::DuplicateHandler {
        pkg_id,
        first,
        second,
        ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(*pkg_id, 3);
    assert!(first.path.ends_with("create_book"), "{first}");
    assert!(second.path.ends_with("public_ping"), "{second}");
    assert!(first.location.starts_with("tests/router.rs:"), "{first}");
    let text = err.to_string();
    assert!(
        text.contains("create_book") && text.contains("public_ping"),
        "{text}"
    );
}

#[test]
fn an_empty_router_is_refused_unless_allowed() {
    let err = Router::builder().build().unwrap_err();
    assert!(matches!(err, BuildError::EmptyRegistry));
    assert!(err.to_string().contains("use my_handlers as _;"));
    assert!(Router::builder().allow_empty().build().is_ok());
}

#[test]
fn a_handler_needing_missing_state_is_refused() {
    #[derive(Clone)]
    struct Db;
    async fn needs_db(State(_db): State<Db>) -> Result<(), HandlerError> {
        Ok(())
    }
    let err = Router::builder().handler(1, needs_db).build().unwrap_err();
    let BuildError::MissingState { handler, type_name } = &err else {
        panic!("{err}");
    };
    assert!(type_name.ends_with("Db"), "{type_name}");
    assert!(handler.path.ends_with("needs_db"));
    assert!(
        Router::builder()
            .state(Db)
            .handler(1, needs_db)
            .build()
            .is_ok()
    );
}

#[test]
fn a_schema_that_does_not_compile_is_refused() {
    let err = Router::builder()
        .route(Route::new(1, public_ping).json_schema(json!({"type": "no-such-type"})))
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::InvalidSchema { .. }), "{err}");
}

#[test]
fn a_remote_schema_reference_is_refused() {
    let err = Router::builder()
        .route(
            Route::new(1, public_ping).json_schema(json!({"$ref": "https://example.com/s.json"})),
        )
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::InvalidSchema { .. }), "{err}");
}

#[test]
fn ids_above_the_protocol_range_are_refused() {
    let err = Router::builder()
        .handler(2_147_483_648u32, public_ping)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            BuildError::PkgIdOutOfRange {
                pkg_id: 2_147_483_648,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn require_all_lists_every_missing_id() {
    let err = Router::builder()
        .handler(1, public_ping)
        .require_all_except([1u32, 2, 3, 100], [100u32])
        .build()
        .unwrap_err();
    let BuildError::MissingHandlers { missing } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        missing.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [2, 3]
    );
}

#[test]
fn route_table_lists_roles_schema_and_source() {
    let router = books_router();
    let row = router.routes().get(3).unwrap();
    assert_eq!(row.roles, ["create-book"]);
    assert!(row.has_schema);
    assert!(row.handler.as_deref().unwrap().ends_with("create_book"));
    assert!(
        row.location
            .as_deref()
            .unwrap()
            .starts_with("tests/router.rs:")
    );
    let table = router.routes().to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[2].contains("delete-book + admin"), "{table}");
    assert!(lines[3].contains("public"), "{table}");
    assert!(router.schema(3).is_some() && router.schema(8).is_none());
}

#[tokio::test]
async fn state_is_shared_not_copied_between_requests() {
    async fn bump(State(hits): State<Arc<AtomicUsize>>) -> Result<usize, HandlerError> {
        Ok(hits.fetch_add(1, Ordering::SeqCst))
    }
    let hits = Arc::new(AtomicUsize::new(0));
    let router = Router::builder()
        .state(Arc::clone(&hits))
        .handler(1, bump)
        .build()
        .unwrap();
    let client = TestRouter::new(router);
    for expected in 0..3 {
        assert_eq!(
            client.call(1, json!({})).await.expect_ok(),
            &json!(expected)
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn data_from_callers_without_access_is_not_parsed() {
    // Deeply nested data is refused when parsed; a caller without the role never gets that far.
    let depth = 10_000;
    let frame = format!(
        r#"{{"pkg_id":6,"req_id":"550e8400-e29b-41d4-a716-446655440000","data":{{"x":{}{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let anonymous = TestRouter::new(books_router());
    let denied = anonymous.send_frame(&frame).await;
    assert_eq!(denied.status_code, RspCode::PermissionDenied);
    let allowed = anonymous.with_roles(["delete-book", "admin"]);
    let parsed = allowed.send_frame(&frame).await;
    assert_eq!(
        parsed.expect_error("invalid_envelope").code,
        "invalid_envelope"
    );
}

#[test]
fn a_data_argument_brings_its_schema_to_the_route_table_and_asyncapi() {
    let router = books_router();
    assert!(router.routes().get(3).unwrap().has_schema);
    let schema = router.schema(3).unwrap();
    assert_eq!(schema["properties"]["title"]["maxLength"], 200);
    let doc = router.asyncapi("Books", "1", "/web");
    let data = &doc["components"]["messages"]["pkg_3.request"]["payload"]["properties"]["data"];
    assert_eq!(data["properties"]["isbn"]["pattern"], r"^978-\d{10}$");
}

#[derive(Deserialize, schemars::JsonSchema)]
struct JoinRoom {
    #[allow(dead_code)]
    room: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct SendMessage {
    text: String,
}

async fn send_message(Data(message): Data<SendMessage>) -> Result<String, HandlerError> {
    Ok(message.text)
}

#[test]
fn a_second_schema_beside_a_data_argument_is_a_build_error() {
    let conflict = |route: Route| {
        let err = Router::builder().route(route).build().unwrap_err();
        let BuildError::ConflictingSchemas { first, second, .. } = &err else {
            panic!("{err}")
        };
        assert!(
            first.contains("Data<") && first.contains("SendMessage"),
            "{err}"
        );
        (second.clone(), err.to_string())
    };
    let (second, message) = conflict(Route::new(1, send_message).schema::<JoinRoom>());
    assert!(second.contains("JoinRoom"), "{message}");
    assert!(message.contains("send_message"), "{message}");
    // The same type twice is refused as well: one place declares the schema.
    let (second, _) = conflict(Route::new(1, send_message).schema::<SendMessage>());
    assert!(second.contains("Route::schema"));
    let (second, _) = conflict(Route::new(1, send_message).json_schema(json!({"type": "object"})));
    assert!(second.contains("Route::json_schema"));
}

#[test]
fn two_data_arguments_with_different_schemas_are_a_build_error() {
    async fn both(_: Data<JoinRoom>, _: Data<SendMessage>) -> Result<(), HandlerError> {
        Ok(())
    }
    let err = Router::builder().handler(1, both).build().unwrap_err();
    assert!(
        matches!(&err, BuildError::ConflictingSchemas { first, second, .. }
            if first.contains("JoinRoom") && second.contains("SendMessage")),
        "{err}"
    );
}

#[tokio::test]
async fn a_hand_written_schema_goes_with_a_payload_without_one() {
    #[derive(Deserialize)]
    struct Note {
        text: String,
    }
    async fn note(Data(NoSchema(note)): Data<NoSchema<Note>>) -> Result<String, HandlerError> {
        Ok(note.text)
    }
    async fn raw(Data(data): Data<Value>) -> Result<Value, HandlerError> {
        Ok(data)
    }
    let schema = json!({"type": "object", "properties": {"text": {"maxLength": 3}}});
    let router = Router::builder()
        .route(Route::new(1, note).json_schema(schema))
        .handler(2, note)
        .handler(3, raw)
        .build()
        .unwrap();
    assert!(router.schema(1).is_some());
    assert!(router.schema(2).is_none() && router.schema(3).is_none());
    let client = TestRouter::new(router);
    let body = client
        .call(1, json!({"text": "long"}))
        .await
        .expect_error("validation_error");
    assert_eq!(body.details.unwrap()[0]["path"], "/text");
    assert_eq!(
        client.call(2, json!({"text": "long"})).await.expect_ok(),
        "long"
    );
    assert_eq!(
        client.call(3, json!({"any": [1]})).await.expect_ok(),
        &json!({"any": [1]})
    );
}

/// A payload that refuses unknown fields, paged by `PageParams` in the same handler.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct BookQuery {
    #[schemars(length(max = 20))]
    title: Option<String>,
}

async fn find_books(Data(query): Data<BookQuery>, page: PageParams) -> Result<Value, HandlerError> {
    Ok(json!({
        "title": query.title,
        "page": page.page,
        "per_page": page.per_page,
        "cursor": page.cursor,
        "filters": page.filters,
    }))
}

fn paged_router() -> Router {
    Router::builder()
        .max_per_page(50)
        .handler(4, find_books)
        .build()
        .unwrap()
}

#[tokio::test]
async fn page_params_work_beside_a_payload_that_denies_unknown_fields() {
    let client = TestRouter::new(paged_router());
    let all =
        json!({"title": "Dune", "page": 2, "per_page": 5, "cursor": "c:9", "filters": {"x": 1}});
    assert_eq!(
        client.call(4, all.clone()).await.expect_ok(),
        &all,
        "each argument gets its own fields"
    );
    assert_eq!(
        client.call(4, json!({})).await.expect_ok(),
        &json!({"title": null, "page": 1, "per_page": 20, "cursor": null, "filters": {}})
    );
    // Everything else is still refused, and every violation is reported at once.
    let body = client
        .call(
            4,
            json!({"title": "x".repeat(21), "page": 0, "per_page": 51, "bogus": 1}),
        )
        .await
        .expect_error("validation_error");
    let mut paths: Vec<&str> = body
        .details
        .as_ref()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap())
        .collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/bogus", "/page", "/per_page", "/title"]);
}

#[test]
fn page_params_fields_are_in_the_schema_and_asyncapi() {
    let router = paged_router();
    let schema = router.schema(4).unwrap();
    assert_eq!(schema["additionalProperties"], false);
    let doc = router.asyncapi("Books", "1", "/web");
    let data = &doc["components"]["messages"]["pkg_4.request"]["payload"]["properties"]["data"];
    for field in ["title", "page", "per_page", "cursor", "filters"] {
        assert!(
            data["properties"][field].is_object(),
            "{field} missing: {data}"
        );
    }
    assert_eq!(data["properties"]["per_page"]["minimum"], 1);
    assert_eq!(data["properties"]["per_page"]["maximum"], 50);
    assert_eq!(data["additionalProperties"], false);
}

#[tokio::test]
async fn page_params_alone_describe_their_fields() {
    async fn list(page: PageParams) -> Result<u32, HandlerError> {
        Ok(page.page)
    }
    let router = Router::builder().handler(1, list).build().unwrap();
    let schema = router.schema(1).unwrap();
    assert_eq!(schema["properties"]["per_page"]["maximum"], 100);
    // Other fields are still allowed: nothing declared the payload.
    let client = TestRouter::new(router);
    assert_eq!(
        client
            .call(1, json!({"page": 3, "other": true}))
            .await
            .expect_ok(),
        3
    );
}

#[derive(Clone, Debug, PartialEq)]
struct Tenant(&'static str);

#[derive(Clone, Debug, PartialEq)]
struct Mailer(&'static str);

async fn optional_everything(
    caller: Option<Principal>,
    shared: Option<Arc<Principal>>,
    conn: Option<ConnectionInfo>,
    hub: Option<Hub>,
    tenant: Option<Extension<Tenant>>,
    mailer: Option<State<Mailer>>,
) -> Result<Value, HandlerError> {
    Ok(json!({
        "caller": caller.map(|p| p.name),
        "shared": shared.map(|p| p.name.clone()),
        "conn": conn.map(|c| c.id.to_string()),
        "hub": hub.is_some(),
        "tenant": tenant.map(|Extension(t)| t.0),
        "mailer": mailer.map(|State(m)| m.0),
    }))
}

#[tokio::test]
async fn optional_extractors_are_none_when_absent() {
    // No state given: `Option<State<T>>` does not require it.
    let router = Router::builder()
        .handler(1, optional_everything)
        .build()
        .unwrap();
    let response = router
        .dispatch(&Session::anonymous(), request(1, json!({})))
        .await;
    assert_eq!(
        response.expect_ok(),
        &json!({"caller": null, "shared": null, "conn": null, "hub": false, "tenant": null, "mailer": null})
    );
}

#[tokio::test]
async fn optional_extractors_are_some_when_present() {
    let router = Router::builder()
        .state(Mailer("smtp"))
        .hub(Hub::new())
        .handler(1, optional_everything)
        .build()
        .unwrap();
    let info = ConnectionInfo {
        id: ConnectionId(7),
        peer: None,
    };
    let session = Session::new(Principal::new("u1", "ann"))
        .with_extensions(Extensions::new().with(info).with(Tenant("acme")));
    let response = router.dispatch(&session, request(1, json!({}))).await;
    assert_eq!(
        response.expect_ok(),
        &json!({"caller": "ann", "shared": "ann", "conn": "c7", "hub": true, "tenant": "acme", "mailer": "smtp"})
    );
}

#[tokio::test]
async fn an_optional_extractor_still_reports_a_real_rejection() {
    /// `coupon`: absent is fine, malformed is an error.
    struct Coupon;
    impl OptionalFromRequest for Coupon {
        fn from_request_optional(ctx: &RequestContext<'_>) -> Result<Option<Self>, HandlerError> {
            match ctx.data().get("coupon") {
                None => Ok(None),
                Some(Value::String(_)) => Ok(Some(Coupon)),
                Some(_) => Err(HandlerError::invalid_field("/coupon", "must be a string")),
            }
        }
    }
    async fn price(coupon: Option<Coupon>) -> Result<u32, HandlerError> {
        Ok(if coupon.is_some() { 80 } else { 100 })
    }
    let client = TestRouter::with_handler(1, price);
    assert_eq!(client.call(1, json!({})).await.expect_ok(), 100);
    assert_eq!(client.call(1, json!({"coupon": "A"})).await.expect_ok(), 80);
    let body = client
        .call(1, json!({"coupon": 5}))
        .await
        .expect_error("validation_error");
    assert_eq!(body.details.unwrap()[0]["path"], "/coupon");
}
