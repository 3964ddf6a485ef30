//! The command line's one definition. Parsing, `--help`, usage errors, the man page and the
//! shell completions all come from these types, so none of them can drift from the others.

use crate::configure::{self, targets::Client};
use crate::program;
pub use crate::protocol::Verb;
use clap::{
    ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum, ValueHint,
};

#[derive(Debug, Parser)]
#[command(
    name = program::NAME,
    version = program::VERSION,
    about = "Docker credential helper for Amazon ECR and ECR Public",
    // `-v` prints the reference helpers' version line (see `Cli::version`), not clap's.
    disable_version_flag = true,
    // A flag given twice is the flag given once, as it always was.
    args_override_self = true,
)]
pub struct Cli {
    /// Print the name, project URL and version
    #[arg(short = 'v', long = "version", action = ArgAction::SetTrue)]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Protocol(ProtocolVerb),

    /// Route ECR registries to this helper in docker's config.json or containers' auth.json
    #[command(name = configure::COMMAND)]
    Configure(ConfigureArgs),

    /// Explain whether and why HOST (default: every registry routed here) gets a token; exit 0 if all do and are routed here
    #[command(name = crate::doctor::COMMAND)]
    Doctor(DoctorArgs),

    /// Kubelet credential provider plugin: CredentialProviderRequest on stdin, response on stdout (also as `ecr-credential-provider`)
    #[command(name = crate::kubelet::COMMAND)]
    Kubelet,
}

/// The protocol's verbs as subcommands, for parsing, help, the man page and completions; the
/// wire protocol's own type ([`Verb`]) knows nothing of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum ProtocolVerb {
    /// Read a registry URL on stdin; print {"ServerURL","Username","Secret"} for it (other hosts: the fallback_store's answer)
    Get,
    /// Accept credentials from `docker login`: ECR hosts succeed silently (tokens are minted, not stored); other hosts go to the config file's fallback_store
    Store,
    /// Read a registry URL on stdin; forget its cached token, or the fallback_store's credentials for other hosts (`docker logout`)
    Erase,
    /// Print {"<server URL>":"AWS"} for every registry with a valid cached token, merged with the fallback_store's list
    List,
    /// Print the name, project URL and version
    Version,
}

impl From<ProtocolVerb> for Verb {
    fn from(verb: ProtocolVerb) -> Verb {
        match verb {
            ProtocolVerb::Get => Verb::Get,
            ProtocolVerb::Store => Verb::Store,
            ProtocolVerb::Erase => Verb::Erase,
            ProtocolVerb::List => Verb::List,
            ProtocolVerb::Version => Verb::Version,
        }
    }
}

#[derive(Debug, Args)]
pub struct ConfigureArgs {
    /// Edit docker's config.json ($DOCKER_CONFIG/config.json, else ~/.docker/config.json), which podman, skopeo and buildah also read (the default)
    #[arg(long)]
    pub docker: bool,

    /// Edit containers' auth.json ($REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, else ~/.config/containers/auth.json)
    #[arg(long)]
    pub containers: bool,

    /// Edit both files
    #[arg(long)]
    pub all: bool,

    /// Also route ACCOUNT's registry in every commercial AWS region, opt-in regions included
    #[arg(long, value_name = "ACCOUNT")]
    pub all_regions: Vec<String>,

    /// Delete this helper's entries for the hosts named, or all of them; other helpers' entries stay
    #[arg(long)]
    pub remove: bool,

    /// Print the change as a unified diff and write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Accept a HOST that is neither an ECR registry nor an alias in the config file
    #[arg(long)]
    pub force: bool,

    /// Print a kubelet CredentialProviderConfig (YAML) for this helper and exit
    #[arg(long, conflicts_with_all = ["all_regions", "remove", "dry_run", "force", "hosts"])]
    pub print_kubelet_config: bool,

    /// Registry hosts to route here (with --remove: to stop routing here)
    #[arg(
        value_name = "HOST",
        value_hint = ValueHint::Hostname,
        required_unless_present_any = ["all_regions", "remove", "print_kubelet_config"],
    )]
    pub hosts: Vec<String>,
}

impl ConfigureArgs {
    pub fn into_options(self) -> configure::Options {
        let named = [
            (Client::Docker, self.docker || self.all),
            (Client::Containers, self.containers || self.all),
        ];
        let mut clients: Vec<Client> = named
            .iter()
            .filter(|(_, on)| *on)
            .map(|(c, _)| *c)
            .collect();
        if clients.is_empty() {
            // podman, skopeo and buildah read docker's file too, so it serves every client.
            clients.push(Client::Docker);
        }
        configure::Options {
            dry_run: self.dry_run,
            remove: self.remove,
            force: self.force,
            clients,
            all_regions: self.all_regions,
            hosts: self.hosts,
            print_kubelet_config: self.print_kubelet_config,
        }
    }
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Registry hosts to check (default: every registry that docker's or podman's config routes to this helper)
    #[arg(value_name = "HOST", value_hint = ValueHint::Hostname)]
    pub hosts: Vec<String>,
}

