//! The caller's identity: [`Principal`].

use std::time::{Duration, SystemTime};

/// The largest clock-skew allowance honoured on a principal's
/// [`expires_at`](Principal::expires_at) ([protocol §6.5](crate::protocol#65-token-expiry)).
///
/// Public as `pkg_router::jwt::MAX_LEEWAY`; a larger allowance would keep stolen, expired tokens
/// usable for too long.
#[cfg_attr(not(any(feature = "jwt", feature = "transport")), allow(dead_code))]
pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(60);

/// The role rule ([protocol §4.2](crate::protocol#42-roles)): the roles of `required` missing
/// from `granted`, in the order required. Every role must be granted (ALL-of), so none missing
/// means allowed; an empty `required` (a public handler) is always satisfied.
pub(crate) fn missing_roles<R: AsRef<str>>(
    granted: &[String],
    required: impl IntoIterator<Item = R>,
) -> impl Iterator<Item = R> {
    required
        .into_iter()
        .filter(|role| !granted.iter().any(|held| held == role.as_ref()))
}

/// Whether `granted` holds every role of `required` (see [`missing_roles`]).
pub(crate) fn holds_all_roles<R: AsRef<str>>(
    granted: &[String],
    required: impl IntoIterator<Item = R>,
) -> bool {
    missing_roles(granted, required).next().is_none()
}

/// Who sent a request: the identity an authenticator derived from the connection's token.
///
/// Role checks ([`#[pkg_handler(roles = [...])]`](crate::pkg_handler)) look at
/// [`roles`](Self::roles). Handlers receive the principal as an argument: `Principal` is a copy
/// of it, `Arc<Principal>` a cheap shared reference (prefer it when the handler only reads).
///
/// # Examples
///
/// ```
/// use pkg_router::Principal;
///
/// let alice = Principal::new("u-1", "alice").with_roles(["view-books", "create-book"]);
/// assert!(alice.has_role("view-books"));
/// assert!(alice.has_all_roles(&["view-books", "create-book"]));
/// assert!(!alice.has_all_roles(&["view-books", "admin"]));
///
/// let nobody = Principal::anonymous();
/// assert!(nobody.is_anonymous());
/// assert!(nobody.has_all_roles(&[])); // public handlers accept everyone
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Stable user id (the token's `sub`); empty for an anonymous caller.
    pub id: String,
    /// Human-readable name (the token's `preferred_username`).
    pub name: String,
    /// Granted roles.
    pub roles: Vec<String>,
    /// When the credentials expire, if they do.
    pub expires_at: Option<SystemTime>,
    anonymous: bool,
}

impl Principal {
    /// An authenticated principal with no roles yet.
    ///
    /// Authenticators build one per connection; tests build them to call handlers as a given
    /// user ([`TestRouter::as_principal`](crate::testing::TestRouter::as_principal)).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Principal;
    ///
    /// let ann = Principal::new("u-1", "ann");
    /// assert_eq!((ann.id.as_str(), ann.name.as_str()), ("u-1", "ann"));
    /// assert!(ann.roles.is_empty());
    /// assert!(!ann.is_anonymous());
    /// ```
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            roles: Vec::new(),
            expires_at: None,
            anonymous: false,
        }
    }

    /// The caller of a connection that did not authenticate: no id, no roles, so only public
    /// handlers accept it.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Principal;
    ///
    /// let nobody = Principal::anonymous();
    /// assert!(nobody.is_anonymous());
    /// assert_eq!((nobody.id.as_str(), nobody.name.as_str()), ("", "anonymous"));
    /// assert!(!nobody.has_role("view-books"));
    /// ```
    pub fn anonymous() -> Self {
        Self {
            id: String::new(),
            name: "anonymous".to_owned(),
            roles: Vec::new(),
            expires_at: None,
            anonymous: true,
        }
    }

    /// Adds roles (to those it already holds).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Principal;
    ///
    /// let ann = Principal::new("u-1", "ann")
    ///     .with_roles(["view-books"])
    ///     .with_roles(vec![String::from("create-book")]);
    /// assert_eq!(ann.roles, ["view-books", "create-book"]);
    /// ```
    #[must_use]
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Sets the expiry: when it passes, the transport closes the connection with 4001.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Principal;
    /// use std::time::{Duration, SystemTime};
    ///
    /// let at = SystemTime::now() + Duration::from_secs(300);
    /// let ann = Principal::new("u-1", "ann").with_expiry(at);
    /// assert_eq!(ann.expires_at, Some(at));
    /// assert_eq!(Principal::new("u-2", "bob").expires_at, None); // never expires
    /// ```
    #[must_use]
    pub fn with_expiry(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Whether this is the anonymous caller.
    ///
    /// An authenticated principal with no roles is not anonymous.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Principal;
    ///
    /// assert!(Principal::anonymous().is_anonymous());
    /// assert!(!Principal::new("u-1", "ann").is_anonymous());
    /// assert!(!Principal::new("", "").is_anonymous());
    /// ```
    pub fn is_anonymous(&self) -> bool {
        self.anonymous
    }

    /// Whether the principal holds `role` (exact, case-sensitive match).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Principal;
    ///
    /// let ann = Principal::new("u-1", "ann").with_roles(["view-books"]);
    /// assert!(ann.has_role("view-books"));
    /// assert!(!ann.has_role("View-Books"));
    /// ```
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the principal holds every one of `roles` (an empty list is always satisfied).
    ///
    /// The check the router makes before a handler with `roles = [...]` runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Principal;
    ///
    /// let ann = Principal::new("u-1", "ann").with_roles(["delete-book"]);
    /// assert!(ann.has_all_roles(&["delete-book"]));
    /// assert!(!ann.has_all_roles(&["delete-book", "admin"]));
    /// assert!(ann.has_all_roles(&[]));
    /// ```
    pub fn has_all_roles(&self, roles: &[&str]) -> bool {
        holds_all_roles(&self.roles, roles)
    }

    /// The roles of `required` that the principal lacks, in the order given.
    ///
    /// What a denial reports in `details.missing_roles`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Principal;
    ///
    /// let ann = Principal::new("u-1", "ann").with_roles(["delete-book"]);
    /// assert_eq!(ann.missing_roles(&["admin", "delete-book", "audit"]), ["admin", "audit"]);
    /// assert!(ann.missing_roles(&["delete-book"]).is_empty());
    /// ```
    pub fn missing_roles<'r>(&self, required: &[&'r str]) -> Vec<&'r str> {
        missing_roles(&self.roles, required.iter().copied()).collect()
    }
}
