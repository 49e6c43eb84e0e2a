//! (e) `Push::from_json_frame` on any bytes (what a broadcast backend reads from other nodes).
//!
//! Checks: no panic; a push is read only from an object with an integer `pkg_id`, the nil
//! `req_id` and a `data`; the frame it sends is a broadcast envelope with the same `pkg_id` and
//! `data` text, and reads back as the same push.

use pkg_router::hub::Push;
use serde_json::Value;

/// The target.
pub fn push_frame(data: &[u8]) {
    let Ok(push) = Push::from_json_frame(data) else {
        return;
    };
    let frame = push.json_frame().clone();
    let text = std::str::from_utf8(&frame).expect("a push frame is UTF-8");
    let prefix = format!(
        r#"{{"pkg_id":{},"req_id":"00000000-0000-0000-0000-000000000000","data":"#,
        push.pkg_id()
    );
    assert!(text.starts_with(&prefix), "{text}");
    assert_eq!(&text[prefix.len()..text.len() - 1], push.data_json());
    assert!(text.ends_with('}'));

    let again = Push::from_json_frame(&frame).expect("a push frame reads back");
    assert_eq!(
        (again.pkg_id(), again.data_json()),
        (push.pkg_id(), push.data_json())
    );
    assert_eq!(again.json_frame(), &frame);

    // What a client reads (when serde_json's nesting limit allows).
    if let Ok(input) = serde_json::from_slice::<Value>(data)
        && let Ok(sent) = serde_json::from_str::<Value>(text)
    {
        assert_eq!(sent["pkg_id"], Value::from(push.pkg_id()));
        assert_eq!(sent["data"], input["data"], "{text}");
        assert_eq!(input["req_id"].as_str().map(|s| s.len() >= 32), Some(true));
    }
}
