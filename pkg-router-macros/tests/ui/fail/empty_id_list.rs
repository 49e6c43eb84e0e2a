use pkg_router::pkg_handler;

#[pkg_handler(id = [])]
async fn handler() {}

fn main() {}
