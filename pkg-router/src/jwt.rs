//! JSON Web Tokens: [`JwtAuthenticator`] verifies bearer tokens, [`Claims`] mints them.
//!
//! [`JwtAuthenticator`] is an [`Authenticator`] for signed JWTs with
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
//! | `sub` | [`Principal::id`] | required, a non-empty string |
//! | `preferred_username` | [`Principal::name`] | optional; `sub` when absent or empty |
//! | `exp` | [`Principal::expires_at`] | required, seconds since the epoch |
//! | `realm_access.roles` | [`Principal::roles`] | read unless [`realm_roles(false)`](JwtAuthenticator::realm_roles) |
//! | `resource_access.<client>.roles` | [`Principal::roles`] | read for each [`client_roles(client)`](JwtAuthenticator::client_roles) |
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
//! An expired token is refused with [`AuthError::Expired`]; every other problem with
//! [`AuthError::InvalidToken`] and a short, fixed reason (`"bad signature"`, `"wrong issuer"`,
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

use crate::principal::Principal;
use crate::transport::{AuthError, AuthFuture, Authenticator};
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER as RUST_CRYPTO;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey, Header, Validation};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The largest clock-skew allowance [`JwtAuthenticator::leeway`] accepts; larger values are capped.
///
/// A larger allowance would keep stolen, expired tokens usable for too long; the transport
/// applies the same cap when it closes connections whose token expires.
///
/// # Examples
///
/// ```
/// use pkg_router::jwt::{JwtAuthenticator, MAX_LEEWAY};
/// use pkg_router::transport::Authenticator;
/// use std::time::Duration;
///
/// assert_eq!(MAX_LEEWAY, Duration::from_secs(60));
/// let auth = JwtAuthenticator::hs256("s").leeway(Duration::from_secs(3600));
/// assert_eq!(Authenticator::leeway(&auth), MAX_LEEWAY);
/// ```
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);

/// The smallest RSA modulus, in bits, [`JwtAuthenticator::rs256_pem`] accepts.
///
/// Smaller keys can be factored with practical effort, so tokens they sign prove nothing.
///
/// # Examples
///
/// ```
/// use pkg_router::jwt::{JwtAuthenticator, MIN_RSA_BITS};
///
/// # const RSA_1024_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
/// # MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDqeVAixQhbACLnjMeMLIztFyr5
/// # CQurnTm/bHvbXteRddlTTJdK4xaFlebr63Dpry1iruJHDxShZFhPR2rIYVNjthUJ
/// # H2UGAsUlFnUFtaG8bVMUJAY975qKNZhoF9lVtRadxSWHkt8BHZORNci+1r6jdo1A
/// # 1TyOEfydgSCyGA6s9wIDAQAB
/// # -----END PUBLIC KEY-----
/// # ";
/// assert_eq!(MIN_RSA_BITS, 2048);
/// let err = JwtAuthenticator::rs256_pem(RSA_1024_PUBLIC_PEM.as_bytes()).unwrap_err();
/// assert!(err.to_string().contains("1024"), "{err}");
/// ```
pub const MIN_RSA_BITS: usize = 2048;

/// A signature algorithm [`JwtAuthenticator`] and [`Claims`] support.
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

    fn to_jsonwebtoken(self) -> Algorithm {
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

/// Why a key could not be loaded or a token could not be signed.
///
/// Returned by the PEM constructors of [`JwtAuthenticator`] and by the `sign_*` methods of
/// [`Claims`]. The message names the problem, never the key material.
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
    fn key(algorithm: JwtAlgorithm, reason: impl Into<String>) -> Self {
        Self::InvalidKey {
            algorithm,
            reason: reason.into(),
        }
    }
}

/// Installs jsonwebtoken's `RustCrypto` backend as its process default, unless a provider is
/// installed already (see the module docs).
fn ensure_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An `Err` means the application installed a provider first: keep it.
        let _ = CryptoProvider::install_default(&RUST_CRYPTO);
    });
}

/// An [`Authenticator`] that verifies signed JWTs and maps their claims to a [`Principal`].
///
/// Build it with [`hs256`](Self::hs256), [`rs256_pem`](Self::rs256_pem) or
/// [`es256_pem`](Self::es256_pem), then narrow it with the builder methods
/// ([`issuer`](Self::issuer), [`audience`](Self::audience), [`leeway`](Self::leeway),
/// [`realm_roles`](Self::realm_roles), [`client_roles`](Self::client_roles)). The
/// [module docs](self) list the claims it reads and the checks it makes.
///
/// Verification is synchronous and cheap (no I/O), so [`authenticate`](Authenticator::authenticate)
/// returns a ready future; [`verify`](Self::verify) is the same check without the future.
/// Cloning is cheap enough to do once per listener, not per connection.
///
/// # Examples
///
/// Minting and verifying an HS256 token:
///
/// ```
/// use pkg_router::jwt::{Claims, JwtAuthenticator};
/// use pkg_router::transport::AuthError;
/// use std::time::Duration;
///
/// let secret = "a-dev-secret-of-at-least-32-bytes!";
/// let auth = JwtAuthenticator::hs256(secret).issuer("https://sso.example.com/realms/books");
///
/// let token = Claims::new("8c3f0e4e")
///     .username("alice")
///     .realm_roles(["view-books", "create-book"])
///     .issuer("https://sso.example.com/realms/books")
///     .expires_in(Duration::from_secs(300))
///     .sign_hs256(secret)?;
///
/// let alice = auth.verify(&token)?;
/// assert_eq!(alice.id, "8c3f0e4e");
/// assert_eq!(alice.name, "alice");
/// assert!(alice.has_all_roles(&["view-books", "create-book"]));
/// assert!(alice.expires_at.is_some());
///
/// let forged = Claims::new("8c3f0e4e").sign_hs256("another secret")?;
/// assert_eq!(auth.verify(&forged), Err(AuthError::InvalidToken("bad signature".into())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct JwtAuthenticator {
    algorithm: JwtAlgorithm,
    key: DecodingKey,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Duration,
    realm_roles: bool,
    clients: Vec<String>,
    validation: Validation,
}

