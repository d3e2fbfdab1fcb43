//! The fuzz targets (see mod.rs): each a corpus and what must hold for any
//! input.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{Corpus, run};
use crate::logical::Operation;

/// Input bytes as text, the way a parser of text gets them.
fn text(input: &[u8]) -> String {
    String::from_utf8_lossy(input).into_owned()
}

const OPS: [Operation; 6] = [
    Operation::Read,
    Operation::Create,
    Operation::Update,
    Operation::Patch,
    Operation::Delete,
    Operation::List,
];

const POLICY_SEEDS: &[&[u8]] = &[
    crate::policy::store::DEFAULT_POLICY.as_bytes(),
    br#"path "secret/data/+/config" {
  capabilities = ["read", "list", "sudo"]
  allowed_parameters = { "name" = ["ab*", "exact"], "*" = [] }
  denied_parameters = { "free" = ["forbidden", 1, true] }
  required_parameters = ["name"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = 3600
}
# a comment
path "sys/*" { capabilities = ["deny"] } // another
/* block */ path "a/b*" { policy = "write" }
"#,
    br#"{"path": {"secret/*": {"capabilities": ["read"]}, "x": {"policy": "deny"}}}"#,
    b"path \"k/{{identity.entity.id}}/*\" {\n  capabilities = [\"create\"]\n}\n",
    b"path \"heredoc\" {\n  capabilities = <<EOF\n[\"read\"]\nEOF\n}\n",
];

const HCL_TOKENS: &[&[u8]] = &[
    b"path",
    b"capabilities",
    b"policy",
    b"{",
    b"}",
    b"[",
    b"]",
    b"=",
    b"\"",
    b"*",
    b"+",
    b",",
    b"\n",
    b"#",
    b"//",
    b"/*",
    b"*/",
    b"<<EOF\n",
    b"\nEOF\n",
    b"<<-X\n",
    b"${",
    b"%{",
    b"\\",
    b"\\u00",
    b"\\x",
    b"deny",
    b"sudo",
    b"allowed_parameters",
    b"denied_parameters",
    b"required_parameters",
    b"min_wrapping_ttl",
    b"max_wrapping_ttl",
    b"{{identity.entity.id}}",
    b"{{",
    b"}}",
    b"1e999",
    b"-1",
    b"99999999999999999999999",
    b"0x",
    b"true",
    b"null",
    b".",
    b"\xff",
    b"\xc3",
    b"\0",
    b"\r",
    b"\t",
];

#[test]
fn policy_hcl() {
    let corpus = Corpus {
        seeds: POLICY_SEEDS,
        dictionary: HCL_TOKENS,
    };
    let mut data = Map::new();
    data.insert("name".into(), json!("abc"));
    data.insert("free".into(), json!(["forbidden"]));
    run("policy_hcl", &corpus, |input| {
        let Ok(policy) = crate::policy::parse::parse("fuzz", &text(input)) else {
            return false;
        };
        // Whatever parses compiles into an ACL that answers.
        let acl = crate::policy::Acl::new(&[Arc::new(policy)], false);
        for path in [
            "secret/data/x/config",
            "sys/audit/x",
            "a/b/c",
            "",
            "k/",
            "heredoc",
        ] {
            for op in OPS {
                let r = acl.allow(path, op, &data, Some(Duration::from_secs(90)));
                assert!(!r.is_root, "a parsed policy granted root");
            }
            acl.capabilities(path);
        }
        acl.has_access_under("secret/");
        true
    });
}

const CONFIG_SEEDS: &[&[u8]] = &[
    br#"storage "file" {
  path = "/tmp/arca-data"
}
listener "tcp" {
  address     = "127.0.0.1:8200"
  tls_disable = true
  max_request_size = 1024
  max_request_duration = "90s"
  http_read_header_timeout = "10s"
  http_idle_timeout = 300
  telemetry {
    unauthenticated_metrics_access = true
  }
}
api_addr      = "http://127.0.0.1:8200"
cluster_addr  = "https://127.0.0.1:8201"
ui            = true
log_level     = "Info"
disable_mlock = true
default_lease_ttl = "768h"
max_lease_ttl = "8760h"
"#,
    br#"storage "inmem" {}
