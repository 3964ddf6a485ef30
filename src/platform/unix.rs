//! [`crate::platform`] on unix (built and tested on Linux).

use std::ffi::{CStr, CString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

// ---- Users and files

/// The effective user id: whose files the cache trusts and whose runtime directory is searched.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// How [`open_options`] opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    /// Return at once instead of waiting for a FIFO's other end or a tty.
    pub nonblocking: bool,
    /// Whether a symbolic link at the path itself is followed; refused ones fail (see
    /// [`is_link_refusal`]).
    pub follow_links: bool,
    /// The mode of a file the open creates, less the umask.
    pub create_mode: u32,
}

/// `options` with `how` added; the descriptor is never inherited by a child process.
pub fn open_options(options: &mut OpenOptions, how: Open) -> &mut OpenOptions {
    let mut flags = libc::O_CLOEXEC;
    if how.nonblocking {
        flags |= libc::O_NONBLOCK;
    }
    if !how.follow_links {
        flags |= libc::O_NOFOLLOW;
    }
    options.mode(how.create_mode).custom_flags(flags)
}

/// The error of an open that refused a symbolic link ([`Open::follow_links`] false).
pub fn is_link_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// The error of opening a socket.
pub fn is_special_file_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENXIO)
}

/// Whether the file is `/dev/null` (or was reached through a link to it).
pub fn is_null_device(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == libc::makedev(1, 3)
}

/// What a file that is not a regular file is, for an error message.
pub fn describe_file_type(t: &fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// Permission bits (with set-id and sticky bits) to give a file.
pub fn permissions(mode: u32) -> fs::Permissions {
    fs::Permissions::from_mode(mode)
}

/// A file's permission bits, with its set-id and sticky bits.
pub fn mode(meta: &fs::Metadata) -> u32 {
    meta.mode() & 0o7777
}

/// Whether anyone may execute the file.
pub fn is_executable(meta: &fs::Metadata) -> bool {
    meta.mode() & 0o111 != 0
}

/// Whether users other than the owner may write the file.
pub fn writable_by_others(meta: &fs::Metadata) -> bool {
    meta.mode() & 0o022 != 0
}

/// Whether the file is this user's and nobody else can write it: what the cache trusts.
pub fn ours_alone(meta: &fs::Metadata) -> bool {
    meta.uid() == euid() && !writable_by_others(meta)
}

/// The owner of a file when it is neither this user nor root: another user's, where what this
/// process creates or rewrites (root run with a user's HOME) would be left to someone who
/// cannot use it or could redirect it. Root's own directories are shared ground.
pub fn foreign_owner(meta: &fs::Metadata) -> Option<u32> {
    let owner = owner(meta).0;
    (owner != euid() && owner != 0).then_some(owner)
}

/// The nearest directory above `path` (not `path` itself) that exists, with its metadata
/// (links followed): where something missing at `path` would be created.
pub fn nearest_existing_ancestor(path: &Path) -> Option<(PathBuf, fs::Metadata)> {
    path.ancestors()
        .skip(1)
        .filter(|d| !d.as_os_str().is_empty())
        .find_map(|d| fs::metadata(d).ok().map(|m| (d.to_path_buf(), m)))
}

/// A file's `(uid, gid)`.
pub fn owner(meta: &fs::Metadata) -> (u32, u32) {
    (meta.uid(), meta.gid())
}

/// Gives an open file to `uid` and `gid` (only root may give a file away).
pub fn give_file(file: &File, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::fchown(file, Some(uid), Some(gid))
}

/// Creates a directory with `mode` (less the umask); with `recursive`, its missing parents too
/// (with the same mode) and no error if it exists.
pub fn create_dir(path: &Path, mode: u32, recursive: bool) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(recursive)
        .mode(mode)
        .create(path)
}

/// Whether this process, by its effective ids, may create files in the directory `dir` (a
/// read-only file system, a mode without write permission). A path the system cannot name (an
/// interior NUL) is not checked.
pub fn check_can_create_in(dir: &Path) -> io::Result<()> {
    let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
        return Ok(());
    };
    // SAFETY: `c` is a valid NUL-terminated path; faccessat only reads it.
    let rc = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::W_OK | libc::X_OK,
            libc::AT_EACCESS,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

