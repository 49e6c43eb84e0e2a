//! Pagination ([protocol §5](crate::protocol#5-pagination)): [`PageParams`] in, [`PageMeta`]
//! out, [`Paginated`] results.

use crate::error::{HandlerError, Violation};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The default largest `per_page` (configurable with
/// [`RouterBuilder::max_per_page`](crate::router::RouterBuilder::max_per_page)).
///
/// # Examples
///
/// ```
/// use pkg_router::testing::TestRouter;
/// use pkg_router::{HandlerError, PageParams};
/// use pkg_router::pagination::DEFAULT_MAX_PER_PAGE;
/// use serde_json::json;
///
/// async fn list(page: PageParams) -> Result<u32, HandlerError> {
///     Ok(page.per_page)
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let client = TestRouter::with_handler(1, list);
/// assert_eq!(client.call(1, json!({"per_page": DEFAULT_MAX_PER_PAGE})).await.data, 100);
/// assert!(!client.call(1, json!({"per_page": DEFAULT_MAX_PER_PAGE + 1})).await.is_ok());
/// # });
/// ```
pub const DEFAULT_MAX_PER_PAGE: u32 = 100;
/// The `per_page` used when a request gives none.
///
/// # Examples
///
/// ```
/// use pkg_router::PageParams;
/// use pkg_router::pagination::DEFAULT_PER_PAGE;
/// use serde_json::Map;
///
/// let params = PageParams::from_data(&Map::new(), 100)?;
/// assert_eq!(params.per_page, DEFAULT_PER_PAGE);
/// assert_eq!(PageParams::default().per_page, 20);
/// # Ok::<(), pkg_router::HandlerError>(())
/// ```
pub const DEFAULT_PER_PAGE: u32 = 20;

/// The `meta` of a paginated response.
///
/// # Examples
///
/// ```
/// use pkg_router::PageMeta;
///
/// let meta = PageMeta::offset(1, 20, 45);
/// assert_eq!((meta.pages, meta.has_more), (3, true));
/// assert_eq!(
///     serde_json::to_string(&meta).unwrap(),
///     r#"{"page":1,"per_page":20,"total":45,"pages":3,"next_cursor":null,"has_more":true}"#
/// );
///
/// let meta = PageMeta::cursor(20, Some("b:40".into()));
/// assert!(meta.has_more);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PageMeta {
    /// The page returned (1-based; 1 in cursor mode).
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
    /// Items across all pages (0 in cursor mode when not counted).
    pub total: u64,
    /// Number of pages (0 in cursor mode when not counted).
    pub pages: u32,
    /// Opaque cursor for the next page, in cursor mode.
    pub next_cursor: Option<String>,
    /// Whether more items follow.
    pub has_more: bool,
}

impl PageMeta {
    /// Metadata for offset mode: `pages` and `has_more` are computed from `total`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::PageMeta;
    ///
    /// let last = PageMeta::offset(3, 20, 45);
    /// assert_eq!((last.pages, last.has_more), (3, false));
    ///
    /// let empty = PageMeta::offset(1, 20, 0);
    /// assert_eq!((empty.pages, empty.has_more), (0, false));
    /// ```
    pub fn offset(page: u32, per_page: u32, total: u64) -> Self {
        let pages = if per_page == 0 {
            0
        } else {
            u32::try_from(total.div_ceil(u64::from(per_page))).unwrap_or(u32::MAX)
        };
        Self {
            page,
            per_page,
            total,
            pages,
            next_cursor: None,
            has_more: page < pages,
        }
    }

    /// Metadata for cursor mode: `has_more` is whether a next cursor exists.
    ///
    /// For lists that change while clients page through them (feeds, logs), where page numbers
    /// would skip or repeat items. `total` and `pages` stay 0 unless
    /// [`with_total`](Self::with_total) sets them.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::PageMeta;
    ///
    /// let more = PageMeta::cursor(20, Some("id:40".into()));
    /// assert_eq!((more.page, more.total, more.has_more), (1, 0, true));
    ///
    /// let end = PageMeta::cursor(20, None);
    /// assert!(!end.has_more);
    /// ```
    pub fn cursor(per_page: u32, next_cursor: Option<String>) -> Self {
        Self {
            page: 1,
            per_page,
            total: 0,
            pages: 0,
            has_more: next_cursor.is_some(),
            next_cursor,
        }
    }

