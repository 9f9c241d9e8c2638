//! The guardian process itself: reads what the program tells it, waits for
//! the program to end, and does what the program left undone.
//!
//! Single-threaded, no runtime: a `poll(2)` on the pipe and a pidfd of the
//! program. Its lines go to the program's stderr (see the parent module for
//! how it lets go of it), prefixed `cleanup-guardian[pid]:`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::time::{Duration, Instant};

use super::durable::{remove, run};
use super::wire::{Record, Work};
use super::{pidfd_open, PIDFD_FD, PIPE_FD};

/// Kept for each cleanup still to do after the one being done, as the
/// program's own drain keeps it.
const RESERVE: Duration = Duration::from_millis(25);

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Armed,
    Claimed,
    /// A command whose process the program had started.
    Started,
    Done,
}

struct Entry {
    id: u64,
    work: Work,
    state: State,
    /// For a child: a pidfd taken when it was registered, so that a pid
    /// reused since is never signalled.
    pidfd: i32,
}

struct Guardian {
    program: i32,
    name: String,
    timeout: Duration,
    /// The program's stderr as a path, to reopen once fd 2 is let go of.
    stderr_path: i32,
    /// Whether fd 2 is still the program's stderr.
    holds_stderr: std::cell::Cell<bool>,
    entries: Vec<Entry>,
    oom_kills: Option<u64>,
}

pub(super) fn serve(spec: &OsStr) -> ! {
    let mut fields = spec.as_bytes().split(|&b| b == b',');
    let mut number = || -> Option<u64> {
        std::str::from_utf8(fields.next()?).ok()?.parse().ok()
    };
    let (Some(program), Some(timeout_ms)) = (number(), number()) else {
        // Not ours to serve: a mistaken environment. Leave quietly.
        // SAFETY: _exit(2) ends this process without running anything else.
        unsafe { libc::_exit(2) }
    };
    close_inherited();
    // The program blocked every signal around the fork; the mask survived
    // the execve.
    // SAFETY: sigemptyset/pthread_sigmask on a live set.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
    // SAFETY: prctl(2) with a NUL-terminated literal: a name `ps` shows.
    // (Its own session it has from before its exec.)
    unsafe {
        libc::prctl(libc::PR_SET_NAME, c"cleanup-guard".as_ptr());
    }
    let program = program as i32;
    let mut guardian = Guardian {
        program,
        name: comm(program).unwrap_or_else(|| "program".to_owned()),
        timeout: Duration::from_millis(timeout_ms),
        // SAFETY: open(2) of a NUL-terminated literal path.
        stderr_path: unsafe {
            libc::open(c"/proc/self/fd/2".as_ptr(), libc::O_PATH | libc::O_CLOEXEC)
        },
        holds_stderr: std::cell::Cell::new(true),
        entries: Vec::new(),
        oom_kills: oom_kills(),
    };
    trim_code_pages();
    let ended = guardian.watch();
    guardian.finish(ended);
    // SAFETY: _exit(2): nothing of the program's is registered here to run.
    unsafe { libc::_exit(0) }
}

