//! The helper binary against the ECR API emulator: protocol answers, host forms, the cache and
//! its herd discipline, expiry and fallback, and failures as users meet them.

use crate::common::*;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Child;
use std::time::{Duration, Instant};

const ACCOUNT: &str = MOTO_ACCOUNT;

fn host() -> String {
    private_host(ACCOUNT, "us-east-1")
}

#[test]
fn every_host_form_gets_the_emulators_credentials_from_one_api_call() {
    let sb = Sandbox::new();
    let h = host();
    let forms = [
        h.clone(),
        format!("{h}:443"),
        format!("https://{h}"),
        format!("http://{h}"),
        format!("https://{h}/v2/"),
        format!("{h}/team/app"),
        format!("HTTPS://{}:443/v2/", h.to_uppercase()),
    ];
    for form in &forms {
        let answer = sb.get_ok(&format!("{form}\n"));
        assert_eq!(
            answer["ServerURL"],
            form.as_str(),
            "ServerURL must echo the input"
        );
        assert_eq!(answer["Username"], "AWS");
        assert_eq!(answer["Secret"], private_password(ACCOUNT).as_str());
    }
    assert_eq!(
        sb.calls(),
        (1, 0),
        "all forms of one host share one cached token"
    );
}

#[test]
fn answer_is_exactly_one_json_line() {
    let sb = Sandbox::new();
    let out = sb.get(&host());
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "{{\"ServerURL\":\"{}\",\"Username\":\"AWS\",\"Secret\":\"{}\"}}\n",
            host(),
            private_password(ACCOUNT)
        )
    );
    assert!(
        out.stderr.is_empty(),
        "stderr must stay quiet: {}",
        describe(&out)
    );
}

#[test]
fn ecr_public_uses_the_ecr_public_api() {
    let sb = Sandbox::new();
    for form in [
        "public.ecr.aws",
        "https://public.ecr.aws/v2/",
        "ecr-public.aws.com",
    ] {
        let answer = sb.get_ok(form);
        assert_eq!(answer["Secret"], PUBLIC_PASSWORD);
    }
    // Two host names of one ECR Public: one token per identity, and no private API call.
    assert_eq!(sb.calls(), (0, 1));
    assert_eq!(cache_files(&sb, ".json").len(), 1);
}

#[test]
fn other_registries_are_not_found_without_any_api_call() {
    let sb = Sandbox::new();
    for input in [
        "docker.io",
        "https://index.docker.io/v1/",
        "ghcr.io/owner/image",
        "localhost:5000",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
        "12345678901.dkr.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000",
        "https://user:pass@123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "{\"ServerURL\":\"123456789012.dkr.ecr.us-east-1.amazonaws.com\"}",
    ] {
        let out = sb.get(input);
        assert_eq!(out.status.code(), Some(1), "{input}: {}", describe(&out));
        assert_eq!(
            stdout(&out),
            "credentials not found in native keychain\n",
            "{input}"
        );
    }
    assert_eq!(sb.calls(), (0, 0));
}

#[test]
fn protocol_rules() {
    let sb = Sandbox::new();
    let out = sb.run(["get"], "");
    assert_eq!(
        (out.status.code(), stdout(&out)),
        (Some(1), "no credentials server URL\n".into())
    );
    let out = sb.run(Vec::<&str>::new(), "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "Usage: docker-credential-ecr <get|store|erase|list|version>\n"
    );
    let out = sb.run(["get", "more"], &host());
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("Usage: "));
    let out = sb.run(["frobnicate"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("unknown action \"frobnicate\""),
        "{}",
        describe(&out)
    );
    for action in ["version", "--version", "-v"] {
        let out = sb.run([action], "");
        assert!(out.status.success());
        assert!(
            stdout(&out).starts_with("docker-credential-ecr ("),
            "{}",
            describe(&out)
        );
    }
    let out = sb.run(["--help"], "");
    assert!(out.status.success() && stdout(&out).contains("Usage:"));
    let login = format!(
        "{{\"ServerURL\":\"{}\",\"Username\":\"AWS\",\"Secret\":\"x\"}}",
        host()
    );
    let out = sb.run(["store"], &login);
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), String::new()));
    let out = sb.run(["erase"], &host());
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), String::new()));
}

