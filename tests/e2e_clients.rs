//! End to end through the real clients: skopeo, podman and the docker CLI pull from (and push to)
//! a real registry (Debian's `docker-registry`, htpasswd user `AWS` with the emulator's password),
//! getting credentials only by running this helper binary through `credHelpers`.
//!
//! Each test owns a rig (`tests/e2e/rig.sh`, see `tests/e2e/README.md`) torn down on drop and a
//! sandbox (its own AKID, HOME and token cache); all of them share the ECR emulator. The
//! registry is reached either as `127.0.0.1:PORT`, which the helper's config file aliases to ECR
//! registry 123456789012 in us-east-1, or as `123456789012.dkr.ecr.us-east-1.amazonaws.com`
//! through a CONNECT proxy on 127.0.0.1. Every assertion looks at both sides: what the client
//! did, and the helper calls the logging shim recorded (action, stdin, exit, answer).
//!
//! A missing client skips its test with a loud `SKIPPED:` line (`DOCKER_CREDENTIAL_ECR_E2E_REQUIRED=1`
//! makes it a failure); `scripts/install-test-deps` installs them all.

mod common;
mod e2e_support;

use common::*;
use e2e_support::*;
use serde_json::json;

/// The exact protocol line `{"ServerURL","Username","Secret"}` (in that order) for `host`: what
/// the helper answers `get` with, and what docker sends to `store`.
fn answer(host: &str, account: &str) -> String {
    format!(
        "{{\"ServerURL\":{},\"Username\":\"AWS\",\"Secret\":{}}}\n",
        json!(host),
        json!(private_password(account))
    )
}

fn get_ok(host: &str) -> (String, String, i64) {
    ("get".into(), host.into(), 0)
}

fn get_failed(host: &str) -> (String, String, i64) {
    ("get".into(), host.into(), 1)
}

/// The registry's 401 as containers/image reports it.
const UNAUTHORIZED: &str = "unauthorized: authentication required";

/// skopeo's and podman's wrapping of a helper failure.
const HELPER_ERROR: &str = "error getting credentials";

/// Sanity: the pull that fails went to the registry and was refused there with 401.
fn assert_refused_with_401(rig: &Rig, target: Target, before: usize, run: &Run) {
    run.assert_failed();
    assert!(
        run.err.contains(UNAUTHORIZED),
        "expected the registry's 401: {}",
        run.describe()
    );
    assert!(
        rig.registry_401s(target) > before,
        "the registry logged no 401: {}",
        run.describe()
    );
}

#[test]
fn skopeo_push_and_pull_get_credentials_only_from_the_helper() {
    let test = "skopeo_push_and_pull_get_credentials_only_from_the_helper";
    let Some(rig) = Rig::up(test) else { return };
    let mut sb = Sandbox::new();
    rig.alias_local_registry(&mut sb);
    let host = rig.local_host();

    // Push, then pull back via $DOCKER_CONFIG/config.json, then via REGISTRY_AUTH_FILE.
    for flow in ["skopeo-push", "skopeo-pull", "skopeo-pull-authfile"] {
        let run = rig.flow(&sb, flow, Target::Local);
        run.assert_ok();
        assert_eq!(run.call_summary(), [get_ok(&host)], "{}", run.describe());
        assert_eq!(run.calls[0].stdout, answer(&host, MOTO_ACCOUNT));
    }
    assert!(
        rig.has_repository(Target::Local, "demo/pushed"),
        "the push did not land"
    );
    // Three clients, one token: the first call fetched it, the others hit the cache.
    assert_eq!(sb.calls(), (1, 0));

    // The same pulls with no credHelpers at all: anonymous, refused with 401, helper not run.
    for flow in ["skopeo-pull", "skopeo-pull-authfile"] {
        let before = rig.registry_401s(Target::Local);
        let run = rig.flow_with(&sb, flow, Target::Local, &[("RIG_NO_CRED_HELPERS", "1")]);
        assert_refused_with_401(&rig, Target::Local, before, &run);
        assert!(run.calls.is_empty(), "{}", run.describe());
    }

    // The same pull when the helper's token is not the registry's password: 401.
    let mut wrong = Sandbox::new();
    rig.alias_local_registry(&mut wrong);
    wrong.emulator.set_account(&wrong.akid, "210987654321");
    let before = rig.registry_401s(Target::Local);
    let run = rig.flow(&wrong, "skopeo-pull", Target::Local);
    assert_refused_with_401(&rig, Target::Local, before, &run);
    assert_eq!(run.call_summary(), [get_ok(&host)], "{}", run.describe());
    assert_eq!(run.calls[0].stdout, answer(&host, "210987654321"));
}

