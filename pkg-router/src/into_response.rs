//! What handlers may return: the [`IntoResponse`] trait.

use crate::envelope::ResponseModel;
use crate::error::HandlerError;
use crate::pagination::Paginated;
use crate::reply::Reply;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Turns a handler's return value into the response to its request.
///
/// Implemented for:
///
/// - [`ResponseModel`]: sent as it is (envelope style);
/// - `Result<T, E>` where `T: Serialize` and `E: Into<HandlerError>`: `Ok` becomes status `OK`
///   with `T` as `data`, `Err` becomes the error's status, code and message;
/// - `Result<ResponseModel, E>` and `Result<Paginated<T>, E>`;
/// - [`Paginated<T>`](Paginated): the items as `data`, the page metadata as `meta`;
/// - [`HandlerError`], [`Reply`], `serde_json::Value`, `Vec<T: Serialize>` and `()` (`data: null`).
///
/// Implement it for your own types to control the envelope yourself.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::{ResponseExt, TestRouter};
/// use pkg_router::ResponseModel;
/// use pkg_router::handler::{IntoResponse, Reply};
/// use serde_json::json;
/// use uuid::Uuid;
///
/// /// Answers with the number of items only.
/// struct Count(usize);
///
/// impl IntoResponse for Count {
///     fn into_reply(self, pkg_id: u32, req_id: Uuid) -> Reply {
///         ResponseModel::success(pkg_id, req_id, json!({"count": self.0})).into()
///     }
/// }
///
/// async fn count_books() -> Count {
///     Count(3)
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let client = TestRouter::with_handler(1, count_books);
/// assert_eq!(client.call(1, json!({})).await.expect_ok(), &json!({"count": 3}));
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a pkg-router handler",
    label = "not a handler return type",
    note = "return `ResponseModel`, `Result<T, E>` (with `T: Serialize` and `E: Into<HandlerError>`), `Paginated<T>`, `serde_json::Value`, `Vec<T>` or `()`"
)]
pub trait IntoResponse {
    /// Builds the reply to the request `pkg_id`/`req_id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::{HandlerError, RspCode};
    /// use pkg_router::handler::IntoResponse;
    /// use uuid::Uuid;
    ///
    /// let ok: Result<Vec<&str>, HandlerError> = Ok(vec!["Dune"]);
    /// let reply = ok.into_reply(4, Uuid::nil());
    /// assert_eq!(reply.status_code(), RspCode::Ok);
    /// assert!(reply.to_json().ends_with(r#""data":["Dune"]}"#));
    ///
    /// let err: Result<Vec<&str>, HandlerError> = Err(HandlerError::not_found("no books"));
    /// let model = err.into_reply(4, Uuid::nil()).into_model();
    /// assert_eq!(model.error_body().unwrap().code, "not_found");
    ///
    /// assert_eq!(().into_reply(4, Uuid::nil()).into_model().data, serde_json::Value::Null);
    /// ```
    fn into_reply(self, pkg_id: u32, req_id: Uuid) -> Reply;
}

impl IntoResponse for Reply {
    fn into_reply(self, _pkg_id: u32, _req_id: Uuid) -> Reply {
        self
    }
}

impl IntoResponse for ResponseModel {
    fn into_reply(self, _pkg_id: u32, _req_id: Uuid) -> Reply {
        self.into()
    }
}

impl IntoResponse for HandlerError {
    fn into_reply(self, pkg_id: u32, req_id: Uuid) -> Reply {
        if let HandlerError::Internal(source) = &self {
            // Escaped (Debug of the text): an error message may quote client input.
            tracing::error!(pkg_id, %req_id, error = ?source.to_string(), "handler failed");
        }
        self.to_response(pkg_id, req_id).into()
    }
}

impl IntoResponse for Value {
    fn into_reply(self, pkg_id: u32, req_id: Uuid) -> Reply {
        ResponseModel::success(pkg_id, req_id, self).into()
    }
}

impl IntoResponse for () {
    fn into_reply(self, pkg_id: u32, req_id: Uuid) -> Reply {
        ResponseModel::success(pkg_id, req_id, Value::Null).into()
    }
}

impl<T: Serialize> IntoResponse for Vec<T> {
    fn into_reply(self, pkg_id: u32, req_id: Uuid) -> Reply {
        Reply::serialize(pkg_id, req_id, &self)
    }
}

impl<T: Serialize> IntoResponse for Paginated<T> {
    fn into_reply(self, pkg_id: u32, req_id: Uuid) -> Reply {
        Reply::serialize_page(pkg_id, req_id, self.meta, &self.items)
    }
}

impl<T: Serialize, E: Into<HandlerError>> IntoResponse for Result<T, E> {
    fn into_reply(self, pkg_id: u32, req_id: Uuid) -> Reply {
        match self {
            Ok(value) => Reply::serialize(pkg_id, req_id, &value),
            Err(err) => err.into().into_reply(pkg_id, req_id),
        }
    }
}

impl<E: Into<HandlerError>> IntoResponse for Result<ResponseModel, E> {
    fn into_reply(self, pkg_id: u32, req_id: Uuid) -> Reply {
        match self {
            Ok(response) => response.into(),
            Err(err) => err.into().into_reply(pkg_id, req_id),
        }
    }
}

impl<T: Serialize, E: Into<HandlerError>> IntoResponse for Result<Paginated<T>, E> {
    fn into_reply(self, pkg_id: u32, req_id: Uuid) -> Reply {
        match self {
            Ok(page) => page.into_reply(pkg_id, req_id),
            Err(err) => err.into().into_reply(pkg_id, req_id),
        }
    }
}
