//! The books example end to end: the real app (SQLite, JWT, axum) on a free port with a
//! temporary database, driven by real WebSocket and HTTP clients.
#![allow(clippy::unwrap_used, unreachable_pub)] // a failed unwrap is a failed test

mod books_app;
mod support;

use books_app::app::ids::PkgID;
use books_app::{Books, app};
use pkg_router::client::{Client, ConnectError, Pushes};
use pkg_router::pkg_id::IntoPkgId;
use pkg_router::{ResponseModel, RspCode};
use serde_json::{Value, json};
use std::time::Duration;

const ALL_ROLES: &[&str] = &[
    "get-authors",
    "view-books",
    "create-book",
    "update-book",
    "delete-book",
    "admin",
    "create-author",
];

impl Books {
    fn token(&self, user: &str, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        app::web::mint(app::DEV_SECRET, user, &roles, Duration::from_secs(300)).unwrap()
    }

    /// A connection of the typed client, subscribed to pushes from the start.
    async fn login(&self, user: &str, roles: &[&str]) -> User {
        let client = Client::connect(format!("ws://{}/web", self.running.addr))
            .token(self.token(user, roles))
            .await
            .unwrap();
        let pushes = client.pushes();
        User { client, pushes }
    }

    async fn admin(&self) -> User {
        self.login("admin", ALL_ROLES).await
    }

    async fn http_get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.http_get_authorized(path, token.map(|t| format!("Bearer {t}")).as_deref())
            .await
    }

    /// `GET path` with this `Authorization` header value, if any.
    async fn http_get_authorized(&self, path: &str, authorization: Option<&str>) -> (u16, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.running.addr)
            .await
            .unwrap();
        let auth = authorization
            .map(|value| format!("Authorization: {value}\r\n"))
            .unwrap_or_default();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: test\r\n{auth}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        let status = raw[9..12].parse().unwrap();
        let body = raw.split("\r\n\r\n").nth(1).unwrap_or_default();
        // Bodies are small: hyper sends them with a Content-Length, not chunked.
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

/// A logged-in user: the client and every push it received since login.
struct User {
    client: Client,
    pushes: Pushes,
}

/// The answer to one request, whatever its status.
async fn call(user: &mut User, pkg_id: impl IntoPkgId, data: Value) -> ResponseModel {
    user.client.request(pkg_id, &data).await.unwrap()
}

fn ok(response: &ResponseModel) -> &Value {
    assert_eq!(response.status_code, RspCode::Ok, "{response:?}");
    &response.data
}

fn error<'r>(response: &'r ResponseModel, status: RspCode, code: &str) -> &'r Value {
    assert_eq!(response.status_code, status, "{response:?}");
    assert_eq!(response.data["code"], code, "{response:?}");
    &response.data
}

async fn create_book(
    client: &mut User,
    title: &str,
    author_id: i64,
    isbn: Option<&str>,
) -> ResponseModel {
    let mut data = json!({"title": title, "author_id": author_id});
    if let Some(isbn) = isbn {
        data["isbn"] = json!(isbn);
    }
    call(client, PkgID::CREATE_BOOK.id(), data).await
}

/// The next push the user received, as `{"pkg_id", "data"}`.
async fn next_push(user: &mut User) -> Value {
    let push = tokio::time::timeout(Duration::from_secs(10), user.pushes.next())
        .await
        .expect("no push within 10 s")
        .expect("the client closed");
    json!({"pkg_id": push.pkg_id, "data": push.data})
}

#[tokio::test]
async fn authors_can_be_listed_filtered_paginated_and_created() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    let all = call(&mut admin, PkgID::GET_AUTHORS.id(), json!({})).await;
    assert_eq!(ok(&all).as_array().unwrap().len(), 3);
    let filtered = call(
        &mut admin,
        PkgID::GET_AUTHORS.id(),
        json!({"filters": {"name": "le gUIN"}}),
    )
    .await;
    assert_eq!(ok(&filtered)[0]["name"], "Ursula K. Le Guin");

    let created = call(
        &mut admin,
        PkgID::CREATE_AUTHOR.id(),
        json!({"name": "N. K. Jemisin"}),
    )
    .await;
    assert_eq!(ok(&created)["name"], "N. K. Jemisin");
    let page = call(
        &mut admin,
        PkgID::GET_PAGINATED_AUTHORS.id(),
        json!({"page": 2, "per_page": 3}),
    )
    .await;
    assert_eq!(ok(&page).as_array().unwrap().len(), 1);
    let meta = page.meta.unwrap();
    assert_eq!(
        (
            meta.page,
            meta.per_page,
            meta.total,
            meta.pages,
            meta.has_more
        ),
        (2, 3, 4, 2, false)
    );

    let invalid = call(&mut admin, PkgID::CREATE_AUTHOR.id(), json!({"name": ""})).await;
    assert_eq!(
        error(&invalid, RspCode::InvalidData, "validation_error")["details"][0]["path"],
        "/name"
    );
}

