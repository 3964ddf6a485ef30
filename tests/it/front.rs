//! The front and the engine: a cache hit is answered by the front alone; everything else
//! reaches the engine beside it unchanged (arguments, `argv[0]`, stdin, environment), with
//! the rest of the request's bound; a front without its engine says so in one line.

use crate::common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const ACCOUNT: &str = MOTO_ACCOUNT;
const HANDOFF_VAR: &str = "DOCKER_CREDENTIAL_ECR_HANDOFF_LEFT_MS";

/// A copy of the front in a directory of its own, with `engine` (if any) beside it.
fn installed(dir: &Path, engine: Option<&str>) -> PathBuf {
    let front = dir.join("docker-credential-ecr");
    fs::copy(BIN, &front).unwrap();
    if let Some(script) = engine {
        let path = dir.join("docker-credential-ecr-engine");
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    front
}

/// An engine that records what it was given (arguments, `argv[0]` as `$0` cannot show it, so
/// the arguments only; stdin; the handed-over bound) and answers "not found".
fn recording_engine(log: &Path) -> String {
    format!(
        "#!/bin/sh\n{{ echo \"args:$*\"; echo \"left:${HANDOFF_VAR}\"; printf 'stdin:'; cat; echo; }} >> '{}'\necho 'credentials not found in native keychain'\nexit 1\n",
        log.display()
    )
}

fn run(
    sb: &Sandbox,
    program: impl AsRef<Path>,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    let mut cmd = sb.command(program.as_ref());
    cmd.args(args);
    run_cmd(cmd, stdin)
}

#[test]
fn a_hit_is_answered_without_the_engine_and_the_rest_reaches_it_unchanged() {
    let sb = Sandbox::new();
    let host = private_host(ACCOUNT, "us-east-1");
    // The real pair fetches and caches the token.
    let first = sb.get_ok(&host);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("engine.log");
    let front = installed(dir.path(), Some(&recording_engine(&log)));

    let hit = run(&sb, &front, &["get"], &format!("{host}\n"));
    assert!(hit.status.success(), "{}", describe(&hit));
    let answer: serde_json::Value = serde_json::from_slice(&hit.stdout).unwrap();
    assert_eq!(answer["Secret"], first["Secret"]);
    assert!(!log.exists(), "a hit ran the engine");

    // A miss (another region), another verb, and a command: each is the engine's, as given.
    let other = private_host(ACCOUNT, "eu-west-1");
    let miss = run(&sb, &front, &["get"], &format!("  {other}\n"));
    assert_eq!(miss.status.code(), Some(1), "{}", describe(&miss));
    assert_eq!(
        String::from_utf8_lossy(&miss.stdout),
        "credentials not found in native keychain\n"
    );
    run(&sb, &front, &["list"], "");
    run(&sb, &front, &["doctor", "--help"], "");
    let seen = fs::read_to_string(&log).unwrap();
    let runs: Vec<&str> = seen.split("args:").skip(1).collect();
    assert_eq!(runs.len(), 3, "{seen}");
    assert!(runs[0].starts_with("get\n"), "{seen}");
    // The bytes the front read, exactly; and the rest of a 10 s bound.
    assert!(runs[0].contains(&format!("stdin:  {other}\n")), "{seen}");
    let left: u64 = runs[0]
        .lines()
        .find_map(|l| l.strip_prefix("left:"))
        .unwrap()
        .parse()
        .unwrap();
    assert!((5_000..=10_000).contains(&left), "{seen}");
    // Nothing was read for the engine, so nothing is handed over: it reads stdin itself.
    assert!(runs[1].starts_with("list\nleft:\n"), "{seen}");
    assert!(runs[2].starts_with("doctor --help\nleft:\n"), "{seen}");
    assert_eq!(sb.calls(), (1, 0), "only the real pair's first get fetched");
}

#[test]
fn the_handed_over_bound_is_kept_and_not_passed_on() {
    // The engine keeps one bound with the front: a request handed over with 1.5 s left times
    // out after 1.5 s, whatever DOCKER_CREDENTIAL_ECR_TIMEOUT says, and the variable is gone
    // from the environment of what it starts (the credential_process records it).
    let mut sb = Sandbox::new();
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen");
    let config = sb.home().join(".aws/config");
    fs::create_dir_all(config.parent().unwrap()).unwrap();
    fs::write(
        &config,
        format!(
            "[profile slow]\ncredential_process = sh -c 'echo \"left:${HANDOFF_VAR}\" > {}; sleep 5'\n",
            seen.display()
        ),
    )
    .unwrap();
    sb.env("AWS_PROFILE", "slow")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env(ENV_TIMEOUT, "10")
        .env(HANDOFF_VAR, "1500");
    let start = std::time::Instant::now();
    let out = run(&sb, ENGINE, &["get"], &private_host(ACCOUNT, "us-east-1"));
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("timed out"),
        "{}",
        describe(&out)
    );
    assert!(
        took.as_millis() < 4_000,
        "took {took:?}: the 1.5 s left was not kept"
    );
    assert_eq!(fs::read_to_string(&seen).unwrap(), "left:\n");
}

#[test]
fn a_front_without_its_engine_answers_hits_and_says_what_is_missing() {
    let sb = Sandbox::new();
    let host = private_host(ACCOUNT, "us-east-1");
    sb.get_ok(&host);
    let dir = tempfile::tempdir().unwrap();
    let front = installed(dir.path(), None);
    let hit = run(&sb, &front, &["get"], &host);
    assert!(hit.status.success(), "{}", describe(&hit));
    for (args, stdin) in [
        (&["get"][..], private_host(ACCOUNT, "eu-west-1")),
        (&["version"][..], String::new()),
    ] {
        let out = run(&sb, &front, args, &stdin);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "{}", describe(&out));
        assert!(
            stdout.starts_with(&format!(
                "cannot run {}/docker-credential-ecr-engine",
                dir.path().display()
            )),
            "{}",
            describe(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("docker-credential-ecr: cannot run")
        );
    }
}
