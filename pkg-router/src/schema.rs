//! JSON-schema validation of `data`: compiled once when the router is built.

use crate::error::Violation;
use crate::extract::HandlerNeeds;
use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;
use jsonschema::{PatternOptions, Validator};
use serde_json::{Map, Value};
use std::fmt;

/// At most this many violations are reported for one request: enough to fix a form, too few
/// to turn a hostile payload into a huge answer.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::TestRouter;
/// use pkg_router::{HandlerError, RequestModel, Route, Router};
/// use pkg_router::schema::MAX_VIOLATIONS;
/// use serde_json::{json, Value};
///
/// async fn save(_: RequestModel) -> Result<(), HandlerError> {
///     Ok(())
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let schema = json!({"type": "object", "additionalProperties": {"type": "integer"}});
/// let router = Router::builder().route(Route::new(1, save).json_schema(schema)).build()?;
///
/// // 100 wrong fields, but the answer stays small.
/// let data: serde_json::Map<String, Value> = (0..100).map(|i| (format!("f{i}"), json!("x"))).collect();
/// let response = TestRouter::new(router).call(1, Value::Object(data)).await;
/// let details = response.error_body().unwrap().details.unwrap();
/// assert_eq!(details.as_array().unwrap().len(), MAX_VIOLATIONS);
/// # Ok::<(), pkg_router::BuildError>(())
/// # }).unwrap();
/// ```
pub const MAX_VIOLATIONS: usize = 32;
/// Violation messages are cut to this many characters (they may quote the offending value).
const MAX_MESSAGE_CHARS: usize = 200;

/// The JSON schema of `T`, as a `Data<T>` argument or `#[pkg_handler(schema = T)]` derives it
/// (schemars, draft 2020-12).
///
/// # Examples
///
/// ```
/// #[derive(schemars::JsonSchema)]
/// struct CreateAuthor {
///     #[schemars(length(min = 1, max = 200))]
///     name: String,
/// }
///
/// let schema = pkg_router::schema::schema_of::<CreateAuthor>();
/// assert_eq!(schema["properties"]["name"]["maxLength"], 200);
/// ```
pub fn schema_of<T: schemars::JsonSchema>() -> Value {
    schemars::SchemaGenerator::default()
        .into_root_schema_for::<T>()
        .to_value()
}

/// The schema of the fields `T` describes, as
/// [`HandlerNeeds::data_fields`](crate::extract::HandlerNeeds::data_fields) declares them: subschemas
/// inlined, so each property stands alone.
pub(crate) fn fields_of<T: schemars::JsonSchema>() -> Value {
    schemars::generate::SchemaSettings::draft2020_12()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// Whether `schema` accepts every value (`true`, `{}`, or annotations only, as schemars
/// derives for `serde_json::Value`): the router treats such a schema as none.
pub(crate) fn accepts_anything(schema: &Value) -> bool {
    const ANNOTATIONS: &[&str] = &[
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    ];
    match schema {
        Value::Bool(accepts) => *accepts,
        Value::Object(map) => map.keys().all(|key| ANNOTATIONS.contains(&key.as_str())),
        _ => false,
    }
}

/// A handler's schema of `data`, put together from what it declared.
#[derive(Debug)]
pub(crate) struct HandlerSchema {
    /// What `data` is validated against; `None` when nothing was declared.
    pub(crate) schema: Option<Value>,
    /// Fields other arguments read that `Data<T>` must not see: `T` denies unknown fields and
    /// does not have them.
    pub(crate) data_skip: Vec<String>,
}

/// Why a handler's schema could not be put together.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SchemaConflict {
    pub(crate) first: String,
    pub(crate) second: String,
}

