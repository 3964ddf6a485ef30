//! Issue 19, a shared machine: what another local user, root with a user's HOME, and a hostile
//! file cannot make the helper do. Each test acts out one finding of the review: directories
//! created under a loose umask, `configure` run by root in a user's home, secrets in a dry
//! run's diff, a fallback store found in the working directory, a config file others can write,
//! and an identity a `credential_process` picks from a variable the cache key cannot see.

use crate::common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn host() -> String {
    private_host(MOTO_ACCOUNT, "us-east-1")
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The helper under `umask <mask>`, with `args`.
fn under_umask(sb: &Sandbox, mask: &str, args: &str, stdin: &str) -> std::process::Output {
    let mut cmd = sb.command("sh");
    cmd.args(["-c", &format!("umask {mask}; exec '{BIN}' {args}")]);
    run_cmd(cmd, stdin)
}

// ---- 1. Directories the helper creates are 0700, parents included, whatever the umask.

#[test]
fn every_directory_the_helper_creates_is_private_whatever_the_umask() {
    let mut sb = Sandbox::new();
    // The default location, in a fresh home: ~/.cache/docker-credential-ecr.
    sb.env_remove(ENV_CACHE_DIR).env_remove("XDG_CACHE_HOME");
    let out = under_umask(&sb, "000", "get", &host());
    assert!(out.status.success(), "{}", describe(&out));
    let dot_cache = sb.home().join(".cache");
    assert_eq!(mode(&dot_cache), 0o700, "~/.cache under umask 000");
    assert_eq!(mode(&dot_cache.join(CACHE_SUBDIR)), 0o700);

    // A deeper cache location: every level made is 0700, even under a umask that would leave
    // the owner unable to write (0277) or others free to (000).
    for mask in ["000", "277"] {
        let mut sb = Sandbox::new();
        let root = sb.root().join(format!("deep-{mask}"));
        sb.env(ENV_CACHE_DIR, root.join("a/b"));
        let out = under_umask(&sb, mask, "get", &host());
        assert!(out.status.success(), "{}", describe(&out));
        for dir in [root.clone(), root.join("a"), root.join("a/b")] {
            assert_eq!(mode(&dir), 0o700, "umask {mask}: {}", dir.display());
        }
        assert_eq!(sb.calls(), (1, 0));
        under_umask(&sb, mask, "get", &host());
        assert_eq!(sb.calls(), (1, 0), "umask {mask}: the second get is a hit");
    }
}

#[test]
fn configure_creates_the_clients_directories_private_whatever_the_umask() {
    let mut sb = Sandbox::new();
    let docker = sb.root().join("new/docker");
    sb.env("DOCKER_CONFIG", &docker)
        .env(ENV_CONFIG, "/dev/null")
        .env("PATH", "/usr/bin:/bin");
    for mask in ["000", "277"] {
        let out = under_umask(&sb, mask, &format!("configure {}", host()), "");
        assert!(out.status.success(), "umask {mask}: {}", describe(&out));
        for dir in [sb.root().join("new"), docker.clone()] {
            assert_eq!(mode(&dir), 0o700, "umask {mask}: {}", dir.display());
        }
        fs::remove_dir_all(sb.root().join("new")).unwrap();
    }
}

// ---- 2. `configure` as root in a user's home neither follows nor creates into it.

const USER: u32 = 4242;

fn give(path: &Path) {
    std::os::unix::fs::lchown(path, Some(USER), Some(USER)).unwrap();
}

/// A home that belongs to `USER`, with `DOCKER_CONFIG` in it, for root to run `configure` with.
fn users_home(sb: &mut Sandbox) -> PathBuf {
    let home = sb.root().join("alice");
    fs::create_dir(&home).unwrap();
    set_mode(&home, 0o755);
    give(&home);
    sb.env("HOME", &home)
        .env("DOCKER_CONFIG", home.join(".docker"))
        .env(ENV_CONFIG, "/dev/null")
        .env("PATH", "/usr/bin:/bin");
    home
}

fn assert_refused_for_the_user(out: &std::process::Output, path: &Path) {
    assert_eq!(out.status.code(), Some(1), "{}", describe(out));
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains(&format!("uid {USER}")), "{err}");
    assert!(err.contains("sudo -u"), "says what to run instead: {err}");
}

