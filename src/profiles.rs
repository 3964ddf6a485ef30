//! The shared AWS config and credentials files, parsed by aws-config's own profile parser, so
//! that the cache key, the endpoint rule and `doctor` read a profile exactly as the SDK will.
//!
//! The files are found through [`crate::dirs`] (the one view of HOME and the variables) and
//! read here with a size limit after checking that they are regular files: the SDK would block
//! forever on a FIFO, and the key is computed on every cache hit.

use crate::env::Env;
use aws_runtime::env_config::EnvConfigValue;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_runtime::env_config::property::PropertiesKey;
use aws_runtime::env_config::section::EnvConfigSections;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// The variables the SDK's profile and endpoint rules read, handed to its parser from our view.
const SDK_VARS: &[&str] = &[
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECR",
    "AWS_ENDPOINT_URL_ECR_PUBLIC",
    "AWS_ENDPOINT_URL_STS",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
];

/// Profile settings that decide which principal the SDK's chain resolves (never secrets:
/// `aws_secret_access_key` and `aws_session_token` are not read).
const IDENTITY_KEYS: &[&str] = &[
    "aws_access_key_id",
    "role_arn",
    "source_profile",
    "credential_source",
    "external_id",
    "role_session_name",
    "mfa_serial",
    "web_identity_token_file",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "sso_region",
    "sso_account_id",
    "sso_role_name",
    "login_session",
];

/// Clone: a request keeps the outcome of its one parse ([`crate::resolve::AwsFiles`]), and each
/// consumer that meets a failed parse reports it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProfileError {
    #[error("{} is not a regular file", origin(.var, *.from_var, .path))]
    NotAFile {
        var: &'static str,
        /// Whether `var` named the file (else it is the default under the home).
        from_var: bool,
        path: PathBuf,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::sync::Arc<std::io::Error>,
    },
    #[error("{} is larger than {} bytes; it is not an AWS config file", path.display(), crate::fsutil::MAX_CONFIG_BYTES)]
    TooLarge { path: PathBuf },
    /// The parser's own words name the file and the line it stopped at.
    #[error("invalid AWS config: {0}")]
    Parse(String),
    /// As the AWS CLI refuses it: the endpoint a `[services]` entry would give is unknown.
    #[error(
        "profile {profile:?} sets `services = {name}`, but the AWS config file has no [services {name}] section; add it or remove the setting"
    )]
    NoServicesSection { profile: String, name: String },
}

/// Where a shared file came from, as a user would look for it: the variable that named it, or
/// the default location (with the variable that would move it).
fn origin(var: &str, from_var: bool, path: &Path) -> String {
    if from_var {
        format!("{var} {}", path.display())
    } else {
        format!("{} (the default; {var} is unset)", path.display())
    }
}

/// The parsed files and the profile selected for one registry.
pub struct Profiles {
    /// `None` when both files are absent or empty: the common CI case, where a cache hit
    /// then skips the parser altogether.
    sections: Option<EnvConfigSections>,
    /// The selected profile's name when there are no sections to say it.
    selected: String,
    /// The profile named by the registry's config entry or `AWS_PROFILE`; `None` when the
    /// selection fell back to `default`, which messages do not blame.
    named: Option<String>,
    sdk_env: aws_types::os_shim_internal::Env,
    /// The names of the config file's `[services NAME]` sections: the parsed sections do not
    /// say whether an empty one exists.
    services_sections: Vec<String>,
    /// The credentials file alone, for [`Profiles::credentials_file_keys`]; parsed only there.
    credentials_text: String,
    /// That parse, done at most once for these files: every host a request resolves over them
    /// (`list`'s hosts, `doctor`'s) plans its chain, and each plan may ask.
    credentials_only: std::sync::OnceLock<Result<EnvConfigSections, ProfileError>>,
}

/// A profile's static keys. Debug never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StaticKeys({})", self.access_key_id)
    }
}

impl Profiles {
    /// Reads and parses both files; `profile` is the config file's choice for the registry,
    /// else `AWS_PROFILE`, else `default` (the SDK's own order).
    pub fn load(env: &dyn Env, profile: Option<&str>) -> Result<Profiles, ProfileError> {
        let config_path = crate::dirs::aws_config_file(env);
        let credentials_path = crate::dirs::aws_credentials_file(env);
        let config = read_optional(config_path.clone(), crate::dirs::AWS_CONFIG_FILE_VAR, env)?;
        let credentials = read_optional(
            credentials_path.clone(),
            crate::dirs::AWS_CREDENTIALS_FILE_VAR,
            env,
        )?;
        let named =
            |path: Option<PathBuf>, fallback: &str| path.unwrap_or_else(|| PathBuf::from(fallback));
        let files = [
            (named(config_path, "AWS config file"), config.as_str()),
            (
                named(credentials_path, "AWS credentials file"),
                credentials.as_str(),
            ),
        ];
        Profiles::parse_files(&files, env, profile)
    }

