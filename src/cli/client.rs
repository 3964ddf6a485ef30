//! Which client runs this helper, as far as showing an error goes. Every client runs helpers
//! through docker-credential-helpers' Go client, which passes the helper's stderr to the
//! terminal and keeps its stdout as the error. docker's `pull` then drops that error, so its
//! user sees only the stderr line; podman, skopeo and buildah (containers/image) show it, so a
//! stderr line saying the same would be shown twice (checked with the real clients in
//! `tests/it/e2e_clients.rs`).

/// The programs that show a failing helper's stdout themselves.
const SHOW_STDOUT: [&str; 3] = ["podman", "skopeo", "buildah"];

/// The programs that do not: the docker CLI and its plugins (`docker-buildx`, `docker-compose`).
const SHOW_STDERR_ONLY: [&str; 1] = ["docker"];

/// How many ancestors to look through: a client may run the helper through a wrapper script
/// (a logging shim, `sh -c`), but a client far up is not the one that reads its answer.
const ANCESTORS: usize = 4;

/// Whether the client that ran this process shows the helper's stdout (its error line), so
/// that repeating it on stderr would show it twice. Unknown clients get both.
pub(crate) fn shows_stdout() -> bool {
    let mut pid = None;
    let names = std::iter::from_fn(|| {
        let (parent, _) = crate::platform::process_parent_and_name(pid)?;
        if parent <= 1 {
            return None;
        }
        pid = Some(parent);
        Some(crate::platform::process_parent_and_name(pid)?.1)
    });
    shows_stdout_among(names.take(ANCESTORS))
}

/// The nearest known client among the names of this process's ancestors (nearest first)
/// decides; with none known, `false`.
fn shows_stdout_among(names: impl Iterator<Item = String>) -> bool {
    for name in names {
        if SHOW_STDOUT.contains(&name.as_str()) {
            return true;
        }
        if SHOW_STDERR_ONLY
            .iter()
            .any(|d| name == *d || name.starts_with(&format!("{d}-")))
        {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn among(names: &[&str]) -> bool {
        shows_stdout_among(names.iter().map(|n| n.to_string()))
    }

    #[test]
    fn the_nearest_known_client_decides() {
        assert!(among(&["podman"]));
        assert!(among(&["bash", "skopeo", "docker"]));
        assert!(!among(&["docker"]));
        assert!(!among(&["docker-buildx", "podman"]));
        assert!(!among(&["bash", "sshd"]));
        assert!(!among(&[]));
    }

    #[test]
    fn this_process_is_run_by_no_known_client() {
        // cargo runs the unit tests: no known client, so errors go to both streams.
        assert!(!shows_stdout());
    }
}