impl JwtAuthenticator {
    /// Accepts HS256 tokens signed with `secret`.
    ///
    /// Anyone holding the secret can mint tokens, so this suits development, tests and services
    /// that issue their own tokens. Use a random secret of at least 32 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    ///
    /// let auth = JwtAuthenticator::hs256(b"a-dev-secret-of-at-least-32-bytes!");
    /// let token = Claims::new("u-1").sign_hs256(b"a-dev-secret-of-at-least-32-bytes!")?;
    /// assert_eq!(auth.verify(&token)?.id, "u-1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hs256(secret: impl AsRef<[u8]>) -> Self {
        Self::with_key(
            JwtAlgorithm::Hs256,
            DecodingKey::from_secret(secret.as_ref()),
        )
    }

    /// Accepts RS256 tokens signed by the private half of the RSA public key `pem`.
    ///
    /// `pem` is a `-----BEGIN PUBLIC KEY-----` (`SubjectPublicKeyInfo`, what Keycloak shows as the
    /// realm's RS256 public key once wrapped in those lines) or a `-----BEGIN RSA PUBLIC KEY-----`
    /// (PKCS#1) block.
    ///
    /// # Errors
    ///
    /// [`JwtConfigError::InvalidKey`] if `pem` is not an RSA public key, is a private key, or has
    /// fewer than [`MIN_RSA_BITS`] bits.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{JwtAuthenticator, JwtConfigError};
    ///
    /// fn from_file(path: &str) -> Result<JwtAuthenticator, Box<dyn std::error::Error>> {
    ///     let pem = std::fs::read(path)?;
    ///     Ok(JwtAuthenticator::rs256_pem(&pem)?)
    /// }
    ///
    /// let err = JwtAuthenticator::rs256_pem(b"not a key").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid RS256 key: not a PEM-encoded RSA public key (`PUBLIC KEY` or `RSA PUBLIC KEY`)"
    /// );
    /// ```
    pub fn rs256_pem(pem: &[u8]) -> Result<Self, JwtConfigError> {
        const ALG: JwtAlgorithm = JwtAlgorithm::Rs256;
        let not_rsa = || {
            JwtConfigError::key(
                ALG,
                "not a PEM-encoded RSA public key (`PUBLIC KEY` or `RSA PUBLIC KEY`)",
            )
        };
        ensure_crypto_provider();
        let key = DecodingKey::from_rsa_pem(pem).map_err(|_| not_rsa())?;
        let DecodingKeyKind::SecretOrDer(der) = key.kind() else {
            return Err(not_rsa());
        };
        let (modulus, _exponent) =
            match (RUST_CRYPTO.key_utils.rsa_pub_components_from_public_key)(der) {
                Ok(components) => components,
                // jsonwebtoken takes a private key's DER for the key: say so.
                Err(_)
                    if (RUST_CRYPTO.key_utils.rsa_pub_components_from_private_key)(der).is_ok() =>
                {
                    return Err(JwtConfigError::key(
                        ALG,
                        "this is a private key; pass the public key",
                    ));
                }
                Err(_) => return Err(not_rsa()),
            };
        let bits = modulus_bits(&modulus);
        if bits < MIN_RSA_BITS {
            return Err(JwtConfigError::key(
                ALG,
                format!("the modulus has {bits} bits; at least {MIN_RSA_BITS} are required"),
            ));
        }
        Ok(Self::with_key(ALG, key))
    }

    /// Accepts ES256 tokens signed by the private half of the P-256 public key `pem`.
    ///
    /// `pem` is a `-----BEGIN PUBLIC KEY-----` (`SubjectPublicKeyInfo`) block, as printed by
    /// `openssl pkey -pubout`.
    ///
    /// # Errors
    ///
    /// [`JwtConfigError::InvalidKey`] if `pem` is not a P-256 public key (a private key, an RSA
    /// key or a key on another curve included).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAlgorithm, JwtAuthenticator};
    ///
    /// let pem = "-----BEGIN PUBLIC KEY-----
    /// MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqocdOjKlHqR2juLBnZ95/3IzyEq2
    /// wHHmHXY4KDcJQd4F2S2xOLDqk7kqinnRDprAu2MKCOto0exk4OmSmNaA0w==
    /// -----END PUBLIC KEY-----";
    /// let auth = JwtAuthenticator::es256_pem(pem.as_bytes())?;
    /// assert_eq!(auth.algorithm(), JwtAlgorithm::Es256);
    /// # const EC_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
    /// # MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWP3PalFfqzOdojyS
    /// # NO4HdVDTV/I4eRSivXoaVORvlp+hRANCAASqhx06MqUepHaO4sGdn3n/cjPISrbA
    /// # ceYddjgoNwlB3gXZLbE4sOqTuSqKedEOmsC7YwoI62jR7GTg6ZKY1oDT
    /// # -----END PRIVATE KEY-----
    /// # ";
    /// let token = Claims::new("u-1").sign_es256_pem(EC_PRIVATE_PEM.as_bytes())?;
    /// assert_eq!(auth.verify(&token)?.id, "u-1");
    ///
    /// // A private key is not a verification key.
    /// assert!(JwtAuthenticator::es256_pem(EC_PRIVATE_PEM.as_bytes()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn es256_pem(pem: &[u8]) -> Result<Self, JwtConfigError> {
        const ALG: JwtAlgorithm = JwtAlgorithm::Es256;
        ensure_crypto_provider();
        let key = DecodingKey::from_ec_pem(pem)
            .ok()
            // Parses the point: rejects keys on other curves now rather than at every token.
            .filter(|key| (RUST_CRYPTO.verifier_factory)(&ALG.to_jsonwebtoken(), key).is_ok())
            .ok_or_else(|| {
                JwtConfigError::key(ALG, "not a PEM-encoded P-256 public key (`PUBLIC KEY`)")
            })?;
        Ok(Self::with_key(ALG, key))
    }

    fn with_key(algorithm: JwtAlgorithm, key: DecodingKey) -> Self {
        ensure_crypto_provider();
        let mut auth = Self {
            algorithm,
            key,
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: Duration::ZERO,
            realm_roles: true,
            clients: Vec::new(),
            validation: Validation::new(algorithm.to_jsonwebtoken()),
        };
        auth.sync_validation();
        auth
    }

    /// Requires the `iss` claim to equal `issuer` (for Keycloak,
    /// `https://<host>/realms/<realm>`).
    ///
    /// Call it more than once to accept tokens from any of several issuers. Without it, `iss` is
    /// not checked.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    /// use pkg_router::transport::AuthError;
    ///
    /// let auth = JwtAuthenticator::hs256("s")
    ///     .issuer("https://sso.example.com/realms/books")
    ///     .issuer("https://sso.example.com/realms/staff");
    ///
    /// let staff = Claims::new("u-1").issuer("https://sso.example.com/realms/staff").sign_hs256("s")?;
    /// assert!(auth.verify(&staff).is_ok());
    ///
    /// let other = Claims::new("u-1").issuer("https://evil.example.com").sign_hs256("s")?;
    /// assert_eq!(auth.verify(&other), Err(AuthError::InvalidToken("wrong issuer".into())));
    /// let none = Claims::new("u-1").sign_hs256("s")?;
    /// assert!(auth.verify(&none).is_err()); // `iss` is required once an issuer is set
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self.sync_validation();
        self
    }

    /// Requires the `aud` claim (a string or a list) to name `audience`.
    ///
    /// Call it more than once to accept any of several audiences. Without it, `aud` is not
    /// checked, so Keycloak's default `"aud": "account"` passes.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    /// use pkg_router::transport::AuthError;
    ///
    /// let auth = JwtAuthenticator::hs256("s").audience("books-api");
    /// let for_us = Claims::new("u-1").audience("account").audience("books-api").sign_hs256("s")?;
    /// assert!(auth.verify(&for_us).is_ok()); // one of the listed audiences is enough
    ///
    /// let for_others = Claims::new("u-1").audience("account").sign_hs256("s")?;
    /// assert_eq!(auth.verify(&for_others), Err(AuthError::InvalidToken("wrong audience".into())));
    /// assert!(JwtAuthenticator::hs256("s").verify(&for_others).is_ok()); // unchecked by default
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self.sync_validation();
        self
    }

    /// Tolerates clock skew: a token still passes `leeway` after its `exp` (and before its
    /// `nbf`).
    ///
    /// Defaults to zero. JWT times are whole seconds, so fractions of a second are dropped, and
    /// values above [`MAX_LEEWAY`] are capped. The transport uses the same value, returned by
    /// [`Authenticator::leeway`], when it closes connections whose token expires.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::JwtAuthenticator;
    /// use pkg_router::transport::Authenticator;
    /// use std::time::Duration;
    ///
    /// let auth = JwtAuthenticator::hs256("s").leeway(Duration::from_secs(600));
    /// assert_eq!(Authenticator::leeway(&auth), Duration::from_secs(60));
    /// ```
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Duration::from_secs(leeway.min(MAX_LEEWAY).as_secs());
        self.sync_validation();
        self
    }

    /// Whether the roles in `realm_access.roles` are granted (the default) or ignored.
    ///
    /// Turn them off when realm roles are shared by many applications and only this
    /// application's [client roles](Self::client_roles) should count.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    ///
    /// let token = Claims::new("u-1").realm_roles(["admin"]).sign_hs256("s")?;
    /// assert_eq!(JwtAuthenticator::hs256("s").verify(&token)?.roles, ["admin"]);
    /// assert!(JwtAuthenticator::hs256("s").realm_roles(false).verify(&token)?.roles.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn realm_roles(mut self, enabled: bool) -> Self {
        self.realm_roles = enabled;
        self
    }

    /// Also grants the roles in `resource_access.<client_id>.roles` (Keycloak client roles).
    ///
    /// Call it once per client whose roles count. Client roles are added after the realm roles,
    /// without duplicates and without a prefix, so a client role and a realm role of the same name
    /// are one role.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    ///
    /// let auth = JwtAuthenticator::hs256("s").realm_roles(false).client_roles("books-api");
    /// let token = Claims::new("u-1")
    ///     .realm_roles(["offline_access"])
    ///     .client_roles("books-api", ["view-books"])
    ///     .client_roles("other-app", ["admin"])
    ///     .sign_hs256("s")?;
    /// assert_eq!(auth.verify(&token)?.roles, ["view-books"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn client_roles(mut self, client_id: impl Into<String>) -> Self {
        let client_id = client_id.into();
        if !self.clients.contains(&client_id) {
            self.clients.push(client_id);
        }
        self
    }

    /// The one algorithm this authenticator accepts (fixed by its constructor).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{JwtAlgorithm, JwtAuthenticator};
    ///
    /// assert_eq!(JwtAuthenticator::hs256("s").algorithm(), JwtAlgorithm::Hs256);
    /// ```
    #[must_use]
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    /// Checks `token` (a compact JWT, without the `Bearer ` scheme) and maps its claims to a
    /// [`Principal`]: what [`authenticate`](Authenticator::authenticate) does, synchronously.
    ///
    /// # Errors
    ///
    /// [`AuthError::Expired`] if `exp` (plus the [leeway](Self::leeway)) has passed;
    /// [`AuthError::InvalidToken`] with a short reason for anything else (see the
    /// [module docs](self)).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    /// use pkg_router::transport::AuthError;
    /// use std::time::{Duration, SystemTime};
    ///
    /// let auth = JwtAuthenticator::hs256("s");
    /// let token = Claims::new("u-1").username("ann").realm_roles(["view-books"]).sign_hs256("s")?;
    /// let ann = auth.verify(&token)?;
    /// assert_eq!((ann.id.as_str(), ann.name.as_str()), ("u-1", "ann"));
    /// assert!(ann.expires_at.unwrap() > SystemTime::now());
    ///
    /// assert_eq!(auth.verify("not.a.token").unwrap_err().to_string(), "invalid token: malformed token or unsupported algorithm");
    /// let stale = Claims::new("u-1").expires_at(SystemTime::now() - Duration::from_secs(60)).sign_hs256("s")?;
    /// assert_eq!(auth.verify(&stale), Err(AuthError::Expired));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("malformed token or unsupported algorithm"))?;
        if header.alg != self.algorithm.to_jsonwebtoken() {
            let (found, expected) = (header.alg, self.algorithm);
            return Err(invalid(format!(
                "{found:?} tokens are not accepted (expected {expected})"
            )));
        }
        if header.crit.is_some() {
            return Err(invalid("unsupported critical header parameters"));
        }
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|err| auth_error(&err))?
            .claims;
        self.principal(&claims)
    }

    fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, AuthError> {
        let id = match claims.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub,
            Some(Value::String(_)) => return Err(invalid("empty `sub` claim")),
            None | Some(Value::Null) => return Err(invalid("missing `sub` claim")),
            Some(_) => return Err(invalid("malformed `sub` claim")),
        };
        let name = match claims.get("preferred_username") {
            Some(Value::String(name)) if !name.is_empty() => name,
            None | Some(Value::Null | Value::String(_)) => id,
            Some(_) => return Err(invalid("malformed `preferred_username` claim")),
        };
        let expires_at = match claims.get("exp") {
            Some(Value::Number(exp)) => exp
                .as_u64()
                .or_else(|| {
                    exp.as_f64()
                        .filter(|secs| secs.is_finite() && *secs >= 0.0)
                        .and_then(|secs| Duration::try_from_secs_f64(secs.round()).ok())
                        .map(|secs| secs.as_secs())
                })
                .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
                .ok_or_else(|| invalid("malformed `exp` claim"))?,
            None | Some(Value::Null) => return Err(invalid("missing `exp` claim")),
            Some(_) => return Err(invalid("malformed `exp` claim")),
        };

        let mut roles: Vec<String> = Vec::new();
        if self.realm_roles {
            let realm = roles_at(claims.get("realm_access"))
                .ok_or_else(|| invalid("malformed `realm_access.roles` claim"))?;
            add_roles(&mut roles, realm);
        }
        if !self.clients.is_empty() {
            let resource_access = match claims.get("resource_access") {
                None | Some(Value::Null) => None,
                Some(Value::Object(clients)) => Some(clients),
                Some(_) => return Err(invalid("malformed `resource_access` claim")),
            };
            for client in &self.clients {
                let granted = roles_at(resource_access.and_then(|clients| clients.get(client)))
                    .ok_or_else(|| {
                        invalid(format!("malformed `resource_access.{client}.roles` claim"))
                    })?;
                add_roles(&mut roles, granted);
            }
        }

        Ok(Principal::new(id.as_str(), name.as_str())
            .with_roles(roles)
            .with_expiry(expires_at))
    }

    /// Rebuilds the jsonwebtoken validation settings from the builder fields.
    fn sync_validation(&mut self) {
        let mut validation = Validation::new(self.algorithm.to_jsonwebtoken());
        let mut required = vec!["exp", "sub"];
        validation.leeway = self.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        if self.issuers.is_empty() {
            validation.iss = None;
        } else {
            validation.set_issuer(&self.issuers);
            required.push("iss");
        }
        if self.audiences.is_empty() {
            validation.validate_aud = false;
            validation.aud = None;
        } else {
            validation.validate_aud = true;
            validation.set_audience(&self.audiences);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        self.validation = validation;
    }
}

