//! Which ECR API endpoint a token fetch calls, and why: one rule for the token source, the
//! cache key and `doctor`.
//!
//! An explicit endpoint (the config file's `endpoint`, else the SDK's own rule for
//! `AWS_ENDPOINT_URL_ECR`, `AWS_ENDPOINT_URL`, `[services]` sections and `endpoint_url`) wins
//! over everything a registry host or a setting implies: a VPC-endpoint user of a FIPS or
//! dual-stack registry calls the URL they named, so the SDK is not also asked for FIPS or
//! dual-stack (it refuses that combination; botocore drops the flags the same way).
//! Otherwise the SDK's rules are given the region and [`variant`]: FIPS and dual-stack as the
//! AWS settings ask for them, plus what the host's form names.

use crate::config::Target;
use crate::profiles::{ProfileError, Profiles};
use crate::registry::Registry;

/// The SDK's service id, which names its `AWS_ENDPOINT_URL_<ID>` variable and `[services]` key.
pub fn service_id(registry: &Registry) -> &'static str {
    match registry {
        Registry::Private(_) => "ECR",
        Registry::Public => "ECR PUBLIC",
    }
}

/// The explicit endpoint for `target`, if any: its config entry's, else the one the SDK's own
/// settings name ([`from_files`]).
pub fn configured(target: &Target, profiles: &Profiles) -> Result<Option<Endpoint>, ProfileError> {
    match from_entry(target) {
        Some(endpoint) => Ok(Some(endpoint)),
        None => from_files(target, profiles),
    }
}

/// The endpoint the SDK's own settings name for the registry's service
/// (`AWS_ENDPOINT_URL_ECR`, a profile's `services` section, `AWS_ENDPOINT_URL`, ...).
pub fn from_files(target: &Target, profiles: &Profiles) -> Result<Option<Endpoint>, ProfileError> {
    Ok(profiles
        .endpoint_override(service_id(&target.registry))?
        .map(|(url, source)| Endpoint { url, source }))
}

/// The endpoint the registry's config entry names: it wins over the SDK's rule.
pub fn from_entry(target: &Target) -> Option<Endpoint> {
    let url = target.settings.endpoint.as_ref()?;
    let source = match &target.source {
        Some(at) => format!("config file entry ({at})"),
        None => "config file entry".to_string(),
    };
    Some(Endpoint {
        url: url.clone(),
        source,
    })
}

/// An explicitly configured endpoint and where it was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub source: String,
}

/// What the environment and the AWS files decide about a host's API endpoint, beside what the
/// host and its config entry say: the explicit endpoint, and the variant the settings ask for.
/// Worked out once per host, with the rest of its resolution ([`crate::resolve`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Api {
    /// The explicit API endpoint: the config entry's, else the SDK's endpoint rule's.
    pub explicit: Option<Endpoint>,
    /// FIPS and dual-stack as the AWS settings ask for them; the host's form adds to it
    /// ([`variant`]).
    pub requested: Variant,
}

/// FIPS and dual-stack: the variants of an AWS API endpoint that the SDK's rules choose among.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Variant {
    pub fips: bool,
    pub dual_stack: bool,
}

/// The variant the user's AWS settings ask for, by the SDK's rule (and botocore's):
/// `AWS_USE_FIPS_ENDPOINT`, else the profile's `use_fips_endpoint`; the same for dual-stack.
pub fn requested(profiles: &Profiles) -> Variant {
    Variant {
        fips: profiles.sdk_flag("AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint"),
        dual_stack: profiles.sdk_flag("AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint"),
    }
}

/// What the SDK's endpoint rules are given for `target` when no endpoint is explicit, besides
/// the region ([`Target::api_region`]): what the settings ask for, plus what the host's form
/// names. A `dkr.ecr-fips` host is served by the FIPS API even when nothing asks for it; a
/// user who asked for FIPS (for compliance) gets it whatever the host's form, ECR Public
/// included, exactly as the AWS CLI would.
pub fn variant(target: &Target, api: &Api) -> Variant {
    let host = host_variant(&target.registry);
    Variant {
        fips: host.fips || api.requested.fips,
        dual_stack: host.dual_stack || api.requested.dual_stack,
    }
}

/// What the SDK client for `target` is given: the explicit URL and no variant (the SDK refuses
/// the two together), else no URL and [`variant`].
pub fn client_inputs(target: &Target, api: &Api) -> (Option<String>, Variant) {
    match &api.explicit {
        Some(e) => (Some(e.url.clone()), Variant::default()),
        None => (None, variant(target, api)),
    }
}