/// Puts a handler's schema together: the explicit one (`schema = ..`, `schema_json = ..`,
/// [`Route::schema`](crate::Route::schema)) or the one its arguments declare through
/// [`HandlerNeeds::data`](crate::extract::HandlerNeeds::data), never both; then the fields declared
/// through [`HandlerNeeds::data_fields`](crate::extract::HandlerNeeds::data_fields) are added.
///
/// `max_per_page` becomes the `maximum` of a `per_page` field that a
/// [`PageParams`](crate::PageParams) argument adds.
pub(crate) fn resolve(
    explicit: Option<(Value, String)>,
    needs: &HandlerNeeds,
    max_per_page: u32,
) -> Result<HandlerSchema, SchemaConflict> {
    let mut payload: Option<(Value, String)> = None;
    for declared in &needs.data {
        let schema = (declared.make)();
        if accepts_anything(&schema) {
            continue;
        }
        let source = format!("`Data<{}>`", declared.type_name);
        match &payload {
            None => payload = Some((schema, source)),
            Some((first, _)) if *first == schema => {}
            Some((_, first)) => {
                return Err(SchemaConflict {
                    first: first.clone(),
                    second: source,
                });
            }
        }
    }
    let explicit = explicit.filter(|(schema, _)| !accepts_anything(schema));
    let base = match (explicit, payload) {
        (Some((_, explicit)), Some((_, payload))) => {
            return Err(SchemaConflict {
                first: payload,
                second: explicit,
            });
        }
        (Some((schema, _)), None) | (None, Some((schema, _))) => Some(schema),
        (None, None) => None,
    };
    let mut fields: Vec<Value> = needs.data_fields.iter().map(|d| (d.make)()).collect();
    if needs.paging {
        for field in &mut fields {
            if let Some(per_page) = field.pointer_mut("/properties/per_page")
                && let Some(per_page) = per_page.as_object_mut()
            {
                per_page.insert("maximum".into(), max_per_page.into());
            }
        }
    }
    Ok(add_fields(base, &fields))
}

/// Adds the properties of `fields` to `base` (a property `base` has is left alone).
fn add_fields(base: Option<Value>, fields: &[Value]) -> HandlerSchema {
    let mut properties = Map::new();
    let mut defs = Map::new();
    for field in fields {
        if let Some(Value::Object(props)) = field.get("properties") {
            for (name, schema) in props {
                properties
                    .entry(name.clone())
                    .or_insert_with(|| schema.clone());
            }
        }
        if let Some(Value::Object(more)) = field.get("$defs") {
            for (name, def) in more {
                defs.entry(name.clone()).or_insert_with(|| def.clone());
            }
        }
    }
    if properties.is_empty() {
        return HandlerSchema {
            schema: base,
            data_skip: Vec::new(),
        };
    }
    let mut fields_schema = Map::new();
    fields_schema.insert("type".into(), "object".into());
    fields_schema.insert("properties".into(), Value::Object(properties.clone()));
    if !defs.is_empty() {
        fields_schema.insert("$defs".into(), Value::Object(defs.clone()));
    }
    let Some(mut base) = base else {
        return HandlerSchema {
            schema: Some(Value::Object(fields_schema)),
            data_skip: Vec::new(),
        };
    };
    let is_object =
        base.get("type") == Some(&Value::from("object")) || base.get("properties").is_some();
    let Some(object) = base.as_object_mut().filter(|_| is_object) else {
        // Not a plain object schema (an enum's `oneOf`, a `$ref`): both must hold.
        return HandlerSchema {
            schema: Some(serde_json::json!({"allOf": [base, Value::Object(fields_schema)]})),
            data_skip: Vec::new(),
        };
    };
    let denies_unknown = object.get("additionalProperties") == Some(&Value::Bool(false));
    let mut own = match object.remove("properties") {
        Some(Value::Object(own)) => own,
        _ => Map::new(),
    };
    let mut data_skip = Vec::new();
    for (name, schema) in properties {
        if !own.contains_key(&name) {
            if denies_unknown {
                data_skip.push(name.clone());
            }
            own.insert(name, schema);
        }
    }
    object.insert("properties".into(), Value::Object(own));
    if !defs.is_empty()
        && let Value::Object(base_defs) = object
            .entry("$defs")
            .or_insert_with(|| Value::Object(Map::new()))
    {
        for (name, def) in defs {
            base_defs.entry(name).or_insert(def);
        }
    }
    HandlerSchema {
        schema: Some(base),
        data_skip,
    }
}

/// A compiled schema.
pub(crate) struct CompiledSchema {
    validator: Validator,
    source: Value,
}

impl CompiledSchema {
    /// Compiles `source`. Patterns use the linear-time `regex` engine, so no input can make
    /// validation backtrack; remote `$ref`s are never fetched.
    pub(crate) fn compile(source: Value) -> Result<Self, String> {
        let validator = jsonschema::options()
            .with_pattern_options(PatternOptions::regex())
            .build(&source)
            .map_err(|e| e.to_string())?;
        Ok(Self { validator, source })
    }

    pub(crate) fn source(&self) -> &Value {
        &self.source
    }

    /// Every violation (up to [`MAX_VIOLATIONS`]) of `data`, or `Ok` if it is valid.
    pub(crate) fn validate(&self, data: &Value) -> Result<(), Vec<Violation>> {
        if self.validator.is_valid(data) {
            return Ok(());
        }
        let mut violations = Vec::new();
        for error in self.validator.iter_errors(data).take(MAX_VIOLATIONS) {
            push_violations(&error, &mut violations);
        }
        violations.truncate(MAX_VIOLATIONS);
        Err(violations)
    }
}

