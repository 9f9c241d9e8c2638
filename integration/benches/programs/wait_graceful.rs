//! Kill-to-exit with nothing to clean: waits on the token, returns, and the
//! runtime re-raises the signal.
#[cleanup::graceful_main]
fn main() {
    println!("ready");
    cleanup::token().wait();
}
