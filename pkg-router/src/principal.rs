//! The caller's identity: [`Principal`].

use std::time::SystemTime;

/// Who sent a request: the identity an authenticator derived from the connection's token.
///
/// Role checks ([`#[pkg_handler(roles = [...])]`](crate::pkg_handler)) look at
/// [`roles`](Self::roles). Handlers receive the principal as an argument (`principal: Principal`
/// or `&`-free `Arc` clones are cheap: the router hands out a clone of an `Arc`-backed value).
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
    pub fn anonymous() -> Self {
        Self {
            id: String::new(),
            name: "anonymous".to_owned(),
            roles: Vec::new(),
            expires_at: None,
            anonymous: true,
        }
    }

    /// Adds roles.
    #[must_use]
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Sets the expiry.
    #[must_use]
    pub fn with_expiry(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Whether this is the anonymous caller.
    pub fn is_anonymous(&self) -> bool {
        self.anonymous
    }

    /// Whether the principal holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the principal holds every one of `roles` (an empty list is always satisfied).
    pub fn has_all_roles(&self, roles: &[&str]) -> bool {
        roles.iter().all(|r| self.has_role(r))
    }

    /// The roles of `required` that the principal lacks, in the order given.
    pub fn missing_roles<'r>(&self, required: &[&'r str]) -> Vec<&'r str> {
        required
            .iter()
            .copied()
            .filter(|r| !self.has_role(r))
            .collect()
    }
}
