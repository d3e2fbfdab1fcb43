//! The checked-in CustomResourceDefinitions are what the types generate,
//! every field is described for `kubectl explain`, and the schemas are
//! structural (the API server's own check, on the real API server, is in
//! the e2e tests).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::Value;

const REGENERATE: &str = "cargo run -p arca-operator -- crds --out crds --out charts/arca/crds";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
}

#[test]
fn checked_in_definitions_are_current() {
    for dir in ["crds", "charts/arca/crds"] {
        let dir = root().join(dir);
        let mut expected: Vec<String> = Vec::new();
        for (file, crd) in arca_operator::crd::definitions() {
            expected.push(file.to_owned());
            let want = arca_operator::crd::to_yaml(&crd).expect("serializes");
            let have = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
            assert!(
                have == want,
                "{} is stale or missing: run `{REGENERATE}`",
                dir.join(file).display()
            );
        }
        let mut present: Vec<String> = std::fs::read_dir(&dir)
            .expect("crds directory")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        present.sort();
        expected.sort();
        assert_eq!(
            present,
            expected,
            "{} holds files no type generates",
            dir.display()
        );
    }
}

/// Walks a schema; calls `f` with the path of every property.
fn walk(path: &str, schema: &Value, f: &mut dyn FnMut(&str, &Value)) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            let p = format!("{path}.{name}");
            f(&p, sub);
            walk(&p, sub, f);
        }
    }
    if let Some(items) = schema.get("items") {
        walk(&format!("{path}[]"), items, f);
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        walk(&format!("{path}{{}}"), extra, f);
    }
}

fn schemas() -> Vec<(String, Value)> {
    arca_operator::crd::definitions()
        .into_iter()
        .map(|(_, crd)| {
            let v = serde_json::to_value(&crd).expect("json");
            let kind = v["spec"]["names"]["kind"]
                .as_str()
                .expect("kind")
                .to_owned();
            (
                kind,
                v["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone(),
            )
        })
        .collect()
}

#[test]
fn every_field_has_a_description() {
    let mut missing = Vec::new();
    for (kind, schema) in schemas() {
        assert!(
            schema["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        walk(&kind, &schema, &mut |path, sub| {
            let described = sub
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| d.trim().len() > 3);
            // apiVersion/kind/metadata are Kubernetes' own (kubectl explain
            // describes them from the API server's schema).
            let ours = !path.ends_with(".apiVersion")
                && !path.ends_with(".kind")
                && !path.ends_with(".metadata");
            if ours && !described {
                missing.push(path.to_owned());
            }
        });
    }
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:#?}"
    );
}

#[test]
fn schemas_are_structural() {
    // The rules of a structural schema that generated code can break: every
    // node has a type (or is int-or-string / preserve-unknown-fields), and
    // no anyOf/oneOf/allOf carries types of its own.
    let mut bad = Vec::new();
    for (kind, schema) in schemas() {
        walk(&kind, &schema, &mut |path, sub| {
            let typed = sub.get("type").is_some()
                || sub.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
                || sub.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if !typed {
                bad.push(format!("{path}: no type"));
            }
            for k in ["anyOf", "oneOf", "allOf"] {
                for alt in sub.get(k).and_then(Value::as_array).into_iter().flatten() {
                    if alt.get("type").is_some() || alt.get("description").is_some() {
                        bad.push(format!("{path}: {k} with a type or description"));
                    }
                }
            }
            if sub.get("$ref").is_some() {
                bad.push(format!("{path}: $ref"));
            }
        });
    }
    assert!(bad.is_empty(), "not structural: {bad:#?}");
}

#[test]
fn validation_is_in_the_schema() {
    let all = schemas();
    let cluster = &all
        .iter()
        .find(|(k, _)| k == "VaultCluster")
        .expect("VaultCluster")
        .1;
    let spec = &cluster["properties"]["spec"];
    assert_eq!(
        spec["properties"]["replicas"]["minimum"].as_f64(),
        Some(1.0)
    );
    let unseal = &spec["properties"]["unseal"];
    assert_eq!(
        unseal["properties"]["shares"]["maximum"].as_f64(),
        Some(255.0)
    );
    assert_eq!(
        unseal["properties"]["store"]["enum"],
        serde_json::json!(["Secret", "Manual"])
    );
    assert!(
        unseal["x-kubernetes-validations"][0]["rule"]
            .as_str()
            .expect("rule")
            .contains("threshold <= self.shares")
    );
    let engine = &all
        .iter()
        .find(|(k, _)| k == "SecretEngine")
        .expect("SecretEngine")
        .1;
    let path = &engine["properties"]["spec"]["properties"]["path"];
    assert!(path["pattern"].is_string());
    assert_eq!(
        path["x-kubernetes-validations"][0]["rule"],
        "self == oldSelf"
    );
    // Free-form bodies are kept, not pruned.
    let data = &engine["properties"]["spec"]["properties"]["roles"]["items"]["properties"]["data"];
    assert_eq!(data["x-kubernetes-preserve-unknown-fields"], true);
}
