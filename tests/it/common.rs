//! Shared harness for the integration tests: the ECR API emulator
//! (`tests/support/ecr_emulator.py`, moto behind a small middleware) and a sandbox that runs the
//! helper binary with a clean environment, a private HOME and its own access key id.
//!
//! All tests share one emulator and tell their calls apart by access key id: every `Sandbox`
//! signs with a fresh AKID, and the emulator counts calls and injects faults per AKID.

use std::collections::hash_map::RandomState;
use std::ffi::{OsStr, OsString};
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::process::{self, Leftovers, Ran};
pub use crate::require::*;

/// Every command the help lists, protocol verbs first, as `--help` orders them.
pub const COMMANDS: [&str; 8] = [
    "get",
    "store",
    "erase",
    "list",
    "version",
    "configure",
    "doctor",
    "kubelet",
];

/// The helper binary under test: the front clients run.
pub const BIN: &str = env!("CARGO_BIN_EXE_docker-credential-ecr");
/// The engine beside it, which the front hands everything but a cache hit to.
pub const ENGINE: &str = env!("CARGO_BIN_EXE_docker-credential-ecr-engine");
pub const EMULATOR_SCRIPT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/ecr_emulator.py");

// The helper's environment conventions, in one place.
/// Cache root; the helper keeps its own files in `CACHE_SUBDIR` beneath it.
pub const ENV_CACHE_DIR: &str = "AWS_ECR_CACHE_DIR";
pub const CACHE_SUBDIR: &str = "docker-credential-ecr";
/// `1` turns the token cache off.
pub const ENV_DISABLE_CACHE: &str = "AWS_ECR_DISABLE_CACHE";
/// Path of the helper's config file.
pub const ENV_CONFIG: &str = "DOCKER_CREDENTIAL_ECR_CONFIG";
/// `debug` makes the helper log to stderr.
pub const ENV_LOG: &str = "DOCKER_CREDENTIAL_ECR_LOG";
/// Seconds a `get` may take in all (default 10).
pub const ENV_TIMEOUT: &str = "DOCKER_CREDENTIAL_ECR_TIMEOUT";

/// Secret key every sandbox signs with; moto checks no signatures.
pub const TEST_SECRET_KEY: &str = "testsecretkeytestsecretkeytestsecret0000";
/// The account moto answers for unless told otherwise (`Emulator::set_account`).
pub const MOTO_ACCOUNT: &str = "123456789012";
/// Password inside the emulator's ECR Public token (`AWS:public-auth-token`).
pub const PUBLIC_PASSWORD: &str = "public-auth-token";
/// Token lifetime the emulator gives by default, like real ECR: 12 hours.
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 43_200;
/// How long a helper run may take before the harness kills it and fails the test.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// Password inside a private token for `account` (moto: `AWS:<account>-auth-token`).
pub fn private_password(account: &str) -> String {
    format!("{account}-auth-token")
}

/// A private registry host, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com`.
pub fn private_host(account: &str, region: &str) -> String {
    format!("{account}.dkr.ecr.{region}.amazonaws.com")
}

/// A fresh access key id: `AKIDTEST` + 12 random uppercase alphanumerics (20 characters).
pub fn unique_akid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    let mut x = hasher.finish();
    let mut akid = String::from("AKIDTEST");
    for _ in 0..12 {
        akid.push(ALPHABET[(x % 36) as usize] as char);
        x /= 36;
    }
    akid
}

/// Makes a FIFO (mode 0600) at `path`: nobody writes to it, so opening it for reading blocks,
/// as a hung file would.
pub fn mkfifo(path: &Path) -> std::ffi::CString {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "mkfifo {}",
        path.display()
    );
    c
}

