//! The hard bound on a whole request: `DOCKER_CREDENTIAL_ECR_TIMEOUT` seconds from the moment
//! the request has been read (stdin at EOF) to the answer, whatever blocks on the way.
//!
//! The bound starts once the request is read, not at process start: docker, podman and the
//! kubelet write the request and close stdin at once, and a person typing a request on a
//! terminal is not a stalled resolver.
//!
//! This module holds the setting (the variable, its default and its checks), the value a
//! request carries ([`Deadline`]), what the front hands the engine ([`HANDOFF_VAR`]) and the one
//! wording of a timeout. Two layers keep the bound, both in [`crate::watchdog`]:
//! - The normal path: every wait (the SDK's timeouts, the outer timer around a fetch, the wait
//!   for another process's refresh) ends by [`Deadline::work_left`], which stops
//!   `ANSWER_MARGIN` short of the deadline, leaving that much to tidy up and answer with the
//!   precise error. The SDK runs on a thread of its own while the caller waits on a clock
//!   ([`crate::watchdog::run_bounded`]): what cannot be cancelled is abandoned, not waited for.
//! - The watchdog, the last resort for what no timer can interrupt (an `open` or `read` of a
//!   FIFO or a hung file system, on the main thread).

use std::io::Write;
use std::time::{Duration, Instant};

/// Seconds a whole request may take.
pub const TIMEOUT_VAR: &str = "DOCKER_CREDENTIAL_ECR_TIMEOUT";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound past a day is a typo, not a wish: no client waits that long.
const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// An unusable `DOCKER_CREDENTIAL_ECR_TIMEOUT`, and the default used in its place.
#[derive(Debug, thiserror::Error)]
#[error(
    "{TIMEOUT_VAR}={value:?} is not a number of seconds above 0 and below {MAX_TIMEOUT_SECS}; using the default, {}s",
    DEFAULT_TIMEOUT.as_secs()
)]
pub struct TimeoutError {
    value: String,
}

/// The bound on a whole request, a token fetch and its credential resolution included:
/// `DOCKER_CREDENTIAL_ECR_TIMEOUT` seconds, else 10.
pub fn timeout(env: &dyn crate::env::Env) -> Duration {
    timeout_setting(env).unwrap_or(DEFAULT_TIMEOUT)
}

/// The variable's bound, or why it cannot be used.
pub fn timeout_setting(env: &dyn crate::env::Env) -> Result<Duration, TimeoutError> {
    let Some(value) = env.var(TIMEOUT_VAR) else {
        return Ok(DEFAULT_TIMEOUT);
    };
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < MAX_TIMEOUT_SECS)
        .map(Duration::from_secs_f64)
        .ok_or(TimeoutError { value })
}

/// Says on stderr that the variable is unusable. Each `main` calls it once, except in an engine
/// the front handed a request to ([`take_handoff`]): the front has said it.
pub fn warn_unusable_timeout(env: &dyn crate::env::Env, program: &str) {
    if let Err(e) = timeout_setting(env) {
        // Not eprintln!: a closed stderr must not turn a warning into a panic.
        let _ = writeln!(std::io::stderr(), "{program}: {e}");
    }
}

/// Kept back from the work at the end of the bound: the time to stop it, kill child processes,
/// record the failure in the cache and write the answer. At most a fifth of a short bound.
const ANSWER_MARGIN: Duration = Duration::from_millis(250);

/// When a request must be answered.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    limit: Duration,
}

impl Deadline {
    /// `limit` from now.
    pub fn after(limit: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + limit,
            limit,
        }
    }

    /// `DOCKER_CREDENTIAL_ECR_TIMEOUT` (or its default) from now.
    pub fn from_env(env: &dyn crate::env::Env) -> Deadline {
        Deadline::within(env, None)
    }

    /// As [`Self::from_env`], but no later than `handed_over` from now: in an engine the front
    /// handed a request to, what was left of the front's bound ([`take_handoff`]).
    pub fn within(env: &dyn crate::env::Env, handed_over: Option<Duration>) -> Deadline {
        let limit = timeout(env);
        let left = handed_over.map_or(limit, |left| limit.min(left));
        Deadline {
            at: Instant::now() + left,
            limit,
        }
    }

    /// What to hand the engine in [`HANDOFF_VAR`]: the time left, in milliseconds.
    pub fn handoff_value(&self) -> String {
        self.remaining().as_millis().to_string()
    }

    /// The whole bound, as configured (what messages quote).
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Time until the deadline itself (the watchdog's).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Time left for work that must still be followed by an answer: every wait on the normal
    /// path ends by then, so that its own precise error is answered before the watchdog acts.
    pub fn work_left(&self) -> Duration {
        self.remaining().saturating_sub(self.margin())
    }

    /// Time left for a wait after which the request only reads a result and answers (the
    /// wait for another process's refresh of the same token): most of the margin, which is
    /// kept for stopping work and tidying up, is not needed after it. A refresher that began
    /// a moment earlier ends its work a moment before us; waiting only [`Self::work_left`]
    /// would give up just before it shares what it found.
    pub fn wait_left(&self) -> Duration {
        self.remaining().saturating_sub(self.margin() / 4)
    }

    fn margin(&self) -> Duration {
        ANSWER_MARGIN.min(self.limit / 5)
    }
}

