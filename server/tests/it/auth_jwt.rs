//! The jwt/oidc auth method: logins with RS256 and ES256 tokens against
//! static PEM keys, a JWKS served by the test (cached, refreshed on an
//! unknown `kid`), and an OIDC discovery document over TLS shaped like a
//! Kubernetes cluster's public service-account issuer; every kind of bad
//! token is refused with Vault's message and no token; the real `bao` CLI
//! logs in and the token reads only what its policy allows.
//!
//! Keys are made with the `openssl` CLI; tokens are signed with
//! jsonwebtoken; the key server is a small hyper server that records
//! every path it was asked for.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::{Answer, TestServer, bao, call};

// ---------------------------------------------------------------- keys

struct KeyPair {
    private_pem: String,
    public_pem: String,
    /// The public JWK, without `kid`.
    jwk: Value,
    alg: Algorithm,
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_pair(dir: &Path, name: &str) -> KeyPair {
    let key = path(dir, &format!("{name}.key"));
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &key,
    ]);
    let public_pem = String::from_utf8(openssl(&["pkey", "-in", &key, "-pubout"])).unwrap();
    let modulus = String::from_utf8(openssl(&["rsa", "-in", &key, "-noout", "-modulus"])).unwrap();
    let n = hex::decode(modulus.trim().trim_start_matches("Modulus=")).unwrap();
    KeyPair {
        private_pem: std::fs::read_to_string(&key).unwrap(),
        public_pem,
        jwk: json!({"kty": "RSA", "use": "sig", "n": b64(&n), "e": "AQAB"}),
        alg: Algorithm::RS256,
    }
}

fn ec_pair(dir: &Path, name: &str) -> KeyPair {
    let key = path(dir, &format!("{name}.key"));
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &key,
    ]);
    let public_pem = String::from_utf8(openssl(&["pkey", "-in", &key, "-pubout"])).unwrap();
    let der = openssl(&["pkey", "-in", &key, "-pubout", "-outform", "DER"]);
    let point = &der[der.len() - 65..];
    assert_eq!(point[0], 4);
    KeyPair {
        private_pem: std::fs::read_to_string(&key).unwrap(),
        public_pem,
        jwk: json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])}),
        alg: Algorithm::ES256,
    }
}

fn with_kid(k: &KeyPair, kid: &str) -> Value {
    let mut j = k.jwk.clone();
    j["kid"] = json!(kid);
    j
}

fn sign(k: &KeyPair, kid: Option<&str>, claims: &Value) -> String {
    let mut h = Header::new(k.alg);
    h.kid = kid.map(str::to_owned);
    let key = match k.alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(k.private_pem.as_bytes()).unwrap(),
        _ => EncodingKey::from_rsa_pem(k.private_pem.as_bytes()).unwrap(),
    };
    jsonwebtoken::encode(&h, claims, &key).unwrap()
}

/// `alg: none`: a header, the claims, an empty signature.
fn unsigned(kid: Option<&str>, claims: &Value) -> String {
    let mut h = json!({"alg": "none", "typ": "JWT"});
    if let Some(k) = kid {
        h["kid"] = json!(k);
    }
    format!(
        "{}.{}.",
        b64(h.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// HS256 with the server's public key as the HMAC secret: the classic
/// algorithm-confusion forgery.
fn hs256_with(secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// The same header and signature over different claims.
fn swap_claims(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    )
}

fn flip_signature(token: &str) -> String {
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut sig: Vec<char> = sig.chars().collect();
    sig[10] = if sig[10] == 'A' { 'B' } else { 'A' };
    format!("{head}.{}", sig.into_iter().collect::<String>())
}

fn now(s: &TestServer) -> i64 {
    s.clock.now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

// ---------------------------------------------------------- key server

/// Serves JSON documents by path and records every request path.
struct KeyServer {
    base: String,
    routes: Arc<Mutex<HashMap<String, String>>>,
    hits: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KeyServer {
    async fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let routes: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let (r, h) = (Arc::clone(&routes), Arc::clone(&hits));
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (r, h, acceptor) = (Arc::clone(&r), Arc::clone(&h), acceptor.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<_>| {
                        let (r, h) = (Arc::clone(&r), Arc::clone(&h));
                        async move {
                            let _: &hyper::body::Incoming = req.body();
                            let path = req.uri().path().to_owned();
                            h.lock().unwrap().push(path.clone());
                            let body = r.lock().unwrap().get(&path).cloned();
                            let resp = match body {
                                Some(b) => hyper::Response::builder()
                                    .status(200)
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(b))),
                                None => hyper::Response::builder()
                                    .status(404)
                                    .body(Full::new(Bytes::from_static(b"404 page not found"))),
                            };
                            Ok::<_, Infallible>(resp.unwrap())
                        }
                    });
                    match acceptor {
                        Some(a) => {
                            if let Ok(s) = a.accept(stream).await {
                                let _ = http1::Builder::new()
                                    .serve_connection(TokioIo::new(s), svc)
                                    .await;
                            }
                        }
                        None => {
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        }
                    }
                });
            }
        });
        Self {
            base: format!("{scheme}://{addr}"),
            routes,
            hits,
            task,
        }
    }

    fn serve(&self, path: &str, body: Value) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), body.to_string());
    }

    fn unserve(&self, path: &str) {
        self.routes.lock().unwrap().remove(path);
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn tls_for_localhost(dir: &Path) -> (String, Arc<rustls::ServerConfig>) {
    let (ca_key, ca) = (path(dir, "ca.key"), path(dir, "ca.pem"));
    let (key, csr, cert, ext) = (
        path(dir, "srv.key"),
        path(dir, "srv.csr"),
        path(dir, "srv.pem"),
        path(dir, "srv.ext"),
    );
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
        "-days",
        "2",
        "-subj",
        "/CN=arca-test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &cert,
        "-days",
        "2",
        "-extfile",
        &ext,
    ]);
    let certs = rustls_pemfile::certs(&mut std::fs::read(&cert).unwrap().as_slice())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut std::fs::read(&key).unwrap().as_slice())
        .unwrap()
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    (std::fs::read_to_string(&ca).unwrap(), Arc::new(cfg))
}

