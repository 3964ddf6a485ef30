//! `"credsStore": "ecr"` as a whole store: credentials for hosts that are not ECR go to the
//! fallback store the config file names (`fallback_store`), here Debian's real
//! `docker-credential-pass` over `pass` and a throw-away gpg key, and come back from it.

use crate::common::*;

use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const LOGIN: &str =
    r#"{"ServerURL":"ghcr.io","Username":"octocat","Secret":"hunter2-ghcr-secret"}"#;
const SECRET: &str = "hunter2-ghcr-secret";

/// A password store of its own: `GNUPGHOME` with a passphrase-less key made in batch mode, and
/// `PASSWORD_STORE_DIR` initialised for it. Its gpg-agent is stopped on drop.
struct PassStore {
    dir: tempfile::TempDir,
}

impl PassStore {
    fn new() -> PassStore {
        let dir = tempfile::tempdir().unwrap();
        let store = PassStore { dir };
        std::fs::create_dir(store.gnupghome()).unwrap();
        std::fs::set_permissions(store.gnupghome(), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        store.ok(store
            .cmd("gpg")
            .args(["--batch", "--passphrase", "", "--quick-gen-key"])
            .args([
                "fallback-test <fallback-test@example.invalid>",
                "default",
                "default",
                "never",
            ]));
        let keys = store.ok(store
            .cmd("gpg")
            .args(["--batch", "--list-keys", "--with-colons"]));
        let fingerprint = stdout(&keys)
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| f.len() == 40))
            .expect("a key fingerprint")
            .to_string();
        store.ok(store.cmd("pass").args(["init", &fingerprint]));
        store
    }

    fn gnupghome(&self) -> PathBuf {
        self.dir.path().join("gnupg")
    }

    fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn vars(&self) -> [(&'static str, PathBuf); 2] {
        [
            ("GNUPGHOME", self.gnupghome()),
            ("PASSWORD_STORE_DIR", self.store_dir()),
        ]
    }

    fn cmd(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.vars());
        cmd
    }

    fn ok(&self, cmd: &mut Command) -> Output {
        let out = run_with_timeout(
            std::mem::replace(cmd, Command::new("true")),
            b"",
            RUN_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "{}", describe(&out));
        out
    }

    /// docker-credential-pass itself, not through the helper.
    fn pass_helper(&self, action: &str, stdin: &str) -> Output {
        let mut cmd = self.cmd("docker-credential-pass");
        cmd.arg(action);
        run_cmd(cmd, stdin)
    }

    fn sandbox(&self) -> Sandbox {
        let mut sb = Sandbox::new();
        for (k, v) in self.vars() {
            sb.env(k, v);
        }
        sb.config("config.toml", "fallback_store = \"pass\"\n");
        sb
    }
}

impl Drop for PassStore {
    fn drop(&mut self) {
        let _ = self.cmd("gpgconf").args(["--kill", "gpg-agent"]).output();
    }
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "{}", describe(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(out)))
}

#[test]
fn store_get_list_and_erase_of_another_registry_go_through_to_pass() {
    if !have(
        "store_get_list_and_erase_of_another_registry_go_through_to_pass",
        &["docker-credential-pass", "pass", "gpg", "gpgconf"],
    ) {
        return;
    }
    let pass = PassStore::new();
    let mut sb = pass.sandbox();
    sb.debug_log();
    let ecr = private_host(MOTO_ACCOUNT, "us-east-1");

    // docker login ghcr.io: stored in pass, nothing of the password on our stderr.
    let out = sb.run(["store"], LOGIN);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(stdout(&out), "");
    assert!(!stderr(&out).contains(SECRET));
    let direct = json_of(&pass.pass_helper("get", "ghcr.io"));
    assert_eq!(direct["Secret"], SECRET, "pass holds the credential");

    // docker pull ghcr.io/...: the credential comes back from pass.
    let out = sb.get("ghcr.io");
    assert_eq!(
        json_of(&out),
        json!({"ServerURL": "ghcr.io", "Username": "octocat", "Secret": SECRET})
    );
    assert!(!stderr(&out).contains(SECRET));

    // ECR hosts stay ours: a store is dropped, a get is a token.
    let out = sb.run(
        ["store"],
        &json!({"ServerURL": ecr, "Username": "AWS", "Secret": "x"}).to_string(),
    );
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), String::new()));
    assert_eq!(sb.get_ok(&ecr)["Secret"], private_password(MOTO_ACCOUNT));

    // list: ours merged with pass's.
    let out = sb.run(["list"], "unused");
    assert_eq!(
        json_of(&out),
        json!({ "ghcr.io": "octocat", format!("https://{ecr}"): "AWS" })
    );
    assert_eq!(
        json_of(&pass.pass_helper("list", "unused")),
        json!({"ghcr.io": "octocat"}),
        "the ECR store never reached pass"
    );

    // docker logout ghcr.io: gone from pass.
    let out = sb.run(["erase"], "ghcr.io");
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), String::new()));
    assert_eq!(json_of(&pass.pass_helper("list", "unused")), json!({}));
    let out = sb.run(["list"], "unused");
    assert_eq!(json_of(&out), json!({ format!("https://{ecr}"): "AWS" }));
}

