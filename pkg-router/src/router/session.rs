use crate::principal::Principal;
use crate::state::Extensions;
use std::sync::Arc;

/// Who is calling and over which connection: what a transport holds per connection and passes
/// with every request.
///
/// # Examples
///
/// ```
/// use pkg_router::{Extensions, Principal, Session};
///
/// let session = Session::new(Principal::new("u1", "ann").with_roles(["view-books"]))
///     .with_extensions(Extensions::new().with(42u64));
/// assert_eq!(session.principal().name, "ann");
/// assert!(Session::anonymous().principal().is_anonymous());
/// ```
#[derive(Clone, Debug)]
pub struct Session {
    principal: Arc<Principal>,
    extensions: Extensions,
}

impl Session {
    /// A session for `principal`.
    pub fn new(principal: impl Into<Arc<Principal>>) -> Self {
        Self {
            principal: principal.into(),
            extensions: Extensions::new(),
        }
    }

    /// A session of the anonymous caller (public handlers only).
    pub fn anonymous() -> Self {
        Self::new(Principal::anonymous())
    }

    /// Attaches per-connection values that handlers read with [`Extension<T>`](crate::Extension).
    #[must_use]
    pub fn with_extensions(mut self, extensions: Extensions) -> Self {
        self.extensions = extensions;
        self
    }

    /// The caller.
    pub fn principal(&self) -> &Arc<Principal> {
        &self.principal
    }

    /// The connection's extensions.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }
}
