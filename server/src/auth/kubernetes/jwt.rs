//! Service-account JWTs: the compact form parsed by hand, the signature
//! checked against the configured `pem_keys`, and the claim checks Vault's
//! kubernetes method makes (hashicorp/cap's rules, in its order: algorithm,
//! issuer, audience, then time with a minute of clock skew).
//!
//! Two token shapes exist and both are read: projected tokens (what pods
//! get today) carry a `kubernetes.io` block with the namespace, the service
//! account and the pod; legacy secret-based tokens carry flat
//! `kubernetes.io/serviceaccount/*` claims. The projected block wins when
//! both are present, as in Vault.
//!
//! Only asymmetric algorithms are accepted: `none` and the HMAC family are
//! refused before any key is touched, so a token "signed" with the public
//! key as an HMAC secret can never verify.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Deserializer};

/// Vault accepts RS256/384/512 and ES256/384/512; ES512 has no verifier
/// in the crypto we build on, so it is refused like any unknown algorithm.
const SUPPORTED: [(&str, Algorithm); 5] = [
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
];

/// cap/jwt's default clock-skew leeway (go-jose's `DefaultLeeway`).
const CLOCK_SKEW_SECS: i64 = 60;
/// cap/jwt's leeway for deriving a missing `exp` or `nbf`.
const DERIVED_LEEWAY_SECS: i64 = 150;

/// Why a token was refused. The first three are about the token's form or
/// signature and answer a bare "permission denied" (as Vault does); the
/// others carry Vault's message to the client.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("token signed with unexpected algorithm")]
    Algorithm,
    #[error("error verifying token signature")]
    Signature,
    #[error("invalid issuer (iss) claim")]
    Issuer,
    #[error("invalid audience (aud) claim: audience claim does not match any expected audience")]
    Audience,
    #[error("invalid not before (nbf) claim: token not yet valid")]
    NotYetValid,
    #[error("invalid expiration time (exp) claim: token is expired")]
    Expired,
    #[error("invalid issued at (iat) claim: token issued in the future")]
    IssuedInFuture,
    /// Checked with `pem_keys` only (see `check_local_lifetime`).
    #[error(
        "token is past its kubernetes.io warnafter time: the kubelet has replaced it; tokens copied out of a pod are not accepted"
    )]
    PastWarnAfter,
    #[error(
        "token lifetime (exp - iat) is {lifetime}s, over the {max}s accepted with pem_keys: use a shorter-lived projected token, raise pem_keys_max_token_lifetime, or remove pem_keys to use TokenReview"
    )]
    LifetimeTooLong { lifetime: i64, max: i64 },
    #[error(
        "token has no issued at (iat) claim, so its lifetime cannot be bounded: such tokens are only accepted through TokenReview"
    )]
    NoIssuedAt,
}

impl JwtError {
    /// Form and signature failures, which Vault reports as "permission
    /// denied" without saying more.
    pub fn is_signature_failure(&self) -> bool {
        matches!(self, Self::Malformed(_) | Self::Algorithm | Self::Signature)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFamily {
    Rsa,
    Ec,
}

fn family(alg: Algorithm) -> KeyFamily {
    match alg {
        Algorithm::ES256 | Algorithm::ES384 => KeyFamily::Ec,
        _ => KeyFamily::Rsa,
    }
}

/// One of the cluster's service-account signing keys (`pem_keys`): a PEM
/// public key (PKIX or PKCS#1 RSA) or a certificate, whose key is used.
#[derive(Clone)]
pub struct PublicKey {
    family: KeyFamily,
    key: DecodingKey,
}

impl PublicKey {
    /// Vault's message for anything that is not an RSA or EC public key.
    pub fn from_pem(pem: &str) -> Result<Self, &'static str> {
        const INVALID: &str = "data does not contain any valid public keys";
        let bytes = pem.trim().as_bytes();
        if let Ok(key) = DecodingKey::from_rsa_pem(bytes) {
            return Ok(Self {
                family: KeyFamily::Rsa,
                key,
            });
        }
        match DecodingKey::from_ec_pem(bytes) {
            Ok(key) => Ok(Self {
                family: KeyFamily::Ec,
                key,
            }),
            Err(_) => Err(INVALID),
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    /// Critical extensions we do not implement mean "do not accept".
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// An object in a projected token's `kubernetes.io` block (the pod
/// there is not needed for the login).
#[derive(Debug, Default, Deserialize)]
pub struct ObjectRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uid: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct Projected {
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub serviceaccount: Option<ObjectRef>,
    /// Set by the API server when it extended the token's expiry (up to a
    /// year, `--service-account-extend-token-expiration`): the time the
    /// token would have expired, after which the kubelet has replaced it
    /// and the API server warns on its use.
    #[serde(default, deserialize_with = "numeric_date")]
    pub warnafter: Option<i64>,
}

/// The claims Arca reads; everything else in the token is ignored.
#[derive(Debug, Default, Deserialize)]
pub struct Claims {
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub nbf: Option<i64>,
    #[serde(default, rename = "kubernetes.io")]
    pub kubernetes: Option<Projected>,
    #[serde(default, rename = "kubernetes.io/serviceaccount/namespace")]
    pub legacy_namespace: String,
    #[serde(default, rename = "kubernetes.io/serviceaccount/service-account.name")]
    pub legacy_name: String,
    #[serde(default, rename = "kubernetes.io/serviceaccount/service-account.uid")]
    pub legacy_uid: String,
    #[serde(default, rename = "kubernetes.io/serviceaccount/secret.name")]
    pub legacy_secret_name: String,
}

/// `aud` is a string or a list of strings (RFC 7519 4.1.3).
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Aud>::deserialize(d)? {
        None => Vec::new(),
        Some(Aud::One(s)) => vec![s],
        Some(Aud::Many(v)) => v,
    })
}

/// NumericDate: seconds since the epoch, possibly fractional.
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<f64>::deserialize(d)?
        .filter(|f| f.is_finite())
        .map(|f| f.floor() as i64))
}

