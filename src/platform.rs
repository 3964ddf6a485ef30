//! Every call this program makes that only a unix system answers: file modes and owners, opens
//! that refuse links and never block, access checks, process groups, signals, the process
//! table, and raw writes and exits for the watchdog. Each is a safe function named for what it
//! does; the rest of the crate reaches the operating system through std and through here only.
//!
//! A port to another system is another file beside `unix.rs` with the same functions. Only the
//! unix one exists and is built and tested, on Linux (`process_table` reads Linux's `/proc`, and
//! `memory_file` is Linux's `memfd_create`).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;
