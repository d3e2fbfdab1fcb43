//! The token helper: like Vault's built-in one, the token lives in
//! `~/.vault-token`, raw, without a trailing newline, mode 0600, so `arca`,
//! `vault` and `bao` share a login.

use std::io::Write;
use std::path::PathBuf;

use crate::io::Io;

/// The file name under the home directory.
const FILE_NAME: &str = ".vault-token";

/// Why the token helper failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HelperError {
    #[error("could not find the home directory (HOME is not set)")]
    NoHome,
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn path(io: &Io) -> Result<PathBuf, HelperError> {
    io.home()
        .map(|h| h.join(FILE_NAME))
        .ok_or(HelperError::NoHome)
}

/// The stored token, `None` when there is none.
pub(crate) fn get(io: &Io) -> Result<Option<String>, HelperError> {
    // Without a home directory there is no stored token, which is not an error.
    let Ok(path) = path(io) else {
        return Ok(None);
    };
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let t = s.trim();
            Ok((!t.is_empty()).then(|| t.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(HelperError::Io {
            op: "open",
            path,
            source,
        }),
    }
}

/// Stores `token`, replacing the file atomically so a reader never sees half a token.
pub(crate) fn store(io: &Io, token: &str) -> Result<(), HelperError> {
    let path = path(io)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let err = |op, source| HelperError::Io {
        op,
        path: path.clone(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(|e| err("open", e))?;
    f.write_all(token.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| err("write", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| err("rename", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_raw_token_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap().to_string();
        let io = Io::memory(&[("HOME", &home)], b"");
        assert_eq!(get(&io).unwrap(), None);
        store(&io, "s.abc").unwrap();
        let file = dir.path().join(".vault-token");
        assert_eq!(std::fs::read(&file).unwrap(), b"s.abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&file, "s.def\n").unwrap();
        assert_eq!(get(&io).unwrap().as_deref(), Some("s.def"));
        assert_eq!(get(&Io::memory(&[], b"")).unwrap(), None);
        assert!(matches!(
            store(&Io::memory(&[], b""), "t"),
            Err(HelperError::NoHome)
        ));
    }
}