#[tokio::test]
async fn create_update_delete_a_book_with_broadcasts_to_another_client() {
    let books = Books::start().await;
    let mut writer = books.admin().await;
    let mut watcher = books.login("viewer", &["view-books"]).await;

    let created = create_book(
        &mut writer,
        "The Left Hand of Darkness",
        1,
        Some("978-0441478125"),
    )
    .await;
    let book = ok(&created).clone();
    assert_eq!(book["title"], "The Left Hand of Darkness");
    let id = book["id"].as_i64().unwrap();
    let push = next_push(&mut watcher).await;
    assert_eq!(push["pkg_id"], PkgID::BOOK_CREATED.id());
    assert_eq!(
        push["data"],
        json!({"id": id, "title": "The Left Hand of Darkness", "action": "created"})
    );

    let updated = call(
        &mut writer,
        PkgID::UPDATE_BOOK.id(),
        json!({"id": id, "title": "Left Hand"}),
    )
    .await;
    assert_eq!(ok(&updated)["title"], "Left Hand");
    assert_eq!(
        ok(&updated)["isbn"],
        "978-0441478125",
        "partial update keeps other fields"
    );
    let push = next_push(&mut watcher).await;
    assert_eq!(
        push["data"],
        json!({"id": id, "title": "Left Hand", "action": "updated"})
    );

    let deleted = call(&mut writer, PkgID::DELETE_BOOK.id(), json!({"id": id})).await;
    assert_eq!(ok(&deleted)["message"], "Book deleted successfully");
    let push = next_push(&mut watcher).await;
    assert_eq!(push["pkg_id"], PkgID::BOOK_DELETED.id());
    assert_eq!(push["data"], json!({"id": id, "action": "deleted"}));
}

#[tokio::test]
async fn book_pushes_reach_only_connections_that_may_view_books() {
    let books = Books::start().await;
    let mut writer = books.login("writer", &["create-book"]).await;
    let mut stranger = books.login("stranger", &[]).await;
    let mut reader = books.login("reader", &["view-books"]).await;

    let created = create_book(&mut writer, "A Secret Title", 1, None).await;
    let id = ok(&created)["id"].clone();
    assert_eq!(next_push(&mut reader).await["data"]["id"], id);
    for client in [&mut writer, &mut stranger] {
        let nothing = tokio::time::timeout(Duration::from_millis(200), client.pushes.next()).await;
        assert!(
            nothing.is_err(),
            "a push reached a connection without view-books"
        );
    }
}

#[tokio::test]
async fn domain_errors_map_to_the_protocol() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    let unknown_author = create_book(&mut admin, "Orphan", 999, None).await;
    let body = error(&unknown_author, RspCode::InvalidData, "validation_error");
    assert_eq!(
        body["details"],
        json!([{"path": "/author_id", "message": "author 999 does not exist"}])
    );

    let duplicate = create_book(&mut admin, "Dune again", 2, Some("978-0441013593")).await;
    let body = error(&duplicate, RspCode::InvalidData, "conflict");
    assert_eq!(body["details"][0]["path"], "/isbn");

    let missing = call(
        &mut admin,
        PkgID::UPDATE_BOOK.id(),
        json!({"id": 999, "title": "Updated Title"}),
    )
    .await;
    let body = error(&missing, RspCode::Error, "not_found");
    assert!(
        body["msg"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("not found")
    );
    let missing = call(&mut admin, PkgID::DELETE_BOOK.id(), json!({"id": 999})).await;
    error(&missing, RspCode::Error, "not_found");

    let schema = create_book(&mut admin, "", 0, Some("123")).await;
    let body = error(&schema, RspCode::InvalidData, "validation_error");
    assert_eq!(body["details"].as_array().unwrap().len(), 3);
    let no_id = call(&mut admin, PkgID::DELETE_BOOK.id(), json!({})).await;
    assert_eq!(
        error(&no_id, RspCode::InvalidData, "validation_error")["details"][0]["path"],
        "/id"
    );
}

#[tokio::test]
async fn a_failed_write_announces_nothing() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    let mut watcher = books.login("viewer", &["view-books"]).await;
    error(
        &create_book(&mut admin, "Dune again", 2, Some("978-0441013593")).await,
        RspCode::InvalidData,
        "conflict",
    );
    let created = create_book(&mut admin, "Fresh", 2, None).await;
    let id = ok(&created)["id"].clone();
    // The first push the watcher sees is the successful create, not the failed one.
    assert_eq!(next_push(&mut watcher).await["data"]["id"], id);
}