/// What the registry host's form names: `dkr.ecr-fips`, `dkr-ecr` (ECR Public's hosts, neither).
fn host_variant(registry: &Registry) -> Variant {
    match registry {
        Registry::Private(p) => Variant {
            fips: p.fips,
            dual_stack: p.dual_stack,
        },
        Registry::Public => Variant::default(),
    }
}

/// Why the SDK's rules give the endpoint they give for `target` (no endpoint being explicit),
/// for `doctor`: the region's default, and each variant with what asked for it.
pub fn reason(target: &Target, api: &Api) -> String {
    let host = host_variant(&target.registry);
    let asked = |by_host: bool, by_settings: bool, name: &str, setting: &str| match (
        by_host,
        by_settings,
    ) {
        (true, _) => Some(format!("{name} (the host's form)")),
        (false, true) => Some(format!("{name} ({setting})")),
        (false, false) => None,
    };
    let variants: Vec<String> = [
        asked(
            host.fips,
            api.requested.fips,
            "FIPS",
            "AWS_USE_FIPS_ENDPOINT or use_fips_endpoint",
        ),
        asked(
            host.dual_stack,
            api.requested.dual_stack,
            "dual-stack",
            "AWS_USE_DUALSTACK_ENDPOINT or use_dualstack_endpoint",
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    match variants.as_slice() {
        [] => "the SDK's default for the region".into(),
        v => format!("the SDK's default for the region, {}", v.join(", ")),
    }
}

/// Names the endpoint a fetch for `target` calls, for the cache key, without resolving it: the
/// explicit URL, else the rules' inputs besides the region (which the key holds already). The
/// rules are a pure function of these inputs, so two targets with the same name call the same
/// endpoint; resolving would cost a hit ~0.1 ms to load the SDK's partition table.
pub fn key(target: &Target, api: &Api) -> String {
    if let Some(e) = &api.explicit {
        return e.url.clone();
    }
    let Variant { fips, dual_stack } = variant(target, api);
    let service = match target.registry {
        Registry::Private(_) => "ecr",
        Registry::Public => "ecr-public",
    };
    format!("{service}-default fips={fips} dual_stack={dual_stack}")
}

/// The SDK's own endpoint rules of one of the two ECR crates (distinct types, no shared trait),
/// for a region, FIPS and dual-stack: one macro, so the two cannot drift apart.
macro_rules! sdk_rule {
    ($sdk:ident, $region:expr, $fips:expr, $dual_stack:expr) => {{
        use $sdk::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
        let params = Params::builder()
            .region($region)
            .use_fips($fips)
            .use_dual_stack($dual_stack)
            .build()
            .map_err(|e| e.to_string())?;
        ready(DefaultResolver::new().resolve_endpoint(&params))
    }};
}

/// The URL a fetch for `target` calls: the explicit endpoint, else what the SDK's endpoint
/// rules give for the registry's region, FIPS and dual-stack. Worked out without a runtime: the
/// rules are a pure function, and their future is ready at once.
pub fn url(target: &Target, api: &Api) -> Result<String, String> {
    if let Some(e) = &api.explicit {
        return Ok(e.url.clone());
    }
    let region = target.api_region().to_string();
    let Variant { fips, dual_stack } = variant(target, api);
    match &target.registry {
        Registry::Private(_) => sdk_rule!(aws_sdk_ecr, region, fips, dual_stack),
        Registry::Public => sdk_rule!(aws_sdk_ecrpublic, region, fips, dual_stack),
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
pub fn display_name(target: &Target, api: &Api) -> String {
    if let Some(e) = &api.explicit {
        return e.url.clone();
    }
    let service = match &target.registry {
        Registry::Private(_) => "ecr",
        Registry::Public => "ecr-public",
    };
    let fips = if variant(target, api).fips {
        "-fips"
    } else {
        ""
    };
    format!("{service}{fips}.{}", target.api_region())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::env::MapEnv;

    type Vars = [(&'static str, &'static str)];

    /// The URL a fetch for `host` calls, and its cache key, with `vars` and `~/.aws/config`.
    fn call(host: &str, vars: &[(&str, &str)], aws_config: &str) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        std::fs::write(&file, aws_config).unwrap();
        let mut vars = vars.to_vec();
        vars.push(("AWS_CONFIG_FILE", file.to_str().unwrap()));
        let target = Config::default().resolve(host).unwrap().unwrap();
        let files = crate::resolve::AwsFiles::default();
        let resolved = crate::resolve::complete(target, &MapEnv::new(&vars), &files).unwrap();
        let url = super::url(&resolved.target, &resolved.api).unwrap();
        (url, resolved.key.id)
    }

    /// The settings ask, the host's form adds: a FIPS or dual-stack setting is never taken
    /// away by a plain host, and ECR Public keeps it too (the AWS CLI calls these URLs).
    #[test]
    fn settings_ask_for_fips_and_dual_stack_and_the_host_form_only_adds() {
        let plain = "111122223333.dkr.ecr.us-east-1.amazonaws.com";
        let fips_host = "111122223333.dkr.ecr-fips.us-east-1.amazonaws.com";
        let fips = [("AWS_USE_FIPS_ENDPOINT", "true")];
        let dual = [("AWS_USE_DUALSTACK_ENDPOINT", "true")];
        let cases: &[(&str, &Vars, &str, &str)] = &[
            (plain, &[], "", "https://api.ecr.us-east-1.amazonaws.com"),
            (
                plain,
                &fips,
                "",
                "https://api.ecr-fips.us-east-1.amazonaws.com",
            ),
            (plain, &dual, "", "https://ecr.us-east-1.api.aws"),
            (
                plain,
                &[],
                "[default]\nuse_fips_endpoint = true\nuse_dualstack_endpoint = true\n",
                "https://ecr-fips.us-east-1.api.aws",
            ),
            (fips_host, &dual, "", "https://ecr-fips.us-east-1.api.aws"),
            (
                fips_host,
                &[("AWS_USE_FIPS_ENDPOINT", "false")],
                "",
                "https://api.ecr-fips.us-east-1.amazonaws.com",
            ),
            (
                "111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn",
                &fips,
                "",
                "https://api.ecr-fips.cn-north-1.amazonaws.com.cn",
            ),
            (
                "public.ecr.aws",
                &fips,
                "",
                "https://api.ecr-public-fips.us-east-1.amazonaws.com",
            ),
            (
                "public.ecr.aws",
                &dual,
                "",
                "https://ecr-public.us-east-1.api.aws",
            ),
        ];
        for (host, vars, aws_config, want) in cases {
            assert_eq!(
                call(host, vars, aws_config).0,
                *want,
                "{host} {vars:?} {aws_config:?}"
            );
        }
    }

    #[test]
    fn doctor_says_what_asked_for_each_variant() {
        let fips_host = "111122223333.dkr.ecr-fips.us-east-1.amazonaws.com";
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        std::fs::write(&file, "").unwrap();
        let env = MapEnv::new(&[
            ("AWS_CONFIG_FILE", file.to_str().unwrap()),
            ("AWS_USE_DUALSTACK_ENDPOINT", "true"),
        ]);
        let target = Config::default().resolve(fips_host).unwrap().unwrap();
        let files = crate::resolve::AwsFiles::default();
        let resolved = crate::resolve::complete(target, &env, &files).unwrap();
        assert_eq!(
            super::reason(&resolved.target, &resolved.api),
            "the SDK's default for the region, FIPS (the host's form), dual-stack \
             (AWS_USE_DUALSTACK_ENDPOINT or use_dualstack_endpoint)"
        );
    }

    /// Another endpoint is another cache entry, whichever way the setting was made.
    #[test]
    fn a_variant_from_the_profile_is_another_cache_entry() {
        let plain = "111122223333.dkr.ecr.us-east-1.amazonaws.com";
        let profile_fips = call(plain, &[], "[default]\nuse_fips_endpoint = true\n").1;
        assert_ne!(profile_fips, call(plain, &[], "").1);
    }

    /// `[services]` entries: AWS documents the service id in snake case (`ecr_public`), the
    /// AWS CLI reads that, the Rust SDK reads kebab case; both are accepted.
    #[test]
    fn services_sections_accept_the_documented_ecr_public_key() {
        for key in ["ecr_public", "ecr-public"] {
            let config = format!(
                "[default]\nservices = s\n[services s]\n{key} =\n  endpoint_url = http://127.0.0.1:7\n"
            );
            assert_eq!(
                call("public.ecr.aws", &[], &config).0,
                "http://127.0.0.1:7",
                "{key}"
            );
        }
    }
}
