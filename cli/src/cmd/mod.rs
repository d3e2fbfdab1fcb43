//! The command table: every `arca` subcommand, its help and flags, how a
//! command line finds its command, and the flags every command shares.
//! Each command lives in its own file with a `SPEC` and a `run`, but for
//! the `secrets …` and `auth …` pairs, which share `mounts/`. A `run`
//! returns an [`Error`] when the command fails; [`execute`] prints it and
//! exits with its code.

mod audit_disable;
mod audit_enable;
mod audit_list;
mod ctx;
mod delete;
mod kv_args;
mod kv_delete;
mod kv_destroy;
mod kv_get;
mod kv_list;
mod kv_metadata_delete;
mod kv_metadata_get;
mod kv_metadata_patch;
mod kv_metadata_put;
mod kv_output;
mod kv_patch;
mod kv_path;
mod kv_put;
mod kv_rollback;
mod kv_undelete;
mod lease;
mod list;
mod login;
mod mount_flags;
mod mounts;
mod operator_init;
mod operator_key_status;
mod operator_rotate;
mod operator_seal;
mod operator_unseal;
mod policy_delete;
mod policy_fmt;
mod policy_list;
mod policy_read;
mod policy_write;
mod read;
mod status;
mod token_capabilities;
mod token_create;
mod token_lookup;
mod token_renew;
mod token_revoke;
mod write;

pub(crate) use ctx::Ctx;

use self::mounts::{auth, secrets};
use crate::error::{Error, Result};
use crate::flags::{self, Flag, FlagError, Group, Kind};
use crate::io::Io;
use crate::output::Format;

/// A subcommand: name, help and flags.
pub(crate) struct Spec {
    /// The words that name it (`"token create"`).
    pub(crate) name: &'static str,
    /// One line for command lists.
    pub(crate) synopsis: &'static str,
    /// Usage, description and examples, printed before the flags.
    pub(crate) help: &'static str,
    /// Command-specific flags.
    pub(crate) flags: &'static [Flag],
}

/// A group of subcommands (`arca token …`).
struct CommandGroup {
    name: &'static str,
    synopsis: &'static str,
    help: &'static str,
}

const HTTP_FLAGS: &[Flag] = &[
    Flag::new("address", Kind::Str, "Address of the Arca server.")
        .default(ctx::DEFAULT_ADDRESS)
        .env("ARCA_ADDR"),
    Flag::new(
        "ca-cert",
        Kind::Str,
        "Path on the local disk to a single PEM-encoded CA certificate to verify the Arca \
         server's SSL certificate.",
    )
    .env("ARCA_CACERT"),
    Flag::new(
        "tls-skip-verify",
        Kind::Bool,
        "Disable verification of TLS certificates. Using this option is highly discouraged \
         as it decreases the security of data transmissions to and from the Arca server.",
    )
    .default("false")
    .env("ARCA_SKIP_VERIFY"),
];

const FIELD_FLAG: Flag = Flag::new(
    "field",
    Kind::Str,
    "Print only the field with the given name. Specifying this option will take \
     precedence over other formatting directives. The result will not have a trailing \
     newline making it ideal for piping to other processes.",
);

const FORMAT_FLAG: Flag = Flag::new(
    "format",
    Kind::Str,
    "Print the output in the given format. Valid formats are \"table\" and \"json\".",
)
.default("table")
.env("ARCA_FORMAT");

const OUTPUT_FLAGS: &[Flag] = &[FIELD_FLAG, FORMAT_FLAG];
const FORMAT_ONLY: &[Flag] = &[FORMAT_FLAG];

