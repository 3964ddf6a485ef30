//! Which credential source the SDK's default chain would use for a registry, worked out from the
//! environment and the shared AWS config files (parsed by aws-config's own parser, see
//! [`crate::profiles`]) without contacting anything, and described without a secret: access
//! key ids are masked, and of a profile only the names of its settings and the non-secret ones
//! (`role_arn`, `source_profile`, `sso_session`) are shown.
//!
//! The chain's order is the AWS CLI's, as a fetch follows it (`crate::credentials::plan`).

use crate::config::Settings;
use crate::credentials::{ChoiceError, Plan, Step};
use crate::env::Env;
use crate::profiles::Profiles;

/// What the chain would pick, and what looks wrong on the way there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub description: String,
    pub problems: Vec<String>,
}

/// Shows the first and last four characters of an access key id, enough to tell keys apart.
pub fn mask_key_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 12 {
        return "…".to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// The credential source for a registry with `settings`, as the SDK's chain would find it:
/// `files` are the parsed AWS files and the chain the request planned over them
/// (`Resolved::plan`), `None` when the files could not be read (the caller reports why).
pub fn detect(env: &dyn Env, settings: &Settings, files: Option<(&Profiles, &Plan)>) -> Source {
    let mut problems = Vec::new();
    let base = base_source(env, settings, files, &mut problems);
    let description = match &settings.role {
        Some(role) => format!("role {} (config file), assumed with {base}", role.arn),
        None => base,
    };
    Source {
        description,
        problems,
    }
}

fn base_source(
    env: &dyn Env,
    settings: &Settings,
    files: Option<(&Profiles, &Plan)>,
    problems: &mut Vec<String>,
) -> String {
    let explicit = settings.profile.as_deref();
    let (unread, unread_plan);
    // Unreadable files say nothing about the profile the environment names.
    if files.is_none()
        && explicit.is_none()
        && env.var("AWS_ACCESS_KEY_ID").is_none()
        && let Some(name) = env.var("AWS_PROFILE")
    {
        return format!("profile {name:?} (AWS files not read)");
    }
    let (profiles, plan) = match (files, explicit) {
        (Some(files), _) => files,
        // The caller says why the files could not be read.
        (None, Some(name)) => return format!("profile {name:?} (AWS files not read)"),
        // Unreadable files say nothing about the profile the environment names: the chain is
        // planned over none, as the environment alone decides it.
        (None, None) => match Profiles::parse("", "", env, None) {
            Ok(p) => {
                unread = p;
                unread_plan = crate::credentials::plan(env, &unread, None);
                (&unread, &unread_plan)
            }
            Err(e) => return format!("none ({e})"),
        },
    };
    let steps = match plan {
        Ok(steps) => steps,
        Err(e) => {
            problems.push(e.to_string());
            return match (e, explicit) {
                (ChoiceError::MissingProfile { .. }, Some(name)) => {
                    format!("profile {name:?} (not found)")
                }
                _ => "none".into(),
            };
        }
    };
    for step in steps {
        if let Some(found) = describe_step(env, step, profiles, problems) {
            return found;
        }
    }
    problems.push(
        "no credentials in the environment, a profile, web identity or container settings, and AWS_EC2_METADATA_DISABLED rules out instance metadata"
            .into(),
    );
    "none".into()
}

/// What a step of the chain would find, or `None` when it would pass to the next.
fn describe_step(
    env: &dyn Env,
    step: &Step,
    profiles: &Profiles,
    problems: &mut Vec<String>,
) -> Option<String> {
    match step {
        Step::Environment => {
            let key_id = env.var("AWS_ACCESS_KEY_ID")?;
            if let Some(profile) = env.var("AWS_PROFILE") {
                let var = env.set_by("AWS_PROFILE");
                let keys = env.set_by("AWS_ACCESS_KEY_ID");
                problems.push(format!(
                    "{var} selects profile {profile:?}, but the environment's {keys} comes first in the chain (as in the AWS CLI) and is used instead"
                ));
            }
            let session = if env.var("AWS_SESSION_TOKEN").is_some() {
                ", with AWS_SESSION_TOKEN"
            } else {
                ""
            };
            Some(format!(
                "environment ({} {}{session})",
                env.set_by("AWS_ACCESS_KEY_ID"),
                mask_key_id(&key_id)
            ))
        }
        Step::WebIdentityFromEnvironment => {
            let file = env.var("AWS_WEB_IDENTITY_TOKEN_FILE")?;
            let role = env.var("AWS_ROLE_ARN").unwrap_or_else(|| "not set".into());
            Some(format!("web identity (role {role}, token file {file})"))
        }
        Step::CredentialsFileKeys(keys) => Some(format!(
            "profile {:?} (static key {} from the credentials file, before its credential_process)",
            profiles.selected(),
            mask_key_id(&keys.access_key_id)
        )),
        Step::Profile(name) => describe_named_profile(env, name, profiles, problems),
        Step::RoleOverProcess { .. } => {
            describe_named_profile(env, profiles.selected(), profiles, problems)
        }
        Step::Container => {
            if let Some(uri) = env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
                return Some(format!("container (AWS_CONTAINER_CREDENTIALS_FULL_URI {uri})"));
            }
            env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
                .map(|_| "container (ECS task role, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)".into())
        }
        Step::InstanceMetadata => (!crate::identity::instance_metadata_disabled(env)).then(|| {
            "instance metadata (IMDS; nothing else is configured, so off EC2 this fails after a connect timeout)".into()
        }),
    }
}