impl Claims {
    /// The service account's name, preferring the projected block.
    pub fn name(&self) -> &str {
        match self
            .kubernetes
            .as_ref()
            .and_then(|k| k.serviceaccount.as_ref())
        {
            Some(sa) => &sa.name,
            None => &self.legacy_name,
        }
    }

    /// The namespace: the projected block's whenever there is one.
    pub fn namespace(&self) -> &str {
        match &self.kubernetes {
            Some(k) => &k.namespace,
            None => &self.legacy_namespace,
        }
    }

    /// The service account's uid; `None` when the token names none.
    pub fn uid(&self) -> Option<&str> {
        let uid = match self
            .kubernetes
            .as_ref()
            .and_then(|k| k.serviceaccount.as_ref())
        {
            Some(sa) => sa.uid.as_str(),
            None => self.legacy_uid.as_str(),
        };
        (!uid.is_empty()).then_some(uid)
    }

    /// Only legacy secret-based tokens name their secret.
    pub fn secret_name(&self) -> &str {
        &self.legacy_secret_name
    }
}

/// A parsed, not yet trusted, token.
pub struct Token<'a> {
    alg: Algorithm,
    /// `header.payload`, what the signature covers.
    message: &'a str,
    signature: &'a str,
    pub claims: Claims,
}

fn decode_part(part: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed("not base64url"))
}

/// Splits and decodes a compact JWS. The algorithm must be one we verify
/// and the signature must be present, whether or not keys are configured
/// (with TokenReview the API server checks the signature, but a token that
/// claims `alg: none` is refused here all the same).
pub fn parse(jwt: &str) -> Result<Token<'_>, JwtError> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed(
            "compact JWS format must have three parts",
        ));
    };
    let header: Header = serde_json::from_slice(&decode_part(header)?)
        .map_err(|_| JwtError::Malformed("invalid header"))?;
    if header.crit.is_some() {
        return Err(JwtError::Malformed("unsupported critical header"));
    }
    let alg = SUPPORTED
        .iter()
        .find(|(name, _)| *name == header.alg)
        .map(|(_, alg)| *alg)
        .ok_or(JwtError::Algorithm)?;
    if signature.is_empty() {
        return Err(JwtError::Malformed("token must be signed"));
    }
    decode_part(signature)?;
    let claims: Claims = serde_json::from_slice(&decode_part(payload)?)
        .map_err(|_| JwtError::Malformed("invalid claims"))?;
    let message = jwt.rsplit_once('.').map_or("", |(m, _)| m);
    Ok(Token {
        alg,
        message,
        signature,
        claims,
    })
}

impl Token<'_> {
    /// Succeeds when one of `keys` of the token's key family signed it.
    pub fn verify_signature(&self, keys: &[PublicKey]) -> Result<(), JwtError> {
        let want = family(self.alg);
        let verified = keys.iter().filter(|k| k.family == want).any(|k| {
            jsonwebtoken::crypto::verify(self.signature, self.message.as_bytes(), &k.key, self.alg)
                .unwrap_or(false)
        });
        if verified {
            Ok(())
        } else {
            Err(JwtError::Signature)
        }
    }
}

/// What the claims must satisfy.
pub struct Expected<'a> {
    /// Checked only when set (Vault: `issuer` with `disable_iss_validation`
    /// false).
    pub issuer: Option<&'a str>,
    /// The role's `audience`, when it has one.
    pub audience: Option<&'a str>,
    /// Seconds since the epoch, from the mount's clock.
    pub now: i64,
}

