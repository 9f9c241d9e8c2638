//! The kill floor (`wait_floor`: a handler in libc alone that reads the
//! clock, arms a timer and wakes the main thread, which dies by the
//! signal) in a binary that links the crate, the same `#[graceful_main]`
//! in it, never run, as `hello_linked` is to start-up: the more of a
//! binary a process has mapped, the longer its exit takes to unmap it.

#[allow(dead_code)]
#[path = "wait_floor.rs"]
mod raw;

mod inner {
    #[cleanup::graceful_main]
    pub fn main() {
        println!("ready");
        cleanup::token().wait();
    }
}

fn main() {
    // Never true, but the optimizer cannot know it: `inner::main` and all
    // it reaches stay in the binary.
    if std::hint::black_box(false) {
        inner::main();
    }
    #[cfg(target_os = "linux")]
    raw::floor::main();
    #[cfg(not(target_os = "linux"))]
    {
        eprintln!("wait_floor_linked is Linux only");
        std::process::exit(1);
    }
}
