//! The one view of the process environment that everything reads: the cache key, the AWS SDK,
//! `doctor`, `configure` and the kubelet mode.
//!
//! The rule, applied once at start-up by [`normalise_process_env`] so that the SDK (which reads
//! the process environment itself) sees exactly what the rest of the helper sees:
//! - a variable whose value is empty is unset (the SDK would otherwise take `AWS_PROFILE=` as a
//!   profile named "" and `AWS_ENDPOINT_URL_ECR=` as an endpoint);
//! - a `HOME` that is unset, relative, or not a directory is no home at all: no config file is
//!   read and nothing is cached under it (the SDK would otherwise look for `~/.aws/config`
//!   relative to the client's working directory, or fail on `/dev/null/.aws/config`);
//! - the names AWS's Go SDK v2 (and so AWS's Go credential helper) also reads stand in for the
//!   Rust SDK's when those are unset ([`ALIASES`]): `AWS_DEFAULT_PROFILE` for `AWS_PROFILE`,
//!   `AWS_ACCESS_KEY` and `AWS_SECRET_KEY` for the `_ID` and `_ACCESS_KEY` names. A user switching
//!   from the Go helper keeps the identity they had; the README lists where botocore differs.
//!   botocore's `AWS_SECURITY_TOKEN` stands in for `AWS_SESSION_TOKEN` the same way.
//!
//! Code reads variables through [`Env`], so tests can hand it a [`MapEnv`] instead.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What `HOME` is set to when the real one is unusable: the conventional home of accounts that
/// have none. Nothing is read from or written under it.
pub const NO_HOME: &str = "/nonexistent";

/// `(name, stand-in)`: the stand-in's value is the name's when the name is unset, in the Go SDK
/// v2's order (`config/env_config.go`).
pub const ALIASES: &[(&str, &str)] = &[
    ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"),
    ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"),
    ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"),
    // botocore's older name, which the Rust SDK does not read: without it, temporary keys from
    // the environment would be sent without their session token.
    ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"),
];

pub trait Env {
    /// A variable's value as set, before [`ALIASES`]; unset and empty are the same.
    fn raw(&self, name: &str) -> Option<String>;

    /// A variable's value in the view: unset and empty are the same, and an unset name takes
    /// its stand-in's value (see [`ALIASES`]).
    fn var(&self, name: &str) -> Option<String> {
        self.raw(name).or_else(|| {
            let (_, alias) = ALIASES.iter().find(|(n, _)| *n == name)?;
            self.raw(alias)
        })
    }

    fn flag(&self, name: &str) -> bool {
        self.var(name).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
    }

