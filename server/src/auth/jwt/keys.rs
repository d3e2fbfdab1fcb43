//! Verification keys: the signing algorithms Arca accepts, public keys
//! parsed from PEM (`jwt_validation_pubkeys`) or from a JWKS entry, and
//! the one place a signature is checked.
//!
//! Only asymmetric algorithms exist here. `none` and the HMAC family are
//! not representable as an [`Alg`], and a JWKS `oct` (symmetric) key is
//! never loaded, so a token cannot be verified with a public key used as
//! an HMAC secret (algorithm confusion). A key is tried only with the
//! algorithms of its own type and curve.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

/// The JWS algorithms a token may be signed with. ES512 is missing: the
/// signature library has no P-521 support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 9] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::ES256,
        Alg::ES384,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::EdDSA,
    ];

    pub fn parse(s: &str) -> Option<Alg> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    fn library(self) -> Algorithm {
        match self {
            Alg::RS256 => Algorithm::RS256,
            Alg::RS384 => Algorithm::RS384,
            Alg::RS512 => Algorithm::RS512,
            Alg::PS256 => Algorithm::PS256,
            Alg::PS384 => Algorithm::PS384,
            Alg::PS512 => Algorithm::PS512,
            Alg::ES256 => Algorithm::ES256,
            Alg::ES384 => Algorithm::ES384,
            Alg::EdDSA => Algorithm::EdDSA,
        }
    }

    /// The key type this algorithm signs with.
    fn kind(self) -> KeyKind {
        match self {
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                KeyKind::Rsa
            }
            Alg::ES256 => KeyKind::P256,
            Alg::ES384 => KeyKind::P384,
            Alg::EdDSA => KeyKind::Ed25519,
        }
    }
}

/// `["RS256" "RS384" ...]`, the way Go prints the list in its errors.
pub fn alg_list() -> String {
    let names: Vec<String> = Alg::ALL
        .iter()
        .map(|a| format!("{:?}", a.as_str()))
        .collect();
    format!("[{}]", names.join(" "))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

/// One public key able to check signatures of its own kind.
#[derive(Clone)]
pub struct PublicKey {
    /// The JWKS `kid`, for picking the key a token names.
    pub kid: Option<String>,
    /// The JWKS `alg`, when the set pins the key to one algorithm.
    alg: Option<String>,
    kind: KeyKind,
    key: DecodingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .finish()
    }
}

impl PublicKey {
    /// Does `signature` (base64url) sign `message` under `alg` with this key?
    pub fn verifies(&self, alg: Alg, message: &[u8], signature: &str) -> bool {
        if alg.kind() != self.kind {
            return false;
        }
        if self.alg.as_deref().is_some_and(|a| a != alg.as_str()) {
            return false;
        }
        // The kind check above keeps RSA-component keys away from the
        // non-RSA code paths of the library, which assume DER bytes.
        jsonwebtoken::crypto::verify(signature, message, &self.key, alg.library()).unwrap_or(false)
    }
}

/// The smallest RSA modulus the verifier accepts (ring's lower bound).
const MIN_RSA_BITS: usize = 2048;

/// Parses one PEM public key: `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY`
/// (PKCS#1) or a `CERTIFICATE` whose key is used. Errors are Vault's
/// "error parsing public key: ..." detail.
pub fn parse_pem(pem: &str) -> Result<PublicKey, String> {
    let Some((label, der)) = first_pem_block(pem) else {
        return Err("data does not contain any valid public keys".into());
    };
    let malformed = || "malformed public key".to_owned();
    match label.as_str() {
        "PUBLIC KEY" => {
            let spki = der_sequence(&der).ok_or_else(malformed)?;
            spki_key(spki)
        }
        "RSA PUBLIC KEY" => rsa_key(&der),
        "CERTIFICATE" => {
            let spki = certificate_spki(&der).ok_or_else(|| "malformed certificate".to_owned())?;
            spki_key(spki)
        }
        _ => Err("data does not contain any valid public keys".into()),
    }
}

/// The label and DER bytes of the first PEM block in `text`.
fn first_pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let mut lines = text.lines().map(str::trim);
    let label = lines.find_map(|l| {
        l.strip_prefix("-----BEGIN ")
            .and_then(|r| r.strip_suffix("-----"))
    })?;
    let end = format!("-----END {label}-----");
    let mut b64 = String::new();
    for line in lines {
        if line == end {
            return STANDARD
                .decode(b64.as_bytes())
                .ok()
                .map(|der| (label.to_owned(), der));
        }
        // Skip RFC 1421 headers (`Proc-Type: ...`); base64 has no ':'.
        if !line.contains(':') {
            b64.push_str(line);
        }
    }
    None
}

