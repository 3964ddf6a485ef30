//! The identity the helper signs with, against the one the AWS CLI (botocore) would use, over a
//! table of environments: variables, profiles, web identity, `credential_process`, role chains
//! and a config entry's `profile` (which means what `aws --profile` means). Both sides call the
//! emulator's GetAuthorizationToken with the same environment and home; every principal in the
//! table answers for an account of its own, so the token's password names whose call it was.
//! Where the helper differs on purpose, the row says so, and the README lists it.

use crate::common::*;

const HOST_REGION: &str = "us-east-1";

/// The principals of the table, by the account they answer for. Static keys `{A}`, `{B}` and
/// `{C}` (the last one `credential_process`'s) are fresh access key ids per row.
const PRINCIPALS: &[(&str, &str)] = &[
    ("A", "111111111111"),
    ("B", "222222222222"),
    ("C", "333333333333"),
    // Roles: moto's STS hands out keys of the role's account.
    ("R", "444444444444"),
    ("W", "555555555555"),
    // The container credentials endpoint's keys (ECS task role, EKS Pod Identity).
    ("D", "666666666666"),
];
const ROLE: &str = "arn:aws:iam::444444444444:role/r";
const WEB_ROLE: &str = "arn:aws:iam::555555555555:role/web";
/// An outcome that is a refusal: no token at all.
const REFUSED: &str = "refused";

struct Row {
    name: &'static str,
    env: &'static [(&'static str, &'static str)],
    config: &'static str,
    credentials: &'static str,
    /// The helper's config entry's `profile` (botocore: `--profile`).
    entry_profile: Option<&'static str>,
    /// Whose token the helper must answer with (a principal, or `REFUSED`).
    helper: &'static str,
    /// What botocore does, where it differs on purpose (the README's list says why).
    deliberate: Option<&'static str>,
}

const fn row(
    name: &'static str,
    env: &'static [(&'static str, &'static str)],
    config: &'static str,
    credentials: &'static str,
    helper: &'static str,
) -> Row {
    Row {
        name,
        env,
        config,
        credentials,
        entry_profile: None,
        helper,
        deliberate: None,
    }
}

const fn entry(mut r: Row, profile: &'static str) -> Row {
    r.entry_profile = Some(profile);
    r
}

const fn differs(mut r: Row, botocore: &'static str) -> Row {
    r.deliberate = Some(botocore);
    r
}

const ENV_A: &[(&str, &str)] = &[("AWS_ACCESS_KEY_ID", "{A}"), ("AWS_SECRET_ACCESS_KEY", "s")];
const KEYS_B: &str = "[p]\naws_access_key_id = {B}\naws_secret_access_key = s\n";
const DEFAULT_B: &str = "[default]\naws_access_key_id = {B}\naws_secret_access_key = s\n";
const BASE_B: &str = "[base]\naws_access_key_id = {B}\naws_secret_access_key = s\n";
const ROLE_P: &str = "[profile p]\nrole_arn = {ROLE}\nsource_profile = base\n";
const ROLE_ENV_P: &str = "[profile p]\nrole_arn = {ROLE}\ncredential_source = Environment\n";
const PROCESS_P: &str = "[profile p]\ncredential_process = {PROC}\n";
const CONTAINER: &[(&str, &str)] = &[("AWS_CONTAINER_CREDENTIALS_FULL_URI", "{CONTAINER}")];
const WEB: &[(&str, &str)] = &[
    ("AWS_WEB_IDENTITY_TOKEN_FILE", "{TOKEN}"),
    ("AWS_ROLE_ARN", "{WEB_ROLE}"),
];

