//! Whether the clients on this machine send a registry's requests to this helper: docker reads
//! `config.json`, podman/skopeo/buildah (containers/image) read their `auth.json` files and then
//! docker's. Loading is separate from deciding, so the decisions are pure and testable.

use crate::env::Env;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One client config file as found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFile {
    pub path: PathBuf,
    pub state: FileState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    Missing,
    /// Unreadable or not JSON; the message names no value from the file.
    Invalid(String),
    Parsed(AuthFile),
}

/// The parts of a `config.json`/`auth.json` that decide routing. Stored passwords are not kept:
/// only which registries have one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthFile {
    pub cred_helpers: BTreeMap<String, String>,
    pub creds_store: Option<String>,
    pub auths: Vec<String>,
}

/// The verdict for one client and one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `docker` or `podman/skopeo`.
    pub client: &'static str,
    pub ours: bool,
    pub summary: String,
    pub notes: Vec<String>,
}

/// The client files of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFiles {
    pub docker: ClientFile,
    /// containers/image's search order, docker's file last.
    pub containers: Vec<ClientFile>,
}

impl ClientFiles {
    pub fn load(env: &dyn Env) -> ClientFiles {
        let paths = crate::dirs::containers_auth_files(env);
        let docker = match crate::dirs::docker_config_file(env) {
            Some(path) => read(path),
            // With no home and no DOCKER_CONFIG, docker itself finds no file either.
            None => ClientFile {
                path: PathBuf::from("~/.docker/config.json"),
                state: FileState::Missing,
            },
        };
        let mut containers: Vec<ClientFile> = paths.into_iter().map(read).collect();
        containers.push(docker.clone());
        ClientFiles { docker, containers }
    }

    /// Every file searched for routed hosts, each once.
    pub fn searched(&self) -> Vec<PathBuf> {
        let mut searched: Vec<PathBuf> = Vec::new();
        for file in std::iter::once(&self.docker).chain(&self.containers) {
            if !searched.contains(&file.path) {
                searched.push(file.path.clone());
            }
        }
        searched
    }

    /// docker's file, when its `credsStore` sends every registry to helper `ours`.
    pub fn creds_store_file(&self, ours: &str) -> Option<&ClientFile> {
        match &self.docker.state {
            FileState::Parsed(auth) if auth.creds_store.as_deref() == Some(ours) => {
                Some(&self.docker)
            }
            _ => None,
        }
    }

    /// Whether any client config file exists: with none, nothing can be said of routing (the
    /// clients may be configured elsewhere, or not be used at all, as on a kubelet node).
    pub fn any_present(&self) -> bool {
        std::iter::once(&self.docker)
            .chain(&self.containers)
            .any(|f| f.state != FileState::Missing)
    }

    /// The registries docker has logged in to through `credsStore` (its `auths` keys), when
    /// that store is helper `ours`.
    pub fn creds_store_hosts(&self, ours: &str) -> Vec<String> {
        match self.creds_store_file(ours).map(|f| &f.state) {
            Some(FileState::Parsed(auth)) => auth.auths.clone(),
            _ => Vec::new(),
        }
    }

    /// Hosts that some file routes to helper `ours` by an exact `credHelpers` key, in file order.
    pub fn routed_hosts(&self, ours: &str) -> Vec<String> {
        let mut hosts: Vec<String> = Vec::new();
        for file in std::iter::once(&self.docker).chain(&self.containers) {
            if let FileState::Parsed(auth) = &file.state {
                for (key, helper) in &auth.cred_helpers {
                    if helper == ours && !hosts.contains(key) {
                        hosts.push(key.clone());
                    }
                }
            }
        }
        hosts
    }
}

fn read(path: PathBuf) -> ClientFile {
    let read = crate::fsutil::read_regular(
        &path,
        crate::fsutil::MAX_CONFIG_BYTES,
        crate::fsutil::Links::Follow,
    );
    let state = match read {
        Err(e) if e.is_not_found() => FileState::Missing,
        Err(e) => FileState::Invalid(format!("cannot read it: {e}")),
        Ok(contents) => parse(&contents.bytes),
    };
    ClientFile { path, state }
}