#[test]
fn podman_pulls_with_the_helpers_credentials_only() {
    let test = "podman_pulls_with_the_helpers_credentials_only";
    if !can_run(test, "podman-pull") {
        return;
    }
    let Some(rig) = Rig::up(test) else { return };
    let mut sb = Sandbox::new();
    rig.alias_local_registry(&mut sb);
    let host = rig.local_host();
    let image_id = rig.image_id();

    // From a containers auth.json (REGISTRY_AUTH_FILE), then from $DOCKER_CONFIG/config.json.
    for flow in ["podman-pull", "podman-pull-dockerconfig"] {
        let run = rig.flow(&sb, flow, Target::Local);
        run.assert_ok();
        assert_eq!(run.call_summary(), [get_ok(&host)], "{}", run.describe());
        assert_eq!(run.calls[0].stdout, answer(&host, MOTO_ACCOUNT));
        assert_eq!(
            run.out.lines().last(),
            Some(image_id.as_str()),
            "podman pulled another image: {}",
            run.describe()
        );
    }
    // `podman login HOST` without -u asks the helper and accepts its answer.
    let run = rig.flow(&sb, "podman-login", Target::Local);
    run.assert_ok();
    assert_eq!(run.call_summary(), [get_ok(&host)], "{}", run.describe());
    assert_eq!(sb.calls(), (1, 0));

    // Without the helper, and with a token the registry does not accept: 401.
    let before = rig.registry_401s(Target::Local);
    let run = rig.flow_with(
        &sb,
        "podman-pull",
        Target::Local,
        &[("RIG_NO_CRED_HELPERS", "1")],
    );
    assert_refused_with_401(&rig, Target::Local, before, &run);
    assert!(run.calls.is_empty(), "{}", run.describe());

    let mut wrong = Sandbox::new();
    rig.alias_local_registry(&mut wrong);
    wrong.emulator.set_account(&wrong.akid, "210987654321");
    let before = rig.registry_401s(Target::Local);
    let run = rig.flow(&wrong, "podman-pull", Target::Local);
    assert_refused_with_401(&rig, Target::Local, before, &run);
    assert_eq!(run.call_summary(), [get_ok(&host)], "{}", run.describe());
}

#[test]
fn docker_cli_sends_exactly_the_helpers_credentials_and_login_succeeds() {
    let test = "docker_cli_sends_exactly_the_helpers_credentials_and_login_succeeds";
    if !can_run(test, "docker-pull") {
        return;
    }
    let Some(rig) = Rig::up(test) else { return };
    let mut sb = Sandbox::new();
    rig.alias_local_registry(&mut sb);
    let host = rig.local_host();
    let creds = json!({"username": "AWS", "password": private_password(MOTO_ACCOUNT), "serveraddress": host});

    let run = rig.flow(&sb, "docker-pull", Target::Local);
    run.assert_ok();
    assert_eq!(run.call_summary(), [get_ok(&host)], "{}", run.describe());
    assert_eq!(run.pull_auth(), creds, "{}", run.describe());

    // `docker login HOST` without -u: get, the daemon checks the credentials, then store.
    let run = rig.flow(&sb, "docker-login", Target::Local);
    run.assert_ok();
    assert!(run.out.contains("Login Succeeded"), "{}", run.describe());
    assert_eq!(
        run.call_summary(),
        [
            get_ok(&host),
            ("store".into(), answer(&host, MOTO_ACCOUNT), 0)
        ],
        "{}",
        run.describe()
    );
    assert_eq!(run.login_auth(), Some(creds), "{}", run.describe());
    assert_eq!(sb.calls(), (1, 0));

    // Without the helper docker sends no credentials and the (fake) daemon's pull is refused.
    let run = rig.flow_with(
        &sb,
        "docker-pull",
        Target::Local,
        &[("RIG_NO_CRED_HELPERS", "1")],
    );
    run.assert_failed();
    assert!(run.calls.is_empty(), "{}", run.describe());
    assert_eq!(run.pull_auth(), json!({}), "{}", run.describe());
    assert!(run.err.contains(UNAUTHORIZED), "{}", run.describe());
}

