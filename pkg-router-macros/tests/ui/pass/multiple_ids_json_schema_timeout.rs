// One handler for several named ids, with a hand-written schema and a timeout.

use pkg_router::{HandlerError, RequestIds, pkg_handler, pkg_ids};
use std::time::Duration;

pkg_ids! {
    pub Ids {
        GET_BOOK = 10,
        GET_BOOK_V2 = 11,
    }
}

#[derive(Clone)]
struct Config;

#[pkg_handler(
    id = [Ids::GET_BOOK, Ids::GET_BOOK_V2],
    roles = ["view-books"],
    schema_json = serde_json::json!({
        "type": "object",
        "properties": { "id": { "type": "integer", "minimum": 1 } },
        "required": ["id"],
    }),
    timeout = Duration::from_secs(2),
)]
async fn get_book(ids: RequestIds) -> Result<serde_json::Value, HandlerError> {
    Ok(serde_json::json!({ "pkg_id": ids.pkg_id }))
}

fn main() {
    let router = pkg_router::Router::builder()
        .state(Config)
        .with_registered()
        .require_all(Ids::ALL)
        .build()
        .unwrap();
    for id in Ids::ALL {
        let route = router.routes().get(id.id()).unwrap();
        assert_eq!(route.name.as_deref(), Some(id.name()));
        assert!(route.has_schema);
    }
}
