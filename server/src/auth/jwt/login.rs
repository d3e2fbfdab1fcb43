//! `login`: a role (or the config's `default_role`) and a JWT become a
//! `Login` for the core to mint a token from. In Vault's order:
//!
//! 1. the role, and that it is a `jwt` role
//! 2. the token's form, its algorithm (asymmetric only), its signature
//! 3. the algorithm against `jwt_supported_algs`, then `iss`, `sub`,
//!    `aud`, and `nbf`/`exp`/`iat` with the role's leeways (hashicorp/cap
//!    semantics, clock from the factory)
//! 4. an `aud` in a token whose role binds no audience is refused
//! 5. the alias name (user claim), metadata (claim mappings), groups
//! 6. the bound claims
//!
//! Every failure is a 400 with Vault's message. The JWT itself never
//! appears in an error or a log line.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::claims;
use super::config::Config;
use super::jwks::{KeySource, Signed};
use super::keys::{Alg, alg_list};
use super::role::{GROUPS_METADATA, Role};
use crate::logical::Login;

/// Default leeway (seconds) for `exp`/`nbf` when a token lacks them.
const DEFAULT_LEEWAY: i64 = 150;
/// Default clock skew leeway (seconds), for all time claims.
const DEFAULT_CLOCK_SKEW: i64 = 60;

/// A compact JWS split into its parts; nothing is trusted yet.
struct Compact<'a> {
    header: Map<String, Value>,
    message: &'a str,
    payload: &'a str,
    signature: &'a str,
}

fn b64_json(part: &str, what: &str) -> Result<Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.as_bytes())
        .map_err(|_| format!("malformed jwt: illegal base64 data in the {what}"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(format!("malformed jwt: the {what} is not a JSON object")),
    }
}

fn split(token: &str) -> Result<Compact<'_>, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed jwt: compact JWS format must have three parts".into());
    };
    let header = b64_json(h, "header")?;
    let message = token.get(..h.len() + 1 + p.len()).unwrap_or_default();
    Ok(Compact {
        header,
        message,
        payload: p,
        signature: s,
    })
}

/// The registered claims, typed; a claim of the wrong type is an error.
#[derive(Default)]
struct Registered {
    iss: String,
    sub: String,
    aud: Vec<String>,
    exp: i64,
    nbf: i64,
    iat: i64,
}

fn registered(c: &Map<String, Value>) -> Result<Registered, String> {
    let text = |k: &str| match c.get(k) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("malformed claims: {k:?} is not a string")),
    };
    let date = |k: &str| match c.get(k) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.trunc() as i64)
            })
            .ok_or_else(|| format!("malformed claims: {k:?} is not a number")),
        Some(_) => Err(format!("malformed claims: {k:?} is not a number")),
    };
    let aud = match c.get("aud") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| "malformed claims: \"aud\" is not a string list".to_owned())?,
        Some(_) => return Err("malformed claims: \"aud\" is not a string list".into()),
    };
    Ok(Registered {
        iss: text("iss")?,
        sub: text("sub")?,
        aud,
        exp: date("exp")?,
        nbf: date("nbf")?,
        iat: date("iat")?,
    })
}

/// A leeway setting: 0 means `default`, negative means none.
fn leeway(setting: i64, default: i64) -> i64 {
    match setting {
        s if s < 0 => 0,
        0 => default,
        s => s,
    }
}

