//! AdmissionReview (admission.k8s.io/v1, and v1beta1 answered in kind): parsing requests and
//! building responses. Parsing never panics; a body that is not a review is a typed error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thiserror::Error;

/// Why a body is not an AdmissionReview request.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReviewError {
    /// Not JSON, or not the expected shape.
    #[error("malformed AdmissionReview: {0}")]
    Malformed(String),
    /// JSON of another kind.
    #[error("expected kind AdmissionReview, found {0:?}")]
    WrongKind(String),
    /// An API version this webhook does not speak.
    #[error("unsupported apiVersion {0:?} (expected admission.k8s.io/v1 or v1beta1)")]
    WrongVersion(String),
    /// No `request`, or a request without `uid`.
    #[error("AdmissionReview has no request uid")]
    MissingUid,
}

/// Group, version and kind.
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Gvk {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
}

/// Group, version and resource.
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Gvr {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub resource: String,
}

/// Who made the request.
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct UserInfo {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The request of an AdmissionReview.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Request {
    #[serde(skip)]
    pub uid: String,
    #[serde(default)]
    pub kind: Gvk,
    #[serde(default)]
    pub resource: Gvr,
    #[serde(default)]
    pub sub_resource: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub operation: String,
    #[serde(default)]
    pub user_info: UserInfo,
    #[serde(default)]
    pub object: Option<Value>,
    #[serde(default)]
    pub old_object: Option<Value>,
    #[serde(default)]
    pub dry_run: Option<bool>,
    #[serde(default)]
    pub options: Option<Value>,
}

impl Request {
    /// The field manager the client named, if any.
    pub fn field_manager(&self) -> Option<&str> {
        self.options.as_ref().and_then(|o| o.get("fieldManager")).and_then(Value::as_str)
    }
}

/// A parsed review: its API version (to answer in kind) and its request.
#[derive(Debug, Clone)]
pub struct Review {
    /// `admission.k8s.io/v1` or `admission.k8s.io/v1beta1`.
    pub api_version: String,
    /// The request.
    pub request: Request,
}

/// The envelope, read in one pass: the objects go straight into the request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    request: Option<RawRequest>,
}

/// A request whose uid may be missing, so that the error says so rather than "missing field".
#[derive(Deserialize)]
struct RawRequest {
    #[serde(default)]
    uid: Option<String>,
    #[serde(flatten)]
    rest: Request,
}

/// Parses a request body.
pub fn parse(body: &[u8]) -> Result<Review, ReviewError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| ReviewError::Malformed(e.to_string()))?;
    if env.kind != "AdmissionReview" {
        return Err(ReviewError::WrongKind(env.kind));
    }
    if env.api_version != "admission.k8s.io/v1" && env.api_version != "admission.k8s.io/v1beta1" {
        return Err(ReviewError::WrongVersion(env.api_version));
    }
    let Some(raw) = env.request else { return Err(ReviewError::MissingUid) };
    let Some(uid) = raw.uid.filter(|u| !u.is_empty()) else { return Err(ReviewError::MissingUid) };
    Ok(Review { api_version: env.api_version, request: Request { uid, ..raw.rest } })
}

/// The answer to one request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The request's uid, echoed.
    pub uid: String,
    /// Whether the change may proceed.
    pub allowed: bool,
    /// HTTP-style code and message, for denials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Warnings shown to the client.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Annotations recorded in the API server's audit log.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
}

/// The status of a denial.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct Status {
    pub code: u16,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The full AdmissionReview answering `response`, in the request's API version.
pub fn respond(api_version: &str, response: &Response) -> Value {
    json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": response})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_bodies_are_typed_errors() {
        assert!(matches!(parse(b"{\"kind\": \"AdmissionReview\""), Err(ReviewError::Malformed(_))));
        assert_eq!(parse(br#"{"kind": "Pod"}"#).unwrap_err(), ReviewError::WrongKind("Pod".into()));
        assert!(matches!(
            parse(br#"{"kind": "AdmissionReview", "apiVersion": "v2"}"#),
            Err(ReviewError::WrongVersion(_))
        ));
        assert_eq!(
            parse(br#"{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {}}"#).unwrap_err(),
            ReviewError::MissingUid
        );
        let ok =
            parse(br#"{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1beta1", "request": {"uid": "u"}}"#)
                .unwrap();
        assert_eq!(ok.api_version, "admission.k8s.io/v1beta1");
    }
}
