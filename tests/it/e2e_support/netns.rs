//! A cut-off laptop: a network namespace where every packet leaving is swallowed (made by
//! `tests/support/cutoff_netns.sh`, which `bench/run` uses too), so a connect to the metadata
//! address or an endpoint hangs and the DNS server never answers. Removed on drop, also when
//! the test panics.

use super::run_script;
use crate::process::Ran;
use crate::require::{have, is_root};
use std::process::Command;
use std::time::Duration;

pub const CUTOFF_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/cutoff_netns.sh");
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(20);

pub struct CutOff {
    name: String,
}

impl CutOff {
    /// Makes the namespace. `None` (after a loud SKIPPED line, or a panic under
    /// `DOCKER_CREDENTIAL_ECR_E2E_REQUIRED=1`) when not root or `ip` is missing.
    pub fn new(test: &str) -> Option<CutOff> {
        if !is_root(test, "a network namespace") || !have(test, &["ip"]) {
            return None;
        }
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        // The owner's pid in the name lets the script sweep namespaces of dead test processes.
        let name = format!(
            "ecr-cutoff-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let cut = CutOff { name };
        // Constructed first, so a half-made namespace is removed by drop.
        let ran = cut
            .script("up")
            .unwrap_or_else(|e| panic!("cutoff_netns.sh up: {e}"));
        assert!(
            ran.status.success(),
            "cutoff_netns.sh up {} failed ({}): {}",
            cut.name,
            ran.status,
            ran.stderr_text()
        );
        Some(cut)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `cmd` run on the cut-off laptop: `ip netns exec NAME PROGRAM ARGS` with exactly `cmd`'s
    /// environment (`ip netns exec` execs the program, so timing it times the program).
    pub fn wrap(&self, cmd: &Command) -> Command {
        let mut wrapped = Command::new("ip");
        wrapped
            .args(["netns", "exec", &self.name])
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .env_clear();
        for (key, value) in cmd.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        // `ip` itself must be found whatever PATH the wrapped command has.
        if let Some(path) = std::env::var_os("PATH")
            && cmd.get_envs().all(|(k, _)| k != "PATH")
        {
            wrapped.env("PATH", path);
        }
        wrapped
    }

    fn script(&self, action: &str) -> Result<Ran, String> {
        let mut cmd = Command::new(CUTOFF_SH);
        cmd.arg(action).arg(&self.name);
        run_script(cmd, SCRIPT_TIMEOUT)
    }
}

impl Drop for CutOff {
    fn drop(&mut self) {
        // Never panic in drop (it may run while a panic unwinds): report instead.
        match self.script("down") {
            Ok(ran) if ran.status.success() => {}
            Ok(ran) => eprintln!(
                "cutoff_netns.sh down {} failed: {}",
                self.name,
                ran.stderr_text()
            ),
            Err(e) => eprintln!("cutoff_netns.sh down {}: {e}", self.name),
        }
    }
}
