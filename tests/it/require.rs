//! Whether a test can run here, decided in one place. A test that cannot (a program not
//! installed, not root, no mount namespaces) prints a loud `***** SKIPPED: ... *****` line and
//! returns early, except under `DOCKER_CREDENTIAL_ECR_E2E_REQUIRED=1` (CI sets it), where it
//! fails: a missing tool must never turn into a green run.
//!
//! Use: `if !have(test, &["skopeo"]) { return; }`, `if !is_root(test, "chown") { return; }`,
//! `if !works(test, "unshare -m", cmd) { return; }`; the rig's `Rig::up` and `CutOff::new`
//! answer `None` after the same check.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[path = "../support/skip.rs"]
mod skip;
pub use skip::{ENV_E2E_REQUIRED, cannot_run};

/// Where a missing program comes from.
const INSTALL_HINT: &str = "scripts/install-test-deps installs it";

/// Whether `program` (a name looked up in PATH, or a path) is an executable file.
pub fn on_path(program: &str) -> bool {
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(program))))
}

/// Whether every program is installed; otherwise `cannot_run` names the missing ones.
pub fn have(test: &str, programs: &[&str]) -> bool {
    have_or(test, programs, INSTALL_HINT)
}

/// `have` with a hint of where the programs come from.
pub fn have_or(test: &str, programs: &[&str], hint: &str) -> bool {
    let missing: Vec<&str> = programs.iter().copied().filter(|p| !on_path(p)).collect();
    if missing.is_empty() {
        return true;
    }
    cannot_run(
        test,
        &format!("{} not installed ({hint})", missing.join(", ")),
    );
    false
}

/// Whether this test runs as root; otherwise `cannot_run` says that `what` needs it.
pub fn is_root(test: &str, what: &str) -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    cannot_run(test, &format!("{what} needs root"));
    false
}

/// Whether `probe` (a command proving that something works here, e.g. `unshare -m true`)
/// succeeds; otherwise `cannot_run` says that `what` does not work, with the probe's stderr.
pub fn works(test: &str, what: &str, probe: Command) -> bool {
    let program = probe.get_program().to_string_lossy().into_owned();
    if !have(test, &[&program]) {
        return false;
    }
    let why = match crate::process::run(
        probe,
        None,
        Duration::from_secs(10),
        crate::process::Leftovers::Kill,
    ) {
        Ok(ran) if ran.status.success() => return true,
        Ok(ran) => format!("{what} does not work here: {}", ran.stderr_text().trim()),
        Err(e) => format!("{what} does not work here: {e}"),
    };
    cannot_run(test, &why);
    false
}

/// A private mount namespace (`unshare -m`, as root): what running the helper as if on another
/// machine, or on a read-only filesystem, takes. Or a loud skip (a failure when required).
pub fn can_unshare_mounts(test: &str) -> bool {
    let mut probe = Command::new("unshare");
    probe.args(["-m", "true"]);
    works(
        test,
        "a private mount namespace (`unshare -m`, as root)",
        probe,
    )
}
