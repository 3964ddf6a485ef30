//! Which files the clients read their helpers from, and whether they will find our binary.

use crate::env::Env;
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
#[error(
    "cannot tell where the {client} config file is: HOME is not set or not a directory (set HOME, or {var})"
)]
pub struct NoHome {
    client: &'static str,
    var: &'static str,
}

pub use crate::dirs::{DOCKER_CONFIG_VAR, REGISTRY_AUTH_FILE_VAR};

/// The file `client` reads, as the client itself finds it ([`crate::dirs`] knows where).
pub fn path(client: Client, env: &dyn Env) -> Result<PathBuf, NoHome> {
    let found = match client {
        Client::Docker => crate::dirs::docker_config_file(env),
        Client::Containers => crate::dirs::containers_login_file(env),
    };
    found.ok_or(NoHome {
        client: client.label(),
        var: match client {
            Client::Docker => DOCKER_CONFIG_VAR,
            Client::Containers => REGISTRY_AUTH_FILE_VAR,
        },
    })
}

/// Whether `path` lies under `$XDG_RUNTIME_DIR`, which is emptied when the user logs out.
pub fn is_runtime(path: &Path, env: &dyn Env) -> bool {
    crate::dirs::runtime_dir(env).is_some_and(|dir| path.starts_with(dir))
}

/// The first executable called `name` in `$PATH`, as a client's exec would find it (Go's
/// `exec.LookPath` refuses the current directory, as [`crate::platform::find_in_path`] does).
pub fn find_on_path(name: &str, env: &dyn Env) -> Option<PathBuf> {
    crate::platform::find_in_path(name.as_ref(), env.var("PATH")?.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    #[test]
    fn no_home_names_the_variable_to_set() {
        let err = path(Client::Docker, &MapEnv::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("set HOME, or DOCKER_CONFIG"), "{err}");
        let err = path(Client::Containers, &MapEnv::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("REGISTRY_AUTH_FILE"), "{err}");
    }

    #[test]
    fn path_lookup_wants_an_executable_file() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("tool"), "").unwrap();
        std::fs::write(b.join("tool"), "").unwrap();
        std::fs::set_permissions(b.join("tool"), crate::platform::permissions(0o755)).unwrap();
        let path = format!("{}:{}", a.display(), b.display());
        let env = MapEnv::new(&[("PATH", &path)]);
        assert_eq!(find_on_path("tool", &env), Some(b.join("tool")));
        assert_eq!(find_on_path("other", &env), None);
    }
}
