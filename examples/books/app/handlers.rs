//! The WebSocket handlers: thin adapters from the protocol to the commands. Each `Data<T>`
//! brings the JSON schema of `T` (see `models.rs`), validated before the handler runs.

use super::commands::{
    CreateAuthorCommand, CreateBookCommand, DeleteBookCommand, ListAuthorsQuery, ListBooksQuery,
    PageInput, UpdateBookCommand,
};
use super::db::Db;
use super::error::BooksError;
use super::ids::PkgID;
use super::models::{
    Author, Book, BookEvent, CreateAuthor, CreateBook, DeleteBook, Embed, GetAuthors, GetBooks,
    GetPaginatedAuthors, UpdateBook,
};
use pkg_router::{Data, HandlerError, Hub, Paginated, State, pkg_handler};
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};

/// What `SERVER_INFO` reports besides the live connection count.
#[derive(Clone, Debug, Default)]
pub struct ServerInfo {
    /// Set once the router is built.
    pub handlers: Arc<OnceLock<usize>>,
}

#[pkg_handler(id = PkgID::GET_AUTHORS, roles = ["get-authors"])]
async fn get_authors(
    Data(input): Data<GetAuthors>,
    State(db): State<Db>,
) -> Result<Vec<Author>, BooksError> {
    ListAuthorsQuery(&db)
        .all(&input.filters.unwrap_or_default())
        .await
}

#[pkg_handler(id = PkgID::GET_PAGINATED_AUTHORS, roles = ["get-authors"])]
async fn get_paginated_authors(
    Data(input): Data<GetPaginatedAuthors>,
    State(db): State<Db>,
) -> Result<Paginated<Author>, BooksError> {
    let page = PageInput {
        page: input.page,
        per_page: input.per_page,
        cursor: input.cursor,
    };
    ListAuthorsQuery(&db)
        .page(&input.filters.unwrap_or_default(), &page)
        .await
}

/// Who may see book pushes: the holders of GET_BOOKS's role, so a push never tells a
/// connection more than it could read.
const READERS: [&str; 1] = ["view-books"];

#[pkg_handler(id = PkgID::CREATE_BOOK, roles = ["create-book"], pushes = [PkgID::BOOK_CREATED])]
async fn create_book(
    Data(input): Data<CreateBook>,
    State(db): State<Db>,
    hub: Hub,
) -> Result<Book, HandlerError> {
    let book = CreateBookCommand(&db).execute(&input).await?;
    // `?`: Debug escapes newlines and control characters, so a title cannot forge log lines.
    tracing::info!(book_id = book.id, title = ?book.title, "book created");
    // After the commit: a failed transaction never announces a book.
    hub.to_roles(READERS).push(
        PkgID::BOOK_CREATED,
        &BookEvent {
            id: book.id,
            title: Some(&book.title),
            action: "created",
        },
    )?;
    Ok(book)
}

#[pkg_handler(id = PkgID::GET_BOOKS, roles = ["view-books"])]
async fn get_books(
    Data(input): Data<GetBooks>,
    State(db): State<Db>,
) -> Result<Paginated<Book>, BooksError> {
    let page = PageInput {
        page: input.page,
        per_page: input.per_page,
        cursor: input.cursor,
    };
    let with_author = input.eager_load.contains(&Embed::Author);
    ListBooksQuery(&db)
        .execute(&input.filters.unwrap_or_default(), &page, with_author)
        .await
}

#[pkg_handler(id = PkgID::UPDATE_BOOK, roles = ["update-book"], pushes = [PkgID::BOOK_UPDATED])]
async fn update_book(
    Data(input): Data<UpdateBook>,
    State(db): State<Db>,
    hub: Hub,
) -> Result<Book, HandlerError> {
    let book = UpdateBookCommand(&db).execute(&input).await?;
    tracing::info!(book_id = book.id, "book updated");
    hub.to_roles(READERS).push(
        PkgID::BOOK_UPDATED,
        &BookEvent {
            id: book.id,
            title: Some(&book.title),
            action: "updated",
        },
    )?;
    Ok(book)
}

#[pkg_handler(id = PkgID::DELETE_BOOK, roles = ["delete-book", "admin"], pushes = [PkgID::BOOK_DELETED])]
async fn delete_book(
    Data(input): Data<DeleteBook>,
    State(db): State<Db>,
    hub: Hub,
) -> Result<Value, HandlerError> {
    let title = DeleteBookCommand(&db).execute(input.id).await?;
    tracing::info!(book_id = input.id, ?title, "book deleted");
    hub.to_roles(READERS).push(
        PkgID::BOOK_DELETED,
        &BookEvent {
            id: input.id,
            title: None,
            action: "deleted",
        },
    )?;
    Ok(json!({"message": "Book deleted successfully"}))
}

#[pkg_handler(id = PkgID::CREATE_AUTHOR, roles = ["create-author"])]
async fn create_author(
    Data(input): Data<CreateAuthor>,
    State(db): State<Db>,
) -> Result<Author, BooksError> {
    CreateAuthorCommand(&db).execute(&input.name).await
}

#[pkg_handler(id = PkgID::SERVER_INFO, roles = [])] // public on purpose
async fn server_info(State(info): State<ServerInfo>, hub: Hub) -> Result<Value, HandlerError> {
    Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "handlers": info.handlers.get().copied().unwrap_or(0),
        "connections": hub.connection_count(),
    }))
}
