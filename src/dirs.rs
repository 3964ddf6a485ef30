//! Where files live: this helper's config file and token cache, and the AWS shared config and
//! credentials files the SDK reads. Every path is derived here from the one view of the
//! environment ([`crate::env`]), so the cache key, the SDK, `doctor` and `configure` agree.

use crate::env::Env;
use std::path::{Path, PathBuf};

/// The directory name under the config and cache homes: the program's own.
const APP: &str = crate::program::NAME;

/// `AWS_ECR_CACHE_DIR` is shared with AWS's Go helper; we keep to a subdirectory of ours so its
/// `cache.json` is never read or written.
pub const CACHE_DIR_VAR: &str = "AWS_ECR_CACHE_DIR";
pub const DISABLE_CACHE_VAR: &str = "AWS_ECR_DISABLE_CACHE";
pub const AWS_CONFIG_FILE_VAR: &str = "AWS_CONFIG_FILE";
pub const AWS_CREDENTIALS_FILE_VAR: &str = "AWS_SHARED_CREDENTIALS_FILE";

/// An XDG base directory: the variable if it holds an absolute path (the specification says
/// a relative one is to be ignored), else `default` under the home. The `directories` crate
/// is not used: it falls back to the password database when HOME is unusable, and a helper
/// started with no home must not write into one.
fn xdg(env: &dyn Env, var: &str, default: &str) -> Option<PathBuf> {
    env.var(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env.home().map(|h| h.join(default)))
}

/// `$XDG_CONFIG_HOME/docker-credential-ecr`, else `~/.config/docker-credential-ecr`.
pub fn config_dir(env: &dyn Env) -> Option<PathBuf> {
    xdg(env, "XDG_CONFIG_HOME", ".config").map(|d| d.join(APP))
}

/// systemd's `CacheDirectory=`: the unit's cache directories, colon-separated.
pub const SYSTEMD_CACHE_VAR: &str = "CACHE_DIRECTORY";

/// root's cache when it has no home (the kubelet under systemd): shared by every root process
/// on the machine, so it is used only if it is root's own and private (see [`CacheRule::System`]).
/// The packages' `tmpfiles.d` entry creates it at boot; the helper creates it if missing.
pub const SYSTEM_CACHE_DIR: &str = "/var/cache/docker-credential-ecr";

/// Which rule chose the cache directory, for `doctor` and for the checks the directory gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheRule {
    /// `$AWS_ECR_CACHE_DIR`.
    Variable,
    /// `$XDG_CACHE_HOME`, else `~/.cache`.
    Home,
    /// systemd's `$CACHE_DIRECTORY`, with no usable home.
    Systemd,
    /// [`SYSTEM_CACHE_DIR`]: root with no usable home and no unit cache directory. It must be
    /// root-owned and private (0700): anything else is refused, not repaired.
    System,
}

impl CacheRule {
    /// The rule in words, as `doctor` names it ("directory from ...").
    pub fn describe(self) -> String {
        match self {
            CacheRule::Variable => CACHE_DIR_VAR.to_string(),
            CacheRule::Home => "XDG_CACHE_HOME, else HOME/.cache".to_string(),
            CacheRule::Systemd => {
                format!("the systemd unit's {SYSTEMD_CACHE_VAR} (no usable HOME)")
            }
            CacheRule::System => "the system cache (root with no usable HOME)".to_string(),
        }
    }
}

/// A cache directory and the rule that chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheLocation {
    pub dir: PathBuf,
    pub rule: CacheRule,
}

/// Why there is no cache directory: `get` serves tokens uncached, and `doctor` says this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoCacheDir {
    #[error("disabled ({DISABLE_CACHE_VAR})")]
    Disabled,
    #[error("{CACHE_DIR_VAR}={0} is not an absolute path, so nothing is cached")]
    Relative(String),
    /// No usable HOME, and no unit directory or root's system cache either (or a `~` in
    /// `AWS_ECR_CACHE_DIR` with no home to expand it to).
    #[error("no cache directory (no usable HOME; set {CACHE_DIR_VAR} to an absolute path)")]
    NoHome,
}

