//! The console's control events, standing in for the shutdown signals:
//! Ctrl-C is SIGINT, Ctrl-Break SIGBREAK, and the console's close, a logoff
//! and a system shutdown (what `docker stop` sends a Windows container) are
//! SIGTERM.
//!
//! Windows calls the handler on a thread of its own, so the handler may do
//! what any thread may. For a close, logoff or shutdown it ends the process
//! as soon as the handler returns, and in any case a few seconds after the
//! event: the handler then never returns, and the drain, bounded by that
//! limit ([`Origin::Closing`]), ends the process itself.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use windows_sys::core::BOOL;
use windows_sys::Win32::System::Console::{
    GetConsoleWindow, SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_CLOSE_EVENT, CTRL_C_EVENT,
    CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT,
};
use windows_sys::Win32::System::Registry::{RegGetValueW, HKEY_CURRENT_USER, RRF_RT_REG_SZ};
use windows_sys::Win32::System::Threading::{Sleep, INFINITE};

/// The signal numbers: the C runtime's `signal.h` where it has the signal
/// (INT 2, ILL 4, FPE 8, SEGV 11, TERM 15, BREAK 21, ABRT 22); Linux's for
/// the others, which never arrive here and are named so that a program
/// (and `signals = "…"`) reads the same on every platform.
pub(crate) mod numbers {
    pub(crate) const SIGHUP: i32 = 1;
    pub(crate) const SIGINT: i32 = 2;
    pub(crate) const SIGQUIT: i32 = 3;
    pub(crate) const SIGILL: i32 = 4;
    pub(crate) const SIGBUS: i32 = 7;
    pub(crate) const SIGFPE: i32 = 8;
    pub(crate) const SIGKILL: i32 = 9;
    pub(crate) const SIGUSR1: i32 = 10;
    pub(crate) const SIGSEGV: i32 = 11;
    pub(crate) const SIGUSR2: i32 = 12;
    pub(crate) const SIGPIPE: i32 = 13;
    pub(crate) const SIGALRM: i32 = 14;
    pub(crate) const SIGTERM: i32 = 15;
    pub(crate) const SIGCHLD: i32 = 17;
    pub(crate) const SIGCONT: i32 = 18;
    pub(crate) const SIGSTOP: i32 = 19;
    pub(crate) const SIGTSTP: i32 = 20;
    pub(crate) const SIGBREAK: i32 = 21;
    pub(crate) const SIGABRT: i32 = 22;
    pub(crate) const SIGWINCH: i32 = 28;
}

use numbers::{SIGBREAK, SIGINT, SIGTERM};

/// The events a shutdown starts on unless the program names others:
/// close/logoff/shutdown, Ctrl-C and Ctrl-Break.
pub(crate) const DEFAULT: &[i32] = &[SIGTERM, SIGINT, SIGBREAK];

/// The interrupts, and the key a person presses for each: a second one
/// (of either) forces the exit.
pub(crate) const INTERRUPTS: &[(i32, &str)] = &[(SIGINT, "Ctrl-C"), (SIGBREAK, "Ctrl-Break")];

/// The names of [`numbers`].
const NAMES: [(i32, &str); 20] = [
    (numbers::SIGHUP, "SIGHUP"),
    (numbers::SIGINT, "SIGINT"),
    (numbers::SIGQUIT, "SIGQUIT"),
    (numbers::SIGILL, "SIGILL"),
    (numbers::SIGBUS, "SIGBUS"),
    (numbers::SIGFPE, "SIGFPE"),
    (numbers::SIGKILL, "SIGKILL"),
    (numbers::SIGUSR1, "SIGUSR1"),
    (numbers::SIGSEGV, "SIGSEGV"),
    (numbers::SIGUSR2, "SIGUSR2"),
    (numbers::SIGPIPE, "SIGPIPE"),
    (numbers::SIGALRM, "SIGALRM"),
    (numbers::SIGTERM, "SIGTERM"),
    (numbers::SIGCHLD, "SIGCHLD"),
    (numbers::SIGCONT, "SIGCONT"),
    (numbers::SIGSTOP, "SIGSTOP"),
    (numbers::SIGTSTP, "SIGTSTP"),
    (numbers::SIGBREAK, "SIGBREAK"),
    (numbers::SIGABRT, "SIGABRT"),
    (numbers::SIGWINCH, "SIGWINCH"),
];

