use pkg_router::{FromRequest, pkg_handler};

#[pkg_handler(id = 1)]
async fn handler(_arg: impl FromRequest) {}

fn main() {}
