//! The kubelet credential provider mode, end to end: the real binary, requests shaped exactly as
//! the kubelet sends them, the ECR emulator behind it, and moto's STS for the service-account
//! (web identity) flavour.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::process::Output;
use std::time::Duration;

pub(crate) const V1: &str = "credentialprovider.kubelet.k8s.io/v1";
const V1BETA1: &str = "credentialprovider.kubelet.k8s.io/v1beta1";
const ROLE_ANNOTATION: &str = "eks.amazonaws.com/ecr-role-arn";

/// A request as the kubelet's encoder writes it: kind first, optional fields omitted when empty.
pub(crate) fn request(api_version: &str, image: &str) -> String {
    json!({"kind": "CredentialProviderRequest", "apiVersion": api_version, "image": image})
        .to_string()
}

/// A request with a service-account token, and the role annotation when `role` is given.
pub(crate) fn sa_request(image: &str, token: &str, role: Option<&str>) -> String {
    let mut r = json!({
        "kind": "CredentialProviderRequest",
        "apiVersion": V1,
        "image": image,
        "serviceAccountToken": token,
    });
    if let Some(role) = role {
        r["serviceAccountAnnotations"] = json!({ ROLE_ANNOTATION: role });
    }
    r.to_string()
}

/// A service-account token shaped like the kubelet's, bound to `pod` (unsigned: moto does not
/// verify, and neither does the plugin).
pub(crate) fn sa_token(namespace: &str, name: &str, pod: &str) -> String {
    let enc = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let now = now_secs() as u64;
    format!(
        "{}.{}.c2lnbmF0dXJl",
        enc(json!({"alg": "RS256", "kid": "test"})),
        enc(json!({
            "aud": ["sts.amazonaws.com"],
            "exp": now + 3600,
            "iat": now,
            "iss": "https://oidc.eks.eu-west-1.amazonaws.com/id/TEST",
            "jti": format!("jti-{pod}"),
            "kubernetes.io": {
                "namespace": namespace,
                "pod": {"name": pod, "uid": format!("uid-{pod}")},
                "serviceaccount": {"name": name, "uid": format!("uid-{namespace}-{name}")}
            },
            "nbf": now,
            "sub": format!("system:serviceaccount:{namespace}:{name}")
        }))
    )
}

fn kubelet(sb: &Sandbox, stdin: &str) -> Output {
    sb.run(["kubelet"], stdin)
}

fn response(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "kubelet mode failed: {}",
        describe(out)
    );
    assert!(
        out.stderr.is_empty(),
        "unexpected stderr: {}",
        describe(out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", describe(out)))
}

/// The one-line error of a failed run; stdout must be empty (the kubelet ignores it anyway).
fn failure(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", describe(out));
    assert!(
        out.stdout.is_empty(),
        "stdout on failure: {}",
        describe(out)
    );
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    err
}

/// Go's duration syntax as the plugin writes it (`11h29m59s`, `1m30s`, `0s`).
fn go_duration(s: &str) -> Duration {
    let mut secs = 0u64;
    let mut number = String::new();
    for c in s.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' => {
                let n: u64 = number
                    .parse()
                    .unwrap_or_else(|_| panic!("bad duration {s:?}"));
                secs += n * match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                number.clear();
            }
            _ => panic!("bad duration {s:?}"),
        }
    }
    assert!(number.is_empty(), "bad duration {s:?}");
    Duration::from_secs(secs)
}