#[test]
fn configure_as_root_never_follows_a_users_link_into_a_root_only_file() {
    let test = "configure_as_root_never_follows_a_users_link_into_a_root_only_file";
    if !is_root(test, "root editing another user's config") {
        return;
    }
    let mut sb = Sandbox::new();
    let home = users_home(&mut sb);
    let secret = sb.root().join("root-only.json");
    fs::write(&secret, "{}\n").unwrap();
    set_mode(&secret, 0o600);
    let docker = home.join(".docker");
    fs::create_dir(&docker).unwrap();
    give(&docker);
    let link = docker.join("config.json");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    give(&link);
    let out = sb.run(["configure", &host()], "");
    assert_refused_for_the_user(&out, &docker);
    assert_eq!(fs::read_to_string(&secret).unwrap(), "{}\n");
    assert!(!sb.root().join("root-only.json.bak").exists());
}

#[test]
fn configure_as_root_creates_nothing_in_a_users_home() {
    let test = "configure_as_root_creates_nothing_in_a_users_home";
    if !is_root(test, "root editing another user's config") {
        return;
    }
    let mut sb = Sandbox::new();
    let home = users_home(&mut sb);
    let out = sb.run(["configure", &host()], "");
    assert_refused_for_the_user(&out, &home);
    assert!(!home.join(".docker").exists(), "created ~/.docker as root");
    // The user's own file is not root's to replace either (the directory is the user's).
    let docker = home.join(".docker");
    fs::create_dir(&docker).unwrap();
    give(&docker);
    fs::write(docker.join("config.json"), "{}\n").unwrap();
    give(&docker.join("config.json"));
    let out = sb.run(["configure", &host()], "");
    assert_refused_for_the_user(&out, &docker);
    assert_eq!(
        fs::read_to_string(docker.join("config.json")).unwrap(),
        "{}\n"
    );
}

// ---- 3. `configure --dry-run` shows no stored secret.

#[test]
fn a_dry_runs_diff_redacts_every_stored_secret() {
    let mut sb = Sandbox::new();
    let docker = sb.root().join("docker");
    fs::create_dir(&docker).unwrap();
    let secrets = [
        "dXNlcjpodW50ZXIy",
        "pw-hunter2",
        "idtok-hunter2",
        "regtok-hunter2",
    ];
    // Every secret within the diff's three lines of context of the edit (`credsStore` gains a
    // comma), one line per registry as some tools write them.
    let config = format!(
        "{{\n\t\"auths\": {{\n\t\t\"ghcr.io\": {{\"Auth\": \"{}\", \"identitytoken\": \"{}\", \"registrytoken\" : \"{}\"}},\n\t\t\"quay.io\": {{\"auth\": \"{}\", \"Password\": \"{}\"}}\n\t}},\n\t\"credsStore\": \"desktop\"\n}}\n",
        secrets[0], secrets[2], secrets[3], secrets[0], secrets[1]
    );
    fs::write(docker.join("config.json"), &config).unwrap();
    sb.env("DOCKER_CONFIG", &docker)
        .env(ENV_CONFIG, "/dev/null")
        .env("PATH", "/usr/bin:/bin");
    let out = sb.run(["configure", "--dry-run", &host()], "");
    assert!(out.status.success(), "{}", describe(&out));
    let diff = stdout(&out);
    assert!(
        diff.contains(&format!("+\t\t\"{}\": \"ecr\"", host())),
        "{diff}"
    );
    for secret in secrets {
        assert!(!diff.contains(secret), "{secret} shown:\n{diff}");
    }
    assert!(diff.contains("\"auth\": \"<redacted>\""), "{diff}");
    assert!(
        diff.contains("\"registrytoken\" : \"<redacted>\""),
        "{diff}"
    );
    assert_eq!(
        fs::read_to_string(docker.join("config.json")).unwrap(),
        config
    );
}

