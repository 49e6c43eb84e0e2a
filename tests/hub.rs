//! Rooms, scoped pushes, kicks and connection lifecycle hooks over real sockets.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use futures_util::StreamExt;
use pkg_router::hub::{CloseReason, close_code};
use pkg_router::transport::{ConnectionEvent, WsConfig};
use pkg_router::{ConnectionInfo, HandlerError, Hub, RequestModel, Router, RspCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{Client, Server, call, expect_close, next_json};

const JOIN: u32 = 1;
const LEAVE: u32 = 2;
const SAY: u32 = 3;
const TO_ROLE: u32 = 4;
const KICK: u32 = 5;
const PUSH: u32 = 100;

fn text(req: &RequestModel, key: &str) -> String {
    req.data
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

async fn join(req: RequestModel, hub: Hub, conn: ConnectionInfo) -> Result<bool, HandlerError> {
    Ok(hub.join(conn.id, text(&req, "room")))
}

async fn leave(req: RequestModel, hub: Hub, conn: ConnectionInfo) -> Result<bool, HandlerError> {
    Ok(hub.leave(conn.id, &text(&req, "room")))
}

async fn say(req: RequestModel, hub: Hub) -> Result<usize, HandlerError> {
    hub.to_room(text(&req, "room"))
        .push(PUSH, &json!({"text": text(&req, "text")}))
}

async fn to_role(req: RequestModel, hub: Hub) -> Result<usize, HandlerError> {
    hub.to_roles([text(&req, "role")])
        .push(PUSH, &json!({"for": text(&req, "role")}))
}

async fn kick(req: RequestModel, hub: Hub) -> Result<usize, HandlerError> {
    Ok(hub.close_principal(
        text(&req, "principal"),
        CloseReason::new(close_code::POLICY, "kicked"),
    ))
}

fn router(hub: &Hub) -> Router {
    Router::builder()
        .hub(hub.clone())
        .handler(JOIN, join)
        .handler(LEAVE, leave)
        .handler(SAY, say)
        .handler(TO_ROLE, to_role)
        .handler(KICK, kick)
        .build()
        .unwrap()
}

fn config() -> WsConfig {
    let mut config = WsConfig::default();
    config.rate_limit = None;
    config
}

/// Nothing arrives on `client` for a moment (pushes travel on loopback in well under it).
async fn receives_nothing(client: &mut Client) -> bool {
    tokio::time::timeout(Duration::from_millis(150), client.next())
        .await
        .is_err()
}

#[tokio::test]
async fn room_pushes_reach_the_members_only_until_they_leave() {
    let hub = Hub::new();
    let server = Server::start(router(&hub), config()).await;
    let mut alice = server.login("alice").await;
    let mut bob = server.login("bob").await;
    let mut carol = server.login("user:carol").await;
    for client in [&mut alice, &mut bob] {
        assert_eq!(
            call(client, JOIN, json!({"room": "book-12"})).await.data,
            true
        );
    }
    assert_eq!(hub.room_size("book-12"), 2);

    let said = call(&mut carol, SAY, json!({"room": "book-12", "text": "hi"})).await;
    assert_eq!(said.data, 2);
    for client in [&mut alice, &mut bob] {
        assert_eq!(next_json(client).await["data"], json!({"text": "hi"}));
    }
    assert!(receives_nothing(&mut carol).await);

    assert_eq!(
        call(&mut bob, LEAVE, json!({"room": "book-12"})).await.data,
        true
    );
    assert_eq!(
        call(&mut carol, SAY, json!({"room": "book-12", "text": "again"}))
            .await
            .data,
        1
    );
    assert_eq!(next_json(&mut alice).await["data"]["text"], "again");
    assert!(receives_nothing(&mut bob).await);

    // Closing leaves every room.
    drop(alice);
    server.wait_for_connections(2).await;
    assert_eq!(hub.room_size("book-12"), 0);
}

#[tokio::test]
async fn a_role_push_reaches_only_connections_whose_principal_holds_the_role() {
    let hub = Hub::new();
    let server = Server::start(router(&hub), config()).await;
    let mut alice = server.login("alice").await; // view-books, create-book
    let mut bob = server.login("bob").await; // view-books
    let reached = call(&mut bob, TO_ROLE, json!({"role": "create-book"})).await;
    assert_eq!(reached.data, 1);
    assert_eq!(
        next_json(&mut alice).await["data"],
        json!({"for": "create-book"})
    );
    assert!(receives_nothing(&mut bob).await);
}

#[tokio::test]
async fn kicking_a_principal_closes_all_their_connections_and_no_other() {
    let hub = Hub::new();
    let server = Server::start(router(&hub), config()).await;
    let mut tab = server.login("alice").await;
    let mut phone = server.login("alice").await;
    let mut admin = server.login("admin").await;
    assert_eq!(hub.connections_of("alice").len(), 2);

    let kicked = call(&mut admin, KICK, json!({"principal": "alice"})).await;
    assert_eq!((kicked.status_code, kicked.data), (RspCode::Ok, json!(2)));
    for client in [&mut tab, &mut phone] {
        assert_eq!(
            expect_close(client).await,
            Some((close_code::POLICY, "kicked".to_owned()))
        );
    }
    server.wait_for_connections(1).await;
    assert!(hub.connections_of("alice").is_empty());
    // The admin's connection is untouched.
    assert_eq!(
        call(&mut admin, JOIN, json!({"room": "x"})).await.data,
        true
    );
}

/// What the lifecycle hooks saw: ("connect" | "disconnect", principal, connections of that
/// principal at that moment, close code).
type Seen = Arc<Mutex<Vec<(&'static str, String, usize, Option<u16>)>>>;

#[tokio::test]
async fn lifecycle_hooks_see_each_connection_open_and_close_with_its_reason() {
    let hub = Hub::new();
    let seen: Seen = Arc::default();
    let (on_connect, on_disconnect) = (Arc::clone(&seen), Arc::clone(&seen));
    let server = Server::start_with(router(&hub), config(), move |endpoint| {
        endpoint
            .on_connect(move |conn: &ConnectionEvent<'_>| {
                let held = conn.hub.connections_of(&conn.principal.id).len();
                on_connect
                    .lock()
                    .unwrap()
                    .push(("connect", conn.principal.id.clone(), held, None));
                // Presence: a push from the hook reaches the new connection after auth_ok.
                conn.hub
                    .to_principal(conn.principal.id.clone())
                    .push(PUSH, &json!({"welcome": conn.principal.name}))
                    .unwrap();
            })
            .on_disconnect(move |conn: &ConnectionEvent<'_>, reason: &CloseReason| {
                let held = conn.hub.connections_of(&conn.principal.id).len();
                on_disconnect.lock().unwrap().push((
                    "disconnect",
                    conn.principal.id.clone(),
                    held,
                    Some(reason.code),
                ));
            })
    })
    .await;

    let mut alice = server.login("alice").await;
    assert_eq!(
        next_json(&mut alice).await["data"],
        json!({"welcome": "alice"})
    );
    let mut admin = server.login("admin").await;
    assert_eq!(
        next_json(&mut admin).await["data"],
        json!({"welcome": "admin"})
    );
    call(&mut admin, KICK, json!({"principal": "alice"})).await;
    assert!(expect_close(&mut alice).await.is_some());
    server.wait_for_connections(1).await;
    drop(admin); // goes away without a close frame
    server.wait_for_connections(0).await;

    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("connect", "alice".to_owned(), 1, None),
            ("connect", "admin".to_owned(), 1, None),
            // After leaving the hub: a presence hook can tell the user's last connection.
            (
                "disconnect",
                "alice".to_owned(),
                0,
                Some(close_code::POLICY)
            ),
            (
                "disconnect",
                "admin".to_owned(),
                0,
                Some(close_code::NORMAL)
            ),
        ]
    );
}