#[test]
fn answers_requests_for_images_with_tag_digest_and_port() {
    let sb = Sandbox::new();
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
    let cases = [
        (V1, format!("{host}/team/app:1.2.3"), host.clone()),
        (V1BETA1, format!("{host}/app@{digest}"), host.clone()),
        (V1, format!("{host}:443/app:latest"), format!("{host}:443")),
    ];
    for (api, image, key) in &cases {
        let r = response(&kubelet(&sb, &request(api, image)));
        assert_eq!(r["apiVersion"], *api, "{image}");
        assert_eq!(r["kind"], "CredentialProviderResponse");
        assert_eq!(r["cacheKeyType"], "Registry");
        assert!(r.get("serviceAccountTokenCacheType").is_none());
        let fields: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(fields.len(), 5, "unexpected fields: {fields:?}");
        // A 12-hour token: the kubelet keeps it 11.5 hours at most.
        let keep = go_duration(r["cacheDuration"].as_str().unwrap());
        assert!(
            keep <= Duration::from_secs(11 * 3600 + 30 * 60)
                && keep > Duration::from_secs(11 * 3600 + 25 * 60),
            "{keep:?}"
        );
        let auth = r["auth"].as_object().unwrap();
        assert_eq!(auth.len(), 1);
        assert_eq!(
            auth[key.as_str()],
            json!({"username": "AWS", "password": private_password(MOTO_ACCOUNT)}),
            "auth is keyed by the image's host[:port] exactly"
        );
    }
    // One token served all three: the disk cache is shared with `get`.
    assert_eq!(sb.calls(), (1, 0));
    let answer = sb.get_ok(&host);
    assert_eq!(answer["Secret"], private_password(MOTO_ACCOUNT));
    assert_eq!(sb.calls(), (1, 0));
}

/// The kubelet reuses the region's shared entry that `get` made for another account, and still
/// answers for exactly the image's registry.
#[test]
fn the_kubelet_reuses_the_regions_shared_token_for_another_account() {
    let sb = Sandbox::new();
    let docker_host = private_host("111111111111", "eu-west-1");
    let image_host = private_host("222222222222", "eu-west-1");
    sb.get_ok(&docker_host);
    assert_eq!(sb.calls(), (1, 0));
    let r = response(&kubelet(
        &sb,
        &request(V1, &format!("{image_host}/team/app:1")),
    ));
    assert_eq!(sb.calls(), (1, 0), "the shared entry was a hit");
    assert_eq!(r["cacheKeyType"], "Registry");
    assert_eq!(
        r["auth"],
        json!({ image_host.as_str(): {"username": "AWS", "password": private_password(MOTO_ACCOUNT)} })
    );
    // And the other way round: what the kubelet fetched serves `get` for a third account.
    let other = Sandbox::new();
    let third = private_host("333333333333", "us-east-2");
    response(&kubelet(
        &other,
        &request(
            V1,
            &format!("{image_host}/app:1").replace("eu-west-1", "us-east-2"),
        ),
    ));
    assert_eq!(
        other.get_ok(&third)["Secret"],
        private_password(MOTO_ACCOUNT)
    );
    assert_eq!(other.calls(), (1, 0));
}

#[test]
fn ecr_public_images_get_the_public_token() {
    let sb = Sandbox::new();
    let r = response(&kubelet(
        &sb,
        &request(V1, "public.ecr.aws/nginx/nginx:1.27"),
    ));
    assert_eq!(
        r["auth"]["public.ecr.aws"],
        json!({"username": "AWS", "password": PUBLIC_PASSWORD})
    );
    assert_eq!(sb.calls(), (0, 1));
}

#[test]
fn cache_duration_follows_the_tokens_remaining_life() {
    let sb = Sandbox::new();
    sb.set_ttl(120);
    let image = format!("{}/app:1", private_host(MOTO_ACCOUNT, "us-west-2"));
    let r = response(&kubelet(&sb, &request(V1, &image)));
    // 120 s left, a quarter kept back: at most 90 s, and never the kubelet's default.
    let keep = go_duration(r["cacheDuration"].as_str().unwrap());
    assert!(
        keep <= Duration::from_secs(90) && keep >= Duration::from_secs(80),
        "{keep:?}"
    );
}

#[test]
fn installed_as_ecr_credential_provider_it_is_the_plugin() {
    let sb = Sandbox::new();
    let link = sb.root().join("ecr-credential-provider");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    // Same environment as the sandbox's own runs, program replaced by the link.
    let cmd = sb.command(&link);
    let image = format!("{}/app:1", private_host(MOTO_ACCOUNT, "eu-central-1"));
    let r = response(&run_cmd(cmd, &request(V1, &image)));
    assert_eq!(r["kind"], "CredentialProviderResponse");
    assert_eq!(sb.calls(), (1, 0));
}