fn table() -> Vec<Row> {
    vec![
        row("environment keys", ENV_A, "", "", "A"),
        row("[default] keys", &[], "", DEFAULT_B, "B"),
        row("AWS_PROFILE keys", &[("AWS_PROFILE", "p")], "", KEYS_B, "B"),
        row(
            "environment keys before AWS_PROFILE",
            &[
                ("AWS_PROFILE", "p"),
                ("AWS_ACCESS_KEY_ID", "{A}"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
            ],
            "",
            KEYS_B,
            "A",
        ),
        row(
            "AWS_PROFILE role chain",
            &[("AWS_PROFILE", "p")],
            ROLE_P,
            BASE_B,
            "R",
        ),
        row(
            "AWS_PROFILE credential_source = Environment",
            &[
                ("AWS_PROFILE", "p"),
                ("AWS_ACCESS_KEY_ID", "{A}"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
            ],
            ROLE_ENV_P,
            "",
            "A",
        ),
        row(
            "missing AWS_PROFILE",
            &[("AWS_PROFILE", "nope")],
            "",
            DEFAULT_B,
            REFUSED,
        ),
        entry(
            row(
                "entry profile over environment keys",
                ENV_A,
                "",
                KEYS_B,
                "B",
            ),
            "p",
        ),
        entry(
            row("entry profile role chain", ENV_A, ROLE_P, BASE_B, "R"),
            "p",
        ),
        entry(
            row(
                "entry profile credential_source = Environment",
                ENV_A,
                ROLE_ENV_P,
                "",
                "R",
            ),
            "p",
        ),
        entry(
            row("missing entry profile", ENV_A, "", DEFAULT_B, REFUSED),
            "nope",
        ),
        entry(
            row(
                "entry profile without credentials",
                ENV_A,
                "[profile p]\nregion = us-east-1\n",
                DEFAULT_B,
                REFUSED,
            ),
            "p",
        ),
        entry(
            row(
                "entry profile over web identity variables",
                WEB,
                "",
                KEYS_B,
                "B",
            ),
            "p",
        ),
        row("web identity over [default] keys", WEB, "", DEFAULT_B, "W"),
        row(
            "web identity over AWS_PROFILE keys",
            &[
                ("AWS_PROFILE", "p"),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "{TOKEN}"),
                ("AWS_ROLE_ARN", "{WEB_ROLE}"),
            ],
            "",
            KEYS_B,
            "W",
        ),
        row(
            "AWS_PROFILE role before web identity",
            &[
                ("AWS_PROFILE", "p"),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "{TOKEN}"),
                ("AWS_ROLE_ARN", "{WEB_ROLE}"),
            ],
            ROLE_P,
            BASE_B,
            "R",
        ),
        row(
            "environment keys before web identity",
            &[
                ("AWS_ACCESS_KEY_ID", "{A}"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "{TOKEN}"),
                ("AWS_ROLE_ARN", "{WEB_ROLE}"),
            ],
            "",
            DEFAULT_B,
            "A",
        ),
        row(
            "profile web_identity_token_file",
            &[("AWS_PROFILE", "p")],
            "[profile p]\nrole_arn = {WEB_ROLE}\nweb_identity_token_file = {TOKEN}\n",
            "",
            "W",
        ),
        row(
            "partial environment keys",
            &[("AWS_ACCESS_KEY_ID", "{A}")],
            "",
            DEFAULT_B,
            REFUSED,
        ),
        row(
            "credential_process",
            &[("AWS_PROFILE", "p")],
            PROCESS_P,
            "",
            "C",
        ),
        row(
            "credentials-file keys before credential_process",
            &[("AWS_PROFILE", "p")],
            PROCESS_P,
            KEYS_B,
            "B",
        ),
        row(
            "credential_process before config-file keys",
            &[("AWS_PROFILE", "p")],
            "[profile p]\ncredential_process = {PROC}\naws_access_key_id = {B}\naws_secret_access_key = s\n",
            "",
            "C",
        ),
        row(
            "AWS_DEFAULT_PROFILE",
            &[("AWS_DEFAULT_PROFILE", "p")],
            "",
            KEYS_B,
            "B",
        ),
        differs(
            row(
                "AWS_PROFILE before AWS_DEFAULT_PROFILE",
                &[("AWS_DEFAULT_PROFILE", "p"), ("AWS_PROFILE", "q")],
                "",
                "[p]\naws_access_key_id = {B}\naws_secret_access_key = s\n[q]\naws_access_key_id = {A}\naws_secret_access_key = s\n",
                "A",
            ),
            "B",
        ),
        differs(
            row(
                "AWS_ACCESS_KEY and AWS_SECRET_KEY",
                &[("AWS_ACCESS_KEY", "{A}"), ("AWS_SECRET_KEY", "s")],
                "",
                DEFAULT_B,
                "A",
            ),
            "B",
        ),
        differs(
            row(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_KEY",
                &[("AWS_ACCESS_KEY_ID", "{A}"), ("AWS_SECRET_KEY", "s")],
                "",
                DEFAULT_B,
                "A",
            ),
            REFUSED,
        ),
        row("no credentials", &[], "", "", REFUSED),
        row("container endpoint", CONTAINER, "", "", "D"),
        row(
            "[default] keys before the container endpoint",
            CONTAINER,
            "",
            DEFAULT_B,
            "B",
        ),
        entry(
            row(
                "entry profile without credentials, then the container endpoint",
                CONTAINER,
                "[profile p]\nregion = us-east-1\n",
                "",
                "D",
            ),
            "p",
        ),
        entry(
            row(
                "entry profile's credential_source = EcsContainer",
                CONTAINER,
                "[profile p]\nrole_arn = {ROLE}\ncredential_source = EcsContainer\n",
                KEYS_B,
                "R",
            ),
            "p",
        ),
    ]
}

