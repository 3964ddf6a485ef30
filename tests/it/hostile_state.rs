//! Hostile local state: whatever is in (or in place of) the cache, the token is still returned
//! (cached or not), the helper never panics, never follows a planted link into someone else's
//! file, and never loses the valid entries of other keys or touches files that are not its own.
//!
//! (`get.rs` already rebuilds a corrupt entry, writes 0600/0700 under umask 000, and
//! survives `AWS_ECR_CACHE_DIR` naming a file or a path under /proc; not repeated here.)

use crate::common::*;
use docker_credential_ecr::testing::cache::{Entry, SCHEMA};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

fn host(region: &str) -> String {
    private_host(MOTO_ACCOUNT, region)
}

fn password() -> String {
    private_password(MOTO_ACCOUNT)
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o777
}

/// API calls this sandbox made for a region.
fn calls_in(sb: &Sandbox, region: &str) -> usize {
    sb.emulator
        .calls_detail(&sb.akid)
        .regions
        .iter()
        .filter(|r| *r == region)
        .count()
}

/// The entry file holding `host`'s token.
fn entry_path(sb: &Sandbox, host: &str) -> PathBuf {
    std::fs::read_dir(sb.helper_cache_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|x| x == "json")
                && std::fs::read(p)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Entry>(&b).ok())
                    .is_some_and(|e| e.has_host(host))
        })
        .unwrap_or_else(|| panic!("no entry for {host}"))
}

fn assert_token(out: &Output) {
    assert!(out.status.success(), "{}", describe(out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Secret"], password().as_str(), "{}", describe(out));
    let stderr = stderr(out);
    assert!(!stderr.contains("internal error"), "{}", describe(out));
}

/// Two keys cached; one is damaged in every way we know. Its get still answers (fetching
/// again), and the other key's file is untouched and still a hit.
#[test]
fn a_damaged_entry_costs_only_its_own_key_a_fetch() {
    let victim = tempfile::tempdir().unwrap();
    type Damage = fn(&Path, &Path);
    let damages: &[(&str, Damage)] = &[
        ("truncated", |p, _| {
            let bytes = std::fs::read(p).unwrap();
            std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
        }),
        ("empty", |p, _| std::fs::write(p, b"").unwrap()),
        ("binary garbage", |p, _| {
            std::fs::write(p, (0..=255u8).cycle().take(4096).collect::<Vec<u8>>()).unwrap()
        }),
        ("another schema version", |p, _| {
            let text = std::fs::read_to_string(p).unwrap();
            let other = text.replace(SCHEMA, "docker-credential-ecr/cache/v999");
            assert_ne!(text, other);
            std::fs::write(p, other).unwrap();
        }),
        ("over the size limit", |p, _| {
            // Valid JSON, but 1 MiB: only the first 256 KiB are read, and they do not parse.
            let text = std::fs::read_to_string(p).unwrap();
            let huge = text.replacen(
                "\"identity\":\"",
                &format!("\"identity\":\"{}", "x".repeat(1 << 20)),
                1,
            );
            assert!(huge.len() > 1 << 20);
            std::fs::write(p, huge).unwrap();
        }),
        ("a directory", |p, _| {
            std::fs::remove_file(p).unwrap();
            std::fs::create_dir(p).unwrap();
            std::fs::write(p.join("inside"), b"x").unwrap();
        }),
        ("a fifo", |p, _| {
            std::fs::remove_file(p).unwrap();
            let status = Command::new("mkfifo").arg(p).status().unwrap();
            assert!(status.success());
        }),
        ("a symlink to someone else's file", |p, victim| {
            // The link points at a perfect copy of the entry: trusting it would be a hit.
            let target = victim.join("their-file.json");
            std::fs::copy(p, &target).unwrap();
            std::fs::remove_file(p).unwrap();
            std::os::unix::fs::symlink(&target, p).unwrap();
        }),
        ("a dangling symlink", |p, victim| {
            std::fs::remove_file(p).unwrap();
            std::os::unix::fs::symlink(victim.join("nothing-here"), p).unwrap();
        }),
        ("writable by everyone", |p, _| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o666)).unwrap();
        }),
        ("owned by another user", |p, _| {
            std::os::unix::fs::chown(p, Some(4242), Some(4242)).unwrap();
        }),
    ];
    for (what, damage) in damages {
        let sb = Sandbox::new();
        assert_token(&sb.get(&host(EAST)));
        assert_token(&sb.get(&host(WEST)));
        let keep = entry_path(&sb, &host(EAST));
        let keep_bytes = std::fs::read(&keep).unwrap();
        let broken = entry_path(&sb, &host(WEST));
        damage(&broken, victim.path());
        let victim_before: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(victim.path())
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let b = std::fs::read(&p).unwrap();
                (p, b)
            })
            .collect();

        let started = Instant::now();
        let out = sb.get(&host(WEST));
        assert_token(&out);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: {:?}",
            started.elapsed()
        );
        assert_eq!(calls_in(&sb, WEST), 2, "{what}: untrusted entry was used");
        // The other key: byte for byte the same, and still a hit.
        assert_eq!(std::fs::read(&keep).unwrap(), keep_bytes, "{what}");
        assert_token(&sb.get(&host(EAST)));
        assert_eq!(calls_in(&sb, EAST), 1, "{what}: lost the other key");
        // Never written through a link.
        for (p, b) in &victim_before {
            assert_eq!(
                &std::fs::read(p).unwrap(),
                b,
                "{what}: wrote through a link"
            );
        }
        let meta = std::fs::symlink_metadata(&broken).unwrap();
        match *what {
            // rename cannot replace a directory: that key stays uncached, and says so in debug.
            "a directory" => assert!(meta.is_dir()),
            _ => {
                assert!(meta.is_file(), "{what}: not replaced by a file");
                assert_eq!(mode(&broken), 0o600, "{what}");
                assert_eq!(meta.uid(), 0, "{what}");
                assert_token(&sb.get(&host(WEST)));
                assert_eq!(calls_in(&sb, WEST), 2, "{what}: the replacement is a hit");
            }
        }
    }
}

