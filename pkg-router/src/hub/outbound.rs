use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

/// WebSocket close codes used by the transport
/// ([protocol §6](crate::protocol#6-connection-lifecycle)).
///
/// Clients branch on them to decide whether to reconnect, re-authenticate or give up.
///
/// # Examples
///
/// A client's reconnect policy:
///
/// ```
/// use pkg_router::hub::close_code;
///
/// #[derive(Debug, PartialEq)]
/// enum Next { Reconnect, Relogin, GiveUp }
///
/// fn after_close(code: u16) -> Next {
///     match code {
///         close_code::NORMAL | close_code::GOING_AWAY => Next::Reconnect,
///         close_code::AUTH_FAILED | close_code::AUTH_TIMEOUT => Next::Relogin,
///         _ => Next::GiveUp,
///     }
/// }
///
/// assert_eq!(after_close(1001), Next::Reconnect);
/// assert_eq!(after_close(4001), Next::Relogin);
/// assert_eq!(after_close(close_code::TOO_BIG), Next::GiveUp);
/// ```
pub mod close_code {
    /// Normal closure.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pkg_router::hub::close_code::NORMAL, 1000);
    /// ```
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::{close_code, CloseReason};
    ///
    /// assert_eq!(close_code::GOING_AWAY, 1001);
    /// assert_eq!(CloseReason::going_away().code, close_code::GOING_AWAY);
    /// ```
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the WebSocket protocol (RFC 6455 framing rules).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pkg_router::hub::close_code::PROTOCOL_ERROR, 1002);
    /// ```
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text message that is not valid UTF-8 (RFC 6455: "invalid frame payload data").
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pkg_router::hub::close_code::INVALID_PAYLOAD, 1007);
    /// ```
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// The connection was lost without a close frame. Never sent on the wire (RFC 6455
    /// section 7.1.5): it is what lifecycle hooks and logs report for such an end.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pkg_router::hub::close_code::ABNORMAL, 1006);
    /// ```
    pub const ABNORMAL: u16 = 1006;
    /// Policy violation: too many connections for the principal, slow consumer, too many
    /// malformed frames, keepalive timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::{close_code, CloseReason};
    ///
    /// assert_eq!(close_code::POLICY, 1008);
    /// assert_eq!(CloseReason::slow_consumer().code, close_code::POLICY);
    /// ```
    pub const POLICY: u16 = 1008;
    /// A message larger than the configured maximum.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pkg_router::hub::close_code::TOO_BIG, 1009);
    /// ```
    pub const TOO_BIG: u16 = 1009;
    /// The server cannot take the connection now (a shared limit's store is unreachable and
    /// [`FailMode::Closed`](crate::transport::FailMode::Closed) is set); retry later.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pkg_router::hub::close_code::TRY_AGAIN_LATER, 1013);
    /// ```
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// Authentication failed: bad auth frame, bad or expired token.
    ///
    /// In the application range (4000-4999) of RFC 6455, so clients can tell it from protocol
    /// errors.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pkg_router::hub::close_code::AUTH_FAILED, 4001);
    /// ```
    pub const AUTH_FAILED: u16 = 4001;
    /// No auth frame within the auth timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(pkg_router::hub::close_code::AUTH_TIMEOUT, 4002);
    /// ```
    pub const AUTH_TIMEOUT: u16 = 4002;
}

/// The longest close reason, in bytes (RFC 6455: 125-byte control payload, 2 for the code).
pub const MAX_REASON_BYTES: usize = 123;

/// Why the server closes a connection: the close frame's code and reason (cut to
/// [`MAX_REASON_BYTES`]).
///
/// Given to [`Hub::close`](crate::Hub::close), [`Hub::close_principal`](crate::Hub::close_principal)
/// or [`Audience::close`](crate::hub::Audience::close); the transport turns it into the close
/// frame.
///
/// # Examples
///
/// ```
/// use pkg_router::hub::{close_code, CloseReason};
///
/// let reason = CloseReason::new(close_code::POLICY, "banned");
/// assert_eq!((reason.code, &*reason.reason), (1008, "banned"));
/// assert_ne!(reason, CloseReason::slow_consumer()); // same code, another reason
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseReason {
    /// The close code (see [`close_code`]).
    pub code: u16,
    /// A short human-readable reason.
    pub reason: Cow<'static, str>,
}

