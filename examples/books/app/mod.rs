//! The books demo application: SQLite through sqlx, JWT auth, CRUD with pagination, live
//! broadcasts and a web page, served by pkg-router.

// Shared with tests/books.rs, which uses more of it than the binary does.
#![allow(dead_code, unreachable_pub)]

pub mod cli;
pub mod commands;
pub mod count_cache;
pub mod db;
pub mod error;
pub mod handlers;
pub mod ids;
pub mod limits;
pub mod models;
pub mod repo;
pub mod web;
pub mod writer;

use db::Db;
use handlers::ServerInfo;
use ids::PkgID;
use pkg_router::jwt::JwtAuthenticator;
use pkg_router::transport::WsConfig;
use pkg_router::{Hub, Router};
use pkg_router_redis::{RedisCluster, RedisConfig};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The public development secret, used (with a warning) when none is configured.
pub const DEV_SECRET: &str = "books-demo-dev-secret-do-not-use-in-production";

/// How to run the server.
#[derive(Clone, Debug)]
pub struct Settings {
    pub addr: SocketAddr,
    pub db: PathBuf,
    /// `None`: the public dev secret (and the `/dev/token` endpoint) are used.
    pub jwt_secret: Option<String>,
    /// The `iss` tokens must carry; `None`: `iss` is not checked.
    pub jwt_issuer: Option<String>,
    pub ws: WsConfig,
    /// `--redis URL`: join the other nodes on this Redis (pushes, connection limit, count
    /// cache); `None`: a single node, as before.
    pub redis: Option<String>,
    /// `--synchronous`: what an answered write survives (see `db`'s module docs).
    pub synchronous: db::Synchronous,
    /// `--tcp-nodelay`: `TCP_NODELAY` on accepted sockets (`Serve::tcp_nodelay`).
    pub tcp_nodelay: bool,
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub hub: Hub,
    pub db: Db,
    pub router: Router,
    /// The link to the other nodes, with `--redis`.
    pub cluster: Option<RedisCluster>,
    pub server: tokio::task::JoinHandle<Result<(), std::io::Error>>,
}

/// Builds the router with every handler of this crate (`#[pkg_handler]`, registered at link
/// time); handlers push through `hub`, and the WebSocket endpoint registers connections in it.
pub fn build_router(db: Db, hub: Hub) -> Result<Router, pkg_router::BuildError> {
    let info = ServerInfo::default();
    let router = Router::builder()
        .hub(hub)
        .state(db)
        .state(info.clone())
        .with_registered()
        .require_all(PkgID::ALL) // every id but the #[push] ones has a handler
        .build()?;
    let handlers = router
        .routes()
        .iter()
        .filter(|row| row.handler.is_some())
        .count();
    let _ = info.handlers.set(handlers);
    Ok(router)
}

/// Opens the database, builds everything and starts serving; returns once the socket is bound.
pub async fn start(
    settings: Settings,
) -> Result<Running, Box<dyn std::error::Error + Send + Sync>> {
    let mut db = Db::open_with(&settings.db, settings.synchronous).await?;
    db.seed().await?;
    // Several nodes: pushes, the per-principal connection limit and the count cache go
    // through Redis. One node: everything stays in this process.
    let cluster = match &settings.redis {
        Some(url) => Some(RedisCluster::new(RedisConfig::new(url)?.prefix("books"))?),
        None => None,
    };
    let hub = match &cluster {
        Some(cluster) => {
            db = db.with_shared_counts(cluster.counts());
            Hub::with_backend(cluster.backend())
        }
        None => Hub::new(),
    };
    let router = build_router(db.clone(), hub.clone())?;
    let secret = settings
        .jwt_secret
        .clone()
        .unwrap_or_else(|| DEV_SECRET.to_owned());
    let mut auth = JwtAuthenticator::hs256(&secret).leeway(std::time::Duration::from_secs(5));
    if let Some(issuer) = &settings.jwt_issuer {
        auth = auth.issuer(issuer.clone());
    }
    let web = web::Web {
        db: db.clone(),
        hub: hub.clone(),
        auth,
        asyncapi: Arc::new(router.asyncapi("Books API", env!("CARGO_PKG_VERSION"), "/web")),
        dev_secret: settings.jwt_secret.is_none().then(|| secret.clone()),
        issuer: settings.jwt_issuer.clone(),
        cluster: cluster.clone(),
    };
    let app = web::routes(web, router.clone(), settings.ws.clone());
    let listener = tokio::net::TcpListener::bind(settings.addr).await?;
    let addr = listener.local_addr()?;
    // Until SIGTERM or Ctrl-C: then every request already received is answered and committed,
    // every connection closed with 1001, and `server` resolves.
    let server = tokio::spawn(
        pkg_router::axum::serve(listener, app, hub.clone())
            .tcp_nodelay(settings.tcp_nodelay)
            .into_future(),
    );
    Ok(Running {
        addr,
        hub,
        db,
        router,
        cluster,
        server,
    })
}