    /// Parses the two files' contents as the SDK would with this environment.
    pub fn parse(
        config: &str,
        credentials: &str,
        env: &dyn Env,
        profile: Option<&str>,
    ) -> Result<Profiles, ProfileError> {
        let files = [
            (PathBuf::from("AWS config file"), config),
            (PathBuf::from("AWS credentials file"), credentials),
        ];
        Profiles::parse_files(&files, env, profile)
    }

    /// Parses `[(config path, contents), (credentials path, contents)]`. The contents are
    /// handed to the SDK's parser under their paths, so that its error names the file and line.
    fn parse_files(
        files: &[(PathBuf, &str); 2],
        env: &dyn Env,
        profile: Option<&str>,
    ) -> Result<Profiles, ProfileError> {
        let [(config_path, config), (credentials_path, credentials)] = files;
        let values: Vec<(&str, String)> = SDK_VARS
            .iter()
            .filter_map(|name| env.var(name).map(|v| (*name, v)))
            .collect();
        let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let sdk_env = aws_types::os_shim_internal::Env::from_slice(&pairs);
        // The SDK's rule (aws-config's `profile::load` picks the same), computed once for both
        // branches: the loader is skipped when there is nothing to parse.
        let named = profile
            .map(str::to_string)
            .or_else(|| env.var("AWS_PROFILE"));
        let selected = named.clone().unwrap_or_else(|| "default".to_string());
        let credentials_text = credentials.to_string();
        if config.trim().is_empty() && credentials.trim().is_empty() {
            return Ok(Profiles {
                sections: None,
                selected,
                named,
                sdk_env,
                services_sections: Vec::new(),
                credentials_text,
                credentials_only: Default::default(),
            });
        }
        let files = EnvConfigFiles::builder()
            .with_file(EnvConfigFileKind::Config, config_path)
            .with_file(EnvConfigFileKind::Credentials, credentials_path)
            .build();
        // The SDK "reads" them from this map: what we read, bounded, once.
        let fs = aws_types::os_shim_internal::Fs::from_raw_map(
            [
                (
                    credentials_path.as_os_str().to_owned(),
                    credentials.as_bytes().to_vec(),
                ),
                (
                    config_path.as_os_str().to_owned(),
                    config.as_bytes().to_vec(),
                ),
            ]
            .into_iter()
            .collect(),
        );
        let sections = load_sections(&files, &fs, &sdk_env, profile)?;
        Ok(Profiles {
            selected,
            named,
            sections: Some(sections),
            sdk_env,
            services_sections: services_sections(config),
            credentials_text,
            credentials_only: Default::default(),
        })
    }

    /// The static keys the credentials file alone gives `profile`. botocore (and the Go SDK)
    /// use them before the profile's `credential_process`; aws-config runs the process first,
    /// and its merged view cannot tell which file a key came from.
    pub fn credentials_file_keys(&self, profile: &str) -> Result<Option<StaticKeys>, ProfileError> {
        if self.credentials_text.trim().is_empty() {
            return Ok(None);
        }
        let sections = self
            .credentials_only
            .get_or_init(|| {
                let files = EnvConfigFiles::builder()
                    .with_contents(
                        EnvConfigFileKind::Credentials,
                        self.credentials_text.as_str(),
                    )
                    .build();
                let fs = aws_types::os_shim_internal::Fs::from_slice(&[]);
                load_sections(&files, &fs, &self.sdk_env, None)
            })
            .as_ref()
            .map_err(Clone::clone)?;
        let Some(section) = sections.get_profile(profile) else {
            return Ok(None);
        };
        let get = |key: &str| {
            section
                .get(key)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Ok(get("aws_access_key_id")
            .zip(get("aws_secret_access_key"))
            .map(|(access_key_id, secret_access_key)| StaticKeys {
                access_key_id,
                secret_access_key,
                session_token: get("aws_session_token"),
            }))
    }

    pub fn selected(&self) -> &str {
        &self.selected
    }

    /// The selected profile when something named it (the config entry, else `AWS_PROFILE`),
    /// `None` when it is `default` for want of a name.
    pub fn named(&self) -> Option<&str> {
        self.named.as_deref()
    }

    /// A profile setting of the selected profile.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.sections.as_ref()?.get(key)
    }

