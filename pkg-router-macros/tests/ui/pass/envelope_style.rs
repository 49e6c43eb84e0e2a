// Envelope style: the handler takes the whole request and builds the whole response.

use pkg_router::{RequestModel, ResponseModel, pkg_handler};

#[pkg_handler(id = 1)]
async fn echo(req: RequestModel) -> ResponseModel {
    ResponseModel::success(req.pkg_id, req.req_id, req.data)
}

#[derive(Clone)]
struct Config;

fn main() {
    let router = pkg_router::Router::builder()
        .state(Config)
        .with_registered()
        .build()
        .unwrap();
    assert!(router.has_handler(1));
}
