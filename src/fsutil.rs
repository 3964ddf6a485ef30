//! The one way this program opens a file to read it. Paths come from the environment and from
//! directories others may have written (`DOCKER_CREDENTIAL_ECR_CONFIG=/dev/zero`, a FIFO planted
//! in the cache), so every open is non-blocking, every file is checked to be a regular file before
//! a byte is read, and every read stops at a size limit. A FIFO, a device or a runaway file is an
//! error the caller reports (config) or ignores (cache), never a hang or an unbounded allocation.
//!
//! And the one way it replaces a file: [`stage`] then [`Staged::commit`].

use crate::platform::{self, Open};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Config files (ours, the clients', the shared AWS files) are a few KiB, generated IAM Identity
/// Center configs a few hundred; a megabyte is generous, cheap to hold, and bounds a `/dev/zero`.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Whether a symbolic link at the path itself is followed. Files the user names or keeps in
/// their dotfiles are followed; files in the cache directory, which only this program writes,
/// are not (a planted link must not lead a read elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Follow,
    Refuse,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("it is larger than {} KiB", .0 / 1024)]
    TooLarge(u64),
}

impl ReadError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// A whole file, read once, with the metadata of the very file that was read.
pub struct Contents {
    pub bytes: Vec<u8>,
    pub meta: fs::Metadata,
}

/// Opens `path` for reading without blocking (a FIFO with no writer, a tty) and checks that it is
/// a regular file.
pub fn open_regular(path: &Path, links: Links) -> Result<(File, fs::Metadata), ReadError> {
    let how = Open {
        nonblocking: true,
        follow_links: links == Links::Follow,
        create_mode: 0o600,
    };
    let file = platform::open_options(OpenOptions::new().read(true), how)
        .open(path)
        .map_err(|e| {
            if links == Links::Refuse && platform::is_link_refusal(&e) {
                ReadError::NotRegular("a symbolic link")
            } else if platform::is_special_file_refusal(&e) {
                ReadError::NotRegular("a socket or other special file")
            } else {
                ReadError::Io(e)
            }
        })?;
    let meta = file.metadata()?;
    // `/dev/null` (or a link to it) is the usual way to say "an empty file"
    // (`DOCKER_CREDENTIAL_ECR_CONFIG=/dev/null`, a dotfile linked there to disable it), and
    // reading it ends at once: it is read as one.
    if !meta.is_file() && !platform::is_null_device(&meta) {
        return Err(ReadError::NotRegular(platform::describe_file_type(
            &meta.file_type(),
        )));
    }
    Ok((file, meta))
}

/// Reads the regular file at `path`, at most `limit` bytes of it (one more is an error).
pub fn read_regular(path: &Path, limit: u64, links: Links) -> Result<Contents, ReadError> {
    let (file, meta) = open_regular(path, links)?;
    if meta.len() > limit {
        return Err(ReadError::TooLarge(limit));
    }
    // The size can change between fstat and read (a file being appended to, /proc): the
    // limit holds whatever the metadata said.
    let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(Contents { bytes, meta })
}

