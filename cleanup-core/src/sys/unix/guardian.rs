//! The guardian's system calls, POSIX only: what macOS, FreeBSD and the
//! other BSDs run, and what Linux runs under `--cfg cleanup_portable`.
//! kqueue's `EVFILT_PROC` (macOS, FreeBSD) is used where the system has it.
//!
//! What the baseline does differently from Linux (`sys/linux/guardian.rs`):
//!
//! | | Linux | baseline |
//! |---|---|---|
//! | launch | `clone` in the program's memory until the child's `execve("/proc/self/exe")`, raw system calls in the child, the program not waiting (no page tables copied, no fork handlers; a raw fork on 32-bit and other architectures, under Valgrind, and where that `clone` is refused) | the C library's `fork` (its fork handlers run in the child), `execve` of `std::env::current_exe()`, resolved before the fork: an executable moved or replaced since the start fails to exec, which the child says on stderr |
//! | the program's death | its pidfd | the pipe's end (the program holds the only write end); if the program is still the guardian's parent then (an `exec` closed the pipe), `getppid` every 50 ms; with kqueue, `NOTE_EXIT` at once |
//! | how it died | its zombie's `/proc` entry, or the pidfd's exit information | only a process's parent learns its wait status in POSIX: not said, but on FreeBSD (`NOTE_EXIT` carries it) |
//! | children's pids | a pidfd each, never a reused pid | see [`Child`] |
//! | stderr after the first line | an `O_PATH` descriptor, reopened for each line | see [`Stderr`] |
//! | inherited descriptors | `close_range` (or `/proc/self/fd`) | `closefrom` (FreeBSD), `/dev/fd` (macOS), else every number below the open-file limit (at most 65 536) |
//! | `ps` name, program name, OOM count | `cleanup-guard`, `/proc/<pid>/comm`, the cgroup's count | argv\[0\] (`cleanup-guardian`), the executable's file name, none |
//! | code pages | dropped, as the loader lists them (`dl_iterate_phdr`, here) | the same; kept on macOS (no such list) |

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::ffi::OsStringExt as _;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{fd, process, signals};

/// Where the guardian finds the read end of the pipe.
pub(crate) const PIPE_FD: i32 = 3;

/// Descriptors are moved to this number or above before the fork, so that
/// no `dup2` in the child meets itself (and keeps its close-on-exec flag).
const ABOVE_TARGETS: i32 = 10;

/// Without a way to be told of the program's death, how often at most the
/// guardian asks once the pipe has ended while the program is still its
/// parent: first after [`ASK_PARENT_FIRST`], then twice as long each time.
/// (A dying program closes its descriptors, the pipe's end, a moment
/// before it stops being anyone's parent.)
const ASK_PARENT_EVERY: Duration = Duration::from_millis(50);
const ASK_PARENT_FIRST: Duration = Duration::from_micros(50);

/// Where descriptors are closed one number at a time, the most numbers:
/// closing an unused one costs a system call, and the limit on open files
/// may be a million or unlimited.
#[cfg(not(target_os = "freebsd"))]
const CLOSE_AT_MOST: i32 = 1 << 16;

/// Without a way to be told of a killed child's end, how long the guardian
/// looks for it: a child adopted by an init that reaps late stays a zombie,
/// which answers `kill(pid, 0)` as a live process does.
const KILLED_WAIT: Duration = Duration::from_millis(100);

/// How the program ended, as far as the guardian could learn it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Death {
    /// Killed by `signal`, leaving a core file or not.
    Signal { signal: i32, core_dumped: bool },
    /// Exited with `code`.
    Exit(i32),
    /// Not known; why, in a few words.
    Unknown(&'static str),
}

impl Death {
    /// From a wait status, as `waitpid` gives it.
    pub(crate) fn from_status(status: i32) -> Death {
        if libc::WIFSIGNALED(status) {
            Death::Signal {
                signal: libc::WTERMSIG(status),
                core_dumped: libc::WCOREDUMP(status),
            }
        } else {
            Death::Exit(libc::WEXITSTATUS(status))
        }
    }
}

