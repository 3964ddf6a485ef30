//! Which AWS identity a token belongs to, decided from local facts only.
//!
//! A cache hit must not resolve credentials (no SSO refresh, STS, IMDS or `credential_process`),
//! so the cache key is built from what the environment and files say the SDK's chain *would*
//! use, and it changes whenever that would change:
//! - the variables that select or shape credentials, and the registry's config entry;
//! - the selected profile's own settings along its `source_profile` chain and `sso-session`
//!   (access key ids, role ARNs, SSO settings, `credential_process`; never secret keys);
//! - the container credentials token, or its file's content (EKS Pod Identity pods and ECS
//!   tasks share the URI and the file path, not the token);
//! - where the chain may end at instance metadata, the machine (two instances with different
//!   roles may share a home over NFS);
//! - the scope of the token ([`scope`]): the API region and endpoint the fetch will call, not
//!   the registry's host or account, so one token serves every registry of a region.
//!
//! Temporary credentials that rotate behind one profile or role keep the key and still hit.
//! The description shows names and non-secret values; everything else appears only hashed.

use crate::config::Target;
use crate::endpoint::Api;
use crate::env::Env;
use crate::profiles::{ProfileError, Profiles};
use crate::registry::Registry;

/// Variables that select or shape the credentials the SDK's default chain would use.
const IDENTITY_VARS: &[&str] = &[
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    // The default config and credentials files live under HOME.
    "HOME",
];

/// Hashed rather than stored: an access key id is not a secret, but it is account metadata.
const ACCESS_KEY_VAR: &str = "AWS_ACCESS_KEY_ID";
const SECRET_KEY_VAR: &str = "AWS_SECRET_ACCESS_KEY";
const CONTAINER_TOKEN_VAR: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
const CONTAINER_TOKEN_FILE_VAR: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";

/// What tells one machine from another without asking the network: on EC2 Nitro the first
/// holds the instance id; the others are the firmware's UUID (readable by root only) and the
/// installation's id. Containers from one image share `machine-id`, not the others.
const MACHINE_FILES: &[&str] = &[
    "/sys/devices/virtual/dmi/id/board_asset_tag",
    "/sys/devices/virtual/dmi/id/product_uuid",
    "/etc/machine-id",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// What the key is made of, one `name=value` per line; safe to show (`doctor`, the cache).
    pub description: String,
    /// Hex SHA-256 of the description: the cache entry's file name.
    pub id: String,
}

impl CacheKey {
    fn from_lines(lines: &[String]) -> CacheKey {
        let description = lines.join("\n");
        let id = sha256_hex(&description)[..32].to_string();
        CacheKey { description, id }
    }

    /// The key with one more identity line: what a token source adds beyond the environment and
    /// config (see `TokenSource::identity`).
    pub fn extended(self, line: &str) -> CacheKey {
        let description = format!("{}\n{line}", self.description);
        let id = sha256_hex(&description)[..32].to_string();
        CacheKey { description, id }
    }
}

/// Everything the key and the API endpoint take from the AWS files, as plain values: what
/// `keymemo` remembers so that a hit need not parse the files again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileFacts {
    /// The endpoint the SDK's settings name (`(url, where it was set)`), unless the registry's
    /// config entry names one: that wins, and the files are not asked.
    pub endpoint: Option<(String, String)>,
    pub fips: bool,
    pub dual_stack: bool,
    /// The key's `source=` line.
    pub source: String,
    /// The key's lines for the selected profile's chain (none without one).
    pub chain: Vec<String>,
}

/// Takes from the parsed AWS files, and the credential chain planned over them, what the key and
/// the API endpoint of `target` need.
pub fn file_facts(
    target: &Target,
    profiles: &Profiles,
    plan: &crate::credentials::Plan,
) -> Result<FileFacts, ProfileError> {
    let endpoint = match crate::endpoint::from_entry(target) {
        Some(_) => None,
        None => crate::endpoint::from_files(target, profiles)?.map(|e| (e.url, e.source)),
    };
    let requested = crate::endpoint::requested(profiles);
    Ok(FileFacts {
        endpoint,
        fips: requested.fips,
        dual_stack: requested.dual_stack,
        source: source_line(plan),
        chain: chain_lines(profiles),
    })
}