#[test]
fn list_names_registries_with_a_valid_cached_token_and_erase_forgets_one() {
    let sb = Sandbox::new();
    let list = |sb: &Sandbox| -> serde_json::Value {
        let out = sb.run(["list"], "unused");
        assert!(out.status.success(), "{}", describe(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(list(&sb), serde_json::json!({}));
    let east = host();
    let west = private_host(ACCOUNT, "us-west-2");
    sb.get_ok(&east);
    sb.get_ok(&west);
    assert_eq!(
        list(&sb),
        serde_json::json!({ format!("https://{east}"): "AWS", format!("https://{west}"): "AWS" })
    );
    // Another identity sharing the cache directory sees none of them.
    let mut other = Sandbox::new();
    other.env("AWS_ECR_CACHE_DIR", sb.cache_root());
    assert_eq!(list(&other), serde_json::json!({}));
    let out = sb.run(["erase"], &format!("https://{west}"));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        list(&sb),
        serde_json::json!({ format!("https://{east}"): "AWS" })
    );
}

#[test]
fn a_hit_is_served_with_the_emulator_gone() {
    let emulator = Emulator::start_with(&[]);
    let sb = Sandbox::with_emulator(&emulator);
    let first = sb.get_ok(&host());
    drop(emulator);
    let second = sb.get_ok(&format!("https://{}", host()));
    assert_eq!(first["Secret"], second["Secret"]);
    // A host never fetched has nothing cached: a real error, not "not found".
    let out = sb.get(&private_host(ACCOUNT, "eu-west-1"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("cannot reach http://127.0.0.1:"),
        "{}",
        describe(&out)
    );
}

/// Starts `n` helpers per host, then releases them all at once by writing their stdin.
fn herd(sb: &Sandbox, hosts: &[String], n: usize) -> Vec<std::process::Output> {
    let mut children: Vec<(Child, &String)> = Vec::new();
    for h in hosts {
        for _ in 0..n {
            children.push((sb.spawn_get(), h));
        }
    }
    for (child, h) in &mut children {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(h.as_bytes()).unwrap();
    }
    children
        .into_iter()
        .map(|(c, _)| c.wait_with_output().unwrap())
        .collect()
}

#[test]
fn concurrent_cold_gets_make_one_api_call_per_region() {
    let sb = Sandbox::new();
    let outs = herd(&sb, &[host()], 32);
    for out in &outs {
        assert!(out.status.success(), "{}", describe(out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["Secret"], private_password(ACCOUNT).as_str());
    }
    assert_eq!(
        sb.calls(),
        (1, 0),
        "32 concurrent cold gets must share one GetAuthorizationToken"
    );

    let sb = Sandbox::new();
    let hosts: Vec<String> = ["us-east-1", "us-west-2", "eu-west-1", "ap-south-1"]
        .iter()
        .map(|r| private_host(ACCOUNT, r))
        .collect();
    let outs = herd(&sb, &hosts, 8);
    assert!(outs.iter().all(|o| o.status.success()));
    assert_eq!(sb.calls(), (4, 0), "one call per region");
}

#[test]
fn a_hit_does_not_run_a_slow_credential_process() {
    let mut sb = Sandbox::new();
    let marker = sb.root().join("credential_process.runs");
    sb.use_credential_process(&format!("echo run >> '{}'\nsleep 1", marker.display()));

    let started = Instant::now();
    sb.get_ok(&host());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the miss ran the credential process"
    );
    let runs = || {
        std::fs::read_to_string(&marker)
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert_eq!(runs(), 1);

    let started = Instant::now();
    let answer = sb.get_ok(&host());
    let hit = started.elapsed();
    assert_eq!(answer["Secret"], private_password(ACCOUNT).as_str());
    assert_eq!(runs(), 1, "a cache hit must not resolve credentials");
    assert!(hit < Duration::from_millis(500), "hit took {hit:?}");
    assert_eq!(sb.calls(), (1, 0));
}

#[test]
fn corrupt_cache_files_are_rebuilt() {
    let sb = Sandbox::new();
    sb.get_ok(&host());
    let entries = cache_files(&sb, ".json");
    assert_eq!(entries.len(), 1);
    for junk in [
        &b""[..],
        b"{\"schema\":",
        b"\x00\xff\xfe garbage",
        b"{\"schema\":\"v999\"}",
    ] {
        std::fs::write(&entries[0], junk).unwrap();
        sb.get_ok(&host());
        let text = std::fs::read_to_string(&entries[0]).unwrap();
        assert!(
            text.contains(docker_credential_ecr::testing::cache::SCHEMA),
            "not rebuilt: {text}"
        );
    }
    assert_eq!(sb.calls(), (5, 0));
}

#[test]
fn cache_is_private_whatever_the_umask() {
    let sb = Sandbox::new();
    let mut cmd = sb.command("sh");
    cmd.args(["-c", &format!("umask 000; exec '{BIN}' get")]);
    let out = run_cmd(cmd, &host());
    assert!(out.status.success(), "{}", describe(&out));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sb.helper_cache_dir()), 0o700);
    // Every file the helper made: entries, locks and the sweep stamp.
    let files = cache_files(&sb, "");
    assert!(files.len() >= 3, "{files:?}");
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    // The Go helper's file in the shared directory is never created or touched.
    assert!(!sb.cache_root().join("cache.json").exists());
}

#[test]
fn an_unusable_cache_directory_still_returns_the_token() {
    let sb = Sandbox::new();
    let file_in_the_way = sb.root().join("not-a-dir");
    std::fs::write(&file_in_the_way, "x").unwrap();
    for dir in [
        file_in_the_way.as_path(),
        std::path::Path::new("/proc/no-such-dir/cache"),
    ] {
        let mut sb2 = Sandbox::new();
        sb2.env("AWS_ECR_CACHE_DIR", dir);
        let answer = sb2.get_ok(&host());
        assert_eq!(answer["Secret"], private_password(ACCOUNT).as_str());
        // Uncached: each get is a fetch.
        sb2.get_ok(&host());
        assert_eq!(sb2.calls(), (2, 0), "{}", dir.display());
    }
}

#[test]
fn an_expiring_token_is_refreshed() {
    let sb = Sandbox::new();
    // 4 s tokens: refreshed once under 1 s (a quarter) remains.
    sb.set_ttl(4);
    sb.get_ok(&host());
    sb.get_ok(&host());
    assert_eq!(sb.calls(), (1, 0));
    sb.age_cache(Duration::from_millis(3200));
    sb.get_ok(&host());
    assert_eq!(
        sb.calls(),
        (2, 0),
        "a token inside its refresh margin must be refreshed"
    );
}

#[test]
fn a_failed_refresh_serves_the_valid_token_but_never_an_expired_one() {
    let sb = Sandbox::new();
    sb.set_ttl(4);
    let first = sb.get_ok(&host());
    sb.fault("access-denied", None, None);
    sb.age_cache(Duration::from_millis(3200));
    let during = sb.get_ok(&host());
    assert_eq!(first["Secret"], during["Secret"]);
    sb.age_cache(Duration::from_millis(1000));
    let out = sb.get(&host());
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stdout(&out).starts_with("AccessDeniedException: "),
        "{}",
        describe(&out)
    );
}

#[test]
fn failures_are_one_actionable_line() {
    let sb = Sandbox::new();
    sb.fault("access-denied", None, None);
    let out = sb.get(&host());
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with("AccessDeniedException: "),
        "{}",
        describe(&out)
    );
    assert_eq!(text.lines().count(), 1);

    let mut nobody = Sandbox::new();
    nobody
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_PROFILE", "dev");
    let out = nobody.get(&host());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("no AWS credentials found for profile \"dev\": "),
        "{}",
        describe(&out)
    );
    assert_eq!(stdout(&out).lines().count(), 1);
}