impl fmt::Debug for JwtAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthenticator")
            .field("algorithm", &self.algorithm)
            .field("key", &"<redacted>")
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("leeway", &self.leeway)
            .field("realm_roles", &self.realm_roles)
            .field("client_roles", &self.clients)
            .finish_non_exhaustive()
    }
}

impl Authenticator for JwtAuthenticator {
    /// [`verify`](JwtAuthenticator::verify) as a ready future.
    fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
        Box::pin(std::future::ready(self.verify(token)))
    }

    /// The [`leeway`](JwtAuthenticator::leeway) set on the builder (zero by default).
    fn leeway(&self) -> Duration {
        self.leeway
    }
}

fn invalid(reason: impl Into<String>) -> AuthError {
    AuthError::InvalidToken(reason.into())
}

/// Maps a jsonwebtoken error to a fixed reason. The claim names in `MissingRequiredClaim` and
/// `InvalidClaimFormat` come from our own validation settings, never from the token.
fn auth_error(err: &JwtError) -> AuthError {
    match err.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::InvalidSignature => invalid("bad signature"),
        ErrorKind::InvalidIssuer => invalid("wrong issuer"),
        ErrorKind::InvalidAudience => invalid("wrong audience"),
        ErrorKind::ImmatureSignature => invalid("token not valid yet (`nbf`)"),
        ErrorKind::MissingRequiredClaim(claim) => {
            invalid(format!("missing or malformed `{claim}` claim"))
        }
        ErrorKind::InvalidClaimFormat(claim) => invalid(format!("malformed `{claim}` claim")),
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidAlgorithmName => invalid("algorithm not accepted"),
        // The key was checked when the authenticator was built: this is a server-side fault.
        ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::Provider(_) => AuthError::Unavailable("verification key unusable".into()),
        _ => invalid("malformed token"),
    }
}

/// The `roles` list of a `{"roles": [...]}` object; `None` when it is malformed. An absent object
/// or list grants nothing.
fn roles_at(access: Option<&Value>) -> Option<&[Value]> {
    match access {
        None | Some(Value::Null) => Some(&[]),
        Some(Value::Object(access)) => match access.get("roles") {
            None | Some(Value::Null) => Some(&[]),
            Some(Value::Array(roles)) => Some(roles),
            Some(_) => None,
        },
        Some(_) => None,
    }
}

fn add_roles(roles: &mut Vec<String>, granted: &[Value]) {
    for role in granted {
        if let Value::String(role) = role
            && !roles.contains(role)
        {
            roles.push(role.clone());
        }
    }
}

/// Bit length of a big-endian unsigned integer.
fn modulus_bits(be_bytes: &[u8]) -> usize {
    let mut significant = be_bytes.iter().skip_while(|&&byte| byte == 0);
    match significant.next() {
        Some(&top) => (8 - top.leading_zeros() as usize) + 8 * significant.count(),
        None => 0,
    }
}

/// When a token minted by [`Claims`] expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    /// This long after signing.
    In(Duration),
    /// At this instant.
    At(SystemTime),
}

/// The claims of a token to mint: for tests, development tools and services that issue their own
/// HS256 tokens.
///
/// It writes the claims [`JwtAuthenticator`] reads (`sub`, `preferred_username`,
/// `realm_access.roles`, `resource_access.<client>.roles`, `iss`, `aud`, `exp`) plus `iat`.
/// Tokens expire [`DEFAULT_LIFETIME`](Self::DEFAULT_LIFETIME) after signing unless
/// [`expires_in`](Self::expires_in) or [`expires_at`](Self::expires_at) says otherwise.
///
/// # Examples
///
/// A development token, as `cargo run --example books -- token --user alice --roles a,b` prints:
///
/// ```
/// use pkg_router::jwt::{Claims, JwtAuthenticator};
/// use std::time::Duration;
///
/// let secret = "a-dev-secret-of-at-least-32-bytes!";
/// let token = Claims::new("alice")
///     .username("alice")
///     .realm_roles("a,b".split(','))
///     .expires_in(Duration::from_secs(8 * 3600))
///     .sign_hs256(secret)?;
/// assert_eq!(token.split('.').count(), 3);
///
/// let alice = JwtAuthenticator::hs256(secret).verify(&token)?;
/// assert_eq!(alice.roles, ["a", "b"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// An expired token, to test the refusal:
///
/// ```
/// use pkg_router::jwt::{Claims, JwtAuthenticator};
/// use pkg_router::transport::AuthError;
/// use std::time::{Duration, SystemTime};
///
/// let stale = Claims::new("alice")
///     .expires_at(SystemTime::now() - Duration::from_secs(3600))
///     .sign_hs256("s")?;
/// assert_eq!(JwtAuthenticator::hs256("s").verify(&stale), Err(AuthError::Expired));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    sub: String,
    username: Option<String>,
    realm_roles: Vec<String>,
    client_roles: Vec<(String, Vec<String>)>,
    issuer: Option<String>,
    audiences: Vec<String>,
    expiry: Expiry,
}

impl Claims {
    /// How long a token is valid when neither [`expires_in`](Self::expires_in) nor
    /// [`expires_at`](Self::expires_at) is called: one hour.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    /// use std::time::{Duration, SystemTime};
    ///
    /// let token = Claims::new("u-1").sign_hs256("s")?;
    /// let expires_at = JwtAuthenticator::hs256("s").verify(&token)?.expires_at.unwrap();
    /// let lifetime = expires_at.duration_since(SystemTime::now())?;
    /// assert!(lifetime <= Claims::DEFAULT_LIFETIME);
    /// assert!(lifetime > Claims::DEFAULT_LIFETIME - Duration::from_secs(5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

