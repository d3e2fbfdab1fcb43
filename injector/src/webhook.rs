//! One AdmissionReview in, one out. Never a panic, never a patch the API
//! server would reject: a body that is not an `admission.k8s.io/v1`
//! AdmissionReview is a 400 with the reason; a review of something other
//! than a pod, or a pod that asks for nothing, is allowed unchanged; a pod
//! whose annotations cannot be honoured is refused (`allowed: false`)
//! with a message naming the annotation.

use base64::Engine as _;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use serde_json::Value;

use crate::settings::Settings;

/// Namespaces whose pods are never changed.
pub const EXCLUDED_NAMESPACES: &[&str] = &["kube-system", "kube-public"];

/// What became of a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Injected,
    Refused,
    BadRequest,
}

/// An HTTP answer: status and JSON body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub outcome: Outcome,
}

fn error(status: u16, msg: &str) -> Answer {
    Answer {
        status,
        body: serde_json::to_vec(&serde_json::json!({"error": msg})).unwrap_or_default(),
        outcome: Outcome::BadRequest,
    }
}

/// What a review asked for, answered.
pub fn review(body: &[u8], settings: &Settings) -> Answer {
    let raw: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return error(400, &format!("the body is not JSON: {e}")),
    };
    match (raw["apiVersion"].as_str(), raw["kind"].as_str()) {
        (Some("admission.k8s.io/v1"), Some("AdmissionReview")) => {}
        (v, k) => {
            return error(
                400,
                &format!(
                    "expected an admission.k8s.io/v1 AdmissionReview, got apiVersion {:?} kind {:?}",
                    v.unwrap_or(""),
                    k.unwrap_or("")
                ),
            );
        }
    }
    let review: AdmissionReview<DynamicObject> = match serde_json::from_value(raw) {
        Ok(r) => r,
        Err(e) => return error(400, &format!("not a valid AdmissionReview: {e}")),
    };
    let request: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(r) => r,
        Err(_) => return error(400, "the AdmissionReview has no request"),
    };
    let response = respond(&request, settings);
    let outcome = match (response.allowed, response.patch.is_some()) {
        (false, _) => Outcome::Refused,
        (true, true) => Outcome::Injected,
        (true, false) => Outcome::Unchanged,
    };
    let mut out = serde_json::to_value(response.into_review()).unwrap_or_default();
    // kube-core writes the patch's bytes as a JSON array of numbers; the
    // API server reads that, but the wire format (Go's []byte) is base64,
    // as every other webhook sends it.
    if let Some(bytes) = out["response"]["patch"].as_array() {
        let raw: Vec<u8> = bytes
            .iter()
            .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect();
        out["response"]["patch"] =
            Value::String(base64::engine::general_purpose::STANDARD.encode(raw));
    }
    Answer {
        status: 200,
        body: serde_json::to_vec(&out).unwrap_or_default(),
        outcome,
    }
}

fn respond(req: &AdmissionRequest<DynamicObject>, settings: &Settings) -> AdmissionResponse {
    let allow = AdmissionResponse::from(req);
    if req.kind.kind != "Pod" || !req.kind.group.is_empty() || req.sub_resource.is_some() {
        return allow;
    }
    if req.operation != Operation::Create {
        return allow;
    }
    let namespace = req.namespace.clone().unwrap_or_default();
    if EXCLUDED_NAMESPACES.contains(&namespace.as_str()) {
        return allow;
    }
    let Some(obj) = &req.object else {
        return allow;
    };
    let pod = match serde_json::to_value(obj) {
        Ok(v) => v,
        Err(e) => return allow.deny(format!("the pod cannot be read: {e}")),
    };
    match crate::mutate::mutate(&pod, settings) {
        Ok(None) => allow,
        Ok(Some(m)) => {
            let patch: json_patch::Patch = match serde_json::from_value(Value::Array(m.patch)) {
                Ok(p) => p,
                Err(e) => return allow.deny(format!("arca-injector built a bad patch: {e}")),
            };
            match allow.with_patch(patch) {
                Ok(mut r) => {
                    if !m.warnings.is_empty() {
                        r.warnings = Some(m.warnings);
                    }
                    r
                }
                Err(e) => AdmissionResponse::from(req).deny(e.to_string()),
            }
        }
        Err(refusal) => allow.deny(refusal),
    }
}
