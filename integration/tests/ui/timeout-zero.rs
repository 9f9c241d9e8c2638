#[cleanup::graceful_main(timeout = "0s")]
fn main() {}