#[test]
fn the_ecr_name_through_a_connect_proxy_needs_no_alias() {
    let test = "the_ecr_name_through_a_connect_proxy_needs_no_alias";
    let Some(rig) = Rig::up(test) else { return };
    // No config file: the name itself says account 123456789012, region us-east-1.
    let sb = Sandbox::new();
    let host = rig.ecr_host();
    assert_eq!(host, private_host(MOTO_ACCOUNT, "us-east-1"));

    let flows = ["skopeo-push", "skopeo-pull", "podman-pull", "docker-pull"];
    for flow in runnable(test, &flows) {
        let run = rig.flow(&sb, flow, Target::Ecr);
        run.assert_ok();
        assert_eq!(run.call_summary(), [get_ok(&host)], "{}", run.describe());
        assert_eq!(run.calls[0].stdout, answer(&host, MOTO_ACCOUNT));
        if flow == "docker-pull" {
            assert_eq!(
                run.pull_auth(),
                json!({"username": "AWS", "password": private_password(MOTO_ACCOUNT), "serveraddress": host})
            );
        }
    }
    assert!(rig.has_repository(Target::Ecr, "demo/pushed"));
    assert_eq!(sb.calls(), (1, 0));

    // Every registry connection went through the proxy to the mapped name; nothing was refused
    // (a refusal would mean a client tried to reach some other name).
    let log = rig.proxy_log();
    assert!(!log.is_empty(), "no client used the proxy");
    for entry in &log {
        assert_eq!(entry["method"], "CONNECT", "{entry}");
        assert_eq!(entry["dest"], format!("{host}:443"), "{entry}");
        assert_eq!(entry["result"], "ok", "{entry}");
    }

    // The negative: the same pull without the helper is refused by the TLS registry.
    let before = rig.registry_401s(Target::Ecr);
    let run = rig.flow_with(
        &sb,
        "skopeo-pull",
        Target::Ecr,
        &[("RIG_NO_CRED_HELPERS", "1")],
    );
    assert_refused_with_401(&rig, Target::Ecr, before, &run);
    assert!(run.calls.is_empty(), "{}", run.describe());
}

