//! [`Reply`]: a response on its way out of a handler.

use crate::envelope::ResponseModel;
use crate::pagination::PageMeta;
use crate::status::RspCode;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
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
/// use pkg_router::{Reply, ResponseModel, RspCode};
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
    Serialized {
        pkg_id: u32,
        req_id: Uuid,
        meta: Option<PageMeta>,
        data: Box<RawValue>,
    },
}

#[derive(Serialize)]
struct Wire<'a> {
    pkg_id: u32,
    req_id: &'a Uuid,
    status_code: RspCode,
    meta: &'a Option<PageMeta>,
    data: &'a RawValue,
}

impl Reply {
    /// A successful reply with `data` serialized now.
    ///
    /// A value that fails to serialize (a map with non-string keys, a failing custom `Serialize`)
    /// is the handler's bug: the reply becomes `ERROR`/`internal_error` and the cause is logged.
    pub fn serialize<T: Serialize + ?Sized>(pkg_id: u32, req_id: Uuid, data: &T) -> Self {
        match serde_json::value::to_raw_value(data) {
            Ok(data) => Self(Repr::Serialized {
                pkg_id,
                req_id,
                meta: None,
                data,
            }),
            Err(err) => {
                tracing::error!(pkg_id, %req_id, error = %err, "handler result does not serialize");
                crate::HandlerError::internal(err)
                    .to_response(pkg_id, req_id)
                    .into()
            }
        }
    }

    /// Sets the pagination metadata.
    #[must_use]
    pub fn with_meta(self, meta: PageMeta) -> Self {
        match self.0 {
            Repr::Model(model) => Self(Repr::Model(model.with_meta(meta))),
            Repr::Serialized {
                pkg_id,
                req_id,
                data,
                ..
            } => Self(Repr::Serialized {
                pkg_id,
                req_id,
                meta: Some(meta),
                data,
            }),
        }
    }

    /// The status.
    pub fn status_code(&self) -> RspCode {
        match &self.0 {
            Repr::Model(model) => model.status_code,
            Repr::Serialized { .. } => RspCode::Ok,
        }
    }

    /// The wire text.
    pub fn to_json(&self) -> String {
        match &self.0 {
            Repr::Model(model) => model.to_json(),
            Repr::Serialized {
                pkg_id,
                req_id,
                meta,
                data,
            } => serde_json::to_string(&Wire {
                pkg_id: *pkg_id,
                req_id,
                status_code: RspCode::Ok,
                meta,
                data,
            })
            // A number, a UUID, derived metadata and JSON text always serialize.
            .unwrap_or_default(),
        }
    }

    /// The reply as a [`ResponseModel`].
    pub fn into_model(self) -> ResponseModel {
        match self.0 {
            Repr::Model(model) => model,
            Repr::Serialized {
                pkg_id,
                req_id,
                meta,
                data,
            } => ResponseModel {
                pkg_id,
                req_id,
                status_code: RspCode::Ok,
                meta,
                // The text was produced by serde_json a moment ago.
                data: serde_json::from_str::<Value>(data.get()).unwrap_or(Value::Null),
            },
        }
    }
}

impl From<ResponseModel> for Reply {
    fn from(model: ResponseModel) -> Self {
        Self(Repr::Model(model))
    }
}