/// Sets the modification time of a regular file of ours to now, creating it (mode 0600) if
/// needed, without blocking and without following a link. Anything else in its place (a FIFO, a
/// link, a directory) is removed first: `path` must name a file only this program writes.
pub fn touch(path: &Path) -> io::Result<()> {
    let how = Open {
        nonblocking: true,
        follow_links: false,
        create_mode: 0o600,
    };
    let open = || {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(false);
        platform::open_options(&mut options, how).open(path)
    };
    let file = match open() {
        Ok(f) if f.metadata()?.is_file() => f,
        // A FIFO with no reader (ENXIO), a link (ELOOP), a directory (EISDIR), or a FIFO
        // that opened because someone reads it.
        Ok(_) | Err(_) => {
            match fs::symlink_metadata(path) {
                Ok(m) if m.is_dir() => fs::remove_dir(path)?,
                Ok(_) => fs::remove_file(path)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            open()?
        }
    };
    file.set_modified(SystemTime::now())
}

/// Creates `dir` and whichever of its parents are missing, each mode 0700 whatever the umask:
/// the XDG base directory specification asks 0700 of `~/.cache` and `~/.config`, a umask of 000
/// would let any user replace what is inside them, and one of 0277 would leave them unwritable.
/// Directories that exist already (a link to one included) are left as they are.
pub fn create_private_dirs(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut next = Some(dir);
    while let Some(d) = next.filter(|d| !d.as_os_str().is_empty()) {
        if fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing.push(d);
        next = d.parent();
    }
    for d in missing.into_iter().rev() {
        match platform::create_dir(d, 0o700, false) {
            // Ours and new: the umask narrowed (or not) the mode it was made with.
            Ok(()) => fs::set_permissions(d, platform::permissions(0o700))?,
            // Made meanwhile by another process; whoever made it chose its mode.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// How [`stage`] makes the file that replaces another.
#[derive(Debug, Clone, Copy)]
pub struct NewFile {
    /// Set explicitly: the umask may have narrowed it (or a kept mode be wider than 0600).
    pub mode: u32,
    /// `(uid, gid)` to give the file when it is not already ours: an edited file keeps its
    /// owner and group (root editing its own file in a shared group, say). `configure` no longer
    /// edits another user's file as root (it says to run as that user), so a file is not given
    /// away to a user who could not have written it.
    pub owner: Option<(u32, u32)>,
    /// Whether [`Staged::commit`] also syncs the directory, so that the rename itself survives
    /// a crash. A user's config file needs it; a cache entry lost to a crash is only a miss.
    pub sync_dir: bool,
}

/// A file's new contents, whole and on disk in a temp file beside it, not yet in its place.
/// Dropped without [`Staged::commit`] (an error, a caller that changed its mind), the temp
/// file is removed.
pub struct Staged {
    temp: tempfile::NamedTempFile,
    target: PathBuf,
    sync_dir: bool,
}

/// Writes `bytes` to a new temp file `.<name>.<random>.tmp` in `target`'s directory (the same
/// file system, so the rename is atomic) and syncs it. The temp file is created exclusively
/// (`O_CREAT|O_EXCL`), which never follows a symbolic link planted at its name.
pub fn stage(target: &Path, bytes: &[u8], new: &NewFile) -> io::Result<Staged> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(target.file_name().unwrap_or_default());
    prefix.push(".");
    // Private from the first instant; the final mode is set once the file exists.
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(platform::permissions(0o600))
        .tempfile_in(dir)?;
    let file = temp.as_file_mut();
    file.set_permissions(platform::permissions(new.mode))?;
    if let Some((uid, gid)) = new.owner
        && platform::owner(&file.metadata()?) != (uid, gid)
    {
        platform::give_file(file, uid, gid)?;
    }
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(Staged {
        temp,
        target: target.to_path_buf(),
        sync_dir: new.sync_dir,
    })
}

impl Staged {
    /// Renames the temp file over the target: readers see the old whole file or the new one.
    /// A symbolic link or stale file at the target is itself replaced, never written through.
    pub fn commit(self) -> io::Result<()> {
        // On failure the error carries the temp file back, and dropping it removes it.
        self.temp.persist(&self.target).map_err(|e| e.error)?;
        if self.sync_dir
            && let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty())
        {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// Replaces `target` with `bytes` atomically: [`stage`] then [`Staged::commit`].
pub fn write_atomically(target: &Path, bytes: &[u8], new: &NewFile) -> io::Result<()> {
    stage(target, bytes, new)?.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn mkfifo(path: &Path) {
        platform::make_fifo(path).unwrap();
    }

    #[test]
    fn special_files_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let start = Instant::now();
        for (path, what) in [
            (fifo.as_path(), "FIFO"),
            (Path::new("/dev/zero"), "character device"),
            (dir.path(), "directory"),
        ] {
            let err = read_regular(path, MAX_CONFIG_BYTES, Links::Follow)
                .err()
                .unwrap();
            assert!(err.to_string().contains(what), "{err}");
        }
        assert!(start.elapsed() < Duration::from_secs(1));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        let err = read_regular(&link, 10, Links::Refuse).err().unwrap();
        assert_eq!(err.to_string(), "it is a symbolic link, not a regular file");
    }

    #[test]
    fn dev_null_reads_as_an_empty_file() {
        let c = read_regular(Path::new("/dev/null"), 10, Links::Follow).unwrap();
        assert!(c.bytes.is_empty());
    }

    #[test]
    fn reads_stop_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [b'x'; 10]).unwrap();
        assert_eq!(
            read_regular(&path, 10, Links::Refuse).unwrap().bytes.len(),
            10
        );
        let err = read_regular(&path, 9, Links::Refuse).err().unwrap();
        assert!(matches!(err, ReadError::TooLarge(9)));
        assert!(
            read_regular(&dir.path().join("missing"), 9, Links::Refuse)
                .err()
                .unwrap()
                .is_not_found()
        );
    }

    const PRIVATE: NewFile = NewFile {
        mode: 0o600,
        owner: None,
        sync_dir: false,
    };

    fn temp_files(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn an_atomic_write_sets_the_mode_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        let new = NewFile {
            mode: 0o640,
            sync_dir: true,
            ..PRIVATE
        };
        write_atomically(&path, b"one", &new).unwrap();
        write_atomically(&path, b"two", &new).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(platform::mode(&meta), 0o640);
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn a_staged_write_dropped_uncommitted_leaves_the_target_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, b"old").unwrap();
        let staged = stage(&path, b"new", &PRIVATE).unwrap();
        let temps = temp_files(dir.path());
        assert_eq!(temps.len(), 1);
        assert!(temps[0].starts_with(".config.json."), "{temps:?}");
        drop(staged);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(temp_files(dir.path()).is_empty());
        // A rename that fails (the target is a non-empty directory) removes the temp file too.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir_all(blocked.join("x")).unwrap();
        assert!(write_atomically(&blocked, b"new", &PRIVATE).is_err());
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn an_atomic_write_gives_the_file_its_owner() {
        // Only root may give a file away (`sudo ... configure`); CI runs as root.
        if platform::euid() != 0 {
            crate::skip::cannot_run("an_atomic_write_gives_the_file_its_owner", "needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let new = NewFile {
            owner: Some((65534, 65534)),
            sync_dir: true,
            ..PRIVATE
        };
        write_atomically(&path, b"{}", &new).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(platform::owner(&meta), (65534, 65534));
    }

    #[test]
    fn a_symlink_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"keep").unwrap();
        let path = dir.path().join("entry.json");
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        write_atomically(&path, b"new", &PRIVATE).unwrap();
        assert!(!std::fs::symlink_metadata(&path).unwrap().is_symlink());
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
    }

    #[test]
    fn touch_replaces_a_fifo_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stamp");
        mkfifo(&path);
        touch(&path).unwrap();
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
        touch(&path).unwrap();
        touch(&dir.path().join("new")).unwrap();
    }
}
