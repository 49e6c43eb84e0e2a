//! JWT authentication end to end: a real server with `JwtAuthenticator`, real clients.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use futures_util::StreamExt;
use pkg_router::jwt::{Claims, JwtAuthenticator};
use pkg_router::transport::{Endpoint, WsConfig};
use pkg_router::{HandlerError, Principal, Route, Router, RspCode};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "test-secret-of-at-least-32-bytes!!";

async fn whoami(me: Principal) -> Result<Value, HandlerError> {
    Ok(json!({"id": me.id, "name": me.name, "roles": me.roles}))
}

async fn start() -> String {
    let router = Router::builder()
        .route(Route::new(1, whoami).roles(["view-books"]))
        .build()
        .unwrap();
    let auth = JwtAuthenticator::hs256(SECRET).issuer("books-dev");
    let endpoint = Endpoint::new(router, WsConfig::default()).with_authenticator(auth);
    let app = axum::Router::new().route("/web", pkg_router::axum::ws(endpoint));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/web", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn first_reply(url: &str, token: &str, request: bool) -> Message {
    let (mut client, _) = connect_async(url).await.unwrap();
    use futures_util::SinkExt;
    let auth = json!({"type": "auth", "token": format!("Bearer {token}")});
    client.send(Message::text(auth.to_string())).await.unwrap();
    let first = client.next().await.unwrap().unwrap();
    if !request {
        return first;
    }
    let req = json!({"pkg_id": 1, "req_id": uuid::Uuid::new_v4(), "data": {}});
    client.send(Message::text(req.to_string())).await.unwrap();
    client.next().await.unwrap().unwrap()
}

#[tokio::test]
async fn a_signed_token_authenticates_with_keycloak_style_claims() {
    let url = start().await;
    let token = Claims::new("u-42")
        .username("alice")
        .issuer("books-dev")
        .realm_roles(["view-books", "create-book"])
        .expires_in(Duration::from_secs(60))
        .sign_hs256(SECRET)
        .unwrap();
    let reply = first_reply(&url, &token, true).await;
    let response: pkg_router::ResponseModel =
        serde_json::from_str(reply.to_text().unwrap()).unwrap();
    assert_eq!(response.status_code, RspCode::Ok);
    assert_eq!(
        response.data,
        json!({"id": "u-42", "name": "alice", "roles": ["view-books", "create-book"]})
    );
}

#[tokio::test]
async fn a_token_with_a_wrong_signature_or_issuer_or_expiry_closes_with_4001() {
    let url = start().await;
    let base = Claims::new("u")
        .issuer("books-dev")
        .expires_in(Duration::from_secs(60));
    let cases = [
        base.clone()
            .sign_hs256("another-secret-of-at-least-32-bytes")
            .unwrap(),
        base.clone()
            .issuer("someone-else")
            .sign_hs256(SECRET)
            .unwrap(),
        base.clone()
            .expires_at(SystemTime::now() - Duration::from_secs(120))
            .sign_hs256(SECRET)
            .unwrap(),
    ];
    for token in cases {
        match first_reply(&url, &token, false).await {
            Message::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 4001, "{}", frame.reason)
            }
            other => panic!("expected close 4001, got {other:?}"),
        }
    }
}
