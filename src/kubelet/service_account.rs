//! The kubelet's service-account mode: the kubelet sends the pod's service-account token and the
//! service account's annotations; the token is exchanged for the IAM role that the annotation
//! [`ROLE_ANNOTATION`] names (STS AssumeRoleWithWebIdentity), and that role asks ECR for the
//! registry token.
//!
//! Cache key: the role ARN plus a hash of who the token was issued to (issuer, subject, audience
//! and service-account UID, read from the token's payload). The kubelet mints a new, pod-bound
//! token for every pod, so keying on the token itself would miss every time; keying on the
//! service account keeps hits while tokens rotate, and two service accounts (or two clusters)
//! never share an entry. The claims are read without verifying the signature: STS verifies it on
//! every miss, and the plugin's only caller is the kubelet, which minted the token. A token whose
//! payload cannot be read is keyed on a hash of the whole token instead.

use crate::authorization::Token;
use crate::resolve::Resolved;
use crate::secret::Secret;
use crate::token::{AwsTokenSource, TokenError, TokenSource};
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// The service-account annotation naming the IAM role to pull images as.
pub const ROLE_ANNOTATION: &str = "eks.amazonaws.com/ecr-role-arn";

use crate::credentials::DEFAULT_SESSION_NAME;

/// JWT segments are unpadded base64url; accept padded ones too.
const JWT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ServiceAccountError {
    #[error(
        "the request carries a service-account token but no {ROLE_ANNOTATION} annotation: annotate the pod's service account with the IAM role to pull as, and list {ROLE_ANNOTATION} in tokenAttributes.requiredServiceAccountAnnotationKeys of the kubelet's CredentialProviderConfig"
    )]
    NoRole,
    #[error(
        "annotation {ROLE_ANNOTATION}: {0:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/name)"
    )]
    BadRole(String),
}

/// Who a service-account token was issued to, from its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Claims {
    issuer: String,
    /// `system:serviceaccount:<namespace>:<name>`
    subject: String,
    audience: Vec<String>,
    uid: Option<String>,
}

#[derive(Debug)]
pub struct ServiceAccount {
    role_arn: String,
    token: Secret,
    claims: Option<Claims>,
}

impl ServiceAccount {
    pub fn from_request(
        token: Secret,
        annotations: &BTreeMap<String, String>,
    ) -> Result<ServiceAccount, ServiceAccountError> {
        let role_arn = annotations
            .get(ROLE_ANNOTATION)
            .map(|a| a.trim())
            .filter(|a| !a.is_empty())
            .ok_or(ServiceAccountError::NoRole)?;
        if !crate::config::is_role_arn(role_arn) {
            return Err(ServiceAccountError::BadRole(
                role_arn.chars().take(200).collect(),
            ));
        }
        let claims = claims(token.expose());
        Ok(ServiceAccount {
            role_arn: role_arn.to_string(),
            token,
            claims,
        })
    }

    /// The cache-key line for this role and service account. Hashed: namespace and account
    /// names are nobody's secret, but the cache file has no need to spell them out.
    pub fn identity(&self) -> String {
        match &self.claims {
            Some(c) => {
                let who = [
                    c.issuer.as_str(),
                    c.subject.as_str(),
                    &c.audience.join(","),
                    c.uid.as_deref().unwrap_or(""),
                ]
                .join("\n");
                format!(
                    "kubelet.service_account role_arn={} subject.sha256={}",
                    self.role_arn,
                    short_hash(&who)
                )
            }
            None => format!(
                "kubelet.service_account role_arn={} token.sha256={}",
                self.role_arn,
                short_hash(self.token.expose())
            ),
        }
    }

    /// The STS session name, `<namespace>.<name>` of the service account, so that CloudTrail
    /// shows which workload pulled.
    pub fn session_name(&self) -> String {
        let name = self
            .claims
            .as_ref()
            .and_then(|c| c.subject.strip_prefix("system:serviceaccount:"))
            .map(|rest| rest.replacen(':', ".", 1))
            .filter(|n| {
                n.len() >= 2
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+=,.@-_".contains(&b))
            });
        let mut name = name.unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string());
        name.truncate(64);
        name
    }

    /// A token source that fetches as this service account's role, on top of `node`'s settings
    /// (timeout; a config-file `role_arn` is chained after it). STS is called on a cache miss
    /// only, inside the token fetch.
    pub fn token_source(
        self,
        node: AwsTokenSource,
        resolved: &crate::resolve::Resolved,
    ) -> ServiceAccountTokenSource {
        let (region, ca_bundle) = (resolved.region(), resolved.ca_bundle.clone());
        let identity = self.identity();
        let session_name = self.session_name();
        let doing = format!(
            "assuming role {} with the service account's token through AWS STS",
            self.role_arn
        );
        let provider = WebIdentity {
            role_arn: self.role_arn,
            session_name,
            token: self.token,
            region: region.to_string(),
            deadline: node.deadline,
            ca_bundle,
        };
        ServiceAccountTokenSource {
            inner: node.with_credentials(SharedCredentialsProvider::new(provider), doing),
            identity,
        }
    }
}

