//! The fallback store: with `"credsStore": "ecr"` docker sends every registry here, so hosts
//! that are not ECR are forwarded to another credential helper named in the config file
//! (`fallback_store = "pass"` runs `docker-credential-pass`). Its request is the one this
//! process read, and its answer and exit status are handed back as they are: to docker, the two
//! helpers are one store.
//!
//! The helper runs under the same bound as a token fetch (`DOCKER_CREDENTIAL_ECR_TIMEOUT`), in a
//! process group of its own that is killed when the bound passes. What it reads and prints is
//! never logged: it carries passwords.

use crate::deadline::Deadline;
use crate::protocol::{Answer, Listing, Request, Verb};
use crate::store::Store;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Set in the fallback helper's environment: a helper that forwards again (the config names
/// this helper itself, or a link to it) is a loop, refused instead of spawning without end.
pub const FORWARDED_VAR: &str = "DOCKER_CREDENTIAL_ECR_FORWARDED";

/// A helper's answer is a credential or a listing; anything far larger is not an answer.
const MAX_OUTPUT: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FallbackError {
    #[error("cannot run the fallback store {program} (fallback_store in {}): {source}", config.display())]
    Start {
        program: String,
        config: PathBuf,
        source: std::io::Error,
    },
    #[error("the fallback store {program} did not answer within {}s (set {} to wait longer)", .after.as_secs_f64(), crate::deadline::TIMEOUT_VAR)]
    Timeout { program: String, after: Duration },
    #[error("the fallback store {program} answered more than {MAX_OUTPUT} bytes")]
    TooLarge { program: String },
    #[error("cannot talk to the fallback store {program}: {detail}")]
    Io { program: String, detail: String },
    #[error(
        "the fallback store {program} answered `list` with something other than a JSON map of server URL to user name"
    )]
    BadList { program: String },
    #[error("fallback_store in {} leads back to this helper (a loop): name another helper, such as \"pass\"", config.display())]
    Loop { config: PathBuf },
    /// It failed with the protocol's "not found": it has nothing for that host either.
    #[error("{}", crate::protocol::NOT_FOUND)]
    NotFound,
    /// It failed with this answer on its stdout, handed on as it is.
    #[error("{0}")]
    Failed(String),
}

/// The fallback helper the config file names.
pub struct Fallback {
    /// `docker-credential-<name>`, looked up in PATH's absolute directories.
    pub program: String,
    /// The config file that names it, for messages.
    pub config: PathBuf,
    /// The request's: the fallback's answer, or its timeout error, comes before it.
    deadline: Deadline,
    /// The request's line to the watchdog, told while the fallback runs.
    watchdog: crate::watchdog::Handle,
    forwarded: bool,
    /// What it runs with instead of this process's environment ([`CHILD_VARS`]).
    child_env: Vec<(&'static str, String)>,
}

/// The variables a credential store needs, and only those: the AWS keys and the rest of the
/// client's environment are none of its business. `pass` reads `PASSWORD_STORE_*` and runs
/// gpg (`GNUPGHOME`, its agent, pinentry on a terminal or display); `secretservice` talks to
/// the session bus; every helper may need its home, user, locale and temporary directory.
pub const CHILD_VARS: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
    "TZ",
    "TERM",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "LC_COLLATE",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_MONETARY",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_DIRS",
    "XDG_DATA_DIRS",
    "DBUS_SESSION_BUS_ADDRESS",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "GNUPGHOME",
    "GPG_AGENT_INFO",
    "GPG_TTY",
    "PINENTRY_USER_DATA",
    "PASSWORD_STORE_DIR",
    "PASSWORD_STORE_KEY",
    "PASSWORD_STORE_GPG_OPTS",
    "PASSWORD_STORE_UMASK",
    "PASSWORD_STORE_GIT",
    "PASSWORD_STORE_SIGNING_KEY",
    "PASSWORD_STORE_ENABLE_EXTENSIONS",
    "PASSWORD_STORE_EXTENSIONS_DIR",
    "PASSWORD_STORE_X_SELECTION",
    "PASSWORD_STORE_CLIP_TIME",
];

