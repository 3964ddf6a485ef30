//! Errors that name the real cause, and settings never dropped without a word: an unparsable or
//! unusable AWS file named (with its line) in every mode, never blamed on a variable nobody set
//! or on the image; unusable logging and timeout values said on stderr (stdout keeps to the
//! protocol); every path variable expanded by one rule.

use crate::common::*;
use std::path::PathBuf;
use std::process::Output;

const KUBELET_REQUEST: &str = r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"}"#;

/// `~/.aws/config` with profile `dev` defined, and line 4 something the SDK's parser refuses.
fn unparsable_aws_config(sb: &Sandbox) -> PathBuf {
    let dir = sb.home().join(".aws");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config");
    std::fs::write(
        &path,
        "[profile dev]\nregion = us-east-1\n\nthis line is not a setting\n",
    )
    .unwrap();
    path
}

fn names_the_file_and_line(text: &str, path: &std::path::Path) -> bool {
    text.contains(&format!("{} on line 4", path.display()))
}

#[test]
fn an_unparsable_aws_config_is_named_with_its_line_by_get() {
    // Environment keys and no profile: the file is still read, and still broken.
    let sb = Sandbox::new();
    let path = unparsable_aws_config(&sb);
    let out = sb.get(&private_host(MOTO_ACCOUNT, "us-east-1"));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        names_the_file_and_line(&stdout(&out), &path),
        "{}",
        describe(&out)
    );
    assert_eq!(stdout(&out).lines().count(), 1, "{}", describe(&out));
}

#[test]
fn an_unparsable_aws_config_is_not_called_a_foreign_image_by_the_kubelet_mode() {
    let sb = Sandbox::new();
    let path = unparsable_aws_config(&sb);
    let out = sb.run(["kubelet"], KUBELET_REQUEST);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stderr(&out);
    assert!(names_the_file_and_line(&err, &path), "{}", describe(&out));
    assert!(
        !err.contains("not an Amazon ECR registry") && !err.contains("matchImages"),
        "{}",
        describe(&out)
    );
    assert!(out.stdout.is_empty(), "{}", describe(&out));
}

#[test]
fn doctor_does_not_call_a_profile_of_an_unparsable_file_undefined() {
    let mut sb = Sandbox::new();
    let path = unparsable_aws_config(&sb);
    sb.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_PROFILE", "dev");
    let out = sb.run(["doctor", &private_host(MOTO_ACCOUNT, "us-east-1")], "");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(names_the_file_and_line(&text, &path), "{text}");
    assert!(!text.contains("is not defined"), "{text}");
    assert!(!text.contains("(not found)"), "{text}");
}

#[test]
fn an_unusable_default_aws_config_is_named_without_blaming_its_variable() {
    let sb = Sandbox::new();
    let path = sb.home().join(".aws/config");
    std::fs::create_dir_all(&path).unwrap();
    let out = sb.get(&private_host(MOTO_ACCOUNT, "us-east-1"));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text.contains(&format!(
            "{} (the default; AWS_CONFIG_FILE is unset) is not a regular file",
            path.display()
        )),
        "{}",
        describe(&out)
    );
}

/// The answer on stdout is the protocol's, untouched; stderr has exactly one line, about `var`.
fn answered_with_one_warning(out: &Output, var: &str, value: &str) {
    assert!(out.status.success(), "{var}={value:?}: {}", describe(out));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{var}={value:?}: stdout is not the answer ({e}): {}",
            describe(out)
        )
    });
    assert_eq!(answer["Username"], "AWS");
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "{var}={value:?}: {}", describe(out));
    assert!(
        err.contains(&format!("{var}={value:?}")),
        "{var}={value:?}: {}",
        describe(out)
    );
}

#[test]
fn unusable_log_values_are_said_once_on_stderr() {
    for value in ["verbose", "99", "level=debug"] {
        let mut sb = Sandbox::new();
        sb.env(ENV_LOG, value);
        let host = private_host(MOTO_ACCOUNT, "us-east-1");
        // A miss (the engine fetches) and a hit (the engine answers from the cache).
        for _ in 0..2 {
            let out = sb.get(&host);
            answered_with_one_warning(&out, ENV_LOG, value);
            assert!(
                stderr(&out).contains("logging stays off"),
                "{}",
                describe(&out)
            );
        }
    }
}

#[test]
fn unusable_timeouts_are_said_once_on_stderr() {
    for value in ["abc", "0", "-1", "1e12"] {
        let mut sb = Sandbox::new();
        sb.env(ENV_TIMEOUT, value);
        let host = private_host(MOTO_ACCOUNT, "us-east-1");
        // A miss (the front hands over to the engine: one warning between them), then a hit
        // (the front alone).
        for _ in 0..2 {
            let out = sb.get(&host);
            answered_with_one_warning(&out, ENV_TIMEOUT, value);
            assert!(
                stderr(&out).contains("using the default, 10s"),
                "{}",
                describe(&out)
            );
        }
        assert_eq!(sb.calls(), (1, 0));
    }
}

