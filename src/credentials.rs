//! Which credentials a fetch signs with: the source the AWS CLI (botocore) would pick in the same
//! environment, built from aws-config's own providers.
//!
//! aws-config's default chain differs from botocore's in ways that sign as another principal:
//! it keeps the environment's keys first even for a profile chosen like `aws --profile`, it
//! tries `AWS_WEB_IDENTITY_TOKEN_FILE` only after every profile, and within a profile it runs a
//! `credential_process` before static keys from the credentials file. botocore's order, which
//! [`plan`] follows:
//! 1. the environment's keys (not for an explicit profile; an access key id without its secret
//!    is refused, as botocore's "partial credentials");
//! 2. the profile's role (`role_arn` with `source_profile` or `credential_source`); where its
//!    source profile has a `credential_process` beside keys in the config file, assumed from the
//!    process, as botocore does (aws-config would take the keys);
//! 3. web identity from the environment (not for an explicit profile);
//! 4. the profile's own web identity, SSO, static keys of the credentials file, process, static
//!    keys of the config file (aws-config's profile provider, but for the keys of the
//!    credentials file, which are tried first when the profile also has a `credential_process`);
//! 5. the container's credentials endpoint, then instance metadata.
//!
//! A config entry's `profile` is explicit, as `--profile` is: it must exist.

use crate::env::Env;
use crate::profiles::{ProfileError, Profiles, StaticKeys};
use aws_config::SdkConfig;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

/// The role session name when the config names none (`role_session_name`, or a config
/// entry's own): the program's name, which CloudTrail then shows for every role it assumes.
pub(crate) const DEFAULT_SESSION_NAME: &str = crate::program::NAME;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ChoiceError {
    #[error(
        "profile {profile:?}, named by the config file's entry for this registry, is not defined in {files}: define it (`aws configure --profile {profile}`) or fix the entry's profile"
    )]
    MissingProfile { profile: String, files: String },
    /// `id` is the variable the user set (`AWS_ACCESS_KEY_ID`, or the Go helper's name).
    #[error(
        "{id} is set but AWS_SECRET_ACCESS_KEY is not (partial credentials, which the AWS CLI refuses too): set both, or unset {id}"
    )]
    PartialKeys { id: &'static str },
    #[error("{0}")]
    Files(String),
}

impl ChoiceError {
    /// A name for the cache key: which refusal, without the detail.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            ChoiceError::MissingProfile { .. } => "missing-profile",
            ChoiceError::PartialKeys { .. } => "partial-keys",
            ChoiceError::Files(_) => "files",
        }
    }
}

impl From<ProfileError> for ChoiceError {
    fn from(e: ProfileError) -> ChoiceError {
        ChoiceError::Files(e.to_string())
    }
}

/// One step of the chain, in botocore's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Environment,
    /// aws-config's provider for the named profile (its role chain and its own sources).
    Profile(String),
    WebIdentityFromEnvironment,
    /// The credentials file's static keys, ahead of the profile's `credential_process`.
    CredentialsFileKeys(StaticKeys),
    /// A role chain whose source profile has a `credential_process` and static keys in the
    /// config file: botocore runs the process, aws-config would take the keys.
    RoleOverProcess {
        hops: Vec<Hop>,
        command: ProcessCommand,
    },
    Container,
    InstanceMetadata,
}

/// One role of a profile's role chain; a chain's hops are listed from the selected profile on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hop {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
}

/// A `credential_process` command line. Debug shows only the program: arguments may be secret.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ProcessCommand(pub String);

impl std::fmt::Debug for ProcessCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let program = self.0.split_whitespace().next().unwrap_or("");
        write!(f, "ProcessCommand({program} …)")
    }
}

impl Step {
    /// The step's kind, for the cache key (the profile's name is in the key already).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Step::Environment => "environment",
            Step::Profile(_) => "profile",
            Step::WebIdentityFromEnvironment => "web-identity",
            Step::CredentialsFileKeys(_) => "credentials-file-keys",
            Step::RoleOverProcess { .. } => "role-over-process",
            Step::Container => "container",
            Step::InstanceMetadata => "instance-metadata",
        }
    }
}

/// A host's credential chain as [`plan`] decided it, or why it refuses: worked out once per
/// request (`resolve::Resolved::plan`) and read by the cache key, the fetch, its progress and
/// `doctor`.
pub(crate) type Plan = Result<Vec<Step>, ChoiceError>;