/// A minimal DER reader: enough for SubjectPublicKeyInfo, PKCS#1 RSA
/// public keys and the path to the key inside an X.509 certificate.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The next element's tag and content.
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        let (content, rest) = rest.split_at(len);
        self.0 = rest;
        Some((tag, content))
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, c) if t == tag => Some(c),
            _ => None,
        }
    }
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const CONTEXT_0: u8 = 0xa0;

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// The content of the single SEQUENCE that makes up `der`.
fn der_sequence(der: &[u8]) -> Option<&[u8]> {
    let mut d = Der(der);
    let content = d.expect(SEQUENCE)?;
    d.0.is_empty().then_some(content)
}

/// Certificate -> tbsCertificate -> subjectPublicKeyInfo (its content).
fn certificate_spki(der: &[u8]) -> Option<&[u8]> {
    let cert = der_sequence(der)?;
    let tbs = Der(cert).expect(SEQUENCE)?;
    let mut fields = Der(tbs);
    let mut tag = fields.next()?.0;
    if tag == CONTEXT_0 {
        // The explicit version; the serial number follows.
        tag = fields.next()?.0;
    }
    if tag != INTEGER {
        return None;
    }
    // Signature algorithm, issuer, validity, subject, then the key.
    for _ in 0..4 {
        fields.expect(SEQUENCE)?;
    }
    fields.expect(SEQUENCE)
}

/// A key from the content of a SubjectPublicKeyInfo.
fn spki_key(spki: &[u8]) -> Result<PublicKey, String> {
    let malformed = || "malformed public key".to_owned();
    let mut d = Der(spki);
    let algorithm = d.expect(SEQUENCE).ok_or_else(malformed)?;
    let bits = d.expect(BIT_STRING).ok_or_else(malformed)?;
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err(malformed()),
    };
    let mut a = Der(algorithm);
    let oid = a.expect(OID).ok_or_else(malformed)?;
    match oid {
        o if o == OID_RSA => rsa_key(key),
        o if o == OID_EC => {
            let curve = a.expect(OID).ok_or_else(malformed)?;
            let (kind, len) = match curve {
                c if c == OID_P256 => (KeyKind::P256, 65),
                c if c == OID_P384 => (KeyKind::P384, 97),
                _ => return Err("unsupported elliptic curve (P-256 and P-384 are)".into()),
            };
            if key.len() != len || key.first() != Some(&0x04) {
                return Err(malformed());
            }
            Ok(make(kind, DecodingKey::from_ec_der(key)))
        }
        o if o == OID_ED25519 => {
            if key.len() != 32 {
                return Err(malformed());
            }
            Ok(make(KeyKind::Ed25519, DecodingKey::from_ed_der(key)))
        }
        _ => Err("unsupported public key type (RSA, ECDSA and Ed25519 are)".into()),
    }
}

/// A PKCS#1 RSAPublicKey (`SEQUENCE { n, e }`).
fn rsa_key(der: &[u8]) -> Result<PublicKey, String> {
    let malformed = || "malformed RSA public key".to_owned();
    let body = der_sequence(der).ok_or_else(malformed)?;
    let mut d = Der(body);
    let n = d.expect(INTEGER).ok_or_else(malformed)?;
    d.expect(INTEGER).ok_or_else(malformed)?;
    check_rsa_bits(n)?;
    Ok(make(KeyKind::Rsa, DecodingKey::from_rsa_der(der)))
}

fn check_rsa_bits(modulus: &[u8]) -> Result<(), String> {
    let n: &[u8] = match modulus.iter().position(|b| *b != 0) {
        Some(i) => &modulus[i..],
        None => &[],
    };
    let bits = match n.first() {
        Some(top) => n.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    };
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "RSA keys shorter than {MIN_RSA_BITS} bits are not supported (this one has {bits})"
        ));
    }
    Ok(())
}

fn make(kind: KeyKind, key: DecodingKey) -> PublicKey {
    PublicKey {
        kid: None,
        alg: None,
        kind,
        key,
    }
}

fn b64url(v: &Value, field: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(v.get(field)?.as_str()?.trim_end_matches('=').as_bytes())
        .ok()
}

