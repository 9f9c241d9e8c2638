//! Runs a fixture program (`tests/fixtures/*.rs`, built as the example
//! `fixture_<name>`) as a real child process, waits for what it prints, sends
//! it real signals, and reports how it ended.
//!
//! Every wait has a deadline ([`WATCHDOG`] after the spawn): a child that does
//! not end by then is SIGKILLed and the test fails with what it printed. Only
//! our own children are ever signalled, so tests can run in parallel.

// Each test binary uses a different part of this harness.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use std::{fmt, thread};

pub use libc::{SIGABRT, SIGHUP, SIGINT, SIGKILL, SIGTERM, SIGUSR1};

/// No child may live longer than this; a hang fails the test instead of CI.
pub const WATCHDOG: Duration = Duration::from_secs(60);

/// The deadline tests give the runtime with `CLEANUP_TIMEOUT`, to stay fast.
pub const TIMEOUT: &str = "2s";
/// The same, as a duration, for the bounds on how long an end may take.
pub const TIMEOUT_SECS: u64 = 2;
/// A generous margin over the deadline: the machine is shared and noisy.
pub const MARGIN: Duration = Duration::from_secs(6);

/// The cargo profile a fixture is built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// The profile this test binary was built with (`cargo test`'s).
    Current,
    /// `[profile.abort]` of the root Cargo.toml: `panic = "abort"`.
    Abort,
}

/// The path of `fixture_<name>` built with `profile`, building it if needed.
pub fn fixture_path(name: &str, profile: Profile) -> PathBuf {
    example_path(&format!("fixture_{name}"), profile)
}

/// The path of the example `example` built with `profile`, building it if
/// needed.
pub fn example_path(example: &str, profile: Profile) -> PathBuf {
    let dir = profile_dir(profile);
    let path = dir.join("examples").join(example);
    // Always ask cargo, once per test binary: `cargo test --test <name>`
    // builds no example, so one built earlier may be stale. When nothing
    // changed, cargo returns at once.
    let name = dir.file_name().and_then(|name| name.to_str());
    // The directory is named after the profile, but for `dev`.
    let cargo_profile = match name {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("no profile directory in {}", dir.display()),
    };
    build_once(example, cargo_profile);
    assert!(
        path.exists(),
        "built example `{example}` with `--profile {cargo_profile}`, but it is not at {}",
        path.display()
    );
    path
}

/// `target/<profile>`: the test binary lives in `target/<profile>/deps/`.
fn profile_dir(profile: Profile) -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test binary");
    let current = exe.parent().and_then(Path::parent).unwrap_or_else(|| {
        panic!(
            "test binary outside target/<profile>/deps: {}",
            exe.display()
        )
    });
    match profile {
        Profile::Current => current.to_path_buf(),
        Profile::Abort => current
            .parent()
            .expect("the target directory")
            .join("abort"),
    }
}

/// Runs `cargo build --example <example> --profile <profile>` once per test
/// binary, example and profile. The target directory stays the one the
/// outer cargo uses (`CARGO_TARGET_DIR` is inherited).
fn build_once(example: &str, profile: &str) {
    // Held during the build: one at a time, and never the same one twice.
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{example} --profile {profile}");
    if built.contains(&key) {
        return;
    }
    let mut command = Command::new(env!("CARGO"));
    command.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "build",
        "--quiet",
        "--example",
        example,
        "--profile",
        profile,
    ]);
    // The features this test binary was built with: the same build of the
    // library, and the examples that need them exist.
    if cfg!(feature = "tokio") {
        command.args(["--features", "tokio"]);
    }
    if cfg!(feature = "tracing") {
        command.args(["--features", "tracing"]);
    }
    if cfg!(feature = "log") {
        command.args(["--features", "log"]);
    }
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run `cargo build --example {key}`: {err}"));
    assert!(
        output.status.success(),
        "`cargo build --example {key}` failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    built.push(key);
}

/// A program to start: a fixture, its arguments, its environment.
pub struct Spawn {
    command: Command,
    what: String,
}

impl Spawn {
    /// `fixture_<name>` of the current profile.
    pub fn fixture(name: &str) -> Self {
        Self::program(fixture_path(name, Profile::Current), name)
    }

