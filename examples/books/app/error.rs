//! Domain errors and how they reach clients.

use pkg_router::{HandlerError, RspCode, error_code};

/// What the books commands can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BooksError {
    #[error("author {0} does not exist")]
    UnknownAuthor(i64),
    #[error("book {0} not found")]
    BookNotFound(i64),
    #[error("a book with ISBN {0} already exists")]
    DuplicateIsbn(String),
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Write(#[from] super::writer::WriteError),
}

impl From<BooksError> for HandlerError {
    fn from(err: BooksError) -> Self {
        match err {
            BooksError::UnknownAuthor(_) => {
                HandlerError::invalid_field("/author_id", err.to_string())
            }
            BooksError::BookNotFound(id) => {
                HandlerError::not_found(format!("Book with ID {id} not found"))
            }
            // A conflict that names the field, so a form can show it next to the ISBN.
            BooksError::DuplicateIsbn(_) => {
                let msg = err.to_string();
                HandlerError::custom(RspCode::InvalidData, error_code::CONFLICT, msg.clone())
                    .with_details(serde_json::json!([{"path": "/isbn", "message": msg}]))
            }
            BooksError::InvalidCursor => HandlerError::invalid_field("/cursor", "invalid cursor"),
            // Logged by the router; the client sees only "Internal error".
            BooksError::Database(source) => HandlerError::internal(source),
            BooksError::Write(source) => HandlerError::internal(source),
        }
    }
}
