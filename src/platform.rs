//! Every call this program makes that only a unix system answers: file modes and owners, opens
//! that refuse links and never block, access checks, process groups, signals, the process
//! table (and killing every process below this one), and raw writes and exits for the
//! watchdog. Each is a safe function named for what it does; the rest of the crate reaches the
//! operating system through std and through here only.
//!
//! A port to another system is another file beside `unix.rs` with the same functions. Only the
//! unix one exists and is built and tested, on Linux (`process_table` reads Linux's `/proc`, and
//! `memory_file` is Linux's `memfd_create`).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

use std::io::Write;
use std::time::Duration;

/// Kills every process descended from this one (a `credential_process` runs via `sh -c`,
/// which may start others), leaving this process alone. A process that detached itself from
/// its parent on purpose (a daemon: its parent exited and init adopted it) is no longer below
/// us and is left alone; agents such as gpg-agent are meant to outlive their first user. Only
/// for the real process (`watchdog::Handle::kill_children` decides): a test harness's other
/// children are not ours to kill.
pub fn kill_descendants() {
    // Every descendant is below a living child of ours (when a child ends, its own children
    // are handed to init): with none, one system call and no scan of the process table.
    if !has_children() {
        return;
    }
    let me = std::process::id();
    // Killed processes cannot fork any more, but one may have forked between a look and the
    // kill: look again until none is left alive.
    for _ in 0..50 {
        let alive = descendants(me);
        if alive.is_empty() {
            return;
        }
        for pid in alive {
            kill(pid);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = writeln!(
        std::io::stderr(),
        "{}: child processes would not die",
        crate::program::NAME
    );
}

/// The live processes below `root`.
fn descendants(root: u32) -> Vec<u32> {
    tree_below(root, &process_table())
}

fn tree_below(root: u32, table: &[(u32, u32)]) -> Vec<u32> {
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for &(pid, ppid) in table {
            if ppid == parent && !found.contains(&pid) {
                found.push(pid);
            }
        }
        i += 1;
    }
    found.remove(0);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_below_a_process_and_nothing_else() {
        let table = [(10, 1), (11, 10), (12, 11), (13, 1), (14, 12), (15, 13)];
        let mut below = tree_below(10, &table);
        below.sort();
        assert_eq!(below, vec![11, 12, 14]);
        assert!(tree_below(99, &table).is_empty());
    }
}
