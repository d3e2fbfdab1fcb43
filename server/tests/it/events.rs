//! `sys/events/subscribe/:event_type`: a real WebSocket (arca-client's,
//! and a raw handshake for the refusals) against a dev server. What a
//! subscriber hears: KV v2 writes and deletes with Vault's JSON shape,
//! only the types its pattern names, only what its filter keeps, only the
//! paths its token may read; a lease's revocation; and the stream ends
//! when the token is revoked or the server seals.

use std::time::Duration;

use arca_client::Client;
use arca_client::events::EventStream;
use serde_json::{Value, json};

use crate::common::{ROOT, TestServer, call};

async fn subscribe(
    s: &TestServer,
    token: &str,
    pattern: &str,
    filter: Option<&str>,
) -> EventStream {
    Client::builder(s.url())
        .token(token)
        .build()
        .unwrap()
        .subscribe_events(pattern, filter)
        .await
        .unwrap()
}

/// The next event within 5 s (None: the stream ended).
async fn next(stream: &mut EventStream) -> Option<Value> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event within 5 s")
        .unwrap()
}

/// Nothing arrives within half a second.
async fn quiet(stream: &mut EventStream) {
    if let Ok(r) = tokio::time::timeout(Duration::from_millis(500), stream.next()).await {
        panic!("expected silence, got {r:?}");
    }
}

