//! The guardian's system calls on Linux: a `clone` in the program's memory
//! (raw system calls in the child) and `/proc/self/exe` to launch it, pidfds to watch the program and its
//! children, `/proc` to say how the program died, `close_range`, an
//! `O_PATH` descriptor of the program's stderr, `PR_SET_NAME`.

use std::ffi::CStr;
use std::io;
use std::time::{Duration, Instant};

pub(crate) use crate::sys::unix::guardian::{
    given_pipe, let_go_of_stderr, trim_code_pages, write_in_child, Death, Killed,
};
use crate::sys::unix::guardian::PIPE_FD;
use crate::sys::unix::guardian::settle_child;
use crate::sys::unix::{fd, process, signals};

/// Where the guardian finds a pidfd of the program (opened by the program
/// itself: the guardian has it even when the program dies before the
/// guardian is up).
const PIDFD_FD: i32 = 4;

/// Why the guardian cannot say how the program died.
const UNKNOWN: &str = "its status was collected before the guardian could read it";

/// A pidfd of `pid`, or -1 (before Linux 5.3, or `pid` gone).
fn pidfd_open(pid: i32) -> i32 {
    // SAFETY: the pidfd_open(2) system call with a pid and no flags.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    i32::try_from(fd).unwrap_or(-1)
}

// ---- in the program ---------------------------------------------------------

/// What the child needs before its exec.
#[derive(Clone, Copy)]
struct Launch {
    read: i32,
    pidfd: i32,
    argv: [*const libc::c_char; 3],
    envp: *const *const libc::c_char,
}

/// Starts the guardian: this program's executable (`/proc/self/exe`) run
/// again with argv `arg0 spec`, in a session of its own, with the read end
/// of a new pipe at fd 3, a pidfd of this process at fd 4, stdin and stdout
/// on `/dev/null`, every signal blocked until it unblocks them. Returns
/// the pipe's write end (closed on `exec`). Called while the process has
/// one thread; does not wait for the guardian's image to load.
pub(crate) fn launch(arg0: &CStr, spec: &CStr) -> io::Result<i32> {
    /// Moves `fd` to a number above the ones the child gets (3, 4), so no
    /// `dup2` in the child meets itself and keeps its close-on-exec flag.
    fn above_targets(fd: i32) -> io::Result<i32> {
        let moved = fd::duplicate(fd, 10);
        fd::close(fd);
        moved
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
    let pidfd = match pidfd_open(std::process::id() as i32) {
        -1 => -1,
        fd => above_targets(fd).unwrap_or(-1),
    };
    let launch = Launch {
        read,
        pidfd,
        argv: [arg0.as_ptr(), spec.as_ptr(), std::ptr::null()],
        // SAFETY: reads the C library's pointer; one thread, so nothing
        // changes it meanwhile.
        envp: unsafe { environ },
    };
    let mask = signals::block_all();
    let child = start_child(launch);
    let error = io::Error::last_os_error();
    signals::restore(&mask);
    fd::close(read);
    if pidfd >= 0 {
        fd::close(pidfd);
    }
    if child < 0 {
        fd::close(write);
        return Err(error);
    }
    Ok(write)
}

/// Starts the child that becomes the guardian, with every signal blocked
/// (the caller's mask, which outlives execve until the guardian unblocks
/// them: no handler of the program ever runs in it), and no fork handlers.
/// Its pid, or -1 (errno set).
///
/// Where the raw system calls below exist, the child runs in the program's
/// memory, on a stack of its own, while the program goes on (`CLONE_VM`
/// without `CLONE_VFORK`): no page tables are copied and none of the
/// program's pages become copy-on-write, which a fork cost every program
/// with a guardian (110 µs of its start-up here), and the program does not
/// wait for the child's exec either (a wake-up across cores costs more in a
/// VM than the copy). What the child reads is leaked to it, as the program
/// may have moved on, or ended, before the child's exec; the child makes
/// raw system calls only, so not even `errno` is written in the program's
/// memory. Under Valgrind, which ends a program that makes such a `clone`,
/// and where the `clone` is refused, a fork instead.
///
/// Until that exec the kernel counts two users of the program's memory, and
/// some calls are slower for it: registering for `membarrier(2)` then waits
/// for an RCU grace period (10 to 22 ms here, in the program's first
/// cleanup, which is what first had this launch reverted). The install
/// registers it before calling this (`registry::prepare`).
fn start_child(launch: Launch) -> libc::c_long {
    #[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), target_pointer_width = "64"))]
    if !under_valgrind() {
        let child = start_child_in_memory(launch);
        if child >= 0 {
            return child;
        }
        // (An emulator of system calls, such as qemu-user's, that takes a
        // `CLONE_VM` without `CLONE_THREAD` for a malformed thread: EINVAL.
        // A fork does there.)
    }
    fork_child(&launch)
}

/// Whether this process runs under Valgrind, which ends a program that
/// makes a `clone` other than a thread's, a fork's or a vfork's (its
/// preloaded libraries name it in `LD_PRELOAD`).
#[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), target_pointer_width = "64"))]
fn under_valgrind() -> bool {
    std::env::var_os("LD_PRELOAD").is_some_and(|preload| {
        crate::sys::os_str::bytes(&preload)
            .windows(b"vgpreload".len())
            .any(|word| word == b"vgpreload")
    })
}

/// [`start_child`] in the program's memory.
#[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), target_pointer_width = "64"))]
fn start_child_in_memory(launch: Launch) -> libc::c_long {
    /// The child's stack until its exec: its few system calls need little.
    const STACK: usize = 16 * 1024;
    extern "C" fn child(launch: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `launch` is the leaked `Launch` below.
        exec_guardian_raw(unsafe { &*launch.cast::<Launch>() })
    }
    // Copies of what the program may change or free later: the spec (its
    // caller's), the environment's array (`setenv` may replace it); the
    // strings it points to are never freed by the C library.
    // SAFETY: `argv[1]` is the caller's NUL-terminated spec.
    let spec: &'static CStr = Box::leak(unsafe { CStr::from_ptr(launch.argv[1]) }.into());
    let mut envp = Vec::new();
    let mut at = launch.envp;
    // SAFETY: the C library's environment: an array of pointers ended by a
    // null one; one thread, so nothing changes it meanwhile.
    unsafe {
        while !at.is_null() && !(*at).is_null() {
            envp.push(*at);
            at = at.add(1);
        }
    }
    envp.push(std::ptr::null());
    let launch: &'static Launch = Box::leak(Box::new(Launch {
        argv: [launch.argv[0], spec.as_ptr(), std::ptr::null()],
        envp: Box::leak(envp.into_boxed_slice()).as_ptr(),
        ..launch
    }));
    // Never freed, never touched here: the pages the child does not use
    // are never even faulted in.
    let stack = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(STACK));
    let top = stack.as_ptr().wrapping_add(stack.capacity());
    // The stack grows down from its top, 16-byte aligned.
    let top = top.wrapping_sub(top as usize % 16);
    // SAFETY: clone(2) through the C library, which runs `child` on its own
    // stack (leaked, so alive as long as the child needs it) in this
    // process's memory; the child reads only leaked data and makes raw
    // system calls, then execs or exits.
    libc::c_long::from(unsafe {
        libc::clone(
            child,
            top.cast_mut().cast(),
            libc::CLONE_VM | libc::SIGCHLD,
            (launch as *const Launch).cast_mut().cast(),
        )
    })
}

