// `Data<T>` validates `data` against the schema of `T`, so `T` must have one.

use pkg_router::{Data, pkg_handler};

#[derive(serde::Deserialize)]
struct Move {
    #[allow(dead_code)]
    x: i32,
}

#[pkg_handler(id = 1)]
async fn step(_to: Data<Move>) {}

fn main() {}
