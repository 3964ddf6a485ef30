//! The command line: which action runs, and the exit code and output each outcome gets.
//!
//! - `args`: the one clap definition, from which parsing, help and usage errors come;
//! - `generate`: the man page and shell completions, rendered from that definition;
//! - `router`: the one store a protocol verb is served by, which chooses the ECR token store
//!   or the fallback store per host.
//!
//! The protocol's own rules come first, as the reference helpers have them: exactly one verb,
//! with its answer or error on stdout, and for anything else a client could send, exit status 1
//! and `Usage: <name> <get|store|erase|list|version>`. Everything else is clap's: an unknown
//! option or a bad value of `configure`, `doctor` or `kubelet` is clap's error on stderr with
//! exit status 2.

pub(crate) mod args;
mod client;
pub(crate) mod generate;
pub(crate) mod outcome;
mod router;

pub(crate) use client::shows_stdout as client_shows_stdout;

use crate::env::{Env, ProcessEnv};
use crate::program::version_line;
use crate::protocol::{self, Request};
use crate::request::Process;
use crate::store::Store;
use crate::token::AwsTokenSource;
use args::{Command, Parsed, Verb};
use clap::error::ErrorKind;
use outcome::ProtocolError;
use router::Router;
use std::ffi::OsString;
use std::io::{Read, Write};
use zeroize::Zeroizing;

/// Runs the program with the process's real stdin, stdout and environment.
pub fn main(args: &[OsString]) -> u8 {
    // First, while this is the only thread: the SDK reads the process environment itself.
    let handed_over = crate::deadline::take_handoff();
    crate::env::normalise_process_env();
    crate::log::init(&ProcessEnv);
    // This is the real process: at a request's deadline it may be ended and its children
    // killed.
    let process = Process::real(handed_over);
    if !process.handed_over() {
        let program = crate::program::name_from_args(args);
        crate::deadline::warn_unusable_timeout(&ProcessEnv, &program);
    }
    let stdin = &mut std::io::stdin().lock();
    let stdout = &mut std::io::stdout().lock();
    serve(args, &process, &ProcessEnv, stdin, stdout)
}

/// Runs one invocation in a process that is not the program's own (a test, a fuzz target, a
/// library user): no bound handed over and no watchdog; returns the exit code.
pub fn run(args: &[OsString], env: &dyn Env, stdin: &mut dyn Read, out: &mut dyn Write) -> u8 {
    serve(args, &Process::embedded(), env, stdin, out)
}

/// Runs one invocation for `process`; returns the exit code.
fn serve(
    args: &[OsString],
    process: &Process,
    env: &dyn Env,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
) -> u8 {
    let program = crate::program::name_from_args(args);
    let words = args.get(1..).unwrap_or_default();
    match words {
        // Installed as a link named `ecr-credential-provider`, the binary is the kubelet plugin.
        [] if program == crate::kubelet::PROGRAM_ALIAS => {
            return crate::kubelet::main(process, env, stdin, out);
        }
        [] => return reply(out, Err(ProtocolError::Usage { program })),
        // A person asking for a verb's help gets clap's (clients never send it).
        [first, flag] if Verb::from_word(first).is_some() && (flag == "--help" || flag == "-h") => {
        }
        [first, _, ..] if Verb::from_word(first).is_some() => {
            return reply(out, Err(ProtocolError::Usage { program }));
        }
        _ => {}
    }
    // The one word clients send is answered without building clap's parser, which would cost
    // every hit ~100 000 more instructions (callgrind, release PIE build: `version` 521k,
    // `--version` through clap 621k; hyperfine -N: 1.1 ms against 1.3 ms).
    if let [word] = words
        && let Some(verb) = Verb::from_word(word)
    {
        return protocol(&program, verb, process, env, stdin, out);
    }
    let cli = match args::parse(args) {
        Ok(Parsed::Run(cli)) => cli,
        Ok(Parsed::Generate(kind)) => return generate::main(kind, out),
        Err(e) => return parse_error(&program, words, &e, out),
    };
    if cli.version {
        return reply(out, Ok(version_line().into()));
    }
    match cli.command {
        // Only `--` was given: no verb, as with no argument at all.
        None => reply(out, Err(ProtocolError::Usage { program })),
        Some(Command::Protocol(verb)) => protocol(&program, verb.into(), process, env, stdin, out),
        Some(Command::Configure(a)) => crate::configure::main(
            &program,
            args.first().map(OsString::as_os_str).unwrap_or_default(),
            &a.into_options(),
            env,
            out,
            &mut std::io::stderr(),
        ),
        Some(Command::Doctor(a)) => {
            let hosts: Vec<&str> = a.hosts.iter().map(String::as_str).collect();
            crate::doctor::main(&hosts, process, env, &program, out)
        }
        Some(Command::Kubelet) => crate::kubelet::main(process, env, stdin, out),
    }
}