/// The API endpoint and the key, from what the files said ([`file_facts`]), whether they were
/// parsed now or remembered by `keymemo`.
pub fn from_facts(target: &Target, env: &dyn Env, facts: &FileFacts) -> (Api, CacheKey) {
    let api = Api {
        explicit: crate::endpoint::from_entry(target).or_else(|| {
            let (url, source) = facts.endpoint.clone()?;
            Some(crate::endpoint::Endpoint { url, source })
        }),
        requested: crate::endpoint::Variant {
            fips: facts.fips,
            dual_stack: facts.dual_stack,
        },
    };
    let key = key_with(target, &api, env, (&facts.source, &facts.chain));
    (api, key)
}

/// What one token answers for: the first line of the cache key, so that every registry with
/// the same scope (and the same identity, the rest of the key) shares one entry, one fetch and
/// one herd lock.
///
/// An ECR authorization token is scoped to the IAM principal and the region, not to the
/// registry's account: the API reference marks `registryIds` deprecated ("specifying a registry
/// ID doesn't change the permissions scope of the authorization token"). So a private registry's
/// scope is the API region (which decides the partition) and the API endpoint the fetch calls
/// ([`crate::endpoint::key`]): FIPS, dual-stack and explicit endpoints are other endpoints and
/// get entries of their own, aliases share with the region they stand for. ECR Public has one token per identity.
/// `share_token = false` in the registry's config entry narrows the scope to that one host.
pub fn scope(target: &Target, api: &Api) -> String {
    let region = target.api_region();
    let api = crate::endpoint::key(target, api);
    let mut line = match &target.registry {
        Registry::Private(_) => format!("scope=region region={region} api={api}"),
        Registry::Public => format!("scope=public region={region} api={api}"),
    };
    if target.settings.own_token {
        line = match &target.registry {
            Registry::Private(p) => format!(
                "{line} own_token host={} account={}",
                target.host, p.account
            ),
            Registry::Public => format!("{line} own_token host={}", target.host),
        };
    }
    line
}

/// The scope in words, for `doctor`.
pub fn describe_scope(target: &Target, api: &Api) -> String {
    let region = target.api_region();
    match (&target.registry, target.settings.own_token) {
        (_, true) => format!("{} only (share_token = false)", target.host),
        (Registry::Private(_), false) => format!(
            "shared by every private registry in {region} that this identity pulls from, via {}",
            crate::endpoint::display_name(target, api)
        ),
        (Registry::Public, false) => "shared by every ECR Public host for this identity".into(),
    }
}

/// The key's lines for the selected profile's chain: its name, and its settings hashed.
fn chain_lines(profiles: &Profiles) -> Vec<String> {
    let profile_lines = profiles.identity_lines();
    if profile_lines.is_empty() {
        return Vec::new();
    }
    vec![
        format!("profile={}", profiles.selected()),
        hashed("profile_chain", &profile_lines.join("\n")),
    ]
}

fn hashed(name: &str, value: &str) -> String {
    format!("{name}.sha256={}", &sha256_hex(value)[..16])
}

/// The key from the target, its API, the environment and what the AWS files say (the
/// `source=` line and the profile chain's lines).
fn key_with(
    target: &Target,
    api: &Api,
    env: &dyn Env,
    (source, chain): (&str, &[String]),
) -> CacheKey {
    let s = &target.settings;
    let mut lines = vec![scope(target, api), source.to_string()];
    let setting = |name: &str, v: &Option<String>| v.as_ref().map(|v| format!("config.{name}={v}"));
    lines.extend(setting("profile", &s.profile));
    if let Some(role) = &s.role {
        lines.push(format!("config.role_arn={}", role.arn));
        lines.extend(setting("external_id", &role.external_id));
        lines.extend(setting("role_session_name", &role.session_name));
    }
    for name in IDENTITY_VARS {
        if let Some(v) = env.var(name) {
            lines.push(format!("{name}={v}"));
        }
    }
    if let Some(key_id) = env.var(ACCESS_KEY_VAR) {
        lines.push(hashed(ACCESS_KEY_VAR, &key_id));
    }
    lines.extend(chain.iter().cloned());
    if let Some(token) = env.var(CONTAINER_TOKEN_VAR) {
        lines.push(hashed(CONTAINER_TOKEN_VAR, &token));
    }
    if let Some(path) = env.var(CONTAINER_TOKEN_FILE_VAR) {
        lines.push(format!("{CONTAINER_TOKEN_FILE_VAR}={path}"));
        let content = crate::profiles::read_small_file(std::path::Path::new(&path));
        lines.push(hashed(
            "container_token",
            content.as_deref().unwrap_or("<unreadable>"),
        ));
    }
    lines.extend(key_vars_line(env));
    if may_use_instance_metadata(env) {
        let machine: Vec<String> = MACHINE_FILES
            .iter()
            .filter_map(|f| crate::profiles::read_small_file(std::path::Path::new(f)))
            .map(|s| s.trim().to_string())
            .collect();
        lines.push(hashed("machine", &machine.join("\n")));
    }
    CacheKey::from_lines(&lines)
}

