//! The protobuf wire format of [protocol §7](crate::protocol#7-protobuf-format): the four
//! messages of package `websocket`, and conversions to and from the JSON envelopes.
//!
//! A client picks the format with `?format=protobuf` at the upgrade (any case); the auth frame
//! and `auth_ok` stay JSON text, every other frame is binary and carries one message:
//! [`Request`] from the client, [`Response`] from the server. A push is a `Response` with the nil
//! `req_id`, `status_code` 0 and no `meta`, so clients tell pushes from answers exactly as JSON
//! clients do. [`Broadcast`] is in the schema for the old design's clients and is never sent.
//!
//! The messages are derived with [`prost`] by hand, so neither this crate nor its users need
//! `protoc` or a build script. The schema they implement ships with the crate as
//! [`PROTO`] (`proto/websocket.proto`); a test encodes and decodes with the real `protoc`
//! against it so the two cannot drift. Clients in other languages generate their code from
//! that file:
//!
//! ```text
#![doc = include_str!("../proto/websocket.proto")]
//! ```
//!
//! # Lossless JSON
//!
//! `data_json` holds the JSON text of `data`: the server sends the very text its JSON frame
//! would carry (`[]` stays `[]`, key order and big integers survive), and reads a request's
//! `data_json` with the same strict rules as a JSON request's `data` (an object; empty means
//! `{}`). Two things the proto3 types force:
//!
//! - `Metadata.next_cursor` is `optional string`, so an absent cursor (`null` in JSON) and an
//!   empty one (`""`) stay apart. On the wire it is the same field 5 as a plain `string`.
//! - `Metadata`'s counts are `int32`: a `total` or `pages` above [`i32::MAX`] is **clamped** to
//!   `i32::MAX` (2 147 483 647), never wrapped to a negative number. JSON clients get the exact
//!   count. (`page` and `per_page` are clamped the same way; the router never produces such
//!   values.)
//!
//! # Examples
//!
//! A client's side of a call: encode a [`Request`], decode the [`Response`].
//!
//! ```
//! use pkg_router::protobuf::{Message, Request, Response};
//! use pkg_router::{ResponseModel, RspCode};
//! use uuid::Uuid;
//!
//! let req_id = Uuid::new_v4();
//! let request = Request::new(3, req_id, r#"{"title": "Dune", "author_id": 1}"#);
//! let bytes = request.encode_to_vec(); // send as a binary frame
//! assert_eq!(Request::decode(&bytes[..])?, request);
//!
//! // What the server answers, as the server builds it from its JSON form:
//! let answer = ResponseModel::success(3, req_id, serde_json::json!({"id": 12}));
//! let frame = Response::from_model(&answer).encode_to_vec();
//!
//! let response = Response::decode(&frame[..])?;
//! assert!(!response.is_push());
//! assert_eq!(response.data_json, r#"{"id":12}"#);
//! assert_eq!(response.to_model()?.status_code, RspCode::Ok);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::envelope::{EnvelopeError, PUSH_REQ_ID, RawRequest, RequestModel, ResponseModel};
use crate::pagination::PageMeta;
use crate::status::RspCode;
use bytes::BufMut;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
use serde_json::value::RawValue;
use uuid::Uuid;

pub use prost::{self, Message};

/// The schema the messages implement (`proto/websocket.proto`, shipped in the crate), for
/// clients that generate code from it.
///
/// # Examples
///
/// ```
/// let proto = pkg_router::protobuf::PROTO;
/// assert!(proto.contains("package websocket;"));
/// assert!(proto.contains("message Response"));
/// ```
pub const PROTO: &str = include_str!("../proto/websocket.proto");