/// The name of signal `sig` (`"SIGTERM"`), if it is one here.
pub(crate) fn name(sig: i32) -> Option<&'static str> {
    NAMES.iter().find(|(n, _)| *n == sig).map(|(_, name)| *name)
}

/// How long Windows lets a console program live after a close event: the
/// user's `HungAppTimeout` (what `SPI_GETHUNGAPPTIMEOUT` reads; 5 s unless
/// changed), in ms; read when the handler is installed.
static CLOSE_LIMIT_MS: AtomicU64 = AtomicU64::new(5_000);
/// After a logoff or a shutdown event: `WaitToKillAppTimeout`
/// (`SPI_GETWAITTOKILLTIMEOUT`; 5 s unless changed).
static SHUTDOWN_LIMIT_MS: AtomicU64 = AtomicU64::new(5_000);

/// A number of milliseconds the user's `Control Panel\Desktop` key holds as
/// text under `name` (a NUL-terminated wide string), if it does. (Read from
/// the registry, not through user32's `SystemParametersInfo`: a console
/// program that loads user32 gets no logoff or shutdown event any more.)
fn desktop_ms(name: &[u16]) -> Option<u64> {
    let key: Vec<u16> = "Control Panel\\Desktop\0".encode_utf16().collect();
    let mut text = [0u16; 32];
    let mut size = std::mem::size_of_val(&text) as u32;
    // SAFETY: reads a string value of a key of the current user into a
    // live buffer of `size` bytes; both names are NUL-terminated.
    let got = unsafe {
        RegGetValueW(
            HKEY_CURRENT_USER,
            key.as_ptr(),
            name.as_ptr(),
            RRF_RT_REG_SZ,
            std::ptr::null_mut(),
            text.as_mut_ptr().cast(),
            &mut size,
        )
    };
    if got != 0 {
        return None;
    }
    let len = text.iter().position(|&c| c == 0).unwrap_or(text.len());
    String::from_utf16(&text[..len]).ok()?.trim().parse().ok().filter(|&ms| ms > 0)
}

fn read_limits() {
    let wide = |name: &str| -> Vec<u16> { name.encode_utf16().chain([0]).collect() };
    if let Some(ms) = desktop_ms(&wide("HungAppTimeout")) {
        CLOSE_LIMIT_MS.store(ms, Ordering::Relaxed);
    }
    if let Some(ms) = desktop_ms(&wide("WaitToKillAppTimeout")) {
        SHUTDOWN_LIMIT_MS.store(ms, Ordering::Relaxed);
    }
}

/// There are no signal masks on Windows.
pub(crate) struct Mask(());

/// No masks here: nothing to block.
pub(crate) fn block(_signals: &[i32]) -> Mask {
    Mask(())
}

/// No masks here.
pub(crate) fn unblock_all() {}

/// No masks here.
pub(crate) fn restore(_mask: &Mask) {}

/// Where an event came from, as far as the handler needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A deadline timer (never here).
    #[allow(dead_code)]
    Timer,
    /// A signal from the parent process (never here).
    #[allow(dead_code)]
    Parent,
    /// Ctrl-C or Ctrl-Break: the process lives on when the handler returns.
    Sent,
    /// A close, logoff or shutdown: Windows ends the process this long
    /// after the event, and at once when the handler returns.
    Closing(Duration),
}

/// Windows says nothing of who sent an event: nothing to tell apart.
pub(crate) fn tell_parent_apart(_tell: bool) {}

/// The handler for SIGINT, SIGBREAK and SIGTERM, as `fn(i32, Origin)`
/// addresses (0: none).
static HANDLERS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
static INSTALLED: AtomicBool = AtomicBool::new(false);

