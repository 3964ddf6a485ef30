//! Faults from the token source, injected by the ECR emulator per access key id.
//!
//! The bound on any `get`: `DOCKER_CREDENTIAL_ECR_TIMEOUT` (default 10 s) from the moment the
//! request is read to the answer, whatever the API, the credential chain or the files do
//! (`src/deadline.rs`, `src/watchdog.rs`). These tests set the timeout low and assert TIMEOUT +
//! [`SLACK`] (the process's start-up and a busy machine), and that no child process outlives
//! the helper.
//!
//! Already covered in `get.rs` and not repeated here: a plain hang (timeout message),
//! the emulator gone for a never-fetched host ("cannot reach"), AccessDenied falling back to a
//! valid token and never to an expired one.

use crate::common::*;
use docker_credential_ecr::testing::cache::Entry;
use std::io::Write;
use std::process::{Child, Output};
use std::thread;
use std::time::{Duration, Instant};

/// Start-up of the process and a busy machine, beyond the timeout itself.
const SLACK: Duration = Duration::from_millis(500);

fn host() -> String {
    private_host(MOTO_ACCOUNT, "us-east-1")
}

/// The cache entries of a sandbox, decoded.
fn entries(sb: &Sandbox) -> Vec<Entry> {
    std::fs::read_dir(sb.helper_cache_dir())
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Clone)]
struct Case {
    fault: &'static str,
    delay_ms: Option<u64>,
    public: bool,
    timeout_secs: u64,
    /// The error line starts with this (`{endpoint}` stands for the emulator's URL).
    want: String,
    /// GetAuthorizationToken calls the failure costs (the SDK retries throttling and 5xx).
    calls: u32,
    /// ECR Public with a refused identity: "not found" on stdout (clients pull anonymously),
    /// and `want` is the reason in the one note on stderr.
    anonymous: bool,
}

fn case(fault: &'static str, want: &str, calls: u32) -> Case {
    Case {
        fault,
        delay_ms: None,
        public: false,
        timeout_secs: 8,
        want: want.to_string(),
        calls,
        anonymous: false,
    }
}

/// A 200 reply whose token cannot be used.
fn unusable(fault: &'static str, detail: &str) -> Case {
    case(
        fault,
        &format!("{{endpoint}} returned an unusable authorization token: {detail}"),
        1,
    )
}

fn cases() -> Vec<Case> {
    let mut cases = vec![
        case(
            "access-denied",
            "AccessDeniedException: User: arn:aws:iam::123456789012:user/test is not authorized to perform: ecr:GetAuthorizationToken",
            1,
        ),
        case(
            "expired-token",
            "ExpiredTokenException: The security token included in the request is expired",
            1,
        ),
        case(
            "unrecognized-client",
            "UnrecognizedClientException: The security token included in the request is invalid.",
            1,
        ),
        case("throttle", "ThrottlingException: Rate exceeded", 3),
        case(
            "server-error",
            "ServerException: Internal service error (emulated)",
            3,
        ),
        case(
            "service-unavailable",
            "ServiceUnavailableException: Service Unavailable (emulated)",
            3,
        ),
        case(
            "malformed-json",
            "{endpoint} returned a reply that could not be read (HTTP 200): ",
            1,
        ),
        unusable("bad-base64", "it is not base64"),
        unusable("no-aws-prefix", "it does not have the form AWS:<password>"),
        unusable("expired", "it has already expired"),
        unusable("no-expiry", "it has no expiry time"),
        unusable("empty-data", "no authorization data in the response"),
        Case {
            delay_ms: Some(10_000),
            timeout_secs: 2,
            ..case(
                "slow",
                "timed out reaching {endpoint} after 2s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)",
                1,
            )
        },
    ];
    // ECR Public goes through its own client and response shape.
    for fault in [
        "access-denied",
        "expired-token",
        "unrecognized-client",
        "server-error",
        "bad-base64",
        "no-expiry",
        "empty-data",
    ] {
        let mut public = cases.iter().find(|c| c.fault == fault).unwrap().clone();
        public.public = true;
        // Public images need no credentials: a refused identity is no reason to fail a pull.
        public.anonymous = matches!(
            fault,
            "access-denied" | "expired-token" | "unrecognized-client"
        );
        if fault == "empty-data" {
            // ECR Public's authorizationData is one object: emptied, it lacks the token.
            public.want = public.want.replace(
                "no authorization data in the response",
                "the token is missing",
            );
        }
        cases.push(public);
    }
    cases
}