/// Runs a protocol verb for `process` in `env` and prints its answer.
fn protocol(
    program: &str,
    verb: Verb,
    process: &Process,
    env: &dyn Env,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
) -> u8 {
    let result = protocol_action(program, verb, process, env, stdin);
    // From here on only one answer: ours, or the watchdog's if it came first.
    process.watchdog().claim_answer();
    if let Some(note) = result.as_ref().err().and_then(ProtocolError::note) {
        // The note repeats the answer for clients that drop it, not for those that show it.
        let repeats_answer = result.as_ref().is_err_and(|e| e.to_string() == note);
        if !(repeats_answer && client_shows_stdout()) {
            let _ = writeln!(std::io::stderr(), "{program}: {note}");
        }
    }
    reply(out, result)
}

/// How a protocol verb's timeout is answered, as its other errors are (see [`protocol`]).
pub(crate) fn timeout_form(program: &str) -> crate::watchdog::Form {
    crate::watchdog::Form::Protocol {
        program: program.to_string(),
        client_shows_stdout,
    }
}

/// Prints a protocol answer: errors go to stdout too, as that is where clients look for them.
/// A `get`'s answer holds a token: its buffer is zeroised once written.
fn reply(out: &mut dyn Write, result: Result<Zeroizing<String>, ProtocolError>) -> u8 {
    let (text, code) = match result {
        Ok(text) => (text, 0),
        Err(e) => (Zeroizing::new(e.to_string()), 1),
    };
    if !text.is_empty()
        && writeln!(out, "{}", text.as_str())
            .and_then(|_| out.flush())
            .is_err()
    {
        return 1;
    }
    code
}

/// Help on stdout; a first word that names no command is a client's unknown action, answered
/// as the protocol answers (one line on stdout, exit 1); any other error is clap's.
fn parse_error(program: &str, words: &[OsString], e: &clap::Error, out: &mut dyn Write) -> u8 {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let shown = write!(out, "{}", e.render()).and_then(|_| out.flush());
            return if shown.is_ok() { 0 } else { 1 };
        }
        _ => {}
    }
    let command = args::command();
    let first = words.first().map(|w| w.to_string_lossy());
    match first {
        Some(word) if !word.starts_with('-') && command.find_subcommand(&*word).is_none() => {
            let commands = command
                .get_subcommands()
                .filter(|c| !c.is_hide_set())
                .map(|c| c.get_name().to_string())
                .collect();
            reply(
                out,
                Err(ProtocolError::UnknownAction {
                    program: program.to_string(),
                    word: word.into_owned(),
                    commands,
                }),
            )
        }
        _ => {
            let _ = writeln!(std::io::stderr(), "{}", usage_error_line(program, e));
            u8::try_from(e.exit_code()).unwrap_or(2)
        }
    }
}

/// clap's usage error in one line, as every other error is: what is wrong, clap's tips, and
/// the command's usage (`prog: unexpected argument '--bogus' found; tip: ...; usage: prog
/// doctor [HOST]...`). Its "For more information, try '--help'" is left out.
fn usage_error_line(program: &str, e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let parts: Vec<String> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .map(|l| {
            let l = l.strip_prefix("error: ").unwrap_or(l);
            match l.strip_prefix("Usage: ") {
                Some(usage) => format!("usage: {usage}"),
                None => l.to_string(),
            }
        })
        .collect();
    crate::text::one_line(&format!("{program}: {}", parts.join("; ")))
}

