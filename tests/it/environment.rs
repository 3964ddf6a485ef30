//! One view of the environment: empty variables are unset for the helper and the SDK alike, an
//! unusable HOME is no home, and an explicit endpoint wins over what a FIPS or dual-stack host
//! implies. Each case once gave a wrong answer, a crash or a cache in the wrong place.

use crate::common::*;
use serde_json::json;
use std::path::Path;

fn host() -> String {
    private_host(MOTO_ACCOUNT, "us-east-1")
}

/// Every file below `dir`, for "nothing was created here" checks.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

#[test]
fn an_empty_service_endpoint_variable_is_unset_for_get_kubelet_and_doctor() {
    let mut sb = Sandbox::new();
    let endpoint = sb.emulator.endpoint().to_string();
    // The global variable reaches the emulator only if the empty service ones are ignored.
    sb.env("AWS_ENDPOINT_URL_ECR", "")
        .env("AWS_ENDPOINT_URL_ECR_PUBLIC", "")
        .env("AWS_ENDPOINT_URL", &endpoint);
    let answer = sb.get_ok(&host());
    assert_eq!(answer["Secret"], private_password(MOTO_ACCOUNT).as_str());
    let answer = sb.get_ok("public.ecr.aws");
    assert_eq!(answer["Secret"], PUBLIC_PASSWORD);

    let request = json!({
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "kind": "CredentialProviderRequest",
        "image": format!("{}/app:1", private_host(MOTO_ACCOUNT, "eu-west-1")),
    });
    let out = sb.run(["kubelet"], &request.to_string());
    assert!(out.status.success(), "kubelet: {}", describe(&out));

    let out = sb.run(["doctor", &private_host(MOTO_ACCOUNT, "eu-central-1")], "");
    assert!(out.status.success(), "doctor: {}", describe(&out));
    assert!(!stdout(&out).contains("internal"), "{}", stdout(&out));
}

/// Credentials for the sandbox's access key in `~/.aws/credentials`, and none in the
/// environment.
fn credentials_in_home(sb: &mut Sandbox) {
    let aws = sb.home().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {TEST_SECRET_KEY}\n",
            sb.akid
        ),
    )
    .unwrap();
    sb.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
}

#[test]
fn an_empty_profile_is_no_profile_for_the_key_and_the_sdk() {
    let mut sb = Sandbox::new();
    credentials_in_home(&mut sb);
    sb.get_ok(&host());
    assert_eq!(sb.calls(), (1, 0));
    // Same identity: the same cache entry answers, and a miss succeeds too.
    sb.env("AWS_PROFILE", "");
    sb.get_ok(&host());
    assert_eq!(sb.calls(), (1, 0), "AWS_PROFILE= got a key of its own");
    sb.disable_cache();
    sb.get_ok(&host());
    assert_eq!(sb.calls(), (2, 0));
}

#[test]
fn an_empty_credentials_file_variable_means_the_default_file() {
    let mut sb = Sandbox::new();
    credentials_in_home(&mut sb);
    sb.env("AWS_SHARED_CREDENTIALS_FILE", "")
        .env("AWS_CONFIG_FILE", "");
    sb.get_ok(&host());
    assert_eq!(sb.calls(), (1, 0));
}

/// HOME values that name no usable home: each still gets a token (from the environment's
/// credentials), caches nothing under it, and creates nothing in the working directory. With
/// no home, a system service's rule applies (issue 18): systemd's `CACHE_DIRECTORY`, set here
/// so that root (whose next rule is the machine's own /var/cache) writes only in the sandbox;
/// another user without either caches nothing (`hostile_state::home_unset_still_answers`).
#[test]
fn an_unusable_home_is_no_home_never_a_failure() {
    let work = tempfile::tempdir().unwrap();
    let cases: [(&str, Option<&str>); 4] = [
        ("a file", Some("/dev/null")),
        ("relative", Some("relative-home")),
        ("missing", Some("/nonexistent/home")),
        ("unset", None),
    ];
    for (what, home) in cases {
        let mut sb = Sandbox::new();
        // The HOME-derived locations, not the sandbox's explicit ones.
        let unit_cache = sb.root().join("unit-cache");
        std::fs::create_dir(&unit_cache).unwrap();
        sb.env_remove(ENV_CACHE_DIR)
            .env_remove("XDG_CACHE_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env("CACHE_DIRECTORY", &unit_cache);
        match home {
            Some(h) => sb.env("HOME", h),
            None => sb.env_remove("HOME"),
        };
        let mut cmd = sb.cmd(["get"]);
        cmd.current_dir(work.path());
        let out = run_cmd(cmd, &host());
        assert!(out.status.success(), "HOME {what}: {}", describe(&out));
        assert_eq!(sb.calls(), (1, 0), "HOME {what}");
        let mut cmd = sb.cmd(["get"]);
        cmd.current_dir(work.path());
        assert!(run_cmd(cmd, &host()).status.success());
        assert_eq!(sb.calls(), (1, 0), "HOME {what}: the unit's cache");
        let entries = std::fs::read_dir(unit_cache.join(CACHE_SUBDIR))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "json")
            })
            .count();
        assert_eq!(
            entries, 1,
            "HOME {what}: the entry is in CACHE_DIRECTORY/{CACHE_SUBDIR}"
        );
        assert_eq!(
            files_below(work.path()),
            Vec::<String>::new(),
            "HOME {what}: wrote into the working directory"
        );
    }
}

