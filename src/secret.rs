//! A password that cannot be printed by accident.
//!
//! `Secret` has no `Display`, and its `Debug` is redacted, so `{}`/`{:?}` in an error, a log line
//! or a panic message can never reveal it. The only ways out are [`Secret::expose`], called where
//! the protocol answer is written, and serialisation into the 0600 cache file.
//!
//! What holds a token is zeroised when dropped: the `Secret`, and the buffers the answer and
//! the cache entry are serialised into ([`json_zeroised`]), sized before they are written so that
//! no reallocation leaves a copy in freed memory. With core dumps off (`startup`), this is what
//! keeps a token out of what a later bug or a debugger could read from the process.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::io;
use zeroize::{Zeroize, Zeroizing};

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
    // The whole allocation, with writes the optimiser cannot drop as dead stores.
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// `value` as JSON followed by `end`, in one zeroised buffer of exactly that size: counted
/// first, then written into a buffer that refuses to grow.
pub fn json_zeroised<T: Serialize>(value: &T, end: &[u8]) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value)?;
    let mut buffer = Zeroizing::new(Vec::with_capacity(count.0 + end.len()));
    let mut fixed = Fixed(&mut buffer);
    serde_json::to_writer(&mut fixed, value)?;
    io::Write::write_all(&mut fixed, end)?;
    Ok(buffer)
}

/// Counts what is written.
struct Count(usize);

impl io::Write for Count {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Appends within the vector's capacity, never past it (which would move the bytes).
struct Fixed<'a>(&'a mut Vec<u8>);

impl io::Write for Fixed<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if bytes.len() > self.0.capacity() - self.0.len() {
            return Err(io::Error::other("a serialisation outgrew its count"));
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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

    #[test]
    fn json_is_written_into_one_buffer_of_its_exact_size() {
        // Escapes change the size; a count that missed one would fail the fixed buffer.
        for text in ["pw", "p\"w\\\n\u{1}é", ""] {
            let value = (Secret::new(text.into()), text);
            let json = json_zeroised(&value, b"\n").unwrap();
            let expected = format!("{}\n", serde_json::to_string(&value).unwrap());
            assert_eq!(&json[..], expected.as_bytes());
            assert_eq!(
                json.capacity(),
                json.len(),
                "{text:?}: the buffer grew or was oversized"
            );
        }
        let mut small = Vec::with_capacity(2);
        assert!(io::Write::write_all(&mut Fixed(&mut small), b"abc").is_err());
    }
}
