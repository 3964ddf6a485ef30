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
    hex::encode(sha256(s.as_bytes()))
}

/// SHA-256 (FIPS 180-4). Written out rather than taken from `sha2`, whose first use detects CPU
/// features with CPUID: on a virtual machine every CPUID traps to the hypervisor (~15 µs each
/// on the benchmark machine), which was a measurable share of a whole cache hit. The inputs are
/// a few hundred bytes, so the portable loop costs a few microseconds. Checked against `sha2`
/// in the tests.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut state: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    // Padding: a 1 bit, zeros up to 56 bytes mod 64, then the length in bits, big-endian.
    let mut message = Vec::with_capacity(data.len() + 72);
    message.extend_from_slice(data);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = state;
        for (k, w) in K.iter().zip(w) {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(*k)
                .wrapping_add(w);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            (h, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *s = s.wrapping_add(v);
        }
    }
    let mut out = [0u8; 32];
    for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_and_the_sha2_crate() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // Every padding case: lengths around each block boundary, and multi-block inputs.
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..data.len() {
            use sha2::Digest;
            let expected: [u8; 32] = sha2::Sha256::digest(&data[..len]).into();
            assert_eq!(sha256(&data[..len]), expected, "length {len}");
        }
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
