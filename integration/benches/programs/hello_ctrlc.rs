//! Start-up of a peer: the same empty `main`, having installed a ctrlc
//! handler as its users do first thing (with the `termination` feature:
//! SIGINT, SIGTERM and SIGHUP, the signals `#[graceful_main]` handles; and
//! ctrlc's thread, which waits for them). The handler is `wait_ctrlc`'s.
fn main() {
    ctrlc::set_handler(|| std::process::exit(143)).expect("set the ctrlc handler");
}
