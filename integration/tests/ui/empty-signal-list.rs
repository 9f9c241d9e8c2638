#[cleanup::graceful_main(signals = "")]
fn main() {}