listener "tcp" {
  address = "0.0.0.0:8200"
  tls_cert_file = "/c"
  tls_key_file = "/k"
  tls_min_version = "tls13"
  tls_cipher_suites = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
  tls_require_and_verify_client_cert = "true"
  tls_client_ca_file = "/ca"
}
pid_file = "/run/arca.pid"
"#,
];

const CONFIG_TOKENS: &[&[u8]] = &[
    b"storage",
    b"listener",
    b"\"tcp\"",
    b"\"file\"",
    b"\"inmem\"",
    b"telemetry",
    b"seal",
    b"address",
    b"path",
    b"tls_disable",
    b"tls_min_version",
    b"\"tls10\"",
    b"max_request_size",
    b"http_idle_timeout",
    b"\"0\"",
    b"\"-5s\"",
    b"\"9999999999h\"",
    b"\"1.5h\"",
    b"\"1e3s\"",
    b":",
    b":99999",
    b"[::1]",
    b"{",
    b"}",
    b"=",
    b"\"",
    b"\n",
    b"#",
    b"<<EOF\n",
    b"\nEOF\n",
    b"true",
    b"\"maybe\"",
    b"18446744073709551616",
];

#[test]
fn server_config() {
    let corpus = Corpus {
        seeds: CONFIG_SEEDS,
        dictionary: CONFIG_TOKENS,
    };
    run(
        "server_config",
        &corpus,
        |input| match crate::config::parse("fuzz.hcl", &text(input)) {
            Ok(_) => true,
            Err(e) => {
                assert!(!e.message.is_empty());
                false
            }
        },
    );
}

const DURATION_SEEDS: &[&[u8]] = &[
    b"1h30m",
    b"90s",
    b"1.5h",
    b"300ms",
    b"2h45m10.5s",
    b"0",
    b"45",
    b"768h",
    b"1us",
    b"5\xc2\xb5s",
    b"100ns",
    b"-1s",
    b"+3m",
    b"9223372036s",
];

const DURATION_TOKENS: &[&[u8]] = &[
    b"h",
    b"m",
    b"s",
    b"ms",
    b"us",
    b"\xc2\xb5s",
    b"ns",
    b".",
    b"-",
    b"+",
    b"0",
    b"9",
    b"e",
    b"99999999999999999999",
    b" ",
    b"d",
    b"y",
];

#[test]
fn go_durations() {
    let corpus = Corpus {
        seeds: DURATION_SEEDS,
        dictionary: DURATION_TOKENS,
    };
    run("go_durations", &corpus, |input| {
        let s = text(input);
        let parsed = crate::duration::parse(&s);
        if let Ok(d) = parsed {
            // What Arca prints, it reads back (to the second it prints).
            let printed = crate::duration::format_go(d);
            let back = crate::duration::parse(&printed).expect("a printed duration parses");
            assert_eq!(
                back,
                Duration::from_secs(d.as_secs()),
                "{s:?} -> {printed:?}"
            );
            crate::duration::format_short(d);
        }
        let _ = crate::duration::from_value(&Value::String(s.clone()));
        if let Ok(v) = serde_json::from_slice::<Value>(input) {
            let _ = crate::duration::from_value(&v);
        }
        parsed.is_ok()
    });
}

const BODY_SEEDS: &[&[u8]] = &[
    br#"{"policies": ["a", "b"], "ttl": "1h", "num_uses": 3, "renewable": true, "meta": {"k": "v"}}"#,
    br#"{"policies": "a, b", "ttl": 3600, "num_uses": "3", "renewable": "t", "meta": ["k=v", "x=y"]}"#,
    br#"{"data": {"nested": [1, 2.5, null, {"x": true}]}, "options": {"version": "2"}}"#,
    b"",
    b"   ",
    br#"{"ttl": -5, "num_uses": 1e300, "renewable": 2, "meta": 7, "policies": [null]}"#,
];

const JSON_TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\"",
    b"null",
    b"true",
    b"false",
    b"-0",
    b"1e308",
    b"1e-400",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"\\u0000",
    b"\\ud800",
    b"\"\"",
    b"[[[[[[[[[[[[[[[[",
    b"\xef\xbb\xbf",
];

