//! Password policies (`sys/policies/password/:name`, Vault's): HCL with a
//! `length` and `rule "charset"` blocks (`charset`, `min-chars`). A
//! password is `length` characters drawn from the union of the charsets,
//! holding at least `min-chars` of each rule's; engines that make
//! passwords (`database`'s `password_policy`) generate through it.

use std::sync::Arc;

use rand::Rng;

use crate::barrier::View;
use crate::error::{Error, Result, wrapped};
use crate::hcl::{self, Item, Kind};

/// Tries before a policy whose rules random draws rarely meet gives up.
const ATTEMPTS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    length: usize,
    /// (charset, min-chars).
    rules: Vec<(Vec<char>, usize)>,
}

fn invalid(msg: &str) -> Error {
    Error::InvalidRequestWrapped(format!("invalid password policy: {}", wrapped(msg)))
}

fn number(v: &hcl::Value) -> Option<usize> {
    match &v.kind {
        Kind::Num(n) => n.parse().ok(),
        Kind::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl PasswordPolicy {
    /// The policy text, checked as OpenBao checks it.
    pub fn parse(raw: &str) -> Result<Self> {
        let body = hcl::parse(raw).map_err(|e| {
            Error::InvalidRequestWrapped(format!("invalid password policy: unable to decode: {e}"))
        })?;
        let mut length = None;
        let mut rules = Vec::new();
        for item in &body.items {
            match item {
                Item::Attr(a) if a.key == "length" => {
                    length =
                        Some(number(&a.value).ok_or_else(|| invalid("length must be a number"))?);
                }
                Item::Block(b) if b.ident == "rule" && b.labels == ["charset"] => {
                    let mut charset = None;
                    let mut min = 0;
                    for i in &b.body.items {
                        match i {
                            Item::Attr(a) if a.key == "charset" => match &a.value.kind {
                                Kind::Str(s) => charset = Some(s.clone()),
                                _ => return Err(invalid("charset must be a string")),
                            },
                            Item::Attr(a) if a.key == "min-chars" || a.key == "min_chars" => {
                                min = number(&a.value)
                                    .ok_or_else(|| invalid("min-chars must be a number"))?;
                            }
                            Item::Attr(a) => {
                                return Err(invalid(&format!("invalid key {:?}", a.key)));
                            }
                            Item::Block(b) => {
                                return Err(invalid(&format!("invalid key {:?}", b.ident)));
                            }
                        }
                    }
                    let mut chars: Vec<char> = charset.unwrap_or_default().chars().collect();
                    chars.sort_unstable();
                    chars.dedup();
                    if chars.is_empty() {
                        return Err(invalid("no charset specified"));
                    }
                    rules.push((chars, min));
                }
                Item::Block(b) if b.ident == "rule" => {
                    return Err(invalid(&format!("unrecognized rule type {:?}", b.labels)));
                }
                Item::Attr(a) => return Err(invalid(&format!("invalid key {:?}", a.key))),
                Item::Block(b) => return Err(invalid(&format!("invalid key {:?}", b.ident))),
            }
        }
        let length = length.unwrap_or(0);
        if rules.is_empty() {
            return Err(invalid("no charset specified"));
        }
        let needed: usize = rules.iter().map(|(_, m)| m).sum();
        if needed > length {
            return Err(invalid(&format!(
                "specified rules require at least {needed} characters but {length} is specified"
            )));
        }
        if !(4..=100).contains(&length) {
            return Err(Error::InvalidRequestWrapped(
                "passwords must be between 4 and 100 characters".into(),
            ));
        }
        Ok(Self { length, rules })
    }

    /// A password that meets every rule.
    pub fn generate(&self) -> Result<String> {
        let mut all: Vec<char> = self
            .rules
            .iter()
            .flat_map(|(c, _)| c.iter().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        let mut rng = rand::rngs::OsRng;
        for _ in 0..ATTEMPTS {
            let p: Vec<char> = (0..self.length)
                .map(|_| all[rng.gen_range(0..all.len())])
                .collect();
            if self
                .rules
                .iter()
                .all(|(set, min)| p.iter().filter(|c| set.binary_search(c).is_ok()).count() >= *min)
            {
                return Ok(p.into_iter().collect());
            }
        }
        Err(Error::Upstream(
            "unable to generate password: the policy's rules were not met after 1000 tries".into(),
        ))
    }
}

/// The stored policies, under the system view.
pub struct PasswordPolicies {
    view: View,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    policy: String,
}

impl PasswordPolicies {
    pub fn new(view: View) -> Arc<Self> {
        Arc::new(Self { view })
    }

    pub async fn get(&self, name: &str) -> Result<Option<String>> {
        Ok(self.view.get_json::<Stored>(name).await?.map(|s| s.policy))
    }

    pub async fn put(&self, name: &str, raw: &str) -> Result<()> {
        PasswordPolicy::parse(raw)?;
        self.view
            .put_json(
                name,
                &Stored {
                    policy: raw.to_owned(),
                },
            )
            .await?;
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<()> {
        self.view.delete(name).await?;
        Ok(())
    }

    pub async fn list(&self) -> Result<Vec<String>> {
        Ok(self.view.list("").await?)
    }

    /// A password from policy `name`.
    pub async fn generate(&self, name: &str) -> Result<String> {
        let raw = self
            .get(name)
            .await?
            .ok_or_else(|| Error::NotFoundWrapped("policy does not exist".into()))?;
        PasswordPolicy::parse(&raw)?.generate()
    }
}

/// A password for an engine's credentials: by the policy the engine's
/// config names (`password_policy`), else by the engine's own `fallback`.
pub async fn password_for(
    req: &crate::logical::Request,
    policy: &str,
    fallback: impl FnOnce() -> String,
) -> Result<String> {
    match &req.password_policies {
        Some(policies) if !policy.is_empty() => policies.generate(policy).await.map_err(|e| {
            Error::Upstream(format!(
                "unable to generate password with policy {policy:?}: {e}"
            ))
        }),
        _ => Ok(fallback()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_generate_as_openbaos() {
        let p = PasswordPolicy::parse(
            "length = 12\nrule \"charset\" {\n  charset = \"abcdef\"\n  min-chars = 1\n}\nrule \"charset\" {\n  charset = \"0123456789\"\n  min-chars = 2\n}",
        )
        .unwrap();
        for _ in 0..200 {
            let pw = p.generate().unwrap();
            assert_eq!(pw.chars().count(), 12);
            assert!(pw.chars().all(|c| "abcdef0123456789".contains(c)));
            assert!(pw.chars().filter(|c| c.is_ascii_digit()).count() >= 2);
            assert!(pw.chars().any(|c| c.is_ascii_lowercase()));
        }
        let msg = |raw: &str| PasswordPolicy::parse(raw).unwrap_err().messages()[0].clone();
        assert_eq!(
            msg("length = 2\nrule \"charset\" {\n charset = \"ab\"\n min-chars = 3\n}"),
            "1 error occurred:\n\t* invalid password policy: 1 error occurred:\n\t* specified rules require at least 3 characters but 2 is specified\n\n\n\n"
        );
        assert_eq!(
            msg("length = 20"),
            "1 error occurred:\n\t* invalid password policy: 1 error occurred:\n\t* no charset specified\n\n\n\n"
        );
        assert_eq!(
            msg("length = 3\nrule \"charset\" {\n charset = \"ab\"\n}"),
            "1 error occurred:\n\t* passwords must be between 4 and 100 characters\n\n"
        );
        assert!(msg("nonsense {").contains("invalid password policy: unable to decode: "));
    }
}
