#[cleanup::graceful_main(signals = "TERM,KILL")]
fn main() {}
