use pkg_router::pkg_handler;

#[pkg_handler(id = 1)]
struct Handler;

fn main() {}
