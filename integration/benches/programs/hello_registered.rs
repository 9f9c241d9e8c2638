//! The second floor of start-up: `hello_linked` (the crate linked, never
//! run) plus what DESIGN.md says the start must do through signal-hook:
//! register a handler for SIGTERM, SIGINT and SIGHUP with
//! `signal_hook::low_level::register` (signal-hook's registry, which
//! chains to handlers set before). The handlers do nothing; the program
//! then returns. What `#[graceful_main]` costs over this is its own.
#[path = "hello_linked.rs"]
mod linked;

fn main() {
    linked::main();
    register();
}

#[cfg(unix)]
fn register() {
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        // SAFETY: the action does nothing, so it is async-signal-safe.
        let registered = unsafe { signal_hook::low_level::register(signal, || {}) };
        registered.expect("register a handler");
    }
}

#[cfg(not(unix))]
fn register() {}
