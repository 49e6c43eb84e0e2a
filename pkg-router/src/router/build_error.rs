use std::fmt;

/// Where a handler comes from: its path and, when known, the source location that registered it.
///
/// [`BuildError`]s carry it so a startup failure points at the code to fix.
///
/// # Examples
///
/// ```
/// use pkg_router::{BuildError, HandlerError, Router};
///
/// async fn get_book() -> Result<(), HandlerError> { Ok(()) }
/// async fn get_author() -> Result<(), HandlerError> { Ok(()) }
///
/// let err = Router::builder().handler(42, get_book).handler(42, get_author).build().unwrap_err();
/// let BuildError::DuplicateHandler { first, second, .. } = &err else { panic!("{err}") };
/// assert!(first.path.ends_with("get_book"));
/// assert!(second.path.ends_with("get_author"));
/// assert!(second.location.contains(':')); // file:line of the `.handler(..)` call
/// assert_eq!(second.to_string(), format!("`{}` ({})", second.path, second.location));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerSource {
    /// `crate::module::fn_name`.
    pub path: String,
    /// `file:line` of the `#[pkg_handler]` attribute or the `RouterBuilder::handler` call.
    pub location: String,
}

impl fmt::Display for HandlerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({})", self.path, self.location)
    }
}

/// Why [`RouterBuilder::build`](crate::router::RouterBuilder::build) refused to build a router.
///
/// These are programming mistakes found at startup, before any client connects. The `Display`
/// text names the culprits and the fix; log it and exit.
///
/// # Examples
///
/// ```
/// use pkg_router::{BuildError, HandlerError, Route, Router};
/// use serde_json::json;
///
/// async fn ping() -> Result<(), HandlerError> { Ok(()) }
///
/// assert!(matches!(Router::builder().build(), Err(BuildError::EmptyRegistry)));
///
/// let err = Router::builder()
///     .route(Route::new(43, ping).json_schema(json!({"$ref": "https://example.com/s.json"})))
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, BuildError::InvalidSchema { .. }));
///
/// let err = Router::builder().handler(43, ping).require_all([43, 44, 45]).build().unwrap_err();
/// assert!(matches!(&err, BuildError::MissingHandlers { missing } if missing.len() == 2));
/// assert_eq!(err.to_string(), "no handler for pkg_id(s): 44, 45");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two handlers claim the same `pkg_id`.
    #[error("pkg_id {pkg_id}{} has two handlers: {first} and {second}", name_suffix(.name))]
    DuplicateHandler {
        /// The contested id.
        pkg_id: u32,
        /// Its declared name, if any.
        name: Option<String>,
        /// The handler registered first.
        first: Box<HandlerSource>,
        /// The handler registered second.
        second: Box<HandlerSource>,
    },
    /// No handler at all: usually a crate of handlers that the binary never names, so the
    /// linker dropped it. Add `use my_handlers as _;`, or call
    /// [`allow_empty`](crate::router::RouterBuilder::allow_empty).
    #[error(
        "no handlers are registered: if your handlers live in another crate, name it (`use my_handlers as _;`) so the linker keeps them, or call RouterBuilder::allow_empty()"
    )]
    EmptyRegistry,
    /// A handler takes `State<T>` but no state of type `T` was given.
    #[error(
        "handler {handler} takes State<{type_name}>, but the router has no state of that type: add RouterBuilder::state(..)"
    )]
    MissingState {
        /// The handler.
        handler: HandlerSource,
        /// The missing state type.
        type_name: &'static str,
    },
    /// A handler takes a [`Hub`](crate::Hub) but the router has none.
    #[error(
        "handler {handler} takes a Hub, but the router has none: add RouterBuilder::hub(hub) (the transport serving the router uses the same hub)"
    )]
    MissingHub {
        /// The handler.
        handler: HandlerSource,
    },
    /// A handler serves an id declared `#[push]` in [`pkg_ids!`](crate::pkg_ids): pushes go
    /// from the server to clients only.
    ///
    /// # Examples
    ///
    /// ```standalone_crate
    /// use pkg_router::{BuildError, HandlerError, Router};
    ///
    /// pkg_router::pkg_ids! {
    ///     pub Ids { CREATE_BOOK = 3, #[push] BOOK_CREATED = 100 }
    /// }
    ///
    /// async fn create_book() -> Result<(), HandlerError> {
    ///     Ok(())
    /// }
    ///
    /// // A slip: BOOK_CREATED for CREATE_BOOK.
    /// let err = Router::builder().handler(Ids::BOOK_CREATED, create_book).build().unwrap_err();
    /// assert!(matches!(err, BuildError::HandlerForPush { pkg_id: 100, .. }));
    /// assert!(err.to_string().starts_with("pkg_id 100 (BOOK_CREATED) is declared #[push]"));
    /// ```
    #[error(
        "pkg_id {pkg_id}{} is declared #[push] (sent by the server only), but handler {handler} serves it",
        name_suffix(.name)
    )]
    HandlerForPush {
        /// The push id.
        pkg_id: u32,
        /// Its declared name.
        name: Option<String>,
        /// The handler serving it.
        handler: HandlerSource,
    },
    /// A handler's `data` schema is declared twice: by a [`Data<T>`](crate::Data) argument and
    /// by `schema = ..` / `schema_json = ..` / [`Route::schema`](crate::Route::schema), or by two
    /// arguments of different types.
    ///
    /// The schema comes from one place: drop the explicit one (`Data<T>` already brings `T`'s),
    /// or take [`Data<NoSchema<T>>`](crate::NoSchema) to keep a hand-written schema.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{BuildError, Data, HandlerError, Route, Router};
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct JoinRoom { room: String }
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct SendMessage { text: String }
    ///
    /// async fn send(Data(message): Data<SendMessage>) -> Result<String, HandlerError> {
    ///     Ok(message.text)
    /// }
    ///
    /// let err = Router::builder().route(Route::new(1, send).schema::<JoinRoom>()).build().unwrap_err();
    /// assert!(matches!(err, BuildError::ConflictingSchemas { .. }));
    /// assert!(err.to_string().contains("SendMessage"));
    /// assert!(err.to_string().contains("JoinRoom"));
    /// ```
    #[error(
        "handler {handler} gets the schema of `data` from both {first} and {second}: keep one (a `Data<T>` argument already brings the schema of T)"
    )]
    ConflictingSchemas {
        /// The handler.
        handler: HandlerSource,
        /// Where the first schema comes from, e.g. `` `Data<app::SendMessage>` ``.
        first: String,
        /// Where the second one comes from, e.g. `` `Route::schema::<app::JoinRoom>()` ``.
        second: String,
    },
    /// A handler's JSON schema is not a valid schema (or needs a remote document).
    #[error("the JSON schema of handler {handler} does not compile: {reason}")]
    InvalidSchema {
        /// The handler.
        handler: HandlerSource,
        /// What the schema compiler said.
        reason: String,
    },
    /// A handler's id is above `2^31-1`.
    #[error("handler {handler} is registered for pkg_id {pkg_id}, above the maximum 2147483647")]
    PkgIdOutOfRange {
        /// The id.
        pkg_id: u32,
        /// The handler.
        handler: HandlerSource,
    },
    /// [`require_all`](crate::router::RouterBuilder::require_all) named ids that have no handler.
    #[error("no handler for pkg_id(s): {}", list_missing(.missing))]
    MissingHandlers {
        /// `(id, declared name)` of each id without a handler.
        missing: Vec<(u32, Option<String>)>,
    },
}

fn name_suffix(name: &Option<String>) -> String {
    name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
}

fn list_missing(missing: &[(u32, Option<String>)]) -> String {
    missing
        .iter()
        .map(|(id, name)| format!("{id}{}", name_suffix(name)))
        .collect::<Vec<_>>()
        .join(", ")
}
