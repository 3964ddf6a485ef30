//! `configure`: routes ECR registries to this helper in the clients' own config files, the way
//! `gcloud auth configure-docker` does, but safely: other keys, formatting, mode and owner are
//! kept, the write is atomic with a `.bak`, an unparsable file is refused untouched, a second
//! run changes nothing, `--dry-run` shows the diff, and `--remove` deletes only our entries.
//!
//! This is a command for people, so unlike the protocol actions its errors go to stderr.
//!
//! - [`cred_helpers`]: the pure text edit of `credHelpers`;
//! - [`diff`]: the unified diff `--dry-run` prints;
//! - [`file`](mod@file): reading and atomically replacing a config file;
//! - [`targets`]: where the clients' files are, and the PATH look-up clients will do;
//! - [`regions`]: the commercial regions behind `--all-regions`;
//! - [`kubelet_config`]: the kubelet's CredentialProviderConfig.

pub(crate) mod cred_helpers;
pub(crate) mod diff;
pub(crate) mod file;
pub(crate) mod kubelet_config;
pub(crate) mod regions;
pub(crate) mod targets;

use crate::config::{Config, ConfigError};
use crate::env::Env;
use crate::registry;
use cred_helpers::{Action, Change, EditError};
use file::FileError;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use targets::{Client, NoHome};

pub const COMMAND: &str = "configure";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub dry_run: bool,
    pub remove: bool,
    pub force: bool,
    pub clients: Vec<Client>,
    pub all_regions: Vec<String>,
    pub hosts: Vec<String>,
    pub print_kubelet_config: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigureError {
    #[error(
        "{0:?} is not a registry host name (expected e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com or public.ecr.aws)"
    )]
    BadHost(String),
    #[error(
        "{host} is not an ECR registry host{alias_hint}; pass --force to route it to this helper anyway"
    )]
    NotEcr { host: String, alias_hint: String },
    #[error("--all-regions: {0:?} is not a 12-digit AWS account id")]
    BadAccount(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    NoHome(#[from] NoHome),
    #[error("refusing to edit {}: {source}; the file was left untouched, fix or move it and run again", path.display())]
    Edit { path: PathBuf, source: EditError },
    #[error(transparent)]
    File(#[from] FileError),
}

/// Runs `configure` with its parsed options; returns the exit code.
/// `arg0` is how this process was started, which names its file where there is no `/proc`.
pub fn main(
    program: &str,
    arg0: &OsStr,
    opts: &Options,
    env: &dyn Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let path = env.var("PATH");
    let self_exe = crate::platform::own_file(arg0, path.as_deref().map(OsStr::new)).ok();
    match run(program, opts, env, self_exe.as_deref(), out, err) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "{program}: {e}");
            1
        }
    }
}

fn run(
    program: &str,
    o: &Options,
    env: &dyn Env,
    self_exe: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), ConfigureError> {
    if o.print_kubelet_config {
        let _ = write!(out, "{}", kubelet_config::render());
        return Ok(());
    }
    let action = if o.remove {
        Action::Remove
    } else {
        Action::Add
    };
    // The command line requires a host or --all-regions for an addition.
    let hosts = hosts(o, env)?;
    let run = Run {
        program,
        dry_run: o.dry_run,
        env,
        action,
        suffix: crate::program::helper_suffix(program),
    };

    // Every file is read and edited before any is written: one bad file stops them all.
    let plans = o
        .clients
        .iter()
        .map(|&client| plan(client, env, action, &hosts, &run.suffix))
        .collect::<Result<Vec<_>, _>>()?;
    for plan in &plans {
        run.apply(plan, out, err)?;
    }
    if action == Action::Add
        && let Some(warning) = path_warning(&run.suffix, env, self_exe)
    {
        let _ = writeln!(err, "{program}: warning: {warning}");
    }
    if o.dry_run {
        let _ = writeln!(err, "{program}: dry run: nothing was written");
    }
    Ok(())
}

/// One client's file as it is, and as the edit would leave it.
type Plan = (Client, file::Current, cred_helpers::Edit);

/// What every file's step of one `configure` run shares.
struct Run<'a> {
    program: &'a str,
    dry_run: bool,
    env: &'a dyn Env,
    action: Action,
    suffix: String,
}

