#[cleanup::graceful_main(guardian = "yes")]
fn main() {}
