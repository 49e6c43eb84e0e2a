//! [`Claims`]: mints tokens, for tests, development tools and services that issue their own.

use super::{JwtAlgorithm, JwtConfigError, keys};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
/// It writes the claims [`JwtAuthenticator`](super::JwtAuthenticator) reads (`sub`, `preferred_username`,
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

    /// Claims for the subject `sub` (the user id, [`Principal::id`](crate::Principal::id)), with no roles.
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

    /// Sets `preferred_username` ([`Principal::name`](crate::Principal::name); the subject when unset).
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
        self.sign(JwtAlgorithm::Rs256, &keys::rsa_private(private_key_pem)?)
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
        self.sign(JwtAlgorithm::Es256, &keys::ec_private(private_key_pem)?)
    }

    fn sign(&self, algorithm: JwtAlgorithm, key: &EncodingKey) -> Result<String, JwtConfigError> {
        keys::ensure_crypto_provider();
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
    pub(super) fn payload(&self, now: SystemTime) -> Result<Value, JwtConfigError> {
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
