//! A role's `bound_service_account_namespace_selector`: a Kubernetes label
//! selector, written as JSON (`{"matchLabels": {"team": "a"}}`) or as the
//! block YAML people paste from manifests (`matchLabels:\n  team: a`).
//! As in Vault, only `matchLabels` is supported (`matchExpressions` is
//! refused), and an empty selector matches every namespace.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub struct LabelSelector {
    #[serde(default, rename = "matchLabels")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, rename = "matchExpressions")]
    match_expressions: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum SelectorError {
    #[error("label selector match expressions are not supported")]
    Expressions,
    #[error("namespace selector is empty")]
    Empty,
    #[error("cannot parse the label selector: {0}")]
    Syntax(String),
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// `matchLabels:` followed by more-indented `key: value` lines.
fn parse_yaml(text: &str) -> Result<LabelSelector, SelectorError> {
    let syntax = |m: &str| SelectorError::Syntax(m.to_owned());
    let mut sel = LabelSelector::default();
    let mut in_labels = false;
    for line in text.lines() {
        let content = line.split(" #").next().unwrap_or("");
        if content.trim().is_empty() || content.trim_start().starts_with('#') || content == "---" {
            continue;
        }
        let indented = content.starts_with(' ') || content.starts_with('\t');
        let (k, v) = content
            .trim()
            .split_once(':')
            .ok_or_else(|| syntax("expected key: value"))?;
        let (k, v) = (unquote(k), v.trim());
        if !indented {
            match k {
                "matchLabels" if v.is_empty() || v == "{}" => in_labels = true,
                "matchExpressions" => return Err(SelectorError::Expressions),
                _ => return Err(syntax("only matchLabels is supported")),
            }
            continue;
        }
        if !in_labels || k.is_empty() || v.is_empty() {
            return Err(syntax(
                "expected an indented label: value under matchLabels",
            ));
        }
        sel.match_labels.insert(k.to_owned(), unquote(v).to_owned());
    }
    Ok(sel)
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SelectorError::Empty);
        }
        let sel = if text.starts_with('{') {
            serde_json::from_str::<LabelSelector>(text)
                .map_err(|e| SelectorError::Syntax(e.to_string()))?
        } else {
            parse_yaml(text)?
        };
        if sel.match_expressions.is_some() {
            return Err(SelectorError::Expressions);
        }
        Ok(sel)
    }

    /// Every `matchLabels` entry is among `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k).is_some_and(|l| l == v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn json_and_yaml_spellings() {
        let j = LabelSelector::parse(r#"{"matchLabels": {"team": "a", "env": "prod"}}"#).unwrap();
        let y = LabelSelector::parse("matchLabels:\n  team: a\n  env: \"prod\"  # why\n").unwrap();
        assert_eq!(j, y);
        assert!(j.matches(&labels(&[("team", "a"), ("env", "prod"), ("x", "y")])));
        assert!(!j.matches(&labels(&[("team", "a")])));
        assert!(!j.matches(&labels(&[("team", "b"), ("env", "prod")])));
        let all = LabelSelector::parse("{}").unwrap();
        assert!(all.matches(&labels(&[])));
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "garbage: [",
            "{not json",
            r#"{"matchExpressions": []}"#,
            "matchExpressions:\n  - key: a",
            "matchLabels:\nteam: a",
            "other: x",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad:?}");
        }
    }
}