#[test]
fn no_credentials_and_a_silent_metadata_service_fail_within_seconds() {
    // A metadata "service" on loopback that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut sb = Sandbox::new();
    sb.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env("DOCKER_CREDENTIAL_ECR_TIMEOUT", "3");
    let started = Instant::now();
    let out = sb.get(&host());
    let took = started.elapsed();
    drop(listener);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        took < Duration::from_secs(8),
        "took {took:?}: {}",
        describe(&out)
    );
    let text = stdout(&out);
    assert!(
        text.starts_with("no AWS credentials found")
            || text.starts_with(
                "timed out getting credentials from the EC2 instance metadata service"
            ),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_hanging_api_times_out_at_the_configured_bound() {
    let mut sb = Sandbox::new();
    sb.env("DOCKER_CREDENTIAL_ECR_TIMEOUT", "2");
    sb.fault("hang", None, None);
    let started = Instant::now();
    let out = sb.get(&host());
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        stdout(&out).starts_with("timed out reaching http://127.0.0.1:"),
        "{}",
        describe(&out)
    );
    assert!(stdout(&out).contains("after 2s"), "{}", describe(&out));
}

/// The cached entry's JSON (the sandbox has exactly one).
fn the_entry(sb: &Sandbox) -> (std::path::PathBuf, serde_json::Value) {
    let files = cache_files(sb, ".json");
    assert_eq!(files.len(), 1, "{files:?}");
    let v = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    (files[0].clone(), v)
}