    /// Claims for the subject `sub` (the user id, [`Principal::id`]), with no roles.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    ///
    /// let token = Claims::new("8c3f0e4e").sign_hs256("s")?;
    /// let principal = JwtAuthenticator::hs256("s").verify(&token)?;
    /// assert_eq!(principal.id, "8c3f0e4e");
    /// assert_eq!(principal.name, "8c3f0e4e"); // no username: the subject
    /// assert!(principal.roles.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            username: None,
            realm_roles: Vec::new(),
            client_roles: Vec::new(),
            issuer: None,
            audiences: Vec::new(),
            expiry: Expiry::In(Self::DEFAULT_LIFETIME),
        }
    }

    /// Sets `preferred_username` ([`Principal::name`]; the subject when unset).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    ///
    /// let token = Claims::new("8c3f0e4e").username("alice").sign_hs256("s")?;
    /// assert_eq!(JwtAuthenticator::hs256("s").verify(&token)?.name, "alice");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Adds realm roles (`realm_access.roles`).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    ///
    /// let token = Claims::new("u-1")
    ///     .realm_roles(["view-books"])
    ///     .realm_roles(["create-book"])
    ///     .sign_hs256("s")?;
    /// let principal = JwtAuthenticator::hs256("s").verify(&token)?;
    /// assert_eq!(principal.roles, ["view-books", "create-book"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn realm_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.realm_roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Adds roles of the client `client_id` (`resource_access.<client_id>.roles`).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    ///
    /// let token = Claims::new("u-1")
    ///     .client_roles("books-api", ["view-books"])
    ///     .client_roles("books-api", ["create-book"])
    ///     .client_roles("billing", ["pay"])
    ///     .sign_hs256("s")?;
    /// let auth = JwtAuthenticator::hs256("s").client_roles("books-api");
    /// assert_eq!(auth.verify(&token)?.roles, ["view-books", "create-book"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn client_roles<I, S>(mut self, client_id: impl Into<String>, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let client_id = client_id.into();
        let roles = roles.into_iter().map(Into::into);
        match self
            .client_roles
            .iter_mut()
            .find(|(id, _)| *id == client_id)
        {
            Some((_, granted)) => granted.extend(roles),
            None => self.client_roles.push((client_id, roles.collect())),
        }
        self
    }

    /// Sets the issuer (`iss`).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    ///
    /// let auth = JwtAuthenticator::hs256("s").issuer("books-dev");
    /// assert!(auth.verify(&Claims::new("u-1").issuer("books-dev").sign_hs256("s")?).is_ok());
    /// assert!(auth.verify(&Claims::new("u-1").issuer("books-prod").sign_hs256("s")?).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Adds an audience (`aud`: a string for one, a list for several).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    ///
    /// let token = Claims::new("u-1").audience("books-api").sign_hs256("s")?;
    /// assert!(JwtAuthenticator::hs256("s").audience("books-api").verify(&token).is_ok());
    /// assert!(JwtAuthenticator::hs256("s").audience("billing").verify(&token).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Makes the token expire `lifetime` after it is signed.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    /// use std::time::{Duration, SystemTime};
    ///
    /// let token = Claims::new("u-1").expires_in(Duration::from_secs(8 * 3600)).sign_hs256("s")?;
    /// let expires_at = JwtAuthenticator::hs256("s").verify(&token)?.expires_at.unwrap();
    /// assert!(expires_at > SystemTime::now() + Duration::from_secs(7 * 3600));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expiry = Expiry::In(lifetime);
        self
    }

    /// Makes the token expire at `when` (which may be in the past, to test refusals).
    ///
    /// JWT times are whole seconds: fractions of `when` are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let when = UNIX_EPOCH + Duration::from_secs(4_102_444_800); // 2100-01-01
    /// let token = Claims::new("u-1").expires_at(when).sign_hs256("s")?;
    /// assert_eq!(JwtAuthenticator::hs256("s").verify(&token)?.expires_at, Some(when));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn expires_at(mut self, when: SystemTime) -> Self {
        self.expiry = Expiry::At(when);
        self
    }

    /// Signs the claims with HS256 and `secret`, giving a compact JWT.
    ///
    /// # Errors
    ///
    /// [`JwtConfigError::Signing`] if the system clock is before 1970 or the expiry is out of
    /// range.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAuthenticator};
    ///
    /// let secret = "a-dev-secret-of-at-least-32-bytes!";
    /// let token = Claims::new("u-1").sign_hs256(secret)?;
    /// assert!(token.starts_with("eyJ")); // base64url of `{"`
    /// assert_eq!(token.split('.').count(), 3);
    /// assert!(JwtAuthenticator::hs256(secret).verify(&token).is_ok());
    /// assert!(JwtAuthenticator::hs256("another secret").verify(&token).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sign_hs256(&self, secret: impl AsRef<[u8]>) -> Result<String, JwtConfigError> {
        self.sign(
            JwtAlgorithm::Hs256,
            &EncodingKey::from_secret(secret.as_ref()),
        )
    }

    /// Signs the claims with RS256 and the RSA private key `private_key_pem`
    /// (`-----BEGIN PRIVATE KEY-----` or `-----BEGIN RSA PRIVATE KEY-----`).
    ///
    /// # Errors
    ///
    /// [`JwtConfigError::InvalidKey`] if `private_key_pem` is not an RSA private key;
    /// [`JwtConfigError::Signing`] as for [`sign_hs256`](Self::sign_hs256).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAlgorithm, JwtAuthenticator, JwtConfigError};
    ///
    /// # const RSA_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
    /// # MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC1t4iyS7DjO6l4
    /// # YiVN6VK5elIq72aF4BTdPp3ZaS3s3kPo5BnkYEoUytk2mwJ7u3NNv7cGnac6M4tX
    /// # FslDjh8QiwijnwT40cy+uB+2jY5AeQG3bR0S+mTLp4kLo7+2HzO4Kjql5YpIQF0a
    /// # k99NBqBx74Q7qx5+yEI1F3r7+Ae4jVsGY3oUNwRs1b6ihvIBheoVJ1bchREv/E8K
    /// # j9WoVKkp+E5rYFKZYodTf3BalTGwNFQ5BETwo2CLSHX7iLdoq++SCNx0M+jZOqsv
    /// # 8Sorv6lp4h+SmwpAei/U1wEB5ZDLNOtKdG7+L7n0PuXt5UPM4zuwhTGFHzpxCq4d
    /// # 3KDRk7iTAgMBAAECggEAOChbrOo6ZMcz5PnD2JOiVqLIUO+CSh5JpGQtCRr5r+my
    /// # p/8SR2NAkbNstHTsLAvuotj8OaWwIAr85XGryl5aGFU3WsWSlkjUEx644kRV8XPU
    /// # BXlJkmtiihOhBUFaRnDXHXOjg1BwT0rg2w1W5amGHR/tyDjmaD0ARQMYJVVuIWi8
    /// # kHoBldyegRZavKXsOCgQQOBf0XmuKa1UXKuoyMqRAXWqtyiS5rXRZH22FAi7faiD
    /// # a6TK8WOUgBXAPOy3iwwOmz0B8yQZehCnnYGM05tsK726wgYFiwljVSrQcAbHT6oM
    /// # dpkipWXy12jAB94R+xnAwA8Mp9jiNFTqBYfJw5HmXQKBgQDf7Gk/x5cTkjA9qm7s
    /// # E91/esA3Scx8SEMIcPUZYSlTcJld5BIcnpwjI1GVMGILx1qsg09kAaROM12D4KzD
    /// # Q/SNUb2NRoppjkgqPLzkYJnYPoWpwCsOrQtkDbU5XXZyZTOuA0f24IwLLJYny9D2
    /// # iQs16d4nvZXyL6WFeLG2I1mqvwKBgQDPv1lpMDOc+ursehEZJWosQ7LVTboLzzpY
    /// # tN5B/rasEo+1PmocyO759z+JzkREs5Rrb1nNMbpU4JA4M/ZfCoaClhkTjfoHuX5E
    /// # EyLzsJafqd/Eys/mIB1SUkgTvGI8ChvoX+vR5VJUe6lH2TWqnTEKSNHQmsp4qCR7
    /// # mdAtoqWLLQKBgDuEL5lHKG2IPpA1W5Qd15KJgstvLw2de0ukElEzlPNbizf8ZZ/7
    /// # vE5OleGMYZL14rDVmeVf1lb+qg1iSyj/R+HD5xjEtgdGTQIE8MPWtS1XuNkcfZVC
    /// # AzQNvKxJnjDbmzfWIWuJ1U8nA6YCM0FDvZoP1f9EEbW0Wk82fC2ICc4rAoGANjI8
    /// # GBXsERLggIqjtUSuexe6Kq1ZUMVh+kxNAzh43VEGTokW06WTuoBHAiNeafHTUWe+
    /// # LKrBam0fEppztn2fc6fGqPRL+wHoL8gyQRKbaNG/P66NKALOw3AVv5hQpEsa1rdX
    /// # ZO2HWeTc15KRzo2tgnpWyi3njiyHP/tzdMROnY0CgYB6HG/GSgfQpUSG5iMrXfwV
    /// # 5/qDL4da5jGONn0h2n9lWZIOtzJJqYU5KMmhPkFGEDRJj5CiU12lGqxaRe38m6ez
    /// # 6Jp9K38h7ECOcK0p4JU/Mt7X2TnUX6FjbdkyhkFZ1KriWkSIJ8JLw0zjLyvrHbVI
    /// # XWk42bRYPy006PoSw9NoKg==
    /// # -----END PRIVATE KEY-----
    /// # ";
    /// # const RSA_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
    /// # MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtbeIskuw4zupeGIlTelS
    /// # uXpSKu9mheAU3T6d2Wkt7N5D6OQZ5GBKFMrZNpsCe7tzTb+3Bp2nOjOLVxbJQ44f
    /// # EIsIo58E+NHMvrgfto2OQHkBt20dEvpky6eJC6O/th8zuCo6peWKSEBdGpPfTQag
    /// # ce+EO6sefshCNRd6+/gHuI1bBmN6FDcEbNW+oobyAYXqFSdW3IURL/xPCo/VqFSp
    /// # KfhOa2BSmWKHU39wWpUxsDRUOQRE8KNgi0h1+4i3aKvvkgjcdDPo2TqrL/EqK7+p
    /// # aeIfkpsKQHov1NcBAeWQyzTrSnRu/i+59D7l7eVDzOM7sIUxhR86cQquHdyg0ZO4
    /// # kwIDAQAB
    /// # -----END PUBLIC KEY-----
    /// # ";
    /// let token = Claims::new("u-1").sign_rs256_pem(RSA_PRIVATE_PEM.as_bytes())?;
    /// let auth = JwtAuthenticator::rs256_pem(RSA_PUBLIC_PEM.as_bytes())?;
    /// assert_eq!(auth.verify(&token)?.id, "u-1");
    ///
    /// // The public key cannot sign.
    /// let err = Claims::new("u-1").sign_rs256_pem(RSA_PUBLIC_PEM.as_bytes()).unwrap_err();
    /// assert!(matches!(err, JwtConfigError::InvalidKey { algorithm: JwtAlgorithm::Rs256, .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sign_rs256_pem(&self, private_key_pem: &[u8]) -> Result<String, JwtConfigError> {
        const ALG: JwtAlgorithm = JwtAlgorithm::Rs256;
        ensure_crypto_provider();
        let key = EncodingKey::from_rsa_pem(private_key_pem)
            .ok()
            // jsonwebtoken also accepts public keys here; they would only fail when signing.
            .filter(|key| {
                (RUST_CRYPTO.key_utils.rsa_pub_components_from_private_key)(key.as_bytes()).is_ok()
            })
            .ok_or_else(|| {
                JwtConfigError::key(
                    ALG,
                    "not a PEM-encoded RSA private key (`PRIVATE KEY` or `RSA PRIVATE KEY`)",
                )
            })?;
        self.sign(ALG, &key)
    }

    /// Signs the claims with ES256 and the P-256 private key `private_key_pem`
    /// (PKCS#8, `-----BEGIN PRIVATE KEY-----`, as `openssl genpkey` writes it).
    ///
    /// # Errors
    ///
    /// [`JwtConfigError::InvalidKey`] if `private_key_pem` is not a P-256 private key in PKCS#8;
    /// [`JwtConfigError::Signing`] as for [`sign_hs256`](Self::sign_hs256).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::jwt::{Claims, JwtAlgorithm, JwtAuthenticator, JwtConfigError};
    ///
    /// # const EC_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
    /// # MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWP3PalFfqzOdojyS
    /// # NO4HdVDTV/I4eRSivXoaVORvlp+hRANCAASqhx06MqUepHaO4sGdn3n/cjPISrbA
    /// # ceYddjgoNwlB3gXZLbE4sOqTuSqKedEOmsC7YwoI62jR7GTg6ZKY1oDT
    /// # -----END PRIVATE KEY-----
    /// # ";
    /// # const EC_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
    /// # MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqocdOjKlHqR2juLBnZ95/3IzyEq2
    /// # wHHmHXY4KDcJQd4F2S2xOLDqk7kqinnRDprAu2MKCOto0exk4OmSmNaA0w==
    /// # -----END PUBLIC KEY-----
    /// # ";
    /// let token = Claims::new("u-1").sign_es256_pem(EC_PRIVATE_PEM.as_bytes())?;
    /// let auth = JwtAuthenticator::es256_pem(EC_PUBLIC_PEM.as_bytes())?;
    /// assert_eq!(auth.verify(&token)?.id, "u-1");
    ///
    /// let err = Claims::new("u-1").sign_es256_pem(b"not a key").unwrap_err();
    /// assert!(matches!(err, JwtConfigError::InvalidKey { algorithm: JwtAlgorithm::Es256, .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sign_es256_pem(&self, private_key_pem: &[u8]) -> Result<String, JwtConfigError> {
        const ALG: JwtAlgorithm = JwtAlgorithm::Es256;
        ensure_crypto_provider();
        let key = EncodingKey::from_ec_pem(private_key_pem)
            .ok()
            .filter(|key| (RUST_CRYPTO.signer_factory)(&ALG.to_jsonwebtoken(), key).is_ok())
            .ok_or_else(|| {
                JwtConfigError::key(
                    ALG,
                    "not a PEM-encoded P-256 private key (PKCS#8 `PRIVATE KEY`)",
                )
            })?;
        self.sign(ALG, &key)
    }

    fn sign(&self, algorithm: JwtAlgorithm, key: &EncodingKey) -> Result<String, JwtConfigError> {
        ensure_crypto_provider();
        let payload = self.payload(SystemTime::now())?;
        jsonwebtoken::encode(&Header::new(algorithm.to_jsonwebtoken()), &payload, key).map_err(
            |err| match err.kind() {
                ErrorKind::InvalidKeyFormat
                | ErrorKind::InvalidRsaKey(_)
                | ErrorKind::InvalidEcdsaKey
                | ErrorKind::RsaFailedSigning => {
                    JwtConfigError::key(algorithm, "the key was refused by the signer")
                }
                _ => JwtConfigError::Signing(err.to_string()),
            },
        )
    }

    /// The JSON payload, with `iat` at `now`.
    fn payload(&self, now: SystemTime) -> Result<Value, JwtConfigError> {
        let since_epoch = |at: SystemTime| {
            at.duration_since(UNIX_EPOCH)
                .map(|elapsed| elapsed.as_secs())
                .map_err(|_| JwtConfigError::Signing("time before 1970".into()))
        };
        let issued_at = since_epoch(now)?;
        let expires_at = match self.expiry {
            Expiry::In(lifetime) => now
                .checked_add(lifetime)
                .ok_or_else(|| JwtConfigError::Signing("lifetime out of range".into()))
                .and_then(since_epoch)?,
            Expiry::At(when) => since_epoch(when)?,
        };

        let mut claims = Map::new();
        claims.insert("sub".into(), self.sub.clone().into());
        if let Some(username) = &self.username {
            claims.insert("preferred_username".into(), username.clone().into());
        }
        if let Some(issuer) = &self.issuer {
            claims.insert("iss".into(), issuer.clone().into());
        }
        match self.audiences.as_slice() {
            [] => {}
            [one] => {
                claims.insert("aud".into(), one.clone().into());
            }
            many => {
                claims.insert("aud".into(), many.to_vec().into());
            }
        }
        claims.insert("iat".into(), issued_at.into());
        claims.insert("exp".into(), expires_at.into());
        if !self.realm_roles.is_empty() {
            claims.insert(
                "realm_access".into(),
                serde_json::json!({ "roles": self.realm_roles }),
            );
        }
        if !self.client_roles.is_empty() {
            let clients: Map<String, Value> = self
                .client_roles
                .iter()
                .map(|(client, roles)| (client.clone(), serde_json::json!({ "roles": roles })))
                .collect();
            claims.insert("resource_access".into(), clients.into());
        }
        Ok(Value::Object(claims))
    }
}

