//! A small HCL reader for the two kinds of HCL Arca accepts: server
//! configuration files and ACL policies. It keeps the line of every item so
//! that errors can point at it, which is what users of both need most.
//!
//! Supported: blocks with string or identifier labels, attributes,
//! strings (with escapes), heredocs (`<<EOT`, `<<-EOT`), numbers, booleans,
//! null, lists, objects (`{ k = v, "k2" : v }`), and `#`, `//`, `/* */`
//! comments. Not supported (and rejected): interpolation and expressions.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Attr(Attr),
    Block(Block),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub key: String,
    pub value: Value,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub ident: String,
    pub labels: Vec<String>,
    pub body: Body,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: Kind,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Str(String),
    /// The number as written (kept as text so nothing is lost).
    Num(String),
    Bool(bool),
    Null,
    List(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Str(_) => "string",
            Kind::Num(_) => "number",
            Kind::Bool(_) => "bool",
            Kind::Null => "null",
            Kind::List(_) => "list",
            Kind::Object(_) => "object",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.col, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// Deepest nesting accepted, so that hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

pub fn parse(src: &str) -> Result<Body, ParseError> {
    let mut p = Parser {
        src: src.as_bytes(),
        text: src,
        pos: 0,
        line: 1,
        col: 1,
        depth: 0,
    };
    let body = p.body(false)?;
    p.skip_ws(true)?;
    if p.pos < p.src.len() {
        return Err(p.err("unexpected input"));
    }
    Ok(body)
}

struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    line: usize,
    col: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            col: self.col,
            message: msg.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<u8> {
        self.src.get(self.pos + off).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if c & 0xC0 != 0x80 {
            self.col += 1;
        }
        Some(c)
    }

    /// Skips spaces and comments; newlines too when `newlines` is set.
    /// Returns whether a newline was crossed.
    fn skip_ws(&mut self, newlines: bool) -> Result<bool, ParseError> {
        let mut crossed = false;
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r') => {
                    self.bump();
                }
                Some(b'\n') if newlines => {
                    crossed = true;
                    self.bump();
                }
                Some(b'#') => self.skip_line_comment(),
                Some(b'/') if self.peek_at(1) == Some(b'/') => self.skip_line_comment(),
                Some(b'/') if self.peek_at(1) == Some(b'*') => {
                    let (line, col) = (self.line, self.col);
                    self.bump();
                    self.bump();
                    loop {
                        match self.peek() {
                            None => {
                                return Err(ParseError {
                                    line,
                                    col,
                                    message: "unterminated comment".into(),
                                });
                            }
                            Some(b'*') if self.peek_at(1) == Some(b'/') => {
                                self.bump();
                                self.bump();
                                break;
                            }
                            Some(b'\n') => {
                                crossed = true;
                                self.bump();
                            }
                            Some(_) => {
                                self.bump();
                            }
                        }
                    }
                }
                _ => return Ok(crossed),
            }
        }
    }

    fn skip_line_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'\n' {
                break;
            }
            self.bump();
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        Ok(())
    }

    fn body(&mut self, braced: bool) -> Result<Body, ParseError> {
        self.enter()?;
        let mut items = Vec::new();
        loop {
            self.skip_ws(true)?;
            match self.peek() {
                None if braced => return Err(self.err("unclosed block: expected '}'")),
                None => break,
                Some(b'}') if braced => {
                    self.bump();
                    break;
                }
                Some(b',') => {
                    self.bump();
                }
                Some(_) => items.push(self.item()?),
            }
        }
        self.depth -= 1;
        Ok(Body { items })
    }

    fn item(&mut self) -> Result<Item, ParseError> {
        let line = self.line;
        let key = match self.peek() {
            Some(b'"') => self.string()?,
            Some(c) if is_ident_start(c) => self.ident(),
            _ => return Err(self.err("expected an attribute name or a block")),
        };
        self.skip_ws(false)?;
        match self.peek() {
            Some(b'=') => {
                self.bump();
                self.skip_ws(false)?;
                let value = self.value()?;
                Ok(Item::Attr(Attr { key, value, line }))
            }
            _ => {
                let mut labels = Vec::new();
                loop {
                    self.skip_ws(false)?;
                    match self.peek() {
                        Some(b'"') => labels.push(self.string()?),
                        Some(c) if is_ident_start(c) => labels.push(self.ident()),
                        Some(b'{') => {
                            self.bump();
                            let body = self.body(true)?;
                            return Ok(Item::Block(Block {
                                ident: key,
                                labels,
                                body,
                                line,
                            }));
                        }
                        _ => {
                            return Err(self.err(format!("expected '=' or '{{' after {key:?}")));
                        }
                    }
                }
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_ident_char(c) {
                self.bump();
            } else {
                break;
            }
        }
        self.text[start..self.pos].to_owned()
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        let line = self.line;
        let kind = match self.peek() {
            Some(b'"') => Kind::Str(self.string()?),
            Some(b'<') if self.peek_at(1) == Some(b'<') => Kind::Str(self.heredoc()?),
            Some(b'[') => {
                self.enter()?;
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.skip_ws(true)?;
                    match self.peek() {
                        Some(b']') => {
                            self.bump();
                            break;
                        }
                        None => return Err(self.err("unclosed list: expected ']'")),
                        _ => {}
                    }
                    items.push(self.value()?);
                    self.skip_ws(true)?;
                    match self.peek() {
                        Some(b',') => {
                            self.bump();
                        }
                        Some(b']') => {}
                        _ => return Err(self.err("expected ',' or ']' in list")),
                    }
                }
                self.depth -= 1;
                Kind::List(items)
            }
            Some(b'{') => {
                self.enter()?;
                self.bump();
                let mut fields = Vec::new();
                loop {
                    self.skip_ws(true)?;
                    match self.peek() {
                        Some(b'}') => {
                            self.bump();
                            break;
                        }
                        Some(b',') => {
                            self.bump();
                            continue;
                        }
                        None => return Err(self.err("unclosed object: expected '}'")),
                        _ => {}
                    }
                    let key = match self.peek() {
                        Some(b'"') => self.string()?,
                        Some(c) if is_ident_start(c) => self.ident(),
                        _ => return Err(self.err("expected an object key")),
                    };
                    self.skip_ws(false)?;
                    match self.peek() {
                        Some(b'=' | b':') => {
                            self.bump();
                            self.skip_ws(false)?;
                            let v = self.value()?;
                            fields.push((key, v));
                        }
                        Some(b'{') => {
                            let v = self.value()?;
                            fields.push((key, v));
                        }
                        _ => return Err(self.err(format!("expected '=' after {key:?}"))),
                    }
                }
                self.depth -= 1;
                Kind::Object(fields)
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => Kind::Num(self.number()?),
            Some(c) if is_ident_start(c) => {
                let word = self.ident();
                match word.as_str() {
                    "true" => Kind::Bool(true),
                    "false" => Kind::Bool(false),
                    "null" => Kind::Null,
                    _ => {
                        return Err(ParseError {
                            line,
                            col: self.col - word.chars().count(),
                            message: format!("unexpected word {word:?}: values must be quoted"),
                        });
                    }
                }
            }
            _ => return Err(self.err("expected a value")),
        };
        Ok(Value { kind, line })
    }

    fn number(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.bump();
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'_') {
                self.bump();
            } else {
                break;
            }
        }
        let s = &self.text[start..self.pos];
        if s.parse::<f64>().is_err() {
            return Err(self.err(format!("invalid number {s:?}")));
        }
        Ok(s.to_owned())
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let (line, col) = (self.line, self.col);
        self.bump();
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(ParseError {
                    line,
                    col,
                    message: "unterminated string".into(),
                });
            };
            match c {
                b'"' => {
                    self.bump();
                    return Ok(out);
                }
                b'\n' => {
                    return Err(ParseError {
                        line,
                        col,
                        message: "unterminated string (newline in string)".into(),
                    });
                }
                b'\\' => {
                    self.bump();
                    let esc = self.bump().ok_or_else(|| self.err("unterminated escape"))?;
                    match esc {
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'u' => {
                            let mut code = 0u32;
                            for _ in 0..4 {
                                let h = self.bump().ok_or_else(|| self.err("short \\u escape"))?;
                                let d = (h as char)
                                    .to_digit(16)
                                    .ok_or_else(|| self.err("invalid \\u escape"))?;
                                code = code * 16 + d;
                            }
                            out.push(
                                char::from_u32(code)
                                    .ok_or_else(|| self.err("invalid \\u escape"))?,
                            );
                        }
                        _ => return Err(self.err(format!("unknown escape \\{}", esc as char))),
                    }
                }
                b'$' if self.peek_at(1) == Some(b'{') => {
                    return Err(self.err("interpolation (${...}) is not supported"));
                }
                _ => {
                    // Copy one whole UTF-8 character.
                    let start = self.pos;
                    self.bump();
                    while self.peek().is_some_and(|b| b & 0xC0 == 0x80) {
                        self.bump();
                    }
                    out.push_str(&self.text[start..self.pos]);
                }
            }
        }
    }

    fn heredoc(&mut self) -> Result<String, ParseError> {
        let (line, col) = (self.line, self.col);
        self.bump();
        self.bump();
        let indent = if self.peek() == Some(b'-') {
            self.bump();
            true
        } else {
            false
        };
        let marker = self.ident();
        if marker.is_empty() {
            return Err(self.err("expected a heredoc marker after <<"));
        }
        self.skip_ws(false)?;
        if self.bump() != Some(b'\n') {
            return Err(self.err("expected a newline after the heredoc marker"));
        }
        let mut lines: Vec<&str> = Vec::new();
        loop {
            if self.pos >= self.src.len() {
                return Err(ParseError {
                    line,
                    col,
                    message: format!("unterminated heredoc, expected {marker}"),
                });
            }
            let start = self.pos;
            while let Some(c) = self.peek() {
                if c == b'\n' {
                    break;
                }
                self.bump();
            }
            let l = &self.text[start..self.pos];
            if l.trim() == marker {
                break;
            }
            lines.push(l);
            self.bump();
        }
        if indent {
            let strip = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            let mut out = String::new();
            for l in lines {
                out.push_str(l.get(strip..).unwrap_or(""));
                out.push('\n');
            }
            Ok(out)
        } else {
            let mut out = lines.join("\n");
            out.push('\n');
            Ok(out)
        }
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
}