#[test]
fn request_bodies_and_fields() {
    let corpus = Corpus {
        seeds: BODY_SEEDS,
        dictionary: JSON_TOKENS,
    };
    run("request_bodies_and_fields", &corpus, |input| {
        let Ok(data) = crate::http::request::parse_body(input) else {
            return false;
        };
        let keys: Vec<String> = data.keys().cloned().collect();
        for k in keys
            .iter()
            .map(String::as_str)
            .chain(["ttl", "policies", "meta"])
        {
            let _ = crate::fields::string(&data, k);
            let _ = crate::fields::bool(&data, k);
            let _ = crate::fields::int(&data, k);
            let _ = crate::fields::duration(&data, k);
            let _ = crate::fields::string_list(&data, k);
            let _ = crate::fields::string_map(&data, k);
            let _ = crate::fields::object(&data, k);
        }
        let query = text(input);
        crate::http::request::query_map(Some(&query));
        let path = crate::http::request::path_decode(&query);
        crate::http::request::valid_path(&path);
        true
    });
}

const SHARE_SEEDS: &[&[u8]] = &[
    b"3be61a5092bed51eae3f217025d5fe9f727625f6510f88445ae252fb91d44eb701\nb606b88c8471c7e5b582f766e144fb01d1aafa3d1cd9102971e12bc7140c1d0f02\n86d0f7a6890bfbf528e5abb4037d14a8f85c7a01a2c2a133a8abb4ce92e4323e03",
    b"O+YaUJK+1R6uPyFwJdX+n3J2JfZRD4hEWuJS+5HUTrcB\ntga4jIRxx+W1gvdm4UT7AdGq+j0c2RApceErxxQMHQ8C",
    b"AAAA",
];

const SHARE_TOKENS: &[&[u8]] = &[
    b"\n",
    b"=",
    b"+",
    b"/",
    b"-",
    b"_",
    b"00",
    b"ff",
    b"01",
    b" ",
    b"AAAAAAAAAAAAAAAAAAAAAA",
];