/// The steps botocore would try, in order, for this environment and these files; `explicit` is
/// a config entry's `profile` (`profiles` must have been loaded with it).
pub(crate) fn plan(env: &dyn Env, profiles: &Profiles, explicit: Option<&str>) -> Plan {
    let profile = profiles.selected().to_string();
    let mut steps = Vec::new();
    match explicit {
        Some(name) if !profiles.has_profile(name) => {
            let file = |f: Option<std::path::PathBuf>| {
                f.map_or("(no home)".to_string(), |p| p.display().to_string())
            };
            return Err(ChoiceError::MissingProfile {
                profile: name.to_string(),
                files: format!(
                    "{} or {}",
                    file(crate::dirs::aws_config_file(env)),
                    file(crate::dirs::aws_credentials_file(env))
                ),
            });
        }
        Some(_) => {}
        None => {
            if env.var("AWS_ACCESS_KEY_ID").is_some() {
                if env.var("AWS_SECRET_ACCESS_KEY").is_none() {
                    let id = env.set_by("AWS_ACCESS_KEY_ID");
                    return Err(ChoiceError::PartialKeys { id });
                }
                return Ok(vec![Step::Environment]);
            }
        }
    }
    let has = |key: &str| profiles.get(key).is_some_and(|v| !v.is_empty());
    let role = has("role_arn") && (has("source_profile") || has("credential_source"));
    if role && let Some((hops, command)) = role_over_process(profiles) {
        steps.push(Step::RoleOverProcess { hops, command });
    }
    if !role {
        if explicit.is_none() && env.var("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() {
            steps.push(Step::WebIdentityFromEnvironment);
        }
        // Web identity and SSO (either form) come before the credentials file's keys.
        let before_process =
            !has("web_identity_token_file") && !has("sso_session") && !has("sso_start_url");
        if before_process && has("credential_process") {
            steps.extend(
                profiles
                    .credentials_file_keys(&profile)?
                    .map(Step::CredentialsFileKeys),
            );
        }
    }
    steps.extend([
        Step::Profile(profile),
        Step::Container,
        Step::InstanceMetadata,
    ]);
    Ok(steps)
}

/// The role chain from the selected profile, when it ends at a source profile whose choice
/// differs: aws-config takes a source profile's static keys first, botocore its web identity,
/// SSO and credentials-file keys, then its `credential_process`, then its config-file keys.
/// Only the process over config-file keys is rebuilt here; the chain is aws-config's otherwise.
fn role_over_process(profiles: &Profiles) -> Option<(Vec<Hop>, ProcessCommand)> {
    let mut name = profiles.selected().to_string();
    let mut hops: Vec<Hop> = Vec::new();
    let setting = |name: &str, key: &str| {
        profiles
            .profile_setting(name, key)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    loop {
        let get = |key: &str| setting(&name, key);
        // aws-config stops at the first source profile with static keys.
        if !hops.is_empty() && get("aws_access_key_id").is_some() {
            break;
        }
        match (get("role_arn"), get("source_profile")) {
            (Some(role_arn), Some(source)) if source != name && hops.len() < 16 => {
                hops.push(Hop {
                    role_arn,
                    external_id: get("external_id"),
                    session_name: get("role_session_name"),
                });
                name = source;
            }
            _ => return None,
        }
    }
    let get = |key: &str| setting(&name, key);
    let earlier = ["web_identity_token_file", "sso_session", "sso_start_url"];
    if earlier.iter().any(|k| get(k).is_some()) {
        return None;
    }
    let command = get("credential_process")?;
    match profiles.credentials_file_keys(&name) {
        Ok(None) => Some((hops, ProcessCommand(command))),
        _ => None,
    }
}

/// The chain for `steps`, its providers configured as `base` (the fetch's HTTP client,
/// timeouts, retries, region, FIPS and dual-stack settings).
pub(crate) async fn chain(base: &SdkConfig, steps: &[Step]) -> SharedCredentialsProvider {
    let conf = provider_config(base);
    let mut providers = Vec::new();
    for step in steps {
        providers.push(provider(step, base, &conf).await);
    }
    let mut providers = providers.into_iter();
    let Some((name, first)) = providers.next() else {
        // `plan` never answers an empty list; an empty chain would be no credentials at all.
        return shared(CredentialsProviderChain::first_try(
            "None",
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        ));
    };
    let chain = providers.fold(
        CredentialsProviderChain::first_try(name, first),
        |chain, (name, provider)| chain.or_else(name, provider),
    );
    shared(chain)
}

/// One step's provider, named as aws-config's default chain names it in its errors.
async fn provider(
    step: &Step,
    base: &SdkConfig,
    conf: &ProviderConfig,
) -> (&'static str, SharedCredentialsProvider) {
    use aws_config::{ecs, environment, imds, profile, web_identity_token};
    match step {
        Step::RoleOverProcess { hops, command } => {
            ("Profile", role_chain(base, hops, command).await)
        }
        Step::Environment => (
            "Environment",
            shared(environment::EnvironmentVariableCredentialsProvider::new()),
        ),
        Step::Profile(name) => (
            "Profile",
            shared(
                profile::ProfileFileCredentialsProvider::builder()
                    .configure(conf)
                    .profile_name(name)
                    .build(),
            ),
        ),
        Step::WebIdentityFromEnvironment => (
            "WebIdentityToken",
            shared(
                web_identity_token::WebIdentityTokenCredentialsProvider::builder()
                    .configure(conf)
                    .build(),
            ),
        ),
        Step::CredentialsFileKeys(k) => (
            "ProfileFile",
            shared(Credentials::new(
                &k.access_key_id,
                &k.secret_access_key,
                k.session_token.clone(),
                None,
                "ProfileFile",
            )),
        ),
        Step::Container => (
            "EcsContainer",
            shared(
                ecs::EcsCredentialsProvider::builder()
                    .configure(conf)
                    .build(),
            ),
        ),
        Step::InstanceMetadata => (
            "Ec2InstanceMetadata",
            shared(
                imds::credentials::ImdsCredentialsProvider::builder()
                    .configure(conf)
                    .build(),
            ),
        ),
    }
}

/// `hops` assumed in turn, innermost first, from what `command` prints.
async fn role_chain(
    base: &SdkConfig,
    hops: &[Hop],
    command: &ProcessCommand,
) -> SharedCredentialsProvider {
    let mut provider =
        shared(aws_config::credential_process::CredentialProcessProvider::new(command.0.clone()));
    for hop in hops.iter().rev() {
        let session = hop.session_name.clone();
        let mut role = aws_config::sts::AssumeRoleProvider::builder(&hop.role_arn)
            .configure(base)
            .session_name(session.unwrap_or_else(|| DEFAULT_SESSION_NAME.into()));
        if let Some(id) = &hop.external_id {
            role = role.external_id(id);
        }
        provider = shared(role.build_from_provider(provider).await);
    }
    provider
}

fn shared(
    p: impl aws_credential_types::provider::ProvideCredentials + 'static,
) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(p)
}

