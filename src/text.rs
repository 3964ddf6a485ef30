//! Messages are one line: clients show a helper's answer as one line, and a multi-line error
//! from a dependency would break the protocol's answer.

/// `s` with every run of whitespace, line breaks included, made one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Which links of an error chain [`error_chain`] leaves out as already said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeats {
    /// A link whose text equals the one before it (a wrapper that shows its source's text as
    /// its own). Every other link stays, in order, so a caller that reads the chain by position
    /// (the last link is the root cause, the first the SDK's generic "dispatch failure") or
    /// matches words in it finds them where they were.
    Adjacent,
    /// Also a link whose text an earlier link already contains (`failed: X`, then `X`): for a
    /// line a person reads once, where the repeat is noise.
    Contained,
}

/// The texts of `err` and of its sources, outermost first, with repeats dropped as `repeats`
/// says. The texts are as the errors display them: [`error_line`] makes a message of them.
pub fn error_chain(err: &dyn std::error::Error, repeats: Repeats) -> Vec<String> {
    let mut links: Vec<String> = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        let text = e.to_string();
        let said = match repeats {
            Repeats::Adjacent => links.last() == Some(&text),
            Repeats::Contained => links.iter().any(|l| l.contains(&text)),
        };
        if !said {
            links.push(text);
        }
        source = e.source();
    }
    links
}

/// `err` and its sources as one line, `outer: inner: cause`.
pub fn error_line(err: &dyn std::error::Error, repeats: Repeats) -> String {
    one_line(&error_chain(err, repeats).join(": "))
}

/// The value of a future that does no I/O of its own, polled once without an async runtime
/// (a cache hit must not start one); `None` if it is not complete at once.
pub fn poll_ready<F: std::future::Future>(future: F) -> Option<F::Output> {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_folds_to_single_spaces() {
        assert_eq!(one_line("  a\n\tb  c\r\n"), "a b c");
        assert_eq!(poll_ready(async { 7 }), Some(7));
        assert_eq!(poll_ready(std::future::pending::<u8>()), None);
    }

    /// An error whose text is `text` and whose source is `source`.
    #[derive(Debug)]
    struct Link(&'static str, Option<Box<Link>>);

    impl std::fmt::Display for Link {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Link {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn error_chains_drop_what_was_already_said() {
        let chain = |texts: &[&'static str]| {
            texts
                .iter()
                .rev()
                .fold(None, |source, text| Some(Box::new(Link(text, source))))
                .unwrap()
        };
        let err = chain(&[
            "load failed: no file",
            "no file",
            "no file",
            "a\n b",
            "no file",
        ]);
        // Only the repeat right after its twin goes; the last link stays the root cause.
        assert_eq!(
            error_chain(&*err, Repeats::Adjacent),
            ["load failed: no file", "no file", "a\n b", "no file"]
        );
        // Whatever an earlier link already says goes, however far apart.
        assert_eq!(
            error_chain(&*err, Repeats::Contained),
            ["load failed: no file", "a\n b"]
        );
        assert_eq!(
            error_line(&*err, Repeats::Contained),
            "load failed: no file: a b"
        );
        assert_eq!(
            error_chain(&Link("alone", None), Repeats::Adjacent),
            ["alone"]
        );
    }
}
