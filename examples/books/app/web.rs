//! HTTP routes next to the WebSocket endpoint: the page and its browser client module, the REST twin of GET_BOOKS, the
//! AsyncAPI document, health, and (with the dev secret only) a token minting endpoint.

use super::db::Db;
use super::ids::PkgID;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router as HttpRouter};
use pkg_router::jwt::{Claims, JwtAuthenticator};
use pkg_router::router::Session;
use pkg_router::transport::{Endpoint, WsConfig};
use pkg_router::{HandlerError, Hub, RequestModel, Router, RspCode};
use pkg_router_redis::RedisCluster;
use serde::Deserialize;
use serde_json::{Map, Value, json};
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
    /// The issuer tokens must carry, if one is configured (`/dev/token` puts it in).
    pub issuer: Option<String>,
    /// The link to the other nodes (`--redis`), if any.
    pub cluster: Option<RedisCluster>,
}

pub fn routes(web: Web, router: Router, config: WsConfig) -> HttpRouter {
    let mut endpoint = Endpoint::new(router.clone(), config).with_authenticator(web.auth.clone());
    if let Some(cluster) = &web.cluster {
        // The per-principal connection limit counts every node's connections.
        endpoint = endpoint.with_shared_limits(cluster.limits());
    }
    let list_books = move |State(web): State<Web>, headers: HeaderMap, Query(query)| {
        list_books(web, router.clone(), headers, query)
    };
    let mut app = HttpRouter::new()
        .route("/", get(page))
        // The browser client the page is built on (pkg_router::browser), for any app to reuse.
        .route("/pkg-router.js", get(browser_module))
        .route("/pkg-router.d.ts", get(browser_types))
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

async fn browser_module() -> impl IntoResponse {
    use pkg_router::browser;
    (
        [(header::CONTENT_TYPE, browser::JS_CONTENT_TYPE)],
        browser::MODULE,
    )
}

async fn browser_types() -> impl IntoResponse {
    use pkg_router::browser;
    (
        [(header::CONTENT_TYPE, browser::TS_CONTENT_TYPE)],
        browser::TYPES,
    )
}

async fn asyncapi(State(web): State<Web>) -> Json<Value> {
    Json(Value::clone(&web.asyncapi))
}

/// `status` stays `ok` while Redis is away: this node still serves its own clients; `cluster`
/// says whether pushes reach the other nodes.
async fn health(State(web): State<Web>) -> Json<Value> {
    let mut body = json!({"status": "ok", "connections": web.hub.connection_count()});
    if let Some(cluster) = &web.cluster {
        let health = cluster.health();
        body["cluster"] = json!({
            "backend": "redis",
            "node": cluster.node_id(),
            "state": health.state.as_str(),
            "since_ms": u64::try_from(health.since.as_millis()).unwrap_or(u64::MAX),
            "published": health.published,
            "received": health.received,
            "dropped": health.dropped,
            "missed": health.missed,
            "resubscribes": health.resubscribes,
            "limit_errors": health.limit_errors,
        });
    }
    Json(body)
}

/// The query string of `GET /api/books`, as text: the GET_BOOKS schema, not the extractor, says
/// what is wrong with a value.
#[derive(Deserialize)]
struct BooksQuery {
    page: Option<String>,
    per_page: Option<String>,
    cursor: Option<String>,
    author_id: Option<String>,
    title: Option<String>,
    /// Comma-separated, e.g. `author`.
    eager_load: Option<String>,
}

impl BooksQuery {
    /// The `data` of the equivalent GET_BOOKS request. Integers become numbers; anything else
    /// stays text, which the schema refuses at the field's path (`/page`, `/filters/author_id`).
    fn into_data(self) -> Map<String, Value> {
        let number = |text: String| text.parse::<i64>().map_or(Value::String(text), Value::from);
        let mut data = Map::new();
        let mut filters = Map::new();
        if let Some(page) = self.page {
            data.insert("page".into(), number(page));
        }
        if let Some(per_page) = self.per_page {
            data.insert("per_page".into(), number(per_page));
        }
        if let Some(cursor) = self.cursor {
            data.insert("cursor".into(), cursor.into());
        }
        if let Some(author_id) = self.author_id {
            filters.insert("author_id".into(), number(author_id));
        }
        if let Some(title) = self.title {
            filters.insert("title".into(), title.into());
        }
        if !filters.is_empty() {
            data.insert("filters".into(), filters.into());
        }
        if let Some(eager_load) = self.eager_load {
            let embeds = eager_load.split(',').filter(|e| !e.is_empty());
            data.insert("eager_load".into(), embeds.collect::<Vec<_>>().into());
        }
        data
    }
}

/// `Bearer <token>`, scheme case-insensitive (as on the WebSocket).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `GET /api/books`: GET_BOOKS over HTTP with a bearer token. The request goes through the
/// router like a WebSocket frame, so both get the same role check, schema and handler.
async fn list_books(web: Web, router: Router, headers: HeaderMap, query: BooksQuery) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    let principal = match token.map(|t| web.auth.verify(t)) {
        Some(Ok(principal)) => principal,
        _ => {
            return error(
                StatusCode::UNAUTHORIZED,
                HandlerError::permission_denied("a valid bearer token is required"),
            );
        }
    };
    let request = RequestModel::new(PkgID::GET_BOOKS, query.into_data());
    let response = router.dispatch(&Session::new(principal), request).await;
    let status = match response.status_code {
        RspCode::Ok => {
            return Json(json!({"data": response.data, "meta": response.meta})).into_response();
        }
        RspCode::InvalidData => StatusCode::BAD_REQUEST,
        RspCode::PermissionDenied => StatusCode::FORBIDDEN,
        RspCode::Error => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(response.data)).into_response()
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
    match mint_issued(
        secret,
        web.issuer.as_deref(),
        &request.user,
        &request.roles,
        Duration::from_secs(3600),
    ) {
        Ok(token) => Json(json!({"token": token})).into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err).into_response(),
    }
}

/// A signed dev token with Keycloak-style claims and no issuer (what the server accepts unless
/// `--jwt-issuer` is set).
pub fn mint(secret: &str, user: &str, roles: &[String], ttl: Duration) -> Result<String, String> {
    mint_issued(secret, None, user, roles, ttl)
}

/// [`mint`], with `iss` set to `issuer` when one is configured.
pub fn mint_issued(
    secret: &str,
    issuer: Option<&str>,
    user: &str,
    roles: &[String],
    ttl: Duration,
) -> Result<String, String> {
    let mut claims = Claims::new(user)
        .username(user)
        .realm_roles(roles.iter().cloned())
        .expires_in(ttl);
    if let Some(issuer) = issuer {
        claims = claims.issuer(issuer);
    }
    claims.sign_hs256(secret).map_err(|e| e.to_string())
}
