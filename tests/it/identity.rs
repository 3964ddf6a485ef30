//! Identities never mix: a cache entry is served only to the principal it was fetched for. Each
//! case shares one cache (and home) between two principals that the environment's variable
//! names alone cannot tell apart: container-credentials tokens, the keys and role behind one
//! profile, instance roles on two machines. Each principal signs with its own access key id, so
//! the emulator tells whose call it was, and answers with its own account's password.

use crate::common::*;
use std::sync::{Arc, Mutex};

const OTHER_ACCOUNT: &str = "210987654321";
const THIRD_ACCOUNT: &str = "333333333333";

fn host() -> String {
    private_host(MOTO_ACCOUNT, "us-east-1")
}

/// Temporary credentials as the container and instance-metadata endpoints serve them.
fn credentials_json(akid: &str) -> String {
    serde_json::json!({
        "Code": "Success",
        "Type": "AWS-HMAC",
        "AccessKeyId": akid,
        "SecretAccessKey": TEST_SECRET_KEY,
        "Token": format!("session-token-of-{akid}"),
        "Expiration": "2099-01-01T00:00:00Z",
        "LastUpdated": "2024-01-01T00:00:00Z",
    })
    .to_string()
}

/// A sandbox with no credentials of its own: the test says where they come from.
fn sandbox_without_keys() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    sb
}

/// Two principals: the first gets tokens for moto's default account, the second for another.
fn two_principals(sb: &Sandbox) -> (String, String) {
    let (a, b) = (unique_akid(), unique_akid());
    sb.emulator.set_account(&b, OTHER_ACCOUNT);
    (a, b)
}

/// An ECS/EKS Pod Identity credentials endpoint: the `Authorization` header (the container's
/// token) decides which principal's keys it hands out, as the real agents do.
fn container_endpoint(principals: &[(&str, &str)]) -> String {
    let principals: Vec<(String, String)> = principals
        .iter()
        .map(|(t, a)| (t.to_string(), a.to_string()))
        .collect();
    let port = serve(move |req| {
        let token = req.header("authorization").unwrap_or("");
        match principals.iter().find(|(t, _)| t == token) {
            Some((_, akid)) if req.path == "/creds" => json_reply(credentials_json(akid)),
            _ => (
                401,
                vec![],
                r#"{"Code":"AccessDenied","Message":"bad token"}"#.into(),
            ),
        }
    });
    format!("http://127.0.0.1:{port}/creds")
}

fn assert_served(sb: &Sandbox, akid: &str, account: &str, what: &str) {
    let answer = sb.get_ok(&host());
    assert_eq!(
        answer["Secret"],
        private_password(account).as_str(),
        "{what}: another principal's token was served"
    );
    assert_eq!(sb.emulator.calls(akid), (1, 0), "{what}");
}

#[test]
fn pods_with_the_same_credentials_uri_and_different_tokens_get_their_own_token() {
    let mut sb = sandbox_without_keys();
    let (a, b) = two_principals(&sb);
    let uri = container_endpoint(&[("pod-a-token", &a), ("pod-b-token", &b)]);
    sb.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri);

    sb.env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-a-token");
    assert_served(&sb, &a, MOTO_ACCOUNT, "pod a");
    sb.env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-b-token");
    assert_served(&sb, &b, OTHER_ACCOUNT, "pod b, same URI and cache");
    // Each keeps its own entry.
    sb.env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-a-token");
    assert_served(&sb, &a, MOTO_ACCOUNT, "pod a again");
}

#[test]
fn pods_with_the_same_token_file_path_and_different_contents_get_their_own_token() {
    let mut sb = sandbox_without_keys();
    let (a, b) = two_principals(&sb);
    let uri = container_endpoint(&[("pod-a-token", &a), ("pod-b-token", &b)]);
    // EKS Pod Identity mounts every pod's token at this one path.
    let file = sb.root().join("eks-pod-identity-token");
    sb.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &file);

    std::fs::write(&file, "pod-a-token").unwrap();
    assert_served(&sb, &a, MOTO_ACCOUNT, "pod a");
    std::fs::write(&file, "pod-b-token").unwrap();
    assert_served(&sb, &b, OTHER_ACCOUNT, "pod b, same file path and cache");
    std::fs::write(&file, "pod-a-token").unwrap();
    assert_served(&sb, &a, MOTO_ACCOUNT, "pod a again");
    for entry in std::fs::read_dir(sb.helper_cache_dir()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains("pod-a-token") && !text.contains("pod-b-token"));
    }
}