/// Makes a FIFO at `path`, its modification time `age` in the past.
pub fn mkfifo_aged(path: &Path, age: Duration) {
    let c = mkfifo(path);
    let then = now_secs() as i64 - age.as_secs() as i64;
    let times = [libc::timespec {
        tv_sec: then,
        tv_nsec: 0,
    }; 2];
    // SAFETY: as above; `times` holds two timespecs, as utimensat requires.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) };
    assert_eq!(rc, 0, "utimensat {}", path.display());
}

/// Puts `script` at `path` as a program (mode 0755). A child writes it, never this process: a
/// test thread that forks while this process holds a file open for writing hands the descriptor
/// to its child until that child's exec, and meanwhile the kernel refuses to run the file ("Text
/// file busy", ETXTBSY). Every program a test writes and then runs is written here.
pub fn write_program(path: &Path, script: &str) {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"cat > "$1" && chmod 0755 "$1""#, "sh"])
        .arg(path);
    let out = run_cmd(cmd, script);
    assert!(
        out.status.success(),
        "writing {}: {}",
        path.display(),
        describe(&out)
    );
}

/// Copies the program `from` to `to` (mode 0755), by a child as `write_program` explains.
pub fn copy_program(from: impl AsRef<Path>, to: &Path) {
    let from = from.as_ref();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"cp -- "$1" "$2" && chmod 0755 "$2""#, "sh"])
        .arg(from)
        .arg(to);
    let out = run_cmd(cmd, "");
    assert!(
        out.status.success(),
        "copying {}: {}",
        from.display(),
        describe(&out)
    );
}

pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// How to reach an emulator: what a `Sandbox` needs, without owning the process.
#[derive(Clone, Debug)]
pub struct EmulatorAddr {
    /// `http://127.0.0.1:PORT` or `https://...` (TLS instances).
    pub endpoint: String,
    /// Port of the ECR API (TLS on TLS instances).
    pub port: u16,
    /// Plain-HTTP port for the control API (= `port` unless TLS).
    pub control_port: u16,
    /// CA the helper must trust (`SSL_CERT_FILE`) for a TLS instance.
    pub tls_cert: Option<PathBuf>,
}

/// Counters the emulator keeps for one access key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calls {
    pub ecr: u32,
    pub ecr_public: u32,
    /// Signing region of each call, in order.
    pub regions: Vec<String>,
}

