use pkg_router::pkg_handler;

#[pkg_handler(id = 1, schema_json = std::time::Duration::ZERO)]
async fn handler() {}

fn main() {}
