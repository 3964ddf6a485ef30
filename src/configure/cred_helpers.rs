//! Adds and removes `credHelpers` entries in a docker `config.json` or a containers `auth.json`:
//! a pure function from the file's old text to its new text.
//!
//! The file is edited as text, not re-serialised: every other key, its order, nesting, number
//! formatting and whitespace stay byte for byte as they were, so the diff a user reviews shows
//! only our lines. New lines copy the indentation and line endings of their neighbours. The
//! whole text is validated with serde_json first; the scanner below may then assume valid JSON.

// Why not a CST crate (issue 11): jsonc-parser 0.34.0 (feature "cst": `CstRootNode::parse`,
// `CstObject::append`, `CstObjectProp::set_value`/`remove`), driving this same `edit` after the
// same serde_json validation, fails 5 of this file's 14 tests, each by rewriting bytes outside
// our entries (and it needs a duplicate-key check of our own, as `get` returns the first):
// - append makes a one-line object multi-line with two-space indentation: `{"auths":{"a":{}}}`
//   gets `{\n  "auths":{"a":{}},\n  "credHelpers": {...}\n}` (compact_files_stay_compact), so
//   add then remove of `{"a":1}` leaves `{\n  "a":1\n}`
//   (remove_deletes_only_our_entries_and_an_emptied_map);
// - it deletes blank lines inside a brace, and turns a one-line map `{"a": "b"}` into
//   `{\n    "a": "b",\n    "h": "ecr"\n  }` (blank_lines_and_one_line_maps_are_kept);
// - new entries always get `": "` and, under an indented top-level brace, 8 spaces for 6
//   (unusual_whitespace_and_crlf_are_followed); `{}` gets two spaces, not docker's tab
//   (empty_top_level_object_and_null_map_are_filled).
// It keeps CRLF, escaped keys and nested maps as we do. Size: no dependencies of its own; the
// stripped release binary grows by 78 440 bytes (5 864 696 -> 5 943 136, +1.3 %) even with the
// scanner below deleted.

use serde_json::Value;

/// The key docker and containers/image read per-registry helpers from.
pub const KEY: &str = "credHelpers";

/// What to do with the `credHelpers` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Map every host to the helper.
    Add,
    /// Delete the hosts' entries that name the helper (every such entry when no host is given).
    Remove,
}

/// What happened to one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(String),
    /// The host was routed to another helper; `previous` is that value as JSON.
    Replaced {
        host: String,
        previous: String,
    },
    AlreadySet(String),
    Removed(String),
    /// `--remove` found the host routed to another helper and left it.
    NotOurs {
        host: String,
        helper: String,
    },
    /// `--remove` found no entry for the host.
    Absent(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub text: String,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("it is not valid JSON (line {line}, column {column}: {message})")]
    Invalid {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("its top level is not a JSON object")]
    NotObject,
    #[error("its \"credHelpers\" is not a JSON object")]
    HelpersNotObject,
    #[error("the key {0:?} appears more than once, so clients may read either value")]
    DuplicateKey(String),
}

/// Applies `action` for `hosts` (already normalised) with `helper` (the suffix, e.g. `ecr`).
/// `old` is `None` for a file that does not exist yet.
pub fn edit(
    old: Option<&str>,
    action: Action,
    hosts: &[String],
    helper: &str,
) -> Result<Edit, EditError> {
    let old = old.unwrap_or("");
    if !old.trim().is_empty() {
        validate(old)?;
    }
    let mut text = old.to_string();
    let mut changes = Vec::new();
    match action {
        Action::Add => {
            for host in hosts {
                changes.push(add(&mut text, host, helper)?);
            }
        }
        Action::Remove => {
            let hosts = if hosts.is_empty() {
                ours(&text, helper)?
            } else {
                hosts.to_vec()
            };
            for host in &hosts {
                changes.push(remove(&mut text, host, helper)?);
            }
            drop_empty_helpers(&mut text)?;
        }
    }
    Ok(Edit { text, changes })
}