#[test]
fn unseal_shares() {
    let corpus = Corpus {
        seeds: SHARE_SEEDS,
        dictionary: SHARE_TOKENS,
    };
    run("unseal_shares", &corpus, |input| {
        let s = text(input);
        let shares: Vec<_> = s
            .lines()
            .filter_map(|l| crate::core::lifecycle::decode_share(l).ok())
            .collect();
        let mut combined = false;
        for threshold in [0u8, 1, 2, 3, 255] {
            combined |= crate::seal::shamir::combine(&shares, threshold).is_ok();
        }
        combined
    });
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS of these parts (not signed: the parsers run before any
/// signature check).
fn jws(header: &Value, claims: &Value) -> Vec<u8> {
    let b = |v: &Value| base64_url(v.to_string().as_bytes());
    format!("{}.{}.c2lnbmF0dXJl", b(header), b(claims)).into_bytes()
}

#[test]
fn jwts_and_claims() {
    let projected = json!({
        "aud": ["arca"], "exp": 1_700_003_600, "iat": 1_700_000_000, "nbf": 1_700_000_000,
        "iss": "https://kubernetes.default.svc",
        "kubernetes.io": {"namespace": "ns", "warnafter": 1_700_003_607,
            "pod": {"name": "p", "uid": "u"}, "serviceaccount": {"name": "sa", "uid": "u1"}},
        "sub": "system:serviceaccount:ns:sa", "groups": ["a", "b"], "nested": {"x": [1, "y"]},
    });
    let legacy = json!({
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "ns",
        "kubernetes.io/serviceaccount/service-account.name": "sa",
        "kubernetes.io/serviceaccount/service-account.uid": "u2",
    });
    // Compact tokens, and bare claims (which the target also wraps into a
    // token, so edits of the claims reach the claim checks).
    let seeds = [
        jws(&json!({"alg": "RS256", "kid": "k"}), &projected),
        jws(&json!({"alg": "ES256"}), &legacy),
        jws(
            &json!({"alg": "RS256", "crit": ["x"]}),
            &json!({"aud": "a", "exp": 1.5e9}),
        ),
        projected.to_string().into_bytes(),
        legacy.to_string().into_bytes(),
        json!({"aud": "arca", "iat": 1e20, "exp": -1, "kubernetes.io": []})
            .to_string()
            .into_bytes(),
    ];
    let seeds: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
    let corpus = Corpus {
        seeds: &seeds,
        dictionary: &[
            b".",
            b"-",
            b"_",
            b"=",
            b"eyJ",
            b"e30",
            b"AAAA",
            b"\"alg\"",
            b"\"none\"",
            b"\"HS256\"",
            b"\"exp\"",
            b"1e400",
            b"-1",
            b"\"warnafter\"",
            b"null",
            b"[",
            b"{",
            b"}",
        ],
    };
    let bound = json!({"sub": "system:*", "groups": ["a"], "/nested/x/1": "y", "/": "z"});
    let bound = bound.as_object().cloned().unwrap_or_default();
    let mappings = std::collections::BTreeMap::from([
        ("/kubernetes.io/pod/name".to_owned(), "pod".to_owned()),
        ("/nested/x/9".to_owned(), "n".to_owned()),
        ("sub".to_owned(), "s".to_owned()),
    ]);
    run("jwts_and_claims", &corpus, |input| {
        use crate::auth::jwt::claims;
        use crate::auth::kubernetes::jwt;
        let s = text(input);
        let wrapped = String::from_utf8(jws(&json!({"alg": "RS256"}), &Value::Null))
            .unwrap_or_default()
            .replacen("bnVsbA", &base64_url(input), 1);
        let mut accepted = false;
        for compact in [s.as_str(), wrapped.as_str()] {
            let Ok(token) = jwt::parse(compact) else {
                continue;
            };
            accepted = true;
            for now in [0, 1_700_001_000, i64::MAX, i64::MIN] {
                let expected = jwt::Expected {
                    issuer: Some("https://kubernetes.default.svc"),
                    audience: Some("arca"),
                    now,
                };
                let _ = jwt::check_claims(&token.claims, &expected);
                let _ = jwt::check_local_lifetime(&token.claims, now, 3600);
            }
            let _ = (
                token.claims.name(),
                token.claims.namespace(),
                token.claims.uid(),
            );
            assert!(token.verify_signature(&[]).is_err());
        }
        // The claims of the jwt method: whatever JSON object the payload is.
        let payload = s.split('.').nth(1).unwrap_or(&s);
        let decoded = {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap_or_else(|_| input.to_vec())
        };
        if let Ok(Value::Object(c)) = serde_json::from_slice::<Value>(&decoded) {
            for globs in [false, true] {
                let _ = claims::validate_bound_claims(&bound, globs, &c);
            }
            let _ = claims::extract_metadata(&c, &mappings);
            for (name, pointer) in [
                ("sub", false),
                ("/nested/x/1", true),
                ("/", true),
                ("", true),
            ] {
                let _ = claims::user_name(&c, name, pointer);
                let _ = claims::groups(&c, name);
            }
        }
        let _ = jsonwebtoken::decode_header(&s);
        accepted
    });
}

#[test]
fn jwks_and_pem_keys() {
    let jwks = br#"{"keys": [
 {"kty": "RSA", "kid": "r", "alg": "RS256", "use": "sig", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"},
 {"kty": "EC", "kid": "e", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
 {"kty": "oct", "k": "c2VjcmV0"}
]}"#;
    let pem = b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEf83OJ3D2xF1Bg8vub9tLe1gHMzV7\n6e8Tus9uPHvRVEXH8UTNG72bfocs3+257rn0s2ldbqkLJK2KRiMohYjlrQ==\n-----END PUBLIC KEY-----\n";
    let corpus = Corpus {
        seeds: &[jwks, pem],
        dictionary: &[
            b"\"kty\"",
            b"\"RSA\"",
            b"\"EC\"",
            b"\"OKP\"",
            b"\"crv\"",
            b"\"P-521\"",
            b"\"n\"",
            b"\"e\"",
            b"\"x5c\"",
            b"\"AA\"",
            b"\"\"",
            b"-----BEGIN CERTIFICATE-----\n",
            b"-----END PUBLIC KEY-----",
            b"\n",
            b"=",
            b"{",
            b"}",
            b"[",
            b"]",
        ],
    };
    run("jwks_and_pem_keys", &corpus, |input| {
        let jwks = crate::auth::jwt::keys::parse_jwks(input).is_ok();
        let pem = crate::auth::jwt::keys::parse_pem(&text(input)).is_ok();
        let _ = crate::auth::kubernetes::jwt::PublicKey::from_pem(&text(input));
        jwks || pem
    });
}