impl Run<'_> {
    /// Writes one client's edit (or, dry, shows its diff) and says what happened.
    fn apply(
        &self,
        (client, current, edit): &Plan,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<(), ConfigureError> {
        let path = &current.real_path;
        let old = current.text.as_deref().unwrap_or("");
        for note in notes(&edit.changes) {
            let _ = writeln!(err, "{}: note: {}: {note}", self.program, path.display());
        }
        if edit.text == old {
            let _ = writeln!(
                out,
                "{}: {}",
                path.display(),
                unchanged(current, edit, self.action)
            );
            return Ok(());
        }
        if self.dry_run {
            let old_name = match current.text {
                Some(_) => path.display().to_string(),
                None => "/dev/null".to_string(),
            };
            let _ = write!(
                out,
                "{}",
                diff::unified(old, &edit.text, &old_name, &path.display().to_string())
            );
            return Ok(());
        }
        let backup = file::replace(current, &edit.text)?;
        let _ = writeln!(
            out,
            "updated {}{}",
            path.display(),
            backup
                .map(|b| format!(" (previous version: {})", b.display()))
                .unwrap_or_default()
        );
        for line in summary(&edit.changes, &self.suffix) {
            let _ = writeln!(out, "  {line}");
        }
        if *client == Client::Containers && targets::is_runtime(path, self.env) {
            let _ = writeln!(
                err,
                "{}: note: {} is emptied at logout; for a lasting setting set {}=~/.config/containers/auth.json and run again, or rely on docker's file, which containers tools also read",
                self.program,
                path.display(),
                targets::REGISTRY_AUTH_FILE_VAR
            );
        }
        Ok(())
    }
}

/// Reads one client's file and edits it in memory; nothing is written yet.
fn plan(
    client: Client,
    env: &dyn Env,
    action: Action,
    hosts: &[String],
    suffix: &str,
) -> Result<Plan, ConfigureError> {
    let path = targets::path(client, env)?;
    let current = file::read(&path)?;
    let edit =
        cred_helpers::edit(current.text.as_deref(), action, hosts, suffix).map_err(|source| {
            ConfigureError::Edit {
                path: current.real_path.clone(),
                source,
            }
        })?;
    Ok((client, current, edit))
}

/// The hosts to edit, normalised and deduplicated in order: those named, then `--all-regions`.
fn hosts(o: &Options, env: &dyn Env) -> Result<Vec<String>, ConfigureError> {
    let mut hosts: Vec<String> = Vec::new();
    // Loaded lazily: a host list of plain ECR names must not fail on an unrelated config error.
    let mut config: Option<Config> = None;
    for raw in &o.hosts {
        let host =
            registry::normalize_host(raw).ok_or_else(|| ConfigureError::BadHost(raw.clone()))?;
        if !o.remove && !o.force && registry::parse_registry(&host).is_none() {
            if config.is_none() {
                config = Some(Config::load(env)?);
            }
            let alias = config.as_ref().map(|c| c.resolve(&host)).transpose()?;
            if alias.flatten().is_none() {
                let file = config
                    .as_ref()
                    .and_then(|c| c.path().map(Path::to_path_buf))
                    .or_else(|| crate::config::path(env));
                return Err(ConfigureError::NotEcr {
                    alias_hint: file
                        .map(|p| format!(" nor an alias in {}", p.display()))
                        .unwrap_or_default(),
                    host,
                });
            }
        }
        hosts.push(host);
    }
    for account in &o.all_regions {
        if !registry::is_account(account) {
            return Err(ConfigureError::BadAccount(account.clone()));
        }
        hosts.extend(regions::all_region_hosts(account));
    }
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    Ok(hosts)
}

/// Clients exec `docker-credential-<suffix>` from PATH; say so if that will not be this
/// installation's front.
fn path_warning(suffix: &str, env: &dyn Env, self_exe: Option<&Path>) -> Option<String> {
    let name = format!("{}{suffix}", crate::program::HELPER_PREFIX);
    match targets::find_on_path(&name, env) {
        None => Some(format!(
            "no {name} on PATH: clients run it for the configured registries and will fail until it is installed there (e.g. in /usr/local/bin)"
        )),
        Some(found) => {
            let found_real = found.canonicalize().unwrap_or_else(|_| found.clone());
            // Run through the front, this process is the engine beside it.
            let is_me =
                |me: &Path| me == found_real || crate::dirs::engine_beside(&found_real) == me;
            match self_exe {
                Some(me) if !is_me(me) => Some(format!(
                    "clients will run {}, not this installation's {} ({})",
                    found.display(),
                    crate::program::NAME,
                    front_of(me).display()
                )),
                _ => None,
            }
        }
    }
}

