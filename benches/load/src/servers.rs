//! The three servers under test, each run by `pkg-router-bench serve <kind> --port N` in a
//! process of its own. Each prints `LISTENING <port>` once it accepts connections and exits
//! when its standard input closes (the driver holds the other end) or after `max_lifetime`.

use crate::proto::{
    BOOK_CREATED, BROADCAST, Book, CREATE_BOOK, CreateBook, Event, JWT_SECRET, RPC_BROADCAST,
    RPC_CREATE_BOOK, RPC_NOTIFICATION, RPC_SUBSCRIBE, RPC_UNSUBSCRIBE, STATS, Store,
};
use crate::{BenchError, Kind};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// WebSocket read and write buffers of the floor server: pkg-router's defaults, so the floor's
/// memory per connection is a like-for-like reference.
const FLOOR_BUFFER: usize = 4 * 1024;

/// Capacity of jsonrpsee's broadcast channel: at least the largest burst of the harness, so a
/// subscription that lags behind loses nothing.
const RPC_CHANNEL: usize = 16 * 1024;

/// Runs server `kind` on 127.0.0.1:`port` (0: any free port) until standard input closes, on
/// `threads` runtime workers (default: one per CPU).
pub(crate) fn serve(
    kind: Kind,
    port: u16,
    max_lifetime: Duration,
    threads: Option<usize>,
) -> Result<(), BenchError> {
    // As many descriptors as the hard limit allows: the memory run holds 10 000 connections.
    rlimit::increase_nofile_limit(u64::MAX)?;
    std::thread::spawn(|| {
        // The driver never writes; end of input means it is gone or done with us.
        let mut sink = Vec::new();
        let _ = std::io::stdin().lock().read_until(0, &mut sink);
        std::process::exit(0);
    });
    std::thread::spawn(move || {
        std::thread::sleep(max_lifetime);
        eprintln!("pkg-router-bench serve: lifetime of {max_lifetime:?} reached, exiting");
        std::process::exit(3);
    });
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime.enable_all().build()?;
    runtime.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        match kind {
            Kind::PkgRouter | Kind::PkgRouterProtobuf => pkg_router_server(addr).await,
            Kind::Floor => floor_server(addr).await,
            Kind::Jsonrpsee => jsonrpsee_server(addr).await,
        }
    })
}

/// Tells the driver where we listen.
fn announce(addr: SocketAddr) -> Result<(), BenchError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "LISTENING {}", addr.port())?;
    out.flush()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 1. pkg-router over axum: JWT first-frame auth, roles, schema.

mod pkg {
    use super::{BOOK_CREATED, Book, CreateBook, Event, Store};
    use pkg_router::{Data, HandlerError, Hub, State};
    use serde::{Deserialize, Serialize};

    pub(super) async fn create_book(
        Data(input): Data<CreateBook>,
        State(store): State<Store>,
    ) -> Result<Book, HandlerError> {
        Ok(store.create(input))
    }

    #[derive(Serialize)]
    pub(super) struct Stats {
        connections: usize,
    }

    pub(super) async fn stats(hub: Hub) -> Result<Stats, HandlerError> {
        Ok(Stats {
            connections: hub.connection_count(),
        })
    }

    #[derive(Deserialize, schemars::JsonSchema)]
    pub(super) struct Burst {
        #[schemars(range(min = 1, max = 1000000))]
        count: u64,
    }

    #[derive(Serialize)]
    pub(super) struct Queued {
        queued: usize,
    }

    /// `count` BOOK_CREATED pushes to everyone, back to back.
    pub(super) async fn broadcast(
        Data(burst): Data<Burst>,
        hub: Hub,
    ) -> Result<Queued, HandlerError> {
        let mut queued = 0;
        for seq in 0..burst.count {
            queued += hub.broadcast(BOOK_CREATED, &Event::now(seq))?;
        }
        Ok(Queued { queued })
    }
}

