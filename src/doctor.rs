//! `doctor [HOST...]`: answers "why does docker say *no basic auth credentials*?" for one
//! registry, or for every registry the clients' configs route to this helper.
//!
//! For each host it checks, in the order a request meets them: how the host parses, which config
//! entry matched, which credential source the SDK's chain would use (and resolves it, showing a
//! masked key id only), the API region and endpoint, the cache entry, whether docker and
//! podman/skopeo route the host here, and finally a real token lookup through the same cache
//! and herd lock as `get` (a fresh cached token is a hit, not refetched). The exit status is 0
//! when, for every host checked, a token can be had and a client (when any client config file
//! exists) sends the host here.
//!
//! Collecting is impure; rendering ([`report::render`]) is a pure function of the result.

pub(crate) mod clients;
pub(crate) mod credentials;
pub(crate) mod report;

use crate::authorization::Token;
use crate::cache;
use crate::config::{self, Config, Target};
use crate::env::Env;
use crate::identity::KeyVarsNote;
use crate::lookup::Lookup;
use crate::registry::{self, Registry};
use crate::request::{Process, Request};
use crate::resolve::AwsFiles;
use crate::token::{AwsTokenSource, TokenError, TokenSource};
use aws_credential_types::provider::ProvideCredentials;
use clients::ClientFiles;
use clients::Route;
use report::{
    CacheCheck, ConfigCheck, CredentialCheck, Details, Diagnosis, EntryState, FetchCheck,
    HostDiagnosis, RegistryCheck, Resolved, Style,
};
use std::io::{IsTerminal, Write};
use std::time::Instant;

pub const COMMAND: &str = "doctor";

/// Runs `doctor` and prints the report on `out`; returns the exit code.
pub fn main(
    hosts: &[&str],
    process: &Process,
    env: &dyn Env,
    program: &str,
    out: &mut dyn Write,
) -> u8 {
    let diagnosis = diagnose(hosts, process, env, program);
    // Past a step's deadline the watchdog has said so on stderr and ends the process.
    process.watchdog().claim_answer();
    let style = Style {
        color: std::io::stdout().is_terminal() && env.var("NO_COLOR").is_none(),
    };
    let text = report::render(&diagnosis, style);
    if out
        .write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        return 1;
    }
    if diagnosis.healthy() { 0 } else { 1 }
}

/// Everything `doctor` finds out, for the given hosts or, with none, for the routed ones.
pub fn diagnose(hosts: &[&str], process: &Process, env: &dyn Env, program: &str) -> Diagnosis {
    let helper_name = crate::program::helper_suffix(program);
    let steps = &Steps {
        process,
        prefix: format!("{program} {COMMAND}"),
    };
    let loading = steps.start(env);
    let clients = ClientFiles::load(env);
    let lookup = Lookup::new(&loading);
    let config = match &lookup {
        Ok(l) => match l.config.path() {
            Some(path) => ConfigCheck::Loaded(path.to_path_buf()),
            None => ConfigCheck::Absent(config::path(env)),
        },
        Err(e) => ConfigCheck::Invalid(e.to_string()),
    };
    let inputs: Vec<String> = if hosts.is_empty() {
        routed_hosts(&clients, &helper_name, lookup.as_ref().ok())
    } else {
        hosts.iter().map(|h| h.to_string()).collect()
    };
    let nothing_routed = hosts.is_empty() && inputs.is_empty();
    let searched = if nothing_routed {
        clients.searched()
    } else {
        Vec::new()
    };
    let lookup = lookup.ok();
    // One read of the AWS files for the run, the lookup's (or, with no lookup, one of its own).
    let files = lookup
        .as_ref()
        .map_or_else(Default::default, |l| l.files.clone());
    Diagnosis {
        now_ms: crate::clock::now_ms(),
        config,
        hosts: inputs
            .iter()
            .map(|input| {
                let ctx = (env, &files);
                diagnose_host(input, ctx, steps, lookup.as_ref(), &clients, &helper_name)
            })
            .collect(),
        nothing_routed,
        searched,
        creds_store: clients
            .creds_store_file(&helper_name)
            .map(|f| f.path.clone()),
        helper_name,
    }
}

