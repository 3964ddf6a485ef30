//! The properties the fuzz targets check, one function per target. Shared by the cargo-fuzz
//! targets in `fuzz/fuzz_targets/` and by `tests/it/fuzz_corpus.rs`, which replays the committed
//! corpus through the same functions in a plain `cargo test` (no nightly, no cargo-fuzz).
//!
//! Nothing here reaches the network: `get` of an ECR host goes through a fake token source, and
//! `cli::run` is only called for inputs that never resolve to an ECR registry.
#![allow(dead_code)]

use docker_credential_ecr::protocol;
use docker_credential_ecr::registry::{self, Registry};
use docker_credential_ecr::secret::Secret;
use docker_credential_ecr::testing::authorization::{self, Token};
use docker_credential_ecr::testing::cache::{self, Cache, Entry};
use docker_credential_ecr::testing::cli;
use docker_credential_ecr::testing::clock;
use docker_credential_ecr::testing::config::Config;
use docker_credential_ecr::testing::deadline::Deadline;
use docker_credential_ecr::testing::env::MapEnv;
use docker_credential_ecr::testing::lookup::{Lookup, LookupError};
use docker_credential_ecr::testing::request::Request;
use docker_credential_ecr::testing::resolve::{self, Resolved};
use docker_credential_ecr::testing::token::{TokenError, TokenSource};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A config with every kind of pattern, so host fuzzing also walks `Config::resolve`.
pub const HOST_CONFIG: &str = r#"
[[registry]]
match = "public"
profile = "pub"

[[registry]]
match = "*.dkr.ecr.eu-west-1.amazonaws.com"
profile = "eu"

[[registry]]
match = "210987654321"
role_arn = "arn:aws:iam::210987654321:role/puller"

[[registry]]
match = "registry.example.com"
account = "123456789012"
region = "us-east-1"

[[registry]]
match = "mirror.*.example.com:5000"
account = "123456789012"
region = "eu-west-1"

[[registry]]
match = "pub.example.com"
public = true

[[registry]]
match = "*a*b*a*b*a*b*.stars.example.com"
account = "123456789012"
region = "us-west-2"
"#;

/// Hosts every fuzzed config is asked to resolve.
pub const HOSTS: &[&str] = &[
    "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    "210987654321.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
    "123456789012.dkr-ecr.eu-west-1.on.aws",
    "public.ecr.aws",
    "registry.example.com",
    "mirror.a.example.com:5000",
    "xaxbxaxbxaxbx.stars.example.com",
    "docker.io",
    "[::1]:5000",
];

fn host_config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        Config::parse(HOST_CONFIG, Path::new("fuzz.toml")).expect("the fuzz config parses")
    })
}

/// Host parsing: `normalize_host`, `parse_registry` and `Config::resolve` never panic, and what
/// they return is canonical.
pub fn host(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(host) = registry::normalize_host(text) else {
        // Refused input is never resolved, whatever the config says.
        return;
    };
    assert!(!host.is_empty(), "{text:?}");
    assert!(
        host.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._:[]".contains(&b)),
        "{text:?} -> {host:?}: not a lower-case host[:port]"
    );
    // (An unbalanced bracket such as `[h:[h::443:443` is kept as it is: never an ECR host.)
    if !host.contains('[') {
        assert!(!host.ends_with(":443"), "{text:?} -> {host:?}: kept :443");
    }
    let ecr = registry::parse_registry(&host);
    if let Some(reg) = &ecr {
        // An ECR host is its own canonical form.
        assert_eq!(
            registry::normalize_host(&host).as_deref(),
            Some(host.as_str()),
            "{text:?}"
        );
        if let Registry::Private(p) = reg {
            assert!(host.starts_with(&format!("{}.", p.account)), "{host}");
            assert!(host.contains(&format!(".{}.", p.region)), "{host}");
        }
        // Every spelling a client may send is the same registry.
        for form in [
            format!("https://{host}/v2/"),
            format!("{host}:443"),
            format!("HTTP://{}", host.to_uppercase()),
        ] {
            let again = registry::normalize_host(&form);
            assert_eq!(again.as_deref(), Some(host.as_str()), "{form:?}");
        }
    }
    for config in [&Config::default(), host_config()] {
        let resolved = config.resolve(&host);
        match resolved.expect("no entry of these configs contradicts a host") {
            Some(target) => {
                assert_eq!(target.host, host);
                if let Some(reg) = &ecr {
                    assert_eq!(&target.registry, reg, "{host}");
                }
                let files = resolve::AwsFiles::default();
                let key = resolve::complete(target.clone(), &MapEnv::default(), &files)
                    .expect("no files to read")
                    .key;
                assert_eq!(key.id.len(), 32);
                assert!(!target.api_region().is_empty());
            }
            None => assert!(ecr.is_none(), "{host} is ECR but did not resolve"),
        }
    }
}

/// A token source that never leaves the process.
pub struct FakeSource {
    pub fail: bool,
}

pub const FAKE_PASSWORD: &str = "fuzz-fresh-password";