#[tokio::test]
async fn a_database_failure_is_an_internal_error_that_leaks_nothing() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    books.running.db.pool.close().await;
    let response = call(&mut admin, PkgID::GET_BOOKS.id(), json!({})).await;
    let body = error(&response, RspCode::Error, "internal_error");
    assert_eq!(body["msg"], "Internal error");
    assert!(!response.data.to_string().to_lowercase().contains("pool"));
}

#[tokio::test]
async fn roles_are_enforced() {
    let books = Books::start().await;
    let mut viewer = books.login("viewer", &["view-books"]).await;
    let denied = create_book(&mut viewer, "Nope", 1, None).await;
    error(&denied, RspCode::PermissionDenied, "permission_denied");
    // DELETE_BOOK needs delete-book AND admin.
    let mut half = books.login("half", &["delete-book"]).await;
    let denied = call(&mut half, PkgID::DELETE_BOOK.id(), json!({"id": 1})).await;
    assert_eq!(
        error(&denied, RspCode::PermissionDenied, "permission_denied")["details"]["missing_roles"],
        json!(["admin"])
    );
    // SERVER_INFO is public.
    let info = call(&mut viewer, PkgID::SERVER_INFO.id(), json!({})).await;
    assert_eq!(ok(&info)["handlers"], 8);
    assert_eq!(ok(&info)["connections"], 2);
}

#[tokio::test]
async fn books_page_by_offset_and_by_cursor() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    for i in 0..21 {
        ok(&create_book(&mut admin, &format!("Book {i:02}"), 2, None).await);
    }
    // 4 seeded + 21 = 25 books.
    let first = call(
        &mut admin,
        PkgID::GET_BOOKS.id(),
        json!({"page": 1, "per_page": 10}),
    )
    .await;
    let meta = first.meta.clone().unwrap();
    assert_eq!((meta.total, meta.pages, meta.has_more), (25, 3, true));
    let last = call(
        &mut admin,
        PkgID::GET_BOOKS.id(),
        json!({"page": 3, "per_page": 10}),
    )
    .await;
    assert_eq!(ok(&last).as_array().unwrap().len(), 5);
    assert!(!last.meta.unwrap().has_more);

    // Cursor mode: every book exactly once, in id order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut data = json!({"per_page": 7});
        if let Some(cursor) = &cursor {
            data["cursor"] = json!(cursor);
        }
        let page = call(&mut admin, PkgID::GET_BOOKS.id(), data).await;
        seen.extend(
            ok(&page)
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["id"].as_i64().unwrap()),
        );
        let meta = page.meta.unwrap();
        assert_eq!(meta.has_more, meta.next_cursor.is_some());
        match meta.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, (1..=25).collect::<Vec<i64>>());

    let bad = call(
        &mut admin,
        PkgID::GET_BOOKS.id(),
        json!({"cursor": "not-a-cursor"}),
    )
    .await;
    assert_eq!(
        error(&bad, RspCode::InvalidData, "validation_error")["details"][0]["path"],
        "/cursor"
    );
    let too_big = call(&mut admin, PkgID::GET_BOOKS.id(), json!({"per_page": 101})).await;
    error(&too_big, RspCode::InvalidData, "validation_error");
}

#[tokio::test]
async fn filters_and_eager_loading_without_n_plus_one() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    let by_author = call(
        &mut admin,
        PkgID::GET_BOOKS.id(),
        json!({"filters": {"author_id": 1}}),
    )
    .await;
    assert_eq!(ok(&by_author).as_array().unwrap().len(), 2);
    assert_eq!(by_author.meta.unwrap().total, 2);
    let by_title = call(
        &mut admin,
        PkgID::GET_BOOKS.id(),
        json!({"filters": {"title": "DUNE"}}),
    )
    .await;
    assert_eq!(ok(&by_title)[0]["title"], "Dune");
    // LIKE wildcards in the filter are literal.
    let wildcard = call(
        &mut admin,
        PkgID::GET_BOOKS.id(),
        json!({"filters": {"title": "%"}}),
    )
    .await;
    assert_eq!(ok(&wildcard).as_array().unwrap().len(), 0);

    for i in 0..16 {
        ok(&create_book(&mut admin, &format!("Extra {i}"), (i % 3) + 1, None).await);
    }
    let before = books.running.db.queries();
    let page = call(
        &mut admin,
        PkgID::GET_BOOKS.id(),
        json!({"per_page": 20, "eager_load": ["author"]}),
    )
    .await;
    let items = ok(&page).as_array().unwrap();
    assert_eq!(items.len(), 20);
    assert!(items.iter().all(|b| b["author"]["id"] == b["author_id"]));
    let queries = books.running.db.queries() - before;
    assert!(
        queries <= 2,
        "one page query (+ one count), not one per book: {queries}"
    );
    let plain = call(&mut admin, PkgID::GET_BOOKS.id(), json!({"per_page": 1})).await;
    assert!(ok(&plain)[0].get("author").is_none());
}