/// Parses a client config file. Errors give a position, never content: the file may hold
/// passwords.
pub fn parse(bytes: &[u8]) -> FileState {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return FileState::Invalid(format!(
                "not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ));
        }
    };
    let Value::Object(top) = value else {
        return FileState::Invalid("not a JSON object".into());
    };
    let strings = |v: Option<&Value>| -> BTreeMap<String, String> {
        v.and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };
    FileState::Parsed(AuthFile {
        cred_helpers: strings(top.get("credHelpers")),
        creds_store: top
            .get("credsStore")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        auths: top
            .get("auths")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
    })
}

/// What this helper does with a registry that is not ECR (`None` for an ECR registry): routing
/// such a host here is then a fact to state, never advice to give.
pub type Foreign<'a> = Option<&'a str>;

/// ", but the helper …" for a foreign host routed here.
fn but(foreign: Foreign) -> String {
    foreign
        .map(|f| format!(", but the helper {f}"))
        .unwrap_or_default()
}

/// Advice to route `host` here, given only for an ECR registry: for a foreign host, routing it
/// here is a fact to state, never advice.
fn advice(foreign: Foreign, text: String) -> String {
    if foreign.is_none() {
        text
    } else {
        String::new()
    }
}

/// Docker: `credHelpers[host]` exactly, else `credsStore`, else a password stored in `auths`.
pub fn docker_route(file: &ClientFile, host: &str, ours: &str, foreign: Foreign) -> Route {
    let mut notes = Vec::new();
    let path = file.path.display();
    let (ours_now, summary) = match &file.state {
        FileState::Missing => (
            false,
            format!(
                "{path} does not exist{}",
                advice(
                    foreign,
                    format!("; add {{\"credHelpers\": {{\"{host}\": \"{ours}\"}}}}")
                )
            ),
        ),
        FileState::Invalid(why) => (false, format!("{path} is {why}; docker cannot read it")),
        FileState::Parsed(auth) => {
            notes.extend(near_misses(auth, host));
            docker_entry(auth, &file.path, host, ours, foreign)
        }
    };
    Route {
        client: "docker",
        ours: ours_now,
        summary,
        notes,
    }
}

/// Whether docker's parsed file sends `host` here, and the line that says why.
fn docker_entry(
    auth: &AuthFile,
    path: &Path,
    host: &str,
    ours: &str,
    foreign: Foreign,
) -> (bool, String) {
    if let Some(line) = cred_helper_line(auth, path, host, ours, foreign) {
        return line;
    }
    let path = path.display();
    match &auth.creds_store {
        Some(s) if s == ours => (
            true,
            format!(
                "{path}: credsStore = \"{ours}\" (every registry){}",
                but(foreign)
            ),
        ),
        Some(s) => (
            false,
            format!(
                "{path}: no credHelpers entry for {host}, so credsStore sends it to docker-credential-{s}"
            ),
        ),
        None if has_auth(auth, host) => (
            false,
            format!(
                "{path}: only a password stored by `docker login`{}",
                advice(
                    foreign,
                    format!(
                        " (ECR passwords expire after 12 hours); add credHelpers[\"{host}\"] = \"{ours}\""
                    )
                )
            ),
        ),
        None => (
            false,
            format!(
                "{path}: no credHelpers entry for {host}{}",
                advice(foreign, format!("; add \"{host}\": \"{ours}\""))
            ),
        ),
    }
}

/// containers/image: the first file, in search order, with a `credHelpers` or `auths` entry for
/// the host decides; `credsStore` is ignored.
pub fn containers_route(files: &[ClientFile], host: &str, ours: &str, foreign: Foreign) -> Route {
    let mut notes = Vec::new();
    for file in files {
        let path = file.path.display();
        let auth = match &file.state {
            FileState::Missing => continue,
            FileState::Invalid(why) => {
                return Route {
                    client: "podman/skopeo",
                    ours: false,
                    summary: format!("{path} is {why}; podman and skopeo fail on it"),
                    notes,
                };
            }
            FileState::Parsed(auth) => auth,
        };
        notes.extend(near_misses(auth, host));
        if foreign.is_none()
            && auth.creds_store.as_deref() == Some(ours)
            && !auth.cred_helpers.contains_key(host)
        {
            notes.push(format!(
                "{path}: credsStore is ignored by podman and skopeo; they need credHelpers[\"{host}\"]"
            ));
        }
        let Some((is_ours, summary)) = containers_entry(auth, &file.path, host, ours, foreign)
        else {
            continue;
        };
        return Route {
            client: "podman/skopeo",
            ours: is_ours,
            summary,
            notes,
        };
    }
    let searched: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    Route {
        client: "podman/skopeo",
        ours: false,
        summary: format!("no credHelpers entry for {host} in {}", searched.join(", ")),
        notes,
    }
}

