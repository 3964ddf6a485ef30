//! Messages are one line: clients show a helper's answer as one line, and a multi-line error
//! from a dependency would break the protocol's answer.

/// `s` with every run of whitespace, line breaks included, made one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
}
