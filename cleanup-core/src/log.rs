//! What the shutdown says: on stderr by default, as `tracing` events or
//! `log` records when those features are on and the program installed a
//! subscriber or a logger.
//!
//! # On stderr
//!
//! One line per event, `shutdown: SIGTERM received, draining (10s)`, written
//! with one `write(2)` per line, not through `std::io::stderr()`: a thread
//! stuck while holding stderr's lock must not stop the shutdown from saying
//! why it is slow. `quiet` silences the `shutdown:` lines; a setting that
//! cannot be honoured (`cleanup: ignoring CLEANUP_TIMEOUT=…`) is still said.
//!
//! A process started with `cleanup::spawn` by a program that uses `cleanup`
//! itself shares its parent's stderr, so its lines say who speaks:
//! `worker[4242]: shutdown: SIGTERM received, draining (10s)`. `spawn` puts
//! the parent's pid in the child's environment (`CLEANUP_PARENT_PID`); a
//! child whose parent is that pid prefixes its lines with its program name
//! and pid. The top process's lines, and those of a grandchild started some
//! other way, have no prefix.
//!
//! Time left is always in seconds with one decimal (`running guard created
//! at src/main.rs:9:5, 2.3s left`), rounded down, in the lines and in the
//! `STATUS=` sent to systemd.
//!
//! # Through `tracing` or `log` (features `tracing`, `log`)
//!
//! With the feature `tracing` and a global default subscriber set
//! (`tracing::subscriber::set_global_default`, what `tracing_subscriber`'s
//! `init()` does), every line becomes an event with target `cleanup`; with
//! the feature `log` and a logger set (`log::max_level()` not `Off`), a
//! record with target `cleanup` and key-values. With both features, events
//! go to `tracing` when it has a subscriber, to `log` otherwise: never to
//! both (either one may forward to the other). With neither installed, the
//! lines go to stderr as above.
//!
//! The message is the line's text without `shutdown: ` (the target says who
//! speaks). Levels: the start, the progress and a clean end are `INFO`; a
//! setting that cannot be honoured, `main` late, a worker left behind, a
//! child killed, a cleanup that hung (abandoned) or panicked, and an end with
//! any of these are `WARN`; the hard deadline reached is `ERROR`. `quiet`
//! drops the `INFO` events only: a cleanup that hung or panicked is always
//! told to the subscriber or logger.
//!
//! Fields (those that apply to the event): `signal` (`"SIGTERM"`),
//! `timeout_ms`, `elapsed_ms`, `left_ms`, `guards_pending`,
//! `finalizers_pending`, `guards_ran`, `finalizers_ran`, `children`,
//! `abandoned`, `panicked`, `not_run`, `cleanup` (`"guard"`, `"finalizer"`,
//! `"worker"`, `"child"`), `name` (a worker's name), `location`
//! (`"src/main.rs:9:5"`, where the cleanup was made or the worker spawned),
//! `pid` (a child's), `exit_code` or `exit_signal` (how the process leaves,
//! on the end event).
//!
//! The start event is not written by the signal handler (which may not call
//! a subscriber): with a subscriber or logger installed the handler writes
//! nothing and the runtime thread, which the features keep running from the
//! start, emits it with the field `signal`. Three lines stay raw on stderr
//! even then, as they must be written from the handler: `press Ctrl-C again
//! to force` (for the person who may have pressed Ctrl-C: not shown by a
//! background job or a process in a group of its own), `second SIGINT, exiting now
//! without cleanup` (the process dies in the handler), and, if the runtime
//! thread could not be started, the signal timer's `deadline reached`.
//!
//! Events are handed to a thread of their own (`cleanup-log`), so a
//! subscriber that blocks or panics cannot hold up the shutdown: the process
//! waits for that thread to deliver what is queued before it leaves, at most
//! a moment (up to 1 s before a normal end, 50 ms at the hard deadline),
//! then leaves anyway. A panic inside the subscriber is caught there.

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;

use crate::sync::lock;

static QUIET: AtomicBool = AtomicBool::new(false);

