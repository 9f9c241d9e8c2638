//! The program's end of the pipe to its guardian (see `guardian`): the
//! records that tell it of each durable cleanup, written before the call
//! that makes, runs or cancels one returns. Low in the layers, so the
//! registry and the children can tell the guardian; the guardian's launch
//! and its serving sit on top, in `guardian`.

mod wire;

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Mutex;

pub(crate) use wire::{Command, Record, Work};

use crate::sync::lock;
use crate::sys;

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
    if sys::fd::write_all(fd, &bytes).is_err() {
        // The guardian is gone (EPIPE): nobody to tell any more.
        PIPE.store(-1, Ordering::Relaxed);
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
    let Ok(copy) = sys::fd::duplicate(fd, 0) else {
        return command.spawn();
    };
    sys::guardian::write_in_child(command, copy, bytes);
    let child = command.spawn();
    // Our copy, which the child had until its exec.
    sys::fd::close(copy);
    child
}

/// The guardian is up: `write` is the pipe's write end, kept for the
/// process's life.
pub(crate) fn connect(write: i32) {
    PIPE.store(write, Ordering::SeqCst);
    crate::runtime::after_fork(forget_after_fork);
}

/// A `fork`ed child is not the program the guardian watches: it must not
/// keep the pipe open (the guardian would wait for it) nor write to it.
/// Async-signal-safe.
fn forget_after_fork() {
    let fd = PIPE.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // The child's copy of the write end.
        sys::fd::close(fd);
    }
}

