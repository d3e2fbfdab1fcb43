//! Rendering results like the Go CLI: columnized tables, Go-flavoured JSON,
//! Go `%v` values, and the secret envelope in both formats.

pub(crate) mod json;
pub(crate) mod secret;
pub(crate) mod table;
pub(crate) mod value;

/// The `-format` choices Arca supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Table,
    Json,
}

impl Format {
    /// Parses a `-format` value; `None` for formats Arca does not print.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "table" => Some(Self::Table),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}