// ---- 4. The fallback store: absolute PATH entries only, and a minimal environment.

#[test]
fn the_fallback_store_is_never_run_from_the_working_directory() {
    let mut sb = Sandbox::new();
    let cwd = sb.root().join("cwd");
    fs::create_dir_all(cwd.join("rel")).unwrap();
    let marker = sb.root().join("ran");
    let body = format!(
        "#!/bin/sh\necho \"$AWS_SECRET_ACCESS_KEY\" > '{}'\n",
        marker.display()
    );
    write_program(&cwd.join("docker-credential-planted"), &body);
    write_program(&cwd.join("rel/docker-credential-planted"), &body);
    sb.config("config.toml", "fallback_store = \"planted\"\n");
    for path in [
        "/usr/bin:/bin:",
        ":/usr/bin",
        "/usr/bin::/bin",
        "rel:/usr/bin",
        ".:/bin",
    ] {
        sb.env("PATH", path);
        let mut cmd = sb.cmd(["get"]);
        cmd.current_dir(&cwd);
        let out = run_cmd(cmd, "ghcr.io");
        assert!(
            !marker.exists(),
            "PATH={path}: ran ./docker-credential-planted"
        );
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        assert!(
            stdout(&out).starts_with("cannot run the fallback store docker-credential-planted"),
            "PATH={path}: {}",
            describe(&out)
        );
    }
}

#[test]
fn the_fallback_store_gets_only_the_variables_it_needs() {
    let mut sb = Sandbox::new();
    let bin = sb.root().join("bin");
    fs::create_dir(&bin).unwrap();
    let dump = sb.root().join("env.txt");
    write_program(
        &bin.join("docker-credential-dump"),
        &format!(
            "#!/bin/sh\nenv > '{}'\necho 'credentials not found in native keychain'\nexit 1\n",
            dump.display()
        ),
    );
    sb.config("config.toml", "fallback_store = \"dump\"\n");
    sb.env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("AWS_SESSION_TOKEN", "session-hunter2")
        .env("AWS_PROFILE", "prod")
        .env("UNRELATED_SECRET", "hunter2")
        .env("PASSWORD_STORE_DIR", "/store")
        .env("GNUPGHOME", "/gnupg")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/bus")
        .env("LC_ALL", "C.UTF-8");
    let out = sb.get("ghcr.io");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let env = fs::read_to_string(&dump).unwrap();
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, _)| n)
        .collect();
    for kept in [
        "PATH",
        "HOME",
        "PASSWORD_STORE_DIR",
        "GNUPGHOME",
        "DBUS_SESSION_BUS_ADDRESS",
        "LC_ALL",
        "DOCKER_CREDENTIAL_ECR_FORWARDED",
    ] {
        assert!(names.contains(&kept), "{kept} missing:\n{env}");
    }
    for name in &names {
        assert!(!name.starts_with("AWS_"), "{name} passed on:\n{env}");
    }
    assert!(!env.contains("hunter2"), "{env}");
}

// ---- 6. A config file others can write is refused.