/// A request (client -> server): `Request` of protocol §7.
///
/// # Examples
///
/// ```
/// use pkg_router::protobuf::{Message, Request};
/// use uuid::Uuid;
///
/// let request = Request::new(1, Uuid::nil(), "");
/// // Empty `data_json` means `{}`.
/// assert!(request.to_model()?.data.is_empty());
/// // proto3 leaves default fields out: only the req_id is on the wire.
/// assert_eq!(request.encoded_len(), 2 + 2 + 36);
/// # Ok::<(), pkg_router::envelope::EnvelopeError>(())
/// ```
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Request {
    /// Which handler the request is for (0..=2^31-1; a negative id is `invalid_envelope`).
    #[prost(int32, tag = "1")]
    pub pkg_id: i32,
    /// The correlation id: a UUID in any textual form.
    #[prost(string, tag = "2")]
    pub req_id: String,
    /// Accepted and ignored (the old design's field).
    #[prost(string, tag = "3")]
    pub method: String,
    /// The JSON text of `data`, an object; empty means `{}`.
    #[prost(string, tag = "4")]
    pub data_json: String,
}

/// A response or a push (server -> client): `Response` of protocol §7.
///
/// # Examples
///
/// ```
/// use pkg_router::hub::Push;
/// use pkg_router::protobuf::{Message, Response};
///
/// // A push as a protobuf connection receives it.
/// let push = Push::new(100, &serde_json::json!({"id": 12}))?;
/// let response = Response::decode(&push.protobuf_frame()[..])?;
/// assert!(response.is_push());
/// assert_eq!((response.pkg_id, response.status_code, response.meta), (100, 0, None));
/// assert_eq!(response.data_json, r#"{"id":12}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Response {
    /// The request's `pkg_id` (the push's, for a push).
    #[prost(int32, tag = "1")]
    pub pkg_id: i32,
    /// The request's `req_id`, canonical form; the nil UUID on a push.
    #[prost(string, tag = "2")]
    pub req_id: String,
    /// 0 OK, 1 ERROR, 2 INVALID_DATA, 3 PERMISSION_DENIED ([`RspCode`]).
    #[prost(int32, tag = "3")]
    pub status_code: i32,
    /// The exact JSON text of `data`.
    #[prost(string, tag = "4")]
    pub data_json: String,
    /// Pagination metadata; `None` where JSON has `"meta": null`.
    #[prost(message, optional, tag = "5")]
    pub meta: Option<Metadata>,
}

/// The old design's push message: in the schema for compatibility, never sent (pushes are
/// [`Response`]s).
///
/// # Examples
///
/// ```
/// use pkg_router::protobuf::{Broadcast, Message, Response};
///
/// let old = Broadcast { pkg_id: 100, req_id: "00000000-0000-0000-0000-000000000000".into(), data_json: "{}".into() };
/// assert_eq!(Broadcast::decode(&old.encode_to_vec()[..])?, old);
/// // Its field 3 is a string where Response has the int32 status: a client expecting Responses
/// // (every frame this server sends) cannot read one, which is why pushes are Responses.
/// assert!(Response::decode(&old.encode_to_vec()[..]).is_err());
/// # Ok::<(), pkg_router::protobuf::prost::DecodeError>(())
/// ```
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Broadcast {
    /// The push's `pkg_id`.
    #[prost(int32, tag = "1")]
    pub pkg_id: i32,
    /// The nil UUID.
    #[prost(string, tag = "2")]
    pub req_id: String,
    /// The JSON text of `data`.
    #[prost(string, tag = "3")]
    pub data_json: String,
}

/// Pagination metadata: `Metadata` of protocol §7 ([`PageMeta`] in JSON).
///
/// # Examples
///
/// ```
/// use pkg_router::PageMeta;
/// use pkg_router::protobuf::Metadata;
///
/// let meta = Metadata::from(&PageMeta::offset(1, 20, 45));
/// assert_eq!((meta.total, meta.pages, meta.has_more), (45, 3, true));
/// assert_eq!(meta.next_cursor, None);
///
/// // Counts above i32::MAX are clamped, never wrapped.
/// let huge = Metadata::from(&PageMeta::offset(1, 1, 5_000_000_000));
/// assert_eq!((huge.total, huge.pages), (i32::MAX, i32::MAX));
/// ```
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Metadata {
    /// The page returned (1-based).
    #[prost(int32, tag = "1")]
    pub page: i32,
    /// Items per page.
    #[prost(int32, tag = "2")]
    pub per_page: i32,
    /// Items across all pages, clamped to `i32::MAX`.
    #[prost(int32, tag = "3")]
    pub total: i32,
    /// Number of pages, clamped to `i32::MAX`.
    #[prost(int32, tag = "4")]
    pub pages: i32,
    /// The cursor of the next page: `None` when absent, `Some("")` when empty.
    #[prost(string, optional, tag = "5")]
    pub next_cursor: Option<String>,
    /// Whether more items follow.
    #[prost(bool, tag = "6")]
    pub has_more: bool,
}

