//! What keeps a request's bound ([`crate::deadline`]) where no timer can:
//! - [`run_bounded`]: the SDK on a runtime of its own thread, which the caller waits for on a
//!   clock and abandons at its budget, killing the child processes it started;
//! - the [`Watchdog`], the last resort for what blocks the main thread itself (an `open` or
//!   `read` of a FIFO or a hung file system): at the deadline it kills the child processes,
//!   writes the timeout error in the caller's [`Form`], naming the step under way, and ends the
//!   process with exit status 1. Whoever answers first (the main thread through
//!   [`Handle::claim_answer`], or the watchdog) is the only one that answers.
//!
//! The program's `main` owns the one watchdog; each request holds a [`Handle`] to it, through
//! which it says what it is doing. Only the real process has a watchdog: a test harness or a
//! library user has none (it would end their process, and their other children are not ours to
//! kill), and a handle to none does nothing.

use crate::deadline::{self, Deadline};
use crate::platform::{self, Stream};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::Duration;

/// How the watchdog answers: the shape each caller would use for any other error.
#[derive(Debug, Clone)]
pub enum Form {
    /// The credential-helper protocol: the line on stdout (where clients read errors) and,
    /// prefixed with the program's name, on stderr (which docker shows) unless
    /// `client_shows_stdout` says the client shows stdout already. That is asked only when the
    /// watchdog answers: it reads the process table.
    Protocol {
        program: String,
        client_shows_stdout: fn() -> bool,
    },
    /// The kubelet plugin and `doctor`: the line on stderr only, prefixed with `prefix`.
    Stderr { prefix: String },
}

impl Form {
    /// What the watchdog writes for the timeout `line`: (stdout, stderr).
    fn answer(&self, line: &str) -> (Option<String>, Option<String>) {
        match self {
            // The stderr copy only for clients that drop stdout, as for every protocol error.
            Form::Protocol {
                program,
                client_shows_stdout,
            } => (
                Some(format!("{line}\n")),
                (!client_shows_stdout()).then(|| format!("{program}: {line}\n")),
            ),
            Form::Stderr { prefix } => (None, Some(format!("{prefix}: {line}\n"))),
        }
    }
}

/// The process's watchdog, which `main` owns and lends to each request it serves ([`Handle`]).
/// It starts no thread until it is first armed.
#[derive(Debug, Default)]
pub struct Watchdog {
    shared: Arc<Shared>,
}

/// A request's line to the watchdog: what it says it is doing goes into the watchdog's answer,
/// and it claims the right to answer. With no watchdog (a test, a library user) it does nothing.
#[derive(Debug, Clone, Default)]
pub struct Handle(Option<Arc<Shared>>);

/// What the main thread and the watchdog's thread share.
#[derive(Debug, Default)]
struct Shared {
    claim: Claim,
    armed: Mutex<Option<Armed>>,
    /// What the request is doing (`loading the config file`), for the timeout's message.
    doing: Mutex<Option<Cow<'static, str>>>,
    /// The watchdog's thread, once started; `None` if it could not be.
    thread: OnceLock<Option<Thread>>,
}

#[derive(Debug)]
struct Armed {
    deadline: Deadline,
    form: Form,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Watchdog {
    pub fn new() -> Watchdog {
        Watchdog::default()
    }

    /// A handle for a request this watchdog keeps.
    pub fn handle(&self) -> Handle {
        Handle(Some(Arc::clone(&self.shared)))
    }

    /// Starts (or moves) the watchdog: at `deadline` it answers in `form` and ends the process,
    /// unless the answer was claimed first ([`Handle::claim_answer`]).
    pub fn arm(&self, deadline: Deadline, form: Form) {
        if !self.shared.arm(deadline, form) {
            wait_for_exit();
        }
        let thread = self.shared.thread.get_or_init(|| {
            let shared = Arc::clone(&self.shared);
            std::thread::Builder::new()
                .name("deadline".into())
                .stack_size(64 * 1024)
                .spawn(move || watch(&shared))
                .ok()
                .map(|h| h.thread().clone())
        });
        match thread {
            Some(t) => t.unpark(),
            // No thread: the normal path's own timers still bound the request.
            None => crate::debug!("no watchdog thread; relying on the request's own timeouts"),
        }
    }
}

impl Handle {
    /// Says what the request is doing, for the watchdog's message (`loading the config file`).
    pub fn doing(&self, what: impl Into<Cow<'static, str>>) {
        if let Some(shared) = &self.0 {
            *lock(&shared.doing) = Some(what.into());
        }
    }

    /// Claims the right to answer: returns if the caller may write its answer; if the watchdog
    /// has already answered, never returns (the watchdog is ending the process).
    pub fn claim_answer(&self) {
        if let Some(shared) = &self.0
            && !shared.claim.for_main()
        {
            wait_for_exit();
        }
    }

    /// What the request last said it was doing (tests of the code that tells it).
    #[cfg(test)]
    pub(crate) fn said(&self) -> Option<String> {
        let shared = self.0.as_ref()?;
        lock(&shared.doing).as_deref().map(str::to_string)
    }

    /// Kills the child processes this process started, and theirs; only in the real process
    /// (the one with a watchdog).
    pub fn kill_children(&self) {
        if self.0.is_some() {
            platform::kill_descendants();
        }
    }
}

impl Shared {
    /// Arms for `deadline`; false if the watchdog has already answered.
    fn arm(&self, deadline: Deadline, form: Form) -> bool {
        *lock(&self.armed) = Some(Armed { deadline, form });
        self.claim.arm()
    }