impl EmulatorAddr {
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A control-API call; panics on transport errors and non-200 answers.
    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let resp = http_request(
            self.control_port,
            method,
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("emulator control {method} {path}: {e}"));
        assert_eq!(
            resp.status,
            200,
            "emulator control {method} {path}: {}",
            resp.text()
        );
        resp.json()
    }

    /// GetAuthorizationToken calls signed with `akid`: `(ecr, ecr_public)`.
    pub fn calls(&self, akid: &str) -> (u32, u32) {
        let c = self.calls_detail(akid);
        (c.ecr, c.ecr_public)
    }

    pub fn calls_detail(&self, akid: &str) -> Calls {
        let v = self.control("GET", &format!("/_emulator/calls?akid={akid}"), None);
        Calls {
            ecr: v["ecr"].as_u64().unwrap() as u32,
            ecr_public: v["ecr-public"].as_u64().unwrap() as u32,
            regions: v["regions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect(),
        }
    }

    /// STS calls (AssumeRole and the like) signed with `akid`: which keys assumed a role.
    pub fn sts_calls(&self, akid: &str) -> u32 {
        let v = self.control("GET", &format!("/_emulator/sts?akid={akid}"), None);
        v["sts"].as_u64().unwrap() as u32
    }

    /// Inject a fault into GetAuthorizationToken calls (ECR and ECR Public) signed with `akid`:
    /// the next `times` calls, or every call when `None`. `delay_ms` delays the answer (the
    /// whole point of `slow`; it also delays any other fault). Names: see the emulator's
    /// `ERROR_FAULTS` / `BODY_FAULTS` (`access-denied`, `throttle`, `hang`, `bad-base64`, ...).
    pub fn fault(&self, akid: &str, name: &str, times: Option<u32>, delay_ms: Option<u64>) {
        self.control(
            "POST",
            "/_emulator/faults",
            Some(json!({"akid": akid, "fault": name, "times": times, "delay_ms": delay_ms})),
        );
    }

    pub fn clear_fault(&self, akid: &str) {
        self.control(
            "POST",
            "/_emulator/faults",
            Some(json!({"akid": akid, "fault": null})),
        );
    }

    /// Tokens issued to `akid` expire `secs` seconds after issue.
    pub fn set_ttl(&self, akid: &str, secs: u64) {
        self.control(
            "POST",
            "/_emulator/ttl",
            Some(json!({"akid": akid, "ttl": secs})),
        );
    }

    /// The server's clock for calls signed with `akid` is `secs` ahead of the real one
    /// (negative: behind): its `Date` header and the tokens' `expiresAt` both move.
    pub fn set_skew(&self, akid: &str, secs: i64) {
        self.control(
            "POST",
            "/_emulator/skew",
            Some(json!({"akid": akid, "skew": secs})),
        );
    }

    /// Calls signed with `akid` get tokens for `account` instead of moto's default.
    pub fn set_account(&self, akid: &str, account: &str) {
        self.control(
            "POST",
            "/_emulator/account",
            Some(json!({"akid": akid, "account": account})),
        );
    }

    /// Clear every counter, fault and override (all AKIDs: avoid on the shared instance).
    pub fn reset(&self) {
        self.control("POST", "/_emulator/reset", Some(json!({})));
    }

    /// A raw GetAuthorizationToken request with a SigV4-shaped (unsigned) Authorization header,
    /// for testing the emulator itself. Plain-HTTP instances only.
    pub fn token_request(&self, akid: &str, region: &str, public: bool) -> HttpResponse {
        assert!(
            self.tls_cert.is_none(),
            "token_request speaks plain HTTP only"
        );
        let (service, target) = if public {
            ("ecr-public", "SpencerFrontendService.GetAuthorizationToken")
        } else {
            (
                "ecr",
                "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
            )
        };
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={akid}/20240101/{region}/{service}/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000"
        );
        let headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", target),
            ("X-Amz-Date", "20240101T000000Z"),
            ("Authorization", auth.as_str()),
        ];
        http_request(self.port, "POST", "/", &headers, b"{}")
            .unwrap_or_else(|e| panic!("token request: {e}"))
    }
}

/// A running emulator process.
pub struct Emulator {
    addr: EmulatorAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Emulator {
    /// The emulator shared by every test, started on first use. It cannot
    /// be dropped (it lives in a static), so it is started with `--parent-pid` and exits by
    /// itself within 0.5 s of the test process.
    pub fn shared() -> &'static Emulator {
        static SHARED: OnceLock<Emulator> = OnceLock::new();
        SHARED.get_or_init(|| Emulator::start_with(&[]))
    }

    /// A private instance with extra emulator arguments (e.g. `--tls-cert`, `--tls-key`,
    /// `--token-ttl`); killed when dropped.
    pub fn start_with(args: &[&str]) -> Emulator {
        let dir = tempfile::tempdir().expect("temp dir for emulator");
        let port_file = dir.path().join("port");
        let plain_port_file = dir.path().join("plain-port");
        let log = dir.path().join("emulator.log");
        let log_file = std::fs::File::create(&log).expect("emulator log");
        let tls_cert = args
            .iter()
            .position(|a| *a == "--tls-cert")
            .map(|i| PathBuf::from(args[i + 1]));

        let python = std::env::var_os("ECR_EMULATOR_PYTHON").unwrap_or_else(|| "python3".into());
        let mut cmd = Command::new(&python);
        cmd.arg(EMULATOR_SCRIPT)
            .args(["--port", "0", "--port-file"])
            .arg(&port_file)
            .args(["--parent-pid", &std::process::id().to_string()]);
        if tls_cert.is_some() {
            // The control API must stay reachable with a plain TcpStream.
            cmd.arg("--plain-port-file").arg(&plain_port_file);
        }
        cmd.args(args)
            // Would override per-AKID accounts and make the default account unpredictable.
            .env_remove("MOTO_ACCOUNT_ID")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("emulator log"))
            .stderr(log_file);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the ECR emulator with {python:?} (is python3 with moto[server] installed?): {e}"));