/// Set by the front binary for the engine it hands a request to ([`crate::front`]): the
/// milliseconds left of the request's bound, so that the two processes keep one bound between
/// them. It can only shorten the bound, never lengthen it.
pub const HANDOFF_VAR: &str = "DOCKER_CREDENTIAL_ECR_HANDOFF_LEFT_MS";

/// Takes [`HANDOFF_VAR`] out of the environment, so that no process this one starts inherits
/// it, and returns its value, which `main` keeps for every request's [`Deadline::within`]. Must
/// run before any other thread exists (it changes the environment); `cli::main` calls it first
/// thing.
pub fn take_handoff() -> Option<Duration> {
    let value = std::env::var_os(HANDOFF_VAR)?;
    // SAFETY: called at start-up, before any thread is spawned (see above).
    unsafe { std::env::remove_var(HANDOFF_VAR) };
    let ms = value.to_str().and_then(|v| v.trim().parse::<u64>().ok())?;
    Some(Duration::from_millis(ms))
}

/// The one wording of a timeout, for the normal path and the watchdog alike. `doing` says what
/// was under way (`reaching ecr.us-east-1`); it names no secret.
pub fn message(doing: Option<&str>, after: Duration) -> String {
    let doing = doing.map(|d| format!(" {d}")).unwrap_or_default();
    format!(
        "timed out{doing} after {}s (set {} to wait longer)",
        after.as_secs_f64(),
        TIMEOUT_VAR
    )
}

/// A thread or process that could not start for want of room (EAGAIN from `clone`): the
/// error names the limit (a user's `ulimit -u`, a container's pids limit), where the errno's
/// own text, "Resource temporarily unavailable", says neither what nor which.
pub fn name_the_limit(error: std::io::Error, what: &str) -> std::io::Error {
    if error.raw_os_error() != Some(libc::EAGAIN) {
        return error;
    }
    std::io::Error::new(
        error.kind(),
        format!(
            "cannot start {what}: the limit on processes and threads is reached (ulimit -u, or the container's pids limit)"
        ),
    )
}

/// Debug builds only: with this variable set, the main thread blocks for good where the config
/// file is loaded, as it would on a dead network file system, which no test can make (FIFOs
/// and devices are refused before they are opened). The tests prove with it that the watchdog
/// answers. Release builds have no such variable.
pub const STALL_FOR_TESTS_VAR: &str = "DOCKER_CREDENTIAL_ECR_TEST_STALL";

pub fn stall_for_tests(env: &dyn crate::env::Env) {
    if cfg!(debug_assertions) && env.var(STALL_FOR_TESTS_VAR).is_some() {
        loop {
            std::thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_ends_before_the_deadline_with_room_to_answer() {
        let d = Deadline::after(Duration::from_secs(10));
        assert_eq!(d.margin(), ANSWER_MARGIN);
        assert!(d.work_left() <= Duration::from_secs(10) - ANSWER_MARGIN);
        assert!(d.work_left() > Duration::from_secs(9));
        // A short bound keeps most of itself for the work.
        let d = Deadline::after(Duration::from_millis(500));
        assert_eq!(d.margin(), Duration::from_millis(100));
        assert_eq!(Deadline::after(Duration::ZERO).work_left(), Duration::ZERO);
    }

    #[test]
    fn an_unusable_timeout_is_an_error_naming_the_variable_and_the_default() {
        use crate::env::MapEnv;
        for bad in ["abc", "0", "-1", "1e9", "86400", "NaN", "inf", "10s"] {
            let env = MapEnv::new(&[(TIMEOUT_VAR, bad)]);
            let e = timeout_setting(&env).unwrap_err().to_string();
            assert_eq!(
                e,
                format!(
                    "{TIMEOUT_VAR}={bad:?} is not a number of seconds above 0 and below 86400; using the default, 10s"
                )
            );
            assert_eq!(timeout(&env), DEFAULT_TIMEOUT);
        }
        let env = MapEnv::new(&[(TIMEOUT_VAR, " 2.5 ")]);
        assert_eq!(timeout_setting(&env).unwrap(), Duration::from_millis(2500));
        assert_eq!(
            timeout_setting(&MapEnv::default()).unwrap(),
            DEFAULT_TIMEOUT
        );
    }

    #[test]
    fn a_full_process_table_is_named_as_the_limit() {
        let e = name_the_limit(std::io::Error::from_raw_os_error(libc::EAGAIN), "a thread");
        assert_eq!(
            e.to_string(),
            "cannot start a thread: the limit on processes and threads is reached (ulimit -u, or the container's pids limit)"
        );
        let other = name_the_limit(std::io::Error::from_raw_os_error(libc::ENOMEM), "a thread");
        assert_eq!(other.raw_os_error(), Some(libc::ENOMEM));
    }

    #[test]
    fn one_wording_for_every_timeout() {
        assert_eq!(
            message(Some("reaching ecr.us-east-1"), Duration::from_secs(10)),
            "timed out reaching ecr.us-east-1 after 10s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)"
        );
        assert_eq!(
            message(None, Duration::from_millis(1500)),
            "timed out after 1.5s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)"
        );
    }
}