/// A file that is ours and not writable by others (0644, e.g. after a `chmod`) is trusted: the
/// token is no secret to the other users who could read the file, but refetching would not
/// change that (ECR tokens cannot be revoked). It is rewritten 0600 on its next refresh. A
/// 0777 directory is tightened back to 0700 on the next write.
#[test]
fn loose_permissions_are_tightened_on_the_next_write() {
    let sb = Sandbox::new();
    assert_token(&sb.get(&host(EAST)));
    let entry = entry_path(&sb, &host(EAST));
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(
        sb.helper_cache_dir(),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    assert_token(&sb.get(&host(EAST)));
    assert_eq!(calls_in(&sb, EAST), 1, "a 0644 entry of ours is a hit");
    assert_token(&sb.get(&host(WEST)));
    assert_eq!(mode(&sb.helper_cache_dir()), 0o700);
    assert_eq!(mode(&entry_path(&sb, &host(WEST))), 0o600);
}

/// A cache directory that is not ours is never written: tokens are served uncached, and its
/// files are left alone.
#[test]
fn a_cache_directory_owned_by_someone_else_is_not_used() {
    let sb = Sandbox::new();
    let dir = sb.helper_cache_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("theirs.txt"), b"theirs").unwrap();
    std::os::unix::fs::chown(&dir, Some(4242), Some(4242)).unwrap();
    assert_token(&sb.get(&host(EAST)));
    assert_token(&sb.get(&host(EAST)));
    assert_eq!(calls_in(&sb, EAST), 2, "served uncached");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["theirs.txt"]);
    assert_eq!(std::fs::metadata(&dir).unwrap().uid(), 4242);
}