#[cfg(test)]
mod tests {
    //! RSA and EC test keys were generated once with OpenSSL 3.0
    //! (`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`,
    //! `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`, `openssl pkey -pubout`)
    //! and are embedded below. They protect nothing.

    use super::*;
    use serde_json::json;

    const SECRET: &str = "test-secret-0123456789abcdef0123456789";

    const RSA_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC1t4iyS7DjO6l4
YiVN6VK5elIq72aF4BTdPp3ZaS3s3kPo5BnkYEoUytk2mwJ7u3NNv7cGnac6M4tX
FslDjh8QiwijnwT40cy+uB+2jY5AeQG3bR0S+mTLp4kLo7+2HzO4Kjql5YpIQF0a
k99NBqBx74Q7qx5+yEI1F3r7+Ae4jVsGY3oUNwRs1b6ihvIBheoVJ1bchREv/E8K
j9WoVKkp+E5rYFKZYodTf3BalTGwNFQ5BETwo2CLSHX7iLdoq++SCNx0M+jZOqsv
8Sorv6lp4h+SmwpAei/U1wEB5ZDLNOtKdG7+L7n0PuXt5UPM4zuwhTGFHzpxCq4d
3KDRk7iTAgMBAAECggEAOChbrOo6ZMcz5PnD2JOiVqLIUO+CSh5JpGQtCRr5r+my
p/8SR2NAkbNstHTsLAvuotj8OaWwIAr85XGryl5aGFU3WsWSlkjUEx644kRV8XPU
BXlJkmtiihOhBUFaRnDXHXOjg1BwT0rg2w1W5amGHR/tyDjmaD0ARQMYJVVuIWi8
kHoBldyegRZavKXsOCgQQOBf0XmuKa1UXKuoyMqRAXWqtyiS5rXRZH22FAi7faiD
a6TK8WOUgBXAPOy3iwwOmz0B8yQZehCnnYGM05tsK726wgYFiwljVSrQcAbHT6oM
dpkipWXy12jAB94R+xnAwA8Mp9jiNFTqBYfJw5HmXQKBgQDf7Gk/x5cTkjA9qm7s
E91/esA3Scx8SEMIcPUZYSlTcJld5BIcnpwjI1GVMGILx1qsg09kAaROM12D4KzD
Q/SNUb2NRoppjkgqPLzkYJnYPoWpwCsOrQtkDbU5XXZyZTOuA0f24IwLLJYny9D2
iQs16d4nvZXyL6WFeLG2I1mqvwKBgQDPv1lpMDOc+ursehEZJWosQ7LVTboLzzpY
tN5B/rasEo+1PmocyO759z+JzkREs5Rrb1nNMbpU4JA4M/ZfCoaClhkTjfoHuX5E
EyLzsJafqd/Eys/mIB1SUkgTvGI8ChvoX+vR5VJUe6lH2TWqnTEKSNHQmsp4qCR7
mdAtoqWLLQKBgDuEL5lHKG2IPpA1W5Qd15KJgstvLw2de0ukElEzlPNbizf8ZZ/7
vE5OleGMYZL14rDVmeVf1lb+qg1iSyj/R+HD5xjEtgdGTQIE8MPWtS1XuNkcfZVC
AzQNvKxJnjDbmzfWIWuJ1U8nA6YCM0FDvZoP1f9EEbW0Wk82fC2ICc4rAoGANjI8
GBXsERLggIqjtUSuexe6Kq1ZUMVh+kxNAzh43VEGTokW06WTuoBHAiNeafHTUWe+
LKrBam0fEppztn2fc6fGqPRL+wHoL8gyQRKbaNG/P66NKALOw3AVv5hQpEsa1rdX
ZO2HWeTc15KRzo2tgnpWyi3njiyHP/tzdMROnY0CgYB6HG/GSgfQpUSG5iMrXfwV
5/qDL4da5jGONn0h2n9lWZIOtzJJqYU5KMmhPkFGEDRJj5CiU12lGqxaRe38m6ez
6Jp9K38h7ECOcK0p4JU/Mt7X2TnUX6FjbdkyhkFZ1KriWkSIJ8JLw0zjLyvrHbVI
XWk42bRYPy006PoSw9NoKg==
-----END PRIVATE KEY-----
";

