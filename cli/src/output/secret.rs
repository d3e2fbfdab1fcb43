//! The response envelope as the Go CLI prints it: `-format=json` in the Go
//! client's field order (`auth` and `wrap_info` left out when empty), and
//! the `Key/Value` table with lease, token and data rows.

use std::collections::BTreeMap;

use arca_client::{Secret, SecretAuth, WrapInfo};
use serde::Serialize;
use serde_json::Value;

use super::json::{Sorted, to_json};
use super::table::table;
use super::value::{cell, go_q_list, go_v};
use crate::wrap::wrap_padded;
use arca_client::duration::human_secs;

#[derive(Serialize)]
struct GoSecret<'a> {
    request_id: &'a str,
    lease_id: &'a str,
    lease_duration: i64,
    renewable: bool,
    data: Option<Sorted<'a>>,
    warnings: Option<&'a Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<GoAuth<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wrap_info: Option<GoWrapInfo<'a>>,
}

#[derive(Serialize)]
struct GoAuth<'a> {
    client_token: &'a str,
    accessor: &'a str,
    policies: Option<&'a Vec<String>>,
    token_policies: Option<&'a Vec<String>>,
    identity_policies: Option<&'a Vec<String>>,
    metadata: Option<&'a BTreeMap<String, String>>,
    orphan: bool,
    entity_id: &'a str,
    lease_duration: i64,
    renewable: bool,
    mfa_requirement: Option<Sorted<'a>>,
}

#[derive(Serialize)]
struct GoWrapInfo<'a> {
    token: &'a str,
    accessor: &'a str,
    ttl: i64,
    creation_time: &'a str,
    creation_path: &'a str,
    wrapped_accessor: &'a str,
}

fn go_auth(a: &SecretAuth) -> GoAuth<'_> {
    GoAuth {
        client_token: &a.client_token,
        accessor: &a.accessor,
        policies: a.policies.as_ref(),
        token_policies: a.token_policies.as_ref(),
        identity_policies: a.identity_policies.as_ref(),
        metadata: a.metadata.as_ref(),
        orphan: a.orphan,
        entity_id: &a.entity_id,
        lease_duration: a.lease_duration,
        renewable: a.renewable,
        mfa_requirement: a
            .mfa_requirement
            .as_ref()
            .filter(|v| !v.is_null())
            .map(Sorted),
    }
}

fn go_wrap(w: &WrapInfo) -> GoWrapInfo<'_> {
    GoWrapInfo {
        token: &w.token,
        accessor: &w.accessor,
        ttl: w.ttl,
        creation_time: &w.creation_time,
        creation_path: &w.creation_path,
        wrapped_accessor: &w.wrapped_accessor,
    }
}

/// The secret as `-format=json` prints it.
pub(crate) fn secret_json(s: &Secret) -> String {
    let data = s.data.clone().map(Value::Object);
    to_json(&GoSecret {
        request_id: &s.request_id,
        lease_id: &s.lease_id,
        lease_duration: s.lease_duration,
        renewable: s.renewable,
        data: data.as_ref().map(Sorted),
        warnings: s.warnings.as_ref(),
        auth: s.auth.as_ref().map(go_auth),
        wrap_info: s.wrap_info.as_ref().map(go_wrap),
    })
}

/// The warnings block the table format prints to stderr, if any.
pub(crate) fn warnings_text(s: &Secret) -> Option<String> {
    let warnings = s.warnings.as_ref().filter(|w| !w.is_empty())?;
    let mut out = String::from("WARNING! The following warnings were returned from Arca:\n\n");
    for w in warnings {
        out.push_str(&wrap_padded(&format!("* {w}"), 2));
        out.push_str("\n\n");
    }
    Some(out)
}

