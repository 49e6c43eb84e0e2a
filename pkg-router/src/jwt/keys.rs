//! Loading and checking keys: the PEM a constructor or a `sign_*` method is given becomes a
//! jsonwebtoken key only if it can do its job, so a bad key fails at startup, not at every token.

use super::{JwtAlgorithm, JwtConfigError};
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER as RUST_CRYPTO;
use jsonwebtoken::{DecodingKey, DecodingKeyKind, EncodingKey};
use std::sync::Once;

/// The smallest RSA modulus, in bits, [`JwtAuthenticator::rs256_pem`](super::JwtAuthenticator::rs256_pem)
/// accepts.
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

/// Installs jsonwebtoken's `RustCrypto` backend as its process default, unless a provider is
/// installed already (see the module docs).
pub(super) fn ensure_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An `Err` means the application installed a provider first: keep it.
        let _ = CryptoProvider::install_default(&RUST_CRYPTO);
    });
}

/// An RSA public key of at least [`MIN_RSA_BITS`], for verifying RS256 tokens.
pub(super) fn rsa_public(pem: &[u8]) -> Result<DecodingKey, JwtConfigError> {
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
    let (modulus, _exponent) = match (RUST_CRYPTO.key_utils.rsa_pub_components_from_public_key)(der)
    {
        Ok(components) => components,
        // jsonwebtoken takes a private key's DER for the key: say so.
        Err(_) if (RUST_CRYPTO.key_utils.rsa_pub_components_from_private_key)(der).is_ok() => {
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
    Ok(key)
}

/// A P-256 public key, for verifying ES256 tokens.
pub(super) fn ec_public(pem: &[u8]) -> Result<DecodingKey, JwtConfigError> {
    const ALG: JwtAlgorithm = JwtAlgorithm::Es256;
    ensure_crypto_provider();
    DecodingKey::from_ec_pem(pem)
        .ok()
        // Parses the point: rejects keys on other curves now rather than at every token.
        .filter(|key| (RUST_CRYPTO.verifier_factory)(&ALG.to_jsonwebtoken(), key).is_ok())
        .ok_or_else(|| {
            JwtConfigError::key(ALG, "not a PEM-encoded P-256 public key (`PUBLIC KEY`)")
        })
}

/// An RSA private key, for signing RS256 tokens.
pub(super) fn rsa_private(pem: &[u8]) -> Result<EncodingKey, JwtConfigError> {
    const ALG: JwtAlgorithm = JwtAlgorithm::Rs256;
    ensure_crypto_provider();
    EncodingKey::from_rsa_pem(pem)
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
        })
}

/// A P-256 private key in PKCS#8, for signing ES256 tokens.
pub(super) fn ec_private(pem: &[u8]) -> Result<EncodingKey, JwtConfigError> {
    const ALG: JwtAlgorithm = JwtAlgorithm::Es256;
    ensure_crypto_provider();
    EncodingKey::from_ec_pem(pem)
        .ok()
        .filter(|key| (RUST_CRYPTO.signer_factory)(&ALG.to_jsonwebtoken(), key).is_ok())
        .ok_or_else(|| {
            JwtConfigError::key(
                ALG,
                "not a PEM-encoded P-256 private key (PKCS#8 `PRIVATE KEY`)",
            )
        })
}

/// Bit length of a big-endian unsigned integer.
pub(super) fn modulus_bits(be_bytes: &[u8]) -> usize {
    let mut significant = be_bytes.iter().skip_while(|&&byte| byte == 0);
    match significant.next() {
        Some(&top) => (8 - top.leading_zeros() as usize) + 8 * significant.count(),
        None => 0,
    }
}
