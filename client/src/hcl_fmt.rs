//! The canonical rendering of an ACL policy for `arca policy fmt`.
//!
//! The document is parsed with [`crate::hcl::parse`] and printed
//! again: two-space indentation, one blank line around blocks, consecutive
//! scalar attributes with their `=` aligned, lists on one line unless they
//! were written over several, strings re-quoted. The parser drops comments,
//! so a small scanner finds them (and the lines of every closing bracket)
//! in the source, and they are put back before the item they preceded or
//! after the code they trailed.

use std::fmt;

use crate::hcl::{self, Attr, Block, Body, Item, Kind, ParseError, Value};

/// Capabilities a policy may grant.
const CAPABILITIES: &[&str] = &[
    "create",
    "read",
    "update",
    "patch",
    "delete",
    "list",
    "sudo",
    "deny",
    "subscribe",
    "scan",
];

/// Why a file is not a policy.
#[derive(Debug, PartialEq, Eq)]
pub enum FmtError {
    /// Not valid HCL.
    Syntax(ParseError),
    /// Valid HCL, but not a policy.
    Policy(String),
}

impl fmt::Display for FmtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FmtError::Syntax(e) => {
                write!(
                    f,
                    "failed to parse policy: At {}:{}: {}",
                    e.line, e.col, e.message
                )
            }
            FmtError::Policy(m) => write!(f, "failed to parse policy: {m}"),
        }
    }
}

impl std::error::Error for FmtError {}

/// Parses, checks and re-renders a policy document.
pub fn format_policy(src: &str) -> Result<String, FmtError> {
    let body = hcl::parse(src).map_err(FmtError::Syntax)?;
    validate(&body)?;
    let scan = scan(src);
    let mut r = Renderer {
        out: String::new(),
        comments: scan.comments,
        brackets: scan.brackets.into_iter(),
    };
    r.body(&body.items, 0, usize::MAX);
    r.flush_comments(usize::MAX, 0, &mut Last::default());
    let mut out = r.out.trim_end().to_string();
    out.push('\n');
    Ok(out)
}

fn validate(body: &Body) -> Result<(), FmtError> {
    for item in &body.items {
        match item {
            Item::Block(b) if b.ident == "path" && b.labels.len() == 1 => validate_path(b)?,
            Item::Attr(a) if a.key == "name" && matches!(a.value.kind, Kind::Str(_)) => {}
            Item::Block(b) => {
                return Err(FmtError::Policy(format!(
                    "invalid key {:?} on line {}",
                    b.ident, b.line
                )));
            }
            Item::Attr(a) => {
                return Err(FmtError::Policy(format!(
                    "invalid key {:?} on line {}",
                    a.key, a.line
                )));
            }
        }
    }
    Ok(())
}

