//! The only place an error becomes a status code. Every variant is
//! matched here, so a new one forces a decision; the messages come from
//! `Error::messages`.

use crate::error::Error;

/// The HTTP status of an error.
pub fn status(e: &Error) -> u16 {
    match e {
        Error::Sealed => 503,
        Error::NotInitialized
        | Error::InvalidRequest(_)
        | Error::InvalidRequestWrapped(_)
        | Error::BadJson(_) => 400,
        Error::PermissionDenied | Error::Forbidden | Error::ForbiddenMsg(_) => 403,
        Error::NoRoute(_)
        | Error::UnsupportedPath
        | Error::NotFound
        | Error::NotFoundWrapped(_) => 404,
        Error::UnsupportedOperation | Error::MethodNotAllowed => 405,
        Error::TooLarge => 413,
        Error::UnsupportedMediaType(_) => 415,
        Error::RateLimited(_) | Error::LeaseCountExceeded => 429,
        Error::AuditSetup(_) | Error::RequestTimeout | Error::Upstream(_) | Error::Internal(_) => {
            500
        }
    }
}

/// Status and the `errors` list for an error; an internal error's detail
/// (which may name storage paths) goes to the log only.
pub fn status_and_errors(e: &Error) -> (u16, Vec<String>) {
    if let Error::Internal(detail) = e {
        tracing::error!(error = %detail, "internal error");
    }
    (status(e), e.messages())
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
