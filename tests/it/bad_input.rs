//! The bad-input catalogue: every row of `docs/bad-input.md`, fed to `get` (and `erase`) on
//! stdin. Each gets its documented answer and exit code, on exactly one line, never a panic, and
//! a password in the input never comes back in any error text.

use crate::common::*;

/// What a row must answer.
enum Want {
    /// Exit 0 with the credential; `ServerURL` echoes the input, trimmed, as sent.
    Credential,
    /// Exit 1 with exactly this line.
    Error(&'static str),
}

use Want::*;

const NOT_FOUND: &str = "credentials not found in native keychain";
const NO_URL: &str = "no credentials server URL";
const TOO_LARGE: &str = "input on stdin is larger than 65536 bytes; expected a registry URL";
const NOT_UTF8: &str = "input on stdin is not UTF-8 text; expected a registry URL";
const NUL: &str = "input on stdin contains a NUL byte; expected a registry URL";

/// A password that must never be echoed.
const PASSWORD: &str = "Pa55w0rdXYZ";

fn h() -> String {
    private_host(MOTO_ACCOUNT, "us-east-1")
}

/// (name as in docs/bad-input.md, stdin, answer)
fn catalogue() -> Vec<(&'static str, Vec<u8>, Want)> {
    let h = h();
    let b = |s: String| s.into_bytes();
    vec![
        ("empty stdin", vec![], Error(NO_URL)),
        ("whitespace only", b(" \t\r\n \n".into()), Error(NO_URL)),
        ("1 MiB of stdin", vec![b'a'; 1 << 20], Error(TOO_LARGE)),
        (
            "a valid host padded past 64 KiB",
            b(format!("{h}{}", " ".repeat(70_000))),
            Error(TOO_LARGE),
        ),
        ("NUL byte", b(format!("{h}\0")), Error(NUL)),
        (
            "invalid UTF-8",
            [&h.as_bytes()[..5], b"\xff\xfe"].concat(),
            Error(NOT_UTF8),
        ),
        (
            "JSON where a URL is expected",
            b(format!("{{\"ServerURL\":\"{h}\"}}")),
            Error(NOT_FOUND),
        ),
        (
            "URL with user:password",
            b(format!("https://user:{PASSWORD}@{h}")),
            Error(NOT_FOUND),
        ),
        (
            "user:password without a scheme",
            b(format!("AWS:{PASSWORD}@{h}/v2/")),
            Error(NOT_FOUND),
        ),
        (
            "URL with a user only",
            b(format!("https://AWS@{h}")),
            Error(NOT_FOUND),
        ),
        ("IPv6 literal", b("[::1]".into()), Error(NOT_FOUND)),
        (
            "IPv6 literal with :443",
            b("https://[::1]:443/v2/".into()),
            Error(NOT_FOUND),
        ),
        (
            "IPv6 literal, unbracketed",
            b("2001:db8::1".into()),
            Error(NOT_FOUND),
        ),
        ("upper-case host", b(h.to_uppercase()), Credential),
        (
            "mixed-case scheme and host",
            b(format!("HtTpS://{}/V2/", h.to_uppercase())),
            Credential,
        ),
        ("trailing dot", b(format!("{h}.")), Credential),
        (
            "trailing dot and :443",
            b(format!("https://{h}.:443/v2/")),
            Credential,
        ),
        ("two trailing dots", b(format!("{h}..")), Error(NOT_FOUND)),
        ("leading dot", b(format!(".{h}")), Error(NOT_FOUND)),
        (
            "unicode look-alike (Cyrillic a)",
            b(h.replace("amazonaws", "\u{430}mazonaws")),
            Error(NOT_FOUND),
        ),
        (
            "unicode look-alike (fullwidth dot)",
            b(h.replacen('.', "\u{ff0e}", 1)),
            Error(NOT_FOUND),
        ),
        (
            "punycode look-alike",
            b(h.replace("amazonaws", "xn--mazonaws-q8f")),
            Error(NOT_FOUND),
        ),
        (
            "very long host",
            b(format!("{}.{h}", "a".repeat(60_000))),
            Error(NOT_FOUND),
        ),
        (
            "very long path after a valid host",
            b(format!("{h}/{}", "p".repeat(60_000))),
            Credential,
        ),
        ("CRLF line end", b(format!("{h}\r\n")), Credential),
        (
            "blank lines around the URL",
            b(format!("\n\r\n{h}\n\n")),
            Credential,
        ),
        ("multiple lines", b(format!("{h}\n{h}\n")), Error(NOT_FOUND)),
        (
            "a line split in two",
            b(format!("{}\n{}", &h[..10], &h[10..])),
            Error(NOT_FOUND),
        ),
        ("tab inside", b(format!("{h}\tx")), Error(NOT_FOUND)),
        ("query and fragment", b(format!("{h}?x=1#frag")), Credential),
        (
            "ECR host on another port",
            b(format!("{h}:5000")),
            Error(NOT_FOUND),
        ),
        (
            "port out of range",
            b(format!("{h}:99999999")),
            Error(NOT_FOUND),
        ),
        ("scheme only", b("https://".into()), Error(NOT_FOUND)),
        ("a non-ECR registry", b("ghcr.io".into()), Error(NOT_FOUND)),
    ]
}

/// stderr is empty, or (for an error other than "not found") the same one line, prefixed with
/// the program's name, for docker, which shows a helper's stderr and not its stdout.
fn quiet_or_mirrored(out: &std::process::Output) -> bool {
    let stderr = stderr(out);
    stderr.is_empty()
        || (out.status.code() == Some(1)
            && stderr == format!("docker-credential-ecr: {}", stdout(out)))
}

fn one_line(out: &[u8]) -> bool {
    out.ends_with(b"\n") && out.iter().filter(|&&b| b == b'\n').count() == 1
}

#[test]
fn every_catalogued_input_gets_its_documented_answer() {
    let sb = Sandbox::new();
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/bad-input.md")).unwrap();
    let mut errors = Vec::new();
    for (name, input, want) in catalogue() {
        if !doc.contains(&format!("| {name} |")) {
            errors.push(format!("{name}: not in docs/bad-input.md"));
        }
        let out = run_with_timeout(sb.cmd(["get"]), &input, RUN_TIMEOUT).unwrap();
        let text = stdout(&out);
        let stderr = stderr(&out);
        let problem = match &want {
            Credential => {
                let v: Option<serde_json::Value> = serde_json::from_slice(&out.stdout).ok();
                let echoed = std::str::from_utf8(&input).unwrap().trim();
                match v {
                    Some(v)
                        if out.status.code() == Some(0)
                            && v["ServerURL"] == echoed
                            && v["Username"] == "AWS"
                            && v["Secret"] == private_password(MOTO_ACCOUNT).as_str() =>
                    {
                        None
                    }
                    _ => Some("want the credential"),
                }
            }
            Error(line) if out.status.code() == Some(1) && text == format!("{line}\n") => None,
            Error(_) => Some("wrong error"),
        };
        if let Some(p) = problem {
            errors.push(format!("{name}: {p}: {}", describe(&out)));
        }
        if !one_line(&out.stdout) {
            errors.push(format!("{name}: not one line: {}", describe(&out)));
        }
        if !quiet_or_mirrored(&out) {
            errors.push(format!("{name}: stderr: {stderr}"));
        }
        if text.contains(PASSWORD) || stderr.contains(PASSWORD) {
            errors.push(format!("{name}: echoed the password"));
        }

        // erase: silent success, or the same input error.
        let out = run_with_timeout(sb.cmd(["erase"]), &input, RUN_TIMEOUT).unwrap();
        let ok = match &want {
            Error(line) if *line != NOT_FOUND => {
                out.status.code() == Some(1) && stdout(&out) == format!("{line}\n")
            }
            _ => out.status.code() == Some(0) && out.stdout.is_empty(),
        };
        if !ok || !quiet_or_mirrored(&out) {
            errors.push(format!("{name}: erase: {}", describe(&out)));
        }
    }
    // Every credential came from one cached token: all the accepted spellings are one key.
    assert!(sb.calls().0 >= 1);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// `store` drops an ECR host's credential (tokens are minted, not stored); anything else must be
/// a credential, and with no fallback store a credential for another host is refused so that
/// it is not lost. The secret in the input is never echoed.
#[test]
fn store_drops_ecr_credentials_and_refuses_what_it_cannot_keep() {
    const NOT_A_CREDENTIAL: &str =
        "input on stdin is not a credential; expected JSON {\"ServerURL\",\"Username\",\"Secret\"}";
    let sb = Sandbox::new();
    for (input, want) in [
        (
            format!(
                r#"{{"ServerURL":"{}","Username":"AWS","Secret":"{PASSWORD}"}}"#,
                h()
            ),
            "",
        ),
        (format!("not json {PASSWORD}"), NOT_A_CREDENTIAL),
        (format!(r#"["{PASSWORD}"]"#), NOT_A_CREDENTIAL),
        (String::new(), NOT_A_CREDENTIAL),
        (
            format!(r#"{{"Username":"AWS","Secret":"{PASSWORD}"}}"#),
            "no credentials server URL",
        ),
        (
            format!(r#"{{"ServerURL":"https://me:{PASSWORD}@ghcr.io","Secret":"{PASSWORD}"}}"#),
            "this server URL is not an ECR registry and no fallback store is configured",
        ),
        (
            format!(r#"{{"ServerURL":"https://ghcr.io/v2/","Secret":"{PASSWORD}"}}"#),
            "\"ghcr.io\" is not an ECR registry and no fallback store is configured",
        ),
        (
            format!("{{\"Secret\":\"{PASSWORD}\"{}", " ".repeat(100_000)),
            TOO_LARGE,
        ),
    ] {
        let out = sb.run(["store"], &input);
        let code = if want.is_empty() { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(code), "{}", describe(&out));
        let text = stdout(&out);
        assert!(text.starts_with(want), "{}", describe(&out));
        assert!(
            one_line(&out.stdout) || text.is_empty(),
            "{}",
            describe(&out)
        );
        assert!(!text.contains(PASSWORD), "{}", describe(&out));
        assert!(quiet_or_mirrored(&out), "{}", describe(&out));
    }
}

/// Arguments a client never sends still get one line and exit 1, and a non-UTF-8 argument is
/// no panic.
#[test]
fn odd_arguments_are_one_line_errors() {
    use std::os::unix::ffi::OsStrExt;
    let sb = Sandbox::new();
    let odd = std::ffi::OsStr::from_bytes(b"g\xffet");
    for args in [
        vec![odd],
        vec![std::ffi::OsStr::new("get"), odd],
        vec![std::ffi::OsStr::new("")],
        vec![std::ffi::OsStr::new("GET")],
    ] {
        let out = run_cmd(sb.cmd(&args), &h());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
        assert!(one_line(&out.stdout), "{args:?}: {}", describe(&out));
        assert!(out.stderr.is_empty(), "{args:?}: {}", describe(&out));
    }
}

/// A config glob against a long host label: the matcher once tried every split for every `*`
/// (exponential in the stars), so a 12-star pattern and a 40-character label ran for minutes.
/// Now at most pattern x label steps, whatever the input.
#[test]
fn glob_patterns_against_long_labels_answer_at_once() {
    let mut sb = Sandbox::new();
    sb.config(
        "globs.toml",
        "[[registry]]\nmatch = \"*a*a*a*a*a*a*a*a*a*a*a*b.example.com\"\naccount = \"123456789012\"\nregion = \"us-east-1\"\n",
    );
    for label in ["a".repeat(40), "a".repeat(60_000)] {
        let started = std::time::Instant::now();
        let out = sb.get(&format!("{label}.example.com"));
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        assert_eq!(stdout(&out), format!("{NOT_FOUND}\n"));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    // And a long label that does match is the alias's registry.
    let answer = sb.get_ok(&format!("{}b.example.com", "a".repeat(5_000)));
    assert_eq!(answer["Secret"], private_password(MOTO_ACCOUNT).as_str());
}

/// The glob matcher agrees with a plain dynamic-programming reference on every pattern over
/// {a, b, *} up to 5 characters and every label over {a, b} up to 6.
#[test]
fn glob_matching_agrees_with_a_reference() {
    use docker_credential_ecr::testing::config::Config;
    fn reference(p: &[u8], l: &[u8]) -> bool {
        // m[i][j]: p[..i] matches l[..j].
        let mut m = vec![vec![false; l.len() + 1]; p.len() + 1];
        m[0][0] = true;
        for i in 1..=p.len() {
            for j in 0..=l.len() {
                m[i][j] = if p[i - 1] == b'*' {
                    m[i - 1][j] || (j > 0 && m[i][j - 1])
                } else {
                    j > 0 && m[i - 1][j - 1] && p[i - 1] == l[j - 1]
                };
            }
        }
        m[p.len()][l.len()]
    }
    fn words(alphabet: &[u8], max: usize) -> Vec<Vec<u8>> {
        let mut all = vec![vec![]];
        let mut last = vec![vec![]];
        for _ in 0..max {
            last = last
                .iter()
                .flat_map(|w| {
                    alphabet.iter().map(move |c| {
                        let mut w = w.clone();
                        w.push(*c);
                        w
                    })
                })
                .collect();
            all.extend(last.clone());
        }
        all
    }
    let labels: Vec<Vec<u8>> = words(b"ab", 6)
        .into_iter()
        .filter(|w| !w.is_empty())
        .collect();
    for pattern in words(b"ab*", 5).into_iter().filter(|w| !w.is_empty()) {
        let p = String::from_utf8(pattern.clone()).unwrap();
        let text = format!(
            "[[registry]]\nmatch = \"{p}.example.com\"\naccount = \"123456789012\"\nregion = \"us-east-1\"\n"
        );
        let config = Config::parse(&text, std::path::Path::new("t.toml")).unwrap();
        for label in &labels {
            let host = format!("{}.example.com", String::from_utf8_lossy(label));
            assert_eq!(
                config.resolve(&host).unwrap().is_some(),
                reference(&pattern, label),
                "{p} vs {host}"
            );
        }
    }
}

/// The helper's config file (`DOCKER_CREDENTIAL_ECR_CONFIG`) that is not a regular file of a
/// sane size: a clear one-line error at once, never a hang (FIFO) or an unbounded read
/// (`/dev/zero`). Rows of docs/bad-input.md's "Odd files" table.
#[test]
fn a_config_file_that_is_a_fifo_a_device_or_huge_is_a_one_line_error() {
    let mut sb = Sandbox::new();
    let fifo = sb.root().join("config-fifo.toml");
    mkfifo_aged(&fifo, std::time::Duration::ZERO);
    let huge = sb.root().join("huge.toml");
    std::fs::write(&huge, format!("# {}\n", "x".repeat(2 << 20))).unwrap();
    let dir = sb.root().join("config-dir");
    std::fs::create_dir(&dir).unwrap();
    for (path, says) in [
        (
            fifo.as_path(),
            "it is a FIFO (named pipe), not a regular file",
        ),
        (
            std::path::Path::new("/dev/zero"),
            "it is a character device, not a regular file",
        ),
        (huge.as_path(), "it is larger than 1024 KiB"),
        (dir.as_path(), "it is a directory, not a regular file"),
    ] {
        sb.env(ENV_CONFIG, path);
        let start = std::time::Instant::now();
        let out = sb.get(&h());
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{}",
            describe(&out)
        );
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let text = stdout(&out);
        assert!(one_line(&out.stdout), "{}", describe(&out));
        assert_eq!(
            text.trim_end(),
            format!("cannot read config file {}: {says}", path.display()),
            "{}",
            describe(&out)
        );
    }
}
