//! The guardian: a small process that does the durable cleanups when the
//! program dies without doing them (SIGKILL, the OOM killer, a crash).
//!
//! `#[graceful_main(guardian)]` starts it first thing, while the process has
//! one thread: the program's own executable, run again (`/proc/self/exe`)
//! as `cleanup-guardian <pid>,<timeout_ms>` with the pipe at fd 3, which
//! `run` sees before anything else and turns into [`serve`] instead of
//! `main`'s body. The program forks it (the raw system call: no fork
//! handlers) and does not wait for it to load its image. A fresh
//! image rather than a `fork`'s copy: its memory is its own few pages, not a
//! copy of the program's.
//!
//! The program keeps the write end of a pipe; the guardian the read end, and
//! a pidfd of the program. Durable cleanups are data ([`wire::Record`]):
//! each registration, claim, completion and cancellation is one record (and
//! a command's start, written by the command's own process before its exec),
//! written before the call returns, so it has reached the guardian (the
//! pipe's buffer outlives the writer) whatever happens next. On a normal end
//! the program does every durable cleanup itself, the guardian reads that
//! they are done, and leaves without a word. When the program dies with some
//! not done, the guardian does them, says how the program died, and leaves.
//!
//! The guardian runs in a session of its own (no controlling terminal, and a
//! kill of the program's process group does not reach it), with stdin and
//! stdout on `/dev/null`: a reader of the program's stdout sees EOF when the
//! program dies. It shares the program's stderr only to say, the moment the
//! program has died, how it died and what it will clean; then it lets go of
//! it (a reader of stderr sees EOF a moment after the death, with that line
//! in it) and writes its later lines through an `O_PATH` descriptor, reopened
//! for each line, which never holds the stream open.

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

/// Where the guardian finds the read end of the pipe, and a pidfd of the
/// program (opened by the program itself: the guardian has it even when
/// the program dies before the guardian is up).
const PIPE_FD: i32 = 3;
const PIDFD_FD: i32 = 4;

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

/// In the guardian's process (argv `cleanup-guardian <spec>`): serves, never
/// returns. Elsewhere does nothing. Called first thing by `run`.
pub(crate) fn serve_if_asked() {
    let mut args = std::env::args_os();
    if args.next().as_deref() != Some(std::ffi::OsStr::new("cleanup-guardian")) {
        return;
    }
    let (Some(spec), None) = (args.next(), args.next()) else {
        return;
    };
    // A guardian has the pipe at fd 3: a program merely named so, run by
    // hand, goes on to its `main`.
    // SAFETY: fstat(2) fills a zeroed stat of the right type.
    let piped = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        libc::fstat(PIPE_FD, &mut stat) == 0 && stat.st_mode & libc::S_IFMT == libc::S_IFIFO
    };
    if piped {
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
    if crate::exit_status::is_pid_one() {
        // The kernel kills every process of a PID namespace with its first:
        // a guardian could not outlive this one.
        crate::log::always(format_args!(
            "cleanup: no guardian as PID 1 (it would die with this process); \
             run behind an init (`docker run --init`) to have one"
        ));
        return;
    }
    if let Err(err) = spawn(timeout) {
        crate::log::always(format_args!(
            "cleanup: cannot start the guardian ({err}); durable cleanups will not survive a SIGKILL"
        ));
    }
}

/// A pidfd of `pid`, or -1 (before Linux 5.3, or `pid` gone).
fn pidfd_open(pid: i32) -> i32 {
    // SAFETY: the pidfd_open(2) system call with a pid and no flags.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    i32::try_from(fd).unwrap_or(-1)
}

/// What the forked child needs before its exec (its own copy of it).
#[cfg(target_os = "linux")]
struct Launch {
    read: i32,
    pidfd: i32,
    argv: [*const libc::c_char; 3],
    envp: *const *const libc::c_char,
}

#[cfg(target_os = "linux")]
fn spawn(timeout: Duration) -> io::Result<()> {
    use std::ffi::CString;

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

    extern "C" {
        static environ: *const *const libc::c_char;
    }

    let mut ends = [0; 2];
    // SAFETY: pipe2(2) fills the two-element array.
    if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let read = above_targets(ends[0])?;
    let write = above_targets(ends[1])?;
    let pid = std::process::id();
    let pidfd = match pidfd_open(pid as i32) {
        -1 => -1,
        fd => above_targets(fd).unwrap_or(-1),
    };
    let spec = CString::new(format!("{pid},{}", timeout.as_millis())).map_err(io::Error::other)?;
    let launch = Launch {
        read,
        pidfd,
        argv: [GUARDIAN_ARG0.as_ptr(), spec.as_ptr(), std::ptr::null()],
        // SAFETY: reads the C library's pointer; one thread, so nothing
        // changes it meanwhile.
        envp: unsafe { environ },
    };

    // A fork of this (one-threaded) process that only makes the system
    // calls of `exec_guardian`, signals blocked in it until the guardian's
    // image has replaced it (the mask outlives execve; the guardian
    // unblocks them): no handler of the program ever runs in it. The raw
    // system call, not the C library's fork: no fork handlers run in the
    // child. The program does not wait for it to load its image.
    // SAFETY: sigfillset/pthread_sigmask on live sets; clone(2) with the
    // flags of fork(2); the child calls `exec_guardian` only, which never
    // returns.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut previous);
        let child = libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0);
        if child == 0 {
            exec_guardian(&launch);
        }
        let error = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
        libc::close(read);
        if pidfd >= 0 {
            libc::close(pidfd);
        }
        if child < 0 {
            libc::close(write);
            return Err(error);
        }
    }
    PIPE.store(write, Ordering::SeqCst);
    crate::hooks::install_fork_hook();
    Ok(())
}

/// The guardian's argv[0], by which `run` knows it is one.
const GUARDIAN_ARG0: &std::ffi::CStr = c"cleanup-guardian";

/// The forked child: puts the pipe at fd 3, the pidfd at fd 4, stdin and
/// stdout on /dev/null, and becomes the guardian. System calls only; never
/// returns.
#[cfg(target_os = "linux")]
fn exec_guardian(launch: &Launch) -> ! {
    // SAFETY: dup2(2), open(2), execve(2) and _exit(2) with descriptors this
    // child owns and NUL-terminated arrays in its copy of the memory.
    unsafe {
        // Its own session before its first instruction of its own: a kill
        // of the program's process group right after start misses it.
        libc::setsid();
        libc::dup2(launch.read, PIPE_FD);
        if launch.pidfd >= 0 {
            libc::dup2(launch.pidfd, PIDFD_FD);
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            if null > 2 {
                libc::close(null);
            }
        }
        libc::execve(
            c"/proc/self/exe".as_ptr(),
            launch.argv.as_ptr(),
            launch.envp,
        );
        libc::_exit(127)
    }
}

#[cfg(not(target_os = "linux"))]
fn spawn(_timeout: Duration) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "the guardian needs Linux",
    ))
}
