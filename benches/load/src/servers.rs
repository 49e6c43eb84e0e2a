//! The four servers under test, each run by `pkg-router-bench serve <kind> --port N` in a
//! process of its own. Each prints `LISTENING <port>` once it accepts connections and exits
//! when its standard input closes (the driver holds the other end) or after `max_lifetime`.

use crate::proto::{
    BOOK_CREATED, BROADCAST, Book, CREATE_BOOK, CreateBook, Event, JWT_SECRET, RPC_BROADCAST,
    RPC_CREATE_BOOK, RPC_NOTIFICATION, RPC_SUBSCRIBE, RPC_UNSUBSCRIBE, SIO_BOOK_CREATED,
    SIO_BROADCAST, SIO_CREATE_BOOK, SIO_ROOM, SIO_STATS, STATS, Store,
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

/// Packets socketioxide may queue per socket (its `max_buffer_size`): pkg-router's
/// `outbound_queue` of the bench server, so a burst of M = 200 broadcasts fits in both. With the
/// default, 128, `emit` (and an ack) fails for a socket whose queue is full: a burst of 200 to
/// 5 000 clients lost 0.8% of the deliveries, and the trigger's ack once.
const SIO_BUFFER: usize = 4096;

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
            Kind::Socketioxide => socketioxide_server(addr).await,
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

// ---------------------------------------------------------------------------------------------
// 4. socketioxide: a `create_book` event answered through its ack, the schema's rules checked
//    by hand (as for jsonrpsee), the same store; every socket joins one room on connect and the
//    fan-out is a broadcast to that room.

mod sio {
    use super::{Book, CreateBook, Event, SIO_BOOK_CREATED, SIO_ROOM, Store};
    use serde::{Deserialize, Serialize};
    use socketioxide::SocketIo;
    use socketioxide::extract::{AckSender, SocketRef, TryData};

    /// An error answered through the ack (a client's success check looks for `"error":`).
    #[derive(Serialize)]
    struct Refused {
        error: String,
    }

    fn refuse(ack: AckSender, error: String) {
        let _ = ack.send(&Refused { error });
    }

    #[derive(Deserialize)]
    pub(super) struct Burst {
        count: u64,
    }

    #[derive(Serialize)]
    struct Queued {
        queued: u64,
    }

    #[derive(Serialize)]
    struct Stats {
        connections: usize,
    }

    /// The connect handler's work: join the room, register the event handlers (socketioxide's
    /// handlers are per socket).
    ///
    /// Called in the synchronous part of the connect handler, not in its future: socketioxide
    /// sends the connect answer (`40{..}`) and then spawns the handler's future, and an event
    /// the client sends as soon as it reads the answer may be read before that task has run;
    /// with no handler registered yet, socketioxide drops it (no ack, no error). The smoke
    /// run lost the fan-out trigger's first event that way with the registration inside an
    /// `async` handler. The synchronous part runs right after the answer is queued, in the
    /// same poll, so the window shrinks from a spawned task's wait in the run queue to a few
    /// instructions (the answer still has to be written and read, and the event sent back).
    pub(super) fn on_connect(socket: &SocketRef, store: Store) {
        socket.join(SIO_ROOM);
        socket.on(
            super::SIO_CREATE_BOOK,
            async move |TryData(input): TryData<CreateBook>, ack: AckSender| {
                let input = match input {
                    Ok(input) => input,
                    Err(err) => return refuse(ack, err.to_string()),
                };
                if let Err(msg) = input.check() {
                    return refuse(ack, msg.to_owned());
                }
                let book: Book = store.create(input);
                let _ = ack.send(&book);
            },
        );
        socket.on(super::SIO_STATS, async |io: SocketIo, ack: AckSender| {
            let connections = io.within(SIO_ROOM).sockets().len();
            let _ = ack.send(&Stats { connections });
        });
        socket.on(
            super::SIO_BROADCAST,
            async |io: SocketIo, TryData(burst): TryData<Burst>, ack: AckSender| {
                // The schema's range of pkg-router's `Burst`, checked by hand.
                let count = match burst {
                    Ok(Burst { count }) if (1..=1_000_000).contains(&count) => count,
                    Ok(_) => return refuse(ack, "count must be 1..1000000".to_owned()),
                    Err(err) => return refuse(ack, err.to_string()),
                };
                // `count` broadcasts to the room, back to back.
                let mut queued = 0;
                for seq in 0..count {
                    if io
                        .within(SIO_ROOM)
                        .emit(SIO_BOOK_CREATED, &Event::now(seq))
                        .await
                        .is_ok()
                    {
                        queued += 1;
                    }
                }
                let _ = ack.send(&Queued { queued });
            },
        );
    }
}

async fn socketioxide_server(addr: SocketAddr) -> Result<(), BenchError> {
    use axum::serve::ListenerExt;
    use socketioxide::SocketIo;
    use socketioxide::extract::SocketRef;

    // Defaults (ping every 25 s, 20 s to answer, 4 KiB WebSocket read buffer like pkg-router's)
    // except the per-socket queue.
    let (layer, io) = SocketIo::builder()
        .max_buffer_size(SIO_BUFFER)
        .build_layer();
    let store = Store::default();
    io.ns("/", move |socket: SocketRef| {
        sio::on_connect(&socket, store.clone());
        std::future::ready(())
    });
    let app = axum::Router::new().layer(layer);
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    announce(local)?;
    axum::serve(listener, app).await?;
    Ok(())
}
