//! The books example on a free port with a temporary SQLite database, for the end-to-end tests
//! (`books.rs`, `books_browser.rs`, `books_shutdown.rs`).
// Each test binary uses a different part of it.
#![allow(dead_code)]

#[path = "../../examples/books/app/mod.rs"]
pub(crate) mod app;

use std::path::PathBuf;

/// The running app; dropping it stops the server and deletes its database.
pub(crate) struct Books {
    pub(crate) running: app::Running,
    db_path: PathBuf,
    settings: fn(&mut app::Settings),
}

impl Books {
    /// Starts the app with the dev secret and no rate limit.
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// [`start`](Self::start), with `change` applied to the settings first.
    pub(crate) async fn start_with(change: fn(&mut app::Settings)) -> Self {
        let db_path = std::env::temp_dir().join(format!("books-test-{}.db", uuid::Uuid::new_v4()));
        let mut settings = settings(db_path.clone());
        settings.ws.rate_limit = None;
        change(&mut settings);
        let running = app::start(settings).await.unwrap();
        Self {
            running,
            db_path,
            settings: change,
        }
    }

    /// Stops the server as SIGTERM would (every connection closed with 1001), then starts a new
    /// one on the same address and database.
    pub(crate) async fn restart(&mut self) {
        self.running.hub.shutdown().await;
        self.running.server.abort();
        let _ = (&mut self.running.server).await;
        let mut settings = settings(self.db_path.clone());
        settings.addr = self.running.addr;
        settings.ws.rate_limit = None;
        (self.settings)(&mut settings);
        self.running = app::start(settings).await.unwrap();
    }
}

/// The app's defaults (as `cargo run --example books` has them) on a free port and `db`.
pub(crate) fn settings(db: PathBuf) -> app::Settings {
    app::Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        db,
        jwt_secret: None,
        jwt_issuer: None,
        ws: pkg_router::transport::WsConfig::default(),
        redis: None,
        synchronous: app::db::Synchronous::default(),
        tcp_nodelay: true,
    }
}

impl Drop for Books {
    fn drop(&mut self) {
        self.running.server.abort();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db_path.display()));
        }
    }
}

/// The address a books binary started as a child process (stdout piped) announces, waiting
/// at most `wait`; the rest of its stdout is drained in the background so it never blocks on
/// a full pipe.
pub(crate) async fn listening_addr(
    child: &mut tokio::process::Child,
    wait: std::time::Duration,
) -> String {
    use tokio::io::AsyncBufReadExt;
    let stdout = child.stdout.take().expect("the child's stdout is piped");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    loop {
        let line = tokio::time::timeout(wait, lines.next_line())
            .await
            .expect("the server did not announce its address in time")
            .unwrap()
            .expect("the server exited before listening");
        if let Some(rest) = line.strip_prefix("books demo listening on http://") {
            let addr = rest.trim().to_owned();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return addr;
        }
    }
}