/// The lock file of a refresher that was SIGKILLed holding it: the kernel released the lock
/// with the process, so the next refresher takes it at once. Odd things in the lock file's
/// place cost at most an uncached fetch.
#[test]
fn lock_files_left_by_killed_processes_or_planted_do_not_block() {
    let victim = tempfile::tempdir().unwrap();
    let victim_file = victim.path().join("victim");
    for what in [
        "killed holder",
        "garbage content",
        "a directory",
        "a symlink",
    ] {
        let sb = Sandbox::new();
        assert_token(&sb.get(&host(EAST)));
        let entry = entry_path(&sb, &host(EAST));
        let lock = entry.with_extension("lock");
        assert!(lock.exists());
        match what {
            "killed holder" => {
                // A shell takes the lock and SIGKILLs itself while holding it.
                let status = Command::new("sh")
                    .arg("-c")
                    .arg(r#"exec 9>>"$1"; flock -x 9; kill -9 $$"#)
                    .arg("sh")
                    .arg(&lock)
                    .status()
                    .unwrap();
                assert_eq!(
                    std::os::unix::process::ExitStatusExt::signal(&status),
                    Some(9)
                );
            }
            "garbage content" => std::fs::write(&lock, b"\x00pid 12345\n").unwrap(),
            "a directory" => {
                std::fs::remove_file(&lock).unwrap();
                std::fs::create_dir(&lock).unwrap();
            }
            _ => {
                std::fs::write(&victim_file, b"precious").unwrap();
                std::fs::remove_file(&lock).unwrap();
                std::os::unix::fs::symlink(&victim_file, &lock).unwrap();
            }
        }
        // Force a refresh: the entry is gone.
        std::fs::remove_file(&entry).unwrap();
        let started = Instant::now();
        assert_token(&sb.get(&host(EAST)));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{what}: {:?}",
            started.elapsed()
        );
        assert_eq!(calls_in(&sb, EAST), 2, "{what}");
        if what == "a symlink" {
            assert_eq!(std::fs::read(&victim_file).unwrap(), b"precious");
        }
    }
}

/// `unshare -m` + a read-only bind mount over the cache root, then exec the helper.
fn read_only_cmd(sb: &Sandbox) -> Command {
    let mut cmd = sb.command("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && touch "$1/probe" 2>/dev/null && exit 99; exec "$2" get"#)
        .arg("sh")
        .arg(sb.cache_root())
        .arg(BIN);
    cmd
}

/// The cache on a read-only filesystem (a read-only bind mount in a private mount namespace;
/// as root, permission bits would not stop writes): a cached token is still a hit, and a miss
/// is fetched and answered uncached.
#[test]
fn a_read_only_cache_filesystem_still_answers() {
    if !can_unshare_mounts("a_read_only_cache_filesystem_still_answers") {
        return;
    }
    let sb = Sandbox::new();
    assert_token(&sb.get(&host(EAST)));
    let before = std::fs::read(entry_path(&sb, &host(EAST))).unwrap();
    // Hit on the read-only filesystem.
    let out = run_cmd(read_only_cmd(&sb), &host(EAST));
    assert_ne!(
        out.status.code(),
        Some(99),
        "the bind mount is not read-only"
    );
    assert_token(&out);
    assert_eq!(calls_in(&sb, EAST), 1);
    // Misses: fetched, answered, not cached.
    for n in 1..=2 {
        let out = run_cmd(read_only_cmd(&sb), &host(WEST));
        assert_token(&out);
        assert_eq!(calls_in(&sb, WEST), n);
    }
    assert_eq!(std::fs::read(entry_path(&sb, &host(EAST))).unwrap(), before);
    assert!(!sb.root().join("cache/probe").exists());
}

/// A directory the helper can use as its working directory, and that a stray relative path
/// would land in.
fn empty_cwd() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn home_unset_still_answers() {
    // With AWS_ECR_CACHE_DIR: cached there as usual.
    let mut sb = Sandbox::new();
    sb.env_remove("HOME");
    assert_token(&sb.get(&host(EAST)));
    assert_token(&sb.get(&host(EAST)));
    assert_eq!(calls_in(&sb, EAST), 1);

    // `~` in AWS_ECR_CACHE_DIR with no HOME to expand it, or a relative path: never a cache
    // in whatever directory the client happens to run the helper from.
    for dir in ["~/.ecr", "~", "relative/cache"] {
        let mut sb = Sandbox::new();
        sb.env_remove("HOME").env(ENV_CACHE_DIR, dir);
        let cwd = empty_cwd();
        for _ in 0..2 {
            let mut cmd = sb.cmd(["get"]);
            cmd.current_dir(cwd.path());
            assert_token(&run_cmd(cmd, &host(EAST)));
        }
        assert_eq!(listing(cwd.path()), Vec::<String>::new(), "{dir}");
        assert_eq!(calls_in(&sb, EAST), 2, "{dir}: served uncached");
    }

    // No HOME, no cache variables, and a user with no passwd entry: no cache anywhere, the
    // token still answered.
    let mut sb = Sandbox::new();
    sb.env_remove("HOME")
        .env_remove(ENV_CACHE_DIR)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("XDG_CONFIG_HOME");
    let cwd = empty_cwd();
    // A copy the unprivileged user can surely execute, whatever the checkout's modes.
    let bin = cwd.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper = bin.join("docker-credential-ecr");
    copy_program(BIN, &helper);
    copy_program(ENGINE, &bin.join("docker-credential-ecr-engine"));
    let as_nobody = || {
        let mut cmd = sb.command("setpriv");
        cmd.args(["--reuid=54321", "--regid=54321", "--clear-groups"])
            .arg(&helper)
            .arg("get")
            .current_dir(cwd.path());
        cmd
    };
    for _ in 0..2 {
        assert_token(&run_cmd(as_nobody(), &host(EAST)));
    }
    assert_eq!(calls_in(&sb, EAST), 2, "no home: served uncached");
    assert_eq!(listing(cwd.path()), ["bin"]);
    assert_eq!(
        listing(&bin),
        ["docker-credential-ecr", "docker-credential-ecr-engine"]
    );
}

#[test]
fn a_cache_dir_variable_pointing_nowhere_still_answers() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let dangling = scratch.path().join("dangling");
    std::os::unix::fs::symlink(scratch.path().join("no/such/dir"), &dangling).unwrap();
    let deep = scratch.path().join("not/yet/there");
    for (dir, cached) in [
        (file.join("below-a-file"), false),
        (dangling.clone(), false),
        (PathBuf::from("/sys/kernel/no-such"), false),
        (deep.clone(), true),
    ] {
        let mut sb = Sandbox::new();
        sb.env(ENV_CACHE_DIR, &dir);
        assert_token(&sb.get(&host(EAST)));
        assert_token(&sb.get(&host(EAST)));
        let want = if cached { 1 } else { 2 };
        assert_eq!(calls_in(&sb, EAST), want, "{}", dir.display());
    }
    assert_eq!(mode(&deep.join(CACHE_SUBDIR)), 0o700);
    assert!(
        !scratch.path().join("no").exists(),
        "followed a dangling link"
    );
}

