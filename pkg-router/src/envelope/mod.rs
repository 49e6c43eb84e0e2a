//! The JSON envelopes of PROTOCOL.md section 2: requests, responses and broadcasts.

mod broadcast;
mod decode;
mod request;
mod response;

pub use broadcast::BroadcastModel;
pub(crate) use decode::RawRequest;
pub use decode::{EnvelopeError, EnvelopeProblem};
pub use request::RequestModel;
pub use response::{ErrorBody, ResponseModel};
