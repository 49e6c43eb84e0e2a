//! Handler arguments: the [`FromRequest`] trait and the extractors that implement it.

mod builtin;
mod context;
mod data;
mod extension;
mod ids;
mod optional;
mod state;

pub use context::RequestContext;
pub use data::{Data, DataPayload, NoSchema};
pub use extension::Extension;
pub use ids::RequestIds;
pub use optional::OptionalFromRequest;
pub use state::State;

use crate::error::HandlerError;
use std::any::TypeId;

/// A value a handler can take as an argument, built from the request before the handler runs.
///
/// Every argument of a handler is extracted in order; the last one gets the request by value
/// ([`from_request_owned`](Self::from_request_owned)), so `RequestModel` and `Data<T>` move the
/// payload instead of copying it. If extraction fails, the handler does not run and the error
/// is the response.
///
/// # Examples
///
/// A custom extractor:
///
/// ```
/// use pkg_router::testing::{ResponseExt, TestRouter};
/// use pkg_router::{HandlerError, Principal};
/// use pkg_router::extract::{FromRequest, RequestContext};
/// use serde_json::json;
///
/// /// The caller's user id; refuses anonymous callers.
/// struct UserId(String);
///
/// impl FromRequest for UserId {
///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
///         if ctx.principal().is_anonymous() {
///             return Err(HandlerError::permission_denied("log in first"));
///         }
///         Ok(UserId(ctx.principal().id.clone()))
///     }
/// }
///
/// async fn my_books(UserId(user): UserId) -> Result<String, HandlerError> {
///     Ok(format!("books of {user}"))
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let client = TestRouter::with_handler(1, my_books);
/// let denied = client.call(1, json!({})).await; // anonymous: the handler never runs
/// assert_eq!(denied.expect_error("permission_denied").msg, "log in first");
///
/// let ann = client.as_principal(Principal::new("u-1", "ann"));
/// assert_eq!(ann.call(1, json!({})).await.expect_ok(), "books of u-1");
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a pkg-router handler argument",
    label = "not an extractor",
    note = "handler arguments are extractors: `Data<T>` (T: Deserialize + JsonSchema; `Data<NoSchema<T>>` without a schema), `State<T>`, `Principal`, `Arc<Principal>`, `RequestIds`, `PageParams`, `Hub`, `ConnectionInfo`, `Extension<T>`, `RequestModel`, `Option<_>` of `Principal`, `Arc<Principal>`, `Hub`, `ConnectionInfo`, `Extension<T>` or `State<T>`",
    note = "for anything else, implement `pkg_router::extract::FromRequest` (or `OptionalFromRequest` for `Option<_>`) for your own type"
)]
pub trait FromRequest: Sized + Send {
    /// Builds the argument from a borrowed request.
    ///
    /// # Errors
    ///
    /// The error becomes the response (e.g. a validation error for unreadable `data`).
    ///
    /// # Examples
    ///
    /// Calling an extractor by hand, from another one:
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::{HandlerError, PageParams};
    /// use pkg_router::extract::{FromRequest, RequestContext};
    /// use serde_json::json;
    ///
    /// /// Paging parameters whose `filters` may only name known fields.
    /// struct BookPage(PageParams);
    ///
    /// impl FromRequest for BookPage {
    ///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         let params = PageParams::from_request(ctx)?; // range checks included
    ///         if let Some(key) = params.filters.keys().find(|k| *k != "author_id") {
    ///             return Err(HandlerError::invalid_field(format!("/filters/{key}"), "unknown filter"));
    ///         }
    ///         Ok(BookPage(params))
    ///     }
    /// }
    ///
    /// async fn list(BookPage(page): BookPage) -> Result<u64, HandlerError> {
    ///     Ok(page.offset())
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, list);
    /// assert_eq!(client.call(1, json!({"page": 3, "per_page": 10})).await.data, 20);
    /// let bad = client.call(1, json!({"filters": {"price": 1}})).await;
    /// assert_eq!(bad.error_body().unwrap().details.unwrap()[0]["path"], "/filters/price");
    /// let bad = client.call(1, json!({"page": 0})).await;
    /// assert_eq!(bad.error_body().unwrap().details.unwrap()[0]["path"], "/page");
    /// # });
    /// ```
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError>;

    /// Builds the argument from the request by value; called for the last argument.
    ///
    /// The default calls [`from_request`](Self::from_request); the built-in `RequestModel`
    /// overrides it to move `data` instead of cloning it.
    ///
    /// # Errors
    ///
    /// As for [`from_request`](Self::from_request).
    ///
    /// # Examples
    ///
    /// Only the last argument is built by value:
    ///
    /// ```
    /// use pkg_router::testing::TestRouter;
    /// use pkg_router::HandlerError;
    /// use pkg_router::extract::{FromRequest, RequestContext};
    /// use serde_json::json;
    ///
    /// /// Records how it was built.
    /// struct How(&'static str);
    ///
    /// impl FromRequest for How {
    ///     fn from_request(_: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         Ok(How("borrowed"))
    ///     }
    ///
    ///     fn from_request_owned(_: RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         Ok(How("owned"))
    ///     }
    /// }
    ///
    /// async fn three(a: How, b: How, c: How) -> Result<[&'static str; 3], HandlerError> {
    ///     Ok([a.0, b.0, c.0])
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, three);
    /// assert_eq!(client.call(1, json!({})).await.data, json!(["borrowed", "borrowed", "owned"]));
    /// # });
    /// ```
    fn from_request_owned(ctx: RequestContext<'_>) -> Result<Self, HandlerError> {
        Self::from_request(&ctx)
    }

    /// Declares what the extractor needs from the router, checked when the router is built.
    ///
    /// Declaring turns a forgotten [`RouterBuilder::state`](crate::router::RouterBuilder::state) into a
    /// [`BuildError`](crate::BuildError) at startup rather than an `internal_error` on the first
    /// request. The default declares nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{BuildError, HandlerError, Router};
    /// use pkg_router::extract::{FromRequest, HandlerNeeds, RequestContext};
    ///
    /// #[derive(Clone)]
    /// struct Clock;
    ///
    /// /// The current time from the application's clock.
    /// struct Now(u64);
    ///
    /// impl FromRequest for Now {
    ///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         ctx.state::<Clock>().map(|_| Now(42)).ok_or_else(|| HandlerError::internal("no clock"))
    ///     }
    ///
    ///     fn declare(needs: &mut HandlerNeeds) {
    ///         needs.state::<Clock>();
    ///     }
    /// }
    ///
    /// async fn now(Now(t): Now) -> Result<u64, HandlerError> {
    ///     Ok(t)
    /// }
    ///
    /// let err = Router::builder().handler(1, now).build().unwrap_err();
    /// assert!(matches!(err, BuildError::MissingState { type_name, .. } if type_name.ends_with("Clock")));
    ///
    /// assert!(Router::builder().state(Clock).handler(1, now).build().is_ok());
    /// ```
    fn declare(needs: &mut HandlerNeeds) {
        let _ = needs;
    }
}

