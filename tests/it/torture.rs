//! Concurrency torture: many helper processes `get` over 8 registries whose tokens live a few
//! seconds, so refreshes race with reads, while a killer thread SIGKILLs random helpers mid-run.
//!
//! Afterwards:
//! - every `get` that was not killed printed exactly the right credential for its host (each
//!   registry signs with its own access key id, which the emulator maps to its own account, so
//!   each registry has its own password and a mix-up shows);
//! - every cache file parses as the documented schema (corrupt files: 0);
//! - the API calls stay within the bound of refresh windows (see [`refresh_windows`]);
//! - temp files that killed writers left behind are swept by a later write once they are over
//!   60 s old, while a young one (a live writer's) is left alone.
//!
//! `torture_ci` is the CI size (16 workers x 40 gets, ~15 s). `scripts/torture` runs
//! `torture_full` (64 x 160 = 10 240 gets by default; `TORTURE_*` variables change it) and its
//! figures are the ones quoted in the closing note.

use crate::common::*;
use docker_credential_ecr::testing::cache::{Entry, SCHEMA};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-south-1",
    "ap-northeast-1",
    "sa-east-1",
    "ca-central-1",
];

/// A helper still running after this long is hung: the watchdog kills it and the run fails.
const HUNG: Duration = Duration::from_secs(20);

#[derive(Clone, Debug)]
struct Plan {
    workers: usize,
    gets_per_worker: usize,
    /// Token lifetime the emulator gives (seconds).
    ttl_secs: u64,
    /// Mean pause between one worker's gets (uniform in 0..2x).
    pace_ms: u64,
    /// Mean pause between kills (uniform in 0..2x).
    kill_every_ms: u64,
    /// The whole run must end by then.
    deadline: Duration,
}

impl Plan {
    fn from_env(default: Plan) -> Plan {
        let var = |name: &str, d: u64| -> u64 {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        Plan {
            workers: var("TORTURE_PROCS", default.workers as u64) as usize,
            gets_per_worker: var("TORTURE_GETS", default.gets_per_worker as u64) as usize,
            ttl_secs: var("TORTURE_TTL", default.ttl_secs),
            pace_ms: var("TORTURE_PACE_MS", default.pace_ms),
            kill_every_ms: var("TORTURE_KILL_MS", default.kill_every_ms),
            deadline: Duration::from_secs(var("TORTURE_DEADLINE", default.deadline.as_secs())),
        }
    }
}

struct Registry {
    akid: String,
    host: String,
    password: String,
}

/// xorshift64*: reproducible choices without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One worker's current helper, visible to the killer. Reaping happens only under the lock, so
/// the killer can never signal a recycled pid.
#[derive(Default)]
struct Slot {
    child: Option<(Child, Instant)>,
    hung: bool,
}

struct Run {
    registry: usize,
    input: String,
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    hung: bool,
}

#[derive(Debug, Default)]
struct Figures {
    runs: usize,
    completed: usize,
    kills: usize,
    kills_mid_fetch: usize,
    failed: usize,
    wrong_credentials: usize,
    panics: usize,
    hung: usize,
    uncached_fetches: usize,
    api_calls: u32,
    refresh_windows: u64,
    call_bound: u64,
    windows_lower: u64,
    cache_files: usize,
    corrupt_files: usize,
    lock_files: usize,
    temp_files_left: usize,
    temp_files_after_sweep: usize,
}

/// The most refreshes the run may write: the API-call bound is this plus one per refresh that
/// was not written. A token issued at `i` expires at `i + ttl` and is fresh
/// until `expires - margin`, where the margin is a quarter of the lifetime as the helper saw it
/// (`expires - fetched_at`, at most `ttl`), so at least `0.75 ttl` after issue. A refresh is
/// made only by the lock holder after it re-read the entry and found no fresh token, and every
/// refresh is written before the lock is released; so successive *written* refreshes of one
/// registry are at least `0.75 ttl` apart, and over a run of `D` there are at most
/// `floor(D / 0.75 ttl) + 1` of them per registry. A refresh that is not written is one whose
/// process was killed between logging "fetching a token" and the rename, or one that fell back
/// to an uncached fetch or failed to write (logged; counted, and 0 in practice): each adds at
/// most one call.
/// 5 ms per window absorb the millisecond rounding of expiry times.
fn refresh_windows(registries: usize, duration: Duration, ttl_secs: u64) -> u64 {
    let window_ms = ttl_secs * 750 - 5;
    let per_registry = duration.as_millis() as u64 / window_ms + 1;
    per_registry * registries as u64
}

fn spawn_get(sb: &Sandbox, reg: &Registry) -> Child {
    sb.cmd(["get"])
        .env("AWS_ACCESS_KEY_ID", &reg.akid)
        .env(ENV_LOG, "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the helper")
}

fn worker(
    id: usize,
    plan: &Plan,
    sb: &Sandbox,
    registries: &[Registry],
    slot: &Mutex<Slot>,
    stop: &AtomicBool,
) -> Vec<Run> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1).wrapping_mul(0xdead_beef));
    let mut runs = Vec::new();
    for _ in 0..plan.gets_per_worker {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let r = rng.below(registries.len() as u64) as usize;
        let reg = &registries[r];
        let input = match rng.below(3) {
            0 => reg.host.clone(),
            1 => format!("{}:443", reg.host),
            _ => format!("https://{}/v2/", reg.host),
        };
        let mut child = spawn_get(sb, reg);
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        slot.lock().unwrap().child = Some((child, Instant::now()));
        // The helper may be killed before it reads: a broken pipe is expected then.
        let _ = stdin.write_all(input.as_bytes());
        drop(stdin);
        let mut out = Vec::new();
        let mut err = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        let _ = stderr.read_to_end(&mut err);
        let (status, hung) = {
            let mut s = slot.lock().unwrap();
            let (mut child, _) = s.child.take().unwrap();
            let hung = std::mem::take(&mut s.hung);
            (child.wait().unwrap(), hung)
        };
        runs.push(Run {
            registry: r,
            input,
            status,
            stdout: out,
            stderr: err,
            hung,
        });
        let pause = rng.below(2 * plan.pace_ms + 1);
        thread::sleep(Duration::from_millis(pause));
    }
    runs
}

