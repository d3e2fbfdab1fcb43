//! Go's time layouts (`time.Time.Format`), for consul-template's
//! `{{ timestamp "2006-01-02" }}`: the reference time `Mon Jan 2 15:04:05
//! MST 2006` written the way the output should look. The chunks are
//! recognized in Go's order (`nextStdChunk`), so a layout means here what
//! it means to `bao agent`. Times are UTC, as in a container.

use time::OffsetDateTime;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// `t` formatted by the Go layout.
pub fn format(t: OffsetDateTime, layout: &str) -> String {
    let b = layout.as_bytes();
    let mut out = String::with_capacity(layout.len() + 8);
    let mut i = 0;
    let month = usize::from(u8::from(t.month())) - 1;
    let weekday = usize::from(t.weekday().number_days_from_monday());
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let starts = |i: usize, s: &str| layout.get(i..).is_some_and(|r| r.starts_with(s));
    while i < b.len() {
        let rest = &layout[i..];
        // (chunk length, its text), or a literal byte.
        let chunk: Option<(usize, String)> = match b[i] {
            b'J' if starts(i, "January") => Some((7, MONTHS[month].into())),
            b'J' if starts(i, "Jan") => Some((3, MONTHS[month][..3].into())),
            b'M' if starts(i, "Monday") => Some((6, DAYS[weekday].into())),
            b'M' if starts(i, "Mon") => Some((3, DAYS[weekday][..3].into())),
            b'M' if starts(i, "MST") => Some((3, "UTC".into())),
            b'0' if starts(i, "002") => Some((3, format!("{:03}", t.ordinal()))),
            b'0' => match b.get(i + 1) {
                Some(b'1') => Some((2, format!("{:02}", month + 1))),
                Some(b'2') => Some((2, format!("{:02}", t.day()))),
                Some(b'3') => Some((2, format!("{hour12:02}"))),
                Some(b'4') => Some((2, format!("{:02}", t.minute()))),
                Some(b'5') => Some((2, format!("{:02}", t.second()))),
                Some(b'6') => Some((2, format!("{:02}", t.year().rem_euclid(100)))),
                _ => None,
            },
            b'1' if starts(i, "15") => Some((2, format!("{:02}", t.hour()))),
            b'1' => Some((1, (month + 1).to_string())),
            b'2' if starts(i, "2006") => Some((4, format!("{:04}", t.year()))),
            b'2' => Some((1, t.day().to_string())),
            b'_' if starts(i, "__2") => Some((3, format!("{:>3}", t.ordinal()))),
            b'_' if starts(i, "_2") && !starts(i, "_2006") => Some((2, format!("{:>2}", t.day()))),
            b'3' => Some((1, hour12.to_string())),
            b'4' => Some((1, t.minute().to_string())),
            b'5' => Some((1, t.second().to_string())),
            b'P' if starts(i, "PM") => Some((2, if t.hour() >= 12 { "PM" } else { "AM" }.into())),
            b'p' if starts(i, "pm") => Some((2, if t.hour() >= 12 { "pm" } else { "am" }.into())),
            b'-' | b'Z' => zone(rest),
            b'.' | b',' => fraction(rest, t.nanosecond()),
            _ => None,
        };
        match chunk {
            Some((n, s)) => {
                out.push_str(&s);
                i += n;
            }
            None => {
                let c = rest.chars().next().unwrap_or_default();
                out.push(c);
                i += c.len_utf8().max(1);
            }
        }
    }
    out
}

/// A zone offset chunk, for UTC: `Z…` forms print `Z`, `-…` forms zeros.
fn zone(rest: &str) -> Option<(usize, String)> {
    for (pat, utc) in [
        ("-07:00:00", "+00:00:00"),
        ("-070000", "+000000"),
        ("-07:00", "+00:00"),
        ("-0700", "+0000"),
        ("-07", "+00"),
        ("Z07:00:00", "Z"),
        ("Z070000", "Z"),
        ("Z07:00", "Z"),
        ("Z0700", "Z"),
        ("Z07", "Z"),
    ] {
        if rest.starts_with(pat) {
            return Some((pat.len(), utc.into()));
        }
    }
    None
}

/// `.000` (fixed digits) or `.999` (trailing zeros dropped, and the
/// separator with them when nothing is left), when no digit follows.
fn fraction(rest: &str, nanos: u32) -> Option<(usize, String)> {
    let b = rest.as_bytes();
    let digit = *b.get(1)?;
    if digit != b'0' && digit != b'9' {
        return None;
    }
    let n = 1 + b[1..].iter().take_while(|c| **c == digit).count();
    if b.get(n).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let places = n - 1;
    let all = format!("{nanos:09}");
    let mut digits = all[..places.min(9)].to_owned();
    if places > 9 {
        digits.push_str(&"0".repeat(places - 9));
    }
    if digit == b'9' {
        let trimmed = digits.trim_end_matches('0');
        if trimmed.is_empty() {
            return Some((n, String::new()));
        }
        digits = trimmed.to_owned();
    }
    Some((n, format!("{}{digits}", char::from(b[0]))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn go_reference_layouts() {
        let t = datetime!(2026-12-03 09:05:07.123456789 UTC);
        for (layout, want) in [
            ("2006-01-02T15:04:05Z07:00", "2026-12-03T09:05:07Z"),
            (
                "2006-01-02T15:04:05.999999999Z07:00",
                "2026-12-03T09:05:07.123456789Z",
            ),
            ("Mon Jan _2 15:04:05 2006", "Thu Dec  3 09:05:07 2026"),
            (
                "Mon Jan _2 15:04:05 MST 2006",
                "Thu Dec  3 09:05:07 UTC 2026",
            ),
            ("02 Jan 06 15:04 MST", "03 Dec 26 09:05 UTC"),
            ("02 Jan 06 15:04 -0700", "03 Dec 26 09:05 +0000"),
            (
                "Monday, 02-Jan-06 15:04:05 MST",
                "Thursday, 03-Dec-26 09:05:07 UTC",
            ),
            (
                "Mon, 02 Jan 2006 15:04:05 -0700",
                "Thu, 03 Dec 2026 09:05:07 +0000",
            ),
            ("3:04PM", "9:05AM"),
            ("3:04pm", "9:05am"),
            ("Jan _2 15:04:05.000", "Dec  3 09:05:07.123"),
            ("Jan _2 15:04:05.000000", "Dec  3 09:05:07.123456"),
            ("2006-01-02", "2026-12-03"),
            ("January 2, 2006", "December 3, 2026"),
            ("002 __2", "337 337"),
            ("1/2/06 3:4:5", "12/3/26 9:5:7"),
            ("15h04,000", "09h05,123"),
            ("-07:00 -07", "+00:00 +00"),
            ("20060102150405", "20261203090507"),
            ("literal text: YYYY", "literal text: YYYY"),
        ] {
            assert_eq!(format(t, layout), want, "{layout}");
        }
        let round = datetime!(2026-01-05 15:00:00.120 UTC);
        assert_eq!(format(round, "15:04:05.999"), "15:00:00.12");
        assert_eq!(format(round, "05.999999"), "00.12");
        assert_eq!(
            format(datetime!(2026-01-05 00:00:00 UTC), "05.999 3PM"),
            "00 12AM"
        );
        // A digit right after the run: not a fraction; as in Go, the "01"
        // inside is then the month.
        assert_eq!(format(t, ".0001"), ".0012");
    }
}
