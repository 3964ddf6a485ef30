//! The hard bound on a whole request: `DOCKER_CREDENTIAL_ECR_TIMEOUT` seconds from the moment
//! the request has been read (stdin at EOF) to the answer, whatever blocks on the way.
//!
//! The bound starts once the request is read, not at process start: docker, podman and the
//! kubelet write the request and close stdin at once, and a person typing a request on a
//! terminal is not a stalled resolver.
//!
//! Two layers keep it:
//! - The normal path: every wait (the SDK's timeouts, the outer timer around a fetch, the wait
//!   for another process's refresh) ends by [`Deadline::work_left`], which stops
//!   `ANSWER_MARGIN` short of the deadline, leaving that much to tidy up and answer with the
//!   precise error. The SDK runs on a thread of its own while the caller waits on a clock
//!   ([`run_bounded`]): what cannot be cancelled (a stalled `getaddrinfo`, a blocking read of a
//!   profile file) is abandoned, not waited for, and child processes (a `credential_process`
//!   and whatever it started) are killed.
//! - The watchdog, the last resort for what no timer can interrupt (an `open` or `read` of a
//!   FIFO or a hung file system, on the main thread): at the deadline it kills the child
//!   processes, writes the timeout error in the caller's [`Form`] and ends the process with
//!   exit status 1. Whoever answers first (the main thread through [`claim_answer`], or the
//!   watchdog) is the only one that answers.
//!
//! The watchdog only runs in the real process ([`enable`]), never inside a test harness or a
//! library user's process, which it would otherwise end.

use crate::platform::{self, Stream};
use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;
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

/// Says on stderr, once per process, that the variable is unusable. Not for an engine the
/// front handed a request to: the front has said it.
pub fn warn_unusable_timeout(env: &dyn crate::env::Env, program: &str) {
    if HANDED_OVER.get().is_some() {
        return;
    }
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

    /// `DOCKER_CREDENTIAL_ECR_TIMEOUT` (or its default) from now; in an engine the front
    /// handed a request to, what was left of the front's bound ([`take_handoff`]).
    pub fn from_env(env: &dyn crate::env::Env) -> Deadline {
        let limit = timeout(env);
        let left = HANDED_OVER.get().map_or(limit, |left| limit.min(*left));
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

static HANDED_OVER: OnceLock<Duration> = OnceLock::new();

/// Takes [`HANDOFF_VAR`] out of the environment, so that no process this one starts inherits
/// it, and keeps its value for [`Deadline::from_env`]. Must run before any other thread exists
/// (it changes the environment); `cli::main` calls it first thing.
pub fn take_handoff() {
    let Some(value) = std::env::var_os(HANDOFF_VAR) else {
        return;
    };
    // SAFETY: called at start-up, before any thread is spawned (see above).
    unsafe { std::env::remove_var(HANDOFF_VAR) };
    if let Some(ms) = value.to_str().and_then(|v| v.trim().parse::<u64>().ok()) {
        let _ = HANDED_OVER.set(Duration::from_millis(ms));
    }
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

/// How the watchdog answers: the shape each caller would use for any other error.
#[derive(Debug, Clone)]
pub enum Form {
    /// The credential-helper protocol: the line on stdout (where clients read errors) and,
    /// prefixed with the program's name, on stderr (which docker shows).
    Protocol { program: String },
    /// The kubelet plugin and `doctor`: the line on stderr only, prefixed with `prefix`.
    Stderr { prefix: String },
}

/// Runs the future `make` builds on a fresh single-threaded runtime, on a thread of its own,
/// for at most `budget`: `None` if the budget ran out first. The SDK's own timers cannot stop
/// everything: it reads the profile files with blocking calls on the runtime's thread (a FIFO
/// there blocks the runtime and every timer on it), and `getaddrinfo` on a blocking thread
/// cannot be cancelled. So the caller waits on a clock no future can block, and what is left
/// is abandoned: the runtime is shut down without waiting for its blocking threads, a stuck
/// thread dies with the process, and on a timeout the child processes it started
/// (`credential_process` via `sh -c`, and theirs) are killed. After a success nothing is
/// killed: what a finished `credential_process` left running (an agent that detached itself,
/// such as gpg-agent) was left on purpose.
pub fn run_bounded<T, Fut, Make>(budget: Duration, make: Make) -> std::io::Result<Option<T>>
where
    Make: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    if budget.is_zero() {
        return Ok(None);
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("aws".into())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|runtime| {
                    let out = runtime.block_on(make());
                    runtime.shutdown_background();
                    out
                });
            // The caller may have stopped waiting: nobody to tell.
            let _ = tx.send(result);
        })
        .map_err(|e| name_the_limit(e, "a thread"))?;
    match rx.recv_timeout(budget) {
        Ok(result) => result.map(Some),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            kill_descendants();
            Ok(None)
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Err(std::io::Error::other("the AWS client stopped unexpectedly"))
        }
    }
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

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Who answers the current request: the main thread and the watchdog race for it, and only
/// the winner writes anything.
struct Claim(AtomicU8);

