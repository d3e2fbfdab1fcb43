//! Internal `Response` -> Vault's JSON envelope: what the HTTP layer
//! sends, and what a wrapping token's cubbyhole keeps (the core wraps a
//! response as the client would have received it). Knows nothing of HTTP.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::logical::{Auth, Response, WrapInfo};

#[derive(Serialize)]
struct AuthBody<'a> {
    client_token: &'a str,
    accessor: &'a str,
    policies: &'a [String],
    token_policies: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    identity_policies: &'a [String],
    metadata: &'a Option<Map<String, Value>>,
    lease_duration: u64,
    renewable: bool,
    entity_id: &'a str,
    token_type: &'a str,
    orphan: bool,
    mfa_requirement: Option<()>,
    num_uses: i64,
}

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(flatten)]
    top: Option<&'a Map<String, Value>>,
    request_id: &'a str,
    lease_id: &'a str,
    renewable: bool,
    lease_duration: u64,
    data: Option<&'a Map<String, Value>>,
    wrap_info: Option<&'a WrapInfo>,
    warnings: Option<&'a [String]>,
    auth: Option<AuthBody<'a>>,
}

fn auth_body(a: &Auth) -> AuthBody<'_> {
    AuthBody {
        client_token: &a.client_token,
        accessor: &a.accessor,
        policies: &a.policies,
        token_policies: &a.token_policies,
        identity_policies: &a.identity_policies,
        metadata: &a.metadata,
        lease_duration: a.lease_duration,
        renewable: a.renewable,
        entity_id: &a.entity_id,
        token_type: a.token_type.as_str(),
        orphan: a.orphan,
        mfa_requirement: None,
        num_uses: a.num_uses,
    }
}

/// The envelope's bytes, newline-terminated. A wrapped response reports
/// an empty request id, as Vault's does.
pub fn envelope(request_id: &str, resp: &Response) -> Vec<u8> {
    let request_id = if resp.wrap_info.is_some() {
        ""
    } else {
        request_id
    };
    let env = Envelope {
        top: if resp.data_at_top_level {
            resp.data.as_ref()
        } else {
            None
        },
        request_id,
        lease_id: resp.lease.as_ref().map_or("", |l| l.id.as_str()),
        renewable: resp.lease.as_ref().is_some_and(|l| l.renewable),
        lease_duration: resp.lease_duration,
        data: resp.data.as_ref(),
        wrap_info: resp.wrap_info.as_ref(),
        warnings: (!resp.warnings.is_empty()).then_some(resp.warnings.as_slice()),
        auth: resp.auth.as_ref().map(auth_body),
    };
    let mut out = serde_json::to_vec(&env).unwrap_or_default();
    out.push(b'\n');
    out
}