// ------------------------------------------------------------- helpers

async fn ok(s: &TestServer, method: &str, path: &str, body: Value) -> Answer {
    let a = call(s, method, path, Some("root"), Some(body)).await;
    assert!(
        a.status == 204 || a.status == 200,
        "{path}: {} {}",
        a.status,
        a.raw
    );
    a
}

async fn setup(s: &TestServer, mount: &str, kind: &str) {
    ok(
        s,
        "POST",
        &format!("sys/auth/{mount}"),
        json!({"type": kind}),
    )
    .await;
    ok(
        s,
        "PUT",
        "sys/policies/acl/app-read",
        json!({"policy": "path \"secret/data/app/*\" { capabilities = [\"read\"] }"}),
    )
    .await;
    ok(
        s,
        "POST",
        "secret/data/app/db",
        json!({"data": {"password": "db-pass-1"}}),
    )
    .await;
    ok(
        s,
        "POST",
        "secret/data/other/x",
        json!({"data": {"v": "no"}}),
    )
    .await;
}

async fn login(s: &TestServer, mount: &str, role: &str, jwt: &str) -> Answer {
    call(
        s,
        "POST",
        &format!("auth/{mount}/login"),
        None,
        Some(json!({"role": role, "jwt": jwt})),
    )
    .await
}

/// A 400 with exactly Vault's message, and no token.
#[track_caller]
fn refused(a: &Answer, msg: &str) {
    assert_eq!(a.status, 400, "{}", a.raw);
    assert_eq!(a.errors(), [msg.to_owned()], "{}", a.raw);
    assert!(a.body.get("auth").is_none(), "{}", a.raw);
}

fn claims(s: &TestServer, iss: &str) -> Value {
    let t = now(s);
    json!({
        "iss": iss, "sub": "alice", "aud": ["arca"], "iat": t, "nbf": t, "exp": t + 600,
        "email": "alice@example.com", "org": {"team": "blue-squad"}, "groups": ["dev", "ops"]
    })
}

fn with(c: &Value, key: &str, v: Value) -> Value {
    let mut c = c.clone();
    if v.is_null() {
        c.as_object_mut().unwrap().remove(key);
    } else {
        c[key] = v;
    }
    c
}

const ISS: &str = "https://issuer.example";
const BAD_SIG: &str = "error validating token: error verifying token signature: no known key successfully validated the token signature";

