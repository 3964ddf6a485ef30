//! What `doctor` found, and how it reads. Rendering is a pure function of the collected
//! [`Diagnosis`], so every line a user sees is unit-tested.

use super::clients::Route;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// Unix milliseconds when the diagnosis was taken; expiries are shown relative to it.
    pub now_ms: u64,
    pub config: ConfigCheck,
    pub hosts: Vec<HostDiagnosis>,
    /// No host was given and no client config routes one to this helper.
    pub nothing_routed: bool,
    /// The client config files searched for routed hosts, when none was found.
    pub searched: Vec<PathBuf>,
    /// docker's file, when its `credsStore` sends every registry here.
    pub creds_store: Option<PathBuf>,
    /// The `credHelpers` value that means this helper (`ecr` for `docker-credential-ecr`).
    pub helper_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigCheck {
    /// The default path has no file: every registry uses the environment's AWS settings.
    Absent(Option<PathBuf>),
    Loaded(PathBuf),
    /// The helper fails every request until this is fixed.
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDiagnosis {
    /// What the user typed (or the `credHelpers` key it came from).
    pub input: String,
    pub registry: RegistryCheck,
    /// Only for ECR registries.
    pub details: Option<Details>,
    pub routes: Vec<Route>,
    /// Some client config file exists, so whether a client sends the host here is known.
    pub routing_known: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryCheck {
    NotAHost,
    /// Not ECR: the helper forwards it to `fallback` (a `docker-credential-*` name) or, with
    /// none, answers "not found".
    NotEcr {
        host: String,
        fallback: Option<String>,
    },
    /// Not an ECR host name, and whether the config file makes it an alias cannot be told.
    Unknown {
        host: String,
        why: String,
    },
    Ecr {
        host: String,
        description: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    /// `file:line` of the config entry that matched.
    pub config_entry: Option<String>,
    /// The config file parsed, so which entry matches (if any) is known.
    pub config_known: bool,
    /// Non-secret settings the entry chose (`profile "dev"`, `role …`).
    pub settings: Vec<String>,
    pub credentials: CredentialCheck,
    pub region: String,
    /// The API endpoint and where it comes from.
    pub endpoint: (String, String),
    /// The CA bundle AWS calls trust ([`crate::https::ca_bundle`]), when one is set.
    pub ca_bundle: Option<String>,
    pub cache: CacheCheck,
    pub fetch: FetchCheck,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialCheck {
    /// What the SDK's chain would use, from local facts.
    pub source: String,
    pub problems: Vec<String>,
    /// What the SDK itself resolved.
    pub resolved: Resolved,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Ok {
        /// Masked.
        key_id: String,
        provider: Option<String>,
        expires_ms: Option<u64>,
        took_ms: u64,
    },
    Failed {
        message: String,
        took_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheCheck {
    Disabled,
    /// No cache directory, and why ([`crate::dirs::NoCacheDir`]).
    Unavailable(String),
    /// Which entry a request would use cannot be told: why (the identity or config failed).
    Unknown(String),
    /// The cache directory cannot be used: why, in one line.
    Unusable(String),
    Entry {
        path: PathBuf,
        /// The rule that chose the directory ([`crate::dirs::CacheRule::describe`]).
        rule: String,
        state: EntryState,
        /// Which registries the entry serves ([`crate::identity::describe_scope`]).
        scope: String,
        /// The hosts it has answered so far.
        hosts: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryState {
    None,
    Token { expires_ms: u64, fresh: bool },
    Expired { expires_ms: u64 },
    Failure { at_ms: u64, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchCheck {
    Hit {
        took_ms: u64,
        expires_ms: u64,
    },
    Fetched {
        took_ms: u64,
        expires_ms: u64,
    },
    Failed {
        took_ms: u64,
        message: String,
    },
    /// Not attempted (the config file is invalid).
    Skipped(String),
}

impl Diagnosis {
    /// A token can be had for every host diagnosed (and there is at least one).
    pub fn healthy(&self) -> bool {
        !matches!(self.config, ConfigCheck::Invalid(_))
            && !self.hosts.is_empty()
            && self.hosts.iter().all(HostDiagnosis::works)
    }
}

impl HostDiagnosis {
    pub fn has_token(&self) -> bool {
        self.details
            .as_ref()
            .is_some_and(|d| matches!(d.fetch, FetchCheck::Hit { .. } | FetchCheck::Fetched { .. }))
    }

    /// Some client sends the host here (when the clients' files say anything at all).
    pub fn routed_here(&self) -> bool {
        !self.routing_known || self.routes.iter().any(|r| r.ours)
    }

    /// A token can be had, and a client that asks for one asks this helper.
    pub fn works(&self) -> bool {
        self.has_token() && self.routed_here()
    }
}

/// How marks are drawn: with ANSI colours on a terminal, plain otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

#[derive(Clone, Copy)]
enum Mark {
    Ok,
    Warn,
    Fail,
    Info,
}

impl Style {
    fn mark(self, m: Mark) -> String {
        let (sym, code) = match m {
            Mark::Ok => ("✓", "32"),
            Mark::Warn => ("!", "33"),
            Mark::Fail => ("✗", "31"),
            Mark::Info => ("·", "2"),
        };
        self.paint(sym, code)
    }

    fn bold(self, s: &str) -> String {
        self.paint(s, "1")
    }

    fn paint(self, s: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// The whole report, ending in a newline.
pub fn render(d: &Diagnosis, style: Style) -> String {
    let mut out = format!(
        "{} {} doctor\n",
        crate::program::NAME,
        crate::program::VERSION
    );
    let mut lines = Lines {
        out: &mut out,
        style,
    };
    let (mark, text) = config_line(&d.config);
    lines.line(mark, "config", &text);
    if let Some((mark, text)) = routing_line(d) {
        lines.line(mark, "routing", &text);
    }
    for host in &d.hosts {
        out.push('\n');
        out.push_str(&style.bold(&host.input));
        out.push('\n');
        render_host(&mut out, host, d.now_ms, style);
    }
    out.push('\n');
    out.push_str(&summary(d, style));
    out.push('\n');
    out
}

fn config_line(config: &ConfigCheck) -> (Mark, String) {
    match config {
        ConfigCheck::Absent(Some(path)) => (
            Mark::Info,
            format!(
                "{} not present (optional): registries use the environment's AWS settings",
                path.display()
            ),
        ),
        ConfigCheck::Absent(None) => (
            Mark::Info,
            "no config directory (HOME unset): registries use the environment's AWS settings"
                .into(),
        ),
        ConfigCheck::Loaded(path) => (Mark::Ok, format!("{} parses", path.display())),
        ConfigCheck::Invalid(message) => (
            Mark::Fail,
            format!("{message} (every request fails until it is fixed)"),
        ),
    }
}

/// Said only when no client file routes a host here: a `credsStore` naming this helper routes
/// every host, so the way to check one is to name it; with neither, nothing reaches the helper.
fn routing_line(d: &Diagnosis) -> Option<(Mark, String)> {
    if !d.nothing_routed {
        return None;
    }
    if let Some(path) = &d.creds_store {
        return Some((
            Mark::Info,
            format!(
                "{}: credsStore = \"{}\" sends every registry docker uses to this helper; name one to check it: `doctor <registry host>`",
                path.display(),
                d.helper_name
            ),
        ));
    }
    let files: Vec<String> = d.searched.iter().map(|p| p.display().to_string()).collect();
    Some((
        Mark::Fail,
        format!(
            "no client config routes a registry to this helper (searched {}); add {{\"credHelpers\": {{\"<registry host>\": \"{}\"}}}} or run `doctor <registry host>`",
            files.join(", "),
            d.helper_name
        ),
    ))
}

/// The last line: how many hosts a token can be had for, and how many of those no client
/// sends here (a token nobody asks this helper for does not make a host work).
fn summary(d: &Diagnosis, style: Style) -> String {
    let good = d.hosts.iter().filter(|h| h.has_token()).count();
    if d.healthy() {
        return format!(
            "{} a token can be had for {good} of {} registries",
            style.mark(Mark::Ok),
            d.hosts.len()
        );
    }
    if d.hosts.is_empty() {
        return format!("{} nothing to diagnose", style.mark(Mark::Fail));
    }
    let unrouted = d
        .hosts
        .iter()
        .filter(|h| h.has_token() && !h.routed_here())
        .count();
    let but = match unrouted {
        0 => String::new(),
        n => format!(", but no client sends {n} of them to this helper"),
    };
    format!(
        "{} a token can be had for {good} of {} registries{but}",
        style.mark(Mark::Fail),
        d.hosts.len()
    )
}

/// Where a report's lines go, and how their marks are drawn.
struct Lines<'a> {
    out: &'a mut String,
    style: Style,
}

impl Lines<'_> {
    fn line(&mut self, mark: Mark, label: &str, text: &str) {
        let mark = self.style.mark(mark);
        self.out.push_str(&format!("  {mark} {label:<13} {text}\n"));
    }
}

fn render_host(out: &mut String, h: &HostDiagnosis, now: u64, style: Style) {
    let mut lines = Lines { out, style };
    let (mark, text) = registry_line(&h.registry);
    lines.line(mark, "registry", &text);
    if h.registry == RegistryCheck::NotAHost {
        return;
    }
    match &h.details {
        Some(d) => render_details(&mut lines, d, &h.routes, now),
        None => render_foreign_routes(&mut lines, h),
    }
}

/// What the helper does with a host that is not ECR: the fallback store's answer, or "not found".
pub(crate) fn foreign_answer(fallback: Option<&str>) -> String {
    match fallback {
        Some(f) => format!("forwards it to docker-credential-{f} (fallback_store)"),
        None => "answers \"not found\" for it, so the client pulls anonymously".into(),
    }
}

fn registry_line(r: &RegistryCheck) -> (Mark, String) {
    match r {
        RegistryCheck::NotAHost => (
            Mark::Fail,
            "not a registry host or URL (expected host[:port], https://host/…)".into(),
        ),
        RegistryCheck::NotEcr { host, fallback } => {
            let answer = foreign_answer(fallback.as_deref());
            (
                Mark::Fail,
                format!(
                    "{host} is not an ECR registry (<account>.dkr.ecr.<region>.amazonaws.com, public.ecr.aws, …) and no config entry makes it an alias; the helper {answer}"
                ),
            )
        }
        RegistryCheck::Unknown { host, why } => (
            Mark::Fail,
            format!("cannot tell whether {host} is an alias of an ECR registry: {why}"),
        ),
        RegistryCheck::Ecr { description, .. } => (Mark::Ok, description.clone()),
    }
}

/// The lines of an ECR registry (or alias), in the order a request meets them.
fn render_details(lines: &mut Lines, d: &Details, routes: &[Route], now: u64) {
    lines.line(Mark::Info, "config entry", &entry_text(d));
    let c = &d.credentials;
    let (mark, resolved) = resolved_line(c, now);
    lines.line(mark, "credentials", &c.source);
    lines.line(Mark::Info, "", &resolved);
    for p in &c.problems {
        lines.line(Mark::Warn, "", p);
    }
    let api = format!("{} ({}), region {}", d.endpoint.0, d.endpoint.1, d.region);
    lines.line(Mark::Info, "api", &api);
    if let Some(bundle) = &d.ca_bundle {
        let trust = format!("CA bundle {bundle}: the only CAs that AWS calls trust");
        lines.line(Mark::Info, "tls", &trust);
    }
    let (mark, cache) = cache_line(&d.cache, now);
    lines.line(mark, "cache", &cache);
    if let CacheCheck::Entry { scope, hosts, .. } = &d.cache {
        let answered = match hosts.len() {
            0 => String::new(),
            1 => format!("; it has answered {}", hosts[0]),
            n => format!("; it has answered {n} registries: {}", hosts.join(", ")),
        };
        lines.line(Mark::Info, "", &format!("{scope}{answered}"));
    }
    for r in routes {
        let mark = if r.ours { Mark::Ok } else { Mark::Warn };
        lines.line(mark, r.client, &r.summary);
        for n in &r.notes {
            lines.line(Mark::Warn, "", n);
        }
    }
    let (mark, fetch) = fetch_line(&d.fetch, now);
    lines.line(mark, "token", &fetch);
}

fn entry_text(d: &Details) -> String {
    match &d.config_entry {
        _ if !d.config_known => {
            "not known: the config file is invalid, so which entry matches cannot be told".into()
        }
        Some(at) if d.settings.is_empty() => format!("entry at {at}"),
        Some(at) => format!("entry at {at}: {}", d.settings.join(", ")),
        None => "no entry matched: the environment's AWS settings apply".into(),
    }
}

/// What the SDK resolved; marked as a warning when the detected source has problems.
fn resolved_line(c: &CredentialCheck, now: u64) -> (Mark, String) {
    match &c.resolved {
        Resolved::Ok {
            key_id,
            provider,
            expires_ms,
            took_ms,
        } => {
            let provider = provider
                .as_ref()
                .map(|p| format!("{p}, "))
                .unwrap_or_default();
            let expiry = expires_ms
                .map(|e| format!(", expires {}", relative(e, now)))
                .unwrap_or_default();
            let mark = if c.problems.is_empty() {
                Mark::Ok
            } else {
                Mark::Warn
            };
            let text =
                format!("resolved by the SDK in {took_ms} ms ({provider}key {key_id}{expiry})");
            (mark, text)
        }
        Resolved::Failed { message, took_ms } => (
            Mark::Fail,
            format!("the SDK got no credentials after {took_ms} ms: {message}"),
        ),
    }
}

fn cache_line(cache: &CacheCheck, now: u64) -> (Mark, String) {
    match cache {
        CacheCheck::Disabled => (
            Mark::Info,
            "disabled (AWS_ECR_DISABLE_CACHE): every request calls the API".to_string(),
        ),
        CacheCheck::Unavailable(why) | CacheCheck::Unusable(why) => {
            (Mark::Warn, format!("{why}: every request calls the API"))
        }
        CacheCheck::Unknown(why) => (
            Mark::Warn,
            format!("cannot tell which entry a request would use: {why}"),
        ),
        CacheCheck::Entry {
            path, state, rule, ..
        } => {
            let (mark, what) = entry_state_line(state, now);
            (
                mark,
                format!("{} ({what}); directory from {rule}", path.display()),
            )
        }
    }
}

fn entry_state_line(state: &EntryState, now: u64) -> (Mark, String) {
    match state {
        EntryState::None => (Mark::Info, "no entry yet".to_string()),
        EntryState::Token {
            expires_ms,
            fresh: true,
        } => (
            Mark::Ok,
            format!("token valid, expires {}", relative(*expires_ms, now)),
        ),
        EntryState::Token {
            expires_ms,
            fresh: false,
        } => (
            Mark::Info,
            format!(
                "token due for refresh, expires {}",
                relative(*expires_ms, now)
            ),
        ),
        EntryState::Expired { expires_ms } => (
            Mark::Info,
            format!("token expired {}", relative(*expires_ms, now)),
        ),
        EntryState::Failure { at_ms, message } => (
            Mark::Warn,
            format!("last refresh failed {}: {message}", relative(*at_ms, now)),
        ),
    }
}

fn fetch_line(fetch: &FetchCheck, now: u64) -> (Mark, String) {
    match fetch {
        FetchCheck::Hit {
            took_ms,
            expires_ms,
        } => (
            Mark::Ok,
            format!(
                "cache hit in {took_ms} ms, expires {}",
                relative(*expires_ms, now)
            ),
        ),
        FetchCheck::Fetched {
            took_ms,
            expires_ms,
        } => (
            Mark::Ok,
            format!(
                "fetched in {took_ms} ms, expires {}",
                relative(*expires_ms, now)
            ),
        ),
        FetchCheck::Failed { took_ms, message } => {
            (Mark::Fail, format!("failed after {took_ms} ms: {message}"))
        }
        FetchCheck::Skipped(why) => (Mark::Fail, format!("not attempted: {why}")),
    }
}

/// A host this helper does not serve: routed here without a fallback store, clients get
/// "not found" for it, which is worth a warning.
fn render_foreign_routes(lines: &mut Lines, h: &HostDiagnosis) {
    let forwarded = matches!(
        &h.registry,
        RegistryCheck::NotEcr {
            fallback: Some(_),
            ..
        }
    );
    for r in &h.routes {
        let mark = if r.ours && !forwarded {
            Mark::Warn
        } else {
            Mark::Info
        };
        lines.line(mark, r.client, &r.summary);
    }
}

/// `in 11h29m` / `3m ago` / `now`: minutes are the precision that matters for tokens.
pub fn relative(at_ms: u64, now_ms: u64) -> String {
    let (ms, future) = if at_ms >= now_ms {
        (at_ms - now_ms, true)
    } else {
        (now_ms - at_ms, false)
    };
    let secs = ms / 1000;
    let text = match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        _ => format!("{}h{:02}m", secs / 3600, secs / 60 % 60),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::VERSION;

    const HOST: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    const NOW: u64 = 1_700_000_000_000;
    const HOUR: u64 = 3_600_000;

    fn working() -> Diagnosis {
        Diagnosis {
            now_ms: NOW,
            config: ConfigCheck::Absent(Some(
                "/home/u/.config/docker-credential-ecr/config.toml".into(),
            )),
            hosts: vec![HostDiagnosis {
                input: HOST.into(),
                registry: RegistryCheck::Ecr {
                    host: HOST.into(),
                    description: "ECR private registry: account 123456789012, region eu-west-1"
                        .into(),
                },
                details: Some(working_details()),
                routes: vec![Route {
                    client: "docker",
                    ours: true,
                    summary: format!(
                        "/home/u/.docker/config.json: credHelpers[\"{HOST}\"] = \"ecr\""
                    ),
                    notes: vec![],
                }],
                routing_known: true,
            }],
            nothing_routed: false,
            searched: vec![],
            creds_store: None,
            helper_name: "ecr".into(),
        }
    }

    /// What `working()`'s one host's checks found: environment keys, a fresh cached token.
    fn working_details() -> Details {
        Details {
            config_entry: None,
            config_known: true,
            settings: vec![],
            credentials: CredentialCheck {
                source: "environment (AWS_ACCESS_KEY_ID AKIA…MPLE)".into(),
                problems: vec![],
                resolved: Resolved::Ok {
                    key_id: "AKIA…MPLE".into(),
                    provider: Some("EnvironmentVariable".into()),
                    expires_ms: None,
                    took_ms: 2,
                },
            },
            region: "eu-west-1".into(),
            endpoint: (
                "https://api.ecr.eu-west-1.amazonaws.com".into(),
                "SDK default".into(),
            ),
            ca_bundle: None,
            cache: CacheCheck::Entry {
                path: "/c/abc.json".into(),
                rule: "AWS_ECR_CACHE_DIR".into(),
                state: EntryState::Token {
                    expires_ms: NOW + 11 * HOUR + 29 * 60_000,
                    fresh: true,
                },
                scope: "shared by every private registry in eu-west-1 that this identity pulls from, via ecr.eu-west-1".into(),
                hosts: vec![HOST.into(), "210987654321.dkr.ecr.eu-west-1.amazonaws.com".into()],
            },
            fetch: FetchCheck::Hit {
                took_ms: 1,
                expires_ms: NOW + 11 * HOUR + 29 * 60_000,
            },
        }
    }

    #[test]
    fn renders_a_working_setup() {
        let d = working();
        assert!(d.healthy());
        let text = render(&d, Style { color: false });
        let expected = format!(
            "docker-credential-ecr {VERSION} doctor
  · config        /home/u/.config/docker-credential-ecr/config.toml not present (optional): registries use the environment's AWS settings

{HOST}
  ✓ registry      ECR private registry: account 123456789012, region eu-west-1
  · config entry  no entry matched: the environment's AWS settings apply
  ✓ credentials   environment (AWS_ACCESS_KEY_ID AKIA…MPLE)
  ·               resolved by the SDK in 2 ms (EnvironmentVariable, key AKIA…MPLE)
  · api           https://api.ecr.eu-west-1.amazonaws.com (SDK default), region eu-west-1
  ✓ cache         /c/abc.json (token valid, expires in 11h29m); directory from AWS_ECR_CACHE_DIR
  ·               shared by every private registry in eu-west-1 that this identity pulls from, via ecr.eu-west-1; it has answered 2 registries: {HOST}, 210987654321.dkr.ecr.eu-west-1.amazonaws.com
  ✓ docker        /home/u/.docker/config.json: credHelpers[\"{HOST}\"] = \"ecr\"
  ✓ token         cache hit in 1 ms, expires in 11h29m

✓ a token can be had for 1 of 1 registries
"
        );
        assert_eq!(text, expected);
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn renders_failures_and_colours_only_when_asked() {
        let mut d = working();
        let details = d.hosts[0].details.as_mut().unwrap();
        details.credentials.resolved = Resolved::Failed {
            message: "no providers in chain provided credentials".into(),
            took_ms: 20,
        };
        details.fetch = FetchCheck::Failed {
            took_ms: 21,
            message: "no AWS credentials found: …".into(),
        };
        d.hosts.push(HostDiagnosis {
            input: "docker.io".into(),
            registry: RegistryCheck::NotEcr {
                host: "docker.io".into(),
                fallback: None,
            },
            details: None,
            routes: vec![],
            routing_known: true,
        });
        assert!(!d.healthy());
        let plain = render(&d, Style { color: false });
        assert!(
            plain.contains("  ✗ token         failed after 21 ms: no AWS credentials found: …\n")
        );
        assert!(plain.contains("  ✗ registry      docker.io is not an ECR registry"));
        assert!(plain.ends_with("✗ a token can be had for 0 of 2 registries\n"));
        let colored = render(&d, Style { color: true });
        assert!(colored.contains("\x1b[31m✗\x1b[0m"));
    }

    #[test]
    fn an_invalid_config_or_nothing_to_check_is_unhealthy() {
        let mut d = working();
        d.config = ConfigCheck::Invalid(
            "invalid config file /c.toml, line 3: unknown field `profil`".into(),
        );
        assert!(!d.healthy());
        assert!(render(&d, Style { color: false }).contains(
            "  ✗ config        invalid config file /c.toml, line 3: unknown field `profil` (every request fails until it is fixed)\n"
        ));
        let empty = Diagnosis {
            hosts: vec![],
            nothing_routed: true,
            searched: vec!["/h/.docker/config.json".into()],
            ..working()
        };
        assert!(!empty.healthy());
        let text = render(&empty, Style { color: false });
        assert!(text.contains(
            "no client config routes a registry to this helper (searched /h/.docker/config.json)"
        ));
        assert!(text.ends_with("✗ nothing to diagnose\n"));
    }

    #[test]
    fn relative_times() {
        assert_eq!(
            relative(NOW + 11 * HOUR + 29 * 60_000 + 999, NOW),
            "in 11h29m"
        );
        assert_eq!(relative(NOW + 5 * 60_000, NOW), "in 5m");
        assert_eq!(relative(NOW + 42_000, NOW), "in 42s");
        assert_eq!(relative(NOW - 3 * 60_000, NOW), "3m ago");
        assert_eq!(relative(NOW, NOW), "in 0s");
    }
}
