//! Where tokens come from: ECR's (or ECR Public's) GetAuthorizationToken, called through the AWS
//! SDK with its full default credential chain.
//!
//! A fetch runs on `watchdog::run_bounded`'s runtime, and only on a cache miss (the front answers
//! hits without linking any of this).
//! Every wait is bounded: a machine with no credentials and no metadata service fails within
//! the timeout, and each failure becomes one line that says what to fix.

use crate::authorization::{self, Token, USERNAME, Validity};
use crate::deadline::Deadline;
use crate::profiles::Profiles;
use crate::registry::Registry;
use crate::resolve::Resolved;
use crate::secret::Secret;
use crate::text::{Repeats, error_chain, error_line, one_line};
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use base64::Engine;
use std::error::Error as StdError;
use std::time::Duration;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// `detail` is the SDK's whole chain, for `doctor` and the log; the line shows its gist.
    #[error("{}", no_credentials_line(.profile, .detail))]
    NoCredentials {
        profile: Option<String>,
        detail: String,
    },
    /// The profile's IAM Identity Center (SSO) session has expired, or its cached token is
    /// missing or unreadable: only a new login fixes it, so the message names the command.
    #[error("the AWS SSO session{} has expired or was never started: run `aws sso login{}`", profile_hint(.profile), login_profile(.profile))]
    SsoLogin { profile: Option<String> },
    #[error("{code}: {message}")]
    Service { code: String, message: String },
    /// The bound ran out; `doing` is the step under way: the credential source
    /// being resolved, or the endpoint being called.
    #[error("{}", crate::deadline::message(Some(.doing), *.after))]
    Timeout { doing: String, after: Duration },
    #[error("cannot reach {endpoint}: {detail}")]
    Network { endpoint: String, detail: String },
    /// The endpoint answered, but not with anything the SDK could read (a proxy's error page,
    /// a truncated body, the wrong service at that URL).
    #[error("{endpoint} returned a reply that could not be read (HTTP {status}): {detail}")]
    BadReply {
        endpoint: String,
        status: u16,
        detail: String,
    },
    #[error("{endpoint} returned an unusable authorization token: {detail}")]
    BadToken { endpoint: String, detail: String },
    /// The SDK's endpoint rules refused the settings (FIPS or dual-stack together with a custom
    /// endpoint, for ECR or for the STS/SSO call behind the credentials): nothing was
    /// unreachable and no credentials are missing; a setting must change.
    #[error("invalid AWS configuration{}: {detail}; {fix}", if *.credentials { " for the credentials provider" } else { "" })]
    InvalidConfiguration {
        detail: String,
        fix: String,
        credentials: bool,
    },
    /// STS refused to assume a role, or could not be reached to: the credentials behind the
    /// role may be fine; the role's trust, the caller's permission or the way to STS is not.
    #[error("cannot assume {}{} through AWS STS: {detail}; {}", role_name(.role), if *.web_identity { " with a web identity token" } else { "" }, assume_fix(*.refused, *.web_identity))]
    AssumeRole {
        /// The role's ARN; `None` until the profile or variable that holds it is known.
        role: Option<String>,
        detail: String,
        /// STS answered with a refusal (else it was not reached, or did not answer in time).
        refused: bool,
        /// AssumeRoleWithWebIdentity (IRSA, a CI's OIDC token), not AssumeRole.
        web_identity: bool,
    },
    #[error("cannot start the AWS client: {0}")]
    Runtime(String),
    /// `AWS_CA_BUNDLE` or the profile's `ca_bundle` names no usable bundle.
    #[error(transparent)]
    CaBundle(#[from] crate::https::BundleError),
    /// The environment or the files choose no usable source (see `credentials::plan`).
    #[error(transparent)]
    Choice(#[from] crate::credentials::ChoiceError),
}

impl TokenError {
    /// A failure because the server's certificate was not trusted, with what fixes it
    /// ([`crate::https::unknown_issuer_hint`]). Inside a credential provider (SSO, a web
    /// identity) it is no missing credentials: the provider's endpoint was not trusted.
    fn with_tls_hint(mut self, bundle: Option<&crate::https::CaBundle>) -> TokenError {
        if let TokenError::NoCredentials { detail, .. } = &self
            && let Some(hint) = crate::https::unknown_issuer_hint(detail, bundle)
        {
            return TokenError::Network {
                endpoint: "the AWS credential provider's endpoint (STS or SSO)".into(),
                detail: format!("invalid peer certificate: UnknownIssuer; {hint}"),
            };
        }
        if let TokenError::Network { detail, .. } | TokenError::AssumeRole { detail, .. } =
            &mut self
            && let Some(hint) = crate::https::unknown_issuer_hint(detail, bundle)
        {
            *detail = format!("{detail}; {hint}");
        }
        self
    }
}

fn role_name(role: &Option<String>) -> String {
    role.as_ref()
        .map_or_else(|| "the profile's role".to_string(), |r| format!("role {r}"))
}

fn assume_fix(refused: bool, web_identity: bool) -> &'static str {
    if refused && web_identity {
        "check that the role's trust policy allows sts:AssumeRoleWithWebIdentity for the token's issuer, audience and subject"
    } else if refused {
        "check the role's trust policy and that the source credentials may call sts:AssumeRole on it"
    } else {
        "check the network or proxy (HTTPS_PROXY) between here and STS, and AWS_ENDPOINT_URL_STS"
    }
}

/// Service error codes that mean "these credentials may not do this", or "these are not
/// credentials": the identity is the problem, not the registry or the network.
const REFUSED_IDENTITY_CODES: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredTokenException",
    "ExpiredToken",
];

impl TokenError {
    /// No AWS credentials were found, or the service refused the ones found. ECR Public serves
    /// public images anonymously, so for it this is no reason to fail a pull.
    pub fn identity_refused(&self) -> bool {
        match self {
            TokenError::NoCredentials { .. } | TokenError::SsoLogin { .. } => true,
            TokenError::AssumeRole { refused, .. } => *refused,
            TokenError::Service { code, .. } => REFUSED_IDENTITY_CODES.contains(&code.as_str()),
            _ => false,
        }
    }
}

/// ` --profile NAME` for a command line the user can paste (quoted when the shell needs it).
fn login_profile(profile: &Option<String>) -> String {
    let Some(name) = profile else {
        return String::new();
    };
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@+=,/".contains(&b));
    if plain {
        format!(" --profile {name}")
    } else {
        format!(" --profile '{}'", name.replace('\'', "'\\''"))
    }
}

/// How long a failed `get`'s line may be: clients show it on one terminal line, and the
/// SDK's chain (600-700 characters) is for the log and `doctor`.
pub const MAX_LINE: usize = 240;