/// Elsewhere, and where that cannot be, a fork: the raw system call, not
/// the C library's `fork`, so no fork handlers run in the child. The
/// program does not wait for it to load its image.
fn fork_child(launch: &Launch) -> libc::c_long {
    // SAFETY: clone(2) with the flags of fork(2); the child calls
    // `exec_guardian` only, which never returns.
    let child = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0) };
    if child == 0 {
        exec_guardian(launch);
    }
    child
}

/// The forked child: puts the pipe at fd 3, the pidfd at fd 4, stdin and
/// stdout on /dev/null, and becomes the guardian. System calls only; never
/// returns.
fn exec_guardian(launch: &Launch) -> ! {
    let pidfd = (launch.pidfd >= 0).then_some((launch.pidfd, PIDFD_FD));
    settle_child(launch.read, pidfd);
    // SAFETY: execve(2) and _exit(2) with NUL-terminated arrays in this
    // child's copy of the memory.
    unsafe {
        libc::execve(
            c"/proc/self/exe".as_ptr(),
            launch.argv.as_ptr(),
            launch.envp,
        );
        libc::_exit(127)
    }
}

/// The child in the program's memory: what `settle_child` does, then the
/// exec, in raw system calls (the C library's wrappers would write `errno`
/// into the program's main thread, which runs on meanwhile). Never returns.
#[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), target_pointer_width = "64"))]
fn exec_guardian_raw(launch: &Launch) -> ! {
    use raw::call;
    let int = |fd: i32| fd as usize;
    // SAFETY: setsid(2), dup3(2), openat(2) of a NUL-terminated literal,
    // close(2), execve(2) with leaked NUL-terminated arrays, exit_group(2):
    // on descriptors this child owns (its own table: no CLONE_FILES).
    unsafe {
        call(libc::SYS_setsid, [0, 0, 0]);
        // (Never the same numbers: the program moved both above 10.)
        call(libc::SYS_dup3, [int(launch.read), int(PIPE_FD), 0]);
        if launch.pidfd >= 0 {
            call(libc::SYS_dup3, [int(launch.pidfd), int(PIDFD_FD), 0]);
        }
        let null = call(
            libc::SYS_openat,
            [int(libc::AT_FDCWD), c"/dev/null".as_ptr() as usize, int(libc::O_RDWR)],
        );
        if let Ok(null) = usize::try_from(null) {
            for target in [0, 1] {
                if null != target {
                    call(libc::SYS_dup3, [null, target, 0]);
                }
            }
            if null > 2 {
                call(libc::SYS_close, [null, 0, 0]);
            }
        }
        call(
            libc::SYS_execve,
            [
                c"/proc/self/exe".as_ptr() as usize,
                launch.argv.as_ptr() as usize,
                launch.envp as usize,
            ],
        );
        loop {
            // (It does not return.)
            call(libc::SYS_exit_group, [127, 0, 0]);
        }
    }
}

