//! `arca operator init`: initializes the server and prints the unseal keys
//! and root token; `-status` only reports whether it is initialized
//! (exit 0 yes, 2 no, 1 error).

use arca_client::sys::InitRequest;
use serde::Serialize;
use serde_json::json;

use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};
use crate::flags::{Flag, Kind};
use crate::output::Format;
use crate::wrap::{MAX_LINE, wrap};

/// Shares and threshold when the flags are not given, as in Vault.
const DEFAULT_SHARES: i64 = 5;
const DEFAULT_THRESHOLD: i64 = 3;

pub(crate) const SPEC: Spec = Spec {
    name: "operator init",
    synopsis: "Initializes a server",
    help: "Usage: arca operator init [options]\n\n  \
           Initializes an Arca server. Initialization is the process by which Arca's\n  \
           storage backend is prepared to receive data. Arca generates an in-memory\n  \
           root key and splits it with Shamir's secret sharing into key shares, a\n  \
           configurable subset of which must come together to unseal the server.\n  \
           These shares are the \"unseal keys\".\n\n  \
           This command cannot be run against an already-initialized server.\n\n  \
           Start initialization with the default options (5 shares, threshold 3):\n\n      \
           $ arca operator init\n\n  \
           Initialize with 3 shares, any 2 of which unseal:\n\n      \
           $ arca operator init -key-shares=3 -key-threshold=2\n\n  \
           Check whether the server is initialized (exit code 0 yes, 2 no):\n\n      \
           $ arca operator init -status",
    flags: &[
        Flag::new(
            "key-shares",
            Kind::Int,
            "Number of key shares to split the generated root key into. This is the number \
             of \"unseal keys\" to generate.",
        )
        .aliases(&["n"])
        .default("5"),
        Flag::new(
            "key-threshold",
            Kind::Int,
            "Number of key shares required to reconstruct the root key. This must be less \
             than or equal to -key-shares.",
        )
        .aliases(&["t"])
        .default("3"),
        Flag::new(
            "status",
            Kind::Bool,
            "Print the current initialization status. An exit code of 0 means the server is \
             already initialized. An exit code of 1 means an error occurred. An exit code of 2 \
             means the server is not initialized.",
        )
        .default("false"),
    ],
};

#[derive(Serialize)]
struct MachineInit<'a> {
    unseal_keys_b64: &'a [String],
    unseal_keys_hex: &'a [String],
    unseal_shares: i64,
    unseal_threshold: i64,
    recovery_keys_b64: Option<Vec<String>>,
    recovery_keys_hex: Option<Vec<String>>,
    recovery_keys_shares: i64,
    recovery_keys_threshold: i64,
    root_token: &'a str,
}

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<i32> {
    ctx.arity(0, Some(0))?;
    let client = ctx.client()?;
    if ctx.flags.bool("status") {
        let initialized = client
            .init_status()
            .await
            .context("Error checking init status")
            .map_err(Error::status_check)?;
        match ctx.format {
            Format::Json => ctx.output_json(&json!({ "initialized": initialized })),
            Format::Table if initialized => ctx.out("Arca is initialized"),
            Format::Table => ctx.out("Arca is not initialized"),
        }
        return Ok(if initialized { 0 } else { 2 });
    }
    client.seal_status().await.map_err(Error::Preflight)?;
    let shares = match ctx.flags.int("key-shares") {
        0 => DEFAULT_SHARES,
        n => n,
    };
    let threshold = match ctx.flags.int("key-threshold") {
        0 => DEFAULT_THRESHOLD,
        n => n,
    };
    let request = InitRequest {
        secret_shares: shares,
        secret_threshold: threshold,
        ..InitRequest::default()
    };
    let resp = client.init(&request).await.context("Error initializing")?;
    if ctx.format == Format::Json {
        let (shares, threshold) = if resp.keys.is_empty() {
            (1, 1)
        } else {
            (shares, threshold)
        };
        ctx.output_json(&MachineInit {
            unseal_keys_b64: &resp.keys_base64,
            unseal_keys_hex: &resp.keys,
            unseal_shares: shares,
            unseal_threshold: threshold,
            recovery_keys_b64: None,
            recovery_keys_hex: None,
            recovery_keys_shares: 0,
            recovery_keys_threshold: 0,
            root_token: &resp.root_token,
        });
        return Ok(0);
    }
    for (i, key) in resp.keys.iter().enumerate() {
        let shown = if resp.keys_base64.len() == resp.keys.len() {
            &resp.keys_base64[i]
        } else {
            key
        };
        ctx.out(&format!("Unseal Key {}: {shown}", i + 1));
    }
    ctx.out("");
    ctx.out(&format!("Initial Root Token: {}", resp.root_token));
    ctx.out("");
    if resp.keys.is_empty() {
        ctx.out("Success! Arca is initialized");
        return Ok(0);
    }
    ctx.out(&wrap(
        &format!(
            "Arca initialized with {shares} key shares and a key threshold of {threshold}. \
             Please securely distribute the key shares printed above. When Arca is re-sealed, \
             restarted, or stopped, you must supply at least {threshold} of these keys to \
             unseal it before it can start servicing requests."
        ),
        MAX_LINE,
    ));
    ctx.out("");
    ctx.out(&wrap(
        &format!(
            "Arca does not store the generated root key. Without at least {threshold} keys to \
             reconstruct the root key, Arca will remain permanently sealed!"
        ),
        MAX_LINE,
    ));
    Ok(0)
}