/// The hosts the clients' files send to this helper: their `credHelpers` entries, then, through
/// `credsStore`, the registries docker has logged in to that this helper serves.
fn routed_hosts(clients: &ClientFiles, helper_name: &str, lookup: Option<&Lookup>) -> Vec<String> {
    let mut routed = clients.routed_hosts(helper_name);
    for key in clients.creds_store_hosts(helper_name) {
        let ours = lookup.is_some_and(|l| matches!(l.registry(&key), Ok(Some(_))));
        if ours && !routed.contains(&key) {
            routed.push(key);
        }
    }
    routed
}

/// Each step that may wait (loading the files, resolving a host's credentials, its token
/// lookup) gets the bound a `get` gets, and the watchdog keeps it.
struct Steps<'p> {
    process: &'p Process,
    /// What a timeout's line starts with (`docker-credential-ecr doctor`).
    prefix: String,
}

impl Steps<'_> {
    /// A step from now: a request of its own, which the watchdog answers on stderr.
    fn start<'e>(&self, env: &'e dyn Env) -> Request<'e> {
        let form = crate::watchdog::Form::Stderr {
            prefix: self.prefix.clone(),
        };
        Request::start(self.process, env, form)
    }
}

fn diagnose_host(
    input: &str,
    (env, files): (&dyn Env, &AwsFiles),
    steps: &Steps,
    lookup: Option<&Lookup>,
    clients: &ClientFiles,
    helper: &str,
) -> HostDiagnosis {
    let Some(host) = registry::normalize_host(input) else {
        return HostDiagnosis {
            input: input.to_string(),
            registry: RegistryCheck::NotAHost,
            details: None,
            routes: Vec::new(),
            routing_known: clients.any_present(),
        };
    };
    // With an invalid config file nothing is fetched, but the host is still explained.
    let fallback = Config::default();
    let config = lookup.map_or(&fallback, |l| &l.config);
    let (target, conflict) = resolve_host(config, &host);
    let Some(target) = target else {
        return foreign_host(input, host, lookup, clients, helper);
    };
    HostDiagnosis {
        input: input.to_string(),
        registry: RegistryCheck::Ecr {
            host: host.clone(),
            description: describe_registry(&target),
        },
        routes: routes(clients, &host, helper, None),
        routing_known: clients.any_present(),
        details: Some(details(
            &host,
            (target, conflict),
            (env, files),
            steps,
            lookup,
        )),
    }
}

/// Whether docker and podman/skopeo send `host` here; `foreign` says what the helper does with
/// a host that is not ECR.
fn routes(
    clients: &ClientFiles,
    host: &str,
    helper: &str,
    foreign: clients::Foreign,
) -> Vec<Route> {
    let docker = clients::docker_route(&clients.docker, host, helper, foreign);
    let mut containers = clients::containers_route(&clients.containers, host, helper, foreign);
    // Both clients read docker's file: say what is wrong with it once.
    containers.notes.retain(|n| !docker.notes.contains(n));
    vec![docker, containers]
}

/// A host that is not ECR nor (as far as can be told) an alias: what the helper does with it,
/// and which clients send it here, without advice to send it here.
fn foreign_host(
    input: &str,
    host: String,
    lookup: Option<&Lookup>,
    clients: &ClientFiles,
    helper: &str,
) -> HostDiagnosis {
    let (registry, does) = match lookup {
        None => (
            RegistryCheck::Unknown {
                host: host.clone(),
                why: "the config file is invalid (above)".into(),
            },
            "fails every request until the config file is fixed".to_string(),
        ),
        Some(l) => {
            let fallback = l.config.fallback_store().map(str::to_string);
            let does = report::foreign_answer(fallback.as_deref());
            let registry = RegistryCheck::NotEcr {
                host: host.clone(),
                fallback,
            };
            (registry, does)
        }
    };
    HostDiagnosis {
        input: input.to_string(),
        routes: routes(clients, &host, helper, Some(&does)),
        registry,
        details: None,
        routing_known: clients.any_present(),
    }
}