/// The variable `cleanup::spawn` sets on a child: this process's pid.
pub(crate) const PARENT_ENV: &str = "CLEANUP_PARENT_PID";

/// Whether the features may send lines elsewhere than stderr: then the
/// runtime thread runs from the start, to emit the start event.
pub(crate) const ROUTABLE: bool = cfg!(any(feature = "tracing", feature = "log"));

pub(crate) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub(crate) fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// How bad it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// The start, the progress, a clean end.
    Info,
    /// Something was cut short or went wrong, but the shutdown holds.
    Warn,
    /// The hard deadline: the process ends with work undone.
    Error,
}

/// The structured side of an event: what applies, the rest `None`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fields {
    signal: Option<String>,
    timeout_ms: Option<u64>,
    elapsed_ms: Option<u64>,
    left_ms: Option<u64>,
    guards_pending: Option<u64>,
    finalizers_pending: Option<u64>,
    guards_ran: Option<u64>,
    finalizers_ran: Option<u64>,
    children: Option<u64>,
    abandoned: Option<u64>,
    panicked: Option<u64>,
    not_run: Option<u64>,
    cleanup: Option<&'static str>,
    name: Option<String>,
    location: Option<String>,
    pid: Option<i64>,
    exit_code: Option<i64>,
    exit_signal: Option<String>,
}

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Fields {
    pub(crate) fn new() -> Self {
        Fields::default()
    }
    pub(crate) fn signal(mut self, sig: i32) -> Self {
        self.signal = Some(SignalName(sig).to_string());
        self
    }
    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout_ms = Some(ms(timeout));
        self
    }
    pub(crate) fn elapsed(mut self, elapsed: Duration) -> Self {
        self.elapsed_ms = Some(ms(elapsed));
        self
    }
    pub(crate) fn left(mut self, left: Duration) -> Self {
        self.left_ms = Some(ms(left));
        self
    }
    pub(crate) fn pending(mut self, guards: usize, finalizers: usize) -> Self {
        self.guards_pending = Some(count(guards));
        self.finalizers_pending = Some(count(finalizers));
        self
    }
    pub(crate) fn ran(mut self, guards: usize, finalizers: usize) -> Self {
        self.guards_ran = Some(count(guards));
        self.finalizers_ran = Some(count(finalizers));
        self
    }
    pub(crate) fn children(mut self, n: usize) -> Self {
        self.children = Some(count(n));
        self
    }
    pub(crate) fn problems(mut self, abandoned: usize, panicked: usize) -> Self {
        self.abandoned = Some(count(abandoned));
        self.panicked = Some(count(panicked));
        self
    }
    pub(crate) fn abandoned(mut self, n: usize) -> Self {
        self.abandoned = Some(count(n));
        self
    }
    pub(crate) fn not_run(mut self, n: usize) -> Self {
        self.not_run = Some(count(n));
        self
    }
    /// The cleanup the event is about: its kind (`guard`, `finalizer`,
    /// `worker`, `child`) and where it was made.
    pub(crate) fn cleanup(
        mut self,
        kind: &'static str,
        at: Option<&'static std::panic::Location<'static>>,
    ) -> Self {
        self.cleanup = Some(kind);
        self.location = at.map(ToString::to_string);
        self
    }
    pub(crate) fn name(mut self, name: Option<&str>) -> Self {
        self.name = name.map(str::to_owned);
        self
    }
    pub(crate) fn pid(mut self, pid: i32) -> Self {
        self.pid = Some(pid.into());
        self
    }
    pub(crate) fn exit_code(mut self, code: i32) -> Self {
        self.exit_code = Some(code.into());
        self
    }
    pub(crate) fn exit_signal(mut self, sig: i32) -> Self {
        self.exit_signal = Some(SignalName(sig).to_string());
        self
    }
}

/// A `WARN` event without fields: a `shutdown:` line on stderr.
pub(crate) fn warn(args: fmt::Arguments<'_>) {
    event(Level::Warn, Fields::new(), args);
}

