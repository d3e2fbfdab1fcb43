//! `sys/internal/ui/mounts`: the mounts a token can see, which is how the
//! CLI finds out whether a path is KV v1 or v2.

use serde_json::{Map, Value, json};

use super::SysBackend;
use crate::error::{Error, Result};
use crate::logical::{Operation, Request, Response};
use crate::router::{MountEntry, Table};

impl SysBackend {
    fn visible(&self, entry: &MountEntry, acl: Option<&crate::policy::Acl>) -> bool {
        match acl {
            Some(acl) => acl.is_root() || acl.has_access_under(&entry.route_prefix()),
            None => entry.config.listing_visibility == "unauth",
        }
    }

    pub(super) async fn handle_ui(&self, req: &Request, rel: &str) -> Result<Response> {
        if req.operation != Operation::Read {
            return Err(Error::UnsupportedOperation);
        }
        let acl = match req
            .token_entry
            .as_ref()
            .and_then(|e| Some((self.identity.effective_policies(e)?, e.is_root())))
        {
            Some((names, root)) => Some(self.policies.acl(&names, root).await?),
            None => None,
        };
        match rel {
            "internal/ui/mounts" => {
                let mut secret = Map::new();
                for e in self.mounts.list(Table::Mounts) {
                    if self.visible(&e, acl.as_deref()) {
                        secret.insert(e.path.clone(), Value::Object(e.to_api()));
                    }
                }
                let mut auth = Map::new();
                for e in self.mounts.list(Table::Auth) {
                    if self.visible(&e, acl.as_deref()) {
                        auth.insert(e.path.clone(), Value::Object(e.to_api()));
                    }
                }
                Ok(Response::from_value(
                    json!({"auth": auth, "secret": secret}),
                ))
            }
            _ => {
                let Some(path) = rel.strip_prefix("internal/ui/mounts/") else {
                    return Err(Error::UnsupportedPath);
                };
                let Some(acl) = acl else {
                    return Err(Error::PermissionDenied);
                };
                let route = self.mounts.router().route(path);
                let entry = route.map(|r| Arc::clone(&r.entry));
                match entry {
                    Some(e) if acl.is_root() || acl.has_access_under(&e.route_prefix()) => {
                        let mut data = e.to_api();
                        data.insert("path".into(), json!(e.path));
                        Ok(Response::data(data))
                    }
                    _ => Err(Error::ForbiddenMsg(format!(
                        "preflight capability check returned 403, please ensure client's policies grant access to path {:?}",
                        crate::router::mounts::normalize(path)
                    ))),
                }
            }
        }
    }
}

use std::sync::Arc;