/// cap/jwt's claim checks with its "allow missing iat/nbf/exp" rule:
/// legacy tokens carry no times at all and are not time-checked; a token
/// with some times gets the missing ones derived the way cap derives them.
pub fn check_claims(claims: &Claims, expected: &Expected<'_>) -> Result<(), JwtError> {
    if let Some(iss) = expected.issuer {
        if claims.iss.as_deref() != Some(iss) {
            return Err(JwtError::Issuer);
        }
    }
    if let Some(aud) = expected.audience {
        if !claims.aud.iter().any(|a| a == aud) {
            return Err(JwtError::Audience);
        }
    }
    let (iat, nbf, exp) = (
        claims.iat.unwrap_or(0),
        claims.nbf.unwrap_or(0),
        claims.exp.unwrap_or(0),
    );
    if iat == 0 && nbf == 0 && exp == 0 {
        return Ok(());
    }
    let exp = if exp == 0 {
        iat.max(nbf).saturating_add(DERIVED_LEEWAY_SECS)
    } else {
        exp
    };
    let nbf = match (nbf, iat) {
        (0, 0) => exp.saturating_sub(DERIVED_LEEWAY_SECS),
        (0, iat) => iat,
        (nbf, _) => nbf,
    };
    let now = expected.now;
    if now.saturating_add(CLOCK_SKEW_SECS) < nbf {
        return Err(JwtError::NotYetValid);
    }
    if now.saturating_sub(CLOCK_SKEW_SECS) > exp {
        return Err(JwtError::Expired);
    }
    if now.saturating_add(CLOCK_SKEW_SECS) < iat {
        return Err(JwtError::IssuedInFuture);
    }
    Ok(())
}