#[test]
fn the_config_variable_expands_a_tilde_like_the_cache_variable() {
    let mut sb = Sandbox::new();
    std::fs::write(
        sb.home().join("ecr.toml"),
        "[[registry]]\nmatch = \"registry.example.com\"\naccount = \"123456789012\"\nregion = \"eu-west-1\"\n",
    )
    .unwrap();
    sb.env(ENV_CONFIG, "~/ecr.toml")
        .env(ENV_CACHE_DIR, "~/cache");
    let answer = sb.get_ok("registry.example.com");
    assert_eq!(answer["Username"], "AWS");
    assert!(sb.home().join("cache").join(CACHE_SUBDIR).is_dir());
}

const PROFILE_ROLE: &str = "arn:aws:iam::123456789012:role/puller";
const CONFIG_ROLE: &str = "arn:aws:iam::123456789012:role/from-config";

/// An STS that refuses every AssumeRole, as STS answers a role whose trust policy does not
/// name the caller. Returns its endpoint.
fn refusing_sts() -> String {
    let port = serve(|_| {
        let body = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole on resource: {PROFILE_ROLE}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
        );
        (403, vec![("Content-Type".into(), "text/xml".into())], body)
    });
    format!("http://127.0.0.1:{port}")
}

/// A loopback port nothing listens on: STS unreachable, at once.
fn unreachable_sts() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Profile `deploy` assumes `PROFILE_ROLE` with the static keys of profile `base`.
fn role_profile_sandbox(sts: &str) -> Sandbox {
    let mut sb = Sandbox::new();
    let aws = sb.home().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("config"),
        format!(
            "[profile deploy]\nrole_arn = {PROFILE_ROLE}\nsource_profile = base\n[profile base]\naws_access_key_id = {}\naws_secret_access_key = {TEST_SECRET_KEY}\n",
            sb.akid
        ),
    )
    .unwrap();
    sb.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_PROFILE", "deploy")
        .env("AWS_ENDPOINT_URL_STS", sts)
        .disable_cache();
    sb
}

fn names_the_role_and_sts(text: &str, role: &str) -> bool {
    text.contains(&format!("cannot assume role {role} through AWS STS"))
        && !text.contains("no AWS credentials found")
        && !text.contains("set AWS_PROFILE")
}

#[test]
fn a_profile_role_sts_refuses_is_named_with_sts_and_the_refusal() {
    let sb = role_profile_sandbox(&refusing_sts());
    let out = sb.get(&private_host(MOTO_ACCOUNT, "us-east-1"));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(names_the_role_and_sts(&text, PROFILE_ROLE), "{text}");
    assert!(text.contains("AccessDenied"), "{text}");
    assert!(text.contains("trust policy"), "{text}");
    assert_eq!(sb.calls(), (0, 0));
}

#[test]
fn a_profile_role_behind_an_unreachable_sts_is_named_with_sts_by_get_and_doctor() {
    let sb = role_profile_sandbox(&unreachable_sts());
    let host = private_host(MOTO_ACCOUNT, "us-east-1");
    let out = sb.get(&host);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(names_the_role_and_sts(&text, PROFILE_ROLE), "{text}");
    assert!(text.contains("AWS_ENDPOINT_URL_STS"), "{text}");

    let out = sb.run(["doctor", &host], "");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(!text.contains("found none"), "{text}");
    let token_line = text
        .lines()
        .find(|l| l.contains("token "))
        .unwrap_or_else(|| panic!("no token line:\n{text}"));
    assert!(names_the_role_and_sts(token_line, PROFILE_ROLE), "{text}");
    let credentials = text
        .lines()
        .skip_while(|l| !l.contains("credentials"))
        .nth(1)
        .unwrap_or_default();
    assert!(names_the_role_and_sts(credentials, PROFILE_ROLE), "{text}");
}

#[test]
fn a_config_file_role_sts_refuses_is_named_by_get_and_doctor() {
    let mut sb = Sandbox::new();
    sb.config(
        "config.toml",
        &format!("[[registry]]\nmatch = \"{MOTO_ACCOUNT}\"\nrole_arn = \"{CONFIG_ROLE}\"\n"),
    );
    sb.env("AWS_ENDPOINT_URL_STS", refusing_sts())
        .disable_cache();
    let host = private_host(MOTO_ACCOUNT, "us-east-1");
    let out = sb.get(&host);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(names_the_role_and_sts(&text, CONFIG_ROLE), "{text}");
    let out = sb.run(["doctor", &host], "");
    let text = stdout(&out);
    assert!(!text.contains("found none"), "{text}");
    assert!(names_the_role_and_sts(&text, CONFIG_ROLE), "{text}");
}

