//! Finding a registry's credential: the cache first, then one token fetch per herd.
//!
//! The policy, for one cache key:
//! 1. A fresh cached token is answered at once, with no SDK, no credentials and no lock; a host
//!    new to the entry is recorded for `list` by appending one line to the entry's hosts log.
//! 2. Otherwise take the key's lock and look again: whoever held the lock may have refreshed it.
//!    Fifty processes that miss together make one API call; the other forty-nine read its result.
//!    A holder that is stopped (Ctrl-Z, SIGSTOP) or cannot be seen is waited for only a part of
//!    the bound (`LOCK_WAIT_PART`); then the refresh goes on without the lock.
//! 3. A refresh that fails is recorded, so the processes queued behind it share the failure
//!    instead of each waiting out the same timeout.
//! 4. If a refresh fails while the cached token is still valid, the cached token is answered.
//!    An expired token is never answered.
//! 5. A cache that cannot be used (unwritable, untrusted, locked too long) means an uncached
//!    fetch, never a failure.
//!
//! A key is an identity and a token scope ([`crate::identity::scope`]): every private registry
//! of one region's API endpoint shares it, so a herd over many accounts of a region makes one
//! call. Each entry's hosts log records the hosts it answered, for `list`. A host is resolved
//! once per request ([`crate::resolve`]), and the AWS files with it; a hit takes what the key
//! needs from the files from `keymemo` when they are large.

use crate::authorization::Token;
use crate::cache::{self, Cache, Entry, Failure};
use crate::clock::{self, Clock};
use crate::config::{Config, ConfigError, Target};
use crate::deadline::{self, Deadline};
use crate::env::Env;
use crate::identity::CacheKey;
use crate::protocol::{Answer, Listing, Request};
use crate::resolve::{AwsFiles, ResolveError, Resolved};
use crate::store::Store;
use crate::token::{TokenError, TokenSource};
use crate::watchdog::Handle;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Not an ECR registry: the protocol answers "not found", so clients go on anonymously.
    #[error("not an ECR registry, and no config entry makes it an alias of one")]
    NotEcr,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A failure another process met moments ago while this one waited for it.
    #[error("{message}")]
    Shared {
        message: String,
        identity_refused: bool,
    },
    /// ECR Public without a usable AWS identity. Public images need none, so clients should go
    /// on anonymously: the protocol's "not found", with this text as a note on stderr.
    #[error(
        "{host}: no token, so the client pulls anonymously (enough for public images): {reason}"
    )]
    PublicAnonymous { host: String, reason: String },
    #[error("cannot list cached credentials: {0}")]
    Cache(#[from] cache::CacheError),
    #[error(transparent)]
    Profile(#[from] crate::profiles::ProfileError),
    /// Another process refreshing the same token held the cache's lock, working, for all of
    /// this request's bound.
    #[error("{}", deadline::message(Some(&lock_wait_doing(*.holder)), *.after))]
    LockWait { holder: u32, after: Duration },
}

impl From<ResolveError> for LookupError {
    fn from(e: ResolveError) -> LookupError {
        match e {
            ResolveError::Config(e) => LookupError::Config(e),
            ResolveError::Profile(e) => LookupError::Profile(e),
        }
    }
}

/// How much of the request's bound a refresh waits for another process's refresh of the same
/// key (the bound divided by this) before looking at who holds the key's lock. Half: a refresh
/// (a GetAuthorizationToken of well under a second, a role assumption or a `credential_process`
/// of a few) ends well within it, so a herd still makes one call; and it leaves the other half
/// for a fetch of our own, which needs as long as theirs. Past it, a holder that is working is
/// waited for to the end (its own bound ends its refresh, and a herd must not multiply the
/// calls to a slow or throttling API); one that is stopped (Ctrl-Z on a `docker pull`, a
/// SIGSTOPped CI step) or that cannot be seen (it wrote no pid, or runs in another pid
/// namespace) may never release the lock, so the refresh goes on without it: the lock spares
/// the API a herd, and correctness does not rest on it.
const LOCK_WAIT_PART: f64 = 2.0;

/// Why the key's lock was not taken.
enum Contended {
    /// Its holder is stopped, or cannot be seen: a refresh without the lock.
    Stalled { holder: Option<u32> },
    /// Its holder is working and still had it when the time for work ran out.
    Waited { holder: u32 },
    /// The cache cannot be used: an uncached fetch.
    Unusable(cache::CacheError),
}

/// What a process waiting for the lock is doing, for the watchdog and for [`LookupError::LockWait`].
fn lock_wait_doing(pid: u32) -> String {
    format!(
        "waiting for the token cache lock held by process {pid} (another {} refreshing this token)",
        crate::program::NAME
    )
}

fn holder_name(holder: Option<u32>) -> String {
    holder.map_or_else(
        || "an unknown lock holder".into(),
        |pid| format!("process {pid}, stopped"),
    )
}

/// A new entry for `key`: the hosts of the entry it replaces, and `host`.
fn new_entry(
    key: &CacheKey,
    replaces: Option<&Entry>,
    host: &str,
    token: Option<Token>,
    failure: Option<Failure>,
) -> Entry {
    let mut entry = Entry {
        schema: cache::SCHEMA.to_string(),
        identity: key.description.clone(),
        hosts: replaces.map(|e| e.hosts.clone()).unwrap_or_default(),
        token,
        failure,
    };
    entry.add_host(host);
    entry
}

/// What the cache holds for a key: a token to answer with, or what a refresh starts from.
enum Cached {
    Hit(Credential),
    Miss(Option<Entry>),
}

/// A lookup's answer: the token, and whether the cache had it (no API call was made).
#[derive(Debug)]
pub struct Credential {
    pub token: Token,
    pub from_cache: bool,
}

/// Everything a lookup needs, gathered once per request.
#[derive(Clone)]
pub struct Lookup<'a> {
    pub env: &'a dyn Env,
    pub config: Config,
    /// The token cache where `dirs::cache_location` put it, or why there is none (`get`
    /// then serves tokens uncached, and `doctor` says why).
    pub cache: Result<Cache, crate::dirs::NoCacheDir>,
    /// Whose time decides freshness, validity and which failures are recent.
    pub clock: &'a dyn Clock,
    /// When this process started looking: failures recorded since then are shared.
    pub started_ms: u64,
    /// The request's deadline. Waiting for another process's refresh ends by it too: that
    /// refresh is bounded by its own process's deadline, and ours may come first.
    pub deadline: Deadline,
    /// The request's line to the watchdog, told each step (a timeout names the one under way).
    pub watchdog: Handle,
    /// The request's AWS files, parsed once whichever hosts and steps ask.
    pub files: AwsFiles,
}

