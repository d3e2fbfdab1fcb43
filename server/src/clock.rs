//! Wall-clock time as a dependency. Token and lease expiry are wall-clock
//! deadlines (they must survive a restart), so they are computed from this
//! clock; tests use a manual clock and move it forward instead of sleeping.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

#[derive(Clone)]
pub struct Clock(Arc<Inner>);

enum Inner {
    System,
    /// A manual clock: `now` only moves on `advance`; every move is
    /// published so that timers computed from it re-evaluate.
    Manual {
        now: Mutex<SystemTime>,
        moved: watch::Sender<()>,
    },
}

impl Clock {
    pub fn system() -> Self {
        Self(Arc::new(Inner::System))
    }

    pub fn manual(start: SystemTime) -> Self {
        let (moved, _) = watch::channel(());
        Self(Arc::new(Inner::Manual {
            now: Mutex::new(start),
            moved,
        }))
    }

    pub fn now(&self) -> SystemTime {
        match &*self.0 {
            Inner::System => SystemTime::now(),
            Inner::Manual { now, .. } => *now.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Nanoseconds since the Unix epoch.
    pub fn now_nanos(&self) -> i64 {
        to_nanos(self.now())
    }

    pub fn advance(&self, by: Duration) {
        if let Inner::Manual { now, moved } = &*self.0 {
            {
                let mut t = now.lock().unwrap_or_else(|e| e.into_inner());
                *t += by;
            }
            moved.send_replace(());
        }
    }

    /// A receiver that fires whenever a manual clock moves (never for the
    /// system clock).
    pub fn moved(&self) -> Option<watch::Receiver<()>> {
        match &*self.0 {
            Inner::System => None,
            Inner::Manual { moved, .. } => Some(moved.subscribe()),
        }
    }
}

pub fn to_nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// RFC 3339 with nanoseconds, as Go prints `time.Time` in JSON.
pub fn rfc3339_nanos(nanos: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos as i128)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    rfc3339(t)
}

/// RFC 3339 to the second (Vault's `token_issue_time`).
pub fn rfc3339_secs(secs: i64) -> String {
    rfc3339_nanos(secs.saturating_mul(1_000_000_000))
}

/// Go's `time.RFC3339Nano`: fractional seconds without trailing zeros.
/// Written digit by digit into one allocation: the audit log stamps every
/// entry, so this is on the hot path.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    fn push(out: &mut String, n: u32, width: usize) {
        let mut buf = [b'0'; 10];
        let mut v = n;
        for i in (0..width).rev() {
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        for &b in &buf[..width] {
            out.push(b as char);
        }
    }
    let mut out = String::with_capacity(30);
    let year = u32::try_from(t.year()).unwrap_or(0);
    push(&mut out, year, 4);
    out.push('-');
    push(&mut out, u32::from(u8::from(t.month())), 2);
    out.push('-');
    push(&mut out, u32::from(t.day()), 2);
    out.push('T');
    push(&mut out, u32::from(t.hour()), 2);
    out.push(':');
    push(&mut out, u32::from(t.minute()), 2);
    out.push(':');
    push(&mut out, u32::from(t.second()), 2);
    let mut ns = t.nanosecond();
    if ns != 0 {
        let mut digits = 9;
        while ns % 10 == 0 {
            ns /= 10;
            digits -= 1;
        }
        out.push('.');
        push(&mut out, ns, digits);
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = Clock::manual(UNIX_EPOCH + Duration::from_secs(100));
        let rx = c.moved().unwrap();
        assert_eq!(c.now_nanos(), 100_000_000_000);
        c.advance(Duration::from_secs(5));
        assert_eq!(c.now_nanos(), 105_000_000_000);
        assert!(rx.has_changed().unwrap());
    }

    #[test]
    fn go_style_timestamps() {
        assert_eq!(
            rfc3339_nanos(1_795_461_895_926_444_917),
            "2026-11-23T19:24:55.926444917Z"
        );
        assert_eq!(
            rfc3339_nanos(1_795_461_895_000_000_000),
            "2026-11-23T19:24:55Z"
        );
        assert_eq!(
            rfc3339_nanos(1_795_461_895_500_000_000),
            "2026-11-23T19:24:55.5Z"
        );
        assert_eq!(
            rfc3339_nanos(1_000_000_007),
            "1970-01-01T00:00:01.000000007Z"
        );
        assert_eq!(
            rfc3339_nanos(1_795_461_895_120_000_000),
            "2026-11-23T19:24:55.12Z"
        );
    }
}
