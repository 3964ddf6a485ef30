//! The docker-credential-helper wire protocol: what comes in on stdin, what goes out on stdout.
//!
//! Clients read a helper's *stdout* for both answers and errors, and treat one exact error
//! text as "no credentials here, carry on anonymously" ([`NOT_FOUND`]). Every other error text
//! is shown to the user, so those must be one actionable line.

use crate::authorization::Token;
use crate::secret::json_zeroised;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;
use zeroize::Zeroizing;

/// The text docker and containers/image take to mean "this helper has nothing for that host".
pub const NOT_FOUND: &str = "credentials not found in native keychain";

/// The reference library's answer to an empty `get`.
pub const NO_SERVER_URL: &str = "no credentials server URL";

/// No client sends more than a URL or a small JSON object; anything bigger is refused unread.
pub const MAX_INPUT: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    #[error("{NO_SERVER_URL}")]
    Empty,
    #[error("input on stdin is larger than {MAX_INPUT} bytes; expected a registry URL")]
    TooLarge,
    #[error("input on stdin is not UTF-8 text; expected a registry URL")]
    NotUtf8,
    #[error("input on stdin contains a NUL byte; expected a registry URL")]
    Nul,
    #[error("cannot read stdin: {0}")]
    Io(String),
    /// `store` got something other than `{"ServerURL":…,"Username":…,"Secret":…}`. The input
    /// is never quoted: it may hold a password.
    #[error(
        "input on stdin is not a credential; expected JSON {{\"ServerURL\",\"Username\",\"Secret\"}}"
    )]
    NotCredentials,
}

/// The docker-credential-helper protocol: each is the only argument, with the request, if any,
/// on stdin. A plain type: the front reads a verb without the command-line parser, and the CLI
/// maps its subcommands onto these (`cli::args`, whose test keeps the two names the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Store,
    Erase,
    List,
    Version,
}

impl Verb {
    /// Every verb, in the reference library's usage order.
    pub const ALL: [Verb; 5] = [
        Verb::Get,
        Verb::Store,
        Verb::Erase,
        Verb::List,
        Verb::Version,
    ];

    /// The word clients pass.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Store => "store",
            Verb::Erase => "erase",
            Verb::List => "list",
            Verb::Version => "version",
        }
    }

    /// The protocol verb a word names, exactly as clients spell it.
    pub fn from_word(word: &std::ffi::OsStr) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| word == v.name())
    }

    /// The reference library's usage line, which clients may expect when they misuse the
    /// protocol: `Usage: <name> <get|store|erase|list|version>`.
    pub fn usage(program: &str) -> String {
        let names: Vec<&str> = Verb::ALL.iter().map(|v| v.name()).collect();
        format!("Usage: {program} <{}>", names.join("|"))
    }
}

/// Reads all of stdin (bounded), as the protocol's requests are whole-stream.
pub fn read_input(reader: &mut dyn Read) -> Result<Vec<u8>, InputError> {
    let buf = read_request(reader).map_err(|e| InputError::Io(e.to_string()))?;
    check_input(&buf)?;
    Ok(buf)
}

/// Reads stdin up to one byte past [`MAX_INPUT`], so that a longer request is seen to be one:
/// the bytes as read, for the front to hand to the engine as they came.
pub fn read_request(reader: &mut dyn Read) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader.take(MAX_INPUT + 1).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The request, if it is within [`MAX_INPUT`].
pub fn check_input(buf: &[u8]) -> Result<&[u8], InputError> {
    if buf.len() as u64 > MAX_INPUT {
        return Err(InputError::TooLarge);
    }
    Ok(buf)
}

/// The server URL of a `get` or `erase`: the whole input, trimmed, as the reference library
/// does. It is kept as given because the answer must echo it.
pub fn server_url(input: &[u8]) -> Result<&str, InputError> {
    if input.contains(&0) {
        return Err(InputError::Nul);
    }
    let text = std::str::from_utf8(input).map_err(|_| InputError::NotUtf8)?;
    match text.trim() {
        "" => Err(InputError::Empty),
        url => Ok(url),
    }
}

/// The server URL of a `store`: the `ServerURL` of the credential on stdin. Nothing else in it
/// is looked at here.
pub fn store_server_url(input: &[u8]) -> Result<String, InputError> {
    // An object only: a struct would also accept `["…"]`, taking a bare password for the URL.
    let value: serde_json::Value =
        serde_json::from_slice(input).map_err(|_| InputError::NotCredentials)?;
    let serde_json::Value::Object(fields) = value else {
        return Err(InputError::NotCredentials);
    };
    match fields.get("ServerURL") {
        None | Some(serde_json::Value::Null) => Err(InputError::Empty),
        Some(serde_json::Value::String(url)) => match url.trim() {
            "" => Err(InputError::Empty),
            url if url.contains('\0') => Err(InputError::Nul),
            url => Ok(url.to_string()),
        },
        Some(_) => Err(InputError::NotCredentials),
    }
}

/// A `get`, `store` or `erase` request: the server URL it names, and the request as the client
/// sent it, which a store that forwards (the fallback helper) hands on unchanged. Debug never
/// shows the bytes: a `store` request holds a password.
#[derive(Clone, PartialEq, Eq)]
pub struct Request<'a> {
    server_url: String,
    raw: &'a [u8],
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("server_url", &self.server_url)
            .field("raw", &format_args!("{} bytes", self.raw.len()))
            .finish()
    }
}

