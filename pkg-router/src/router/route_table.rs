use std::fmt;

/// One row of the route table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// The id.
    pub pkg_id: u32,
    /// Its declared name (from `pkg_ids!`), if any.
    pub name: Option<String>,
    /// The handler's path, or `None` for an id that is declared but has no handler
    /// (push-only ids, or a forgotten handler).
    pub handler: Option<String>,
    /// Required roles (ALL-of; empty means public).
    pub roles: Vec<String>,
    /// Whether `data` is validated against a schema.
    pub has_schema: bool,
    /// `file:line` where the handler was registered.
    pub location: Option<String>,
}

/// Every declared and handled id of a router, sorted by id; `Display` prints it as a table
/// (the Python design's `make ws-handlers`).
///
/// # Examples
///
/// ```
/// use pkg_router::{HandlerError, Route, Router};
///
/// async fn get_books() -> Result<Vec<String>, HandlerError> { Ok(vec![]) }
///
/// let router = Router::builder()
///     .route(Route::new(4, get_books).roles(["view-books"]))
///     .build()?;
/// let table = router.routes().to_string();
/// assert!(table.lines().next().unwrap().starts_with("PKG_ID"));
/// assert!(table.contains("view-books"));
/// # Ok::<(), pkg_router::BuildError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteTable {
    pub(super) rows: Vec<RouteInfo>,
}

impl RouteTable {
    /// The rows, sorted by id.
    pub fn iter(&self) -> std::slice::Iter<'_, RouteInfo> {
        self.rows.iter()
    }

    /// The row of `pkg_id`.
    pub fn get(&self, pkg_id: u32) -> Option<&RouteInfo> {
        self.rows
            .binary_search_by_key(&pkg_id, |row| row.pkg_id)
            .ok()
            .map(|i| &self.rows[i])
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl<'a> IntoIterator for &'a RouteTable {
    type Item = &'a RouteInfo;
    type IntoIter = std::slice::Iter<'a, RouteInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}

impl fmt::Display for RouteTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = ["PKG_ID", "NAME", "HANDLER", "ROLES", "SCHEMA", "SOURCE"];
        let cells: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|row| {
                [
                    row.pkg_id.to_string(),
                    row.name.clone().unwrap_or_else(|| "-".into()),
                    row.handler.clone().unwrap_or_else(|| "(no handler)".into()),
                    if row.handler.is_none() {
                        "-".into()
                    } else if row.roles.is_empty() {
                        "public".into()
                    } else {
                        row.roles.join(" + ")
                    },
                    if row.has_schema { "yes" } else { "no" }.into(),
                    row.location.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, row: &[&str]| -> fmt::Result {
            let mut text = String::new();
            for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
                if i == 0 {
                    text.push_str(&format!("{cell:>width$}"));
                } else {
                    text.push_str(&format!("  {cell:<width$}"));
                }
            }
            writeln!(f, "{}", text.trim_end())
        };
        line(f, &header)?;
        for row in &cells {
            let refs: Vec<&str> = row.iter().map(String::as_str).collect();
            line(f, &refs)?;
        }
        Ok(())
    }
}
