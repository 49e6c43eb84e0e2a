//! Command line: `serve` (default), `token`, and pkg_router::cli's `routes`, `asyncapi`,
//! `check`, `new-handler`.

use super::{DEV_SECRET, Settings, web};
use std::process::ExitCode;
use std::time::Duration;

const HELP: &str = "\
books: the pkg-router demo (SQLite, JWT, CRUD, pagination, live updates)

USAGE:
    cargo run --example books [-- OPTIONS]                     serve
    cargo run --example books -- token --user NAME --roles A,B [--ttl SECONDS]
    cargo run --example books -- routes [--json] | asyncapi | check
    cargo run --example books -- new-handler NAME --id N [--roles A,B] ...   (see new-handler --help)

OPTIONS (serve; each also from the environment; token reads --jwt-secret and --jwt-issuer):
    --addr ADDR         listen address [BOOKS_ADDR, default 127.0.0.1:8000]
    --db PATH           SQLite file, created and migrated on first start [BOOKS_DB, default books.db]
    --jwt-secret SECRET HS256 secret [BOOKS_JWT_SECRET, default: a public dev secret]
    --jwt-issuer ISS    the `iss` tokens must carry [BOOKS_JWT_ISSUER, default: not checked]
    --redis URL         join the other nodes on this Redis: pushes, the connection limit and the
                        count cache are shared (e.g. redis://127.0.0.1:6379/) [BOOKS_REDIS,
                        default: a single node]
    --synchronous S     normal | full: SQLite's `synchronous` in WAL mode. normal: an answered
                        write survives a crash or SIGKILL of the process, not a power loss;
                        full: a power loss too, one disk flush per write [BOOKS_SYNCHRONOUS,
                        default normal]
    --tcp-nodelay B     on | off: TCP_NODELAY on accepted sockets [BOOKS_TCP_NODELAY, default on]
";

/// Reads `--name value` from `args`, else the environment variable.
fn option(args: &[String], name: &str, env: Option<&str>) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| env.and_then(|e| std::env::var(e).ok()))
}

pub async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        print!(
            "\nLIMITS (serve; pkg_router::transport::WsConfig, defaults in brackets):\n{}",
            super::limits::help()
        );
        return ExitCode::SUCCESS;
    }
    let secret = option(&args, "--jwt-secret", Some("BOOKS_JWT_SECRET"));
    // An empty BOOKS_JWT_ISSUER means none, not "tokens must carry an empty `iss`".
    let issuer = option(&args, "--jwt-issuer", Some("BOOKS_JWT_ISSUER")).filter(|i| !i.is_empty());
    match args.first().map(String::as_str) {
        Some("token") => {
            let Some(user) = option(&args, "--user", None) else {
                eprintln!("token needs --user NAME\n\n{HELP}");
                return ExitCode::FAILURE;
            };
            let roles: Vec<String> = option(&args, "--roles", None)
                .map(|r| {
                    r.split(',')
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let ttl = option(&args, "--ttl", None)
                .and_then(|t| t.parse().ok())
                .unwrap_or(3600);
            match web::mint_issued(
                secret.as_deref().unwrap_or(DEV_SECRET),
                issuer.as_deref(),
                &user,
                &roles,
                Duration::from_secs(ttl),
            ) {
                Ok(token) => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("cannot sign the token: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(command) if pkg_router::cli::COMMANDS.contains(&command) => {
            // routes, asyncapi, check, new-handler (pkg_router::cli). The router is built over a
            // pool that never connects: listing routes runs no query.
            let cli = pkg_router::cli::Cli::new(|| {
                super::build_router(super::db::Db::unconnected(), pkg_router::Hub::new())
            })
            .root(env!("CARGO_MANIFEST_DIR"))
            .ids_file("examples/books/app/ids.rs")
            .asyncapi_info("Books API", env!("CARGO_PKG_VERSION"), "/web");
            cli.intercept().unwrap_or(ExitCode::FAILURE)
        }
        Some(other) if !other.starts_with("--") && other != "serve" => {
            eprintln!("unknown command `{other}`\n\n{HELP}");
            ExitCode::FAILURE
        }
        _ => serve(&args, secret, issuer).await,
    }
}

async fn serve(args: &[String], secret: Option<String>, issuer: Option<String>) -> ExitCode {
    let addr =
        option(args, "--addr", Some("BOOKS_ADDR")).unwrap_or_else(|| "127.0.0.1:8000".into());
    let Ok(addr) = addr.parse() else {
        eprintln!("--addr: `{addr}` is not an address like 127.0.0.1:8000");
        return ExitCode::FAILURE;
    };
    let db = option(args, "--db", Some("BOOKS_DB")).unwrap_or_else(|| "books.db".into());
    let ws = match super::limits::ws_config(args, |name| std::env::var(name).ok()) {
        Ok(ws) => ws,
        Err(err) => {
            eprintln!("{err}\n\n{HELP}");
            return ExitCode::FAILURE;
        }
    };
    let synchronous = match option(args, "--synchronous", Some("BOOKS_SYNCHRONOUS")) {
        None => super::db::Synchronous::default(),
        Some(value) => match super::db::Synchronous::parse(&value) {
            Ok(synchronous) => synchronous,
            Err(why) => {
                eprintln!("--synchronous / BOOKS_SYNCHRONOUS: {why}\n\n{HELP}");
                return ExitCode::FAILURE;
            }
        },
    };
    let tcp_nodelay = match option(args, "--tcp-nodelay", Some("BOOKS_TCP_NODELAY")).as_deref() {
        None | Some("on") => true,
        Some("off") => false,
        Some(other) => {
            eprintln!("--tcp-nodelay / BOOKS_TCP_NODELAY: `{other}`: on or off\n\n{HELP}");
            return ExitCode::FAILURE;
        }
    };
    if secret.is_none() {
        tracing::warn!(
            "!!! no --jwt-secret / BOOKS_JWT_SECRET: using the PUBLIC DEV SECRET; anyone can mint tokens (POST /dev/token). Never run this in production. !!!"
        );
    }
    let settings = Settings {
        addr,
        db: db.into(),
        jwt_secret: secret.clone(),
        jwt_issuer: issuer,
        ws,
        // An empty BOOKS_REDIS means a single node.
        redis: option(args, "--redis", Some("BOOKS_REDIS")).filter(|url| !url.is_empty()),
        synchronous,
        tcp_nodelay,
    };
    let running = match super::start(settings).await {
        Ok(running) => running,
        Err(err) => {
            eprintln!("cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    let addr = running.addr;
    println!("books demo listening on http://{addr}");
    println!("  web page:   http://{addr}/   (open it in a browser)");
    println!(
        "  WebSocket:  ws://{addr}/web  (first frame: {{\"type\":\"auth\",\"token\":\"Bearer <token>\"}})"
    );
    println!("  AsyncAPI:   http://{addr}/asyncapi.json");
    if let Some(cluster) = &running.cluster {
        println!(
            "  cluster:    node {} on Redis (its state: http://{addr}/health)",
            cluster.node_id()
        );
    }
    println!(
        "  a token:    cargo run --example books -- token --user alice --roles view-books,create-book,update-book,delete-book,admin,get-authors,create-author"
    );
    match running.server.await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(err)) => {
            eprintln!("server error: {err}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("server task failed: {err}");
            ExitCode::FAILURE
        }
    }
}
