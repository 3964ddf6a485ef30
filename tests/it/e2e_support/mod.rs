//! The real-client rig (`tests/e2e/rig.sh`) driven from Rust: one rig per test, torn down in
//! `Drop` (also on panic), every script and client call under a timeout that kills its whole
//! process group.
//!
//! A rig is three Debian `docker-registry` instances (htpasswd auth on plain HTTP as
//! `127.0.0.1:PORT`; htpasswd auth with TLS for the ECR-shaped name behind a CONNECT proxy; no
//! auth with TLS as `public.ecr.aws` behind the same proxy), optionally a real dockerd
//! (`Rig::up_for` with docker flows; root), and a logging shim `docker-credential-ecr` that runs
//! the real helper binary and records every call. A flow is one client command (`skopeo-pull`,
//! `podman-pull`, `buildah-push`, `docker-login`, ...); its environment is exactly the sandbox's,
//! so the helper the clients run talks to the sandbox's emulator with the sandbox's identity and
//! cache. `netns::CutOff` is a cut-off laptop (a network namespace where every packet is
//! swallowed) for the helper or a whole flow (`RIG_NETNS`).

pub mod netns;

use crate::common::{BIN, MOTO_ACCOUNT, Sandbox};
use crate::process::{self, Leftovers, Ran};
use crate::require::{have, have_or, is_root};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub const RIG_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/rig.sh");
/// The docker CLI the rig was proven with (28.x); `/usr/bin/docker` (20.10) behaves differently.
pub const DEFAULT_DOCKER: &str = "/usr/local/bin/docker";
/// The docker daemon the rig starts (Debian `docker.io`), as root, with `tests/support/dockerd.sh`.
pub const DOCKERD: &str = "/usr/sbin/dockerd";
/// ECR Public's registry name, under which the rig serves a registry without auth.
pub const PUBLIC_HOST: &str = "public.ecr.aws";
/// Region the config-file alias maps the plain registry to.
pub const ALIAS_REGION: &str = "us-east-1";
/// The protocol's "no credentials" answer (the helper prints it with a newline).
pub const NOT_FOUND: &str = "credentials not found in native keychain";

const UP_TIMEOUT: Duration = Duration::from_secs(60);
const FLOW_TIMEOUT: Duration = Duration::from_secs(60);
const DOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a flow reaches the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The plain-HTTP registry as `127.0.0.1:PORT` (clients use `--tls-verify=false`).
    Local,
    /// The TLS registry as `123456789012.dkr.ecr.us-east-1.amazonaws.com`, through the
    /// CONNECT proxy (`HTTPS_PROXY` and `HTTP_PROXY` set: no name is ever resolved by DNS),
    /// trusting the rig's CA.
    Ecr,
    /// The registry without auth as `public.ecr.aws`, through the proxy like `Ecr`.
    Public,
    /// The registry without auth as `127.0.0.1:PORT` (TLS, not verified): not ECR, open to all.
    Open,
}

impl Target {
    fn arg(self) -> &'static str {
        match self {
            Target::Local => "local",
            Target::Ecr => "ecr",
            Target::Public => "public",
            Target::Open => "open",
        }
    }

    /// The registry's directory in the rig.
    fn registry_dir(self) -> &'static str {
        match self {
            Target::Local => "registry-plain",
            Target::Ecr => "registry-tls",
            Target::Public | Target::Open => "registry-public",
        }
    }
}

/// The docker CLI to use (`RIG_DOCKER` overrides the default).
pub fn docker_cli() -> PathBuf {
    std::env::var_os("RIG_DOCKER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DOCKER))
}

/// Whether the client a flow runs is usable here: `podman-*` and `buildah-*` flows need their
/// tool and root (the rig runs them with private storage, proven as root only), `docker-*`
/// flows root, the real daemon (`DOCKERD`) and the docker CLI 28 (`docker_cli()`), everything
/// else skopeo (which the rig itself needs). Prints a loud `SKIPPED:` line for a flow that
/// cannot run (or panics under `DOCKER_CREDENTIAL_ECR_E2E_REQUIRED=1`).
pub fn can_run(test: &str, flow: &str) -> bool {
    let what = format!("{test}: flow {flow}");
    for tool in ["podman", "buildah"] {
        if flow.starts_with(tool) {
            return is_root(&what, &format!("{tool} in the rig")) && have(&what, &[tool]);
        }
    }
    if flow.starts_with("docker") {
        let docker = docker_cli();
        return is_root(&what, "the real docker daemon")
            && have_or(&what, &[DOCKERD], "Debian package docker.io")
            && have_or(
                &what,
                &[docker.to_str().expect("UTF-8 path")],
                "the docker CLI 28; set RIG_DOCKER to its path if it is elsewhere",
            );
    }
    true
}

/// The flows of `flows` whose client is usable here (see `can_run`).
pub fn runnable<'a>(test: &str, flows: &[&'a str]) -> Vec<&'a str> {
    flows.iter().copied().filter(|f| can_run(test, f)).collect()
}

