//! The systemd notify protocol: what a `Type=notify` service tells its
//! manager, and the watchdog it keeps fed.
//!
//! systemd starts such a service with `NOTIFY_SOCKET` set to the address of a
//! datagram socket: a path (`/run/systemd/notify`) or, when it starts with
//! `@`, a Linux abstract name. Each datagram is one `KEY=value` assignment:
//!
//! | datagram | sent by | meaning |
//! |---|---|---|
//! | `READY=1` | [`ready`], only when the program calls it | start-up is over: units ordered after this one may start |
//! | `STOPPING=1` | [`stopping`], at the start of a shutdown | the stop has begun |
//! | `STATUS=<text>` | [`status`], as the shutdown goes | one line for `systemctl status` |
//! | `EXTEND_TIMEOUT_USEC=<µs>` | [`extend_timeout`], re-sent before the last one lapses | do not SIGKILL us for this long yet |
//! | `WATCHDOG=1` | [`watchdog`], while the program makes progress | we are alive (with `WatchdogSec=`) |
//!
//! The variables are read once, by [`init`] (or the first call of any of
//! these), and the environment is left as it is. Every message is sent from
//! the process that read them, as `NotifyAccess=main` wants: a child forked
//! later (without `exec`) inherits this state but stays silent, for its pid
//! is not the one recorded. Sending never fails the program: a socket that is
//! gone, refuses, or stays full for [`SEND_TIMEOUT`] loses the message and
//! nothing else. Without `NOTIFY_SOCKET` every function here is a no-op that
//! costs a load.
//!
//! # Progress, and the watchdog
//!
//! With `WATCHDOG_USEC` set (and `WATCHDOG_PID` unset or our pid), systemd
//! kills the service when no `WATCHDOG=1` comes for that long. A process that
//! merely exists must not keep it fed: the pings say that the program is
//! getting somewhere. *Progress* is a call of `checkpoint()` or `sleep()`, on
//! any thread ([`progress`] records it); the start counts as progress too.
//! The watchdog rule is [`watchdog_tick`], called every quarter of the
//! interval: it pings if there was progress within the last half interval.
//! So a program whose loops call `checkpoint()` or `sleep()` more often than
//! every half interval is pinged at least that often, and once its threads
//! all stop calling them (a deadlock, a loop that never looks up), the pings
//! stop within half an interval and systemd steps in.
//!
//! [`progress`] must be free enough for `checkpoint()`: it stamps progress
//! with a coarse clock that [`made_progress_within`] advances each time it
//! looks, instead of reading the time. A stamp is therefore the time of the
//! latest look before the progress, up to one look old: the answer is never
//! "yes" without progress in the window, and always "yes" with progress in
//! the window shortened by the time between two looks.
//!
//! # Why it is written here
//!
//! Not `sd-notify`: its `notify` reads `NOTIFY_SOCKET` again on every call
//! (so a library that unsets it later would silence us, and tests could not
//! aim it at a socket of their own), it connects to the value as a path
//! (`@name`, an abstract socket, is taken for a file named `@name`), its
//! socket blocks while the manager's queue is full, and it builds only on
//! Unix. The vocabulary is five assignments, [`State`], spelled as its
//! `NotifyState` spells them; the datagram, a few lines over `UnixDatagram`
//! in `sys::notify` (on Windows, no address and nothing to send).

use std::ffi::OsStr;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::sys::notify::Addr;

/// The longest a send waits for room in the manager's queue; then the message
/// is dropped. systemd's queue is deep: this bounds a wedged manager, no more.
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_millis(100);

/// The longest datagram sent: systemd reads at most this much of one.
const MAX_MESSAGE: usize = 4096;

/// The manager to tell, read from the environment once; `None` when there is none.
static NOTIFIER: OnceLock<Option<Notifier>> = OnceLock::new();

/// Progress, as [`progress`] records it for the watchdog.
static PROGRESS: Progress = Progress::new();

/// One `KEY=value` assignment: the few this module sends.
#[derive(Clone, Copy, Debug)]
enum State<'a> {
    Ready,
    Stopping,
    Status(&'a str),
    ExtendTimeoutUsec(u32),
    Watchdog,
}

impl fmt::Display for State<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Ready => f.write_str("READY=1"),
            State::Stopping => f.write_str("STOPPING=1"),
            State::Status(text) => write!(f, "STATUS={text}"),
            State::ExtendTimeoutUsec(usec) => write!(f, "EXTEND_TIMEOUT_USEC={usec}"),
            State::Watchdog => f.write_str("WATCHDOG=1"),
        }
    }
}

/// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, and records our
/// pid as the one allowed to send. Called when the runtime is installed,
/// before the program forks; later calls do nothing. The environment is
/// left untouched.
pub(crate) fn init() {
    notifier();
}

/// `READY=1` (see [`crate::ready`], which also makes `is_ready()` true).
pub(crate) fn ready() {
    send(State::Ready);
}

/// `STOPPING=1` has been sent: once, at the signal, even when a drain delay
/// comes before the drain.
static STOPPING_SENT: AtomicBool = AtomicBool::new(false);

/// `STOPPING=1`: the shutdown has begun.
pub(crate) fn stopping() {
    if notifier().is_some() && !STOPPING_SENT.swap(true, Ordering::SeqCst) {
        send(State::Stopping);
    }
}

/// `STOPPING=1` (unless sent already), `EXTEND_TIMEOUT_USEC` and `STATUS=`
/// in one datagram: a stop that ends a moment later has still said all of
/// it.
pub(crate) fn stopping_for(status: &str, extend: Option<Duration>) {
    let Some(notifier) = notifier() else {
        return;
    };
    let mut states = Vec::with_capacity(3);
    if !STOPPING_SENT.swap(true, Ordering::SeqCst) {
        states.push(State::Stopping);
    }
    if let Some(by) = extend {
        states.push(State::ExtendTimeoutUsec(usec_u32(by)));
    }
    states.push(State::Status(status));
    notifier.send_all(&states);
}

/// `STATUS=<text>`: one line for `systemctl status`. A line break in `text`
/// becomes a space, so the text cannot smuggle in another assignment.
pub(crate) fn status(text: &str) {
    send(State::Status(text));
}

/// `EXTEND_TIMEOUT_USEC=<µs>`: systemd waits `by` more before it SIGKILLs us,
/// counted from now. To be re-sent before it lapses. Rounded up to the
/// microsecond; capped at 71 minutes (`u32::MAX` µs, the most
/// [`State::ExtendTimeoutUsec`] carries, as `sd-notify`'s did), which a
/// re-send makes up for.
pub(crate) fn extend_timeout(by: Duration) {
    send(State::ExtendTimeoutUsec(usec_u32(by)));
}

/// Whether `NOTIFY_SOCKET` is set: the program runs under systemd's notify
/// protocol.
pub(crate) fn enabled() -> bool {
    notifier().is_some()
}

/// The watchdog interval systemd expects `WATCHDOG=1` within, when
/// `WATCHDOG_USEC` is set for us (`WATCHDOG_PID` unset or our pid) and
/// `NOTIFY_SOCKET` is set.
pub(crate) fn watchdog_interval() -> Option<Duration> {
    notifier()?.watchdog
}

/// `WATCHDOG=1`, unconditionally. The rule for when is [`watchdog_tick`].
pub(crate) fn watchdog() {
    send(State::Watchdog);
}

/// The watchdog's rule, to call every quarter of [`watchdog_interval`]:
/// `WATCHDOG=1` if there was progress within the last half interval.
/// Returns whether it pinged; `false` without a watchdog.
pub(crate) fn watchdog_tick() -> bool {
    let Some(interval) = watchdog_interval() else {
        return false;
    };
    let progressed = made_progress_within(interval / 2);
    if progressed {
        watchdog();
    }
    progressed
}

/// Records that the program makes progress: called by `checkpoint()` and
/// `sleep()`. Without a watchdog, one relaxed load; with one, two relaxed
/// loads, and a store once per look of the watchdog (never a write on every
/// call, which would bounce the cache line between busy threads).
#[inline]
pub(crate) fn progress() {
    PROGRESS.record();
}

/// Whether [`progress`] was recorded within `window` (see the module docs for
/// the precision), and starts a new period of the coarse clock. `false`
/// without a watchdog.
pub(crate) fn made_progress_within(window: Duration) -> bool {
    match notifier() {
        Some(notifier) if notifier.watchdog.is_some() => {
            PROGRESS.within(notifier.clock(), millis(window))
        }
        _ => false,
    }
}

fn send(state: State<'_>) {
    if let Some(notifier) = notifier() {
        notifier.send(state);
    }
}

