//! [`Reply`]: a response on its way out of a handler.

use crate::envelope::ResponseModel;
use crate::pagination::PageMeta;
use crate::status::RspCode;
use serde::Serialize;
use serde_json::Value;
use std::ops::Range;
use uuid::Uuid;

/// What a handler's return value becomes: a [`ResponseModel`], or a successful result whose
/// `data` is already serialized.
///
/// The second form exists for speed: a handler returning `Result<Book, _>` has `Book` written
/// once, straight into the frame, instead of being turned into a `serde_json::Value` first.
/// [`into_model`](Self::into_model) gives the [`ResponseModel`] either way.
///
/// # Examples
///
/// ```
/// use pkg_router::{ResponseModel, RspCode};
/// use pkg_router::handler::Reply;
/// use uuid::Uuid;
///
/// let reply = Reply::serialize(4, Uuid::nil(), &vec![1, 2, 3]);
/// assert!(reply.to_json().ends_with(r#""status_code":0,"meta":null,"data":[1,2,3]}"#));
/// assert_eq!(reply.into_model().data, serde_json::json!([1, 2, 3]));
///
/// let reply = Reply::from(ResponseModel::err_msg(4, Uuid::nil(), "nope", RspCode::Error));
/// assert_eq!(reply.status_code(), RspCode::Error);
/// ```
#[derive(Clone, Debug)]
pub struct Reply(Repr);

#[derive(Clone, Debug)]
enum Repr {
    Model(ResponseModel),
    /// A successful response already written as its JSON frame; `data` locates the payload in it.
    Frame {
        pkg_id: u32,
        req_id: Uuid,
        meta: Option<PageMeta>,
        json: String,
        data: Range<usize>,
    },
}

impl Reply {
    /// A successful reply with `data` serialized now, straight into the response frame.
    ///
    /// A value that fails to serialize (a map with non-string keys, a failing custom `Serialize`)
    /// is the handler's bug: the reply becomes `ERROR`/`internal_error` and the cause is logged.
    ///
    /// Use it in an [`IntoResponse`](crate::handler::IntoResponse) implementation that answers with a
    /// large serializable value.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::RspCode;
    /// use pkg_router::handler::Reply;
    /// use std::collections::BTreeMap;
    /// use uuid::Uuid;
    ///
    /// #[derive(serde::Serialize)]
    /// struct Book { id: u32, title: &'static str }
    ///
    /// let reply = Reply::serialize(5, Uuid::nil(), &Book { id: 1, title: "Dune" });
    /// assert_eq!(
    ///     reply.to_json(),
    ///     r#"{"pkg_id":5,"req_id":"00000000-0000-0000-0000-000000000000","status_code":0,"meta":null,"data":{"id":1,"title":"Dune"}}"#
    /// );
    ///
    /// // JSON object keys must be strings: this cannot serialize.
    /// let bad: BTreeMap<(u8, u8), u8> = BTreeMap::from([((1, 2), 3)]);
    /// let reply = Reply::serialize(5, Uuid::nil(), &bad);
    /// assert_eq!(reply.status_code(), RspCode::Error);
    /// assert_eq!(reply.into_model().error_body().unwrap().code, "internal_error");
    /// ```
    pub fn serialize<T: Serialize + ?Sized>(pkg_id: u32, req_id: Uuid, data: &T) -> Self {
        Self::frame(pkg_id, req_id, None, data)
    }

    /// Like [`serialize`](Self::serialize), with pagination metadata.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::PageMeta;
    /// use pkg_router::handler::Reply;
    /// use uuid::Uuid;
    ///
    /// let reply = Reply::serialize_page(4, Uuid::nil(), PageMeta::offset(2, 2, 3), &["c"]);
    /// let model = reply.into_model();
    /// assert_eq!(model.data, serde_json::json!(["c"]));
    /// assert_eq!(model.meta, Some(PageMeta::offset(2, 2, 3)));
    /// ```
    pub fn serialize_page<T: Serialize + ?Sized>(
        pkg_id: u32,
        req_id: Uuid,
        meta: PageMeta,
        data: &T,
    ) -> Self {
        Self::frame(pkg_id, req_id, Some(meta), data)
    }

    fn frame<T: Serialize + ?Sized>(
        pkg_id: u32,
        req_id: Uuid,
        meta: Option<PageMeta>,
        data: &T,
    ) -> Self {
        match write_frame(pkg_id, &req_id, meta.as_ref(), data) {
            Ok((json, data)) => Self(Repr::Frame {
                pkg_id,
                req_id,
                meta,
                json,
                data,
            }),
            Err(err) => {
                // Escaped: a custom `Serialize` error may quote the data.
                tracing::error!(pkg_id, %req_id, error = ?err.to_string(), "handler result does not serialize");
                crate::HandlerError::internal(err)
                    .to_response(pkg_id, req_id)
                    .into()
            }
        }
    }

