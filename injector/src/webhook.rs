//! One AdmissionReview in, one out. Never a panic, never a patch the API
//! server would reject: a body that is not an `admission.k8s.io/v1`
//! AdmissionReview is a 400 with the reason; a review of something other
//! than a pod, or a pod that asks for nothing, is allowed unchanged; a pod
//! whose annotations cannot be honoured is refused (`allowed: false`)
//! with a message naming the annotation.
//!
//! The webhook sits in the path of every pod creation, so a review is read
//! in one pass and only for what it uses: kube's `AdmissionRequest`, with
//! the object read as [`Reviewed`] (its annotations, the parts of a pod's
//! spec [`crate::mutate`] reads, and `status.phase`); everything else is
//! skipped without being kept. The answer is written in one pass too.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use kube::core::{NamespaceResourceScope, Resource, TypeMeta};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::patch::Op;
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

/// Which parts of a JSON value are kept: all of it, or of an object only
/// the listed keys, each with its own shape (arrays: every element, with
/// the same shape; scalars: kept). What is not kept is parsed (the body
/// must still be valid JSON) but never stored.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    All,
    Keys(&'static [(&'static str, Shape)]),
}

const NAME: (&str, Shape) = ("name", Shape::All);
/// A container as `mutate` reads it.
const CONTAINER: Shape = Shape::Keys(&[
    NAME,
    ("command", Shape::All),
    ("args", Shape::All),
    ("env", Shape::Keys(&[NAME])),
    ("volumeMounts", Shape::All),
    ("securityContext", Shape::Keys(&[("runAsUser", Shape::All)])),
]);
/// A volume as `mutate` reads it (its name; a projected token's path).
const VOLUME: Shape = Shape::Keys(&[
    NAME,
    (
        "projected",
        Shape::Keys(&[(
            "sources",
            Shape::Keys(&[("serviceAccountToken", Shape::Keys(&[("path", Shape::All)]))]),
        )]),
    ),
]);
/// The parts of a pod's spec [`crate::mutate::mutate`] reads: whatever it
/// comes to read must be added here (the tests compare its answers on
/// whole and pruned specs).
pub const POD_SPEC: Shape = Shape::Keys(&[
    ("containers", CONTAINER),
    ("initContainers", CONTAINER),
    ("volumes", VOLUME),
    ("shareProcessNamespace", Shape::All),
]);

/// Reads a value keeping what its shape names.
#[derive(Clone, Copy)]
pub struct Pruned(pub Shape);

impl<'de> DeserializeSeed<'de> for Pruned {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.0 {
            Shape::All => Value::deserialize(d),
            Shape::Keys(keys) => d.deserialize_any(PrunedVisitor(keys)),
        }
    }
}

struct PrunedVisitor(&'static [(&'static str, Shape)]);

impl<'de> Visitor<'de> for PrunedVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Pruned(Shape::Keys(self.0)))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed(self.0))? {
            match key {
                Some((name, shape)) => {
                    let v = map.next_value_seed(Pruned(shape))?;
                    out.insert(name.to_owned(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// A key: the kept one it names (and its shape), or `None`; never stored.
struct KeySeed(&'static [(&'static str, Shape)]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Option<(&'static str, Shape)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Option<(&'static str, Shape)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().find(|(k, _)| *k == v).copied())
    }
}

/// A reviewed object as the webhook reads it: its annotations (the only
/// metadata kept), its spec pruned to [`POD_SPEC`], and `status.phase`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Reviewed {
    #[serde(default, deserialize_with = "annotations_only")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "pod_spec")]
    pub spec: Value,
    #[serde(default, rename = "status", deserialize_with = "phase")]
    pub phase: Option<String>,
}

fn annotations_only<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    #[derive(Deserialize)]
    struct Meta {
        #[serde(default)]
        annotations: Option<BTreeMap<String, String>>,
    }
    let m = Meta::deserialize(d)?;
    Ok(ObjectMeta {
        annotations: m.annotations,
        ..ObjectMeta::default()
    })
}