#[tokio::test]
async fn the_count_cache_is_invalidated_by_writes() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    let total = |response: ResponseModel| response.meta.unwrap().total;
    assert_eq!(
        total(call(&mut admin, PkgID::GET_BOOKS.id(), json!({})).await),
        4
    );
    let queries = books.running.db.queries();
    assert_eq!(
        total(call(&mut admin, PkgID::GET_BOOKS.id(), json!({})).await),
        4
    );
    assert_eq!(
        books.running.db.queries() - queries,
        1,
        "the second count comes from the cache"
    );

    let id = ok(&create_book(&mut admin, "New", 1, None).await)["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        total(call(&mut admin, PkgID::GET_BOOKS.id(), json!({})).await),
        5
    );
    let by_author = json!({"filters": {"author_id": 1}});
    assert_eq!(
        total(call(&mut admin, PkgID::GET_BOOKS.id(), by_author.clone()).await),
        3
    );
    // Moving the book to another author changes the filtered count.
    ok(&call(
        &mut admin,
        PkgID::UPDATE_BOOK.id(),
        json!({"id": id, "author_id": 2}),
    )
    .await);
    assert_eq!(
        total(call(&mut admin, PkgID::GET_BOOKS.id(), by_author.clone()).await),
        2
    );
    ok(&call(&mut admin, PkgID::DELETE_BOOK.id(), json!({"id": id})).await);
    assert_eq!(
        total(call(&mut admin, PkgID::GET_BOOKS.id(), json!({})).await),
        4
    );
}

#[tokio::test]
async fn http_and_websocket_share_the_same_listing() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    let ws = call(
        &mut admin,
        PkgID::GET_BOOKS.id(),
        json!({"per_page": 3, "filters": {"author_id": 1}, "eager_load": ["author"]}),
    )
    .await;
    let token = books.token("viewer", &["view-books"]);
    let (status, http) = books
        .http_get(
            "/api/books?per_page=3&author_id=1&eager_load=author",
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(&http["data"], ok(&ws));
    assert_eq!(http["meta"]["total"], 2);
    assert_eq!(books.http_get("/api/books", None).await.0, 401);
    let no_role = books.token("nobody", &[]);
    assert_eq!(books.http_get("/api/books", Some(&no_role)).await.0, 403);
}

#[tokio::test]
async fn health_and_asyncapi_are_served() {
    let books = Books::start().await;
    let _client = books.admin().await;
    let (status, health) = books.http_get("/health", None).await;
    assert_eq!(
        (status, &health),
        (200, &json!({"status": "ok", "connections": 1}))
    );
    let (status, doc) = books.http_get("/asyncapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["asyncapi"], "3.0.0");
    for id in PkgID::ALL {
        assert!(doc["operations"].get(id.name()).is_some(), "{id} missing");
    }
    assert_eq!(
        doc["operations"]["DELETE_BOOK"]["x-roles"],
        json!(["delete-book", "admin"])
    );
    assert_eq!(doc["operations"]["BOOK_CREATED"]["action"], "send");
    let isbn = &doc["components"]["messages"]["CREATE_BOOK.request"]["payload"]["properties"]["data"]
        ["properties"]["isbn"];
    assert!(isbn.to_string().contains("978-"), "{isbn}");
}

#[tokio::test]
async fn like_wildcards_in_filters_match_only_themselves() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    for title in ["100% Pure", "snake_case", r"back\slash"] {
        ok(&create_book(&mut admin, title, 1, None).await);
    }
    ok(&call(
        &mut admin,
        PkgID::CREATE_AUTHOR.id(),
        json!({"name": "Fifty% Off"}),
    )
    .await);
    let titles = |response: &ResponseModel| -> Vec<String> {
        ok(response)
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["title"].as_str().unwrap().to_owned())
            .collect()
    };
    for (filter, want) in [
        ("%", "100% Pure"),
        ("0%", "100% Pure"),
        ("_", "snake_case"),
        ("e_c", "snake_case"),
        (r"\", r"back\slash"),
    ] {
        let found = call(
            &mut admin,
            PkgID::GET_BOOKS.id(),
            json!({"filters": {"title": filter}}),
        )
        .await;
        assert_eq!(titles(&found), [want], "title filter {filter:?}");
    }
    let authors = call(
        &mut admin,
        PkgID::GET_AUTHORS.id(),
        json!({"filters": {"name": "%"}}),
    )
    .await;
    let names: Vec<&Value> = ok(&authors)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["name"])
        .collect();
    assert_eq!(names, [&json!("Fifty% Off")]);
}

