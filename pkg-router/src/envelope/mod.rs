//! The JSON envelopes of [protocol §2](crate::protocol#2-envelopes-json): requests, responses and
//! broadcasts.

mod broadcast;
mod decode;
mod request;
mod response;

pub use broadcast::BroadcastModel;
pub(crate) use broadcast::PUSH_REQ_ID;
pub(crate) use decode::RawRequest;
pub use decode::{EnvelopeError, EnvelopeProblem};
pub use request::RequestModel;
pub use response::{ErrorBody, ResponseModel};
