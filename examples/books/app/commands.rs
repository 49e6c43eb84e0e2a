//! Business logic, shared by the WebSocket handlers and the HTTP routes (as in the Python
//! design's commands over repositories). Each write runs in one transaction; callers announce
//! a change only after `execute` returned, that is after the commit.

use super::count_cache::TTL;
use super::db::Db;
use super::error::BooksError;
use super::models::{Author, AuthorFilters, Book, BookFilters, CreateBook, UpdateBook};
use super::repo::{AuthorRepository, BookRepository, PageRequest};
use super::writer::WriteError;
use pkg_router::{PageMeta, Paginated};
use pkg_router_redis::CountLookup;

/// Page parameters as clients send them.
#[derive(Clone, Debug, Default)]
pub struct PageInput {
    pub page: Option<u32>,
    pub per_page: Option<u32>,
    pub cursor: Option<String>,
}

impl PageInput {
    fn request(&self) -> Result<PageRequest, BooksError> {
        let per_page = self
            .per_page
            .unwrap_or(pkg_router::pagination::DEFAULT_PER_PAGE);
        match &self.cursor {
            None => Ok(PageRequest::Offset {
                page: self.page.unwrap_or(1),
                per_page,
            }),
            // The Python design's rule: any non-null cursor selects cursor mode, and an empty one
            // starts it from the first row.
            Some(cursor) if cursor.is_empty() => Ok(PageRequest::After {
                last_id: i64::MIN,
                per_page,
            }),
            Some(cursor) => Ok(PageRequest::After {
                last_id: decode_cursor(cursor)?,
                per_page,
            }),
        }
    }
}

/// Cursors are opaque to clients; here, the last id seen, hex-encoded behind a version tag.
fn encode_cursor(last_id: i64) -> String {
    format!("c1.{last_id:x}")
}

fn decode_cursor(cursor: &str) -> Result<i64, BooksError> {
    cursor
        .strip_prefix("c1.")
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .filter(|id| *id >= 0)
        .ok_or(BooksError::InvalidCursor)
}

/// Turns rows of a page into items and metadata; in cursor mode the query fetched one row more
/// than the page to learn whether another page follows.
fn finish_page<T>(
    mut rows: Vec<T>,
    request: PageRequest,
    total: Option<u64>,
    id_of: impl Fn(&T) -> i64,
) -> Paginated<T> {
    match request {
        PageRequest::Offset { page, per_page } => {
            let mut meta = PageMeta::offset(page, per_page, total.unwrap_or(0));
            // Offer the cursor too, so a client can continue by cursor from the first page.
            if meta.has_more {
                meta.next_cursor = rows.last().map(|row| encode_cursor(id_of(row)));
            }
            Paginated::new(rows, meta)
        }
        PageRequest::After { per_page, .. } => {
            let has_more = rows.len() > per_page as usize;
            rows.truncate(per_page as usize);
            let next = has_more
                .then(|| rows.last().map(|row| encode_cursor(id_of(row))))
                .flatten();
            Paginated::new(rows, PageMeta::cursor(per_page, next))
        }
    }
}

pub struct CreateBookCommand<'a>(pub &'a Db);

impl CreateBookCommand<'_> {
    /// One statement, `INSERT ... RETURNING`, on the book writer's thread, committed (with
    /// the other creates waiting then) before it returns; the foreign key refuses an unknown
    /// author (see `writer.rs`).
    pub async fn execute(&self, input: &CreateBook) -> Result<Book, BooksError> {
        let db = self.0;
        db.note_query();
        let book = db
            .books()?
            .create(&input.title, input.author_id, input.isbn.as_deref())
            .await
            .map_err(|err| match (err, &input.isbn) {
                (WriteError::UnknownAuthor, _) => BooksError::UnknownAuthor(input.author_id),
                (WriteError::DuplicateIsbn, Some(isbn)) => BooksError::DuplicateIsbn(isbn.clone()),
                (err, _) => BooksError::Write(err),
            })?;
        db.invalidate_counts("books").await;
        Ok(book)
    }
}

pub struct UpdateBookCommand<'a>(pub &'a Db);

impl UpdateBookCommand<'_> {
    pub async fn execute(&self, input: &UpdateBook) -> Result<Book, BooksError> {
        let db = self.0;
        let mut tx = db.write().await?;
        let mut book = (BookRepository { db, conn: &mut tx })
            .get(input.id)
            .await?
            .ok_or(BooksError::BookNotFound(input.id))?;
        if let Some(author_id) = input.author_id
            && author_id != book.author_id
            && !(AuthorRepository { db, conn: &mut tx })
                .exists(author_id)
                .await?
        {
            return Err(BooksError::UnknownAuthor(author_id));
        }
        // A new title or author can move the book between filtered counts.
        let moves = input.title.as_ref().is_some_and(|t| *t != book.title)
            || input.author_id.is_some_and(|a| a != book.author_id);
        if let Some(title) = &input.title {
            book.title.clone_from(title);
        }
        if let Some(author_id) = input.author_id {
            book.author_id = author_id;
        }
        if let Some(isbn) = &input.isbn {
            book.isbn = Some(isbn.clone());
        }
        (BookRepository { db, conn: &mut tx })
            .update(&book)
            .await
            .map_err(|err| duplicate_isbn(err, input.isbn.as_deref()))?;
        tx.commit().await?;
        if moves {
            db.invalidate_counts("books").await;
        }
        Ok(book)
    }
}

