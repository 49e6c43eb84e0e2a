//! The database: a SQLite pool, the count cache and a query counter.

use super::count_cache::CountCache;
use pkg_router_redis::SharedCounts;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Shared by every handler (`State<Db>`) and the HTTP routes.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: SqlitePool,
    pub counts: Arc<CountCache>,
    /// With `--redis`: the totals every node shares, used instead of `counts` so that a write
    /// on one node is seen in the totals of all of them.
    pub shared_counts: Option<SharedCounts>,
    queries: Arc<AtomicU64>,
}

impl Db {
    /// Opens (creating if needed) the database file and applies the migrations.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("examples/books/migrations")
            .run(&pool)
            .await?;
        Ok(Self {
            pool,
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
            pool: SqlitePoolOptions::new().connect_lazy_with(options),
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
        self.pool.begin_with("BEGIN IMMEDIATE").await
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
        let mut tx = self.pool.begin().await?;
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
