//! `doctor`, end to end: the real binary against the ECR emulator, with docker and containers
//! config files in a sandboxed HOME.

use crate::common::*;
use std::process::Output;

fn docker_config(sb: &Sandbox, json: &str) {
    let dir = sb.home().join(".docker");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), json).unwrap();
}

/// A sandbox whose containers auth files are its own (not the machine's /run/containers).
fn sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    let runtime = sb.root().join("run");
    sb.env("XDG_RUNTIME_DIR", runtime);
    sb
}

fn doctor(sb: &Sandbox, hosts: &[&str]) -> (i32, String) {
    let out: Output = sb.run(std::iter::once("doctor").chain(hosts.iter().copied()), "");
    let text = String::from_utf8(out.stdout.clone()).expect("doctor prints UTF-8");
    for secret in [
        TEST_SECRET_KEY.to_string(),
        private_password(MOTO_ACCOUNT),
        PUBLIC_PASSWORD.to_string(),
        sb.akid.clone(),
    ] {
        assert!(
            !text.contains(&secret),
            "doctor printed {secret:?}:\n{text}"
        );
    }
    assert!(!text.contains('\x1b'), "colours on a pipe:\n{text}");
    (out.status.code().unwrap_or(-1), text)
}

fn has_line(text: &str, mark: &str, label: &str, contains: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with(&format!("{mark} {label}")) && l.contains(contains)
    })
}