impl<'a> Lookup<'a> {
    pub fn new(request: &crate::request::Request<'a>) -> Result<Lookup<'a>, ConfigError> {
        let env = request.env;
        request.doing("loading the config file");
        deadline::stall_for_tests(env);
        let clock = &clock::System;
        Ok(Lookup {
            env,
            config: Config::load(env)?,
            cache: crate::dirs::cache_location(env).map(Cache::at),
            clock,
            started_ms: clock.now_ms(),
            deadline: request.deadline,
            watchdog: request.watchdog.clone(),
            files: AwsFiles::default(),
        })
    }

    /// The ECR registry behind a client's server URL, resolved whole ([`crate::resolve`]),
    /// or `NotEcr`.
    pub fn target(&self, server_url: &str) -> Result<Resolved, LookupError> {
        let host = crate::registry::normalize_host(server_url).ok_or(LookupError::NotEcr)?;
        crate::resolve::resolve(&host, &self.config, self.env, &self.files)?
            .ok_or(LookupError::NotEcr)
    }

    /// The ECR registry (or alias of one) a server URL names, without resolving the identity
    /// that would fetch its token: whether a host is this helper's or the fallback store's.
    /// An error when the config entry it matches contradicts the host.
    pub fn registry(&self, server_url: &str) -> Result<Option<Target>, ConfigError> {
        match crate::registry::normalize_host(server_url) {
            Some(host) => self.config.resolve(&host),
            None => Ok(None),
        }
    }

    pub fn get(
        &self,
        server_url: &str,
        source: &dyn TokenSource,
    ) -> Result<Credential, LookupError> {
        self.watchdog.doing("reading the AWS configuration");
        let resolved = self.target(server_url)?;
        self.get_resolved(&resolved, source)
    }

    /// [`Lookup::get`] for a host already resolved (the kubelet mode reads its region first).
    pub fn get_resolved(
        &self,
        resolved: &Resolved,
        source: &dyn TokenSource,
    ) -> Result<Credential, LookupError> {
        self.get_target(resolved, source)
            .map_err(|e| anonymous_for_public(&resolved.target, e))
    }

    /// A get answered from the cache alone, or `None` when answering would take a fetch (or
    /// the cache is off). It starts no SDK and resolves no credentials: the front binary
    /// answers hits with it and hands everything else to the engine ([`crate::front`]).
    pub fn hit(&self, server_url: &str) -> Result<Option<Credential>, LookupError> {
        // With no cache there is no hit: the identity is not worth resolving.
        let Ok(cache) = &self.cache else {
            return Ok(None);
        };
        self.watchdog.doing("reading the AWS configuration");
        let target = self.registry(server_url)?.ok_or(LookupError::NotEcr)?;
        let (_, key) = crate::keymemo::resolve(&target, self.env, cache.dir())?;
        Ok(match self.cached(cache, &target, &key) {
            Cached::Hit(hit) => Some(hit),
            Cached::Miss(_) => None,
        })
    }

    /// The key's fresh token, recording the host for `list` if it is new to the entry; or the
    /// entry as read (if any), for the refresh to start from.
    fn cached(&self, cache: &Cache, target: &Target, key: &CacheKey) -> Cached {
        self.watchdog.doing("reading the token cache");
        let cached = read_own(cache, key);
        match fresh_token(cached.as_ref(), self.clock.now_ms()) {
            Some(hit) => {
                crate::debug!("cache hit for {}", target.host);
                if let Some(entry) = &cached {
                    log_host(cache, key, Some(entry), &target.host);
                }
                Cached::Hit(hit)
            }
            None => Cached::Miss(cached),
        }
    }

    fn get_target(
        &self,
        resolved: &Resolved,
        source: &dyn TokenSource,
    ) -> Result<Credential, LookupError> {
        let key = match source.identity() {
            Some(line) => resolved.key.clone().extended(&line),
            None => resolved.key.clone(),
        };
        let target = &resolved.target;
        let Ok(cache) = &self.cache else {
            return fetch(resolved, source);
        };
        let cached = match self.cached(cache, target, &key) {
            Cached::Hit(hit) => return Ok(hit),
            Cached::Miss(entry) => entry,
        };
        let now = || self.clock.now_ms();
        match self.wait_for_lock(cache, &key) {
            Ok(lock) => self.refresh(cache, &lock, resolved, &key, source),
            Err(Contended::Stalled { holder }) => {
                crate::debug!(
                    "not waiting any longer for {}: fetching without the lock",
                    holder_name(holder)
                );
                self.refresh_unlocked(cache, resolved, &key, cached, source)
            }
            Err(Contended::Waited { holder }) => {
                let err = LookupError::LockWait {
                    holder,
                    after: self.deadline.limit(),
                };
                still_valid(cached.as_ref(), now(), err)
            }
            Err(Contended::Unusable(e)) => {
                crate::debug!("fetching uncached: {e}");
                fetch(resolved, source).or_else(|err| still_valid(cached.as_ref(), now(), err))
            }
        }
    }

    /// Takes the key's lock, waiting [`LOCK_WAIT_PART`] of the bound for it, and then on to the
    /// end of the work only if its holder is known and working.
    fn wait_for_lock(&self, cache: &Cache, key: &CacheKey) -> Result<cache::KeyLock, Contended> {
        self.watchdog.doing("waiting for the token cache lock");
        let part = self.deadline.limit().div_f64(LOCK_WAIT_PART);
        match cache.lock(&key.id, part.min(self.deadline.work_left())) {
            Ok(lock) => return Ok(lock),
            Err(cache::CacheError::LockTimeout { .. }) => {}
            Err(e) => return Err(Contended::Unusable(e)),
        }
        let holder = cache.holder(&key.id);
        let Some(pid) = holder.filter(|pid| crate::platform::is_stopped(*pid) == Some(false))
        else {
            return Err(Contended::Stalled { holder });
        };
        self.watchdog.doing(lock_wait_doing(pid));
        match cache.lock(&key.id, self.deadline.wait_left()) {
            Ok(lock) => Ok(lock),
            Err(cache::CacheError::LockTimeout { .. }) => Err(Contended::Waited { holder: pid }),
            Err(e) => Err(Contended::Unusable(e)),
        }
    }

    /// Under the key's lock: the token another process refreshed while this one waited, the
    /// failure it met, or a fetch of our own, recorded for the processes queued behind us.
    fn refresh(
        &self,
        cache: &Cache,
        lock: &cache::KeyLock,
        resolved: &Resolved,
        key: &CacheKey,
        source: &dyn TokenSource,
    ) -> Result<Credential, LookupError> {
        let target = &resolved.target;
        // Whoever held the lock before us may have done the work.
        let current = read_own(cache, key);
        let now = self.clock.now_ms();
        if let Some(hit) = fresh_token(current.as_ref(), now) {
            crate::debug!("refreshed by another process for {}", target.host);
            log_host(cache, key, current.as_ref(), &target.host);
            return Ok(hit);
        }
        let previous_token = current.as_ref().and_then(|e| e.token.clone());
        // Only a failure met while this process waited: one stamped later than now is from
        // before the clock was set back, and would otherwise be answered until it caught up.
        if let Some(failure) = current.as_ref().and_then(|e| e.failure.as_ref())
            && failure.at >= self.started_ms
            && failure.at <= now
        {
            crate::debug!("sharing a refresh failure from another process");
            let err = LookupError::Shared {
                message: failure.message.clone(),
                identity_refused: failure.identity_refused,
            };
            return usable(previous_token.as_ref(), now).ok_or(err);
        }
        crate::debug!("fetching a token for {}", target.host);
        let result = source.fetch(resolved);
        let now = self.clock.now_ms();
        let token = match &result {
            Ok(t) => Some(t.clone()),
            Err(_) => previous_token.clone().filter(|t| t.is_valid(now)),
        };
        let failure = result.as_ref().err().map(|e| Failure {
            at: now,
            message: e.to_string(),
            identity_refused: e.identity_refused(),
        });
        let entry = new_entry(key, current.as_ref(), &target.host, token, failure);
        // As without the lock: a fetched token's host is logged once its entry is written.
        if write_entry(cache, lock, key, &entry) && result.is_ok() {
            log_host(cache, key, None, &target.host);
        }
        match result {
            Ok(token) => Ok(Credential {
                token,
                from_cache: false,
            }),
            Err(err) => usable(previous_token.as_ref(), now).ok_or(err.into()),
        }
    }

    /// Without the key's lock, its holder being stopped or unknown: a fetch of our own, whose
    /// token is cached (atomically, see [`Cache::write_unlocked`]) so that the gets after it
    /// hit instead of waiting in turn. A failure is not recorded: it is shared only with the
    /// processes queued behind the lock, which the stalled holder still has.
    fn refresh_unlocked(
        &self,
        cache: &Cache,
        resolved: &Resolved,
        key: &CacheKey,
        cached: Option<Entry>,
        source: &dyn TokenSource,
    ) -> Result<Credential, LookupError> {
        let target = &resolved.target;
        match source.fetch(resolved) {
            Ok(token) => {
                // As it is now, not as it was before the wait: hosts recorded meanwhile stay.
                let current = read_own(cache, key).or(cached);
                let entry = new_entry(
                    key,
                    current.as_ref(),
                    &target.host,
                    Some(token.clone()),
                    None,
                );
                match cache.write_unlocked(&key.id, &entry) {
                    Ok(()) => log_host(cache, key, None, &target.host),
                    Err(e) => crate::debug!("token not cached: {e}"),
                }
                Ok(Credential {
                    token,
                    from_cache: false,
                })
            }
            Err(err) => still_valid(cached.as_ref(), self.clock.now_ms(), err.into()),
        }
    }

    /// Forgets the cached token of a host for the current identity (`docker logout`): the shared
    /// entry it uses, so the registries sharing it fetch a new token too. With no entry that a
    /// get could serve (no cache, an unusable one, nothing cached) there is nothing to forget,
    /// and that is a success: `docker logout` must not fail over a cache.
    pub fn erase(&self, server_url: &str) -> Result<(), LookupError> {
        let key = self.target(server_url)?.key;
        let Ok(cache) = &self.cache else {
            return Ok(());
        };
        if cache.read(&key.id).is_none() {
            return Ok(());
        }
        match self.wait_for_lock(cache, &key) {
            Ok(lock) => cache.remove(&lock, &key.id)?,
            Err(Contended::Stalled { holder }) => {
                crate::debug!("not waiting for {} to erase", holder_name(holder));
                cache.remove_unlocked(&key.id)?;
            }
            Err(Contended::Waited { holder }) => {
                return Err(LookupError::LockWait {
                    holder,
                    after: self.deadline.limit(),
                });
            }
            Err(Contended::Unusable(e)) => return Err(e.into()),
        }
        Ok(())
    }

    /// Registries with a valid cached token for the current identity: `{https://<host>: user}`
    /// for every host an entry has answered and would answer again (the host still resolves,
    /// under today's config and environment, to that entry's key).
    pub fn list(&self) -> Result<BTreeMap<String, String>, LookupError> {
        let Ok(cache) = &self.cache else {
            return Ok(BTreeMap::new());
        };
        let now = self.clock.now_ms();
        let mut out = BTreeMap::new();
        for (id, entry) in cache.entries()? {
            let Some(token) = entry.token.as_ref().filter(|t| t.is_valid(now)) else {
                continue;
            };
            for host in &cache.answered_hosts(&id, &entry) {
                let ours = self
                    .target(host)
                    .is_ok_and(|r| r.key.id == id && entry.belongs_to(&r.key.description));
                if ours {
                    out.insert(format!("https://{host}"), token.username.clone());
                }
            }
        }
        Ok(out)
    }
}

/// The ECR token store: a registry's token comes from the cache or from `source`, and is never
/// kept from a `docker login`. `source` is passed in, so that this module does not reach the
/// SDK (the front links it).
pub(crate) struct TokenStore<'a> {
    pub lookup: Lookup<'a>,
    pub source: &'a dyn TokenSource,
}

