//! A unified diff of two small texts, for `configure --dry-run`, made by the `similar` crate.

use std::time::Duration;

/// Lines of context around each change, as `diff -u` shows.
const CONTEXT: usize = 3;

/// A config file is a few KiB; should one be huge, the diff settles for a coarser (still
/// correct) answer rather than keep the user waiting.
const DEADLINE: Duration = Duration::from_secs(1);

/// `--- old_name` / `+++ new_name` and `@@` hunks; empty when the texts are equal.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::configure()
        .timeout(DEADLINE)
        .diff_lines(old, new)
        .unified_diff()
        .context_radius(CONTEXT)
        .header(old_name, new_name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "x", "y"), "");
    }

    #[test]
    fn one_insertion_with_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n";
        let new = "1\n2\n3\n4\n4a\n5\n6\n7\n8\n";
        assert_eq!(
            unified(old, new, "a/f", "b/f"),
            "--- a/f\n+++ b/f\n@@ -2,6 +2,7 @@\n 2\n 3\n 4\n+4a\n 5\n 6\n 7\n"
        );
    }

    #[test]
    fn change_replace_and_separate_hunks() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new: String = (1..=20)
            .filter(|i| *i != 18)
            .map(|i| {
                if i == 2 {
                    "two\n".into()
                } else {
                    format!("{i}\n")
                }
            })
            .collect();
        assert_eq!(
            unified(&old, &new, "o", "n"),
            "--- o\n+++ n\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n@@ -15,6 +15,5 @@\n 15\n 16\n 17\n-18\n 19\n 20\n"
        );
    }

    #[test]
    fn from_nothing_and_to_nothing() {
        assert_eq!(
            unified("", "{\n}\n", "/dev/null", "f"),
            "--- /dev/null\n+++ f\n@@ -0,0 +1,2 @@\n+{\n+}\n"
        );
        assert_eq!(
            unified("a\n", "", "f", "f"),
            "--- f\n+++ f\n@@ -1 +0,0 @@\n-a\n"
        );
    }

    #[test]
    fn a_huge_middle_falls_back_to_replacement() {
        let old: String = (0..3000).map(|i| format!("o{i}\n")).collect();
        let new: String = (0..3000).map(|i| format!("n{i}\n")).collect();
        let d = unified(&old, &new, "o", "n");
        assert!(d.starts_with("--- o\n+++ n\n@@ -1,3000 +1,3000 @@\n-o0\n"));
        assert_eq!(d.lines().filter(|l| l.starts_with('-')).count(), 3001);
    }
}