fn validate(text: &str) -> Result<(), EditError> {
    let value: Value = serde_json::from_str(text).map_err(|e| EditError::Invalid {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    match value {
        Value::Object(_) => Ok(()),
        _ => Err(EditError::NotObject),
    }
}

/// serde_json appends " at line L column C" to its messages; the error reports those itself.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn add(text: &mut String, host: &str, helper: &str) -> Result<Change, EditError> {
    let entry_value = quote(helper);
    let Some(top) = Object::parse_top(text)? else {
        // An empty or missing file: docker's own layout, ending in a newline as docker's does.
        *text = format!("{}\n", fresh_object(host, &entry_value));
        return Ok(Change::Added(host.to_string()));
    };
    if top.members.is_empty() {
        // Nothing to copy a layout from: docker's own (tab-indented).
        text.replace_range(top.open..=top.close, &fresh_object(host, &entry_value));
        return Ok(Change::Added(host.to_string()));
    }
    let Some(slot) = top.find(KEY) else {
        // No map yet: a new last member of the top-level object.
        let block = top.new_block(text, top.members.len(), host, &entry_value);
        let member = format!("{}{}{block}", quote(KEY), top.colon(text));
        top.append(text, &member);
        return Ok(Change::Added(host.to_string()));
    };
    let helpers = match Object::parse_value(text, &top.members[slot])? {
        Some(helpers) => helpers,
        None => {
            // `"credHelpers": null`, which Go reads as an empty map.
            let block = top.new_block(text, slot, host, &entry_value);
            let m = &top.members[slot];
            text.replace_range(m.value_start..m.value_end, &block);
            return Ok(Change::Added(host.to_string()));
        }
    };
    if let Some(i) = helpers.find(host) {
        let m = &helpers.members[i];
        let current = &text[m.value_start..m.value_end];
        if string_value(current).as_deref() == Some(helper) {
            return Ok(Change::AlreadySet(host.to_string()));
        }
        let previous = current.to_string();
        text.replace_range(m.value_start..m.value_end, &entry_value);
        return Ok(Change::Replaced {
            host: host.to_string(),
            previous,
        });
    }
    if helpers.members.is_empty() {
        let block = top.new_block(text, slot, host, &entry_value);
        text.replace_range(helpers.open..=helpers.close, &block);
    } else {
        let member = format!("{}{}{entry_value}", quote(host), helpers.colon(text));
        helpers.append(text, &member);
    }
    Ok(Change::Added(host.to_string()))
}

fn remove(text: &mut String, host: &str, helper: &str) -> Result<Change, EditError> {
    let Some(helpers) = helpers_object(text)? else {
        return Ok(Change::Absent(host.to_string()));
    };
    let Some(i) = helpers.find(host) else {
        return Ok(Change::Absent(host.to_string()));
    };
    let m = &helpers.members[i];
    let current = &text[m.value_start..m.value_end];
    if string_value(current).as_deref() != Some(helper) {
        return Ok(Change::NotOurs {
            host: host.to_string(),
            helper: string_value(current).unwrap_or_else(|| current.to_string()),
        });
    }
    helpers.remove(text, i);
    Ok(Change::Removed(host.to_string()))
}

/// Every host whose entry names `helper`, in file order.
fn ours(text: &str, helper: &str) -> Result<Vec<String>, EditError> {
    let Some(helpers) = helpers_object(text)? else {
        return Ok(Vec::new());
    };
    Ok(helpers
        .members
        .iter()
        .filter(|m| string_value(&text[m.value_start..m.value_end]).as_deref() == Some(helper))
        .map(|m| m.key.clone())
        .collect())
}

/// docker omits an empty map when it writes the file; so do we, once our last entry is gone.
fn drop_empty_helpers(text: &mut String) -> Result<(), EditError> {
    let Some(top) = Object::parse_top(text)? else {
        return Ok(());
    };
    let Some(slot) = top.find(KEY) else {
        return Ok(());
    };
    if let Some(helpers) = Object::parse_value(text, &top.members[slot])?
        && helpers.members.is_empty()
    {
        top.remove(text, slot);
    }
    Ok(())
}

fn helpers_object(text: &str) -> Result<Option<Object>, EditError> {
    let Some(top) = Object::parse_top(text)? else {
        return Ok(None);
    };
    match top.find(KEY) {
        Some(slot) => Object::parse_value(text, &top.members[slot]),
        None => Ok(None),
    }
}

fn fresh_object(host: &str, value: &str) -> String {
    format!(
        "{{\n\t{}: {{\n\t\t{}: {value}\n\t}}\n}}",
        quote(KEY),
        quote(host)
    )
}

fn quote(s: &str) -> String {
    // Serialising a string cannot fail.
    serde_json::to_string(s).unwrap_or_default()
}

fn string_value(json: &str) -> Option<String> {
    serde_json::from_str::<String>(json).ok()
}

/// One `"key": value` of an object, as byte offsets into the text.
#[derive(Debug)]
struct Member {
    key: String,
    key_start: usize,
    key_end: usize,
    value_start: usize,
    value_end: usize,
}

/// An object's braces and members, as byte offsets into the text.
#[derive(Debug)]
struct Object {
    open: usize,
    close: usize,
    members: Vec<Member>,
}

impl Object {
    /// The top-level object; `None` for a text that is only whitespace.
    fn parse_top(text: &str) -> Result<Option<Object>, EditError> {
        let start = skip_ws(text, 0);
        match text.as_bytes().get(start) {
            None => Ok(None),
            Some(b'{') => Object::parse(text, start).map(Some),
            Some(_) => Err(EditError::NotObject),
        }
    }

    /// The object a member's value is; `None` for `null`.
    fn parse_value(text: &str, member: &Member) -> Result<Option<Object>, EditError> {
        match &text[member.value_start..member.value_end] {
            "null" => Ok(None),
            v if v.starts_with('{') => Object::parse(text, member.value_start).map(Some),
            _ => Err(EditError::HelpersNotObject),
        }
    }

    fn parse(text: &str, open: usize) -> Result<Object, EditError> {
        let bytes = text.as_bytes();
        let mut members: Vec<Member> = Vec::new();
        let mut pos = skip_ws(text, open + 1);
        while bytes.get(pos) == Some(&b'"') {
            let key_start = pos;
            let key_end = skip_string(bytes, pos);
            let key = string_value(&text[key_start..key_end]).unwrap_or_default();
            if members.iter().any(|m| m.key == key) {
                return Err(EditError::DuplicateKey(key));
            }
            // Past the colon.
            let value_start = skip_ws(text, skip_ws(text, key_end) + 1);
            let value_end = skip_value(bytes, value_start);
            members.push(Member {
                key,
                key_start,
                key_end,
                value_start,
                value_end,
            });
            pos = skip_ws(text, value_end);
            if bytes.get(pos) == Some(&b',') {
                pos = skip_ws(text, pos + 1);
            }
        }
        Ok(Object {
            open,
            close: pos,
            members,
        })
    }

    fn find(&self, key: &str) -> Option<usize> {
        self.members.iter().position(|m| m.key == key)
    }

    /// The whitespace before member `i`'s key: its line break and indentation.
    fn lead<'t>(&self, text: &'t str, i: usize) -> &'t str {
        let start = match i {
            0 => self.open + 1,
            _ => {
                // After the comma that follows the previous member.
                let comma = skip_ws(text, self.members[i - 1].value_end);
                comma + 1
            }
        };
        &text[start..self.members[i].key_start]
    }

    /// The separator between a key and its value, as this object writes it (`": "` by default).
    fn colon<'t>(&self, text: &'t str) -> &'t str {
        self.members
            .first()
            .map_or(": ", |m| &text[m.key_end..m.value_start])
    }

    /// Appends a member after the last one (the object must not be empty), with the same
    /// leading whitespace as the last one.
    fn append(&self, text: &mut String, member: &str) {
        let Some(last) = self.members.last() else {
            return;
        };
        let mut lead = self.lead(text, self.members.len() - 1).to_string();
        // A lone member written `{"k": v}` shows no spacing between members; a writer that puts
        // a space after the colon (Python's json.dumps, for one) puts one after the comma too.
        if self.members.len() == 1 && lead.is_empty() && self.colon(text).ends_with(' ') {
            lead.push(' ');
        }
        text.insert_str(last.value_end, &format!(",{lead}{member}"));
    }

    /// Deletes member `i` and the separator that goes with it.
    fn remove(&self, text: &mut String, i: usize) {
        let n = self.members.len();
        let range = if n == 1 {
            self.open + 1..self.close
        } else if i + 1 < n {
            self.members[i].key_start..self.members[i + 1].key_start
        } else {
            self.members[i - 1].value_end..self.members[i].value_end
        };
        text.replace_range(range, "");
    }

    /// A one-entry object to become the value of this object's member `slot` (which may be
    /// one past the end, for a new member), laid out like its surroundings: on its own
    /// indented lines in a pretty-printed file, on one line in a compact one.
    fn new_block(&self, text: &str, slot: usize, host: &str, value: &str) -> String {
        let colon = self.colon(text);
        let entry = format!("{}{colon}{value}", quote(host));
        let Some(last) = self.members.len().checked_sub(1) else {
            return format!("{{{entry}}}");
        };
        let lead = self.lead(text, slot.min(last));
        match lead.rfind('\n') {
            Some(nl) => {
                let newline = if lead.contains("\r\n") { "\r\n" } else { "\n" };
                let indent = &lead[nl + 1..];
                let unit = self.indent_unit(text, indent);
                format!("{{{newline}{indent}{unit}{entry}{newline}{indent}}}")
            }
            None => format!("{{{lead}{entry}{lead}}}"),
        }
    }

    /// One level of indentation: how much deeper this object's members sit than its brace.
    fn indent_unit<'t>(&self, text: &'t str, member_indent: &'t str) -> &'t str {
        let line_start = text[..self.open].rfind('\n').map_or(0, |i| i + 1);
        let brace_indent_len = text[line_start..self.open]
            .bytes()
            .take_while(|b| *b == b' ' || *b == b'\t')
            .count();
        match member_indent.get(brace_indent_len..) {
            Some(unit) if !unit.is_empty() => unit,
            _ => "\t",
        }
    }
}

