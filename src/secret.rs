//! A password that cannot be printed by accident.
//!
//! `Secret` has no `Display`, and its `Debug` is redacted, so `{}`/`{:?}` in an error, a log line
//! or a panic message can never reveal it. The only ways out are [`Secret::expose`], called where
//! the protocol answer is written, and serialisation into the 0600 cache file.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    // Best effort: overwrite the bytes so a core dump taken later is less likely to hold them.
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2-token".into());
        let shown = format!("{s:?} {:?}", Some(&s));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(s.expose(), "hunter2-token");
    }

    #[test]
    fn serialises_as_a_plain_string_for_the_cache() {
        let s = Secret::new("pw".into());
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"pw\"");
        let back: Secret = serde_json::from_str("\"pw\"").unwrap();
        assert_eq!(back, s);
    }
}