/// A `shutdown:` line on stderr unless `quiet`; through `tracing` or `log`
/// when they are installed, where `quiet` drops only the `INFO` ones.
pub(crate) fn event(level: Level, fields: Fields, args: fmt::Arguments<'_>) {
    let Some(sink) = destination(level) else {
        return;
    };
    if sink == Sink::Stderr {
        return write_line("shutdown: ", args);
    }
    post(Event {
        sink,
        level,
        text: args.to_string(),
        fields,
    });
}

/// Starts `line` as a shutdown line on stderr starts (the prefix, then
/// `shutdown: `); returns where the event's own text begins, for
/// [`event_line`].
pub(crate) fn start_line(line: &mut Text) -> usize {
    line.str(prefix()).str("shutdown: ");
    line.len
}

/// [`event`] with its text made already, in a [`Text`] begun by
/// [`start_line`] (`head` is what it returned): on stderr, the line as it
/// is, one `write(2)` and no `core::fmt`, whose code may be cold at the end
/// of a process. The fields are made only for a subscriber or logger.
pub(crate) fn event_line(
    level: Level,
    fields: impl FnOnce() -> Fields,
    line: &mut Text,
    head: usize,
) {
    let Some(sink) = destination(level) else {
        return;
    };
    if sink == Sink::Stderr {
        let written = line.end_line();
        // Back to the text without its newline (cut at a character's end
        // if it filled the buffer).
        let text_len = written.len() - 1;
        write_stderr(written);
        line.len = text_len;
        return;
    }
    post(Event {
        sink,
        level,
        text: line.as_str().get(head..).unwrap_or_default().to_owned(),
        fields: fields(),
    });
}

/// Where an event at `level` goes now; `None` when `quiet` drops it.
fn destination(level: Level) -> Option<Sink> {
    let sink = sink();
    let dropped = quiet() && (sink == Sink::Stderr || level == Level::Info);
    (!dropped).then_some(sink)
}

/// `prefix`, `shutdown: `, then what `text` adds, written to stderr with one
/// `write(2)`, built on the stack. Async-signal-safe (the signal handler's
/// lines, with [`prefix_made`]).
pub(crate) fn write_shutdown_line(prefix: &str, text: impl FnOnce(&mut Text)) {
    let mut line = Text::new();
    line.str(prefix).str("shutdown: ");
    text(&mut line);
    write_stderr(line.end_line());
}

/// A line that `quiet` does not silence: a setting the program cannot
/// honour (its text starts with `cleanup: `). A `WARN` event when routed.
pub(crate) fn always(args: fmt::Arguments<'_>) {
    let sink = sink();
    if sink == Sink::Stderr {
        return write_line("", args);
    }
    let text = args.to_string();
    post(Event {
        sink,
        level: Level::Warn,
        text: text.strip_prefix("cleanup: ").unwrap_or(&text).to_owned(),
        fields: Fields::new(),
    });
}

fn write_line(head: &str, args: fmt::Arguments<'_>) {
    let mut text = String::with_capacity(96);
    text.push_str(prefix());
    text.push_str(head);
    let _ = writeln!(text, "{args}");
    write_stderr(text.as_bytes());
}

/// Writes raw bytes to fd 2, retrying short writes. Async-signal-safe.
pub(crate) fn write_stderr(bytes: &[u8]) {
    crate::sys::fd::write_stderr(bytes);
}

static PREFIX: OnceCell<String> = OnceCell::new();

/// Whether this process was started by `cleanup::spawn` of the process that
/// is still its parent (its pid in [`PARENT_ENV`]). Asked once.
pub(crate) fn spawned_by_parent() -> bool {
    static SPAWNED: OnceCell<bool> = OnceCell::new();
    *SPAWNED.get_or_init(|| {
        let named = std::env::var_os(PARENT_ENV);
        let Some(named) = named.as_ref().and_then(|pid| pid.to_str()?.parse::<i32>().ok()) else {
            // Not named: no need to ask who the parent is.
            return false;
        };
        let parent = crate::sys::process::parent();
        parent > 1 && named == parent
    })
}

