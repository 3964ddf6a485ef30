//! Which registries are ECR, and what their host names say about account, region and endpoint.
//!
//! Everything here is pure: the server URL a client sends goes in, a [`Registry`] or `None`
//! comes out. Clients send many shapes of the same host (`host`, `host:443`, `https://host/v2/`,
//! `host/repo`), so normalisation and recognition live together.

/// DNS suffixes of the partitions that serve ECR registries.
pub(crate) const SUFFIXES: &[&str] = &[
    "amazonaws.com",
    "amazonaws.com.cn",
    "amazonaws.eu",
    "on.aws",
    "on.amazonwebservices.com.cn",
    "c2s.ic.gov",
    "sc2s.sgov.gov",
    "cloud.adc-e.uk",
    "csp.hci.ic.gov",
];

/// Host names of ECR Public.
pub(crate) const PUBLIC_HOSTS: &[&str] = &["public.ecr.aws", "ecr-public.aws.com"];

/// ECR Public's API exists only in this region.
pub const PUBLIC_REGION: &str = "us-east-1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registry {
    Private(PrivateRegistry),
    Public,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateRegistry {
    /// The 12-digit AWS account id.
    pub account: String,
    pub region: String,
    /// `dkr.ecr-fips…` hosts must be served a token from the FIPS API endpoint.
    pub fips: bool,
    /// `dkr-ecr…` hosts are the dual-stack (IPv4 + IPv6) names.
    pub dual_stack: bool,
}

impl Registry {
    /// The region whose API issues tokens for this registry.
    pub fn region(&self) -> &str {
        match self {
            Registry::Private(p) => &p.region,
            Registry::Public => PUBLIC_REGION,
        }
    }
}