/// Filters longer than SQLite's LIKE pattern limit (50 000 bytes, reached by 50 000 letters or by
/// 25 000 `%`, each escaped to two) are refused by the schema instead of failing in the database.
#[tokio::test]
async fn oversized_filters_are_invalid_data_not_internal_errors() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    let letters = "a".repeat(50_000);
    let percents = "%".repeat(25_000);
    for text in [&letters, &percents] {
        for (id, data, path) in [
            (
                PkgID::GET_BOOKS,
                json!({"filters": {"title": text}}),
                "/filters/title",
            ),
            (
                PkgID::GET_AUTHORS,
                json!({"filters": {"name": text}}),
                "/filters/name",
            ),
            (
                PkgID::GET_PAGINATED_AUTHORS,
                json!({"filters": {"name": text}}),
                "/filters/name",
            ),
        ] {
            let response = call(&mut admin, id.id(), data).await;
            let body = error(&response, RspCode::InvalidData, "validation_error");
            assert_eq!(body["details"][0]["path"], path, "{id}");
        }
    }
}

#[tokio::test]
async fn http_accepts_any_case_of_the_bearer_scheme() {
    let books = Books::start().await;
    let token = books.token("viewer", &["view-books"]);
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (status, body) = books
            .http_get_authorized("/api/books", Some(&format!("{scheme} {token}")))
            .await;
        assert_eq!(status, 200, "{scheme}: {body}");
    }
    let (status, _) = books
        .http_get_authorized("/api/books", Some(&format!("Basic {token}")))
        .await;
    assert_eq!(status, 401);
}

/// The HTTP query is validated as the GET_BOOKS request it stands for: same status, same error
/// body as the WebSocket, for every kind of bad value.
#[tokio::test]
async fn http_and_websocket_refuse_the_same_queries_alike() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    let token = books.token("viewer", &["view-books"]);
    let long = "a".repeat(50_000);
    for (query, data, path) in [
        ("page=0".to_owned(), json!({"page": 0}), "/page"),
        ("page=abc".to_owned(), json!({"page": "abc"}), "/page"),
        ("per_page=0".to_owned(), json!({"per_page": 0}), "/per_page"),
        (
            "per_page=101".to_owned(),
            json!({"per_page": 101}),
            "/per_page",
        ),
        (
            "author_id=0".to_owned(),
            json!({"filters": {"author_id": 0}}),
            "/filters/author_id",
        ),
        (
            "eager_load=bogus".to_owned(),
            json!({"eager_load": ["bogus"]}),
            "/eager_load/0",
        ),
        (
            format!("title={long}"),
            json!({"filters": {"title": long}}),
            "/filters/title",
        ),
        (
            "cursor=not-a-cursor".to_owned(),
            json!({"cursor": "not-a-cursor"}),
            "/cursor",
        ),
    ] {
        let ws = call(&mut admin, PkgID::GET_BOOKS.id(), data).await;
        let body = error(&ws, RspCode::InvalidData, "validation_error");
        assert_eq!(body["details"][0]["path"], path, "{ws:?}");
        let (status, http) = books
            .http_get(&format!("/api/books?{query}"), Some(&token))
            .await;
        assert_eq!(status, 400, "{path}: {http}");
        assert_eq!(&http, body, "{path}");
    }
}

/// An empty cursor selects cursor mode from the first row (the Python design: any non-null
/// cursor does), for books and for authors.
#[tokio::test]
async fn an_empty_cursor_starts_cursor_mode_from_the_first_row() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    // Both tables are seeded with more than two rows, ids from 1.
    for id in [PkgID::GET_BOOKS, PkgID::GET_PAGINATED_AUTHORS] {
        let first = call(&mut admin, id.id(), json!({"cursor": "", "per_page": 2})).await;
        let ids: Vec<i64> = ok(&first)
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [1, 2], "{id}");
        let meta = first.meta.unwrap();
        assert_eq!((meta.total, meta.has_more), (0, true), "{id}: cursor mode");
        let next = json!({"cursor": meta.next_cursor.unwrap(), "per_page": 2});
        let second = call(&mut admin, id.id(), next).await;
        assert_eq!(ok(&second)[0]["id"], 3, "{id}");
    }
    // Over HTTP too (`cursor=` is the empty cursor).
    let token = books.token("viewer", &["view-books"]);
    let (status, body) = books
        .http_get("/api/books?cursor=&per_page=2", Some(&token))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["id"], 1);
}