const SPECS: &[&Spec] = &[
    &read::SPEC,
    &write::SPEC,
    &delete::SPEC,
    &list::SPEC,
    &login::SPEC,
    &status::SPEC,
    &operator_init::SPEC,
    &operator_unseal::SPEC,
    &operator_seal::SPEC,
    &operator_rotate::SPEC,
    &operator_key_status::SPEC,
    &token_create::SPEC,
    &token_lookup::SPEC,
    &token_renew::SPEC,
    &token_revoke::SPEC,
    &token_capabilities::SPEC,
    &policy_write::SPEC,
    &policy_read::SPEC,
    &policy_list::SPEC,
    &policy_delete::SPEC,
    &policy_fmt::SPEC,
    &secrets::ENABLE,
    &secrets::DISABLE,
    &secrets::LIST,
    &secrets::TUNE,
    &auth::ENABLE,
    &audit_enable::SPEC,
    &audit_disable::SPEC,
    &audit_list::SPEC,
    &auth::DISABLE,
    &auth::LIST,
    &auth::TUNE,
    &kv_put::SPEC,
    &kv_get::SPEC,
    &kv_patch::SPEC,
    &kv_delete::SPEC,
    &kv_undelete::SPEC,
    &kv_destroy::SPEC,
    &kv_list::SPEC,
    &kv_rollback::SPEC,
    &kv_metadata_get::SPEC,
    &kv_metadata_put::SPEC,
    &kv_metadata_patch::SPEC,
    &kv_metadata_delete::SPEC,
    &lease::LOOKUP,
    &lease::RENEW,
    &lease::REVOKE,
];

const GROUPS: &[CommandGroup] = &[
    CommandGroup {
        name: "audit",
        synopsis: "Interact with audit devices",
        help: "Usage: arca audit <subcommand> [options] [args]\n\n  \
               This command groups subcommands for interacting with Arca's audit devices.\n  \
               Users can list, enable, and disable audit devices.\n\n  \
               List all enabled audit devices:\n\n      $ arca audit list\n\n  \
               Enable a new audit device \"file\":\n\n      $ arca audit enable file file_path=/var/log/audit.log\n\n  \
               Please see the individual subcommand help for detailed usage information.",
    },
    CommandGroup {
        name: "auth",
        synopsis: "Interact with auth methods",
        help: "Usage: arca auth <subcommand> [options] [args]\n\n  \
               This command groups subcommands for interacting with Arca's auth methods.\n  \
               Users can list, enable, disable, and tune auth methods.\n\n  \
               List all enabled auth methods:\n\n      $ arca auth list\n\n  \
               Enable a new auth method \"userpass\":\n\n      $ arca auth enable userpass\n\n  \
               Please see the individual subcommand help for detailed usage information.",
    },
    CommandGroup {
        name: "kv",
        synopsis: "Interact with Arca's Key-Value storage",
        help: "Usage: arca kv <subcommand> [options] [args]\n\n  \
               This command has subcommands for interacting with Arca's key-value\n  \
               store. Here are some simple examples; more detailed examples are available\n  \
               in the subcommands or the documentation.\n\n  \
               Create or update the key named \"foo\" in the \"secret\" mount with the value\n  \
               \"bar=baz\":\n\n      $ arca kv put -mount=secret foo bar=baz\n\n  \
               Read this value back:\n\n      $ arca kv get -mount=secret foo\n\n  \
               Get metadata for the key:\n\n      $ arca kv metadata get -mount=secret foo\n\n  \
               Get a specific version of the key:\n\n      \
               $ arca kv get -mount=secret -version=1 foo\n\n  \
               The deprecated path-like syntax can also be used, but this should be avoided\n  \
               for KV v2, as the fact that it is not actually the full API path to\n  \
               the secret (secret/data/foo) can cause confusion:\n\n      \
               $ arca kv get secret/foo\n\n  \
               Please see the individual subcommand help for detailed usage information.",
    },
    CommandGroup {
        name: "kv metadata",
        synopsis: "Interact with Arca's Key-Value storage",
        help: "Usage: arca kv metadata <subcommand> [options] [args]\n\n  \
               This command has subcommands for interacting with the metadata endpoint in\n  \
               Arca's key-value store. Here are some simple examples; more detailed\n  \
               examples are available in the subcommands or the documentation.\n\n  \
               Create or update a metadata entry for a key:\n\n      \
               $ arca kv metadata put -mount=secret -max-versions=5 -delete-version-after=3h25m19s foo\n\n  \
               Get the metadata for a key, this provides information about each existing\n  \
               version:\n\n      $ arca kv metadata get -mount=secret foo\n\n  \
               Delete a key and all existing versions:\n\n      \
               $ arca kv metadata delete -mount=secret foo\n\n  \
               The deprecated path-like syntax can also be used, but this should be avoided\n  \
               for KV v2, as the fact that it is not actually the full API path to\n  \
               the secret (secret/metadata/foo) can cause confusion:\n\n      \
               $ arca kv metadata get secret/foo\n\n  \
               Please see the individual subcommand help for detailed usage information.",
    },
    CommandGroup {
        name: "lease",
        synopsis: "Interact with leases",
        help: "Usage: arca lease <subcommand> [options] [args]\n\n  \
               This command groups subcommands for interacting with leases. Users can revoke\n  \
               or renew leases.\n\n  \
               Renew a lease:\n\n      $ arca lease renew database/creds/readonly/2f6a614c...\n\n  \
               Revoke a lease:\n\n      $ arca lease revoke database/creds/readonly/2f6a614c...",
    },
    CommandGroup {
        name: "operator",
        synopsis: "Perform operator-specific tasks",
        help: "Usage: arca operator <subcommand> [options] [args]\n\n  \
               This command groups subcommands for operators interacting with Arca. Most\n  \
               users will not need to interact with these commands.\n\n  \
               Initialize a new Arca cluster:\n\n      $ arca operator init\n\n  \
               Unseal the server:\n\n      $ arca operator unseal\n\n  \
               Rotate the encryption key:\n\n      $ arca operator rotate\n\n  \
               Please see the individual subcommand help for detailed usage information.",
    },
    CommandGroup {
        name: "policy",
        synopsis: "Interact with policies",
        help: "Usage: arca policy <subcommand> [options] [args]\n\n  \
               This command groups subcommands for interacting with policies. Users can\n  \
               write, read, and list policies in Arca.\n\n  \
               List all enabled policies:\n\n      $ arca policy list\n\n  \
               Create a policy named \"my-policy\" from contents on local disk:\n\n      \
               $ arca policy write my-policy ./my-policy.hcl\n\n  \
               Delete the policy named my-policy:\n\n      $ arca policy delete my-policy\n\n  \
               Please see the individual subcommand help for detailed usage information.",
    },
    CommandGroup {
        name: "secrets",
        synopsis: "Interact with secrets engines",
        help: "Usage: arca secrets <subcommand> [options] [args]\n\n  \
               This command groups subcommands for interacting with Arca's secrets engines.\n  \
               Each secret engine behaves differently. Please see the documentation for\n  \
               more information.\n\n  \
               List all enabled secrets engines:\n\n      $ arca secrets list\n\n  \
               Enable a new secrets engine:\n\n      $ arca secrets enable database\n\n  \
               Please see the individual subcommand help for detailed usage information.",
    },
    CommandGroup {
        name: "token",
        synopsis: "Interact with tokens",
        help: "Usage: arca token <subcommand> [options] [args]\n\n  \
               This command groups subcommands for interacting with tokens. Users can\n  \
               create, lookup, renew, and revoke tokens.\n\n  \
               Create a new token:\n\n      $ arca token create\n\n  \
               Revoke a token:\n\n      $ arca token revoke s.8Jq7hxy0lfkHOX5uCrD0sKSk\n\n  \
               Renew a token:\n\n      $ arca token renew s.8Jq7hxy0lfkHOX5uCrD0sKSk\n\n  \
               Please see the individual subcommand help for detailed usage information.",
    },
];

