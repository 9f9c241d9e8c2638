#[cleanup::graceful_main(timeout = "2mins")]
fn main() {}
