//! The book writer: one thread that owns a SQLite connection and commits the creates waiting
//! for it together (group commit).
//!
//! sqlx runs every statement on its connection's own thread and hands it back to the async
//! task: two thread wake-ups per statement, which cost more than the statement itself (the
//! load harness's floor measures it: the same `INSERT` costs about 2-4x the CPU through sqlx
//! than on the calling thread, and more the busier the machine). Creates are the write path
//! under load, so they go to this thread instead: it takes every create queued when it wakes
//! (at most [`MAX_BATCH`]), runs each one's `INSERT ... RETURNING` in one `BEGIN IMMEDIATE`
//! transaction, commits once, and only then answers each. A statement that fails (an unknown
//! author, a taken ISBN) is undone alone, as SQLite does for a failed statement inside a
//! transaction; the others commit. If the commit fails, every create of the batch gets the
//! error. One create waiting alone is one autocommit `INSERT`, as before.
//!
//! Nothing is answered before its commit: a create the server answered is in the
//! write-ahead log (see `db`'s module docs for what that survives).

use super::db::Synchronous;
use super::models::Book;
use rusqlite::{Connection, ErrorCode, OptionalExtension};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The most creates committed together.
pub const MAX_BATCH: usize = 64;

/// The create statement: the same one whether alone or in a batch.
pub const INSERT_BOOK: &str = "INSERT INTO books (title, author_id, isbn) VALUES (?1, ?2, ?3) \
                               RETURNING id, title, author_id, isbn, created_at";

/// Why a create was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The foreign key: no author with this id.
    #[error("unknown author")]
    UnknownAuthor,
    /// The unique index on `isbn`.
    #[error("duplicate ISBN")]
    DuplicateIsbn,
    /// Anything else SQLite said.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The batch's `BEGIN` or `COMMIT` failed: nothing of it was written.
    #[error("the batch's transaction failed: {0}")]
    Batch(String),
    /// The writer thread is gone (or was never started: `Db::unconnected`).
    #[error("the book writer stopped")]
    Stopped,
    /// The thread could not be started.
    #[error("cannot start the writer thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// One create waiting for the writer.
struct Job {
    title: String,
    author_id: i64,
    isbn: Option<String>,
    reply: oneshot::Sender<Result<Book, WriteError>>,
}

/// The handle of the writer thread; cloned freely. The thread ends when the last handle is
/// dropped.
#[derive(Clone, Debug)]
pub struct BookWriter {
    jobs: mpsc::Sender<Job>,
}

impl BookWriter {
    /// Opens `path` (already created and migrated) and starts the thread.
    pub fn open(path: &Path, synchronous: Synchronous) -> Result<Self, WriteError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", synchronous.pragma())?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("books-writer".into())
            .spawn(move || run(&conn, &queue))?;
        Ok(Self { jobs })
    }

    /// Creates a book; returns it once committed.
    pub async fn create(
        &self,
        title: &str,
        author_id: i64,
        isbn: Option<&str>,
    ) -> Result<Book, WriteError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            title: title.to_owned(),
            author_id,
            isbn: isbn.map(str::to_owned),
            reply,
        };
        self.jobs.send(job).map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }
}

/// The thread: waits for a create, takes every other one queued, commits them together.
fn run(conn: &Connection, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let results = commit(conn, &batch);
        for (job, result) in batch.into_iter().zip(results) {
            // The caller may have gone (its connection closed): the book is created anyway.
            let _ = job.reply.send(result);
        }
    }
}

/// Runs `batch` in one transaction (or alone as an autocommit); one result per job.
fn commit(conn: &Connection, batch: &[Job]) -> Vec<Result<Book, WriteError>> {
    if let [job] = batch {
        return vec![insert(conn, job)];
    }
    if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
        let message = err.to_string();
        return batch
            .iter()
            .map(|_| Err(WriteError::Batch(message.clone())))
            .collect();
    }
    let mut results: Vec<Result<Book, WriteError>> =
        batch.iter().map(|job| insert(conn, job)).collect();
    if let Err(err) = conn.execute_batch("COMMIT") {
        let message = err.to_string();
        let _ = conn.execute_batch("ROLLBACK");
        for result in &mut results {
            *result = Err(WriteError::Batch(message.clone()));
        }
    }
    results
}

/// One create's statement; an unknown author or a taken ISBN is told apart from other
/// failures. With both, the author is reported (as when it was checked first).
fn insert(conn: &Connection, job: &Job) -> Result<Book, WriteError> {
    let inserted = conn.prepare_cached(INSERT_BOOK).and_then(|mut statement| {
        statement.query_row(
            rusqlite::params![job.title, job.author_id, job.isbn],
            |row| {
                Ok(Book {
                    id: row.get(0)?,
                    title: row.get(1)?,
                    author_id: row.get(2)?,
                    isbn: row.get(3)?,
                    created_at: row.get(4)?,
                    author: None,
                })
            },
        )
    });
    match inserted {
        Ok(book) => Ok(book),
        Err(err) => match constraint(&err) {
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => Err(WriteError::UnknownAuthor),
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE) => {
                let author: Option<i64> = conn
                    .prepare_cached("SELECT id FROM authors WHERE id = ?1")?
                    .query_row([job.author_id], |row| row.get(0))
                    .optional()?;
                Err(if author.is_some() {
                    WriteError::DuplicateIsbn
                } else {
                    WriteError::UnknownAuthor
                })
            }
            _ => Err(WriteError::Database(err)),
        },
    }
}

/// The extended code of a constraint violation.
fn constraint(err: &rusqlite::Error) -> Option<i32> {
    match err {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation =>
        {
            Some(failure.extended_code)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

    use super::*;

    fn job(title: &str, author_id: i64, isbn: Option<&str>) -> Job {
        Job {
            title: title.to_owned(),
            author_id,
            isbn: isbn.map(str::to_owned),
            reply: oneshot::channel().0,
        }
    }

    #[test]
    fn a_group_commits_every_create_but_the_refused_ones() {
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        conn.execute_batch(include_str!("../migrations/0001_books.sql"))
            .unwrap();
        conn.execute("INSERT INTO authors (name) VALUES ('A')", ())
            .unwrap();
        let batch = [
            job("first", 1, Some("978-0000000001")),
            job("no such author", 9, None),
            job("taken ISBN", 1, Some("978-0000000001")),
            job("both", 9, Some("978-0000000001")),
            job("last", 1, None),
        ];
        let results = commit(&conn, &batch);
        assert_eq!(results[0].as_ref().unwrap().title, "first");
        assert!(matches!(results[1], Err(WriteError::UnknownAuthor)));
        assert!(matches!(results[2], Err(WriteError::DuplicateIsbn)));
        assert!(matches!(results[3], Err(WriteError::UnknownAuthor)));
        assert_eq!(results[4].as_ref().unwrap().title, "last");
        let titles: Vec<String> = conn
            .prepare("SELECT title FROM books ORDER BY id")
            .unwrap()
            .query_map((), |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(titles, ["first", "last"]);
        assert!(conn.is_autocommit(), "the group's transaction is committed");
    }
}
