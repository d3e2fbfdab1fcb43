//! `secrets enable|disable|list|tune` and `auth enable|disable|list|tune`:
//! one implementation over Arca's two mount tables, secrets engines
//! (`sys/mounts`) and auth methods (`sys/auth`). A [`MountTable`] holds
//! what the Go CLI words or shows differently for each; `secrets` and
//! `auth` hold each its table and its commands' help and flags, `list`
//! the tables `list` prints. The flags live in `cmd/mount_flags.rs`.

pub(crate) mod auth;
mod list;
pub(crate) mod secrets;

use std::collections::BTreeMap;

use arca_client::{Client, MountConfigInput, MountInput, MountOutput};

use super::Ctx;
use super::ctx::{sanitize_path, with_trailing_slash};
use super::mount_flags::{mount_input, tune_input};
use crate::error::{Context, Result};

pub(crate) use self::list::list;

/// One mount table: the API that reaches it and how its commands differ.
pub(crate) struct MountTable {
    /// Which client calls reach the table.
    api: Api,
    /// One mount of the table in messages (`secrets engine`).
    noun: &'static str,
    /// Whether `kv-v2` is shorthand for `-version=2 kv` (secrets engines).
    kv_v2_shorthand: bool,
    /// `enable`'s success line, given the type and the path.
    enabled: fn(&str, &str) -> String,
    /// What a failed `enable` was doing, given the type.
    enabling: fn(&str) -> String,
    /// What a failed `list` was doing.
    listing: &'static str,
    /// Whether the plain `list` table has a `Version` column.
    version_column: bool,
    /// The sixth `list -detailed` column: its header and its cell.
    detail_column: (&'static str, fn(&MountOutput) -> String),
    /// Mount types whose TTLs `list -detailed` leaves blank.
    no_ttl_types: &'static [&'static str],
}

/// The client calls of one table.
#[derive(Debug, Clone, Copy)]
enum Api {
    Mounts,
    Auth,
}

impl Api {
    async fn list(self, client: &Client) -> arca_client::Result<BTreeMap<String, MountOutput>> {
        match self {
            Api::Mounts => client.list_mounts().await,
            Api::Auth => client.list_auth().await,
        }
    }

    async fn enable(
        self,
        client: &Client,
        path: &str,
        input: &MountInput,
    ) -> arca_client::Result<()> {
        match self {
            Api::Mounts => client.enable_mount(path, input).await,
            Api::Auth => client.enable_auth(path, input).await,
        }
    }

    async fn disable(self, client: &Client, path: &str) -> arca_client::Result<()> {
        match self {
            Api::Mounts => client.disable_mount(path).await,
            Api::Auth => client.disable_auth(path).await,
        }
    }

    async fn tune(
        self,
        client: &Client,
        path: &str,
        config: &MountConfigInput,
    ) -> arca_client::Result<()> {
        match self {
            Api::Mounts => client.tune_mount(path, config).await,
            Api::Auth => client.tune_auth(path, config).await,
        }
    }
}

/// `enable [options] TYPE`: mounts TYPE at `-path` (default: TYPE).
pub(crate) async fn enable(ctx: &mut Ctx<'_>, table: &MountTable) -> Result<()> {
    ctx.arity(1, Some(1))?;
    let mut mount_type = ctx.args()[0].trim().to_string();
    let mut version = 0;
    if table.kv_v2_shorthand && mount_type == "kv-v2" {
        mount_type = "kv".into();
        version = 2;
    }
    let path = match ctx.flags.str("path").filter(|p| !p.trim().is_empty()) {
        Some(p) => p.to_string(),
        None => mount_type.clone(),
    };
    let path = with_trailing_slash(&path);
    let client = ctx.client()?;
    let input = mount_input(&ctx.flags, &mount_type, version);
    table
        .api
        .enable(&client, &path, &input)
        .await
        .context((table.enabling)(&mount_type))?;
    ctx.out(&(table.enabled)(&mount_type, &path));
    Ok(())
}

/// `disable PATH`: unmounts what is at PATH.
pub(crate) async fn disable(ctx: &mut Ctx<'_>, table: &MountTable) -> Result<()> {
    let (client, path) = path_arg(ctx)?;
    table
        .api
        .disable(&client, &path)
        .await
        .context(format!("Error disabling {} at {path}", table.noun))?;
    ctx.out(&format!(
        "Success! Disabled the {} (if it existed) at: {path}",
        table.noun
    ));
    Ok(())
}

/// `tune [options] PATH`: changes the settings of what is at PATH.
pub(crate) async fn tune(ctx: &mut Ctx<'_>, table: &MountTable) -> Result<()> {
    let (client, path) = path_arg(ctx)?;
    table
        .api
        .tune(&client, &path, &tune_input(&ctx.flags))
        .await
        .context(format!("Error tuning {} {path}", table.noun))?;
    ctx.out(&format!("Success! Tuned the {} at: {path}", table.noun));
    Ok(())
}

/// The one PATH argument of `disable` and `tune`, with a trailing slash,
/// and the client.
fn path_arg(ctx: &Ctx<'_>) -> Result<(Client, String)> {
    ctx.arity(1, Some(1))?;
    let path = with_trailing_slash(&sanitize_path(&ctx.args()[0]));
    Ok((ctx.client()?, path))
}
