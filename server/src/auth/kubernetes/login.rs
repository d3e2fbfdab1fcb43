//! `login`: a role name and a service-account JWT in, a `Login` for the
//! core out. The checks run in Vault's order, and fail closed:
//!
//! 1. `role` and `jwt` present, the role exists, the caller's address is
//!    within the role's `token_bound_cidrs`
//! 2. the JWT parses, with an asymmetric algorithm; with `pem_keys` its
//!    signature verifies against one of them
//! 3. with `pem_keys`, the token's lifetime is bounded (its
//!    `kubernetes.io.warnafter`, and `pem_keys_max_token_lifetime`), since
//!    no TokenReview will say whether its pod still exists; then issuer
//!    (if checked), the role's audience, and time (a minute of skew)
//! 4. the service account name and namespace are bound by the role (list,
//!    globs, or the namespace's labels against the role's selector)
//! 5. without `pem_keys`, the API server's TokenReview says the token is
//!    genuine and names the same service account (Vault always asks; Arca
//!    trusts a signature by the cluster's own keys, which is what makes
//!    local verification worth having)
//!
//! Failures of form, signature or review answer a bare "permission
//! denied" (403) and log why at debug level; claim and bound failures say
//! which check failed, as Vault does. The JWT is never logged.

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use super::Kubernetes;
use super::config::{self, ApiTarget, Config};
use super::jwt::{self, Claims, Expected, JwtError};
use super::role::Role;
use super::selector::LabelSelector;
use super::token_review::ReviewError;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Login, Request, Response};
use crate::secret::SecretString;

fn required(req: &Request, field: &str) -> Result<String> {
    match fields::string(&req.data, field)? {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(Error::invalid(format!("missing {field}"))),
    }
}

fn jwt_denied(e: JwtError) -> Error {
    if e.is_signature_failure() {
        tracing::debug!(reason = %e, "kubernetes login denied");
        Error::PermissionDenied
    } else {
        Error::ForbiddenMsg(e.to_string())
    }
}

fn review_denied(e: ReviewError) -> Error {
    match e {
        // The API server is unreachable, untrusted or refusing us: an
        // operator has to see that, not only a denied client.
        ReviewError::Client(_)
        | ReviewError::Transport(_)
        | ReviewError::Status { .. }
        | ReviewError::Malformed(_) => {
            tracing::warn!(error = %e, "kubernetes login: TokenReview failed")
        }
        _ => tracing::debug!(reason = %e, "kubernetes login denied"),
    }
    Error::PermissionDenied
}

/// A DNS-1123 label, the only shape a namespace name has; checked before
/// a name taken from a token goes into an API URL.
fn is_namespace_name(ns: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !ns.is_empty()
        && ns.len() <= 63
        && ns.chars().all(|c| ok(c) || c == '-')
        && ns.starts_with(ok)
        && ns.ends_with(ok)
}

