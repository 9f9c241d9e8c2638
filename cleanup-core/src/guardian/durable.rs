//! Durable cleanups: finalizers that are data, so that the guardian can do
//! them when the program cannot.

use std::io;
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::guardian_link::{self as link, next_id, send, Record, Work};
use crate::registry::Finalizer;

/// A finalizer that removes `path` — a file, or a directory and everything
/// in it — when the process ends, however it ends; and, with
/// `#[graceful_main(guardian)]`, even when the process is SIGKILLed, killed
/// by the OOM killer or crashes: the guardian process removes it then.
///
/// A relative path is taken from the working directory at the time of the
/// call. A symbolic link is removed, never followed: nothing outside the tree
/// is touched (as [`std::fs::remove_dir_all`]). A path that is already gone is
/// not an error, and one that does not exist yet may be registered (register
/// first, then create: nothing is left behind if the process dies between). It is an ordinary [`Finalizer`]: it runs once, with the
/// other finalizers, newest first, and [`Finalizer::cancel`] cancels it
/// (in the guardian too, once `cancel` returns).
///
/// ```
/// let dir = std::env::temp_dir().join(format!("scratch-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let scratch = cleanup::remove_on_exit(&dir);
/// # scratch.cancel();
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn remove_on_exit(path: impl AsRef<Path>) -> Finalizer {
    let path = absolute(path.as_ref());
    let work = Work::Remove(path.clone());
    durable(Location::caller(), work, move |_| {
        if let Err(err) = remove(&path) {
            crate::log::always(format_args!(
                "cleanup: cannot remove {}: {err}",
                path.display()
            ));
        }
    })
}

/// A finalizer that runs `command` when the process ends, however it ends,
/// and waits for it; with `#[graceful_main(guardian)]`, the guardian runs it
/// when the process is SIGKILLed, killed by the OOM killer or crashes.
///
/// The command is taken as it is at the time of the call: its program,
/// arguments, the environment variables set or removed on it (over the
/// environment the process started with) and its working directory (the
/// process's at the time of the call if it has none). It runs with its share
/// of the deadline, and is killed if it has not finished by then. Its
/// standard input is `/dev/null`. It is an ordinary [`Finalizer`]: once,
/// newest first, cancelled by [`Finalizer::cancel`] (in the guardian too).
///
/// ```
/// use std::process::Command;
///
/// // Deregister from a service registry on the way out.
/// let deregister = cleanup::run_on_exit(Command::new("true").arg("--deregister"));
/// # deregister.cancel();
/// ```
#[track_caller]
pub fn run_on_exit(command: &mut Command) -> Finalizer {
    let dir = match command.get_current_dir() {
        Some(dir) => absolute(dir),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    };
    let program = command.get_program();
    // A program named by a relative path is found from the directory of
    // the call, wherever it runs from.
    let program = if Path::new(program).components().count() > 1 {
        absolute(Path::new(program)).into_os_string()
    } else {
        program.to_owned()
    };
    let recipe = link::Command {
        program,
        args: command.get_args().map(ToOwned::to_owned).collect(),
        dir,
        envs: command
            .get_envs()
            .map(|(key, value)| (key.to_owned(), value.map(ToOwned::to_owned)))
            .collect(),
    };
    let work = Work::Run(recipe.clone());
    durable(Location::caller(), work, move |id| {
        let until = crate::deadline::deadline();
        run(&recipe, until, Some(id), |line| {
            crate::log::always(format_args!("cleanup: {line}"));
        });
    })
}

/// Registers `work` with the guardian, then the finalizer that does it here.
fn durable(
    at: &'static Location<'static>,
    work: Work,
    f: impl FnOnce(u64) + Send + 'static,
) -> Finalizer {
    let id = next_id();
    // Told first: should the process die before the finalizer is armed, the
    // guardian does it; a call that returned has always reached it.
    send(&Record::Add(id, work));
    crate::hooks::finalizer(at, id, move || {
        send(&Record::Claimed(id));
        f(id);
        send(&Record::Done(id));
    })
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    match std::env::current_dir() {
        Ok(dir) => dir.join(path),
        Err(_) => path.to_path_buf(),
    }
}

/// Removes a file, a symbolic link (not its target) or a directory tree.
pub(super) fn remove(path: &Path) -> io::Result<()> {
    let removed = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(err) => Err(err),
    };
    match removed {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Runs `recipe` and waits for it until `until`, then kills it. `say` gets
/// a line for anything but a success. With `started`, the guardian's id of
/// it, the command's process tells the guardian it exists.
pub(super) fn run(
    recipe: &link::Command,
    until: Option<Instant>,
    started: Option<u64>,
    mut say: impl FnMut(String),
) -> Option<ExitStatus> {
    let mut command = recipe.to_std();
    command.stdin(std::process::Stdio::null());
    let spawned = match started {
        Some(id) => link::spawn_telling(&mut command, &Record::Started(id)),
        None => command.spawn(),
    };
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            say(format!("cannot run `{}`: {err}", recipe.describe()));
            return None;
        }
    };
    let status = wait_until(&mut child, until);
    match status {
        Some(status) if status.success() => {}
        Some(status) => say(format!("`{}` ended with {status}", recipe.describe())),
        None => say(format!(
            "`{}` did not finish within its share of the deadline, killed",
            recipe.describe()
        )),
    }
    status
}

/// Waits for `child` until `until` (forever without one); then kills and
/// reaps it and returns `None`.
fn wait_until(child: &mut Child, until: Option<Instant>) -> Option<ExitStatus> {
    let mut pause = Duration::from_micros(200);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return child.wait().ok(),
        }
        if until.is_some_and(|until| Instant::now() >= until) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}
