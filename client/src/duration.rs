//! Durations as Vault and its Go tools read and print them, shared by the
//! server, the CLI and the agent:
//!
//! - [`parse`] / [`from_value`]: what the server accepts in a request or a
//!   config (`parseutil.ParseDurationSecond`): a number of seconds (JSON
//!   number or string), or a Go duration string (`"1h30m"`, `"90s"`,
//!   `"1.5h"`, `"300ms"`), with `d` for days; never negative.
//! - [`GoDuration`]: Go's `time.Duration` (signed nanoseconds), parsed the
//!   way the Go CLI reads a flag (`90`, `90s`, `1h30m`, `2d`, with Go's own
//!   error texts) and printed as `time.Duration.String()` (`1h30m0s`).
//! - [`format_go`], [`format_short`], [`human_secs`]: the forms Vault
//!   prints TTLs in (configs, warnings, CLI tables).

use std::time::Duration;

use serde_json::Value;

/// A duration the server refuses; shows as Go's message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("time: invalid duration {0:?}")]
pub struct DurationError(pub String);

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Longest duration accepted (about 290 years, Go's `time.Duration` range).
const MAX_SECS: f64 = 9_223_372_036.0;

/// A duration in a request or a config: seconds, or a Go duration string
/// (`d` allowed as a unit); never negative, at most Go's range.
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
    let nanos = go_nanos(t, true).map_err(|_| bad())?;
    let nanos = u64::try_from(nanos).map_err(|_| bad())?;
    if nanos / 1_000_000_000 > MAX_SECS as u64 {
        return Err(bad());
    }
    Ok(Duration::from_nanos(nanos))
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

/// Go's `time.Duration.String()` of whole seconds, as Vault prints TTLs
/// in configs (`768h0m0s`, `1h0m0s`, `30s`, `0s`).
pub fn format_go(d: Duration) -> String {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX / NANOS_PER_SEC);
    GoDuration(secs.saturating_mul(NANOS_PER_SEC)).go_string()
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

/// The CLI's "human" rendering of a number of seconds: Go's duration
/// string without the zero parts (`1h0m0s` → `1h`, `30m0s` → `30m`,
/// `1h0m1s` → `1h1s`).
pub fn human_secs(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut s = GoDuration(secs.saturating_mul(NANOS_PER_SEC)).go_string();
    if s.ends_with("m0s") {
        s.truncate(s.len() - 2);
    }
    if let Some(idx) = s.find("h0m") {
        if idx > 0 {
            s.replace_range(idx + 1..idx + 3, "");
        }
    }
    s
}

/// A span of time in nanoseconds, like Go's `time.Duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct GoDuration(pub i64);

impl GoDuration {
    /// Whole seconds, truncated; under a second is 0.
    pub fn whole_secs(self) -> i64 {
        self.0 / NANOS_PER_SEC
    }

    /// As a `std` duration; a negative one is zero.
    pub fn to_std(self) -> Duration {
        Duration::from_nanos(u64::try_from(self.0).unwrap_or(0))
    }

    /// Parses a flag value like Vault's `parseutil.ParseDurationSecond`:
    /// a bare integer is seconds, a `d` suffix is whole days, anything else
    /// is Go duration syntax. Errors are Go's texts.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Ok(Self(0));
        }
        if s.ends_with(['s', 'm', 'h']) {
            return Self::parse_go(s);
        }
        if let Some(days) = s.strip_suffix('d') {
            let d: i64 = days
                .parse()
                .map_err(|_| format!("strconv.ParseInt: parsing {days:?}: invalid syntax"))?;
            return d
                .checked_mul(24 * 3600 * NANOS_PER_SEC)
                .map(Self)
                .ok_or_else(|| format!("time: invalid duration {s:?}"));
        }
        let secs: i64 = s
            .parse()
            .map_err(|_| format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))?;
        secs.checked_mul(NANOS_PER_SEC)
            .map(Self)
            .ok_or_else(|| format!("time: invalid duration {s:?}"))
    }

    /// Go's `time.ParseDuration`, with its error texts.
    pub fn parse_go(s: &str) -> Result<Self, String> {
        i64::try_from(go_nanos(s, false)?)
            .map(Self)
            .map_err(|_| format!("time: invalid duration {s:?}"))
    }

    /// Go's `time.Duration.String()`: `0s`, `1.5s`, `2m0s`, `1h0m0s`, `500ms`.
    pub fn go_string(self) -> String {
        let neg = self.0 < 0;
        let u = self.0.unsigned_abs();
        if u == 0 {
            return "0s".into();
        }
        let mut out = String::new();
        if u < NANOS_PER_SEC.unsigned_abs() {
            let (unit, scale) = if u < 1_000 {
                ("ns", 1)
            } else if u < 1_000_000 {
                ("µs", 1_000)
            } else {
                ("ms", 1_000_000)
            };
            out.push_str(&with_fraction(u / scale, u % scale, scale));
            out.push_str(unit);
        } else {
            let secs = u / NANOS_PER_SEC.unsigned_abs();
            let frac = u % NANOS_PER_SEC.unsigned_abs();
            let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
            if h > 0 {
                out.push_str(&format!("{h}h{m}m"));
            } else if m > 0 {
                out.push_str(&format!("{m}m"));
            }
            out.push_str(&with_fraction(s, frac, NANOS_PER_SEC.unsigned_abs()));
            out.push('s');
        }
        if neg { format!("-{out}") } else { out }
    }
}