/// Why a protobuf message cannot become its JSON form.
///
/// # Examples
///
/// ```
/// use pkg_router::protobuf::{ProtobufError, Response};
///
/// let nil = uuid::Uuid::nil().to_string();
/// let bad = Response { req_id: nil, data_json: "{not json".into(), ..Response::default() };
/// assert!(matches!(bad.to_model(), Err(ProtobufError::Json(_))));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtobufError {
    /// The bytes are not a message of the expected type.
    #[error("not a protobuf message: {0}")]
    Decode(#[from] prost::DecodeError),
    /// `data_json` (or a JSON frame being converted) is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// `req_id` is not a UUID.
    #[error("req_id must be a UUID string")]
    InvalidReqId,
    /// `pkg_id` is negative.
    #[error("pkg_id must be in 0..=2147483647")]
    InvalidPkgId,
    /// `status_code` is not one of 0..=3.
    #[error("unknown status_code {0}")]
    InvalidStatus(i32),
}

/// `u64` -> `int32`, clamped.
fn clamp(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl From<&PageMeta> for Metadata {
    fn from(meta: &PageMeta) -> Self {
        Self {
            page: clamp(meta.page.into()),
            per_page: clamp(meta.per_page.into()),
            total: clamp(meta.total),
            pages: clamp(meta.pages.into()),
            next_cursor: meta.next_cursor.clone(),
            has_more: meta.has_more,
        }
    }
}

impl From<&Metadata> for PageMeta {
    /// Negative counts (which a server never sends) read as 0.
    fn from(meta: &Metadata) -> Self {
        let count = |v: i32| u32::try_from(v).unwrap_or(0);
        Self {
            page: count(meta.page),
            per_page: count(meta.per_page),
            total: count(meta.total).into(),
            pages: count(meta.pages),
            next_cursor: meta.next_cursor.clone(),
            has_more: meta.has_more,
        }
    }
}

fn canonical(req_id: &Uuid) -> String {
    req_id.hyphenated().to_string()
}

impl Request {
    /// A request for `pkg_id` with `data_json` (empty for `{}`).
    ///
    /// # Panics
    ///
    /// Never; a `pkg_id` above `i32::MAX` (not a valid id) is sent as `-1`, which the server
    /// refuses as `invalid_envelope`.
    pub fn new(pkg_id: u32, req_id: Uuid, data_json: impl Into<String>) -> Self {
        Self {
            pkg_id: i32::try_from(pkg_id).unwrap_or(-1),
            req_id: canonical(&req_id),
            method: String::new(),
            data_json: data_json.into(),
        }
    }

    /// The request a [`RequestModel`] describes (`data` written as compact JSON).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::RequestModel;
    /// use pkg_router::protobuf::Request;
    ///
    /// let model = RequestModel::from_json(r#"{"pkg_id": 3, "req_id": "550e8400-e29b-41d4-a716-446655440000", "data": {"a": 1}}"#)?;
    /// let request = Request::from_model(&model);
    /// assert_eq!(request.data_json, r#"{"a":1}"#);
    /// assert_eq!(request.to_model()?, model);
    /// # Ok::<(), pkg_router::envelope::EnvelopeError>(())
    /// ```
    pub fn from_model(model: &RequestModel) -> Self {
        // A map of values with string keys always serializes.
        let data = serde_json::to_string(&model.data).unwrap_or_else(|_| "{}".to_owned());
        Self::new(model.pkg_id, model.req_id, data)
    }

    /// Decodes the envelope strictly, as the server does: the same rules and the same
    /// [`EnvelopeProblem`](crate::envelope::EnvelopeProblem)s as a JSON request
    /// ([`RequestModel::from_json`]).
    ///
    /// # Errors
    ///
    /// A negative `pkg_id`, an empty or invalid `req_id`, `data_json` that is not JSON or not an
    /// object.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::envelope::EnvelopeProblem;
    /// use pkg_router::protobuf::Request;
    /// use uuid::Uuid;
    ///
    /// let problem = |r: Request| r.to_model().unwrap_err().problem;
    /// assert_eq!(problem(Request::new(1, Uuid::nil(), "[]")), EnvelopeProblem::InvalidData);
    /// assert_eq!(problem(Request { req_id: String::new(), ..Request::new(1, Uuid::nil(), "") }), EnvelopeProblem::MissingReqId);
    /// assert_eq!(problem(Request { pkg_id: -5, ..Request::new(1, Uuid::nil(), "") }), EnvelopeProblem::InvalidPkgId);
    /// ```
    pub fn to_model(&self) -> Result<RequestModel, EnvelopeError> {
        RawRequest::from_parts(self.pkg_id, &self.req_id, &self.data_json, |_| true)?.into_request()
    }
}

impl Response {
    /// The protobuf form of a response: `data` as compact JSON, `meta` converted (counts
    /// clamped).
    ///
    /// For a response whose exact JSON text matters, use [`from_json_frame`](Self::from_json_frame).
    pub fn from_model(model: &ResponseModel) -> Self {
        Self {
            pkg_id: clamp(model.pkg_id.into()),
            req_id: canonical(&model.req_id),
            status_code: i32::from(model.status_code.as_u8()),
            // A `Value` always serializes.
            data_json: serde_json::to_string(&model.data).unwrap_or_else(|_| "null".to_owned()),
            meta: model.meta.as_ref().map(Metadata::from),
        }
    }

    /// The protobuf form of a JSON response frame, keeping the exact text of `data`.
    ///
    /// What a bridge between the two formats calls; [`to_json_frame`](Self::to_json_frame)
    /// goes back.
    ///
    /// # Errors
    ///
    /// When `frame` is not a response (or push) envelope.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::protobuf::Response;
    ///
    /// let frame = r#"{"pkg_id":4,"req_id":"550e8400-e29b-41d4-a716-446655440000","status_code":0,"meta":null,"data":{"z":1,"a":18446744073709551616}}"#;
    /// let response = Response::from_json_frame(frame)?;
    /// assert_eq!(response.data_json, r#"{"z":1,"a":18446744073709551616}"#); // exact text
    /// assert_eq!(response.to_json_frame()?, frame);
    /// # Ok::<(), pkg_router::protobuf::ProtobufError>(())
    /// ```
    pub fn from_json_frame(frame: &str) -> Result<Self, ProtobufError> {
        #[derive(serde::Deserialize)]
        struct Envelope<'a> {
            pkg_id: u32,
            req_id: Uuid,
            #[serde(default)]
            status_code: u8,
            #[serde(default)]
            meta: Option<PageMeta>,
            #[serde(borrow)]
            data: &'a RawValue,
        }
        let envelope: Envelope<'_> = serde_json::from_str(frame)?;
        let status = RspCode::from_u8(envelope.status_code)
            .ok_or(ProtobufError::InvalidStatus(envelope.status_code.into()))?;
        Ok(Self {
            pkg_id: i32::try_from(envelope.pkg_id).map_err(|_| ProtobufError::InvalidPkgId)?,
            req_id: canonical(&envelope.req_id),
            status_code: i32::from(status.as_u8()),
            data_json: envelope.data.get().to_owned(),
            meta: envelope.meta.as_ref().map(Metadata::from),
        })
    }

    /// The JSON frame a JSON connection gets for this response, `data` copied verbatim.
    ///
    /// # Errors
    ///
    /// When `req_id`, `pkg_id`, `status_code` or `data_json` is not valid.
    pub fn to_json_frame(&self) -> Result<String, ProtobufError> {
        let (pkg_id, req_id, status) = self.checked()?;
        let data: &RawValue = serde_json::from_str(&self.data_json)?;
        let meta = self.meta.as_ref().map(PageMeta::from);
        let mut out = String::with_capacity(self.data_json.len() + 160);
        out.push_str("{\"pkg_id\":");
        out.push_str(&pkg_id.to_string());
        out.push_str(",\"req_id\":\"");
        out.push_str(&canonical(&req_id));
        out.push_str("\",\"status_code\":");
        out.push_str(&status.as_u8().to_string());
        out.push_str(",\"meta\":");
        out.push_str(&serde_json::to_string(&meta)?);
        out.push_str(",\"data\":");
        out.push_str(data.get());
        out.push('}');
        Ok(out)
    }

    /// The response as a [`ResponseModel`] (`data` parsed).
    ///
    /// # Errors
    ///
    /// When `req_id`, `pkg_id`, `status_code` or `data_json` is not valid.
    pub fn to_model(&self) -> Result<ResponseModel, ProtobufError> {
        let (pkg_id, req_id, status_code) = self.checked()?;
        Ok(ResponseModel {
            pkg_id,
            req_id,
            status_code,
            meta: self.meta.as_ref().map(PageMeta::from),
            data: serde_json::from_str(&self.data_json)?,
        })
    }

    /// Whether this is a push (the nil `req_id`) rather than an answer.
    pub fn is_push(&self) -> bool {
        Uuid::parse_str(&self.req_id).is_ok_and(|id| id.is_nil())
    }

    fn checked(&self) -> Result<(u32, Uuid, RspCode), ProtobufError> {
        let pkg_id = u32::try_from(self.pkg_id).map_err(|_| ProtobufError::InvalidPkgId)?;
        let req_id = Uuid::parse_str(&self.req_id).map_err(|_| ProtobufError::InvalidReqId)?;
        let status = u8::try_from(self.status_code)
            .ok()
            .and_then(RspCode::from_u8)
            .ok_or(ProtobufError::InvalidStatus(self.status_code))?;
        Ok((pkg_id, req_id, status))
    }
}