impl Store for TokenStore<'_> {
    type Error = LookupError;

    fn get(&self, request: &Request) -> Result<Answer, LookupError> {
        let url = request.server_url();
        let credential = self.lookup.get(url, self.source)?;
        Ok(Answer::credential(url, &credential.token))
    }

    /// ECR tokens are minted, not stored: what `docker login` sends to an ECR host is accepted
    /// and dropped, so that the login succeeds.
    fn store(&self, request: &Request) -> Result<Answer, LookupError> {
        match self.lookup.registry(request.server_url())? {
            Some(_) => Ok(Answer::default()),
            None => Err(LookupError::NotEcr),
        }
    }

    fn erase(&self, request: &Request) -> Result<Answer, LookupError> {
        self.lookup.erase(request.server_url())?;
        Ok(Answer::default())
    }

    fn list(&self) -> Result<Listing, LookupError> {
        self.lookup.list()
    }
}

/// For ECR Public, a missing or refused AWS identity is no reason to fail a pull: public images
/// need no credentials. Private registries keep their error.
fn anonymous_for_public(target: &Target, err: LookupError) -> LookupError {
    let refused = match &err {
        LookupError::Token(e) => e.identity_refused(),
        LookupError::Shared {
            identity_refused, ..
        } => *identity_refused,
        _ => false,
    };
    if refused && target.registry == crate::registry::Registry::Public {
        LookupError::PublicAnonymous {
            host: target.host.clone(),
            reason: err.to_string(),
        }
    } else {
        err
    }
}

