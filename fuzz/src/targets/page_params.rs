//! (c) `PageParams::from_data` on any `data` object and any maximum.
//!
//! Checks: no panic; the outcome agrees with protocol §5 read independently (`page`
//! at least 1, `per_page` in `1..=max` with default 20, `cursor` a string, `filters` an object,
//! null meaning absent); every refused field is named once, in order; an accepted `per_page`
//! never exceeds the maximum; `offset()` is `(page - 1) * per_page`.

use super::values;
use arbitrary::Unstructured;
use pkg_router::pagination::DEFAULT_PER_PAGE;
use pkg_router::{HandlerError, PageParams};
use serde_json::Value;

/// The target: a maximum, then the `data` object (as JSON text when the input is a JSON
/// object, else built from the bytes).
pub fn page_params(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(max) = u.arbitrary::<u8>() else {
        return;
    };
    let max = u32::from(max);
    let rest = u.peek_bytes(u.len()).unwrap_or_default();
    let object = match serde_json::from_slice::<Value>(rest) {
        Ok(Value::Object(map)) => map,
        _ => match values::object(&mut u, 2) {
            Ok(map) => map,
            Err(_) => return,
        },
    };
    let result = PageParams::from_data(&object, max);

    let present = |key: &str| object.get(key).filter(|v| !v.is_null());
    let int = |key: &str, min: u64, max: u64| {
        present(key).map(|v| v.as_u64().filter(|n| (min..=max).contains(n)))
    };
    let page = int("page", 1, u64::from(u32::MAX));
    let per_page = int("per_page", 1, u64::from(max));
    let cursor = present("cursor").map(|v| v.as_str().map(str::to_owned));
    let filters = present("filters").map(|v| v.as_object().cloned());
    let mut refused = Vec::new();
    for (path, ok) in [
        ("/page", page.is_none_or(|v| v.is_some())),
        ("/per_page", per_page.is_none_or(|v| v.is_some())),
        ("/cursor", cursor.as_ref().is_none_or(|v| v.is_some())),
        ("/filters", filters.as_ref().is_none_or(|v| v.is_some())),
    ] {
        if !ok {
            refused.push(path);
        }
    }
    match result {
        Ok(params) => {
            assert!(
                refused.is_empty(),
                "accepted {object:?} despite {refused:?}"
            );
            assert_eq!(u64::from(params.page), page.flatten().unwrap_or(1));
            let default = DEFAULT_PER_PAGE.min(max).max(1);
            assert_eq!(
                u64::from(params.per_page),
                per_page.flatten().unwrap_or(u64::from(default)),
                "max {max}, data {object:?}"
            );
            assert!(
                params.per_page >= 1 && params.per_page <= max.max(1),
                "{params:?}, max {max}"
            );
            assert_eq!(params.cursor, cursor.flatten());
            assert_eq!(params.filters, filters.flatten().unwrap_or_default());
            assert_eq!(
                params.offset(),
                (u64::from(params.page) - 1) * u64::from(params.per_page)
            );
        }
        Err(HandlerError::Validation(violations)) => {
            let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
            assert_eq!(paths, refused, "data {object:?}, max {max}");
        }
        Err(other) => panic!("not a validation error: {other:?}"),
    }
}
