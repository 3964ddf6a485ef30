//! The on-disk token cache: one small JSON file per cache key, replaced atomically, guarded by a
//! per-key lock file for refreshes.
//!
//! Layout, in a 0700 directory of our own (never AWS's Go helper's `cache.json`):
//! - `<key id>.json`: one entry (a token and/or the last refresh failure), mode 0600;
//! - `<key id>.lock`: held exclusively by the one process refreshing that key, which writes its
//!   pid there so that a process kept waiting can tell whose refresh it waits for;
//! - `.<key id>.json.<random>.tmp`: an entry being written, renamed over `<key id>.json` when whole;
//! - `<key id>.hosts`: every registry host the entry has answered, one per line, appended
//!   (`O_APPEND`, one `write`) the first time a host is answered: a hit for a new host writes one
//!   short line, takes no lock and rewrites nothing;
//! - `<hash>.memo`: what a hit's key needs from the AWS files (`keymemo`);
//! - `prune.stamp`: when expired entries were last swept.
//!
//! Readers take no lock: a `.json` file is only ever replaced by `rename`, so a reader sees the
//! old whole file or the new whole file, and a slow refresher cannot stall a hit. A hit opens
//! its entry by name (and its key's memo when the AWS files are large, and for a host the entry
//! does not hold, the entry's hosts log), so its cost does not grow with the number of entries.
//!
//! Nothing here is fatal: a corrupt, foreign, unreadable or untrusted entry is a miss, and a
//! directory we cannot write means tokens are served uncached.
//!
//! A token's life is counted on the local clock from the moment it arrived, for as long as the
//! server said it lasts on the server's clock ([`crate::authorization::Validity`]): neither clock's error against the
//! other moves an expiry. An entry whose numbers no fetch could have produced (a lifetime longer
//! than ECR issues, a fetch in the future because the clock was set back) is a miss.

use crate::authorization::Token;
use crate::fsutil::{self, Links};
use crate::platform;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What one entry is, for the man page's FILES section (the layout above says the rest).
pub const ENTRY_SCOPE: &str = "one 0600 file per AWS identity and region (ECR Public: per identity), shared by every registry that token serves";

/// What else the directory holds, for the same section: the hosts logs (below) and the key
/// memos (`crate::keymemo`).
pub const BESIDE_ENTRIES: &str = "beside each entry, the log of the hosts it has answered (for list); and memos of what the cache key needs from large AWS files, checked against those files on every use";

/// v3: one entry per identity and token scope (a region's API endpoint, not a registry host),
/// recording the hosts it has answered; v2 had one entry per host, v1 kept the server's absolute
/// expiry. Entries of another schema are misses.
pub const SCHEMA: &str = "docker-credential-ecr/cache/v3";

/// A key's files in the cache directory: `<id>.json`, its entry; `<id>.lock`, its lock;
/// `<id>.hosts`, the log of the hosts it has answered.
const ENTRY_EXT: &str = "json";
const LOCK_EXT: &str = "lock";
const HOSTS_EXT: &str = "hosts";

/// How many hosts an entry itself remembers: the hosts its fetches were for, which a hit
/// checks before it reads the hosts log. `list` reads the log too, which has every host.
pub const MAX_HOSTS: usize = 64;

/// A hosts log stops growing here: over 2000 registry hosts for one identity and region.
pub const MAX_HOSTS_LOG_BYTES: u64 = 128 * 1024;

/// What a full log may hold past [`MAX_HOSTS_LOG_BYTES`] and still be read: appenders that
/// checked its size at the same moment each add their line (a host name is at most 253 bytes).
const HOSTS_LOG_SLACK: u64 = 64 * 1024;

/// A memo not rewritten for a day goes in a sweep: the next hit with its inputs writes it again.
const STALE_MEMO_AGE: Duration = Duration::from_secs(24 * 3600);

/// Real tokens are ~2-3 KiB; anything much bigger is not ours.
const MAX_ENTRY_BYTES: u64 = 256 * 1024;