#[test]
fn bad_requests_are_one_line_errors_with_exit_status_1() {
    let sb = Sandbox::new();
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    let err = failure(&kubelet(&sb, &request(V1, "docker.io/library/nginx:1.27")));
    assert!(
        err.contains("\"docker.io\" is not an Amazon ECR registry"),
        "{err}"
    );
    assert!(err.contains("matchImages"), "{err}");
    let err = failure(&kubelet(&sb, &request(V1, "nginx:1.27")));
    assert!(err.contains("is not an Amazon ECR registry"), "{err}");
    let err = failure(&kubelet(
        &sb,
        &request("credentialprovider.kubelet.k8s.io/v2", &format!("{host}/a")),
    ));
    assert!(
        err.contains("unsupported apiVersion \"credentialprovider.kubelet.k8s.io/v2\""),
        "{err}"
    );
    let wrong_kind =
        json!({"kind": "ExecCredential", "apiVersion": V1, "image": format!("{host}/a")});
    let err = failure(&kubelet(&sb, &wrong_kind.to_string()));
    assert!(err.contains("unsupported kind \"ExecCredential\""), "{err}");
    let err = failure(&kubelet(&sb, "{\"kind\": \"CredentialProviderRequest\""));
    assert!(err.contains("malformed JSON at line 1"), "{err}");
    let err = failure(&kubelet(&sb, ""));
    assert!(err.contains("malformed JSON"), "{err}");
    let err = failure(&kubelet(&sb, &" ".repeat(70_000)));
    assert!(err.contains("larger than 65536 bytes"), "{err}");
    let extra = sb.run(["kubelet", "extra"], &request(V1, &format!("{host}/a")));
    // A usage error, as for every command: clap's message on stderr, exit status 2.
    assert_eq!(extra.status.code(), Some(2));
    assert!(stderr(&extra).contains("unexpected argument 'extra'"));
    assert_eq!(sb.calls(), (0, 0), "no request reached the API");
}

#[test]
fn an_image_with_user_info_never_puts_the_password_in_the_error() {
    let sb = Sandbox::new();
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    for image in [
        format!("deploy:hunter2@{host}/team/app:1"),
        format!("deploy:hunter2@{host}"),
        format!(
            "https://deploy:hunter2@{host}/team/app@sha256:{}",
            "0".repeat(64)
        ),
    ] {
        let err = failure(&kubelet(&sb, &request(V1, &image)));
        assert!(!err.contains("hunter2"), "password echoed: {err}");
        assert!(err.contains("***@"), "{err}");
        assert!(err.contains("is not an Amazon ECR registry"), "{err}");
    }
    assert_eq!(sb.calls(), (0, 0));
}

#[test]
fn api_failures_are_reported_on_stderr() {
    let sb = Sandbox::new();
    sb.fault("access-denied", None, None);
    let image = format!("{}/app:1", private_host(MOTO_ACCOUNT, "ap-south-1"));
    let err = failure(&kubelet(&sb, &request(V1, &image)));
    assert!(err.contains("AccessDeniedException"), "{err}");
}

fn sa_sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    let sts = sb.emulator.endpoint().to_string();
    sb.env("AWS_ENDPOINT_URL_STS", sts).debug_log();
    sb
}

fn cache_entries(sb: &Sandbox) -> usize {
    std::fs::read_dir(sb.helper_cache_dir())
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json"))
            })
            .count()
        })
        .unwrap_or(0)
}

