use pkg_router::pkg_handler;

#[pkg_handler(id = 1)]
async fn handler() {
    let x = ;
}

fn main() {}
