//! Diagnostics on stderr through `tracing`, off unless `DOCKER_CREDENTIAL_ECR_LOG` asks for them.
//!
//! Docker, podman and skopeo copy a helper's stderr straight to the user's terminal on every
//! pull, so the default is silence; `doctor` is where problems are explained. When the variable
//! is unset no subscriber exists: every `tracing` call site, ours and the AWS SDK's, is a load
//! and a compare, and a cache hit pays nothing more.
//!
//! The AWS SDK logs through `tracing` too, so the same filter shows which credential provider
//! answered, each attempt and retry, and the endpoint it called.

use std::io::Write;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;

use crate::env::Env;

pub const ENV_VAR: &str = "DOCKER_CREDENTIAL_ECR_LOG";

/// Targets whose `trace` events hold secrets, and the most they may show.
///
/// At `trace` the SDK's orchestrator prints every operation's output with `Debug`, and
/// `GetAuthorizationToken`'s holds the registry token in clear (tests/it/secrets.rs caught it);
/// its `debug` events (attempts, retries, delays, errors) hold none. The match is by prefix,
/// so `aws_smithy_runtime_api` is capped too. aws-sigv4 redacts what it prints and the
/// credential providers print credentials through their redacting `Debug`, so neither is
/// capped. The cap applies whatever the variable says: a log pasted into an issue must not
/// hold a credential.
const SECRET_CAPS: &[(&str, LevelFilter)] = &[("aws_smithy_runtime", LevelFilter::DEBUG)];

#[derive(Debug, thiserror::Error)]
#[error("{ENV_VAR}={value:?} is not a level or a filter ({reason}); logging stays off")]
pub struct FilterError {
    value: String,
    reason: String,
}

/// The filter `value` asks for, or `None` for no logging at all.
///
/// Accepts a level (`error`, `warn`, `info`, `debug`, `trace`), `off`, the older spellings
/// `warning`, `1` and `true` (info), and `tracing`'s directives (`RUST_LOG`'s syntax without
/// span filters): `debug,aws_config=trace`, `docker_credential_ecr=debug`.
pub fn filter(value: &str) -> Result<Option<Targets>, FilterError> {
    let trimmed = value.trim();
    let directives = match trimmed.to_ascii_lowercase().as_str() {
        "" | "off" | "0" | "false" | "none" => return Ok(None),
        "1" | "true" | "info" => "info".to_string(),
        "warning" => "warn".to_string(),
        _ => trimmed.to_string(),
    };
    let error = |reason: String| FilterError {
        value: value.to_string(),
        reason,
    };
    let targets: Targets = directives.parse().map_err(|e| error(format!("{e}")))?;
    // `tracing` takes any word that is not a level for a target (`verbose`, `99`, `level` of
    // `level=debug`), which would turn logging on for events that never come.
    if let Some((target, _)) = targets.iter().find(|(t, _)| !names_a_logger(t)) {
        return Err(error(format!(
            "no events have the target {target:?}: give a level, off to trace, or target=level with a target among {}",
            LOGGERS.join(", ").replace("aws_", "aws_*")
        )));
    }
    Ok((targets.default_level().is_some() || targets.iter().next().is_some()).then_some(targets))
}

/// The crates whose `tracing` events reach this subscriber (`aws_` stands for the SDK's crates);
/// a crate that logs through `log` sends none.
const LOGGERS: &[&str] = &["docker_credential_ecr", "aws_", "h2", "hyper_util"];

/// Whether a directive's target selects any event: `tracing` matches a target as a prefix of
/// the event's, so `aws` and `docker_credential_ecr::cache` both do.
fn names_a_logger(target: &str) -> bool {
    LOGGERS
        .iter()
        .any(|l| l.starts_with(target) || target.starts_with(l))
}

/// The caps of [`SECRET_CAPS`], for everything else no limit.
fn secret_caps() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(SECRET_CAPS.iter().copied())
}

