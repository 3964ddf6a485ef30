//! `docker-credential-ecr --generate man|bash|zsh|fish`: the man page and shell completions,
//! rendered from the command line's definition ([`cli::COMMANDS`], [`cli::OPTIONS`],
//! [`cli::ENV_VARS`]) so that they cannot drift from the binary they ship with.
//!
//! A hidden flag of the binary rather than an `xtask`: packagers (Debian, RPM, Homebrew) run
//! the binary they just built, and need no second program.
//!
//! - [`man`]: `docker-credential-ecr(1)` in roff;
//! - [`completions`]: bash, zsh and fish.

pub mod completions;
pub mod man;

use crate::cli::{self, Command, Opt};
use std::io::Write;

pub const FLAG: &str = "--generate";

/// Renders one artefact.
pub type Render = fn() -> String;

/// The artefacts, by the name `--generate` takes.
pub const KINDS: &[(&str, Render)] = &[
    ("man", man::render),
    ("bash", completions::bash),
    ("zsh", completions::zsh),
    ("fish", completions::fish),
];

/// Runs `--generate` with the words after it; returns the exit code.
pub fn main(args: &[&str], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let names: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
    match args {
        [kind] => match KINDS.iter().find(|(n, _)| n == kind) {
            Some((_, render)) => match out.write_all(render().as_bytes()).and_then(|_| out.flush())
            {
                Ok(()) => 0,
                Err(e) => {
                    let _ = writeln!(err, "{}: cannot write: {e}", cli::NAME);
                    1
                }
            },
            None => usage(err, &names),
        },
        _ => usage(err, &names),
    }
}

fn usage(err: &mut dyn Write, names: &[&str]) -> u8 {
    let _ = writeln!(err, "Usage: {} {FLAG} <{}>", cli::NAME, names.join("|"));
    1
}

/// Commands a user types, in definition order.
fn commands() -> impl Iterator<Item = &'static Command> {
    cli::COMMANDS.iter()
}

fn options_of(command: &str) -> impl Iterator<Item = &'static Opt> + '_ {
    cli::OPTIONS.iter().filter(move |o| o.command == command)
}

/// A summary for completion menus, which show one short line: without its parenthesised
/// asides, up to the first `; `.
fn short(summary: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for ch in summary.chars() {
        match ch {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(ch),
            _ => {}
        }
    }
    let out = out.replace(" ,", ",").replace("  ", " ");
    match out.find("; ") {
        Some(i) => out[..i].trim_end().to_string(),
        None => out.trim_end().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = main(args, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn each_kind_renders_and_bad_requests_get_usage() {
        for (kind, _) in KINDS {
            let (code, out, _) = run(&[kind]);
            assert_eq!(code, 0);
            assert!(out.len() > 200, "{kind}");
        }
        let (code, out, err) = run(&["pdf"]);
        assert_eq!((code, out.as_str()), (1, ""));
        assert_eq!(
            err,
            "Usage: docker-credential-ecr --generate <man|bash|zsh|fish>\n"
        );
        assert_eq!(run(&[]).0, 1);
    }

    #[test]
    fn short_summaries() {
        assert_eq!(
            short("Edit config.json ($X, else ~/x (y)), which y reads (the default)"),
            "Edit config.json, which y reads"
        );
        assert_eq!(
            short("Explain why HOST (default: all) gets one; exit 0"),
            "Explain why HOST gets one"
        );
        assert_eq!(
            short("Read a URL on stdin; print it"),
            "Read a URL on stdin"
        );
        assert_eq!(short("Edit both files"), "Edit both files");
    }
}