impl From<Duration> for GoDuration {
    fn from(d: Duration) -> Self {
        Self(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
}

/// `whole.frac` with trailing zeros of the fraction dropped.
fn with_fraction(whole: u64, frac: u64, scale: u64) -> String {
    if frac == 0 {
        return whole.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Go duration syntax (`[-+]` then `<number><unit>` runs), in whole
/// nanoseconds (integer arithmetic, fractions truncated as Go's are); `days`
/// also allows `d`. Errors are Go's texts.
fn go_nanos(s: &str, days: bool) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    // Far past any range a caller accepts, so that the sum cannot overflow.
    const CAP: u128 = 1 << 100;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
        let number = &rest[..num_end];
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(invalid());
        }
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" if days => 86_400_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        let whole: u128 = if whole.is_empty() {
            0
        } else if whole.len() > 30 {
            return Err(invalid());
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        // At most 18 fraction digits count (below a nanosecond of an hour).
        let frac = &frac[..frac.len().min(18)];
        let frac_part = if frac.is_empty() {
            0
        } else {
            let digits: u128 = frac.parse().map_err(|_| invalid())?;
            digits * scale / 10u128.pow(u32::try_from(frac.len()).unwrap_or(18))
        };
        total = total
            .saturating_add(whole.saturating_mul(scale))
            .saturating_add(frac_part)
            .min(CAP);
    }
    let total = i128::try_from(total).unwrap_or(i128::MAX);
    Ok(if neg { -total } else { total })
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
        assert_eq!(parse("1d12h").unwrap(), Duration::from_secs(129_600));
        assert_eq!(parse("").unwrap(), Duration::ZERO);
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        for bad in [
            "abc",
            "1x",
            "-5",
            "-5s",
            "h",
            "1h-2m",
            "99999999999999999999h",
            "1e3s",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse("1x").unwrap_err().to_string(),
            "time: invalid duration \"1x\""
        );
        assert_eq!(from_value(&json!(60)).unwrap(), Duration::from_secs(60));
        assert_eq!(from_value(&json!("1m")).unwrap(), Duration::from_secs(60));
        assert!(from_value(&json!(-1)).is_err());
        assert!(from_value(&json!([1])).is_err());
    }

    #[test]
    fn go_format() {
        assert_eq!(format_go(Duration::from_secs(2_764_800)), "768h0m0s");
        assert_eq!(format_go(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_go(Duration::from_millis(1500)), "1s");
        assert_eq!(format_go(Duration::ZERO), "0s");
        assert_eq!(format_short(Duration::from_secs(2_764_800)), "768h");
        assert_eq!(format_short(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_short(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_short(Duration::from_secs(600)), "10m");
    }

    #[test]
    fn parses_like_parseutil() {
        assert_eq!(GoDuration::parse("1h").unwrap().whole_secs(), 3600);
        assert_eq!(GoDuration::parse("90").unwrap().whole_secs(), 90);
        assert_eq!(GoDuration::parse("2d").unwrap().whole_secs(), 172_800);
        assert_eq!(GoDuration::parse("1h30m").unwrap().whole_secs(), 5400);
        assert_eq!(GoDuration::parse("1.5h").unwrap().whole_secs(), 5400);
        assert_eq!(GoDuration::parse("500ms").unwrap().0, 500_000_000);
        assert_eq!(
            GoDuration::parse("500ms").unwrap().to_std(),
            Duration::from_millis(500)
        );
        assert_eq!(GoDuration::parse("-5s").unwrap().to_std(), Duration::ZERO);
        assert_eq!(GoDuration::parse("").unwrap().0, 0);
        assert_eq!(
            GoDuration::parse("bogux").unwrap_err(),
            "strconv.ParseInt: parsing \"bogux\": invalid syntax"
        );
        assert_eq!(
            GoDuration::parse("bogus").unwrap_err(),
            "time: invalid duration \"bogus\""
        );
        assert_eq!(
            GoDuration::parse("1xs").unwrap_err(),
            "time: unknown unit \"xs\" in duration \"1xs\""
        );
        assert!(GoDuration::parse("1x").is_err());
        assert!(GoDuration::parse("h").is_err());
        assert!(
            GoDuration::parse_go("1d").is_err(),
            "no days in Go's own syntax"
        );
    }

    #[test]
    fn formats_like_go() {
        let f = |s: &str| GoDuration::parse(s).unwrap().go_string();
        assert_eq!(f("0"), "0s");
        assert_eq!(f("1h"), "1h0m0s");
        assert_eq!(f("30m"), "30m0s");
        assert_eq!(f("2h"), "2h0m0s");
        assert_eq!(f("90s"), "1m30s");
        assert_eq!(f("1.5s"), "1.5s");
        assert_eq!(f("500ms"), "500ms");
        assert_eq!(f("1500us"), "1.5ms");
        assert_eq!(f("-5s"), "-5s");
        assert_eq!(
            GoDuration::from(Duration::from_millis(2500)).go_string(),
            "2.5s"
        );
    }

    #[test]
    fn humanizes_seconds_like_the_cli() {
        assert_eq!(human_secs(0), "0s");
        assert_eq!(human_secs(3600), "1h");
        assert_eq!(human_secs(7199), "1h59m59s");
        assert_eq!(human_secs(1800), "30m");
        assert_eq!(human_secs(2_764_800), "768h");
        assert_eq!(human_secs(3601), "1h1s");
        assert_eq!(human_secs(59), "59s");
    }
}
