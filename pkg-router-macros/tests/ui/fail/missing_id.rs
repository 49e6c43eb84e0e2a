use pkg_router::pkg_handler;

#[pkg_handler(roles = ["admin"])]
async fn handler() {}

fn main() {}
