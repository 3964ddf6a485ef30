//! `DOCKER_CREDENTIAL_ECR_LOG`: silence by default, our events and the AWS SDK's at `debug`,
//! per-target directives, a bad value that does not cost the answer, and a stderr that cannot
//! be written. That no log line holds a secret at `trace` is `tests/it/secrets.rs`.

use crate::common::*;
use std::process::Output;

fn host() -> String {
    private_host(MOTO_ACCOUNT, "us-east-1")
}

fn answers(out: &Output) {
    assert!(out.status.success(), "{}", describe(out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe(out)));
    assert_eq!(v["Secret"], private_password(MOTO_ACCOUNT).as_str());
}

#[test]
fn unset_or_off_is_silent() {
    for value in [None, Some("off"), Some("0"), Some("")] {
        let mut sb = Sandbox::new();
        if let Some(value) = value {
            sb.env(ENV_LOG, value);
        }
        // A miss runs the SDK, whose events must stay unseen too; then a hit.
        for _ in 0..2 {
            let out = sb.get(&host());
            answers(&out);
            assert!(out.stderr.is_empty(), "{value:?}: {}", describe(&out));
        }
    }
}

#[test]
fn debug_shows_the_sdks_credential_provider_endpoint_and_retries() {
    let mut sb = Sandbox::new();
    sb.debug_log();
    // One throttled answer: the SDK retries, and says so.
    sb.fault("throttle", Some(1), None);
    let out = sb.get(&host());
    answers(&out);
    let err = stderr(&out);
    for expected in [
        // Ours, under this crate's target.
        "docker_credential_ecr::lookup: fetching a token for",
        // Which provider in the default chain answered.
        "loaded credentials provider=Environment",
        // The endpoint the call went to.
        &format!(
            "will apply endpoint Endpoint {{ url: \"{}\"",
            sb.emulator.endpoint()
        ),
        // The retry after the throttle.
        "beginning attempt #2",
    ] {
        assert!(err.contains(expected), "no {expected:?} in:\n{err}");
    }
    assert!(!err.contains(" TRACE "), "debug shows trace events:\n{err}");

    // The hit that follows says where its answer came from.
    let out = sb.get(&host());
    answers(&out);
    assert!(stderr(&out).contains("cache hit for"), "{}", describe(&out));
}

#[test]
fn directives_choose_targets_and_levels() {
    // Only our own events.
    let mut sb = Sandbox::new();
    sb.env(ENV_LOG, "docker_credential_ecr=debug");
    let out = sb.get(&host());
    answers(&out);
    let err = stderr(&out);
    assert!(err.contains("fetching a token"), "{err}");
    assert!(
        err.lines().all(|l| l.contains(" docker_credential_ecr::")),
        "{err}"
    );

    // Only the SDK's credential chain, at trace, and nothing of ours.
    let mut sb = Sandbox::new();
    sb.env(ENV_LOG, "warn,aws_config=trace");
    let out = sb.get(&host());
    answers(&out);
    let err = stderr(&out);
    assert!(
        err.contains("loaded credentials provider=Environment"),
        "{err}"
    );
    assert!(!err.contains("fetching a token"), "{err}");

    // Today's level words keep working, old spellings included.
    for value in ["info", "1", "true", "warning", "ERROR"] {
        let mut sb = Sandbox::new();
        sb.env(ENV_LOG, value);
        let out = sb.get(&host());
        answers(&out);
        assert!(
            !stderr(&out).contains("fetching a token") && !stderr(&out).contains("stays off"),
            "{value}: {}",
            describe(&out)
        );
    }
}

#[test]
fn a_bad_value_is_one_line_and_costs_nothing_else() {
    let mut sb = Sandbox::new();
    sb.env(ENV_LOG, "aws_config=loud");
    let out = sb.get(&host());
    answers(&out);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "docker-credential-ecr: {ENV_LOG}=\"aws_config=loud\""
        )),
        "{err}"
    );
    assert!(err.contains("logging stays off"), "{err}");
}

/// The shell's `2>&-` (stderr closed), and a stderr whose every write fails (`/dev/full`):
/// at `trace`, with the SDK logging hundreds of lines, the answer still comes, whole.
#[test]
fn trace_into_a_closed_or_failing_stderr_still_answers() {
    let mut sb = Sandbox::new();
    sb.env(ENV_LOG, "trace");
    for redirect in ["2>&-", "2>/dev/full"] {
        // Twice: a miss (the SDK's events) and a hit.
        for _ in 0..2 {
            let mut cmd = sb.command("sh");
            cmd.arg("-c")
                .arg(format!("exec \"$0\" get {redirect}"))
                .arg(BIN);
            let out = run_cmd(cmd, &host());
            answers(&out);
        }
        sb.run(["erase"], &host());
    }
}

/// A failed `get` answers one short line; the SDK's whole credential chain, which the line
/// only sums up, is in the debug log (issue 17, symptom 10).
#[test]
fn the_sdks_credential_chain_goes_to_the_debug_log_not_the_answer() {
    let mut sb = Sandbox::new();
    sb.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .debug_log();
    let out = sb.get(&host());
    assert!(!out.status.success(), "{}", describe(&out));
    let answer = stdout(&out);
    assert!(
        answer.starts_with("no AWS credentials found: the SDK tried profile"),
        "{}",
        describe(&out)
    );
    assert!(!answer.contains("Attempted"), "{}", describe(&out));
    let log = stderr(&out);
    assert!(
        log.lines().any(|l| l
            .contains("docker_credential_ecr::token: the SDK's credential chain:")
            && l.contains("Attempted: Profile")),
        "{log}"
    );
}