/// One home, cache and set of principals for the whole table: rows differ only in what the
/// table says, so a cache key that missed a difference in the choice would serve one row the
/// token of another.
struct Setup {
    sb: Sandbox,
    /// `{A}`, `{B}`, `{C}` and the other placeholders, with their values.
    fills: Vec<(String, String)>,
    entry_config: std::path::PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let mut sb = Sandbox::new();
        let sts = sb.emulator.endpoint().to_string();
        sb.env("AWS_ENDPOINT_URL_STS", sts);
        let mut fills = Vec::new();
        for principal in ["A", "B", "C", "D"] {
            let akid = unique_akid();
            sb.emulator.set_account(&akid, account_of(principal));
            fills.push((format!("{{{principal}}}"), akid));
        }
        let token = sb.root().join("web-identity-token");
        std::fs::write(&token, "a-web-identity-token").unwrap();
        let process = sb.root().join("credential-process");
        write_program(
            &process,
            &format!(
                "#!/bin/sh\necho '{{\"Version\": 1, \"AccessKeyId\": \"{}\", \"SecretAccessKey\": \"s\"}}'\n",
                fills[2].1
            ),
        );
        let container = container_endpoint(fills[3].1.clone());
        fills.extend([
            ("{CONTAINER}".into(), container),
            ("{TOKEN}".into(), token.to_str().unwrap().into()),
            ("{PROC}".into(), process.to_str().unwrap().into()),
            ("{WEB_ROLE}".into(), WEB_ROLE.into()),
            ("{ROLE}".into(), ROLE.into()),
        ]);
        std::fs::create_dir_all(sb.home().join(".aws")).unwrap();
        let entry_config = sb.root().join("config.toml");
        Setup {
            sb,
            fills,
            entry_config,
        }
    }

    fn fill(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (placeholder, value) in &self.fills {
            text = text.replace(placeholder, value);
        }
        text
    }

    /// Writes the row's files and answers its variables.
    fn enter(&self, row: &Row) -> Vec<(String, String)> {
        let aws = self.sb.home().join(".aws");
        std::fs::write(aws.join("config"), self.fill(row.config)).unwrap();
        std::fs::write(aws.join("credentials"), self.fill(row.credentials)).unwrap();
        let entry = row.entry_profile.map_or(String::new(), |profile| {
            format!("[[registry]]\nmatch = \"{MOTO_ACCOUNT}\"\nprofile = \"{profile}\"\n")
        });
        std::fs::write(&self.entry_config, entry).unwrap();
        row.env
            .iter()
            .map(|(k, v)| (k.to_string(), self.fill(v)))
            .collect()
    }

    /// `program` in the sandbox with exactly the row's variables among the table's.
    fn command(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        vars: &[(String, String)],
    ) -> std::process::Command {
        let mut cmd = self.sb.command(program);
        for row in table() {
            for (name, _) in row.env {
                cmd.env_remove(name);
            }
        }
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env(ENV_CONFIG, &self.entry_config)
            .envs(vars.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

/// A container credentials endpoint (as ECS and EKS Pod Identity serve them) handing out `akid`.
fn container_endpoint(akid: String) -> String {
    let port = serve(move |_| {
        json_reply(
            serde_json::json!({
                "AccessKeyId": akid,
                "SecretAccessKey": "s",
                "Token": "t",
                "Expiration": "2099-01-01T00:00:00Z",
            })
            .to_string(),
        )
    });
    format!("http://127.0.0.1:{port}/creds")
}

fn account_of(principal: &str) -> &'static str {
    PRINCIPALS.iter().find(|(p, _)| *p == principal).unwrap().1
}

/// Whose token a password is, or what went wrong.
fn principal_of(password: &str) -> String {
    PRINCIPALS
        .iter()
        .find(|(_, account)| private_password(account) == password)
        .map_or_else(|| format!("unknown ({password})"), |(p, _)| p.to_string())
}

fn helper_outcome(setup: &Setup, vars: &[(String, String)]) -> (String, String) {
    let mut cmd = setup.command(BIN, vars);
    cmd.arg("get");
    let out = run_cmd(cmd, &private_host(MOTO_ACCOUNT, HOST_REGION));
    if !out.status.success() {
        return (REFUSED.into(), stdout(&out));
    }
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        principal_of(answer["Secret"].as_str().unwrap()),
        String::new(),
    )
}

