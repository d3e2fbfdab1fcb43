//! Self-managed webhook TLS (`-tls-auto=<MutatingWebhookConfiguration>`),
//! so that a plain install needs no cert-manager: a CA and a serving
//! certificate for `-tls-auto-hosts`, kept in a Secret (`-tls-auto-secret`)
//! so that every replica serves the same one and a restart keeps it; the
//! CA written into the `caBundle` of every webhook of the configuration;
//! the serving certificate issued again by the same CA once two thirds of
//! its life (`-tls-auto-cert-lifetime`) are gone, so the API server's
//! trust never lapses. Replicas race safely: the Secret is created or
//! replaced with its resourceVersion, and the loser of a conflict takes
//! the winner's certificate. The configuration's `caBundle` is put back if
//! someone changes it.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::tls::{Reloading, certified_key};

/// Where the CA and the serving certificate's expiry are noted.
const NOT_AFTER: &str = "arca.dev/not-after";
const CA_NOT_AFTER: &str = "arca.dev/ca-not-after";
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct AutoTls {
    pub webhook: String,
    pub hosts: Vec<String>,
    pub secret: String,
    pub namespace: String,
    pub lifetime: Duration,
}

/// The PEM material and when the serving certificate ends (unix seconds).
#[derive(Debug, Clone, PartialEq)]
struct Material {
    ca_cert: String,
    ca_key: String,
    cert: String,
    key: String,
    not_after: i64,
    ca_not_after: i64,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn new_ca() -> Result<(String, String, i64), String> {
    let key = KeyPair::generate().map_err(err)?;
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    p.distinguished_name
        .push(DnType::CommonName, "arca-injector CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let start = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    p.not_before = start;
    p.not_after = start + CA_LIFETIME;
    let cert = p.self_signed(&key).map_err(err)?;
    Ok((
        cert.pem(),
        key.serialize_pem(),
        p.not_after.unix_timestamp(),
    ))
}

fn new_leaf(
    ca_cert: &str,
    ca_key: &str,
    hosts: &[String],
    lifetime: Duration,
) -> Result<(String, String, i64), String> {
    let ca_key = KeyPair::from_pem(ca_key).map_err(err)?;
    let issuer = Issuer::from_ca_cert_pem(ca_cert, ca_key).map_err(err)?;
    let key = KeyPair::generate().map_err(err)?;
    let mut p = CertificateParams::new(hosts.to_vec()).map_err(err)?;
    p.distinguished_name.push(
        DnType::CommonName,
        hosts.first().cloned().unwrap_or_default(),
    );
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let start = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    p.not_before = start;
    p.not_after =
        start + time::Duration::try_from(lifetime).map_err(err)? + time::Duration::minutes(1);
    let cert = p.signed_by(&key, &issuer).map_err(err)?;
    Ok((
        cert.pem(),
        key.serialize_pem(),
        p.not_after.unix_timestamp(),
    ))
}

impl Material {
    fn from_secret(s: &Secret) -> Option<Self> {
        let data = s.data.as_ref()?;
        let text = |k: &str| String::from_utf8(data.get(k)?.0.clone()).ok();
        let ann = s.metadata.annotations.as_ref()?;
        Some(Self {
            ca_cert: text("ca.crt")?,
            ca_key: text("ca.key")?,
            cert: text("tls.crt")?,
            key: text("tls.key")?,
            not_after: ann.get(NOT_AFTER)?.parse().ok()?,
            ca_not_after: ann.get(CA_NOT_AFTER)?.parse().ok()?,
        })
    }

    fn into_secret(self, name: &str, namespace: &str, resource_version: Option<String>) -> Secret {
        let b = |s: String| ByteString(s.into_bytes());
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                resource_version,
                annotations: Some(
                    [
                        (NOT_AFTER.to_owned(), self.not_after.to_string()),
                        (CA_NOT_AFTER.to_owned(), self.ca_not_after.to_string()),
                    ]
                    .into(),
                ),
                labels: Some(
                    [(
                        "app.kubernetes.io/managed-by".to_owned(),
                        "arca-injector".to_owned(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(
                [
                    ("ca.crt".to_owned(), b(self.ca_cert)),
                    ("ca.key".to_owned(), b(self.ca_key)),
                    ("tls.crt".to_owned(), b(self.cert)),
                    ("tls.key".to_owned(), b(self.key)),
                ]
                .into(),
            ),
            ..Default::default()
        }
    }
}

impl AutoTls {
    /// Whether the serving certificate is past two thirds of its life.
    fn due(&self, m: &Material) -> bool {
        let left = m.not_after - now();
        let third = i64::try_from(self.lifetime.as_secs() / 3).unwrap_or(i64::MAX);
        left <= third
    }

    /// The current material: the Secret's when it is good, else issued
    /// (and stored) now.
    async fn ensure(&self, secrets: &Api<Secret>) -> Result<Material, String> {
        for _ in 0..5 {
            let existing = secrets.get_opt(&self.secret).await.map_err(err)?;
            let current = existing.as_ref().and_then(Material::from_secret);
            if let Some(m) = current.as_ref().filter(|m| !self.due(m)) {
                return Ok(m.clone());
            }
            // Issue: the same CA while it outlives the new certificate.
            let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
            let (ca_cert, ca_key, ca_not_after) = match &current {
                Some(m) if m.ca_not_after - now() > 2 * lifetime => {
                    (m.ca_cert.clone(), m.ca_key.clone(), m.ca_not_after)
                }
                _ => new_ca()?,
            };
            let (cert, key, not_after) = new_leaf(&ca_cert, &ca_key, &self.hosts, self.lifetime)?;
            let m = Material {
                ca_cert,
                ca_key,
                cert,
                key,
                not_after,
                ca_not_after,
            };
            let rv = existing.and_then(|s| s.metadata.resource_version);
            let secret = m
                .clone()
                .into_secret(&self.secret, &self.namespace, rv.clone());
            let written = match rv {
                Some(_) => {
                    secrets
                        .replace(&self.secret, &PostParams::default(), &secret)
                        .await
                }
                None => secrets.create(&PostParams::default(), &secret).await,
            };
            match written {
                Ok(_) => {
                    tracing::info!(
                        "issued the webhook's serving certificate for {} (until {})",
                        self.hosts.join(", "),
                        m.not_after
                    );
                    return Ok(m);
                }
                // Another replica wrote first: take theirs.
                Err(kube::Error::Api(e)) if e.code == 409 => continue,
                Err(e) => {
                    return Err(format!(
                        "writing Secret {}/{}: {e}",
                        self.namespace, self.secret
                    ));
                }
            }
        }
        Err(format!(
            "Secret {}/{} keeps changing under the injector",
            self.namespace, self.secret
        ))
    }

    /// Every webhook of the configuration trusts `ca`.
    async fn patch_ca_bundle(
        &self,
        hooks: &Api<MutatingWebhookConfiguration>,
        ca: &str,
    ) -> Result<(), String> {
        for _ in 0..5 {
            let mut cfg = hooks.get(&self.webhook).await.map_err(|e| {
                format!("reading MutatingWebhookConfiguration {}: {e}", self.webhook)
            })?;
            let mut changed = false;
            for w in cfg.webhooks.iter_mut().flatten() {
                let want = Some(ByteString(ca.as_bytes().to_vec()));
                if w.client_config.ca_bundle != want {
                    w.client_config.ca_bundle = want;
                    changed = true;
                }
            }
            if !changed {
                return Ok(());
            }
            match hooks
                .replace(&self.webhook, &PostParams::default(), &cfg)
                .await
            {
                Ok(_) => {
                    tracing::info!("caBundle of {} set to the injector's CA", self.webhook);
                    return Ok(());
                }
                Err(kube::Error::Api(e)) if e.code == 409 => continue,
                Err(e) => {
                    return Err(format!(
                        "writing MutatingWebhookConfiguration {}: {e}",
                        self.webhook
                    ));
                }
            }
        }
        Err(format!(
            "MutatingWebhookConfiguration {} keeps changing",
            self.webhook
        ))
    }

    /// Issues or loads the certificate, publishes the CA, and keeps both
    /// current in the background.
    pub async fn start(self) -> Result<Arc<Reloading>, String> {
        let client = kube::Client::try_default()
            .await
            .map_err(|e| format!("-tls-auto needs the Kubernetes API: {e}"))?;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &self.namespace);
        let hooks: Api<MutatingWebhookConfiguration> = Api::all(client);
        let m = self.ensure(&secrets).await?;
        self.patch_ca_bundle(&hooks, &m.ca_cert).await?;
        let reloading = Reloading::new(certified_key(m.cert.as_bytes(), m.key.as_bytes())?);
        let serving = Arc::clone(&reloading);
        let every = (self.lifetime / 10).clamp(Duration::from_secs(1), Duration::from_secs(600));
        tokio::spawn(async move {
            let mut current = m;
            loop {
                tokio::time::sleep(every).await;
                let next = match self.ensure(&secrets).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!("renewing the webhook certificate: {e}");
                        continue;
                    }
                };
                if let Err(e) = self.patch_ca_bundle(&hooks, &next.ca_cert).await {
                    tracing::warn!("{e}");
                }
                if next != current {
                    match certified_key(next.cert.as_bytes(), next.key.as_bytes()) {
                        Ok(k) => serving.replace(k),
                        Err(e) => tracing::warn!("the renewed certificate is unusable: {e}"),
                    }
                    current = next;
                }
            }
        });
        Ok(reloading)
    }
}

/// Go-style durations for the flags: `8760h`, `30m`, `45s`, `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration (like 8760h, 30m, 45s)");
    let mut total = 0u64;
    let mut num = String::new();
    let mut any = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        total = total
            .checked_add(n.checked_mul(unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        any = true;
    }
    if !num.is_empty() || !any || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leaf_signed_by_the_ca_that_rustls_serves() {
        crate::tls::init();
        let (ca, ca_key, ca_until) = new_ca().unwrap();
        assert!(ca_until - now() > 9 * 365 * 24 * 3600);
        let hosts = vec![
            "arca-injector.arca-system.svc".to_owned(),
            "127.0.0.1".to_owned(),
        ];
        let (cert, key, until) = new_leaf(&ca, &ca_key, &hosts, Duration::from_secs(3600)).unwrap();
        assert!((until - now() - 3600).abs() < 120, "{}", until - now());
        assert!(certified_key(cert.as_bytes(), key.as_bytes()).is_ok());
        // A verifier that trusts the CA accepts the leaf for both names.
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut ca.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let leaf = rustls_pemfile::certs(&mut cert.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        use rustls::client::danger::ServerCertVerifier;
        for host in ["arca-injector.arca-system.svc", "127.0.0.1"] {
            let name = rustls::pki_types::ServerName::try_from(host).unwrap();
            verifier
                .verify_server_cert(&leaf, &[], &name, &[], rustls::pki_types::UnixTime::now())
                .unwrap_or_else(|e| panic!("{host}: {e}"));
        }
        let other = rustls::pki_types::ServerName::try_from("evil.example").unwrap();
        assert!(
            verifier
                .verify_server_cert(&leaf, &[], &other, &[], rustls::pki_types::UnixTime::now())
                .is_err()
        );
    }

    #[test]
    fn renewal_is_due_at_two_thirds() {
        let t = AutoTls {
            webhook: String::new(),
            hosts: vec![],
            secret: String::new(),
            namespace: String::new(),
            lifetime: Duration::from_secs(300),
        };
        let m = |left: i64| Material {
            ca_cert: String::new(),
            ca_key: String::new(),
            cert: String::new(),
            key: String::new(),
            not_after: now() + left,
            ca_not_after: now() + 1_000_000,
        };
        assert!(!t.due(&m(250)));
        assert!(!t.due(&m(101)));
        assert!(t.due(&m(100)));
        assert!(t.due(&m(-5)));
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("8760h").unwrap(),
            Duration::from_secs(8760 * 3600)
        );
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("45s").unwrap(), Duration::from_secs(45));
        for bad in ["", "10", "h", "5x", "0s", "-1h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