fn validate_path(block: &Block) -> Result<(), FmtError> {
    let path = &block.labels[0];
    for item in &block.body.items {
        let Item::Attr(a) = item else { continue };
        if a.key != "capabilities" {
            continue;
        }
        let Kind::List(caps) = &a.value.kind else {
            return Err(FmtError::Policy(format!(
                "path {path:?}: capabilities must be a list, not a {}",
                a.value.type_name()
            )));
        };
        for cap in caps {
            match &cap.kind {
                Kind::Str(c) if CAPABILITIES.contains(&c.as_str()) => {}
                Kind::Str(c) => {
                    return Err(FmtError::Policy(format!(
                        "path {path:?}: invalid capability {c:?}"
                    )));
                }
                _ => {
                    return Err(FmtError::Policy(format!(
                        "path {path:?}: capabilities must be strings"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// A comment found in the source.
#[derive(Debug)]
struct Comment {
    line: usize,
    text: String,
    /// Nothing but whitespace before it on its line.
    own_line: bool,
    used: bool,
}

struct Scan {
    comments: Vec<Comment>,
    /// `(open line, close line)` of every `{` and `[`, in order of opening.
    brackets: Vec<(usize, usize)>,
}

/// Finds comments and bracket lines, skipping strings and heredocs. Only
/// run on sources the parser accepted.
fn scan(src: &str) -> Scan {
    let b = src.as_bytes();
    let mut comments = Vec::new();
    let mut brackets: Vec<(usize, usize)> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let (mut i, mut line, mut line_has_code) = (0, 1, false);
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                line_has_code = false;
                i += 1;
            }
            b'#' | b'/' if c == b'#' || b.get(i + 1) == Some(&b'/') => {
                let end = src[i..].find('\n').map_or(b.len(), |e| i + e);
                comments.push(Comment {
                    line,
                    text: src[i..end].trim_end().to_string(),
                    own_line: !line_has_code,
                    used: false,
                });
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = src[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                let text = &src[i..end];
                comments.push(Comment {
                    line,
                    text: text.to_string(),
                    own_line: !line_has_code,
                    used: false,
                });
                line += text.matches('\n').count();
                i = end;
            }
            b'"' => {
                line_has_code = true;
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'<' if b.get(i + 1) == Some(&b'<') => {
                let rest = &src[i + 2..];
                let marker: String = rest
                    .trim_start_matches('-')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let Some(nl) = rest.find('\n') else { break };
                i = i + 2 + nl + 1;
                line += 1;
                // Skip body lines up to and including the marker line.
                while i < b.len() {
                    let end = src[i..].find('\n').map_or(b.len(), |e| i + e);
                    let is_marker = src[i..end].trim() == marker;
                    i = (end + 1).min(b.len());
                    if is_marker {
                        break;
                    }
                    line += 1;
                }
                if src[..i].ends_with('\n') {
                    line += 1;
                    line_has_code = false;
                } else {
                    line_has_code = true;
                }
            }
            b'{' | b'[' => {
                line_has_code = true;
                stack.push(brackets.len());
                brackets.push((line, line));
                i += 1;
            }
            b'}' | b']' => {
                line_has_code = true;
                if let Some(idx) = stack.pop() {
                    brackets[idx].1 = line;
                }
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            _ => {
                line_has_code = true;
                i += 1;
            }
        }
    }
    Scan { comments, brackets }
}

/// What was printed last in the current body, for blank-line decisions.
#[derive(Default, Clone, Copy)]
struct Last {
    /// Source line where it ended.
    line: Option<usize>,
    kind: Option<Emitted>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Emitted {
    Comment,
    Attr,
    Block,
}

struct Renderer {
    out: String,
    comments: Vec<Comment>,
    brackets: std::vec::IntoIter<(usize, usize)>,
}

fn pad(level: usize) -> String {
    "  ".repeat(level)
}

fn key_text(k: &str) -> String {
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ident { k.to_string() } else { hcl::quote(k) }
}

fn is_scalar(v: &Value) -> bool {
    matches!(
        v.kind,
        Kind::Str(_) | Kind::Num(_) | Kind::Bool(_) | Kind::Null
    )
}

impl Renderer {
    /// Blank line before something of `kind` starting at source line `start`.
    fn separate(&mut self, last: &Last, kind: Emitted, start: usize) {
        let (Some(prev_line), Some(prev_kind)) = (last.line, last.kind) else {
            return;
        };
        let gap = start > prev_line + 1;
        let blocky = prev_kind == Emitted::Block
            || (kind == Emitted::Block && prev_kind != Emitted::Comment);
        if gap || blocky {
            self.out.push('\n');
        }
    }

    /// Prints the unused comments that start before `before`.
    fn flush_comments(&mut self, before: usize, level: usize, last: &mut Last) {
        for i in 0..self.comments.len() {
            if self.comments[i].used || self.comments[i].line >= before {
                continue;
            }
            self.comments[i].used = true;
            let (line, text) = (self.comments[i].line, self.comments[i].text.clone());
            self.separate(last, Emitted::Comment, line);
            self.out.push_str(&pad(level));
            self.out.push_str(&text);
            self.out.push('\n');
            *last = Last {
                line: Some(line + text.matches('\n').count()),
                kind: Some(Emitted::Comment),
            };
        }
    }

    /// The unused comment trailing code on `line`, if any.
    fn trailing(&mut self, line: usize) -> String {
        match self
            .comments
            .iter_mut()
            .find(|c| !c.used && !c.own_line && c.line == line && !c.text.contains('\n'))
        {
            Some(c) => {
                c.used = true;
                format!(" {}", c.text)
            }
            None => String::new(),
        }
    }

    fn body(&mut self, items: &[Item], level: usize, close_line: usize) {
        let mut last = Last::default();
        let mut i = 0;
        while i < items.len() {
            match &items[i] {
                Item::Block(b) => {
                    self.flush_comments(b.line, level, &mut last);
                    self.separate(&last, Emitted::Block, b.line);
                    let end = self.block(b, level);
                    last = Last {
                        line: Some(end),
                        kind: Some(Emitted::Block),
                    };
                    i += 1;
                }
                Item::Attr(a) => {
                    self.flush_comments(a.line, level, &mut last);
                    self.separate(&last, Emitted::Attr, a.line);
                    let group = self.align_group(items, i);
                    let width = group
                        .iter()
                        .map(|a| key_text(&a.key).chars().count())
                        .max()
                        .unwrap_or(0);
                    for a in &group {
                        let end = self.attr(a, level, width);
                        last = Last {
                            line: Some(end),
                            kind: Some(Emitted::Attr),
                        };
                    }
                    i += group.len();
                }
            }
        }
        self.flush_comments(close_line, level, &mut last);
    }

    /// Attributes from `start` that line up: scalar values on consecutive
    /// source lines with no comment line between them.
    fn align_group<'a>(&self, items: &'a [Item], start: usize) -> Vec<&'a Attr> {
        let mut group: Vec<&Attr> = Vec::new();
        for item in &items[start..] {
            let Item::Attr(a) = item else { break };
            if let Some(prev) = group.last() {
                let commented = self
                    .comments
                    .iter()
                    .any(|c| !c.used && c.own_line && c.line > prev.line && c.line < a.line);
                if !is_scalar(&prev.value)
                    || !is_scalar(&a.value)
                    || a.line != prev.line + 1
                    || commented
                {
                    break;
                }
            }
            group.push(a);
        }
        if group.is_empty() {
            if let Some(Item::Attr(a)) = items.get(start) {
                group.push(a);
            }
        }
        group
    }

    /// Prints an attribute; returns the source line it ends on.
    fn attr(&mut self, a: &Attr, level: usize, width: usize) -> usize {
        let key = key_text(&a.key);
        let key_pad = if is_scalar(&a.value) {
            " ".repeat(width.saturating_sub(key.chars().count()))
        } else {
            String::new()
        };
        let (value, end) = self.value(&a.value, level);
        let trailing = self.trailing(end);
        self.out.push_str(&format!(
            "{}{key}{key_pad} = {value}{trailing}\n",
            pad(level)
        ));
        end
    }

    /// Prints a block; returns the source line of its closing brace.
    fn block(&mut self, b: &Block, level: usize) -> usize {
        let (_, close) = self.brackets.next().unwrap_or((b.line, b.line));
        let mut header = pad(level) + &b.ident;
        for l in &b.labels {
            header.push(' ');
            header.push_str(&hcl::quote(l));
        }
        let trailing = self.trailing(b.line);
        if b.body.items.is_empty()
            && !self
                .comments
                .iter()
                .any(|c| !c.used && c.line > b.line && c.line < close)
        {
            self.out.push_str(&format!("{header} {{}}{trailing}\n"));
            return close;
        }
        self.out.push_str(&format!("{header} {{{trailing}\n"));
        self.body(&b.body.items, level + 1, close);
        let trailing = self.trailing(close);
        self.out.push_str(&format!("{}}}{trailing}\n", pad(level)));
        close
    }

    /// Renders a value at `level`; returns the text and its last source line.
    fn value(&mut self, v: &Value, level: usize) -> (String, usize) {
        match &v.kind {
            Kind::Str(s) => (hcl::quote(s), v.line),
            Kind::Num(n) => (n.clone(), v.line),
            Kind::Bool(b) => (b.to_string(), v.line),
            Kind::Null => ("null".into(), v.line),
            Kind::List(items) => {
                let (open, close) = self.brackets.next().unwrap_or((v.line, v.line));
                if items.is_empty() {
                    return ("[]".into(), close);
                }
                let multiline = items.iter().any(|i| i.line != open);
                let rendered: Vec<String> =
                    items.iter().map(|i| self.value(i, level + 1).0).collect();
                if multiline {
                    let mut s = String::from("[\n");
                    for r in rendered {
                        s.push_str(&format!("{}{r},\n", pad(level + 1)));
                    }
                    s.push_str(&pad(level));
                    s.push(']');
                    (s, close)
                } else {
                    (format!("[{}]", rendered.join(", ")), close)
                }
            }
            Kind::Object(fields) => {
                let (_, close) = self.brackets.next().unwrap_or((v.line, v.line));
                if fields.is_empty() {
                    return ("{}".into(), close);
                }
                let mut s = String::from("{\n");
                for (k, fv) in fields {
                    let (text, _) = self.value(fv, level + 1);
                    s.push_str(&format!("{}{} = {text}\n", pad(level + 1), key_text(k)));
                }
                s.push_str(&pad(level));
                s.push('}');
                (s, close)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_bao() {
        let src = "path \"secret/*\" { capabilities = [\"read\"] }\npath   \"sys/mounts\"{\ncapabilities=[\"read\",\"list\"]\n    }\n";
        assert_eq!(
            format_policy(src).unwrap(),
            "path \"secret/*\" {\n  capabilities = [\"read\"]\n}\n\npath \"sys/mounts\" {\n  capabilities = [\"read\", \"list\"]\n}\n"
        );
    }

    #[test]
    fn keeps_comments_and_aligns_scalars() {
        let src = "\n# Allow tokens to look up their own properties\npath \"auth/token/lookup-self\" {\n    capabilities = [\"read\"] # trailing\n    min_wrapping_ttl = \"1s\"\n    max_wrapping_ttl = \"90s\"\n}\npath \"b\" {\n  # inside\n  capabilities = [\n    \"read\",\n    \"update\"\n  ]\n  allowed_parameters = {\n    \"*\" = []\n  }\n} // after b\n\n\n/* end */\n";
        let out = format_policy(src).unwrap();
        assert_eq!(
            out,
            "# Allow tokens to look up their own properties\n\
             path \"auth/token/lookup-self\" {\n  \
             capabilities = [\"read\"] # trailing\n  \
             min_wrapping_ttl = \"1s\"\n  \
             max_wrapping_ttl = \"90s\"\n\
             }\n\
             \n\
             path \"b\" {\n  \
             # inside\n  \
             capabilities = [\n    \"read\",\n    \"update\",\n  ]\n  \
             allowed_parameters = {\n    \"*\" = []\n  }\n\
             } // after b\n\
             \n\
             /* end */\n"
        );
        // Formatting is idempotent.
        assert_eq!(format_policy(&out).unwrap(), out);
    }

    #[test]
    fn aligns_adjacent_scalar_attributes() {
        let out = format_policy(
            "name = \"x\"\npath \"a\" {\n  policy = \"read\"\n  min_wrapping_ttl = \"1s\"\n}\n",
        )
        .unwrap();
        assert_eq!(
            out,
            "name = \"x\"\n\npath \"a\" {\n  policy           = \"read\"\n  min_wrapping_ttl = \"1s\"\n}\n"
        );
    }

    #[test]
    fn formats_the_default_policy_stably() {
        let src = include_str!("../tests/fixtures/default-policy.hcl");
        let out = format_policy(src).unwrap();
        assert!(out.starts_with("# Allow tokens to look up their own properties\npath \"auth/token/lookup-self\" {\n  capabilities = [\"read\"]\n}\n\n"));
        assert_eq!(out.matches("# ").count(), src.matches("# ").count());
        assert_eq!(format_policy(&out).unwrap(), out);
    }

    #[test]
    fn rejects_invalid_policies() {
        let e = format_policy("path \"a\" {\n capabilities = [\"read\"]\n").unwrap_err();
        assert!(
            e.to_string().starts_with("failed to parse policy: At "),
            "{e}"
        );
        let e = format_policy("path \"a\" { capabilities = [\"fly\"] }").unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to parse policy: path \"a\": invalid capability \"fly\""
        );
        let e = format_policy("foo = \"bar\"").unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to parse policy: invalid key \"foo\" on line 1"
        );
    }
}