/// The checks of an ECR registry (or alias), each from the resolution `get` makes.
/// `conflict`: the error `get` answers for this host's config entry, which stops the fetch.
fn details(
    host: &str,
    (target, conflict): (Target, Option<String>),
    (env, files): (&dyn Env, &AwsFiles),
    steps: &Steps,
    lookup: Option<&Lookup>,
) -> Details {
    // Each host's checks get the bound a `get` gets, from here (the profile files are read next).
    let step = steps.start(env);
    // The same resolution as `get`, from the same parse of the AWS files as the lookup's.
    let whole = crate::resolve::complete(target.clone(), env, files);
    let (target, api, profile_problem) = match &whole {
        Ok(r) => (r.target.clone(), r.api.clone(), None),
        Err(e) => {
            let api = env_api(&target, env);
            (target, api, Some(e.to_string()))
        }
    };
    let source = AwsTokenSource::new(&step);
    let profiles = whole.as_ref().ok().map(|r| &*r.profiles);
    let files = whole.as_ref().ok().map(|r| (&*r.profiles, &r.plan));
    let mut detected = credentials::detect(env, &target.settings, files);
    note_key_vars(env, profiles, &mut detected);
    let endpoint = endpoint(&target, &api, profile_problem.as_deref());
    detected.problems.extend(profile_problem);
    let (resolved, unresolved) = match &whole {
        Ok(whole) => resolve_credentials(&source, whole),
        Err(e) => unreadable_files(e),
    };
    let named = whole
        .as_ref()
        .ok()
        .and_then(|r| r.named_profile().map(str::to_string));
    let ca_bundle = whole.ok().and_then(|r| r.ca_bundle).map(|b| b.to_string());
    let (cache, fetch) = match (lookup, conflict) {
        (Some(l), Some(conflict)) => (cache_check(l, host), FetchCheck::Skipped(conflict)),
        (Some(l), None) => as_get(l, host, env, steps, (&resolved, unresolved), named),
        (None, _) => (
            CacheCheck::Unknown("the config file is invalid".into()),
            FetchCheck::Skipped("the config file is invalid".into()),
        ),
    };
    Details {
        config_entry: target.source.clone(),
        config_known: lookup.is_some(),
        settings: describe_settings(&target),
        credentials: CredentialCheck {
            source: detected.description,
            problems: detected.problems,
            resolved,
        },
        region: target.api_region().to_string(),
        endpoint,
        ca_bundle,
        cache,
        fetch,
    }
}

/// What the cache key holds beyond the files (`DOCKER_CREDENTIAL_ECR_KEY_VARS`), or the limit
/// where a credential_process or a container endpoint may choose an identity unseen.
fn note_key_vars(
    env: &dyn Env,
    profiles: Option<&crate::profiles::Profiles>,
    detected: &mut credentials::Source,
) {
    match crate::identity::key_vars_note(env, profiles) {
        Some(KeyVarsNote::Keyed(note)) => {
            detected.description = format!("{}; {note}", detected.description);
        }
        Some(KeyVarsNote::Blind(limit)) => detected.problems.push(limit),
        None => {}
    }
}

/// The cache entry and the fetch of the `get` a client would make, with a bound of its own
/// as that `get` would have.
fn as_get(
    lookup: &Lookup,
    host: &str,
    env: &dyn Env,
    steps: &Steps,
    credentials: (&Resolved, Option<TokenError>),
    named: Option<String>,
) -> (CacheCheck, FetchCheck) {
    let step = steps.start(env);
    let source = AwsTokenSource::new(&step);
    let lookup = Lookup {
        deadline: step.deadline,
        watchdog: step.watchdog.clone(),
        ..lookup.clone()
    };
    (
        cache_check(&lookup, host),
        fetch(&lookup, host, &source, credentials, named),
    )
}