/// Why the baseline cannot say how the program died.
#[cfg(target_os = "freebsd")]
const UNKNOWN: &str = "it ended before the guardian could watch it";
#[cfg(not(target_os = "freebsd"))]
const UNKNOWN: &str = "this system tells only its parent how a process ended";

// ---- in the program ---------------------------------------------------------

/// Starts the guardian: this program's executable run again with argv
/// `arg0 spec`, in a session of its own, with the read end of a new pipe at
/// [`PIPE_FD`] and stdin and stdout on `/dev/null`, every signal blocked
/// until it unblocks them. Returns the pipe's write end (closed on `exec`).
/// Called while the process has one thread; does not wait for the
/// guardian's image to load.
pub(crate) fn launch(arg0: &CStr, spec: &CStr) -> io::Result<i32> {
    // All the child needs is made here, before the fork: it only makes
    // system calls.
    let exe = CString::new(std::env::current_exe()?.into_os_string().into_vec())
        .map_err(io::Error::other)?;
    let env = std::env::vars_os()
        .map(|(key, value)| {
            let mut entry = key.into_vec();
            entry.push(b'=');
            entry.extend(value.into_vec());
            CString::new(entry)
        })
        .collect::<Result<Vec<CString>, _>>()
        .map_err(io::Error::other)?;
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|entry| entry.as_ptr()).collect();
    envp.push(std::ptr::null());
    let argv = [arg0.as_ptr(), spec.as_ptr(), std::ptr::null()];
    let (read, write) = pipe()?;

    // Signals blocked in the child until the guardian's image has replaced
    // it (the mask outlives execve; the guardian unblocks them): no handler
    // of the program ever runs in it.
    let mask = signals::block_all();
    // SAFETY: fork(2) of a process with one thread; the child only calls
    // `exec_guardian`, which makes async-signal-safe calls on memory made
    // before the fork (its copy of it) and never returns.
    let child = unsafe { libc::fork() };
    if child == 0 {
        exec_guardian(read, &exe, &argv, &envp);
    }
    let error = io::Error::last_os_error();
    signals::restore(&mask);
    fd::close(read);
    if child < 0 {
        fd::close(write);
        return Err(error);
    }
    Ok(write)
}

/// A pipe whose two ends are closed on `exec` and numbered
/// [`ABOVE_TARGETS`] or above: (read, write).
fn pipe() -> io::Result<(i32, i32)> {
    let mut ends = [0; 2];
    // SAFETY: pipe(2) fills the two-element array.
    if unsafe { libc::pipe(ends.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let [read, write] = ends.map(|end| {
        let moved = fd::duplicate(end, ABOVE_TARGETS);
        fd::close(end);
        moved
    });
    match (read, write) {
        (Ok(read), Ok(write)) => Ok((read, write)),
        (Ok(end), Err(err)) | (Err(err), Ok(end)) => {
            fd::close(end);
            Err(err)
        }
        (Err(err), Err(_)) => Err(err),
    }
}

/// In the guardian's forked child, before its exec: a session of its own
/// (before its first instruction of its own: a kill of the program's
/// process group right after the start misses it), the pipe's read end at
/// [`PIPE_FD`] (and `also`, `(fd, at)`, moved to `at`), stdin and stdout on
/// `/dev/null`. Async-signal-safe.
pub(crate) fn settle_child(read: i32, also: Option<(i32, i32)>) {
    // SAFETY: setsid(2), dup2(2), open(2) of a NUL-terminated literal and
    // close(2), on descriptors this child owns.
    unsafe {
        libc::setsid();
        libc::dup2(read, PIPE_FD);
        if let Some((fd, at)) = also {
            libc::dup2(fd, at);
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            if null > 2 {
                libc::close(null);
            }
        }
    }
}

/// The forked child: its own session, the pipe at [`PIPE_FD`], stdin and
/// stdout on `/dev/null`, then the guardian's image. Async-signal-safe
/// calls only; never returns.
fn exec_guardian(
    read: i32,
    exe: &CStr,
    argv: &[*const libc::c_char; 3],
    envp: &[*const libc::c_char],
) -> ! {
    const FAILED: &[u8] =
        b"cleanup: cannot start the guardian (its exec failed); durable cleanups will not survive a SIGKILL\n";
    settle_child(read, None);
    // SAFETY: execve(2), write(2) and _exit(2) with NUL-terminated strings
    // and arrays in this child's copy of the program's memory.
    unsafe {
        libc::execve(exe.as_ptr(), argv.as_ptr(), envp.as_ptr());
        libc::write(2, FAILED.as_ptr().cast(), FAILED.len());
        libc::_exit(127)
    }
}

/// Has the process that `command` starts write `bytes` to `fd` between its
/// `fork` and its `exec`, with SIGPIPE ignored for that write (should the
/// reader be gone, it fails instead of killing the command).
pub(crate) fn write_in_child(command: &mut Command, fd: i32, bytes: Vec<u8>) {
    use std::os::unix::process::CommandExt as _;

    // SAFETY: the closure runs in the forked child and makes only
    // async-signal-safe calls (sigaction, write) on memory it owns.
    unsafe {
        command.pre_exec(move || {
            let mut ignore: libc::sigaction = std::mem::zeroed();
            ignore.sa_sigaction = libc::SIG_IGN;
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGPIPE, &ignore, &mut old);
            libc::write(fd, bytes.as_ptr().cast(), bytes.len());
            libc::sigaction(libc::SIGPIPE, &old, std::ptr::null_mut());
            Ok(())
        })
    };
}

// ---- in the guardian --------------------------------------------------------

/// Whether this process has a pipe at [`PIPE_FD`], as [`launch`] gives the
/// guardian.
pub(crate) fn given_pipe() -> bool {
    // SAFETY: fstat(2) fills a zeroed stat of the right type.
    unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        libc::fstat(PIPE_FD, &mut stat) == 0 && stat.st_mode & libc::S_IFMT == libc::S_IFIFO
    }
}

