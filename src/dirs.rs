//! Where this user's files live: the platform's config and cache directories, or the
//! directories that the environment names instead.

use crate::env::Env;
use std::path::PathBuf;

const APP: &str = "docker-credential-ecr";

/// `AWS_ECR_CACHE_DIR` is shared with AWS's Go helper; we keep to a subdirectory of ours so its
/// `cache.json` is never read or written.
pub const CACHE_DIR_VAR: &str = "AWS_ECR_CACHE_DIR";
pub const DISABLE_CACHE_VAR: &str = "AWS_ECR_DISABLE_CACHE";

pub fn config_dir(_env: &dyn Env) -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", APP).map(|d| d.config_dir().to_path_buf())
}

/// The token cache directory, or `None` when caching is disabled or no home can be found.
pub fn cache_dir(env: &dyn Env) -> Option<PathBuf> {
    if env.flag(DISABLE_CACHE_VAR) {
        return None;
    }
    if let Some(dir) = env.var(CACHE_DIR_VAR) {
        let dir = expand_tilde(&dir, env);
        // A relative path (or a `~` with no HOME to expand it) would put a cache in whatever
        // directory the client runs us from: serve tokens uncached instead.
        if dir.is_relative() {
            crate::debug!("{CACHE_DIR_VAR} is not an absolute path: not caching");
            return None;
        }
        return Some(dir.join(APP));
    }
    directories::ProjectDirs::from("", "", APP).map(|d| d.cache_dir().to_path_buf())
}

/// The Go helper expands a leading `~`; so do we, so that one setting serves both.
fn expand_tilde(dir: &str, env: &dyn Env) -> PathBuf {
    match (
        dir.strip_prefix("~/")
            .or(dir.strip_prefix("~").filter(|r| r.is_empty())),
        env.var("HOME"),
    ) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    #[test]
    fn cache_dir_honours_the_go_helpers_variables() {
        let env = MapEnv::new(&[("AWS_ECR_CACHE_DIR", "~/.ecr"), ("HOME", "/home/u")]);
        assert_eq!(
            cache_dir(&env),
            Some(PathBuf::from("/home/u/.ecr/docker-credential-ecr"))
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
}