    const RSA_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtbeIskuw4zupeGIlTelS
uXpSKu9mheAU3T6d2Wkt7N5D6OQZ5GBKFMrZNpsCe7tzTb+3Bp2nOjOLVxbJQ44f
EIsIo58E+NHMvrgfto2OQHkBt20dEvpky6eJC6O/th8zuCo6peWKSEBdGpPfTQag
ce+EO6sefshCNRd6+/gHuI1bBmN6FDcEbNW+oobyAYXqFSdW3IURL/xPCo/VqFSp
KfhOa2BSmWKHU39wWpUxsDRUOQRE8KNgi0h1+4i3aKvvkgjcdDPo2TqrL/EqK7+p
aeIfkpsKQHov1NcBAeWQyzTrSnRu/i+59D7l7eVDzOM7sIUxhR86cQquHdyg0ZO4
kwIDAQAB
-----END PUBLIC KEY-----
";

    /// A 1024-bit RSA public key: too small to accept.
    const RSA_1024_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDqeVAixQhbACLnjMeMLIztFyr5
CQurnTm/bHvbXteRddlTTJdK4xaFlebr63Dpry1iruJHDxShZFhPR2rIYVNjthUJ
H2UGAsUlFnUFtaG8bVMUJAY975qKNZhoF9lVtRadxSWHkt8BHZORNci+1r6jdo1A
1TyOEfydgSCyGA6s9wIDAQAB
-----END PUBLIC KEY-----
";

    const EC_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWP3PalFfqzOdojyS
NO4HdVDTV/I4eRSivXoaVORvlp+hRANCAASqhx06MqUepHaO4sGdn3n/cjPISrbA
ceYddjgoNwlB3gXZLbE4sOqTuSqKedEOmsC7YwoI62jR7GTg6ZKY1oDT
-----END PRIVATE KEY-----
";

    const EC_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqocdOjKlHqR2juLBnZ95/3IzyEq2
wHHmHXY4KDcJQd4F2S2xOLDqk7kqinnRDprAu2MKCOto0exk4OmSmNaA0w==
-----END PUBLIC KEY-----
";

    /// Another P-256 public key, whose private half signed nothing here.
    const OTHER_EC_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGuc/4SkdXNfZOlFSJD7YsKIn/tCZ
tnpSQ4kKtZMPqmlJJhBlW0lfwlf4ecIzhK9366SmyPDT1pvTCtfJqS3SSQ==
-----END PUBLIC KEY-----
";

    /// A P-384 public key: the wrong curve for ES256.
    const P384_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEnSfWz5NHoepBbCKNwYRZ5JiyaBoR+qSs
ANADz1Ahpo18DGS/FuwZwiCkYubkoheVaYl7TUR+I73JBQeWfgM0287OQyfnSRsJ
WwmH4YNZFm5DQQx6/pxI5BlYEcqyNB69
-----END PUBLIC KEY-----
";

    fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn rejected(reason: &str) -> Result<Principal, AuthError> {
        Err(AuthError::InvalidToken(reason.to_owned()))
    }

    /// Signs an arbitrary payload with HS256 and [`SECRET`].
    fn hs256_token(payload: &Value) -> String {
        ensure_crypto_provider();
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            payload,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    /// Unpadded base64url, to hand-craft tokens jsonwebtoken refuses to produce.
    fn b64url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    }

    #[test]
    fn b64url_matches_rfc_4648_vectors() {
        assert_eq!(b64url(b"f"), "Zg");
        assert_eq!(b64url(b"fo"), "Zm8");
        assert_eq!(b64url(b"foo"), "Zm9v");
        assert_eq!(b64url(b"foob"), "Zm9vYg");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn accepts_valid_hs256_token_and_maps_sub_username_roles_exp() {
        let exp = now_secs() + 300;
        let token = hs256_token(&json!({
            "sub": "8c3f0e4e-user",
            "preferred_username": "alice",
            "exp": exp,
            "realm_access": { "roles": ["view-books", "create-book"] },
        }));

        let principal = JwtAuthenticator::hs256(SECRET).verify(&token).unwrap();

        assert_eq!(principal.id, "8c3f0e4e-user");
        assert_eq!(principal.name, "alice");
        assert_eq!(principal.roles, ["view-books", "create-book"]);
        assert_eq!(
            principal.expires_at,
            Some(UNIX_EPOCH + Duration::from_secs(exp))
        );
        assert!(!principal.is_anonymous());
    }

    #[test]
    fn names_the_principal_after_sub_when_preferred_username_is_absent_or_empty() {
        let auth = JwtAuthenticator::hs256(SECRET);
        let exp = now_secs() + 300;
        for token in [
            hs256_token(&json!({ "sub": "u-1", "exp": exp })),
            hs256_token(&json!({ "sub": "u-1", "exp": exp, "preferred_username": "" })),
            hs256_token(&json!({ "sub": "u-1", "exp": exp, "preferred_username": null })),
        ] {
            let principal = auth.verify(&token).unwrap();
            assert_eq!(principal.name, "u-1");
            assert!(principal.roles.is_empty());
        }
    }

    #[test]
    fn merges_realm_and_client_roles_without_duplicates() {
        let token = Claims::new("u-1")
            .realm_roles(["view-books", "offline_access"])
            .client_roles("books-api", ["create-book", "view-books"])
            .client_roles("admin-console", ["delete-book"])
            .client_roles("other-app", ["superuser"])
            .sign_hs256(SECRET)
            .unwrap();
        let auth = JwtAuthenticator::hs256(SECRET)
            .client_roles("books-api")
            .client_roles("admin-console")
            .client_roles("books-api");

        let principal = auth.verify(&token).unwrap();

        assert_eq!(
            principal.roles,
            ["view-books", "offline_access", "create-book", "delete-book"]
        );
    }

    #[test]
    fn ignores_realm_roles_when_disabled() {
        let token = Claims::new("u-1")
            .realm_roles(["realm-role"])
            .client_roles("books-api", ["client-role"])
            .sign_hs256(SECRET)
            .unwrap();

        let realm_off = JwtAuthenticator::hs256(SECRET).realm_roles(false);
        assert!(realm_off.verify(&token).unwrap().roles.is_empty());

        let client_only = realm_off.client_roles("books-api");
        assert_eq!(client_only.verify(&token).unwrap().roles, ["client-role"]);
    }

    #[test]
    fn grants_no_client_roles_when_the_token_has_none_for_the_client() {
        let auth = JwtAuthenticator::hs256(SECRET).client_roles("books-api");
        let exp = now_secs() + 300;
        for token in [
            hs256_token(&json!({ "sub": "u", "exp": exp })),
            hs256_token(&json!({ "sub": "u", "exp": exp, "resource_access": {} })),
            hs256_token(&json!({ "sub": "u", "exp": exp, "resource_access": { "books-api": {} } })),
        ] {
            assert!(auth.verify(&token).unwrap().roles.is_empty());
        }
    }

    #[test]
    fn rejects_malformed_role_claims() {
        let auth = JwtAuthenticator::hs256(SECRET).client_roles("books-api");
        let exp = now_secs() + 300;
        let cases = [
            (
                json!({ "sub": "u", "exp": exp, "realm_access": { "roles": "admin" } }),
                "malformed `realm_access.roles` claim",
            ),
            (
                json!({ "sub": "u", "exp": exp, "realm_access": ["admin"] }),
                "malformed `realm_access.roles` claim",
            ),
            (
                json!({ "sub": "u", "exp": exp, "resource_access": "books-api" }),
                "malformed `resource_access` claim",
            ),
            (
                json!({
                    "sub": "u", "exp": exp,
                    "resource_access": { "books-api": { "roles": 7 } },
                }),
                "malformed `resource_access.books-api.roles` claim",
            ),
        ];
        for (payload, reason) in cases {
            assert_eq!(auth.verify(&hs256_token(&payload)), rejected(reason));
        }
    }

    #[test]
    fn skips_role_entries_that_are_not_strings() {
        let token = hs256_token(&json!({
            "sub": "u", "exp": now_secs() + 300,
            "realm_access": { "roles": ["a", 1, null, "b"] },
        }));
        let principal = JwtAuthenticator::hs256(SECRET).verify(&token).unwrap();
        assert_eq!(principal.roles, ["a", "b"]);
    }

    #[test]
    fn rejects_token_signed_with_a_different_secret() {
        let token = Claims::new("u-1").sign_hs256("not the secret").unwrap();
        assert_eq!(
            JwtAuthenticator::hs256(SECRET).verify(&token),
            rejected("bad signature")
        );
    }

    #[test]
    fn rejects_token_whose_payload_was_altered() {
        let token = Claims::new("u-1")
            .realm_roles(["view-books"])
            .sign_hs256(SECRET)
            .unwrap();
        let forged_payload = b64url(
            json!({ "sub": "u-1", "exp": now_secs() + 300, "realm_access": { "roles": ["admin"] } })
                .to_string()
                .as_bytes(),
        );
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);

        assert_eq!(
            JwtAuthenticator::hs256(SECRET).verify(&forged),
            rejected("bad signature")
        );
    }