/// Installs the stderr subscriber if `DOCKER_CREDENTIAL_ECR_LOG` asks for one. Called once, at
/// start-up, before anything logs.
pub fn init(env: &dyn Env) {
    let Some(value) = env.var(ENV_VAR) else {
        return;
    };
    let targets = match filter(&value) {
        Ok(Some(targets)) => targets,
        Ok(None) => return,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{}: {e}", crate::program::NAME);
            return;
        }
    };
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        // With this on, a failed write is reported with `eprintln!`, which panics when
        // stderr cannot be written, and the process aborts before it answers. Off is the
        // default in 0.3.23, though documented as on: said here so that no release can
        // change it under us. A log line nobody can read is simply lost.
        .log_internal_errors(false);
    let subscriber = tracing_subscriber::registry()
        .with(secret_caps())
        .with(targets)
        .with(output);
    // Fails only if a subscriber exists already, and then that one logs.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Our own events, under the name the call sites have always used (`crate::debug!`, re-exported
/// by the crate root): private to the crate, not part of its API.
macro_rules! debug {
    ($($arg:tt)*) => { ::tracing::debug!($($arg)*) };
}
pub(crate) use debug;

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn enabled(value: &str, target: &str, level: Level) -> bool {
        filter(value)
            .unwrap()
            .is_some_and(|t| t.would_enable(target, &level))
    }

    #[test]
    fn levels_and_old_spellings() {
        for off in ["off", "0", "false", "none", " ", "OFF"] {
            assert!(filter(off).unwrap().is_none(), "{off:?}");
        }
        for info in ["info", "1", "true", "INFO", " info\n"] {
            assert!(enabled(info, "docker_credential_ecr::lookup", Level::INFO));
            assert!(!enabled(
                info,
                "docker_credential_ecr::lookup",
                Level::DEBUG
            ));
        }
        assert!(enabled("warning", "aws_config", Level::WARN));
        assert!(!enabled("warning", "aws_config", Level::INFO));
        assert!(enabled("error", "x", Level::ERROR));
        assert!(!enabled("error", "x", Level::WARN));
        assert!(enabled("trace", "aws_config::meta", Level::TRACE));
        assert!(enabled("debug", "aws_smithy_runtime", Level::DEBUG));
    }

    #[test]
    fn directives() {
        let v = "debug,aws_config=trace";
        assert!(enabled(v, "aws_config::default_provider", Level::TRACE));
        assert!(enabled(v, "docker_credential_ecr::lookup", Level::DEBUG));
        assert!(!enabled(v, "docker_credential_ecr::lookup", Level::TRACE));
        let v = "docker_credential_ecr=debug";
        assert!(enabled(v, "docker_credential_ecr::cache", Level::DEBUG));
        assert!(!enabled(v, "aws_config", Level::ERROR));
    }

    #[test]
    fn a_bad_filter_is_an_error_that_names_the_variable() {
        let e = filter("aws_config=loud").unwrap_err().to_string();
        assert!(e.starts_with(ENV_VAR), "{e}");
        assert!(e.contains("logging stays off"), "{e}");
    }

    #[test]
    fn a_word_that_is_no_level_and_names_no_logger_is_an_error() {
        for bad in ["verbose", "99", "level=debug", "debug,verbose", "-1"] {
            let e = filter(bad).err().map(|e| e.to_string());
            let e = e.unwrap_or_else(|| panic!("{bad:?} was accepted"));
            assert!(e.starts_with(&format!("{ENV_VAR}={bad:?}")), "{e}");
            assert!(e.contains("logging stays off"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        for good in [
            "aws=debug",
            "docker_credential_ecr::cache=trace",
            "h2=info",
            "2",
        ] {
            assert!(filter(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn secret_bearing_targets_are_capped_at_debug() {
        let caps = secret_caps();
        for (target, _) in SECRET_CAPS {
            assert!(caps.would_enable(target, &Level::DEBUG));
            assert!(!caps.would_enable(&format!("{target}::client"), &Level::TRACE));
        }
        assert!(caps.would_enable("aws_config", &Level::TRACE));
        assert!(caps.would_enable("docker_credential_ecr", &Level::TRACE));
    }
}