fn notifier() -> Option<&'static Notifier> {
    NOTIFIER
        .get_or_init(|| {
            // A service manager's socket is Linux's: elsewhere, nothing.
            let notifier = Notifier::from_env().filter(|_| crate::sys::notify::AVAILABLE);
            if notifier.as_ref().is_some_and(|n| n.watchdog.is_some()) {
                PROGRESS.enable();
            }
            notifier
        })
        .as_ref()
}

/// Where and from whom the messages go.
#[derive(Debug)]
struct Notifier {
    addr: Addr,
    /// The process allowed to send: the one that read the environment.
    pid: u32,
    watchdog: Option<Duration>,
    /// The origin of the coarse clock of [`Progress`].
    start: Instant,
}

impl Notifier {
    fn from_env() -> Option<Notifier> {
        // Outside systemd, the one variable read: start-up stays short.
        let socket = std::env::var_os("NOTIFY_SOCKET")?;
        Notifier::parse(
            Some(&socket),
            std::env::var_os("WATCHDOG_USEC").as_deref(),
            std::env::var_os("WATCHDOG_PID").as_deref(),
            std::process::id(),
        )
    }

    /// From the three variables' values, for the process `pid`.
    fn parse(
        socket: Option<&OsStr>,
        watchdog_usec: Option<&OsStr>,
        watchdog_pid: Option<&OsStr>,
        pid: u32,
    ) -> Option<Notifier> {
        Some(Notifier::new(
            crate::sys::notify::addr(socket?)?,
            pid,
            watchdog_from(watchdog_usec, watchdog_pid, pid),
        ))
    }

    fn new(addr: Addr, pid: u32, watchdog: Option<Duration>) -> Notifier {
        Notifier {
            addr,
            pid,
            watchdog,
            start: Instant::now(),
        }
    }

    fn send(&self, state: State<'_>) {
        self.send_from(std::process::id(), state);
    }

