//! What both binaries do around their entry point, in place of std's runtime set-up.
//!
//! They have a C `main` rather than Rust's: std's set-up (`lang_start`) installs a
//! stack-overflow handler for the main thread, and finding the main thread's stack means
//! reading and parsing `/proc/self/maps`, about 100 000 instructions and a dozen system calls,
//! a seventh of a whole cache hit (see BENCHMARKS.md). Everything else std's set-up does for
//! us is done here, in the same order. A stack overflow still stops the process (SIGSEGV on the
//! guard page); it just is not announced.

use crate::platform;
use crate::program::{NAME, REPOSITORY};
use std::ffi::{OsString, c_int};
use std::io::Write;

/// Runs `entry` with the process's arguments as std's runtime would; returns `main`'s result.
pub fn run(entry: fn(&[OsString]) -> u8) -> c_int {
    // First, before a token is read: a crash must not write one to a core file (three system
    // calls: prctl, getrlimit, setrlimit; see BENCHMARKS.md).
    platform::forbid_core_dumps();
    platform::open_missing_standard_fds();
    platform::ignore_sigpipe();
    install_panic_hook();
    // glibc hands std the arguments before `main` runs, so args_os works as usual.
    let args: Vec<OsString> = std::env::args_os().collect();
    let code = entry(&args);
    // As std's runtime does on the way out: anything still buffered for stdout is written.
    let _ = std::io::stdout().flush();
    c_int::from(code)
}

/// A panic must never print its payload: it could hold anything, a token included.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "{NAME}: internal error{place}; please report it at {REPOSITORY}/issues"
        );
    }));
}
