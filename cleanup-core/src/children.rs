//! Children: processes this program started, ended with it.
//!
//! A child started with [`spawn`] is tracked. When the process ends, the
//! signal that ended it (SIGTERM for any other cause) is forwarded to every
//! tracked child still running, to its process group when it leads one; the
//! runtime waits for them within the body's share of the budget, then
//! SIGKILLs and reaps the rest: no orphans, no zombies.
//!
//! A SIGINT may have reached the whole process group already (a terminal's
//! Ctrl-C, `kill -INT -PGID`): a child in our group is forwarded SIGTERM
//! instead, never a second SIGINT, which a `cleanup` child would read as
//! "force". A child in its own group (`CommandExt::process_group(0)`) hears
//! of a stop only from this program, so it gets the signal itself; it then
//! drains side by side with this program's own shutdown, within the same
//! deadline. Should a tool signal the whole process tree (pm2 does), a
//! `cleanup` child takes the SIGINT its parent forwards for the same stop,
//! never for a second Ctrl-C.
//!
//! A tracked child's pid is only reaped under its lock, and only signalled
//! under it while unreaped, so a recycled pid is never signalled.

use std::io;
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::signal::{SIGINT, SIGKILL, SIGTERM};
use crate::sync::lock;
use crate::sys;

static CHILDREN: Mutex<Vec<Arc<Tracked>>> = Mutex::new(Vec::new());

/// How often the shutdown looks at children it is waiting for.
const POLL: Duration = Duration::from_millis(5);

struct Tracked {
    pid: i32,
    /// Its process group; it leads the group when `pgid == pid`.
    pgid: i32,
    state: Mutex<State>,
    /// Its id with the guardian (0 without one), told when it is reaped.
    guardian: u64,
}

enum State {
    Running(std::process::Child),
    Ended(ExitStatus),
}

impl Tracked {
    /// Where its signals go: its whole group when it leads one.
    fn target(&self) -> i32 {
        if self.pgid == self.pid {
            -self.pid
        } else {
            self.pid
        }
    }

    fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        let mut state = lock(&self.state);
        match &mut *state {
            State::Ended(status) => Ok(Some(*status)),
            State::Running(child) => {
                self.end_its_group_if_it_ended();
                let status = child.try_wait()?;
                if let Some(status) = status {
                    *state = State::Ended(status);
                    self.reaped();
                }
                Ok(status)
            }
        }
    }

    /// During a shutdown, a child that led its own process group and has
    /// ended takes the rest of its group with it: a process there that
    /// ignored the forwarded signal (a shell's background job ignores
    /// SIGINT) would otherwise be left behind once the leader is reaped.
    /// Looked at before the reaping, while the leader's zombie still holds
    /// the group's id, so the SIGKILL cannot reach a reused one.
    fn end_its_group_if_it_ended(&self) {
        if self.pgid != self.pid || !crate::state::is_shutting_down() {
            return;
        }
        // Our unreaped child: the group's id is still its.
        if sys::process::has_ended(self.pid) {
            let _ = sys::process::kill(-self.pgid, SIGKILL);
        }
    }

    /// Reaped by us: the guardian has nothing left to kill.
    fn reaped(&self) {
        if self.guardian != 0 {
            crate::guardian_link::send(&crate::guardian_link::Record::Done(self.guardian));
        }
    }

    fn signal(&self, sig: i32) -> io::Result<bool> {
        let state = lock(&self.state);
        if matches!(*state, State::Ended(_)) {
            return Ok(false);
        }
        // A child (or its group) not yet reaped: the lock keeps it from
        // being reaped meanwhile, so the pid is still ours. The group's
        // leader may be a zombie already: nothing to signal (`Ok(false)`).
        sys::process::kill(self.target(), sig)
    }
}

