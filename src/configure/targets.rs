//! Which files the clients read their helpers from, and whether they will find our binary.

use crate::env::Env;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A client family and its config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// docker's `config.json`; podman, skopeo and buildah read it too, after their own.
    Docker,
    /// containers/image's `auth.json` (podman, skopeo, buildah, cri-o).
    Containers,
}

impl Client {
    pub fn label(self) -> &'static str {
        match self {
            Client::Docker => "docker",
            Client::Containers => "containers",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cannot tell where the {client} config file is: HOME is not set (set HOME, or {var})")]
pub struct NoHome {
    client: &'static str,
    var: &'static str,
}

pub const DOCKER_CONFIG_VAR: &str = "DOCKER_CONFIG";
pub const REGISTRY_AUTH_FILE_VAR: &str = "REGISTRY_AUTH_FILE";

/// The file `client` reads, as the client itself finds it.
pub fn path(
    client: Client,
    env: &dyn Env,
    is_dir: &dyn Fn(&Path) -> bool,
) -> Result<PathBuf, NoHome> {
    let home = || {
        env.var("HOME").map(PathBuf::from).ok_or(NoHome {
            client: client.label(),
            var: match client {
                Client::Docker => DOCKER_CONFIG_VAR,
                Client::Containers => REGISTRY_AUTH_FILE_VAR,
            },
        })
    };
    match client {
        Client::Docker => match env.var(DOCKER_CONFIG_VAR) {
            Some(dir) => Ok(PathBuf::from(dir).join("config.json")),
            None => Ok(home()?.join(".docker/config.json")),
        },
        Client::Containers => {
            if let Some(file) = env.var(REGISTRY_AUTH_FILE_VAR) {
                return Ok(PathBuf::from(file));
            }
            // The file `podman login` writes, and the first one containers/image reads.
            if let Some(runtime) = env.var("XDG_RUNTIME_DIR").map(PathBuf::from)
                && is_dir(&runtime)
            {
                return Ok(runtime.join("containers/auth.json"));
            }
            let config = match env.var("XDG_CONFIG_HOME") {
                Some(dir) => PathBuf::from(dir),
                None => home()?.join(".config"),
            };
            Ok(config.join("containers/auth.json"))
        }
    }
}

/// Whether `path` lies under `$XDG_RUNTIME_DIR`, which is emptied when the user logs out.
pub fn is_runtime(path: &Path, env: &dyn Env) -> bool {
    env.var("XDG_RUNTIME_DIR")
        .is_some_and(|dir| path.starts_with(dir))
}

/// The first executable called `name` in `$PATH`, as a client's exec would find it.
pub fn find_on_path(name: &str, env: &dyn Env) -> Option<PathBuf> {
    let path = env.var("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    fn path_of(client: Client, pairs: &[(&str, &str)], dirs: &[&str]) -> Result<PathBuf, NoHome> {
        let env = MapEnv::new(pairs);
        path(client, &env, &|p: &Path| {
            dirs.iter().any(|d| Path::new(d) == p)
        })
    }

    #[test]
    fn docker_config_honours_docker_config() {
        assert_eq!(
            path_of(Client::Docker, &[("HOME", "/h")], &[]),
            Ok(PathBuf::from("/h/.docker/config.json"))
        );
        assert_eq!(
            path_of(
                Client::Docker,
                &[("HOME", "/h"), ("DOCKER_CONFIG", "/d")],
                &[]
            ),
            Ok(PathBuf::from("/d/config.json"))
        );
        let err = path_of(Client::Docker, &[], &[]).unwrap_err().to_string();
        assert!(err.contains("set HOME, or DOCKER_CONFIG"), "{err}");
    }

    #[test]
    fn containers_auth_follows_containers_image_order() {
        let env = [
            ("HOME", "/h"),
            ("XDG_RUNTIME_DIR", "/run/user/1"),
            ("REGISTRY_AUTH_FILE", "/a.json"),
        ];
        assert_eq!(
            path_of(Client::Containers, &env, &["/run/user/1"]),
            Ok(PathBuf::from("/a.json"))
        );
        assert_eq!(
            path_of(Client::Containers, &env[..2], &["/run/user/1"]),
            Ok(PathBuf::from("/run/user/1/containers/auth.json"))
        );
        assert_eq!(
            path_of(Client::Containers, &env[..2], &[]),
            Ok(PathBuf::from("/h/.config/containers/auth.json"))
        );
        assert_eq!(
            path_of(
                Client::Containers,
                &[("HOME", "/h"), ("XDG_CONFIG_HOME", "/x")],
                &[]
            ),
            Ok(PathBuf::from("/x/containers/auth.json"))
        );
    }

    #[test]
    fn path_lookup_wants_an_executable_file() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("tool"), "").unwrap();
        std::fs::write(b.join("tool"), "").unwrap();
        std::fs::set_permissions(b.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", a.display(), b.display());
        let env = MapEnv::new(&[("PATH", &path)]);
        assert_eq!(find_on_path("tool", &env), Some(b.join("tool")));
        assert_eq!(find_on_path("other", &env), None);
    }
}