/// Reduces whatever a client sent to a lower-case `host[:port]`: no scheme, user info, path,
/// query, trailing dot or default `:443`. Returns `None` when nothing host-like is left.
///
/// URLs carrying user info (`https://user:pass@host`) are refused: no client sends them, and
/// answering would mean echoing a password back.
pub fn normalize_host(server_url: &str) -> Option<String> {
    let s = server_url.trim();
    let rest = strip_prefix_ignore_case(s, "https://")
        .or_else(|| strip_prefix_ignore_case(s, "http://"))
        .unwrap_or(s);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    if !authority
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
    {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let (host, port) = split_port(&authority)?;
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    // `:443` is the HTTPS default; nerdctl sends it, docker does not. Both mean one registry.
    Some(match port {
        Some(p) if p != "443" => format!("{host}:{p}"),
        _ => host.to_string(),
    })
}

/// Recognises an ECR registry in a normalised `host[:port]`. Only the HTTPS port (implicit or
/// `:443`) is ECR: a registry on another port is somebody else's.
pub fn parse_registry(host_port: &str) -> Option<Registry> {
    let (host, port) = split_port(host_port)?;
    if port.is_some_and(|p| p != "443") {
        return None;
    }
    if PUBLIC_HOSTS.contains(&host) {
        return Some(Registry::Public);
    }
    parse_private(host).map(Registry::Private)
}

/// The private registry host forms: the labels between the account and the region
/// (`<account>.<form>.<region>.<suffix>`), and whether each is FIPS and dual-stack. The
/// kubelet's `matchImages` are generated from this table.
pub(crate) const PRIVATE_FORMS: &[(&str, bool, bool)] = &[
    ("dkr.ecr", false, false),
    ("dkr.ecr-fips", true, false),
    ("dkr-ecr", false, true),
    ("dkr-ecr-fips", true, true),
];

fn parse_private(host: &str) -> Option<PrivateRegistry> {
    let (account, rest) = host.split_once('.')?;
    let (rest, fips, dual_stack) = PRIVATE_FORMS.iter().find_map(|&(form, fips, dual)| {
        let rest = rest.strip_prefix(form)?.strip_prefix('.')?;
        Some((rest, fips, dual))
    })?;
    let (region, suffix) = rest.split_once('.')?;
    (is_account(account) && is_region(region) && SUFFIXES.contains(&suffix)).then(|| {
        PrivateRegistry {
            account: account.to_string(),
            region: region.to_string(),
            fips,
            dual_stack,
        }
    })
}

pub(crate) fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// AWS region names: lower-case words joined by hyphens, ending in a number
/// (`us-east-1`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`, `eusc-de-east-1`).
pub(crate) fn is_region(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    let Some((last, middle)) = rest.split_last() else {
        return false;
    };
    first.len() >= 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && middle
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// A reference (server URL, image, host) as it may be shown in a message: user info before
/// the host (`user:password@`) becomes `***@`. Nothing else changes, so the user still
/// recognises what they asked for. An image digest (`name@sha256:…`) is not user info.
pub fn redact_userinfo(reference: &str) -> String {
    let scheme_end = reference.find("://").map_or(0, |i| i + 3);
    let rest = &reference[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return reference.to_string();
    };
    // `nginx@sha256:<hex>` has no `/`, so its digest sits where user info would.
    if authority_end == rest.len() && is_digest(&rest[at + 1..]) {
        return reference.to_string();
    }
    format!("{}***@{}", &reference[..scheme_end], &rest[at + 1..])
}

/// `algorithm:hex`, as in an OCI digest (`sha256:…`, `sha512:…`).
fn is_digest(s: &str) -> bool {
    s.split_once(':').is_some_and(|(algorithm, hex)| {
        !algorithm.is_empty()
            && algorithm
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
            && hex.len() >= 32
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Splits `host[:port]`, handling bracketed IPv6 literals. `None` when the port is not a number.
fn split_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = if let Some(end) = authority
        .strip_prefix('[')
        .and_then(|_| authority.find(']'))
    {
        let host = &authority[..=end];
        match &authority[end + 1..] {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.contains(':') && !host.starts_with('[') {
        return None;
    }
    match port {
        Some(p) if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) => None,
        _ => Some((host, port)),
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(account: &str, region: &str, fips: bool, dual_stack: bool) -> Option<Registry> {
        Some(Registry::Private(PrivateRegistry {
            account: account.into(),
            region: region.into(),
            fips,
            dual_stack,
        }))
    }

    #[test]
    fn user_info_is_redacted_and_digests_are_not() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let cases = [
            ("u:p@h.example/app:1", "***@h.example/app:1".to_string()),
            (
                "https://u:p@h.example/v2/",
                "https://***@h.example/v2/".into(),
            ),
            ("u:p@h.example", "***@h.example".into()),
            ("a@b:c@h.example/x", "***@h.example/x".into()),
            ("h.example/app@sha256:0", "h.example/app@sha256:0".into()),
            (&format!("nginx@{digest}"), format!("nginx@{digest}")),
            (
                &format!("u:p@h/app@{digest}"),
                format!("***@h/app@{digest}"),
            ),
            ("plain.example/app", "plain.example/app".into()),
        ];
        for (input, want) in cases {
            assert_eq!(redact_userinfo(input), want, "{input}");
        }
    }

    #[test]
    fn recognises_every_partition_and_form() {
        let a = "123456789012";
        let cases: &[(&str, Option<Registry>)] = &[
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                private(a, "us-east-1", false, false),
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
                private(a, "us-gov-west-1", true, false),
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
                private(a, "cn-north-1", false, false),
            ),
            (
                "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
                private(a, "eusc-de-east-1", false, false),
            ),
            (
                "123456789012.dkr-ecr.eu-west-1.on.aws",
                private(a, "eu-west-1", false, true),
            ),
            (
                "123456789012.dkr-ecr-fips.us-east-2.on.aws",
                private(a, "us-east-2", true, true),
            ),
            (
                "123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn",
                private(a, "cn-northwest-1", false, true),
            ),
            (
                "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
                private(a, "us-iso-east-1", false, false),
            ),
            (
                "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
                private(a, "us-isob-east-1", false, false),
            ),
            (
                "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
                private(a, "eu-isoe-west-1", false, false),
            ),
            (
                "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
                private(a, "us-isof-south-1", false, false),
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com:443",
                private(a, "us-east-1", false, false),
            ),
            ("public.ecr.aws", Some(Registry::Public)),
            ("ecr-public.aws.com", Some(Registry::Public)),
            ("public.ecr.aws:443", Some(Registry::Public)),
        ];
        for (host, want) in cases {
            assert_eq!(&parse_registry(host), want, "{host}");
        }
    }

    #[test]
    fn refuses_look_alikes_and_near_misses() {
        let hosts = [
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
            "12345678901.dkr.ecr.us-east-1.amazonaws.com",
            "1234567890123.dkr.ecr.us-east-1.amazonaws.com",
            "12345678901a.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.org",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000",
            "123456789012.dkr.ecr.amazonaws.com",
            "123456789012.dkr.ecr.US-EAST-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east.amazonaws.com",
            "123456789012.dkr.ecrx.us-east-1.amazonaws.com",
            "123456789012.ecr.us-east-1.amazonaws.com",
            "evil.example/123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "public.ecr.aws.evil.example",
            "ecr.aws",
            "docker.io",
            "localhost:5000",
            "[::1]:443",
            "",
        ];
        for host in hosts {
            assert_eq!(parse_registry(host), None, "{host}");
        }
    }

    #[test]
    fn normalises_what_clients_send() {
        let h = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        let cases: &[(&str, Option<&str>)] = &[
            (h, Some(h)),
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com:443", Some(h)),
            (
                "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
                Some(h),
            ),
            (
                "http://123456789012.dkr.ecr.us-east-1.amazonaws.com",
                Some(h),
            ),
            (
                "HTTPS://123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM/v2/",
                Some(h),
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app",
                Some(h),
            ),
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com.", Some(h)),
            (
                "  https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/\n",
                Some(h),
            ),
            (
                "https://user:pass@123456789012.dkr.ecr.us-east-1.amazonaws.com",
                None,
            ),
            ("[::1]:5000", Some("[::1]:5000")),
            ("127.0.0.1:5000", Some("127.0.0.1:5000")),
            ("host:port", None),
            ("host:", None),
            ("a:b:c", None),
            ("{\"ServerURL\":\"x\"}", None),
            ("123456789012.dkr.ecr.us-east-1.amazonаws.com", None), // Cyrillic 'а'
            ("two words", None),
            ("https://", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_host(input).as_deref(), *want, "{input:?}");
        }
    }

    #[test]
    fn every_form_of_one_host_is_the_same_registry() {
        let forms = [
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com:443",
            "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com:443",
            "http://123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/library/app",
        ];
        for f in forms {
            let host = normalize_host(f).expect(f);
            assert_eq!(
                parse_registry(&host),
                private("123456789012", "eu-west-1", false, false),
                "{f}"
            );
        }
    }
}
