//! [`JwtConfigError`]: a key that cannot be used, a token that cannot be signed.

use super::JwtAlgorithm;

/// Why a key could not be loaded or a token could not be signed.
///
/// Returned by the PEM constructors of [`JwtAuthenticator`](super::JwtAuthenticator) and by the
/// `sign_*` methods of [`Claims`](super::Claims). The message names the problem, never the key
/// material.
///
/// # Examples
///
/// ```
/// use pkg_router::jwt::{JwtAlgorithm, JwtAuthenticator, JwtConfigError};
///
/// let err = JwtAuthenticator::es256_pem(b"-----BEGIN PUBLIC KEY-----").unwrap_err();
/// assert!(matches!(err, JwtConfigError::InvalidKey { algorithm: JwtAlgorithm::Es256, .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtConfigError {
    /// The key is not a usable key for the algorithm (wrong format, wrong type, too small, a
    /// private key where a public one belongs or the reverse).
    #[error("invalid {algorithm} key: {reason}")]
    InvalidKey {
        /// The algorithm the key was meant for.
        algorithm: JwtAlgorithm,
        /// What is wrong with it.
        reason: String,
    },
    /// A token could not be produced (the system clock or an expiry is out of range, say).
    #[error("cannot sign token: {0}")]
    Signing(String),
}

impl JwtConfigError {
    pub(super) fn key(algorithm: JwtAlgorithm, reason: impl Into<String>) -> Self {
        Self::InvalidKey {
            algorithm,
            reason: reason.into(),
        }
    }
}