#[test]
fn service_account_tokens_pull_as_the_annotated_role() {
    let sb = sa_sandbox();
    let role_account = "210987654321";
    let role = format!("arn:aws:iam::{role_account}:role/image-puller");
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    let image = format!("{host}/team-a/app:1");
    let token = sa_token("team-a", "puller", "web-1");

    let out = sb.run(["kubelet"], &sa_request(&image, &token, Some(&role)));
    assert!(out.status.success(), "{}", describe(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    // moto issues ECR tokens for the account of the credentials' principal: the assumed role's.
    assert_eq!(
        r["auth"][host.as_str()]["password"],
        private_password(role_account)
    );
    assert_eq!(r["cacheKeyType"], "Registry");
    assert!(
        r.get("serviceAccountTokenCacheType").is_none(),
        "released kubelets decode strictly and reject unknown response fields"
    );
    assert_eq!(sb.calls(), (0, 0), "the node's own credentials were used");
    let err = stderr(&out);
    assert!(err.contains("fetching a token"), "{err}");

    // The next pod of the same service account brings a new token: still a hit.
    let rotated = sa_token("team-a", "puller", "web-2");
    let out = sb.run(["kubelet"], &sa_request(&image, &rotated, Some(&role)));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stderr(&out).contains("cache hit"), "{}", describe(&out));
    assert_eq!(cache_entries(&sb), 1);

    // Another service account, or another role, never shares that entry.
    let other_sa = sa_token("team-b", "puller", "api-1");
    let out = sb.run(["kubelet"], &sa_request(&image, &other_sa, Some(&role)));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stderr(&out).contains("fetching a token"));
    let other_role = format!("arn:aws:iam::{MOTO_ACCOUNT}:role/other");
    let out = sb.run(["kubelet"], &sa_request(&image, &token, Some(&other_role)));
    assert!(out.status.success(), "{}", describe(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        r["auth"][host.as_str()]["password"],
        private_password(MOTO_ACCOUNT)
    );
    assert_eq!(cache_entries(&sb), 3);

    // And the node's own identity (no token) is yet another entry.
    let out = sb.run(["kubelet"], &request(V1, &image));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(sb.calls(), (1, 0));
    assert_eq!(cache_entries(&sb), 4);

    // The token never shows up anywhere: output, logs or cache files.
    for entry in std::fs::read_dir(sb.helper_cache_dir()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains(&token[..60]) && !text.contains(&rotated[..60]));
    }
}

#[test]
fn a_service_account_token_without_the_role_annotation_is_refused() {
    let sb = sa_sandbox();
    let image = format!("{}/app:1", private_host(MOTO_ACCOUNT, "eu-west-1"));
    let token = sa_token("team-a", "puller", "web-1");
    for role in [None, Some("not-an-arn")] {
        let out = sb.run(["kubelet"], &sa_request(&image, &token, role));
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        assert!(out.stdout.is_empty());
        let err = stderr(&out);
        assert!(err.contains(ROLE_ANNOTATION), "{err}");
        assert!(!err.contains(&token[..40]), "the token leaked: {err}");
    }
    assert_eq!(sb.calls(), (0, 0));
}

#[test]
fn shipped_kubelet_configs_agree() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubelet");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let node = read("credential-provider-config.yaml");
    let sa = read("credential-provider-config-service-account.yaml");
    let globs = |y: &str| -> Vec<String> {
        y.lines()
            .filter(|l| l.starts_with("      - \""))
            .map(str::to_owned)
            .collect()
    };
    assert!(globs(&node).contains(&"      - \"*.dkr.ecr.*.amazonaws.com\"".to_string()));
    assert!(globs(&node).contains(&"      - \"public.ecr.aws\"".to_string()));
    assert_eq!(
        globs(&node),
        globs(&sa),
        "matchImages drifted between the two files"
    );
    for y in [&node, &sa] {
        assert!(y.contains("    apiVersion: credentialprovider.kubelet.k8s.io/v1\n"));
        assert!(y.contains("    args:\n      - kubelet\n"));
    }
    assert!(sa.contains("      serviceAccountTokenAudience: sts.amazonaws.com\n"));
    assert!(sa.contains("      cacheType: ServiceAccount\n"));
    assert!(sa.contains(&format!("        - {ROLE_ANNOTATION}\n")));
}

