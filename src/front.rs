//! The front: the small binary clients run (`docker-credential-ecr`). It answers a `get` whose
//! token is in the cache, which is nearly every request, and hands everything else, unchanged,
//! to the engine (`docker-credential-ecr-engine`, installed beside it): the complete program,
//! with the AWS SDK, the CLI, `configure`, `doctor` and the kubelet mode.
//!
//! Why two binaries: a hit's own work is small, and most of its time went to the dynamic loader
//! relocating the whole program (the SDK, rustls, tokio, clap: 18 000 relocations and 270 KiB
//! of `.data.rel.ro` written on every start, ~110 more page faults than `/bin/true`). The
//! front links only the cache path, so a hardened (PIE, full RELRO) hit costs about what a
//! non-PIE one did; see BENCHMARKS.md. The hit is the same library code the engine runs
//! ([`Lookup::hit`]), so the two cannot disagree about a key or a token.
//!
//! The engine is started with `exec`: the same process (pid, parent, stdio), so clients,
//! process-group signals and the kubelet see one program. What the front read of stdin is
//! handed over in an anonymous in-memory file, and what is left of the request's bound in
//! `deadline::HANDOFF_VAR`, so the two processes keep one bound.
//!
//! The engine is the file beside the front's own (found without `/proc` too: by the path it was
//! started by, or its name in `PATH`), and runs only if it is owned by the front's owner or
//! root and writable by no one else: in a shared directory, another user's file would otherwise
//! run as whoever runs the front. It is checked and run through one descriptor.

use crate::deadline::{self, Deadline};
use crate::env::{Env, ProcessEnv};
use crate::lookup::Lookup;
use crate::platform::{self, Stream};
use crate::program::ENGINE;
use crate::protocol;
use crate::request::{Process, Request};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the engine was not run: one line, naming the file and what to do.
#[derive(Debug, thiserror::Error)]
enum EngineError {
    #[error("cannot find this program's own file to run its engine ({0}); run it by its full path")]
    OwnFile(String),
    #[error(
        "cannot run {}, which answers what the token cache cannot: {error}; copy {ENGINE} beside {} (every package and release archive has both)",
        engine.display(),
        front.display()
    )]
    Unusable {
        engine: PathBuf,
        front: PathBuf,
        error: io::Error,
    },
    #[error(
        "refusing to run {}: it is owned by uid {uid}, not by root or uid {front_uid}, who owns {}; if it is yours, chown it, else remove it",
        engine.display(),
        front.display()
    )]
    Foreign {
        engine: PathBuf,
        front: PathBuf,
        uid: u32,
        front_uid: u32,
    },
    #[error(
        "refusing to run {}: it is writable by its group or by others (mode {mode:o}); run `chmod go-w` on it",
        engine.display()
    )]
    Writable { engine: PathBuf, mode: u32 },
}

/// Runs the front; returns the exit code, or never returns (it became the engine).
pub fn main(args: &[OsString]) -> u8 {
    // As the engine does first, so that the key is made from the same view of the environment.
    crate::env::normalise_process_env();
    let env = ProcessEnv;
    // Answered here, so that a front copied on its own can still say what it is.
    if matches!(args, [_, word] if word == "version" || word == "--version" || word == "-v") {
        let line = format!("{}\n", crate::program::version_line());
        return u8::from(platform::write_all_unbuffered(Stream::Stdout, line.as_bytes()).is_err());
    }
    // Logging is the engine's (one logger, the SDK's events too), as is every other command.
    let is_get = matches!(args, [_, verb] if verb == "get");
    if !is_get || env.var(crate::log::ENV_VAR).is_some() {
        return hand_off(args, &env, None, None);
    }
    let request = match protocol::read_request(&mut std::io::stdin().lock()) {
        Ok(request) => request,
        // Nothing usable was read: the engine reads stdin itself and reports the error.
        Err(_) => return hand_off(args, &env, None, None),
    };
    let Some(url) = protocol::check_input(&request)
        .ok()
        .and_then(|r| protocol::server_url(r).ok())
    else {
        return hand_off(args, &env, Some(&request), None);
    };
    // The real process: the first with this request, so nothing was handed over to it.
    let process = Process::real(None);
    let program = crate::program::name_from_args(args);
    deadline::warn_unusable_timeout(&env, &program);
    let ours = Request::start(&process, &env, crate::cli::timeout_form(&program));
    let hit = Lookup::new(&ours)
        .ok()
        .and_then(|lookup| lookup.hit(url).ok().flatten());
    let Some(credential) = hit else {
        return hand_off(args, &env, Some(&request), Some(ours.deadline));
    };
    ours.claim_answer();
    // Written from the one zeroised buffer, past std's stdout buffer, which would keep a copy.
    let answer = protocol::credential_answer(url, &credential.token, b"\n");
    u8::from(platform::write_all_unbuffered(Stream::Stdout, &answer).is_err())
}

