//! Handlers registered at link time with `#[pkg_handler]` and ids declared with `pkg_ids!`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use pkg_router::testing::{ResponseExt, TestRouter};
use pkg_router::{
    BuildError, Data, HandlerError, Principal, RequestModel, ResponseModel, Router, RspCode, State,
    pkg_handler, pkg_ids,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

pkg_ids! {
    /// The ids of this test API.
    pub PkgID {
        GET_AUTHORS = 1,
        GET_PAGINATED_AUTHORS = 2,
        CREATE_BOOK = 3,
        GET_BOOKS = 4,
        SLOW = 9,
        /// Sent to every client when a book is created.
        #[push]
        BOOK_CREATED = 100,
    }
}

pkg_ids! {
    /// Ids declared for handlers not written yet.
    pub Planned {
        RATE_BOOK = 20,
    }
}

#[derive(Clone)]
struct Library {
    name: &'static str,
}

#[derive(Deserialize, Serialize, schemars::JsonSchema)]
struct CreateBook {
    #[schemars(length(min = 1, max = 200))]
    title: String,
    #[schemars(range(min = 1))]
    author_id: i64,
}

/// Envelope style, exactly as in the Python guide.
#[pkg_handler(id = PkgID::GET_BOOKS, roles = ["view-books"])]
async fn get_books(request: RequestModel) -> ResponseModel {
    ResponseModel::success(
        request.pkg_id,
        request.req_id,
        json!([{"id": 1, "title": "Book"}]),
    )
}

/// Typed style: the schema comes from `Data<CreateBook>`.
#[pkg_handler(id = PkgID::CREATE_BOOK, roles = ["create-book"])]
async fn create_book(
    Data(input): Data<CreateBook>,
    State(library): State<Library>,
    caller: Principal,
) -> Result<Value, HandlerError> {
    Ok(json!({"title": input.title, "library": library.name, "by": caller.name}))
}

fn authors_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"filters": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "additionalProperties": false
    })
}

/// One handler for two ids, with a hand-written schema.
#[pkg_handler(id = [PkgID::GET_AUTHORS, PkgID::GET_PAGINATED_AUTHORS], schema_json = authors_schema())]
async fn get_authors(req: RequestModel) -> Result<Value, HandlerError> {
    Ok(json!({"served": req.pkg_id}))
}

#[pkg_handler(id = PkgID::SLOW, timeout = Duration::from_millis(20))]
async fn slow() -> Result<(), HandlerError> {
    tokio::time::sleep(Duration::from_secs(30)).await;
    Ok(())
}

fn router() -> Router {
    Router::builder()
        .state(Library { name: "central" })
        .with_registered()
        .require_all(PkgID::ALL) // BOOK_CREATED is a push: no handler needed
        .build()
        .unwrap()
}

#[tokio::test]
async fn envelope_style_handler_is_registered_with_its_roles() {
    let client = TestRouter::new(router());
    client
        .call(PkgID::GET_BOOKS, json!({}))
        .await
        .expect_error("permission_denied");
    let response = client
        .with_roles(["view-books"])
        .call(PkgID::GET_BOOKS, json!({}))
        .await;
    assert_eq!(response.expect_ok(), &json!([{"id": 1, "title": "Book"}]));
}

