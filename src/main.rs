//! The entry point.
//!
//! A C `main` rather than Rust's: std's runtime set-up (`lang_start`) installs a stack-overflow
//! handler for the main thread, and finding the main thread's stack means reading and parsing
//! `/proc/self/maps` — about 100 000 instructions and a dozen system calls, a seventh of a whole
//! cache hit (see BENCHMARKS.md). Everything else std's set-up does for us is done here, in
//! the same order. A stack overflow still stops the process (SIGSEGV on the guard page); it
//! just is not announced.
#![no_main]

use std::ffi::{c_char, c_int};

#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    open_missing_standard_fds();
    // As std does: a client that hangs up makes writes fail (exit 1) instead of killing us.
    // std::process resets it to the default in the processes we start.
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // glibc hands std the arguments before `main` runs, so args_os works as usual.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let code = docker_credential_ecr::cli::main(&args);
    // As std's runtime does on the way out: anything still buffered for stdout is written.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    c_int::from(code)
}

/// As std does: a closed stdin, stdout or stderr is opened on /dev/null, so that no file this
/// process opens (a lock, a cache entry being written) can become fd 1 and receive the answer.
fn open_missing_standard_fds() {
    for fd in 0..3 {
        // SAFETY: F_GETFD on any integer is harmless; it only reports whether the fd is open.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF);
        // SAFETY: a valid NUL-terminated path; open returns the lowest free fd, which is `fd`
        // because the lower ones are open by now.
        if closed && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
            std::process::abort();
        }
    }
}
