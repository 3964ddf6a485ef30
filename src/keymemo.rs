//! What a cache hit's key needs from the AWS files, remembered, so that a hit costs the same
//! whatever the size of `~/.aws/config` (issue 18: a 3000-profile IAM Identity Center config is
//! 435 KB, and parsing it took a hit from 0.86 ms to 11.3 ms).
//!
//! Why a memo and not a scanner that reads only the selected profile's sections: the key depends
//! on the profile's whole `source_profile` chain, its `sso-session`, `[services]` sections, the
//! credentials file's keys and botocore's order among them ([`identity::file_facts`]); a second
//! reader of that would have to agree with aws-config's parser on every quirk (continuation
//! lines, duplicate sections, the `profile ` prefix rules), where a disagreement is another
//! identity's token. And it would still read the whole file to find the sections. The memo keeps
//! the one parser and costs one `open`+`fstat` per file and one small read.
//!
//! A memo (`<hash>.memo` in the cache directory, 0600, checked like an entry: ours, not writable
//! by others, no link, a checksum of its own text) holds [`FileFacts`] with what they were
//! computed from:
//! - every variable the computation read (recorded as it read them, their values as one hash,
//!   a secret's as set or not), so a variable read there tomorrow is covered without a list to
//!   keep;
//! - each AWS file's identity as `fstat` gives it after an `open` (which makes NFS revalidate):
//!   device, inode, size, mtime and ctime with nanoseconds. A rename over the file is a new
//!   inode, an edit moves the ctime (which no tool can set back);
//! - git's "racily clean" rule: a file whose mtime or ctime is less than [`RACY_WINDOW`] before
//!   the moment we looked at it may change again within the same timestamp tick without any of
//!   those changing, so no memo is trusted (or written) for it: the files are parsed until they
//!   have been still for that long. A file system with whole-second timestamps (a ctime with no
//!   nanoseconds: FAT, ext3, HFS+, some NFS servers) has ticks of unknown length: its files are
//!   always parsed.
//!
//! Files under [`MEMO_FROM_BYTES`] are parsed: that is faster than reading and checking a memo.
//! Only the front's hit uses it ([`crate::lookup::Lookup::hit`]), to find a cached token; a miss,
//! `doctor` and the kubelet parse the files, so a fetch never starts from a memo.

use crate::config::Target;
use crate::endpoint::Api;
use crate::env::Env;
use crate::fsutil::{self, Links};
use crate::identity::{self, CacheKey, FileFacts};
use crate::platform;
use crate::profiles::ProfileError;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The memo's format and meaning; with the program's version, so that a new release never
/// trusts what an older one computed.
const SCHEMA: &str = "docker-credential-ecr/keymemo/v1";

/// How long a file must have been still before its identity vouches for its contents: far more
/// than the tick of any file system with sub-second timestamps (a few ms on Linux), plus what
/// an NFS server's clock may be behind ours.
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

pub const SUFFIX: &str = ".memo";

/// Smaller AWS files are parsed faster than a memo is read and checked: measured in a release
/// build, a hit with a 164-byte config took 0.89 ms parsed and 0.94 ms from a memo; parsing
/// costs about 3.5 us per profile of ~140 bytes, so a memo pays from about 2 KiB (and with 3000
/// profiles a hit from the memo took 0.93 ms, parsed 16.3 ms).
const MEMO_FROM_BYTES: u64 = 4096;

/// A memo is a few hundred bytes.
const MAX_MEMO_BYTES: u64 = 64 * 1024;

/// What `fstat` says of a file, enough to tell any change of its contents once it is old enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct FileId {
    dev: u64,
    ino: u64,
    size: u64,
    /// Nanoseconds since the epoch.
    mtime: i128,
    ctime: i128,
}

