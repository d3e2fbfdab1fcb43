//! Files the agent writes (rendered templates, the token sink): atomically
//! (a temporary file in the same directory, fsync, rename, fsync of the
//! directory), with the mode asked for, so a reader sees the old bytes or
//! the new ones, never part of either.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Who a file belongs to (unset: whoever the agent runs as).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Owner {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// Writes `bytes` to `path` atomically with `mode`; `Ok(false)` when the
/// file already held exactly these bytes and mode (nothing written).
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    create_dirs: bool,
) -> std::io::Result<bool> {
    write_owned(path, bytes, mode, create_dirs, Owner::default())
}

/// [`write_atomic`], the file given to `owner` before it takes the place
/// of the old one.
pub fn write_owned(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    create_dirs: bool,
    owner: Owner,
) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o7777 == mode
            && owner.uid.is_none_or(|u| u == meta.uid())
            && owner.gid.is_none_or(|g| g == meta.gid())
            && std::fs::read(path).is_ok_and(|b| b == bytes)
        {
            return Ok(false);
        }
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if create_dirs {
        std::fs::create_dir_all(dir)?;
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.arca-agent.{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        if owner != Owner::default() {
            std::os::unix::fs::fchown(&f, owner.uid, owner.gid)?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| true)
}

/// This binary, copied to `to` (mode 0755) atomically: exec mode's
/// containers run it from a shared volume.
pub fn copy_self(to: &Path) -> std::io::Result<()> {
    let me = std::env::current_exe()?;
    let bytes = std::fs::read(me)?;
    write_atomic(to, &bytes, 0o755, true).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_with_their_mode_and_skips_unchanged_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/secret.txt");
        assert!(write_atomic(&p, b"one", 0o640, true).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            0o640
        );
        assert!(!write_atomic(&p, b"one", 0o640, true).unwrap(), "unchanged");
        assert!(
            write_atomic(&p, b"one", 0o600, true).unwrap(),
            "mode changed"
        );
        assert!(write_atomic(&p, b"two", 0o600, true).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        // Nothing else is left in the directory.
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
        assert!(write_atomic(&dir.path().join("no/such/dir/x"), b"x", 0o600, false).is_err());
    }

    #[test]
    fn gives_files_to_their_owner() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("owned");
        let nobody = Owner {
            uid: Some(65534),
            gid: Some(65534),
        };
        let r = write_owned(&p, b"x", 0o640, true, nobody);
        if rustix::process::geteuid().is_root() {
            assert!(r.unwrap());
            let m = std::fs::metadata(&p).unwrap();
            assert_eq!((m.uid(), m.gid()), (65534, 65534));
            assert!(
                !write_owned(&p, b"x", 0o640, true, nobody).unwrap(),
                "unchanged"
            );
            // Owner changed back: written again.
            let me = Owner {
                uid: Some(0),
                gid: None,
            };
            assert!(write_owned(&p, b"x", 0o640, true, me).unwrap());
            assert_eq!(std::fs::metadata(&p).unwrap().uid(), 0);
        } else {
            // Not root: the kernel refuses, the error says so, no file.
            assert!(r.is_err());
            assert!(!p.exists());
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            usize::from(p.exists())
        );
    }
}
