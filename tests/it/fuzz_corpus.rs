//! The fuzz corpus, replayed through the fuzz targets' own checks in a plain `cargo test`: CI
//! needs neither cargo-fuzz nor nightly features to keep every committed input passing.
//! (`fuzz/replay` runs just this; `fuzz/README.md` says how to fuzz for real.)

use crate::fuzz_checks as checks;

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Runs `check` on every input of `target`'s corpus, naming the input that fails.
fn replay(target: &str, check: impl Fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)));
        if let Err(panic) = result {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("fuzz/{target} input {} fails: {msg}", path.display());
        }
    }
}

#[test]
fn host_corpus() {
    replay("host", checks::host);
}

#[test]
fn stdin_corpus() {
    replay("stdin", checks::stdin);
}

#[test]
fn cache_file_corpus() {
    let dir = tempfile::tempdir().unwrap();
    replay("cache_file", |data| checks::cache_file(data, dir.path()));
}

#[test]
fn config_corpus() {
    replay("config", checks::config);
}