pub struct ServiceAccountTokenSource {
    inner: AwsTokenSource,
    identity: String,
}

impl TokenSource for ServiceAccountTokenSource {
    fn fetch(&self, resolved: &Resolved) -> Result<Token, TokenError> {
        self.inner.fetch(resolved)
    }

    fn identity(&self) -> Option<String> {
        Some(self.identity.clone())
    }
}

/// Credentials from STS AssumeRoleWithWebIdentity with a token held in memory (the SDK's own
/// provider reads the token from a file, and this one never touches the disk).
#[derive(Debug)]
struct WebIdentity {
    role_arn: String,
    session_name: String,
    token: Secret,
    region: String,
    deadline: crate::deadline::Deadline,
    /// The bundle the fetch trusts: STS is an AWS call like the others.
    ca_bundle: Option<crate::https::CaBundle>,
}

impl ProvideCredentials for WebIdentity {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}

impl WebIdentity {
    async fn assume(&self) -> provider::Result {
        let budget = self.deadline.work_left();
        let timeouts = crate::https::timeouts(budget).build();
        // AssumeRoleWithWebIdentity is unsigned: the token is the credential. The loader still
        // honours AWS_ENDPOINT_URL_STS and the shared config's endpoint settings.
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(
                crate::https::client(self.ca_bundle.as_ref())
                    .map_err(CredentialsError::invalid_configuration)?,
            )
            .region(Region::new(self.region.clone()))
            .no_credentials()
            .timeout_config(timeouts)
            .load()
            .await;
        let out = aws_sdk_sts::Client::new(&config)
            .assume_role_with_web_identity()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .web_identity_token(self.token.expose())
            .send()
            .await
            .map_err(|e| {
                let why = match (e.code(), e.message()) {
                    (Some(code), message) => {
                        format!("{code}: {}", message.unwrap_or("(no message)"))
                    }
                    _ => DisplayErrorContext(&e).to_string(),
                };
                CredentialsError::provider_error(format!(
                    "AssumeRoleWithWebIdentity as {}: {}",
                    self.role_arn,
                    crate::text::one_line(&why)
                ))
            })?;
        let creds = out.credentials.ok_or_else(|| {
            CredentialsError::unhandled("AssumeRoleWithWebIdentity returned no credentials")
        })?;
        let expiry = SystemTime::try_from(creds.expiration).map_err(|_| {
            CredentialsError::unhandled("AssumeRoleWithWebIdentity returned an unusable expiry")
        })?;
        Ok(Credentials::new(
            creds.access_key_id,
            creds.secret_access_key,
            Some(creds.session_token),
            Some(expiry),
            "WebIdentityToken",
        ))
    }
}

/// The issuer, subject, audience and service-account UID of a Kubernetes service-account JWT,
/// read without verification (see the module comment). `None` unless it has `iss` and `sub`.
fn claims(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    let bytes = JWT_BASE64.decode(payload).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let mut audience: Vec<String> = match v.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    audience.sort();
    Some(Claims {
        issuer: text("/iss").filter(|s| !s.is_empty())?,
        subject: text("/sub").filter(|s| !s.is_empty())?,
        audience,
        uid: text("/kubernetes.io/serviceaccount/uid"),
    })
}