/// `no AWS credentials found …`: the cause, the sources the SDK tried (its chain shortened),
/// the fix, within [`MAX_LINE`]. The whole chain is logged where it is met ([`classify`]).
fn no_credentials_line(profile: &Option<String>, detail: &str) -> String {
    let head = format!("no AWS credentials found{}: ", profile_hint(profile));
    let fix = credentials_fix(profile);
    let room = MAX_LINE.saturating_sub(head.chars().count() + fix.chars().count() + 2);
    let tried = clip(&tried_sources(detail), room.max(40));
    format!("{head}{tried}; {fix}")
}

/// The SDK's providers as the chain's error names them, and as a person would.
const PROVIDERS: [(&str, &str); 5] = [
    ("Environment:", "environment"),
    ("Profile:", "profile"),
    ("WebIdentityToken:", "web identity"),
    ("EcsContainer:", "container"),
    ("Ec2InstanceMetadata:", "instance metadata"),
];

/// What the SDK says when a provider has nothing to offer, which says nothing about why.
const NOT_ENABLED: &str = "the credential provider was not enabled";

/// The gist of the SDK's error: for its default chain, the profile's own reason if it has one
/// (`profile `prod` was not defined`), else the providers it tried; else its text.
fn tried_sources(detail: &str) -> String {
    let Some((_, attempted)) = detail.split_once("Attempted:") else {
        return gist(detail).to_string();
    };
    let mut found: Vec<(usize, &str, &str)> = PROVIDERS
        .iter()
        .filter_map(|(label, name)| Some((attempted.find(label)?, *label, *name)))
        .collect();
    found.sort();
    let profile_reason = found.iter().enumerate().find_map(|(i, (at, label, _))| {
        if *label != "Profile:" {
            return None;
        }
        let end = found.get(i + 1).map_or(attempted.len(), |next| next.0);
        let reason = attempted[at + label.len()..end].trim();
        let reason = reason
            .strip_prefix(NOT_ENABLED)?
            .trim_start_matches(':')
            .trim();
        (!reason.is_empty()).then(|| reason.to_string())
    });
    // A profile's own reason is the cause; the other providers had nothing to say.
    if let Some(reason) = profile_reason {
        return reason;
    }
    let names: Vec<&str> = found.iter().map(|f| f.2).collect();
    format!("the SDK tried {}", names.join(", "))
}

/// The SDK's wrappers that say only that something failed, outermost first as they nest.
const GENERIC: [&str; 9] = [
    "an error occurred while loading credentials: ",
    "the credentials provider was not properly configured: ",
    "the credential provider was not enabled: ",
    "ProfileFile provider could not be built: ",
    "Error retrieving credentials: ",
    "dispatch failure: ",
    "io error: ",
    "client error (Connect): ",
    "tcp connect error: ",
];

/// An SDK error's text without the wrappers that say nothing of the cause, so that a clipped
/// line keeps the cause (`failed to load IMDS session token: …`, `Connection refused`).
fn gist(detail: &str) -> &str {
    let mut rest = detail;
    while let Some(inner) = GENERIC.iter().find_map(|g| rest.strip_prefix(g)) {
        rest = inner;
    }
    rest
}

/// `s` cut to `max` characters, with `…` where it was cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let kept: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// What a user with no usable credentials does next, and where the whole story is.
fn credentials_fix(profile: &Option<String>) -> String {
    let explain = "`docker-credential-ecr doctor HOST` says more";
    match profile {
        Some(_) => format!(
            "give it credentials (`aws configure{}`); {explain}",
            login_profile(profile)
        ),
        None => format!(
            "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure`; {explain}"
        ),
    }
}

fn profile_hint(profile: &Option<String>) -> String {
    profile
        .as_ref()
        .map(|p| format!(" for profile {p:?}"))
        .unwrap_or_default()
}

/// Anything that can produce a token for a resolved host: the SDK in production, fakes in tests.
pub trait TokenSource {
    fn fetch(&self, resolved: &Resolved) -> Result<Token, TokenError>;

    /// The identity this source brings beyond what the environment and config select (the
    /// kubelet's service-account role), as a non-secret cache-key line. Tokens fetched with
    /// another identity must never be served from the same cache entry.
    fn identity(&self) -> Option<String> {
        None
    }
}

/// GetAuthorizationToken through the AWS SDK.
#[derive(Clone)]
pub struct AwsTokenSource {
    /// The request's deadline: a fetch ends, one way or another, before it.
    pub deadline: Deadline,
    /// The request's line to the watchdog, told each step of a fetch.
    pub watchdog: crate::watchdog::Handle,
    /// Replaces the SDK's default credential chain (a config `role_arn` still applies on top).
    pub credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    /// What resolving those credentials is, as a timeout names it (`assuming role … through
    /// AWS STS`); the default chain's source is read from the profile instead.
    pub credentials_doing: Option<String>,
}

impl AwsTokenSource {
    /// The source a request fetches with: within its deadline, telling its watchdog. The
    /// profile it uses is the resolved host's ([`Resolved::named_profile`]).
    pub fn new(request: &crate::request::Request) -> AwsTokenSource {
        AwsTokenSource {
            deadline: request.deadline,
            watchdog: request.watchdog.clone(),
            credentials: None,
            credentials_doing: None,
        }
    }

    /// `provider` in place of the default chain; `doing` says what it does, for a timeout.
    pub fn with_credentials(
        mut self,
        provider: aws_credential_types::provider::SharedCredentialsProvider,
        doing: String,
    ) -> AwsTokenSource {
        self.credentials = Some(provider);
        self.credentials_doing = Some(doing);
        self
    }
}

impl TokenSource for AwsTokenSource {
    fn fetch(&self, resolved: &Resolved) -> Result<Token, TokenError> {
        let profile = resolved.named_profile().map(str::to_string);
        let progress = Progress::new(
            resolved,
            self.credentials_doing.as_deref(),
            self.watchdog.clone(),
        );
        progress.enter(Step::Configuration);
        // The SDK's own timeouts bound each phase; this one bounds the whole, loading the
        // profile files and credential resolution included, whatever a provider does. Both
        // end before the deadline, so that this precise error is answered, not the watchdog's.
        // The fetch runs on a thread of its own, so it needs its own copies.
        let (source, owned, tracked) = (self.clone(), resolved.clone(), progress.clone());
        let fetch = move || async move { source.fetch_async(&owned, &tracked).await };
        crate::watchdog::run_bounded(self.deadline.work_left(), &self.watchdog, fetch)
            .map_err(|e| TokenError::Runtime(e.to_string()))?
            .unwrap_or_else(|| {
                Err(TokenError::Timeout {
                    doing: progress.doing(),
                    after: self.deadline.limit(),
                })
            })
            .map_err(|e| match e {
                TokenError::NoCredentials { detail, .. } => {
                    TokenError::NoCredentials { profile, detail }
                }
                TokenError::SsoLogin { .. } => TokenError::SsoLogin { profile },
                // Whichever timer ended it, the step under way is the one to blame.
                TokenError::Timeout { after, .. } => TokenError::Timeout {
                    doing: progress.doing(),
                    after,
                },
                other => with_profile_role(other, &resolved.profiles),
            })
            .map_err(|e| e.with_tls_hint(resolved.ca_bundle.as_ref()))
    }
}

