//! Tests of the test harness itself: the ECR emulator and the sandboxed runner.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::process::Command;
use std::time::{Duration, Instant};

fn decode_token(token: &str) -> String {
    String::from_utf8(STANDARD.decode(token).expect("token is base64")).unwrap()
}

#[test]
fn emulator_issues_private_and_public_tokens_and_counts_them_per_akid() {
    let emu = Emulator::shared();
    let akid = unique_akid();
    assert_eq!(akid.len(), 20);
    assert!(
        akid.starts_with("AKIDTEST")
            && akid
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    );

    let resp = emu.token_request(&akid, "eu-west-1", false);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let data = &resp.json()["authorizationData"][0];
    assert_eq!(
        decode_token(data["authorizationToken"].as_str().unwrap()),
        format!("AWS:{}", private_password(MOTO_ACCOUNT))
    );
    let expires_in = data["expiresAt"].as_f64().unwrap() - now_secs();
    assert!(
        (expires_in - DEFAULT_TOKEN_TTL_SECS as f64).abs() < 60.0,
        "expires in {expires_in} s"
    );
    assert_eq!(
        data["proxyEndpoint"],
        format!("https://{}", private_host(MOTO_ACCOUNT, "eu-west-1"))
    );

    emu.set_account(&akid, "210987654321");
    emu.set_ttl(&akid, 5);
    let resp = emu.token_request(&akid, "us-west-2", false);
    let data = &resp.json()["authorizationData"][0];
    assert_eq!(
        decode_token(data["authorizationToken"].as_str().unwrap()),
        "AWS:210987654321-auth-token"
    );
    let expires_in = data["expiresAt"].as_f64().unwrap() - now_secs();
    assert!(
        (0.0..=6.0).contains(&expires_in),
        "expires in {expires_in} s"
    );

    let resp = emu.token_request(&akid, "us-east-1", true);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("application/x-amz-json-1.1")
    );
    let data = &resp.json()["authorizationData"];
    assert_eq!(
        decode_token(data["authorizationToken"].as_str().unwrap()),
        format!("AWS:{PUBLIC_PASSWORD}")
    );
    assert!(data["expiresAt"].as_f64().unwrap() > now_secs());

    let calls = emu.calls_detail(&akid);
    assert_eq!((calls.ecr, calls.ecr_public), (2, 1));
    assert_eq!(calls.regions, ["eu-west-1", "us-west-2", "us-east-1"]);
    assert_eq!(
        emu.calls(&unique_akid()),
        (0, 0),
        "another AKID's counters are separate"
    );
}

