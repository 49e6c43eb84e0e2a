use pkg_router::{RequestIds, pkg_handler};
use std::rc::Rc;

#[pkg_handler(id = 1)]
async fn handler(ids: RequestIds) -> Result<u32, pkg_router::HandlerError> {
    let local = Rc::new(ids.pkg_id);
    std::future::ready(()).await;
    Ok(*local)
}

fn main() {}