/// What the rig itself needs (`up` seeds the registries with skopeo).
pub const RIG_PROGRAMS: &[&str] = &[
    "/usr/bin/docker-registry",
    "htpasswd",
    "skopeo",
    "python3",
    "openssl",
    "curl",
];

/// Runs a script in its own process group under `timeout`, and kills what it left in its group
/// when it is done (it should leave nothing; its daemons start their own sessions).
pub fn run_script(cmd: Command, timeout: Duration) -> Result<Ran, String> {
    process::run(cmd, None, timeout, Leftovers::Kill)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn json_lines(path: &Path) -> Vec<Value> {
    read(path)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// One call of the helper, as the logging shim recorded it.
#[derive(Debug, Clone)]
pub struct HelperCall {
    pub action: String,
    pub stdin: String,
    pub exit: i64,
    pub stdout: String,
    /// How long the helper itself ran, in milliseconds.
    pub ms: f64,
}

/// One flow's outcome: the client's exit status and output, and the helper calls it made.
#[derive(Debug)]
pub struct Run {
    pub name: String,
    pub dir: PathBuf,
    pub rc: i32,
    /// The client's stdout and stderr.
    pub out: String,
    pub err: String,
    pub calls: Vec<HelperCall>,
    /// rig.sh's own stderr: the exact command and a summary line.
    pub log: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn describe(&self) -> String {
        format!(
            "flow {} -> rc {} in {:?} (run dir {})\n--- rig log (command, client output) ---\n{}",
            self.name,
            self.rc,
            self.elapsed,
            self.dir.display(),
            self.log
        )
    }

    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.rc, 0, "expected success: {}", self.describe());
        self
    }

    pub fn assert_failed(&self) -> &Self {
        assert_ne!(self.rc, 0, "expected failure: {}", self.describe());
        self
    }

    /// `(action, stdin, exit)` of every helper call, in order.
    pub fn call_summary(&self) -> Vec<(String, String, i64)> {
        self.calls
            .iter()
            .map(|c| (c.action.clone(), c.stdin.clone(), c.exit))
            .collect()
    }
}

/// A running rig in a temp dir; `rig.sh down` on drop.
pub struct Rig {
    dir: tempfile::TempDir,
    pub vars: HashMap<String, String>,
}

impl Rig {
    /// Starts a rig whose shim runs the real helper binary. `None` (after a loud SKIPPED line)
    /// when the rig's own programs are missing.
    pub fn up(test: &str) -> Option<Rig> {
        Rig::start(test, false)
    }

    /// `up`, plus a real docker daemon when `flows` has a docker flow (pass the flows that
    /// `runnable` kept, so a skipped docker flow starts no daemon).
    pub fn up_for(test: &str, flows: &[&str]) -> Option<Rig> {
        Rig::start(test, flows.iter().any(|f| f.starts_with("docker")))
    }

