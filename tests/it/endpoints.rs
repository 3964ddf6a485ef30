//! The API endpoint a token fetch calls, against the one botocore (the AWS CLI's resolver)
//! calls with the same settings, over a table of registry hosts (every partition, the FIPS and
//! dual-stack forms, ECR Public) and settings (`AWS_USE_FIPS_ENDPOINT`/`use_fips_endpoint`,
//! `AWS_USE_DUALSTACK_ENDPOINT`/`use_dualstack_endpoint`, explicit endpoints from variables,
//! profiles and `[services]` sections, `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`).
//!
//! Both sides of the helper are checked: the host its fetch really connects to (a CONNECT proxy
//! on 127.0.0.1 records it and refuses; nothing leaves the machine) and the URL `doctor`'s `api`
//! line names. botocore is given the host's own form as the client's FIPS/dual-stack flags,
//! which is the one deliberate rule on top of the CLI's (README, "Endpoints"): the host's form
//! adds FIPS or dual-stack, never takes away what the settings ask for.

use crate::common::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const BOTOCORE_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/botocore_endpoint.py"
);

/// A registry host and what botocore is asked for it: service, region, and the FIPS and
/// dual-stack the host's form names.
struct Host {
    host: &'static str,
    service: &'static str,
    region: &'static str,
    fips: bool,
    dual_stack: bool,
    /// The helper's config file, for an alias host.
    helper_config: Option<&'static str>,
}

const fn host(host: &'static str, region: &'static str, fips: bool, dual_stack: bool) -> Host {
    Host {
        host,
        service: "ecr",
        region,
        fips,
        dual_stack,
        helper_config: None,
    }
}

const fn public(host: &'static str) -> Host {
    Host {
        host,
        service: "ecr-public",
        region: "us-east-1",
        fips: false,
        dual_stack: false,
        helper_config: None,
    }
}

/// An alias from the helper's config file: botocore is asked for the region it names.
const ALIAS: Host = Host {
    host: "registry.example.com",
    service: "ecr",
    region: "us-gov-west-1",
    fips: false,
    dual_stack: false,
    helper_config: Some(
        "[[registry]]\nmatch = \"registry.example.com\"\naccount = \"111122223333\"\nregion = \"us-gov-west-1\"\n",
    ),
};

const HOSTS: &[Host] = &[
    host(
        "111122223333.dkr.ecr.us-east-1.amazonaws.com",
        "us-east-1",
        false,
        false,
    ),
    host(
        "111122223333.dkr.ecr-fips.us-east-1.amazonaws.com",
        "us-east-1",
        true,
        false,
    ),
    host(
        "111122223333.dkr-ecr.us-east-1.on.aws",
        "us-east-1",
        false,
        true,
    ),
    host(
        "111122223333.dkr-ecr-fips.us-east-1.on.aws",
        "us-east-1",
        true,
        true,
    ),
    host(
        "111122223333.dkr.ecr.us-gov-west-1.amazonaws.com",
        "us-gov-west-1",
        false,
        false,
    ),
    host(
        "111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
        "us-gov-west-1",
        true,
        false,
    ),
    host(
        "111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn",
        "cn-north-1",
        false,
        false,
    ),
    host(
        "111122223333.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
        "cn-north-1",
        false,
        true,
    ),
    host(
        "111122223333.dkr.ecr.us-iso-east-1.c2s.ic.gov",
        "us-iso-east-1",
        false,
        false,
    ),
    host(
        "111122223333.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
        "us-isob-east-1",
        false,
        false,
    ),
    host(
        "111122223333.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
        "eu-isoe-west-1",
        false,
        false,
    ),
    host(
        "111122223333.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
        "us-isof-south-1",
        false,
        false,
    ),
    host(
        "111122223333.dkr.ecr.eusc-de-east-1.amazonaws.eu",
        "eusc-de-east-1",
        false,
        false,
    ),
    public("public.ecr.aws"),
    public("ecr-public.aws.com"),
    ALIAS,
];

/// The user's settings: variables, and the text of `~/.aws/config`.
struct Setting {
    name: &'static str,
    env: &'static [(&'static str, &'static str)],
    config: &'static str,
}

const FIPS: (&str, &str) = ("AWS_USE_FIPS_ENDPOINT", "true");
const DUAL: (&str, &str) = ("AWS_USE_DUALSTACK_ENDPOINT", "true");

