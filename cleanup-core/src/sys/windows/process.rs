//! Processes: the children's job object, ending a child, and waiting for
//! one by its pid (a pid is not reused while its `std::process::Child`,
//! which holds a handle to it, lives).

use std::io;
use std::os::windows::io::AsRawHandle as _;
use std::process::Command;
use std::sync::atomic::{AtomicPtr, Ordering};

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, WAIT_OBJECT_0};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::{
    OpenProcess, TerminateProcess, WaitForSingleObject, INFINITE, PROCESS_SYNCHRONIZE,
    PROCESS_TERMINATE,
};

/// No PID namespaces, no init's duties.
pub(crate) const PID_NAMESPACES: bool = false;

/// What the system offers so a child dies with this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeathSignal {
    /// Nothing (not on Windows).
    #[allow(dead_code)]
    None,
    /// Follows the thread that started the child (not on Windows).
    #[allow(dead_code)]
    PerThread,
    /// Follows the process: here, a job object with kill-on-close, whose
    /// only handle this process holds, so it closes when the process ends,
    /// however it ends.
    PerProcess,
}

/// What [`die_with_parent`] and [`adopt`] set up here.
pub(crate) const DEATH_SIGNAL: DeathSignal = DeathSignal::PerProcess;

/// Nothing to set on the command: the child joins the job once it exists
/// (see [`adopt`]).
pub(crate) fn die_with_parent(_command: &mut Command) {}

/// The job that ends the children with this process, made on first use;
/// null if it cannot be.
static JOB: AtomicPtr<std::ffi::c_void> = AtomicPtr::new(std::ptr::null_mut());

fn job() -> HANDLE {
    let job = JOB.load(Ordering::SeqCst);
    if !job.is_null() {
        return job;
    }
    // SAFETY: creates an unnamed job object with default security.
    let made = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if made.is_null() {
        return made;
    }
    // SAFETY: an all-zero limit structure is valid; only the flag is set.
    let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    // SAFETY: sets the job's limits from a live structure of the size given.
    let set = unsafe {
        SetInformationJobObject(
            made,
            JobObjectExtendedLimitInformation,
            (&limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
            std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    };
    if set == 0 {
        // SAFETY: closes the handle just made, which nothing else holds.
        unsafe { CloseHandle(made) };
        return std::ptr::null_mut();
    }
    match JOB.compare_exchange(std::ptr::null_mut(), made, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => made,
        Err(other) => {
            // SAFETY: another thread's job won; this one is ours to close.
            unsafe { CloseHandle(made) };
            other
        }
    }
}

/// Puts `child` into the job that ends it with this process. A child
/// could start its own children before this (std cannot start it
/// suspended); those are not in the job.
pub(crate) fn adopt(child: &std::process::Child) {
    let job = job();
    if !job.is_null() {
        // SAFETY: both handles are live: the job's is ours for good, the
        // child's is held by `child`.
        unsafe { AssignProcessToJobObject(job, child.as_raw_handle()) };
    }
}

/// Process groups cannot be asked about on Windows: 0, "none known".
pub(crate) fn own_group() -> i32 {
    0
}

/// Process groups cannot be asked about on Windows: 0, "none known", so no
/// child is taken for a group's leader.
pub(crate) fn group_of(_pid: i32) -> i32 {
    0
}

/// Not known on Windows (0).
pub(crate) fn parent() -> i32 {
    0
}

/// A handle to process `pid` with `access`, closed on drop.
struct Process(HANDLE);

impl Process {
    fn open(pid: i32, access: u32) -> io::Result<Option<Process>> {
        let Ok(pid) = u32::try_from(pid) else {
            return Ok(None);
        };
        // SAFETY: opens a process by id; the handle is ours until drop.
        let handle = unsafe { OpenProcess(access, 0, pid) };
        if handle.is_null() {
            let err = io::Error::last_os_error();
            // ERROR_INVALID_PARAMETER: no such process.
            return if err.raw_os_error() == Some(87) { Ok(None) } else { Err(err) };
        }
        Ok(Some(Process(handle)))
    }

    fn wait(&self, ms: u32) -> bool {
        // SAFETY: waits on a live process handle of ours.
        unsafe { WaitForSingleObject(self.0, ms) == WAIT_OBJECT_0 }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SAFETY: closes the handle `open` made.
        unsafe { CloseHandle(self.0) };
    }
}

/// Ends process `target` for `sig`: SIGKILL terminates it (exit code 1);
/// `Ok(false)` if it is gone. Other signals cannot be sent to a process
/// on Windows: an `Unsupported` error.
pub(crate) fn kill(target: i32, sig: i32) -> io::Result<bool> {
    if sig != super::signals::numbers::SIGKILL {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{} cannot be sent to a process on Windows: only SIGKILL (TerminateProcess)",
                super::signals::name(sig).unwrap_or("this signal")
            ),
        ));
    }
    let Some(process) = Process::open(target, PROCESS_TERMINATE | PROCESS_SYNCHRONIZE)? else {
        return Ok(false);
    };
    if process.wait(0) {
        return Ok(false);
    }
    // SAFETY: terminates a process we hold a live handle to.
    if unsafe { TerminateProcess(process.0, 1) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(true)
}

/// Whether our child `pid` has ended.
pub(crate) fn has_ended(pid: i32) -> bool {
    matches!(Process::open(pid, PROCESS_SYNCHRONIZE), Ok(Some(process)) if process.wait(0))
}

/// Blocks until our child `pid` has ended.
pub(crate) fn wait_ended(pid: i32) -> io::Result<()> {
    match Process::open(pid, PROCESS_SYNCHRONIZE)? {
        Some(process) => {
            process.wait(INFINITE);
            Ok(())
        }
        None => Err(io::Error::new(io::ErrorKind::NotFound, "no such process")),
    }
}

/// No init's duties on Windows: never a child to reap here.
pub(crate) fn ended_child() -> Option<i32> {
    None
}

/// Nothing to reap on Windows (a process's handle is its record).
pub(crate) fn reap(_pid: i32) {}
