//! Golden cases: the examples of Vault Agent Injector's documentation,
//! with their `vault.hashicorp.com` annotations, give pods with the same
//! effect under arca-injector: the same files at the same paths from the
//! same template text (arca-agent renders a template byte for byte as
//! `bao agent` does: agent/tests/it/bao_agent.rs), in the containers the
//! documentation says.

use serde_json::{Value, json};

use crate::common::{agent_config, answer, apply, named, pod, review_of, settings};

/// vault-k8s's default ("map") template for `path`.
fn map_template(path: &str) -> String {
    format!(
        "{{{{ with secret \"{path}\" }}}}{{{{ range $k, $v := .Data }}}}{{{{ $k }}}}: {{{{ $v }}}}\n{{{{ end }}}}{{{{ end }}}}"
    )
}

/// The pod injected for `annotations`, and its sidecar's templates
/// (destination -> template) with the init container's equal to them.
fn injected(annotations: Value) -> (Value, Vec<Value>) {
    let original = pod(annotations);
    let (patched, _) = apply(
        &original,
        &answer(&review_of(original.clone(), "shop"), &settings()),
    );
    let inits = &patched["spec"]["initContainers"];
    let init = named(inits, "arca-agent-init");
    let (init_json, _) = agent_config(init);
    let templates = init_json["template"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some(sidecar) = inits
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "arca-agent")
    {
        let (side_json, _) = agent_config(sidecar);
        assert_eq!(
            side_json["template"], init_json["template"],
            "init and sidecar render the same files"
        );
    }
    (patched, templates)
}

fn template<'a>(ts: &'a [Value], destination: &str) -> &'a Value {
    ts.iter()
        .find(|t| t["destination"] == destination)
        .unwrap_or_else(|| panic!("no template for {destination} in {ts:?}"))
}

#[test]
fn basic_secret_rendered_with_the_default_template() {
    // "Patching existing pods": agent-inject-secret-<name> only.
    let (_, ts) = injected(json!({
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/role": "myapp",
        "vault.hashicorp.com/agent-inject-secret-database-config.txt": "internal/data/database/config",
    }));
    assert_eq!(ts.len(), 1);
    let t = template(&ts, "/vault/secrets/database-config.txt");
    assert_eq!(
        t["contents"].as_str().unwrap(),
        map_template("internal/data/database/config")
    );
}

#[test]
fn custom_template_for_a_connection_string() {
    // "Apply a template to the injected secrets".
    let tmpl = "{{- with secret \"database/creds/db-app\" -}}\npostgres://{{ .Data.username }}:{{ .Data.password }}@postgres:5432/appdb?sslmode=disable\n{{- end }}\n";
    let (_, ts) = injected(json!({
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/role": "db-app",
        "vault.hashicorp.com/agent-inject-secret-db-creds": "database/creds/db-app",
        "vault.hashicorp.com/agent-inject-template-db-creds": tmpl,
    }));
    let t = template(&ts, "/vault/secrets/db-creds");
    assert_eq!(t["contents"], tmpl);
    assert_eq!(
        (t["left_delimiter"].as_str(), t["right_delimiter"].as_str()),
        (Some("{{"), Some("}}"))
    );
}

#[test]
fn environment_variables_through_a_sourced_file() {
    // "Environment variable example": the app sources the rendered file.
    let tmpl = "{{ with secret \"secret/data/web\" -}}\n  export api_key=\"{{ .Data.data.payments_api_key }}\"\n{{- end }}";
    let (patched, ts) = injected(json!({
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/role": "web",
        "vault.hashicorp.com/agent-inject-secret-config": "secret/data/web",
        "vault.hashicorp.com/agent-inject-template-config": tmpl,
    }));
    assert_eq!(template(&ts, "/vault/secrets/config")["contents"], tmpl);
    // The app's command is untouched: it sources the file itself.
    assert_eq!(
        named(&patched["spec"]["containers"], "app")["command"],
        json!(["/web"])
    );
}

#[test]
fn file_names_volume_paths_perms_and_commands() {
    let (patched, ts) = injected(json!({
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/role": "app",
        "vault.hashicorp.com/agent-inject-secret-foo": "database/roles/app",
        "vault.hashicorp.com/agent-inject-file-foo": "app/config.json",
        "vault.hashicorp.com/agent-inject-secret-bar": "secret/data/bar",
        "vault.hashicorp.com/secret-volume-path-bar": "/etc/secrets",
        "vault.hashicorp.com/agent-inject-perms-bar": "0400",
        "vault.hashicorp.com/agent-inject-command-bar": "kill -HUP $(pidof app)",
        "vault.hashicorp.com/agent-inject-secret-BAZ": "secret/data/baz",
        "vault.hashicorp.com/preserve-secret-case-BAZ": "true",
    }));
    assert_eq!(
        template(&ts, "/vault/secrets/app/config.json")["contents"]
            .as_str()
            .unwrap(),
        map_template("database/roles/app")
    );
    let bar = template(&ts, "/etc/secrets/bar");
    assert_eq!(bar["perms"], "0400");
    assert_eq!(bar["command"], "kill -HUP $(pidof app)");
    template(&ts, "/vault/secrets/BAZ");
    // Both paths are mounted in the app.
    let mounts: Vec<&str> = named(&patched["spec"]["containers"], "app")["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert!(
        mounts.contains(&"/vault/secrets") && mounts.contains(&"/etc/secrets"),
        "{mounts:?}"
    );
}

#[test]
fn jobs_pre_populate_only_and_init_first() {
    // "Using the injector with Jobs": no sidecar, so the Job completes.
    let (patched, _) = injected(json!({
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/role": "job",
        "vault.hashicorp.com/agent-pre-populate-only": "true",
        "vault.hashicorp.com/agent-init-first": "true",
        "vault.hashicorp.com/agent-inject-secret-creds": "database/creds/job",
    }));
    let names: Vec<&str> = patched["spec"]["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["arca-agent-init", "istio-init"]);
    assert_eq!(patched["spec"]["containers"].as_array().unwrap().len(), 2);
}

#[test]
fn the_token_and_a_configmap_configuration() {
    // "agent-inject-token": the token next to the secrets.
    let original = pod(json!({
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/role": "app",
        "vault.hashicorp.com/agent-inject-token": "true",
    }));
    let (patched, _) = apply(
        &original,
        &answer(&review_of(original.clone(), "shop"), &settings()),
    );
    let (cfg, _) = agent_config(named(&patched["spec"]["initContainers"], "arca-agent-init"));
    assert_eq!(
        cfg["auto_auth"]["sink"][0]["config"]["path"],
        "/vault/secrets/token"
    );
    // "Vault Agent configuration map": the ConfigMap's config-init.hcl and
    // config.hcl, mounted at /vault/configs.
    let original = pod(json!({
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/agent-configmap": "my-configmap",
        "vault.hashicorp.com/role": "app",
    }));
    let (patched, _) = apply(
        &original,
        &answer(&review_of(original.clone(), "shop"), &settings()),
    );
    let inits = &patched["spec"]["initContainers"];
    assert_eq!(
        named(inits, "arca-agent-init")["args"][1],
        "-config=/vault/configs/config-init.hcl"
    );
    assert_eq!(
        named(inits, "arca-agent")["args"][1],
        "-config=/vault/configs/config.hcl"
    );
    assert_eq!(
        named(&patched["spec"]["volumes"], "arca-agent-config")["configMap"]["name"],
        "my-configmap"
    );
    assert!(
        named(inits, "arca-agent")["env"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["name"] != "ARCA_AGENT_CONFIG")
    );
}
