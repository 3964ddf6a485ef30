//! The HTTPS client every AWS call goes through (ECR, ECR Public, STS, SSO, IMDS): the SDK's own
//! hyper + rustls client, with ring as rustls's crypto provider instead of the SDK default,
//! AWS-LC.
//!
//! Why not AWS-LC: as built by default it seeds its random generator with CPU-jitter sampling,
//! 24 ms of CPU in every process that opens TLS (a cold `get` went from 19 ms to 44 ms), and it
//! runs a start-up constructor that probes the CPU in every process, cache hits included. Both
//! can only be turned off by environment variables of aws-lc-sys's build script, which a
//! published crate cannot carry, so a build from crates.io would differ from the tested one.
//! ring seeds from the OS (`getrandom`), has no constructor and detects CPU features on first
//! use, i.e. on a miss. Given no settings at all it is what we test and ship. It offers no
//! post-quantum key exchange; everything this program sends or receives over TLS (signed
//! requests, 12-hour tokens, temporary credentials) expires within hours, so a recording
//! decrypted years later is worth nothing.
//!
//! Its trust store is the system's (or `SSL_CERT_FILE`), unless a CA bundle is set the AWS
//! CLI's way ([`ca_bundle`]): then that bundle alone, as botocore does, for every AWS call.

use crate::env::Env;
use crate::profiles::Profiles;
use aws_sdk_ecr::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector};
use rustls::pki_types::{CertificateDer, pem::PemObject};
use std::path::PathBuf;

/// The AWS CLI's (and every AWS SDK's) CA bundle variable; it wins over the profile's
/// `ca_bundle`.
pub const CA_BUNDLE_VAR: &str = "AWS_CA_BUNDLE";
/// The profile setting, as botocore reads it.
pub const CA_BUNDLE_KEY: &str = "ca_bundle";
/// Far above any real bundle (the Mozilla set is ~200 KiB).
const MAX_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;

/// A PEM file of CA certificates to trust, and the setting that named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaBundle {
    pub path: PathBuf,
    /// `AWS_CA_BUNDLE`, or the profile whose `ca_bundle` it is, as a user would look for it.
    pub source: String,
}

impl std::fmt::Display for CaBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.path.display(), self.source)
    }
}

/// The CA bundle botocore would use with this environment and profile: `AWS_CA_BUNDLE`, else
/// the selected profile's `ca_bundle`. Used as written (botocore expands no `~`).
pub fn ca_bundle(env: &dyn Env, profiles: &Profiles) -> Option<CaBundle> {
    if let Some(path) = env.var(CA_BUNDLE_VAR) {
        return Some(CaBundle {
            path: PathBuf::from(path),
            source: CA_BUNDLE_VAR.to_string(),
        });
    }
    let in_profile = profiles.get(CA_BUNDLE_KEY).filter(|v| !v.is_empty());
    in_profile.map(|path| CaBundle {
        path: PathBuf::from(path),
        source: format!("{CA_BUNDLE_KEY} of AWS profile {:?}", profiles.selected()),
    })
}

/// A bundle that cannot serve as the trust store. botocore fails every call then (an SSLError
/// naming the file); so do we, rather than fall back to trusting the system's CAs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read the CA bundle {bundle}: {why}; fix or unset the setting")]
    Read { bundle: CaBundle, why: String },
    #[error("the CA bundle {bundle} holds no PEM certificate; fix or unset the setting")]
    Empty { bundle: CaBundle },
    #[error(
        "the CA bundle {bundle} holds an unusable certificate (number {index}): {why}; fix or unset the setting"
    )]
    Invalid {
        bundle: CaBundle,
        index: usize,
        why: String,
    },
}