/// The secret as a `Key/Value` table; `None` when there is nothing to show.
pub(crate) fn secret_table(s: &Secret) -> Option<String> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |k: &str, v: String| rows.push(vec![k.to_string(), v]);
    if s.lease_duration > 0 {
        if s.lease_id.is_empty() {
            row("refresh_interval", human_secs(s.lease_duration));
        } else {
            row("lease_id", s.lease_id.clone());
            row("lease_duration", human_secs(s.lease_duration));
            row("lease_renewable", s.renewable.to_string());
        }
    }
    if let Some(a) = &s.auth {
        row("token", a.client_token.clone());
        row("token_accessor", a.accessor.clone());
        let duration = if a.lease_duration == 0 {
            "∞".to_string()
        } else {
            human_secs(a.lease_duration)
        };
        row("token_duration", duration);
        row("token_renewable", a.renewable.to_string());
        row("token_policies", go_q_list(a.token_policies.as_ref()));
        row("identity_policies", go_q_list(a.identity_policies.as_ref()));
        row("policies", go_q_list(a.policies.as_ref()));
        for (k, v) in a.metadata.iter().flatten() {
            row(&format!("token_meta_{k}"), v.clone());
        }
    }
    if let Some(w) = &s.wrap_info {
        row("wrapping_token:", w.token.clone());
        row("wrapping_accessor:", w.accessor.clone());
        row("wrapping_token_ttl:", human_secs(w.ttl));
        row("wrapping_token_creation_time:", w.creation_time.clone());
        row("wrapping_token_creation_path:", w.creation_path.clone());
        if !w.wrapped_accessor.is_empty() {
            row("wrapped_accessor:", w.wrapped_accessor.clone());
        }
    }
    if let Some(data) = &s.data {
        let mut keys: Vec<&String> = data.keys().collect();
        keys.sort();
        for k in keys {
            row(k, cell(k, &data[k]));
        }
    }
    if rows.is_empty() {
        return None;
    }
    Some(table(&["Key", "Value"], rows))
}

/// The value `-field` picks out of a secret, like the Go CLI's `RawField`:
/// token fields from `auth`, wrapping fields from `wrap_info`, envelope
/// fields, otherwise a key of `data`. `None` when absent or null.
pub(crate) fn raw_field(s: &Secret, field: &str) -> Option<Value> {
    let data_field = || s.field(field).cloned();
    let list = |l: &Option<Vec<String>>| Value::from(l.clone().unwrap_or_default());
    let v = if let Some(a) = &s.auth {
        match field {
            "token" => Some(Value::from(a.client_token.clone())),
            "token_accessor" => Some(Value::from(a.accessor.clone())),
            "token_duration" => Some(Value::from(a.lease_duration)),
            "token_renewable" => Some(Value::from(a.renewable)),
            "token_policies" => Some(list(&a.token_policies)),
            "identity_policies" => Some(list(&a.identity_policies)),
            "policies" => Some(list(&a.policies)),
            _ => data_field(),
        }
    } else if let Some(w) = &s.wrap_info {
        match field {
            "wrapping_token" => Some(Value::from(w.token.clone())),
            "wrapping_accessor" => Some(Value::from(w.accessor.clone())),
            "wrapping_token_ttl" => Some(Value::from(w.ttl)),
            "wrapping_token_creation_time" => Some(Value::from(w.creation_time.clone())),
            "wrapping_token_creation_path" => Some(Value::from(w.creation_path.clone())),
            "wrapped_accessor" => Some(Value::from(w.wrapped_accessor.clone())),
            _ => data_field(),
        }
    } else {
        match field {
            "lease_duration" | "refresh_interval" => Some(Value::from(s.lease_duration)),
            "lease_id" => Some(Value::from(s.lease_id.clone())),
            "request_id" => Some(Value::from(s.request_id.clone())),
            "renewable" => Some(Value::from(s.renewable)),
            "data" => s
                .field("data")
                .cloned()
                .or_else(|| s.data.clone().map(Value::Object)),
            _ => data_field(),
        }
    };
    v.filter(|v| !v.is_null())
}