/// Names the variables that choose an identity where no file or variable the key hashes
/// can see it: a `credential_process` script or a container credentials endpoint that picks
/// a tenant's keys from `$TEAM`. Comma-separated; each variable's value goes into the key,
/// hashed (a multi-tenant runner's tenants then never share an entry).
pub const KEY_VARS_VAR: &str = "DOCKER_CREDENTIAL_ECR_KEY_VARS";

/// The names [`KEY_VARS_VAR`] lists, in its order.
fn key_vars(env: &dyn Env) -> Vec<String> {
    env.var(KEY_VARS_VAR)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The key's line for [`KEY_VARS_VAR`]: the names as they are, the values only hashed (a
/// tenant's name may itself be private, and the description is shown by `doctor`). An unset
/// variable hashes apart from every value, the empty one included.
fn key_vars_line(env: &dyn Env) -> Option<String> {
    let names = key_vars(env);
    if names.is_empty() {
        return None;
    }
    let values: Vec<String> = names
        .iter()
        .map(|n| match env.var(n) {
            // Quoted: a value holding a newline cannot pass for two variables.
            Some(v) => format!("{n}={v:?}"),
            None => n.clone(),
        })
        .collect();
    Some(format!(
        "{KEY_VARS_VAR}={} values.sha256={}",
        names.join(","),
        &sha256_hex(&values.join("\n"))[..16]
    ))
}

/// What `doctor` says about an identity the key cannot see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyVarsNote {
    /// [`KEY_VARS_VAR`] names variables: which ones key the identity.
    Keyed(String),
    /// A `credential_process` or a container endpoint may choose an identity by itself, and
    /// nothing keys it: the limit, and the setting.
    Blind(String),
}

/// Which [`KeyVarsNote`] applies, if any.
pub fn key_vars_note(env: &dyn Env, profiles: Option<&Profiles>) -> Option<KeyVarsNote> {
    let names = key_vars(env);
    if !names.is_empty() {
        return Some(KeyVarsNote::Keyed(format!(
            "the cache key also holds {} ({KEY_VARS_VAR}; values hashed)",
            names.join(", ")
        )));
    }
    let process = profiles.is_some_and(|p| {
        p.identity_lines()
            .iter()
            .any(|l| l.contains(".credential_process="))
    });
    let container = env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
        || env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some();
    let what = match (process, container) {
        (true, _) => "a credential_process",
        (false, true) => "a container credentials endpoint",
        (false, false) => return None,
    };
    Some(KeyVarsNote::Blind(format!(
        "the cache key cannot see an identity that {what} chooses by itself (from $TEAM, say): on a runner shared by tenants, set {KEY_VARS_VAR} to the variables that choose it"
    )))
}

/// The source the chain starts from (the plan the fetch signs by), or why it refuses: the same
/// settings can mean another principal by where they are (keys in the
/// credentials file come before a `credential_process`, keys in the config file after it).
/// Keys written before this line existed followed the SDK's default order, and so never match.
fn source_line(plan: &crate::credentials::Plan) -> String {
    match plan {
        Ok(steps) => format!("source={}", steps.first().map_or("none", |s| s.name())),
        Err(e) => format!("source=refused ({})", e.kind()),
    }
}