/// Files that are not the helper's, beside and inside its directory, survive its sweeps byte
/// for byte: AWS's Go helper's `cache.json` (the same `AWS_ECR_CACHE_DIR`), and anything a
/// user or another tool put in our directory, however old.
#[test]
fn foreign_files_are_never_touched() {
    let sb = Sandbox::new();
    assert_token(&sb.get(&host(EAST)));
    let root = sb.cache_root();
    let ours = sb.helper_cache_dir();
    let go_cache = br#"{"Registries":{"123456789012.dkr.ecr.us-east-1.amazonaws.com":{"AuthorizationToken":"QVdTOnB3","ExpiresAt":"2015-01-01T00:00:00Z"}}}"#;
    let foreign: Vec<(PathBuf, Vec<u8>)> = vec![
        (root.join("cache.json"), go_cache.to_vec()),
        (root.join("log/ecr-login.log"), b"go helper log\n".to_vec()),
        (ours.join("cache.json"), go_cache.to_vec()),
        (ours.join("notes.txt"), b"mine\n".to_vec()),
        (ours.join("backup.json"), b"{not ours".to_vec()),
        (ours.join("settings.lock"), Vec::new()),
        (ours.join(".editor-swap.tmp"), b"swap".to_vec()),
        (ours.join("sub/nested.json"), b"{}".to_vec()),
    ];
    let old = SystemTime::now() - Duration::from_secs(3 * 24 * 3600);
    for (p, bytes) in &foreign {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    // Make the next write sweep the directory.
    let stamp = ours.join("prune.stamp");
    let _ = std::fs::remove_file(&stamp);
    assert_token(&sb.get(&host(WEST)));
    assert!(stamp.exists(), "the sweep did not run");
    for (p, bytes) in &foreign {
        assert_eq!(
            std::fs::read(p).ok().as_ref(),
            Some(bytes),
            "{} was changed or removed",
            p.display()
        );
    }
    // And our own entries are all still hits.
    assert_token(&sb.get(&host(EAST)));
    assert_eq!(calls_in(&sb, EAST), 1);
}

/// A failure recorded "in the future" (the clock was set back after it was written, e.g. a VM
/// restored from a snapshot or a clock corrected at boot) is not shared: sharing is for
/// failures met while this process waited, and that one was not.
#[test]
fn a_failure_recorded_in_the_future_is_not_shared() {
    let sb = Sandbox::new();
    assert_token(&sb.get(&host(EAST)));
    let path = entry_path(&sb, &host(EAST));
    let mut entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let in_an_hour = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 3_600_000;
    entry["token"] = serde_json::Value::Null;
    entry["failure"] =
        serde_json::json!({"at": in_an_hour, "message": "AccessDeniedException: stale"});
    std::fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();
    assert_token(&sb.get(&host(EAST)));
    assert_eq!(calls_in(&sb, EAST), 2);
}

/// A FIFO at `prune.stamp`, old enough that a write sweeps: touching it must not block (it
/// would hold the key's lock, and every other process's refresh of that key, for ever). It is
/// replaced by a regular stamp and the sweep runs.
#[test]
fn a_fifo_at_the_prune_stamp_does_not_hang_a_refresh() {
    let sb = Sandbox::new();
    assert_token(&sb.get(&host(EAST)));
    let stamp = sb.helper_cache_dir().join("prune.stamp");
    std::fs::remove_file(&stamp).unwrap();
    mkfifo_aged(&stamp, Duration::from_secs(3600));
    std::fs::remove_file(entry_path(&sb, &host(EAST))).unwrap();
    let start = Instant::now();
    let out = run_with_timeout(
        sb.cmd(["get"]),
        host(EAST).as_bytes(),
        Duration::from_secs(10),
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the get hung on the FIFO"
    );
    assert_token(&out.expect("the get hung on the FIFO"));
    assert!(std::fs::symlink_metadata(&stamp).unwrap().is_file());
    assert_token(&sb.get(&host(EAST)));
    assert_eq!(calls_in(&sb, EAST), 2, "the new entry is a hit");
}

/// Every name the helper creates or reads in the sandbox's HOME, with its owner.
fn owners_under(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        out.push((e.path(), meta.uid()));
        if meta.is_dir() {
            out.extend(owners_under(&e.path()));
        }
    }
    out
}