fn push_violations(error: &ValidationError<'_>, violations: &mut Vec<Violation>) {
    let path = error.instance_path().as_str();
    match error.kind() {
        // Point at the missing or unexpected property, not at its parent.
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            violations.push(Violation::new(child(path, name), "is required"));
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for name in unexpected {
                violations.push(Violation::new(child(path, name), "is not allowed"));
            }
        }
        // `Option<T>` is `anyOf: [T, null]`: when the value has the type of one branch only,
        // report that branch's violations (`/filters/title`), not "no branch fits" at `/filters`.
        ValidationErrorKind::AnyOf { context } => {
            let wrong_type = |branch: &&Vec<ValidationError<'_>>| {
                branch.iter().all(|e| {
                    matches!(e.kind(), ValidationErrorKind::Type { .. })
                        && e.instance_path() == error.instance_path()
                })
            };
            let mut fitting = context.iter().filter(|branch| !wrong_type(branch));
            match (fitting.next(), fitting.next()) {
                (Some(branch), None) => {
                    for error in branch {
                        push_violations(error, violations);
                    }
                }
                _ => violations.push(Violation::new(path, truncate(error.to_string()))),
            }
        }
        _ => violations.push(Violation::new(path, truncate(error.to_string()))),
    }
}

impl fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledSchema")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn child(parent: &str, name: &str) -> String {
    let escaped = name.replace('~', "~0").replace('/', "~1");
    format!("{parent}/{escaped}")
}

fn truncate(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(cut);
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn book_schema() -> CompiledSchema {
        CompiledSchema::compile(json!({
            "type": "object",
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": 200},
                "author_id": {"type": "integer", "exclusiveMinimum": 0},
                "isbn": {"type": "string", "pattern": "^978-\\d{10}$"}
            },
            "required": ["title", "author_id"],
            "additionalProperties": false
        }))
        .unwrap()
    }

    #[test]
    fn reports_every_violation_with_its_pointer() {
        let errors = book_schema()
            .validate(&json!({"author_id": 0, "isbn": "123", "extra": 1}))
            .unwrap_err();
        let mut paths: Vec<_> = errors.iter().map(|v| v.path.as_str()).collect();
        paths.sort_unstable();
        assert_eq!(paths, ["/author_id", "/extra", "/isbn", "/title"]);
    }

    #[test]
    fn pattern_digits_are_ascii_only() {
        // ECMA-262 `\d` is [0-9]; Unicode digits must not pass.
        let schema = book_schema();
        assert!(
            schema
                .validate(&json!({"title": "t", "author_id": 1, "isbn": "978-0123456789"}))
                .is_ok()
        );
        assert!(
            schema
                .validate(&json!({"title": "t", "author_id": 1, "isbn": "978-٠١٢٣٤٥٦٧٨٩"}))
                .is_err()
        );
    }

    #[test]
    fn long_messages_are_truncated() {
        let long = "x".repeat(10_000);
        let errors = book_schema()
            .validate(&json!({"title": long, "author_id": 1}))
            .unwrap_err();
        assert!(errors[0].message.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn an_optional_object_reports_the_field_inside_it() {
        // What schemars derives for `filters: Option<Filters>`.
        let schema = CompiledSchema::compile(json!({
            "type": "object",
            "properties": {
                "filters": {"anyOf": [{"$ref": "#/$defs/Filters"}, {"type": "null"}]}
            },
            "$defs": {
                "Filters": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string", "maxLength": 3},
                        "author_id": {"type": "integer", "minimum": 1}
                    }
                }
            }
        }))
        .unwrap();
        let errors = schema
            .validate(&json!({"filters": {"title": "long", "author_id": 0}}))
            .unwrap_err();
        let mut paths: Vec<_> = errors.iter().map(|v| v.path.as_str()).collect();
        paths.sort_unstable();
        assert_eq!(paths, ["/filters/author_id", "/filters/title"]);
        assert!(schema.validate(&json!({"filters": null})).is_ok());
        // No branch has the value's type: the violation stays on the value itself.
        let errors = schema.validate(&json!({"filters": 7})).unwrap_err();
        assert_eq!(errors[0].path, "/filters");
    }

    #[test]
    fn remote_refs_are_refused() {
        let err = CompiledSchema::compile(json!({"$ref": "https://example.com/schema.json"}));
        assert!(err.is_err());
    }
}