pub struct DeleteBookCommand<'a>(pub &'a Db);

impl DeleteBookCommand<'_> {
    /// Deletes the book and returns its title.
    pub async fn execute(&self, id: i64) -> Result<String, BooksError> {
        let db = self.0;
        let mut tx = db.write().await?;
        let title = (BookRepository { db, conn: &mut tx })
            .delete(id)
            .await?
            .ok_or(BooksError::BookNotFound(id))?;
        tx.commit().await?;
        db.invalidate_counts("books").await;
        Ok(title)
    }
}

pub struct CreateAuthorCommand<'a>(pub &'a Db);

impl CreateAuthorCommand<'_> {
    pub async fn execute(&self, name: &str) -> Result<Author, BooksError> {
        let db = self.0;
        let mut conn = db.write_one().await?;
        let author = (AuthorRepository {
            db,
            conn: &mut conn,
        })
        .create(name)
        .await?;
        db.invalidate_counts("authors").await;
        Ok(author)
    }
}

pub struct ListBooksQuery<'a>(pub &'a Db);

impl ListBooksQuery<'_> {
    pub async fn execute(
        &self,
        filters: &BookFilters,
        page: &PageInput,
        with_author: bool,
    ) -> Result<Paginated<Book>, BooksError> {
        let db = self.0;
        let request = page.request()?;
        let mut conn = db.pool.acquire().await?;
        let mut repo = BookRepository {
            db,
            conn: &mut conn,
        };
        let rows = repo.list(filters, request, with_author).await?;
        let total = match request {
            PageRequest::Offset { .. } => {
                let key = format!(
                    "author_id={:?}&title={:?}",
                    filters.author_id, filters.title
                );
                Some(cached_count(db, "books", key, repo.count(filters)).await?)
            }
            PageRequest::After { .. } => None,
        };
        Ok(finish_page(rows, request, total, |book| book.id))
    }
}

pub struct ListAuthorsQuery<'a>(pub &'a Db);

impl ListAuthorsQuery<'_> {
    pub async fn all(&self, filters: &AuthorFilters) -> Result<Vec<Author>, BooksError> {
        let db = self.0;
        let mut conn = db.pool.acquire().await?;
        Ok((AuthorRepository {
            db,
            conn: &mut conn,
        })
        .list(filters, None)
        .await?)
    }

    pub async fn page(
        &self,
        filters: &AuthorFilters,
        page: &PageInput,
    ) -> Result<Paginated<Author>, BooksError> {
        let db = self.0;
        let request = page.request()?;
        let mut conn = db.pool.acquire().await?;
        let mut repo = AuthorRepository {
            db,
            conn: &mut conn,
        };
        let rows = repo.list(filters, Some(request)).await?;
        let total = match request {
            PageRequest::Offset { .. } => {
                let key = format!("name={:?}", filters.name);
                Some(cached_count(db, "authors", key, repo.count(filters)).await?)
            }
            PageRequest::After { .. } => None,
        };
        Ok(finish_page(rows, request, total, |author| author.id))
    }
}

/// The count for `key`, from the cache, else from `count` (which then fills the cache). The
/// query only runs on a miss: futures do nothing until awaited.
async fn cached_count(
    db: &Db,
    table: &'static str,
    key: String,
    count: impl std::future::Future<Output = Result<u64, sqlx::Error>>,
) -> Result<u64, BooksError> {
    if let Some(shared) = &db.shared_counts {
        let generation = match shared.lookup(table, &key).await {
            Ok(CountLookup::Hit(total)) => return Ok(total),
            Ok(CountLookup::Miss(generation)) => Some(generation),
            Err(err) => {
                // No local fallback: a total cached here would not see other nodes' writes.
                tracing::debug!(%err, "shared count cache unavailable: counting");
                None
            }
        };
        let total = count.await?;
        if let Some(generation) = generation
            && let Err(err) = shared.store(table, &key, generation, total, TTL).await
        {
            tracing::debug!(%err, "cannot store a count in the shared cache");
        }
        return Ok(total);
    }
    if let Some(total) = db.counts.get(table, &key) {
        return Ok(total);
    }
    let total = count.await?;
    db.counts.put(table, key, total);
    Ok(total)
}

fn duplicate_isbn(err: sqlx::Error, isbn: Option<&str>) -> BooksError {
    let unique = err
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation());
    match (unique, isbn) {
        (true, Some(isbn)) => BooksError::DuplicateIsbn(isbn.to_owned()),
        _ => BooksError::Database(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_cursor_starts_cursor_mode_before_the_first_row() {
        let page = PageInput {
            cursor: Some(String::new()),
            per_page: Some(5),
            ..PageInput::default()
        };
        assert!(matches!(
            page.request(),
            Ok(PageRequest::After {
                last_id: i64::MIN,
                per_page: 5
            })
        ));
        let bad = PageInput {
            cursor: Some("c1.".into()),
            ..PageInput::default()
        };
        assert!(matches!(bad.request(), Err(BooksError::InvalidCursor)));
    }
}
