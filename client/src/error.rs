//! Everything that can go wrong talking to a Vault-compatible server.
//!
//! [`Error::Api`] renders exactly like the Go API client's `ResponseError`
//! (which the `vault`/`bao` CLIs print), because scripts and humans grep for
//! that text: `Error making API request.\n\nURL: PUT http://…\nCode: 400.
//! Errors:\n\n* message`.

use std::path::PathBuf;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error status and a JSON `{"errors": [...]}` body.
    #[error("{}", api_message(method, url, *status, errors, false))]
    Api {
        /// HTTP status code.
        status: u16,
        /// The `errors` array of the body (possibly empty).
        errors: Vec<String>,
        /// The full request URL, query string included.
        url: String,
        /// The HTTP method (`GET`, `PUT`, …).
        method: String,
    },
    /// The server answered with an error status and a body that is not the
    /// JSON error shape; the body is kept verbatim.
    #[error("{}", api_message(method, url, *status, std::slice::from_ref(body), true))]
    ApiRaw {
        /// HTTP status code.
        status: u16,
        /// The raw response body.
        body: String,
        /// The full request URL, query string included.
        url: String,
        /// The HTTP method.
        method: String,
    },
    /// The request never got an answer (connection refused, TLS failure, …).
    #[error("{} \"{url}\": {}", go_op(method), chain(source))]
    Transport {
        /// The HTTP method.
        method: String,
        /// The full request URL.
        url: String,
        /// The underlying error.
        source: reqwest::Error,
    },
    /// A success answer whose body is not the expected JSON.
    #[error("failed to decode the response of {method} {url}: {source}")]
    Decode {
        /// The HTTP method.
        method: String,
        /// The full request URL.
        url: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A success answer without the body the endpoint always sends.
    #[error("empty response from {method} {url}")]
    EmptyResponse {
        /// The HTTP method.
        method: String,
        /// The full request URL.
        url: String,
    },
    /// The server address cannot be used.
    #[error("invalid server address {address:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The CA certificate file could not be read.
    #[error("failed to read CA certificate {}: {source}", path.display())]
    CaCertRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CA certificate file holds no usable certificate.
    #[error("invalid CA certificate {}: {reason}", path.display())]
    CaCertInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built (for example, an invalid PEM file).
    #[error("failed to set up the HTTP client: {}", chain(.0))]
    Setup(reqwest::Error),
    /// The event stream broke (a bad frame, a lost connection).
    #[error("event stream: {0}")]
    Stream(String),
}

impl Error {
    /// The HTTP status of an API error, or `None` when the server gave no answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::ApiRaw { status, .. } => Some(*status),
            Error::Transport { .. }
            | Error::Decode { .. }
            | Error::EmptyResponse { .. }
            | Error::InvalidAddress { .. }
            | Error::CaCertRead { .. }
            | Error::CaCertInvalid { .. }
            | Error::Setup(_)
            | Error::Stream(_) => None,
        }
    }

    /// The server's error messages, empty when there are none.
    pub fn errors(&self) -> &[String] {
        match self {
            Error::Api { errors, .. } => errors,
            Error::ApiRaw { body, .. } => std::slice::from_ref(body),
            Error::Transport { .. }
            | Error::Decode { .. }
            | Error::EmptyResponse { .. }
            | Error::InvalidAddress { .. }
            | Error::CaCertRead { .. }
            | Error::CaCertInvalid { .. }
            | Error::Setup(_)
            | Error::Stream(_) => &[],
        }
    }
}

/// The Go client's `ResponseError.Error()`; note that it joins several errors
/// without a separator, and scripts depend on the exact text.
fn api_message(method: &str, url: &str, status: u16, errors: &[String], raw: bool) -> String {
    let kind = if raw { "Raw Message" } else { "Errors" };
    let mut out =
        format!("Error making API request.\n\nURL: {method} {url}\nCode: {status}. {kind}:\n\n");
    if raw && errors.len() == 1 {
        out.push_str(&errors[0]);
    } else {
        for e in errors {
            out.push_str("* ");
            out.push_str(e);
        }
    }
    out
}

/// Go's `url.Error` names the operation `Get`, `Put`, … .
fn go_op(method: &str) -> String {
    let mut chars = method.chars();
    match chars.next() {
        Some(first) => {
            first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
        }
        None => String::new(),
    }
}

/// The causes of a reqwest error, innermost last, without reqwest's own
/// "error sending request for url (…)" preamble (the URL is printed already).
fn chain(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_renders_like_the_go_client() {
        let e = Error::Api {
            status: 403,
            errors: vec!["permission denied".into()],
            url: "http://127.0.0.1:8200/v1/sys/seal".into(),
            method: "PUT".into(),
        };
        assert_eq!(
            e.to_string(),
            "Error making API request.\n\nURL: PUT http://127.0.0.1:8200/v1/sys/seal\nCode: 403. Errors:\n\n* permission denied"
        );
        assert_eq!(e.status(), Some(403));
        let raw = Error::ApiRaw {
            status: 502,
            body: "bad gateway".into(),
            url: "http://x/v1/a".into(),
            method: "GET".into(),
        };
        assert_eq!(
            raw.to_string(),
            "Error making API request.\n\nURL: GET http://x/v1/a\nCode: 502. Raw Message:\n\nbad gateway"
        );
        let none = Error::Api {
            status: 404,
            errors: vec![],
            url: "u".into(),
            method: "GET".into(),
        };
        assert!(none.to_string().ends_with("Errors:\n\n"));
        assert_eq!(go_op("DELETE"), "Delete");
    }
}