impl Guardian {
    /// Reads records until the program has ended; returns its wait status
    /// when the guardian could still read it.
    fn watch(&mut self) -> Option<i32> {
        // SAFETY: getppid(2) takes nothing. The program started us: while
        // it lives it is our parent; if it is not, it has already ended.
        let alive = unsafe { libc::getppid() } == self.program;
        // The program's pidfd, which it opened for us; without one (before
        // Linux 5.3), one of our own while it is alive.
        let pidfd = if is_pidfd(PIDFD_FD) {
            PIDFD_FD
        } else if alive {
            pidfd_open(self.program)
        } else {
            -1
        };
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 4096];
        let mut pipe_open = true;
        let mut dead = !alive;
        while pipe_open || !dead {
            let mut fds = [
                libc::pollfd {
                    fd: if pipe_open { PIPE_FD } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: if dead { -1 } else { pidfd },
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // Without a pidfd (before Linux 5.3), the end of the pipe says
            // the program ended, unless it is still our parent (an `exec`
            // closed the pipe): then look again every 50 ms.
            let wait = if pidfd < 0 && !pipe_open { 50 } else { -1 };
            // SAFETY: poll(2) on a live two-element array.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, wait) };
            if n < 0 {
                continue; // EINTR
            }
            if fds[1].revents != 0 {
                dead = true;
            }
            if fds[0].revents != 0 {
                // SAFETY: read(2) into a live buffer of its length.
                let got = unsafe { libc::read(PIPE_FD, chunk.as_mut_ptr().cast(), chunk.len()) };
                if got > 0 {
                    buf.extend_from_slice(&chunk[..got as usize]);
                    let (records, used) = Record::decode_all(&buf);
                    buf.drain(..used);
                    for record in records {
                        self.apply(record);
                    }
                } else if got == 0 {
                    pipe_open = false;
                }
            }
            if pidfd < 0 && !pipe_open {
                // SAFETY: getppid(2) takes nothing.
                dead = unsafe { libc::getppid() } != self.program;
            }
        }
        // A zombie says how it ended until its parent reaps it, a pidfd
        // after that; between the two (the reaping itself) look again, a
        // few milliseconds at most.
        let mut status = None;
        for _ in 0..50 {
            status = zombie_status(self.program).or_else(|| reaped_status(pidfd));
            if status.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        if pidfd >= 0 {
            // SAFETY: close(2) of our own pidfd.
            unsafe { libc::close(pidfd) };
        }
        status
    }

    fn apply(&mut self, record: Record) {
        match record {
            Record::Add(id, work) => {
                let pidfd = match work {
                    Work::Child { pid, .. } => pidfd_open(pid),
                    _ => -1,
                };
                self.entries.push(Entry {
                    id,
                    work,
                    state: State::Armed,
                    pidfd,
                });
            }
            Record::Claimed(id) => self.set(id, Some(State::Claimed)),
            Record::Started(id) => self.set(id, Some(State::Started)),
            Record::Done(id) => self.set(id, Some(State::Done)),
            Record::Cancel(id) => self.set(id, None),
        }
    }

    /// `None`: forget it (cancelled).
    fn set(&mut self, id: u64, state: Option<State>) {
        if let Some(at) = self.entries.iter().position(|entry| entry.id == id) {
            match state {
                Some(state) => self.entries[at].state = state,
                None => {
                    let entry = self.entries.remove(at);
                    close(entry.pidfd);
                }
            }
        }
    }

    /// Does what the program left undone, newest first, children first.
    fn finish(&mut self, status: Option<i32>) {
        let died = Instant::now();
        let mut todo: Vec<Entry> = Vec::new();
        let mut running = Vec::new();
        for entry in self.entries.drain(..).rev() {
            match (entry.state, &entry.work) {
                (State::Done, _) => close(entry.pidfd),
                // A command the program had started may still be running:
                // it is not run a second time. One only claimed (the
                // program died before its `fork`) is run.
                (State::Started, Work::Run(command)) => running.push(command.describe()),
                _ => todo.push(entry),
            }
        }
        if todo.is_empty() && running.is_empty() {
            return;
        }
        // Children first: what they hold may be what the rest removes.
        todo.sort_by_key(|entry| !matches!(entry.work, Work::Child { .. }));
        let count = todo.len();
        let plan: Vec<String> = todo.iter().map(|entry| plan(&entry.work)).collect();
        self.say(&format!(
            "{}[{}] {} without doing {count} durable cleanup{}; doing {} now: {}",
            self.name,
            self.program,
            self.how(status),
            if count == 1 { "" } else { "s" },
            if count == 1 { "it" } else { "them" },
            plan.join(", "),
        ));
        // Said: a reader of the program's stderr may see its end now.
        self.let_go_of_stderr();
        for command in running {
            self.say(&format!(
                "`{command}` was running when the program ended; not run again"
            ));
        }
        let deadline = died + crate::deadline::effective(self.timeout);
        let total = todo.len();
        for (done, entry) in todo.into_iter().enumerate() {
            let left_after = u32::try_from(total - done - 1).unwrap_or(u32::MAX);
            let until = deadline
                .checked_sub(RESERVE * left_after)
                .unwrap_or(deadline)
                .max(Instant::now() + Duration::from_millis(1));
            self.perform(&entry, until);
            close(entry.pidfd);
        }
        self.say(&format!(
            "done in {}",
            crate::log::Secs(died.elapsed())
        ));
    }

    fn perform(&self, entry: &Entry, until: Instant) {
        match &entry.work {
            Work::Remove(path) => match remove(path) {
                Ok(()) => self.say(&format!("removed {}", path.display())),
                Err(err) => self.say(&format!("cannot remove {}: {err}", path.display())),
            },
            Work::Run(command) => {
                let status = run(command, Some(until), None, |line| self.say(&line));
                if status.is_some_and(|status| status.success()) {
                    self.say(&format!("ran `{}`", command.describe()));
                }
            }
            Work::Child { pid, own_group } => {
                let (pid, own_group) = (*pid, *own_group);
                // SAFETY: kill(2) of the group the child leads; the group
                // id is the child's pid, held by its pidfd (or its zombie).
                if own_group && unsafe { libc::kill(-pid, libc::SIGKILL) } == 0 {
                    self.say(&format!("killed child {pid} and its process group"));
                } else if kill(entry.pidfd, pid) {
                    self.say(&format!("killed child {pid}"));
                }
                wait_exit(entry.pidfd, until);
            }
        }
    }

    fn how(&self, status: Option<i32>) -> String {
        let Some(status) = status else {
            return "ended (its status was collected before the guardian could read it)"
                .to_owned();
        };
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            let name = crate::log::SignalName(sig);
            let oom = sig == libc::SIGKILL
                && self
                    .oom_kills
                    .zip(oom_kills())
                    .is_some_and(|(before, after)| after > before);
            let core = if libc::WCOREDUMP(status) {
                " (core dumped)"
            } else {
                ""
            };
            let by = if oom { " (the OOM killer)" } else { "" };
            format!("was killed by {name}{by}{core}")
        } else {
            format!("exited with code {}", libc::WEXITSTATUS(status))
        }
    }

    /// Points fd 2 at `/dev/null`: the program's stderr is no longer held.
    fn let_go_of_stderr(&self) {
        if !self.holds_stderr.replace(false) {
            return;
        }
        // SAFETY: open(2) of a NUL-terminated literal path, dup2(2) onto fd
        // 2, close(2) of the descriptor just opened.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if null >= 0 {
                libc::dup2(null, 2);
                libc::close(null);
            } else {
                libc::close(2);
            }
        }
    }

    /// One line on the program's stderr: on fd 2 while it is held, then
    /// reopened for the line when it can still be reached.
    fn say(&self, line: &str) {
        let text = format!("cleanup-guardian[{}]: {line}\n", std::process::id());
        if self.holds_stderr.get() {
            crate::log::write_stderr(text.as_bytes());
            return;
        }
        if self.stderr_path < 0 {
            return;
        }
        let path = format!("/proc/self/fd/{}\0", self.stderr_path);
        // SAFETY: open(2) of a NUL-terminated path; write(2) from a live
        // slice; close(2) of the descriptor just opened. Non-blocking: a
        // pipe nobody reads any more (ENXIO) or a full one is skipped.
        unsafe {
            let fd = libc::open(
                path.as_ptr().cast(),
                libc::O_WRONLY | libc::O_APPEND | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC,
            );
            if fd >= 0 {
                libc::write(fd, text.as_ptr().cast(), text.len());
                libc::close(fd);
            }
        }
    }
}

