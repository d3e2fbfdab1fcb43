//! Durations the way the Go CLI reads and prints them: flags accept
//! `90`, `90s`, `1h30m`, `1.5h`, `2d`; requests carry Go's
//! `time.Duration.String()` form (`1h30m0s`); tables print TTL seconds
//! humanized (`1h30m`, `768h`, `1h59m59s`).

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A span of time in nanoseconds, like Go's `time.Duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct GoDuration(pub i64);

impl GoDuration {
    /// Whole seconds, truncated; under a second is 0.
    pub(crate) fn whole_secs(self) -> i64 {
        self.0 / NANOS_PER_SEC
    }

    /// Parses a flag value like Vault's `parseutil.ParseDurationSecond`:
    /// a bare integer is seconds, a `d` suffix is whole days, anything else
    /// is Go duration syntax.
    pub(crate) fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Ok(Self(0));
        }
        if s.ends_with(['s', 'm', 'h']) {
            return parse_go(s);
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

    /// Go's `time.Duration.String()`: `0s`, `1.5s`, `2m0s`, `1h0m0s`, `500ms`.
    pub(crate) fn go_string(self) -> String {
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

/// `whole.frac` with trailing zeros of the fraction dropped.
fn with_fraction(whole: u64, frac: u64, scale: u64) -> String {
    if frac == 0 {
        return whole.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Go's `time.ParseDuration`.
fn parse_go(s: &str) -> Result<GoDuration, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(GoDuration(0));
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
        let number = &rest[..num_end];
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    // Rounded to whole nanoseconds, as Go does for fractional values.
    let nanos = total.round() as i64;
    Ok(GoDuration(if neg { -nanos } else { nanos }))
}

/// The CLI's "human" rendering of a number of seconds: Go's duration
/// string without the zero parts (`1h0m0s` → `1h`, `30m0s` → `30m`).
pub(crate) fn human_secs(secs: i64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_parseutil() {
        assert_eq!(GoDuration::parse("1h").unwrap().whole_secs(), 3600);
        assert_eq!(GoDuration::parse("90").unwrap().whole_secs(), 90);
        assert_eq!(GoDuration::parse("2d").unwrap().whole_secs(), 172_800);
        assert_eq!(GoDuration::parse("1h30m").unwrap().whole_secs(), 5400);
        assert_eq!(GoDuration::parse("1.5h").unwrap().whole_secs(), 5400);
        assert_eq!(GoDuration::parse("500ms").unwrap().0, 500_000_000);
        assert_eq!(GoDuration::parse("").unwrap().0, 0);
        assert!(GoDuration::parse("bogus").is_err());
        assert!(GoDuration::parse("1x").is_err());
        assert!(GoDuration::parse("h").is_err());
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
