//! An ECR authorization token: the registry user name and password GetAuthorizationToken
//! hands out, and how long it may be used ([`Validity`], with the one refresh-margin rule).
//! One type from the SDK's answer ([`crate::token`]) through the cache to the protocol's
//! answer and the kubelet's `cacheDuration`.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// ECR's authorization tokens last 12 hours; nothing longer is a token ECR issued.
pub const MAX_TOKEN_LIFETIME_MS: u64 = 12 * 3600 * 1000;

/// What a server's rounding may add to [`MAX_TOKEN_LIFETIME_MS`] in an entry that is still
/// believed.
const LIFETIME_SLACK_MS: u64 = 5 * 60 * 1000;

/// Refresh this long before expiry at most: a pull that starts with a token about to expire
/// could fail halfway through a large image.
const MAX_REFRESH_MARGIN_MS: u64 = 30 * 60 * 1000;

/// ECR's registry user name; the token is the password.
pub const USERNAME: &str = "AWS";

/// A registry password and what ECR said about it: what a fetch returns, what the cache keeps
/// (its fields are the token of a schema-v3 cache entry, [`crate::cache::SCHEMA`]), and what a lookup
/// answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub proxy_endpoint: String,
    pub username: String,
    pub password: Secret,
    /// When it arrived on the local clock, and how long it lasts on the server's.
    #[serde(flatten)]
    pub validity: Validity,
}

impl Token {
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        self.validity.is_fresh(now_ms)
    }

    pub fn is_valid(&self, now_ms: u64) -> bool {
        self.validity.is_valid(now_ms)
    }
}

#[cfg(test)]
impl Token {
    /// A token for `https://h` with this password, fetched at `fetched_at` (local clock, Unix
    /// milliseconds) for `lifetime_ms`.
    pub fn for_test(password: &str, fetched_at: u64, lifetime_ms: u64) -> Token {
        Token {
            proxy_endpoint: "https://h".into(),
            username: USERNAME.into(),
            password: Secret::new(password.into()),
            validity: Validity {
                fetched_at,
                lifetime_ms,
            },
        }
    }
}

/// How long a token may be used, on the local clock: from when it arrived, for as long as the
/// server said it lasts (its `expiresAt` less its own time of the reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validity {
    /// Local clock, Unix milliseconds, when the token arrived.
    pub fetched_at: u64,
    /// Milliseconds, as measured on the server's clock.
    pub lifetime_ms: u64,
}

impl Validity {
    /// Local clock, Unix milliseconds.
    pub fn expires_at(&self) -> u64 {
        self.fetched_at.saturating_add(self.lifetime_ms)
    }

    /// Local clock, Unix milliseconds: when the token is due for refresh.
    pub fn refresh_at(&self) -> u64 {
        self.expires_at().saturating_sub(self.refresh_margin_ms())
    }

    /// Usable now, and not yet due for refresh.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        self.plausible(now_ms) && now_ms < self.refresh_at()
    }

    /// Not expired: still acceptable when a refresh fails.
    pub fn is_valid(&self, now_ms: u64) -> bool {
        self.plausible(now_ms) && now_ms < self.expires_at()
    }

    /// How much longer the token stays fresh: zero once it is due for refresh. Whoever keeps
    /// a token of ours (the kubelet) keeps it this long and no longer.
    pub fn fresh_for(&self, now_ms: u64) -> Duration {
        if self.is_fresh(now_ms) {
            Duration::from_millis(self.refresh_at() - now_ms)
        } else {
            Duration::ZERO
        }
    }

    /// A quarter of the token's lifetime, at most 30 minutes: 30 minutes for ECR's 12-hour
    /// tokens, and proportionally less for short-lived ones so they are still used at all.
    pub fn refresh_margin_ms(&self) -> u64 {
        (self.lifetime_ms / 4).min(MAX_REFRESH_MARGIN_MS)
    }

    /// Numbers a fetch could have produced: fetched no later than now (a clock set back since
    /// makes the age unknowable), and no longer-lived than ECR's tokens.
    fn plausible(&self, now_ms: u64) -> bool {
        self.fetched_at <= now_ms && self.lifetime_ms <= MAX_TOKEN_LIFETIME_MS + LIFETIME_SLACK_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(fetched_at: u64, expires_at: u64) -> Token {
        Token::for_test("pw", fetched_at, expires_at - fetched_at)
    }

    #[test]
    fn refresh_margin_is_a_quarter_of_the_lifetime_capped_at_30_minutes() {
        let hour = 3_600_000;
        assert_eq!(
            token(0, 12 * hour).validity.refresh_margin_ms(),
            30 * 60 * 1000
        );
        assert_eq!(token(0, 8_000).validity.refresh_margin_ms(), 2_000);
        let t = token(0, 12 * hour);
        assert!(t.is_fresh(11 * hour));
        assert!(!t.is_fresh(12 * hour - 29 * 60 * 1000));
        assert!(t.is_valid(12 * hour - 1));
        assert!(!t.is_valid(12 * hour));
    }

    #[test]
    fn validity_is_counted_from_the_fetch_and_implausible_numbers_are_neither_fresh_nor_valid() {
        let hour = 3_600_000;
        let t = token(10 * hour, 22 * hour);
        assert_eq!(t.validity.expires_at(), 22 * hour);
        assert_eq!(
            t.validity.fresh_for(11 * hour),
            Duration::from_secs(10 * 3600 + 1800)
        );
        assert_eq!(t.validity.fresh_for(22 * hour - 1), Duration::ZERO);
        // Fetched "in the future": the clock was set back since, so its age is unknown.
        assert!(!t.is_valid(10 * hour - 1));
        assert!(!t.is_fresh(10 * hour - 1));
        assert_eq!(t.validity.fresh_for(10 * hour - 1), Duration::ZERO);
        // Longer than ECR issues: not a token of a fetch of ours.
        let long = token(0, 12 * hour + LIFETIME_SLACK_MS + 1);
        assert!(!long.is_valid(1) && !long.is_fresh(1));
        assert!(token(0, 12 * hour + LIFETIME_SLACK_MS).is_fresh(1));
    }
}