// ---- Processes

/// Starts the command in a process group of its own, so that [`kill_process_group`] ends
/// whatever it starts too.
pub fn in_own_process_group(command: &mut Command) -> &mut Command {
    command.process_group(0)
}

/// Kills (SIGKILL) the process group led by `leader`, started by [`in_own_process_group`].
pub fn kill_process_group(leader: u32) {
    if let Ok(pid) = libc::pid_t::try_from(leader) {
        // SAFETY: kill(2) with a negative pid signals that process group; the group is the
        // child's own (process_group(0)), so nothing else is hit.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
}

/// Kills (SIGKILL) one process.
pub fn kill(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Whether this process has any child, alive or not yet reaped: one system call.
pub fn has_children() -> bool {
    // SAFETY: waitid writes into the zeroed siginfo we own; WNOWAIT leaves any child unreaped.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    !(rc == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
}

/// Every live (not zombie) process as `(pid, parent pid)`, from Linux's `/proc`; empty where
/// there is none.
pub fn process_table() -> Vec<(u32, u32)> {
    let Ok(listing) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    listing
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (state, ppid) = parse_stat(&stat)?;
            (!matches!(state, 'Z' | 'X')).then_some((pid, ppid))
        })
        .collect()
}

/// The parent of `pid` (`None` for this process's own) and the name its program runs as
/// (`comm`), from Linux's `/proc`; `None` where there is none.
pub fn process_parent_and_name(pid: Option<u32>) -> Option<(u32, String)> {
    let pid = pid.map_or_else(|| "self".to_string(), |p| p.to_string());
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, ppid) = parse_stat(&stat)?;
    let name = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some((ppid, name.trim_end().to_string()))
}

/// Whether a live process is stopped (by SIGSTOP, a terminal's Ctrl-Z, or a tracer): `None`
/// when no such process is visible here (gone, or in another pid namespace).
pub fn is_stopped(pid: u32) -> Option<bool> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (state, _) = parse_stat(&stat)?;
    match state {
        'Z' | 'X' => None,
        state => Some(matches!(state, 'T' | 't')),
    }
}