fn is_help(arg: &str) -> bool {
    matches!(arg, "-h" | "-help" | "--help" | "--h" | "help")
}

/// Top-level help: the command list.
fn main_help() -> String {
    let common = [
        "read", "write", "delete", "list", "login", "server", "status",
    ];
    let mut out = String::from("Usage: arca <command> [args]\n\nCommon commands:\n");
    for name in common {
        let synopsis = match name {
            "server" => "Start an Arca server",
            _ => SPECS
                .iter()
                .find(|s| s.name == name)
                .map_or("", |s| s.synopsis),
        };
        out.push_str(&format!("    {name:<11} {synopsis}\n"));
    }
    out.push_str("\nOther commands:\n");
    // Nested groups (`kv metadata`) are listed by their parent.
    for g in GROUPS.iter().filter(|g| !g.name.contains(' ')) {
        out.push_str(&format!("    {:<11} {}\n", g.name, g.synopsis));
    }
    out.push_str(&format!(
        "    {:<11} {}\n",
        "version", "Prints the Arca version"
    ));
    out.trim_end().to_string()
}

fn group_help(group: &CommandGroup) -> String {
    let prefix = format!("{} ", group.name);
    // Direct children only: a nested group (`kv metadata`) is one line with
    // its own synopsis, its commands are listed in its own help.
    let mut children: Vec<(String, &str)> = Vec::new();
    for s in SPECS.iter().filter(|s| s.name.starts_with(&prefix)) {
        let rest = &s.name[prefix.len()..];
        let (word, synopsis) = match rest.split_once(' ') {
            Some((word, _)) => {
                let nested = format!("{prefix}{word}");
                let synopsis = GROUPS
                    .iter()
                    .find(|g| g.name == nested)
                    .map_or("", |g| g.synopsis);
                (word, synopsis)
            }
            None => (rest, s.synopsis),
        };
        if !children.iter().any(|(w, _)| w == word) {
            children.push((word.to_string(), synopsis));
        }
    }
    let width = children.iter().map(|(w, _)| w.len()).max().unwrap_or(0);
    let mut out = format!("{}\n\nSubcommands:\n", group.help);
    let mut lines: Vec<String> = children
        .iter()
        .map(|(w, syn)| format!("    {w:<width$}    {syn}"))
        .collect();
    lines.sort();
    out.push_str(&lines.join("\n"));
    out
}