/// A step of a fetch, for the timeout that may end it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Loading the SDK's configuration (the AWS files).
    Configuration,
    /// The credential chain: a `credential_process`, SSO, a profile's role, a web identity.
    Credentials,
    /// The config file's `role_arn`, assumed on top of those credentials.
    ConfigRole,
    /// GetAuthorizationToken.
    Endpoint,
}

/// What one fetch is doing, shared by the fetch's thread (which moves it on) and the caller
/// (which names it if the bound runs out): a value of the fetch, passed down to the
/// credentials provider it wraps ([`TracedCredentials`]). Each step is also said to the
/// watchdog (through the request's handle), its last resort.
#[derive(Debug, Clone)]
struct Progress {
    step: std::sync::Arc<std::sync::Mutex<Step>>,
    /// `None` for a configuration built outside a fetch (`doctor`'s), which reports nothing.
    phrases: Option<std::sync::Arc<Phrases>>,
    watchdog: crate::watchdog::Handle,
}

/// How each step is named, fixed before the fetch starts: naming the credential source reads
/// the AWS files, which the fetch's thread may be blocked on.
#[derive(Debug)]
struct Phrases {
    credentials: String,
    config_role: Option<String>,
    endpoint: String,
}

impl Progress {
    /// The phrases for a fetch of `target`; `credentials` names a provider that replaces the
    /// default chain.
    fn new(
        resolved: &Resolved,
        credentials: Option<&str>,
        watchdog: crate::watchdog::Handle,
    ) -> Progress {
        let target = &resolved.target;
        let phrases = Phrases {
            credentials: credentials.map_or_else(
                || credentials_doing(resolved, &crate::env::ProcessEnv),
                str::to_string,
            ),
            config_role: target
                .settings
                .role
                .as_ref()
                .map(|r| format!("assuming role {} through AWS STS", r.arn)),
            endpoint: format!("reaching {}", endpoint_name(resolved)),
        };
        Progress {
            phrases: Some(std::sync::Arc::new(phrases)),
            watchdog,
            ..Progress::untracked()
        }
    }

    fn untracked() -> Progress {
        Progress {
            step: std::sync::Arc::new(std::sync::Mutex::new(Step::Configuration)),
            phrases: None,
            watchdog: crate::watchdog::Handle::default(),
        }
    }

    /// Moves to `step`; returns the step it left.
    fn enter(&self, step: Step) -> Step {
        let left = match self.step.lock() {
            Ok(mut current) => std::mem::replace(&mut *current, step),
            Err(_) => step,
        };
        if self.phrases.is_some() {
            self.watchdog.doing(self.phrase(step));
        }
        left
    }

    fn doing(&self) -> String {
        let step = self.step.lock().map_or(Step::Endpoint, |s| *s);
        self.phrase(step)
    }

    fn phrase(&self, step: Step) -> String {
        let Some(p) = &self.phrases else {
            return String::new();
        };
        match step {
            Step::Configuration => "reading the AWS configuration".into(),
            Step::Credentials => p.credentials.clone(),
            Step::ConfigRole => p
                .config_role
                .clone()
                .unwrap_or_else(|| p.credentials.clone()),
            Step::Endpoint => p.endpoint.clone(),
        }
    }
}

/// The credential source the SDK will wait on, as a timeout names it: the first source of the
/// chain a fetch builds (`Resolved::plan`, the AWS CLI's order) that would answer, in words;
/// generic where that source is keys, which never keep a request waiting. What a step waits on
/// (the role of a web identity, a container endpoint, the metadata service) is read from `env`,
/// the process's at a fetch: the environment the SDK's providers themselves read.
fn credentials_doing(resolved: &Resolved, env: &dyn crate::env::Env) -> String {
    let generic = || "resolving AWS credentials".to_string();
    let profiles = &resolved.profiles;
    let Ok(steps) = &resolved.plan else {
        return generic();
    };
    for step in steps {
        if let Some(doing) = step_doing(step, profiles, env) {
            return doing;
        }
    }
    generic()
}

/// What a step of the chain waits on, or `None` when it would pass to the next.
fn step_doing(
    step: &crate::credentials::Step,
    profiles: &crate::profiles::Profiles,
    env: &dyn crate::env::Env,
) -> Option<String> {
    use crate::credentials::Step;
    match step {
        Step::Environment | Step::CredentialsFileKeys(_) => {
            Some("resolving AWS credentials".into())
        }
        Step::WebIdentityFromEnvironment => Some(format!(
            "assuming role {} with a web identity token through AWS STS",
            env.var("AWS_ROLE_ARN").unwrap_or_default()
        )),
        Step::RoleOverProcess { hops, .. } => hops.first().map(|hop| {
            format!(
                "assuming role {} of profile {:?} through AWS STS",
                hop.role_arn,
                profiles.selected()
            )
        }),
        Step::Profile(name) => profile_doing(name, profiles),
        Step::Container => (env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
            || env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some())
        .then(|| "getting credentials from the container credentials endpoint".into()),
        Step::InstanceMetadata => (!crate::identity::instance_metadata_disabled(env))
            .then(|| "getting credentials from the EC2 instance metadata service".into()),
    }
}

/// What profile `name`'s own source waits on: its role's STS, its SSO portal or its
/// `credential_process`; `None` when it has none of them.
fn profile_doing(name: &str, profiles: &crate::profiles::Profiles) -> Option<String> {
    let setting = |key: &str| {
        profiles
            .profile_setting(name, key)
            .filter(|v| !v.is_empty())
    };
    if let Some(role) = setting("role_arn") {
        let how = if setting("web_identity_token_file").is_some() {
            " with a web identity token"
        } else {
            ""
        };
        Some(format!(
            "assuming role {role} of profile {name:?}{how} through AWS STS"
        ))
    } else if setting("sso_session").is_some() || setting("sso_start_url").is_some() {
        Some(format!(
            "getting credentials from AWS SSO (IAM Identity Center) for profile {name:?}"
        ))
    } else {
        setting("credential_process")
            .map(|_| format!("running the credential_process of profile {name:?}"))
    }
}

/// A credentials provider that says, while it runs, that credentials are being resolved, and
/// once it has them goes back to the step it interrupted (the SDK resolves them lazily, from inside
/// the call to the endpoint).
#[derive(Debug)]
struct TracedCredentials {
    inner: aws_credential_types::provider::SharedCredentialsProvider,
    progress: Progress,
    step: Step,
}

