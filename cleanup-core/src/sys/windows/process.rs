//! Processes: the children's job object, ending a child, and waiting for
//! one by its pid (a pid is not reused while its `std::process::Child`,
//! which holds a handle to it, lives).

use std::io;
use std::os::windows::io::AsRawHandle as _;
use std::process::Command;
use std::sync::atomic::{AtomicPtr, Ordering};

use windows_sys::Wdk::System::Threading::{NtQueryInformationProcess, ProcessBasicInformation};
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, WAIT_OBJECT_0};
use windows_sys::Win32::System::Console::{GenerateConsoleCtrlEvent, CTRL_BREAK_EVENT};
use windows_sys::Win32::System::Diagnostics::Debug::ReadProcessMemory;
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, TerminateProcess, WaitForSingleObject, INFINITE,
    PROCESS_QUERY_INFORMATION, PROCESS_SYNCHRONIZE, PROCESS_TERMINATE, PROCESS_VM_READ,
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

/// The console process group children share with this process: 0, as
/// Windows gives no call that names a group. A child of ours is either in
/// it or leads a group of its own ([`group_of`]).
pub(crate) fn own_group() -> i32 {
    0
}

/// Our child `pid`'s console process group: its own pid when it leads a
/// group of its own (started with `CREATE_NEW_PROCESS_GROUP`), else 0, ours
/// ([`own_group`]). Only such a child can be sent a console event alone
/// ([`kill`]).
///
/// Windows has no call for this, so it is read where the console host and
/// `kernelbase` keep it: the child's process parameters (`ProcessGroupId`,
/// and bit 0 of `ConsoleFlags`, which `CreateProcess` sets for a new group
/// before the child runs: it then ignores Ctrl-C). The evidence must be
/// plain: a child taken for a leader that is not one would, sent
/// Ctrl-Break, pass it to the whole console, this process included
/// (microsoft/terminal#335), so anything unclear is "ours".
pub(crate) fn group_of(pid: i32) -> i32 {
    let Ok(Some(child)) = Process::open(pid, PROCESS_QUERY_INFORMATION | PROCESS_VM_READ) else {
        return 0;
    };
    let (Some(theirs), Some(ours)) = (console_group(child.0), console_group(current_process()))
    else {
        return 0;
    };
    if leads_its_group(pid as u32, theirs, ours) {
        pid
    } else {
        0
    }
}

/// What a process's parameters say of its console process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ConsoleGroup {
    /// `ProcessGroupId`, where the parameters are long enough to hold it
    /// (Windows 8 and later); 0 where it is not filled in (Wine).
    id: Option<u32>,
    /// Bit 0 of `ConsoleFlags`: Ctrl-C is ignored, as in a new group.
    ignores_ctrl_c: bool,
}

/// Whether the child `pid`, whose parameters say `theirs` while ours say
/// `ours`, leads a console process group of its own.
fn leads_its_group(pid: u32, theirs: ConsoleGroup, ours: ConsoleGroup) -> bool {
    match theirs.id {
        // Windows names the group: a leader's is its own pid.
        Some(id) if id != 0 => id == pid,
        // Not named: a new group is told by its Ctrl-C being ignored from
        // the start, which it could not have from us unless we ignore it
        // too (then nothing tells it apart).
        _ => theirs.ignores_ctrl_c && !ours.ignores_ctrl_c,
    }
}

/// Offsets in the 64-bit `RTL_USER_PROCESS_PARAMETERS` (as `winternl.h`
/// and the console's own code lay it out) and `PEB`.
mod layout {
    /// `PEB::ProcessParameters`.
    pub(super) const PEB_PARAMETERS: usize = 0x20;
    /// `Length`: how much of the structure this system writes.
    pub(super) const LENGTH: usize = 0x04;
    /// `ConsoleFlags`.
    pub(super) const CONSOLE_FLAGS: usize = 0x18;
    /// `ProcessGroupId`.
    pub(super) const PROCESS_GROUP_ID: usize = 0x408;
}