/// State and parent from `/proc/PID/stat` (`pid (comm) S ppid …`; comm may hold anything,
/// parentheses and spaces included, so it is skipped up to the last `)`).
fn parse_stat(stat: &str) -> Option<(char, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

// ---- The process's own start and end

/// A standard stream written by [`write_unbuffered`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Writes all of `bytes` straight to the stream's descriptor, bypassing std's buffer and lock
/// (which a stuck thread may hold); gives up silently on an error.
pub fn write_unbuffered(stream: Stream, bytes: &[u8]) {
    let _ = write_all_unbuffered(stream, bytes);
}

/// [`write_unbuffered`] that says whether all was written: no copy of `bytes` is left in a
/// buffer that is not the caller's (an answer's token is zeroised by its owner).
pub fn write_all_unbuffered(stream: Stream, mut bytes: &[u8]) -> io::Result<()> {
    let fd = match stream {
        Stream::Stdout => libc::STDOUT_FILENO,
        Stream::Stderr => libc::STDERR_FILENO,
    };
    while !bytes.is_empty() {
        // SAFETY: writes from a live slice of the given length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        match n {
            n if n > 0 => bytes = &bytes[n as usize..],
            0 => return Err(io::ErrorKind::WriteZero.into()),
            _ => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
    Ok(())
}

/// Ends the process at once with `code`: no destructor and no exit handler runs, and nothing
/// buffered is written.
pub fn exit_at_once(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; no destructor of a stuck thread runs, and the
    // callers write their answer unbuffered first.
    unsafe { libc::_exit(code) }
}

/// A client that hangs up makes writes fail (EPIPE) instead of killing the process. std's
/// `Command` resets it to the default in the processes it starts.
pub fn ignore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// As std's runtime does: a closed stdin, stdout or stderr is opened on /dev/null, so that no
/// file this process opens (a lock, a cache entry being written) can become fd 1 and receive
/// the answer. Aborts if one cannot be opened.
pub fn open_missing_standard_fds() {
    for fd in 0..3 {
        // SAFETY: F_GETFD on any integer is harmless; it only reports whether the fd is open.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF);
        // SAFETY: a valid NUL-terminated path; open returns the lowest free fd, which is `fd`
        // because the lower ones are open by now.
        if closed && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
            std::process::abort();
        }
    }
}

/// A file that lives in memory only, named `name` for `/proc/<pid>/fd` listings, closed on
/// exec unless it becomes a standard stream: a request handed to another program needs no
/// writable directory.
pub fn memory_file(name: &CStr) -> io::Result<std::fs::File> {
    // The system call, not glibc's wrapper: the wrapper is GLIBC_2.27, and the release binaries
    // must start on glibc 2.17 (docs/install.md); the call is in every kernel since 3.17.
    // SAFETY: a valid NUL-terminated name and flags; the result is checked before use.
    let ret = unsafe { libc::syscall(libc::SYS_memfd_create, name.as_ptr(), libc::MFD_CLOEXEC) };
    let Ok(fd) = std::os::fd::RawFd::try_from(ret) else {
        return Err(io::Error::other(
            "memfd_create returned an out-of-range descriptor",
        ));
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created, is valid and owned by nothing else.
    Ok(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Opens a program to run with [`become_file`]: the descriptor names the file whatever later
/// happens to its path, so the file checked is the file run. A symbolic link at `path` is not
/// followed: the descriptor is the link's own (not a regular file), so that a link planted
/// in a shared directory cannot pass another owner's program off as this one.
pub fn open_program(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
}

/// Replaces this process with the program open as `program` (see [`open_program`]), given
/// `command`'s arguments, environment and stdio, under the name `arg0`; returns only if that
/// failed, with why.
pub fn become_file(command: &mut Command, arg0: &std::ffi::OsStr, program: &File) -> io::Error {
    use std::os::fd::AsRawFd;
    let args = std::iter::once(arg0).chain(command.get_args());
    let argv: Result<Vec<CString>, _> = args.map(|a| CString::new(a.as_bytes())).collect();
    let (Ok(argv), Ok(envp)) = (argv, command_environment(command)) else {
        return io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in an argument");
    };
    let fd = program.as_raw_fd();
    // std sets up stdio and signals, then runs this in place of its own execvp, which would
    // look the program up by its path again.
    let exec = move || {
        let argv = null_terminated(&argv);
        let envp = null_terminated(&envp);
        let error = execveat_empty_path(fd, &argv, &envp);
        if error.raw_os_error() != Some(libc::ENOENT) {
            return Err(error);
        }
        // A script's interpreter opens it as /dev/fd/N, which a descriptor closed on exec
        // cannot be (ENOENT): run one from a descriptor left open.
        // SAFETY: F_SETFD on a descriptor we own.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        Err(execveat_empty_path(fd, &argv, &envp))
    };
    // SAFETY: `exec` runs in this process (exec does not fork), so it may allocate.
    unsafe { command.pre_exec(exec) };
    command.exec()
}

/// This process's environment with `command`'s changes, as `NAME=value` strings.
fn command_environment(command: &Command) -> Result<Vec<CString>, std::ffi::NulError> {
    let mut vars: std::collections::BTreeMap<std::ffi::OsString, std::ffi::OsString> =
        std::env::vars_os().collect();
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => vars.insert(name.to_owned(), value.to_owned()),
            None => vars.remove(name),
        };
    }
    vars.into_iter()
        .map(|(name, value)| CString::new([name.as_bytes(), b"=", value.as_bytes()].concat()))
        .collect()
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    let mut pointers: Vec<_> = strings.iter().map(|s| s.as_ptr()).collect();
    pointers.push(std::ptr::null());
    pointers
}

/// `execveat(fd, "", argv, envp, AT_EMPTY_PATH)`; returns only on failure. The system call,
/// not glibc's wrapper (GLIBC_2.34; see [`memory_file`]); in every kernel since 3.19.
fn execveat_empty_path(
    fd: std::os::fd::RawFd,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> io::Error {
    // SAFETY: `argv` and `envp` are NULL-terminated and their strings live; on success the
    // call does not return.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}

/// Where `name` is found in `path` (a `PATH` value) as an executable regular file. Empty and
/// relative entries are skipped, as Go's `exec.LookPath` refuses the current directory: a
/// `PATH` ending in `:` must not run what another user left in the working directory.
pub fn find_in_path(name: &std::ffi::OsStr, path: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && is_executable(&m)))
}

/// This program's own file: `/proc/self/exe`, or where there is no `/proc` the path it was
/// started by (`arg0` when that is a path, else that name in `path`, a `PATH` value), with links
/// resolved, so that what sits beside it is looked for beside the file itself, not beside a link
/// to it. The error says why neither worked.
pub fn own_file(
    arg0: &std::ffi::OsStr,
    path: Option<&std::ffi::OsStr>,
) -> Result<std::path::PathBuf, String> {
    let no_proc = match std::env::current_exe() {
        Ok(file) => return Ok(file),
        Err(error) => error,
    };
    let started_by = if arg0.to_string_lossy().contains('/') {
        Some(std::path::PathBuf::from(arg0))
    } else {
        path.and_then(|path| find_in_path(arg0, path))
    };
    started_by
        .and_then(|file| fs::canonicalize(file).ok())
        .ok_or_else(|| {
            format!(
                "{no_proc}; and {} is not a file here or in PATH",
                arg0.to_string_lossy()
            )
        })
}

/// Makes this process non-dumpable (no core file, no ptrace or /proc/<pid>/mem by other
/// processes of its user) and its core file size limit 0, which its children inherit: a crash
/// must not write the tokens it holds to disk. Kept until exec, which resets dumpability.
pub fn forbid_core_dumps() {
    // SAFETY: prctl with PR_SET_DUMPABLE takes plain integers.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
            // The soft limit only: a child that wants cores may raise it again.
            limit.rlim_cur = 0;
            libc::setrlimit(libc::RLIMIT_CORE, &limit);
        }
    }
}

