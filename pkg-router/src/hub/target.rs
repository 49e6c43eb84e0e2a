//! Who a push or a close reaches: a [`Target`], and the [`Audience`] that sends to it.

use super::{CloseReason, Hub, HubEvent, Push};
use crate::error::HandlerError;
use serde::Serialize;
use std::sync::Arc;

/// Which connections a push (or a close) reaches.
///
/// A target describes connections by what they are, not by a list: every node of a cluster
/// resolves it against its own connections, so a [`BroadcastBackend`](super::BroadcastBackend)
/// carries the target itself and handlers never change when nodes are added.
///
/// # Examples
///
/// ```
/// use pkg_router::hub::Target;
///
/// let target = Target::roles(["view-books"]);
/// assert_eq!(target, Target::Roles(vec!["view-books".to_owned()]));
/// assert_eq!(Target::room("lobby"), Target::Room("lobby".to_owned()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// Every connection.
    All,
    /// Every connection of the principal with this id (all their tabs and devices).
    Principal(String),
    /// Every connection whose principal holds all of these roles (none: every authenticated
    /// or anonymous connection, as [`All`](Self::All)).
    Roles(Vec<String>),
    /// Every connection that joined this room ([`Hub::join`]).
    Room(String),
}

impl Target {
    /// [`Target::Principal`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::Target;
    ///
    /// assert_eq!(Target::principal("u-1"), Target::Principal("u-1".into()));
    /// ```
    pub fn principal(id: impl Into<String>) -> Self {
        Self::Principal(id.into())
    }

    /// [`Target::Roles`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::Target;
    ///
    /// assert_eq!(Target::roles(["a", "b"]), Target::Roles(vec!["a".into(), "b".into()]));
    /// ```
    pub fn roles<I, R>(roles: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        Self::Roles(roles.into_iter().map(Into::into).collect())
    }

    /// [`Target::Room`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::Target;
    ///
    /// assert_eq!(Target::room("lobby"), Target::Room("lobby".into()));
    /// ```
    pub fn room(name: impl Into<String>) -> Self {
        Self::Room(name.into())
    }
}

/// The connections of one [`Target`], ready to receive a push or a close. Made by
/// [`Hub::to_all`], [`Hub::to_principal`], [`Hub::to_roles`], [`Hub::to_room`] and
/// [`Hub::to`].
///
/// # Examples
///
/// ```
/// use pkg_router::testing::TestHub;
/// use pkg_router::hub::Target;
///
/// let hub = TestHub::new();
/// let ann = hub.connect_as("ann", ["view-books"]);
/// let bob = hub.connect_as("bob", [] as [&str; 0]);
///
/// let reached = hub.to_roles(["view-books"]).push(100u32, &"new book")?;
/// assert_eq!(reached, 1);
/// assert_eq!(ann.pushes().len(), 1);
/// assert!(bob.pushes().is_empty());
/// # Ok::<(), pkg_router::HandlerError>(())
/// ```
#[derive(Debug)]
#[must_use = "an audience does nothing until you push or close"]
pub struct Audience<'h> {
    hub: &'h Hub,
    target: Target,
}

impl<'h> Audience<'h> {
    pub(super) fn new(hub: &'h Hub, target: Target) -> Self {
        Self { hub, target }
    }

    /// The target.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::Hub;
    /// use pkg_router::hub::Target;
    ///
    /// let hub = Hub::new();
    /// assert_eq!(hub.to_room("lobby").target(), &Target::room("lobby"));
    /// ```
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Serializes `data` once into a push for `pkg_id` and queues the same bytes on every
    /// connection of the target, here and (through the hub's backend) on every other node,
    /// without waiting. Returns how many local connections it was queued on.
    ///
    /// A connection whose queue is full is closed with 1008 "slow consumer"; the others are
    /// unaffected.
    ///
    /// # Errors
    ///
    /// `internal_error` if `data` does not serialize.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let ann = hub.connect_as("ann", [] as [&str; 0]);
    /// assert_eq!(hub.to_principal("ann").push(101u32, &serde_json::json!({"id": 1}))?, 1);
    /// assert_eq!(ann.pushes()[0].data_json(), r#"{"id":1}"#);
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn push<T: Serialize + ?Sized>(
        self,
        pkg_id: impl crate::pkg_id::IntoPkgId,
        data: &T,
    ) -> Result<usize, HandlerError> {
        let push = Push::new(pkg_id.into_pkg_id(), data).map_err(HandlerError::internal)?;
        Ok(self.push_built(Arc::new(push)))
    }

    /// Sends a push already built (a frame relayed from elsewhere); see [`push`](Self::push).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::Push;
    /// use pkg_router::testing::TestHub;
    /// use std::sync::Arc;
    ///
    /// let hub = TestHub::new();
    /// let ann = hub.connect_as("ann", [] as [&str; 0]);
    /// let push = Arc::new(Push::new(100, &"hello")?);
    /// assert_eq!(hub.to_all().push_built(push), 1);
    /// assert_eq!(ann.pushes().len(), 1);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn push_built(self, push: Arc<Push>) -> usize {
        let event = HubEvent::Push {
            target: self.target,
            push,
        };
        self.hub.publish(&event);
        self.hub.deliver_local(&event)
    }

    /// Closes every connection of the target with `reason` (here and on every other node).
    /// Each finishes its in-flight requests' answers first. Returns how many local
    /// connections were told to close.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::{close_code, CloseReason};
    /// use pkg_router::testing::TestHub;
    ///
    /// let hub = TestHub::new();
    /// let tab = hub.connect_as("mallory", [] as [&str; 0]);
    /// let phone = hub.connect_as("mallory", [] as [&str; 0]);
    /// assert_eq!(hub.to_principal("mallory").close(CloseReason::new(close_code::POLICY, "banned")), 2);
    /// assert_eq!(tab.closed().map(|reason| reason.code), Some(1008));
    /// assert!(phone.closed().is_some());
    /// ```
    pub fn close(self, reason: CloseReason) -> usize {
        let event = HubEvent::Close {
            target: self.target,
            reason,
        };
        self.hub.publish(&event);
        self.hub.deliver_local(&event)
    }
}