/// The first 128 bits of the SHA-256 that the cache key uses (no CPU-feature probe, see there):
/// enough to tell tokens apart, without storing them.
fn short_hash(s: &str) -> String {
    crate::identity::sha256_hex(s)[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/puller";

    /// A service-account token shaped like the kubelet's (unsigned: nothing here verifies).
    fn jwt(sub: &str, pod: &str, exp: u64) -> String {
        let enc =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let header = serde_json::json!({"alg": "RS256", "kid": "k"});
        let payload = serde_json::json!({
            "aud": ["sts.amazonaws.com"],
            "exp": exp,
            "iat": exp - 3600,
            "iss": "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            "jti": format!("jti-{pod}"),
            "kubernetes.io": {
                "namespace": "team-a",
                "node": {"name": "ip-10-0-0-1", "uid": "n-1"},
                "pod": {"name": pod, "uid": format!("uid-{pod}")},
                "serviceaccount": {"name": "puller", "uid": "sa-uid-1"}
            },
            "nbf": exp - 3600,
            "sub": sub
        });
        format!("{}.{}.c2lnbmF0dXJl", enc(&header), enc(&payload))
    }

    fn annotations(role: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(ROLE_ANNOTATION.to_string(), role.to_string())])
    }

    fn account(token: &str, role: &str) -> ServiceAccount {
        ServiceAccount::from_request(Secret::new(token.into()), &annotations(role)).unwrap()
    }

    #[test]
    fn rotating_tokens_of_one_service_account_share_a_key() {
        let sub = "system:serviceaccount:team-a:puller";
        let a = account(&jwt(sub, "web-1", 2_000_000_000), ROLE);
        let b = account(&jwt(sub, "web-2", 2_000_003_600), ROLE);
        assert_eq!(a.identity(), b.identity());
        assert!(a.identity().starts_with(&format!(
            "kubelet.service_account role_arn={ROLE} subject.sha256="
        )));
    }

    #[test]
    fn service_accounts_and_roles_never_share_a_key() {
        let t = |sub: &str| jwt(sub, "p", 2_000_000_000);
        let base = account(&t("system:serviceaccount:team-a:puller"), ROLE).identity();
        let other_sa = account(&t("system:serviceaccount:team-b:puller"), ROLE).identity();
        let other_role = account(
            &t("system:serviceaccount:team-a:puller"),
            "arn:aws:iam::123456789012:role/other",
        )
        .identity();
        assert_ne!(base, other_sa);
        assert_ne!(base, other_role);
        // Opaque tokens: keyed on the token, so never on somebody else's entry.
        let opaque_a = account("not-a-jwt-1", ROLE).identity();
        let opaque_b = account("not-a-jwt-2", ROLE).identity();
        assert_ne!(opaque_a, opaque_b);
        assert!(opaque_a.contains(" token.sha256="));
    }

    #[test]
    fn the_token_never_appears_in_the_identity_or_debug_output() {
        let token = jwt("system:serviceaccount:team-a:puller", "p", 2_000_000_000);
        let a = account(&token, ROLE);
        for shown in [a.identity(), format!("{a:?}")] {
            assert!(!shown.contains(&token[..40]), "{shown}");
        }
        assert!(!a.identity().contains("team-a"));
        let opaque = account("opaque-secret-token", ROLE);
        assert!(!opaque.identity().contains("opaque-secret-token"));
    }

    #[test]
    fn role_annotation_is_required_and_checked() {
        let token = || Secret::new("t".into());
        assert_eq!(
            ServiceAccount::from_request(token(), &BTreeMap::new()).unwrap_err(),
            ServiceAccountError::NoRole
        );
        assert_eq!(
            ServiceAccount::from_request(token(), &annotations(" ")).unwrap_err(),
            ServiceAccountError::NoRole
        );
        assert_eq!(
            ServiceAccount::from_request(token(), &annotations("puller")).unwrap_err(),
            ServiceAccountError::BadRole("puller".into())
        );
        assert!(
            ServiceAccountError::NoRole
                .to_string()
                .contains("eks.amazonaws.com/ecr-role-arn")
        );
    }

    #[test]
    fn session_name_names_the_workload() {
        let a = account(
            &jwt("system:serviceaccount:team-a:puller", "p", 2_000_000_000),
            ROLE,
        );
        assert_eq!(a.session_name(), "team-a.puller");
        assert_eq!(
            account("opaque", ROLE).session_name(),
            "docker-credential-ecr"
        );
        let long = format!("system:serviceaccount:{}:x", "n".repeat(100));
        assert_eq!(
            account(&jwt(&long, "p", 2_000_000_000), ROLE)
                .session_name()
                .len(),
            64
        );
    }

    #[test]
    fn claims_are_read_from_padded_and_unpadded_payloads() {
        let token = jwt("system:serviceaccount:ns:sa", "p", 2_000_000_000);
        let c = claims(&token).unwrap();
        assert_eq!(c.subject, "system:serviceaccount:ns:sa");
        assert_eq!(c.audience, ["sts.amazonaws.com"]);
        assert_eq!(c.uid.as_deref(), Some("sa-uid-1"));
        let payload =
            base64::engine::general_purpose::URL_SAFE.encode(r#"{"iss":"i","sub":"s","aud":"a"}"#);
        let c = claims(&format!("h.{payload}.s")).unwrap();
        assert_eq!((c.issuer.as_str(), c.audience.len()), ("i", 1));
        assert!(claims("a.b.c").is_none());
        assert!(claims("opaque").is_none());
        let no_sub = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"iss":"i"}"#);
        assert!(claims(&format!("h.{no_sub}.s")).is_none());
    }
}