/// How often a write sweeps the directory for expired entries and debris.
const PRUNE_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// A temp file this old belongs to a writer that died: writes take milliseconds.
const STALE_TEMP_AGE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache directory {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Unusable(#[from] Unusable),
    #[error("timed out after {}s waiting for another docker-credential-ecr to refresh {}", waited.as_secs(), path.display())]
    LockTimeout { path: PathBuf, waited: Duration },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub schema: String,
    /// The non-secret description of the identity and scope this entry belongs to (the cache
    /// key's description).
    pub identity: String,
    /// The registry hosts the entry's fetches were for, oldest first, at most `MAX_HOSTS` (for
    /// `list` and `doctor`, with the hosts log; a hit reads it only to skip logging a host it
    /// already holds).
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub token: Option<Token>,
    /// The last refresh failure, shared with the processes that queued behind it.
    #[serde(default)]
    pub failure: Option<Failure>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    /// Unix milliseconds.
    pub at: u64,
    pub message: String,
    /// The caller had no usable AWS identity ([`crate::token::TokenError::identity_refused`]):
    /// for ECR Public the processes that share this failure go on anonymously too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub identity_refused: bool,
}

impl Entry {
    /// Whether the entry was written for this identity and scope: the file name is a hash of
    /// them, but a file is only a claim.
    pub fn belongs_to(&self, identity: &str) -> bool {
        self.identity == identity
    }

    pub fn has_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h == host)
    }

    /// Records that the entry answered `host`; the oldest host goes when there are too many.
    pub fn add_host(&mut self, host: &str) {
        if self.has_host(host) {
            return;
        }
        self.hosts.push(host.to_string());
        let excess = self.hosts.len().saturating_sub(MAX_HOSTS);
        self.hosts.drain(..excess);
    }
}

/// The cache directory. Creating it is deferred to the first write: a hit creates nothing but
/// a key memo or a hosts log in a directory that is there.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    /// The rule that chose the directory (`doctor` names it). The system cache, shared by
    /// every root process, must already be private: a mode that lets others in is refused,
    /// not tightened, since others may have put files there.
    rule: crate::dirs::CacheRule,
}

/// The lock on one key, released when dropped (or when the process dies).
pub struct KeyLock {
    _file: File,
}

impl Cache {
    /// The cache in `dir`, named directly (as by `AWS_ECR_CACHE_DIR`).
    pub fn new(dir: PathBuf) -> Cache {
        Cache {
            dir,
            rule: crate::dirs::CacheRule::Variable,
        }
    }

    /// The cache at `location`, with the checks its rule calls for.
    pub fn at(location: crate::dirs::CacheLocation) -> Cache {
        Cache {
            dir: location.dir,
            rule: location.rule,
        }
    }

    /// The rule that chose the directory.
    pub fn rule(&self) -> crate::dirs::CacheRule {
        self.rule
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn entry_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.{ENTRY_EXT}"))
    }

