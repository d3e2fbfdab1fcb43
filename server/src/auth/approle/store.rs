//! What the approle method stores, where, and under which locks. All of it
//! lives in the mount's storage view, encrypted by the barrier; on top of
//! that, nothing that works as a credential is stored in clear where it
//! is a key:
//!
//! - a role's secret-ids are stored under the HMAC-SHA256 of the
//!   secret-id with the role's own random key (as Vault does), so a copy
//!   of the storage, even decrypted, yields no usable secret-id, and a
//!   role deleted and re-created under the same name cannot see the old
//!   secret-ids;
//! - the role-id index and the accessor index are keyed by HMACs with the
//!   mount's salt.
//!
//! Multi-key changes (a secret-id and its accessor, a role and its role-id
//! index) are written as one atomic batch, so a crash never leaves one
//! without the other. Read-modify-write of a secret-id (use counts) holds
//! that secret-id's lock; role changes hold the role's lock. Order, where
//! both are taken: the role's first.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::{Mutex, OnceCell, RwLock};

use crate::auth::token_params::TokenParams;
use crate::barrier::View;
use crate::barrier::view::to_json;
use crate::error::{Error, Result};
use crate::secret::{SecretBytes, ct_eq};
use crate::storage::Op;

/// The mount's HMAC key for the role-id and accessor indexes.
const SALT_PATH: &str = "salt";
/// `role/<lowercased name>` -> RoleEntry.
const ROLE_PREFIX: &str = "role/";
/// `role_id/<hmac(salt, role_id)>` -> RoleIdEntry: login finds the role.
const ROLE_ID_PREFIX: &str = "role_id/";
/// `secret_id/<hmac(role key, name)>/<hmac(role key, secret_id)>` ->
/// SecretIdEntry; one folder per role, so a role's secret-ids list and
/// drop together.
const SECRET_ID_PREFIX: &str = "secret_id/";
/// `accessor/<hmac(salt, accessor)>` -> AccessorEntry: the accessor leads
/// to a secret-id without the secret-id.
const ACCESSOR_PREFIX: &str = "accessor/";
/// Vault's limit on what it HMACs (role names, secret-ids).
pub(super) const MAX_HMAC_INPUT: usize = 4096;
/// Lock stripes; enough that unrelated secret-ids rarely share one.
const STRIPES: usize = 64;

#[derive(Serialize, Deserialize, Clone)]
pub(super) struct RoleEntry {
    /// Lowercased, as the storage key.
    pub name: String,
    pub role_id: String,
    /// Hex; the key for this role's secret-id HMACs.
    pub hmac_key: String,
    pub bind_secret_id: bool,
    #[serde(default)]
    pub secret_id_bound_cidrs: Vec<String>,
    #[serde(default)]
    pub secret_id_num_uses: i64,
    /// Seconds; 0: secret-ids do not expire.
    #[serde(default)]
    pub secret_id_ttl: u64,
    #[serde(default)]
    pub local_secret_ids: bool,
    #[serde(default)]
    pub token: TokenParams,
}

#[derive(Serialize, Deserialize)]
struct RoleIdEntry {
    name: String,
}

#[derive(Serialize, Deserialize, Clone)]
pub(super) struct SecretIdEntry {
    /// The HMAC this entry is stored under, checked again (in constant
    /// time) when it is read.
    pub secret_id_hmac: String,
    pub secret_id_accessor: String,
    /// 0: unlimited.
    pub secret_id_num_uses: i64,
    /// Seconds, as asked for (the expiry may be capped lower).
    pub secret_id_ttl: u64,
    /// Unix nanoseconds.
    pub creation_time: i64,
    /// Unix nanoseconds; 0: never.
    pub expiration_time: i64,
    pub last_updated_time: i64,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub cidr_list: Vec<String>,
    #[serde(default)]
    pub token_bound_cidrs: Vec<String>,
}

impl SecretIdEntry {
    pub fn expired(&self, now_nanos: i64) -> bool {
        self.expiration_time != 0 && now_nanos > self.expiration_time
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct AccessorEntry {
    pub secret_id_hmac: String,
    /// The folder of the role the secret-id belongs to.
    pub role_hmac: String,
}

/// A fixed set of locks; a key always maps to the same one.
struct Stripes<T>(Vec<T>);

impl<T: Default> Stripes<T> {
    fn new() -> Self {
        Self((0..STRIPES).map(|_| T::default()).collect())
    }

    fn get(&self, key: &str) -> &T {
        // FNV-1a: cheap and spreads short keys well enough for striping.
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        // STRIPES > 0, so the index is always in range.
        &self.0[(h % STRIPES as u64) as usize]
    }
}

pub(super) struct Store {
    view: View,
    salt: OnceCell<SecretBytes>,
    role_locks: Stripes<RwLock<()>>,
    secret_locks: Stripes<Mutex<()>>,
}

fn hmac_hex(key: &[u8], value: &[u8]) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(value);
    hex::encode(mac.finalize().into_bytes())
}

impl Store {
    pub fn new(view: View) -> Self {
        Self {
            view,
            salt: OnceCell::new(),
            role_locks: Stripes::new(),
            secret_locks: Stripes::new(),
        }
    }

