use super::{FromRequest, RequestContext};
use crate::error::{HandlerError, Violation};
use serde::de::DeserializeOwned;

/// The request's `data`, deserialized into `T`.
///
/// Declare `schema = T` on the handler to have `data` validated against `T`'s JSON schema first
/// (every violation reported at once). Whether or not a schema ran, a `data` that does not
/// deserialize into `T` is answered with `INVALID_DATA`/`validation_error`, pointing at the field.
///
/// # Examples
///
/// ```
/// use pkg_router::{Data, HandlerError, RspCode};
/// use pkg_router::testing::TestRouter;
/// use serde::Deserialize;
/// use serde_json::json;
///
/// #[derive(Deserialize)]
/// struct Greet { name: String }
///
/// async fn greet(Data(input): Data<Greet>) -> Result<String, HandlerError> {
///     Ok(format!("hello {}", input.name))
/// }
///
/// # tokio_test_block(async {
/// let router = TestRouter::with_handler(1, greet);
/// let ok = router.call(1, json!({"name": "Ann"})).await;
/// assert_eq!(ok.data, "hello Ann");
///
/// let bad = router.call(1, json!({"name": 5})).await;
/// assert_eq!(bad.status_code, RspCode::InvalidData);
/// assert_eq!(bad.error_body().unwrap().details.unwrap()[0]["path"], "/name");
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Data<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest for Data<T> {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        // Fast path without path tracking; on failure, deserialize again to locate the error.
        T::deserialize(&ctx.data).map(Data).map_err(|_| {
            match serde_path_to_error::deserialize::<_, T>(&ctx.data) {
                Err(err) => into_validation_error(err),
                Ok(_) => HandlerError::invalid_field("", "data does not match the expected type"),
            }
        })
    }
}

fn into_validation_error(err: serde_path_to_error::Error<serde_json::Error>) -> HandlerError {
    use serde_path_to_error::Segment;
    let mut path = String::new();
    for segment in err.path().iter() {
        path.push('/');
        match segment {
            Segment::Seq { index } => path.push_str(&index.to_string()),
            Segment::Map { key } => push_pointer_token(&mut path, key),
            Segment::Enum { variant } => push_pointer_token(&mut path, variant),
            Segment::Unknown => path.push('?'),
        }
    }
    let message = err.inner().to_string();
    // serde reports a missing field at its parent; point at the field itself.
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        path.push('/');
        push_pointer_token(&mut path, field);
        return HandlerError::Validation(vec![Violation::new(path, "is required")]);
    }
    HandlerError::Validation(vec![Violation::new(path, message)])
}

/// Appends a JSON pointer reference token, escaped as RFC 6901 says.
fn push_pointer_token(path: &mut String, token: &str) {
    for ch in token.chars() {
        match ch {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            _ => path.push(ch),
        }
    }
}
