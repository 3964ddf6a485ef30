//! Secrets never leak: every flow we can drive, with logging at its most verbose, and no token
//! password, base64 token, secret access key, session token, or secret sent on stdin appears
//! in stderr, in any error text, or in any file but the cache entries (which hold the password
//! and nothing else secret). The cache file's 0600-in-0700 regardless of umask is
//! `get.rs`'s `cache_is_private_whatever_the_umask`.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

const SESSION_TOKEN: &str = "SessionTokenMarker0123456789abcdefXYZ";
const STORE_SECRET: &str = "StoreSecretMarker-9f8e7d6c";
const URL_PASSWORD: &str = "UrlPasswordMarker-1a2b3c";
const FILE_SECRET_KEY: &str = "FileSecretKeyMarker/0123456789abcdefABCDEF";
const PROCESS_SECRET_KEY: &str = "ProcessSecretKeyMarker/0123456789abcdef";
const CONTAINER_AUTH_TOKEN: &str = "ContainerAuthTokenMarker-5e4d3c2b";
const CONTAINER_SECRET_KEY: &str = "ContainerSecretKeyMarker/0123456789abcdef";

fn host() -> String {
    private_host(MOTO_ACCOUNT, "us-east-1")
}

/// Every secret a run might hold, by name.
fn secrets() -> Vec<(&'static str, String)> {
    let private = private_password(MOTO_ACCOUNT);
    vec![
        ("private password", private.clone()),
        (
            "private base64 token",
            STANDARD.encode(format!("AWS:{private}")),
        ),
        ("public password", PUBLIC_PASSWORD.to_string()),
        (
            "public base64 token",
            STANDARD.encode(format!("AWS:{PUBLIC_PASSWORD}")),
        ),
        ("secret access key", TEST_SECRET_KEY.to_string()),
        ("session token", SESSION_TOKEN.to_string()),
        ("store secret", STORE_SECRET.to_string()),
        ("URL password", URL_PASSWORD.to_string()),
        ("file secret key", FILE_SECRET_KEY.to_string()),
        ("process secret key", PROCESS_SECRET_KEY.to_string()),
        ("container auth token", CONTAINER_AUTH_TOKEN.to_string()),
        ("container secret key", CONTAINER_SECRET_KEY.to_string()),
    ]
}

fn leaks(text: &str) -> Vec<&'static str> {
    secrets()
        .into_iter()
        .filter(|(_, s)| text.contains(s.as_str()))
        .map(|(n, _)| n)
        .collect()
}

/// One run and what it may legitimately print on stdout.
struct Seen {
    what: String,
    out: Output,
    /// A successful `get` (or kubelet answer) prints the password on stdout, by design.
    stdout_may_hold_password: bool,
}

#[derive(Default)]
struct Audit {
    seen: Vec<Seen>,
    trees: Vec<PathBuf>,
}

impl Audit {
    fn run(&mut self, what: &str, sb: &Sandbox, args: &[&str], stdin: &str) -> &Output {
        let out = sb.run(args, stdin);
        let credential = out.status.success()
            && (args == ["get"] || args == ["kubelet"])
            && !out.stdout.is_empty();
        self.seen.push(Seen {
            what: format!("{what}: {args:?} <<< {stdin:.60}"),
            out,
            stdout_may_hold_password: credential,
        });
        &self.seen.last().unwrap().out
    }

    fn tree(&mut self, sb: &Sandbox) {
        self.trees.push(sb.root().to_path_buf());
    }