    /// The lock for changes to a role (and for reading it consistently
    /// while issuing secret-ids against it).
    pub fn role_lock(&self, name: &str) -> &RwLock<()> {
        self.role_locks.get(&name.to_lowercase())
    }

    /// The lock for read-modify-write of one secret-id.
    pub fn secret_lock(&self, secret_hmac: &str) -> &Mutex<()> {
        self.secret_locks.get(secret_hmac)
    }

    async fn salt(&self) -> Result<&SecretBytes> {
        self.salt
            .get_or_try_init(|| async {
                if let Some(s) = self.view.get(SALT_PATH).await? {
                    return Ok(SecretBytes::new(s));
                }
                let s = crate::barrier::keyring::random_key();
                self.view.put(SALT_PATH, s.expose()).await?;
                Ok::<_, Error>(s)
            })
            .await
    }

    async fn role_id_key(&self, role_id: &str) -> Result<String> {
        let salt = self.salt().await?;
        let mut v = b"role_id:".to_vec();
        v.extend_from_slice(role_id.as_bytes());
        Ok(format!("{ROLE_ID_PREFIX}{}", hmac_hex(salt.expose(), &v)))
    }

    async fn accessor_key(&self, accessor: &str) -> Result<String> {
        let salt = self.salt().await?;
        let mut v = b"accessor:".to_vec();
        v.extend_from_slice(accessor.as_bytes());
        Ok(format!("{ACCESSOR_PREFIX}{}", hmac_hex(salt.expose(), &v)))
    }

    /// The folder of a role's secret-ids.
    pub fn role_hmac(role: &RoleEntry) -> String {
        hmac_hex(role.hmac_key.as_bytes(), role.name.as_bytes())
    }

    pub fn secret_hmac(role: &RoleEntry, secret_id: &str) -> Result<String> {
        if secret_id.len() > MAX_HMAC_INPUT {
            return Err(Error::InvalidRequestWrapped(format!(
                "failed to create HMAC of secret_id: value is longer than maximum of {MAX_HMAC_INPUT} bytes"
            )));
        }
        Ok(hmac_hex(role.hmac_key.as_bytes(), secret_id.as_bytes()))
    }

    fn secret_key(role_hmac: &str, secret_hmac: &str) -> String {
        format!("{SECRET_ID_PREFIX}{role_hmac}/{secret_hmac}")
    }

    pub async fn role(&self, name: &str) -> Result<Option<RoleEntry>> {
        let key = format!("{ROLE_PREFIX}{}", name.to_lowercase());
        Ok(self.view.get_json::<RoleEntry>(&key).await?)
    }

    pub async fn role_names(&self) -> Result<Vec<String>> {
        Ok(self.view.list(ROLE_PREFIX).await?)
    }

    /// The role a role-id belongs to.
    pub async fn role_by_id(&self, role_id: &str) -> Result<Option<RoleEntry>> {
        let key = self.role_id_key(role_id).await?;
        let Some(index) = self.view.get_json::<RoleIdEntry>(&key).await? else {
            return Ok(None);
        };
        let role = self.role(&index.name).await?;
        // An index left pointing at a role whose id changed is no match.
        Ok(role.filter(|r| ct_eq(r.role_id.as_bytes(), role_id.as_bytes())))
    }

    /// Stores a role and its role-id index in one batch. `previous` is the
    /// role-id the stored role had, if any (its index is dropped when the
    /// id changes). The caller holds the role's write lock.
    pub async fn save_role(&self, role: &RoleEntry, previous: Option<&str>) -> Result<()> {
        if !role.bind_secret_id
            && role.secret_id_bound_cidrs.is_empty()
            && role.token.bound_cidrs.is_empty()
        {
            return Err(Error::InvalidRequestWrapped(
                "at least one constraint should be enabled on the role".into(),
            ));
        }
        let index_key = self.role_id_key(&role.role_id).await?;
        if let Some(other) = self.view.get_json::<RoleIdEntry>(&index_key).await? {
            if other.name != role.name {
                return Err(Error::InvalidRequestWrapped(
                    "role_id already in use".into(),
                ));
            }
        }
        let mut ops = vec![Op::Put(
            format!("{ROLE_PREFIX}{}", role.name),
            to_json(role),
        )];
        if let Some(old) = previous.filter(|old| *old != role.role_id) {
            ops.push(Op::Delete(self.role_id_key(old).await?));
        }
        ops.push(Op::Put(
            index_key,
            to_json(&RoleIdEntry {
                name: role.name.clone(),
            }),
        ));
        Ok(self.view.write(ops).await?)
    }

