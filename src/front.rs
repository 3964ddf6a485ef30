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

use crate::deadline::{self, Deadline};
use crate::env::{Env, ProcessEnv};
use crate::lookup::Lookup;
use crate::platform;
use crate::protocol;
use crate::request::{Process, Request};
use std::ffi::OsString;
use std::fs::File;
use std::io::{Seek, Write};
use std::path::Path;
use std::process::Command;

/// Runs the front; returns the exit code, or never returns (it became the engine).
pub fn main(args: &[OsString]) -> u8 {
    // As the engine does first, so that the key is made from the same view of the environment.
    crate::env::normalise_process_env();
    let env = ProcessEnv;
    // Logging is the engine's (one logger, the SDK's events too), as is every other command.
    let is_get = matches!(args, [_, verb] if verb == "get");
    if !is_get || env.var(crate::log::ENV_VAR).is_some() {
        return hand_off(args, None, None);
    }
    let request = match protocol::read_request(&mut std::io::stdin().lock()) {
        Ok(request) => request,
        // Nothing usable was read: the engine reads stdin itself and reports the error.
        Err(_) => return hand_off(args, None, None),
    };
    let Some(url) = protocol::check_input(&request)
        .ok()
        .and_then(|r| protocol::server_url(r).ok())
    else {
        return hand_off(args, Some(&request), None);
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
        return hand_off(args, Some(&request), Some(ours.deadline));
    };
    ours.claim_answer();
    let answer = protocol::credential_json(url, &credential.token);
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{answer}").and_then(|_| out.flush()) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// Becomes the engine, with the same arguments (`argv[0]` too: the kubelet link's name and the
/// helper name `configure` writes come from it) and environment. Returns only if that fails.
fn hand_off(args: &[OsString], request: Option<&[u8]>, deadline: Option<Deadline>) -> u8 {
    let line = match std::env::current_exe() {
        Err(error) => format!("cannot find this program's own file to run its engine: {error}"),
        Ok(front) => {
            let engine = crate::dirs::engine_beside(&front);
            let error = become_engine(&engine, args, request, deadline);
            format!(
                "cannot run {}, which answers what the token cache cannot: {error}; install it beside {} (every package and release archive has both)",
                engine.display(),
                front.display()
            )
        }
    };
    // A protocol verb's error goes on stdout too, where clients read it.
    if matches!(args, [_, verb] if protocol::Verb::from_word(verb).is_some()) {
        let _ = writeln!(std::io::stdout(), "{line}");
    }
    let program = crate::program::name_from_args(args);
    let _ = writeln!(std::io::stderr(), "{program}: {line}");
    1
}

/// Execs the engine; returns only if that failed, with why.
fn become_engine(
    engine: &Path,
    args: &[OsString],
    request: Option<&[u8]>,
    deadline: Option<Deadline>,
) -> std::io::Error {
    let mut command = Command::new(engine);
    command.args(args.get(1..).unwrap_or_default());
    if let Some(deadline) = deadline {
        command.env(deadline::HANDOFF_VAR, deadline.handoff_value());
    }
    if let Some(request) = request {
        match request_file(request) {
            Ok(file) => command.stdin(file),
            Err(error) => return error,
        };
    }
    let arg0 = args.first().map_or(engine.as_os_str(), OsString::as_os_str);
    platform::become_command(&mut command, arg0)
}

/// The request as a file to read from the start: in memory, so it needs no writable directory,
/// and with no size limit a pipe's buffer would set (a request is read up to 64 KiB + 1).
fn request_file(request: &[u8]) -> std::io::Result<File> {
    let mut file = platform::memory_file(c"request")?;
    file.write_all(request)?;
    file.rewind()?;
    Ok(file)
}
