use pkg_router::pkg_handler;

pkg_router::pkg_ids! {
    pub Ids { PING = 1 }
}

#[pkg_handler(id = Ids::PONG)]
async fn handler() {}

fn main() {}