    fn check(&self) {
        let mut problems = Vec::new();
        for s in &self.seen {
            let stderr = stderr(&s.out);
            for name in leaks(&stderr) {
                problems.push(format!("{}: {name} in stderr", s.what));
            }
            let stdout = stdout(&s.out);
            if s.stdout_may_hold_password {
                // The answer holds the registry password, by design, and nothing else secret.
                for name in leaks(&stdout)
                    .into_iter()
                    .filter(|n| !n.ends_with(" password"))
                {
                    problems.push(format!("{}: {name} in the answer", s.what));
                }
            } else {
                for name in leaks(&stdout) {
                    problems.push(format!("{}: {name} in stdout", s.what));
                }
            }
        }
        for root in &self.trees {
            for file in walk(root) {
                let bytes = std::fs::read(&file).unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes);
                let is_entry = file.parent().is_some_and(|d| d.ends_with(CACHE_SUBDIR))
                    && file.extension().is_some_and(|e| e == "json");
                let found: Vec<&str> = leaks(&text)
                    .into_iter()
                    .filter(|n| !(is_entry && n.ends_with("password")))
                    .collect();
                for name in found {
                    problems.push(format!("{name} in {}", file.display()));
                }
            }
        }
        assert!(problems.is_empty(), "leaks:\n{}", problems.join("\n"));
    }
}

/// A container credentials endpoint on 127.0.0.1 that hands out `akid` with the marker secret
/// key and session token; the `Authorization` header of each request it receives is sent on
/// the channel.
fn container_credentials(akid: &str) -> (String, std::sync::mpsc::Receiver<String>) {
    let body = serde_json::json!({
        "AccessKeyId": akid,
        "SecretAccessKey": CONTAINER_SECRET_KEY,
        "Token": SESSION_TOKEN,
        "Expiration": "2099-01-01T00:00:00Z",
    })
    .to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let port = serve(move |req| {
        let authorization = req.header("authorization").unwrap_or("").to_string();
        let _ = tx.lock().unwrap().send(authorization);
        json_reply(body.clone())
    });
    (format!("http://127.0.0.1:{port}/creds"), rx)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                out.extend(walk(&p));
            } else if meta.is_file() {
                out.push(p);
            }
        }
    }
    out
}

fn verbose(sb: &mut Sandbox) -> &mut Sandbox {
    sb.env(ENV_LOG, "trace")
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
}

