//! Kill-to-exit of a peer: signal-hook's iterator and its thread
//! (`signal_hook_thread.rs`) started before `ready`, then waiting; the
//! process dies by SIGTERM as the baseline does.
#[path = "signal_hook_thread.rs"]
mod signal_hook_thread;

fn main() {
    signal_hook_thread::start();
    // Line-buffered: the line is written out (flushed) at its newline.
    println!("ready");
    loop {
        std::thread::park();
    }
}
