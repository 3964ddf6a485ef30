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
    copy_program(BIN, &front);
    if let Some(script) = engine {
        write_program(&dir.join("docker-credential-ecr-engine"), script);
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
    assert_eq!(stdout(&miss), "credentials not found in native keychain\n");
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
    assert!(stdout(&out).contains("timed out"), "{}", describe(&out));
    assert!(
        took.as_millis() < 4_000,
        "took {took:?}: the 1.5 s left was not kept"
    );
    assert_eq!(fs::read_to_string(&seen).unwrap(), "left:\n");
}

#[test]
fn a_front_alone_answers_hits_and_its_version_and_says_what_to_copy() {
    // A front copied on its own (a Dockerfile `COPY` of one file): a hit and `version` need no
    // engine; a miss says in one line which file to put beside it.
    let sb = Sandbox::new();
    let host = private_host(ACCOUNT, "us-east-1");
    sb.get_ok(&host);
    let dir = tempfile::tempdir().unwrap();
    let front = installed(dir.path(), None);
    let hit = run(&sb, &front, &["get"], &host);
    assert!(hit.status.success(), "{}", describe(&hit));
    let engine_version = run(&sb, ENGINE, &["version"], "");
    assert!(
        engine_version.status.success(),
        "{}",
        describe(&engine_version)
    );
    let version = run(&sb, &front, &["version"], "");
    assert!(version.status.success(), "{}", describe(&version));
    assert_eq!(version.stdout, engine_version.stdout);
    assert!(version.stderr.is_empty(), "{}", describe(&version));

    let out = run(&sb, &front, &["get"], &private_host(ACCOUNT, "eu-west-1"));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let said = stdout(&out);
    assert_eq!(said.lines().count(), 1, "{}", describe(&out));
    assert!(
        said.starts_with(&format!(
            "cannot run {}/docker-credential-ecr-engine",
            dir.path().display()
        )),
        "{}",
        describe(&out)
    );
    assert!(said.contains("copy docker-credential-ecr-engine"), "{said}");
    assert!(stderr(&out).starts_with("docker-credential-ecr: cannot run"));
}