/// The key's entry, if it was written for this identity and scope. The file name alone is a
/// hash, and anyone who can write the directory (or a hash collision) could put another
/// identity's token under it.
pub fn read_own(cache: &Cache, key: &CacheKey) -> Option<Entry> {
    cache
        .read(&key.id)
        .filter(|e| e.belongs_to(&key.description))
}

/// Writes the entry under the key's lock; whether it was written (a cache that cannot be
/// written costs the next request a fetch, never this one its answer).
fn write_entry(cache: &Cache, lock: &cache::KeyLock, key: &CacheKey, entry: &Entry) -> bool {
    match cache.write(lock, &key.id, entry) {
        Ok(()) => true,
        Err(e) => {
            crate::debug!("token not cached: {e}");
            false
        }
    }
}

/// Records a host the entry answered, for `list`, unless its log has it (or, for a hit, the
/// `entry` as read): a line appended to the log, with no lock and no rewrite, so a hit for a
/// new host costs about what any hit does. Every answer goes through here, fetched or cached,
/// so the log names every host; the entry's own list, which keeps the hosts its fetches were
/// for (at most [`cache::MAX_HOSTS`]), only spares a hit reading the log.
fn log_host(cache: &Cache, key: &CacheKey, entry: Option<&Entry>, host: &str) {
    let in_entry = entry.is_some_and(|e| e.has_host(host));
    if in_entry || cache.logged_hosts(&key.id).iter().any(|h| h == host) {
        return;
    }
    if let Err(e) = cache.log_host(&key.id, host) {
        crate::debug!("{host} not recorded for `list`: {e}");
    }
}