/// The selected profile's credentials; a profile named but not defined ends the chain.
fn describe_named_profile(
    env: &dyn Env,
    name: &str,
    profiles: &Profiles,
    problems: &mut Vec<String>,
) -> Option<String> {
    if profiles.has_profile(name) {
        match describe_profile(&|k| profiles.profile_setting(name, k)) {
            Some(kind) => return Some(format!("profile {name:?} ({kind})")),
            None => problems.push(format!(
                "profile {name:?} has no credential settings (aws_access_key_id, role_arn, sso_session, credential_process, …)"
            )),
        }
        return None;
    }
    // Only a name someone set can be missing; `default` is simply absent.
    env.var("AWS_PROFILE")?;
    let file = |f: Option<std::path::PathBuf>| {
        f.map_or("(no home)".to_string(), |p| p.display().to_string())
    };
    problems.push(format!(
        "profile {name:?} is not defined in {} or {}",
        file(crate::dirs::aws_config_file(env)),
        file(crate::dirs::aws_credentials_file(env))
    ));
    Some(format!("profile {name:?} (not found)"))
}

/// What kind of credentials a profile holds, in the SDK's order of precedence.
fn describe_profile<'a>(setting: &dyn Fn(&str) -> Option<&'a str>) -> Option<String> {
    let get = |k: &str| setting(k).filter(|v| !v.is_empty());
    if let Some(role) = get("role_arn") {
        let via = if let Some(p) = get("source_profile") {
            format!("source_profile {p:?}")
        } else if let Some(s) = get("credential_source") {
            format!("credential_source {s}")
        } else if get("web_identity_token_file").is_some() {
            "web_identity_token_file".into()
        } else {
            "no source_profile or credential_source".into()
        };
        return Some(format!("assume role {role} via {via}"));
    }
    if let Some(session) = get("sso_session") {
        return Some(format!("SSO, sso_session {session:?}"));
    }
    if get("sso_start_url").is_some() {
        return Some("SSO, legacy sso_start_url".into());
    }
    if get("credential_process").is_some() {
        return Some("credential_process".into());
    }
    if let Some(key_id) = get("aws_access_key_id") {
        return Some(format!("static key {}", mask_key_id(key_id)));
    }
    if get("login_session").is_some() {
        return Some("aws login session".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Role;
    use crate::env::MapEnv;

    const CONFIG: &str = "\
[default]
region = eu-west-1

[profile dev]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Dev

[profile prod]
role_arn = arn:aws:iam::210987654321:role/deploy
source_profile = dev

[profile tool]
credential_process = /usr/bin/get-creds --secret-flag hunter2

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
s3 =
  max_concurrent_requests = 10
";

    const CREDENTIALS: &str = "\
[default]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
";

    /// [`detect`] over `profiles` and the chain a request would plan over them.
    fn detect_over(env: &MapEnv, settings: &Settings, profiles: &Profiles) -> Source {
        let plan = crate::credentials::plan(env, profiles, settings.profile.as_deref());
        detect(env, settings, Some((profiles, &plan)))
    }

    fn detect_with(env: &[(&str, &str)], settings: &Settings) -> Source {
        let mut vars = vec![
            ("AWS_CONFIG_FILE", "/h/.aws/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/h/.aws/credentials"),
        ];
        vars.extend_from_slice(env);
        let env = MapEnv::new(&vars);
        let profiles =
            Profiles::parse(CONFIG, CREDENTIALS, &env, settings.profile.as_deref()).unwrap();
        detect_over(&env, settings, &profiles)
    }

    #[test]
    fn environment_keys_come_first_and_are_masked() {
        let s = detect_with(
            &[
                ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG"),
                ("AWS_PROFILE", "dev"),
            ],
            &Settings::default(),
        );
        assert_eq!(s.description, "environment (AWS_ACCESS_KEY_ID AKIA…MPLE)");
        assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
        assert!(s.problems[0].contains("AWS_PROFILE selects profile \"dev\""));
        let s = detect_with(
            &[("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")],
            &Settings::default(),
        );
        assert!(s.problems[0].contains("AWS_SECRET_ACCESS_KEY is not"));
    }

    #[test]
    fn profiles_are_described_by_kind() {
        let with_profile = |p: &str| Settings {
            profile: Some(p.into()),
            ..Settings::default()
        };
        let d = |p: &str| detect_with(&[], &with_profile(p)).description;
        assert_eq!(d("dev"), "profile \"dev\" (SSO, sso_session \"corp\")");
        assert_eq!(
            d("prod"),
            "profile \"prod\" (assume role arn:aws:iam::210987654321:role/deploy via source_profile \"dev\")"
        );
        assert_eq!(d("tool"), "profile \"tool\" (credential_process)");
        assert_eq!(
            detect_with(&[], &Settings::default()).description,
            "profile \"default\" (static key AKIA…MPLE)"
        );
        let missing = detect_with(&[("AWS_PROFILE", "nope")], &Settings::default());
        assert_eq!(missing.description, "profile \"nope\" (not found)");
        assert!(missing.problems[0].contains("/h/.aws/config"));
    }

    #[test]
    fn later_sources_when_no_profile_applies() {
        let d = |env: &[(&str, &str)]| {
            let env = MapEnv::new(env);
            let none = Profiles::parse("", "", &env, None).unwrap();
            detect_over(&env, &Settings::default(), &none)
        };
        assert_eq!(
            d(&[
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"),
                ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r")
            ])
            .description,
            "web identity (role arn:aws:iam::1:role/r, token file /var/run/token)"
        );
        assert!(
            d(&[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x")])
                .description
                .starts_with("container")
        );
        assert!(d(&[]).description.starts_with("instance metadata"));
        let off = d(&[("AWS_EC2_METADATA_DISABLED", "true")]);
        assert_eq!(off.description, "none");
        assert_eq!(off.problems.len(), 1);
    }

    #[test]
    fn the_order_is_the_fetchs() {
        let env_keys = [
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG"),
        ];
        let entry = Settings {
            profile: Some("tool".into()),
            ..Settings::default()
        };
        // A config entry's profile is used as `--profile` is: the environment's keys do not win.
        let s = detect_with(&env_keys, &entry);
        assert_eq!(s.description, "profile \"tool\" (credential_process)");
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        let missing = Settings {
            profile: Some("nope".into()),
            ..Settings::default()
        };
        let s = detect_with(&env_keys, &missing);
        assert_eq!(s.description, "profile \"nope\" (not found)");
        assert!(
            s.problems[0].contains("/h/.aws/credentials"),
            "{:?}",
            s.problems
        );
        // Web identity variables come before the default profile's keys.
        let s = detect_with(
            &[
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"),
                ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
            ],
            &Settings::default(),
        );
        assert!(
            s.description.starts_with("web identity"),
            "{}",
            s.description
        );
        // Keys in the credentials file come before the same profile's credential_process.
        let env = MapEnv::new(&[("AWS_PROFILE", "tool")]);
        let profiles = Profiles::parse(
            CONFIG,
            "[tool]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\n",
            &env,
            None,
        )
        .unwrap();
        let s = detect_over(&env, &Settings::default(), &profiles);
        assert_eq!(
            s.description,
            "profile \"tool\" (static key AKIA…MPLE from the credentials file, before its credential_process)"
        );
    }

    #[test]
    fn the_go_helpers_names_are_named_as_set() {
        let s = detect_with(
            &[
                ("AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"),
                ("AWS_SECRET_KEY", "wJalrXUtnFEMI/K7MDENG"),
                ("AWS_DEFAULT_PROFILE", "dev"),
            ],
            &Settings::default(),
        );
        assert_eq!(s.description, "environment (AWS_ACCESS_KEY AKIA…MPLE)");
        assert!(
            s.problems[0].starts_with("AWS_DEFAULT_PROFILE selects profile \"dev\", but the environment's AWS_ACCESS_KEY comes first"),
            "{:?}",
            s.problems
        );
    }

    #[test]
    fn config_roles_wrap_the_base_source() {
        let settings = Settings {
            role: Some(Role {
                arn: "arn:aws:iam::123456789012:role/pull".into(),
                external_id: Some("ext-secret".into()),
                session_name: None,
            }),
            ..Settings::default()
        };
        let s = detect_with(&[], &settings);
        assert_eq!(
            s.description,
            "role arn:aws:iam::123456789012:role/pull (config file), assumed with profile \"default\" (static key AKIA…MPLE)"
        );
    }

    #[test]
    fn no_secret_is_ever_described() {
        let envs: &[&[(&str, &str)]] = &[
            &[
                ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG"),
                ("AWS_SESSION_TOKEN", "sessiontokenvalue"),
            ],
            &[("AWS_PROFILE", "tool")],
            &[],
        ];
        for env in envs {
            let s = detect_with(env, &Settings::default());
            let all = format!("{} {:?}", s.description, s.problems);
            for secret in [
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI",
                "sessiontokenvalue",
                "hunter2",
            ] {
                assert!(!all.contains(secret), "{all}");
            }
        }
    }

    #[test]
    fn masking() {
        assert_eq!(mask_key_id("AKIAIOSFODNN7EXAMPLE"), "AKIA…MPLE");
        assert_eq!(mask_key_id("short"), "…");
    }
}