/// A `Request` read in place, its strings borrowed from the frame (no copies, no allocation).
#[cfg_attr(not(feature = "transport"), allow(dead_code))] // the transport reads them
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RequestRef<'a> {
    pub(crate) pkg_id: i32,
    pub(crate) req_id: &'a str,
    pub(crate) data_json: &'a str,
}

/// Reads a `Request` frame in place. Accepts and refuses exactly what [`Request::decode`]
/// does (the same wire primitives of prost: last value wins, unknown fields skipped, wrong wire
/// types, truncation and invalid UTF-8 refused); the error is prost's text.
#[cfg_attr(not(feature = "transport"), allow(dead_code))] // the transport reads them
pub(crate) fn decode_request(frame: &[u8]) -> Result<RequestRef<'_>, String> {
    use prost::encoding::{DecodeContext, check_wire_type, decode_key, skip_field};
    const FIELDS: [&str; 3] = ["req_id", "method", "data_json"];
    let fail = |field: &str, err: prost::DecodeError| format!("Request.{field}: {err}");
    let mut buf = frame;
    let mut request = RequestRef {
        pkg_id: 0,
        req_id: "",
        data_json: "",
    };
    while !buf.is_empty() {
        let (tag, wire_type) = decode_key(&mut buf).map_err(|e| e.to_string())?;
        match tag {
            1 => {
                check_wire_type(WireType::Varint, wire_type).map_err(|e| fail("pkg_id", e))?;
                // prost's int32: the varint's low 32 bits.
                request.pkg_id =
                    prost::encoding::decode_varint(&mut buf).map_err(|e| fail("pkg_id", e))? as i32;
            }
            2..=4 => {
                let field = FIELDS[tag as usize - 2];
                check_wire_type(WireType::LengthDelimited, wire_type)
                    .map_err(|e| fail(field, e))?;
                let len = prost::encoding::decode_varint(&mut buf).map_err(|e| fail(field, e))?;
                let Some((bytes, rest)) = usize::try_from(len)
                    .ok()
                    .and_then(|len| buf.split_at_checked(len))
                else {
                    return Err(format!("Request.{field}: buffer underflow"));
                };
                buf = rest;
                let text = std::str::from_utf8(bytes).map_err(|_| {
                    format!("Request.{field}: invalid string value: data is not UTF-8 encoded")
                })?;
                match tag {
                    2 => request.req_id = text,
                    4 => request.data_json = text,
                    _ => {}
                }
            }
            _ => skip_field(wire_type, tag, &mut buf, DecodeContext::default())
                .map_err(|e| e.to_string())?,
        }
    }
    Ok(request)
}

