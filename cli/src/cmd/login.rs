//! `arca login [TOKEN|-]`: checks a token with `lookup-self` and stores it
//! in the token helper (`~/.vault-token`) unless `-no-store`.
//! `arca login -method=userpass username=U [password=P]` logs in with the
//! userpass method first (the password is read from standard input when
//! not given), as the Vault CLI does. Other methods log in with
//! `arca write auth/<path>/login ...`.

use arca_client::{Secret, SecretAuth};
use serde_json::Value;

use super::ctx::ENV_TOKEN;
use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};
use crate::flags::{Flag, Kind};
use crate::output::Format;
use crate::token_helper;
use crate::wrap::{MAX_LINE, wrap};

pub(crate) const SPEC: Spec = Spec {
    name: "login",
    synopsis: "Authenticate locally",
    help: "Usage: arca login [options] [TOKEN | -]\n\n  \
           Authenticates users or machines to Arca using a token. Upon success, the\n  \
           token is stored in the token helper (~/.vault-token, shared with the vault\n  \
           and bao CLIs), so later commands use it automatically.\n\n  \
           Authenticate with a token:\n\n      \
           $ arca login s.3ec9R2w2NDKa8mh7LZBOpPHt\n\n  \
           Read the token from standard input:\n\n      \
           $ arca login - < token-file\n\n  \
           Check a token without storing it:\n\n      \
           $ arca login -no-store s.3ec9R2w2NDKa8mh7LZBOpPHt\n\n  \
           Log in with a username and password:\n\n      \
           $ arca login -method=userpass username=alice",
    flags: &[
        Flag::new(
            "method",
            Kind::Str,
            "Type of authentication to use: \"token\" or \"userpass\".",
        )
        .default("token"),
        Flag::new(
            "path",
            Kind::Str,
            "Remote path in Arca where the auth method is enabled. This defaults to the \
             TYPE of method (e.g. userpass -> userpass/).",
        ),
        Flag::new(
            "no-store",
            Kind::Bool,
            "Do not persist the token to the token helper (usually the local filesystem) after \
         authentication for use in future requests. The token will only be displayed in the \
         command output.",
        )
        .default("false"),
    ],
};