/// [`prefix`] as made at install, for the signal handler (one atomic load;
/// empty before). Async-signal-safe.
pub(crate) fn prefix_made() -> &'static str {
    PREFIX.get().map_or("", String::as_str)
}

/// `worker[4242]: ` in a child started by `cleanup::spawn` of a parent that
/// is still its parent; empty elsewhere. Computed once, at install, so the
/// signal handler can read it (`OnceCell::get` is one atomic load).
pub(crate) fn prefix() -> &'static str {
    PREFIX.get_or_init(|| {
        if !spawned_by_parent() {
            return String::new();
        }
        let program = std::env::args_os()
            .next()
            .map(std::path::PathBuf::from)
            .and_then(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "child".to_owned());
        format!("{program}[{}]: ", std::process::id())
    })
}

/// Where the lines go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sink {
    Stderr,
    #[cfg(feature = "tracing")]
    Tracing,
    #[cfg(feature = "log")]
    Log,
}

/// `tracing` if it has a global subscriber, else `log` if a logger takes
/// records, else stderr. Each check is one atomic load in those crates
/// (`tracing_core::dispatcher::has_been_set`, `log::max_level`), which is
/// why the signal handler may ask [`routed`].
fn sink() -> Sink {
    #[cfg(feature = "tracing")]
    if tracing::dispatcher::has_been_set() {
        return Sink::Tracing;
    }
    #[cfg(feature = "log")]
    if ::log::max_level() != ::log::LevelFilter::Off {
        return Sink::Log;
    }
    Sink::Stderr
}

/// Whether lines go to a subscriber or logger rather than stderr. Atomic
/// loads only: async-signal-safe.
pub(crate) fn routed() -> bool {
    sink() != Sink::Stderr
}

// Without the features, only stderr: nothing reads an event's level or fields.
#[cfg_attr(not(any(feature = "tracing", feature = "log")), allow(dead_code))]
struct Event {
    sink: Sink,
    level: Level,
    text: String,
    fields: Fields,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Deliverer {
    NotStarted,
    Running,
    /// No thread could be started: events are delivered by their emitter.
    Inline,
}

struct Queue {
    events: VecDeque<Event>,
    /// The deliverer is inside a subscriber.
    busy: bool,
    deliverer: Deliverer,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    events: VecDeque::new(),
    busy: false,
    deliverer: Deliverer::NotStarted,
});
static POSTED: Condvar = Condvar::new();
static DELIVERED: Condvar = Condvar::new();

/// Queues an event for the `cleanup-log` thread, started on the first one.
fn post(event: Event) {
    let mut queue = lock(&QUEUE);
    if queue.deliverer == Deliverer::NotStarted {
        let started = std::thread::Builder::new()
            .name("cleanup-log".into())
            .spawn(deliver_forever);
        queue.deliverer = match started {
            Ok(_) => Deliverer::Running,
            Err(_) => Deliverer::Inline,
        };
    }
    if queue.deliverer == Deliverer::Inline {
        drop(queue);
        deliver(&event);
        return;
    }
    queue.events.push_back(event);
    POSTED.notify_one();
}