/// SIGKILLs a random running helper every so often; kills any helper that runs too long.
fn killer(plan: &Plan, slots: &[Arc<Mutex<Slot>>], done: &AtomicBool) {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    while !done.load(Ordering::Relaxed) {
        thread::sleep(Duration::from_millis(rng.below(2 * plan.kill_every_ms + 1)));
        let busy: Vec<usize> = (0..slots.len())
            .filter(|&i| slots[i].lock().unwrap().child.is_some())
            .collect();
        if !busy.is_empty() {
            let pick = busy[rng.below(busy.len() as u64) as usize];
            if let Some((child, _)) = slots[pick].lock().unwrap().child.as_mut() {
                // std never signals a child it has reaped, and reaping happens under this lock.
                let _ = child.kill();
            }
        }
        for slot in slots {
            let mut s = slot.lock().unwrap();
            if let Some((child, started)) = s.child.as_mut()
                && started.elapsed() > HUNG
            {
                let _ = child.kill();
                s.hung = true;
            }
        }
    }
}

fn files_with(dir: &Path, pred: impl Fn(&str) -> bool) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_str().is_some_and(&pred))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

fn set_age(path: &Path, age: Duration) {
    let when = SystemTime::now() - age;
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(when))
        .unwrap_or_else(|e| panic!("backdate {}: {e}", path.display()));
}