    /// The example `name` (from `examples/`) of the current profile.
    pub fn example(name: &str) -> Self {
        Self::program(example_path(name, Profile::Current), name)
    }

    /// `fixture_<name>` built with `profile`.
    pub fn fixture_with(name: &str, profile: Profile) -> Self {
        Self::program(fixture_path(name, profile), name)
    }

    /// Any program (for `unshare … <fixture>`).
    pub fn program(path: impl AsRef<std::ffi::OsStr>, what: &str) -> Self {
        let mut command = Command::new(path);
        // The runtime reads it: no value from the outer environment may leak in.
        command.env_remove("CLEANUP_TIMEOUT");
        // Panic messages without backtraces, whatever the caller has set.
        command.env("RUST_BACKTRACE", "0");
        Spawn {
            command,
            what: what.to_owned(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.what.push(' ');
        self.what.push_str(&arg.as_ref().to_string_lossy());
        self.command.arg(arg);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.what = format!("{key}={value} {}", self.what);
        self.command.env(key, value);
        self
    }

    /// Starts it as the leader of a new process group, as a shell with job
    /// control would: a signal it sends to its own group stays among it and
    /// its children, never reaching the test runner.
    pub fn own_process_group(mut self) -> Self {
        self.command.process_group(0);
        self
    }

    /// `CLEANUP_TIMEOUT=2s`: keeps tests where something hangs fast.
    pub fn short_timeout(self) -> Self {
        self.env("CLEANUP_TIMEOUT", TIMEOUT)
    }

    pub fn start(mut self) -> Running {
        self.command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self
            .command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start `{}`: {err}", self.what));
        let stdout = lines(child.stdout.take().expect("piped stdout"));
        let stderr = lines(child.stderr.take().expect("piped stderr"));
        Running {
            what: self.what,
            deadline: Instant::now() + WATCHDOG,
            pid: child.id() as libc::pid_t,
            child: Some(child),
            reaped: None,
            stdout,
            stderr,
            first_signal: None,
            stalled: Duration::ZERO,
        }
    }

    /// Starts it and waits for its `ready` line.
    pub fn start_ready(self) -> Running {
        let mut running = self.start();
        running.wait_stdout("ready");
        running
    }

    /// Starts it and waits for it to end on its own (no signal).
    pub fn run(self) -> Ended {
        self.start().finish()
    }
}

/// One output stream, read line by line on its own thread.
struct Stream {
    lines: Receiver<String>,
    seen: Vec<String>,
    /// The reader thread is done: the stream reached its end.
    closed: bool,
}

trait Pipe: Read + Send + 'static {}
impl Pipe for ChildStdout {}
impl Pipe for ChildStderr {}

fn lines(pipe: impl Pipe) -> Stream {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.strip_suffix('\n').unwrap_or(&text);
                    if tx.send(text.to_owned()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    Stream {
        lines: rx,
        seen: Vec::new(),
        closed: false,
    }
}

impl Stream {
    /// Waits for a line matching `wanted` (it may have come already);
    /// `Err` at the end of the stream or at `deadline`.
    fn wait_for(
        &mut self,
        deadline: Instant,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<usize, &'static str> {
        if let Some(index) = self.seen.iter().position(|line| wanted(line)) {
            return Ok(index);
        }
        loop {
            if self.closed {
                return Err("the stream ended");
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let matched = wanted(&line);
                    self.seen.push(line);
                    if matched {
                        return Ok(self.seen.len() - 1);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => self.closed = true,
                Err(RecvTimeoutError::Timeout) => return Err("the watchdog's time ran out"),
            }
        }
    }

    /// Everything left, until the end of the stream or `deadline`.
    fn drain(&mut self, deadline: Instant) {
        while !self.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => self.closed = true,
                Err(RecvTimeoutError::Timeout) => return,
            }
        }
    }
}

/// A child still running (or not yet reaped).
pub struct Running {
    what: String,
    deadline: Instant,
    pid: libc::pid_t,
    child: Option<Child>,
    /// How it ended and when, once reaped.
    reaped: Option<(ExitStatus, Instant)>,
    stdout: Stream,
    stderr: Stream,
    first_signal: Option<Instant>,
    /// How long this harness's own waits overslept (see [`Running::stalled`]).
    stalled: Duration,
}

/// A wait that took longer than it should by more than this was a stall of
/// the harness (a starved thread, or the whole machine paused), not the
/// program's slowness.
pub const STALL: Duration = Duration::from_millis(50);
/// The most a wait is lengthened by the stalls it saw, so that a program
/// that hangs still fails the test.
const STALL_EXTENSION_MAX: Duration = Duration::from_secs(10);

impl Running {
    /// How much time the harness lost while it waited for the end: the sum
    /// of its polls' delays beyond [`STALL`]. When the whole machine
    /// paused, the program lost that time too, and a time the harness
    /// measured across it says as much about the machine as about the
    /// program: a test that judges a deadline by when it saw the end may
    /// allow for it, and a report should name it.
    pub fn stalled(&self) -> Duration {
        self.stalled
    }

    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Waits for this exact line on stdout; fails the test if the program
    /// ends, or the watchdog's time runs out, first.
    #[track_caller]
    pub fn wait_stdout(&mut self, line: &str) {
        if let Err(why) = self
            .stdout
            .wait_for(self.deadline, &|seen: &str| seen == line)
        {
            self.fail(&format!("waiting for `{line}` on stdout: {why}"));
        }
    }

    /// Waits for a stdout line starting with `prefix`, and returns it.
    #[track_caller]
    pub fn wait_stdout_starting(&mut self, prefix: &str) -> String {
        match self
            .stdout
            .wait_for(self.deadline, &|seen: &str| seen.starts_with(prefix))
        {
            Ok(index) => self.stdout.seen[index].clone(),
            Err(why) => self.fail(&format!("waiting for `{prefix}…` on stdout: {why}")),
        }
    }

    /// Waits for a stderr line containing `text`, and returns it.
    #[track_caller]
    pub fn wait_stderr(&mut self, text: &str) -> String {
        match self
            .stderr
            .wait_for(self.deadline, &|seen: &str| seen.contains(text))
        {
            Ok(index) => self.stderr.seen[index].clone(),
            Err(why) => self.fail(&format!("waiting for `{text}` on stderr: {why}")),
        }
    }

    /// Sends `sig` to the child.
    #[track_caller]
    pub fn signal(&mut self, sig: libc::c_int) {
        let pid = self.pid;
        self.signal_pid(pid, sig);
    }

    /// Sends `sig` to `pid`, which must be this child or one of its
    /// descendants (the fixture under `unshare`).
    #[track_caller]
    pub fn signal_pid(&mut self, pid: libc::pid_t, sig: libc::c_int) {
        assert!(pid > 0, "refusing to signal pid {pid}");
        if pid == self.pid && self.reaped.is_some() {
            // Reaped, its pid may belong to anyone now.
            self.fail(&format!(
                "signal {sig} for a program that has already ended"
            ));
        }
        self.first_signal.get_or_insert_with(Instant::now);
        // SAFETY: kill(2) has no memory-safety preconditions. The pid is
        // ours: our unreaped child (so not reused), or, under `unshare`, its
        // child that has just printed a line (so alive).
        let result = unsafe { libc::kill(pid, sig) };
        if result != 0 {
            let err = std::io::Error::last_os_error();
            self.fail(&format!("kill({pid}, {sig}) failed: {err}"));
        }
    }

    /// Whether the child ends within `limit` from now (and before the
    /// watchdog's time runs out). If it does, it is reaped, and [`finish`]
    /// reports how and when it ended.
    ///
    /// [`finish`]: Running::finish
    pub fn ends_within(&mut self, limit: Duration) -> bool {
        let until = (Instant::now() + limit).min(self.deadline);
        self.wait_until(until).is_some()
    }

    /// Waits for the child to end, then for the rest of its output.
    #[track_caller]
    pub fn finish(mut self) -> Ended {
        if self.wait_until(self.deadline).is_none() {
            self.fail("the watchdog's time ran out before the program ended");
        }
        let (status, ended_at) = self.reaped.expect("reaped by `wait_until`");
        // The pipes close when the process is gone; anything it started
        // that still holds them gets a few seconds, not forever.
        let drain_until = ended_at + Duration::from_secs(5);
        self.stdout.drain(drain_until);
        self.stderr.drain(drain_until);
        Ended {
            what: std::mem::take(&mut self.what),
            stdout: std::mem::take(&mut self.stdout.seen),
            stderr: std::mem::take(&mut self.stderr.seen).join("\n"),
            status,
            after_signal: self.first_signal.map(|at| ended_at - at),
            run_time: ended_at - (self.deadline - WATCHDOG),
        }
    }

    /// Reaps the child if it ends before `until`.
    fn wait_until(&mut self, until: Instant) -> Option<ExitStatus> {
        if let Some((status, _)) = self.reaped {
            return Some(status);
        }
        let child = self.child.as_mut()?;
        const POLL: Duration = Duration::from_millis(2);
        let (mut until, mut extended) = (until, Duration::ZERO);
        let mut last = Instant::now();
        let (stalled, deadline) = (&mut self.stalled, self.deadline);
        // The time the harness lost since `last` beyond `expected`: a
        // stall, counted, after which the program, which may have stood
        // still too, gets that time back (bounded).
        let mut lost = |expected: Duration, until: &mut Instant| {
            let now = Instant::now();
            let over = now.saturating_duration_since(last).saturating_sub(expected);
            last = now;
            if over > STALL {
                *stalled += over;
                let more = over.min(STALL_EXTENSION_MAX.saturating_sub(extended));
                extended += more;
                *until = (*until + more).min(deadline);
            }
        };
        loop {
            let status = child.try_wait();
            lost(Duration::ZERO, &mut until);
            match status {
                Ok(Some(status)) => {
                    self.child = None;
                    self.reaped = Some((status, Instant::now()));
                    return Some(status);
                }
                Ok(None) if Instant::now() >= until => return None,
                Ok(None) => {
                    thread::sleep(POLL);
                    lost(POLL, &mut until);
                }
                Err(err) => panic!("waiting for `{}`: {err}", self.what),
            }
        }
    }

    /// Kills the child, reaps it, and fails the test with what it printed.
    #[track_caller]
    fn fail(&mut self, why: &str) -> ! {
        let status = self.kill_and_reap();
        let until = Instant::now() + Duration::from_secs(2);
        self.stdout.drain(until);
        self.stderr.drain(until);
        let status = status
            .or(self.reaped.map(|(status, _)| status))
            .map_or("already reaped".to_owned(), |s| describe(&s));
        panic!(
            "`{}`: {why}\n(child killed by the harness; {status})\n\
             --- stdout ---\n{}\n--- stderr ---\n{}\n---",
            self.what,
            self.stdout.seen.join("\n"),
            self.stderr.seen.join("\n"),
        );
    }

    fn kill_and_reap(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Running {
    /// A test that failed half-way leaves no process behind.
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

/// How a child ended, and everything it printed.
pub struct Ended {
    what: String,
    pub stdout: Vec<String>,
    pub stderr: String,
    pub status: ExitStatus,
    /// From the first signal the harness sent to the moment the child was reaped.
    pub after_signal: Option<Duration>,
    /// From the start to the moment the child was reaped.
    pub run_time: Duration,
}

fn describe(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}{}", signal_name(sig)),
        _ => format!("{status:?}"),
    }
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        SIGHUP => " (SIGHUP)",
        SIGINT => " (SIGINT)",
        SIGTERM => " (SIGTERM)",
        SIGKILL => " (SIGKILL)",
        SIGABRT => " (SIGABRT)",
        SIGUSR1 => " (SIGUSR1)",
        _ => "",
    }
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "`{}` {}", self.what, describe(&self.status))?;
        if let Some(after) = self.after_signal {
            writeln!(f, "{after:?} after the first signal")?;
        }
        writeln!(f, "--- stdout ---")?;
        for line in &self.stdout {
            writeln!(f, "{line}")?;
        }
        writeln!(f, "--- stderr ---\n{}\n---", self.stderr)
    }
}

