//! Repositories: SQL for authors and books, one statement per method. (A book's create is in
//! `writer.rs`: it runs on the book writer's thread.)

use super::db::Db;
use super::models::{Author, AuthorFilters, Book, BookFilters};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

/// A page request after validation: offset mode, or cursor mode (rows after an id).
#[derive(Clone, Copy, Debug)]
pub enum PageRequest {
    Offset { page: u32, per_page: u32 },
    After { last_id: i64, per_page: u32 },
}

/// `name LIKE %text%`, case-insensitive, with LIKE's wildcards escaped.
fn push_contains(query: &mut QueryBuilder<'_, Sqlite>, column: &str, text: &str) {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    query
        .push(format_args!(" AND lower({column}) LIKE '%' || lower("))
        .push_bind(escaped)
        .push(") || '%' ESCAPE '\\'");
}

pub struct AuthorRepository<'a> {
    pub db: &'a Db,
    pub conn: &'a mut SqliteConnection,
}

impl AuthorRepository<'_> {
    pub async fn exists(&mut self, id: i64) -> Result<bool, sqlx::Error> {
        self.db.note_query();
        let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM authors WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *self.conn)
            .await?;
        Ok(row.is_some())
    }

    pub async fn create(&mut self, name: &str) -> Result<Author, sqlx::Error> {
        self.db.note_query();
        sqlx::query_as("INSERT INTO authors (name) VALUES (?) RETURNING id, name, created_at")
            .bind(name)
            .fetch_one(&mut *self.conn)
            .await
    }

    fn filtered<'q>(select: &str, filters: &'q AuthorFilters) -> QueryBuilder<'q, Sqlite> {
        let mut query = QueryBuilder::new(select);
        query.push(" FROM authors WHERE 1 = 1");
        if let Some(name) = &filters.name {
            push_contains(&mut query, "name", name);
        }
        query
    }

    pub async fn list(
        &mut self,
        filters: &AuthorFilters,
        page: Option<PageRequest>,
    ) -> Result<Vec<Author>, sqlx::Error> {
        let mut query = Self::filtered("SELECT id, name, created_at", filters);
        push_page(&mut query, page, "id");
        self.db.note_query();
        query.build_query_as().fetch_all(&mut *self.conn).await
    }

    pub async fn count(&mut self, filters: &AuthorFilters) -> Result<u64, sqlx::Error> {
        let mut query = Self::filtered("SELECT COUNT(*)", filters);
        self.db.note_query();
        let (count,): (i64,) = query.build_query_as().fetch_one(&mut *self.conn).await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

/// Appends the page's `WHERE`/`ORDER BY`/`LIMIT`; in cursor mode one row more than the page, to
/// know whether another page follows.
fn push_page(query: &mut QueryBuilder<'_, Sqlite>, page: Option<PageRequest>, id_column: &str) {
    match page {
        None => {
            query.push(format_args!(" ORDER BY {id_column}"));
        }
        Some(PageRequest::Offset { page, per_page }) => {
            let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
            query
                .push(format_args!(" ORDER BY {id_column} LIMIT "))
                .push_bind(i64::from(per_page))
                .push(" OFFSET ")
                .push_bind(offset);
        }
        Some(PageRequest::After { last_id, per_page }) => {
            query
                .push(format_args!(" AND {id_column} > "))
                .push_bind(last_id)
                .push(format_args!(" ORDER BY {id_column} LIMIT "))
                .push_bind(i64::from(per_page) + 1);
        }
    }
}

pub struct BookRepository<'a> {
    pub db: &'a Db,
    pub conn: &'a mut SqliteConnection,
}

const BOOK_COLUMNS: &str = "SELECT b.id, b.title, b.author_id, b.isbn, b.created_at";
const AUTHOR_COLUMNS: &str = ", a.id AS a_id, a.name AS a_name, a.created_at AS a_created_at";

impl BookRepository<'_> {
    pub async fn get(&mut self, id: i64) -> Result<Option<Book>, sqlx::Error> {
        self.db.note_query();
        let row = sqlx::query(&format!("{BOOK_COLUMNS} FROM books b WHERE b.id = ?"))
            .bind(id)
            .fetch_optional(&mut *self.conn)
            .await?;
        row.map(|row| book(&row, false)).transpose()
    }

    pub async fn update(&mut self, book: &Book) -> Result<(), sqlx::Error> {
        self.db.note_query();
        sqlx::query("UPDATE books SET title = ?, author_id = ?, isbn = ? WHERE id = ?")
            .bind(&book.title)
            .bind(book.author_id)
            .bind(&book.isbn)
            .bind(book.id)
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    /// Deletes a book; returns its title, or `None` when there was no such book.
    pub async fn delete(&mut self, id: i64) -> Result<Option<String>, sqlx::Error> {
        self.db.note_query();
        let row: Option<(String,)> =
            sqlx::query_as("DELETE FROM books WHERE id = ? RETURNING title")
                .bind(id)
                .fetch_optional(&mut *self.conn)
                .await?;
        Ok(row.map(|(title,)| title))
    }

    fn filtered<'q>(
        select: &str,
        filters: &'q BookFilters,
        with_author: bool,
    ) -> QueryBuilder<'q, Sqlite> {
        let mut query = QueryBuilder::new(select);
        query.push(" FROM books b");
        if with_author {
            // One JOIN instead of a query per book.
            query.push(" JOIN authors a ON a.id = b.author_id");
        }
        query.push(" WHERE 1 = 1");
        if let Some(author_id) = filters.author_id {
            query.push(" AND b.author_id = ").push_bind(author_id);
        }
        if let Some(title) = &filters.title {
            push_contains(&mut query, "b.title", title);
        }
        query
    }

    pub async fn list(
        &mut self,
        filters: &BookFilters,
        page: PageRequest,
        with_author: bool,
    ) -> Result<Vec<Book>, sqlx::Error> {
        let select = if with_author {
            format!("{BOOK_COLUMNS}{AUTHOR_COLUMNS}")
        } else {
            BOOK_COLUMNS.to_owned()
        };
        let mut query = Self::filtered(&select, filters, with_author);
        push_page(&mut query, Some(page), "b.id");
        self.db.note_query();
        let rows = query.build().fetch_all(&mut *self.conn).await?;
        rows.iter().map(|row| book(row, with_author)).collect()
    }

    pub async fn count(&mut self, filters: &BookFilters) -> Result<u64, sqlx::Error> {
        let mut query = Self::filtered("SELECT COUNT(*)", filters, false);
        self.db.note_query();
        let (count,): (i64,) = query.build_query_as().fetch_one(&mut *self.conn).await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

fn book(row: &sqlx::sqlite::SqliteRow, with_author: bool) -> Result<Book, sqlx::Error> {
    let author = if with_author {
        Some(Author {
            id: row.try_get("a_id")?,
            name: row.try_get("a_name")?,
            created_at: row.try_get("a_created_at")?,
        })
    } else {
        None
    };
    Ok(Book {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        author_id: row.try_get("author_id")?,
        isbn: row.try_get("isbn")?,
        created_at: row.try_get("created_at")?,
        author,
    })
}