    fn start(test: &str, engine: bool) -> Option<Rig> {
        if !have(test, RIG_PROGRAMS) {
            return None;
        }
        let mut rig = Rig {
            dir: tempfile::Builder::new()
                .prefix("e2e-rig.")
                .tempdir()
                .expect("rig temp dir"),
            vars: HashMap::new(),
        };
        // The rig is constructed before `up` runs, so a failing `up` is still torn down.
        let home = rig.path().join("up-home");
        std::fs::create_dir_all(&home).unwrap();
        let mut cmd = Command::new(RIG_SH);
        cmd.arg("up")
            .arg(rig.rig_dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("RIG_HELPER_BIN", BIN)
            .env("RIG_DOCKER", docker_cli())
            .env("RIG_REAL_DOCKERD", if engine { "1" } else { "0" });
        let ran = run_script(cmd, UP_TIMEOUT).unwrap_or_else(|e| panic!("rig.sh up: {e}"));
        assert!(
            ran.status.success(),
            "rig.sh up failed ({}):\n{}\n{}",
            ran.status,
            ran.stdout_text(),
            ran.stderr_text()
        );
        rig.vars = ran
            .stdout_text()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(
            rig.vars.contains_key("RIG_PLAIN_PORT"),
            "rig.sh up printed no rig.env: {}",
            ran.stdout_text()
        );
        Some(rig)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn rig_dir(&self) -> PathBuf {
        self.dir.path().join("rig")
    }

    pub fn var(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .unwrap_or_else(|| panic!("rig.env has no {name}"))
    }

    /// `127.0.0.1:PORT` of the plain-HTTP registry.
    pub fn local_host(&self) -> String {
        format!("127.0.0.1:{}", self.var("RIG_PLAIN_PORT"))
    }

    /// The ECR-shaped name of the TLS registry behind the proxy.
    pub fn ecr_host(&self) -> String {
        self.var("RIG_ECR_HOST").to_owned()
    }

    pub fn host(&self, target: Target) -> String {
        match target {
            Target::Local => self.local_host(),
            Target::Ecr => self.ecr_host(),
            Target::Public => self.var("RIG_PUBLIC_HOST").to_owned(),
            Target::Open => format!("127.0.0.1:{}", self.var("RIG_PUBLIC_PORT")),
        }
    }

    /// Manifest digest of the seeded `demo/app:1`.
    pub fn image_digest(&self) -> String {
        self.var("RIG_IMAGE_DIGEST").to_owned()
    }

    /// The seeded image's config digest (hex) = the image ID podman prints.
    pub fn image_id(&self) -> String {
        let digest = self.image_digest();
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        let manifest_path = Path::new(self.var("RIG_IMAGE"))
            .join("blobs/sha256")
            .join(hex);
        let manifest: Value = serde_json::from_str(&read(&manifest_path)).expect("manifest");
        manifest["config"]["digest"]
            .as_str()
            .and_then(|d| d.strip_prefix("sha256:"))
            .expect("config digest")
            .to_owned()
    }

    /// Writes a helper config file that makes `127.0.0.1:PORT` an alias of ECR registry
    /// `123456789012` in us-east-1, and points the sandbox at it.
    pub fn alias_local_registry(&self, sb: &mut Sandbox) -> PathBuf {
        let toml = format!(
            "[[registry]]\nmatch = \"{}\"\naccount = \"{MOTO_ACCOUNT}\"\nregion = \"{ALIAS_REGION}\"\n",
            self.local_host()
        );
        sb.config("ecr-alias.toml", &toml)
    }

    /// Runs one flow with exactly the sandbox's environment (plus `extra`).
    pub fn flow_with(
        &self,
        sb: &Sandbox,
        flow: &str,
        target: Target,
        extra: &[(&str, &str)],
    ) -> Run {
        // The sandbox's environment, as it would run the helper (HOME, AWS_*, cache, config).
        let mut cmd = sb.command(RIG_SH);
        cmd.arg("flow")
            .arg(self.rig_dir())
            .arg(flow)
            .arg(target.arg());
        for (key, value) in extra {
            cmd.env(key, value);
        }
        let ran =
            run_script(cmd, FLOW_TIMEOUT).unwrap_or_else(|e| panic!("rig.sh flow {flow}: {e}"));
        let (stdout, stderr) = (ran.stdout_text(), ran.stderr_text());
        let run_dir = stdout
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("RUN_DIR="))
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                panic!(
                    "rig.sh flow {flow} printed no RUN_DIR ({}):\n{}\n{}",
                    ran.status, stdout, stderr
                )
            });
        let rc: i32 = read(&run_dir.join("rc"))
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no rc for {flow}:\n{stderr}"));
        let calls = json_lines(&run_dir.join("helper-calls.jsonl"))
            .into_iter()
            .map(|v| HelperCall {
                action: v["action"].as_str().unwrap_or_default().to_owned(),
                stdin: v["stdin"].as_str().unwrap_or_default().to_owned(),
                exit: v["exit"].as_i64().unwrap_or(-1),
                stdout: v["stdout"].as_str().unwrap_or_default().to_owned(),
                ms: v["ms"].as_f64().unwrap_or(f64::NAN),
            })
            .collect();
        let run = Run {
            name: format!("{flow} ({})", target.arg()),
            rc,
            out: read(&run_dir.join("client.out")),
            err: read(&run_dir.join("client.err")),
            calls,
            log: stderr,
            elapsed: ran.elapsed,
            dir: run_dir,
        };
        // rig.sh's exit status is the client's, except 3 when a pull got an unexpected digest.
        assert_eq!(
            ran.status.code(),
            Some(rc),
            "rig.sh flow status differs from the client's: {}",
            run.describe()
        );
        run
    }

    pub fn flow(&self, sb: &Sandbox, flow: &str, target: Target) -> Run {
        self.flow_with(sb, flow, target, &[])
    }

    /// How many requests the registry behind `target` answered with 401 so far (access log).
    pub fn registry_401s(&self, target: Target) -> usize {
        read(
            &self
                .rig_dir()
                .join(target.registry_dir())
                .join("registry.log"),
        )
        .lines()
        .filter(|l| l.contains("\" 401 "))
        .count()
    }

    /// The CONNECT proxy's log: one JSON object per request.
    pub fn proxy_log(&self) -> Vec<Value> {
        json_lines(&self.rig_dir().join("proxy.log"))
    }

    /// Whether a repository exists in the registry behind `target` (to prove a push landed).
    pub fn has_repository(&self, target: Target, repo: &str) -> bool {
        self.rig_dir()
            .join(target.registry_dir())
            .join("data/docker/registry/v2/repositories")
            .join(repo)
            .is_dir()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let mut cmd = Command::new(RIG_SH);
        cmd.arg("down")
            .arg(self.rig_dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        // Never panic in drop (it may run while a panic unwinds): report instead.
        match run_script(cmd, DOWN_TIMEOUT) {
            Ok(ran) if ran.status.success() => {}
            Ok(ran) => eprintln!("rig.sh down failed ({}): {}", ran.status, ran.stderr_text()),
            Err(e) => eprintln!("rig.sh down: {e}"),
        }
    }
}