#[test]
fn a_front_without_proc_finds_its_engine_by_its_path_and_by_path() {
    let test = "a_front_without_proc_finds_its_engine_by_its_path_and_by_path";
    if !can_unshare_mounts(test) {
        return;
    }
    let sb = Sandbox::new();
    let east = private_host(ACCOUNT, "us-east-1");
    let west = private_host(ACCOUNT, "eu-west-1");
    // A miss run by its path, a miss run by its name found in PATH (past an empty and a
    // relative entry), then a hit.
    let by_path = run_cmd(without_proc(&sb, r#"exec "$1" get"#), &east);
    assert!(by_path.status.success(), "{}", describe(&by_path));
    let by_name = without_proc(
        &sb,
        r#"PATH=":bin:$2:$PATH" exec docker-credential-ecr get"#,
    );
    let by_name = run_cmd(by_name, &west);
    assert!(by_name.status.success(), "{}", describe(&by_name));
    assert_eq!(sb.calls(), (2, 0));
    let hit = run_cmd(without_proc(&sb, r#"exec "$1" get"#), &east);
    assert!(hit.status.success(), "{}", describe(&hit));
    let answer: serde_json::Value = serde_json::from_slice(&hit.stdout).unwrap();
    assert_eq!(answer["Secret"], private_password(ACCOUNT));
    assert_eq!(sb.calls(), (2, 0), "the hit fetched");
}

#[test]
fn an_engine_another_user_could_have_planted_is_not_run() {
    let test = "an_engine_another_user_could_have_planted_is_not_run";
    if !is_root(test, "giving an engine file to another user") {
        return;
    }
    let sb = Sandbox::new();
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let log = dir.path().join("engine.log");
    let front = installed(dir.path(), Some(&recording_engine(&log)));
    let engine = dir.path().join("docker-credential-ecr-engine");
    let miss = || run(&sb, &front, &["get"], &private_host(ACCOUNT, "eu-west-1"));

    std::os::unix::fs::chown(&engine, Some(65534), Some(65534)).unwrap();
    let out = miss();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let said = stdout(&out);
    assert_eq!(said.lines().count(), 1, "{}", describe(&out));
    assert!(said.contains("owned by uid 65534"), "{}", describe(&out));
    assert!(!log.exists(), "another user's engine ran");

    // The front's own user's engine, writable by others (or its group), is refused too.
    std::os::unix::fs::chown(&engine, Some(0), Some(0)).unwrap();
    for mode in [0o777, 0o775] {
        fs::set_permissions(&engine, fs::Permissions::from_mode(mode)).unwrap();
        let out = miss();
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let said = stdout(&out);
        assert!(said.contains("writable by"), "{mode:o}: {}", describe(&out));
        assert!(!log.exists(), "a writable engine ran");
    }
    // A link to another program of root's is not passed off as the engine.
    fs::rename(&engine, dir.path().join("engine.real")).unwrap();
    std::os::unix::fs::symlink("/bin/true", &engine).unwrap();
    let out = miss();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stdout(&out).contains("it is a symbolic link"),
        "{}",
        describe(&out)
    );
    fs::remove_file(&engine).unwrap();
    fs::rename(dir.path().join("engine.real"), &engine).unwrap();
    // And the same file, owned and mode 0755, runs.
    fs::set_permissions(&engine, fs::Permissions::from_mode(0o755)).unwrap();
    let out = miss();
    assert_eq!(
        stdout(&out),
        "credentials not found in native keychain\n",
        "{}",
        describe(&out)
    );
    assert!(log.exists());
}

/// The owner of `/proc/<pid>/status` (root for a non-dumpable process) and its core file size limit.
fn dump_state(pid: u32) -> (u32, String) {
    use std::os::unix::fs::MetadataExt;
    let owner = fs::metadata(format!("/proc/{pid}/status")).unwrap().uid();
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap()
        .split_whitespace()
        .nth(4)
        .unwrap()
        .to_string();
    (owner, core)
}

#[test]
fn both_binaries_are_not_dumpable_and_write_no_core() {
    // A process that is not dumpable has its /proc files owned by root, whoever runs it;
    // as root, the helpers run as another user to tell. Each waits for its request on stdin.
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let test = "both_binaries_are_not_dumpable_and_write_no_core";
    // With a hard core limit of 0 there is no limit for the helpers to take away, and the
    // core-limit half of the check would pass whatever they did.
    // SAFETY: getrlimit fills a struct we own.
    let hard = unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_CORE, &mut limit);
        limit.rlim_max
    };
    if hard == 0 {
        cannot_run(test, "a hard core file size limit above 0 (ulimit -Hc)");
        return;
    }
    let sb = Sandbox::new();
    let user = if platform_euid() == 0 {
        65534
    } else {
        platform_euid()
    };
    for program in [BIN, ENGINE] {
        let mut cmd = sb.command(program);
        cmd.arg("get")
            .uid(user)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // A core limit to take away: as its callers may have one (this shell's may be 0).
        // SAFETY: getrlimit/setrlimit on a struct we own, in the child before exec.
        unsafe {
            cmd.pre_exec(|| {
                let mut limit: libc::rlimit = std::mem::zeroed();
                libc::getrlimit(libc::RLIMIT_CORE, &mut limit);
                limit.rlim_cur = limit.rlim_max.min(1 << 30);
                libc::setrlimit(libc::RLIMIT_CORE, &limit);
                Ok(())
            })
        };
        let mut child = cmd.spawn().unwrap();
        // Its /proc files are the user's from the fork until the program sets itself up.
        let pid = child.id();
        let _ = (0..400).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            dump_state(pid).0 == 0
        });
        let state = dump_state(pid);
        let still_waiting = child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(still_waiting, "{program} ended before its request");
        assert_eq!(
            state,
            (0, "0".to_string()),
            "{program}: /proc owner, core limit"
        );
    }
}

fn platform_euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}
