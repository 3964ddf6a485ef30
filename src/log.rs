//! Diagnostics on stderr, off unless `DOCKER_CREDENTIAL_ECR_LOG` asks for them.
//!
//! Docker, podman and skopeo copy a helper's stderr straight to the user's terminal on every
//! pull, so the default is silence; `doctor` is where problems are explained.

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

pub const ENV_VAR: &str = "DOCKER_CREDENTIAL_ECR_LOG";

impl Level {
    pub fn parse(s: &str) -> Level {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" | "1" | "true" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => Level::Off,
        }
    }
}

pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        std::env::var(ENV_VAR)
            .map(|v| Level::parse(&v))
            .unwrap_or(Level::Off)
    })
}

pub fn enabled(l: Level) -> bool {
    l <= level()
}

#[macro_export]
macro_rules! log_at {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            // Not eprintln!: a stderr nobody reads any more must not turn a log line into a panic.
            let _ = ::std::io::Write::write_fmt(
                &mut ::std::io::stderr(),
                format_args!("docker-credential-ecr: {}: {}\n", format!("{:?}", $level).to_lowercase(), format_args!($($arg)*)),
            );
        }
    };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log_at!($crate::log::Level::Warn, $($arg)*) };
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log_at!($crate::log::Level::Info, $($arg)*) };
}

#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log_at!($crate::log::Level::Debug, $($arg)*) };
}