/// Encodes a `Response` from borrowed parts, with no intermediate copies: what the transport
/// sends. Byte for byte what `prost` writes for the same [`Response`] (fields in order, proto3
/// defaults left out).
#[cfg_attr(not(feature = "transport"), allow(dead_code))] // the transport sends them
pub(crate) fn encode_response(
    pkg_id: u32,
    req_id: &Uuid,
    status: u8,
    meta: Option<&PageMeta>,
    data_json: &str,
) -> Vec<u8> {
    let mut req_buf = Uuid::encode_buffer();
    let req_id = req_id.hyphenated().encode_lower(&mut req_buf);
    let meta = meta.map(Metadata::from);
    let meta_len = meta.as_ref().map(Message::encoded_len);
    let mut len = 0;
    len += int32_len(1, clamp(pkg_id.into()));
    len += str_len(2, req_id);
    len += int32_len(3, i32::from(status));
    len += str_len(4, data_json);
    if let Some(meta_len) = meta_len {
        len += 1 + encoded_len_varint(meta_len as u64) + meta_len;
    }
    let mut buf = Vec::with_capacity(len);
    put_int32(&mut buf, 1, clamp(pkg_id.into()));
    put_str(&mut buf, 2, req_id);
    put_int32(&mut buf, 3, i32::from(status));
    put_str(&mut buf, 4, data_json);
    if let (Some(meta), Some(meta_len)) = (meta, meta_len) {
        encode_key(5, WireType::LengthDelimited, &mut buf);
        encode_varint(meta_len as u64, &mut buf);
        // Writing into a `Vec` cannot run out of room.
        let _ = meta.encode(&mut buf);
    }
    buf
}

