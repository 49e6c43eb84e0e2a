use pkg_router::pkg_handler;

struct Books;

impl Books {
    #[pkg_handler(id = 1)]
    async fn list(&self) {}
}

fn main() {}
