//! The bodies of the fuzz targets: plain functions of the input bytes that panic when an
//! invariant breaks. Each module says what it drives and what it checks.

pub mod app;
mod auth_frame;
mod connection;
mod envelope_decode;
mod json_codec;
mod oracle;
mod page_params;
pub mod pipe;
mod protobuf_codec;
mod push_frame;
mod values;

pub use auth_frame::auth_frame;
pub use connection::connection;
pub use envelope_decode::envelope_decode;
pub use json_codec::json_codec;
pub use page_params::page_params;
pub use protobuf_codec::protobuf_codec;
pub use push_frame::push_frame;

/// A target's body.
pub type Target = fn(&[u8]);

/// The targets by name, for replaying a corpus directory of the same name.
pub const TARGETS: [(&str, Target); 7] = [
    ("envelope_decode", envelope_decode),
    ("auth_frame", auth_frame),
    ("page_params", page_params),
    ("json_codec", json_codec),
    ("push_frame", push_frame),
    ("connection", connection),
    ("protobuf_codec", protobuf_codec),
];