fn fetch(resolved: &Resolved, source: &dyn TokenSource) -> Result<Credential, LookupError> {
    Ok(Credential {
        token: source.fetch(resolved)?,
        from_cache: false,
    })
}

fn fresh_token(entry: Option<&Entry>, now: u64) -> Option<Credential> {
    entry
        .and_then(|e| e.token.as_ref())
        .filter(|t| t.is_fresh(now))
        .map(to_credential)
}

fn usable(token: Option<&Token>, now: u64) -> Option<Credential> {
    token.filter(|t| t.is_valid(now)).map(to_credential)
}

fn still_valid(
    entry: Option<&Entry>,
    now: u64,
    err: LookupError,
) -> Result<Credential, LookupError> {
    usable(entry.and_then(|e| e.token.as_ref()), now).ok_or(err)
}

fn to_credential(token: &Token) -> Credential {
    Credential {
        token: token.clone(),
        from_cache: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;
    use std::cell::Cell;
    use std::time::Duration;

    const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

    /// The token service, and the clock it and the lookups it serves share.
    struct Fake {
        calls: Cell<u32>,
        ttl_ms: u64,
        fail: Cell<bool>,
        clock: &'static clock::Manual,
    }

    impl Fake {
        fn new(ttl_ms: u64) -> Fake {
            Fake {
                calls: Cell::new(0),
                ttl_ms,
                fail: Cell::new(false),
                clock: Box::leak(Box::new(clock::Manual::at(clock::now_ms()))),
            }
        }
    }

    impl TokenSource for Fake {
        fn fetch(&self, _: &Resolved) -> Result<Token, TokenError> {
            self.calls.set(self.calls.get() + 1);
            if self.fail.get() {
                return Err(TokenError::Service {
                    code: "AccessDeniedException".into(),
                    message: "no".into(),
                });
            }
            let password = format!("pw{}", self.calls.get());
            Ok(Token::for_test(&password, self.clock.now_ms(), self.ttl_ms))
        }
    }

    fn lookup(env: &MapEnv, dir: &std::path::Path, fake: &Fake) -> Lookup<'static> {
        let env: &'static MapEnv = Box::leak(Box::new(env.clone()));
        Lookup {
            env,
            config: Config::default(),
            cache: Ok(Cache::new(dir.to_path_buf())),
            clock: fake.clock,
            started_ms: fake.clock.now_ms(),
            deadline: Deadline::after(Duration::from_secs(5)),
            watchdog: Handle::default(),
            files: AwsFiles::default(),
        }
    }

    #[test]
    fn second_get_is_a_cache_hit() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::new(3_600_000);
        let l = lookup(&MapEnv::default(), dir.path(), &fake);
        assert!(!l.get(HOST, &fake).unwrap().from_cache);
        let again = l.get(&format!("https://{HOST}/v2/"), &fake).unwrap();
        assert!(again.from_cache);
        assert_eq!(again.token.password.expose(), "pw1");
        assert_eq!(fake.calls.get(), 1);
    }

    #[test]
    fn non_ecr_hosts_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::new(1);
        let l = lookup(&MapEnv::default(), dir.path(), &fake);
        let err = l.get("docker.io", &fake).unwrap_err();
        assert!(matches!(err, LookupError::NotEcr), "{err}");
    }

    #[test]
    fn a_failed_refresh_falls_back_to_a_valid_token_but_never_an_expired_one() {
        let dir = tempfile::tempdir().unwrap();
        // 400 ms lifetime: 100 ms margin, so after 320 ms it is due for refresh but still valid.
        let fake = Fake::new(400);
        let l = lookup(&MapEnv::default(), dir.path(), &fake);
        l.get(HOST, &fake).unwrap();
        fake.fail.set(true);
        fake.clock.advance(Duration::from_millis(320));
        assert_eq!(l.get(HOST, &fake).unwrap().token.password.expose(), "pw1");
        assert_eq!(
            fake.calls.get(),
            2,
            "a token due for refresh was not refreshed"
        );
        fake.clock.advance(Duration::from_millis(80));
        let err = l.get(HOST, &fake).unwrap_err();
        assert!(
            err.to_string().starts_with("AccessDeniedException"),
            "{err}"
        );
    }

    #[test]
    fn identities_do_not_share_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::new(3_600_000);
        let dev = lookup(&MapEnv::new(&[("AWS_PROFILE", "dev")]), dir.path(), &fake);
        let prod = lookup(&MapEnv::new(&[("AWS_PROFILE", "prod")]), dir.path(), &fake);
        assert_eq!(dev.get(HOST, &fake).unwrap().token.password.expose(), "pw1");
        assert_eq!(
            prod.get(HOST, &fake).unwrap().token.password.expose(),
            "pw2"
        );
        assert_eq!(dev.list().unwrap().len(), 1);
    }

    #[test]
    fn erase_forgets_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::new(3_600_000);
        let l = lookup(&MapEnv::default(), dir.path(), &fake);
        l.get(HOST, &fake).unwrap();
        assert_eq!(
            l.list()
                .unwrap()
                .get(&format!("https://{HOST}"))
                .map(String::as_str),
            Some("AWS")
        );
        l.erase(HOST).unwrap();
        assert!(l.list().unwrap().is_empty());
        assert!(!l.get(HOST, &fake).unwrap().from_cache);
    }

    #[test]
    fn registries_of_one_region_share_a_token_and_list_names_the_hosts_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::new(3_600_000);
        let l = lookup(&MapEnv::default(), dir.path(), &fake);
        let hosts = [
            "111111111111.dkr.ecr.us-east-1.amazonaws.com",
            "222222222222.dkr.ecr.us-east-1.amazonaws.com",
            "https://333333333333.dkr.ecr.us-east-1.amazonaws.com:443/v2/",
        ];
        for h in hosts {
            assert_eq!(l.get(h, &fake).unwrap().token.password.expose(), "pw1");
        }
        assert_eq!(fake.calls.get(), 1);
        let want: Vec<String> = ["111111111111", "222222222222", "333333333333"]
            .iter()
            .map(|a| format!("https://{a}.dkr.ecr.us-east-1.amazonaws.com"))
            .collect();
        assert_eq!(l.list().unwrap().into_keys().collect::<Vec<_>>(), want);
        // Not the reply's proxyEndpoint (the caller's own registry), which was never asked for.
        assert!(!l.list().unwrap().contains_key(&format!("https://{HOST}")));
        // Another region is another token.
        l.get("111111111111.dkr.ecr.eu-west-1.amazonaws.com", &fake)
            .unwrap();
        assert_eq!(fake.calls.get(), 2);
        assert_eq!(l.list().unwrap().len(), 4);
    }

    /// A hit for a host new to its entry appends it to the entry's hosts log: the entry itself
    /// is never rewritten, no lock is taken, and `list` names every host answered, far more than
    /// the entry keeps.
    #[test]
    fn a_hit_for_a_new_host_rewrites_nothing_and_list_names_every_host() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let fake = Fake::new(3_600_000);
        let l = lookup(&MapEnv::default(), dir.path(), &fake);
        let hosts: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    "{:012}.dkr.ecr.us-east-1.amazonaws.com",
                    100_000_000_000u64 + i
                )
            })
            .collect();
        l.get(&hosts[0], &fake).unwrap();
        let key = l.target(&hosts[0]).unwrap().key;
        let entry = Cache::new(dir.path().to_path_buf()).entry_path(&key.id);
        let identity = |p: &std::path::Path| {
            let m = std::fs::metadata(p).unwrap();
            (m.ino(), m.mtime(), m.mtime_nsec())
        };
        let lock = dir.path().join(format!("{}.lock", key.id));
        let (written, locked) = (identity(&entry), identity(&lock));
        for _ in 0..2 {
            for host in &hosts {
                assert!(l.get(host, &fake).unwrap().from_cache);
            }
        }
        assert_eq!(fake.calls.get(), 1);
        assert_eq!(identity(&entry), written, "a hit rewrote the entry");
        assert_eq!(identity(&lock), locked, "a hit took the lock");
        let listed = l.list().unwrap();
        assert_eq!(listed.len(), hosts.len(), "{listed:?}");
        for host in &hosts {
            assert!(listed.contains_key(&format!("https://{host}")), "{host}");
        }
        let log = std::fs::read_to_string(dir.path().join(format!("{}.hosts", key.id))).unwrap();
        assert_eq!(log.lines().count(), hosts.len(), "each host once: {log}");
        l.erase(&hosts[5]).unwrap();
        assert!(l.list().unwrap().is_empty());
        assert!(!dir.path().join(format!("{}.hosts", key.id)).exists());
    }
}
