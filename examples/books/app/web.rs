//! HTTP routes next to the WebSocket endpoint: the page, the REST twin of GET_BOOKS, the
//! AsyncAPI document, health, and (with the dev secret only) a token minting endpoint.

use super::commands::{ListBooksQuery, PageInput};
use super::db::Db;
use super::models::BookFilters;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router as HttpRouter};
use pkg_router::jwt::{Claims, JwtAuthenticator};
use pkg_router::transport::{Endpoint, WsConfig};
use pkg_router::{HandlerError, Hub, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// What the HTTP routes share.
#[derive(Clone)]
pub struct Web {
    pub db: Db,
    pub hub: Hub,
    pub auth: JwtAuthenticator,
    pub asyncapi: Arc<Value>,
    /// The secret, when it is the public dev default (enables `/dev/token`).
    pub dev_secret: Option<String>,
}

pub fn routes(web: Web, router: Router, config: WsConfig) -> HttpRouter {
    let endpoint =
        Endpoint::new(router, web.hub.clone(), config).with_authenticator(web.auth.clone());
    let mut app = HttpRouter::new()
        .route("/", get(page))
        .route("/web", pkg_router::axum::ws(endpoint))
        .route("/api/books", get(list_books))
        .route("/asyncapi.json", get(asyncapi))
        .route("/health", get(health));
    if web.dev_secret.is_some() {
        app = app.route("/dev/token", post(dev_token));
    }
    app.with_state(web)
}

async fn page() -> Html<&'static str> {
    Html(include_str!("../page.html"))
}

async fn asyncapi(State(web): State<Web>) -> Json<Value> {
    Json(Value::clone(&web.asyncapi))
}

async fn health(State(web): State<Web>) -> Json<Value> {
    Json(json!({"status": "ok", "connections": web.hub.connection_count()}))
}

#[derive(Deserialize)]
struct BooksQuery {
    page: Option<u32>,
    per_page: Option<u32>,
    cursor: Option<String>,
    author_id: Option<i64>,
    title: Option<String>,
    eager_load: Option<String>,
}

/// `GET /api/books`: the same command as GET_BOOKS, over HTTP with a bearer token.
async fn list_books(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(query): Query<BooksQuery>,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let principal = match token.map(|t| web.auth.verify(t)) {
        Some(Ok(principal)) => principal,
        _ => {
            return error(
                StatusCode::UNAUTHORIZED,
                HandlerError::permission_denied("a valid bearer token is required"),
            );
        }
    };
    if !principal.has_role("view-books") {
        return error(
            StatusCode::FORBIDDEN,
            HandlerError::permission_denied("role view-books is required"),
        );
    }
    if query.per_page.is_some_and(|n| !(1..=100).contains(&n)) || query.page == Some(0) {
        return error(
            StatusCode::BAD_REQUEST,
            HandlerError::invalid_field("/per_page", "page >= 1, per_page in 1..=100"),
        );
    }
    let filters = BookFilters {
        author_id: query.author_id,
        title: query.title,
    };
    let page = PageInput {
        page: query.page,
        per_page: query.per_page,
        cursor: query.cursor,
    };
    let with_author = query.eager_load.as_deref() == Some("author");
    match ListBooksQuery(&web.db)
        .execute(&filters, &page, with_author)
        .await
    {
        Ok(page) => Json(json!({"data": page.items, "meta": page.meta})).into_response(),
        Err(err) => {
            let err = HandlerError::from(err);
            let status = match err {
                HandlerError::Validation(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(status, err)
        }
    }
}

fn error(status: StatusCode, err: HandlerError) -> Response {
    let body = err.to_response(0, uuid::Uuid::nil()).data;
    (status, Json(body)).into_response()
}

#[derive(Deserialize)]
struct TokenRequest {
    user: String,
    #[serde(default)]
    roles: Vec<String>,
}

/// `POST /dev/token {"user", "roles"}`: mints a one-hour token. Exists only while the server runs
/// with the public dev secret.
async fn dev_token(State(web): State<Web>, Json(request): Json<TokenRequest>) -> Response {
    let Some(secret) = &web.dev_secret else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match mint(
        secret,
        &request.user,
        &request.roles,
        Duration::from_secs(3600),
    ) {
        Ok(token) => Json(json!({"token": token})).into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err).into_response(),
    }
}

/// A signed dev token with Keycloak-style claims.
pub fn mint(secret: &str, user: &str, roles: &[String], ttl: Duration) -> Result<String, String> {
    Claims::new(user)
        .username(user)
        .issuer(super::ISSUER)
        .realm_roles(roles.iter().cloned())
        .expires_in(ttl)
        .sign_hs256(secret)
        .map_err(|e| e.to_string())
}