impl<'a> Request<'a> {
    /// The request of `verb` in `input`: for `store` a credential's `ServerURL`, for `get` and
    /// `erase` the whole input ([`store_server_url`], [`server_url`]).
    pub fn read(verb: Verb, input: &'a [u8]) -> Result<Request<'a>, InputError> {
        let server_url = match verb {
            Verb::Store => store_server_url(input)?,
            _ => server_url(input)?.to_string(),
        };
        Ok(Request {
            server_url,
            raw: input,
        })
    }

    /// The server URL, trimmed, as given: an answer echoes it.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The request's bytes as read.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
}

/// What a store answers on stdout: a credential, or another helper's answer as it wrote it. An
/// empty answer (`store` and `erase` done) prints nothing.
/// Zeroised when dropped: it may hold a token.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Answer(Zeroizing<String>);

impl Answer {
    /// A `get`'s credential for `server_url` ([`credential_answer`]), in the same buffer.
    pub fn credential(server_url: &str, token: &Token) -> Answer {
        let mut json = credential_answer(server_url, token, b"");
        // Moves the allocation: JSON is UTF-8, so nothing is copied or left behind.
        let text = String::from_utf8(std::mem::take(&mut *json)).unwrap_or_default();
        Answer(Zeroizing::new(text))
    }

    /// Another helper's answer, handed on as it is.
    pub fn verbatim(text: String) -> Answer {
        Answer(Zeroizing::new(text))
    }

    /// The line for stdout, if not empty.
    pub fn into_text(self) -> Zeroizing<String> {
        self.0
    }
}

/// Never shown: a credential's answer holds its password.
impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Answer({} bytes)", self.0.len())
    }
}

/// A `list` answer: `{server URL: user name}`, in a stable order.
pub type Listing = BTreeMap<String, String>;

/// The JSON answer to `get`, then `end`, in one zeroised buffer ([`json_zeroised`]).
pub fn credential_answer(server_url: &str, token: &Token, end: &[u8]) -> Zeroizing<Vec<u8>> {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer<'a> {
        #[serde(rename = "ServerURL")]
        server_url: &'a str,
        username: &'a str,
        secret: &'a str,
    }
    let answer = Answer {
        server_url,
        username: &token.username,
        secret: token.password.expose(),
    };
    // Serialising three strings cannot fail.
    json_zeroised(&answer, end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_url_is_trimmed_and_kept_as_given() {
        assert_eq!(server_url(b"https://h/v2/\n"), Ok("https://h/v2/"));
        assert_eq!(server_url(b"  h \r\n"), Ok("h"));
        assert_eq!(server_url(b""), Err(InputError::Empty));
        assert_eq!(server_url(b" \n\t "), Err(InputError::Empty));
        assert_eq!(server_url(b"a\0b"), Err(InputError::Nul));
        assert_eq!(server_url(b"\xff\xfe"), Err(InputError::NotUtf8));
    }

    #[test]
    fn input_is_bounded() {
        let big = vec![b'a'; (MAX_INPUT + 10) as usize];
        assert_eq!(read_input(&mut &big[..]), Err(InputError::TooLarge));
        let ok = vec![b'a'; MAX_INPUT as usize];
        assert_eq!(read_input(&mut &ok[..]).map(|v| v.len()), Ok(ok.len()));
    }

    #[test]
    fn answer_has_the_exact_field_names() {
        let json = credential_answer("h:443", &Token::for_test("p\"w", 1, 2), b"\n");
        assert_eq!(
            &json[..],
            br#"{"ServerURL":"h:443","Username":"AWS","Secret":"p\"w"}
"#
        );
    }

    #[test]
    fn store_reads_the_server_url_and_never_quotes_the_input() {
        assert_eq!(
            store_server_url(br#"{"ServerURL":" ghcr.io ","Username":"u","Secret":"s"}"#),
            Ok("ghcr.io".into())
        );
        assert_eq!(
            store_server_url(br#"{"Username":"u","Secret":"s"}"#),
            Err(InputError::Empty)
        );
        let err = store_server_url(b"hunter2").unwrap_err();
        assert_eq!(err, InputError::NotCredentials);
        assert_eq!(
            store_server_url(br#"["hunter2"]"#),
            Err(InputError::NotCredentials)
        );
        assert_eq!(
            store_server_url(br#"{"ServerURL":7}"#),
            Err(InputError::NotCredentials)
        );
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn a_request_is_read_by_its_verb_and_keeps_its_bytes() {
        let credential = br#"{"ServerURL":" ghcr.io ","Username":"u","Secret":"s"}"#;
        let store = Request::read(Verb::Store, credential).unwrap();
        assert_eq!(
            (store.server_url(), store.raw()),
            ("ghcr.io", &credential[..])
        );
        let get = Request::read(Verb::Get, b" https://h/v2/\n").unwrap();
        assert_eq!(
            (get.server_url(), get.raw()),
            ("https://h/v2/", &b" https://h/v2/\n"[..])
        );
        assert_eq!(Request::read(Verb::Erase, b"\n"), Err(InputError::Empty));
        assert_eq!(
            Request::read(Verb::Store, b"h"),
            Err(InputError::NotCredentials)
        );
        let answer = Answer::credential("h", &Token::for_test("hunter2", 1, 2));
        assert!(!format!("{answer:?}").contains("hunter2"));
        assert_eq!(
            *answer.into_text(),
            r#"{"ServerURL":"h","Username":"AWS","Secret":"hunter2"}"#
        );
    }

    #[test]
    fn empty_input_error_is_the_reference_text() {
        assert_eq!(InputError::Empty.to_string(), "no credentials server URL");
    }
}
