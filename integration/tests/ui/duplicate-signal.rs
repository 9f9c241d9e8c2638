#[cleanup::graceful_main(signals = "TERM, INT, SIGTERM")]
fn main() {}