impl CloseReason {
    /// A close reason. Keep `reason` short: a close frame holds at most 123 bytes of it.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::TestHub;
    /// use pkg_router::hub::{close_code, CloseReason};
    ///
    /// let hub = TestHub::new();
    /// let conn = hub.connect_as("ann", [] as [&str; 0]);
    ///
    /// hub.close(conn.id(), CloseReason::new(close_code::NORMAL, format!("session {} ended", conn.id())));
    /// let reason = conn.closed().unwrap();
    /// assert_eq!(reason.code, 1000);
    /// assert!(reason.reason.starts_with("session c"));
    /// // Cut to what a close frame holds, on a character boundary.
    /// assert_eq!(CloseReason::new(1000, "é".repeat(100)).reason.len(), 122);
    /// ```
    pub fn new(code: u16, reason: impl Into<Cow<'static, str>>) -> Self {
        let mut reason = reason.into();
        if reason.len() > MAX_REASON_BYTES {
            // A close frame's payload is at most 125 bytes (2 of them the code): a longer reason
            // would make the peer fail the close with a protocol error instead of reading it.
            let mut cut = MAX_REASON_BYTES;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason = Cow::Owned(reason[..cut].to_owned());
        }
        Self { code, reason }
    }

    /// 1008 "slow consumer": the connection's outbound queue was full.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::CloseReason;
    ///
    /// let reason = CloseReason::slow_consumer();
    /// assert_eq!((reason.code, &*reason.reason), (1008, "slow consumer"));
    /// ```
    pub fn slow_consumer() -> Self {
        Self::new(close_code::POLICY, "slow consumer")
    }

    /// 1001 "server shutting down": what every connection gets at the end of
    /// [`Hub::shutdown`](crate::Hub::shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::CloseReason;
    ///
    /// let reason = CloseReason::going_away();
    /// assert_eq!((reason.code, &*reason.reason), (1001, "server shutting down"));
    /// ```
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
/// use pkg_router::hub::Push;
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
    #[cfg(feature = "protobuf")]
    protobuf: OnceLock<Bytes>,
}