impl Kubernetes {
    pub(super) async fn login(&self, req: &Request) -> Result<Response> {
        let role_name = required(req, "role")?;
        let jwt = SecretString::new(required(req, "jwt")?);
        let role = self
            .role(&role_name)
            .await?
            .ok_or_else(|| Error::invalid(format!("invalid role name {role_name:?}")))?;
        if !crate::cidr::allowed(&role.token.bound_cidrs, req.remote_addr) {
            return Err(Error::PermissionDenied);
        }
        let stored = self.config().await?;
        if stored.is_none() && !self.pod.in_pod() {
            return Err(Error::internal("could not load backend configuration"));
        }
        let config = stored.as_deref();

        // 2. Form and signature.
        let token = jwt::parse(jwt.expose()).map_err(jwt_denied)?;
        let local = config.is_some_and(|c| !c.keys.is_empty());
        if let Some(c) = config.filter(|_| local) {
            token.verify_signature(&c.keys).map_err(jwt_denied)?;
            // Without a TokenReview nothing else would ever end a token
            // that never expires (a legacy secret-based one): locally,
            // only tokens with an expiry are taken.
            if token.claims.exp.unwrap_or(0) == 0 {
                return Err(Error::ForbiddenMsg(
                    "tokens without an expiry (legacy service account tokens) are only accepted through TokenReview: remove pem_keys or use a projected token".into(),
                ));
            }
        }

        // 3. Claims.
        let now = self
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        if let Some(c) = config.filter(|_| local) {
            jwt::check_local_lifetime(&token.claims, now, c.max_token_lifetime_secs())
                .map_err(jwt_denied)?;
        }
        jwt::check_claims(
            &token.claims,
            &Expected {
                issuer: config.and_then(Config::expected_issuer),
                audience: (!role.audience.is_empty()).then_some(role.audience.as_str()),
                now,
            },
        )
        .map_err(jwt_denied)?;
        let claims = &token.claims;

        // 4. Bounds.
        if !role.allows_name(claims.name()) {
            return Err(Error::ForbiddenMsg(
                "service account name not authorized".into(),
            ));
        }
        let mut target = None;
        self.check_namespace(&role, claims.namespace(), config, &mut target)
            .await?;
        let Some(uid) = claims.uid() else {
            tracing::debug!("kubernetes login denied: could not parse UID from claims");
            return Err(Error::PermissionDenied);
        };
        let Some(alias_name) = role.alias_name(claims.namespace(), claims.name(), uid) else {
            return Err(Error::ForbiddenMsg(
                "service account namespace and name must be set".into(),
            ));
        };

        // 5. TokenReview, when no keys vouch for the token.
        if !local {
            let target = match target {
                Some(t) => t,
                None => config::api_target(config, &self.pod).await?,
            };
            self.review(&target, &jwt, &role, claims).await?;
        }

        let sa = BTreeMap::from([
            ("service_account_uid".to_owned(), uid.to_owned()),
            ("service_account_name".to_owned(), claims.name().to_owned()),
            (
                "service_account_namespace".to_owned(),
                claims.namespace().to_owned(),
            ),
            (
                "service_account_secret_name".to_owned(),
                claims.secret_name().to_owned(),
            ),
        ]);
        let mut metadata = sa.clone();
        metadata.insert("role".to_owned(), role_name);
        Ok(Response::login(Login {
            alias_name,
            alias_metadata: sa,
            display_name: format!("{}-{}", claims.namespace(), claims.name()),
            metadata,
            token: role.token,
        }))
    }

    /// The namespace is listed by the role, or its labels match the role's
    /// selector (read from the API server; `target` keeps the resolved
    /// connection for the TokenReview that may follow).
    async fn check_namespace(
        &self,
        role: &Role,
        namespace: &str,
        config: Option<&Config>,
        target: &mut Option<ApiTarget>,
    ) -> Result<()> {
        let not_authorized = |why: Option<String>| {
            Error::ForbiddenMsg(match why {
                Some(e) => format!("namespace not authorized err={e}"),
                None => "namespace not authorized".into(),
            })
        };
        if role.lists_namespace(namespace) {
            return Ok(());
        }
        if role.bound_service_account_namespace_selector.is_empty() {
            return Err(not_authorized(None));
        }
        let selector = LabelSelector::parse(&role.bound_service_account_namespace_selector)
            .map_err(|e| not_authorized(Some(e.to_string())))?;
        if !is_namespace_name(namespace) {
            return Err(not_authorized(None));
        }
        let t = config::api_target(config, &self.pod).await?;
        let labels = self
            .api
            .namespace_labels(&t, namespace)
            .await
            .map_err(|e| not_authorized(Some(e.to_string())))?;
        *target = Some(t);
        if selector.matches(&labels) {
            Ok(())
        } else {
            Err(not_authorized(None))
        }
    }

    /// The API server must vouch for the token, and for the same service
    /// account the token names.
    async fn review(
        &self,
        target: &ApiTarget,
        jwt: &SecretString,
        role: &Role,
        claims: &Claims,
    ) -> Result<()> {
        // Vault asks for the role's audience, or else the token's own: a
        // projected token for "vault" is not valid for the API server's
        // default audience, and would otherwise be refused.
        let audiences = if role.audience.is_empty() {
            claims.aud.clone()
        } else {
            vec![role.audience.clone()]
        };
        let reviewed = self
            .api
            .review(target, jwt, &audiences)
            .await
            .map_err(review_denied)?;
        let mismatch = if reviewed.name != claims.name() {
            Some("JWT names did not match")
        } else if Some(reviewed.uid.as_str()) != claims.uid() {
            Some("JWT UIDs did not match")
        } else if reviewed.namespace != claims.namespace() {
            Some("JWT namespaces did not match")
        } else {
            None
        };
        if let Some(why) = mismatch {
            tracing::debug!(reason = why, "kubernetes login denied");
            return Err(Error::PermissionDenied);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::is_namespace_name;

    #[test]
    fn namespace_names() {
        for ok in ["default", "kube-system", "a", "team1"] {
            assert!(is_namespace_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a/b", "../x", "a.b", &"x".repeat(64)] {
            assert!(!is_namespace_name(bad), "{bad}");
        }
    }
}
