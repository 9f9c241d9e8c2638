//! Kill-to-exit of a peer: ctrlc with the `termination` feature (SIGINT,
//! SIGTERM and SIGHUP), its handler installed before `ready`, then waiting.
//!
//! The handler calls `std::process::exit(143)`: ctrlc does not tell it which
//! signal came and offers no way to end by it, so a ctrlc user who wants a
//! supervisor or a shell to see a SIGTERM ending exits with 128 + 15, the
//! status a shell reports for it (the harness checks for that code). That is
//! also ctrlc's quickest way out: its own thread wakes and exits at once,
//! where the README's pattern (the handler sends on a channel that `main`
//! waits on, and `main` returns) wakes one more thread and exits with 0.
fn main() {
    ctrlc::set_handler(|| std::process::exit(143)).expect("set the ctrlc handler");
    // Line-buffered: the line is written out (flushed) at its newline.
    println!("ready");
    loop {
        std::thread::park();
    }
}
