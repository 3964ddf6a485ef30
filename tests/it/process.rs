//! The one way the tests run a program to completion: in its own process group, stdin fed from
//! a thread (or none), stdout and stderr into unnamed temp files, and a timeout that kills the
//! whole group and fails with whatever the program printed.
//!
//! Files rather than pipes: a grandchild that keeps the output open (a daemon a script started,
//! a `credential_process` the helper left behind) can then block nothing, and the output is
//! still complete when the program exits.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What happens to processes left in the group after the program exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leftovers {
    /// Left alone: whether the helper cleans up after itself is under test.
    Keep,
    /// Killed: a script's strays must not outlive it (the rig's scripts).
    Kill,
}

/// A finished run.
#[derive(Debug)]
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// From spawn to exit.
    pub elapsed: Duration,
}

impl Ran {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub fn into_output(self) -> Output {
        Output {
            status: self.status,
            stdout: self.stdout,
            stderr: self.stderr,
        }
    }
}

/// Runs `cmd` (see the module's doc) with `stdin` written to it, or `/dev/null` for `None`.
/// A failure to start, or a timeout, is an error naming the command, never a panic, so that
/// `Drop` implementations can use it while a panic unwinds.
pub fn run(
    mut cmd: Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
    leftovers: Leftovers,
) -> Result<Ran, String> {
    let what = format!("{cmd:?}");
    let files = tempfile::tempfile().and_then(|out| Ok((out, tempfile::tempfile()?)));
    let (mut out, mut err) = files.map_err(|e| format!("output files for {what}: {e}"))?;
    let clones = out.try_clone().and_then(|o| Ok((o, err.try_clone()?)));
    let (out_w, err_w) = clones.map_err(|e| format!("output files for {what}: {e}"))?;
    cmd.process_group(0)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(out_w)
        .stderr(err_w);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot spawn {what}: {e}"))?;
    let group = child.id() as libc::pid_t;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let input = input.to_vec();
        // On a thread: a program that never reads its stdin must not block us.
        thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let mut pause = Duration::from_micros(200);
    let status = loop {
        let waited = child.try_wait();
        if let Ok(Some(status)) = waited {
            break status;
        }
        let why = match waited {
            Err(e) => format!("waiting for it failed ({e})"),
            _ if started.elapsed() >= timeout => format!("timed out after {timeout:?}"),
            _ => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(10));
                continue;
            }
        };
        kill_group(group);
        let _ = child.wait();
        return Err(format!(
            "{why} (process group killed): {what}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&read_all(&mut out)),
            String::from_utf8_lossy(&read_all(&mut err))
        ));
    };
    let elapsed = started.elapsed();
    if leftovers == Leftovers::Kill {
        kill_group(group);
    }
    Ok(Ran {
        status,
        stdout: read_all(&mut out),
        stderr: read_all(&mut err),
        elapsed,
    })
}

fn kill_group(group: libc::pid_t) {
    // SAFETY: kill(2) on the process group `run` created; ESRCH when it is already empty.
    unsafe { libc::kill(-group, libc::SIGKILL) };
}

fn read_all(file: &mut File) -> Vec<u8> {
    let mut buf = Vec::new();
    let _ = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut buf));
    buf
}
