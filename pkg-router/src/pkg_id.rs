//! Named package ids: the [`pkg_ids!`](crate::pkg_ids) macro, [`IntoPkgId`] for anything that
//! names an id, and the id range.

/// The largest valid `pkg_id` (`2^31 - 1`, the range of protobuf's `int32`).
///
/// Frames with a larger id are refused as `invalid_envelope`, and a handler registered above it
/// makes [`RouterBuilder::build`](crate::router::RouterBuilder::build) fail, so ids stay valid in both
/// wire formats.
///
/// # Examples
///
/// ```
/// use pkg_router::{BuildError, HandlerError, RequestModel, Router};
/// use pkg_router::envelope::EnvelopeProblem;
/// use pkg_router::pkg_id::MAX_PKG_ID;
///
/// assert_eq!(MAX_PKG_ID, 2_147_483_647);
///
/// let frame = r#"{"pkg_id": 2147483648, "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#;
/// assert_eq!(RequestModel::from_json(frame).unwrap_err().problem, EnvelopeProblem::InvalidPkgId);
///
/// async fn ping() -> Result<(), HandlerError> { Ok(()) }
/// let err = Router::builder().handler(MAX_PKG_ID + 1, ping).build().unwrap_err();
/// assert!(matches!(err, BuildError::PkgIdOutOfRange { pkg_id: 2_147_483_648, .. }));
/// assert!(Router::builder().handler(MAX_PKG_ID, ping).build().is_ok());
/// ```
pub const MAX_PKG_ID: u32 = i32::MAX as u32;

