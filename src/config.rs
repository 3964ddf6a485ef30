//! Per-registry settings: which AWS profile or role obtains a registry's token, region and
//! endpoint overrides, and aliases that make a non-ECR host name (a DNS alias, a pull-through
//! front, a test registry) stand for an ECR registry.
//!
//! The file is TOML, read on every run (it is small; a hit must still know the identity it
//! serves). A file that exists but is wrong is an error naming file, line and field: silently
//! ignoring it would hand out the wrong identity's token.
//!
//! ```toml
//! fallback_store = "pass"                        # hosts that are not ECR: docker-credential-pass
//!
//! [[registry]]
//! match = "*.dkr.ecr.eu-west-1.amazonaws.com"   # exact host[:port], glob, 12-digit account, or "public"
//! profile = "prod"
//!
//! [[registry]]
//! match = "registry.example.com"                 # an alias: this host is that account's registry
//! account = "123456789012"
//! region = "us-east-1"
//! role_arn = "arn:aws:iam::123456789012:role/puller"
//!
//! [[registry]]
//! match = "210987654321"                         # this account's registries get a token of their own
//! share_token = false
//! ```

use crate::env::Env;
use crate::registry::{self, PrivateRegistry, Registry};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const ENV_VAR: &str = "DOCKER_CREDENTIAL_ECR_CONFIG";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: crate::fsutil::ReadError,
    },
    #[error("refusing config file {}: {why}", path.display())]
    Unsafe { path: PathBuf, why: String },
    #[error("invalid config file {}, line {line}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// How to obtain the token of a registry that matched a config entry, or the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub profile: Option<String>,
    pub role: Option<Role>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    /// `share_token = false`: the registry's token is fetched and cached for it alone, not
    /// shared with the other registries of its region (see [`crate::identity::scope`]).
    pub own_token: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub arn: String,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
}

/// A registry host resolved to the ECR registry it is and how to get its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Normalised `host[:port]` as the client named it.
    pub host: String,
    pub registry: Registry,
    pub settings: Settings,
    /// Where the settings came from (`file:line`), for `doctor`.
    pub source: Option<String>,
}

