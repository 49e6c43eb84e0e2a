//! The route check: what a CI gate refuses in a router's route table.

use crate::router::{RouteInfo, RouteTable};
use std::fmt;

/// One problem the route check found ([`check`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// An id declared with [`pkg_ids!`](crate::pkg_ids) (not `#[push]`) has no handler.
    Unhandled {
        /// The id.
        pkg_id: u32,
        /// Its declared name.
        name: Option<String>,
    },
    /// A handler requires no role and was not declared public on purpose (`roles = []`
    /// written out, or [`Route::public`](crate::Route::public)).
    NoRoles {
        /// The id.
        pkg_id: u32,
        /// Its declared name.
        name: Option<String>,
        /// The handler's path.
        handler: String,
    },
    /// A `#[push]` id that no handler declares it sends (`pushes = [..]`,
    /// [`Route::pushes`](crate::Route::pushes)).
    UnusedPush {
        /// The id.
        pkg_id: u32,
        /// Its declared name.
        name: Option<String>,
    },
    /// A handler declares it sends an id that is not declared `#[push]`.
    NotAPush {
        /// The handler's id.
        pkg_id: u32,
        /// The handler's path.
        handler: String,
        /// The id it declares it pushes.
        push: u32,
    },
}

fn label(pkg_id: u32, name: Option<&String>) -> String {
    match name {
        Some(name) => format!("{pkg_id} ({name})"),
        None => pkg_id.to_string(),
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unhandled { pkg_id, name } => write!(
                f,
                "id {} has no handler: write one (`new-handler`) or declare it #[push]",
                label(*pkg_id, name.as_ref())
            ),
            Self::NoRoles {
                pkg_id,
                name,
                handler,
            } => write!(
                f,
                "id {} ({handler}) requires no role: add `roles = [..]`, or write `roles = []` \
                 if it is public on purpose",
                label(*pkg_id, name.as_ref())
            ),
            Self::UnusedPush { pkg_id, name } => write!(
                f,
                "push id {} is sent by no handler: add it to the `pushes = [..]` of the handlers \
                 that send it, or remove it",
                label(*pkg_id, name.as_ref())
            ),
            Self::NotAPush {
                pkg_id,
                handler,
                push,
            } => write!(
                f,
                "id {pkg_id} ({handler}) declares `pushes = [{push}]`, but {push} is not declared \
                 #[push] in pkg_ids!"
            ),
        }
    }
}

/// Checks a route table: every declared id is handled or a push, every handler requires a
/// role or is public on purpose, every push id is sent by some handler. Handlers that clash on
/// an id never get this far: [`RouterBuilder::build`](crate::router::RouterBuilder::build)
/// refuses them ([`BuildError::DuplicateHandler`](crate::BuildError::DuplicateHandler)).
///
/// The same check as the `check` command, for a unit test of your own:
///
/// # Examples
///
/// ```standalone_crate
/// use pkg_router::cli::{check, Finding};
/// use pkg_router::{HandlerError, Route, Router};
///
/// async fn ok() -> Result<(), HandlerError> { Ok(()) }
///
/// let router = Router::builder()
///     .route(Route::new(1, ok).roles(["view-books"]))
///     .route(Route::new(2, ok).public())
///     .route(Route::new(3, ok))
///     .build()?;
/// let findings = check(router.routes());
/// assert!(matches!(&findings[..], [Finding::NoRoles { pkg_id: 3, .. }]));
/// # Ok::<(), pkg_router::BuildError>(())
/// ```
pub fn check(routes: &RouteTable) -> Vec<Finding> {
    let mut findings = Vec::new();
    let sent: Vec<u32> = routes
        .iter()
        .flat_map(|row| row.pushes.iter().copied())
        .collect();
    for row in routes {
        let RouteInfo {
            pkg_id,
            name,
            handler,
            roles,
            public,
            pushes,
            push,
            ..
        } = row;
        match handler {
            None if *push => {
                if !sent.contains(pkg_id) {
                    findings.push(Finding::UnusedPush {
                        pkg_id: *pkg_id,
                        name: name.clone(),
                    });
                }
            }
            None => findings.push(Finding::Unhandled {
                pkg_id: *pkg_id,
                name: name.clone(),
            }),
            Some(handler) => {
                if roles.is_empty() && !public {
                    findings.push(Finding::NoRoles {
                        pkg_id: *pkg_id,
                        name: name.clone(),
                        handler: handler.clone(),
                    });
                }
                for id in pushes {
                    if !routes.get(*id).is_some_and(|target| target.push) {
                        findings.push(Finding::NotAPush {
                            pkg_id: *pkg_id,
                            handler: handler.clone(),
                            push: *id,
                        });
                    }
                }
            }
        }
    }
    findings
}
