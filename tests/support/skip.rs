//! The suite's one skip rule, shared by the integration tests (`tests/it/require.rs`) and the
//! library's unit tests (`src/lib.rs`): a test that cannot run here prints a loud line and
//! passes, except under `DOCKER_CREDENTIAL_ECR_E2E_REQUIRED=1` (CI sets it), where it fails.

use std::io::Write;

/// `1` in CI: a test that cannot run here fails instead of skipping.
pub const ENV_E2E_REQUIRED: &str = "DOCKER_CREDENTIAL_ECR_E2E_REQUIRED";

/// Reports that `test` cannot run here and why: a loud `SKIPPED:` line on the real stderr
/// (`io::stderr()` is not captured by the harness, `eprintln!` is), or a panic under
/// `DOCKER_CREDENTIAL_ECR_E2E_REQUIRED=1`.
pub fn cannot_run(test: &str, why: &str) {
    let msg = format!("{test}: {why}");
    if std::env::var(ENV_E2E_REQUIRED).as_deref() == Ok("1") {
        panic!("{msg}; {ENV_E2E_REQUIRED}=1 makes this a failure");
    }
    let _ = writeln!(std::io::stderr(), "\n***** SKIPPED: {msg} *****\n");
}
