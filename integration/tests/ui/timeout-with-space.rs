#[cleanup::graceful_main(timeout = "10 secs")]
fn main() {}
