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
    let review: AdmissionReview<DynamicObject> = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return error(400, &diagnose(body, &e)),
    };
    if review.types.api_version != "admission.k8s.io/v1" || review.types.kind != "AdmissionReview" {
        return error(
            400,
            &wrong_type(&review.types.api_version, &review.types.kind),
        );
    }
    let request: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(r) => r,
        Err(_) => return error(400, "the AdmissionReview has no request"),
    };
    let (response, patch) = respond(&request, settings);
    let outcome = match (response.allowed, patch.is_some()) {
        (false, _) => Outcome::Refused,
        (true, true) => Outcome::Injected,
        (true, false) => Outcome::Unchanged,
    };
    let mut out = serde_json::to_value(response.into_review()).unwrap_or_default();
    // The patch as the wire format has it (Go's []byte: base64), written
    // here rather than by kube-core, which would write an array of
    // numbers.
    if let (Some(p), Some(r)) = (patch, out["response"].as_object_mut()) {
        r.insert(
            "patch".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(p)),
        );
        r.insert("patchType".into(), Value::String("JSONPatch".into()));
    }
    Answer {
        status: 200,
        body: serde_json::to_vec(&out).unwrap_or_default(),
        outcome,
    }
}

fn wrong_type(api_version: &str, kind: &str) -> String {
    format!(
        "expected an admission.k8s.io/v1 AdmissionReview, got apiVersion {api_version:?} kind {kind:?}"
    )
}

/// Why a body is not an AdmissionReview, as precisely as can be said.
fn diagnose(body: &[u8], e: &serde_json::Error) -> String {
    let Ok(raw) = serde_json::from_slice::<Value>(body) else {
        return format!("the body is not JSON: {e}");
    };
    match (raw["apiVersion"].as_str(), raw["kind"].as_str()) {
        (Some("admission.k8s.io/v1"), Some("AdmissionReview")) => {
            format!("not a valid AdmissionReview: {e}")
        }
        (v, k) => wrong_type(v.unwrap_or(""), k.unwrap_or("")),
    }
}

/// The response, and the patch's bytes when there is one.
fn respond(
    req: &AdmissionRequest<DynamicObject>,
    settings: &Settings,
) -> (AdmissionResponse, Option<Vec<u8>>) {
    let allow = AdmissionResponse::from(req);
    if req.kind.kind != "Pod" || !req.kind.group.is_empty() || req.sub_resource.is_some() {
        return (allow, None);
    }
    if req.operation != Operation::Create {
        return (allow, None);
    }
    let namespace = req.namespace.as_deref().unwrap_or_default();
    if EXCLUDED_NAMESPACES.contains(&namespace) {
        return (allow, None);
    }
    let Some(obj) = &req.object else {
        return (allow, None);
    };
    let Some(annotations) = &obj.metadata.annotations else {
        return (allow, None);
    };
    let annotations: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let phase = obj.data["status"]["phase"].as_str();
    match crate::mutate::mutate(&annotations, &obj.data["spec"], phase, settings) {
        Ok(None) => (allow, None),
        Ok(Some(m)) => match serde_json::to_vec(&m.patch) {
            Ok(bytes) => {
                let mut r = allow;
                if !m.warnings.is_empty() {
                    r.warnings = Some(m.warnings);
                }
                (r, Some(bytes))
            }
            Err(e) => (
                allow.deny(format!("arca-injector built a bad patch: {e}")),
                None,
            ),
        },
        Err(refusal) => (allow.deny(refusal), None),
    }
}
