//! The kubelet's image credential provider plugin: a `CredentialProviderRequest` on stdin, a
//! `CredentialProviderResponse` on stdout (API group `credentialprovider.kubelet.k8s.io`,
//! versions v1, v1beta1 and v1alpha1, which share one shape).
//!
//! The kubelet runs the plugin as `docker-credential-ecr kubelet` (`args: [kubelet]` in its
//! `CredentialProviderConfig`), or as `ecr-credential-provider` with no arguments when the binary
//! is installed under that name (a symlink), which is the name EKS nodes use for this plugin.
//!
//! Tokens come from the same place as for docker: the same host parsing, config file and locked
//! disk cache ([`Lookup`]), so a node's kubelet and its `docker`/`crictl` users share one token.
//!
//! That token answers every private registry of its region for its identity (see
//! [`crate::identity::scope`]), yet the response names only the image's registry, with
//! `cacheKeyType: Registry`: the kubelet matches `auth` keys against the image's registry and
//! keys its own cache by that registry, so a region-wide glob would still be cached under one
//! registry, and `Global` would hand one token to images of other regions and, with
//! service-account tokens, of other identities. An image from another registry of the region
//! is a cache hit here (no API call), then cached by the kubelet for that registry.
//!
//! A failure is one line on stderr and exit status 1: the kubelet logs a failed plugin's stderr
//! and pulls without credentials. Nothing here ever prints the registry password or the
//! service-account token.

pub(crate) mod service_account;

use crate::authorization::Token;
use crate::authorization::Validity;
use crate::env::Env;
use crate::lookup::{Lookup, LookupError};
use crate::protocol::{InputError, MAX_INPUT};
use crate::request::Process;
use crate::secret::Secret;
use crate::token::AwsTokenSource;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

pub const COMMAND: &str = "kubelet";

/// Installed under this name (a link to the binary), the program is the kubelet plugin.
pub const PROGRAM_ALIAS: &str = "ecr-credential-provider";

const GROUP: &str = "credentialprovider.kubelet.k8s.io";
const VERSIONS: &[&str] = &["v1", "v1beta1", "v1alpha1"];
const REQUEST_KIND: &str = "CredentialProviderRequest";
const RESPONSE_KIND: &str = "CredentialProviderResponse";

/// Shortest `cacheDuration` worth sending; below it the kubelet is told not to cache at all.
const MIN_CACHE_DURATION: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    #[error("cannot read the CredentialProviderRequest on stdin: {0}")]
    Read(String),
    #[error(
        "stdin is not a CredentialProviderRequest: malformed JSON at line {line}, column {column}"
    )]
    Json { line: usize, column: usize },
    #[error("stdin is not a CredentialProviderRequest: {0}")]
    Shape(String),
    #[error(
        "unsupported apiVersion {0:?}; this plugin speaks {GROUP}/v1, /v1beta1 and /v1alpha1 (set apiVersion: {GROUP}/v1 in the kubelet's CredentialProviderConfig)"
    )]
    ApiVersion(String),
    #[error("unsupported kind {0:?}; expected {REQUEST_KIND}")]
    Kind(String),
    #[error(
        "image {image:?}: {host:?} is not an Amazon ECR registry (nor an alias in the config file); the kubelet should only run this plugin for ECR images: check matchImages in its CredentialProviderConfig"
    )]
    NotEcr { image: String, host: String },
    #[error(transparent)]
    ServiceAccount(#[from] service_account::ServiceAccountError),
    #[error("{0}")]
    Lookup(String),
    #[error("cannot write the response: {0}")]
    Write(String),
}

/// A request as the kubelet sends it. Unknown fields are ignored: newer kubelets add fields, and
/// an old plugin must keep working.
#[derive(Debug)]
pub struct Request {
    pub api_version: String,
    pub image: String,
    pub service_account_token: Option<Secret>,
    pub service_account_annotations: BTreeMap<String, String>,
}