/// Renders a string as an HCL string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_policy() {
        let src = r#"
# comment
path "secret/*" {
  capabilities = ["read", "list"] // trailing
}
/* block
comment */
path "sys/+/x" { policy = "deny" }
"#;
        let body = parse(src).unwrap();
        assert_eq!(body.items.len(), 2);
        let Item::Block(b) = &body.items[0] else {
            panic!()
        };
        assert_eq!(b.ident, "path");
        assert_eq!(b.labels, vec!["secret/*"]);
        assert_eq!(b.line, 3);
        let Item::Attr(a) = &b.body.items[0] else {
            panic!()
        };
        assert_eq!(a.key, "capabilities");
        assert_eq!(a.line, 4);
        let Kind::List(l) = &a.value.kind else {
            panic!()
        };
        assert_eq!(l.len(), 2);
        let Item::Block(b2) = &body.items[1] else {
            panic!()
        };
        assert_eq!(b2.line, 8);
    }

    #[test]
    fn parses_config_shapes() {
        let src = r#"
storage "file" {
  path = "/var/lib/arca"
}
listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}
ui = true
default_lease_ttl = 3600
meta = { a = "b", "c": [1, 2.5, -3] }
text = <<-EOT
    indented
      more
    EOT
"#;
        let body = parse(src).unwrap();
        assert_eq!(body.items.len(), 6);
        let Item::Attr(text) = &body.items[5] else {
            panic!()
        };
        assert_eq!(text.value.kind, Kind::Str("indented\n  more\n".into()));
        let Item::Attr(meta) = &body.items[4] else {
            panic!()
        };
        let Kind::Object(fields) = &meta.value.kind else {
            panic!()
        };
        assert_eq!(fields.len(), 2);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("path \"a\" {\n  capabilities = [\"read\"\n}\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("a = \"unterminated\nb = 1").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse("a = b").unwrap_err();
        assert!(e.message.contains("quoted"));
        assert!(parse("a = \"${var.x}\"").is_err());
        assert!(parse("x {").is_err());
        assert!(parse("}").is_err());
        assert!(parse("/* open").is_err());
        assert!(parse("a = <<EOT\nno end").is_err());
        let deep = "a = ".to_string() + &"[".repeat(1000);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn escapes_and_unicode() {
        let body = parse(r#"a = "x\"y\\z\u00e9 é""#).unwrap();
        let Item::Attr(a) = &body.items[0] else {
            panic!()
        };
        assert_eq!(a.value.kind, Kind::Str("x\"y\\zé é".into()));
        assert_eq!(quote("a\"b\n"), r#""a\"b\n""#);
    }
}