/// The time checks of hashicorp/cap, which Vault uses: a missing `exp` is
/// the latest of `iat`/`nbf` plus the expiration leeway; a missing `nbf`
/// is `iat`, or `exp` minus the not-before leeway; the clock skew leeway
/// widens every bound. `now_nanos` is Unix time in nanoseconds.
fn check_times(r: &Registered, role: &Role, now_nanos: i128) -> Result<(), String> {
    if r.iat == 0 && r.exp == 0 && r.nbf == 0 {
        return Err(
            "no issued at (iat), not before (nbf), or expiration time (exp) claims in token".into(),
        );
    }
    let exp = if r.exp == 0 {
        r.iat.max(r.nbf) + leeway(role.expiration_leeway, DEFAULT_LEEWAY)
    } else {
        r.exp
    };
    let nbf = match (r.nbf, r.iat) {
        (0, 0) => exp - leeway(role.not_before_leeway, DEFAULT_LEEWAY),
        (0, iat) => iat,
        (nbf, _) => nbf,
    };
    let skew = i128::from(leeway(role.clock_skew_leeway, DEFAULT_CLOCK_SKEW)) * 1_000_000_000;
    let at = |secs: i64| i128::from(secs) * 1_000_000_000;
    if now_nanos + skew < at(nbf) {
        return Err("invalid not before (nbf) claim: token not yet valid".into());
    }
    if now_nanos - skew > at(exp) {
        return Err("invalid expiration time (exp) claim: token is expired".into());
    }
    if now_nanos + skew < at(r.iat) {
        return Err("invalid issued at (iat) claim: token issued in the future".into());
    }
    Ok(())
}

/// Steps 2 and 3: the token's verified claims, or the text that follows
/// "error validating token: ".
pub async fn validate(
    token: &str,
    config: &Config,
    role: &Role,
    keys: &KeySource,
    now_nanos: i128,
) -> Result<Map<String, Value>, String> {
    let sig_err = |e: String| format!("error verifying token signature: {e}");
    let jws = split(token).map_err(sig_err)?;
    if jws.header.contains_key("crit") {
        return Err(sig_err("malformed jwt: unsupported critical header".into()));
    }
    let alg_name = jws.header.get("alg").and_then(Value::as_str).unwrap_or("");
    let Some(alg) = Alg::parse(alg_name) else {
        // `none`, HMAC and unknown algorithms never reach a key.
        return Err(sig_err(if keys.is_remote() {
            format!(
                "malformed jwt: unexpected signature algorithm {alg_name:?}; expected {}",
                alg_list()
            )
        } else {
            super::jwks::SigError::NoStaticKey.to_string()
        }));
    };
    let kid = jws.header.get("kid").and_then(Value::as_str);
    keys.verify(&Signed {
        alg,
        kid,
        message: jws.message,
        signature: jws.signature,
    })
    .await
    .map_err(|e| sig_err(e.to_string()))?;

    if !config.algorithms().contains(&alg) {
        return Err(
            "invalid algorithm (alg) header parameter: token signed with unexpected algorithm"
                .into(),
        );
    }
    let all = b64_json(jws.payload, "payload")?;
    let r = registered(&all)?;
    if !config.bound_issuer.is_empty() && config.bound_issuer != r.iss {
        return Err("invalid issuer (iss) claim".into());
    }
    if !role.bound_subject.is_empty() && role.bound_subject != r.sub {
        return Err("invalid subject (sub) claim".into());
    }
    if let Some(bound) = role.bound_audiences.as_ref().filter(|b| !b.is_empty()) {
        if !bound.iter().any(|a| r.aud.contains(a)) {
            return Err(
                "invalid audience (aud) claim: audience claim does not match any expected audience"
                    .into(),
            );
        }
    }
    check_times(&r, role, now_nanos)?;
    Ok(all)
}