/// Closes every descriptor above the pipe: the ones the program had
/// inherited without close-on-exec (a shell's `exec 7>&1`, a jobserver's
/// pipe, a socket of systemd's) came along through `exec`, and a guardian
/// holding them would keep a pipe's reader from seeing its end.
#[cfg(target_os = "freebsd")]
pub(crate) fn close_inherited() {
    // SAFETY: closefrom(2) on descriptors this process owns, none in use.
    unsafe { libc::closefrom(PIPE_FD + 1) };
}

/// Closes every descriptor above the pipe: the ones the program had
/// inherited without close-on-exec (a shell's `exec 7>&1`, a jobserver's
/// pipe, a socket of systemd's) came along through `exec`, and a guardian
/// holding them would keep a pipe's reader from seeing its end.
#[cfg(not(target_os = "freebsd"))]
pub(crate) fn close_inherited() {
    // macOS (and Linux) list a process's open descriptors in `/dev/fd`,
    // read before any is closed: a few closes, not one per possible number.
    if let Ok(dir) = std::fs::read_dir("/dev/fd") {
        let fds: Vec<i32> = dir
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
            .collect();
        // The directory's own descriptor is already closed (EBADF, harmless).
        for fd in fds.into_iter().filter(|&fd| fd > PIPE_FD) {
            fd::close(fd);
        }
        return;
    }
    // SAFETY: sysconf(3) takes a name and no pointers.
    let limit = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) };
    let last = match i32::try_from(limit) {
        Ok(limit) if (0..=CLOSE_AT_MOST).contains(&limit) => limit,
        _ => CLOSE_AT_MOST,
    };
    for fd in PIPE_FD + 1..last {
        fd::close(fd);
    }
}

/// Names this process for `ps`; the baseline has no way (its argv\[0\],
/// `cleanup-guardian`, is what `ps` shows).
pub(crate) fn set_name(_name: &CStr) {}

/// The program's name: the guardian is the program's executable run
/// again, so the executable's file name.
pub(crate) fn program_name(_program: i32) -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.file_name()?.to_string_lossy().into_owned())
}

/// How many times the OOM killer acted in the guardian's cgroup: none to
/// read here.
pub(crate) fn oom_kills() -> Option<u64> {
    None
}

