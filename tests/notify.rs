//! The systemd notify protocol, with real processes: the test is the
//! service manager. It binds a datagram socket, runs
//! `tests/fixtures/notify.rs` with `NOTIFY_SOCKET` (and `WATCHDOG_USEC`)
//! naming it, signals it, and checks which datagrams came, in which order,
//! and when.

mod common;

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{fixture_path, Profile, Running, Spawn, SIGTERM};

/// What the test waits at most for a datagram that must come.
const PATIENCE: Duration = Duration::from_secs(10);

/// The watchdog interval the watchdog tests set (`WATCHDOG_USEC`).
const INTERVAL: Duration = Duration::from_secs(1);

/// How late a message may be on a noisy machine: a ping due every half
/// interval may come this much later, "at once" may take this long.
const SLACK: Duration = Duration::from_millis(300);

/// The service manager's end: a datagram socket, read on its own thread,
/// every datagram stamped with the moment it was read. As systemd does, a
/// datagram is read as one assignment a line.
struct Manager {
    /// The value of `NOTIFY_SOCKET` that names it.
    address: String,
    path: Option<PathBuf>,
    datagrams: Receiver<(Instant, String)>,
    /// Every assignment, in order.
    received: Vec<(Instant, String)>,
    /// For each of `received`, the datagram it came in (a count).
    datagram_of: Vec<usize>,
    stop: Arc<AtomicBool>,
}

fn unique_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("cleanup-notify-test-{}-{n}", std::process::id())
}

impl Manager {
    /// Bound at a fresh path: `NOTIFY_SOCKET=/tmp/….sock`.
    fn at_path() -> Manager {
        let path = std::env::temp_dir().join(format!("{}.sock", unique_name()));
        let socket = UnixDatagram::bind(&path)
            .unwrap_or_else(|err| panic!("cannot bind {}: {err}", path.display()));
        let address = path.to_str().expect("a UTF-8 temporary path").to_owned();
        Manager::listen(socket, address, Some(path))
    }

    /// Bound at a fresh abstract name: `NOTIFY_SOCKET=@…`.
    fn at_abstract_name() -> Manager {
        use std::os::linux::net::SocketAddrExt as _;
        let name = unique_name();
        let addr = SocketAddr::from_abstract_name(&name).expect("an abstract address");
        let socket = UnixDatagram::bind_addr(&addr)
            .unwrap_or_else(|err| panic!("cannot bind @{name}: {err}"));
        Manager::listen(socket, format!("@{name}"), None)
    }