    #[test]
    fn rejects_expired_token_as_expired() {
        let token = hs256_token(&json!({ "sub": "u-1", "exp": now_secs() - 5 }));
        assert_eq!(
            JwtAuthenticator::hs256(SECRET).verify(&token),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn accepts_recently_expired_token_within_leeway() {
        let token = hs256_token(&json!({ "sub": "u-1", "exp": now_secs() - 5 }));
        let auth = JwtAuthenticator::hs256(SECRET).leeway(Duration::from_secs(30));

        assert_eq!(auth.verify(&token).unwrap().id, "u-1");
        let long_expired = hs256_token(&json!({ "sub": "u-1", "exp": now_secs() - 120 }));
        assert_eq!(auth.verify(&long_expired), Err(AuthError::Expired));
    }

    #[test]
    fn caps_leeway_at_sixty_seconds_and_reports_it_to_the_transport() {
        let auth = JwtAuthenticator::hs256(SECRET);
        assert_eq!(Authenticator::leeway(&auth), Duration::ZERO);

        let capped = auth.leeway(Duration::from_secs(3600));
        assert_eq!(Authenticator::leeway(&capped), MAX_LEEWAY);
        let expired_90s_ago = hs256_token(&json!({ "sub": "u-1", "exp": now_secs() - 90 }));
        assert_eq!(capped.verify(&expired_90s_ago), Err(AuthError::Expired));

        let fractional = JwtAuthenticator::hs256(SECRET).leeway(Duration::from_millis(2_900));
        assert_eq!(Authenticator::leeway(&fractional), Duration::from_secs(2));
    }

    #[test]
    fn rejects_token_not_valid_yet() {
        let token = hs256_token(&json!({
            "sub": "u-1", "exp": now_secs() + 600, "nbf": now_secs() + 300,
        }));
        assert_eq!(
            JwtAuthenticator::hs256(SECRET).verify(&token),
            rejected("token not valid yet (`nbf`)")
        );
    }

    #[test]
    fn rejects_wrong_or_missing_issuer_when_configured() {
        let auth = JwtAuthenticator::hs256(SECRET).issuer("https://sso.example.com/realms/books");

        let wrong = Claims::new("u-1")
            .issuer("https://evil.example.com/realms/books")
            .sign_hs256(SECRET)
            .unwrap();
        assert_eq!(auth.verify(&wrong), rejected("wrong issuer"));

        let missing = Claims::new("u-1").sign_hs256(SECRET).unwrap();
        assert_eq!(
            auth.verify(&missing),
            rejected("missing or malformed `iss` claim")
        );

        let right = Claims::new("u-1")
            .issuer("https://sso.example.com/realms/books")
            .sign_hs256(SECRET)
            .unwrap();
        assert_eq!(auth.verify(&right).unwrap().id, "u-1");
    }

    #[test]
    fn accepts_any_of_several_issuers() {
        let auth = JwtAuthenticator::hs256(SECRET).issuer("a").issuer("b");
        let token = Claims::new("u-1").issuer("b").sign_hs256(SECRET).unwrap();
        assert!(auth.verify(&token).is_ok());
    }

    #[test]
    fn rejects_wrong_or_missing_audience_when_configured() {
        let auth = JwtAuthenticator::hs256(SECRET).audience("books-api");

        let wrong = Claims::new("u-1")
            .audience("account")
            .sign_hs256(SECRET)
            .unwrap();
        assert_eq!(auth.verify(&wrong), rejected("wrong audience"));

        let missing = Claims::new("u-1").sign_hs256(SECRET).unwrap();
        assert_eq!(
            auth.verify(&missing),
            rejected("missing or malformed `aud` claim")
        );

        let listed = Claims::new("u-1")
            .audience("account")
            .audience("books-api")
            .sign_hs256(SECRET)
            .unwrap();
        assert_eq!(auth.verify(&listed).unwrap().id, "u-1");
    }

    #[test]
    fn ignores_audience_when_none_is_configured() {
        let token = Claims::new("u-1")
            .audience("account")
            .sign_hs256(SECRET)
            .unwrap();
        assert!(JwtAuthenticator::hs256(SECRET).verify(&token).is_ok());
    }

    #[test]
    fn rejects_alg_none_token() {
        let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = b64url(
            json!({ "sub": "u-1", "exp": now_secs() + 300 })
                .to_string()
                .as_bytes(),
        );
        let auth = JwtAuthenticator::hs256(SECRET);

        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            assert_eq!(
                auth.verify(&token),
                rejected("malformed token or unsupported algorithm")
            );
        }
    }

    #[test]
    fn rejects_hs256_token_on_rs256_authenticator() {
        let auth = JwtAuthenticator::rs256_pem(RSA_PUBLIC_PEM.as_bytes()).unwrap();
        // The classic confusion: the public key, which everyone knows, used as an HMAC secret.
        let token = Claims::new("u-1")
            .sign_hs256(RSA_PUBLIC_PEM.as_bytes())
            .unwrap();

        assert_eq!(
            auth.verify(&token),
            rejected("HS256 tokens are not accepted (expected RS256)")
        );
    }

    #[test]
    fn rejects_rs256_token_on_hs256_and_es256_authenticators() {
        let token = Claims::new("u-1")
            .sign_rs256_pem(RSA_PRIVATE_PEM.as_bytes())
            .unwrap();

        assert_eq!(
            JwtAuthenticator::hs256(SECRET).verify(&token),
            rejected("RS256 tokens are not accepted (expected HS256)")
        );
        assert_eq!(
            JwtAuthenticator::es256_pem(EC_PUBLIC_PEM.as_bytes())
                .unwrap()
                .verify(&token),
            rejected("RS256 tokens are not accepted (expected ES256)")
        );
    }

    #[test]
    fn rejects_other_algorithms_of_the_same_family() {
        ensure_crypto_provider();
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &json!({ "sub": "u-1", "exp": now_secs() + 300 }),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            JwtAuthenticator::hs256(SECRET).verify(&token),
            rejected("HS512 tokens are not accepted (expected HS256)")
        );
    }

    #[test]
    fn accepts_rs256_token_signed_by_the_matching_private_key() {
        let auth = JwtAuthenticator::rs256_pem(RSA_PUBLIC_PEM.as_bytes()).unwrap();
        let token = Claims::new("u-1")
            .username("alice")
            .realm_roles(["view-books"])
            .sign_rs256_pem(RSA_PRIVATE_PEM.as_bytes())
            .unwrap();

        let principal = auth.verify(&token).unwrap();
        assert_eq!(
            (principal.id.as_str(), principal.name.as_str()),
            ("u-1", "alice")
        );
        assert_eq!(principal.roles, ["view-books"]);
    }

    #[test]
    fn accepts_es256_token_and_rejects_one_checked_against_another_key() {
        let token = Claims::new("u-1")
            .sign_es256_pem(EC_PRIVATE_PEM.as_bytes())
            .unwrap();

        let auth = JwtAuthenticator::es256_pem(EC_PUBLIC_PEM.as_bytes()).unwrap();
        assert_eq!(auth.verify(&token).unwrap().id, "u-1");

        let other = JwtAuthenticator::es256_pem(OTHER_EC_PUBLIC_PEM.as_bytes()).unwrap();
        assert_eq!(other.verify(&token), rejected("bad signature"));
    }