fn slot(sig: i32) -> Option<&'static AtomicUsize> {
    match sig {
        SIGINT => Some(&HANDLERS[0]),
        SIGBREAK => Some(&HANDLERS[1]),
        SIGTERM => Some(&HANDLERS[2]),
        _ => None,
    }
}

/// Runs `handler(sig, origin)` when the console event that stands for
/// `sig` comes (SIGINT: Ctrl-C; SIGBREAK: Ctrl-Break; SIGTERM: close,
/// logoff, shutdown). Another signal never comes here: nothing to do.
pub(crate) fn register(sig: i32, handler: fn(i32, Origin)) -> io::Result<()> {
    let Some(slot) = slot(sig) else {
        return Ok(());
    };
    slot.store(handler as usize, Ordering::SeqCst);
    if !INSTALLED.swap(true, Ordering::SeqCst) {
        read_limits();
        // SAFETY: adds a handler routine that lives as long as the program.
        if unsafe { SetConsoleCtrlHandler(Some(routine), 1) } == 0 {
            INSTALLED.store(false, Ordering::SeqCst);
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn limit(ms: &AtomicU64) -> Duration {
    Duration::from_millis(ms.load(Ordering::Relaxed))
}

/// The console's handler routine, on a thread Windows starts for it.
unsafe extern "system" fn routine(event: u32) -> BOOL {
    let (sig, origin) = match event {
        CTRL_C_EVENT => (SIGINT, Origin::Sent),
        CTRL_BREAK_EVENT => (SIGBREAK, Origin::Sent),
        CTRL_CLOSE_EVENT => (SIGTERM, Origin::Closing(limit(&CLOSE_LIMIT_MS))),
        CTRL_LOGOFF_EVENT | CTRL_SHUTDOWN_EVENT => {
            (SIGTERM, Origin::Closing(limit(&SHUTDOWN_LIMIT_MS)))
        }
        _ => return 0,
    };
    let raw = slot(sig).map_or(0, |slot| slot.load(Ordering::SeqCst));
    if raw == 0 {
        // Not a signal the program handles: the next handler (or the
        // default, which ends the process) decides.
        return 0;
    }
    // SAFETY: every non-zero slot holds a `fn(i32, Origin)` stored by
    // `register`.
    let handler: fn(i32, Origin) = unsafe { std::mem::transmute::<usize, fn(i32, Origin)>(raw) };
    handler(sig, origin);
    if matches!(origin, Origin::Closing(_)) {
        // Windows ends the process once this returns: the drain, on other
        // threads, ends it first, within the limit.
        loop {
            // SAFETY: sleeps the calling thread.
            unsafe { Sleep(INFINITE) };
        }
    }
    1
}

/// Runs the handler routine for `event` on the calling thread, as Windows
/// does on a thread of its own; whether the routine took it.
pub(crate) fn deliver(event: u32) -> bool {
    // SAFETY: our own routine, which any thread may run.
    unsafe { routine(event) != 0 }
}

/// Not on Windows (only as PID 1 on Linux).
pub(crate) fn register_plain(_sig: i32, _wake: fn()) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no signals on Windows",
    ))
}

/// Ends the process as the default handler of `sig`'s event would:
/// `STATUS_CONTROL_C_EXIT` (0xC000013A); for SIGABRT, 3, as `abort` does.
pub(crate) fn raise_default(sig: i32) {
    let code = if sig == numbers::SIGABRT {
        3
    } else {
        windows_sys::Win32::Foundation::STATUS_CONTROL_C_EXIT
    };
    super::exit::hard_exit(code);
}

/// With a console window, whether a person may have pressed Ctrl-C: yes;
/// `None` without one.
pub(crate) fn terminal_foreground() -> Option<bool> {
    // SAFETY: takes no arguments; returns the console's window or null.
    let window = unsafe { GetConsoleWindow() };
    (!window.is_null()).then_some(true)
}

/// Process groups cannot be asked about here: not known to lead one.
pub(crate) fn leads_own_group() -> bool {
    false
}