impl Ended {
    /// How many stdout lines are exactly `line`.
    pub fn count(&self, line: &str) -> usize {
        self.stdout.iter().filter(|seen| *seen == line).count()
    }

    /// The number after `prefix` on the first stdout line that starts so.
    #[track_caller]
    pub fn number(&self, prefix: &str) -> u128 {
        self.stdout
            .iter()
            .find_map(|line| line.strip_prefix(prefix))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no `{prefix}<n>` line\n{self}"))
    }

    /// Killed by `sig` (WIFSIGNALED, WTERMSIG == sig).
    #[track_caller]
    pub fn assert_killed_by(&self, sig: libc::c_int) -> &Self {
        assert_eq!(
            self.status.signal(),
            Some(sig),
            "expected death by signal {sig}{}\n{self}",
            signal_name(sig)
        );
        self
    }

    /// Exited (WIFEXITED) with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(code),
            "expected exit code {code}\n{self}"
        );
        self
    }

    /// Each of these lines printed exactly once.
    #[track_caller]
    pub fn assert_once(&self, lines: &[&str]) -> &Self {
        for line in lines {
            assert_eq!(
                self.count(line),
                1,
                "expected `{line}` exactly once on stdout\n{self}"
            );
        }
        self
    }

    /// None of these lines printed.
    #[track_caller]
    pub fn assert_absent(&self, lines: &[&str]) -> &Self {
        for line in lines {
            assert_eq!(
                self.count(line),
                0,
                "expected no `{line}` on stdout\n{self}"
            );
        }
        self
    }

    /// These lines printed exactly once each, in this order (other lines
    /// may come between them).
    #[track_caller]
    pub fn assert_once_in_order(&self, lines: &[&str]) -> &Self {
        self.assert_once(lines);
        let positions: Vec<usize> = lines
            .iter()
            .map(|line| self.stdout.iter().position(|seen| seen == line).unwrap())
            .collect();
        assert!(
            positions.windows(2).all(|pair| pair[0] < pair[1]),
            "expected this order on stdout: {lines:?}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn assert_stderr_contains(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "expected `{text}` on stderr\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn assert_stderr_lacks(&self, text: &str) -> &Self {
        assert!(
            !self.stderr.contains(text),
            "expected no `{text}` on stderr\n{self}"
        );
        self
    }

    /// Asserts that one stderr line contains every one of `parts` (say, a
    /// cleanup's name and what became of it).
    #[track_caller]
    pub fn assert_stderr_line(&self, parts: &[&str]) -> &Self {
        assert!(
            self.stderr
                .lines()
                .any(|line| parts.iter().all(|part| line.contains(part))),
            "expected a stderr line with all of {parts:?}\n{self}"
        );
        self
    }

    /// Ended within `limit` of the first signal.
    #[track_caller]
    pub fn assert_ended_within(&self, limit: Duration) -> &Self {
        let after = self
            .after_signal
            .expect("no signal was sent, so no time to measure");
        assert!(
            after < limit,
            "expected the end within {limit:?} of the first signal, took {after:?}\n{self}"
        );
        self
    }
}

/// The 1-based line of `tests/fixtures/<file>` holding `marker`, to check
/// that the log names a cleanup by where it was made.
pub fn fixture_line(file: &str, marker: &str) -> usize {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file);
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let mut found = source
        .lines()
        .enumerate()
        .filter(|(_, line)| line.contains(marker));
    let (index, _) = found
        .next()
        .unwrap_or_else(|| panic!("no `{marker}` in {}", path.display()));
    assert!(
        found.next().is_none(),
        "`{marker}` appears more than once in {}",
        path.display()
    );
    index + 1
}