impl TokenSource for FakeSource {
    fn fetch(&self, resolved: &Resolved) -> Result<Token, TokenError> {
        let target = &resolved.target;
        if self.fail {
            return Err(TokenError::Service {
                code: "AccessDeniedException".into(),
                message: "fuzz".into(),
            });
        }
        Ok(Token {
            proxy_endpoint: format!("https://{}", target.host),
            username: authorization::USERNAME.into(),
            password: Secret::new(FAKE_PASSWORD.into()),
            validity: authorization::Validity {
                fetched_at: clock::now_ms(),
                lifetime_ms: 3_600_000,
            },
        })
    }
}

fn offline_env() -> MapEnv {
    MapEnv::new(&[
        ("AWS_ECR_DISABLE_CACHE", "1"),
        ("DOCKER_CREDENTIAL_ECR_CONFIG", "/dev/null"),
    ])
}

fn run_cli(action: &str, env: &MapEnv, stdin: &[u8]) -> (u8, String) {
    let args: Vec<OsString> = ["docker-credential-ecr", action]
        .iter()
        .map(OsString::from)
        .collect();
    let mut out = Vec::new();
    let code = cli::run(&args, env, &mut &stdin[..], &mut out);
    let text = String::from_utf8(out).expect("output is UTF-8");
    (code, text)
}

/// The error lines `get`/`erase` may print for input they cannot use. None of them echoes the
/// input, so a password in a URL can never come back out.
fn is_input_error(line: &str) -> bool {
    line == protocol::NOT_FOUND
        || line == protocol::NO_SERVER_URL
        || line.starts_with("input on stdin ")
        || line.starts_with("cannot read stdin: ")
}

/// Stdin handling: `read_input`, `server_url` and `cli::run` for `get`, `erase` and `store`.
/// Every answer is one line (or nothing), exit 0 or 1, and an error never echoes the input.
pub fn stdin(data: &[u8]) {
    let env = offline_env();
    let parsed = protocol::read_input(&mut &data[..])
        .and_then(|input| protocol::server_url(&input).map(str::to_owned));
    let request = Request::unwatched(&env, Deadline::from_env(&env));
    let lookup = Lookup::new(&request).expect("an empty config loads");

    // `get`: through cli::run when it cannot reach the SDK, else through a fake source.
    match parsed.as_deref().map(|url| (url, lookup.target(url))) {
        Ok((url, Ok(_))) => {
            let cred = lookup
                .get(url, &FakeSource { fail: false })
                .expect("a fake token");
            let json = protocol::credential_answer(url, &cred.token, b"");
            assert!(!json.contains(&b'\n'));
            let v: serde_json::Value = serde_json::from_slice(&json).expect("answer is JSON");
            assert_eq!(v["ServerURL"], url);
            assert_eq!(v["Username"], "AWS");
            assert_eq!(v["Secret"], FAKE_PASSWORD);
        }
        Ok((_, Err(e))) => {
            assert!(matches!(e, LookupError::NotEcr), "{e}");
            let (code, out) = run_cli("get", &env, data);
            assert_eq!(
                (code, out.as_str()),
                (1, "credentials not found in native keychain\n")
            );
        }
        Err(e) => {
            let (code, out) = run_cli("get", &env, data);
            assert_eq!(code, 1);
            assert_eq!(out, format!("{e}\n"));
            assert!(is_input_error(out.trim_end()), "{out:?}");
        }
    }

    let (code, out) = run_cli("erase", &env, data);
    match code {
        0 => assert_eq!(out, ""),
        1 => {
            assert_eq!(out.matches('\n').count(), 1, "{out:?}");
            assert!(out.ends_with('\n'));
            assert!(is_input_error(out.trim_end()), "{out:?}");
        }
        other => panic!("erase exited {other}"),
    }
    // `store` drops an ECR host's credential; with no fallback store configured any other host
    // is one line naming the setting; input that is not a credential is an input error.
    match protocol::read_input(&mut &data[..]).and_then(|i| protocol::store_server_url(&i)) {
        Err(e) => assert_eq!(run_cli("store", &env, data), (1, format!("{e}\n"))),
        Ok(url) => {
            let (code, out) = run_cli("store", &env, data);
            // An entry contradicting the host is a one-line error (the fuzz env has no config).
            if lookup.registry(&url).expect("no config file").is_some() {
                assert_eq!((code, out.as_str()), (0, ""));
            } else {
                assert_eq!(code, 1);
                assert_eq!(out.matches('\n').count(), 1, "{out:?}");
                assert!(out.contains("fallback_store"), "{out:?}");
            }
        }
    }
}

/// A private scratch directory for cache-file fuzzing, one per process; on tmpfs when there is
/// one, where the cache's fsync costs nothing.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("dce-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    })
}