/// A server clock 13 hours behind: the token's `expiresAt` is in our past, but it lasts 12 hours
/// from its arrival, and the kubelet is told to keep it until the cache would refresh it.
#[test]
fn cache_duration_is_counted_from_the_fetch_whatever_the_servers_clock() {
    for skew in [-13 * 3600, 2 * 3600] {
        let sb = Sandbox::new();
        sb.set_skew(skew);
        let image = format!("{}/app:1", private_host(MOTO_ACCOUNT, "us-west-2"));
        let r = response(&kubelet(&sb, &request(V1, &image)));
        let keep = go_duration(r["cacheDuration"].as_str().unwrap());
        assert!(
            keep <= Duration::from_secs(11 * 3600 + 30 * 60)
                && keep >= Duration::from_secs(11 * 3600 + 29 * 60),
            "skew {skew}: {keep:?}"
        );
    }
}

/// Issue 17, symptom 6: an STS that does not answer the service account's role assumption is
/// named, with the role, not the ECR endpoint the request never reached.
#[test]
fn a_silent_sts_is_named_with_the_service_accounts_role() {
    // An "STS" on loopback that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut sb = Sandbox::new();
    sb.env("AWS_ENDPOINT_URL_STS", format!("http://127.0.0.1:{port}"))
        .env(ENV_TIMEOUT, "2");
    let role = "arn:aws:iam::210987654321:role/image-puller";
    let image = format!("{}/team-a/app:1", private_host(MOTO_ACCOUNT, "eu-west-1"));
    let token = sa_token("team-a", "puller", "web-1");
    let out = kubelet(&sb, &sa_request(&image, &token, Some(role)));
    drop(listener);
    assert_eq!(
        failure(&out),
        format!(
            "docker-credential-ecr: timed out assuming role {role} with the service account's token through AWS STS after 2s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)\n"
        )
    );
}

/// Runs `steps` (shell lines) in a private mount namespace whose `/var/cache` is a fresh tmpfs,
/// so the system cache is made there and never in the machine's own. Each `kubelet I` line in
/// `steps` is a plugin run the way systemd starts the kubelet's plugins: `env -i`, root, no
/// HOME, only the node's AWS variables; it reads `req.I` and writes `out.I`, `err.I` and
/// `rc.I` in `dir`. `None` (after a loud skip) where namespaces or root are missing.
fn in_fresh_var_cache(test: &str, sb: &Sandbox, dir: &std::path::Path, steps: &str) -> Option<()> {
    if !is_root(test, "the system cache (root's own)") || !can_unshare_mounts(test) {
        return None;
    }
    let script = format!(
        r#"set -e
mount -t tmpfs -o mode=0755 tmpfs /var/cache
node_env() {{ env -i AWS_ACCESS_KEY_ID="$AKID" AWS_SECRET_ACCESS_KEY="$SECRET" \
  AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_ECR="$ENDPOINT" "$@"; }}
kubelet() {{ rc=0; node_env "$BIN" kubelet <"$DIR/req.$1" >"$DIR/out.$1" 2>"$DIR/err.$1" || rc=$?; echo $rc >"$DIR/rc.$1"; }}
{steps}
"#
    );
    let mut cmd = std::process::Command::new("unshare");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AKID", &sb.akid)
        .env("SECRET", TEST_SECRET_KEY)
        .env("ENDPOINT", sb.emulator.endpoint())
        .env("BIN", BIN)
        .env("DIR", dir)
        .args(["-m", "sh", "-c", &script]);
    let out = run_cmd(cmd, "");
    assert!(out.status.success(), "{}", describe(&out));
    Some(())
}

