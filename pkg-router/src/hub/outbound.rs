use bytes::Bytes;
use std::borrow::Cow;

/// WebSocket close codes used by the transport (PROTOCOL.md section 6).
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// Policy violation: too many connections for the principal, slow consumer, too many
    /// malformed frames.
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

/// A frame queued for a connection's writer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outbound {
    /// A JSON text frame (always valid UTF-8).
    Text(Bytes),
    /// A binary frame.
    Binary(Bytes),
}
