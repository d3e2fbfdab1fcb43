//! A listener's TLS: its certificate and key, the protocol versions
//! (`tls_min_version`, `tls_max_version`), the TLS 1.2 cipher suites
//! (`tls_cipher_suites`) and, with `tls_require_and_verify_client_cert`,
//! client certificates checked against `tls_client_ca_file`. Options Arca
//! cannot honour are refused when the config is read (config.rs), never
//! ignored.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, SupportedCipherSuite};

use crate::config::{Listener, ListenerTls, TlsVersion};

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let data = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut data.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("parsing {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate found in {}", path.display()));
    }
    Ok(certs)
}

/// The IANA name of a suite, as Vault's `tls_cipher_suites` spells them.
fn suite_name(s: &SupportedCipherSuite) -> String {
    format!("{:?}", s.suite())
}

/// Whether `wanted` (a Go/IANA suite name) names `suite`. Go also knows
/// the ChaCha20 suites without their `_SHA256` ending.
fn names(wanted: &str, suite: &str) -> bool {
    wanted == suite || suite.strip_suffix("_SHA256").is_some_and(|s| s == wanted)
}

/// The ring provider with only the TLS 1.2 suites `tls` allows (every TLS
/// 1.3 suite stays: they are not configurable, as in Go).
fn provider(tls: &ListenerTls) -> Result<CryptoProvider, String> {
    let mut p = rustls::crypto::ring::default_provider();
    if tls.cipher_suites.is_empty() {
        return Ok(p);
    }
    let offered: Vec<String> = p
        .cipher_suites
        .iter()
        .filter(|s| s.tls13().is_none())
        .map(suite_name)
        .collect();
    if let Some(unknown) = tls
        .cipher_suites
        .iter()
        .find(|w| !offered.iter().any(|o| names(w, o)))
    {
        return Err(format!(
            "tls_cipher_suites: {unknown:?} is not a suite Arca offers (TLS 1.2: {})",
            offered.join(", ")
        ));
    }
    p.cipher_suites.retain(|s| {
        s.tls13().is_some() || tls.cipher_suites.iter().any(|w| names(w, &suite_name(s)))
    });
    Ok(p)
}

/// The TLS acceptor of a listener (None with `tls_disable`).
pub fn acceptor(l: &Listener) -> Result<Option<tokio_rustls::TlsAcceptor>, String> {
    if l.tls_disable {
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (&l.tls_cert_file, &l.tls_key_file) else {
        return Err("tls_cert_file and tls_key_file are required".into());
    };
    let chain = certs(cert)?;
    let key = {
        let data = std::fs::read(key).map_err(|e| format!("reading {}: {e}", key.display()))?;
        rustls_pemfile::private_key(&mut data.as_slice())
            .map_err(|e| format!("parsing {}: {e}", key.display()))?
            .ok_or_else(|| format!("no private key found in {}", key.display()))?
    };
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (l.tls.min_version..=l.tls.max_version).contains(v))
    .map(|(_, p)| p)
    .collect();
    let provider = Arc::new(provider(&l.tls)?);
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS configuration: {e}"))?;
    let builder = match (&l.tls.client_ca_file, l.tls.require_client_cert) {
        (Some(ca), true) => {
            let mut roots = RootCertStore::empty();
            for c in certs(ca)? {
                roots
                    .add(c)
                    .map_err(|e| format!("tls_client_ca_file {}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("tls_client_ca_file {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("TLS configuration: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(cfg))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_suites_by_their_go_names() {
        let tls = |suites: &[&str]| ListenerTls {
            cipher_suites: suites.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let p = provider(&tls(&[
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        ]))
        .unwrap();
        let mut kept: Vec<String> = p
            .cipher_suites
            .iter()
            .filter(|s| s.tls13().is_none())
            .map(suite_name)
            .collect();
        kept.sort();
        assert_eq!(
            kept,
            [
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            ]
        );
        assert!(p.cipher_suites.iter().any(|s| s.tls13().is_some()));
        let e = provider(&tls(&["TLS_RSA_WITH_AES_128_CBC_SHA"])).unwrap_err();
        assert!(e.contains("TLS_RSA_WITH_AES_128_CBC_SHA"), "{e}");
    }
}