/// What `/proc/<pid>/stat` says of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// `R`, `S`, `Z`…
    pub state: char,
    pub ppid: libc::pid_t,
    /// In clock ticks since boot: with the pid, it names one process even
    /// after the pid has been reused.
    pub start_time: u64,
}

/// `/proc/<pid>/stat`, or `None` when there is no such process (any more).
pub fn proc_stat(pid: libc::pid_t) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        // Field 22 of stat(5); `fields` starts at field 3.
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// One process, named by its pid and its start time: a pid reused later by
/// another process is not mistaken for it.
#[derive(Clone, Copy, Debug)]
pub struct Process {
    pub pid: libc::pid_t,
    pub what: &'static str,
    pub start_time: u64,
}

impl Process {
    /// The process `pid`, which must exist now.
    #[track_caller]
    pub fn of(pid: libc::pid_t, what: &'static str) -> Process {
        let stat = proc_stat(pid).unwrap_or_else(|| panic!("no {what} {pid} in /proc"));
        Process {
            pid,
            what,
            start_time: stat.start_time,
        }
    }

    /// What `/proc` says of it, if it still exists, reaped or not.
    pub fn stat(&self) -> Option<ProcStat> {
        proc_stat(self.pid).filter(|stat| stat.start_time == self.start_time)
    }