    #[test]
    fn rejects_token_without_sub_or_exp() {
        let auth = JwtAuthenticator::hs256(SECRET);
        let exp = now_secs() + 300;
        let cases = [
            (json!({ "exp": exp }), "missing or malformed `sub` claim"),
            (json!({ "sub": "u-1" }), "missing or malformed `exp` claim"),
            (json!({ "sub": "", "exp": exp }), "empty `sub` claim"),
            (
                json!({ "sub": 42, "exp": exp }),
                "missing or malformed `sub` claim",
            ),
            (
                json!({ "sub": "u-1", "exp": "tomorrow" }),
                "missing or malformed `exp` claim",
            ),
            (
                json!({ "sub": "u-1", "exp": -5 }),
                "missing or malformed `exp` claim",
            ),
            (
                json!({ "sub": "u-1", "exp": exp, "preferred_username": 7 }),
                "malformed `preferred_username` claim",
            ),
        ];
        for (payload, reason) in cases {
            assert_eq!(
                auth.verify(&hs256_token(&payload)),
                rejected(reason),
                "{payload}"
            );
        }
    }

    #[test]
    fn rejects_malformed_tokens() {
        let auth = JwtAuthenticator::hs256(SECRET);
        let valid = Claims::new("u-1").sign_hs256(SECRET).unwrap();
        let header = valid.split('.').next().unwrap();
        let signature = valid.rsplit('.').next().unwrap();
        for token in [
            String::new(),
            "garbage".to_owned(),
            "a.b.c".to_owned(),
            format!("{valid}.extra"),
            format!(" {valid}"),
            format!("Bearer {valid}"),
        ] {
            assert!(
                matches!(auth.verify(&token), Err(AuthError::InvalidToken(_))),
                "{token:?}"
            );
        }
        // A correctly signed payload that is not a JSON object.
        let not_object = hs256_token(&json!(["sub", "u-1"]));
        assert_eq!(auth.verify(&not_object), rejected("malformed token"));
        // A payload that is not base64url.
        let bad_payload = format!("{header}.***.{signature}");
        assert!(matches!(
            auth.verify(&bad_payload),
            Err(AuthError::InvalidToken(_))
        ));
    }

    #[test]
    fn rejects_token_with_critical_header_parameters() {
        ensure_crypto_provider();
        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(vec!["exp-policy".to_owned()]);
        let token = jsonwebtoken::encode(
            &header,
            &json!({ "sub": "u-1", "exp": now_secs() + 300 }),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            JwtAuthenticator::hs256(SECRET).verify(&token),
            rejected("unsupported critical header parameters")
        );
    }

    #[test]
    fn never_echoes_the_token_in_errors() {
        let exp = now_secs() + 300;
        let alg_none = format!(
            "{}.{}.",
            b64url(br#"{"alg":"none"}"#),
            b64url(json!({ "sub": "u-1", "exp": exp }).to_string().as_bytes())
        );
        let tokens = [
            Claims::new("secret-user-id").sign_hs256("wrong").unwrap(),
            Claims::new("secret-user-id")
                .expires_at(SystemTime::now() - Duration::from_secs(600))
                .sign_hs256(SECRET)
                .unwrap(),
            Claims::new("secret-user-id")
                .issuer("secret-issuer")
                .audience("secret-audience")
                .sign_hs256(SECRET)
                .unwrap(),
            hs256_token(&json!({ "sub": "secret-user-id", "exp": "secret-exp" })),
            hs256_token(
                &json!({ "sub": "secret-user-id", "exp": exp, "realm_access": "secret-roles" }),
            ),
            alg_none,
            "secret.token.value".to_owned(),
            "secret-token-without-dots".to_owned(),
        ];
        let auth = JwtAuthenticator::hs256(SECRET)
            .issuer("https://sso.example.com")
            .audience("books-api");
        for token in &tokens {
            let err = auth.verify(token).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("secret"), "{shown}");
            for part in token.split('.').filter(|part| part.len() > 10) {
                assert!(!shown.contains(part), "{shown} contains {part}");
            }
        }
    }

    #[tokio::test]
    async fn authenticate_resolves_to_the_verify_result() {
        let auth = JwtAuthenticator::hs256(SECRET);
        let token = Claims::new("u-1").sign_hs256(SECRET).unwrap();
        assert_eq!(auth.authenticate(&token).await, auth.verify(&token));
        assert_eq!(
            auth.authenticate("garbage").await,
            rejected("malformed token or unsupported algorithm")
        );
    }

    #[test]
    fn rs256_pem_rejects_keys_it_cannot_verify_with() {
        let cases = [
            (
                "not a key".as_bytes(),
                "not a PEM-encoded RSA public key (`PUBLIC KEY` or `RSA PUBLIC KEY`)",
            ),
            (
                EC_PUBLIC_PEM.as_bytes(),
                "not a PEM-encoded RSA public key (`PUBLIC KEY` or `RSA PUBLIC KEY`)",
            ),
            (
                RSA_PRIVATE_PEM.as_bytes(),
                "this is a private key; pass the public key",
            ),
            (
                RSA_1024_PUBLIC_PEM.as_bytes(),
                "the modulus has 1024 bits; at least 2048 are required",
            ),
        ];
        for (pem, reason) in cases {
            assert_eq!(
                JwtAuthenticator::rs256_pem(pem).unwrap_err(),
                JwtConfigError::InvalidKey {
                    algorithm: JwtAlgorithm::Rs256,
                    reason: reason.to_owned(),
                }
            );
        }
    }

    #[test]
    fn es256_pem_rejects_keys_it_cannot_verify_with() {
        for pem in ["not a key", RSA_PUBLIC_PEM, EC_PRIVATE_PEM, P384_PUBLIC_PEM] {
            let err = JwtAuthenticator::es256_pem(pem.as_bytes()).unwrap_err();
            assert_eq!(
                err.to_string(),
                "invalid ES256 key: not a PEM-encoded P-256 public key (`PUBLIC KEY`)"
            );
        }
    }

    #[test]
    fn signing_rejects_keys_of_the_wrong_kind() {
        let claims = Claims::new("u-1");
        for pem in [RSA_PUBLIC_PEM, EC_PRIVATE_PEM, "not a key"] {
            assert!(matches!(
                claims.sign_rs256_pem(pem.as_bytes()),
                Err(JwtConfigError::InvalidKey {
                    algorithm: JwtAlgorithm::Rs256,
                    ..
                })
            ));
        }
        for pem in [EC_PUBLIC_PEM, RSA_PRIVATE_PEM, "not a key"] {
            assert!(matches!(
                claims.sign_es256_pem(pem.as_bytes()),
                Err(JwtConfigError::InvalidKey {
                    algorithm: JwtAlgorithm::Es256,
                    ..
                })
            ));
        }
    }

    #[test]
    fn claims_write_keycloak_shaped_payload() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let payload = Claims::new("u-1")
            .username("alice")
            .realm_roles(["a"])
            .realm_roles(["b"])
            .client_roles("books-api", ["c"])
            .client_roles("books-api", ["d"])
            .issuer("iss")
            .audience("aud")
            .expires_in(Duration::from_secs(60))
            .payload(now)
            .unwrap();
        assert_eq!(
            payload,
            json!({
                "sub": "u-1",
                "preferred_username": "alice",
                "iss": "iss",
                "aud": "aud",
                "iat": 1_700_000_000u64,
                "exp": 1_700_000_060u64,
                "realm_access": { "roles": ["a", "b"] },
                "resource_access": { "books-api": { "roles": ["c", "d"] } },
            })
        );

        let defaults = Claims::new("u-1").payload(now).unwrap();
        assert_eq!(defaults["exp"], json!(1_700_000_000u64 + 3600));
        assert!(defaults.get("realm_access").is_none());
        assert!(defaults.get("aud").is_none());

        let two_audiences = Claims::new("u")
            .audience("x")
            .audience("y")
            .payload(now)
            .unwrap();
        assert_eq!(two_audiences["aud"], json!(["x", "y"]));
    }

    #[test]
    fn claims_refuse_times_before_the_epoch() {
        let before_epoch = UNIX_EPOCH - Duration::from_secs(1);
        assert!(matches!(
            Claims::new("u").expires_at(before_epoch).sign_hs256(SECRET),
            Err(JwtConfigError::Signing(_))
        ));
        assert!(matches!(
            Claims::new("u")
                .expires_in(Duration::MAX)
                .sign_hs256(SECRET),
            Err(JwtConfigError::Signing(_))
        ));
    }

    #[test]
    fn debug_output_redacts_the_key() {
        let shown = format!("{:?}", JwtAuthenticator::hs256(SECRET).issuer("iss"));
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(
            shown.contains("<redacted>") && shown.contains("iss"),
            "{shown}"
        );
    }

    #[test]
    fn modulus_bits_counts_significant_bits() {
        assert_eq!(modulus_bits(&[]), 0);
        assert_eq!(modulus_bits(&[0, 0]), 0);
        assert_eq!(modulus_bits(&[1]), 1);
        assert_eq!(modulus_bits(&[0, 0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0x7f; 256]), 2047);
    }
}
