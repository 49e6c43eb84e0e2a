//! What handlers may return: the [`IntoResponse`] trait.

use crate::envelope::ResponseModel;
use crate::error::HandlerError;
use crate::pagination::Paginated;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Turns a handler's return value into the response envelope.
///
/// Implemented for:
///
/// - [`ResponseModel`]: sent as it is (envelope style, as in the Python design);
/// - `Result<T, E>` where `T: Serialize` and `E: Into<HandlerError>`: `Ok` becomes status `OK`
///   with `T` as `data`, `Err` becomes the error's status, code and message;
/// - `Result<ResponseModel, E>` and `Result<Paginated<T>, E>`;
/// - [`Paginated<T>`](Paginated): the items as `data`, the page metadata as `meta`;
/// - [`HandlerError`], `serde_json::Value`, `Vec<T: Serialize>` and `()` (`data: null`).
///
/// Implement it for your own types to control the envelope yourself.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a pkg-router handler",
    label = "not a handler return type",
    note = "return `ResponseModel`, `Result<T, E>` (with `T: Serialize` and `E: Into<HandlerError>`), `Paginated<T>`, `serde_json::Value`, `Vec<T>` or `()`"
)]
pub trait IntoResponse {
    /// Builds the response to the request `pkg_id`/`req_id`.
    fn into_response(self, pkg_id: u32, req_id: Uuid) -> ResponseModel;
}

impl IntoResponse for ResponseModel {
    fn into_response(self, _pkg_id: u32, _req_id: Uuid) -> ResponseModel {
        self
    }
}

impl IntoResponse for HandlerError {
    fn into_response(self, pkg_id: u32, req_id: Uuid) -> ResponseModel {
        if let HandlerError::Internal(source) = &self {
            tracing::error!(pkg_id, %req_id, error = %source, "handler failed");
        }
        self.to_response(pkg_id, req_id)
    }
}

impl IntoResponse for Value {
    fn into_response(self, pkg_id: u32, req_id: Uuid) -> ResponseModel {
        ResponseModel::success(pkg_id, req_id, self)
    }
}

impl IntoResponse for () {
    fn into_response(self, pkg_id: u32, req_id: Uuid) -> ResponseModel {
        ResponseModel::success(pkg_id, req_id, Value::Null)
    }
}

impl<T: Serialize> IntoResponse for Vec<T> {
    fn into_response(self, pkg_id: u32, req_id: Uuid) -> ResponseModel {
        serialized(&self, pkg_id, req_id)
    }
}

impl<T: Serialize> IntoResponse for Paginated<T> {
    fn into_response(self, pkg_id: u32, req_id: Uuid) -> ResponseModel {
        let meta = self.meta;
        serialized(&self.items, pkg_id, req_id).with_meta(meta)
    }
}

impl<T: Serialize, E: Into<HandlerError>> IntoResponse for Result<T, E> {
    fn into_response(self, pkg_id: u32, req_id: Uuid) -> ResponseModel {
        match self {
            Ok(value) => serialized(&value, pkg_id, req_id),
            Err(err) => err.into().into_response(pkg_id, req_id),
        }
    }
}

impl<E: Into<HandlerError>> IntoResponse for Result<ResponseModel, E> {
    fn into_response(self, pkg_id: u32, req_id: Uuid) -> ResponseModel {
        match self {
            Ok(response) => response,
            Err(err) => err.into().into_response(pkg_id, req_id),
        }
    }
}

impl<T: Serialize, E: Into<HandlerError>> IntoResponse for Result<Paginated<T>, E> {
    fn into_response(self, pkg_id: u32, req_id: Uuid) -> ResponseModel {
        match self {
            Ok(page) => page.into_response(pkg_id, req_id),
            Err(err) => err.into().into_response(pkg_id, req_id),
        }
    }
}

fn serialized<T: Serialize + ?Sized>(value: &T, pkg_id: u32, req_id: Uuid) -> ResponseModel {
    match serde_json::to_value(value) {
        Ok(data) => ResponseModel::success(pkg_id, req_id, data),
        // A map with non-string keys, a failing custom Serialize: the handler's bug, not the
        // client's.
        Err(err) => HandlerError::internal(err).into_response(pkg_id, req_id),
    }
}
