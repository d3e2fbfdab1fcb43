//! The only place an error becomes a status code and a body. Every variant
//! is matched here, so a new one forces a decision.

use crate::error::Error;

/// Vault's multi-error rendering, which it uses for errors raised inside
/// request handling ("1 error occurred:\n\t* permission denied\n\n").
pub fn wrapped(msg: &str) -> String {
    format!("1 error occurred:\n\t* {msg}\n\n")
}

/// Status and the `errors` list for an error.
pub fn status_and_errors(e: &Error) -> (u16, Vec<String>) {
    match e {
        Error::Sealed => (503, vec!["Vault is sealed".into()]),
        Error::NotInitialized => (400, vec!["Vault is not initialized".into()]),
        Error::PermissionDenied => (403, vec!["permission denied".into()]),
        Error::Forbidden => (403, vec![wrapped("permission denied")]),
        Error::ForbiddenMsg(m) => (403, vec![m.clone()]),
        Error::InvalidRequest(m) => (400, vec![m.clone()]),
        Error::InvalidRequestWrapped(m) => (400, vec![wrapped(m)]),
        Error::NoRoute(_) => (404, vec![e.to_string()]),
        Error::UnsupportedPath => (404, vec![wrapped("unsupported path")]),
        Error::UnsupportedOperation => (405, vec![wrapped("unsupported operation")]),
        Error::NotFound => (404, vec![]),
        Error::MethodNotAllowed => (405, vec![]),
        Error::TooLarge => (413, vec![e.to_string()]),
        Error::UnsupportedMediaType(m) => (415, vec![m.clone()]),
        Error::BadJson(_) => (400, vec![e.to_string()]),
        Error::RateLimited(_) => (429, vec![e.to_string()]),
        Error::AuditSetup(_) | Error::RequestTimeout => (500, vec![e.to_string()]),
        Error::Internal(detail) => {
            // The detail may name storage paths; it goes to the log only.
            tracing::error!(error = %detail, "internal error");
            (500, vec!["internal error".into()])
        }
    }
}

/// `{"errors":[...]}` followed by a newline, as Vault writes it.
pub fn body(errors: &[String]) -> Vec<u8> {
    let mut b = serde_json::to_vec(&serde_json::json!({ "errors": errors })).unwrap_or_default();
    b.push(b'\n');
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_shapes() {
        assert_eq!(
            status_and_errors(&Error::Sealed),
            (503, vec!["Vault is sealed".to_string()])
        );
        assert_eq!(status_and_errors(&Error::NotFound), (404, vec![]));
        let (s, e) = status_and_errors(&Error::Forbidden);
        assert_eq!(s, 403);
        assert_eq!(e[0], "1 error occurred:\n\t* permission denied\n\n");
        let (s, e) = status_and_errors(&Error::Internal("storage path secret/x broke".into()));
        assert_eq!(s, 500);
        assert!(!e[0].contains("secret/x"));
        assert_eq!(body(&["a".into()]), b"{\"errors\":[\"a\"]}\n");
    }
}
