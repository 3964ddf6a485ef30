//! The command line: which action runs, and the exit code and output each outcome gets.
//!
//! The command set and the environment variables are declared once, in [`COMMANDS`] and
//! [`ENV_VARS`]; `--help` is rendered from them, and so are the man page and completions.

use crate::deadline;
use crate::env::{Env, ProcessEnv};
use crate::fallback::Fallback;
use crate::lookup::{Lookup, LookupError};
use crate::protocol;
use crate::token::AwsTokenSource;
use std::ffi::OsString;
use std::io::{Read, Write};

pub const NAME: &str = env!("CARGO_PKG_NAME");
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

pub struct Command {
    pub name: &'static str,
    /// Arguments after the command name, as shown in a synopsis.
    pub args: &'static str,
    pub summary: &'static str,
    /// Part of the docker-credential-helper protocol (exactly one argument, stdin request).
    pub protocol: bool,
}

pub const COMMANDS: &[Command] = &[
    Command {
        name: "get",
        args: "",
        summary: "Read a registry URL on stdin; print {\"ServerURL\",\"Username\",\"Secret\"} for it (other hosts: the fallback_store's answer)",
        protocol: true,
    },
    Command {
        name: "store",
        args: "",
        summary: "Accept credentials from `docker login`: ECR hosts succeed silently (tokens are minted, not stored); other hosts go to the config file's fallback_store",
        protocol: true,
    },
    Command {
        name: "erase",
        args: "",
        summary: "Read a registry URL on stdin; forget its cached token, or the fallback_store's credentials for other hosts (`docker logout`)",
        protocol: true,
    },
    Command {
        name: "list",
        args: "",
        summary: "Print {\"<server URL>\":\"AWS\"} for every registry with a valid cached token, merged with the fallback_store's list",
        protocol: true,
    },
    Command {
        name: "version",
        args: "",
        summary: "Print the name, project URL and version",
        protocol: true,
    },
    Command {
        name: crate::configure::COMMAND,
        args: "[OPTIONS] [HOST...]",
        summary: "Route ECR registries to this helper in docker's config.json or containers' auth.json",
        protocol: false,
    },
    Command {
        name: crate::doctor::COMMAND,
        args: "[HOST...]",
        summary: "Explain whether and why HOST (default: every registry routed here) gets a token; exit 0 if all do",
        protocol: false,
    },
    Command {
        name: crate::kubelet::COMMAND,
        args: "",
        summary: "Kubelet credential provider plugin: CredentialProviderRequest on stdin, response on stdout (also as `ecr-credential-provider`)",
        protocol: false,
    },
];

/// An option of a command outside the protocol; its `--help`, the man page and the
/// completions are rendered from these.
pub struct Opt {
    /// The command it belongs to.
    pub command: &'static str,
    pub name: &'static str,
    /// Placeholder for the option's value; empty for a flag.
    pub value: &'static str,
    pub summary: &'static str,
}

pub const OPTIONS: &[Opt] = &[
    Opt {
        command: crate::configure::COMMAND,
        name: "--docker",
        value: "",
        summary: "Edit docker's config.json ($DOCKER_CONFIG/config.json, else ~/.docker/config.json), which podman, skopeo and buildah also read (the default)",
    },
    Opt {
        command: crate::configure::COMMAND,
        name: "--containers",
        value: "",
        summary: "Edit containers' auth.json ($REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, else ~/.config/containers/auth.json)",
    },
    Opt {
        command: crate::configure::COMMAND,
        name: "--all",
        value: "",
        summary: "Edit both files",
    },
    Opt {
        command: crate::configure::COMMAND,
        name: "--all-regions",
        value: "ACCOUNT",
        summary: "Also route ACCOUNT's registry in every commercial AWS region, opt-in regions included",
    },
    Opt {
        command: crate::configure::COMMAND,
        name: "--remove",
        value: "",
        summary: "Delete this helper's entries for the hosts named, or all of them; other helpers' entries stay",
    },
    Opt {
        command: crate::configure::COMMAND,
        name: "--dry-run",
        value: "",
        summary: "Print the change as a unified diff and write nothing",
    },
    Opt {
        command: crate::configure::COMMAND,
        name: "--force",
        value: "",
        summary: "Accept a HOST that is neither an ECR registry nor an alias in the config file",
    },
    Opt {
        command: crate::configure::COMMAND,
        name: "--print-kubelet-config",
        value: "",
        summary: "Print a kubelet CredentialProviderConfig (YAML) for this helper and exit",
    },
];

