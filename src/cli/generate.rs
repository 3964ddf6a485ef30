//! `docker-credential-ecr --generate man|bash|zsh|fish|elvish|powershell`: the man page
//! (clap_mangen) and shell completions (clap_complete), rendered from the command line's one
//! definition ([`super::args`]) so that they cannot drift from the binary they ship with.
//!
//! An option of the binary rather than an `xtask`: packagers (Debian, RPM, Homebrew) run the
//! binary they just built, and need no second program; `--help` and the man page list it, for
//! whoever installed the binary alone.

use super::args::{self, ENV_VARS, Generate};
use crate::program::{NAME, REPOSITORY};
use clap_complete::Shell;
use roff::{Roff, bold, italic, roman};
use std::io::Write;

/// Writes one artefact to `out`; returns the exit code.
pub fn main(kind: Generate, out: &mut dyn Write) -> u8 {
    let mut text = Vec::new();
    match kind {
        Generate::Man => text = man().into_bytes(),
        Generate::Bash => completion(Shell::Bash, &mut text),
        Generate::Zsh => completion(Shell::Zsh, &mut text),
        Generate::Fish => completion(Shell::Fish, &mut text),
        Generate::Elvish => completion(Shell::Elvish, &mut text),
        Generate::PowerShell => completion(Shell::PowerShell, &mut text),
    }
    match out.write_all(&text).and_then(|_| out.flush()) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{NAME}: cannot write: {e}");
            1
        }
    }
}

fn completion(shell: Shell, out: &mut Vec<u8>) {
    clap_complete::generate(shell, &mut args::user_command(), NAME, out);
    if shell == Shell::Bash {
        // clap_complete spells a hyphenated program's state two ways in bash, so that nothing
        // after the first word completed (clap-rs/clap#6421, #6529): the case labels get the
        // spelling the dispatch loop sets. A no-op once it is fixed there; the COMPREPLY test in
        // tests/it/man_and_completions.rs checks the result either way.
        let wrong = NAME.replace('-', "__subcmd__");
        let right = NAME.replace('-', "__");
        let text = String::from_utf8_lossy(out).replace(&wrong, &right);
        *out = text.into_bytes();
    }
}

const DESCRIPTION: &[&str] = &[
    "A docker credential helper for Amazon ECR and ECR Public. docker, podman, skopeo, buildah, nerdctl and CI runners run it to get a registry password, so that they pull from and push to ECR without docker login.",
    "Clients run it as docker-credential-ecr ACTION, where ACTION is one of get, store, erase, list and version and is the only argument, with the request on standard input, and read the answer, or an error, on standard output. A token is cached on disk until shortly before it expires; a cache hit reads one small file and resolves no AWS credentials. Concurrent misses make one API call. Diagnostics go to standard error, which clients show to the user, and only when asked for.",
    "To route registries to the helper, map their hosts to ecr in the credHelpers object of a client's config file; configure does that safely. AWS credentials come from the usual chain (environment, profile, web identity, container and instance roles), per registry as the config file says.",
];

/// Where the files live on Linux.
const FILES: &[(&str, &str)] = &[
    (
        "~/.config/docker-credential-ecr/config.toml",
        "Per-registry profiles, roles, regions, endpoints and aliases (TOML); $DOCKER_CREDENTIAL_ECR_CONFIG names another file.",
    ),
    (
        "~/.docker/config.json",
        "docker's config; its \"credHelpers\" map routes a registry host to this helper as \"ecr\". $DOCKER_CONFIG/config.json when DOCKER_CONFIG is set.",
    ),
    (
        "~/.config/containers/auth.json",
        "The containers auth file of podman, skopeo and buildah, read before docker's; $REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json take precedence.",
    ),
    (
        "<file>.bak",
        "The previous version of a file that configure changed.",
    ),
];

const EXAMPLES: &[(&str, &str)] = &[
    (
        "Route a private registry and ECR Public to the helper in docker's config:",
        "docker-credential-ecr configure 123456789012.dkr.ecr.eu-west-1.amazonaws.com public.ecr.aws",
    ),
    (
        "Show what routing an account's registries in every region for every client would change:",
        "docker-credential-ecr configure --dry-run --all --all-regions 123456789012",
    ),
    ("Undo it:", "docker-credential-ecr configure --all --remove"),
    (
        "Ask for a password the way a client does:",
        "echo 123456789012.dkr.ecr.eu-west-1.amazonaws.com | docker-credential-ecr get",
    ),
    (
        "Install the kubelet's credential provider config:",
        "docker-credential-ecr configure --print-kubelet-config > /etc/kubernetes/credential-provider-config.yaml",
    ),
];