#[test]
fn faults_answer_like_aws_json_errors_and_run_out() {
    let emu = Emulator::shared();
    for (fault, status, error_type) in [
        ("access-denied", 400, "AccessDeniedException"),
        ("expired-token", 400, "ExpiredTokenException"),
        ("unrecognized-client", 400, "UnrecognizedClientException"),
        ("throttle", 400, "ThrottlingException"),
        ("server-error", 500, "ServerException"),
        ("service-unavailable", 503, "ServiceUnavailableException"),
    ] {
        for public in [false, true] {
            let akid = unique_akid();
            emu.fault(&akid, fault, Some(1), None);
            let resp = emu.token_request(&akid, "eu-central-1", public);
            assert_eq!(resp.status, status, "{fault}: {}", resp.text());
            assert_eq!(resp.json()["__type"], error_type, "{fault}");
            assert!(
                resp.header("x-amzn-errortype")
                    .unwrap()
                    .starts_with(error_type),
                "{fault}"
            );
            assert_eq!(
                emu.token_request(&akid, "eu-central-1", public).status,
                200,
                "{fault} used up"
            );
            let expect = if public { (0, 2) } else { (2, 0) };
            assert_eq!(emu.calls(&akid), expect, "{fault}: faulted calls count too");
        }
    }

    // 200 answers with damaged content.
    let akid = unique_akid();
    emu.fault(&akid, "malformed-json", None, None);
    let resp = emu.token_request(&akid, "eu-west-1", false);
    assert_eq!(resp.status, 200);
    assert!(
        serde_json::from_slice::<serde_json::Value>(&resp.body).is_err(),
        "{}",
        resp.text()
    );

    emu.fault(&akid, "bad-base64", Some(1), None);
    let token = emu.token_request(&akid, "eu-west-1", false).json()["authorizationData"][0]["authorizationToken"].clone();
    assert!(STANDARD.decode(token.as_str().unwrap()).is_err());

    emu.fault(&akid, "no-aws-prefix", Some(1), None);
    let token = emu.token_request(&akid, "eu-west-1", true).json()["authorizationData"]["authorizationToken"].clone();
    assert_eq!(
        decode_token(token.as_str().unwrap()),
        format!("user:{PUBLIC_PASSWORD}")
    );

    emu.fault(&akid, "expired", Some(1), None);
    let expires =
        emu.token_request(&akid, "eu-west-1", false).json()["authorizationData"][0]["expiresAt"]
            .as_f64();
    assert!(expires.unwrap() < now_secs());

    emu.fault(&akid, "no-expiry", Some(1), None);
    let data = emu.token_request(&akid, "eu-west-1", false).json()["authorizationData"][0].clone();
    assert!(data.get("expiresAt").is_none() && data.get("authorizationToken").is_some());

    emu.fault(&akid, "empty-data", Some(2), None);
    assert_eq!(
        emu.token_request(&akid, "eu-west-1", false).json()["authorizationData"],
        serde_json::json!([])
    );
    assert_eq!(
        emu.token_request(&akid, "us-east-1", true).json()["authorizationData"],
        serde_json::json!({})
    );

    emu.fault(&akid, "slow", Some(1), Some(300));
    let started = Instant::now();
    assert_eq!(emu.token_request(&akid, "eu-west-1", false).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    emu.clear_fault(&akid);
    assert_eq!(emu.token_request(&akid, "eu-west-1", false).status, 200);
}

#[test]
fn runner_feeds_stdin_and_kills_what_hangs() {
    let mut cat = Command::new("cat");
    cat.env_clear();
    let out = run_with_timeout(cat, b"https://example", Duration::from_secs(10)).unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"https://example");

    let started = Instant::now();
    let mut sleep = Command::new("sleep");
    sleep.arg("30");
    let err = run_with_timeout(sleep, b"", Duration::from_millis(300)).unwrap_err();
    assert!(err.contains("timed out"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // The sandbox hands the helper a clean environment pointing at the emulator.
    let sandbox = Sandbox::new();
    let env: Vec<_> = sandbox
        .cmd(["version"])
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
        .collect();
    let get = |k: &str| {
        env.iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.clone())
    };
    assert_eq!(get("AWS_ACCESS_KEY_ID").unwrap(), sandbox.akid.as_str());
    assert_eq!(
        get("AWS_ENDPOINT_URL_ECR").unwrap(),
        Emulator::shared().endpoint()
    );
    assert_eq!(
        get(ENV_CACHE_DIR).unwrap(),
        sandbox.cache_root().as_os_str()
    );
    assert!(
        sandbox
            .helper_cache_dir()
            .ends_with("cache/docker-credential-ecr")
    );
}

/// Asks for a program nobody has; run only by the test below, in a child test process.
#[test]
#[ignore = "a probe: run by a_missing_tool_skips_loudly_and_fails_when_required"]
fn missing_tool_probe() {
    if !have("missing_tool_probe", &["no-such-tool-anywhere"]) {
        return;
    }
    panic!("a missing program was found");
}

/// The one "can this test run here" check: a loud SKIPPED line and a pass on a developer's
/// machine, a failure naming the tool under `DOCKER_CREDENTIAL_ECR_E2E_REQUIRED=1` (CI).
#[test]
fn a_missing_tool_skips_loudly_and_fails_when_required() {
    let probe = |required: Option<&str>| {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--ignored",
            "--exact",
            "emulator_harness::missing_tool_probe",
            "--test-threads=1",
        ])
        .env_remove(ENV_E2E_REQUIRED);
        if let Some(value) = required {
            cmd.env(ENV_E2E_REQUIRED, value);
        }
        run_cmd(cmd, "")
    };
    for required in [None, Some("0")] {
        let out = probe(required);
        assert!(out.status.success(), "{}", describe(&out));
        assert!(
            stderr(&out)
                .contains("***** SKIPPED: missing_tool_probe: no-such-tool-anywhere not installed"),
            "{}",
            describe(&out)
        );
        assert!(stdout(&out).contains("1 passed"));
    }
    let out = probe(Some("1"));
    assert!(!out.status.success(), "{}", describe(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("no-such-tool-anywhere not installed")
            && text.contains("DOCKER_CREDENTIAL_ECR_E2E_REQUIRED=1 makes this a failure"),
        "{}",
        describe(&out)
    );
}