/// A child process started with [`spawn`]: tracked, so it ends with this
/// program. Its methods are those of [`std::process::Child`] that are safe to
/// mix with the shutdown's own waiting and signalling.
///
/// Dropping it neither kills nor waits for the child (as with std's): the
/// child stays tracked, so a shutdown still forwards it the signal, waits
/// for it within the budget, and kills and reaps it if it outstays.
///
/// ```
/// use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
/// use std::process::Command;
///
/// let mut server = Command::new("sleep");
/// server.arg("10").process_group(0); // its own group: a stop reaches it from us only
/// let mut child = cleanup::spawn(&mut server)?;
/// // A shutdown would forward its signal; here the program stops it itself.
/// child.signal(cleanup::signal::SIGTERM)?;
/// assert_eq!(child.wait()?.signal(), Some(cleanup::signal::SIGTERM));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Child {
    tracked: Arc<Tracked>,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
}

/// Starts `command` as a tracked child: on shutdown it gets the signal that
/// ended this program (SIGTERM for any other cause), is waited for within
/// the budget, and is SIGKILLed and reaped if it outstays it.
///
/// The child's environment gets `CLEANUP_PARENT_PID` (this process's pid):
/// a child that uses `cleanup` too then starts its `shutdown:` lines with its
/// name and pid (`worker[4242]: shutdown: …`), as both write to the same
/// stderr. Unless the command sets it, it also gets `CLEANUP_TIMEOUT`: the
/// time this program waits for its children (7.125 s of the default 10 s;
/// three quarters of what is left after the safety margin), so a `cleanup`
/// child's own cleanups are done before that wait ends.
///
/// On Windows the child goes into a job object that ends it when this
/// program ends, however it ends. A shutdown sends Ctrl-Break to a child
/// started in a process group of its own (`CREATE_NEW_PROCESS_GROUP`), the
/// one event Windows sends a single group; a child in this program's group
/// shares its console's events. Either is waited for within the budget,
/// then terminated.
///
/// ```
/// use std::process::Command;
///
/// let mut child = cleanup::spawn(&mut Command::new("true"))?;
/// assert!(child.wait()?.success());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn spawn(command: &mut Command) -> io::Result<Child> {
    crate::runtime::ensure();
    crate::runtime::after_fork(forget_after_fork);
    command.env(crate::log::PARENT_ENV, std::process::id().to_string());
    // A `cleanup` child gets the time this program waits for it, unless
    // the command says otherwise: inheriting this program's timeout, it
    // would plan for more than it is given, and be killed before its own
    // cleanups are done.
    let timeout_env = std::ffi::OsStr::new(crate::config::TIMEOUT_ENV);
    if !command.get_envs().any(|(key, _)| key == timeout_env) {
        let wait = crate::deadline::body_time(crate::deadline::timeout());
        command.env(timeout_env, format!("{}ms", wait.as_millis()));
    }
    // Held from the fork to the push: as PID 1, the reaper must never see
    // this child as untracked (it would reap it and lose its status).
    let mut children = lock(&CHILDREN);
    let mut child = spawner::spawn(command)?;
    sys::process::adopt(&child);
    let pid = i32::try_from(child.id()).map_err(io::Error::other)?;
    // Our own child, not yet reaped.
    let pgid = sys::process::group_of(pid);
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    // The guardian kills it (with its group) if this process dies first.
    let guardian = if crate::guardian_link::active() {
        let id = crate::guardian_link::next_id();
        let own_group = pgid == pid;
        crate::guardian_link::send(&crate::guardian_link::Record::Add(
            id,
            crate::guardian_link::Work::Child { pid, own_group },
        ));
        id
    } else {
        0
    };
    let tracked = Arc::new(Tracked {
        pid,
        pgid,
        state: Mutex::new(State::Running(child)),
        guardian,
    });
    children.retain(|old| Arc::strong_count(old) > 1 || old.try_wait().ok().flatten().is_none());
    children.push(Arc::clone(&tracked));
    Ok(Child {
        tracked,
        stdin,
        stdout,
        stderr,
    })
}