/// The output flags a command takes. The Go CLI gives the `kv` commands
/// different sets (no `-field` where there is nothing to pick a field
/// from, none at all on `kv metadata delete`); Arca follows it so that
/// the same command lines are accepted and refused.
fn output_flags(spec: &Spec) -> &'static [Flag] {
    match spec.name {
        "kv metadata delete" | "lease revoke" => &[],
        "lease lookup" => FORMAT_ONLY,
        "kv undelete" | "kv destroy" | "kv list" | "kv rollback" | "kv metadata get"
        | "kv metadata put" | "kv metadata patch" => FORMAT_ONLY,
        _ => OUTPUT_FLAGS,
    }
}

fn groups_for(spec: &Spec) -> [Group; 3] {
    [
        Group {
            title: "HTTP Options",
            flags: HTTP_FLAGS,
        },
        Group {
            title: "Output Options",
            flags: output_flags(spec),
        },
        Group {
            title: "Command Options",
            flags: spec.flags,
        },
    ]
}

/// A command's full help: its text, then its flags.
pub(crate) fn command_help(spec: &Spec) -> String {
    format!("{}\n\n{}", spec.help, flags::help(&groups_for(spec)))
        .trim_end()
        .to_string()
}

/// What a command's `run` gives back when it did not fail: `()` is exit
/// code 0; an `i32` is an exit code that reports an outcome rather than an
/// error (`status` exits 2 when the server is sealed).
trait Outcome {
    fn exit_code(self) -> i32;
}

impl Outcome for () {
    fn exit_code(self) -> i32 {
        0
    }
}

impl Outcome for i32 {
    fn exit_code(self) -> i32 {
        self
    }
}

/// Runs one command line (without the program name). The one place a
/// failed command is printed and becomes its exit code.
pub(crate) async fn execute(args: Vec<String>, io: &mut Io) -> i32 {
    match find_and_run(&args, io).await {
        Ok(code) => code,
        Err(e) => {
            io.err(&e.to_string());
            e.exit_code()
        }
    }
}

async fn find_and_run(args: &[String], io: &mut Io) -> Result<i32> {
    let Some(first) = args.first() else {
        return Err(Error::Usage(main_help()));
    };
    if is_help(first) {
        io.out(&main_help());
        return Ok(0);
    }
    if matches!(first.as_str(), "version" | "-version" | "--version" | "-v") {
        io.out(&format!("Arca v{}", env!("CARGO_PKG_VERSION")));
        return Ok(0);
    }
    // The longest run of words that names a command wins (`kv metadata
    // get` over a `kv` group); then the longest that names a group.
    for words in (1..=args.len().min(3)).rev() {
        let name = args[..words].join(" ");
        if let Some(spec) = SPECS.iter().find(|s| s.name == name) {
            return run_spec(spec, &args[words..], io).await;
        }
    }
    for words in (1..=args.len().min(2)).rev() {
        let name = args[..words].join(" ");
        if let Some(group) = GROUPS.iter().find(|g| g.name == name) {
            if args.get(words).is_some_and(|a| is_help(a)) {
                io.out(&group_help(group));
                return Ok(0);
            }
            return Err(Error::Usage(group_help(group)));
        }
    }
    Err(Error::Usage(main_help()))
}

