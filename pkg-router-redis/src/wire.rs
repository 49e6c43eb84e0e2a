//! What travels on the channel: one message per hub event or heartbeat.
//!
//! A message is a one-line JSON header, a newline, then (for a push) the push's JSON frame,
//! byte for byte as every client receives it:
//!
//! ```text
//! {"v":1,"node":"3f0c…","seq":17,"kind":"push","target":{"room":"book-12"}}
//! {"pkg_id":100,"req_id":"00000000-0000-0000-0000-000000000000","data":{"id":12}}
//! ```
//!
//! `kind` is `push`, `close` (with `code` and `reason`) or `beat` (the watchdog's heartbeat).
//! `seq` counts the messages of one node, so a receiver can tell when it missed some. `at` is
//! when the sender queued it (its wall clock, ms since the Unix epoch), so a receiver can drop
//! what Redis delivered late (a batch that sat in a stalled server's socket).

use bytes::{BufMut, Bytes, BytesMut};
use pkg_router::hub::{CloseReason, HubEvent, Push, Target};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The wire version this build writes and reads.
const VERSION: u8 = 1;

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum WireTarget {
    All,
    Principal(String),
    Roles(Vec<String>),
    Room(String),
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Push,
    Close,
    Beat,
}

#[derive(Serialize, Deserialize, Debug)]
struct Header<'a> {
    v: u8,
    #[serde(borrow)]
    node: &'a str,
    seq: u64,
    /// When the sender queued it, ms since the Unix epoch (0: unknown).
    #[serde(default)]
    at: u64,
    kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<WireTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Why an event could not be encoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EncodeError {
    /// A target or event kind this version does not know (both enums are non-exhaustive).
    Unsupported,
}

/// A message read from the channel.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A hub event from node `node`.
    Event {
        node: String,
        seq: u64,
        /// When the sender queued it (ms since the Unix epoch; 0: unknown).
        at: u64,
        event: HubEvent,
    },
    /// A heartbeat of node `node`.
    Beat { node: String, seq: u64 },
}

impl Incoming {
    pub(crate) fn node(&self) -> &str {
        match self {
            Self::Event { node, .. } | Self::Beat { node, .. } => node,
        }
    }