/// Every distinct filter is a count cache entry; clients cannot grow the cache past its bound.
#[tokio::test]
async fn distinct_filters_do_not_grow_the_count_cache_past_its_bound() {
    let books = Books::start().await;
    let mut admin = books.admin().await;
    let max = app::count_cache::MAX_ENTRIES;
    for i in 0..max + 50 {
        let filter = json!({"filters": {"title": format!("no such title {i}")}});
        ok(&call(&mut admin, PkgID::GET_BOOKS.id(), filter).await);
    }
    assert_eq!(books.running.db.counts.len(), max);
}

/// Log output in memory, for the tests that read what the app logs.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl tracing_subscriber::fmt::MakeWriter<'_> for LogBuffer {
    type Writer = Self;
    fn make_writer(&self) -> Self {
        self.clone()
    }
}

/// A title is logged escaped: its newline cannot start a forged log line, its ANSI escape cannot
/// recolour the terminal.
///
/// The subscriber is the process-wide default: a thread-local one (`set_default`) misses events
/// whose callsite another test's thread registered first without a subscriber, and tests here
/// run in parallel. Lines are told apart by this test's unique title.
#[tokio::test]
async fn a_title_cannot_forge_log_lines() {
    static LOGS: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    let logs = LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    });
    let books = Books::start().await;
    let mut admin = books.admin().await;
    let title = "Evil-7f3a\nFORGED  INFO admin: role granted \u{1b}[31m";
    let id = ok(&create_book(&mut admin, title, 1, None).await)["id"].clone();
    ok(&call(&mut admin, PkgID::DELETE_BOOK.id(), json!({"id": id})).await);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("Evil-7f3a"))
        .collect();
    assert!(
        ours.iter().any(|line| line.contains("book created")),
        "{text}"
    );
    assert!(
        ours.iter().any(|line| line.contains("book deleted")),
        "{text}"
    );
    assert!(
        !text.lines().any(|line| line.starts_with("FORGED")),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text}");
}

/// A token with the claims the README documents (subject, username, realm roles, expiry) and
/// `iss` only when given.
fn documented_token(issuer: Option<&str>) -> String {
    let mut claims = pkg_router::jwt::Claims::new("alice")
        .username("alice")
        .realm_roles(["view-books".to_owned()])
        .expires_in(Duration::from_secs(300));
    if let Some(issuer) = issuer {
        claims = claims.issuer(issuer);
    }
    claims.sign_hs256(app::DEV_SECRET).unwrap()
}

/// Authenticates a new WebSocket with `token`: `Ok` on `auth_ok`, else the close code.
async fn ws_auth(books: &Books, token: &str) -> Result<(), u16> {
    let connected = Client::connect(format!("ws://{}/web", books.running.addr))
        .token(token)
        .await;
    match connected {
        Ok(_) => Ok(()),
        Err(ConnectError::Auth { code, .. }) => Err(code),
        Err(other) => panic!("expected auth_ok or a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn by_default_tokens_need_no_issuer() {
    let books = Books::start().await;
    for issuer in [None, Some("https://sso.example.com/realms/books")] {
        let token = documented_token(issuer);
        assert_eq!(ws_auth(&books, &token).await, Ok(()), "{issuer:?}");
        assert_eq!(
            books.http_get("/api/books", Some(&token)).await.0,
            200,
            "{issuer:?}"
        );
    }
}

#[tokio::test]
async fn a_configured_issuer_is_required() {
    const ISSUER: &str = "https://sso.example.com/realms/books";
    let books = Books::start_with(|settings| settings.jwt_issuer = Some(ISSUER.into())).await;
    for (token, accepted) in [
        (documented_token(None), false),
        (documented_token(Some("https://evil.example.com")), false),
        (documented_token(Some(ISSUER)), true),
        (
            app::web::mint_issued(
                app::DEV_SECRET,
                Some(ISSUER),
                "bob",
                &["view-books".to_owned()],
                Duration::from_secs(300),
            )
            .unwrap(),
            true,
        ),
    ] {
        let (ws, http) = if accepted {
            (Ok(()), 200)
        } else {
            (Err(4001), 401)
        };
        assert_eq!(ws_auth(&books, &token).await, ws);
        assert_eq!(books.http_get("/api/books", Some(&token)).await.0, http);
    }
}

/// `target/<profile>/examples/<name>`, which `cargo test` builds with the tests.
/// The example binary `name` built next to this test; `None` (the test skips, loudly) when
/// it is not, which fails under CI.
fn example_binary(name: &str) -> Option<std::path::PathBuf> {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("examples").join(name)))
        .filter(|binary| binary.exists());
    if binary.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not built (cargo test builds examples unless --test is given)"
        );
        eprintln!("SKIPPED: {name} is not built; run `cargo test` without --test");
    }
    binary
}