/// Children that never outlive this process, even when it is SIGKILLed:
/// where the system has one, each is started with a parent-death signal
/// (SIGKILL). On Linux it follows the *thread* that forked the child, so
/// there children are started from one thread that lives as long as the
/// process: a child started from a worker that then returns would otherwise
/// be killed with it. What the death signal cannot reach (the child's own
/// children, a setuid program, which clears it; every child on macOS,
/// which has none) is left to the guardian.
mod spawner {
    use std::io;
    use std::process::Command;
    use std::sync::mpsc::{self, Sender};
    use std::sync::Mutex;

    use once_cell::sync::OnceCell;

    type Reply = (Command, io::Result<std::process::Child>);
    /// A command to start, and where to send it back with its child.
    type Request = (Command, Sender<Reply>);
    /// The spawner's queue, and the process it runs in.
    type Spawner = (u32, Mutex<Sender<Request>>);

    /// The spawner's queue, and the process it runs in: a child made by
    /// `fork` has the queue but not the thread.
    static REQUESTS: OnceCell<Option<Spawner>> = OnceCell::new();

    use crate::sys::process::{die_with_parent, DeathSignal, DEATH_SIGNAL};

    /// Spawns `command` with the death signal; where it follows the thread,
    /// from the spawner thread (started on first use), or, if that thread
    /// cannot be had, from this one.
    pub(super) fn spawn(command: &mut Command) -> io::Result<std::process::Child> {
        let parent = std::process::id();
        die_with_parent(command);
        if DEATH_SIGNAL != DeathSignal::PerThread {
            return command.spawn();
        }
        let requests = match REQUESTS.get_or_init(start) {
            Some((pid, requests)) if *pid == parent => requests,
            _ => return command.spawn(),
        };
        // The command goes to the spawner and comes back with the child.
        let owned = std::mem::replace(command, Command::new(""));
        let (reply, replied) = mpsc::channel();
        let sent = crate::sync::lock(requests).send((owned, reply));
        match sent.ok().and_then(|()| replied.recv().ok()) {
            Some((owned, child)) => {
                *command = owned;
                child
            }
            None => Err(io::Error::other("the spawner thread is gone")),
        }
    }

    fn start() -> Option<Spawner> {
        let (requests, received) = mpsc::channel::<Request>();
        let started = std::thread::Builder::new()
            .name("cleanup-spawner".into())
            .spawn(move || {
                for (mut command, reply) in received {
                    let child = command.spawn();
                    let _ = reply.send((command, child));
                }
            });
        match started {
            Ok(_) => Some((std::process::id(), Mutex::new(requests))),
            Err(err) => {
                crate::log::always(format_args!(
                    "cleanup: cannot start the spawner thread ({err}); children are \
                     started from the calling thread, and die with it"
                ));
                None
            }
        }
    }
}

impl Child {
    /// The child's pid.
    ///
    /// ```
    /// let mut child = cleanup::spawn(&mut std::process::Command::new("true"))?;
    /// assert_ne!(child.id(), std::process::id());
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> u32 {
        self.tracked.pid as u32
    }