/// The token cache directory and the rule that chose it, or why there is none.
pub fn cache_location(env: &dyn Env) -> Result<CacheLocation, NoCacheDir> {
    cache_location_as(env, crate::platform::euid())
}

/// [`cache_location`] for the effective user `euid`.
pub(crate) fn cache_location_as(env: &dyn Env, euid: u32) -> Result<CacheLocation, NoCacheDir> {
    let at = |dir: PathBuf, rule| Ok(CacheLocation { dir, rule });
    if env.flag(DISABLE_CACHE_VAR) {
        return Err(NoCacheDir::Disabled);
    }
    if let Some(value) = env.var(CACHE_DIR_VAR) {
        let dir = expand_tilde(&value, env).ok_or(NoCacheDir::NoHome)?;
        // A relative path would put a cache in whatever directory the client runs us from:
        // serve tokens uncached instead.
        if dir.is_relative() {
            crate::debug!("{CACHE_DIR_VAR} is not an absolute path: not caching");
            return Err(NoCacheDir::Relative(value));
        }
        return at(dir.join(APP), CacheRule::Variable);
    }
    if let Some(dir) = xdg(env, "XDG_CACHE_HOME", ".cache") {
        return at(dir.join(APP), CacheRule::Home);
    }
    // A system service: systemd starts it with no HOME unless its unit sets `User=`. The first
    // of the unit's directories (systemd always sets absolute ones); a subdirectory of ours,
    // since the unit (the kubelet's, say) keeps its own files there too.
    let unit_dir = env
        .var(SYSTEMD_CACHE_VAR)
        .and_then(|v| v.split(':').next().map(PathBuf::from))
        .filter(|d| d.is_absolute());
    if let Some(dir) = unit_dir {
        return at(dir.join(APP), CacheRule::Systemd);
    }
    // Another user with no home has nowhere of its own to write: caching nothing is safer
    // than a directory others could have made for it.
    if euid == 0 {
        return at(PathBuf::from(SYSTEM_CACHE_DIR), CacheRule::System);
    }
    Err(NoCacheDir::NoHome)
}

/// The engine beside the front at `front` (its file in the same directory), which the front
/// hands every request the cache cannot answer. Found from the front's own file, never PATH.
pub fn engine_beside(front: &Path) -> PathBuf {
    front.with_file_name(crate::program::ENGINE)
}

/// The shared config file as the SDK finds it: `$AWS_CONFIG_FILE` (with `~/` expanded, as the
/// SDK does), else `~/.aws/config`. `None` when it names a home there is none of.
pub fn aws_config_file(env: &dyn Env) -> Option<PathBuf> {
    aws_file(env, AWS_CONFIG_FILE_VAR, ".aws/config")
}

/// The shared credentials file: `$AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
pub fn aws_credentials_file(env: &dyn Env) -> Option<PathBuf> {
    aws_file(env, AWS_CREDENTIALS_FILE_VAR, ".aws/credentials")
}

fn aws_file(env: &dyn Env, var: &str, default: &str) -> Option<PathBuf> {
    match env.var(var) {
        Some(path) => expand_tilde(&path, env),
        None => env.home().map(|h| h.join(default)),
    }
}

/// The Go helper and the SDK expand a leading `~`; so do we, so that one setting serves all.
/// `None` for a `~` with no usable home to expand it to.
pub(crate) fn expand_tilde(path: &str, env: &dyn Env) -> Option<PathBuf> {
    match path
        .strip_prefix("~/")
        .or(path.strip_prefix("~").filter(|r| r.is_empty()))
    {
        Some(rest) => env.home().map(|home| home.join(rest)),
        None => Some(PathBuf::from(path)),
    }
}

pub const DOCKER_CONFIG_VAR: &str = "DOCKER_CONFIG";
pub const REGISTRY_AUTH_FILE_VAR: &str = "REGISTRY_AUTH_FILE";

/// docker's `config.json`: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
/// podman, skopeo and buildah read it too, after their own files.
pub fn docker_config_file(env: &dyn Env) -> Option<PathBuf> {
    match env.var(DOCKER_CONFIG_VAR) {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => env.home().map(|h| h.join(".docker/config.json")),
    }
}