pub const CACHE_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/// Cache-file decoding: any bytes in an entry file decode or are a miss, never a panic; what
/// decodes survives a round trip; and a lookup over them never answers an expired token nor
/// anything but the cached password or a fresh one.
pub fn cache_file(data: &[u8], dir: &Path) {
    let decoded = serde_json::from_slice::<Entry>(data).ok();
    if let Some(e) = &decoded {
        let json = serde_json::to_vec(e).expect("an entry serialises");
        let back: Entry = serde_json::from_slice(&json).expect("and reads back");
        assert_eq!(serde_json::to_vec(&back).unwrap(), json);
        if let Some(t) = &e.token {
            let v = t.validity;
            assert!(v.refresh_margin_ms() <= v.lifetime_ms);
            assert!(v.refresh_at() <= v.expires_at());
            // No overflow anywhere near the ends of the clock.
            let _ = (t.is_fresh(u64::MAX), t.is_valid(u64::MAX), t.is_fresh(0));
        }
    }
    let ours = decoded.filter(|e| e.schema == cache::SCHEMA);
    let failure_at = ours.as_ref().and_then(|e| e.failure.as_ref()).map(|f| f.at);

    let env = MapEnv::default();
    let config = Config::default();
    let target = config
        .resolve(CACHE_HOST)
        .expect("no config file")
        .expect("an ECR host");
    let files = resolve::AwsFiles::default();
    let key = resolve::complete(target.clone(), &env, &files)
        .expect("no files to read")
        .key;
    let cache = Cache::new(dir.to_path_buf());
    std::fs::create_dir_all(dir).expect("scratch dir");
    std::fs::write(cache.entry_path(&key.id), data).expect("write entry");
    let read = cache.read(&key.id);
    assert_eq!(
        read.as_ref().map(|e| serde_json::to_vec(e).unwrap()),
        ours.as_ref().map(|e| serde_json::to_vec(e).unwrap()),
        "Cache::read disagrees with the schema"
    );
    // Only an entry recorded for this identity and scope can be answered.
    let cached = ours
        .filter(|e| e.belongs_to(&key.description))
        .and_then(|e| e.token);

    for fail in [true, false] {
        std::fs::write(cache.entry_path(&key.id), data).expect("write entry");
        let before = clock::now_ms();
        let lookup = Lookup {
            env: &env,
            config: config.clone(),
            cache: Ok(cache.clone()),
            clock: &clock::System,
            started_ms: before,
            deadline: Deadline::after(std::time::Duration::from_secs(5)),
            watchdog: Default::default(),
            files: resolve::AwsFiles::default(),
        };
        match lookup.get(CACHE_HOST, &FakeSource { fail }) {
            Ok(cred) if cred.from_cache => {
                let t = cached.as_ref().expect("a cache hit needs a cached token");
                assert_eq!(cred.token.password.expose(), t.password.expose());
                assert!(t.is_valid(before), "answered an expired token");
                if !fail {
                    assert!(t.is_fresh(before), "a stale token was served as a hit");
                }
            }
            Ok(cred) => {
                // Fresh from the source, or the still-valid cached token after a failure.
                if fail {
                    let t = cached
                        .as_ref()
                        .expect("a failed fetch answers only a cached token");
                    assert_eq!(cred.token.password.expose(), t.password.expose());
                    assert!(t.is_valid(before), "answered an expired token");
                } else {
                    assert_eq!(cred.token.password.expose(), FAKE_PASSWORD);
                }
            }
            Err(LookupError::Token(_)) => assert!(fail),
            Err(LookupError::Shared { .. }) => {
                // Only a failure recorded while this lookup ran is shared, never one from a
                // clock that has since been set back.
                let at = failure_at.expect("a shared failure needs a recorded one");
                assert!(
                    at >= before && at <= clock::now_ms(),
                    "shared a failure from {at}"
                );
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
        // Whatever was there, the file left behind is a valid entry of ours.
        if let Ok(bytes) = std::fs::read(cache.entry_path(&key.id)) {
            let e: Entry = serde_json::from_slice(&bytes).expect("the helper wrote an entry");
            assert_eq!(e.schema, cache::SCHEMA);
        }
    }
}

/// Config parsing: an error is one line naming the file; a config that parses resolves every
/// host without panicking.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text, Path::new("/etc/fuzz.toml")) {
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n') && !msg.contains('\r'), "{msg:?}");
            assert!(msg.contains("/etc/fuzz.toml"), "{msg}");
        }
        Ok(c) => {
            for h in HOSTS {
                match c.resolve(h) {
                    Ok(Some(t)) => {
                        assert_eq!(t.host, *h);
                        let files = resolve::AwsFiles::default();
                        let _ = resolve::complete(t.clone(), &MapEnv::default(), &files);
                        let _ = t.api_region();
                    }
                    Ok(None) => assert!(registry::parse_registry(h).is_none(), "{h}"),
                    // Only a host that names its own region or account can be contradicted.
                    Err(e) => {
                        let msg = e.to_string();
                        assert!(
                            !msg.contains('\n') && msg.contains("/etc/fuzz.toml"),
                            "{msg}"
                        );
                        assert!(registry::parse_registry(h).is_some(), "{h}: {msg}");
                    }
                }
            }
        }
    }
}
