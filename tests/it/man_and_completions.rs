//! The man page and completions that `--generate` prints (clap_mangen, clap_complete), checked by
//! the tools that will read them: groff and man-db for the page; bash (through a real COMPREPLY),
//! zsh (compinit), fish (`complete -C`) and elvish (its completer called) for the completions. A tool that is missing
//! skips its test loudly, and fails it under `DOCKER_CREDENTIAL_ECR_E2E_REQUIRED=1`
//! (`scripts/install-test-deps` installs them all).

use crate::common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn generate(kind: &str) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(["--generate", kind]);
    let out = run_cmd(cmd, "");
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// `program` to completion through the suite's one runner (bounded, its output kept).
fn run(program: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("LC_ALL", "C.UTF-8")
        .env("MANWIDTH", "80")
        .env("HOME", std::env::temp_dir());
    run_cmd(cmd, "")
}

/// The stdout of a run that must have succeeded.
fn succeeded(out: &Output) -> String {
    assert!(out.status.success(), "{}", describe(out));
    stdout(out)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn man_page_renders_without_warnings() {
    if !have("man page", &["groff", "man", "lexgrog"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = write(dir.path(), "docker-credential-ecr.1", &generate("man"));
    let out = run("groff", &["-man", "-Tutf8", "-ww", "-z", &page]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "", "groff warnings");
    let out = run("man", &["--warnings", "-l", &page]);
    let text = succeeded(&out);
    assert_eq!(stderr(&out), "", "man warnings");
    for heading in [
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
            text.contains(&format!("\n{heading}\n")),
            "{heading}:\n{text}"
        );
    }
    for word in [
        "configure [OPTIONS] [HOST]...",
        "doctor [HOST]...",
        "--print-kubelet-config",
        "--all-regions ACCOUNT",
        "AWS_ECR_CACHE_DIR",
    ] {
        assert!(text.contains(word), "{word}:\n{text}");
    }
    // How the page itself is made, for whoever installed the binary alone.
    assert!(text.contains("--generate <KIND>"), "{text}");
    // What whatis(1) and apropos(1) will index.
    let name = succeeded(&run("lexgrog", &[&page]));
    assert!(name.contains("\"docker-credential-ecr - "), "{name}");
}

/// bash: the script as bash-completion loads it (`complete -p` names the function), called the
/// way readline calls it, and the COMPREPLY it leaves.
#[test]
fn bash_completion_completes_commands_and_options() {
    if !have("bash completion", &["bash"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "completion.bash", &generate("bash"));
    succeeded(&run("bash", &["-n", &script]));
    let complete = |words: &str| {
        let program = format!(
            r#"source '{script}'
spec=$(complete -p docker-credential-ecr) || exit 1
f=${{spec#*-F }}; f=${{f%% *}}
COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}; COMPREPLY=()
"$f" docker-credential-ecr "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
echo "${{COMPREPLY[*]}}""#
        );
        succeeded(&run("bash", &["--norc", "-c", &program]))
    };
    assert_eq!(complete("docker-credential-ecr con"), "configure\n");
    assert_eq!(
        complete("docker-credential-ecr ''"),
        "-v -h --version --help get store erase list version configure doctor kubelet help\n"
    );
    assert_eq!(
        complete("docker-credential-ecr configure --a"),
        "--all --all-regions\n"
    );
    assert_eq!(
        complete("docker-credential-ecr configure --dry-run --pr"),
        "--print-kubelet-config\n"
    );
    assert_eq!(complete("docker-credential-ecr doctor --"), "--help\n");
    // The protocol verbs take nothing but --help.
    assert_eq!(complete("docker-credential-ecr get --"), "--help\n");
}

/// zsh: compinit finds the file on fpath and registers it for the command, and the function it
/// autoloads has a case for every command and knows their options.
#[test]
fn zsh_completion_is_registered_by_compinit_and_lists_the_commands() {
    if !have("zsh completion", &["zsh"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "_docker-credential-ecr", &generate("zsh"));
    succeeded(&run("zsh", &["-n", &script]));
    let program = format!(
        r#"fpath=('{}' $fpath); autoload -U compinit; compinit -u -D
print -r -- "registered: ${{_comps[docker-credential-ecr]}}"
autoload +X _docker-credential-ecr && print -r -- "loaded"
print -r -- "${{functions[_docker-credential-ecr]}}""#,
        dir.path().display()
    );
    let out = succeeded(&run("zsh", &["-f", "-c", &program]));
    assert!(
        out.starts_with("registered: _docker-credential-ecr\nloaded\n"),
        "{out}"
    );
    for name in COMMANDS {
        assert!(out.contains(&format!("({name})")), "{name}: {out}");
    }
    for option in ["--dry-run", "--all-regions", "--print-kubelet-config"] {
        assert!(out.contains(option), "{option}: {out}");
    }
}

#[test]
fn fish_completion_completes_commands_and_options() {
    if !have("fish completion", &["fish"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "docker-credential-ecr.fish", &generate("fish"));
    succeeded(&run("fish", &["--no-execute", &script]));
    let complete = |line: &str| {
        let program = format!("source '{script}'; complete -C '{line}'");
        succeeded(&run("fish", &["--no-config", "-c", &program]))
    };
    assert_eq!(
        complete("docker-credential-ecr con"),
        "configure\tRoute ECR registries to this helper in docker's config.json or containers' auth.json\n"
    );
    let commands = complete("docker-credential-ecr ");
    for name in ["get\t", "kubelet\t", "doctor\t"] {
        assert!(commands.contains(name), "{commands}");
    }
    assert_eq!(
        complete("docker-credential-ecr configure --dr"),
        "--dry-run\tPrint the change as a unified diff and write nothing\n"
    );
    assert!(complete("docker-credential-ecr get --").starts_with("--help\t"));
}

/// elvish: its line editor (the `edit:` module) exists only in an interactive shell, so the
/// script runs against a stand-in for the two names it uses, and the completer it registers is
/// called the way the editor calls it.
#[test]
fn elvish_completion_offers_commands_and_options() {
    if !have("elvish completion", &["elvish"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "docker-credential-ecr.elv", &generate("elvish"));
    let complete = |words: &str| {
        let program = format!(
            "var edit: = (ns [&completion:= (ns [&arg-completer= [&]]) &complex-candidate~= {{|text &display=''| put $text }}])
eval (slurp < '{script}') &ns=(ns [&edit:= $edit:])
$edit:completion:arg-completer[docker-credential-ecr] {words}"
        );
        let file = write(dir.path(), "run.elv", &program);
        succeeded(&run("elvish", &["-norc", &file]))
            .lines()
            .map(|l| l.trim_start_matches("▶ ").to_string())
            .collect::<Vec<_>>()
    };
    let first = complete("docker-credential-ecr ''");
    for name in COMMANDS {
        assert!(first.iter().any(|c| c == name), "{name}: {first:?}");
    }
    let options = complete("docker-credential-ecr configure ''");
    for option in ["--dry-run", "--all-regions", "--print-kubelet-config"] {
        assert!(options.iter().any(|c| c == option), "{option}: {options:?}");
    }
}

/// PowerShell is not in Debian, so its script is checked for shape only: the completer is
/// registered for the program and offers every command.
#[test]
fn powershell_completion_registers_a_completer() {
    let script = generate("powershell");
    assert!(
        script.contains("Register-ArgumentCompleter -Native -CommandName 'docker-credential-ecr'")
    );
    for name in ["get", "configure", "doctor", "kubelet", "--dry-run"] {
        assert!(script.contains(&format!("'{name}'")), "{name}");
    }
}
