//! What clients get in the cases the protocol leaves to the helper: ECR Public without AWS
//! credentials, an expired SSO session, `erase` on a cache that cannot be used, and the usage
//! text. The real binary against the ECR emulator.

use crate::common::*;
use std::process::Output;

const NOT_FOUND: &str = "credentials not found in native keychain\n";

fn without_credentials(sb: &mut Sandbox) -> &mut Sandbox {
    sb.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
}

/// "not found" on stdout (clients go on anonymously) and exactly one note on stderr that says
/// why, containing `why`.
fn assert_anonymous_with_note(out: &Output, why: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", describe(out));
    assert_eq!(stdout(out), NOT_FOUND, "{}", describe(out));
    let note = stderr(out);
    assert_eq!(note.lines().count(), 1, "not one note: {}", describe(out));
    assert!(
        note.starts_with(
            "docker-credential-ecr: public.ecr.aws: no token, so the client pulls anonymously"
        ),
        "{}",
        describe(out)
    );
    assert!(note.contains(why), "{}", describe(out));
}

#[test]
fn ecr_public_without_aws_credentials_is_not_found_with_a_note() {
    let mut sb = Sandbox::new();
    without_credentials(&mut sb);
    let out = sb.get("public.ecr.aws");
    assert_anonymous_with_note(&out, "no AWS credentials found");
    let out = sb.get("https://public.ecr.aws/v2/");
    assert_anonymous_with_note(&out, "no AWS credentials found");
    // A private registry has no anonymous access: its error stays.
    let out = sb.get(&private_host(MOTO_ACCOUNT, "us-east-1"));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stdout(&out).starts_with("no AWS credentials found"),
        "{}",
        describe(&out)
    );
}

#[test]
fn ecr_public_with_refused_credentials_is_not_found_with_a_note_for_the_whole_herd() {
    let sb = Sandbox::new();
    sb.fault("access-denied", None, None);
    let out = sb.get("public.ecr.aws");
    assert_anonymous_with_note(&out, "AccessDeniedException");
    // Processes that share the failure another one met answer the same.
    let mut children: Vec<_> = (0..8).map(|_| sb.spawn_get()).collect();
    for child in &mut children {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"public.ecr.aws").unwrap();
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_anonymous_with_note(&out, "AccessDeniedException");
    }
    let out = sb.get(&private_host(MOTO_ACCOUNT, "us-east-1"));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stdout(&out).starts_with("AccessDeniedException: "),
        "{}",
        describe(&out)
    );

    // Not every failure is about the identity: an outage is still an error.
    let sb = Sandbox::new();
    sb.fault("server-error", None, None);
    let out = sb.get("public.ecr.aws");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_ne!(stdout(&out), NOT_FOUND, "{}", describe(&out));
}

/// An IAM Identity Center profile with an `sso_session`, and the session's cached token file
/// (`~/.aws/sso/cache/<sha1 of the session name>.json`) long expired and not refreshable (no refresh token).
fn sso_sandbox(token_file: bool) -> Sandbox {
    let mut sb = Sandbox::new();
    without_credentials(&mut sb).env("AWS_PROFILE", "dev");
    let aws = sb.home().join(".aws");
    std::fs::create_dir_all(aws.join("sso/cache")).unwrap();
    std::fs::write(
        aws.join("config"),
        "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = ECRPull\nregion = us-east-1\n\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
    )
    .unwrap();
    if token_file {
        let sha1 = std::process::Command::new("sh")
            .args(["-c", "printf %s corp | sha1sum"])
            .output()
            .expect("sha1sum (coreutils)");
        let sha1 = String::from_utf8(sha1.stdout).unwrap();
        let name = sha1.split_whitespace().next().unwrap();
        assert_eq!(name.len(), 40);
        std::fs::write(
            aws.join(format!("sso/cache/{name}.json")),
            serde_json::json!({
                "startUrl": "https://corp.awsapps.com/start",
                "region": "us-east-1",
                "accessToken": "expired-access-token",
                "expiresAt": "2024-01-01T00:00:00Z",
            })
            .to_string(),
        )
        .unwrap();
    }
    sb
}

#[test]
fn an_expired_sso_session_names_the_login_command() {
    let want = "the AWS SSO session for profile \"dev\" has expired or was never started: run `aws sso login --profile dev`\n";
    for token_file in [true, false] {
        let sb = sso_sandbox(token_file);
        let out = sb.get(&private_host(MOTO_ACCOUNT, "us-east-1"));
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        assert_eq!(stdout(&out), want, "token file: {token_file}");
        // docker shows only stderr: the same line is there.
        assert!(stderr(&out).contains(want.trim_end()), "{}", describe(&out));
        assert_eq!(sb.calls(), (0, 0));
    }
    // The profile a config-file entry names is the one to log in with.
    let mut sb = sso_sandbox(true);
    sb.env_remove("AWS_PROFILE");
    sb.config(
        "config.toml",
        "[[registry]]\nmatch = \"*.dkr.ecr.us-east-1.amazonaws.com\"\nprofile = \"dev\"\n",
    );
    let out = sb.get(&private_host(MOTO_ACCOUNT, "us-east-1"));
    assert_eq!(stdout(&out), want, "{}", describe(&out));
}

#[test]
fn erase_with_an_unusable_cache_succeeds_as_there_is_nothing_to_forget() {
    let sb = Sandbox::new();
    let file_in_the_way = sb.root().join("not-a-dir");
    std::fs::write(&file_in_the_way, "x").unwrap();
    let host = private_host(MOTO_ACCOUNT, "us-east-1");
    for dir in [
        file_in_the_way.as_path(),
        std::path::Path::new("/proc/no-such-dir/cache"),
    ] {
        let mut sb = Sandbox::new();
        sb.env("AWS_ECR_CACHE_DIR", dir);
        for input in [host.as_str(), "public.ecr.aws", "ghcr.io"] {
            let out = sb.run(["erase"], input);
            assert_eq!(
                (out.status.code(), stdout(&out), stderr(&out)),
                (Some(0), String::new(), String::new()),
                "{}: {input}",
                dir.display()
            );
        }
    }
    // Nothing cached yet: erase creates no cache directory either.
    let out = sb.run(["erase"], &host);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!sb.helper_cache_dir().exists());
}

#[test]
fn help_and_unknown_commands_name_every_command() {
    let sb = Sandbox::new();
    let out = sb.run(["--help"], "");
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    let commands: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for name in COMMANDS {
        assert!(commands.contains(&name), "help lacks {name}:\n{text}");
    }
    let out = sb.run(["frobnicate"], "");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    for name in ["configure", "doctor", "kubelet"] {
        assert!(text.contains(name), "{text}");
    }
    // The reference library's line stays for protocol misuse, as clients may expect it.
    let out = sb.run(Vec::<&str>::new(), "");
    assert_eq!(
        stdout(&out),
        "Usage: docker-credential-ecr <get|store|erase|list|version>\n"
    );
}