#[test]
fn without_a_fallback_store_a_store_for_another_registry_fails_and_names_the_setting() {
    let sb = Sandbox::new();
    let out = sb.run(["store"], LOGIN);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("\"ghcr.io\" is not an ECR registry and no fallback store is configured"),
        "{text}"
    );
    assert!(text.contains("fallback_store = \"pass\""), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    // docker shows only stderr.
    assert!(
        stderr(&out).contains("fallback_store"),
        "{}",
        describe(&out)
    );
    // get stays the silent not-found; ECR stores still succeed.
    let out = sb.get("ghcr.io");
    assert_eq!(
        (out.status.code(), stdout(&out), out.stderr.is_empty()),
        (
            Some(1),
            "credentials not found in native keychain\n".into(),
            true
        )
    );
    let ecr = private_host(MOTO_ACCOUNT, "us-east-1");
    let out = sb.run(
        ["store"],
        &json!({"ServerURL": ecr, "Username": "AWS", "Secret": "x"}).to_string(),
    );
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), String::new()));
}

/// A directory put first on the sandbox's PATH, holding `docker-credential-<name>` scripts.
fn helpers_on_path(sb: &mut Sandbox, scripts: &[(&str, &str)]) -> PathBuf {
    let dir = sb.root().join("helpers");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in scripts {
        let path = dir.join(format!("docker-credential-{name}"));
        write_program(&path, body);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    sb.env("PATH", format!("{}:{path}", dir.display()));
    dir
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
}

#[test]
fn a_hanging_fallback_store_is_bounded_by_the_timeout_and_killed() {
    let mut sb = Sandbox::new();
    let pids = sb.root().join("pids");
    let script = format!(
        "#!/bin/sh\nsleep 60 &\necho $! >> '{p}'\necho $$ >> '{p}'\nwait\n",
        p = pids.display()
    );
    helpers_on_path(&mut sb, &[("hang", &script)]);
    sb.config("config.toml", "fallback_store = \"hang\"\n");
    sb.env("DOCKER_CREDENTIAL_ECR_TIMEOUT", "1");
    let started = Instant::now();
    let out = sb.get("ghcr.io");
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(
        stdout(&out),
        "the fallback store docker-credential-hang did not answer within 1s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)\n"
    );
    let pids: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    std::thread::sleep(Duration::from_millis(200));
    for pid in pids {
        assert!(
            !alive(pid),
            "process {pid} of the fallback store left running"
        );
    }
}

#[test]
fn a_fallback_store_that_leads_back_here_is_refused_not_spawned_forever() {
    let mut sb = Sandbox::new();
    let dir = helpers_on_path(&mut sb, &[]);
    std::os::unix::fs::symlink(BIN, dir.join("docker-credential-loop")).unwrap();
    let config = sb.config("config.toml", "fallback_store = \"loop\"\n");
    let out = sb.get("ghcr.io");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "fallback_store in {} leads back to this helper (a loop): name another helper, such as \"pass\"\n",
            config.display()
        )
    );
    // A missing helper is named, with the setting that asked for it.
    sb.config("config.toml", "fallback_store = \"no-such-helper\"\n");
    let out = sb.get("ghcr.io");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stdout(&out).starts_with(
            "cannot run the fallback store docker-credential-no-such-helper (fallback_store in "
        ),
        "{}",
        describe(&out)
    );
}

/// A fallback store's "not found" is this helper's, silent as docker expects; any other
/// failure of its is handed on as it is, and said on stderr too, which docker users see.
#[test]
fn a_fallback_stores_not_found_stays_silent_and_its_other_failures_are_shown() {
    let mut sb = Sandbox::new();
    helpers_on_path(
        &mut sb,
        &[
            (
                "empty",
                "#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n",
            ),
            ("locked", "#!/bin/sh\necho 'the store is locked'\nexit 1\n"),
        ],
    );
    sb.config("config.toml", "fallback_store = \"empty\"\n");
    for out in [sb.get("ghcr.io"), sb.run(["list"], "")] {
        assert_eq!(
            (out.status.code(), stdout(&out), out.stderr.is_empty()),
            (
                Some(1),
                "credentials not found in native keychain\n".to_string(),
                true
            ),
            "{}",
            describe(&out)
        );
    }
    sb.config("config.toml", "fallback_store = \"locked\"\n");
    for out in [sb.get("ghcr.io"), sb.run(["erase"], "ghcr.io")] {
        assert_eq!(
            (out.status.code(), stdout(&out)),
            (Some(1), "the store is locked\n".to_string()),
            "{}",
            describe(&out)
        );
        assert!(
            stderr(&out).contains(": the store is locked"),
            "{}",
            describe(&out)
        );
    }
}