/// The `Response` frame of a [`ResponseModel`].
#[cfg_attr(not(feature = "transport"), allow(dead_code))] // the transport sends them
pub(crate) fn encode_model(model: &ResponseModel) -> Vec<u8> {
    // A `Value` always serializes; this is the text `ResponseModel::to_json` writes for `data`.
    let data = serde_json::to_string(&model.data).unwrap_or_else(|_| "null".to_owned());
    encode_response(
        model.pkg_id,
        &model.req_id,
        model.status_code.as_u8(),
        model.meta.as_ref(),
        &data,
    )
}

/// The frame of a push on a protobuf connection.
pub(crate) fn encode_push(pkg_id: u32, data_json: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(data_json.len() + 48);
    put_int32(&mut buf, 1, clamp(pkg_id.into()));
    put_str(&mut buf, 2, PUSH_REQ_ID);
    put_str(&mut buf, 4, data_json);
    buf
}

#[cfg_attr(not(feature = "transport"), allow(dead_code))] // the transport sends them
fn int32_len(_tag: u32, value: i32) -> usize {
    // Tags 1-15 take one byte; negative values (never written here) take ten.
    if value == 0 {
        0
    } else {
        1 + encoded_len_varint(value as i64 as u64)
    }
}

#[cfg_attr(not(feature = "transport"), allow(dead_code))] // the transport sends them
fn str_len(_tag: u32, value: &str) -> usize {
    if value.is_empty() {
        0
    } else {
        1 + encoded_len_varint(value.len() as u64) + value.len()
    }
}

