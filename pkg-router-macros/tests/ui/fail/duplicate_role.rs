use pkg_router::pkg_handler;

#[pkg_handler(id = 1, roles = ["admin", "editor", "admin"])]
async fn handler() {}

fn main() {}