/// What a handler's arguments need from the router, gathered through [`FromRequest::declare`]
/// and checked by [`RouterBuilder::build`](crate::router::RouterBuilder::build).
///
/// Only custom extractors deal with it; the built-in [`State<T>`] declares its state itself.
///
/// # Examples
///
/// ```
/// use pkg_router::{BuildError, HandlerError, Router};
/// use pkg_router::extract::{FromRequest, HandlerNeeds, RequestContext};
///
/// #[derive(Clone)]
/// struct Db;
///
/// /// A database handle taken from the router's state.
/// struct Conn(Db);
///
/// impl FromRequest for Conn {
///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
///         ctx.state::<Db>().cloned().map(Conn).ok_or_else(|| HandlerError::internal("no Db"))
///     }
///
///     fn declare(needs: &mut HandlerNeeds) {
///         needs.state::<Db>();
///     }
/// }
///
/// async fn count(_conn: Conn) -> Result<u32, HandlerError> {
///     Ok(0)
/// }
///
/// // Caught when the router is built, not when the first request arrives.
/// let err = Router::builder().handler(1, count).build().unwrap_err();
/// assert!(matches!(err, BuildError::MissingState { .. }));
/// assert!(err.to_string().contains("takes State<"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct HandlerNeeds {
    pub(crate) state: Vec<(TypeId, &'static str)>,
    /// Schemas of the whole `data` ([`Data<T>`] and the like).
    pub(crate) data: Vec<DeclaredSchema>,
    /// Schemas of top-level fields of `data` read beside the payload ([`PageParams`](crate::PageParams)).
    pub(crate) data_fields: Vec<DeclaredSchema>,
    /// Whether a [`PageParams`](crate::PageParams) argument reads `per_page`: the router's
    /// maximum then goes into the schema.
    pub(crate) paging: bool,
}

/// A schema an extractor declared: the type it comes from, and how to build it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DeclaredSchema {
    pub(crate) type_name: &'static str,
    pub(crate) make: fn() -> serde_json::Value,
}