async fn run_spec(spec: &Spec, args: &[String], io: &mut Io) -> Result<i32> {
    let parsed = match flags::parse(&groups_for(spec), args) {
        Ok(p) => p,
        Err(FlagError::Help) => {
            io.out(&command_help(spec));
            return Ok(0);
        }
        Err(FlagError::Invalid(msg)) => return Err(Error::Usage(msg)),
    };
    let format_name = parsed
        .str("format")
        .map(str::to_string)
        .or_else(|| io.first_var(ctx::ENV_FORMAT).map(|(_, v)| v))
        .unwrap_or_else(|| "table".to_string());
    let Some(format) = Format::parse(&format_name) else {
        return Err(Error::Usage(format!(
            "Invalid output format: {format_name}"
        )));
    };
    let mut ctx = Ctx {
        io,
        flags: parsed,
        format,
    };
    dispatch(spec.name, &mut ctx).await
}

async fn dispatch(name: &str, ctx: &mut Ctx<'_>) -> Result<i32> {
    let code = match name {
        "read" => read::run(ctx).await?.exit_code(),
        "write" => write::run(ctx).await?.exit_code(),
        "delete" => delete::run(ctx).await?.exit_code(),
        "list" => list::run(ctx).await?.exit_code(),
        "login" => login::run(ctx).await?.exit_code(),
        "status" => status::run(ctx).await?.exit_code(),
        "operator init" => operator_init::run(ctx).await?.exit_code(),
        "operator unseal" => operator_unseal::run(ctx).await?.exit_code(),
        "operator seal" => operator_seal::run(ctx).await?.exit_code(),
        "operator rotate" => operator_rotate::run(ctx).await?.exit_code(),
        "operator key-status" => operator_key_status::run(ctx).await?.exit_code(),
        "token create" => token_create::run(ctx).await?.exit_code(),
        "token lookup" => token_lookup::run(ctx).await?.exit_code(),
        "token renew" => token_renew::run(ctx).await?.exit_code(),
        "token revoke" => token_revoke::run(ctx).await?.exit_code(),
        "token capabilities" => token_capabilities::run(ctx).await?.exit_code(),
        "policy write" => policy_write::run(ctx).await?.exit_code(),
        "policy read" => policy_read::run(ctx).await?.exit_code(),
        "policy list" => policy_list::run(ctx).await?.exit_code(),
        "policy delete" => policy_delete::run(ctx).await?.exit_code(),
        "policy fmt" => policy_fmt::run(ctx)?.exit_code(),
        "secrets enable" => mounts::enable(ctx, &secrets::TABLE).await?.exit_code(),
        "secrets disable" => mounts::disable(ctx, &secrets::TABLE).await?.exit_code(),
        "secrets list" => mounts::list(ctx, &secrets::TABLE).await?.exit_code(),
        "secrets tune" => mounts::tune(ctx, &secrets::TABLE).await?.exit_code(),
        "auth enable" => mounts::enable(ctx, &auth::TABLE).await?.exit_code(),
        "auth disable" => mounts::disable(ctx, &auth::TABLE).await?.exit_code(),
        "auth list" => mounts::list(ctx, &auth::TABLE).await?.exit_code(),
        "auth tune" => mounts::tune(ctx, &auth::TABLE).await?.exit_code(),
        "audit enable" => audit_enable::run(ctx).await?.exit_code(),
        "audit disable" => audit_disable::run(ctx).await?.exit_code(),
        "audit list" => audit_list::run(ctx).await?.exit_code(),
        "kv put" => kv_put::run(ctx).await?.exit_code(),
        "kv get" => kv_get::run(ctx).await?.exit_code(),
        "kv patch" => kv_patch::run(ctx).await?.exit_code(),
        "kv delete" => kv_delete::run(ctx).await?.exit_code(),
        "kv undelete" => kv_undelete::run(ctx).await?.exit_code(),
        "kv destroy" => kv_destroy::run(ctx).await?.exit_code(),
        "kv list" => kv_list::run(ctx).await?.exit_code(),
        "kv rollback" => kv_rollback::run(ctx).await?.exit_code(),
        "kv metadata get" => kv_metadata_get::run(ctx).await?.exit_code(),
        "kv metadata put" => kv_metadata_put::run(ctx).await?.exit_code(),
        "kv metadata patch" => kv_metadata_patch::run(ctx).await?.exit_code(),
        "kv metadata delete" => kv_metadata_delete::run(ctx).await?.exit_code(),
        "lease lookup" => lease::lookup(ctx).await?.exit_code(),
        "lease renew" => lease::renew(ctx).await?.exit_code(),
        "lease revoke" => lease::revoke(ctx).await?.exit_code(),
        // Unreachable: every SPECS entry has an arm above (a test checks it).
        other => return Err(Error::Usage(format!("unknown command {other:?}"))),
    };
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> (i32, String, String) {
        let mut io = Io::memory(&[], b"");
        let args = args.iter().map(|s| s.to_string()).collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let code = rt.block_on(execute(args, &mut io));
        (code, io.stdout_text(), io.stderr_text())
    }

    #[test]
    fn every_command_has_help_and_a_dispatch_arm() {
        for spec in SPECS {
            let mut args: Vec<&str> = spec.name.split(' ').collect();
            args.push("-h");
            let (code, out, err) = run(&args);
            assert_eq!(code, 0, "{}", spec.name);
            assert!(
                out.starts_with(&format!("Usage: arca {}", spec.name)),
                "{out}"
            );
            assert!(out.contains("-address=<string>"), "{}", spec.name);
            assert!(err.is_empty());
        }
        for group in GROUPS {
            assert!(
                SPECS
                    .iter()
                    .any(|s| s.name.starts_with(&format!("{} ", group.name)))
            );
        }
    }

    #[test]
    fn help_and_unknown_commands() {
        let (code, out, _) = run(&["--help"]);
        assert_eq!(code, 0);
        assert!(out.contains("Common commands:") && out.contains("    token "));
        let (code, out, err) = run(&["nosuch"]);
        assert_eq!((code, out.as_str()), (1, ""));
        assert!(err.starts_with("Usage: arca <command>"));
        let (code, _, err) = run(&["token"]);
        assert_eq!(code, 1);
        assert!(err.contains("Subcommands:\n    capabilities    "), "{err}");
        let (code, out, _) = run(&["token", "-h"]);
        assert_eq!(code, 0);
        assert!(out.contains("    revoke          "));
        let (code, _, err) = run(&[]);
        assert_eq!(code, 1);
        assert!(err.starts_with("Usage:"));
        // Groups nest: `kv` lists `metadata` once, `kv metadata` its own.
        let (_, out, _) = run(&["--help"]);
        assert!(
            out.contains("    kv ") && !out.contains("kv metadata"),
            "{out}"
        );
        let (code, _, err) = run(&["kv"]);
        assert_eq!(code, 1);
        let subs = err.split("Subcommands:\n").nth(1).unwrap();
        assert_eq!(subs.matches("    metadata ").count(), 1, "{err}");
        assert!(!subs.contains("metadata get"), "{err}");
        let (code, out, _) = run(&["kv", "metadata", "-h"]);
        assert_eq!(code, 0);
        assert!(out.contains("Subcommands:\n    delete    "), "{out}");
        let (code, out, _) = run(&["kv", "metadata", "get", "-h"]);
        assert_eq!(code, 0);
        assert!(out.starts_with("Usage: arca kv metadata get "), "{out}");
        assert!(!out.contains("-field"), "{out}");
    }

    #[test]
    fn flag_errors_exit_1() {
        let (code, _, err) = run(&["token", "capabilities", "-bogus", "secret/foo"]);
        assert_eq!(
            (code, err.as_str()),
            (1, "flag provided but not defined: -bogus\n")
        );
        let (code, _, err) = run(&["status", "-format=yaml"]);
        assert_eq!((code, err.as_str()), (1, "Invalid output format: yaml\n"));
    }
}
