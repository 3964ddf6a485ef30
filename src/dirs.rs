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

/// The token cache directory, or `None` when caching is disabled or there is no usable home.
pub fn cache_dir(env: &dyn Env) -> Option<PathBuf> {
    cache_location(env).ok()
}

/// Why there is no cache directory: `get` serves tokens uncached, and `doctor` says this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoCacheDir {
    #[error("disabled ({DISABLE_CACHE_VAR})")]
    Disabled,
    #[error("{CACHE_DIR_VAR}={0} is not an absolute path, so nothing is cached")]
    Relative(String),
    #[error("no cache directory (HOME unset)")]
    NoHome,
}

/// The token cache directory, or why there is none.
pub fn cache_location(env: &dyn Env) -> Result<PathBuf, NoCacheDir> {
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
        return Ok(dir.join(APP));
    }
    xdg(env, "XDG_CACHE_HOME", ".cache")
        .map(|d| d.join(APP))
        .ok_or(NoCacheDir::NoHome)
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
            assert_eq!(cache_dir(&env), None, "{home}");
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
            cache_dir(&env),
            Some(PathBuf::from("/x/cache/docker-credential-ecr"))
        );
        assert_eq!(aws_config_file(&env), Some(PathBuf::from("/x/aws")));
        assert_eq!(config_dir(&env), None);
    }
}