    /// Several assignments in one datagram, one a line (a `STATUS=` last:
    /// only its tail is cut if the whole is too long).
    fn send_all(&self, states: &[State<'_>]) {
        self.send_all_from(std::process::id(), states);
    }

    /// Sends `state` if `pid`, the caller's, is the one recorded.
    fn send_from(&self, pid: u32, state: State<'_>) {
        self.send_all_from(pid, &[state]);
    }

    fn send_all_from(&self, pid: u32, states: &[State<'_>]) {
        if pid != self.pid {
            return;
        }
        let mut message = Message::new();
        for (i, state) in states.iter().enumerate() {
            if i > 0 {
                message.newline();
            }
            let _ = write!(message, "{state}");
        }
        // One datagram from a fresh socket: nothing kept open for a fork to
        // inherit or a careless `close` to reuse. A manager that is gone or
        // wedged loses the message, nothing more.
        let _ = crate::sys::notify::send(&self.addr, message.as_bytes(), SEND_TIMEOUT);
    }

    /// The coarse clock's reading now: milliseconds since the start, plus one
    /// (0 means "no watchdog" to [`Progress`]).
    fn clock(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }
}

/// The watchdog interval, if `WATCHDOG_USEC` is a positive number of µs and
/// `WATCHDOG_PID` is unset or `pid`. An unreadable `WATCHDOG_PID` is not ours,
/// as `sd_watchdog_enabled(3)` has it.
fn watchdog_from(usec: Option<&OsStr>, watchdog_pid: Option<&OsStr>, pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.to_str()?.parse().ok()?;
    if usec == 0 || usec == u64::MAX {
        return None; // 0 is "off", u64::MAX systemd's "infinity"
    }
    if let Some(watchdog_pid) = watchdog_pid {
        if watchdog_pid.to_str()?.parse::<u32>().ok()? != pid {
            return None;
        }
    }
    Some(Duration::from_micros(usec))
}

/// `by` in whole microseconds, rounded up, at most `u32::MAX`.
fn usec_u32(by: Duration) -> u32 {
    let usec = by.as_micros() + u128::from(by.subsec_nanos() % 1000 != 0);
    u32::try_from(usec).unwrap_or(u32::MAX)
}

fn millis(window: Duration) -> u64 {
    u64::try_from(window.as_millis()).unwrap_or(u64::MAX)
}

/// When the program last made progress, on a coarse clock.
///
/// ```text
/// epoch: 0 ──enable──▶ 1 ──within(now)──▶ now ──within(later)──▶ later …
/// seen:  the epoch some thread read the last time it recorded progress
/// ```
///
/// `epoch` is the clock's reading at the latest look ([`Progress::within`]),
/// 0 while no watchdog applies; `record` copies it to `seen` when they
/// differ. Both are relaxed: a thread that reads a stale epoch stamps an
/// older time, which can only make the answer more cautious.
#[repr(align(64))] // One cache line: `record` reads both words.
struct Progress {
    epoch: AtomicU64,
    seen: AtomicU64,
}

impl Progress {
    const fn new() -> Progress {
        Progress {
            epoch: AtomicU64::new(0),
            seen: AtomicU64::new(0),
        }
    }

    /// The watchdog applies: start the clock, and count the start as progress.
    fn enable(&self) {
        self.epoch.fetch_max(1, Ordering::Relaxed);
        self.seen.fetch_max(1, Ordering::Relaxed);
    }

    #[inline]
    fn record(&self) {
        let epoch = self.epoch.load(Ordering::Relaxed);
        if epoch != 0 && self.seen.load(Ordering::Relaxed) != epoch {
            self.seen.store(epoch, Ordering::Relaxed);
        }
    }

    /// Whether progress was stamped within `window_ms` of `now` (the clock's
    /// reading), and moves the clock to `now`.
    fn within(&self, now: u64, window_ms: u64) -> bool {
        if self.epoch.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let seen = self.seen.load(Ordering::Relaxed);
        self.epoch.fetch_max(now, Ordering::Relaxed);
        seen != 0 && now.saturating_sub(seen) <= window_ms
    }
}

/// One datagram, built on the stack: a line break or a NUL becomes a space
/// (each datagram is one assignment), and text beyond [`MAX_MESSAGE`] is cut
/// at a character boundary.
struct Message {
    bytes: [u8; MAX_MESSAGE],
    len: usize,
}

impl Message {
    fn new() -> Message {
        Message {
            bytes: [0; MAX_MESSAGE],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Ends one assignment: the only line break a message carries.
    fn newline(&mut self) {
        if self.len < MAX_MESSAGE {
            self.bytes[self.len] = b'\n';
            self.len += 1;
        }
    }
}

impl fmt::Write for Message {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for c in text.chars() {
            let c = if matches!(c, '\n' | '\0') { ' ' } else { c };
            let end = self.len + c.len_utf8();
            if end > MAX_MESSAGE {
                return Ok(()); // cut here; the rest is dropped
            }
            c.encode_utf8(&mut self.bytes[self.len..end]);
            self.len = end;
        }
        Ok(())
    }
}

// The manager is played by a `UnixDatagram`: Unix only.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    use std::io;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    use std::path::{Path, PathBuf};
    use std::sync::atomic::AtomicUsize;

    /// A manager's socket: bound at a fresh path or abstract name, removed
    /// when dropped.
    struct Manager {
        socket: UnixDatagram,
        addr: SocketAddr,
        path: Option<PathBuf>,
    }

    fn unique(what: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        format!("cleanup-notify-{what}-{}-{n}", std::process::id())
    }

    impl Manager {
        fn at_path() -> Manager {
            let path = std::env::temp_dir().join(format!("{}.sock", unique("unit")));
            let socket = UnixDatagram::bind(&path).expect("bind the manager's socket");
            Manager::ready(
                socket,
                SocketAddr::from_pathname(&path).unwrap(),
                Some(path),
            )
        }

        /// `None` where the system has no abstract sockets (off Linux).
        fn at_abstract_name() -> Option<Manager> {
            let addr = crate::sys::notify::abstract_addr(unique("unit").as_bytes())?;
            let socket = UnixDatagram::bind_addr(&addr).expect("bind the manager's socket");
            Some(Manager::ready(socket, addr, None))
        }

        fn ready(socket: UnixDatagram, addr: SocketAddr, path: Option<PathBuf>) -> Manager {
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            Manager { socket, addr, path }
        }

        /// A notifier aimed here, for this process.
        fn notifier(&self) -> Notifier {
            Notifier::new(self.addr.clone(), std::process::id(), None)
        }

        fn recv(&self) -> String {
            let mut buf = [0u8; MAX_MESSAGE + 1];
            let n = self.socket.recv(&mut buf).expect("a datagram");
            String::from_utf8(buf[..n].to_vec()).expect("UTF-8")
        }

        /// Nothing is waiting (every send is done by the time it returns).
        fn assert_nothing(&self) {
            self.socket.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 64];
            match self.socket.recv(&mut buf) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                other => panic!("expected no datagram, got {other:?}"),
            }
            self.socket.set_nonblocking(false).unwrap();
        }
    }

