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

use aws_sdk_ecr::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector};

/// The same client as the SDK's default (aws-smithy-runtime's `default_https_client` for the
/// latest behaviour version: proxies from `HTTPS_PROXY`/`NO_PROXY`, the loader's timeouts and
/// sleep), on ring.
pub fn client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, runtime_components| {
        let mut connector =
            Connector::builder().tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = runtime_components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
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
