//! Which AWS identity a token belongs to, decided from local facts only.
//!
//! A cache hit must not resolve credentials (no SSO refresh, STS, IMDS or `credential_process`),
//! so the cache key is built from what the environment and config say *would* be used: profile
//! name, config file paths, role ARNs, a hash of a static access key id, endpoint overrides and
//! the registry host. Two setups that could resolve to different principals get different keys;
//! temporary credentials that rotate behind one profile or role keep the same key and still hit.
//! Nothing secret goes into the key: the access key id is hashed and the container
//! authorisation token and secret keys are never read.

use crate::config::Target;
use crate::env::Env;
use crate::registry::Registry;
use sha2::{Digest, Sha256};

/// Variables that select or shape the credentials the SDK's default chain would use.
const IDENTITY_VARS: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    // The default config and credentials files live under HOME.
    "HOME",
];

/// Hashed rather than stored: an access key id is not a secret, but it is account metadata.
const ACCESS_KEY_VAR: &str = "AWS_ACCESS_KEY_ID";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// What the key is made of, one `name=value` per line; safe to show (`doctor`, the cache).
    pub description: String,
    /// Hex SHA-256 of the description: the cache entry's file name.
    pub id: String,
}

impl CacheKey {
    /// The key with one more identity line: what a token source adds beyond the environment and
    /// config (see `TokenSource::identity`).
    pub fn extended(self, line: &str) -> CacheKey {
        let description = format!("{}\n{line}", self.description);
        let id = sha256_hex(&description)[..32].to_string();
        CacheKey { description, id }
    }
}

pub fn cache_key(target: &Target, env: &dyn Env) -> CacheKey {
    let mut lines = vec![format!("host={}", target.host)];
    match &target.registry {
        Registry::Private(p) => lines.push(format!(
            "registry=private account={} region={} fips={} dual_stack={}",
            p.account, p.region, p.fips, p.dual_stack
        )),
        Registry::Public => lines.push("registry=public".into()),
    }
    let s = &target.settings;
    let setting = |name: &str, v: &Option<String>| v.as_ref().map(|v| format!("config.{name}={v}"));
    lines.extend(setting("profile", &s.profile));
    lines.extend(setting("region", &s.region));
    lines.extend(setting("endpoint", &s.endpoint));
    if let Some(role) = &s.role {
        lines.push(format!("config.role_arn={}", role.arn));
        lines.extend(setting("external_id", &role.external_id));
        lines.extend(setting("role_session_name", &role.session_name));
    }
    let service_endpoint_var = match target.registry {
        Registry::Private(_) => "AWS_ENDPOINT_URL_ECR",
        Registry::Public => "AWS_ENDPOINT_URL_ECR_PUBLIC",
    };
    for name in IDENTITY_VARS.iter().chain([&service_endpoint_var]) {
        if let Some(v) = env.var(name) {
            lines.push(format!("{name}={v}"));
        }
    }
    if let Some(key_id) = env.var(ACCESS_KEY_VAR) {
        lines.push(format!(
            "{ACCESS_KEY_VAR}.sha256={}",
            &sha256_hex(&key_id)[..16]
        ));
    }
    let description = lines.join("\n");
    let id = sha256_hex(&description)[..32].to_string();
    CacheKey { description, id }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_sha256_whichever_backend_is_built() {
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

    fn key(env: &[(&str, &str)]) -> CacheKey {
        let target = Config::default().resolve(HOST).unwrap();
        cache_key(&target, &MapEnv::new(env))
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
        let mut target = Config::default().resolve(HOST).unwrap();
        let plain = cache_key(&target, &MapEnv::default());
        target.settings.profile = Some("a".into());
        let a = cache_key(&target, &MapEnv::default());
        target.settings.profile = Some("b".into());
        let b = cache_key(&target, &MapEnv::default());
        target.settings.role = Some(Role {
            arn: "arn:aws:iam::123456789012:role/r".into(),
            external_id: None,
            session_name: None,
        });
        let b_role = cache_key(&target, &MapEnv::default());
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
            .unwrap();
        let b = c
            .resolve(
                &crate::registry::normalize_host(
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com:443",
                )
                .unwrap(),
            )
            .unwrap();
        assert_eq!(
            cache_key(&a, &MapEnv::default()),
            cache_key(&b, &MapEnv::default())
        );
    }
}