    /// The variable a user set for `name`'s value, for messages: its stand-in when that is what
    /// supplied it (start-up copies a stand-in's value into the name, so equal values tell).
    fn set_by(&self, name: &'static str) -> &'static str {
        let alias = ALIASES.iter().find(|(n, _)| *n == name).map(|(_, a)| *a);
        match alias {
            Some(a) if self.raw(a).is_some() && self.raw(a) == self.raw(name) => a,
            Some(a) if self.raw(name).is_none() && self.raw(a).is_some() => a,
            _ => name,
        }
    }

    /// The user's home directory, if `HOME` names one that can be used: an absolute path to
    /// a directory. Never guessed from the password database: a process started with no HOME
    /// (a systemd unit, `env -i`) reads and writes nothing in anyone's home.
    fn home(&self) -> Option<PathBuf> {
        self.var("HOME").and_then(|h| usable_home(Path::new(&h)))
    }
}

fn usable_home(path: &Path) -> Option<PathBuf> {
    (path.is_absolute() && path.is_dir()).then(|| path.to_path_buf())
}

/// Applies the rule above to this process's own environment, so that the AWS SDK and any
/// `credential_process` it starts see the same variables as the rest of the helper.
///
/// Must run before any other thread exists: changing the environment while another thread may
/// read it is undefined behaviour. `front::main` and `cli::main` call it at start-up.
pub fn normalise_process_env() {
    let empty: Vec<std::ffi::OsString> = std::env::vars_os()
        .filter(|(_, value)| value.is_empty())
        .map(|(name, _)| name)
        .collect();
    for name in empty {
        // SAFETY: called at start-up, before any thread is spawned (see above).
        unsafe { std::env::remove_var(name) };
    }
    for (name, alias) in ALIASES {
        if std::env::var_os(name).is_none()
            && let Some(value) = std::env::var_os(alias)
        {
            // SAFETY: as above. The SDK, and any `credential_process` it starts, read the
            // name, not the stand-in.
            unsafe { std::env::set_var(name, value) };
        }
    }
    let home = std::env::var_os("HOME").and_then(|h| usable_home(Path::new(&h)));
    if home.is_none() {
        // SAFETY: as above.
        unsafe { std::env::set_var("HOME", NO_HOME) };
    }
}

/// The real environment of this process (normalised by [`normalise_process_env`]).
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn raw(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// A fixed set of variables, for tests.
#[derive(Default, Clone)]
pub struct MapEnv(pub HashMap<String, String>);

impl MapEnv {
    pub fn new(pairs: &[(&str, &str)]) -> Self {
        MapEnv(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

impl Env for MapEnv {
    fn raw(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_unset_and_only_a_real_absolute_directory_is_a_home() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"").unwrap();
        let home = |h: &str| MapEnv::new(&[("HOME", h)]).home();
        assert_eq!(home(dir.path().to_str().unwrap()), Some(dir.path().into()));
        for unusable in ["", "relative/dir", ".", "/dev/null", file.to_str().unwrap()] {
            assert_eq!(home(unusable), None, "{unusable:?}");
        }
        assert_eq!(home(NO_HOME), None);
        assert_eq!(MapEnv::new(&[("AWS_PROFILE", "")]).var("AWS_PROFILE"), None);
    }

    #[test]
    fn the_go_sdk_names_stand_in_for_unset_ones_and_never_win() {
        let env = MapEnv::new(&[
            ("AWS_DEFAULT_PROFILE", "dev"),
            ("AWS_ACCESS_KEY", "AKIDGO"),
            ("AWS_SECRET_KEY", "gosecret"),
        ]);
        assert_eq!(env.var("AWS_PROFILE").as_deref(), Some("dev"));
        assert_eq!(env.var("AWS_ACCESS_KEY_ID").as_deref(), Some("AKIDGO"));
        assert_eq!(
            env.var("AWS_SECRET_ACCESS_KEY").as_deref(),
            Some("gosecret")
        );
        let env = MapEnv::new(&[
            ("AWS_PROFILE", "prod"),
            ("AWS_DEFAULT_PROFILE", "dev"),
            ("AWS_ACCESS_KEY_ID", "AKIDRUST"),
            ("AWS_ACCESS_KEY", "AKIDGO"),
            ("AWS_SECRET_ACCESS_KEY", ""),
            ("AWS_SECRET_KEY", "gosecret"),
        ]);
        assert_eq!(env.var("AWS_PROFILE").as_deref(), Some("prod"));
        assert_eq!(env.var("AWS_ACCESS_KEY_ID").as_deref(), Some("AKIDRUST"));
        // Empty is unset, so the stand-in fills it.
        assert_eq!(
            env.var("AWS_SECRET_ACCESS_KEY").as_deref(),
            Some("gosecret")
        );
        assert_eq!(env.set_by("AWS_PROFILE"), "AWS_PROFILE");
        let env = MapEnv::new(&[("AWS_DEFAULT_PROFILE", "dev")]);
        assert_eq!(env.set_by("AWS_PROFILE"), "AWS_DEFAULT_PROFILE");
        // As the process environment is after start-up.
        let env = MapEnv::new(&[("AWS_DEFAULT_PROFILE", "dev"), ("AWS_PROFILE", "dev")]);
        assert_eq!(env.set_by("AWS_PROFILE"), "AWS_DEFAULT_PROFILE");
        let env = MapEnv::new(&[("AWS_SECURITY_TOKEN", "old")]);
        assert_eq!(env.var("AWS_SESSION_TOKEN").as_deref(), Some("old"));
    }
}
