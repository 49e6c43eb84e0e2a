//! [`JwtAuthenticator`]: verifies bearer tokens and hands their claims to [`keycloak`](super::keycloak).

use super::{JwtAlgorithm, JwtConfigError, keycloak, keys};
use crate::principal::Principal;
use crate::transport::{AuthError, AuthFuture, Authenticator};
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

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
pub const MAX_LEEWAY: Duration = crate::principal::MAX_LEEWAY;

/// An [`Authenticator`] that verifies signed JWTs and maps their claims to a [`Principal`].
///
/// Build it with [`hs256`](Self::hs256), [`rs256_pem`](Self::rs256_pem) or
/// [`es256_pem`](Self::es256_pem), then narrow it with the builder methods
/// ([`issuer`](Self::issuer), [`audience`](Self::audience), [`leeway`](Self::leeway),
/// [`realm_roles`](Self::realm_roles), [`client_roles`](Self::client_roles)). The
/// [module docs](super) list the claims it reads and the checks it makes.
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
    /// fewer than [`MIN_RSA_BITS`](super::MIN_RSA_BITS) bits.
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
        Ok(Self::with_key(JwtAlgorithm::Rs256, keys::rsa_public(pem)?))
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
        Ok(Self::with_key(JwtAlgorithm::Es256, keys::ec_public(pem)?))
    }

    fn with_key(algorithm: JwtAlgorithm, key: DecodingKey) -> Self {
        keys::ensure_crypto_provider();
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
    /// [module docs](super)).
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
        keycloak::principal(&claims, self.realm_roles, &self.clients)
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

pub(super) fn invalid(reason: impl Into<String>) -> AuthError {
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
