//! RSA and EC test keys were generated once with OpenSSL 3.0
//! (`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`,
//! `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`, `openssl pkey -pubout`)
//! and are embedded below. They protect nothing.

use super::keys::{ensure_crypto_provider, modulus_bits};
use super::*;
use crate::principal::Principal;
use crate::transport::{AuthError, Authenticator};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
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
