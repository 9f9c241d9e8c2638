#[cleanup::graceful_main(timeout = "5s", quiet, timeout = "10s")]
fn main() {}