impl FileId {
    fn of(meta: &fs::Metadata) -> FileId {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: ns(meta.mtime(), meta.mtime_nsec()),
            ctime: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether no change after `looked_at_ns` can leave this identity as it is.
    fn settled(&self, looked_at_ns: i128) -> bool {
        let window = RACY_WINDOW.as_nanos() as i128;
        let sub_second = self.ctime % 1_000_000_000 != 0;
        sub_second && self.mtime <= looked_at_ns - window && self.ctime <= looked_at_ns - window
    }
}

/// The AWS files by path, with their identities (`None`: absent).
type Files = Vec<(PathBuf, Option<FileId>)>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Memo {
    /// [`SCHEMA`], the version, the config entry's part and the variables that name the memo.
    inputs: String,
    /// Every variable the computation read, and one hash of their values ([`vars_digest`]).
    vars: Vec<String>,
    vars_digest: String,
    /// The AWS files as they were looked at (`None`: absent).
    files: Files,
    /// Our clock, in nanoseconds since the epoch, before the files were looked at.
    looked_at: i128,
    facts: FileFacts,
}

/// What [`crate::resolve::complete`] gives a hit (the API endpoint and the key), from a memo
/// in `dir` when one vouches for the files as they are now, else from the files (and then
/// remembered).
pub fn resolve(
    target: &Target,
    env: &dyn Env,
    dir: &Path,
) -> Result<(Api, CacheKey), ProfileError> {
    resolve_at(target, env, dir, SystemTime::now())
}

fn resolve_at(
    target: &Target,
    env: &dyn Env,
    dir: &Path,
    now: SystemTime,
) -> Result<(Api, CacheKey), ProfileError> {
    let looked_at = nanos(now);
    let files = look_at_files(env);
    let small = |f: &Files| {
        let bytes: u64 = f.iter().filter_map(|(_, id)| id.map(|id| id.size)).sum();
        bytes < MEMO_FROM_BYTES
    };
    if files.as_ref().is_some_and(small) {
        let facts = parsed_facts(target, env)?;
        return Ok(identity::from_facts(target, env, &facts));
    }
    let inputs = inputs(target, env);
    let path = dir.join(format!("{}{SUFFIX}", &identity::sha256_hex(&inputs)[..32]));
    if let Some(facts) = files.as_ref().and_then(|f| load(&path, &inputs, env, f)) {
        return Ok(identity::from_facts(target, env, &facts));
    }
    let recording = Recording {
        inner: env,
        names: RefCell::new(Vec::new()),
    };
    let facts = parsed_facts(target, &recording)?;
    if let Some(files) = files.filter(|f| all_settled(f, looked_at)) {
        let vars = recording.names.into_inner();
        let memo = Memo {
            inputs,
            vars_digest: vars_digest(&vars, env),
            vars,
            files,
            looked_at,
            facts: facts.clone(),
        };
        if let Err(e) = store(dir, &path, &memo) {
            crate::debug!("key memo not written: {e}");
        }
    }
    Ok(identity::from_facts(target, env, &facts))
}

/// The facts from the files parsed now, through the one loader every request uses.
fn parsed_facts(target: &Target, env: &dyn Env) -> Result<FileFacts, ProfileError> {
    let explicit = target.settings.profile.as_deref();
    let profiles = crate::resolve::load_profiles(env, explicit)?;
    let plan = crate::credentials::plan(env, &profiles, explicit);
    identity::file_facts(target, &profiles, &plan)
}

/// What names a memo: the format, the version, what [`identity::file_facts`] takes from the
/// target, and the variables that say which files and profile are read (the memo checks every
/// other variable it read too).
fn inputs(target: &Target, env: &dyn Env) -> String {
    let service = match crate::endpoint::from_entry(target) {
        Some(_) => "config entry",
        None => crate::endpoint::service_id(&target.registry),
    };
    let mut text = format!(
        "{SCHEMA}\n{}\nprofile={:?}\nendpoint={service}",
        crate::program::VERSION,
        target.settings.profile
    );
    for name in [
        "HOME",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_PROFILE",
    ] {
        text.push_str(&format!("\n{name}={:?}", env.var(name)));
    }
    text
}

/// The AWS files' identities, or `None` when one cannot be looked at (the parse then reports
/// why, or reads what we could not vouch for).
fn look_at_files(env: &dyn Env) -> Option<Files> {
    let paths = [
        crate::dirs::aws_config_file(env),
        crate::dirs::aws_credentials_file(env),
    ];
    paths
        .into_iter()
        .flatten()
        .map(|path| identify(&path).map(|id| (path, id)))
        .collect()
}

/// A file's identity after opening it (an NFS client revalidates its attributes on `open`),
/// `Some(None)` when it does not exist.
fn identify(path: &Path) -> Option<Option<FileId>> {
    match fsutil::open_regular(path, Links::Follow) {
        Ok((_, meta)) => Some(Some(FileId::of(&meta))),
        Err(e) if e.is_not_found() => Some(None),
        Err(_) => None,
    }
}

fn all_settled(files: &Files, looked_at: i128) -> bool {
    files
        .iter()
        .all(|(_, id)| id.is_none_or(|id| id.settled(looked_at)))
}

fn nanos(t: SystemTime) -> i128 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// Variables whose values are secrets: what a memo remembers never depends on them (the key
/// hashes the container token itself, at every use), only on whether they are set, so a memo
/// records only that, and not even a hash of them.
const SECRET_VARS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
];