impl aws_credential_types::provider::ProvideCredentials for TracedCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(async move {
            let left = self.progress.enter(self.step);
            let out = self.inner.provide_credentials().await;
            // A failure ends the call, and a provider's own timeout (credential_process has
            // one) comes back as one: the step stays the one to blame.
            if out.is_ok() {
                self.progress.enter(left);
            }
            out
        })
    }
}

/// `config` with its credentials provider traced as `step`.
fn traced(config: SdkConfig, progress: &Progress, step: Step) -> SdkConfig {
    let Some(inner) = config.credentials_provider() else {
        return config;
    };
    let provider = TracedCredentials {
        inner,
        progress: progress.clone(),
        step,
    };
    config
        .into_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build()
}

/// Names the role of a failed assumption that the SDK's error leaves unnamed: for a web
/// identity, `AWS_ROLE_ARN` when set (from the process environment, which the SDK reads);
/// else the selected profile's `role_arn`, from the request's parse of the files.
pub fn with_profile_role(error: TokenError, profiles: &Profiles) -> TokenError {
    use crate::env::{Env, ProcessEnv};
    let TokenError::AssumeRole {
        role: None,
        detail,
        refused,
        web_identity,
    } = error
    else {
        return error;
    };
    let from_env = web_identity
        .then(|| ProcessEnv.var("AWS_ROLE_ARN"))
        .flatten();
    let role = from_env.or_else(|| profiles.get("role_arn").map(str::to_string));
    TokenError::AssumeRole {
        role,
        detail,
        refused,
        web_identity,
    }
}

impl AwsTokenSource {
    async fn fetch_async(
        &self,
        resolved: &Resolved,
        progress: &Progress,
    ) -> Result<Token, TokenError> {
        let config = self.traced_sdk_config(resolved, progress).await?;
        let target = &resolved.target;
        progress.enter(Step::Endpoint);
        // The one rule (see `endpoint`): an explicit URL and no variant, else the variant.
        let (url, variant) = crate::endpoint::client_inputs(target, &resolved.api);
        let call = TokenCall {
            config: &config,
            url,
            variant,
            reply_time: ReplyTime::default(),
            endpoint: endpoint_name(resolved),
            timeout: self.deadline.limit(),
            config_role: target.settings.role.as_ref().map(|r| r.arn.as_str()),
        };
        let reply = match &target.registry {
            Registry::Private(_) => call.ask_private().await?,
            Registry::Public => call.ask_public().await?,
        };
        call.token(reply, &target.host)
    }

    /// The SDK configuration a fetch for `resolved` uses (`doctor` resolves its credentials).
    pub async fn sdk_config(&self, resolved: &Resolved) -> Result<SdkConfig, TokenError> {
        self.traced_sdk_config(resolved, &Progress::untracked())
            .await
    }

    /// [`Self::sdk_config`], its credential steps reported to `progress`.
    async fn traced_sdk_config(
        &self,
        resolved: &Resolved,
        progress: &Progress,
    ) -> Result<SdkConfig, TokenError> {
        let target = &resolved.target;
        let region = Region::new(target.api_region().to_string());
        let budget = self.deadline.work_left();
        // Three attempts: each gets at least half the budget, so one retry can still fit.
        let timeouts = crate::https::timeouts(budget)
            .operation_attempt_timeout(budget.min(Duration::from_secs(5)).max(budget / 2))
            .build();
        let settings = &target.settings;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(crate::https::client(resolved.ca_bundle.as_ref())?)
            .region(region.clone())
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(3));
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        let loaded = match &self.credentials {
            Some(provider) => loader.credentials_provider(provider.clone()).load().await,
            None => {
                let steps = resolved.plan.clone()?;
                let base = loader.no_credentials().load().await;
                let chain = crate::credentials::chain(&base, &steps).await;
                base.into_builder().credentials_provider(chain).build()
            }
        };
        let base = traced(loaded, progress, Step::Credentials);
        let Some(role) = &settings.role else {
            return Ok(base);
        };
        let mut assume = aws_config::sts::AssumeRoleProvider::builder(&role.arn)
            .configure(&base)
            .region(region)
            .session_name(
                role.session_name
                    .clone()
                    .unwrap_or_else(|| crate::credentials::DEFAULT_SESSION_NAME.into()),
            );
        if let Some(id) = &role.external_id {
            assume = assume.external_id(id);
        }
        let provider = assume.build().await;
        let assumed = base
            .into_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build();
        Ok(traced(assumed, progress, Step::ConfigRole))
    }
}

/// One GetAuthorizationToken call, to ECR or ECR Public: the two SDKs differ in types only, so
/// what the call needs and how a failure is reported are kept here, once.
struct TokenCall<'a> {
    config: &'a SdkConfig,
    url: Option<String>,
    variant: crate::endpoint::Variant,
    reply_time: ReplyTime,
    endpoint: String,
    timeout: Duration,
    config_role: Option<&'a str>,
}

/// A reply's fields before they are checked; ECR Public has no proxy endpoint.
struct RawReply {
    /// Moved out of the SDK's reply, not copied: zeroised when dropped.
    token_b64: Option<Secret>,
    proxy_endpoint: Option<String>,
    expires_at: Option<aws_smithy_types::DateTime>,
}

/// ECR and ECR Public are separate SDK crates whose clients have the same shape but share no
/// trait: one macro configures either and sends GetAuthorizationToken, so the two calls
/// cannot drift apart.
macro_rules! get_authorization_token {
    ($call:expr, $sdk:ident) => {{
        let call = $call;
        let mut builder = $sdk::config::Builder::from(call.config);
        builder
            .set_endpoint_url(call.url.clone())
            .set_use_fips(Some(call.variant.fips))
            .set_use_dual_stack(Some(call.variant.dual_stack));
        let conf = builder.interceptor(call.reply_time.clone()).build();
        $sdk::Client::from_conf(conf)
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| {
                let status = e.raw_response().map(|r| r.status().as_u16());
                call.failure(&e, e.code(), e.message(), status)
            })
    }};
}

