//! The guardian: a small process that does the durable cleanups when the
//! program dies without doing them (SIGKILL, the OOM killer, a crash).
//!
//! `#[graceful_main(guardian)]` starts it first thing, while the process has
//! one thread: the program's own executable, run again as
//! `cleanup-guardian <pid>,<timeout_ms>` with the read end of a pipe, which
//! `run` sees before anything else and turns into [`serve`] instead of
//! `main`'s body. The program starts it (on Linux in its own memory until
//! the exec, copying none of it) and does not wait for it to load its
//! image. A fresh image rather than a `fork`'s copy: its memory is its
//! own few pages, not a copy of the program's. How it is launched, how it
//! learns that the program died and how, and how it holds the program's
//! children and stderr are the platform's (`sys::guardian`, which says
//! what each platform does).
//!
//! The program keeps the write end of the pipe; the guardian the read end.
//! Durable cleanups are data ([`wire::Record`]): each registration, claim,
//! completion and cancellation is one record (and a command's start,
//! written by the command's own process before its exec), written before
//! the call returns, so it has reached the guardian (the pipe's buffer
//! outlives the writer) whatever happens next. On a normal end the program
//! does every durable cleanup itself, the guardian reads that they are
//! done, and leaves without a word. When the program dies with some not
//! done, the guardian does them, says how the program died, and leaves.
//!
//! The guardian runs in a session of its own (no controlling terminal, and a
//! kill of the program's process group does not reach it), with stdin and
//! stdout on `/dev/null`: a reader of the program's stdout sees EOF when the
//! program dies. It shares the program's stderr only to say, the moment the
//! program has died, how it died and what it will clean; then it lets go of
//! it (a reader of stderr sees EOF a moment after the death, with that line
//! in it) and writes its later lines by whatever way the platform has of
//! reaching that stream without holding a pipe or a terminal open
//! (`sys::guardian::Stderr`).

mod durable;
mod serve;

use std::ffi::{CStr, CString};
use std::io;
use std::time::Duration;

pub use durable::{remove_on_exit, run_on_exit};

use crate::guardian_link;
use crate::sys;

/// In the guardian's process (argv `cleanup-guardian <spec>`): serves, never
/// returns. Elsewhere does nothing. Called first thing by `run`.
pub(crate) fn serve_if_asked() {
    let mut args = std::env::args_os();
    if args.next().as_deref().map(crate::sys::os_str::bytes) != Some(GUARDIAN_ARG0.to_bytes()) {
        return;
    }
    let (Some(spec), None) = (args.next(), args.next()) else {
        return;
    };
    // A guardian has the pipe: a program merely named so, run by hand, goes
    // on to its `main`.
    if sys::guardian::given_pipe() {
        serve::serve(&spec);
    }
}

/// Starts the guardian. Called while the process has one thread, before
/// any handler or cleanup exists. A guardian that cannot start is said on
/// stderr; the program runs on without one.
pub(crate) fn start(timeout: Duration) {
    if guardian_link::active() {
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

/// The guardian's argv[0], by which `run` knows it is one.
const GUARDIAN_ARG0: &CStr = c"cleanup-guardian";

/// Launches the guardian, told this process's pid and its timeout, and
/// keeps the pipe's write end.
fn spawn(timeout: Duration) -> io::Result<()> {
    let spec = CString::new(format!("{},{}", std::process::id(), timeout.as_millis()))
        .map_err(io::Error::other)?;
    let write = sys::guardian::launch(GUARDIAN_ARG0, &spec)?;
    guardian_link::connect(write);
    Ok(())
}