/// A real limit: `prlimit --nproc` binds an unprivileged user (root is exempt), so the helper
/// runs as one with room for itself and no thread more. The error names the limit, not the
/// errno's "Resource temporarily unavailable".
#[test]
fn a_process_limit_that_stops_a_thread_is_named() {
    let test = "messages::a_process_limit_that_stops_a_thread_is_named";
    if !is_root(
        test,
        "switching to an unprivileged user whose ulimit -u binds",
    ) || !have(test, &["prlimit", "setpriv"])
    {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper = bin.path().join("docker-credential-ecr");
    copy_program(BIN, &helper);
    copy_program(ENGINE, &bin.path().join("docker-credential-ecr-engine"));
    let sb = Sandbox::new();
    let limited = || {
        let mut cmd = sb.command("prlimit");
        // A user id no other test runs as: the limit counts every process of the user.
        cmd.args(["--nproc=1:1", "setpriv", "--reuid=54399", "--regid=54399"])
            .args(["--clear-groups"])
            .arg(&helper)
            .arg("get")
            .current_dir(bin.path());
        cmd
    };
    let out = run_cmd(limited(), &private_host(MOTO_ACCOUNT, "us-east-1"));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text.contains("cannot start a thread: the limit on processes and threads is reached (ulimit -u, or the container's pids limit)"),
        "{}",
        describe(&out)
    );
    assert!(!text.contains("temporarily unavailable"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
}

/// A usage error of a command is one line, as every other error: clap's message, its tips and
/// the command's usage, on stderr with exit status 2.
#[test]
fn usage_errors_of_the_commands_are_one_line() {
    let sb = Sandbox::new();
    for (args, wants) in [
        (
            &["doctor", "--bogus"][..],
            "usage: docker-credential-ecr doctor [HOST]...",
        ),
        (
            &["configure", "--al"],
            "tip: a similar argument exists: '--all'",
        ),
        (
            &["kubelet", "extra"],
            "usage: docker-credential-ecr kubelet",
        ),
        (
            &["configure", "--all-regions"],
            "a value is required for '--all-regions",
        ),
    ] {
        let out = sb.run(args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        assert!(out.stdout.is_empty(), "{args:?}: {}", describe(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {}", describe(&out));
        assert!(
            err.starts_with("docker-credential-ecr: "),
            "{args:?}: {err}"
        );
        assert!(err.contains(wants), "{args:?}: {err}");
    }
}

/// `get --help` (any verb's) is the verb's help, not the protocol's usage line: only a person
/// asks for it. With any other second word the protocol's rule stands.
#[test]
fn a_verbs_help_is_its_help() {
    let sb = Sandbox::new();
    for verb in ["get", "store", "erase", "list", "version"] {
        for flag in ["--help", "-h"] {
            let out = sb.run([verb, flag], "");
            assert_eq!(
                out.status.code(),
                Some(0),
                "{verb} {flag}: {}",
                describe(&out)
            );
            let text = stdout(&out);
            assert!(
                text.contains(&format!("Usage: docker-credential-ecr {verb}")),
                "{verb} {flag}: {text}"
            );
            assert!(text.lines().count() > 3, "{verb} {flag}: {text}");
        }
    }
    let out = sb.run(["get", "--bogus"], "");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        stdout(&out),
        "Usage: docker-credential-ecr <get|store|erase|list|version>\n"
    );
}

/// Whoever installed the binary alone learns from `--help` how to get the man page.
#[test]
fn help_lists_generate() {
    let out = Sandbox::new().run(["--help"], "");
    let text = stdout(&out);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(text.contains("--generate <KIND>"), "{text}");
    assert!(
        text.contains("man, bash, zsh, fish, elvish, powershell"),
        "{text}"
    );
}

/// IRSA or a CI's OIDC token: AssumeRoleWithWebIdentity that cannot reach STS is named too.
#[test]
fn a_web_identity_role_behind_an_unreachable_sts_is_named_with_sts() {
    let mut sb = Sandbox::new();
    let token = sb.root().join("web-identity-token");
    std::fs::write(&token, "header.payload.signature").unwrap();
    sb.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_ROLE_ARN", PROFILE_ROLE)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
        .env("AWS_ENDPOINT_URL_STS", unreachable_sts())
        .disable_cache();
    let out = sb.get(&private_host(MOTO_ACCOUNT, "us-east-1"));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text.starts_with(&format!(
            "cannot assume role {PROFILE_ROLE} with a web identity token through AWS STS: "
        )),
        "{text}"
    );
    assert!(!text.contains("no AWS credentials found"), "{text}");
}
