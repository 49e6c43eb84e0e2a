use pkg_router::pkg_handler;

#[pkg_handler(id = "ping")]
async fn handler() {}

fn main() {}