#[tokio::test]
async fn typed_handler_gets_validated_data_state_and_principal() {
    let client = TestRouter::new(router())
        .as_principal(Principal::new("u1", "ann").with_roles(["create-book"]));
    let response = client
        .call(PkgID::CREATE_BOOK, json!({"title": "Dune", "author_id": 1}))
        .await;
    assert_eq!(
        response.expect_ok(),
        &json!({"title": "Dune", "library": "central", "by": "ann"})
    );
    let invalid = client
        .call(PkgID::CREATE_BOOK, json!({"title": "", "author_id": 0}))
        .await;
    assert_eq!(invalid.status_code, RspCode::InvalidData);
    assert_eq!(
        invalid
            .expect_error("validation_error")
            .details
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn one_handler_serves_a_list_of_ids_with_a_hand_written_schema() {
    let client = TestRouter::new(router());
    for id in [PkgID::GET_AUTHORS, PkgID::GET_PAGINATED_AUTHORS] {
        let response = client
            .call(id, json!({"filters": {"name": "Le Guin"}}))
            .await;
        assert_eq!(response.expect_ok()["served"], id.id());
    }
    let body = client
        .call(PkgID::GET_AUTHORS, json!({"unexpected": true}))
        .await
        .expect_error("validation_error");
    assert_eq!(body.details.unwrap()[0]["path"], "/unexpected");
}

#[tokio::test]
async fn per_handler_timeout_from_the_attribute_applies() {
    TestRouter::new(router())
        .call(PkgID::SLOW, json!({}))
        .await
        .expect_error("timeout");
}

#[test]
fn the_schema_of_a_registered_handler_comes_from_its_data_argument() {
    let router = router();
    assert!(router.routes().get(3).unwrap().has_schema);
    let schema = router.schema(3).unwrap();
    assert_eq!(schema["properties"]["title"]["maxLength"], 200);
    assert_eq!(schema["properties"]["author_id"]["minimum"], 1);
}

#[test]
fn route_table_shows_declared_names_and_ids_without_handlers() {
    let router = router();
    let table = router.routes();
    assert_eq!(table.len(), PkgID::ALL.len() + Planned::ALL.len());
    let row = table.get(3).unwrap();
    assert_eq!(row.name.as_deref(), Some("CREATE_BOOK"));
    assert_eq!(row.handler.as_deref(), Some("registered::create_book"));
    assert!(
        row.location
            .as_deref()
            .unwrap()
            .starts_with("tests/registered.rs:")
    );
    let pushed = table.get(100).unwrap();
    assert_eq!(pushed.name.as_deref(), Some("BOOK_CREATED"));
    assert!(pushed.handler.is_none() && pushed.push);
    let planned = table.get(20).unwrap();
    assert!(planned.handler.is_none() && !planned.push);
    assert!(!table.get(3).unwrap().push);
    let text = table.to_string();
    let line = |id: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(id))
            .unwrap()
    };
    assert!(line("100").contains("(push)"), "{text}");
    assert!(line("20").contains("(no handler)"), "{text}");
}

#[test]
fn push_ids_are_server_to_client_messages_in_asyncapi() {
    let doc = router().asyncapi("Test", "1", "/web");
    let push = &doc["operations"]["BOOK_CREATED"];
    assert_eq!(push["action"], "send");
    assert_eq!(push["x-pkg-id"], 100);
    assert!(doc["components"]["messages"]["BOOK_CREATED.push"].is_object());
    assert_eq!(doc["operations"]["CREATE_BOOK"]["action"], "receive");
    // Declared without a handler and not a push: not served, so not documented.
    assert!(doc["operations"].get("RATE_BOOK").is_none());
}

#[test]
fn a_handler_for_a_push_id_is_a_build_error() {
    async fn announce() -> Result<(), HandlerError> {
        Ok(())
    }
    let err = Router::builder()
        .state(Library { name: "central" })
        .with_registered()
        .handler(PkgID::BOOK_CREATED, announce)
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, BuildError::HandlerForPush { pkg_id: 100, name: Some(name), .. } if name == "BOOK_CREATED"),
        "{err}"
    );
}

#[test]
fn missing_state_for_a_registered_handler_is_a_build_error() {
    let err = Router::builder().with_registered().build().unwrap_err();
    let BuildError::MissingState { handler, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(handler.path, "registered::create_book");
    assert!(handler.location.starts_with("tests/registered.rs:"));
}

#[test]
fn require_all_names_missing_declared_ids() {
    let err = Router::builder()
        .state(Library { name: "x" })
        .with_registered()
        .require_all(PkgID::ALL)
        .require_all(Planned::ALL)
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "no handler for pkg_id(s): 20 (RATE_BOOK)");
}

#[test]
fn pkg_ids_read_like_an_int_enum() {
    assert_eq!(PkgID::CREATE_BOOK.id(), 3);
    assert_eq!(PkgID::CREATE_BOOK.to_string(), "CREATE_BOOK");
    assert_eq!(PkgID::try_from(4), Ok(PkgID::GET_BOOKS));
    assert_eq!(PkgID::try_from(5), Err(5));
    assert_eq!(PkgID::ALL.first(), Some(&PkgID::GET_AUTHORS));
    assert!(PkgID::BOOK_CREATED.is_push() && !PkgID::GET_BOOKS.is_push());
}