/// A system call without the C library: its result, or minus the error.
#[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), target_pointer_width = "64"))]
mod raw {
    /// # Safety
    ///
    /// As the system call `number` with `args` requires.
    #[cfg(target_arch = "x86_64")]
    pub(super) unsafe fn call(number: libc::c_long, args: [usize; 3]) -> isize {
        let result: isize;
        // SAFETY: the caller's; `syscall` clobbers rcx and r11 only.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") number as isize => result,
                in("rdi") args[0],
                in("rsi") args[1],
                in("rdx") args[2],
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        result
    }

    /// # Safety
    ///
    /// As the system call `number` with `args` requires.
    #[cfg(target_arch = "aarch64")]
    pub(super) unsafe fn call(number: libc::c_long, args: [usize; 3]) -> isize {
        let result: isize;
        // SAFETY: the caller's; `svc 0` returns in x0 and clobbers nothing
        // else.
        unsafe {
            std::arch::asm!(
                "svc 0",
                in("x8") number,
                inlateout("x0") args[0] as isize => result,
                in("x1") args[1],
                in("x2") args[2],
                options(nostack),
            );
        }
        result
    }
}

// ---- in the guardian --------------------------------------------------------

/// Closes every descriptor above the two the program gave us: the ones the
/// program had inherited without close-on-exec (a shell's `exec 7>&1`, a
/// jobserver's pipe, a socket of systemd's) came along through `exec`, and a
/// guardian holding them would keep a pipe's reader from seeing its end.
pub(crate) fn close_inherited() {
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
            // The directory's own descriptor is already closed (EBADF,
            // harmless).
            fd::close(fd);
        }
    }
}

/// Names this process `name` (at most 15 bytes), as `ps` shows it.
pub(crate) fn set_name(name: &CStr) {
    // SAFETY: prctl(2) with a NUL-terminated string.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, name.as_ptr());
    }
}

/// The program's name, from `/proc/<pid>/comm`.
pub(crate) fn program_name(program: i32) -> Option<String> {
    let name = std::fs::read_to_string(format!("/proc/{program}/comm")).ok()?;
    Some(name.trim_end().to_owned())
}

/// How many times the OOM killer acted in our cgroup (v2): the program's,
/// which the fork kept us in (its own `/proc` entry goes with it).
pub(crate) fn oom_kills() -> Option<u64> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroup.lines().find_map(|line| line.strip_prefix("0::"))?;
    let events = std::fs::read_to_string(format!("/sys/fs/cgroup{path}/memory.events")).ok()?;
    events
        .lines()
        .find_map(|line| line.strip_prefix("oom_kill "))?
        .trim()
        .parse()
        .ok()
}