fn protocol_action(
    program: &str,
    verb: Verb,
    process: &Process,
    env: &dyn Env,
    stdin: &mut dyn Read,
) -> Result<Zeroizing<String>, ProtocolError> {
    // Only get, store and erase have a request on stdin; `list` and `version` must not wait
    // for an EOF that a terminal never sends.
    let input = match verb {
        Verb::Version => return Ok(version_line().into()),
        Verb::List => Vec::new(),
        Verb::Get | Verb::Store | Verb::Erase => protocol::read_input(stdin)?,
    };
    // The bound runs from when the request has been read (see `deadline`).
    let ours = crate::request::Request::start(process, env, timeout_form(program));
    let request = match verb {
        Verb::List => None,
        _ => Some(Request::read(verb, &input)?),
    };
    let source = AwsTokenSource::new(&ours);
    let router = Router::new(&ours, &source)?;
    let answer = match (verb, &request) {
        (Verb::Get, Some(request)) => router.get(request)?,
        (Verb::Store, Some(request)) => router.store(request)?,
        (Verb::Erase, Some(request)) => router.erase(request)?,
        // `list`, the one verb with no request: both stores' listings in one.
        _ => return Ok(serde_json::to_string(&router.list()?)?.into()),
    };
    Ok(answer.into_text())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;
    use crate::program::REPOSITORY;

    /// Every command the help lists, protocol verbs first, as `--help` orders them: the
    /// protocol's verbs and each command's own name, where they are defined.
    fn commands() -> Vec<&'static str> {
        let verbs = crate::protocol::Verb::ALL.map(|v| v.name());
        let commands = [
            crate::configure::COMMAND,
            crate::doctor::COMMAND,
            crate::kubelet::COMMAND,
        ];
        [&verbs[..], &commands].concat()
    }

    fn run_with(args: &[&str], stdin: &str) -> (u8, String) {
        let args: Vec<OsString> = std::iter::once("docker-credential-ecr")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        let mut out = Vec::new();
        let env = MapEnv::new(&[("AWS_ECR_DISABLE_CACHE", "1")]);
        let code = run(&args, &env, &mut stdin.as_bytes(), &mut out);
        (code, String::from_utf8(out).unwrap())
    }

    #[test]
    fn argument_errors() {
        let usage = "Usage: docker-credential-ecr <get|store|erase|list|version>\n";
        assert_eq!(run_with(&[], ""), (1, usage.into()));
        assert_eq!(run_with(&["get", "extra"], ""), (1, usage.into()));
        // Only a person asks a verb for its help: clap's help of the verb.
        let (code, help) = run_with(&["get", "--help"], "");
        assert_eq!(code, 0);
        assert!(
            help.contains("Usage: docker-credential-ecr get\n"),
            "{help}"
        );
        assert_eq!(run_with(&["get", "--help", "x"], ""), (1, usage.into()));
        assert_eq!(run_with(&["--"], ""), (1, usage.into()));
        let (code, out) = run_with(&["fetch"], "");
        assert_eq!(code, 1);
        assert!(out.starts_with("unknown action \"fetch\""), "{out}");
        assert_eq!(out.lines().count(), 1);
        for name in commands() {
            assert!(out.contains(name), "{name} missing: {out}");
        }
        // Usage errors of the other commands are clap's: stderr and exit 2, nothing on stdout.
        for args in [
            &["doctor", "--bogus"][..],
            &["configure", "--bogus"],
            &["kubelet", "extra"],
            &["--bogus"],
            &["--version", "--generate", "man"],
        ] {
            assert_eq!(run_with(args, ""), (2, String::new()), "{args:?}");
        }
    }

    #[test]
    fn version_and_help() {
        for a in ["version", "--version", "-v"] {
            let (code, out) = run_with(&[a], "");
            assert_eq!(code, 0);
            assert_eq!(
                out,
                format!(
                    "docker-credential-ecr ({REPOSITORY}) {}\n",
                    crate::program::VERSION
                )
            );
        }
        for a in ["--help", "-h", "help"] {
            let (code, out) = run_with(&[a], "");
            assert_eq!(code, 0, "{a}");
            assert!(out.contains("AWS_ECR_CACHE_DIR"), "{out}");
            assert!(out.contains("Usage: docker-credential-ecr "), "{out}");
            let listed: Vec<&str> = out
                .lines()
                .skip_while(|l| *l != "Commands:")
                .skip(1)
                .take_while(|l| !l.is_empty())
                .filter_map(|l| l.split_whitespace().next())
                .collect();
            assert_eq!(listed, [commands(), vec!["help"]].concat(), "{out}");
            assert!(out.contains("--generate <KIND>"), "not listed: {out}");
        }
        for (args, wanted) in [
            (&["configure", "--help"][..], "--all-regions <ACCOUNT>"),
            (&["doctor", "--help"], "doctor [HOST]..."),
            (&["help", "kubelet"], "CredentialProviderRequest"),
        ] {
            let (code, out) = run_with(args, "");
            assert_eq!(code, 0, "{args:?}");
            assert!(out.contains(wanted), "{out}");
        }
    }

    #[test]
    fn store_is_silent_for_ecr_and_refused_without_a_fallback_store() {
        assert_eq!(
            run_with(
                &["store"],
                r#"{"ServerURL":"123456789012.dkr.ecr.us-east-1.amazonaws.com","Username":"AWS","Secret":"x"}"#
            ),
            (0, String::new())
        );
        let (code, out) = run_with(
            &["store"],
            r#"{"ServerURL":"https://me:hunter2@ghcr.io","Username":"me","Secret":"hunter2"}"#,
        );
        assert_eq!(code, 1);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            out.starts_with("this server URL is not an ECR registry"),
            "{out}"
        );
        assert!(out.contains("fallback_store = \"pass\""), "{out}");
        assert!(!out.contains("hunter2"), "{out}");
        assert_eq!(run_with(&["erase"], "docker.io"), (0, String::new()));
    }

    #[test]
    fn get_of_a_foreign_host_is_not_found_and_empty_is_the_reference_error() {
        assert_eq!(
            run_with(&["get"], "docker.io\n"),
            (1, "credentials not found in native keychain\n".into())
        );
        assert_eq!(
            run_with(&["get"], "\n"),
            (1, "no credentials server URL\n".into())
        );
        assert_eq!(run_with(&["list"], ""), (0, "{}\n".into()));
    }
}
