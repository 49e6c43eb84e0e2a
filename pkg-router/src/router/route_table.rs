use std::fmt;

/// One row of the route table: an id with its name, handler, roles, schema flag and push flag.
///
/// Read it to generate client stubs or API docs, or to check in a test that every id carries
/// the roles it should.
///
/// # Examples
///
/// ```
/// use pkg_router::{HandlerError, Route, Router};
///
/// async fn delete_book() -> Result<(), HandlerError> { Ok(()) }
///
/// let router = Router::builder()
///     .route(Route::new(70, delete_book).roles(["delete-book"]))
///     .build()?;
/// let row = router.routes().get(70).unwrap();
/// assert_eq!(row.pkg_id, 70);
/// assert_eq!(row.roles, ["delete-book"]);
/// assert!(row.handler.as_deref().unwrap().ends_with("delete_book"));
/// assert!(row.location.is_some());
/// assert!(!row.has_schema);
/// # Ok::<(), pkg_router::BuildError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// The id.
    pub pkg_id: u32,
    /// Its declared name (from `pkg_ids!`), if any.
    pub name: Option<String>,
    /// The handler's path, or `None` for an id that is declared but has no handler
    /// (a push, or a handler not written yet).
    pub handler: Option<String>,
    /// Required roles (ALL-of; empty means public).
    pub roles: Vec<String>,
    /// Declared public on purpose (`roles = []` written out, or [`Route::public`](crate::Route::public)):
    /// the route check accepts a handler without roles only then.
    pub public: bool,
    /// The push ids the handler declares it sends ([`Route::pushes`](crate::Route::pushes)).
    pub pushes: Vec<u32>,
    /// Whether `data` is validated against a schema.
    pub has_schema: bool,
    /// Whether the id is declared `#[push]` in [`pkg_ids!`](crate::pkg_ids): sent by the server
    /// only, never handled.
    pub push: bool,
    /// `file:line` where the handler was registered.
    pub location: Option<String>,
}

/// Every declared and handled id of a router, sorted by id; `Display` prints it as a table.
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
    ///
    /// # Examples
    ///
    /// A test that every handler except the public ones requires a role:
    ///
    /// ```
    /// use pkg_router::{HandlerError, Route, Router};
    ///
    /// async fn ok() -> Result<(), HandlerError> { Ok(()) }
    ///
    /// let router = Router::builder()
    ///     .route(Route::new(72, ok).roles(["view-books"]))
    ///     .route(Route::new(71, ok))
    ///     .build()?;
    /// let public: Vec<u32> = router
    ///     .routes()
    ///     .iter()
    ///     .filter(|row| row.handler.is_some() && row.roles.is_empty())
    ///     .map(|row| row.pkg_id)
    ///     .collect();
    /// assert_eq!(public, [71]);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, RouteInfo> {
        self.rows.iter()
    }

    /// The row of `pkg_id`, if it is declared or handled.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, Route, Router};
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Input { id: u32 }
    ///
    /// async fn get_book(_: pkg_router::Data<Input>) -> Result<(), HandlerError> { Ok(()) }
    ///
    /// let router = Router::builder().route(Route::new(73, get_book)).build()?; // schema from Data<Input>
    /// assert!(router.routes().get(73).unwrap().has_schema);
    /// assert_eq!(router.routes().get(74), None);
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    pub fn get(&self, pkg_id: u32) -> Option<&RouteInfo> {
        self.rows
            .binary_search_by_key(&pkg_id, |row| row.pkg_id)
            .ok()
            .map(|i| &self.rows[i])
    }

    /// Number of rows: handled ids plus ids declared with [`pkg_ids!`](crate::pkg_ids) anywhere
    /// in the binary.
    ///
    /// # Examples
    ///
    /// ```standalone_crate
    /// use pkg_router::{HandlerError, Route, Router};
    ///
    /// pkg_router::pkg_ids! {
    ///     pub Ids { GET_BOOK = 1, #[push] BOOK_CHANGED = 100 }
    /// }
    ///
    /// async fn get_book() -> Result<(), HandlerError> { Ok(()) }
    ///
    /// let router = Router::builder().route(Route::new(Ids::GET_BOOK, get_book).also(2)).build()?;
    /// assert_eq!(router.routes().len(), 3); // 1 and 2 handled, 100 declared
    /// let push = router.routes().get(100).unwrap();
    /// assert_eq!((push.handler.as_deref(), push.push), (None, true));
    /// assert!(router.routes().to_string().contains("(push)"));
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    ///
    /// # Examples
    ///
    /// ```standalone_crate
    /// use pkg_router::Router;
    ///
    /// let router = Router::builder().allow_empty().build()?;
    /// assert!(router.routes().is_empty());
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
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
                    match &row.handler {
                        Some(handler) => handler.clone(),
                        None if row.push => "(push)".into(),
                        None => "(no handler)".into(),
                    },
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
