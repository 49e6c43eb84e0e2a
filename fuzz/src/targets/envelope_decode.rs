//! (a) Envelope decode: `RequestModel::from_json` on any text.
//!
//! Checks: no panic; the outcome agrees with an independent reading of protocol §2
//! (which field is missing or invalid, checked in the order pkg_id, req_id, data; duplicates of
//! those three keys are refused); a decoded request round-trips through `to_json`; an error's
//! answer is `INVALID_DATA`/`invalid_envelope` and echoes the ids it salvaged.

use super::oracle::{self, Entries};
use pkg_router::envelope::EnvelopeProblem;
use pkg_router::{RequestModel, ResponseModel, RspCode};
use serde_json::{Map, Value};

/// The target.
pub fn envelope_decode(data: &[u8]) {
    let Ok(frame) = std::str::from_utf8(data) else {
        return;
    };
    let decoded = RequestModel::from_json(frame);
    match &decoded {
        Ok(request) => {
            let text = request.to_json();
            assert_eq!(
                RequestModel::from_json(&text).as_ref(),
                Ok(request),
                "round trip of {text}"
            );
        }
        Err(err) => {
            let answer = err.to_response();
            assert_eq!(answer.status_code, RspCode::InvalidData);
            assert_eq!((answer.pkg_id, answer.req_id), (err.pkg_id, err.req_id));
            let body = answer.error_body().expect("an error body");
            assert_eq!(body.code, "invalid_envelope");
            assert_eq!(body.msg, err.problem.to_string());
            let back: ResponseModel =
                serde_json::from_str(&answer.to_json()).expect("the answer reads back");
            assert_eq!(back, answer);
        }
    }
    let Some(entries) = Entries::read(frame) else {
        // Not a JSON object (or not JSON): never a request.
        assert!(decoded.is_err(), "decoded a non-object: {frame:?}");
        return;
    };
    let (pkg, req, data) = match (
        entries.once("pkg_id"),
        entries.once("req_id"),
        entries.once("data"),
    ) {
        (Ok(pkg), Ok(req), Ok(data)) => (pkg, req, data),
        _ => {
            // The first of the three keys to repeat, in the frame's order.
            let mut seen = Vec::new();
            let repeated = entries
                .0
                .iter()
                .map(|(key, _)| key.as_str())
                .filter(|key| ["pkg_id", "req_id", "data"].contains(key))
                .find(|key| {
                    let again = seen.contains(key);
                    seen.push(*key);
                    again
                })
                .expect("a repeated key");
            let err = decoded.expect_err("a duplicate envelope key is refused");
            assert!(
                matches!(err.problem, EnvelopeProblem::DuplicateField(name) if name == repeated),
                "{err:?}, expected {repeated} named"
            );
            return;
        }
    };
    fn present(raw: Option<&str>) -> Option<&str> {
        raw.filter(|raw| *raw != "null")
    }
    let pkg_id = present(pkg).map(oracle::pkg_id);
    let req_id = present(req).map(oracle::req_id);
    let expected = match (pkg_id, req_id, present(data)) {
        (None, ..) => Err(EnvelopeProblem::MissingPkgId),
        (Some(None), ..) => Err(EnvelopeProblem::InvalidPkgId),
        (_, None, _) => Err(EnvelopeProblem::MissingReqId),
        (_, Some(None), _) => Err(EnvelopeProblem::InvalidReqId),
        (_, _, Some(raw)) if !raw.starts_with('{') => Err(EnvelopeProblem::InvalidData),
        (Some(Some(pkg_id)), Some(Some(req_id)), raw) => Ok((
            pkg_id,
            req_id,
            raw.map(serde_json::from_str::<Map<String, Value>>),
        )),
    };
    match (expected, decoded) {
        (Ok((pkg_id, req_id, data)), Ok(request)) => {
            assert_eq!((request.pkg_id, request.req_id), (pkg_id, req_id));
            let data = data.map(|parsed| parsed.expect("data the decoder read is JSON"));
            assert_eq!(request.data, data.unwrap_or_default());
        }
        (Ok((pkg_id, req_id, data)), Err(err)) => {
            // Only a `data` too deeply nested to parse fails after the ids were read.
            assert!(
                matches!(data, Some(Err(_))) && matches!(err.problem, EnvelopeProblem::Json(_)),
                "refused a valid request: {err:?}"
            );
            assert_eq!((err.pkg_id, err.req_id), (pkg_id, req_id));
        }
        (Err(problem), Ok(request)) => panic!("accepted {request:?}, expected {problem:?}"),
        (Err(problem), Err(err)) => {
            assert_eq!(err.problem, problem);
            let salvaged_pkg = pkg_id.flatten().unwrap_or(0);
            let salvaged_req = req_id.flatten().unwrap_or_default();
            assert_eq!((err.pkg_id, err.req_id), (salvaged_pkg, salvaged_req));
        }
    }
}
