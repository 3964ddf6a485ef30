//! A unified diff of two small texts, for `configure --dry-run`, made by the `similar` crate.

use std::time::Duration;

/// Lines of context around each change, as `diff -u` shows.
const CONTEXT: usize = 3;

/// A config file is a few KiB; should one be huge, the diff settles for a coarser (still
/// correct) answer rather than keep the user waiting.
const DEADLINE: Duration = Duration::from_secs(1);

/// `--- old_name` / `+++ new_name` and `@@` hunks; empty when the texts are equal. Secrets are
/// shown [`redacted`], in context lines as in changed ones.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    let (old, new) = (redacted(old), redacted(new));
    similar::TextDiff::configure()
        .timeout(DEADLINE)
        .diff_lines(&old, &new)
        .unified_diff()
        .context_radius(CONTEXT)
        .header(old_name, new_name)
        .to_string()
}

/// The JSON keys whose values are secrets in the clients' files: `auth` (base64 of
/// `user:password`), `password`, and the OAuth `identitytoken` and `registrytoken`. Clients
/// match keys without regard to case, and so does the redaction.
const SECRET_KEYS: &[&str] = &["auth", "password", "identitytoken", "registrytoken"];

/// What a redacted value is shown as.
pub const REDACTED: &str = "<redacted>";

/// `text` with every string value of a [`SECRET_KEYS`] key replaced by [`REDACTED`]: a dry run
/// prints context lines, and dry runs end up in CI logs. Strings are skipped whole, so a key's
/// name inside another string is not taken for a key.
pub fn redacted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('"') {
        let Some(len) = string_len(&rest[start..]) else {
            break;
        };
        out.push_str(&rest[..start]);
        let (string, after) = rest[start..].split_at(len);
        out.push_str(string);
        rest = after;
        let key = &string[1..string.len() - 1];
        if SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
            && let Some((separator, value_len)) = secret_value(rest)
        {
            out.push_str(&rest[..separator]);
            out.push('"');
            out.push_str(REDACTED);
            out.push('"');
            rest = &rest[separator + value_len..];
        }
    }
    out.push_str(rest);
    out
}

/// The length of the JSON string `s` starts with (quotes included), if it is closed.
fn string_len(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, b) in s.bytes().enumerate().skip(1) {
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'"') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// After a key: the length of `<space>:<space>` and of the string value that follows, when
/// the value is a string.
fn secret_value(after_key: &str) -> Option<(usize, usize)> {
    let colon = after_key.trim_start();
    let rest = colon.strip_prefix(':')?;
    let value = rest.trim_start();
    if !value.starts_with('"') {
        return None;
    }
    let separator = after_key.len() - value.len();
    Some((separator, string_len(value)?))
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

    #[test]
    fn secrets_are_redacted_and_nothing_else() {
        let text = "{\"auths\": {\"h\": {\"auth\": \"c2VjcmV0\", \"Password\" : \"p\\\"w\"}},\n\"x\": \"auth\", \"identitytoken\":\"i\", \"registrytoken\": 5, \"k\": \"v\"}";
        assert_eq!(
            redacted(text),
            "{\"auths\": {\"h\": {\"auth\": \"<redacted>\", \"Password\" : \"<redacted>\"}},\n\"x\": \"auth\", \"identitytoken\":\"<redacted>\", \"registrytoken\": 5, \"k\": \"v\"}"
        );
        assert_eq!(redacted("{\"auth\": \"unclosed"), "{\"auth\": \"unclosed");
        assert_eq!(redacted("no strings"), "no strings");
    }
}
