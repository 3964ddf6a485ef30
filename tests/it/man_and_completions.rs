//! The man page and completions that `--generate` prints, checked by the tools that will read
//! them: groff and man-db for the page, bash, zsh and fish for the completions.
//! `scripts/install-test-deps` installs them all; a missing one skips its check loudly (a
//! failure under `DOCKER_CREDENTIAL_ECR_E2E_REQUIRED=1`).

use crate::common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn generate(kind: &str) -> String {
    let out = Sandbox::new().run(["--generate", kind], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn run(program: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("LC_ALL", "C.UTF-8")
        .env("MANWIDTH", "80");
    run_cmd(cmd, "")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn man_page_renders_without_warnings() {
    if !have("man_page_renders_without_warnings", &["groff"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = write(dir.path(), "docker-credential-ecr.1", &generate("man"));
    let out = run("groff", &["-man", "-Tutf8", "-ww", "-z", &page]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warnings");
    if have("man_page_renders_without_warnings: man -l", &["man"]) {
        let text = stdout(&run("man", &["--warnings", "-l", &page]));
        for heading in ["NAME", "SYNOPSIS", "COMMANDS", "ENVIRONMENT", "EXIT STATUS"] {
            assert!(text.contains(&format!("\n{heading}\n")), "{heading}");
        }
        assert!(text.contains("--print-kubelet-config"));
    }
    if have("man_page_renders_without_warnings: lexgrog", &["lexgrog"]) {
        // What whatis(1) and apropos(1) will index.
        let name = stdout(&run("lexgrog", &[&page]));
        assert!(name.contains("\"docker-credential-ecr - "), "{name}");
    }
}

#[test]
fn bash_completion_completes_commands_and_options() {
    if !have("bash_completion_completes_commands_and_options", &["bash"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "completion.bash", &generate("bash"));
    stdout(&run("bash", &["-n", &script]));
    let complete = |words: &str| {
        let program = format!(
            "source '{script}'; complete -p docker-credential-ecr; COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); _docker_credential_ecr; echo \"${{COMPREPLY[*]}}\""
        );
        stdout(&run("bash", &["-c", &program]))
    };
    assert_eq!(
        complete("docker-credential-ecr con"),
        "complete -F _docker_credential_ecr docker-credential-ecr\nconfigure\n"
    );
    assert!(complete("docker-credential-ecr configure --a").ends_with("\n--all --all-regions\n"));
    assert!(complete("docker-credential-ecr configure --all-regions ''").ends_with("\n\n"));
    assert!(complete("docker-credential-ecr configure pub").ends_with("\npublic.ecr.aws\n"));
    assert!(
        complete("docker-credential-ecr ''").contains("\nget store erase list version configure ")
    );
}

#[test]
fn zsh_completion_is_valid_and_registered_by_compinit() {
    if !have(
        "zsh_completion_is_valid_and_registered_by_compinit",
        &["zsh"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "_docker-credential-ecr", &generate("zsh"));
    stdout(&run("zsh", &["-n", &script]));
    let program = format!(
        "fpath=('{}' $fpath); autoload -U compinit; compinit -u -D; print -r -- ${{_comps[docker-credential-ecr]}}",
        dir.path().display()
    );
    assert_eq!(
        stdout(&run("zsh", &["-f", "-c", &program])),
        "_docker-credential-ecr\n"
    );
}

#[test]
fn fish_completion_completes_commands_and_options() {
    if !have("fish_completion_completes_commands_and_options", &["fish"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "docker-credential-ecr.fish", &generate("fish"));
    stdout(&run("fish", &["--no-execute", &script]));
    let complete = |line: &str| {
        let program = format!("source '{script}'; complete -C '{line}'");
        stdout(&run("fish", &["--no-config", "-c", &program]))
    };
    let commands = complete("docker-credential-ecr ");
    assert!(
        commands.contains("configure\tRoute ECR registries"),
        "{commands}"
    );
    assert!(commands.contains("get\t"), "{commands}");
    let options = complete("docker-credential-ecr configure --dr");
    assert_eq!(
        options,
        "--dry-run\tPrint the change as a unified diff and write nothing\n"
    );
    // Protocol commands take no options.
    assert_eq!(complete("docker-credential-ecr get --"), "");
}