#[test]
fn no_flow_leaks_a_secret() {
    let mut audit = Audit::default();
    let outside = tempfile::tempdir().unwrap();

    // Hits and misses, private and public, list, erase, store, odd input.
    let mut sb = Sandbox::new();
    verbose(&mut sb);
    let miss = audit.run("miss", &sb, &["get"], &host()).clone();
    assert!(miss.status.success(), "{}", describe(&miss));
    assert!(
        stderr(&miss).contains("fetching a token"),
        "logging is not on: {}",
        describe(&miss)
    );
    // The scan covers the AWS SDK's own events at their most verbose (request signing, the
    // credential chain, the HTTP client), not only ours.
    let miss_log = stderr(&miss);
    for (level, target) in [
        (" TRACE ", " aws_sigv4::"),
        (" DEBUG ", " aws_config::meta::credentials::chain"),
        (" DEBUG ", " aws_smithy_runtime::client::orchestrator"),
        (" TRACE ", " hyper"),
    ] {
        assert!(
            miss_log
                .lines()
                .any(|l| l.contains(level) && l.contains(target)),
            "no{level}{target} events: {}",
            describe(&miss)
        );
    }
    audit.run("hit", &sb, &["get"], &format!("https://{}/v2/", host()));
    audit.run("public miss", &sb, &["get"], "public.ecr.aws");
    audit.run("public hit", &sb, &["get"], "public.ecr.aws");
    audit.run("list", &sb, &["list"], "unused");
    let login = format!(
        r#"{{"ServerURL":"{}","Username":"AWS","Secret":"{STORE_SECRET}"}}"#,
        host()
    );
    audit.run("store", &sb, &["store"], &login);
    audit.run("store junk", &sb, &["store"], &format!("{{{STORE_SECRET}"));
    audit.run(
        "URL password",
        &sb,
        &["get"],
        &format!("https://AWS:{URL_PASSWORD}@{}", host()),
    );
    audit.run(
        "erase with URL password",
        &sb,
        &["erase"],
        &format!("https://AWS:{URL_PASSWORD}@{}", host()),
    );
    audit.run("erase", &sb, &["erase"], &host());
    audit.run("miss after erase", &sb, &["get"], &host());
    audit.run("version", &sb, &["version"], "");
    audit.run("help", &sb, &["--help"], "");
    audit.run("doctor", &sb, &["doctor", &host()], "");
    let request = serde_json::json!({
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "kind": "CredentialProviderRequest",
        "image": format!("{}/app:1", host()),
    });
    audit.run("kubelet", &sb, &["kubelet"], &request.to_string());
    audit.tree(&sb);

    // Every fault, logged at trace.
    for fault in [
        "access-denied",
        "expired-token",
        "unrecognized-client",
        "throttle",
        "server-error",
        "service-unavailable",
        "malformed-json",
        "bad-base64",
        "no-aws-prefix",
        "expired",
        "no-expiry",
        "empty-data",
        "slow",
    ] {
        let mut sb = Sandbox::new();
        verbose(&mut sb).env("DOCKER_CREDENTIAL_ECR_TIMEOUT", "1");
        let delay = (fault == "slow").then_some(3_000);
        sb.fault(fault, None, delay);
        audit.run(fault, &sb, &["get"], &host());
        audit.run(fault, &sb, &["get"], "public.ecr.aws");
        audit.tree(&sb);
    }

    // A config file with a secret pasted into it: the error names the field, not the value.
    let mut sb = Sandbox::new();
    verbose(&mut sb);
    let config = outside.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[registry]]\nmatch = \"public\"\naws_secret_access_key = \"{FILE_SECRET_KEY}\"\n"
        ),
    )
    .unwrap();
    sb.env(ENV_CONFIG, &config);
    let out = audit.run("bad config", &sb, &["get"], &host()).clone();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    audit.run("bad config", &sb, &["list"], "");
    audit.run("bad config", &sb, &["erase"], &host());
    audit.tree(&sb);

    // Credentials from a shared credentials file, with a session token.
    let mut sb = Sandbox::new();
    let creds = outside.path().join("credentials");
    std::fs::write(
        &creds,
        format!(
            "[ci]\naws_access_key_id = {}\naws_secret_access_key = {FILE_SECRET_KEY}\naws_session_token = {SESSION_TOKEN}\n",
            sb.akid
        ),
    )
    .unwrap();
    sb.env(ENV_LOG, "trace")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_PROFILE", "ci")
        .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
        .env("AWS_CONFIG_FILE", outside.path().join("no-config"));
    let out = audit.run("profile", &sb, &["get"], &host()).clone();
    assert!(out.status.success(), "{}", describe(&out));
    sb.fault("access-denied", None, None);
    audit.run("profile, denied", &sb, &["get"], "public.ecr.aws");
    audit.tree(&sb);

    // Container credentials (ECS, EKS Pod Identity): the SDK sends an authorization token and
    // gets a secret key and a session token back.
    let mut sb = Sandbox::new();
    let (uri, seen) = container_credentials(&sb.akid);
    sb.env(ENV_LOG, "trace")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", CONTAINER_AUTH_TOKEN);
    let out = audit.run("container", &sb, &["get"], &host()).clone();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        seen.recv_timeout(std::time::Duration::from_secs(5))
            .is_ok_and(|request| request.contains(CONTAINER_AUTH_TOKEN)),
        "the SDK did not ask the container endpoint with the token"
    );
    audit.tree(&sb);

    // A credential_process that prints its secret in output the SDK cannot use.
    for (name, body) in [
        (
            "unparsable",
            format!(
                r#"{{"Version":1,"AccessKeyId":"AKIDX","SecretAccessKey":"{PROCESS_SECRET_KEY}""#
            ),
        ),
        (
            "wrong version",
            format!(
                r#"{{"Version":2,"AccessKeyId":"AKIDX","SecretAccessKey":"{PROCESS_SECRET_KEY}"}}"#
            ),
        ),
        (
            "no key id",
            format!(r#"{{"Version":1,"SecretAccessKey":"{PROCESS_SECRET_KEY}"}}"#),
        ),
    ] {
        let mut sb = Sandbox::new();
        let script = outside
            .path()
            .join(format!("creds-{}.sh", name.replace(' ', "-")));
        write_program(
            &script,
            &format!("#!/bin/sh\necho '{body}'\necho 'stderr {PROCESS_SECRET_KEY}' >&2\n"),
        );
        let aws_config = outside
            .path()
            .join(format!("config-{}", name.replace(' ', "-")));
        std::fs::write(
            &aws_config,
            format!("[profile p]\ncredential_process = {}\n", script.display()),
        )
        .unwrap();
        sb.env(ENV_LOG, "trace")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_PROFILE", "p")
            .env("AWS_CONFIG_FILE", &aws_config)
            .env("DOCKER_CREDENTIAL_ECR_TIMEOUT", "3");
        let out = audit
            .run(
                &format!("credential_process {name}"),
                &sb,
                &["get"],
                &host(),
            )
            .clone();
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        audit.tree(&sb);
    }

    audit.check();
}