impl Target {
    /// The region whose API is asked for the token.
    pub fn api_region(&self) -> &str {
        self.settings
            .region
            .as_deref()
            .unwrap_or_else(|| self.registry.region())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Public,
    Account(String),
    /// A `host[:port]` where `*` stands for one DNS label.
    Host(String),
}

#[derive(Debug, Clone)]
struct Entry {
    pattern: Pattern,
    /// Makes a non-ECR host stand for this registry.
    alias: Option<Registry>,
    settings: Settings,
    /// `account`, which only an alias may set (`settings` has the region).
    account: Option<String>,
    line: usize,
    /// The lines of `region` and `account`, for the error when they contradict a host.
    region_line: usize,
    account_line: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Config {
    path: Option<PathBuf>,
    entries: Vec<Entry>,
    /// The credential helper (`docker-credential-<name>`) that keeps what is not ECR.
    fallback_store: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    fallback_store: Option<toml::Spanned<String>>,
    #[serde(default)]
    registry: Vec<toml::Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(rename = "match")]
    pattern: String,
    profile: Option<String>,
    role_arn: Option<String>,
    external_id: Option<String>,
    role_session_name: Option<String>,
    region: Option<toml::Spanned<String>>,
    endpoint: Option<String>,
    account: Option<toml::Spanned<String>>,
    public: Option<bool>,
    share_token: Option<bool>,
}

/// The config file's path: `$DOCKER_CREDENTIAL_ECR_CONFIG` (a leading `~` expanded by the
/// rule every path variable follows), else `config.toml` in the user's config directory
/// (`~/.config/docker-credential-ecr/` on Linux).
pub fn path(env: &dyn Env) -> Option<PathBuf> {
    if let Some(p) = env.var(ENV_VAR) {
        // With no home to expand `~` to, the literal path: a file named explicitly and not
        // found is an error, never a silently empty config.
        return Some(crate::dirs::expand_tilde(&p, env).unwrap_or_else(|| PathBuf::from(p)));
    }
    crate::dirs::config_dir(env).map(|d| d.join("config.toml"))
}

impl Config {
    /// Loads the config file. A missing default file is an empty config; a missing file that
    /// `$DOCKER_CREDENTIAL_ECR_CONFIG` names explicitly is an error.
    pub fn load(env: &dyn Env) -> Result<Config, ConfigError> {
        let Some(path) = path(env) else {
            return Ok(Config::default());
        };
        // Read on every request: a FIFO or /dev/zero named here must not hang or fill memory.
        let contents = crate::fsutil::read_regular(
            &path,
            crate::fsutil::MAX_CONFIG_BYTES,
            crate::fsutil::Links::Follow,
        );
        match contents {
            Ok(contents) => {
                check_only_owner_writes(&path, &contents.meta).map_err(|why| {
                    ConfigError::Unsafe {
                        path: path.clone(),
                        why,
                    }
                })?;
                let text = String::from_utf8(contents.bytes).map_err(|_| ConfigError::Read {
                    path: path.clone(),
                    source: crate::fsutil::ReadError::Io(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "it is not UTF-8 text",
                    )),
                })?;
                Config::parse(&text, &path)
            }
            Err(e) if e.is_not_found() && env.var(ENV_VAR).is_none() => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |offset: usize, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: line_of(text, offset),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            invalid(offset, e.message().trim().replace('\n', " "))
        })?;
        let entries = raw
            .registry
            .into_iter()
            .enumerate()
            .map(|(index, spanned)| {
                let offset = spanned.span().start;
                let raw = spanned.into_inner();
                let line = |field: &Option<toml::Spanned<String>>| {
                    line_of(text, field.as_ref().map_or(offset, |f| f.span().start))
                };
                let lines = (line_of(text, offset), line(&raw.region), line(&raw.account));
                Entry::from_raw(raw, lines).map_err(|e| {
                    let at = field_offset(text, index, e.field).unwrap_or(offset);
                    invalid(at, e.message)
                })
            })
            .collect::<Result<_, _>>()?;
        let fallback_store = match raw.fallback_store {
            Some(name) if !is_helper_name(name.get_ref()) => {
                return Err(invalid(
                    name.span().start,
                    format!(
                        "field `fallback_store`: {:?} is not a credential helper name; give the part after docker-credential- (\"pass\" runs docker-credential-pass)",
                        name.get_ref()
                    ),
                ));
            }
            other => other.map(toml::Spanned::into_inner),
        };
        Ok(Config {
            path: Some(path.to_path_buf()),
            entries,
            fallback_store,
        })
    }

    /// The helper that keeps credentials for hosts that are not ECR: `pass` for
    /// `docker-credential-pass`.
    pub fn fallback_store(&self) -> Option<&str> {
        self.fallback_store.as_deref()
    }

    /// Resolves a normalised `host[:port]` to its ECR registry and settings; `None` when the
    /// host is neither an ECR registry nor an alias of one. The first matching entry wins; one
    /// whose `region` or `account` contradicts what an ECR host names itself is an error.
    pub fn resolve(&self, host: &str) -> Result<Option<Target>, ConfigError> {
        let ecr = registry::parse_registry(host);
        let entry = self.entries.iter().find(|e| e.matches(host, ecr.as_ref()));
        if let (Some(e), Some(registry)) = (entry, &ecr)
            && let Some((line, message)) = e.contradiction(host, registry)
        {
            return Err(ConfigError::Invalid {
                path: self.path.clone().unwrap_or_else(|| PathBuf::from("config")),
                line,
                message,
            });
        }
        let Some(registry) = ecr.or_else(|| entry?.alias.clone()) else {
            return Ok(None);
        };
        Ok(Some(Target {
            host: host.to_string(),
            registry,
            settings: entry.map(|e| e.settings.clone()).unwrap_or_default(),
            source: entry.map(|e| {
                let file = self.path.as_deref().unwrap_or(Path::new("config"));
                format!("{}:{}", file.display(), e.line)
            }),
        }))
    }
}

/// What is wrong with a `[[registry]]` entry, and the field whose line the error points at.
#[derive(Debug)]
struct EntryError {
    field: &'static str,
    message: String,
}

