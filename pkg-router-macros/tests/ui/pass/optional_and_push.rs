// `Option<_>` extractors, `PageParams` beside a payload that denies unknown fields, and push ids
// that need no handler.

use pkg_router::{
    ConnectionInfo, Data, HandlerError, Hub, PageParams, Principal, State, pkg_handler, pkg_ids,
};

pkg_ids! {
    pub Ids {
        FIND_BOOKS = 1,
        /// Sent when a book changes.
        #[push]
        BOOK_CHANGED = 100,
    }
}

#[derive(Clone)]
struct Config;

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct FindBooks {
    #[allow(dead_code)]
    title: Option<String>,
}

#[pkg_handler(id = Ids::FIND_BOOKS)]
async fn find_books(
    Data(_query): Data<FindBooks>,
    _page: PageParams,
    _caller: Option<Principal>,
    _conn: Option<ConnectionInfo>,
    _hub: Option<Hub>,
    _config: Option<State<Config>>,
) -> Result<(), HandlerError> {
    Ok(())
}

fn main() {
    let router = pkg_router::Router::builder()
        .with_registered()
        .require_all(Ids::ALL)
        .build()
        .unwrap();
    let schema = router.schema(1).unwrap();
    assert!(schema["properties"]["per_page"].is_object());
    assert!(router.routes().get(100).unwrap().push);
}