/// `sudo -E docker pull`: root runs the helper with the user's HOME. It must not create
/// root-owned directories there (the user could never write their cache again): the token is
/// served uncached, nothing appears in the home, and `doctor` says why.
#[test]
fn root_with_another_users_home_creates_nothing_there() {
    if !is_root(
        "root_with_another_users_home_creates_nothing_there",
        "running the helper as root in another user's HOME",
    ) {
        return;
    }
    const USER: u32 = 65534;
    let mut sb = Sandbox::new();
    // The platform's default cache directory: $HOME/.cache/docker-credential-ecr.
    sb.env_remove(ENV_CACHE_DIR).env_remove("XDG_CACHE_HOME");
    let home = sb.home();
    std::os::unix::fs::chown(&home, Some(USER), Some(USER)).unwrap();
    for _ in 0..2 {
        assert_token(&sb.get(&host(EAST)));
    }
    assert_eq!(calls_in(&sb, EAST), 2, "served uncached");
    assert_eq!(owners_under(&home), [], "created in the user's home");
    // The user's own ~/.cache already there: still not root's to fill.
    let dot_cache = home.join(".cache");
    std::fs::create_dir(&dot_cache).unwrap();
    std::os::unix::fs::chown(&dot_cache, Some(USER), Some(USER)).unwrap();
    assert_token(&sb.get(&host(EAST)));
    assert_eq!(owners_under(&home), [(dot_cache.clone(), USER)]);
    let out = sb.run(["doctor", &host(EAST)], "");
    let text = stdout(&out);
    let cache_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("! cache"))
        .unwrap_or_else(|| panic!("no warning on the cache line:\n{text}"));
    assert!(
        cache_line.contains(&format!(
            "not creating cache directory {}: {} belongs to uid {USER}",
            dot_cache.join(CACHE_SUBDIR).display(),
            dot_cache.display()
        )),
        "{text}"
    );
    assert_eq!(
        owners_under(&home),
        [(dot_cache, USER)],
        "doctor created it"
    );
}
