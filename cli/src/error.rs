//! What can go wrong in a command, and the exit code each failure gives.
//! Commands return [`Error`]; only the command table (`cmd::execute`)
//! prints one (its `Display` is the Go CLI's message, on stderr) and turns
//! it into the exit code, through [`Error::exit_code`].
//!
//! The codes are the Go CLI's: 1 for a mistake on this side (the command
//! line, a local file), 2 for a failure once the server is involved. Where
//! the Go CLI returns 2 for a local mistake, [`Error::Failed`] says so.

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The command line is wrong: the arguments, the flags, their `K=V`
    /// data, or what they name does not take this command (a KV v1
    /// mount for `kv destroy` or `kv metadata`). The message is the usage
    /// text where there is no more precise one.
    #[error("{0}")]
    Usage(String),
    /// A local file or stdin could not be read or written, or holds an
    /// invalid policy.
    #[error("{0}")]
    Local(String),
    /// `-field` names a field that is not there.
    #[error("Field {field:?} not present in {container}")]
    NoField {
        field: String,
        /// `secret`, or `map` for the data of a KV v2 secret.
        container: &'static str,
    },
    /// The flags and the environment do not give a usable client.
    #[error("{0}")]
    Client(String),
    /// A request made before the command's own failed (the KV mount
    /// lookup, `operator init`'s seal-status probe); the Go CLI prints the
    /// client's error alone there.
    #[error(transparent)]
    Preflight(arca_client::Error),
    /// The command's request failed: refused by the server, or no answer.
    #[error("{context}: {source}")]
    Api {
        /// What was being done (`Error reading secret/foo`).
        context: String,
        source: arca_client::Error,
    },
    /// The server answered, but not with what the command needs: nothing
    /// at the path, an unexpected shape, a KV v1 mount where only v2 will
    /// do (`kv patch`, `kv rollback`), a deleted version.
    #[error("{0}")]
    Response(String),
    /// A failure the Go CLI reports with exit code 2 though the server is
    /// not at fault: reading the policy file of `policy write`, storing
    /// the token after a login, an empty token, an unknown
    /// `kv patch -method`.
    #[error("{0}")]
    Failed(String),
    /// Any failure of a command whose exit code 2 reports a state
    /// (`status`: sealed; `operator init -status`: not initialized), and
    /// of the seal-status printer `status` shares with `operator unseal`:
    /// 1, whatever went wrong, as in the Go CLI.
    #[error(transparent)]
    StatusCheck(Box<Error>),
}

/// A command's result.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps `self` for a command whose exit code 2 reports a state.
    pub(crate) fn status_check(self) -> Self {
        Self::StatusCheck(Box::new(self))
    }

    /// The process's exit code for this failure.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Local(_) | Error::NoField { .. } | Error::StatusCheck(_) => 1,
            Error::Client(_)
            | Error::Preflight(_)
            | Error::Api { .. }
            | Error::Response(_)
            | Error::Failed(_) => 2,
        }
    }
}

/// Names what a failed request was doing, in the Go CLI's words.
pub(crate) trait Context<T> {
    /// `Err(e)` becomes [`Error::Api`], printed `{context}: {e}`.
    fn context(self, context: impl Into<String>) -> Result<T>;
}

impl<T> Context<T> for Result<T, arca_client::Error> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|source| Error::Api {
            context: context.into(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_exit_codes() {
        let api = || arca_client::Error::EmptyResponse {
            method: "GET".into(),
            url: "http://x/v1/a".into(),
        };
        let cases = [
            (Error::Usage("Not enough".into()), 1, "Not enough"),
            (
                Error::NoField {
                    field: "f".into(),
                    container: "secret",
                },
                1,
                "Field \"f\" not present in secret",
            ),
            (
                Err::<(), _>(api()).context("Error reading a").unwrap_err(),
                2,
                "Error reading a: empty response from GET http://x/v1/a",
            ),
            (
                Error::Preflight(api()),
                2,
                "empty response from GET http://x/v1/a",
            ),
            (
                Error::Client("could not parse ARCA_SKIP_VERIFY".into()),
                2,
                "could not parse ARCA_SKIP_VERIFY",
            ),
            (Error::Client("x".into()).status_check(), 1, "x"),
        ];
        for (e, code, message) in cases {
            assert_eq!((e.exit_code(), e.to_string().as_str()), (code, message));
        }
    }
}