#[test]
fn an_explicit_endpoint_wins_for_fips_and_dual_stack_hosts() {
    let mut sb = Sandbox::new();
    for h in [
        format!("{MOTO_ACCOUNT}.dkr.ecr-fips.us-east-1.amazonaws.com"),
        format!("{MOTO_ACCOUNT}.dkr-ecr.us-east-1.on.aws"),
        format!("{MOTO_ACCOUNT}.dkr-ecr-fips.us-east-1.on.aws"),
    ] {
        let answer = sb.get_ok(&h);
        assert_eq!(answer["Secret"], private_password(MOTO_ACCOUNT).as_str());
    }
    // The SDK's own FIPS switch does not override an explicit endpoint either.
    sb.env("AWS_USE_FIPS_ENDPOINT", "true")
        .env("AWS_USE_DUALSTACK_ENDPOINT", "true");
    sb.get_ok(&host());
    sb.get_ok("public.ecr.aws");
    // The same through the config file's endpoint and through a [services] section.
    let mut sb = Sandbox::new();
    let endpoint = sb.emulator.endpoint().to_string();
    sb.env_remove("AWS_ENDPOINT_URL_ECR");
    sb.config(
        "config.toml",
        &format!("[[registry]]\nmatch = \"*.dkr.ecr-fips.us-east-1.amazonaws.com\"\nendpoint = \"{endpoint}\"\n"),
    );
    sb.get_ok(&format!(
        "{MOTO_ACCOUNT}.dkr.ecr-fips.us-east-1.amazonaws.com"
    ));
    let mut sb = Sandbox::new();
    sb.env_remove("AWS_ENDPOINT_URL_ECR");
    let aws = sb.home().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("config"),
        format!(
            "[default]\nservices = local\n[services local]\necr =\n  endpoint_url = {endpoint}\n"
        ),
    )
    .unwrap();
    sb.get_ok(&format!("{MOTO_ACCOUNT}.dkr-ecr.us-east-1.on.aws"));
    let out = sb.run(
        [
            "doctor",
            &format!("{MOTO_ACCOUNT}.dkr-ecr.us-east-1.on.aws"),
        ],
        "",
    );
    assert!(out.status.success(), "doctor: {}", describe(&out));
    assert!(
        stdout(&out).contains(&endpoint),
        "doctor does not show the endpoint the fetch used: {}",
        stdout(&out)
    );
}

/// The key and the SDK read one environment: a variable the SDK would use to pick a different
/// endpoint or identity changes the key, and an empty one changes neither.
#[test]
fn the_key_and_the_sdk_agree_about_every_variable() {
    let mut sb = Sandbox::new();
    credentials_in_home(&mut sb);
    sb.get_ok(&host());
    let entries = |sb: &Sandbox| cache_files(sb, ".json").len();
    assert_eq!(entries(&sb), 1);
    for var in [
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_USE_FIPS_ENDPOINT",
    ] {
        let mut s = Sandbox::with_emulator(&sb.emulator);
        s.akid = sb.akid.clone();
        credentials_in_home(&mut s);
        s.env(ENV_CACHE_DIR, sb.cache_root())
            .env("HOME", sb.home())
            .env("XDG_CONFIG_HOME", sb.xdg_config_home())
            .env(var, "");
        s.get_ok(&host());
        assert_eq!(entries(&sb), 1, "{var}= made a key of its own");
        // And the SDK takes it as unset too: a fetch with the same empty variable succeeds.
        s.disable_cache();
        let out = s.get(&host());
        assert!(
            out.status.success(),
            "{var}= fails a fetch: {}",
            describe(&out)
        );
    }
    assert_eq!(sb.calls(), (10, 0));
}
