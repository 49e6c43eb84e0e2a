use pkg_router::pkg_handler;

#[pkg_handler(id = 1, rol = ["admin"])]
async fn handler() {}

fn main() {}
