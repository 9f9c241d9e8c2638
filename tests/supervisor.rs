//! examples/supervisor, run as a user runs it: a supervisor whose HTTP server
//! is a child process in its own process group, and a build in the main loop.
//! A signal to the supervisor lets the build finish (the server keeps
//! answering meanwhile), then the runtime forwards the signal to the child,
//! which drains and dies by it, and the supervisor dies by it too.
//!
//! Only the supervisor is signalled by the test; the HTTP child hears of it
//! from the runtime, or it would not.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Steps per build, and the time each takes.
const STEPS: u64 = 6;
const STEP_MS: u64 = 300;

/// The supervisor, started and ready, and its HTTP child.
struct Started {
    supervisor: Running,
    child: HttpChild,
    addr: SocketAddr,
}

fn start() -> Started {
    let mut supervisor = Spawn::example("supervisor")
        .arg(STEPS.to_string())
        .arg(STEP_MS.to_string())
        .start();
    let line = supervisor.wait_stdout_starting("supervisor: http child pid ");
    let child = HttpChild::from_line(&line);
    let line = supervisor.wait_stdout_starting("http: listening on ");
    let addr: SocketAddr = line["http: listening on ".len()..]
        .parse()
        .unwrap_or_else(|err| panic!("`{line}`: not an address: {err}"));
    assert_eq!(child.port, addr.port(), "the port the supervisor announced");
    supervisor.wait_stdout_starting("supervisor ready");
    Started {
        supervisor,
        child,
        addr,
    }
}

/// `GET /`: the status line and the body, or why it failed.
fn get(addr: SocketAddr) -> Result<(String, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|err| format!("connect to {addr}: {err}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|err| err.to_string())?;
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|err| format!("send the request: {err}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|err| format!("read the response: {err}"))?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP response: {response:?}"))?;
    let status = head.lines().next().unwrap_or_default().to_owned();
    Ok((status, body.to_owned()))
}

/// Asserts that the HTTP child answers `GET /` with 200 and its greeting.
#[track_caller]
fn assert_answers(started: &Started, when: &str) {
    let (status, body) = get(started.addr)
        .unwrap_or_else(|why| panic!("the http child did not answer {when}: {why}"));
    assert_eq!(status, "HTTP/1.1 200 OK", "{when}");
    assert_eq!(
        body,
        format!("hello from the http child (pid {})\n", started.child.pid),
        "{when}"
    );
}

/// The supervisor's HTTP child, as the test knows it: its pid, its port, and
/// when it started (so that a reused pid is not taken for it). Should a test
/// fail half-way, the harness SIGKILLs the supervisor, which cannot pass that
/// on: this kills the child too, if it is still running.
struct HttpChild {
    pid: libc::pid_t,
    port: u16,
    start_time: String,
}

impl HttpChild {
    /// From `supervisor: http child pid N on http://127.0.0.1:PORT/`.
    fn from_line(line: &str) -> Self {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(pid), Some(url)) = (words.get(4), words.get(6)) else {
            panic!("unexpected line: `{line}`");
        };
        let pid = pid
            .parse()
            .unwrap_or_else(|err| panic!("`{line}`: no pid: {err}"));
        let port = url
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("`{line}`: no port"));
        let stat = stat(pid).unwrap_or_else(|| panic!("no /proc/{pid}/stat: `{line}`"));
        let start_time = stat[START_TIME].clone();
        HttpChild {
            pid,
            port,
            start_time,
        }
    }

    /// Still there, running or a zombie not yet reaped.
    fn alive(&self) -> bool {
        stat(self.pid).is_some_and(|stat| stat[START_TIME] == self.start_time)
    }

    /// Its process group.
    fn process_group(&self) -> libc::pid_t {
        let stat = stat(self.pid).expect("the http child's /proc/<pid>/stat");
        stat[PROCESS_GROUP].parse().expect("a process group")
    }

    /// Waits a bounded time for the child to be gone (ended and reaped).
    fn gone_within(&self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while self.alive() {
            if Instant::now() >= until {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

impl Drop for HttpChild {
    fn drop(&mut self) {
        if self.alive() {
            // SAFETY: kill(2) has no memory-safety preconditions; the pid is
            // our child's child, checked just above by its start time.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

/// Indexes into [`stat`]'s fields (proc(5) numbers them from 1, with the
/// pid and the command name first).
const PROCESS_GROUP: usize = 2;
const START_TIME: usize = 19;

/// `/proc/<pid>/stat`, from the state field on (the command name, between
/// parentheses, may hold spaces), or `None` once the process is reaped.
fn stat(pid: libc::pid_t) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}

/// Signals the supervisor in the middle of build 1 and checks the whole
/// story: the signal is forwarded to the child at once and the child drains
/// while the build finishes, no new build starts, the child is gone, and
/// both end by that signal.
fn signal_mid_build(sig: libc::c_int, name: &str) {
    let mut started = start();
    assert_eq!(
        started.child.process_group(),
        started.child.pid,
        "the http child leads its own process group"
    );
    assert_answers(&started, "while the supervisor runs");

    started
        .supervisor
        .wait_stdout(&format!("build 1: step 2/{STEPS}"));
    started.supervisor.signal(sig);
    let Started {
        supervisor,
        child,
        addr: _,
    } = started;
    let ended = supervisor.finish();
    ended
        .assert_killed_by(sig)
        .assert_once_in_order(&[
            &format!("build 1: step 2/{STEPS}"),
            "build 1: shutdown requested, finishing the build first",
            &format!("build 1: step {STEPS}/{STEPS}"),
            "build 1: done",
            &format!("supervisor: {name} received; build done, returning"),
        ])
        // Forwarded at once: the child drains while the build goes on.
        .assert_once_in_order(&["http: stopped accepting, drained", "build 1: done"])
        .assert_absent(&[&format!("build 2: step 1/{STEPS}")])
        .assert_stderr_contains(&format!("shutdown: forwarding {name} to 1 child"))
        .assert_stderr_lacks("did not exit in time")
        .assert_stderr_lacks("Error:")
        // The remaining steps of the build, then the child's drain.
        .assert_ended_within(Duration::from_millis(STEPS * STEP_MS) + MARGIN);
    // Both runtimes, the child's and the supervisor's, end by the signal.
    let exits = ended
        .stderr
        .lines()
        .filter(|line| line.contains(&format!("exiting by {name}")))
        .count();
    assert_eq!(
        exits, 2,
        "expected the child and the supervisor to end by {name}\n{ended}"
    );
    assert!(
        child.gone_within(Duration::from_secs(5)),
        "the http child (pid {}) is still there after the supervisor ended\n{ended}",
        child.pid
    );
}

#[test]
fn supervisor_on_sigint_forwards_it_to_the_http_child_at_once_and_finishes_the_build() {
    signal_mid_build(SIGINT, "SIGINT");
}

#[test]
fn supervisor_on_sigterm_forwards_it_to_the_http_child_at_once_and_finishes_the_build() {
    signal_mid_build(SIGTERM, "SIGTERM");
}