    /// A setting of the named profile (both files merged, the credentials file winning).
    pub fn profile_setting(&self, profile: &str, key: &str) -> Option<&str> {
        self.sections.as_ref()?.get_profile(profile)?.get(key)
    }

    pub fn has_profile(&self, profile: &str) -> bool {
        self.sections
            .as_ref()
            .is_some_and(|s| s.get_profile(profile).is_some())
    }

    /// The settings that select a principal, along the selected profile's `source_profile`
    /// chain and into its `sso-session`, as `profile.key=value` lines. Secret keys are never
    /// read.
    pub fn identity_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut name = self.selected().to_string();
        let mut seen = Vec::new();
        let Some(sections) = &self.sections else {
            return lines;
        };
        while let Some(profile) = sections.get_profile(&name) {
            if seen.contains(&name) || seen.len() >= 16 {
                lines.push(format!("{name}.source_profile=<cycle>"));
                break;
            }
            seen.push(name.clone());
            for key in IDENTITY_KEYS {
                if let Some(v) = profile.get(key) {
                    lines.push(format!("{name}.{key}={v}"));
                }
            }
            if let Some(session) = profile
                .get("sso_session")
                .and_then(|s| sections.sso_session(s))
            {
                for key in ["sso_start_url", "sso_region"] {
                    if let Some(v) = session.get(key) {
                        lines.push(format!("sso-session.{key}={v}"));
                    }
                }
            }
            match profile.get("source_profile") {
                Some(next) if next != name => name = next.to_string(),
                _ => break,
            }
        }
        lines
    }

    /// The endpoint override for an SDK service (`ECR`, `ECR PUBLIC`), by the SDK's rule:
    /// `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, the profile's `[services]` section,
    /// the profile's `endpoint_url`; none when `ignore_configured_endpoint_urls` is set. With
    /// where it came from, for `doctor`. A `services` setting naming no section is an error,
    /// as in the AWS CLI (the SDK ignores it).
    pub fn endpoint_override(
        &self,
        service_id: &str,
    ) -> Result<Option<(String, String)>, ProfileError> {
        let ignore = EnvConfigValue::new()
            .env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .profile("ignore_configured_endpoint_urls")
            .load(&self.sdk_env, self.sections.as_ref())
            .is_some_and(|(v, _)| v.trim().eq_ignore_ascii_case("true"));
        if ignore {
            return Ok(None);
        }
        // The SDK's order: the variables (the service's, then the global one), then the
        // profile (its `[services]` entry, then `endpoint_url`).
        let from_env = EnvConfigValue::new()
            .env("AWS_ENDPOINT_URL")
            .service_id(service_id)
            .load(&self.sdk_env, None)
            .map(|(v, _)| v.into_owned());
        let from_profile = || -> Result<Option<String>, ProfileError> {
            Ok(self
                .services_endpoint(service_id)?
                .or_else(|| self.get("endpoint_url").map(str::to_string)))
        };
        let url = match from_env {
            Some(url) => url,
            None => match from_profile()? {
                Some(url) => url,
                None => return Ok(None),
            },
        };
        if url.is_empty() {
            return Ok(None);
        }
        // The SDK's own description of the source prints the value where the key belongs;
        // name the variable, or the profile, as users set them.
        let service_var = format!(
            "AWS_ENDPOINT_URL_{}",
            service_id.to_ascii_uppercase().replace(' ', "_")
        );
        let source = [service_var.as_str(), "AWS_ENDPOINT_URL"]
            .into_iter()
            .find(|var| self.sdk_env.get(var).ok().as_deref() == Some(url.as_str()))
            .map(str::to_string)
            .unwrap_or_else(|| format!("AWS config file, profile {:?}", self.selected()));
        Ok(Some((url, source)))
    }

    /// The `endpoint_url` of the service's entry in the selected profile's `[services]`
    /// section. AWS documents the entry's key as the service id in snake case (`ecr_public`),
    /// which the AWS CLI reads; the Rust SDK looks for kebab case (`ecr-public`) only. Both are
    /// accepted, the documented spelling first (for ECR the two are the same).
    fn services_endpoint(&self, service_id: &str) -> Result<Option<String>, ProfileError> {
        let Some(sections) = self.sections.as_ref() else {
            return Ok(None);
        };
        let Some(name) = sections.get("services") else {
            return Ok(None);
        };
        if !self.services_sections.iter().any(|s| s == name) {
            return Err(ProfileError::NoServicesSection {
                profile: self.selected.clone(),
                name: name.to_string(),
            });
        }
        let lower = service_id.to_ascii_lowercase();
        Ok([lower.replace(' ', "_"), lower.replace(' ', "-")]
            .into_iter()
            .find_map(|service| {
                let key = PropertiesKey::builder()
                    .section_key("services")
                    .section_name(name)
                    .property_name(service)
                    .sub_property_name("endpoint_url")
                    .build()
                    .ok()?;
                sections.other_sections().get(&key).map(|v| v.to_string())
            }))
    }

    /// A boolean setting by the SDK's rule (aws-config's `use_fips_provider` and its
    /// dual-stack twin): the variable, else the selected profile's key; `true` or `false` in
    /// any case, and anything else is no setting at all (the SDK logs it and goes on, as
    /// botocore does).
    pub fn sdk_flag(&self, var: &str, profile_key: &str) -> bool {
        EnvConfigValue::new()
            .env(var)
            .profile(profile_key)
            .load(&self.sdk_env, self.sections.as_ref())
            .is_some_and(|(v, _)| v.eq_ignore_ascii_case("true"))
    }
}

