//! A registry host resolved once, whole: every fact a request needs about it, worked out in one
//! place and read from there by `get`, `erase`, `list`, the kubelet mode, the token fetch and
//! `doctor` alike.
//!
//! [`resolve`] turns (host, config, environment) into a [`Resolved`]: the registry the host is,
//! the API region, the endpoint and why, the config entry, the selected profile, the cache key,
//! and the parsed AWS files they came from. The files are read and parsed by [`load_profiles`]
//! alone, at most once per request and explicit profile ([`AwsFiles`]): two readings could
//! disagree (a file edited in between), and each costs a parse a hit should not pay twice.

use crate::config::{Config, ConfigError, Target};
use crate::endpoint::Api;
use crate::env::Env;
use crate::identity::CacheKey;
use crate::profiles::{ProfileError, Profiles};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One host, resolved: nothing about it is left to be filled in later.
#[derive(Clone)]
pub struct Resolved {
    /// The host, its registry and its config entry (settings and where they are written).
    pub target: Target,
    /// Its explicit endpoint and the FIPS and dual-stack the AWS settings ask for.
    pub api: Api,
    /// The identity and scope its token is cached under (`identity::from_facts`).
    pub key: CacheKey,
    /// The AWS files as parsed for this host's profile: what the credential chain, the
    /// endpoint settings and `doctor`'s lines read, without parsing them again.
    pub profiles: Arc<Profiles>,
    /// The credential chain over those files, in the AWS CLI's order, or why there is none:
    /// what the key's `source=` line, the fetch, its progress phrases and `doctor` all read.
    pub(crate) plan: crate::credentials::Plan,
    /// The CA bundle every AWS call of a fetch trusts (`https::ca_bundle`): the
    /// variable's, else the selected profile's; `None`, the system's trust store.
    pub ca_bundle: Option<crate::https::CaBundle>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("target", &self.target)
            .field("api", &self.api)
            .field("key", &self.key)
            .field("profile", &self.profiles.selected())
            .finish()
    }
}

impl Resolved {
    /// The region whose API issues the token.
    pub fn region(&self) -> &str {
        self.target.api_region()
    }

    /// The config entry that matched (`file:line`), if any.
    pub fn entry(&self) -> Option<&str> {
        self.target.source.as_deref()
    }

    /// The profile the credential chain starts from: the entry's, else `AWS_PROFILE`, else
    /// `default`.
    pub fn selected_profile(&self) -> &str {
        self.profiles.selected()
    }

    /// The profile something named (the entry, else `AWS_PROFILE`), for messages that blame it.
    pub fn named_profile(&self) -> Option<&str> {
        self.profiles.named()
    }

    /// The API endpoint a fetch calls and why, by [`crate::endpoint`]'s one rule; `None` for
    /// the URL when the SDK's rules refuse the combination (the why says so).
    pub fn endpoint(&self) -> (Option<String>, String) {
        endpoint_of(&self.target, &self.api)
    }
}

