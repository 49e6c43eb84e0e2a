//! The `#[pkg_handler]` attribute of [pkg-router](https://docs.rs/pkg-router).
//!
//! Use it through `pkg_router::pkg_handler`; this crate is an implementation detail and its
//! expansion refers to `::pkg_router` paths.

mod attr;
mod expand;
mod valid;

use proc_macro::TokenStream;

/// Registers an `async fn` as the handler of one or more package ids. See the `pkg_router`
/// crate documentation for the arguments and examples.
#[proc_macro_attribute]
pub fn pkg_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::pkg_handler(args.into(), item.into()).into()
}
