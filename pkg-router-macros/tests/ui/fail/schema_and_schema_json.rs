use pkg_router::{RequestModel, pkg_handler};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    #[allow(dead_code)]
    name: String,
}

#[pkg_handler(id = 1, schema = Input, schema_json = serde_json::json!({ "type": "object" }))]
async fn handler(_request: RequestModel) {}

fn main() {}
