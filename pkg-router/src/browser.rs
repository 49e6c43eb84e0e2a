//! The browser client: `pkg-router.js`, one dependency-free ES module, and its TypeScript
//! declarations `pkg-router.d.ts`, embedded so that any app can serve them next to its
//! endpoint (no npm, no build step).
//!
//! The module connects with a token (a string, or a callback asked again at every reconnect),
//! makes calls that return promises, hands pushes to handlers, reconnects with backoff, and
//! names every close code:
//!
//! ```js
//! import { Client, ApiError, ConnectionClosed } from "/pkg-router.js";
//!
//! const client = new Client(`ws://${location.host}/web`, { token: () => sessionStorage.token });
//! client.onState((state, info) => console.log(state, info)); // "reconnecting", { delay, .. }
//! client.on(100, (book) => console.log("created", book));   // pushes of pkg_id 100
//! await client.connect();                                   // ConnectionClosed 4001 if refused
//! try {
//!   const { data, meta } = await client.call(4, { per_page: 10 });
//! } catch (err) {
//!   if (err instanceof ApiError) console.log(err.code, err.violations);
//! }
//! ```
//!
//! Calls in flight when a connection drops fail with `ConnectionClosed` and are never retried
//! (writes are not idempotent); calls made while disconnected fail with `NotConnectedError`. A
//! refused token (4001/4002) stops reconnecting unless the token is a callback.
//!
//! Serving both files with axum:
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::http::header::CONTENT_TYPE;
//! use axum::routing::get;
//! use pkg_router::browser;
//!
//! let app: axum::Router = axum::Router::new()
//!     .route("/pkg-router.js", get(|| async { ([(CONTENT_TYPE, browser::JS_CONTENT_TYPE)], browser::MODULE) }))
//!     .route("/pkg-router.d.ts", get(|| async { ([(CONTENT_TYPE, browser::TS_CONTENT_TYPE)], browser::TYPES) }));
//! # }
//! ```
//!
//! The books example serves them this way, and its page is built on the module.

/// The ES module's source.
pub const MODULE: &str = include_str!("../js/pkg-router.js");

/// The TypeScript declarations of [`MODULE`].
pub const TYPES: &str = include_str!("../js/pkg-router.d.ts");

/// The `Content-Type` to serve [`MODULE`] with (browsers refuse a module served as anything
/// but a JavaScript type).
pub const JS_CONTENT_TYPE: &str = "text/javascript; charset=utf-8";

/// The `Content-Type` to serve [`TYPES`] with.
pub const TS_CONTENT_TYPE: &str = "application/typescript; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_exports_what_its_declarations_declare() {
        for name in [
            "Client",
            "ApiError",
            "ConnectionClosed",
            "TimeoutError",
            "NotConnectedError",
            "CloseCode",
            "Status",
            "PUSH_REQ_ID",
        ] {
            let exported = [
                format!("export class {name} "),
                format!("export const {name} "),
            ];
            assert!(
                exported.iter().any(|e| MODULE.contains(e.as_str())),
                "{name}"
            );
            assert!(TYPES.contains(&format!(" {name}")), "{name}");
        }
    }
}
