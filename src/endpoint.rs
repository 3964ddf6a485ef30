//! Which ECR API endpoint a token fetch calls, and why: one rule for the token source, the
//! cache key and `doctor`.
//!
//! An explicit endpoint (the config file's `endpoint`, else the SDK's own rule for
//! `AWS_ENDPOINT_URL_ECR`, `AWS_ENDPOINT_URL`, `[services]` sections and `endpoint_url`) wins
//! over everything a registry host implies: a VPC-endpoint user of a FIPS or dual-stack
//! registry calls the URL they named, so the SDK is not also asked for FIPS or dual-stack
//! (it refuses that combination).

use crate::config::{Endpoint, Target};
use crate::profiles::Profiles;
use crate::registry::Registry;

/// The SDK's service id, which names its `AWS_ENDPOINT_URL_<ID>` variable and `[services]` key.
pub fn service_id(registry: &Registry) -> &'static str {
    match registry {
        Registry::Private(_) => "ECR",
        Registry::Public => "ECR PUBLIC",
    }
}

/// The explicit endpoint for `target`, if any.
pub fn configured(target: &Target, profiles: &Profiles) -> Option<Endpoint> {
    if let Some(url) = &target.settings.endpoint {
        let source = match &target.source {
            Some(at) => format!("config file entry ({at})"),
            None => "config file entry".to_string(),
        };
        return Some(Endpoint {
            url: url.clone(),
            source,
        });
    }
    profiles
        .endpoint_override(service_id(&target.registry))
        .map(|(url, source)| Endpoint { url, source })
}

/// What the SDK's endpoint rules are given for `target` when no endpoint is explicit: FIPS and
/// dual-stack (ECR Public has neither). The region is [`Target::api_region`].
fn rule_flags(target: &Target) -> (bool, bool) {
    match &target.registry {
        Registry::Private(p) => (p.fips, p.dual_stack),
        Registry::Public => (false, false),
    }
}

/// Names the endpoint a fetch for `target` calls, for the cache key, without resolving it: the
/// explicit URL, else the rules' inputs besides the region (which the key holds already). The
/// rules are a pure function of these inputs, so two targets with the same name call the same
/// endpoint; resolving would cost a hit ~0.1 ms to load the SDK's partition table.
pub fn key(target: &Target) -> String {
    if let Some(e) = &target.endpoint {
        return e.url.clone();
    }
    let (fips, dual_stack) = rule_flags(target);
    let service = match target.registry {
        Registry::Private(_) => "ecr",
        Registry::Public => "ecr-public",
    };
    format!("{service}-default fips={fips} dual_stack={dual_stack}")
}

/// The URL a fetch for `target` calls: the explicit endpoint, else what the SDK's endpoint
/// rules give for the registry's region, FIPS and dual-stack. Worked out without a runtime: the
/// rules are a pure function, and their future is ready at once.
pub fn url(target: &Target) -> Result<String, String> {
    if let Some(e) = &target.endpoint {
        return Ok(e.url.clone());
    }
    let region = target.api_region().to_string();
    let (fips, dual_stack) = rule_flags(target);
    match &target.registry {
        Registry::Private(_) => {
            use aws_sdk_ecr::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
            let params = Params::builder()
                .region(region)
                .use_fips(fips)
                .use_dual_stack(dual_stack)
                .build()
                .map_err(|e| e.to_string())?;
            ready(DefaultResolver::new().resolve_endpoint(&params))
        }
        Registry::Public => {
            use aws_sdk_ecrpublic::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
            let params = Params::builder()
                .region(region)
                .use_fips(fips)
                .use_dual_stack(dual_stack)
                .build()
                .map_err(|e| e.to_string())?;
            ready(DefaultResolver::new().resolve_endpoint(&params))
        }
    }
}

/// The URL from a resolver future: the SDK's default resolvers answer with a future that is
/// already complete.
fn ready<E: std::fmt::Display>(
    future: impl std::future::Future<Output = Result<aws_smithy_types::endpoint::Endpoint, E>>,
) -> Result<String, String> {
    match crate::text::poll_ready(future) {
        Some(Ok(endpoint)) => Ok(endpoint.url().to_string()),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("the endpoint resolver did not answer at once".into()),
    }
}

/// How messages name the endpoint: the explicit URL, else `ecr.<region>` as users know it.
pub fn display_name(target: &Target) -> String {
    if let Some(e) = &target.endpoint {
        return e.url.clone();
    }
    let service = match &target.registry {
        Registry::Private(p) if p.fips => "ecr-fips",
        Registry::Private(_) => "ecr",
        Registry::Public => "ecr-public",
    };
    format!("{service}.{}", target.api_region())
}