/// Whether one containers file sends `host` here, and the line that says why; `None` when the
/// file has no entry for the host, so that the search goes on to the next file.
fn containers_entry(
    auth: &AuthFile,
    path: &Path,
    host: &str,
    ours: &str,
    foreign: Foreign,
) -> Option<(bool, String)> {
    if let Some(line) = cred_helper_line(auth, path, host, ours, foreign) {
        return Some(line);
    }
    if !has_auth(auth, host) {
        return None;
    }
    let path = path.display();
    let line = match foreign {
        Some(_) => format!("{path}: a stored password for {host} is used"),
        None => format!(
            "{path}: a stored password for {host} is used (ECR passwords expire after 12 hours); add credHelpers[\"{host}\"] = \"{ours}\""
        ),
    };
    Some((false, line))
}

/// The line a `credHelpers` entry for `host` decides, the same in docker's and containers'
/// files; `None` without one.
fn cred_helper_line(
    auth: &AuthFile,
    path: &Path,
    host: &str,
    ours: &str,
    foreign: Foreign,
) -> Option<(bool, String)> {
    let path = path.display();
    let helper = auth.cred_helpers.get(host)?;
    Some(if helper == ours {
        let line = format!(
            "{path}: credHelpers[\"{host}\"] = \"{ours}\"{}",
            but(foreign)
        );
        (true, line)
    } else {
        let line = format!(
            "{path}: credHelpers sends {host} to docker-credential-{helper}, not this helper"
        );
        (false, line)
    })
}

/// `auths` keys may carry a scheme or a path (`https://host/v1/`); both clients match those.
fn has_auth(auth: &AuthFile, host: &str) -> bool {
    auth.auths
        .iter()
        .any(|k| crate::registry::normalize_host(k).as_deref() == Some(host))
}