/// [`Resolved::endpoint`], also for a target whose AWS files could not be read (`api` is then
/// what the config entry and the environment alone name).
pub fn endpoint_of(target: &Target, api: &Api) -> (Option<String>, String) {
    if let Some(e) = &api.explicit {
        return (Some(e.url.clone()), e.source.clone());
    }
    match crate::endpoint::url(target, api) {
        Ok(url) => (Some(url), crate::endpoint::reason(target, api)),
        Err(e) => (None, format!("the SDK cannot resolve one: {e}")),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// Resolves a normalised `host[:port]` under `config`: `None` when it is neither an ECR
/// registry nor an alias of one (no AWS file is read then).
pub fn resolve(
    host: &str,
    config: &Config,
    env: &dyn Env,
    files: &AwsFiles,
) -> Result<Option<Resolved>, ResolveError> {
    match config.resolve(host)? {
        Some(target) => Ok(Some(complete(target, env, files)?)),
        None => Ok(None),
    }
}

/// Completes what the config decided for a host with what the environment and the AWS files
/// decide (its explicit endpoint, the FIPS and dual-stack they ask for) and its cache key.
pub fn complete(target: Target, env: &dyn Env, files: &AwsFiles) -> Result<Resolved, ProfileError> {
    let explicit = target.settings.profile.as_deref();
    let profiles = files.profiles(env, explicit)?;
    let plan = crate::credentials::plan(env, &profiles, explicit);
    // The same steps as a hit's memo takes (`keymemo`), so the two cannot give other keys.
    let facts = crate::identity::file_facts(&target, &profiles, &plan)?;
    let (api, key) = crate::identity::from_facts(&target, env, &facts);
    let ca_bundle = crate::https::ca_bundle(env, &profiles);
    Ok(Resolved {
        target,
        api,
        key,
        profiles,
        plan,
        ca_bundle,
    })
}

/// The AWS files of one request (or of one `doctor` run, whose steps each get a bound of their
/// own but report on one reading of the files), parsed on first use and kept for the rest of
/// it: one parse per explicit profile (a config entry's `profile` selects another profile of
/// the same files). Clones share what was parsed. A request has one environment view, so the
/// first `env` a value is asked with is the one its answers hold.
#[derive(Clone, Default)]
pub struct AwsFiles {
    parsed: Arc<Mutex<BTreeMap<Option<String>, Parsed>>>,
}

/// One parse's outcome, kept whole: a failure is the same failure for every consumer.
type Parsed = Result<Arc<Profiles>, ProfileError>;

impl AwsFiles {
    /// The files parsed for `explicit` (else `AWS_PROFILE`, else `default`), or why they
    /// cannot be: the same answer for every consumer of the request.
    pub fn profiles(
        &self,
        env: &dyn Env,
        explicit: Option<&str>,
    ) -> Result<Arc<Profiles>, ProfileError> {
        let key = explicit.map(str::to_string);
        // A poisoned lock only means another thread panicked mid-insert: the map is whole.
        let mut parsed = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        parsed
            .entry(key)
            .or_insert_with(|| load_profiles(env, explicit).map(Arc::new))
            .clone()
    }
}

/// Reads and parses the AWS config and credentials files: the one place this happens, which
/// every consumer reaches through [`AwsFiles`], and a hit's key memo (`keymemo`) directly.
pub fn load_profiles(env: &dyn Env, explicit: Option<&str>) -> Result<Profiles, ProfileError> {
    crate::debug!("reading the AWS config and credentials files");
    #[cfg(test)]
    tests::count_parse(env);
    Profiles::load(env, explicit)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::env::MapEnv;
    use std::collections::HashMap;
    use std::path::PathBuf;

    /// Parses per config file path: each test names its own file, so tests running in parallel
    /// (and a fetch on a thread of its own) count apart.
    static PARSES: Mutex<Option<HashMap<PathBuf, usize>>> = Mutex::new(None);

    pub(crate) fn count_parse(env: &dyn Env) {
        if let Some(path) = crate::dirs::aws_config_file(env) {
            let mut map = PARSES.lock().unwrap_or_else(|e| e.into_inner());
            *map.get_or_insert_with(HashMap::new)
                .entry(path)
                .or_default() += 1;
        }
    }

    /// How many times the files named by `env` were parsed so far.
    pub(crate) fn parses(env: &dyn Env) -> usize {
        let path = crate::dirs::aws_config_file(env).unwrap();
        let map = PARSES.lock().unwrap_or_else(|e| e.into_inner());
        map.as_ref()
            .and_then(|m| m.get(&path))
            .copied()
            .unwrap_or(0)
    }

    /// AWS files in a directory of their own, with a profile that has a role and a process.
    pub(crate) struct Files {
        pub dir: tempfile::TempDir,
    }

    impl Files {
        pub(crate) fn new(config: &str) -> Files {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("config"), config).unwrap();
            std::fs::write(
                dir.path().join("credentials"),
                "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = s\n",
            )
            .unwrap();
            Files { dir }
        }

        pub(crate) fn env(&self, extra: &[(&str, &str)]) -> MapEnv {
            let path = |f: &str| self.dir.path().join(f).to_str().unwrap().to_string();
            let (config, credentials) = (path("config"), path("credentials"));
            let mut vars = vec![
                ("AWS_CONFIG_FILE", config.as_str()),
                ("AWS_SHARED_CREDENTIALS_FILE", credentials.as_str()),
            ];
            vars.extend_from_slice(extra);
            MapEnv::new(&vars)
        }
    }

    const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    const CONFIG: &str = "[profile dev]\ncredential_process = /bin/false\nuse_fips_endpoint = true\n[profile other]\nregion = eu-west-1\n";

    #[test]
    fn a_request_parses_the_files_once_whoever_asks() {
        let files = Files::new(CONFIG);
        let env = files.env(&[("AWS_PROFILE", "dev")]);
        let aws = AwsFiles::default();
        let config = Config::default();
        let first = resolve(HOST, &config, &env, &aws).unwrap().unwrap();
        let again = resolve(HOST, &config, &env, &aws.clone()).unwrap().unwrap();
        assert_eq!(parses(&env), 1);
        assert!(Arc::ptr_eq(&first.profiles, &again.profiles));
        // What each consumer reads of them parses nothing more.
        let plan = first.plan.as_ref().unwrap();
        assert_eq!(
            plan.first().map(|s| s.name()),
            Some("credentials-file-keys")
        );
        first.profiles.credentials_file_keys("dev").unwrap();
        assert_eq!(parses(&env), 1);
        assert_eq!(first.key, again.key);
        assert_eq!(first.selected_profile(), "dev");
        assert!(first.api.requested.fips, "use_fips_endpoint of profile dev");
        // A fresh request reads them again: a file edited since is seen.
        resolve(HOST, &config, &env, &AwsFiles::default()).unwrap();
        assert_eq!(parses(&env), 2);
    }

    /// The fetch's client, the cache key, `doctor`'s api line and the messages read one answer:
    /// here the FIPS endpoint that profile `dev` asks for, and that profile.
    #[test]
    fn every_consumer_reads_the_same_answer() {
        let files = Files::new(CONFIG);
        let env = files.env(&[("AWS_PROFILE", "dev")]);
        let r = resolve(HOST, &Config::default(), &env, &AwsFiles::default())
            .unwrap()
            .unwrap();
        let (url, variant) = crate::endpoint::client_inputs(&r.target, &r.api);
        assert_eq!((url, variant.fips), (None, true));
        assert!(
            r.key.description.contains("fips=true"),
            "{}",
            r.key.description
        );
        let (api, why) = r.endpoint();
        assert_eq!(
            api.as_deref(),
            Some("https://api.ecr-fips.us-east-1.amazonaws.com")
        );
        assert!(why.contains("FIPS (AWS_USE_FIPS_ENDPOINT"), "{why}");
        assert!(
            r.key.description.contains("profile=dev"),
            "{}",
            r.key.description
        );
        assert_eq!(r.named_profile(), Some("dev"));
        assert_eq!(r.region(), "us-east-1");
        assert_eq!(r.entry(), None);
        assert_eq!(parses(&env), 1);
    }

    #[test]
    fn an_entrys_profile_is_a_parse_of_its_own_and_failures_are_kept_too() {
        let files = Files::new(CONFIG);
        let env = files.env(&[]);
        let aws = AwsFiles::default();
        let config = Config::parse(
            "[[registry]]\nmatch = \"123456789012\"\nprofile = \"other\"\n",
            std::path::Path::new("/c.toml"),
        )
        .unwrap();
        let entry = resolve(HOST, &config, &env, &aws).unwrap().unwrap();
        let plain = resolve(HOST, &Config::default(), &env, &aws)
            .unwrap()
            .unwrap();
        assert_eq!(entry.selected_profile(), "other");
        assert_eq!(entry.named_profile(), Some("other"));
        assert_eq!(plain.selected_profile(), "default");
        assert_eq!(plain.named_profile(), None);
        assert_ne!(entry.key, plain.key);
        assert_eq!(parses(&env), 2);

        let broken = Files::new("[default]\nnot a setting\n");
        let env = broken.env(&[]);
        let aws = AwsFiles::default();
        let one = aws.profiles(&env, None).err().unwrap().to_string();
        let two = aws.profiles(&env, None).err().unwrap().to_string();
        assert_eq!(one, two);
        assert_eq!(parses(&env), 1);
    }

    #[test]
    fn a_host_that_is_not_ecr_reads_no_aws_file() {
        let files = Files::new("[default]\nnot a setting\n");
        let env = files.env(&[]);
        let none = resolve("ghcr.io", &Config::default(), &env, &AwsFiles::default());
        assert!(none.unwrap().is_none());
        assert_eq!(parses(&env), 0);
    }
}
