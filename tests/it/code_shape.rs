//! The shape the code keeps (issue 17), checked on the source so that it cannot drift back: a
//! small public surface, no import circles between modules, no process-wide state, and a wire
//! protocol that knows nothing of the command line, and no function too long to read at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Every library module's file, by module path (`cli/router`), without `lib`, `main` and `bin/`.
fn modules() -> BTreeMap<String, String> {
    rust_files(Path::new(SRC))
        .into_iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(SRC).unwrap().with_extension("");
            let name = rel.to_string_lossy().into_owned();
            let skip = ["lib", "main"].contains(&name.as_str()) || name.starts_with("bin/");
            (!skip).then(|| (name, std::fs::read_to_string(&path).unwrap()))
        })
        .collect()
}

/// A file before its unit tests.
fn before_tests(text: &str) -> &str {
    let end = text
        .match_indices("#[cfg(test)]\n")
        .find(|(at, m)| {
            let next = text[at + m.len()..].lines().next().unwrap_or_default();
            next.contains("mod tests")
        })
        .map_or(text.len(), |(at, _)| at);
    &text[..end]
}

/// The code of a file before its unit tests, without comment lines.
fn code(text: &str) -> String {
    before_tests(text)
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module a path after `crate::` names: its submodule when it is one (`cli::router`).
fn module_of(path: &str, names: &BTreeSet<String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").map(str::trim).collect();
    let sub = parts.get(1).map(|s| format!("{}/{s}", parts[0]));
    sub.filter(|s| names.contains(s))
        .or_else(|| Some(parts[0].to_string()).filter(|m| names.contains(m)))
}

/// The modules `text` names through `crate::` paths, `use crate::{a, b::c}` included.
fn imports(text: &str, names: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for after in text.split("crate::").skip(1) {
        let path: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        found.extend(module_of(&path, names));
        if let Some(group) = after.strip_prefix('{') {
            let inside = group.split('}').next().unwrap_or_default();
            found.extend(inside.split(',').filter_map(|item| module_of(item, names)));
        }
    }
    found
}

#[test]
fn the_library_exports_at_most_eight_modules() {
    let lib = std::fs::read_to_string(Path::new(SRC).join("lib.rs")).unwrap();
    let public: Vec<&str> = lib.lines().filter(|l| l.starts_with("pub mod ")).collect();
    assert!(public.len() <= 8, "{public:#?}");
}

/// A `#[macro_export]` macro is public at the crate's root whatever module defines it: an API
/// nobody designed, as the 27 exported modules were.
#[test]
fn the_library_exports_no_macro() {
    let exported: Vec<String> = rust_files(Path::new(SRC))
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            code(&text).contains("#[macro_export]")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(exported.is_empty(), "{exported:?}");
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let modules = modules();
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let edges: BTreeMap<&String, BTreeSet<String>> = modules
        .iter()
        .map(|(name, text)| (name, imports(&code(text), &names)))
        .collect();
    let related =
        |a: &str, b: &str| a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"));
    let mut circles = Vec::new();
    for (a, targets) in &edges {
        for b in targets {
            let back = edges.get(b).is_some_and(|t| t.contains(a.as_str()));
            if a.as_str() < b.as_str() && back && !related(a, b) {
                circles.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(circles.is_empty(), "{circles:#?}");
}

#[test]
fn no_static_holds_state_outside_tests() {
    let statics: Vec<String> = modules()
        .iter()
        .flat_map(|(name, text)| {
            code(text)
                .lines()
                .filter(|l| l.trim_start().starts_with("static ") || l.contains(" static "))
                .filter(|l| !l.contains("'static"))
                .map(|l| format!("{name}: {}", l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(statics.is_empty(), "{statics:#?}");
}

#[test]
fn the_wire_protocol_knows_nothing_of_the_command_line() {
    let protocol = std::fs::read_to_string(Path::new(SRC).join("protocol.rs")).unwrap();
    assert!(!protocol.contains("clap"), "src/protocol.rs uses clap");
}

/// The checker itself: a circle it is shown is one it finds.
#[test]
fn the_circle_check_sees_a_circle() {
    let names: BTreeSet<String> = ["a", "b", "c/d"].map(String::from).into();
    let a = imports(&code("use crate::b::X;\n// crate::c\n"), &names);
    let b = imports(&code("use crate::{a, c::d::Y};\n"), &names);
    assert_eq!(a, ["b"].map(String::from).into());
    assert_eq!(b, ["a", "c/d"].map(String::from).into());
}

/// A line without its string and character literals and its trailing comment, so that only
/// the braces of code are left to count.
fn braces_of(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' if matches!(chars.clone().nth(1), Some('\'')) || chars.peek() == Some(&'\\') => {
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => break,
            '{' | '}' => out.push(c),
            _ => {}
        }
    }
    out
}

/// Each function of `text` (before its unit tests) longer than `limit` lines, comments counted,
/// as `name: lines`.
fn long_functions(text: &str, limit: usize) -> Vec<String> {
    let lines: Vec<&str> = before_tests(text).lines().map(str::trim_start).collect();
    let mut long = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(fn_at) = words.iter().position(|w| *w == "fn") else {
            continue;
        };
        let prefix = [
            "pub",
            "pub(crate)",
            "pub(super)",
            "async",
            "const",
            "unsafe",
            "extern",
        ];
        if !words[..fn_at].iter().all(|w| prefix.contains(w)) {
            continue;
        }
        let (mut depth, mut opened) = (0i32, false);
        for (end, body) in lines[at..].iter().enumerate() {
            for brace in braces_of(body).chars() {
                depth += if brace == '{' { 1 } else { -1 };
                opened = true;
            }
            if !opened && body.ends_with(';') {
                break;
            }
            if opened && depth == 0 {
                if end + 1 > limit {
                    let name = words.get(fn_at + 1).unwrap_or(&"?");
                    let name = name.split(['(', '<']).next().unwrap_or(name);
                    long.push(format!("{name}: {} lines", end + 1));
                }
                break;
            }
        }
    }
    long
}

/// Issue 17's bound: a function a reader must scroll through holds more than one idea.
#[test]
fn no_function_in_src_is_over_80_lines() {
    let long: Vec<String> = rust_files(Path::new(SRC))
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let rel = path.strip_prefix(SRC).unwrap().display().to_string();
            long_functions(&text, 80)
                .into_iter()
                .map(move |f| format!("src/{rel}: {f}"))
        })
        .collect();
    assert!(long.is_empty(), "{long:#?}");
}

/// The length checker itself: it measures a function whose strings hold braces, and skips a
/// declaration without a body.
#[test]
fn the_length_check_measures_a_function() {
    let body = "    let s = \"}}{\"; // }\n".repeat(3);
    let text =
        format!("fn f() -> u8;\npub(crate) fn long(x: u8) {{\n{body}    if x == b'{{' {{}}\n}}\n");
    assert_eq!(long_functions(&text, 5), ["long: 6 lines"]);
    assert!(long_functions(&text, 6).is_empty());
}
