//! Sleepers poll the read end of a pipe that the signal handler makes
//! readable with one `write(2)` (async-signal-safe): the self-pipe trick.
//! Nobody reads it, so once written it stays readable for good, which is
//! what a shutdown is: every sleeper, present and future, wakes.

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::Duration;

use super::fd;

/// The pipe's ends, -1 until the first sleeper makes them.
static READ: AtomicI32 = AtomicI32::new(-1);
static WRITE: AtomicI32 = AtomicI32::new(-1);

/// Whether [`wake`] may be called from a signal handler.
pub(crate) const WAKES_FROM_HANDLER: bool = true;

/// When the pipe cannot be had (no descriptors left), how long a sleeper
/// sleeps at most before it looks at `word` again.
const WITHOUT_PIPE: Duration = Duration::from_millis(10);

/// Sleeps while `word` is 0, until [`wake`], a signal or `timeout`, maybe
/// less (the caller looks at its flag again).
pub(crate) fn wait(word: &AtomicU32, timeout: Option<Duration>) {
    // The pipe is published before `word` is read, and `wake` stores
    // `word` before it reads the pipe (all SeqCst): either this sleeper
    // sees the shutdown, or the waker sees the pipe and writes to it.
    let read = ends().map(|(read, _)| read);
    if word.load(Ordering::SeqCst) != 0 {
        return;
    }
    match read {
        Some(read) => {
            // Rounded up: a timeout below a millisecond must not spin.
            let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
            let _ = fd::poll_readable([read], timeout);
        }
        None => std::thread::sleep(timeout.map_or(WITHOUT_PIPE, |t| t.min(WITHOUT_PIPE))),
    }
}

/// Wakes every sleeper of `word` (which the caller set), and every later
/// one. Async-signal-safe.
pub(crate) fn wake(_word: &AtomicU32) {
    let write = WRITE.load(Ordering::SeqCst);
    if write >= 0 {
        // Non-blocking: a full pipe is readable already.
        let _ = fd::write(write, &[1]);
    }
}

/// The pipe, made by the first sleeper; `None` if it cannot be.
fn ends() -> Option<(i32, i32)> {
    let read = READ.load(Ordering::SeqCst);
    if read >= 0 {
        return Some((read, WRITE.load(Ordering::SeqCst)));
    }
    let (read, write) = fd::pipe_cloexec().ok()?;
    if fd::set_nonblocking(write).is_err() {
        fd::close(read);
        fd::close(write);
        return None;
    }
    // The write end first: a waker that sees it finds a sleeper's end.
    if WRITE
        .compare_exchange(-1, write, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // Another sleeper made one meanwhile: use its.
        fd::close(read);
        fd::close(write);
        while READ.load(Ordering::SeqCst) < 0 {
            std::hint::spin_loop();
        }
        return Some((READ.load(Ordering::SeqCst), WRITE.load(Ordering::SeqCst)));
    }
    READ.store(read, Ordering::SeqCst);
    super::hooks::after_fork(forget_after_fork);
    Some((read, write))
}

/// In the child of a `fork`: the pipe is shared with the parent, whose
/// shutdown would wake this process's sleepers; the child makes its own.
/// Async-signal-safe.
fn forget_after_fork() {
    let (read, write) = (READ.swap(-1, Ordering::SeqCst), WRITE.swap(-1, Ordering::SeqCst));
    for end in [read, write] {
        if end >= 0 {
            fd::close(end);
        }
    }
}