fn write_aws_file(sb: &Sandbox, name: &str, contents: &str) {
    let aws = sb.home().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(aws.join(name), contents).unwrap();
}

fn static_keys(profile: &str, akid: &str, secret: &str, session: &str) -> String {
    format!(
        "[{profile}]\naws_access_key_id = {akid}\naws_secret_access_key = {secret}\naws_session_token = {session}\n"
    )
}

#[test]
fn new_keys_behind_the_same_profile_are_a_miss_and_rotated_secrets_a_hit() {
    let mut sb = sandbox_without_keys();
    let (a, b) = two_principals(&sb);
    sb.env("AWS_PROFILE", "work");
    write_aws_file(
        &sb,
        "credentials",
        &static_keys("work", &a, "secret-1", "s1"),
    );
    assert_served(&sb, &a, MOTO_ACCOUNT, "first keys");

    // The same key id with a new secret and session token is the same principal: a hit.
    write_aws_file(
        &sb,
        "credentials",
        &static_keys("work", &a, "secret-2", "s2"),
    );
    assert_served(&sb, &a, MOTO_ACCOUNT, "rotated secret");

    // Another principal's keys under the same profile name.
    write_aws_file(
        &sb,
        "credentials",
        &static_keys("work", &b, "secret-1", "s1"),
    );
    assert_served(&sb, &b, OTHER_ACCOUNT, "new keys behind the profile");

    // The same holds for keys in the config file.
    let sb = sandbox_without_keys();
    let (a, b) = two_principals(&sb);
    let profile = |akid: &str| static_keys("default", akid, "secret", "session");
    write_aws_file(&sb, "config", &profile(&a));
    assert_served(&sb, &a, MOTO_ACCOUNT, "config keys");
    write_aws_file(&sb, "config", &profile(&b));
    assert_served(&sb, &b, OTHER_ACCOUNT, "new config keys");
}

#[test]
fn a_changed_role_behind_the_same_profile_is_a_miss() {
    let mut sb = sandbox_without_keys();
    let base = unique_akid();
    let endpoint = sb.emulator.endpoint().to_string();
    // moto's STS answers AssumeRole with keys of the role's account.
    sb.env("AWS_ENDPOINT_URL_STS", &endpoint)
        .env("AWS_PROFILE", "deploy");
    write_aws_file(
        &sb,
        "credentials",
        &static_keys("base", &base, "secret", "session"),
    );
    let role_profile = |account: &str, extra: &str| {
        format!(
            "[profile deploy]\nrole_arn = arn:aws:iam::{account}:role/puller\nsource_profile = base\n{extra}"
        )
    };
    let served = |sb: &Sandbox| sb.get_ok(&host())["Secret"].as_str().unwrap().to_string();

    write_aws_file(&sb, "config", &role_profile(OTHER_ACCOUNT, ""));
    assert_eq!(served(&sb), private_password(OTHER_ACCOUNT));
    write_aws_file(&sb, "config", &role_profile(THIRD_ACCOUNT, ""));
    assert_eq!(
        served(&sb),
        private_password(THIRD_ACCOUNT),
        "the old role's token was served after role_arn changed"
    );
    // A setting that does not select the principal keeps the entry.
    write_aws_file(
        &sb,
        "config",
        &role_profile(THIRD_ACCOUNT, "output = json\n"),
    );
    let entries = cache_files(&sb, ".json").len();
    assert_eq!(served(&sb), private_password(THIRD_ACCOUNT));
    let after = cache_files(&sb, ".json").len();
    assert_eq!(entries, after, "an unrelated setting made a new entry");
    assert_eq!(entries, 2);
}