impl Fallback {
    /// The fallback store the config file names, if any.
    pub fn from_config(
        config: &crate::config::Config,
        request: &crate::request::Request,
    ) -> Option<Fallback> {
        let name = config.fallback_store()?;
        Some(Fallback {
            program: format!("{}{name}", crate::program::HELPER_PREFIX),
            config: config.path().map(PathBuf::from).unwrap_or_default(),
            deadline: request.deadline,
            watchdog: request.watchdog.clone(),
            forwarded: request.env.var(FORWARDED_VAR).is_some(),
            child_env: CHILD_VARS
                .iter()
                .filter_map(|name| Some((*name, request.env.var(name)?)))
                .collect(),
        })
    }

    /// Runs `<program> <verb>` with `input` on its stdin; stderr is the user's. Its answer
    /// is what it printed on stdout when it exits with status 0; any other status is an error
    /// with that text ([`FallbackError::NotFound`] for the protocol's "not found").
    pub fn run(&self, verb: Verb, input: &[u8]) -> Result<String, FallbackError> {
        if self.forwarded {
            return Err(FallbackError::Loop {
                config: self.config.clone(),
            });
        }
        let deadline = Instant::now() + self.deadline.work_left();
        self.watchdog.doing(format!("waiting for {}", self.program));
        crate::debug!("forwarding `{}` to {}", verb.name(), self.program);
        let mut child = self.start(verb)?;
        let rx = match talk(&mut child, input) {
            Ok(rx) => rx,
            Err(e) => {
                kill_group(&mut child);
                return Err(self.io(e));
            }
        };
        let (status, stdout) = self.wait(&mut child, &rx, deadline)?;
        crate::debug!("{} `{}` exited with {status}", self.program, verb.name());
        self.answer(status, &stdout)
    }

    /// `<program> <verb>`, in a process group of its own, so that a timeout kills whatever it
    /// started, too.
    fn start(&self, verb: Verb) -> Result<Child, FallbackError> {
        let start_err = |source| FallbackError::Start {
            program: self.program.clone(),
            config: self.config.clone(),
            source,
        };
        // Absolute directories only (`platform::find_in_path`): execvp would run
        // `./docker-credential-<name>` for `PATH=/usr/bin:`, whatever the working directory holds.
        let path = self.child_env.iter().find(|(name, _)| *name == "PATH");
        let found = path.and_then(|(_, path)| {
            crate::platform::find_in_path(self.program.as_ref(), path.as_ref())
        });
        let file = found.ok_or_else(|| {
            start_err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not found in PATH (only its absolute directories are searched)",
            ))
        })?;
        if is_this_program(&file) {
            return Err(FallbackError::Loop {
                config: self.config.clone(),
            });
        }
        let mut command = Command::new(file);
        crate::platform::in_own_process_group(&mut command)
            .arg(verb.name())
            .env_clear()
            .envs(self.child_env.iter().map(|(k, v)| (k, v)))
            .env(FORWARDED_VAR, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| start_err(crate::deadline::name_the_limit(source, "a process")))
    }

    /// The helper's exit status and stdout, by `deadline`; past it, its group is killed.
    fn wait(
        &self,
        child: &mut Child,
        rx: &mpsc::Receiver<std::io::Result<Vec<u8>>>,
        deadline: Instant,
    ) -> Result<(ExitStatus, Vec<u8>), FallbackError> {
        let timed_out = |child: &mut Child| {
            kill_group(child);
            FallbackError::Timeout {
                program: self.program.clone(),
                after: self.deadline.limit(),
            }
        };
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| self.io(e))? {
                break status;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(timed_out(child));
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
        };
        // Something it started may still hold the pipe open: wait no longer than the bound.
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(result) => Ok((status, result.map_err(|e| self.io(e))?)),
            Err(_) => Err(timed_out(child)),
        }
    }

    /// What it printed when it exits with status 0; else the protocol's "not found", or its
    /// text as an error.
    fn answer(&self, status: ExitStatus, stdout: &[u8]) -> Result<String, FallbackError> {
        if stdout.len() as u64 > MAX_OUTPUT {
            return Err(FallbackError::TooLarge {
                program: self.program.clone(),
            });
        }
        let text = String::from_utf8_lossy(stdout);
        let text = text.trim_end_matches(['\n', '\r']);
        match (status.success(), text) {
            (true, answer) => Ok(answer.to_string()),
            (false, crate::protocol::NOT_FOUND) => Err(FallbackError::NotFound),
            (false, other) => Err(FallbackError::Failed(other.to_string())),
        }
    }

    fn io(&self, e: std::io::Error) -> FallbackError {
        FallbackError::Io {
            program: self.program.clone(),
            detail: e.to_string(),
        }
    }
}