/// Settings that choose among the SDK's own endpoints: every host is tried with each.
const VARIANTS: &[Setting] = &[
    Setting {
        name: "nothing set",
        env: &[],
        config: "",
    },
    Setting {
        name: "AWS_USE_FIPS_ENDPOINT",
        env: &[FIPS],
        config: "",
    },
    Setting {
        name: "AWS_USE_DUALSTACK_ENDPOINT",
        env: &[DUAL],
        config: "",
    },
    Setting {
        name: "both variables",
        env: &[FIPS, DUAL],
        config: "",
    },
    Setting {
        name: "use_fips_endpoint",
        env: &[],
        config: "[default]\nuse_fips_endpoint = true\n",
    },
    Setting {
        name: "use_dualstack_endpoint",
        env: &[],
        config: "[default]\nuse_dualstack_endpoint = true\n",
    },
    Setting {
        name: "both profile settings",
        env: &[],
        config: "[default]\nuse_fips_endpoint = true\nuse_dualstack_endpoint = true\n",
    },
    Setting {
        name: "AWS_PROFILE selecting a profile with both",
        env: &[("AWS_PROFILE", "gov")],
        config: "[default]\n[profile gov]\nuse_fips_endpoint = true\nuse_dualstack_endpoint = true\n",
    },
    Setting {
        name: "variable false over profile true",
        env: &[("AWS_USE_FIPS_ENDPOINT", "false")],
        config: "[default]\nuse_fips_endpoint = true\n",
    },
    Setting {
        name: "not a boolean",
        env: &[("AWS_USE_FIPS_ENDPOINT", "1")],
        config: "",
    },
];

const SERVICES: &str = "[default]\nservices = vpc\n[services vpc]\necr =\n  endpoint_url = https://ecr.vpce.example\necr_public =\n  endpoint_url = https://public.vpce.example\n";

/// Settings that name an endpoint: tried with a plain, a FIPS and a dual-stack host of
/// us-east-1 and with ECR Public.
const EXPLICIT: &[Setting] = &[
    Setting {
        name: "AWS_ENDPOINT_URL_ECR",
        env: &[("AWS_ENDPOINT_URL_ECR", "https://ecr.vpce.example")],
        config: "",
    },
    Setting {
        name: "AWS_ENDPOINT_URL_ECR_PUBLIC",
        env: &[("AWS_ENDPOINT_URL_ECR_PUBLIC", "https://public.vpce.example")],
        config: "",
    },
    Setting {
        name: "AWS_ENDPOINT_URL_ECR with AWS_USE_FIPS_ENDPOINT",
        env: &[("AWS_ENDPOINT_URL_ECR", "https://ecr.vpce.example"), FIPS],
        config: "",
    },
    Setting {
        name: "AWS_ENDPOINT_URL",
        env: &[("AWS_ENDPOINT_URL", "https://all.vpce.example")],
        config: "",
    },
    Setting {
        name: "AWS_ENDPOINT_URL over [services]",
        env: &[("AWS_ENDPOINT_URL", "https://all.vpce.example")],
        config: SERVICES,
    },
    Setting {
        name: "[services] ecr and ecr_public",
        env: &[],
        config: SERVICES,
    },
    Setting {
        name: "[services] with use_dualstack_endpoint",
        env: &[DUAL],
        config: SERVICES,
    },
    Setting {
        name: "profile endpoint_url",
        env: &[],
        config: "[default]\nendpoint_url = https://profile.vpce.example\n",
    },
    Setting {
        name: "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        env: &[
            ("AWS_ENDPOINT_URL_ECR", "https://ecr.vpce.example"),
            ("AWS_ENDPOINT_URL_ECR_PUBLIC", "https://public.vpce.example"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ],
        config: SERVICES,
    },
    Setting {
        name: "services naming no section",
        env: &[],
        config: "[default]\nservices = nope\n[services other]\necr =\n  endpoint_url = https://ecr.vpce.example\n",
    },
    Setting {
        name: "ignore_configured_endpoint_urls",
        env: &[],
        config: "[default]\nservices = vpc\nignore_configured_endpoint_urls = true\n[services vpc]\necr =\n  endpoint_url = https://ecr.vpce.example\n",
    },
];