fn check_failure(c: &Case, sb: &Sandbox, out: &Output, took: Duration) -> Result<(), String> {
    let text = stdout(out);
    let want = c.want.replace("{endpoint}", sb.emulator.endpoint());
    let what = format!(
        "{}{} -> {}",
        c.fault,
        if c.public { " (public)" } else { "" },
        describe(out)
    );
    if out.status.code() != Some(1) {
        return Err(format!("exit code: {what}"));
    }
    if c.anonymous {
        let note = stderr(out);
        let prefix = format!(
            "docker-credential-ecr: public.ecr.aws: no token, so the client pulls anonymously (enough for public images): {want}"
        );
        if text != "credentials not found in native keychain\n"
            || !note.starts_with(&prefix)
            || note.lines().count() != 1
        {
            return Err(format!("want not found and the note {prefix:?}: {what}"));
        }
    } else if !text.starts_with(&want) {
        return Err(format!("want {want:?}: {what}"));
    }
    if text.lines().count() != 1 || !text.ends_with('\n') {
        return Err(format!("not one line: {what}"));
    }
    // docker shows a helper's stderr, not its stdout: the same line goes there too.
    let stderr = stderr(out);
    if !c.anonymous && !stderr.is_empty() && stderr != format!("docker-credential-ecr: {text}") {
        return Err(format!("stderr is not the error line: {what}"));
    }
    let bound = Duration::from_secs(c.timeout_secs) + SLACK;
    if took > bound {
        return Err(format!("took {took:?} > {bound:?}: {what}"));
    }
    let (ecr, public) = sb.calls();
    let calls = if c.public { public } else { ecr };
    if calls != c.calls {
        return Err(format!("{calls} calls, want {}: {what}", c.calls));
    }
    if let Some(e) = entries(sb).iter().find(|e| e.token.is_some()) {
        return Err(format!("a token was cached for {:?}: {what}", e.hosts));
    }
    Ok(())
}