#[test]
fn emulator_down_warm_cache_still_pulls_and_cold_cache_fails_clearly() {
    let test = "emulator_down_warm_cache_still_pulls_and_cold_cache_fails_clearly";
    let Some(rig) = Rig::up(test) else { return };
    let host = rig.local_host();
    let emulator = Emulator::start_with(&[]);
    let addr = emulator.addr().clone();
    let mut warm = Sandbox::with_emulator(&addr);
    rig.alias_local_registry(&mut warm);
    rig.flow(&warm, "skopeo-pull", Target::Local).assert_ok();
    assert_eq!(warm.calls(), (1, 0));
    drop(emulator);

    // Warm cache, no API: every client still pulls, served from the cache.
    for flow in runnable(test, &["skopeo-pull", "podman-pull", "docker-pull"]) {
        let run = rig.flow(&warm, flow, Target::Local);
        run.assert_ok();
        assert_eq!(run.call_summary(), [get_ok(&host)], "{}", run.describe());
        assert_eq!(run.calls[0].stdout, answer(&host, MOTO_ACCOUNT));
    }

    // Cold cache, no API: a one-line error naming the endpoint, which skopeo and podman show.
    let mut cold = Sandbox::with_emulator(&addr);
    rig.alias_local_registry(&mut cold);
    for flow in runnable(test, &["skopeo-pull", "podman-pull"]) {
        let run = rig.flow(&cold, flow, Target::Local);
        run.assert_failed();
        assert_eq!(
            run.call_summary(),
            [get_failed(&host)],
            "{}",
            run.describe()
        );
        let message = run.calls[0].stdout.trim_end();
        assert!(
            !message.is_empty() && !message.contains('\n') && message != NOT_FOUND,
            "want one line of error: {message:?}"
        );
        assert!(
            message.contains(&addr.endpoint),
            "the error names the endpoint: {message:?}"
        );
        assert!(
            run.err.contains(HELPER_ERROR) && run.err.contains(message),
            "the client shows the helper's message: {}",
            run.describe()
        );
    }
    // docker ignores a failing helper and pulls anonymously (the daemon refuses the pull). It
    // discards the helper's stdout, where the message is, and shows only the helper's stderr.
    if can_run(test, "docker-pull") {
        let run = rig.flow(&cold, "docker-pull", Target::Local);
        run.assert_failed();
        assert_eq!(
            run.call_summary(),
            [get_failed(&host)],
            "{}",
            run.describe()
        );
        assert!(run.calls[0].stdout.contains(&addr.endpoint));
        // The helper repeats the error on stderr, which docker passes to the user.
        assert!(
            run.err.contains(&format!(
                "docker-credential-ecr: cannot reach {}",
                addr.endpoint
            )),
            "docker shows the helper's message: {}",
            run.describe()
        );
        assert_eq!(run.pull_auth(), json!({}), "{}", run.describe());
        assert!(run.err.contains(UNAUTHORIZED), "{}", run.describe());
    }
}

#[test]
fn a_non_ecr_host_in_cred_helpers_is_anonymous_and_quiet() {
    let test = "a_non_ecr_host_in_cred_helpers_is_anonymous_and_quiet";
    let Some(rig) = Rig::up(test) else { return };
    // No alias: 127.0.0.1:PORT is not an ECR registry.
    let sb = Sandbox::new();
    let host = rig.local_host();

    for flow in runnable(test, &["skopeo-pull", "podman-pull"]) {
        let before = rig.registry_401s(Target::Local);
        let run = rig.flow(&sb, flow, Target::Local);
        // Anonymous, so the registry says 401; no helper error and no helper noise.
        assert_refused_with_401(&rig, Target::Local, before, &run);
        assert_eq!(
            run.call_summary(),
            [get_failed(&host)],
            "{}",
            run.describe()
        );
        assert_eq!(run.calls[0].stdout, format!("{NOT_FOUND}\n"));
        assert!(
            !run.err.contains(HELPER_ERROR) && !run.err.contains("docker-credential"),
            "no helper noise: {}",
            run.describe()
        );
    }
    if can_run(test, "docker-pull") {
        let run = rig.flow(&sb, "docker-pull", Target::Local);
        run.assert_failed();
        assert_eq!(
            run.call_summary(),
            [get_failed(&host)],
            "{}",
            run.describe()
        );
        assert_eq!(run.calls[0].stdout, format!("{NOT_FOUND}\n"));
        assert_eq!(run.pull_auth(), json!({}), "{}", run.describe());
        assert!(
            !run.err.contains("docker-credential") && !run.err.contains(NOT_FOUND),
            "no helper noise: {}",
            run.describe()
        );
    }
    assert_eq!(sb.calls(), (0, 0), "a non-ECR host never reaches the API");
}