impl EntryError {
    fn at(field: &'static str, message: impl Into<String>) -> EntryError {
        EntryError {
            field,
            message: message.into(),
        }
    }
}

impl Entry {
    /// `lines`: the entry's header, its `region` and its `account` (the header's when absent).
    fn from_raw(raw: RawEntry, lines: (usize, usize, usize)) -> Result<Entry, EntryError> {
        let (line, region_line, account_line) = lines;
        let pattern = parse_pattern(&raw.pattern)?;
        check_settings(&raw)?;
        let alias = alias_of(&raw)?;
        if let Pattern::Host(host) = &pattern
            && !host.contains('*')
        {
            check_alias(host, alias.is_some(), raw.account.is_some())?;
        }
        let region = raw.region.map(toml::Spanned::into_inner);
        let account = raw.account.map(toml::Spanned::into_inner);
        Ok(Entry {
            pattern,
            alias,
            settings: Settings {
                profile: raw.profile,
                role: raw.role_arn.map(|arn| Role {
                    arn,
                    external_id: raw.external_id,
                    session_name: raw.role_session_name,
                }),
                region,
                endpoint: raw.endpoint,
                own_token: raw.share_token == Some(false),
            },
            account,
            line,
            region_line,
            account_line,
        })
    }

    /// The line and message of a `region` or `account` that contradicts what the ECR host
    /// `host` names itself (ECR Public: its API's one region, and no account). Those fields
    /// say where an alias host's tokens come from; obeying them for a host that names its own
    /// would fetch a token that registry refuses.
    fn contradiction(&self, host: &str, registry: &Registry) -> Option<(usize, String)> {
        let (own_region, own_account) = match registry {
            Registry::Private(p) => (p.region.as_str(), Some(p.account.as_str())),
            Registry::Public => (registry::PUBLIC_REGION, None),
        };
        let (line, field, value, which) = match (&self.settings.region, &self.account) {
            (Some(r), _) if r != own_region => (
                self.region_line,
                "region",
                r,
                match registry {
                    Registry::Private(_) => format!("names its own region ({own_region})"),
                    Registry::Public => format!("is ECR Public, whose API is in {own_region} only"),
                },
            ),
            (_, Some(a)) if Some(a.as_str()) != own_account => (
                self.account_line,
                "account",
                a,
                own_account.map_or("is ECR Public, which has no account".into(), |own| {
                    format!("names its own account ({own})")
                }),
            ),
            _ => return None,
        };
        Some((
            line,
            format!(
                "field `{field}`: {value:?} contradicts {host}, which {which}; `region` and `account` are for alias hosts: remove the field, or narrow `match` (entry at line {})",
                self.line
            ),
        ))
    }

    fn matches(&self, host: &str, ecr: Option<&Registry>) -> bool {
        match (&self.pattern, ecr) {
            (Pattern::Public, Some(Registry::Public)) => true,
            (Pattern::Account(a), Some(Registry::Private(p))) => &p.account == a,
            (Pattern::Host(pattern), _) => host_glob_matches(pattern, host),
            _ => false,
        }
    }
}

/// What an entry's `match` stands for.
fn parse_pattern(pattern: &str) -> Result<Pattern, EntryError> {
    let text = pattern.trim().to_ascii_lowercase();
    if text == "public" {
        Ok(Pattern::Public)
    } else if registry::is_account(&text) {
        Ok(Pattern::Account(text))
    } else if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:*[]".contains(&b))
    {
        Ok(Pattern::Host(
            text.strip_suffix(":443").unwrap_or(&text).to_string(),
        ))
    } else {
        Err(EntryError::at(
            "match",
            format!(
                "field `match`: {pattern:?} is not a host[:port], a host glob, a 12-digit account id or \"public\""
            ),
        ))
    }
}