    /// Dead: gone, or a zombie that whoever adopted it reaps in its time.
    pub fn dead(&self) -> bool {
        !matches!(self.stat(), Some(stat) if stat.state != 'Z')
    }
}

/// The children of `pid`, from `/proc/<pid>/task/*/children` (every thread's).
pub fn proc_children(pid: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

impl Spawn {
    /// Starts it in a session of its own (`setsid`, as Python's
    /// `start_new_session`): its own process group, and no controlling
    /// terminal.
    pub fn new_session(mut self) -> Self {
        // SAFETY: the closure runs in the forked child before exec and
        // calls only setsid(2), which is async-signal-safe.
        unsafe {
            self.command.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        };
        self
    }
}

/// Each thread of `pid` with its signal lines from `/proc` (`SigPnd`,
/// `ShdPnd`, `SigBlk`, `SigIgn`, `SigCgt`) and its state: what a program
/// that never acted on a signal was doing with it.
pub fn signal_state(pid: libc::pid_t) -> String {
    const KEYS: [&str; 7] = [
        "Name:", "State:", "SigPnd:", "ShdPnd:", "SigBlk:", "SigIgn:", "SigCgt:",
    ];
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return format!("no /proc/{pid}/task");
    };
    let mut out = String::new();
    for task in tasks.flatten() {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let wchan = std::fs::read_to_string(task.path().join("wchan")).unwrap_or_default();
        // `SigBlk:\t0000000000004002` as `SigBlk: 0000000000004002`.
        let fields: Vec<String> = status
            .lines()
            .filter(|line| KEYS.iter().any(|key| line.starts_with(key)))
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        out += &format!(
            "  task {}: {}, wchan {wchan}\n",
            task.file_name().to_string_lossy(),
            fields.join(", ")
        );
    }
    out
}