/// `PROCESS_BASIC_INFORMATION`, as `winternl.h` gives it.
#[repr(C)]
struct BasicInformation {
    exit_status: i32,
    peb: usize,
    affinity_mask: usize,
    base_priority: i32,
    unique_process_id: usize,
    inherited_from_unique_process_id: usize,
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

/// `size_of::<T>()` bytes at `address` in `process`, as a `T`.
fn read<T: Copy + Default>(process: HANDLE, address: usize) -> Option<T> {
    let mut value = T::default();
    let mut read = 0usize;
    // SAFETY: reads into a live, writable `T` of the size given; a bad
    // address in the other process fails the call, nothing more.
    let ok = unsafe {
        ReadProcessMemory(
            process,
            address as *const std::ffi::c_void,
            (&mut value as *mut T).cast(),
            std::mem::size_of::<T>(),
            &mut read,
        )
    };
    (ok != 0 && read == std::mem::size_of::<T>()).then_some(value)
}

/// The address of `process`'s PEB, where it can be asked.
fn peb(process: HANDLE) -> Option<usize> {
    // SAFETY: an all-zero `BasicInformation` is valid (integers only).
    let mut basic: BasicInformation = unsafe { std::mem::zeroed() };
    let mut size = 0u32;
    // SAFETY: fills a live `BasicInformation` of the size given, the
    // layout the `ProcessBasicInformation` class writes.
    let status = unsafe {
        NtQueryInformationProcess(
            process,
            ProcessBasicInformation,
            (&mut basic as *mut BasicInformation).cast(),
            std::mem::size_of::<BasicInformation>() as u32,
            &mut size,
        )
    };
    (status >= 0 && basic.peb != 0).then_some(basic.peb)
}

/// This process's pseudo-handle (never closed).
fn current_process() -> HANDLE {
    // SAFETY: no arguments; the pseudo-handle is always valid.
    unsafe { GetCurrentProcess() }
}

/// What `process`'s parameters say of its console process group; `None`
/// where they cannot be read (an older or unknown layout).
fn console_group(process: HANDLE) -> Option<ConsoleGroup> {
    if cfg!(not(target_pointer_width = "64")) {
        return None;
    }
    let parameters: usize = read(process, peb(process)? + layout::PEB_PARAMETERS)?;
    if parameters == 0 {
        return None;
    }
    let length: u32 = read(process, parameters + layout::LENGTH)?;
    let flags: u32 = read(process, parameters + layout::CONSOLE_FLAGS)?;
    let id = if length as usize >= layout::PROCESS_GROUP_ID + 4 {
        Some(read::<u32>(process, parameters + layout::PROCESS_GROUP_ID)?)
    } else {
        None
    };
    Some(ConsoleGroup {
        id,
        ignores_ctrl_c: flags & 1 != 0,
    })
}

impl Drop for Process {
    fn drop(&mut self) {
        // SAFETY: closes the handle `open` made.
        unsafe { CloseHandle(self.0) };
    }
}

/// Sends `sig` to `target`: a pid, or minus the pid of a child that leads
/// its own console process group ([`group_of`]). `Ok(false)` if it has
/// ended.
///
/// - SIGKILL terminates the process (exit code 1).
/// - To a group, any other signal is Ctrl-Break (`CTRL_BREAK_EVENT`), the
///   one console event Windows sends to a single group; a `cleanup`
///   program takes it as an interrupt.
/// - To a process that does not lead a group, nothing else can be sent
///   alone (it would go to the whole console): an `Unsupported` error.
pub(crate) fn kill(target: i32, sig: i32) -> io::Result<bool> {
    let pid = target.checked_abs().unwrap_or(0);
    if sig == super::signals::numbers::SIGKILL {
        let Some(process) = Process::open(pid, PROCESS_TERMINATE | PROCESS_SYNCHRONIZE)? else {
            return Ok(false);
        };
        if process.wait(0) {
            return Ok(false);
        }
        // SAFETY: terminates a process we hold a live handle to.
        if unsafe { TerminateProcess(process.0, 1) } == 0 {
            return Err(io::Error::last_os_error());
        }
        return Ok(true);
    }
    if target >= 0 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{} cannot be sent to one process on Windows: only SIGKILL \
                 (TerminateProcess), or Ctrl-Break to a child started in a process \
                 group of its own (CREATE_NEW_PROCESS_GROUP)",
                super::signals::name(sig).unwrap_or("this signal")
            ),
        ));
    }
    // The leader's handle, held while the event is sent: its pid, the
    // group's id, cannot be reused meanwhile.
    let Some(leader) = Process::open(pid, PROCESS_SYNCHRONIZE)? else {
        return Ok(false);
    };
    if leader.wait(0) {
        return Ok(false);
    }
    // SAFETY: no pointers; `pid` names a group, whose leader we hold.
    if unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pid as u32) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(true)
}

/// What a console sends for `sig` when [`kill`] sends it to a group:
/// Ctrl-Break, whatever the signal, except SIGKILL.
pub(crate) fn sent_as(sig: i32) -> i32 {
    use super::signals::numbers::{SIGBREAK, SIGKILL};
    if sig == SIGKILL {
        sig
    } else {
        SIGBREAK
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: Option<u32>, ignores_ctrl_c: bool) -> ConsoleGroup {
        ConsoleGroup { id, ignores_ctrl_c }
    }

    #[test]
    fn a_named_group_leads_only_when_it_is_the_childs_own() {
        let ours = group(Some(100), false);
        assert!(leads_its_group(7, group(Some(7), true), ours));
        assert!(!leads_its_group(7, group(Some(100), false), ours));
        // Named, and not its own: never taken for a leader.
        assert!(!leads_its_group(7, group(Some(55), true), ours));
    }

    #[test]
    fn an_unnamed_group_is_told_by_ctrl_c_ignored_from_the_start() {
        // Wine: no id; a new group ignores Ctrl-C, which ours does not.
        assert!(leads_its_group(7, group(Some(0), true), group(Some(0), false)));
        assert!(leads_its_group(7, group(None, true), group(None, false)));
        assert!(!leads_its_group(7, group(Some(0), false), group(Some(0), false)));
        // We ignore Ctrl-C too: nothing tells it apart, so it is ours.
        assert!(!leads_its_group(7, group(Some(0), true), group(Some(0), true)));
    }

    #[test]
    fn this_process_has_readable_parameters() {
        assert!(console_group(current_process()).is_some());
    }
}