/// What clients should find on PATH for this process: the front beside it when this is the
/// engine (which clients never run themselves), else this program.
fn front_of(me: &Path) -> std::path::PathBuf {
    if me.file_name() == Some(std::ffi::OsStr::new(crate::program::ENGINE)) {
        me.with_file_name(crate::program::NAME)
    } else {
        me.to_path_buf()
    }
}

fn unchanged(current: &file::Current, edit: &cred_helpers::Edit, action: Action) -> String {
    match (action, &current.text) {
        (Action::Remove, None) => "does not exist; nothing to remove".into(),
        (Action::Remove, Some(_)) => "has no entry of ours to remove; not rewritten".into(),
        (Action::Add, _) => format!(
            "already configured for {} registr{}; not rewritten",
            edit.changes.len(),
            if edit.changes.len() == 1 { "y" } else { "ies" }
        ),
    }
}

/// One line per host that changed.
fn summary(changes: &[Change], suffix: &str) -> Vec<String> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Added(h) => Some(format!("+ {h} -> {suffix}")),
            Change::Replaced { host, previous } => {
                Some(format!("~ {host} -> {suffix} (was {previous})"))
            }
            Change::Removed(h) => Some(format!("- {h}")),
            Change::AlreadySet(_) | Change::NotOurs { .. } | Change::Absent(_) => None,
        })
        .collect()
}

/// Things a user should know that the summary does not say.
fn notes(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::NotOurs { host, helper } => Some(format!(
                "{host} is routed to another helper ({helper:?}); left as it is"
            )),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised_checked_and_deduplicated() {
        let env =
            crate::env::MapEnv::new(&[("DOCKER_CREDENTIAL_ECR_CONFIG", "/nonexistent/c.toml")]);
        let o = Options {
            hosts: vec![
                "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/".into(),
                "PUBLIC.ECR.AWS:443".into(),
                "public.ecr.aws".into(),
            ],
            all_regions: vec!["123456789012".into()],
            ..Options::default()
        };
        let h = hosts(&o, &env).unwrap();
        assert_eq!(h[0], "123456789012.dkr.ecr.eu-west-1.amazonaws.com");
        assert_eq!(h[1], "public.ecr.aws");
        assert_eq!(h.len(), 2 + regions::COMMERCIAL.len() - 1);

        let foreign = Options {
            hosts: vec!["registry.example.com".into()],
            ..Options::default()
        };
        // The named config file is missing: that is an error before the host is judged.
        assert!(matches!(
            hosts(&foreign, &env),
            Err(ConfigureError::Config(_))
        ));
        let home = tempfile::tempdir().unwrap();
        let env = crate::env::MapEnv::new(&[("HOME", home.path().to_str().unwrap())]);
        let e = hosts(&foreign, &env).unwrap_err().to_string();
        assert!(
            e.starts_with("registry.example.com is not an ECR registry host nor an alias in /"),
            "{e}"
        );
        assert!(
            e.ends_with("pass --force to route it to this helper anyway"),
            "{e}"
        );
        let forced = Options {
            force: true,
            ..foreign
        };
        assert_eq!(hosts(&forced, &env).unwrap(), ["registry.example.com"]);
        let bad = Options {
            hosts: vec!["a b".into()],
            ..Options::default()
        };
        assert!(matches!(hosts(&bad, &env), Err(ConfigureError::BadHost(_))));
        let bad = Options {
            all_regions: vec!["12".into()],
            ..Options::default()
        };
        assert!(matches!(
            hosts(&bad, &env),
            Err(ConfigureError::BadAccount(_))
        ));
    }

    #[test]
    fn aliases_from_the_config_file_are_accepted() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("c.toml");
        std::fs::write(
            &cfg,
            "[[registry]]\nmatch = \"registry.example.com\"\naccount = \"123456789012\"\nregion = \"us-east-1\"\n",
        )
        .unwrap();
        let env =
            crate::env::MapEnv::new(&[("DOCKER_CREDENTIAL_ECR_CONFIG", cfg.to_str().unwrap())]);
        let o = Options {
            hosts: vec!["registry.example.com".into()],
            ..Options::default()
        };
        assert_eq!(hosts(&o, &env).unwrap(), ["registry.example.com"]);
    }
}