    /// Waits for the child to end and returns its status (also if the
    /// shutdown already reaped it).
    ///
    /// ```
    /// use std::process::Command;
    ///
    /// let mut child = cleanup::spawn(Command::new("sh").args(["-c", "exit 3"]))?;
    /// assert_eq!(child.wait()?.code(), Some(3));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.tracked.try_wait()? {
                return Ok(status);
            }
            // Sleeps until it has ended, without reaping it: the pid stays
            // ours until `try_wait` reaps it under the lock.
            if let Err(err) = sys::process::wait_ended(self.tracked.pid) {
                if err.kind() != io::ErrorKind::Interrupted {
                    // Reaped elsewhere meanwhile: `try_wait` says how it ended.
                    return self.tracked.try_wait()?.ok_or(err);
                }
            }
        }
    }

    /// The status if the child has ended, without blocking.
    ///
    /// ```
    /// use std::process::Command;
    ///
    /// let mut child = cleanup::spawn(Command::new("sleep").arg("10"))?;
    /// assert!(child.try_wait()?.is_none()); // still running
    /// child.kill()?;
    /// child.wait()?;
    /// assert!(child.try_wait()?.is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.tracked.try_wait()
    }

    /// Sends `sig` to the child, or to its process group when it leads one.
    /// Does nothing once it has been reaped.
    ///
    /// On Windows, which has no signals, SIGKILL terminates the child, and
    /// a child that leads a process group of its own (started with
    /// `CREATE_NEW_PROCESS_GROUP`) gets Ctrl-Break for any other signal (a
    /// `cleanup` child takes it as an interrupt). Any other signal to any
    /// other child is an [`io::ErrorKind::Unsupported`] error: Windows can
    /// only send an event to a whole console or a whole group.
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt as _;
    /// use std::process::Command;
    ///
    /// let mut child = cleanup::spawn(Command::new("sleep").arg("10"))?;
    /// child.signal(cleanup::signal::SIGTERM)?;
    /// assert_eq!(child.wait()?.signal(), Some(cleanup::signal::SIGTERM));
    /// child.signal(cleanup::signal::SIGTERM)?; // reaped: nothing to do
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        self.tracked.signal(sig).map(drop)
    }

    /// SIGKILL, as [`std::process::Child::kill`], to its group when it leads one.
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt as _;
    /// use std::process::Command;
    ///
    /// let mut child = cleanup::spawn(Command::new("sleep").arg("10"))?;
    /// child.kill()?;
    /// assert_eq!(child.wait()?.signal(), Some(cleanup::signal::SIGKILL));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.signal(SIGKILL)
    }

    /// The child's stdin, if it was piped and not taken yet.
    ///
    /// ```
    /// use std::io::{Read as _, Write as _};
    /// use std::process::{Command, Stdio};
    ///
    /// let mut cat = Command::new("cat");
    /// cat.stdin(Stdio::piped()).stdout(Stdio::piped());
    /// let mut child = cleanup::spawn(&mut cat)?;
    /// // Dropped at the end of the statement: `cat` sees the end of its input.
    /// child.take_stdin().expect("piped").write_all(b"hello")?;
    /// let mut echoed = String::new();
    /// child.take_stdout().expect("piped").read_to_string(&mut echoed)?;
    /// assert_eq!(echoed, "hello");
    /// assert!(child.take_stdin().is_none()); // taken already
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// The child's stdout, if it was piped and not taken yet.
    ///
    /// ```
    /// use std::io::Read as _;
    /// use std::process::{Command, Stdio};
    ///
    /// let mut echo = Command::new("echo");
    /// echo.arg("ready").stdout(Stdio::piped());
    /// let mut child = cleanup::spawn(&mut echo)?;
    /// let mut line = String::new();
    /// child.take_stdout().expect("piped").read_to_string(&mut line)?;
    /// assert_eq!(line, "ready\n");
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// The child's stderr, if it was piped and not taken yet.
    ///
    /// ```
    /// use std::io::Read as _;
    /// use std::process::{Command, Stdio};
    ///
    /// let mut sh = Command::new("sh");
    /// sh.args(["-c", "echo oops >&2"]).stderr(Stdio::piped());
    /// let mut child = cleanup::spawn(&mut sh)?;
    /// let mut text = String::new();
    /// child.take_stderr().expect("piped").read_to_string(&mut text)?;
    /// assert_eq!(text, "oops\n");
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.stderr.take()
    }
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.tracked.pid)
            .field("leads_group", &(self.tracked.pgid == self.tracked.pid))
            .finish()
    }
}

