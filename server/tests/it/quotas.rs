//! Rate-limit quotas: brute force on a login path is cut off with 429,
//! per client address, for the block interval; the most specific rule
//! applies; exempt paths stay open; rules are managed in Vault's shape.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::json;

use crate::common::{TestServer, call};

/// A login attempt from a given loopback address (127.0.0.0/8 all reach
/// the server on Linux), so two clients can be told apart.
async fn attempt_from(s: &TestServer, from: &str) -> u16 {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    client
        .post(format!("{}/v1/auth/userpass/login/mallory", s.url()))
        .body(r#"{"password":"guess"}"#)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_brute_force_is_bounded_per_client() {
    let s = TestServer::dev().await;
    let root = Some("root");
    let r = call(
        &s,
        "POST",
        "sys/auth/userpass",
        root,
        Some(json!({"type": "userpass"})),
    )
    .await;
    assert_eq!(r.status, 204);
    let q = call(
        &s,
        "POST",
        "sys/quotas/rate-limit/logins",
        root,
        Some(
            json!({"path": "auth/userpass/login", "rate": 3, "interval": "1m",
                     "block_interval": "5m"}),
        ),
    )
    .await;
    assert_eq!(q.status, 204, "{}", q.raw);
    let read = call(&s, "GET", "sys/quotas/rate-limit/logins", root, None).await;
    assert_eq!(
        read.body["data"],
        json!({"block_interval": 300, "inheritable": false, "interval": 60, "name": "logins",
               "path": "auth/userpass/login", "rate": 3.0, "role": "", "type": "rate-limit"})
    );

    // Three wrong guesses are answered, the fourth is refused.
    for _ in 0..3 {
        assert_eq!(attempt_from(&s, "127.0.0.1").await, 400);
    }
    let r = call(
        &s,
        "POST",
        "auth/userpass/login/mallory",
        None,
        Some(json!({"password": "guess"})),
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.errors(),
        ["request path \"auth/userpass/login/mallory\": rate limit quota exceeded"]
    );
    // Another client is not affected.
    assert_eq!(attempt_from(&s, "127.0.0.2").await, 400);
    // Other paths are not affected.
    let ok = call(&s, "GET", "sys/mounts", root, None).await;
    assert_eq!(ok.status, 200);

    // The bucket refills after a minute, but the block lasts five.
    s.advance(Duration::from_secs(61));
    assert_eq!(attempt_from(&s, "127.0.0.1").await, 429);
    s.advance(Duration::from_secs(240));
    assert_eq!(attempt_from(&s, "127.0.0.1").await, 400);

    // A global rule; the more specific login rule still applies to
    // logins; exempt paths are never limited.
    let g = call(
        &s,
        "POST",
        "sys/quotas/rate-limit/global",
        root,
        Some(json!({"rate": 2})),
    )
    .await;
    assert_eq!(g.status, 204);
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(call(&s, "GET", "sys/auth", root, None).await.status);
    }
    assert_eq!(codes, [200, 200, 429]);
    for _ in 0..5 {
        let h = reqwest::get(format!("{}/v1/sys/health", s.url()))
            .await
            .unwrap();
        assert_eq!(h.status().as_u16(), 200);
    }
    s.advance(Duration::from_secs(2));
    let cfg = call(&s, "GET", "sys/quotas/config", root, None).await;
    assert!(
        cfg.body["data"]["rate_limit_exempt_paths"]
            .as_array()
            .unwrap()
            .contains(&json!("sys/health"))
    );
    s.advance(Duration::from_secs(2));
    let list = call(&s, "LIST", "sys/quotas/rate-limit", root, None).await;
    assert_eq!(list.body["data"]["keys"], json!(["global", "logins"]));

    // Bad input: clear 400s, nothing stored.
    s.advance(Duration::from_secs(2));
    for (body, msg) in [
        (json!({"rate": 0}), "'rate' is invalid"),
        (json!({"rate": -1}), "'rate' is invalid"),
        (json!({"rate": "many"}), "'rate' is invalid"),
        (
            json!({"path": "nope/", "rate": 1}),
            "invalid mount path \"nope/\"",
        ),
        (json!({"rate": 1, "interval": "soon"}), "invalid duration"),
    ] {
        s.advance(Duration::from_secs(1));
        let r = call(&s, "POST", "sys/quotas/rate-limit/bad", root, Some(body)).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.errors()[0].contains(msg), "{:?}", r.errors());
    }
    s.advance(Duration::from_secs(1));
    let dup = call(
        &s,
        "POST",
        "sys/quotas/rate-limit/again",
        root,
        Some(json!({"path": "auth/userpass/login", "rate": 9})),
    )
    .await;
    assert_eq!(
        dup.errors(),
        ["quota rule with similar properties exists under the name \"logins\""]
    );
    s.advance(Duration::from_secs(1));
    let none = call(&s, "GET", "sys/quotas/rate-limit/bad", root, None).await;
    assert_eq!(none.status, 404);

    // Deleted: no more limit.
    s.advance(Duration::from_secs(1));
    assert_eq!(
        call(&s, "DELETE", "sys/quotas/rate-limit/global", root, None)
            .await
            .status,
        204
    );
    s.advance(Duration::from_secs(1));
    assert_eq!(
        call(&s, "DELETE", "sys/quotas/rate-limit/logins", root, None)
            .await
            .status,
        204
    );
    for _ in 0..10 {
        assert_eq!(attempt_from(&s, "127.0.0.1").await, 400);
    }
    s.stop().await;
}