async fn pkg_router_server(addr: SocketAddr) -> Result<(), BenchError> {
    use axum::serve::ListenerExt;
    use pkg_router::jwt::JwtAuthenticator;
    use pkg_router::transport::{Endpoint, WsConfig};
    use pkg_router::{Hub, Route, Router};

    let router = Router::builder()
        .hub(Hub::new())
        .state(Store::default())
        // The schemas come from the `Data<T>` arguments.
        .route(Route::new(CREATE_BOOK, pkg::create_book).roles(["create-book"]))
        .route(Route::new(STATS, pkg::stats))
        .route(Route::new(BROADCAST, pkg::broadcast).roles(["admin"]))
        .build()?;
    let mut config = WsConfig::default();
    config.rate_limit = None;
    // The scale run holds 100 000 connections and a trigger (a limit only: nothing is
    // allocated for it).
    config.max_connections = 1_000_000;
    config.max_connections_per_principal = 100_000;
    config.outbound_queue = 4096;
    // read_buffer_size / write_buffer_size stay at their defaults (4 KiB each): measured as is.
    let endpoint =
        Endpoint::new(router, config).with_authenticator(JwtAuthenticator::hs256(JWT_SECRET));
    let app = axum::Router::new().route("/web", pkg_router::axum::ws(endpoint));
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    // TCP_NODELAY like the other two servers (jsonrpsee sets it by default).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    announce(local)?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2. The floor: tokio-tungstenite, parse the envelope, write the response. No routing, roles
//    or validation.

#[derive(Deserialize)]
struct FloorRequest {
    #[allow(dead_code)] // parsed like a real server would, not needed to answer
    pkg_id: u32,
    req_id: uuid::Uuid,
    data: CreateBook,
}

#[derive(Serialize)]
struct FloorResponse<'a> {
    pkg_id: u32,
    req_id: &'a uuid::Uuid,
    status_code: u8,
    meta: Option<()>,
    data: &'a Book,
}

async fn floor_server(addr: SocketAddr) -> Result<(), BenchError> {
    let listener = TcpListener::bind(addr).await?;
    announce(listener.local_addr()?)?;
    let store = Store::default();
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(floor_connection(stream, store.clone()));
    }
}

async fn floor_connection(stream: TcpStream, store: Store) {
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default()
        .read_buffer_size(FLOOR_BUFFER)
        .write_buffer_size(FLOOR_BUFFER);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else {
            if message.is_close() {
                break;
            }
            continue;
        };
        let Ok(request) = serde_json::from_str::<FloorRequest>(text.as_str()) else {
            continue;
        };
        let book = store.create(request.data);
        let response = FloorResponse {
            pkg_id: CREATE_BOOK,
            req_id: &request.req_id,
            status_code: 0,
            meta: None,
            data: &book,
        };
        let Ok(frame) = serde_json::to_string(&response) else {
            continue;
        };
        if ws.send(Message::text(frame)).await.is_err() {
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. jsonrpsee: the same method, hand-checked, and the fan-out through a subscription.

struct RpcContext {
    store: Store,
    events: tokio::sync::broadcast::Sender<Box<serde_json::value::RawValue>>,
}

async fn jsonrpsee_server(addr: SocketAddr) -> Result<(), BenchError> {
    use jsonrpsee::server::{RpcModule, Server, ServerConfig, SubscriptionMessage};
    use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
    use tokio::sync::broadcast::error::RecvError;

    let (events, _) = tokio::sync::broadcast::channel(RPC_CHANNEL);
    let mut module = RpcModule::new(RpcContext {
        store: Store::default(),
        events,
    });
    module.register_method(RPC_CREATE_BOOK, |params, ctx, _| {
        let input: CreateBook = params.parse()?;
        input
            .check()
            .map_err(|msg| ErrorObject::owned(-32602, msg, None::<()>))?;
        Ok::<Book, ErrorObjectOwned>(ctx.store.create(input))
    })?;
    module.register_method(RPC_BROADCAST, |params, ctx, _| {
        let count: u64 = params.one()?;
        for seq in 0..count {
            let message = serde_json::value::to_raw_value(&Event::now(seq))
                .map_err(|err| ErrorObject::owned(-32603, err.to_string(), None::<()>))?;
            // No subscribers is not an error here.
            let _ = ctx.events.send(message);
        }
        Ok::<u64, ErrorObjectOwned>(count)
    })?;
    module.register_subscription(
        RPC_SUBSCRIBE,
        RPC_NOTIFICATION,
        RPC_UNSUBSCRIBE,
        |_params, pending, ctx, _| async move {
            // Subscribe before accepting: once the client holds its subscription id, nothing
            // broadcast after that is missed.
            let mut events = ctx.events.subscribe();
            let sink = pending.accept().await?;
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Ok(json) => {
                            if sink.send(SubscriptionMessage::from(json)).await.is_err() {
                                break;
                            }
                        }
                        // Counted by the client as missing deliveries.
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => break,
                    },
                    () = sink.closed() => break,
                }
            }
            Ok(())
        },
    )?;
    let config = ServerConfig::builder()
        .ws_only()
        .max_connections(100_000)
        .max_subscriptions_per_connection(16)
        .build();
    let server = Server::builder().set_config(config).build(addr).await?;
    let local = server.local_addr()?;
    let handle = server.start(module);
    announce(local)?;
    handle.stopped().await;
    Ok(())
}
