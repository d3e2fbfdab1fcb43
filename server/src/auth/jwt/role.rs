//! Roles (`role/:name`): what a token must show to log in (audiences,
//! subject, bound claims), how its claims become the alias and metadata
//! (`user_claim`, `groups_claim`, `claim_mappings`), the clock leeways,
//! and the `token_*` settings of the Vault token a login gets.
//!
//! Writes follow Vault's handler, quirks included: `role_type`,
//! `bound_claims_type` and `callback_mode` fall back to their defaults
//! (`oidc`, `string`, `client`) on every write that omits them, so an
//! update of a `jwt` role must repeat `role_type=jwt`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::auth::token_params::TokenParams;
use crate::error::{Error, Result};
use crate::fields;

/// `role/<name>` -> Role.
pub const ROLE_PREFIX: &str = "role/";

/// Metadata keys a claim mapping may not write: `role` is Vault's; Arca
/// records the groups claim under `groups` in the alias metadata (there
/// are no identity groups yet), so that key is taken when a groups claim
/// is set.
const RESERVED_METADATA: &str = "role";
pub const GROUPS_METADATA: &str = "groups";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Role {
    pub role_type: String,
    #[serde(default)]
    pub token: TokenParams,
    /// Seconds; 0 means the default, negative disables the leeway.
    #[serde(default)]
    pub expiration_leeway: i64,
    #[serde(default)]
    pub not_before_leeway: i64,
    #[serde(default)]
    pub clock_skew_leeway: i64,
    #[serde(default)]
    pub bound_audiences: Option<Vec<String>>,
    #[serde(default)]
    pub bound_subject: String,
    #[serde(default)]
    pub bound_claims_type: String,
    #[serde(default)]
    pub bound_claims: Option<Map<String, Value>>,
    #[serde(default)]
    pub claim_mappings: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub oauth2_metadata: Option<Vec<String>>,
    pub user_claim: String,
    #[serde(default)]
    pub user_claim_json_pointer: bool,
    #[serde(default)]
    pub groups_claim: String,
    #[serde(default)]
    pub oidc_scopes: Option<Vec<String>>,
    #[serde(default)]
    pub allowed_redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub callback_mode: String,
    #[serde(default)]
    pub poll_interval: i64,
    #[serde(default)]
    pub verbose_oidc_logging: bool,
    /// Seconds.
    #[serde(default)]
    pub max_age: u64,
    #[serde(default)]
    pub oidc_disable_confirmation: bool,
}

/// Role names as Vault's `GenericNameRegex`: word characters, `-` and
/// `.` inside, a word character at each end.
pub fn valid_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let (Some(first), Some(last)) = (name.chars().next(), name.chars().last()) else {
        return false;
    };
    word(first) && word(last) && name.chars().all(|c| word(c) || c == '-' || c == '.')
}

/// A signed duration in seconds (Vault's `TypeSignedDurationSecond`): a
/// number, or a duration string, either possibly negative.
fn signed_secs(d: &Map<String, Value>, key: &str) -> Result<Option<i64>> {
    let bad = |v: &dyn std::fmt::Display| {
        Error::invalid(format!(
            "Field validation failed: error converting input for field {key:?}: time: invalid duration {v}"
        ))
    };
    match d.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Some(i)),
            None => n
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e9)
                .map(|f| Some(f as i64))
                .ok_or_else(|| bad(n)),
        },
        Some(Value::String(s)) => {
            let t = s.trim();
            let (neg, body) = match t.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, t),
            };
            let secs = crate::duration::parse(body).map_err(|_| bad(&format!("{s:?}")))?;
            let secs = i64::try_from(secs.as_secs()).map_err(|_| bad(&format!("{s:?}")))?;
            Ok(Some(if neg { -secs } else { secs }))
        }
        Some(other) => Err(bad(other)),
    }
}

