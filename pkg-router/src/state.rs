//! Type-keyed storage for application state and per-connection extensions.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A map from a type to one value of that type, shared cheaply between requests.
///
/// The router keeps application state in one ([`RouterBuilder::state`](crate::router::RouterBuilder::state),
/// read by [`State<T>`](crate::State)); a transport keeps per-connection values in another
/// ([`Extensions`], read by [`Extension<T>`](crate::Extension)).
#[derive(Clone, Default)]
pub(crate) struct TypeMap {
    values: HashMap<TypeId, (Arc<dyn Any + Send + Sync>, &'static str)>,
}

impl TypeMap {
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.values.insert(
            TypeId::of::<T>(),
            (Arc::new(value), std::any::type_name::<T>()),
        );
    }

    pub(crate) fn get<T: 'static>(&self) -> Option<&T> {
        self.values
            .get(&TypeId::of::<T>())
            .and_then(|(value, _)| value.downcast_ref::<T>())
    }

    pub(crate) fn contains(&self, id: TypeId) -> bool {
        self.values.contains_key(&id)
    }

    fn type_names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.values.values().map(|(_, name)| *name).collect();
        names.sort_unstable();
        names
    }
}

impl fmt::Debug for TypeMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.type_names()).finish()
    }
}

/// Values a transport attaches to every request of one connection (the connection's id, a
/// handle for sending to it, ...), read by handlers through [`Extension<T>`](crate::Extension).
///
/// Cloning is cheap: the map is shared.
///
/// # Examples
///
/// ```
/// use pkg_router::router::Extensions;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct ConnectionId(u64);
///
/// let ext = Extensions::new().with(ConnectionId(7));
/// assert_eq!(ext.get::<ConnectionId>(), Some(&ConnectionId(7)));
/// assert_eq!(ext.get::<String>(), None);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Extensions {
    map: Arc<TypeMap>,
}

impl Extensions {
    /// An empty set.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::router::Extensions;
    ///
    /// let ext = Extensions::new();
    /// assert_eq!(ext.get::<u64>(), None);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the value of type `T`.
    ///
    /// Values are keyed by type, so wrap plain types in a newtype to keep them apart.
    /// Clones made before the call are not affected.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::router::Extensions;
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct Tenant(&'static str);
    ///
    /// let before = Extensions::new().with(Tenant("acme"));
    /// let after = before.clone().with(Tenant("globex")); // replaces, in the clone only
    /// assert_eq!(before.get::<Tenant>(), Some(&Tenant("acme")));
    /// assert_eq!(after.get::<Tenant>(), Some(&Tenant("globex")));
    /// ```
    #[must_use]
    pub fn with<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        Arc::make_mut(&mut self.map).insert(value);
        self
    }

    /// The value of type `T`, if present.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::router::Extensions;
    ///
    /// let ext = Extensions::new().with(7u64).with("books-web");
    /// assert_eq!(ext.get::<u64>(), Some(&7));
    /// assert_eq!(ext.get::<&str>(), Some(&"books-web"));
    /// assert_eq!(ext.get::<u32>(), None); // keyed by exact type
    /// ```
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.map.get::<T>()
    }
}
