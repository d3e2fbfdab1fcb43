//! The system endpoints that work while sealed (and before init): health,
//! seal-status, init, unseal, seal, leader. They bypass the logical path
//! because there is no router, token store or ACL while sealed.

use std::sync::Arc;

use arca_client::sys::{Health, InitRequest, Leader, UnsealRequest};
use hyper::Method;
use serde::Serialize;
use serde_json::Value;

use super::{Reply, query_map};
use crate::core::Core;
use crate::error::{Error, Result};

fn json<T: Serialize>(status: u16, v: &T) -> Reply {
    let mut body = serde_json::to_vec(v).unwrap_or_default();
    body.push(b'\n');
    Reply::json(status, body)
}

/// Parses a JSON body into `T`, with Vault's error for bad input.
fn decode<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() {
            Error::BadJson("unexpected EOF".into())
        } else {
            Error::BadJson(e.to_string())
        }
    })
}

pub async fn health(core: &Arc<Core>, method: &Method, query: Option<&str>) -> Result<Reply> {
    if *method != Method::GET && *method != Method::HEAD {
        return Err(Error::MethodNotAllowed);
    }
    let q = query_map(query);
    let code = |name: &str, default: u16| -> Result<u16> {
        match q.get(name).and_then(Value::as_str) {
            Some(s) => s
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=999).contains(c))
                .ok_or(Error::InvalidRequest(String::new())),
            None => Ok(default),
        }
    };
    let initialized = core.initialized();
    let active = core.active().ok();
    let status = if !initialized {
        code("uninitcode", 501)?
    } else if active.is_none() {
        code("sealedcode", 503)?
    } else {
        code("activecode", 200)?
    };
    // Validate every override even when unused, as Vault does.
    for name in ["standbycode", "drsecondarycode", "performancestandbycode"] {
        code(name, 0)?;
    }
    let mode = if active.is_some() {
        "disabled"
    } else {
        "unknown"
    };
    let body = Health {
        initialized,
        sealed: active.is_none(),
        standby: active.is_none(),
        replication_performance_mode: mode.into(),
        replication_dr_mode: mode.into(),
        server_time_utc: core.clock.now_nanos() / 1_000_000_000,
        version: crate::VERSION.into(),
        cluster_name: active.as_ref().map(|a| a.cluster_name.clone()),
        cluster_id: active.as_ref().map(|a| a.cluster_id.clone()),
    };
    if *method == Method::HEAD {
        return Ok(Reply::empty(status));
    }
    Ok(json(status, &body))
}

pub async fn seal_status(core: &Arc<Core>, method: &Method) -> Result<Reply> {
    if *method != Method::GET {
        return Err(Error::MethodNotAllowed);
    }
    Ok(json(200, &core.seal_status().await?))
}

pub async fn init(core: &Arc<Core>, method: &Method, body: &[u8]) -> Result<Reply> {
    match *method {
        Method::GET => Ok(json(
            200,
            &serde_json::json!({"initialized": core.is_initialized().await?}),
        )),
        Method::PUT | Method::POST => {
            let req: InitRequest = decode(body).map_err(|e| match e {
                Error::BadJson(m) if m.contains("invalid type") => Error::BadJson(format!(
                    "json: cannot unmarshal {m} into Go struct field InitRequest"
                )),
                other => other,
            })?;
            let resp = core.init(&req).await?;
            Ok(json(200, &resp))
        }
        _ => Err(Error::MethodNotAllowed),
    }
}

pub async fn unseal(core: &Arc<Core>, method: &Method, body: &[u8]) -> Result<Reply> {
    if *method != Method::PUT && *method != Method::POST {
        return Err(Error::MethodNotAllowed);
    }
    let req: UnsealRequest = decode(body)?;
    Ok(json(200, &core.unseal(&req).await?))
}

pub async fn leader(core: &Arc<Core>, method: &Method) -> Result<Reply> {
    if *method != Method::GET {
        return Err(Error::MethodNotAllowed);
    }
    core.active()?;
    Ok(json(200, &Leader { ha_enabled: false }))
}