/// Reads the pipe until its end and the program's death, handing the bytes
/// of each read to `read`; then how the program died, when the guardian
/// could still read it.
pub(crate) fn watch(program: i32, mut read: impl FnMut(&[u8])) -> Death {
    // The program started us: while it lives it is our parent; if it is
    // not, it has already ended.
    let alive = process::parent() == program;
    // The program's pidfd, which it opened for us; without one (before
    // Linux 5.3), one of our own while it is alive.
    let pidfd = if is_open(PIDFD_FD) {
        PIDFD_FD
    } else if alive {
        pidfd_open(program)
    } else {
        -1
    };
    let mut chunk = [0u8; 4096];
    let mut pipe_open = true;
    let mut dead = !alive;
    while pipe_open || !dead {
        // Without a pidfd (before Linux 5.3), the end of the pipe says
        // the program ended, unless it is still our parent (an `exec`
        // closed the pipe): then look again every 50 ms.
        let wait = (pidfd < 0 && !pipe_open).then_some(Duration::from_millis(50));
        let pipe = if pipe_open { PIPE_FD } else { -1 };
        let death = if dead { -1 } else { pidfd };
        let Ok([readable, ended]) = fd::poll_readable([pipe, death], wait) else {
            continue; // EINTR
        };
        if ended {
            dead = true;
        }
        if readable {
            match fd::read(PIPE_FD, &mut chunk) {
                Ok(0) => pipe_open = false,
                Ok(n) => read(&chunk[..n]),
                Err(_) => {}
            }
        }
        if pidfd < 0 && !pipe_open {
            dead = process::parent() != program;
        }
    }
    // A zombie says how it ended until its parent reaps it, a pidfd
    // after that; between the two (the reaping itself) look again, a
    // few milliseconds at most.
    let mut status = None;
    for _ in 0..50 {
        status = zombie_status(program).or_else(|| reaped_status(pidfd));
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    if pidfd >= 0 {
        fd::close(pidfd);
    }
    status.map_or(Death::Unknown(UNKNOWN), Death::from_status)
}

/// Whether `fd` is open (the program passes a pidfd there when it can).
fn is_open(fd: i32) -> bool {
    // SAFETY: fcntl(2) F_GETFD on a descriptor number: only asks.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
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
    let got = unsafe { libc::ioctl(pidfd, PIDFD_GET_INFO as _, &mut info as *mut PidfdInfo) };
    (got == 0 && info.mask & PIDFD_INFO_EXIT != 0).then_some(info.exit_code)
}

/// A child of the program, as the guardian keeps it until it may have to
/// kill it: with a pidfd taken when the guardian learnt of it, so that a
/// pid reused since is never signalled.
pub(crate) struct Child {
    pid: i32,
    pidfd: i32,
}

impl Child {
    /// Keeps child `pid` of the program, told by the program (alive, not
    /// reaped).
    pub(crate) fn track(pid: i32) -> Child {
        Child {
            pid,
            pidfd: pidfd_open(pid),
        }
    }

    /// SIGKILLs the child, with the group it leads when `own_group`: the
    /// group by its id, the child's pid, held by its pidfd (or its zombie);
    /// the child through the pidfd when there is one (never a reused pid).
    pub(crate) fn kill(&self, own_group: bool) -> Killed {
        if own_group && matches!(process::kill(-self.pid, libc::SIGKILL), Ok(true)) {
            return Killed::WithGroup;
        }
        let sent = if self.pidfd >= 0 {
            // SAFETY: pidfd_send_signal(2) on our own pidfd, no siginfo.
            let sent = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    self.pidfd,
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
            sent == 0
        } else {
            // Without a pidfd this is the best there is.
            matches!(process::kill(self.pid, libc::SIGKILL), Ok(true))
        };
        if sent {
            Killed::Alone
        } else {
            Killed::Not
        }
    }

    /// Until the child has ended (after [`Child::kill`]), or `until`; at
    /// once without a pidfd.
    pub(crate) fn wait_exit(&self, until: Instant) {
        if self.pidfd < 0 {
            return;
        }
        let left = until.saturating_duration_since(Instant::now());
        let _ = fd::poll_readable([self.pidfd], Some(left));
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.pidfd >= 0 {
            fd::close(self.pidfd);
        }
    }
}

/// The program's stderr, as the guardian reaches it once it has let go of
/// fd 2 (see [`let_go_of_stderr`]): an `O_PATH` descriptor, which is no
/// writer and never holds the stream open, reopened for each line.
pub(crate) struct Stderr(i32);

impl Stderr {
    /// Remembers fd 2, the program's stderr still.
    pub(crate) fn remember() -> Stderr {
        // SAFETY: open(2) of a NUL-terminated literal path.
        Stderr(unsafe { libc::open(c"/proc/self/fd/2".as_ptr(), libc::O_PATH | libc::O_CLOEXEC) })
    }

    /// Writes `line` to the program's stderr, reopened for it, when it can
    /// still be reached.
    pub(crate) fn write_line(&self, line: &[u8]) {
        if self.0 < 0 {
            return;
        }
        let path = format!("/proc/self/fd/{}\0", self.0);
        // SAFETY: open(2) of a NUL-terminated path; the descriptor is ours
        // until the close below. Non-blocking: a pipe nobody reads any more
        // (ENXIO) or a full one is skipped.
        let fd = unsafe {
            libc::open(
                path.as_ptr().cast(),
                libc::O_WRONLY | libc::O_APPEND | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd >= 0 {
            let _ = fd::write(fd, line);
            fd::close(fd);
        }
    }
}
