//! Rows and payloads.

use pkg_router::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};

/// An author row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow, JsonSchema)]
pub struct Author {
    pub id: i64,
    pub name: String,
    pub created_at: String,
}

/// A book row, with its author when asked for (`eager_load: ["author"]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Book {
    pub id: i64,
    pub title: String,
    pub author_id: i64,
    pub isbn: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub author: Option<Author>,
}

/// `CREATE_BOOK` data.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(crate = "pkg_router::schemars", deny_unknown_fields)]
pub struct CreateBook {
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    #[schemars(range(min = 1))]
    pub author_id: i64,
    #[schemars(regex(pattern = r"^978-\d{10}$"))]
    pub isbn: Option<String>,
}

/// `UPDATE_BOOK` data: the id and any of the fields (partial update).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(crate = "pkg_router::schemars", deny_unknown_fields)]
pub struct UpdateBook {
    #[schemars(range(min = 1))]
    pub id: i64,
    #[schemars(length(min = 1, max = 200))]
    pub title: Option<String>,
    #[schemars(range(min = 1))]
    pub author_id: Option<i64>,
    #[schemars(regex(pattern = r"^978-\d{10}$"))]
    pub isbn: Option<String>,
}

/// `DELETE_BOOK` data.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(crate = "pkg_router::schemars", deny_unknown_fields)]
pub struct DeleteBook {
    #[schemars(range(min = 1))]
    pub id: i64,
}

/// `CREATE_AUTHOR` data.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[schemars(crate = "pkg_router::schemars", deny_unknown_fields)]
pub struct CreateAuthor {
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
}

/// Filters of `GET_AUTHORS` / `GET_PAGINATED_AUTHORS`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "pkg_router::schemars", deny_unknown_fields)]
pub struct AuthorFilters {
    /// Substring of the name (case-insensitive). Bounded like the names themselves: SQLite
    /// refuses LIKE patterns over 50 000 bytes, and a longer filter cannot match anyway.
    #[schemars(length(max = 200))]
    pub name: Option<String>,
}

/// Filters of `GET_BOOKS`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "pkg_router::schemars", deny_unknown_fields)]
pub struct BookFilters {
    #[schemars(range(min = 1))]
    pub author_id: Option<i64>,
    /// Substring of the title (case-insensitive), bounded like titles (see `AuthorFilters`).
    #[schemars(length(max = 200))]
    pub title: Option<String>,
}

/// `GET_AUTHORS` data.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "pkg_router::schemars", deny_unknown_fields)]
pub struct GetAuthors {
    #[serde(default)]
    pub filters: Option<AuthorFilters>,
}

/// `GET_PAGINATED_AUTHORS` data.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "pkg_router::schemars", deny_unknown_fields)]
pub struct GetPaginatedAuthors {
    #[schemars(range(min = 1))]
    pub page: Option<u32>,
    #[schemars(range(min = 1, max = 100))]
    pub per_page: Option<u32>,
    pub cursor: Option<String>,
    pub filters: Option<AuthorFilters>,
}

/// What may be embedded in each book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(crate = "pkg_router::schemars")]
#[serde(rename_all = "snake_case")]
pub enum Embed {
    Author,
}

/// `GET_BOOKS` data.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "pkg_router::schemars", deny_unknown_fields)]
pub struct GetBooks {
    #[schemars(range(min = 1))]
    pub page: Option<u32>,
    #[schemars(range(min = 1, max = 100))]
    pub per_page: Option<u32>,
    pub cursor: Option<String>,
    pub filters: Option<BookFilters>,
    #[serde(default)]
    pub eager_load: Vec<Embed>,
}

/// The `data` of the `BOOK_*` pushes.
#[derive(Clone, Debug, Serialize)]
pub struct BookEvent<'a> {
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    pub action: &'static str,
}