fn put_int32(buf: &mut Vec<u8>, tag: u32, value: i32) {
    if value != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(value as i64 as u64, buf);
    }
}

fn put_str(buf: &mut Vec<u8>, tag: u32, value: &str) {
    if !value.is_empty() {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(value.len() as u64, buf);
        buf.put_slice(value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Structured and random byte strings: the in-place reader and prost agree on every one.
    #[test]
    fn the_in_place_reader_reads_what_prost_reads() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let good = Request {
            pkg_id: 3,
            req_id: Uuid::nil().to_string(),
            method: "m".into(),
            data_json: r#"{"a":"é"}"#.into(),
        }
        .encode_to_vec();
        let mut inputs: Vec<Vec<u8>> = vec![
            vec![],
            good.clone(),
            [good.clone(), good.clone()].concat(),
            vec![0x08, 0xff, 0xff, 0xff, 0xff, 0x0f], // pkg_id -1 in five bytes
            vec![0x0b, 0x0c],                         // an empty group, field 1
            vec![0x2b, 0x08, 0x01, 0x2c],             // a group, field 5
            vec![0x0c],                               // an end group without a start
            vec![0x00],                               // tag 0
            vec![0x12, 0x02, 0xc3, 0x28],             // invalid UTF-8
            vec![0x22, 0x05, b'{'],                   // truncated
        ];
        for _ in 0..20_000 {
            let mut input = if next() % 2 == 0 {
                good.clone()
            } else {
                Vec::new()
            };
            for _ in 0..next() % 6 {
                let at = (next() as usize) % (input.len() + 1);
                match next() % 3 {
                    0 if at < input.len() => input[at] = next() as u8,
                    1 => input.insert(at, next() as u8),
                    _ => input.truncate(at),
                }
            }
            inputs.push(input);
        }
        for input in inputs {
            let ours = decode_request(&input);
            let theirs = Request::decode(&input[..]);
            match (&ours, &theirs) {
                (Ok(ours), Ok(theirs)) => assert_eq!(
                    (ours.pkg_id, ours.req_id, ours.data_json),
                    (theirs.pkg_id, &*theirs.req_id, &*theirs.data_json),
                    "{input:x?}"
                ),
                (Err(_), Err(_)) => {}
                _ => panic!("{input:x?}: ours {ours:?}, prost {theirs:?}"),
            }
        }
    }

    #[test]
    fn the_borrowed_encoder_writes_what_prost_writes() {
        let req_id = Uuid::new_v4();
        let metas = [
            None,
            Some(PageMeta::offset(2, 20, 45)),
            Some(PageMeta::cursor(20, Some(String::new()))),
            Some(PageMeta::offset(1, 1, u64::MAX)),
        ];
        for meta in metas {
            for (pkg_id, status, data) in [
                (0, 0, "{}"),
                (3, 2, r#"{"a":[]}"#),
                (i32::MAX as u32, 1, ""),
            ] {
                let ours = encode_response(pkg_id, &req_id, status, meta.as_ref(), data);
                let theirs = Response {
                    pkg_id: pkg_id as i32,
                    req_id: req_id.to_string(),
                    status_code: status.into(),
                    data_json: data.to_owned(),
                    meta: meta.as_ref().map(Metadata::from),
                }
                .encode_to_vec();
                assert_eq!(ours, theirs, "{pkg_id} {status} {data} {meta:?}");
            }
        }
        let push = Response {
            pkg_id: 100,
            req_id: PUSH_REQ_ID.to_owned(),
            data_json: "[1]".to_owned(),
            ..Response::default()
        };
        assert_eq!(encode_push(100, "[1]"), push.encode_to_vec());
    }
}