    impl Drop for Manager {
        fn drop(&mut self) {
            if let Some(path) = &self.path {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn os(text: &str) -> Option<&OsStr> {
        Some(OsStr::new(text))
    }

    fn assert_every_message(manager: &Manager) {
        let notifier = manager.notifier();
        notifier.send(State::Ready);
        assert_eq!(manager.recv(), "READY=1");
        notifier.send(State::Stopping);
        assert_eq!(manager.recv(), "STOPPING=1");
        notifier.send(State::Status("running guard `db` (main.rs:12), 4.5s left"));
        assert_eq!(
            manager.recv(),
            "STATUS=running guard `db` (main.rs:12), 4.5s left"
        );
        notifier.send(State::ExtendTimeoutUsec(usec_u32(Duration::from_millis(
            2500,
        ))));
        assert_eq!(manager.recv(), "EXTEND_TIMEOUT_USEC=2500000");
        notifier.send(State::Watchdog);
        assert_eq!(manager.recv(), "WATCHDOG=1");
        manager.assert_nothing();
    }

    #[test]
    fn each_message_is_one_exact_datagram_at_a_path() {
        assert_every_message(&Manager::at_path());
    }

    #[test]
    fn each_message_is_one_exact_datagram_at_an_abstract_name() {
        // Off Linux there are none, and nothing to check.
        if let Some(manager) = Manager::at_abstract_name() {
            assert_every_message(&manager);
        }
    }

    #[test]
    fn the_variable_is_read_as_a_path_or_an_abstract_name() {
        let path = Notifier::parse(os("/run/systemd/notify"), None, None, 7).unwrap();
        assert_eq!(
            path.addr.as_pathname(),
            Some(Path::new("/run/systemd/notify"))
        );
        let name = Notifier::parse(os("@/org/freedesktop/systemd1/notify"), None, None, 7);
        if crate::sys::notify::abstract_addr(b"probe").is_some() {
            assert_eq!(
                crate::sys::notify::abstract_name(&name.unwrap().addr).as_deref(),
                Some(&b"/org/freedesktop/systemd1/notify"[..])
            );
        } else {
            // Elsewhere there are no abstract sockets: silence.
            assert!(name.is_none());
        }
    }

    #[test]
    fn a_variable_naming_no_socket_we_can_reach_means_silence() {
        for raw in [
            "",
            "relative/notify",
            "vsock:2:1234",
            &format!("/{}", "x".repeat(200)),
        ] {
            assert!(
                Notifier::parse(os(raw), os("1000000"), None, 7).is_none(),
                "{raw:?}"
            );
        }
        // Unset: nothing to tell, whatever the watchdog variables say.
        assert!(Notifier::parse(None, os("1000000"), None, 7).is_none());
    }

    #[test]
    fn the_watchdog_applies_when_its_pid_is_unset_or_ours() {
        let second = Some(Duration::from_secs(1));
        assert_eq!(watchdog_from(os("1000000"), None, 7), second);
        assert_eq!(watchdog_from(os("1000000"), os("7"), 7), second);
        assert_eq!(watchdog_from(os("1000000"), os("8"), 7), None);
        assert_eq!(watchdog_from(os("1000000"), os("seven"), 7), None);
        assert_eq!(watchdog_from(os("1000000"), os(""), 7), None);
        assert_eq!(watchdog_from(None, os("7"), 7), None);
        assert_eq!(watchdog_from(os("0"), None, 7), None);
        assert_eq!(watchdog_from(os(&u64::MAX.to_string()), None, 7), None);
        assert_eq!(watchdog_from(os("soon"), None, 7), None);
        let notifier = Notifier::parse(os("/run/notify"), os("2500000"), os("7"), 7).unwrap();
        assert_eq!(notifier.watchdog, Some(Duration::from_millis(2500)));
    }

    #[test]
    fn nothing_is_sent_from_another_pid() {
        let manager = Manager::at_path();
        let notifier = manager.notifier();
        notifier.send_from(notifier.pid.wrapping_add(1), State::Ready);
        manager.assert_nothing();
        notifier.send_from(notifier.pid, State::Ready);
        assert_eq!(manager.recv(), "READY=1");
    }

    #[test]
    fn a_forked_child_stays_silent() {
        let manager = Manager::at_path();
        let notifier = manager.notifier();
        // The child only calls `send` (getpid(2) and a comparison, as its
        // pid is not the one recorded): async-signal-safe.
        assert!(crate::sys::process::in_forked_child(|| {
            notifier.send(State::Ready)
        }));
        manager.assert_nothing();
        notifier.send(State::Stopping);
        assert_eq!(manager.recv(), "STOPPING=1");
    }

    #[test]
    fn a_dead_socket_is_not_an_error() {
        // Never bound.
        let missing = std::env::temp_dir().join(format!("{}.sock", unique("missing")));
        let notifier = Notifier::new(
            SocketAddr::from_pathname(&missing).unwrap(),
            std::process::id(),
            None,
        );
        notifier.send(State::Ready);
        // Bound, then closed: the file stays, nobody listens.
        let path = std::env::temp_dir().join(format!("{}.sock", unique("closed")));
        drop(UnixDatagram::bind(&path).expect("bind"));
        assert!(path.exists());
        let notifier = Notifier::new(
            SocketAddr::from_pathname(&path).unwrap(),
            std::process::id(),
            None,
        );
        notifier.send(State::Stopping);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_manager_that_never_reads_cannot_hold_up_a_send() {
        let manager = Manager::at_path();
        let notifier = manager.notifier();
        let sends = 15;
        let started = Instant::now();
        for _ in 0..sends {
            notifier.send(State::Watchdog);
        }
        // The queue (`net.unix.max_dgram_qlen`, 10 by default) fills; each
        // send after that waits `SEND_TIMEOUT` at most, then gives up.
        let bound = SEND_TIMEOUT * sends + Duration::from_secs(5);
        assert!(started.elapsed() < bound, "{:?}", started.elapsed());
    }

    #[test]
    fn status_text_stays_one_assignment() {
        let manager = Manager::at_path();
        let notifier = manager.notifier();
        notifier.send(State::Status("two\nlines\0and a NUL"));
        assert_eq!(manager.recv(), "STATUS=two lines and a NUL");
        let long = "é".repeat(MAX_MESSAGE);
        notifier.send(State::Status(&long));
        let got = manager.recv();
        assert!(got.len() <= MAX_MESSAGE && got.len() > MAX_MESSAGE - 4);
        assert!(got.starts_with("STATUS=éé"));
    }

    #[test]
    fn extensions_round_up_to_the_microsecond_and_saturate() {
        assert_eq!(usec_u32(Duration::from_secs(3)), 3_000_000);
        assert_eq!(usec_u32(Duration::from_nanos(1_001)), 2);
        assert_eq!(usec_u32(Duration::ZERO), 0);
        assert_eq!(usec_u32(Duration::from_secs(5000)), u32::MAX);
    }

    #[test]
    fn without_a_watchdog_progress_is_neither_recorded_nor_seen() {
        let progress = Progress::new();
        progress.record();
        assert_eq!(progress.seen.load(Ordering::Relaxed), 0);
        assert!(!progress.within(1_000, u64::MAX));
        assert_eq!(
            progress.epoch.load(Ordering::Relaxed),
            0,
            "a look enabled it"
        );
    }

    #[test]
    fn progress_is_seen_within_the_window_and_not_after() {
        let progress = Progress::new();
        progress.enable();
        // The start counts: seen at 1.
        assert!(progress.within(400, 500));
        // Progress after the look at 400 is stamped 400.
        progress.record();
        assert!(progress.within(800, 500));
        assert!(progress.within(900, 500));
        // Nothing since: 400 is more than 500 before 1000.
        assert!(!progress.within(1_000, 500));
        assert!(!progress.within(1_250, 500));
        // Progress again, stamped at the look at 1250.
        progress.record();
        assert!(progress.within(1_500, 500));
        assert!(progress.within(1_750, 500));
        assert!(!progress.within(1_751, 500));
    }

    #[test]
    fn continuous_progress_is_always_seen_when_looks_are_closer_than_the_window() {
        let progress = Progress::new();
        progress.enable();
        // Looks every 250 (a quarter interval), window 500 (half of it),
        // progress between every two looks: always yes.
        for look in 1..100u64 {
            progress.record();
            assert!(progress.within(look * 250, 500), "look {look}");
        }
    }

    #[test]
    fn a_disabled_module_is_silent_and_answers_no() {
        // This process has no watchdog of ours whatever its environment: only
        // the parsing above decides. The free functions must not panic.
        progress();
        let _ = watchdog_interval();
        if watchdog_interval().is_none() {
            assert!(!made_progress_within(Duration::from_secs(3600)));
            assert!(!watchdog_tick());
        }
    }
}
