//! An AsyncAPI 3.0 document describing a router.

use super::Router;
use crate::envelope::PUSH_REQ_ID;
use serde_json::{Map, Value, json};

impl Router {
    /// An [AsyncAPI 3.0](https://www.asyncapi.com/docs/reference/specification/v3.0.0) document
    /// describing this router: one `receive` operation per handled id (the request with its
    /// `data` schema, the reply, and the required roles as `x-roles`), and one `send` operation
    /// per id declared `#[push]` in [`pkg_ids!`](crate::pkg_ids) (server-to-client messages).
    /// Ids declared without `#[push]` that have no handler are left out: the router does not
    /// serve them. Serve the document to client teams for docs and code generation.
    ///
    /// `address` is where the WebSocket endpoint is mounted (e.g. `/web`).
    ///
    /// # Examples
    ///
    /// ```standalone_crate
    /// use pkg_router::{HandlerError, Route, Router};
    ///
    /// pkg_router::pkg_ids! {
    ///     pub Ids { CREATE_AUTHOR = 7, #[push] AUTHOR_CREATED = 107 }
    /// }
    ///
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct CreateAuthor { name: String }
    ///
    /// async fn create_author() -> Result<(), HandlerError> { Ok(()) }
    ///
    /// let router = Router::builder()
    ///     .route(
    ///         Route::new(Ids::CREATE_AUTHOR, create_author)
    ///             .roles(["create-author"])
    ///             .schema::<CreateAuthor>(),
    ///     )
    ///     .build()?;
    /// let doc = router.asyncapi("Books API", "1.0.0", "/web");
    /// assert_eq!(doc["asyncapi"], "3.0.0");
    /// let op = &doc["operations"]["CREATE_AUTHOR"];
    /// assert_eq!((op["action"].as_str(), &op["x-pkg-id"]), (Some("receive"), &7.into()));
    /// assert_eq!(op["x-roles"][0], "create-author");
    /// let request = &doc["components"]["messages"]["CREATE_AUTHOR.request"]["payload"];
    /// assert_eq!(request["properties"]["data"]["properties"]["name"]["type"], "string");
    ///
    /// let push = &doc["operations"]["AUTHOR_CREATED"];
    /// assert_eq!((push["action"].as_str(), &push["x-pkg-id"]), (Some("send"), &107.into()));
    /// # Ok::<(), pkg_router::BuildError>(())
    /// ```
    pub fn asyncapi(&self, title: &str, version: &str, address: &str) -> Value {
        let mut channel_messages = Map::new();
        let mut operations = Map::new();
        let mut messages = Map::new();
        let mut schemas = Map::new();
        schemas.insert("ErrorBody".into(), error_body_schema());
        schemas.insert("PageMeta".into(), page_meta_schema());
        for row in self.routes() {
            let name = row
                .name
                .clone()
                .unwrap_or_else(|| format!("pkg_{}", row.pkg_id));
            let message_ref =
                |suffix: &str| json!({"$ref": format!("#/channels/web/messages/{name}.{suffix}")});
            if row.handler.is_some() {
                let data = self
                    .schema(row.pkg_id)
                    .map(|schema| lift_definitions(schema, &name, &mut schemas))
                    .unwrap_or_else(|| json!({"type": "object"}));
                messages.insert(
                    format!("{name}.request"),
                    json!({
                        "name": format!("{name}.request"),
                        "title": format!("{name} request"),
                        "payload": {
                            "type": "object",
                            "required": ["pkg_id", "req_id"],
                            "properties": {
                                "pkg_id": {"const": row.pkg_id},
                                "req_id": {"type": "string", "format": "uuid"},
                                "data": data,
                            },
                        },
                    }),
                );
                messages.insert(format!("{name}.response"), json!({
                    "name": format!("{name}.response"),
                    "title": format!("{name} response"),
                    "payload": {
                        "type": "object",
                        "required": ["pkg_id", "req_id", "status_code", "meta", "data"],
                        "properties": {
                            "pkg_id": {"const": row.pkg_id},
                            "req_id": {"type": "string", "format": "uuid"},
                            "status_code": {"enum": [0, 1, 2, 3], "description": "0 OK, 1 ERROR, 2 INVALID_DATA, 3 PERMISSION_DENIED"},
                            "meta": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/PageMeta"}]},
                            "data": {"description": "the result when status_code is 0, else an ErrorBody"},
                        },
                    },
                }));
                for suffix in ["request", "response"] {
                    channel_messages.insert(
                        format!("{name}.{suffix}"),
                        json!({"$ref": format!("#/components/messages/{name}.{suffix}")}),
                    );
                }
                operations.insert(name.clone(), json!({
                    "action": "receive",
                    "channel": {"$ref": "#/channels/web"},
                    "summary": format!("pkg_id {} ({})", row.pkg_id, row.handler.as_deref().unwrap_or_default()),
                    "messages": [message_ref("request")],
                    "reply": {"channel": {"$ref": "#/channels/web"}, "messages": [message_ref("response")]},
                    "x-pkg-id": row.pkg_id,
                    "x-roles": row.roles,
                }));
            } else if row.push {
                messages.insert(
                    format!("{name}.push"),
                    json!({
                        "name": format!("{name}.push"),
                        "title": format!("{name} push"),
                        "payload": {
                            "type": "object",
                            "required": ["pkg_id", "req_id", "data"],
                            "properties": {
                                "pkg_id": {"const": row.pkg_id},
                                "req_id": {"const": PUSH_REQ_ID},
                                "data": {},
                            },
                        },
                    }),
                );
                channel_messages.insert(
                    format!("{name}.push"),
                    json!({"$ref": format!("#/components/messages/{name}.push")}),
                );
                operations.insert(
                    name.clone(),
                    json!({
                        "action": "send",
                        "channel": {"$ref": "#/channels/web"},
                        "summary": format!("server push, pkg_id {}", row.pkg_id),
                        "messages": [message_ref("push")],
                        "x-pkg-id": row.pkg_id,
                    }),
                );
            }
        }
        json!({
            "asyncapi": "3.0.0",
            "info": {
                "title": title,
                "version": version,
                "description": "A package-id routed WebSocket API: every request is {pkg_id, req_id, data}, every response {pkg_id, req_id, status_code, meta, data}; pushes carry the nil req_id. Authenticate with a first frame {\"type\": \"auth\", \"token\": \"Bearer <token>\"}.",
            },
            "defaultContentType": "application/json",
            "channels": {"web": {"address": address, "messages": channel_messages}},
            "operations": operations,
            "components": {"messages": messages, "schemas": schemas},
        })
    }
}

