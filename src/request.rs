//! One request, as each entry point (the front, a protocol verb, the kubelet plugin, each step
//! of `doctor`) builds it once it has read its input: the environment view it answers from,
//! its deadline, and its handle to the watchdog (armed with the form its answer and errors
//! take at the deadline), through which the code it calls says what it is doing. It is passed
//! down as a value; no process-wide state holds any of it.
//!
//! What outlives one request is the [`Process`], which the program's `main` owns: what was
//! left of the front's bound when it handed the request over, read at start-up, and the
//! watchdog.

use crate::deadline::Deadline;
use crate::env::Env;
use crate::watchdog::{Form, Handle, Watchdog};
use std::borrow::Cow;
use std::time::Duration;

/// What `main` owns and lends to each request it serves.
#[derive(Debug, Default)]
pub struct Process {
    /// What was left of the front's bound, for an engine the front handed a request to
    /// ([`crate::deadline::take_handoff`]): it caps each request's bound.
    handed_over: Option<Duration>,
    /// Only the real process has one ([`crate::watchdog`]).
    watchdog: Option<Watchdog>,
}

impl Process {
    /// A library user's or a test's: no hand-over and no watchdog, which would end the caller's
    /// process at a deadline and kill its children.
    pub fn embedded() -> Process {
        Process::default()
    }

    /// The real program's: at a request's deadline it may be ended and its children killed.
    /// `handed_over` is what [`crate::deadline::take_handoff`] returned. (The watchdog's thread
    /// starts only once a request has been read.)
    pub fn real(handed_over: Option<Duration>) -> Process {
        Process {
            handed_over,
            watchdog: Some(Watchdog::new()),
        }
    }

    /// Whether the front handed this process its request, and has said what it had to say
    /// about the settings.
    pub fn handed_over(&self) -> bool {
        self.handed_over.is_some()
    }

    /// The watchdog's handle, for what spans requests (`doctor`'s report, after its steps).
    pub fn watchdog(&self) -> Handle {
        self.watchdog
            .as_ref()
            .map_or_else(Handle::default, Watchdog::handle)
    }
}

/// One request, from the moment its input has been read to its answer.
#[derive(Clone)]
pub struct Request<'a> {
    /// The one view of the environment this request answers from.
    pub env: &'a dyn Env,
    /// When it must be answered.
    pub deadline: Deadline,
    /// Its line to the watchdog; says nothing, and claims nothing, without one.
    pub watchdog: Handle,
}

impl<'a> Request<'a> {
    /// A request starting now: its bound ([`Deadline::within`] what `process` was handed), and
    /// the process's watchdog armed to answer in `form` at its deadline.
    pub fn start(process: &Process, env: &'a dyn Env, form: Form) -> Request<'a> {
        let deadline = Deadline::within(env, process.handed_over);
        if let Some(watchdog) = &process.watchdog {
            watchdog.arm(deadline, form);
        }
        Request {
            env,
            deadline,
            watchdog: process.watchdog(),
        }
    }

    /// A request bound by `deadline`, with no watchdog: a test's or a library user's.
    pub fn unwatched(env: &'a dyn Env, deadline: Deadline) -> Request<'a> {
        Request {
            env,
            deadline,
            watchdog: Handle::default(),
        }
    }

    /// Says what the request is doing, which a timeout at the deadline names.
    pub fn doing(&self, what: impl Into<Cow<'static, str>>) {
        self.watchdog.doing(what);
    }

    /// Claims the right to answer: returns if the caller may write its answer; if the watchdog
    /// has already answered, never returns (it is ending the process).
    pub fn claim_answer(&self) {
        self.watchdog.claim_answer();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    #[test]
    fn a_bound_handed_over_caps_the_request_and_keeps_the_configured_limit() {
        let env = MapEnv::new(&[(crate::deadline::TIMEOUT_VAR, "10")]);
        let process = Process {
            handed_over: Some(Duration::from_secs(2)),
            watchdog: None,
        };
        let form = Form::Stderr { prefix: "t".into() };
        let request = Request::start(&process, &env, form);
        assert!(request.deadline.remaining() <= Duration::from_secs(2));
        assert_eq!(request.deadline.limit(), Duration::from_secs(10));
        let own = Request::start(
            &Process::embedded(),
            &env,
            Form::Stderr { prefix: "t".into() },
        );
        assert!(own.deadline.remaining() > Duration::from_secs(9));
    }

    #[test]
    fn without_a_watchdog_a_request_kills_no_child_and_claims_at_once() {
        let env = MapEnv::default();
        let form = Form::Stderr { prefix: "t".into() };
        let request = Request::start(&Process::embedded(), &env, form);
        request.doing("loading the config file");
        request.claim_answer();
        request.claim_answer();
        // The harness's children are not the request's to kill.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        request.watchdog.kill_children();
        std::thread::sleep(Duration::from_millis(20));
        let alive = child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(alive, "a child of a process with no watchdog was killed");
    }

    #[test]
    fn the_code_a_request_is_passed_to_tells_its_own_watchdog() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let env = MapEnv::new(&[("HOME", home), ("AWS_ECR_DISABLE_CACHE", "1")]);
        // Not armed: an armed watchdog would end the test process at the deadline.
        let (watchdog, other) = (Watchdog::new(), Watchdog::new());
        let request = Request {
            watchdog: watchdog.handle(),
            ..Request::unwatched(&env, Deadline::after(Duration::from_secs(5)))
        };
        crate::lookup::Lookup::new(&request).unwrap();
        assert_eq!(
            request.watchdog.said().as_deref(),
            Some("loading the config file")
        );
        assert_eq!(other.handle().said(), None, "another request's watchdog");
    }
}