impl Running {
    /// Waits up to `limit` for this exact line on stdout: `false` if the
    /// program ends, or the time runs out, first (a program a signal may
    /// kill before it prints anything).
    pub fn try_wait_stdout(&mut self, line: &str, limit: Duration) -> bool {
        let until = (Instant::now() + limit).min(self.deadline);
        self.stdout
            .wait_for(until, &|seen: &str| seen == line)
            .is_ok()
    }
}

/// Now, in µs of `CLOCK_MONOTONIC`: one clock with the fixtures that stamp
/// their records with it.
pub fn monotonic_us() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) writes the `timespec` it is given, which
    // lives for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000
}

impl Spawn {
    /// Starts it with the default actions for SIGINT, SIGTERM and SIGHUP,
    /// whatever the test inherited (a shell without job control starts its
    /// background jobs with SIGINT ignored): a signal that comes before the
    /// program's handlers are in place then kills it, as it would a program
    /// started from a terminal.
    pub fn default_signal_actions(mut self) -> Self {
        // SAFETY: the closure runs between fork and exec and calls only
        // signal(2), which is async-signal-safe.
        unsafe {
            self.command.pre_exec(|| {
                for sig in [SIGINT, SIGTERM, SIGHUP] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        self
    }
}

/// Whether this process ignores SIGINT, as a background job of a
/// non-interactive shell does (`cargo test &`): its children start with
/// SIGINT ignored, and one sent before they install a handler is discarded
/// (see [`Spawn::default_signal_actions`]).
pub fn sigint_ignored() -> bool {
    // SAFETY: sigaction(2) reading the current action into a zeroed local.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        libc::sigaction(SIGINT, std::ptr::null(), &mut action) == 0
            && action.sa_sigaction == libc::SIG_IGN
    }
}