/// Moves a schema's `$defs` into `components/schemas` (renamed on a clash) and rewrites its
/// `$ref`s to point there; drops `$schema`.
fn lift_definitions(schema: &Value, owner: &str, schemas: &mut Map<String, Value>) -> Value {
    let mut schema = schema.clone();
    let mut renames = Vec::new();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        if let Some(Value::Object(defs)) = object.remove("$defs") {
            for (name, def) in defs {
                let target = match schemas.get(&name) {
                    Some(existing) if *existing != def => format!("{owner}.{name}"),
                    _ => name.clone(),
                };
                renames.push((
                    format!("#/$defs/{name}"),
                    format!("#/components/schemas/{target}"),
                ));
                schemas.insert(target, def);
            }
        }
    }
    rewrite_refs(&mut schema, &renames);
    for (_, target) in &renames {
        if let Some(name) = target.strip_prefix("#/components/schemas/")
            && let Some(def) = schemas.get_mut(name)
        {
            rewrite_refs(def, &renames);
        }
    }
    schema
}

fn rewrite_refs(value: &mut Value, renames: &[(String, String)]) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref")
                && let Some((_, to)) = renames.iter().find(|(from, _)| from == reference)
            {
                reference.clone_from(to);
            }
            map.values_mut().for_each(|v| rewrite_refs(v, renames));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, renames)),
        _ => {}
    }
}

fn error_body_schema() -> Value {
    json!({
        "type": "object",
        "required": ["code", "msg", "details"],
        "properties": {
            "code": {"type": "string", "description": "invalid_envelope, validation_error, unknown_pkg_id, permission_denied, not_found, conflict, rate_limited, timeout, internal_error, or an application code"},
            "msg": {"type": "string"},
            "details": {"description": "for validation_error: a list of {path, message}"},
        },
    })
}

fn page_meta_schema() -> Value {
    json!({
        "type": "object",
        "required": ["page", "per_page", "total", "pages", "next_cursor", "has_more"],
        "properties": {
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "total": {"type": "integer", "minimum": 0},
            "pages": {"type": "integer", "minimum": 0},
            "next_cursor": {"type": ["string", "null"]},
            "has_more": {"type": "boolean"},
        },
    })
}
