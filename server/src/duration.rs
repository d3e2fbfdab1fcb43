//! Durations the way Vault reads them (`parseutil.ParseDurationSecond`): a
//! number of seconds (JSON number or string), or a Go duration string such
//! as `"1h30m"`, `"90s"`, `"1.5h"`, `"300ms"`, with `d` for days as an
//! extension Vault also accepts.

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("time: invalid duration {0:?}")]
pub struct DurationError(pub String);

/// Longest duration accepted (about 290 years, Go's `time.Duration` range).
const MAX_SECS: f64 = 9_223_372_036.0;

pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    let bad = || DurationError(s.to_owned());
    if t.is_empty() {
        return Ok(Duration::ZERO);
    }
    if let Ok(n) = t.parse::<u64>() {
        // Past Go's range: refused, so no TTL arithmetic can overflow.
        if n as f64 > MAX_SECS {
            return Err(bad());
        }
        return Ok(Duration::from_secs(n));
    }
    if t.starts_with('-') {
        return Err(bad());
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let mut total = 0f64;
    let mut rest = t;
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(bad()),
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > MAX_SECS {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

/// A duration from a JSON value: number of seconds or a duration string.
pub fn from_value(v: &Value) -> Result<Duration, DurationError> {
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64().filter(|u| *u as f64 <= MAX_SECS) {
                Ok(Duration::from_secs(u))
            } else if let Some(f) = n.as_f64().filter(|f| *f >= 0.0 && *f <= MAX_SECS) {
                Ok(Duration::from_secs_f64(f))
            } else {
                Err(DurationError(n.to_string()))
            }
        }
        Value::String(s) => parse(s),
        Value::Null => Ok(Duration::ZERO),
        other => Err(DurationError(other.to_string())),
    }
}

/// Go's `time.Duration.String()` form, as Vault prints TTLs in configs
/// (`768h0m0s`, `1h0m0s`, `30s`, `0s`).
pub fn format_go(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// The short form Vault uses in warnings: `768h`, `1h30m`, `90s` -> `1m30s`.
pub fn format_short(d: Duration) -> String {
    let long = format_go(d);
    let trimmed = long
        .strip_suffix("m0s")
        .map(|s| format!("{s}m"))
        .unwrap_or(long);
    trimmed
        .strip_suffix("h0m")
        .map(|s| format!("{s}h"))
        .unwrap_or(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vault_forms() {
        assert_eq!(parse("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse("").unwrap(), Duration::ZERO);
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        for bad in ["abc", "1x", "-5", "h", "1h-2m", "99999999999999999999h"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(from_value(&json!(60)).unwrap(), Duration::from_secs(60));
        assert_eq!(from_value(&json!("1m")).unwrap(), Duration::from_secs(60));
        assert!(from_value(&json!(-1)).is_err());
        assert!(from_value(&json!([1])).is_err());
    }

    #[test]
    fn go_format() {
        assert_eq!(format_go(Duration::from_secs(2_764_800)), "768h0m0s");
        assert_eq!(format_go(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_go(Duration::ZERO), "0s");
        assert_eq!(format_short(Duration::from_secs(2_764_800)), "768h");
        assert_eq!(format_short(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_short(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_short(Duration::from_secs(600)), "10m");
    }
}