    /// The timeout's line, naming what the request said it was doing, and the form to write
    /// it in; `None` if never armed.
    fn timeout(&self) -> Option<(String, Form)> {
        let (limit, form) = lock(&self.armed)
            .as_ref()
            .map(|a| (a.deadline.limit(), a.form.clone()))?;
        let doing = lock(&self.doing).clone();
        Some((deadline::message(doing.as_deref(), limit), form))
    }
}

fn wait_for_exit() -> ! {
    loop {
        std::thread::park();
    }
}

fn watch(shared: &Shared) {
    loop {
        let left = lock(&shared.armed).as_ref().map(|a| a.deadline.remaining());
        match left {
            Some(left) if shared.claim.state() == ARMED => {
                if left.is_zero() {
                    fire(shared);
                } else {
                    std::thread::park_timeout(left);
                }
            }
            // Answered or never armed: sleep until armed (again).
            _ => std::thread::park(),
        }
    }
}

fn fire(shared: &Shared) {
    let Some((line, form)) = shared.timeout() else {
        return;
    };
    if !shared.claim.for_watchdog() {
        return;
    }
    platform::kill_descendants();
    // Raw writes: the main thread may hold std's stdout lock, and is stuck.
    let (stdout, stderr) = form.answer(&line);
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

/// Runs the future `make` builds on a fresh single-threaded runtime, on a thread of its own,
/// for at most `budget`: `None` if the budget ran out first. The SDK's own timers cannot stop
/// everything: it reads the profile files with blocking calls on the runtime's thread (a FIFO
/// there blocks the runtime and every timer on it), and `getaddrinfo` on a blocking thread
/// cannot be cancelled. So the caller waits on a clock no future can block, and what is left
/// is abandoned: the runtime is shut down without waiting for its blocking threads, a stuck
/// thread dies with the process, and on a timeout the child processes it started
/// (`credential_process` via `sh -c`, and theirs) are killed, if `watchdog` is the real
/// process's ([`Handle::kill_children`]). After a success nothing is killed: what a finished
/// `credential_process` left running (an agent that detached itself, such as gpg-agent) was
/// left on purpose.
pub fn run_bounded<T, Fut, Make>(
    budget: Duration,
    watchdog: &Handle,
    make: Make,
) -> std::io::Result<Option<T>>
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
        .map_err(|e| deadline::name_the_limit(e, "a thread"))?;
    match rx.recv_timeout(budget) {
        Ok(result) => result.map(Some),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            watchdog.kill_children();
            Ok(None)
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Err(std::io::Error::other("the AWS client stopped unexpectedly"))
        }
    }
}

/// Who answers the current request: the main thread and the watchdog race for it, and only
/// the winner writes anything.
#[derive(Debug)]
struct Claim(AtomicU8);

/// No watchdog is armed: the main thread answers.
const IDLE: u8 = 0;
/// The watchdog waits for the deadline; the first to claim answers.
const ARMED: u8 = 1;
/// The main thread has claimed the answer.
const ANSWERED: u8 = 2;
/// The watchdog has claimed the answer and is ending the process.
const FIRED: u8 = 3;

impl Default for Claim {
    fn default() -> Claim {
        Claim(AtomicU8::new(IDLE))
    }
}

impl Claim {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn protocol_form(client_shows_stdout: fn() -> bool) -> Form {
        Form::Protocol {
            program: "docker-credential-ecr".into(),
            client_shows_stdout,
        }
    }

    #[test]
    fn the_first_claim_wins() {
        // The state machine without its effects (firing ends the process): the main thread's
        // claim and the watchdog's cannot both succeed.
        let claim = Claim::default();
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

    #[test]
    fn progress_told_through_a_handle_is_named_in_the_watchdogs_answer() {
        // Armed without its thread, which would end the test process at the deadline.
        let watchdog = Watchdog::new();
        let handle = watchdog.handle();
        let deadline = Deadline::after(Duration::from_secs(10));
        assert!(watchdog.shared.arm(deadline, protocol_form(|| false)));
        handle.doing("loading the config file");
        handle.clone().doing("reading the token cache");
        let (line, form) = watchdog.shared.timeout().unwrap();
        assert_eq!(
            line,
            "timed out reading the token cache after 10s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)"
        );
        assert_eq!(
            form.answer(&line),
            (
                Some(format!("{line}\n")),
                Some(format!("docker-credential-ecr: {line}\n"))
            )
        );
        // A client that shows stdout gets the line once; the kubelet and doctor on stderr only.
        assert_eq!(protocol_form(|| true).answer(&line).1, None);
        let stderr = Form::Stderr {
            prefix: "docker-credential-ecr doctor".into(),
        };
        assert_eq!(
            stderr.answer(&line),
            (
                None,
                Some(format!("docker-credential-ecr doctor: {line}\n"))
            )
        );
    }

    #[test]
    fn each_watchdog_hears_only_its_own_requests() {
        let (one, other) = (Watchdog::new(), Watchdog::new());
        let deadline = Deadline::after(Duration::from_millis(1500));
        assert!(one.shared.arm(deadline, protocol_form(|| true)));
        assert!(other.shared.arm(deadline, protocol_form(|| true)));
        one.handle().doing("waiting for docker-credential-pass");
        Handle::default().doing("reaching ecr.us-east-1");
        assert_eq!(
            one.shared.timeout().unwrap().0,
            "timed out waiting for docker-credential-pass after 1.5s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)"
        );
        assert_eq!(
            other.shared.timeout().unwrap().0,
            "timed out after 1.5s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)"
        );
        assert!(Watchdog::new().shared.timeout().is_none(), "never armed");
    }
}
