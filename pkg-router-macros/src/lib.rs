//! The `#[pkg_handler]` attribute of [pkg-router](https://docs.rs/pkg-router).
//!
//! Use it through `pkg_router::pkg_handler`; this crate is an implementation detail and its
//! expansion refers to `::pkg_router` paths.

mod attr;
mod expand;
mod valid;

use proc_macro::TokenStream;

/// Registers an `async fn` as the handler of one or more package ids, at link time.
///
/// ```text
/// #[pkg_handler(id = PkgID::CREATE_BOOK, roles = ["create-book"], timeout = Duration::from_secs(5))]
/// ```
///
/// | argument | meaning |
/// |---|---|
/// | `id = X` or `id = [X, Y]` | required: the package id(s) served (a `pkg_ids!` variant, a `u32` constant or an integer literal in `0..=2^31-1`) |
/// | `roles = ["a", "b"]` | the caller must hold **all** of these roles; absent or empty means public, and `roles = []` written out says it is public on purpose (the route check, `pkg_router::cli`, accepts only that) |
/// | `pushes = [PkgID::A, ..]` | the `#[push]` ids the handler sends, for the route table and the route check (a push id no handler declares is reported unused) |
/// | `schema = T` | validate `data` against the JSON schema derived from `T: schemars::JsonSchema`, for a handler without a `Data<_>` argument (`Data<T>` brings `T`'s schema itself; both together do not compile) |
/// | `schema_json = expr` | validate `data` against a hand-written schema (`expr` produces a `serde_json::Value`); with `RequestModel` or `Data<NoSchema<T>>` |
/// | `timeout = expr` | answer `ERROR`/`timeout` after this `Duration` (a `const` expression) |
///
/// The function must be a free `async fn`, not generic, whose arguments implement
/// `FromRequest` and whose return type implements `IntoResponse`. Mistakes are compile errors
/// pointing at the offending token.
///
/// Collect the registered handlers with `RouterBuilder::with_registered()`. A crate that only
/// contains handlers must be named by the binary (`use my_handlers as _;`), or the linker drops
/// it.
///
/// # Examples
///
/// ```standalone_crate
/// use pkg_router::{pkg_handler, pkg_ids, Data, HandlerError, Principal, Router};
/// use std::time::Duration;
///
/// pkg_ids! {
///     pub PkgID { GET_BOOKS = 4, DELETE_BOOK = 6 }
/// }
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct DeleteBook {
///     #[schemars(range(min = 1))]
///     id: u64,
/// }
///
/// // The schema of `data` comes from `Data<DeleteBook>`.
/// #[pkg_handler(id = PkgID::DELETE_BOOK, roles = ["delete-book", "admin"])]
/// async fn delete_book(Data(input): Data<DeleteBook>, caller: Principal) -> Result<String, HandlerError> {
///     Ok(format!("{} deleted book {}", caller.name, input.id))
/// }
///
/// #[pkg_handler(
///     id = PkgID::GET_BOOKS,
///     schema_json = serde_json::json!({"type": "object", "properties": {"page": {"type": "integer"}}}),
///     timeout = Duration::from_secs(5),
/// )]
/// async fn get_books() -> Result<Vec<String>, HandlerError> {
///     Ok(vec![])
/// }
///
/// let router = Router::builder().with_registered().require_all(PkgID::ALL).build().unwrap();
/// let row = router.routes().get(6).unwrap();
/// assert_eq!(row.roles, ["delete-book", "admin"]);
/// assert!(row.has_schema);
/// ```
///
/// A handler must be `async`:
///
/// ```compile_fail
/// #[pkg_router::pkg_handler(id = 1)]
/// fn not_async() -> pkg_router::ResponseModel { unimplemented!() }
/// ```
///
/// Arguments must be extractors:
///
/// ```compile_fail
/// #[pkg_router::pkg_handler(id = 1)]
/// async fn takes_a_number(n: u32) -> Result<(), pkg_router::HandlerError> { Ok(()) }
/// ```
///
/// The schema comes from one place:
///
/// ```compile_fail
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct JoinRoom { room: String }
///
/// // error: the schema comes from `Data<JoinRoom>`; remove `schema = JoinRoom`
/// #[pkg_router::pkg_handler(id = 1, schema = JoinRoom)]
/// async fn join(pkg_router::Data(input): pkg_router::Data<JoinRoom>) {}
/// ```
#[proc_macro_attribute]
pub fn pkg_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::pkg_handler(args.into(), item.into()).into()
}
