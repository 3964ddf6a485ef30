//! Reading a client's config file and replacing it safely: a temp file in the same directory,
//! fsync, rename, with the old mode and owner kept and the old text kept as `<file>.bak`.
//!
//! A client (a `docker login` in another terminal) may rewrite the file while we edit it and
//! takes no lock we could share, so the file is read again just before the rename and the
//! edit is abandoned if it changed.

use crate::platform;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// docker creates `config.json` 0600: it may hold registry passwords.
const NEW_FILE_MODE: u32 = 0o600;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: crate::fsutil::ReadError,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{} is a symbolic link to a missing file; fix or remove the link", path.display())]
    DanglingLink { path: PathBuf },
    #[error("{} belongs to uid {owner}, not to this user (uid {uid}): configure edits and creates only files of the user it runs as; run it as that user instead (sudo -u '#{owner}' -H {} configure ...)", path.display(), crate::program::NAME)]
    Foreign { path: PathBuf, owner: u32, uid: u32 },
    #[error("{} changed while it was being edited (a client wrote it?); nothing was written, run the command again", path.display())]
    Raced { path: PathBuf },
}

/// A config file as found on disk.
#[derive(Debug)]
pub struct Current {
    /// The file to replace: the link's target when `path` is a symbolic link, so that a
    /// config kept in a dotfiles repository stays linked.
    pub real_path: PathBuf,
    /// `None` when the file does not exist yet.
    pub text: Option<String>,
    mode: u32,
    owner: Option<(u32, u32)>,
}

pub fn read(path: &Path) -> Result<Current, FileError> {
    let read_err = |source| FileError::Read {
        path: path.to_path_buf(),
        source,
    };
    check_not_foreign(path)?;
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let real_path = if is_link {
        let real = fs::canonicalize(path).map_err(|_| FileError::DanglingLink {
            path: path.to_path_buf(),
        })?;
        check_not_foreign(&real)?;
        real
    } else {
        path.to_path_buf()
    };
    match read_config(&real_path) {
        Ok(contents) => {
            let meta = contents.meta;
            let text = String::from_utf8(contents.bytes).map_err(|_| {
                read_err(crate::fsutil::ReadError::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the file is not UTF-8 text",
                )))
            })?;
            Ok(Current {
                real_path,
                text: Some(text),
                mode: platform::mode(&meta),
                owner: Some(platform::owner(&meta)),
            })
        }
        Err(e) if e.is_not_found() => Ok(Current {
            real_path,
            text: None,
            mode: NEW_FILE_MODE,
            owner: None,
        }),
        Err(e) => Err(read_err(e)),
    }
}