#[tokio::test]
async fn books_client_prints_answers_and_pushes_and_fails_on_an_error_answer() {
    let Some(binary) = example_binary("books_client") else {
        return;
    };
    let books = Books::start().await;
    let url = format!("ws://{}/web", books.running.addr);
    let token = books.token("cli", &["view-books", "create-book"]);
    let run = |args: Vec<String>| {
        let mut command = tokio::process::Command::new(&binary);
        command
            .args(["--url", &url, "--token", &token])
            .args(args)
            .kill_on_drop(true);
        command.output()
    };

    let listed = run(vec!["4".into(), r#"{"per_page": 1}"#.into()])
        .await
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    let answer: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(answer["status_code"], 0, "{answer}");
    assert_eq!(answer["data"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(answer["meta"]["per_page"], 1, "{answer}");

    let refused = run(vec!["3".into(), r#"{"title": ""}"#.into()])
        .await
        .unwrap();
    assert!(!refused.status.success(), "{refused:?}");
    let answer: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(answer["status_code"], 2, "{answer}");
    assert_eq!(answer["data"]["code"], "validation_error", "{answer}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("status 2"));

    // --watch prints the answer, then every push as it comes.
    let mut watcher = tokio::process::Command::new(&binary)
        .args(["--url", &url, "--token", &token, "--watch", "8", "{}"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(
        watcher.stdout.take().unwrap(),
    ));
    let mut printed = String::new();
    while !printed.ends_with("}\n") || printed.matches('{').count() != printed.matches('}').count()
    {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        printed.push_str(&line);
        printed.push('\n');
    }
    let mut writer = books.admin().await;
    let created = create_book(&mut writer, "Watched", 1, None).await;
    let id = ok(&created)["id"].clone();
    let mut push = String::new();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        push.push_str(&line);
        if let Ok(push) = serde_json::from_str::<Value>(&push) {
            assert_eq!(push["pkg_id"], PkgID::BOOK_CREATED.id());
            assert_eq!(push["data"]["id"], id);
            break;
        }
    }
}

/// Runs a `pkg_router::cli` command over `build`: (exit code, stdout, stderr).
fn cli_command(
    build: impl Fn() -> Result<pkg_router::Router, pkg_router::BuildError>,
    args: &[&str],
) -> (Option<u8>, String, String) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = pkg_router::cli::Cli::new(build).run(&args, &mut &b""[..], &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[tokio::test]
async fn the_route_check_passes_on_the_books_app_and_fails_on_a_seeded_gap() {
    let books = || app::build_router(app::db::Db::unconnected(), pkg_router::Hub::new());
    let (code, out, err) = cli_command(books, &["check"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("check: ok (8 handlers, 11 ids)"), "{out}");

    // The same handlers plus one that requires no role and does not say so.
    async fn export_everything() -> Result<(), pkg_router::HandlerError> {
        Ok(())
    }
    let with_gap = || {
        pkg_router::Router::builder()
            .hub(pkg_router::Hub::new())
            .state(app::db::Db::unconnected())
            .state(app::handlers::ServerInfo::default())
            .with_registered()
            .route(pkg_router::Route::new(99, export_everything))
            .build()
    };
    let (code, _, err) = cli_command(with_gap, &["check"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("id 99"), "{err}");
    assert!(err.contains("requires no role"), "{err}");

    let (code, out, _) = cli_command(books, &["routes", "--json"]);
    assert_eq!(code, Some(0));
    let rows: Value = serde_json::from_str(&out).unwrap();
    let create = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pkg_id"] == 3)
        .unwrap();
    assert_eq!(create["pushes"], json!([100]));
    let (code, out, _) = cli_command(books, &["asyncapi"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["asyncapi"],
        "3.0.0"
    );
}

#[test]
fn every_ws_limit_has_a_flag_and_an_environment_variable() {
    use app::limits::ws_config;
    let args: Vec<String> = [
        "--rate-limit",
        "off",
        "--max-in-flight",
        "64",
        "--handler-timeout-ms",
        "off",
        "--auth-timeout-ms",
        "1500",
        "--max-connections",
        "20_000",
        "--allowed-origins",
        "https://a.example, https://b.example",
        "--outbound-queue",
        "7",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    let env = |name: &str| match name {
        "BOOKS_OUTBOUND_QUEUE" => Some("9".to_owned()), // the flag wins
        "BOOKS_MAX_MALFORMED" => Some("0".to_owned()),
        "BOOKS_SHUTDOWN_GRACE_MS" => Some("250".to_owned()),
        _ => None,
    };
    let config = ws_config(&args, env).unwrap();
    assert_eq!(config.rate_limit, None);
    assert_eq!(config.max_in_flight, 64);
    assert_eq!(config.handler_timeout, None);
    assert_eq!(config.auth_timeout, Duration::from_millis(1500));
    assert_eq!(config.max_connections, 20_000);
    assert_eq!(
        config.allowed_origins,
        ["https://a.example", "https://b.example"]
    );
    assert_eq!(config.outbound_queue, 7);
    assert_eq!(config.max_malformed, 0);
    assert_eq!(config.shutdown_grace, Duration::from_millis(250));
    let defaults = ws_config(&[], |_| None).unwrap();
    assert_eq!(
        defaults.max_in_flight,
        pkg_router::transport::WsConfig::default().max_in_flight
    );

    for (flag, value, why) in [
        ("--rate-limit", "0/60", "positive"),
        ("--rate-limit", "100", "MESSAGES/SECONDS"),
        ("--max-connections", "lots", "not a number"),
        ("--auth", "sometimes", "required, optional or disabled"),
    ] {
        let args = [flag.to_owned(), value.to_owned()];
        let err = ws_config(&args, |_| None).unwrap_err();
        assert!(err.contains(flag) && err.contains(why), "{err}");
    }
    assert!(
        ws_config(&["--max-in-flight".to_owned()], |_| None)
            .unwrap_err()
            .contains("needs a value")
    );
}

#[tokio::test]
async fn the_served_example_takes_its_limits_from_flags_and_the_environment() {
    let Some(binary) = example_binary("books") else {
        return;
    };
    let db = std::env::temp_dir().join(format!("books-limits-{}.db", uuid::Uuid::new_v4()));
    let mut server = tokio::process::Command::new(&binary)
        .args(["--addr", "127.0.0.1:0", "--db"])
        .arg(&db)
        .args(["--rate-limit", "3/60"])
        .env("BOOKS_MAX_CONNECTIONS_PER_PRINCIPAL", "1")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr = books_app::listening_addr(&mut server, Duration::from_secs(30)).await;
    let token = app::web::mint(app::DEV_SECRET, "limited", &[], Duration::from_secs(300)).unwrap();
    let url = format!("ws://{addr}/web");
    let client = Client::connect(&url).token(&token).await.unwrap();
    // --rate-limit 3/60: the fourth request in a minute is refused.
    for _ in 0..3 {
        client
            .request(PkgID::SERVER_INFO, &json!({}))
            .await
            .unwrap();
    }
    let refused = client
        .request(PkgID::SERVER_INFO, &json!({}))
        .await
        .unwrap();
    assert_eq!(refused.data["code"], "rate_limited", "{refused:?}");
    // BOOKS_MAX_CONNECTIONS_PER_PRINCIPAL=1: a second connection of the same user is refused.
    match Client::connect(&url).token(&token).await {
        Err(ConnectError::Auth { code, .. }) => assert_eq!(code, 1008),
        other => panic!("a second connection: {other:?}"),
    }
    drop(client);
    let _ = server.kill().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

#[tokio::test]
async fn the_served_example_takes_its_durability_and_nodelay_from_flags_and_the_environment() {
    let Some(binary) = example_binary("books") else {
        return;
    };
    let db = std::env::temp_dir().join(format!("books-durability-{}.db", uuid::Uuid::new_v4()));
    let command = || {
        let mut command = tokio::process::Command::new(&binary);
        command
            .args(["--addr", "127.0.0.1:0", "--db"])
            .arg(&db)
            .env("RUST_LOG", "warn")
            .env_remove("BOOKS_SYNCHRONOUS")
            .env_remove("BOOKS_TCP_NODELAY")
            .kill_on_drop(true);
        command
    };
    // A wrong value is refused before anything is served.
    let refused = command()
        .args(["--synchronous", "sometimes"])
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success(), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("normal or full"));
    let refused = command()
        .env("BOOKS_TCP_NODELAY", "maybe")
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success(), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("on or off"));

    // Both given (one as a flag, one from the environment): it serves, and a create commits.
    let mut server = command()
        .args(["--synchronous", "full"])
        .env("BOOKS_TCP_NODELAY", "off")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = books_app::listening_addr(&mut server, Duration::from_secs(30)).await;
    let token = app::web::mint(
        app::DEV_SECRET,
        "durable",
        &["create-book".to_owned()],
        Duration::from_secs(300),
    )
    .unwrap();
    let client = Client::connect(format!("ws://{addr}/web"))
        .token(&token)
        .await
        .unwrap();
    let created = client
        .request(
            PkgID::CREATE_BOOK,
            &json!({"title": "Durable", "author_id": 1}),
        )
        .await
        .unwrap();
    assert_eq!(ok(&created)["title"], "Durable");
    drop(client);
    let _ = server.kill().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