fn deliver_forever() {
    let mut queue = lock(&QUEUE);
    loop {
        let Some(event) = queue.events.pop_front() else {
            queue.busy = false;
            DELIVERED.notify_all();
            queue = POSTED.wait(queue).unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        queue.busy = true;
        drop(queue);
        deliver(&event);
        queue = lock(&QUEUE);
    }
}

/// Hands `event` to its subscriber or logger; a panic there stays here.
fn deliver(event: &Event) {
    let _ = catch_unwind(AssertUnwindSafe(|| match event.sink {
        Sink::Stderr => write_line("shutdown: ", format_args!("{}", event.text)),
        #[cfg(feature = "tracing")]
        Sink::Tracing => to_tracing(event),
        #[cfg(feature = "log")]
        Sink::Log => to_log(event),
    }));
}

/// Waits, until `until` at most, for the queued events to be delivered:
/// called before the process leaves.
/// (`until` is asked only if some are queued.)
pub(crate) fn flush(until: impl FnOnce() -> Instant) {
    let mut queue = lock(&QUEUE);
    let pending = |queue: &Queue| {
        queue.deliverer == Deliverer::Running && (queue.busy || !queue.events.is_empty())
    };
    if !pending(&queue) {
        return;
    }
    let until = until();
    while pending(&queue) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        queue = DELIVERED
            .wait_timeout(queue, until - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

#[cfg(feature = "tracing")]
fn to_tracing(event: &Event) {
    macro_rules! emit {
        ($level:expr) => {{
            let f = &event.fields;
            tracing::event!(
                target: "cleanup",
                $level,
                signal = f.signal.as_deref(),
                timeout_ms = f.timeout_ms,
                elapsed_ms = f.elapsed_ms,
                left_ms = f.left_ms,
                guards_pending = f.guards_pending,
                finalizers_pending = f.finalizers_pending,
                guards_ran = f.guards_ran,
                finalizers_ran = f.finalizers_ran,
                children = f.children,
                abandoned = f.abandoned,
                panicked = f.panicked,
                not_run = f.not_run,
                cleanup = f.cleanup,
                name = f.name.as_deref(),
                location = f.location.as_deref(),
                pid = f.pid,
                exit_code = f.exit_code,
                exit_signal = f.exit_signal.as_deref(),
                "{}",
                event.text
            )
        }};
    }
    match event.level {
        Level::Info => emit!(tracing::Level::INFO),
        Level::Warn => emit!(tracing::Level::WARN),
        Level::Error => emit!(tracing::Level::ERROR),
    }
}

#[cfg(feature = "log")]
fn to_log(event: &Event) {
    let level = match event.level {
        Level::Info => ::log::Level::Info,
        Level::Warn => ::log::Level::Warn,
        Level::Error => ::log::Level::Error,
    };
    if level > ::log::max_level() {
        return;
    }
    let logger = ::log::logger();
    let metadata = ::log::Metadata::builder()
        .level(level)
        .target("cleanup")
        .build();
    if !logger.enabled(&metadata) {
        return;
    }
    logger.log(
        &::log::Record::builder()
            .metadata(metadata)
            .args(format_args!("{}", event.text))
            .module_path_static(Some(module_path!()))
            .file_static(Some(file!()))
            .line(Some(line!()))
            .key_values(&event.fields)
            .build(),
    );
    logger.flush();
}

#[cfg(feature = "log")]
impl ::log::kv::Source for Fields {
    fn visit<'kvs>(
        &'kvs self,
        visitor: &mut dyn ::log::kv::VisitSource<'kvs>,
    ) -> Result<(), ::log::kv::Error> {
        use ::log::kv::{Key, Value};
        let strings = [
            ("signal", self.signal.as_deref()),
            ("cleanup", self.cleanup),
            ("name", self.name.as_deref()),
            ("location", self.location.as_deref()),
            ("exit_signal", self.exit_signal.as_deref()),
        ];
        let numbers = [
            ("timeout_ms", self.timeout_ms),
            ("elapsed_ms", self.elapsed_ms),
            ("left_ms", self.left_ms),
            ("guards_pending", self.guards_pending),
            ("finalizers_pending", self.finalizers_pending),
            ("guards_ran", self.guards_ran),
            ("finalizers_ran", self.finalizers_ran),
            ("children", self.children),
            ("abandoned", self.abandoned),
            ("panicked", self.panicked),
            ("not_run", self.not_run),
        ];
        for (key, value) in strings {
            if let Some(value) = value {
                visitor.visit_pair(Key::from_str(key), Value::from(value))?;
            }
        }
        for (key, value) in numbers {
            if let Some(value) = value {
                visitor.visit_pair(Key::from_str(key), Value::from(value))?;
            }
        }
        for (key, value) in [("pid", self.pid), ("exit_code", self.exit_code)] {
            if let Some(value) = value {
                visitor.visit_pair(Key::from_str(key), Value::from(value))?;
            }
        }
        Ok(())
    }
}

/// A duration the way an operator reads it: `12ms`, `2.5s`.
pub(crate) struct Secs(pub(crate) Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms < 1000 {
            write!(f, "{ms}ms")
        } else if ms % 1000 == 0 {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{:.1}s", self.0.as_secs_f64())
        }
    }
}

/// How long a [`Text`] may grow: a handler's line is under 120 bytes but
/// for the prefix, whose program name a file system caps at 255.
const TEXT_CAPACITY: usize = 512;

/// A line built in a fixed buffer, without the allocator or, but for a
/// fraction of a second, `core::fmt`: the signal handler makes its lines
/// as it runs (so nothing of them costs at start-up), and may neither
/// allocate nor lock. Async-signal-safe. Text beyond the capacity is cut
/// at a character boundary.
pub(crate) struct Text {
    bytes: [u8; TEXT_CAPACITY],
    len: usize,
}

impl Text {
    pub(crate) const fn new() -> Self {
        Text {
            bytes: [0; TEXT_CAPACITY],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `str`s, cut at character boundaries, are written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }

    pub(crate) fn str(&mut self, text: &str) -> &mut Self {
        let mut take = text.len().min(TEXT_CAPACITY - self.len);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        self.push_bytes(&text.as_bytes()[..take])
    }

    /// Ends the line with a newline, in place of its last character should
    /// the buffer be full.
    pub(crate) fn end_line(&mut self) -> &[u8] {
        if self.len == TEXT_CAPACITY {
            // Drop the last character: back from its last byte to its first
            // (UTF-8's continuation bytes are 0b10xx_xxxx).
            self.len -= 1;
            while self.len > 0 && (self.bytes[self.len] & 0xC0) == 0x80 {
                self.len -= 1;
            }
        }
        self.str("\n");
        &self.bytes[..self.len]
    }

    pub(crate) fn number(&mut self, n: u128) -> &mut Self {
        let mut digits = [0u8; 39];
        let mut at = digits.len();
        // The digits past 64 bits in 128 (a division there is a call), the
        // rest in 64: every count and time here fits.
        let mut wide = n;
        let mut n = loop {
            match u64::try_from(wide) {
                Ok(n) => break n,
                Err(_) => {
                    at -= 1;
                    digits[at] = b'0' + (wide % 10) as u8;
                    wide /= 10;
                }
            }
        };
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push_bytes(&digits[at..])
    }

    /// Bytes that end a character (ASCII digits, or a `str` cut at a
    /// character's end), as many as fit.
    fn push_bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let take = bytes.len().min(TEXT_CAPACITY - self.len);
        self.bytes[self.len..self.len + take].copy_from_slice(&bytes[..take]);
        self.len += take;
        self
    }

    /// As [`Secs`] writes it (through it for a fraction of a second above
    /// one, which needs its rounding; `core::fmt` with this buffer as its
    /// sink neither allocates nor locks).
    pub(crate) fn secs(&mut self, time: Duration) -> &mut Self {
        let ms = time.as_millis();
        if ms < 1000 {
            self.number(ms).str("ms")
        } else if ms % 1000 == 0 {
            self.number(ms / 1000).str("s")
        } else {
            let _ = fmt::write(self, format_args!("{}", Secs(time)));
            self
        }
    }

    pub(crate) fn int(&mut self, n: i64) -> &mut Self {
        if n < 0 {
            self.str("-");
        }
        self.number(u128::from(n.unsigned_abs()))
    }

    /// As [`Count`] writes it.
    pub(crate) fn count(&mut self, n: usize, one: &str) -> &mut Self {
        match (n, one) {
            (1, one) => self.str("1 ").str(one),
            (n, "child") => self.number(n as u128).str(" children"),
            (n, one) => self.number(n as u128).str(" ").str(one).str("s"),
        }
    }

    /// As [`SignalName`] writes it.
    pub(crate) fn signal(&mut self, sig: i32) -> &mut Self {
        match crate::signal::name(sig) {
            Some(name) => self.str(name),
            None => self.str("signal ").number(u128::from(sig.unsigned_abs())),
        }
    }
}

impl fmt::Write for Text {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.str(text);
        Ok(())
    }
}