/// Makes a FIFO (named pipe), mode 0600: what tests plant where a file is expected.
#[cfg(test)]
pub fn make_fifo(path: &Path) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a valid NUL-terminated path; mkfifo only reads it.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lookup_skips_empty_and_relative_entries() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("prog");
        fs::write(&program, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&program, permissions(0o755)).unwrap();
        // The same directory named relative to the working directory, and by its path.
        let up = "../".repeat(std::env::current_dir().unwrap().components().count() - 1);
        let relative = format!(
            "{up}{}",
            dir.path().display().to_string().trim_start_matches('/')
        );
        assert!(Path::new(&relative).join("prog").is_file(), "{relative}");
        let name = std::ffi::OsStr::new("prog");
        assert_eq!(find_in_path(name, format!(":.:{relative}").as_ref()), None);
        let both = format!("{relative}::{}", dir.path().display());
        assert_eq!(find_in_path(name, both.as_ref()), Some(program.clone()));
        fs::set_permissions(&program, permissions(0o644)).unwrap();
        assert_eq!(
            find_in_path(name, dir.path().as_os_str()),
            None,
            "not executable"
        );
    }

    #[test]
    fn stat_lines_with_odd_command_names() {
        assert_eq!(parse_stat("42 (sh) S 7 42 42 0 -1"), Some(('S', 7)));
        assert_eq!(parse_stat("43 (a) b) (c) Z 42 1"), Some(('Z', 42)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn the_process_table_has_this_process_under_its_parent() {
        let me = (std::process::id(), std::os::unix::process::parent_id());
        assert!(process_table().contains(&me));
    }

    #[test]
    fn a_stopped_process_is_told_from_a_running_one_and_a_missing_one() {
        assert_eq!(is_stopped(std::process::id()), Some(false));
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        // SAFETY: kill takes plain integers; the pid is our own unreaped child's.
        unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
        let stopped = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            is_stopped(pid) == Some(true)
        });
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(stopped);
        assert_eq!(is_stopped(pid), None, "a reaped process is not there");
    }
}
