//! The webhook's serving certificate, from PEM files (cert-manager's
//! Secret mounted as files), read again when they change: a renewed
//! certificate is served from the next handshake on, with no restart.
//! A half-written pair (cert and key that do not match) is not taken; the
//! old one stays until the new pair is whole.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// How often the files are checked for a change.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Reloading {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|e| e.into_inner()),
        ))
    }
}

/// A certificate and key, from PEM bytes, checked to belong together.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, String> {
    let certs = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in the PEM".into());
    }
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| format!("private key: {e}"))?
        .ok_or("no private key in the PEM")?;
    let provider = rustls::crypto::ring::default_provider();
    let ck = CertifiedKey::from_der(certs, key, &provider)
        .map_err(|e| format!("certificate and key: {e}"))?;
    Ok(ck)
}

fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()));
    certified_key(&read(cert)?, &read(key)?)
}

fn mtimes(cert: &Path, key: &Path) -> Option<(SystemTime, SystemTime)> {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((m(cert)?, m(key)?))
}

impl Reloading {
    /// Serves `key` until `replace` gives another.
    pub fn new(key: CertifiedKey) -> Arc<Self> {
        Arc::new(Self {
            current: RwLock::new(Arc::new(key)),
        })
    }

    pub fn replace(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
    }

    /// Reads the files now (an error if they cannot be used) and keeps
    /// watching them.
    pub fn from_files(cert: PathBuf, key: PathBuf) -> Result<Arc<Self>, String> {
        let me = Self::new(load(&cert, &key)?);
        let watcher = Arc::clone(&me);
        tokio::spawn(async move {
            let mut seen = mtimes(&cert, &key);
            loop {
                tokio::time::sleep(RELOAD_EVERY).await;
                let now = mtimes(&cert, &key);
                if now == seen {
                    continue;
                }
                match load(&cert, &key) {
                    Ok(k) => {
                        watcher.replace(k);
                        seen = now;
                        tracing::info!("serving the renewed certificate {}", cert.display());
                    }
                    // Mid-rotation: try again at the next tick.
                    Err(e) => tracing::warn!("the changed certificate is not usable yet: {e}"),
                }
            }
        });
        Ok(me)
    }

    pub fn server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        init();
        let mut c = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(c)
    }
}

/// ring as the process's TLS provider (once; later calls do nothing).
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