/// Time left, one way everywhere: seconds with one decimal, rounded down
/// (never promising more than there is): `9.4s`, `0.0s`.
pub(crate) struct Left(pub(crate) Duration);

impl fmt::Display for Left {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = self.0.as_millis() / 100;
        write!(f, "{}.{}s", tenths / 10, tenths % 10)
    }
}

/// `1 guard`, `3 finalizers`, `2 children`.
pub(crate) struct Count(pub(crate) usize, pub(crate) &'static str);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (1, one) => write!(f, "1 {one}"),
            (n, "child") => write!(f, "{n} children"),
            (n, one) => write!(f, "{n} {one}s"),
        }
    }
}

/// `SIGTERM`, or `signal 42` for one without a name.
pub(crate) struct SignalName(pub(crate) i32);

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::signal::name(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_writes_as_the_formatters_do() {
        for ms in [0, 1, 12, 999, 1000, 1250, 2500, 2550, 9999, 10_000, 30_000, 86_400_000, 123_456] {
            let time = Duration::from_millis(ms);
            assert_eq!(Text::new().secs(time).as_str(), Secs(time).to_string());
        }
        let edge = u128::from(u64::MAX);
        for n in [0, 7, 10, 4_294_967_295, edge, edge + 1, edge * 10, 10 * (edge + 1), u128::MAX] {
            assert_eq!(Text::new().number(n).as_str(), n.to_string());
        }
        for sig in [crate::signal::SIGTERM, crate::signal::SIGINT, 63] {
            assert_eq!(Text::new().signal(sig).as_str(), SignalName(sig).to_string());
        }
        for n in [0, 1, 2, 17] {
            for one in ["guard", "finalizer", "child", "cleanup"] {
                assert_eq!(Text::new().count(n, one).as_str(), Count(n, one).to_string());
            }
        }
        for n in [0, -1, 143, i64::MIN, i64::MAX] {
            assert_eq!(Text::new().int(n).as_str(), n.to_string());
        }
    }

    #[test]
    fn a_full_text_is_cut_at_a_character_and_still_ends_its_line() {
        let mut text = Text::new();
        for _ in 0..TEXT_CAPACITY {
            text.str("é");
        }
        assert_eq!(text.as_str().len(), TEXT_CAPACITY);
        let line = text.end_line();
        assert_eq!(line.last(), Some(&b'\n'));
        let line = std::str::from_utf8(line).expect("a whole line of whole characters");
        assert_eq!(line.len(), TEXT_CAPACITY - 1);
        assert!(line.trim_end().chars().all(|c| c == 'é'));
        let mut short = Text::new();
        assert_eq!(short.str("SIGTERM received").end_line(), b"SIGTERM received\n");
    }

    #[test]
    fn formats_for_operators() {
        assert_eq!(Secs(Duration::from_millis(12)).to_string(), "12ms");
        assert_eq!(Secs(Duration::from_secs(10)).to_string(), "10s");
        assert_eq!(Secs(Duration::from_millis(2500)).to_string(), "2.5s");
        assert_eq!(Count(1, "guard").to_string(), "1 guard");
        assert_eq!(Count(3, "finalizer").to_string(), "3 finalizers");
        assert_eq!(Count(2, "child").to_string(), "2 children");
        assert_eq!(SignalName(crate::signal::SIGTERM).to_string(), "SIGTERM");
    }

    #[test]
    fn time_left_is_always_tenths_of_seconds_rounded_down() {
        assert_eq!(Left(Duration::from_millis(999)).to_string(), "0.9s");
        assert_eq!(Left(Duration::from_millis(2000)).to_string(), "2.0s");
        assert_eq!(Left(Duration::from_millis(12_345)).to_string(), "12.3s");
        assert_eq!(Left(Duration::ZERO).to_string(), "0.0s");
    }
}
