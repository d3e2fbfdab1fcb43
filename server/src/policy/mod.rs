//! ACL policies: parsing HCL into `Policy` (parse.rs), compiling a token's
//! policies into one matcher (acl.rs), and storing them (store.rs).

pub mod acl;
pub mod parse;
pub mod store;

use std::collections::BTreeMap;
use std::ops::{BitOr, BitOrAssign};
use std::time::Duration;

pub use acl::Acl;
pub use store::PolicyStore;

/// A set of capabilities, as Vault's bitmap.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities(u32);

impl Capabilities {
    pub const DENY: Self = Self(1);
    pub const CREATE: Self = Self(1 << 1);
    pub const READ: Self = Self(1 << 2);
    pub const UPDATE: Self = Self(1 << 3);
    pub const DELETE: Self = Self(1 << 4);
    pub const LIST: Self = Self(1 << 5);
    pub const SUDO: Self = Self(1 << 6);
    pub const PATCH: Self = Self(1 << 7);
    pub const SCAN: Self = Self(1 << 8);

    /// Names in the order Vault reports them from `sys/capabilities`.
    const REPORT_ORDER: [(Self, &'static str); 8] = [
        (Self::SUDO, "sudo"),
        (Self::READ, "read"),
        (Self::LIST, "list"),
        (Self::UPDATE, "update"),
        (Self::DELETE, "delete"),
        (Self::CREATE, "create"),
        (Self::PATCH, "patch"),
        (Self::SCAN, "scan"),
    ];

    pub const fn empty() -> Self {
        Self(0)
    }

    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "deny" => Self::DENY,
            "create" => Self::CREATE,
            "read" => Self::READ,
            "update" => Self::UPDATE,
            "delete" => Self::DELETE,
            "list" => Self::LIST,
            "sudo" => Self::SUDO,
            "patch" => Self::PATCH,
            "scan" => Self::SCAN,
            _ => return None,
        })
    }

    /// Vault's capability list for `sys/capabilities`: "deny" alone when
    /// denied or empty.
    pub fn names(self) -> Vec<&'static str> {
        if self.contains(Self::DENY) {
            return vec!["deny"];
        }
        let names: Vec<_> = Self::REPORT_ORDER
            .iter()
            .filter(|(c, _)| self.contains(*c))
            .map(|(_, n)| *n)
            .collect();
        if names.is_empty() {
            vec!["deny"]
        } else {
            names
        }
    }
}

impl BitOr for Capabilities {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for Capabilities {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl std::fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.names())
    }
}

/// One parsed policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub raw: String,
    pub paths: Vec<PathRules>,
}

/// The rules of one `path "..." { }` block.
#[derive(Debug, Clone, Default)]
pub struct PathRules {
    /// The path with a trailing `*` glob removed when `is_prefix`.
    pub path: String,
    pub is_prefix: bool,
    pub has_segment_wildcards: bool,
    pub capabilities: Capabilities,
    pub allowed_parameters: Option<BTreeMap<String, Vec<serde_json::Value>>>,
    pub denied_parameters: Option<BTreeMap<String, Vec<serde_json::Value>>>,
    pub required_parameters: Vec<String>,
    pub min_wrapping_ttl: Option<Duration>,
    pub max_wrapping_ttl: Option<Duration>,
}
