//! The guardian: a small process that does the durable cleanups when the
//! program dies without doing them (SIGKILL, the OOM killer, a crash).
//!
//! `#[graceful_main(guardian)]` starts it first thing, while the process has
//! one thread: the program's own executable, run again (`/proc/self/exe`)
//! with `CLEANUP_GUARDIAN` in its environment, which `run` sees before
//! anything else and turns into [`serve`] instead of `main`'s body. A fresh
//! image rather than a `fork`'s copy: its memory is its own few pages, not a
//! copy of the program's.
//!
//! The program keeps the write end of a pipe; the guardian the read end, and
//! a pidfd of the program. Durable cleanups are data ([`wire::Record`]):
//! each registration, claim, completion and cancellation is one record,
//! written before the call returns, so it has reached the guardian (the
//! pipe's buffer outlives the writer) whatever happens next. On a normal end
//! the program does every durable cleanup itself, the guardian reads that
//! they are done, and leaves without a word. When the program dies with some
//! not done, the guardian does them, says how the program died, and leaves.
//!
//! The guardian runs in a session of its own (no terminal, and a kill of
//! the program's process group does not reach it), with stdin, stdout and
//! stderr on `/dev/null`: it keeps neither the terminal nor the program's
//! pipes open. It reaches the program's stderr only to report, through an
//! `O_PATH` descriptor that does not count as a writer: a reader of the
//! program's stderr sees EOF when the program dies, as without a guardian.

mod durable;
mod serve;
mod wire;

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub use durable::{remove_on_exit, run_on_exit};
pub(crate) use wire::{Record, Work};

use crate::state::lock;

/// Set in the guardian's environment: `pid,timeout_ms,stderr` of the
/// program it watches.
pub(crate) const ENV: &str = "CLEANUP_GUARDIAN";

/// Where the guardian finds the read end of the pipe, and the program's
/// stderr as an `O_PATH` descriptor.
const PIPE_FD: i32 = 3;
const STDERR_FD: i32 = 4;

/// The write end of the pipe to the guardian; -1 when there is none.
static PIPE: AtomicI32 = AtomicI32::new(-1);
/// Held while a record is written, so that records never interleave.
static WRITING: Mutex<()> = Mutex::new(());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Whether a guardian watches this process.
pub(crate) fn active() -> bool {
    PIPE.load(Ordering::Relaxed) >= 0
}

/// A fresh id for a durable cleanup.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Tells the guardian, if there is one. Returns once the record is in the
/// pipe: the guardian reads it even if this process dies the next instant.
pub(crate) fn send(record: &Record) {
    let fd = PIPE.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    let bytes = record.encode();
    let _writing = lock(&WRITING);
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        // SAFETY: write(2) to our pipe's write end from a live slice.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // The guardian is gone (EPIPE): nobody to tell any more.
            PIPE.store(-1, Ordering::Relaxed);
            return;
        }
        rest = &rest[n as usize..];
    }
}

/// Spawns `command`, whose process tells the guardian `record` itself,
/// between its `fork` and its `exec`. Told by the parent before the spawn,
/// a death before the `fork` would leave the command never run; after it, a
/// death before the record would have it run twice.
pub(crate) fn spawn_telling(
    command: &mut std::process::Command,
    record: &Record,
) -> io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt as _;

    let fd = PIPE.load(Ordering::Relaxed);
    if fd < 0 {
        return command.spawn();
    }
    let bytes = record.encode();
    // A record this short is written whole by one write(2) (PIPE_BUF), but
    // a longer one of another thread's could be split around it: none is
    // written until the child has exec'd.
    let _writing = lock(&WRITING);
    // The child's own copy: its fork hook closes the one in `PIPE`.
    // SAFETY: fcntl(2) duplicating a descriptor we own.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if copy < 0 {
        return command.spawn();
    }
    // SAFETY: the closure runs in the forked child and makes only
    // async-signal-safe calls (sigaction, write) on memory it owns.
    unsafe {
        command.pre_exec(move || {
            // The guardian gone, the write fails with EPIPE instead of
            // killing the command.
            let mut ignore: libc::sigaction = std::mem::zeroed();
            ignore.sa_sigaction = libc::SIG_IGN;
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGPIPE, &ignore, &mut old);
            libc::write(copy, bytes.as_ptr().cast(), bytes.len());
            libc::sigaction(libc::SIGPIPE, &old, std::ptr::null_mut());
            Ok(())
        })
    };
    let child = command.spawn();
    // SAFETY: close(2) of our own copy, which the child had until its exec.
    unsafe { libc::close(copy) };
    child
}

/// In the guardian's process (`CLEANUP_GUARDIAN` set): serves, never
/// returns. Elsewhere does nothing. Called first thing by `run`.
pub(crate) fn serve_if_asked() {
    if let Some(spec) = std::env::var_os(ENV) {
        serve::serve(&spec);
    }
}

/// A `fork`ed child is not the program the guardian watches: it must not
/// keep the pipe open (the guardian would wait for it) nor write to it.
/// Async-signal-safe.
pub(crate) fn forget_after_fork() {
    let fd = PIPE.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: close(2) of the child's copy of the write end.
        unsafe { libc::close(fd) };
    }
}