/// One hash of the variables' values, in the order read: a memo holds no value, and for a
/// secret not even a hash of it (only whether it is set).
fn vars_digest(names: &[String], env: &dyn Env) -> String {
    let mut text = String::new();
    for name in names {
        let value = env.raw(name);
        let shown = match value {
            Some(_) if SECRET_VARS.contains(&name.as_str()) => Some("<set>".to_string()),
            other => other,
        };
        text.push_str(&format!("{name}={shown:?}\n"));
    }
    identity::sha256_hex(&text)
}

/// The facts of the memo at `path`, if it is ours, whole, for these inputs, and vouches for
/// the variables as they are now and `files` as they were just looked at.
fn load(path: &Path, inputs: &str, env: &dyn Env, files: &Files) -> Option<FileFacts> {
    let memo = read(path)?;
    let fresh = memo.inputs == inputs
        && memo.files == *files
        && all_settled(&memo.files, memo.looked_at)
        && vars_digest(&memo.vars, env) == memo.vars_digest;
    fresh.then_some(memo.facts)
}

/// A memo file: its checksum line, then its JSON. Refused unless it is a regular file of ours
/// that nobody else can write.
fn read(path: &Path) -> Option<Memo> {
    let contents = fsutil::read_regular(path, MAX_MEMO_BYTES, Links::Refuse).ok()?;
    let meta = &contents.meta;
    if !platform::ours_alone(meta) {
        crate::debug!("ignoring key memo {}: not ours alone", path.display());
        return None;
    }
    let text = std::str::from_utf8(&contents.bytes).ok()?;
    let (sum, json) = text.split_once('\n')?;
    if identity::sha256_hex(json) != sum {
        crate::debug!("ignoring key memo {}: checksum", path.display());
        return None;
    }
    serde_json::from_str(json).ok()
}

/// Writes the memo atomically, only into a cache directory that exists and is ours: a hit
/// creates nothing.
fn store(dir: &Path, path: &Path, memo: &Memo) -> std::io::Result<()> {
    let meta = fs::symlink_metadata(dir)?;
    if !meta.is_dir() || platform::owner(&meta).0 != platform::euid() {
        return Err(std::io::Error::other("the cache directory is not ours"));
    }
    let json = serde_json::to_string(memo).map_err(std::io::Error::other)?;
    let text = format!("{}\n{json}", identity::sha256_hex(&json));
    let new = fsutil::NewFile {
        mode: 0o600,
        owner: None,
        sync_dir: false,
    };
    fsutil::write_atomically(path, text.as_bytes(), &new)
}

/// The environment as [`identity::file_facts`] reads it, recording each variable it asks for.
struct Recording<'a> {
    inner: &'a dyn Env,
    names: RefCell<Vec<String>>,
}