    /// The file whose lock one process holds while it refreshes the key's entry.
    fn lock_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.{LOCK_EXT}"))
    }

    /// The entry for a key, or `None` when it is missing, corrupt, of another schema, or not
    /// trustworthy (a symlink, another user's file, writable by others).
    pub fn read(&self, id: &str) -> Option<Entry> {
        let path = self.entry_path(id);
        match read_entry(&path) {
            Ok(entry) => entry,
            Err(e) => {
                crate::debug!("ignoring cache entry {}: {e}", path.display());
                None
            }
        }
    }

    /// Waits up to `wait` for the key's refresh lock, creating the directory if needed.
    pub fn lock(&self, id: &str, wait: Duration) -> Result<KeyLock, CacheError> {
        self.ensure_dir()?;
        let path = self.lock_path(id);
        let how = platform::Open {
            nonblocking: false,
            follow_links: false,
            create_mode: 0o600,
        };
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        let file = platform::open_options(&mut options, how)
            .open(&path)
            .map_err(io_err(&path))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => {
                    record_holder(&file);
                    return Ok(KeyLock { _file: file });
                }
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(CacheError::LockTimeout { path, waited: wait });
                }
                Err(fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
            }
        }
    }

    /// The pid of the process that holds (or last held) the key's lock, as it wrote it there:
    /// `None` when none is written (a holder of an older version, or one that has yet to write).
    /// Read only by a process that has waited for the lock, never on a hit.
    pub fn holder(&self, id: &str) -> Option<u32> {
        let path = self.lock_path(id);
        let contents = fsutil::read_regular(&path, 32, Links::Refuse).ok()?;
        std::str::from_utf8(&contents.bytes)
            .ok()?
            .trim()
            .parse()
            .ok()
            .filter(|pid| *pid > 0)
    }

    /// Replaces the key's entry atomically; the caller holds its lock. Occasionally sweeps
    /// expired entries and debris left by killed processes.
    pub fn write(&self, _lock: &KeyLock, id: &str, entry: &Entry) -> Result<(), CacheError> {
        self.replace(id, entry)
    }

    /// Replaces the key's entry without its lock, for a process that gave up waiting for a
    /// holder that does not finish (see `lookup`). Safe because entries are only ever replaced
    /// whole, by `rename`: a reader sees this entry or another whole one, never a mix. What it
    /// can cost is a concurrent writer's entry (both hold a fresh token, and the last rename
    /// wins; the hosts log keeps the hosts either answered for `list`); or,
    /// should the stopped holder be resumed and record its own timeout over this entry, one
    /// more fetch by the next get.
    pub fn write_unlocked(&self, id: &str, entry: &Entry) -> Result<(), CacheError> {
        self.ensure_dir()?;
        self.replace(id, entry)
    }

    fn replace(&self, id: &str, entry: &Entry) -> Result<(), CacheError> {
        // The entry holds the token: serialised into one buffer zeroised after the write.
        let json = crate::secret::json_zeroised(entry, b"").map_err(io_err(&self.dir))?;
        let target = self.entry_path(id);
        let new = fsutil::NewFile {
            mode: 0o600,
            owner: None,
            // An entry a crash loses is a miss, not lost data: no directory sync on the path
            // every refresh takes.
            sync_dir: false,
        };
        fsutil::write_atomically(&target, &json, &new).map_err(io_err(&target))?;
        if let Err(e) = self.prune_if_due() {
            crate::debug!("cache sweep skipped: {e}");
        }
        Ok(())
    }

    /// Drops a key's entry (`erase`).
    pub fn remove(&self, _lock: &KeyLock, id: &str) -> Result<(), CacheError> {
        self.remove_unlocked(id)
    }

    /// Drops a key's entry without its lock, its holder being stopped (see `lookup`): one
    /// `unlink`, so a reader finds the entry or nothing. Its hosts log goes after it: the hosts
    /// a forgotten token answered are not the next token's.
    pub fn remove_unlocked(&self, id: &str) -> Result<(), CacheError> {
        for path in [self.entry_path(id), self.hosts_path(id)] {
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(&path)(e)),
                _ => {}
            }
        }
        Ok(())
    }

    fn hosts_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.{HOSTS_EXT}"))
    }

    /// The hosts the key's log holds, oldest first (duplicates possible: two first hits of one
    /// host at once both append it). Empty when there is none, or it is not ours alone.
    pub fn logged_hosts(&self, id: &str) -> Vec<String> {
        let path = self.hosts_path(id);
        let limit = MAX_HOSTS_LOG_BYTES + HOSTS_LOG_SLACK;
        let Ok(contents) = fsutil::read_regular(&path, limit, Links::Refuse) else {
            return Vec::new();
        };
        let meta = &contents.meta;
        if !platform::ours_alone(meta) {
            crate::debug!("ignoring hosts log {}: not ours alone", path.display());
            return Vec::new();
        }
        String::from_utf8_lossy(&contents.bytes)
            .lines()
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Every host the key's entry has answered: those it keeps itself, then its log's.
    pub fn answered_hosts(&self, id: &str, entry: &Entry) -> Vec<String> {
        let mut hosts = entry.hosts.clone();
        for host in self.logged_hosts(id) {
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        hosts
    }

    /// Appends `host` to the key's log: one `write` of one short line with `O_APPEND`, so
    /// concurrent appenders never interleave within a line, and no lock or rename is needed.
    /// The directory must exist (its entry is there); nothing is created but the log itself.
    pub fn log_host(&self, id: &str, host: &str) -> Result<(), CacheError> {
        use std::io::Write;
        let path = self.hosts_path(id);
        let how = platform::Open {
            nonblocking: true,
            follow_links: false,
            create_mode: 0o600,
        };
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        let mut file = platform::open_options(&mut options, how)
            .open(&path)
            .map_err(io_err(&path))?;
        let meta = file.metadata().map_err(io_err(&path))?;
        let line = format!("{host}\n");
        let full = meta.len() + line.len() as u64 > MAX_HOSTS_LOG_BYTES;
        if !meta.is_file() || !platform::ours_alone(&meta) || full {
            let refused = io::Error::other("not a hosts log of ours, or full");
            return Err(io_err(&path)(refused));
        }
        file.write_all(line.as_bytes()).map_err(io_err(&path))
    }

    /// Every readable entry with its key id, for `list`. A missing directory is an
    /// empty cache; an unreadable one is an error, never an empty answer.
    pub fn entries(&self) -> Result<Vec<(String, Entry)>, CacheError> {
        let listing = match fs::read_dir(&self.dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.map_err(io_err(&self.dir))?,
        };
        let mut out = Vec::new();
        for item in listing {
            let item = item.map_err(io_err(&self.dir))?;
            let name = item.file_name();
            let Some(Own::Entry(id)) = name.to_str().and_then(Own::of) else {
                continue;
            };
            if let Some(entry) = self.read(&id) {
                out.push((id, entry));
            }
        }
        Ok(out)
    }

    /// Whether the directory can be used, without creating or changing anything (`doctor`).
    pub fn probe(&self) -> Result<DirState, Unusable> {
        let uid = platform::euid();
        match fs::symlink_metadata(&self.dir) {
            Ok(meta) => {
                self.check_own_dir(&meta, uid)?;
                check_writable(&self.dir, &self.dir, platform::owner(&meta).0)?;
                Ok(DirState::Ready)
            }
            Err(_) => {
                let (parent, owner) = self.creatable_in()?;
                check_writable(&self.dir, &parent, owner)?;
                Ok(DirState::Absent)
            }
        }
    }

    /// Creates the directory if needed, mode 0700, and checks that it is ours.
    fn ensure_dir(&self) -> Result<(), CacheError> {
        let uid = platform::euid();
        if let Err(e) = fs::symlink_metadata(&self.dir) {
            if e.kind() != io::ErrorKind::NotFound {
                return Err(io_err(&self.dir)(e));
            }
            self.creatable_in()?;
            if let Some(parent) = self.dir.parent() {
                crate::fsutil::create_private_dirs(parent).map_err(io_err(parent))?;
            }
            match platform::create_dir(&self.dir, 0o700, false) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                    return Err(io_err(&self.dir)(e));
                }
                _ => {}
            }
        }
        let meta = fs::symlink_metadata(&self.dir).map_err(io_err(&self.dir))?;
        self.check_own_dir(&meta, uid)?;
        // Whatever the umask made of it, or whoever loosened it: 0700.
        if platform::mode(&meta) & 0o777 != 0o700 {
            fs::set_permissions(&self.dir, platform::permissions(0o700))
                .map_err(io_err(&self.dir))?;
        }
        Ok(())
    }

    /// An existing cache directory is used only if it is a real directory of the user running
    /// us. A loose mode is tightened on the next write (see `ensure_dir`), unless it is not
    /// ours, or the directory is private-only.
    fn check_own_dir(&self, meta: &fs::Metadata, uid: u32) -> Result<(), Unusable> {
        let path = &self.dir;
        if !meta.is_dir() {
            return Err(Unusable::NotADirectory { path: path.clone() });
        }
        let (owner, _) = platform::owner(meta);
        if owner != uid {
            return Err(Unusable::Foreign {
                path: path.clone(),
                owner,
                uid,
            });
        }
        let mode = platform::mode(meta) & 0o777;
        if self.rule == crate::dirs::CacheRule::System && mode & 0o077 != 0 {
            return Err(Unusable::NotPrivate {
                path: path.clone(),
                mode,
            });
        }
        Ok(())
    }

    /// The nearest existing ancestor of the (missing) directory and its owner, if we may create
    /// the directory inside it. Not inside another user's directory: root run with a user's
    /// HOME (`sudo -E docker pull`) would leave root-owned directories there that the user can
    /// then never write, and their cache would be gone for good. Root's own directories (`/`,
    /// `/tmp`, `/var/cache`) are shared ground: creating there fails or succeeds on its own.
    fn creatable_in(&self) -> Result<(PathBuf, u32), Unusable> {
        let Some((dir, meta)) = platform::nearest_existing_ancestor(&self.dir) else {
            return Ok((PathBuf::from("/"), 0));
        };
        if !meta.is_dir() {
            return Err(Unusable::NotADirectory { path: dir });
        }
        if let Some(owner) = platform::foreign_owner(&meta) {
            return Err(Unusable::ForeignParent {
                path: self.dir.clone(),
                parent: dir,
                owner,
                uid: platform::euid(),
            });
        }
        let owner = platform::owner(&meta).0;
        Ok((dir, owner))
    }

    fn prune_if_due(&self) -> io::Result<()> {
        let stamp = self.dir.join("prune.stamp");
        let due = match fs::metadata(&stamp).and_then(|m| m.modified()) {
            Ok(t) => t.elapsed().map_or(true, |age| age >= PRUNE_INTERVAL),
            Err(_) => true,
        };
        if !due {
            return Ok(());
        }
        // Without blocking: this runs under a key lock, and a FIFO planted here would otherwise
        // hold every other process's refresh of that key.
        fsutil::touch(&stamp)?;
        self.prune(crate::clock::now_ms())
    }

    /// Removes expired, corrupt and foreign entries, stale temp files, lock files and hosts logs
    /// whose entry is gone, and memos not written for a day.
    pub fn prune(&self, now_ms: u64) -> io::Result<()> {
        for item in fs::read_dir(&self.dir)? {
            let item = item?;
            let Some(kind) = item.file_name().to_str().and_then(Own::of) else {
                continue;
            };
            // Another process may have renamed or removed it since the listing.
            let Ok(meta) = item.metadata() else {
                continue;
            };
            let age = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .unwrap_or_default();
            let path = item.path();
            match kind {
                Own::Temp if age >= STALE_TEMP_AGE => {
                    let _ = fs::remove_file(&path);
                }
                Own::Memo if age >= STALE_MEMO_AGE && meta.is_file() => {
                    let _ = fs::remove_file(&path);
                }
                Own::Entry(id) => self.prune_entry(&id, &path, &meta, now_ms),
                // A lock file outlives its entry by a day before it goes: removing one that a
                // process has just opened would let two refreshers run at once (harmless, but
                // it costs an extra API call).
                Own::Lock(id)
                    if !self.entry_path(&id).exists()
                        && age >= Duration::from_secs(24 * 3600)
                        && fsutil::open_regular(&path, Links::Refuse)
                            .is_ok_and(|(l, _)| l.try_lock().is_ok()) =>
                {
                    let _ = fs::remove_file(&path);
                }
                // A log is appended after its entry is written: one whose entry has been gone
                // for as long as a write takes belongs to no token.
                Own::Hosts(id)
                    if !self.entry_path(&id).exists()
                        && age >= STALE_TEMP_AGE
                        && meta.is_file() =>
                {
                    let _ = fs::remove_file(&path);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Removes an entry that holds neither a valid token nor a recent failure.
    fn prune_entry(&self, id: &str, path: &Path, meta: &fs::Metadata, now_ms: u64) {
        let keep = read_entry(path).ok().flatten().is_some_and(|e| {
            e.token.is_some_and(|t| t.is_valid(now_ms))
                || e.failure
                    .is_some_and(|f| now_ms.saturating_sub(f.at) < 60_000)
        });
        if !keep && meta.is_file() {
            // Take the key's lock so no refresher of this key is mid-write.
            let lock_path = self.lock_path(id);
            let lock = fsutil::open_regular(&lock_path, Links::Refuse).ok();
            if lock.as_ref().is_none_or(|(l, _)| l.try_lock().is_ok()) {
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// The names this module gives its own files: whatever else is in the directory (AWS's Go
/// helper's `cache.json`, a user's notes) is not ours to delete.
enum Own {
    Temp,
    Entry(String),
    Lock(String),
    Hosts(String),
    Memo,
}

impl Own {
    fn of(name: &str) -> Option<Own> {
        let own_temp = name
            .strip_prefix('.')
            .and_then(|n| n.split_once('.'))
            .is_some_and(|(id, rest)| is_key_id(id) && rest.ends_with(".tmp"));
        if own_temp {
            return Some(Own::Temp);
        }
        let (id, suffix) = name.split_once('.')?;
        if !is_key_id(id) {
            return None;
        }
        let id = id.to_string();
        match suffix {
            ENTRY_EXT => Some(Own::Entry(id)),
            LOCK_EXT => Some(Own::Lock(id)),
            HOSTS_EXT => Some(Own::Hosts(id)),
            memo if Some(memo) == crate::keymemo::SUFFIX.strip_prefix('.') => Some(Own::Memo),
            _ => None,
        }
    }
}

/// Writes this process's pid into the lock file it has just locked, for [`Cache::holder`].
/// Best effort: a waiter that cannot read it treats the holder as unknown.
fn record_holder(file: &File) {
    use std::os::unix::fs::FileExt;
    let pid = format!("{}\n", std::process::id());
    let written = file
        .set_len(0)
        .and_then(|()| file.write_all_at(pid.as_bytes(), 0));
    if let Err(e) = written {
        crate::debug!("cannot record this process in its cache lock: {e}");
    }
}

/// What [`Cache::probe`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirState {
    /// The directory exists and is ours to use.
    Ready,
    /// Not there yet; the first token fetched will create it.
    Absent,
}

/// Why the cache directory cannot be used. Tokens are then served uncached, every request
/// calling the API; `doctor` says which of these it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("cache directory {} is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error(
        "cache directory {} belongs to uid {owner}, not to uid {uid} running this (left by a `sudo` run?); remove it or chown it to {uid}",
        path.display()
    )]
    Foreign { path: PathBuf, owner: u32, uid: u32 },
    #[error(
        "not creating cache directory {}: {} belongs to uid {owner}, not to uid {uid} running this (another user's home, e.g. under `sudo -E`)",
        path.display(), parent.display()
    )]
    ForeignParent {
        path: PathBuf,
        parent: PathBuf,
        owner: u32,
        uid: u32,
    },
    #[error(
        "cache directory {} has mode {mode:04o}: the system cache must be private to root; chmod 0700 it",
        path.display()
    )]
    NotPrivate { path: PathBuf, mode: u32 },
    #[error("cache directory {} cannot be written: {} (owned by uid {owner}): {detail}", path.display(), blocker.display())]
    NotWritable {
        path: PathBuf,
        blocker: PathBuf,
        owner: u32,
        detail: String,
    },
}

