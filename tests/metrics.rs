//! With the `metrics` feature, the transport records the metric names of DESIGN.md section 7.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use pkg_router::transport::{RateLimit, WsConfig};
use pkg_router::{HandlerError, RequestModel, Router};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

/// Remembers the name (and labels) of every metric registered.
#[derive(Clone, Default)]
struct Names(Arc<Mutex<BTreeSet<String>>>);

impl Names {
    fn note(&self, key: &Key) {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = if labels.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        self.0.lock().unwrap().insert(name);
    }
}

impl Recorder for Names {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.note(key);
        Counter::noop()
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.note(key);
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.note(key);
        Histogram::noop()
    }
}

async fn echo(req: RequestModel) -> Result<Value, HandlerError> {
    Ok(Value::Object(req.data))
}

#[tokio::test]
async fn the_python_designs_metric_names_are_recorded() {
    let names = Names::default();
    metrics::set_global_recorder(names.clone()).unwrap();

    let mut config = WsConfig::default();
    config.rate_limit = Some(RateLimit::new(1, Duration::from_secs(60)));
    config.outbound_queue = 1;
    let router = Router::builder().handler(7, echo).build().unwrap();
    let server = Server::start(router, config).await;
    let mut client = server.login("alice").await;
    call(&mut client, 7, json!({})).await;
    call(&mut client, 7, json!({})).await; // rate limited
    // Two pushes back to back on a queue of one: the second finds it full.
    server.hub.broadcast(100u32, &json!({})).unwrap();
    server.hub.broadcast(100u32, &json!({})).unwrap();
    let mut refused = server.connect().await;
    use futures_util::SinkExt;
    refused
        .send(tokio_tungstenite::tungstenite::Message::text(
            r#"{"type":"auth","token":"Bearer nobody"}"#,
        ))
        .await
        .unwrap();
    expect_close(&mut refused).await;

    let recorded = names.0.lock().unwrap().clone();
    for expected in [
        "ws_connections_active",
        "ws_connections_total{status=accepted}",
        "ws_connections_total{status=rejected}",
        "ws_messages_received_total",
        "ws_messages_sent_total",
        "ws_message_processing_duration_seconds{pkg_id=7}",
        "ws_broadcast_errors_total",
        "rate_limit_hits_total",
    ] {
        assert!(
            recorded.contains(expected),
            "{expected} missing from {recorded:?}"
        );
    }
}
