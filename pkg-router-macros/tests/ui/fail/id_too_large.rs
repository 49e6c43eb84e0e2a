use pkg_router::pkg_handler;

#[pkg_handler(id = [1, 3_000_000_000])]
async fn handler() {}

fn main() {}
