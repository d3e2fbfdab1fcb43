//! `tls.mode: Generated`: the operator's CA (kept in `<cluster>-ca`, which
//! no pod mounts) and the servers' certificate for the Services' names (in
//! `<cluster>-tls`: `tls.crt`, `tls.key`, `ca.crt`). The certificate is
//! issued again from the same CA at two thirds of its life, or when the
//! names it must carry change.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

pub const CA_LIFETIME: Duration = Duration::days(3650);
pub const LEAF_LIFETIME: Duration = Duration::days(365);
/// Annotations on the serving Secret: when the certificate expires
/// (unix seconds), when it was issued, and the names it carries.
pub const NOT_AFTER: &str = "arca.dev/not-after";
pub const NOT_BEFORE: &str = "arca.dev/not-before";
pub const NAMES: &str = "arca.dev/names";

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A CA: certificate and key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Ca {
    pub cert: String,
    pub key: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ca { key: <redacted> }")
    }
}

/// A serving certificate and its key, PEM, with its validity.
#[derive(Clone, PartialEq, Eq)]
pub struct Leaf {
    pub cert: String,
    pub key: String,
    pub not_before: i64,
    pub not_after: i64,
}

impl std::fmt::Debug for Leaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leaf")
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

pub fn new_ca(cluster: &str) -> Result<Ca, String> {
    let key = KeyPair::generate().map_err(err)?;
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    p.distinguished_name.push(
        DnType::CommonName,
        format!("arca-operator CA for {cluster}"),
    );
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let start = OffsetDateTime::now_utc() - Duration::minutes(5);
    p.not_before = start;
    p.not_after = start + CA_LIFETIME;
    let cert = p.self_signed(&key).map_err(err)?;
    Ok(Ca {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A serving certificate for `names` (DNS names, and IP addresses as
/// text), signed by `ca`.
pub fn new_leaf(ca: &Ca, names: &[String]) -> Result<Leaf, String> {
    let ca_key = KeyPair::from_pem(&ca.key).map_err(err)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key).map_err(err)?;
    let key = KeyPair::generate().map_err(err)?;
    let mut p = CertificateParams::new(names.to_vec()).map_err(err)?;
    p.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let start = OffsetDateTime::now_utc() - Duration::minutes(1);
    p.not_before = start;
    p.not_after = start + LEAF_LIFETIME;
    let cert = p.signed_by(&key, &issuer).map_err(err)?;
    Ok(Leaf {
        cert: cert.pem(),
        key: key.serialize_pem(),
        not_before: start.unix_timestamp(),
        not_after: p.not_after.unix_timestamp(),
    })
}

/// The names as the Secret's annotation records them.
pub fn names_annotation(names: &[String]) -> String {
    names.join(",")
}

/// Whether the serving Secret must be issued again at `now`: missing
/// parts, other names, or two thirds of its life gone.
pub fn due(secret: Option<&Secret>, names: &[String], now: i64) -> bool {
    let Some(s) = secret else { return true };
    let data = s.data.clone().unwrap_or_default();
    if !["tls.crt", "tls.key", "ca.crt"]
        .iter()
        .all(|k| data.get(*k).is_some_and(|v| !v.0.is_empty()))
    {
        return true;
    }
    let ann = s.metadata.annotations.clone().unwrap_or_default();
    let num = |k: &str| ann.get(k).and_then(|v| v.parse::<i64>().ok());
    let (Some(nb), Some(na)) = (num(NOT_BEFORE), num(NOT_AFTER)) else {
        return true;
    };
    if ann.get(NAMES).map(String::as_str) != Some(names_annotation(names).as_str()) {
        return true;
    }
    now >= nb + (na - nb) * 2 / 3
}

pub fn ca_from_secret(s: &Secret) -> Option<Ca> {
    let data = s.data.as_ref()?;
    let text = |k: &str| {
        data.get(k)
            .and_then(|v| String::from_utf8(v.0.clone()).ok())
    };
    Some(Ca {
        cert: text("ca.crt")?,
        key: text("ca.key")?,
    })
}

pub fn ca_data(ca: &Ca) -> BTreeMap<String, ByteString> {
    BTreeMap::from([
        (
            "ca.crt".to_owned(),
            ByteString(ca.cert.clone().into_bytes()),
        ),
        ("ca.key".to_owned(), ByteString(ca.key.clone().into_bytes())),
    ])
}

pub fn serving_data(ca: &Ca, leaf: &Leaf) -> BTreeMap<String, ByteString> {
    BTreeMap::from([
        (
            "tls.crt".to_owned(),
            ByteString(leaf.cert.clone().into_bytes()),
        ),
        (
            "tls.key".to_owned(),
            ByteString(leaf.key.clone().into_bytes()),
        ),
        (
            "ca.crt".to_owned(),
            ByteString(ca.cert.clone().into_bytes()),
        ),
    ])
}

pub fn serving_annotations(leaf: &Leaf, names: &[String]) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NOT_BEFORE.to_owned(), leaf.not_before.to_string()),
        (NOT_AFTER.to_owned(), leaf.not_after.to_string()),
        (NAMES.to_owned(), names_annotation(names)),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use rustls::client::danger::ServerCertVerifier;

    #[test]
    fn a_leaf_for_the_names_signed_by_the_ca_and_renewal() {
        let ca = new_ca("vault").unwrap();
        let names = vec![
            "vault.ns.svc".to_owned(),
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ];
        let leaf = new_leaf(&ca, &names).unwrap();
        // rustls verifies it for a name it carries, through the CA.
        let roots = {
            let mut r = rustls::RootCertStore::empty();
            for c in rustls_pemfile::certs(&mut ca.cert.as_bytes()) {
                r.add(c.unwrap()).unwrap();
            }
            std::sync::Arc::new(r)
        };
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots,
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let end = rustls_pemfile::certs(&mut leaf.cert.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        let now = rustls::pki_types::UnixTime::now();
        for name in ["vault.ns.svc", "localhost", "127.0.0.1"] {
            let sn = rustls::pki_types::ServerName::try_from(name).unwrap();
            verifier
                .verify_server_cert(&end, &[], &sn, &[], now)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let other = rustls::pki_types::ServerName::try_from("evil.example").unwrap();
        assert!(
            verifier
                .verify_server_cert(&end, &[], &other, &[], now)
                .is_err()
        );
        assert!(
            !format!("{ca:?}{leaf:?}").contains("PRIVATE"),
            "keys never in Debug"
        );

        let secret = Secret {
            metadata: ObjectMeta {
                annotations: Some(serving_annotations(&leaf, &names)),
                ..Default::default()
            },
            data: Some(serving_data(&ca, &leaf)),
            ..Default::default()
        };
        let third = (leaf.not_after - leaf.not_before) / 3;
        assert!(!due(Some(&secret), &names, leaf.not_before + third));
        assert!(
            due(Some(&secret), &names, leaf.not_before + 2 * third + 1),
            "at two thirds"
        );
        assert!(
            due(Some(&secret), &names[..2], leaf.not_before),
            "other names"
        );
        assert!(due(None, &names, 0));
        let ca_secret = Secret {
            data: Some(ca_data(&ca)),
            ..Default::default()
        };
        assert_eq!(ca_from_secret(&ca_secret), Some(ca));
    }
}