/// The endpoint the config entry or the environment alone names (`AWS_ENDPOINT_URL_ECR`, …),
/// for when the AWS files cannot be read: the SDK takes those variables before the files.
fn env_api(target: &Target, env: &dyn Env) -> crate::endpoint::Api {
    let profile = target.settings.profile.as_deref();
    let explicit = crate::profiles::Profiles::parse("", "", env, profile)
        .ok()
        .and_then(|none| crate::endpoint::configured(target, &none).ok().flatten());
    crate::endpoint::Api {
        explicit,
        ..Default::default()
    }
}

fn describe_registry(target: &Target) -> String {
    let alias = registry::parse_registry(&target.host).is_none();
    let what = match &target.registry {
        Registry::Private(p) => {
            let mut s = format!(
                "ECR private registry: account {}, region {}",
                p.account, p.region
            );
            if p.fips {
                s += ", FIPS endpoint";
            }
            if p.dual_stack {
                s += ", dual-stack";
            }
            s
        }
        Registry::Public => format!(
            "ECR Public (tokens come from its API in {})",
            registry::PUBLIC_REGION
        ),
    };
    if alias {
        format!("alias from the config file for {what}")
    } else {
        what
    }
}

/// The non-secret settings a config entry chose; an external id is only said to be set.
fn describe_settings(target: &Target) -> Vec<String> {
    let s = &target.settings;
    let mut out = Vec::new();
    if let Some(p) = &s.profile {
        out.push(format!("profile {p:?}"));
    }
    if let Some(role) = &s.role {
        let mut r = format!("role_arn {}", role.arn);
        if role.external_id.is_some() {
            r += " (with external_id)";
        }
        if let Some(n) = &role.session_name {
            r += &format!(" session {n:?}");
        }
        out.push(r);
    }
    if let Some(r) = &s.region {
        out.push(format!("region {r}"));
    }
    if let Some(e) = &s.endpoint {
        out.push(format!("endpoint {e}"));
    }
    out
}

/// Resolves credentials the way a token fetch would, reporting only the provider's name, the
/// masked key id and the expiry.
/// Why the SDK's chain resolved nothing: its own words, or an error classified as `get`'s.
enum Unresolved {
    Why(String),
    Failed(TokenError),
}

/// What a fetch meets when the AWS files cannot be used: it stops before the SDK's chain.
fn unreadable_files(e: &crate::profiles::ProfileError) -> (Resolved, Option<TokenError>) {
    let failed = TokenError::from(crate::credentials::ChoiceError::from(e.clone()));
    let message = failed.to_string();
    (
        Resolved::Failed {
            message,
            took_ms: 0,
        },
        Some(failed),
    )
}

/// What the SDK's chain resolves for `whole`, and when it resolves nothing, the error a fetch
/// would meet (a failed role assumption, classified as `get` classifies it).
fn resolve_credentials(
    source: &AwsTokenSource,
    whole: &crate::resolve::Resolved,
) -> (Resolved, Option<TokenError>) {
    let start = Instant::now();
    let (source_copy, whole) = (source.clone(), whole.clone());
    let resolve = move || async move {
        let conf = source_copy
            .sdk_config(&whole)
            .await
            .map_err(Unresolved::Failed)?;
        let provider = conf
            .credentials_provider()
            .ok_or_else(|| Unresolved::Why("no credentials provider is configured".into()))?;
        provider.provide_credentials().await.map_err(|e| {
            let config_role = whole.target.settings.role.as_ref().map(|r| r.arn.as_str());
            match crate::token::assume_role_failure(&e, config_role) {
                Some(failed) => {
                    Unresolved::Failed(crate::token::with_profile_role(failed, &whole.profiles))
                }
                None => {
                    Unresolved::Why(crate::text::error_line(&e, crate::text::Repeats::Contained))
                }
            }
        })
    };
    source.watchdog.doing("resolving AWS credentials");
    let budget = source.deadline.work_left();
    let result = match crate::watchdog::run_bounded(budget, &source.watchdog, resolve) {
        Ok(Some(result)) => result,
        Ok(None) => Err(Unresolved::Why(crate::deadline::message(
            None,
            source.deadline.limit(),
        ))),
        Err(e) => Err(Unresolved::Why(format!("cannot start the AWS client: {e}"))),
    };
    let took_ms = start.elapsed().as_millis() as u64;
    let resolved = match result {
        Ok(creds) => Resolved::Ok {
            key_id: credentials::mask_key_id(creds.access_key_id()),
            provider: provider_name(&creds),
            expires_ms: creds
                .expiry()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64),
            took_ms,
        },
        Err(Unresolved::Why(message)) => Resolved::Failed { message, took_ms },
        Err(Unresolved::Failed(failed)) => {
            let message = failed.to_string();
            return (Resolved::Failed { message, took_ms }, Some(failed));
        }
    };
    (resolved, None)
}

