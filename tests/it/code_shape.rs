//! The shape the code keeps (issue 17), checked on the source so that it cannot drift back: a
//! small public surface, no import circles between modules, no process-wide state, and a wire
//! protocol that knows nothing of the command line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Every library module's file, by module path (`cli/router`), without `lib`, `main` and `bin/`.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new(SRC), &mut files);
    files
        .into_iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(SRC).unwrap().with_extension("");
            let name = rel.to_string_lossy().into_owned();
            let skip = ["lib", "main"].contains(&name.as_str()) || name.starts_with("bin/");
            (!skip).then(|| (name, std::fs::read_to_string(&path).unwrap()))
        })
        .collect()
}

/// The code of a file before its unit tests, without comment lines.
fn code(text: &str) -> String {
    let end = text
        .match_indices("#[cfg(test)]\n")
        .find(|(at, m)| {
            let next = text[at + m.len()..].lines().next().unwrap_or_default();
            next.contains("mod tests")
        })
        .map_or(text.len(), |(at, _)| at);
    text[..end]
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