/// The bundle's certificates as the TLS context's trust store, every one checked here: the
/// client's own loader panics on a certificate it cannot parse.
fn trust_store(bundle: &CaBundle) -> Result<TlsContext, BundleError> {
    use crate::fsutil::{Links, read_regular};
    let read_error = |why: String| BundleError::Read {
        bundle: bundle.clone(),
        why,
    };
    let bytes = read_regular(&bundle.path, MAX_BUNDLE_BYTES, Links::Follow)
        .map_err(|e| read_error(e.to_string()))?
        .bytes;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_error(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(BundleError::Empty {
            bundle: bundle.clone(),
        });
    }
    let mut roots = rustls::RootCertStore::empty();
    for (i, cert) in certs.into_iter().enumerate() {
        roots.add(cert).map_err(|e| BundleError::Invalid {
            bundle: bundle.clone(),
            index: i + 1,
            why: e.to_string(),
        })?;
    }
    TlsContext::builder()
        .with_trust_store(
            TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(bytes),
        )
        .build()
        .map_err(|e| read_error(e.to_string()))
}

/// The same client as the SDK's default (aws-smithy-runtime's `default_https_client` for the
/// latest behaviour version: proxies from `HTTPS_PROXY`/`NO_PROXY`, the loader's timeouts and
/// sleep), on ring, trusting `bundle` alone when there is one.
pub fn client(bundle: Option<&CaBundle>) -> Result<SharedHttpClient, BundleError> {
    let context = bundle.map(trust_store).transpose()?;
    Ok(
        Builder::new().build_with_connector_fn(move |settings, runtime_components| {
            let mut connector =
                Connector::builder().tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
            if let Some(context) = &context {
                connector = connector.tls_context(context.clone());
            }
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = runtime_components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        }),
    )
}

/// What to add to a failure's detail when the server's certificate chain was not trusted: the
/// two settings that fix it, or the bundle that did not hold its CA.
pub fn unknown_issuer_hint(detail: &str, bundle: Option<&CaBundle>) -> Option<String> {
    if !detail.contains("UnknownIssuer") {
        return None;
    }
    Some(match bundle {
        Some(b) => format!(
            "the server's certificate is not signed by a CA in the CA bundle {b}; add your organisation's CA to it"
        ),
        None => format!(
            "the server's certificate is not signed by a CA this system trusts; behind a TLS-inspecting proxy, set {CA_BUNDLE_VAR} or {CA_BUNDLE_KEY} in the AWS profile to a PEM file of your organisation's CA"
        ),
    })
}

/// The SDK's timeouts for any AWS call that must end within `budget` (what is left of the
/// request's bound): a connection gets 3 seconds, the whole operation the budget. One rule
/// for ECR, STS and the kubelet mode's web identity, so a slow endpoint is given up on the
/// same way everywhere; a caller that retries adds its attempt timeout to the builder.
pub(crate) fn timeouts(budget: std::time::Duration) -> aws_config::timeout::TimeoutConfigBuilder {
    let mut timeouts = aws_config::timeout::TimeoutConfig::builder();
    timeouts
        .set_connect_timeout(Some(std::time::Duration::from_secs(3).min(budget)))
        .set_operation_timeout(Some(budget));
    timeouts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    #[test]
    fn the_variable_wins_over_the_selected_profiles_ca_bundle() {
        let config = "[default]\nca_bundle = /d.pem\n[profile corp]\nca_bundle = /corp.pem\n";
        let bundle = |pairs: &[(&str, &str)], profile: Option<&str>| {
            let env = MapEnv::new(pairs);
            let profiles = Profiles::parse(config, "", &env, profile).unwrap();
            ca_bundle(&env, &profiles).map(|b| b.to_string())
        };
        assert_eq!(
            bundle(&[], None).as_deref(),
            Some("/d.pem (ca_bundle of AWS profile \"default\")")
        );
        assert_eq!(
            bundle(&[("AWS_PROFILE", "corp")], None).as_deref(),
            Some("/corp.pem (ca_bundle of AWS profile \"corp\")")
        );
        assert_eq!(
            bundle(&[("AWS_CA_BUNDLE", "/v.pem")], Some("corp")).as_deref(),
            Some("/v.pem (AWS_CA_BUNDLE)")
        );
        // Empty is unset.
        assert_eq!(
            bundle(&[("AWS_CA_BUNDLE", "")], Some("other")).as_deref(),
            None
        );
    }
}
