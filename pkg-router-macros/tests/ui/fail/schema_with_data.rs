// `schema = ..` beside a `Data<T>` argument: the schema comes from `T` alone.

use pkg_router::{Data, pkg_handler};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct JoinRoom {
    #[allow(dead_code)]
    room: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct SendMessage {
    #[allow(dead_code)]
    text: String,
}

// Types that disagree: `data` would be validated as one and read as the other.
#[pkg_handler(id = 1, schema = JoinRoom)]
async fn send(_message: Data<SendMessage>) {}

// The same type, by a longer path: refused too.
#[pkg_handler(id = 2, roles = ["chat"], schema = SendMessage)]
async fn send_again(_message: pkg_router::Data<SendMessage>) {}

fn main() {}
