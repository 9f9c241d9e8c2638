#[cleanup::graceful_main(timeout = 5)]
fn main() {}
