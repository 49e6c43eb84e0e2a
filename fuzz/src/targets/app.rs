//! The router, principals and authenticator the targets run against: a handful of handlers that
//! cover the router's paths (public, roles, schema, pagination, panics, errors, slow handlers).

use pkg_router::transport::{AuthError, AuthFuture, Authenticator};
use pkg_router::{
    Data, HandlerError, PageMeta, PageParams, Paginated, Principal, RequestModel, Route, Router,
};
use serde::Deserialize;
use serde_json::Value;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// Public; answers its `data`.
pub const ECHO: u32 = 1;
/// Roles `writer`; `data` validated against [`Book`]'s schema.
pub const CREATE: u32 = 2;
/// Roles `reader`; paginated over 45 items.
pub const LIST: u32 = 3;
/// Public; panics.
pub const PANIC: u32 = 4;
/// Public; sleeps `data.ms` (at most 5 s), with a 2 s route timeout.
pub const SLEEP: u32 = 5;
/// Public; fails with `not_found`.
pub const FAIL: u32 = 6;
/// The id the targets broadcast pushes under.
pub const PUSH: u32 = 100;
/// Every id with a handler, and one without.
pub const IDS: [u32; 7] = [ECHO, CREATE, LIST, PANIC, SLEEP, FAIL, 9];
/// The largest `per_page` the router accepts (below the default of 20 on purpose).
pub const MAX_PER_PAGE: u32 = 10;
/// The timeout of [`SLEEP`].
pub const SLEEP_TIMEOUT: Duration = Duration::from_secs(2);

/// The payload of [`CREATE`].
#[derive(Deserialize, pkg_router::schemars::JsonSchema)]
#[schemars(crate = "pkg_router::schemars", deny_unknown_fields)]
pub struct Book {
    #[schemars(length(min = 1, max = 20))]
    title: String,
    #[schemars(range(min = 1))]
    author_id: i64,
    #[schemars(regex(pattern = r"^978-\d{10}$"))]
    isbn: Option<String>,
}

async fn echo(request: RequestModel) -> Result<Value, HandlerError> {
    Ok(Value::Object(request.data))
}

async fn create(Data(book): Data<Book>) -> Result<Value, HandlerError> {
    Ok(serde_json::json!({"title": book.title, "author_id": book.author_id, "isbn": book.isbn}))
}

async fn list(page: PageParams) -> Result<Paginated<u64>, HandlerError> {
    const TOTAL: u64 = 45;
    let items = (page.offset()..TOTAL)
        .take(page.per_page as usize)
        .collect();
    Ok(Paginated::new(
        items,
        PageMeta::offset(page.page, page.per_page, TOTAL),
    ))
}

/// The message of [`PANIC`]'s panic.
const ON_PURPOSE: &str = "a handler panicked on purpose";

async fn panics() -> Result<(), HandlerError> {
    std::panic::panic_any(ON_PURPOSE)
}

/// Keeps [`PANIC`]'s panics (which the router catches) quiet and survivable: libFuzzer's panic
/// hook aborts on every panic, caught or not; every other panic still goes to it.
fn quiet_deliberate_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&ON_PURPOSE) {
            previous(info);
        }
    }));
}

async fn sleeps(request: RequestModel) -> Result<u64, HandlerError> {
    let ms = request.data.get("ms").and_then(Value::as_u64).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(ms.min(5_000))).await;
    Ok(ms)
}

async fn fails() -> Result<(), HandlerError> {
    Err(HandlerError::not_found("nothing here"))
}

/// The router (built once; cheap to clone).
pub fn router() -> Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER
        .get_or_init(|| {
            quiet_deliberate_panics();
            Router::builder()
                .handler(ECHO, echo)
                // The schema comes from `Data<Book>`.
                .route(Route::new(CREATE, create).roles(["writer"]))
                .route(Route::new(LIST, list).roles(["reader"]))
                .handler(PANIC, panics)
                .route(Route::new(SLEEP, sleeps).timeout(SLEEP_TIMEOUT))
                .handler(FAIL, fails)
                .max_per_page(MAX_PER_PAGE)
                .build()
                .expect("the fuzz router builds")
        })
        .clone()
}

/// The principals a target picks from: anonymous, a reader, a reader and writer.
pub fn principal(choice: u8) -> Principal {
    match choice % 3 {
        0 => Principal::anonymous(),
        1 => Principal::new("ann", "ann").with_roles(["reader"]),
        _ => Principal::new("bob", "bob").with_roles(["reader", "writer"]),
    }
}

/// What [`Tokens`] does with a token.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted.
    Accept,
    /// Accepted, but the principal's expiry has passed (the handshake refuses it).
    Expired,
    /// Refused.
    Refuse,
}

/// Tokens `ann` and `bob` ([`principal`] 1 and 2), `slow` (bob, after a 1 s lookup), `old`
/// (expired ten seconds ago); every other token is refused.
pub struct Tokens;

impl Tokens {
    /// The verdict on `token`.
    pub fn verdict(token: &str) -> Verdict {
        match token {
            "ann" | "bob" | "slow" => Verdict::Accept,
            "old" => Verdict::Expired,
            _ => Verdict::Refuse,
        }
    }
}

impl Authenticator for Tokens {
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
        Box::pin(async move {
            match token {
                "ann" => Ok(principal(1)),
                "bob" => Ok(principal(2)),
                "slow" => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Ok(principal(2))
                }
                "old" => Ok(Principal::new("old", "old")
                    .with_expiry(SystemTime::now() - Duration::from_secs(10))),
                _ => Err(AuthError::InvalidToken("unknown fuzz token".into())),
            }
        })
    }
}

/// A current-thread runtime whose clock is paused: timers fire as soon as every task waits, so
/// timeouts of seconds cost no real time and runs are repeatable.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime")
}
