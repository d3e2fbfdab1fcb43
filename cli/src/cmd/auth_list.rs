//! `arca auth list [-detailed]`: the enabled auth methods.

use std::collections::BTreeMap;

use arca_client::MountOutput;

use super::secrets_list::{DETAILED, options_cell};
use super::{Ctx, Spec};
use crate::output::Format;
use crate::output::table::table;

pub(crate) const SPEC: Spec = Spec {
    name: "auth list",
    synopsis: "Lists enabled auth methods",
    help: "Usage: arca auth list [options]\n\n  \
           Lists the enabled auth methods on the Arca server. This command also outputs\n  \
           information about the method including configuration and human-friendly\n  \
           descriptions. A TTL of \"system\" indicates that the system default is in use.\n\n  \
           List all enabled auth methods:\n\n      \
           $ arca auth list\n\n  \
           List all enabled auth methods with detailed output:\n\n      \
           $ arca auth list -detailed",
    flags: &[DETAILED],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(0, Some(0)) {
        return 1;
    }
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    let auths = match client.list_auth().await {
        Ok(a) => a,
        Err(e) => {
            ctx.err(&format!("Error listing enabled authentications: {e}"));
            return 2;
        }
    };
    match ctx.format {
        Format::Json => ctx.output_json(&auths),
        Format::Table => {
            let t = if ctx.flags.bool("detailed") {
                detailed(&auths)
            } else {
                simple(&auths)
            };
            ctx.out(&t);
            0
        }
    }
}

fn simple(auths: &BTreeMap<String, MountOutput>) -> String {
    let rows = auths
        .iter()
        .map(|(path, m)| {
            vec![
                path.clone(),
                m.mount_type.clone(),
                m.accessor.clone(),
                m.description.clone(),
                m.plugin_version.clone(),
            ]
        })
        .collect();
    table(
        &["Path", "Type", "Accessor", "Description", "Version"],
        rows,
    )
}

fn ttl(secs: i64) -> String {
    if secs == 0 {
        "system".into()
    } else {
        secs.to_string()
    }
}

fn detailed(auths: &BTreeMap<String, MountOutput>) -> String {
    let rows = auths
        .iter()
        .map(|(path, m)| {
            vec![
                path.clone(),
                m.mount_type.clone(),
                m.accessor.clone(),
                ttl(m.config.default_lease_ttl),
                ttl(m.config.max_lease_ttl),
                m.config.token_type.clone(),
                if m.local { "local" } else { "replicated" }.to_string(),
                m.seal_wrap.to_string(),
                m.external_entropy_access.to_string(),
                options_cell(m.options.as_ref()),
                m.description.clone(),
                m.uuid.clone(),
                m.plugin_version.clone(),
                m.running_plugin_version.clone(),
                m.running_sha256.clone(),
                m.deprecation_status.clone(),
            ]
        })
        .collect();
    table(
        &[
            "Path",
            "Plugin",
            "Accessor",
            "Default TTL",
            "Max TTL",
            "Token Type",
            "Replication",
            "Seal Wrap",
            "External Entropy Access",
            "Options",
            "Description",
            "UUID",
            "Version",
            "Running Version",
            "Running SHA256",
            "Deprecation Status",
        ],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_bao() {
        let auths: BTreeMap<String, MountOutput> = serde_json::from_str(r#"{"token/":{"accessor":"auth_token_245092ea","config":{"default_lease_ttl":0,"force_no_cache":false,"max_lease_ttl":0,"token_type":"default-service"},"description":"token based credentials","local":false,"options":null,"plugin_version":"","running_plugin_version":"v2.7.2+builtin.bao","type":"token","uuid":"be5e"}}"#).unwrap();
        assert_eq!(
            simple(&auths),
            "Path      Type     Accessor               Description                Version\n\
             ----      ----     --------               -----------                -------\n\
             token/    token    auth_token_245092ea    token based credentials    n/a"
        );
        assert!(detailed(&auths).contains(
            "auth_token_245092ea    system         system     default-service    replicated"
        ));
    }
}
