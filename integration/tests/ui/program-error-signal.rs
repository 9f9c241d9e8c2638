#[cleanup::graceful_main(signals = "TERM,SIGSEGV")]
fn main() {}