impl TokenCall<'_> {
    async fn ask_private(&self) -> Result<RawReply, TokenError> {
        let mut out = get_authorization_token!(self, aws_sdk_ecr)?;
        let data = (out.authorization_data.as_mut())
            .and_then(|data| data.first_mut())
            .ok_or_else(|| bad(&self.endpoint, "no authorization data in the response"))?;
        Ok(RawReply {
            token_b64: data.authorization_token.take().map(Secret::new),
            proxy_endpoint: data.proxy_endpoint().map(str::to_owned),
            expires_at: data.expires_at().copied(),
        })
    }

    async fn ask_public(&self) -> Result<RawReply, TokenError> {
        let mut out = get_authorization_token!(self, aws_sdk_ecrpublic)?;
        let data = (out.authorization_data.as_mut())
            .ok_or_else(|| bad(&self.endpoint, "no authorization data in the response"))?;
        Ok(RawReply {
            token_b64: data.authorization_token.take().map(Secret::new),
            proxy_endpoint: None,
            expires_at: data.expires_at().copied(),
        })
    }

    fn failure(
        &self,
        e: &(dyn StdError + 'static),
        code: Option<&str>,
        message: Option<&str>,
        status: Option<u16>,
    ) -> TokenError {
        classify(
            e,
            code,
            message,
            status,
            &self.endpoint,
            self.timeout,
            self.config_role,
        )
    }

    /// The token a reply carries, refused (naming the endpoint) unless it is whole and still
    /// valid; a registry without a proxy endpoint is reached at its own host.
    fn token(&self, reply: RawReply, host: &str) -> Result<Token, TokenError> {
        let endpoint = &self.endpoint;
        let token_b64 = reply
            .token_b64
            .ok_or_else(|| bad(endpoint, "the token is missing"))?;
        let (username, password) =
            decode_token(token_b64.expose()).map_err(|d| bad(endpoint, d))?;
        let expires_at = match reply.expires_at.map(|t| t.to_millis()) {
            Some(Ok(ms)) if ms > 0 => ms,
            Some(_) => return Err(bad(endpoint, "its expiry time is out of range")),
            None => return Err(bad(endpoint, "it has no expiry time")),
        };
        let validity = self
            .reply_time
            .validity(expires_at)
            .ok_or_else(|| bad(endpoint, "it has already expired"))?;
        Ok(Token {
            proxy_endpoint: reply
                .proxy_endpoint
                .unwrap_or_else(|| format!("https://{host}")),
            username,
            password,
            validity,
        })
    }
}

/// When the reply arrived, on both clocks: the local one, and the server's (its HTTP `Date`
/// header). A token's lifetime is `expiresAt` less the server's time, both on the server's clock,
/// so an error in either clock does not move it; it is then counted on the local clock from the
/// arrival. Retries overwrite it: the last reply is the one whose token is used.
#[derive(Debug, Clone, Default)]
struct ReplyTime(std::sync::Arc<std::sync::Mutex<Option<Arrival>>>);

/// How far a reply's `Date` may be from our clock and still count as agreeing with it: its
/// one-second resolution and a slow trip.
const DATE_AGREEMENT_MS: u64 = 2_000;

/// The local time a reply arrived (Unix ms) and the server's time in its `Date` header, if any.
type Arrival = (u64, Option<i64>);

impl ReplyTime {
    /// The token's validity, or `None` when it had expired when it was issued. Without a
    /// `Date` header the server's time is taken to be the local time of the reply; a lifetime
    /// longer than ECR issues is cut to ECR's, so that a wrong server clock cannot stretch it.
    fn validity(&self, expires_at_ms: i64) -> Option<Validity> {
        let seen = self.0.lock().ok().and_then(|g| *g);
        let (local, server) = seen.unwrap_or((crate::clock::now_ms(), None));
        // `Date` has whole seconds. A server clock that agrees with ours to within that (and
        // the trip) tells nothing finer than our own millisecond clock does: use ours. Any
        // other is a skew to correct, taking the end of the second it names, which errs
        // towards a shorter lifetime, never a longer one.
        let server = match server {
            Some(date) if (local as i64).abs_diff(date) > DATE_AGREEMENT_MS => date + 999,
            _ => local as i64,
        };
        let lifetime = expires_at_ms.checked_sub(server).filter(|l| *l > 0)?;
        Some(Validity {
            fetched_at: local,
            lifetime_ms: (lifetime as u64).min(authorization::MAX_TOKEN_LIFETIME_MS),
        })
    }
}

impl aws_sdk_ecr::config::Intercept for ReplyTime {
    fn name(&self) -> &'static str {
        "ReplyTime"
    }

    fn read_before_deserialization(
        &self,
        context: &aws_sdk_ecr::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _: &aws_sdk_ecr::config::RuntimeComponents,
        _: &mut aws_sdk_ecr::config::ConfigBag,
    ) -> Result<(), Box<dyn StdError + Send + Sync>> {
        let server = context
            .response()
            .headers()
            .get("date")
            .and_then(|d| {
                aws_smithy_types::DateTime::from_str(
                    d.trim(),
                    aws_smithy_types::date_time::Format::HttpDate,
                )
                .ok()
            })
            .and_then(|t| t.to_millis().ok());
        if let Ok(mut seen) = self.0.lock() {
            *seen = Some((crate::clock::now_ms(), server));
        }
        Ok(())
    }
}

fn endpoint_name(resolved: &Resolved) -> String {
    crate::endpoint::display_name(&resolved.target, &resolved.api)
}

fn bad(endpoint: &str, detail: &str) -> TokenError {
    TokenError::BadToken {
        endpoint: endpoint.to_string(),
        detail: detail.to_string(),
    }
}

/// ECR tokens are base64 of `AWS:<password>`.
pub fn decode_token(b64: &str) -> Result<(String, Secret), &'static str> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| "it is not base64")?;
    let text = String::from_utf8(bytes).map_err(|e| {
        zeroize::Zeroize::zeroize(&mut e.into_bytes());
        "it is not UTF-8 text"
    })?;
    let text = Secret::new(text);
    match text.expose().split_once(':') {
        Some((user, pw)) if user == USERNAME && !pw.is_empty() => {
            Ok((user.to_string(), Secret::new(pw.to_string())))
        }
        _ => Err("it does not have the form AWS:<password>"),
    }
}

