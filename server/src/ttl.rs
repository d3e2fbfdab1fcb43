//! One TTL rule for every grant (a login's token, a created token, a
//! renewal; leases next), as Vault layers it: the mount's (or the
//! system's) default and max, a role's or user's max, the grant's own
//! explicit max, and a period for periodic grants. A TTL over the
//! effective max is capped, with Vault's warning.

use std::time::Duration;

use crate::duration::format_short;

/// A grant's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// What a grant gets when it asks for nothing; for a renewal, how far
    /// it goes without an increment.
    pub default: Duration,
    /// The ceiling of the mount (or the system), lowered by a role's or
    /// user's max where there is one. Counted from issue.
    pub max: Duration,
    /// The grant's own hard cap from issue (zero: none).
    pub explicit_max: Duration,
    /// A periodic grant gets, and renews to, this (zero: not periodic).
    pub period: Duration,
}

/// A TTL decided, and the warning Vault gives when it was capped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub ttl: Duration,
    pub warning: Option<String>,
}

fn capped(asked: Duration, max: Duration) -> String {
    format!(
        "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
        format_short(asked),
        format_short(max)
    )
}

impl Limits {
    /// The max that holds: `max`, lowered by `explicit_max` if set.
    pub fn effective_max(&self) -> Duration {
        if self.explicit_max.is_zero() {
            self.max
        } else {
            self.max.min(self.explicit_max)
        }
    }

    /// A new grant that asks for `requested` (None: the default). A
    /// periodic grant gets its period, within its explicit max. A TTL
    /// over the effective max is capped; the warning is given when the
    /// TTL asked for was capped (not the default).
    pub fn grant(&self, requested: Option<Duration>) -> Granted {
        if !self.period.is_zero() {
            let ttl = if self.explicit_max.is_zero() {
                self.period
            } else {
                self.period.min(self.explicit_max)
            };
            return Granted { ttl, warning: None };
        }
        let max = self.effective_max();
        let wanted = requested.unwrap_or(self.default);
        if wanted <= max {
            return Granted {
                ttl: wanted,
                warning: None,
            };
        }
        Granted {
            ttl: max,
            warning: requested.map(|asked| capped(asked, max)),
        }
    }

    /// A renewal `elapsed` after issue that asks for `increment` (None:
    /// the default). It never reaches past the effective max from issue;
    /// a periodic grant renews to its period, within its explicit max.
    /// Rounded to the second, as Vault reports it.
    pub fn renew(&self, elapsed: Duration, increment: Option<Duration>) -> Granted {
        let (ttl, warning) = if !self.period.is_zero() {
            let ttl = if self.explicit_max.is_zero() {
                self.period
            } else {
                self.period.min(self.explicit_max.saturating_sub(elapsed))
            };
            (ttl, None)
        } else {
            let max = self.effective_max();
            let remaining = max.saturating_sub(elapsed);
            let wanted = increment.unwrap_or(self.default);
            if wanted > remaining {
                (remaining, increment.map(|asked| capped(asked, max)))
            } else {
                (wanted, None)
            }
        };
        let rounded = u64::try_from(ttl.as_millis().saturating_add(500) / 1000).unwrap_or(u64::MAX);
        Granted {
            ttl: Duration::from_secs(rounded),
            warning,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Duration = Duration::from_secs(3600);

    fn limits(default: u64, max: u64, explicit: u64, period: u64) -> Limits {
        Limits {
            default: H * default as u32,
            max: H * max as u32,
            explicit_max: H * explicit as u32,
            period: H * period as u32,
        }
    }

    #[test]
    fn grants_are_capped_with_vaults_warning() {
        let l = limits(1, 4, 0, 0);
        assert_eq!(
            l.grant(None),
            Granted {
                ttl: H,
                warning: None
            }
        );
        assert_eq!(l.grant(Some(H * 2)).ttl, H * 2);
        let g = l.grant(Some(H * 10));
        assert_eq!(g.ttl, H * 4);
        assert_eq!(
            g.warning.as_deref(),
            Some(
                "TTL of \"10h\" exceeded the effective max_ttl of \"4h\"; TTL value is capped accordingly"
            )
        );
        // A default over the max is capped without a warning.
        assert_eq!(
            limits(8, 4, 0, 0).grant(None),
            Granted {
                ttl: H * 4,
                warning: None
            }
        );
        // An explicit max lowers the max; a period wins, within it.
        assert_eq!(limits(1, 4, 2, 0).grant(Some(H * 3)).ttl, H * 2);
        assert_eq!(limits(1, 4, 0, 6).grant(Some(H)).ttl, H * 6);
        assert_eq!(limits(1, 4, 2, 6).grant(None).ttl, H * 2);
    }

    #[test]
    fn renewals_stay_within_the_max_from_issue() {
        let l = limits(1, 4, 0, 0);
        assert_eq!(l.renew(H, None).ttl, H);
        assert_eq!(l.renew(H * 3, Some(H * 2)).ttl, H);
        let g = l.renew(H * 3, Some(H * 2));
        assert!(g.warning.unwrap().contains("effective max_ttl of \"4h\""));
        assert_eq!(l.renew(H * 5, None).ttl, Duration::ZERO);
        // Periodic: back to the period each time, but not past an explicit
        // max.
        assert_eq!(limits(1, 4, 0, 2).renew(H * 30, None).ttl, H * 2);
        assert_eq!(limits(1, 4, 10, 2).renew(H * 9, None).ttl, H);
        // Rounded to the second.
        let odd = Limits {
            default: Duration::from_millis(1500),
            max: H,
            ..Default::default()
        };
        assert_eq!(odd.renew(Duration::ZERO, None).ttl, Duration::from_secs(2));
    }
}
