//! What a signal-hook user sets up first thing (the peers'
//! `hello_signal_hook` and `wait_signal_hook`): its iterator on SIGTERM,
//! SIGINT and SIGHUP (the signals `#[graceful_main]` handles) and a thread
//! that loops over it. On a signal the thread re-raises it with the default
//! action (`emulate_default_handler`, which signal-hook documents for
//! ending by the signal), so the process dies by it as the baseline does.
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

pub fn start() {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP]).expect("register the signals");
    std::thread::spawn(move || {
        for signal in signals.forever() {
            signal_hook::low_level::emulate_default_handler(signal)
                .expect("end by the signal's default action");
        }
    });
}