/// The checks a token gets when `pem_keys` vouch for it instead of a
/// TokenReview, which would have told whether its pod still exists.
/// Locally that cannot be seen, so the time a copied token stays usable is
/// bounded instead: past `kubernetes.io.warnafter` (when the API server
/// extended the expiry, the kubelet has rotated the token by then) it is
/// refused, and its lifetime (`warnafter` or `exp`, minus `iat`) may not
/// exceed `max_lifetime` plus the clock skew.
pub fn check_local_lifetime(claims: &Claims, now: i64, max_lifetime: i64) -> Result<(), JwtError> {
    let warnafter = claims.kubernetes.as_ref().and_then(|k| k.warnafter);
    if let Some(w) = warnafter {
        if now.saturating_sub(CLOCK_SKEW_SECS) > w {
            return Err(JwtError::PastWarnAfter);
        }
    }
    let Some(iat) = claims.iat.filter(|i| *i != 0) else {
        return Err(JwtError::NoIssuedAt);
    };
    let end = warnafter.or(claims.exp).unwrap_or(0);
    let lifetime = end.saturating_sub(iat);
    if lifetime > max_lifetime.saturating_add(CLOCK_SKEW_SECS) {
        return Err(JwtError::LifetimeTooLong {
            lifetime,
            max: max_lifetime,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn unsigned(header: Value, claims: Value, sig: &str) -> String {
        format!("{}.{}.{sig}", b64(&header), b64(&claims))
    }

    fn claims(v: Value) -> Claims {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn refuses_none_hmac_and_garbage_before_any_key() {
        let c = json!({"sub": "x"});
        for (alg, sig) in [
            ("none", ""),
            ("HS256", "c2ln"),
            ("PS256", "c2ln"),
            ("ES512", "c2ln"),
        ] {
            let t = unsigned(json!({"alg": alg}), c.clone(), sig);
            let e = parse(&t).err().unwrap();
            assert!(e.is_signature_failure(), "{alg}: {e}");
        }
        let unsigned_rs = unsigned(json!({"alg": "RS256"}), c.clone(), "");
        assert!(matches!(parse(&unsigned_rs), Err(JwtError::Malformed(_))));
        for garbage in ["", "a", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.c2ln"] {
            assert!(parse(garbage).is_err(), "{garbage}");
        }
        let crit = unsigned(json!({"alg": "RS256", "crit": ["x"]}), c, "c2ln");
        assert!(parse(&crit).is_err());
    }

    #[test]
    fn reads_both_token_shapes() {
        let projected = claims(json!({
            "aud": "vault", "exp": 1.7e9,
            "kubernetes.io": {"namespace": "ns", "pod": {"name": "p", "uid": "pu"},
                              "serviceaccount": {"name": "sa", "uid": "u1"}},
            "kubernetes.io/serviceaccount/service-account.name": "ignored",
        }));
        assert_eq!(projected.aud, ["vault"]);
        assert_eq!(projected.exp, Some(1_700_000_000));
        assert_eq!(
            (projected.name(), projected.namespace(), projected.uid()),
            ("sa", "ns", Some("u1"))
        );
        assert_eq!(projected.secret_name(), "");

        let legacy = claims(json!({
            "iss": "kubernetes/serviceaccount",
            "kubernetes.io/serviceaccount/namespace": "ns2",
            "kubernetes.io/serviceaccount/secret.name": "sa2-token-x",
            "kubernetes.io/serviceaccount/service-account.name": "sa2",
            "kubernetes.io/serviceaccount/service-account.uid": "u2",
        }));
        assert_eq!(
            (legacy.name(), legacy.namespace(), legacy.uid()),
            ("sa2", "ns2", Some("u2"))
        );
        assert_eq!(legacy.secret_name(), "sa2-token-x");
        assert_eq!(claims(json!({})).uid(), None);
    }

    #[test]
    fn time_checks_follow_cap_with_a_minute_of_skew() {
        let at = |now| Expected {
            issuer: None,
            audience: None,
            now,
        };
        let c = claims(json!({"iat": 1000, "nbf": 1000, "exp": 2000}));
        assert!(check_claims(&c, &at(1500)).is_ok());
        assert!(check_claims(&c, &at(2060)).is_ok());
        assert!(matches!(
            check_claims(&c, &at(2061)),
            Err(JwtError::Expired)
        ));
        assert!(check_claims(&c, &at(940)).is_ok());
        assert!(matches!(
            check_claims(&c, &at(939)),
            Err(JwtError::NotYetValid)
        ));
        // No times at all (legacy tokens): not time-checked.
        assert!(check_claims(&claims(json!({})), &at(i64::MAX)).is_ok());
        // Only iat: expires 150s later (plus skew).
        let iat_only = claims(json!({"iat": 1000}));
        assert!(check_claims(&iat_only, &at(1210)).is_ok());
        assert!(check_claims(&iat_only, &at(1211)).is_err());
        let future = claims(json!({"iat": 5000, "nbf": 100, "exp": 9000}));
        assert!(matches!(
            check_claims(&future, &at(4000)),
            Err(JwtError::IssuedInFuture)
        ));
    }

    #[test]
    fn local_tokens_live_at_most_their_warnafter_and_the_cap() {
        const HOUR: i64 = 3600;
        // What the API server issues a pod by default: asked for 3607s,
        // extended to a year, with warnafter at the 3607s.
        let extended = claims(json!({
            "iat": 1000, "nbf": 1000, "exp": 1000 + 365 * 24 * HOUR,
            "kubernetes.io": {"namespace": "ns", "warnafter": 1000 + 3607,
                              "serviceaccount": {"name": "sa", "uid": "u"}},
        }));
        assert!(check_local_lifetime(&extended, 2000, HOUR).is_ok());
        assert!(check_local_lifetime(&extended, 1000 + 3607 + 60, HOUR).is_ok());
        assert!(matches!(
            check_local_lifetime(&extended, 1000 + 3607 + 61, HOUR),
            Err(JwtError::PastWarnAfter)
        ));
        // The same token with its warnafter stripped is a year long.
        let year = claims(json!({"iat": 1000, "exp": 1000 + 365 * 24 * HOUR}));
        assert!(matches!(
            check_local_lifetime(&year, 2000, HOUR),
            Err(JwtError::LifetimeTooLong { max: 3600, .. })
        ));
        // Up to the cap plus the skew, and a larger cap when configured.
        let day = claims(json!({"iat": 1000, "exp": 1000 + 24 * HOUR}));
        assert!(check_local_lifetime(&claims(json!({"iat": 0, "exp": 3660})), 10, HOUR).is_err());
        assert!(check_local_lifetime(&claims(json!({"iat": 1, "exp": 3661})), 10, HOUR).is_ok());
        assert!(check_local_lifetime(&claims(json!({"iat": 1, "exp": 3662})), 10, HOUR).is_err());
        assert!(check_local_lifetime(&day, 2000, HOUR).is_err());
        assert!(check_local_lifetime(&day, 2000, 24 * HOUR).is_ok());
        // Without iat the lifetime is unknown.
        assert!(matches!(
            check_local_lifetime(&claims(json!({"exp": 5000})), 10, HOUR),
            Err(JwtError::NoIssuedAt)
        ));
    }

    #[test]
    fn issuer_and_audience() {
        let c = claims(json!({"iss": "https://k8s", "aud": ["a", "b"]}));
        let exp = |issuer, audience| Expected {
            issuer,
            audience,
            now: 0,
        };
        assert!(check_claims(&c, &exp(Some("https://k8s"), Some("b"))).is_ok());
        assert!(matches!(
            check_claims(&c, &exp(Some("other"), None)),
            Err(JwtError::Issuer)
        ));
        assert!(matches!(
            check_claims(&c, &exp(None, Some("c"))),
            Err(JwtError::Audience)
        ));
    }

    #[test]
    fn pem_keys_must_be_public_keys() {
        assert!(PublicKey::from_pem("garbage").is_err());
        assert!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .is_err()
        );
    }
}
