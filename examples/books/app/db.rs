//! The database: SQLite pools (readers, and one writer), the count cache and a query counter.
//!
//! # Durability
//!
//! The database is in WAL mode with `synchronous = NORMAL` by default
//! ([`Synchronous::Normal`], `--synchronous normal`): a commit appends to the write-ahead log
//! and returns without waiting for the disk (the log is synced at checkpoints). A write the
//! server has answered is therefore in the operating system's page cache: it survives the
//! process being killed (SIGKILL, a panic, an OOM kill; `tests/books_kill.rs` checks it), but
//! not a power loss or a kernel crash, after which the last commits before it may be missing
//! (the database stays consistent: it rolls back to an earlier commit, never to a torn one).
//! [`Synchronous::Full`] (`--synchronous full`, `BOOKS_SYNCHRONOUS=full`) syncs the log on
//! every commit, which makes each answered write survive a power loss too, at the cost of one
//! disk flush per commit (the book writer's group of creates shares one; an update or a delete
//! has its own).
//!
//! # Writes
//!
//! A book's create, the write under load, goes to the book writer (`writer.rs`): a thread of
//! its own with its own connection, which commits the creates waiting for it together, one
//! `INSERT ... RETURNING` each (the foreign key, not a `SELECT`, refuses an unknown author),
//! and answers each only after the commit. The other writes (update, delete, a new author)
//! go through `writer`, a pool of **one** sqlx connection, so that they queue in the pool
//! rather than in SQLite's busy handler (sleeping and retrying on the write lock); they and
//! the book writer take turns on the lock through SQLite's busy timeout (5 s). Reads use
//! `pool` (8 connections), which in WAL mode never waits for a writer.

use super::count_cache::CountCache;
use super::writer::{BookWriter, WriteError};
use pkg_router_redis::SharedCounts;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// SQLite's `synchronous` setting: what an answered write survives (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// A commit does not wait for the disk: answered writes survive a crash of the process,
    /// not a power loss.
    #[default]
    Normal,
    /// Every commit syncs the write-ahead log: answered writes survive a power loss too.
    Full,
}

impl Synchronous {
    /// `normal` or `full`, as `--synchronous` takes it.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "normal" => Ok(Self::Normal),
            "full" => Ok(Self::Full),
            other => Err(format!("`{other}`: normal or full")),
        }
    }

    /// The value of `PRAGMA synchronous`.
    pub fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }

    fn sqlite(self) -> SqliteSynchronous {
        match self {
            Self::Normal => SqliteSynchronous::Normal,
            Self::Full => SqliteSynchronous::Full,
        }
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Writer(#[from] WriteError),
}

/// Shared by every handler (`State<Db>`) and the HTTP routes.
#[derive(Clone, Debug)]
pub struct Db {
    /// Reads (8 connections).
    pub pool: SqlitePool,
    /// Writes: one connection, so that writers queue here rather than on SQLite's lock.
    pub writer: SqlitePool,
    /// Creates of books: a thread of its own that commits them in groups (`writer.rs`);
    /// `None` in [`Db::unconnected`].
    pub books: Option<BookWriter>,
    pub counts: Arc<CountCache>,
    /// With `--redis`: the totals every node shares, used instead of `counts` so that a write
    /// on one node is seen in the totals of all of them.
    pub shared_counts: Option<SharedCounts>,
    queries: Arc<AtomicU64>,
}

impl Db {
    /// Opens (creating if needed) the database file and applies the migrations, with the
    /// default durability ([`Synchronous::Normal`]).
    pub async fn open(path: &Path) -> Result<Self, OpenError> {
        Self::open_with(path, Synchronous::default()).await
    }

    /// [`open`](Self::open) with this `synchronous` setting.
    pub async fn open_with(path: &Path, synchronous: Synchronous) -> Result<Self, OpenError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous.sqlite());
        // One connection for every write, first: it creates the file and migrates it.
        // `test_before_acquire(false)`: a local file has no link to check, and the check would
        // cost a round trip to the connection's thread on every request.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("examples/books/migrations")
            .run(&writer)
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        let books = BookWriter::open(path, synchronous)?;
        Ok(Self {
            pool,
            writer,
            books: Some(books),
            counts: Arc::new(CountCache::default()),
            shared_counts: None,
            queries: Arc::new(AtomicU64::new(0)),
        })
    }

    /// A pool that connects only when first used: for building the router where no query runs
    /// (the `routes` and `check` commands).
    pub fn unconnected() -> Self {
        let options = SqliteConnectOptions::new().in_memory(true);
        Self {
            pool: SqlitePoolOptions::new().connect_lazy_with(options.clone()),
            writer: SqlitePoolOptions::new().connect_lazy_with(options),
            books: None,
            counts: Arc::new(CountCache::default()),
            shared_counts: None,
            queries: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Shares the count cache with the other nodes through Redis.
    pub fn with_shared_counts(mut self, counts: SharedCounts) -> Self {
        self.shared_counts = Some(counts);
        self
    }

    /// Forgets the counts of `table`, here and (with `--redis`) on every node. Called after
    /// the write's commit, so a count taken before it is never served again.
    pub async fn invalidate_counts(&self, table: &'static str) {
        self.counts.invalidate(table);
        if let Some(shared) = &self.shared_counts
            && let Err(err) = shared.invalidate(table).await
        {
            tracing::warn!(%err, table, "cannot invalidate the shared count cache: other nodes may serve an old total until it expires");
        }
    }

    /// Starts a write transaction. `BEGIN IMMEDIATE` takes the write lock up front: a deferred
    /// transaction that reads and then writes can fail at once with `SQLITE_BUSY` in WAL mode
    /// (the busy timeout does not apply to that upgrade) when another writer got there first.
    pub async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    /// The writer connection, for a write of one statement (an autocommit: one transaction).
    pub async fn write_one(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>, sqlx::Error> {
        self.writer.acquire().await
    }

    /// The book writer (an error in [`Db::unconnected`], which writes nothing).
    pub fn books(&self) -> Result<&BookWriter, WriteError> {
        self.books.as_ref().ok_or(WriteError::Stopped)
    }

    /// Counts one statement sent to the database (the tests use it to prove there is no N+1).
    pub fn note_query(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
    }

    /// Statements sent so far.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Seeds a few authors and books into an empty database.
    pub async fn seed(&self) -> Result<(), sqlx::Error> {
        let (authors,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM authors")
            .fetch_one(&self.pool)
            .await?;
        if authors > 0 {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        for (name, books) in [
            (
                "Ursula K. Le Guin",
                &[
                    ("A Wizard of Earthsea", "978-0553383041"),
                    ("The Dispossessed", "978-0061054884"),
                ][..],
            ),
            ("Frank Herbert", &[("Dune", "978-0441013593")][..]),
            (
                "Andrew Hunt",
                &[("The Pragmatic Programmer", "978-0135957059")][..],
            ),
        ] {
            let (author_id,): (i64,) =
                sqlx::query_as("INSERT INTO authors (name) VALUES (?) RETURNING id")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?;
            for (title, isbn) in books {
                sqlx::query("INSERT INTO books (title, author_id, isbn) VALUES (?, ?, ?)")
                    .bind(title)
                    .bind(author_id)
                    .bind(isbn)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await
    }
}