/// Closes every descriptor above the two the program gave us: the ones the
/// program had inherited without close-on-exec (a shell's `exec 7>&1`, a
/// jobserver's pipe, a socket of systemd's) came along through `exec`, and a
/// guardian holding them would keep a pipe's reader from seeing its end.
fn close_inherited() {
    let first = (PIDFD_FD + 1) as libc::c_uint;
    // SAFETY: close_range(2) on descriptors this process owns, none in use.
    let closed = unsafe { libc::syscall(libc::SYS_close_range, first, libc::c_uint::MAX, 0) };
    if closed == 0 {
        return;
    }
    // Before Linux 5.9: the ones `/proc` lists, read before any is closed.
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if fd > PIDFD_FD {
            // SAFETY: close(2); the directory's own descriptor is already
            // closed (EBADF, harmless).
            unsafe { libc::close(fd) };
        }
    }
}

/// Lets go of the pages of code mapped at start-up (the program's
/// executable, the C library, the loader), which the kernel maps generously
/// (64 KiB around each fault): the guardian waits in a loop that needs a few
/// of them, and a waiting guardian should weigh next to nothing. Only
/// read-and-execute mappings of files: their pages are never written, so
/// dropping them loses nothing; the ones in use are mapped back on the next
/// fetch, from the page cache.
fn trim_code_pages() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else {
            continue;
        };
        let path = parts.nth(3).unwrap_or("");
        if perms != "r-xp" || !path.starts_with('/') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: madvise(2) on a whole mapping this process has, private,
        // read-and-execute, backed by a file: MADV_DONTNEED only unmaps its
        // pages, which are faulted back unchanged from the file when used.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