/// Turns an SDK failure into the one-line error a user can act on. Credential problems, service
/// errors, timeouts and connection failures are told apart by walking the error's sources.
fn classify(
    err: &(dyn StdError + 'static),
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
    endpoint: &str,
    timeout: Duration,
    config_role: Option<&str>,
) -> TokenError {
    let chain = error_chain(err, Repeats::Adjacent);
    let has = |needle: &str| chain.iter().any(|s| s.contains(needle));
    if let Some(refused) = endpoint_refusal(err) {
        return refused;
    }
    if let Some(failed) = credentials_failure(err, config_role) {
        return failed;
    }
    if let Some(code) = code {
        return TokenError::Service {
            code: code.to_string(),
            message: one_line(message.unwrap_or("(no message)")),
        };
    }
    if has("timeout") || has("timed out") || has("Timeout") {
        return TokenError::Timeout {
            doing: format!("reaching {endpoint}"),
            after: timeout,
        };
    }
    if has("no credentials") || has("credentials provider") || has("identity") {
        return TokenError::NoCredentials {
            profile: None,
            detail: one_line(chain.last().map_or("", String::as_str)),
        };
    }
    dispatch_or_reply_failure(&chain, status, endpoint)
}

/// The credentials error in `err`'s sources, if the SDK failed there, as what it means: an
/// SSO login to renew, a role that could not be assumed, or no credentials at all.
fn credentials_failure(
    err: &(dyn StdError + 'static),
    config_role: Option<&str>,
) -> Option<TokenError> {
    let mut source: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(c) = e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
        {
            let detail = error_line(c, Repeats::Adjacent);
            if needs_sso_login(&detail) {
                return Some(TokenError::SsoLogin { profile: None });
            }
            if let Some(failed) = assume_role_failure(c, config_role) {
                return Some(failed);
            }
            // The line shows the gist; the whole chain is for whoever turns the log on.
            crate::debug!("the SDK's credential chain: {detail}");
            return Some(TokenError::NoCredentials {
                profile: None,
                detail,
            });
        }
        source = e.source();
    }
    None
}

/// Dispatch failures and unparseable replies: the most specific cause, as a bad reply when
/// the endpoint answered with a status, else as a network failure.
fn dispatch_or_reply_failure(chain: &[String], status: Option<u16>, endpoint: &str) -> TokenError {
    let detail = chain
        .iter()
        .skip(1)
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(": ");
    let detail = if detail.is_empty() {
        chain.join(": ")
    } else {
        detail
    };
    match status {
        Some(status) => TokenError::BadReply {
            endpoint: endpoint.to_string(),
            status,
            detail: one_line(&detail),
        },
        None => TokenError::Network {
            endpoint: endpoint.to_string(),
            detail: one_line(&detail),
        },
    }
}

/// A role assumption that failed inside a credentials error, from the STS AssumeRole (or
/// AssumeRoleWithWebIdentity) error in its chain: the innermost one, which is where the chain
/// of roles broke. The role is the config file's when it was the only one assumed (it is
/// assumed last, on top of the profile), else the profile's or the web identity's, which the
/// caller names ([`with_profile_role`]).
pub fn assume_role_failure(
    err: &(dyn StdError + 'static),
    config_role: Option<&str>,
) -> Option<TokenError> {
    use aws_sdk_sts::error::SdkError;
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;
    let mut hops = 0;
    // (refused, detail, web identity) of the innermost failure seen so far.
    let mut innermost = None;
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(sts) = e.downcast_ref::<SdkError<AssumeRoleError>>() {
            hops += 1;
            innermost = Some((sts_failure(sts), false));
        } else if let Some(sts) = e.downcast_ref::<SdkError<AssumeRoleWithWebIdentityError>>() {
            hops += 1;
            innermost = Some((sts_failure(sts), true));
        }
        source = e.source();
    }
    let ((refused, detail), web_identity) = innermost?;
    Some(TokenError::AssumeRole {
        role: config_role
            .filter(|_| hops == 1 && !web_identity)
            .map(str::to_string),
        detail,
        refused,
        web_identity,
    })
}

/// Whether STS answered with a refusal, and what it said (its code and message), or why it
/// was not reached.
fn sts_failure<E>(sts: &aws_sdk_sts::error::SdkError<E>) -> (bool, String)
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let refused = matches!(sts, aws_sdk_sts::error::SdkError::ServiceError(_));
    let detail = match (sts.code(), sts.message()) {
        (Some(code), message) => format!("{code}: {}", one_line(message.unwrap_or("(no message)"))),
        (None, _) => gist(&error_line(sts, Repeats::Adjacent)).to_string(),
    };
    (refused, detail)
}

/// Whether a credential failure is the SSO provider's "log in again". aws-config's SSO errors
/// are private types, so their texts are what can be matched: the token provider's
/// "the SSO token has expired and cannot be refreshed" and "failed to load the cached SSO
/// token", and the legacy provider's errors about the cached token file itself.
fn needs_sso_login(detail: &str) -> bool {
    detail.contains("the SSO token has expired")
        || detail.contains("failed to load the cached SSO token")
        || detail.contains("cached SSO token file")
        || detail.contains("/.aws/sso/cache/")
}