/// Runs the plugin: request on `stdin`, response on `out`, errors on stderr. Returns the exit code.
pub fn main(process: &Process, env: &dyn Env, stdin: &mut dyn Read, out: &mut dyn Write) -> u8 {
    let result = read_request(stdin).and_then(|input| {
        // The bound runs from when the request has been read (see `deadline`); past it the
        // watchdog answers the timeout in this mode's error form.
        let form = crate::watchdog::Form::Stderr {
            prefix: crate::program::NAME.to_string(),
        };
        let ours = crate::request::Request::start(process, env, form);
        let result = respond(&ours, &input);
        ours.claim_answer();
        result
    });
    let result = result.and_then(|json| {
        writeln!(out, "{json}")
            .and_then(|_| out.flush())
            .map_err(|e| KubeletError::Write(e.to_string()))
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            // Not eprintln!: a closed stderr must not turn an error into a panic.
            let _ = writeln!(std::io::stderr(), "{}: {e}", crate::program::NAME);
            1
        }
    }
}

fn read_request(stdin: &mut dyn Read) -> Result<Vec<u8>, KubeletError> {
    crate::protocol::read_input(stdin).map_err(|e| {
        KubeletError::Read(match e {
            InputError::Io(why) => why,
            InputError::TooLarge => format!("it is larger than {MAX_INPUT} bytes"),
            other => other.to_string(),
        })
    })
}

fn respond(ours: &crate::request::Request, input: &[u8]) -> Result<String, KubeletError> {
    let request = parse_request(input)?;
    let host = registry_host(&request.image);
    // An image written with `user:password@` must not put the password in the kubelet's log.
    let not_ecr = || KubeletError::NotEcr {
        image: crate::registry::redact_userinfo(&request.image),
        host: crate::registry::redact_userinfo(host),
    };
    let lookup = Lookup::new(ours).map_err(|e| KubeletError::Lookup(e.to_string()))?;
    let resolved = lookup.target(host).map_err(|e| match e {
        LookupError::NotEcr => not_ecr(),
        // A config entry that contradicts the host, or unreadable AWS files: the real cause.
        other => KubeletError::Lookup(other.to_string()),
    })?;
    let node = AwsTokenSource::new(ours);
    // The host is resolved once: its region for the service account's STS call, and the rest
    // for the lookup.
    let result = match request.service_account_token {
        None => lookup.get_resolved(&resolved, &node),
        Some(token) => {
            let account = service_account::ServiceAccount::from_request(
                token,
                &request.service_account_annotations,
            )?;
            lookup.get_resolved(&resolved, &account.token_source(node, &resolved))
        }
    };
    let credential = result.map_err(|e| match e {
        LookupError::NotEcr => not_ecr(),
        other => KubeletError::Lookup(other.to_string()),
    })?;
    Ok(response_json(
        &request.api_version,
        host,
        &credential.token,
        lookup.clock.now_ms(),
    ))
}

/// Parses and checks a request. Field values never appear in errors except `apiVersion` and
/// `kind`: anything else could be the service-account token.
pub fn parse_request(input: &[u8]) -> Result<Request, KubeletError> {
    let value: Value = serde_json::from_slice(input).map_err(|e| KubeletError::Json {
        line: e.line(),
        column: e.column(),
    })?;
    let Value::Object(fields) = value else {
        return Err(KubeletError::Shape("expected a JSON object".into()));
    };
    let text = |name: &str| -> Result<Option<String>, KubeletError> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(KubeletError::Shape(format!(
                "field `{name}` is not a string"
            ))),
        }
    };
    let api_version = text("apiVersion")?
        .ok_or_else(|| KubeletError::Shape("field `apiVersion` is missing".into()))?;
    let supported = api_version
        .split_once('/')
        .is_some_and(|(group, version)| group == GROUP && VERSIONS.contains(&version));
    if !supported {
        return Err(KubeletError::ApiVersion(shorten(&api_version)));
    }
    match text("kind")? {
        Some(kind) if kind == REQUEST_KIND => {}
        Some(kind) => return Err(KubeletError::Kind(shorten(&kind))),
        None => return Err(KubeletError::Shape("field `kind` is missing".into())),
    }
    let image = text("image")?
        .filter(|i| !i.trim().is_empty())
        .ok_or_else(|| KubeletError::Shape("field `image` is missing or empty".into()))?;
    let service_account_token = text("serviceAccountToken")?
        .filter(|t| !t.is_empty())
        .map(Secret::new);
    Ok(Request {
        api_version,
        image: image.trim().to_string(),
        service_account_token,
        service_account_annotations: annotations(fields.get("serviceAccountAnnotations"))?,
    })
}

