use pkg_router::pkg_handler;

#[pkg_handler(id = 1, timeout = 2)]
async fn handler() {}

fn main() {}