#[test]
fn every_fault_is_one_actionable_line_exit_1_within_the_bound_and_nothing_is_cached() {
    let results: Vec<Result<(), String>> = thread::scope(|s| {
        let handles: Vec<_> = cases()
            .into_iter()
            .map(|c| {
                s.spawn(move || {
                    let mut sb = Sandbox::new();
                    sb.env("DOCKER_CREDENTIAL_ECR_TIMEOUT", c.timeout_secs.to_string());
                    sb.fault(c.fault, None, c.delay_ms);
                    let input = if c.public {
                        "public.ecr.aws".to_string()
                    } else {
                        host()
                    };
                    let started = Instant::now();
                    let out = sb.get(&input);
                    check_failure(&c, &sb, &out, started.elapsed())?;
                    // Nothing usable was kept: once the fault clears, the next get fetches.
                    sb.emulator.clear_fault(&sb.akid);
                    let before = sb.calls();
                    sb.get_ok(&input);
                    let after = sb.calls();
                    if after == before {
                        return Err(format!("{}: the next get did not fetch", c.fault));
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
}

#[test]
fn a_throttle_or_a_5xx_once_is_retried_into_success() {
    for fault in ["throttle", "server-error", "service-unavailable"] {
        let sb = Sandbox::new();
        sb.fault(fault, Some(1), None);
        let answer = sb.get_ok(&host());
        assert_eq!(answer["Secret"], private_password(MOTO_ACCOUNT).as_str());
        assert_eq!(sb.calls(), (2, 0), "{fault}: one failure, one retry");
        // And the retried token is cached like any other.
        sb.get_ok(&host());
        assert_eq!(sb.calls(), (2, 0));
    }
}

#[test]
fn a_slow_reply_within_the_timeout_is_a_success() {
    let mut sb = Sandbox::new();
    sb.env("DOCKER_CREDENTIAL_ECR_TIMEOUT", "5");
    sb.fault("slow", None, Some(800));
    let started = Instant::now();
    let answer = sb.get_ok(&host());
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert_eq!(answer["Secret"], private_password(MOTO_ACCOUNT).as_str());
}

/// With a token cached and due for refresh but still valid, no fault reaches the user: the
/// cached token is answered, including when the API hangs or is gone.
#[test]
fn with_a_valid_token_in_its_refresh_window_every_fault_answers_the_cached_token() {
    // 16 s tokens are due for refresh once 4 s remain, i.e. from 12 s after they were issued.
    // All are fetched at once, the faulty refreshes start 12.3 s after the last (the entries
    // are aged on disk, no sleep), and the slowest (a hang, TIMEOUT=1) gives up after ~1 s:
    // before the first token expires.
    const TTL: u64 = 16;
    let down = Emulator::start_with(&[]);
    let mut sandboxes: Vec<(String, Sandbox)> = cases()
        .iter()
        .filter(|c| !c.public)
        .map(|c| c.fault)
        .chain(["hang"])
        .map(|f| (f.to_string(), Sandbox::new()))
        .collect();
    sandboxes.push(("emulator down".into(), Sandbox::with_emulator(&down)));
    for (_, sb) in &mut sandboxes {
        // The first fetches run all at once on a busy machine: give them room. The bound is
        // the whole request, SDK start-up included.
        sb.env("DOCKER_CREDENTIAL_ECR_TIMEOUT", "5");
        sb.set_ttl(TTL);
    }
    let started = Instant::now();
    let first: Vec<serde_json::Value> = thread::scope(|s| {
        let handles: Vec<_> = sandboxes
            .iter()
            .map(|(_, sb)| s.spawn(move || sb.get_ok(&host())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let fetched = Instant::now();
    for (fault, sb) in &sandboxes {
        match fault.as_str() {
            "emulator down" => {}
            "slow" => sb.fault("slow", None, Some(10_000)),
            f => sb.fault(f, None, None),
        }
    }
    drop(down);
    for (_, sb) in &mut sandboxes {
        sb.env("DOCKER_CREDENTIAL_ECR_TIMEOUT", "1");
    }
    let due = Duration::from_millis(TTL * 750 + 300);
    let aged = due.saturating_sub(fetched.elapsed());
    for (_, sb) in &sandboxes {
        sb.age_cache(aged);
    }
    let outs: Vec<(Output, Duration)> = thread::scope(|s| {
        let handles: Vec<_> = sandboxes
            .iter()
            .map(|(_, sb)| {
                s.spawn(move || {
                    let t = Instant::now();
                    (sb.get(&host()), t.elapsed())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        started.elapsed() + aged < Duration::from_secs(TTL),
        "too slow to test the window"
    );
    let mut errors = Vec::new();
    for (((fault, sb), (out, took)), first) in sandboxes.iter().zip(&outs).zip(&first) {
        let ok = out.status.success()
            && serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .is_ok_and(|v| v["Secret"] == first["Secret"]);
        if !ok || *took > Duration::from_secs(4) {
            errors.push(format!("{fault} ({took:?}): {}", describe(out)));
        }
        // The refresh was attempted: the failure is on record beside the still-valid token.
        let e = entries(sb);
        if fault != "emulator down"
            && !(e.len() == 1 && e[0].token.is_some() && e[0].failure.is_some())
        {
            errors.push(format!("{fault}: cache entry {e:?}"));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
}

/// `n` concurrent cold gets against a failing API: how long until all have answered.
fn herd_against(fault: &str, n: usize, timeout_secs: u64) -> (Sandbox, Vec<Output>, Duration) {
    let mut sb = Sandbox::new();
    sb.env("DOCKER_CREDENTIAL_ECR_TIMEOUT", timeout_secs.to_string());
    sb.fault(fault, None, None);
    let (outs, took) = release_herd(&sb, n);
    (sb, outs, took)
}

/// `n` gets for `host()` started together, their requests written at once: their answers, and
/// the time from the first request to the last answer.
fn release_herd(sb: &Sandbox, n: usize) -> (Vec<Output>, Duration) {
    let mut children: Vec<Child> = (0..n).map(|_| sb.spawn_get()).collect();
    let started = Instant::now();
    for child in &mut children {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(host().as_bytes())
            .unwrap();
    }
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    (outs, started.elapsed())
}

/// A herd behind a hanging API does not queue into N x timeout: the lock holder records its
/// failure and the processes queued behind it answer with it at once.
#[test]
fn a_herd_facing_a_hanging_api_shares_one_timeout() {
    let (sb, outs, took) = herd_against("hang", 8, 2);
    println!("8 gets against a hanging API, timeout 2 s: all answered in {took:?}");
    for out in &outs {
        assert_eq!(out.status.code(), Some(1), "{}", describe(out));
        assert!(
            stdout(out).starts_with("timed out reaching "),
            "{}",
            describe(out)
        );
    }
    assert_eq!(sb.calls(), (1, 0), "the herd made one call");
    // One timeout, not 8 x 2 s.
    assert!(took <= Duration::from_secs(2) + SLACK, "took {took:?}");
}

/// The same for throttling: a herd that meets ThrottlingException makes one call sequence
/// (with the SDK's retries), not one per process, and does not deepen the throttling.
#[test]
fn a_herd_facing_throttling_makes_one_call_sequence() {
    let (sb, outs, took) = herd_against("throttle", 8, 8);
    println!("8 gets against throttling: all answered in {took:?}");
    for out in &outs {
        assert_eq!(out.status.code(), Some(1), "{}", describe(out));
        assert!(
            stdout(out).starts_with("ThrottlingException: Rate exceeded"),
            "{}",
            describe(out)
        );
    }
    // One call and two retries for the whole herd. (A helper that only starts reading after
    // the sequence ended, which takes a backoff of near zero, would make one more sequence.)
    let (calls, _) = sb.calls();
    assert!(calls == 3 || calls == 6, "{calls} calls for a herd of 8");
    assert!(took < Duration::from_secs(11), "took {took:?}");
}

/// What a request that meets something no timer interrupts must still do: answer within
/// `DOCKER_CREDENTIAL_ECR_TIMEOUT` (plus the start-up of a process: 0.5 s), with one error line
/// in its mode's form, exit 1, and leave no process of its own behind.
mod hard_bound {
    use super::*;
    use std::path::{Path, PathBuf};

    /// A named pipe nobody writes to: opening it for reading blocks, as a hung file would.
    fn fifo(sb: &Sandbox, name: &str) -> PathBuf {
        let path = sb.root().join(name);
        mkfifo(&path);
        path
    }

    /// Alive means present and not a zombie (a killed process that its parent, or init after
    /// the helper exited, has yet to reap is dead).
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_owned));
            !matches!(state.as_deref(), Some("Z" | "X"))
        })
    }

    /// Every pid the `credential_process` listed in `pids` (itself and its child) has died.
    fn assert_all_gone(pids: &Path) {
        let listed = std::fs::read_to_string(pids).unwrap_or_default();
        let pids: Vec<i32> = listed
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        assert!(
            !pids.is_empty() && pids.len().is_multiple_of(2),
            "the credential_process did not start: {listed:?}"
        );
        let left: Vec<i32> = pids.into_iter().filter(|p| alive(*p)).collect();
        // Kill what is left so that a failure does not leave a minute-long sleep behind.
        for pid in &left {
            // SAFETY: kill takes plain integers.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        assert!(
            left.is_empty(),
            "still running after the helper exited: {left:?}"
        );
    }

    enum Mode {
        /// `get`: the line on stdout and, after `docker-credential-ecr: `, on stderr.
        Get,
        /// The kubelet plugin: the line on stderr only.
        Kubelet,
        /// `doctor HOST`: the line on stderr, after `docker-credential-ecr doctor: `.
        Doctor,
    }

    /// Runs the request at `timeout_secs` and checks the bound, the form and that every pid
    /// listed in `pids` (if any) is gone. Returns the error line.
    fn bounded(sb: &mut Sandbox, mode: Mode, timeout_secs: u64, pids: Option<&Path>) -> String {
        sb.env("DOCKER_CREDENTIAL_ECR_TIMEOUT", timeout_secs.to_string());
        let started = Instant::now();
        let out = match mode {
            Mode::Get => sb.get(&host()),
            Mode::Kubelet => sb.run(
                ["kubelet"],
                &format!(
                    r#"{{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"{}/app:1"}}"#,
                    host()
                ),
            ),
            Mode::Doctor => sb.run(["doctor", host().as_str()], ""),
        };
        let took = started.elapsed();
        let bound = Duration::from_secs(timeout_secs) + SLACK;
        assert!(
            took <= bound,
            "took {took:?} > {bound:?}: {}",
            describe(&out)
        );
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let stderr = stderr(&out);
        let line = match mode {
            Mode::Get => {
                let text = stdout(&out);
                assert_eq!(text.lines().count(), 1, "{}", describe(&out));
                assert_eq!(
                    stderr,
                    format!("docker-credential-ecr: {text}"),
                    "{}",
                    describe(&out)
                );
                text
            }
            Mode::Kubelet | Mode::Doctor => {
                assert!(out.stdout.is_empty(), "{}", describe(&out));
                assert_eq!(stderr.lines().count(), 1, "{}", describe(&out));
                let prefix = match mode {
                    Mode::Doctor => "docker-credential-ecr doctor: ",
                    _ => "docker-credential-ecr: ",
                };
                stderr
                    .strip_prefix(prefix)
                    .unwrap_or_else(|| panic!("{}", describe(&out)))
                    .to_string()
            }
        };
        assert!(!line.contains(TEST_SECRET_KEY), "{line}");
        if let Some(pids) = pids {
            assert_all_gone(pids);
        }
        line.trim_end().to_string()
    }

    #[test]
    fn a_fifo_as_the_aws_config_file() {
        let mut sb = Sandbox::new();
        let path = fifo(&sb, "aws-config");
        sb.env("AWS_CONFIG_FILE", &path);
        bounded(&mut sb, Mode::Get, 1, None);
    }

    #[test]
    fn a_fifo_as_the_aws_credentials_file_with_a_profile() {
        let mut sb = Sandbox::new();
        let path = fifo(&sb, "aws-credentials");
        sb.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_PROFILE", "dev")
            .env("AWS_SHARED_CREDENTIALS_FILE", &path);
        bounded(&mut sb, Mode::Get, 1, None);
    }

    #[test]
    fn a_fifo_as_the_web_identity_token_file() {
        let mut sb = Sandbox::new();
        let path = fifo(&sb, "web-identity-token");
        let sts = sb.emulator.endpoint().to_string();
        sb.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/puller")
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", &path)
            .env("AWS_ENDPOINT_URL_STS", sts);
        bounded(&mut sb, Mode::Get, 2, None);
    }

    #[test]
    fn a_fifo_as_the_helpers_config_file() {
        let mut sb = Sandbox::new();
        let path = fifo(&sb, "config.toml");
        sb.env(ENV_CONFIG, &path);
        bounded(&mut sb, Mode::Get, 1, None);
    }

    #[test]
    fn a_fifo_as_the_helpers_config_file_in_kubelet_mode() {
        let mut sb = Sandbox::new();
        let path = fifo(&sb, "config.toml");
        sb.env(ENV_CONFIG, &path);
        bounded(&mut sb, Mode::Kubelet, 1, None);
    }

    /// The watchdog itself: the main thread blocked for good where the config file is read (a
    /// debug-build stand-in for a dead network file system; FIFOs are refused before they are
    /// opened). Each mode answers the timeout in its own form, once, at the deadline.
    #[cfg(debug_assertions)]
    #[test]
    fn a_blocked_main_thread_is_answered_by_the_watchdog_in_every_mode() {
        for mode in [Mode::Get, Mode::Kubelet, Mode::Doctor] {
            let mut sb = Sandbox::new();
            sb.env("DOCKER_CREDENTIAL_ECR_TEST_STALL", "1");
            let line = bounded(&mut sb, mode, 1, None);
            assert_eq!(
                line,
                "timed out loading the config file after 1s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)"
            );
        }
    }

    /// The SDK runs `credential_process` via `sh -c`; this one starts a grandchild as well.
    /// Both are gone once the helper has answered.
    fn hanging_credential_process(sb: &mut Sandbox) -> PathBuf {
        let pids = sb.root().join("pids");
        let aws_config = sb.root().join("aws-config");
        std::fs::write(
            &aws_config,
            format!(
                "[profile slow]\ncredential_process = echo $$ >> {p}; sleep 60 & echo $! >> {p}; wait\n",
                p = pids.display()
            ),
        )
        .unwrap();
        sb.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_PROFILE", "slow")
            .env("AWS_CONFIG_FILE", &aws_config);
        pids
    }

    #[test]
    fn a_hanging_credential_process_times_out_and_is_killed_with_its_children() {
        for timeout_secs in [1, 2] {
            let mut sb = Sandbox::new();
            let pids = hanging_credential_process(&mut sb);
            let line = bounded(&mut sb, Mode::Get, timeout_secs, Some(&pids));
            assert!(
                line.starts_with("timed out running the credential_process of profile \"slow\"")
                    && line.contains(&format!(
                        " after {timeout_secs}s (set DOCKER_CREDENTIAL_ECR_TIMEOUT"
                    )),
                "{line}"
            );
        }
    }

    #[test]
    fn a_hanging_credential_process_in_kubelet_mode() {
        let mut sb = Sandbox::new();
        let pids = hanging_credential_process(&mut sb);
        let line = bounded(&mut sb, Mode::Kubelet, 1, Some(&pids));
        assert!(
            line.starts_with("timed out running the credential_process of profile \"slow\""),
            "{line}"
        );
    }

    /// A herd waiting behind a lock holder that hangs: the waiters' own deadlines end their
    /// wait, and no process of the herd outlives its bound.
    #[test]
    fn waiting_for_another_process_s_refresh_fits_in_the_bound() {
        let mut sb = Sandbox::new();
        let pids = hanging_credential_process(&mut sb);
        sb.env("DOCKER_CREDENTIAL_ECR_TIMEOUT", "2");
        let (outs, took) = release_herd(&sb, 4);
        assert!(took <= Duration::from_secs(2) + SLACK, "took {took:?}");
        for out in &outs {
            assert_eq!(out.status.code(), Some(1), "{}", describe(out));
            assert!(stdout(out).starts_with("timed out"), "{}", describe(out));
        }
        assert_all_gone(&pids);
    }
}

/// Issue 17, symptom 6: time spent is blamed on the step that spent it.
mod blame {
    use super::*;
    use std::path::Path;

    /// Stops, then ends, a process of ours when dropped, so a failed assertion leaves nothing
    /// stopped behind.
    struct Stopped(Child);

    impl Stopped {
        fn pid(&self) -> i32 {
            self.0.id() as i32
        }

        /// SIGSTOP, as a terminal's Ctrl-Z does.
        fn stop(&self) {
            // SAFETY: kill takes plain integers; the pid is our own child's, not yet reaped.
            assert_eq!(unsafe { libc::kill(self.pid(), libc::SIGSTOP) }, 0);
        }
    }

    /// `holder`, a `get` just spawned, sent the host and waited for until its
    /// `credential_process` has started: it then holds the key's lock.
    fn holding_the_lock(mut holder: Child, started: &Path) -> Stopped {
        holder
            .stdin
            .take()
            .unwrap()
            .write_all(host().as_bytes())
            .unwrap();
        let holder = Stopped(holder);
        let waited = Instant::now();
        while !started.exists() {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "the holder never ran"
            );
            thread::sleep(Duration::from_millis(10));
        }
        holder
    }

    impl Drop for Stopped {
        fn drop(&mut self) {
            // SAFETY: kill takes plain integers; the pid is our own child's, not yet reaped.
            unsafe { libc::kill(self.pid(), libc::SIGKILL) };
            let _ = self.0.wait();
        }
    }

    /// A `credential_process` whose first run (in this sandbox) marks `started` and then takes
    /// a minute, and whose later runs answer at once with the sandbox's keys.
    fn first_run_hangs(sb: &mut Sandbox, started: &Path) {
        let always = sb.root().to_path_buf();
        first_run_once_armed_hangs(sb, started, &always);
    }

    /// The same, counting only the runs once `armed` exists.
    fn first_run_once_armed_hangs(sb: &mut Sandbox, started: &Path, armed: &Path) {
        sb.use_credential_process(&format!(
            "if [ -e '{armed}' ] && mkdir '{first}' 2>/dev/null; then : > '{started}'; exec sleep 60; fi",
            armed = armed.display(),
            first = sb.root().join("first-run").display(),
            started = started.display(),
        ));
    }

    /// A refresher stopped while it holds the key's lock (Ctrl-Z on a `docker pull`, a
    /// SIGSTOPped CI step) does not make the next `get` wait out its bound: it waits a part of
    /// it, then fetches without the lock, answers with a token and no message, and caches it.
    #[test]
    fn a_stopped_lock_holder_costs_a_part_of_the_bound_and_one_more_call() {
        let mut sb = Sandbox::new();
        let started = sb.root().join("holder-started");
        first_run_hangs(&mut sb, &started);
        sb.env(ENV_TIMEOUT, "4");
        let holder = holding_the_lock(sb.spawn_get(), &started);
        // The holder has the lock (it resolves credentials under it) and is stopped there.
        holder.stop();
        let calls_before = sb.calls().0;

        let t = Instant::now();
        let out = sb.get(&host());
        let took = t.elapsed();
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert!(
            out.stderr.is_empty(),
            "a message without a failure: {}",
            describe(&out)
        );
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["Secret"], private_password(MOTO_ACCOUNT).as_str());
        assert!(took <= Duration::from_secs(4) + SLACK, "took {took:?}");
        assert_eq!(sb.calls().0, calls_before + 1, "one API call more");
        // The unlocked fetch cached its token: the next get is a hit, with no wait and no call.
        let t = Instant::now();
        let again = sb.get(&host());
        assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "took {:?}",
            t.elapsed()
        );
        assert_eq!(
            sb.calls().0,
            calls_before + 1,
            "the second get was not a hit"
        );
        drop(holder);
    }

    /// `docker logout` while a refresher is stopped holding the lock: the entry is forgotten
    /// after a part of the bound, not an error after all of it.
    #[test]
    fn erase_does_not_wait_out_a_stopped_lock_holder() {
        let mut sb = Sandbox::new();
        let (started, armed) = (sb.root().join("holder-started"), sb.root().join("armed"));
        first_run_once_armed_hangs(&mut sb, &started, &armed);
        sb.env(ENV_TIMEOUT, "2");
        sb.get_ok(&host());
        sb.age_cache(Duration::from_secs(13 * 3600));
        std::fs::write(&armed, "").unwrap();
        let holder = holding_the_lock(sb.spawn_get(), &started);
        holder.stop();
        let t = Instant::now();
        let out = sb.run(["erase"], &host());
        assert!(
            t.elapsed() <= Duration::from_secs(2) + SLACK,
            "took {:?}",
            t.elapsed()
        );
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert!(
            out.stdout.is_empty() && out.stderr.is_empty(),
            "{}",
            describe(&out)
        );
        assert!(entries(&sb).is_empty(), "the entry is still there");
        drop(holder);
    }

    /// A `get` stuck behind a lock holder that is working (not stopped) on a longer bound than
    /// its own says what it waited for: the lock, and the holder's pid.
    #[test]
    fn a_wait_for_a_working_lock_holder_names_the_lock_and_its_pid() {
        let mut sb = Sandbox::new();
        let started = sb.root().join("holder-started");
        first_run_hangs(&mut sb, &started);
        let mut holder = sb.cmd(["get"]);
        holder
            .env(ENV_TIMEOUT, "30")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let holder = holding_the_lock(holder.spawn().unwrap(), &started);
        sb.env(ENV_TIMEOUT, "2");
        let t = Instant::now();
        let out = sb.get(&host());
        assert!(
            t.elapsed() <= Duration::from_secs(2) + SLACK,
            "took {:?}",
            t.elapsed()
        );
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        assert_eq!(
            stdout(&out).trim_end(),
            format!(
                "timed out waiting for the token cache lock held by process {} (another docker-credential-ecr refreshing this token) after 2s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)",
                holder.pid()
            ),
            "{}",
            describe(&out)
        );
        drop(holder);
    }

    /// A `credential_process` that takes longer than the bound is named, not the endpoint the
    /// request never reached.
    #[test]
    fn a_slow_credential_process_is_named_not_the_endpoint() {
        let mut sb = Sandbox::new();
        let started = sb.root().join("started");
        first_run_hangs(&mut sb, &started);
        sb.env(ENV_TIMEOUT, "1");
        let t = Instant::now();
        let out = sb.get(&host());
        assert!(
            t.elapsed() <= Duration::from_secs(1) + SLACK,
            "took {:?}",
            t.elapsed()
        );
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        assert_eq!(
            stdout(&out).trim_end(),
            "timed out running the credential_process of profile \"slow\" after 1s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)",
            "{}",
            describe(&out)
        );
        assert_eq!(sb.calls().0, 0);
    }

    /// An STS that never answers: the role being assumed is named, whether the config file's
    /// entry asks for it (on top of the environment's keys) or the profile does.
    #[test]
    fn a_silent_sts_is_named_with_the_role() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let sts = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let role = "arn:aws:iam::210987654321:role/puller";
        let mut entry = Sandbox::new();
        entry.config(
            "config.toml",
            &format!("[[registry]]\nmatch = \"{MOTO_ACCOUNT}\"\nrole_arn = \"{role}\"\n"),
        );
        let mut profile = Sandbox::new();
        let aws_config = profile.root().join("aws-config");
        std::fs::write(
            &aws_config,
            format!(
                "[profile deploy]\nrole_arn = {role}\nsource_profile = base\n[profile base]\naws_access_key_id = {}\naws_secret_access_key = {TEST_SECRET_KEY}\n",
                profile.akid
            ),
        )
        .unwrap();
        profile
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_PROFILE", "deploy")
            .env("AWS_CONFIG_FILE", &aws_config);
        for (sb, doing) in [
            (&mut entry, format!("assuming role {role} through AWS STS")),
            (
                &mut profile,
                format!("assuming role {role} of profile \"deploy\" through AWS STS"),
            ),
        ] {
            sb.env("AWS_ENDPOINT_URL_STS", &sts).env(ENV_TIMEOUT, "1");
            let out = sb.get(&host());
            assert_eq!(
                stdout(&out).trim_end(),
                format!(
                    "timed out {doing} after 1s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)"
                ),
                "{}",
                describe(&out)
            );
        }
        drop(listener);
    }
}