/// A server clock 2 hours ahead of ours (or ours 2 hours slow): the token still lasts only
/// its lifetime from when it arrived, so it is refreshed on time, not kept 2 hours past it.
#[test]
fn a_server_clock_two_hours_ahead_does_not_stretch_a_token() {
    let sb = Sandbox::new();
    sb.set_skew(2 * 3600);
    sb.set_ttl(4);
    sb.get_ok(&host());
    sb.get_ok(&host());
    assert_eq!(sb.calls(), (1, 0), "a fresh token is a hit");
    let (_, entry) = the_entry(&sb);
    // The Date header has whole seconds: the lifetime is known to within one.
    let lifetime = entry["token"]["lifetime_ms"].as_u64().unwrap();
    assert!((3_000..=4_000).contains(&lifetime), "{entry}");
    sb.age_cache(Duration::from_millis(3200));
    sb.get_ok(&host());
    assert_eq!(
        sb.calls(),
        (2, 0),
        "a token inside its refresh margin must be refreshed, whatever the server's clock says"
    );
}

/// A server clock 13 hours behind ours (or ours 13 hours fast): the token's `expiresAt` is in
/// our past, yet it is valid for 12 hours from when it arrived: answered, cached and a hit.
#[test]
fn a_server_clock_thirteen_hours_behind_does_not_expire_a_valid_token() {
    let sb = Sandbox::new();
    sb.set_skew(-13 * 3600);
    let answer = sb.get_ok(&host());
    assert_eq!(answer["Secret"], private_password(ACCOUNT).as_str());
    sb.get_ok(&host());
    assert_eq!(sb.calls(), (1, 0), "the cached token is a hit");
    let (_, entry) = the_entry(&sb);
    let lifetime = entry["token"]["lifetime_ms"].as_u64().unwrap();
    assert!(
        (DEFAULT_TOKEN_TTL_SECS * 1000 - 5_000..=DEFAULT_TOKEN_TTL_SECS * 1000).contains(&lifetime),
        "{entry}"
    );
}

/// The local clock set back after a fetch (a VM restored from a snapshot, a clock corrected at
/// boot): the entry was fetched "in the future", its age is unknown, and it is a miss.
#[test]
fn an_entry_fetched_in_the_future_is_a_miss() {
    let sb = Sandbox::new();
    sb.get_ok(&host());
    let (path, mut entry) = the_entry(&sb);
    let fetched = entry["token"]["fetched_at"].as_u64().unwrap();
    entry["token"]["fetched_at"] = (fetched + 3_600_000).into();
    std::fs::write(&path, entry.to_string()).unwrap();
    sb.get_ok(&host());
    assert_eq!(sb.calls(), (2, 0));
}

