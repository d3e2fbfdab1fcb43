//! The error every request path returns, and the messages a client is
//! told for it (`Error::messages`: the body's `errors`, also what the audit
//! log records). Only `http::error` turns it into a status code.

use crate::barrier;
use crate::storage;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Vault is sealed")]
    Sealed,
    #[error("Vault is not initialized")]
    NotInitialized,
    /// No token, or a token that does not exist (Vault answers a bare
    /// "permission denied" before any backend is involved).
    #[error("permission denied")]
    PermissionDenied,
    /// A valid token whose policies do not grant the operation.
    #[error("permission denied")]
    Forbidden,
    /// A message that is itself a 403 (e.g. "bad token").
    #[error("{0}")]
    ForbiddenMsg(String),
    /// The client's request is wrong: 400 with this message.
    #[error("{0}")]
    InvalidRequest(String),
    /// A 400 that Vault reports through its multi-error wrapper.
    #[error("{0}")]
    InvalidRequestWrapped(String),
    /// No mount at this path.
    #[error("no handler for route {0:?}. route entry not found.")]
    NoRoute(String),
    /// A named thing that is not there, where Vault says so in its
    /// multi-error wrapper (404).
    #[error("{0}")]
    NotFoundWrapped(String),
    /// A mount exists but has no such path.
    #[error("unsupported path")]
    UnsupportedPath,
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// An HTTP method the endpoint does not take: 405 with no message.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Nothing there: 404 with an empty error list.
    #[error("not found")]
    NotFound,
    #[error("http: request body too large")]
    TooLarge,
    /// A body in a format the endpoint does not take: 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("failed to decode JSON input: {0}")]
    BadJson(String),
    /// Over a rate-limit quota; the path that was refused.
    #[error("request path {0:?}: rate limit quota exceeded")]
    RateLimited(String),
    /// A lease-count quota is full: 429, Vault's words.
    #[error("lease count quota exceeded")]
    LeaseCountExceeded,
    /// The audit table holds devices but none of them could be set up, so
    /// the server will not unseal (it would serve unaudited). The message
    /// names the devices and what is wrong with them; it holds no secret.
    #[error("failed to setup audit table: {0}")]
    AuditSetup(String),
    /// A service behind a mount (a database) failed: 500 with its message,
    /// which the engine has already freed of secrets.
    #[error("{0}")]
    Upstream(String),
    /// The request was not answered within `max_request_duration` (its
    /// work goes on in the background). Vault's words for it.
    #[error("context deadline exceeded")]
    RequestTimeout,
    /// Server-side failure; the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Vault's multi-error rendering, which it uses for errors raised inside
/// request handling ("1 error occurred:\n\t* permission denied\n\n").
pub fn wrapped(msg: &str) -> String {
    format!("1 error occurred:\n\t* {msg}\n\n")
}

impl Error {
    /// What the client is told, Vault's `errors` list. Every variant is
    /// matched, so a new one forces a decision. An internal error's detail
    /// is never in it (http/error.rs logs it).
    pub fn messages(&self) -> Vec<String> {
        match self {
            Error::Sealed => vec!["Vault is sealed".into()],
            Error::NotInitialized => vec!["Vault is not initialized".into()],
            Error::PermissionDenied => vec!["permission denied".into()],
            Error::Forbidden => vec![wrapped("permission denied")],
            Error::ForbiddenMsg(m) | Error::InvalidRequest(m) | Error::UnsupportedMediaType(m) => {
                vec![m.clone()]
            }
            Error::InvalidRequestWrapped(m) | Error::Upstream(m) | Error::NotFoundWrapped(m) => {
                vec![wrapped(m)]
            }
            Error::UnsupportedPath => vec![wrapped("unsupported path")],
            Error::UnsupportedOperation => vec![wrapped("unsupported operation")],
            Error::NotFound | Error::MethodNotAllowed => vec![],
            Error::NoRoute(_)
            | Error::TooLarge
            | Error::BadJson(_)
            | Error::RateLimited(_)
            | Error::LeaseCountExceeded
            | Error::AuditSetup(_)
            | Error::RequestTimeout => vec![self.to_string()],
            Error::Internal(_) => vec!["internal error".into()],
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidRequest(msg.into())
    }

    pub fn internal(msg: impl std::fmt::Display) -> Self {
        Self::Internal(msg.to_string())
    }
}

impl From<barrier::Error> for Error {
    fn from(e: barrier::Error) -> Self {
        match e {
            barrier::Error::Sealed => Self::Sealed,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<storage::Error> for Error {
    fn from(e: storage::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<crate::duration::DurationError> for Error {
    fn from(e: crate::duration::DurationError) -> Self {
        Self::InvalidRequest(e.to_string())
    }
}