/// What the loader would hand its own default chain, taken from the config it built.
fn provider_config(base: &SdkConfig) -> ProviderConfig {
    let mut conf = ProviderConfig::empty()
        .with_region(base.region().cloned())
        .with_use_fips(base.use_fips())
        .with_use_dual_stack(base.use_dual_stack())
        .with_behavior_version(base.behavior_version());
    if let Some(client) = base.http_client() {
        conf = conf.with_http_client(client);
    }
    if let Some(sleep) = base.sleep_impl() {
        conf = conf.with_sleep_impl(sleep);
    }
    if let Some(time) = base.time_source() {
        conf = conf.with_time_source(time);
    }
    if let Some(retry) = base.retry_config() {
        conf = conf.with_retry_config(retry.clone());
    }
    if let Some(timeouts) = base.timeout_config() {
        conf = conf.with_timeout_config(timeouts.clone());
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    const KEYS: &str = "[p]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n";
    const WEB: [(&str, &str); 2] = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
        ("AWS_ROLE_ARN", "arn:aws:iam::1:role/w"),
    ];

    fn plan_of(
        config: &str,
        credentials: &str,
        env: &[(&str, &str)],
        explicit: Option<&str>,
    ) -> Result<Vec<Step>, ChoiceError> {
        let env = MapEnv::new(env);
        let profiles = Profiles::parse(config, credentials, &env, explicit).unwrap();
        plan(&env, &profiles, explicit)
    }

    fn first(plan: Result<Vec<Step>, ChoiceError>) -> Step {
        plan.unwrap().remove(0)
    }

    const ENV_KEYS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];

    #[test]
    fn an_explicit_profile_is_that_profile_and_must_exist() {
        let p = plan_of(
            "",
            KEYS,
            &[ENV_KEYS[0], ENV_KEYS[1], WEB[0], WEB[1]],
            Some("p"),
        )
        .unwrap();
        assert_eq!(
            p,
            [
                Step::Profile("p".into()),
                Step::Container,
                Step::InstanceMetadata
            ]
        );
        let missing = plan_of("", KEYS, &ENV_KEYS, Some("nope")).unwrap_err();
        assert!(
            matches!(&missing, ChoiceError::MissingProfile { profile, .. } if profile == "nope")
        );
        assert!(missing.to_string().contains("\"nope\""), "{missing}");
        // Without the config entry, the environment's keys come first, as in the AWS CLI.
        assert_eq!(
            plan_of(
                "",
                KEYS,
                &[ENV_KEYS[0], ENV_KEYS[1], ("AWS_PROFILE", "p")],
                None
            )
            .unwrap(),
            [Step::Environment]
        );
    }

    #[test]
    fn partial_environment_keys_are_refused_unless_a_profile_is_explicit() {
        let only_id = [("AWS_ACCESS_KEY_ID", "AKIDENV")];
        let partial = ChoiceError::PartialKeys {
            id: "AWS_ACCESS_KEY_ID",
        };
        assert_eq!(plan_of("", KEYS, &only_id, None), Err(partial));
        let go = plan_of("", KEYS, &[("AWS_ACCESS_KEY", "AKIDENV")], None).unwrap_err();
        assert!(go.to_string().starts_with("AWS_ACCESS_KEY is set"), "{go}");
        assert_eq!(
            first(plan_of("", KEYS, &only_id, Some("p"))),
            Step::Profile("p".into())
        );
        // A secret alone is no credentials, not partial ones (botocore looks at the id).
        let only_secret = [("AWS_SECRET_ACCESS_KEY", "s")];
        assert_eq!(
            first(plan_of("", "", &only_secret, None)),
            Step::Profile("default".into())
        );
    }

    #[test]
    fn web_identity_variables_come_after_a_profile_role_and_before_its_other_sources() {
        let selected = [WEB[0], WEB[1], ("AWS_PROFILE", "p")];
        assert_eq!(
            first(plan_of("", KEYS, &selected, None)),
            Step::WebIdentityFromEnvironment
        );
        let default = "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = s\n";
        assert_eq!(
            first(plan_of("", default, &WEB, None)),
            Step::WebIdentityFromEnvironment
        );
        let role = "[profile p]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = p\n";
        assert_eq!(
            first(plan_of(role, KEYS, &selected, None)),
            Step::Profile("p".into())
        );
    }

    #[test]
    fn a_role_over_a_source_profiles_process_and_config_file_keys_runs_the_process() {
        let role = "[profile p]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\nexternal_id = x\n\
                    [profile base]\ncredential_process = /bin/creds --token hunter2\n";
        let keys = "aws_access_key_id = AKIDCONF\naws_secret_access_key = s\n";
        let env = [("AWS_PROFILE", "p")];
        let with_config_keys = format!("{role}{keys}");
        match first(plan_of(&with_config_keys, "", &env, None)) {
            Step::RoleOverProcess { hops, command } => {
                assert_eq!(hops.len(), 1);
                assert_eq!(hops[0].role_arn, "arn:aws:iam::1:role/r");
                assert_eq!(hops[0].external_id.as_deref(), Some("x"));
                assert_eq!(command.0, "/bin/creds --token hunter2");
                assert!(!format!("{command:?}").contains("hunter2"));
            }
            other => panic!("{other:?}"),
        }
        // Keys in the credentials file, or no keys at all: aws-config's own order is botocore's.
        let file_keys = format!("[base]\n{keys}");
        assert_eq!(
            first(plan_of(role, &file_keys, &env, None)),
            Step::Profile("p".into())
        );
        assert_eq!(
            first(plan_of(role, "", &env, None)),
            Step::Profile("p".into())
        );
    }

    #[test]
    fn credentials_file_keys_come_before_a_credential_process() {
        let process = "[profile p]\ncredential_process = /bin/creds\n";
        let env = [("AWS_PROFILE", "p")];
        match first(plan_of(process, KEYS, &env, None)) {
            Step::CredentialsFileKeys(k) => assert_eq!(k.access_key_id, "AKIDFILE"),
            other => panic!("{other:?}"),
        }
        // Keys in the config file itself come after the process, as in botocore.
        let both = "[profile p]\ncredential_process = /bin/creds\naws_access_key_id = AKIDCONF\naws_secret_access_key = s\n";
        assert_eq!(
            first(plan_of(both, "", &env, None)),
            Step::Profile("p".into())
        );
        // SSO comes before both, in either form.
        for sso in ["sso_session = corp", "sso_start_url = https://x"] {
            let config = format!("{process}{sso}\n");
            assert_eq!(
                first(plan_of(&config, KEYS, &env, None)),
                Step::Profile("p".into())
            );
        }
        // Without a process, the profile provider reads the keys itself.
        assert_eq!(
            first(plan_of("", KEYS, &env, None)),
            Step::Profile("p".into())
        );
    }
}
