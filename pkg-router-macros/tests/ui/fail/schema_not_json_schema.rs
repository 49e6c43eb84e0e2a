use pkg_router::{RequestModel, pkg_handler};

#[derive(serde::Deserialize)]
struct Input {
    #[allow(dead_code)]
    name: String,
}

#[pkg_handler(id = 1, schema = Input)]
async fn handler(_request: RequestModel) {}

fn main() {}