impl HandlerNeeds {
    /// Declares that the handler reads state of type `T` (see [`State`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{BuildError, HandlerError, Router};
    /// use pkg_router::extract::{FromRequest, HandlerNeeds, RequestContext};
    ///
    /// #[derive(Clone)]
    /// struct Mailer;
    /// #[derive(Clone)]
    /// struct Templates;
    ///
    /// /// Needs two pieces of state.
    /// struct Notifier;
    ///
    /// impl FromRequest for Notifier {
    ///     fn from_request(_: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         Ok(Notifier)
    ///     }
    ///
    ///     fn declare(needs: &mut HandlerNeeds) {
    ///         needs.state::<Mailer>();
    ///         needs.state::<Templates>();
    ///     }
    /// }
    ///
    /// async fn notify(_: Notifier) {}
    ///
    /// let err = Router::builder().state(Mailer).handler(1, notify).build().unwrap_err();
    /// assert!(matches!(err, BuildError::MissingState { type_name, .. } if type_name.ends_with("Templates")));
    ///
    /// let built = Router::builder().state(Mailer).state(Templates).handler(1, notify).build();
    /// assert!(built.is_ok());
    /// ```
    pub fn state<T: 'static>(&mut self) {
        self.state
            .push((TypeId::of::<T>(), std::any::type_name::<T>()));
    }

    /// Declares that the extractor reads the whole of `data` as a `T`, as [`Data<T>`] does.
    ///
    /// The router then validates `data` against `T`'s JSON schema before the handler runs
    /// (every violation at once) and shows the schema in the route table and the AsyncAPI
    /// document. A schema that accepts anything (`serde_json::Value`'s, [`NoSchema<T>`]'s) counts
    /// as none. A handler whose arguments declare two different schemas, or that also has
    /// `schema = ..` / [`Route::schema`](crate::Route::schema), does not build
    /// ([`BuildError::ConflictingSchemas`](crate::BuildError::ConflictingSchemas)).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{Data, HandlerError};
    /// use pkg_router::extract::{FromRequest, HandlerNeeds, RequestContext};
    /// use serde_json::json;
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Rename {
    ///     #[schemars(length(min = 1))]
    ///     name: String,
    /// }
    ///
    /// /// The `Rename` payload, its name lower-cased.
    /// struct LowerCased(Rename);
    ///
    /// impl FromRequest for LowerCased {
    ///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         let Data(mut input) = Data::<Rename>::from_request(ctx)?;
    ///         input.name = input.name.to_lowercase();
    ///         Ok(LowerCased(input))
    ///     }
    ///
    ///     fn declare(needs: &mut HandlerNeeds) {
    ///         needs.data::<Rename>();
    ///     }
    /// }
    ///
    /// async fn rename(LowerCased(input): LowerCased) -> Result<String, HandlerError> {
    ///     Ok(input.name)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, rename);
    /// assert!(client.router().routes().get(1).unwrap().has_schema);
    /// assert_eq!(client.call(1, json!({"name": "Dune"})).await.expect_ok(), "dune");
    /// let err = client.call(1, json!({"name": ""})).await;
    /// assert_eq!(err.expect_error("validation_error").details.unwrap()[0]["path"], "/name");
    /// # });
    /// ```
    pub fn data<T: schemars::JsonSchema>(&mut self) {
        self.data.push(DeclaredSchema {
            type_name: std::any::type_name::<T>(),
            make: crate::schema::schema_of::<T>,
        });
    }

    /// Declares that the extractor reads the top-level fields of `data` that `T` describes (its
    /// properties), beside whatever payload the handler takes, as
    /// [`PageParams`](crate::PageParams) does with `page`, `per_page`, `cursor` and `filters`.
    ///
    /// The fields are added to the handler's schema (a property the payload's schema already
    /// has is left as it is), so they are validated, documented, and accepted by a payload
    /// type with `#[serde(deny_unknown_fields)]`, which does not see them.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::{ResponseExt, TestRouter};
    /// use pkg_router::{Data, HandlerError};
    /// use pkg_router::extract::{FromRequest, HandlerNeeds, RequestContext};
    /// use serde_json::json;
    ///
    /// /// The fields [`Locale`] reads.
    /// #[derive(schemars::JsonSchema)]
    /// struct LocaleField {
    ///     /// The answer's language (default `en`).
    ///     #[allow(dead_code)]
    ///     locale: Option<String>,
    /// }
    ///
    /// /// The `locale` field of any request.
    /// struct Locale(String);
    ///
    /// impl FromRequest for Locale {
    ///     fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
    ///         let locale = ctx.data().get("locale").and_then(|v| v.as_str()).unwrap_or("en");
    ///         Ok(Locale(locale.to_owned()))
    ///     }
    ///
    ///     fn declare(needs: &mut HandlerNeeds) {
    ///         needs.data_fields::<LocaleField>();
    ///     }
    /// }
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// #[serde(deny_unknown_fields)]
    /// struct Greet {
    ///     name: String,
    /// }
    ///
    /// async fn greet(Data(input): Data<Greet>, Locale(locale): Locale) -> Result<String, HandlerError> {
    ///     Ok(format!("{locale}: {}", input.name))
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestRouter::with_handler(1, greet);
    /// let schema = client.router().schema(1).unwrap();
    /// assert_eq!(schema["properties"]["locale"]["type"], json!(["string", "null"]));
    ///
    /// let hello = client.call(1, json!({"name": "Ann", "locale": "de"})).await;
    /// assert_eq!(hello.expect_ok(), "de: Ann");
    /// let err = client.call(1, json!({"name": "Ann", "locale": 5})).await;
    /// assert_eq!(err.expect_error("validation_error").details.unwrap()[0]["path"], "/locale");
    /// # });
    /// ```
    pub fn data_fields<T: schemars::JsonSchema>(&mut self) {
        self.data_fields.push(DeclaredSchema {
            type_name: std::any::type_name::<T>(),
            make: crate::schema::fields_of::<T>,
        });
    }
}