/// The SDK names the provider that produced credentials only in their `Debug` output (whose
/// secret key is redacted); nothing else of it is kept.
fn provider_name(creds: &aws_credential_types::Credentials) -> Option<String> {
    let debug = format!("{creds:?}");
    let rest = debug.split_once("provider_name: \"")?.1;
    let name = rest.split('"').next()?;
    (!name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)))
    .then(|| name.to_string())
}

/// The config's target for `host`, and the error `get` would answer for it. An entry that
/// contradicts the host is that error; the host is then explained as it names itself.
fn resolve_host(config: &Config, host: &str) -> (Option<Target>, Option<String>) {
    match config.resolve(host) {
        Ok(target) => (target, None),
        Err(e) => (
            Config::default().resolve(host).ok().flatten(),
            Some(e.to_string()),
        ),
    }
}

/// The API endpoint a fetch for `target` would call, and why (the rule is [`crate::endpoint`]'s).
/// AWS files that cannot be used (`problem`) leave it unknown unless it is explicit: a fetch
/// fails before choosing.
fn endpoint(
    target: &Target,
    api: &crate::endpoint::Api,
    problem: Option<&str>,
) -> (String, String) {
    if let (None, Some(problem)) = (&api.explicit, problem) {
        let why = format!("the AWS config cannot be used: {problem}");
        return ("(none)".into(), why);
    }
    let (url, why) = crate::resolve::endpoint_of(target, api);
    (url.unwrap_or_else(|| "(none)".into()), why)
}

fn cache_check(lookup: &Lookup, host: &str) -> CacheCheck {
    let cache = match &lookup.cache {
        Ok(cache) => cache,
        Err(crate::dirs::NoCacheDir::Disabled) => return CacheCheck::Disabled,
        Err(why) => return CacheCheck::Unavailable(why.to_string()),
    };
    let found = match lookup.target(host) {
        Ok(found) => found,
        Err(e) => return CacheCheck::Unknown(e.to_string()),
    };
    let key = &found.key;
    let rule = cache.rule().describe();
    if let Err(why) = cache.probe() {
        return CacheCheck::Unusable(format!("{why} (directory from {rule})"));
    }
    let entry = crate::lookup::read_own(cache, key);
    CacheCheck::Entry {
        path: cache.entry_path(&key.id),
        rule,
        hosts: entry
            .as_ref()
            .map(|e| cache.answered_hosts(&key.id, e))
            .unwrap_or_default(),
        state: entry_state(entry, lookup.clock.now_ms()),
        scope: crate::identity::describe_scope(&found.target, &found.api),
    }
}

fn entry_state(entry: Option<cache::Entry>, now: u64) -> EntryState {
    let Some(entry) = entry else {
        return EntryState::None;
    };
    match (entry.token, entry.failure) {
        (Some(t), _) if t.is_valid(now) => EntryState::Token {
            expires_ms: t.validity.expires_at(),
            fresh: t.is_fresh(now),
        },
        (_, Some(f)) => EntryState::Failure {
            at_ms: f.at,
            message: f.message,
        },
        (Some(t), None) => EntryState::Expired {
            expires_ms: t.validity.expires_at(),
        },
        (None, None) => EntryState::None,
    }
}

