//! The seal lifecycle and Vault's wire shapes over real HTTP: init,
//! unseal (hex and base64, progress, reset, wrong shares), seal, health
//! codes, sealed 503s, and bad input that must change nothing.

use std::sync::Arc;

use arca_server::storage::inmem::InmemBackend;
use serde_json::json;

use crate::common::{TestServer, call, call_raw};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_unseal_seal_lifecycle() {
    let s = TestServer::fresh(Arc::new(InmemBackend::new())).await;

    let st = call(&s, "GET", "sys/seal-status", None, None).await;
    assert_eq!(st.status, 200);
    assert_eq!(st.body["initialized"], false);
    assert_eq!(st.body["sealed"], true);
    assert_eq!(st.body["type"], "shamir");
    assert_eq!(call(&s, "GET", "sys/health", None, None).await.status, 501);
    assert_eq!(
        call(&s, "GET", "sys/health?uninitcode=200", None, None)
            .await
            .status,
        200
    );
    assert_eq!(
        call(&s, "GET", "sys/init", None, None).await.body,
        json!({"initialized": false})
    );
    let r = call(&s, "PUT", "sys/unseal", None, Some(json!({"key": "abcd"}))).await;
    assert_eq!(
        (r.status, r.errors()),
        (400, vec!["Vault is not initialized".to_string()])
    );

    // Bad init bodies: 400 with Vault's messages, nothing initialized.
    for (body, msg) in [
        (
            json!({"secret_shares": 0}),
            "invalid seal configuration: shares must be at least one",
        ),
        (
            json!({}),
            "invalid seal configuration: shares must be at least one",
        ),
        (
            json!({"secret_shares": 3, "secret_threshold": 5}),
            "invalid seal configuration: threshold cannot be larger than shares",
        ),
        (
            json!({"secret_shares": 256, "secret_threshold": 2}),
            "invalid seal configuration: shares must be less than 256",
        ),
        (
            json!({"secret_shares": 5, "secret_threshold": 1}),
            "invalid seal configuration: threshold must be greater than one for multiple shares",
        ),
        (
            json!({"secret_shares": 1, "secret_threshold": 0}),
            "invalid seal configuration: threshold must be at least one",
        ),
        (
            json!({"secret_shares": -1, "secret_threshold": 3}),
            "invalid seal configuration: shares must be at least one",
        ),
    ] {
        let r = call(&s, "PUT", "sys/init", None, Some(body)).await;
        assert_eq!((r.status, r.errors()), (400, vec![msg.to_string()]));
    }
    let r = call_raw(
        &s,
        "PUT",
        "sys/init",
        None,
        Some(b"{\"secret_shares\":5,".to_vec()),
    )
    .await;
    assert_eq!(
        (r.status, r.errors()),
        (
            400,
            vec!["failed to decode JSON input: unexpected EOF".to_string()]
        )
    );
    let r = call(
        &s,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": "5", "secret_threshold": 3})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.errors()[0].starts_with("failed to decode JSON input"));
    assert_eq!(
        call(&s, "GET", "sys/init", None, None).await.body["initialized"],
        false
    );

    // Init 5/3.
    let init = call(
        &s,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": 5, "secret_threshold": 3})),
    )
    .await;
    assert_eq!(init.status, 200);
    let keys: Vec<String> = serde_json::from_value(init.body["keys"].clone()).unwrap();
    let keys_b64: Vec<String> = serde_json::from_value(init.body["keys_base64"].clone()).unwrap();
    let root = init.body["root_token"].as_str().unwrap().to_owned();
    assert_eq!(keys.len(), 5);
    assert!(keys.iter().all(|k| k.len() == 66));
    assert!(root.starts_with("s.") && root.len() == 26);
    let again = call(
        &s,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": 5, "secret_threshold": 3})),
    )
    .await;
    assert_eq!(
        again.errors(),
        vec!["Vault is already initialized".to_string()]
    );

    // Sealed: everything logical is 503.
    assert_eq!(call(&s, "GET", "sys/health", None, None).await.status, 503);
    assert_eq!(
        call(&s, "GET", "sys/health?sealedcode=299", None, None)
            .await
            .status,
        299
    );
    for path in ["sys/mounts", "secret/foo", "nope/x", "sys/leader"] {
        let r = call(&s, "GET", path, Some(&root), None).await;
        assert_eq!(
            (r.status, r.errors()),
            (503, vec!["Vault is sealed".to_string()]),
            "{path}"
        );
    }
    let st = call(&s, "GET", "sys/seal-status", None, None).await;
    assert_eq!(
        (st.body["t"].clone(), st.body["n"].clone()),
        (json!(3), json!(5))
    );

    // Unseal: progress, duplicate, bad keys, reset.
    let r = call(&s, "PUT", "sys/unseal", None, Some(json!({"key": keys[0]}))).await;
    assert_eq!(r.body["progress"], 1);
    let nonce = r.body["nonce"].as_str().unwrap().to_owned();
    assert!(!nonce.is_empty());
    let r = call(&s, "PUT", "sys/unseal", None, Some(json!({"key": keys[0]}))).await;
    assert_eq!(
        r.body["progress"], 1,
        "a repeated share does not count twice"
    );
    for (body, msg) in [
        (
            json!({"key": "zzzz-not-a-key"}),
            "'key' must be a valid hex or base64 string",
        ),
        (
            json!({"key": "abcd0123"}),
            "invalid key: key is shorter than minimum 16 bytes",
        ),
        (
            json!({"key": "ab".repeat(64)}),
            "invalid key: key is longer than maximum 33 bytes",
        ),
        (
            json!({}),
            "'key' must be specified in request body as JSON, or 'reset' set to true",
        ),
    ] {
        let r = call(&s, "PUT", "sys/unseal", None, Some(body)).await;
        assert_eq!((r.status, r.errors()), (400, vec![msg.to_string()]));
    }
    let r = call(&s, "PUT", "sys/unseal", None, Some(json!({"key": 12}))).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        call(&s, "GET", "sys/seal-status", None, None).await.body["progress"],
        1
    );
    let r = call(&s, "PUT", "sys/unseal", None, Some(json!({"reset": true}))).await;
    assert_eq!(
        (r.body["progress"].clone(), r.body["nonce"].clone()),
        (json!(0), json!(""))
    );

    // A wrong combination (shares of another cluster) fails and resets.
    let other = TestServer::fresh(Arc::new(InmemBackend::new())).await;
    let oinit = call(
        &other,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": 5, "secret_threshold": 3})),
    )
    .await;
    let foreign = oinit.body["keys"][2].as_str().unwrap().to_owned();
    call(&s, "PUT", "sys/unseal", None, Some(json!({"key": keys[0]}))).await;
    call(&s, "PUT", "sys/unseal", None, Some(json!({"key": keys[1]}))).await;
    let r = call(&s, "PUT", "sys/unseal", None, Some(json!({"key": foreign}))).await;
    assert_eq!(r.status, 400);
    assert!(
        r.errors()[0].starts_with("unable to retrieve stored keys"),
        "{:?}",
        r.errors()
    );
    let st = call(&s, "GET", "sys/seal-status", None, None).await;
    assert_eq!(
        (st.body["sealed"].clone(), st.body["progress"].clone()),
        (json!(true), json!(0))
    );
    other.stop().await;

    // Three good shares, one of them base64.
    call(&s, "PUT", "sys/unseal", None, Some(json!({"key": keys[0]}))).await;
    call(
        &s,
        "PUT",
        "sys/unseal",
        None,
        Some(json!({"key": keys_b64[3]})),
    )
    .await;
    let r = call(&s, "PUT", "sys/unseal", None, Some(json!({"key": keys[4]}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["sealed"], false);
    assert!(r.body["cluster_name"].as_str().is_some());
    let h = call(&s, "GET", "sys/health", None, None).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["sealed"], false);
    assert_eq!(h.body["initialized"], true);
    assert_eq!(
        call(&s, "GET", "sys/health?activecode=203", None, None)
            .await
            .status,
        203
    );
    assert_eq!(
        call(&s, "GET", "sys/health?activecode=abc", None, None)
            .await
            .status,
        400
    );
    assert_eq!(call(&s, "HEAD", "sys/health", None, None).await.status, 200);
    assert_eq!(call(&s, "POST", "sys/health", None, None).await.status, 405);
    assert_eq!(
        call(&s, "GET", "sys/leader", None, None).await.body,
        json!({"ha_enabled": false})
    );

    // Token check works on the unsealed server; the root token is root.
    let r = call(&s, "GET", "auth/token/lookup-self", Some(&root), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["policies"], json!(["root"]));

    // Seal: needs a token with sudo; then everything is 503 again.
    let r = call(&s, "PUT", "sys/seal", None, None).await;
    assert_eq!(
        (r.status, r.errors()),
        (403, vec!["permission denied".to_string()])
    );
    assert_eq!(
        call(&s, "GET", "sys/seal", Some(&root), None).await.status,
        405
    );
    assert_eq!(
        call(&s, "PUT", "sys/seal", Some(&root), None).await.status,
        204
    );
    assert_eq!(
        call(&s, "GET", "sys/seal-status", None, None).await.body["sealed"],
        true
    );
    assert_eq!(
        call(&s, "GET", "auth/token/lookup-self", Some(&root), None)
            .await
            .status,
        503
    );
    assert_eq!(
        call(&s, "PUT", "sys/seal", Some(&root), None).await.status,
        204
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_errors_and_bad_input() {
    let s = TestServer::dev().await;
    let root = Some("root");

    // The envelope.
    let r = call(&s, "GET", "auth/token/lookup-self", root, None).await;
    for key in [
        "request_id",
        "lease_id",
        "renewable",
        "lease_duration",
        "data",
        "wrap_info",
        "warnings",
        "auth",
    ] {
        assert!(r.body.get(key).is_some(), "missing {key}");
    }
    assert!(r.raw.ends_with('\n'));
    assert_eq!(r.body["data"]["id"], "root");

    // Missing or bad token: bare "permission denied"; unknown routes need a token first.
    for (path, token) in [
        ("sys/mounts", None),
        ("sys/mounts", Some("bogus")),
        ("nope/x", None),
        ("sys/nope", None),
    ] {
        let r = call(&s, "GET", path, token, None).await;
        assert_eq!(
            (r.status, r.errors()),
            (403, vec!["permission denied".to_string()]),
            "{path}"
        );
    }
    let r = call(&s, "GET", "nope/x", root, None).await;
    assert_eq!(
        (r.status, r.errors()),
        (
            404,
            vec!["no handler for route \"nope/x\". route entry not found.".to_string()]
        )
    );
    let r = call(&s, "GET", "sys/nope", root, None).await;
    assert_eq!(
        (r.status, r.errors()),
        (
            404,
            vec!["1 error occurred:\n\t* unsupported path\n\n".to_string()]
        )
    );
    let r = call(&s, "GET", "sys/policies/acl", root, None).await;
    assert_eq!(r.status, 405);

    // Malformed JSON, arrays, oversized bodies, odd methods: 4xx, nothing changed.
    let r = call_raw(
        &s,
        "PUT",
        "sys/policies/acl/x",
        root,
        Some(b"{\"policy\": ".to_vec()),
    )
    .await;
    assert_eq!(
        (r.status, r.errors()),
        (
            400,
            vec!["failed to decode JSON input: unexpected EOF".to_string()]
        )
    );
    let r = call_raw(
        &s,
        "PUT",
        "sys/policies/acl/x",
        root,
        Some(b"[1,2]".to_vec()),
    )
    .await;
    assert_eq!(r.status, 400);
    let big = vec![b' '; 33 * 1024 * 1024];
    let r = call_raw(&s, "PUT", "sys/policies/acl/x", root, Some(big)).await;
    assert_eq!(
        (r.status, r.errors()),
        (413, vec!["http: request body too large".to_string()])
    );
    let r = call(&s, "OPTIONS", "sys/mounts", root, None).await;
    assert_eq!(r.status, 400);
    let r = call(&s, "FOO", "sys/mounts", root, None).await;
    assert_eq!(r.status, 405);
    let r = call(&s, "GET", "sys/policies/acl/x", root, None).await;
    assert_eq!(r.status, 404, "no policy x was created by the bad requests");

    // Authorization: Bearer works like X-Vault-Token.
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("{}/v1/sys/mounts/secret", s.url()))
        .header("Authorization", "Bearer root")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Outside /v1/: 404 with an empty error list.
    let resp = client
        .get(format!("{}/nope", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // Key status and rotation through the API.
    let k = call(&s, "GET", "sys/key-status", root, None).await;
    assert_eq!(k.body["data"]["term"], 1);
    assert_eq!(
        k.body["term"], 1,
        "key-status repeats its data at the top level"
    );
    assert_eq!(call(&s, "PUT", "sys/rotate", root, None).await.status, 204);
    assert_eq!(
        call(&s, "POST", "sys/rotate/keyring", root, None)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&s, "GET", "sys/key-status", root, None).await.body["data"]["term"],
        3
    );

    // Metrics in Prometheus text.
    let m = call(&s, "GET", "sys/metrics?format=prometheus", root, None).await;
    assert_eq!(m.status, 200);
    assert!(m.raw.contains("vault_core_unsealed 1"));
    assert!(
        m.raw
            .contains("vault_route_requests{mount_point=\"auth/token/\"")
    );
    assert!(m.raw.contains("vault_token_count"));
    let m = call(&s, "GET", "sys/metrics?format=bogus", root, None).await;
    assert_eq!(m.status, 400);
    s.stop().await;
}