impl Push {
    /// A push of `data` under `pkg_id`.
    ///
    /// [`Hub::broadcast`](crate::Hub::broadcast) builds one for you; build it yourself to relay
    /// one ([`Audience::push_built`](crate::hub::Audience::push_built)) or in a backend.
    ///
    /// # Errors
    ///
    /// When `data` does not serialize.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::Push;
    /// use std::collections::HashMap;
    ///
    /// let push = Push::new(100, &vec!["a", "b"])?;
    /// assert_eq!(push.data_json(), r#"["a","b"]"#);
    ///
    /// // JSON object keys must be strings.
    /// let bad: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
    /// assert!(Push::new(100, &bad).is_err());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn new<T: Serialize + ?Sized>(pkg_id: u32, data: &T) -> Result<Self, serde_json::Error> {
        Ok(Self {
            pkg_id,
            data: serde_json::value::to_raw_value(data)?,
            json: OnceLock::new(),
            #[cfg(feature = "protobuf")]
            protobuf: OnceLock::new(),
        })
    }

    /// A push read back from its JSON frame (as another node published it).
    ///
    /// # Errors
    ///
    /// When `frame` is not a broadcast envelope.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::Push;
    ///
    /// let frame = br#"{"pkg_id":100,"req_id":"00000000-0000-0000-0000-000000000000","data":{"id":3}}"#;
    /// let push = Push::from_json_frame(frame)?;
    /// assert_eq!((push.pkg_id(), push.data_json()), (100, r#"{"id":3}"#));
    /// assert_eq!(&push.json_frame()[..], &frame[..]); // reused, not rebuilt
    ///
    /// assert!(Push::from_json_frame(br#"{"data":{}}"#).is_err()); // no pkg_id
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_json_frame(frame: &[u8]) -> Result<Self, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct Envelope {
            pkg_id: u32,
            req_id: uuid::Uuid,
            data: Box<RawValue>,
        }
        let envelope: Envelope = serde_json::from_slice(frame)?;
        if !envelope.req_id.is_nil() {
            return Err(<serde_json::Error as serde::de::Error>::custom(
                "a broadcast carries the nil req_id",
            ));
        }
        // Rebuilt rather than forwarded, so clients get exactly the envelope we would send.
        Ok(Self {
            pkg_id: envelope.pkg_id,
            data: envelope.data,
            json: OnceLock::new(),
            #[cfg(feature = "protobuf")]
            protobuf: OnceLock::new(),
        })
    }

    /// The push's package id.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::Push;
    ///
    /// assert_eq!(Push::new(100, "hi")?.pkg_id(), 100);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn pkg_id(&self) -> u32 {
        self.pkg_id
    }

    /// The JSON text of `data`, serialized once when the push was made.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::Push;
    ///
    /// let push = Push::new(100, &serde_json::json!({"id": 12}))?;
    /// let data: serde_json::Value = serde_json::from_str(push.data_json())?;
    /// assert_eq!(data["id"], 12);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn data_json(&self) -> &str {
        self.data.get()
    }

    /// The JSON frame `{"pkg_id":..,"req_id":"<nil>","data":..}`, built on first use.
    ///
    /// Every JSON connection the push goes to sends these same bytes; cloning the returned
    /// [`Bytes`] is cheap (reference counted).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::envelope::BroadcastModel;
    /// use pkg_router::hub::Push;
    /// use serde_json::json;
    ///
    /// let push = Push::new(100, &json!({"id": 12}))?;
    /// let frame = push.json_frame();
    /// assert_eq!(&frame[..], BroadcastModel::new(100, json!({"id": 12})).to_json().as_bytes());
    /// assert_eq!(frame.as_ptr(), push.json_frame().as_ptr()); // built once
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn json_frame(&self) -> &Bytes {
        self.json.get_or_init(|| {
            let data = self.data.get();
            let mut frame = String::with_capacity(data.len() + 80);
            frame.push_str("{\"pkg_id\":");
            frame.push_str(&self.pkg_id.to_string());
            frame.push_str(",\"req_id\":\"");
            frame.push_str(crate::envelope::PUSH_REQ_ID);
            frame.push_str("\",\"data\":");
            frame.push_str(data);
            frame.push('}');
            Bytes::from(frame)
        })
    }

    /// The protobuf frame: a `Response` with the nil `req_id`, `status_code` 0, no `meta` and
    /// the exact `data` text ([protocol §7](crate::protocol#7-protobuf-format)), built on first
    /// use.
    ///
    /// Every protobuf connection the push goes to sends these same bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::hub::Push;
    /// use pkg_router::protobuf::{Message, Response};
    ///
    /// let push = Push::new(100, &serde_json::json!({"id": 12}))?;
    /// let frame = push.protobuf_frame();
    /// let response = Response::decode(&frame[..])?;
    /// assert_eq!(response.req_id, "00000000-0000-0000-0000-000000000000");
    /// assert_eq!((response.pkg_id, response.status_code, response.meta), (100, 0, None));
    /// assert_eq!(response.data_json, push.data_json());
    /// assert_eq!(frame.as_ptr(), push.protobuf_frame().as_ptr()); // built once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "protobuf")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
    pub fn protobuf_frame(&self) -> &Bytes {
        self.protobuf
            .get_or_init(|| Bytes::from(crate::protobuf::encode_push(self.pkg_id, self.data.get())))
    }
}

/// A frame queued for a connection: an encoded answer, or a push the connection encodes in its
/// own format.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "transport"), allow(dead_code))] // answers are queued by the transport
pub(crate) enum Outbound {
    /// A text frame, already encoded (always valid UTF-8).
    Text(Bytes),
    /// A binary frame, already encoded (the protobuf format's answers).
    #[allow(dead_code)]
    Binary(Bytes),
    /// A push, encoded by the connection's format.
    Push(Arc<Push>),
}