fn read_in(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Issue 18: on a node the kubelet runs from its systemd unit as root with no HOME, and its
/// plugin cached nothing: 8 images from 8 accounts of one region made 8 API calls. Run that
/// way, the plugin caches in root's system directory, which it makes 0700, and one token of the
/// node's identity serves all 8 registries; `doctor` names the rule that chose the directory.
#[test]
fn a_kubelet_started_by_systemd_without_home_caches_in_the_system_directory() {
    let test = "a_kubelet_started_by_systemd_without_home_caches_in_the_system_directory";
    let sb = Sandbox::new();
    let dir = tempfile::tempdir().unwrap();
    let hosts: Vec<String> = (1..=8)
        .map(|d| private_host(&d.to_string().repeat(12), "eu-west-1"))
        .collect();
    for (i, host) in hosts.iter().enumerate() {
        std::fs::write(
            dir.path().join(format!("req.{i}")),
            request(V1, &format!("{host}/team/app:{i}")),
        )
        .unwrap();
    }
    let steps = format!(
        "for i in 0 1 2 3 4 5 6 7; do kubelet $i; done\n\
         stat -c '%a %u' /var/cache/docker-credential-ecr >\"$DIR/mode\"\n\
         node_env \"$BIN\" doctor {} >\"$DIR/doctor\" 2>&1 || true",
        hosts[0]
    );
    if in_fresh_var_cache(test, &sb, dir.path(), &steps).is_none() {
        return;
    }
    for (i, host) in hosts.iter().enumerate() {
        let (rc, err) = (
            read_in(dir.path(), &format!("rc.{i}")),
            read_in(dir.path(), &format!("err.{i}")),
        );
        assert_eq!((rc.trim(), err.as_str()), ("0", ""), "request {i}");
        let r: Value = serde_json::from_str(&read_in(dir.path(), &format!("out.{i}"))).unwrap();
        assert_eq!(
            r["auth"][host.as_str()]["password"],
            private_password(MOTO_ACCOUNT),
            "the node's own token, for {host}"
        );
    }
    assert_eq!(
        sb.calls(),
        (1, 0),
        "one token for the region, from the cache 7 times"
    );
    assert_eq!(read_in(dir.path(), "mode").trim(), "700 0");
    let doctor = read_in(dir.path(), "doctor");
    assert!(
        doctor.contains("/var/cache/docker-credential-ecr/")
            && doctor.contains("directory from the system cache (root with no usable HOME)"),
        "{doctor}"
    );
}

/// The system cache is shared by every root process: one that others could write into, or
/// that is not root's, is refused (every request calls the API) and left as it is.
#[test]
fn a_system_cache_that_is_not_private_to_root_is_refused() {
    let test = "a_system_cache_that_is_not_private_to_root_is_refused";
    let sb = Sandbox::new();
    let dir = tempfile::tempdir().unwrap();
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    for i in 0..4 {
        std::fs::write(
            dir.path().join(format!("req.{i}")),
            request(V1, &format!("{host}/a:1")),
        )
        .unwrap();
    }
    let steps = "d=/var/cache/docker-credential-ecr\n\
         mkdir -m 0777 $d; kubelet 0; kubelet 1; stat -c '%a %u' $d >\"$DIR/mode\"\n\
         node_env \"$BIN\" doctor {HOST} >\"$DIR/doctor\" 2>&1 || true\n\
         chmod 0700 $d; chown 4242 $d; kubelet 2; kubelet 3; ls -A $d >\"$DIR/files\"";
    let steps = steps.replace("{HOST}", &host);
    if in_fresh_var_cache(test, &sb, dir.path(), &steps).is_none() {
        return;
    }
    for i in 0..4 {
        assert_eq!(
            read_in(dir.path(), &format!("rc.{i}")).trim(),
            "0",
            "request {i}"
        );
    }
    // Four requests and doctor's own fetch, none cached.
    assert_eq!(sb.calls(), (5, 0), "served uncached");
    assert_eq!(read_in(dir.path(), "mode").trim(), "777 0", "not repaired");
    assert_eq!(read_in(dir.path(), "files"), "", "nothing written there");
    let doctor = read_in(dir.path(), "doctor");
    assert!(
        doctor.contains("has mode 0777: the system cache must be private to root; chmod 0700 it")
            && doctor.contains("(directory from the system cache (root with no usable HOME))"),
        "{doctor}"
    );
}