    /// The status, without building the whole [`ResponseModel`].
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, RspCode};
    /// use pkg_router::handler::Reply;
    /// use uuid::Uuid;
    ///
    /// assert_eq!(Reply::serialize(1, Uuid::nil(), "ok").status_code(), RspCode::Ok);
    /// let denied = Reply::from(HandlerError::permission_denied("no").to_response(1, Uuid::nil()));
    /// assert_eq!(denied.status_code(), RspCode::PermissionDenied);
    /// ```
    pub fn status_code(&self) -> RspCode {
        match &self.0 {
            Repr::Model(model) => model.status_code,
            Repr::Frame { .. } => RspCode::Ok,
        }
    }

    /// Whether this answers a malformed frame (`invalid_envelope`).
    pub(crate) fn is_invalid_envelope(&self) -> bool {
        match &self.0 {
            Repr::Model(model) => {
                model.status_code == RspCode::InvalidData
                    && model.data.get("code").and_then(Value::as_str)
                        == Some(crate::error_code::INVALID_ENVELOPE)
            }
            Repr::Frame { .. } => false,
        }
    }

    /// The wire text (a copy; see [`into_json`](Self::into_json) to avoid it).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::ResponseModel;
    /// use pkg_router::handler::Reply;
    /// use uuid::Uuid;
    ///
    /// let model = ResponseModel::success(1, Uuid::nil(), 42);
    /// assert_eq!(Reply::from(model.clone()).to_json(), model.to_json());
    /// assert_eq!(Reply::serialize(1, Uuid::nil(), &42).to_json(), model.to_json());
    /// ```
    pub fn to_json(&self) -> String {
        match &self.0 {
            Repr::Model(model) => model.to_json(),
            Repr::Frame { json, .. } => json.clone(),
        }
    }

    /// The wire text, without copying it when it is already written.
    ///
    /// What a transport calls to send the reply.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::handler::Reply;
    /// use uuid::Uuid;
    ///
    /// let reply = Reply::serialize(1, Uuid::nil(), &[1, 2]);
    /// let expected = reply.to_json();
    /// assert_eq!(reply.into_json(), expected);
    /// assert!(expected.ends_with(r#""data":[1,2]}"#));
    /// ```
    pub fn into_json(self) -> String {
        match self.0 {
            Repr::Model(model) => model.to_json(),
            Repr::Frame { json, .. } => json,
        }
    }

    /// The protobuf `Response` frame ([protocol §7](crate::protocol#7-protobuf-format)):
    /// `data_json` is the exact text the JSON frame carries.
    #[cfg(feature = "protobuf")]
    #[cfg_attr(not(feature = "transport"), allow(dead_code))] // the transport sends it
    pub(crate) fn to_protobuf(&self) -> Vec<u8> {
        match &self.0 {
            Repr::Model(model) => crate::protobuf::encode_model(model),
            Repr::Frame {
                pkg_id,
                req_id,
                meta,
                json,
                data,
            } => crate::protobuf::encode_response(
                *pkg_id,
                req_id,
                RspCode::Ok.as_u8(),
                meta.as_ref(),
                // serde_json wrote this text a moment ago; the range is within it.
                json.get(data.clone()).unwrap_or("null"),
            ),
        }
    }

    /// The reply as a [`ResponseModel`] (parsing `data` back if it was already serialized).
    ///
    /// For tests and in-process callers; transports send [`into_json`](Self::into_json).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::RspCode;
    /// use pkg_router::handler::Reply;
    /// use serde_json::json;
    /// use uuid::Uuid;
    ///
    /// let req_id = Uuid::new_v4();
    /// let model = Reply::serialize(3, req_id, &json!({"id": 1})).into_model();
    /// assert_eq!((model.pkg_id, model.req_id, model.status_code), (3, req_id, RspCode::Ok));
    /// assert_eq!(model.data, json!({"id": 1}));
    /// ```
    pub fn into_model(self) -> ResponseModel {
        match self.0 {
            Repr::Model(model) => model,
            Repr::Frame {
                pkg_id,
                req_id,
                meta,
                json,
                data,
            } => ResponseModel {
                pkg_id,
                req_id,
                status_code: RspCode::Ok,
                meta,
                // serde_json wrote this text a moment ago.
                data: json
                    .get(data)
                    .and_then(|text| serde_json::from_str::<Value>(text).ok())
                    .unwrap_or(Value::Null),
            },
        }
    }
}

/// Writes `{"pkg_id":..,"req_id":"..","status_code":0,"meta":..,"data":<data>}` in one pass.
fn write_frame<T: Serialize + ?Sized>(
    pkg_id: u32,
    req_id: &Uuid,
    meta: Option<&PageMeta>,
    data: &T,
) -> Result<(String, Range<usize>), serde_json::Error> {
    let mut out = Vec::with_capacity(192);
    out.extend_from_slice(b"{\"pkg_id\":");
    serde_json::to_writer(&mut out, &pkg_id)?;
    out.extend_from_slice(b",\"req_id\":\"");
    out.extend_from_slice(
        req_id
            .hyphenated()
            .encode_lower(&mut Uuid::encode_buffer())
            .as_bytes(),
    );
    out.extend_from_slice(b"\",\"status_code\":0,\"meta\":");
    serde_json::to_writer(&mut out, &meta)?;
    out.extend_from_slice(b",\"data\":");
    let start = out.len();
    serde_json::to_writer(&mut out, data)?;
    let end = out.len();
    out.push(b'}');
    let json = String::from_utf8(out).map_err(|e| {
        // serde_json only writes UTF-8; report rather than panic if that ever changes.
        <serde_json::Error as serde::ser::Error>::custom(e)
    })?;
    Ok((json, start..end))
}

impl From<ResponseModel> for Reply {
    fn from(model: ResponseModel) -> Self {
        Self(Repr::Model(model))
    }
}