#[test]
fn a_config_file_others_can_write_is_refused_naming_it() {
    let mut sb = Sandbox::new();
    let alias = "[[registry]]\nmatch = \"registry.example.com\"\naccount = \"123456789012\"\nregion = \"us-east-1\"\n";
    let file = sb.config("config.toml", alias);
    for loose in [0o666, 0o620, 0o602] {
        set_mode(&file, loose);
        let out = sb.get("registry.example.com");
        assert_eq!(out.status.code(), Some(1), "{loose:o}: {}", describe(&out));
        let answer = stdout(&out);
        assert_eq!(answer.lines().count(), 1, "{answer}");
        assert!(answer.contains(&file.display().to_string()), "{answer}");
        assert!(answer.contains("writable by"), "{answer}");
    }
    assert_eq!(
        sb.calls(),
        (0, 0),
        "a token was fetched for an alias others wrote"
    );
    set_mode(&file, 0o644);
    assert!(sb.get("registry.example.com").status.success());

    // A directory on its path that others can write: refused unless sticky (as /tmp is).
    let dir = sb.root().join("shared");
    fs::create_dir(&dir).unwrap();
    let inside = dir.join("config.toml");
    fs::write(&inside, alias).unwrap();
    sb.env(ENV_CONFIG, &inside);
    set_mode(&dir, 0o777);
    let out = sb.get("registry.example.com");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stdout(&out).contains(&dir.display().to_string()),
        "{}",
        describe(&out)
    );
    set_mode(&dir, 0o1777);
    assert!(sb.get("registry.example.com").status.success(), "sticky");

    // The default path too: ~/.config/docker-credential-ecr/config.toml.
    sb.env_remove(ENV_CONFIG);
    let default = sb
        .xdg_config_home()
        .join("docker-credential-ecr/config.toml");
    fs::create_dir_all(default.parent().unwrap()).unwrap();
    fs::write(&default, alias).unwrap();
    set_mode(&default, 0o664);
    let out = sb.get("registry.example.com");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stdout(&out).contains(&default.display().to_string()));
    let out = sb.run(["doctor", "registry.example.com"], "");
    assert!(stdout(&out).contains("writable by"), "{}", describe(&out));
}

// ---- 8. An identity chosen outside the hashed files: keyed by the variables named.

const TENANT_VAR: &str = "DOCKER_CREDENTIAL_ECR_KEY_VARS";

/// A `credential_process` that picks its keys from `$TEAM`, as a multi-tenant runner's does:
/// BRAVO's keys for `TEAM=bravo`, ALPHA's (the sandbox's own) otherwise.
fn tenant_sandbox() -> (Sandbox, String, String) {
    let mut sb = Sandbox::new();
    let (alpha, bravo) = (sb.akid.clone(), unique_akid());
    sb.emulator.set_account(&bravo, "210987654321");
    sb.use_credential_process(&format!(
        "if [ \"$TEAM\" = bravo ]; then echo '{{\"Version\":1,\"AccessKeyId\":\"{bravo}\",\"SecretAccessKey\":\"{TEST_SECRET_KEY}\"}}'; exit 0; fi"
    ));
    (sb, alpha, bravo)
}

#[test]
fn tenants_chosen_by_a_variable_get_their_own_token_when_it_is_named() {
    let (mut sb, alpha, bravo) = tenant_sandbox();
    sb.env(TENANT_VAR, "TEAM,TENANT");
    sb.env("TEAM", "alpha-team-name");
    let a = sb.get_ok(&host());
    assert_eq!(a["Secret"], private_password(MOTO_ACCOUNT).as_str());
    sb.env("TEAM", "bravo");
    let b = sb.get_ok(&host());
    assert_eq!(
        b["Secret"],
        private_password("210987654321").as_str(),
        "ALPHA's token served to BRAVO"
    );
    assert_eq!(sb.emulator.calls(&bravo), (1, 0));
    sb.env("TEAM", "alpha-team-name");
    sb.get_ok(&host());
    assert_eq!(sb.emulator.calls(&alpha), (1, 0), "alpha's entry kept");
    // The values are hashed: neither the cache nor doctor shows them.
    let files = cache_files(&sb, "");
    assert!(!files.is_empty(), "no cache files to look in");
    for f in files {
        let text = fs::read_to_string(&f).unwrap_or_default();
        assert!(!text.contains("alpha-team-name"), "{}", f.display());
    }
    let out = sb.run(["doctor", &host()], "");
    let report = stdout(&out);
    assert!(!report.contains("alpha-team-name"), "{report}");
    assert!(report.contains("TEAM, TENANT"), "{report}");
}

#[test]
fn doctor_says_what_the_cache_key_cannot_see() {
    let (sb, _, _) = tenant_sandbox();
    let out = sb.run(["doctor", &host()], "");
    let report = stdout(&out);
    assert!(report.contains(TENANT_VAR), "{report}");
    assert!(report.contains("credential_process"), "{report}");
}