/// botocore's answer for one case.
enum Want {
    Url(String),
    /// botocore refuses the settings.
    Refused(String),
    /// Deliberate (README, "Endpoints"): botocore's legacy endpoint table (`endpoints.json`)
    /// refuses a variant its endpoint rules resolve; the helper follows the rules, as the
    /// Rust SDK does. Seen for dual-stack in the ISOE and ISOF partitions.
    LegacyTableRefused {
        why: String,
        rules_url: String,
    },
}

/// Deliberate differences (README, "Endpoints"): a setting, the service it concerns, and the URL
/// the helper calls where botocore calls another. Tried with every host of `EXPLICIT`'s.
const DELIBERATE: &[(Setting, &str, &str)] = &[(
    Setting {
        name: "[services] ecr-public (the Rust SDK's key)",
        env: &[],
        config: "[default]\nservices = vpc\n[services vpc]\necr-public =\n  endpoint_url = https://sdk.vpce.example\n",
    },
    "ecr-public",
    "https://sdk.vpce.example",
)];

/// What botocore calls for each (host, setting), in order.
fn botocore(cases: &[(&Host, &Setting)]) -> Vec<Want> {
    let input: Vec<Value> = cases
        .iter()
        .map(|(h, s)| {
            json!({
                "service": h.service,
                "region": h.region,
                "fips": h.fips,
                "dual_stack": h.dual_stack,
                "env": s.env.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "config": s.config,
            })
        })
        .collect();
    let python = std::env::var_os("ECR_EMULATOR_PYTHON").unwrap_or_else(|| "python3".into());
    let mut cmd = std::process::Command::new(python);
    cmd.arg(BOTOCORE_SCRIPT);
    let out = run_cmd(cmd, &Value::Array(input).to_string());
    assert!(out.status.success(), "botocore: {}", describe(&out));
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).expect("botocore's JSON");
    answers
        .iter()
        .map(|a| {
            let why = a["error"].as_str().unwrap_or("?").to_string();
            match (a["url"].as_str(), a["rules_url"].as_str()) {
                (Some(url), _) => Want::Url(url.to_string()),
                (None, Some(rules)) => Want::LegacyTableRefused {
                    why,
                    rules_url: rules.to_string(),
                },
                (None, None) => Want::Refused(why),
            }
        })
        .collect()
}

/// What the helper does for `host` with `setting`: the URL `doctor`'s `api` line names, and
/// the `host:port` each of its connections asked the proxy for.
fn helper(host: &Host, setting: &Setting) -> (String, Vec<String>) {
    let connects = Arc::new(Mutex::new(Vec::new()));
    let seen = connects.clone();
    let proxy = serve(move |request| {
        seen.lock()
            .unwrap()
            .push(format!("{} {}", request.method, request.path));
        (403, vec![], String::new())
    });
    // No emulator: nothing here may reach an ECR API, only the refusing proxy.
    let offline = EmulatorAddr {
        endpoint: "http://127.0.0.1:9".into(),
        port: 9,
        control_port: 9,
        tls_cert: None,
    };
    let mut sb = Sandbox::with_emulator(&offline);
    if let Some(config) = host.helper_config {
        sb.config("config.toml", config);
    }
    sb.env_remove("AWS_ENDPOINT_URL_ECR")
        .env_remove("AWS_ENDPOINT_URL_ECR_PUBLIC")
        .env("HTTPS_PROXY", format!("http://127.0.0.1:{proxy}"))
        // Enough for the first attempt to start on a loaded machine; the SDK's retries against
        // the refusing proxy fill the rest of it.
        .env(ENV_TIMEOUT, "3")
        .disable_cache();
    for (k, v) in setting.env {
        sb.env(k, v);
    }
    let aws = sb.home().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(aws.join("config"), setting.config).unwrap();
    let out = sb.run(["doctor", host.host], "");
    let text = stdout(&out);
    let api = text
        .lines()
        .find_map(|l| {
            l.trim_start()
                .split_once(" api ")
                .map(|(_, rest)| rest.trim())
        })
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no api line for {} ({}):\n{text}", host.host, setting.name))
        .to_string();
    let connects = connects.lock().unwrap().clone();
    (api, connects)
}

/// The `host:port` a URL connects to.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:443")
    }
}