/// The region, endpoint and role settings, each on its own.
fn check_settings(raw: &RawEntry) -> Result<(), EntryError> {
    if let Some(region) = raw.region.as_ref().map(toml::Spanned::get_ref)
        && !registry::is_region(region)
    {
        return Err(EntryError::at(
            "region",
            format!("field `region`: {region:?} is not an AWS region name"),
        ));
    }
    if let Some(endpoint) = &raw.endpoint
        && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
    {
        return Err(EntryError::at(
            "endpoint",
            format!("field `endpoint`: {endpoint:?} must start with https:// or http://"),
        ));
    }
    if let Some(arn) = &raw.role_arn
        && !is_role_arn(arn)
    {
        return Err(EntryError::at(
            "role_arn",
            format!(
                "field `role_arn`: {arn:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/name)"
            ),
        ));
    }
    if raw.role_arn.is_none() && (raw.external_id.is_some() || raw.role_session_name.is_some()) {
        return Err(EntryError::at(
            if raw.external_id.is_some() {
                "external_id"
            } else {
                "role_session_name"
            },
            "fields `external_id` and `role_session_name` need `role_arn`",
        ));
    }
    Ok(())
}

/// The registry an alias entry (`account` and `region`, or `public`) makes its host stand for.
fn alias_of(raw: &RawEntry) -> Result<Option<Registry>, EntryError> {
    let account = raw.account.as_ref().map(toml::Spanned::get_ref);
    let alias = match (account, raw.public.unwrap_or(false)) {
        (Some(_), true) => {
            return Err(EntryError::at(
                "public",
                "fields `account` and `public` exclude each other",
            ));
        }
        (Some(account), false) => {
            if !registry::is_account(account) {
                return Err(EntryError::at(
                    "account",
                    format!("field `account`: {account:?} is not a 12-digit AWS account id"),
                ));
            }
            let Some(region) = raw.region.as_ref().map(|r| r.get_ref().clone()) else {
                return Err(EntryError::at(
                    "account",
                    "field `region` is required with `account` (an alias needs both)",
                ));
            };
            Some(Registry::Private(PrivateRegistry {
                account: account.clone(),
                region,
                fips: false,
                dual_stack: false,
            }))
        }
        (None, true) => Some(Registry::Public),
        (None, false) => None,
    };
    Ok(alias)
}

/// An exact host must be an ECR registry, or an alias of one, and not both.
fn check_alias(host: &str, alias: bool, account: bool) -> Result<(), EntryError> {
    let is_ecr = registry::parse_registry(host).is_some();
    if is_ecr && alias {
        return Err(EntryError::at(
            if account { "account" } else { "public" },
            format!(
                "fields `account`/`public`: {host} is already an ECR registry and cannot be an alias"
            ),
        ));
    }
    if !is_ecr && !alias {
        return Err(EntryError::at(
            "match",
            format!(
                "field `match`: {host} is not an ECR registry; add `account` and `region` (or `public = true`) to make it an alias"
            ),
        ));
    }
    Ok(())
}

/// ssh's rule for its own files: the config decides which host gets a token (an alias sends
/// it anywhere), so a file that users other than its owner and root can write, or one in a
/// directory they can write (unless sticky, as `/tmp` is, and owned by root or this user), is
/// refused. Both the path as named and the file a link leads to are checked.
fn check_only_owner_writes(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    use crate::platform;
    if platform::is_null_device(meta) {
        return Ok(());
    }
    let file_owner = platform::owner(meta).0;
    if platform::writable_by_others(meta) {
        return Err(format!(
            "it is writable by users other than its owner (mode {:04o}); run chmod go-w on it",
            platform::mode(meta)
        ));
    }
    let trusted = [0, platform::euid(), file_owner];
    let real = std::fs::canonicalize(path).ok();
    let named = path.is_absolute().then_some(path);
    // Every request reads the config, hits included: a path without links is walked once.
    let real = real.filter(|r| Some(r.as_path()) != named);
    for file in named.into_iter().chain(real.as_deref()) {
        for dir in file.ancestors().skip(1) {
            let Ok(m) = std::fs::metadata(dir) else {
                continue;
            };
            let owner = platform::owner(&m).0;
            let sticky = platform::mode(&m) & 0o1000 != 0;
            let d = dir.display();
            if !trusted.contains(&owner) {
                return Err(format!(
                    "the directory {d} belongs to uid {owner}, not to the file's owner or root, and that user could replace the file; keep it in a directory of yours"
                ));
            }
            if platform::writable_by_others(&m) && !sticky {
                return Err(format!(
                    "the directory {d} is writable by users other than its owner (mode {:04o}, not sticky), who could replace the file; run chmod go-w {d}, or move the file",
                    platform::mode(&m)
                ));
            }
        }
    }
    Ok(())
}

