//! Baseline for kill-to-exit: waits for a signal that the default action
//! handles (the process just dies).
fn main() {
    println!("ready");
    loop {
        std::thread::park();
    }
}