fn skip_ws(text: &str, mut pos: usize) -> usize {
    let bytes = text.as_bytes();
    while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// From an opening quote to just past the closing one.
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let mut pos = start + 1;
    while let Some(&b) = bytes.get(pos) {
        match b {
            b'\\' => pos += 2,
            b'"' => return pos + 1,
            _ => pos += 1,
        }
    }
    pos
}

/// From the first byte of a value to just past its last.
fn skip_value(bytes: &[u8], start: usize) -> usize {
    match bytes.get(start) {
        Some(b'"') => skip_string(bytes, start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut pos = start;
            while let Some(&b) = bytes.get(pos) {
                match b {
                    b'"' => {
                        pos = skip_string(bytes, pos);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return pos + 1;
                        }
                    }
                    _ => {}
                }
                pos += 1;
            }
            pos
        }
        _ => {
            let mut pos = start;
            while bytes
                .get(pos)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                pos += 1;
            }
            pos
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    const H2: &str = "public.ecr.aws";

    fn hosts(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    fn add(old: Option<&str>, h: &[&str]) -> Edit {
        edit(old, Action::Add, &hosts(h), "ecr").unwrap()
    }

    fn remove(old: &str, h: &[&str]) -> Edit {
        edit(Some(old), Action::Remove, &hosts(h), "ecr").unwrap()
    }

    /// Top-level keys in file order (serde_json's map would sort them).
    fn keys(text: &str) -> Vec<String> {
        let top = Object::parse_top(text).unwrap().unwrap();
        top.members.into_iter().map(|m| m.key).collect()
    }

    #[test]
    fn missing_or_empty_file_gets_dockers_layout() {
        let want = format!(
            "{{\n\t\"credHelpers\": {{\n\t\t\"{H1}\": \"ecr\",\n\t\t\"{H2}\": \"ecr\"\n\t}}\n}}\n"
        );
        for old in [None, Some(""), Some(" \n")] {
            let e = add(old, &[H1, H2]);
            assert_eq!(e.text, want);
            assert_eq!(
                e.changes,
                vec![Change::Added(H1.into()), Change::Added(H2.into())]
            );
        }
    }

    #[test]
    fn other_keys_order_nesting_and_formatting_are_kept_byte_for_byte() {
        let old = "{\n  \"auths\": {\n    \"quay.io\": {\n      \"auth\": \"eDp5\"\n    }\n  },\n  \"zeta\": 1.50,\n  \"credsStore\": \"desktop\",\n  \"alpha\": [1, {\"b\": \"}\\\"{\"}]\n}\n";
        let e = add(Some(old), &[H1]);
        assert_eq!(
            e.text,
            format!(
                "{{\n  \"auths\": {{\n    \"quay.io\": {{\n      \"auth\": \"eDp5\"\n    }}\n  }},\n  \"zeta\": 1.50,\n  \"credsStore\": \"desktop\",\n  \"alpha\": [1, {{\"b\": \"}}\\\"{{\"}}],\n  \"credHelpers\": {{\n    \"{H1}\": \"ecr\"\n  }}\n}}\n"
            )
        );
        assert_eq!(
            keys(&e.text),
            ["auths", "zeta", "credsStore", "alpha", "credHelpers"]
        );
        // credsStore is not ours to touch, even though it also routes hosts to a helper.
        let v: Value = serde_json::from_str(&e.text).unwrap();
        assert_eq!(v["credsStore"], "desktop");
        assert_eq!(v["zeta"].to_string(), "1.5");
    }

    #[test]
    fn entries_join_an_existing_map_with_its_indentation() {
        let old = "{\n\t\"credHelpers\": {\n\t\t\"gcr.io\": \"gcloud\"\n\t},\n\t\"x\": {}\n}";
        let e = add(Some(old), &[H1, H2]);
        assert_eq!(
            e.text,
            format!(
                "{{\n\t\"credHelpers\": {{\n\t\t\"gcr.io\": \"gcloud\",\n\t\t\"{H1}\": \"ecr\",\n\t\t\"{H2}\": \"ecr\"\n\t}},\n\t\"x\": {{}}\n}}"
            )
        );
    }

    #[test]
    fn second_run_changes_nothing() {
        let first = add(Some("{\"auths\": {}}"), &[H1, H2]);
        let second = add(Some(&first.text), &[H2, H1]);
        assert_eq!(second.text, first.text);
        assert_eq!(
            second.changes,
            vec![Change::AlreadySet(H2.into()), Change::AlreadySet(H1.into())]
        );
    }

    #[test]
    fn another_helper_for_the_host_is_replaced_and_reported() {
        let old = format!("{{\"credHelpers\": {{\"{H1}\": \"ecr-login\", \"b\": \"x\"}}}}");
        let e = add(Some(&old), &[H1]);
        assert_eq!(
            e.text,
            format!("{{\"credHelpers\": {{\"{H1}\": \"ecr\", \"b\": \"x\"}}}}")
        );
        assert_eq!(
            e.changes,
            vec![Change::Replaced {
                host: H1.into(),
                previous: "\"ecr-login\"".into()
            }]
        );
    }

    #[test]
    fn compact_files_stay_compact() {
        let e = add(Some(r#"{"auths":{"a":{}}}"#), &[H1, H2]);
        assert_eq!(
            e.text,
            format!(r#"{{"auths":{{"a":{{}}}},"credHelpers":{{"{H1}":"ecr","{H2}":"ecr"}}}}"#)
        );
        let e = add(Some(r#"{ "a": 1 }"#), &[H1]);
        assert_eq!(
            e.text,
            format!(r#"{{ "a": 1, "credHelpers": {{ "{H1}": "ecr" }} }}"#)
        );
    }

    #[test]
    fn blank_lines_and_one_line_maps_are_kept() {
        let cases = [
            (
                "{\n\n  \"auths\": {}\n\n}\n",
                format!(
                    "{{\n\n  \"auths\": {{}},\n\n  \"credHelpers\": {{\n    \"{H1}\": \"ecr\"\n  }}\n\n}}\n"
                ),
            ),
            (
                "{\n  \"auths\": {},\n  \"credHelpers\": {\"gcr.io\": \"gcloud\"}\n}\n",
                format!(
                    "{{\n  \"auths\": {{}},\n  \"credHelpers\": {{\"gcr.io\": \"gcloud\", \"{H1}\": \"ecr\"}}\n}}\n"
                ),
            ),
        ];
        for (old, want) in cases {
            let e = add(Some(old), &[H1]);
            assert_eq!(e.text, want);
            assert_eq!(remove(&e.text, &[H1]).text, old);
        }
    }

    #[test]
    fn unusual_whitespace_and_crlf_are_followed() {
        let old = "  {\r\n    \"auths\" :   {},\r\n    \"credHelpers\" : {}\r\n  }  \r\n";
        let e = add(Some(old), &[H1]);
        assert_eq!(
            e.text,
            format!(
                "  {{\r\n    \"auths\" :   {{}},\r\n    \"credHelpers\" : {{\r\n      \"{H1}\" :   \"ecr\"\r\n    }}\r\n  }}  \r\n"
            )
        );
        let back = remove(&e.text, &[H1]);
        assert_eq!(back.text, "  {\r\n    \"auths\" :   {}\r\n  }  \r\n");
    }

    #[test]
    fn empty_top_level_object_and_null_map_are_filled() {
        for old in ["{}", "{\n}", " { } "] {
            let e = add(Some(old), &[H1]);
            let body = format!("{{\n\t\"credHelpers\": {{\n\t\t\"{H1}\": \"ecr\"\n\t}}\n}}");
            assert_eq!(e.text, old.replace(old.trim(), &body), "{old:?}");
        }
        let e = add(Some("{\n  \"credHelpers\": null\n}\n"), &[H1]);
        assert_eq!(
            e.text,
            format!("{{\n  \"credHelpers\": {{\n    \"{H1}\": \"ecr\"\n  }}\n}}\n")
        );
    }

    #[test]
    fn remove_deletes_only_our_entries_and_an_emptied_map() {
        let old = format!(
            "{{\n\t\"auths\": {{}},\n\t\"credHelpers\": {{\n\t\t\"{H1}\": \"ecr\",\n\t\t\"gcr.io\": \"gcloud\",\n\t\t\"{H2}\": \"ecr\"\n\t}}\n}}\n"
        );
        let e = remove(&old, &[]);
        assert_eq!(
            e.text,
            "{\n\t\"auths\": {},\n\t\"credHelpers\": {\n\t\t\"gcr.io\": \"gcloud\"\n\t}\n}\n"
        );
        assert_eq!(
            e.changes,
            vec![Change::Removed(H1.into()), Change::Removed(H2.into())]
        );
        let e = remove(&e.text, &["gcr.io", H1]);
        assert_eq!(
            e.changes,
            vec![
                Change::NotOurs {
                    host: "gcr.io".into(),
                    helper: "gcloud".into()
                },
                Change::Absent(H1.into())
            ]
        );
        let only_ours = format!(
            "{{\n\t\"auths\": {{}},\n\t\"credHelpers\": {{\n\t\t\"{H2}\": \"ecr\"\n\t}}\n}}\n"
        );
        assert_eq!(remove(&only_ours, &[H2]).text, "{\n\t\"auths\": {}\n}\n");
        // Adding then removing gives back the original text.
        for original in ["{\"a\":1}", "{\n  \"a\": [1,2]\n}\n", "{}"] {
            let added = add(Some(original), &[H1, H2]);
            assert_eq!(remove(&added.text, &[]).text, original);
        }
    }

    #[test]
    fn remove_from_a_file_without_a_map_changes_nothing() {
        for old in ["{}", "{\"credHelpers\": null}", "\n"] {
            let e = remove(old, &[H1]);
            assert_eq!(e.text, old);
            assert_eq!(e.changes, vec![Change::Absent(H1.into())]);
        }
    }

    #[test]
    fn files_that_cannot_be_edited_safely_are_refused() {
        let err = |old: &str| edit(Some(old), Action::Add, &hosts(&[H1]), "ecr").unwrap_err();
        assert!(matches!(
            err("{\"a\": 1,}"),
            EditError::Invalid { line: 1, .. }
        ));
        assert_eq!(
            err("{\n\"a\": 1,\n}").to_string(),
            "it is not valid JSON (line 3, column 1: trailing comma)"
        );
        assert!(matches!(err("// c\n{}"), EditError::Invalid { .. }));
        assert!(matches!(err("\u{feff}{}"), EditError::Invalid { .. }));
        assert_eq!(err("[]"), EditError::NotObject);
        assert_eq!(err("\"x\""), EditError::NotObject);
        assert_eq!(err("{\"credHelpers\": []}"), EditError::HelpersNotObject);
        assert_eq!(
            err("{\"credHelpers\": \"ecr\"}"),
            EditError::HelpersNotObject
        );
        assert_eq!(
            err("{\"credHelpers\": {}, \"credHelpers\": {}}"),
            EditError::DuplicateKey("credHelpers".into())
        );
        assert_eq!(
            err(&format!(
                "{{\"credHelpers\": {{\"{H1}\": \"a\", \"{H1}\": \"b\"}}}}"
            )),
            EditError::DuplicateKey(H1.into())
        );
    }

    #[test]
    fn escaped_keys_are_compared_decoded() {
        let old = "{\"cred\\u0048elpers\": {\"public.ecr.aws\": \"\\u0065cr\"}}";
        let e = add(Some(old), &[H2]);
        assert_eq!(e.text, old);
        assert_eq!(e.changes, vec![Change::AlreadySet(H2.into())]);
    }

    #[test]
    fn result_is_always_valid_json_with_the_same_other_values() {
        let olds = [
            "{\"a\": {\"b\": [1, 2, {\"c\": null}]}, \"credHelpers\": {\"x\": \"y\"}}",
            "{\n    \"deep\": {\n        \"credHelpers\": {}\n    }\n}",
            "{\"s\": \"a,b}c\\\\\", \"n\": -1.5e3, \"t\": true, \"f\": false}",
        ];
        for old in olds {
            let before: serde_json::Map<String, Value> = serde_json::from_str(old).unwrap();
            let added = add(Some(old), &[H1]);
            let mut after: serde_json::Map<String, Value> =
                serde_json::from_str(&added.text).unwrap();
            let helpers = after.remove(KEY).unwrap();
            assert_eq!(helpers[H1], "ecr");
            for (k, v) in &before {
                if k != KEY {
                    assert_eq!(after.get(k), Some(v), "{old}");
                }
            }
            assert_eq!(
                remove(&added.text, &[H1]).changes,
                vec![Change::Removed(H1.into())]
            );
        }
    }
}