/// Starts the guardian. Called while the process has one thread, before
/// any handler or cleanup exists. A guardian that cannot start is said on
/// stderr; the program runs on without one.
pub(crate) fn start(timeout: Duration) {
    if active() {
        return;
    }
    if let Err(err) = spawn(timeout) {
        crate::log::always(format_args!(
            "cleanup: cannot start the guardian ({err}); durable cleanups will not survive a SIGKILL"
        ));
    }
}

#[cfg(target_os = "linux")]
fn spawn(timeout: Duration) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt as _;
    use std::ptr;

    fn check(ret: libc::c_int) -> io::Result<()> {
        match ret {
            0 => Ok(()),
            -1 => Err(io::Error::last_os_error()),
            err => Err(io::Error::from_raw_os_error(err)),
        }
    }
    /// Moves `fd` to a number above the ones the child gets (3, 4), so no
    /// `dup2` in the child meets itself and keeps its close-on-exec flag.
    fn above_targets(fd: i32) -> io::Result<i32> {
        // SAFETY: fcntl(2) and close(2) on a descriptor we own.
        unsafe {
            let moved = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
            libc::close(fd);
            if moved < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(moved)
        }
    }

    let mut ends = [0; 2];
    // SAFETY: pipe2(2) fills the two-element array.
    check(unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) })?;
    let read = above_targets(ends[0])?;
    let write = above_targets(ends[1])?;
    // The program's stderr as a path only: the guardian can reopen it to
    // report, without being one of its writers meanwhile.
    // SAFETY: open(2) of a NUL-terminated literal path.
    let stderr = unsafe { libc::open(c"/proc/self/fd/2".as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    let stderr = if stderr >= 0 { above_targets(stderr).unwrap_or(-1) } else { -1 };

    let spec = format!(
        "{ENV}={},{},{}",
        std::process::id(),
        timeout.as_millis(),
        u8::from(stderr >= 0)
    );
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(key, _)| key != ENV)
        .filter_map(|(key, value)| {
            let mut entry = key.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            CString::new(entry).ok()
        })
        .collect();
    env.push(CString::new(spec).map_err(io::Error::other)?);
    let mut envp: Vec<*mut libc::c_char> = env.iter().map(|e| e.as_ptr().cast_mut()).collect();
    envp.push(ptr::null_mut());
    let argv0 = c"cleanup-guardian";
    let argv = [argv0.as_ptr().cast_mut(), ptr::null_mut()];

    // SAFETY: the posix_spawn objects are initialized before use and
    // destroyed after; every pointer handed over (paths, argv, envp) is
    // NUL-terminated and outlives the call.
    let spawned = unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        check(libc::posix_spawn_file_actions_init(&mut actions))?;
        check(libc::posix_spawnattr_init(&mut attr))?;
        let result = (|| {
            check(libc::posix_spawn_file_actions_adddup2(&mut actions, read, PIPE_FD))?;
            if stderr >= 0 {
                check(libc::posix_spawn_file_actions_adddup2(&mut actions, stderr, STDERR_FD))?;
            }
            let null = c"/dev/null".as_ptr();
            check(libc::posix_spawn_file_actions_addopen(&mut actions, 0, null, libc::O_RDONLY, 0))?;
            check(libc::posix_spawn_file_actions_addopen(&mut actions, 1, null, libc::O_WRONLY, 0))?;
            check(libc::posix_spawn_file_actions_addopen(&mut actions, 2, null, libc::O_WRONLY, 0))?;
            // No signal of the program's blocked or caught in the guardian.
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            check(libc::posix_spawnattr_setsigmask(&mut attr, &none))?;
            let mut defaults: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut defaults);
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                libc::sigaddset(&mut defaults, sig);
            }
            check(libc::posix_spawnattr_setsigdefault(&mut attr, &defaults))?;
            let flags =
                (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short;
            // Its own session before it runs a line (`posix_spawn` returns
            // while its `exec` is still under way): a kill of the program's
            // group right after start cannot reach it either. A C library
            // without the flag (glibc < 2.26) refuses it; the guardian's own
            // `setsid` then does it.
            if libc::posix_spawnattr_setflags(&mut attr, flags | libc::POSIX_SPAWN_SETSID) != 0 {
                check(libc::posix_spawnattr_setflags(&mut attr, flags))?;
            }
            let mut pid = 0;
            check(libc::posix_spawn(
                &mut pid,
                c"/proc/self/exe".as_ptr(),
                &actions,
                &attr,
                argv.as_ptr(),
                envp.as_ptr(),
            ))
        })();
        libc::posix_spawn_file_actions_destroy(&mut actions);
        libc::posix_spawnattr_destroy(&mut attr);
        libc::close(read);
        if stderr >= 0 {
            libc::close(stderr);
        }
        result
    };
    if let Err(err) = spawned {
        // SAFETY: close(2) of our own write end, never published.
        unsafe { libc::close(write) };
        return Err(err);
    }
    PIPE.store(write, Ordering::SeqCst);
    crate::hooks::install_fork_hook();
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn spawn(_timeout: Duration) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "the guardian needs Linux",
    ))
}
