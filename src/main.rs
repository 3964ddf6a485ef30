//! The entry point.
//!
//! A C `main` rather than Rust's: std's runtime set-up (`lang_start`) installs a stack-overflow
//! handler for the main thread, and finding the main thread's stack means reading and parsing
//! `/proc/self/maps` — about 100 000 instructions and a dozen system calls, a seventh of a whole
//! cache hit (see BENCHMARKS.md). Everything else std's set-up does for us is done here, in
//! the same order. A stack overflow still stops the process (SIGSEGV on the guard page); it
//! just is not announced.
#![no_main]

use docker_credential_ecr::platform;
use std::ffi::{c_char, c_int};

#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    platform::open_missing_standard_fds();
    // As std does: a client that hangs up makes writes fail (exit 1) instead of killing us.
    platform::ignore_sigpipe();
    // glibc hands std the arguments before `main` runs, so args_os works as usual.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let code = docker_credential_ecr::cli::main(&args);
    // As std's runtime does on the way out: anything still buffered for stdout is written.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    c_int::from(code)
}