/// What `--generate` prints. It is added to the parser ([`command`]), whose `--help` and man
/// page list it (a user of `cargo install` needs it to get the man page), but not to the
/// completions ([`user_command`]), which would offer a packager's option at every TAB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    // No doc comments on the values: clap would turn `--help` into its long form to show them.
    Man,
    Bash,
    Zsh,
    Fish,
    Elvish,
    #[value(name = "powershell")]
    PowerShell,
}

pub struct EnvVar {
    pub name: &'static str,
    pub summary: &'static str,
}

/// The environment variables users set; `--help` and the man page list them.
pub const ENV_VARS: &[EnvVar] = &[
    EnvVar {
        name: "AWS_PROFILE",
        summary: "AWS profile for registries the config file does not map (else AWS_DEFAULT_PROFILE, as AWS's Go helper reads it); credentials are chosen in the AWS CLI's order",
    },
    EnvVar {
        name: "AWS_ENDPOINT_URL_ECR",
        summary: "ECR API endpoint override (also AWS_ENDPOINT_URL_ECR_PUBLIC, AWS_ENDPOINT_URL)",
    },
    EnvVar {
        name: "AWS_USE_FIPS_ENDPOINT",
        summary: "true: the FIPS API endpoint for every registry (also AWS_USE_DUALSTACK_ENDPOINT; a dkr.ecr-fips or dkr-ecr host adds its own)",
    },
    EnvVar {
        name: "AWS_ECR_CACHE_DIR",
        summary: "Put the token cache in DIR/docker-credential-ecr (shared with AWS's helper's variable; its cache.json is never touched)",
    },
    EnvVar {
        name: crate::dirs::SYSTEMD_CACHE_VAR,
        summary: "With no usable HOME, no AWS_ECR_CACHE_DIR and no absolute XDG_CACHE_HOME (a systemd service): cache in its first directory's docker-credential-ecr; root with none of them caches in /var/cache/docker-credential-ecr",
    },
    EnvVar {
        name: crate::https::CA_BUNDLE_VAR,
        summary: "PEM file of the CAs that AWS calls trust, instead of the system's (also ca_bundle in the AWS profile; the variable wins), as in the AWS CLI",
    },
    EnvVar {
        name: "AWS_ECR_DISABLE_CACHE",
        summary: "Set to 1 to fetch a token on every request",
    },
    EnvVar {
        name: crate::config::ENV_VAR,
        summary: "Per-registry config file (default: ~/.config/docker-credential-ecr/config.toml)",
    },
    EnvVar {
        name: crate::identity::KEY_VARS_VAR,
        summary: "Comma-separated variables that choose the identity outside the AWS files (a credential_process reading $TEAM): their values key the cache, hashed",
    },
    EnvVar {
        name: crate::deadline::TIMEOUT_VAR,
        summary: "Seconds a request may take, from reading it to the answer, whatever it waits for (default 10)",
    },
    EnvVar {
        name: crate::log::ENV_VAR,
        summary: "Diagnostics on stderr, the AWS SDK's included: error, warn, info, debug, trace, or directives such as debug,aws_config=trace (default: off)",
    },
    EnvVar {
        name: "AWS_ENDPOINT_URL_STS",
        summary: "kubelet: STS endpoint that exchanges service-account tokens (AssumeRoleWithWebIdentity)",
    },
    EnvVar {
        name: "NO_COLOR",
        summary: "doctor: no colours even on a terminal",
    },
    EnvVar {
        name: crate::configure::targets::DOCKER_CONFIG_VAR,
        summary: "configure: directory of docker's config.json (default: ~/.docker)",
    },
    EnvVar {
        name: crate::configure::targets::REGISTRY_AUTH_FILE_VAR,
        summary: "configure --containers: the containers auth.json to edit",
    },
];

pub const GENERATE: &str = "generate";

/// What the command line parses to.
#[derive(Debug)]
pub enum Parsed {
    Run(Cli),
    Generate(Generate),
}

/// Parses the whole argument list, the program's name first.
pub fn parse(args: &[std::ffi::OsString]) -> Result<Parsed, clap::Error> {
    let matches = command().try_get_matches_from(args)?;
    if let Some(kind) = matches.get_one::<Generate>(GENERATE) {
        return Ok(Parsed::Generate(*kind));
    }
    Cli::from_arg_matches(&matches).map(Parsed::Run)
}