/// Steps 4 to 6 on verified claims: the `Login` the core completes.
pub fn login_from_claims(
    all: &Map<String, Value>,
    role_name: &str,
    role: &Role,
) -> Result<Login, String> {
    let has_aud = claims::claim(all, "aud")
        .and_then(|a| a.as_array().map(|a| !a.is_empty()))
        .unwrap_or(false);
    if has_aud && role.bound_audiences.as_ref().is_none_or(Vec::is_empty) {
        return Err("audience claim found in JWT but no audiences bound to the role".into());
    }
    let name = claims::user_name(all, &role.user_claim, role.user_claim_json_pointer)?;
    let mut metadata = match &role.claim_mappings {
        Some(m) => claims::extract_metadata(all, m)?,
        None => BTreeMap::new(),
    };
    metadata.insert("role".into(), role_name.to_owned());
    let mut alias_metadata = metadata.clone();
    if !role.groups_claim.is_empty() {
        let groups = claims::groups(all, &role.groups_claim)?;
        // No identity groups yet: the alias remembers them as a JSON list.
        alias_metadata.insert(
            GROUPS_METADATA.into(),
            serde_json::to_string(&groups).unwrap_or_default(),
        );
    }
    if let Some(bound) = &role.bound_claims {
        claims::validate_bound_claims(bound, role.bound_claims_type == "glob", all)
            .map_err(|e| format!("error validating claims: {e}"))?;
    }
    Ok(Login {
        alias_name: name.clone(),
        alias_metadata,
        display_name: name,
        metadata,
        token: role.token.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(exp: i64, nbf: i64, iat: i64) -> Registered {
        Registered {
            exp,
            nbf,
            iat,
            ..Default::default()
        }
    }

    const S: i128 = 1_000_000_000;

    #[test]
    fn time_claims_with_caps_leeways() {
        let role = Role::default();
        let now = 10_000 * S;
        assert!(check_times(&reg(10_000 + 1, 0, 0), &role, now).is_ok());
        // Default skew of 60s on expiry.
        assert!(check_times(&reg(10_000 - 59, 0, 0), &role, now).is_ok());
        assert_eq!(
            check_times(&reg(10_000 - 61, 0, 0), &role, now).unwrap_err(),
            "invalid expiration time (exp) claim: token is expired"
        );
        assert_eq!(
            check_times(&reg(20_000, 10_061, 0), &role, now).unwrap_err(),
            "invalid not before (nbf) claim: token not yet valid"
        );
        // A future iat is the nbf when nbf is missing.
        assert_eq!(
            check_times(&reg(20_000, 0, 10_061), &role, now).unwrap_err(),
            "invalid not before (nbf) claim: token not yet valid"
        );
        assert_eq!(
            check_times(&reg(20_000, 9_000, 10_061), &role, now).unwrap_err(),
            "invalid issued at (iat) claim: token issued in the future"
        );
        // No exp: iat + 150s expiration leeway (+ 60s skew).
        assert!(check_times(&reg(0, 0, 10_000 - 200), &role, now).is_ok());
        assert!(check_times(&reg(0, 0, 10_000 - 211), &role, now).is_err());
        assert!(check_times(&reg(0, 0, 0), &role, now).is_err());
        // Leeways disabled with -1.
        let strict = Role {
            clock_skew_leeway: -1,
            ..Role::default()
        };
        assert!(check_times(&reg(10_000 - 1, 0, 0), &strict, now).is_err());
        let wide = Role {
            clock_skew_leeway: 600,
            ..Role::default()
        };
        assert!(check_times(&reg(10_000 - 500, 0, 0), &wide, now).is_ok());
    }

    #[test]
    fn malformed_tokens() {
        for bad in ["", "abc", "a.b", "a.b.c.d", "not a jwt"] {
            assert_eq!(
                split(bad).err().unwrap(),
                "malformed jwt: compact JWS format must have three parts",
                "{bad}"
            );
        }
        assert!(split("!!.e30.").err().unwrap().contains("illegal base64"));
        assert!(
            split("bm90anNvbg.e30.")
                .err()
                .unwrap()
                .contains("not a JSON object")
        );
        let ok = split("eyJhbGciOiJSUzI1NiJ9.e30.c2ln").unwrap();
        assert_eq!(ok.message, "eyJhbGciOiJSUzI1NiJ9.e30");
        assert_eq!(ok.header["alg"], "RS256");
    }

    #[test]
    fn registered_claim_types() {
        let m = |v: Value| v.as_object().cloned().unwrap();
        let r = registered(&m(serde_json::json!({"aud": "x", "exp": 5.9, "sub": "s"}))).unwrap();
        assert_eq!(
            (r.aud, r.exp, r.sub),
            (vec!["x".to_owned()], 5, "s".to_owned())
        );
        assert!(registered(&m(serde_json::json!({"sub": 5}))).is_err());
        assert!(registered(&m(serde_json::json!({"aud": [1]}))).is_err());
        assert!(registered(&m(serde_json::json!({"exp": "soon"}))).is_err());
    }
}
