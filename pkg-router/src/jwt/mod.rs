//! JSON Web Tokens: [`JwtAuthenticator`] verifies bearer tokens, [`Claims`] mints them.
//!
//! [`JwtAuthenticator`] is an [`Authenticator`](crate::transport::Authenticator) for signed JWTs with
//! [Keycloak](https://www.keycloak.org/)-style claims. It accepts exactly one algorithm, chosen by
//! its constructor:
//!
//! | constructor | algorithm | key |
//! |---|---|---|
//! | [`JwtAuthenticator::hs256`] | HS256 (HMAC-SHA-256) | shared secret |
//! | [`JwtAuthenticator::rs256_pem`] | RS256 (RSASSA-PKCS1-v1_5, SHA-256) | RSA public key (≥ 2048 bits), PEM |
//! | [`JwtAuthenticator::es256_pem`] | ES256 (ECDSA P-256, SHA-256) | P-256 public key, PEM |
//!
//! Tokens announcing any other algorithm are refused, including `alg: none` and the classic
//! algorithm confusion (an HS256 token "signed" with an RSA public key, offered to an RS256
//! authenticator).
//!
//! # Claims
//!
//! | claim | becomes | rule |
//! |---|---|---|
//! | `sub` | [`Principal::id`](crate::Principal::id) | required, a non-empty string |
//! | `preferred_username` | [`Principal::name`](crate::Principal::name) | optional; `sub` when absent or empty |
//! | `exp` | [`Principal::expires_at`](crate::Principal::expires_at) | required, seconds since the epoch |
//! | `realm_access.roles` | [`Principal::roles`](crate::Principal::roles) | read unless [`realm_roles(false)`](JwtAuthenticator::realm_roles) |
//! | `resource_access.<client>.roles` | [`Principal::roles`](crate::Principal::roles) | read for each [`client_roles(client)`](JwtAuthenticator::client_roles) |
//! | `iss` | | must match when [`issuer`](JwtAuthenticator::issuer) is set |
//! | `aud` | | must match when [`audience`](JwtAuthenticator::audience) is set; ignored otherwise |
//! | `nbf` | | checked when present |
//!
//! Realm and client roles are merged in that order, without duplicates; role entries that are
//! not strings are skipped, a `roles` value that is not a list is refused. Every other claim is
//! ignored.
//!
//! # Errors
//!
//! An expired token is refused with [`AuthError::Expired`](crate::transport::AuthError::Expired); every other problem with
//! [`AuthError::InvalidToken`](crate::transport::AuthError::InvalidToken) and a short, fixed reason (`"bad signature"`, `"wrong issuer"`,
//! `` "missing or malformed `sub` claim" ``, ...). Reasons never contain the token or any part
//! of it, so they are safe to log and to send back in the close frame. Problems with the
//! configuration itself (a PEM file that holds no usable key) are reported up front, by the
//! constructors, as [`JwtConfigError`].
//!
//! # Crypto provider
//!
//! Signatures are checked by `jsonwebtoken` with its [RustCrypto](https://github.com/RustCrypto)
//! backend. The first time a [`JwtAuthenticator`] is built or a [`Claims`] is signed, that backend
//! is installed as `jsonwebtoken`'s process-wide default provider, unless the application
//! installed one before (with `jsonwebtoken::crypto::CryptoProvider::install_default`), which is
//! then used as is. This keeps verification working when another crate enables
//! `jsonwebtoken`'s `aws_lc_rs` feature too (with both backends compiled in, `jsonwebtoken`
//! cannot pick one by itself).
//!
//! # Examples
//!
//! A Keycloak realm signing with RS256, whose tokens carry the client roles of `books-api`:
//!
//! ```
//! use pkg_router::jwt::{JwtAuthenticator, JwtConfigError};
//! use std::time::Duration;
//!
//! fn keycloak(realm_public_key_pem: &[u8]) -> Result<JwtAuthenticator, JwtConfigError> {
//!     Ok(JwtAuthenticator::rs256_pem(realm_public_key_pem)?
//!         .issuer("https://sso.example.com/realms/books")
//!         .audience("books-api")
//!         .client_roles("books-api")
//!         .leeway(Duration::from_secs(5)))
//! }
//!
//! assert!(keycloak(b"not a key").is_err());
//! ```

mod algorithm;
mod authenticator;
mod claims;
mod error;
mod keycloak;
mod keys;
#[cfg(test)]
mod tests;

pub use algorithm::JwtAlgorithm;
pub use authenticator::{JwtAuthenticator, MAX_LEEWAY};
pub use claims::Claims;
pub use error::JwtConfigError;
pub use keys::MIN_RSA_BITS;