/// Declares the API's package ids, each with a name.
///
/// The macro defines a `Copy` enum whose variants carry the numeric ids, plus:
///
/// - `PkgID::ALL`: every declared id, in declaration order (for
///   [`RouterBuilder::require_all`](crate::router::RouterBuilder::require_all));
/// - `id()`, `name()`, `is_push()`, `from_id(u32)` (all `const fn`) and `From<PkgID> for u32`,
///   `TryFrom<u32> for PkgID`, `Display` (prints the name);
/// - a link-time record of the names, so the router's route table and logs show
///   `CREATE_BOOK` rather than `3`.
///
/// Mark the ids the server only *sends* (broadcasts, notifications) with `#[push]`: they need
/// no handler ([`require_all`](crate::router::RouterBuilder::require_all) skips them, and a handler for
/// one is a [`BuildError::HandlerForPush`](crate::BuildError::HandlerForPush)), the route table
/// marks them as pushes, and [`Router::asyncapi`](crate::Router::asyncapi) lists them as
/// server-to-client messages.
///
/// Ids must be integer literals in `0..=2^31-1` and unique; both are checked at compile time.
/// Besides `#[push]`, an id takes doc comments and attributes with a value or arguments
/// (`#[deprecated = ".."]`, `#[allow(..)]`).
///
/// # Examples
///
/// ```
/// pkg_router::pkg_ids! {
///     /// Package ids of the books API.
///     pub PkgID {
///         GET_AUTHORS = 1,
///         CREATE_BOOK = 3,
///         /// Sent to every client when a book is created.
///         #[push]
///         BOOK_CREATED = 100,
///     }
/// }
///
/// assert_eq!(PkgID::CREATE_BOOK.id(), 3);
/// assert_eq!(PkgID::CREATE_BOOK.name(), "CREATE_BOOK");
/// assert_eq!(PkgID::from_id(100), Some(PkgID::BOOK_CREATED));
/// assert_eq!(PkgID::ALL.len(), 3);
/// assert!(PkgID::BOOK_CREATED.is_push() && !PkgID::CREATE_BOOK.is_push());
/// assert_eq!(u32::from(PkgID::GET_AUTHORS), 1);
/// assert_eq!(PkgID::GET_AUTHORS.to_string(), "GET_AUTHORS");
/// ```
///
/// Two names for one id do not compile:
///
/// ```compile_fail
/// pkg_router::pkg_ids! {
///     pub PkgID { A = 1, B = 1 }
/// }
/// ```
///
/// Nor does an attribute that is neither `#[push]` nor one with a value or arguments:
///
/// ```compile_fail
/// pkg_router::pkg_ids! {
///     pub PkgID { #[pushed] A = 1 }
/// }
/// ```
#[macro_export]
macro_rules! pkg_ids {
    (
        $(#[$meta:meta])*
        $vis:vis $name:ident {
            $(
                $(#[$attr:ident $(= $value_arg:literal)? $(($($args:tt)*))?])*
                $variant:ident = $value:literal
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(non_camel_case_types)]
        #[repr(u32)]
        $vis enum $name {
            $(
                // Every attribute but `#[push]` (the only one without a value or arguments).
                $(
                    $(#[$attr = $value_arg])?
                    $(#[$attr($($args)*)])?
                )*
                #[doc = ::core::concat!("\n\nPackage id `", ::core::stringify!($value), "`.")]
                $variant = $value,
            )+
        }

        #[allow(dead_code)]
        impl $name {
            /// Every declared id, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The numeric id sent on the wire.
            pub const fn id(self) -> u32 {
                self as u32
            }

            /// The declared name, e.g. `"CREATE_BOOK"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => ::core::stringify!($variant), )+
                }
            }

            /// Whether the id is declared `#[push]`: sent by the server only, served by no handler.
            pub const fn is_push(self) -> bool {
                match self {
                    $(
                        $name::$variant => false $(
                            || $crate::__pkg_id_attribute!($attr $(= $value_arg)? $(($($args)*))?)
                        )*,
                    )+
                }
            }

            /// The declared id with this number, if any.
            pub const fn from_id(id: u32) -> ::core::option::Option<Self> {
                $( if id == $value { return ::core::option::Option::Some($name::$variant); } )+
                ::core::option::Option::None
            }
        }

        impl ::core::convert::From<$name> for u32 {
            fn from(id: $name) -> u32 {
                id as u32
            }
        }

        impl $crate::pkg_id::IntoPkgId for $name {
            fn into_pkg_id(self) -> u32 {
                self as u32
            }

            fn is_push(&self) -> bool {
                $name::is_push(*self)
            }
        }

        impl ::core::convert::TryFrom<u32> for $name {
            type Error = u32;

            /// Fails with the number itself when no id of this set has it.
            fn try_from(id: u32) -> ::core::result::Result<Self, u32> {
                $name::from_id(id).ok_or(id)
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.name())
            }
        }

        const _: () = {
            // Range check: ids travel as protobuf int32.
            $( ::core::assert!(
                ($value as u64) <= ($crate::pkg_id::MAX_PKG_ID as u64),
                ::core::concat!("pkg_id of ", ::core::stringify!($variant), " is above 2^31-1"),
            ); )+

            $crate::__private::inventory::submit! {
                $crate::__private::DeclaredPkgIds {
                    set: ::core::stringify!($name),
                    module: ::core::module_path!(),
                    ids: &[$( ($value, ::core::stringify!($variant), $name::$variant.is_push()) ),+],
                }
            }
        };
    };
}

/// For `pkg_ids!`: whether one attribute of an id is `#[push]`. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __pkg_id_attribute {
    (push) => {
        true
    };
    ($other:ident) => {
        ::core::compile_error!(::core::concat!(
            "unknown attribute `#[",
            ::core::stringify!($other),
            "]` on a package id: the ids of `pkg_ids!` take `#[push]`, doc comments, and attributes with a value or arguments"
        ))
    };
    ($other:ident $($rest:tt)+) => {
        false
    };
}

/// Anything that names a package id: `u32`, an integer literal, or a [`pkg_ids!`](crate::pkg_ids)
/// variant (by value or by reference).
///
/// Integer types other than `u32` map values outside `0..=u32::MAX` to `u32::MAX`, which is
/// above [`MAX_PKG_ID`] and so never matches a handler (and fails
/// [`RouterBuilder::build`](crate::router::RouterBuilder::build)).
///
/// Every API that takes an id takes `impl IntoPkgId`, so named ids and plain numbers mix freely.
///
/// # Examples
///
/// ```
/// use pkg_router::ResponseModel;
/// use pkg_router::envelope::BroadcastModel;
/// use pkg_router::pkg_id::IntoPkgId;
/// use uuid::Uuid;
///
/// pkg_router::pkg_ids! {
///     pub Ids { LIST_SHELVES = 9101, SHELF_CHANGED = 9102 }
/// }
///
/// assert_eq!(Ids::LIST_SHELVES.into_pkg_id(), 9101);
/// assert_eq!((&Ids::SHELF_CHANGED).into_pkg_id(), 9102);
/// assert_eq!(9101u64.into_pkg_id(), 9101);
///
/// // Named or numbered, the envelopes are the same.
/// assert_eq!(BroadcastModel::new(Ids::SHELF_CHANGED, ()), BroadcastModel::new(9102, ()));
/// assert_eq!(
///     ResponseModel::success(Ids::LIST_SHELVES, Uuid::nil(), ()).pkg_id,
///     ResponseModel::success(9101u32, Uuid::nil(), ()).pkg_id
/// );
/// ```
pub trait IntoPkgId {
    /// The numeric id.
    ///
    /// Values that do not fit a `u32` (negative numbers, `u64`s above `u32::MAX`) become
    /// `u32::MAX`, an id no handler can have.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::pkg_id::{IntoPkgId, MAX_PKG_ID};
    ///
    /// assert_eq!(7u8.into_pkg_id(), 7);
    /// assert_eq!(7usize.into_pkg_id(), 7);
    /// assert_eq!((-1i32).into_pkg_id(), u32::MAX);
    /// assert_eq!(u64::MAX.into_pkg_id(), u32::MAX);
    /// assert!(u32::MAX > MAX_PKG_ID); // never a valid id
    /// ```
    fn into_pkg_id(self) -> u32;

    /// Whether the id is a push (declared `#[push]` in [`pkg_ids!`](crate::pkg_ids)): sent by
    /// the server only, so [`RouterBuilder::require_all`](crate::router::RouterBuilder::require_all)
    /// requires no handler for it. `false` unless overridden; plain numbers are never pushes.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::pkg_id::IntoPkgId;
    ///
    /// pkg_router::pkg_ids! {
    ///     pub Ids { GET_SHELF = 9201, #[push] SHELF_MOVED = 9202 }
    /// }
    ///
    /// assert!(Ids::SHELF_MOVED.is_push());
    /// assert!(!IntoPkgId::is_push(&Ids::GET_SHELF));
    /// assert!(!9202u32.is_push());
    /// ```
    fn is_push(&self) -> bool {
        false
    }
}

impl IntoPkgId for u32 {
    fn into_pkg_id(self) -> u32 {
        self
    }
}

macro_rules! impl_into_pkg_id {
    ($($ty:ty),*) => {$(
        impl IntoPkgId for $ty {
            fn into_pkg_id(self) -> u32 {
                u32::try_from(self).unwrap_or(u32::MAX)
            }
        }
    )*};
}
impl_into_pkg_id!(i32, i64, u64, usize, u16, u8);

impl<T: IntoPkgId + Copy> IntoPkgId for &T {
    fn into_pkg_id(self) -> u32 {
        (*self).into_pkg_id()
    }

    fn is_push(&self) -> bool {
        (**self).is_push()
    }
}