/// containers/image's `auth.json` files (podman, skopeo, buildah, cri-o) in the order it reads
/// them; docker's file, which it reads last, is not included.
pub fn containers_auth_files(env: &dyn Env) -> Vec<PathBuf> {
    let mut files = Vec::new();
    match env.var(REGISTRY_AUTH_FILE_VAR) {
        Some(file) => files.push(PathBuf::from(file)),
        None => files.push(match env.var("XDG_RUNTIME_DIR") {
            Some(dir) => PathBuf::from(dir).join("containers/auth.json"),
            None => PathBuf::from(format!(
                "/run/containers/{}/auth.json",
                crate::platform::euid()
            )),
        }),
    }
    files.extend(xdg(env, "XDG_CONFIG_HOME", ".config").map(|d| d.join("containers/auth.json")));
    files
}

/// The `auth.json` that `podman login` writes and `configure --containers` edits:
/// `$REGISTRY_AUTH_FILE`, else the runtime directory's when that exists, else the config one.
pub fn containers_login_file(env: &dyn Env) -> Option<PathBuf> {
    if let Some(file) = env.var(REGISTRY_AUTH_FILE_VAR) {
        return Some(PathBuf::from(file));
    }
    if let Some(runtime) = runtime_dir(env) {
        return Some(runtime.join("containers/auth.json"));
    }
    xdg(env, "XDG_CONFIG_HOME", ".config").map(|d| d.join("containers/auth.json"))
}

