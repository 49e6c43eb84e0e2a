//! Dispatch hooks: custom checks before the handler, audit records after every request.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use pkg_router::hook::{Call, DispatchHook, Outcome};
use pkg_router::testing::{ResponseExt, TestRouter};
use pkg_router::{HandlerError, RequestModel, Route, Router, RspCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Audit(Arc<Mutex<Vec<(u32, RspCode, Value)>>>);

impl DispatchHook for Audit {
    fn after(&self, call: &Call<'_>, outcome: &Outcome) {
        let data = call
            .data
            .map_or(Value::Null, |d| redact(&Value::Object(d.clone())));
        self.0
            .lock()
            .unwrap()
            .push((call.pkg_id, outcome.status, data));
    }
}

fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let secret = ["password", "token"].iter().any(|s| k.contains(s));
                    (k.clone(), if secret { json!("***") } else { redact(v) })
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Refuses requests whose data carries `"frozen": true`.
struct Freeze;

impl DispatchHook for Freeze {
    fn before(&self, call: &Call<'_>) -> Result<(), HandlerError> {
        if call.data.and_then(|d| d.get("frozen")) == Some(&json!(true)) {
            return Err(HandlerError::custom(
                RspCode::Error,
                "frozen",
                "This record is frozen",
            ));
        }
        Ok(())
    }
}

async fn echo(req: RequestModel) -> Result<Value, HandlerError> {
    Ok(Value::Object(req.data))
}

fn router(audit: &Audit) -> TestRouter {
    let router = Router::builder()
        .handler(1, echo)
        .route(Route::new(2, echo).roles(["admin"]))
        .hook(Freeze)
        .hook(audit.clone())
        .build()
        .unwrap();
    TestRouter::new(router)
}

#[tokio::test]
async fn after_sees_every_request_with_secrets_redacted() {
    let audit = Audit::default();
    let client = router(&audit);
    client
        .call(1, json!({"user": "ann", "password": "hunter2"}))
        .await
        .expect_ok();
    client
        .call(2, json!({"x": 1}))
        .await
        .expect_error("permission_denied");
    let records = audit.0.lock().unwrap().clone();
    assert_eq!(
        records,
        [
            (1, RspCode::Ok, json!({"user": "ann", "password": "***"})),
            // Refused before data was parsed: the record has no data.
            (2, RspCode::PermissionDenied, Value::Null),
        ]
    );
}

#[tokio::test]
async fn before_can_refuse_a_request_and_the_handler_does_not_run() {
    let audit = Audit::default();
    let client = router(&audit);
    let body = client
        .call(1, json!({"frozen": true}))
        .await
        .expect_error("frozen");
    assert_eq!(body.msg, "This record is frozen");
    assert_eq!(audit.0.lock().unwrap()[0].1, RspCode::Error);
    client.call(1, json!({"frozen": false})).await.expect_ok();
}