    /// Drops a role with all its secret-ids. The caller holds the role's
    /// write lock, so no secret-id is issued against it meanwhile.
    pub async fn delete_role(&self, role: &RoleEntry) -> Result<()> {
        let role_hmac = Self::role_hmac(role);
        for secret_hmac in self.secret_hmacs(&role_hmac).await? {
            let _guard = self.secret_lock(&secret_hmac).lock().await;
            if let Some(entry) = self.secret(&role_hmac, &secret_hmac).await? {
                self.delete_secret(&role_hmac, &entry).await?;
            }
        }
        let ops = vec![
            Op::Delete(self.role_id_key(&role.role_id).await?),
            Op::Delete(format!("{ROLE_PREFIX}{}", role.name)),
        ];
        Ok(self.view.write(ops).await?)
    }

    /// The role folders that hold secret-ids.
    pub async fn role_hmacs(&self) -> Result<Vec<String>> {
        let folders = self.view.list(SECRET_ID_PREFIX).await?;
        Ok(folders
            .into_iter()
            .filter_map(|f| f.strip_suffix('/').map(str::to_owned))
            .collect())
    }

    /// The HMACs of the secret-ids in a role's folder.
    pub async fn secret_hmacs(&self, role_hmac: &str) -> Result<Vec<String>> {
        let names = self
            .view
            .list(&format!("{SECRET_ID_PREFIX}{role_hmac}/"))
            .await?;
        Ok(names.into_iter().filter(|n| !n.ends_with('/')).collect())
    }

    /// A secret-id entry, expired or not (callers decide).
    pub async fn secret(
        &self,
        role_hmac: &str,
        secret_hmac: &str,
    ) -> Result<Option<SecretIdEntry>> {
        let entry = self
            .view
            .get_json::<SecretIdEntry>(&Self::secret_key(role_hmac, secret_hmac))
            .await?;
        Ok(entry.filter(|e| ct_eq(e.secret_id_hmac.as_bytes(), secret_hmac.as_bytes())))
    }

    /// Stores a new secret-id and its accessor in one batch, unless the
    /// secret-id exists. The caller holds its lock.
    pub async fn create_secret(&self, role_hmac: &str, entry: &SecretIdEntry) -> Result<()> {
        if self
            .secret(role_hmac, &entry.secret_id_hmac)
            .await?
            .is_some()
        {
            return Err(Error::InvalidRequestWrapped(
                "failed to store secret_id: SecretID is already registered".into(),
            ));
        }
        let accessor = AccessorEntry {
            secret_id_hmac: entry.secret_id_hmac.clone(),
            role_hmac: role_hmac.to_owned(),
        };
        let ops = vec![
            Op::Put(
                self.accessor_key(&entry.secret_id_accessor).await?,
                to_json(&accessor),
            ),
            Op::Put(
                Self::secret_key(role_hmac, &entry.secret_id_hmac),
                to_json(entry),
            ),
        ];
        Ok(self.view.write(ops).await?)
    }

    /// Rewrites an existing secret-id (a use counted). The caller holds its
    /// lock.
    pub async fn update_secret(&self, role_hmac: &str, entry: &SecretIdEntry) -> Result<()> {
        Ok(self
            .view
            .put_json(&Self::secret_key(role_hmac, &entry.secret_id_hmac), entry)
            .await?)
    }

    /// Drops a secret-id and its accessor in one batch. The caller holds
    /// its lock.
    pub async fn delete_secret(&self, role_hmac: &str, entry: &SecretIdEntry) -> Result<()> {
        let ops = vec![
            Op::Delete(self.accessor_key(&entry.secret_id_accessor).await?),
            Op::Delete(Self::secret_key(role_hmac, &entry.secret_id_hmac)),
        ];
        Ok(self.view.write(ops).await?)
    }

    pub async fn accessor(&self, accessor: &str) -> Result<Option<AccessorEntry>> {
        let key = self.accessor_key(accessor).await?;
        Ok(self.view.get_json::<AccessorEntry>(&key).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_are_stable_and_in_range() {
        let s: Stripes<std::sync::Mutex<()>> = Stripes::new();
        let a = s.get("abc") as *const _;
        assert_eq!(a, s.get("abc") as *const _);
        for k in ["", "x", "0123456789abcdef", "role/web"] {
            let _ = s.get(k);
        }
    }

    #[test]
    fn hmacs_depend_on_key_and_value() {
        let a = hmac_hex(b"k1", b"v");
        assert_eq!(a.len(), 64);
        assert_ne!(a, hmac_hex(b"k2", b"v"));
        assert_ne!(a, hmac_hex(b"k1", b"w"));
        assert_eq!(a, hmac_hex(b"k1", b"v"));
    }

    #[test]
    fn expiry_is_strictly_after_the_deadline() {
        let e = SecretIdEntry {
            secret_id_hmac: String::new(),
            secret_id_accessor: String::new(),
            secret_id_num_uses: 0,
            secret_id_ttl: 0,
            creation_time: 0,
            expiration_time: 100,
            last_updated_time: 0,
            metadata: BTreeMap::new(),
            cidr_list: vec![],
            token_bound_cidrs: vec![],
        };
        assert!(!e.expired(100));
        assert!(e.expired(101));
        let never = SecretIdEntry {
            expiration_time: 0,
            ..e
        };
        assert!(!never.expired(i64::MAX));
    }
}