impl Env for Recording<'_> {
    fn raw(&self, name: &str) -> Option<String> {
        let mut names = self.names.borrow_mut();
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
        self.inner.raw(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::env::MapEnv;
    use std::os::unix::fs::PermissionsExt;

    const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

    /// A home with an AWS config selecting a role, a credentials file, and a cache directory.
    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new(role: &str) -> Files {
            let files = Files {
                dir: tempfile::tempdir().unwrap(),
            };
            fs::create_dir(files.cache()).unwrap();
            files.write_config(role);
            fs::write(
                files.dir.path().join("credentials"),
                "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = s\n",
            )
            .unwrap();
            files
        }

        /// Over [`MEMO_FROM_BYTES`], as a config worth a memo is.
        fn write_config(&self, role: &str) {
            let text = format!(
                "[profile dev]\nrole_arn = arn:aws:iam::1:role/{role}\nsource_profile = base\n{}",
                "# a config worth a memo\n".repeat(200)
            );
            fs::write(self.dir.path().join("config"), text).unwrap();
        }

        fn cache(&self) -> PathBuf {
            self.dir.path().join("cache")
        }

        fn env(&self) -> MapEnv {
            let path = |name: &str| self.dir.path().join(name).to_str().unwrap().to_string();
            let (config, credentials) = (path("config"), path("credentials"));
            MapEnv::new(&[
                ("AWS_CONFIG_FILE", &config),
                ("AWS_SHARED_CREDENTIALS_FILE", &credentials),
                ("AWS_PROFILE", "dev"),
            ])
        }

        fn memo(&self) -> Option<PathBuf> {
            fs::read_dir(self.cache())
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().ends_with(SUFFIX))
        }
    }

    fn target() -> Target {
        Config::default().resolve(HOST).unwrap().unwrap()
    }

    /// As a hit `seconds` from now would resolve it: by then the files have settled.
    fn resolve_later(files: &Files, env: &MapEnv, seconds: u64) -> (Api, CacheKey) {
        let later = SystemTime::now() + Duration::from_secs(seconds);
        resolve_at(&target(), env, &files.cache(), later).unwrap()
    }

    /// What a request that parses the files resolves.
    fn resolved(env: &MapEnv) -> crate::resolve::Resolved {
        let files = crate::resolve::AwsFiles::default();
        crate::resolve::complete(target(), env, &files).unwrap()
    }

    fn parsed(env: &MapEnv) -> CacheKey {
        resolved(env).key
    }

    /// The memo at `path`, if it vouches for the files as they are now.
    fn load_now(path: &Path, env: &MapEnv) -> Option<FileFacts> {
        load(
            path,
            &inputs(&target(), env),
            env,
            &look_at_files(env).unwrap(),
        )
    }

    #[test]
    fn a_memo_gives_the_parsed_key_and_is_used_once_the_files_have_settled() {
        let files = Files::new("a");
        let env = files.env();
        let (memo_api, key) = resolve_later(&files, &env, 10);
        assert_eq!(key, parsed(&env));
        assert_eq!(memo_api, resolved(&env).api);
        let path = files.memo().expect("a memo was written");
        let inputs = inputs(&target(), &env);
        assert!(
            load(&path, &inputs, &env, &look_at_files(&env).unwrap()).is_some(),
            "the memo is not used"
        );
        let (_, again) = resolve_later(&files, &env, 10);
        assert_eq!(again, key);
    }

    #[test]
    fn files_changed_within_the_racy_window_get_no_memo() {
        let files = Files::new("a");
        let env = files.env();
        let (_, key) = resolve(&target(), &env, &files.cache()).unwrap();
        assert_eq!(key, parsed(&env));
        assert!(
            files.memo().is_none(),
            "a memo vouches for files just written"
        );
    }

    #[test]
    fn a_same_size_edit_or_a_rename_over_the_file_is_seen() {
        let files = Files::new("a");
        let env = files.env();
        let before = resolve_later(&files, &env, 10).1;
        let config = files.dir.path().join("config");
        let mtime = fs::metadata(&config).unwrap().modified().unwrap();
        files.write_config("b");
        // As a tool that keeps the modification time would leave it: only the ctime tells.
        fs::File::options()
            .write(true)
            .open(&config)
            .and_then(|f| f.set_modified(mtime))
            .unwrap();
        let after = resolve_later(&files, &env, 10).1;
        assert_ne!(before, after);
        assert_eq!(after, parsed(&env));
        let renamed = files.dir.path().join("config.new");
        fs::write(
            &renamed,
            "[profile dev]\nrole_arn = arn:aws:iam::1:role/c\nsource_profile = base\n",
        )
        .unwrap();
        fs::rename(&renamed, &config).unwrap();
        let replaced = resolve_later(&files, &env, 10).1;
        assert_ne!(replaced, after);
        assert_eq!(replaced, parsed(&env));
    }

    /// A file system whose timestamp tick hid an edit: the file's identity is what the memo
    /// recorded, but it changed within the window after it was looked at.
    #[test]
    fn a_memo_made_within_the_window_of_a_change_vouches_for_nothing() {
        let files = Files::new("a");
        let env = files.env();
        resolve_later(&files, &env, 10);
        let path = files.memo().unwrap();
        let mut memo = read(&path).unwrap();
        memo.facts.source = "source=forged".into();
        let ctime = memo.files[0].1.unwrap().ctime;
        memo.looked_at = ctime + RACY_WINDOW.as_nanos() as i128 - 1;
        store(&files.cache(), &path, &memo).unwrap();
        assert!(load_now(&path, &env).is_none());
        memo.looked_at = ctime + RACY_WINDOW.as_nanos() as i128;
        store(&files.cache(), &path, &memo).unwrap();
        let honoured = load(
            &path,
            &inputs(&target(), &env),
            &env,
            &look_at_files(&env).unwrap(),
        )
        .unwrap();
        assert_eq!(
            honoured.source, "source=forged",
            "the forged memo was the test's own"
        );
    }

    #[test]
    fn whole_second_timestamps_never_settle() {
        let id = |ctime: i128| FileId {
            dev: 1,
            ino: 2,
            size: 3,
            mtime: 0,
            ctime,
        };
        let later = 100 * 1_000_000_000;
        assert!(id(1_000_000_001).settled(later));
        assert!(!id(1_000_000_000).settled(later), "a coarse file system");
        assert!(!id(later - 1).settled(later), "changed just before");
    }

    /// A forged memo (another profile's facts) is written, then spoiled in each way a memo we
    /// did not write looks: edited text, another owner, writable by others, a link.
    #[test]
    fn a_tampered_or_foreign_memo_is_ignored() {
        let files = Files::new("a");
        let env = files.env();
        let key = resolve_later(&files, &env, 10).1;
        let path = files.memo().unwrap();
        let inputs = inputs(&target(), &env);
        let mut forged = read(&path).unwrap();
        forged.facts.chain = vec!["profile=prod".into()];
        let store_forged = || store(&files.cache(), &path, &forged).unwrap();
        store_forged();
        assert!(
            load(&path, &inputs, &env, &look_at_files(&env).unwrap()).is_some(),
            "the forgery is honoured as ours"
        );

        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text.replace("profile=prod", "profile=prud")).unwrap();
        assert!(
            load(&path, &inputs, &env, &look_at_files(&env).unwrap()).is_none(),
            "edited text"
        );

        store_forged();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        assert!(
            load(&path, &inputs, &env, &look_at_files(&env).unwrap()).is_none(),
            "writable by others"
        );

        store_forged();
        let aside = files.dir.path().join("aside.memo");
        fs::rename(&path, &aside).unwrap();
        std::os::unix::fs::symlink(&aside, &path).unwrap();
        assert!(
            load(&path, &inputs, &env, &look_at_files(&env).unwrap()).is_none(),
            "a link"
        );
        fs::remove_file(&path).unwrap();

        if platform::euid() == 0 {
            store_forged();
            std::os::unix::fs::chown(&path, Some(4242), Some(4242)).unwrap();
            assert!(
                load(&path, &inputs, &env, &look_at_files(&env).unwrap()).is_none(),
                "another user's"
            );
            assert_eq!(resolve_later(&files, &env, 10).1, key);
        }
    }

    /// Every variable the parse read is checked, not only those that name the memo.
    #[test]
    fn a_variable_the_parse_read_invalidates_the_memo() {
        let files = Files::new("a");
        let mut env = files.env();
        let before = resolve_later(&files, &env, 10).1;
        env.0.insert("AWS_USE_FIPS_ENDPOINT".into(), "true".into());
        let (memo_target, after) = resolve_later(&files, &env, 10);
        assert!(memo_target.requested.fips);
        assert_ne!(before, after);
        assert_eq!(after, parsed(&env));
    }

    /// Rotated secrets keep the key, so they keep the memo too; and a memo holds no trace of them.
    #[test]
    fn a_memo_records_only_that_a_secret_is_set() {
        let files = Files::new("a");
        let mut env = files.env();
        env.0
            .insert("AWS_SECRET_ACCESS_KEY".into(), "secret-one".into());
        env.0.insert("AWS_ACCESS_KEY_ID".into(), "AKIDENV".into());
        resolve_later(&files, &env, 10);
        let path = files.memo().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let one = identity::sha256_hex("secret-one");
        assert!(
            !text.contains("secret-one") && !text.contains(&one[..32]),
            "{text}"
        );
        env.0
            .insert("AWS_SECRET_ACCESS_KEY".into(), "secret-two".into());
        assert!(load_now(&path, &env).is_some());
    }

    /// Small files (or none) are parsed faster than a memo is checked: no memo.
    #[test]
    fn small_files_are_not_memoised() {
        let files = Files::new("a");
        let env = files.env();
        fs::write(
            files.dir.path().join("config"),
            "[profile dev]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = base\n",
        )
        .unwrap();
        fs::remove_file(files.dir.path().join("credentials")).unwrap();
        assert_eq!(resolve_later(&files, &env, 10).1, parsed(&env));
        assert!(files.memo().is_none());
    }
}