    pub(crate) fn seq(&self) -> u64 {
        match self {
            Self::Event { seq, .. } | Self::Beat { seq, .. } => *seq,
        }
    }
}

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("no header line")]
    NoHeader,
    #[error("bad header: {0}")]
    Header(#[from] serde_json::Error),
    #[error("wire version {0} is not supported")]
    Version(u8),
    #[error("a {0:?} message without its target, code or frame")]
    Incomplete(&'static str),
    #[error("bad push frame: {0}")]
    Frame(serde_json::Error),
}

fn target_to_wire(target: &Target) -> Result<WireTarget, EncodeError> {
    Ok(match target {
        Target::All => WireTarget::All,
        Target::Principal(id) => WireTarget::Principal(id.clone()),
        Target::Roles(roles) => WireTarget::Roles(roles.clone()),
        Target::Room(room) => WireTarget::Room(room.clone()),
        _ => return Err(EncodeError::Unsupported),
    })
}

fn target_from_wire(target: WireTarget) -> Target {
    match target {
        WireTarget::All => Target::All,
        WireTarget::Principal(id) => Target::Principal(id),
        WireTarget::Roles(roles) => Target::Roles(roles),
        WireTarget::Room(room) => Target::Room(room),
    }
}

fn write(header: &Header<'_>, frame: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(96 + frame.len());
    // Serializing a struct of strings and numbers into memory cannot fail.
    let _ = serde_json::to_writer((&mut out).writer(), header);
    out.put_u8(b'\n');
    out.put_slice(frame);
    out.freeze()
}

/// The message for `event`, sent by `node` as its `seq`th.
pub(crate) fn encode(
    node: &str,
    seq: u64,
    at: u64,
    event: &HubEvent,
) -> Result<Bytes, EncodeError> {
    let (kind, target, frame, code, reason) = match event {
        HubEvent::Push { target, push } => {
            (Kind::Push, target, push.json_frame().as_ref(), None, None)
        }
        HubEvent::Close { target, reason } => (
            Kind::Close,
            target,
            &[][..],
            Some(reason.code),
            Some(reason.reason.to_string()),
        ),
        _ => return Err(EncodeError::Unsupported),
    };
    let header = Header {
        v: VERSION,
        node,
        seq,
        at,
        kind,
        target: Some(target_to_wire(target)?),
        code,
        reason,
    };
    Ok(write(&header, frame))
}

/// A heartbeat of `node`.
pub(crate) fn beat(node: &str, seq: u64) -> Bytes {
    let header = Header {
        v: VERSION,
        node,
        seq,
        at: 0,
        kind: Kind::Beat,
        target: None,
        code: None,
        reason: None,
    };
    write(&header, &[])
}

/// Reads one message.
pub(crate) fn decode(message: &[u8]) -> Result<Incoming, DecodeError> {
    let at = message
        .iter()
        .position(|b| *b == b'\n')
        .ok_or(DecodeError::NoHeader)?;
    let (head, frame) = (&message[..at], &message[at + 1..]);
    let header: Header<'_> = serde_json::from_slice(head)?;
    if header.v != VERSION {
        return Err(DecodeError::Version(header.v));
    }
    let node = header.node.to_owned();
    let seq = header.seq;
    let at = header.at;
    let event = match header.kind {
        Kind::Beat => return Ok(Incoming::Beat { node, seq }),
        Kind::Push => {
            let target = header.target.ok_or(DecodeError::Incomplete("push"))?;
            let push = Push::from_json_frame(frame).map_err(DecodeError::Frame)?;
            HubEvent::Push {
                target: target_from_wire(target),
                push: Arc::new(push),
            }
        }
        Kind::Close => {
            let (Some(target), Some(code)) = (header.target, header.code) else {
                return Err(DecodeError::Incomplete("close"));
            };
            HubEvent::Close {
                target: target_from_wire(target),
                reason: CloseReason::new(code, header.reason.unwrap_or_default()),
            }
        }
    };
    Ok(Incoming::Event {
        node,
        seq,
        at,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(target: Target) -> HubEvent {
        HubEvent::Push {
            target,
            push: Arc::new(Push::new(100, &serde_json::json!({"id": 12, "t": "a\nb"})).unwrap()),
        }
    }

    #[test]
    fn every_target_round_trips_and_the_frame_is_forwarded_unchanged() {
        for target in [
            Target::All,
            Target::principal("ann"),
            Target::roles(["a", "b"]),
            Target::room("book-12"),
        ] {
            let event = push(target.clone());
            let HubEvent::Push { push: sent, .. } = &event else {
                unreachable!()
            };
            let message = encode("node-a", 7, 1_700_000_000_000, &event).unwrap();
            let Incoming::Event {
                node,
                seq,
                at,
                event,
            } = decode(&message).unwrap()
            else {
                panic!("not an event")
            };
            assert_eq!((node.as_str(), seq, at), ("node-a", 7, 1_700_000_000_000));
            assert_eq!(event.target(), &target);
            let HubEvent::Push { push: got, .. } = event else {
                panic!("not a push")
            };
            assert_eq!(got.json_frame(), sent.json_frame());
        }
    }

    #[test]
    fn a_close_carries_its_code_and_reason() {
        let event = HubEvent::Close {
            target: Target::principal("mallory"),
            reason: CloseReason::new(1008, "banned"),
        };
        let message = encode("n", 1, 0, &event).unwrap();
        let Incoming::Event { event, .. } = decode(&message).unwrap() else {
            panic!("not an event")
        };
        let HubEvent::Close { target, reason } = event else {
            panic!("not a close")
        };
        assert_eq!(target, Target::principal("mallory"));
        assert_eq!(reason, CloseReason::new(1008, "banned"));
    }

    #[test]
    fn heartbeats_and_garbage() {
        let Incoming::Beat { node, seq } = decode(&beat("n", 3)).unwrap() else {
            panic!("not a beat")
        };
        assert_eq!((node.as_str(), seq), ("n", 3));
        assert!(matches!(decode(b"hello"), Err(DecodeError::NoHeader)));
        assert!(matches!(decode(b"{}\n"), Err(DecodeError::Header(_))));
        let future = br#"{"v":2,"node":"n","seq":1,"kind":"beat"}"#.to_vec();
        assert!(matches!(
            decode(&[future, b"\n".to_vec()].concat()),
            Err(DecodeError::Version(2))
        ));
        let no_frame = br#"{"v":1,"node":"n","seq":1,"kind":"push","target":"all"}"#;
        assert!(matches!(
            decode(&[&no_frame[..], b"\n"].concat()),
            Err(DecodeError::Frame(_))
        ));
    }
}
