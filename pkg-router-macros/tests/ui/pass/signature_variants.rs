// Signatures and placements beyond the common ones: no arguments, `impl Trait` in the return type,
// a handler in a nested module, one declared inside a function body, suffixed and parenthesized
// ids, an arbitrary `FromRequest` type, and a public handler that is still callable directly.

use pkg_router::{HandlerError, PageParams, RequestModel, pkg_handler};
use pkg_router::extract::{FromRequest, RequestContext};

#[pkg_handler(id = 1u32)]
async fn no_arguments() {}

#[pkg_handler(id = (2))]
async fn impl_return(_req: RequestModel) -> Result<impl serde::Serialize, HandlerError> {
    Ok(vec!["a", "b"])
}

mod nested {
    use pkg_router::{HandlerError, PageParams, pkg_handler};

    #[pkg_handler(id = 3, roles = ["view-books"])]
    pub async fn list(page: PageParams) -> Result<u32, HandlerError> {
        Ok(page.page)
    }
}

/// A custom extractor.
pub struct Caller(String);

impl FromRequest for Caller {
    fn from_request(ctx: &RequestContext) -> Result<Self, HandlerError> {
        Ok(Caller(ctx.principal().name.clone()))
    }
}

#[pkg_handler(id = 4)]
pub async fn custom(caller: Caller, _page: PageParams) -> Result<String, HandlerError> {
    Ok(caller.0)
}

fn main() {
    #[pkg_handler(id = 5)]
    async fn local() -> serde_json::Value {
        serde_json::Value::Null
    }

    let router = pkg_router::Router::builder()
        .state(())
        .with_registered()
        .require_all([1, 2, 3, 4, 5])
        .build()
        .unwrap();
    assert_eq!(router.routes().get(3).unwrap().roles, ["view-books"]);
    // The attribute leaves the function itself usable.
    let _future = nested::list(PageParams::default());
    let _ = local;
}