/// Whether the chain could reach instance metadata: nothing earlier in it is certain to
/// answer. Static keys in the environment, a container endpoint or web identity answer first;
/// with `AWS_EC2_METADATA_DISABLED` the chain never asks.
fn may_use_instance_metadata(env: &dyn Env) -> bool {
    let static_keys = env.var(ACCESS_KEY_VAR).is_some() && env.var(SECRET_KEY_VAR).is_some();
    let container = env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
        || env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some();
    let web_identity =
        env.var("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() && env.var("AWS_ROLE_ARN").is_some();
    !(static_keys || container || web_identity || instance_metadata_disabled(env))
}

/// The SDK's own rule for `AWS_EC2_METADATA_DISABLED`: only `true`, in any case, turns the
/// metadata service off (aws-config's IMDS provider). `1` or `yes` leave it on, so they must not
/// drop the machine from the key either.
pub fn instance_metadata_disabled(env: &dyn Env) -> bool {
    env.var("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A portable SHA-256 with no CPU-feature probe: a hit hashes a few hundred bytes, and in a VM
/// each CPUID a hardware backend's detection runs traps to the hypervisor (~15 us).
pub(crate) fn sha256_hex(s: &str) -> String {
    hex::encode(hmac_sha256::Hash::hash(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_true_turns_instance_metadata_off_as_in_the_sdk() {
        for (value, off) in [("true", true), ("TRUE", true), ("1", false), ("yes", false)] {
            let env = MapEnv::new(&[("AWS_EC2_METADATA_DISABLED", value)]);
            assert_eq!(instance_metadata_disabled(&env), off, "{value}");
            assert_eq!(may_use_instance_metadata(&env), !off, "{value}");
        }
    }

    #[test]
    fn key_ids_are_sha256() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    use crate::config::{Config, Role};
    use crate::env::MapEnv;

    const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

    /// The key as a request resolves it ([`crate::resolve::complete`]).
    fn resolve(target: Target, env: &MapEnv) -> CacheKey {
        let files = crate::resolve::AwsFiles::default();
        crate::resolve::complete(target, env, &files).unwrap().key
    }

    fn key(env: &[(&str, &str)]) -> CacheKey {
        let target = Config::default().resolve(HOST).unwrap().unwrap();
        resolve(target, &MapEnv::new(env))
    }

    fn key_of(target: &Target) -> CacheKey {
        resolve(target.clone(), &MapEnv::default())
    }

    #[test]
    fn the_variables_named_to_key_an_identity_key_it_hashed() {
        let vars = ("DOCKER_CREDENTIAL_ECR_KEY_VARS", " TEAM , TENANT,");
        let alpha = key(&[vars, ("TEAM", "alpha-secret-name")]);
        assert_ne!(alpha.id, key(&[vars, ("TEAM", "bravo")]).id);
        assert_ne!(alpha.id, key(&[vars]).id, "unset is a value of its own");
        assert_ne!(key(&[vars]).id, key(&[vars, ("TEAM", "TEAM")]).id);
        assert_ne!(alpha.id, key(&[("TEAM", "alpha-secret-name")]).id);
        // Unnamed, a variable is not part of the key: the documented limit.
        assert_eq!(key(&[("TEAM", "a")]).id, key(&[("TEAM", "b")]).id);
        assert!(!alpha.description.contains("alpha-secret-name"));
        assert!(
            alpha
                .description
                .contains("DOCKER_CREDENTIAL_ECR_KEY_VARS=TEAM,TENANT values.sha256="),
            "{}",
            alpha.description
        );
    }

    #[test]
    fn different_identities_get_different_keys() {
        let base = key(&[("AWS_PROFILE", "dev")]);
        assert_ne!(base.id, key(&[("AWS_PROFILE", "prod")]).id);
        assert_ne!(base.id, key(&[]).id);
        assert_ne!(
            key(&[("AWS_ACCESS_KEY_ID", "AKIAONE")]).id,
            key(&[("AWS_ACCESS_KEY_ID", "AKIATWO")]).id
        );
        assert_ne!(
            key(&[("AWS_ROLE_ARN", "arn:aws:iam::1:role/a")]).id,
            key(&[("AWS_ROLE_ARN", "arn:aws:iam::1:role/b")]).id
        );
        assert_ne!(
            base.id,
            key(&[("AWS_PROFILE", "dev"), ("AWS_ENDPOINT_URL_ECR", "http://x")]).id
        );
    }

    #[test]
    fn the_go_sdk_names_select_the_same_identity_as_the_rust_ones() {
        assert_eq!(
            key(&[("AWS_DEFAULT_PROFILE", "dev")]),
            key(&[("AWS_PROFILE", "dev")])
        );
        assert_ne!(key(&[("AWS_DEFAULT_PROFILE", "dev")]).id, key(&[]).id);
        assert_eq!(
            key(&[("AWS_PROFILE", "prod"), ("AWS_DEFAULT_PROFILE", "dev")]),
            key(&[("AWS_PROFILE", "prod")])
        );
        let go = key(&[("AWS_ACCESS_KEY", "AKIAONE"), ("AWS_SECRET_KEY", "s")]);
        assert_eq!(
            go,
            key(&[
                ("AWS_ACCESS_KEY_ID", "AKIAONE"),
                ("AWS_SECRET_ACCESS_KEY", "s")
            ])
        );
        assert_ne!(
            go.id,
            key(&[("AWS_ACCESS_KEY", "AKIATWO"), ("AWS_SECRET_KEY", "s")]).id
        );
    }

    #[test]
    fn an_access_key_id_without_its_secret_is_another_choice() {
        let full = key(&[
            ("AWS_ACCESS_KEY_ID", "AKIAONE"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        let partial = key(&[("AWS_ACCESS_KEY_ID", "AKIAONE")]);
        assert_ne!(full.id, partial.id);
        assert!(
            full.description.contains("source=environment"),
            "{}",
            full.description
        );
    }

    #[test]
    fn rotating_secrets_keep_the_key() {
        let a = key(&[
            ("AWS_PROFILE", "sso"),
            ("AWS_SECRET_ACCESS_KEY", "one"),
            ("AWS_SESSION_TOKEN", "t1"),
        ]);
        let b = key(&[
            ("AWS_PROFILE", "sso"),
            ("AWS_SECRET_ACCESS_KEY", "two"),
            ("AWS_SESSION_TOKEN", "t2"),
        ]);
        assert_eq!(a, b);
    }

    #[test]
    fn no_key_material_in_the_description() {
        let k = key(&[
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ),
            ("AWS_SESSION_TOKEN", "sessiontoken"),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "containertoken"),
        ]);
        for secret in [
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI",
            "sessiontoken",
            "containertoken",
        ] {
            assert!(!k.description.contains(secret), "{}", k.description);
        }
    }

    #[test]
    fn config_selected_identity_is_part_of_the_key() {
        let mut target = Config::default().resolve(HOST).unwrap().unwrap();
        let plain = key_of(&target);
        target.settings.profile = Some("a".into());
        let a = key_of(&target);
        target.settings.profile = Some("b".into());
        let b = key_of(&target);
        target.settings.role = Some(Role {
            arn: "arn:aws:iam::123456789012:role/r".into(),
            external_id: None,
            session_name: None,
        });
        let b_role = key_of(&target);
        let ids = [plain.id, a.id, b.id, b_role.id];
        for i in 0..ids.len() {
            for j in i + 1..ids.len() {
                assert_ne!(ids[i], ids[j]);
            }
        }
    }

    #[test]
    fn every_spelling_of_a_host_shares_one_key() {
        let c = Config::default();
        let a = c
            .resolve(
                &crate::registry::normalize_host(
                    "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/",
                )
                .unwrap(),
            )
            .unwrap()
            .unwrap();
        let b = c
            .resolve(
                &crate::registry::normalize_host(
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com:443",
                )
                .unwrap(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(key_of(&a), key_of(&b));
    }

    fn key_of_host(config: &Config, host: &str, env: &[(&str, &str)]) -> CacheKey {
        let target = config.resolve(host).unwrap().unwrap();
        resolve(target, &MapEnv::new(env))
    }

    /// An alias for a registry in us-east-1, to show that it shares that region's key.
    fn alias_config() -> Config {
        Config::parse(
            "[[registry]]\nmatch = \"registry.example.com\"\naccount = \"333333333333\"\nregion = \"us-east-1\"\n",
            std::path::Path::new("/c.toml"),
        )
        .unwrap()
    }

    #[test]
    fn one_key_per_identity_and_region_endpoint_whatever_the_account() {
        let c = alias_config();
        let k = |host: &str| key_of_host(&c, host, &[("AWS_PROFILE", "dev")]);
        let east = k("111111111111.dkr.ecr.us-east-1.amazonaws.com");
        assert_eq!(east, k("222222222222.dkr.ecr.us-east-1.amazonaws.com:443"));
        assert_eq!(
            east,
            k("registry.example.com"),
            "an alias shares its region's token"
        );
        let west = k("111111111111.dkr.ecr.us-west-2.amazonaws.com");
        assert_ne!(east.id, west.id);
        // Other API endpoints: FIPS and dual-stack are separate entries.
        let fips = k("111111111111.dkr.ecr-fips.us-east-1.amazonaws.com");
        let dual = k("111111111111.dkr-ecr.us-east-1.on.aws");
        for other in [&west, &fips, &dual] {
            assert_ne!(&east, other);
        }
        assert_ne!(fips, dual);
        assert_eq!(fips, k("222222222222.dkr.ecr-fips.us-east-1.amazonaws.com"));
    }

    /// The key names the endpoint without resolving it; it must still part exactly what the
    /// SDK's rules resolve apart: same key, same region and URL, and the reverse.
    #[test]
    fn keys_part_exactly_what_the_sdk_resolves_apart() {
        let c = alias_config();
        let k = |host: &str| key_of_host(&c, host, &[("AWS_PROFILE", "dev")]);
        let hosts = [
            "111111111111.dkr.ecr.us-east-1.amazonaws.com",
            "222222222222.dkr.ecr.us-east-1.amazonaws.com",
            "111111111111.dkr.ecr-fips.us-east-1.amazonaws.com",
            "111111111111.dkr-ecr.us-east-1.on.aws",
            "111111111111.dkr-ecr-fips.us-east-1.on.aws",
            "111111111111.dkr.ecr.cn-north-1.amazonaws.com.cn",
            "111111111111.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
            "111111111111.dkr.ecr.us-gov-west-1.amazonaws.com",
            "111111111111.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
            "registry.example.com",
            "public.ecr.aws",
            "ecr-public.aws.com",
        ];
        let resolved = |h: &str| {
            let t = c.resolve(h).unwrap().unwrap();
            (
                t.api_region().to_string(),
                crate::endpoint::url(&t, &Api::default()).unwrap(),
            )
        };
        for a in hosts {
            for b in hosts {
                assert_eq!(k(a) == k(b), resolved(a) == resolved(b), "{a} / {b}");
            }
        }
    }

    #[test]
    fn never_another_identitys_key() {
        let c = alias_config();
        assert_ne!(
            key_of_host(
                &c,
                "111111111111.dkr.ecr.us-east-1.amazonaws.com",
                &[("AWS_PROFILE", "dev")]
            ),
            key_of_host(
                &c,
                "222222222222.dkr.ecr.us-east-1.amazonaws.com",
                &[("AWS_PROFILE", "prod")]
            )
        );
    }

    /// ECR Public: one entry per identity, whichever of its names.
    #[test]
    fn ecr_public_is_one_entry_per_identity() {
        let c = alias_config();
        assert_eq!(
            key_of_host(&c, "public.ecr.aws", &[]),
            key_of_host(&c, "ecr-public.aws.com", &[])
        );
        assert_ne!(
            key_of_host(&c, "public.ecr.aws", &[]).id,
            key_of_host(&c, "111111111111.dkr.ecr.us-east-1.amazonaws.com", &[]).id
        );
    }

    #[test]
    fn an_explicit_endpoint_is_the_scope_and_share_token_false_isolates_a_registry() {
        let c = Config::parse(
            "[[registry]]\nmatch = \"444444444444\"\nshare_token = false\n\n[[registry]]\nmatch = \"*.dkr.ecr-fips.eu-west-1.amazonaws.com\"\nendpoint = \"https://vpce.example\"\n\n[[registry]]\nmatch = \"*.dkr.ecr.eu-west-1.amazonaws.com\"\nendpoint = \"https://vpce.example\"\n",
            std::path::Path::new("/c.toml"),
        )
        .unwrap();
        let k = |host: &str| key_of_host(&c, host, &[]);
        let mine = k("444444444444.dkr.ecr.us-east-1.amazonaws.com");
        assert!(
            mine.description
                .contains("host=444444444444.dkr.ecr.us-east-1.amazonaws.com account=444444444444")
        );
        assert_ne!(mine, k("555555555555.dkr.ecr.us-east-1.amazonaws.com"));
        assert_ne!(mine, k("444444444444.dkr.ecr.us-west-2.amazonaws.com"));
        // Both forms call the one endpoint named, so they are one scope.
        assert_eq!(
            k("111111111111.dkr.ecr-fips.eu-west-1.amazonaws.com"),
            k("222222222222.dkr.ecr.eu-west-1.amazonaws.com")
        );
        assert_ne!(
            k("222222222222.dkr.ecr.eu-west-1.amazonaws.com"),
            k("222222222222.dkr.ecr.eu-west-2.amazonaws.com")
        );
    }
}