async fn write(s: &TestServer, path: &str, token: &str, body: Value) {
    let r = call(s, "PUT", path, Some(token), Some(body)).await;
    assert!(r.status < 300, "{path}: {}", r.raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_writes_and_deletes_arrive_in_vaults_shape() {
    let s = TestServer::dev().await;
    let mut all = subscribe(&s, ROOT, "kv*", None).await;
    let mut deletes = subscribe(&s, ROOT, "kv-v2/data-delete", None).await;
    let mut filtered = subscribe(
        &s,
        ROOT,
        "*",
        Some("data_path == secret/data/b and operation != \"data-write\""),
    )
    .await;

    write(&s, "secret/data/a", ROOT, json!({"data": {"x": "1"}})).await;
    let e = next(&mut all).await.unwrap();
    assert_eq!(e["specversion"], "1.0");
    assert_eq!(e["datacontentype"], "application/cloudevents");
    assert_eq!(e["type"], "*");
    assert!(e["source"].as_str().unwrap().starts_with("vault://"));
    assert_eq!(e["id"], e["data"]["event"]["id"]);
    let d = &e["data"];
    assert_eq!(d["event_type"], "kv-v2/data-write");
    assert_eq!(
        d["event"]["metadata"],
        json!({"current_version": "1", "data_path": "secret/data/a", "modified": "true",
               "operation": "data-write", "path": "secret/data/a"})
    );
    assert_eq!(d["plugin_info"]["mount_path"], "secret/");
    assert_eq!(d["plugin_info"]["plugin"], "kv");
    assert_eq!(d["plugin_info"]["mount_class"], "secret");
    assert!(
        d["plugin_info"]["mount_accessor"]
            .as_str()
            .unwrap()
            .starts_with("kv_")
    );
    // Nothing of the secret itself.
    assert!(!e.to_string().contains("\"x\""));

    write(&s, "secret/data/b", ROOT, json!({"data": {"y": "2"}})).await;
    assert_eq!(
        next(&mut all).await.unwrap()["data"]["event"]["metadata"]["path"],
        "secret/data/b"
    );
    let r = call(&s, "DELETE", "secret/data/b", Some(ROOT), None).await;
    assert_eq!(r.status, 204);
    let e = next(&mut all).await.unwrap();
    assert_eq!(e["data"]["event_type"], "kv-v2/data-delete");
    assert_eq!(e["data"]["event"]["metadata"]["data_path"], "secret/data/b");
    // The delete-only subscriber heard only that; the filtered one only
    // the delete of b.
    assert_eq!(
        next(&mut deletes).await.unwrap()["data"]["event_type"],
        "kv-v2/data-delete"
    );
    let e = next(&mut filtered).await.unwrap();
    assert_eq!(e["data"]["event_type"], "kv-v2/data-delete");
    quiet(&mut deletes).await;
    quiet(&mut filtered).await;

    // Sealing ends every stream.
    let r = call(&s, "PUT", "sys/seal", Some(ROOT), None).await;
    assert_eq!(r.status, 204);
    assert!(next(&mut all).await.is_none());
    s.stop().await;
}

/// The subscription exists once the subscriber has its answer: a write
/// made right after it is heard (the server once subscribed only when
/// the upgraded stream's task first ran, and such writes were lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_right_after_subscribing_is_heard() {
    let s = TestServer::dev().await;
    for i in 0..100 {
        let mut stream = subscribe(&s, ROOT, "kv-v2/data-write", None).await;
        let path = format!("secret/data/race{i}");
        write(&s, &path, ROOT, json!({"data": {"k": "v"}})).await;
        let e = next(&mut stream).await.unwrap();
        assert_eq!(e["data"]["event"]["metadata"]["path"], path, "round {i}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_hears_only_what_it_may_read_and_only_while_valid() {
    let s = TestServer::dev().await;
    write(
        &s,
        "sys/policies/acl/app",
        ROOT,
        json!({"policy": "path \"secret/data/app/*\" { capabilities = [\"read\"] }"}),
    )
    .await;
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some(ROOT),
        Some(json!({"policies": ["app"], "no_parent": true})),
    )
    .await;
    let token = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let mut app = subscribe(&s, &token, "*", None).await;

    write(&s, "secret/data/other", ROOT, json!({"data": {"k": "v"}})).await;
    write(&s, "secret/data/app/db", ROOT, json!({"data": {"k": "v"}})).await;
    // The first event it hears is the second write: it cannot read the first.
    let e = next(&mut app).await.unwrap();
    assert_eq!(e["data"]["event"]["metadata"]["path"], "secret/data/app/db");
    // Metadata writes carry the data path the token may read.
    write(
        &s,
        "secret/metadata/app/db",
        ROOT,
        json!({"max_versions": 3}),
    )
    .await;
    let e = next(&mut app).await.unwrap();
    assert_eq!(e["data"]["event_type"], "kv-v2/metadata-write");

    // Revoked: the next event ends the stream instead of reaching it.
    let r = call(
        &s,
        "POST",
        "auth/token/revoke",
        Some(ROOT),
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(r.status, 204);
    write(&s, "secret/data/app/db", ROOT, json!({"data": {"k": "w"}})).await;
    assert!(next(&mut app).await.is_none());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_revocation_is_an_event() {
    let s = TestServer::dev().await;
    let mut leases = subscribe(&s, ROOT, "lease/*", None).await;
    let active = s.core.active().unwrap();
    let mount = active
        .mounts
        .get(arca_server::router::Table::Mounts, "secret/")
        .unwrap();
    let lease = active
        .leases
        .register(arca_server::expiration::leases::NewLease {
            path: "secret/creds/app".into(),
            mount_accessor: mount.accessor.clone(),
            token_hash: String::new(),
            internal: Default::default(),
            ttl: Duration::from_secs(600),
            renewable: true,
            max_ttl: Duration::ZERO,
        })
        .await
        .unwrap();
    drop(active);
    write(
        &s,
        "sys/leases/revoke",
        ROOT,
        json!({"lease_id": lease.lease_id}),
    )
    .await;
    let e = next(&mut leases).await.unwrap();
    assert_eq!(e["data"]["event_type"], "lease/revoke");
    assert_eq!(
        e["data"]["event"]["metadata"],
        json!({"lease_id": lease.lease_id, "modified": "true", "operation": "revoke",
               "path": "secret/creds/app"})
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscriptions_get_vault_errors() {
    let s = TestServer::dev().await;
    let raw = |path: &str, token: Option<&str>, upgrade: bool| {
        let mut req = reqwest::Client::new().get(format!("{}/v1/{path}", s.url()));
        if let Some(t) = token {
            req = req.header("X-Vault-Token", t);
        }
        if upgrade {
            req = req
                .header("Connection", "Upgrade")
                .header("Upgrade", "websocket")
                .header("Sec-WebSocket-Version", "13")
                .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
        }
        req.send()
    };
    let check = |r: reqwest::Response, status: u16| async move {
        assert_eq!(r.status().as_u16(), status);
        let body: Value = r.json().await.unwrap();
        body["errors"][0].as_str().unwrap().to_owned()
    };
    let e = check(
        raw("sys/events/subscribe/kv*?json=true", Some(ROOT), false)
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(e.contains("WebSocket"), "{e}");
    let e = check(
        raw("sys/events/subscribe/kv*", Some(ROOT), true)
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(e.contains("json=true"), "{e}");
    let e = check(
        raw(
            "sys/events/subscribe/kv*?json=true&filter=a%20%3D%20b",
            Some(ROOT),
            true,
        )
        .await
        .unwrap(),
        400,
    )
    .await;
    assert!(e.starts_with("invalid filter"), "{e}");
    let e = check(
        raw("sys/events/subscribe/kv*?json=true", None, true)
            .await
            .unwrap(),
        403,
    )
    .await;
    assert_eq!(e, "permission denied");
    let e = check(
        raw("sys/events/subscribe/kv*?json=true", Some("nope"), true)
            .await
            .unwrap(),
        403,
    )
    .await;
    assert_eq!(e, "permission denied");
    // The right request upgrades.
    let r = raw("sys/events/subscribe/kv*?json=true", Some(ROOT), true)
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 101);
    assert_eq!(
        r.headers()["sec-websocket-accept"],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    // The server still answers after all of it.
    assert_eq!(call(&s, "GET", "sys/health", None, None).await.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::dev().await;
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(
        b"GET /v1/sys/events/subscribe/*?json=true HTTP/1.1\r\nHost: arca\r\nX-Vault-Token: root\r\n\
          Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    // Never read while the server sends more than the socket buffers hold
    // (fewer events than the backlog: falling behind is not what ends it).
    let big = "x".repeat(16000);
    let client = reqwest::Client::new();
    for i in 0..900 {
        let r = client
            .put(format!("{}/v1/secret/data/k{i}-{big}", s.url()))
            .header("X-Vault-Token", ROOT)
            .body(r#"{"data":{"a":"b"}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Past the write timeout, the server has given up on it: what was
    // buffered drains, then the connection ends.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let mut sink = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "the stalled subscriber was still connected");
    s.stop().await;
}