/// Lets go of the pages of code mapped at start-up (the program's
/// executable, the C library, the loader): the guardian waits in a loop
/// that needs a few of them, and a waiting guardian should weigh next to
/// nothing. The loaded objects' executable, never-written segments, as the
/// loader lists them (`dl_iterate_phdr`): their pages come back unchanged
/// from the file when used. macOS has no such list here: it keeps them.
pub(crate) fn trim_code_pages() {
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    {
        /// Drops the pages of one loaded object's code segments (`PT_LOAD`,
        /// executable, not writable: ELF's numbers, the same everywhere).
        unsafe extern "C" fn trim_object(
            info: *mut libc::dl_phdr_info,
            _size: libc::size_t,
            _data: *mut libc::c_void,
        ) -> libc::c_int {
            const PT_LOAD: u64 = 1;
            const PF_X: u64 = 1;
            const PF_W: u64 = 2;
            // SAFETY: the loader passes a valid `info` for this call.
            let info = unsafe { &*info };
            // SAFETY: a NUL-terminated name the loader keeps (or null).
            let name = (!info.dlpi_name.is_null())
                .then(|| unsafe { CStr::from_ptr(info.dlpi_name) }.to_bytes());
            let kernel = |name: &[u8]| {
                name.starts_with(b"linux-vdso") || name.starts_with(b"linux-gate")
            };
            if name.is_some_and(kernel) {
                // The kernel's page, no file behind it.
                return 0;
            }
            // SAFETY: sysconf(3) takes a name and no pointers.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let page = usize::try_from(page).unwrap_or(4096).max(1);
            for index in 0..usize::from(info.dlpi_phnum) {
                // SAFETY: `dlpi_phdr` holds `dlpi_phnum` headers.
                let header = unsafe { &*info.dlpi_phdr.add(index) };
                let (kind, flags) = (header.p_type as u64, header.p_flags as u64);
                if kind != PT_LOAD || flags & PF_X == 0 || flags & PF_W != 0 {
                    continue;
                }
                let start = (info.dlpi_addr as usize).wrapping_add(header.p_vaddr as usize);
                let end = start.saturating_add(header.p_memsz as usize);
                let (start, end) = (start & !(page - 1), end.div_ceil(page) * page);
                // SAFETY: madvise(2) on a segment of a loaded object: private,
                // read-and-execute, backed by its file; MADV_DONTNEED only unmaps
                // its pages, which are faulted back unchanged when used.
                let at = start as *mut libc::c_void;
                unsafe { libc::madvise(at, end - start, libc::MADV_DONTNEED) };
            }
            0
        }
        // SAFETY: dl_iterate_phdr(3) calls `trim_object` for each loaded
        // object, with no data of ours.
        unsafe { libc::dl_iterate_phdr(Some(trim_object), std::ptr::null_mut()) };
    }
}

/// Reads the pipe until its end and the program's death, handing the bytes
/// of each read to `read`; then how the program died, as far as this
/// system tells the guardian.
///
/// The program started the guardian: while it lives it is the guardian's
/// parent, and once it is not, it has ended. Its death is seen at once by
/// the pipe's end (the program holds its only write end) or by kqueue's
/// `NOTE_EXIT`; after an `exec` of the program's (which closed the pipe)
/// without kqueue, within [`ASK_PARENT_EVERY`].
pub(crate) fn watch(program: i32, mut read: impl FnMut(&[u8])) -> Death {
    let exit = ExitWatch::of(program);
    // Asked after the watch is set: the program was alive when it was, so
    // the watch is the program's, not a process's that reused its pid.
    let alive = process::parent() == program;
    // With a watch, the pipe is waited for on it too.
    let exit = exit.filter(|exit| alive && exit.watch_readable(PIPE_FD));
    let mut chunk = [0u8; 4096];
    let mut pipe_open = true;
    let mut dead = !alive;
    let mut ask_after = ASK_PARENT_FIRST;
    while pipe_open || !dead {
        let readable = match &exit {
            Some(exit) => exit.wait(None),
            None if pipe_open => fd::poll_readable([PIPE_FD], None).map(|[readable]| readable),
            None => {
                std::thread::sleep(ask_after);
                ask_after = (ask_after * 2).min(ASK_PARENT_EVERY);
                Ok(false)
            }
        };
        let Ok(readable) = readable else {
            continue; // EINTR
        };
        if readable && pipe_open {
            match fd::read(PIPE_FD, &mut chunk) {
                Ok(0) => {
                    pipe_open = false;
                    if let Some(exit) = &exit {
                        exit.unwatch_readable(PIPE_FD);
                    }
                }
                Ok(n) => read(&chunk[..n]),
                Err(_) => {}
            }
        }
        match &exit {
            Some(exit) => dead = dead || exit.ended(),
            None if !pipe_open => dead = process::parent() != program,
            None => {}
        }
    }
    match exit.and_then(|exit| exit.status()) {
        Some(status) => Death::from_status(status),
        None => Death::Unknown(UNKNOWN),
    }
}

