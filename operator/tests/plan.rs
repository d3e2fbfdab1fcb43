//! SecretEngine and Policy objects -> what the operator writes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use arca_operator::crd::{Policy, SecretEngine};
use arca_operator::plan::{self, PlanError};
use serde_json::{Value, json};

fn object<T: serde::de::DeserializeOwned>(kind: &str, name: &str, spec: Value) -> T {
    serde_json::from_value(json!({
        "apiVersion": "arca.dev/v1alpha1", "kind": kind,
        "metadata": {"name": name, "namespace": "apps", "uid": "u1"},
        "spec": spec
    }))
    .expect("valid object")
}

#[test]
fn a_policy_with_a_binding() {
    let p: Policy = object(
        "Policy",
        "web",
        json!({
            "clusterRef": {"name": "vault"},
            "rules": "path \"secret/data/web/*\" { capabilities = [\"read\"] }",
            "binding": {"authPath": "kubernetes", "serviceAccounts": ["web"], "tokenTtl": "20m"}
        }),
    );
    let plan = plan::policy(&p).unwrap();
    assert_eq!(plan.name, "web");
    let role = plan.role.unwrap();
    assert_eq!(role.path(), "auth/kubernetes/role/web");
    assert_eq!(
        Value::Object(role.body),
        json!({
            "bound_service_account_names": ["web"],
            "bound_service_account_namespaces": ["apps"],
            "token_policies": ["web"],
            "audience": "",
            "token_ttl": "20m"
        })
    );
}

#[test]
fn invalid_rules_carry_the_servers_message() {
    let p: Policy = object(
        "Policy",
        "bad",
        json!({"clusterRef": {"name": "vault"}, "name": "renamed", "rules": "path \"secret/*\" { capabilities = [\"reed\"] }"}),
    );
    match plan::policy(&p) {
        Err(PlanError::InvalidRules(m)) => assert!(m.contains("reed"), "{m}"),
        other => panic!("{other:?}"),
    }
    let p: Policy = object(
        "Policy",
        "x",
        json!({"clusterRef": {"name": "vault"}, "rules": "path \"a\" {"}),
    );
    assert!(matches!(plan::policy(&p), Err(PlanError::InvalidRules(_))));
    let p: Policy = object(
        "Policy",
        "root",
        json!({"clusterRef": {"name": "vault"}, "rules": "path \"a\" { capabilities = [\"read\"] }"}),
    );
    assert!(matches!(plan::policy(&p), Err(PlanError::Invalid(m)) if m.contains("root")));
}

#[test]
fn an_engine_with_a_password_from_a_secret() {
    let e: SecretEngine = object(
        "SecretEngine",
        "db",
        json!({
            "clusterRef": {"name": "vault"},
            "path": "database",
            "type": "database",
            "description": "app databases",
            "tune": {"defaultLeaseTtl": "1h", "listingVisibility": "hidden"},
            "config": [{
                "path": "config/pg",
                "data": {"plugin_name": "postgresql-database-plugin", "connection_url": "postgresql://{{username}}:{{password}}@db:5432/app", "username": "arca", "allowed_roles": ["app"]},
                "secretData": {"password": {"secretKeyRef": {"name": "pg-admin", "key": "password"}}}
            }],
            "roles": [{"name": "app", "data": {"db_name": "pg", "default_ttl": "1h", "creation_statements": ["CREATE ROLE \"{{name}}\""]}}]
        }),
    );
    let p = plan::engine(&e).unwrap();
    assert_eq!(p.path, "database");
    assert_eq!(
        Value::Object(p.mount.clone()),
        json!({"type": "database", "description": "app databases"})
    );
    assert_eq!(
        Value::Object(p.tune.clone()),
        json!({"description": "app databases", "default_lease_ttl": "1h", "listing_visibility": "hidden"})
    );
    assert_eq!(p.writes.len(), 2);
    assert_eq!(p.writes[0].path, "database/config/pg");
    assert_eq!(p.writes[1].path, "database/roles/app");
    assert_eq!(
        plan::referenced_secrets(&e),
        vec![("pg-admin".to_owned(), "password".to_owned())]
    );

    let body = plan::fill(&p.writes[0], |name, key| {
        (name == "pg-admin" && key == "password").then(|| "s3cret".into())
    })
    .unwrap();
    assert_eq!(body["password"], "s3cret");
    assert_eq!(body["username"], "arca");
    let err = plan::fill(&p.writes[0], |_, _| None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Secret \"pg-admin\" has no key \"password\" (for password of database/config/pg)"
    );
}

#[test]
fn reserved_paths_and_duplicate_roles_are_refused() {
    for path in ["sys", "sys/x", "auth/kubernetes", "identity", "cubbyhole"] {
        let e: SecretEngine = object(
            "SecretEngine",
            "x",
            json!({"clusterRef": {"name": "v"}, "path": path, "type": "kv"}),
        );
        assert!(
            matches!(plan::engine(&e), Err(PlanError::Invalid(_))),
            "{path}"
        );
    }
    let e: SecretEngine = object(
        "SecretEngine",
        "x",
        json!({"clusterRef": {"name": "v"}, "path": "system", "type": "kv"}),
    );
    assert!(
        plan::engine(&e).is_ok(),
        "sys as a prefix of a word is fine"
    );
    let e: SecretEngine = object(
        "SecretEngine",
        "x",
        json!({"clusterRef": {"name": "v"}, "path": "pki", "type": "pki", "roles": [{"name": "a"}, {"name": "a"}]}),
    );
    assert!(matches!(plan::engine(&e), Err(PlanError::Invalid(m)) if m.contains("twice")));
}

#[test]
fn the_operators_own_identity_and_foreign_paths_are_never_touched() {
    let p: Policy = object(
        "Policy",
        "arca-operator",
        json!({"clusterRef": {"name": "vault"}, "rules": "path \"a\" { capabilities = [\"read\"] }"}),
    );
    assert!(matches!(plan::policy(&p), Err(PlanError::Invalid(m)) if m.contains("operator's own")));
    let p: Policy = object(
        "Policy",
        "web",
        json!({"clusterRef": {"name": "vault"}, "rules": "path \"a\" { capabilities = [\"read\"] }",
               "binding": {"serviceAccounts": ["x"], "role": "Arca-Operator"}}),
    );
    assert!(
        matches!(plan::policy(&p), Err(PlanError::Invalid(m)) if m.contains("operator's own login"))
    );
    for ok in ["web", "team.a"] {
        assert!(plan::deletable_policy(ok));
    }
    for no in ["root", "default", "arca-operator", ""] {
        assert!(!plan::deletable_policy(no), "{no}");
    }
    assert!(plan::deletable_role_path("auth/kubernetes/role/web"));
    assert!(plan::deletable_role_path("auth/k8s/prod/role/web"));
    for no in [
        "sys/mounts/secret",
        "secret/data/x",
        "auth/kubernetes/role/arca-operator",
        "auth/kubernetes/config",
        "auth//role/x",
        "auth/kubernetes/role/a/b",
        "auth/../sys/role/x",
    ] {
        assert!(!plan::deletable_role_path(no), "{no}");
    }
}