#[test]
fn a_working_setup_passes_every_check() {
    let sb = sandbox();
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    docker_config(
        &sb,
        &format!(r#"{{"credHelpers": {{"{host}": "ecr", "public.ecr.aws": "ecr"}}}}"#),
    );
    // No host: every registry the clients route here.
    let (code, text) = doctor(&sb, &[]);
    assert_eq!(code, 0, "{text}");
    let masked = format!("{}…{}", &sb.akid[..4], &sb.akid[sb.akid.len() - 4..]);
    for (mark, label, contains) in [
        (
            "✓",
            "registry",
            "ECR private registry: account 123456789012, region eu-west-1",
        ),
        ("✓", "registry", "ECR Public"),
        ("·", "config entry", "no entry matched"),
        (
            "✓",
            "credentials",
            &format!("environment (AWS_ACCESS_KEY_ID {masked})"),
        ),
        ("·", "api", "(AWS_ENDPOINT_URL_ECR), region eu-west-1"),
        (
            "·",
            "api",
            "(AWS_ENDPOINT_URL_ECR_PUBLIC), region us-east-1",
        ),
        ("·", "cache", "(no entry yet)"),
        ("✓", "docker", &format!("credHelpers[\"{host}\"] = \"ecr\"")),
        ("✓", "podman/skopeo", ".docker/config.json"),
        ("✓", "token", "fetched in"),
    ] {
        assert!(
            has_line(&text, mark, label, contains),
            "no {mark} {label} …{contains}… in:\n{text}"
        );
    }
    assert!(text.contains("resolved by the SDK in"), "{text}");
    assert!(
        text.ends_with("✓ a token can be had for 2 of 2 registries\n"),
        "{text}"
    );
    assert_eq!(sb.calls(), (1, 1));

    // The second time the token comes from the cache, as it would for `get`.
    let (code, text) = doctor(&sb, &[&format!("https://{host}/v2/")]);
    assert_eq!(code, 0, "{text}");
    assert!(
        has_line(&text, "✓", "cache", "token valid, expires in 11h"),
        "{text}"
    );
    assert!(has_line(&text, "✓", "token", "cache hit in"), "{text}");
    assert_eq!(sb.calls(), (1, 1));
}

#[test]
fn api_errors_fail_with_the_services_message() {
    let sb = sandbox();
    sb.fault("access-denied", None, None);
    let host = private_host(MOTO_ACCOUNT, "us-west-2");
    let (code, text) = doctor(&sb, &[&host]);
    assert_eq!(code, 1, "{text}");
    assert!(
        has_line(&text, "✗", "token", "AccessDeniedException"),
        "{text}"
    );
    assert!(has_line(&text, "!", "docker", "does not exist"), "{text}");
    assert!(
        text.ends_with("✗ a token can be had for 0 of 1 registries\n"),
        "{text}"
    );
}

#[test]
fn missing_credentials_are_explained() {
    let mut sb = sandbox();
    sb.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_PROFILE", "dev");
    let (code, text) = doctor(&sb, &[&private_host(MOTO_ACCOUNT, "eu-west-1")]);
    assert_eq!(code, 1, "{text}");
    assert!(
        has_line(&text, "✗", "credentials", "profile \"dev\" (not found)"),
        "{text}"
    );
    assert!(text.contains("profile \"dev\" is not defined in"), "{text}");
    assert!(text.contains("the SDK got no credentials after"), "{text}");
    assert!(
        has_line(
            &text,
            "✗",
            "token",
            "no AWS credentials found for profile \"dev\""
        ),
        "{text}"
    );
    assert_eq!(sb.calls(), (0, 0));
}

#[test]
fn a_config_entry_and_its_pitfalls_are_shown() {
    let mut sb = sandbox();
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    let config = sb.config(
        "helper.toml",
        &format!("[[registry]]\nmatch = \"{host}\"\nprofile = \"dev\"\n"),
    );
    let aws = sb.home().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("config"),
        "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\n",
    )
    .unwrap();
    docker_config(
        &sb,
        &format!(r#"{{"credHelpers": {{"https://{host}": "ecr"}}}}"#),
    );
    let (code, text) = doctor(&sb, &[&host]);
    // The entry's profile is used as `aws --profile` uses it, even with the environment's keys
    // set: its SSO session is not defined, so no token is had (and only an `https://` key, which no
    // client uses, names the host).
    assert_eq!(code, 1, "{text}");
    assert!(
        has_line(&text, "✓", "config", &config.display().to_string()),
        "{text}"
    );
    assert!(
        has_line(
            &text,
            "·",
            "config entry",
            &format!("entry at {}:1: profile \"dev\"", config.display())
        ),
        "{text}"
    );
    assert!(
        has_line(
            &text,
            "✗",
            "credentials",
            "profile \"dev\" (SSO, sso_session \"corp\")"
        ),
        "{text}"
    );
    assert!(!text.contains("AWS_ACCESS_KEY_ID comes first"), "{text}");
    assert!(
        has_line(
            &text,
            "✗",
            "token",
            "no AWS credentials found for profile \"dev\""
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("credHelpers key \"https://{host}\" is never used")),
        "{text}"
    );
    assert!(
        has_line(&text, "!", "docker", "no credHelpers entry"),
        "{text}"
    );
}

#[test]
fn an_invalid_config_file_fails_before_any_fetch() {
    let mut sb = sandbox();
    let config = sb.config(
        "bad.toml",
        "[[registry]]\nmatch = \"public\"\nprofil = \"x\"\n",
    );
    let (code, text) = doctor(&sb, &["public.ecr.aws"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        has_line(
            &text,
            "✗",
            "config",
            &format!(
                "invalid config file {}, line 3: unknown field `profil`",
                config.display()
            )
        ),
        "{text}"
    );
    assert!(
        has_line(
            &text,
            "✗",
            "token",
            "not attempted: the config file is invalid"
        ),
        "{text}"
    );
    assert_eq!(sb.calls(), (0, 0));
}

#[test]
fn foreign_hosts_and_an_unrouted_machine_fail() {
    let sb = sandbox();
    let (code, text) = doctor(&sb, &["docker.io", "https://"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        has_line(&text, "✗", "registry", "docker.io is not an ECR registry"),
        "{text}"
    );
    assert!(
        has_line(&text, "✗", "registry", "not a registry host"),
        "{text}"
    );
    let (code, text) = doctor(&sb, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("no client config routes a registry to this helper"),
        "{text}"
    );
    assert!(text.ends_with("✗ nothing to diagnose\n"), "{text}");
}

#[test]
fn containers_auth_files_are_checked_in_their_order() {
    let mut sb = sandbox();
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    let auth = sb.root().join("auth.json");
    std::fs::write(
        &auth,
        format!(r#"{{"auths": {{"{host}": {{"auth": "QVdTOnN0YWxl"}}}}}}"#),
    )
    .unwrap();
    sb.env("REGISTRY_AUTH_FILE", &auth);
    docker_config(&sb, &format!(r#"{{"credHelpers": {{"{host}": "ecr"}}}}"#));
    let (code, text) = doctor(&sb, &[&host]);
    assert_eq!(code, 0, "{text}");
    assert!(has_line(&text, "✓", "docker", "credHelpers"), "{text}");
    assert!(
        has_line(
            &text,
            "!",
            "podman/skopeo",
            &format!("{}: a stored password", auth.display())
        ),
        "{text}"
    );
    assert!(!text.contains("QVdT"), "a stored password leaked:\n{text}");
}

#[test]
fn doctor_help_and_bad_options() {
    let sb = sandbox();
    let out = sb.run(["doctor", "--help"], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("doctor [HOST]..."));
    // A usage error, as for every command: clap's message on stderr, exit status 2.
    let out = sb.run(["doctor", "--verbose"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("unexpected argument '--verbose'"));
}

/// A cache directory that cannot be used is explained (what is wrong with it, and that every
/// request then calls the API) instead of "no entry yet"; the token is still had.
#[test]
fn an_unusable_cache_directory_is_explained() {
    let host = private_host(MOTO_ACCOUNT, "us-east-1");
    let cache_line = |text: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with("! cache"))
            .unwrap_or_else(|| panic!("no warning on the cache line:\n{text}"))
            .to_string()
    };
    // Not a directory.
    let sb = sandbox();
    std::fs::write(sb.helper_cache_dir(), b"").unwrap();
    let (code, text) = doctor(&sb, &[&host]);
    assert_eq!(code, 0, "{text}");
    assert!(
        cache_line(&text).contains(&format!(
            "cache directory {} is not a directory (directory from AWS_ECR_CACHE_DIR): every request calls the API",
            sb.helper_cache_dir().display()
        )),
        "{text}"
    );
    if !is_root(
        "an_unusable_cache_directory_is_explained",
        "a cache directory owned by another user",
    ) {
        return;
    }
    // Another user's: what an old `sudo` run leaves behind.
    let sb = sandbox();
    std::fs::create_dir(sb.helper_cache_dir()).unwrap();
    std::os::unix::fs::chown(sb.helper_cache_dir(), Some(4242), Some(4242)).unwrap();
    let (code, text) = doctor(&sb, &[&host]);
    assert_eq!(code, 0, "{text}");
    assert!(
        cache_line(&text).contains(&format!(
            "cache directory {} belongs to uid 4242, not to uid 0",
            sb.helper_cache_dir().display()
        )),
        "{text}"
    );
}

/// A registry never fetched for uses the region's shared entry: doctor says which one, what it
/// has answered, and the lookup is a hit.
#[test]
fn doctor_names_the_shared_entry_a_host_would_use() {
    let mut sb = sandbox();
    let fetched = private_host("111111111111", "us-west-1");
    let asked = private_host("222222222222", "us-west-1");
    sb.get_ok(&fetched);
    let (code, text) = doctor(&sb, &[&asked]);
    assert_eq!(code, 0, "{text}");
    assert!(
        has_line(&text, "✓", "cache", "token valid, expires in 11h"),
        "{text}"
    );
    let scope = format!(
        "shared by every private registry in us-west-1 that this identity pulls from, via {}; it has answered {fetched}\n",
        sb.emulator.endpoint()
    );
    assert!(text.contains(&scope), "{text}");
    assert!(has_line(&text, "✓", "token", "cache hit in"), "{text}");
    assert_eq!(sb.calls(), (1, 0));

    sb.config(
        "config.toml",
        "[[registry]]\nmatch = \"222222222222\"\nshare_token = false\n",
    );
    let (code, text) = doctor(&sb, &[&asked]);
    assert_eq!(code, 0, "{text}");
    assert!(has_line(&text, "·", "cache", "no entry yet"), "{text}");
    assert!(
        text.contains(&format!("{asked} only (share_token = false)")),
        "{text}"
    );
    assert_eq!(sb.calls(), (2, 0), "its own entry, its own token");
}

/// The line of `label` (its first), for assertions about what it says and does not say.
fn line_of(text: &str, label: &str) -> String {
    text.lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line in:\n{text}"))
        .to_string()
}

/// With HOME set, the cache line never blames HOME: it says what is broken (the AWS files,
/// a relative AWS_ECR_CACHE_DIR, the config file), as `get` would meet it.
#[test]
fn the_cache_line_names_what_is_broken_not_home() {
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    // The AWS config file is a directory: the identity, so the entry, cannot be known.
    let mut sb = sandbox();
    let aws = sb.home().join(".aws").join("config");
    std::fs::create_dir_all(&aws).unwrap();
    sb.env("AWS_CONFIG_FILE", &aws);
    let (_, text) = doctor(&sb, &[&host]);
    let cache = line_of(&text, "! cache");
    assert!(!cache.contains("HOME"), "{text}");
    assert!(cache.contains(&aws.display().to_string()), "{text}");
    // A relative cache directory: `get` serves uncached, and says so in the log.
    let mut sb = sandbox();
    sb.env(ENV_CACHE_DIR, "relative/cache");
    let (code, text) = doctor(&sb, &[&host]);
    assert_eq!(code, 0, "{text}");
    let cache = line_of(&text, "! cache");
    assert!(!cache.contains("HOME"), "{text}");
    assert!(
        cache.contains("AWS_ECR_CACHE_DIR=relative/cache is not an absolute path"),
        "{text}"
    );
    // An invalid config file: nothing is looked up.
    let mut sb = sandbox();
    sb.config("bad.toml", "[[registry]]\nmatch = \"x\"\nprofil = \"x\"\n");
    let (_, text) = doctor(&sb, &[&host]);
    let cache = line_of(&text, "! cache");
    assert!(!cache.contains("HOME"), "{text}");
    assert!(cache.contains("the config file is invalid"), "{text}");
}

/// AWS_ENDPOINT_URL_ECR decides the endpoint even when the AWS files cannot be read, as it
/// does for the SDK: the api line names it, not the SDK's default.
#[test]
fn the_api_line_names_the_endpoint_variable_when_the_aws_files_are_broken() {
    let mut sb = sandbox();
    let aws = sb.home().join(".aws").join("config");
    std::fs::create_dir_all(&aws).unwrap();
    sb.env("AWS_CONFIG_FILE", &aws);
    let (code, text) = doctor(&sb, &[&private_host(MOTO_ACCOUNT, "eu-west-1")]);
    assert_eq!(code, 1, "{text}");
    let api = line_of(&text, "· api");
    assert!(
        api.contains(&format!(
            "{} (AWS_ENDPOINT_URL_ECR)",
            sb.emulator.endpoint()
        )),
        "{text}"
    );
}

/// An alias host is not called "not an ECR registry" because of a typo elsewhere in the
/// config file: whether it is an alias cannot be told until the file parses.
#[test]
fn an_alias_host_with_an_invalid_config_file_is_not_called_foreign() {
    let mut sb = sandbox();
    sb.config(
        "aliases.toml",
        "[[registry]]\nmatch = \"registry.example.com\"\naccount = \"123456789012\"\nregion = \"eu-west-1\"\n\n[[registry]]\nmatch = \"public\"\nprofil = \"x\"\n",
    );
    let (code, text) = doctor(&sb, &["registry.example.com"]);
    assert_eq!(code, 1, "{text}");
    let registry = line_of(&text, "✗ registry");
    assert!(!registry.contains("not an ECR registry"), "{text}");
    assert!(
        registry.contains("cannot tell whether registry.example.com is an alias")
            && registry.contains("the config file is invalid"),
        "{text}"
    );
    // Nor is it advised to route a host that may not be this helper's.
    assert!(!text.contains("add {\"credHelpers\""), "{text}");
}

/// `doctor ghcr.io`: not ECR, so no advice to route it here; routed here, a warning.
#[test]
fn a_foreign_host_is_never_advised_to_be_routed_here() {
    let sb = sandbox();
    let (code, text) = doctor(&sb, &["ghcr.io"]);
    assert_eq!(code, 1, "{text}");
    assert!(!text.contains("\"ghcr.io\": \"ecr\""), "{text}");
    assert!(!text.contains("add "), "{text}");
    docker_config(&sb, r#"{"credHelpers": {"ghcr.io": "ecr"}}"#);
    let (_, text) = doctor(&sb, &[]);
    assert!(
        has_line(
            &text,
            "!",
            "docker",
            "credHelpers[\"ghcr.io\"] = \"ecr\", but the helper answers \"not found\" for it"
        ),
        "{text}"
    );
}

/// A token alone is not a working setup: a host docker and podman send to another helper
/// (`ecr-login`), or that only an `https://` key names (clients match keys exactly), fails.
#[test]
fn a_host_no_client_sends_here_does_not_count_as_working() {
    let sb = sandbox();
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    docker_config(
        &sb,
        &format!(r#"{{"credHelpers": {{"{host}": "ecr-login"}}}}"#),
    );
    let (code, text) = doctor(&sb, &[&host]);
    assert!(has_line(&text, "✓", "token", "fetched in"), "{text}");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.ends_with("✗ a token can be had for 1 of 1 registries, but no client sends 1 of them to this helper\n"),
        "{text}"
    );
    docker_config(
        &sb,
        &format!(r#"{{"credHelpers": {{"https://{host}": "ecr"}}}}"#),
    );
    let (code, text) = doctor(&sb, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("is never used"), "{text}");
    assert!(
        text.ends_with("but no client sends 1 of them to this helper\n"),
        "{text}"
    );
}

/// `"credsStore": "ecr"` routes every registry docker uses here: doctor says so, and checks
/// the registries docker has logged in to.
#[test]
fn creds_store_is_recognised_as_routing_every_host_here() {
    let sb = sandbox();
    docker_config(&sb, r#"{"credsStore": "ecr"}"#);
    let (code, text) = doctor(&sb, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        !text.contains("no client config routes a registry to this helper"),
        "{text}"
    );
    assert!(
        has_line(
            &text,
            "·",
            "routing",
            "credsStore = \"ecr\" sends every registry"
        ),
        "{text}"
    );
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    docker_config(
        &sb,
        &format!(r#"{{"credsStore": "ecr", "auths": {{"{host}": {{}}}}}}"#),
    );
    let (code, text) = doctor(&sb, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        has_line(
            &text,
            "✓",
            "docker",
            "credsStore = \"ecr\" (every registry)"
        ),
        "{text}"
    );
}