/// `serviceAccountAnnotations`: string values only; an error names the key (shortened), never
/// the value.
fn annotations(field: Option<&Value>) -> Result<BTreeMap<String, String>, KubeletError> {
    match field {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(KubeletError::Shape(format!(
                    "annotation {:?} in `serviceAccountAnnotations` is not a string",
                    shorten(k)
                ))),
            })
            .collect(),
        Some(_) => Err(KubeletError::Shape(
            "field `serviceAccountAnnotations` is not an object".into(),
        )),
    }
}

/// The registry part of an image reference, exactly as written (`host[:port]`): the kubelet
/// matches `auth` keys against the image the same way, port included.
pub fn registry_host(image: &str) -> &str {
    match image.split_once('/') {
        Some((host, _)) => host,
        // `nginx:1.27` has no registry part: it is Docker Hub, never ECR. Keep the whole
        // reference so the error names what was asked for.
        None => image,
    }
}

/// How long the kubelet may keep a token: until the disk cache would refresh it (the same
/// margin before expiry, counted the same way on the local clock), so that a pull never starts
/// with a token about to expire and the kubelet asks again when a fresh token is to be had.
/// Zero when too little is left, which tells the kubelet not to cache it.
pub fn cache_duration(validity: &Validity, now_ms: u64) -> Duration {
    let keep = Duration::from_secs(validity.fresh_for(now_ms).as_secs());
    if keep < MIN_CACHE_DURATION {
        Duration::ZERO
    } else {
        keep
    }
}

/// A whole-second duration the way Go prints one (`11h29m0s`, `5m0s`, `42s`, `0s`), which is what
/// the kubelet's `metav1.Duration` parses.
pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// The response for one image's registry. `cacheDuration` is always sent: without it the kubelet
/// would use its configured default, which may outlive the token.
pub fn response_json(api_version: &str, host: &str, token: &Token, now_ms: u64) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Response<'a> {
        api_version: &'a str,
        kind: &'a str,
        cache_key_type: &'a str,
        cache_duration: String,
        auth: BTreeMap<&'a str, AuthConfig<'a>>,
    }
    #[derive(Serialize)]
    struct AuthConfig<'a> {
        username: &'a str,
        password: &'a str,
    }
    let response = Response {
        api_version,
        kind: RESPONSE_KIND,
        cache_key_type: "Registry",
        cache_duration: go_duration(cache_duration(&token.validity, now_ms)),
        auth: BTreeMap::from([(
            host,
            AuthConfig {
                username: &token.username,
                password: token.password.expose(),
            },
        )]),
    };
    // Serialising strings and a map of strings cannot fail.
    serde_json::to_string(&response).unwrap_or_default()
}

