//! `configure` as users run it: the real binary in a private HOME, editing docker's
//! `config.json` and a containers `auth.json`, then the real clients (skopeo, the docker CLI)
//! reading the edited files and running the helper they name.
//!
//! The clients run a logging stand-in named `docker-credential-ecr` first on PATH, so the test
//! sees exactly which helper action each client ran for which host. No packet leaves the
//! machine: skopeo is sent through a proxy on 127.0.0.1 that refuses connections (so it resolves
//! no registry name), and the docker CLI gets a registry on 127.0.0.1 (an alias in the helper's
//! config) and a daemon address on 127.0.0.1 where nothing listens.

use crate::common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HOST: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const PUBLIC: &str = "public.ecr.aws";

/// A sandbox with the client config locations pointed into it.
struct Home {
    sb: Sandbox,
}

impl Home {
    fn new() -> Home {
        let mut sb = Sandbox::new();
        let root = sb.root().to_owned();
        sb.env("DOCKER_CONFIG", root.join("docker"))
            .env("REGISTRY_AUTH_FILE", root.join("containers/auth.json"))
            .env(ENV_CONFIG, root.join("helper.toml"))
            .env("HELPER_LOG", root.join("helper.log"))
            .env(
                "PATH",
                format!(
                    "{}:/usr/local/bin:/usr/bin:/bin",
                    root.join("bin").display()
                ),
            );
        Home { sb }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.sb.root().join(rel)
    }

    fn docker_config(&self) -> PathBuf {
        self.path("docker/config.json")
    }

    fn auth_file(&self) -> PathBuf {
        self.path("containers/auth.json")
    }

    fn helper_config(&self) -> PathBuf {
        self.path("helper.toml")
    }

    fn bin_dir(&self) -> PathBuf {
        self.path("bin")
    }

    /// A client (or the helper) with the sandbox's environment.
    fn command(&self, program: &str) -> Command {
        self.sb.command(program)
    }

    fn write_helper_config(&self) {
        if !self.helper_config().exists() {
            fs::write(self.helper_config(), "").unwrap();
        }
    }

    fn configure(&self, args: &[&str]) -> Output {
        self.write_helper_config();
        let mut cmd = self.sb.cmd(["configure"]);
        cmd.args(args)
            // Only the test's own bin: a helper installed on this machine must not count.
            .env("PATH", self.bin_dir());
        run_cmd(cmd, "")
    }

    /// A `docker-credential-ecr` first on PATH that logs `<action> <stdin>` and answers
    /// "not found", so that clients carry on anonymously.
    fn install_logging_helper(&self) {
        fs::create_dir_all(self.bin_dir()).unwrap();
        let script = self.bin_dir().join("docker-credential-ecr");
        write_program(
            &script,
            "#!/bin/sh\nread -r url\necho \"$1 $url\" >> \"$HELPER_LOG\"\necho 'credentials not found in native keychain'\nexit 1\n",
        );
    }