const SEE_ALSO: &[(&str, u8)] = &[
    ("docker-login", 1),
    ("podman-login", 1),
    ("skopeo-login", 1),
    ("containers-auth.json", 5),
    ("kubelet", 1),
];

/// `docker-credential-ecr(1)`: clap_mangen's title, name, synopsis and options; the commands
/// and their options from the same definition; then the sections clap has no words for.
fn man() -> String {
    // The parser's definition, `--generate` included (the completions leave it out).
    let cmd = args::command();
    let page = clap_mangen::Man::new(cmd.clone()).manual("User Commands");
    let mut out = Vec::new();
    // Rendering into a Vec cannot fail.
    let _ = page.render_title(&mut out);
    let _ = page.render_name_section(&mut out);
    let _ = page.render_synopsis_section(&mut out);

    let mut r = Roff::new();
    description(&mut r);
    let _ = r.to_writer(&mut out);
    let _ = page.render_options_section(&mut out);

    let mut r = Roff::new();
    commands(&mut r, &cmd);
    environment(&mut r);
    files(&mut r);
    exit_status(&mut r);
    examples(&mut r);
    see_also(&mut r);
    let _ = r.to_writer(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn description(r: &mut Roff) {
    r.control("SH", ["DESCRIPTION"]);
    for (i, paragraph) in DESCRIPTION.iter().enumerate() {
        if i > 0 {
            r.control("PP", []);
        }
        r.text([roman(*paragraph)]);
    }
}

fn environment(r: &mut Roff) {
    r.control("SH", ["ENVIRONMENT"]);
    for v in ENV_VARS {
        r.control("TP", [])
            .text([bold(v.name)])
            .text([roman(v.summary)]);
    }
}

fn files(r: &mut Roff) {
    r.control("SH", ["FILES"]);
    // The cache's line says what an entry is in the cache module's own words, so the page
    // cannot drift from the layout again.
    let (scope, beside) = (crate::cache::ENTRY_SCOPE, crate::cache::BESIDE_ENTRIES);
    let (var, unit, system) = (
        crate::dirs::CACHE_DIR_VAR,
        crate::dirs::SYSTEMD_CACHE_VAR,
        crate::dirs::SYSTEM_CACHE_DIR,
    );
    let app = crate::program::NAME;
    let cache = format!(
        "The token cache: {scope}; {beside}; in a 0700 directory; ${var}/{app} instead when that is set, else $XDG_CACHE_HOME/{app} when that is an absolute path. With no usable HOME and neither (a system service), ${unit}/{app}, else for root {system} (which must be root's and 0700).",
    );
    let (config, clients) = FILES.split_at(1);
    let lines = config
        .iter()
        .map(|(path, what)| (*path, what.to_string()))
        .chain([("~/.cache/docker-credential-ecr/", cache)])
        .chain(clients.iter().map(|(path, what)| (*path, what.to_string())));
    for (path, what) in lines {
        r.control("TP", []).text([italic(path)]).text([roman(what)]);
    }
}

fn exit_status(r: &mut Roff) {
    r.control("SH", ["EXIT STATUS"]);
    for (code, what) in [
        ("0", "Success.".to_string()),
        (
            "1",
            format!(
                "Failure, with the reason on standard output for the protocol actions and on standard error for the others. get also exits 1 with the protocol's \"{}\" for a registry it does not serve; clients then carry on anonymously. A protocol action with another argument after it, no action, or an unknown action gets a usage line on standard output and exit status 1, as the reference helpers give.",
                crate::protocol::NOT_FOUND
            ),
        ),
        (
            "2",
            "A usage error of configure, doctor or kubelet (an unknown option, a missing or extra argument), explained in one line on standard error.".to_string(),
        ),
    ] {
        r.control("TP", []).text([bold(code)]).text([roman(what)]);
    }
}

fn examples(r: &mut Roff) {
    r.control("SH", ["EXAMPLES"]);
    for (what, command) in EXAMPLES {
        r.control("PP", []).text([roman(*what)]);
        r.control("PP", []).control("RS", ["4"]).control("EX", []);
        r.text([roman(*command)]);
        r.control("EE", []).control("RE", []);
    }
}

fn see_also(r: &mut Roff) {
    r.control("SH", ["SEE ALSO"]);
    for (i, (page, section)) in SEE_ALSO.iter().enumerate() {
        let sep = if i + 1 < SEE_ALSO.len() { "," } else { "" };
        r.control("BR", [*page, &format!("({section}){sep}")]);
    }
    r.control("PP", []).text([roman(REPOSITORY)]);
}

/// One entry per visible command, with its arguments and options, as `--help` shows them.
fn commands(r: &mut Roff, cmd: &clap::Command) {
    r.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let args: Vec<&clap::Arg> = sub.get_arguments().filter(|a| !a.is_hide_set()).collect();
        let mut synopsis = vec![bold(sub.get_name())];
        if args.iter().any(|a| !a.is_positional()) {
            synopsis.extend([roman(" ["), italic("OPTIONS"), roman("]")]);
        }
        for a in args.iter().filter(|a| a.is_positional()) {
            let many = matches!(a.get_action(), clap::ArgAction::Append);
            synopsis.extend([roman(" ["), italic(value_name(a)), roman("]")]);
            if many {
                synopsis.push(roman("..."));
            }
        }
        r.control("TP", []).text(synopsis);
        r.text([roman(about(sub))]);
        let options: Vec<&&clap::Arg> = args.iter().filter(|a| !a.is_positional()).collect();
        if options.is_empty() {
            continue;
        }
        r.control("RS", []);
        for a in options {
            let mut line = vec![bold(format!("--{}", a.get_long().unwrap_or_default()))];
            if a.get_action().takes_values() {
                line.extend([roman(" "), italic(value_name(a))]);
            }
            r.control("TP", []).text(line);
            r.text([roman(
                a.get_help().map(ToString::to_string).unwrap_or_default(),
            )]);
        }
        r.control("RE", []);
    }
}

fn value_name(a: &clap::Arg) -> String {
    a.get_value_names().and_then(|n| n.first()).map_or_else(
        || a.get_id().to_string().to_uppercase(),
        ToString::to_string,
    )
}

fn about(cmd: &clap::Command) -> String {
    cmd.get_about().map(ToString::to_string).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(kind: Generate) -> String {
        let mut out = Vec::new();
        assert_eq!(main(kind, &mut out), 0);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_man_page_has_every_section_command_option_and_variable() {
        let m = generate(Generate::Man);
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "COMMANDS",
            "ENVIRONMENT",
            "FILES",
            "EXIT STATUS",
            "EXAMPLES",
            "SEE ALSO",
        ] {
            assert!(
                m.contains(&format!("\n.SH {section}\n"))
                    || m.contains(&format!("\n.SH \"{section}\"\n")),
                "{section}"
            );
        }
        // FILES says what a cache entry is in the cache module's words (it once said "per
        // registry", after the cache had become per identity and region).
        assert!(!m.contains("per registry and identity"));
        for words in [crate::cache::ENTRY_SCOPE, crate::cache::BESIDE_ENTRIES] {
            assert!(m.contains(&words.replace('-', "\\-")), "{m}");
        }
        let cmd = args::user_command();
        for sub in cmd.get_subcommands() {
            assert!(
                m.contains(&format!("\\fB{}\\fR", sub.get_name())),
                "{}",
                sub.get_name()
            );
            for a in sub.get_arguments().filter_map(|a| a.get_long()) {
                assert!(
                    m.contains(&format!("\\fB\\-\\-{}\\fR", a.replace('-', "\\-"))),
                    "{a}"
                );
            }
        }
        for v in ENV_VARS {
            assert!(
                m.contains(&format!("\\fB{}\\fR", v.name.replace('-', "\\-"))),
                "{}",
                v.name
            );
        }
        assert!(
            m.contains("\\-\\-generate"),
            "how the page is made, for whoever installed the binary alone"
        );
    }

    #[test]
    fn every_shell_gets_every_command_and_option() {
        for kind in [
            Generate::Bash,
            Generate::Zsh,
            Generate::Fish,
            Generate::Elvish,
            Generate::PowerShell,
        ] {
            let script = generate(kind);
            for sub in args::user_command().get_subcommands() {
                assert!(
                    script.contains(sub.get_name()),
                    "{kind:?}: {}",
                    sub.get_name()
                );
                for a in sub.get_arguments().filter_map(|a| a.get_long()) {
                    assert!(script.contains(a), "{kind:?}: {a}");
                }
            }
            assert!(
                !script.contains("generate"),
                "{kind:?}: hidden option offered"
            );
        }
    }
}