/// The cache's rule, for root run with a user's HOME (`sudo -E`, `DOCKER_CONFIG`): never
/// create or follow into files another user controls. The file (or link) at `path` and its
/// directory, or for a file not there yet the nearest directory that is, must belong to this
/// user or root. Otherwise a link the user planted leads root's edit (and its `.bak`) into a
/// root-only file, and what root creates in the home is root's, which the user's docker then
/// cannot read.
fn check_not_foreign(path: &Path) -> Result<(), FileError> {
    let foreign = |p: &Path, meta: &fs::Metadata| {
        platform::foreign_owner(meta).map(|owner| FileError::Foreign {
            path: p.to_path_buf(),
            owner,
            uid: platform::euid(),
        })
    };
    if let Ok(meta) = fs::symlink_metadata(path)
        && let Some(e) = foreign(path, &meta)
    {
        return Err(e);
    }
    let found = platform::nearest_existing_ancestor(path);
    match found.and_then(|(dir, meta)| foreign(&dir, &meta)) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Where the previous text is kept.
pub fn backup_path(real_path: &Path) -> PathBuf {
    let mut name = real_path.file_name().unwrap_or_default().to_os_string();
    name.push(".bak");
    real_path.with_file_name(name)
}

/// Replaces the file with `new`; returns the backup's path when there was an old file.
pub fn replace(current: &Current, new: &str) -> Result<Option<PathBuf>, FileError> {
    let path = &current.real_path;
    let write_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| FileError::Write { path: p, source }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if current.text.is_none() {
        crate::fsutil::create_private_dirs(&dir).map_err(write_err(&dir))?;
    }
    // Checked here as well as before the rename, so that a race caught early leaves no .bak.
    if !unchanged_since_read(current).map_err(write_err(path))? {
        return Err(FileError::Raced { path: path.clone() });
    }
    let backup = match &current.text {
        Some(old) => {
            let backup = backup_path(path);
            write_atomically(&backup, old.as_bytes(), current, false)
                .map_err(write_err(&backup))?;
            Some(backup)
        }
        None => None,
    };
    write_atomically(path, new.as_bytes(), current, true)
        .map_err(write_err(path))
        .and_then(|raced| match raced {
            true => Err(FileError::Raced { path: path.clone() }),
            false => Ok(backup),
        })
}

/// Replaces `target` with `bytes`, with the current file's mode and owner. With `check`, the
/// rename happens only if the current file still holds the text it was read with; returns
/// whether that check failed.
fn write_atomically(
    target: &Path,
    bytes: &[u8],
    current: &Current,
    check: bool,
) -> io::Result<bool> {
    let new = crate::fsutil::NewFile {
        mode: current.mode,
        owner: current.owner,
        // A user's config file: the rename itself must reach the disk too.
        sync_dir: true,
    };
    let staged = crate::fsutil::stage(target, bytes, &new)?;
    if check && !unchanged_since_read(current)? {
        return Ok(true);
    }
    staged.commit()?;
    Ok(false)
}

/// A client's config file, read the one way every file is (no FIFO, device or runaway file).
fn read_config(path: &Path) -> Result<crate::fsutil::Contents, crate::fsutil::ReadError> {
    crate::fsutil::read_regular(
        path,
        crate::fsutil::MAX_CONFIG_BYTES,
        crate::fsutil::Links::Follow,
    )
}

/// Whether the file still holds the text it was read with (or is still missing).
fn unchanged_since_read(current: &Current) -> io::Result<bool> {
    let now = match read_config(&current.real_path) {
        Ok(c) => Some(c.bytes),
        Err(e) if e.is_not_found() => None,
        Err(crate::fsutil::ReadError::Io(e)) => return Err(e),
        Err(e) => return Err(io::Error::other(e.to_string())),
    };
    Ok(now.as_deref() == current.text.as_deref().map(str::as_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        platform::mode(&fs::metadata(p).unwrap())
    }

    #[test]
    fn new_file_gets_private_dir_and_mode_and_no_backup() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("d/.docker/config.json");
        let cur = read(&path).unwrap();
        assert!(cur.text.is_none());
        assert_eq!(replace(&cur, "{}\n").unwrap(), None);
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert!(!backup_path(&path).exists());
    }

    #[test]
    fn existing_file_keeps_its_mode_and_gets_a_backup() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("auth.json");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, platform::permissions(0o640)).unwrap();
        let cur = read(&path).unwrap();
        let backup = replace(&cur, "new").unwrap().unwrap();
        assert_eq!(backup, tmp.path().join("auth.json.bak"));
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(fs::read_to_string(&backup).unwrap(), "old");
        assert_eq!(mode(&path), 0o640);
        assert_eq!(mode(&backup), 0o640);
        let leftovers: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_symlinked_file_is_replaced_at_its_target() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("dotfiles-config.json");
        let link = tmp.path().join("config.json");
        fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let cur = read(&link).unwrap();
        replace(&cur, "new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&link).unwrap(), "new");
        assert_eq!(
            fs::read_to_string(tmp.path().join("dotfiles-config.json.bak")).unwrap(),
            "old"
        );
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), tmp.path().join("dangling"))
            .unwrap();
        assert!(matches!(
            read(&tmp.path().join("dangling")),
            Err(FileError::DanglingLink { .. })
        ));
    }

    #[test]
    fn a_file_changed_under_us_is_not_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config.json");
        fs::write(&path, "old").unwrap();
        let cur = read(&path).unwrap();
        fs::write(&path, "written by docker login").unwrap();
        assert!(matches!(replace(&cur, "new"), Err(FileError::Raced { .. })));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "written by docker login"
        );
    }

    #[test]
    fn non_utf8_file_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config.json");
        fs::write(&path, b"\xff\xfe{}").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("not UTF-8"), "{err}");
    }
}