/// A key from one JWKS entry; `None` for entries Arca does not use:
/// symmetric (`oct`) keys, encryption keys, unknown types and curves.
pub fn from_jwk(jwk: &Value) -> Option<PublicKey> {
    let text = |f: &str| jwk.get(f).and_then(Value::as_str);
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let (kind, key) = match (text("kty")?, text("crv")) {
        ("RSA", _) => {
            let n = b64url(jwk, "n")?;
            let e = b64url(jwk, "e")?;
            check_rsa_bits(&n).ok()?;
            (KeyKind::Rsa, DecodingKey::from_rsa_raw_components(&n, &e))
        }
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (kind, len) = if crv == "P-256" {
                (KeyKind::P256, 32)
            } else {
                (KeyKind::P384, 48)
            };
            let x = b64url(jwk, "x")?;
            let y = b64url(jwk, "y")?;
            if x.len() != len || y.len() != len {
                return None;
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (kind, DecodingKey::from_ec_der(&point))
        }
        ("OKP", Some("Ed25519")) => {
            let x = b64url(jwk, "x")?;
            if x.len() != 32 {
                return None;
            }
            (KeyKind::Ed25519, DecodingKey::from_ed_der(&x))
        }
        _ => return None,
    };
    Some(PublicKey {
        kid: text("kid").map(str::to_owned),
        alg: text("alg").map(str::to_owned),
        kind,
        key,
    })
}

/// The usable keys of a JWKS document (`{"keys": [...]}`).
pub fn parse_jwks(body: &[u8]) -> Result<Vec<PublicKey>, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("failed to decode keys: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "failed to decode keys: no \"keys\" list".to_owned())?;
    Ok(keys.iter().filter_map(from_jwk).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Generated with `openssl genpkey` for these tests only.
    const RSA_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1Pm2q7gXW14zickn9Doh
u00d13PGbpxCeuEFax4Prng2OFhUhqQObgFRTN3XE927yQaGffTc607DjRFeA+1r
VcW7zP/1hMQGtUOtZMrdt5RvllaySze0DtwDHiMt/s2YFd5SgSlA2XQu7ADyEkfu
U87IJ+pZ0VhbTCR7y8eo1joyCAKrFM5a3+ak3HgEOCBM2PIR7G0CCdXSFTjsPnmn
MA3Nt34uXUHJTpVBnlFcIoEzuD1b78E4tWlX4lLo92RXooLwRzL9dRCBnHrompcz
8MGvJf6Js2a7LOe+WwIOdyYOvf8mh3r4FQuWJnCMyY29nEpAwPONTyEI7yg1bD9I
qQIDAQAB
-----END PUBLIC KEY-----
";
    const EC_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4kKUlBUI0hmPBqYp71eE/bc/kver
BPuEJ8NTZcNmEDHIBKcOTwgaenXWcH5nmIe4i1NhkU4aLtd4TeFFjOe6Hg==
-----END PUBLIC KEY-----
";

    #[test]
    fn algorithms_are_asymmetric_only() {
        for bad in ["none", "HS256", "HS384", "HS512", "ES512", "rs256", ""] {
            assert_eq!(Alg::parse(bad), None, "{bad}");
        }
        assert_eq!(Alg::parse("PS384"), Some(Alg::PS384));
        assert!(alg_list().starts_with("[\"RS256\" \"RS384\""));
    }

    #[test]
    fn pem_keys_of_each_kind() {
        let rsa = parse_pem(RSA_SPKI).unwrap();
        assert_eq!(rsa.kind, KeyKind::Rsa);
        let ec = parse_pem(EC_SPKI).unwrap();
        assert_eq!(ec.kind, KeyKind::P256);
        // A key never verifies an algorithm of another kind.
        assert!(!rsa.verifies(Alg::ES256, b"a.b", "c2ln"));
        assert!(!ec.verifies(Alg::RS256, b"a.b", "c2ln"));
        assert!(!rsa.verifies(Alg::RS256, b"a.b", "c2ln"));
    }

    #[test]
    fn bad_pem_is_an_error_not_a_panic() {
        for bad in [
            "garbage",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
            "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
            "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1Pm2q7gXW14zickn9Doh\n",
        ] {
            assert!(parse_pem(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_pem("nothing here").unwrap_err(),
            "data does not contain any valid public keys"
        );
    }

    #[test]
    fn jwks_skips_what_it_cannot_use() {
        let keys = parse_jwks(
            json!({"keys": [
                {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
                {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
                {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
                {"kty": "RSA", "kid": "short", "n": "AQAB", "e": "AQAB"},
                {"kty": "EC", "crv": "P-256", "kid": "ec",
                 "x": "4kKUlBUI0hmPBqYp71eE_bc_kverBPuEJ8NTZcNmEDE",
                 "y": "yASnDk8IGnp11nB-Z5iHuItTYZFOGi7XeE3hRYznuh4"}
            ]})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("ec"));
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }
}