/// Request values quoted in errors are cut short: they come from outside.
fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

    fn request(api_version: &str, image: &str) -> String {
        format!(
            r#"{{"kind":"CredentialProviderRequest","apiVersion":"{api_version}","image":"{image}"}}"#
        )
    }

    fn token(fetched_at: u64, lifetime_ms: u64) -> Token {
        Token::for_test("pa\"ss", fetched_at, lifetime_ms)
    }

    #[test]
    fn parses_requests_exactly_as_the_kubelet_sends_them() {
        // The kubelet's encoder writes kind first and omits empty optional fields.
        for image in [
            format!("{HOST}/team/app:1.2.3"),
            format!("{HOST}/app@sha256:{}", "a".repeat(64)),
            format!("{HOST}:443/app:latest"),
        ] {
            for version in ["v1", "v1beta1", "v1alpha1"] {
                let api = format!("credentialprovider.kubelet.k8s.io/{version}");
                let r = parse_request(request(&api, &image).as_bytes()).unwrap();
                assert_eq!(r.api_version, api);
                assert_eq!(r.image, image);
                assert!(r.service_account_token.is_none());
                assert!(r.service_account_annotations.is_empty());
            }
        }
        let with_token = r#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"h/app","serviceAccountToken":"eyJ.secret.sig","serviceAccountAnnotations":{"eks.amazonaws.com/ecr-role-arn":"arn:aws:iam::123456789012:role/pull"},"futureField":{"x":1}}"#;
        let r = parse_request(with_token.as_bytes()).unwrap();
        assert_eq!(
            r.service_account_token.as_ref().map(Secret::expose),
            Some("eyJ.secret.sig")
        );
        assert_eq!(
            r.service_account_annotations["eks.amazonaws.com/ecr-role-arn"],
            "arn:aws:iam::123456789012:role/pull"
        );
    }

    #[test]
    fn registry_host_is_the_images_host_and_port_as_written() {
        assert_eq!(registry_host(&format!("{HOST}/team/app:1")), HOST);
        assert_eq!(
            registry_host(&format!("{HOST}/app@sha256:{}", "0".repeat(64))),
            HOST
        );
        assert_eq!(
            registry_host(&format!("{HOST}:443/app:1")),
            format!("{HOST}:443")
        );
        assert_eq!(registry_host("localhost:5000/app"), "localhost:5000");
        assert_eq!(registry_host("nginx:1.27"), "nginx:1.27");
    }

    #[test]
    fn unsupported_versions_and_kinds_are_clear_errors() {
        for bad in [
            "credentialprovider.kubelet.k8s.io/v2",
            "credentialprovider.kubelet.k8s.io",
            "kubelet.config.k8s.io/v1",
            "v1",
        ] {
            let err = parse_request(request(bad, "h/a").as_bytes()).unwrap_err();
            assert!(matches!(err, KubeletError::ApiVersion(_)), "{bad}: {err}");
            assert!(err.to_string().starts_with(&format!(
                "unsupported apiVersion \"{bad}\"; this plugin speaks credentialprovider.kubelet.k8s.io/v1"
            )));
        }
        let wrong_kind = r#"{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"h/a"}"#;
        assert_eq!(
            parse_request(wrong_kind.as_bytes())
                .unwrap_err()
                .to_string(),
            "unsupported kind \"CredentialProviderResponse\"; expected CredentialProviderRequest"
        );
        let no_version = r#"{"kind":"CredentialProviderRequest","image":"h/a"}"#;
        assert_eq!(
            parse_request(no_version.as_bytes())
                .unwrap_err()
                .to_string(),
            "stdin is not a CredentialProviderRequest: field `apiVersion` is missing"
        );
    }

    #[test]
    fn malformed_input_is_one_line_and_never_echoes_values() {
        let err = parse_request(b"{\"kind\": ").unwrap_err().to_string();
        assert_eq!(
            err,
            "stdin is not a CredentialProviderRequest: malformed JSON at line 1, column 9"
        );
        assert!(matches!(
            parse_request(b"[]").unwrap_err(),
            KubeletError::Shape(_)
        ));
        let token_where_image_goes = r#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"h/a","serviceAccountToken":{"t":"eyJsecret"}}"#;
        let err = parse_request(token_where_image_goes.as_bytes())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "stdin is not a CredentialProviderRequest: field `serviceAccountToken` is not a string"
        );
        let no_image = r#"{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":""}"#;
        assert!(
            parse_request(no_image.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("`image` is missing or empty")
        );
    }

    #[test]
    fn go_durations() {
        let s = Duration::from_secs;
        assert_eq!(go_duration(s(0)), "0s");
        assert_eq!(go_duration(s(42)), "42s");
        assert_eq!(go_duration(s(300)), "5m0s");
        assert_eq!(go_duration(s(3600)), "1h0m0s");
        assert_eq!(go_duration(s(11 * 3600 + 29 * 60)), "11h29m0s");
        assert_eq!(go_duration(s(41_399)), "11h29m59s");
        assert_eq!(go_duration(Duration::from_millis(59_999)), "59s");
    }

    #[test]
    fn cache_duration_is_the_disk_caches_freshness_and_never_outlives_the_token() {
        let hour = 3_600_000;
        let now = 1_000_000_000;
        let v = |fetched_at: u64, lifetime_ms: u64| Validity {
            fetched_at,
            lifetime_ms,
        };
        assert_eq!(
            cache_duration(&v(now, 12 * hour), now),
            Duration::from_secs(11 * 3600 + 30 * 60)
        );
        // Eleven hours into a 12-hour token: half an hour until the cache refreshes it; none
        // once it is due.
        assert_eq!(
            cache_duration(&v(now - 11 * hour, 12 * hour), now),
            Duration::from_secs(30 * 60)
        );
        assert_eq!(
            cache_duration(&v(now - 23 * hour / 2, 12 * hour), now),
            Duration::ZERO
        );
        assert_eq!(
            cache_duration(&v(now - 10 * hour, 12 * hour), now),
            Duration::from_secs(90 * 60)
        );
        // A one-hour token: a quarter of it is kept back.
        assert_eq!(
            cache_duration(&v(now, hour), now),
            Duration::from_secs(45 * 60)
        );
        // Sub-second results round down to "do not cache".
        assert_eq!(cache_duration(&v(now, 1_200), now), Duration::ZERO);
        assert_eq!(cache_duration(&v(now, 2_800), now), Duration::from_secs(2));
        // Fetched "in the future" (the clock was set back): not to be kept at all.
        assert_eq!(cache_duration(&v(now + 5, hour), now), Duration::ZERO);
        for lifetime in [1_500, 60_000, hour, 12 * hour] {
            assert!(cache_duration(&v(now, lifetime), now) < Duration::from_millis(lifetime));
        }
        // The rule is the cache's own: the kubelet keeps a token exactly while a get would hit.
        let t = v(now, 12 * hour);
        let keep = cache_duration(&t, now).as_millis() as u64;
        assert!(t.is_fresh(now + keep - 1));
        assert!(!t.is_fresh(now + keep + 1000));
    }

    #[test]
    fn response_has_the_exact_shape() {
        let now = 1_700_000_000_000;
        let json = response_json(
            "credentialprovider.kubelet.k8s.io/v1",
            &format!("{HOST}:443"),
            &token(now, 12 * 3_600_000),
            now,
        );
        assert_eq!(
            json,
            format!(
                r#"{{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","cacheKeyType":"Registry","cacheDuration":"11h30m0s","auth":{{"{HOST}:443":{{"username":"AWS","password":"pa\"ss"}}}}}}"#
            )
        );
        let v1beta1 = response_json(
            "credentialprovider.kubelet.k8s.io/v1beta1",
            HOST,
            &token(now - 3_600_000, 3_600_000),
            now,
        );
        let v: Value = serde_json::from_str(&v1beta1).unwrap();
        assert_eq!(v["apiVersion"], "credentialprovider.kubelet.k8s.io/v1beta1");
        assert_eq!(v["cacheDuration"], "0s");
    }

    #[test]
    fn long_values_in_errors_are_shortened() {
        let long = "x".repeat(500);
        let err = parse_request(request(&long, "h/a").as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.len() < 300, "{err}");
    }
}
