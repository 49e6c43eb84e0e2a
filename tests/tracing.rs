//! Every dispatched request gets a `pkg_request` span carrying pkg_id, req_id, status and duration.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use pkg_router::testing::TestRouter;
use pkg_router::{HandlerError, Router};
use serde_json::json;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = HashMap<String, String>;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(Id, Fields)>>>);

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() == "pkg_request" {
            let mut fields = Fields::new();
            attrs.record(&mut Collect(&mut fields));
            self.0.lock().unwrap().push((id.clone(), fields));
        }
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, fields)) = spans.iter_mut().find(|(span, _)| span == id) {
            values.record(&mut Collect(fields));
        }
    }
}

#[tokio::test]
async fn each_request_span_records_ids_status_and_duration() {
    async fn fails() -> Result<(), HandlerError> {
        Err(HandlerError::not_found("nope"))
    }
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = TestRouter::new(Router::builder().handler(7, fails).build().unwrap());
    let request = pkg_router::testing::request(7, json!({}));
    let req_id = request.req_id;
    client.send(request).await;

    let spans = capture.0.lock().unwrap();
    assert_eq!(spans.len(), 1);
    let fields = &spans[0].1;
    assert_eq!(fields["pkg_id"], "7");
    assert_eq!(fields["req_id"], req_id.to_string());
    assert_eq!(fields["status"], "1");
    assert!(fields["duration_us"].parse::<u64>().is_ok(), "{fields:?}");
}

/// Formatted log output in memory.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl tracing_subscriber::fmt::MakeWriter<'_> for LogBuffer {
    type Writer = Self;
    fn make_writer(&self) -> Self {
        self.clone()
    }
}

/// Error texts may quote what a client sent: the router logs them escaped, so a newline cannot
/// start a forged log line.
#[tokio::test]
async fn logged_error_texts_cannot_forge_log_lines() {
    const FORGED: &str = "bad input\nFORGED  INFO admin: role granted \u{1b}[31m";
    async fn fails() -> Result<(), HandlerError> {
        Err(HandlerError::internal(FORGED))
    }
    struct Unserializable;
    impl serde::Serialize for Unserializable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom(FORGED))
        }
    }
    async fn unserializable() -> Result<Unserializable, HandlerError> {
        Ok(Unserializable)
    }
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let router = Router::builder()
        .handler(1, fails)
        .handler(2, unserializable)
        .build()
        .unwrap();
    let client = TestRouter::new(router);
    client.call(1, json!({})).await;
    client.call(2, json!({})).await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("handler failed"), "{text}");
    assert!(text.contains("does not serialize"), "{text}");
    assert!(
        !text.lines().any(|line| line.starts_with("FORGED")),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text}");
}