/// Logging on and stderr a pipe nobody reads any more: the log lines are lost, the answer is
/// not. (This was the one panic reachable from outside: `eprintln!` panicked on EPIPE, the panic
/// hook's own `eprintln!` panicked again, and the process aborted without answering.)
///
/// No other panic is known to be reachable (this suite, the fuzz targets); the panic hook in
/// `startup.rs` prints the location only, never the payload.
#[test]
fn logging_into_a_closed_pipe_does_not_leak_or_corrupt() {
    let mut sb = Sandbox::new();
    verbose(&mut sb);
    for input in [host(), host()] {
        let mut child = sb
            .cmd(["get"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = stdout(&out);
        assert!(
            out.status.success(),
            "logging must not fail the get: {}",
            describe(&out)
        );
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["Secret"], private_password(MOTO_ACCOUNT).as_str());
    }
}

/// The front answers a hit with no copy of the token left in its memory when it exits: the
/// cache file as read, the entry's `Secret` and the answer's buffer are zeroised, and the answer
/// is written past std's buffer (README: "What stays in memory"). gdb stops it at `exit_group`
/// and dumps its memory; as root, since a non-dumpable process's memory is root's to read.
#[test]
fn a_hit_leaves_no_copy_of_the_token_in_the_fronts_memory() {
    let test = "a_hit_leaves_no_copy_of_the_token_in_the_fronts_memory";
    if !have(test, &["gdb"]) || !is_root(test, "reading a non-dumpable process's memory") {
        return;
    }
    let sb = Sandbox::new();
    sb.get_ok(&host());
    let dir = tempfile::tempdir().unwrap();
    let (input, answer) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::write(&input, format!("{}\n", host())).unwrap();
    let core = dir.path().join("core");
    let mut gdb = sb.command("gdb");
    gdb.args(["-batch", "-nx", "-ex", "catch syscall exit_group", "-ex"])
        .arg(format!(
            "run get < {} > {}",
            input.display(),
            answer.display()
        ))
        .args([
            "-ex",
            &format!("gcore {}", core.display()),
            "-ex",
            "kill",
            BIN,
        ]);
    let out = run_cmd(gdb, "");
    let password = private_password(MOTO_ACCOUNT);
    let answered = std::fs::read_to_string(&answer).unwrap_or_default();
    assert!(answered.contains(&password), "{}", describe(&out));
    assert_eq!(sb.calls(), (1, 0), "the second get was not a hit");
    let dumped: Vec<PathBuf> = walk(dir.path())
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("core"))
        })
        .collect();
    assert_eq!(dumped.len(), 1, "{}", describe(&out));
    let memory = std::fs::read(&dumped[0]).unwrap();
    let copies = memory
        .windows(password.len())
        .filter(|w| *w == password.as_bytes())
        .count();
    assert_eq!(
        copies, 0,
        "copies of the token in the front's memory at exit"
    );
}