/// An endpoint-rule refusal anywhere in the chain (also behind a credentials error: the STS
/// call that assumes a role has endpoint rules of its own), as the setting to change.
fn endpoint_refusal(err: &(dyn StdError + 'static)) -> Option<TokenError> {
    let mut credentials = false;
    let mut source = Some(err);
    while let Some(e) = source {
        credentials |= e
            .downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some();
        if let Some(refusal) = e.downcast_ref::<aws_smithy_http::endpoint::ResolveEndpointError>() {
            let text = one_line(&refusal.to_string());
            let detail = text
                .strip_prefix("Invalid Configuration: ")
                .unwrap_or(&text)
                .to_string();
            return Some(TokenError::InvalidConfiguration {
                fix: endpoint_fix(&detail).to_string(),
                detail,
                credentials,
            });
        }
        source = e.source();
    }
    None
}

/// What to change for an endpoint-rule refusal, from the rule's message.
fn endpoint_fix(detail: &str) -> &'static str {
    let d = detail.to_ascii_lowercase();
    let fips = d.contains("fips");
    let dual_stack = d.contains("dualstack") || d.contains("dual-stack");
    if d.contains("custom endpoint") && fips {
        "unset AWS_USE_FIPS_ENDPOINT (use_fips_endpoint in the AWS config file) or the custom \
         endpoint (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, endpoint_url)"
    } else if d.contains("custom endpoint") && dual_stack {
        "unset AWS_USE_DUALSTACK_ENDPOINT (use_dualstack_endpoint in the AWS config file) or the \
         custom endpoint (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, endpoint_url)"
    } else if fips || dual_stack {
        "unset AWS_USE_FIPS_ENDPOINT and AWS_USE_DUALSTACK_ENDPOINT, or use a region whose \
         partition offers those endpoints"
    } else {
        "check the region, AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT and the endpoint URLs \
         (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, endpoint_url)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(local: u64, date: Option<i64>) -> ReplyTime {
        ReplyTime(std::sync::Arc::new(std::sync::Mutex::new(Some((
            local, date,
        )))))
    }

    #[test]
    fn lifetimes_are_measured_on_the_servers_clock() {
        let hour = 3_600_000i64;
        let local = 1_800_000_000_000u64;
        let l = local as i64;
        // Clocks that agree (to Date's second): our millisecond clock is used.
        let v = seen(local, Some(l - 400)).validity(l + 12 * hour).unwrap();
        assert_eq!((v.fetched_at, v.lifetime_ms), (local, 12 * hour as u64));
        // Server 13 h behind: its expiresAt is in our past, yet 12 h are left.
        let v = seen(local, Some(l - 13 * hour)).validity(l - hour).unwrap();
        assert_eq!(v.lifetime_ms, 12 * hour as u64 - 999);
        // Server 2 h ahead: not 14 h.
        let v = seen(local, Some(l + 2 * hour))
            .validity(l + 14 * hour)
            .unwrap();
        assert_eq!(v.lifetime_ms, 12 * hour as u64 - 999);
        // No Date: the local time of the reply.
        let v = seen(local, None).validity(l + hour).unwrap();
        assert_eq!(v.lifetime_ms, hour as u64);
        // Expired when issued; longer than ECR issues is cut to ECR's.
        assert!(seen(local, Some(l + 2 * hour)).validity(l + hour).is_none());
        let v = seen(local, None).validity(l + 24 * hour).unwrap();
        assert_eq!(v.lifetime_ms, authorization::MAX_TOKEN_LIFETIME_MS);
    }

    /// A token is stored as the `token` of a schema-v3 cache entry: these exact bytes, so that
    /// entries written by earlier builds keep hitting.
    #[test]
    fn a_token_serialises_as_the_v3_cache_entry_token() {
        let token = Token::for_test("pw", 1, 2);
        let v3 = r#"{"proxy_endpoint":"https://h","username":"AWS","password":"pw","fetched_at":1,"lifetime_ms":2}"#;
        assert_eq!(serde_json::to_string(&token).unwrap(), v3);
        let read: Token = serde_json::from_str(v3).unwrap();
        assert_eq!(
            (read.password.expose(), read.validity),
            ("pw", token.validity)
        );
    }

    #[test]
    fn decodes_aws_tokens_only() {
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let (user, pw) = decode_token(&enc("AWS:s3cr3t:with:colons")).unwrap();
        assert_eq!((user.as_str(), pw.expose()), ("AWS", "s3cr3t:with:colons"));
        assert_eq!(decode_token("%%%").unwrap_err(), "it is not base64");
        assert!(decode_token(&enc("user:pw")).is_err());
        assert!(decode_token(&enc("AWS:")).is_err());
        assert!(decode_token(&enc("nocolon")).is_err());
    }

    /// The SDK's own resolvers (ECR's, and STS's behind an assumed role) refuse FIPS or
    /// dual-stack with a custom endpoint; both refusals are told apart from network failures.
    /// Fails if the SDK moves to an aws-smithy-http whose error type differs from ours.
    #[test]
    fn endpoint_rule_refusals_are_invalid_configuration() {
        let ecr = {
            use aws_sdk_ecr::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
            let params = Params::builder()
                .region("us-east-1")
                .use_fips(true)
                .endpoint("http://127.0.0.1:1")
                .build()
                .unwrap();
            block_on(DefaultResolver::new().resolve_endpoint(&params)).unwrap_err()
        };
        let e = classify_alone(&*ecr);
        assert!(
            matches!(
                e,
                TokenError::InvalidConfiguration {
                    credentials: false,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "invalid AWS configuration: FIPS and custom endpoint are not supported; unset \
             AWS_USE_FIPS_ENDPOINT (use_fips_endpoint in the AWS config file) or the custom \
             endpoint (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, endpoint_url)"
        );
    }

    /// STS's refusal reaches us behind a credentials error: it is the credentials provider's
    /// configuration that is invalid.
    #[test]
    fn endpoint_rule_refusals_behind_credentials_name_the_provider() {
        let sts = {
            use aws_sdk_sts::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
            let params = Params::builder()
                .region("us-east-1")
                .use_dual_stack(true)
                .endpoint("http://127.0.0.1:1")
                .build()
                .unwrap();
            block_on(DefaultResolver::new().resolve_endpoint(&params)).unwrap_err()
        };
        let behind_credentials =
            aws_credential_types::provider::error::CredentialsError::provider_error(sts);
        let e = classify_alone(&behind_credentials);
        assert!(
            e.to_string().starts_with(
                "invalid AWS configuration for the credentials provider: Dualstack and custom \
                 endpoint are not supported; unset AWS_USE_DUALSTACK_ENDPOINT"
            ),
            "{e}"
        );
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// `classify` for an error with no service code or status, as an endpoint rule's is.
    fn classify_alone(e: &(dyn StdError + 'static)) -> TokenError {
        classify(
            e,
            None,
            None,
            None,
            "ecr.us-east-1",
            Duration::from_secs(1),
            None,
        )
    }

    /// A role assumption's failure, behind the credentials error the SDK wraps it in, is told
    /// apart from missing credentials: refused or unreached, and whose role.
    #[test]
    fn a_failed_role_assumption_is_not_missing_credentials() {
        use aws_credential_types::provider::error::CredentialsError;
        use aws_sdk_sts::error::SdkError;
        use aws_sdk_sts::operation::assume_role::AssumeRoleError;
        let unreached: SdkError<AssumeRoleError> = SdkError::timeout_error("connect timed out");
        let e = classify(
            &CredentialsError::provider_error(unreached),
            None,
            None,
            None,
            "ecr.us-east-1",
            Duration::from_secs(1),
            Some("arn:aws:iam::123456789012:role/r"),
        );
        assert!(
            matches!(&e, TokenError::AssumeRole { role: Some(r), refused: false, .. } if r.ends_with("role/r")),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with(
                "cannot assume role arn:aws:iam::123456789012:role/r through AWS STS: "
            )
        );
        assert!(!e.identity_refused());
        let refused = TokenError::AssumeRole {
            role: None,
            detail: "AccessDenied: no".into(),
            refused: true,
            web_identity: false,
        };
        assert!(refused.identity_refused());
        assert!(refused.to_string().starts_with(
            "cannot assume the profile's role through AWS STS: AccessDenied: no; check the role's trust policy"
        ));
    }

    /// The SDK's chain, as it reports it, becomes the providers tried and the profile's own
    /// reason, within the line's length; what it said of each provider goes to the log.
    #[test]
    fn no_credentials_is_a_short_line_naming_what_was_tried() {
        let chain = "the credential provider was not enabled: no credentials found in chain. Attempted: Environment: the credential provider was not enabled: environment variable not set Profile: the credential provider was not enabled WebIdentityToken: the credential provider was not enabled: $AWS_WEB_IDENTITY_TOKEN_FILE was not set EcsContainer: the credential provider was not enabled: ECS provider not configured Ec2InstanceMetadata: the credential provider was not enabled: IMDS disabled by AWS_EC2_METADATA_DISABLED env var set to `true`";
        let line = TokenError::NoCredentials {
            profile: None,
            detail: chain.into(),
        }
        .to_string();
        assert_eq!(
            line,
            "no AWS credentials found: the SDK tried environment, profile, web identity, container, instance metadata; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure`; `docker-credential-ecr doctor HOST` says more"
        );
        assert!(line.chars().count() <= MAX_LINE);
        let profile_chain = chain.replace(
            "Profile: the credential provider was not enabled WebIdentityToken",
            "Profile: the credential provider was not enabled: profile `prod` was not defined: could not find source profile prod referenced from the root profile WebIdentityToken",
        );
        let line = TokenError::NoCredentials {
            profile: Some("prod".into()),
            detail: profile_chain,
        }
        .to_string();
        assert!(
            line.starts_with("no AWS credentials found for profile \"prod\": profile `prod` was not defined: could not find source profile prod"),
            "{line}"
        );
        assert!(line.chars().count() <= MAX_LINE, "{line}");
        assert!(
            line.ends_with(
                "(`aws configure --profile prod`); `docker-credential-ecr doctor HOST` says more"
            ),
            "{line}"
        );
        let long = TokenError::NoCredentials {
            profile: None,
            detail: format!("failed to load IMDS session token: {}", "x".repeat(600)),
        }
        .to_string();
        assert!(long.chars().count() <= MAX_LINE, "{long}");
        // The SDK's generic wrappers go, so the cause survives the clipping.
        let imds = TokenError::NoCredentials {
            profile: None,
            detail: "an error occurred while loading credentials: failed to load IMDS session token: service error: request forbidden: IMDS is disabled or the caller has insufficient permissions.".into(),
        }
        .to_string();
        assert!(
            imds.starts_with("no AWS credentials found: failed to load IMDS session token: service error: request forbidden"),
            "{imds}"
        );
        assert_eq!(
            gist(
                "dispatch failure: io error: client error (Connect): tcp connect error: Connection refused (os error 111)"
            ),
            "Connection refused (os error 111)"
        );
        assert!(
            long.contains("failed to load IMDS session token: xx") && long.contains("…;"),
            "{long}"
        );
    }

    /// A private registry's host resolved in `env`, as a request resolves it.
    fn resolved_in(env: &dyn crate::env::Env) -> Resolved {
        let files = crate::resolve::AwsFiles::default();
        let config = crate::config::Config::default();
        let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        crate::resolve::resolve(host, &config, env, &files)
            .unwrap()
            .unwrap()
    }

    /// The fetch signs by the chain the request planned when it resolved the host (the one its
    /// cache key names), not by a second reading of the process's environment: keys without a
    /// secret in the request's environment are refused by the fetch as by the key.
    #[test]
    fn a_fetch_signs_by_the_plan_its_host_was_resolved_with() {
        use crate::env::MapEnv;
        let env = MapEnv::new(&[
            ("HOME", "/nonexistent"),
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        ]);
        let resolved = resolved_in(&env);
        assert!(
            resolved
                .key
                .description
                .contains("source=refused (partial-keys)"),
            "{}",
            resolved.key.description
        );
        let request =
            crate::request::Request::unwatched(&env, Deadline::after(Duration::from_secs(5)));
        let refused = block_on(AwsTokenSource::new(&request).sdk_config(&resolved)).unwrap_err();
        assert!(
            matches!(
                refused,
                TokenError::Choice(crate::credentials::ChoiceError::PartialKeys { .. })
            ),
            "{refused}"
        );
    }

    /// What a timeout blames while credentials are resolved: the source the SDK waits on.
    #[test]
    fn a_timeout_names_the_credential_source() {
        use crate::env::MapEnv;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            "[profile proc]\ncredential_process = slow\n\
             [profile sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = r\n\
             [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\
             [profile role]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = proc\n",
        )
        .unwrap();
        let config = config.to_str().unwrap();
        let doing = |vars: &[(&str, &str)]| {
            let mut all = vec![("AWS_CONFIG_FILE", config), ("HOME", "/nonexistent")];
            all.extend_from_slice(vars);
            let env = MapEnv::new(&all);
            credentials_doing(&resolved_in(&env), &env)
        };
        assert_eq!(
            doing(&[("AWS_PROFILE", "proc")]),
            "running the credential_process of profile \"proc\""
        );
        assert_eq!(
            doing(&[("AWS_PROFILE", "sso")]),
            "getting credentials from AWS SSO (IAM Identity Center) for profile \"sso\""
        );
        assert_eq!(
            doing(&[("AWS_PROFILE", "role")]),
            "assuming role arn:aws:iam::123456789012:role/r of profile \"role\" through AWS STS"
        );
        assert_eq!(
            doing(&[
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
                ("AWS_ROLE_ARN", "arn:aws:iam::1:role/w")
            ]),
            "assuming role arn:aws:iam::1:role/w with a web identity token through AWS STS"
        );
        assert_eq!(
            doing(&[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/c")]),
            "getting credentials from the container credentials endpoint"
        );
        assert_eq!(
            doing(&[]),
            "getting credentials from the EC2 instance metadata service"
        );
        assert_eq!(
            doing(&[("AWS_EC2_METADATA_DISABLED", "true")]),
            "resolving AWS credentials"
        );
        // The chain's order decides, as a fetch's does: the environment's keys come before the
        // profile's role, and keys in the credentials file before its credential_process.
        assert_eq!(
            doing(&[
                ("AWS_PROFILE", "role"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret")
            ]),
            "resolving AWS credentials"
        );
        let credentials = dir.path().join("credentials");
        std::fs::write(
            &credentials,
            "[proc]\naws_access_key_id = AKIDFILE\naws_secret_access_key = secret\n",
        )
        .unwrap();
        assert_eq!(
            doing(&[
                ("AWS_PROFILE", "proc"),
                ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap())
            ]),
            "resolving AWS credentials"
        );
    }

    #[test]
    fn errors_read_as_one_actionable_line() {
        let e = TokenError::NoCredentials {
            profile: Some("dev".into()),
            detail: "the profile has no credentials".into(),
        };
        assert_eq!(
            e.to_string(),
            "no AWS credentials found for profile \"dev\": the profile has no credentials; give it credentials (`aws configure --profile dev`); `docker-credential-ecr doctor HOST` says more"
        );
        let e = TokenError::SsoLogin {
            profile: Some("dev".into()),
        };
        assert_eq!(
            e.to_string(),
            "the AWS SSO session for profile \"dev\" has expired or was never started: run `aws sso login --profile dev`"
        );
        let e = TokenError::SsoLogin { profile: None };
        assert!(e.to_string().ends_with("run `aws sso login`"), "{e}");
        let e = TokenError::SsoLogin {
            profile: Some("it's mine".into()),
        };
        assert!(
            e.to_string()
                .ends_with("run `aws sso login --profile 'it'\\''s mine'`"),
            "{e}"
        );
        let e = TokenError::Timeout {
            doing: "reaching ecr.us-east-1".into(),
            after: Duration::from_secs(10),
        };
        assert_eq!(
            e.to_string(),
            "timed out reaching ecr.us-east-1 after 10s (set DOCKER_CREDENTIAL_ECR_TIMEOUT to wait longer)"
        );
    }
}