/// No watchdog is armed: the main thread answers.
const IDLE: u8 = 0;
/// The watchdog waits for the deadline; the first to claim answers.
const ARMED: u8 = 1;
/// The main thread has claimed the answer.
const ANSWERED: u8 = 2;
/// The watchdog has claimed the answer and is ending the process.
const FIRED: u8 = 3;

impl Claim {
    const fn new() -> Claim {
        Claim(AtomicU8::new(IDLE))
    }

    fn state(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }

    /// Arms, or re-arms for a new deadline; false if the watchdog has already answered.
    fn arm(&self) -> bool {
        let mut state = self.state();
        loop {
            if state == FIRED {
                return false;
            }
            match self
                .0
                .compare_exchange(state, ARMED, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    /// The main thread's claim: true unless the watchdog has answered.
    fn for_main(&self) -> bool {
        match self
            .0
            .compare_exchange(ARMED, ANSWERED, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => true,
            Err(state) => state != FIRED,
        }
    }

    /// The watchdog's claim: true only while armed and unclaimed.
    fn for_watchdog(&self) -> bool {
        self.0
            .compare_exchange(ARMED, FIRED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }
}

static STATE: Claim = Claim::new();

struct Armed {
    deadline: Deadline,
    form: Form,
}

static CURRENT: Mutex<Option<Armed>> = Mutex::new(None);
static DOING: Mutex<Option<Cow<'static, str>>> = Mutex::new(None);
static WATCHER: OnceLock<Option<Thread>> = OnceLock::new();

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lets this process be ended at a request's deadline and kill its child processes. Called by
/// the program's `main` once the environment is settled; it starts no thread (that happens at
/// the first [`arm`]).
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

fn enabled() -> bool {
    ENABLED.load(Ordering::SeqCst)
}

/// Starts (or moves) the watchdog: at `deadline` it answers in `form` and ends the process,
/// unless [`claim_answer`] was called first. Without [`enable`] it does nothing.
pub fn arm(deadline: Deadline, form: Form) {
    if !enabled() {
        return;
    }
    *lock(&CURRENT) = Some(Armed { deadline, form });
    if !STATE.arm() {
        wait_for_exit();
    }
    let watcher = WATCHER.get_or_init(|| {
        std::thread::Builder::new()
            .name("deadline".into())
            .stack_size(64 * 1024)
            .spawn(watch)
            .ok()
            .map(|h| h.thread().clone())
    });
    match watcher {
        Some(t) => t.unpark(),
        // No thread: the normal path's own timers still bound the request.
        None => crate::debug!("no watchdog thread; relying on the request's own timeouts"),
    }
}

/// A request's bound, from now: the deadline for its work, and the watchdog armed to answer in
/// `form` at it.
pub fn start(env: &dyn crate::env::Env, form: Form) -> Deadline {
    let deadline = Deadline::from_env(env);
    arm(deadline, form);
    deadline
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

/// Says what the request is doing, for the watchdog's message (`loading the config file`).
pub fn doing(what: impl Into<Cow<'static, str>>) {
    if enabled() {
        *lock(&DOING) = Some(what.into());
    }
}

/// Claims the right to answer: returns if the caller may write its answer; if the watchdog
/// has already answered, never returns (the watchdog is ending the process).
pub fn claim_answer() {
    if !STATE.for_main() {
        wait_for_exit();
    }
}

fn wait_for_exit() -> ! {
    loop {
        std::thread::park();
    }
}

fn watch() {
    loop {
        let at = lock(&CURRENT).as_ref().map(|a| a.deadline.at);
        let now = Instant::now();
        match at {
            Some(at) if STATE.state() == ARMED => {
                if now >= at {
                    fire();
                } else {
                    std::thread::park_timeout(at - now);
                }
            }
            // Answered or never armed: sleep until armed (again).
            _ => std::thread::park(),
        }
    }
}

fn fire() {
    let Some((limit, form)) = lock(&CURRENT)
        .as_ref()
        .map(|a| (a.deadline.limit, a.form.clone()))
    else {
        return;
    };
    if !STATE.for_watchdog() {
        return;
    }
    kill_descendants();
    let doing = lock(&DOING).clone();
    let line = message(doing.as_deref(), limit);
    // Raw writes: the main thread may hold std's stdout lock, and is stuck.
    let (stdout, stderr) = match &form {
        // The stderr copy only for clients that drop stdout, as for every protocol error.
        Form::Protocol { program } => (
            Some(format!("{line}\n")),
            (!crate::cli::client_shows_stdout()).then(|| format!("{program}: {line}\n")),
        ),
        Form::Stderr { prefix } => (None, Some(format!("{prefix}: {line}\n"))),
    };
    if let Some(text) = stdout {
        platform::write_unbuffered(Stream::Stdout, text.as_bytes());
    }
    if let Some(text) = stderr {
        platform::write_unbuffered(Stream::Stderr, text.as_bytes());
    }
    // Nothing buffered is lost: the answer was written unbuffered above. No destructor of the
    // stuck main thread runs.
    platform::exit_at_once(1)
}

/// Kills every process descended from this one (a `credential_process` runs via `sh -c`,
/// which may start others), leaving this process alone. A process that detached itself from
/// its parent on purpose (a daemon: its parent exited and init adopted it) is no longer below
/// us and is left alone; agents such as gpg-agent are meant to outlive their first user. Only in the real process ([`enable`]):
/// a test harness's other children are not ours to kill.
pub fn kill_descendants() {
    // Every descendant is below a living child of ours (when a child ends, its own children
    // are handed to init): with none, one system call and no scan of the process table.
    if !enabled() || !platform::has_children() {
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
            platform::kill(pid);
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
    tree_below(root, &platform::process_table())
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

    #[test]
    fn the_tree_below_a_process_and_nothing_else() {
        let table = [(10, 1), (11, 10), (12, 11), (13, 1), (14, 12), (15, 13)];
        let mut below = tree_below(10, &table);
        below.sort();
        assert_eq!(below, vec![11, 12, 14]);
        assert!(tree_below(99, &table).is_empty());
    }

    #[test]
    fn the_first_claim_wins() {
        // The state machine without its effects (firing ends the process): the main thread's
        // claim and the watchdog's cannot both succeed.
        let claim = Claim::new();
        assert!(claim.for_main(), "nothing armed: the main thread answers");
        assert!(!claim.for_watchdog());
        assert!(claim.arm());
        assert!(claim.for_main());
        assert!(!claim.for_watchdog());
        assert!(
            claim.arm(),
            "re-armed for the next step (doctor's next host)"
        );
        assert!(claim.for_watchdog());
        assert!(!claim.for_main());
        assert!(!claim.arm(), "once the watchdog answers, nothing else does");
    }
}
