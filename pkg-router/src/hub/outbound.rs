use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

/// WebSocket close codes used by the transport (PROTOCOL.md section 6).
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// Policy violation: too many connections for the principal, slow consumer, too many
    /// malformed frames, keepalive timeout.
    pub const POLICY: u16 = 1008;
    /// A message larger than the configured maximum.
    pub const TOO_BIG: u16 = 1009;
    /// Authentication failed: bad auth frame, bad or expired token.
    pub const AUTH_FAILED: u16 = 4001;
    /// No auth frame within the auth timeout.
    pub const AUTH_TIMEOUT: u16 = 4002;
}

/// Why the server closes a connection: the close frame's code and reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseReason {
    /// The close code (see [`close_code`]).
    pub code: u16,
    /// A short human-readable reason.
    pub reason: Cow<'static, str>,
}

impl CloseReason {
    /// A close reason.
    pub fn new(code: u16, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// 1008 "slow consumer".
    pub fn slow_consumer() -> Self {
        Self::new(close_code::POLICY, "slow consumer")
    }

    /// 1001 "server shutting down".
    pub fn going_away() -> Self {
        Self::new(close_code::GOING_AWAY, "server shutting down")
    }
}

/// A server push (`pkg_id` + `data`, nil `req_id`), shared by every connection it goes to.
///
/// `data` is serialized once; each wire format's frame is built once, by the first connection
/// that needs it, and shared by the rest.
///
/// # Examples
///
/// ```
/// use pkg_router::Push;
///
/// let push = Push::new(100, &serde_json::json!({"id": 12}))?;
/// assert_eq!(
///     std::str::from_utf8(push.json_frame()).unwrap(),
///     r#"{"pkg_id":100,"req_id":"00000000-0000-0000-0000-000000000000","data":{"id":12}}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug)]
pub struct Push {
    pkg_id: u32,
    data: Box<RawValue>,
    json: OnceLock<Bytes>,
}

impl Push {
    /// A push of `data` under `pkg_id`.
    ///
    /// # Errors
    ///
    /// When `data` does not serialize.
    pub fn new<T: Serialize + ?Sized>(pkg_id: u32, data: &T) -> Result<Self, serde_json::Error> {
        Ok(Self {
            pkg_id,
            data: serde_json::value::to_raw_value(data)?,
            json: OnceLock::new(),
        })
    }

    /// A push read back from its JSON frame (as another node published it).
    ///
    /// # Errors
    ///
    /// When `frame` is not a broadcast envelope.
    pub fn from_json_frame(frame: &[u8]) -> Result<Self, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct Envelope {
            pkg_id: u32,
            data: Box<RawValue>,
        }
        let envelope: Envelope = serde_json::from_slice(frame)?;
        Ok(Self {
            pkg_id: envelope.pkg_id,
            data: envelope.data,
            json: OnceLock::from(Bytes::copy_from_slice(frame)),
        })
    }

    /// The push's package id.
    pub fn pkg_id(&self) -> u32 {
        self.pkg_id
    }

    /// The JSON text of `data`.
    pub fn data_json(&self) -> &str {
        self.data.get()
    }

    /// The JSON frame `{"pkg_id":..,"req_id":"<nil>","data":..}`, built on first use.
    pub fn json_frame(&self) -> &Bytes {
        self.json.get_or_init(|| {
            let data = self.data.get();
            let mut frame = String::with_capacity(data.len() + 80);
            frame.push_str("{\"pkg_id\":");
            frame.push_str(&self.pkg_id.to_string());
            frame.push_str(",\"req_id\":\"00000000-0000-0000-0000-000000000000\",\"data\":");
            frame.push_str(data);
            frame.push('}');
            Bytes::from(frame)
        })
    }
}

/// A frame queued for a connection's writer.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Outbound {
    /// A text frame, already encoded (always valid UTF-8).
    Text(Bytes),
    /// A binary frame, already encoded.
    Binary(Bytes),
    /// A push, encoded by the connection's format.
    Push(Arc<Push>),
}