/// `-method=userpass`: the login's secret (with its `auth` block).
async fn userpass(ctx: &mut Ctx<'_>) -> Result<(Secret, String)> {
    let mut username = None;
    let mut password = None;
    for kv in ctx.args().to_vec() {
        match kv.split_once('=') {
            Some(("username", v)) => username = Some(v.to_string()),
            Some(("password", v)) => password = Some(v.to_string()),
            Some(_) => {}
            None => {
                return Err(Error::Usage(format!(
                    "Error authenticating: invalid key/value pair {kv:?}"
                )));
            }
        }
    }
    let Some(username) = username.filter(|u| !u.is_empty()) else {
        return Err(Error::Usage(
            "Error authenticating: 'username' must be specified".into(),
        ));
    };
    let password = match password {
        Some(p) => p,
        None => {
            if ctx.io.is_terminal() {
                ctx.err("Password (will be hidden): ");
            }
            let read = ctx
                .io
                .read_stdin()
                .map_err(|e| Error::Local(format!("Error reading password: {e}")))?;
            read.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let path = ctx
        .flags
        .str("path")
        .filter(|p| !p.trim().is_empty())
        .unwrap_or("userpass")
        .trim_matches('/')
        .to_string();
    let client = ctx.client()?;
    let body = serde_json::json!({ "password": password });
    let secret = client
        .write(&format!("auth/{path}/login/{username}"), &body)
        .await
        .context("Error authenticating")?
        .ok_or_else(|| {
            Error::Response("Error authenticating: empty response from credential provider".into())
        })?;
    match secret.auth.as_ref().map(|a| a.client_token.clone()) {
        Some(token) if !token.is_empty() => Ok((secret, token)),
        _ => Err(Error::Response(
            "Error authenticating: no token was returned".into(),
        )),
    }
}

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let method = ctx.flags.str("method").unwrap_or("token").to_string();
    let (secret, token) = match method.as_str() {
        "token" => token_login(ctx).await?,
        "userpass" => userpass(ctx).await?,
        other => {
            return Err(Error::Usage(format!(
                "Unknown auth method: {other}. Use \"arca auth list\" to see the complete list of \
                 auth methods. Additionally, some auth methods are only available via the HTTP API."
            )));
        }
    };
    finish(ctx, secret, token)
}

async fn token_login(ctx: &mut Ctx<'_>) -> Result<(Secret, String)> {
    ctx.arity(0, Some(1))?;
    let arg = ctx.args().first().cloned();
    let token = match arg.as_deref() {
        Some(t) if t != "-" => t.trim().to_string(),
        _ => {
            if arg.is_none() && ctx.io.is_terminal() {
                ctx.err("Token (will be read from standard input): ");
            }
            let read = ctx
                .io
                .read_stdin()
                .map_err(|e| Error::Local(format!("Error reading token from stdin: {e}")))?;
            read.trim().to_string()
        }
    };
    if token.is_empty() {
        return Err(Error::Failed(
            "Error authenticating: no token provided".into(),
        ));
    }
    let client = ctx.client()?.with_token(token.clone());
    let lookup = client
        .lookup_self()
        .await
        .context("Error authenticating: error looking up token")?;
    let secret = auth_from_lookup(&lookup, &token);
    Ok((secret, token))
}

/// Stores the token (unless `-no-store`) and prints the login.
fn finish(ctx: &mut Ctx<'_>, secret: Secret, token: String) -> Result<()> {
    let no_store = ctx.flags.bool("no-store");
    if !no_store {
        token_helper::store(ctx.io, &token)
            .map_err(|e| Error::Failed(format!("Error storing token: {e}")))?;
    }
    if let Some((name, _)) = ctx.io.first_var(ENV_TOKEN) {
        let msg = wrap(
            &format!(
                "WARNING! The {name} environment variable is set! The value of this variable \
                 will take precedence; if this is unwanted please unset {name} or update its \
                 value accordingly."
            ),
            MAX_LINE,
        );
        ctx.err(&format!("{msg}\n"));
    }
    if no_store {
        let msg = wrap(
            "The token was not stored in token helper. Set the ARCA_TOKEN environment variable \
             or pass the token below with each request to Arca.",
            MAX_LINE,
        );
        ctx.err(&format!("{msg}\n"));
    }
    if let Some(field) = ctx.field() {
        return ctx.print_field(&secret, &field);
    }
    if ctx.format == Format::Table {
        let msg = wrap(
            "Success! You are now authenticated. The token information displayed below is \
             already stored in the token helper. You do NOT need to run \"arca login\" again. \
             Future Arca requests will automatically use this token.",
            MAX_LINE,
        );
        ctx.out(&format!("{msg}\n"));
    }
    ctx.output_secret(&secret);
    Ok(())
}

/// The `auth` block a token login "returns", built from `lookup-self`
/// data the way the Go CLI's token auth method does.
fn auth_from_lookup(lookup: &Secret, token: &str) -> Secret {
    let strings = |key: &str| -> Option<Vec<String>> {
        lookup.field(key).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
    };
    let token_policies = strings("policies");
    let identity_policies = strings("identity_policies");
    let policies = match (&token_policies, &identity_policies) {
        (None, None) => None,
        (t, i) => Some(
            t.iter()
                .flatten()
                .chain(i.iter().flatten())
                .cloned()
                .collect(),
        ),
    };
    let id = lookup
        .field("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(token);
    Secret {
        auth: Some(SecretAuth {
            client_token: id.to_string(),
            accessor: lookup
                .field("accessor")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            policies,
            token_policies,
            identity_policies,
            lease_duration: lookup.field("ttl").and_then(Value::as_i64).unwrap_or(0),
            renewable: lookup
                .field("renewable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            ..SecretAuth::default()
        }),
        ..Secret::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::secret::{secret_json, secret_table};
    use arca_client::secret::parse_secret;

    #[test]
    fn login_output_matches_bao() {
        let lookup = parse_secret(br#"{"request_id":"x","data":{"accessor":"93G7","id":"s.uBlt","policies":["default","p1"],"renewable":true,"ttl":7200}}"#).unwrap().unwrap();
        let s = auth_from_lookup(&lookup, "s.uBlt");
        assert_eq!(
            secret_table(&s).unwrap(),
            "Key                  Value\n\
             ---                  -----\n\
             token                s.uBlt\n\
             token_accessor       93G7\n\
             token_duration       2h\n\
             token_renewable      true\n\
             token_policies       [\"default\" \"p1\"]\n\
             identity_policies    []\n\
             policies             [\"default\" \"p1\"]"
        );
        let json = secret_json(&s);
        assert!(json.starts_with("{\n  \"request_id\": \"\",\n  \"lease_id\": \"\",\n  \"lease_duration\": 0,\n  \"renewable\": false,\n  \"data\": null,\n  \"warnings\": null,\n  \"auth\": {\n    \"client_token\": \"s.uBlt\",\n    \"accessor\": \"93G7\",\n    \"policies\": [\n      \"default\",\n      \"p1\"\n    ],"), "{json}");
        assert!(json.contains("\"identity_policies\": null,\n    \"metadata\": null,\n    \"orphan\": false,\n    \"entity_id\": \"\",\n    \"lease_duration\": 7200,\n    \"renewable\": true,\n    \"mfa_requirement\": null\n  }\n}"), "{json}");
    }
}