    fn listen(socket: UnixDatagram, address: String, path: Option<PathBuf>) -> Manager {
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("a read timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let stopped = Arc::clone(&stop);
        thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if tx.send((Instant::now(), text)).is_err() {
                        return;
                    }
                }
            }
        });
        Manager {
            address,
            path,
            datagrams: rx,
            received: Vec::new(),
            datagram_of: Vec::new(),
            stop,
        }
    }

    /// `fixture_notify <scenario>` with `NOTIFY_SOCKET` naming this manager.
    fn spawn(&self, scenario: &str) -> Spawn {
        Spawn::fixture("notify")
            .arg(scenario)
            .env("NOTIFY_SOCKET", &self.address)
    }

    /// Waits for `message` (it may have come already), and returns when it
    /// came; fails the test after [`PATIENCE`].
    #[track_caller]
    fn wait_for(&mut self, message: &str) -> Instant {
        let until = Instant::now() + PATIENCE;
        loop {
            if let Some((at, _)) = self.received.iter().find(|(_, seen)| seen == message) {
                return *at;
            }
            let left = until.saturating_duration_since(Instant::now());
            match self.datagrams.recv_timeout(left) {
                Ok(datagram) => self.push(datagram),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no `{message}` within {PATIENCE:?}; got {:?}", self.texts())
                }
                Err(RecvTimeoutError::Disconnected) => unreachable!("the reader stopped"),
            }
        }
    }

    /// Everything that comes within `period` from now.
    fn collect_for(&mut self, period: Duration) {
        let until = Instant::now() + period;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.datagrams.recv_timeout(left) {
                Ok(datagram) => self.push(datagram),
                Err(_) => return,
            }
        }
    }

    fn push(&mut self, (at, text): (Instant, String)) {
        let datagram = self.datagram_of.last().map_or(0, |last| last + 1);
        for line in text.split('\n').filter(|line| !line.is_empty()) {
            self.received.push((at, line.to_owned()));
            self.datagram_of.push(datagram);
        }
    }

    fn texts(&self) -> Vec<&str> {
        self.received
            .iter()
            .map(|(_, text)| text.as_str())
            .collect()
    }

    fn count(&self, message: &str) -> usize {
        self.texts().iter().filter(|text| **text == message).count()
    }

    /// When each `message` came, in order.
    fn times_of(&self, message: &str) -> Vec<Instant> {
        self.received
            .iter()
            .filter(|(_, text)| text == message)
            .map(|(at, _)| *at)
            .collect()
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Sends SIGTERM, waits for the end, then reads what is still on its way.
fn stop(mut running: Running, manager: &mut Manager) -> (Instant, common::Ended) {
    let signalled = Instant::now();
    running.signal(SIGTERM);
    let ended = running.finish();
    manager.collect_for(Duration::from_millis(300));
    (signalled, ended)
}

// ---- READY=1 ------------------------------------------------------------------------

#[test]
fn ready_is_sent_when_ready_is_called_and_never_before() {
    let mut manager = Manager::at_path();
    let mut running = manager.spawn("gated").start();
    running.wait_stdout("waiting");
    // The program cannot call `ready()` before it has the SIGUSR2.
    manager.collect_for(Duration::from_millis(300));
    assert_eq!(manager.count("READY=1"), 0, "{:?}", manager.texts());
    running.signal(libc::SIGUSR2);
    running.wait_stdout("ready");
    manager.wait_for("READY=1");
    let (_, ended) = stop(running, &mut manager);
    ended.assert_killed_by(SIGTERM);
    assert_eq!(manager.count("READY=1"), 1, "{:?}", manager.texts());
    assert_eq!(manager.texts().first(), Some(&"READY=1"));
}

#[test]
fn ready_reaches_an_abstract_socket() {
    let mut manager = Manager::at_abstract_name();
    let running = manager.spawn("serve").start_ready();
    manager.wait_for("READY=1");
    let (_, ended) = stop(running, &mut manager);
    ended.assert_killed_by(SIGTERM);
    assert_eq!(manager.count("READY=1"), 1, "{:?}", manager.texts());
}

#[test]
fn a_program_that_never_calls_ready_never_sends_ready() {
    let mut manager = Manager::at_path();
    let running = manager.spawn("never-ready").start_ready();
    let (_, ended) = stop(running, &mut manager);
    ended.assert_killed_by(SIGTERM);
    assert_eq!(manager.count("READY=1"), 0, "{:?}", manager.texts());
}

#[test]
fn a_forked_child_never_sends() {
    let mut manager = Manager::at_path();
    let running = manager.spawn("fork").start_ready();
    manager.wait_for("READY=1");
    let (_, ended) = stop(running, &mut manager);
    ended.assert_killed_by(SIGTERM).assert_once(&["forked"]);
    // The parent's own, and nothing from the child's call.
    assert_eq!(manager.count("READY=1"), 1, "{:?}", manager.texts());
}

// ---- no manager, or a dead one --------------------------------------------------------

#[test]
fn without_notify_socket_nothing_changes() {
    // `env -u`: unset even if the test itself runs under a service manager.
    let fixture = fixture_path("notify", Profile::Current);
    let mut running = Spawn::program("env", "notify")
        .arg("-u")
        .arg("NOTIFY_SOCKET")
        .arg("-u")
        .arg("WATCHDOG_PID")
        .arg(&fixture)
        .arg("serve")
        .env("WATCHDOG_USEC", "200000")
        .start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_stderr_lacks("notify")
        .assert_stderr_lacks("panicked");
}

#[test]
fn a_dead_socket_is_not_an_error() {
    let missing = std::env::temp_dir().join(format!("{}.sock", unique_name()));
    let closed = Manager::at_path();
    let closed_path = closed.address.clone();
    // The file stays; nobody reads it any more.
    closed.stop.store(true, Ordering::Relaxed);
    thread::sleep(Duration::from_millis(200));
    let dead = [
        missing.to_str().unwrap().to_owned(),
        format!("@{}", unique_name()),
        "relative/socket".to_owned(),
        String::new(),
    ];
    for address in dead.iter().chain([&closed_path]) {
        let mut running = Spawn::fixture("notify")
            .arg("serve")
            .env("NOTIFY_SOCKET", address)
            .env("WATCHDOG_USEC", "200000")
            .start_ready();
        running.signal(SIGTERM);
        running
            .finish()
            .assert_killed_by(SIGTERM)
            .assert_stderr_lacks("notify")
            .assert_stderr_lacks("panicked");
    }
}

// ---- the watchdog ---------------------------------------------------------------------

/// `fixture_notify <scenario>` with the watchdog set to [`INTERVAL`]; with
/// `our_pid`, `WATCHDOG_PID` is the fixture's own (a shell's `$$`, kept by
/// `exec`), otherwise unset.
fn with_watchdog(manager: &Manager, scenario: &str, our_pid: bool) -> Spawn {
    let usec = INTERVAL.as_micros().to_string();
    if !our_pid {
        return manager.spawn(scenario).env("WATCHDOG_USEC", &usec);
    }
    let fixture = fixture_path("notify", Profile::Current);
    Spawn::program("sh", "notify")
        .arg("-c")
        .arg("WATCHDOG_PID=$$ exec \"$0\" \"$1\"")
        .arg(&fixture)
        .arg(scenario)
        .env("NOTIFY_SOCKET", &manager.address)
        .env("WATCHDOG_USEC", &usec)
}

#[test]
fn a_watchdog_for_another_pid_is_not_fed() {
    let mut manager = Manager::at_path();
    let running = manager
        .spawn("serve")
        .env("WATCHDOG_USEC", &INTERVAL.as_micros().to_string())
        .env("WATCHDOG_PID", "1")
        .start_ready();
    manager.collect_for(INTERVAL * 2);
    let (_, ended) = stop(running, &mut manager);
    ended.assert_killed_by(SIGTERM);
    assert_eq!(manager.count("WATCHDOG=1"), 0, "{:?}", manager.texts());
}

#[test]
fn the_watchdog_is_fed_at_least_every_half_interval_while_the_program_sleeps() {
    for our_pid in [false, true] {
        let mut manager = Manager::at_path();
        let running = with_watchdog(&manager, "serve", our_pid).start_ready();
        let watched_from = manager.wait_for("READY=1");
        manager.collect_for(INTERVAL * 4);
        let watched_until = Instant::now();
        let (_, ended) = stop(running, &mut manager);
        ended.assert_killed_by(SIGTERM);
        let pings: Vec<Instant> = manager
            .times_of("WATCHDOG=1")
            .into_iter()
            .filter(|at| *at <= watched_until)
            .collect();
        let mut last = watched_from;
        for at in pings.iter().copied().chain([watched_until]) {
            assert!(
                at.saturating_duration_since(last) <= INTERVAL / 2 + SLACK,
                "a gap of {:?} between pings (WATCHDOG_PID ours: {our_pid}); got {:?}",
                at.saturating_duration_since(last),
                manager.texts()
            );
            last = at;
        }
    }
}

#[test]
fn the_watchdog_starves_once_the_program_stops_making_progress() {
    let mut manager = Manager::at_path();
    let mut running = with_watchdog(&manager, "stuck", false).start_ready();
    running.wait_stdout("stuck");
    let stuck_at = Instant::now();
    // Fed while it made progress...
    manager.collect_for(INTERVAL * 3);
    let pings = manager.times_of("WATCHDOG=1");
    assert!(
        pings.iter().any(|at| *at < stuck_at),
        "no ping while it made progress: {:?}",
        manager.texts()
    );
    // ...then half an interval (the window), a quarter (between two looks)
    // and the slack at most, and never again.
    let last_allowed = stuck_at + INTERVAL / 2 + INTERVAL / 4 + SLACK;
    let late: Vec<Duration> = pings
        .iter()
        .filter(|at| **at > last_allowed)
        .map(|at| *at - stuck_at)
        .collect();
    assert!(late.is_empty(), "pings {late:?} after it got stuck");
    // `stuck` never looks up: the harness's kill ends it.
    drop(running);
}

// ---- the shutdown ---------------------------------------------------------------------

#[test]
fn sigterm_sends_stopping_at_once_then_status_lines() {
    let mut manager = Manager::at_path();
    let running = manager.spawn("serve").start_ready();
    manager.wait_for("READY=1");
    let (signalled, ended) = stop(running, &mut manager);
    ended.assert_killed_by(SIGTERM);
    let texts = manager.texts();
    let ready = texts.iter().position(|text| *text == "READY=1").unwrap();
    let stopping = texts.iter().position(|text| *text == "STOPPING=1");
    let stopping = stopping.unwrap_or_else(|| panic!("no STOPPING=1: {texts:?}"));
    // STOPPING=1 is the first word after READY=1, and comes at once, in one
    // datagram with the extension and the reason: a stop that is over a
    // moment later has still said all three.
    assert_eq!(stopping, ready + 1, "{texts:?}");
    let first = manager.datagram_of[stopping];
    let together: Vec<&str> = texts
        .iter()
        .zip(&manager.datagram_of)
        .filter(|(_, datagram)| **datagram == first)
        .map(|(text, _)| *text)
        .collect();
    assert!(
        together
            .iter()
            .any(|text| text.starts_with("EXTEND_TIMEOUT_USEC="))
            && together.contains(&"STATUS=stopping: SIGTERM received"),
        "the first datagram of the stop: {together:?}"
    );
    // The last word says how it ended, not what it was waiting for.
    let last_status = texts.iter().rev().find(|text| text.starts_with("STATUS="));
    assert!(
        last_status.is_some_and(|status| status.starts_with("STATUS=stopped: done in")
            && status.ends_with("exiting by SIGTERM")),
        "{texts:?}"
    );
    let stopping_at = manager.received[stopping].0;
    assert!(
        stopping_at.saturating_duration_since(signalled) <= SLACK * 3,
        "STOPPING=1 {:?} after SIGTERM",
        stopping_at - signalled
    );
    assert_eq!(manager.count("STOPPING=1"), 1, "{texts:?}");
    assert!(
        texts[stopping..]
            .iter()
            .any(|text| text.starts_with("STATUS=")),
        "no STATUS= line during the shutdown: {texts:?}"
    );
    assert_eq!(manager.count("READY=1"), 1, "{texts:?}");
}

#[test]
fn a_stop_that_reaches_its_deadline_says_so_in_its_last_status() {
    let mut manager = Manager::at_path();
    let running = manager.spawn("hung-cleanup").short_timeout().start_ready();
    manager.wait_for("READY=1");
    let (_, ended) = stop(running, &mut manager);
    ended.assert_killed_by(SIGTERM);
    let texts = manager.texts();
    let last_status = texts.iter().rev().find(|text| text.starts_with("STATUS="));
    assert!(
        last_status.is_some_and(|status| status
            .starts_with("STATUS=stopped: deadline of 2s reached")
            && status.contains("guard created at")),
        "{texts:?}"
    );
}

#[test]
fn extend_timeout_is_renewed_before_it_lapses_until_the_exit() {
    let mut manager = Manager::at_path();
    let running = manager.spawn("slow-cleanup").start_ready();
    manager.wait_for("READY=1");
    let (signalled, ended) = stop(running, &mut manager);
    ended.assert_killed_by(SIGTERM).assert_once(&["guard:slow"]);
    let exited = signalled + ended.after_signal.expect("signalled");
    let extensions = assert_extended_until_the_exit(&manager, signalled, exited);
    // The shutdown took 3 s: one extension announced at the start would not
    // say the process still lives; it is renewed as the shutdown goes.
    assert!(extensions.len() >= 2, "{:?}", manager.texts());
}

/// Checks that EXTEND_TIMEOUT_USEC came soon after the signal, was renewed
/// before each one lapsed, and that the last one covers the exit; returns
/// them.
#[track_caller]
fn assert_extended_until_the_exit(
    manager: &Manager,
    signalled: Instant,
    exited: Instant,
) -> Vec<(Instant, Duration)> {
    let extensions: Vec<(Instant, Duration)> = manager
        .received
        .iter()
        .filter_map(|(at, text)| {
            let usec = text.strip_prefix("EXTEND_TIMEOUT_USEC=")?;
            Some((*at, Duration::from_micros(usec.parse().expect("µs"))))
        })
        .collect();
    let texts = manager.texts();
    let (first_at, _) = *extensions
        .first()
        .unwrap_or_else(|| panic!("no EXTEND_TIMEOUT_USEC: {texts:?}"));
    assert!(
        first_at >= signalled,
        "extended before the shutdown: {texts:?}"
    );
    assert!(
        first_at - signalled <= SLACK * 3,
        "the first extension came {:?} after SIGTERM",
        first_at - signalled
    );
    // Each extension is renewed before it lapses, the last one covers the exit.
    for pair in extensions.windows(2) {
        let ((at, by), (next, _)) = (pair[0], pair[1]);
        assert!(
            next <= at + by,
            "an extension of {by:?} lapsed {:?} before the next: {texts:?}",
            next - (at + by)
        );
    }
    let (last_at, last_by) = *extensions.last().unwrap();
    assert!(
        exited <= last_at + last_by,
        "the last extension ({last_by:?}) lapsed {:?} before the exit: {texts:?}",
        exited - (last_at + last_by)
    );
    extensions
}

#[test]
fn during_a_drain_delay_systemd_hears_stopping_at_once_and_extensions_go_on() {
    // A 5 s delay outlasts a single extension: it must be renewed.
    let mut manager = Manager::at_path();
    let running = manager
        .spawn("serve")
        .env("CLEANUP_TIMEOUT", "10")
        .env("CLEANUP_DRAIN_DELAY", "5")
        .start_ready();
    manager.wait_for("READY=1");
    let (signalled, ended) = stop(running, &mut manager);
    ended.assert_killed_by(SIGTERM);
    let exited = signalled + ended.after_signal.expect("signalled");
    let texts = manager.texts();
    assert_eq!(manager.count("STOPPING=1"), 1, "{texts:?}");
    let stopping = manager.times_of("STOPPING=1")[0];
    assert!(
        stopping - signalled <= SLACK * 3,
        "STOPPING=1 came {:?} after SIGTERM, not at once: {texts:?}",
        stopping - signalled
    );
    assert!(
        texts
            .iter()
            .any(|text| text.contains("more before draining")),
        "{texts:?}"
    );
    assert_extended_until_the_exit(&manager, signalled, exited);
}