// --------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_keys_log_in_and_every_bad_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (rsa, ec) = (rsa_pair(dir.path(), "rsa"), ec_pair(dir.path(), "ec"));
    let s = TestServer::dev().await;
    setup(&s, "jwt", "jwt").await;
    ok(
        &s,
        "POST",
        "auth/jwt/config",
        json!({"jwt_validation_pubkeys": [rsa.public_pem, ec.public_pem], "bound_issuer": ISS}),
    )
    .await;
    let cfg = call(&s, "GET", "auth/jwt/config", Some("root"), None).await;
    assert_eq!(cfg.body["data"]["status"], "valid", "{}", cfg.raw);
    assert_eq!(
        cfg.body["data"]["jwt_validation_pubkeys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(cfg.body["data"]["jwt_supported_algs"], json!([]));
    ok(
        &s,
        "POST",
        "auth/jwt/role/dev",
        json!({
            "role_type": "jwt", "user_claim": "sub", "bound_audiences": "arca",
            "bound_claims_type": "glob", "bound_claims": {"/org/team": ["blue-*", "red"]},
            "claim_mappings": {"email": "mail", "/org/team": "team"}, "groups_claim": "groups",
            "token_policies": "app-read", "token_ttl": "1h"
        }),
    )
    .await;
    let good = claims(&s, ISS);

    // RS256 and ES256 both log in; metadata from the claim mappings.
    let a = login(&s, "jwt", "dev", &sign(&rsa, None, &good)).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    let auth = &a.body["auth"];
    assert_eq!(auth["policies"], json!(["app-read", "default"]));
    assert_eq!(
        auth["metadata"],
        json!({"mail": "alice@example.com", "role": "dev", "team": "blue-squad"})
    );
    assert_eq!(auth["lease_duration"], 3600);
    let token = auth["client_token"].as_str().unwrap().to_owned();
    let e = login(&s, "jwt", "dev", &sign(&ec, None, &good)).await;
    assert_eq!(e.status, 200, "{}", e.raw);
    assert_eq!(e.body["auth"]["entity_id"], auth["entity_id"]);

    // The alias is the user claim; the groups are in its metadata.
    let ent = call(
        &s,
        "GET",
        &format!("identity/entity/id/{}", auth["entity_id"].as_str().unwrap()),
        Some("root"),
        None,
    )
    .await;
    let alias = &ent.body["data"]["aliases"][0];
    assert_eq!(alias["name"], "alice");
    assert_eq!(alias["mount_type"], "jwt");
    assert_eq!(alias["metadata"]["groups"], "[\"dev\",\"ops\"]");
    assert_eq!(alias["metadata"]["team"], "blue-squad");
    let look = call(&s, "GET", "auth/token/lookup-self", Some(&token), None).await;
    assert_eq!(look.body["data"]["display_name"], "jwt-alice");

    // What the token may read.
    let r = call(&s, "GET", "secret/data/app/db", Some(&token), None).await;
    assert_eq!(r.body["data"]["data"]["password"], "db-pass-1");
    let r = call(&s, "GET", "secret/data/other/x", Some(&token), None).await;
    assert_eq!(r.status, 403);

    // The glob's other value matches exactly.
    let red = with(&good, "org", json!({"team": "red"}));
    assert_eq!(
        login(&s, "jwt", "dev", &sign(&rsa, None, &red))
            .await
            .status,
        200
    );

    // Bad tokens, each with Vault's message.
    let t = now(&s);
    let cases: Vec<(String, &str)> = vec![
        (
            sign(&rsa, None, &with(&good, "exp", json!(t - 3600))),
            "error validating token: invalid expiration time (exp) claim: token is expired",
        ),
        (
            sign(&rsa, None, &with(&good, "nbf", json!(t + 3600))),
            "error validating token: invalid not before (nbf) claim: token not yet valid",
        ),
        (
            sign(&rsa, None, &with(&good, "aud", json!("someone-else"))),
            "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience",
        ),
        (
            sign(&rsa, None, &with(&good, "aud", Value::Null)),
            "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience",
        ),
        (
            sign(
                &rsa,
                None,
                &with(&good, "iss", json!("https://evil.example")),
            ),
            "error validating token: invalid issuer (iss) claim",
        ),
        (
            sign(&rsa, None, &with(&good, "org", json!({"team": "green"}))),
            "error validating claims: claim \"/org/team\" does not match any associated bound claim values",
        ),
        (
            sign(&rsa, None, &with(&good, "org", Value::Null)),
            "error validating claims: claim \"/org/team\" is missing",
        ),
        (
            sign(&rsa, None, &with(&good, "sub", Value::Null)),
            "claim \"sub\" not found in token",
        ),
        (
            sign(&rsa, None, &with(&good, "email", json!(42))),
            "error converting claim 'email' to string",
        ),
        (
            sign(&rsa, None, &with(&good, "groups", Value::Null)),
            "failed to fetch groups: \"groups\" claim not found in token",
        ),
        (
            sign(
                &rsa,
                None,
                &json!({"sub": "alice", "aud": "arca", "iss": ISS}),
            ),
            "error validating token: no issued at (iat), not before (nbf), or expiration time (exp) claims in token",
        ),
        (unsigned(None, &good), BAD_SIG),
        (hs256_with(rsa.public_pem.as_bytes(), None, &good), BAD_SIG),
        (hs256_with(ec.public_pem.as_bytes(), None, &good), BAD_SIG),
        (flip_signature(&sign(&rsa, None, &good)), BAD_SIG),
        (flip_signature(&sign(&ec, None, &good)), BAD_SIG),
        (
            swap_claims(
                &sign(&rsa, None, &with(&good, "sub", json!("mallory"))),
                &good,
            ),
            BAD_SIG,
        ),
        (
            "not-a-jwt".into(),
            "error validating token: error verifying token signature: malformed jwt: compact JWS format must have three parts",
        ),
        (
            "a.b.c".into(),
            "error validating token: error verifying token signature: malformed jwt: illegal base64 data in the header",
        ),
    ];
    for (jwt, msg) in &cases {
        refused(&login(&s, "jwt", "dev", jwt).await, msg);
    }

    // Expiry follows the server's clock: a good token stops working.
    let short = sign(&rsa, None, &with(&good, "exp", json!(t + 120)));
    assert_eq!(login(&s, "jwt", "dev", &short).await.status, 200);
    s.advance(Duration::from_secs(120 + 59));
    assert_eq!(login(&s, "jwt", "dev", &short).await.status, 200);
    s.advance(Duration::from_secs(2));
    refused(
        &login(&s, "jwt", "dev", &short).await,
        "error validating token: invalid expiration time (exp) claim: token is expired",
    );

    // Subject and audience bindings of other roles.
    ok(&s, "POST", "auth/jwt/role/pinned",
       json!({"role_type": "jwt", "user_claim": "email", "bound_subject": "bob", "bound_audiences": "arca"})).await;
    let fresh = claims(&s, ISS);
    refused(
        &login(&s, "jwt", "pinned", &sign(&rsa, None, &fresh)).await,
        "error validating token: invalid subject (sub) claim",
    );
    let bob = with(&fresh, "sub", json!("bob"));
    let p = login(&s, "jwt", "pinned", &sign(&rsa, None, &bob)).await;
    assert_eq!(p.status, 200, "{}", p.raw);
    assert_eq!(p.body["auth"]["metadata"], json!({"role": "pinned"}));
    ok(
        &s,
        "POST",
        "auth/jwt/role/noaud",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "alice"}),
    )
    .await;
    refused(
        &login(&s, "jwt", "noaud", &sign(&rsa, None, &fresh)).await,
        "audience claim found in JWT but no audiences bound to the role",
    );
    let no_aud = with(&fresh, "aud", Value::Null);
    assert_eq!(
        login(&s, "jwt", "noaud", &sign(&rsa, None, &no_aud))
            .await
            .status,
        200
    );

    // Role selection.
    refused(
        &login(&s, "jwt", "nope", &sign(&rsa, None, &fresh)).await,
        "role \"nope\" could not be found",
    );
    refused(
        &login(&s, "jwt", "", &sign(&rsa, None, &fresh)).await,
        "missing role",
    );
    let m = call(
        &s,
        "POST",
        "auth/jwt/login",
        None,
        Some(json!({"role": "dev"})),
    )
    .await;
    refused(&m, "missing token");

    // Restricting the algorithms; default_role.
    ok(
        &s,
        "POST",
        "auth/jwt/config",
        json!({"jwt_validation_pubkeys": [rsa.public_pem, ec.public_pem], "bound_issuer": ISS,
               "jwt_supported_algs": "RS256", "default_role": "DEV"}),
    )
    .await;
    let d = call(
        &s,
        "POST",
        "auth/jwt/login",
        None,
        Some(json!({"jwt": sign(&rsa, None, &fresh)})),
    )
    .await;
    assert_eq!(d.status, 200, "{}", d.raw);
    assert_eq!(d.body["auth"]["metadata"]["role"], "dev");
    refused(
        &login(&s, "jwt", "dev", &sign(&ec, None, &fresh)).await,
        "error validating token: invalid algorithm (alg) header parameter: token signed with unexpected algorithm",
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_keys_are_cached_and_refreshed_on_an_unknown_kid() {
    let dir = tempfile::tempdir().unwrap();
    let (rsa, ec, next) = (
        rsa_pair(dir.path(), "rsa"),
        ec_pair(dir.path(), "ec"),
        rsa_pair(dir.path(), "next"),
    );
    let ks = KeyServer::start(None).await;
    let hmac_secret = b"a-shared-secret-arca-must-never-use";
    ks.serve(
        "/keys",
        json!({"keys": [with_kid(&rsa, "k1"), with_kid(&ec, "k2"),
                        {"kty": "oct", "kid": "hs", "k": b64(hmac_secret)}]}),
    );
    let s = TestServer::dev().await;
    setup(&s, "jwt", "jwt").await;

    // A JWKS URL that does not answer 200 is refused on write.
    let bad = call(
        &s,
        "POST",
        "auth/jwt/config",
        Some("root"),
        Some(json!({"jwks_url": format!("{}/missing", ks.base)})),
    )
    .await;
    refused(
        &bad,
        "error checking jwks URL: 404 Not Found: 404 page not found",
    );
    assert_eq!(ks.hits("/missing"), 1);
    assert_eq!(
        call(&s, "GET", "auth/jwt/config", Some("root"), None)
            .await
            .status,
        404
    );

    let url = format!("{}/keys", ks.base);
    ok(&s, "POST", "auth/jwt/config", json!({"jwks_url": url})).await;
    assert_eq!(
        ks.hits("/keys"),
        1,
        "the JWKS is fetched when the config is written"
    );
    ok(&s, "POST", "auth/jwt/role/app",
       json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["arca"], "policies": "app-read"})).await;
    let good = claims(&s, ISS);

    for jwt in [
        sign(&rsa, Some("k1"), &good),
        sign(&ec, Some("k2"), &good),
        sign(&rsa, None, &good),
    ] {
        let a = login(&s, "jwt", "app", &jwt).await;
        assert_eq!(a.status, 200, "{}", a.raw);
    }
    assert_eq!(ks.hits("/keys"), 1, "logins use the cached keys");

    let failed = "error validating token: error verifying token signature: failed to verify id token signature";
    // An unknown kid right after a fetch: no new request (throttled).
    refused(
        &login(&s, "jwt", "app", &sign(&next, Some("k3"), &good)).await,
        failed,
    );
    assert_eq!(ks.hits("/keys"), 1);
    // Later, an unknown kid makes Arca look again.
    s.advance(Duration::from_secs(11));
    refused(
        &login(&s, "jwt", "app", &sign(&next, Some("k3"), &good)).await,
        failed,
    );
    assert_eq!(ks.hits("/keys"), 2);
    // The provider rotates in k3: the next miss picks it up.
    ks.serve(
        "/keys",
        json!({"keys": [with_kid(&rsa, "k1"), with_kid(&next, "k3")]}),
    );
    s.advance(Duration::from_secs(11));
    let good = claims(&s, ISS);
    let a = login(&s, "jwt", "app", &sign(&next, Some("k3"), &good)).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(ks.hits("/keys"), 3);
    // A known kid with a bad signature is just refused, without a fetch.
    s.advance(Duration::from_secs(11));
    refused(
        &login(&s, "jwt", "app", &sign(&next, Some("k1"), &good)).await,
        failed,
    );
    refused(
        &login(
            &s,
            "jwt",
            "app",
            &flip_signature(&sign(&rsa, Some("k1"), &good)),
        )
        .await,
        failed,
    );
    assert_eq!(ks.hits("/keys"), 3);

    // none and HMAC never reach a key, not even the JWKS's own oct key.
    let expected = "[\"RS256\" \"RS384\" \"RS512\" \"ES256\" \"ES384\" \"PS256\" \"PS384\" \"PS512\" \"EdDSA\"]";
    for (jwt, alg) in [
        (unsigned(Some("k1"), &good), "none"),
        (
            hs256_with(rsa.public_pem.as_bytes(), Some("k1"), &good),
            "HS256",
        ),
        (hs256_with(hmac_secret, Some("hs"), &good), "HS256"),
    ] {
        refused(
            &login(&s, "jwt", "app", &jwt).await,
            &format!(
                "error validating token: error verifying token signature: malformed jwt: unexpected signature algorithm {alg:?}; expected {expected}"
            ),
        );
    }
    assert_eq!(ks.hits("/keys"), 3);

    // Cached keys age out: after an hour they are fetched again.
    s.advance(Duration::from_secs(3600));
    let good = claims(&s, ISS);
    assert_eq!(
        login(&s, "jwt", "app", &sign(&rsa, Some("k1"), &good))
            .await
            .status,
        200
    );
    assert_eq!(ks.hits("/keys"), 4);
    // The provider goes away: the stale keys still serve, and Arca asks
    // again only after the refresh interval.
    ks.unserve("/keys");
    s.advance(Duration::from_secs(3600));
    let good = claims(&s, ISS);
    for _ in 0..3 {
        let a = login(&s, "jwt", "app", &sign(&rsa, Some("k1"), &good)).await;
        assert_eq!(a.status, 200, "{}", a.raw);
    }
    assert_eq!(ks.hits("/keys"), 5);
    s.stop().await;
}

