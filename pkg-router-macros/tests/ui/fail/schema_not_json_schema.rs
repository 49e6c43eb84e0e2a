use pkg_router::{Data, pkg_handler};

#[derive(serde::Deserialize)]
struct Input {
    #[allow(dead_code)]
    name: String,
}

#[pkg_handler(id = 1, schema = Input)]
async fn handler(_input: Data<Input>) {}

fn main() {}