    /// Sets `total` and `pages` in cursor mode, when the handler counted anyway.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::PageMeta;
    ///
    /// let meta = PageMeta::cursor(20, Some("id:40".into())).with_total(45);
    /// assert_eq!((meta.total, meta.pages, meta.has_more), (45, 3, true));
    /// ```
    #[must_use]
    pub fn with_total(mut self, total: u64) -> Self {
        self.total = total;
        self.pages = if self.per_page == 0 {
            0
        } else {
            u32::try_from(total.div_ceil(u64::from(self.per_page))).unwrap_or(u32::MAX)
        };
        self
    }
}

/// Paging parameters read from a request's `data`: `page`, `per_page`, `cursor`, `filters`.
///
/// Take it as a handler argument and the router reads and checks it, using the router's
/// [`max_per_page`](crate::router::RouterBuilder::max_per_page); out-of-range values are answered with
/// `INVALID_DATA`/`validation_error` before the handler runs. Its four fields join the
/// handler's schema (route table, AsyncAPI), beside a `Data<T>` payload: a `T` with
/// `#[serde(deny_unknown_fields)]` accepts them and does not see them.
///
/// # Examples
///
/// ```
/// use pkg_router::PageParams;
/// use serde_json::json;
///
/// let data = json!({"page": 2, "per_page": 10, "filters": {"author_id": 1}});
/// let params = PageParams::from_data(data.as_object().unwrap(), 100)?;
/// assert_eq!((params.page, params.per_page, params.offset()), (2, 10, 10));
/// assert_eq!(params.filters["author_id"], 1);
///
/// let err = PageParams::from_data(json!({"per_page": 500}).as_object().unwrap(), 100)
///     .unwrap_err();
/// assert_eq!(err.violations()[0].path, "/per_page");
/// # Ok::<(), pkg_router::HandlerError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct PageParams {
    /// 1-based page number (default 1).
    #[schemars(range(min = 1))]
    pub page: u32,
    /// Items per page (default 20, at most the router's maximum).
    #[schemars(range(min = 1))]
    pub per_page: u32,
    /// Opaque cursor; when present the handler pages by cursor instead of offset. Any non-null
    /// cursor selects cursor mode ([protocol §5](crate::protocol#5-pagination)): `""` starts it
    /// from the first item.
    pub cursor: Option<String>,
    /// Application-defined filters (default `{}`).
    pub filters: Map<String, Value>,
}

impl Default for PageParams {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            cursor: None,
            filters: Map::new(),
        }
    }
}

impl PageParams {
    /// Reads and checks the paging fields of `data`; other fields are ignored.
    ///
    /// Taking `PageParams` as a handler argument calls this with the router's maximum; call it
    /// yourself for paging parameters nested elsewhere, or in tests. Without a `per_page`, the
    /// page size is [`DEFAULT_PER_PAGE`], or `max_per_page` when that is lower: an accepted
    /// `per_page` never exceeds the maximum.
    ///
    /// # Errors
    ///
    /// A [`HandlerError::Validation`] listing every out-of-range or mistyped field.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::PageParams;
    /// use serde_json::json;
    ///
    /// let data = json!({"cursor": "id:40", "title": "ignored"});
    /// let params = PageParams::from_data(data.as_object().unwrap(), 50)?;
    /// assert_eq!(params.cursor.as_deref(), Some("id:40"));
    /// assert_eq!((params.page, params.per_page), (1, 20)); // defaults
    /// let small = PageParams::from_data(data.as_object().unwrap(), 10)?;
    /// assert_eq!(small.per_page, 10); // the default, capped by the maximum
    ///
    /// // An empty cursor is still a cursor: cursor mode, from the first item.
    /// let params = PageParams::from_data(json!({"cursor": ""}).as_object().unwrap(), 50)?;
    /// assert_eq!(params.cursor.as_deref(), Some(""));
    ///
    /// let data = json!({"page": 0, "per_page": 51, "cursor": 7, "filters": []});
    /// let err = PageParams::from_data(data.as_object().unwrap(), 50).unwrap_err();
    /// let paths: Vec<&str> = err.violations().iter().map(|v| v.path.as_str()).collect();
    /// assert_eq!(paths, ["/page", "/per_page", "/cursor", "/filters"]);
    /// # Ok::<(), pkg_router::HandlerError>(())
    /// ```
    pub fn from_data(data: &Map<String, Value>, max_per_page: u32) -> Result<Self, HandlerError> {
        let mut params = Self {
            // The default page size must respect a maximum below it too.
            per_page: DEFAULT_PER_PAGE.min(max_per_page.max(1)),
            ..Self::default()
        };
        let mut violations = Vec::new();
        let mut int_field = |name: &str, min: u64, max: u64| -> Option<u32> {
            match data.get(name) {
                None | Some(Value::Null) => None,
                Some(value) => match value.as_u64().filter(|n| (min..=max).contains(n)) {
                    Some(n) => u32::try_from(n).ok(),
                    None => {
                        violations.push(Violation::new(
                            format!("/{name}"),
                            format!("must be an integer in {min}..={max}"),
                        ));
                        None
                    }
                },
            }
        };
        if let Some(page) = int_field("page", 1, u64::from(u32::MAX)) {
            params.page = page;
        }
        if let Some(per_page) = int_field("per_page", 1, u64::from(max_per_page)) {
            params.per_page = per_page;
        }
        match data.get("cursor") {
            None | Some(Value::Null) => {}
            Some(Value::String(cursor)) => params.cursor = Some(cursor.clone()),
            Some(_) => violations.push(Violation::new("/cursor", "must be a string")),
        }
        match data.get("filters") {
            None | Some(Value::Null) => {}
            Some(Value::Object(filters)) => params.filters = filters.clone(),
            Some(_) => violations.push(Violation::new("/filters", "must be an object")),
        }
        if violations.is_empty() {
            Ok(params)
        } else {
            Err(HandlerError::Validation(violations))
        }
    }

