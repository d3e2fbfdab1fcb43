//! How the `kv` commands turn their argument into API paths, the way the
//! Go CLI does: `MOUNT/KEY` or `-mount=MOUNT KEY`, a preflight request
//! (`sys/internal/ui/mounts/<path>`) that names the mount and its KV
//! version, then `MOUNT/data/KEY` (or `metadata/`, `delete/`, …) for v2
//! and the path itself for v1. Go's `path.Join` cleans the v2 paths, so
//! `secret/a/../b/` becomes `secret/data/b`; that is reproduced here.

use arca_client::Client;

use super::Ctx;
use crate::error::{Error, Result};
use crate::flags::{Flag, Kind};

/// The `-mount` flag every `kv` command takes.
pub(crate) const MOUNT_FLAG: Flag = Flag::new(
    "mount",
    Kind::Str,
    "Specifies the path where the KV backend is mounted. If specified, the next argument \
     will be interpreted as the secret path. If this flag is not specified, the next \
     argument will be interpreted as the combined mount path and secret path, with /data/ \
     automatically appended between KV v2 secrets.",
);

/// `-mount` as the `metadata` commands word it.
pub(crate) const METADATA_MOUNT_FLAG: Flag = Flag::new(
    "mount",
    Kind::Str,
    "Specifies the path where the KV backend is mounted. If specified, the next argument \
     will be interpreted as the secret path. If this flag is not specified, the next \
     argument will be interpreted as the combined mount path and secret path, with \
     /metadata/ automatically appended between KV v2 secrets.",
);

/// What a `kv` command's argument resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KvTarget {
    /// The mount as the server reported it (`secret/`), or `""`.
    pub(crate) mount: String,
    /// Whether the mount is KV version 2.
    pub(crate) v2: bool,
    /// The path with the mount in front (`secret/foo`).
    partial: String,
    /// Whether the mount came from `-mount`.
    mount_flag: bool,
}

impl KvTarget {
    /// The path of a v2 endpoint: `<mount>/<api>/<key>`.
    pub(crate) fn v2_path(&self, api: &str) -> String {
        add_prefix(&self.partial, &self.mount, api)
    }

    /// The path of a v1 secret.
    pub(crate) fn v1_path(&self) -> String {
        if self.mount_flag {
            join(&[&self.mount, &self.partial])
        } else {
            self.partial.clone()
        }
    }

    /// `v2_path(api)` on v2 mounts, the v1 path otherwise.
    pub(crate) fn path(&self, api: &str) -> String {
        if self.v2 {
            self.v2_path(api)
        } else {
            self.v1_path()
        }
    }
}

/// How the argument is trimmed: `kv get` only drops a leading slash, the
/// other commands use the CLI's `sanitizePath`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgStyle {
    Sanitized,
    LeadingSlash,
}

/// Resolves `arg` (with `-mount`, if given) against the server.
pub(crate) async fn resolve(
    ctx: &Ctx<'_>,
    client: &Client,
    arg: &str,
    style: ArgStyle,
) -> Result<KvTarget> {
    let mount_flag = ctx.flags.str("mount").filter(|m| !m.is_empty());
    let partial = match style {
        ArgStyle::Sanitized => sanitize(arg),
        ArgStyle::LeadingSlash => arg.strip_prefix('/').unwrap_or(arg).to_string(),
    };
    let lookup = match mount_flag {
        Some(m) => sanitize(m),
        None => partial.clone(),
    };
    let mount = client
        .kv_preflight(&lookup)
        .await
        .map_err(Error::Preflight)?;
    let v2 = mount.is_v2();
    let partial = if mount_flag.is_some() && v2 {
        join(&[&mount.path, &partial])
    } else {
        partial
    };
    Ok(KvTarget {
        mount: mount.path,
        v2,
        partial,
        mount_flag: mount_flag.is_some(),
    })
}

/// The client, and `arg` resolved with it.
pub(crate) async fn connect(
    ctx: &Ctx<'_>,
    arg: &str,
    style: ArgStyle,
) -> Result<(Client, KvTarget)> {
    let client = ctx.client()?;
    let target = resolve(ctx, &client, arg, style).await?;
    Ok((client, target))
}

/// The KEY of a `kv metadata` command: the client, and the key's
/// `metadata/` path, which only KV v2 mounts have.
pub(crate) async fn metadata_path(ctx: &Ctx<'_>) -> Result<(Client, String)> {
    ctx.arity(1, Some(1))?;
    let (client, target) = connect(ctx, &ctx.args()[0], ArgStyle::Sanitized).await?;
    if !target.v2 {
        return Err(Error::Usage(
            "Metadata not supported on KV Version 1".into(),
        ));
    }
    Ok((client, target.v2_path("metadata")))
}

/// The Go CLI's `sanitizePath`: trimmed, one leading and one trailing
/// slash removed.
pub(crate) fn sanitize(p: &str) -> String {
    let p = p.trim();
    let p = p.strip_prefix('/').unwrap_or(p);
    p.strip_suffix('/').unwrap_or(p).to_string()
}

/// Go's `path.Clean`.
pub(crate) fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Join`: the non-empty elements joined with `/`, cleaned;
/// `""` when all are empty.
pub(crate) fn join(elems: &[&str]) -> String {
    let parts: Vec<&str> = elems.iter().copied().filter(|e| !e.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    clean(&parts.join("/"))
}

/// The Go CLI's `addPrefixToKVPath` (without its namespace handling,
/// which Arca has no use for): `secret/foo` under mount `secret/` with
/// `data` is `secret/data/foo`.
pub(crate) fn add_prefix(path: &str, mount: &str, api: &str) -> String {
    if path == mount || path == mount.trim_end_matches('/') {
        return join(&[mount, api]);
    }
    let suffix = path.strip_prefix(mount).unwrap_or(path);
    join(&[mount, api, suffix])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_functions() {
        assert_eq!(clean(""), ".");
        assert_eq!(clean("a//b/./c/"), "a/b/c");
        assert_eq!(clean("a/../../b"), "../b");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("a/.."), ".");
        assert_eq!(join(&["secret/", "foo"]), "secret/foo");
        assert_eq!(join(&["", ""]), "");
        assert_eq!(join(&["", "a/"]), "a");
        assert_eq!(sanitize(" /a/b// "), "a/b/");
    }

    #[test]
    fn kv_paths_like_the_go_cli() {
        assert_eq!(
            add_prefix("secret/foo", "secret/", "data"),
            "secret/data/foo"
        );
        assert_eq!(
            add_prefix("secret", "secret/", "metadata"),
            "secret/metadata"
        );
        assert_eq!(add_prefix("secret/", "secret/", "data"), "secret/data");
        assert_eq!(
            add_prefix("secret/a/../b/", "secret/", "data"),
            "secret/data/b"
        );
        assert_eq!(
            add_prefix("team/kv/x/y", "team/kv/", "delete"),
            "team/kv/delete/x/y"
        );
        let t = KvTarget {
            mount: "kv/".into(),
            v2: false,
            partial: "a/b".into(),
            mount_flag: true,
        };
        assert_eq!(t.v1_path(), "kv/a/b");
        assert_eq!(t.path("data"), "kv/a/b");
        let t = KvTarget {
            mount: "secret/".into(),
            v2: true,
            partial: "secret/a".into(),
            mount_flag: false,
        };
        assert_eq!(t.path("metadata"), "secret/metadata/a");
        assert_eq!(t.v1_path(), "secret/a");
    }
}