/// A `-field` value as text: `%v` for tables, JSON otherwise.
pub(crate) fn field_text(v: &Value, json: bool) -> String {
    if json { to_json(&Sorted(v)) } else { go_v(v) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arca_client::secret::parse_secret;

    fn secret(body: &str) -> Secret {
        parse_secret(body.as_bytes()).unwrap().unwrap()
    }

    const CREATED: &str = r#"{"request_id":"776de369","lease_id":"","renewable":false,"lease_duration":0,"data":null,"wrap_info":null,"warnings":null,"auth":{"client_token":"s.mMIh","accessor":"xF02","policies":["default","p1"],"token_policies":["default","p1"],"metadata":{"a":"b"},"lease_duration":3600,"renewable":true,"entity_id":"","token_type":"service","orphan":false,"mfa_requirement":null,"num_uses":0}}"#;

    #[test]
    fn token_table_matches_bao() {
        assert_eq!(
            secret_table(&secret(CREATED)).unwrap(),
            "Key                  Value\n\
             ---                  -----\n\
             token                s.mMIh\n\
             token_accessor       xF02\n\
             token_duration       1h\n\
             token_renewable      true\n\
             token_policies       [\"default\" \"p1\"]\n\
             identity_policies    []\n\
             policies             [\"default\" \"p1\"]\n\
             token_meta_a         b"
        );
    }

    #[test]
    fn json_matches_bao() {
        let json = secret_json(&secret(CREATED));
        assert!(json.starts_with("{\n  \"request_id\": \"776de369\",\n  \"lease_id\": \"\",\n  \"lease_duration\": 0,\n  \"renewable\": false,\n  \"data\": null,\n  \"warnings\": null,\n  \"auth\": {\n    \"client_token\": \"s.mMIh\","));
        assert!(json.contains("\"identity_policies\": null,\n    \"metadata\": {\n      \"a\": \"b\"\n    },\n    \"orphan\": false,"));
        assert!(json.ends_with("\"mfa_requirement\": null\n  }\n}"));
        assert!(!json.contains("wrap_info"));
    }

    #[test]
    fn lookup_table_humanizes_ttls() {
        let s = secret(
            r#"{"request_id":"a","lease_id":"","renewable":false,"lease_duration":0,"data":{"accessor":"IECF","creation_ttl":0,"entity_id":"","expire_time":null,"meta":null,"policies":["root"],"ttl":7199},"wrap_info":null,"warnings":null,"auth":null}"#,
        );
        assert_eq!(
            secret_table(&s).unwrap(),
            "Key             Value\n\
             ---             -----\n\
             accessor        IECF\n\
             creation_ttl    0s\n\
             entity_id       n/a\n\
             expire_time     <nil>\n\
             meta            <nil>\n\
             policies        [root]\n\
             ttl             1h59m59s"
        );
    }

    #[test]
    fn refresh_interval_and_warnings() {
        let s = secret(r#"{"lease_duration":2764800,"data":{"foo":"bar"},"warnings":["careful"]}"#);
        let t = secret_table(&s).unwrap();
        assert!(t.contains("refresh_interval    768h"), "{t}");
        assert_eq!(
            warnings_text(&s).unwrap(),
            "WARNING! The following warnings were returned from Arca:\n\n  * careful\n\n"
        );
    }

    #[test]
    fn raw_fields() {
        let s = secret(CREATED);
        assert_eq!(raw_field(&s, "token"), Some(Value::from("s.mMIh")));
        assert_eq!(
            field_text(&raw_field(&s, "policies").unwrap(), false),
            "[default p1]"
        );
        assert_eq!(raw_field(&s, "nope"), None);
        let d = secret(r#"{"data":{"data":{"k":"v"},"x":null}}"#);
        assert_eq!(
            field_text(&raw_field(&d, "data").unwrap(), false),
            "map[k:v]"
        );
        assert_eq!(raw_field(&d, "x"), None);
    }
}