/// Every verb is forwarded with the request as the client sent it, and its answer handed back
/// as the helper wrote it: to the client, the two helpers are one store.
impl Store for Fallback {
    type Error = FallbackError;

    fn get(&self, request: &Request) -> Result<Answer, FallbackError> {
        self.run(Verb::Get, request.raw()).map(Answer::verbatim)
    }

    fn store(&self, request: &Request) -> Result<Answer, FallbackError> {
        self.run(Verb::Store, request.raw()).map(Answer::verbatim)
    }

    fn erase(&self, request: &Request) -> Result<Answer, FallbackError> {
        self.run(Verb::Erase, request.raw()).map(Answer::verbatim)
    }

    /// Its listing is parsed, so that the router can merge it with the token store's.
    fn list(&self) -> Result<Listing, FallbackError> {
        let answer = self.run(Verb::List, b"")?;
        serde_json::from_str(&answer).map_err(|_| FallbackError::BadList {
            program: self.program.clone(),
        })
    }
}

/// Whether `file` is this program (the front or the engine, or a link to either): forwarding
/// to it is a loop. Caught before it starts, since the minimal environment it would get may not
/// name the config file that makes it forward again.
fn is_this_program(file: &std::path::Path) -> bool {
    let canonical = |p: &std::path::Path| std::fs::canonicalize(p).ok();
    let (Some(file), Some(me)) = (
        canonical(file),
        std::env::current_exe().ok().and_then(|e| canonical(&e)),
    ) else {
        return false;
    };
    let ours = [crate::program::NAME, crate::program::ENGINE];
    file == me
        || (file.parent() == me.parent()
            && file
                .file_name()
                .is_some_and(|n| ours.iter().any(|o| n == *o)))
}

/// Writes `input` to the child's stdin and reads its stdout (at most `MAX_OUTPUT` + 1 bytes),
/// each from a thread: a helper that does not read its stdin must not block us, nor one that
/// never closes its stdout. The output arrives on the receiver.
fn talk(
    child: &mut Child,
    input: &[u8],
) -> std::io::Result<mpsc::Receiver<std::io::Result<Vec<u8>>>> {
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::Error::other("no stdin or stdout pipe"));
    };
    let input = input.to_vec();
    spawn(move || {
        let _ = stdin.write_all(&input);
    })?;
    let (tx, rx) = mpsc::channel();
    spawn(move || {
        let mut buf = Vec::new();
        let result = stdout
            .take(MAX_OUTPUT + 1)
            .read_to_end(&mut buf)
            .map(|_| buf);
        let _ = tx.send(result);
    })?;
    Ok(rx)
}

/// A thread, or the error that names the limit that stopped it (std's `thread::spawn` would
/// panic instead).
fn spawn(work: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new()
        .spawn(work)
        .map(drop)
        .map_err(|e| crate::deadline::name_the_limit(e, "a thread"))
}

/// Kills the helper's whole process group and reaps the helper.
fn kill_group(child: &mut Child) {
    crate::platform::kill_process_group(child.id());
    let _ = child.kill();
    let _ = child.wait();
}