/// A hit trusts no file name: an entry under this key's name that records another identity or
/// another scope (region, endpoint), or a lifetime no ECR token has, is a miss (and is replaced).
#[test]
fn an_entry_is_a_hit_only_for_its_own_identity_scope_and_a_plausible_lifetime() {
    let sb = Sandbox::new();
    sb.get_ok(&host());
    let (path, original) = the_entry(&sb);
    let day = 24 * 3_600_000u64;
    type Edit<'a> = &'a dyn Fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 3] = [
        ("identity", &|e| {
            e["identity"] = format!(
                "{}\nAWS_PROFILE=someone-else",
                e["identity"].as_str().unwrap()
            )
            .into()
        }),
        ("scope", &|e| {
            e["identity"] = e["identity"]
                .as_str()
                .unwrap()
                .replace("us-east-1", "us-west-2")
                .into()
        }),
        ("lifetime", &|e| {
            let fetched = e["token"]["fetched_at"].as_u64().unwrap();
            e["token"]["lifetime_ms"] = day.into();
            // What the previous schema kept: the same claim, for a build that reads that.
            e["token"]["expires_at"] = (fetched + day).into();
        }),
    ];
    for (n, (what, edit)) in edits.iter().enumerate() {
        let mut entry = original.clone();
        edit(&mut entry);
        std::fs::write(&path, entry.to_string()).unwrap();
        sb.get_ok(&host());
        assert_eq!(
            sb.calls(),
            (n as u32 + 2, 0),
            "an entry with another {what} was a hit"
        );
    }
}

/// An entry of the previous schema (v2: one entry per registry host) is a miss, never an error,
/// and is replaced.
#[test]
fn an_entry_of_the_previous_schema_is_a_miss() {
    let sb = Sandbox::new();
    sb.get_ok(&host());
    let (path, entry) = the_entry(&sb);
    let now = now_secs() as u64 * 1000;
    let v2 = serde_json::json!({
        "schema": "docker-credential-ecr/cache/v2",
        "identity": entry["identity"],
        "host": host(),
        "token": {
            "proxy_endpoint": entry["token"]["proxy_endpoint"],
            "username": "AWS",
            "password": private_password(ACCOUNT),
            "fetched_at": now,
            "lifetime_ms": 3_600_000,
        },
    });
    std::fs::write(&path, v2.to_string()).unwrap();
    sb.get_ok(&host());
    assert_eq!(sb.calls(), (2, 0));
    let (_, replaced) = the_entry(&sb);
    assert_eq!(
        replaced["schema"],
        docker_credential_ecr::testing::cache::SCHEMA
    );
    assert_eq!(replaced["hosts"], serde_json::json!([host()]));
    sb.get_ok(&host());
    assert_eq!(sb.calls(), (2, 0));
}

/// The account a sandbox's calls are answered for in the cross-account tests: none of the
/// registries asked for, as for a user pulling from other accounts' registries.
const CALLER: &str = "999988887777";

fn accounts(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{i:012}")).collect()
}

/// A sandbox whose token belongs to `CALLER`'s account.
fn cross_account_sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.emulator.set_account(&sb.akid, CALLER);
    sb
}