/// One case's disagreement with botocore, if any.
fn difference(h: &Host, s: &Setting, want: &Want) -> Option<String> {
    let (api, connects) = helper(h, s);
    let case = format!("{} with {}", h.host, s.name);
    let calls = |url: &str| {
        let connect = format!("CONNECT {}", authority(url));
        api == url && !connects.is_empty() && connects.iter().all(|c| *c == connect)
    };
    let seen = format!("doctor names {api}, the fetch asked {connects:?}");
    match want {
        Want::Url(url) => (!calls(url)).then(|| format!("{case}: botocore calls {url}; {seen}")),
        Want::LegacyTableRefused { why, rules_url } => (!calls(rules_url)).then(|| {
            format!("{case}: botocore's table refuses ({why}), its rules give {rules_url}; {seen}")
        }),
        // botocore refuses these settings; so must the helper, before connecting anywhere.
        Want::Refused(why) => (api != "(none)" || !connects.is_empty())
            .then(|| format!("{case}: botocore refuses ({why}); {seen}")),
    }
}

#[test]
fn the_endpoint_is_the_one_botocore_calls_for_every_host_and_setting() {
    let mut cases: Vec<(&Host, &Setting)> = Vec::new();
    for h in HOSTS {
        cases.extend(VARIANTS.iter().map(|s| (h, s)));
    }
    let deliberate = DELIBERATE.iter().map(|(s, _, _)| s);
    for h in [&HOSTS[0], &HOSTS[1], &HOSTS[2], &HOSTS[13], &ALIAS] {
        cases.extend(EXPLICIT.iter().chain(deliberate.clone()).map(|s| (h, s)));
    }
    let mut want = botocore(&cases);
    for ((h, s), w) in cases.iter().zip(&mut want) {
        let listed = DELIBERATE
            .iter()
            .find(|(d, service, _)| std::ptr::eq(d, *s) && *service == h.service);
        if let Some((_, _, url)) = listed {
            let agrees = matches!(w, Want::Url(u) if u == url);
            assert!(
                !agrees,
                "{}: botocore agrees now; drop it from DELIBERATE and the README",
                s.name
            );
            *w = Want::Url(url.to_string());
        }
    }
    // Each case mostly waits out its bound: many at once.
    let per_thread = cases.len().div_ceil(24);
    let differences: Vec<String> = std::thread::scope(|scope| {
        let chunks: Vec<_> = cases
            .chunks(per_thread)
            .zip(want.chunks(per_thread))
            .map(|(cases, want)| {
                scope.spawn(move || {
                    cases
                        .iter()
                        .zip(want)
                        .filter_map(|((h, s), w)| difference(h, s, w))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks.into_iter().flat_map(|c| c.join().unwrap()).collect()
    });
    assert!(
        differences.is_empty(),
        "{} of {} cases differ from botocore:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
}

/// `region` (and `account`) in a config entry are for alias hosts. A real ECR host names its
/// own region: an entry matching it that says another is a configuration error naming the
/// entry's field, not a token fetched in a region that registry refuses.
#[test]
fn a_config_region_that_contradicts_the_host_is_an_error_naming_the_field() {
    let mut sb = Sandbox::new();
    let config = sb.config(
        "config.toml",
        "[[registry]]\nmatch = \"123456789012\"\nregion = \"eu-west-1\"\n",
    );
    let host = private_host(MOTO_ACCOUNT, "us-east-1");
    let out = sb.get(&host);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let want = format!(
        "invalid config file {}, line 3: field `region`: \"eu-west-1\" contradicts {host}, which names its own region (us-east-1); `region` and `account` are for alias hosts: remove the field, or narrow `match` (entry at line 1)",
        config.display()
    );
    assert_eq!(stdout(&out).trim(), want, "{}", describe(&out));
    // The kubelet mode and `doctor` say the same.
    let request = format!(
        r#"{{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"{host}/app:1"}}"#
    );
    let out = sb.run(["kubelet"], &request);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr(&out).contains(&want), "{}", describe(&out));
    let out = sb.run(["doctor", host.as_str()], "");
    assert!(
        stdout(&out).contains(&format!("not attempted: {want}")),
        "{}",
        describe(&out)
    );
    assert_eq!(sb.calls(), (0, 0), "nothing may be fetched");
    // The entry's own region is no contradiction.
    let host = private_host(MOTO_ACCOUNT, "eu-west-1");
    assert_eq!(sb.get_ok(&host)["Secret"], private_password(MOTO_ACCOUNT));
    assert_eq!(sb.emulator.calls_detail(&sb.akid).regions, ["eu-west-1"]);
}
