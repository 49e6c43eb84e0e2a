use pkg_router::pkg_handler;

#[pkg_handler(id = 1)]
async fn handler() -> u32 {
    1
}

fn main() {}