/// Whether this process may create files in `blocker` (the directory, or the ancestor it would
/// be created in): a read-only file system, a mode without write permission.
fn check_writable(path: &Path, blocker: &Path, owner: u32) -> Result<(), Unusable> {
    platform::check_can_create_in(blocker).map_err(|e| Unusable::NotWritable {
        path: path.to_path_buf(),
        blocker: blocker.to_path_buf(),
        owner,
        detail: e.to_string(),
    })
}

/// Key ids are hex digests (`identity::CacheKey::id`): what `prune` may consider its own.
fn is_key_id(s: &str) -> bool {
    (32..=64).contains(&s.len()) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `Ok(None)` for an entry that is absent or not ours to trust; `Err` for an I/O failure.
fn read_entry(path: &Path) -> io::Result<Option<Entry>> {
    let contents = match fsutil::read_regular(path, MAX_ENTRY_BYTES, Links::Refuse) {
        Ok(c) => c,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(fsutil::ReadError::Io(e)) => return Err(e),
        // A link, a FIFO, a device, a runaway file: not an entry of ours.
        Err(_) => return Ok(None),
    };
    // The bytes hold the token: zeroised once parsed (the `Secret` keeps its own copy).
    let bytes = zeroize::Zeroizing::new(contents.bytes);
    let meta = &contents.meta;
    if !platform::ours_alone(meta) {
        return Ok(None);
    }
    Ok(serde_json::from_slice::<Entry>(&bytes)
        .ok()
        .filter(|e| e.schema == SCHEMA))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::now_ms;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::time::SystemTime;

    fn token(fetched_at: u64, expires_at: u64) -> Token {
        Token::for_test("pw", fetched_at, expires_at - fetched_at)
    }

    fn entry(t: Option<Token>) -> Entry {
        Entry {
            schema: SCHEMA.into(),
            identity: "scope=region region=r".into(),
            hosts: vec!["h".into()],
            token: t,
            failure: None,
        }
    }

    #[test]
    fn an_entry_remembers_each_host_once_and_at_most_max_hosts() {
        let mut e = entry(None);
        e.add_host("h");
        e.add_host("g");
        assert_eq!(e.hosts, ["h", "g"]);
        for i in 0..MAX_HOSTS {
            e.add_host(&format!("x{i}"));
        }
        assert_eq!(e.hosts.len(), MAX_HOSTS);
        assert!(!e.has_host("h") && !e.has_host("g") && e.has_host("x0"));
        assert_eq!(e.hosts.last().map(String::as_str), Some("x63"));
    }

    /// A log one line short of full takes no line that would cross the limit, and a log that
    /// appenders racing past the limit made is still read.
    #[test]
    fn a_full_hosts_log_stops_growing_and_is_still_read() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::new(root.path().join("c"));
        fs::create_dir_all(cache.dir()).unwrap();
        let line = format!("{}\n", "h".repeat(62));
        let lines = (MAX_HOSTS_LOG_BYTES / line.len() as u64) as usize;
        let log = cache.hosts_path("k");
        fs::write(&log, line.repeat(lines)).unwrap();
        fs::set_permissions(&log, fs::Permissions::from_mode(0o600)).unwrap();
        let room = MAX_HOSTS_LOG_BYTES - fs::metadata(&log).unwrap().len();
        assert!(room > 0 && room < line.len() as u64, "{room}");
        assert!(cache.log_host("k", &"g".repeat(62)).is_err());
        assert_eq!(cache.logged_hosts("k").len(), lines);
        let mut racing = fs::OpenOptions::new().append(true).open(&log).unwrap();
        std::io::Write::write_all(&mut racing, line.repeat(8).as_bytes()).unwrap();
        assert_eq!(cache.logged_hosts("k").len(), lines + 8);
    }

    #[test]
    fn v2_entries_are_misses() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::new(root.path().join("c"));
        let now = now_ms();
        let v2 = serde_json::json!({
            "schema": "docker-credential-ecr/cache/v2", "identity": "host=h", "host": "h",
            "token": {"proxy_endpoint": "https://h", "username": "AWS", "password": "pw",
                      "fetched_at": now, "lifetime_ms": 3_600_000}
        });
        fs::create_dir_all(cache.dir()).unwrap();
        fs::write(cache.entry_path("k"), v2.to_string()).unwrap();
        fs::set_permissions(cache.entry_path("k"), fs::Permissions::from_mode(0o600)).unwrap();
        assert!(cache.read("k").is_none());
    }

    #[test]
    fn v1_entries_are_misses() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::new(root.path().join("c"));
        let lock = cache.lock("k", Duration::from_secs(1)).unwrap();
        let now = now_ms();
        let v1 = serde_json::json!({
            "schema": "docker-credential-ecr/cache/v1", "identity": "host=h", "host": "h",
            "token": {"proxy_endpoint": "https://h", "username": "AWS", "password": "pw",
                      "fetched_at": now, "expires_at": now + 3_600_000}
        });
        fs::write(cache.entry_path("k"), v1.to_string()).unwrap();
        fs::set_permissions(cache.entry_path("k"), fs::Permissions::from_mode(0o600)).unwrap();
        assert!(cache.read("k").is_none());
        cache
            .write(&lock, "k", &entry(Some(token(now, now + 1))))
            .unwrap();
        assert!(cache.read("k").is_some());
    }

    #[test]
    fn write_then_read_round_trips_with_private_modes() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::new(root.path().join("c"));
        assert!(cache.read("k").is_none());
        let lock = cache.lock("k", Duration::from_secs(1)).unwrap();
        cache.write(&lock, "k", &entry(Some(token(1, 2)))).unwrap();
        let got = cache.read("k").unwrap();
        assert_eq!(got.token.unwrap().password.expose(), "pw");
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(cache.dir()), 0o700);
        assert_eq!(mode(&cache.entry_path("k")), 0o600);
    }

    #[test]
    fn garbage_foreign_and_symlinked_entries_are_misses() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::new(root.path().join("c"));
        let lock = cache.lock("k", Duration::from_secs(1)).unwrap();
        for junk in [
            &b""[..],
            b"{",
            b"\x00\xff",
            br#"{"schema":"other/v9","identity":"","host":"h"}"#,
        ] {
            fs::write(cache.entry_path("k"), junk).unwrap();
            fs::set_permissions(cache.entry_path("k"), fs::Permissions::from_mode(0o600)).unwrap();
            assert!(cache.read("k").is_none());
        }
        let outside = root.path().join("outside.json");
        fs::write(
            &outside,
            serde_json::to_vec(&entry(Some(token(1, 2)))).unwrap(),
        )
        .unwrap();
        fs::remove_file(cache.entry_path("k")).unwrap();
        std::os::unix::fs::symlink(&outside, cache.entry_path("k")).unwrap();
        assert!(cache.read("k").is_none(), "followed a symlink");
        cache.write(&lock, "k", &entry(None)).unwrap();
        assert!(
            !fs::symlink_metadata(cache.entry_path("k"))
                .unwrap()
                .is_symlink()
        );
        assert!(
            fs::read(&outside).unwrap().starts_with(b"{\"schema\""),
            "wrote through the symlink"
        );
    }

    #[test]
    fn a_second_locker_waits_then_times_out() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::new(root.path().join("c"));
        let _held = cache.lock("k", Duration::from_secs(1)).unwrap();
        // Locks are per open file description, so a second open in this process contends too.
        let err = cache.lock("k", Duration::from_millis(50)).err().unwrap();
        assert!(matches!(err, CacheError::LockTimeout { .. }), "{err}");
        assert_eq!(cache.holder("k"), Some(std::process::id()));
        assert!(cache.lock("other", Duration::from_millis(50)).is_ok());
    }

    #[test]
    fn prune_removes_expired_entries_and_old_temp_files_only() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::new(root.path().join("c"));
        let now = now_ms();
        let (live, dead) = (&"1".repeat(32), &"d".repeat(32));
        for (id, exp) in [(live, now + 60_000), (dead, now - 1)] {
            let lock = cache.lock(id, Duration::from_secs(1)).unwrap();
            cache
                .write(&lock, id, &entry(Some(token(now - 1000, exp))))
                .unwrap();
        }
        let fresh_tmp = cache.dir().join(format!(".{dead}.1.2.tmp"));
        fs::write(&fresh_tmp, b"{").unwrap();
        let old_tmp = cache.dir().join(format!(".{dead}.1.3.tmp"));
        fs::write(&old_tmp, b"{").unwrap();
        let two_minutes_ago = SystemTime::now() - Duration::from_secs(120);
        File::options()
            .write(true)
            .open(&old_tmp)
            .and_then(|f| f.set_modified(two_minutes_ago))
            .unwrap();
        // Not ours, however old or expired-looking: AWS's Go helper's file, a user's notes.
        let foreign = ["cache.json", "notes.txt", ".editor.tmp", "x.lock"];
        for name in foreign {
            fs::write(cache.dir().join(name), b"{").unwrap();
            File::options()
                .write(true)
                .open(cache.dir().join(name))
                .and_then(|f| f.set_modified(two_minutes_ago))
                .unwrap();
        }
        cache.prune(now).unwrap();
        assert!(cache.read(live).is_some());
        assert!(!cache.entry_path(dead).exists());
        assert!(
            fresh_tmp.exists(),
            "a temp file a live writer may own was removed"
        );
        assert!(!old_tmp.exists(), "a dead writer's temp file was kept");
        for name in foreign {
            assert!(cache.dir().join(name).exists(), "removed {name}");
        }
    }
}