/// A cluster whose service-account issuer is public: Arca trusts its
/// projected tokens through the issuer's discovery document (over TLS
/// with the test's CA), or, for the in-cluster issuer name, through the
/// JWKS URL with `bound_issuer`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_service_account_tokens_verify_through_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let (sa_key, other) = (rsa_pair(dir.path(), "sa"), rsa_pair(dir.path(), "other"));
    let (ca, tls) = tls_for_localhost(dir.path());
    let ks = KeyServer::start(Some(tls)).await;
    let issuer = ks.base.clone();
    let kid = "bDaK5Lq1b0bY9Zkq7o4wDk3w-6C3n8gQ2a1dS7Rk0lM";
    ks.serve(
        "/.well-known/openid-configuration",
        json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/openid/v1/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"]
        }),
    );
    ks.serve("/openid/v1/jwks", json!({"keys": [with_kid(&sa_key, kid)]}));

    let s = TestServer::dev().await;
    setup(&s, "cluster", "oidc").await;
    // Without the CA the provider's certificate is not trusted.
    let a = call(
        &s,
        "POST",
        "auth/cluster/config",
        Some("root"),
        Some(json!({"oidc_discovery_url": issuer})),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(
        a.errors()[0].starts_with("error checking oidc discovery URL: Get "),
        "{}",
        a.raw
    );
    // The document's issuer must be the configured URL exactly.
    let a = call(
        &s,
        "POST",
        "auth/cluster/config",
        Some("root"),
        Some(json!({"oidc_discovery_url": format!("{issuer}/"), "oidc_discovery_ca_pem": ca})),
    )
    .await;
    refused(
        &a,
        &format!(
            "error checking oidc discovery URL: issuer did not match the returned issuer, expected \"{issuer}/\" got \"{issuer}\""
        ),
    );
    ok(
        &s,
        "POST",
        "auth/cluster/config",
        json!({"oidc_discovery_url": issuer, "oidc_discovery_ca_pem": ca}),
    )
    .await;
    assert_eq!(ks.hits("/.well-known/openid-configuration"), 2);
    assert_eq!(
        ks.hits("/openid/v1/jwks"),
        0,
        "keys are fetched on first use"
    );
    ok(
        &s,
        "POST",
        "auth/cluster/role/ci",
        json!({
            "role_type": "jwt", "user_claim": "sub", "bound_audiences": ["arca"],
            "bound_claims_type": "glob",
            "bound_claims": {"/kubernetes.io/namespace": "team-*",
                             "/kubernetes.io/serviceaccount/name": "builder"},
            "claim_mappings": {"/kubernetes.io/namespace": "service_account_namespace",
                               "/kubernetes.io/serviceaccount/name": "service_account_name",
                               "/kubernetes.io/serviceaccount/uid": "service_account_uid"},
            "token_policies": ["app-read"]
        }),
    )
    .await;

    let projected = |s: &TestServer, iss: &str, ns: &str, aud: &str| {
        let t = now(s);
        json!({
            "aud": [aud], "exp": t + 3600, "iat": t, "nbf": t, "iss": iss,
            "jti": "0f2a4c52-4b7d-4a39-9d6e-2f1b8f0c7e11",
            "kubernetes.io": {
                "namespace": ns,
                "node": {"name": "node-1", "uid": "5c1f0a8e-90a4-4f7b-b2d5-0e3b1f5e6a77"},
                "pod": {"name": "builder-7d9f8", "uid": "c3b1e8f2-6a2d-4a0e-8d43-1f0f7b6c2a90"},
                "serviceaccount": {"name": "builder", "uid": "8e7a7c5e-2c1b-4b8e-9a3e-6d1c0b9f4e21"},
                "warnafter": t + 3000
            },
            "sub": format!("system:serviceaccount:{ns}:builder")
        })
    };
    let jwt = sign(
        &sa_key,
        Some(kid),
        &projected(&s, &issuer, "team-a", "arca"),
    );
    let a = login(&s, "cluster", "ci", &jwt).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(
        a.body["auth"]["metadata"],
        json!({"role": "ci", "service_account_name": "builder",
               "service_account_namespace": "team-a",
               "service_account_uid": "8e7a7c5e-2c1b-4b8e-9a3e-6d1c0b9f4e21"})
    );
    assert_eq!(ks.hits("/openid/v1/jwks"), 1);
    let token = a.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let r = call(&s, "GET", "secret/data/app/db", Some(&token), None).await;
    assert_eq!(r.status, 200);
    let ent = call(
        &s,
        "GET",
        &format!(
            "identity/entity/id/{}",
            a.body["auth"]["entity_id"].as_str().unwrap()
        ),
        Some("root"),
        None,
    )
    .await;
    assert_eq!(
        ent.body["data"]["aliases"][0]["name"],
        "system:serviceaccount:team-a:builder"
    );
    assert_eq!(ent.body["data"]["aliases"][0]["mount_type"], "oidc");

    refused(
        &login(
            &s,
            "cluster",
            "ci",
            &sign(&sa_key, Some(kid), &projected(&s, &issuer, "prod", "arca")),
        )
        .await,
        "error validating claims: claim \"/kubernetes.io/namespace\" does not match any associated bound claim values",
    );
    refused(
        &login(
            &s,
            "cluster",
            "ci",
            &sign(
                &sa_key,
                Some(kid),
                &projected(
                    &s,
                    &issuer,
                    "team-a",
                    "https://kubernetes.default.svc.cluster.local",
                ),
            ),
        )
        .await,
        "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience",
    );
    refused(
        &login(
            &s,
            "cluster",
            "ci",
            &sign(&other, Some(kid), &projected(&s, &issuer, "team-a", "arca")),
        )
        .await,
        "error validating token: error verifying token signature: failed to verify id token signature",
    );

    // The in-cluster issuer name is not a URL Arca can fetch: point at the
    // JWKS directly and bind the issuer.
    let in_cluster = "https://kubernetes.default.svc.cluster.local";
    ok(
        &s,
        "POST",
        "auth/cluster/config",
        json!({"jwks_url": format!("{issuer}/openid/v1/jwks"), "jwks_ca_pem": ca,
              "bound_issuer": in_cluster}),
    )
    .await;
    let a = login(
        &s,
        "cluster",
        "ci",
        &sign(
            &sa_key,
            Some(kid),
            &projected(&s, in_cluster, "team-b", "arca"),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(
        a.body["auth"]["metadata"]["service_account_namespace"],
        "team-b"
    );
    refused(
        &login(
            &s,
            "cluster",
            "ci",
            &sign(
                &sa_key,
                Some(kid),
                &projected(&s, &issuer, "team-b", "arca"),
            ),
        )
        .await,
        "error validating token: invalid issuer (iss) claim",
    );
    let a = call(
        &s,
        "POST",
        "auth/cluster/config",
        Some("root"),
        Some(json!({"jwks_url": format!("{issuer}/openid/v1/jwks")})),
    )
    .await;
    assert_eq!(a.status, 400, "without the CA: {}", a.raw);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_config_and_the_browser_flow_answer_like_vault() {
    let dir = tempfile::tempdir().unwrap();
    let rsa = rsa_pair(dir.path(), "rsa");
    let s = TestServer::dev().await;
    setup(&s, "oidc", "oidc").await;
    let root = Some("root");
    assert_eq!(
        call(&s, "GET", "auth/oidc/config", root, None).await.status,
        404
    );
    refused(
        &login(&s, "oidc", "x", "y").await,
        "could not load configuration",
    );

    for (body, msg) in [
        (
            json!({"bound_issuer": "x"}),
            "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs', 'oidc_discovery_url', or 'provider_config' must be set",
        ),
        (
            json!({"jwt_validation_pubkeys": [rsa.public_pem], "jwks_url": "http://x"}),
            "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs', 'oidc_discovery_url', or 'provider_config' must be set",
        ),
        (
            json!({"jwt_validation_pubkeys": ["garbage"]}),
            "error parsing public key: data does not contain any valid public keys",
        ),
        (
            json!({"jwt_validation_pubkeys": [rsa.public_pem], "jwt_supported_algs": "HS256"}),
            "invalid jwt_supported_algs: unsupported signing algorithm \"HS256\"",
        ),
        (
            json!({"jwt_validation_pubkeys": [rsa.public_pem], "jwt_supported_algs": ["RS256", "none"]}),
            "invalid jwt_supported_algs: unsupported signing algorithm \"none\"",
        ),
    ] {
        refused(
            &call(&s, "POST", "auth/oidc/config", root, Some(body)).await,
            msg,
        );
    }
    refused(
        &call(
            &s,
            "POST",
            "auth/oidc/config",
            root,
            Some(
                json!({"jwt_validation_pubkeys": rsa.public_pem, "oidc_client_id": "arca",
                          "oidc_client_secret": "s3cret"}),
            ),
        )
        .await,
        "'oidc_discovery_url' must be set for OIDC",
    );
    ok(
        &s,
        "POST",
        "auth/oidc/config",
        json!({"jwt_validation_pubkeys": rsa.public_pem}),
    )
    .await;
    let c = call(&s, "GET", "auth/oidc/config", root, None).await;
    let mut keys: Vec<&String> = c.body["data"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "bound_issuer",
            "default_role",
            "jwks_ca_pem",
            "jwks_url",
            "jwt_supported_algs",
            "jwt_validation_pubkeys",
            "namespace_in_state",
            "oidc_client_id",
            "oidc_discovery_ca_pem",
            "oidc_discovery_url",
            "oidc_response_mode",
            "oidc_response_types",
            "override_allowed_server_names",
            "provider_config",
            "status"
        ]
    );
    assert_eq!(c.body["data"]["namespace_in_state"], true);

    // Roles.
    assert_eq!(
        call(&s, "LIST", "auth/oidc/role", root, None).await.status,
        404
    );
    for (body, msg) in [
        (
            json!({"user_claim": "sub"}),
            "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.",
        ),
        (
            json!({"role_type": "jwt", "user_claim": "sub"}),
            "must have at least one bound constraint when creating/updating a role",
        ),
        (
            json!({"role_type": "jwt", "bound_subject": "x"}),
            "a user claim must be defined on the role",
        ),
        (
            json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "claim_mappings": {"a": "role"}}),
            "metadata key \"role\" is reserved and may not be a mapping destination",
        ),
        (
            json!({"role_type": "jwt", "user_claim": "sub", "bound_claims_type": "glob", "bound_claims": {"a": 5}}),
            "claim is not a string: 5",
        ),
    ] {
        refused(
            &call(&s, "POST", "auth/oidc/role/r", root, Some(body)).await,
            msg,
        );
    }
    ok(&s, "POST", "auth/oidc/role/Web", json!({"user_claim": "email", "allowed_redirect_uris": "http://localhost:8250/oidc/callback"})).await;
    ok(&s, "POST", "auth/oidc/role/api",
       json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a,b", "clock_skew_leeway": "2m",
              "expiration_leeway": -1, "policies": "p1"})).await;
    let l = call(&s, "LIST", "auth/oidc/role", root, None).await;
    assert_eq!(l.body["data"]["keys"], json!(["api", "web"]));
    let r = call(&s, "GET", "auth/oidc/role/api", root, None).await;
    let d = &r.body["data"];
    let mut keys: Vec<&String> = d.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "allowed_redirect_uris",
            "bound_audiences",
            "bound_claims",
            "bound_claims_type",
            "bound_subject",
            "callback_mode",
            "claim_mappings",
            "clock_skew_leeway",
            "expiration_leeway",
            "groups_claim",
            "max_age",
            "not_before_leeway",
            "oauth2_metadata",
            "oidc_disable_confirmation",
            "oidc_scopes",
            "policies",
            "role_type",
            "token_bound_cidrs",
            "token_explicit_max_ttl",
            "token_max_ttl",
            "token_no_default_policy",
            "token_num_uses",
            "token_period",
            "token_policies",
            "token_policies_template_claims",
            "token_strictly_bind_ip",
            "token_ttl",
            "token_type",
            "user_claim",
            "user_claim_json_pointer",
            "verbose_oidc_logging"
        ]
    );
    assert_eq!(d["bound_audiences"], json!(["a", "b"]));
    assert_eq!(
        (
            d["clock_skew_leeway"].clone(),
            d["expiration_leeway"].clone()
        ),
        (json!(120), json!(-1))
    );
    assert_eq!(d["allowed_redirect_uris"], Value::Null);
    assert_eq!(d["policies"], json!(["p1"]));
    assert_eq!(d["token_type"], "default");
    assert_eq!(
        call(&s, "GET", "auth/oidc/role/WEB", root, None).await.body["data"]["role_type"],
        "oidc"
    );
    // As in Vault, an update that leaves out role_type makes it an oidc role.
    refused(
        &call(
            &s,
            "POST",
            "auth/oidc/role/api",
            root,
            Some(json!({"bound_subject": "y"})),
        )
        .await,
        "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.",
    );
    assert_eq!(
        call(&s, "POST", "auth/oidc/role/a@b", root, Some(json!({})))
            .await
            .status,
        404
    );

    // An oidc role cannot log in with a JWT; the browser flow is not offered.
    let t = now(&s);
    let jwt = sign(
        &rsa,
        None,
        &json!({"sub": "a", "email": "a@x", "exp": t + 60}),
    );
    refused(
        &login(&s, "oidc", "web", &jwt).await,
        "role with oidc role_type is not allowed",
    );
    for (method, path) in [
        ("POST", "auth/oidc/oidc/auth_url"),
        ("GET", "auth/oidc/oidc/callback"),
        ("POST", "auth/oidc/oidc/poll"),
    ] {
        let a = call(
            &s,
            method,
            path,
            None,
            Some(json!({"role": "web", "redirect_uri": "http://localhost:8250/oidc/callback"})),
        )
        .await;
        refused(
            &a,
            "the OIDC authorization code flow is not supported by Arca; log in with a JWT at auth/oidc/login",
        );
    }
    assert_eq!(
        call(&s, "DELETE", "auth/oidc/role/web", root, None)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&s, "GET", "auth/oidc/role/web", root, None)
            .await
            .status,
        404
    );
    assert_eq!(
        call(&s, "GET", "auth/oidc/nothing", root, None)
            .await
            .status,
        404
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bao_cli_logs_in_with_a_jwt_and_reads_only_what_the_role_allows() {
    let dir = tempfile::tempdir().unwrap();
    let ec = ec_pair(dir.path(), "ec");
    let s = TestServer::dev().await;
    setup(&s, "jwt", "jwt").await;
    let home = tempfile::tempdir().unwrap();
    let addr = s.url();
    let pem_file = path(dir.path(), "ec.pub");
    std::fs::write(&pem_file, &ec.public_pem).unwrap();
    let (code, _, err) = bao(
        &addr,
        Some("root"),
        home.path(),
        &[
            "write",
            "auth/jwt/config",
            &format!("jwt_validation_pubkeys=@{pem_file}"),
            "bound_issuer=https://ci.example",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = bao(
        &addr,
        Some("root"),
        home.path(),
        &[
            "write",
            "auth/jwt/role/deploy",
            "role_type=jwt",
            "user_claim=sub",
            "bound_audiences=arca",
            "token_policies=app-read",
            "token_ttl=30m",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");

    let t = now(&s);
    let c = json!({"iss": "https://ci.example", "sub": "repo:acme/app:ref:main", "aud": "arca",
                   "iat": t, "exp": t + 300});
    let jwt = sign(&ec, Some("ci-1"), &c);
    let (code, out, err) = bao(
        &addr,
        None,
        home.path(),
        &[
            "write",
            "-format=json",
            "auth/jwt/login",
            "role=deploy",
            &format!("jwt={jwt}"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["auth"]["policies"], json!(["app-read", "default"]));
    assert_eq!(v["auth"]["lease_duration"], 1800);
    let token = v["auth"]["client_token"].as_str().unwrap();

    let (code, out, err) = bao(
        &addr,
        Some(token),
        home.path(),
        &["kv", "get", "-field=password", "secret/app/db"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "db-pass-1");
    let (code, _, err) = bao(
        &addr,
        Some(token),
        home.path(),
        &["kv", "get", "secret/other/x"],
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("permission denied"), "{err}");

    let expired = sign(&ec, None, &with(&c, "exp", json!(t - 3600)));
    let (code, _, err) = bao(
        &addr,
        None,
        home.path(),
        &[
            "write",
            "auth/jwt/login",
            "role=deploy",
            &format!("jwt={expired}"),
        ],
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("token is expired"), "{err}");
    assert!(
        !err.contains(&expired),
        "the CLI error must not echo the JWT"
    );
    s.stop().await;
}

/// `jwt_validation_pubkeys` also takes PKCS#1 RSA keys and certificates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pem_keys_in_pkcs1_and_certificate_form() {
    let dir = tempfile::tempdir().unwrap();
    let (rsa, ec) = (rsa_pair(dir.path(), "rsa"), ec_pair(dir.path(), "ec"));
    let pkcs1 = String::from_utf8(openssl(&[
        "rsa",
        "-in",
        &path(dir.path(), "rsa.key"),
        "-RSAPublicKey_out",
    ]))
    .unwrap();
    assert!(pkcs1.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
    let cert = |key: &str| {
        String::from_utf8(openssl(&[
            "req",
            "-x509",
            "-key",
            &path(dir.path(), key),
            "-subj",
            "/CN=signer",
            "-days",
            "1",
        ]))
        .unwrap()
    };
    let s = TestServer::dev().await;
    setup(&s, "jwt", "jwt").await;
    ok(
        &s,
        "POST",
        "auth/jwt/role/r",
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "arca"}),
    )
    .await;
    let c = claims(&s, ISS);
    for (pem, key) in [
        (pkcs1, &rsa),
        (cert("rsa.key"), &rsa),
        (cert("ec.key"), &ec),
    ] {
        ok(
            &s,
            "POST",
            "auth/jwt/config",
            json!({"jwt_validation_pubkeys": [pem]}),
        )
        .await;
        let a = login(&s, "jwt", "r", &sign(key, None, &c)).await;
        assert_eq!(a.status, 200, "{}", a.raw);
        let other = if key.alg == Algorithm::ES256 {
            &rsa
        } else {
            &ec
        };
        refused(
            &login(&s, "jwt", "r", &sign(other, None, &c)).await,
            BAD_SIG,
        );
    }
    s.stop().await;
}