/// `*` matches exactly one DNS label, as in the kubelet's `matchImages`.
fn host_glob_matches(pattern: &str, host: &str) -> bool {
    let (p_host, p_port) = pattern.rsplit_once(':').unwrap_or((pattern, ""));
    let (h_host, h_port) = host.rsplit_once(':').unwrap_or((host, ""));
    if p_port != h_port {
        return false;
    }
    let p_labels: Vec<&str> = p_host.split('.').collect();
    let h_labels: Vec<&str> = h_host.split('.').collect();
    p_labels.len() == h_labels.len()
        && p_labels
            .iter()
            .zip(&h_labels)
            .all(|(p, h)| label_matches(p, h))
}

/// `*` matches any run of characters within the label. Greedy, backtracking only to the last
/// star: at worst pattern length x label length, where trying every split for every star was
/// exponential in the number of stars (a 12-star pattern against a 40-character label ran for
/// minutes).
fn label_matches(pattern: &str, label: &str) -> bool {
    let (p, l) = (pattern.as_bytes(), label.as_bytes());
    let (mut pi, mut li) = (0, 0);
    // After the last star seen: where the pattern resumes, and where in the label it tried.
    let mut last_star: Option<(usize, usize)> = None;
    while li < l.len() {
        if p.get(pi) == Some(&b'*') {
            pi += 1;
            last_star = Some((pi, li));
        } else if p.get(pi) == Some(&l[li]) {
            pi += 1;
            li += 1;
        } else if let Some((resume, tried)) = last_star {
            // Let the star take one more character and try again.
            pi = resume;
            li = tried + 1;
            last_star = Some((resume, tried + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// What clients accept after `docker-credential-`: a file name, never a path or an option.
fn is_helper_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

pub(crate) fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws") && registry::is_account(account) && resource.starts_with("role/") && resource.len() > 5)
}

/// Where the `field` key of the `index`th `[[registry]]` entry is written, so that an error
/// points at its line rather than the entry's header. Only called for a file that parsed.
fn field_offset(text: &str, index: usize, field: &str) -> Option<usize> {
    let root = toml::de::DeTable::parse(text).ok()?.into_inner();
    let (_, registries) = root.iter().find(|(k, _)| k.get_ref() == "registry")?;
    let toml::de::DeValue::Array(entries) = registries.get_ref() else {
        return None;
    };
    let toml::de::DeValue::Table(entry) = entries.get(index)?.get_ref() else {
        return None;
    };
    let (key, _) = entry.iter().find(|(k, _)| k.get_ref() == field)?;
    Some(key.span().start)
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/ecr.toml"))
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn no_file_resolves_plain_ecr_hosts_only() {
        let c = Config::default();
        let t = c
            .resolve("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
            .unwrap()
            .unwrap();
        assert_eq!(t.api_region(), "eu-west-1");
        assert_eq!(t.settings, Settings::default());
        assert!(c.resolve("registry.example.com").unwrap().is_none());
        assert_eq!(
            c.resolve("public.ecr.aws").unwrap().unwrap().api_region(),
            "us-east-1"
        );
    }

    #[test]
    fn first_match_wins_across_pattern_kinds() {
        let c = parse(
            r#"
[[registry]]
match = "public"
profile = "pub"

[[registry]]
match = "*.dkr.ecr.eu-west-1.amazonaws.com"
profile = "eu"

[[registry]]
match = "210987654321"
profile = "acct"
role_arn = "arn:aws:iam::210987654321:role/puller"
external_id = "x"
"#,
        )
        .unwrap();
        let profile = |h: &str| c.resolve(h).unwrap().and_then(|t| t.settings.profile);
        assert_eq!(profile("public.ecr.aws").as_deref(), Some("pub"));
        assert_eq!(
            profile("123456789012.dkr.ecr.eu-west-1.amazonaws.com").as_deref(),
            Some("eu")
        );
        assert_eq!(
            profile("210987654321.dkr.ecr.eu-west-1.amazonaws.com").as_deref(),
            Some("eu")
        );
        assert_eq!(
            profile("210987654321.dkr.ecr.us-east-1.amazonaws.com").as_deref(),
            Some("acct")
        );
        assert_eq!(
            profile("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
            None
        );
        let t = c
            .resolve("210987654321.dkr.ecr.us-east-1.amazonaws.com")
            .unwrap()
            .unwrap();
        assert_eq!(t.source.as_deref(), Some("/etc/ecr.toml:10"));
        assert_eq!(t.settings.role.unwrap().external_id.as_deref(), Some("x"));
    }

    #[test]
    fn alias_makes_a_custom_host_an_ecr_registry() {
        let c = parse(
            "[[registry]]\nmatch = \"Registry.Example.com:443\"\naccount = \"123456789012\"\nregion = \"eu-central-1\"\n\n[[registry]]\nmatch = \"127.0.0.1:5000\"\npublic = true\n",
        )
        .unwrap();
        let t = c.resolve("registry.example.com").unwrap().unwrap();
        assert_eq!(
            t.registry,
            Registry::Private(PrivateRegistry {
                account: "123456789012".into(),
                region: "eu-central-1".into(),
                fips: false,
                dual_stack: false
            })
        );
        assert_eq!(
            c.resolve("127.0.0.1:5000").unwrap().unwrap().registry,
            Registry::Public
        );
        assert!(c.resolve("127.0.0.1:5001").unwrap().is_none());
    }

    #[test]
    fn the_config_variable_expands_a_tilde_as_the_cache_variable_does() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        let env = crate::env::MapEnv::new(&[(ENV_VAR, "~/x.toml"), ("HOME", h)]);
        assert_eq!(path(&env), Some(home.path().join("x.toml")));
        let env = crate::env::MapEnv::new(&[(ENV_VAR, "~/x.toml")]);
        assert_eq!(path(&env), Some(PathBuf::from("~/x.toml")));
        assert!(Config::load(&env).is_err());
    }

    #[test]
    fn errors_name_file_line_and_field() {
        assert_eq!(
            err("\n\n[[registry]]\nmatch = \"public\"\nprofil = \"x\"\n"),
            "invalid config file /etc/ecr.toml, line 5: unknown field `profil`, expected one of `match`, `profile`, `role_arn`, `external_id`, `role_session_name`, `region`, `endpoint`, `account`, `public`, `share_token`"
        );
        assert!(err("[[registry]]\nmatch = \"x.example\"\n").starts_with("invalid config file /etc/ecr.toml, line 2: field `match`: x.example is not an ECR registry"));
        assert!(
            err("[[registry]]\nmatch = \"a.example\"\naccount = \"1234\"\nregion=\"us-east-1\"\n")
                .contains("field `account`")
        );
        assert!(
            err("[[registry]]\nmatch = \"a.example\"\naccount = \"123456789012\"\n")
                .contains("field `region` is required")
        );
        assert!(
            err("[[registry]]\nmatch = \"public\"\nregion = \"Mars\"\n").contains("field `region`")
        );
        assert!(
            err("[[registry]]\nmatch = \"public\"\nrole_arn = \"nope\"\n")
                .contains("field `role_arn`")
        );
        assert!(
            err("[[registry]]\nmatch = \"public\"\nexternal_id = \"x\"\n")
                .contains("need `role_arn`")
        );
        assert!(
            err("[[registry]]\nmatch = \"public\"\nendpoint = \"ftp://x\"\n")
                .contains("field `endpoint`")
        );
        assert!(err("[[registry]]\nmatch = \"a b\"\n").contains("field `match`"));
        assert!(err("registry = 3").contains("line 1"));
        assert!(err("[[registry]\n").contains("line 1"));
    }

    /// The line is the field's, not the `[[registry]]` header's: in a long entry (or the second
    /// of two) the header is far from what is wrong.
    #[test]
    fn errors_point_at_the_fields_line() {
        let two = "[[registry]]\nmatch = \"public\"\n\n[[registry]]\n# a comment\nmatch = \"123456789012\"\nprofile = \"p\"\n";
        for (extra, line) in [
            ("region = \"Mars\"", 8),
            ("endpoint = \"ftp://x\"", 8),
            ("role_arn = \"nope\"", 8),
            ("external_id = \"x\"", 8),
            (
                "  public = true\naccount = \"123456789012\"\nregion = \"us-east-1\"",
                8,
            ),
        ] {
            let e = err(&format!("{two}{extra}\n"));
            assert!(e.contains(&format!(", line {line}: ")), "{extra}: {e}");
        }
        let e = err("[[registry]]\nprofile = \"p\"\nmatch = \"x.example\"\n");
        assert!(e.contains(", line 3: field `match`"), "{e}");
        let e =
            err("[[registry]]\nmatch = \"a.example\"\nregion = \"us-east-1\"\naccount = \"1\"\n");
        assert!(e.contains(", line 4: field `account`"), "{e}");
    }

    /// `region` and `account` are for alias hosts: an entry that matches a host naming its own
    /// and says another is an error at the field's line, naming the entry; the same values
    /// are no contradiction, and aliases keep theirs.
    #[test]
    fn region_and_account_must_not_contradict_the_host() {
        let c = parse(
            "[[registry]]\nmatch = \"123456789012\"\nprofile = \"p\"\nregion = \"eu-west-1\"\n\n\
             [[registry]]\nmatch = \"*.dkr.ecr.us-west-2.amazonaws.com\"\naccount = \"210987654321\"\nregion = \"us-west-2\"\n\n\
             [[registry]]\nmatch = \"public\"\nregion = \"eu-west-1\"\n\n\
             [[registry]]\nmatch = \"registry.example.com\"\naccount = \"123456789012\"\nregion = \"ap-south-1\"\n",
        )
        .unwrap();
        let err = |h: &str| c.resolve(h).unwrap_err().to_string();
        assert_eq!(
            err("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
            "invalid config file /etc/ecr.toml, line 4: field `region`: \"eu-west-1\" contradicts \
             123456789012.dkr.ecr.us-east-1.amazonaws.com, which names its own region (us-east-1); \
             `region` and `account` are for alias hosts: remove the field, or narrow `match` (entry at line 1)"
        );
        let t = c.resolve("123456789012.dkr.ecr.eu-west-1.amazonaws.com");
        assert_eq!(t.unwrap().unwrap().api_region(), "eu-west-1");
        assert!(
            err("111111111111.dkr.ecr.us-west-2.amazonaws.com").starts_with(
                "invalid config file /etc/ecr.toml, line 8: field `account`: \"210987654321\" contradicts \
                 111111111111.dkr.ecr.us-west-2.amazonaws.com, which names its own account (111111111111)"
            )
        );
        let t = c.resolve("210987654321.dkr.ecr.us-west-2.amazonaws.com");
        assert_eq!(t.unwrap().unwrap().api_region(), "us-west-2");
        assert!(
            err("public.ecr.aws").contains(
                "line 13: field `region`: \"eu-west-1\" contradicts public.ecr.aws, which is ECR Public, whose API is in us-east-1 only"
            )
        );
        let alias = c.resolve("registry.example.com").unwrap().unwrap();
        assert_eq!(alias.api_region(), "ap-south-1");
    }

    #[test]
    fn fallback_store_names_a_helper() {
        let c = parse("fallback_store = \"pass\"\n").unwrap();
        assert_eq!(c.fallback_store(), Some("pass"));
        assert_eq!(parse("").unwrap().fallback_store(), None);
        for bad in ["", "../pass", "-x", "a b", "docker-credential-pass/x"] {
            let e = err(&format!("\n\nfallback_store = {bad:?}\n"));
            assert!(
                e.starts_with("invalid config file /etc/ecr.toml, line 3: field `fallback_store`"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn globs_match_one_label() {
        assert!(host_glob_matches("*.example.com", "a.example.com"));
        assert!(!host_glob_matches("*.example.com", "a.b.example.com"));
        assert!(host_glob_matches("reg-*.example.com", "reg-eu.example.com"));
        assert!(!host_glob_matches("reg-*.example.com", "cache.example.com"));
        assert!(host_glob_matches(
            "*.example.com:5000",
            "a.example.com:5000"
        ));
        assert!(!host_glob_matches("*.example.com", "a.example.com:5000"));
    }
}