/// What the guardian is about to do for `work`, in a few words.
fn plan(work: &Work) -> String {
    match work {
        Work::Remove(path) => format!("remove {}", path.display()),
        Work::Run(command) => format!("run `{}`", command.describe()),
        Work::Child { pid, own_group: true } => format!("kill child {pid} and its group"),
        Work::Child { pid, .. } => format!("kill child {pid}"),
    }
}

/// Whether `fd` is open (the program passes a pidfd there when it can).
fn is_pidfd(fd: i32) -> bool {
    // SAFETY: fcntl(2) F_GETFD on a descriptor number: only asks.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// SIGKILL through the pidfd when there is one (never a reused pid).
fn kill(pidfd: i32, pid: i32) -> bool {
    if pidfd >= 0 {
        // SAFETY: pidfd_send_signal(2) on our own pidfd, no siginfo.
        let sent = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd,
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        return sent == 0;
    }
    // SAFETY: kill(2); without a pidfd this is the best there is.
    unsafe { libc::kill(pid, libc::SIGKILL) == 0 }
}

/// Until the process behind `pidfd` has ended, or `until`.
fn wait_exit(pidfd: i32, until: Instant) {
    if pidfd < 0 {
        return;
    }
    let ms = until.saturating_duration_since(Instant::now()).as_millis();
    let mut fd = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll(2) on one live pollfd.
    unsafe { libc::poll(&mut fd, 1, i32::try_from(ms).unwrap_or(i32::MAX)) };
}

fn close(fd: i32) {
    if fd >= 0 {
        // SAFETY: close(2) of a descriptor this process owns.
        unsafe { libc::close(fd) };
    }
}

/// The program's name, from `/proc/<pid>/comm`.
fn comm(pid: i32) -> Option<String> {
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(name.trim_end().to_owned())
}

/// How a zombie ended (its wait status), read before its parent reaps it:
/// field 52 of `/proc/<pid>/stat`.
fn zombie_status(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (the state).
    if fields.first() != Some(&"Z") {
        return None;
    }
    fields.get(52 - 3)?.parse().ok()
}

/// How a process ended once its parent has reaped it: what the kernel keeps
/// for the holders of a pidfd (`PIDFD_GET_INFO` with `PIDFD_INFO_EXIT`,
/// Linux 6.15). `None` on older kernels, or before the reaping.
fn reaped_status(pidfd: i32) -> Option<i32> {
    /// `struct pidfd_info`, as of its first version (64 bytes).
    #[repr(C)]
    #[derive(Default)]
    struct PidfdInfo {
        mask: u64,
        cgroupid: u64,
        ids: [u32; 11],
        exit_code: i32,
    }
    const PIDFD_INFO_EXIT: u64 = 1 << 3;
    // _IOWR(0xFF, 11, struct pidfd_info): read-write, 64 bytes, pidfs' magic.
    const PIDFD_GET_INFO: libc::c_ulong = (3 << 30) | (64 << 16) | (0xFF << 8) | 11;
    if pidfd < 0 {
        return None;
    }
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_EXIT,
        ..PidfdInfo::default()
    };
    // SAFETY: ioctl(2) on our own pidfd with a live, correctly sized struct
    // the kernel fills.
    let got = unsafe { libc::ioctl(pidfd, PIDFD_GET_INFO, &mut info as *mut PidfdInfo) };
    (got == 0 && info.mask & PIDFD_INFO_EXIT != 0).then_some(info.exit_code)
}

/// How many times the OOM killer acted in our cgroup (v2): the program's,
/// which the fork kept us in (its own `/proc` entry goes with it).
fn oom_kills() -> Option<u64> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroup.lines().find_map(|line| line.strip_prefix("0::"))?;
    let events =
        std::fs::read_to_string(format!("/sys/fs/cgroup{path}/memory.events")).ok()?;
    events
        .lines()
        .find_map(|line| line.strip_prefix("oom_kill "))?
        .trim()
        .parse()
        .ok()
}