/// Becomes the engine, with the same arguments (`argv[0]` too: the kubelet link's name and the
/// helper name `configure` writes come from it) and environment. Returns only if that fails.
fn hand_off(
    args: &[OsString],
    env: &dyn Env,
    request: Option<&[u8]>,
    deadline: Option<Deadline>,
) -> u8 {
    let arg0 = args.first().map(OsString::as_os_str).unwrap_or_default();
    let path = env.var("PATH");
    let own = platform::own_file(arg0, path.as_deref().map(OsStr::new));
    let error = match own
        .map_err(EngineError::OwnFile)
        .and_then(|front| trusted_engine(&front))
    {
        Err(error) => error,
        Ok((engine, front, file)) => EngineError::Unusable {
            error: become_engine(&file, &engine, args, request, deadline),
            engine,
            front,
        },
    };
    // A protocol verb's error goes on stdout too, where clients read it.
    if matches!(args, [_, verb] if protocol::Verb::from_word(verb).is_some()) {
        let _ = writeln!(std::io::stdout(), "{error}");
    }
    let program = crate::program::name_from_args(args);
    let _ = writeln!(std::io::stderr(), "{program}: {error}");
    1
}

/// The engine beside `front`, open to be run, if this user can trust it: owned by the front's
/// owner or root, and writable by no one else. Returns its path, the front's, and the file.
fn trusted_engine(front: &Path) -> Result<(PathBuf, PathBuf, File), EngineError> {
    let engine = crate::dirs::engine_beside(front);
    let unusable = |error| EngineError::Unusable {
        engine: engine.clone(),
        front: front.to_path_buf(),
        error,
    };
    let file = platform::open_program(&engine).map_err(unusable)?;
    let meta = file.metadata().map_err(unusable)?;
    if !meta.is_file() {
        let kind = platform::describe_file_type(&meta.file_type());
        return Err(unusable(io::Error::other(format!(
            "it is {kind}, not the file itself"
        ))));
    }
    let front_meta = std::fs::metadata(front).map_err(unusable)?;
    let (uid, front_uid) = (platform::owner(&meta).0, platform::owner(&front_meta).0);
    if uid != front_uid && uid != 0 {
        return Err(EngineError::Foreign {
            engine,
            front: front.to_path_buf(),
            uid,
            front_uid,
        });
    }
    if platform::writable_by_others(&meta) {
        let mode = platform::mode(&meta);
        return Err(EngineError::Writable { engine, mode });
    }
    Ok((engine, front.to_path_buf(), file))
}

/// Execs the engine open as `file` (at `engine`); returns only if that failed, with why.
fn become_engine(
    file: &File,
    engine: &Path,
    args: &[OsString],
    request: Option<&[u8]>,
    deadline: Option<Deadline>,
) -> io::Error {
    let mut command = Command::new(engine);
    command.args(args.get(1..).unwrap_or_default());
    if let Some(deadline) = deadline {
        command.env(deadline::HANDOFF_VAR, deadline.handoff_value());
    }
    if let Some(request) = request {
        match request_file(request) {
            Ok(request) => command.stdin(request),
            Err(error) => return error,
        };
    }
    let arg0 = args.first().map_or(engine.as_os_str(), OsString::as_os_str);
    platform::become_file(&mut command, arg0, file)
}

/// The request as a file to read from the start: in memory, so it needs no writable directory,
/// and with no size limit a pipe's buffer would set (a request is read up to 64 KiB + 1).
fn request_file(request: &[u8]) -> io::Result<File> {
    let mut file = platform::memory_file(c"request")?;
    file.write_all(request)?;
    file.rewind()?;
    Ok(file)
}
