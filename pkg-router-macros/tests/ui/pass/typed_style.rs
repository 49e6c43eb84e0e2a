// Typed style: extractors in, `Result<T, HandlerError>` out, the schema derived from the type of
// `Data<T>` with no `schema = ..`.

use pkg_router::{Data, HandlerError, Principal, State, pkg_handler};
use std::sync::Arc;

#[derive(Clone)]
struct Library {
    name: Arc<str>,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct CreateBook {
    title: String,
    #[allow(dead_code)]
    year: Option<u16>,
}

#[derive(serde::Serialize)]
struct Created {
    title: String,
    library: String,
    by: String,
}

#[pkg_handler(id = 3, roles = ["create-book", "admin"])]
async fn create_book(
    State(library): State<Library>,
    principal: Principal,
    Data(input): Data<CreateBook>,
) -> Result<Created, HandlerError> {
    if input.title.is_empty() {
        return Err(HandlerError::invalid_field("/title", "is empty"));
    }
    Ok(Created {
        title: input.title,
        library: library.name.to_string(),
        by: principal.name,
    })
}

fn main() {
    let router = pkg_router::Router::builder()
        .state(Library {
            name: Arc::from("central"),
        })
        .with_registered()
        .build()
        .unwrap();
    let route = router.routes().get(3).unwrap();
    assert_eq!(route.roles, ["create-book", "admin"]);
    assert!(route.has_schema);
}
