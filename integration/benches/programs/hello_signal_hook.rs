//! Start-up of a peer: the same empty `main`, having started signal-hook's
//! iterator and its thread (`signal_hook_thread.rs`), as its users do first
//! thing.
#[path = "signal_hook_thread.rs"]
mod signal_hook_thread;

fn main() {
    signal_hook_thread::start();
}