fn pod_spec<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Pruned(POD_SPEC).deserialize(d)
}

fn phase<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let status = Pruned(Shape::Keys(&[("phase", Shape::All)])).deserialize(d)?;
    Ok(match status {
        Value::Object(mut m) => match m.remove("phase") {
            Some(Value::String(p)) => Some(p),
            _ => None,
        },
        _ => None,
    })
}

impl Resource for Reviewed {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Pod".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "pods".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// An AdmissionReview as it arrives: kube's `AdmissionReview` reads its
/// `apiVersion`/`kind` through `#[serde(flatten)]`, which buffers the whole
/// request and reads it twice; this reads it once.
#[derive(Deserialize)]
struct Incoming {
    #[serde(default, rename = "apiVersion")]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    request: Option<AdmissionRequest<Reviewed>>,
}

/// The answer's shape on the wire, but for the patch (below).
#[derive(Serialize)]
struct Outgoing<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    response: &'a AdmissionResponse,
}

/// `body`, a serialized [`Outgoing`], with the patch added to its response
/// as Go's `[]byte` is written: base64 (kube-core would write an array of
/// numbers), serialized and encoded into the body rather than into a
/// string serde_json would scan again. `None` if
/// the body is not an object ending in the response's object (it always
/// is).
fn with_patch(mut body: Vec<u8>, patch: &[Op<'_>]) -> Option<Vec<u8>> {
    if !body.ends_with(b"}}") {
        return None;
    }
    body.truncate(body.len() - 2);
    let json = serde_json::to_vec(patch).ok()?;
    body.reserve(json.len() / 3 * 4 + 64);
    body.extend_from_slice(b",\"patch\":\"");
    crate::patch::base64_into(&json, &mut body);
    body.extend_from_slice(b"\",\"patchType\":\"JSONPatch\"}}");
    Some(body)
}

/// What a review asked for, answered.
pub fn review(body: &[u8], settings: &Settings) -> Answer {
    let incoming: Incoming = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return error(400, &diagnose(body, &e)),
    };
    if incoming.api_version != "admission.k8s.io/v1" || incoming.kind != "AdmissionReview" {
        return error(400, &wrong_type(&incoming.api_version, &incoming.kind));
    }
    let Some(mut request) = incoming.request else {
        return error(400, "the AdmissionReview has no request");
    };
    request.types = TypeMeta {
        api_version: incoming.api_version,
        kind: incoming.kind,
    };
    let (response, patch) = respond(&request, settings);
    let outcome = match (response.allowed, patch.is_some()) {
        (false, _) => Outcome::Refused,
        (true, true) => Outcome::Injected,
        (true, false) => Outcome::Unchanged,
    };
    let out = Outgoing {
        api_version: &request.types.api_version,
        kind: &request.types.kind,
        response: &response,
    };
    let body = serde_json::to_vec(&out).unwrap_or_default();
    let body = match patch {
        None => Some(body),
        Some(p) => with_patch(body, &p),
    };
    match body {
        Some(body) => Answer {
            status: 200,
            body,
            outcome,
        },
        None => error(500, "arca-injector could not write its answer"),
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

/// The response, and the patch's operations when there is one.
fn respond<'r>(
    req: &'r AdmissionRequest<Reviewed>,
    settings: &'r Settings,
) -> (AdmissionResponse, Option<Vec<Op<'r>>>) {
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
    match crate::mutate::mutate(annotations, &obj.spec, obj.phase.as_deref(), settings) {
        Ok(None) => (allow, None),
        Ok(Some(m)) => {
            let mut r = allow;
            if !m.warnings.is_empty() {
                r.warnings = Some(m.warnings);
            }
            (r, Some(m.patch))
        }
        Err(refusal) => (allow.deny(refusal), None),
    }
}