/// The parser: what users see, `--generate KIND` included.
pub fn command() -> clap::Command {
    user_command().arg(
        clap::Arg::new(GENERATE)
            .long(GENERATE)
            .value_name("KIND")
            .value_parser(clap::value_parser!(Generate))
            .help("Print the man page, docker-credential-ecr(1), or a shell's completion script, and exit")
            .exclusive(true),
    )
}

/// The definition as users see it (help, man page, completions), with what a derive cannot
/// say: the environment and the hint for docker's config under the top-level help.
pub fn user_command() -> clap::Command {
    let width = ENV_VARS.iter().map(|v| v.name.len()).max().unwrap_or(0);
    let mut after = String::from("Environment:\n");
    for v in ENV_VARS {
        after += &format!("  {:<width$}  {}\n", v.name, v.summary);
    }
    after += &format!(
        "\nUse it from ~/.docker/config.json: {{\"credHelpers\": {{\"<account>.dkr.ecr.<region>.amazonaws.com\": \"ecr\"}}}}\nMore: {}",
        program::REPOSITORY
    );
    Cli::command().after_help(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let args: Vec<std::ffi::OsString> = std::iter::once("docker-credential-ecr")
            .chain(args.iter().copied())
            .map(Into::into)
            .collect();
        match super::parse(&args)? {
            Parsed::Run(cli) => Ok(cli),
            other => panic!("{other:?}"),
        }
    }

    fn configure(args: &[&str]) -> configure::Options {
        let args: Vec<&str> = std::iter::once("configure")
            .chain(args.iter().copied())
            .collect();
        match parse(&args).unwrap().command {
            Some(Command::Configure(a)) => a.into_options(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn generate_is_for_packagers_only() {
        let args: Vec<std::ffi::OsString> = ["x", "--generate", "powershell"]
            .into_iter()
            .map(Into::into)
            .collect();
        assert!(matches!(
            super::parse(&args),
            Ok(Parsed::Generate(Generate::PowerShell))
        ));
        for bad in [
            &["--generate", "pdf"][..],
            &["--generate"],
            &["--generate", "man", "-v"],
        ] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
        assert!(
            user_command()
                .get_arguments()
                .all(|a| a.get_id() != GENERATE)
        );
    }

    #[test]
    fn configure_arguments() {
        let o = configure(&[
            "--dry-run",
            "a.example",
            "--all-regions=123456789012",
            "--containers",
            "b",
        ]);
        assert!(o.dry_run);
        assert_eq!(o.hosts, ["a.example", "b"]);
        assert_eq!(o.all_regions, ["123456789012"]);
        assert_eq!(o.clients, [Client::Containers]);
        assert_eq!(configure(&["--remove"]).clients, [Client::Docker]);
        assert_eq!(
            configure(&["--all", "--docker", "h"]).clients,
            [Client::Docker, Client::Containers]
        );
        assert_eq!(configure(&["--", "--dry-run"]).hosts, ["--dry-run"]);
        assert_eq!(configure(&["--all-regions", "1"]).all_regions, ["1"]);
        assert!(configure(&["--dry-run", "--dry-run", "h"]).dry_run);
        for bad in [
            &["--bogus", "h"][..],
            &["--all-regions"],
            &["--remove=1"],
            &["--print-kubelet-config", "h"],
            // An addition names what to add.
            &["--dry-run"],
        ] {
            let args: Vec<&str> = std::iter::once("configure")
                .chain(bad.iter().copied())
                .collect();
            let e = parse(&args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn protocol_verbs() {
        assert_eq!(Verb::from_word("get".as_ref()), Some(Verb::Get));
        assert_eq!(Verb::from_word("GET".as_ref()), None);
        assert_eq!(Verb::from_word("configure".as_ref()), None);
        // Each protocol verb is the subcommand of the same name, and clap knows no other.
        for v in Verb::ALL {
            let name = v.name();
            assert_eq!(Verb::from_word(name.as_ref()), Some(v));
            match parse(&[name]).unwrap().command {
                Some(Command::Protocol(parsed)) => assert_eq!(Verb::from(parsed), v),
                other => panic!("{other:?}"),
            }
        }
        let clap_verbs =
            <ProtocolVerb as clap::Subcommand>::augment_subcommands(clap::Command::new("x"))
                .get_subcommands()
                .count();
        assert_eq!(clap_verbs, Verb::ALL.len());
        assert_eq!(Verb::usage("x"), "Usage: x <get|store|erase|list|version>");
    }
}