fn opt_list(d: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>> {
    fields::string_list(d, key)
}

impl Role {
    /// A role before its first write.
    pub fn new() -> Self {
        Self {
            token: TokenParams::new(),
            ..Self::default()
        }
    }

    /// Applies a write to `self` (a new role or the stored one). On error
    /// the caller stores nothing. Returns warnings.
    pub fn update(&mut self, d: &Map<String, Value>) -> Result<Vec<String>> {
        let role_type = fields::string(d, "role_type")?
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "oidc".into());
        if role_type != "jwt" && role_type != "oidc" {
            return Err(Error::invalid(format!("invalid 'role_type': {role_type}")));
        }
        self.role_type = role_type;
        self.token.update(d)?;

        if let Some(v) = signed_secs(d, "expiration_leeway")? {
            self.expiration_leeway = v;
        }
        if let Some(v) = signed_secs(d, "not_before_leeway")? {
            self.not_before_leeway = v;
        }
        if let Some(v) = signed_secs(d, "clock_skew_leeway")? {
            self.clock_skew_leeway = v;
        }
        if let Some(v) = opt_list(d, "bound_audiences")? {
            self.bound_audiences = Some(v);
        }
        if let Some(v) = fields::string(d, "bound_subject")? {
            self.bound_subject = v;
        }
        if let Some(v) = fields::bool(d, "verbose_oidc_logging")? {
            self.verbose_oidc_logging = v;
        }
        if let Some(v) = fields::duration(d, "max_age")? {
            self.max_age = v.as_secs();
        }
        if fields::bool(d, "token_policies_template_claims")? == Some(true) {
            return Err(Error::invalid(
                "token_policies_template_claims is not supported by Arca",
            ));
        }
        if let Some(v) = fields::bool(d, "oidc_disable_confirmation")? {
            self.oidc_disable_confirmation = v;
        }

        let claims_type = fields::string(d, "bound_claims_type")?
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "string".into());
        if claims_type != "string" && claims_type != "glob" {
            return Err(Error::invalid(format!(
                "invalid 'bound_claims_type': {claims_type}"
            )));
        }
        self.bound_claims_type = claims_type;
        if let Some(bound) = fields::object(d, "bound_claims")? {
            if self.bound_claims_type == "glob" {
                check_glob_values(bound)?;
            }
            self.bound_claims = Some(bound.clone());
        }

        if let Some(mappings) = fields::string_map(d, "claim_mappings")? {
            let mut targets = std::collections::HashSet::new();
            for target in mappings.values() {
                if target == RESERVED_METADATA {
                    return Err(Error::invalid(format!(
                        "metadata key {target:?} is reserved and may not be a mapping destination"
                    )));
                }
                if !targets.insert(target) {
                    return Err(Error::invalid(format!(
                        "multiple keys are mapped to metadata key {target:?}"
                    )));
                }
            }
            self.claim_mappings = Some(mappings);
        }
        if let Some(names) = opt_list(d, "oauth2_metadata")? {
            if let Some(bad) = names
                .iter()
                .find(|n| !matches!(n.as_str(), "id_token" | "refresh_token" | "access_token"))
            {
                return Err(Error::invalid(format!(
                    "Unrecognized oauth2 metadata name {bad}"
                )));
            }
            self.oauth2_metadata = Some(names);
        }
        if let Some(v) = fields::string(d, "user_claim")? {
            self.user_claim = v;
        }
        if self.user_claim.is_empty() {
            return Err(Error::invalid("a user claim must be defined on the role"));
        }
        if let Some(v) = fields::bool(d, "user_claim_json_pointer")? {
            self.user_claim_json_pointer = v;
        }
        if let Some(v) = fields::string(d, "groups_claim")? {
            self.groups_claim = v;
        }
        if let Some(v) = opt_list(d, "oidc_scopes")? {
            self.oidc_scopes = Some(v);
        }
        if let Some(v) = opt_list(d, "allowed_redirect_uris")? {
            self.allowed_redirect_uris = Some(v);
        }
        if let Some(v) = fields::int(d, "poll_interval")? {
            self.poll_interval = v;
        }
        let mode = fields::string(d, "callback_mode")?
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "client".into());
        if !matches!(mode.as_str(), "device" | "direct" | "client") {
            return Err(Error::invalid(format!("invalid 'callback_mode': {mode}")));
        }
        self.callback_mode = mode;

        self.check()
    }

    /// The checks Vault makes on the whole role after a write.
    fn check(&self) -> Result<Vec<String>> {
        if self.role_type == "oidc"
            && self
                .allowed_redirect_uris
                .as_ref()
                .is_none_or(Vec::is_empty)
        {
            return Err(Error::invalid(
                "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.",
            ));
        }
        let bound = |o: &Option<Vec<String>>| o.as_ref().is_some_and(|v| !v.is_empty());
        if self.role_type != "oidc"
            && !bound(&self.bound_audiences)
            && self.token.bound_cidrs.is_empty()
            && self.bound_subject.is_empty()
            && self.bound_claims.as_ref().is_none_or(Map::is_empty)
        {
            return Err(Error::invalid(
                "must have at least one bound constraint when creating/updating a role",
            ));
        }
        if !self.groups_claim.is_empty()
            && self
                .claim_mappings
                .as_ref()
                .is_some_and(|m| m.values().any(|t| t == GROUPS_METADATA))
        {
            return Err(Error::invalid(format!(
                "metadata key {GROUPS_METADATA:?} is reserved for the groups claim and may not be a mapping destination"
            )));
        }
        let mut warnings = Vec::new();
        if self.verbose_oidc_logging {
            warnings.push(
                "verbose_oidc_logging has been enabled for this role. This is not recommended in \
                 production since sensitive information may be present in OIDC responses."
                    .to_owned(),
            );
        }
        Ok(warnings)
    }

    /// The read response, in Vault's shape.
    pub fn to_data(&self) -> Map<String, Value> {
        let v = json!({
            "role_type": self.role_type,
            "expiration_leeway": self.expiration_leeway,
            "not_before_leeway": self.not_before_leeway,
            "clock_skew_leeway": self.clock_skew_leeway,
            "bound_audiences": self.bound_audiences,
            "bound_subject": self.bound_subject,
            "bound_claims_type": self.bound_claims_type,
            "bound_claims": self.bound_claims,
            "claim_mappings": self.claim_mappings,
            "oauth2_metadata": self.oauth2_metadata,
            "user_claim": self.user_claim,
            "user_claim_json_pointer": self.user_claim_json_pointer,
            "groups_claim": self.groups_claim,
            "allowed_redirect_uris": self.allowed_redirect_uris,
            "callback_mode": self.callback_mode,
            "oidc_scopes": self.oidc_scopes,
            "verbose_oidc_logging": self.verbose_oidc_logging,
            "max_age": self.max_age,
            "token_policies_template_claims": false,
            "oidc_disable_confirmation": self.oidc_disable_confirmation,
        });
        let mut out = match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        self.token.write_to(&mut out);
        if self.poll_interval > 0 {
            out.insert("poll_interval".into(), json!(self.poll_interval));
        }
        out
    }
}