#[test]
fn instance_roles_on_two_machines_sharing_a_home_never_mix() {
    let test = "instance_roles_on_two_machines_sharing_a_home_never_mix";
    if !can_unshare_mounts(test) {
        return;
    }
    let mut sb = sandbox_without_keys();
    let (a, b) = two_principals(&sb);
    // IMDSv2 as the SDK speaks it; the role's keys are whichever machine is answering.
    let serving = Arc::new(Mutex::new(a.clone()));
    let current = serving.clone();
    let port = serve(move |req| {
        const SESSION: &str = "imds-session-token";
        match (req.method.as_str(), req.path.as_str()) {
            ("PUT", "/latest/api/token") => {
                let ttl = req
                    .header("x-aws-ec2-metadata-token-ttl-seconds")
                    .unwrap_or("21600")
                    .to_string();
                (
                    200,
                    vec![("x-aws-ec2-metadata-token-ttl-seconds".into(), ttl)],
                    SESSION.into(),
                )
            }
            _ if req.header("x-aws-ec2-metadata-token") != Some(SESSION) => {
                (401, vec![], String::new())
            }
            ("GET", "/latest/meta-data/iam/security-credentials/") => {
                (200, vec![], "node-role".into())
            }
            ("GET", "/latest/meta-data/iam/security-credentials/node-role") => {
                json_reply(credentials_json(&current.lock().unwrap()))
            }
            _ => (404, vec![], String::new()),
        }
    });
    sb.env_remove("AWS_EC2_METADATA_DISABLED").env(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        format!("http://127.0.0.1:{port}"),
    );

    let on_machine = |machine_id: &str| {
        let id_file = sb.root().join(format!("machine-id-{machine_id}"));
        std::fs::write(&id_file, format!("{machine_id}\n")).unwrap();
        let mut cmd = sb.command("unshare");
        cmd.args(["--mount", "sh", "-c"])
            .arg("mount --bind \"$1\" /etc/machine-id && exec \"$2\" get")
            .arg("sh")
            .arg(&id_file)
            .arg(BIN);
        run_cmd(cmd, &host())
    };
    let secret = |out: &std::process::Output| {
        assert!(out.status.success(), "{}", describe(out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["Secret"].as_str().unwrap().to_string()
    };

    assert_eq!(
        secret(&on_machine("0123456789abcdef0123456789abcdef")),
        private_password(MOTO_ACCOUNT)
    );
    assert_eq!(sb.emulator.calls(&a), (1, 0));
    *serving.lock().unwrap() = b.clone();
    assert_eq!(
        secret(&on_machine("fedcba9876543210fedcba9876543210")),
        private_password(OTHER_ACCOUNT),
        "the second machine was served the first machine's token"
    );
    assert_eq!(sb.emulator.calls(&b), (1, 0));
    // And the first machine still hits its own entry.
    assert_eq!(
        secret(&on_machine("0123456789abcdef0123456789abcdef")),
        private_password(MOTO_ACCOUNT)
    );
    assert_eq!(sb.emulator.calls(&a), (1, 0));
}

/// A sandbox whose registry is pulled through an assumed role, with STS served by its emulator.
fn with_a_role() -> Sandbox {
    let mut sb = Sandbox::new();
    let endpoint = sb.emulator.endpoint().to_string();
    sb.config(
        "config.toml",
        &format!(
            "[[registry]]\nmatch = \"{}\"\nrole_arn = \"arn:aws:iam::{OTHER_ACCOUNT}:role/puller\"\n",
            host()
        ),
    );
    sb.env("AWS_ENDPOINT_URL_STS", &endpoint);
    sb
}

/// A configuration the SDK's endpoint rules refuse (FIPS or dual-stack together with a custom
/// endpoint, here for the STS call that assumes the registry's role) is reported as invalid
/// configuration naming the setting to change: nothing was unreachable and credentials exist.
#[test]
fn an_endpoint_configuration_conflict_is_reported_as_invalid_configuration() {
    for (flag, setting) in [
        ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_FIPS_ENDPOINT"),
        ("AWS_USE_DUALSTACK_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"),
    ] {
        let mut sb = with_a_role();
        sb.env(flag, "true");
        let out = sb.get(&host());
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let err = stdout(&out);
        assert!(
            err.starts_with("invalid AWS configuration"),
            "{flag}: {}",
            describe(&out)
        );
        assert!(err.contains(setting), "{flag}: the fix is not named: {err}");
        for wrong in ["cannot reach", "no AWS credentials"] {
            assert!(!err.contains(wrong), "{flag}: {err}");
        }
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert_eq!(sb.calls(), (0, 0));
    }
    // Untouched: the same setup without the conflict works.
    let sb = with_a_role();
    assert_eq!(
        sb.get_ok(&host())["Secret"],
        private_password(OTHER_ACCOUNT).as_str()
    );
}

/// A config entry's `profile` is what `aws --profile` is: a missing one is an error naming it,
/// not a silent fall-back to the environment's keys, also when the entry assumes a role on
/// top (which used to be assumed with the environment's keys).
#[test]
fn a_missing_entry_profile_is_an_error_naming_it_even_with_a_role_and_environment_keys() {
    let mut sb = with_a_role();
    sb.config(
        "config.toml",
        &format!(
            "[[registry]]\nmatch = \"{}\"\nprofile = \"nope\"\nrole_arn = \"arn:aws:iam::{OTHER_ACCOUNT}:role/puller\"\n",
            host()
        ),
    );
    let out = sb.get(&host());
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = stdout(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("profile \"nope\""), "{err}");
    assert!(err.contains("is not defined in"), "{err}");
    assert!(!err.contains("no AWS credentials"), "{err}");
}

/// How long a hit waits before the AWS files' identity vouches for a memo of them
/// (`keymemo::RACY_WINDOW`), and a little more.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(2_500);

/// Rewrites an AWS file in place (same inode) and puts its modification time back, as a tool
/// that keeps it would: only its ctime then tells the edit.
fn edit_in_place(path: &std::path::Path, contents: &str) {
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    assert_eq!(
        std::fs::metadata(path).unwrap().len(),
        contents.len() as u64
    );
    std::fs::write(path, contents).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(mtime))
        .unwrap();
}

/// A hit's key comes from a memo of the AWS files once they have been still for a while
/// (issue 18). An edit of the selected profile's keys, of the same size, in the same second as
/// a hit through that memo, and a file renamed over, are seen by the very next request.
#[test]
fn same_size_edits_in_the_same_second_as_a_hit_are_seen_by_the_next_request() {
    for (file, section) in [("config", "profile work"), ("credentials", "work")] {
        let mut sb = sandbox_without_keys();
        let (a, b) = two_principals(&sb);
        sb.env("AWS_PROFILE", "work");
        // Over 4 KiB: smaller files are parsed on every hit, never memoised.
        let keys = |akid: &str| {
            format!(
                "[{section}]\naws_access_key_id = {akid}\naws_secret_access_key = {TEST_SECRET_KEY}\n{}",
                "# generated by a tool that writes many profiles\n".repeat(100)
            )
        };
        write_aws_file(&sb, file, &keys(&a));
        let path = sb.home().join(".aws").join(file);
        assert_served(&sb, &a, MOTO_ACCOUNT, "first keys");
        std::thread::sleep(SETTLE);
        assert_served(&sb, &a, MOTO_ACCOUNT, "a hit that writes the memo");
        assert!(!cache_files(&sb, ".memo").is_empty(), "{file}: no memo");
        assert_served(&sb, &a, MOTO_ACCOUNT, "a hit through the memo");
        let hit_done = std::time::Instant::now();
        edit_in_place(&path, &keys(&b));
        assert!(hit_done.elapsed() < std::time::Duration::from_millis(500));
        assert_served(&sb, &b, OTHER_ACCOUNT, &format!("{file} edited in place"));

        // Back to the first keys by a rename over the file, same size, its mtime put back.
        std::thread::sleep(SETTLE);
        assert_served(&sb, &b, OTHER_ACCOUNT, "a hit through the new memo");
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        let new = path.with_extension("new");
        std::fs::write(&new, keys(&a)).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&new)
            .and_then(|f| f.set_modified(mtime))
            .unwrap();
        std::fs::rename(&new, &path).unwrap();
        assert_served(&sb, &a, MOTO_ACCOUNT, &format!("{file} renamed over"));
    }
}
