//! Kill-to-exit of a peer: signal-hook's iterator on SIGTERM, SIGINT and
//! SIGHUP, looped over by a thread started before `ready`, then waiting. On
//! a signal, the thread re-raises it with the default action
//! (`emulate_default_handler`, which signal-hook documents for ending by the
//! signal), so the process dies by SIGTERM as the baseline does.
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
    // Line-buffered: the line is written out (flushed) at its newline.
    println!("ready");
    loop {
        std::thread::park();
    }
}
