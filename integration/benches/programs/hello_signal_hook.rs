//! Start-up of a peer: the same empty `main`, having started signal-hook's
//! iterator on SIGTERM, SIGINT and SIGHUP (the signals `#[graceful_main]`
//! handles) and the thread that loops over it, as its users do first thing.
//! The thread's loop is `wait_signal_hook`'s.
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

fn main() {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP]).expect("register the signals");
    std::thread::spawn(move || {
        for signal in signals.forever() {
            signal_hook::low_level::emulate_default_handler(signal)
                .expect("end by the signal's default action");
        }
    });
}