/// Every answer of a herd is a success, for the host asked for, with the caller's token (what
/// ECR issues whichever registry it is used for).
fn assert_answers(outs: &[std::process::Output], hosts: &[String], per_host: usize) {
    assert_eq!(outs.len(), hosts.len() * per_host);
    for (i, out) in outs.iter().enumerate() {
        assert!(out.status.success(), "{}", describe(out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["ServerURL"], hosts[i / per_host].as_str());
        assert_eq!(v["Username"], "AWS");
        assert_eq!(v["Secret"], private_password(CALLER).as_str());
    }
}

#[test]
fn a_herd_over_8_accounts_of_one_region_makes_one_api_call() {
    let sb = cross_account_sandbox();
    let hosts: Vec<String> = accounts(8)
        .iter()
        .map(|a| private_host(a, "eu-central-1"))
        .collect();
    let outs = herd(&sb, &hosts, 8);
    assert_answers(&outs, &hosts, 8);
    assert_eq!(
        sb.calls(),
        (1, 0),
        "64 cold gets over 8 accounts of one region share one GetAuthorizationToken"
    );
    assert_eq!(cache_files(&sb, ".json").len(), 1);
    // Every host the herd asked for is recorded in the one entry, so `list` names them all.
    let out = sb.run(["list"], "unused");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want: serde_json::Map<String, serde_json::Value> = hosts
        .iter()
        .map(|h| (format!("https://{h}"), "AWS".into()))
        .collect();
    assert_eq!(listed, serde_json::Value::Object(want));
}

#[test]
fn a_herd_over_8_accounts_in_2_regions_makes_two_api_calls() {
    let sb = cross_account_sandbox();
    let hosts: Vec<String> = ["us-east-1", "ap-southeast-2"]
        .iter()
        .flat_map(|r| accounts(8).into_iter().map(move |a| private_host(&a, r)))
        .collect();
    let outs = herd(&sb, &hosts, 4);
    assert_answers(&outs, &hosts, 4);
    let calls = sb.emulator.calls_detail(&sb.akid);
    assert_eq!((calls.ecr, calls.ecr_public), (2, 0), "one call per region");
    let mut regions = calls.regions.clone();
    regions.sort();
    assert_eq!(regions, ["ap-southeast-2", "us-east-1"]);
}

/// `list` names the hosts that were asked for, not the reply's proxyEndpoint (the caller's own
/// registry, which nobody asked for here).
#[test]
fn list_names_every_registry_asked_for_across_accounts_and_regions() {
    let sb = cross_account_sandbox();
    let mut want = serde_json::Map::new();
    for region in ["us-east-1", "eu-west-1"] {
        for account in accounts(4) {
            let h = private_host(&account, region);
            // Any spelling: list gives the normalised host.
            sb.get_ok(&format!("https://{h}/v2/"));
            want.insert(format!("https://{h}"), "AWS".into());
        }
    }
    assert_eq!(sb.calls(), (2, 0));
    let out = sb.run(["list"], "unused");
    assert!(out.status.success(), "{}", describe(&out));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got, serde_json::Value::Object(want));
    // A host never asked for is not claimed, though its token is at hand.
    assert!(!stdout(&out).contains(CALLER), "{}", stdout(&out));
}

/// `share_token = false` keeps an organisation's per-account isolation: those registries get
/// an entry and a call each; the others still share theirs.
#[test]
fn share_token_false_gives_each_registry_its_own_entry() {
    let mut sb = cross_account_sandbox();
    sb.config(
        "config.toml",
        "[[registry]]\nmatch = \"*.dkr.ecr.us-east-1.amazonaws.com\"\nshare_token = false\n",
    );
    let isolated: Vec<String> = accounts(4)
        .iter()
        .map(|a| private_host(a, "us-east-1"))
        .collect();
    let shared: Vec<String> = accounts(4)
        .iter()
        .map(|a| private_host(a, "us-west-2"))
        .collect();
    for h in isolated.iter().chain(&shared) {
        assert_eq!(sb.get_ok(h)["Secret"], private_password(CALLER).as_str());
    }
    assert_eq!(
        sb.calls(),
        (5, 0),
        "4 isolated registries and 1 shared region"
    );
    assert_eq!(cache_files(&sb, ".json").len(), 5);
    for h in isolated.iter().chain(&shared) {
        sb.get_ok(h);
    }
    assert_eq!(sb.calls(), (5, 0), "all hits");
}

/// 100 accounts' registries of one region pulled round robin (one token, one entry): each hit
/// for a host the entry does not hold appends it to the entry's hosts log, and `list` names
/// every one of them, not the entry's own 64.
#[test]
fn list_names_all_100_hosts_of_a_round_robin() {
    let sb = Sandbox::new();
    let hosts: Vec<String> = (0..100)
        .map(|i| private_host(&format!("{:012}", 100_000_000_000u64 + i), "us-east-1"))
        .collect();
    for _ in 0..2 {
        for h in &hosts {
            sb.get_ok(h);
        }
    }
    assert_eq!(sb.calls(), (1, 0), "one token for the region");
    let out = sb.run(["list"], "unused");
    assert!(out.status.success(), "{}", describe(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = listed.as_object().unwrap();
    assert_eq!(listed.len(), hosts.len(), "{listed:?}");
    for h in &hosts {
        assert_eq!(listed[&format!("https://{h}")], "AWS", "{h}");
    }
}