    fn helper_calls(&self) -> Vec<String> {
        fs::read_to_string(self.path("helper.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn write_file(path: &Path, text: &str, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn helpers_of(path: &Path) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    v["credHelpers"].clone()
}

const EXISTING: &str = "{\n\t\"auths\": {\n\t\t\"quay.io\": {\n\t\t\t\"auth\": \"eDp5\"\n\t\t}\n\t},\n\t\"credsStore\": \"desktop\",\n\t\"psFormat\": \"table {{.ID}}\"\n}\n";

#[test]
fn dry_run_prints_a_diff_and_writes_nothing() {
    let home = Home::new();
    write_file(&home.docker_config(), EXISTING, 0o600);
    let before = fs::metadata(home.docker_config()).unwrap();
    let out = home.configure(&["--dry-run", HOST]);
    let stdout = ok(&out);
    let path = home.docker_config().display().to_string();
    assert!(
        stdout.starts_with(&format!("--- {path}\n+++ {path}\n@@ ")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("\n+\t\t\"{HOST}\": \"ecr\"\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "\n-\t\"psFormat\": \"table {{.ID}}\"\n+\t\"psFormat\": \"table {{.ID}}\",\n"
        )
    );
    assert!(text(&out.stderr).contains("dry run: nothing was written"));
    assert_eq!(fs::read_to_string(home.docker_config()).unwrap(), EXISTING);
    let after = fs::metadata(home.docker_config()).unwrap();
    assert_eq!(
        (before.ino(), before.mtime_nsec()),
        (after.ino(), after.mtime_nsec())
    );
    assert!(!home.path("docker/config.json.bak").exists());

    // A file that does not exist yet is shown as created from nothing, and stays absent.
    let out = home.configure(&["--dry-run", "--containers", PUBLIC]);
    assert!(ok(&out).starts_with(&format!(
        "--- /dev/null\n+++ {}\n",
        home.auth_file().display()
    )));
    assert!(!home.auth_file().exists());
}

#[test]
fn edit_keeps_other_keys_in_order_the_mode_and_a_backup() {
    let home = Home::new();
    write_file(&home.docker_config(), EXISTING, 0o600);
    let stdout = ok(&home.configure(&[HOST, PUBLIC]));
    assert!(stdout.contains(&format!("+ {HOST} -> ecr")), "{stdout}");
    let new = fs::read_to_string(home.docker_config()).unwrap();
    // Everything that was there is still there, byte for byte and in order; ours comes last.
    let kept = EXISTING.trim_end().trim_end_matches('}').trim_end();
    assert!(new.starts_with(kept), "{new}");
    assert!(new.ends_with(&format!(
        ",\n\t\"credHelpers\": {{\n\t\t\"{HOST}\": \"ecr\",\n\t\t\"{PUBLIC}\": \"ecr\"\n\t}}\n}}\n"
    )));
    assert_eq!(mode(&home.docker_config()), 0o600);
    let backup = home.path("docker/config.json.bak");
    assert_eq!(fs::read_to_string(&backup).unwrap(), EXISTING);
    assert_eq!(mode(&backup), 0o600);

    // A wider mode that the user chose is kept too.
    let home = Home::new();
    write_file(&home.auth_file(), "{\"auths\": {}}", 0o644);
    ok(&home.configure(&["--containers", HOST]));
    assert_eq!(mode(&home.auth_file()), 0o644);
    assert_eq!(helpers_of(&home.auth_file())[HOST], "ecr");
}

#[test]
fn missing_file_is_created_private() {
    let home = Home::new();
    ok(&home.configure(&["--all", HOST]));
    for file in [home.docker_config(), home.auth_file()] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
        assert_eq!(mode(file.parent().unwrap()), 0o700, "{}", file.display());
        assert_eq!(helpers_of(&file)[HOST], "ecr");
        let mut bak = file.clone().into_os_string();
        bak.push(".bak");
        assert!(!PathBuf::from(bak).exists());
    }
}

#[test]
fn second_run_is_already_configured_and_does_not_rewrite() {
    let home = Home::new();
    write_file(&home.docker_config(), EXISTING, 0o600);
    ok(&home.configure(&[HOST, PUBLIC]));
    let first = fs::metadata(home.docker_config()).unwrap();
    let backup = fs::read_to_string(home.path("docker/config.json.bak")).unwrap();
    // Other spellings of the same hosts are the same entries.
    let stdout = ok(&home.configure(&[&format!("https://{HOST}/v2/"), "PUBLIC.ECR.AWS:443"]));
    assert!(
        stdout.contains("already configured for 2 registries; not rewritten"),
        "{stdout}"
    );
    let second = fs::metadata(home.docker_config()).unwrap();
    assert_eq!(first.ino(), second.ino(), "the file was replaced");
    assert_eq!(
        fs::read_to_string(home.path("docker/config.json.bak")).unwrap(),
        backup
    );
}

#[test]
fn unparsable_file_is_left_untouched_and_nothing_else_is_written() {
    let home = Home::new();
    let broken = "{\n  \"auths\": {},\n}\n";
    write_file(&home.auth_file(), broken, 0o600);
    write_file(&home.docker_config(), EXISTING, 0o600);
    let out = home.configure(&["--all", HOST]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "refusing to edit {}: it is not valid JSON (line 3",
            home.auth_file().display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("left untouched"), "{stderr}");
    assert_eq!(fs::read_to_string(home.auth_file()).unwrap(), broken);
    // The docker file was fine, but an edit happens everywhere or nowhere.
    assert_eq!(fs::read_to_string(home.docker_config()).unwrap(), EXISTING);
    assert!(!home.path("containers/auth.json.bak").exists());
    assert!(!home.path("docker/config.json.bak").exists());
}

#[test]
fn remove_deletes_only_our_entries() {
    let home = Home::new();
    write_file(
        &home.docker_config(),
        &format!(
            "{{\n\t\"credHelpers\": {{\n\t\t\"gcr.io\": \"gcloud\",\n\t\t\"{HOST}\": \"ecr\",\n\t\t\"{PUBLIC}\": \"ecr-login\"\n\t}}\n}}\n"
        ),
        0o600,
    );
    let out = home.configure(&["--remove"]);
    let stdout = ok(&out);
    assert!(stdout.contains(&format!("- {HOST}")), "{stdout}");
    assert_eq!(
        fs::read_to_string(home.docker_config()).unwrap(),
        format!(
            "{{\n\t\"credHelpers\": {{\n\t\t\"gcr.io\": \"gcloud\",\n\t\t\"{PUBLIC}\": \"ecr-login\"\n\t}}\n}}\n"
        )
    );
    // Naming a host routed to another helper leaves it, and says so.
    let out = home.configure(&["--remove", PUBLIC]);
    assert!(ok(&out).contains("has no entry of ours to remove; not rewritten"));
    assert!(
        text(&out.stderr)
            .contains("public.ecr.aws is routed to another helper (\"ecr-login\"); left as it is")
    );
    // Nothing to remove from a file that does not exist: it is not created.
    let out = home.configure(&["--remove", "--containers"]);
    assert!(ok(&out).contains("does not exist; nothing to remove"));
    assert!(!home.auth_file().exists());
}

#[test]
fn hosts_must_be_ecr_or_aliases_unless_forced() {
    let home = Home::new();
    let out = home.configure(&["registry.example.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("registry.example.com is not an ECR registry host nor an alias in"),
        "{}",
        text(&out.stderr)
    );
    assert!(!home.docker_config().exists());
    ok(&home.configure(&["--force", "registry.example.com"]));
    assert_eq!(
        helpers_of(&home.docker_config())["registry.example.com"],
        "ecr"
    );

    fs::write(
        home.helper_config(),
        "[[registry]]\nmatch = \"127.0.0.1:5999\"\naccount = \"123456789012\"\nregion = \"eu-west-1\"\n",
    )
    .unwrap();
    ok(&home.configure(&["127.0.0.1:5999"]));
    assert_eq!(helpers_of(&home.docker_config())["127.0.0.1:5999"], "ecr");

    let out = home.configure(&["not a host"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not a registry host name"));
    // A usage error, as for every command: clap's message on stderr, exit status 2.
    let out = home.configure(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(
        err.contains("required arguments were not provided") && err.contains("<HOST>..."),
        "{err}"
    );
    let out = home.configure(&["--bogus", "public.ecr.aws"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("unexpected argument '--bogus'"));
}

#[test]
fn all_regions_routes_every_commercial_region() {
    let home = Home::new();
    ok(&home.configure(&["--all-regions", "123456789012"]));
    let helpers = helpers_of(&home.docker_config());
    let map = helpers.as_object().unwrap();
    assert!(map.len() >= 30, "{map:?}");
    for region in [
        "us-east-1",
        "eu-west-1",
        "af-south-1",
        "ap-southeast-7",
        "mx-central-1",
    ] {
        assert_eq!(
            map[&format!("123456789012.dkr.ecr.{region}.amazonaws.com")],
            "ecr"
        );
    }
    let out = home.configure(&["--all-regions", "1234"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn warns_when_clients_cannot_find_the_helper() {
    let home = Home::new();
    let out = home.configure(&[HOST]);
    assert!(
        text(&out.stderr).contains("warning: no docker-credential-ecr on PATH"),
        "{}",
        text(&out.stderr)
    );
    home.install_logging_helper();
    let out = home.configure(&[PUBLIC]);
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains("no docker-credential-ecr on PATH"),
        "{stderr}"
    );
    // Named as clients run it: the front beside this engine, never the engine itself.
    let front = std::fs::canonicalize(BIN).unwrap();
    assert!(
        stderr.contains(&format!(
            ", not this installation's docker-credential-ecr ({})",
            front.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("-engine"), "{stderr}");
}

/// Without `/proc` (a chroot build, a minimal sandbox) `configure` still knows which file it
/// is, by the path it was started by, and still says when clients would run another helper.
#[test]
fn without_proc_it_still_names_another_helper_on_path() {
    let test = "configure::without_proc_it_still_names_another_helper_on_path";
    if !can_unshare_mounts(test) {
        return;
    }
    let home = Home::new();
    home.write_helper_config();
    home.install_logging_helper();
    let cmd = without_proc(&home.sb, &format!(r#"exec "$1" configure {HOST}"#));
    let out = run_cmd(cmd, "");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let front = std::fs::canonicalize(BIN).unwrap();
    assert!(
        text(&out.stderr).contains(&format!(
            "clients will run {}, not this installation's docker-credential-ecr ({})",
            home.bin_dir().join("docker-credential-ecr").display(),
            front.display()
        )),
        "{}",
        describe(&out)
    );
}

/// Run through the front, `configure` runs in the engine: clients that find the front on PATH
/// run this program, and no warning must say otherwise.
#[test]
fn the_front_on_path_is_this_binary() {
    let home = Home::new();
    let mut cmd = home.sb.cmd(["configure", HOST]);
    cmd.env("PATH", std::path::Path::new(BIN).parent().unwrap());
    home.write_helper_config();
    let out = run_cmd(cmd, "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn print_kubelet_config_is_a_credential_provider_config() {
    let home = Home::new();
    let stdout = ok(&home.configure(&["--print-kubelet-config"]));
    assert!(stdout.contains("\napiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: docker-credential-ecr\n"));
    assert!(stdout.contains("      - \"*.dkr.ecr.*.amazonaws.com\"\n"));
    assert!(stdout.contains("      - \"public.ecr.aws\"\n"));
    assert!(!home.docker_config().exists());
}

#[test]
fn configure_help_lists_its_options() {
    let home = Home::new();
    let stdout = ok(&home.configure(&["--help"]));
    for opt in [
        "--dry-run",
        "--remove",
        "--containers",
        "--all-regions <ACCOUNT>",
        "--print-kubelet-config",
    ] {
        assert!(stdout.contains(opt), "{opt}");
    }
}

#[test]
fn skopeo_runs_the_helper_that_configure_set_for_the_host() {
    if !have(
        "skopeo_runs_the_helper_that_configure_set_for_the_host",
        &["skopeo"],
    ) {
        return;
    }
    let skopeo = |home: &Home| {
        let mut cmd = home.command("skopeo");
        cmd.args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{HOST}/team/app:1"),
        ])
        // Through a proxy that refuses: skopeo resolves no name and reaches nothing.
        .env("HTTPS_PROXY", "http://127.0.0.1:1")
        .env("HTTP_PROXY", "http://127.0.0.1:1");
        run_cmd(cmd, "")
    };
    for target in ["--docker", "--containers"] {
        let home = Home::new();
        home.install_logging_helper();
        skopeo(&home);
        assert!(home.helper_calls().is_empty(), "not configured yet");
        ok(&home.configure(&[target, HOST]));
        let out = skopeo(&home);
        assert!(!out.status.success());
        let calls = home.helper_calls();
        assert!(
            !calls.is_empty(),
            "{target}: skopeo never ran the helper: {}",
            text(&out.stderr)
        );
        assert!(
            calls.iter().all(|c| c == &format!("get {HOST}")),
            "{target}: {calls:?}"
        );
    }
}

#[test]
fn docker_cli_runs_the_helper_that_configure_set_for_the_host() {
    if !have(
        "docker_cli_runs_the_helper_that_configure_set_for_the_host",
        &["docker"],
    ) {
        return;
    }
    let docker_pull = |home: &Home| {
        let mut cmd = home.command("docker");
        cmd.args(["pull", "127.0.0.1:5999/team/app:1"])
            .env("DOCKER_HOST", "tcp://127.0.0.1:1");
        run_cmd(cmd, "")
    };
    let home = Home::new();
    home.install_logging_helper();
    // A registry on 127.0.0.1 (an alias in the helper's config): the docker CLI looks a registry
    // name up in DNS to check it against insecure ranges, and only an address needs no lookup.
    fs::write(
        home.helper_config(),
        "[[registry]]\nmatch = \"127.0.0.1:5999\"\naccount = \"123456789012\"\nregion = \"eu-west-1\"\n",
    )
    .unwrap();
    ok(&home.configure(&["127.0.0.1:5999"]));
    let out = docker_pull(&home);
    assert!(!out.status.success(), "there is no daemon");
    assert_eq!(
        home.helper_calls(),
        ["get 127.0.0.1:5999"],
        "{}",
        text(&out.stderr)
    );

    // After --remove the docker CLI no longer runs the helper for that host.
    ok(&home.configure(&["--remove"]));
    fs::remove_file(home.path("helper.log")).unwrap();
    docker_pull(&home);
    assert!(home.helper_calls().is_empty());
}