fn running() -> Vec<Arc<Tracked>> {
    lock(&CHILDREN)
        .iter()
        .filter(|tracked| matches!(*lock(&tracked.state), State::Running(_)))
        .cloned()
        .collect()
}

pub(crate) fn any_running() -> bool {
    running()
        .iter()
        .any(|tracked| matches!(tracked.try_wait(), Ok(None)))
}

/// What [`forward`] did.
#[derive(Debug, Default)]
pub(crate) struct Forwarded {
    /// How many children got the signal itself.
    pub(crate) as_is: usize,
    /// How many in our own process group got SIGTERM instead of a SIGINT.
    pub(crate) as_term: usize,
    /// The children the system would not let us signal, and why (not the
    /// ones that cannot be signalled on this system at all, which are
    /// waited for and then killed as planned).
    pub(crate) failed: Vec<(i32, io::Error)>,
}

/// Forwards `sig` to every running child, to its process group when it
/// leads one. A SIGINT goes to a child in our own process group as SIGTERM:
/// it may already have had the group's SIGINT (a terminal's Ctrl-C, `kill
/// -INT -PGID`, `timeout -s INT`), and a second SIGINT would tell a
/// `cleanup` child to stop without cleaning up.
pub(crate) fn forward(sig: i32) -> Forwarded {
    let mut forwarded = Forwarded::default();
    let running = running();
    if running.is_empty() {
        return forwarded;
    }
    let own_group = sys::process::own_group();
    for tracked in running {
        let instead = sig == SIGINT && tracked.pgid == own_group;
        let sent = if instead { SIGTERM } else { sig };
        match tracked.signal(sent) {
            Ok(true) if instead => forwarded.as_term += 1,
            Ok(true) => forwarded.as_is += 1,
            Ok(false) => {}
            Err(err) if err.kind() == io::ErrorKind::Unsupported => {}
            Err(err) => forwarded.failed.push((tracked.pid, err)),
        }
    }
    forwarded
}

/// SIGKILLs every running child (and its group when it leads one).
pub(crate) fn forward_kill() {
    forward(SIGKILL);
}

/// In the child of a `fork`: the parent's children are not ours.
fn forget_after_fork() {
    if let Ok(mut children) = CHILDREN.try_lock() {
        children.clear();
    }
}

/// Waits until every child has ended or `until` passes.
pub(crate) fn wait_for_children(until: Instant) {
    loop {
        let left = running()
            .iter()
            .filter(|tracked| matches!(tracked.try_wait(), Ok(None)))
            .count();
        if left == 0 || Instant::now() >= until {
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// SIGKILLs and reaps every child still running; returns their pids.
pub(crate) fn kill_and_reap() -> Vec<i32> {
    let mut killed = Vec::new();
    for tracked in running() {
        if matches!(tracked.signal(SIGKILL), Ok(true)) {
            killed.push(tracked.pid);
        }
        let mut state = lock(&tracked.state);
        if let State::Running(child) = &mut *state {
            if let Ok(status) = child.wait() {
                *state = State::Ended(status);
                tracked.reaped();
            }
        }
    }
    killed
}

/// As PID 1 of a namespace (a container's entry point), reaps the orphans
/// the kernel hands this process, as tini does: every zombie child. A tracked
/// child is reaped through its own handle, so its status is kept for
/// [`Child::wait`]; a child of `std::process::Command` is not tracked (as
/// PID 1, start children with [`spawn`] to keep their status).
///
/// `waitid` names each zombie by its pid in our own namespace, which `/proc`
/// may not (it can belong to the parent namespace).
pub(crate) fn reap_orphans() {
    let children = lock(&CHILDREN);
    loop {
        let Some(pid) = sys::process::ended_child() else {
            return; // no zombie now
        };
        match children.iter().find(|tracked| tracked.pid == pid) {
            Some(tracked) => {
                let _ = tracked.try_wait();
            }
            // A zombie child of ours: reaped now.
            None => sys::process::reap(pid),
        }
    }
}