/// The names of the `[services NAME]` section headers in a config file's text.
fn services_sections(config: &str) -> Vec<String> {
    config
        .lines()
        .filter_map(|line| {
            let header = line.trim().strip_prefix('[')?.split(']').next()?;
            match header.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["services", name] => Some(name.to_string()),
                _ => None,
            }
        })
        .collect()
}

/// The files' contents through aws-config's own loader. With the contents given, the loader
/// reads nothing: its future completes at once.
fn load_sections(
    files: &EnvConfigFiles,
    fs: &aws_types::os_shim_internal::Fs,
    sdk_env: &aws_types::os_shim_internal::Env,
    profile: Option<&str>,
) -> Result<EnvConfigSections, ProfileError> {
    let chosen = profile.map(|p| Cow::Owned(p.to_string()));
    crate::text::poll_ready(aws_config::profile::load(fs, sdk_env, files, chosen))
        .ok_or_else(|| ProfileError::Parse("the profile loader did not finish".into()))?
        .map_err(|e| {
            // The top error says only "could not parse profile file"; its source says which
            // file and where.
            let parser = std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string());
            ProfileError::Parse(crate::text::one_line(&parser))
        })
}

/// A file's contents, or empty when it does not exist. Anything but a regular file is refused
/// before it is opened, and the read is bounded.
fn read_optional(
    path: Option<PathBuf>,
    var: &'static str,
    env: &dyn Env,
) -> Result<String, ProfileError> {
    let Some(path) = path else {
        return Ok(String::new());
    };
    let from_var = env.var(var).is_some();
    match read_bounded(&path, crate::fsutil::MAX_CONFIG_BYTES) {
        Ok(Some(text)) => Ok(text),
        Ok(None) => Ok(String::new()),
        Err(BoundedReadError::NotAFile) => Err(ProfileError::NotAFile {
            var,
            from_var,
            path,
        }),
        Err(BoundedReadError::TooLarge) => Err(ProfileError::TooLarge { path }),
        Err(BoundedReadError::Io(source)) => Err(ProfileError::Read {
            path,
            source: std::sync::Arc::new(source),
        }),
    }
}

#[derive(Debug)]
enum BoundedReadError {
    NotAFile,
    TooLarge,
    Io(std::io::Error),
}