/// A child of the program, as the guardian keeps it until it may have to
/// kill it.
///
/// What the baseline guarantees about pids: the guardian is the program's
/// child, neither its parent nor its children's, so nothing it holds keeps
/// a child's pid from being reused once the child has ended and been
/// reaped (by the program, or after the program's death by the child's new
/// parent, init or a subreaper). It signals a child only after the
/// program's death, within milliseconds of it, and only one whose reaping
/// the program had not reported. The pid can then be another process's
/// only if the child ended (or was reaped by the program, which died
/// before telling) moments before, and the system handed out every other
/// pid in between: Linux, macOS and FreeBSD hand pids out in sequence
/// (unless FreeBSD's `kern.randompid` is set). A group is signalled by its
/// id, the child's pid, which no new process or group can take while any
/// member of the group lives: that kill reaches the child's group or, but
/// for the same wrap-around, nobody. Where kqueue is (macOS, FreeBSD), the
/// guardian also watches each child's end from the moment it learns of
/// the child, and never signals the pid of a child it has seen end.
pub(crate) struct Child {
    pid: i32,
    exit: Option<ExitWatch>,
}

/// What [`Child::kill`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Killed {
    /// SIGKILLed the process group the child leads.
    WithGroup,
    /// SIGKILLed the child alone.
    Alone,
    /// Nothing: it had ended.
    Not,
}

impl Child {
    /// Keeps child `pid` of the program, told by the program (alive, not
    /// reaped).
    pub(crate) fn track(pid: i32) -> Child {
        Child {
            pid,
            exit: ExitWatch::of(pid),
        }
    }

    /// SIGKILLs the child, with the group it leads when `own_group`.
    pub(crate) fn kill(&self, own_group: bool) -> Killed {
        if own_group && matches!(process::kill(-self.pid, libc::SIGKILL), Ok(true)) {
            return Killed::WithGroup;
        }
        if self.exit.as_ref().is_some_and(ExitWatch::has_ended) {
            return Killed::Not;
        }
        match process::kill(self.pid, libc::SIGKILL) {
            Ok(true) => Killed::Alone,
            _ => Killed::Not,
        }
    }