/// `$XDG_RUNTIME_DIR` when it names a directory; it is emptied when the user logs out.
pub fn runtime_dir(env: &dyn Env) -> Option<PathBuf> {
    env.var("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute() && d.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The token cache directory, or `None` when caching is disabled or there is none.
    fn cache_dir(env: &dyn Env) -> Option<PathBuf> {
        cache_location(env).ok().map(|l| l.dir)
    }
    use crate::env::MapEnv;

    #[test]
    fn client_files_follow_each_clients_own_order() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        let runtime = tempfile::tempdir().unwrap();
        let r = runtime.path().to_str().unwrap();
        let env = MapEnv::new(&[("HOME", h)]);
        assert_eq!(
            docker_config_file(&env),
            Some(home.path().join(".docker/config.json"))
        );
        let env = MapEnv::new(&[("HOME", h), ("DOCKER_CONFIG", "/d")]);
        assert_eq!(
            docker_config_file(&env),
            Some(PathBuf::from("/d/config.json"))
        );
        assert_eq!(docker_config_file(&MapEnv::default()), None);
        let env = MapEnv::new(&[
            ("HOME", h),
            ("XDG_RUNTIME_DIR", r),
            ("REGISTRY_AUTH_FILE", "/a.json"),
        ]);
        assert_eq!(containers_login_file(&env), Some(PathBuf::from("/a.json")));
        let env = MapEnv::new(&[("HOME", h), ("XDG_RUNTIME_DIR", r)]);
        assert_eq!(
            containers_login_file(&env),
            Some(runtime.path().join("containers/auth.json"))
        );
        assert_eq!(
            containers_auth_files(&env),
            vec![
                runtime.path().join("containers/auth.json"),
                home.path().join(".config/containers/auth.json")
            ]
        );
        let env = MapEnv::new(&[("HOME", h), ("XDG_RUNTIME_DIR", "/gone")]);
        assert_eq!(
            containers_login_file(&env),
            Some(home.path().join(".config/containers/auth.json"))
        );
        let env = MapEnv::new(&[("HOME", h), ("XDG_CONFIG_HOME", "/x")]);
        assert_eq!(
            containers_login_file(&env),
            Some(PathBuf::from("/x/containers/auth.json"))
        );
    }

    #[test]
    fn cache_dir_honours_the_go_helpers_variables() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        let env = MapEnv::new(&[("AWS_ECR_CACHE_DIR", "~/.ecr"), ("HOME", h)]);
        assert_eq!(
            cache_dir(&env),
            Some(home.path().join(".ecr/docker-credential-ecr"))
        );
        let env = MapEnv::new(&[("AWS_ECR_CACHE_DIR", "/c"), ("AWS_ECR_DISABLE_CACHE", "1")]);
        assert_eq!(cache_dir(&env), None);
        for relative in ["~/.ecr", "~", "cache", "./cache"] {
            let env = MapEnv::new(&[("AWS_ECR_CACHE_DIR", relative)]);
            assert_eq!(cache_dir(&env), None, "{relative}");
        }
        let env = MapEnv::new(&[("AWS_ECR_CACHE_DIR", "/c"), ("AWS_ECR_DISABLE_CACHE", "0")]);
        assert_eq!(
            cache_dir(&env),
            Some(PathBuf::from("/c/docker-credential-ecr"))
        );
    }

    #[test]
    fn no_usable_home_means_no_config_and_no_cache() {
        for home in ["/dev/null", "relative", "/nonexistent"] {
            let env = MapEnv::new(&[("HOME", home)]);
            assert_eq!(
                cache_location_as(&env, 1000),
                Err(NoCacheDir::NoHome),
                "{home}"
            );
            assert_eq!(config_dir(&env), None, "{home}");
            assert_eq!(aws_config_file(&env), None, "{home}");
        }
        // An explicit absolute location still works without a home.
        let env = MapEnv::new(&[
            ("XDG_CACHE_HOME", "/x/cache"),
            ("AWS_CONFIG_FILE", "/x/aws"),
            ("XDG_CONFIG_HOME", "relative"),
        ]);
        assert_eq!(
            cache_location_as(&env, 1000).map(|l| l.dir),
            Ok(PathBuf::from("/x/cache/docker-credential-ecr"))
        );
        assert_eq!(aws_config_file(&env), Some(PathBuf::from("/x/aws")));
        assert_eq!(config_dir(&env), None);
    }

    /// A system service has no HOME: its unit's cache directory, else root's system cache;
    /// another user without a home caches nothing. A usable home or the variable comes first.
    #[test]
    fn a_service_without_home_caches_in_the_units_or_the_system_directory() {
        let loc = |pairs: &[(&str, &str)], euid| cache_location_as(&MapEnv::new(pairs), euid);
        let at = |dir: &str, rule| {
            Ok(CacheLocation {
                dir: PathBuf::from(dir),
                rule,
            })
        };
        assert_eq!(
            loc(&[], 0),
            at("/var/cache/docker-credential-ecr", CacheRule::System)
        );
        assert_eq!(loc(&[], 1000), Err(NoCacheDir::NoHome));
        let unit = [("CACHE_DIRECTORY", "/var/cache/kubelet:/var/cache/other")];
        for euid in [0, 1000] {
            assert_eq!(
                loc(&unit, euid),
                at(
                    "/var/cache/kubelet/docker-credential-ecr",
                    CacheRule::Systemd
                )
            );
        }
        // systemd sets absolute paths; anything else is not the unit's directory.
        assert_eq!(
            loc(&[("CACHE_DIRECTORY", "relative")], 0),
            at(SYSTEM_CACHE_DIR, CacheRule::System)
        );
        assert_eq!(
            loc(&[("CACHE_DIRECTORY", "relative")], 1000),
            Err(NoCacheDir::NoHome)
        );
        assert_eq!(
            loc(&[("AWS_ECR_CACHE_DIR", "/c"), unit[0]], 0),
            at("/c/docker-credential-ecr", CacheRule::Variable)
        );
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        assert_eq!(
            loc(&[("HOME", h), unit[0]], 0).map(|l| l.rule),
            Ok(CacheRule::Home)
        );
        // An absolute XDG_CACHE_HOME is a directory of the user's own, home or not (README's
        // and docs/doctor-and-kubelet.md's order).
        assert_eq!(
            loc(&[("XDG_CACHE_HOME", "/x"), unit[0]], 0),
            at("/x/docker-credential-ecr", CacheRule::Home)
        );
        assert_eq!(
            loc(&[("AWS_ECR_DISABLE_CACHE", "1")], 0),
            Err(NoCacheDir::Disabled)
        );
    }

    /// The packages create the system cache at boot with the mode the helper demands of it.
    #[test]
    fn the_packages_tmpfiles_entry_makes_the_system_cache() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("packaging/tmpfiles.d/docker-credential-ecr.conf");
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        let fields: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(fields, ["d", SYSTEM_CACHE_DIR, "0700", "root", "root", "-"]);
    }
}