    /// Items to skip in offset mode: `(page - 1) * per_page`, ready for a SQL `OFFSET`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::PageParams;
    ///
    /// let params = PageParams { page: 3, per_page: 25, ..PageParams::default() };
    /// assert_eq!(params.offset(), 50);
    /// assert_eq!(PageParams::default().offset(), 0);
    ///
    /// let books: Vec<u32> = (1..=60).collect();
    /// let page: Vec<u32> = books
    ///     .iter()
    ///     .copied()
    ///     .skip(params.offset() as usize)
    ///     .take(params.per_page as usize)
    ///     .collect();
    /// assert_eq!(page.first(), Some(&51));
    /// assert_eq!(page.len(), 10);
    /// ```
    pub fn offset(&self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.per_page)
    }
}

/// A page of results: handlers return it (or `Result<Paginated<T>, E>`) and the router puts
/// `items` in `data` and `meta` in `meta`.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::{ResponseExt, TestRouter};
/// use pkg_router::{HandlerError, PageMeta, PageParams, Paginated};
/// use serde_json::json;
///
/// async fn list_books(page: PageParams) -> Result<Paginated<String>, HandlerError> {
///     let all: Vec<String> = (1..=5).map(|i| format!("book {i}")).collect();
///     let items = all
///         .iter()
///         .skip(page.offset() as usize)
///         .take(page.per_page as usize)
///         .cloned()
///         .collect();
///     Ok(Paginated::new(items, PageMeta::offset(page.page, page.per_page, all.len() as u64)))
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let client = TestRouter::with_handler(1, list_books);
/// let response = client.call(1, json!({"page": 3, "per_page": 2})).await;
/// assert_eq!(response.expect_ok(), &json!(["book 5"]));
/// let meta = response.meta.unwrap();
/// assert_eq!((meta.pages, meta.has_more), (3, false));
/// # });
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Paginated<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The page's metadata.
    pub meta: PageMeta,
}

impl<T> Paginated<T> {
    /// A page of `items` described by `meta`.
    ///
    /// Equivalent to `Paginated::from((items, meta))`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{PageMeta, Paginated};
    /// use pkg_router::handler::IntoResponse;
    /// use uuid::Uuid;
    ///
    /// let page = Paginated::new(vec!["a", "b"], PageMeta::offset(1, 2, 5));
    /// assert_eq!(page, Paginated::from((vec!["a", "b"], PageMeta::offset(1, 2, 5))));
    ///
    /// let response = page.into_reply(4, Uuid::nil()).into_model();
    /// assert_eq!(response.data, serde_json::json!(["a", "b"]));
    /// assert_eq!(response.meta.map(|meta| meta.pages), Some(3));
    /// ```
    pub fn new(items: Vec<T>, meta: PageMeta) -> Self {
        Self { items, meta }
    }
}

impl<T> From<(Vec<T>, PageMeta)> for Paginated<T> {
    fn from((items, meta): (Vec<T>, PageMeta)) -> Self {
        Self { items, meta }
    }
}