/// `credHelpers` keys that mean this host to a person but not to a client, which matches keys
/// exactly (`https://host`, `host:443`, `HOST`).
fn near_misses(auth: &AuthFile, host: &str) -> Vec<String> {
    auth.cred_helpers
        .keys()
        .filter(|k| {
            k.as_str() != host && crate::registry::normalize_host(k).as_deref() == Some(host)
        })
        .map(|k| {
            format!(
                "credHelpers key {k:?} is never used: clients match keys exactly; write {host:?}"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

    fn file(path: &str, json: &str) -> ClientFile {
        ClientFile {
            path: path.into(),
            state: parse(json.as_bytes()),
        }
    }

    fn missing(path: &str) -> ClientFile {
        ClientFile {
            path: path.into(),
            state: FileState::Missing,
        }
    }

    #[test]
    fn docker_uses_cred_helpers_then_creds_store() {
        let r = docker_route(
            &file(
                "/d.json",
                &format!(r#"{{"credHelpers":{{"{HOST}":"ecr"}},"credsStore":"desktop"}}"#),
            ),
            HOST,
            "ecr",
            None,
        );
        assert!(r.ours, "{r:?}");
        let r = docker_route(
            &file("/d.json", r#"{"credsStore":"ecr"}"#),
            HOST,
            "ecr",
            None,
        );
        assert!(r.ours);
        assert!(r.summary.contains("every registry"));
        let r = docker_route(
            &file("/d.json", r#"{"credsStore":"desktop"}"#),
            HOST,
            "ecr",
            None,
        );
        assert!(!r.ours);
        assert!(r.summary.contains("docker-credential-desktop"));
        let r = docker_route(
            &file(
                "/d.json",
                &format!(r#"{{"credHelpers":{{"{HOST}":"ecr-login"}}}}"#),
            ),
            HOST,
            "ecr",
            None,
        );
        assert!(!r.ours);
        assert!(r.summary.contains("docker-credential-ecr-login"));
        let r = docker_route(&missing("/d.json"), HOST, "ecr", None);
        assert!(!r.ours && r.summary.contains("does not exist"));
    }

    #[test]
    fn near_miss_keys_and_stored_passwords_are_explained() {
        let json = format!(
            r#"{{"credHelpers":{{"https://{HOST}":"ecr"}},"auths":{{"https://{HOST}/v1/":{{"auth":"QVdTOnNlY3JldA=="}}}}}}"#
        );
        let r = docker_route(&file("/d.json", &json), HOST, "ecr", None);
        assert!(!r.ours);
        assert!(r.summary.contains("docker login"), "{r:?}");
        assert_eq!(r.notes.len(), 1);
        assert!(r.notes[0].contains("never used"));
        assert!(
            !format!("{r:?}").contains("QVdT"),
            "a stored password leaked"
        );
    }

    #[test]
    fn containers_take_the_first_file_with_an_entry_and_ignore_creds_store() {
        let files = [
            missing("/run/auth.json"),
            file("/xdg/auth.json", r#"{"auths":{}}"#),
            file(
                "/d.json",
                &format!(r#"{{"credHelpers":{{"{HOST}":"ecr"}}}}"#),
            ),
        ];
        let r = containers_route(&files, HOST, "ecr", None);
        assert!(r.ours, "{r:?}");
        assert!(r.summary.starts_with("/d.json"));
        let files = [
            file(
                "/run/auth.json",
                &format!(r#"{{"auths":{{"{HOST}":{{"auth":"x"}}}}}}"#),
            ),
            file(
                "/d.json",
                &format!(r#"{{"credHelpers":{{"{HOST}":"ecr"}}}}"#),
            ),
        ];
        let r = containers_route(&files, HOST, "ecr", None);
        assert!(!r.ours);
        assert!(r.summary.contains("stored password"));
        let r = containers_route(
            &[file("/d.json", r#"{"credsStore":"ecr"}"#)],
            HOST,
            "ecr",
            None,
        );
        assert!(!r.ours);
        assert!(r.notes[0].contains("credsStore is ignored"));
        let r = containers_route(&[file("/a.json", "{not json")], HOST, "ecr", None);
        assert!(!r.ours && r.summary.contains("not valid JSON (line 1, column 2)"));
    }

    /// A host the helper does not serve gets facts, never advice to route it here.
    #[test]
    fn foreign_hosts_get_no_advice_and_a_warning_when_routed_here() {
        let does = Some("answers \"not found\" for it");
        let r = docker_route(&missing("/d.json"), "ghcr.io", "ecr", does);
        assert_eq!(r.summary, "/d.json does not exist");
        let r = docker_route(&file("/d.json", "{}"), "ghcr.io", "ecr", does);
        assert_eq!(r.summary, "/d.json: no credHelpers entry for ghcr.io");
        let r = docker_route(
            &file("/d.json", r#"{"credHelpers":{"ghcr.io":"ecr"}}"#),
            "ghcr.io",
            "ecr",
            does,
        );
        assert!(r.ours);
        assert!(
            r.summary
                .ends_with(", but the helper answers \"not found\" for it")
        );
        let r = containers_route(
            &[file("/d.json", r#"{"credsStore":"ecr"}"#)],
            "ghcr.io",
            "ecr",
            does,
        );
        assert!(r.notes.is_empty() && !r.summary.contains("add"), "{r:?}");
    }

    #[test]
    fn routed_hosts_lists_our_exact_keys_once() {
        let docker = file(
            "/d.json",
            &format!(
                r#"{{"credHelpers":{{"{HOST}":"ecr","public.ecr.aws":"ecr","gcr.io":"gcloud"}}}}"#
            ),
        );
        let files = ClientFiles {
            containers: vec![
                file(
                    "/a.json",
                    r#"{"credHelpers":{"registry.example.com":"ecr"}}"#,
                ),
                docker.clone(),
            ],
            docker,
        };
        assert_eq!(
            files.routed_hosts("ecr"),
            [HOST, "public.ecr.aws", "registry.example.com"]
        );
    }
}