fn botocore_outcome(setup: &Setup, vars: &[(String, String)], row: &Row) -> (String, String) {
    let python = std::env::var_os("ECR_EMULATOR_PYTHON").unwrap_or_else(|| "python3".into());
    let mut cmd = setup.command(python, vars);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/botocore_identity.py"
    ))
    .arg(HOST_REGION)
    .args(row.entry_profile);
    let out = run_cmd(cmd, "");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: botocore probe: {e}: {}", row.name, describe(&out)));
    match v["password"].as_str() {
        Some(password) => (principal_of(password), String::new()),
        None => (REFUSED.into(), v.to_string()),
    }
}

/// Every row against botocore, then every row again from the cache the first pass filled: the
/// second pass answers from entries of every other row, and must still answer each row's own
/// principal (or refuse).
#[test]
fn the_helper_signs_as_the_aws_cli_would_except_where_the_readme_says_why() {
    let setup = Setup::new();
    let mut wrong = Vec::new();
    for pass in ["first", "cached"] {
        for row in table() {
            let vars = setup.enter(&row);
            let (helper, helper_said) = helper_outcome(&setup, &vars);
            if helper == REFUSED {
                assert_eq!(
                    helper_said.trim().lines().count(),
                    1,
                    "{}: {helper_said}",
                    row.name
                );
            }
            let (botocore, botocore_said, want_botocore) = match pass {
                "first" => {
                    let (b, said) = botocore_outcome(&setup, &vars, &row);
                    (b, said, row.deliberate.unwrap_or(row.helper))
                }
                _ => (String::new(), String::new(), ""),
            };
            if helper != row.helper || botocore != want_botocore {
                wrong.push(format!(
                    "{pass} pass, {}: helper {helper} (want {}) {helper_said}| botocore {botocore} (want {want_botocore}) {botocore_said}| env {vars:?}",
                    row.name, row.helper
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// The role's account is all a token shows, so who assumed the role is asked of the emulator's
/// STS. A source profile's credentials-file keys come before its `credential_process`, its
/// config-file keys after it, as for a profile used directly.
#[test]
fn a_role_is_assumed_with_the_source_profile_credentials_botocore_picks() {
    let cases = [
        (
            "credentials-file keys before the process",
            "[profile p]\nrole_arn = {ROLE}\nsource_profile = base\n[profile base]\ncredential_process = {PROC}\n",
            "[base]\naws_access_key_id = {B}\naws_secret_access_key = s\n",
            "{B}",
        ),
        (
            "the process before config-file keys",
            "[profile p]\nrole_arn = {ROLE}\nsource_profile = base\n[profile base]\ncredential_process = {PROC}\naws_access_key_id = {B}\naws_secret_access_key = s\n",
            "",
            "{C}",
        ),
    ];
    for (name, config, credentials, signer) in cases {
        let setup = Setup::new();
        let row = row(name, &[("AWS_PROFILE", "p")], config, credentials, "R");
        let vars = setup.enter(&row);
        let (signer, other) = match signer {
            "{B}" => (setup.fill("{B}"), setup.fill("{C}")),
            _ => (setup.fill("{C}"), setup.fill("{B}")),
        };
        let sts = |akid: &str| setup.sb.emulator.sts_calls(akid);
        let (botocore, said) = botocore_outcome(&setup, &vars, &row);
        assert_eq!(
            (botocore.as_str(), sts(&signer), sts(&other)),
            ("R", 1, 0),
            "{name}: botocore {said}"
        );
        let (helper, said) = helper_outcome(&setup, &vars);
        assert_eq!(
            (helper.as_str(), sts(&signer), sts(&other)),
            ("R", 2, 0),
            "{name}: helper {said}"
        );
    }
}