/// The real lookup, through the cache and herd lock. When the SDK already found no credentials,
/// a miss reports that at once instead of waiting out the same chain a second time.
/// `named` is the profile the resolution names (the entry's, else `AWS_PROFILE`), as a fetch's
/// error names it.
fn fetch(
    lookup: &Lookup,
    host: &str,
    source: &AwsTokenSource,
    (resolved, unresolved): (&Resolved, Option<TokenError>),
    named: Option<String>,
) -> FetchCheck {
    let start = Instant::now();
    let result = match (resolved, unresolved) {
        (_, Some(failed)) => lookup.get(host, &Known(failed)),
        (Resolved::Failed { .. }, None) => lookup.get(
            host,
            &Known(TokenError::NoCredentials {
                profile: named,
                detail: "the SDK's credential chain found none".into(),
            }),
        ),
        (Resolved::Ok { .. }, None) => lookup.get(host, source),
    };
    let took_ms = start.elapsed().as_millis() as u64;
    match result {
        Ok(c) if c.from_cache => FetchCheck::Hit {
            took_ms,
            expires_ms: c.token.validity.expires_at(),
        },
        Ok(c) => FetchCheck::Fetched {
            took_ms,
            expires_ms: c.token.validity.expires_at(),
        },
        Err(e) => FetchCheck::Failed {
            took_ms,
            message: e.to_string(),
        },
    }
}

/// A token source whose answer is already known to be this error.
struct Known(TokenError);

impl TokenSource for Known {
    fn fetch(&self, _: &crate::resolve::Resolved) -> Result<Token, TokenError> {
        Err(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    #[test]
    fn provider_name_comes_from_the_redacted_debug_output() {
        let creds = aws_credential_types::Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "secretsecret",
            None,
            None,
            "EnvironmentVariable",
        );
        assert_eq!(
            provider_name(&creds).as_deref(),
            Some("EnvironmentVariable")
        );
    }

    #[test]
    fn not_a_host_and_foreign_hosts_are_explained_without_fetching() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let env = MapEnv::new(&[
            ("HOME", home),
            ("XDG_RUNTIME_DIR", home),
            ("AWS_ECR_CACHE_DIR", home),
        ]);
        let d = diagnose(
            &["two words", "docker.io"],
            &Process::embedded(),
            &env,
            "docker-credential-ecr",
        );
        assert_eq!(d.hosts[0].registry, RegistryCheck::NotAHost);
        assert_eq!(
            d.hosts[1].registry,
            RegistryCheck::NotEcr {
                host: "docker.io".into(),
                fallback: None,
            }
        );
        assert!(d.hosts.iter().all(|h| h.details.is_none()));
        assert!(!d.healthy());
    }

    #[test]
    fn default_endpoints_come_from_the_sdks_resolver() {
        let env = MapEnv::default();
        let at = |host: &str| {
            let target = Config::default().resolve(host).unwrap().unwrap();
            let files = crate::resolve::AwsFiles::default();
            let r = crate::resolve::complete(target, &env, &files).unwrap();
            endpoint(&r.target, &r.api, None)
        };
        assert_eq!(
            at("123456789012.dkr.ecr.eu-west-1.amazonaws.com").0,
            "https://api.ecr.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            at("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com").0,
            "https://api.ecr-fips.us-gov-west-1.amazonaws.com"
        );
        assert!(at("public.ecr.aws").0.contains("us-east-1"));
        let env = MapEnv::new(&[("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:9")]);
        let target = Config::default()
            .resolve("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
            .unwrap()
            .unwrap();
        let files = crate::resolve::AwsFiles::default();
        let r = crate::resolve::complete(target, &env, &files).unwrap();
        let (url, why) = endpoint(&r.target, &r.api, None);
        assert_eq!(url, "http://127.0.0.1:9");
        assert_eq!(why, "AWS_ENDPOINT_URL_ECR");
    }

    #[test]
    fn with_no_host_and_nothing_routed_the_searched_files_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let env = MapEnv::new(&[("HOME", home), ("XDG_RUNTIME_DIR", home)]);
        let d = diagnose(&[], &Process::embedded(), &env, "docker-credential-ecr");
        assert!(d.nothing_routed);
        assert!(d.hosts.is_empty());
        assert!(
            d.searched
                .iter()
                .any(|p| p.ends_with(".docker/config.json")),
            "{:?}",
            d.searched
        );
        assert!(!d.healthy());
    }
}