fn torture(plan: Plan) -> Figures {
    let emulator = Emulator::shared();
    let sb = Sandbox::new();
    let registries: Vec<Registry> = REGIONS
        .iter()
        .enumerate()
        .map(|(i, region)| {
            let akid = unique_akid();
            let account = format!("{:012}", 100_000_000_000u64 + i as u64 * 1_111);
            emulator.set_account(&akid, &account);
            emulator.set_ttl(&akid, plan.ttl_secs);
            Registry {
                akid,
                host: private_host(&account, region),
                password: private_password(&account),
            }
        })
        .collect();

    let slots: Vec<Arc<Mutex<Slot>>> = (0..plan.workers)
        .map(|_| Arc::new(Mutex::new(Slot::default())))
        .collect();
    let stop = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let runs: Vec<Run> = thread::scope(|s| {
        let killer_thread = s.spawn(|| killer(&plan, &slots, &done));
        let handles: Vec<_> = (0..plan.workers)
            .map(|id| {
                let (plan, sb, registries, slot, stop) =
                    (&plan, &sb, &registries, &slots[id], &stop);
                s.spawn(move || worker(id, plan, sb, registries, slot, stop))
            })
            .collect();
        let deadline_watch = s.spawn(|| {
            while started.elapsed() < plan.deadline && !done.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(50));
            }
            stop.store(true, Ordering::Relaxed);
        });
        let runs = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        done.store(true, Ordering::Relaxed);
        killer_thread.join().unwrap();
        deadline_watch.join().unwrap();
        runs
    });
    let duration = started.elapsed();

    let mut f = Figures {
        runs: runs.len(),
        ..Figures::default()
    };
    let mut failures = Vec::new();
    for run in &runs {
        let stderr = String::from_utf8_lossy(&run.stderr);
        if stderr.contains("internal error") || stderr.contains("panicked") {
            f.panics += 1;
            failures.push(format!("panic: {stderr}"));
        }
        if run.hung {
            f.hung += 1;
            failures.push(format!("hung: {}", run.input));
            continue;
        }
        if run.status.signal() == Some(libc::SIGKILL) {
            f.kills += 1;
            if stderr.contains("fetching a token") || stderr.contains("fetching uncached") {
                f.kills_mid_fetch += 1;
            }
            continue;
        }
        // A fetch that fell back to uncached, or whose write failed: not a window's refresh.
        if stderr.contains("fetching uncached") || stderr.contains("token not cached") {
            f.uncached_fetches += 1;
        }
        if !run.status.success() {
            f.failed += 1;
            failures.push(format!(
                "{} failed ({}): {}{stderr}",
                run.input,
                run.status,
                String::from_utf8_lossy(&run.stdout)
            ));
            continue;
        }
        f.completed += 1;
        let want = &registries[run.registry];
        let ok = serde_json::from_slice::<serde_json::Value>(&run.stdout).is_ok_and(|v| {
            v["ServerURL"] == run.input.as_str()
                && v["Username"] == "AWS"
                && v["Secret"] == want.password.as_str()
        }) && run.stdout.ends_with(b"}\n")
            && run.stdout.iter().filter(|&&b| b == b'\n').count() == 1;
        if !ok {
            f.wrong_credentials += 1;
            failures.push(format!(
                "wrong answer for {}: {}",
                run.input,
                String::from_utf8_lossy(&run.stdout)
            ));
        }
    }

    let per_registry: BTreeMap<&str, u32> = registries
        .iter()
        .map(|r| (r.host.as_str(), emulator.calls(&r.akid).0))
        .collect();
    f.api_calls = per_registry.values().sum();
    f.refresh_windows = refresh_windows(registries.len(), duration, plan.ttl_secs);
    f.call_bound = f.refresh_windows + (f.kills_mid_fetch + f.uncached_fetches) as u64;
    // The fewest calls continuous demand needs: one per full token lifetime.
    f.windows_lower = registries.len() as u64 * (duration.as_secs() / plan.ttl_secs).max(1);

    let dir = sb.helper_cache_dir();
    let entries = files_with(&dir, |n| n.ends_with(".json"));
    f.cache_files = entries.len();
    let hosts: Vec<&str> = registries.iter().map(|r| r.host.as_str()).collect();
    for path in &entries {
        let parsed = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Entry>(&b).ok());
        let good = parsed.is_some_and(|e| {
            e.schema == SCHEMA
                && e.hosts.iter().all(|h| hosts.contains(&h.as_str()))
                && !e.hosts.is_empty()
                && e.failure.is_none()
                && e.token.is_some_and(|t| t.username == "AWS")
        });
        if !good {
            f.corrupt_files += 1;
            failures.push(format!("corrupt cache file {}", path.display()));
        }
    }
    f.lock_files = files_with(&dir, |n| n.ends_with(".lock")).len();
    let temps = files_with(&dir, |n| n.starts_with('.') && n.ends_with(".tmp"));
    f.temp_files_left = temps.len();

    // The sweep: plant one stale and one young temp file beside whatever the kills left, age
    // the killed writers' ones and the sweep stamp, then make one write happen (a new identity
    // misses). Stale ones must go, the young one (a live writer's) must stay.
    let id = "0123456789abcdef0123456789abcdef";
    let stale = dir.join(format!(".{id}.999999.1.tmp"));
    let young = dir.join(format!(".{id}.999999.2.tmp"));
    std::fs::write(&stale, b"{\"schema\":").unwrap();
    std::fs::write(&young, b"{\"schema\":").unwrap();
    for t in temps.iter().chain([&stale]) {
        set_age(t, Duration::from_secs(61));
    }
    let stamp = dir.join("prune.stamp");
    if stamp.exists() {
        set_age(&stamp, Duration::from_secs(3600));
    }
    let mut newcomer = Sandbox::new();
    newcomer.env(ENV_CACHE_DIR, sb.cache_root());
    newcomer.get_ok(&registries[0].host);
    let left = files_with(&dir, |n| n.starts_with('.') && n.ends_with(".tmp"));
    f.temp_files_after_sweep = left.iter().filter(|p| **p != young).count();
    assert!(young.exists(), "the sweep removed a young temp file");
    std::fs::remove_file(&young).unwrap();

    println!(
        "torture: {} workers x {} gets over {} registries, token ttl {} s, {:.1} s",
        plan.workers,
        plan.gets_per_worker,
        registries.len(),
        plan.ttl_secs,
        duration.as_secs_f64()
    );
    println!("  runs                      {}", f.runs);
    println!("  completed gets            {}", f.completed);
    println!(
        "  kills (SIGKILL)           {} ({} mid-fetch)",
        f.kills, f.kills_mid_fetch
    );
    println!(
        "  API calls                 {} (bound {} = {} refresh windows + {} refreshes killed mid-fetch or left unwritten; one per full token lifetime would be {})",
        f.api_calls,
        f.call_bound,
        f.refresh_windows,
        f.kills_mid_fetch + f.uncached_fetches,
        f.windows_lower
    );
    for (host, calls) in &per_registry {
        println!("    {host:<50} {calls}");
    }
    println!("  unwritten refreshes       {}", f.uncached_fetches);
    println!("  failed gets               {}", f.failed);
    println!("  wrong credentials printed {}", f.wrong_credentials);
    println!("  panics / hung             {} / {}", f.panics, f.hung);
    println!(
        "  cache files               {} ({} corrupt), {} lock files",
        f.cache_files, f.corrupt_files, f.lock_files
    );
    println!(
        "  temp files left by kills  {} (after a later write's sweep: {})",
        f.temp_files_left, f.temp_files_after_sweep
    );

    assert!(
        failures.is_empty(),
        "{} problems, first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        f.runs,
        plan.workers * plan.gets_per_worker,
        "hit the deadline"
    );
    assert!(f.kills > 0, "the killer killed nothing");
    assert!(f.completed > f.runs / 2, "too few completed gets: {f:?}");
    assert!(
        u64::from(f.api_calls) <= f.call_bound,
        "{} API calls exceed the bound of {}",
        f.api_calls,
        f.call_bound
    );
    assert!(f.api_calls >= registries.len() as u32);
    assert_eq!(f.corrupt_files, 0);
    assert_eq!(
        f.temp_files_after_sweep, 0,
        "stale temp files survived a sweep"
    );
    f
}

#[test]
fn torture_ci() {
    torture(Plan {
        workers: 16,
        gets_per_worker: 40,
        ttl_secs: 3,
        pace_ms: 250,
        kill_every_ms: 60,
        deadline: Duration::from_secs(60),
    });
}

/// The full size: `scripts/torture` (or `cargo test --release --test torture -- --ignored`).
#[test]
#[ignore = "full size, 20-60 s on 2 cores: scripts/torture"]
fn torture_full() {
    torture(Plan::from_env(Plan {
        workers: 64,
        gets_per_worker: 160,
        ttl_secs: 3,
        pace_ms: 60,
        kill_every_ms: 15,
        deadline: Duration::from_secs(300),
    }));
}
