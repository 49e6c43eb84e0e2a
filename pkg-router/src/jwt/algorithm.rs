//! [`JwtAlgorithm`]: the signature algorithms, and their names in jsonwebtoken.

use jsonwebtoken::Algorithm;
use std::fmt;

/// A signature algorithm [`JwtAuthenticator`](super::JwtAuthenticator) and
/// [`Claims`](super::Claims) support.
///
/// # Examples
///
/// ```
/// use pkg_router::jwt::{JwtAlgorithm, JwtAuthenticator};
///
/// let auth = JwtAuthenticator::hs256("dev-secret");
/// assert_eq!(auth.algorithm(), JwtAlgorithm::Hs256);
/// assert_eq!(auth.algorithm().to_string(), "HS256");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    Hs256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl JwtAlgorithm {
    /// The name used in a token's `alg` header: `"HS256"`, `"RS256"` or `"ES256"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::JwtAlgorithm;
    ///
    /// assert_eq!(JwtAlgorithm::Rs256.as_str(), "RS256");
    /// assert_eq!(JwtAlgorithm::Es256.to_string(), JwtAlgorithm::Es256.as_str());
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }

    pub(super) fn to_jsonwebtoken(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