pub struct EnvVar {
    pub name: &'static str,
    pub summary: &'static str,
}

pub const ENV_VARS: &[EnvVar] = &[
    EnvVar {
        name: "AWS_PROFILE",
        summary: "AWS profile for registries the config file does not map",
    },
    EnvVar {
        name: "AWS_ENDPOINT_URL_ECR",
        summary: "ECR API endpoint override (also AWS_ENDPOINT_URL_ECR_PUBLIC, AWS_ENDPOINT_URL)",
    },
    EnvVar {
        name: "AWS_ECR_CACHE_DIR",
        summary: "Put the token cache in DIR/docker-credential-ecr (shared with AWS's helper's variable; its cache.json is never touched)",
    },
    EnvVar {
        name: "AWS_ECR_DISABLE_CACHE",
        summary: "Set to 1 to fetch a token on every request",
    },
    EnvVar {
        name: crate::config::ENV_VAR,
        summary: "Per-registry config file (default: ~/.config/docker-credential-ecr/config.toml)",
    },
    EnvVar {
        name: crate::token::TIMEOUT_VAR,
        summary: "Seconds a request may take, from reading it to the answer, whatever it waits for (default 10)",
    },
    EnvVar {
        name: crate::log::ENV_VAR,
        summary: "Diagnostics on stderr, the AWS SDK's included: error, warn, info, debug, trace, or directives such as debug,aws_config=trace (default: off)",
    },
    EnvVar {
        name: "AWS_ENDPOINT_URL_STS",
        summary: "kubelet: STS endpoint that exchanges service-account tokens (AssumeRoleWithWebIdentity)",
    },
    EnvVar {
        name: "NO_COLOR",
        summary: "doctor: no colours even on a terminal",
    },
    EnvVar {
        name: crate::configure::targets::DOCKER_CONFIG_VAR,
        summary: "configure: directory of docker's config.json (default: ~/.docker)",
    },
    EnvVar {
        name: crate::configure::targets::REGISTRY_AUTH_FILE_VAR,
        summary: "configure --containers: the containers auth.json to edit",
    },
];

/// Runs the program with the process's real stdin, stdout and environment.
pub fn main(args: &[OsString]) -> u8 {
    // First, while this is the only thread: the SDK reads the process environment itself.
    crate::env::normalise_process_env();
    crate::log::init(&ProcessEnv);
    install_panic_hook();
    // This is the real process: at a request's deadline it may be ended and its children
    // killed. (The watchdog thread itself starts only once a request has been read.)
    crate::deadline::enable();
    let stdin = &mut std::io::stdin().lock();
    let stdout = &mut std::io::stdout().lock();
    run(args, &ProcessEnv, stdin, stdout)
}

