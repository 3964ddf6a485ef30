//! Facts about this program that the commands need and the command line shows: its name,
//! version and home, and the name clients run it by. The CLI reads them from here, as do the
//! commands, which never import the CLI.

pub const NAME: &str = env!("CARGO_PKG_NAME");
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// Clients run a helper configured as `<suffix>` by executing `docker-credential-<suffix>`.
pub const HELPER_PREFIX: &str = "docker-credential-";

/// The credHelpers value that makes clients run this binary: the installed name less
/// `docker-credential-` (`ecr` for `docker-credential-ecr`, and for any other name such as
/// the kubelet link `ecr-credential-provider`).
pub fn helper_suffix(program: &str) -> String {
    match program.strip_prefix(HELPER_PREFIX) {
        Some(suffix) if !suffix.is_empty() => suffix.to_string(),
        _ => "ecr".to_string(),
    }
}

/// The engine, the complete program, installed beside the binary clients run (the front),
/// which hands it every request the cache cannot answer ([`crate::front`]).
pub const ENGINE: &str = concat!(env!("CARGO_PKG_NAME"), "-engine");

/// The name this program was run by (`argv[0]`'s file name), which selects the kubelet mode
/// and the helper name `configure` writes.
pub fn name_from_args(args: &[std::ffi::OsString]) -> String {
    args.first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or(NAME)
        .to_string()
}

/// What `version` prints: the reference helpers' shape, name, project URL and version.
pub fn version_line() -> String {
    format!("{NAME} ({REPOSITORY}) {VERSION}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_suffix_follows_the_installed_name() {
        assert_eq!(helper_suffix("docker-credential-ecr"), "ecr");
        assert_eq!(helper_suffix("docker-credential-ecr-rs"), "ecr-rs");
        assert_eq!(helper_suffix("docker-credential-ecr-login"), "ecr-login");
        assert_eq!(helper_suffix("docker-credential-"), "ecr");
        assert_eq!(helper_suffix("ecr-credential-provider"), "ecr");
        assert_eq!(helper_suffix("ecr-helper"), "ecr");
    }
}