/// Through the one reader every file goes through ([`crate::fsutil`]).
fn read_bounded(path: &Path, limit: u64) -> Result<Option<String>, BoundedReadError> {
    use crate::fsutil::{self, Links, ReadError};
    match fsutil::read_regular(path, limit, Links::Follow) {
        Ok(c) => Ok(Some(String::from_utf8_lossy(&c.bytes).into_owned())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(ReadError::NotRegular(_)) => Err(BoundedReadError::NotAFile),
        Err(ReadError::TooLarge(_)) => Err(BoundedReadError::TooLarge),
        Err(ReadError::Io(e)) => Err(BoundedReadError::Io(e)),
    }
}

/// A small file's contents (a token file, a machine id), or `None` when it is missing, not a
/// regular file, unreadable or over 64 KiB.
pub fn read_small_file(path: &Path) -> Option<String> {
    read_bounded(path, 64 * 1024).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    fn with_files(config: &str, credentials: &str, extra: &[(&str, &str)]) -> Profiles {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c"), config).unwrap();
        std::fs::write(dir.path().join("k"), credentials).unwrap();
        let c = dir.path().join("c");
        let k = dir.path().join("k");
        let mut vars = vec![
            ("AWS_CONFIG_FILE", c.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", k.to_str().unwrap()),
        ];
        vars.extend_from_slice(extra);
        Profiles::load(&MapEnv::new(&vars), None).unwrap()
    }

    #[test]
    fn identity_lines_follow_the_chain_and_never_hold_secrets() {
        let p = with_files(
            "[profile dev]\nrole_arn = arn:aws:iam::1:role/dev\nsource_profile = base\n\
             [profile base]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = r\n\
             [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n",
            "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = SECRETKEY\n",
            &[("AWS_PROFILE", "dev")],
        );
        let lines = p.identity_lines().join("\n");
        for want in [
            "dev.role_arn=arn:aws:iam::1:role/dev",
            "base.aws_access_key_id=AKIDBASE",
            "base.sso_role_name=r",
            "sso-session.sso_start_url=https://corp.awsapps.com/start",
        ] {
            assert!(lines.contains(want), "{want} missing from {lines}");
        }
        assert!(!lines.contains("SECRETKEY"));
    }

    #[test]
    fn endpoint_overrides_follow_the_sdk_rule() {
        let config = "[default]\nservices = local\n[services local]\necr =\n  endpoint_url = http://127.0.0.1:1\n";
        let p = with_files(config, "", &[]);
        assert_eq!(
            p.endpoint_override("ECR").unwrap().map(|e| e.0).as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(p.endpoint_override("ECR PUBLIC").unwrap(), None);
        let p = with_files(
            config,
            "",
            &[("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:2")],
        );
        assert_eq!(
            p.endpoint_override("ECR").unwrap().map(|e| e.0).as_deref(),
            Some("http://127.0.0.1:2")
        );
        let p = with_files(
            config,
            "",
            &[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:3"),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ],
        );
        assert_eq!(p.endpoint_override("ECR").unwrap(), None);
    }

    /// The AWS CLI refuses a `services` setting that names no section; a variable naming the
    /// endpoint comes first and is not refused, nor is anything when configured endpoints
    /// are ignored.
    #[test]
    fn a_services_setting_naming_no_section_is_an_error() {
        let config =
            "[default]\nservices = nope\n[services other]\necr =\n  endpoint_url = http://x\n";
        let err = with_files(config, "", &[])
            .endpoint_override("ECR")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "profile \"default\" sets `services = nope`, but the AWS config file has no [services nope] section; add it or remove the setting"
        );
        let p = with_files(
            config,
            "",
            &[("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:2")],
        );
        assert!(p.endpoint_override("ECR").unwrap().is_some());
        let p = with_files(
            config,
            "",
            &[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")],
        );
        assert_eq!(p.endpoint_override("ECR").unwrap(), None);
        let empty_section = "[default]\nservices = s\n[services s]\n";
        let p = with_files(empty_section, "", &[]);
        assert_eq!(p.endpoint_override("ECR").unwrap(), None);
    }

    #[test]
    fn a_parse_error_names_the_file_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            "[default]\nregion = us-east-1\nthis is not a setting\n",
        )
        .unwrap();
        let env = MapEnv::new(&[("AWS_CONFIG_FILE", config.to_str().unwrap())]);
        let err = Profiles::load(&env, None).err().unwrap().to_string();
        assert!(err.contains(config.to_str().unwrap()), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn an_unusable_default_file_is_not_blamed_on_its_variable() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".aws/config")).unwrap();
        let env = MapEnv::new(&[("HOME", home.path().to_str().unwrap())]);
        let err = Profiles::load(&env, None).err().unwrap().to_string();
        assert!(
            err.starts_with(home.path().join(".aws/config").to_str().unwrap()),
            "{err}"
        );
        assert!(
            err.contains("the default; AWS_CONFIG_FILE is unset"),
            "{err}"
        );
        let env = MapEnv::new(&[(
            "AWS_CONFIG_FILE",
            home.path().join(".aws/config").to_str().unwrap(),
        )]);
        let err = Profiles::load(&env, None).err().unwrap().to_string();
        assert!(err.starts_with("AWS_CONFIG_FILE /"), "{err}");
    }

    #[test]
    fn special_files_are_refused_without_blocking() {
        let env = MapEnv::new(&[("AWS_CONFIG_FILE", "/dev/zero")]);
        let err = Profiles::load(&env, None).err().unwrap();
        assert!(matches!(err, ProfileError::NotAFile { .. }), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        crate::platform::make_fifo(&fifo).unwrap();
        let env = MapEnv::new(&[("AWS_SHARED_CREDENTIALS_FILE", fifo.to_str().unwrap())]);
        let err = Profiles::load(&env, None).err().unwrap();
        assert!(matches!(err, ProfileError::NotAFile { .. }), "{err}");
    }
}
