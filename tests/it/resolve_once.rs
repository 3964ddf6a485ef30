//! One request resolves its host once: the AWS config and credentials files are read and parsed
//! once per request, whichever part needs them (the cache key, the endpoint settings, the
//! credential chain, the names a timeout or an error gives, `doctor`'s lines, `list`). Two
//! readings could disagree (a file edited in between) and each costs a parse.
//!
//! Counted by the engine's debug line for the one function that parses them
//! (`resolve::load_profiles`). The front logs nothing: a miss there is one parse in the front (the
//! key it looked for) and the engine's.

use crate::common::*;
use std::process::Output;

const PARSE_LINE: &str = "reading the AWS config and credentials files";

fn parses(out: &Output) -> usize {
    stderr(out).matches(PARSE_LINE).count()
}

/// A sandbox whose only credential source is a profile's `credential_process`, so that a fetch
/// plans its chain and names its source from the files, with debug logging on.
fn sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.use_credential_process("");
    sb.debug_log();
    sb
}

#[test]
fn a_get_that_fetches_parses_the_aws_files_once() {
    let sb = sandbox();
    let out = sb.get(&private_host(MOTO_ACCOUNT, "eu-west-1"));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(parses(&out), 1, "{}", describe(&out));
    assert_eq!(sb.calls().0, 1);
}

#[test]
fn a_kubelet_request_parses_the_aws_files_once() {
    let sb = sandbox();
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    let request = crate::kubelet::request(crate::kubelet::V1, &format!("{host}/app:1"));
    let out = sb.run(["kubelet"], &request);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(parses(&out), 1, "{}", describe(&out));
}

#[test]
fn doctor_parses_the_aws_files_once_for_every_host_of_a_profile() {
    let mut sb = sandbox();
    sb.env("XDG_RUNTIME_DIR", sb.root().join("run"));
    let hosts = [
        private_host(MOTO_ACCOUNT, "eu-west-1"),
        private_host("210987654321", "us-west-2"),
    ];
    let out = sb.run(["doctor", hosts[0].as_str(), hosts[1].as_str()], "");
    assert_eq!(parses(&out), 1, "{}", describe(&out));
    // With an invalid config file there is no lookup: still one read for the run.
    sb.config("config.toml", "[[registry]\n");
    let out = sb.run(["doctor", hosts[0].as_str(), hosts[1].as_str()], "");
    assert!(stdout(&out).contains("config.toml"), "{}", describe(&out));
    assert_eq!(parses(&out), 1, "{}", describe(&out));
}

#[test]
fn list_parses_the_aws_files_once_for_every_cached_host() {
    let sb = sandbox();
    for region in ["eu-west-1", "us-west-2"] {
        let out = sb.get(&private_host(MOTO_ACCOUNT, region));
        assert!(out.status.success(), "{}", describe(&out));
    }
    let out = sb.run(["list"], "");
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stdout(&out).matches("https://").count(),
        2,
        "{}",
        describe(&out)
    );
    assert_eq!(parses(&out), 1, "{}", describe(&out));
}