/// Runs one invocation; returns the exit code.
pub fn run(args: &[OsString], env: &dyn Env, stdin: &mut dyn Read, out: &mut dyn Write) -> u8 {
    let program = program_name(args);
    let words: Vec<&str> = args
        .iter()
        .skip(1)
        .map(|a| a.to_str().unwrap_or("\u{fffd}"))
        .collect();
    match words.as_slice() {
        // Installed as a link named `ecr-credential-provider`, the binary is the kubelet plugin.
        [] if program == crate::kubelet::PROGRAM_ALIAS => {
            return crate::kubelet::main(env, stdin, out);
        }
        [crate::kubelet::COMMAND] => return crate::kubelet::main(env, stdin, out),
        [crate::kubelet::COMMAND, ..] => {
            let _ = writeln!(
                std::io::stderr(),
                "{program}: `{}` takes no arguments; it reads a CredentialProviderRequest on stdin",
                crate::kubelet::COMMAND
            );
            return 1;
        }
        [crate::doctor::COMMAND, rest @ ..] => {
            return crate::doctor::main_with_args(&program, rest, env, out);
        }
        [crate::configure::COMMAND, rest @ ..] => {
            return crate::configure::main(&program, rest, env, out, &mut std::io::stderr());
        }
        [crate::generate::FLAG, rest @ ..] => {
            return crate::generate::main(rest, out, &mut std::io::stderr());
        }
        _ => {}
    }
    let result = match words.as_slice() {
        [] => Err(usage(&program)),
        ["-h" | "--help" | "help"] => Ok(help(&program)),
        ["-v" | "--version" | "version"] => Ok(version_line()),
        [action] if is_protocol(action) => {
            let result = protocol_action(&program, action, env, stdin);
            // From here on only one answer: ours, or the watchdog's if it came first.
            crate::deadline::claim_answer();
            if let Err(text) = &result
                && text != protocol::NOT_FOUND
            {
                // docker shows a helper's stderr and drops its stdout: without this line a
                // docker user sees only the registry's "no basic auth credentials".
                let _ = writeln!(std::io::stderr(), "{program}: {text}");
            }
            result
        }
        [action, ..] if is_protocol(action) => Err(usage(&program)),
        [other, ..] => Err(format!(
            "unknown action {other:?}; expected one of {} (see {program} --help)",
            COMMANDS
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    };
    let (text, code) = match result {
        Ok(text) => (text, 0),
        Err(text) => (text, 1),
    };
    // Errors go to stdout too: that is where clients look for them.
    if !text.is_empty() && writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
        return 1;
    }
    code
}

fn protocol_action(
    program: &str,
    action: &str,
    env: &dyn Env,
    stdin: &mut dyn Read,
) -> Result<String, String> {
    // Only get, store and erase have a request on stdin; `list` and `version` must not wait
    // for an EOF that a terminal never sends.
    let mut input = || protocol::read_input(stdin).map_err(|e| e.to_string());
    // The bound runs from when the request has been read (see `deadline`).
    let start = || {
        let form = deadline::Form::Protocol {
            program: program.to_string(),
        };
        deadline::start(env, form)
    };
    let lookup = |env, deadline| Lookup::new(env, deadline).map_err(|e| e.to_string());
    match action {
        "version" => Ok(version_line()),
        "store" => {
            let input = input()?;
            let deadline = start();
            let url = protocol::store_server_url(&input).map_err(|e| e.to_string())?;
            let lookup = lookup(env, deadline)?;
            if lookup.registry(&url).is_some() {
                // ECR tokens are minted, not stored: accept and drop what `docker login`
                // sends, so that a login against an ECR host succeeds.
                return Ok(String::new());
            }
            match Fallback::from_config(&lookup.config, env, lookup.deadline) {
                Some(fallback) => forward(&fallback, "store", &input),
                None => Err(no_fallback_store(&url, env)),
            }
        }
        "erase" => {
            let input = input()?;
            let deadline = start();
            let url = protocol::server_url(&input).map_err(|e| e.to_string())?;
            let lookup = lookup(env, deadline)?;
            match lookup.erase(url) {
                Ok(()) => Ok(String::new()),
                Err(LookupError::NotEcr) => {
                    match Fallback::from_config(&lookup.config, env, lookup.deadline) {
                        Some(fallback) => forward(&fallback, "erase", &input),
                        // Nothing of that host is kept here: forgetting it is done.
                        None => Ok(String::new()),
                    }
                }
                Err(e) => Err(e.to_string()),
            }
        }
        "list" => {
            let lookup = lookup(env, start())?;
            let mut map = lookup.list().map_err(|e| e.to_string())?;
            if let Some(fallback) = Fallback::from_config(&lookup.config, env, lookup.deadline) {
                let theirs = fallback.list().map_err(|e| e.to_string())??;
                for (url, user) in theirs {
                    // An ECR host is answered by this helper, so its own entry is the true one.
                    map.entry(url).or_insert(user);
                }
            }
            serde_json::to_string(&map).map_err(|e| e.to_string())
        }
        _ => {
            let input = input()?;
            let deadline = start();
            let url = protocol::server_url(&input).map_err(|e| e.to_string())?;
            let lookup = lookup(env, deadline)?;
            let source = AwsTokenSource::from_env(env, deadline);
            match lookup.get(url, &source) {
                Ok(cred) => Ok(protocol::credential_json(url, &cred.username, &cred.secret)),
                Err(LookupError::NotEcr) => {
                    match Fallback::from_config(&lookup.config, env, lookup.deadline) {
                        Some(fallback) => forward(&fallback, "get", &input),
                        None => Err(protocol::NOT_FOUND.to_string()),
                    }
                }
                Err(note @ LookupError::PublicAnonymous { .. }) => {
                    // Clients hide a "not found" answer: the note on stderr says why.
                    let _ = writeln!(std::io::stderr(), "{program}: {note}");
                    Err(protocol::NOT_FOUND.to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

/// The fallback store's answer as this helper's own: its stdout, success or failure.
fn forward(fallback: &Fallback, action: &str, input: &[u8]) -> Result<String, String> {
    let reply = fallback.run(action, input).map_err(|e| e.to_string())?;
    if reply.success {
        Ok(reply.stdout)
    } else {
        Err(reply.stdout)
    }
}

/// `docker login` to a host that is not ECR, with nowhere to keep its password: failing is the
/// only way not to lose it silently.
fn no_fallback_store(url: &str, env: &dyn Env) -> String {
    let config = crate::config::path(env)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| format!("the config file ${}", crate::config::ENV_VAR));
    // Only a host is shown: whatever else a client put in the URL may be a password.
    let shown = crate::registry::normalize_host(url)
        .map_or_else(|| "this server URL".to_string(), |h| format!("{h:?}"));
    format!(
        "{shown} is not an ECR registry and no fallback store is configured to keep its password: set fallback_store = \"pass\" (or another docker-credential-* helper) in {config}, or route only ECR hosts here with credHelpers"
    )
}

fn is_protocol(word: &str) -> bool {
    COMMANDS.iter().any(|c| c.protocol && c.name == word)
}

fn protocol_names() -> Vec<&'static str> {
    COMMANDS
        .iter()
        .filter(|c| c.protocol)
        .map(|c| c.name)
        .collect()
}

/// Clients run a helper configured as `<suffix>` by executing `docker-credential-<suffix>`.
pub const HELPER_PREFIX: &str = "docker-credential-";

/// The `credHelpers` value that makes clients run this binary: the installed name less
/// `docker-credential-` (`ecr` for `docker-credential-ecr`, and for any other name such as
/// the kubelet link `ecr-credential-provider`).
pub fn helper_suffix(program: &str) -> String {
    match program.strip_prefix(HELPER_PREFIX) {
        Some(suffix) if !suffix.is_empty() => suffix.to_string(),
        _ => "ecr".to_string(),
    }
}

fn program_name(args: &[OsString]) -> String {
    args.first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or(NAME)
        .to_string()
}

/// The reference library's usage line, which clients may expect when they misuse the protocol.
fn usage(program: &str) -> String {
    format!("Usage: {program} <{}>", protocol_names().join("|"))
}

/// Every way to run the program: the protocol's line, then one line per other command.
fn full_usage(program: &str) -> String {
    let mut s = usage(program);
    for c in COMMANDS.iter().filter(|c| !c.protocol) {
        s += &format!("\n       {program} {}", synopsis(c));
    }
    s
}

fn synopsis(c: &Command) -> String {
    match c.args {
        "" => c.name.to_string(),
        args => format!("{} {args}", c.name),
    }
}

pub fn version_line() -> String {
    format!("{NAME} ({REPOSITORY}) {VERSION}")
}

fn help(program: &str) -> String {
    let mut s = format!(
        "{program} {VERSION}\nDocker credential helper for Amazon ECR and ECR Public.\n\n{}\n\nCommands:\n",
        full_usage(program)
    );
    let width = COMMANDS
        .iter()
        .map(|c| synopsis(c).len())
        .max()
        .unwrap_or(0);
    for c in COMMANDS {
        s += &format!("  {:<width$}  {}\n", synopsis(c), c.summary);
    }
    s += "\nEnvironment:\n";
    let width = ENV_VARS.iter().map(|v| v.name.len()).max().unwrap_or(0);
    for v in ENV_VARS {
        s += &format!("  {:<width$}  {}\n", v.name, v.summary);
    }
    s += &format!(
        "\nUse it from ~/.docker/config.json: {{\"credHelpers\": {{\"<account>.dkr.ecr.<region>.amazonaws.com\": \"ecr\"}}}}\nMore: {REPOSITORY}"
    );
    s
}

/// A panic must never print its payload: it could hold anything, a token included.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "{NAME}: internal error{place}; please report it at {REPOSITORY}/issues"
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

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
    fn helper_suffix_follows_the_installed_name() {
        assert_eq!(helper_suffix("docker-credential-ecr"), "ecr");
        assert_eq!(helper_suffix("docker-credential-ecr-rs"), "ecr-rs");
        assert_eq!(helper_suffix("docker-credential-ecr-login"), "ecr-login");
        assert_eq!(helper_suffix("docker-credential-"), "ecr");
        assert_eq!(helper_suffix("ecr-credential-provider"), "ecr");
        assert_eq!(helper_suffix("ecr-helper"), "ecr");
    }

    #[test]
    fn argument_errors() {
        assert_eq!(
            run_with(&[], ""),
            (
                1,
                "Usage: docker-credential-ecr <get|store|erase|list|version>\n".into()
            )
        );
        assert_eq!(run_with(&["get", "extra"], "").0, 1);
        assert!(run_with(&["get", "extra"], "").1.starts_with("Usage: "));
        let (code, out) = run_with(&["fetch"], "");
        assert_eq!(code, 1);
        assert!(out.starts_with("unknown action \"fetch\""), "{out}");
        assert_eq!(out.lines().count(), 1);
    }

    #[test]
    fn version_and_help() {
        for a in ["version", "--version", "-v"] {
            let (code, out) = run_with(&[a], "");
            assert_eq!(code, 0);
            assert_eq!(
                out,
                format!("docker-credential-ecr ({REPOSITORY}) {VERSION}\n")
            );
        }
        for a in ["--help", "-h", "help"] {
            let (code, out) = run_with(&[a], "");
            assert_eq!(code, 0);
            assert!(out.contains("AWS_ECR_CACHE_DIR"));
            let usage: Vec<&str> = out
                .lines()
                .skip_while(|l| !l.starts_with("Usage: "))
                .take_while(|l| !l.is_empty())
                .collect();
            assert_eq!(
                usage,
                [
                    "Usage: docker-credential-ecr <get|store|erase|list|version>",
                    "       docker-credential-ecr configure [OPTIONS] [HOST...]",
                    "       docker-credential-ecr doctor [HOST...]",
                    "       docker-credential-ecr kubelet",
                ]
            );
        }
        let (_, out) = run_with(&["fetch"], "");
        for name in [
            "get",
            "store",
            "erase",
            "list",
            "version",
            "configure",
            "doctor",
            "kubelet",
        ] {
            assert!(out.contains(name), "{name} missing: {out}");
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
