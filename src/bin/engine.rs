//! The engine: the complete program, which the front hands every request the cache cannot
//! answer (and which works the same when run directly). A C `main`, for the reason `startup`
//! gives.
#![no_main]

use std::ffi::{c_char, c_int};

#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    docker_credential_ecr::startup::run(docker_credential_ecr::cli::main)
}