    /// Until the child has ended (after [`Child::kill`]), or `until`.
    /// Without kqueue, at most [`KILLED_WAIT`]: a zombie nobody has reaped
    /// yet cannot be told from a live process.
    pub(crate) fn wait_exit(&self, until: Instant) {
        if let Some(exit) = &self.exit {
            exit.wait_ended(until);
            return;
        }
        let until = until.min(Instant::now() + KILLED_WAIT);
        while Instant::now() < until && matches!(process::kill(self.pid, 0), Ok(true)) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The program's stderr, as the guardian reaches it once it has let go of
/// fd 2 (see [`let_go_of_stderr`]).
///
/// POSIX has no way to name an open pipe or socket without holding it
/// open, so the baseline keeps what holding keeps no reader from its end:
/// a regular file (or a device other than a terminal) as a duplicate,
/// written to for each line; a terminal by its name (`ttyname`), reopened
/// for each line, as Linux does. A pipe or a socket it lets go of: its
/// lines after the first are not written (Linux reopens a pipe through
/// `/proc` while its reader is still there).
pub(crate) struct Stderr(Reach);

enum Reach {
    Kept(i32),
    Terminal(CString),
    Lost,
}

impl Stderr {
    /// Remembers fd 2, the program's stderr still.
    pub(crate) fn remember() -> Stderr {
        // SAFETY: fstat(2) fills a zeroed stat of the right type.
        let mode = unsafe {
            let mut stat: libc::stat = std::mem::zeroed();
            if libc::fstat(2, &mut stat) != 0 {
                return Stderr(Reach::Lost);
            }
            stat.st_mode & libc::S_IFMT
        };
        if mode == libc::S_IFIFO || mode == libc::S_IFSOCK {
            return Stderr(Reach::Lost);
        }
        // SAFETY: isatty(3) takes a descriptor number.
        if unsafe { libc::isatty(2) } == 1 {
            return Stderr(terminal_name().map_or(Reach::Lost, Reach::Terminal));
        }
        Stderr(fd::duplicate(2, PIPE_FD + 1).map_or(Reach::Lost, Reach::Kept))
    }

    /// Writes `line` to the program's stderr, where it can still be
    /// reached (a terminal without blocking).
    pub(crate) fn write_line(&self, line: &[u8]) {
        match &self.0 {
            Reach::Kept(fd) => {
                let _ = fd::write_all(*fd, line);
            }
            Reach::Terminal(path) => {
                // SAFETY: open(2) of a NUL-terminated path; the descriptor
                // is ours until the close below.
                let fd = unsafe {
                    libc::open(
                        path.as_ptr(),
                        libc::O_WRONLY | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC,
                    )
                };
                if fd >= 0 {
                    let _ = fd::write_all(fd, line);
                    fd::close(fd);
                }
            }
            Reach::Lost => {}
        }
    }
}

/// The name of the terminal at fd 2.
fn terminal_name() -> Option<CString> {
    let mut name = [0u8; 256];
    // SAFETY: ttyname_r(3) writes at most `name.len()` bytes, NUL included,
    // into the live buffer.
    let got = unsafe { libc::ttyname_r(2, name.as_mut_ptr().cast(), name.len()) };
    if got != 0 {
        return None;
    }
    Some(CStr::from_bytes_until_nul(&name).ok()?.to_owned())
}

/// Points fd 2 at `/dev/null`: the program's stderr is no longer held.
pub(crate) fn let_go_of_stderr() {
    // SAFETY: open(2) of a NUL-terminated literal path, dup2(2) onto fd 2,
    // close(2) of the descriptor just opened.
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

// ---- a process's end, where kqueue tells it ---------------------------------

/// A kqueue (macOS, FreeBSD) told of a process's end (`EVFILT_PROC`,
/// `NOTE_EXIT`), and, for the program's, of the pipe's input. Waited on
/// with `kevent` itself, not `poll`: macOS's `poll` may call a kqueue
/// readable before it has an event.
#[cfg(any(target_vendor = "apple", target_os = "freebsd"))]
struct ExitWatch {
    queue: i32,
    ended: std::cell::Cell<bool>,
    /// The wait status `NOTE_EXIT` carried (FreeBSD; on macOS only a
    /// parent is given it).
    status: std::cell::Cell<Option<i32>>,
}

#[cfg(any(target_vendor = "apple", target_os = "freebsd"))]
impl ExitWatch {
    /// Watches `pid`, which must be alive for the watch to be its (the
    /// caller makes sure); `None` if the system cannot.
    fn of(pid: i32) -> Option<ExitWatch> {
        // SAFETY: kqueue(2) takes nothing. (A kqueue is not inherited by a
        // fork's child: the commands the guardian runs never hold it.)
        let queue = unsafe { libc::kqueue() };
        if queue < 0 {
            return None;
        }
        let watch = ExitWatch {
            queue,
            ended: std::cell::Cell::new(false),
            status: std::cell::Cell::new(None),
        };
        // (Dropped, hence closed, if the kernel refuses.)
        watch
            .change(pid as libc::uintptr_t, libc::EVFILT_PROC, libc::EV_ADD, libc::NOTE_EXIT)
            .then_some(watch)
    }

    /// One change to what the queue watches; whether the kernel took it.
    fn change(&self, ident: libc::uintptr_t, filter: i16, flags: u16, fflags: u32) -> bool {
        // SAFETY: a zeroed kevent is a valid value; its fields are set below.
        let mut change: libc::kevent = unsafe { std::mem::zeroed() };
        change.ident = ident;
        change.filter = filter;
        change.flags = flags;
        change.fflags = fflags;
        // SAFETY: kevent(2) with one change from this stack and no event
        // list, so it does not wait.
        unsafe {
            libc::kevent(
                self.queue,
                &change,
                1,
                std::ptr::null_mut(),
                0,
                std::ptr::null(),
            ) == 0
        }
    }

    /// Also wakes [`ExitWatch::wait`] when `fd` has something to read or
    /// has reached its end; whether the kernel took it.
    fn watch_readable(&self, fd: i32) -> bool {
        self.change(fd as libc::uintptr_t, libc::EVFILT_READ, libc::EV_ADD, 0)
    }

    /// No longer wakes for `fd` (at its end, where it would at once).
    fn unwatch_readable(&self, fd: i32) {
        let _ = self.change(fd as libc::uintptr_t, libc::EVFILT_READ, libc::EV_DELETE, 0);
    }

    /// Waits for events, at most `timeout` (`None`: no limit): whether a
    /// descriptor watched by [`ExitWatch::watch_readable`] is readable.
    /// The process's end is noted ([`ExitWatch::ended`]).
    fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let timeout = timeout.map(super::timespec);
        let timeout_ptr = timeout
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: zeroed kevents are valid values for the kernel to fill.
        let mut events: [libc::kevent; 2] = unsafe { std::mem::zeroed() };
        // SAFETY: kevent(2) with no changes, room for two events on this
        // stack, and a timeout that outlives the call (or none).
        let got = unsafe {
            libc::kevent(
                self.queue,
                std::ptr::null(),
                0,
                events.as_mut_ptr(),
                2,
                timeout_ptr,
            )
        };
        let got = usize::try_from(got).map_err(|_| io::Error::last_os_error())?;
        let mut readable = false;
        for event in &events[..got] {
            if event.filter == libc::EVFILT_READ {
                readable = true;
            } else if event.filter == libc::EVFILT_PROC && event.fflags & libc::NOTE_EXIT != 0 {
                self.ended.set(true);
                #[cfg(target_os = "freebsd")]
                self.status.set(Some(event.data as i32));
                // Told once: never again (the kernel drops it too).
                let _ = self.change(event.ident, libc::EVFILT_PROC, libc::EV_DELETE, 0);
            }
        }
        Ok(readable)
    }

    /// Whether the process's end has been seen by a wait.
    fn ended(&self) -> bool {
        self.ended.get()
    }

    /// Whether the process has ended, asked without waiting.
    fn has_ended(&self) -> bool {
        if !self.ended.get() {
            let _ = self.wait(Some(Duration::ZERO));
        }
        self.ended.get()
    }

    /// Until the process has ended, or `until`.
    fn wait_ended(&self, until: Instant) {
        if !self.ended.get() {
            let _ = self.wait(Some(until.saturating_duration_since(Instant::now())));
        }
    }

    /// The process's wait status, where its end carried it.
    fn status(&self) -> Option<i32> {
        self.status.get()
    }
}

#[cfg(any(target_vendor = "apple", target_os = "freebsd"))]
impl Drop for ExitWatch {
    fn drop(&mut self) {
        fd::close(self.queue);
    }
}

/// No kqueue here: never made, so none of these is ever called.
#[cfg(not(any(target_vendor = "apple", target_os = "freebsd")))]
enum ExitWatch {}

#[cfg(not(any(target_vendor = "apple", target_os = "freebsd")))]
impl ExitWatch {
    fn of(_pid: i32) -> Option<ExitWatch> {
        None
    }

    fn watch_readable(&self, _fd: i32) -> bool {
        match *self {}
    }

    fn unwatch_readable(&self, _fd: i32) {
        match *self {}
    }

    fn wait(&self, _timeout: Option<Duration>) -> io::Result<bool> {
        match *self {}
    }

    fn ended(&self) -> bool {
        match *self {}
    }

    fn has_ended(&self) -> bool {
        match *self {}
    }

    fn wait_ended(&self, _until: Instant) {
        match *self {}
    }

    fn status(&self) -> Option<i32> {
        match *self {}
    }
}
