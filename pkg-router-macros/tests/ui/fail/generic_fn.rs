use pkg_router::pkg_handler;
use pkg_router::extract::FromRequest;

#[pkg_handler(id = 1)]
async fn handler<T: FromRequest>(_arg: T) {}

fn main() {}