        let deadline = Instant::now() + READY_TIMEOUT;
        let port = loop {
            if let Some(port) = read_port(&port_file) {
                break port;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "ECR emulator exited ({status}) before it was ready; its log:\n{}",
                    read_log(&log)
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "ECR emulator not ready after {READY_TIMEOUT:?}; its log:\n{}",
                    read_log(&log)
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        let control_port = if tls_cert.is_some() {
            read_port(&plain_port_file).expect("plain port file is written before the port file")
        } else {
            port
        };
        let scheme = if tls_cert.is_some() { "https" } else { "http" };
        let addr = EmulatorAddr {
            endpoint: format!("{scheme}://127.0.0.1:{port}"),
            port,
            control_port,
            tls_cert,
        };
        addr.reset();
        Emulator {
            addr,
            child,
            _dir: dir,
        }
    }

    pub fn addr(&self) -> &EmulatorAddr {
        &self.addr
    }
}

impl std::ops::Deref for Emulator {
    type Target = EmulatorAddr;
    fn deref(&self) -> &EmulatorAddr {
        &self.addr
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_port(path: &Path) -> Option<u16> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

/// A private HOME, cache directory and access key id for running the helper.
pub struct Sandbox {
    dir: tempfile::TempDir,
    pub akid: String,
    pub emulator: EmulatorAddr,
    extra_env: Vec<(OsString, Option<OsString>)>,
}

impl Sandbox {
    /// A sandbox that talks to the shared emulator.
    pub fn new() -> Sandbox {
        Sandbox::with_emulator(Emulator::shared())
    }

    pub fn with_emulator(emulator: &EmulatorAddr) -> Sandbox {
        let dir = tempfile::tempdir().expect("sandbox temp dir");
        for sub in ["home", "cache", "xdg-config", "xdg-cache"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("sandbox dirs");
        }
        Sandbox {
            dir,
            akid: unique_akid(),
            emulator: emulator.clone(),
            extra_env: Vec::new(),
        }
    }

    /// Makes profile `slow` the only credential source: a `credential_process` script that
    /// runs `prelude` (shell lines) and then prints the sandbox's keys.
    pub fn use_credential_process(&mut self, prelude: &str) -> &mut Sandbox {
        let script = self.root().join("creds.sh");
        write_program(
            &script,
            &format!(
                "#!/bin/sh\n{prelude}\necho '{{\"Version\":1,\"AccessKeyId\":\"{}\",\"SecretAccessKey\":\"{}\"}}'\n",
                self.akid, TEST_SECRET_KEY
            ),
        );
        let aws_config = self.root().join("aws-config");
        std::fs::write(
            &aws_config,
            format!(
                "[profile slow]\ncredential_process = {}\n",
                script.display()
            ),
        )
        .expect("AWS config");
        self.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_PROFILE", "slow")
            .env("AWS_CONFIG_FILE", &aws_config)
    }

    /// The sandbox's temp root (HOME and the cache are below it).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The value of `AWS_ECR_CACHE_DIR`.
    pub fn cache_root(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// Where the helper keeps its cache files (`$AWS_ECR_CACHE_DIR/docker-credential-ecr`).
    pub fn helper_cache_dir(&self) -> PathBuf {
        self.cache_root().join(CACHE_SUBDIR)
    }

    pub fn xdg_config_home(&self) -> PathBuf {
        self.dir.path().join("xdg-config")
    }

    pub fn xdg_cache_home(&self) -> PathBuf {
        self.dir.path().join("xdg-cache")
    }

    /// Set a variable for every later `cmd`/`run`/`get` (overrides the defaults).
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.extra_env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Unset one of the default variables for every later run.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.extra_env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Write the helper's config file (`file_name` under the sandbox root) and point
    /// `DOCKER_CREDENTIAL_ECR_CONFIG` at it.
    pub fn config(&mut self, file_name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(file_name);
        std::fs::write(&path, contents).expect("write config");
        self.env(ENV_CONFIG, &path);
        path
    }

    pub fn debug_log(&mut self) -> &mut Self {
        self.env(ENV_LOG, "debug")
    }

    pub fn disable_cache(&mut self) -> &mut Self {
        self.env(ENV_DISABLE_CACHE, "1")
    }

    /// The helper with a clean environment: nothing from the test process leaks in except PATH
    /// (and coverage/backtrace settings).
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(BIN);
        cmd.args(args);
        cmd
    }

    /// Any program (a client, a script) with exactly the environment the helper gets in this
    /// sandbox, so that a helper it runs talks to the same emulator with the same identity.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear();
        for key in ["PATH", "LLVM_PROFILE_FILE", "RUST_BACKTRACE"] {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        cmd.env("HOME", self.home())
            .env("AWS_ACCESS_KEY_ID", &self.akid)
            .env("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL_ECR", self.emulator.endpoint())
            .env("AWS_ENDPOINT_URL_ECR_PUBLIC", self.emulator.endpoint())
            .env(ENV_CACHE_DIR, self.cache_root())
            .env("XDG_CONFIG_HOME", self.xdg_config_home())
            .env("XDG_CACHE_HOME", self.xdg_cache_home());
        if let Some(cert) = &self.emulator.tls_cert {
            cmd.env("SSL_CERT_FILE", cert);
        }
        for (key, value) in &self.extra_env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        cmd
    }

    /// Run the helper with `args`, feeding `stdin`; killed (and the test failed) after
    /// `RUN_TIMEOUT`.
    pub fn run<I, S>(&self, args: I, stdin: &str) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_cmd(self.cmd(args), stdin)
    }

    /// `docker-credential-ecr get` with `stdin` as the server URL.
    pub fn get(&self, stdin: &str) -> Output {
        self.run(["get"], stdin)
    }

    /// `get` started with every stdio piped and nothing written yet, so that callers can
    /// release a herd of them at once.
    pub fn spawn_get(&self) -> Child {
        self.cmd(["get"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn helper")
    }

    /// `get` that must succeed; returns the parsed `{ServerURL, Username, Secret}` answer.
    pub fn get_ok(&self, stdin: &str) -> Value {
        let out = self.get(stdin);
        assert!(
            out.status.success(),
            "get {stdin:?} failed: {}",
            describe(&out)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("get {stdin:?}: bad JSON ({e}): {}", describe(&out)))
    }

    /// This sandbox's GetAuthorizationToken calls: `(ecr, ecr_public)`.
    pub fn calls(&self) -> (u32, u32) {
        self.emulator.calls(&self.akid)
    }

    pub fn fault(&self, name: &str, times: Option<u32>, delay_ms: Option<u64>) {
        self.emulator.fault(&self.akid, name, times, delay_ms)
    }

    pub fn set_ttl(&self, secs: u64) {
        self.emulator.set_ttl(&self.akid, secs)
    }

    pub fn set_skew(&self, secs: i64) {
        self.emulator.set_skew(&self.akid, secs)
    }

    /// Makes time pass for the cache: every entry becomes `by` older, as an entry written that
    /// long ago would be (its token's `fetched_at` and its failure's `at` move back; the helper
    /// counts a token's life on the local clock from `fetched_at`). The file keeps its mode.
    pub fn age_cache(&self, by: Duration) {
        let by = by.as_millis() as u64;
        let mut aged = 0;
        for item in std::fs::read_dir(self.helper_cache_dir()).expect("cache directory") {
            let path = item.expect("cache listing").path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let mut entry: Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).expect("cache entry JSON");
            for (object, field) in [("token", "fetched_at"), ("failure", "at")] {
                // `get_mut`, not indexing: indexing a missing object would create it.
                let stamp = entry.get_mut(object).and_then(|o| o.get_mut(field));
                if let Some(stamp) = stamp {
                    let ms = stamp.as_u64().expect("a timestamp");
                    *stamp = json!(ms - by);
                }
            }
            std::fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();
            aged += 1;
        }
        assert!(aged > 0, "no cache entry to age");
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

/// `script` run by `sh` in a private mount namespace whose `/proc` is an empty tmpfs, with
/// `$1` the front's path and `$2` its directory.
pub fn without_proc(sb: &Sandbox, script: &str) -> std::process::Command {
    let mut cmd = sb.command("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs none /proc && test ! -e /proc/self && {script}"
        ))
        .arg("sh")
        .arg(BIN)
        .arg(Path::new(BIN).parent().unwrap());
    cmd
}

/// Exit status, stdout and stderr of a run, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run `cmd` with `stdin`; panic with a clear message if it takes longer than `RUN_TIMEOUT`.
pub fn run_cmd(cmd: Command, stdin: &str) -> Output {
    let what = format!("{cmd:?}");
    run_with_timeout(cmd, stdin.as_bytes(), RUN_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\ncommand: {what}"))
}

/// Run `cmd` (see `process::run`), writing `stdin`; on timeout kill it and return an error
/// carrying whatever it printed. What the helper leaves running is left for the test to see.
pub fn run_with_timeout(cmd: Command, stdin: &[u8], timeout: Duration) -> Result<Output, String> {
    process::run(cmd, Some(stdin), timeout, Leftovers::Keep).map(Ran::into_output)
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Minimal HTTP/1.1 client for 127.0.0.1 (the emulator always answers `Connection: close`).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<HttpResponse, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
    stream
        .set_read_timeout(Some(CONTROL_TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(CONTROL_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("receive: {e}"))?;

    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body)?;
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk")?;
        let size_field = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_field.split(';').next().unwrap().trim(), 16)
            .map_err(|e| e.to_string())?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(eol + 2..eol + 2 + size).ok_or("short chunk")?;
        out.extend_from_slice(chunk);
        data = data.get(eol + 4 + size..).ok_or("short chunk")?;
    }
}

/// A run's stdout, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A run's stderr, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The files in a sandbox's helper cache directory whose names end in `ext` (none if it does
/// not exist yet).
pub fn cache_files(sb: &Sandbox, ext: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(sb.helper_cache_dir())
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(ext))
                .collect()
        })
        .unwrap_or_default()
}

/// The first line of an HTTP request and its headers (names lower-cased).
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP answer: status, extra headers, body.
pub type Reply = (u16, Vec<(String, String)>, String);

/// A plain-HTTP server on 127.0.0.1 that answers every request with `handler` and closes the
/// connection; it lives as long as the test process. Returns its port.
pub fn serve(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    let handler = std::sync::Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = handler.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                // The SDK's providers send no body: the head is the whole request.
                while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    match std::io::Read::read(&mut stream, &mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&raw).into_owned();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap_or("").split_whitespace();
                let request = Request {
                    method: first.next().unwrap_or("").to_string(),
                    path: first.next().unwrap_or("").to_string(),
                    headers: lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect(),
                };
                let (status, headers, body) = handler(&request);
                let mut reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    reply.push_str(&format!("{k}: {v}\r\n"));
                }
                reply.push_str("\r\n");
                reply.push_str(&body);
                let _ = std::io::Write::write_all(&mut stream, reply.as_bytes());
            });
        }
    });
    port
}

/// A 200 answer with a JSON body.
pub fn json_reply(body: String) -> Reply {
    (
        200,
        vec![("Content-Type".into(), "application/json".into())],
        body,
    )
}