/// With `bound_claims_type=glob` every bound value must be a string (or a
/// list of strings).
fn check_glob_values(bound: &Map<String, Value>) -> Result<()> {
    for v in bound.values() {
        let items = match v {
            Value::Array(items) => items.clone(),
            Value::String(_) | Value::Bool(_) | Value::Number(_) => vec![v.clone()],
            other => {
                return Err(Error::invalid(format!(
                    "claim is not a string or list: {other}"
                )));
            }
        };
        if let Some(bad) = items.iter().find(|i| !i.is_string()) {
            return Err(Error::invalid(format!("claim is not a string: {bad}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn write(v: Value) -> Result<Role> {
        let mut r = Role::new();
        r.update(&map(v))?;
        Ok(r)
    }

    fn err(v: Value) -> String {
        write(v).unwrap_err().to_string()
    }

    #[test]
    fn names() {
        for ok in ["a", "my-role", "a.b_c", "R1"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a/b", "a b", "a@c", ".a"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn vault_checks_and_messages() {
        assert_eq!(
            err(json!({"user_claim": "sub"})),
            "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified."
        );
        assert_eq!(
            err(json!({"role_type": "jwt", "user_claim": "sub"})),
            "must have at least one bound constraint when creating/updating a role"
        );
        assert_eq!(
            err(json!({"role_type": "jwt", "bound_subject": "x"})),
            "a user claim must be defined on the role"
        );
        assert_eq!(
            err(json!({"role_type": "foo", "user_claim": "sub"})),
            "invalid 'role_type': foo"
        );
        assert_eq!(
            err(
                json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "bound_claims_type": "regex"})
            ),
            "invalid 'bound_claims_type': regex"
        );
        assert_eq!(
            err(
                json!({"role_type": "jwt", "user_claim": "sub", "bound_claims_type": "glob", "bound_claims": {"a": ["x", 5]}})
            ),
            "claim is not a string: 5"
        );
        assert_eq!(
            err(
                json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "claim_mappings": {"a": "role"}})
            ),
            "metadata key \"role\" is reserved and may not be a mapping destination"
        );
        assert_eq!(
            err(
                json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "claim_mappings": {"a": "m", "b": "m"}})
            ),
            "multiple keys are mapped to metadata key \"m\""
        );
        assert!(err(json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "groups_claim": "g", "claim_mappings": {"a": "groups"}})).contains("reserved for the groups claim"));
        assert!(err(json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "x", "bound_claims": "x"})).contains("\"bound_claims\""));
    }

    #[test]
    fn leeways_and_defaults() {
        let r = write(
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a,b",
            "clock_skew_leeway": "2m", "expiration_leeway": -1, "not_before_leeway": "30"}),
        )
        .unwrap();
        assert_eq!(
            (
                r.clock_skew_leeway,
                r.expiration_leeway,
                r.not_before_leeway
            ),
            (120, -1, 30)
        );
        let d = r.to_data();
        assert_eq!(d["bound_audiences"], json!(["a", "b"]));
        assert_eq!(d["bound_claims"], Value::Null);
        assert_eq!(d["callback_mode"], "client");
        assert_eq!(d["bound_claims_type"], "string");
        assert_eq!(d["token_policies"], json!([]));
        assert_eq!(d["token_type"], "default");
        assert!(!d.contains_key("poll_interval"));
        // An update without role_type turns the role into an oidc role, as in Vault.
        let mut r = r;
        assert!(r.update(&map(json!({"bound_subject": "y"}))).is_err());
    }
}
