use pkg_router::pkg_handler;

#[pkg_handler(id = 1)]
fn handler() {}

fn main() {}
