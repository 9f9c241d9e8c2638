//! The exit hook. There is no `fork` on Windows.
//!
//! `std::process::exit` on Windows calls `ExitProcess` directly, which runs
//! no C runtime exit handler and stops every other thread before it tells
//! anyone. So the hook sits in front of `ExitProcess` itself: this
//! program's import address table entry for it (through which std, and any
//! code of the program, calls it) is pointed at [`exit_process`], which
//! runs the hook while the other threads still run, as the C library's
//! `exit` does on Unix, then calls the real `ExitProcess`. A return from
//! `main` leaves through the C runtime's `exit`, where the `atexit`
//! registration below catches it.

use std::sync::atomic::{AtomicUsize, Ordering};

use once_cell::sync::OnceCell;
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Memory::{VirtualProtect, PAGE_PROTECTION_FLAGS, PAGE_READWRITE};

static AT_EXIT: OnceCell<fn(i32)> = OnceCell::new();
/// The real `ExitProcess`, once the import table points at ours.
static REAL_EXIT_PROCESS: AtomicUsize = AtomicUsize::new(0);

/// There is no `fork`: nothing to run in a child. Always taken.
pub(crate) fn after_fork(_hook: fn()) -> bool {
    true
}

/// Has `hook(status)` run when the process exits through `ExitProcess`
/// (`std::process::exit`) or the C runtime's `exit` (a return from
/// `main`), on the exiting thread, while the others still run. Once per
/// process. Returns whether both ways are covered.
pub(crate) fn at_exit(hook: fn(i32)) -> bool {
    if AT_EXIT.set(hook).is_err() {
        return true;
    }
    extern "C" fn without_status() {
        // The status is not known here; 0 is what a plain return reports.
        run(0);
    }
    // SAFETY: registers a function with the C runtime's exit handlers.
    let registered = unsafe { libc::atexit(without_status) == 0 };
    registered && hook_exit_process()
}

fn run(status: i32) {
    if let Some(hook) = AT_EXIT.get() {
        // A panic must not unwind into the caller of `ExitProcess`.
        let _ = std::panic::catch_unwind(|| hook(status));
    }
}

/// What the import table calls instead of `ExitProcess`.
unsafe extern "system" fn exit_process(code: u32) {
    run(code as i32);
    let real = REAL_EXIT_PROCESS.load(Ordering::SeqCst);
    // SAFETY: set by `hook_exit_process` to `ExitProcess`'s address, a
    // function of this signature, before any slot pointed here.
    let real: unsafe extern "system" fn(u32) = unsafe { std::mem::transmute(real) };
    // SAFETY: `ExitProcess` with the caller's code.
    unsafe { real(code) }
}

/// Points every import table slot of this program's image that holds
/// `ExitProcess` at [`exit_process`]; whether one did.
fn hook_exit_process() -> bool {
    // SAFETY: GetModuleHandleW of a loaded system module by a NUL-terminated
    // wide literal, and GetProcAddress of a NUL-terminated name in it.
    let real = unsafe {
        let kernel32 = GetModuleHandleW(windows_sys::w!("kernel32.dll"));
        if kernel32.is_null() {
            return false;
        }
        GetProcAddress(kernel32, c"ExitProcess".as_ptr().cast())
    };
    let Some(real) = real else {
        return false;
    };
    let real = real as usize;
    REAL_EXIT_PROCESS.store(real, Ordering::SeqCst);
    let ours = exit_process as unsafe extern "system" fn(u32) as usize;
    let mut hooked = false;
    for slot in import_slots() {
        // SAFETY: `slot` is an import table slot of this image, a
        // pointer-sized, aligned word (see `import_slots`).
        if unsafe { slot.read_volatile() } != real {
            continue;
        }
        let mut old: PAGE_PROTECTION_FLAGS = 0;
        let size = std::mem::size_of::<usize>();
        // SAFETY: makes the page of one slot of our own image writable,
        // writes our function's address into it (one aligned word: a
        // thread calling through it sees the old or the new, both valid),
        // and puts the protection back.
        unsafe {
            if VirtualProtect(slot.cast(), size, PAGE_READWRITE, &mut old) == 0 {
                continue;
            }
            slot.write_volatile(ours);
            VirtualProtect(slot.cast(), size, old, &mut old);
        }
        hooked = true;
    }
    hooked
}

/// The import address table slots of this program's image: the words the
/// loader filled with the imported functions' addresses.
fn import_slots() -> Vec<*mut usize> {
    let mut slots = Vec::new();
    // SAFETY: the image of the running program is mapped from its base,
    // headers included; every offset read below is one the PE format
    // defines, checked against the magic numbers first, and the loader
    // has filled the import tables they lead to.
    unsafe {
        let base = GetModuleHandleW(std::ptr::null()).cast::<u8>().cast_const();
        if base.is_null() || base.cast::<u16>().read_unaligned() != 0x5A4D {
            return slots; // "MZ"
        }
        let at = |offset: usize| base.add(offset);
        let u16_at = |offset: usize| at(offset).cast::<u16>().read_unaligned();
        let u32_at = |offset: usize| at(offset).cast::<u32>().read_unaligned();
        let nt = u32_at(0x3C) as usize;
        if u32_at(nt) != 0x0000_4550 {
            return slots; // "PE\0\0"
        }
        // The optional header follows the 4-byte signature and the 20-byte
        // file header; its data directories start at 96 (PE32) or 112
        // (PE32+); the import directory is the second, 8 bytes each.
        let optional = nt + 24;
        let directories = match u16_at(optional) {
            0x10B => optional + 96,
            0x20B => optional + 112,
            _ => return slots,
        };
        let imports = u32_at(directories + 8) as usize;
        if imports == 0 {
            return slots;
        }
        // IMAGE_IMPORT_DESCRIPTORs of 20 bytes, ended by a zero one; the
        // import address table's RVA is at 16.
        let mut descriptor = imports;
        loop {
            let name = u32_at(descriptor + 12);
            let table = u32_at(descriptor + 16) as usize;
            if name == 0 && table == 0 {
                break;
            }
            let mut slot = at(table).cast::<usize>().cast_mut();
            while slot.read_volatile() != 0 {
                slots.push(slot);
                slot = slot.add(1);
            }
            descriptor += 20;
        }
    }
    slots
}
