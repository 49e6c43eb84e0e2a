use super::{FromRequest, HandlerNeeds, RequestContext};
use crate::error::{HandlerError, Violation};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::borrow::Cow;

/// The request's `data`, deserialized into `T` after it was validated against `T`'s JSON schema.
///
/// The schema comes from the type, as axum's `Json<T>` needs no second declaration: a handler
/// taking `Data<T>` has `data` checked against `T`'s schema (derived with
/// `#[derive(schemars::JsonSchema)]`) before it runs, every violation reported at once with
/// its JSON pointer, and the schema appears in the route table and the AsyncAPI document. A
/// `data` that passes the schema but still does not deserialize into `T` (a constraint serde
/// checks and the schema does not) is answered the same way, `INVALID_DATA`/`validation_error`,
/// pointing at the field.
///
/// For a type without a schema (one from another crate, say), take `Data<NoSchema<T>>`: `data`
/// is only deserialized. `Data<serde_json::Value>` is schemaless too: its schema accepts anything.
///
/// # Examples
///
/// ```
/// use pkg_router::{Data, HandlerError, RspCode};
/// use pkg_router::testing::TestRouter;
/// use serde::Deserialize;
/// use serde_json::json;
///
/// #[derive(Deserialize, schemars::JsonSchema)]
/// struct Greet {
///     #[schemars(length(min = 1))]
///     name: String,
/// }
///
/// async fn greet(Data(input): Data<Greet>) -> Result<String, HandlerError> {
///     Ok(format!("hello {}", input.name))
/// }
///
/// # tokio_test_block(async {
/// let router = TestRouter::with_handler(1, greet);
/// assert!(router.router().schema(1).is_some()); // from `Data<Greet>`
/// let ok = router.call(1, json!({"name": "Ann"})).await;
/// assert_eq!(ok.data, "hello Ann");
///
/// let bad = router.call(1, json!({"name": ""})).await;
/// assert_eq!(bad.status_code, RspCode::InvalidData);
/// assert_eq!(bad.error_body().unwrap().details.unwrap()[0]["path"], "/name");
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
///
/// A `T` without a schema does not compile; wrap it in [`NoSchema`]:
///
/// ```compile_fail
/// # use pkg_router::{Data, HandlerError, Router};
/// #[derive(serde::Deserialize)]
/// struct Greet { name: String }
///
/// async fn greet(Data(input): Data<Greet>) -> Result<String, HandlerError> {
///     Ok(input.name)
/// }
///
/// let _ = Router::builder().handler(1, greet).build();
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Data<T>(pub T);

impl<T: DataPayload> FromRequest for Data<T> {
    fn from_request(ctx: &RequestContext<'_>) -> Result<Self, HandlerError> {
        if ctx.data_skip.is_empty() {
            return deserialize(&ctx.data).map(Data);
        }
        // `T` denies unknown fields, and fields another argument reads (`PageParams`'s) are
        // not its own: deserialize without them.
        let mut data = ctx.data().clone();
        for key in ctx.data_skip {
            data.remove(key);
        }
        deserialize(&Value::Object(data)).map(Data)
    }

    fn declare(needs: &mut HandlerNeeds) {
        needs.data::<T>();
    }
}

/// What [`Data<T>`] reads `data` as: a type with a JSON schema that deserializes.
///
/// Implemented for every `T: serde::de::DeserializeOwned + schemars::JsonSchema + Send`; you
/// never implement it yourself. It names the requirement, so that a `Data<T>` whose `T` lacks
/// one is reported as such (with the [`NoSchema`] way out) rather than as an unsatisfied bound
/// deep inside `schemars`.
///
/// # Examples
///
/// ```
/// use pkg_router::extract::DataPayload;
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct CreateBook { title: String }
///
/// #[derive(serde::Deserialize)]
/// struct Unschematic { title: String }
///
/// fn readable<T: DataPayload>() {}
/// readable::<CreateBook>();
/// readable::<pkg_router::NoSchema<Unschematic>>();
/// readable::<serde_json::Value>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`Data<{Self}>` cannot read `data`: `{Self}` needs `serde::Deserialize` and `schemars::JsonSchema`",
    label = "`Data<T>` validates `data` against the JSON schema of `T`",
    note = "derive `serde::Deserialize` and `schemars::JsonSchema` for `{Self}`, or take `Data<NoSchema<{Self}>>` to read `data` without a schema"
)]
pub trait DataPayload: DeserializeOwned + JsonSchema + Send {}

#[diagnostic::do_not_recommend]
impl<T: DeserializeOwned + JsonSchema + Send> DataPayload for T {}

fn deserialize<T: DeserializeOwned>(data: &Value) -> Result<T, HandlerError> {
    // Fast path without path tracking; on failure, deserialize again to locate the error.
    T::deserialize(data).map_err(|_| match serde_path_to_error::deserialize::<_, T>(data) {
        Err(err) => into_validation_error(err),
        Ok(_) => HandlerError::invalid_field("", "data does not match the expected type"),
    })
}

/// A payload type read without a JSON schema: `Data<NoSchema<T>>` deserializes `data` into `T`
/// and validates nothing beforehand.
///
/// For types that do not implement `schemars::JsonSchema` (from another crate, or on purpose).
/// Deserialization errors are still answered with `INVALID_DATA`/`validation_error` at the
/// field's path; only the first one is reported, as serde stops there. The route table shows
/// no schema, unless the handler declares one by hand (`schema_json = ..`,
/// [`Route::json_schema`](crate::Route::json_schema)), which is then validated as usual.
///
/// Its own `JsonSchema` is the schema that accepts anything, which the router counts as none.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::{ResponseExt, TestRouter};
/// use pkg_router::{Data, HandlerError, NoSchema};
/// use serde_json::json;
///
/// /// A type without `JsonSchema`.
/// #[derive(serde::Deserialize)]
/// struct Move { x: i32, y: i32 }
///
/// async fn step(Data(NoSchema(to)): Data<NoSchema<Move>>) -> Result<i32, HandlerError> {
///     Ok(to.x + to.y)
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let client = TestRouter::with_handler(1, step);
/// assert!(client.router().schema(1).is_none());
/// assert_eq!(client.call(1, json!({"x": 1, "y": 2})).await.expect_ok(), 3);
/// let err = client.call(1, json!({"x": 1, "y": "2"})).await;
/// assert_eq!(err.expect_error("validation_error").details.unwrap()[0]["path"], "/y");
/// # });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NoSchema<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NoSchema<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(NoSchema)
    }
}

impl<T> JsonSchema for NoSchema<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "NoSchema".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // Accepts anything: the router counts it as no schema.
        true.into()
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
